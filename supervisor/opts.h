/* The command line. */
#ifndef AIOBOX_OPTS_H
#define AIOBOX_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OPTS_PATHS_MAX 64

struct opts {
    bool quiet, version, help, no_standby;
    const char *policy;        /* NAME or FILE */
    const char *check_policy;  /* FILE */
    const char *history;
    const char *executor;      /* testing: another executor binary */
    double timeout;            /* < 0: the policy's */
    double grace;
    bool restore_replay;
    const char *allow_read[OPTS_PATHS_MAX];
    size_t n_allow_read;
    const char *allow_write[OPTS_PATHS_MAX];
    size_t n_allow_write;
};

/* Returns 0, or -1 after printing what is wrong (exit status 2). */
int opts_parse(int argc, char **argv, struct opts *o);
void opts_usage(FILE *out);

#endif
