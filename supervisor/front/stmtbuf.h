/* The REPL's push loop: lines accumulate until the detector says the
 * statement is complete (or wrong), exactly as code.InteractiveConsole.push
 * does: the buffer is the lines joined with "\n". */
#ifndef AIOBOX_STMTBUF_H
#define AIOBOX_STMTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct stmtbuf {
    char *buf;
    size_t len, cap;
    size_t lines;
};

enum stmtbuf_state {
    STMTBUF_MORE,      /* incomplete: show the continuation prompt */
    STMTBUF_READY,     /* complete or erroneous: send buf[0..len) */
    STMTBUF_NOTHING,   /* only blank lines and comments: nothing to run */
    STMTBUF_NOMEM,
};

void stmtbuf_init(struct stmtbuf *b);
void stmtbuf_free(struct stmtbuf *b);
enum stmtbuf_state stmtbuf_push(struct stmtbuf *b, const char *line, size_t len);
/* Forgets the buffered lines (after READY/NOTHING, or on Ctrl-C). */
void stmtbuf_reset(struct stmtbuf *b);
bool stmtbuf_empty(const struct stmtbuf *b);

#endif
