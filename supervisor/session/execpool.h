/* Executors started ahead of need: a few ready executors for each kind
 * (policy and features) sessions have asked for, so that a new session,
 * an isolated run or a restart gets one that has already said ready and
 * its first statement waits for nothing but itself. A pooled executor has
 * run nothing: it is as fresh as one started on demand. */
#ifndef AIOBOX_EXECPOOL_H
#define AIOBOX_EXECPOOL_H

#include <stdbool.h>
#include <uv.h>

#include "execproc.h"

struct execpool;

struct execpool_stats {
    unsigned ready;       /* said ready, waiting to be taken */
    unsigned starting;    /* started, not yet ready */
    unsigned long taken;  /* handed to a session ready */
    unsigned long missed; /* asked for when none of that kind was ready */
    unsigned long failed; /* died before they were taken */
};

/* per_kind ready executors are kept for each kind asked for (at most
 * EXECPOOL_KINDS_MAX kinds). 0, or -ENOMEM. */
#define EXECPOOL_KINDS_MAX 8
int execpool_new(struct execpool **out, uv_loop_t *loop, unsigned per_kind);
/* A ready executor started as cfg says, now the caller's (its events go
 * to cb with data), or NULL when none of that kind is ready: the caller
 * starts its own. Either way the pool then starts one to replace it. The
 * strings and arrays cfg points to must live as long as the pool. */
struct execproc *execpool_take(struct execpool *p, const struct execproc_config *cfg,
                               const struct execproc_cb *cb, void *data);
void execpool_stats(const struct execpool *p, struct execpool_stats *st);
/* Kills the executors not taken and frees the pool once its handles are
 * closed (execproc_live() counts them until then). */
void execpool_close(struct execpool *p);

#endif
