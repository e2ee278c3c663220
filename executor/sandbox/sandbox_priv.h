/* Inside the sandbox module: one function per layer, each appending what
 * it applied to a description. */
#ifndef AIOBOX_SANDBOX_PRIV_H
#define AIOBOX_SANDBOX_PRIV_H

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
int sandbox_rlimits(const struct policy *p, struct sandbox_desc *d,
                    char *err, size_t errlen);
/* mounted: whether sandbox_mounts made the new root; the policy's
 * mount_only paths are skipped otherwise. */
int sandbox_landlock(const struct policy *p, bool mounted, struct sandbox_desc *d,
                     char *err, size_t errlen);

#endif
