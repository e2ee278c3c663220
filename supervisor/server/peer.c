#define _GNU_SOURCE
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outbuf.h"

#define READ_CHUNK 65536

struct write_req {
    uv_write_t req;
    struct peer *p;
    size_t len;
    char data[];
};

struct peer {
    uv_loop_t *loop;
    const struct peer_cb *cb;
    void *data;
    bool stdio;
    /* socket peers */
    uv_pipe_t conn;
    bool conn_open;
    struct ucred cred;
    size_t queued;               /* bytes in write requests not yet done */
    /* the stdio peer */
    uv_fs_t read_req;
    bool reading;
    struct outbuf *out;
    char chunk[READ_CHUNK];
    /* lines */
    char *in;
    size_t in_len, in_cap;
    size_t discarding;           /* > 0: inside an overlong line, bytes so far */
    bool paused, gone, gone_said, free_wanted, closing;
};

void *peer_data(const struct peer *p) { return p->data; }
uid_t peer_uid(const struct peer *p) { return p->cred.uid; }
pid_t peer_pid(const struct peer *p) { return p->cred.pid; }
bool peer_is_gone(const struct peer *p) { return p->gone; }
size_t peer_queued(const struct peer *p) { return p->stdio ? outbuf_pending(p->out) : p->queued; }
size_t peer_pending_output(const struct peer *p) { return peer_queued(p); }

static void really_free(struct peer *p)
{
    if (p->out)
        outbuf_close(p->out);
    free(p->in);
    free(p);
}

static void on_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    p->conn_open = false;
    if (!p->gone_said) {
        p->gone_said = true;
        p->cb->gone(p, "closed");
    }
    if (p->free_wanted)
        really_free(p);
}

/* The peer ends: nothing more is read or sent. */
static void end(struct peer *p, const char *why)
{
    if (p->gone)
        return;
    p->gone = true;
    if (!p->stdio && p->conn_open && !p->closing) {
        p->closing = true;
        uv_close((uv_handle_t *)&p->conn, on_closed);
        /* gone() comes from the close callback, with this reason. */
        p->gone_said = true;
        p->cb->gone(p, why);
        return;
    }
    p->gone_said = true;
    p->cb->gone(p, why);
}

/* --- lines in ------------------------------------------------------------ */

static void take_bytes(struct peer *p, const char *data, size_t len)
{
    while (len > 0 && !p->gone) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        if (p->discarding) {
            p->discarding += n;
            if (nl) {
                size_t total = p->discarding;
                p->discarding = 0;
                p->cb->overlong(p, total);
            }
        } else if (p->in_len + n > PEER_LINE_MAX) {
            p->discarding = p->in_len + n;
            p->in_len = 0;
            if (nl) {
                size_t total = p->discarding;
                p->discarding = 0;
                p->cb->overlong(p, total);
            }
        } else {
            if (p->in_len + n + 1 > p->in_cap) {
                size_t cap = p->in_cap ? p->in_cap : 4096;
                while (cap < p->in_len + n + 1)
                    cap *= 2;
                char *nb = realloc(p->in, cap);
                if (!nb) {
                    peer_drop(p, "out of memory reading a request");
                    return;
                }
                p->in = nb;
                p->in_cap = cap;
            }
            memcpy(p->in + p->in_len, data, n);
            p->in_len += n;
            if (nl) {
                p->in[p->in_len] = '\0';
                size_t l = p->in_len;
                p->in_len = 0;
                p->cb->line(p, p->in, l);
            }
        }
        if (!nl)
            return;
        data = nl + 1;
        len -= n + 1;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct peer *p = h->data;
    (void)suggested;
    buf->base = p->chunk;
    buf->len = sizeof p->chunk;
}

static void on_socket_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = s->data;
    if (n < 0) {
        end(p, n == UV_EOF ? NULL : uv_strerror((int)n));
        return;
    }
    take_bytes(p, buf->base, (size_t)n);
}

static void start_stdio_read(struct peer *p);

static void on_stdio_read(uv_fs_t *req)
{
    struct peer *p = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    p->reading = false;
    if (p->gone)
        return;
    if (n == 0) {
        p->cb->input_ended(p);
        return;
    }
    if (n < 0) {
        end(p, uv_strerror((int)n));
        return;
    }
    take_bytes(p, p->chunk, (size_t)n);
    start_stdio_read(p);
}

static void start_stdio_read(struct peer *p)
{
    if (p->reading || p->paused || p->gone)
        return;
    uv_buf_t b = uv_buf_init(p->chunk, sizeof p->chunk);
    p->reading = true;
    int rc = uv_fs_read(p->loop, &p->read_req, 0, &b, 1, -1, on_stdio_read);
    if (rc < 0) {
        p->reading = false;
        end(p, uv_strerror(rc));
    }
}

void peer_pause(struct peer *p)
{
    if (p->paused)
        return;
    p->paused = true;
    if (!p->stdio && p->conn_open && !p->gone)
        uv_read_stop((uv_stream_t *)&p->conn);
}

void peer_resume(struct peer *p)
{
    if (!p->paused)
        return;
    p->paused = false;
    if (p->gone)
        return;
    if (p->stdio)
        start_stdio_read(p);
    else if (uv_read_start((uv_stream_t *)&p->conn, alloc_cb, on_socket_read) < 0)
        peer_drop(p, "cannot read from the client");
}

/* --- lines out ----------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct peer *p = w->p;
    p->queued -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !p->gone)
        end(p, uv_strerror(status));
}

static void on_stdio_pressure(void *arg, bool high)
{
    struct peer *p = arg;
    if (p->cb->pressure)
        p->cb->pressure(p, high);
}

void peer_send(struct peer *p, const char *line, size_t len)
{
    if (p->gone)
        return;
    if (p->stdio) {
        outbuf_write(p->out, line, len);
        outbuf_write(p->out, "\n", 1);
        return;
    }
    uv_buf_t bufs[2] = {uv_buf_init((char *)line, (unsigned)len), uv_buf_init("\n", 1)};
    if (!p->queued) {
        int n = uv_try_write((uv_stream_t *)&p->conn, bufs, 2);
        if (n == (int)len + 1)
            return;
        if (n < 0 && n != UV_EAGAIN) {
            end(p, uv_strerror(n));
            return;
        }
        if (n > 0) {
            /* Part went out: queue the rest as one buffer below. */
            size_t done = (size_t)n;
            if (done >= len) {
                line = "";
                len = 0;
            } else {
                line += done;
                len -= done;
            }
        }
    }
    if (p->queued + len + 1 > PEER_QUEUE_MAX) {
        peer_drop(p, "the client stopped reading (over 64 MiB waiting for it)");
        return;
    }
    struct write_req *w = malloc(sizeof *w + len + 1);
    if (!w) {
        peer_drop(p, "out of memory sending to the client");
        return;
    }
    memcpy(w->data, line, len);
    w->data[len] = '\n';
    w->len = len + 1;
    w->p = p;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&p->conn, &b, 1, on_written) < 0) {
        free(w);
        end(p, "cannot write to the client");
        return;
    }
    p->queued += w->len;
}

/* --- life cycle ---------------------------------------------------------- */

static struct peer *peer_new(uv_loop_t *loop, const struct peer_cb *cb, void *data)
{
    struct peer *p = calloc(1, sizeof *p);
    if (p) {
        p->loop = loop;
        p->cb = cb;
        p->data = data;
        p->cred.uid = (uid_t)-1;
        p->cred.pid = -1;
    }
    return p;
}

int peer_accept(struct peer **out, uv_loop_t *loop, uv_stream_t *server,
                const struct peer_cb *cb, void *data)
{
    struct peer *p = peer_new(loop, cb, data);
    if (!p)
        return -ENOMEM;
    int rc = uv_pipe_init(loop, &p->conn, 0);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->conn.data = p;
    p->conn_open = true;
    uv_os_fd_t fd;
    socklen_t len = sizeof p->cred;
    if ((rc = uv_accept(server, (uv_stream_t *)&p->conn)) < 0 ||
        (rc = uv_fileno((uv_handle_t *)&p->conn, &fd)) < 0 ||
        (rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) < 0 ? -errno : 0) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&p->conn, alloc_cb, on_socket_read)) < 0) {
        p->gone = p->gone_said = p->free_wanted = p->closing = true;
        uv_close((uv_handle_t *)&p->conn, on_closed);
        return rc;
    }
    *out = p;
    return 0;
}

int peer_open_fd(struct peer **out, uv_loop_t *loop, int fd, const char *partial, size_t len,
                 const struct peer_cb *cb, void *data)
{
    struct peer *p = len < PEER_LINE_MAX ? peer_new(loop, cb, data) : NULL;
    if (p && len && !(p->in = malloc(len + 1))) {
        free(p);
        p = NULL;
    }
    if (!p) {
        close(fd);
        return len < PEER_LINE_MAX ? -ENOMEM : -EINVAL;
    }
    if (len)
        memcpy(p->in, partial, len);
    p->in_len = p->in_cap = len;
    int rc = uv_pipe_init(loop, &p->conn, 0);
    if (rc < 0) {
        close(fd);
        free(p->in);
        free(p);
        return rc;
    }
    p->conn.data = p;
    p->conn_open = true;
    socklen_t clen = sizeof p->cred;
    if ((rc = uv_pipe_open(&p->conn, fd)) < 0)
        close(fd);  /* not the handle's: closing it leaves fd open */
    if (rc < 0 ||
        (rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &clen) < 0 ? -errno : 0) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&p->conn, alloc_cb, on_socket_read)) < 0) {
        p->gone = p->gone_said = p->free_wanted = p->closing = true;
        uv_close((uv_handle_t *)&p->conn, on_closed);
        return rc;
    }
    *out = p;
    return 0;
}

int peer_open_stdio(struct peer **out, uv_loop_t *loop, const struct peer_cb *cb, void *data)
{
    struct peer *p = peer_new(loop, cb, data);
    if (!p)
        return -ENOMEM;
    p->stdio = true;
    p->read_req.data = p;
    p->cred.uid = getuid();
    p->cred.pid = getpid();
    int rc = outbuf_open(&p->out, loop, 1, on_stdio_pressure, p);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    start_stdio_read(p);
    return 0;
}

void peer_drop(struct peer *p, const char *why)
{
    end(p, why);
}

void peer_free(struct peer *p)
{
    if (!p)
        return;
    p->free_wanted = true;
    if (!p->gone) {
        p->gone_said = true;  /* the owner is letting go: no callback */
        p->gone = true;
        if (!p->stdio && p->conn_open && !p->closing) {
            p->closing = true;
            uv_close((uv_handle_t *)&p->conn, on_closed);
        }
    }
    if (p->stdio) {
        /* A read may still be pending in the thread pool: it lands in
         * memory that must stay; the process is about to end anyway. */
        if (!p->reading)
            really_free(p);
        return;
    }
    if (!p->closing && !p->conn_open)
        really_free(p);
    else if (!p->closing) {
        p->closing = true;
        uv_close((uv_handle_t *)&p->conn, on_closed);
    }
}
