/* Inside the JSON-lines server.
 *
 *   server.c   clients, hosted sessions, runs, executor slots, life cycle
 *   ops.c      the requests: one handler per op, checked before it runs
 *   attach.c   terminals attached to named sessions: the shared state,
 *              broadcast, input() answered by any of them, idle ends
 *   transcript.c  a named session's numbered output, its tail kept
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
    unsigned no;               /* names it to others (echoes, who ended a session) */
    bool gone;
};

/* --- transcripts (transcript.c) --------------------------------------------- */

enum transcript_kind {
    TX_STDOUT, TX_STDERR,      /* user code's output */
    TX_ECHO,                   /* a statement a client sent, with its prompts */
    TX_NOTICE,                 /* aiobox's words about the session */
    TX_ANSWER,                 /* a line a client typed for input(), with its prompt */
};

struct transcript_entry {
    struct transcript_entry *next;
    uint64_t seq;              /* bytes ever written, to the end of this entry */
    enum transcript_kind kind;
    unsigned client;           /* ECHO, ANSWER: who typed it */
    size_t len;
    char data[];
};

struct transcript {
    struct transcript_entry *head, *tail;
    size_t bytes, cap;
    uint64_t seq;              /* bytes ever written */
    uint64_t kept_from;        /* the seq the kept bytes start after */
};

void transcript_init(struct transcript *t, size_t cap);
void transcript_clear(struct transcript *t);
/* Appends an entry and returns it (NULL when len is 0 or memory ran out:
 * the bytes then count as lost). The buffer may hold more than its cap
 * until transcript_fit. */
const struct transcript_entry *transcript_add(struct transcript *t, enum transcript_kind kind,
                                              unsigned client, const char *data, size_t len);
void transcript_fit(struct transcript *t);
/* Calls each() for what came after seq since (skip: bytes of that entry
 * already seen); returns how many bytes after since are no longer kept. */
uint64_t transcript_replay(const struct transcript *t, uint64_t since,
                           void (*each)(void *arg, const struct transcript_entry *e,
                                        size_t skip),
                           void *arg);

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
    /* Sent by an attached terminal (op submit): its output is the
     * session's transcript, its answer short, and it outlives its client. */
    bool tty;
    bool withdrawn;            /* its client takes its lines back: no answer */
    bool echoed;               /* shown to the attached terminals */
    uint64_t queued_us;
};

/* How a session runs, fixed when it starts (attach options, else the
 * server's). */
struct hosted_opts {
    const struct server_policy *policy;   /* one of the server's; NULL: own */
    /* A policy file of the session's own (name and path owned). */
    struct server_policy own;
    double timeout_s;          /* < 0: the policy's */
    size_t output_cap;
    bool output_cap_set;
    double grace_s;            /* < 0: the server's */
    int restore;               /* < 0: the server's; else enum session_restore */
    int standby;               /* < 0: the server's; else 0 or 1 */
    char **allow_read, **allow_write;   /* owned; absolute paths */
    size_t n_allow_read, n_allow_write;
    double idle_timeout_s;     /* 0: never */
    size_t replay_bytes;
    /* Started by attach, as a REPL: exit() ends it. */
    bool terminal;
};

/* A ':' command asked by a client, answered when its done() comes. */
struct command_wait {
    struct command_wait *next;
    struct client *c;          /* NULL once gone */
    json_t *id;
    char *text;
    size_t len;
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
    /* Named sessions: how they run, and what attached terminals share
     * (attach.c). */
    struct hosted_opts opts;
    struct transcript tx;
    struct client **attached;
    size_t nattached;
    char *ps[2];               /* sys.ps1, sys.ps2 as last reported (raw) */
    size_t ps_len[2];
    bool input_waiting;        /* input() asks the attached terminals */
    uint64_t input_stmt;       /* the session's id of the asking statement, 0: none */
    char *input_prompt;
    size_t input_len;
    enum proto_input_kind input_kind;
    uint64_t input_serial;     /* numbers each request: a new one is told apart */
    bool said_running, said_input;   /* the state last broadcast */
    uint64_t said_ps_gen, ps_gen;
    struct command_wait *commands, *commands_tail;
    uv_timer_t *idle_timer;
    uint64_t active_ms;        /* the last statement, answer or attachment */
    uint64_t statements;       /* statements run, from any client */
    unsigned exit_client;      /* who ran the exit() that ends it */
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
    int lock_fd;               /* listen.c: held while we live; -1 */
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
    unsigned next_client_no;
    uv_timer_t linger;         /* on demand: the wait for a first client */
    bool linger_open;
};

/* server.c */
void server_log(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct hosted *hosted_find(struct server *srv, const char *name);
/* A named session, started now with opts (NULL: the server's defaults
 * under policy pol; taken over, freed on failure too); NULL (and err
 * said) when it cannot be. */
struct hosted *hosted_open(struct server *srv, const char *name, const struct server_policy *pol,
                           struct hosted_opts *opts, char *err, size_t errlen);
void hosted_close(struct hosted *h);
/* Ends a named session for a reason its attached terminals are told. */
void hosted_end(struct hosted *h, const char *why, int exit_code);
void hosted_opts_free(struct hosted_opts *o);
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
void server_maybe_idle(struct server *srv);

/* A run sent by an attached terminal (op submit), echoed to the others. */
void run_submit(struct hosted *h, struct run *run);
/* The client's statements on h that have not started are dropped with
 * no answer (it reads their lines again for input()). */
void run_withdraw(struct hosted *h, struct client *c);

/* attach.c */
bool attach_has(const struct hosted *h, const struct client *c);
/* Attaches c: the transcript after since, then the state; 0 or -ENOMEM. */
int attach_add(struct hosted *h, struct client *c, const json_t *id, uint64_t since,
               json_t *extra);
void attach_remove(struct hosted *h, struct client *c);
/* Into the transcript, and to every attached terminal (except: the one
 * that typed it, which shows it already; 0 for none). */
void attach_output(struct hosted *h, enum transcript_kind kind, unsigned except,
                   const char *data, size_t len);
/* A statement sent by client no, shown with the session's prompts. */
void attach_echo(struct hosted *h, unsigned no, const char *code, size_t len);
/* Says the session's state (running, input(), prompts) to every attached
 * terminal if it changed. */
void attach_state(struct hosted *h);
void attach_set_prompts(struct hosted *h, const struct proto_str *ps1, const struct proto_str *ps2);
/* input() in h, for the attached terminals to answer (stmt: the asking
 * statement's session id, 0: a background task). */
void attach_input(struct hosted *h, uint64_t stmt, const char *prompt, size_t len,
                  enum proto_input_kind kind);
/* An answer from c; false when nothing waits. */
bool attach_answer(struct hosted *h, struct client *c, const char *text, size_t len, bool eof);
/* The session ends: every attached terminal is told why, then let go. */
void attach_ended(struct hosted *h, const char *why, int exit_code, unsigned by);
/* Something happened in h: it is not idle (from now). */
void attach_active(struct hosted *h);
/* Arms or stops h's idle timer after a change. */
void attach_idle_check(struct hosted *h);
void attach_free(struct hosted *h);
/* The command's text, then its answer when its done() comes. */
void attach_command_text(struct hosted *h, const char *text, size_t len);
void attach_command_done(struct hosted *h);

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
void reply_submitted(struct run *run, const struct session_result *r);
void reply_output(struct run *run, int fd, const char *data, size_t len);
void reply_background(struct hosted *h, int fd, const char *data, size_t len);
/* aiobox's words about a session between runs (a restart, the idle-CPU
 * limit), to the clients that used it: a `notice` event. */
void reply_notice(struct hosted *h, const char *text, size_t len);
void reply_input_request(struct run *run, const char *prompt, size_t len,
                         enum proto_input_kind kind);

#endif
