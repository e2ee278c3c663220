/* execute_request, as ipykernel runs a cell: execute_input with the new
 * execution_count, stream output as it happens, display_data and
 * clear_output as user code asks, execute_result for the value of the
 * last expression, error for an exception, the reply (with user
 * expressions and payloads), then idle. The cell runs in the session as
 * one SESSION_CELL statement; everything the session says comes back
 * here through its callbacks, and reaches iopub under the parent header
 * of the cell that made it: output of a task goes under the cell that
 * created the task, whichever cell runs when it prints.
 *
 * When the executor dies in a cell, the reply is an error, ExecutorDied,
 * naming the cause; the session's own words (what killed it, that the
 * state was lost) go out on stderr before it, as the terminal prints
 * them. The kernel process, its sockets and its heartbeat never notice. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct cell {
    struct request *req;
    struct kernel *k;
    uint64_t stmt;              /* the cell's statement, or 0 (a `name?` cell) */
    uint64_t count;             /* its execution_count */
    bool silent, store_history, allow_stdin, stop_on_error;
    char started[40];           /* reply metadata: when it began */
    json_t *payload;            /* page payloads (help(), name?) */
    char *result_plain;         /* its value's text/plain, for history */
    /* `name?`: the session's inspection id. */
    uint64_t pinfo_query;
    /* user_expressions: evaluated one at a time after the cell succeeded. */
    json_t *expressions;
    void *expr_iter;
    uint64_t expr_stmt;
    json_t *expr_results;
    json_t *error;              /* the reply's error fields, when it failed */
};

/* --- parents ------------------------------------------------------------------- */

static void origin_add(struct kernel *k, uint64_t stmt, json_t *header)
{
    struct origin *o = &k->origins[k->origins_next];
    json_decref(o->header);
    o->stmt = stmt;
    o->header = json_incref(header);
    k->origins_next = (k->origins_next + 1) % ORIGINS_MAX;
}

static const json_t *origin_find(const struct kernel *k, uint64_t stmt)
{
    /* Newest first: the running cell is almost always the one asked for. */
    for (size_t i = 0; i < ORIGINS_MAX; i++) {
        const struct origin *o = &k->origins[(k->origins_next + ORIGINS_MAX - 1 - i) %
                                             ORIGINS_MAX];
        if (!o->header)
            return NULL;
        if (o->stmt == stmt)
            return o->header;
    }
    return NULL;
}

const json_t *execute_parent(struct kernel *k, uint64_t id, uint64_t origin)
{
    const json_t *h = NULL;
    if (origin)
        h = origin_find(k, origin);
    if (!h && id)
        h = origin_find(k, id);
    if (!h && k->shell_current && k->shell_current->cell)
        h = k->shell_current->msg->header;
    return h ? h : k->last_header;
}

void execute_forget_origins(struct kernel *k)
{
    for (size_t i = 0; i < ORIGINS_MAX; i++) {
        json_decref(k->origins[i].header);
        k->origins[i].header = NULL;
    }
    json_decref(k->last_header);
    k->last_header = NULL;
}

/* --- cells --------------------------------------------------------------------- */

static void now_iso(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%06ldZ", ts.tv_nsec / 1000);
}

json_t *execute_metadata(struct kernel *k, const char *status)
{
    char started[40];
    struct cell *c = k->shell_current ? k->shell_current->cell : NULL;
    if (c)
        snprintf(started, sizeof started, "%s", c->started);
    else
        now_iso(started, sizeof started);
    return json_pack("{s:s, s:b, s:s, s:s}", "started", started, "dependencies_met", 1,
                     "engine", k->wire.session, "status", status);
}

void execute_free_cell(struct cell *c)
{
    if (!c)
        return;
    if (c->k->input_cell == c)
        c->k->input_cell = NULL;
    json_decref(c->payload);
    json_decref(c->expressions);
    json_decref(c->expr_results);
    json_decref(c->error);
    free(c->result_plain);
    free(c);
}

static struct cell *current_cell(struct kernel *k)
{
    return k->shell_current ? k->shell_current->cell : NULL;
}

/* A traceback's text as the list of lines Jupyter wants. */
static json_t *lines_of(const char *text, size_t len)
{
    json_t *list = json_array();
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        json_array_append_new(list, json_text(text + start, end - start));
        start = end + 1;
    }
    return list;
}

static bool str_is(struct proto_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static bool mentions(struct proto_str s, const char *needle)
{
    return s.len && memmem(s.ptr, s.len, needle, strlen(needle)) != NULL;
}

static void reply_and_finish(struct cell *c)
{
    struct kernel *k = c->k;
    struct request *req = c->req;
    const char *status = c->error ? "error" : "ok";
    json_t *content = c->error ? json_deep_copy(c->error) : json_pack("{s:s}", "status", "ok");
    if (content) {
        json_object_set_new(content, "execution_count", json_integer((json_int_t)c->count));
        json_object_set_new(content, "user_expressions",
                            c->expr_results ? json_incref(c->expr_results) : json_object());
        json_object_set_new(content, "payload", json_incref(c->payload));
    }
    if (c->store_history && !c->silent) {
        const json_t *code = json_object_get(req->msg->content, "code");
        history_add(k->history, c->count, json_string_value(code), json_string_length(code),
                    c->result_plain);
    }
    request_reply_md(req, "execute_reply", content, execute_metadata(k, status));
    if (c->error && c->stop_on_error && !c->silent)
        requests_abort_queued(k);
    request_done(req);
}

/* user_expressions: the next one, or the reply when none is left. */
static void next_expression(struct cell *c)
{
    struct kernel *k = c->k;
    while (c->expr_iter) {
        const char *name = json_object_iter_key(c->expr_iter);
        const json_t *expr = json_object_iter_value(c->expr_iter);
        if (json_is_string(expr)) {
            /* A cell of its own whose value is the answer. Its output, if
             * any, goes under the cell that asked. */
            struct session_run_opts opts = {.mode = SESSION_CELL, .rich = true};
            c->expr_stmt = session_run(k->s, json_string_value(expr), json_string_length(expr),
                                       &opts);
            origin_add(k, c->expr_stmt, c->req->msg->header);
            return;
        }
        json_object_set_new(c->expr_results, name,
                            error_content("TypeError", "a user expression must be a string",
                                          NULL));
        c->expr_iter = json_object_iter_next(c->expressions, c->expr_iter);
    }
    reply_and_finish(c);
}

static json_t *bundle_of(struct proto_str value)
{
    json_t *b = value.len ? json_loadb(value.ptr, value.len, 0, NULL) : NULL;
    if (b && !json_is_object(b)) {
        json_decref(b);
        b = NULL;
    }
    return b;
}

static void expression_done(struct cell *c, const struct session_result *r)
{
    const char *name = json_object_iter_key(c->expr_iter);
    json_t *result;
    if (r->status == SESSION_OK) {
        json_t *data = r->r ? bundle_of(r->r->value) : NULL;
        if (!data)
            data = json_pack("{s:s}", "text/plain", "None");
        result = json_pack("{s:s, s:o, s:{}}", "status", "ok", "data", data, "metadata");
    } else if (r->status == SESSION_ERROR && r->r) {
        result = error_content("", "", lines_of(r->r->traceback.ptr, r->r->traceback.len));
        json_object_set_new(result, "ename", json_text(r->r->error_type.ptr, r->r->error_type.len));
        json_object_set_new(result, "evalue",
                            json_text(r->r->error_message.ptr, r->r->error_message.len));
    } else
        result = error_content(r->status == SESSION_INTERRUPTED ? "KeyboardInterrupt"
                                                                : "ExecutorDied",
                               r->why ? r->why : "", NULL);
    json_object_set_new(c->expr_results, name, result);
    c->expr_stmt = 0;
    c->expr_iter = json_object_iter_next(c->expressions, c->expr_iter);
    next_expression(c);
}

static void set_error(struct cell *c, const char *ename, size_t elen, const char *evalue,
                      size_t vlen, json_t *traceback)
{
    json_t *e = error_content("", "", traceback);
    json_object_set_new(e, "ename", json_text(ename, elen));
    json_object_set_new(e, "evalue", json_text(evalue, vlen));
    /* Deprecated, as ipykernel still sends it (ipyparallel reads it). */
    json_object_set_new(e, "engine_info",
                        json_pack("{s:s, s:i, s:s}", "engine_uuid", c->k->wire.session,
                                  "engine_id", -1, "method", "execute"));
    c->error = e;
    /* The error output, as IPython shows an exception. */
    json_t *out = json_pack("{s:O, s:O, s:O}", "ename", json_object_get(e, "ename"), "evalue",
                            json_object_get(e, "evalue"), "traceback",
                            json_object_get(e, "traceback"));
    iopub_publish(c->k, "error", c->req->msg->header, out);
}

/* Why the executor died, in words, for the evalue. */
static void death_words(const struct session_result *r, char *out, size_t len)
{
    if (r->why)
        snprintf(out, len, "%s", r->why);
    else if (r->denied_syscall)
        snprintf(out, len, "the sandbox refused the system call %s", r->denied_syscall);
    else if (r->term_signal > 0)
        snprintf(out, len, "the executor was killed by signal %d (%s)", r->term_signal,
                 strsignal(r->term_signal));
    else
        snprintf(out, len, "the executor exited with status %d", r->exit_status);
}

static void cell_done(struct cell *c, const struct session_result *r)
{
    struct kernel *k = c->k;
    const struct proto_result *pr = r->r;
    if (k->input_cell == c)
        k->input_cell = NULL;
    switch (r->status) {
    case SESSION_OK: {
        json_t *data = pr ? bundle_of(pr->value) : NULL;
        if (data && !c->silent) {
            const json_t *plain = json_object_get(data, "text/plain");
            if (json_is_string(plain))
                c->result_plain = strdup(json_string_value(plain));
            iopub_publish(k, "execute_result", c->req->msg->header,
                          json_pack("{s:I, s:o, s:{}}", "execution_count",
                                    (json_int_t)c->count, "data", data, "metadata"));
        } else
            json_decref(data);
        if (json_object_size(c->expressions)) {
            c->expr_results = json_object();
            c->expr_iter = json_object_iter(c->expressions);
            next_expression(c);
            return;
        }
        break;
    }
    case SESSION_EXIT:
        /* exit() in a cell: the client hears it as IPython's exit asks
         * (jupyter console then leaves); the kernel takes a fresh
         * executor when the session says the old one ended (exit()). */
        json_array_append_new(c->payload,
                              json_pack("{s:s, s:b}", "source", "ask_exit", "keepkernel", 0));
        break;
    case SESSION_ERROR:
        if (pr) {
            if (k->permission_hint && (str_is(pr->error_type, "PermissionError") ||
                                            mentions(pr->traceback, "\nPermissionError: "))) {
                char hint[512];
                int n = snprintf(hint, sizeof hint,
                                 "aiobox: denied by the sandbox (policy '%s'); choose another "
                                 "with --policy, or grant a path with "
                                 "--allow-read/--allow-write (aiobox kernel install)\n",
                                 k->cfg->policy_name);
                iopub_stream(k, c->req->msg->header, 2, hint, (size_t)n);
            }
            set_error(c, pr->error_type.ptr, pr->error_type.len, pr->error_message.ptr,
                      pr->error_message.len, lines_of(pr->traceback.ptr, pr->traceback.len));
        } else
            set_error(c, "Exception", 9, "", 0, NULL);
        break;
    case SESSION_INTERRUPTED:
        /* The executor wrote "KeyboardInterrupt" on stderr already. */
        if (r->timed_out) {
            char why[128];
            int n = snprintf(why, sizeof why, "the cell ran longer than its limit of %g s",
                             k->scfg.timeout_s);
            set_error(c, "TimeoutError", 12, why, (size_t)n, NULL);
        } else
            set_error(c, "KeyboardInterrupt", 17, "", 0, NULL);
        break;
    case SESSION_CRASHED: {
        char why[600], line[640];
        if (k->state_loss_unsaid) {
            static const char lost[] =
                "aiobox: the session state (variables, imports, tasks) was lost with the "
                "executor; a new one starts\n";
            iopub_stream(k, c->req->msg->header, 2, lost, sizeof lost - 1);
            k->state_loss_unsaid = false;
        }
        death_words(r, why, sizeof why);
        int n = snprintf(line, sizeof line, "ExecutorDied: %s", why);
        json_t *tb = json_array();
        json_array_append_new(tb, json_text(line, (size_t)n));
        set_error(c, "ExecutorDied", 12, why, strlen(why), tb);
        break;
    }
    case SESSION_NOT_RUN: {
        const char *why = r->why ? r->why : "the cell was not run";
        set_error(c, r->cancelled ? "Cancelled" : "NotRun", r->cancelled ? 9 : 6, why,
                  strlen(why), NULL);
        break;
    }
    }
    reply_and_finish(c);
}

static void pinfo_not_found(struct cell *c, const char *name, size_t len)
{
    char text[256];
    int n = snprintf(text, sizeof text, "Object `%.*s` not found.\n", (int)(len > 128 ? 128 : len),
                     name);
    iopub_stream(c->k, c->req->msg->header, 1, text, (size_t)n);
}

bool execute_inspection(struct kernel *k, uint64_t id, bool found, const char *data,
                        size_t len)
{
    struct cell *c = current_cell(k);
    if (!c || !id || c->pinfo_query != id)
        return false;
    json_t *bundle = found ? json_loadb(data, len, 0, NULL) : NULL;
    if (json_is_object(bundle))
        json_array_append_new(c->payload, json_pack("{s:s, s:o, s:i}", "source", "page", "data",
                                                    bundle, "start", 0));
    else {
        json_decref(bundle);
        const char *code = json_string_value(json_object_get(c->req->msg->content, "code"));
        size_t start, nlen;
        int detail;
        if (pinfo_parse(code, strlen(code), &start, &nlen, &detail))
            pinfo_not_found(c, code + start, nlen);
    }
    reply_and_finish(c);
    return true;
}

/* Reads a boolean field of content: absent gives fallback. */
static bool flag(const json_t *content, const char *key, bool fallback, bool *out)
{
    const json_t *v = json_object_get(content, key);
    if (!v || json_is_null(v)) {
        *out = fallback;
        return true;
    }
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

void execute_request(struct request *req)
{
    struct kernel *k = req->k;
    const json_t *content = req->msg->content;
    if (req->aborted) {
        kernel_log(k, "aborting execute_request %s: a cell before it failed", req->msg->id);
        request_reply_md(req, "execute_reply", json_pack("{s:s}", "status", "aborted"),
                         execute_metadata(k, "aborted"));
        request_done(req);
        return;
    }
    const json_t *code = json_object_get(content, "code");
    const json_t *exprs = json_object_get(content, "user_expressions");
    struct cell *c = calloc(1, sizeof *c);
    if (c) {
        c->req = req;
        c->k = k;
        now_iso(c->started, sizeof c->started);
        c->payload = json_array();
    }
    bool ok = c && c->payload && json_is_string(code) &&
              flag(content, "silent", false, &c->silent) &&
              flag(content, "store_history", !c->silent, &c->store_history) &&
              flag(content, "allow_stdin", false, &c->allow_stdin) &&
              flag(content, "stop_on_error", true, &c->stop_on_error) &&
              (!exprs || json_is_object(exprs) || json_is_null(exprs));
    if (!ok) {
        execute_free_cell(c);
        kernel_log(k, "execute_request %s is malformed", req->msg->id);
        request_reply_md(req, "execute_reply",
                         error_content("InvalidRequest",
                                       "execute_request needs 'code', a string; 'silent', "
                                       "'store_history', 'allow_stdin' and 'stop_on_error' are "
                                       "true or false; 'user_expressions' an object",
                                       NULL),
                         execute_metadata(k, "error"));
        request_done(req);
        return;
    }
    req->cell = c;
    if (json_is_object(exprs))
        c->expressions = json_incref((json_t *)exprs);
    const char *src = json_string_value(code);
    size_t len = json_string_length(code);
    if (c->silent)
        c->count = k->execution_count;
    else {
        c->count = ++k->execution_count;
        iopub_publish(k, "execute_input", req->msg->header,
                      json_pack("{s:O, s:I}", "code", code, "execution_count",
                                (json_int_t)c->count));
    }
    json_decref(k->last_header);
    k->last_header = json_incref(req->msg->header);

    size_t start, nlen;
    int detail;
    if (pinfo_parse(src, len, &start, &nlen, &detail)) {
        size_t points = 0;
        for (size_t i = start; i < start + nlen; i++)
            points += ((unsigned char)src[i] & 0xc0) != 0x80;
        c->pinfo_query = session_inspect(k->s, src + start, nlen, points, detail);
        if (!c->pinfo_query) {
            pinfo_not_found(c, src + start, nlen);
            reply_and_finish(c);
        }
        return;
    }
    struct session_run_opts opts = {.mode = SESSION_CELL, .rich = true, .silent = c->silent};
    c->stmt = session_run(k->s, src, len, &opts);
    origin_add(k, c->stmt, req->msg->header);
}

/* --- stdin --------------------------------------------------------------------- */

void execute_input_reply(struct kernel *k, struct jmsg *m)
{
    struct cell *c = k->input_cell;
    if (!c) {
        kernel_log(k, "input_reply %s with no input() waiting: dropped", m->id);
        return;
    }
    const json_t *value = json_object_get(m->content, "value");
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    size_t len = json_is_string(value) ? json_string_length(value) : 0;
    if (!json_is_string(value))
        kernel_log(k, "input_reply %s has no 'value' string: answering with an empty line",
                   m->id);
    k->input_cell = NULL;
    if (k->input_kind == PROTO_INPUT_STDIN) {
        /* A read of sys.stdin keeps its newline. */
        char *line = malloc(len + 2);
        if (line) {
            memcpy(line, text, len);
            line[len] = '\n';
            session_input_reply(k->s, line, len + 1, false);
            free(line);
            return;
        }
    }
    session_input_reply(k->s, text, len, false);
}

/* --- the session's callbacks ------------------------------------------------------- */

static void on_output_from(void *fe, uint64_t id, uint64_t origin, int fd, bool raw,
                           const char *data, size_t len)
{
    struct kernel *k = fe;
    (void)raw;
    iopub_stream(k, execute_parent(k, id, origin), fd == 2 ? 2 : 1, data, len);
}

static void on_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    on_output_from(fe, id, 0, fd, raw, data, len);
}

static void on_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct kernel *k = fe;
    char line[1200];
    int n = snprintf(line, sizeof line, "aiobox: %.*s\n", (int)(len > 1100 ? 1100 : len), text);
    kernel_log(k, "%.*s", (int)(len > 1100 ? 1100 : len), text);
    /* The session's restart notice says it ("...; the session state was
     * lost"); if its words change, the cell says it again, which is
     * better than not at all. */
    if (memmem(text, len, "state was lost", 14))
        k->state_loss_unsaid = false;
    iopub_stream(k, execute_parent(k, id, 0), 2, line, (size_t)n);
}

static void on_text(void *fe, const char *text, size_t len)
{
    kernel_log(fe, "%.*s", (int)(len > 1000 ? 1000 : len), text);
}

static void on_done(void *fe, uint64_t id, const struct session_result *r)
{
    struct kernel *k = fe;
    struct cell *c = current_cell(k);
    if (id == 0)
        return;   /* a ':restart' the kernel asked for */
    if (c && c->stmt == id)
        cell_done(c, r);
    else if (c && c->expr_stmt == id)
        expression_done(c, r);
    else
        kernel_log(k, "statement %llu ended with no cell waiting for it",
                   (unsigned long long)id);
}

static void on_input(void *fe, uint64_t id, const char *prompt, size_t len,
                     enum proto_input_kind kind)
{
    struct kernel *k = fe;
    struct cell *c = current_cell(k);
    if (!c || !id || c->stmt != id || !c->allow_stdin) {
        /* Nobody to ask: end of input at once, as ipykernel refuses
         * input() when the client does not take stdin. */
        char msg[200];
        int n = snprintf(msg, sizeof msg,
                         "aiobox: input() has no one to ask: %s\n",
                         c && c->stmt == id ? "this client does not take input (allow_stdin is "
                                              "false)"
                                            : "no cell is running");
        iopub_stream(k, execute_parent(k, id, 0), 2, msg, (size_t)n);
        session_input_reply(k->s, "", 0, true);
        return;
    }
    iopub_flush(k);
    k->input_cell = c;
    k->input_kind = kind;
    json_t *content = json_pack("{s:o, s:b}", "prompt", json_text(prompt, len), "password",
                                kind == PROTO_INPUT_PASSWORD);
    struct jmsg *m = c->req->msg;
    int rc = wire_send(&k->wire, kchannels_socket(k->ch, KCHAN_STDIN), m->idents, m->nidents,
                       NULL, "input_request", m->header, NULL, content);
    if (rc < 0) {
        kernel_log(k, "could not send input_request: %s; answering end of input",
                   zmq_strerror(-rc));
        k->input_cell = NULL;
        session_input_reply(k->s, "", 0, true);
    }
}

static void on_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                           size_t start, size_t end)
{
    requests_completions(fe, id, m, n, start, end);
}

static void on_inspection(void *fe, uint64_t id, bool found, const char *data, size_t len)
{
    requests_inspection(fe, id, found, data, len);
}

static void on_display(void *fe, uint64_t id, const struct proto_display *d)
{
    struct kernel *k = fe;
    json_t *data = json_loadb(d->data.ptr, d->data.len, 0, NULL);
    json_t *meta = json_loadb(d->metadata.ptr, d->metadata.len, 0, NULL);
    if (!json_is_object(data) || !json_is_object(meta)) {
        kernel_log(k, "display from statement %llu is not a MIME bundle: dropped",
                   (unsigned long long)id);
        json_decref(data);
        json_decref(meta);
        return;
    }
    json_t *transient = json_object();
    if (d->display_id.len)
        json_object_set_new(transient, "display_id",
                            json_text(d->display_id.ptr, d->display_id.len));
    iopub_publish(k, d->update ? "update_display_data" : "display_data",
                  execute_parent(k, id, d->has_origin ? d->origin : 0),
                  json_pack("{s:o, s:o, s:o}", "data", data, "metadata", meta, "transient",
                            transient));
}

static void on_clear_output_from(void *fe, uint64_t id, uint64_t origin, bool wait)
{
    struct kernel *k = fe;
    iopub_publish(k, "clear_output", execute_parent(k, id, origin),
                  json_pack("{s:b}", "wait", wait));
}

static void on_clear_output(void *fe, uint64_t id, bool wait)
{
    on_clear_output_from(fe, id, 0, wait);
}

static void on_page(void *fe, uint64_t id, const char *text, size_t len)
{
    struct kernel *k = fe;
    struct cell *c = current_cell(k);
    if (c && c->stmt == id && id) {
        /* One pager payload a cell, the last, as IPython's page(). */
        json_array_clear(c->payload);
        json_array_append_new(c->payload,
                              json_pack("{s:s, s:{s:o}, s:i}", "source", "page", "data",
                                        "text/plain", json_text(text, len), "start", 0));
        return;
    }
    iopub_stream(k, execute_parent(k, id, 0), 1, text, len);
}

static void on_user_exit(void *fe, int code)
{
    struct kernel *k = fe;
    kernel_log(k, "exit(%d) in a cell: starting a fresh executor", code);
    session_command(k->s, ":restart", 8);
}

static void on_state_lost(void *fe)
{
    struct kernel *k = fe;
    kernel_log(k, "the executor is gone, and the session state with it");
    k->state_loss_unsaid = true;
}

const struct session_frontend execute_frontend = {
    .output = on_output,
    .notice = on_notice,
    .text = on_text,
    .done = on_done,
    .input = on_input,
    .completions = on_completions,
    .inspection = on_inspection,
    .display = on_display,
    .clear_output = on_clear_output,
    .page = on_page,
    .exit = on_user_exit,
    .state_lost = on_state_lost,
    .output_from = on_output_from,
    .clear_output_from = on_clear_output_from,
};
