/* Makes executor output safe for a terminal: invalid UTF-8 becomes U+FFFD,
 * colour sequences (CSI ... m) pass, every other escape sequence and control
 * character is shown as visible text instead of being obeyed, so output
 * cannot retitle the window, write the clipboard or clear the screen.
 * Stateful: a sequence split across chunks is judged whole. */
#ifndef AIOBOX_SANITIZE_H
#define AIOBOX_SANITIZE_H

#include <stddef.h>

struct sanitize {
    char pending[64];   /* an unfinished escape sequence or UTF-8 sequence */
    size_t npending;
};

void sanitize_init(struct sanitize *s);
/* Appends the safe form of data to *out (realloc'd, *outlen updated).
 * Returns 0, or -1 on allocation failure. */
int sanitize_feed(struct sanitize *s, const char *data, size_t len,
                  char **out, size_t *outlen, size_t *outcap);
/* Flushes what is pending (as visible text). */
int sanitize_finish(struct sanitize *s, char **out, size_t *outlen, size_t *outcap);

#endif
