/* Inside the session engine: the state every part of it shares, and what
 * each file offers the others. Front ends include session.h only.
 *
 *   session.c   life cycle, executor events, output routing, delivery of
 *               events to the front end (the contract in session.h)
 *   queue.c     statements: the queue, sending ahead, finishing
 *   journal.c   the replay journal (--restore replay)
 *   restart.c   deaths, the restart budget and the warm spare
 *   commands.c  the ':' commands
 *   idlecpu.c   CPU used while idle (its own header: idlecpu.h)
 */
#ifndef AIOBOX_SESSION_PRIV_H
#define AIOBOX_SESSION_PRIV_H

#include "idlecpu.h"
#include "session.h"

/* A statement from submission to its done(). */
struct stmt {
    struct stmt *next;
    uint64_t id;
    char *src;
    size_t len;
    struct session_run_opts opts;
    bool replay;            /* re-run from the journal: output suppressed, no done() */
    bool cancelled;         /* session_cancel: interrupted when it runs */
    /* Not to be sent: done(NOT_RUN) in its turn, for this reason (freed
     * with the statement when refused_owned). */
    const char *refused;
    bool refused_owned;
    uint64_t started_us;    /* when it became the running one */
};

/* A list of statements, oldest first. */
struct stmt_list {
    struct stmt *head, *tail;
    size_t count, bytes;
};

/* An event on its way to the front end (see deliver_events). */
enum event_kind {
    EV_OUTPUT, EV_NOTICE, EV_TEXT, EV_DONE, EV_INPUT, EV_COMPLETIONS, EV_EXIT, EV_STATE_LOST,
    EV_INSPECTION, EV_DISPLAY, EV_CLEAR_OUTPUT, EV_PAGE,
    EV_FINISHED,   /* session_finish is over: the session closes */
};

struct event {
    struct event *next;
    enum event_kind kind;
    uint64_t id;
    uint64_t origin;            /* OUTPUT, CLEAR_OUTPUT: the statement that made it, or 0 */
    int fd;
    bool raw;
    char *data;                 /* OUTPUT, NOTICE, TEXT, INPUT */
    size_t len;
    struct session_result res;  /* DONE: its strings are copies owned here */
    struct proto_result r;      /* DONE with an executor result: copied */
    bool has_r;
    struct proto_str *matches;  /* COMPLETIONS: copies */
    size_t nmatches;
    size_t start, end;          /* COMPLETIONS */
    int code;                   /* EXIT; INPUT: its kind; INSPECTION: found */
    bool flag;                  /* CLEAR_OUTPUT: wait */
    struct proto_display display; /* DISPLAY: its strings are copies */
};

/* A completion or inspection asked of the executor. */
struct query {
    struct query *next;
    uint64_t id;
    bool inspect;
    bool sent;
    char *code;
    size_t len, cursor;
    int detail;
};

struct session {
    uv_loop_t *loop;
    struct session_config cfg;
    const struct session_frontend *fe;
    void *fe_data;

    struct execproc *ep, *spare;
    bool ep_ready, spare_ready, ready_said;
    char sandbox_desc[320];     /* the last ready's sandbox, in its words */
    /* When ep became the session's executor: a spare may have waited long
     * before that, and only the time serving the session counts. */
    uint64_t ep_since_ms;
    bool output_held;

    /* queued: not sent. running: sent and running (or about to: the
     * executor runs statements in order). ahead: sent behind it. */
    struct stmt_list queued, ahead;
    struct stmt *running;
    uint64_t next_id, input_id;
    bool interrupted, timed_out;
    /* The running statement's `started` came: from then on no input for
     * "no statement" (id 0) is believed. */
    bool running_started;
    struct query *queries;      /* completions and inspections asked */
    size_t nqueries;
    /* An input request is unanswered: nothing may be sent, because the
     * executor drops every statement that reaches it meanwhile. */
    bool input_pending;

    /* Output of the running statement against its cap. */
    size_t out_cap, out_used;
    bool out_capped;
    /* The cap between statements: the executor keeps the last exec's, so
     * this side does the same (before any, the session's). */
    size_t stretch_cap;

    uv_timer_t timeout_timer, grace_timer, restart_timer, spare_timer, finish_timer;
    uv_check_t deliver_check;   /* hands queued events to the front end */
    uv_idle_t deliver_idle;     /* keeps the loop from sleeping meanwhile */
    int handles_open;
    bool closing;
    /* The executor is ending for good (shutdown sent, or SystemExit ended
     * a REPL session): its death is its end, not a crash. */
    bool ending;
    /* session_finish was called: closing follows the executor's end. */
    bool finishing;
    void (*finished_cb)(void *);
    void *finished_arg;
    void (*closed_cb)(void *);
    void *closed_arg;

    struct event *events, *events_tail;

    /* The idle-CPU limit's watcher (NULL: no limit). */
    struct idlecpu *idlecpu;

    /* restart.c */
    int rapid_deaths, spare_failures;
    unsigned restarts, deaths, restart_requests;
    bool gave_up;
    uint64_t statements_run;

    /* journal.c */
    struct stmt_list journal;
    bool journal_full;
    size_t replay_total, replay_done;
    uint64_t replay_started_ms;
};

uint64_t session_now_ms(void);
uint64_t session_now_us(void);

/* session.c: events for the front end, queued and delivered from the loop */
void emit_output(struct session *s, uint64_t id, int fd, bool raw, const char *data, size_t len);
void emit_notice(struct session *s, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void emit_text(struct session *s, const char *text, size_t len);
void emit_done(struct session *s, uint64_t id, const struct session_result *res);
void emit_state_lost(struct session *s);
void emit_input(struct session *s, uint64_t id, struct proto_str prompt,
                enum proto_input_kind kind);
void emit_exit(struct session *s, int code);
/* Whether the executor has statements to run, replays included. */
bool session_executor_busy(const struct session *s);
/* Starts or stops measuring CPU used while idle: to be called after
 * anything that may start or end a statement or change the executor. */
void session_idle_check(struct session *s);
/* Stops and frees the session's current executor or its spare. */
void session_drop_executor(struct session *s, struct execproc *ep);
/* The executor the session uses from now on (a spare, or a new one). */
void session_adopt(struct session *s, struct execproc *ep, bool ready);
int session_spawn(struct session *s, struct execproc **out, const struct execproc_cb *cb);
/* The session's next executor: a ready one from its pool (*ready true),
 * else one spawned now. 0, or a negative errno (said as a notice). */
int session_obtain(struct session *s, struct execproc **out, bool *ready);
extern const struct execproc_cb session_current_cb, session_spare_cb;

/* queue.c */
struct stmt *stmt_new(uint64_t id, const char *src, size_t len,
                      const struct session_run_opts *opts);
void stmt_free(struct stmt *st);
void stmt_list_append(struct stmt_list *l, struct stmt *st);
void stmt_list_prepend(struct stmt_list *l, struct stmt_list *front);
struct stmt *stmt_list_pop(struct stmt_list *l);
void stmt_list_clear(struct stmt_list *l);
/* Sends what may go now; finishes refused statements in their turn. */
void queue_pump(struct session *s);
/* The running statement ended: r is the executor's result, or NULL. */
void queue_finish_running(struct session *s, const struct session_result *res);
/* Puts the statements sent ahead back in front of the queue. */
void queue_unsend(struct session *s);
/* No executor will come: every queued statement ends as not run. */
void queue_fail_all(struct session *s, const char *why);
void queue_started(struct session *s, uint64_t id);
/* Whether a frame about statement id may come now: it is the running
 * statement and has started; else the executor is killed for it. */
bool queue_check_id(struct session *s, uint64_t id, const char *what);
void queue_result(struct session *s, const struct proto_result *r);
void queue_input(struct session *s, const struct proto_input *in);
void queue_interrupt(struct session *s);
bool queue_cancel(struct session *s, uint64_t id);
/* A statement's limits: its own where lower than the session's. */
double queue_timeout(const struct session *s, const struct stmt *st);
size_t queue_output_cap(const struct session *s, const struct stmt *st);
void queue_stop_timers(struct session *s);

/* journal.c */
void journal_add(struct session *s, const struct stmt *st);
void journal_truncate(struct session *s, size_t keep);
/* Puts the journal's statements, as replays, in front of the queue. */
void journal_begin_replay(struct session *s);
/* A replayed statement ended; ok: it succeeded. */
void journal_replayed(struct session *s, bool ok, const struct proto_result *r);
/* The executor died while replaying. */
void journal_replay_died(struct session *s);
void journal_drop_replays(struct session *s);

/* restart.c */
void restart_after_death(struct session *s, uint64_t uptime_ms);
void restart_now(struct session *s);
void restart_on_request(struct session *s);
void spare_want(struct session *s);
void spare_status(const struct session *s, char *buf, size_t len);

/* commands.c: session_command is public */

#endif
