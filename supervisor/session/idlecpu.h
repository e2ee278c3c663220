/* CPU an executor uses while no statement runs: a thread or task left
 * spinning after its statement ended. The supervisor measures it itself,
 * from /proc/PID/stat (it believes nothing the executor says), over a
 * sliding window of idleness, and says when it goes over the policy's
 * limit (`idle-cpu`, docs/policies.md): the session decides what to do.
 *
 * The window starts when the session becomes idle and a statement starting
 * ends it, so CPU a statement uses never counts. One libuv timer, unref'd,
 * samples at most once a second, and only while the session is idle. */
#ifndef AIOBOX_IDLECPU_H
#define AIOBOX_IDLECPU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "policy.h"

struct idlecpu;

/* A full window over the limit. */
struct idlecpu_over {
    double share;       /* of one CPU, over the window (0.97: 97%) */
    double window_s;    /* how long that was measured */
    /* With `then kill`: false for the first window over (warn), true for
     * a whole window more over the limit after that warning (act). */
    bool again;
};

/* Called from the loop. It may call idlecpu_unwatch or idlecpu_close. */
typedef void idlecpu_over_cb(void *data, const struct idlecpu_over *over);

/* A watcher for the limit (limit->share > 0). 0, or -ENOMEM. */
int idlecpu_new(struct idlecpu **out, uv_loop_t *loop, const struct policy_idle_cpu *limit,
                idlecpu_over_cb *cb, void *data);
/* The session is idle from now: pid's CPU time counts. Watching the same
 * pid already, the window goes on. */
void idlecpu_watch(struct idlecpu *ic, pid_t pid);
/* A statement runs, or no executor does: nothing counts, and the next
 * idle stretch starts a new window. */
void idlecpu_unwatch(struct idlecpu *ic);
/* The share of one CPU used over the last *span_s seconds of idleness
 * (at most the window). -ENODATA when less than a sample's worth of
 * idleness was measured. */
int idlecpu_share(const struct idlecpu *ic, double *share, double *span_s);
/* Stops it; it frees itself from the loop. */
void idlecpu_close(struct idlecpu *ic);

/* user + system CPU time of pid, all its threads, in seconds, read from
 * /proc/PID/stat. 0, or a negative errno (-ESRCH: gone). */
int idlecpu_read_cpu(pid_t pid, double *seconds);

#endif
