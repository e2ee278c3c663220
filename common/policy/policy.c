/* A parsed policy: loading, command-line paths, lifetime, accessors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_priv.h"

void *policy_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *n = realloc(arr, nc * elem);
    if (n)
        *cap = nc;
    return n;
}

struct policy *policy_new(void)
{
    struct policy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->def.kind = PA_ERRNO;
    p->def.errnum = EPERM;
    p->output_cap = POLICY_OUTPUT_CAP_DEFAULT;
    p->landlock_abi = 1;
    return p;
}

const char *policy_intern_file(struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (strcmp(p->files[i], name) == 0)
            return p->files[i];
    char **grown = realloc(p->files, (p->nfiles + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    p->files = grown;
    char *s = strdup(name);
    if (!s)
        return NULL;
    p->files[p->nfiles++] = s;
    return s;
}

int policy_add_path_entry(struct policy *p, const char *path,
                          enum policy_fs_access access, bool optional,
                          const struct policy_where *where)
{
    struct policy_path_entry *grown = policy_grow(p->paths, &p->cappaths,
                                                  p->npaths + 1, sizeof *grown);
    if (!grown)
        return -1;
    p->paths = grown;
    struct policy_path_entry *e = &p->paths[p->npaths];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path)
        return -1;
    e->pub.path = e->path;
    e->pub.access = access;
    e->pub.optional = optional;
    if (where)
        e->where = *where;
    p->npaths++;
    if (access == POLICY_FS_RW)
        p->writable = true;
    return 0;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nrules; i++)
        free(p->rules[i].sysname);
    free(p->rules);
    for (size_t i = 0; i < p->ngroups; i++) {
        free(p->groups[i].name);
        free(p->groups[i].nrs);
    }
    free(p->groups);
    for (size_t i = 0; i < p->npaths; i++)
        free(p->paths[i].path);
    free(p->paths);
    free(p->tcp);
    free(p->rlimits);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->name);
    free(p->path);
    free(p);
}

__attribute__((format(printf, 4, 5)))
static int fail_at(const struct policy_where *w, char *err, size_t errlen,
                   const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%u: ", w->file, w->line);
    if (n < 0 || (size_t)n >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int policy_finish(struct policy *p, char *err, size_t errlen)
{
    if (!p->name) {
        const char *base = p->path ? strrchr(p->path, '/') : NULL;
        base = base ? base + 1 : (p->path ? p->path : "policy");
        p->name = strdup(*base ? base : "policy");
        if (!p->name) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (p->landlock_off) {
        const struct policy_where *off = &p->landlock_slot.where;
        for (size_t i = 0; i < p->npaths; i++)
            if (p->paths[i].where.file)
                return fail_at(&p->paths[i].where, err, errlen,
                               "conflicting rules: fs rule, but 'landlock off' at %s:%u",
                               off->file, off->line);
        if (p->ntcp)
            return fail_at(&p->tcp[0].where, err, errlen,
                           "conflicting rules: tcp rule, but 'landlock off' at %s:%u",
                           off->file, off->line);
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        if (r->action.kind == p->def.kind && r->action.errnum == p->def.errnum) {
            char a[64];
            policy_action_text(&r->action, a, sizeof a);
            return fail_at(&r->where, err, errlen,
                           "rule for %s has the default action (%s): it would do nothing",
                           r->sysname, a);
        }
    }
    /* libseccomp refuses some rules only when they are added: find out
     * now, while the error can still name the line. */
    scmp_filter_ctx ctx;
    unsigned n;
    if (policy_seccomp_build(p, &ctx, &n, err, errlen) < 0)
        return -1;
    seccomp_release(ctx);
    return 0;
}

int policy_parse(const char *text, size_t len, const char *filename,
                 struct policy **out, char *err, size_t errlen)
{
    *out = NULL;
    struct policy *p = policy_new();
    if (!p || (filename && !(p->path = strdup(filename)))) {
        policy_free(p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (policy_parse_into(p, text, len, filename, 0, err, errlen) < 0 ||
        policy_finish(p, err, errlen) < 0) {
        policy_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int policy_read_fd(int fd, char **out, size_t *len)
{
    char *buf = malloc(POLICY_FILE_MAX + 1);
    if (!buf)
        return -ENOMEM;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, POLICY_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > POLICY_FILE_MAX) {
            free(buf);
            return -EFBIG;
        }
    }
    *out = buf;
    *len = n;
    return 0;
}

int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    char *buf;
    size_t len;
    int e = policy_read_fd(fd, &buf, &len);
    close(fd);
    if (e == -ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (e == -EFBIG) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, POLICY_FILE_MAX);
        return -1;
    }
    if (e < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
        return -1;
    }
    int rc = policy_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

int policy_add_path(struct policy *p, const char *path, bool writable,
                    char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "empty path");
        return -1;
    }
    char *abs = realpath(path, NULL);
    if (!abs) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = policy_add_path_entry(p, abs, writable ? POLICY_FS_RW : POLICY_FS_RO,
                                   false, NULL);
    free(abs);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

const char *policy_name(const struct policy *p) { return p->name; }
double policy_timeout(const struct policy *p) { return p->timeout; }
size_t policy_output_cap(const struct policy *p) { return p->output_cap; }

bool policy_is_restrictive(const struct policy *p)
{
    return p->def.kind != PA_ALLOW || !p->landlock_off;
}

bool policy_landlock_enabled(const struct policy *p) { return !p->landlock_off; }

int policy_landlock_min_abi(const struct policy *p)
{
    /* TCP rules are landlock ABI 4: a policy that states them must get
     * them, not silently less. */
    if (p->ntcp && p->landlock_abi < 4)
        return 4;
    return p->landlock_abi;
}

size_t policy_path_count(const struct policy *p) { return p->npaths; }

const struct policy_path *policy_path_at(const struct policy *p, size_t i)
{
    return i < p->npaths ? &p->paths[i].pub : NULL;
}

size_t policy_tcp_count(const struct policy *p) { return p->ntcp; }

const struct policy_tcp *policy_tcp_at(const struct policy *p, size_t i)
{
    return i < p->ntcp ? &p->tcp[i].pub : NULL;
}

size_t policy_rlimit_count(const struct policy *p) { return p->nrlimits; }

const struct policy_rlimit *policy_rlimit_at(const struct policy *p, size_t i)
{
    return i < p->nrlimits ? &p->rlimits[i].pub : NULL;
}
