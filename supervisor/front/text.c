#include "front.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"
#include "utf8.h"

char *front_clean_line(const char *line, size_t len, size_t *outlen, unsigned long lineno,
                          void (*warn)(void *fe, const char *msg), void *fe)
{
    size_t bad;
    if (utf8_valid(line, len, &bad)) {
        char *copy = malloc(len + 1);
        if (!copy)
            return NULL;
        memcpy(copy, line, len);
        copy[len] = '\0';
        *outlen = len;
        return copy;
    }
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *clean = malloc(3 * len + 1);
    if (!clean)
        return NULL;
    *outlen = utf8_sanitize(line, len, clean);
    clean[*outlen] = '\0';
    char msg[160];
    snprintf(msg, sizeof msg,
             "input line %lu is not valid UTF-8 (byte 0x%02x at column %zu); "
             "invalid bytes were replaced by U+FFFD",
             lineno, (unsigned char)line[bad], bad + 1);
    warn(fe, msg);
    return clean;
}

/* Before a prompt at the terminal: attributes user output set (hidden
 * text, black on black) must not hide it. */
#define RESET_ATTRIBUTES "\x1b[0m"

/* Wraps every colour sequence (the only escapes sanitised text still has)
 * in readline's invisible-text markers, after a reset of the attributes. */
static char *mark_colours(const char *s, size_t len, size_t *outlen)
{
    size_t n = sizeof RESET_ATTRIBUTES + 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\x1b' ? 2 : 0;
    char *out = malloc(len + n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '\001';
    memcpy(out + o, RESET_ATTRIBUTES, sizeof RESET_ATTRIBUTES - 1);
    o += sizeof RESET_ATTRIBUTES - 1;
    out[o++] = '\002';
    for (size_t i = 0; i < len;) {
        if (s[i] != '\x1b') {
            out[o++] = s[i++];
            continue;
        }
        const char *end = memchr(s + i, 'm', len - i);
        size_t seq = end ? (size_t)(end - (s + i)) + 1 : len - i;
        out[o++] = '\001';
        memcpy(out + o, s + i, seq);
        o += seq;
        out[o++] = '\002';
        i += seq;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

char *front_prompt(const char *text, size_t len, bool sanitize, bool readline_marks,
                      size_t *outlen)
{
    char *clean = NULL;
    size_t clen = 0, ccap = 0;
    if (sanitize) {
        struct sanitize san;
        sanitize_init(&san);
        if (sanitize_feed(&san, text, len, &clean, &clen, &ccap) ||
            sanitize_finish(&san, &clean, &clen, &ccap)) {
            free(clean);
            return NULL;
        }
        text = clean ? clean : "";
        len = clen;
    }
    char *out;
    if (readline_marks)
        out = mark_colours(text, len, outlen);
    else if ((out = malloc(len + 1))) {
        memcpy(out, text, len);
        out[len] = '\0';
        *outlen = len;
    }
    free(clean);
    return out;
}
