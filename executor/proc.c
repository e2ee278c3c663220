/* Process hygiene for the start sequence: inherited descriptors, the
 * parent-death signal, the inherited signal mask. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

static void close_from_to(unsigned lo, unsigned hi)
{
    if (lo > hi || close_range(lo, hi, 0) == 0)
        return;
    /* Kernels before 5.9: close one by one up to the descriptor limit.
     * Most of these are not open, so EBADF is the expected answer. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX)
        max = 65536;
    for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
        (void)close((int)fd);
}

void exec_proc_close_fds(int keep)
{
    if (keep > 3)
        close_from_to(3, (unsigned)keep - 1);
    close_from_to((unsigned)keep + 1, ~0U);
}

int exec_proc_bind_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return -errno;
    /* The parent may have died before the line above took effect. */
    return getppid() == parent ? 0 : -ESRCH;
}

int exec_proc_unblock_signals(void)
{
    sigset_t all;

    if (sigfillset(&all) < 0 || sigprocmask(SIG_UNBLOCK, &all, NULL) < 0)
        return -errno;
    return 0;
}
