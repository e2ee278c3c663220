/* The kernel's zmq sockets, served by the libuv loop: shell, control and
 * stdin (ROUTER), iopub (PUB); the heartbeat has a thread of its own.
 *
 * libzmq offers one file descriptor per socket (ZMQ_FD) that becomes
 * readable when the socket's state changes, edge-style: it says nothing
 * more until ZMQ_EVENTS has been read, and a send can consume the edge
 * of a message that arrived meanwhile. So a uv_poll on each descriptor
 * wakes the loop, and every turn of the loop (a prepare handle, before it
 * sleeps) reads ZMQ_EVENTS of every socket and takes what is waiting, at
 * most MESSAGES_PER_TURN per socket; when more waits, an idle handle
 * keeps the loop from sleeping until it is taken. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define MESSAGES_PER_TURN 64
/* What one peer may have queued towards us, in messages. */
#define RCVHWM 10000
/* What the kernel may have queued towards slow subscribers and clients:
 * past it, zmq drops (iopub) as ipykernel's sockets do. */
#define SNDHWM 100000
#define LINGER_MS 1000

/* The sockets the loop reads. */
static const enum kchan polled[] = {KCHAN_SHELL, KCHAN_CONTROL, KCHAN_STDIN};
#define NPOLLED (sizeof polled / sizeof polled[0])

struct kchannels {
    uv_loop_t *loop;
    struct wire *wire;
    kchannels_cb cb;
    void *data;
    void *sock[KCHAN_COUNT];
    uv_poll_t poll[KCHAN_COUNT];
    bool polling[KCHAN_COUNT];
    bool held[KCHAN_COUNT];
    uv_prepare_t prepare;
    uv_idle_t idle;
    int handles_open;
    bool closing;
};

static bool readable(void *sock)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* Takes up to MESSAGES_PER_TURN messages from every socket not held;
 * true when some are still waiting. */
static bool take_waiting(struct kchannels *ch)
{
    bool more = false;
    for (size_t i = 0; i < NPOLLED && !ch->closing; i++) {
        enum kchan c = polled[i];
        int taken = 0;
        while (!ch->held[c] && !ch->closing && readable(ch->sock[c])) {
            if (taken++ == MESSAGES_PER_TURN) {
                more = true;
                break;
            }
            struct jmsg *m = NULL;
            char err[256];
            int rc = wire_recv(ch->wire, ch->sock[c], c, &m, err, sizeof err);
            if (rc > 0)
                ch->cb(ch->data, m);
            else if (rc < 0)
                /* Dropped with a word; the next message is another's. */
                fprintf(stderr, "aiobox kernel: dropped a message on %s: %s\n", kchan_names[c],
                        err);
        }
    }
    return more;
}

static void on_idle(uv_idle_t *h)
{
    struct kchannels *ch = h->data;
    if (ch->closing || !take_waiting(ch))
        uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h)
{
    struct kchannels *ch = h->data;
    if (!ch->closing && take_waiting(ch) && !uv_is_active((uv_handle_t *)&ch->idle))
        uv_idle_start(&ch->idle, on_idle);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct kchannels *ch = h->data;
    (void)status;
    (void)events;
    if (!ch->closing && take_waiting(ch) && !uv_is_active((uv_handle_t *)&ch->idle))
        uv_idle_start(&ch->idle, on_idle);
}

static int set_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* As libzmq's TCP listener: its backlog (ZMQ_BACKLOG's default). */
#define LISTEN_BACKLOG 100

int kchannels_prebind(const struct connfile *cf, int fds[KCHAN_COUNT], char *err,
                      size_t errlen)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
    socklen_t len;
    int family;
    for (int c = 0; c < KCHAN_COUNT; c++)
        fds[c] = -1;
    memset(&addr, 0, sizeof addr);
    if (strcmp(cf->transport, "tcp") != 0)
        return 0;   /* ipc: zmq binds it (it knows what to do with a stale path) */
    if (inet_pton(AF_INET, cf->ip, &addr.in.sin_addr) == 1) {
        family = addr.in.sin_family = AF_INET;
        len = sizeof addr.in;
    } else if (inet_pton(AF_INET6, cf->ip, &addr.in6.sin6_addr) == 1) {
        family = addr.in6.sin6_family = AF_INET6;
        len = sizeof addr.in6;
    } else
        return 0;   /* a name: zmq resolves it when it binds */
    for (int c = 0; c < KCHAN_COUNT; c++) {
        int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (family == AF_INET)
            addr.in.sin_port = htons((uint16_t)cf->port[c]);
        else
            addr.in6.sin6_port = htons((uint16_t)cf->port[c]);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, &addr.sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
            int e = errno;
            char endpoint[512];
            connfile_endpoint(cf, (enum kchan)c, endpoint, sizeof endpoint);
            snprintf(err, errlen, "cannot bind the %s channel to %s: %s", kchan_names[c],
                     endpoint, strerror(e));
            if (fd >= 0)
                close(fd);
            kchannels_unbind(fds);
            return -e;
        }
        fds[c] = fd;
    }
    return 0;
}

void kchannels_unbind(int fds[KCHAN_COUNT])
{
    for (int c = 0; c < KCHAN_COUNT; c++) {
        if (fds[c] >= 0)
            close(fds[c]);
        fds[c] = -1;
    }
}

static int open_socket(struct kchannels *ch, void *zctx, const struct connfile *cf,
                       enum kchan c, int *fd, char *err, size_t errlen)
{
    char endpoint[512];
    connfile_endpoint(cf, c, endpoint, sizeof endpoint);
    void *sock = zmq_socket(zctx, c == KCHAN_IOPUB ? ZMQ_PUB : ZMQ_ROUTER);
    if (!sock) {
        snprintf(err, errlen, "cannot make the %s socket: %s", kchan_names[c],
                 zmq_strerror(errno));
        return -errno;
    }
    ch->sock[c] = sock;
    int64_t maxmsg = KERNEL_FRAME_MAX;
    if (set_int(sock, ZMQ_LINGER, LINGER_MS) < 0 || set_int(sock, ZMQ_RCVHWM, RCVHWM) < 0 ||
        set_int(sock, ZMQ_SNDHWM, SNDHWM) < 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        (strchr(cf->ip, ':') && strcmp(cf->transport, "tcp") == 0 &&
         set_int(sock, ZMQ_IPV6, 1) < 0)) {
        snprintf(err, errlen, "cannot set up the %s socket: %s", kchan_names[c],
                 zmq_strerror(errno));
        return -errno;
    }
    /* The listening socket bound before libzmq was loaded, which zmq
     * takes over (and closes with the socket). */
    if (*fd >= 0) {
        if (set_int(sock, ZMQ_USE_FD, *fd) < 0) {
            snprintf(err, errlen, "cannot set up the %s socket: %s", kchan_names[c],
                     zmq_strerror(errno));
            return -errno;
        }
        *fd = -1;
    }
    if (zmq_bind(sock, endpoint) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot bind the %s channel to %s: %s", kchan_names[c], endpoint,
                 zmq_strerror(e));
        return -e;
    }
    return 0;
}

static int watch(struct kchannels *ch, enum kchan c, char *err, size_t errlen)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(ch->sock[c], ZMQ_FD, &fd, &len) < 0) {
        snprintf(err, errlen, "cannot watch the %s socket: %s", kchan_names[c],
                 zmq_strerror(errno));
        return -errno;
    }
    int rc = uv_poll_init(ch->loop, &ch->poll[c], fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot watch the %s socket: %s", kchan_names[c],
                 uv_strerror(rc));
        return rc;
    }
    ch->handles_open++;
    ch->polling[c] = true;
    ch->poll[c].data = ch;
    rc = uv_poll_start(&ch->poll[c], UV_READABLE, on_poll);
    if (rc < 0) {
        snprintf(err, errlen, "cannot watch the %s socket: %s", kchan_names[c],
                 uv_strerror(rc));
        return rc;
    }
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct kchannels *ch = h->data;
    if (--ch->handles_open == 0)
        free(ch);
}

int kchannels_open(struct kchannels **out, uv_loop_t *loop, void *zctx,
                   const struct connfile *cf, int fds[KCHAN_COUNT], struct wire *w,
                   kchannels_cb cb, void *data, char *err, size_t errlen)
{
    *out = NULL;
    struct kchannels *ch = calloc(1, sizeof *ch);
    if (!ch) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ch->loop = loop;
    ch->wire = w;
    ch->cb = cb;
    ch->data = data;
    uv_prepare_init(loop, &ch->prepare);
    uv_idle_init(loop, &ch->idle);
    ch->prepare.data = ch->idle.data = ch;
    ch->handles_open = 2;
    int rc = 0;
    for (int c = 0; c < KCHAN_COUNT && rc == 0; c++)
        if (c != KCHAN_HB)
            rc = open_socket(ch, zctx, cf, (enum kchan)c, &fds[c], err, errlen);
    for (size_t i = 0; i < NPOLLED && rc == 0; i++)
        rc = watch(ch, polled[i], err, errlen);
    if (rc == 0)
        rc = uv_prepare_start(&ch->prepare, on_prepare);
    if (rc < 0) {
        kchannels_close(ch);
        return rc;
    }
    *out = ch;
    return 0;
}

void *kchannels_socket(struct kchannels *ch, enum kchan c)
{
    return ch->sock[c];
}

void kchannels_drain(struct kchannels *ch, enum kchan c)
{
    /* Bounded, in case a client keeps sending as fast as this reads. */
    for (int i = 0; i < RCVHWM && !ch->closing && readable(ch->sock[c]); i++) {
        struct jmsg *m = NULL;
        char err[256];
        int rc = wire_recv(ch->wire, ch->sock[c], c, &m, err, sizeof err);
        if (rc > 0)
            ch->cb(ch->data, m);
        else if (rc < 0)
            fprintf(stderr, "aiobox kernel: dropped a message on %s: %s\n", kchan_names[c], err);
        else
            break;
    }
}

void kchannels_hold(struct kchannels *ch, enum kchan c, bool hold)
{
    ch->held[c] = hold;
    if (!hold && !ch->closing && !uv_is_active((uv_handle_t *)&ch->idle))
        /* What waited while held is taken on the next turn. */
        uv_idle_start(&ch->idle, on_idle);
}

void kchannels_close(struct kchannels *ch)
{
    if (!ch)
        return;
    ch->closing = true;
    for (int c = 0; c < KCHAN_COUNT; c++) {
        if (ch->polling[c])
            uv_close((uv_handle_t *)&ch->poll[c], on_closed);
        ch->polling[c] = false;
        /* Before the context ends: replies queued go out within the
         * linger. */
        if (ch->sock[c])
            zmq_close(ch->sock[c]);
        ch->sock[c] = NULL;
    }
    uv_close((uv_handle_t *)&ch->prepare, on_closed);
    uv_close((uv_handle_t *)&ch->idle, on_closed);
}
