/* Walks a msgpack value before msgpack-c sees it. msgpack-c sizes its
 * allocations from container headers (a 5-byte array32 header reserves
 * gigabytes), so every count and length is checked against the bytes that
 * are actually there before anything is unpacked, and the elements of a
 * frame, whatever their nesting, are counted against one bound. */
#include "proto.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The format attribute lets the compiler check every message. */
__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PROTO_E_MALFORMED;
}

int proto_validate(const void *body, size_t len, int max_depth,
                   char *err, size_t errlen)
{
    const unsigned char *p = body;
    size_t off = 0;
    /* pending[d] = values still expected at depth d; depth 0 is the root. */
    uint64_t pending[PROTO_DEPTH_MAX + 2];
    uint64_t elements = 0;
    int depth = 0;

    if (max_depth < 1 || max_depth > PROTO_DEPTH_MAX)
        max_depth = PROTO_DEPTH_MAX;
    if (len == 0)
        return fail(err, errlen, "empty frame");
    pending[0] = 1;

    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        if (off >= len)
            return fail(err, errlen, "value truncated at byte %zu", off);
        pending[depth]--;

        size_t at = off;  /* where this value starts, for messages */
        unsigned char c = p[off++];
        size_t left = len - off;
        uint64_t skip = 0, children = 0;
        int hdr = 0;
        bool container = false;

        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
            continue;
        if (c >= 0x80 && c <= 0x8f) {
            children = 2 * (uint64_t)(c & 0x0f);
            container = true;
        } else if (c >= 0x90 && c <= 0x9f) {
            children = c & 0x0f;
            container = true;
        } else if (c >= 0xa0 && c <= 0xbf)
            skip = c & 0x1f;
        else {
            switch (c) {
            case 0xc1:
                return fail(err, errlen, "reserved byte 0xc1 at %zu", at);
            case 0xc4: case 0xd9: hdr = 1; break;
            case 0xc5: case 0xda: hdr = 2; break;
            case 0xc6: case 0xdb: hdr = 4; break;
            case 0xc7: case 0xc8: case 0xc9:
            case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
                return fail(err, errlen, "ext type 0x%02x at %zu is not allowed",
                            c, at);
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xdc: case 0xdd: case 0xde: case 0xdf: {
                int n = (c == 0xdc || c == 0xde) ? 2 : 4;
                if (left < (size_t)n)
                    return fail(err, errlen, "container header truncated at %zu", at);
                children = be(p + off, n);
                off += (size_t)n;
                left -= (size_t)n;
                if (c >= 0xde)
                    children *= 2;
                container = true;
                break;
            }
            default:
                return fail(err, errlen, "unknown byte 0x%02x at %zu", c, at);
            }
        }
        if (hdr) {
            if (left < (size_t)hdr)
                return fail(err, errlen, "length header truncated at %zu", at);
            skip = be(p + off, hdr);
            off += (size_t)hdr;
            left -= (size_t)hdr;
        }
        if (skip > left)
            return fail(err, errlen, "value at %zu claims %llu bytes, %zu left",
                        at, (unsigned long long)skip, left);
        off += (size_t)skip;
        if (container) {
            /* Every element takes at least one byte. */
            if (children > left)
                return fail(err, errlen,
                            "container at %zu claims %llu elements, %zu bytes left",
                            at, (unsigned long long)children, left);
            /* Empty containers count too, so the limit means one thing. */
            if (depth + 1 > max_depth)
                return fail(err, errlen, "nesting deeper than %d", max_depth);
            /* msgpack-c makes an object of every element, several times
             * the byte it may take: the count is what bounds memory. */
            elements += children;
            if (elements > PROTO_ELEMENTS_MAX)
                return fail(err, errlen, "more than %d elements in one frame",
                            PROTO_ELEMENTS_MAX);
            if (children)
                pending[++depth] = children;
        }
    }
    if (off != len)
        return fail(err, errlen, "%zu trailing bytes after the value", len - off);
    return PROTO_OK;
}
