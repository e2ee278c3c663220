/* The seccomp compiler: a policy model into a libseccomp filter (built,
 * not loaded). It reads the model only. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "policy_priv.h"

static uint32_t scmp_action(const struct policy_action *a)
{
    switch (a->kind) {
    case PA_ALLOW: return SCMP_ACT_ALLOW;
    case PA_ERRNO: return SCMP_ACT_ERRNO((uint32_t)a->errnum);
    case PA_KILL: return SCMP_ACT_KILL_PROCESS;
    case PA_TRAP: return SCMP_ACT_TRAP;
    }
    return SCMP_ACT_KILL_PROCESS;
}

static struct scmp_arg_cmp to_scmp(const struct policy_cond *k, uint64_t pid)
{
    static const enum scmp_compare ops[] = {
        [PO_EQ] = SCMP_CMP_EQ, [PO_NE] = SCMP_CMP_NE, [PO_LT] = SCMP_CMP_LT,
        [PO_LE] = SCMP_CMP_LE, [PO_GT] = SCMP_CMP_GT, [PO_GE] = SCMP_CMP_GE,
        [PO_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
    };
    uint64_t value = k->value_is_pid ? pid : k->value;
    struct scmp_arg_cmp c = { .arg = k->arg, .op = ops[k->op] };
    /* libseccomp's masked compare reads datum_a as the mask and datum_b
     * as the value; the other way round it silently matches everything
     * that has no bits outside the value (tests/policy checks the export). */
    if (k->op == PO_MASKED_EQ) {
        c.datum_a = k->mask;
        c.datum_b = value;
    } else {
        c.datum_a = value;
        c.datum_b = 0;
    }
    return c;
}

/* With a writable path, calls listed allow-when-writable are allowed
 * outright and their conditional rules (openat's no-write-flags) drop. */
static bool lifted(const struct policy *p, int nr)
{
    if (!p->writable)
        return false;
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].when_writable && p->rules[i].nr == nr)
            return true;
    return false;
}

int policy_seccomp_build(const struct policy *p, scmp_filter_ctx *out,
                         unsigned *nrules, char *err, size_t errlen)
{
    *out = NULL;
    *nrules = 0;
    scmp_filter_ctx ctx = seccomp_init(scmp_action(&p->def));
    if (!ctx) {
        /* libseccomp's only failures here: memory, or an action it does
         * not know, which scmp_action never makes. */
        snprintf(err, errlen, "seccomp_init: out of memory");
        return -ENOMEM;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp filter attributes: %s", strerror(-rc));
        seccomp_release(ctx);
        return rc;
    }
    uint64_t pid = (uint64_t)getpid();
    unsigned n = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        bool lift = lifted(p, r->nr);
        if (r->when_writable && !p->writable)
            continue;
        if (lift && !r->when_writable)
            continue;
        struct scmp_arg_cmp cmp[POLICY_MAX_CONDS];
        for (unsigned j = 0; j < r->ncond; j++)
            cmp[j] = to_scmp(&r->cond[j], pid);
        rc = seccomp_rule_add_exact_array(ctx, scmp_action(&r->action), r->nr,
                                          r->ncond, cmp);
        if (rc < 0) {
            char text[512];
            policy_rule_text(r, text, sizeof text);
            snprintf(err, errlen, "%s:%u: seccomp refused '%s': %s",
                     r->where.file, r->where.line, text, strerror(-rc));
            seccomp_release(ctx);
            return rc;
        }
        n++;
    }
    *out = ctx;
    *nrules = n;
    return 0;
}
