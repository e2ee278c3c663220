/* The policy model: the parsed form's lifetime, the primitives that add to
 * it while it is built, the accessors, and the text of an action or a rule.
 * Nothing here reads text or compiles a filter; every other file of the
 * module builds on this one. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
        return -ENOMEM;
    p->paths = grown;
    struct policy_path_entry *e = &p->paths[p->npaths];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path)
        return -ENOMEM;
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
    for (size_t i = 0; i < p->nmounts; i++)
        free(p->mounts[i].path);
    free(p->mounts);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->name);
    free(p->path);
    free(p->hostname);
    free(p);
}

/* --- text ---------------------------------------------------------------- */

void policy_action_text(const struct policy_action *a, char *buf, size_t len)
{
    switch (a->kind) {
    case PA_ALLOW: snprintf(buf, len, "allow"); break;
    case PA_ERRNO: snprintf(buf, len, "errno %s", policy_errno_name(a->errnum)); break;
    case PA_KILL: snprintf(buf, len, "kill"); break;
    case PA_TRAP: snprintf(buf, len, "trap"); break;
    }
}

static const char *const op_text[] = {
    [PO_EQ] = "==", [PO_NE] = "!=", [PO_LT] = "<", [PO_LE] = "<=",
    [PO_GT] = ">", [PO_GE] = ">=", [PO_MASKED_EQ] = "==",
};

void policy_rule_text(const struct policy_rule *r, char *buf, size_t len)
{
    char act[64];
    policy_action_text(&r->action, act, sizeof act);
    int n = snprintf(buf, len, "%s %s", r->when_writable ? "allow-when-writable" : act,
                     r->sysname);
    for (unsigned i = 0; i < r->ncond && n >= 0 && (size_t)n < len; i++) {
        const struct policy_cond *k = &r->cond[i];
        char val[32];
        if (k->value_is_pid)
            snprintf(val, sizeof val, "$pid");
        else
            snprintf(val, sizeof val, "0x%llx", (unsigned long long)k->value);
        if (k->op == PO_MASKED_EQ)
            n += snprintf(buf + n, len - (size_t)n, " %s a%u & 0x%llx == %s",
                          i ? "and" : "if", k->arg, (unsigned long long)k->mask, val);
        else
            n += snprintf(buf + n, len - (size_t)n, " %s a%u %s %s",
                          i ? "and" : "if", k->arg, op_text[k->op], val);
    }
}

/* --- accessors ----------------------------------------------------------- */

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

static const struct {
    unsigned bit;
    const char *name;
} ns_names[] = {
    { POLICY_NS_USER, "user" },
    { POLICY_NS_IPC, "ipc" },
    { POLICY_NS_UTS, "uts" },
    { POLICY_NS_NET, "net" },
    { POLICY_NS_PID, "pid" },
    { POLICY_NS_MOUNT, "mount" },
};

unsigned policy_namespaces(const struct policy *p, unsigned *optional)
{
    if (optional)
        *optional = p->ns_optional;
    return p->ns;
}

const char *policy_ns_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++)
        if (ns_names[i].bit == bit)
            return ns_names[i].name;
    return NULL;
}

int policy_ns_bit(const char *word, unsigned *bit)
{
    for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++)
        if (strcmp(ns_names[i].name, word) == 0) {
            *bit = ns_names[i].bit;
            return 0;
        }
    return -EINVAL;
}

size_t policy_mount_count(const struct policy *p) { return p->nmounts; }
enum policy_mount_root policy_mount_root(const struct policy *p) { return p->mount_root; }

const struct policy_mount *policy_mount_at(const struct policy *p, size_t i)
{
    return i < p->nmounts ? &p->mounts[i].pub : NULL;
}

const char *policy_mount_word(enum policy_mount_kind kind)
{
    switch (kind) {
    case POLICY_MOUNT_TMPFS: return "tmpfs";
    case POLICY_MOUNT_BIND_RO: return "bind-ro";
    case POLICY_MOUNT_BIND_RW: return "bind-rw";
    }
    return "?";
}

const char *policy_hostname(const struct policy *p)
{
    return p->hostname ? p->hostname : POLICY_HOSTNAME_DEFAULT;
}

struct policy_idle_cpu policy_idle_cpu(const struct policy *p) { return p->idle_cpu; }

const char *policy_idle_action_name(enum policy_idle_action a)
{
    return a == POLICY_IDLE_KILL ? "kill" : "warn";
}

const struct policy_cgroup_limit *policy_cgroup(const struct policy *p,
                                                enum policy_cgroup_ctl ctl)
{
    static const struct policy_cgroup_limit unset;
    return ctl < POLICY_CGROUP_COUNT ? &p->cgroup[ctl] : &unset;
}

const char *policy_cgroup_name(enum policy_cgroup_ctl ctl)
{
    switch (ctl) {
    case POLICY_CGROUP_CPU: return "cpu";
    case POLICY_CGROUP_MEMORY: return "memory";
    case POLICY_CGROUP_PIDS: return "pids";
    default: return "?";
    }
}

bool policy_cgroup_required(const struct policy *p)
{
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++)
        if (p->cgroup[i].set && !p->cgroup[i].optional)
            return true;
    return false;
}
