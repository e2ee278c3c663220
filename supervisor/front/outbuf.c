#define _GNU_SOURCE
#include "outbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum outbuf_how {
    OUTBUF_DIRECT,      /* a file: plain writes, which do not stall */
    OUTBUF_PRIVATE,     /* our own non-blocking description of a tty or pipe */
    OUTBUF_SHARED,      /* the user's description, made non-blocking until close */
    OUTBUF_SOCKET,      /* send() with MSG_DONTWAIT */
};

struct outbuf {
    uv_loop_t *loop;
    int fd;
    enum outbuf_how how;
    int saved_flags;            /* OUTBUF_SHARED: to restore */
    uv_poll_t poll;
    bool polling, broken, high;
    char *buf;                  /* queued bytes: buf[head .. head+len) */
    size_t head, len, cap;
    void (*pressure)(void *arg, bool high);
    void *arg;
    FILE *stream;
};

bool outbuf_same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino && sa.st_rdev == sb.st_rdev;
}

/* A description of fd's file that is ours alone: opening /proc/self/fd/N
 * of a terminal or a pipe opens the device or pipe anew. */
static int private_description(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int own = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (own < 0 && isatty(fd)) {
        char name[256];
        if (ttyname_r(fd, name, sizeof name) == 0)
            own = open(name, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    }
    return own;
}

int outbuf_open(struct outbuf **out, uv_loop_t *loop, int fd,
                void (*pressure)(void *arg, bool high), void *arg)
{
    struct stat st;
    struct outbuf *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->loop = loop;
    o->fd = fd;
    o->pressure = pressure;
    o->arg = arg;
    o->how = OUTBUF_DIRECT;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd)))) {
        int own = private_description(fd);
        if (own >= 0) {
            o->fd = own;
            o->how = OUTBUF_PRIVATE;
        } else if ((o->saved_flags = fcntl(fd, F_GETFL)) >= 0 &&
                   fcntl(fd, F_SETFL, o->saved_flags | O_NONBLOCK) == 0)
            o->how = OUTBUF_SHARED;
    } else if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
        o->how = OUTBUF_SOCKET;
    if (o->how != OUTBUF_DIRECT) {
        int rc = uv_poll_init(loop, &o->poll, o->fd);
        if (rc < 0) {
            /* Not pollable after all: write it as a file. */
            if (o->how == OUTBUF_PRIVATE)
                close(o->fd);
            else if (o->how == OUTBUF_SHARED)
                (void)fcntl(fd, F_SETFL, o->saved_flags);
            o->fd = fd;
            o->how = OUTBUF_DIRECT;
        } else
            o->poll.data = o;
    }
    *out = o;
    return 0;
}

/* One write of what fits; bytes written, 0 when the fd takes nothing now,
 * -1 when the reader is gone. */
static ssize_t write_some(struct outbuf *o, const char *data, size_t len)
{
    for (;;) {
        ssize_t n = o->how == OUTBUF_SOCKET ? send(o->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                            : write(o->fd, data, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

static void set_pressure(struct outbuf *o)
{
    bool high = o->high ? o->len > OUTBUF_LOW : o->len > OUTBUF_HIGH;
    if (high != o->high) {
        o->high = high;
        if (o->pressure)
            o->pressure(o->arg, high);
    }
}

static void broke(struct outbuf *o)
{
    o->broken = true;
    o->len = o->head = 0;
    if (o->polling) {
        uv_poll_stop(&o->poll);
        o->polling = false;
    }
    set_pressure(o);
}

static void on_writable(uv_poll_t *p, int status, int events);

static void flush_some(struct outbuf *o)
{
    while (o->len) {
        ssize_t n = write_some(o, o->buf + o->head, o->len);
        if (n < 0) {
            broke(o);
            return;
        }
        if (n == 0)
            break;
        o->head += (size_t)n;
        o->len -= (size_t)n;
    }
    if (!o->len)
        o->head = 0;
    bool want = o->len > 0;
    if (want != o->polling) {
        if (want ? uv_poll_start(&o->poll, UV_WRITABLE, on_writable) < 0
                 : uv_poll_stop(&o->poll) < 0) {
            broke(o);
            return;
        }
        o->polling = want;
    }
    set_pressure(o);
}

static void on_writable(uv_poll_t *p, int status, int events)
{
    struct outbuf *o = p->data;
    (void)events;
    if (status < 0)
        broke(o);
    else
        flush_some(o);
}

static void write_direct(struct outbuf *o, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(o->fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR)
            continue;
        else {
            o->broken = true;  /* EPIPE, ENOSPC, EIO: nowhere to put it */
            return;
        }
    }
}

void outbuf_write(struct outbuf *o, const char *data, size_t len)
{
    if (o->broken || !len)
        return;
    if (o->how == OUTBUF_DIRECT) {
        write_direct(o, data, len);
        return;
    }
    if (!o->len) {
        /* Nothing queued: most writes go straight out. */
        ssize_t n = write_some(o, data, len);
        if (n < 0) {
            broke(o);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (!len)
            return;
    }
    if (o->head + o->len + len > o->cap) {
        if (o->head) {
            memmove(o->buf, o->buf + o->head, o->len);
            o->head = 0;
        }
        if (o->len + len > o->cap) {
            size_t cap = o->cap ? o->cap : 4096;
            while (cap < o->len + len)
                cap *= 2;
            char *nb = realloc(o->buf, cap);
            if (!nb) {
                /* Better a stall than a loss: write it out the slow way. */
                flush_some(o);
                int fl = fcntl(o->fd, F_GETFL);
                if (fl >= 0 && fcntl(o->fd, F_SETFL, fl & ~O_NONBLOCK) == 0) {
                    write_direct(o, o->buf + o->head, o->len);
                    write_direct(o, data, len);
                    o->len = o->head = 0;
                    (void)fcntl(o->fd, F_SETFL, fl);
                }
                flush_some(o);
                return;
            }
            o->buf = nb;
            o->cap = cap;
        }
    }
    memcpy(o->buf + o->head + o->len, data, len);
    o->len += len;
    flush_some(o);
}

void outbuf_str(struct outbuf *o, const char *s)
{
    outbuf_write(o, s, strlen(s));
}

size_t outbuf_pending(const struct outbuf *o)
{
    return o->len;
}

static ssize_t stream_write(void *cookie, const char *data, size_t len)
{
    outbuf_write(cookie, data, len);
    return (ssize_t)len;
}

FILE *outbuf_stream(struct outbuf *o)
{
    if (!o->stream) {
        cookie_io_functions_t io = {.write = stream_write};
        o->stream = fopencookie(o, "w", io);
        if (o->stream)
            setvbuf(o->stream, NULL, _IONBF, 0);
    }
    return o->stream;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void outbuf_drain(struct outbuf *o, int deadline_ms)
{
    int64_t end = now_ms() + deadline_ms;
    while (o->len && !o->broken) {
        int64_t left = end - now_ms();
        if (left <= 0)
            return;
        struct pollfd p = {.fd = o->fd, .events = POLLOUT};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return;
        flush_some(o);
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    struct outbuf *o = h->data;
    if (o->how == OUTBUF_PRIVATE)
        close(o->fd);
    else if (o->how == OUTBUF_SHARED)
        (void)fcntl(o->fd, F_SETFL, o->saved_flags);
    free(o);
}

void outbuf_close(struct outbuf *o)
{
    if (!o)
        return;
    if (o->stream)
        fclose(o->stream);
    free(o->buf);
    o->buf = NULL;
    if (o->how == OUTBUF_DIRECT) {
        free(o);
        return;
    }
    /* The fd goes (or gets its flags back) once the handle is closed. */
    uv_close((uv_handle_t *)&o->poll, on_poll_closed);
}
