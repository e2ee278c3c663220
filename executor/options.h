/* The executor's command line (only the supervisor and tests start it):
 *   aiobox-executor --fd N (--policy FILE | --no-sandbox)
 *                   [--allow-read PATH]... [--allow-write PATH]... */
#ifndef AIOBOX_EXEC_OPTIONS_H
#define AIOBOX_EXEC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct exec_grant {
    const char *path;
    bool writable;
};

struct exec_opts {
    int fd;                    /* the channel */
    const char *policy_path;   /* NULL with --no-sandbox */
    struct exec_grant *grants; /* --allow-read/--allow-write, in order */
    size_t ngrants;
};

/* Returns 0 when opts is filled in, 1 when --help was printed, or -1 with
 * the complaint in err. Strings point into argv. */
int exec_opts_parse(int argc, char **argv, struct exec_opts *opts, char *err,
                    size_t errlen);
void exec_opts_free(struct exec_opts *opts);
void exec_opts_usage(int fd);

#endif
