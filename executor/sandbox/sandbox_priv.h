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
/* The user, ipc, uts and net namespaces the policy lists; *made: the
 * POLICY_NS_* bits made. The user namespace's capabilities are kept for
 * sandbox_mounts: sandbox_drop_ns_caps drops them after. */
int sandbox_namespaces(const struct policy *p, struct sandbox_desc *d, unsigned *made,
                       char *err, size_t errlen);
int sandbox_drop_ns_caps(unsigned made, char *err, size_t errlen);
/* The mount namespace and the new root (sandbox_mount.c), when the policy
 * lists `mount`: in the process that will run Python, after
 * sandbox_namespaces (inside its user namespace, before
 * sandbox_drop_ns_caps). own_pid_ns: the caller is pid 1 of a pid
 * namespace of its own, and gets a fresh /proc; otherwise the new root
 * has no /proc at all. *mounted: the new root is in place (the policy's
 * mount_only fs rules then apply). Appends " mount(...)" to d. */
int sandbox_mounts(const struct policy *p, struct sandbox_desc *d, bool own_pid_ns,
                   bool *mounted, char *err, size_t errlen);

/* sandbox_pidns.c. After unshare(CLONE_NEWPID): forks; the parent stays
 * outside as the reaper and never returns, the child returns as pid 1 of
 * the new namespace, its parent-death signal set to deathsig. */
int sandbox_pidns_split(int deathsig, struct sandbox_desc *d, char *err, size_t errlen);
/* As pid 1: catches every signal left at a default that ends a process,
 * to end through the reaper (after Python has set its handlers). Does
 * nothing outside a pid namespace of our own. */
int sandbox_pidns_catch_signals(char *err, size_t errlen);
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
/* mounted: whether sandbox_mounts made the new root; the policy's
 * mount_only paths are skipped otherwise. own_proc: that root has a /proc
 * of the executor's own pid namespace, which is then readable. */
int sandbox_landlock(const struct policy *p, bool mounted, bool own_proc,
                     struct sandbox_desc *d, char *err, size_t errlen);

#endif
