/* The session engine: one REPL session's statements, in order, on one
 * executor at a time (plus a warm spare), with interrupts, timeouts, the
 * output cap, deaths, restarts and the replay journal. It knows nothing of
 * terminals, pipes or sockets: a front end submits statements and hears of
 * everything through struct session_frontend.
 *
 * The contract with front ends: every callback is delivered from the
 * loop, in the order the events happened, and never from inside a call the
 * front end made. A front end may call any session function from inside a
 * callback; what that call causes is delivered after the callback returns.
 * The data a callback receives is valid only during the callback. */
#ifndef AIOBOX_SESSION_H
#define AIOBOX_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "execpool.h"
#include "execproc.h"
#include "policy.h"

/* How a statement ended. */
enum session_status {
    SESSION_OK,            /* ran to the end */
    SESSION_ERROR,         /* an exception (its traceback went to stderr) */
    SESSION_INTERRUPTED,   /* SIGINT or the timeout: KeyboardInterrupt or cancellation */
    SESSION_EXIT,          /* exit(), quit(), SystemExit: see exit_code */
    SESSION_CRASHED,       /* the executor died while it ran */
    SESSION_NOT_RUN,       /* refused or dropped before it started: see why */
};

struct session_result {
    enum session_status status;
    /* The executor's result, when it sent one (OK, ERROR, INTERRUPTED,
     * EXIT): its ps1/ps2 are user code's next prompts, unsanitised. */
    const struct proto_result *r;
    int exit_code;            /* SESSION_EXIT */
    bool timed_out;           /* the statement's wall-clock limit fired */
    bool output_capped;       /* its output reached the cap and was cut */
    bool cancelled;           /* session_cancel ended it */
    /* SESSION_CRASHED: how the executor ended (a signal number, or -1 and
     * an exit status), and the call the sandbox trapped (NULL if none). */
    int term_signal;
    int exit_status;
    const char *denied_syscall;
    const char *why;          /* CRASHED, NOT_RUN: in words; else NULL */
    uint64_t wall_us;         /* from its start in the executor to its end */
};

struct session_frontend {
    /* Output of user code, as the executor wrote it: fd 1 or 2; raw is
     * true for bytes written to the executor's own fds (os.write, C
     * code), false for sys.stdout/sys.stderr. id: the statement running
     * when it was written, 0 between statements (background tasks). A
     * front end that shows it on a terminal sanitises it. */
    void (*output)(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len);
    /* aiobox's own words: a notice about the session (one line, with no
     * "aiobox: " prefix and no newline), about statement id or 0. */
    void (*notice)(void *fe, uint64_t id, const char *text, size_t len);
    /* Text aiobox prints for the user on stdout (':' commands). */
    void (*text)(void *fe, const char *text, size_t len);
    /* A statement finished, however: every id session_submit returned
     * gets exactly one done(), in submission order. */
    void (*done)(void *fe, uint64_t id, const struct session_result *r);
    /* User code wants a line: answer with session_input_reply. kind says
     * whose: input() (a line without its newline), getpass() (not echoed),
     * or a read of sys.stdin (the answer keeps its newline). id is the
     * statement that asked, 0 when none runs (a background task).
     * Statements submitted after it are back in the session's queue, not
     * yet sent; a front end that took their lines from the same input the
     * answer comes from withdraws them (session_withdraw). */
    void (*input)(void *fe, uint64_t id, const char *prompt, size_t len,
                  enum proto_input_kind kind);
    /* The answer to session_complete: the matches replace code[start:end]
     * (code points). */
    void (*completions)(void *fe, uint64_t id, const struct proto_str *matches, size_t n,
                        size_t start, size_t end);
    /* The answer to session_inspect: a MIME bundle (JSON text), or found
     * false. Optional (NULL: none asked). */
    void (*inspection)(void *fe, uint64_t id, bool found, const char *data, size_t len);
    /* display() and clear_output() (sessions with rich set); data and
     * metadata are JSON objects as text; d->origin as output_from's.
     * Optional. */
    void (*display)(void *fe, uint64_t id, const struct proto_display *d);
    void (*clear_output)(void *fe, uint64_t id, bool wait);
    /* Optional, for rich sessions: when set, output() and clear_output()
     * come here instead, with origin, the statement whose code wrote it
     * or created the task that did (0: not said, as for raw output). A
     * notebook shows a background task's output under the cell that
     * started the task, whichever cell runs when it writes. */
    void (*output_from)(void *fe, uint64_t id, uint64_t origin, int fd, bool raw,
                        const char *data, size_t len);
    void (*clear_output_from)(void *fe, uint64_t id, uint64_t origin, bool wait);
    /* Text help() wants paged. Optional: without it the text is output. */
    void (*page)(void *fe, uint64_t id, const char *text, size_t len);
    /* exit(), quit() or SystemExit ended the session with this code; its
     * statement's done() came first. */
    void (*exit)(void *fe, int code);
    /* The executor is gone with everything user code set in it, sys.ps1
     * and sys.ps2 included: the next prompts are the defaults. Comes
     * before the done() of the statement it ended. */
    void (*state_lost)(void *fe);
};

enum session_restore { SESSION_RESTORE_NONE, SESSION_RESTORE_REPLAY };

struct session_config {
    struct execproc_config exec;
    double timeout_s;          /* statement wall clock; 0 = none */
    double grace_s;            /* interrupt to kill; 0 = never kill */
    size_t output_cap;         /* bytes per statement; 0 = none */
    bool quiet;                /* no "executor ready" notice */
    bool standby;              /* keep a warm spare executor */
    enum session_restore restore;
    /* A death ends the session's executor for good: no restart (an
     * isolated run's session); queued statements end as not run. */
    bool no_restart;
    /* Notebook behaviour in the executor: display(), clear_output(), rich
     * values, help() paged through page(). */
    bool rich;
    /* The user's stdin is a terminal: sys.stdin.isatty() is true there,
     * and help() is paged through page(). */
    bool terminal;
    /* exit(), quit() and SystemExit end the session (a REPL): after that
     * statement's done() and exit() no statement runs, and the executor
     * finishes as CPython ends (see session_finish). */
    bool exit_ends_session;
    /* Where ready executors come from (NULL: each is started when
     * needed). A session with a pool keeps no warm spare. */
    struct execpool *pool;
    /* The policy's limit on CPU used while no statement runs (share 0:
     * none): warned of, or the executor killed and restarted. */
    struct policy_idle_cpu idle_cpu;
};

/* The longest statement source an exec frame carries (the rest of the
 * frame's limit is left for its other fields). */
#define SESSION_SOURCE_MAX (PROTO_FRAME_MAX_EXEC - 4096)

enum session_mode {
    SESSION_SINGLE,   /* one statement as the push loop assembled it */
    SESSION_BLOCK,    /* a pasted block: its statements in order, as 3.13 runs a paste */
    /* A notebook cell: its statements in order, top-level await allowed;
     * the value of a final expression is returned in the result (as a
     * MIME bundle), not printed. */
    SESSION_CELL,
};

/* How one statement runs, where it differs from the session's defaults. */
struct session_run_opts {
    enum session_mode mode;
    double timeout_s;       /* > 0: this limit, if lower than the session's */
    size_t output_cap;      /* > 0: this cap, if lower than the session's */
    /* Interrupt the statement when its output reaches the cap (a machine
     * client wants a bounded run, not a truncated one that goes on). */
    bool stop_at_cap;
    /* SESSION_CELL: the value's rich representations too (_repr_html_ and
     * the like), not only text/plain. */
    bool rich;
    /* Not shown to anyone: no displayhook output, no history. */
    bool silent;
};

/* What a session can say about itself. */
struct session_info {
    pid_t pid;                 /* the executor's, or 0 when none runs */
    bool ready;
    uint64_t uptime_ms;        /* of that executor, serving the session */
    uint64_t statements_run;
    unsigned restarts;         /* executors replaced: deaths and requests */
    unsigned deaths;
    long rss_kib;              /* the executor's resident memory, or -1 */
    bool busy;
    bool gave_up;              /* the restart budget is spent */
    /* CPU used while idle: this share of one CPU over the last
     * idle_cpu_span_s seconds (0: not measured, no limit or not idle). */
    double idle_cpu_share, idle_cpu_span_s;
};

struct session;

/* 0, or -ENOMEM. Spawns nothing yet: see session_start. */
int session_new(struct session **out, uv_loop_t *loop, const struct session_config *cfg,
                const struct session_frontend *fe, void *fe_data);
/* Spawns the first executor. Apart from session_new so that a front end
 * chooses the moment: as early as it can, since the executor's start-up
 * is what the first answer waits for. */
void session_start(struct session *s);
/* Queues source (valid UTF-8) to run after everything submitted before
 * it; returns its id (never 0). Its done() always follows, also when it
 * cannot run (too long, no executor, out of memory). The session sends
 * some statements ahead of the running one. */
uint64_t session_submit(struct session *s, const char *src, size_t len, enum session_mode mode);
/* session_submit with options (NULL: the defaults). */
uint64_t session_run(struct session *s, const char *src, size_t len,
                     const struct session_run_opts *opts);
/* Ends statement id: dropped if it has not been sent (its done() says
 * NOT_RUN, why "cancelled"), interrupted if it runs. False when no such
 * statement is waiting or running. */
bool session_cancel(struct session *s, uint64_t id);
void session_info(const struct session *s, struct session_info *info);
/* Runs a ':' command typed at the primary prompt; its done() has id 0. */
void session_command(struct session *s, const char *line, size_t len);
/* Whether any statement the front end submitted is not yet done (the
 * replays of --restore replay are not the front end's). */
bool session_busy(const struct session *s);
/* Drops every submitted statement that has not been sent, with no done()
 * for them: the front end submits them again. */
void session_withdraw(struct session *s);
/* Ctrl-C: interrupt the running statement (nothing when idle). */
void session_interrupt(struct session *s);
void session_input_reply(struct session *s, const char *text, size_t len, bool eof);
/* Asks for completions at cursor (in code points) of code; returns the
 * request id, 0 if the executor cannot answer now (busy, or code is longer
 * than SESSION_SOURCE_MAX): then no
 * completions() follows. Asked before the executor is ready, it is sent
 * once it is. */
uint64_t session_complete(struct session *s, const char *code, size_t len, size_t cursor);
/* Asks what the name at cursor is (detail 1: with its source); the
 * answer comes through inspection(), as session_complete's. */
uint64_t session_inspect(struct session *s, const char *code, size_t len, size_t cursor,
                         int detail);
/* The front end cannot take more output now (its reader stalls): stop
 * reading from the executor, which then waits, until called with false. */
void session_hold_output(struct session *s, bool hold);
/* Stops every executor and closes every handle; then frees s and calls
 * closed(arg), from the loop. No callback comes after this call. */
void session_close(struct session *s, void (*closed)(void *arg), void *arg);
/* Ends the session as CPython's REPL ends at end of input, or after exit()
 * with exit_ends_session: the executor joins its threads, runs its atexit
 * handlers and finalises, and what it prints meanwhile is still delivered
 * (output, notices). Statements not yet done are dropped with no done().
 * An executor not finished within the grace period (2 s when none) is
 * killed, with a notice. Then the session closes as by session_close, and
 * finished(arg) is called from the loop. */
void session_finish(struct session *s, void (*finished)(void *arg), void *arg);

#endif
