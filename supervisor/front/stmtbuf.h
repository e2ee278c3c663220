/* The REPL's push loop: lines accumulate until the incomplete-input
 * detector says the statement is complete (or wrong), exactly as
 * code.InteractiveConsole.push does; the buffer is the lines joined with
 * "\n".
 *
 * The detector (pyparse_buf) does linear work over a statement, and its
 * verdict usually comes at once. When a verdict would take more than a
 * couple of milliseconds it is computed on a thread of its own and comes
 * later, through judged(), from the loop: the loop meanwhile goes on
 * (signals, output, the executor). */
#ifndef AIOBOX_STMTBUF_H
#define AIOBOX_STMTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

enum stmtbuf_state {
    STMTBUF_MORE,      /* incomplete: show the continuation prompt */
    STMTBUF_READY,     /* complete or erroneous: submit the text */
    STMTBUF_NOTHING,   /* only blank lines and comments: nothing to run */
    STMTBUF_PENDING,   /* being judged: judged() brings one of the above */
};

struct stmtbuf;

/* 0 or -ENOMEM. */
int stmtbuf_new(struct stmtbuf **out, uv_loop_t *loop,
                void (*judged)(void *arg, enum stmtbuf_state state), void *arg);
/* Cancels any judgement on its way (judged() does not come after this)
 * and closes b: its memory goes once the loop has run again. */
void stmtbuf_free(struct stmtbuf *b);
/* Appends a line and judges the buffer: a state, or a negative errno
 * (-ENOMEM: the line was not added). Nothing may be pushed while a
 * judgement is PENDING. */
int stmtbuf_push(struct stmtbuf *b, const char *line, size_t len);
/* The buffer's text (NUL-terminated) and its length. */
const char *stmtbuf_text(const struct stmtbuf *b, size_t *len);
size_t stmtbuf_lines(const struct stmtbuf *b);
bool stmtbuf_empty(const struct stmtbuf *b);
bool stmtbuf_pending(const struct stmtbuf *b);
/* Forgets the buffered lines (after READY/NOTHING, or on Ctrl-C), and
 * cancels a pending judgement. */
void stmtbuf_reset(struct stmtbuf *b);

#endif
