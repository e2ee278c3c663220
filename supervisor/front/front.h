/* The two front ends: a terminal with readline (term.c) and piped stdin
 * (pipein.c). Each drives a session and reports the exit status. */
#ifndef AIOBOX_FRONTEND_H
#define AIOBOX_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "session.h"

struct frontend_config {
    const char *history_path;  /* terminal only; NULL: no history file */
    const char *banner;        /* printed on stderr at start; NULL: none */
};

/* Both run until the session ends and return the process exit status. */
int pipein_run(uv_loop_t *loop, const struct session_config *scfg,
               const struct frontend_config *fcfg);
int term_run(uv_loop_t *loop, const struct session_config *scfg,
             const struct frontend_config *fcfg);

/* Shared by both: a line as typed becomes valid UTF-8 for the wire. Returns
 * a malloc'd copy (NUL-terminated, *outlen set) and says on stderr when
 * bytes had to be replaced. */
char *frontend_clean_line(const char *line, size_t len, size_t *outlen, unsigned long lineno,
                          void (*warn)(void *fe, const char *msg), void *fe);

/* A prompt that user code chose (sys.ps1, sys.ps2, input()'s argument),
 * made fit to show. With sanitize set (the output is a terminal), escape
 * sequences other than colours and control characters become visible
 * text, as sanitize.c does for output. With readline_marks set, each colour
 * sequence is wrapped in \001 \002 so that readline leaves it out of the
 * prompt's width. Returns a malloc'd, NUL-terminated copy (*outlen set; it
 * may hold NULs only without sanitize), or NULL when out of memory. */
char *frontend_prompt(const char *text, size_t len, bool sanitize, bool readline_marks,
                      size_t *outlen);

#endif
