/* What the front ends share: their configuration, and the handling of
 * text that crosses from the user to the executor and back (front/text.c). */
#ifndef AIOBOX_FRONT_H
#define AIOBOX_FRONT_H

#include <stdbool.h>
#include <stddef.h>

struct front_config {
    const char *history_path;  /* terminal only; NULL: the default file */
    const char *banner;        /* printed on stderr at start; NULL: none */
};

/* A line as typed becomes valid UTF-8 for the wire. Returns a malloc'd copy
 * (NUL-terminated, *outlen set: the NUL's byte may take one more, such
 * as a newline), or NULL when out of memory; when bytes had
 * to be replaced, warn() is given a notice saying so (without "aiobox: "
 * and without a newline). */
char *front_clean_line(const char *line, size_t len, size_t *outlen, unsigned long lineno,
                       void (*warn)(void *fe, const char *msg), void *fe);

/* A prompt that user code chose (sys.ps1, sys.ps2, input()'s argument),
 * made fit to show. With sanitize set (the output is a terminal), escape
 * sequences other than colours and control characters become visible
 * text, as sanitize.c does for output. With readline_marks set (the
 * terminal front end), it begins with a reset of the attributes, and each
 * colour sequence is wrapped in \001 \002 so that readline leaves it out
 * of the prompt's width. Returns a malloc'd, NUL-terminated copy (*outlen set; it
 * may hold NULs only without sanitize), or NULL when out of memory. */
char *front_prompt(const char *text, size_t len, bool sanitize, bool readline_marks,
                   size_t *outlen);

#endif
