/* The compile-stage errors of CPython 3.11 (Python/symtable.c,
 * Python/compile.c) that can turn a statement the parser accepted into an
 * error: at the REPL they decide between "... " and an error for blocks
 * such as "if x:\n    return 1". Scopes, loops and the names a scope
 * binds come from the tree; the statements and expressions checked are
 * each introduced by a token that appears nowhere else in a valid parse
 * (return, yield, await, break, continue, async, import *). */
#define _GNU_SOURCE
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

enum scope_kind { SCOPE_MODULE, SCOPE_CLASS, SCOPE_FUNC, SCOPE_ASYNC_FUNC, SCOPE_LAMBDA, SCOPE_COMP };
enum fact_kind {
    FACT_BIND, FACT_PARAM, FACT_GLOBAL, FACT_NONLOCAL, FACT_RETURN_VALUE,
    FACT_WALRUS,                /* a := target, in the comprehension it is in */
    FACT_IMPORT,                /* bound by an import: DEF_IMPORT, not DEF_LOCAL,
                                 * so no conflict with a later global */
    FACT_USE,                   /* a load (USE), before a global or nonlocal */
    FACT_FSTRING,               /* an f-string, whose expressions may load names */
    FACT_ANNOT,                 /* a simple annotated name: "x: int" */
};

struct scope {
    enum scope_kind kind;
    int parent;                 /* -1 for the module */
    bool has_yield;
};

/* A name bound or declared in a scope, or a 'return value' seen there;
 * name is a token index. */
struct fact {
    int scope;
    int name;
    enum fact_kind kind;
};

/* The name facts of one name in one scope, summed up. */
struct group {
    int scope;
    int name;                   /* one of the name's tokens */
    uint64_t hash;
    uint16_t kinds;             /* 1 << fact_kind of each fact */
    int params;
    int first_bind;             /* token positions, -1: none: a bind or load */
    int last_global, last_nonlocal;
};

struct sem {
    const struct pyparse_tree *t;
    struct scope *scopes;
    int nscopes, scopes_cap;
    struct fact *facts;
    int nfacts, facts_cap;
    struct group *groups;       /* the name facts of one name in one scope */
    int ngroups;
    int *slots;                 /* hash table of groups: index or -1 */
    size_t nslots;              /* a power of two */
    bool nomem;
    bool bad;                   /* an error found while recording names */
    bool top_level_await;       /* module scope may await */
    int not_future;             /* first 'from' that is not from __future__ */
    /* Loads are recorded (FACT_USE) only in a statement that declares a
     * name global or nonlocal: a name used before its declaration in the
     * same scope is an error. not_use marks the NAME tokens that are not
     * loads though no node binds them (lambda parameters, soft keywords);
     * no_use_until skips the rest of an import or declaration. */
    bool collect_uses;
    uint8_t *not_use;
    int no_use_until;
    unsigned futures;           /* PYPARSE_FUTURE_* of valid future imports */
};

struct ctx {
    int scope;                  /* index in sem.scopes */
    bool in_loop;
    bool in_iterable;           /* in the iterable of a comprehension's for */
    bool *comp_async;           /* set when the comprehension turns async */
    bool in_annotation;         /* directly in an annotation, under
                                 * "from __future__ import annotations" */
    bool in_except_star;        /* in an except* block: no return */
    bool loop_in_except_star;   /* and no break or continue for its loops */
    int blocks;                 /* compile.c's frame blocks of the unit here */
};

/* compile.c's CO_MAXBLOCKS: "too many statically nested blocks". Loops
 * push a block for their body, a with one per item, a try one for its
 * body, two for each handler, and one more for all that a finally
 * guards, which itself runs in one. */
#define MAX_BLOCKS 20

static bool visit(struct sem *s, int node, const struct ctx *c);
static bool stores_debug_attribute(const struct pyparse_tree *t, int from, int to);

static enum scope_kind
kind_of(const struct sem *s, const struct ctx *c)
{
    return s->scopes[c->scope].kind;
}

static int
new_scope(struct sem *s, enum scope_kind kind, int parent)
{
    if (s->nscopes == s->scopes_cap) {
        int cap = s->scopes_cap ? s->scopes_cap * 2 : 16;
        struct scope *n = realloc(s->scopes, (size_t)cap * sizeof *n);
        if (!n) {
            s->nomem = true;
            return -1;
        }
        s->scopes = n;
        s->scopes_cap = cap;
    }
    s->scopes[s->nscopes] = (struct scope){ kind, parent, false };
    return s->nscopes++;
}

static void
add_fact(struct sem *s, int scope, int name, enum fact_kind kind)
{
    if (name < 0 || name >= s->t->ntokens)
        return;
    if (kind != FACT_RETURN_VALUE && kind != FACT_FSTRING && pyparse_tt(s->t, name) != PYPARSE_T_NAME)
        return;
    if (s->nfacts == s->facts_cap) {
        int cap = s->facts_cap ? s->facts_cap * 2 : 64;
        struct fact *n = realloc(s->facts, (size_t)cap * sizeof *n);
        if (!n) {
            s->nomem = true;
            return;
        }
        s->facts = n;
        s->facts_cap = cap;
    }
    s->facts[s->nfacts++] = (struct fact){ scope, name, kind };
}

static bool
is_kw(const struct pyparse_tree *t, int i, const char *word)
{
    if (i < 0 || i >= t->ntokens || pyparse_tt(t, i) < PYPARSE_T_KEYWORD)
        return false;
    return strcmp(pyparse_keywords[pyparse_tt(t, i) - PYPARSE_T_KEYWORD], word) == 0;
}

/* May await, async for and async with be used directly in this scope? */
static bool
may_await(const struct sem *s, enum scope_kind k)
{
    return k == SCOPE_ASYNC_FUNC || (k == SCOPE_MODULE && s->top_level_await);
}

static bool
is_function(enum scope_kind k)
{
    return k == SCOPE_FUNC || k == SCOPE_ASYNC_FUNC || k == SCOPE_LAMBDA || k == SCOPE_COMP;
}

static int
name_cmp(const struct pyparse_tree *t, int a, int b)
{
    size_t la = pyparse_te(t, a) - pyparse_ts(t, a), lb = pyparse_te(t, b) - pyparse_ts(t, b);
    int c = memcmp(t->buf + pyparse_ts(t, a), t->buf + pyparse_ts(t, b), la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

static bool
name_is(const struct pyparse_tree *t, int i, const char *word)
{
    size_t n = strlen(word);
    return i < t->ntokens && pyparse_tt(t, i) == PYPARSE_T_NAME && pyparse_te(t, i) - pyparse_ts(t, i) == n &&
           memcmp(t->buf + pyparse_ts(t, i), word, n) == 0;
}

/* "from __future__ import ..." at token i: only known features, and only
 * at the start of the module (future.c). */
static bool
future_ok(const struct pyparse_tree *t, int i, enum scope_kind k, int not_future,
          unsigned *futures)
{
    static const char *const features[] = {
        "nested_scopes", "generators", "division", "absolute_import", "with_statement",
        "print_function", "unicode_literals", "barry_as_FLUFL", "generator_stop",
        "annotations",
    };
    if (k != SCOPE_MODULE || i > not_future)
        return false;               /* only future imports may come before */
    if (i > 0 && !(pyparse_tt(t, i - 1) == PYPARSE_T_SEMI && is_kw(t, 0, "from")))
        return false;
    unsigned found = 0;
    for (int j = i + 3; j < t->ntokens; j++) {
        int type = pyparse_tt(t, j);
        if (type == PYPARSE_T_NEWLINE || type == PYPARSE_T_SEMI)
            break;
        if (pyparse_tt(t, j) != PYPARSE_T_NAME || is_kw(t, j - 1, "as"))
            continue;
        bool known = false;
        for (size_t f = 0; f < sizeof features / sizeof features[0]; f++)
            known |= name_is(t, j, features[f]);
        if (!known)
            return false;           /* "not a chance" for braces */
        if (name_is(t, j, "barry_as_FLUFL"))
            found |= PYPARSE_FUTURE_BARRY;
        else if (name_is(t, j, "annotations"))
            found |= PYPARSE_FUTURE_ANNOTATIONS;
    }
    *futures |= found;
    return true;
}

/* One token seen directly in a scope (not inside a nested node). */
/* Token i (a STRING) is an f-string: an f or F in its prefix. */
static bool
is_fstring(const struct pyparse_tree *t, int i)
{
    for (size_t k = pyparse_ts(t, i); k < pyparse_te(t, i); k++) {
        char ch = t->buf[k];
        if (ch == '\'' || ch == '"')
            return false;
        if (ch == 'f' || ch == 'F')
            return true;
    }
    return false;
}

static bool
word_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || (unsigned char)ch >= 0x80;
}

/* Does the f-string at token i load the name of token name in one of its
 * expressions? Its replacement fields are read as the f-string parser
 * reads them: identifiers of an expression, outside its own string
 * literals, not after '.' (attributes) or '!' (conversions), nor in a
 * format spec's literal text. */
static bool
fstring_loads(const struct pyparse_tree *t, int i, int name)
{
    const char *s = t->buf + pyparse_ts(t, i), *e = t->buf + pyparse_te(t, i);
    const char *want = t->buf + pyparse_ts(t, name);
    size_t want_len = pyparse_te(t, name) - pyparse_ts(t, name);
    while (s < e && *s != '\'' && *s != '"')
        s++;                    /* the prefix */
    int depth = 0;              /* replacement fields open */
    int brackets = 0;           /* brackets open in the current expression */
    bool spec = false;          /* in a format spec's literal text */
    char quote = 0;             /* in a string literal of an expression */
    for (s++; s < e; s++) {
        char ch = *s;
        if (depth == 0 || spec) {
            if (ch == '{' && s + 1 < e && s[1] == '{' && depth == 0)
                s++;            /* a doubled brace */
            else if (ch == '{') {
                depth++;
                spec = false;
                brackets = 0;
            }
            else if (ch == '}' && depth > 0) {
                depth--;
                spec = depth > 0;
            }
            continue;
        }
        if (quote) {
            if (ch == quote)
                quote = 0;
            continue;
        }
        if (ch == '\'' || ch == '"')
            quote = ch;
        else if (ch == '(' || ch == '[' || ch == '{')
            brackets++;
        else if ((ch == ')' || ch == ']') && brackets > 0)
            brackets--;
        else if (ch == '}' && brackets > 0)
            brackets--;
        else if (ch == '}') {
            depth--;
            spec = depth > 0;
        }
        else if (ch == ':' && brackets == 0)
            spec = true;
        else if (word_char(ch) && !(ch >= '0' && ch <= '9') &&
                 (s == t->buf || !word_char(s[-1]))) {
            const char *w = s;
            while (s + 1 < e && word_char(s[1]))
                s++;
            char before = w > t->buf ? w[-1] : ' ';
            if (before != '.' && before != '!' && (size_t)(s + 1 - w) == want_len &&
                memcmp(w, want, want_len) == 0)
                return true;
        }
    }
    return false;
}

/* The end of the simple statement at token i: its NEWLINE or ';'. */
static int
statement_end(const struct pyparse_tree *t, int i)
{
    int depth = 0;
    for (; i < t->ntokens; i++) {
        int type = pyparse_tt(t, i);
        if (type == PYPARSE_T_LPAR || type == PYPARSE_T_LSQB || type == PYPARSE_T_LBRACE)
            depth++;
        else if (type == PYPARSE_T_RPAR || type == PYPARSE_T_RSQB || type == PYPARSE_T_RBRACE)
            depth--;
        else if (depth <= 0 && (type == PYPARSE_T_NEWLINE || type == PYPARSE_T_SEMI))
            return i;
    }
    return i;
}

/* A NAME token seen in a scope: a load, unless it names an attribute, a
 * keyword argument or pattern (NAME '='), what def or class define, or
 * is part of an import or a global or nonlocal declaration. (What nodes
 * bind is a FACT_BIND already; a load in an f-string is not seen.) */
static void
note_use(struct sem *s, int i, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    if (i < s->no_use_until || s->not_use[i])
        return;
    if (i > 0) {
        int prev = pyparse_tt(t, i - 1);
        if (prev == PYPARSE_T_DOT || is_kw(t, i - 1, "def") || is_kw(t, i - 1, "class"))
            return;
    }
    if (i + 1 < t->ntokens && pyparse_tt(t, i + 1) == PYPARSE_T_EQUAL)
        return;
    add_fact(s, c->scope, i, FACT_USE);
}

/* A keyword seen in a scope, for note_use: imports and declarations name
 * what they bind or declare, not loads. */
static void
note_keyword(struct sem *s, int i)
{
    const struct pyparse_tree *t = s->t;
    if (is_kw(t, i, "import") || is_kw(t, i, "global") || is_kw(t, i, "nonlocal")) {
        s->no_use_until = statement_end(t, i);
        return;
    }
    if (is_kw(t, i, "from")) {
        /* "from x import y", not "yield from x" or "raise E from x" */
        int end = statement_end(t, i);
        for (int j = i + 1; j < end; j++)
            if (is_kw(t, j, "import")) {
                s->no_use_until = end;
                return;
            }
    }
}

static bool
check_token(struct sem *s, int i, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    enum scope_kind k = kind_of(s, c);
    int type = pyparse_tt(t, i);
    if (s->collect_uses) {
        if (type == PYPARSE_T_NAME)
            note_use(s, i, c);
        else if (type >= PYPARSE_T_KEYWORD)
            note_keyword(s, i);
        else if (type == PYPARSE_T_STRING && is_fstring(t, i))
            add_fact(s, c->scope, i, FACT_FSTRING);
    }
    if (type == PYPARSE_T_AWAIT) {
        if (c->in_annotation)
            return false;       /* 'await expression' within an annotation */
        if (k == SCOPE_COMP) {
            *c->comp_async = true;
            return true;
        }
        return may_await(s, k);     /* 'await' outside (async) function */
    }
    if (type == PYPARSE_T_ASYNC) {
        if (is_kw(t, i + 1, "for") && k == SCOPE_COMP) {
            *c->comp_async = true;
            return true;
        }
        if (is_kw(t, i + 1, "with"))
            return may_await(s, k);
        return true;
    }
    if (type == PYPARSE_T_STRING && t->ptok[i].inner) {
        unsigned in = t->ptok[i].inner;
        if (c->in_annotation &&
            (in & (PYPARSE_INNER_AWAIT | PYPARSE_INNER_YIELD | PYPARSE_INNER_YIELD_FROM)))
            return false;
        if ((in & PYPARSE_INNER_AWAIT) && k == SCOPE_COMP)
            *c->comp_async = true;
        else if ((in & PYPARSE_INNER_AWAIT) && !may_await(s, k))
            return false;
        if ((in & PYPARSE_INNER_ASYNC_COMP) && !may_await(s, k) && k != SCOPE_COMP)
            return false;
        if (in & (PYPARSE_INNER_YIELD | PYPARSE_INNER_YIELD_FROM)) {
            if (k == SCOPE_ASYNC_FUNC && (in & PYPARSE_INNER_YIELD_FROM))
                return false;
            s->scopes[c->scope].has_yield = true;
            return is_function(k) && k != SCOPE_COMP;
        }
        return true;
    }
    if (type < PYPARSE_T_KEYWORD)
        return true;
    const char *kw = pyparse_keywords[type - PYPARSE_T_KEYWORD];
    if (strcmp(kw, "return") == 0) {
        int next = i + 1 < t->ntokens ? pyparse_tt(t, i + 1) : PYPARSE_T_NEWLINE;
        if (next != PYPARSE_T_NEWLINE && next != PYPARSE_T_SEMI)
            add_fact(s, c->scope, i, FACT_RETURN_VALUE);
        return (k == SCOPE_FUNC || k == SCOPE_ASYNC_FUNC) && !c->in_except_star;
    }
    if (strcmp(kw, "yield") == 0) {
        if (c->in_annotation)
            return false;       /* 'yield expression' within an annotation */
        if (k == SCOPE_ASYNC_FUNC && is_kw(t, i + 1, "from"))
            return false;
        s->scopes[c->scope].has_yield = true;
        return is_function(k) && k != SCOPE_COMP;
    }
    if (strcmp(kw, "from") == 0 && name_is(t, i + 1, "__future__") && is_kw(t, i + 2, "import"))
        return future_ok(t, i, k, s->not_future, &s->futures);
    if (strcmp(kw, "as") == 0) {
        /* a with item's target, up to ',' ')' or ':' (other 'as' bind names) */
        int depth = 0, end = i + 1;
        for (; end < t->ntokens; end++) {
            int ty = pyparse_tt(t, end);
            if (pyparse_opens(ty))
                depth++;
            else if (pyparse_closes(ty) && depth-- == 0)
                break;
            else if (depth == 0 && (ty == PYPARSE_T_COMMA || ty == PYPARSE_T_COLON ||
                                    ty == PYPARSE_T_NEWLINE))
                break;
        }
        return !stores_debug_attribute(t, i + 1, end);
    }
    if (strcmp(kw, "break") == 0 || strcmp(kw, "continue") == 0)
        return c->in_loop && !c->loop_in_except_star;
    if (strcmp(kw, "import") == 0 && i + 1 < t->ntokens && pyparse_tt(t, i + 1) == PYPARSE_T_STAR)
        return k == SCOPE_MODULE;
    return true;
}

static bool
scan_tokens(struct sem *s, int from, int to, const struct ctx *c)
{
    for (int i = from; i < to; i++)
        if (!check_token(s, i, c))
            return false;
    return true;
}

/* Tokens [from, to): those in [in_from, in_to) in ctx in, the others in c. */
static bool
scan_tokens_split(struct sem *s, int from, int to, const struct ctx *c, const struct ctx *in,
                  int in_from, int in_to)
{
    int a = from > in_from ? from : in_from, b = to < in_to ? to : in_to;
    if (a >= b)
        return scan_tokens(s, from, to, c);
    return scan_tokens(s, from, a, c) && scan_tokens(s, a, b, in) && scan_tokens(s, b, to, c);
}

/* Tokens [from, to) holding some of the children of nd: tokens in c,
 * children by their own rules in c. */
static bool
scan(struct sem *s, const struct pyparse_node *nd, int from, int to, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    int i = from;
    /* children are in token order: start at the first one in range */
    int lo = 0, hi = nd->nkids;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (t->nodes[t->kids[nd->kid + mid]].first < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int k = lo; k < nd->nkids; k++) {
        int id = t->kids[nd->kid + k];
        const struct pyparse_node *child = &t->nodes[id];
        if (child->first >= to)
            break;
        if (!scan_tokens(s, i, child->first, c) || !visit(s, id, c))
            return false;
        if (child->end > i)
            i = child->end;
    }
    return scan_tokens(s, i, to, c);
}

/* c, for the tokens of an annotation: under "from __future__ import
 * annotations" (in force, or imported by this statement, which must then
 * start with it) they form a block of their own, where yield, await and
 * := are errors (symtable.c, symtable_visit_annotation). */
static struct ctx
annotation(const struct sem *s, const struct ctx *c)
{
    struct ctx a = *c;
    a.in_annotation = ((s->t->futures | s->futures) & PYPARSE_FUTURE_ANNOTATIONS) != 0;
    return a;
}

/* The first token in [from, to) outside brackets whose type is one of
 * a, b (or any augmented assignment when aug), or to. */
static int
find_outside(const struct pyparse_tree *t, int from, int to, int a, int b, bool aug)
{
    int depth = 0;
    for (int i = from; i < to; i++) {
        int type = pyparse_tt(t, i);
        if (pyparse_opens(type))
            depth++;
        else if (pyparse_closes(type))
            depth--;
        else if (depth == 0 && (type == a || type == b ||
                                (aug && type >= PYPARSE_T_PLUSEQUAL &&
                                 type <= PYPARSE_T_DOUBLESTAREQUAL) ||
                                (aug && (type == PYPARSE_T_DOUBLESLASHEQUAL ||
                                         type == PYPARSE_T_ATEQUAL))))
            return i;
    }
    return to;
}

/* Does the target list in tokens [from, to) store to an attribute named
 * __debug__ (compile.c, forbidden_name for an Attribute in a Store
 * context)? The target's own attribute: not one inside a subscript or a
 * call of the target, nor one followed by more trailers. */
static bool
stores_debug_attribute(const struct pyparse_tree *t, int from, int to)
{
    bool trailer[PYPARSE_MAXLEVEL + 1];
    int depth = 0, trailers = 0;
    for (int i = from; i < to; i++) {
        int type = pyparse_tt(t, i);
        if (pyparse_opens(type)) {
            int prev = i > from ? pyparse_tt(t, i - 1) : PYPARSE_T_OP;
            bool is_trailer = prev == PYPARSE_T_NAME || prev == PYPARSE_T_RPAR ||
                              prev == PYPARSE_T_RSQB || prev == PYPARSE_T_STRING ||
                              prev == PYPARSE_T_NUMBER;
            if (depth <= PYPARSE_MAXLEVEL)
                trailer[depth] = is_trailer;
            depth++;
            trailers += is_trailer;
        }
        else if (pyparse_closes(type) && depth > 0) {
            depth--;
            if (depth <= PYPARSE_MAXLEVEL && trailer[depth])
                trailers--;
        }
        else if (trailers == 0 && i > from && pyparse_tt(t, i - 1) == PYPARSE_T_DOT &&
                 name_is(t, i, "__debug__")) {
            int next = i + 1 < to ? pyparse_tt(t, i + 1) : PYPARSE_T_EQUAL;
            if (next != PYPARSE_T_DOT && next != PYPARSE_T_LPAR && next != PYPARSE_T_LSQB)
                return true;
        }
    }
    return false;
}

static struct ctx
inner(struct sem *s, const struct ctx *c, enum scope_kind kind)
{
    /* a scope nested in a comprehension iterable is in it too */
    struct ctx in = { new_scope(s, kind, c->scope), false, c->in_iterable, NULL, false, false,
                      false, 0 };      /* a new compiler unit: no blocks yet */
    return in;
}

/* A def or class: its body (the last block) is the new scope, and so are
 * the parameters; defaults, annotations and bases belong to the outer. */
static bool
visit_def(struct sem *s, const struct pyparse_node *nd, const struct ctx *c, enum scope_kind kind)
{
    const struct pyparse_tree *t = s->t;
    struct ctx body = inner(s, c, kind);
    if (body.scope < 0)
        return false;
    /* the return annotation: after '->', up to the ':' before the body */
    int ann_from = nd->end, ann_to = nd->end;
    const struct pyparse_node *last = nd->nkids ? &t->nodes[t->kids[nd->kid + nd->nkids - 1]] : NULL;
    int header_end = last && last->rule == pyparse_rule_block ? last->first : nd->end;
    int arrow = find_outside(t, nd->first, header_end, PYPARSE_T_RARROW, -1, false);
    if (arrow < header_end) {
        ann_from = arrow + 1;
        ann_to = find_outside(t, ann_from, header_end, PYPARSE_T_COLON, -1, false);
    }
    struct ctx ann = annotation(s, c);
    int i = nd->first;
    for (int k = 0; k < nd->nkids; k++) {
        int id = t->kids[nd->kid + k];
        const struct pyparse_node *child = &t->nodes[id];
        bool in_ann = child->first >= ann_from && child->first < ann_to;
        if (!scan_tokens_split(s, i, child->first, c, &ann, ann_from, ann_to))
            return false;
        if (child->rule == pyparse_rule_block && k == nd->nkids - 1) {
            if (!visit(s, id, &body))
                return false;
        }
        else if (child->rule == pyparse_rule_param ||
                 child->rule == pyparse_rule_param_star_annotation) {
            add_fact(s, body.scope, child->first, FACT_PARAM);
            if (!scan(s, child, child->first + 1, child->end, &ann))
                return false;
        }
        else if (!visit(s, id, in_ann ? &ann : c)) {
            return false;
        }
        i = child->end;
    }
    /* the name after 'def' or 'class' */
    int name = nd->first + 1 + (pyparse_tt(t, nd->first) == PYPARSE_T_ASYNC);
    add_fact(s, c->scope, name, FACT_BIND);
    return scan_tokens_split(s, i, nd->end, c, &ann, ann_from, ann_to);
}

/* lambda params: body -- the body starts after the ':' that belongs to
 * this lambda (lambdas in its defaults have their own). */
static bool
visit_lambda(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    int depth = 0, pending = 1, colon = nd->end;
    for (int i = nd->first + 1; i < nd->end; i++) {
        int type = pyparse_tt(t, i);
        if (type == PYPARSE_T_LPAR || type == PYPARSE_T_LSQB || type == PYPARSE_T_LBRACE)
            depth++;
        else if (type == PYPARSE_T_RPAR || type == PYPARSE_T_RSQB || type == PYPARSE_T_RBRACE)
            depth--;
        else if (depth == 0 && is_kw(t, i, "lambda"))
            pending++;
        else if (depth == 0 && type == PYPARSE_T_COLON && --pending == 0) {
            colon = i;
            break;
        }
    }
    struct ctx body = inner(s, c, SCOPE_LAMBDA);
    if (body.scope < 0)
        return false;
    for (int k = 0; k < nd->nkids; k++) {
        const struct pyparse_node *child = &t->nodes[t->kids[nd->kid + k]];
        if (child->rule == pyparse_rule_lambda_param && child->first < colon) {
            add_fact(s, body.scope, child->first, FACT_PARAM);
            if (s->collect_uses)
                s->not_use[child->first] = 1;
        }
    }
    return scan(s, nd, nd->first, colon, c) && scan(s, nd, colon, nd->end, &body);
}

static bool
visit_comp(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    bool async = false;
    struct ctx in = inner(s, c, SCOPE_COMP);
    if (in.scope < 0)
        return false;
    in.comp_async = &async;
    /* Cut at the comprehension's own 'for', 'in', 'if' and 'async': what
     * follows an 'in' up to the next of them is an iterable, where := is
     * not allowed. */
    const struct pyparse_tree *t = s->t;
    int depth = 0, from = nd->first;
    bool after_for = false, first_iterable = false, first_done = false;
    /* The first iterable is evaluated in the enclosing scope (symtable.c:
     * it is visited before the comprehension's block is entered), though
     * := is no more allowed there than in the others. */
    struct ctx outer = *c;
    outer.in_iterable = true;
    for (int i = nd->first; i <= nd->end; i++) {
        int type = i < nd->end ? pyparse_tt(t, i) : PYPARSE_T_ENDMARKER;
        bool cut = false;
        if (i == nd->end)
            cut = true;
        else if (type == PYPARSE_T_LPAR || type == PYPARSE_T_LSQB || type == PYPARSE_T_LBRACE)
            depth++;
        else if (type == PYPARSE_T_RPAR || type == PYPARSE_T_RSQB || type == PYPARSE_T_RBRACE)
            depth--;
        else if (depth == 1 && (is_kw(t, i, "for") || is_kw(t, i, "if") ||
                                type == PYPARSE_T_ASYNC || (after_for && is_kw(t, i, "in"))))
            cut = true;
        if (!cut)
            continue;
        if (!scan(s, nd, from, i, first_iterable ? &outer : &in))
            return false;
        from = i;
        first_iterable = !first_done && after_for && is_kw(t, i, "in");
        first_done |= first_iterable;
        in.in_iterable = c->in_iterable || (after_for && is_kw(t, i, "in"));
        if (is_kw(t, i, "for"))
            after_for = true;
        else if (is_kw(t, i, "in"))
            after_for = false;
    }
    if (async && nd->rule != pyparse_rule_genexp) {
        enum scope_kind k = kind_of(s, c);
        return may_await(s, k) || k == SCOPE_COMP;
    }
    return true;
}

/* for/while: break and continue belong to the body, not to the else. */
static bool
visit_loop(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    if (pyparse_tt(t, nd->first) == PYPARSE_T_ASYNC && !may_await(s, kind_of(s, c)))
        return false;
    if (c->blocks + 1 > MAX_BLOCKS)
        return false;
    struct ctx body = *c;
    body.in_loop = true;
    body.loop_in_except_star = false;   /* break and continue end this loop */
    body.blocks = c->blocks + 1;
    int i = nd->first;
    bool body_seen = false;
    for (int k = 0; k < nd->nkids; k++) {
        int id = t->kids[nd->kid + k];
        const struct pyparse_node *child = &t->nodes[id];
        if (!scan_tokens(s, i, child->first, c))
            return false;
        bool is_body = !body_seen && child->rule == pyparse_rule_block;
        body_seen |= is_body;
        if (!visit(s, id, is_body ? &body : c))
            return false;
        i = child->end;
    }
    return scan_tokens(s, i, nd->end, c);
}

/* Visits nd's children, those of the given rules in their own contexts
 * (NULL: c), its tokens in c. */
static bool
visit_kids(struct sem *s, const struct pyparse_node *nd, const struct ctx *c,
           const struct ctx *(*ctx_of)(const struct pyparse_node *, void *), void *data)
{
    const struct pyparse_tree *t = s->t;
    int i = nd->first;
    for (int k = 0; k < nd->nkids; k++) {
        int id = t->kids[nd->kid + k];
        const struct pyparse_node *child = &t->nodes[id];
        if (!scan_tokens(s, i, child->first, c))
            return false;
        const struct ctx *in = ctx_of(child, data);
        if (!visit(s, id, in ? in : c))
            return false;
        i = child->end;
    }
    return scan_tokens(s, i, nd->end, c);
}

static const struct ctx *
with_body(const struct pyparse_node *child, void *data)
{
    return child->rule == pyparse_rule_block ? data : NULL;
}

/* with: a block per item around the body. */
static bool
visit_with(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    int items = 0;
    for (int k = 0; k < nd->nkids; k++)
        items += t->nodes[t->kids[nd->kid + k]].rule == pyparse_rule_with_item;
    if (c->blocks + items > MAX_BLOCKS)
        return false;
    struct ctx body = *c;
    body.blocks = c->blocks + items;
    return visit_kids(s, nd, c, with_body, &body);
}

struct try_parts {
    struct ctx body, handler, orelse, final;
};

static const struct ctx *
try_part(const struct pyparse_node *child, void *data)
{
    struct try_parts *p = data;
    if (child->rule == pyparse_rule_block)
        return &p->body;
    if (child->rule == pyparse_rule_except_block || child->rule == pyparse_rule_except_star_block)
        return &p->handler;
    if (child->rule == pyparse_rule_else_block)
        return &p->orelse;
    if (child->rule == pyparse_rule_finally_block)
        return &p->final;
    return NULL;
}

/* try: its body in a block (and one more under a finally), its handlers
 * in two, its else and finally blocks under the finally's. */
static bool
visit_try(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    bool handlers = false, final = false;
    for (int k = 0; k < nd->nkids; k++) {
        int r = t->nodes[t->kids[nd->kid + k]].rule;
        handlers |= r == pyparse_rule_except_block || r == pyparse_rule_except_star_block;
        final |= r == pyparse_rule_finally_block;
    }
    int f = final ? 1 : 0;
    if (c->blocks + f + (handlers ? 2 : 0) > MAX_BLOCKS)
        return false;
    struct try_parts p = { *c, *c, *c, *c };
    p.body.blocks = c->blocks + f + (handlers ? 1 : 0);
    p.handler.blocks = c->blocks + f + 2;
    p.orelse.blocks = c->blocks + f;
    p.final.blocks = c->blocks + 1;
    return visit_kids(s, nd, c, try_part, &p);
}

/* The scope a walrus binds in: out of comprehensions. */
static int
walrus_scope(const struct sem *s, int scope)
{
    while (s->scopes[scope].kind == SCOPE_COMP && s->scopes[scope].parent >= 0)
        scope = s->scopes[scope].parent;
    return scope;
}

/* Nodes that bind or declare names, then their tokens as usual. */
static void
record_names(struct sem *s, const struct pyparse_node *nd, const struct ctx *c)
{
    const struct pyparse_tree *t = s->t;
    int r = nd->rule;
    int n = nd->end - nd->first;
    if (r == pyparse_rule_star_atom || r == pyparse_rule_single_target ||
        r == pyparse_rule_del_t_atom) {
        if (n == 1)
            add_fact(s, c->scope, nd->first, FACT_BIND);
    }
    else if (r == pyparse_rule_assignment) {
        if (n > 1 && pyparse_tt(t, nd->first + 1) == PYPARSE_T_COLON) {
            add_fact(s, c->scope, nd->first, FACT_BIND);
            add_fact(s, c->scope, nd->first, FACT_ANNOT);
        }
    }
    else if (r == pyparse_rule_assignment_expression) {
        if (c->in_iterable || c->in_annotation)
            s->bad = true;          /* := in a comprehension iterable, an annotation */
        add_fact(s, walrus_scope(s, c->scope), nd->first, FACT_BIND);
        if (s->scopes[c->scope].kind == SCOPE_COMP)
            add_fact(s, c->scope, nd->first, FACT_WALRUS);
    }
    else if (r == pyparse_rule_pattern_capture_target) {
        add_fact(s, c->scope, nd->first, FACT_BIND);
    }
    else if (r == pyparse_rule_dotted_as_name || r == pyparse_rule_import_from_as_name) {
        int name = nd->first;
        for (int i = nd->first; i < nd->end; i++)
            if (is_kw(t, i, "as"))
                name = i + 1;
        add_fact(s, c->scope, name, FACT_IMPORT);
    }
    else if (r == pyparse_rule_except_block || r == pyparse_rule_except_star_block) {
        int stop = nd->nkids ? t->nodes[t->kids[nd->kid]].first : nd->end;
        for (int i = nd->first; i < stop; i++)
            if (is_kw(t, i, "as"))
                add_fact(s, c->scope, i + 1, FACT_BIND);
    }
    else if (r == pyparse_rule_global_stmt || r == pyparse_rule_nonlocal_stmt) {
        enum fact_kind k = r == pyparse_rule_global_stmt ? FACT_GLOBAL : FACT_NONLOCAL;
        for (int i = nd->first + 1; i < nd->end; i++)
            add_fact(s, c->scope, i, k);
    }
}

/* The tokens of nd at bracket depth 0 that are not in a child node:
 * counts of commas and of stars that start an element, and the keyword
 * names (NAME '=') of an argument list. */
struct shape {
    int commas, stars;
    int before_star;            /* elements before the first starred one */
    bool first_is_star;
    bool bad_keyword;           /* repeated, or __debug__ */
    int *keywords;              /* token indices of the keyword names */
    int nkeywords, keywords_cap;
};

static int
token_cmp(const void *a, const void *b, void *arg)
{
    return name_cmp(arg, *(const int *)a, *(const int *)b);
}

static void
measure(const struct sem *s, const struct pyparse_node *nd, struct shape *sh)
{
    const struct pyparse_tree *t = s->t;
    int depth = 0, k = 0;
    bool element_start = true;
    memset(sh, 0, sizeof *sh);
    for (int i = nd->first; i < nd->end; i++) {
        while (k < nd->nkids && t->nodes[t->kids[nd->kid + k]].end <= i)
            k++;
        if (k < nd->nkids && t->nodes[t->kids[nd->kid + k]].first <= i) {
            i = t->nodes[t->kids[nd->kid + k]].end - 1;
            element_start = false;
            continue;
        }
        int type = pyparse_tt(t, i);
        if (type == PYPARSE_T_LPAR || type == PYPARSE_T_LSQB || type == PYPARSE_T_LBRACE)
            depth++;
        else if (type == PYPARSE_T_RPAR || type == PYPARSE_T_RSQB || type == PYPARSE_T_RBRACE)
            depth--;
        if (depth != 0) {
            element_start = false;
            continue;
        }
        if (type == PYPARSE_T_STAR && element_start) {
            if (sh->stars == 0)
                sh->before_star = sh->commas;
            sh->stars++;
            if (i == nd->first)
                sh->first_is_star = true;
        }
        if (type == PYPARSE_T_COMMA)
            sh->commas++;
        if (type == PYPARSE_T_NAME && element_start && i + 1 < nd->end &&
            pyparse_tt(t, i + 1) == PYPARSE_T_EQUAL && nd->rule == pyparse_rule_arguments) {
            if (name_is(t, i, "__debug__"))
                sh->bad_keyword = true;
            if (sh->nkeywords == sh->keywords_cap) {
                int cap = sh->keywords_cap ? sh->keywords_cap * 2 : 16;
                int *k2 = realloc(sh->keywords, (size_t)cap * sizeof *k2);
                if (!k2) {
                    sh->bad_keyword = true;
                    continue;
                }
                sh->keywords = k2;
                sh->keywords_cap = cap;
            }
            sh->keywords[sh->nkeywords++] = i;
        }
        element_start = type == PYPARSE_T_COMMA;
    }
}

/* Starred targets and values, keyword arguments (compile.c). */
static bool
shape_ok(const struct sem *s, const struct pyparse_node *nd)
{
    int r = nd->rule;
    struct shape sh;
    /* one starred target, after fewer than 256 others: "too many
     * expressions in star-unpacking assignment" (compile.c) */
    if (r == pyparse_rule_star_targets) {
        measure(s, nd, &sh);
        return sh.stars <= 1 && (sh.stars == 0 || (sh.commas > 0 && sh.before_star < 256));
    }
    if (r == pyparse_rule_star_targets_tuple_seq || r == pyparse_rule_star_targets_list_seq) {
        measure(s, nd, &sh);
        return sh.stars <= 1 && (sh.stars == 0 || sh.before_star < 256);
    }
    if (r == pyparse_rule_star_expressions) {
        measure(s, nd, &sh);
        return !(sh.first_is_star && sh.commas == 0);
    }
    if (r == pyparse_rule_arguments) {
        measure(s, nd, &sh);
        if (sh.nkeywords > 1)
            qsort_r(sh.keywords, (size_t)sh.nkeywords, sizeof *sh.keywords, token_cmp,
                    (void *)s->t);
        for (int i = 1; i < sh.nkeywords; i++)
            if (name_cmp(s->t, sh.keywords[i - 1], sh.keywords[i]) == 0)
                sh.bad_keyword = true;      /* keyword argument repeated */
        free(sh.keywords);
        return !sh.bad_keyword;
    }
    return true;
}

static bool
visit(struct sem *s, int node, const struct ctx *c)
{
    const struct pyparse_node *nd = &s->t->nodes[node];
    int r = nd->rule;
    if (s->nomem)
        return false;
    if (r == pyparse_rule_function_def_raw)
        return visit_def(s, nd, c,
                         pyparse_tt(s->t, nd->first) == PYPARSE_T_ASYNC ? SCOPE_ASYNC_FUNC : SCOPE_FUNC);
    if (r == pyparse_rule_class_def_raw)
        return visit_def(s, nd, c, SCOPE_CLASS);
    if (r == pyparse_rule_lambdef)
        return visit_lambda(s, nd, c);
    if (r == pyparse_rule_listcomp || r == pyparse_rule_setcomp || r == pyparse_rule_dictcomp ||
        r == pyparse_rule_genexp)
        return visit_comp(s, nd, c);
    if (r == pyparse_rule_for_stmt || r == pyparse_rule_while_stmt)
        return visit_loop(s, nd, c);
    if (r == pyparse_rule_match_stmt && !pyparse_pat_check(s->t, nd))
        return false;
    if (r == pyparse_rule_try_stmt) {
        /* default 'except:' must be last */
        bool bare_seen = false;
        for (int k = 0; k < nd->nkids; k++) {
            const struct pyparse_node *child = &s->t->nodes[s->t->kids[nd->kid + k]];
            if (child->rule != pyparse_rule_except_block)
                continue;
            if (bare_seen)
                return false;
            bare_seen = pyparse_tt(s->t, child->first + 1) == PYPARSE_T_COLON;
        }
        return visit_try(s, nd, c);
    }
    if (r == pyparse_rule_with_stmt)
        return visit_with(s, nd, c);
    if (!shape_ok(s, nd))
        return false;
    if (r == pyparse_rule_star_targets && stores_debug_attribute(s->t, nd->first, nd->end))
        return false;               /* cannot assign to __debug__ */
    if (s->collect_uses && (r == pyparse_rule_match_stmt || r == pyparse_rule_case_block ||
                            r == pyparse_rule_wildcard_pattern))
        s->not_use[nd->first] = 1;      /* 'match', 'case', '_' */
    record_names(s, nd, c);
    if (s->bad)
        return false;
    if (r == pyparse_rule_except_star_block) {
        /* 'break', 'continue' and 'return' cannot appear in an except*
         * block (compile.c): its body, after the header */
        struct ctx handler = *c;
        handler.in_except_star = handler.loop_in_except_star = true;
        int body = nd->nkids ? s->t->nodes[s->t->kids[nd->kid + nd->nkids - 1]].first : nd->end;
        return scan(s, nd, nd->first, body, c) && scan(s, nd, body, nd->end, &handler);
    }
    if (r == pyparse_rule_assignment) {
        /* target ':' annotation ['=' value]: the ':' comes before any '='
         * or augmented assignment outside brackets */
        int colon = find_outside(s->t, nd->first, nd->end, PYPARSE_T_COLON, PYPARSE_T_EQUAL, true);
        if (colon < nd->end && pyparse_tt(s->t, colon) == PYPARSE_T_COLON) {
            if (stores_debug_attribute(s->t, nd->first, colon))
                return false;
            int eq = find_outside(s->t, colon + 1, nd->end, PYPARSE_T_EQUAL, -1, false);
            struct ctx ann = annotation(s, c);
            return scan(s, nd, nd->first, colon + 1, c) && scan(s, nd, colon + 1, eq, &ann) &&
                   scan(s, nd, eq, nd->end, c);
        }
    }
    return scan(s, nd, nd->first, nd->end, c);
}



static bool
is_name_fact(enum fact_kind k)
{
    return k != FACT_RETURN_VALUE && k != FACT_FSTRING;
}

static uint64_t
name_hash(const struct pyparse_tree *t, int scope, int name)
{
    uint64_t h = 14695981039346656037u ^ (uint64_t)scope;  /* FNV-1a */
    for (size_t i = pyparse_ts(t, name), e = pyparse_te(t, name); i < e; i++)
        h = (h ^ (unsigned char)t->buf[i]) * 1099511628211u;
    return h;
}

/* The slot of the group of (scope, name): where it is, or the free slot
 * where it goes. */
static size_t
group_slot(const struct sem *s, int scope, int name, uint64_t hash)
{
    size_t mask = s->nslots - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        int g = s->slots[i];
        if (g < 0)
            return i;
        const struct group *gr = &s->groups[g];
        if (gr->hash == hash && gr->scope == scope && name_cmp(s->t, gr->name, name) == 0)
            return i;
    }
}

/* Groups the name facts by scope and name (hashing their text), noting
 * what each group holds. */
static bool
index_facts(struct sem *s)
{
    s->nslots = 16;
    while (s->nslots < 2 * (size_t)s->nfacts + 2)
        s->nslots *= 2;
    s->slots = malloc(s->nslots * sizeof *s->slots);
    s->groups = malloc((size_t)s->nfacts * sizeof *s->groups + 1);
    if (!s->slots || !s->groups)
        return false;
    memset(s->slots, 0xff, s->nslots * sizeof *s->slots);
    for (int i = 0; i < s->nfacts; i++) {
        const struct fact *f = &s->facts[i];
        if (!is_name_fact(f->kind))
            continue;
        uint64_t hash = name_hash(s->t, f->scope, f->name);
        size_t slot = group_slot(s, f->scope, f->name, hash);
        if (s->slots[slot] < 0) {
            s->slots[slot] = s->ngroups;
            s->groups[s->ngroups++] = (struct group){ f->scope, f->name, hash, 0, 0, -1, -1, -1 };
        }
        struct group *g = &s->groups[s->slots[slot]];
        g->kinds |= (uint16_t)(1u << f->kind);
        if (f->kind == FACT_PARAM)
            g->params++;
        if ((f->kind == FACT_BIND || f->kind == FACT_USE) &&
            (g->first_bind < 0 || f->name < g->first_bind))
            g->first_bind = f->name;
        if (f->kind == FACT_GLOBAL && f->name > g->last_global)
            g->last_global = f->name;
        if (f->kind == FACT_NONLOCAL && f->name > g->last_nonlocal)
            g->last_nonlocal = f->name;
    }
    return true;
}

static bool
has_fact(const struct sem *s, int scope, int name, enum fact_kind kind)
{
    int g = s->slots[group_slot(s, scope, name, name_hash(s->t, scope, name))];
    return g >= 0 && (s->groups[g].kinds & (1u << kind));
}

/* Is name in the set of bound names that scope passes to its children
 * (symtable.c, analyze_block)? */
static bool
bound_for_children(const struct sem *s, int scope, int name, int depth)
{
    const struct scope *sc = &s->scopes[scope];
    if (sc->kind == SCOPE_MODULE || depth > 1000)
        return false;
    bool incoming = sc->parent >= 0 && bound_for_children(s, sc->parent, name, depth + 1);
    if (sc->kind == SCOPE_CLASS)      /* it gives its functions __class__ */
        return incoming || name_is(s->t, name, "__class__");
    if (has_fact(s, scope, name, FACT_GLOBAL))
        return false;
    if (incoming)
        return true;
    return !has_fact(s, scope, name, FACT_NONLOCAL) &&
           (has_fact(s, scope, name, FACT_BIND) || has_fact(s, scope, name, FACT_PARAM) ||
            has_fact(s, scope, name, FACT_IMPORT));
}

/* Facts that conflict within one scope: a parameter twice, a name bound
 * or a parameter before its global declaration, __debug__ bound, := in a
 * class body or rebinding an iteration variable, a return with a value
 * in an async generator. */
static bool
scope_facts_ok(const struct sem *s)
{
    for (int i = 0; i < s->ngroups; i++) {
        const struct group *g = &s->groups[i];
        uint16_t kinds = g->kinds;
        /* used, assigned or annotated before its declaration */
        if (g->first_bind >= 0 && (g->first_bind < g->last_global ||
                                   g->first_bind < g->last_nonlocal))
            return false;
        bool bound = kinds & ((1u << FACT_BIND) | (1u << FACT_PARAM) | (1u << FACT_IMPORT));
        if (g->params > 1 || (bound && name_is(s->t, g->name, "__debug__")))
            return false;
        if ((kinds & (1u << FACT_GLOBAL)) &&
            (kinds & ((1u << FACT_PARAM) | (1u << FACT_NONLOCAL))))
            return false;
        /* annotated name can't be global or nonlocal (but at the top) */
        if ((kinds & (1u << FACT_ANNOT)) &&
            (kinds & ((1u << FACT_GLOBAL) | (1u << FACT_NONLOCAL))) &&
            s->scopes[g->scope].kind != SCOPE_MODULE)
            return false;
        if ((kinds & (1u << FACT_NONLOCAL)) && (kinds & (1u << FACT_PARAM)))
            return false;
    }
    for (int i = 0; i < s->nfacts; i++) {
        const struct fact *f = &s->facts[i];
        if (f->kind == FACT_FSTRING) {
            /* a load in an f-string before a global or nonlocal */
            for (int j = 0; j < s->nfacts; j++) {
                const struct fact *g = &s->facts[j];
                if ((g->kind == FACT_GLOBAL || g->kind == FACT_NONLOCAL) &&
                    g->scope == f->scope && g->name > f->name &&
                    fstring_loads(s->t, f->name, g->name))
                    return false;
            }
        }
        if (f->kind == FACT_WALRUS) {
            int sc = f->scope;
            while (s->scopes[sc].kind == SCOPE_COMP) {
                if (has_fact(s, sc, f->name, FACT_BIND))
                    return false;   /* rebinds an iteration variable */
                sc = s->scopes[sc].parent;
            }
            if (s->scopes[sc].kind == SCOPE_CLASS)
                return false;
        }
        if (f->kind == FACT_RETURN_VALUE && s->scopes[f->scope].kind == SCOPE_ASYNC_FUNC &&
            s->scopes[f->scope].has_yield)
            return false;
    }
    return true;
}

/* nonlocal needs the name bound in an enclosing function. */
static bool
nonlocals_ok(const struct sem *s)
{
    for (int i = 0; i < s->nfacts; i++) {
        const struct fact *f = &s->facts[i];
        if (f->kind != FACT_NONLOCAL)
            continue;
        const struct scope *sc = &s->scopes[f->scope];
        if (sc->kind == SCOPE_MODULE)
            return false;
        if (!bound_for_children(s, sc->parent, f->name, 0))
            return false;
    }
    return true;
}

int
pyparse_sem_check(const struct pyparse_tree *t, bool top_level_await, unsigned *futures)
{
    struct sem s;
    memset(&s, 0, sizeof s);
    s.t = t;
    s.top_level_await = top_level_await;
    s.not_future = t->ntokens;
    for (int j = 0; j < t->ntokens; j++)
        if (is_kw(t, j, "from") && !name_is(t, j + 1, "__future__")) {
            s.not_future = j;
            break;
        }
    for (int j = 0; j < t->ntokens && !s.collect_uses; j++)
        s.collect_uses = is_kw(t, j, "global") || is_kw(t, j, "nonlocal");
    if (s.collect_uses) {
        s.not_use = calloc((size_t)t->ntokens + 1, 1);
        if (!s.not_use) {
            *futures = 0;
            return -1;
        }
    }
    struct ctx module = { new_scope(&s, SCOPE_MODULE, -1), false, false, NULL, false, false,
                          false, 0 };
    bool ok = module.scope >= 0;
    int i = 0;
    for (int k = 0; ok && k < t->ntop; k++) {
        const struct pyparse_node *nd = &t->nodes[t->top[k]];
        ok = scan_tokens(&s, i, nd->first, &module) && visit(&s, t->top[k], &module);
        if (nd->end > i)
            i = nd->end;
    }
    ok = ok && scan_tokens(&s, i, t->ntokens, &module) && !s.nomem;
    if (ok && !index_facts(&s))
        s.nomem = true;
    ok = ok && !s.nomem && nonlocals_ok(&s) && scope_facts_ok(&s);
    free(s.scopes);
    free(s.facts);
    free(s.groups);
    free(s.slots);
    free(s.not_use);
    *futures = s.futures;
    if (s.nomem)
        return -1;
    return ok ? 1 : 0;
}

/* Tokens [from, to) of an f-string expression, holding the nodes ids[0..n),
 * outside the scopes nested in it. */
static unsigned
inner_tokens(const struct pyparse_tree *t, int from, int to, const int *ids, int n, int depth)
{
    unsigned flags = 0;
    int i = from;
    for (int k = 0; k <= n; k++) {
        const struct pyparse_node *child = k < n ? &t->nodes[ids[k]] : NULL;
        int stop = child ? child->first : to;
        for (; i < stop && i < to; i++) {
            if (pyparse_tt(t, i) == PYPARSE_T_AWAIT)
                flags |= PYPARSE_INNER_AWAIT;
            else if (is_kw(t, i, "yield"))
                flags |= is_kw(t, i + 1, "from") ? PYPARSE_INNER_YIELD_FROM : PYPARSE_INNER_YIELD;
            else if (pyparse_tt(t, i) == PYPARSE_T_STRING)
                flags |= t->ptok[i].inner;
        }
        if (!child)
            break;
        int r = child->rule;
        unsigned in = depth < 100 ? inner_tokens(t, child->first, child->end,
                                                 t->kids + child->kid, child->nkids, depth + 1)
                                  : 0;
        if (r == pyparse_rule_listcomp || r == pyparse_rule_setcomp ||
            r == pyparse_rule_dictcomp) {
            bool async = in & (PYPARSE_INNER_AWAIT | PYPARSE_INNER_ASYNC_COMP);
            for (int j = child->first; j < child->end; j++)
                async |= pyparse_tt(t, j) == PYPARSE_T_ASYNC;
            if (async)
                flags |= PYPARSE_INNER_ASYNC_COMP;
        }
        else if (r != pyparse_rule_lambdef && r != pyparse_rule_genexp) {
            flags |= in;            /* lambdas and genexps are scopes of their own */
        }
        if (child->end > i)
            i = child->end;
    }
    return flags;
}

unsigned
pyparse_sem_inner(const struct pyparse_tree *t)
{
    return inner_tokens(t, 0, t->ntokens, t->top, t->ntop, 0);
}
