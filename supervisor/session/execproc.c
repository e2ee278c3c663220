#define _GNU_SOURCE
#include "execproc.h"

#include "forkserver.h"
#include "spawn_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_CHUNK 65536
/* After the process exits, how long its pipes may stay open (a grandchild
 * holding them) before the death is reported anyway. */
#define DRAIN_GRACE_MS 200

struct execproc {
    uv_loop_t *loop;
    uv_signal_t sigchld;         /* reaps it when it was spawned (spawn_exec.c) */
    struct forkserver *forkserver; /* forked by it, until it reports the exit */
    uv_pipe_t chan;
    uv_pipe_t out[2];            /* the child's fd 1 and fd 2 */
    uv_timer_t drain_timer;
    struct proto_reader reader;
    const struct execproc_cb *cb;
    void *data;
    const char *policy_name;
    pid_t pid;
    int handles_open;            /* freed when this drops to zero */
    int streams_open;            /* chan + out[0] + out[1] until EOF */
    unsigned eof;                /* bit i: stream i (chan, out[0], out[1]) ended */
    int exited, ready, bad, reported, destroyed, held;
    int64_t exit_status;
    int term_signal;
    int64_t denied_syscall;      /* last `denied` seen, -1 for none */
    uint64_t started_ms;
    char cause[512];             /* why we killed it, if we did */
    /* Its ready frame's sandbox, in its words: a pooled executor's ready
     * went to the pool, not to the session that takes it. */
    char sandbox[320];
    char rbuf[READ_CHUNK];
};

static unsigned live_count;

unsigned execproc_live(void) { return live_count; }
void *execproc_data(const struct execproc *ep) { return ep->data; }
void execproc_set_owner(struct execproc *ep, const struct execproc_cb *cb, void *data)
{
    ep->cb = cb;
    ep->data = data;
}
pid_t execproc_pid(const struct execproc *ep) { return ep->pid; }
pid_t execproc_cpu_pid(const struct execproc *ep) { return ep->pid; }
const char *execproc_sandbox(const struct execproc *ep) { return ep->sandbox; }

static void on_handle_closed(uv_handle_t *h)
{
    struct execproc *ep = h->data;
    if (--ep->handles_open == 0) {
        proto_reader_free(&ep->reader);
        free(ep);
        live_count--;
    }
}

static void close_handle(struct execproc *ep, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
    (void)ep;
}

static void kill_group(struct execproc *ep)
{
    if (ep->pid > 0) {
        /* Its own session and process group: take any child too. */
        kill(-ep->pid, SIGKILL);
        if (!ep->exited)
            kill(ep->pid, SIGKILL);
    }
}

/* What is known of the death, in words: the cause we gave when we killed
 * it, else what waitpid and the channel said. */
static void describe_death(struct execproc *ep, struct execproc_death *d, char *syscall,
                           size_t syscall_len, char *buf, size_t n)
{
    d->term_signal = ep->term_signal;
    d->exit_status = ep->term_signal ? -1 : (int)ep->exit_status;
    d->denied_syscall = NULL;
    d->cause = buf;
    if (ep->term_signal == SIGSYS && ep->denied_syscall >= 0) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)ep->denied_syscall);
        snprintf(syscall, syscall_len, "%s", name ? name : "unknown system call");
        free(name);
        d->denied_syscall = syscall;
    }
    if (ep->cause[0]) {
        snprintf(buf, n, "%s", ep->cause);
        return;
    }
    if (ep->term_signal) {
        const char *abbrev = sigabbrev_np(ep->term_signal);
        int len = snprintf(buf, n, "executor killed by SIG%s", abbrev ? abbrev : "?");
        if (len < 0 || (size_t)len >= n)
            return;
        /* A SIGSYS is the policy's only with the denial its trap handler
         * reports: one sent by kill() says nothing of a call. SIGKILL says
         * nothing of who sent it (the executor itself, another process,
         * the kernel's OOM killer): nothing more is claimed. */
        if (ep->term_signal == SIGSYS && d->denied_syscall)
            snprintf(buf + len, n - (size_t)len, ": blocked by policy %s: %s", ep->policy_name,
                     d->denied_syscall);
        return;
    }
    snprintf(buf, n, "executor exited with status %lld", (long long)ep->exit_status);
}

static void maybe_report(struct execproc *ep)
{
    char cause[600], syscall[64];
    struct execproc_death death;
    if (ep->reported || ep->destroyed || !ep->exited)
        return;
    if (ep->streams_open > 0 && uv_is_active((uv_handle_t *)&ep->drain_timer))
        return;
    ep->reported = 1;
    uv_timer_stop(&ep->drain_timer);
    describe_death(ep, &death, syscall, sizeof syscall, cause, sizeof cause);
    ep->cb->dead(ep, &death);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct execproc *ep = t->data;
    if (ep->held && !ep->bad) {
        /* Its output waits for the front end: the death is reported
         * after it, not over it. */
        uv_timer_start(&ep->drain_timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
        return;
    }
    if (!ep->exited) {
        /* The channel closed and the process did not follow. */
        execproc_kill(ep, "executor closed its channel");
        return;
    }
    maybe_report(ep);
}

static void process_exited(struct execproc *ep, int64_t status, int term_signal)
{
    ep->exited = 1;
    ep->exit_status = status;
    ep->term_signal = term_signal;
    kill_group(ep);
    ep->pid = -1;
    close_handle(ep, (uv_handle_t *)&ep->sigchld);
    if (ep->destroyed)
        return;
    if (ep->streams_open > 0)
        uv_timer_start(&ep->drain_timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
    maybe_report(ep);
}

/* Every executor watches SIGCHLD and reaps its own pid only, so deaths
 * that arrive together (one signal for several children) are each seen. */
static void on_sigchld(uv_signal_t *h, int signum)
{
    struct execproc *ep = h->data;
    int status;
    (void)signum;
    if (ep->exited || ep->pid <= 0)
        return;
    pid_t r = waitpid(ep->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return;
    if (r < 0) {
        /* ECHILD: gone without a status we can know. */
        process_exited(ep, -1, 0);
        return;
    }
    if (WIFSIGNALED(status))
        process_exited(ep, 0, WTERMSIG(status));
    else if (WIFEXITED(status))
        process_exited(ep, WEXITSTATUS(status), 0);
}

static int stream_index(const struct execproc *ep, const uv_stream_t *s)
{
    return s == (const uv_stream_t *)&ep->chan ? 0 : s == (const uv_stream_t *)&ep->out[0] ? 1 : 2;
}

static void stream_done(struct execproc *ep, uv_stream_t *s)
{
    uv_read_stop(s);
    ep->eof |= 1u << stream_index(ep, s);
    if (ep->streams_open > 0)
        ep->streams_open--;
    if (ep->exited && ep->streams_open == 0) {
        uv_timer_stop(&ep->drain_timer);
        maybe_report(ep);
    }
}

void execproc_kill(struct execproc *ep, const char *reason)
{
    if (reason && !ep->cause[0])
        snprintf(ep->cause, sizeof ep->cause, "%s", reason);
    ep->bad = 1;
    if (!ep->exited)
        kill_group(ep);
}

static void violation(struct execproc *ep, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "executor sent an invalid frame: %s", what);
    uv_read_stop((uv_stream_t *)&ep->chan);
    execproc_kill(ep, msg);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct execproc *ep = h->data;
    (void)suggested;
    buf->base = ep->rbuf;
    buf->len = sizeof ep->rbuf;
}

/* What the executor wrote to its fds 1 and 2 before it sent a frame was
 * written first, so it is shown first: the pipes are read dry before the
 * frame is handled, since the frame may have been read in the same turn
 * in which the pipes became readable. */
static void drain_raw(struct execproc *ep)
{
    char buf[4096];
    for (int i = 0; i < 2 && !ep->destroyed; i++) {
        uv_os_fd_t fd;
        if ((ep->eof & (2u << i)) || ep->held ||
            uv_fileno((uv_handle_t *)&ep->out[i], &fd) < 0)
            continue;
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0) {
                ep->cb->raw(ep, i + 1, buf, (size_t)n);
                if (ep->destroyed)
                    return;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            /* EOF and errors are left for libuv's own read to see. */
            break;
        }
    }
}

static void dispatch(struct execproc *ep, struct proto_msg *m)
{
    if (!ep->ready) {
        if (m->type == PROTO_ERROR) {
            /* It could not start, and says why: that is the cause. */
            char why[400];
            snprintf(why, sizeof why, "executor could not start: %.*s",
                     (int)(m->u.error.message.len > 300 ? 300 : m->u.error.message.len),
                     m->u.error.message.ptr);
            execproc_kill(ep, why);
            return;
        }
        if (m->type != PROTO_READY) {
            char what[128];
            snprintf(what, sizeof what, "'%s' before 'ready'", proto_type_name(m->type));
            violation(ep, what);
            return;
        }
        ep->ready = 1;
        const struct proto_str *sb = &m->u.ready.sandbox;
        snprintf(ep->sandbox, sizeof ep->sandbox, "%.*s",
                 (int)(sb->len < sizeof ep->sandbox ? sb->len : sizeof ep->sandbox - 1), sb->ptr);
        ep->cb->ready(ep, &m->u.ready);
        return;
    }
    switch (m->type) {
    case PROTO_OUTPUT: case PROTO_RESULT: case PROTO_INPUT: case PROTO_PAGE:
    case PROTO_DISPLAY:
        drain_raw(ep);
        if (ep->destroyed)
            return;
        ep->cb->message(ep, m);
        return;
    case PROTO_COMPLETIONS: case PROTO_INTERRUPT_ACK: case PROTO_ERROR: case PROTO_STARTED:
    case PROTO_CLEAR_OUTPUT: case PROTO_INSPECTION:
        ep->cb->message(ep, m);
        return;
    case PROTO_DENIED:
        ep->denied_syscall = m->u.denied.syscall;
        ep->cb->message(ep, m);
        return;
    default: {
        char what[128];
        snprintf(what, sizeof what, "'%s' is not a message an executor sends",
                 proto_type_name(m->type));
        violation(ep, what);
    }
    }
}

static void on_chan_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct execproc *ep = s->data;
    if (nread < 0) {
        /* A dying executor closes its channel just before it exits: give
         * the exit a moment to arrive so the report names the real cause. */
        if (!ep->exited && !ep->bad)
            uv_timer_start(&ep->drain_timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
        stream_done(ep, s);
        return;
    }
    if (ep->bad || nread == 0)
        return;
    if (proto_reader_feed(&ep->reader, buf->base, (size_t)nread)) {
        violation(ep, ep->reader.err);
        return;
    }
    for (;;) {
        struct proto_msg m;
        int rc = proto_reader_take(&ep->reader, &m);
        if (rc == PROTO_E_AGAIN)
            break;
        if (rc < 0) {
            violation(ep, ep->reader.err);
            return;
        }
        dispatch(ep, &m);
        proto_msg_release(&m);
        if (ep->bad || ep->destroyed)
            return;
    }
}

static void on_out_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct execproc *ep = s->data;
    if (nread < 0) {
        stream_done(ep, s);
        return;
    }
    if (nread > 0 && !ep->destroyed)
        ep->cb->raw(ep, s == (uv_stream_t *)&ep->out[0] ? 1 : 2, buf->base, (size_t)nread);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Closes what execproc_start opened before it failed; handles that were
 * initialised close through the loop and free ep when the last is done. */
static int start_failed(struct execproc *ep, int handles, int rc, char *err, size_t errlen,
                        const char *path)
{
    snprintf(err, errlen, "cannot start %s: %s", path, strerror(-rc));
    ep->destroyed = 1;
    ep->exited = 1;
    uv_handle_t *hs[] = {(uv_handle_t *)&ep->sigchld, (uv_handle_t *)&ep->chan,
                         (uv_handle_t *)&ep->out[0], (uv_handle_t *)&ep->out[1],
                         (uv_handle_t *)&ep->drain_timer};
    if (handles == 0) {
        proto_reader_free(&ep->reader);
        free(ep);
        live_count--;
        return rc;
    }
    ep->handles_open = handles;
    for (int i = 0; i < handles; i++)
        close_handle(ep, hs[i]);
    return rc;
}

/* The fork server's answer: the executor's pid, or why there is none. */
static void on_forked(void *arg, pid_t pid)
{
    struct execproc *ep = arg;
    if (pid < 0) {
        if (!ep->cause[0])
            snprintf(ep->cause, sizeof ep->cause, "cannot fork an executor: %s",
                     strerror((int)-pid));
        ep->forkserver = NULL;
        process_exited(ep, -1, 0);
        return;
    }
    ep->pid = pid;
    /* Killed before its pid was known: killed now. */
    if (ep->bad || ep->destroyed)
        kill_group(ep);
}

static void on_forked_exit(void *arg, int status)
{
    struct execproc *ep = arg;
    ep->forkserver = NULL;
    if (WIFSIGNALED(status))
        process_exited(ep, 0, WTERMSIG(status));
    else
        process_exited(ep, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

/* The new process: forked by the fork server when there is one ready,
 * else spawned. child[] are its descriptors (closed here). */
static int launch(struct execproc *ep, const struct execproc_config *cfg, int child[3])
{
    if (cfg->forkserver && forkserver_ready(cfg->forkserver) &&
        forkserver_fork(cfg->forkserver, cfg->policy_index, child, on_forked, on_forked_exit,
                        ep) == 0) {
        ep->forkserver = cfg->forkserver;
        return 0;
    }
    int rc = uv_signal_start(&ep->sigchld, on_sigchld, SIGCHLD);
    char **args = rc < 0 ? NULL : spawn_executor_args(cfg, NULL);
    if (rc == 0 && !args)
        rc = -ENOMEM;
    if (rc == 0)
        rc = spawn_child(cfg->executor_path, args, child, &ep->pid);
    free(args);
    spawn_close_fds(child);
    return rc;
}

int execproc_start(struct execproc **out, uv_loop_t *loop,
                   const struct execproc_config *cfg,
                   const struct execproc_cb *cb, void *data, char *err,
                   size_t errlen)
{
    struct execproc *ep = calloc(1, sizeof *ep);
    int parent[3], child[3];
    int rc;

    if (!ep) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    live_count++;
    ep->loop = loop;
    ep->cb = cb;
    ep->data = data;
    ep->policy_name = cfg->policy_name ? cfg->policy_name : "none";
    ep->denied_syscall = -1;
    proto_reader_init(&ep->reader, PROTO_FRAME_MAX_EXECUTOR);

    /* Watching before the spawn: a child that dies at once is still seen.
     * The handles in the order start_failed closes them. */
    if ((rc = uv_signal_init(loop, &ep->sigchld)) < 0)
        return start_failed(ep, 0, rc, err, errlen, cfg->executor_path);
    ep->sigchld.data = ep;
    if ((rc = uv_pipe_init(loop, &ep->chan, 0)) < 0)
        return start_failed(ep, 1, rc, err, errlen, cfg->executor_path);
    if ((rc = uv_pipe_init(loop, &ep->out[0], 0)) < 0)
        return start_failed(ep, 2, rc, err, errlen, cfg->executor_path);
    if ((rc = uv_pipe_init(loop, &ep->out[1], 0)) < 0)
        return start_failed(ep, 3, rc, err, errlen, cfg->executor_path);
    (void)uv_timer_init(loop, &ep->drain_timer);  /* cannot fail */
    ep->chan.data = ep->out[0].data = ep->out[1].data = ep->drain_timer.data = ep;
    if ((rc = spawn_fds(SOCK_STREAM, parent, child)) < 0)
        return start_failed(ep, 5, rc, err, errlen, cfg->executor_path);
    ep->started_ms = now_ms();
    if ((rc = launch(ep, cfg, child)) < 0) {
        spawn_close_fds(parent);
        return start_failed(ep, 5, rc, err, errlen, cfg->executor_path);
    }
    /* A handle owns its fd from here on (close_handle closes it); one that
     * could not take its fd leaves it to us. The parent ends are in the
     * order fd 1, fd 2, channel. */
    uv_pipe_t *owners[3] = {&ep->out[0], &ep->out[1], &ep->chan};
    for (int i = 0; i < 3; i++) {
        if (rc == 0)
            rc = uv_pipe_open(owners[i], parent[i]);
        if (rc < 0)
            close(parent[i]);
    }
    ep->streams_open = 3;
    ep->handles_open = 5;
    if (rc < 0) {
        snprintf(err, errlen, "cannot start %s: %s", cfg->executor_path, uv_strerror(rc));
        execproc_destroy(ep);
        return rc;
    }
    if ((rc = uv_read_start((uv_stream_t *)&ep->chan, alloc_cb, on_chan_read)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&ep->out[0], alloc_cb, on_out_read)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&ep->out[1], alloc_cb, on_out_read)) < 0) {
        snprintf(err, errlen, "cannot read from %s: %s", cfg->executor_path, uv_strerror(rc));
        execproc_destroy(ep);
        return rc;
    }

    struct proto_msg hello = {.type = PROTO_HELLO};
    hello.u.hello.version = PROTO_VERSION;
    hello.u.hello.features = cfg->features;
    if ((rc = execproc_send(ep, &hello)) < 0) {
        snprintf(err, errlen, "cannot talk to %s: %s", cfg->executor_path, strerror(-rc));
        execproc_destroy(ep);
        return rc;
    }
    *out = ep;
    return 0;
}

struct write_req {
    uv_write_t req;
    struct proto_buf buf;
};

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status;  /* a failed write shows up as EOF or exit */
    proto_buf_free(&w->buf);
    free(w);
}

int execproc_send(struct execproc *ep, const struct proto_msg *msg)
{
    if (ep->bad || ep->exited || ep->destroyed)
        return -EPIPE;
    struct write_req *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int rc = proto_encode(msg, &w->buf);
    if (rc) {
        free(w);
        return rc == PROTO_E_NOMEM ? -ENOMEM : -EMSGSIZE;
    }
    uv_buf_t b = uv_buf_init(w->buf.data, (unsigned)w->buf.len);
    /* The socket nearly always takes a frame whole: writing it now spares
     * a queued request, its callback and a poll-set change per statement.
     * libuv refuses this while earlier writes are queued, so order holds. */
    int n = uv_try_write((uv_stream_t *)&ep->chan, &b, 1);
    if (n == (int)b.len) {
        proto_buf_free(&w->buf);
        free(w);
        return 0;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    } else if (n != UV_EAGAIN) {
        proto_buf_free(&w->buf);
        free(w);
        return -EPIPE;
    }
    if (uv_write(&w->req, (uv_stream_t *)&ep->chan, &b, 1, on_written) < 0) {
        proto_buf_free(&w->buf);
        free(w);
        return -EPIPE;
    }
    return 0;
}

void execproc_hold_output(struct execproc *ep, bool hold)
{
    if (ep->held == (int)hold)
        return;
    ep->held = hold;
    if (ep->bad || ep->destroyed)
        return;
    uv_stream_t *streams[3] = {(uv_stream_t *)&ep->chan, (uv_stream_t *)&ep->out[0],
                               (uv_stream_t *)&ep->out[1]};
    for (int i = 0; i < 3; i++) {
        if ((ep->eof & (1u << i)) || uv_is_closing((uv_handle_t *)streams[i]))
            continue;
        if (hold)
            uv_read_stop(streams[i]);
        else if (uv_read_start(streams[i], alloc_cb, i ? on_out_read : on_chan_read) < 0)
            execproc_kill(ep, "cannot read from the executor");
    }
}

int execproc_interrupt(struct execproc *ep, uint64_t id)
{
    if (ep->exited || ep->pid <= 0)
        return -ESRCH;
    union sigval v = {.sival_int = (int)(id & 0x7fffffff)};
    return sigqueue(ep->pid, SIGINT, v) < 0 ? -errno : 0;
}

void execproc_destroy(struct execproc *ep)
{
    if (ep->destroyed)
        return;
    ep->destroyed = 1;
    if (!ep->exited)
        kill_group(ep);
    uv_read_stop((uv_stream_t *)&ep->chan);
    uv_read_stop((uv_stream_t *)&ep->out[0]);
    uv_read_stop((uv_stream_t *)&ep->out[1]);
    close_handle(ep, (uv_handle_t *)&ep->chan);
    close_handle(ep, (uv_handle_t *)&ep->out[0]);
    close_handle(ep, (uv_handle_t *)&ep->out[1]);
    close_handle(ep, (uv_handle_t *)&ep->drain_timer);
    /* The SIGCHLD watcher closes in process_exited, once the killed
     * process is reaped. */
}

long execproc_rss_kib(const struct execproc *ep)
{
    char path[64], line[256];
    long kib = -1;
    if (ep->pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)ep->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}
