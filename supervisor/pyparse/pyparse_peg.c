/* PEG interpreter for the grammar tables of pyparse_gram.c, behaving as
 * CPython 3.11's generated parser does in its first pass: tokens fetched
 * lazily, memoised rules, left recursion grown from a seed, cuts, forced
 * tokens, and an error that stops everything once raised. The result that
 * matters is whether the parse failed with the tokenizer at the end.
 *
 * The tokens come ready made (struct pyparse_view, each with the
 * tokenizer's state just after it), so "fetching" a token is a copy, and
 * the state of the tokenizer when the parse stopped is that of the last
 * token fetched.
 *
 * An alternative whose first set (gen_gram.py) does not hold the current
 * token is not tried: trying it would fail on that token without reading
 * further, raising anything or committing a cut, so only the failure
 * memos it would leave behind are missing, and those only save time. The
 * one other effect of trying is the parser's stack limit, which a call
 * deep enough can hit: near the limit every alternative is tried.
 *
 * Memos outlive a run (struct pyparse_scratch): a push loop parses a
 * growing buffer again and again, and its first tokens (a view's head)
 * never change. A memo whose rule read nothing past the head of its run
 * ("kept") holds in every later run of the same buffer, whose heads only
 * grow: the next run of the same mode takes over the parser's tokens,
 * memos and nodes up to the previous head, and reads the rest afresh. A
 * memo from an earlier run is used only when its rule could not have hit
 * the stack limit either way, and never after a run that raised an error
 * (its left-recursive seeds may be half grown): then everything starts
 * over.
 *
 * Each match also has a depth: the levels of AST nodes CPython would
 * build for it (matched(), with the levels of each alternative from
 * gen_gram.py), kept in its memo, so that a tree too deep for the
 * compiler (PYPARSE_AST_DEPTH_MAX) is an error without building it. */
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

/* CPython's MAXSTACK: past it the parser raises MemoryError. */
#define PARSER_MAXSTACK 6000
/* How often (rule calls) the cancel flag is read: a rule call costs tens
 * of nanoseconds, so this is well under a millisecond. */
#define CANCEL_EVERY 4096
/* The work counted (pyparse_run_info.calls) is in rule calls: checking a
 * string literal costs about one per STRING_BYTES_PER_CALL bytes, a memo
 * of an earlier run (out of the caches, mostly) about REUSE_CALLS, and
 * the compile-stage checks about one a token. */
#define STRING_BYTES_PER_CALL 16
#define REUSE_CALLS 4

/* A memoised result of a rule at a token position; the memos of one
 * position are chained from its token, most recent first. */
struct memo {
    int next;               /* index in parser.memo, -1 at the end */
    int end;
    int kid;                /* the tree nodes the match left, in kids */
    uint32_t nkids : 24;
    uint32_t bit : 6;       /* its rule's memo_bit */
    uint32_t ok : 1;
    uint32_t kept : 1;      /* its rule read only tokens of the run's head */
    uint32_t run : 16;      /* the run that made it (they wrap: RUNS_MAX) */
    uint32_t depth : 16;    /* AST levels of the match, up to DEPTH_MAX */
};
#define MEMO_KIDS_MAX ((1 << 24) - 1)
/* Past this many runs a scratch starts over, so that no memo outlives its
 * run number. */
#define RUNS_MAX 0xffff
/* AST depth is counted up to here: far past the compiler's limit. */
#define DEPTH_MAX 0xffff

enum parser_error {
    PERR_NONE, PERR_SYNTAX, PERR_OTHER, PERR_INCOMPLETE_MSG, PERR_CANCEL, PERR_NOMEM,
};

struct parser {
    const struct pyparse_view *view;
    const char *buf;
    struct pyparse_ptok *toks;
    int fill;
    size_t cap;
    int mark;
    int level;
    enum parser_error error;
    bool single_input;
    bool top_level_await;
    bool barry;             /* CO_FUTURE_BARRY_AS_BDFL */
    bool parsing_started;
    struct memo *memo;
    int nmemo;
    size_t memo_cap;
    struct pyparse_node *nodes;
    int nnodes;
    size_t nodes_cap;
    int *kids;              /* append-only lists of node ids */
    int nkids;
    size_t kids_cap;
    int *stack;             /* nodes made by the matches in progress */
    int nstack;
    size_t stack_cap;
    const atomic_int *cancel;
    uint64_t ticks;
    /* the left-recursive rule growing at lr_pos, and its seed so far */
    int lr_rule, lr_pos, lr_end;
    bool lr_ok;
    /* earlier runs: tokens [0, reused) and their kept memos stand */
    int reused;
    int inited;             /* token entries set up: [0, inited) */
    uint32_t run;
    int head;               /* tokens of this run's head */
    int earlier_level;      /* the deepest the earlier runs went */
    int max_level;          /* the deepest this run went */
    /* AST depth (see matched): the deepest result among the items the
     * current alternative matched so far, and that of the last match */
    int depth_acc, depth_last;
};

/* An alternative matched: its result is levels AST levels (gen_gram.py's
 * ast_levels) above the deepest of its items'. The depth is what
 * CPython's symtable and AST optimizer count against the recursion limit,
 * whose RecursionError codeop reports. outer is the depth the caller's
 * alternative had before the rule was called. */
static inline void
matched(struct parser *p, int outer, int levels)
{
    int d = p->depth_acc + levels;
    if (d > DEPTH_MAX)
        d = DEPTH_MAX;
    p->depth_last = d;
    p->depth_acc = d > outer ? d : outer;
}

/* A rule's match taken from its memo: as if it had just matched. */
static inline void
matched_memo(struct parser *p, const struct memo *m)
{
    p->depth_last = (int)m->depth;
    if ((int)m->depth > p->depth_acc)
        p->depth_acc = (int)m->depth;
}

static bool
grow(struct parser *p, void **arr, size_t *cap, int need, size_t elem)
{
    if ((size_t)need <= *cap)
        return true;
    if (need > (1 << 29)) {
        p->error = PERR_OTHER;      /* beyond any sane input: MemoryError */
        return false;
    }
    if (pyparse_array_grow(arr, cap, (size_t)need, elem) < 0) {
        p->error = PERR_NOMEM;
        return false;
    }
    return true;
}

static bool
stack_push(struct parser *p, int node)
{
    if (!grow(p, (void **)&p->stack, &p->stack_cap, p->nstack + 1, sizeof *p->stack))
        return false;
    p->stack[p->nstack++] = node;
    return true;
}

/* Copies stack[from..top) to the kids array; returns its index there. */
static int
save_kids(struct parser *p, int from)
{
    int n = p->nstack - from;
    if (n == 0)
        return p->nkids;
    if (n > MEMO_KIDS_MAX) {
        p->error = PERR_OTHER;      /* beyond any sane input: MemoryError */
        return -1;
    }
    if (!grow(p, (void **)&p->kids, &p->kids_cap, p->nkids + n, sizeof *p->kids))
        return -1;
    memcpy(p->kids + p->nkids, p->stack + from, (size_t)n * sizeof *p->kids);
    p->nkids += n;
    return p->nkids - n;
}

static bool
replay_kids(struct parser *p, int kid, int n)
{
    if (n == 0)
        return true;
    if (!grow(p, (void **)&p->stack, &p->stack_cap, p->nstack + n, sizeof *p->stack))
        return false;
    memcpy(p->stack + p->nstack, p->kids + kid, (size_t)n * sizeof *p->kids);
    p->nstack += n;
    return true;
}

/* The alternative of a node rule matched tokens [start, mark): its node
 * takes the nodes made meanwhile as children. */
static bool
make_node(struct parser *p, int rule, int start, int from)
{
    int kid = save_kids(p, from);
    if (kid < 0 || !grow(p, (void **)&p->nodes, &p->nodes_cap, p->nnodes + 1, sizeof *p->nodes))
        return false;
    p->nodes[p->nnodes] = (struct pyparse_node){ rule, start, p->mark, kid, p->nstack - from };
    p->nstack = from;
    return stack_push(p, p->nnodes++);
}

/* The view's token i: past its end, the ENDMARKER the tokenizer keeps
 * returning there. */
static const struct pyparse_token *
view_token(const struct parser *p, int i)
{
    const struct pyparse_view *v = p->view;
    if ((size_t)i < v->nhead)
        return &v->head[i];
    size_t k = (size_t)i - v->nhead;
    return &v->tail[k < v->ntail ? k : v->ntail - 1];
}

const struct pyparse_token *
pyparse_tree_token(const struct pyparse_tree *t, int i)
{
    const struct pyparse_view *v = t->view;
    if ((size_t)i < v->nhead)
        return &v->head[i];
    size_t k = (size_t)i - v->nhead;
    if (v->ntail == 0)
        return &v->head[v->nhead - 1];
    return &v->tail[k < v->ntail ? k : v->ntail - 1];
}

static bool
fill_token(struct parser *p)
{
    if (p->fill < p->reused) {
        /* a head token of an earlier run: its entry and memos stand */
        p->fill++;
        p->parsing_started = true;
        return true;
    }
    if ((size_t)p->fill == p->cap && !grow(p, (void **)&p->toks, &p->cap, p->fill + 1, sizeof *p->toks))
        return false;
    int type = view_token(p, p->fill)->type;
    /* 'single' input: the first ENDMARKER becomes the NEWLINE that ends
     * the statement (with PyCF_DONT_IMPLY_DEDENT, no DEDENTs with it). */
    if (p->single_input && type == PYPARSE_T_ENDMARKER && p->parsing_started) {
        type = PYPARSE_T_NEWLINE;
        p->parsing_started = false;
    }
    else {
        p->parsing_started = true;
    }
    struct pyparse_ptok *t = &p->toks[p->fill++];
    if (p->fill > p->inited)
        p->inited = p->fill;
    t->type = (uint8_t)type;
    t->memo = -1;
    t->memo_mask = 0;
    t->number_checked = 0;
    t->inner = 0;
    if (type == PYPARSE_T_ERROR) {
        p->error = PERR_SYNTAX;
        return false;
    }
    return true;
}

/* The token at the current position, fetching it if needed. */
static inline struct pyparse_ptok *
peek(struct parser *p)
{
    if (p->mark == p->fill && !fill_token(p))
        return NULL;
    return &p->toks[p->mark];
}

static const char *
token_text(const struct parser *p, int i, size_t *n)
{
    const struct pyparse_token *t = view_token(p, i);
    *n = t->end - t->start;
    return p->buf + t->start;
}

/* The memo at pos of the rule with this memo_bit, or NULL: one of this
 * run, or a kept one of an earlier run. (A chain may also hold memos of
 * earlier runs that read past their head: those are dead.) A memo of an
 * earlier run stands for the tokens its rule fetched: the fetched count
 * covers them. */
static inline struct memo *
memo_find_bit(struct parser *p, int pos, int bit)
{
    struct pyparse_ptok *t = &p->toks[pos];
    if (!(t->memo_mask & (UINT32_C(1) << bit)))
        return NULL;
    int *link = &t->memo;
    for (int i = *link; i >= 0; i = *link) {
        struct memo *m = &p->memo[i];
        if (m->run != (p->run & RUNS_MAX) && !m->kept) {
            *link = m->next;    /* dead for good: out of the chain */
            continue;
        }
        link = &m->next;
        if (m->bit != bit)
            continue;
        if (m->run == (p->run & RUNS_MAX))
            return m;
        /* kept, and its rule could not have gone past the stack limit
         * from here, whatever level it started from then */
        if (p->level + p->earlier_level + 2 < PARSER_MAXSTACK) {
            if (m->end > p->fill)
                p->fill = m->end;
            p->ticks += REUSE_CALLS;
            return m;
        }
    }
    return NULL;
}

/* The memo of rule at pos, or NULL. */
static inline struct memo *
memo_find(struct parser *p, int pos, int rule)
{
    return memo_find_bit(p, pos, pyparse_rules[rule].memo_bit);
}

/* Adds a memo of rule at pos; earlier struct memo pointers may move. */
static struct memo *
memo_new(struct parser *p, int pos, int rule)
{
    if (!grow(p, (void **)&p->memo, &p->memo_cap, p->nmemo + 1, sizeof *p->memo))
        return NULL;
    struct memo *m = &p->memo[p->nmemo];
    m->bit = pyparse_rules[rule].memo_bit;
    m->run = p->run & RUNS_MAX;
    m->kept = 0;
    m->depth = 0;
    m->next = p->toks[pos].memo;
    p->toks[pos].memo = p->nmemo++;
    p->toks[pos].memo_mask |= UINT32_C(1) << pyparse_rules[rule].memo_bit;
    return m;
}


static bool
number_ok(struct parser *p, struct pyparse_ptok *t)
{
    if (t->number_checked)
        return true;
    size_t n;
    const char *text = token_text(p, p->mark, &n);
    if (pyparse_str_number(text, n) != 0) {
        p->error = PERR_SYNTAX;
        return false;
    }
    t->number_checked = 1;
    return true;
}

static bool
expect_type(struct parser *p, int type)
{
    struct pyparse_ptok *t = peek(p);
    if (!t || t->type != type)
        return false;
    if (type == PYPARSE_T_NUMBER && !number_ok(p, t))
        return false;
    p->mark++;
    return true;
}

static bool
expect_soft(struct parser *p, int soft)
{
    struct pyparse_ptok *t = peek(p);
    if (!t || t->type != PYPARSE_T_NAME)
        return false;
    size_t n = pyparse_soft_keyword_lengths[soft], len;
    const char *text = token_text(p, p->mark, &len);
    if (len != n || memcmp(text, pyparse_soft_keywords[soft], n) != 0)
        return false;
    p->mark++;
    return true;
}

/* Can an alternative or rule with this first set start with the current
 * token? (The token is fetched: trying would fetch it too.) */
/* Far enough from the stack limit for skipping alternatives by first set
 * to hide nothing (see the top of the file). */
static inline bool
may_skip(const struct parser *p)
{
    return p->level + pyparse_first_depth + 2 < PARSER_MAXSTACK;
}

/* Can an alternative or rule whose first set is the bits lo, hi start
 * with the current token? (The token is fetched: trying would fetch it
 * too.) */
static inline bool
may_start_bits(struct parser *p, uint64_t lo, uint64_t hi)
{
    if (p->level + pyparse_first_depth + 2 >= PARSER_MAXSTACK)
        return true;
    struct pyparse_ptok *t = peek(p);
    if (!t)
        return true;        /* the error is set: trying fails at once */
    unsigned type = t->type;
    return ((type < 64 ? lo : hi) >> (type & 63)) & 1;
}

static inline bool
may_start(struct parser *p, int set)
{
    return set == 0 || may_start_bits(p, pyparse_first_sets[set][0], pyparse_first_sets[set][1]);
}

/* An alternative led by a memoised rule (lead, its memo bit) whose memo is
 * here already: it fails when the memo says the rule failed, or when the
 * token after the rule's match cannot start the rest (first set lo, hi;
 * any: anything may) -- the left-recursive rules' growth alternatives,
 * tried at every growth, whose memo the growth loop holds. */
static inline bool
lead_may_match(struct parser *p, int lead, int bit, bool any, uint64_t lo, uint64_t hi)
{
    if (!may_skip(p) || !peek(p))
        return true;
    int end;
    if (lead == p->lr_rule && p->mark == p->lr_pos) {
        if (!p->lr_ok)
            return false;
        end = p->lr_end;
    }
    else {
        struct memo *m = memo_find_bit(p, p->mark, bit);
        if (!m)
            return true;
        if (!m->ok)
            return false;
        end = m->end;
    }
    if (any)
        return true;
    int save = p->mark;
    p->mark = end;
    bool ok = may_start_bits(p, lo, hi);
    p->mark = save;
    return ok;
}

/* Runs an action's check on the tokens the alternative matched. Returns
 * 1 to succeed, 0 when the rule returns NULL, -1 on error. */
static int
apply_action(struct parser *p, int action, int start)
{
    size_t n = 0;
    const char *text = NULL;
    if (action == PYPARSE_A_NOT_LTGT || action == PYPARSE_A_REAL || action == PYPARSE_A_IMAG)
        text = token_text(p, start, &n);
    switch (action) {
    case PYPARSE_A_RAISE:
        p->error = PERR_SYNTAX;
        return -1;
    case PYPARSE_A_FAIL:
        return 0;
    case PYPARSE_A_NOT_LTGT: {
        /* _PyPegen_check_barry_as_flufl */
        bool ltgt = n == 2 && text[0] == '<';
        if (p->barry && !ltgt) {
            p->error = PERR_SYNTAX;     /* "with Barry as BDFL, use '<>'" */
            return -1;
        }
        return p->barry || !ltgt;
    }
    case PYPARSE_A_REAL:
    case PYPARSE_A_IMAG: {
        bool imag = n > 0 && (text[n - 1] == 'j' || text[n - 1] == 'J');
        if (imag != (action == PYPARSE_A_IMAG)) {
            p->error = PERR_SYNTAX;
            return -1;
        }
        return 1;
    }
    case PYPARSE_A_STRINGS: {
        unsigned inner;
        /* the checks read every byte: count them as work, a rule call per
         * STRING_BYTES_PER_CALL bytes */
        size_t bytes = view_token(p, p->mark - 1)->end - view_token(p, start)->start;
        p->ticks += (unsigned)(bytes / STRING_BYTES_PER_CALL);
        int depth;
        int r = pyparse_str_concat(p->view, (size_t)start, (size_t)(p->mark - start),
                                   p->level, &inner, &depth, p->cancel);
        if (r == 0) {
            p->toks[start].inner = (uint8_t)inner;
            if (depth > p->depth_acc)
                p->depth_acc = depth > DEPTH_MAX ? DEPTH_MAX : depth;
            return 1;
        }
        p->error = r == -1 ? PERR_SYNTAX : r == -3 ? PERR_INCOMPLETE_MSG
                 : r == -4 ? PERR_CANCEL : r == -5 ? PERR_NOMEM : PERR_OTHER;
        return -1;
    }
    default:
        return 1;
    }
}

static inline bool
enter(struct parser *p)
{
    if (p->level++ == PARSER_MAXSTACK)
        p->error = PERR_OTHER;
    if (p->level > p->max_level)
        p->max_level = p->level;
    if (++p->ticks % CANCEL_EVERY == 0 && p->cancel &&
        atomic_load_explicit(p->cancel, memory_order_relaxed))
        p->error = PERR_CANCEL;
    if (p->error) {
        p->level--;
        return false;
    }
    return true;
}

/* A repetition runs in a helper function in CPython: one more level. */
static inline bool
enter_helper(struct parser *p)
{
    if (p->level++ == PARSER_MAXSTACK)
        p->error = PERR_OTHER;
    if (p->level > p->max_level)
        p->max_level = p->level;
    if (p->error) {
        p->level--;
        return false;
    }
    return true;
}

/* A forced token (&&':'): anything else is a SyntaxError at once. */
static inline bool
expect_forced(struct parser *p, int type)
{
    struct pyparse_ptok *t = peek(p);
    if (!t)
        return false;
    if (t->type != type) {
        p->error = PERR_SYNTAX;     /* "expected ':'" */
        return false;
    }
    p->mark++;
    return true;
}

/* A rule item: not tried when the current token cannot start the rule;
 * its memo used here when there is one (what the rule would do, without
 * the call: the rule would go a level deeper to look, so only well
 * within the stack limit, and not where its call would read the cancel
 * flag). */
static inline bool
call_rule(struct parser *p, bool any, uint64_t lo, uint64_t hi, int memo_bit,
          bool (*fn)(struct parser *))
{
    if (!any && !may_start_bits(p, lo, hi))
        return false;
    if (memo_bit != 255 && p->mark < p->fill &&
        (p->toks[p->mark].memo_mask & (UINT32_C(1) << memo_bit)) &&
        p->level + 1 < PARSER_MAXSTACK && p->ticks % CANCEL_EVERY != CANCEL_EVERY - 1) {
        struct memo *m = memo_find_bit(p, p->mark, memo_bit);
        if (m) {
            p->ticks++;
            p->mark = m->end;
            if (!m->ok)
                return false;
            matched_memo(p, m);
            return replay_kids(p, m->kid, m->nkids);
        }
    }
    return fn(p);
}

/* A memoised rule: its memo at this position, or its alternatives. */
static bool
memo_rule(struct parser *p, int rule, bool (*alts)(struct parser *))
{
    if (!enter(p))
        return false;
    /* Looking the memo up fetches the token here, as in CPython. */
    if (!peek(p)) {
        p->level--;
        return false;
    }
    struct memo *m = memo_find(p, p->mark, rule);
    if (m) {
        p->mark = m->end;
        p->level--;
        if (!m->ok)
            return false;
        matched_memo(p, m);
        return replay_kids(p, m->kid, m->nkids);
    }
    int start = p->mark;
    int from = p->nstack;
    bool ok = alts(p);
    if (p->error) {
        p->level--;
        return false;
    }
    if (!ok)
        p->mark = start;
    int kid = ok ? save_kids(p, from) : 0;
    m = memo_new(p, start, rule);
    if (m) {
        m->ok = ok;
        m->end = p->mark;
        m->kid = kid;
        m->nkids = ok ? (uint32_t)(p->nstack - from) : 0;
        m->kept = p->fill <= p->head;   /* nothing read past the head */
        m->depth = ok ? (uint32_t)p->depth_last : 0;
    }
    p->level--;
    return ok && m && kid >= 0;
}

/* Can a growth round of a PYPARSE_R_GROW_SELF rule get past end? Only
 * through an alternative led by the rule, whose rest must start there;
 * with none, the round would only match as far as the seed again. */
static bool
may_grow(struct parser *p, int rule, int end)
{
    if (!may_skip(p))
        return true;
    int save = p->mark;
    p->mark = end;
    bool any = may_start(p, pyparse_rules[rule].grow_set);
    p->mark = save;
    return any || p->error;
}

/* A left-recursive rule: its memo, or a seed grown until it stops getting
 * longer, each round trying its alternatives with the memo holding the
 * seed so far. */
static bool
leftrec_rule(struct parser *p, int rule, bool (*alts)(struct parser *))
{
    if (!enter(p))
        return false;
    if (!peek(p)) {
        p->level--;
        return false;
    }
    struct memo *m = memo_find(p, p->mark, rule);
    if (m) {
        p->mark = m->end;
        p->level--;
        if (!m->ok)
            return false;
        matched_memo(p, m);
        return replay_kids(p, m->kid, m->nkids);
    }
    int start = p->mark;
    int from = p->nstack;
    m = memo_new(p, start, rule);
    if (!m) {
        p->level--;
        return false;
    }
    int mi = (int)(m - p->memo);    /* m moves when the table grows */
    m->ok = false;
    m->end = start;
    m->kid = 0;
    m->nkids = 0;
    int resmark = start;
    bool ok = false;
    int lr_rule = p->lr_rule, lr_pos = p->lr_pos, lr_end = p->lr_end;
    bool lr_ok = p->lr_ok;
    bool grow_self = pyparse_rules[rule].flags & PYPARSE_R_GROW_SELF;
    int outer = p->depth_acc;
    for (;;) {
        p->mark = start;
        p->nstack = from;
        p->depth_acc = outer;
        bool raw;
        if (p->level++ == PARSER_MAXSTACK)
            p->error = PERR_OTHER;
        p->lr_rule = rule;
        p->lr_pos = start;
        p->lr_end = resmark;
        p->lr_ok = ok;
        raw = p->error ? false : alts(p);
        p->level--;
        p->lr_rule = lr_rule;
        p->lr_pos = lr_pos;
        p->lr_end = lr_end;
        p->lr_ok = lr_ok;
        if (p->error) {
            p->level--;
            return false;
        }
        if (!raw || p->mark <= resmark)
            break;
        resmark = p->mark;
        ok = true;
        /* The nodes of the seed so far go under one node, or each growth
         * would copy them all again (x(a=1)(a=1)... would be quadratic). */
        if (p->nstack - from > 1 && !make_node(p, PYPARSE_NODE_GROUP, start, from)) {
            p->level--;
            return false;
        }
        int kid = save_kids(p, from);
        if (kid < 0) {
            p->level--;
            return false;
        }
        m = &p->memo[mi];
        m->ok = true;
        m->end = resmark;
        m->kid = kid;
        m->nkids = (uint32_t)(p->nstack - from);
        m->kept = p->fill <= p->head;
        m->depth = (uint32_t)p->depth_last;
        if (grow_self && !may_grow(p, rule, resmark))
            break;
    }
    p->mark = resmark;
    p->nstack = from;
    p->level--;
    m = &p->memo[mi];
    m->kept = p->fill <= p->head;   /* the last round read this far too */
    p->depth_acc = outer;
    if (!ok)
        return false;
    matched_memo(p, m);
    return replay_kids(p, m->kid, m->nkids);
}

/* or_pattern makes a MatchOr node only of two patterns or more: more
 * than its first closed_pattern (a memoised rule, whose match at start
 * is in the memos now) matched. */
static inline int
or_pattern_levels(struct parser *p, int start, int closed_pattern)
{
    const struct memo *m = memo_find(p, start, closed_pattern);
    return m && m->ok && m->end < p->mark;
}

#include "pyparse_rules.inc"

/* After a successful 'single' parse only blanks and comments may follow
 * what the tokenizer read ("multiple statements found"). */
static bool
only_blanks_left(const struct parser *p)
{
    const struct pyparse_view *v = p->view;
    size_t i = p->fill ? view_token(p, p->fill - 1)->end : 0;
    while (i < v->len) {
        char c = v->text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\014') {
            i++;
        }
        else if (c == '#') {
            while (i < v->len && v->text[i] != '\n')
                i++;
        }
        else {
            return false;
        }
    }
    return true;
}

/* Runs the compile-stage checks on the tree of a 'single' parse, or
 * collects what an f-string expression holds into *inner. */
static enum pyparse_result
check_tree(struct parser *p, unsigned mode, struct pyparse_run_info *info)
{
    unsigned futures = 0;
    if (mode & PYPARSE_RUN_BARRY)
        futures |= PYPARSE_FUTURE_BARRY;
    if (mode & PYPARSE_RUN_ANNOTATIONS)
        futures |= PYPARSE_FUTURE_ANNOTATIONS;
    struct pyparse_tree t = { p->buf, p->toks, p->view, p->fill,
                              p->nodes, p->kids, p->stack, p->nstack, futures };
    if (!p->single_input) {
        if (info)
            info->inner = pyparse_sem_inner(&t);
        return PYPARSE_PARSED;
    }
    unsigned found = 0;
    p->ticks += (uint64_t)p->fill;
    int r = pyparse_sem_check(&t, p->top_level_await, &found);
    if (info)
        info->futures = found;
    return r > 0 ? PYPARSE_PARSED : r == 0 ? PYPARSE_SYNTAX_ERROR : PYPARSE_NO_MEMORY;
}

void
pyparse_scratch_forget(struct pyparse_scratch *s)
{
    s->reusable = 0;
    s->runs = 0;
    s->nmemo = s->nnodes = s->nkids = 0;
    s->max_level = 0;
}

void
pyparse_scratch_free(struct pyparse_scratch *s)
{
    pyparse_array_free(s->toks, s->toks_cap, sizeof *s->toks);
    pyparse_array_free(s->memo, s->memo_cap, sizeof(struct memo));
    pyparse_array_free(s->nodes, s->nodes_cap, sizeof *s->nodes);
    pyparse_array_free(s->kids, s->kids_cap, sizeof *s->kids);
    pyparse_array_free(s->stack, s->stack_cap, sizeof *s->stack);
    memset(s, 0, sizeof *s);
}

enum pyparse_result
pyparse_peg_run(const struct pyparse_view *view, int start_rule, unsigned mode, int level,
                struct pyparse_run_info *info, struct pyparse_scratch *scratch,
                const atomic_int *cancel)
{
    struct parser p;
    struct pyparse_scratch own = { 0 };
    struct pyparse_scratch *s = scratch ? scratch : &own;
    memset(&p, 0, sizeof p);
    if (info)
        *info = (struct pyparse_run_info){ view->len + 1, 0, PYPARSE_EOF, 0, 0, 0, 0, 0 };
    if (level >= PARSER_MAXSTACK)
        return PYPARSE_OTHER_ERROR;
    if (view->nhead + view->ntail == 0)
        return PYPARSE_SYNTAX_ERROR;
    p.view = view;
    p.buf = view->text;
    p.toks = s->toks;
    p.cap = s->toks_cap;
    p.memo = s->memo;
    p.memo_cap = s->memo_cap;
    p.nodes = s->nodes;
    p.nodes_cap = s->nodes_cap;
    p.kids = s->kids;
    p.kids_cap = s->kids_cap;
    p.stack = s->stack;
    p.stack_cap = s->stack_cap;
    p.single_input = mode & PYPARSE_RUN_SINGLE;
    p.top_level_await = mode & PYPARSE_RUN_TOP_AWAIT;
    p.barry = mode & PYPARSE_RUN_BARRY;
    p.cancel = cancel;
    /* An f-string's expressions are parsed by a parser of their own; it
     * starts from the levels its parent used, so that all of them
     * together stay within one C stack budget. */
    p.level = level;
    p.lr_rule = -1;
    unsigned mode_key = mode & (PYPARSE_RUN_SINGLE | PYPARSE_RUN_BARRY);
    if (s->reusable > 0 && s->mode == mode_key && s->start_rule == start_rule &&
        (size_t)s->reusable <= view->nhead) {
        p.reused = p.inited = s->reusable;
        p.nmemo = s->nmemo;
        p.nnodes = s->nnodes;
        p.nkids = s->nkids;
        p.earlier_level = s->max_level;
    }
    if (s->runs >= RUNS_MAX)
        pyparse_scratch_forget(s);  /* no memo may outlive its run number */
    p.run = ++s->runs;
    p.head = (int)view->nhead;
    bool ok = rule_functions[start_rule](&p);
    enum pyparse_result res;
    const struct pyparse_token *last = p.fill ? view_token(&p, p.fill - 1) : NULL;
    enum pyparse_done done = last ? (enum pyparse_done)last->done : PYPARSE_OK;
    if (p.error == PERR_CANCEL) {
        res = PYPARSE_RUN_CANCELLED;
    }
    else if (p.error == PERR_NOMEM) {
        res = PYPARSE_NO_MEMORY;
    }
    else if (!ok) {
        if (done == PYPARSE_EOF || done == PYPARSE_EOFS || done == PYPARSE_EOLS)
            res = PYPARSE_INCOMPLETE_INPUT;
        else if (p.error == PERR_OTHER)
            res = PYPARSE_OTHER_ERROR;
        else if (p.error == PERR_INCOMPLETE_MSG)
            res = PYPARSE_INCOMPLETE_INPUT;
        else
            res = PYPARSE_SYNTAX_ERROR;
    }
    else if (p.single_input && !only_blanks_left(&p)) {
        res = PYPARSE_SYNTAX_ERROR;
    }
    else if (p.single_input && p.depth_last > PYPARSE_AST_DEPTH_MAX) {
        res = PYPARSE_OTHER_ERROR;  /* RecursionError from the compiler */
    }
    else {
        res = check_tree(&p, mode, info);
    }
    if (info && last) {
        /* past the view's end the tokenizer read its end again */
        info->max_read = (size_t)p.fill > view->nhead + view->ntail ? view->len + 1 : last->read;
        info->level = last->level;
        info->done = done;
        info->fetched = (size_t)p.fill;
    }
    if (info) {
        info->calls = p.ticks;
        info->depth = ok ? p.depth_last : 0;
    }
    if (p.error) {
        /* left-recursive seeds may be half grown: start over next time */
        pyparse_scratch_forget(s);
    }
    else {
        s->reusable = p.inited < p.head ? p.inited : p.head;
        s->nmemo = p.nmemo;
        s->nnodes = p.nnodes;
        s->nkids = p.nkids;
        if (p.max_level > s->max_level || !p.reused)
            s->max_level = p.max_level;
        s->mode = mode_key;
        s->start_rule = start_rule;
    }
    s->toks = p.toks;
    s->toks_cap = p.cap;
    s->memo = p.memo;
    s->memo_cap = p.memo_cap;
    s->nodes = p.nodes;
    s->nodes_cap = p.nodes_cap;
    s->kids = p.kids;
    s->kids_cap = p.kids_cap;
    s->stack = p.stack;
    s->stack_cap = p.stack_cap;
    if (!scratch)
        pyparse_scratch_free(&own);
    return res;
}

enum pyparse_result
pyparse_peg_run_text(const char *text, size_t len, int start_rule, unsigned mode, int level,
                     struct pyparse_run_info *info, const atomic_int *cancel)
{
    struct pyparse_tokens arr = { 0 };
    struct pyparse_tok tok;
    if (info)
        *info = (struct pyparse_run_info){ len + 1, 0, PYPARSE_EOF, 0, 0, 0, 0, 0 };
    if (len >= PYPARSE_TEXT_MAX)
        return PYPARSE_OTHER_ERROR;
    pyparse_tok_init(&tok, text, len);
    if (pyparse_lex(&tok, &arr, NULL) < 0) {
        pyparse_array_free(arr.t, arr.cap, sizeof *arr.t);
        return PYPARSE_NO_MEMORY;
    }
    struct pyparse_view view = { text, len, arr.t, arr.n, NULL, 0 };
    enum pyparse_result r = pyparse_peg_run(&view, start_rule, mode, level, info, NULL, cancel);
    pyparse_array_free(arr.t, arr.cap, sizeof *arr.t);
    return r;
}
