/* The executor's command line (only the supervisor and tests start it):
 *   aiobox-executor --fd N (--policy FILE | --no-sandbox)
 *                   [--allow-read PATH]... [--allow-write PATH]...
 *   aiobox-executor --forkserver --fd N --policy FILE... [--allow-read PATH]...
 * The fork server takes one --policy per policy its executors may have
 * (a request names one by its place), and fd N is its control socket. */
#ifndef AIOBOX_EXEC_OPTIONS_H
#define AIOBOX_EXEC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Policies a fork server can give its executors. */
#define EXEC_POLICIES_MAX 16

struct exec_opts {
    int fd;                    /* the channel (the fork server's control socket) */
    const char *policy_path;   /* NULL with --no-sandbox; the first of policies */
    const char *policies[EXEC_POLICIES_MAX];
    size_t npolicies;
    bool forkserver;
    bool help;                 /* --help: print the usage and stop */
    /* --allow-read/--allow-write, in order */
    struct policy_grant grants[POLICY_GRANTS_MAX];
    size_t ngrants;
};

/* Returns 0 when opts is filled in (opts->help: only print the usage), or
 * -EINVAL with the complaint in err. Strings point into argv. */
int exec_opts_parse(int argc, char **argv, struct exec_opts *opts, char *err,
                    size_t errlen);
/* Returns 0 or a negative errno. */
int exec_opts_usage(int fd);

#endif
