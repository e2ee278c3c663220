/* Inside the sandbox module: one function per layer, each appending what
 * it applied to a description. */
#ifndef AIOBOX_SANDBOX_PRIV_H
#define AIOBOX_SANDBOX_PRIV_H

#include <signal.h>

#include "sandbox.h"

/* A growing one-line description. */
struct sandbox_desc {
    char *buf;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
void sandbox_desc_add(struct sandbox_desc *d, const char *fmt, ...);

/* Each layer: 0, or a negative errno with err naming the layer and why. */
int sandbox_drop_root(struct sandbox_desc *d, char *err, size_t errlen);
/* Unshares the policy's namespaces; *made: the POLICY_NS_* bits made. */
int sandbox_namespaces(const struct policy *p, struct sandbox_desc *d, unsigned *made,
                       char *err, size_t errlen);
int sandbox_drop_caps(char *err, size_t errlen);

/* sandbox_pidns.c. After unshare(CLONE_NEWPID): forks; the parent stays
 * outside as the reaper and never returns, the child returns as pid 1 of
 * the new namespace, its parent-death signal set to deathsig. */
int sandbox_pidns_split(int deathsig, struct sandbox_desc *d, char *err, size_t errlen);
/* The filter that traps SIGKILL sent to oneself as pid 1; loaded before
 * the policy's. Does nothing outside a pid namespace of our own. */
int sandbox_pidns_filter(char *err, size_t errlen);
/* Async-signal-safe. As pid 1: tells the reaper to die of sig and exits;
 * outside a pid namespace of our own: returns. */
void sandbox_pidns_die(int sig);
/* True if the trapped call (si, the handler's ucontext) sent SIGKILL to
 * this process as pid 1 of its namespace. */
bool sandbox_pidns_self_kill(const siginfo_t *si, const void *uctx);
int sandbox_rlimits(const struct policy *p, struct sandbox_desc *d,
                    char *err, size_t errlen);
int sandbox_landlock(const struct policy *p, struct sandbox_desc *d,
                     char *err, size_t errlen);

#endif
