/* The parser: policy text into the model. It splits lines into words,
 * dispatches each directive through one table, and reads the settings,
 * landlock and include directives itself (policy_parse_rules.c reads the
 * syscall rules). Anything it cannot take as written is an error naming
 * FILE:LINE. It reads files only for `include`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_priv.h"
#include "utf8.h"

#define WORDS_MAX 128

__attribute__((format(printf, 3, 0)))
static int vfail(struct policy_parse_ctx *c, int rc, const char *fmt, va_list ap)
{
    int n = snprintf(c->err, c->errlen, "%s:%u: ", c->file, c->line);
    if (n >= 0 && (size_t)n < c->errlen)
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    return rc;
}

int policy_fail(struct policy_parse_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, -EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

__attribute__((format(printf, 3, 4)))
static int fail_rc(struct policy_parse_ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, rc, fmt, ap);
    va_end(ap);
    return rc;
}

int policy_fail_nomem(struct policy_parse_ctx *c)
{
    return fail_rc(c, -ENOMEM, "out of memory");
}

struct policy_where policy_here(const struct policy_parse_ctx *c)
{
    return (struct policy_where){ .file = c->file, .line = c->line };
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

int policy_claim(struct policy_parse_ctx *c, struct policy_slot *s, const char *what)
{
    if (!s->set || c->depth < s->depth) {
        s->set = true;
        s->depth = c->depth;
        s->where = policy_here(c);
        return 1;
    }
    if (c->depth > s->depth)
        return 0;
    return policy_fail(c, "conflicting rules: %s already set at %s:%u", what,
                       s->where.file, s->where.line);
}

/* --- settings ----------------------------------------------------------- */

static int want_args(struct policy_parse_ctx *c, char **w, size_t n, size_t want,
                     const char *usage)
{
    if (n != want + 1)
        return policy_fail(c, "%s takes %zu argument%s: '%s'", w[0], want,
                           want == 1 ? "" : "s", usage);
    return 0;
}

static int d_name(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 1, "name NAME");
    if (rc < 0)
        return rc;
    for (const char *s = w[1]; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return policy_fail(c, "bad policy name '%s' (letters, digits, '-', '_', '.')", w[1]);
    if (strlen(w[1]) > 64)
        return policy_fail(c, "policy name longer than 64 characters");
    int r = policy_claim(c, &c->p->name_slot, "name");
    if (r <= 0)
        return r;
    char *s = strdup(w[1]);
    if (!s)
        return policy_fail_nomem(c);
    free(c->p->name);
    c->p->name = s;
    return 0;
}

static int d_default(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n < 2)
        return policy_fail(c, "default needs an action: allow, errno NAME, kill or trap");
    struct policy_action act;
    size_t used;
    int rc = policy_parse_action(c, w + 1, n - 1, &act, &used);
    if (rc < 0)
        return rc;
    if (1 + used != n)
        return policy_fail(c, "default takes only an action, not '%s'", w[1 + used]);
    int r = policy_claim(c, &c->p->def_slot, "default");
    if (r > 0)
        c->p->def = act;
    return r < 0 ? r : 0;
}

static int d_timeout(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 1, "timeout SECONDS|none");
    if (rc < 0)
        return rc;
    double t;
    if (policy_parse_duration(w[1], &t) < 0)
        return policy_fail(c, "bad duration '%s' (e.g. 30, 30s, 500ms, 2m, none)", w[1]);
    int r = policy_claim(c, &c->p->timeout_slot, "timeout");
    if (r > 0)
        c->p->timeout = t;
    return r < 0 ? r : 0;
}

static int d_output_cap(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 1, "output-cap SIZE");
    if (rc < 0)
        return rc;
    uint64_t v;
    if (policy_parse_size(w[1], &v) < 0 || v == 0 || v > ((uint64_t)1 << 40))
        return policy_fail(c, "bad number '%s' for output-cap (e.g. 1M, 640K, unlimited)", w[1]);
    int r = policy_claim(c, &c->p->cap_slot, "output-cap");
    if (r > 0)
        c->p->output_cap = v == RLIM_INFINITY ? SIZE_MAX : (size_t)v;
    return r < 0 ? r : 0;
}

static int d_rlimit(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 2, "rlimit NAME VALUE");
    if (rc < 0)
        return rc;
    int res;
    const char *name;
    if (policy_rlimit_resource(w[1], &res, &name) < 0)
        return policy_fail(c, "unknown rlimit '%s' (as, core, cpu, data, fsize, nofile, nproc, stack, ...)", w[1]);
    uint64_t v;
    if (policy_parse_size(w[2], &v) < 0)
        return policy_fail(c, "bad number '%s' for rlimit %s", w[2], w[1]);
    struct policy *p = c->p;
    struct policy_rlimit_entry *e = NULL;
    for (size_t i = 0; i < p->nrlimits; i++)
        if (p->rlimits[i].pub.resource == res)
            e = &p->rlimits[i];
    if (!e) {
        struct policy_rlimit_entry *grown = policy_grow(p->rlimits, &p->caprlimits,
                                                        p->nrlimits + 1, sizeof *grown);
        if (!grown)
            return policy_fail_nomem(c);
        p->rlimits = grown;
        e = &p->rlimits[p->nrlimits++];
        memset(e, 0, sizeof *e);
        e->pub.resource = res;
        e->pub.name = name;
    }
    char what[32];
    snprintf(what, sizeof what, "rlimit %s", name);
    int r = policy_claim(c, &e->slot, what);
    if (r > 0)
        e->pub.value = (rlim_t)v;
    return r < 0 ? r : 0;
}

static int d_landlock(struct policy_parse_ctx *c, char **w, size_t n)
{
    bool off;
    int abi = 1;
    if (n == 2 && strcmp(w[1], "off") == 0) {
        off = true;
    } else if (n == 3 && strcmp(w[1], "abi") == 0) {
        char *end;
        errno = 0;
        long v = strtol(w[2], &end, 10);
        if (w[2][0] < '0' || w[2][0] > '9' || *end != '\0' || errno != 0 ||
            v < 1 || v > 64)
            return policy_fail(c, "bad number '%s' for landlock abi", w[2]);
        off = false;
        abi = (int)v;
    } else {
        return policy_fail(c, "landlock takes 'off' or 'abi N'");
    }
    int r = policy_claim(c, &c->p->landlock_slot, "landlock");
    if (r > 0) {
        c->p->landlock_off = off;
        c->p->landlock_abi = abi;
    }
    return r < 0 ? r : 0;
}

static int d_fs(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 2, "fs ro|rx|rw[?] PATH");
    if (rc < 0)
        return rc;
    const char *m = w[1];
    enum policy_fs_access acc;
    if (strncmp(m, "ro", 2) == 0)
        acc = POLICY_FS_RO;
    else if (strncmp(m, "rx", 2) == 0)
        acc = POLICY_FS_RX;
    else if (strncmp(m, "rw", 2) == 0)
        acc = POLICY_FS_RW;
    else
        return policy_fail(c, "unknown access '%s' (ro, rx, rw; '?' after it marks the path optional)", m);
    bool optional = false;
    if (m[2] == '?' && m[3] == '\0')
        optional = true;
    else if (m[2] != '\0')
        return policy_fail(c, "unknown access '%s' (ro, rx, rw; '?' after it marks the path optional)", m);
    struct policy_where wh = policy_here(c);
    if (w[2][0] == '$') {
        const char *name;
        const char *const *paths;
        size_t count;
        if (policy_path_variable(w[2], &name, &paths, &count) < 0)
            return policy_fail(c, "unknown path variable '%s' ($python_path, $python_libdir)",
                               w[2]);
        for (size_t i = 0; i < count; i++) {
            rc = policy_add_path_entry(c->p, paths[i], acc, optional, &wh);
            if (rc < 0)
                return fail_rc(c, rc, "out of memory");
            c->p->paths[c->p->npaths - 1].variable = name;
        }
        return 0;
    }
    if (w[2][0] != '/')
        return policy_fail(c, "path '%s' is not absolute", w[2]);
    rc = policy_add_path_entry(c->p, w[2], acc, optional, &wh);
    if (rc < 0)
        return fail_rc(c, rc, "out of memory");
    return 0;
}

static int d_tcp(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 2, "tcp connect|bind PORT|any");
    if (rc < 0)
        return rc;
    struct policy_tcp t;
    if (strcmp(w[1], "connect") == 0)
        t.kind = POLICY_TCP_CONNECT;
    else if (strcmp(w[1], "bind") == 0)
        t.kind = POLICY_TCP_BIND;
    else
        return policy_fail(c, "tcp takes 'connect' or 'bind', not '%s'", w[1]);
    if (strcmp(w[2], "any") == 0) {
        t.port = -1;
    } else {
        char *end;
        errno = 0;
        long v = strtol(w[2], &end, 10);
        if (w[2][0] < '0' || w[2][0] > '9' || *end != '\0' || errno != 0 ||
            v < 0 || v > 65535)
            return policy_fail(c, "bad number '%s' for a TCP port (0..65535 or any)", w[2]);
        t.port = (int)v;
    }
    struct policy *p = c->p;
    struct policy_tcp_entry *grown = policy_grow(p->tcp, &p->captcp, p->ntcp + 1, sizeof *grown);
    if (!grown)
        return policy_fail_nomem(c);
    p->tcp = grown;
    p->tcp[p->ntcp].pub = t;
    p->tcp[p->ntcp].where = policy_here(c);
    p->ntcp++;
    return 0;
}

/* namespaces none | WORD[?]...: every namespace but user needs user (the
 * executor makes them after dropping root, as its own uid). */
static int d_namespaces(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n < 2)
        return policy_fail(c, "namespaces takes 'none' or namespaces: user ipc uts net pid mount ('?' after one marks it optional)");
    unsigned want = 0, optional = 0;
    if (!(n == 2 && strcmp(w[1], "none") == 0)) {
        for (size_t i = 1; i < n; i++) {
            char word[16];
            size_t len = strlen(w[i]);
            bool opt = len > 0 && w[i][len - 1] == '?';
            unsigned bit;
            if (opt)
                len--;
            if (len >= sizeof word)
                len = sizeof word - 1;
            memcpy(word, w[i], len);
            word[len] = '\0';
            if (policy_ns_bit(word, &bit) < 0)
                return policy_fail(c, "unknown namespace '%s' (user, ipc, uts, net, pid, mount; '?' after one marks it optional)", w[i]);
            if (want & bit)
                return policy_fail(c, "namespace '%s' given twice", word);
            want |= bit;
            if (opt)
                optional |= bit;
        }
        if (!(want & POLICY_NS_USER))
            return policy_fail(c, "namespaces without 'user': the executor makes them as an ordinary user, inside its own user namespace");
        if ((optional & POLICY_NS_USER) && optional != want)
            return policy_fail(c, "'user?' is optional, so every other namespace must be too (they need it)");
    }
    int r = policy_claim(c, &c->p->ns_slot, "namespaces");
    if (r > 0) {
        c->p->ns = want;
        c->p->ns_optional = optional;
    }
    return r < 0 ? r : 0;
}

static int d_hostname(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 1, "hostname NAME");
    if (rc < 0)
        return rc;
    size_t len = strlen(w[1]);
    bool ok = len > 0 && len <= 63 && w[1][0] != '-';
    for (const char *s = w[1]; ok && *s; s++)
        ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
             (*s >= '0' && *s <= '9') || *s == '-' || *s == '.';
    if (!ok)
        return policy_fail(c, "bad hostname '%s' (letters, digits, '-', '.'; at most 63)", w[1]);
    int r = policy_claim(c, &c->p->hostname_slot, "hostname");
    if (r <= 0)
        return r;
    char *s = strdup(w[1]);
    if (!s)
        return policy_fail_nomem(c);
    free(c->p->hostname);
    c->p->hostname = s;
    return 0;
}

static int d_include(struct policy_parse_ctx *c, char **w, size_t n)
{
    int rc = want_args(c, w, n, 1, "include FILE");
    if (rc < 0)
        return rc;
    if (c->depth + 1 >= POLICY_INCLUDE_DEPTH_MAX)
        return policy_fail(c, "includes nested deeper than %d (a loop?)", POLICY_INCLUDE_DEPTH_MAX);
    char path[POLICY_LINE_MAX + 256];
    if (w[1][0] == '/' || !c->dir)
        snprintf(path, sizeof path, "%s", w[1]);
    else
        snprintf(path, sizeof path, "%s/%s", c->dir, w[1]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail_rc(c, -e, "cannot include %s: %s", path, strerror(e));
    }
    char *buf;
    size_t len;
    rc = policy_read_fd(fd, &buf, &len);
    /* Read-only: a failing close loses nothing, and the text is in. */
    close(fd);
    if (rc == -ENOMEM)
        return policy_fail_nomem(c);
    if (rc == -EFBIG)
        return fail_rc(c, rc, "%s is larger than %zu bytes", path, POLICY_FILE_MAX);
    if (rc < 0)
        return fail_rc(c, rc, "cannot read %s: %s", path, strerror(-rc));
    rc = policy_parse_into(c->p, buf, len, path, c->depth + 1, c->err, c->errlen);
    free(buf);
    return rc;
}

static int d_format(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (c->seen_format)
        return policy_fail(c, "format line given twice");
    if (n != 2)
        return policy_fail(c, "format line takes one number: 'aiobox-policy %d'", POLICY_FORMAT_VERSION);
    char *end;
    errno = 0;
    long v = strtol(w[1], &end, 10);
    if (w[1][0] < '0' || w[1][0] > '9' || *end != '\0' || errno != 0)
        return policy_fail(c, "bad number '%s' in the format line", w[1]);
    if (v != POLICY_FORMAT_VERSION)
        return policy_fail(c, "unsupported policy format version %ld (this aiobox reads %d)",
                           v, POLICY_FORMAT_VERSION);
    c->seen_format = true;
    return 0;
}

static const struct {
    const char *word;
    int (*fn)(struct policy_parse_ctx *, char **, size_t);
} directives[] = {
    { "aiobox-policy", d_format },
    { "name", d_name },
    { "include", d_include },
    { "default", d_default },
    { "group", policy_d_group },
    { "allow", policy_d_rule },
    { "errno", policy_d_rule },
    { "kill", policy_d_rule },
    { "trap", policy_d_rule },
    { "allow-when-writable", policy_d_when_writable },
    { "landlock", d_landlock },
    { "fs", d_fs },
    { "tcp", d_tcp },
    { "rlimit", d_rlimit },
    { "timeout", d_timeout },
    { "output-cap", d_output_cap },
    { "namespaces", d_namespaces },
    { "hostname", d_hostname },
    { "idle-cpu", policy_d_idle_cpu },
    { "cgroup", policy_d_cgroup },
    { "tmpfs", policy_d_tmpfs },
    { "mount-root", policy_d_mount_root },
    { "bind-ro", policy_d_bind },
    { "bind-ro?", policy_d_bind },
    { "bind-rw", policy_d_bind },
    { "bind-rw?", policy_d_bind },
};

static int directive(struct policy_parse_ctx *c, char **w, size_t n)
{
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
        if (strcmp(directives[i].word, w[0]) != 0)
            continue;
        if (!c->seen_format && directives[i].fn != d_format)
            return policy_fail(c, "expected the format line 'aiobox-policy %d' first",
                               POLICY_FORMAT_VERSION);
        return directives[i].fn(c, w, n);
    }
    if (!c->seen_format)
        return policy_fail(c, "expected the format line 'aiobox-policy %d' first",
                           POLICY_FORMAT_VERSION);
    return policy_fail(c, "unknown directive '%s'", w[0]);
}

/* Splits a line in place on blanks; a word starting with '#' ends it. */
static int split_words(struct policy_parse_ctx *c, char *line, char **w, size_t *n)
{
    *n = 0;
    char *s = line;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (*s == '\0' || *s == '#')
            return 0;
        if (*n == WORDS_MAX)
            return policy_fail(c, "too many words on one line (at most %d)", WORDS_MAX);
        w[(*n)++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r')
            s++;
        if (*s == '\0')
            return 0;
        *s++ = '\0';
    }
}

int policy_parse_into(struct policy *p, const char *text, size_t len,
                      const char *filename, int depth, char *err, size_t errlen)
{
    struct policy_parse_ctx c = {
        .p = p, .depth = depth, .err = err, .errlen = errlen,
    };
    c.file = policy_intern_file(p, filename ? filename : "<policy>");
    if (!c.file) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char dir[POLICY_LINE_MAX];
    const char *slash = filename ? strrchr(filename, '/') : NULL;
    if (slash) {
        size_t dl = (size_t)(slash - filename);
        if (dl >= sizeof dir)
            dl = sizeof dir - 1;
        memcpy(dir, filename, dl);
        dir[dl] = '\0';
        if (dl == 0)
            snprintf(dir, sizeof dir, "/");
        c.dir = dir;
    }
    if (len > POLICY_FILE_MAX) {
        c.line = 1;
        return fail_rc(&c, -EFBIG, "policy larger than %zu bytes", POLICY_FILE_MAX);
    }
    char line[POLICY_LINE_MAX + 1];
    char *words[WORDS_MAX];
    size_t pos = 0;
    unsigned physical = 0;
    while (pos < len) {
        /* A line ending in '\' goes on on the next one; errors name the
         * line the directive starts on. */
        size_t ll = 0;
        c.line = physical + 1;
        for (;;) {
            physical++;
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t seg = nl ? (size_t)(nl - (text + pos)) : len - pos;
            if (ll + seg > POLICY_LINE_MAX)
                return policy_fail(&c, "line longer than %d bytes", POLICY_LINE_MAX);
            if (memchr(text + pos, '\0', seg))
                return policy_fail(&c, "NUL byte in the policy text");
            memcpy(line + ll, text + pos, seg);
            ll += seg;
            pos += seg + (nl ? 1 : 0);
            while (ll > 0 && (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
                ll--;
            if (ll > 0 && line[ll - 1] == '\\' && pos < len) {
                line[ll - 1] = ' ';
                continue;
            }
            break;
        }
        line[ll] = '\0';
        /* Errors echo the text: nothing in it may drive a terminal. */
        for (size_t i = 0; i < ll; i++) {
            unsigned char ch = (unsigned char)line[i];
            if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f)
                return policy_fail(&c, "control character 0x%02x in the policy text", ch);
            if (ch == 0xc2 && i + 1 < ll && (unsigned char)line[i + 1] < 0xa0)
                return policy_fail(&c, "control character U+%04X in the policy text",
                                   (unsigned char)line[i + 1]);
        }
        size_t bad;
        if (!utf8_valid(line, ll, &bad))
            return policy_fail(&c, "invalid UTF-8 in the policy text (byte %zu of the line)", bad + 1);
        size_t n;
        int rc = split_words(&c, line, words, &n);
        if (rc < 0)
            return rc;
        if (n == 0)
            continue;
        rc = directive(&c, words, n);
        if (rc < 0)
            return rc;
    }
    if (!c.seen_format) {
        c.line = 1;
        return policy_fail(&c, "no format line: a policy starts with 'aiobox-policy %d'",
                           POLICY_FORMAT_VERSION);
    }
    return 0;
}
