/* The piped front end: stdin is not a terminal. */
#ifndef AIOBOX_PIPE_H
#define AIOBOX_PIPE_H

#include <uv.h>

#include "front.h"
#include "session.h"

/* Runs until the session ends; returns the process exit status. */
int pipe_front_run(uv_loop_t *loop, const struct session_config *scfg,
                   const struct front_config *fcfg);

struct engine;
/* The same on engine (taken), a named session's included: the end of
 * input then detaches, and the session goes on. */
int pipe_front_run_engine(uv_loop_t *loop, struct engine *engine,
                          const struct front_config *fcfg);

#endif
