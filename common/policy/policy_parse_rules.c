/* The parser's syscall-rule directives (allow, errno, kill, trap,
 * allow-when-writable, group): syscall names and groups, argument
 * conditions, and the conflicts libseccomp would hide. policy_parse.c
 * reads the lines and dispatches these directives here. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_priv.h"

/* --- numbers and names ------------------------------------------------- */

static int parse_one_number(const char *s, uint64_t *v)
{
    if (policy_constant(s, v) == 0)
        return 0;
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (digits[0] < '0' || digits[0] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(digits, &end, 0);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    if (s[0] == '-') {
        if (u > (unsigned long long)INT64_MAX + 1)
            return -EINVAL;
        u = (unsigned long long)(-(long long)(u - 1) - 1);
    }
    *v = u;
    return 0;
}

/* A number, a constant, or several joined by '|'. */
static int parse_value(struct policy_parse_ctx *c, const char *word, uint64_t *out)
{
    char buf[POLICY_LINE_MAX];
    snprintf(buf, sizeof buf, "%s", word);
    uint64_t v = 0;
    char *save = NULL;
    int parts = 0;
    for (char *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        uint64_t one;
        if (parse_one_number(t, &one) < 0)
            return policy_fail(c, "bad number '%s'", t);
        v |= one;
        parts++;
    }
    if (parts == 0 || word[0] == '|' || word[strlen(word) - 1] == '|' ||
        strstr(word, "||"))
        return policy_fail(c, "bad number '%s'", word);
    *out = v;
    return 0;
}

static int resolve_syscall(struct policy_parse_ctx *c, const char *name, int *nr)
{
    int n = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);
    if (n == __NR_SCMP_ERROR)
        return policy_fail(c, "unknown syscall '%s'", name);
    if (n < 0)
        return policy_fail(c, "syscall '%s' does not exist on this architecture", name);
    *nr = n;
    return 0;
}

static struct policy_group *find_group(struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (strcmp(p->groups[i].name, name) == 0)
            return &p->groups[i];
    return NULL;
}

/* Expands syscall names and @groups into numbers (duplicates kept). */
static int expand_targets(struct policy_parse_ctx *c, char **words, size_t n,
                          int **nrs, size_t *count)
{
    size_t cap = 0;
    *nrs = NULL;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (words[i][0] == '@') {
            struct policy_group *g = find_group(c->p, words[i] + 1);
            if (!g) {
                free(*nrs);
                return policy_fail(c, "unknown group '%s'", words[i]);
            }
            int *grown = policy_grow(*nrs, &cap, *count + g->count, sizeof **nrs);
            if (!grown) {
                free(*nrs);
                return policy_fail_nomem(c);
            }
            *nrs = grown;
            memcpy(*nrs + *count, g->nrs, g->count * sizeof **nrs);
            *count += g->count;
            continue;
        }
        int nr = -1;
        int rc = resolve_syscall(c, words[i], &nr);
        if (rc < 0) {
            free(*nrs);
            return rc;
        }
        int *grown = policy_grow(*nrs, &cap, *count + 1, sizeof **nrs);
        if (!grown) {
            free(*nrs);
            return policy_fail_nomem(c);
        }
        *nrs = grown;
        (*nrs)[(*count)++] = nr;
    }
    return 0;
}

/* --- syscall rules ------------------------------------------------------ */

/* Arguments the kernel reads as 32-bit int: compare only the low word, or
 * high bits set by the caller slip past an equality that the kernel would
 * not see (CVE-2019-10063, TIOCSTI). */
static bool arg_is_32bit(int nr, unsigned arg)
{
    static const struct { const char *name; unsigned arg; } narrow[] = {
        { "ioctl", 1 }, { "socket", 0 }, { "socket", 1 }, { "socket", 2 },
        { "socketpair", 0 }, { "socketpair", 1 }, { "socketpair", 2 },
        { "openat", 2 }, { "open", 1 }, { "fcntl", 1 }, { "prctl", 0 },
        { "personality", 0 }, { "kill", 1 }, { "tgkill", 2 },
    };
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
        if (narrow[i].arg == arg &&
            seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, narrow[i].name) == nr)
            return true;
    }
    return false;
}

static const char *op_words[] = {
    [PO_EQ] = "==", [PO_NE] = "!=", [PO_LT] = "<", [PO_LE] = "<=",
    [PO_GT] = ">", [PO_GE] = ">=",
};

/* words: what follows `if`: COND [and COND]... where COND is
 * `aN OP VALUE` or `aN & MASK == VALUE`. */
static int parse_conditions(struct policy_parse_ctx *c, int nr, char **w, size_t n,
                            struct policy_cond *conds, unsigned *ncond)
{
    size_t i = 0;
    *ncond = 0;
    if (n == 0)
        return policy_fail(c, "'if' needs a condition");
    while (i < n) {
        if (*ncond == POLICY_MAX_CONDS)
            return policy_fail(c, "too many conditions (at most %d)", POLICY_MAX_CONDS);
        struct policy_cond *k = &conds[*ncond];
        memset(k, 0, sizeof *k);
        const char *a = w[i];
        if (a[0] != 'a' || a[1] < '0' || a[1] > '5' || a[2] != '\0')
            return policy_fail(c, "bad condition: expected an argument a0..a5, got '%s'", a);
        k->arg = (unsigned)(a[1] - '0');
        for (unsigned j = 0; j < *ncond; j++)
            if (conds[j].arg == k->arg)
                return policy_fail(c, "%s is compared twice in one rule (write two rules)", a);
        i++;
        if (i >= n)
            return policy_fail(c, "bad condition: '%s' needs an operator", a);
        if (strcmp(w[i], "&") == 0) {
            if (i + 2 >= n || strcmp(w[i + 2], "==") != 0)
                return policy_fail(c, "bad condition: a masked compare must be '%s & MASK == VALUE'", a);
            int rc = parse_value(c, w[i + 1], &k->mask);
            if (rc < 0)
                return rc;
            k->op = PO_MASKED_EQ;
            i += 3;
        } else {
            int op = -1;
            for (int o = PO_EQ; o <= PO_GE; o++)
                if (strcmp(w[i], op_words[o]) == 0)
                    op = o;
            if (op < 0)
                return policy_fail(c, "bad condition: unknown operator '%s'", w[i]);
            k->op = (enum policy_op)op;
            i++;
        }
        if (i >= n)
            return policy_fail(c, "bad condition: '%s' needs a value", a);
        if (strcmp(w[i], "$pid") == 0) {
            if (k->op != PO_EQ && k->op != PO_NE)
                return policy_fail(c, "$pid can only be compared with == or !=");
            k->value_is_pid = true;
        } else {
            int rc = parse_value(c, w[i], &k->value);
            if (rc < 0)
                return rc;
        }
        i++;
        if (k->op == PO_MASKED_EQ && k->mask == 0)
            return policy_fail(c, "condition is always true: mask 0 keeps no bits (libseccomp would drop it)");
        if (k->op == PO_MASKED_EQ && (k->value & ~k->mask) != 0)
            return policy_fail(c, "condition can never be true: value 0x%llx has bits outside mask 0x%llx",
                               (unsigned long long)k->value, (unsigned long long)k->mask);
        if (arg_is_32bit(nr, k->arg)) {
            if (k->op == PO_EQ && !k->value_is_pid) {
                k->op = PO_MASKED_EQ;
                k->mask = 0xffffffffu;
            } else if (k->op == PO_MASKED_EQ) {
                k->mask &= 0xffffffffu;
            }
            if ((k->op == PO_MASKED_EQ || k->op == PO_EQ) && k->value > 0xffffffffu)
                return policy_fail(c, "a%u of this syscall is 32-bit: value 0x%llx does not fit",
                                   k->arg, (unsigned long long)k->value);
        }
        (*ncond)++;
        if (i < n) {
            if (strcmp(w[i], "and") != 0)
                return policy_fail(c, "bad condition: expected 'and' or the end of the line, got '%s'", w[i]);
            i++;
            if (i >= n)
                return policy_fail(c, "bad condition: nothing after 'and'");
        }
    }
    return 0;
}

static void where_text(const struct policy_where *w, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%u", w->file, w->line);
}

/* Pitfall 3 in docs/policies.md: an unconditional rule makes the
 * conditional ones for the same call dead code; libseccomp merges them
 * silently, so the policy is refused instead. */
static int check_conflicts(struct policy_parse_ctx *c, const struct policy_rule *nw)
{
    struct policy *p = c->p;
    char at[POLICY_LINE_MAX];
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        if (r->nr != nw->nr)
            continue;
        where_text(&r->where, at, sizeof at);
        if (nw->when_writable || r->when_writable) {
            if (nw->when_writable && r->when_writable)
                continue;
            const struct policy_rule *other = nw->when_writable ? r : nw;
            if (other->ncond == 0)
                return policy_fail(c, "conflicting rules for %s: %s here, but %s at %s",
                                   nw->sysname,
                                   nw->when_writable ? "allow-when-writable" : "unconditional",
                                   nw->when_writable ? "unconditional" : "allow-when-writable", at);
            continue;
        }
        if (nw->ncond == 0 && r->ncond == 0) {
            if (r->action.kind == nw->action.kind && r->action.errnum == nw->action.errnum)
                continue;
            char a1[64], a2[64];
            policy_action_text(&nw->action, a1, sizeof a1);
            policy_action_text(&r->action, a2, sizeof a2);
            return policy_fail(c, "conflicting rules for %s: %s here, %s at %s",
                               nw->sysname, a1, a2, at);
        }
        if (nw->ncond == 0)
            return policy_fail(c, "conflicting rules for %s: unconditional here, but conditional at %s (the conditions would never apply)",
                               nw->sysname, at);
        if (r->ncond == 0)
            return policy_fail(c, "conflicting rules for %s: conditional here, but unconditional at %s (this rule would never apply)",
                               nw->sysname, at);
    }
    return 0;
}

static int add_rule(struct policy_parse_ctx *c, int nr, struct policy_action act,
                    bool when_writable, const struct policy_cond *conds,
                    unsigned ncond)
{
    struct policy *p = c->p;
    struct policy_rule r;
    memset(&r, 0, sizeof r);
    r.nr = nr;
    r.action = act;
    r.when_writable = when_writable;
    r.ncond = ncond;
    if (ncond)
        memcpy(r.cond, conds, ncond * sizeof *conds);
    r.where = policy_here(c);
    r.sysname = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (!r.sysname)
        return policy_fail_nomem(c);
    int rc = check_conflicts(c, &r);
    if (rc < 0) {
        free(r.sysname);
        return rc;
    }
    /* The same unconditional rule twice (overlapping groups) is kept once. */
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *o = &p->rules[i];
        if (o->nr == nr && o->ncond == 0 && ncond == 0 &&
            o->when_writable == when_writable) {
            free(r.sysname);
            return 0;
        }
    }
    struct policy_rule *grown = policy_grow(p->rules, &p->caprules,
                                            p->nrules + 1, sizeof *p->rules);
    if (!grown) {
        free(r.sysname);
        return policy_fail_nomem(c);
    }
    p->rules = grown;
    p->rules[p->nrules++] = r;
    return 0;
}

int policy_parse_action(struct policy_parse_ctx *c, char **w, size_t n,
                        struct policy_action *act, size_t *used)
{
    memset(act, 0, sizeof *act);
    *used = 1;
    if (strcmp(w[0], "allow") == 0) {
        act->kind = PA_ALLOW;
    } else if (strcmp(w[0], "kill") == 0) {
        act->kind = PA_KILL;
    } else if (strcmp(w[0], "trap") == 0) {
        act->kind = PA_TRAP;
    } else if (strcmp(w[0], "errno") == 0) {
        if (n < 2)
            return policy_fail(c, "errno needs an error name or number, e.g. 'errno EPERM'");
        act->kind = PA_ERRNO;
        if (policy_errno_value(w[1], &act->errnum) < 0)
            return policy_fail(c, "unknown errno '%s'", w[1]);
        *used = 2;
    } else {
        return policy_fail(c, "unknown action '%s' (allow, errno NAME, kill, trap)", w[0]);
    }
    return 0;
}

int policy_d_rule(struct policy_parse_ctx *c, char **w, size_t n)
{
    struct policy_action act;
    size_t used;
    int rc = policy_parse_action(c, w, n, &act, &used);
    if (rc < 0)
        return rc;
    size_t ntarg = n - used;
    for (size_t i = used; i < n; i++) {
        if (strcmp(w[i], "if") == 0) {
            ntarg = i - used;
            break;
        }
    }
    if (ntarg == 0)
        return policy_fail(c, "%s needs at least one syscall or @group", w[0]);
    struct policy_cond conds[POLICY_MAX_CONDS];
    unsigned ncond = 0;
    int *nrs;
    size_t count;
    rc = expand_targets(c, w + used, ntarg, &nrs, &count);
    if (rc < 0)
        return rc;
    if (used + ntarg < n) {
        if (ntarg != 1 || w[used][0] == '@') {
            free(nrs);
            return policy_fail(c, "a rule with conditions names exactly one syscall");
        }
        rc = parse_conditions(c, nrs[0], w + used + ntarg + 1,
                              n - used - ntarg - 1, conds, &ncond);
        if (rc < 0) {
            free(nrs);
            return rc;
        }
    }
    for (size_t i = 0; i < count; i++) {
        rc = add_rule(c, nrs[i], act, false, conds, ncond);
        if (rc < 0) {
            free(nrs);
            return rc;
        }
    }
    free(nrs);
    return 0;
}

int policy_d_when_writable(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n < 2)
        return policy_fail(c, "allow-when-writable needs at least one syscall or @group");
    for (size_t i = 1; i < n; i++)
        if (strcmp(w[i], "if") == 0)
            return policy_fail(c, "allow-when-writable takes no conditions");
    int *nrs;
    size_t count;
    int rc = expand_targets(c, w + 1, n - 1, &nrs, &count);
    if (rc < 0)
        return rc;
    struct policy_action allow = { .kind = PA_ALLOW };
    for (size_t i = 0; i < count; i++) {
        rc = add_rule(c, nrs[i], allow, true, NULL, 0);
        if (rc < 0) {
            free(nrs);
            return rc;
        }
    }
    free(nrs);
    return 0;
}

int policy_d_group(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n < 3)
        return policy_fail(c, "group needs a name and at least one syscall: 'group @name call...'");
    if (w[1][0] != '@' || w[1][1] == '\0')
        return policy_fail(c, "group name must start with '@', got '%s'", w[1]);
    for (const char *s = w[1] + 1; *s; s++)
        if (!(*s == '-' || *s == '_' || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return policy_fail(c, "bad group name '%s' (use a-z, 0-9, '-', '_')", w[1]);
    struct policy_group *old = find_group(c->p, w[1] + 1);
    if (old)
        return policy_fail(c, "group %s already defined at %s:%u", w[1],
                           old->where.file, old->where.line);
    struct policy_group g = { .where = policy_here(c) };
    int rc = expand_targets(c, w + 2, n - 2, &g.nrs, &g.count);
    if (rc < 0)
        return rc;
    g.name = strdup(w[1] + 1);
    struct policy_group *grown = g.name ? policy_grow(c->p->groups, &c->p->capgroups,
                                                      c->p->ngroups + 1, sizeof *grown)
                                        : NULL;
    if (!grown) {
        free(g.name);
        free(g.nrs);
        return policy_fail_nomem(c);
    }
    c->p->groups = grown;
    c->p->groups[c->p->ngroups++] = g;
    return 0;
}
