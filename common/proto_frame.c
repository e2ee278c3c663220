/* Length-prefixed framing. The reader checks each length header as soon as
 * its four bytes are in, so an oversized frame is refused before any of its
 * body is stored, and the buffer never grows past one frame plus what the
 * caller has not taken yet. */
#include "proto.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void proto_reader_init(struct proto_reader *r, size_t max_frame)
{
    memset(r, 0, sizeof *r);
    r->max_frame = max_frame ? max_frame : PROTO_FRAME_MAX_DEFAULT;
}

void proto_reader_free(struct proto_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = r->start = 0;
}

static uint32_t get_be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int reader_fail(struct proto_reader *r, int rc)
{
    r->rc = rc;
    return rc;
}

static int reserve(struct proto_reader *r, size_t more)
{
    if (r->start > 0 && r->cap - r->len < more) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->scan -= r->start;
        r->start = 0;
    }
    if (r->cap - r->len >= more)
        return PROTO_OK;
    size_t want = r->cap ? r->cap : 4096;
    while (want - r->len < more)
        want *= 2;
    char *nb = realloc(r->buf, want);
    if (!nb) {
        snprintf(r->err, sizeof r->err, "out of memory buffering a frame");
        return reader_fail(r, PROTO_E_NOMEM);
    }
    r->buf = nb;
    r->cap = want;
    return PROTO_OK;
}

int proto_reader_feed(struct proto_reader *r, const void *data, size_t len)
{
    const char *d = data;

    if (r->rc)
        return PROTO_E_BAD;
    while (len > 0) {
        size_t have = r->len - r->scan, take;
        bool header = have < PROTO_HEADER_SIZE;

        if (header)
            take = PROTO_HEADER_SIZE - have;
        else
            take = get_be32(r->buf + r->scan) - (have - PROTO_HEADER_SIZE);
        if (take > len)
            take = len;
        int rc = reserve(r, take);
        if (rc)
            return rc;
        memcpy(r->buf + r->len, d, take);
        r->len += take;
        d += take;
        len -= take;
        have += take;
        if (have < PROTO_HEADER_SIZE)
            break;
        size_t n = get_be32(r->buf + r->scan);
        if (header && n > r->max_frame) {
            snprintf(r->err, sizeof r->err,
                     "frame of %zu bytes exceeds the %zu-byte limit", n,
                     r->max_frame);
            return reader_fail(r, PROTO_E_TOO_BIG);
        }
        if (have == PROTO_HEADER_SIZE + n)
            r->scan = r->len;
    }
    return PROTO_OK;
}

int proto_reader_take(struct proto_reader *r, struct proto_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    if (r->rc)
        return PROTO_E_BAD;
    size_t avail = r->len - r->start;
    if (avail < PROTO_HEADER_SIZE)
        return PROTO_E_AGAIN;
    size_t n = get_be32(r->buf + r->start);
    if (avail - PROTO_HEADER_SIZE < n)
        return PROTO_E_AGAIN;
    const char *body = r->buf + r->start + PROTO_HEADER_SIZE;
    r->start += PROTO_HEADER_SIZE + n;
    if (r->start == r->len)
        r->start = r->len = r->scan = 0;  /* the body stays in place until the next feed */
    int rc = proto_decode(body, n, msg, r->err, sizeof r->err);
    if (rc)
        return reader_fail(r, rc);
    return 0;
}
