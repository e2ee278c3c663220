/* The requests clients send, and their replies. Shell requests are
 * answered one at a time, in the order they came, as ipykernel answers
 * them: a complete_request typed while a cell runs waits for the cell.
 * Control requests (interrupt, shutdown, kernel_info) are answered at
 * once. Every request is bracketed by status busy and idle on iopub with
 * its header as parent. A request the kernel does not know is logged and
 * answered with an error, so that no client waits for ever. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"

/* Shell requests waiting beyond this: the shell channel is no longer read
 * (its clients wait in zmq's queues) until half of them are answered. */
#define SHELL_QUEUE_MAX 1000

json_t *error_content(const char *ename, const char *evalue, json_t *traceback)
{
    return json_pack("{s:s, s:o, s:o, s:o}", "status", "error", "ename", json_text(ename, strlen(ename)),
                     "evalue", json_text(evalue, strlen(evalue)), "traceback",
                     traceback ? traceback : json_array());
}

void request_reply_md(struct request *req, const char *type, json_t *content,
                      json_t *metadata)
{
    struct kernel *k = req->k;
    struct jmsg *m = req->msg;
    if (!content) {
        json_decref(metadata);
        kernel_log(k, "out of memory: the %s to %s was lost", type, m->id);
        return;
    }
    /* Whatever the request printed goes out before its reply. */
    iopub_flush(k);
    enum kchan c = m->chan == KCHAN_CONTROL ? KCHAN_CONTROL : KCHAN_SHELL;
    int rc = wire_send(&k->wire, kchannels_socket(k->ch, c), m->idents, m->nidents, NULL, type,
                       m->header, metadata, content);
    if (rc < 0)
        kernel_log(k, "could not send the %s to %s: %s", type, m->id, zmq_strerror(-rc));
}

void request_reply(struct request *req, const char *type, json_t *content)
{
    request_reply_md(req, type, content, NULL);
}

static void request_free(struct request *req)
{
    if (req->cell)
        execute_free_cell(req->cell);
    jmsg_free(req->msg);
    free(req);
}

static void shell_pump(struct kernel *k);

void request_done(struct request *req)
{
    struct kernel *k = req->k;
    iopub_status(k, req->msg->header, "idle");
    if (k->shell_current == req)
        k->shell_current = NULL;
    request_free(req);
    shell_pump(k);
}

/* The reply type of a request type: x_request -> x_reply. */
static void reply_type(const char *type, char *out, size_t len)
{
    size_t n = strlen(type);
    if (n > 8 && strcmp(type + n - 8, "_request") == 0)
        snprintf(out, len, "%.*s_reply", (int)(n - 8), type);
    else
        snprintf(out, len, "%s_reply", type);
}

/* --- the handlers -------------------------------------------------------------- */

static json_t *language_info(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i}, s:s}", "name", "python", "version",
                     KERNEL_PYTHON_FULL_VERSION, "mimetype", "text/x-python", "file_extension",
                     ".py", "pygments_lexer", "python3", "codemirror_mode", "name", "python",
                     "version", 3, "nbconvert_exporter", "python");
}

static void kernel_info(struct request *req)
{
    struct kernel *k = req->k;
    char banner[512];
    snprintf(banner, sizeof banner,
             "aiobox %s: Python %s in a sandbox (policy %s). Top-level await; tasks keep "
             "running between cells; if the executor dies, the cell says why and a fresh one "
             "takes over.\n",
             AIOBOX_VERSION, KERNEL_PYTHON_FULL_VERSION, k->cfg->policy_name);
    json_t *content = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:[{s:s, s:s}], s:b}", "status", "ok",
        "protocol_version", KERNEL_PROTOCOL_VERSION, "implementation", "aiobox",
        "implementation_version", AIOBOX_VERSION, "language_info", language_info(), "banner",
        banner, "help_links", "text", "Python", "url", "https://docs.python.org/3.11/",
        "debugger", 0);
    request_reply(req, "kernel_info_reply", content);
    request_done(req);
}

static void comm_info(struct request *req)
{
    request_reply(req, "comm_info_reply", json_pack("{s:s, s:{}}", "status", "ok", "comms"));
    request_done(req);
}

static void comm_open(struct request *req)
{
    /* No comm targets here: the comm is closed at once, as ipykernel
     * closes one whose target it does not have. */
    struct kernel *k = req->k;
    const char *id = json_string_value(json_object_get(req->msg->content, "comm_id"));
    const char *target = json_string_value(json_object_get(req->msg->content, "target_name"));
    kernel_log(k, "comm_open for target '%.64s': aiobox has no comm targets; closing it",
               target ? target : "?");
    if (id)
        iopub_publish(k, "comm_close", req->msg->header,
                      json_pack("{s:s, s:{}}", "comm_id", id, "data"));
    request_done(req);
}

static void connect_request(struct request *req)
{
    const struct connfile *cf = &req->k->cf;
    request_reply(req, "connect_reply",
                  json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "status", "ok", "shell_port",
                            cf->port[KCHAN_SHELL], "iopub_port", cf->port[KCHAN_IOPUB],
                            "stdin_port", cf->port[KCHAN_STDIN], "control_port",
                            cf->port[KCHAN_CONTROL], "hb_port", cf->port[KCHAN_HB]));
    request_done(req);
}

static void is_complete(struct request *req)
{
    const json_t *code = json_object_get(req->msg->content, "code");
    if (!json_is_string(code)) {
        request_reply(req, "is_complete_reply",
                      error_content("InvalidRequest", "is_complete_request needs 'code', a string",
                                    NULL));
        request_done(req);
        return;
    }
    static const char *const names[] = {"complete", "incomplete", "invalid", "unknown"};
    char *indent = NULL;
    enum cellcheck_status st = cellcheck(json_string_value(code), json_string_length(code), &indent);
    json_t *content = json_pack("{s:s}", "status", names[st]);
    if (content && st == CELLCHECK_INCOMPLETE)
        json_object_set_new(content, "indent", json_string(indent ? indent : ""));
    free(indent);
    request_reply(req, "is_complete_reply", content);
    request_done(req);
}

static void history(struct request *req)
{
    char err[256];
    json_t *list = history_query(req->k->history, req->msg->content, err, sizeof err);
    if (list)
        request_reply(req, "history_reply", json_pack("{s:s, s:o}", "status", "ok", "history", list));
    else
        request_reply(req, "history_reply", error_content("InvalidRequest", err, NULL));
    request_done(req);
}

/* A cursor position in code points: absent means the end. */
static bool cursor_of(const json_t *content, const json_t *code, size_t *out)
{
    size_t points = 0;
    const unsigned char *s = (const unsigned char *)json_string_value(code);
    for (size_t i = 0; i < json_string_length(code); i++)
        points += (s[i] & 0xc0) != 0x80;
    const json_t *c = json_object_get(content, "cursor_pos");
    if (!c || json_is_null(c)) {
        *out = points;
        return true;
    }
    if (!json_is_integer(c) || json_integer_value(c) < 0 ||
        (size_t)json_integer_value(c) > points)
        return false;
    *out = (size_t)json_integer_value(c);
    return true;
}

static void complete(struct request *req)
{
    struct kernel *k = req->k;
    const json_t *code = json_object_get(req->msg->content, "code");
    size_t cursor;
    if (!json_is_string(code) || !cursor_of(req->msg->content, code, &cursor)) {
        request_reply(req, "complete_reply",
                      error_content("InvalidRequest",
                                    "complete_request needs 'code', a string, and 'cursor_pos', "
                                    "a position in it",
                                    NULL));
        request_done(req);
        return;
    }
    req->query = session_complete(k->s, json_string_value(code), json_string_length(code), cursor);
    if (!req->query)
        /* No executor can answer now (none is left): no matches. */
        requests_completions(k, 0, NULL, 0, cursor, cursor);
}

static void inspect(struct request *req)
{
    struct kernel *k = req->k;
    const json_t *code = json_object_get(req->msg->content, "code");
    const json_t *level = json_object_get(req->msg->content, "detail_level");
    size_t cursor;
    if (!json_is_string(code) || !cursor_of(req->msg->content, code, &cursor) ||
        (level && !json_is_integer(level))) {
        request_reply(req, "inspect_reply",
                      error_content("InvalidRequest",
                                    "inspect_request needs 'code', a string, 'cursor_pos', a "
                                    "position in it, and 'detail_level', 0 or 1",
                                    NULL));
        request_done(req);
        return;
    }
    int detail = level && json_integer_value(level) > 0 ? 1 : 0;
    req->query = session_inspect(k->s, json_string_value(code), json_string_length(code), cursor,
                                 detail);
    if (!req->query)
        requests_inspection(k, 0, false, "", 0);
}

void requests_completions(struct kernel *k, uint64_t id, const struct proto_str *m, size_t n,
                          size_t start, size_t end)
{
    struct request *req = k->shell_current;
    if (!req || req->query != id || strcmp(req->msg->type, "complete_request") != 0)
        return;
    json_t *matches = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(matches, json_text(m[i].ptr, m[i].len));
    request_reply(req, "complete_reply",
                  json_pack("{s:s, s:o, s:I, s:I, s:{}}", "status", "ok", "matches", matches,
                            "cursor_start", (json_int_t)start, "cursor_end", (json_int_t)end,
                            "metadata"));
    request_done(req);
}

void requests_inspection(struct kernel *k, uint64_t id, bool found, const char *data,
                         size_t len)
{
    if (execute_inspection(k, id, found, data, len))
        return;
    struct request *req = k->shell_current;
    if (!req || req->query != id || strcmp(req->msg->type, "inspect_request") != 0)
        return;
    json_t *bundle = found ? json_loadb(data, len, 0, NULL) : NULL;
    if (found && !json_is_object(bundle)) {
        kernel_log(k, "the executor's answer to inspect_request %s is not a MIME bundle",
                   req->msg->id);
        json_decref(bundle);
        bundle = NULL;
    }
    request_reply(req, "inspect_reply",
                  json_pack("{s:s, s:b, s:o, s:{}}", "status", "ok", "found", bundle != NULL,
                            "data", bundle ? bundle : json_object(), "metadata"));
    request_done(req);
}

static void interrupt_request(struct request *req)
{
    req->k->interrupted_ms = uv_now(req->k->loop);
    session_interrupt(req->k->s);
    request_reply(req, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
    request_done(req);
}

/* jupyter_client's KernelManager restarts a kernel as a new process: its
 * shutdown_kernel interrupts the kernel (SIGINT, or interrupt_request
 * with interrupt_mode "message"), sends shutdown_request with restart,
 * then waits for the process to end (up to shutdown_wait_time / 2, 2.5 s,
 * before SIGTERM) and starts another. A restart request that follows an
 * interrupt that closely is that: the kernel ends at once, as ipykernel
 * does, rather than making the manager wait and kill it. */
#define MANAGER_RESTART_WINDOW_MS 1000
/* The manager's SIGINT and its shutdown_request may reach the loop in
 * either order (a signal and a socket ready in one poll): a restart
 * request with no interrupt seen yet waits this long for one. */
#define MANAGER_SIGNAL_WAIT_MS 100

static void shutdown_decide(struct request *req, bool restart, bool waited);

static void on_restart_wait(uv_timer_t *t)
{
    struct kernel *k = t->data;
    struct request *req = k->restart_req;
    k->restart_req = NULL;
    if (req)
        shutdown_decide(req, true, true);
}

static bool interrupted_lately(const struct kernel *k)
{
    return k->interrupted_ms &&
           uv_now(k->loop) - k->interrupted_ms < MANAGER_RESTART_WINDOW_MS + MANAGER_SIGNAL_WAIT_MS;
}

static void shutdown_decide(struct request *req, bool restart, bool waited)
{
    struct kernel *k = req->k;
    bool by_manager = restart && interrupted_lately(k);
    if (restart && !by_manager && !waited && !k->stopping &&
        uv_timer_start(&k->restart_timer, on_restart_wait, MANAGER_SIGNAL_WAIT_MS, 0) == 0) {
        k->restart_req = req;
        return;
    }
    if (restart && !by_manager) {
        /* A fresh executor (the warm spare: milliseconds), in this same
         * kernel process; what runs is ended, state is gone, the restart
         * budget starts over. Prompts count from 1 again and history
         * begins a new session, as after ipykernel's restart. */
        kernel_log(k, "restarting the executor (shutdown_request with restart)");
        session_command(k->s, ":restart", 8);
        k->execution_count = 0;
        history_new_session(k->history);
    } else if (by_manager)
        kernel_log(k, "shutdown_request with restart right after an interrupt: its manager "
                      "starts a new kernel process; ending this one");
    request_reply(req, "shutdown_reply",
                  json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
    request_done(req);
    if (!restart || by_manager)
        kernel_stop(k, 0);
}

static void shutdown_request(struct request *req)
{
    bool restart = json_is_true(json_object_get(req->msg->content, "restart"));
    shutdown_decide(req, restart, false);
}

static void unknown(struct request *req, const char *why)
{
    struct kernel *k = req->k;
    const char *type = req->msg->type;
    kernel_log(k, "%s %.64s on %s: %s", req->aborted ? "aborted" : "unknown request", type,
               kchan_names[req->msg->chan], why);
    size_t n = strlen(type);
    if (n > 8 && strcmp(type + n - 8, "_request") == 0) {
        char rtype[128], evalue[256];
        reply_type(type, rtype, sizeof rtype);
        snprintf(evalue, sizeof evalue, "aiobox's kernel does not answer %.64s: %s", type, why);
        request_reply(req, rtype, error_content("UnknownRequest", evalue, NULL));
    }
    request_done(req);
}

static void handle(struct request *req)
{
    static const struct {
        const char *type;
        void (*fn)(struct request *req);
        bool on_control;
    } handlers[] = {
        {"execute_request", execute_request, false},
        {"kernel_info_request", kernel_info, true},
        {"complete_request", complete, false},
        {"inspect_request", inspect, false},
        {"is_complete_request", is_complete, true},
        {"history_request", history, true},
        {"comm_info_request", comm_info, true},
        {"comm_open", comm_open, false},
        {"connect_request", connect_request, true},
        {"interrupt_request", interrupt_request, true},
        {"shutdown_request", shutdown_request, true},
    };
    struct kernel *k = req->k;
    iopub_status(k, req->msg->header, "busy");
    const char *type = req->msg->type;
    if (strcmp(type, "comm_msg") == 0 || strcmp(type, "comm_close") == 0) {
        kernel_log(k, "%s for a comm aiobox does not have: ignored", type);
        request_done(req);
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof *handlers; i++) {
        if (strcmp(handlers[i].type, type) != 0)
            continue;
        if (req->control && !handlers[i].on_control) {
            unknown(req, "it belongs on the shell channel");
            return;
        }
        handlers[i].fn(req);
        return;
    }
    unknown(req, "not a message type aiobox knows");
}

static void shell_pump(struct kernel *k)
{
    while (!k->shell_current && k->shell_head && !k->stopping) {
        struct request *req = k->shell_head;
        k->shell_head = req->next;
        if (!k->shell_head)
            k->shell_tail = NULL;
        k->shell_waiting--;
        req->next = NULL;
        k->shell_current = req;
        handle(req);
    }
    if (k->shell_held && k->shell_waiting <= SHELL_QUEUE_MAX / 2 && !k->stopping) {
        k->shell_held = false;
        kchannels_hold(k->ch, KCHAN_SHELL, false);
    }
}

void requests_receive(void *data, struct jmsg *m)
{
    struct kernel *k = data;
    if (k->stopping) {
        jmsg_free(m);
        return;
    }
    if (m->chan == KCHAN_STDIN) {
        if (strcmp(m->type, "input_reply") == 0)
            execute_input_reply(k, m);
        else
            kernel_log(k, "%.64s on stdin: only input_reply belongs there; dropped", m->type);
        jmsg_free(m);
        return;
    }
    struct request *req = calloc(1, sizeof *req);
    if (!req) {
        kernel_log(k, "out of memory: request %s dropped", m->id);
        jmsg_free(m);
        return;
    }
    req->msg = m;
    req->k = k;
    if (m->invalid[0]) {
        /* Answered at once, in no turn: nothing of it can run. */
        kernel_log(k, "%.64s %s on %s: %s", m->type, m->id, kchan_names[m->chan], m->invalid);
        iopub_status(k, m->header, "busy");
        size_t n = strlen(m->type);
        if (n > 8 && strcmp(m->type + n - 8, "_request") == 0) {
            char rtype[128], evalue[300];
            reply_type(m->type, rtype, sizeof rtype);
            snprintf(evalue, sizeof evalue, "the request could not be read: %s", m->invalid);
            request_reply(req, rtype, error_content("InvalidRequest", evalue, NULL));
        }
        iopub_status(k, m->header, "idle");
        request_free(req);
        return;
    }
    if (m->chan == KCHAN_CONTROL) {
        req->control = true;
        handle(req);
        return;
    }
    if (k->shell_tail)
        k->shell_tail->next = req;
    else
        k->shell_head = req;
    k->shell_tail = req;
    if (++k->shell_waiting >= SHELL_QUEUE_MAX && !k->shell_held) {
        kernel_log(k, "%zu shell requests waiting: reading no more until half are answered",
                   k->shell_waiting);
        k->shell_held = true;
        kchannels_hold(k->ch, KCHAN_SHELL, true);
    }
    shell_pump(k);
}

void requests_abort_queued(struct kernel *k)
{
    /* What the client sent before it saw the failure is aborted too, as
     * far as it has arrived: what zmq holds is read now. ipykernel aborts
     * the same (its stop_on_error_timeout is 0 by default): a request
     * still on its way when the error is answered runs. */
    kchannels_drain(k->ch, KCHAN_SHELL);
    for (struct request *req = k->shell_head; req; req = req->next)
        if (strcmp(req->msg->type, "execute_request") == 0)
            req->aborted = true;
}

void requests_free_all(struct kernel *k)
{
    if (k->shell_current) {
        request_free(k->shell_current);
        k->shell_current = NULL;
    }
    while (k->shell_head) {
        struct request *req = k->shell_head;
        k->shell_head = req->next;
        request_free(req);
    }
    k->shell_tail = NULL;
    k->shell_waiting = 0;
    if (k->restart_req) {
        request_free(k->restart_req);
        k->restart_req = NULL;
    }
}
