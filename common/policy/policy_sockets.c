/* The sockets a policy admits: every socket the filter lets user code make
 * must be one that landlock or the filter itself governs (issue 14). The
 * filter cannot read the address connect() or sendto() are given, and
 * landlock (ABI 7) does not govern Unix sockets bound to paths nor
 * stream protocols other than TCP (MPTCP, socket's protocol 262); so a policy under landlock must not
 * admit sockets whose reach nothing governs. Each hazard is one row of
 * the table below; the loader refuses a policy that admits one. It reads
 * the model only. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_priv.h"

#define ALL32 0xffffffffu
#define TYPE_BITS 0xfu         /* SOCK_TYPE_MASK: flags sit above the type */

enum hazard_types {
    TYPES_ANY,          /* whatever type the rule admits */
    TYPES_STREAM,       /* only when the rule may admit SOCK_STREAM */
    TYPES_NOT_STREAM,   /* only when the rule may admit another type */
};

static const struct hazard {
    const char *call;           /* socket or socketpair */
    int families[2];            /* 0: unused slot */
    enum hazard_types types;
    int protocols[2];           /* a2 pinned to one of these makes it safe; -1: none does */
    bool tcp_only;              /* a hazard only where the policy states tcp rules */
    const char *why;
} hazards[] = {
    { "socket", { AF_UNIX, 0 }, TYPES_ANY, { -1, -1 }, false,
      "admits Unix sockets, which reach any socket file on the host (landlock does not "
      "govern them); pin the family, e.g. 'a0 == AF_INET'" },
    { "socketpair", { AF_UNIX, 0 }, TYPES_NOT_STREAM, { -1, -1 }, false,
      "admits Unix datagram socket pairs, which send to any socket file on the host; "
      "pin the type, 'a1 & SOCK_TYPE_MASK == SOCK_STREAM'" },
    { "socket", { AF_INET, AF_INET6 }, TYPES_STREAM, { 0, IPPROTO_TCP }, false,
      "admits AF_INET/AF_INET6 stream sockets of any protocol: MPTCP (262) escapes "
      "landlock's tcp rules; pin the protocol, 'a2 == 0' (and a second rule with "
      "'a2 == IPPROTO_TCP', which getaddrinfo gives)" },
};

/* The value rule r pins the given bits of argument arg to (== or a masked
 * compare covering them), if it pins them. */
static bool pinned(const struct policy_rule *r, unsigned arg, uint64_t bits, uint64_t *value)
{
    for (unsigned i = 0; i < r->ncond; i++) {
        const struct policy_cond *k = &r->cond[i];
        if (k->arg != arg || k->value_is_pid)
            continue;
        if (k->op == PO_EQ || (k->op == PO_MASKED_EQ && (k->mask & bits) == bits)) {
            *value = k->value & bits;
            return true;
        }
    }
    return false;
}

static bool may_admit_family(const struct policy_rule *r, const struct hazard *h)
{
    uint64_t v;
    if (!pinned(r, 0, ALL32, &v))
        return true;
    for (size_t i = 0; i < sizeof h->families / sizeof h->families[0]; i++)
        if (h->families[i] && v == (uint64_t)h->families[i])
            return true;
    return false;
}

static bool may_admit_type(const struct policy_rule *r, const struct hazard *h)
{
    uint64_t v;
    if (h->types == TYPES_ANY || !pinned(r, 1, TYPE_BITS, &v))
        return true;
    return h->types == TYPES_STREAM ? v == SOCK_STREAM : v != SOCK_STREAM;
}

static bool protocol_safe(const struct policy_rule *r, const struct hazard *h)
{
    uint64_t v;
    if (!pinned(r, 2, ALL32, &v))
        return false;
    for (size_t i = 0; i < sizeof h->protocols / sizeof h->protocols[0]; i++)
        if (h->protocols[i] >= 0 && v == (uint64_t)h->protocols[i])
            return true;
    return false;
}

static bool admits(const struct policy_rule *r, const struct hazard *h)
{
    return r->action.kind == PA_ALLOW && may_admit_family(r, h) && may_admit_type(r, h) &&
           !protocol_safe(r, h);
}

__attribute__((format(printf, 4, 5)))
static int refuse(const struct policy_where *w, char *err, size_t errlen, const char *fmt, ...)
{
    int n = w && w->file ? snprintf(err, errlen, "%s:%u: ", w->file, w->line)
                         : snprintf(err, errlen, "policy: ");
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* True when calls to nr that no rule matches get the default action and
 * that is allow: no unconditional rule of another action covers them. */
static bool default_admits(const struct policy *p, int nr)
{
    if (p->def.kind != PA_ALLOW)
        return false;
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].nr == nr && p->rules[i].ncond == 0 &&
            p->rules[i].action.kind != PA_ALLOW)
            return false;
    return true;
}

int policy_check_sockets(const struct policy *p, char *err, size_t errlen)
{
    if (p->landlock_off)
        return 0;       /* files and ports are not governed to begin with */
    for (size_t h = 0; h < sizeof hazards / sizeof hazards[0]; h++) {
        const struct hazard *hz = &hazards[h];
        if (hz->tcp_only && p->ntcp == 0)
            continue;
        int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, hz->call);
        for (size_t i = 0; i < p->nrules; i++) {
            const struct policy_rule *r = &p->rules[i];
            if (r->nr == nr && admits(r, hz))
                return refuse(&r->where, err, errlen, "allow %s %s", hz->call, hz->why);
        }
        /* 'default allow' admits everything; refused where the policy
         * states tcp rules, whose promise it would break. */
        if (p->ntcp && default_admits(p, nr))
            return refuse(p->def_slot.set ? &p->def_slot.where : NULL, err, errlen,
                          "'default allow' admits every socket, and the policy states tcp rules: %s %s",
                          hz->call, hz->why);
    }
    return 0;
}
