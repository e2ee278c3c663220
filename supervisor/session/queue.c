/* Statements: the queue, sending ahead of the running one, results,
 * input() requests and interrupts.
 *
 * On this 2-vCPU VM a wake-up across CPUs costs 25 µs or more, so a round
 * trip per statement would cost more than CPython's REPL spends on a whole
 * statement. The session therefore keeps up to AHEAD_MAX statements in
 * flight behind the running one, and the executor runs them back to back
 * from its own queue. */
#define _GNU_SOURCE
#include "session_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bounds keep the executor's queue, and what an input() request
 * withdraws, small. */
#define AHEAD_MAX 64
#define AHEAD_BYTES_MAX ((size_t)1 << 20)

struct stmt *stmt_new(uint64_t id, const char *src, size_t len,
                      const struct session_run_opts *opts)
{
    struct stmt *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->src = malloc(len + 1);
    if (!st->src) {
        free(st);
        return NULL;
    }
    if (len)
        memcpy(st->src, src, len);
    st->src[len] = '\0';
    st->len = len;
    st->id = id;
    st->opts = *opts;
    return st;
}

void stmt_free(struct stmt *st)
{
    if (!st)
        return;
    if (st->refused_owned)
        free((char *)st->refused);
    free(st->src);
    free(st);
}

void stmt_list_append(struct stmt_list *l, struct stmt *st)
{
    st->next = NULL;
    if (l->tail)
        l->tail->next = st;
    else
        l->head = st;
    l->tail = st;
    l->count++;
    l->bytes += st->len;
}

/* Moves every statement of front before those of l. */
void stmt_list_prepend(struct stmt_list *l, struct stmt_list *front)
{
    if (!front->head)
        return;
    front->tail->next = l->head;
    if (!l->head)
        l->tail = front->tail;
    l->head = front->head;
    l->count += front->count;
    l->bytes += front->bytes;
    *front = (struct stmt_list){0};
}

struct stmt *stmt_list_pop(struct stmt_list *l)
{
    struct stmt *st = l->head;
    if (!st)
        return NULL;
    l->head = st->next;
    if (!l->head)
        l->tail = NULL;
    l->count--;
    l->bytes -= st->len;
    st->next = NULL;
    return st;
}

void stmt_list_clear(struct stmt_list *l)
{
    struct stmt *st;
    while ((st = stmt_list_pop(l)))
        stmt_free(st);
}

/* --- timers ------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (!s->running)
        return;
    emit_notice(s, s->running->id, "statement timed out after %g s; interrupting it",
                queue_timeout(s, s->running));
    s->timed_out = true;
    queue_interrupt(s);
}

static void on_grace(uv_timer_t *t)
{
    struct session *s = t->data;
    char why[160];
    if (!s->ep || !s->running)
        return;
    snprintf(why, sizeof why, "executor did not stop within %g s of an interrupt: killed",
             s->cfg.grace_s);
    execproc_kill(s->ep, why);
}

void queue_stop_timers(struct session *s)
{
    uv_timer_stop(&s->timeout_timer);
    uv_timer_stop(&s->grace_timer);
}

static uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000);
}

/* A statement's own limit, where it is below the session's (0: none). */
static double lower_seconds(double session, double own)
{
    return own > 0 && (session <= 0 || own < session) ? own : session;
}

static size_t lower_bytes(size_t session, size_t own)
{
    return own > 0 && (session == 0 || own < session) ? own : session;
}

double queue_timeout(const struct session *s, const struct stmt *st)
{
    return lower_seconds(s->cfg.timeout_s, st->opts.timeout_s);
}

size_t queue_output_cap(const struct session *s, const struct stmt *st)
{
    return lower_bytes(s->cfg.output_cap, st->opts.output_cap);
}

/* st becomes the running statement: its output cap and its clock start. */
static void begin_running(struct session *s, struct stmt *st)
{
    s->running = st;
    s->running_started = false;
    s->out_used = 0;
    s->out_cap = queue_output_cap(s, st);
    s->stretch_cap = s->out_cap;
    s->out_capped = false;
    s->timed_out = false;
    s->interrupted = false;
    st->started_us = session_now_us();
    /* CPU from now on is the statement's. */
    session_idle_check(s);
    double timeout = queue_timeout(s, st);
    if (timeout > 0)
        uv_timer_start(&s->timeout_timer, on_timeout, ms_of(timeout), 0);
    if (st->cancelled)
        queue_interrupt(s);
}

void queue_interrupt(struct session *s)
{
    if (!s->running || !s->ep)
        return;
    /* A failure means the executor is gone: its death ends the statement. */
    (void)execproc_interrupt(s->ep, s->running->id);
    if (!s->interrupted && s->cfg.grace_s > 0)
        uv_timer_start(&s->grace_timer, on_grace, ms_of(s->cfg.grace_s), 0);
    s->interrupted = true;
}

/* --- finishing ---------------------------------------------------------- */

/* The next statement sent ahead, if any, is the running one now. */
static void promote_ahead(struct session *s)
{
    if (s->running || !s->ahead.head)
        return;
    begin_running(s, stmt_list_pop(&s->ahead));
}

void queue_finish_running(struct session *s, const struct session_result *given)
{
    struct stmt *st = s->running;
    struct session_result res = *given;
    res.timed_out = s->timed_out;
    res.output_capped = s->out_capped;
    res.cancelled = st && st->cancelled;
    s->running = NULL;
    s->running_started = false;
    /* The stretch until the next statement has a cap of its own, as the
     * executor's (its retag). */
    s->out_used = 0;
    s->out_capped = false;
    s->interrupted = s->timed_out = false;
    /* An input() the statement left unanswered is over: the executor only
     * sends a result from outside input(). */
    s->input_pending = false;
    queue_stop_timers(s);
    /* The next statement sent ahead runs before the front end hears of
     * this one, since the front end may submit more from done(). */
    promote_ahead(s);
    if (!st)
        return;
    if (!st->replay) {
        res.wall_us = session_now_us() - st->started_us;
        emit_done(s, st->id, &res);
    }
    stmt_free(st);
}

bool queue_cancel(struct session *s, uint64_t id)
{
    if (s->running && s->running->id == id) {
        s->running->cancelled = true;
        queue_interrupt(s);
        return true;
    }
    for (struct stmt *st = s->ahead.head; st; st = st->next)
        if (st->id == id) {
            /* Sent: the executor answers it in its turn without running
             * it (and should it have started meanwhile, it is interrupted
             * when it becomes the running one here). */
            st->cancelled = true;
            struct proto_msg m = {.type = PROTO_CANCEL};
            m.u.cancel.id = id;
            if (s->ep)
                (void)execproc_send(s->ep, &m);
            return true;
        }
    for (struct stmt *st = s->queued.head; st; st = st->next) {
        if (st->id != id || st->replay)
            continue;
        /* It ends in its turn, as any statement that is not run. */
        if (!st->refused) {
            st->refused = "cancelled";
            st->refused_owned = false;
        }
        st->cancelled = true;
        queue_pump(s);
        return true;
    }
    return false;
}

void queue_unsend(struct session *s)
{
    stmt_list_prepend(&s->queued, &s->ahead);
}

void queue_fail_all(struct session *s, const char *why)
{
    queue_unsend(s);
    struct stmt *st;
    while ((st = stmt_list_pop(&s->queued))) {
        if (!st->replay) {
            struct session_result res = {.status = SESSION_NOT_RUN,
                                         .why = st->refused ? st->refused : why,
                                         .cancelled = st->cancelled};
            emit_notice(s, st->id, "%s", res.why);
            emit_done(s, st->id, &res);
        }
        stmt_free(st);
    }
}

/* --- sending ------------------------------------------------------------ */

/* Whether st may go out behind what is in flight. A replay stops at its
 * first failure, so replayed statements never share the executor's queue
 * with anything. */
static bool may_send(const struct session *s, const struct stmt *st)
{
    if (!s->running)
        return true;
    if (st->replay || s->running->replay || (s->ahead.tail && s->ahead.tail->replay))
        return false;
    return s->ahead.count < AHEAD_MAX && s->ahead.bytes + st->len <= AHEAD_BYTES_MAX;
}

/* A refused statement ends in its turn: once all before it have. */
static bool finish_refused(struct session *s)
{
    struct stmt *st = s->queued.head;
    if (!st || !st->refused || s->running || s->ahead.head)
        return false;
    stmt_list_pop(&s->queued);
    struct session_result res = {.status = SESSION_NOT_RUN, .why = st->refused,
                                 .cancelled = st->cancelled};
    if (!st->cancelled)
        emit_notice(s, st->id, "%s", st->refused);
    emit_done(s, st->id, &res);
    stmt_free(st);
    return true;
}

static void pump(struct session *s)
{
    if (s->closing)
        return;
    for (;;) {
        if (finish_refused(s))
            continue;
        struct stmt *st = s->queued.head;
        if (!st || st->refused)
            return;
        if (!s->ep) {
            if (s->gave_up)
                queue_fail_all(s, s->cfg.no_restart
                                      ? "the executor is gone; the statement was not run"
                                      : "no executor is running; type :restart to start one");
            return;
        }
        if (!s->ep_ready || s->input_pending || !may_send(s, st))
            return;
        stmt_list_pop(&s->queued);

        struct proto_msg m = {.type = PROTO_EXEC};
        m.u.exec.id = st->id;
        m.u.exec.source = proto_str_n(st->src, st->len);
        m.u.exec.mode = st->opts.mode == SESSION_BLOCK  ? PROTO_EXEC_BLOCK
                        : st->opts.mode == SESSION_CELL ? PROTO_EXEC_CELL
                                                        : PROTO_EXEC_SINGLE;
        /* The executor applies this cap to the statement and, until the
         * next exec, to the output of tasks between statements. */
        m.u.exec.output_cap = queue_output_cap(s, st);
        m.u.exec.rich = st->opts.rich;
        m.u.exec.silent = st->opts.silent;
        int rc = execproc_send(s->ep, &m);
        if (rc == -EMSGSIZE || rc == -ENOMEM) {
            /* Never seen by the executor, which goes on; the statement
             * ends in its turn, after those in flight. */
            st->refused = rc == -ENOMEM ? "out of memory: the statement was not run"
                                        : "the statement is too large to send; it was not run";
            struct stmt_list one = {0};
            stmt_list_append(&one, st);
            stmt_list_prepend(&s->queued, &one);
            continue;
        }
        /* Any other failure: the executor is on its way out; its death
         * ends the running statement, with the cause, and sends the rest
         * again. */
        if (!s->running)
            begin_running(s, st);
        else
            stmt_list_append(&s->ahead, st);
        if (rc < 0)
            return;
    }
}

void queue_pump(struct session *s)
{
    pump(s);
    session_idle_check(s);
}

/* --- what the executor says about statements ----------------------------- */

bool queue_check_id(struct session *s, uint64_t id, const char *what)
{
    if (s->running && s->running->id == id && s->running_started)
        return true;
    char why[160];
    snprintf(why, sizeof why, "executor sent an invalid frame: %s for statement %llu, which %s",
             what, (unsigned long long)id,
             s->running && s->running->id == id ? "never started" : "is not running");
    execproc_kill(s->ep, why);
    return false;
}

void queue_started(struct session *s, uint64_t id)
{
    if (!s->running || s->running->id != id || s->running_started) {
        char why[160];
        snprintf(why, sizeof why,
                 "executor sent an invalid frame: statement %llu started out of turn",
                 (unsigned long long)id);
        execproc_kill(s->ep, why);
        return;
    }
    s->running_started = true;
}

void queue_result(struct session *s, const struct proto_result *r)
{
    struct stmt *st = s->running;
    if (!queue_check_id(s, r->id, "result"))
        return;
    if (st->replay) {
        journal_replayed(s, r->status == PROTO_STATUS_OK, r);
        struct session_result res = {.status = SESSION_OK, .r = r};
        queue_finish_running(s, &res);
        queue_pump(s);
        return;
    }
    s->statements_run++;
    if (r->status == PROTO_STATUS_OK && s->cfg.restore == SESSION_RESTORE_REPLAY)
        journal_add(s, st);
    if (r->status == PROTO_STATUS_EXIT && s->cfg.exit_ends_session) {
        /* The executor runs nothing more and finishes by itself, as
         * CPython leaves its loop on SystemExit: what was sent behind this
         * statement, or not yet sent, never runs. */
        s->ending = true;
        stmt_list_clear(&s->ahead);
        stmt_list_clear(&s->queued);
        session_idle_check(s);
    }
    struct session_result res = {.r = r};
    switch (r->status) {
    case PROTO_STATUS_OK: res.status = SESSION_OK; break;
    case PROTO_STATUS_ERROR: res.status = SESSION_ERROR; break;
    case PROTO_STATUS_INTERRUPTED: res.status = SESSION_INTERRUPTED; break;
    case PROTO_STATUS_EXIT:
        res.status = SESSION_EXIT;
        res.exit_code = (int)(r->exit_code & 0xff);
        break;
    }
    queue_finish_running(s, &res);
    if (res.status == SESSION_EXIT) {
        emit_exit(s, res.exit_code);
        return;
    }
    queue_pump(s);
    spare_want(s);
}

/* input(): the executor has dropped every statement it had not started. */
void queue_input(struct session *s, const struct proto_input *in)
{
    bool asked_by_running = s->running && in->id == s->running->id && s->running_started;
    /* Asked by no statement while one has started, or by one that is not
     * running: the executor is not following the protocol (user code
     * writing frames of its own), and nothing it says can be believed. */
    if ((in->id != 0 && !asked_by_running) ||
        (in->id == 0 && s->running && s->running_started)) {
        char why[160];
        snprintf(why, sizeof why,
                 "executor sent an invalid frame: input for statement %llu, which is not "
                 "running",
                 (unsigned long long)in->id);
        if (in->id == 0)
            snprintf(why, sizeof why,
                     "executor sent an invalid frame: input for no statement while "
                     "statement %llu runs",
                     (unsigned long long)s->running->id);
        execproc_kill(s->ep, why);
        return;
    }
    queue_unsend(s);
    if (!asked_by_running && s->running) {
        /* Nothing ran: the statement in flight had not started either. */
        struct stmt *st = s->running;
        s->running = NULL;
        s->interrupted = s->timed_out = false;
        queue_stop_timers(s);
        struct stmt_list one = {0};
        stmt_list_append(&one, st);
        stmt_list_prepend(&s->queued, &one);
    }
    s->input_id = in->id;
    s->input_pending = true;
    if (s->running && s->running->replay) {
        /* The user's next lines belong to them, not to a replay: the
         * replayed input() sees end of file and the replay stops there. */
        session_input_reply(s, "", 0, true);
        return;
    }
    emit_input(s, asked_by_running ? in->id : 0, in->prompt, in->kind);
}
