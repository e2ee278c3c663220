/* One executor process and the channel to it. It owns the socket, checks
 * every frame, and marks a misbehaving executor bad (killing its process
 * group) instead of trusting it; its death is reported once, in words. */
#ifndef AIOBOX_EXECPROC_H
#define AIOBOX_EXECPROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "proto.h"

struct execproc;

struct execproc_config {
    const char *executor_path;
    const char *policy_path;      /* NULL: --no-sandbox */
    const char *policy_name;      /* for messages */
    const char *const *allow_read;
    size_t n_allow_read;
    const char *const *allow_write;
    size_t n_allow_write;
    uint64_t features;            /* PROTO_FEATURE_*, sent in hello */
    /* Where new executors come from when it is ready (else they are
     * spawned), and which of its policies they get. */
    struct forkserver *forkserver;
    unsigned policy_index;
};

/* How an executor ended. */
struct execproc_death {
    int term_signal;              /* the signal that ended it, or 0 */
    int exit_status;              /* its exit status, or -1 */
    const char *denied_syscall;   /* the call the sandbox trapped, or NULL */
    const char *cause;            /* all of it in words */
};

struct execproc_cb {
    /* The executor said ready (after a matching version). */
    void (*ready)(struct execproc *ep, const struct proto_ready *ready);
    /* Any later message, already validated against the schema. */
    void (*message)(struct execproc *ep, const struct proto_msg *msg);
    /* Bytes the executor wrote to its fd 1 or fd 2. */
    void (*raw)(struct execproc *ep, int fd, const char *data, size_t len);
    /* The executor is gone. Called once; the owner must then call
     * execproc_destroy. */
    void (*dead)(struct execproc *ep, const struct execproc_death *death);
};

/* 0, or a negative errno with err saying why in words. */
int execproc_start(struct execproc **out, uv_loop_t *loop,
                   const struct execproc_config *cfg,
                   const struct execproc_cb *cb, void *data, char *err,
                   size_t errlen);
void *execproc_data(const struct execproc *ep);
/* A warm spare becomes the current executor, or a pooled one a
 * session's: its events go to cb, with data. */
void execproc_set_owner(struct execproc *ep, const struct execproc_cb *cb, void *data);
pid_t execproc_pid(const struct execproc *ep);
/* The process whose CPU time is the executor's (/proc/PID/stat): the one
 * that runs Python. The process started is that one today; with the
 * executor in a pid namespace behind a forwarder, it is its child. */
pid_t execproc_cpu_pid(const struct execproc *ep);
/* What its ready frame said of its sandbox (untrusted text; "" before). */
const char *execproc_sandbox(const struct execproc *ep);
/* 0 when sent (or queued); -EMSGSIZE or -ENOMEM when the message could
 * not be encoded: the executor is fine and never saw it; -EPIPE when the
 * executor is gone or going (its death will be reported). */
int execproc_send(struct execproc *ep, const struct proto_msg *msg);
/* Stops reading the executor's channel and output (it then waits when its
 * pipes fill), or starts again. */
void execproc_hold_output(struct execproc *ep, bool hold);
/* SIGINT tagged with the statement id (sigqueue). 0, or a negative errno. */
int execproc_interrupt(struct execproc *ep, uint64_t id);
/* Kills the process group; the dead callback reports reason if given. */
void execproc_kill(struct execproc *ep, const char *reason);
/* Kills without a death report and frees once every handle is closed. */
void execproc_destroy(struct execproc *ep);
/* How many executors are not yet freed: the front ends run the loop until
 * this drops to zero, so no child is left behind and nothing leaks. */
unsigned execproc_live(void);
/* Resident memory of the executor in KiB, or -1. */
long execproc_rss_kib(const struct execproc *ep);

#endif
