/* Test driver for the real aiobox-executor: spawns it over a socketpair
 * (fd 3 in the child, fd 1 and fd 2 as pipes, an empty environment, as
 * the supervisor does), speaks the protocol through common/proto.h and
 * logs every message it receives, so tests can look at what came and in
 * which order. Every wait takes a deadline: a test fails, never hangs. */
#ifndef AIOBOX_TEST_XPROC_H
#define AIOBOX_TEST_XPROC_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A failure guard, not a timing target: generous for sanitizer builds. */
#define XP_TIMEOUT_MS 30000

struct xp_buf {
    char *data;   /* NUL-terminated */
    size_t len, cap;
};

/* A received message, copied out of its frame. */
struct xp_msg {
    enum proto_type type;
    bool has_id;
    uint64_t id;
    int stream;          /* output */
    int status;          /* result */
    int64_t code;        /* result exit code, ready pid */
    char *text;          /* output text, result display, input prompt,
                            error message, ready python version */
    char *extra;         /* ready sandbox */
    char **matches;      /* completions */
    size_t nmatches;
};

struct xp {
    pid_t pid;
    int chan;            /* our end of the channel, -1 once closed */
    int fd1, fd2;        /* the child's fd 1 and fd 2 */
    struct proto_reader reader;
    struct xp_msg *log;
    size_t nlog, caplog;
    struct xp_buf raw1, raw2;
    bool eof;            /* the channel closed */
    bool reaped;
    int wstatus;
};

/* What a wait looks for. */
struct xp_want {
    enum proto_type type;  /* 0: any */
    bool any_id;           /* else has_id/id must match */
    bool has_id;
    uint64_t id;
    const char *needle;    /* in the text, if not NULL */
};

void xp_buf_add(struct xp_buf *b, const char *data, size_t len);
void xp_buf_free(struct xp_buf *b);

/* The binary under test: $AIOBOX_EXECUTOR. */
const char *xp_binary(void);
/* Spawns the executor with argv[1..] = args (NULL-terminated, at most
 * XP_ARGS_MAX; NULL means "--fd 3 --no-sandbox"). Returns 0 or -1. More
 * arguments make the child exit with 125 instead of running. */
#define XP_ARGS_MAX 200
int xp_spawn(struct xp *x, const char *const *args);
/* As xp_spawn, but with the channel end given (used by the parent-death
 * test, whose spawner is not the test process). chan_child is closed. */
int xp_spawn_fds(struct xp *x, int chan_child, const char *const *args);
/* Spawns, sends hello, waits for ready. Returns the ready message or NULL. */
const struct xp_msg *xp_start(struct xp *x);
int xp_send(struct xp *x, const struct proto_msg *m);
int xp_send_raw(struct xp *x, const void *data, size_t len);
int xp_send_exec(struct xp *x, uint64_t id, const char *source);
int xp_send_complete(struct xp *x, uint64_t id, const char *text);
int xp_send_input_reply(struct xp *x, uint64_t id, bool eof, const char *text);

/* Waits for a message matching want that arrives after log index *from
 * (updated past it). Returns it, or NULL on timeout or EOF. */
const struct xp_msg *xp_wait(struct xp *x, struct xp_want want, size_t *from,
                             int timeout_ms);
/* Sends exec and waits for its result. */
const struct xp_msg *xp_exec(struct xp *x, uint64_t id, const char *source);
/* Output text of one stream with that tag (has_id false: untagged),
 * concatenated in order; malloc'd. */
char *xp_output(struct xp *x, bool has_id, uint64_t id, int stream);
/* Messages of type (and id, for messages that carry one) in the log. */
size_t xp_count(struct xp *x, enum proto_type type, uint64_t id);
/* Log index of the first such message, or (size_t)-1. */
size_t xp_index(struct xp *x, enum proto_type type, uint64_t id);
/* Reads until the output xp_output would give has at least min_bytes.
 * Returns true if it did. */
bool xp_wait_output(struct xp *x, bool has_id, uint64_t id, int stream, size_t min_bytes,
                    int timeout_ms);
/* Reads until fd 1 (or 2) has shown needle. Returns true if it did. */
bool xp_wait_raw(struct xp *x, int fd, const char *needle, int timeout_ms);
/* Reads fd 1 and fd 2 until both close (the executor has ended). */
void xp_drain(struct xp *x, int timeout_ms);
/* Waits for the channel to close. Returns true if it did. */
bool xp_wait_eof(struct xp *x, int timeout_ms);
/* Waits for the process to end; returns its wait status, or -1. */
int xp_wait_exit(struct xp *x, int timeout_ms);
/* Closes our end of the channel. */
void xp_close_channel(struct xp *x);
/* Kills the executor if it still runs, reaps it, frees everything. */
void xp_close(struct xp *x);

/* Runs argv (argv[0] a path) with an empty environment, stdin fed from
 * input, stdout and stderr captured; returns the wait status or -1. */
int xp_run(const char *const *argv, const char *input, struct xp_buf *out,
           struct xp_buf *err, int timeout_ms);

#endif
