/* Terminals attached to a named session (aiobox -s NAME, aiobox attach
 * NAME): they share one session as clients of a tmux session share a
 * window. Each sees everything: output, statements another typed (with
 * its prompt), input() answered by any of them, notices. What they see is
 * the session's transcript (transcript.c), numbered, so one that attaches
 * while output flows gets the kept tail and then every byte after it,
 * nothing twice. Their shared state (a statement running, input() waiting,
 * the prompts) is said whenever it changes.
 *
 * A session outlives its terminals: its statements and tasks go on with
 * none attached, and an idle one (no terminal, no statement) ends after
 * its idle timeout, its last output written to the server's log. */
#define _GNU_SOURCE
#include "server_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = {"stdout", "stderr", "echo", "notice", "answer"};
static const char *const input_kinds[] = {"input", "password", "stdin"};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool attach_has(const struct hosted *h, const struct client *c)
{
    for (size_t i = 0; i < h->nattached; i++)
        if (h->attached[i] == c)
            return true;
    return false;
}

static json_t *output_event(const struct hosted *h, const struct transcript_entry *e, size_t skip)
{
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string("output"));
    json_object_set_new(o, "session", json_string(h->name));
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "stream", json_string(kind_names[e->kind]));
    if (e->kind == TX_ECHO || e->kind == TX_ANSWER)
        json_object_set_new(o, "client", json_integer(e->client));
    json_object_set_new(o, "data", reply_text(e->data + skip, e->len - skip));
    return o;
}

void attach_output(struct hosted *h, enum transcript_kind kind, unsigned except,
                   const char *data, size_t len)
{
    const struct transcript_entry *e = transcript_add(&h->tx, kind, except, data, len);
    if (e && h->nattached) {
        /* One encoding for every terminal. */
        json_t *o = output_event(h, e, 0);
        char *line = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        for (size_t i = 0; line && i < h->nattached; i++) {
            struct client *c = h->attached[i];
            if (!c->gone && !(except && c->no == except))
                peer_send(c->peer, line, strlen(line));
        }
        if (!line)
            server_log(h->srv, "session %s: out of memory sending output", h->name);
        free(line);
    }
    transcript_fit(&h->tx);
}

void attach_echo(struct hosted *h, unsigned no, const char *code, size_t len)
{
    static const char ps1[] = ">>> ", ps2[] = "... ";
    const char *p[2] = {h->ps[0] ? h->ps[0] : ps1, h->ps[1] ? h->ps[1] : ps2};
    size_t pl[2] = {h->ps[0] ? h->ps_len[0] : 4, h->ps[1] ? h->ps_len[1] : 4};
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += code[i] == '\n';
    size_t cap = len + 1 + pl[0] + (lines - 1) * pl[1];
    char *buf = malloc(cap);
    if (!buf) {
        server_log(h->srv, "session %s: out of memory echoing a statement", h->name);
        return;
    }
    size_t n = 0, at = 0;
    for (int first = 1; at <= len; first = 0) {
        const char *nl = memchr(code + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - code) : len;
        /* Every line, the empty last one of a block too: the typist's
         * terminal showed its prompt. */
        memcpy(buf + n, p[!first], pl[!first]);
        n += pl[!first];
        memcpy(buf + n, code + at, end - at);
        n += end - at;
        buf[n++] = '\n';
        at = end + 1;
    }
    attach_output(h, TX_ECHO, no, buf, n);
    free(buf);
}

/* The shared state as client c sees it: the asking statement's id is
 * given to the client that sent it only. */
static json_t *state_json(const struct hosted *h, const struct client *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "running", json_boolean(h->running || h->pending));
    if (h->input_waiting) {
        json_t *in = json_object();
        json_object_set_new(in, "prompt", reply_text(h->input_prompt ? h->input_prompt : "",
                                                     h->input_len));
        json_object_set_new(in, "kind", json_string(input_kinds[h->input_kind <= 2
                                                                    ? h->input_kind : 0]));
        json_t *id = json_null();
        for (struct run *r = h->running; r && h->input_stmt; r = r->next)
            if (r->stmt_id == h->input_stmt && r->tty && r->c == c)
                id = json_incref(r->id);
        json_object_set_new(in, "id", id);
        json_object_set_new(in, "serial", json_integer((json_int_t)h->input_serial));
        json_object_set_new(o, "input", in);
    } else
        json_object_set_new(o, "input", json_null());
    json_object_set_new(o, "ps1", h->ps[0] ? reply_text(h->ps[0], h->ps_len[0])
                                           : json_string(">>> "));
    json_object_set_new(o, "ps2", h->ps[1] ? reply_text(h->ps[1], h->ps_len[1])
                                           : json_string("... "));
    return o;
}

void attach_state(struct hosted *h)
{
    bool running = h->running || h->pending;
    if (running == h->said_running && h->input_waiting == h->said_input &&
        h->ps_gen == h->said_ps_gen)
        return;
    h->said_running = running;
    h->said_input = h->input_waiting;
    h->said_ps_gen = h->ps_gen;
    for (size_t i = 0; i < h->nattached; i++) {
        json_t *o = state_json(h, h->attached[i]);
        json_object_set_new(o, "event", json_string("state"));
        json_object_set_new(o, "session", json_string(h->name));
        reply_send(h->attached[i], o);
    }
}

static void set_text(char **p, size_t *plen, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;  /* keeps the old one */
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(*p);
    *p = copy;
    *plen = len;
}

void attach_set_prompts(struct hosted *h, const struct proto_str *ps1, const struct proto_str *ps2)
{
    const struct proto_str *ps[2] = {ps1, ps2};
    for (int i = 0; i < 2; i++) {
        const char *text = ps[i]->ptr ? ps[i]->ptr : "";
        if (h->ps[i] && h->ps_len[i] == ps[i]->len && !memcmp(h->ps[i], text, ps[i]->len))
            continue;
        set_text(&h->ps[i], &h->ps_len[i], text, ps[i]->len);
        h->ps_gen++;
    }
}

void attach_input(struct hosted *h, uint64_t stmt, const char *prompt, size_t len,
                  enum proto_input_kind kind)
{
    h->input_waiting = true;
    h->input_serial++;
    h->input_stmt = stmt;
    h->input_kind = kind;
    set_text(&h->input_prompt, &h->input_len, prompt, len);
    /* A new request, though the last one may have looked the same. */
    h->said_input = false;
    attach_state(h);
}

bool attach_answer(struct hosted *h, struct client *c, const char *text, size_t len, bool eof)
{
    if (!h->input_waiting || !h->s)
        return false;
    h->input_waiting = false;
    if (h->input_kind == PROTO_INPUT_STDIN && !eof) {
        /* sys.stdin reads the line with its newline. */
        char *line = malloc(len + 1);
        if (line) {
            memcpy(line, text, len);
            line[len] = '\n';
            session_input_reply(h->s, line, len + 1, false);
        } else
            session_input_reply(h->s, text, len, false);
        free(line);
    } else
        session_input_reply(h->s, text, len, eof);
    /* The others see the line as its terminal showed it (a password not). */
    bool shown = h->input_kind != PROTO_INPUT_PASSWORD && !eof;
    size_t n = h->input_len + (shown ? len : 0) + 1;
    char *echo = malloc(n);
    if (echo) {
        memcpy(echo, h->input_prompt ? h->input_prompt : "", h->input_len);
        if (shown)
            memcpy(echo + h->input_len, text, len);
        echo[n - 1] = '\n';
        attach_output(h, TX_ANSWER, c->no, echo, n);
        free(echo);
    }
    attach_active(h);
    attach_state(h);
    return true;
}

struct replay_ctx {
    struct hosted *h;
    struct client *c;
};

static void replay_one(void *arg, const struct transcript_entry *e, size_t skip)
{
    struct replay_ctx *r = arg;
    reply_send(r->c, output_event(r->h, e, skip));
}

int attach_add(struct hosted *h, struct client *c, const json_t *id, uint64_t since,
               json_t *extra)
{
    struct client **a = realloc(h->attached, (h->nattached + 1) * sizeof *a);
    if (!a)
        return -ENOMEM;
    h->attached = a;
    struct replay_ctx ctx = {h, c};
    uint64_t missed = transcript_replay(&h->tx, since, replay_one, &ctx);
    json_t *o = extra ? extra : json_object();
    json_object_set(o, "id", (json_t *)id);
    json_object_set_new(o, "event", json_string("attached"));
    json_object_set_new(o, "session", json_string(h->name));
    json_object_set_new(o, "client", json_integer(c->no));
    json_object_set_new(o, "seq", json_integer((json_int_t)h->tx.seq));
    json_object_set_new(o, "missed", json_integer((json_int_t)missed));
    json_object_set_new(o, "state", state_json(h, c));
    reply_send(c, o);
    h->attached[h->nattached++] = c;
    attach_active(h);
    attach_idle_check(h);
    return 0;
}

void attach_remove(struct hosted *h, struct client *c)
{
    for (size_t i = 0; i < h->nattached; i++)
        if (h->attached[i] == c) {
            memmove(h->attached + i, h->attached + i + 1,
                    (h->nattached - i - 1) * sizeof *h->attached);
            h->nattached--;
            attach_active(h);
            attach_idle_check(h);
            break;
        }
    for (struct command_wait *w = h->commands; w; w = w->next)
        if (w->c == c)
            w->c = NULL;
}

void attach_ended(struct hosted *h, const char *why, int exit_code, unsigned by)
{
    for (size_t i = 0; i < h->nattached; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "event", json_string("ended"));
        json_object_set_new(o, "session", json_string(h->name));
        json_object_set_new(o, "reason", reply_text(why, strlen(why)));
        if (exit_code >= 0)
            json_object_set_new(o, "exit_code", json_integer(exit_code));
        if (by)
            json_object_set_new(o, "client", json_integer(by));
        reply_send(h->attached[i], o);
    }
    h->nattached = 0;
}

/* --- commands ------------------------------------------------------------------ */

void attach_command_text(struct hosted *h, const char *text, size_t len)
{
    struct command_wait *w = h->commands;
    if (!w)
        return;
    char *nb = realloc(w->text, w->len + len + 1);
    if (!nb)
        return;
    if (len)
        memcpy(nb + w->len, text, len);
    w->len += len;
    nb[w->len] = '\0';
    w->text = nb;
}

void attach_command_done(struct hosted *h)
{
    struct command_wait *w = h->commands;
    if (!w)
        return;
    h->commands = w->next;
    if (!h->commands)
        h->commands_tail = NULL;
    if (w->c) {
        json_t *o = json_object();
        json_object_set(o, "id", w->id);
        json_object_set_new(o, "event", json_string("command"));
        json_object_set_new(o, "text", reply_text(w->text ? w->text : "", w->len));
        reply_send(w->c, o);
    }
    json_decref(w->id);
    free(w->text);
    free(w);
}

/* --- idleness ------------------------------------------------------------------- */

void attach_active(struct hosted *h)
{
    h->active_ms = now_ms();
}

static bool idle_now(const struct hosted *h)
{
    return !h->closing && h->nattached == 0 && !h->running && !h->pending;
}

/* Writes the kept transcript to the log, so that what the session last
 * said outlives it. */
static void log_transcript(struct hosted *h)
{
    FILE *log = h->srv->log;
    if (!log || !h->tx.head)
        return;
    fprintf(log, "session %s: its last output, as a terminal would show it:\n", h->name);
    int bol = 1;
    for (const struct transcript_entry *e = h->tx.head; e; e = e->next) {
        bool notice = e->kind == TX_NOTICE;
        if (notice && !bol)
            fputc('\n', log);
        for (size_t i = 0; i < e->len; i++) {
            if (bol)
                fputs(notice ? "  | aiobox: " : "  | ", log);
            bol = e->data[i] == '\n';
            fputc(e->data[i], log);
        }
        if (notice) {
            fputc('\n', log);
            bol = 1;
        }
    }
    if (!bol)
        fputc('\n', log);
    fflush(log);
}

static void on_idle_timer(uv_timer_t *t)
{
    struct hosted *h = t->data;
    if (!idle_now(h) || h->opts.idle_timeout_s <= 0)
        return;
    uint64_t limit = (uint64_t)(h->opts.idle_timeout_s * 1000.0);
    uint64_t idle = now_ms() - h->active_ms;
    if (idle + 1 < limit) {
        uv_timer_start(t, on_idle_timer, limit - idle, 0);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "idle for %g s (no terminal attached, no statement running)",
             h->opts.idle_timeout_s);
    server_log(h->srv, "session %s ends: %s", h->name, why);
    log_transcript(h);
    hosted_end(h, why, -1);
}

void attach_idle_check(struct hosted *h)
{
    if (!h->idle_timer)
        return;
    if (!idle_now(h)) {
        uv_timer_stop(h->idle_timer);
        return;
    }
    if (uv_is_active((uv_handle_t *)h->idle_timer))
        return;
    uint64_t limit = (uint64_t)(h->opts.idle_timeout_s * 1000.0);
    uint64_t idle = now_ms() - h->active_ms;
    uv_timer_start(h->idle_timer, on_idle_timer, idle < limit ? limit - idle : 0, 0);
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

void attach_free(struct hosted *h)
{
    if (h->idle_timer) {
        uv_close((uv_handle_t *)h->idle_timer, on_timer_closed);
        h->idle_timer = NULL;
    }
    transcript_clear(&h->tx);
    free(h->attached);
    h->attached = NULL;
    h->nattached = 0;
    free(h->ps[0]);
    free(h->ps[1]);
    free(h->input_prompt);
    h->ps[0] = h->ps[1] = h->input_prompt = NULL;
    while (h->commands) {
        struct command_wait *w = h->commands;
        h->commands = w->next;
        json_decref(w->id);
        free(w->text);
        free(w);
    }
    h->commands_tail = NULL;
}
