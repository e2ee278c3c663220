#define _GNU_SOURCE
#include "xproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *const empty_env[] = {NULL};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t d = deadline - now_ms();
    return d < 0 ? 0 : (int)d;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();  /* the test process itself, not input: nothing to recover */
    return p;
}

void xp_buf_add(struct xp_buf *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            abort();
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void xp_buf_free(struct xp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static char *dup_str(struct proto_str s)
{
    char *d = xmalloc(s.len + 1);
    if (s.len)
        memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
    return d;
}

const char *xp_binary(void)
{
    const char *p = getenv("AIOBOX_EXECUTOR");
    return p && *p ? p : "./aiobox-executor";
}

/* --- spawning ------------------------------------------------------------ */

static void exec_child(int chan, int out, int err, const char *const *args)
{
    const char *defaults[] = {"--fd", "3", "--no-sandbox", NULL};
    const char *argv[XP_ARGS_MAX + 2];
    size_t n = 0;

    if (!args)
        args = defaults;
    argv[n++] = xp_binary();
    while (*args && n <= XP_ARGS_MAX)
        argv[n++] = *args++;
    /* Never a shortened command line: a test would check the wrong thing. */
    if (*args)
        _exit(125);
    argv[n] = NULL;

    /* Move everything out of the way first, so no dup2 lands on a
     * descriptor still needed. */
    int c = chan >= 0 ? fcntl(chan, F_DUPFD, 10) : -1;
    int o = fcntl(out, F_DUPFD, 10), e = fcntl(err, F_DUPFD, 10);
    int null = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || null < 0 || dup2(null, 0) < 0 || dup2(o, 1) < 0 ||
        dup2(e, 2) < 0 || (c >= 0 && dup2(c, 3) < 0))
        _exit(126);
    execve(argv[0], (char *const *)argv, empty_env);
    _exit(127);
}

int xp_spawn_fds(struct xp *x, int chan_child, const char *const *args)
{
    int p1[2], p2[2];

    x->fd1 = x->fd2 = -1;
    x->pid = -1;
    proto_reader_init(&x->reader, PROTO_FRAME_MAX_EXECUTOR);
    if (pipe2(p1, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(p2, O_CLOEXEC) < 0) {
        close(p1[0]);
        close(p1[1]);
        return -1;
    }
    x->pid = fork();
    if (x->pid == 0)
        exec_child(chan_child, p1[1], p2[1], args);
    close(p1[1]);
    close(p2[1]);
    if (chan_child >= 0)
        close(chan_child);
    x->fd1 = p1[0];
    x->fd2 = p2[0];
    if (x->pid < 0) {
        close(p1[0]);
        close(p2[0]);
        x->fd1 = x->fd2 = -1;
        return -1;
    }
    if (x->chan >= 0)
        fcntl(x->chan, F_SETFL, fcntl(x->chan, F_GETFL) | O_NONBLOCK);
    return 0;
}

int xp_spawn(struct xp *x, const char *const *args)
{
    int sv[2];

    memset(x, 0, sizeof *x);
    x->chan = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    x->chan = sv[0];
    return xp_spawn_fds(x, sv[1], args);
}

/* --- the log ------------------------------------------------------------- */

static void log_msg(struct xp *x, const struct proto_msg *m)
{
    if (x->nlog == x->caplog) {
        x->caplog = x->caplog ? 2 * x->caplog : 64;
        x->log = realloc(x->log, x->caplog * sizeof *x->log);
        if (!x->log)
            abort();
    }
    struct xp_msg *l = &x->log[x->nlog++];
    memset(l, 0, sizeof *l);
    l->type = m->type;
    switch (m->type) {
    case PROTO_READY:
        l->text = dup_str(m->u.ready.python);
        l->extra = dup_str(m->u.ready.sandbox);
        l->code = m->u.ready.pid;
        break;
    case PROTO_OUTPUT:
        l->has_id = m->u.output.has_id;
        l->id = m->u.output.id;
        l->stream = m->u.output.stream;
        l->text = dup_str(m->u.output.text);
        break;
    case PROTO_RESULT:
        l->has_id = true;
        l->id = m->u.result.id;
        l->status = m->u.result.status;
        l->code = m->u.result.exit_code;
        l->text = dup_str(m->u.result.display);
        l->extra = dup_str(m->u.result.error_type);
        break;
    case PROTO_STARTED:
        l->has_id = true;
        l->id = m->u.started.id;
        break;
    case PROTO_COMPLETIONS:
        l->has_id = true;
        l->id = m->u.completions.id;
        l->nmatches = m->u.completions.count;
        l->matches = xmalloc((l->nmatches + 1) * sizeof *l->matches);
        for (size_t i = 0; i < l->nmatches; i++)
            l->matches[i] = dup_str(m->u.completions.matches[i]);
        l->matches[l->nmatches] = NULL;
        break;
    case PROTO_INPUT:
        l->has_id = true;
        l->id = m->u.input.id;
        l->text = dup_str(m->u.input.prompt);
        break;
    case PROTO_INTERRUPT_ACK:
        l->has_id = true;
        l->id = m->u.interrupt_ack.id;
        break;
    case PROTO_ERROR:
        l->text = dup_str(m->u.error.message);
        break;
    case PROTO_DENIED:
        l->code = m->u.denied.syscall;
        break;
    default:
        break;
    }
    if (!l->text)
        l->text = dup_str(proto_str_c(""));
}

static void drain_fd(int *fd, struct xp_buf *b)
{
    char buf[65536];
    ssize_t n = read(*fd, buf, sizeof buf);

    if (n > 0)
        xp_buf_add(b, buf, (size_t)n);
    else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(*fd);
        *fd = -1;
    }
}

static void read_channel(struct xp *x)
{
    char buf[65536];
    ssize_t n = recv(x->chan, buf, sizeof buf, MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        x->eof = true;
        return;
    }
    if (n < 0)
        return;
    if (proto_reader_feed(&x->reader, buf, (size_t)n) != PROTO_OK) {
        fprintf(stderr, "xproc: bad frame from the executor: %s\n", x->reader.err);
        x->eof = true;
        return;
    }
    for (;;) {
        struct proto_msg m;
        int rc = proto_reader_take(&x->reader, &m);
        if (rc == PROTO_E_AGAIN)
            break;
        if (rc < 0) {
            fprintf(stderr, "xproc: bad message from the executor: %s\n", x->reader.err);
            x->eof = true;
            break;
        }
        log_msg(x, &m);
        proto_msg_release(&m);
    }
}

/* Waits up to timeout_ms for anything (channel bytes, pipe bytes, room to
 * write when want_out) and takes what came. Returns poll's count. */
static int pump(struct xp *x, int timeout_ms, bool want_out, bool *can_write)
{
    struct pollfd p[3];
    int n = 0, ic = -1, i1 = -1, i2 = -1;

    if (x->chan >= 0 && (!x->eof || want_out)) {
        ic = n;
        p[n++] = (struct pollfd){.fd = x->chan,
                                 .events = (short)((x->eof ? 0 : POLLIN) | (want_out ? POLLOUT : 0))};
    }
    if (x->fd1 >= 0) {
        i1 = n;
        p[n++] = (struct pollfd){.fd = x->fd1, .events = POLLIN};
    }
    if (x->fd2 >= 0) {
        i2 = n;
        p[n++] = (struct pollfd){.fd = x->fd2, .events = POLLIN};
    }
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r <= 0)
        return r;
    if (ic >= 0 && (p[ic].revents & (POLLIN | POLLHUP | POLLERR)) && !x->eof)
        read_channel(x);
    if (ic >= 0 && can_write)
        *can_write = (p[ic].revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
    if (i1 >= 0 && p[i1].revents)
        drain_fd(&x->fd1, &x->raw1);
    if (i2 >= 0 && p[i2].revents)
        drain_fd(&x->fd2, &x->raw2);
    return r;
}

/* --- sending ------------------------------------------------------------- */

int xp_send_raw(struct xp *x, const void *data, size_t len)
{
    const char *p = data;
    int64_t deadline = now_ms() + XP_TIMEOUT_MS;

    while (len > 0) {
        if (x->chan < 0)
            return -1;
        ssize_t w = send(x->chan, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        /* Keep reading while the executor cannot take more: it may be
         * blocked writing to us. */
        bool can = false;
        if (left_ms(deadline) == 0)
            return -1;
        pump(x, left_ms(deadline), true, &can);
    }
    return 0;
}

int xp_send(struct xp *x, const struct proto_msg *m)
{
    struct proto_buf b = {0};
    int rc = proto_encode(m, &b);

    if (rc == PROTO_OK)
        rc = xp_send_raw(x, b.data, b.len);
    proto_buf_free(&b);
    return rc;
}

int xp_send_exec(struct xp *x, uint64_t id, const char *source)
{
    struct proto_msg m = {.type = PROTO_EXEC};
    m.u.exec.id = id;
    m.u.exec.source = proto_str_c(source);
    return xp_send(x, &m);
}

int xp_send_complete(struct xp *x, uint64_t id, const char *text)
{
    struct proto_msg m = {.type = PROTO_COMPLETE};
    size_t cursor = 0;
    for (const char *p = text; *p; p++)
        cursor += ((unsigned char)*p & 0xc0) != 0x80;
    m.u.complete.id = id;
    m.u.complete.code = proto_str_c(text);
    m.u.complete.cursor = cursor;
    return xp_send(x, &m);
}

int xp_send_input_reply(struct xp *x, uint64_t id, bool eof, const char *text)
{
    struct proto_msg m = {.type = PROTO_INPUT_REPLY};
    m.u.input_reply.id = id;
    m.u.input_reply.eof = eof;
    m.u.input_reply.text = proto_str_c(text ? text : "");
    return xp_send(x, &m);
}

/* --- waiting ------------------------------------------------------------- */

static bool matches(const struct xp_msg *m, const struct xp_want *w)
{
    if (w->type && m->type != w->type)
        return false;
    if (!w->any_id && (m->has_id != w->has_id || (w->has_id && m->id != w->id)))
        return false;
    return !w->needle || strstr(m->text, w->needle);
}

const struct xp_msg *xp_wait(struct xp *x, struct xp_want want, size_t *from,
                             int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    size_t start = from ? *from : 0;

    for (;;) {
        for (size_t i = start; i < x->nlog; i++)
            if (matches(&x->log[i], &want)) {
                if (from)
                    *from = i + 1;
                return &x->log[i];
            }
        start = x->nlog;
        if (x->eof || left_ms(deadline) == 0)
            return NULL;
        pump(x, left_ms(deadline), false, NULL);
    }
}

const struct xp_msg *xp_start(struct xp *x)
{
    struct proto_msg hello = {.type = PROTO_HELLO};

    if (xp_spawn(x, NULL) < 0)
        return NULL;
    hello.u.hello.version = PROTO_VERSION;
    if (xp_send(x, &hello) < 0)
        return NULL;
    return xp_wait(x, (struct xp_want){.type = PROTO_READY, .any_id = true}, NULL,
                   XP_TIMEOUT_MS);
}

const struct xp_msg *xp_exec(struct xp *x, uint64_t id, const char *source)
{
    size_t from = x->nlog;

    if (xp_send_exec(x, id, source) < 0)
        return NULL;
    return xp_wait(x, (struct xp_want){.type = PROTO_RESULT, .has_id = true, .id = id},
                   &from, XP_TIMEOUT_MS);
}

char *xp_output(struct xp *x, bool has_id, uint64_t id, int stream)
{
    struct xp_buf b = {0};

    xp_buf_add(&b, "", 0);
    for (size_t i = 0; i < x->nlog; i++) {
        const struct xp_msg *m = &x->log[i];
        if (m->type == PROTO_OUTPUT && m->stream == stream && m->has_id == has_id &&
            (!has_id || m->id == id))
            xp_buf_add(&b, m->text, strlen(m->text));
    }
    return b.data;
}

size_t xp_count(struct xp *x, enum proto_type type, uint64_t id)
{
    size_t n = 0;

    for (size_t i = 0; i < x->nlog; i++)
        if (x->log[i].type == type && (!x->log[i].has_id || x->log[i].id == id))
            n++;
    return n;
}

size_t xp_index(struct xp *x, enum proto_type type, uint64_t id)
{
    for (size_t i = 0; i < x->nlog; i++)
        if (x->log[i].type == type && (!x->log[i].has_id || x->log[i].id == id))
            return i;
    return (size_t)-1;
}

bool xp_wait_output(struct xp *x, bool has_id, uint64_t id, int stream, size_t min_bytes,
                    int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        char *text = xp_output(x, has_id, id, stream);
        size_t got = strlen(text);
        free(text);
        if (got >= min_bytes)
            return true;
        if (x->eof || left_ms(deadline) == 0)
            return false;
        pump(x, left_ms(deadline), false, NULL);
    }
}

bool xp_wait_raw(struct xp *x, int fd, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct xp_buf *b = fd == 1 ? &x->raw1 : &x->raw2;

    for (;;) {
        if (b->data && strstr(b->data, needle))
            return true;
        if (left_ms(deadline) == 0 || (fd == 1 ? x->fd1 : x->fd2) < 0)
            return false;
        pump(x, left_ms(deadline), false, NULL);
    }
}

void xp_drain(struct xp *x, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    while ((x->fd1 >= 0 || x->fd2 >= 0) && left_ms(deadline) > 0)
        pump(x, left_ms(deadline), false, NULL);
}

bool xp_wait_eof(struct xp *x, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    while (!x->eof && left_ms(deadline) > 0)
        pump(x, left_ms(deadline), false, NULL);
    return x->eof;
}

int xp_wait_exit(struct xp *x, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    if (x->reaped)
        return x->wstatus;
    int pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
    if (pidfd < 0)
        return -1;
    for (;;) {
        pid_t r = waitpid(x->pid, &x->wstatus, WNOHANG);
        if (r == x->pid) {
            x->reaped = true;
            break;
        }
        if (left_ms(deadline) == 0)
            break;
        /* Keep the pipes drained: a child blocked on a full pipe never ends. */
        struct pollfd p[3] = {{.fd = pidfd, .events = POLLIN},
                              {.fd = x->fd1, .events = POLLIN},
                              {.fd = x->fd2, .events = POLLIN}};
        if (poll(p, 3, left_ms(deadline)) > 0) {
            if (x->fd1 >= 0 && p[1].revents)
                drain_fd(&x->fd1, &x->raw1);
            if (x->fd2 >= 0 && p[2].revents)
                drain_fd(&x->fd2, &x->raw2);
        }
    }
    close(pidfd);
    return x->reaped ? x->wstatus : -1;
}

void xp_close_channel(struct xp *x)
{
    if (x->chan >= 0)
        close(x->chan);
    x->chan = -1;
    x->eof = true;
}

void xp_close(struct xp *x)
{
    if (x->pid > 0 && !x->reaped) {
        kill(x->pid, SIGKILL);
        waitpid(x->pid, &x->wstatus, 0);
        x->reaped = true;
    }
    xp_close_channel(x);
    if (x->fd1 >= 0)
        close(x->fd1);
    if (x->fd2 >= 0)
        close(x->fd2);
    x->fd1 = x->fd2 = -1;
    for (size_t i = 0; i < x->nlog; i++) {
        free(x->log[i].text);
        free(x->log[i].extra);
        for (size_t j = 0; j < x->log[i].nmatches; j++)
            free(x->log[i].matches[j]);
        free(x->log[i].matches);
    }
    free(x->log);
    x->log = NULL;
    x->nlog = x->caplog = 0;
    xp_buf_free(&x->raw1);
    xp_buf_free(&x->raw2);
    proto_reader_free(&x->reader);
}

/* --- running other programs ------------------------------------------------ */

int xp_run(const char *const *argv, const char *input, struct xp_buf *out,
           struct xp_buf *err, int timeout_ms)
{
    int in[2], o[2], e[2];
    int64_t deadline = now_ms() + timeout_ms;
    size_t inlen = input ? strlen(input) : 0, sent = 0;
    int status = -1;

    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
            _exit(126);
        execve(argv[0], (char *const *)argv, empty_env);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    if (pid < 0) {
        close(in[1]);
        close(o[0]);
        close(e[0]);
        return -1;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    if (inlen == 0) {
        close(in[1]);
        in[1] = -1;
    }
    xp_buf_add(out, "", 0);
    xp_buf_add(err, "", 0);
    while ((o[0] >= 0 || e[0] >= 0) && left_ms(deadline) > 0) {
        struct pollfd p[3] = {{.fd = o[0], .events = POLLIN},
                              {.fd = e[0], .events = POLLIN},
                              {.fd = in[1], .events = POLLOUT}};
        if (poll(p, 3, left_ms(deadline)) <= 0)
            continue;
        if (o[0] >= 0 && p[0].revents)
            drain_fd(&o[0], out);
        if (e[0] >= 0 && p[1].revents)
            drain_fd(&e[0], err);
        if (in[1] >= 0 && p[2].revents) {
            ssize_t w = write(in[1], input + sent, inlen - sent);
            if (w > 0)
                sent += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == inlen) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    if (o[0] >= 0 || e[0] >= 0) {
        kill(pid, SIGKILL);
        if (o[0] >= 0)
            close(o[0]);
        if (e[0] >= 0)
            close(e[0]);
        waitpid(pid, &status, 0);
        return -1;
    }
    waitpid(pid, &status, 0);
    return status;
}
