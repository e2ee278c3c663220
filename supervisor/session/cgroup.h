/* cgroup v2 for executors: whether this machine lets the supervisor give
 * each executor a cgroup of its own (a delegated, writable cgroup v2
 * directory with the cpu, memory and pids controllers), said in plain
 * words, and whether a policy's `cgroup` limits can be honoured.
 *
 * Placing executors in cgroups is not built yet: where cgroup v2 is
 * available the report says so, and a policy that requires a cgroup limit
 * is refused everywhere, never run without it. Limits marked '?' are gone
 * without, and the idle-CPU limit is enforced by sampling /proc. */
#ifndef AIOBOX_CGROUP_H
#define AIOBOX_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Whether a delegated cgroup v2 directory is there, and the words for
 * :status and --check-policy ("cgroup v2: not available (...)"). Probed
 * once per process. */
bool cgroup_available(void);
const char *cgroup_status(void);
/* 0 when every limit the policy requires (`cgroup` without '?') can be
 * applied; else -ENOTSUP with err saying which and why. */
int cgroup_check_policy(const struct policy *p, char *err, size_t errlen);

#endif
