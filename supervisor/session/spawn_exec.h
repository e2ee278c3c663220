/* Starting an aiobox-executor: the descriptors it gets, its command line,
 * and posix_spawn. Inside the session engine only (execproc.c for
 * executors, forkserver.c for the fork server). */
#ifndef AIOBOX_SPAWN_EXEC_H
#define AIOBOX_SPAWN_EXEC_H

#include <sys/types.h>

#include "execproc.h"

/* The descriptors of a child: fds 1 and 2 are pipes, fd 3 a socketpair of
 * chan_type (SOCK_STREAM for an executor's channel, SOCK_SEQPACKET for a
 * fork server's control socket). child[i] is the child's end of each, to
 * become its fd 1, 2, 3; parent[i] ours. All close-on-exec and numbered
 * above 3, so that a child's dup2s onto 0-3 cannot clobber one another.
 * 0, or a negative errno (nothing is left open then). */
int spawn_fds(int chan_type, int parent[3], int child[3]);
void spawn_close_fds(int fds[3]);
/* The executor's command line: path, --fd 3, extra (NULL-terminated,
 * may be NULL), the policy, then the grants of cfg. NULL when out of
 * memory; free() it. */
char **spawn_executor_args(const struct execproc_config *cfg, const char *const *extra);
/* Runs path with args: fd 0 on /dev/null, child[0..2] as fds 1, 2, 3, in
 * a session and process group of its own, with default signal handling
 * and an empty environment. 0, or a negative errno. The caller reaps it. */
int spawn_child(const char *path, char *const *args, const int child[3], pid_t *pid);

#endif
