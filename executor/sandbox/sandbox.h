/* Applies a policy to the executor process: drop root, no_new_privs,
 * rlimits, landlock, seccomp; and reports trapped calls. Errors are
 * negative errno values. */
#ifndef AIOBOX_SANDBOX_H
#define AIOBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

/* The unprivileged ids a root executor drops to. A uid of its own, so
 * that no two executors (sessions, spares) share one and none can signal
 * another: SANDBOX_ID_BASE + its pid (pids are below 2^22), which no
 * account on the host has. The group is 'nogroup' for all, and the umask
 * 002: a file one executor wrote in a writable path, the next executor of
 * the session (after a restart) may write again. */
#define SANDBOX_ID_BASE 0x40000000u
#define SANDBOX_ID_FOR(pid) (SANDBOX_ID_BASE + (unsigned)(pid))
#define SANDBOX_GID 65534u
#define SANDBOX_UMASK 002

/* Applies the policy to this process, which must be single-threaded (it
 * checks /proc/self/task and fails otherwise). Order (the part up to the
 * pid namespace done by sandbox_enter_namespaces unless the caller did
 * it first): drop root (when
 * euid is 0: setgroups, setresgid, setresuid, verified), the policy's
 * namespaces (user, ipc, uts, net, pid), re-arm PR_SET_PDEATHSIG
 * (credential changes clear it) and re-check the parent, with a pid
 * namespace the fork into it (only the child returns), the mount
 * namespace (a new root holding only the policy's paths), every
 * capability dropped, as pid 1 the default-ending signals caught,
 * no_new_privs, rlimits, landlock, seccomp. On success desc gets a
 * one-line summary of what was applied, e.g. "strict: seccomp 143 rules,
 * landlock ABI 7 (7 paths), rlimits as=1G nofile=64 fsize=16M, uid 1073761234,
 * namespaces user ipc uts net".
 * On failure returns a negative errno (-EBUSY: more than one thread) and
 * err names the layer and why; the process may then be partly restricted
 * and must not run user code. */
int sandbox_apply(const struct policy *p, char *desc, size_t desclen,
                  char *err, size_t errlen);

/* Installs the SIGSYS handler for trapped calls: it writes one
 * pre-encoded `denied {syscall: nr}` frame on channel_fd with
 * async-signal-safe calls only, then dies by SIGSYS. Call it before
 * sandbox_apply. Returns 0 or a negative errno. */
int sandbox_arm_sigsys(int channel_fd);

/* The first part of sandbox_apply, which may come earlier, before Python
 * is initialised: drop root, the policy's namespaces (user, ipc, uts,
 * net, pid), re-arm PR_SET_PDEATHSIG and re-check the parent, and with a
 * pid namespace the fork into it (only the child returns). Forking a
 * process that has not initialised Python yet copies almost nothing:
 * forked after, the child pays a page fault for every page it writes
 * that the reaper still shares. sandbox_apply does it where the caller
 * did not; a second call returns the first one's result. */
int sandbox_enter_namespaces(const struct policy *p, char *err, size_t errlen);

/* Called around the fork into a pid namespace (sandbox_apply, when the
 * policy has one): an embedding of Python passes PyOS_BeforeFork and
 * PyOS_AfterFork_Child. The parent side never returns to the caller. */
void sandbox_set_fork_hooks(void (*before)(void), void (*after_child)(void));

/* This process's pid as the host sees it (the supervisor's view): inside
 * a pid namespace of its own getpid() is 1. */
pid_t sandbox_outer_pid(void);

/* The landlock ABI this kernel offers, or a negative errno: -ENOSYS
 * without landlock, -EOPNOTSUPP when it is built but not enabled. */
int sandbox_landlock_abi(void);

/* True in an AddressSanitizer build, where RLIMIT_AS is not applied (the
 * shadow memory needs terabytes of address space). */
bool sandbox_sanitizer_build(void);

#endif
