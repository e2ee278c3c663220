/* PEG interpreter for the grammar tables of pyparse_gram.c, behaving as
 * CPython 3.11's generated parser does in its first pass: tokens fetched
 * lazily, memoised rules, left recursion grown from a seed, cuts, forced
 * tokens, and an error that stops everything once raised. The result that
 * matters is whether the parse failed with the tokenizer at the end. */
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

/* CPython's MAXSTACK: past it the parser raises MemoryError. */
#define PARSER_MAXSTACK 6000

/* A memoised result of a rule at a token position; the memos of one
 * position are chained from its token, most recent first. */
struct memo {
    int next;               /* index in parser.memo, -1 at the end */
    int end;
    int kid, nkids;         /* the tree nodes the match left, in kids */
    uint16_t rule;
    bool ok;
};

struct token {
    size_t start, end;
    int type;
    int memo;               /* first memo, -1 for none */
    bool number_checked;
    uint8_t inner;          /* PYPARSE_INNER_* of an f-string run from here */
};

enum parser_error { PERR_NONE, PERR_SYNTAX, PERR_OTHER, PERR_INCOMPLETE_MSG };

struct parser {
    struct pyparse_tok tok;
    struct token *toks;
    int fill, cap;
    int mark;
    int level;
    enum parser_error error;
    bool single_input;
    bool top_level_await;
    bool parsing_started;
    struct memo *memo;
    int nmemo, memo_cap;
    struct pyparse_node *nodes;
    int nnodes, nodes_cap;
    int *kids;              /* append-only lists of node ids */
    int nkids, kids_cap;
    int *stack;             /* nodes made by the matches in progress */
    int nstack, stack_cap;
};

static bool
grow(struct parser *p, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int n = *cap ? *cap : 64;
    while (n < need) {
        if (n > (1 << 29)) {
            p->error = PERR_OTHER;  /* beyond any sane input: MemoryError */
            return false;
        }
        n *= 2;
    }
    void *q = realloc(*arr, (size_t)n * elem);
    if (!q) {
        p->error = PERR_OTHER;
        return false;
    }
    *arr = q;
    *cap = n;
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

static int
keyword_type(const char *s, size_t n)
{
    if (n < 2 || n > 8 || s[0] < 'F' || s[0] > 'y')
        return PYPARSE_T_NAME;
    for (int i = 0; i < pyparse_keyword_count; i++) {
        const char *k = pyparse_keywords[i];
        if (k[0] == s[0] && pyparse_keyword_lengths[i] == n && memcmp(k, s, n) == 0)
            return PYPARSE_T_KEYWORD + i;
    }
    return PYPARSE_T_NAME;
}

static bool
fill_token(struct parser *p)
{
    size_t start, end;
    int type = pyparse_tok_get(&p->tok, &start, &end);
    if (type == PYPARSE_T_NAME)
        type = keyword_type(p->tok.buf + start, end - start);
    /* 'single' input: the first ENDMARKER becomes the NEWLINE that ends
     * the statement (with PyCF_DONT_IMPLY_DEDENT, no DEDENTs with it). */
    if (p->single_input && type == PYPARSE_T_ENDMARKER && p->parsing_started) {
        type = PYPARSE_T_NEWLINE;
        p->parsing_started = false;
    }
    else {
        p->parsing_started = true;
    }
    if (p->fill == p->cap) {
        int cap = p->cap ? p->cap * 2 : 256;
        struct token *t = realloc(p->toks, (size_t)cap * sizeof *t);
        if (!t) {
            p->error = PERR_OTHER;
            return false;
        }
        p->toks = t;
        p->cap = cap;
    }
    struct token *t = &p->toks[p->fill++];
    t->start = start;
    t->end = end;
    t->type = type;
    t->memo = -1;
    t->number_checked = false;
    t->inner = 0;
    if (type == PYPARSE_T_ERROR) {
        p->error = PERR_SYNTAX;
        return false;
    }
    return true;
}

/* The token at the current position, fetching it if needed. */
static struct token *
peek(struct parser *p)
{
    if (p->mark == p->fill && !fill_token(p))
        return NULL;
    return &p->toks[p->mark];
}

/* The memo of rule at pos, or NULL. */
static struct memo *
memo_find(struct parser *p, int pos, int rule)
{
    for (int i = p->toks[pos].memo; i >= 0; i = p->memo[i].next)
        if (p->memo[i].rule == rule)
            return &p->memo[i];
    return NULL;
}

/* Adds a memo of rule at pos; earlier struct memo pointers may move. */
static struct memo *
memo_new(struct parser *p, int pos, int rule)
{
    if (!grow(p, (void **)&p->memo, &p->memo_cap, p->nmemo + 1, sizeof *p->memo))
        return NULL;
    struct memo *m = &p->memo[p->nmemo];
    m->rule = (uint16_t)rule;
    m->next = p->toks[pos].memo;
    p->toks[pos].memo = p->nmemo++;
    return m;
}

static bool parse_item(struct parser *p, int item);
static bool parse_alts(struct parser *p, int rule);

static bool
number_ok(struct parser *p, struct token *t)
{
    if (t->number_checked)
        return true;
    if (pyparse_str_number(p->tok.buf + t->start, t->end - t->start) != 0) {
        p->error = PERR_SYNTAX;
        return false;
    }
    t->number_checked = true;
    return true;
}

static bool
expect_type(struct parser *p, int type)
{
    struct token *t = peek(p);
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
    struct token *t = peek(p);
    if (!t || t->type != PYPARSE_T_NAME)
        return false;
    size_t n = pyparse_soft_keyword_lengths[soft];
    if (t->end - t->start != n || memcmp(p->tok.buf + t->start, pyparse_soft_keywords[soft], n) != 0)
        return false;
    p->mark++;
    return true;
}

/* Runs an action's check on the tokens the alternative matched. Returns
 * 1 to succeed, 0 when the rule returns NULL, -1 on error. */
static int
apply_action(struct parser *p, int action, int start)
{
    struct token *t = &p->toks[start];
    const char *text = p->tok.buf + t->start;
    size_t n = t->end - t->start;
    switch (action) {
    case PYPARSE_A_RAISE:
        p->error = PERR_SYNTAX;
        return -1;
    case PYPARSE_A_FAIL:
        return 0;
    case PYPARSE_A_NOT_LTGT:
        return !(n == 2 && text[0] == '<');
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
        size_t count = (size_t)(p->mark - start);
        size_t *bounds = malloc(2 * count * sizeof *bounds);
        if (!bounds) {
            p->error = PERR_OTHER;
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            bounds[i] = p->toks[start + (int)i].start;
            bounds[count + i] = p->toks[start + (int)i].end;
        }
        unsigned inner;
        int r = pyparse_str_concat(p->tok.buf, bounds, bounds + count, count, p->level, &inner);
        free(bounds);
        if (r == 0) {
            p->toks[start].inner = (uint8_t)inner;
            return 1;
        }
        p->error = r == -1 ? PERR_SYNTAX : r == -3 ? PERR_INCOMPLETE_MSG : PERR_OTHER;
        return -1;
    }
    default:
        return 1;
    }
}

/* Tries the alternatives of rule in order from the current position. */
static bool
parse_alts(struct parser *p, int rule)
{
    const struct pyparse_rule *r = &pyparse_rules[rule];
    int start = p->mark;
    int from = p->nstack;
    for (int a = 0; a < r->alt_count; a++) {
        const struct pyparse_alt *alt = &pyparse_alts[r->first_alt + a];
        bool cut = false, matched = true;
        p->mark = start;
        p->nstack = from;
        for (int i = 0; i < alt->count; i++) {
            int item = pyparse_seq[alt->first + i];
            if (pyparse_items[item].kind == PYPARSE_I_CUT) {
                cut = true;
                continue;
            }
            if (!parse_item(p, item)) {
                matched = false;
                break;
            }
        }
        if (p->error)
            return false;
        if (matched) {
            int act = apply_action(p, alt->action, start);
            if (act != 1) {
                p->nstack = from;
                return false;
            }
            if (r->flags & PYPARSE_R_NODE)
                return make_node(p, rule, start, from);
            return true;
        }
        p->mark = start;
        p->nstack = from;
        if (cut)
            return false;
    }
    return false;
}

static bool
parse_rule(struct parser *p, int rule)
{
    if (p->level++ == PARSER_MAXSTACK)
        p->error = PERR_OTHER;
    if (p->error) {
        p->level--;
        return false;
    }
    unsigned flags = pyparse_rules[rule].flags;
    bool ok;
    if (!(flags & (PYPARSE_R_MEMO | PYPARSE_R_LEFTREC))) {
        ok = parse_alts(p, rule);
        p->level--;
        return ok;
    }
    /* Looking the memo up fetches the token here, as in CPython. */
    if (!peek(p)) {
        p->level--;
        return false;
    }
    struct memo *m = memo_find(p, p->mark, rule);
    if (m) {
        p->mark = m->end;
        p->level--;
        return m->ok && replay_kids(p, m->kid, m->nkids);
    }
    int start = p->mark;
    int from = p->nstack;
    if (flags & PYPARSE_R_MEMO) {
        ok = parse_alts(p, rule);
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
            m->nkids = ok ? p->nstack - from : 0;
        }
        p->level--;
        return ok && m && kid >= 0;
    }
    /* Left recursion: grow the seed until it stops getting longer. */
    m = memo_new(p, start, rule);
    if (!m) {
        p->level--;
        return false;
    }
    m->ok = false;
    m->end = start;
    m->kid = 0;
    m->nkids = 0;
    int resmark = start;
    ok = false;
    for (;;) {
        p->mark = start;
        p->nstack = from;
        bool raw;
        if (p->level++ == PARSER_MAXSTACK)
            p->error = PERR_OTHER;
        raw = p->error ? false : parse_alts(p, rule);
        p->level--;
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
        m = memo_find(p, start, rule);     /* the table may have moved */
        m->ok = true;
        m->end = resmark;
        m->kid = kid;
        m->nkids = p->nstack - from;
    }
    p->mark = resmark;
    p->nstack = from;
    p->level--;
    m = memo_find(p, start, rule);
    return ok && replay_kids(p, m->kid, m->nkids);
}

/* A repetition runs in a helper function in CPython: one more level. */
static bool
enter_helper(struct parser *p)
{
    if (p->level++ == PARSER_MAXSTACK)
        p->error = PERR_OTHER;
    if (p->error) {
        p->level--;
        return false;
    }
    return true;
}

static bool
parse_item(struct parser *p, int item)
{
    const struct pyparse_item *it = &pyparse_items[item];
    int save = p->mark;
    bool ok;
    switch (it->kind) {
    case PYPARSE_I_TOKEN:
        return expect_type(p, it->a);
    case PYPARSE_I_KEYWORD:
        return expect_type(p, PYPARSE_T_KEYWORD + it->a);
    case PYPARSE_I_SOFT:
        return expect_soft(p, it->a);
    case PYPARSE_I_RULE:
        return parse_rule(p, it->a);
    case PYPARSE_I_CUT:
        return true;
    case PYPARSE_I_OPT:
        if (!parse_item(p, it->a)) {
            if (p->error)
                return false;
            p->mark = save;
        }
        return true;
    case PYPARSE_I_AND:
    case PYPARSE_I_NOT: {
        int from = p->nstack;
        ok = parse_item(p, it->a);
        p->mark = save;
        p->nstack = from;
        if (p->error)
            return false;
        return it->kind == PYPARSE_I_AND ? ok : !ok;
    }
    case PYPARSE_I_FORCED: {
        const struct pyparse_item *in = &pyparse_items[it->a];
        int type = in->kind == PYPARSE_I_KEYWORD ? PYPARSE_T_KEYWORD + in->a : in->a;
        struct token *t = peek(p);
        if (!t)
            return false;
        if (t->type != type) {
            p->error = PERR_SYNTAX;     /* "expected ':'" */
            return false;
        }
        p->mark++;
        return true;
    }
    case PYPARSE_I_STAR:
    case PYPARSE_I_PLUS: {
        if (!enter_helper(p))
            return false;
        int n = 0;
        for (;;) {
            int before = p->mark;
            if (!parse_item(p, it->a) || p->mark == before) {
                p->mark = before;
                break;
            }
            n++;
        }
        p->level--;
        if (p->error)
            return false;
        if (it->kind == PYPARSE_I_PLUS && n == 0) {
            p->mark = save;
            return false;
        }
        return true;
    }
    case PYPARSE_I_GATHER: {
        if (!enter_helper(p))
            return false;
        ok = parse_item(p, it->b);
        if (ok) {
            if (enter_helper(p)) {
                for (;;) {
                    int before = p->mark;
                    if (!parse_item(p, it->a) || !parse_item(p, it->b) || p->mark == before) {
                        p->mark = before;
                        break;
                    }
                }
                p->level--;
            }
        }
        p->level--;
        if (p->error)
            return false;
        if (!ok)
            p->mark = save;
        return ok;
    }
    default:
        return false;
    }
}

/* After a successful 'single' parse only blanks and comments may follow
 * what the tokenizer read ("multiple statements found"). */
static bool
only_blanks_left(const struct pyparse_tok *tok)
{
    size_t i = tok->cur;
    while (i < tok->len) {
        char c = tok->buf[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\014') {
            i++;
        }
        else if (c == '#') {
            while (i < tok->len && tok->buf[i] != '\n')
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
check_tree(struct parser *p, unsigned *inner)
{
    int *type = malloc((size_t)p->fill * sizeof *type + 1);
    size_t *start = malloc((size_t)p->fill * sizeof *start + 1);
    size_t *end = malloc((size_t)p->fill * sizeof *end + 1);
    uint8_t *in = malloc((size_t)p->fill + 1);
    enum pyparse_result res = PYPARSE_OTHER_ERROR;
    if (type && start && end && in) {
        for (int i = 0; i < p->fill; i++) {
            type[i] = p->toks[i].type;
            start[i] = p->toks[i].start;
            end[i] = p->toks[i].end;
            in[i] = p->toks[i].inner;
        }
        struct pyparse_tree t = { p->tok.buf, type, start, end, p->fill, in, p->nodes,
                                  p->kids, p->stack, p->nstack };
        if (inner) {
            *inner = pyparse_sem_inner(&t);
            res = PYPARSE_PARSED;
        }
        else {
            res = pyparse_sem_check(&t, p->top_level_await) ? PYPARSE_PARSED
                                                            : PYPARSE_SYNTAX_ERROR;
        }
    }
    free(type);
    free(start);
    free(end);
    free(in);
    return res;
}

enum pyparse_result
pyparse_peg_run(const char *buf, size_t len, int start_rule, unsigned mode, int level,
                struct pyparse_run_info *info)
{
    struct parser p;
    memset(&p, 0, sizeof p);
    if (info)
        *info = (struct pyparse_run_info){ len + 1, 0, PYPARSE_EOF, 0 };
    if (level >= PARSER_MAXSTACK)
        return PYPARSE_OTHER_ERROR;
    pyparse_tok_init(&p.tok, buf, len);
    p.single_input = mode & PYPARSE_RUN_SINGLE;
    p.top_level_await = mode & PYPARSE_RUN_TOP_AWAIT;
    /* An f-string's expressions are parsed by a parser of their own; it
     * starts from the levels its parent used, so that all of them
     * together stay within one C stack budget. */
    p.level = level;
    bool ok = parse_rule(&p, start_rule);
    enum pyparse_result res;
    if (!ok) {
        enum pyparse_done d = p.tok.done;
        if (d == PYPARSE_EOF || d == PYPARSE_EOFS || d == PYPARSE_EOLS)
            res = PYPARSE_INCOMPLETE_INPUT;
        else if (p.error == PERR_OTHER)
            res = PYPARSE_OTHER_ERROR;
        else if (p.error == PERR_INCOMPLETE_MSG)
            res = PYPARSE_INCOMPLETE_INPUT;
        else
            res = PYPARSE_SYNTAX_ERROR;
    }
    else if (p.single_input && !only_blanks_left(&p.tok)) {
        res = PYPARSE_SYNTAX_ERROR;
    }
    else if (p.single_input) {
        res = check_tree(&p, NULL);
    }
    else if (info) {
        res = check_tree(&p, &info->inner);
    }
    else {
        res = PYPARSE_PARSED;
    }
    if (info) {
        info->max_read = p.tok.max_read;
        info->level = p.tok.level;
        info->done = p.tok.done;
    }
    free(p.memo);
    free(p.toks);
    free(p.nodes);
    free(p.kids);
    free(p.stack);
    return res;
}
