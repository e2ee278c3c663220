/* The fork server: see forkserver.h and common/forkproto.h.
 *
 * Forking a process that has initialised CPython and imported what the
 * REPL needs costs a fraction of a millisecond of page-table copying; a
 * new executor otherwise spends some 80 ms importing. Python's own fork
 * hooks run around the fork (PyOS_BeforeFork and the after-fork calls),
 * so in the child the interpreter's locks are sound and modules that
 * registered at-fork handlers (random reseeds itself) do what they do
 * after os.fork(). The server is single-threaded, as a fork requires. */
#define _GNU_SOURCE
#include "forkserver.h"

#include "channel.h"
#include "forkproto.h"
#include "proc.h"

#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The supervisor is gone, or spoke out of turn: nothing left to serve. */
__attribute__((noreturn)) static void stop(const char *why)
{
    if (why)
        (void)dprintf(STDERR_FILENO, "aiobox-executor: fork server: %s\n", why);
    _exit(why ? EXEC_EXIT_PROTOCOL : EXEC_EXIT_CLOSED);
}

static void send_record(int ctl, const struct forkproto_msg *m)
{
    for (;;) {
        ssize_t n = send(ctl, m, sizeof *m, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof *m)
            return;
        if (n < 0 && errno == EINTR)
            continue;
        stop(n < 0 && (errno == EPIPE || errno == ECONNRESET) ? NULL
                                                               : "cannot write to the supervisor");
    }
}

static void reply(int ctl, uint32_t kind, uint64_t tag, int32_t pid, int32_t value)
{
    struct forkproto_msg m = {.magic = FORKPROTO_MAGIC, .kind = kind, .tag = tag,
                              .pid = pid, .value = value};
    send_record(ctl, &m);
}

/* Every executor that has ended, said with its wait status. */
static void reap(int ctl, int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
        ;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        reply(ctl, FORKPROTO_EXITED, 0, pid, status);
    }
}

/* Receives one record; its descriptors (FORK only) in fds. Returns 1 with
 * a record, 0 at the supervisor's EOF; anything malformed ends us. */
static int receive(int ctl, struct forkproto_msg *m, int fds[FORKPROTO_FDS])
{
    union {
        char buf[CMSG_SPACE(FORKPROTO_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    ssize_t n;
    do
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        stop(errno == ECONNRESET ? NULL : "cannot read from the supervisor");
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got < FORKPROTO_FDS)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (n != (ssize_t)sizeof *m || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        m->magic != FORKPROTO_MAGIC || m->kind != FORKPROTO_FORK || got != FORKPROTO_FDS) {
        for (int i = 0; i < got; i++)
            close(fds[i]);
        stop("a record that is not a fork request");
    }
    return 1;
}

/* In the child: its descriptors where an executor has them (none of the
 * received ones is below 4: 0 to 3 were open in the server). */
static void take_fds(const int fds[FORKPROTO_FDS])
{
    static const int where[FORKPROTO_FDS] = {1, 2, 3};
    for (int i = 0; i < FORKPROTO_FDS; i++)
        if (dup2(fds[i], where[i]) < 0)
            _exit(EXEC_EXIT_START);
    exec_proc_close_fds(3);
}

void forkserver_serve(int ctl, size_t npolicies, unsigned *policy)
{
    sigset_t chld, old;
    if (sigemptyset(&chld) < 0 || sigaddset(&chld, SIGCHLD) < 0 ||
        sigprocmask(SIG_BLOCK, &chld, &old) < 0)
        stop("cannot block SIGCHLD");
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        stop("cannot watch SIGCHLD");
    reply(ctl, FORKPROTO_READY, 0, (int32_t)getpid(), 0);
    for (;;) {
        struct pollfd p[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            stop("poll failed");
        }
        if (p[1].revents)
            reap(ctl, sigfd);
        if (!p[0].revents)
            continue;
        struct forkproto_msg m;
        int fds[FORKPROTO_FDS];
        if (!receive(ctl, &m, fds))
            stop(NULL);
        if (m.policy >= (npolicies ? npolicies : 1)) {
            for (int i = 0; i < FORKPROTO_FDS; i++)
                close(fds[i]);
            reply(ctl, FORKPROTO_FAILED, m.tag, 0, -EINVAL);
            continue;
        }
        PyOS_BeforeFork();
        pid_t pid = fork();
        if (pid == 0) {
            PyOS_AfterFork_Child();
            if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
                _exit(EXEC_EXIT_START);
            take_fds(fds);
            /* Its own session and process group, as a spawned executor
             * has: the supervisor kills the whole group. */
            if (setsid() < 0)
                _exit(EXEC_EXIT_START);
            *policy = m.policy;
            return;
        }
        int saved = errno;
        PyOS_AfterFork_Parent();
        for (int i = 0; i < FORKPROTO_FDS; i++)
            close(fds[i]);
        if (pid < 0)
            reply(ctl, FORKPROTO_FAILED, m.tag, 0, -saved);
        else
            reply(ctl, FORKPROTO_FORKED, m.tag, (int32_t)pid, 0);
    }
}
