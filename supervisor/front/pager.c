#include "pager.h"

#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

#define MORE_PROMPT "\x1b[7m-- more --\x1b[0m"
#define BOLD "\x1b[1m"
#define UNDERLINE "\x1b[4m"
#define PLAIN "\x1b[0m"

struct pager {
    char *text;          /* safe, overstrikes turned into attributes */
    size_t len;
    size_t *line_starts; /* offsets of the lines in text */
    size_t nlines;
    size_t next;         /* the first line not shown yet */
    int rows, cols;
};

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n + 1)
            cap *= 2;
        char *nb = realloc(b->p, cap);
        if (!nb) {
            b->failed = true;
            return;
        }
        b->p = nb;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t char_len(const char *s, size_t left)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    return n > left ? left : n;
}

enum attr { ATTR_PLAIN, ATTR_BOLD, ATTR_UNDERLINE };

static void set_attr(struct buf *out, enum attr *mode, enum attr want)
{
    static const char *const seq[] = {PLAIN, BOLD, UNDERLINE};
    if (want == *mode)
        return;
    if (*mode != ATTR_PLAIN)
        put(out, PLAIN, strlen(PLAIN));
    if (want != ATTR_PLAIN)
        put(out, seq[want], strlen(seq[want]));
    *mode = want;
}

/* pydoc's overstrikes: "X\bX" is X in bold, "_\bX" X underlined. */
static void render(struct buf *out, const char *s, size_t len)
{
    enum attr mode = ATTR_PLAIN;
    for (size_t i = 0; i < len;) {
        size_t n = char_len(s + i, len - i);
        enum attr want = ATTR_PLAIN;
        if (i + n + 1 < len && s[i + n] == '\b') {
            size_t m = char_len(s + i + n + 1, len - i - n - 1);
            if (m == n && memcmp(s + i, s + i + n + 1, n) == 0)
                want = ATTR_BOLD;
            else if (n == 1 && s[i] == '_')
                want = ATTR_UNDERLINE;
            if (want != ATTR_PLAIN) {
                /* The character shown is the one after the backspace. */
                i += n + 1;
                n = m;
            }
        }
        set_attr(out, &mode, s[i] == '\n' ? ATTR_PLAIN : want);
        put(out, s + i, n);
        i += n;
    }
    set_attr(out, &mode, ATTR_PLAIN);
}

struct pager *pager_new(const char *text, size_t len, int rows, int cols)
{
    struct pager *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->rows = rows > 2 ? rows : 24;
    p->cols = cols > 10 ? cols : 80;
    struct sanitize san;
    char *safe = NULL;
    size_t slen = 0, scap = 0;
    sanitize_init(&san);
    struct buf out = {0};
    if (sanitize_feed(&san, text, len, &safe, &slen, &scap) == 0 &&
        sanitize_finish(&san, &safe, &slen, &scap) == 0)
        render(&out, safe ? safe : "", slen);
    else
        out.failed = true;
    free(safe);
    if (out.failed || (!out.p && !(out.p = calloc(1, 1)))) {
        free(out.p);
        free(p);
        return NULL;
    }
    p->text = out.p;
    p->len = out.len;
    size_t n = 1;
    for (size_t i = 0; i < p->len; i++)
        n += p->text[i] == '\n';
    p->line_starts = calloc(n + 1, sizeof *p->line_starts);
    if (!p->line_starts) {
        pager_free(p);
        return NULL;
    }
    p->line_starts[p->nlines++] = 0;
    for (size_t i = 0; i < p->len; i++)
        if (p->text[i] == '\n' && i + 1 < p->len)
            p->line_starts[p->nlines++] = i + 1;
    p->line_starts[p->nlines] = p->len;
    return p;
}

bool pager_fits(const struct pager *p)
{
    return p->nlines <= (size_t)(p->rows - 1);
}

/* Shows count more lines; then the prompt, or nothing when all is shown. */
static bool show(struct pager *p, struct console *c, size_t count)
{
    size_t end = p->next + count < p->nlines ? p->next + count : p->nlines;
    size_t from = p->line_starts[p->next], to = p->line_starts[end];
    console_write(c, 1, p->text + from, to - from);
    if (to > from && p->text[to - 1] != '\n')
        console_str(c, 1, "\n");
    p->next = end;
    if (p->next >= p->nlines)
        return false;
    console_str(c, 1, MORE_PROMPT);
    return true;
}

bool pager_start(struct pager *p, struct console *c)
{
    return show(p, c, pager_fits(p) ? p->nlines : (size_t)(p->rows - 1));
}

bool pager_key(struct pager *p, struct console *c, char key)
{
    /* The prompt goes, whatever comes next. */
    console_str(c, 1, "\r\x1b[K");
    if (key == 'q' || key == 'Q')
        return false;
    return show(p, c, key == '\r' || key == '\n' ? 1 : (size_t)(p->rows - 1));
}

void pager_free(struct pager *p)
{
    if (!p)
        return;
    free(p->line_starts);
    free(p->text);
    free(p);
}
