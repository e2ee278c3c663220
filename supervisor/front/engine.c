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

/* The end's callback: e lives until then, so that a front end may cut a
 * finish short with engine_close. */
static void engine_ended(void *arg)
{
    struct engine *e = arg;
    void (*cb)(void *) = e->ended;
    void *cb_arg = e->ended_arg;
    free(e);
    if (cb)
        cb(cb_arg);
}

void engine_finish(struct engine *e, void (*finished)(void *arg), void *arg)
{
    e->ended = finished;
    e->ended_arg = arg;
    (e->ops->finish ? e->ops->finish : e->ops->close)(e->impl, engine_ended, e);
}

void engine_close(struct engine *e, void (*closed)(void *arg), void *arg)
{
    e->ended = closed;
    e->ended_arg = arg;
    e->ops->close(e->impl, engine_ended, e);
}

/* --- the local session ------------------------------------------------------- */

struct local {
    uv_loop_t *loop;
    struct session_config cfg;
    struct session *s;
    /* Called once the session is gone (session_close and session_finish
     * call one callback, the last one given). */
    void (*ended)(void *arg);
    void *ended_arg;
    bool ending;
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

static void local_ended(void *arg)
{
    struct local *l = arg;
    void (*cb)(void *) = l->ended;
    void *cb_arg = l->ended_arg;
    free(l);
    if (cb)
        cb(cb_arg);
}

/* session_close, or session_finish (the executor ends as CPython does). A
 * close while a finish runs cuts it short; either way one callback. */
static void local_end(void *impl, bool finish, void (*ended)(void *arg), void *arg)
{
    struct local *l = impl;
    l->ended = ended;
    l->ended_arg = arg;
    if (!l->s) {
        /* Never bound: nothing to end; the caller hears at once. */
        local_ended(l);
        return;
    }
    if (finish && !l->ending)
        session_finish(l->s, local_ended, l);
    else
        session_close(l->s, local_ended, l);
    l->ending = true;
}

static void local_close(void *impl, void (*closed)(void *arg), void *arg)
{
    local_end(impl, false, closed, arg);
}

static void local_finish(void *impl, void (*finished)(void *arg), void *arg)
{
    local_end(impl, true, finished, arg);
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
    .finish = local_finish,
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
