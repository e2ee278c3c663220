/* The front ends' engine: a dispatch onto its implementation, and the
 * local one, which is the session engine itself. */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>

uint64_t engine_submit(struct engine *e, const char *src, size_t len, enum session_mode mode)
{
    return e->ops->submit(e->impl, src, len, mode);
}

int engine_bind(struct engine *e, const struct engine_frontend *fe, void *fe_data)
{
    return e->ops->bind(e->impl, fe, fe_data);
}

void engine_start(struct engine *e) { e->ops->start(e->impl); }
void engine_command(struct engine *e, const char *line, size_t len) { e->ops->command(e->impl, line, len); }
bool engine_busy(const struct engine *e) { return e->ops->busy(e->impl); }
void engine_withdraw(struct engine *e) { e->ops->withdraw(e->impl); }
void engine_interrupt(struct engine *e) { e->ops->interrupt(e->impl); }
void engine_hold_output(struct engine *e, bool hold) { e->ops->hold_output(e->impl, hold); }

void engine_input_reply(struct engine *e, const char *text, size_t len, bool eof)
{
    e->ops->input_reply(e->impl, text, len, eof);
}

uint64_t engine_complete(struct engine *e, const char *code, size_t len, size_t cursor)
{
    return e->ops->complete(e->impl, code, len, cursor);
}

void engine_close(struct engine *e, void (*closed)(void *arg), void *arg)
{
    const struct engine_ops *ops = e->ops;
    void *impl = e->impl;
    free(e);
    ops->close(impl, closed, arg);
}

/* --- the local session ------------------------------------------------------- */

struct local {
    uv_loop_t *loop;
    struct session_config cfg;
    struct session *s;
};

static int local_bind(void *impl, const struct engine_frontend *fe, void *fe_data)
{
    struct local *l = impl;
    return session_new(&l->s, l->loop, &l->cfg, &fe->s, fe_data);
}

static void local_start(void *impl)
{
    session_start(((struct local *)impl)->s);
}

static uint64_t local_submit(void *impl, const char *src, size_t len, enum session_mode mode)
{
    return session_submit(((struct local *)impl)->s, src, len, mode);
}

static void local_command(void *impl, const char *line, size_t len)
{
    session_command(((struct local *)impl)->s, line, len);
}

static bool local_busy(const void *impl)
{
    return session_busy(((const struct local *)impl)->s);
}

static void local_withdraw(void *impl)
{
    session_withdraw(((struct local *)impl)->s);
}

static void local_interrupt(void *impl)
{
    session_interrupt(((struct local *)impl)->s);
}

static void local_input_reply(void *impl, const char *text, size_t len, bool eof)
{
    session_input_reply(((struct local *)impl)->s, text, len, eof);
}

static uint64_t local_complete(void *impl, const char *code, size_t len, size_t cursor)
{
    return session_complete(((struct local *)impl)->s, code, len, cursor);
}

static void local_hold_output(void *impl, bool hold)
{
    session_hold_output(((struct local *)impl)->s, hold);
}

struct local_close {
    void (*closed)(void *arg);
    void *arg;
};

static void local_closed(void *arg)
{
    struct local_close *lc = arg;
    void (*cb)(void *) = lc->closed;
    void *cb_arg = lc->arg;
    free(lc);
    if (cb)
        cb(cb_arg);
}

static void local_close(void *impl, void (*closed)(void *arg), void *arg)
{
    struct local *l = impl;
    struct session *s = l->s;
    free(l);
    struct local_close *lc = s ? malloc(sizeof *lc) : NULL;
    if (!lc) {
        /* Never bound, or no memory for the wrapper: the session closes
         * all the same, and the caller hears at once. */
        if (s)
            session_close(s, NULL, NULL);
        if (closed)
            closed(arg);
        return;
    }
    lc->closed = closed;
    lc->arg = arg;
    session_close(s, local_closed, lc);
}

static const struct engine_ops local_ops = {
    .bind = local_bind,
    .start = local_start,
    .submit = local_submit,
    .command = local_command,
    .busy = local_busy,
    .withdraw = local_withdraw,
    .interrupt = local_interrupt,
    .input_reply = local_input_reply,
    .complete = local_complete,
    .hold_output = local_hold_output,
    .close = local_close,
};

int engine_local_new(struct engine **out, uv_loop_t *loop, const struct session_config *cfg)
{
    struct engine *e = calloc(1, sizeof *e);
    struct local *l = calloc(1, sizeof *l);
    if (!e || !l) {
        free(e);
        free(l);
        return -ENOMEM;
    }
    l->loop = loop;
    l->cfg = *cfg;
    e->ops = &local_ops;
    e->impl = l;
    *out = e;
    return 0;
}

void engine_free(struct engine *e)
{
    if (e)
        engine_close(e, NULL, NULL);
}
