/* String and number literal checks that CPython 3.11 makes while parsing
 * (Parser/string_parser.c, _PyPegen_number_token): escape sequences, bytes
 * that must be ASCII, bytes mixed with str, f-string structure and the
 * expressions inside f-strings, and the 4300-digit limit of int literals.
 * Only whether an error is raised matters, not its message. */
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

#define INT_MAX_STR_DIGITS 4300
#define FSTRING_MAXLEVEL 200

/* Error codes of pyparse_str_concat. */
enum {
    STR_OK = 0, STR_SYNTAX = -1, STR_OTHER = -2, STR_INCOMPLETE = -3, STR_CANCELLED = -4,
    STR_NOMEM = -5,
};

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

int
pyparse_str_number(const char *text, size_t len)
{
    if (len >= 2 && text[0] == '0' && strchr("xXoObB", text[1]))
        return 0;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '.' || c == 'e' || c == 'E' || c == 'j' || c == 'J')
            return 0;               /* float or complex: no limit */
        if (c != '_')
            digits++;
    }
    return digits > INT_MAX_STR_DIGITS ? -1 : 0;
}

/* Escapes of a non-raw str literal part: what unicode-escape decoding
 * rejects. */
static int
check_str_escapes(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '\\') {
            i++;
            continue;
        }
        i++;
        if (i >= len)
            break;                  /* a lone trailing backslash stays */
        char c = s[i++];
        size_t need = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
        if (need) {
            uint32_t v = 0;
            for (size_t k = 0; k < need; k++) {
                if (i + k >= len || !is_hex(s[i + k]))
                    return STR_SYNTAX;
                v = v * 16 + (uint32_t)hex_value(s[i + k]);
            }
            if (v > 0x10ffff)
                return STR_SYNTAX;
            i += need;
        }
        else if (c == 'N') {
            if (i >= len || s[i] != '{')
                return STR_SYNTAX;
            size_t start = ++i;
            while (i < len && s[i] != '}')
                i++;
            if (i >= len || i == start)
                return STR_SYNTAX;
            if (!pyparse_uni_name_known(s + start, i - start))
                return STR_SYNTAX;
            i++;
        }
    }
    return STR_OK;
}

static int
check_bytes_escapes(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '\\') {
            i++;
            continue;
        }
        i++;
        if (i >= len)
            break;
        char c = s[i++];
        if (c == 'x') {
            if (i + 1 >= len || !is_hex(s[i]) || !is_hex(s[i + 1]))
                return STR_OTHER;
            i += 2;
        }
    }
    return STR_OK;
}

struct fscan {
    const char *s;          /* current position */
    const char *end;
    bool raw;
    int level;              /* parser stack in use, for the expression parses */
    unsigned inner;         /* PYPARSE_INNER_* of the expressions */
    const atomic_int *cancel;
    int expr_depth;         /* AST levels of the expression compile_expr parsed */
};

static int fstring_part(struct fscan *f, int recurse_lvl, int *values_depth);

static inline int
max_int(int a, int b)
{
    return a > b ? a : b;
}

/* The text between '{' and the end of the expression must parse as
 * star_expressions once wrapped in parentheses. */
static int
compile_expr(struct fscan *f, const char *start, const char *stop)
{
    const char *q = start;
    while (q < stop && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\f'))
        q++;
    if (q == stop)
        return STR_SYNTAX;          /* empty expression */
    size_t n = (size_t)(stop - start);
    char *buf = malloc(n + 3);
    if (!buf)
        return STR_NOMEM;
    buf[0] = '(';
    memcpy(buf + 1, start, n);
    buf[n + 1] = ')';
    buf[n + 2] = '\n';
    struct pyparse_run_info info;
    enum pyparse_result r = pyparse_peg_run_text(buf, n + 3, pyparse_rule_fstring, 0,
                                                 f->level, &info, f->cancel);
    f->inner |= info.inner;
    f->expr_depth = info.depth;
    free(buf);
    switch (r) {
    case PYPARSE_PARSED:
        return STR_OK;
    case PYPARSE_INCOMPLETE_INPUT:
        return STR_INCOMPLETE;      /* "f-string: incomplete input" */
    case PYPARSE_OTHER_ERROR:
        return STR_OTHER;
    case PYPARSE_RUN_CANCELLED:
        return STR_CANCELLED;
    case PYPARSE_NO_MEMORY:
        return STR_NOMEM;
    default:
        return STR_SYNTAX;
    }
}

/* At a '{' that starts an expression: a FormattedValue, whose AST levels
 * go to *depth. */
static int
fstring_expr(struct fscan *f, int recurse_lvl, int *depth)
{
    char quote = 0;
    int string_type = 0;
    int nested = 0;
    char parens[FSTRING_MAXLEVEL];
    if (recurse_lvl >= 2)
        return STR_SYNTAX;          /* nested too deeply */
    f->s++;
    const char *start = f->s;
    for (; f->s < f->end; f->s++) {
        char ch = *f->s;
        if (ch == '\\')
            return STR_SYNTAX;
        if (quote) {
            if (ch == quote) {
                if (string_type == 3) {
                    if (f->s + 2 < f->end && f->s[1] == ch && f->s[2] == ch) {
                        f->s += 2;
                        quote = 0;
                        string_type = 0;
                    }
                }
                else {
                    quote = 0;
                    string_type = 0;
                }
            }
            continue;
        }
        if (ch == '\'' || ch == '"') {
            if (f->s + 2 < f->end && f->s[1] == ch && f->s[2] == ch) {
                string_type = 3;
                f->s += 2;
            }
            else {
                string_type = 1;
            }
            quote = ch;
        }
        else if (ch == '[' || ch == '{' || ch == '(') {
            if (nested >= FSTRING_MAXLEVEL)
                return STR_SYNTAX;
            parens[nested++] = ch;
        }
        else if (ch == '#') {
            return STR_SYNTAX;
        }
        else if (nested == 0 && (ch == '!' || ch == ':' || ch == '}' || ch == '=' ||
                                 ch == '>' || ch == '<')) {
            if (f->s + 1 < f->end) {
                char next = f->s[1];
                if ((ch == '!' || ch == '=' || ch == '<' || ch == '>') && next == '=') {
                    f->s++;
                    continue;
                }
            }
            if (ch == '>' || ch == '<')
                continue;
            break;
        }
        else if (ch == ']' || ch == '}' || ch == ')') {
            if (!nested)
                return STR_SYNTAX;
            char open = parens[--nested];
            if (!((open == '(' && ch == ')') || (open == '[' && ch == ']') ||
                  (open == '{' && ch == '}')))
                return STR_SYNTAX;
        }
    }
    const char *stop = f->s;
    if (quote || nested || f->s >= f->end)
        return STR_SYNTAX;
    int r = compile_expr(f, start, stop);
    if (r != STR_OK)
        return r;
    int inside = f->expr_depth;
    if (*f->s == '=') {
        f->s++;
        while (f->s < f->end && (*f->s == ' ' || *f->s == '\t' || *f->s == '\n' ||
                                 *f->s == '\r' || *f->s == '\f' || *f->s == '\v'))
            f->s++;
        if (f->s >= f->end)
            return STR_SYNTAX;
    }
    if (*f->s == '!') {
        f->s++;
        if (f->s >= f->end)
            return STR_SYNTAX;
        char conv = *f->s++;
        if (conv != 's' && conv != 'r' && conv != 'a')
            return STR_SYNTAX;
    }
    if (f->s < f->end && *f->s == ':') {
        f->s++;
        if (f->s >= f->end)
            return STR_SYNTAX;
        int spec_values;
        r = fstring_part(f, recurse_lvl + 1, &spec_values);
        if (r != STR_OK)
            return r;
        inside = max_int(inside, 1 + spec_values);     /* a JoinedStr */
    }
    if (f->s >= f->end || *f->s != '}')
        return STR_SYNTAX;
    f->s++;
    *depth = 1 + inside;
    return STR_OK;
}

/* A literal run up to an expression's '{' or a nested part's '}'.
 * Returns 1 after a doubled brace (scan on), 0 at the stop, <0 error. */
static int
fstring_literal(struct fscan *f, int recurse_lvl)
{
    const char *s = f->s;
    const char *lit = s;
    int result = 0;
    while (s < f->end) {
        char ch = *s++;
        if (!f->raw && ch == '\\' && s < f->end) {
            ch = *s++;
            if (ch == 'N') {
                if (s < f->end && *s++ == '{') {
                    while (s < f->end && *s++ != '}') {
                    }
                }
                continue;
            }
        }
        if (ch == '{' || ch == '}') {
            if (recurse_lvl == 0) {
                if (s < f->end && *s == ch) {
                    f->s = s + 1;
                    result = 1;
                    goto done;
                }
                if (ch == '}')
                    return STR_SYNTAX;  /* single '}' */
            }
            s--;
            break;
        }
    }
    f->s = s;
done:
    if (!f->raw && s > lit) {
        int r = check_str_escapes(lit, (size_t)(s - lit));
        if (r != STR_OK)
            return r;
    }
    return result;
}

/* The values of a JoinedStr: *values_depth gets their AST levels (0 for
 * none, 1 for constants only). */
static int
fstring_part(struct fscan *f, int recurse_lvl, int *values_depth)
{
    *values_depth = 0;
    for (;;) {
        const char *before = f->s;
        int r = fstring_literal(f, recurse_lvl);
        if (r < 0)
            return r;
        if (f->s != before)
            *values_depth = max_int(*values_depth, 1);     /* a Constant */
        if (r == 1)
            continue;
        if (f->s >= f->end || *f->s == '}')
            break;
        int depth;
        r = fstring_expr(f, recurse_lvl, &depth);
        if (r != STR_OK)
            return r;
        *values_depth = max_int(*values_depth, depth);
    }
    if (recurse_lvl == 0 && f->s < f->end - 1)
        return STR_SYNTAX;
    if (recurse_lvl != 0 && (f->s >= f->end || *f->s != '}'))
        return STR_SYNTAX;
    return STR_OK;
}

/* One literal token: its prefix, then its body. *bytes is set. */
static int
check_literal(const char *tok, size_t len, bool *bytes, int level, unsigned *inner,
              int *values_depth, const atomic_int *cancel)
{
    bool raw = false, fmode = false;
    size_t i = 0;
    *bytes = false;
    while (i < len && tok[i] != '\'' && tok[i] != '"') {
        char c = tok[i++];
        if (c == 'b' || c == 'B')
            *bytes = true;
        else if (c == 'r' || c == 'R')
            raw = true;
        else if (c == 'f' || c == 'F')
            fmode = true;
    }
    if (i >= len)
        return STR_OTHER;
    char quote = tok[i];
    const char *s = tok + i + 1;
    size_t n = len - i - 2;
    if (len - i >= 6 && s[0] == quote && s[1] == quote) {
        s += 2;
        n -= 4;
    }
    *values_depth = n > 0 ? 1 : 0;     /* a Constant */
    if (fmode) {
        struct fscan f = { s, s + n, raw, level, 0, cancel, 0 };
        int r = fstring_part(&f, 0, values_depth);
        *inner |= f.inner;
        return r;
    }
    if (*bytes) {
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)s[k] >= 0x80)
                return STR_SYNTAX;
        return raw ? STR_OK : check_bytes_escapes(s, n);
    }
    return raw ? STR_OK : check_str_escapes(s, n);
}

int
pyparse_str_concat(const struct pyparse_view *view, size_t first, size_t n, int level,
                   unsigned *inner, int *depth, const atomic_int *cancel)
{
    *inner = 0;
    *depth = 1;                 /* a Constant */
    bool first_bytes = false, fmode = false;
    int values = 0;             /* the levels of a JoinedStr's values */
    for (size_t i = 0; i < n; i++) {
        bool bytes;
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed))
            return STR_CANCELLED;
        const struct pyparse_token *t = pyparse_view_token(view, first + i);
        const char *text = view->text + t->start;
        int token_values;
        int r = check_literal(text, t->end - t->start, &bytes, level, inner, &token_values,
                              cancel);
        if (r != STR_OK)
            return r;
        values = max_int(values, token_values);
        for (const char *c = text; *c != '\'' && *c != '"'; c++)
            if (*c == 'f' || *c == 'F')
                fmode = true;
        if (i == 0)
            first_bytes = bytes;
        else if (bytes != first_bytes)
            return STR_SYNTAX;      /* cannot mix bytes and nonbytes */
    }
    if (fmode)
        *depth = 1 + values;    /* a JoinedStr */
    return STR_OK;
}
