/* What a front end (term.c, pipe.c) drives: a REPL session, either the
 * session engine in this process (engine_local_new) or a named session
 * hosted by the per-user server (client_attach, supervisor/client/). The
 * front end stays one program for both; it talks to struct engine and
 * hears of everything through struct engine_frontend, under the session
 * engine's contract (session.h): callbacks come from the loop, in order,
 * never from inside a call the front end made. */
#ifndef AIOBOX_ENGINE_H
#define AIOBOX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* A shared session's state, as every attached terminal sees it. */
struct engine_shared {
    bool running;              /* a statement runs, whoever sent it */
    struct proto_str ps1, ps2; /* the prompts user code set (raw) */
};

struct engine_frontend {
    /* Everything the session engine says, as in session.h. */
    struct session_frontend s;
    /* Shared sessions only (NULL: not wanted). The state changed: another
     * terminal's statement runs or ended, or user code changed the prompts.
     * Comes after the done() of the front end's own statement. */
    void (*shared)(void *fe, const struct engine_shared *st);
    /* The input() request last delivered was answered elsewhere (another
     * terminal) or went with its statement: stop asking. */
    void (*input_gone)(void *fe);
};

struct engine_ops {
    int (*bind)(void *impl, const struct engine_frontend *fe, void *fe_data);
    void (*start)(void *impl);
    uint64_t (*submit)(void *impl, const char *src, size_t len, enum session_mode mode);
    void (*command)(void *impl, const char *line, size_t len);
    bool (*busy)(const void *impl);
    void (*withdraw)(void *impl);
    void (*interrupt)(void *impl);
    void (*input_reply)(void *impl, const char *text, size_t len, bool eof);
    uint64_t (*complete)(void *impl, const char *code, size_t len, size_t cursor);
    void (*hold_output)(void *impl, bool hold);
    void (*close)(void *impl, void (*closed)(void *arg), void *arg);
    /* Optional (NULL: as close): the end of the user's input. */
    void (*finish)(void *impl, void (*finished)(void *arg), void *arg);
};

struct engine {
    const struct engine_ops *ops;
    void *impl;
    /* Shared sessions outlive the front end: closing one detaches. */
    bool detachable;
    void (*ended)(void *arg);   /* engine_close's or engine_finish's */
    void *ended_arg;
};

/* The session engine in this process, under cfg (copied). 0 or -ENOMEM. */
int engine_local_new(struct engine **out, uv_loop_t *loop, const struct session_config *cfg);

/* Wires the front end's callbacks in; once, before anything else. 0 or a
 * negative errno (then the front end gives up, and closes e). */
int engine_bind(struct engine *e, const struct engine_frontend *fe, void *fe_data);
/* Starts it: the executor spawns, or the replay of an attached session's
 * output is delivered. Apart from engine_bind so that the front end
 * chooses the moment (after its first prompt). */
void engine_start(struct engine *e);
/* As session_submit, session_command, session_busy, session_withdraw,
 * session_interrupt, session_input_reply, session_complete and
 * session_hold_output. */
uint64_t engine_submit(struct engine *e, const char *src, size_t len, enum session_mode mode);
void engine_command(struct engine *e, const char *line, size_t len);
bool engine_busy(const struct engine *e);
void engine_withdraw(struct engine *e);
void engine_interrupt(struct engine *e);
void engine_input_reply(struct engine *e, const char *text, size_t len, bool eof);
uint64_t engine_complete(struct engine *e, const char *code, size_t len, size_t cursor);
void engine_hold_output(struct engine *e, bool hold);
/* Ends the local session, or detaches from a shared one; calls closed(arg)
 * from the loop and frees e. No other callback comes after this call. */
void engine_close(struct engine *e, void (*closed)(void *arg), void *arg);
/* The user's input ended: the local session finishes as CPython's REPL
 * does (session_finish), a shared one is detached from. e stays until
 * finished(arg) is called from the loop, then is freed; engine_close
 * meanwhile cuts the finish short (then only its closed(arg) comes). */
void engine_finish(struct engine *e, void (*finished)(void *arg), void *arg);
/* Frees e when it was never bound or started (a front end that gave up). */
void engine_free(struct engine *e);

#endif
