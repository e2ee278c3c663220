/* The requests a client may send: each is parsed, checked field by field
 * and answered; a bad one gets an error line and changes nothing. */
#define _GNU_SOURCE
#include "server_priv.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "policy.h"
#include "pyparse.h"

/* Session names: printable, no slash (they may name files one day). */
#define SESSION_NAME_MAX 128

/* A request being handled. */
struct req {
    struct client *c;
    json_t *obj;
    const char *op;
    json_t *id;          /* NULL when absent */
};

static bool get_string(struct req *q, const char *key, bool required, const char **out,
                       size_t *len)
{
    json_t *v = json_object_get(q->obj, key);
    *out = NULL;
    if (len)
        *len = 0;
    if (!v) {
        if (required)
            reply_error(q->c, q->id, "%s: missing field '%s'", q->op, key);
        return !required;
    }
    if (!json_is_string(v)) {
        reply_error(q->c, q->id, "%s: field '%s' must be a string", q->op, key);
        return false;
    }
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return true;
}

static bool get_bool(struct req *q, const char *key, bool *out)
{
    json_t *v = json_object_get(q->obj, key);
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        reply_error(q->c, q->id, "%s: field '%s' must be true or false", q->op, key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool check_fields(struct req *q, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(q->obj, key, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            reply_error(q->c, q->id, "%s: unknown field '%.64s'", q->op, key);
            return false;
        }
    }
    return true;
}

static bool need_id(struct req *q)
{
    if (q->id)
        return true;
    reply_error(q->c, NULL, "%s: missing field 'id'", q->op);
    return false;
}

static bool session_name_ok(struct req *q, const char *name, size_t len)
{
    bool ok = len > 0 && len <= SESSION_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)name[i] > 0x20 && name[i] != 0x7f && name[i] != '/';
    if (!ok)
        reply_error(q->c, q->id,
                    "%s: a session name is 1 to %d printable characters, no spaces or '/'",
                    q->op, SESSION_NAME_MAX);
    return ok;
}

static bool get_policy(struct req *q, const struct server_policy **out)
{
    const char *name;
    if (!get_string(q, "policy", false, &name, NULL))
        return false;
    *out = server_policy(q->c->srv, name);
    if (!*out) {
        reply_error(q->c, q->id, "%s: policy '%.64s' is not one this server allows", q->op,
                    name);
        return false;
    }
    return true;
}

/* The named session, opened on first use. */
static struct hosted *use_session(struct req *q, const char *name,
                                  const struct server_policy *pol, bool explicit_policy)
{
    struct hosted *h = hosted_find(q->c->srv, name);
    if (h) {
        if (explicit_policy && h->policy != pol) {
            reply_error(q->c, q->id, "%s: session %s runs under policy %s, not %s", q->op,
                        name, h->policy->name, pol->name);
            return NULL;
        }
        return h;
    }
    char err[256];
    h = hosted_open(q->c->srv, name, pol, NULL, err, sizeof err);
    if (!h)
        reply_error(q->c, q->id, "%s: %s", q->op, err);
    return h;
}

/* The named session a request is about, which its client is attached to. */
static struct hosted *attached_session(struct req *q, const char *name)
{
    struct hosted *h = hosted_find(q->c->srv, name);
    if (!h || !h->s) {
        reply_error(q->c, q->id, "%s: no session %.64s", q->op, name);
        return NULL;
    }
    if (!attach_has(h, q->c)) {
        reply_error(q->c, q->id, "%s: attach to session %.64s first", q->op, name);
        return NULL;
    }
    return h;
}

/* --- run ------------------------------------------------------------------ */

static bool get_limits(struct req *q, struct session_run_opts *o)
{
    json_t *l = json_object_get(q->obj, "limits");
    if (!l)
        return true;
    if (!json_is_object(l)) {
        reply_error(q->c, q->id, "run: field 'limits' must be an object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(l, key, v) {
        if (strcmp(key, "timeout") == 0) {
            double t = json_is_number(v) ? json_number_value(v) : -1;
            if (!(t > 0 && t <= 1e6)) {
                reply_error(q->c, q->id, "run: limits.timeout must be seconds above 0");
                return false;
            }
            o->timeout_s = t;
        } else if (strcmp(key, "output") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0) {
                reply_error(q->c, q->id, "run: limits.output must be a byte count above 0");
                return false;
            }
            o->output_cap = (size_t)json_integer_value(v);
        } else {
            reply_error(q->c, q->id, "run: unknown limit '%.64s'", key);
            return false;
        }
    }
    return true;
}

static void op_run(struct req *q)
{
    static const char *const known[] = {"id", "op", "code", "session", "limits", "stream",
                                        "stdin", "policy", NULL};
    const char *code, *name, *in;
    size_t len, name_len, in_len;
    const struct server_policy *pol;
    struct session_run_opts opts = {.mode = SESSION_CELL, .stop_at_cap = true};
    bool stream = false;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "code", true, &code, &len) ||
        !get_string(q, "session", false, &name, &name_len) ||
        !get_string(q, "stdin", false, &in, &in_len) || !get_bool(q, "stream", &stream) ||
        !get_limits(q, &opts) || !get_policy(q, &pol))
        return;
    if (name && !session_name_ok(q, name, name_len))
        return;
    if (memchr(code, '\0', len) || (in && memchr(in, '\0', in_len))) {
        reply_error(q->c, q->id, "run: code and stdin may not contain NUL characters");
        return;
    }
    struct hosted *h = NULL;
    if (name && !(h = use_session(q, name, pol, json_object_get(q->obj, "policy") != NULL)))
        return;
    struct run *run = calloc(1, sizeof *run);
    if (!run || !(run->code = strndup(code, len)) ||
        (in && !(run->stdin_data = strndup(in, in_len)))) {
        run_free(run);
        reply_error(q->c, q->id, "run: out of memory");
        return;
    }
    run->id = json_incref(q->id);
    run->len = len;
    run->c = q->c;
    run->opts = opts;
    run->stream = stream;
    run->has_stdin = in != NULL;
    run->stdin_len = in_len;
    if (h)
        hosted_watch(h, q->c);
    run_start(q->c->srv, h, pol, run);
}

/* --- input, interrupt -------------------------------------------------------- */

static void op_input(struct req *q)
{
    static const char *const known[] = {"id", "op", "value", "eof", "session", NULL};
    const char *value, *name;
    size_t len;
    bool eof = false;
    if (!check_fields(q, known) || !get_string(q, "value", false, &value, &len) ||
        !get_bool(q, "eof", &eof) || !get_string(q, "session", false, &name, NULL))
        return;
    if (!value && !eof) {
        reply_error(q->c, q->id, "input: give 'value' (a line) or 'eof': true");
        return;
    }
    if (value && memchr(value, '\n', len)) {
        reply_error(q->c, q->id, "input: 'value' is one line, without a newline");
        return;
    }
    if (name) {
        /* An attached terminal answers its session's input(). */
        struct hosted *h = attached_session(q, name);
        if (h && !attach_answer(h, q->c, value ? value : "", len, eof))
            reply_error(q->c, q->id, "input: session %.64s is not waiting for input (another "
                        "terminal answered first); your line was not used", name);
        return;
    }
    if (!need_id(q))
        return;
    struct run *run = run_find(q->c->srv, q->id, q->c);
    if (!run || !run->input_waiting) {
        reply_error(q->c, q->id, "input: no run of yours with this id is waiting for input");
        return;
    }
    run_input(run, value ? value : "", len, eof);
}

static void op_interrupt(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "target", NULL};
    const char *name;
    size_t name_len;
    json_t *target = json_object_get(q->obj, "target");
    if (!check_fields(q, known) || !get_string(q, "session", false, &name, &name_len))
        return;
    if (!name == !target) {
        reply_error(q->c, q->id, "interrupt: give either 'session' or 'target'");
        return;
    }
    bool found = false;
    if (name) {
        struct hosted *h = hosted_find(q->c->srv, name);
        if ((found = h && h->s))
            session_interrupt(h->s);
    } else {
        struct run *run = run_find(q->c->srv, target, NULL);
        if ((found = run != NULL))
            run_interrupt(run);
    }
    if (!found) {
        reply_error(q->c, q->id, "interrupt: no such %s", name ? "session" : "run");
        return;
    }
    if (q->id) {
        json_t *o = json_object();
        json_object_set(o, "id", q->id);
        json_object_set_new(o, "event", json_string("interrupt"));
        reply_send(q->c, o);
    }
}

/* --- complete, is_complete ----------------------------------------------------- */

/* A completion request waiting for its executor's answer. */
struct pending_completion {
    struct pending_completion *next;
    struct client *c;
    struct hosted *h;
    uint64_t engine_id;
    json_t *id;
};

void ops_forget(struct server *srv, const struct client *c, const struct hosted *h)
{
    struct pending_completion **pp = &srv->completions;
    while (*pp) {
        struct pending_completion *pc = *pp;
        if ((c && pc->c == c) || (h && pc->h == h)) {
            *pp = pc->next;
            json_decref(pc->id);
            free(pc);
        } else
            pp = &pc->next;
    }
}

static void answer_completion(struct client *c, json_t *id, const struct proto_str *m, size_t n,
                              size_t start, size_t end)
{
    json_t *o = json_object(), *a = json_array();
    json_object_set(o, "id", id);
    json_object_set_new(o, "event", json_string("complete"));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, reply_text(m[i].ptr, m[i].len));
    json_object_set_new(o, "matches", a);
    json_object_set_new(o, "cursor_start", json_integer((json_int_t)start));
    json_object_set_new(o, "cursor_end", json_integer((json_int_t)end));
    reply_send(c, o);
}

void ops_completions(struct hosted *h, uint64_t id, const struct proto_str *m, size_t n,
                     size_t start, size_t end)
{
    for (struct pending_completion **pp = &h->srv->completions; *pp; pp = &(*pp)->next) {
        struct pending_completion *pc = *pp;
        if (pc->h != h || pc->engine_id != id)
            continue;
        *pp = pc->next;
        answer_completion(pc->c, pc->id, m, n, start, end);
        json_decref(pc->id);
        free(pc);
        return;
    }
}

static void op_complete(struct req *q)
{
    static const char *const known[] = {"id", "op", "code", "cursor", "session", NULL};
    const char *code, *name;
    size_t len, name_len;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "code", true, &code, &len) ||
        !get_string(q, "session", true, &name, &name_len))
        return;
    json_t *cur = json_object_get(q->obj, "cursor");
    size_t chars = json_string_length(json_object_get(q->obj, "code"));
    json_int_t cursor = cur ? (json_is_integer(cur) ? json_integer_value(cur) : -1)
                            : (json_int_t)chars;
    if (cursor < 0) {
        reply_error(q->c, q->id, "complete: cursor must be a character offset into code");
        return;
    }
    struct hosted *h = hosted_find(q->c->srv, name);
    if (!h || !h->s) {
        reply_error(q->c, q->id, "complete: no session %.64s", name);
        return;
    }
    struct pending_completion *pc = calloc(1, sizeof *pc);
    uint64_t eid = pc ? session_complete(h->s, code, len, (size_t)cursor) : 0;
    if (!eid) {
        /* Busy running a statement, or still starting: no matches now. */
        free(pc);
        answer_completion(q->c, q->id, NULL, 0, (size_t)cursor, (size_t)cursor);
        return;
    }
    pc->c = q->c;
    pc->h = h;
    pc->engine_id = eid;
    pc->id = json_incref(q->id);
    pc->next = q->c->srv->completions;
    q->c->srv->completions = pc;
}

/* The indentation the next line of code wants: the last line's, one
 * level more after a line that opens a block. */
static json_t *indent_hint(const char *code, size_t len)
{
    size_t end = len;
    while (end > 0 && code[end - 1] == '\n')
        end--;
    size_t start = end;
    while (start > 0 && code[start - 1] != '\n')
        start--;
    size_t ws = start;
    while (ws < end && (code[ws] == ' ' || code[ws] == '\t'))
        ws++;
    size_t last = end;
    while (last > ws && (code[last - 1] == ' ' || code[last - 1] == '\t'))
        last--;
    bool opens = last > ws && code[last - 1] == ':';
    char buf[256];
    size_t n = ws - start < sizeof buf - 5 ? ws - start : sizeof buf - 5;
    memcpy(buf, code + start, n);
    if (opens) {
        memcpy(buf + n, "    ", 4);
        n += 4;
    }
    return json_stringn(buf, n);
}

static void op_is_complete(struct req *q)
{
    static const char *const known[] = {"id", "op", "code", NULL};
    const char *code;
    size_t len;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "code", true, &code, &len))
        return;
    enum pyparse_verdict v = pyparse_verdict_flags(code, len, PYPARSE_TOP_LEVEL_AWAIT);
    json_t *o = json_object();
    json_object_set(o, "id", q->id);
    json_object_set_new(o, "event", json_string("is_complete"));
    json_object_set_new(o, "status", json_string(v == PYPARSE_COMPLETE     ? "complete"
                                                 : v == PYPARSE_INCOMPLETE ? "incomplete"
                                                                           : "invalid"));
    if (v == PYPARSE_INCOMPLETE)
        json_object_set_new(o, "indent", indent_hint(code, len));
    reply_send(q->c, o);
}

/* --- sessions ---------------------------------------------------------------- */

static json_t *session_json(struct hosted *h)
{
    struct session_info info;
    session_info(h->s, &info);
    json_t *o = json_object();
    json_object_set_new(o, "session", json_string(h->name));
    json_object_set_new(o, "policy", json_string(h->policy->name));
    json_object_set_new(o, "pid", info.pid ? json_integer(info.pid) : json_null());
    json_object_set_new(o, "uptime_ms", json_integer((json_int_t)info.uptime_ms));
    json_object_set_new(o, "runs", json_integer((json_int_t)h->runs_done));
    json_object_set_new(o, "epoch", json_integer(h->epoch));
    json_object_set_new(o, "busy", json_boolean(info.busy));
    json_object_set_new(o, "rss_kb", json_integer(info.rss_kib));
    /* What aiobox ls shows. */
    uint64_t now = server_uptime_ms(h->srv) + h->srv->started_ms;
    json_object_set_new(o, "age_ms", json_integer((json_int_t)(now - h->created_ms)));
    json_object_set_new(o, "statements", json_integer((json_int_t)h->statements));
    json_object_set_new(o, "restarts", json_integer(info.restarts));
    json_object_set_new(o, "clients", json_integer((json_int_t)h->nattached));
    bool busy = h->running || h->pending;
    json_object_set_new(o, "idle_ms", json_integer(busy ? 0 : (json_int_t)(now - h->active_ms)));
    json_object_set_new(o, "terminal", json_boolean(h->opts.terminal));
    /* CPU its executor used while no statement ran: null when it has no
     * limit or has not been idle for a sample's worth yet. */
    const struct policy_idle_cpu *ic = &h->policy->idle_cpu;
    if (ic->share > 0 && info.idle_cpu_span_s > 0) {
        json_t *idle = json_object();
        json_object_set_new(idle, "percent", json_real(info.idle_cpu_share * 100));
        json_object_set_new(idle, "over_s", json_real(info.idle_cpu_span_s));
        json_object_set_new(idle, "limit_percent", json_real(ic->share * 100));
        json_object_set_new(o, "idle_cpu", idle);
    } else
        json_object_set_new(o, "idle_cpu", json_null());
    return o;
}

static void op_open(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "policy", NULL};
    const char *name;
    size_t name_len;
    const struct server_policy *pol;
    if (!need_id(q) || !check_fields(q, known) ||
        !get_string(q, "session", true, &name, &name_len) ||
        !session_name_ok(q, name, name_len) || !get_policy(q, &pol))
        return;
    struct hosted *h = use_session(q, name, pol, json_object_get(q->obj, "policy") != NULL);
    if (!h)
        return;
    hosted_watch(h, q->c);
    json_t *o = session_json(h);
    json_object_set(o, "id", q->id);
    json_object_set_new(o, "event", json_string("opened"));
    reply_send(q->c, o);
}

static void op_close(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "reason", NULL};
    const char *name, *reason;
    size_t reason_len;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "session", true, &name, NULL) ||
        !get_string(q, "reason", false, &reason, &reason_len))
        return;
    struct hosted *h = hosted_find(q->c->srv, name);
    if (!h) {
        reply_error(q->c, q->id, "close: no session %.64s", name);
        return;
    }
    char why[256];
    snprintf(why, sizeof why, "%.200s", reason && reason_len ? reason : "a client closed it");
    server_log(q->c->srv, "session %s: closed by client pid %d: %s", name,
               (int)peer_pid(q->c->peer), why);
    hosted_end(h, why, -1);
    json_t *o = json_object();
    json_object_set(o, "id", q->id);
    json_object_set_new(o, "event", json_string("closed"));
    json_object_set_new(o, "session", json_string(name));
    reply_send(q->c, o);
}

static void op_sessions(struct req *q)
{
    static const char *const known[] = {"id", "op", NULL};
    if (!need_id(q) || !check_fields(q, known))
        return;
    json_t *list = json_array();
    for (struct hosted *h = q->c->srv->hosted; h; h = h->next)
        if (h->name && h->s)
            json_array_append_new(list, session_json(h));
    json_t *o = json_object();
    json_object_set(o, "id", q->id);
    json_object_set_new(o, "event", json_string("sessions"));
    json_object_set_new(o, "sessions", list);
    reply_send(q->c, o);
}

static void op_status(struct req *q)
{
    static const char *const known[] = {"id", "op", NULL};
    if (!need_id(q) || !check_fields(q, known))
        return;
    struct server *srv = q->c->srv;
    unsigned named = 0, isolated = 0;
    for (struct hosted *h = srv->hosted; h; h = h->next)
        h->name ? named++ : isolated++;
    json_t *by = json_object();
    for (int i = 0; i < RUN_STATUS_COUNT; i++)
        json_object_set_new(by, run_status_names[i],
                            json_integer((json_int_t)srv->runs_by_status[i]));
    json_t *pool = json_object();
    json_object_set_new(pool, "max_executors", json_integer(srv->cfg->max_executors));
    json_object_set_new(pool, "busy", json_integer(srv->busy_slots));
    json_object_set_new(pool, "waiting", json_integer((json_int_t)srv->nslot_queue));
    json_object_set_new(pool, "executors", json_integer(execproc_live()));
    struct execpool_stats ps;
    execpool_stats(srv->pool, &ps);
    json_object_set_new(pool, "ready", json_integer(ps.ready));
    json_object_set_new(pool, "starting", json_integer(ps.starting));
    json_object_set_new(pool, "taken", json_integer((json_int_t)ps.taken));
    json_object_set_new(pool, "missed", json_integer((json_int_t)ps.missed));
    json_object_set_new(pool, "failed", json_integer((json_int_t)ps.failed));
    json_t *o = json_object();
    json_object_set(o, "id", q->id);
    json_object_set_new(o, "event", json_string("status"));
    json_object_set_new(o, "sessions", json_integer(named));
    json_object_set_new(o, "isolated_running", json_integer(isolated));
    json_object_set_new(o, "pool", pool);
    json_object_set_new(o, "runs", json_integer((json_int_t)srv->runs_total));
    json_object_set_new(o, "runs_by_status", by);
    json_object_set_new(o, "restarts", json_integer((json_int_t)srv->restarts));
    unsigned clients = 0;
    for (struct client *k = srv->clients; k; k = k->next)
        clients += !k->gone;
    json_object_set_new(o, "clients", json_integer(clients));
    json_object_set_new(o, "uptime_ms", json_integer((json_int_t)server_uptime_ms(srv)));
    json_object_set_new(o, "cgroup", json_string(cgroup_status()));
    reply_send(q->c, o);
}

/* --- attached terminals ------------------------------------------------------- */

static bool get_seconds(struct req *q, json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    double t = json_is_number(v) ? json_number_value(v) : -1;
    if (!(t >= 0 && t <= 1e6)) {
        reply_error(q->c, q->id, "%s: options.%s must be seconds from 0 to 1000000", q->op, key);
        return false;
    }
    *out = t;
    return true;
}

/* An array of absolute paths, copied; false (said) when it is not one. */
static bool get_paths(struct req *q, json_t *o, const char *key, char ***out, size_t *n)
{
    json_t *a = json_object_get(o, key);
    if (!a)
        return true;
    if (!json_is_array(a) || json_array_size(a) > POLICY_GRANTS_MAX) {
        reply_error(q->c, q->id, "%s: options.%s must be an array of at most %d paths", q->op,
                    key, POLICY_GRANTS_MAX);
        return false;
    }
    *out = calloc(json_array_size(a) + 1, sizeof **out);
    if (!*out) {
        reply_error(q->c, q->id, "%s: out of memory", q->op);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *path = json_string_value(v);
        if (!path || path[0] != '/' || strlen(path) >= PATH_MAX) {
            reply_error(q->c, q->id, "%s: options.%s holds absolute paths", q->op, key);
            return false;
        }
        if (!((*out)[(*n)++] = strdup(path))) {
            reply_error(q->c, q->id, "%s: out of memory", q->op);
            return false;
        }
    }
    return true;
}

/* The options a terminal gives for a session it may start; *given lists
 * those given (to compare with a session that exists). */
static bool get_session_opts(struct req *q, struct hosted_opts *o, json_t **given)
{
    static const char *const known[] = {"policy", "timeout", "output_cap", "grace", "restore",
                                        "standby", "allow_read", "allow_write", "idle_timeout",
                                        "replay_bytes", NULL};
    struct server *srv = q->c->srv;
    *o = (struct hosted_opts){
        .policy = server_policy(srv, NULL),
        .timeout_s = -1, .grace_s = -1, .restore = -1, .standby = -1,
        .idle_timeout_s = srv->cfg->idle_timeout_s,
        .replay_bytes = srv->cfg->replay_bytes ? srv->cfg->replay_bytes : SERVER_REPLAY_BYTES,
        .terminal = true,
    };
    json_t *v, *opts = json_object_get(q->obj, "options");
    *given = opts;
    if (!opts)
        return true;
    if (!json_is_object(opts)) {
        reply_error(q->c, q->id, "%s: field 'options' must be an object", q->op);
        return false;
    }
    const char *key;
    json_object_foreach(opts, key, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            reply_error(q->c, q->id, "%s: unknown option '%.64s'", q->op, key);
            return false;
        }
    }
    if (!get_seconds(q, opts, "timeout", &o->timeout_s) ||
        !get_seconds(q, opts, "grace", &o->grace_s) ||
        !get_seconds(q, opts, "idle_timeout", &o->idle_timeout_s))
        return false;
    if ((v = json_object_get(opts, "output_cap"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            reply_error(q->c, q->id, "%s: options.output_cap must be a byte count", q->op);
            return false;
        }
        o->output_cap = (size_t)json_integer_value(v);
        o->output_cap_set = true;
    }
    if ((v = json_object_get(opts, "replay_bytes"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1024 ||
            json_integer_value(v) > (64 << 20)) {
            reply_error(q->c, q->id, "%s: options.replay_bytes must be from 1024 to 64 MiB",
                        q->op);
            return false;
        }
        o->replay_bytes = (size_t)json_integer_value(v);
    }
    if ((v = json_object_get(opts, "restore"))) {
        const char *r = json_string_value(v);
        if (!r || (strcmp(r, "replay") && strcmp(r, "none"))) {
            reply_error(q->c, q->id, "%s: options.restore is \"replay\" or \"none\"", q->op);
            return false;
        }
        o->restore = strcmp(r, "replay") == 0 ? SESSION_RESTORE_REPLAY : SESSION_RESTORE_NONE;
    }
    if ((v = json_object_get(opts, "standby"))) {
        if (!json_is_boolean(v)) {
            reply_error(q->c, q->id, "%s: options.standby must be true or false", q->op);
            return false;
        }
        o->standby = json_is_true(v);
    }
    if (!get_paths(q, opts, "allow_read", &o->allow_read, &o->n_allow_read) ||
        !get_paths(q, opts, "allow_write", &o->allow_write, &o->n_allow_write))
        return false;
    bool own_uid = peer_uid(q->c->peer) == geteuid();
    if ((o->n_allow_read || o->n_allow_write) && !own_uid) {
        reply_error(q->c, q->id, "%s: only the server's own user may grant paths", q->op);
        return false;
    }
    const char *pname = NULL;
    if ((v = json_object_get(opts, "policy")) && !(pname = json_string_value(v))) {
        reply_error(q->c, q->id, "%s: options.policy must be a string", q->op);
        return false;
    }
    if (pname && pname[0] != '/' && !(o->policy = server_policy(srv, pname))) {
        reply_error(q->c, q->id, "%s: policy '%.64s' is not one this server allows", q->op,
                    pname);
        return false;
    }
    bool file = pname && pname[0] == '/';
    if (file && !own_uid) {
        reply_error(q->c, q->id, "%s: only the server's own user may name a policy file", q->op);
        return false;
    }
    if (file || o->n_allow_read || o->n_allow_write) {
        /* Checked now, with the grants, so that a mistake is said here and
         * not as an executor that fails to start. */
        const char *path = file ? pname : o->policy->path;
        struct policy_grant grants[POLICY_GRANTS_MAX];
        size_t ng = 0;
        for (size_t i = 0; i < o->n_allow_read && ng < POLICY_GRANTS_MAX; i++)
            grants[ng++] = (struct policy_grant){o->allow_read[i], false};
        for (size_t i = 0; i < o->n_allow_write && ng < POLICY_GRANTS_MAX; i++)
            grants[ng++] = (struct policy_grant){o->allow_write[i], true};
        struct policy *pol;
        char err[512];
        if (policy_load(path, grants, ng, &pol, err, sizeof err) < 0 ||
            cgroup_check_policy(pol, err, sizeof err) < 0) {
            reply_error(q->c, q->id, "%s: %s", q->op, err);
            policy_free(pol);
            return false;
        }
        if (file) {
            o->own.name = strdup(policy_name(pol));
            o->own.path = strdup(path);
            o->own.timeout_s = policy_timeout(pol);
            o->own.output_cap = policy_output_cap(pol);
            o->own.idle_cpu = policy_idle_cpu(pol);
            o->policy = NULL;
        }
        policy_free(pol);
        if (file && (!o->own.name || !o->own.path)) {
            reply_error(q->c, q->id, "%s: out of memory", q->op);
            return false;
        }
    }
    return true;
}

static double effective_timeout(const struct hosted *h)
{
    return h->opts.timeout_s >= 0 ? h->opts.timeout_s : h->policy->timeout_s;
}

static json_t *effective_opts(const struct hosted *h)
{
    const struct session_config *d = &h->srv->cfg->session;
    json_t *o = json_object();
    json_object_set_new(o, "policy", json_string(h->policy->name));
    json_object_set_new(o, "timeout", json_real(effective_timeout(h)));
    json_object_set_new(o, "output_cap", json_integer((json_int_t)(
        h->opts.output_cap_set ? h->opts.output_cap : h->policy->output_cap)));
    int restore = h->opts.restore >= 0 ? h->opts.restore : (int)d->restore;
    json_object_set_new(o, "restore", json_string(restore == SESSION_RESTORE_REPLAY ? "replay"
                                                                                   : "none"));
    json_object_set_new(o, "idle_timeout", json_real(h->opts.idle_timeout_s));
    json_object_set_new(o, "replay_bytes", json_integer((json_int_t)h->opts.replay_bytes));
    return o;
}

static bool same_paths(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]))
            return false;
    return true;
}

/* What the terminal asked for and the running session does not have:
 * its options were fixed when it started. */
static json_t *differences(const struct hosted *h, const struct hosted_opts *want,
                           const json_t *given)
{
    json_t *list = json_array();
    char buf[512];
    const struct session_config *d = &h->srv->cfg->session;
    const struct server_policy *wp = want->policy ? want->policy : &want->own;
    if (json_object_get(given, "policy") &&
        (strcmp(wp->name, h->policy->name) || strcmp(wp->path, h->policy->path))) {
        snprintf(buf, sizeof buf, "policy %s (not %s)", h->policy->name, wp->name);
        json_array_append_new(list, json_string(buf));
    }
    double t = effective_timeout(h);
    double wt = want->timeout_s >= 0 ? want->timeout_s : wp->timeout_s;
    if (json_object_get(given, "timeout") && t != wt) {
        snprintf(buf, sizeof buf, "timeout %g s (not %g)", t, wt);
        json_array_append_new(list, json_string(buf));
    }
    int r = h->opts.restore >= 0 ? h->opts.restore : (int)d->restore;
    if (json_object_get(given, "restore") && r != want->restore) {
        snprintf(buf, sizeof buf, "restore %s (not %s)", r ? "replay" : "none",
                 want->restore ? "replay" : "none");
        json_array_append_new(list, json_string(buf));
    }
    size_t cap = h->opts.output_cap_set ? h->opts.output_cap : h->policy->output_cap;
    if (json_object_get(given, "output_cap") && cap != want->output_cap) {
        snprintf(buf, sizeof buf, "output cap %zu (not %zu)", cap, want->output_cap);
        json_array_append_new(list, json_string(buf));
    }
    if ((json_object_get(given, "allow_read") || json_object_get(given, "allow_write")) &&
        (!same_paths(h->opts.allow_read, h->opts.n_allow_read, want->allow_read,
                     want->n_allow_read) ||
         !same_paths(h->opts.allow_write, h->opts.n_allow_write, want->allow_write,
                     want->n_allow_write)))
        json_array_append_new(list, json_string("the paths it grants (--allow-read, "
                                                "--allow-write)"));
    if (json_object_get(given, "idle_timeout") && h->opts.idle_timeout_s != want->idle_timeout_s) {
        snprintf(buf, sizeof buf, "idle timeout %g s (not %g)", h->opts.idle_timeout_s,
                 want->idle_timeout_s);
        json_array_append_new(list, json_string(buf));
    }
    return list;
}

static void op_attach(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "create", "since", "options",
                                        NULL};
    const char *name;
    size_t name_len;
    bool create = false;
    if (!need_id(q) || !check_fields(q, known) ||
        !get_string(q, "session", true, &name, &name_len) ||
        !session_name_ok(q, name, name_len) || !get_bool(q, "create", &create))
        return;
    json_t *sv = json_object_get(q->obj, "since");
    if (sv && (!json_is_integer(sv) || json_integer_value(sv) < 0)) {
        reply_error(q->c, q->id, "attach: 'since' is a seq from an earlier output event");
        return;
    }
    struct hosted_opts want;
    json_t *given;
    if (!get_session_opts(q, &want, &given)) {
        hosted_opts_free(&want);
        return;
    }
    struct server *srv = q->c->srv;
    struct hosted *h = hosted_find(srv, name);
    if (h && attach_has(h, q->c)) {
        hosted_opts_free(&want);
        reply_error(q->c, q->id, "attach: already attached to session %.64s", name);
        return;
    }
    json_t *extra = json_object();
    bool created = !h;
    if (h) {
        json_object_set_new(extra, "differs", differences(h, &want, given));
        hosted_opts_free(&want);
    } else if (!create) {
        hosted_opts_free(&want);
        json_decref(extra);
        reply_error(q->c, q->id, "attach: no session %.64s", name);
        return;
    } else {
        char err[256];
        if (!(h = hosted_open(srv, name, want.policy, &want, err, sizeof err))) {
            json_decref(extra);
            reply_error(q->c, q->id, "attach: %s", err);
            return;
        }
        json_object_set_new(extra, "differs", json_array());
    }
    json_object_set_new(extra, "created", json_boolean(created));
    json_object_set_new(extra, "options", effective_opts(h));
    struct session_info info;
    session_info(h->s, &info);
    json_object_set_new(extra, "pid", info.pid ? json_integer(info.pid) : json_null());
    uint64_t now = server_uptime_ms(srv) + srv->started_ms;
    json_object_set_new(extra, "age_ms", json_integer((json_int_t)(now - h->created_ms)));
    json_object_set_new(extra, "clients", json_integer((json_int_t)h->nattached));
    json_object_set_new(extra, "server_pid", json_integer(getpid()));
    uint64_t since = sv ? (uint64_t)json_integer_value(sv) : 0;
    if (attach_add(h, q->c, q->id, since, extra) < 0) {
        json_decref(extra);
        reply_error(q->c, q->id, "attach: out of memory");
    }
}

static void op_detach(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", NULL};
    const char *name;
    if (!check_fields(q, known) || !get_string(q, "session", true, &name, NULL))
        return;
    struct hosted *h = attached_session(q, name);
    if (!h)
        return;
    attach_remove(h, q->c);
    if (q->id) {
        json_t *o = json_object();
        json_object_set(o, "id", q->id);
        json_object_set_new(o, "event", json_string("detached"));
        json_object_set_new(o, "session", json_string(name));
        reply_send(q->c, o);
    }
}

static void op_submit(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "code", "mode", NULL};
    const char *name, *code, *mode;
    size_t len;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "session", true, &name, NULL) ||
        !get_string(q, "code", true, &code, &len) || !get_string(q, "mode", false, &mode, NULL))
        return;
    struct session_run_opts opts = {.mode = SESSION_SINGLE};
    if (mode && strcmp(mode, "single") == 0)
        opts.mode = SESSION_SINGLE;
    else if (mode && strcmp(mode, "block") == 0)
        opts.mode = SESSION_BLOCK;
    else if (mode) {
        reply_error(q->c, q->id, "submit: mode is \"single\" or \"block\"");
        return;
    }
    if (memchr(code, '\0', len)) {
        reply_error(q->c, q->id, "submit: code may not contain NUL characters");
        return;
    }
    struct hosted *h = attached_session(q, name);
    if (!h)
        return;
    struct run *run = calloc(1, sizeof *run);
    if (!run || !(run->code = malloc(len + 1))) {
        free(run);
        reply_error(q->c, q->id, "submit: out of memory");
        return;
    }
    memcpy(run->code, code, len);
    run->code[len] = '\0';
    run->len = len;
    run->id = json_incref(q->id);
    run->c = q->c;
    run->opts = opts;
    run_submit(h, run);
}

static void op_withdraw(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", NULL};
    const char *name;
    if (!check_fields(q, known) || !get_string(q, "session", true, &name, NULL))
        return;
    struct hosted *h = attached_session(q, name);
    if (h)
        run_withdraw(h, q->c);
}

static void op_command(struct req *q)
{
    static const char *const known[] = {"id", "op", "session", "line", NULL};
    const char *name, *line;
    size_t len;
    if (!need_id(q) || !check_fields(q, known) || !get_string(q, "session", true, &name, NULL) ||
        !get_string(q, "line", true, &line, &len))
        return;
    if (len == 0 || line[0] != ':' || memchr(line, '\n', len) || memchr(line, '\0', len)) {
        reply_error(q->c, q->id, "command: a line starting with ':'");
        return;
    }
    struct hosted *h = hosted_find(q->c->srv, name);
    if (!h || !h->s) {
        reply_error(q->c, q->id, "command: no session %.64s", name);
        return;
    }
    struct command_wait *w = calloc(1, sizeof *w);
    if (!w) {
        reply_error(q->c, q->id, "command: out of memory");
        return;
    }
    w->c = q->c;
    w->id = json_incref(q->id);
    if (h->commands_tail)
        h->commands_tail->next = w;
    else
        h->commands = w;
    h->commands_tail = w;
    session_command(h->s, line, len);
}

/* --- dispatch ------------------------------------------------------------------ */

static const struct {
    const char *name;
    void (*handle)(struct req *q);
} ops[] = {
    {"run", op_run},           {"input", op_input},       {"interrupt", op_interrupt},
    {"complete", op_complete}, {"is_complete", op_is_complete},
    {"open", op_open},         {"close", op_close},       {"sessions", op_sessions},
    {"status", op_status},
    {"attach", op_attach},     {"detach", op_detach},     {"submit", op_submit},
    {"withdraw", op_withdraw}, {"command", op_command},
};

void ops_handle(struct client *c, const char *line, size_t len)
{
    json_error_t err;
    /* A blank line is not a request; it is skipped, as JSON-lines readers do. */
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!obj) {
        reply_error(c, NULL, "invalid JSON at column %d: %s", err.column, err.text);
        return;
    }
    struct req q = {.c = c, .obj = obj, .op = "request"};
    if (!json_is_object(obj)) {
        reply_error(c, NULL, "a request is a JSON object, not %s",
                    json_is_array(obj) ? "an array" : "a single value");
        json_decref(obj);
        return;
    }
    json_t *id = json_object_get(obj, "id");
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_real(id)) {
        reply_error(c, NULL, "'id' must be a string or a number");
        json_decref(obj);
        return;
    }
    q.id = id;
    json_t *op = json_object_get(obj, "op");
    if (!op || !json_is_string(op)) {
        reply_error(c, id, "missing field 'op' (a string)");
        json_decref(obj);
        return;
    }
    q.op = json_string_value(op);
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (strcmp(ops[k].name, q.op) == 0) {
            ops[k].handle(&q);
            json_decref(obj);
            return;
        }
    reply_error(c, id, "unknown op '%.64s'", q.op);
    json_decref(obj);
}
