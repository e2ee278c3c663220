#include "frontend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

char *frontend_clean_line(const char *line, size_t len, size_t *outlen, unsigned long lineno,
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
             "aiobox: input line %lu is not valid UTF-8 (byte 0x%02x at column %zu); "
             "invalid bytes were replaced by U+FFFD\n",
             lineno, (unsigned char)line[bad], bad + 1);
    warn(fe, msg);
    return clean;
}
