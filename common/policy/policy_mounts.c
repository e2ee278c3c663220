/* The mount directives (`tmpfs`, `bind-ro`, `bind-rw`): what the executor's
 * mount namespace holds besides the policy's fs paths. The parser half
 * reads them; the loader half (policy_finish_mounts) checks them against
 * the whole policy and gives each path the landlock rule it needs, so
 * that a private /tmp is writable without a second line saying so. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_priv.h"

/* tmpfs sizes: at least a page, at most what a size word sensibly says. */
#define TMPFS_SIZE_MIN ((uint64_t)4096)
#define TMPFS_SIZE_MAX ((uint64_t)1 << 40)

/* A mount path is built component by component under the new root:
 * absolute, not the root itself, no empty, '.' or '..' component. */
static int check_mount_path(struct policy_parse_ctx *c, const char *path)
{
    if (path[0] != '/')
        return policy_fail(c, "path '%s' is not absolute", path);
    if (path[1] == '\0')
        return policy_fail(c, "path '/' cannot be mounted over: the new root is the executor's own");
    for (const char *s = path; *s; ) {
        const char *comp = s + 1;
        const char *end = strchr(comp, '/');
        size_t len = end ? (size_t)(end - comp) : strlen(comp);
        if (len == 0 || (len == 1 && comp[0] == '.') ||
            (len == 2 && comp[0] == '.' && comp[1] == '.'))
            return policy_fail(c, "path '%s' has an empty, '.' or '..' component", path);
        s = comp + len;
    }
    return 0;
}

static int add_mount(struct policy_parse_ctx *c, enum policy_mount_kind kind,
                     const char *path, uint64_t size, bool optional)
{
    struct policy *p = c->p;
    /* One mount a path. As with settings given once, an including file
     * may override what it includes (a size of its own for strict's
     * /tmp); at one include depth, two are a conflict. */
    for (size_t i = 0; i < p->nmounts; i++) {
        struct policy_mount_entry *o = &p->mounts[i];
        if (strcmp(o->path, path) != 0)
            continue;
        if (c->depth > o->depth)
            return 0;
        if (c->depth == o->depth)
            return policy_fail(c, "conflicting rules: %s already mounted (%s at %s:%u)", path,
                               policy_mount_word(o->pub.kind), o->where.file, o->where.line);
        o->pub.kind = kind;
        o->pub.size = size;
        o->pub.optional = optional;
        o->where = policy_here(c);
        o->depth = c->depth;
        return 0;
    }
    struct policy_mount_entry *grown = policy_grow(p->mounts, &p->capmounts, p->nmounts + 1,
                                                   sizeof *grown);
    if (!grown)
        return policy_fail_nomem(c);
    p->mounts = grown;
    struct policy_mount_entry *e = &p->mounts[p->nmounts];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path)
        return policy_fail_nomem(c);
    e->pub.kind = kind;
    e->pub.path = e->path;
    e->pub.size = size;
    e->pub.optional = optional;
    e->where = policy_here(c);
    e->depth = c->depth;
    p->nmounts++;
    return 0;
}

int policy_d_tmpfs(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n != 3)
        return policy_fail(c, "tmpfs takes 2 arguments: 'tmpfs PATH SIZE'");
    int rc = check_mount_path(c, w[1]);
    if (rc < 0)
        return rc;
    uint64_t size;
    if (policy_parse_size(w[2], &size) < 0 || size < TMPFS_SIZE_MIN || size > TMPFS_SIZE_MAX)
        return policy_fail(c, "bad size '%s' for tmpfs (4K to 1T, e.g. 64M)", w[2]);
    return add_mount(c, POLICY_MOUNT_TMPFS, w[1], size, false);
}

/* bind-ro, bind-ro?, bind-rw, bind-rw?: '?' as in `fs ro?`, the path is
 * skipped when the host lacks it. */
int policy_d_bind(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n != 2)
        return policy_fail(c, "%s takes 1 argument: '%s PATH'", w[0], w[0]);
    int rc = check_mount_path(c, w[1]);
    if (rc < 0)
        return rc;
    enum policy_mount_kind kind = strncmp(w[0], "bind-rw", 7) == 0 ? POLICY_MOUNT_BIND_RW
                                                                  : POLICY_MOUNT_BIND_RO;
    bool optional = w[0][7] == '?';
    return add_mount(c, kind, w[1], 0, optional);
}

/* mount-root minimal (the default): a new root holding only the policy's
 * paths; host: the host's root as it is, for code trusted with the host's
 * files, which still gets a /proc of its own pid namespace. */
int policy_d_mount_root(struct policy_parse_ctx *c, char **w, size_t n)
{
    enum policy_mount_root root;
    if (n == 2 && strcmp(w[1], "minimal") == 0)
        root = POLICY_ROOT_MINIMAL;
    else if (n == 2 && strcmp(w[1], "host") == 0)
        root = POLICY_ROOT_HOST;
    else
        return policy_fail(c, "mount-root takes 'minimal' or 'host'");
    int r = policy_claim(c, &c->p->mount_root_slot, "mount-root");
    if (r > 0)
        c->p->mount_root = root;
    return r < 0 ? r : 0;
}

int policy_finish_mounts(struct policy *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->nmounts; i++) {
        const struct policy_mount_entry *m = &p->mounts[i];
        /* As with hostname: a directive from an included file is inert
         * where the includer chose namespaces without mount. */
        if (!(p->ns & POLICY_NS_MOUNT) && (!p->ns_slot.set || m->depth <= p->ns_slot.depth))
            return policy_fail_at(-EINVAL, &m->where, err, errlen,
                           "%s without a mount namespace ('namespaces ... mount')",
                           policy_mount_word(m->pub.kind));
    }
    if (p->mount_root_slot.set && !(p->ns & POLICY_NS_MOUNT) &&
        (!p->ns_slot.set || p->mount_root_slot.depth <= p->ns_slot.depth))
        return policy_fail_at(-EINVAL, &p->mount_root_slot.where, err, errlen,
                       "mount-root without a mount namespace ('namespaces ... mount')");
    if (!(p->ns & POLICY_NS_MOUNT))
        return 0;
    if (p->mount_root == POLICY_ROOT_HOST) {
        /* Every host path is there already: only tmpfs mounts add to it. */
        for (size_t i = 0; i < p->nmounts; i++)
            if (p->mounts[i].pub.kind != POLICY_MOUNT_TMPFS)
                return policy_fail_at(-EINVAL, &p->mounts[i].where, err, errlen,
                               "%s with mount-root host: the host's files are all there; "
                               "bind-ro and bind-rw build a minimal root",
                               policy_mount_word(p->mounts[i].pub.kind));
    }
    /* Each fs path is bound at its own path in the new root: a '..' would
     * place it elsewhere. */
    for (size_t i = 0; i < p->npaths; i++) {
        const char *path = p->paths[i].pub.path;
        for (const char *s = strstr(path, ".."); s; s = strstr(s + 2, ".."))
            if (s > path && s[-1] == '/' && (s[2] == '/' || s[2] == '\0')) {
                if (p->paths[i].where.file)
                    return policy_fail_at(-EINVAL, &p->paths[i].where, err, errlen,
                                   "fs path '%s' has a '..' component, which a mount "
                                   "namespace cannot place", path);
                snprintf(err, errlen, "%s: a '..' component, which a mount namespace cannot place",
                         path);
                return -EINVAL;
            }
    }
    if (p->landlock_off)
        return 0;
    for (size_t i = 0; i < p->nmounts; i++) {
        const struct policy_mount_entry *m = &p->mounts[i];
        enum policy_fs_access acc = m->pub.kind == POLICY_MOUNT_BIND_RO ? POLICY_FS_RO
                                                                        : POLICY_FS_RW;
        int rc = policy_add_path_entry(p, m->path, acc, m->pub.optional, &m->where);
        if (rc < 0) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        p->paths[p->npaths - 1].pub.mount_only = true;
        p->paths[p->npaths - 1].origin = policy_mount_word(m->pub.kind);
    }
    return 0;
}
