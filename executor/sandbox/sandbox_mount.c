/* The mount namespace: the executor's own root, holding only what the
 * policy names. Made inside the user namespace (whose capabilities it
 * needs, so before they are dropped), in the process that will run
 * Python, after the other namespaces:
 *
 *   1. unshare(CLONE_NEWNS), everything made private (nothing propagates
 *      to or from the host);
 *   2. every host path to show is opened (O_PATH) first, so that a path
 *      the staging mount hides can still be bound (through its
 *      /proc/self/fd link);
 *   3. a small tmpfs is mounted on STAGE_DIR and the new root built in
 *      it: the policy's fs paths and bind-ro/bind-rw paths bound at the
 *      same path (parents before children; read-only unless rw), the
 *      device nodes (bound: a user namespace cannot mknod), each `tmpfs`,
 *      a fresh /proc when the caller has a pid namespace of its own, and
 *      the host's root-level symlinks (/lib -> usr/lib on a merged /usr,
 *      so paths in /etc/ld.so.cache resolve);
 *   4. the new root made read-only, pivot_root into it, the old root
 *      detached.
 *
 * Only refusing the namespace itself is optional ('mount?'); any failure
 * after it is fatal, and names the step and the path. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_priv.h"

/* Where the new root is built. Any directory the host has serves: the
 * staging tmpfs only covers it inside this (private) namespace, and the
 * host paths under it were opened before. */
#define STAGE_DIR "/tmp"
/* The new root holds directories and empty mount-point files only. */
#define STAGE_OPTS "size=1m,nr_inodes=4096,mode=0755"

/* Device nodes Python and its libraries open, bound from the host's
 * (optional: a container without one still starts, as on its host). */
static const char *const dev_nodes[] = { "/dev/null", "/dev/zero", "/dev/urandom" };

enum item_kind { ITEM_BIND, ITEM_TMPFS };

/* One thing to put in the new root, at the path it has on the host. */
struct item {
    enum item_kind kind;
    const char *path;
    bool writable;      /* ITEM_BIND */
    bool optional;      /* ITEM_BIND: skipped when the host lacks it */
    uint64_t size;      /* ITEM_TMPFS */
    int fd;             /* ITEM_BIND: O_PATH of the host's, -1 if skipped */
    bool dir;
    bool bound;         /* ITEM_BIND: mounted (not skipped as missing) */
};

struct mount_ctx {
    struct item *items;
    size_t n;
    char *err;
    size_t errlen;
};

static int fail(struct mount_ctx *c, int e, const char *step, const char *path)
{
    snprintf(c->err, c->errlen, "namespaces: mount: %s %s: %s", step, path, strerror(e));
    return -e;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Adds a path, or merges it with the same path already there: writable
 * if any rule says so, optional only if every rule does. A tmpfs at a
 * path takes the place of a bind there. */
static void add_item(struct mount_ctx *c, struct item it)
{
    for (size_t i = 0; i < c->n; i++) {
        struct item *o = &c->items[i];
        if (strcmp(o->path, it.path) != 0)
            continue;
        if (it.kind == ITEM_TMPFS)
            *o = it;
        else if (o->kind == ITEM_BIND) {
            o->writable |= it.writable;
            o->optional &= it.optional;
        }
        return;
    }
    c->items[c->n++] = it;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

/* Every path of the new root, sorted so that a parent is mounted before
 * what lies below it (a path sorts before every path it is a prefix of). */
static int collect(const struct policy *p, bool own_pid_ns, struct mount_ctx *c)
{
    size_t cap = policy_path_count(p) + policy_mount_count(p) +
                 sizeof dev_nodes / sizeof dev_nodes[0];
    c->items = calloc(cap, sizeof *c->items);
    if (!c->items) {
        snprintf(c->err, c->errlen, "namespaces: mount: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < policy_path_count(p); i++) {
        const struct policy_path *pp = policy_path_at(p, i);
        /* A tmpfs's own rule names the tmpfs, not a host path; a fresh
         * /proc stands for the host's. */
        if (pp->mount_only || (own_pid_ns && under(pp->path, "/proc")))
            continue;
        add_item(c, (struct item){ .kind = ITEM_BIND, .path = pp->path, .fd = -1,
                                   .writable = pp->access == POLICY_FS_RW,
                                   .optional = pp->optional });
    }
    for (size_t i = 0; i < policy_mount_count(p); i++) {
        const struct policy_mount *m = policy_mount_at(p, i);
        if (m->kind == POLICY_MOUNT_TMPFS)
            add_item(c, (struct item){ .kind = ITEM_TMPFS, .path = m->path, .fd = -1,
                                       .size = m->size, .dir = true });
        else
            add_item(c, (struct item){ .kind = ITEM_BIND, .path = m->path, .fd = -1,
                                       .writable = m->kind == POLICY_MOUNT_BIND_RW,
                                       .optional = m->optional });
    }
    for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++)
        add_item(c, (struct item){ .kind = ITEM_BIND, .path = dev_nodes[i], .fd = -1,
                                   .writable = true, .optional = true });
    qsort(c->items, c->n, sizeof *c->items, by_path);
    return 0;
}

/* An fs path may hold '..' (the parser takes it as landlock would); here
 * it would place the mount outside the new root. */
static bool has_dotdot(const char *path)
{
    for (const char *s = strstr(path, ".."); s; s = strstr(s + 2, ".."))
        if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0'))
            return true;
    return false;
}

static int open_sources(struct mount_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct item *it = &c->items[i];
        if (it->kind != ITEM_BIND)
            continue;
        if (has_dotdot(it->path)) {
            snprintf(c->err, c->errlen, "namespaces: mount: bind %s: a '..' component "
                     "has no place in the new root (write the path without it)", it->path);
            return -EINVAL;
        }
        it->fd = open(it->path, O_PATH | O_CLOEXEC);
        if (it->fd < 0) {
            int e = errno;
            if (it->optional && (e == ENOENT || e == ENOTDIR))
                continue;
            return fail(c, e, "bind", it->path);
        }
        struct stat st;
        if (fstat(it->fd, &st) < 0)
            return fail(c, errno, "bind", it->path);
        it->dir = S_ISDIR(st.st_mode);
    }
    return 0;
}

static void close_sources(struct mount_ctx *c)
{
    for (size_t i = 0; c->items && i < c->n; i++)
        if (c->items[i].fd >= 0) {
            (void)close(c->items[i].fd);  /* O_PATH: nothing to lose */
            c->items[i].fd = -1;
        }
}

/* Makes STAGE_DIR + path: its parents as directories, itself as a
 * directory or an empty file (a mount point for a file). What exists
 * already (a directory of a bound parent) is taken as it is. */
static int make_mount_point(struct mount_ctx *c, const char *path, bool dir, char *full,
                            size_t fulllen)
{
    int n = snprintf(full, fulllen, "%s%s", STAGE_DIR, path);
    if (n < 0 || (size_t)n >= fulllen)
        return fail(c, ENAMETOOLONG, "mount point", path);
    size_t base = strlen(STAGE_DIR);
    for (char *s = full + base + 1; ; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        bool last = *s == '\0';
        char saved = *s;
        *s = '\0';
        struct stat st;
        int rc = 0;
        if (stat(full, &st) < 0) {
            if (last && !dir) {
                int fd = open(full, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                rc = fd < 0 ? -1 : close(fd);
            } else {
                rc = mkdir(full, 0755);
            }
        }
        int e = errno;
        *s = saved;
        if (rc < 0)
            return fail(c, e, "mount point", path);
        if (last)
            return 0;
    }
}

/* A read-only bind in a user namespace is remounted with the flags the
 * source's mount has (nosuid, nodev, noexec, atime), which the kernel
 * locked when the namespace was made: leaving one out is EPERM. */
static unsigned long locked_flags(const struct statvfs *sv)
{
    unsigned long f = 0;
    if (sv->f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv->f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv->f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv->f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv->f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv->f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    if (!(sv->f_flag & (ST_NOATIME | ST_RELATIME)))
        f |= MS_STRICTATIME;
    return f;
}

static int bind_item(struct mount_ctx *c, struct item *it)
{
    char full[4352], src[64];
    int rc = make_mount_point(c, it->path, it->dir, full, sizeof full);
    if (rc < 0)
        return rc;
    snprintf(src, sizeof src, "/proc/self/fd/%d", it->fd);
    /* Recursive: a user namespace refuses to bind a mount without the
     * mounts below it (they are locked to it). */
    if (mount(src, full, NULL, MS_BIND | MS_REC, NULL) < 0)
        return fail(c, errno, "bind", it->path);
    if (!it->writable) {
        struct statvfs sv;
        if (statvfs(full, &sv) < 0)
            return fail(c, errno, "statvfs", it->path);
        if (mount(NULL, full, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(&sv),
                  NULL) < 0)
            return fail(c, errno, "read-only remount", it->path);
    }
    it->bound = true;
    return 0;
}

static int mount_tmpfs(struct mount_ctx *c, const struct item *it)
{
    char full[4352], opts[64];
    int rc = make_mount_point(c, it->path, true, full, sizeof full);
    if (rc < 0)
        return rc;
    snprintf(opts, sizeof opts, "size=%llu,mode=1777", (unsigned long long)it->size);
    if (mount("tmpfs", full, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
        return fail(c, errno, "tmpfs", it->path);
    return 0;
}

static int fresh_proc(struct mount_ctx *c)
{
    char full[64];
    int rc = make_mount_point(c, "/proc", true, full, sizeof full);
    if (rc < 0)
        return rc;
    if (mount("proc", full, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return fail(c, errno, "proc", "/proc");
    return 0;
}

/* The host's root-level symlinks, as they are (a symlink shows only its
 * text). After the binds, so that a bind below /lib has made /lib a
 * directory first and the link is skipped. */
static int root_symlinks(struct mount_ctx *c)
{
    DIR *dir = opendir("/");
    if (!dir)
        return fail(c, errno, "reading", "/");
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (de->d_type != DT_LNK)
            continue;
        char target[4096], at[512];
        snprintf(at, sizeof at, "/%s", de->d_name);
        ssize_t len = readlink(at, target, sizeof target - 1);
        if (len < 0) {
            rc = fail(c, errno, "readlink", at);
            break;
        }
        target[len] = '\0';
        snprintf(at, sizeof at, "%s/%s", STAGE_DIR, de->d_name);
        if (symlink(target, at) < 0 && errno != EEXIST)
            rc = fail(c, errno, "symlink", at + strlen(STAGE_DIR));
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = fail(c, errno, "reading", "/");
    (void)closedir(dir);    /* read-only: nothing to lose */
    return rc;
}

/* The new root read-only, then pivot_root(".", ".") (pivot_root(2)): the
 * old root lands on top of the new one and is detached at once. */
static int enter_root(struct mount_ctx *c)
{
    if (mount(NULL, STAGE_DIR, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              NULL) < 0)
        return fail(c, errno, "read-only remount", "/");
    if (chdir(STAGE_DIR) < 0)
        return fail(c, errno, "chdir", STAGE_DIR);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return fail(c, errno, "pivot_root", STAGE_DIR);
    if (umount2(".", MNT_DETACH) < 0)
        return fail(c, errno, "detaching the old root", "/");
    if (chdir("/") < 0)
        return fail(c, errno, "chdir", "/");
    return 0;
}

static void describe(const struct mount_ctx *c, bool own_pid_ns, struct sandbox_desc *d)
{
    unsigned binds = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].kind == ITEM_BIND && c->items[i].bound)
            binds++;
    sandbox_desc_add(d, " mount(%u binds", binds);
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].kind == ITEM_TMPFS) {
            char size[32];
            policy_format_size(c->items[i].size, size, sizeof size);
            sandbox_desc_add(d, ", %s %s", c->items[i].path, size);
        }
    sandbox_desc_add(d, "%s)", own_pid_ns ? ", /proc" : ", no /proc");
}

static int build(const struct policy *p, bool own_pid_ns, struct mount_ctx *c)
{
    /* Nothing mounted here may reach the host, nor the host's reach here. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(c, errno, "making private", "/");
    int rc = collect(p, own_pid_ns, c);
    if (rc == 0)
        rc = open_sources(c);
    if (rc < 0)
        return rc;
    if (mount("tmpfs", STAGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, STAGE_OPTS) < 0)
        return fail(c, errno, "new root on", STAGE_DIR);
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        struct item *it = &c->items[i];
        if (it->kind == ITEM_TMPFS)
            rc = mount_tmpfs(c, it);
        else if (it->fd >= 0)
            rc = bind_item(c, it);
    }
    if (rc == 0 && own_pid_ns)
        rc = fresh_proc(c);
    if (rc == 0)
        rc = root_symlinks(c);
    return rc;
}

/* mount-root host: the host's root stays; a fresh /proc over the host's
 * (which shows every process on it) and each tmpfs over its path. */
static int keep_host_root(const struct policy *p, bool own_pid_ns, struct mount_ctx *c,
                          struct sandbox_desc *d)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(c, errno, "making private", "/");
    sandbox_desc_add(d, " mount(host root");
    for (size_t i = 0; i < policy_mount_count(p); i++) {
        const struct policy_mount *m = policy_mount_at(p, i);
        char opts[64], size[32];
        snprintf(opts, sizeof opts, "size=%llu,mode=1777", (unsigned long long)m->size);
        if (mount("tmpfs", m->path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
            return fail(c, errno, "tmpfs", m->path);
        policy_format_size(m->size, size, sizeof size);
        sandbox_desc_add(d, ", %s %s", m->path, size);
    }
    if (own_pid_ns && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return fail(c, errno, "proc", "/proc");
    sandbox_desc_add(d, "%s)", own_pid_ns ? ", /proc" : ", the host's /proc");
    return 0;
}

int sandbox_mounts(const struct policy *p, struct sandbox_desc *d, bool own_pid_ns,
                   bool *mounted, char *err, size_t errlen)
{
    unsigned optional;
    *mounted = false;
    if (!(policy_namespaces(p, &optional) & POLICY_NS_MOUNT))
        return 0;
    if (unshare(CLONE_NEWNS) < 0) {
        int e = errno;
        if (optional & POLICY_NS_MOUNT) {
            sandbox_desc_add(d, " mount?(%s)", strerror(e));
            return 0;
        }
        snprintf(err, errlen, "namespaces: mount: cannot be created: %s; policy %s requires it "
                 "(write 'mount?' to go without)", strerror(e), policy_name(p));
        return -e;
    }
    struct mount_ctx c = { .err = err, .errlen = errlen };
    if (policy_mount_root(p) == POLICY_ROOT_HOST) {
        int rc = keep_host_root(p, own_pid_ns, &c, d);
        *mounted = rc == 0;
        return rc;
    }
    int rc = build(p, own_pid_ns, &c);
    /* The host's paths must not stay open past the pivot: each is a way
     * back into the old root. */
    close_sources(&c);
    if (rc == 0)
        rc = enter_root(&c);
    if (rc == 0) {
        describe(&c, own_pid_ns, d);
        *mounted = true;
    }
    free(c.items);
    return rc;
}
