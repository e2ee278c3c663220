/* UTF-8 validation following RFC 3629 table 3-7 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid sequence at s[0..len), -EILSEQ if invalid, or
 * -EAGAIN if it is a valid but truncated prefix of a sequence (more bytes
 * may complete it). *sub (if not NULL) is set to
 * the length of the maximal subpart when the sequence is not valid: the
 * lead byte and the continuation bytes that still fit (at least 1). */
static int seq_len(const unsigned char *s, size_t len, size_t *sub)
{
    unsigned char c = s[0];
    int n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (sub)
        *sub = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return -EILSEQ;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= len)
            return -EAGAIN;
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
            return -EILSEQ;
        if (sub)
            *sub = (size_t)i + 1;
    }
    return n;
}

bool utf8_valid(const char *s, size_t len, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int n = seq_len(p + i, len - i, NULL);
        if (n <= 0) {
            if (bad)
                *bad = i;
            return false;
        }
        i += (size_t)n;
    }
    return true;
}

size_t utf8_complete_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Only the last three bytes can start an unfinished sequence. */
    size_t from = len > 3 ? len - 3 : 0;

    for (size_t i = from; i < len; i++) {
        if (p[i] >= 0xc2 && p[i] <= 0xf4 && seq_len(p + i, len - i, NULL) == -EAGAIN)
            return i;
    }
    return len;
}

/* Each maximal subpart of an ill-formed sequence becomes one U+FFFD, as
 * Unicode recommends and as Python's 'replace' error handler does. */
size_t utf8_sanitize(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < len) {
        size_t sub;
        int n = seq_len(p + i, len - i, &sub);
        if (n > 0) {
            memcpy(out + o, p + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += sub;
        }
    }
    return o;
}
