/* The two front ends: a terminal with readline (term.c) and piped stdin
 * (pipein.c). Each drives a session and reports the exit status. */
#ifndef AIOBOX_FRONTEND_H
#define AIOBOX_FRONTEND_H

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

#endif
