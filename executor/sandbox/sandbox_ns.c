/* Namespaces: the executor makes its own, one after another in a fixed
 * order, after dropping root and before the other layers (nsjail's
 * order): user first, as the executor's own uid (which it maps to
 * itself, so no privilege is needed), then ipc, uts (hostname), net
 * (loopback only) and pid (entered by the fork in sandbox_pidns.c).
 * Each failure names the namespace and why; one the policy marks
 * optional ('?') is gone without, and the description says so. The
 * mount namespace comes after them, in the process that runs Python
 * (sandbox_mount.c), and only then is every capability the user
 * namespace gave dropped (sandbox_drop_ns_caps): mounting needs them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_priv.h"

struct ns_ctx {
    const struct policy *p;
    uid_t uid;          /* outside, before the user namespace */
    gid_t gid;
};

static int write_file(const char *path, const char *text, char *err, size_t errlen,
                      const char *what)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: %s: %s: %s", what, path, strerror(e));
        return -e;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int e = w < 0 ? errno : EIO;
    if (close(fd) < 0 && w == (ssize_t)len) {
        w = -1;
        e = errno;
    }
    if (w != (ssize_t)len) {
        snprintf(err, errlen, "namespaces: %s: %s: %s", what, path, strerror(e));
        return -e;
    }
    return 0;
}

/* Inside, the executor keeps the ids it has outside: a single mapping of
 * one's own ids needs no privilege. setgroups must be denied first. */
static int map_ids(const struct ns_ctx *c, char *err, size_t errlen)
{
    char line[64];
    /* Dropping root made the process non-dumpable, which gives its /proc
     * files to root: dumpable only while the maps are written. */
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (dumpable < 0 || (dumpable != 1 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)) {
        int e = errno;
        snprintf(err, errlen, "namespaces: user: PR_SET_DUMPABLE: %s", strerror(e));
        return -e;
    }
    int rc = write_file("/proc/self/setgroups", "deny", err, errlen, "user");
    if (rc == 0) {
        snprintf(line, sizeof line, "%u %u 1\n", (unsigned)c->uid, (unsigned)c->uid);
        rc = write_file("/proc/self/uid_map", line, err, errlen, "user");
    }
    if (rc == 0) {
        snprintf(line, sizeof line, "%u %u 1\n", (unsigned)c->gid, (unsigned)c->gid);
        rc = write_file("/proc/self/gid_map", line, err, errlen, "user");
    }
    if (rc == 0 && (getuid() != c->uid || getgid() != c->gid)) {
        snprintf(err, errlen, "namespaces: user: the ids are not mapped as asked");
        rc = -EPERM;
    }
    if (dumpable != 1 && prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0) < 0 && rc == 0) {
        rc = -errno;
        snprintf(err, errlen, "namespaces: user: PR_SET_DUMPABLE: %s", strerror(-rc));
    }
    return rc;
}

static int set_hostname(const struct ns_ctx *c, char *err, size_t errlen)
{
    const char *name = policy_hostname(c->p);
    if (sethostname(name, strlen(name)) < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: uts: sethostname %s: %s", name, strerror(e));
        return -e;
    }
    return 0;
}

/* A new network namespace has only a loopback, and it is down. */
static int loopback_up(const struct ns_ctx *c, char *err, size_t errlen)
{
    (void)c;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: net: socket: %s", strerror(e));
        return -e;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);   /* a datagram socket never used: nothing to lose */
    if (rc < 0) {
        snprintf(err, errlen, "namespaces: net: bringing up lo: %s", strerror(e));
        return -e;
    }
    return 0;
}

static const struct ns_step {
    unsigned bit;
    int flag;
    int (*then)(const struct ns_ctx *c, char *err, size_t errlen);
} steps[] = {
    { POLICY_NS_USER, CLONE_NEWUSER, map_ids },
    { POLICY_NS_IPC, CLONE_NEWIPC, NULL },
    { POLICY_NS_UTS, CLONE_NEWUTS, set_hostname },
    { POLICY_NS_NET, CLONE_NEWNET, loopback_up },
    /* Only the children: sandbox_pidns_split forks into it. */
    { POLICY_NS_PID, CLONE_NEWPID, NULL },
};

/* The user namespace gave every capability inside it: none is kept. */
int sandbox_drop_ns_caps(unsigned made, char *err, size_t errlen)
{
    if (!(made & POLICY_NS_USER))
        return 0;
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break;      /* past the last capability this kernel knows */
            int e = errno;
            snprintf(err, errlen, "namespaces: dropping capability %d: %s", cap, strerror(e));
            return -e;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: clearing ambient capabilities: %s", strerror(e));
        return -e;
    }
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &h, data) < 0 || syscall(SYS_capget, &h, data) < 0) {
        int e = errno;
        snprintf(err, errlen, "namespaces: dropping capabilities: %s", strerror(e));
        return -e;
    }
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable) {
            snprintf(err, errlen, "namespaces: capabilities remain after dropping them");
            return -EPERM;
        }
    return 0;
}

int sandbox_namespaces(const struct policy *p, struct sandbox_desc *d, unsigned *made,
                       char *err, size_t errlen)
{
    unsigned optional;
    unsigned want = policy_namespaces(p, &optional);
    struct ns_ctx c = { .p = p, .uid = geteuid(), .gid = getegid() };
    *made = 0;
    if (!want) {
        sandbox_desc_add(d, "namespaces none");
        return 0;
    }
    sandbox_desc_add(d, "namespaces");
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const struct ns_step *s = &steps[i];
        const char *name = policy_ns_name(s->bit);
        if (!(want & s->bit))
            continue;
        if (unshare(s->flag) < 0) {
            int e = errno;
            if (optional & s->bit) {
                sandbox_desc_add(d, " %s?(%s)", name, strerror(e));
                continue;
            }
            snprintf(err, errlen, "namespaces: %s: cannot be created: %s; policy %s requires it "
                     "(write '%s?' to go without)", name, strerror(e), policy_name(p), name);
            return -e;
        }
        if (s->then) {
            int rc = s->then(&c, err, errlen);
            if (rc < 0)
                return rc;
        }
        *made |= s->bit;
        sandbox_desc_add(d, " %s", name);
    }
    return 0;
}
