/* Inside the JSON-lines server.
 *
 *   server.c   clients, hosted sessions, runs, executor slots, life cycle
 *   ops.c      the requests: one handler per op, checked before it runs
 *   reply.c    building and sending the JSON lines that answer
 *   listen.c   the listening socket and who may connect
 *   peer.c     one connection's lines in and out
 */
#ifndef AIOBOX_SERVER_PRIV_H
#define AIOBOX_SERVER_PRIV_H

#include <jansson.h>

#include "forkserver.h"
#include "peer.h"
#include "server.h"

/* What a run can end as: docs/json.md. */
enum run_status {
    RUN_OK, RUN_ERROR, RUN_SYNTAX_ERROR, RUN_TIMEOUT, RUN_MEMORY, RUN_OUTPUT_LIMIT,
    RUN_DENIED, RUN_CRASHED, RUN_INTERRUPTED, RUN_CANCELLED, RUN_INVALID, RUN_STATUS_COUNT,
};
extern const char *const run_status_names[RUN_STATUS_COUNT];

struct client {
    struct client *next;
    struct server *srv;
    struct peer *peer;
    bool gone;
};

/* Text a run collected (stream false), up to its output cap. */
struct text {
    char *data;
    size_t len, cap;
};

struct run {
    struct run *next;          /* in its hosted session's pending or running list */
    struct hosted *h;
    struct client *c;          /* NULL once its client is gone */
    json_t *id;                /* echoed as sent */
    char *code;
    size_t len;
    struct session_run_opts opts;
    bool stream;
    bool has_stdin;            /* input() reads from stdin_data, not the client */
    char *stdin_data;
    size_t stdin_len, stdin_pos;
    uint64_t stmt_id;          /* the session's id, once submitted */
    struct text out, err;
    char message[512];         /* aiobox's words about it (a notice) */
    bool input_waiting;
    enum proto_input_kind input_kind;
    bool cancelled;            /* its client went away or asked */
    uint64_t queued_us;
};

/* A session the server hosts: named, or the private one of an isolated
 * run (name NULL), closed when the run is answered. */
struct hosted {
    struct hosted *next;
    struct server *srv;
    char *name;
    const struct server_policy *policy;
    struct session *s;
    /* runs waiting for an executor slot, and runs submitted to s (their
     * done() comes in this order) */
    struct run *pending, *pending_tail, *running, *running_tail;
    bool has_slot;
    unsigned epoch;            /* executors replaced */
    unsigned answered_epoch;   /* epoch at the last answer of a run that finished in it */
    uint64_t runs_done;
    uint64_t created_ms, used_ms;
    struct client **watchers;  /* told of background output */
    size_t nwatchers;
    bool closing;
};

struct server {
    uv_loop_t *loop;
    const struct server_config *cfg;
    struct client *clients;
    struct hosted *hosted;
    struct hosted **slot_queue; /* sessions waiting for a slot, oldest first */
    size_t nslot_queue, slot_queue_cap;
    unsigned busy_slots;
    uv_pipe_t listener;
    bool listening;
    char *listen_path;
    uv_signal_t sigterm, sigint;
    bool stdio, input_ended, stopping;
    int exit_code;
    unsigned sessions_closing;
    uint64_t runs_by_status[RUN_STATUS_COUNT];
    uint64_t runs_total, restarts;
    uint64_t started_ms;
    FILE *log;
    struct pending_completion *completions;   /* ops.c */
    struct forkserver *forkserver;            /* where executors come from */
    struct execpool *pool;                    /* executors started ahead */
};

/* server.c */
void server_log(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct hosted *hosted_find(struct server *srv, const char *name);
/* A named session, started now; NULL (and err said) when it cannot be. */
struct hosted *hosted_open(struct server *srv, const char *name, const struct server_policy *pol,
                           char *err, size_t errlen);
void hosted_close(struct hosted *h);
void hosted_watch(struct hosted *h, struct client *c);
/* Takes run (its fields filled in) and runs it in h, or in a fresh
 * isolated session under policy pol when h is NULL. */
void run_start(struct server *srv, struct hosted *h, const struct server_policy *pol,
               struct run *run);
void run_free(struct run *run);
struct run *run_find(struct server *srv, const json_t *id, struct client *c);
/* An input line for the run waiting in input(). */
void run_input(struct run *run, const char *text, size_t len, bool eof);
/* The client asked: interrupted if it runs, cancelled if it waits. */
void run_interrupt(struct run *run);
const struct server_policy *server_policy(const struct server *srv, const char *name);
uint64_t server_uptime_ms(const struct server *srv);
void server_maybe_finish(struct server *srv);

/* ops.c */
void ops_handle(struct client *c, const char *line, size_t len);
/* An executor's completions, for the request that asked. */
void ops_completions(struct hosted *h, uint64_t id, const struct proto_str *m, size_t n,
                     size_t start, size_t end);
/* Drops the completion requests of a client or a session that is gone. */
void ops_forget(struct server *srv, const struct client *c, const struct hosted *h);

/* listen.c: the socket at path, ready for uv_listen (said on stderr when
 * it cannot be); whether a peer of uid may be served. */
int listen_open(struct server *srv, const char *path);
bool listen_allowed(const struct server *srv, uid_t uid);

/* reply.c */
void reply_send(struct client *c, json_t *obj);   /* takes obj */
void reply_error(struct client *c, const json_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A JSON string of text, bad UTF-8 replaced with U+FFFD. */
json_t *reply_text(const char *data, size_t len);
void reply_done(struct run *run, const struct session_result *r);
void reply_output(struct run *run, int fd, const char *data, size_t len);
void reply_background(struct hosted *h, int fd, const char *data, size_t len);
void reply_input_request(struct run *run, const char *prompt, size_t len,
                         enum proto_input_kind kind);

#endif
