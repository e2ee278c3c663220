/* The supervisor's end of a fork server (aiobox-executor --forkserver,
 * common/forkproto.h): one process that has initialised CPython and
 * imported the runtime once, from which executors are forked in a
 * fraction of a millisecond instead of spawned in tens. execproc uses it
 * when it is ready and falls back to spawning when it is not.
 *
 * The executors are the fork server's children: it reaps them and says
 * how each ended; if the fork server itself dies, so do they (their
 * parent-death signal), and each is reported ended by SIGKILL. It is then
 * started again, after a pause that grows while it keeps dying. */
#ifndef AIOBOX_FORKSERVER_H
#define AIOBOX_FORKSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

struct execproc_config;
struct forkserver;

struct forkserver_config {
    const char *executor_path;
    const char *const *policies;   /* executors choose one by its index */
    size_t npolicies;
    /* The grants (--allow-read/--allow-write) every executor gets, as in
     * struct execproc_config. */
    const char *const *allow_read;
    size_t n_allow_read;
    const char *const *allow_write;
    size_t n_allow_write;
};

/* Starts one; it is ready (forkserver_ready) once its READY record is in.
 * 0, or a negative errno with err saying why. */
int forkserver_start(struct forkserver **out, uv_loop_t *loop,
                     const struct forkserver_config *cfg, char *err, size_t errlen);
bool forkserver_ready(const struct forkserver *fs);
/* Forks an executor under policy index policy, with fds[0..2] (its fd 1,
 * fd 2 and channel, as spawn_fds makes them; closed here when it is
 * asked). forked(arg, pid) follows
 * from the loop, with a negative errno when it failed; then exited(arg,
 * wait status) when that executor ends. 0, or a negative errno (nothing
 * follows then). */
int forkserver_fork(struct forkserver *fs, unsigned policy, int fds[3],
                    void (*forked)(void *arg, pid_t pid),
                    void (*exited)(void *arg, int status), void *arg);
/* The executor's owner lets go of it: no more callbacks for it. */
void forkserver_forget(struct forkserver *fs, void *arg);
/* How many executors it has forked (for status figures). */
unsigned long forkserver_forks(const struct forkserver *fs);
pid_t forkserver_pid(const struct forkserver *fs);
/* Stops it (its executors die with it) and frees it from the loop. */
void forkserver_close(struct forkserver *fs);

#endif
