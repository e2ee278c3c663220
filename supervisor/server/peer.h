/* A peer of the JSON-lines server: one client connection (a Unix socket)
 * or the process's own stdin/stdout (aiobox --json). It owns its
 * descriptors, splits what it reads into lines of at most PEER_LINE_MAX
 * bytes, and queues what it sends without ever blocking the loop. A peer
 * that breaks the rules (stops reading while its queue grows past
 * PEER_QUEUE_MAX) is marked bad and closed alone, as tmux treats a
 * misbehaving client; everything else goes on. */
#ifndef AIOBOX_PEER_H
#define AIOBOX_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

/* The longest request line (without its newline). */
#define PEER_LINE_MAX ((size_t)16 << 20)
/* What may wait unsent to a socket peer before it is dropped. */
#define PEER_QUEUE_MAX ((size_t)64 << 20)

struct peer;

struct peer_cb {
    /* A whole line, without its newline, NUL-terminated; valid during the
     * call. */
    void (*line)(struct peer *p, const char *line, size_t len);
    /* A line longer than PEER_LINE_MAX was read and dropped; len is its
     * length. Reading goes on after it. */
    void (*overlong)(struct peer *p, size_t len);
    /* The stdio peer's reader stalls (true) or caught up (false): the
     * owner should stop producing meanwhile. A socket peer is dropped
     * instead. */
    void (*pressure)(struct peer *p, bool high);
    /* The stdio peer's input ended; what is sent still goes out. */
    void (*input_ended)(struct peer *p);
    /* The peer is gone: EOF on a socket, an error, or closed as bad (why
     * says so, or NULL at a plain EOF). Nothing is read or sent after
     * this; the owner calls peer_free when it has let go of it. */
    void (*gone)(struct peer *p, const char *why);
};

/* Accepts the next connection on server (a listening Unix socket) into
 * a new peer. 0 or a negative errno. */
int peer_accept(struct peer **out, uv_loop_t *loop, uv_stream_t *server,
                const struct peer_cb *cb, void *data);
/* A connected Unix socket (taken, also on failure), with partial: the
 * start of a line already read from it. 0 or a negative errno. */
int peer_open_fd(struct peer **out, uv_loop_t *loop, int fd, const char *partial, size_t len,
                 const struct peer_cb *cb, void *data);
/* fd 0 for reading, fd 1 for writing. */
int peer_open_stdio(struct peer **out, uv_loop_t *loop, const struct peer_cb *cb, void *data);
void *peer_data(const struct peer *p);
/* Who is at the other end (SO_PEERCRED), for a socket peer. */
uid_t peer_uid(const struct peer *p);
pid_t peer_pid(const struct peer *p);
/* Queues line (no newline in it) and a newline. Never blocks; nothing is
 * sent once the peer is gone. */
void peer_send(struct peer *p, const char *line, size_t len);
bool peer_is_gone(const struct peer *p);
size_t peer_queued(const struct peer *p);
/* Stops reading (until peer_resume): requests then wait in the socket. */
void peer_pause(struct peer *p);
void peer_resume(struct peer *p);
/* Closes it as bad, with why for the server's log: gone() follows from
 * the loop. */
void peer_drop(struct peer *p, const char *why);
/* Frees it once gone() has been called (or closes and frees it, with no
 * gone() call). */
void peer_free(struct peer *p);
/* For the stdio peer at the end of aiobox --json: whether what it
 * queued is out. */
size_t peer_pending_output(const struct peer *p);

#endif
