/* The terminal front end: stdin and stdout are a terminal; GNU readline. */
#ifndef AIOBOX_TERM_H
#define AIOBOX_TERM_H

#include <uv.h>

#include "front.h"
#include "session.h"

/* Runs until the session ends; returns the process exit status, or
 * -ENOTTY before doing anything when the terminal cannot be opened for
 * input (the caller then reads it as a pipe). */
int term_front_run(uv_loop_t *loop, const struct session_config *scfg,
                   const struct front_config *fcfg);

#endif
