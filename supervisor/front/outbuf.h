/* Output to the user's fds, buffered and never blocking the loop, as tmux
 * writes to its clients: a write only queues; the loop writes what the fd
 * takes when it takes it. A reader that stalls (a terminal stopped with
 * ^S, a pipe nobody reads) stalls the output alone: past a high-water mark
 * the owner is told, and should stop producing (session_hold_output) until
 * told again, so the buffer stays bounded and nothing is dropped.
 *
 * The user's descriptions are never made non-blocking, since others share
 * them (the shell, a pipeline's other writers): a terminal and a pipe are
 * reopened as private descriptions, a socket is written with MSG_DONTWAIT,
 * and a regular file, whose writes do not stall, is written directly. */
#ifndef AIOBOX_OUTBUF_H
#define AIOBOX_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

/* Above this many bytes queued the owner hears pressure(true); below the
 * low mark, pressure(false). */
#define OUTBUF_HIGH ((size_t)1 << 20)
#define OUTBUF_LOW ((size_t)64 << 10)

struct outbuf;

/* For fd (1 or 2). When fds 1 and 2 are one file (outbuf_same_file), the
 * caller uses the outbuf of fd 1 for both, so their output keeps its
 * order. 0, or a negative errno. */
int outbuf_open(struct outbuf **out, uv_loop_t *loop, int fd,
                void (*pressure)(void *arg, bool high), void *arg);
/* Whether fds a and b are one file (a terminal for both, or 2>&1). */
bool outbuf_same_file(int a, int b);
/* Queues data; never blocks. Once the reader is gone (EPIPE), data is
 * discarded: there is no one left to show it to. */
void outbuf_write(struct outbuf *o, const char *data, size_t len);
void outbuf_str(struct outbuf *o, const char *s);
size_t outbuf_pending(const struct outbuf *o);
/* A stdio stream whose writes go to o (for readline's rl_outstream);
 * NULL when out of memory. Closed by outbuf_close. */
FILE *outbuf_stream(struct outbuf *o);
/* Writes what is queued until it is all out or until deadline_ms of
 * waiting: for the end of a session, when nothing else is left to do. */
void outbuf_drain(struct outbuf *o, int deadline_ms);
/* Frees o (and its stream); what is still queued is dropped. */
void outbuf_close(struct outbuf *o);

#endif
