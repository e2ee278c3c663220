/* The SIGINT handler. Everything it touches is async-signal-safe: two
 * sig_atomic_t, a write to a non-blocking pipe, and PyErr_SetInterruptEx,
 * which CPython documents as callable from a C signal handler. */
#define _GNU_SOURCE
#include "interrupt.h"

#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t target = EXEC_INTERRUPT_NONE;
static volatile sig_atomic_t hit;
static int wake[2] = {-1, -1};

static void on_sigint(int sig, siginfo_t *si, void *ucontext)
{
    int saved = errno;
    int want = target;

    (void)ucontext;
    /* Only sigqueue carries a tag; kill(1) and the terminal do not, and
     * such an interrupt means whatever runs now. */
    if (want != EXEC_INTERRUPT_NONE &&
        (si->si_code != SI_QUEUE || (si->si_value.sival_int & 0x7fffffff) == want)) {
        hit = 1;
        PyErr_SetInterruptEx(sig);
        if (wake[1] >= 0 && write(wake[1], "!", 1) < 0) {
            /* full pipe: a wake-up is already pending */
        }
    }
    errno = saved;
}

int exec_interrupt_init(void)
{
    if (wake[0] >= 0)
        return 0;
    return pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

int exec_interrupt_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigint;
    /* No SA_RESTART: a blocking call must return EINTR so that Python gets
     * to run its handler (PEP 475 retries the call afterwards). */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -errno;
    return 0;
}

void exec_interrupt_set_target(int tag)
{
    hit = 0;
    target = tag < 0 ? EXEC_INTERRUPT_NONE : (tag & 0x7fffffff);
}

bool exec_interrupt_take(void)
{
    bool was = hit != 0;
    hit = 0;
    return was;
}

int exec_interrupt_wake_fd(void)
{
    return wake[0];
}

int exec_interrupt_wake_write_fd(void)
{
    return wake[1];
}

void exec_interrupt_drain(void)
{
    char buf[64];

    if (wake[0] < 0)
        return;
    /* Non-blocking: it ends with EAGAIN once the pipe is empty. */
    while (read(wake[0], buf, sizeof buf) > 0)
        ;
}
