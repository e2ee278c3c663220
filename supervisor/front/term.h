/* The terminal front end: stdin and stdout are a terminal; GNU readline. */
#ifndef AIOBOX_TERM_H
#define AIOBOX_TERM_H

#include <stdbool.h>
#include <uv.h>

#include "front.h"
#include "session.h"

/* Runs until the session ends; returns the process exit status, or
 * -ENOTTY before doing anything when the terminal cannot be opened for
 * input (the caller then reads it as a pipe). */
int term_front_run(uv_loop_t *loop, const struct session_config *scfg,
                   const struct front_config *fcfg);

struct engine;
/* The same on engine (taken: closed or freed whatever happens), a named
 * session's included (then Ctrl-\\, SIGHUP and `:detach` leave it
 * running: *detached says so). */
int term_front_run_engine(uv_loop_t *loop, struct engine *engine,
                          const struct front_config *fcfg, bool *detached);

#endif
