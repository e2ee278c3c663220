/* Internals of the incomplete-input detector, shared by its own files only
 * (pyparse_tok.c, pyparse_peg.c, pyparse_str.c, pyparse_gram.c,
 * pyparse_uni.c, pyparse.c). Callers include pyparse.h. */
#ifndef AIOBOX_PYPARSE_INT_H
#define AIOBOX_PYPARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

/* Token types: the operators are in the order of tools/gen_pyparse_gram.py;
 * hard keywords are PYPARSE_T_KEYWORD + their index in pyparse_keywords. */
enum pyparse_token_type {
    PYPARSE_T_ENDMARKER, PYPARSE_T_NAME, PYPARSE_T_NUMBER, PYPARSE_T_STRING,
    PYPARSE_T_NEWLINE, PYPARSE_T_INDENT, PYPARSE_T_DEDENT,
    PYPARSE_T_LPAR, PYPARSE_T_RPAR, PYPARSE_T_LSQB, PYPARSE_T_RSQB,
    PYPARSE_T_COLON, PYPARSE_T_COMMA, PYPARSE_T_SEMI, PYPARSE_T_PLUS,
    PYPARSE_T_MINUS, PYPARSE_T_STAR, PYPARSE_T_SLASH, PYPARSE_T_VBAR,
    PYPARSE_T_AMPER, PYPARSE_T_LESS, PYPARSE_T_GREATER, PYPARSE_T_EQUAL,
    PYPARSE_T_DOT, PYPARSE_T_PERCENT, PYPARSE_T_LBRACE, PYPARSE_T_RBRACE,
    PYPARSE_T_EQEQUAL, PYPARSE_T_NOTEQUAL, PYPARSE_T_LESSEQUAL,
    PYPARSE_T_GREATEREQUAL, PYPARSE_T_TILDE, PYPARSE_T_CIRCUMFLEX,
    PYPARSE_T_LEFTSHIFT, PYPARSE_T_RIGHTSHIFT, PYPARSE_T_DOUBLESTAR,
    PYPARSE_T_PLUSEQUAL, PYPARSE_T_MINEQUAL, PYPARSE_T_STAREQUAL,
    PYPARSE_T_SLASHEQUAL, PYPARSE_T_PERCENTEQUAL, PYPARSE_T_AMPEREQUAL,
    PYPARSE_T_VBAREQUAL, PYPARSE_T_CIRCUMFLEXEQUAL,
    PYPARSE_T_LEFTSHIFTEQUAL, PYPARSE_T_RIGHTSHIFTEQUAL,
    PYPARSE_T_DOUBLESTAREQUAL, PYPARSE_T_DOUBLESLASH,
    PYPARSE_T_DOUBLESLASHEQUAL, PYPARSE_T_AT, PYPARSE_T_ATEQUAL,
    PYPARSE_T_RARROW, PYPARSE_T_ELLIPSIS, PYPARSE_T_COLONEQUAL,
    PYPARSE_T_OP,           /* any other punctuation: never in the grammar */
    PYPARSE_T_ASYNC, PYPARSE_T_AWAIT, PYPARSE_T_TYPE_COMMENT,
    PYPARSE_T_ERROR,        /* the tokenizer failed: see tok->done */
    PYPARSE_T_KEYWORD,
};

/* Why the tokenizer stopped (CPython's E_* codes that matter here). */
enum pyparse_done {
    PYPARSE_OK,
    PYPARSE_EOF,            /* tried to read past the end: E_EOF */
    PYPARSE_EOFS,           /* EOF in a triple-quoted string */
    PYPARSE_EOLS,           /* EOF in a single-quoted string */
    PYPARSE_TOKERR,         /* any other tokenizer error */
};

#define PYPARSE_MAXINDENT 100   /* CPython's MAXINDENT */
#define PYPARSE_MAXLEVEL 200    /* CPython's MAXLEVEL: nested brackets */
/* Text offsets are 32-bit in token records: longer texts are refused. */
#define PYPARSE_TEXT_MAX ((size_t)1 << 31)

/* The tokenizer. Its state is all in this struct at the start of a line,
 * even inside a string literal or after a backslash continuation, so a
 * copy taken there (a snapshot) resumes the tokenizing once more text
 * follows that line. */
struct pyparse_tok {
    const char *buf;        /* the text, translated newlines */
    size_t len;
    size_t cur;             /* next byte to read */
    size_t max_read;        /* how many bytes were ever read */
    size_t start;           /* start of the token being read */
    enum pyparse_done done;
    bool atbol;
    int pendin;             /* pending INDENT (>0) or DEDENT (<0) tokens */
    int indent;
    int level;              /* bracket nesting */
    /* resumption inside a token that spans lines */
    char str_quote;         /* in a string literal with this quote; 0: not */
    uint8_t str_size;       /* its quotes: 1 or 3 */
    size_t str_start;       /* where the string token starts */
    bool in_indent;         /* in a line's indentation, after a continuation */
    int ind_col, ind_altcol, ind_cont;
    /* snapshot request: when a line starts at snap_at, *snap = *tok */
    size_t snap_at;         /* SIZE_MAX: none */
    struct pyparse_tok *snap;
    bool snapped;
    int indstack[PYPARSE_MAXINDENT];
    int altindstack[PYPARSE_MAXINDENT];
    char parenstack[PYPARSE_MAXLEVEL];
};

void pyparse_tok_init(struct pyparse_tok *tok, const char *buf, size_t len);
/* Next token type; [*start, *end) is its text. */
int pyparse_tok_get(struct pyparse_tok *tok, size_t *start, size_t *end);

/* A token with what the tokenizer's state was just after it: how far it
 * had read and why it stopped, which is what decides "incomplete input"
 * when the parser stops at this token. */
struct pyparse_token {
    uint32_t start, end;    /* its text; end is where the tokenizer stood */
    uint32_t read;          /* bytes read so far (max_read) */
    uint8_t type;           /* pyparse_token_type; keywords typed as such */
    uint8_t done;           /* enum pyparse_done */
    uint8_t level;          /* bracket nesting */
    uint8_t indent;         /* indentation depth (tok->indent) */
};

struct pyparse_tokens {
    struct pyparse_token *t;
    size_t n, cap;
};

/* Tokenizes on from tok's state, appending to arr up to and with the
 * ENDMARKER or an ERROR token. When tok takes its snapshot meanwhile,
 * *snap_ntok gets the number of tokens in arr before it (those are final
 * whatever follows the snapshot's line). 0 or -ENOMEM. */
int pyparse_lex(struct pyparse_tok *tok, struct pyparse_tokens *arr, size_t *snap_ntok);
/* A growing array of *cap elements of elem bytes at *arr (NULL, 0 to
 * start): room for need, doubling. 0 or -ENOMEM (*arr unchanged). Free
 * with pyparse_array_free (big arrays are mappings: pyparse_mem.c). */
int pyparse_array_grow(void **arr, size_t *cap, size_t need, size_t elem);
void pyparse_array_free(void *arr, size_t cap, size_t elem);
/* Grows arr to hold n more tokens: 0 or -ENOMEM. */
int pyparse_tokens_reserve(struct pyparse_tokens *arr, size_t n);
/* The keyword type of the name s[0..n), or PYPARSE_T_NAME. */
int pyparse_keyword_type(const char *s, size_t n);

/* Unicode tables (pyparse_uni.c, generated). */
bool pyparse_uni_id_start(uint32_t cp);
bool pyparse_uni_id_continue(uint32_t cp);
/* True when name (ASCII, any case) is a character name or alias that
 * "\N{...}" accepts. */
bool pyparse_uni_name_known(const char *name, size_t len);

/* Grammar tables (pyparse_gram.c, generated). */
enum pyparse_item_kind {
    PYPARSE_I_TOKEN, PYPARSE_I_KEYWORD, PYPARSE_I_SOFT, PYPARSE_I_RULE,
    PYPARSE_I_OPT, PYPARSE_I_STAR, PYPARSE_I_PLUS, PYPARSE_I_GATHER,
    PYPARSE_I_AND, PYPARSE_I_NOT, PYPARSE_I_FORCED, PYPARSE_I_CUT,
};
enum pyparse_action {
    PYPARSE_A_NONE,
    PYPARSE_A_RAISE,        /* matched an error rule: SyntaxError */
    PYPARSE_A_FAIL,         /* the action returns NULL */
    PYPARSE_A_NOT_LTGT,     /* '!=' spelt '<>' fails */
    PYPARSE_A_STRINGS,      /* concatenate (and so check) string literals */
    PYPARSE_A_REAL,         /* NUMBER must not be imaginary */
    PYPARSE_A_IMAG,         /* NUMBER must be imaginary */
};
/* PYPARSE_R_GROW_SELF: a left-recursive rule that only grows through
 * its alternatives led by itself (gen_gram.py, grows_by_itself), each
 * with a first set for what follows the seed: their union is grow_set. */
enum { PYPARSE_R_MEMO = 1, PYPARSE_R_LEFTREC = 2, PYPARSE_R_NODE = 4, PYPARSE_R_GROW_SELF = 8 };

struct pyparse_item { uint8_t kind; uint16_t a; uint16_t b; };
/* lead: the memoised rule the alternative starts with (PYPARSE_NO_LEAD:
 * none); rest_set: the first set of the items after it. */
struct pyparse_alt {
    uint16_t first; uint8_t count; uint8_t action; uint16_t first_set;
    uint16_t lead; uint16_t rest_set;
};
enum { PYPARSE_NO_LEAD = 0xffff };
/* memo_bit: the rule's bit in a token's mask of memos (memoised rules);
 * dispatch: its row in pyparse_dispatch (PYPARSE_NO_DISPATCH: one
 * alternative). */
struct pyparse_rule {
    const char *name; uint16_t first_alt; uint8_t alt_count; uint8_t flags; uint16_t first_set;
    uint8_t memo_bit; uint8_t dispatch;
    uint16_t grow_set;      /* PYPARSE_R_GROW_SELF: what can follow a seed that grows */
};
enum { PYPARSE_NO_DISPATCH = 255 };
/* By rule and token type: the alternatives (bit k: the k-th) whose first
 * set holds the type. */
extern const uint16_t pyparse_dispatch[][128];
struct pyparse_op { const char *text; int type; };

extern const char *const pyparse_keywords[];
extern const uint8_t pyparse_keyword_lengths[];
extern const int pyparse_keyword_count;
extern const char *const pyparse_soft_keywords[];
extern const uint8_t pyparse_soft_keyword_lengths[];
extern const struct pyparse_op pyparse_ops[];
extern const int pyparse_op_count;
extern const struct pyparse_item pyparse_items[];
extern const uint16_t pyparse_seq[];
extern const struct pyparse_alt pyparse_alts[];
extern const struct pyparse_rule pyparse_rules[];
/* First sets (gen_gram.py): the token types an alternative or a rule can
 * start with; set 0 holds all. pyparse_first_depth: how deep rule calls
 * can go before a skippable alternative fails. */
extern const uint64_t pyparse_first_sets[][2];
extern const int pyparse_first_depth;
extern const int pyparse_rule_count;
extern const int pyparse_rule_interactive;
extern const int pyparse_rule_fstring;
extern const int pyparse_rule_function_def_raw, pyparse_rule_class_def_raw,
    pyparse_rule_lambdef, pyparse_rule_listcomp, pyparse_rule_setcomp,
    pyparse_rule_dictcomp, pyparse_rule_genexp, pyparse_rule_for_stmt,
    pyparse_rule_while_stmt, pyparse_rule_block, pyparse_rule_else_block,
    pyparse_rule_star_atom, pyparse_rule_single_target, pyparse_rule_del_t_atom,
    pyparse_rule_param, pyparse_rule_param_star_annotation, pyparse_rule_lambda_param,
    pyparse_rule_assignment, pyparse_rule_assignment_expression,
    pyparse_rule_pattern_capture_target, pyparse_rule_dotted_as_name,
    pyparse_rule_import_from_as_name, pyparse_rule_except_block,
    pyparse_rule_except_star_block, pyparse_rule_global_stmt, pyparse_rule_nonlocal_stmt,
    pyparse_rule_try_stmt, pyparse_rule_with_stmt, pyparse_rule_with_item,
    pyparse_rule_finally_block, pyparse_rule_star_targets, pyparse_rule_star_targets_tuple_seq,
    pyparse_rule_star_targets_list_seq, pyparse_rule_star_expressions, pyparse_rule_arguments,
    pyparse_rule_match_stmt, pyparse_rule_case_block, pyparse_rule_guard,
    pyparse_rule_as_pattern, pyparse_rule_or_pattern, pyparse_rule_closed_pattern,
    pyparse_rule_capture_pattern, pyparse_rule_wildcard_pattern, pyparse_rule_group_pattern;

/* The parse tree kept for the compile-stage checks: only the rules marked
 * PYPARSE_R_NODE make nodes; a node's children are kids[kid..kid+nkids),
 * in token order. */
enum { PYPARSE_NODE_GROUP = -1 };   /* nodes gathered by left recursion */
struct pyparse_node {
    int rule;                       /* a rule index or PYPARSE_NODE_GROUP */
    int first, end;         /* its tokens [first, end) */
    int kid, nkids;
};

/* A token as the parser fetched it. */
struct pyparse_ptok {
    int memo;               /* first memo of this position, -1 for none */
    uint32_t memo_mask;     /* the rules memoised here, by memo_bit */
    uint8_t type;           /* as parsed: 'single' input turns an ENDMARKER into NEWLINE */
    uint8_t inner;          /* PYPARSE_INNER_* of an f-string run from here */
    uint8_t number_checked;
};

struct pyparse_view;

struct pyparse_tree {
    const char *buf;
    const struct pyparse_ptok *ptok;    /* tokens [0, ntokens) as parsed */
    const struct pyparse_view *view;    /* their text: token min(i, n - 1) */
    int ntokens;
    const struct pyparse_node *nodes;
    const int *kids;
    const int *top;         /* nodes of the statement itself */
    int ntop;
    unsigned futures;       /* PYPARSE_FUTURE_* in force */
};

/* Bracket tokens: the ones that open a nesting level, and close one. */
static inline bool
pyparse_opens(int type)
{
    return type == PYPARSE_T_LPAR || type == PYPARSE_T_LSQB || type == PYPARSE_T_LBRACE;
}

static inline bool
pyparse_closes(int type)
{
    return type == PYPARSE_T_RPAR || type == PYPARSE_T_RSQB || type == PYPARSE_T_RBRACE;
}

static inline int
pyparse_tt(const struct pyparse_tree *t, int i)
{
    return t->ptok[i].type;
}

const struct pyparse_token *pyparse_tree_token(const struct pyparse_tree *t, int i);

static inline size_t
pyparse_ts(const struct pyparse_tree *t, int i)
{
    return pyparse_tree_token(t, i)->start;
}

static inline size_t
pyparse_te(const struct pyparse_tree *t, int i)
{
    return pyparse_tree_token(t, i)->end;
}

/* What the expressions of an f-string hold that the scope of the f-string
 * must allow: the compile-stage checks see them on its STRING token. */
enum {
    PYPARSE_INNER_YIELD = 1,
    PYPARSE_INNER_YIELD_FROM = 2,
    PYPARSE_INNER_AWAIT = 4,
    PYPARSE_INNER_ASYNC_COMP = 8,   /* an async list/set/dict comprehension */
};

/* Compiler flags of __future__ features that change what compiles. */
enum {
    PYPARSE_FUTURE_BARRY = 1,       /* barry_as_FLUFL: '<>', not '!=' */
    PYPARSE_FUTURE_ANNOTATIONS = 2, /* annotations: no yield, await or := in them */
};

/* The PYPARSE_INNER_* flags of a parsed f-string expression. */
unsigned pyparse_sem_inner(const struct pyparse_tree *tree);

/* The errors CPython's symtable and compiler raise for a parsed statement
 * that matter at the REPL ('return' outside function, 'break' outside
 * loop, ...): returns 1 when there is none, 0 when there is one, -1 when
 * out of memory. *futures gets the PYPARSE_FUTURE_* the statement imports
 * from __future__ (valid imports only). */
int pyparse_sem_check(const struct pyparse_tree *tree, bool top_level_await, unsigned *futures);

/* The checks of one match statement (pyparse_pat.c): true when fine. */
bool pyparse_pat_check(const struct pyparse_tree *tree, const struct pyparse_node *match);

/* Outcome of one parser run, in the terms codeop cares about. */
enum pyparse_result {
    PYPARSE_PARSED,         /* a tree came out */
    PYPARSE_INCOMPLETE_INPUT, /* failed with the tokenizer at the end */
    PYPARSE_SYNTAX_ERROR,   /* failed elsewhere: SyntaxError */
    PYPARSE_OTHER_ERROR,    /* MemoryError (too deep): not a SyntaxError */
    PYPARSE_RUN_CANCELLED,  /* *cancel became non-zero */
    PYPARSE_NO_MEMORY,      /* this process ran out of memory */
};

/* Where the tokenizer stood when a parser run ended. */
struct pyparse_run_info {
    size_t max_read;        /* bytes of the text it ever read */
    int level;              /* bracket nesting */
    enum pyparse_done done;
    unsigned inner;         /* fstring rule, parsed: PYPARSE_INNER_* */
    size_t fetched;         /* tokens the parser fetched */
    unsigned futures;       /* 'single', parsed: PYPARSE_FUTURE_* imported */
    size_t calls;           /* rule calls made: the work done */
    int depth;              /* parsed: AST levels of the result */
};

/* The deepest AST (statements, expressions and patterns; a top-level
 * statement is level 1) that compile() takes before its symtable raises
 * RecursionError: 3 levels per unit of the recursion limit (1000), less 3
 * for each Python frame below compile(). codeop.compile_command called
 * from a script's top level has 4 (<module> and codeop's 3): 2988, as
 * measured with /usr/bin/python3 3.11.2, once warmed up (cold, one C call
 * more costs 3 levels). Deeper callers fail earlier (the asyncio REPL's
 * console at about 2970): where the verdict is ERROR they all agree. */
#define PYPARSE_AST_DEPTH_MAX 2988

/* How pyparse_peg_run parses. */
enum {
    PYPARSE_RUN_SINGLE = 1,     /* 'single' mode, then the compile-stage checks */
    PYPARSE_RUN_TOP_AWAIT = 2,  /* with ast.PyCF_ALLOW_TOP_LEVEL_AWAIT */
    PYPARSE_RUN_BARRY = 4,      /* with CO_FUTURE_BARRY_AS_BDFL */
    PYPARSE_RUN_ANNOTATIONS = 8, /* with CO_FUTURE_ANNOTATIONS */
};

/* What a parser run keeps for the next ones (all zero to start): its
 * memory, and the parse of the tokens [0, reusable) (the last run's head)
 * with the memos that hold whatever follows them. */
struct pyparse_scratch {
    struct pyparse_ptok *toks;
    size_t toks_cap;
    void *memo;
    size_t memo_cap;
    struct pyparse_node *nodes;
    size_t nodes_cap;
    int *kids;
    size_t kids_cap;
    int *stack;
    size_t stack_cap;
    int nmemo, nnodes, nkids;   /* in use by the memos kept */
    int reusable;               /* 0: the next run starts afresh */
    uint32_t runs;
    int max_level;              /* the deepest the runs kept went */
    unsigned mode;              /* and how they parsed */
    int start_rule;
};
void pyparse_scratch_free(struct pyparse_scratch *s);
/* The next run starts afresh (the buffer's text was replaced). */
void pyparse_scratch_forget(struct pyparse_scratch *s);

/* The tokens of one parser run: text[0..len) (newlines translated) and
 * its tokens, head[0..nhead) then tail[0..ntail), the last one an
 * ENDMARKER or an ERROR. */
struct pyparse_view {
    const char *text;
    size_t len;
    const struct pyparse_token *head;
    size_t nhead;
    const struct pyparse_token *tail;
    size_t ntail;
};

/* Token i of a view, i < nhead + ntail. */
static inline const struct pyparse_token *
pyparse_view_token(const struct pyparse_view *v, size_t i)
{
    return i < v->nhead ? &v->head[i] : &v->tail[i - v->nhead];
}

/* Parses a view from start_rule, as CPython's first pegen pass with
 * PyCF_ALLOW_INCOMPLETE_INPUT does, fetching its tokens one by one as
 * CPython's parser makes its tokenizer read them. level is the parser
 * stack already used by enclosing parsers (f-string expressions), 0 at
 * the top. info, when not NULL, receives the tokenizer's state after the
 * last token fetched. scratch may be NULL; cancel may be NULL. */
enum pyparse_result pyparse_peg_run(const struct pyparse_view *view, int start_rule,
                                    unsigned mode, int level, struct pyparse_run_info *info,
                                    struct pyparse_scratch *scratch, const atomic_int *cancel);

/* Tokenizes text[0..len) and parses it (f-string expressions). */
enum pyparse_result pyparse_peg_run_text(const char *text, size_t len, int start_rule,
                                         unsigned mode, int level,
                                         struct pyparse_run_info *info,
                                         const atomic_int *cancel);

/* Checks the literal tokens [starts[i], ends[i]) of buf as
 * _PyPegen_concatenate_strings does; level is the parser stack in use.
 * Returns 0 when fine, -1 for a SyntaxError, -2 for an error that is not
 * a SyntaxError, -3 for an f-string expression that is "incomplete",
 * -4 when cancelled, -5 out of memory.
 * *inner gets the PYPARSE_INNER_* flags of the f-string expressions,
 * *depth the AST levels of the result (Constant or JoinedStr). */
int pyparse_str_concat(const struct pyparse_view *view, size_t first, size_t n,
                       int level, unsigned *inner, int *depth, const atomic_int *cancel);

/* Checks a NUMBER token's value as _PyPegen_number_token does:
 * 0 fine, -1 SyntaxError. */
int pyparse_str_number(const char *text, size_t len);

#endif
