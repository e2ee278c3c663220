/* Text help() wants paged at the terminal (the session's page callback):
 * shown a screenful at a time with a "-- more --" prompt between, as
 * pydoc's own pager does when it has no other. The text comes from the
 * executor: it is made safe for the terminal, and pydoc's overstrikes
 * (X\bX bold, _\bX underlined) become attributes. The terminal front end
 * feeds it the keys and runs $PAGER instead when that is set. */
#ifndef AIOBOX_PAGER_H
#define AIOBOX_PAGER_H

#include <stdbool.h>
#include <stddef.h>

#include "console.h"

struct pager;

/* NULL when out of memory. rows, cols: the terminal's size. */
struct pager *pager_new(const char *text, size_t len, int rows, int cols);
/* Whether the text fits on one screen (no paging needed). */
bool pager_fits(const struct pager *p);
/* Writes the first screenful, or all of it when it fits; false when
 * nothing is left to show (the pager is done). */
bool pager_start(struct pager *p, struct console *c);
/* One key typed at "-- more --": q quits, Enter shows one more line,
 * anything else a screenful. False once the pager is done. */
bool pager_key(struct pager *p, struct console *c, char key);
void pager_free(struct pager *p);

#endif
