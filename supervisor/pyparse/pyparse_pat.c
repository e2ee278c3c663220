/* Compile-stage checks of match statements (Python/compile.c): a pattern
 * that always matches must come last, among the cases of a match and the
 * alternatives of an or-pattern; a pattern binds each name once, and the
 * alternatives of an or-pattern bind the same names. */
#define _GNU_SOURCE
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

struct names {
    int *tok;
    int n, cap;
    bool bad;
};

static const struct pyparse_node *
kid(const struct pyparse_tree *t, const struct pyparse_node *nd, int k)
{
    return &t->nodes[t->kids[nd->kid + k]];
}

static int
token_cmp(const void *pa, const void *pb, void *arg)
{
    const struct pyparse_tree *t = arg;
    int a = *(const int *)pa, b = *(const int *)pb;
    size_t la = pyparse_te(t, a) - pyparse_ts(t, a), lb = pyparse_te(t, b) - pyparse_ts(t, b);
    int c = memcmp(t->buf + pyparse_ts(t, a), t->buf + pyparse_ts(t, b), la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

/* Sorts the names; a name twice is "multiple assignments to name". */
static void
sort_names(struct names *ns, const struct pyparse_tree *t)
{
    if (ns->n < 2)
        return;  /* also: qsort_r must not see the NULL of an empty list */
    qsort_r(ns->tok, (size_t)ns->n, sizeof *ns->tok, token_cmp, (void *)t);
    for (int i = 1; i < ns->n; i++)
        if (token_cmp(&ns->tok[i - 1], &ns->tok[i], (void *)t) == 0)
            ns->bad = true;
}

static bool
irrefutable(const struct pyparse_tree *t, const struct pyparse_node *nd)
{
    int r = nd->rule;
    if (r == pyparse_rule_capture_pattern || r == pyparse_rule_wildcard_pattern)
        return true;
    if (r == pyparse_rule_group_pattern || r == pyparse_rule_as_pattern)
        return nd->nkids >= 1 && irrefutable(t, kid(t, nd, 0));
    if (r == pyparse_rule_or_pattern) {
        for (int k = 0; k < nd->nkids; k++)
            if (irrefutable(t, kid(t, nd, k)))
                return true;
        return false;
    }
    if (r == pyparse_rule_closed_pattern && nd->nkids == 1) {
        const struct pyparse_node *in = kid(t, nd, 0);
        return in->first == nd->first && in->end == nd->end &&
               (in->rule == pyparse_rule_capture_pattern ||
                in->rule == pyparse_rule_wildcard_pattern ||
                in->rule == pyparse_rule_group_pattern) &&
               irrefutable(t, in);
    }
    return false;
}

static void
add_name(struct names *ns, int tok)
{
    if (ns->n == ns->cap) {
        int cap = ns->cap ? ns->cap * 2 : 16;
        int *p = realloc(ns->tok, (size_t)cap * sizeof *p);
        if (!p) {
            ns->bad = true;
            return;
        }
        ns->tok = p;
        ns->cap = cap;
    }
    ns->tok[ns->n++] = tok;
}

/* Both sorted, without duplicates. */
static bool
same_set(const struct pyparse_tree *t, const struct names *a, const struct names *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (token_cmp(&a->tok[i], &b->tok[i], (void *)t) != 0)
            return false;
    return true;
}

/* The names a pattern captures, into ns; also checks or-patterns. */
static void
collect(const struct pyparse_tree *t, const struct pyparse_node *nd, struct names *ns, int depth)
{
    if (ns->bad || depth > 10000) {
        ns->bad = true;
        return;
    }
    if (nd->rule == pyparse_rule_pattern_capture_target) {
        add_name(ns, nd->first);
        return;
    }
    if (nd->rule == pyparse_rule_or_pattern && nd->nkids > 1) {
        struct names first = { 0 };
        for (int k = 0; k < nd->nkids && !ns->bad; k++) {
            const struct pyparse_node *alt = kid(t, nd, k);
            if (k < nd->nkids - 1 && irrefutable(t, alt))
                ns->bad = true;     /* makes remaining patterns unreachable */
            struct names these = { 0 };
            collect(t, alt, &these, depth + 1);
            sort_names(&these, t);
            if (these.bad || (k > 0 && !same_set(t, &first, &these)))
                ns->bad = true;     /* alternative patterns bind different names */
            if (k == 0)
                first = these;
            else
                free(these.tok);
        }
        for (int i = 0; i < first.n; i++)
            add_name(ns, first.tok[i]);
        free(first.tok);
        return;
    }
    for (int k = 0; k < nd->nkids; k++)
        collect(t, kid(t, nd, k), ns, depth + 1);
}

bool
pyparse_pat_check(const struct pyparse_tree *t, const struct pyparse_node *match)
{
    int ncases = 0;
    for (int k = 0; k < match->nkids; k++)
        ncases += kid(t, match, k)->rule == pyparse_rule_case_block;
    int seen = 0;
    for (int k = 0; k < match->nkids; k++) {
        const struct pyparse_node *cb = kid(t, match, k);
        if (cb->rule != pyparse_rule_case_block)
            continue;
        seen++;
        bool guarded = false;
        struct names ns = { 0 };
        for (int j = 0; j < cb->nkids; j++) {
            const struct pyparse_node *part = kid(t, cb, j);
            if (part->rule == pyparse_rule_guard)
                guarded = true;
            else if (part->rule != pyparse_rule_block)
                collect(t, part, &ns, 0);
        }
        sort_names(&ns, t);
        free(ns.tok);
        if (ns.bad)
            return false;
        /* "case x:" with nothing after the pattern but ':' matches all */
        const struct pyparse_node *first = cb->nkids ? kid(t, cb, 0) : NULL;
        bool whole = first && first->first == cb->first + 1 && first->end < t->ntokens &&
                     pyparse_tt(t, first->end) == PYPARSE_T_COLON;
        if (whole && !guarded && seen < ncases && irrefutable(t, first))
            return false;
    }
    return true;
}
