#include "stmtbuf.h"

#include <stdlib.h>
#include <string.h>

#include "pyparse.h"

void stmtbuf_init(struct stmtbuf *b)
{
    memset(b, 0, sizeof *b);
}

void stmtbuf_free(struct stmtbuf *b)
{
    free(b->buf);
    stmtbuf_init(b);
}

void stmtbuf_reset(struct stmtbuf *b)
{
    b->len = 0;
    b->lines = 0;
}

bool stmtbuf_empty(const struct stmtbuf *b)
{
    return b->lines == 0;
}

static bool blank_or_comments(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f' || s[i] == '\r' ||
                           s[i] == '\v'))
            i++;
        if (i < len && s[i] != '\n' && s[i] != '#')
            return false;
        while (i < len && s[i] != '\n')
            i++;
        i++;
    }
    return true;
}

enum stmtbuf_state stmtbuf_push(struct stmtbuf *b, const char *line, size_t len)
{
    size_t need = b->len + len + 2;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return STMTBUF_NOMEM;
        b->buf = nb;
        b->cap = cap;
    }
    if (b->lines++)
        b->buf[b->len++] = '\n';
    memcpy(b->buf + b->len, line, len);
    b->len += len;
    b->buf[b->len] = '\0';
    if (blank_or_comments(b->buf, b->len))
        return STMTBUF_NOTHING;
    /* As the asyncio REPL compiles: top-level await is allowed. */
    return pyparse_verdict_flags(b->buf, b->len, PYPARSE_TOP_LEVEL_AWAIT) == PYPARSE_INCOMPLETE
               ? STMTBUF_MORE
               : STMTBUF_READY;
}
