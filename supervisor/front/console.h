/* The user's stdout and stderr as the terminal and pipe front ends write
 * them: buffered and non-blocking (outbuf), executor output made safe for
 * a terminal when that fd is one (sanitize), and aiobox's notices in one
 * form: "aiobox: TEXT" on stderr. */
#ifndef AIOBOX_CONSOLE_H
#define AIOBOX_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

struct console;

/* pressure(arg, true): the reader stalls and output queues up (stop
 * producing: session_hold_output); false: it drained. 0 or -errno. */
int console_open(struct console **out, uv_loop_t *loop,
                 void (*pressure)(void *arg, bool high), void *arg);
bool console_is_tty(const struct console *c, int fd);
/* Output of user code (see session_frontend.output). */
void console_output(struct console *c, int fd, bool raw, const char *data, size_t len);
/* Resets the terminal's attributes (SGR 0). */
#define CONSOLE_RESET "\x1b[0m"

/* aiobox's own notice: "aiobox: " text "\n" on stderr; at a terminal,
 * after a reset of the attributes user output may have set. */
void console_notice(struct console *c, const char *text, size_t len);
/* aiobox's own text, written as it is. */
void console_write(struct console *c, int fd, const char *data, size_t len);
void console_str(struct console *c, int fd, const char *s);
/* A stdio stream onto fd 1 (for readline); NULL when out of memory. */
FILE *console_stream(struct console *c);
/* Bytes queued and not yet written, both fds. */
size_t console_pending(const struct console *c);
/* Whether anything queued can still be written (the readers are there). */
void console_drain(struct console *c, int deadline_ms);
/* At a terminal (either fd): resets the attributes, so that none set by
 * user output outlives aiobox in the user's shell. */
void console_reset_attributes(struct console *c);
void console_close(struct console *c);

#endif
