#include "sanitize.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void sanitize_init(struct sanitize *s)
{
    s->npending = 0;
}

static int put(char **out, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*cap - *len < n) {
        size_t want = *cap ? *cap : 256;
        while (want - *len < n)
            want *= 2;
        char *nb = realloc(*out, want);
        if (!nb)
            return -1;
        *out = nb;
        *cap = want;
    }
    memcpy(*out + *len, p, n);
    *len += n;
    return 0;
}

/* Shows a byte as caret notation (^[ for ESC), the way `cat -v` does. */
static int put_visible(char **out, size_t *len, size_t *cap, unsigned char c)
{
    char v[2] = {'^', (char)(c == 0x7f ? '?' : c + 64)};
    return put(out, len, cap, v, 2);
}

enum esc { ESC_INCOMPLETE, ESC_SGR, ESC_OTHER };

/* Classifies the escape sequence at p[0] == ESC. *n gets its length. */
static enum esc classify(const unsigned char *p, size_t len, size_t *n)
{
    if (len < 2)
        return ESC_INCOMPLETE;
    if (p[1] != '[') {
        *n = 1;  /* only ESC itself is neutralised; the rest is plain text */
        return ESC_OTHER;
    }
    for (size_t i = 2; i < len; i++) {
        unsigned char c = p[i];
        if (c >= 0x40 && c <= 0x7e) {
            *n = i + 1;
            if (c != 'm')
                return ESC_OTHER;
            /* Colours only: digits and ';' (and ':' for sub-parameters). */
            for (size_t j = 2; j < i; j++)
                if (!((p[j] >= '0' && p[j] <= '9') || p[j] == ';' || p[j] == ':'))
                    return ESC_OTHER;
            return ESC_SGR;
        }
        if (c < 0x20 || c > 0x3f) {
            *n = 1;
            return ESC_OTHER;
        }
    }
    if (len >= 48) {
        *n = 1;
        return ESC_OTHER;
    }
    return ESC_INCOMPLETE;
}

static int process(struct sanitize *s, const unsigned char *p, size_t len, int final,
                   char **out, size_t *olen, size_t *ocap)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == 0x1b) {
            size_t n = 0;
            enum esc k = classify(p + i, len - i, &n);
            if (k == ESC_INCOMPLETE && !final) {
                memcpy(s->pending, p + i, len - i);
                s->npending = len - i;
                return 0;
            }
            if (k == ESC_SGR) {
                if (put(out, olen, ocap, (const char *)p + i, n))
                    return -1;
                i += n;
                continue;
            }
            if (put_visible(out, olen, ocap, c))
                return -1;
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            int keep = c == '\n' || c == '\t' || c == '\r' || c == '\b';
            if (keep ? put(out, olen, ocap, (const char *)p + i, 1)
                     : put_visible(out, olen, ocap, c))
                return -1;
            i++;
            continue;
        }
        if (c < 0x80) {
            size_t j = i;
            while (j < len && p[j] >= 0x20 && p[j] < 0x7f)
                j++;
            if (put(out, olen, ocap, (const char *)p + i, j - i))
                return -1;
            i = j;
            continue;
        }
        /* Non-ASCII: validate one sequence. */
        size_t rest = len - i, seq = 1;
        if (c >= 0xc2 && c <= 0xf4)
            seq = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (seq > rest && !final && utf8_complete_prefix((const char *)p + i, rest) == 0) {
            memcpy(s->pending, p + i, rest);
            s->npending = rest;
            return 0;
        }
        if (seq <= rest && utf8_valid((const char *)p + i, seq, NULL)) {
            /* C1 controls (U+0080..U+009F) act as escapes on some terminals. */
            if (seq == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
                if (put(out, olen, ocap, "\xef\xbf\xbd", 3))
                    return -1;
            } else if (put(out, olen, ocap, (const char *)p + i, seq))
                return -1;
            i += seq;
            continue;
        }
        if (put(out, olen, ocap, "\xef\xbf\xbd", 3))
            return -1;
        i++;
    }
    return 0;
}

int sanitize_feed(struct sanitize *s, const char *data, size_t len,
                  char **out, size_t *outlen, size_t *outcap)
{
    if (!s->npending)
        return process(s, (const unsigned char *)data, len, 0, out, outlen, outcap);
    /* A held-back head: judge it together with what follows. */
    size_t held = s->npending;
    unsigned char *joined = malloc(held + len);
    if (!joined)
        return -1;
    memcpy(joined, s->pending, held);
    memcpy(joined + held, data, len);
    s->npending = 0;
    int rc = process(s, joined, held + len, 0, out, outlen, outcap);
    free(joined);
    return rc;
}

int sanitize_finish(struct sanitize *s, char **out, size_t *outlen, size_t *outcap)
{
    size_t n = s->npending;
    s->npending = 0;
    return process(s, (const unsigned char *)s->pending, n, 1, out, outlen, outcap);
}
