/* The engine of a named session hosted by the per-user server: what the
 * terminal front end drives when attached (aiobox -s NAME, aiobox attach
 * NAME). Requests go out as JSON lines (docs/json.md: attach, submit,
 * input, interrupt, complete, command, detach); the server's events come
 * back and become the session_frontend callbacks the front end knows,
 * delivered from the loop as the session engine's are.
 *
 * Output is numbered (seq: bytes of the session's transcript to the end of
 * the event): an event at or below what was seen is not shown again. */
#define _GNU_SOURCE
#include "client_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest line taken from the server once attached. */
#define REMOTE_LINE_MAX ((size_t)64 << 20)
#define ATTACH_TIMEOUT_MS 30000
#define MAX_PENDING 4096

struct remote {
    uv_loop_t *loop;
    uv_pipe_t pipe;
    uv_timer_t kick;           /* engine_start: the replay, from the loop */
    int handles;
    char *name;
    json_int_t client_no;
    pid_t server_pid;          /* from the attach answer; 0: not said */
    const struct engine_frontend *fe;
    void *fe_data;
    struct client_outcome *outcome;
    json_t *early;             /* events before engine_start (the replay, the state) */
    char *in;                  /* a partial line */
    size_t in_len, in_cap;
    uint64_t next_id;
    uint64_t pending[MAX_PENDING];   /* our statements not yet done, in order */
    size_t npending, pending_head;
    uint64_t command_id, complete_id;
    uint64_t last_seq;
    json_int_t input_serial;   /* the input() request last delivered */
    bool input_shown;
    uint64_t input_id;         /* our statement that input() was for, 0: none */
    bool skip_replay;          /* piped: the session's past output is not ours */
    bool running;              /* a statement runs in the session, whoever sent it */
    bool replayed;             /* the output kept from before we came is shown */
    char *ps[2];
    bool started, closing, gone, reading, held, ended;
    void (*closed)(void *arg);
    void *closed_arg;
};

/* --- sending ------------------------------------------------------------------ */

struct wreq {
    uv_write_t req;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    (void)status;  /* a dead server shows as the end of its lines */
    free(req);
}

/* Sends obj (taken) as one line; a failure shows as the connection's end. */
static void send_obj(struct remote *r, json_t *obj)
{
    char *text = obj && !r->gone && !r->closing ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return;
    size_t len = strlen(text);
    struct wreq *w = malloc(sizeof *w + len + 1);
    if (w) {
        memcpy(w->data, text, len);
        w->data[len] = '\n';
        uv_buf_t buf = uv_buf_init(w->data, (unsigned)len + 1);
        if (uv_write(&w->req, (uv_stream_t *)&r->pipe, &buf, 1, on_written) < 0)
            free(w);
    }
    free(text);
}

static json_t *request(struct remote *r, const char *op)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "op", json_string(op));
        json_object_set_new(o, "session", json_string(r->name));
    }
    return o;
}

/* --- events ------------------------------------------------------------------- */

static const char *str_of(const json_t *o, const char *key, size_t *len)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    *len = s ? json_string_length(v) : 0;
    return s;
}

static void set_ps(struct remote *r, int i, const char *s, size_t len)
{
    char *copy = s ? strndup(s, len) : NULL;
    if (!copy)
        return;
    free(r->ps[i]);
    r->ps[i] = copy;
}

static void on_output(struct remote *r, const json_t *o)
{
    json_t *seqv = json_object_get(o, "seq");
    uint64_t seq = json_is_integer(seqv) ? (uint64_t)json_integer_value(seqv) : 0;
    if (seq && seq <= r->last_seq)
        return;  /* seen already */
    if (seq)
        r->last_seq = seq;
    size_t len, slen;
    const char *data = str_of(o, "data", &len), *stream = str_of(o, "stream", &slen);
    if (!data || !stream)
        return;
    if (strcmp(stream, "notice") == 0)
        r->fe->s.notice(r->fe_data, 0, data, len);
    else if (strcmp(stream, "stderr") == 0)
        r->fe->s.output(r->fe_data, 0, 2, false, data, len);
    else if (strcmp(stream, "stdout") == 0 ||
             json_integer_value(json_object_get(o, "client")) != r->client_no)
        /* user code's output; another terminal's statement or answer */
        r->fe->s.output(r->fe_data, 0, 1, false, data, len);
}

static void on_state(struct remote *r, const json_t *st)
{
    /* The first state ends the replay: the prompt may come now. */
    r->replayed = true;
    size_t l1, l2;
    const char *ps1 = str_of(st, "ps1", &l1), *ps2 = str_of(st, "ps2", &l2);
    bool running = json_is_true(json_object_get(st, "running"));
    bool changed = (ps1 && (!r->ps[0] || strcmp(r->ps[0], ps1))) ||
                   (ps2 && (!r->ps[1] || strcmp(r->ps[1], ps2))) || running != r->running;
    r->running = running;
    set_ps(r, 0, ps1, l1);
    set_ps(r, 1, ps2, l2);
    if (changed && r->fe->shared) {
        struct engine_shared sh = {
            .running = running,
            .ps1 = {r->ps[0], r->ps[0] ? strlen(r->ps[0]) : 0},
            .ps2 = {r->ps[1], r->ps[1] ? strlen(r->ps[1]) : 0},
        };
        r->fe->shared(r->fe_data, &sh);
    }
    json_t *in = json_object_get(st, "input");
    if (json_is_object(in)) {
        json_int_t serial = json_integer_value(json_object_get(in, "serial"));
        if (r->input_shown && serial == r->input_serial)
            return;
        r->input_serial = serial;
        r->input_shown = true;
        size_t plen, klen;
        const char *prompt = str_of(in, "prompt", &plen), *kind = str_of(in, "kind", &klen);
        enum proto_input_kind k = PROTO_INPUT_LINE;
        if (kind && strcmp(kind, "password") == 0)
            k = PROTO_INPUT_PASSWORD;
        else if (kind && strcmp(kind, "stdin") == 0)
            k = PROTO_INPUT_STDIN;
        /* The id of our statement that asks; 0: another's, or a task's. */
        json_t *iid = json_object_get(in, "id");
        r->input_id = json_is_integer(iid) ? (uint64_t)json_integer_value(iid) : 0;
        r->fe->s.input(r->fe_data, r->input_id, prompt ? prompt : "", plen, k);
    } else if (r->input_shown) {
        r->input_shown = false;
        if (r->fe->input_gone)
            r->fe->input_gone(r->fe_data);
    }
}

static enum session_status status_of(const char *s, bool *timed_out)
{
    static const struct {
        const char *name;
        enum session_status st;
    } map[] = {
        {"ok", SESSION_OK},           {"error", SESSION_ERROR},
        {"syntax_error", SESSION_ERROR}, {"timeout", SESSION_INTERRUPTED},
        {"interrupted", SESSION_INTERRUPTED}, {"output_limit", SESSION_ERROR},
        {"memory", SESSION_CRASHED},  {"denied", SESSION_CRASHED},
        {"crashed", SESSION_CRASHED}, {"cancelled", SESSION_NOT_RUN},
        {"invalid", SESSION_NOT_RUN},
    };
    *timed_out = s && strcmp(s, "timeout") == 0;
    for (size_t i = 0; s && i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, s) == 0)
            return map[i].st;
    return SESSION_ERROR;
}

/* Ours: the oldest statement not yet done. */
static bool pop_pending(struct remote *r, uint64_t id)
{
    if (!r->npending || r->pending[r->pending_head] != id)
        return false;
    r->pending_head = (r->pending_head + 1) % MAX_PENDING;
    r->npending--;
    return true;
}

static void on_done(struct remote *r, const json_t *o, uint64_t id)
{
    size_t slen, mlen, l1, l2;
    const char *status = str_of(o, "status", &slen), *msg = str_of(o, "message", &mlen);
    const char *ps1 = str_of(o, "ps1", &l1), *ps2 = str_of(o, "ps2", &l2);
    struct proto_result pr = {.id = id, .ps1 = {ps1, l1}, .ps2 = {ps2, l2}};
    struct session_result res = {.why = msg};
    res.status = status_of(status, &res.timed_out);
    json_t *code = json_object_get(o, "exit_code");
    if (json_is_integer(code)) {
        res.status = SESSION_EXIT;
        res.exit_code = (int)json_integer_value(code);
    }
    if (ps1 && ps2) {
        res.r = &pr;
        set_ps(r, 0, ps1, l1);
        set_ps(r, 1, ps2, l2);
    }
    r->fe->s.done(r->fe_data, id, &res);
}

static void end_with(struct remote *r, const char *why, int code)
{
    if (r->ended)
        return;
    r->ended = true;
    r->outcome->detached = false;
    r->fe->s.notice(r->fe_data, 0, why, strlen(why));
    if (r->fe->s.exit)
        r->fe->s.exit(r->fe_data, code);
}

static void on_ended(struct remote *r, const json_t *o)
{
    size_t len;
    const char *reason = str_of(o, "reason", &len);
    char why[512];
    snprintf(why, sizeof why, "session %s ended: %.*s", r->name, (int)len,
             reason ? reason : "(no reason given)");
    json_t *code = json_object_get(o, "exit_code");
    end_with(r, why, json_is_integer(code) ? (int)json_integer_value(code) : 0);
}

static void on_event(struct remote *r, json_t *o)
{
    size_t len;
    const char *ev = str_of(o, "event", &len);
    json_t *idv = json_object_get(o, "id");
    uint64_t id = json_is_integer(idv) ? (uint64_t)json_integer_value(idv) : 0;
    if (!ev || r->ended)
        return;
    if (strcmp(ev, "output") == 0)
        on_output(r, o);
    else if (strcmp(ev, "state") == 0)
        on_state(r, o);
    else if (strcmp(ev, "done") == 0 && id && pop_pending(r, id))
        on_done(r, o, id);
    else if (strcmp(ev, "command") == 0 && id && id == r->command_id) {
        size_t tl;
        const char *text = str_of(o, "text", &tl);
        r->command_id = 0;
        if (text && tl)
            r->fe->s.text(r->fe_data, text, tl);
        struct session_result res = {.status = SESSION_OK};
        r->fe->s.done(r->fe_data, 0, &res);
    } else if (strcmp(ev, "complete") == 0 && id && id == r->complete_id) {
        r->complete_id = 0;
        json_t *m = json_object_get(o, "matches");
        size_t n = json_array_size(m);
        struct proto_str *v = n ? calloc(n, sizeof *v) : NULL;
        size_t k = 0;
        for (size_t i = 0; v && i < n; i++) {
            json_t *s = json_array_get(m, i);
            if (json_is_string(s))
                v[k++] = (struct proto_str){json_string_value(s), json_string_length(s)};
        }
        r->fe->s.completions(r->fe_data, id, v, k,
                             (size_t)json_integer_value(json_object_get(o, "cursor_start")),
                             (size_t)json_integer_value(json_object_get(o, "cursor_end")));
        free(v);
    } else if (strcmp(ev, "ended") == 0)
        on_ended(r, o);
    else if (strcmp(ev, "error") == 0) {
        size_t ml;
        const char *msg = str_of(o, "message", &ml);
        if (!msg)
            msg = "(the session server gave no reason)", ml = strlen(msg);
        if (id && pop_pending(r, id)) {
            struct session_result res = {.status = SESSION_NOT_RUN, .why = msg};
            r->fe->s.notice(r->fe_data, id, msg, ml);
            r->fe->s.done(r->fe_data, id, &res);
        } else if (id && id == r->command_id) {
            r->command_id = 0;
            r->fe->s.notice(r->fe_data, 0, msg, ml);
            struct session_result res = {.status = SESSION_NOT_RUN, .why = msg};
            r->fe->s.done(r->fe_data, 0, &res);
        } else
            r->fe->s.notice(r->fe_data, 0, msg, ml);
    }
}

static void on_line(struct remote *r, const char *line, size_t len)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    if (json_is_object(o))
        on_event(r, o);
    json_decref(o);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct remote *r = h->data;
    (void)suggested;
    if (r->in_cap - r->in_len < 65536) {
        size_t cap = r->in_cap ? 2 * r->in_cap : 131072;
        char *nb = cap <= REMOTE_LINE_MAX + 131072 ? realloc(r->in, cap) : NULL;
        if (!nb) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        r->in = nb;
        r->in_cap = cap;
    }
    *buf = uv_buf_init(r->in + r->in_len, (unsigned)(r->in_cap - r->in_len));
}

/* Whether the server still lives (a zombie does not). */
static bool server_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "re") : NULL;
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')');  /* after the name, which may hold anything */
    char state;
    int ppid, pgrp, sid, tty, tpgid;
    unsigned flags;
    if (!end || sscanf(end + 1, " %c %d %d %d %d %d %u", &state, &ppid, &pgrp, &sid, &tty,
                       &tpgid, &flags) != 7)
        return false;
    /* PF_EXITING (0x4) is set before a dying process's files close: its
     * connection may end before it is a zombie. */
    return state != 'Z' && state != 'X' && !(flags & 0x4);
}

static void lost(struct remote *r, const char *detail)
{
    if (r->gone)
        return;
    r->gone = true;
    if (r->reading)
        uv_read_stop((uv_stream_t *)&r->pipe);
    r->reading = false;
    char why[512];
    /* Gone, or alive and done with us (a terminal that stopped reading
     * while too much waited for it is dropped alone). */
    if (server_alive(r->server_pid))
        snprintf(why, sizeof why,
                 "the session server (pid %d) dropped this terminal (%s); session %s goes "
                 "on: aiobox attach %s comes back",
                 (int)r->server_pid, detail, r->name, r->name);
    else
        snprintf(why, sizeof why,
                 "the session server is gone (%s): session %s and its state are lost", detail,
                 r->name);
    end_with(r, why, 1);
}

/* Every complete line in r->in, in order; the rest kept. */
static void drain_lines(struct remote *r)
{
    size_t start = 0;
    char *nl;
    /* (An empty buffer may not be allocated yet: memchr and memmove take
     * no NULL, even for no bytes.) */
    while (!r->closing && start < r->in_len &&
           (nl = memchr(r->in + start, '\n', r->in_len - start))) {
        size_t len = (size_t)(nl - (r->in + start));
        on_line(r, r->in + start, len);
        start += len + 1;
    }
    if (r->closing)
        return;
    if (start) {
        memmove(r->in, r->in + start, r->in_len - start);
        r->in_len -= start;
    }
    if (r->in_len > REMOTE_LINE_MAX)
        lost(r, "it sent a line over the limit");
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct remote *r = s->data;
    (void)buf;
    if (n == UV_ENOBUFS) {
        lost(r, "out of memory for its lines");
        return;
    }
    if (n < 0) {
        lost(r, n == UV_EOF ? "it closed the connection" : uv_strerror((int)n));
        return;
    }
    r->in_len += (size_t)n;
    drain_lines(r);
}

/* --- the engine --------------------------------------------------------------- */

static int remote_bind(void *impl, const struct engine_frontend *fe, void *fe_data)
{
    struct remote *r = impl;
    r->fe = fe;
    r->fe_data = fe_data;
    return 0;
}

static void on_kick(uv_timer_t *t)
{
    struct remote *r = t->data;
    size_t i;
    json_t *o;
    json_array_foreach(r->early, i, o) {
        if (r->closing)
            break;
        const char *ev = json_string_value(json_object_get(o, "event"));
        if (r->skip_replay && ev && strcmp(ev, "output") == 0)
            continue;
        on_event(r, o);
    }
    json_decref(r->early);
    r->early = NULL;
    if (r->closing || r->gone)
        return;
    if (uv_read_start((uv_stream_t *)&r->pipe, alloc_cb, on_read) < 0) {
        lost(r, "its connection cannot be read");
        return;
    }
    r->reading = true;
    drain_lines(r);  /* what came with the answer to attach */
}

static void remote_start(void *impl)
{
    struct remote *r = impl;
    if (r->started)
        return;
    r->started = true;
    uv_timer_start(&r->kick, on_kick, 0, 0);
}

static uint64_t remote_submit(void *impl, const char *src, size_t len, enum session_mode mode)
{
    struct remote *r = impl;
    uint64_t id = ++r->next_id;
    if (r->npending == MAX_PENDING)
        return id;  /* never from the terminal, which sends one at a time */
    r->pending[(r->pending_head + r->npending++) % MAX_PENDING] = id;
    json_t *o = request(r, "submit");
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "code", json_stringn(src, len));
    json_object_set_new(o, "mode", json_string(mode == SESSION_BLOCK ? "block" : "single"));
    send_obj(r, o);
    return id;
}

static void remote_command(void *impl, const char *line, size_t len)
{
    struct remote *r = impl;
    r->command_id = ++r->next_id;
    json_t *o = request(r, "command");
    json_object_set_new(o, "id", json_integer((json_int_t)r->command_id));
    json_object_set_new(o, "line", json_stringn(line, len));
    send_obj(r, o);
}

static bool remote_busy(const void *impl)
{
    const struct remote *r = impl;
    /* No prompt before the replay, which ends with the first state. */
    return r->npending > 0 || !r->replayed;
}

static void remote_withdraw(void *impl)
{
    struct remote *r = impl;
    /* The server drops, unanswered, our statements behind the one input()
     * is for (all of them when it is none of ours). */
    size_t keep = 0;
    for (size_t i = 0; i < r->npending && r->input_id; i++)
        if (r->pending[(r->pending_head + i) % MAX_PENDING] == r->input_id) {
            keep = i + 1;
            break;
        }
    r->npending = keep;
    send_obj(r, request(r, "withdraw"));
}

static void remote_interrupt(void *impl)
{
    send_obj(impl, request(impl, "interrupt"));
}

static void remote_input_reply(void *impl, const char *text, size_t len, bool eof)
{
    struct remote *r = impl;
    json_t *o = request(r, "input");
    if (eof)
        json_object_set_new(o, "eof", json_true());
    else
        json_object_set_new(o, "value", json_stringn(text, len));
    /* Answered here: a state without input() is not news to this terminal. */
    r->input_shown = false;
    send_obj(r, o);
}

static uint64_t remote_complete(void *impl, const char *code, size_t len, size_t cursor)
{
    struct remote *r = impl;
    r->complete_id = ++r->next_id;
    json_t *o = request(r, "complete");
    json_object_set_new(o, "id", json_integer((json_int_t)r->complete_id));
    json_object_set_new(o, "code", json_stringn(code, len));
    json_object_set_new(o, "cursor", json_integer((json_int_t)cursor));
    send_obj(r, o);
    return r->complete_id;
}

static void remote_hold_output(void *impl, bool hold)
{
    struct remote *r = impl;
    r->held = hold;
    if (!r->started || r->gone || r->closing || r->early)
        return;
    if (hold && r->reading) {
        uv_read_stop((uv_stream_t *)&r->pipe);
        r->reading = false;
    } else if (!hold && !r->reading) {
        r->reading = uv_read_start((uv_stream_t *)&r->pipe, alloc_cb, on_read) == 0;
        if (r->reading)
            drain_lines(r);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct remote *r = h->data;
    if (--r->handles > 0)
        return;
    void (*cb)(void *) = r->closed;
    void *arg = r->closed_arg;
    json_decref(r->early);
    free(r->in);
    free(r->name);
    free(r->ps[0]);
    free(r->ps[1]);
    free(r);
    if (cb)
        cb(arg);
}

static void remote_close(void *impl, void (*closed)(void *arg), void *arg)
{
    struct remote *r = impl;
    if (!r->ended)
        send_obj(r, request(r, "detach"));
    r->outcome->detached = !r->ended;
    r->closing = true;
    r->closed = closed;
    r->closed_arg = arg;
    /* uv_close lets the queued writes (the detach) fail; the server sees
     * the connection end either way, and detaches us then. */
    uv_close((uv_handle_t *)&r->kick, on_handle_closed);
    uv_close((uv_handle_t *)&r->pipe, on_handle_closed);
}

static const struct engine_ops remote_ops = {
    .bind = remote_bind,
    .start = remote_start,
    .submit = remote_submit,
    .command = remote_command,
    .busy = remote_busy,
    .withdraw = remote_withdraw,
    .interrupt = remote_interrupt,
    .input_reply = remote_input_reply,
    .complete = remote_complete,
    .hold_output = remote_hold_output,
    .close = remote_close,
};

/* --- attaching ---------------------------------------------------------------- */

int client_attach(struct engine **out, json_t **attached, uv_loop_t *loop, int fd,
                  const char *name, bool create, json_t *options,
                  struct client_outcome *outcome, char *err, size_t errlen)
{
    json_t *req = json_pack("{s:s,s:s,s:s,s:b}", "id", "attach", "op", "attach", "session",
                            name, "create", create);
    if (req && options)
        json_object_set(req, "options", options);
    json_decref(options);
    if (!req) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = client_send(fd, req, err, errlen);
    struct client_lines lines = {.fd = fd};
    json_t *early = json_array(), *answer = NULL;
    while (rc == 0 && !answer) {
        char *line;
        size_t len;
        if ((rc = client_lines_next(&lines, ATTACH_TIMEOUT_MS, &line, &len, err, errlen)) < 0)
            break;
        json_t *o = json_loadb(line, len, 0, NULL);
        const char *oid = json_string_value(json_object_get(o, "id"));
        if (json_is_object(o) && oid && strcmp(oid, "attach") == 0) {
            answer = o;
            break;
        }
        if (json_is_object(o))
            json_array_append(early, o);
        json_decref(o);
    }
    const char *ev = json_string_value(json_object_get(answer, "event"));
    if (rc == 0 && (!ev || strcmp(ev, "attached") != 0)) {
        const char *msg = json_string_value(json_object_get(answer, "message"));
        if (msg && strncmp(msg, "attach: ", 8) == 0)
            msg += 8;
        snprintf(err, errlen, "%s", msg ? msg : "the session server refused");
        rc = msg && strncmp(msg, "no session", 10) == 0 ? -ENOENT : -EPROTO;
    }
    struct remote *r = rc == 0 ? calloc(1, sizeof *r) : NULL;
    struct engine *e = r ? calloc(1, sizeof *e) : NULL;
    if (rc == 0 && (!r || !e || !(r->name = strdup(name)))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    size_t left = lines.len - lines.start;
    if (rc == 0 && left && !(r->in = malloc(r->in_cap = left + 131072))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0) {
        if (left)
            memcpy(r->in, lines.buf + lines.start, left);
        r->in_len = left;
        r->loop = loop;
        r->outcome = outcome;
        r->client_no = json_integer_value(json_object_get(answer, "client"));
        r->server_pid = (pid_t)json_integer_value(json_object_get(answer, "server_pid"));
        r->last_seq = 0;
        /* The state as of the attachment, after the replay. */
        json_t *st = json_object_get(answer, "state");
        if (json_is_object(st)) {
            json_t *copy = json_deep_copy(st);
            json_object_set_new(copy, "event", json_string("state"));
            json_array_append_new(early, copy);
        }
        r->early = early;
        early = NULL;
        (void)uv_timer_init(loop, &r->kick);
        r->kick.data = r;
        (void)uv_pipe_init(loop, &r->pipe, 0);
        if ((rc = uv_pipe_open(&r->pipe, fd)) < 0) {
            snprintf(err, errlen, "cannot use the connection: %s", uv_strerror(rc));
            r->handles = 2;
            r->closing = true;
            r->pipe.data = r;
            uv_close((uv_handle_t *)&r->kick, on_handle_closed);
            uv_close((uv_handle_t *)&r->pipe, on_handle_closed);
            r = NULL;
        }
    }
    client_lines_free(&lines);
    json_decref(early);
    if (rc < 0) {
        if (r) {
            free(r->in);
            free(r->name);
            json_decref(r->early);
        }
        free(r);
        free(e);
        json_decref(answer);
        close(fd);
        return rc;
    }
    r->pipe.data = r;
    r->handles = 2;
    e->ops = &remote_ops;
    e->impl = r;
    e->detachable = true;
    *out = e;
    *attached = answer;
    return 0;
}

void client_skip_replay(struct engine *e)
{
    ((struct remote *)e->impl)->skip_replay = true;
}
