/* The server's state: clients, the sessions it hosts, runs and the
 * executor slots they share, and its life cycle.
 *
 * Slots: at most max_executors sessions execute runs at once (a named
 * session holds one while it has runs submitted; an isolated run holds one
 * from its executor's start to its answer). Sessions waiting for a slot
 * get one in the order they asked. Runs on one session go in order; runs
 * on different sessions run in parallel. */
#define _GNU_SOURCE
#include "server_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Ready executors kept for each kind, at most: each holds some 10 MiB of
 * its own beside what it shares with the fork server. */
#define POOL_AHEAD_MAX 4

const char *const run_status_names[RUN_STATUS_COUNT] = {
    "ok", "error", "syntax_error", "timeout", "memory", "output_limit",
    "denied", "crashed", "interrupted", "cancelled", "invalid",
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void server_log(struct server *srv, const char *fmt, ...)
{
    if (!srv->log)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    va_list ap;
    va_start(ap, fmt);
    fprintf(srv->log, "%s aiobox[%d]: ", when, (int)getpid());
    vfprintf(srv->log, fmt, ap);
    fputc('\n', srv->log);
    fflush(srv->log);
    va_end(ap);
}

uint64_t server_uptime_ms(const struct server *srv)
{
    return now_ms() - srv->started_ms;
}

const struct server_policy *server_policy(const struct server *srv, const char *name)
{
    if (!name)
        return &srv->cfg->policies[0];
    for (size_t i = 0; i < srv->cfg->npolicies; i++)
        if (strcmp(srv->cfg->policies[i].name, name) == 0)
            return &srv->cfg->policies[i];
    return NULL;
}

/* --- runs ---------------------------------------------------------------- */

void run_free(struct run *run)
{
    if (!run)
        return;
    json_decref(run->id);
    free(run->code);
    free(run->stdin_data);
    free(run->out.data);
    free(run->err.data);
    free(run);
}

static struct run *list_find(struct run *list, uint64_t stmt_id)
{
    for (struct run *r = list; r; r = r->next)
        if (r->stmt_id == stmt_id)
            return r;
    return NULL;
}

static void list_remove(struct run **head, struct run **tail, struct run *run)
{
    struct run *prev = NULL;
    for (struct run *r = *head; r; prev = r, r = r->next) {
        if (r != run)
            continue;
        if (prev)
            prev->next = r->next;
        else
            *head = r->next;
        if (*tail == r)
            *tail = prev;
        r->next = NULL;
        return;
    }
}

static void list_append(struct run **head, struct run **tail, struct run *run)
{
    run->next = NULL;
    if (*tail)
        (*tail)->next = run;
    else
        *head = run;
    *tail = run;
}

struct run *run_find(struct server *srv, const json_t *id, struct client *c)
{
    for (struct hosted *h = srv->hosted; h; h = h->next) {
        struct run *lists[2] = {h->running, h->pending};
        for (int i = 0; i < 2; i++)
            for (struct run *r = lists[i]; r; r = r->next)
                if ((!c || r->c == c) && json_equal(r->id, (json_t *)id))
                    return r;
    }
    return NULL;
}

/* --- slots --------------------------------------------------------------- */

static void hosted_submit(struct hosted *h);
static void isolated_begin(struct hosted *h);

static void slot_wanted(struct hosted *h)
{
    struct server *srv = h->srv;
    if (h->has_slot || h->closing)
        return;
    for (size_t i = 0; i < srv->nslot_queue; i++)
        if (srv->slot_queue[i] == h)
            return;
    if (srv->busy_slots < srv->cfg->max_executors) {
        srv->busy_slots++;
        h->has_slot = true;
        if (h->name)
            hosted_submit(h);
        else
            isolated_begin(h);
        return;
    }
    if (srv->nslot_queue == srv->slot_queue_cap) {
        size_t cap = srv->slot_queue_cap ? 2 * srv->slot_queue_cap : 16;
        struct hosted **q = realloc(srv->slot_queue, cap * sizeof *q);
        if (!q) {
            server_log(srv, "out of memory queueing a session for an executor slot");
            return;
        }
        srv->slot_queue = q;
        srv->slot_queue_cap = cap;
    }
    srv->slot_queue[srv->nslot_queue++] = h;
}

static void slot_unqueue(struct hosted *h)
{
    struct server *srv = h->srv;
    for (size_t i = 0; i < srv->nslot_queue; i++)
        if (srv->slot_queue[i] == h) {
            memmove(srv->slot_queue + i, srv->slot_queue + i + 1,
                    (srv->nslot_queue - i - 1) * sizeof *srv->slot_queue);
            srv->nslot_queue--;
            return;
        }
}

static void slot_release(struct hosted *h)
{
    struct server *srv = h->srv;
    if (!h->has_slot)
        return;
    h->has_slot = false;
    srv->busy_slots--;
    while (srv->nslot_queue && srv->busy_slots < srv->cfg->max_executors) {
        struct hosted *next = srv->slot_queue[0];
        memmove(srv->slot_queue, srv->slot_queue + 1,
                (srv->nslot_queue - 1) * sizeof *srv->slot_queue);
        srv->nslot_queue--;
        srv->busy_slots++;
        next->has_slot = true;
        if (next->name)
            hosted_submit(next);
        else
            isolated_begin(next);
    }
}

/* --- session events ------------------------------------------------------- */

static struct run *run_of(struct hosted *h, uint64_t id)
{
    return id ? list_find(h->running, id) : NULL;
}

static void fe_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    struct hosted *h = fe;
    (void)raw;
    struct run *run = run_of(h, id);
    /* A named session's output is its transcript, whoever asked. */
    if (h->name)
        attach_output(h, fd == 2 ? TX_STDERR : TX_STDOUT, 0, data, len);
    if (run) {
        if (!run->tty)
            reply_output(run, fd, data, len);
    } else
        reply_background(h, fd, data, len);
}

static void fe_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct hosted *h = fe;
    struct run *run = run_of(h, id);
    if (run && !run->message[0])
        snprintf(run->message, sizeof run->message, "%.*s", (int)len, text);
    else if (!run && h->name)
        reply_notice(h, text, len);
    if (h->name)
        attach_output(h, TX_NOTICE, 0, text, len);
    server_log(h->srv, "session %s: %.*s", h->name ? h->name : "(isolated)", (int)len, text);
}

static void fe_text(void *fe, const char *text, size_t len)
{
    /* What a ':' command prints, for the client that asked. */
    attach_command_text(fe, text, len);
}

static void hosted_finish_isolated(struct hosted *h);
static void echo_next(struct hosted *h);

static void fe_done(void *fe, uint64_t id, const struct session_result *r)
{
    struct hosted *h = fe;
    if (id == 0) {
        attach_command_done(h);
        return;
    }
    struct run *run = list_find(h->running, id);
    if (!run)
        return;
    list_remove(&h->running, &h->running_tail, run);
    if (h->input_waiting && h->input_stmt == id)
        h->input_waiting = false;  /* it ended while input() waited */
    if (h->name && r->r)
        attach_set_prompts(h, &r->r->ps1, &r->r->ps2);
    bool exited = r->status == SESSION_EXIT;
    unsigned by = run->tty && run->c ? run->c->no : 0;
    if (run->withdrawn)
        h->srv->runs_by_status[RUN_CANCELLED]++;
    else if (run->tty)
        reply_submitted(run, r);
    else
        reply_done(run, r);
    if (r->status != SESSION_NOT_RUN && !run->withdrawn)
        h->statements++;
    run_free(run);
    h->runs_done++;
    h->used_ms = now_ms();
    echo_next(h);
    if (!h->name) {
        hosted_finish_isolated(h);
        return;
    }
    if (exited && h->opts.terminal) {
        /* exit() ends a REPL: the session goes, as the terminal's would. */
        char why[64];
        snprintf(why, sizeof why, "exit(%d) ended it", r->exit_code);
        h->exit_client = by;
        hosted_end(h, why, r->exit_code);
        server_maybe_finish(h->srv);
        return;
    }
    if (!h->running)
        slot_release(h);
    if (h->pending)
        slot_wanted(h);
    attach_active(h);
    attach_state(h);
    attach_idle_check(h);
    server_maybe_finish(h->srv);
}

static void fe_input(void *fe, uint64_t id, const char *prompt, size_t len,
                     enum proto_input_kind kind)
{
    struct hosted *h = fe;
    struct run *run = run_of(h, id);
    /* A terminal's statement, or a background task of a session that
     * terminals use: any attached terminal may answer, now or when one
     * attaches. */
    if (h->name && ((run && run->tty) || (!run && (h->opts.terminal || h->nattached)))) {
        attach_input(h, run ? id : 0, prompt, len, kind);
        return;
    }
    if (!run) {
        /* A background task's input(): nobody can answer it. */
        session_input_reply(h->s, "", 0, true);
        return;
    }
    if (run->has_stdin) {
        /* The stdin given with the run: line by line, then end of file. */
        if (run->stdin_pos >= run->stdin_len) {
            session_input_reply(h->s, "", 0, true);
            return;
        }
        const char *start = run->stdin_data + run->stdin_pos;
        size_t left = run->stdin_len - run->stdin_pos;
        const char *nl = memchr(start, '\n', left);
        size_t n = nl ? (size_t)(nl - start) : left;
        run->stdin_pos += n + (nl != NULL);
        /* A read of sys.stdin keeps the newline; input() does not. */
        session_input_reply(h->s, start, kind == PROTO_INPUT_STDIN && nl ? n + 1 : n, false);
        return;
    }
    if (!run->c || run->cancelled) {
        session_input_reply(h->s, "", 0, true);
        return;
    }
    run->input_waiting = true;
    run->input_kind = kind;
    reply_input_request(run, prompt, len, kind);
}

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                           size_t start, size_t end);

static void fe_exit(void *fe, int code)
{
    /* SystemExit ends a run (its done() said so), not the session. */
    (void)fe; (void)code;
}

static void fe_state_lost(void *fe)
{
    struct hosted *h = fe;
    /* An isolated run's executor is never replaced: its death ends it. */
    if (!h->name)
        return;
    h->epoch++;
    h->srv->restarts++;
    /* The new executor's prompts are the defaults; no input() waits. */
    struct proto_str ps1 = {">>> ", 4}, ps2 = {"... ", 4};
    attach_set_prompts(h, &ps1, &ps2);
    h->input_waiting = false;
    attach_state(h);
}

static const struct session_frontend hosted_ops = {
    .output = fe_output,
    .notice = fe_notice,
    .text = fe_text,
    .done = fe_done,
    .input = fe_input,
    .completions = fe_completions,
    .exit = fe_exit,
    .state_lost = fe_state_lost,
};

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                           size_t start, size_t end)
{
    ops_completions(fe, id, m, n, start, end);
}

/* --- hosted sessions ------------------------------------------------------ */

void hosted_opts_free(struct hosted_opts *o)
{
    for (size_t i = 0; i < o->n_allow_read; i++)
        free(o->allow_read[i]);
    for (size_t i = 0; i < o->n_allow_write; i++)
        free(o->allow_write[i]);
    free(o->allow_read);
    free(o->allow_write);
    o->allow_read = o->allow_write = NULL;
    o->n_allow_read = o->n_allow_write = 0;
    free((char *)o->own.name);
    free((char *)o->own.path);
    o->own.name = o->own.path = NULL;
}

static void hosted_free(struct hosted *h)
{
    attach_free(h);
    hosted_opts_free(&h->opts);
    free(h->watchers);
    free(h->name);
    free(h);
}

static struct hosted *hosted_new(struct server *srv, const char *name,
                                 const struct server_policy *pol)
{
    struct hosted *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (name && !(h->name = strdup(name))) {
        free(h);
        return NULL;
    }
    h->srv = srv;
    h->policy = pol;
    h->created_ms = h->used_ms = h->active_ms = now_ms();
    h->opts = (struct hosted_opts){
        .policy = pol,
        .timeout_s = -1,
        .grace_s = -1,
        .restore = -1,
        .standby = -1,
        .idle_timeout_s = srv->cfg->idle_timeout_s,
        .replay_bytes = srv->cfg->replay_bytes ? srv->cfg->replay_bytes : SERVER_REPLAY_BYTES,
    };
    transcript_init(&h->tx, h->opts.replay_bytes);
    return h;
}

/* Whether pol is one the server was started with (the fork server has
 * those), not a policy file of a session's own. */
static bool server_owns_policy(const struct server *srv, const struct server_policy *pol)
{
    return pol >= srv->cfg->policies && pol < srv->cfg->policies + srv->cfg->npolicies;
}

static int hosted_start(struct hosted *h, bool isolated)
{
    const struct hosted_opts *o = &h->opts;
    struct session_config cfg = h->srv->cfg->session;
    bool own_grants = o->n_allow_read || o->n_allow_write;
    cfg.exec.policy_path = h->policy->path;
    cfg.exec.policy_name = h->policy->name;
    /* The fork server's children get its policies and grants; anything
     * else is spawned. */
    if (server_owns_policy(h->srv, h->policy) && !own_grants) {
        cfg.exec.forkserver = h->srv->forkserver;
        cfg.exec.policy_index = (unsigned)(h->policy - h->srv->cfg->policies);
    } else
        cfg.exec.forkserver = NULL;
    if (own_grants) {
        cfg.exec.allow_read = (const char *const *)o->allow_read;
        cfg.exec.n_allow_read = o->n_allow_read;
        cfg.exec.allow_write = (const char *const *)o->allow_write;
        cfg.exec.n_allow_write = o->n_allow_write;
    }
    if (o->timeout_s >= 0)
        cfg.timeout_s = o->timeout_s;
    else if (cfg.timeout_s < 0)
        cfg.timeout_s = h->policy->timeout_s;
    cfg.output_cap = o->output_cap_set ? o->output_cap : h->policy->output_cap;
    cfg.idle_cpu = h->policy->idle_cpu;
    if (o->grace_s >= 0)
        cfg.grace_s = o->grace_s;
    if (o->restore >= 0)
        cfg.restore = (enum session_restore)o->restore;
    if (o->standby >= 0)
        cfg.standby = o->standby;
    cfg.quiet = true;
    /* Its executors come ready from the pool: no spare of its own. */
    cfg.pool = h->srv->pool;
    if (cfg.pool)
        cfg.standby = false;
    if (isolated) {
        /* Nothing else ever runs in it: no spare, no restart, no replay. */
        cfg.standby = false;
        cfg.no_restart = true;
        cfg.restore = SESSION_RESTORE_NONE;
    }
    int rc = session_new(&h->s, h->srv->loop, &cfg, &hosted_ops, h);
    if (rc < 0)
        return rc;
    if (!isolated && o->idle_timeout_s > 0) {
        h->idle_timer = malloc(sizeof *h->idle_timer);
        if (h->idle_timer) {
            (void)uv_timer_init(h->srv->loop, h->idle_timer);
            h->idle_timer->data = h;
        } else
            server_log(h->srv, "session %s: out of memory for its idle timer; it will not "
                       "end when idle", h->name);
    }
    session_start(h->s);
    return 0;
}

static void link_hosted(struct server *srv, struct hosted *h)
{
    h->next = srv->hosted;
    srv->hosted = h;
}

static void unlink_hosted(struct hosted *h)
{
    struct hosted **pp = &h->srv->hosted;
    while (*pp && *pp != h)
        pp = &(*pp)->next;
    if (*pp)
        *pp = h->next;
}

struct hosted *hosted_find(struct server *srv, const char *name)
{
    for (struct hosted *h = srv->hosted; h; h = h->next)
        if (h->name && !h->closing && strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

struct hosted *hosted_open(struct server *srv, const char *name, const struct server_policy *pol,
                           struct hosted_opts *opts, char *err, size_t errlen)
{
    struct hosted *h = hosted_new(srv, name, pol);
    if (!h) {
        if (opts)
            hosted_opts_free(opts);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (opts) {
        h->opts = *opts;
        if (!h->opts.replay_bytes)
            h->opts.replay_bytes = SERVER_REPLAY_BYTES;
        h->tx.cap = h->opts.replay_bytes;
        /* A policy file of its own lives in h's copy of the options. */
        h->policy = h->opts.policy ? h->opts.policy : &h->opts.own;
    }
    int rc = hosted_start(h, false);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start session %s: %s", name, strerror(-rc));
        hosted_free(h);
        return NULL;
    }
    link_hosted(srv, h);
    server_log(srv, "session %s opened (policy %s)", name, h->policy->name);
    return h;
}

void hosted_watch(struct hosted *h, struct client *c)
{
    for (size_t i = 0; i < h->nwatchers; i++)
        if (h->watchers[i] == c)
            return;
    struct client **w = realloc(h->watchers, (h->nwatchers + 1) * sizeof *w);
    if (!w)
        return;  /* it only misses background output */
    h->watchers = w;
    h->watchers[h->nwatchers++] = c;
}

static void hosted_unwatch(struct hosted *h, struct client *c)
{
    for (size_t i = 0; i < h->nwatchers; i++)
        if (h->watchers[i] == c) {
            h->watchers[i] = h->watchers[--h->nwatchers];
            return;
        }
}

static void on_session_closed(void *arg)
{
    struct hosted *h = arg;
    struct server *srv = h->srv;
    hosted_free(h);
    srv->sessions_closing--;
    server_maybe_finish(srv);
    server_maybe_idle(srv);
}

/* Ends h: its waiting runs are answered cancelled, and so are those that
 * were running (their executor goes with the session). */
void hosted_close(struct hosted *h)
{
    if (h->closing)
        return;
    h->closing = true;
    slot_unqueue(h);
    ops_forget(h->srv, NULL, h);
    unlink_hosted(h);
    if (h->name && h->nattached)
        attach_ended(h, "it was closed", -1, 0);
    if (h->idle_timer)
        uv_timer_stop(h->idle_timer);
    struct run *lists[2] = {h->running, h->pending};
    h->running = h->running_tail = h->pending = h->pending_tail = NULL;
    for (int i = 0; i < 2; i++) {
        struct run *r = lists[i];
        while (r) {
            struct run *next = r->next;
            struct session_result res = {.status = SESSION_NOT_RUN, .cancelled = true,
                                         .why = "the session was closed"};
            if (r->withdrawn)
                ;
            else if (r->tty)
                reply_submitted(r, &res);
            else
                reply_done(r, &res);
            run_free(r);
            r = next;
        }
    }
    while (h->commands)
        attach_command_done(h);
    slot_release(h);
    if (h->name)
        server_log(h->srv, "session %s closed", h->name);
    if (h->s) {
        h->srv->sessions_closing++;
        session_close(h->s, on_session_closed, h);
        h->s = NULL;
    } else
        hosted_free(h);
}

void hosted_end(struct hosted *h, const char *why, int exit_code)
{
    if (h->closing)
        return;
    if (h->name)
        attach_ended(h, why, exit_code, h->exit_client);
    hosted_close(h);
}

static void hosted_finish_isolated(struct hosted *h)
{
    struct server *srv = h->srv;
    hosted_close(h);
    server_maybe_finish(srv);
}

/* Submits every waiting run to the session, whose own queue keeps them in
 * order (and sends them ahead to the executor). */
static void hosted_submit(struct hosted *h)
{
    while (h->pending) {
        struct run *run = h->pending;
        h->pending = run->next;
        if (!h->pending)
            h->pending_tail = NULL;
        run->stmt_id = session_run(h->s, run->code, run->len, &run->opts);
        list_append(&h->running, &h->running_tail, run);
    }
}

static void isolated_begin(struct hosted *h)
{
    int rc = hosted_start(h, true);
    if (rc < 0) {
        struct run *run = h->pending;
        h->pending = h->pending_tail = NULL;
        struct session_result res = {.status = SESSION_NOT_RUN,
                                     .why = "cannot start an executor: out of memory"};
        if (run) {
            reply_done(run, &res);
            run_free(run);
        }
        hosted_close(h);
        return;
    }
    hosted_submit(h);
}

/* A named session's statements are shown to its terminals as their turn
 * comes, just before their output: the oldest not done, unless its
 * client took it back. (Echoed when sent, statements sent ahead would
 * show before the output of those ahead of them.) */
static void echo_next(struct hosted *h)
{
    struct run *run = h->running ? h->running : h->pending;
    if (!h->name || !run || run->echoed || run->withdrawn)
        return;
    run->echoed = true;
    attach_echo(h, run->c ? run->c->no : 0, run->code, run->len);
}

void run_start(struct server *srv, struct hosted *h, const struct server_policy *pol,
               struct run *run)
{
    srv->runs_total++;
    if (!h) {
        h = hosted_new(srv, NULL, pol);
        if (!h) {
            reply_error(run->c, run->id, "run: out of memory");
            run_free(run);
            return;
        }
        link_hosted(srv, h);
    }
    run->h = h;
    list_append(&h->pending, &h->pending_tail, run);
    echo_next(h);
    /* A terminal's session is a REPL: its statements never wait for an
     * executor slot (its executor is there, and a statement may run for
     * days); slots share the CPUs among machine clients' runs. */
    if (h->has_slot || h->opts.terminal)
        hosted_submit(h);
    else
        slot_wanted(h);
    if (h->name) {
        attach_active(h);
        attach_state(h);
        attach_idle_check(h);
    }
}

void run_submit(struct hosted *h, struct run *run)
{
    run->tty = true;
    run_start(h->srv, h, h->policy, run);
}

void run_withdraw(struct hosted *h, struct client *c)
{
    for (struct run *r = h->pending, *rn; r; r = rn) {
        rn = r->next;
        if (r->c != c || !r->tty)
            continue;
        list_remove(&h->pending, &h->pending_tail, r);
        h->srv->runs_by_status[RUN_CANCELLED]++;
        run_free(r);
    }
    /* The statement asking for input goes on; those behind it never
     * started (input() sent them back to the session's queue), and their
     * done() is swallowed. */
    for (struct run *r = h->running; r && h->s; r = r->next)
        if (r->c == c && r->tty && !r->withdrawn && r->stmt_id != h->input_stmt) {
            r->withdrawn = true;
            session_cancel(h->s, r->stmt_id);
        }
}

void run_input(struct run *run, const char *text, size_t len, bool eof)
{
    if (!run->input_waiting || !run->h->s)
        return;
    run->input_waiting = false;
    if (run->input_kind == PROTO_INPUT_STDIN && !eof) {
        /* The client sends a line; sys.stdin reads it with its newline. */
        char *line = malloc(len + 1);
        if (line) {
            memcpy(line, text, len);
            line[len] = '\n';
            session_input_reply(run->h->s, line, len + 1, false);
            free(line);
            return;
        }
    }
    session_input_reply(run->h->s, text, len, eof);
}

void run_interrupt(struct run *run)
{
    struct hosted *h = run->h;
    for (struct run *r = h->pending; r; r = r->next)
        if (r == run) {
            /* It never started: answered now, as cancelled. */
            list_remove(&h->pending, &h->pending_tail, run);
            struct session_result res = {.status = SESSION_NOT_RUN, .cancelled = true,
                                         .why = "cancelled before it started"};
            reply_done(run, &res);
            run_free(run);
            if (!h->name && !h->pending && !h->running)
                hosted_finish_isolated(h);
            return;
        }
    if (!h->s)
        return;
    if (h->running == run)
        session_interrupt(h->s);
    else
        session_cancel(h->s, run->stmt_id);
}

/* --- clients --------------------------------------------------------------- */

static void client_gone(struct peer *p, const char *why)
{
    struct client *c = peer_data(p);
    struct server *srv = c->srv;
    if (c->gone)
        return;
    c->gone = true;
    ops_forget(srv, c, NULL);
    if (why && !srv->stdio)
        server_log(srv, "client (pid %d) dropped: %s", (int)peer_pid(p), why);
    /* Its runs are cancelled: a run nobody waits for must not hold an
     * executor, nor leave the next run blocked behind it. First every one
     * is marked (closing a session may start another, which must already
     * know), then each session is dealt with. */
    for (struct hosted *h = srv->hosted; h; h = h->next) {
        hosted_unwatch(h, c);
        if (h->name)
            attach_remove(h, c);
        struct run *lists[2] = {h->pending, h->running};
        for (int i = 0; i < 2; i++)
            for (struct run *r = lists[i]; r; r = r->next)
                if (r->c == c) {
                    r->c = NULL;
                    /* A terminal's statement outlives the terminal: the
                     * session, not its client, owns it. */
                    r->cancelled = !r->tty;
                }
    }
    for (struct hosted *h = srv->hosted, *next; h; h = next) {
        next = h->next;
        bool orphaned = (h->pending && !h->pending->c) || (h->running && !h->running->c);
        if (!h->name) {
            /* An isolated run (its one run): its executor goes now. */
            if (orphaned)
                hosted_close(h);
            continue;
        }
        for (struct run *r = h->pending, *rn; r; r = rn) {
            rn = r->next;
            if (r->c || r->tty)
                continue;
            list_remove(&h->pending, &h->pending_tail, r);
            srv->runs_by_status[RUN_CANCELLED]++;
            run_free(r);
        }
        for (struct run *r = h->running; r && h->s; r = r->next) {
            if (r->c || r->tty)
                continue;
            if (r->input_waiting) {
                r->input_waiting = false;
                session_input_reply(h->s, "", 0, true);
            }
            /* Its done() follows from the loop, counted as cancelled. */
            session_cancel(h->s, r->stmt_id);
        }
    }
    if (srv->stdio) {
        srv->input_ended = true;
        server_maybe_finish(srv);
        return;
    }
    struct client **pp = &srv->clients;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    peer_free(p);
    free(c);
    server_maybe_idle(srv);
}

/* The end of stdin is the end of the requests, as for the piped REPL:
 * what was asked is still answered, then aiobox ends. */
static void client_input_ended(struct peer *p)
{
    struct client *c = peer_data(p);
    c->srv->input_ended = true;
    server_maybe_finish(c->srv);
}

static void client_line(struct peer *p, const char *line, size_t len)
{
    ops_handle(peer_data(p), line, len);
}

static void client_overlong(struct peer *p, size_t len)
{
    struct client *c = peer_data(p);
    reply_error(c, NULL, "request line of %zu bytes is over the limit of %zu; it was ignored",
                len, PEER_LINE_MAX);
}

static void client_pressure(struct peer *p, bool high)
{
    struct client *c = peer_data(p);
    /* stdout stalls: every session waits for it, as a REPL would. */
    for (struct hosted *h = c->srv->hosted; h; h = h->next)
        if (h->s)
            session_hold_output(h->s, high);
}

static const struct peer_cb client_cb = {
    .line = client_line,
    .overlong = client_overlong,
    .pressure = client_pressure,
    .input_ended = client_input_ended,
    .gone = client_gone,
};

static struct client *client_new(struct server *srv)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = srv;
    c->no = ++srv->next_client_no;
    c->next = srv->clients;
    srv->clients = c;
    return c;
}

/* --- connections ------------------------------------------------------------ */

static void on_connection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    if (status < 0) {
        server_log(srv, "accepting a client: %s", uv_strerror(status));
        return;
    }
    struct client *c = client_new(srv);
    if (!c) {
        server_log(srv, "out of memory accepting a client");
        return;
    }
    int rc = peer_accept(&c->peer, srv->loop, l, &client_cb, c);
    if (rc < 0) {
        server_log(srv, "accepting a client: %s", uv_strerror(rc));
        srv->clients = c->next;
        free(c);
        return;
    }
    if (!listen_allowed(srv, peer_uid(c->peer))) {
        server_log(srv, "refused a client of uid %d (pid %d): not allowed",
                   (int)peer_uid(c->peer), (int)peer_pid(c->peer));
        reply_error(c, NULL, "uid %d may not use this server", (int)peer_uid(c->peer));
        peer_drop(c->peer, "uid not allowed");
    }
}

/* --- life cycle ------------------------------------------------------------- */

void server_maybe_finish(struct server *srv)
{
    if (srv->stdio && srv->input_ended && !srv->stopping) {
        for (struct hosted *h = srv->hosted; h; h = h->next)
            if (h->running || h->pending)
                return;
        srv->stopping = true;
        while (srv->hosted)
            hosted_close(srv->hosted);
    }
    if (srv->stopping && !srv->hosted && srv->sessions_closing == 0)
        uv_stop(srv->loop);
}

static void stop(struct server *srv, int code)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    srv->exit_code = code;
    char why[80];
    if (code > 128)
        snprintf(why, sizeof why, "the session server was ended by signal %d", code - 128);
    else
        snprintf(why, sizeof why, "the session server ended");
    while (srv->hosted)
        hosted_end(srv->hosted, why, -1);
    if (srv->linger_open) {
        uv_close((uv_handle_t *)&srv->linger, NULL);
        srv->linger_open = false;
    }
    if (srv->listening) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        srv->listening = false;
        if (srv->listen_path)
            unlink(srv->listen_path);
    }
    server_maybe_finish(srv);
}

/* A server started on demand (by aiobox -s) lives while it holds a
 * session or serves a client: then it ends, and its socket goes. */
void server_maybe_idle(struct server *srv)
{
    if (!srv->cfg->on_demand || srv->stopping || srv->clients)
        return;
    if (srv->linger_open && uv_is_active((uv_handle_t *)&srv->linger))
        return;
    for (struct hosted *h = srv->hosted; h; h = h->next)
        if (h->name && !h->closing)
            return;
    server_log(srv, "no session and no client left: ending");
    stop(srv, 0);
}

static void on_linger(uv_timer_t *t)
{
    server_maybe_idle(t->data);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct server *srv = h->data;
    server_log(srv, "ending on signal %d", sig);
    stop(srv, 128 + sig);
}

static int server_init(struct server *srv, uv_loop_t *loop, const struct server_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    srv->started_ms = now_ms();
    srv->lock_fd = -1;
    srv->log = stderr;
    if (cfg->log_path && !(srv->log = fopen(cfg->log_path, "ae"))) {
        fprintf(stderr, "aiobox: log %s: %s\n", cfg->log_path, strerror(errno));
        return -errno;
    }
    if (cfg->forkserver) {
        const char *paths[16];
        size_t n = cfg->npolicies < 16 ? cfg->npolicies : 16;
        for (size_t i = 0; i < n; i++)
            paths[i] = cfg->policies[i].path;
        struct forkserver_config fc = {
            .executor_path = cfg->session.exec.executor_path,
            .policies = paths,
            .npolicies = n,
            .allow_read = cfg->session.exec.allow_read,
            .n_allow_read = cfg->session.exec.n_allow_read,
            .allow_write = cfg->session.exec.allow_write,
            .n_allow_write = cfg->session.exec.n_allow_write,
        };
        char err[512];
        /* Without one, executors are spawned: slower, as good. */
        if (forkserver_start(&srv->forkserver, loop, &fc, err, sizeof err) < 0)
            server_log(srv, "%s; executors will be spawned", err);
    }
    /* As many ready executors as can run at once, for each kind asked
     * for: a burst of new sessions or isolated runs finds them started. */
    unsigned ahead = cfg->max_executors < POOL_AHEAD_MAX ? cfg->max_executors : POOL_AHEAD_MAX;
    int prc = execpool_new(&srv->pool, loop, ahead);
    if (prc < 0)
        return prc;
    uv_signal_t *sigs[2] = {&srv->sigterm, &srv->sigint};
    int nums[2] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        (void)uv_signal_init(loop, sigs[i]);
        sigs[i]->data = srv;
        int rc = uv_signal_start(sigs[i], on_signal, nums[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void server_fini(struct server *srv)
{
    /* Every session is closed; run until their executors and the pool's
     * are reaped (the fork server says when its have ended). */
    execpool_close(srv->pool);
    srv->pool = NULL;
    while (srv->sessions_closing > 0 || execproc_live() > 0)
        uv_run(srv->loop, UV_RUN_ONCE);
    forkserver_close(srv->forkserver);
    srv->forkserver = NULL;
    while (srv->clients) {
        struct client *c = srv->clients;
        srv->clients = c->next;
        peer_free(c->peer);
        free(c);
    }
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_run(srv->loop, UV_RUN_NOWAIT);
    free(srv->slot_queue);
    free(srv->listen_path);
    if (srv->lock_fd >= 0)
        close(srv->lock_fd);
    if (srv->log && srv->log != stderr)
        fclose(srv->log);
}

int server_run_stdio(uv_loop_t *loop, const struct server_config *cfg)
{
    /* Static: a read of stdin may still be pending in the thread pool at
     * the end, writing into the peer this owns. */
    static struct server srv;
    if (server_init(&srv, loop, cfg) < 0)
        return 1;
    srv.stdio = true;
    /* Notices go nowhere a client reads; stderr is the user's. */
    struct client *c = client_new(&srv);
    if (!c || peer_open_stdio(&c->peer, loop, &client_cb, c) < 0) {
        fputs("aiobox: cannot set up stdin and stdout\n", stderr);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!srv.stopping)
        stop(&srv, srv.exit_code);
    /* What is queued for stdout goes out first, unless a signal ended us. */
    while (srv.exit_code == 0 && !peer_is_gone(c->peer) && peer_pending_output(c->peer) > 0)
        uv_run(loop, UV_RUN_ONCE);
    server_fini(&srv);
    return srv.exit_code;
}

int server_run_listen(uv_loop_t *loop, const struct server_config *cfg, const char *path)
{
    static struct server srv;
    if (server_init(&srv, loop, cfg) < 0)
        return 1;
    if (listen_open(&srv, path) < 0) {
        server_fini(&srv);
        return 1;
    }
    srv.listener.data = &srv;
    int rc = uv_listen((uv_stream_t *)&srv.listener, 64, on_connection);
    if (rc < 0) {
        fprintf(stderr, "aiobox: listening on %s: %s\n", path, uv_strerror(rc));
        stop(&srv, 1);
        server_fini(&srv);
        return 1;
    }
    server_log(&srv, "serving on %s%s", path, cfg->on_demand ? " (on demand)" : "");
    if (cfg->on_demand) {
        /* Ends unless its first client comes within the linger time. */
        (void)uv_timer_init(loop, &srv.linger);
        srv.linger.data = &srv;
        srv.linger_open = true;
        uv_timer_start(&srv.linger, on_linger, SERVER_LINGER_MS, 0);
    }
    if (cfg->ready_fd >= 0) {
        /* Whoever started us waits for this line before connecting. */
        static const char ready[] = "ready\n";
        if (write(cfg->ready_fd, ready, sizeof ready - 1) < 0)
            server_log(&srv, "telling the starter we are ready: %s", strerror(errno));
        close(cfg->ready_fd);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    server_fini(&srv);
    return srv.exit_code;
}
