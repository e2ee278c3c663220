#define _GNU_SOURCE
#include "forkserver.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "execproc.h"
#include "forkproto.h"
#include "spawn_exec.h"

/* A fork server that keeps dying is started again after a pause that
 * doubles, from RESTART_MIN_MS up to RESTART_MAX_MS; meanwhile executors
 * are spawned. */
#define RESTART_MIN_MS 100
#define RESTART_MAX_MS 10000

/* An executor it forked, or is forking. */
struct child {
    struct child *next;
    uint64_t tag;
    pid_t pid;                   /* 0 until FORKED */
    void (*forked)(void *arg, pid_t pid);
    void (*exited)(void *arg, int status);
    void *arg;                   /* NULL once its owner forgot it */
};

struct forkserver {
    uv_loop_t *loop;
    struct forkserver_config cfg;
    char **args;                 /* its command line, kept for restarts */
    pid_t pid;
    int ctl;                     /* our end of the control socket */
    uv_poll_t ctl_poll;
    bool ctl_open;
    uv_pipe_t out[2];            /* its fd 1 and fd 2, passed on to our stderr */
    bool out_open[2];
    uv_signal_t sigchld;         /* reaps it */
    uv_timer_t restart_timer;
    unsigned restart_ms;
    bool ready, closing;
    bool exited;                 /* reaped: its pid is no longer its */
    int handles_open;
    struct child *children;
    uint64_t next_tag;
    unsigned long forks;
    char rbuf[4096];
};

bool forkserver_ready(const struct forkserver *fs) { return fs && fs->ready && !fs->closing; }
unsigned long forkserver_forks(const struct forkserver *fs) { return fs->forks; }
pid_t forkserver_pid(const struct forkserver *fs) { return fs->pid; }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0) {
        /* nowhere else to say it */
    }
}

static struct child *find_tag(struct forkserver *fs, uint64_t tag)
{
    for (struct child *c = fs->children; c; c = c->next)
        if (c->tag == tag && c->pid == 0)
            return c;
    return NULL;
}

static struct child *find_pid(struct forkserver *fs, pid_t pid)
{
    for (struct child *c = fs->children; c; c = c->next)
        if (c->pid == pid)
            return c;
    return NULL;
}

static void drop(struct forkserver *fs, struct child *gone)
{
    for (struct child **pp = &fs->children; *pp; pp = &(*pp)->next)
        if (*pp == gone) {
            *pp = gone->next;
            free(gone);
            return;
        }
}

/* Every executor it had ends with it: their parent-death signal killed
 * them (or will, the moment it is gone). */
static void orphan_all(struct forkserver *fs)
{
    while (fs->children) {
        struct child *c = fs->children;
        fs->children = c->next;
        if (c->arg) {
            if (c->pid == 0)
                c->forked(c->arg, -EPIPE);
            else
                c->exited(c->arg, SIGKILL);  /* a wait status: killed by SIGKILL */
        }
        free(c);
    }
}

/* --- the control socket -------------------------------------------------- */

static void lost(struct forkserver *fs, const char *why);

static void on_record(struct forkserver *fs, const struct forkproto_msg *m)
{
    struct child *c;
    switch (m->kind) {
    case FORKPROTO_READY:
        if (fs->ready) {
            lost(fs, "it said READY twice");
            return;
        }
        fs->ready = true;
        return;
    case FORKPROTO_FORKED:
    case FORKPROTO_FAILED:
        if (!(c = find_tag(fs, m->tag)) ||
            (m->kind == FORKPROTO_FORKED ? m->pid <= 0 : m->value >= 0)) {
            lost(fs, "it answered a request it was not asked");
            return;
        }
        if (m->kind == FORKPROTO_FAILED) {
            if (c->arg)
                c->forked(c->arg, m->value);
            drop(fs, c);
            return;
        }
        c->pid = m->pid;
        fs->forks++;
        if (c->arg)
            c->forked(c->arg, c->pid);
        return;
    case FORKPROTO_EXITED:
        if (!(c = find_pid(fs, m->pid)))
            return;  /* forgotten, or not one of ours: nothing to tell */
        if (c->arg)
            c->exited(c->arg, m->value);
        drop(fs, c);
        return;
    default:
        lost(fs, "it sent a record of unknown kind");
    }
}

static void on_ctl(uv_poll_t *h, int status, int events)
{
    struct forkserver *fs = h->data;
    (void)events;
    if (status < 0) {
        lost(fs, uv_strerror(status));
        return;
    }
    for (;;) {
        struct forkproto_msg m;
        ssize_t n = recv(fs->ctl, &m, sizeof m, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == 0) {
            lost(fs, NULL);  /* it is gone; SIGCHLD says how */
            return;
        }
        if (n != (ssize_t)sizeof m || m.magic != FORKPROTO_MAGIC) {
            lost(fs, n < 0 ? strerror(errno) : "a record of the wrong size");
            return;
        }
        on_record(fs, &m);
        if (!fs->ctl_open)
            return;
    }
}

/* --- life cycle ------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    struct forkserver *fs = h->data;
    if (--fs->handles_open > 0 || !fs->closing)
        return;
    free(fs->args);
    free(fs);
}

static void close_ctl(struct forkserver *fs)
{
    if (!fs->ctl_open)
        return;
    fs->ctl_open = false;
    fs->ready = false;
    /* uv_close takes the descriptor out of the loop's poll set at once,
     * so it may be closed right after. */
    uv_close((uv_handle_t *)&fs->ctl_poll, on_closed);
    close(fs->ctl);
    fs->ctl = -1;
}

static void close_outputs(struct forkserver *fs)
{
    for (int i = 0; i < 2; i++)
        if (fs->out_open[i]) {
            fs->out_open[i] = false;
            uv_read_stop((uv_stream_t *)&fs->out[i]);
            uv_close((uv_handle_t *)&fs->out[i], on_closed);
        }
}

static int start(struct forkserver *fs);

static void on_restart(uv_timer_t *t)
{
    struct forkserver *fs = t->data;
    if (!fs->closing && fs->pid == 0 && start(fs) < 0)
        uv_timer_start(&fs->restart_timer, on_restart, fs->restart_ms, 0);
}

/* It is gone or broke the protocol: it is killed, its executors ended,
 * and it is started again later. */
static void lost(struct forkserver *fs, const char *why)
{
    if (why && !fs->closing)
        say("aiobox: fork server %d: %s; executors are spawned until it is back\n",
            (int)fs->pid, why);
    close_ctl(fs);
    if (fs->pid > 0 && !fs->exited)
        kill(fs->pid, SIGKILL);
    orphan_all(fs);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    struct forkserver *fs = h->data;
    int status;
    (void)signum;
    if (fs->pid <= 0)
        return;
    pid_t r = waitpid(fs->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return;
    fs->exited = true;
    lost(fs, fs->closing ? NULL : "it ended");
    fs->pid = 0;
    fs->exited = false;
    if (fs->closing) {
        uv_close((uv_handle_t *)&fs->sigchld, on_closed);
        uv_close((uv_handle_t *)&fs->restart_timer, on_closed);
        return;
    }
    fs->restart_ms = fs->restart_ms ? fs->restart_ms * 2 : RESTART_MIN_MS;
    if (fs->restart_ms > RESTART_MAX_MS)
        fs->restart_ms = RESTART_MAX_MS;
    uv_timer_start(&fs->restart_timer, on_restart, fs->restart_ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct forkserver *fs = h->data;
    (void)suggested;
    buf->base = fs->rbuf;
    buf->len = sizeof fs->rbuf;
}

/* What it writes to its fds 1 and 2 (start-up errors) goes to our stderr. */
static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct forkserver *fs = s->data;
    if (n < 0) {
        int i = s == (uv_stream_t *)&fs->out[1];
        if (fs->out_open[i]) {
            fs->out_open[i] = false;
            uv_close((uv_handle_t *)s, on_closed);
        }
        return;
    }
    if (n > 0 && write(2, buf->base, (size_t)n) < 0) {
        /* stderr is gone: nothing to do */
    }
}

static int start(struct forkserver *fs)
{
    int parent[3], child[3];
    int rc = spawn_fds(SOCK_SEQPACKET, parent, child);
    if (rc < 0)
        return rc;
    rc = spawn_child(fs->cfg.executor_path, fs->args, child, &fs->pid);
    spawn_close_fds(child);
    if (rc < 0) {
        fs->pid = 0;
        spawn_close_fds(parent);
        return rc;
    }
    fs->ctl = parent[2];
    if ((rc = uv_poll_init(fs->loop, &fs->ctl_poll, fs->ctl)) < 0 ||
        (rc = uv_poll_start(&fs->ctl_poll, UV_READABLE, on_ctl)) < 0) {
        close(parent[0]);
        close(parent[1]);
        close(fs->ctl);
        kill(fs->pid, SIGKILL);
        return rc;
    }
    fs->ctl_poll.data = fs;
    fs->ctl_open = true;
    fs->handles_open++;
    for (int i = 0; i < 2; i++) {
        if (uv_pipe_init(fs->loop, &fs->out[i], 0) < 0) {
            close(parent[i]);
            continue;
        }
        fs->out[i].data = fs;
        fs->handles_open++;
        fs->out_open[i] = true;
        if (uv_pipe_open(&fs->out[i], parent[i]) < 0 ||
            uv_read_start((uv_stream_t *)&fs->out[i], alloc_cb, on_output) < 0) {
            fs->out_open[i] = false;
            uv_close((uv_handle_t *)&fs->out[i], on_closed);
        }
    }
    return 0;
}

int forkserver_start(struct forkserver **out, uv_loop_t *loop,
                     const struct forkserver_config *cfg, char *err, size_t errlen)
{
    static const char *const extra[] = {"--forkserver", NULL};
    struct forkserver *fs = calloc(1, sizeof *fs);
    if (!fs) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    fs->loop = loop;
    fs->cfg = *cfg;
    fs->ctl = -1;
    /* The fork server takes every policy, each as --policy, in order. */
    size_t nextra = 1 + 2 * cfg->npolicies;
    const char **more = calloc(nextra + 1, sizeof *more);
    struct execproc_config ec = {.executor_path = cfg->executor_path,
                                 .allow_read = cfg->allow_read,
                                 .n_allow_read = cfg->n_allow_read,
                                 .allow_write = cfg->allow_write,
                                 .n_allow_write = cfg->n_allow_write};
    if (more) {
        more[0] = extra[0];
        for (size_t i = 0; i < cfg->npolicies; i++) {
            more[1 + 2 * i] = "--policy";
            more[2 + 2 * i] = cfg->policies[i];
        }
        if (!cfg->npolicies)
            ec.policy_path = NULL;
        fs->args = spawn_executor_args(&ec, more);
        free(more);
    }
    if (!fs->args) {
        free(fs);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Both cannot fail once the loop exists. */
    (void)uv_signal_init(loop, &fs->sigchld);
    (void)uv_timer_init(loop, &fs->restart_timer);
    fs->sigchld.data = fs->restart_timer.data = fs;
    fs->handles_open = 2;
    int rc = uv_signal_start(&fs->sigchld, on_sigchld, SIGCHLD);
    if (rc == 0)
        rc = start(fs);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the fork server %s: %s", cfg->executor_path,
                 strerror(-rc));
        fs->closing = true;
        uv_close((uv_handle_t *)&fs->sigchld, on_closed);
        uv_close((uv_handle_t *)&fs->restart_timer, on_closed);
        return rc;
    }
    *out = fs;
    return 0;
}

int forkserver_fork(struct forkserver *fs, unsigned policy, int fds[3],
                    void (*forked)(void *arg, pid_t pid),
                    void (*exited)(void *arg, int status), void *arg)
{
    if (!forkserver_ready(fs))
        return -EAGAIN;
    struct child *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->tag = ++fs->next_tag;
    c->forked = forked;
    c->exited = exited;
    c->arg = arg;

    struct forkproto_msg m = {.magic = FORKPROTO_MAGIC, .kind = FORKPROTO_FORK, .tag = c->tag,
                              .policy = policy};
    union {
        char buf[CMSG_SPACE(FORKPROTO_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(FORKPROTO_FDS * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, FORKPROTO_FDS * sizeof(int));
    ssize_t n;
    do
        n = sendmsg(fs->ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof m) {
        /* Its queue is full (or it is gone): the caller spawns instead. */
        int rc = n < 0 ? -errno : -EIO;
        free(c);
        return rc;
    }
    spawn_close_fds(fds);
    c->next = fs->children;
    fs->children = c;
    return 0;
}

void forkserver_forget(struct forkserver *fs, void *arg)
{
    for (struct child *c = fs->children; c; c = c->next)
        if (c->arg == arg)
            c->arg = NULL;
}

void forkserver_close(struct forkserver *fs)
{
    if (!fs || fs->closing)
        return;
    fs->closing = true;
    uv_timer_stop(&fs->restart_timer);
    close_ctl(fs);
    close_outputs(fs);
    orphan_all(fs);
    if (fs->pid > 0) {
        /* Reaped in on_sigchld, which then closes the rest. */
        kill(fs->pid, SIGKILL);
        return;
    }
    uv_close((uv_handle_t *)&fs->sigchld, on_closed);
    uv_close((uv_handle_t *)&fs->restart_timer, on_closed);
}
