/* The REPL session: statements in order, one executor at a time (plus a
 * warm spare), interrupts, timeouts, the output cap, deaths and restarts.
 * It knows nothing about terminals: a front end (term.c, pipein.c) feeds it
 * statements and receives output through session_frontend. */
#ifndef AIOBOX_SESSION_H
#define AIOBOX_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "execproc.h"

struct session_frontend {
    /* Output for the user's fd 1 or 2, already sanitised when that fd is
     * a terminal. */
    void (*write)(void *fe, int fd, const char *data, size_t len);
    /* A statement finished, whatever its outcome. r is the executor's
     * result (its ps1/ps2 are the next prompts, unsanitised), or NULL when
     * there was none: the executor died, the statement was dropped, or a
     * supervisor command ran (id 0). */
    void (*done)(void *fe, uint64_t id, const struct proto_result *r);
    /* input() in user code wants a line: answer with session_input_reply.
     * running is the statement that asked, 0 when none runs (a background
     * task). Statements submitted after it are back in the session's
     * queue, not yet sent; a front end that took their lines from the same
     * input the answer comes from withdraws them (session_withdraw). */
    void (*input)(void *fe, uint64_t running, const char *prompt, size_t len);
    void (*completions)(void *fe, uint64_t id, const struct proto_str *matches, size_t n);
    /* exit(), quit() or SystemExit: the session is over with this code. */
    void (*exit)(void *fe, int code);
    /* The executor is gone with everything user code set in it, sys.ps1
     * and sys.ps2 included: the next prompts are the defaults. Called
     * before the statements it ran are finished. */
    void (*state_lost)(void *fe);
};

enum session_restore { SESSION_RESTORE_NONE, SESSION_RESTORE_REPLAY };

struct session_config {
    struct execproc_config exec;
    double timeout_s;          /* statement wall clock; 0 = none */
    double grace_s;            /* interrupt to kill */
    size_t output_cap;         /* bytes per statement */
    bool quiet;
    bool standby;              /* keep a warm spare executor */
    enum session_restore restore;
    bool sanitize_fd[3];       /* which of our fds are terminals */
};

struct session;

/* The longest statement source an exec frame carries (the rest of the
 * frame's limit is left for its other fields). */
#define SESSION_SOURCE_MAX (PROTO_FRAME_MAX_EXEC - 4096)

int session_new(struct session **out, uv_loop_t *loop, const struct session_config *cfg,
                const struct session_frontend *fe, void *fe_data);
/* Spawns the first executor. Apart from session_new so that a front end
 * chooses the moment: as early as it can, since the executor's start-up
 * is what the first answer waits for. */
void session_start(struct session *s);
/* Queues a complete statement (the executor reports any error in it), or
 * with block set a pasted block of statements. Returns its id. Statements
 * run in order; the session sends some ahead of the running one. done()
 * may come during the call (the statement could not be sent, or is longer
 * than SESSION_SOURCE_MAX), and may then come out of order. */
uint64_t session_submit(struct session *s, const char *src, size_t len, bool block);
/* Runs a ':' command typed at the primary prompt. */
void session_command(struct session *s, const char *line, size_t len);
bool session_busy(const struct session *s);
/* Drops every statement submitted that is not running, without a done
 * call: the front end will submit them again. */
void session_withdraw(struct session *s);
bool session_ready(const struct session *s);
/* Ctrl-C: interrupt the running statement (no-op when idle). */
void session_interrupt(struct session *s);
void session_input_reply(struct session *s, const char *text, size_t len, bool eof);
/* Asks for completions of text; returns the request id, 0 if the executor
 * cannot answer now (busy, not ready). */
uint64_t session_complete(struct session *s, const char *text, size_t len);
/* Stops every executor and closes every handle; frees s, then calls
 * closed(arg) (from the loop). */
void session_close(struct session *s, void (*closed)(void *arg), void *arg);

#endif
