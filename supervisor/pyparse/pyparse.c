/* codeop's decision procedure (Lib/codeop.py, _maybe_compile, 3.11.2) on
 * top of the C parser, for one buffer that grows a line at a time:
 *   - only blank lines and comments: complete ('pass');
 *   - compile(src) succeeds: complete (then codeop compiles src once more,
 *     with the __future__ flags that compile added: see judge_exact);
 *   - it fails with a SyntaxError: compile(src + "\n") succeeding, or
 *     failing with "incomplete input", means incomplete, anything else is
 *     an error;
 *   - any other exception (NUL bytes, parser too deep): error.
 * src + "\n" (the "nl view") is parsed first: when its tokenizer never
 * read the added newline, or read identical tokens up to where the parse
 * stopped, compile(src) (the "plain view") would go exactly the same way,
 * and when it ended inside brackets or a triple-quoted string, compile(src)
 * cannot succeed; either way one parse decides.
 *
 * Tokens: the tokenizer state is kept at the start of the buffer's last
 * line (a snapshot). Tokens before it are final whatever is appended (the
 * tokenizer never reads back); a push tokenizes from the snapshot to the
 * end, once for each view, and moves the snapshot to the new last line.
 * The parser reads a view as the final tokens followed by its own tail.
 *
 * When the verdicts come from the fast path, see pyparse.h. */
#include "pyparse.h"
#include "pyparse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The parser's work in rule calls (pyparse_run_info.calls) for a token
 * parsed afresh, and for one a memo of an earlier parse covers (the
 * statement loops of blocks and lists still walk them). Measured on the
 * standard library's statements and on the benchmark's long ones. */
#define CALLS_PER_TOKEN 20
#define CALLS_PER_TOKEN_AGAIN 4

struct pyparse_buf {
    unsigned flags;             /* PYPARSE_TOP_LEVEL_AWAIT, PYPARSE_BUF_EXACT */
    bool one_shot;              /* compile_command: no __future__ memory */
    unsigned futures;           /* PYPARSE_FUTURE_* remembered */
    /* text */
    char *raw;                  /* as pushed, lines joined with "\n" */
    size_t raw_len, raw_cap;
    size_t lines;
    char *text;                 /* newlines translated; room for a '\n' more */
    size_t text_len, text_cap;
    bool ends_cr;               /* raw ends with '\r': "\n" would join it */
    bool has_nul;
    bool code_seen;             /* a line that is neither blank nor a comment */
    /* tokens */
    struct pyparse_tokens head; /* final tokens, before the last line */
    struct pyparse_tok snap;    /* the tokenizer where the last line starts */
    size_t snap_pos;            /* that line's start in text */
    size_t last_line;           /* start of the last line in text */
    struct pyparse_tokens tail; /* the plain view's tokens after head */
    struct pyparse_tokens tail_nl; /* the nl view's */
    /* verdicts */
    enum pyparse_verdict verdict; /* for the text as it is, or PENDING */
    bool verdict_fast;          /* it came from the fast path */
    size_t work;                /* tokens parsed for this statement */
    size_t parsed_size;         /* tokens in the view last parsed */
    /* the views of the last exact verdict, to see a push change nothing:
     * their tokens from judged_head on, counted and hashed */
    size_t judged_head;
    size_t judged_count[2];
    uint64_t judged_hash[2];
    enum pyparse_verdict judged;
    bool judged_valid;
    struct pyparse_scratch scratch;
};

/* str.isspace() for the code point starting at s; *n is its length. */
static bool
py_space(const unsigned char *s, size_t left, size_t *n)
{
    unsigned char c = s[0];
    *n = 1;
    if (c < 0x80)
        return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
    if (c == 0xc2 && left >= 2) {
        *n = 2;
        return s[1] == 0x85 || s[1] == 0xa0;
    }
    if (c == 0xe1 && left >= 3) {
        *n = 3;
        return s[1] == 0x9a && s[2] == 0x80;                        /* U+1680 */
    }
    if (c == 0xe2 && left >= 3) {
        *n = 3;
        if (s[1] == 0x80)
            return s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf;
        return s[1] == 0x81 && s[2] == 0x9f;                        /* U+205F */
    }
    if (c == 0xe3 && left >= 3) {
        *n = 3;
        return s[1] == 0x80 && s[2] == 0x80;                        /* U+3000 */
    }
    return false;
}

/* codeop's first test, on a piece of the buffer: every line, stripped, is
 * empty or a comment. */
static bool
only_blanks_and_comments(const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    while (i < len) {
        size_t n;
        if (s[i] == '\n' || py_space(s + i, len - i, &n)) {
            i += s[i] == '\n' ? 1 : n;
            continue;
        }
        if (s[i] != '#')
            return false;
        while (i < len && s[i] != '\n')
            i++;
    }
    return true;
}

static int
reserve(char **p, size_t *cap, size_t need)
{
    void *q = *p;
    int r = pyparse_array_grow(&q, cap, need, 1);
    *p = q;
    return r;
}

int
pyparse_buf_new(struct pyparse_buf **out, unsigned flags)
{
    struct pyparse_buf *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->flags = flags;
    pyparse_buf_reset(b);
    *out = b;
    return 0;
}

void
pyparse_buf_free(struct pyparse_buf *b)
{
    if (!b)
        return;
    pyparse_array_free(b->raw, b->raw_cap, 1);
    pyparse_array_free(b->text, b->text_cap, 1);
    pyparse_array_free(b->head.t, b->head.cap, sizeof *b->head.t);
    pyparse_array_free(b->tail.t, b->tail.cap, sizeof *b->tail.t);
    pyparse_array_free(b->tail_nl.t, b->tail_nl.cap, sizeof *b->tail_nl.t);
    pyparse_scratch_free(&b->scratch);
    free(b);
}

void
pyparse_buf_reset(struct pyparse_buf *b)
{
    b->raw_len = 0;
    if (b->raw)
        b->raw[0] = '\0';
    b->lines = 0;
    b->text_len = 0;
    b->ends_cr = false;
    b->has_nul = false;
    b->code_seen = false;
    b->head.n = 0;
    b->tail.n = 0;
    b->tail_nl.n = 0;
    pyparse_tok_init(&b->snap, NULL, 0);
    b->snap_pos = 0;
    b->last_line = 0;
    b->verdict = PYPARSE_PENDING;
    b->verdict_fast = false;
    b->work = 0;
    b->parsed_size = 0;
    b->judged_valid = false;
    pyparse_scratch_forget(&b->scratch);
}

const char *
pyparse_buf_text(const struct pyparse_buf *b, size_t *len)
{
    if (len)
        *len = b->raw_len;
    return b->raw ? b->raw : "";
}

size_t
pyparse_buf_lines(const struct pyparse_buf *b)
{
    return b->lines;
}

/* Appends raw[from..raw_len) to text with "\r\n" and "\r" as "\n", as the
 * tokenizer reads strings. */
static void
translate(struct pyparse_buf *b, size_t from)
{
    for (size_t i = from; i < b->raw_len; i++) {
        char c = b->raw[i];
        if (c == '\n' && b->ends_cr) {
            b->ends_cr = false;
            continue;           /* the '\n' of "\r\n": written already */
        }
        b->ends_cr = c == '\r';
        if (c == '\r')
            c = '\n';
        if (c == '\n')
            b->last_line = b->text_len + 1;
        b->text[b->text_len++] = c;
    }
}

/* Tokenizes from the snapshot to the end of the text (plus a "\n" for the
 * nl view) into *tail; for the plain view, moves the snapshot to the last
 * line and the tokens before it to head. */
static int
lex_tail(struct pyparse_buf *b, bool nl_view)
{
    struct pyparse_tok tok = b->snap;
    struct pyparse_tok next;
    struct pyparse_tokens *tail = nl_view ? &b->tail_nl : &b->tail;
    size_t len = b->text_len;
    if (nl_view && !b->ends_cr)
        b->text[len++] = '\n';  /* text_cap keeps room for it */
    tok.buf = b->text;
    tok.len = len;
    tok.snap_at = nl_view ? SIZE_MAX : b->last_line;
    tok.snap = &next;
    tok.snapped = false;
    tail->n = 0;
    size_t snap_ntok = 0;
    int r = pyparse_lex(&tok, tail, &snap_ntok);
    if (r < 0)
        return r;
    if (nl_view || !tok.snapped)
        return 0;
    if (snap_ntok) {
        r = pyparse_tokens_reserve(&b->head, snap_ntok);
        if (r < 0)
            return r;
        memcpy(b->head.t + b->head.n, tail->t, snap_ntok * sizeof *tail->t);
        b->head.n += snap_ntok;
        memmove(tail->t, tail->t + snap_ntok, (tail->n - snap_ntok) * sizeof *tail->t);
        tail->n -= snap_ntok;
    }
    b->snap = next;
    b->snap_pos = b->last_line;
    return 0;
}

int
pyparse_buf_push(struct pyparse_buf *b, const char *line, size_t len)
{
    size_t add = len + (b->lines ? 1 : 0);
    if (b->raw_len + add + 2 >= PYPARSE_TEXT_MAX)
        return -EFBIG;
    if (reserve(&b->raw, &b->raw_cap, b->raw_len + add + 1) < 0 ||
        reserve(&b->text, &b->text_cap, b->text_len + add + 2) < 0 ||
        pyparse_tokens_reserve(&b->tail, 1) < 0)
        return -ENOMEM;
    /* The tokens may need memory the text did not: keep what is needed to
     * undo the push. */
    size_t raw_len = b->raw_len, text_len = b->text_len, last_line = b->last_line;
    size_t head_n = b->head.n, snap_pos = b->snap_pos;
    bool ends_cr = b->ends_cr;
    struct pyparse_tok *snap = malloc(sizeof *snap);
    if (!snap)
        return -ENOMEM;
    *snap = b->snap;
    if (b->lines)
        b->raw[b->raw_len++] = '\n';
    memcpy(b->raw + b->raw_len, line, len);
    b->raw_len += len;
    b->raw[b->raw_len] = '\0';
    translate(b, raw_len);
    int r = lex_tail(b, false);
    if (r == 0)
        r = lex_tail(b, true);
    if (r < 0) {
        b->raw_len = raw_len;
        b->raw[raw_len] = '\0';
        b->text_len = text_len;
        b->last_line = last_line;
        b->ends_cr = ends_cr;
        b->head.n = head_n;
        b->snap = *snap;
        b->snap_pos = snap_pos;
        free(snap);
        pyparse_scratch_forget(&b->scratch);     /* the head shrank back */
        /* the tails are stale: tokenize them again from the snapshot */
        b->tail.n = 0;
        b->tail_nl.n = 0;
        b->verdict = PYPARSE_PENDING;
        b->judged_valid = false;
        if (lex_tail(b, false) < 0 || lex_tail(b, true) < 0)
            b->tail.n = b->tail_nl.n = 0;   /* judged as out of memory later */
        return r;
    }
    free(snap);
    b->lines++;
    if (!b->code_seen)
        b->code_seen = !only_blanks_and_comments(line, len);
    if (!b->has_nul)
        b->has_nul = memchr(line, '\0', len) != NULL;
    b->verdict = PYPARSE_PENDING;
    return 0;
}

/* --- views -------------------------------------------------------------- */

static struct pyparse_view
view_of(const struct pyparse_buf *b, bool nl_view)
{
    const struct pyparse_tokens *tail = nl_view ? &b->tail_nl : &b->tail;
    size_t len = b->text_len + (nl_view && !b->ends_cr ? 1 : 0);
    return (struct pyparse_view){ b->text, len, b->head.t, b->head.n, tail->t, tail->n };
}

static const struct pyparse_token *
token_at(const struct pyparse_view *v, size_t i)
{
    return i < v->nhead ? &v->head[i] : &v->tail[i - v->nhead];
}

/* The type the 'single' parser sees at position i of a view of n tokens:
 * its first ENDMARKER (not the first token) is the statement's NEWLINE,
 * and past the end the tokenizer keeps returning ENDMARKER, which the
 * parser turns into NEWLINE every other time. */
static int
parsed_type(const struct pyparse_view *v, size_t i)
{
    size_t n = v->nhead + v->ntail;
    int type = token_at(v, i < n ? i : n - 1)->type;
    if (type != PYPARSE_T_ENDMARKER || i + 1 < n)
        return type;
    size_t past = i - (n - 1);      /* 0 at the ENDMARKER itself */
    bool started = n > 1;           /* a token before it started parsing */
    return (past % 2 == 0) == started ? PYPARSE_T_NEWLINE : PYPARSE_T_ENDMARKER;
}

/* Does the parser look at this token's text (beyond its type)? */
static bool
text_matters(int type)
{
    return type == PYPARSE_T_NAME || type == PYPARSE_T_NUMBER || type == PYPARSE_T_STRING ||
           type == PYPARSE_T_OP || type == PYPARSE_T_NOTEQUAL;
}

/* The first position where the two views differ in what a successful
 * parse sees (types, and texts where they matter); each view ends with
 * ENDMARKER or ERROR. */
static size_t
first_difference(const struct pyparse_view *a, const struct pyparse_view *b)
{
    size_t na = a->nhead + a->ntail, nb = b->nhead + b->ntail;
    size_t i = a->nhead < b->nhead ? a->nhead : b->nhead;  /* heads are shared */
    size_t stop = (na > nb ? na : nb) + 2;
    for (; i < stop; i++) {
        if (parsed_type(a, i) != parsed_type(b, i))
            return i;
        if (i >= na || i >= nb)
            continue;   /* past an end: ENDMARKERs, no text */
        const struct pyparse_token *x = token_at(a, i), *y = token_at(b, i);
        if (text_matters(x->type) && (x->start != y->start || x->end != y->end))
            return i;
    }
    return stop;
}

/* --- the exact verdict -------------------------------------------------- */

static unsigned
run_mode(const struct pyparse_buf *b, unsigned futures)
{
    unsigned mode = PYPARSE_RUN_SINGLE;
    if (b->flags & PYPARSE_TOP_LEVEL_AWAIT)
        mode |= PYPARSE_RUN_TOP_AWAIT;
    if (futures & PYPARSE_FUTURE_BARRY)
        mode |= PYPARSE_RUN_BARRY;
    if (futures & PYPARSE_FUTURE_ANNOTATIONS)
        mode |= PYPARSE_RUN_ANNOTATIONS;
    return mode;
}

static enum pyparse_result
parse_view(struct pyparse_buf *b, const struct pyparse_view *v, unsigned futures,
           struct pyparse_run_info *info, const atomic_int *cancel)
{
    enum pyparse_result r = pyparse_peg_run(v, pyparse_rule_interactive, run_mode(b, futures),
                                            0, info, &b->scratch, cancel);
    b->work += info->calls;
    b->parsed_size = v->nhead + v->ntail;
    return r;
}

static bool plain_cannot_parse(const struct pyparse_buf *b);

/* What codeop says, parsing both views as needed. *futures_out gets the
 * __future__ features codeop's compiler would remember after it: those
 * of a compile that succeeded. */
static enum pyparse_verdict
judge_exact(struct pyparse_buf *b, const atomic_int *cancel, unsigned *futures_out)
{
    struct pyparse_view nl = view_of(b, true), plain = view_of(b, false);
    struct pyparse_run_info info_nl, info;
    unsigned futures = b->futures;
    *futures_out = futures;
    if (nl.ntail == 0 || plain.ntail == 0)
        return PYPARSE_ERROR;   /* a push ran out of memory: let Python judge */
    enum pyparse_result with_newline = parse_view(b, &nl, futures, &info_nl, cancel);
    if (with_newline == PYPARSE_RUN_CANCELLED)
        return PYPARSE_CANCELLED;
    if (with_newline == PYPARSE_NO_MEMORY)
        return PYPARSE_ERROR;
    /* Too deep a tree: the text without the newline parses to the same
     * one, or fails with a SyntaxError after which codeop compiles it
     * with the newline: a RecursionError either way. */
    if (with_newline == PYPARSE_OTHER_ERROR && info_nl.depth > PYPARSE_AST_DEPTH_MAX)
        return PYPARSE_ERROR;
    bool unfinished = info_nl.done == PYPARSE_EOFS ||
                      (info_nl.done == PYPARSE_EOF && info_nl.level > 0);
    enum pyparse_result plain_res;
    unsigned plain_futures = 0;
    if (info_nl.max_read < nl.len) {
        plain_res = with_newline;   /* the added newline was never read */
        plain_futures = info_nl.futures;
    }
    else if (unfinished || plain_cannot_parse(b)) {
        plain_res = PYPARSE_SYNTAX_ERROR;
    }
    else if (with_newline == PYPARSE_PARSED &&
             info_nl.fetched <= first_difference(&nl, &plain)) {
        plain_res = PYPARSE_PARSED; /* the same tokens, the same tree */
        plain_futures = info_nl.futures;
    }
    else {
        plain_res = parse_view(b, &plain, futures, &info, cancel);
        plain_futures = info.futures;
    }
    switch (plain_res) {
    case PYPARSE_RUN_CANCELLED:
        return PYPARSE_CANCELLED;
    case PYPARSE_NO_MEMORY:
    case PYPARSE_OTHER_ERROR:
        return PYPARSE_ERROR;
    case PYPARSE_PARSED:
        if (b->one_shot)
            return PYPARSE_COMPLETE;
        /* compile(src) succeeded: its futures join the compiler's flags,
         * and codeop compiles src again with them */
        *futures_out = futures | plain_futures;
        if (plain_futures & ~futures & PYPARSE_FUTURE_BARRY) {
            enum pyparse_result again = parse_view(b, &plain, futures | plain_futures, &info,
                                                   cancel);
            if (again == PYPARSE_RUN_CANCELLED) {
                *futures_out = futures;
                return PYPARSE_CANCELLED;
            }
            if (again != PYPARSE_PARSED)
                return PYPARSE_ERROR;
        }
        return PYPARSE_COMPLETE;
    default:
        break;
    }
    switch (with_newline) {
    case PYPARSE_PARSED:
        if (!b->one_shot)
            *futures_out = futures | info_nl.futures;
        return PYPARSE_INCOMPLETE;
    case PYPARSE_INCOMPLETE_INPUT:
        return PYPARSE_INCOMPLETE;
    default:
        return PYPARSE_ERROR;
    }
}

/* --- when to parse ------------------------------------------------------- */

static const struct pyparse_token *
last_token(const struct pyparse_tokens *tail)
{
    return &tail->t[tail->n - 1];
}

/* The view ends inside a bracket, a string that goes on at the next line,
 * or a backslash continuation: compile() of it cannot succeed. */
static bool
view_open(const struct pyparse_tokens *tail)
{
    const struct pyparse_token *t = last_token(tail);
    if (t->type == PYPARSE_T_ERROR)
        return t->done == PYPARSE_EOF || t->done == PYPARSE_EOFS || t->done == PYPARSE_EOLS;
    return t->level > 0;
}

static bool
tokenizer_error(const struct pyparse_tokens *tail)
{
    const struct pyparse_token *t = last_token(tail);
    return t->type == PYPARSE_T_ERROR && t->done == PYPARSE_TOKERR;
}

static bool
is_keyword(int type, const char *word)
{
    return type >= PYPARSE_T_KEYWORD &&
           strcmp(pyparse_keywords[type - PYPARSE_T_KEYWORD], word) == 0;
}

/* The buffer starts with a compound statement: a decorator, a keyword that
 * starts one, or 'match' on a first line that ends with ':'. */
static bool
compound_statement(const struct pyparse_buf *b)
{
    struct pyparse_view v = view_of(b, false);
    const struct pyparse_token *t = pyparse_view_token(&v, 0);
    static const char *const heads[] = { "if", "while", "for", "try", "with", "def", "class" };
    if (t->type == PYPARSE_T_AT || t->type == PYPARSE_T_ASYNC)
        return true;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (is_keyword(t->type, heads[i]))
            return true;
    if (t->type != PYPARSE_T_NAME || t->end - t->start != 5 ||
        memcmp(b->text + t->start, "match", 5) != 0)
        return false;
    size_t n = v.nhead + v.ntail;
    for (size_t i = 1; i < n; i++) {
        const struct pyparse_token *u = pyparse_view_token(&v, i);
        if (u->type == PYPARSE_T_NEWLINE)
            return pyparse_view_token(&v, i - 1)->type == PYPARSE_T_COLON;
    }
    return false;
}

/* A token of the last line's own text is code. */
static bool
last_line_has_code(const struct pyparse_buf *b)
{
    for (size_t i = b->tail.n; i-- > 0;) {
        const struct pyparse_token *t = &b->tail.t[i];
        if (t->start < b->last_line)
            break;
        switch (t->type) {
        case PYPARSE_T_NEWLINE:
        case PYPARSE_T_INDENT:
        case PYPARSE_T_DEDENT:
        case PYPARSE_T_ENDMARKER:
        case PYPARSE_T_ERROR:
            break;
        default:
            return true;
        }
    }
    return false;
}

/* The last line starts at the first column, in a compound statement: a
 * clause (else:, except ...:) or a statement that cannot follow (an
 * error, at once): where a long statement's verdict may change. */
static bool
at_top_level(const struct pyparse_buf *b)
{
    if (b->last_line >= b->text_len)
        return false;
    char c = b->text[b->last_line];
    return c != ' ' && c != '\t' && c != '\f' && compound_statement(b);
}

/* compile(src) cannot succeed: src ends inside a bracket, a string or a
 * continuation, or in a compound statement, which cannot be complete
 * before a line without code ends it (a comment line may end a one-line
 * "if x: y"). codeop's verdict is then that of compile(src + "\n"). */
static bool
plain_cannot_parse(const struct pyparse_buf *b)
{
    return view_open(&b->tail) || (compound_statement(b) && last_line_has_code(b));
}

/* The fast path: compile(src) cannot succeed, and neither can
 * compile(src + "\n") be an error unless the text holds a syntax error
 * already, which stays one as text is added: codeop says incomplete but
 * for such an error. */
static bool
statement_open(const struct pyparse_buf *b)
{
    if (view_open(&b->tail) && view_open(&b->tail_nl))
        return true;
    if (tokenizer_error(&b->tail) || tokenizer_error(&b->tail_nl))
        return false;
    return compound_statement(b) && last_line_has_code(b);
}

/* A hash of what the parser sees of a view's tokens from `from` on:
 * types, the tokenizer's state after them, and for tokens with a text
 * that matters, where the text is (the text only grows, so the place
 * says what it holds; hashing the bytes would read long strings at every
 * push). */
static uint64_t
view_hash(const struct pyparse_buf *b, const struct pyparse_tokens *tail, size_t from)
{
    uint64_t h = 14695981039346656037u;     /* FNV-1a, a word at a time */
    size_t total = b->head.n + tail->n;
    for (size_t i = from; i < total; i++) {
        const struct pyparse_token *t = i < b->head.n ? &b->head.t[i] : &tail->t[i - b->head.n];
        uint64_t word = (uint64_t)t->type | (uint64_t)t->done << 8 | (uint64_t)t->level << 16;
        h = (h ^ word) * 1099511628211u;
        if (text_matters(t->type) || t->type == PYPARSE_T_ERROR)
            h = (h ^ ((uint64_t)t->start << 32 | t->end)) * 1099511628211u;
    }
    return h;
}

/* The view holds what it held when last judged exactly (a push of a blank
 * line after another one): the parser would see the same tokens. */
static bool
view_unchanged(const struct pyparse_buf *b, int view)
{
    const struct pyparse_tokens *tail = view ? &b->tail_nl : &b->tail;
    size_t total = b->head.n + tail->n;
    return b->head.n >= b->judged_head && total == b->judged_head + b->judged_count[view] &&
           view_hash(b, tail, b->judged_head) == b->judged_hash[view];
}

/* The verdict when known without parsing, else PENDING with *cost. */
static enum pyparse_verdict
decide(struct pyparse_buf *b, size_t *cost)
{
    *cost = 0;
    if (b->verdict != PYPARSE_PENDING)
        return b->verdict;
    if (!b->code_seen)
        return b->verdict = PYPARSE_NOTHING;
    if (b->has_nul)
        return b->verdict = PYPARSE_ERROR;  /* ValueError: null bytes */
    if (b->judged_valid && view_unchanged(b, 0) && view_unchanged(b, 1))
        return b->verdict = b->judged;
    size_t ntail = b->tail.n > b->tail_nl.n ? b->tail.n : b->tail_nl.n;
    size_t size = b->head.n + ntail;
    bool open = statement_open(b);
    /* rule calls: tokens the last parse read again cost a few, through its
     * memos; new ones a full descent of the grammar each */
    size_t again = (size_t)b->scratch.reusable < size ? (size_t)b->scratch.reusable : size;
    *cost = (CALLS_PER_TOKEN * (size - again) + CALLS_PER_TOKEN_AGAIN * again) * (open ? 1 : 2);
    if ((b->flags & PYPARSE_BUF_EXACT) || !open)
        return PYPARSE_PENDING;
    if (b->work + *cost <= PYPARSE_EXACT_BUDGET || size >= 2 * b->parsed_size)
        return PYPARSE_PENDING;
    if (at_top_level(b) &&
        b->work + *cost <= PYPARSE_EXACT_BUDGET + PYPARSE_BUDGET_FACTOR * CALLS_PER_TOKEN * size)
        return PYPARSE_PENDING;
    b->verdict_fast = true;
    return b->verdict = PYPARSE_INCOMPLETE;
}

enum pyparse_verdict
pyparse_buf_judge(struct pyparse_buf *b, const atomic_int *cancel)
{
    size_t cost;
    enum pyparse_verdict v = decide(b, &cost);
    if (v != PYPARSE_PENDING)
        return v;
    size_t work = b->work, parsed_size = b->parsed_size;
    unsigned futures;
    v = judge_exact(b, cancel, &futures);
    if (v == PYPARSE_CANCELLED) {
        b->work = work;
        b->parsed_size = parsed_size;
        return v;
    }
    b->futures = futures;
    b->verdict = v;
    b->verdict_fast = false;
    b->judged = v;
    b->judged_head = b->head.n;
    b->judged_count[0] = b->tail.n;
    b->judged_count[1] = b->tail_nl.n;
    b->judged_hash[0] = view_hash(b, &b->tail, b->head.n);
    b->judged_hash[1] = view_hash(b, &b->tail_nl, b->head.n);
    b->judged_valid = true;
    return v;
}

enum pyparse_verdict
pyparse_buf_quick(struct pyparse_buf *b, size_t *cost)
{
    size_t c;
    enum pyparse_verdict v = decide(b, &c);
    if (v == PYPARSE_PENDING && c <= PYPARSE_INLINE_COST)
        return pyparse_buf_judge(b, NULL);
    if (cost)
        *cost = c;
    return v;
}

/* --- one shot ------------------------------------------------------------ */

enum pyparse_verdict
pyparse_verdict(const char *src, size_t len)
{
    return pyparse_verdict_flags(src, len, 0);
}

enum pyparse_verdict
pyparse_verdict_flags(const char *src, size_t len, unsigned flags)
{
    if (!src)
        return len ? PYPARSE_ERROR : PYPARSE_COMPLETE;
    struct pyparse_buf *b;
    if (pyparse_buf_new(&b, (flags & PYPARSE_TOP_LEVEL_AWAIT) | PYPARSE_BUF_EXACT) < 0)
        return PYPARSE_ERROR;
    b->one_shot = true;
    enum pyparse_verdict v = PYPARSE_ERROR;
    if (pyparse_buf_push(b, src, len) == 0)
        v = pyparse_buf_judge(b, NULL);
    pyparse_buf_free(b);
    return v == PYPARSE_NOTHING ? PYPARSE_COMPLETE : v;
}
