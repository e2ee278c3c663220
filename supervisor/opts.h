/* The command line: one program, several commands. */
#ifndef AIOBOX_OPTS_H
#define AIOBOX_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "policy.h"

/* Policies `serve` may be given (clients choose among them). */
#define OPTS_POLICIES_MAX 16
#define OPTS_UIDS_MAX 64

enum opts_command {
    OPTS_REPL,            /* aiobox [-s NAME]: the terminal or piped REPL */
    OPTS_JSON,            /* aiobox --json */
    OPTS_SERVE,           /* aiobox serve --listen PATH */
    OPTS_KERNEL,          /* aiobox kernel -f CONNECTION_FILE */
    OPTS_KERNEL_INSTALL,  /* aiobox kernel install */
    OPTS_ATTACH,          /* aiobox attach NAME */
    OPTS_LS,              /* aiobox ls */
    OPTS_KILL,            /* aiobox kill NAME */
};

struct opts {
    enum opts_command command;
    bool quiet, version, help, no_standby;
    const char *policies[OPTS_POLICIES_MAX];  /* NAME or FILE; [0] the default */
    size_t npolicies;
    const char *check_policy;  /* NAME or FILE */
    const char *history;
    const char *executor;      /* testing: another executor binary */
    double timeout;            /* < 0: the policy's */
    double grace;
    bool grace_set;
    bool restore_replay;
    struct policy_grant grants[POLICY_GRANTS_MAX];  /* --allow-read/--allow-write */
    size_t ngrants;
    size_t output_cap;         /* --output-cap; see output_cap_set */
    bool output_cap_set;
    /* serve */
    const char *listen;
    unsigned max_executors;    /* 0: the number of CPUs */
    uid_t allow_uids[OPTS_UIDS_MAX];
    size_t n_allow_uids;
    const char *log;
    double idle_timeout;       /* seconds; 0: never */
    /* serve, as aiobox -s starts it (not in --help): ends when it holds no
     * session; writes "ready\n" on fd ready_fd (> 0) once it listens. */
    bool on_demand;
    int ready_fd;
    /* sessions: -s NAME, attach NAME, kill NAME */
    const char *session;
    /* kernel */
    const char *connection_file;
    bool kernel_user;
    const char *kernel_prefix;
    const char *kernel_name;
    /* Options given, as typed, for kernel install to put in kernel.json. */
    char **passthrough;
    size_t npassthrough;
};

/* Returns 0, or -1 after printing what is wrong (exit status 2). */
int opts_parse(int argc, char **argv, struct opts *o);
void opts_usage(FILE *out);

#endif
