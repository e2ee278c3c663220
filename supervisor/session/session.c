/* The session's life cycle, what its executors tell it, and the delivery
 * of events to the front end.
 *
 * Delivery: every callback of the front end goes through a queue of
 * events that a check handle empties after the loop's I/O phase (an idle
 * handle keeps the loop from sleeping while events wait). So no callback
 * ever runs inside a call the front end made, events keep their order
 * whatever caused them, and a front end may call the session from its
 * callbacks freely. */
#define _GNU_SOURCE
#include "session_priv.h"

#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t session_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t session_now_ms(void)
{
    return session_now_us() / 1000;
}

/* --- events ------------------------------------------------------------- */

/* The text fields of a result an event holds copies of. */
#define RESULT_STRINGS(r) \
    { &(r)->display, &(r)->ps1, &(r)->ps2, &(r)->value, &(r)->error_type, \
      &(r)->error_message, &(r)->traceback, &(r)->denied }

static void result_strings_free(struct proto_result *r)
{
    struct proto_str *fields[] = RESULT_STRINGS(r);
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        free((char *)fields[i]->ptr);
}

static void event_free(struct event *ev)
{
    free(ev->data);
    free((char *)ev->res.why);
    free((char *)ev->res.denied_syscall);
    if (ev->has_r)
        result_strings_free(&ev->r);
    free((char *)ev->display.data.ptr);
    free((char *)ev->display.metadata.ptr);
    free((char *)ev->display.display_id.ptr);
    for (size_t i = 0; i < ev->nmatches; i++)
        free((char *)ev->matches[i].ptr);
    free(ev->matches);
    free(ev);
}

static void on_deliver(uv_check_t *h);

static bool copy_bytes(char **out, const char *data, size_t len)
{
    *out = malloc(len + 1);
    if (!*out)
        return false;
    if (len)
        memcpy(*out, data, len);
    (*out)[len] = '\0';
    return true;
}

static bool copy_str(struct proto_str *out, struct proto_str in)
{
    char *p;
    if (!copy_bytes(&p, in.ptr, in.len))
        return false;
    out->ptr = p;
    out->len = in.len;
    return true;
}

static struct event *event_new(enum event_kind kind, uint64_t id)
{
    struct event *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->kind = kind;
        ev->id = id;
    }
    return ev;
}

/* Queues ev for delivery; NULL (out of memory) is dropped with a word on
 * stderr, the one thing a session can still do then. */
static void enqueue(struct session *s, struct event *ev)
{
    if (!ev) {
        static const char msg[] = "aiobox: out of memory; an event of the session was lost\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
            /* nothing more to try */
        }
        return;
    }
    if (s->closing) {
        event_free(ev);
        return;
    }
    if (s->events_tail)
        s->events_tail->next = ev;
    else
        s->events = ev;
    s->events_tail = ev;
    if (!uv_is_active((uv_handle_t *)&s->deliver_check)) {
        uv_check_start(&s->deliver_check, on_deliver);
        uv_idle_start(&s->deliver_idle, (uv_idle_cb)on_deliver);
    }
}

static void deliver(struct session *s, struct event *ev)
{
    const struct session_frontend *fe = s->fe;
    switch (ev->kind) {
    case EV_OUTPUT:
        if (fe->output_from)
            fe->output_from(s->fe_data, ev->id, ev->origin, ev->fd, ev->raw, ev->data, ev->len);
        else
            fe->output(s->fe_data, ev->id, ev->fd, ev->raw, ev->data, ev->len);
        break;
    case EV_NOTICE:
        fe->notice(s->fe_data, ev->id, ev->data, ev->len);
        break;
    case EV_TEXT:
        fe->text(s->fe_data, ev->data, ev->len);
        break;
    case EV_DONE:
        ev->res.r = ev->has_r ? &ev->r : NULL;
        fe->done(s->fe_data, ev->id, &ev->res);
        break;
    case EV_INPUT:
        fe->input(s->fe_data, ev->id, ev->data, ev->len, (enum proto_input_kind)ev->code);
        break;
    case EV_COMPLETIONS:
        fe->completions(s->fe_data, ev->id, ev->matches, ev->nmatches, ev->start, ev->end);
        break;
    case EV_INSPECTION:
        if (fe->inspection)
            fe->inspection(s->fe_data, ev->id, ev->code != 0, ev->data, ev->len);
        break;
    case EV_DISPLAY:
        if (fe->display)
            fe->display(s->fe_data, ev->id, &ev->display);
        break;
    case EV_CLEAR_OUTPUT:
        if (fe->clear_output_from)
            fe->clear_output_from(s->fe_data, ev->id, ev->origin, ev->flag);
        else if (fe->clear_output)
            fe->clear_output(s->fe_data, ev->id, ev->flag);
        break;
    case EV_PAGE:
        if (fe->page)
            fe->page(s->fe_data, ev->id, ev->data, ev->len);
        else
            fe->output(s->fe_data, ev->id, 1, false, ev->data, ev->len);
        break;
    case EV_EXIT:
        fe->exit(s->fe_data, ev->code);
        break;
    case EV_STATE_LOST:
        fe->state_lost(s->fe_data);
        break;
    case EV_FINISHED:
        /* Everything the executor said before its end has been delivered. */
        session_close(s, s->finished_cb, s->finished_arg);
        break;
    }
}

static void on_deliver(uv_check_t *h)
{
    struct session *s = h->data;
    /* Events queued by the callbacks themselves are delivered in this same
     * turn, after the callback that caused them has returned. */
    while (s->events && !s->closing) {
        struct event *ev = s->events;
        s->events = ev->next;
        if (!s->events)
            s->events_tail = NULL;
        deliver(s, ev);
        event_free(ev);
    }
    if (!s->events && !s->closing) {
        uv_check_stop(&s->deliver_check);
        uv_idle_stop(&s->deliver_idle);
    }
}

/* Output with the statement that made it, when the executor says so
 * (origin 0: not said). */
static void emit_output_from(struct session *s, uint64_t id, uint64_t origin, int fd, bool raw,
                             const char *data, size_t len)
{
    if (!len)
        return;
    struct event *ev = event_new(EV_OUTPUT, id);
    if (ev && !copy_bytes(&ev->data, data, len)) {
        free(ev);
        ev = NULL;
    }
    if (ev) {
        ev->len = len;
        ev->fd = fd;
        ev->raw = raw;
        ev->origin = origin;
    }
    enqueue(s, ev);
}

void emit_output(struct session *s, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    emit_output_from(s, id, 0, fd, raw, data, len);
}

void emit_notice(struct session *s, uint64_t id, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    struct event *ev = event_new(EV_NOTICE, id);
    if (ev && !copy_bytes(&ev->data, buf, (size_t)n)) {
        free(ev);
        ev = NULL;
    }
    if (ev)
        ev->len = (size_t)n;
    enqueue(s, ev);
}

void emit_text(struct session *s, const char *text, size_t len)
{
    struct event *ev = event_new(EV_TEXT, 0);
    if (ev && !copy_bytes(&ev->data, text, len)) {
        free(ev);
        ev = NULL;
    }
    if (ev)
        ev->len = len;
    enqueue(s, ev);
}

void emit_done(struct session *s, uint64_t id, const struct session_result *res)
{
    struct event *ev = event_new(EV_DONE, id);
    if (!ev) {
        enqueue(s, NULL);
        return;
    }
    ev->res = *res;
    ev->res.r = NULL;
    ev->res.why = NULL;
    ev->res.denied_syscall = NULL;
    bool ok = true;
    if (res->why)
        ok = (ev->res.why = strdup(res->why)) != NULL;
    if (ok && res->denied_syscall)
        ok = (ev->res.denied_syscall = strdup(res->denied_syscall)) != NULL;
    if (ok && res->r) {
        ev->has_r = true;
        ev->r = *res->r;
        struct proto_str *to[] = RESULT_STRINGS(&ev->r);
        const struct proto_str *from[] = RESULT_STRINGS(res->r);
        for (size_t i = 0; i < sizeof to / sizeof *to; i++)
            *to[i] = (struct proto_str){NULL, 0};
        for (size_t i = 0; ok && i < sizeof to / sizeof *to; i++)
            ok = copy_str(to[i], *from[i]);
    }
    if (!ok && ev->has_r) {
        /* Without its result a done() still ends the statement. */
        result_strings_free(&ev->r);
        ev->has_r = false;
    }
    enqueue(s, ev);
}

void emit_state_lost(struct session *s)
{
    enqueue(s, event_new(EV_STATE_LOST, 0));
}

/* An event carrying one text, or NULL when out of memory. */
static struct event *text_event(enum event_kind kind, uint64_t id, const char *data, size_t len)
{
    struct event *ev = event_new(kind, id);
    if (ev && !copy_bytes(&ev->data, data, len)) {
        free(ev);
        return NULL;
    }
    if (ev)
        ev->len = len;
    return ev;
}

void emit_input(struct session *s, uint64_t id, struct proto_str prompt,
                enum proto_input_kind kind)
{
    struct event *ev = text_event(EV_INPUT, id, prompt.ptr, prompt.len);
    if (ev)
        ev->code = (int)kind;
    enqueue(s, ev);
}

void emit_exit(struct session *s, int code)
{
    struct event *ev = event_new(EV_EXIT, 0);
    if (ev)
        ev->code = code;
    enqueue(s, ev);
}

static void emit_completions(struct session *s, uint64_t id, const struct proto_str *m, size_t n,
                             size_t start, size_t end)
{
    struct event *ev = event_new(EV_COMPLETIONS, id);
    if (ev) {
        ev->start = start;
        ev->end = end;
    }
    if (ev && n) {
        ev->matches = calloc(n, sizeof *ev->matches);
        if (!ev->matches)
            n = 0;
        for (size_t i = 0; i < n; i++) {
            if (!copy_str(&ev->matches[ev->nmatches], m[i]))
                break;
            ev->nmatches++;
        }
    }
    enqueue(s, ev);
}

/* --- output ------------------------------------------------------------- */

/* How much of len more bytes of output the running statement's cap lets
 * through (all of it without a cap); past the cap, the cut is said once,
 * and a statement that asked to be stopped there is interrupted. The
 * executor stops sending one byte past the cap, so the cut is seen. */
static size_t within_cap(struct session *s, size_t len)
{
    if (s->out_capped)
        return 0;
    size_t cap = s->running ? s->out_cap : s->stretch_cap;
    if (!cap || s->out_used + len <= cap) {
        s->out_used += len;
        return len;
    }
    size_t room = cap - s->out_used;
    s->out_used = cap;
    s->out_capped = true;
    return room;
}

static void say_capped(struct session *s, const char *shown, size_t len)
{
    size_t cap = s->running ? s->out_cap : s->stretch_cap;
    char marker[128];
    int n = snprintf(marker, sizeof marker,
                     "%s[aiobox: output truncated at %zu bytes; --output-cap BYTES changes the "
                     "limit]\n",
                     len && shown[len - 1] != '\n' ? "\n" : "", cap);
    emit_output(s, s->running ? s->running->id : 0, 2, false, marker, (size_t)n);
    if (s->running && s->running->opts.stop_at_cap)
        queue_interrupt(s);
}

static void route_output(struct session *s, uint64_t id, uint64_t origin, int fd, bool raw,
                         const char *data, size_t len)
{
    if (s->running && s->running->replay)
        return;
    bool was_capped = s->out_capped;
    size_t n = within_cap(s, len);
    /* Cut on a character boundary: the front ends show UTF-8. */
    if (n < len)
        n = utf8_complete_prefix(data, n);
    if (n)
        emit_output_from(s, id, origin, fd, raw, data, n);
    if (s->out_capped && !was_capped)
        say_capped(s, data, n);
}

/* --- completions and inspections ----------------------------------------- */

/* At most this many wait for an executor; older ones are answered empty. */
#define QUERIES_MAX 16

static void query_free(struct query *q)
{
    free(q->code);
    free(q);
}

/* An empty answer, for a query the executor will never answer. */
static void query_unanswered(struct session *s, struct query *q)
{
    if (q->inspect) {
        struct event *ev = text_event(EV_INSPECTION, q->id, "", 0);
        enqueue(s, ev);
    } else
        emit_completions(s, q->id, NULL, 0, q->cursor, q->cursor);
}

static void query_send(struct session *s, struct query *q)
{
    struct proto_msg m = {.type = q->inspect ? PROTO_INSPECT : PROTO_COMPLETE};
    if (q->inspect) {
        m.u.inspect.id = q->id;
        m.u.inspect.code = proto_str_n(q->code, q->len);
        m.u.inspect.cursor = q->cursor;
        m.u.inspect.detail = (uint64_t)q->detail;
    } else {
        m.u.complete.id = q->id;
        m.u.complete.code = proto_str_n(q->code, q->len);
        m.u.complete.cursor = q->cursor;
    }
    /* A failure shows up as the executor's death, which answers it. */
    q->sent = execproc_send(s->ep, &m) == 0;
}

static void queries_send(struct session *s)
{
    if (!s->ep || !s->ep_ready)
        return;
    for (struct query *q = s->queries; q; q = q->next)
        if (!q->sent)
            query_send(s, q);
}

/* The executor is gone: what it was asked gets an empty answer. */
static void queries_fail(struct session *s)
{
    while (s->queries) {
        struct query *q = s->queries;
        s->queries = q->next;
        s->nqueries--;
        query_unanswered(s, q);
        query_free(q);
    }
}

/* Whether id is an outstanding query of that kind (then it is done). */
static bool query_answered(struct session *s, uint64_t id, bool inspect)
{
    for (struct query **pp = &s->queries; *pp; pp = &(*pp)->next) {
        struct query *q = *pp;
        if (q->id != id || q->inspect != inspect || !q->sent)
            continue;
        *pp = q->next;
        s->nqueries--;
        query_free(q);
        return true;
    }
    return false;
}

static uint64_t query_ask(struct session *s, bool inspect, const char *code, size_t len,
                          size_t cursor, int detail)
{
    if (s->closing || s->running || (!s->ep && s->gave_up))
        return 0;
    /* A frame the executor would refuse would end it, and the session's
     * state with it: code too long for a statement is not asked about. */
    if (len > SESSION_SOURCE_MAX)
        return 0;
    struct query *q = calloc(1, sizeof *q);
    if (!q || !copy_bytes(&q->code, code, len)) {
        free(q);
        return 0;
    }
    q->id = ++s->next_id;
    q->inspect = inspect;
    q->len = len;
    q->cursor = cursor;
    q->detail = detail;
    if (s->nqueries == QUERIES_MAX) {
        struct query *old = s->queries;
        s->queries = old->next;
        s->nqueries--;
        query_unanswered(s, old);
        query_free(old);
    }
    struct query **pp = &s->queries;
    while (*pp)
        pp = &(*pp)->next;
    *pp = q;
    s->nqueries++;
    queries_send(s);
    return q->id;
}

uint64_t session_complete(struct session *s, const char *code, size_t len, size_t cursor)
{
    return query_ask(s, false, code, len, cursor, 0);
}

uint64_t session_inspect(struct session *s, const char *code, size_t len, size_t cursor,
                         int detail)
{
    return query_ask(s, true, code, len, cursor, detail);
}

static void emit_display(struct session *s, const struct proto_display *d)
{
    if (s->running && s->running->replay)
        return;
    struct event *ev = event_new(EV_DISPLAY, d->has_id ? d->id : 0);
    if (!ev) {
        enqueue(s, NULL);
        return;
    }
    ev->display = *d;
    ev->display.data = ev->display.metadata = ev->display.display_id = (struct proto_str){0};
    if (!copy_str(&ev->display.data, d->data) || !copy_str(&ev->display.metadata, d->metadata) ||
        !copy_str(&ev->display.display_id, d->display_id)) {
        event_free(ev);
        enqueue(s, NULL);
        return;
    }
    enqueue(s, ev);
}

/* --- executor events ---------------------------------------------------- */

/* Control characters become '?': the text goes to the user as it is. */
static void plain_text(char *p)
{
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void became_ready(struct session *s, const struct proto_ready *r)
{
    s->ep_ready = true;
    /* The replay's own time, not the wait for a new executor to start. */
    if (s->replay_total && !s->replay_done)
        s->replay_started_ms = session_now_ms();
    /* What the sandbox is, for :status (also when the executor came ready
     * from the pool); the start-up line says it in a few plain words. */
    snprintf(s->sandbox_desc, sizeof s->sandbox_desc, "%.300s", execproc_sandbox(s->ep));
    plain_text(s->sandbox_desc);
    if (!s->ready_said && !s->cfg.quiet && r) {
        bool none = r->sandbox.len == 4 && memcmp(r->sandbox.ptr, "none", 4) == 0;
        if (none)
            emit_notice(s, 0, "Python %.*s is ready, with no sandbox",
                        (int)(r->python.len > 32 ? 32 : r->python.len), r->python.ptr);
        else
            emit_notice(s, 0, "Python %.*s is ready, sandboxed by policy %.40s (:status says how)",
                        (int)(r->python.len > 32 ? 32 : r->python.len), r->python.ptr,
                        s->cfg.exec.policy_name ? s->cfg.exec.policy_name : "?");
    }
    s->ready_said = true;
    queries_send(s);
    queue_pump(s);
    /* Not before now, so that it never competes with the executor the
     * user is waiting for. */
    spare_want(s);
}

static void on_ready(struct execproc *ep, const struct proto_ready *r)
{
    struct session *s = execproc_data(ep);
    if (ep == s->ep)
        became_ready(s, r);
}

static void on_message(struct execproc *ep, const struct proto_msg *m)
{
    struct session *s = execproc_data(ep);
    if (ep != s->ep)
        return;
    switch (m->type) {
    case PROTO_OUTPUT: {
        const struct proto_output *o = &m->u.output;
        int fd = o->stream == PROTO_STDERR ? 2 : 1;
        if (o->has_id && !queue_check_id(s, o->id, "output"))
            break;
        route_output(s, o->has_id ? o->id : 0, o->has_origin ? o->origin : 0, fd, false,
                     o->text.ptr, o->text.len);
        break;
    }
    case PROTO_RESULT:
        queue_result(s, &m->u.result);
        break;
    case PROTO_INPUT:
        queue_input(s, &m->u.input);
        break;
    case PROTO_STARTED:
        queue_started(s, m->u.started.id);
        break;
    case PROTO_COMPLETIONS: {
        const struct proto_completions *c = &m->u.completions;
        if (query_answered(s, c->id, false))
            emit_completions(s, c->id, c->matches, c->count, (size_t)c->start, (size_t)c->end);
        break;
    }
    case PROTO_INSPECTION: {
        const struct proto_inspection *in = &m->u.inspection;
        struct event *ev;
        if (query_answered(s, in->id, true) &&
            (ev = text_event(EV_INSPECTION, in->id, in->data.ptr, in->data.len))) {
            ev->code = in->found;
            enqueue(s, ev);
        }
        break;
    }
    case PROTO_DISPLAY:
        if (!m->u.display.has_id || queue_check_id(s, m->u.display.id, "display"))
            emit_display(s, &m->u.display);
        break;
    case PROTO_CLEAR_OUTPUT: {
        const struct proto_clear_output *c = &m->u.clear_output;
        if (c->has_id && !queue_check_id(s, c->id, "clear_output"))
            break;
        struct event *ev = event_new(EV_CLEAR_OUTPUT, c->has_id ? c->id : 0);
        if (ev) {
            ev->flag = c->wait;
            ev->origin = c->has_origin ? c->origin : 0;
        }
        enqueue(s, ev);
        break;
    }
    case PROTO_PAGE: {
        const struct proto_page *pg = &m->u.page;
        if (pg->has_id && !queue_check_id(s, pg->id, "page"))
            break;
        enqueue(s, text_event(EV_PAGE, pg->has_id ? pg->id : 0, pg->text.ptr, pg->text.len));
        break;
    }
    case PROTO_ERROR: {
        /* The protocol makes it the executor's last frame: it is giving
         * up, or something in it forged one. Either way it is done. */
        char why[400];
        snprintf(why, sizeof why, "executor reported an error and was stopped: %.*s",
                 (int)(m->u.error.message.len > 300 ? 300 : m->u.error.message.len),
                 m->u.error.message.ptr);
        execproc_kill(ep, why);
        break;
    }
    default:
        break;  /* interrupt_ack; denied: the death report names the call */
    }
}

static void on_raw(struct execproc *ep, int fd, const char *data, size_t len)
{
    struct session *s = execproc_data(ep);
    if (ep != s->ep && ep != s->spare)
        return;
    route_output(s, s->running ? s->running->id : 0, 0, fd, true, data, len);
}

/* --- CPU used while idle --------------------------------------------------- */

void session_idle_check(struct session *s)
{
    if (!s->idlecpu)
        return;
    bool idle = s->ep && s->ep_ready && !s->closing && !s->ending && !s->finishing &&
                !session_executor_busy(s);
    if (idle)
        idlecpu_watch(s->idlecpu, execproc_python_pid(s->ep));
    else
        idlecpu_unwatch(s->idlecpu);
}

/* What is over the limit is a thread or a task a statement left behind:
 * no statement runs, so there is nothing to interrupt (the executor
 * ignores SIGINT then), and only a new executor stops it. */
static void on_idle_cpu(void *data, const struct idlecpu_over *o)
{
    struct session *s = data;
    if (!s->ep)
        return;
    const char *pol = s->cfg.exec.policy_name ? s->cfg.exec.policy_name : "?";
    double allowed = s->cfg.idle_cpu.share * 100;
    if (o->again) {
        char why[300];
        snprintf(why, sizeof why,
                 "the executor used %.0f%% of a CPU for %.0f s more while no statement ran "
                 "(policy %.40s allows %g%%): it was stopped",
                 o->share * 100, o->window_s, pol, allowed);
        execproc_kill(s->ep, why);
        return;
    }
    if (s->cfg.idle_cpu.action == POLICY_IDLE_KILL)
        emit_notice(s, 0,
                    "the executor used %.0f%% of a CPU for %.0f s while no statement ran "
                    "(policy %.40s allows %g%%): a thread or task is still running; it will "
                    "be stopped if this goes on for %g s more",
                    o->share * 100, o->window_s, pol, allowed, s->cfg.idle_cpu.window_s);
    else
        emit_notice(s, 0,
                    "the executor used %.0f%% of a CPU for %.0f s while no statement ran "
                    "(policy %.40s allows %g%%): a thread or task is still running "
                    "(:restart stops it)",
                    o->share * 100, o->window_s, pol, allowed);
}

static void on_dead(struct execproc *ep, const struct execproc_death *d)
{
    struct session *s = execproc_data(ep);
    uint64_t uptime = session_now_ms() - s->ep_since_ms;
    if (ep == s->ep && s->idlecpu)
        idlecpu_unwatch(s->idlecpu);
    if (s->ending) {
        /* Its end: the session's too, once what came before is delivered. */
        execproc_destroy(ep);
        s->ep = NULL;
        s->ep_ready = false;
        s->input_pending = false;
        uv_timer_stop(&s->finish_timer);
        if (s->finishing && !s->closing)
            enqueue(s, event_new(EV_FINISHED, 0));
        return;
    }
    /* Copies: d lives no longer than the executor. */
    char why[512], syscall[64] = "";
    snprintf(why, sizeof why, "%s", d->cause);
    if (d->denied_syscall)
        snprintf(syscall, sizeof syscall, "%s", d->denied_syscall);
    struct session_result res = {
        .status = SESSION_CRASHED,
        .term_signal = d->term_signal,
        .exit_status = d->exit_status,
        .denied_syscall = syscall[0] ? syscall : NULL,
        .why = why,
    };

    execproc_destroy(ep);
    s->ep = NULL;
    s->ep_ready = false;
    s->input_pending = false;
    s->deaths++;
    if (s->closing)
        return;
    queries_fail(s);
    /* What was sent behind the running statement never ran: the next
     * executor gets it. */
    queue_unsend(s);
    emit_state_lost(s);
    emit_notice(s, 0, "%s", why);
    if (s->running) {
        if (s->running->replay)
            journal_replay_died(s);
        else
            emit_notice(s, s->running->id, "statement %llu did not complete",
                        (unsigned long long)s->running->id);
    }
    struct stmt *dead = s->running;
    restart_after_death(s, uptime);
    /* The statement is finished last: the front end shows the prompt then,
     * and what happened to the executor belongs above it. When none was
     * running, a ready executor taken by the restart may already run the
     * first replay or queued statement, which is not to be finished. */
    if (dead)
        queue_finish_running(s, &res);
    queue_pump(s);
}

const struct execproc_cb session_current_cb = {on_ready, on_message, on_raw, on_dead};

/* The executor this session wants: its configuration and hello features.
 * The pool matches on the features too, so both ways agree. */
static struct execproc_config executor_wanted(const struct session *s)
{
    struct execproc_config exec = s->cfg.exec;
    exec.features = (s->cfg.rich ? PROTO_FEATURE_RICH : 0) |
                    (s->cfg.terminal ? PROTO_FEATURE_TERMINAL : 0) |
                    (s->cfg.exit_ends_session ? PROTO_FEATURE_EXIT_ENDS : 0);
    return exec;
}

int session_spawn(struct session *s, struct execproc **out, const struct execproc_cb *cb)
{
    char err[512];
    struct execproc_config exec = executor_wanted(s);
    int rc = execproc_start(out, s->loop, &exec, cb, s, err, sizeof err);
    if (rc < 0) {
        *out = NULL;
        emit_notice(s, 0, "%s", err);
        return rc;
    }
    if (s->output_held)
        execproc_hold_output(*out, true);
    return 0;
}

int session_obtain(struct session *s, struct execproc **out, bool *ready)
{
    struct execproc_config exec = executor_wanted(s);
    *out = execpool_take(s->cfg.pool, &exec, &session_current_cb, s);
    if (*out) {
        *ready = true;
        if (s->output_held)
            execproc_hold_output(*out, true);
        return 0;
    }
    *ready = false;
    return session_spawn(s, out, &session_current_cb);
}

void session_adopt(struct session *s, struct execproc *ep, bool ready)
{
    s->ep = ep;
    s->ep_ready = ready;
    s->ep_since_ms = session_now_ms();
    execproc_set_owner(ep, &session_current_cb, s);
    if (ready)
        became_ready(s, NULL);
}

void session_drop_executor(struct session *s, struct execproc *ep)
{
    if (ep == s->ep) {
        s->ep = NULL;
        s->ep_ready = false;
        s->input_pending = false;
        session_idle_check(s);
        queries_fail(s);
    } else if (ep == s->spare) {
        s->spare = NULL;
        s->spare_ready = false;
    }
    execproc_destroy(ep);
}

/* --- the front end's calls ---------------------------------------------- */

uint64_t session_submit(struct session *s, const char *src, size_t len, enum session_mode mode)
{
    struct session_run_opts opts = {.mode = mode};
    return session_run(s, src, len, &opts);
}

uint64_t session_run(struct session *s, const char *src, size_t len,
                     const struct session_run_opts *given)
{
    static const struct session_run_opts defaults = {.mode = SESSION_SINGLE};
    const struct session_run_opts *opts = given ? given : &defaults;
    uint64_t id = ++s->next_id;
    struct stmt *st;
    if (len > SESSION_SOURCE_MAX) {
        /* No exec frame could carry it. It still takes its turn, so the
         * refusal comes where its output would have. */
        st = stmt_new(id, "", 0, opts);
        if (st) {
            size_t first = strcspn(src, "\n");
            char *why = NULL;
            if (asprintf(&why,
                         "statement %llu (%.*s%s) is %zu bytes, over the limit of %zu; it was "
                         "not run",
                         (unsigned long long)id, (int)(first > 40 ? 40 : first), src,
                         first > 40 || first < len ? "..." : "", len,
                         (size_t)SESSION_SOURCE_MAX) < 0)
                why = NULL;
            st->refused = why ? why : "a statement over the size limit was not run";
            st->refused_owned = why != NULL;
        }
    } else
        st = stmt_new(id, src, len, opts);
    if (!st) {
        /* Still a done(), in its turn: a refused stub needs no memory of
         * its own beyond this one allocation, so try the smallest. */
        st = stmt_new(id, "", 0, opts);
        if (st)
            st->refused = "out of memory: the statement was not run";
    }
    if (!st) {
        struct session_result res = {.status = SESSION_NOT_RUN,
                                     .why = "out of memory: the statement was not run"};
        emit_notice(s, id, "%s", res.why);
        emit_done(s, id, &res);
        return id;
    }
    stmt_list_append(&s->queued, st);
    queue_pump(s);
    return id;
}

void session_withdraw(struct session *s)
{
    struct stmt_list keep = {0};
    struct stmt *st;
    while ((st = stmt_list_pop(&s->queued))) {
        if (st->replay)
            stmt_list_append(&keep, st);
        else
            stmt_free(st);
    }
    s->queued = keep;
}

bool session_cancel(struct session *s, uint64_t id)
{
    return queue_cancel(s, id);
}

void session_info(const struct session *s, struct session_info *info)
{
    memset(info, 0, sizeof *info);
    info->pid = s->ep ? execproc_pid(s->ep) : 0;
    info->ready = s->ep && s->ep_ready;
    info->uptime_ms = s->ep ? session_now_ms() - s->ep_since_ms : 0;
    info->statements_run = s->statements_run;
    info->restarts = s->restarts;
    info->deaths = s->deaths;
    info->rss_kib = s->ep ? execproc_rss_kib(s->ep) : -1;
    info->busy = session_busy(s);
    info->gave_up = s->gave_up;
    if (s->idlecpu && idlecpu_share(s->idlecpu, &info->idle_cpu_share,
                                    &info->idle_cpu_span_s) < 0)
        info->idle_cpu_share = info->idle_cpu_span_s = 0;
}

/* The journal's replays are the session's own: they get no done(), so a
 * front end waiting for the session to be idle must not wait for them
 * (it shows its prompt, and what the user types queues behind them). */
bool session_busy(const struct session *s)
{
    if ((s->running && !s->running->replay) || s->ahead.head)
        return true;
    for (const struct stmt *st = s->queued.head; st; st = st->next)
        if (!st->replay)
            return true;
    return false;
}

bool session_executor_busy(const struct session *s)
{
    return s->running || s->queued.head || s->ahead.head;
}

void session_interrupt(struct session *s)
{
    queue_interrupt(s);
}

void session_input_reply(struct session *s, const char *text, size_t len, bool eof)
{
    if (!s->ep || !s->input_pending)
        return;
    s->input_pending = false;
    struct proto_msg m = {.type = PROTO_INPUT_REPLY};
    m.u.input_reply.id = s->input_id;
    m.u.input_reply.eof = eof;
    m.u.input_reply.text = proto_str_n(text, len);
    /* A failure shows up as the executor's death. */
    (void)execproc_send(s->ep, &m);
    queue_pump(s);
}

void session_hold_output(struct session *s, bool hold)
{
    if (s->output_held == hold)
        return;
    s->output_held = hold;
    if (s->ep)
        execproc_hold_output(s->ep, hold);
    if (s->spare)
        execproc_hold_output(s->spare, hold);
}

/* --- life cycle --------------------------------------------------------- */

int session_new(struct session **out, uv_loop_t *loop, const struct session_config *cfg,
                const struct session_frontend *fe, void *fe_data)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->stretch_cap = cfg->output_cap;
    s->fe = fe;
    s->fe_data = fe_data;
    uv_timer_t *timers[] = {&s->timeout_timer, &s->grace_timer, &s->restart_timer,
                            &s->spare_timer, &s->finish_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        /* uv_timer_init, uv_check_init and uv_idle_init only fill in
         * the handle: they cannot fail. */
        (void)uv_timer_init(loop, timers[i]);
        timers[i]->data = s;
        s->handles_open++;
    }
    (void)uv_check_init(loop, &s->deliver_check);
    (void)uv_idle_init(loop, &s->deliver_idle);
    s->deliver_check.data = s->deliver_idle.data = s;
    s->handles_open += 2;
    if (cfg->idle_cpu.share > 0) {
        int rc = idlecpu_new(&s->idlecpu, loop, &cfg->idle_cpu, on_idle_cpu, s);
        if (rc < 0) {
            /* Nothing is started yet: the handles close and free s. */
            session_close(s, NULL, NULL);
            return rc;
        }
    }
    *out = s;
    return 0;
}

void session_start(struct session *s)
{
    if (s->ep || s->closing)
        return;
    struct execproc *ep;
    bool ready;
    if (session_obtain(s, &ep, &ready) < 0) {
        s->gave_up = true;
        queue_fail_all(s, "no executor is running; type :restart to start one");
        return;
    }
    session_adopt(s, ep, ready);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    if (--s->handles_open == 0) {
        void (*cb)(void *) = s->closed_cb;
        void *arg = s->closed_arg;
        free(s);
        if (cb)
            cb(arg);
    }
}

void session_close(struct session *s, void (*closed)(void *arg), void *arg)
{
    if (s->closing)
        return;
    s->closing = true;
    s->closed_cb = closed;
    s->closed_arg = arg;
    idlecpu_close(s->idlecpu);
    s->idlecpu = NULL;
    if (s->ep)
        execproc_destroy(s->ep);
    if (s->spare)
        execproc_destroy(s->spare);
    s->ep = s->spare = NULL;
    stmt_free(s->running);
    s->running = NULL;
    stmt_list_clear(&s->ahead);
    stmt_list_clear(&s->queued);
    journal_truncate(s, 0);
    while (s->queries) {
        struct query *q = s->queries;
        s->queries = q->next;
        query_free(q);
    }
    while (s->events) {
        struct event *ev = s->events;
        s->events = ev->next;
        event_free(ev);
    }
    s->events_tail = NULL;
    uv_handle_t *hs[] = {(uv_handle_t *)&s->timeout_timer, (uv_handle_t *)&s->grace_timer,
                         (uv_handle_t *)&s->restart_timer, (uv_handle_t *)&s->spare_timer,
                         (uv_handle_t *)&s->finish_timer, (uv_handle_t *)&s->deliver_check,
                         (uv_handle_t *)&s->deliver_idle};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        uv_close(hs[i], on_handle_closed);
}

/* Without a grace period the executor still gets this long to finish. */
#define FINISH_DEFAULT_S 2.0

static void on_finish_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (!s->ep)
        return;
    emit_notice(s, 0, "the executor did not finish within %g s of the end; it was stopped",
                s->cfg.grace_s > 0 ? s->cfg.grace_s : FINISH_DEFAULT_S);
    /* Its death ends the finish. */
    execproc_kill(s->ep, NULL);
}

void session_finish(struct session *s, void (*finished)(void *arg), void *arg)
{
    if (s->closing || s->finishing)
        return;
    s->finishing = true;
    session_idle_check(s);
    s->finished_cb = finished;
    s->finished_arg = arg;
    /* Nothing more runs, and nothing more starts. */
    stmt_list_clear(&s->queued);
    queue_stop_timers(s);
    uv_timer_stop(&s->restart_timer);
    uv_timer_stop(&s->spare_timer);
    if (s->spare)
        session_drop_executor(s, s->spare);
    while (s->queries) {
        struct query *q = s->queries;
        s->queries = q->next;
        query_free(q);
    }
    s->nqueries = 0;
    if (s->ep && !s->ep_ready && !s->ending) {
        /* Still starting: nothing of the user's to finish. */
        session_drop_executor(s, s->ep);
    }
    if (!s->ep) {
        enqueue(s, event_new(EV_FINISHED, 0));
        return;
    }
    if (!s->ending) {
        struct proto_msg m = {.type = PROTO_SHUTDOWN};
        m.u.shutdown.version = PROTO_VERSION;
        /* A failure shows up as its death, which ends the finish too. */
        (void)execproc_send(s->ep, &m);
        s->ending = true;
    }
    double grace = s->cfg.grace_s > 0 ? s->cfg.grace_s : FINISH_DEFAULT_S;
    uv_timer_start(&s->finish_timer, on_finish_timeout, (uint64_t)(grace * 1000), 0);
}
