/* codeop's decision procedure (Lib/codeop.py, _maybe_compile) on top of
 * the C parser:
 *   - only blank lines and comments: complete ('pass');
 *   - compile(src) succeeds: complete;
 *   - it fails with a SyntaxError: compile(src + "\n") succeeding, or
 *     failing with "incomplete input", means incomplete, anything else is
 *     an error;
 *   - any other exception (NUL bytes, parser too deep): error.
 * src + "\n" is parsed first: when its tokenizer never read the added
 * newline, compile(src) would go exactly the same way, and when it ended
 * inside brackets or a triple-quoted string, compile(src) cannot succeed;
 * either way one parse decides (which halves the time spent on long
 * unfinished literals). */
#include "pyparse.h"
#include "pyparse_int.h"

#include <stdlib.h>
#include <string.h>

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

/* codeop's first test: every line, stripped, is empty or a comment. */
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

/* The tokenizer reads strings with "\r\n" and "\r" turned into "\n". */
static char *
translate_newlines(const char *src, size_t len, bool add_newline, size_t *out_len)
{
    char *buf = malloc(len + 2);
    if (!buf)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            buf[o++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        }
        else {
            buf[o++] = src[i];
        }
    }
    if (add_newline) {
        if (len && src[len - 1] == '\r')
            ;   /* "\r" + "\n" is one newline, already written */
        else
            buf[o++] = '\n';
    }
    *out_len = o;
    return buf;
}

static enum pyparse_result
compile_source(const char *src, size_t len, bool add_newline, unsigned mode,
               struct pyparse_run_info *info, size_t *text_len)
{
    size_t n = 0;
    char *buf = translate_newlines(src, len, add_newline, &n);
    *text_len = n;
    if (!buf) {
        if (info)
            *info = (struct pyparse_run_info){ 0, 0, PYPARSE_OK, 0 };
        return PYPARSE_OTHER_ERROR;     /* MemoryError */
    }
    enum pyparse_result r = pyparse_peg_run(buf, n, pyparse_rule_interactive, mode, 0, info);
    free(buf);
    return r;
}

enum pyparse_verdict
pyparse_verdict(const char *src, size_t len)
{
    return pyparse_verdict_flags(src, len, 0);
}

enum pyparse_verdict
pyparse_verdict_flags(const char *src, size_t len, unsigned flags)
{
    unsigned mode = PYPARSE_RUN_SINGLE;
    if (flags & PYPARSE_TOP_LEVEL_AWAIT)
        mode |= PYPARSE_RUN_TOP_AWAIT;
    if (!src)
        return len ? PYPARSE_ERROR : PYPARSE_COMPLETE;
    if (only_blanks_and_comments(src, len))
        return PYPARSE_COMPLETE;
    if (memchr(src, '\0', len))
        return PYPARSE_ERROR;       /* ValueError: null bytes */
    struct pyparse_run_info info;
    size_t n;
    enum pyparse_result with_newline = compile_source(src, len, true, mode, &info, &n);
    bool unfinished = info.done == PYPARSE_EOFS || (info.done == PYPARSE_EOF && info.level > 0);
    enum pyparse_result plain;
    if (info.max_read < n)
        plain = with_newline;       /* the added newline was never read */
    else if (unfinished)
        plain = PYPARSE_SYNTAX_ERROR;
    else
        plain = compile_source(src, len, false, mode, NULL, &n);
    switch (plain) {
    case PYPARSE_PARSED:
        return PYPARSE_COMPLETE;
    case PYPARSE_OTHER_ERROR:
        return PYPARSE_ERROR;
    default:
        break;
    }
    switch (with_newline) {
    case PYPARSE_PARSED:
    case PYPARSE_INCOMPLETE_INPUT:
        return PYPARSE_INCOMPLETE;
    default:
        return PYPARSE_ERROR;
    }
}
