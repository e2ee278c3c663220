/* The loader: builds a policy from a file or a text — parse it, add the
 * command line's grants, then finish it (the checks that need the whole
 * policy, and a trial compile) — and hands it out finished. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_priv.h"

int policy_fail_at(int rc, const struct policy_where *w, char *err, size_t errlen,
                   const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%u: ", w->file, w->line);
    if (n < 0 || (size_t)n >= errlen)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

/* Checks that need the whole policy (actions equal to the default,
 * landlock off with fs rules, the sockets it admits), then a trial compile: libseccomp refuses
 * some rules only when they are added, and this is the last moment the
 * error can still name the line. Grants are in by now, so the trial is
 * the filter that will be applied (a writable grant changes it). */
static int finish(struct policy *p, char *err, size_t errlen)
{
    if (!p->name) {
        const char *base = p->path ? strrchr(p->path, '/') : NULL;
        base = base ? base + 1 : (p->path ? p->path : "policy");
        p->name = strdup(*base ? base : "policy");
        if (!p->name) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    if (p->landlock_off) {
        const struct policy_where *off = &p->landlock_slot.where;
        for (size_t i = 0; i < p->npaths; i++)
            if (p->paths[i].where.file)
                return policy_fail_at(-EINVAL, &p->paths[i].where, err, errlen,
                               "conflicting rules: fs rule, but 'landlock off' at %s:%u",
                               off->file, off->line);
        if (p->ntcp)
            return policy_fail_at(-EINVAL, &p->tcp[0].where, err, errlen,
                           "conflicting rules: tcp rule, but 'landlock off' at %s:%u",
                           off->file, off->line);
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        if (r->action.kind == p->def.kind && r->action.errnum == p->def.errnum) {
            char a[64];
            policy_action_text(&r->action, a, sizeof a);
            return policy_fail_at(-EINVAL, &r->where, err, errlen,
                           "rule for %s has the default action (%s): it would do nothing",
                           r->sysname, a);
        }
    }
    /* A hostname from an included file is inert where the includer
     * chose namespaces without uts. */
    if (p->hostname_slot.set && !(p->ns & POLICY_NS_UTS) &&
        (!p->ns_slot.set || p->hostname_slot.depth <= p->ns_slot.depth))
        return policy_fail_at(-EINVAL, &p->hostname_slot.where, err, errlen,
                       "hostname without a uts namespace ('namespaces ... uts')");
    for (size_t i = 0; (p->ns & POLICY_NS_NET) && i < p->ntcp; i++)
        if (p->tcp[i].pub.kind == POLICY_TCP_CONNECT)
            return policy_fail_at(-EINVAL, &p->tcp[i].where, err, errlen,
                           "tcp connect rule, but a network namespace ('namespaces' at %s:%u): "
                           "only a loopback would be there; give 'namespaces' without net",
                           p->ns_slot.where.file, p->ns_slot.where.line);
    /* Before the trial compile: a tmpfs's rw rule makes a path writable,
     * which turns the allow-when-writable rules on. */
    int rc = policy_finish_mounts(p, err, errlen);
    if (rc < 0)
        return rc;
    rc = policy_check_sockets(p, err, errlen);
    if (rc < 0)
        return rc;
    scmp_filter_ctx ctx;
    unsigned n;
    rc = policy_seccomp_build(p, &ctx, &n, err, errlen);
    if (rc < 0)
        return rc;
    seccomp_release(ctx);
    return 0;
}

/* One --allow-read/--allow-write path, made absolute. */
static int add_grant(struct policy *p, const struct policy_grant *g, char *err, size_t errlen)
{
    if (!g->path || !*g->path) {
        snprintf(err, errlen, "empty path");
        return -EINVAL;
    }
    char *abs = realpath(g->path, NULL);
    if (!abs) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", g->path, strerror(e));
        return -e;
    }
    int rc = policy_add_path_entry(p, abs, g->writable ? POLICY_FS_RW : POLICY_FS_RO,
                                   false, NULL);
    free(abs);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

static int too_many_grants(char *err, size_t errlen)
{
    snprintf(err, errlen, "at most %d --allow-read/--allow-write paths", POLICY_GRANTS_MAX);
    return -E2BIG;
}

static int add_grants(struct policy *p, const struct policy_grant *grants, size_t ngrants,
                      char *err, size_t errlen)
{
    if (ngrants > POLICY_GRANTS_MAX)
        return too_many_grants(err, errlen);
    for (size_t i = 0; i < ngrants; i++) {
        int rc = add_grant(p, &grants[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Builds from text that names itself `filename`; on any failure frees the
 * policy and leaves *out NULL. */
static int build(const char *text, size_t len, const char *filename,
                 const struct policy_grant *grants, size_t ngrants,
                 struct policy **out, char *err, size_t errlen)
{
    *out = NULL;
    struct policy *p = policy_new();
    if (!p || (filename && !(p->path = strdup(filename)))) {
        policy_free(p);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = policy_parse_into(p, text, len, filename, 0, err, errlen);
    if (rc == 0)
        rc = add_grants(p, grants, ngrants, err, errlen);
    if (rc == 0)
        rc = finish(p, err, errlen);
    if (rc < 0) {
        policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int policy_parse(const char *text, size_t len, const char *filename,
                 const struct policy_grant *grants, size_t ngrants,
                 struct policy **out, char *err, size_t errlen)
{
    return build(text, len, filename, grants, ngrants, out, err, errlen);
}

int policy_load(const char *path, const struct policy_grant *grants, size_t ngrants,
                struct policy **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    char *buf;
    size_t len;
    int rc = policy_read_fd(fd, &buf, &len);
    /* Read-only: a failing close loses nothing, and the text is in. */
    close(fd);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    else if (rc == -EFBIG)
        snprintf(err, errlen, "%s: larger than %zu bytes", path, POLICY_FILE_MAX);
    else if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    if (rc < 0)
        return rc;
    rc = build(buf, len, path, grants, ngrants, out, err, errlen);
    free(buf);
    return rc;
}
