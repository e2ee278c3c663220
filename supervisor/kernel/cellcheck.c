/* is_complete for a cell, as IPython's check_complete answers it (what
 * jupyter console asks before it runs what was typed), from the C
 * detector, which judges one REPL statement ('single' mode):
 *
 *  - the cell is pushed line by line into a pyparse_buf; a statement the
 *    detector calls complete ends there and the next begins;
 *  - blank lines in the middle are skipped, since in a cell they do not
 *    end a block as they do at the REPL's prompt (only a blank last line
 *    does: "for x in y:\n    f(x)\n" is complete, without the newline it
 *    is not, as IPython says);
 *  - a line at the left margin that the detector refuses after an open
 *    block may be the statement after that block: if the block is
 *    complete once a blank line closes it, the line starts anew.
 *
 * What is left open at the end is incomplete, with the indentation the
 * next line wants; what the detector refuses is invalid. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <stdlib.h>
#include <string.h>

#include "pyparse.h"

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f')
            return false;
    return true;
}

/* The next line of code[*pos..len): its start and length; false at the
 * end. A code ending in "\n" has an empty last line. */
static bool next_line(const char *code, size_t len, size_t *pos, bool *done, size_t *start,
                      size_t *n)
{
    if (*done)
        return false;
    const char *nl = memchr(code + *pos, '\n', len - *pos);
    *start = *pos;
    if (nl) {
        *n = (size_t)(nl - (code + *pos));
        *pos += *n + 1;
    } else {
        *n = len - *pos;
        *pos = len;
        *done = true;
    }
    return true;
}

static enum pyparse_verdict judge(struct pyparse_buf *b)
{
    return pyparse_buf_judge(b, NULL);
}

/* Pushes the non-blank lines of code[from..to) and a blank line: whether
 * the statement they make is complete then. */
static bool closes_with_blank(struct pyparse_buf *b, const char *code, size_t from, size_t to)
{
    pyparse_buf_reset(b);
    size_t pos = from, start, n;
    bool done = false;
    while (pos < to && next_line(code, to, &pos, &done, &start, &n))
        if (!blank(code + start, n) && pyparse_buf_push(b, code + start, n) < 0)
            return false;
    return pyparse_buf_push(b, "", 0) == 0 && judge(b) == PYPARSE_COMPLETE;
}

/* The indentation after the last line with code: its own, one level more
 * after a colon. */
static char *indent_after(const char *code, size_t len)
{
    size_t end = len;
    while (end > 0 && (code[end - 1] == '\n' || code[end - 1] == ' ' || code[end - 1] == '\t' ||
                       code[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && code[start - 1] != '\n')
        start--;
    size_t ws = start;
    while (ws < end && (code[ws] == ' ' || code[ws] == '\t'))
        ws++;
    bool opens = end > ws && code[end - 1] == ':';
    size_t n = ws - start > 256 ? 256 : ws - start;
    char *out = malloc(n + 5);
    if (!out)
        return NULL;
    memcpy(out, code + start, n);
    if (opens)
        memcpy(out + n, "    ", 4), n += 4;
    out[n] = '\0';
    return out;
}

enum cellcheck_status cellcheck(const char *code, size_t len, char **indent)
{
    *indent = NULL;
    struct pyparse_buf *b;
    if (pyparse_buf_new(&b, PYPARSE_TOP_LEVEL_AWAIT) < 0)
        return CELLCHECK_UNKNOWN;
    enum pyparse_verdict v = PYPARSE_NOTHING;
    size_t pos = 0, start, n, stmt_from = 0;
    bool done = false, failed = false;
    while (!failed && next_line(code, len, &pos, &done, &start, &n)) {
        bool last = done;
        if (blank(code + start, n)) {
            if (!last || v != PYPARSE_INCOMPLETE)
                continue;
            /* A blank last line closes what is open, as at the prompt. */
            failed = pyparse_buf_push(b, "", 0) < 0;
            v = failed ? PYPARSE_ERROR : judge(b);
        } else {
            failed = pyparse_buf_push(b, code + start, n) < 0;
            v = failed ? PYPARSE_ERROR : judge(b);
            bool margin = code[start] != ' ' && code[start] != '\t';
            if (v == PYPARSE_ERROR && margin && start > stmt_from &&
                closes_with_blank(b, code, stmt_from, start)) {
                /* The block before it was over: this line starts anew. */
                pyparse_buf_reset(b);
                stmt_from = start;
                failed = pyparse_buf_push(b, code + start, n) < 0;
                v = failed ? PYPARSE_ERROR : judge(b);
            }
        }
        if (v == PYPARSE_ERROR)
            break;
        if (v == PYPARSE_COMPLETE || v == PYPARSE_NOTHING) {
            pyparse_buf_reset(b);
            stmt_from = pos;
            v = PYPARSE_NOTHING;
        }
    }
    pyparse_buf_free(b);
    if (failed)
        return CELLCHECK_UNKNOWN;
    if (v == PYPARSE_ERROR)
        return CELLCHECK_INVALID;
    if (v == PYPARSE_INCOMPLETE) {
        *indent = indent_after(code, len);
        return CELLCHECK_INCOMPLETE;
    }
    return CELLCHECK_COMPLETE;
}
