/* The pool of executors started ahead: see execpool.h. Each kind keeps its
 * own list and its own back-off, so a policy whose executors cannot start
 * does not slow the others. */
#include "execpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Back-off after an executor of a kind died before it was taken or could
 * not be started: doubling from this, up to the cap, until one is ready. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 10000
/* After a take, before the refill starts (see execpool_take). */
#define REFILL_DELAY_MS 20

struct execpool;
struct kind;

struct pooled {
    struct kind *kind;
    struct execproc *ep;
    bool ready;
    struct pooled *next;
};

struct kind {
    struct execpool *pool;
    struct execproc_config cfg;
    struct pooled *list;
    unsigned failures;
    uv_timer_t retry;
};

struct execpool {
    uv_loop_t *loop;
    unsigned per_kind;
    struct kind kinds[EXECPOOL_KINDS_MAX];
    size_t nkinds;
    struct execpool_stats stats;
    bool closing;
    unsigned handles_open;
};

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Executors that would differ in anything a session can see differ in
 * kind; the grants come from the server's one configuration. */
static bool same_kind(const struct execproc_config *a, const struct execproc_config *b)
{
    return same_str(a->executor_path, b->executor_path) &&
           same_str(a->policy_path, b->policy_path) && a->features == b->features &&
           a->forkserver == b->forkserver && a->policy_index == b->policy_index &&
           a->allow_read == b->allow_read && a->n_allow_read == b->n_allow_read &&
           a->allow_write == b->allow_write && a->n_allow_write == b->n_allow_write;
}

static void unlink_pooled(struct pooled *e)
{
    struct pooled **pp = &e->kind->list;
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
}

static void fill(struct kind *k);

static void on_retry(uv_timer_t *t)
{
    fill(t->data);
}

static void retry_later(struct kind *k)
{
    unsigned shift = k->failures < 8 ? k->failures : 8;
    uint64_t ms = (uint64_t)RETRY_FIRST_MS << shift;
    k->failures++;
    if (!k->pool->closing)
        (void)uv_timer_start(&k->retry, on_retry, ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS, 0);
}

static void on_ready(struct execproc *ep, const struct proto_ready *r)
{
    (void)r;
    struct pooled *e = execproc_data(ep);
    e->ready = true;
    e->kind->failures = 0;
}

static void on_message(struct execproc *ep, const struct proto_msg *m)
{
    (void)m;
    /* Nothing has been asked of it: it has nothing to say. */
    execproc_kill(ep, "pooled executor sent a message before it was used");
}

static void on_raw(struct execproc *ep, int fd, const char *data, size_t len)
{
    /* Nothing of anyone's runs in it yet; what it prints at start-up
     * belongs to no statement (the same as a warm spare's). */
    (void)ep, (void)fd, (void)data, (void)len;
}

static void on_dead(struct execproc *ep, const struct execproc_death *d)
{
    (void)d;
    struct pooled *e = execproc_data(ep);
    struct kind *k = e->kind;
    unlink_pooled(e);
    free(e);
    execproc_destroy(ep);
    k->pool->stats.failed++;
    retry_later(k);
}

static const struct execproc_cb pooled_cb = {on_ready, on_message, on_raw, on_dead};

static unsigned count(const struct kind *k)
{
    unsigned n = 0;
    for (const struct pooled *e = k->list; e; e = e->next)
        n++;
    return n;
}

static void fill(struct kind *k)
{
    struct execpool *p = k->pool;
    if (p->closing || uv_is_active((uv_handle_t *)&k->retry))
        return;
    while (count(k) < p->per_kind) {
        struct pooled *e = calloc(1, sizeof *e);
        if (!e)
            return;
        char err[512];
        e->kind = k;
        if (execproc_start(&e->ep, p->loop, &k->cfg, &pooled_cb, e, err, sizeof err) < 0) {
            /* The session that misses starts its own and reports why. */
            free(e);
            retry_later(k);
            return;
        }
        e->next = k->list;
        k->list = e;
    }
}

int execpool_new(struct execpool **out, uv_loop_t *loop, unsigned per_kind)
{
    struct execpool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->per_kind = per_kind;
    *out = p;
    return 0;
}

static struct kind *find_kind(struct execpool *p, const struct execproc_config *cfg)
{
    for (size_t i = 0; i < p->nkinds; i++)
        if (same_kind(&p->kinds[i].cfg, cfg))
            return &p->kinds[i];
    if (p->nkinds == EXECPOOL_KINDS_MAX)
        return NULL;
    struct kind *k = &p->kinds[p->nkinds];
    if (uv_timer_init(p->loop, &k->retry) < 0)
        return NULL;
    p->nkinds++;
    p->handles_open++;
    k->pool = p;
    k->cfg = *cfg;
    k->retry.data = k;
    return k;
}

struct execproc *execpool_take(struct execpool *p, const struct execproc_config *cfg,
                               const struct execproc_cb *cb, void *data)
{
    if (!p || p->closing || !p->per_kind)
        return NULL;
    struct kind *k = find_kind(p, cfg);
    if (!k)
        return NULL;
    struct pooled *e = k->list;
    while (e && !e->ready)
        e = e->next;
    struct execproc *ep = NULL;
    if (e) {
        ep = e->ep;
        unlink_pooled(e);
        free(e);
        execproc_set_owner(ep, cb, data);
        p->stats.taken++;
        /* The refill waits a moment: starting an executor takes a CPU
         * for tens of milliseconds, which the session that took this one
         * needs now for its first answer. */
        if (!uv_is_active((uv_handle_t *)&k->retry))
            (void)uv_timer_start(&k->retry, on_retry, REFILL_DELAY_MS, 0);
        return ep;
    }
    p->stats.missed++;
    fill(k);
    return ep;
}

void execpool_stats(const struct execpool *p, struct execpool_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!p)
        return;
    *st = p->stats;
    st->ready = st->starting = 0;
    for (size_t i = 0; i < p->nkinds; i++)
        for (const struct pooled *e = p->kinds[i].list; e; e = e->next) {
            if (e->ready)
                st->ready++;
            else
                st->starting++;
        }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct kind *k = h->data;
    struct execpool *p = k->pool;
    if (--p->handles_open == 0)
        free(p);
}

void execpool_close(struct execpool *p)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    size_t n = p->nkinds;
    for (size_t i = 0; i < n; i++) {
        struct kind *k = &p->kinds[i];
        while (k->list) {
            struct pooled *e = k->list;
            k->list = e->next;
            execproc_destroy(e->ep);
            free(e);
        }
        uv_close((uv_handle_t *)&k->retry, on_timer_closed);
    }
    if (n == 0)
        free(p);
}
