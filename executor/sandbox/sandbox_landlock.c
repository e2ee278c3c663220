/* Landlock: which paths may be read (or written) and which TCP ports
 * reached, plus signal and abstract-socket scoping where the kernel has
 * them. The ABI is detected; a policy asking for more than the kernel
 * offers is refused, never applied in part. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_priv.h"

/* Debian 12's <linux/landlock.h> stops at ABI 2; later ABIs only grew the
 * structures and added bits, all of them fixed kernel ABI. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;    /* ABI 4 */
    uint64_t scoped;                /* ABI 6 */
};

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)        /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)     /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)    /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)     /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* Rights that make sense on a file rather than a directory: the kernel
 * refuses a rule on a file that names directory rights. */
#define LL_FS_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | \
                           LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

#define LL_FS_RO (LL_FS_READ_FILE | LL_FS_READ_DIR)
#define LL_FS_RX (LL_FS_RO | LL_FS_EXECUTE)
#define LL_FS_RW (LL_FS_RO | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | \
                  LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SYM | LL_FS_REFER | \
                  LL_FS_TRUNCATE)

int sandbox_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? -errno : (int)abi;
}

static uint64_t handled_fs(int abi)
{
    uint64_t fs = (LL_FS_MAKE_SYM << 1) - 1;    /* ABI 1: bits 0..12 */
    if (abi >= 2)
        fs |= LL_FS_REFER;
    if (abi >= 3)
        fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        fs |= LL_FS_IOCTL_DEV;
    return fs;
}

static uint64_t path_rights(enum policy_fs_access a)
{
    switch (a) {
    case POLICY_FS_RO: return LL_FS_RO;
    case POLICY_FS_RX: return LL_FS_RX;
    case POLICY_FS_RW: return LL_FS_RW;
    }
    return 0;
}

/* The descriptors here are O_PATH or the ruleset's: closing them loses
 * nothing, so close's result is not looked at. */
static int add_paths(const struct policy *p, bool mounted, int ruleset, uint64_t fs,
                     unsigned *added, char *err, size_t errlen)
{
    *added = 0;
    for (size_t i = 0; i < policy_path_count(p); i++) {
        const struct policy_path *pp = policy_path_at(p, i);
        /* Without the mount namespace the path is the host's, not the
         * private tmpfs or bind the rule was for. */
        if (pp->mount_only && !mounted)
            continue;
        int fd = open(pp->path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (pp->optional && (e == ENOENT || e == ENOTDIR))
                continue;
            snprintf(err, errlen, "landlock: %s: %s", pp->path, strerror(e));
            return -e;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int e = errno;
            snprintf(err, errlen, "landlock: %s: %s", pp->path, strerror(e));
            close(fd);
            return -e;
        }
        uint64_t rights = path_rights(pp->access) & fs;
        if (!S_ISDIR(st.st_mode))
            rights &= LL_FS_FILE_RIGHTS;
        struct landlock_path_beneath_attr attr = {
            .allowed_access = rights,
            .parent_fd = fd,
        };
        long rc = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0);
        int e = errno;
        close(fd);
        if (rc < 0) {
            snprintf(err, errlen, "landlock: rule for %s: %s", pp->path, strerror(e));
            return -e;
        }
        (*added)++;
    }
    return 0;
}

/* Returns the net rights left handled: a right with an "any" rule is not
 * handled at all, a right with port rules gets those ports. */
static uint64_t handled_net(const struct policy *p)
{
    uint64_t net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
    for (size_t i = 0; i < policy_tcp_count(p); i++) {
        const struct policy_tcp *t = policy_tcp_at(p, i);
        if (t->port < 0)
            net &= ~(t->kind == POLICY_TCP_BIND ? LL_NET_BIND_TCP : LL_NET_CONNECT_TCP);
    }
    return net;
}

static int add_ports(const struct policy *p, int ruleset, uint64_t net,
                     char *err, size_t errlen)
{
    for (size_t i = 0; i < policy_tcp_count(p); i++) {
        const struct policy_tcp *t = policy_tcp_at(p, i);
        uint64_t right = t->kind == POLICY_TCP_BIND ? LL_NET_BIND_TCP : LL_NET_CONNECT_TCP;
        if (t->port < 0 || !(net & right))
            continue;
        struct ll_net_port_attr attr = { .allowed_access = right, .port = (uint64_t)t->port };
        if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &attr, 0) < 0) {
            int e = errno;
            snprintf(err, errlen, "landlock: tcp rule for port %d: %s", t->port, strerror(e));
            return -e;
        }
    }
    return 0;
}

/* The /proc of the executor's own pid namespace (in its mount
 * namespace): readable, as the process's own files are. */
static int add_own_proc(int ruleset, uint64_t fs, char *err, size_t errlen)
{
    int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "landlock: /proc: %s", strerror(e));
        return -e;
    }
    struct landlock_path_beneath_attr attr = { .allowed_access = LL_FS_RO & fs, .parent_fd = fd };
    long rc = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0);
    int e = errno;
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "landlock: rule for /proc: %s", strerror(e));
        return -e;
    }
    return 0;
}

int sandbox_landlock(const struct policy *p, bool mounted, bool own_proc,
                     struct sandbox_desc *d, char *err, size_t errlen)
{
    if (!policy_landlock_enabled(p)) {
        sandbox_desc_add(d, "landlock off");
        return 0;
    }
    int abi = sandbox_landlock_abi();
    if (abi < 0) {
        snprintf(err, errlen, "landlock: not available (%s): this kernel lacks it or it is not enabled (lsm=landlock); policy %s requires it",
                 strerror(-abi), policy_name(p));
        return abi;
    }
    int need = policy_landlock_min_abi(p);
    if (abi < need) {
        snprintf(err, errlen, "landlock: the kernel offers ABI %d, policy %s needs ABI %d or later",
                 abi, policy_name(p), need);
        return -EOPNOTSUPP;
    }
    struct ll_ruleset_attr attr = { .handled_access_fs = handled_fs(abi) };
    size_t attr_size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = handled_net(p);
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) {
        int e = errno;
        snprintf(err, errlen, "landlock: create ruleset: %s", strerror(e));
        return -e;
    }
    unsigned added;
    int rc = add_paths(p, mounted, ruleset, attr.handled_access_fs, &added, err, errlen);
    if (rc == 0 && own_proc)
        rc = add_own_proc(ruleset, attr.handled_access_fs, err, errlen);
    if (rc == 0 && abi >= 4)
        rc = add_ports(p, ruleset, attr.handled_access_net, err, errlen);
    if (rc < 0) {
        close(ruleset);
        return rc;
    }
    long restricted = syscall(SYS_landlock_restrict_self, ruleset, 0);
    int e = errno;
    close(ruleset);
    if (restricted < 0) {
        snprintf(err, errlen, "landlock: restrict_self: %s", strerror(e));
        return -e;
    }
    sandbox_desc_add(d, "landlock ABI %d (%u path%s%s%s)", abi, added, added == 1 ? "" : "s",
                     abi >= 4 ? ", tcp" : "", abi >= 6 ? ", scoped" : "");
    return 0;
}
