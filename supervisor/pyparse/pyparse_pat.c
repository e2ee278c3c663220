/* Compile-stage checks of match statements (Python/compile.c): a pattern
 * that always matches must come last, among the cases of a match and the
 * alternatives of an or-pattern; a pattern binds each name once, and the
 * alternatives of an or-pattern bind the same names; a mapping pattern's
 * literal keys differ in value, a class pattern names an attribute once,
 * a sequence pattern has one starred name at most, and no pattern holds
 * an f-string. */
#define _GNU_SOURCE
#include "pyparse_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
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

/* --- compile-stage checks of the patterns themselves (compile.c) --------- */

/* Token i starts an f-string (patterns may only match literals and
 * attribute lookups). */
static bool
is_fstring_token(const struct pyparse_tree *t, int i)
{
    if (pyparse_tt(t, i) != PYPARSE_T_STRING)
        return false;
    for (size_t k = pyparse_ts(t, i); k < pyparse_te(t, i); k++) {
        char ch = t->buf[k];
        if (ch == '\'' || ch == '"')
            return false;
        if (ch == 'f' || ch == 'F')
            return true;
    }
    return false;
}

/* A growing byte string: a key's value, spelt canonically. */
struct key {
    char *s;
    size_t n, cap;
    bool nomem;
};

static void
key_add(struct key *k, const void *p, size_t n)
{
    if (k->nomem)
        return;
    if (k->n + n > k->cap) {
        size_t cap = k->cap ? k->cap : 64;
        while (cap < k->n + n)
            cap *= 2;
        char *q = realloc(k->s, cap);
        if (!q) {
            k->nomem = true;
            return;
        }
        k->s = q;
        k->cap = cap;
    }
    memcpy(k->s + k->n, p, n);
    k->n += n;
}

static void
key_char(struct key *k, char c)
{
    key_add(k, &c, 1);
}

static void
key_utf8(struct key *k, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    }
    else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    }
    else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    key_add(k, b, n);
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of a string literal's body (the parser checked its escapes):
 * false when it holds \N{...}, whose code point this library does not
 * know (the key is then spelt as written). */
static bool
decode_string(struct key *k, const char *s, size_t n, bool raw, bool bytes)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || raw || i + 1 >= n) {
            key_char(k, s[i]);
            continue;
        }
        char c = s[++i];
        int digits = 0;
        uint32_t v = 0;
        switch (c) {
        case '\n':
            break;                  /* a line continuation */
        case 'a': key_char(k, '\a'); break;
        case 'b': key_char(k, '\b'); break;
        case 'f': key_char(k, '\f'); break;
        case 'n': key_char(k, '\n'); break;
        case 'r': key_char(k, '\r'); break;
        case 't': key_char(k, '\t'); break;
        case 'v': key_char(k, '\v'); break;
        case '\\': case '\'': case '"': key_char(k, c); break;
        case 'x':
            digits = 2;
            break;
        case 'u':
        case 'U':
            if (bytes) {
                key_char(k, '\\');
                key_char(k, c);
                break;
            }
            digits = c == 'u' ? 4 : 8;
            break;
        case 'N':
            if (!bytes)
                return false;
            key_char(k, '\\');
            key_char(k, c);
            break;
        default:
            if (c >= '0' && c <= '7') {
                int m = 0;
                for (; m < 3 && i < n && s[i] >= '0' && s[i] <= '7'; m++, i++)
                    v = v * 8 + (uint32_t)(s[i] - '0');
                i--;
                if (bytes)
                    key_char(k, (char)(v & 0xff));
                else
                    key_utf8(k, v);
            }
            else {
                key_char(k, '\\');  /* not an escape: kept */
                key_char(k, c);
            }
            break;
        }
        if (digits) {
            for (int m = 0; m < digits && i + 1 < n; m++)
                v = v * 16 + (uint32_t)hex_digit(s[++i]);
            if (bytes)
                key_char(k, (char)v);
            else
                key_utf8(k, v);
        }
    }
    return true;
}

/* An integer literal's magnitude in hexadecimal, no leading zeros. */
static void
integer_hex(struct key *k, const char *s, size_t n)
{
    int base = 10;
    if (n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' ||
                                 s[1] == 'b' || s[1] == 'B')) {
        base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
        s += 2;
        n -= 2;
    }
    /* little-endian 32-bit limbs; decimal literals have at most 4300
     * digits (more is an error before this), the others take one pass */
    size_t cap = n / 2 + 2, used = 1;
    uint32_t *limb = calloc(cap, sizeof *limb);
    if (!limb) {
        k->nomem = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit(s[i]);
        if (d < 0 || d >= base)
            continue;               /* underscores */
        uint64_t carry = (uint64_t)d;
        for (size_t j = 0; j < used; j++) {
            uint64_t x = (uint64_t)limb[j] * (uint64_t)base + carry;
            limb[j] = (uint32_t)x;
            carry = x >> 32;
        }
        if (carry && used < cap)
            limb[used++] = (uint32_t)carry;
    }
    while (used > 1 && limb[used - 1] == 0)
        used--;
    char buf[16];
    snprintf(buf, sizeof buf, "%x", limb[used - 1]);
    key_add(k, buf, strlen(buf));
    for (size_t j = used - 1; j-- > 0;) {
        snprintf(buf, sizeof buf, "%08x", limb[j]);
        key_add(k, buf, 8);
    }
    free(limb);
}

/* A float as Python compares it: an integral one equals the int. */
static void
float_value(struct key *k, double v)
{
    char buf[64];
    if (v == 0) {
        key_add(k, "i0", 2);        /* -0.0 == 0 */
        return;
    }
    if (isfinite(v) && v == floor(v)) {
        int exp;
        double m = frexp(fabs(v), &exp);        /* v = m * 2^exp, m in [0.5, 1) */
        uint64_t mant = (uint64_t)ldexp(m, 53);
        exp -= 53;
        while (exp < 0) {
            mant >>= 1;
            exp++;
        }
        /* mant << exp in hexadecimal: exp as whole and spare bits */
        key_add(k, v < 0 ? "i-" : "i", v < 0 ? 2 : 1);
        snprintf(buf, sizeof buf, "%" PRIx64, mant << (exp % 4));
        key_add(k, buf, strlen(buf));
        for (int z = 0; z < exp / 4; z++)
            key_char(k, '0');
        return;
    }
    snprintf(buf, sizeof buf, "f%a", v);
    key_add(k, buf, strlen(buf));
}

static double
number_value(const struct pyparse_tree *t, int i, bool *imaginary)
{
    char buf[512];
    size_t n = 0;
    for (size_t p = pyparse_ts(t, i); p < pyparse_te(t, i) && n + 1 < sizeof buf; p++)
        if (t->buf[p] != '_')
            buf[n++] = t->buf[p];
    *imaginary = n && (buf[n - 1] == 'j' || buf[n - 1] == 'J');
    if (*imaginary)
        n--;
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static bool
is_integer_literal(const struct pyparse_tree *t, int i)
{
    for (size_t p = pyparse_ts(t, i); p < pyparse_te(t, i); p++) {
        char c = t->buf[p];
        if (c == '.' || c == 'j' || c == 'J' ||
            ((c == 'e' || c == 'E') &&
             !(pyparse_te(t, i) - pyparse_ts(t, i) > 1 && (t->buf[pyparse_ts(t, i) + 1] == 'x' ||
                                                         t->buf[pyparse_ts(t, i) + 1] == 'X'))))
            return false;
    }
    return true;
}

/* A key of a mapping pattern, tokens [from, to): its value spelt so that
 * equal values (by ==, as the compiler's set of keys sees them) are spelt
 * alike. false: not a literal (a value pattern: not checked). */
static bool
key_value(const struct pyparse_tree *t, int from, int to, struct key *k)
{
    int type = pyparse_tt(t, from);
    if (type == PYPARSE_T_STRING) {
        bool bytes = false;
        for (int i = from; i < to; i++) {
            size_t s = pyparse_ts(t, i), e = pyparse_te(t, i);
            bool raw = false;
            while (s < e && t->buf[s] != '\'' && t->buf[s] != '"') {
                char c = t->buf[s++];
                raw |= c == 'r' || c == 'R';
                bytes |= c == 'b' || c == 'B';
            }
            size_t q = e - s >= 6 && t->buf[s + 1] == t->buf[s] && t->buf[s + 2] == t->buf[s] ? 3 : 1;
            if (i == from)
                key_char(k, bytes ? 'b' : 's');
            if (!decode_string(k, t->buf + s + q, e - s - 2 * q, raw, bytes)) {
                /* \N{...}: spelt as written */
                k->n = 0;
                key_char(k, '?');
                key_add(k, t->buf + pyparse_ts(t, from), pyparse_te(t, to - 1) - pyparse_ts(t, from));
                return true;
            }
        }
        return true;
    }
    if (type >= PYPARSE_T_KEYWORD) {
        const char *w = pyparse_keywords[type - PYPARSE_T_KEYWORD];
        if (strcmp(w, "None") == 0)
            key_char(k, 'N');
        else if (strcmp(w, "True") == 0)
            key_add(k, "i1", 2);
        else if (strcmp(w, "False") == 0)
            key_add(k, "i0", 2);
        else
            return false;
        return true;
    }
    /* ['-'] NUMBER [('+' | '-') NUMBER] */
    int i = from;
    bool negative = type == PYPARSE_T_MINUS;
    if (negative)
        i++;
    if (i >= to || pyparse_tt(t, i) != PYPARSE_T_NUMBER)
        return false;
    bool imaginary;
    double v = number_value(t, i, &imaginary);
    if (i + 1 == to) {
        if (imaginary) {
            if (v == 0) {
                key_add(k, "i0", 2);    /* 0j == 0 */
                return true;
            }
            key_add(k, "c", 1);
            float_value(k, 0.0);
            key_char(k, ',');
            float_value(k, negative ? -v : v);
        }
        else if (is_integer_literal(t, i)) {
            bool zero = true;
            for (size_t p = pyparse_ts(t, i); p < pyparse_te(t, i); p++)
                zero &= t->buf[p] == '0' || t->buf[p] == '_' || t->buf[p] == 'x' ||
                        t->buf[p] == 'X' || t->buf[p] == 'o' || t->buf[p] == 'O' ||
                        t->buf[p] == 'b' || t->buf[p] == 'B';
            key_add(k, negative && !zero ? "i-" : "i", negative && !zero ? 2 : 1);
            integer_hex(k, t->buf + pyparse_ts(t, i), pyparse_te(t, i) - pyparse_ts(t, i));
        }
        else {
            float_value(k, negative ? -v : v);
        }
        return true;
    }
    /* a complex number: real part, sign, imaginary part */
    if (i + 3 != to || pyparse_tt(t, i + 2) != PYPARSE_T_NUMBER)
        return false;
    bool imag2;
    double im = number_value(t, i + 2, &imag2);
    double re = negative ? -v : v;
    if (pyparse_tt(t, i + 1) == PYPARSE_T_MINUS)
        im = -im;
    if (im == 0) {
        float_value(k, re);         /* complex(x, 0) == x */
        return true;
    }
    key_add(k, "c", 1);
    float_value(k, re);
    key_char(k, ',');
    float_value(k, im);
    return true;
}

static int
key_cmp(const void *pa, const void *pb)
{
    const struct key *a = pa, *b = pb;
    int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
    if (c)
        return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* The elements of a bracketed pattern, tokens (first, end - 1): calls
 * element(t, from, to, data) for each, cut at commas outside brackets. */
static bool
each_element(const struct pyparse_tree *t, int first, int end,
             bool (*element)(const struct pyparse_tree *, int, int, void *), void *data)
{
    int depth = 0, from = first + 1;
    for (int i = first + 1; i < end - 1; i++) {
        int type = pyparse_tt(t, i);
        if (pyparse_opens(type))
            depth++;
        else if (pyparse_closes(type))
            depth--;
        else if (depth == 0 && type == PYPARSE_T_COMMA) {
            if (i > from && !element(t, from, i, data))
                return false;
            from = i + 1;
        }
    }
    return from >= end - 1 || element(t, from, end - 1, data);
}

struct mapping_keys {
    struct key *keys;
    int n, cap;
    bool nomem;
};

static bool
mapping_entry(const struct pyparse_tree *t, int from, int to, void *data)
{
    struct mapping_keys *m = data;
    if (pyparse_tt(t, from) == PYPARSE_T_DOUBLESTAR)
        return true;
    int colon = from;
    while (colon < to && pyparse_tt(t, colon) != PYPARSE_T_COLON)
        colon++;
    struct key k = { 0 };
    if (!key_value(t, from, colon, &k)) {
        free(k.s);
        return true;
    }
    if (k.nomem || (m->n == m->cap && !(m->cap = m->cap ? m->cap * 2 : 8,
                                         m->keys = realloc(m->keys, (size_t)m->cap * sizeof *m->keys)))) {
        free(k.s);
        m->nomem = true;
        return false;
    }
    m->keys[m->n++] = k;
    return true;
}

struct keywords {
    int tok[64];
    int n;
    bool repeated;
};

static bool
keyword_pattern(const struct pyparse_tree *t, int from, int to, void *data)
{
    struct keywords *kw = data;
    if (to - from < 2 || pyparse_tt(t, from) != PYPARSE_T_NAME ||
        pyparse_tt(t, from + 1) != PYPARSE_T_EQUAL)
        return true;
    for (int i = 0; i < kw->n; i++)
        if (token_cmp(&kw->tok[i], &from, (void *)t) == 0) {
            kw->repeated = true;    /* attribute name repeated in class pattern */
            return false;
        }
    if (kw->n < (int)(sizeof kw->tok / sizeof kw->tok[0]))
        kw->tok[kw->n++] = from;
    return true;
}

static bool
count_star(const struct pyparse_tree *t, int from, int to, void *data)
{
    (void)to;
    int *stars = data;
    if (pyparse_tt(t, from) == PYPARSE_T_STAR && ++*stars > 1)
        return false;               /* multiple starred names in sequence pattern */
    return true;
}

/* One closed pattern's own checks: a mapping's keys, a class pattern's
 * keywords, a sequence's starred names. */
static bool
closed_pattern_ok(const struct pyparse_tree *t, const struct pyparse_node *nd)
{
    int first = nd->first, end = nd->end;
    int type = pyparse_tt(t, first);
    if (type == PYPARSE_T_LBRACE) {
        struct mapping_keys m = { 0 };
        bool ok = each_element(t, first, end, mapping_entry, &m) && !m.nomem;
        if (ok && m.n > 1) {
            qsort(m.keys, (size_t)m.n, sizeof *m.keys, key_cmp);
            for (int i = 1; i < m.n && ok; i++)
                ok = key_cmp(&m.keys[i - 1], &m.keys[i]) != 0;  /* duplicate key */
        }
        for (int i = 0; i < m.n; i++)
            free(m.keys[i].s);
        free(m.keys);
        return ok;
    }
    if (type == PYPARSE_T_LSQB || type == PYPARSE_T_LPAR) {
        int stars = 0;
        return each_element(t, first, end, count_star, &stars);
    }
    if (type == PYPARSE_T_NAME && pyparse_tt(t, end - 1) == PYPARSE_T_RPAR) {
        int open = first;
        while (open < end && pyparse_tt(t, open) != PYPARSE_T_LPAR)
            open++;
        struct keywords kw = { .n = 0 };
        return each_element(t, open, end, keyword_pattern, &kw);
    }
    return true;
}

static bool
patterns_ok(const struct pyparse_tree *t, const struct pyparse_node *nd, int depth)
{
    if (depth > 10000)
        return false;
    if (nd->rule == pyparse_rule_closed_pattern && !closed_pattern_ok(t, nd))
        return false;
    for (int k = 0; k < nd->nkids; k++)
        if (!patterns_ok(t, kid(t, nd, k), depth + 1))
            return false;
    return true;
}

/* The pattern of a case block, tokens [from, to): no f-string, and in an
 * open sequence ("case *a, *b:") one starred name at most. */
static bool
case_pattern_ok(const struct pyparse_tree *t, int from, int to)
{
    int depth = 0, stars = 0;
    bool element_start = true;
    for (int i = from; i < to; i++) {
        int type = pyparse_tt(t, i);
        if (is_fstring_token(t, i))
            return false;           /* patterns may only match literals and attribute lookups */
        if (depth == 0 && element_start && type == PYPARSE_T_STAR && ++stars > 1)
            return false;
        if (pyparse_opens(type))
            depth++;
        else if (pyparse_closes(type))
            depth--;
        element_start = depth == 0 && type == PYPARSE_T_COMMA;
    }
    return true;
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
        int pattern_end = cb->end;
        for (int j = 0; j < cb->nkids; j++) {
            const struct pyparse_node *part = kid(t, cb, j);
            if (part->rule == pyparse_rule_guard || part->rule == pyparse_rule_block) {
                guarded |= part->rule == pyparse_rule_guard;
                if (part->first < pattern_end)
                    pattern_end = part->first;
            }
            else {
                collect(t, part, &ns, 0);
                if (!patterns_ok(t, part, 0))
                    ns.bad = true;
            }
        }
        if (!case_pattern_ok(t, cb->first + 1, pattern_end))
            ns.bad = true;
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
