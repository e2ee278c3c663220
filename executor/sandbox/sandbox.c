/* The order in which the layers go on, and the single-thread check that
 * makes them cover the whole process. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox_priv.h"

void sandbox_desc_add(struct sandbox_desc *d, const char *fmt, ...)
{
    if (d->len >= d->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        d->len += (size_t)n < d->cap - d->len ? (size_t)n : d->cap - d->len - 1;
}

/* Landlock and (without TSYNC) seccomp bind only the calling thread; a
 * thread started earlier would stay free. The one place that counts the
 * process's threads. */
static int check_single_thread(char *err, size_t errlen)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir) {
        int e = errno;
        snprintf(err, errlen, "cannot check that the process is single-threaded: /proc/self/task: %s",
                 strerror(e));
        return -e;
    }
    int n = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    int read_errno = errno;
    (void)closedir(dir);    /* read-only: nothing to lose */
    if (read_errno) {
        snprintf(err, errlen, "cannot check that the process is single-threaded: /proc/self/task: %s",
                 strerror(read_errno));
        return -read_errno;
    }
    if (n != 1) {
        snprintf(err, errlen, "the process has %d threads: the sandbox must go on while it has one", n);
        return -EBUSY;
    }
    return 0;
}

static int no_new_privs(char *err, size_t errlen)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        int e = errno;
        snprintf(err, errlen, "no_new_privs: %s", strerror(e));
        return -e;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        snprintf(err, errlen, "no_new_privs: set, but the kernel does not say so");
        return -EPERM;
    }
    return 0;
}

static int load_seccomp(const struct policy *p, struct sandbox_desc *d,
                        char *err, size_t errlen)
{
    scmp_filter_ctx ctx;
    unsigned n;
    char why[512];
    /* The pid namespace's own filter first: the policy's may forbid
     * seccomp(). */
    int rc = sandbox_pidns_filter(err, errlen);
    if (rc < 0)
        return rc;
    rc = policy_seccomp_build(p, &ctx, &n, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp: %s", why);
        return rc;
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp: the kernel refused the filter: %s", strerror(-rc));
        return rc;
    }
    sandbox_desc_add(d, "seccomp %u rules", n);
    return 0;
}

/* What sandbox_enter_namespaces did, for sandbox_apply to go on from. */
static struct {
    bool entered;
    int rc;             /* its result, given again if called twice */
    unsigned made;      /* POLICY_NS_* */
    char ubuf[64], nbuf[256];
    struct sandbox_desc du, dn;
} ns_phase;

int sandbox_enter_namespaces(const struct policy *p, char *err, size_t errlen)
{
    if (ns_phase.entered)
        return ns_phase.rc;
    ns_phase.entered = true;
    ns_phase.du = (struct sandbox_desc){ .buf = ns_phase.ubuf, .cap = sizeof ns_phase.ubuf };
    ns_phase.dn = (struct sandbox_desc){ .buf = ns_phase.nbuf, .cap = sizeof ns_phase.nbuf };
    int rc = check_single_thread(err, errlen);
    pid_t parent = getppid();
    int deathsig = 0;
    if (rc == 0 && prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0) < 0) {
        rc = -errno;
        snprintf(err, errlen, "PR_GET_PDEATHSIG: %s", strerror(-rc));
    }
    if (rc == 0)
        rc = sandbox_drop_root(&ns_phase.du, err, errlen);
    if (rc == 0)
        rc = sandbox_namespaces(p, &ns_phase.dn, &ns_phase.made, err, errlen);
    /* Changing credentials (and the user namespace) cleared the
     * parent-death signal. */
    if (rc == 0 && deathsig && prctl(PR_SET_PDEATHSIG, deathsig, 0, 0, 0) < 0) {
        rc = -errno;
        snprintf(err, errlen, "PR_SET_PDEATHSIG: %s", strerror(-rc));
    }
    if (rc == 0 && getppid() != parent) {
        snprintf(err, errlen, "the parent process exited while the sandbox went on");
        rc = -ESRCH;
    }
    /* From here on, in a pid namespace, this is its pid 1 (the reaper
     * stays outside, in sandbox_pidns_split). */
    if (rc == 0 && (ns_phase.made & POLICY_NS_PID))
        rc = sandbox_pidns_split(deathsig, &ns_phase.dn, err, errlen);
    ns_phase.rc = rc;
    return rc;
}

int sandbox_apply(const struct policy *p, char *desc, size_t desclen,
                  char *err, size_t errlen)
{
    char rbuf[256] = "", lbuf[128] = "", sbuf[64] = "";
    struct sandbox_desc dr = { .buf = rbuf, .cap = sizeof rbuf };
    struct sandbox_desc dl = { .buf = lbuf, .cap = sizeof lbuf };
    struct sandbox_desc ds = { .buf = sbuf, .cap = sizeof sbuf };
    bool mounted = false;
    /* Where the caller did not enter them early (before Python), now. */
    int rc = sandbox_enter_namespaces(p, err, errlen);
    if (rc < 0)
        return rc;
    rc = check_single_thread(err, errlen);
    unsigned made = ns_phase.made;
    /* In the process that runs Python, with the user namespace's
     * capabilities (mounting needs them), which go right after; a fresh
     * /proc needs the pid namespace to be this process's own. */
    if (rc == 0)
        rc = sandbox_mounts(p, &ns_phase.dn, (made & POLICY_NS_PID) != 0, &mounted, err, errlen);
    if (rc == 0)
        rc = sandbox_drop_ns_caps(made, err, errlen);
    if (rc == 0)
        rc = sandbox_pidns_catch_signals(err, errlen);
    if (rc == 0)
        rc = no_new_privs(err, errlen);
    if (rc == 0)
        rc = sandbox_rlimits(p, &dr, err, errlen);
    if (rc == 0)
        rc = sandbox_landlock(p, mounted, mounted && (made & POLICY_NS_PID), &dl, err, errlen);
    if (rc == 0)
        rc = load_seccomp(p, &ds, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(desc, desclen, "%s: %s, %s, %s, %s, %s", policy_name(p), sbuf, lbuf, rbuf,
             ns_phase.ubuf, ns_phase.nbuf);
    return 0;
}
