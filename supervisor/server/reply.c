/* The lines the server sends: answers, events, errors (docs/json.md). */
#define _GNU_SOURCE
#include "server_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* A run's collected output never grows past this, whatever its cap. */
#define TEXT_MAX ((size_t)64 << 20)

void reply_send(struct client *c, json_t *obj)
{
    if (!obj)
        return;
    if (c && !c->gone) {
        char *line = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
        if (line) {
            peer_send(c->peer, line, strlen(line));
            free(line);
        } else
            server_log(c->srv, "out of memory encoding an answer");
    }
    json_decref(obj);
}

json_t *reply_text(const char *data, size_t len)
{
    if (utf8_valid(data, len, NULL))
        return json_stringn_nocheck(data, len);
    char *clean = malloc(3 * len + 1);
    if (!clean)
        return NULL;
    size_t n = utf8_sanitize(data, len, clean);
    json_t *s = json_stringn_nocheck(clean, n);
    free(clean);
    return s;
}

void reply_error(struct client *c, const json_t *id, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    json_object_set(o, "id", id ? (json_t *)id : json_null());
    json_object_set_new(o, "event", json_string("error"));
    json_object_set_new(o, "message", reply_text(msg, strlen(msg)));
    reply_send(c, o);
}

static json_t *event(const struct run *run, const char *name)
{
    json_t *o = json_object();
    json_object_set(o, "id", run->id);
    json_object_set_new(o, "event", json_string(name));
    return o;
}

static void text_append(struct text *t, const char *data, size_t len)
{
    if (t->len + len > TEXT_MAX)
        len = t->len < TEXT_MAX ? TEXT_MAX - t->len : 0;
    if (!len)
        return;
    if (t->len + len > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + len)
            cap *= 2;
        char *nb = realloc(t->data, cap);
        if (!nb)
            return;
        t->data = nb;
        t->cap = cap;
    }
    memcpy(t->data + t->len, data, len);
    t->len += len;
}

void reply_output(struct run *run, int fd, const char *data, size_t len)
{
    if (!run->stream) {
        text_append(fd == 2 ? &run->err : &run->out, data, len);
        return;
    }
    json_t *o = event(run, fd == 2 ? "stderr" : "stdout");
    json_object_set_new(o, "data", reply_text(data, len));
    reply_send(run->c, o);
}

void reply_background(struct hosted *h, int fd, const char *data, size_t len)
{
    for (size_t i = 0; i < h->nwatchers; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_null());
        json_object_set_new(o, "event", json_string(fd == 2 ? "stderr" : "stdout"));
        if (h->name)
            json_object_set_new(o, "session", json_string(h->name));
        json_object_set_new(o, "data", reply_text(data, len));
        reply_send(h->watchers[i], o);
    }
}

void reply_notice(struct hosted *h, const char *text, size_t len)
{
    for (size_t i = 0; i < h->nwatchers; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_null());
        json_object_set_new(o, "event", json_string("notice"));
        if (h->name)
            json_object_set_new(o, "session", json_string(h->name));
        json_object_set_new(o, "message", reply_text(text, len));
        reply_send(h->watchers[i], o);
    }
}

void reply_input_request(struct run *run, const char *prompt, size_t len,
                         enum proto_input_kind kind)
{
    static const char *const kinds[] = {"input", "password", "stdin"};
    json_t *o = event(run, "input_request");
    json_object_set_new(o, "prompt", reply_text(prompt, len));
    json_object_set_new(o, "kind", json_string(kinds[kind <= PROTO_INPUT_STDIN ? kind : 0]));
    reply_send(run->c, o);
}

static json_t *str_field(struct proto_str s)
{
    return reply_text(s.ptr ? s.ptr : "", s.len);
}

/* The text/plain of the value's MIME bundle (a JSON object as text). */
static json_t *plain_value(struct proto_str bundle)
{
    if (!bundle.len)
        return json_null();
    json_t *b = json_loadb(bundle.ptr, bundle.len, 0, NULL);
    json_t *plain = json_is_object(b) ? json_object_get(b, "text/plain") : NULL;
    json_t *v = json_is_string(plain) ? json_incref(plain) : json_null();
    json_decref(b);
    return v;
}

static enum run_status status_of(const struct run *run, const struct session_result *r)
{
    const struct proto_result *pr = r->r;
    switch (r->status) {
    case SESSION_OK:
        return RUN_OK;
    case SESSION_EXIT:
        return r->exit_code == 0 ? RUN_OK : RUN_ERROR;
    case SESSION_ERROR:
        if (pr && pr->compile_error)
            return RUN_SYNTAX_ERROR;
        if (pr && proto_str_eq(pr->error_type, "MemoryError"))
            return RUN_MEMORY;
        if (pr && pr->denied.len)
            return RUN_DENIED;
        return RUN_ERROR;
    case SESSION_INTERRUPTED:
        if (r->timed_out)
            return RUN_TIMEOUT;
        if (r->output_capped && run->opts.stop_at_cap)
            return RUN_OUTPUT_LIMIT;
        if (r->cancelled || run->cancelled)
            return RUN_CANCELLED;
        return RUN_INTERRUPTED;
    case SESSION_CRASHED:
        if (r->timed_out)
            return RUN_TIMEOUT;
        if (r->output_capped && run->opts.stop_at_cap)
            return RUN_OUTPUT_LIMIT;
        if (r->cancelled || run->cancelled)
            return RUN_CANCELLED;
        if (r->denied_syscall)
            return RUN_DENIED;
        return RUN_CRASHED;
    case SESSION_NOT_RUN:
        if (r->cancelled || run->cancelled)
            return RUN_CANCELLED;
        return RUN_INVALID;
    }
    return RUN_CRASHED;
}

void reply_done(struct run *run, const struct session_result *r)
{
    struct hosted *h = run->h;
    struct server *srv = h->srv;
    const struct proto_result *pr = r->r;
    enum run_status st = status_of(run, r);
    srv->runs_by_status[st]++;
    if (!run->c)
        return;  /* nobody to tell */

    json_t *o = event(run, "done");
    json_object_set_new(o, "status", json_string(run_status_names[st]));
    if (h->name)
        json_object_set_new(o, "session", json_string(h->name));
    json_object_set_new(o, "value", pr ? plain_value(pr->value) : json_null());
    if (!run->stream) {
        json_object_set_new(o, "stdout", reply_text(run->out.data ? run->out.data : "",
                                                    run->out.len));
        json_object_set_new(o, "stderr", reply_text(run->err.data ? run->err.data : "",
                                                    run->err.len));
    }
    if (pr && pr->error_type.len) {
        json_t *e = json_object();
        json_object_set_new(e, "type", str_field(pr->error_type));
        json_object_set_new(e, "message", str_field(pr->error_message));
        json_object_set_new(e, "traceback", str_field(pr->traceback));
        json_object_set_new(o, "error", e);
    }
    if (r->status == SESSION_EXIT)
        json_object_set_new(o, "exit_code", json_integer(r->exit_code));
    if (r->status == SESSION_CRASHED) {
        if (r->term_signal > 0)
            json_object_set_new(o, "signal", json_integer(r->term_signal));
        else if (r->exit_status >= 0)
            json_object_set_new(o, "exit_code", json_integer(r->exit_status));
    }
    if (st == RUN_DENIED)
        json_object_set_new(o, "syscall", r->denied_syscall ? json_string(r->denied_syscall)
                                                            : str_field(pr->denied));
    const char *msg = r->why ? r->why : run->message[0] ? run->message : NULL;
    if (msg)
        json_object_set_new(o, "message", reply_text(msg, strlen(msg)));
    json_object_set_new(o, "wall_ms", json_real((double)r->wall_us / 1000.0));
    json_object_set_new(o, "cpu_ms", json_real(pr ? (double)pr->cpu_us / 1000.0 : 0.0));
    json_object_set_new(o, "max_rss_kb", json_integer(pr ? (json_int_t)pr->max_rss_kb : 0));
    /* The state is lost from a replacement until a run has finished in
     * the new executor: the run that crashed says so, and so does the
     * next, the first that could trip over it. */
    bool lost = h->name && h->epoch != h->answered_epoch;
    if (r->status != SESSION_CRASHED && r->status != SESSION_NOT_RUN)
        h->answered_epoch = h->epoch;
    json_object_set_new(o, "state_lost", json_boolean(lost));
    json_object_set_new(o, "epoch", json_integer(h->epoch));
    reply_send(run->c, o);
}

/* A terminal's statement ended: what its REPL needs (the status, the
 * prompts user code set, exit()); its output went out as the session's. */
void reply_submitted(struct run *run, const struct session_result *r)
{
    struct hosted *h = run->h;
    enum run_status st = status_of(run, r);
    h->srv->runs_by_status[st]++;
    if (!run->c)
        return;
    json_t *o = event(run, "done");
    json_object_set_new(o, "status", json_string(run_status_names[st]));
    if (r->r) {
        json_object_set_new(o, "ps1", str_field(r->r->ps1));
        json_object_set_new(o, "ps2", str_field(r->r->ps2));
    }
    if (r->status == SESSION_EXIT)
        json_object_set_new(o, "exit_code", json_integer(r->exit_code));
    if (r->why)
        json_object_set_new(o, "message", reply_text(r->why, strlen(r->why)));
    reply_send(run->c, o);
}
