/* The pid namespace. unshare(CLONE_NEWPID) moves only the caller's
 * children into the new namespace, so the executor forks once more: the
 * child is pid 1 there and goes on into the rest of the sandbox and
 * Python; the parent (the process the supervisor started, whose pid it
 * knows) stays outside as the child's reaper. The reaper runs no Python
 * and holds nothing but its end of a socket pair: it forwards every
 * signal it is sent to the child (an interrupt with its sigqueue value)
 * and, when the child ends, ends the same way, so the supervisor and the
 * fork server see the death they would have seen without the namespace.
 *
 * Pid 1 is special: the kernel drops any signal sent to it from inside its
 * namespace (itself included) whose action is the default. So that
 * abort(), os.kill(os.getpid(), SIGTERM), an alarm or a fault still end
 * the executor, the child (once Python has set its own handlers, so that
 * signal.getsignal() still reads SIG_DFL) catches every signal whose
 * default is to terminate and was left at the default, tells the reaper which it was
 * over the socket and exits 128 + the signal; the reaper, seeing both,
 * dies of that signal. SIGKILL cannot be caught: one sent to pid 1 is
 * trapped by a small seccomp filter of its own (sandbox_pidns_self_kill)
 * and ends the same way. What is not covered (a signal user code itself
 * set back to SIG_DFL, SIGSTOP sent to oneself) is ignored, as for any
 * pid 1; docs/policies.md says so. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox_priv.h"

static void (*hook_before_fork)(void);
static void (*hook_after_fork_child)(void);

/* In the child: its end of the socket pair to the reaper; -1 outside a
 * pid namespace of our own. */
static int reaper_fd = -1;
/* The child's pid as the host (and the supervisor) sees it. */
static pid_t outer_pid;

void sandbox_set_fork_hooks(void (*before)(void), void (*after_child)(void))
{
    hook_before_fork = before;
    hook_after_fork_child = after_child;
}

/* The reaper writes it once, right after the fork; it is read when first
 * asked for (for `ready`, long after), so the start never waits for the
 * reaper to be scheduled. 0 where it cannot be read. */
pid_t sandbox_outer_pid(void)
{
    if (reaper_fd < 0)
        return getpid();
    if (outer_pid == 0) {
        int32_t pid;
        ssize_t r;
        do
            r = read(reaper_fd, &pid, sizeof pid);
        while (r < 0 && errno == EINTR);
        if (r == (ssize_t)sizeof pid && pid > 0)
            outer_pid = pid;
    }
    return outer_pid;
}

/* --- the child (pid 1 inside) ------------------------------------------ */

void sandbox_pidns_die(int sig)
{
    if (reaper_fd < 0)
        return;
    unsigned char b = (unsigned char)sig;
    ssize_t w;
    do
        w = write(reaper_fd, &b, 1);
    while (w < 0 && errno == EINTR);
    /* Unread (user code closed the socket), the reaper reports the exit
     * status as it is: 128 + sig. */
    _exit(128 + sig);
}

static void on_fatal(int sig)
{
    sandbox_pidns_die(sig);
}

/* The child's first word to the reaper: its handlers are in place. Every
 * other byte is a signal number (never 0). */
#define ARMED_BYTE 0

/* Signals whose default action ends the process (signal(7)); SIGKILL has
 * its own filter, the real-time ones are added in a loop. */
static const int fatal_signals[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1,
    SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ,
    SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS,
};

static int catch_if_default(int sig)
{
    struct sigaction old;
    if (sigaction(sig, NULL, &old) < 0)
        return -errno;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
        return 0;   /* Python's, ours (SIGSYS) or ignored: left alone */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    if (sigfillset(&sa.sa_mask) < 0 || sigaction(sig, &sa, NULL) < 0)
        return -errno;
    return 0;
}

int sandbox_pidns_catch_signals(char *err, size_t errlen)
{
    int rc = 0;
    if (reaper_fd < 0)
        return 0;
    for (size_t i = 0; rc == 0 && i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        rc = catch_if_default(fatal_signals[i]);
    for (int sig = SIGRTMIN; rc == 0 && sig <= SIGRTMAX; sig++)
        rc = catch_if_default(sig);
    if (rc < 0) {
        snprintf(err, errlen, "namespaces: pid: catching signals as pid 1: %s", strerror(-rc));
        return rc;
    }
    /* From now on the reaper passes every signal on. */
    unsigned char armed = ARMED_BYTE;
    ssize_t w;
    do
        w = write(reaper_fd, &armed, 1);
    while (w < 0 && errno == EINTR);
    if (w != 1) {
        rc = w < 0 ? -errno : -EIO;
        snprintf(err, errlen, "namespaces: pid: telling the reaper: %s", strerror(-rc));
    }
    return rc;
}

/* The arguments of the trapped call, where this architecture is known;
 * elsewhere no filter is loaded and a self-sent SIGKILL stays ignored. */
#if defined(__x86_64__) || defined(__aarch64__)
#define KNOWS_TRAPPED_ARGS 1
#else
#define KNOWS_TRAPPED_ARGS 0
#endif

static bool trapped_args(const void *uctx, uint64_t a[3])
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    a[0] = (uint64_t)uc->uc_mcontext.gregs[REG_RDI];
    a[1] = (uint64_t)uc->uc_mcontext.gregs[REG_RSI];
    a[2] = (uint64_t)uc->uc_mcontext.gregs[REG_RDX];
    return true;
#elif defined(__aarch64__)
    for (int i = 0; i < 3; i++)
        a[i] = uc->uc_mcontext.regs[i];
    return true;
#else
    (void)uc;
    (void)a;
    return false;
#endif
}

/* The calls that send this process SIGKILL: which argument is the target
 * (-1: none, the thread group is implied) and which the signal. */
static const struct self_kill {
    int nr;
    int target_arg, sig_arg;
} self_kills[] = {
    { SYS_kill, 0, 1 },
    { SYS_tgkill, 0, 2 },
    { SYS_rt_sigqueueinfo, 0, 1 },
    { SYS_rt_tgsigqueueinfo, 0, 2 },
};

bool sandbox_pidns_self_kill(const siginfo_t *si, const void *uctx)
{
    uint64_t a[3];
    if (reaper_fd < 0 || !trapped_args(uctx, a))
        return false;
    for (size_t i = 0; i < sizeof self_kills / sizeof self_kills[0]; i++) {
        const struct self_kill *k = &self_kills[i];
        if (si->si_syscall != k->nr)
            continue;
        int target = (int)a[k->target_arg];
        return a[k->sig_arg] == SIGKILL && target == 1;
    }
    return false;
}

/* A filter of its own, loaded before the policy's (which forbids
 * seccomp()): traps SIGKILL sent to pid 1, this process. Stacked filters
 * take the strictest answer, so the trap wins over the policy's allow
 * (shipped policies allow kill only to $pid, which is 1 here); it would
 * also win over a policy that refuses kill(1, SIGKILL), which then ends
 * the executor instead of failing with EPERM. kill(0, SIGKILL) is left
 * to the policy: where allowed, it reaches the process group, which
 * holds the reaper too, and so ends the executor. */
int sandbox_pidns_filter(char *err, size_t errlen)
{
    if (reaper_fd < 0 || !KNOWS_TRAPPED_ARGS)
        return 0;
    int rc = -ENOMEM;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx) {
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
        for (size_t i = 0; rc == 0 && i < sizeof self_kills / sizeof self_kills[0]; i++) {
            const struct self_kill *k = &self_kills[i];
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, k->nr, 2,
                                  SCMP_CMP((unsigned)k->target_arg, SCMP_CMP_EQ, 1),
                                  SCMP_CMP((unsigned)k->sig_arg, SCMP_CMP_EQ, SIGKILL));
        }
        if (rc == 0)
            rc = seccomp_load(ctx);
        seccomp_release(ctx);
    }
    if (rc < 0)
        snprintf(err, errlen, "namespaces: pid: the filter for SIGKILL sent to pid 1: %s",
                 strerror(-rc));
    return rc;
}

/* --- the reaper (outside) ----------------------------------------------- */

__attribute__((noreturn)) static void die_of(int sig)
{
    /* No core file of the reaper: the child's death is the news. */
    struct rlimit none = { 0, 0 };
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    (void)sigaction(sig, &sa, NULL);
    sigset_t one;
    (void)sigemptyset(&one);
    (void)sigaddset(&one, sig);
    (void)kill(getpid(), sig);
    (void)sigprocmask(SIG_UNBLOCK, &one, NULL);
    _exit(128 + sig);   /* a signal whose default does not end a process */
}

/* What the child has said on the socket: ARMED_BYTE once its handlers
 * are in place, then at most the signal it is dying of. */
struct child_word {
    bool armed;
    int dying_of;
};

static void read_child(int sock, struct child_word *w)
{
    unsigned char buf[16];
    ssize_t n;
    while ((n = recv(sock, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == ARMED_BYTE)
                w->armed = true;
            else
                w->dying_of = buf[i];
        }
}

static bool ends_by_default(int sig)
{
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        return true;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        if (fatal_signals[i] == sig)
            return true;
    return false;
}

__attribute__((noreturn)) static void end_as(int status, int sock, struct child_word *w)
{
    if (WIFSIGNALED(status))
        die_of(WTERMSIG(status));
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    read_child(sock, w);
    if (code > 128 && w->dying_of == code - 128)
        die_of(w->dying_of);
    _exit(code);
}

/* Signals come in by sigwaitinfo (all are blocked): SIGCHLD means the
 * child may have ended; every other is passed on. Until the child has
 * caught the signals that end a process (it does so once Python is
 * initialised), it would drop them as pid 1: one of those then ends it
 * here, as its default action would have. SIGINT is the exception: the
 * executor has its own handler from the start. */
__attribute__((noreturn)) static void reap(pid_t child, int sock, const sigset_t *all)
{
    struct child_word word = { .armed = false, .dying_of = 0 };
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(all, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            (void)kill(child, SIGKILL);
            _exit(1);
        }
        if (sig == SIGCHLD) {
            int status;
            pid_t w;
            do
                w = waitpid(child, &status, WNOHANG);
            while (w < 0 && errno == EINTR);
            if (w == child)
                end_as(status, sock, &word);
            if (w < 0)
                _exit(1);   /* ECHILD: nothing left to wait for */
            continue;
        }
        read_child(sock, &word);
        if (!word.armed && sig != SIGINT && ends_by_default(sig)) {
            (void)kill(child, SIGKILL);
            (void)waitpid(child, NULL, 0);
            die_of(sig);
        }
        if (si.si_code == SI_QUEUE)
            (void)sigqueue(child, sig, si.si_value);
        else
            (void)kill(child, sig);
    }
}

/* The reaper keeps only its socket: the channel and anything else open
 * belong to the child. */
static void keep_only(int sock)
{
    if (sock > 3)
        (void)syscall(SYS_close_range, 3u, (unsigned)sock - 1, 0u);
    (void)syscall(SYS_close_range, (unsigned)sock + 1, ~0u, 0u);
}

int sandbox_pidns_split(int deathsig, struct sandbox_desc *d, char *err, size_t errlen)
{
    (void)d;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: pid: socketpair: %s", strerror(e));
        return -e;
    }
    sigset_t all, old;
    if (sigfillset(&all) < 0 || sigprocmask(SIG_SETMASK, &all, &old) < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: pid: blocking signals: %s", strerror(e));
        close(sv[0]);
        close(sv[1]);
        return -e;
    }
    if (hook_before_fork)
        hook_before_fork();
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: pid: fork: %s", strerror(e));
        close(sv[0]);
        close(sv[1]);
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        return -e;
    }
    if (child > 0) {
        keep_only(sv[0]);
        int32_t pid = child;
        if (write(sv[0], &pid, sizeof pid) != (ssize_t)sizeof pid) {
            (void)kill(child, SIGKILL);
            _exit(1);
        }
        reap(child, sv[0], &all);
    }
    if (hook_after_fork_child)
        hook_after_fork_child();
    close(sv[0]);
    int rc = 0;
    /* The fork cleared the parent-death signal; once re-armed, a reaper
     * still there (its end of the pair not hung up) is the parent whose
     * death will be ours. */
    if (deathsig && prctl(PR_SET_PDEATHSIG, deathsig, 0, 0, 0) < 0) {
        rc = -errno;
        snprintf(err, errlen, "namespaces: pid: PR_SET_PDEATHSIG: %s", strerror(-rc));
    }
    if (rc == 0) {
        struct pollfd pf = { .fd = sv[1], .events = POLLIN };
        if (poll(&pf, 1, 0) < 0 || (pf.revents & (POLLHUP | POLLERR))) {
            snprintf(err, errlen, "namespaces: pid: the reaper ended before the executor started");
            rc = -ESRCH;
        }
    }
    if (rc == 0)
        reaper_fd = sv[1];
    if (sigprocmask(SIG_SETMASK, &old, NULL) < 0 && rc == 0) {
        rc = -errno;
        snprintf(err, errlen, "namespaces: pid: unblocking signals: %s", strerror(-rc));
    }
    return rc;
}
