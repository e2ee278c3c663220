/* Tokenizer with CPython 3.11's rules (Parser/tokenizer.c, string input).
 *
 * What matters here is not only which tokens come out but how far the
 * tokenizer read: CPython calls input incomplete when the parser fails
 * after the tokenizer tried to read past the last character, which also
 * happens in its one-character look-aheads (after numbers and operators,
 * while skipping blank lines inside brackets). So characters are read one
 * at a time through tok_next, which records that attempt exactly. */
#include "pyparse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABSIZE 8
#define MAXINDENT 100
#define MAXLEVEL 200
#define END (-1)

void
pyparse_tok_init(struct pyparse_tok *tok, const char *buf, size_t len)
{
    memset(tok, 0, sizeof *tok);
    tok->buf = buf;
    tok->len = len;
    tok->atbol = true;
    tok->snap_at = SIZE_MAX;
}

/* At the start of a line: the state is all in *tok here, so the line can
 * be tokenized again from this point once more text follows it. */
static void
tok_snapshot(struct pyparse_tok *tok)
{
    if (tok->cur == tok->snap_at && tok->snap && !tok->snapped) {
        *tok->snap = *tok;
        tok->snapped = true;
    }
}

static int
tok_next(struct pyparse_tok *tok)
{
    if (tok->cur < tok->len) {
        int c = (unsigned char)tok->buf[tok->cur++];
        if (tok->cur > tok->max_read)
            tok->max_read = tok->cur;
        return c;
    }
    tok->max_read = tok->len + 1;
    if (tok->done == PYPARSE_OK)
        tok->done = PYPARSE_EOF;
    return END;
}

static void
tok_back(struct pyparse_tok *tok, int c)
{
    if (c != END)
        tok->cur--;
}

static int
tok_error(struct pyparse_tok *tok)
{
    tok->done = PYPARSE_TOKERR;
    return PYPARSE_T_ERROR;
}

static bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool
is_xdigit(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_id_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 128;
}

static bool
is_id_char(int c)
{
    return is_id_start(c) || is_digit(c);
}

/* Decodes one UTF-8 sequence (the caller guarantees validity). */
static uint32_t
utf8_decode(const unsigned char *s, size_t *n)
{
    if (s[0] < 0x80) {
        *n = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *n = 2;
        return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *n = 3;
        return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    }
    *n = 4;
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
           ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

/* An identifier with non-ASCII characters must be a valid identifier
 * (str.isidentifier) as it is written, before NFKC normalisation. */
static bool
identifier_valid(const struct pyparse_tok *tok)
{
    const unsigned char *s = (const unsigned char *)tok->buf + tok->start;
    const unsigned char *e = (const unsigned char *)tok->buf + tok->cur;
    bool first = true;
    while (s < e) {
        size_t n;
        if ((size_t)(e - s) < 4 && s[0] >= 0x80) {
            size_t need = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
            if ((size_t)(e - s) < need)
                return false;
        }
        uint32_t cp = utf8_decode(s, &n);
        bool ok = first ? (cp == '_' || pyparse_uni_id_start(cp)) : pyparse_uni_id_continue(cp);
        if (!ok)
            return false;
        first = false;
        s += n;
    }
    return true;
}

/* Reads "for" etc. after a number without consuming it. */
static bool
lookahead(struct pyparse_tok *tok, const char *test)
{
    size_t save = tok->cur;
    const char *s = test;
    bool res = false;
    for (;;) {
        int c = tok_next(tok);
        if (*s == 0) {
            res = !is_id_char(c);
            break;
        }
        if (c != (unsigned char)*s)
            break;
        s++;
    }
    tok->cur = save;
    return res;
}

/* 3.11 rejects a number run into a name, except before the keywords that
 * can follow a number in valid code (only a warning there). */
static bool
end_of_number_ok(struct pyparse_tok *tok, int c)
{
    bool r = false;
    if (c == 'a')
        r = lookahead(tok, "nd");
    else if (c == 'e')
        r = lookahead(tok, "lse");
    else if (c == 'f')
        r = lookahead(tok, "or");
    else if (c == 'i') {
        int c2 = tok_next(tok);
        r = c2 == 'f' || c2 == 'n' || c2 == 's';
        tok_back(tok, c2);
    }
    else if (c == 'o')
        r = lookahead(tok, "r");
    else if (c == 'n')
        r = lookahead(tok, "ot");
    if (r)
        return true;
    return !is_id_char(c);
}

/* Digits and single underscores; returns the first other character, or 0
 * after an error. */
static int
decimal_tail(struct pyparse_tok *tok)
{
    int c;
    for (;;) {
        do
            c = tok_next(tok);
        while (is_digit(c));
        if (c != '_')
            break;
        c = tok_next(tok);
        if (!is_digit(c)) {
            tok_back(tok, c);
            tok_error(tok);
            return 0;
        }
    }
    return c;
}

/* After a backslash: the next character must be a newline, and something
 * must follow it. Returns -2 on error. */
static int
continuation_line(struct pyparse_tok *tok)
{
    int c = tok_next(tok);
    if (c != '\n') {
        tok->done = PYPARSE_TOKERR;
        return -2;
    }
    c = tok_next(tok);
    if (c == END) {
        tok->done = PYPARSE_EOF;
        tok->cur = tok->len;
        return -2;
    }
    tok_back(tok, c);
    return c;
}

static int
one_char(int c)
{
    switch (c) {
    case '(': return PYPARSE_T_LPAR;
    case ')': return PYPARSE_T_RPAR;
    case '[': return PYPARSE_T_LSQB;
    case ']': return PYPARSE_T_RSQB;
    case ':': return PYPARSE_T_COLON;
    case ',': return PYPARSE_T_COMMA;
    case ';': return PYPARSE_T_SEMI;
    case '+': return PYPARSE_T_PLUS;
    case '-': return PYPARSE_T_MINUS;
    case '*': return PYPARSE_T_STAR;
    case '/': return PYPARSE_T_SLASH;
    case '|': return PYPARSE_T_VBAR;
    case '&': return PYPARSE_T_AMPER;
    case '<': return PYPARSE_T_LESS;
    case '>': return PYPARSE_T_GREATER;
    case '=': return PYPARSE_T_EQUAL;
    case '.': return PYPARSE_T_DOT;
    case '%': return PYPARSE_T_PERCENT;
    case '{': return PYPARSE_T_LBRACE;
    case '}': return PYPARSE_T_RBRACE;
    case '~': return PYPARSE_T_TILDE;
    case '^': return PYPARSE_T_CIRCUMFLEX;
    case '@': return PYPARSE_T_AT;
    default: return PYPARSE_T_OP;
    }
}

static int
two_chars(int c1, int c2)
{
    if (c2 == '=') {
        switch (c1) {
        case '=': return PYPARSE_T_EQEQUAL;
        case '!': return PYPARSE_T_NOTEQUAL;
        case '<': return PYPARSE_T_LESSEQUAL;
        case '>': return PYPARSE_T_GREATEREQUAL;
        case '+': return PYPARSE_T_PLUSEQUAL;
        case '-': return PYPARSE_T_MINEQUAL;
        case '*': return PYPARSE_T_STAREQUAL;
        case '/': return PYPARSE_T_SLASHEQUAL;
        case '%': return PYPARSE_T_PERCENTEQUAL;
        case '&': return PYPARSE_T_AMPEREQUAL;
        case '|': return PYPARSE_T_VBAREQUAL;
        case '^': return PYPARSE_T_CIRCUMFLEXEQUAL;
        case '@': return PYPARSE_T_ATEQUAL;
        case ':': return PYPARSE_T_COLONEQUAL;
        default: return PYPARSE_T_OP;
        }
    }
    if (c1 == '<' && c2 == '<')
        return PYPARSE_T_LEFTSHIFT;
    if (c1 == '>' && c2 == '>')
        return PYPARSE_T_RIGHTSHIFT;
    if (c1 == '*' && c2 == '*')
        return PYPARSE_T_DOUBLESTAR;
    if (c1 == '/' && c2 == '/')
        return PYPARSE_T_DOUBLESLASH;
    if (c1 == '-' && c2 == '>')
        return PYPARSE_T_RARROW;
    if (c1 == '<' && c2 == '>')
        return PYPARSE_T_NOTEQUAL;
    return PYPARSE_T_OP;
}

static int
three_chars(int c1, int c2, int c3)
{
    if (c3 == '=') {
        if (c1 == '<' && c2 == '<')
            return PYPARSE_T_LEFTSHIFTEQUAL;
        if (c1 == '>' && c2 == '>')
            return PYPARSE_T_RIGHTSHIFTEQUAL;
        if (c1 == '*' && c2 == '*')
            return PYPARSE_T_DOUBLESTAREQUAL;
        if (c1 == '/' && c2 == '/')
            return PYPARSE_T_DOUBLESLASHEQUAL;
    }
    if (c1 == '.' && c2 == '.' && c3 == '.')
        return PYPARSE_T_ELLIPSIS;
    return PYPARSE_T_OP;
}

/* The indentation of a new logical line; returns a token type only on
 * error, else 0. */
static int
read_indentation(struct pyparse_tok *tok, bool *blankline)
{
    int col = 0, altcol = 0, cont_line_col = 0;
    int c;
    if (tok->in_indent) {
        /* resumed after a backslash continuation in the indentation */
        col = tok->ind_col;
        altcol = tok->ind_altcol;
        cont_line_col = tok->ind_cont;
        tok->in_indent = false;
    }
    tok->atbol = false;
    for (;;) {
        c = tok_next(tok);
        if (c == ' ') {
            col++;
            altcol++;
        }
        else if (c == '\t') {
            col = (col / TABSIZE + 1) * TABSIZE;
            altcol = altcol + 1;
        }
        else if (c == '\014') {
            col = altcol = 0;
        }
        else if (c == '\\') {
            cont_line_col = cont_line_col ? cont_line_col : col;
            if (continuation_line(tok) == -2)
                return PYPARSE_T_ERROR;
            tok->in_indent = true;
            tok->ind_col = col;
            tok->ind_altcol = altcol;
            tok->ind_cont = cont_line_col;
            tok_snapshot(tok);
            tok->in_indent = false;
        }
        else {
            break;
        }
    }
    tok_back(tok, c);
    if (c == '#' || c == '\n')
        *blankline = true;      /* string input has no interactive prompt */
    if (*blankline || tok->level != 0)
        return 0;
    if (cont_line_col) {
        col = cont_line_col;
        altcol = cont_line_col;
    }
    if (col == tok->indstack[tok->indent]) {
        if (altcol != tok->altindstack[tok->indent])
            return tok_error(tok);
    }
    else if (col > tok->indstack[tok->indent]) {
        if (tok->indent + 1 >= MAXINDENT)
            return tok_error(tok);
        if (altcol <= tok->altindstack[tok->indent])
            return tok_error(tok);
        tok->pendin++;
        tok->indent++;
        tok->indstack[tok->indent] = col;
        tok->altindstack[tok->indent] = altcol;
    }
    else {
        while (tok->indent > 0 && col < tok->indstack[tok->indent]) {
            tok->pendin--;
            tok->indent--;
        }
        if (col != tok->indstack[tok->indent])
            return tok_error(tok);      /* unindent does not match */
        if (altcol != tok->altindstack[tok->indent])
            return tok_error(tok);
    }
    return 0;
}

/* c is the first digit; after_dot when it followed a '.' already read. */
static int
read_number(struct pyparse_tok *tok, int c, bool after_dot)
{
    if (after_dot)
        goto fraction;
    if (c == '0') {
        c = tok_next(tok);
        if (c == 'x' || c == 'X' || c == 'o' || c == 'O' || c == 'b' || c == 'B') {
            int base = (c == 'x' || c == 'X') ? 16 : (c == 'o' || c == 'O') ? 8 : 2;
            c = tok_next(tok);
            do {
                if (c == '_')
                    c = tok_next(tok);
                bool ok = base == 16 ? is_xdigit(c) : (c >= '0' && c < '0' + base);
                if (!ok) {
                    if (base != 16 && is_digit(c))
                        return tok_error(tok);
                    tok_back(tok, c);
                    return tok_error(tok);
                }
                do
                    c = tok_next(tok);
                while (base == 16 ? is_xdigit(c) : (c >= '0' && c < '0' + base));
            } while (c == '_');
            if (base != 16 && is_digit(c))
                return tok_error(tok);
            if (!end_of_number_ok(tok, c))
                return tok_error(tok);
            tok_back(tok, c);
            return PYPARSE_T_NUMBER;
        }
        bool nonzero = false;
        for (;;) {
            if (c == '_') {
                c = tok_next(tok);
                if (!is_digit(c)) {
                    tok_back(tok, c);
                    return tok_error(tok);
                }
            }
            if (c != '0')
                break;
            c = tok_next(tok);
        }
        if (is_digit(c)) {
            nonzero = true;
            c = decimal_tail(tok);
            if (c == 0)
                return PYPARSE_T_ERROR;
        }
        if (c == '.') {
            c = tok_next(tok);
            goto fraction;
        }
        if (c == 'e' || c == 'E')
            goto exponent;
        if (c == 'j' || c == 'J')
            goto imaginary;
        if (nonzero) {
            tok_back(tok, c);
            return tok_error(tok);      /* leading zeros */
        }
        if (!end_of_number_ok(tok, c))
            return tok_error(tok);
        tok_back(tok, c);
        return PYPARSE_T_NUMBER;
    }
    c = decimal_tail(tok);
    if (c == 0)
        return PYPARSE_T_ERROR;
    if (c == '.') {
        c = tok_next(tok);
fraction:
        if (is_digit(c)) {
            c = decimal_tail(tok);
            if (c == 0)
                return PYPARSE_T_ERROR;
        }
    }
    if (c == 'e' || c == 'E') {
        int e;
exponent:
        e = c;
        c = tok_next(tok);
        if (c == '+' || c == '-') {
            c = tok_next(tok);
            if (!is_digit(c)) {
                tok_back(tok, c);
                return tok_error(tok);
            }
        }
        else if (!is_digit(c)) {
            tok_back(tok, c);
            if (!end_of_number_ok(tok, e))
                return tok_error(tok);
            tok_back(tok, e);
            return PYPARSE_T_NUMBER;
        }
        c = decimal_tail(tok);
        if (c == 0)
            return PYPARSE_T_ERROR;
    }
    if (c == 'j' || c == 'J') {
imaginary:
        c = tok_next(tok);
        if (!end_of_number_ok(tok, c))
            return tok_error(tok);
    }
    else if (!end_of_number_ok(tok, c)) {
        return tok_error(tok);
    }
    tok_back(tok, c);
    return PYPARSE_T_NUMBER;
}

/* The body of a string literal after its opening quotes, up to and
 * with its closing ones; *tok records the string while it is read, so
 * a snapshot taken at a line start inside it can resume the string. */
static int
string_body(struct pyparse_tok *tok, int quote, int quote_size)
{
    int end_quote_size = 0;
    tok->str_quote = (char)quote;
    tok->str_size = (uint8_t)quote_size;
    tok->str_start = tok->start;
    while (end_quote_size != quote_size) {
        int c = tok_next(tok);
        if (c == END || (quote_size == 1 && c == '\n')) {
            if (c == END)
                tok->done = quote_size == 3 ? PYPARSE_EOFS : PYPARSE_EOLS;
            else
                tok->done = PYPARSE_TOKERR;
            tok->str_quote = 0;
            return PYPARSE_T_ERROR;
        }
        if (c == quote) {
            end_quote_size++;
            continue;
        }
        end_quote_size = 0;
        if (c == '\\')
            c = tok_next(tok);      /* the escaped character */
        if (c == '\n')
            tok_snapshot(tok);
    }
    tok->str_quote = 0;
    return PYPARSE_T_STRING;
}

/* c is the opening quote. */
static int
read_string(struct pyparse_tok *tok, int quote)
{
    int quote_size = 1;
    int c = tok_next(tok);
    if (c == quote) {
        c = tok_next(tok);
        if (c == quote)
            quote_size = 3;
        else {
            tok_back(tok, c);
            return PYPARSE_T_STRING;    /* the empty string */
        }
    }
    else {
        tok_back(tok, c);
    }
    return string_body(tok, quote, quote_size);
}

static int
read_name_or_string(struct pyparse_tok *tok, int c)
{
    bool saw_b = false, saw_r = false, saw_u = false, saw_f = false;
    bool nonascii = false;
    for (;;) {
        if (!(saw_b || saw_u || saw_f) && (c == 'b' || c == 'B'))
            saw_b = true;
        else if (!(saw_b || saw_u || saw_r || saw_f) && (c == 'u' || c == 'U'))
            saw_u = true;
        else if (!(saw_r || saw_u) && (c == 'r' || c == 'R'))
            saw_r = true;
        else if (!(saw_f || saw_b || saw_u) && (c == 'f' || c == 'F'))
            saw_f = true;
        else
            break;
        c = tok_next(tok);
        if (c == '"' || c == '\'')
            return read_string(tok, c);
    }
    while (is_id_char(c)) {
        if (c >= 128)
            nonascii = true;
        c = tok_next(tok);
    }
    tok_back(tok, c);
    if (nonascii && !identifier_valid(tok))
        return tok_error(tok);
    size_t n = tok->cur - tok->start;
    if (n == 5 && memcmp(tok->buf + tok->start, "async", 5) == 0)
        return PYPARSE_T_ASYNC;
    if (n == 5 && memcmp(tok->buf + tok->start, "await", 5) == 0)
        return PYPARSE_T_AWAIT;
    return PYPARSE_T_NAME;
}

static int
tok_get(struct pyparse_tok *tok)
{
    int c;
    bool blankline;
    if (tok->str_quote) {
        /* resumed inside a string that spans lines */
        tok->start = tok->str_start;
        return string_body(tok, tok->str_quote, tok->str_size);
    }
nextline:
    blankline = false;
    if (tok->atbol)
        tok_snapshot(tok);
    if (tok->atbol || tok->in_indent) {
        int r = read_indentation(tok, &blankline);
        if (r)
            return r;
    }
    tok->start = tok->cur;
    if (tok->pendin != 0) {
        if (tok->pendin < 0) {
            tok->pendin++;
            return PYPARSE_T_DEDENT;
        }
        tok->pendin--;
        return PYPARSE_T_INDENT;
    }
again:
    do
        c = tok_next(tok);
    while (c == ' ' || c == '\t' || c == '\014');
    tok->start = c == END ? tok->cur : tok->cur - 1;
    if (c == '#') {
        while (c != END && c != '\n')
            c = tok_next(tok);
    }
    if (c == END)
        return tok->done == PYPARSE_EOF ? PYPARSE_T_ENDMARKER : PYPARSE_T_ERROR;
    if (is_id_start(c))
        return read_name_or_string(tok, c);
    if (c == '\n') {
        tok->atbol = true;
        if (blankline || tok->level > 0)
            goto nextline;
        return PYPARSE_T_NEWLINE;
    }
    if (c == '.') {
        c = tok_next(tok);
        if (is_digit(c))
            return read_number(tok, c, true);
        if (c == '.') {
            c = tok_next(tok);
            if (c == '.')
                return PYPARSE_T_ELLIPSIS;
            tok_back(tok, c);
            tok_back(tok, '.');
        }
        else {
            tok_back(tok, c);
        }
        return PYPARSE_T_DOT;
    }
    if (is_digit(c))
        return read_number(tok, c, false);
    if (c == '\'' || c == '"')
        return read_string(tok, c);
    if (c == '\\') {
        if (continuation_line(tok) == -2)
            return PYPARSE_T_ERROR;
        tok_snapshot(tok);
        goto again;
    }
    {
        int c2 = tok_next(tok);
        int t2 = two_chars(c, c2);
        if (t2 != PYPARSE_T_OP) {
            int c3 = tok_next(tok);
            int t3 = three_chars(c, c2, c3);
            if (t3 != PYPARSE_T_OP)
                return t3;
            tok_back(tok, c3);
            return t2;
        }
        tok_back(tok, c2);
    }
    switch (c) {
    case '(':
    case '[':
    case '{':
        if (tok->level >= MAXLEVEL)
            return tok_error(tok);
        tok->parenstack[tok->level] = (char)c;
        tok->level++;
        break;
    case ')':
    case ']':
    case '}':
        if (!tok->level)
            return tok_error(tok);
        tok->level--;
        {
            int open = tok->parenstack[tok->level];
            if (!((open == '(' && c == ')') || (open == '[' && c == ']') ||
                  (open == '{' && c == '}')))
                return tok_error(tok);
        }
        break;
    default:
        break;
    }
    if (c < 32 || c == 127)
        return tok_error(tok);          /* non-printable character */
    return one_char(c);
}

int
pyparse_tok_get(struct pyparse_tok *tok, size_t *start, size_t *end)
{
    int type = tok_get(tok);
    *start = tok->start;
    *end = tok->cur;
    return type;
}

int
pyparse_keyword_type(const char *s, size_t n)
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

int
pyparse_tokens_reserve(struct pyparse_tokens *arr, size_t n)
{
    if (arr->cap - arr->n >= n)
        return 0;
    void *t = arr->t;
    if (arr->n > SIZE_MAX - n || pyparse_array_grow(&t, &arr->cap, arr->n + n, sizeof *arr->t) < 0)
        return -ENOMEM;
    arr->t = t;
    return 0;
}

int
pyparse_lex(struct pyparse_tok *tok, struct pyparse_tokens *arr, size_t *snap_ntok)
{
    for (;;) {
        if (arr->n == arr->cap && pyparse_tokens_reserve(arr, 1) < 0)
            return -ENOMEM;
        bool snapped = tok->snapped;
        size_t before = arr->n;
        size_t start, end;
        int type = pyparse_tok_get(tok, &start, &end);
        if (!snapped && tok->snapped && snap_ntok)
            *snap_ntok = before;
        if (type == PYPARSE_T_NAME)
            type = pyparse_keyword_type(tok->buf + start, end - start);
        struct pyparse_token *t = &arr->t[arr->n++];
        t->start = (uint32_t)start;
        t->end = (uint32_t)end;
        t->read = (uint32_t)tok->max_read;
        t->type = (uint8_t)type;
        t->done = (uint8_t)tok->done;
        t->level = (uint8_t)tok->level;
        t->indent = (uint8_t)tok->indent;
        if (type == PYPARSE_T_ENDMARKER || type == PYPARSE_T_ERROR)
            return 0;
    }
}
