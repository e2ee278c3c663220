#define _GNU_SOURCE
#include "session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sanitize.h"

/* Restart budget, as Jupyter's: this many deaths, each within the stability
 * window of the executor's start, and restarting stops. */
#define RAPID_DEATHS_MAX 5
#define STABLE_MS 10000
#define SPARE_FAILURES_MAX 3
/* A spare starting (some 40 ms of CPU) must not compete with statements
 * the user waits for: it starts once the session is idle, or this long
 * after it was wanted if the session stays busy (a long piped script). */
#define SPARE_BUSY_MS 1000
/* The replay journal keeps sources in memory; past this it stops growing
 * (and says so) rather than let a long session eat the supervisor. */
#define JOURNAL_BYTES_MAX (16u << 20)
/* Statements sent ahead of the running one. The executor runs them back
 * to back, so piped input does not pay a round trip (two cross-CPU
 * wake-ups) per statement; the bounds keep its queue, and what an
 * input() request withdraws, small. */
#define AHEAD_MAX 64
#define AHEAD_BYTES_MAX ((size_t)1 << 20)

struct stmt {
    struct stmt *next;
    uint64_t id;
    char *src;
    size_t len;
    bool replay;     /* re-run from the journal: output suppressed */
    bool block;      /* a pasted block, not one statement */
};

struct session {
    uv_loop_t *loop;
    struct session_config cfg;
    const struct session_frontend *fe;
    void *fe_data;

    struct execproc *ep, *spare;
    bool ep_ready, spare_ready, banner_shown;
    /* When ep became the session's executor: a spare may have waited long
     * before that, and only the time serving the session counts as uptime. */
    uint64_t ep_since_ms;

    /* head..tail: not sent yet. inflight: sent and running (or about to
     * run: the executor runs statements in order). ahead..ahead_tail:
     * sent behind it. */
    struct stmt *head, *tail, *inflight, *ahead, *ahead_tail;
    size_t ahead_count, ahead_bytes;
    uint64_t next_id, complete_id, input_id;
    bool interrupted;
    /* An input request is unanswered: nothing may be sent, because the
     * executor drops every statement that reaches it meanwhile. */
    bool input_pending;

    uv_timer_t timeout_timer, grace_timer, restart_timer, spare_timer;
    /* Fails queued statements when no executor will come: from the loop,
     * never from inside session_submit, so a front end never sees its
     * statement finish before the submit call returns. */
    uv_timer_t fail_timer;
    int handles_open;
    bool closing;
    void (*closed_cb)(void *);
    void *closed_arg;

    size_t out_used;
    bool out_capped;
    struct sanitize san[4];      /* stdout, stderr frames; raw fd 1, fd 2 */

    int rapid_deaths, spare_failures;
    unsigned restarts, deaths, restart_requests;
    bool gave_up;
    uint64_t statements_run;

    struct stmt *journal, *journal_tail;
    size_t journal_len, journal_bytes;
    bool journal_full;
    size_t replay_total, replay_done;
    uint64_t replay_started_ms;
};

static const struct execproc_cb current_cb, spare_cb;
static void start_executor(struct session *s);
static void start_spare(struct session *s);
static void want_spare(struct session *s);
static void pump(struct session *s);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- output ------------------------------------------------------------- */

static void emit(struct session *s, int fd, int source, const char *data, size_t len)
{
    if (!s->cfg.sanitize_fd[fd]) {
        s->fe->write(s->fe_data, fd, data, len);
        return;
    }
    char *out = NULL;
    size_t olen = 0, ocap = 0;
    if (sanitize_feed(&s->san[source], data, len, &out, &olen, &ocap) == 0 && olen)
        s->fe->write(s->fe_data, fd, out, olen);
    free(out);
}

static void notice(struct session *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "aiobox: ");
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    /* Notices may quote the executor: they pass the sanitiser too. */
    emit(s, 2, 1, buf, (size_t)n);
}

/* Counts output against the statement's cap; false once it is spent. */
static bool within_cap(struct session *s, size_t len)
{
    if (s->out_capped)
        return false;
    if (s->out_used + len <= s->cfg.output_cap) {
        s->out_used += len;
        return true;
    }
    s->out_capped = true;
    char marker[128];
    int n = snprintf(marker, sizeof marker, "\n[aiobox: output truncated at %zu bytes]\n",
                     s->cfg.output_cap);
    s->fe->write(s->fe_data, 2, marker, (size_t)n);
    return false;
}

static void stream_output(struct session *s, int fd, int source, const char *data, size_t len)
{
    if (s->inflight && s->inflight->replay)
        return;
    if (within_cap(s, len))
        emit(s, fd, source, data, len);
}

/* --- statements --------------------------------------------------------- */

static struct stmt *stmt_new(uint64_t id, const char *src, size_t len, bool replay)
{
    struct stmt *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->src = malloc(len + 1);
    if (!st->src) {
        free(st);
        return NULL;
    }
    memcpy(st->src, src, len);
    st->src[len] = '\0';
    st->len = len;
    st->id = id;
    st->replay = replay;
    return st;
}

static void stmt_free(struct stmt *st)
{
    if (st) {
        free(st->src);
        free(st);
    }
}

static void stop_statement_timers(struct session *s)
{
    uv_timer_stop(&s->timeout_timer);
    uv_timer_stop(&s->grace_timer);
}

static void promote_ahead(struct session *s);

/* r: the executor's result, NULL when the statement ended without one. The
 * next statement sent ahead is running before the front end hears of
 * this one, since the front end may submit more from done(). */
static void finish_statement_result(struct session *s, const struct proto_result *r)
{
    struct stmt *st = s->inflight;
    s->inflight = NULL;
    s->interrupted = false;
    /* An input() the statement left unanswered (interrupted) is over:
     * the executor only sends a result from outside input(). */
    s->input_pending = false;
    stop_statement_timers(s);
    promote_ahead(s);
    if (!st)
        return;
    if (!st->replay)
        s->fe->done(s->fe_data, st->id, r);
    stmt_free(st);
}

static void finish_statement(struct session *s)
{
    finish_statement_result(s, NULL);
}

static void drop_replays(struct session *s)
{
    struct stmt **pp = &s->head;
    while (*pp) {
        if ((*pp)->replay) {
            struct stmt *dead = *pp;
            *pp = dead->next;
            stmt_free(dead);
        } else
            pp = &(*pp)->next;
    }
    s->tail = NULL;
    for (struct stmt *st = s->head; st; st = st->next)
        s->tail = st;
    s->replay_total = 0;
}

static void journal_add(struct session *s, const struct stmt *st)
{
    if (s->journal_full)
        return;
    struct stmt *copy = NULL;
    if (s->journal_bytes + st->len <= JOURNAL_BYTES_MAX)
        copy = stmt_new(st->id, st->src, st->len, true);
    if (!copy) {
        /* Replaying a prefix with a later statement missing would build a
         * state the user never had: the journal ends here for good. */
        s->journal_full = true;
        notice(s, "the replay journal is full (%zu statements); later statements will not "
                  "be restored after a crash", s->journal_len);
        return;
    }
    copy->block = st->block;
    if (s->journal_tail)
        s->journal_tail->next = copy;
    else
        s->journal = copy;
    s->journal_tail = copy;
    s->journal_len++;
    s->journal_bytes += st->len;
}

static void journal_truncate(struct session *s, size_t keep)
{
    struct stmt **pp = &s->journal;
    s->journal_tail = NULL;
    s->journal_len = s->journal_bytes = 0;
    for (size_t i = 0; i < keep && *pp; i++) {
        s->journal_tail = *pp;
        s->journal_len++;
        s->journal_bytes += (*pp)->len;
        pp = &(*pp)->next;
    }
    struct stmt *rest = *pp;
    *pp = NULL;
    while (rest) {
        struct stmt *next = rest->next;
        stmt_free(rest);
        rest = next;
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (!s->inflight)
        return;
    notice(s, "statement timed out after %g s; interrupting it", s->cfg.timeout_s);
    session_interrupt(s);
}

static void on_grace(uv_timer_t *t)
{
    struct session *s = t->data;
    char why[160];
    if (!s->ep || !s->inflight)
        return;
    snprintf(why, sizeof why,
             "executor did not stop within %g s of an interrupt: killed", s->cfg.grace_s);
    execproc_kill(s->ep, why);
}

/* Puts the statements sent ahead back in front of the queue, in order: the
 * executor dropped them, or is gone. */
static void unsend_ahead(struct session *s)
{
    if (!s->ahead)
        return;
    s->ahead_tail->next = s->head;
    if (!s->head)
        s->tail = s->ahead_tail;
    s->head = s->ahead;
    s->ahead = s->ahead_tail = NULL;
    s->ahead_count = s->ahead_bytes = 0;
}

static void fail_queue(struct session *s)
{
    unsend_ahead(s);
    while (s->head) {
        struct stmt *st = s->head;
        s->head = st->next;
        if (!st->replay) {
            notice(s, "no executor is running; type :restart to start one");
            s->fe->done(s->fe_data, st->id, NULL);
        }
        stmt_free(st);
    }
    s->tail = NULL;
}

static void on_fail_timer(uv_timer_t *t)
{
    struct session *s = t->data;
    if (!s->ep && s->gave_up)
        fail_queue(s);
}

/* st becomes the running statement: its output cap and its clock start. */
static void begin_statement(struct session *s, struct stmt *st)
{
    s->inflight = st;
    s->out_used = 0;
    s->out_capped = false;
    if (s->cfg.timeout_s > 0)
        uv_timer_start(&s->timeout_timer, on_timeout, (uint64_t)(s->cfg.timeout_s * 1000), 0);
}

/* The next statement sent ahead, if any, is the running one now. */
static void promote_ahead(struct session *s)
{
    struct stmt *st = s->ahead;
    if (!st || s->inflight)
        return;
    s->ahead = st->next;
    if (!s->ahead)
        s->ahead_tail = NULL;
    s->ahead_count--;
    s->ahead_bytes -= st->len;
    st->next = NULL;
    begin_statement(s, st);
}

/* Whether the head of the queue may go out behind what is in flight. A
 * replay stops at its first failure, so replayed statements never share
 * the executor's queue with anything. */
static bool may_send(const struct session *s, const struct stmt *st)
{
    if (!s->inflight)
        return true;
    if (st->replay || s->inflight->replay || (s->ahead_tail && s->ahead_tail->replay))
        return false;
    return s->ahead_count < AHEAD_MAX && s->ahead_bytes + st->len <= AHEAD_BYTES_MAX;
}

static void pump(struct session *s)
{
    if (s->closing)
        return;
    if (!s->ep) {
        if (s->gave_up && s->head)
            uv_timer_start(&s->fail_timer, on_fail_timer, 0, 0);
        return;
    }
    while (s->ep && s->ep_ready && !s->input_pending && s->head && may_send(s, s->head)) {
        struct stmt *st = s->head;
        s->head = st->next;
        if (!s->head)
            s->tail = NULL;
        st->next = NULL;

        struct proto_msg m = {.type = PROTO_EXEC};
        m.u.exec.id = st->id;
        m.u.exec.source = proto_str_n(st->src, st->len);
        m.u.exec.mode = st->block ? PROTO_EXEC_BLOCK : PROTO_EXEC_SINGLE;
        int rc = execproc_send(s->ep, &m);
        if (rc == -2) {
            notice(s, "statement %llu could not be sent to the executor (too large, or out of "
                      "memory)", (unsigned long long)st->id);
            if (!st->replay)
                s->fe->done(s->fe_data, st->id, NULL);
            stmt_free(st);
            continue;
        }
        /* rc == -1: the executor is on its way out; its death fails the
         * running statement, with the cause, and sends the rest again. */
        if (!s->inflight)
            begin_statement(s, st);
        else {
            if (s->ahead_tail)
                s->ahead_tail->next = st;
            else
                s->ahead = st;
            s->ahead_tail = st;
            s->ahead_count++;
            s->ahead_bytes += st->len;
        }
        if (rc != 0)
            return;
    }
}

uint64_t session_submit(struct session *s, const char *src, size_t len, bool block)
{
    uint64_t id = ++s->next_id;
    if (len > SESSION_SOURCE_MAX) {
        /* The exec frame could not carry it, and an executor sent one
         * would be killed for it. */
        notice(s, "a statement of %zu bytes exceeds the %zu-byte limit; it was not run", len,
               (size_t)SESSION_SOURCE_MAX);
        s->fe->done(s->fe_data, id, NULL);
        return id;
    }
    struct stmt *st = stmt_new(id, src, len, false);
    if (st)
        st->block = block;
    if (!st) {
        notice(s, "out of memory: statement dropped");
        s->fe->done(s->fe_data, id, NULL);
        return id;
    }
    if (s->tail)
        s->tail->next = st;
    else
        s->head = st;
    s->tail = st;
    pump(s);
    return id;
}

bool session_busy(const struct session *s)
{
    return s->inflight || s->head || s->ahead;
}

void session_withdraw(struct session *s)
{
    struct stmt **pp = &s->head;
    while (*pp) {
        if (!(*pp)->replay) {
            struct stmt *dead = *pp;
            *pp = dead->next;
            stmt_free(dead);
        } else
            pp = &(*pp)->next;
    }
    s->tail = NULL;
    for (struct stmt *st = s->head; st; st = st->next)
        s->tail = st;
}

bool session_ready(const struct session *s)
{
    return s->ep && s->ep_ready;
}

void session_interrupt(struct session *s)
{
    if (!s->inflight || !s->ep)
        return;
    execproc_interrupt(s->ep, s->inflight->id);
    if (!s->interrupted && s->cfg.grace_s > 0)
        uv_timer_start(&s->grace_timer, on_grace, (uint64_t)(s->cfg.grace_s * 1000), 0);
    s->interrupted = true;
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
    execproc_send(s->ep, &m);
    pump(s);
}

uint64_t session_complete(struct session *s, const char *text, size_t len)
{
    if (!s->ep || !s->ep_ready || s->inflight)
        return 0;
    struct proto_msg m = {.type = PROTO_COMPLETE};
    m.u.complete.id = s->complete_id = ++s->next_id;
    m.u.complete.text = proto_str_n(text, len);
    return execproc_send(s->ep, &m) == 0 ? s->complete_id : 0;
}

/* --- executor events ---------------------------------------------------- */

static void begin_replay(struct session *s)
{
    if (s->cfg.restore != SESSION_RESTORE_REPLAY || !s->journal_len)
        return;
    struct stmt *first = NULL, *last = NULL;
    for (struct stmt *j = s->journal; j; j = j->next) {
        struct stmt *st = stmt_new(++s->next_id, j->src, j->len, true);
        if (!st)
            break;
        st->block = j->block;
        if (last)
            last->next = st;
        else
            first = st;
        last = st;
    }
    if (!first)
        return;
    last->next = s->head;
    s->head = first;
    if (!s->tail)
        s->tail = last;
    s->replay_total = s->journal_len;
    s->replay_done = 0;
}

static void became_ready(struct session *s, const struct proto_ready *r)
{
    s->ep_ready = true;
    /* The replay's own time, not the wait for a new executor to start. */
    if (s->replay_total && !s->replay_done)
        s->replay_started_ms = now_ms();
    if (!s->banner_shown && !s->cfg.quiet && r) {
        char line[512];
        int n = snprintf(line, sizeof line, "aiobox: executor %lld ready, Python %.*s, sandbox: %.*s\n",
                         (long long)r->pid, (int)(r->python.len > 32 ? 32 : r->python.len),
                         r->python.ptr, (int)(r->sandbox.len > 300 ? 300 : r->sandbox.len),
                         r->sandbox.ptr);
        emit(s, 2, 1, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
    }
    s->banner_shown = true;
    pump(s);
    /* Not before now, so that it never competes with the executor the
     * user is waiting for. */
    want_spare(s);
}

static void on_ready(struct execproc *ep, const struct proto_ready *r)
{
    struct session *s = execproc_data(ep);
    if (ep == s->ep)
        became_ready(s, r);
}

static void on_result(struct session *s, const struct proto_result *r)
{
    struct stmt *st = s->inflight;
    if (!st || r->id != st->id) {
        char why[160];
        snprintf(why, sizeof why,
                 "executor sent an invalid frame: result for statement %llu, which is not running",
                 (unsigned long long)r->id);
        execproc_kill(s->ep, why);
        return;
    }
    if (st->replay) {
        if (r->status != PROTO_STATUS_OK) {
            notice(s, "replay stopped at statement %zu of %zu (%.*s); later statements were not restored",
                   s->replay_done + 1, s->replay_total,
                   (int)(r->display.len > 200 ? 200 : r->display.len), r->display.ptr);
            journal_truncate(s, s->replay_done);
            drop_replays(s);
        } else if (++s->replay_done == s->replay_total) {
            notice(s, "restored %zu statement%s in %llu ms", s->replay_done,
                   s->replay_done == 1 ? "" : "s",
                   (unsigned long long)(now_ms() - s->replay_started_ms));
            s->replay_total = 0;
        }
        finish_statement(s);
        pump(s);
        return;
    }
    s->statements_run++;
    if (r->status == PROTO_STATUS_OK && s->cfg.restore == SESSION_RESTORE_REPLAY)
        journal_add(s, st);
    if (r->status == PROTO_STATUS_EXIT) {
        int code = (int)(r->exit_code & 0xff);
        finish_statement_result(s, r);
        s->fe->exit(s->fe_data, code);
        return;
    }
    finish_statement_result(s, r);
    pump(s);
    want_spare(s);
}

/* input(): the executor has dropped every statement it had not started. */
static void on_input(struct session *s, const struct proto_input *in)
{
    bool asked_by_running = s->inflight && in->id == s->inflight->id;
    if (in->id != 0 && !asked_by_running) {
        char why[160];
        snprintf(why, sizeof why,
                 "executor sent an invalid frame: input for statement %llu, which is not running",
                 (unsigned long long)in->id);
        execproc_kill(s->ep, why);
        return;
    }
    unsend_ahead(s);
    if (!asked_by_running && s->inflight) {
        /* Nothing ran: the statement in flight had not started either. */
        struct stmt *st = s->inflight;
        s->inflight = NULL;
        s->interrupted = false;
        stop_statement_timers(s);
        st->next = s->head;
        s->head = st;
        if (!s->tail)
            s->tail = st;
    }
    s->input_id = in->id;
    s->input_pending = true;
    if (s->inflight && s->inflight->replay) {
        /* The user's next lines belong to them, not to a replay: the
         * replayed input() sees end of file and the replay stops there. */
        session_input_reply(s, "", 0, true);
        return;
    }
    s->fe->input(s->fe_data, asked_by_running ? in->id : 0, in->prompt.ptr, in->prompt.len);
}

static void on_message(struct execproc *ep, const struct proto_msg *m)
{
    struct session *s = execproc_data(ep);
    if (ep != s->ep)
        return;
    switch (m->type) {
    case PROTO_OUTPUT: {
        int fd = m->u.output.stream == PROTO_STDERR ? 2 : 1;
        stream_output(s, fd, fd - 1, m->u.output.text.ptr, m->u.output.text.len);
        break;
    }
    case PROTO_RESULT:
        on_result(s, &m->u.result);
        break;
    case PROTO_INPUT:
        on_input(s, &m->u.input);
        break;
    case PROTO_COMPLETIONS:
        if (m->u.completions.id == s->complete_id) {
            s->complete_id = 0;
            s->fe->completions(s->fe_data, m->u.completions.id, m->u.completions.matches,
                               m->u.completions.count);
        }
        break;
    case PROTO_ERROR:
        notice(s, "executor reports an error: %.*s",
               (int)(m->u.error.message.len > 300 ? 300 : m->u.error.message.len),
               m->u.error.message.ptr);
        break;
    default:
        break;  /* interrupt_ack, denied: the death report names the call */
    }
}

static void on_raw(struct execproc *ep, int fd, const char *data, size_t len)
{
    struct session *s = execproc_data(ep);
    if (ep != s->ep && ep != s->spare)
        return;
    stream_output(s, fd, fd + 1, data, len);
}

static void restart(struct session *s)
{
    if (s->closing || s->ep)
        return;
    uv_timer_stop(&s->restart_timer);
    s->restarts++;
    if (s->spare) {
        s->ep = s->spare;
        s->spare = NULL;
        s->ep_ready = s->spare_ready;
        s->ep_since_ms = now_ms();
        s->spare_ready = false;
        execproc_set_callbacks(s->ep, &current_cb);
    } else
        start_executor(s);
    if (!s->ep)
        return;
    begin_replay(s);
    if (s->replay_total)
        notice(s, "started a new executor (restart %u); replaying %zu statement%s", s->restarts,
               s->replay_total, s->replay_total == 1 ? "" : "s");
    else
        notice(s, "started a new executor (restart %u); the session state was lost",
               s->restarts);
    /* A spare not yet ready gets here through on_ready instead. */
    if (s->ep_ready)
        became_ready(s, NULL);
}

static void on_restart_timer(uv_timer_t *t)
{
    restart(t->data);
}

static void on_dead(struct execproc *ep, const char *cause)
{
    struct session *s = execproc_data(ep);
    uint64_t uptime = now_ms() - s->ep_since_ms;

    execproc_destroy(ep);
    s->ep = NULL;
    s->ep_ready = false;
    s->input_pending = false;
    s->deaths++;
    if (s->closing)
        return;
    /* What was sent behind the running statement never ran: the next
     * executor gets it. */
    unsend_ahead(s);
    s->fe->state_lost(s->fe_data);
    notice(s, "%s", cause);
    if (s->inflight) {
        if (s->inflight->replay) {
            notice(s, "replay stopped: the executor died replaying statement %zu of %zu",
                   s->replay_done + 1, s->replay_total);
            journal_truncate(s, s->replay_done);
            drop_replays(s);
        } else
            notice(s, "statement %llu did not complete", (unsigned long long)s->inflight->id);
    }
    /* The failed statement is finished last: the front end shows the
     * prompt then, and what happened to the executor belongs above it. */
    s->rapid_deaths = uptime < STABLE_MS ? s->rapid_deaths + 1 : 1;
    if (s->rapid_deaths >= RAPID_DEATHS_MAX) {
        s->gave_up = true;
        notice(s, "the executor died %d times within %d s of starting; not restarting "
                  "(type :restart to try again)", s->rapid_deaths, STABLE_MS / 1000);
        finish_statement(s);
        fail_queue(s);
        return;
    }
    /* Back-off between rapid deaths; the first restart is immediate. */
    uint64_t delay = s->rapid_deaths <= 1 ? 0 : 100u << (s->rapid_deaths - 2);
    if (delay == 0)
        restart(s);
    else {
        notice(s, "the executor died %d times within %d s of starting; restarting in %llu ms",
               s->rapid_deaths, STABLE_MS / 1000, (unsigned long long)delay);
        uv_timer_start(&s->restart_timer, on_restart_timer, delay, 0);
    }
    finish_statement(s);
    pump(s);
}

static void on_spare_ready(struct execproc *ep, const struct proto_ready *r)
{
    struct session *s = execproc_data(ep);
    (void)r;
    if (ep == s->spare) {
        s->spare_ready = true;
        s->spare_failures = 0;
    }
}

static void on_spare_message(struct execproc *ep, const struct proto_msg *m)
{
    /* A spare has no statement to talk about. */
    (void)m;
    execproc_kill(ep, "spare executor sent a message before it was used");
}

static void on_spare_timer(uv_timer_t *t)
{
    start_spare(t->data);
}

static void on_spare_dead(struct execproc *ep, const char *cause)
{
    struct session *s = execproc_data(ep);
    execproc_destroy(ep);
    if (ep != s->spare)
        return;
    s->spare = NULL;
    s->spare_ready = false;
    if (s->closing)
        return;
    if (++s->spare_failures >= SPARE_FAILURES_MAX) {
        notice(s, "spare executor: %s; giving up on a warm spare", cause);
        return;
    }
    uv_timer_start(&s->spare_timer, on_spare_timer, 100u << s->spare_failures, 0);
}

static const struct execproc_cb current_cb = {on_ready, on_message, on_raw, on_dead};
static const struct execproc_cb spare_cb = {on_spare_ready, on_spare_message, on_raw,
                                            on_spare_dead};

static void start_executor(struct session *s)
{
    char err[512];
    if (execproc_start(&s->ep, s->loop, &s->cfg.exec, &current_cb, s, err, sizeof err)) {
        s->ep = NULL;
        notice(s, "%s", err);
        s->gave_up = true;
        fail_queue(s);
        return;
    }
    s->ep_ready = false;
    s->ep_since_ms = now_ms();
}

static void want_spare(struct session *s)
{
    if (s->closing || s->spare || !s->cfg.standby || !s->ep || !s->ep_ready)
        return;
    if (!session_busy(s)) {
        uv_timer_stop(&s->spare_timer);
        start_spare(s);
    } else if (!uv_is_active((uv_handle_t *)&s->spare_timer))
        uv_timer_start(&s->spare_timer, on_spare_timer, SPARE_BUSY_MS, 0);
}

static void start_spare(struct session *s)
{
    char err[512];
    if (s->closing || s->spare || !s->cfg.standby)
        return;
    if (execproc_start(&s->spare, s->loop, &s->cfg.exec, &spare_cb, s, err, sizeof err)) {
        s->spare = NULL;
        notice(s, "spare executor: %s", err);
    }
    s->spare_ready = false;
}

/* --- commands ----------------------------------------------------------- */

static void cmd_status(struct session *s)
{
    char buf[1024], spare[64];
    int n;
    if (s->ep) {
        long rss = execproc_rss_kib(s->ep);
        uint64_t up = now_ms() - s->ep_since_ms;
        n = snprintf(buf, sizeof buf,
                     "executor: pid %d, %s, up %llu.%03llu s, memory %ld KiB\n",
                     (int)execproc_pid(s->ep), s->ep_ready ? "ready" : "starting",
                     (unsigned long long)(up / 1000), (unsigned long long)(up % 1000), rss);
    } else
        n = snprintf(buf, sizeof buf, "executor: none running%s\n",
                     s->gave_up ? " (restart budget spent; :restart starts one)"
                     : uv_is_active((uv_handle_t *)&s->restart_timer) ? " (restart pending)" : "");
    if (!s->cfg.standby)
        snprintf(spare, sizeof spare, "off");
    else if (s->spare)
        snprintf(spare, sizeof spare, "pid %d, %s", (int)execproc_pid(s->spare),
                 s->spare_ready ? "ready" : "starting");
    else
        snprintf(spare, sizeof spare, "none");
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "policy: %s\nstatement timeout: %g s\n"
                  "restarts: %u (deaths: %u, on request: %u)\nstatements run: %llu\n"
                  "spare: %s\nrestore: %s (%zu statements journaled)\n",
                  s->cfg.exec.policy_name ? s->cfg.exec.policy_name : "none", s->cfg.timeout_s,
                  s->restarts, s->deaths, s->restart_requests,
                  (unsigned long long)s->statements_run, spare,
                  s->cfg.restore == SESSION_RESTORE_REPLAY ? "replay" : "off", s->journal_len);
    s->fe->write(s->fe_data, 1, buf, (size_t)n);
}

static const char help_text[] =
    "Supervisor commands (at the primary prompt):\n"
    "  :status   executor pid, uptime, memory, restarts, policy, statements run\n"
    "  :restart  stop the executor and start a fresh one: the session state and the\n"
    "            replay journal are dropped, and the restart budget starts over\n"
    "  :help     this text\n";

/* A fresh executor on demand, also after the budget gave up. Nothing is
 * replayed: a user asking for a clean slate gets one, and a journal that
 * keeps crashing its executor cannot lock the user out. */
static void cmd_restart(struct session *s)
{
    s->gave_up = false;
    s->rapid_deaths = 0;
    s->restart_requests++;
    journal_truncate(s, 0);
    s->journal_full = false;
    drop_replays(s);
    if (s->ep) {
        struct execproc *old = s->ep;
        s->ep = NULL;
        s->ep_ready = false;
        s->input_pending = false;
        unsend_ahead(s);
        s->fe->state_lost(s->fe_data);
        if (s->inflight) {
            if (!s->inflight->replay)
                notice(s, "statement %llu did not complete", (unsigned long long)s->inflight->id);
            finish_statement(s);
        }
        execproc_destroy(old);
    }
    restart(s);
    pump(s);
}

void session_command(struct session *s, const char *line, size_t len)
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 7 && !memcmp(line, ":status", 7))
        cmd_status(s);
    else if (len == 5 && !memcmp(line, ":help", 5))
        s->fe->write(s->fe_data, 1, help_text, sizeof help_text - 1);
    else if (len == 8 && !memcmp(line, ":restart", 8))
        cmd_restart(s);
    else {
        char msg[200];
        int n = snprintf(msg, sizeof msg, "aiobox: unknown command '%.*s'; type :help\n",
                         (int)(len > 60 ? 60 : len), line);
        emit(s, 2, 1, msg, (size_t)n);
    }
    s->fe->done(s->fe_data, 0, NULL);
}

/* --- life cycle --------------------------------------------------------- */

int session_new(struct session **out, uv_loop_t *loop, const struct session_config *cfg,
                const struct session_frontend *fe, void *fe_data)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->loop = loop;
    s->cfg = *cfg;
    s->fe = fe;
    s->fe_data = fe_data;
    for (int i = 0; i < 4; i++)
        sanitize_init(&s->san[i]);
    uv_timer_t *timers[] = {&s->timeout_timer, &s->grace_timer, &s->restart_timer,
                            &s->spare_timer, &s->fail_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = s;
    }
    s->handles_open = (int)(sizeof timers / sizeof *timers);
    *out = s;
    return 0;
}

void session_start(struct session *s)
{
    start_executor(s);
}

static void on_timer_closed(uv_handle_t *h)
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
    s->closing = true;
    s->closed_cb = closed;
    s->closed_arg = arg;
    if (s->ep)
        execproc_destroy(s->ep);
    if (s->spare)
        execproc_destroy(s->spare);
    s->ep = s->spare = NULL;
    stmt_free(s->inflight);
    s->inflight = NULL;
    unsend_ahead(s);
    while (s->head) {
        struct stmt *st = s->head;
        s->head = st->next;
        stmt_free(st);
    }
    journal_truncate(s, 0);
    uv_close((uv_handle_t *)&s->timeout_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->grace_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->restart_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->spare_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->fail_timer, on_timer_closed);
}
