/* libFuzzer target for the wire protocol. The input is a byte stream from a
 * hostile peer. It goes through proto_reader one byte at a time, in
 * pseudo-random splits and all at once, and the three must agree; every
 * message that decodes must survive encode -> decode unchanged. The input
 * is also decoded as a bare frame body, and run through the UTF-8 helpers.
 * Any disagreement aborts, which libFuzzer reports as a finding. */
#include "msgcmp.h"
#include "proto.h"
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "fuzz_proto: %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

/* What one way of feeding the stream produced. */
struct outcome {
    int rc;                 /* first failure, or PROTO_OK */
    size_t count;           /* messages taken */
    struct proto_buf enc;   /* every message taken, re-encoded, in order */
    char err[sizeof ((struct proto_reader *)0)->err];
};

/* A decoded message re-encodes, decodes to the same fields, and encodes to
 * the same bytes again. */
static void check_roundtrip(const struct proto_msg *m)
{
    struct proto_buf a = {0}, b = {0};
    struct proto_msg again;
    char err[256], why[128];

    CHECK(proto_encode(m, &a) == PROTO_OK, "decoded %s does not re-encode",
          proto_type_name(m->type));
    int rc = proto_decode(a.data + PROTO_HEADER_SIZE, a.len - PROTO_HEADER_SIZE, &again, err,
                          sizeof err);
    CHECK(rc == PROTO_OK, "re-encoded %s does not decode: %s", proto_type_name(m->type), err);
    CHECK(msgcmp_equal(m, &again, why, sizeof why), "round trip changed it: %s", why);
    CHECK(proto_encode(&again, &b) == PROTO_OK, "second encode failed");
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "encoding is not stable");
    proto_msg_release(&again);
    proto_buf_free(&a);
    proto_buf_free(&b);
}

/* Takes what the reader has; returns false once the reader has failed. */
static bool take(struct proto_reader *r, struct outcome *o)
{
    struct proto_msg m;
    int rc;
    while ((rc = proto_reader_take(r, &m)) == 0) {
        check_roundtrip(&m);
        CHECK(proto_encode(&m, &o->enc) == PROTO_OK, "encode failed");
        o->count++;
        proto_msg_release(&m);
    }
    CHECK(rc < 0, "take() stopped with %d", rc);
    CHECK(rc == PROTO_E_AGAIN || r->rc == rc, "take() failed with %d, the reader says %d", rc, r->rc);
    if (rc != PROTO_E_AGAIN) {
        CHECK(rc != PROTO_E_BAD, "take() on a reader not known to be bad said E_BAD");
        o->rc = rc;
        snprintf(o->err, sizeof o->err, "%s", r->err);
        return false;
    }
    return true;
}

static bool feed(struct proto_reader *r, const uint8_t *p, size_t n, struct outcome *o)
{
    int rc = proto_reader_feed(r, p, n);
    if (rc) {
        CHECK(rc == PROTO_E_TOO_BIG || rc == PROTO_E_NOMEM, "feed failed with %d", rc);
        o->rc = rc;
        snprintf(o->err, sizeof o->err, "%s", r->err);
        return false;
    }
    return true;
}

static void run_bytewise(const uint8_t *d, size_t n, struct outcome *o)
{
    struct proto_reader r;
    proto_reader_init(&r, 0);
    for (size_t i = 0; i < n; i++)
        if (!feed(&r, d + i, 1, o) || !take(&r, o))
            break;
    /* Once failed, it stays failed. */
    if (o->rc) {
        struct proto_msg m;
        CHECK(proto_reader_feed(&r, d, n) == PROTO_E_BAD, "a failed reader took more bytes");
        CHECK(proto_reader_take(&r, &m) == PROTO_E_BAD, "a failed reader gave a message");
        CHECK(strcmp(r.err, o->err) == 0, "the first reason was lost");
    }
    proto_reader_free(&r);
}

static void run_split(const uint8_t *d, size_t n, uint64_t seed, struct outcome *o)
{
    struct proto_reader r;
    uint64_t x = seed | 1;
    proto_reader_init(&r, 0);
    for (size_t off = 0; off < n;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t k = (x & 1) ? 1 + (x >> 1) % 16 : (x >> 1) % 4096;
        if (k > n - off)
            k = n - off;
        if (!feed(&r, d + off, k, o))
            break;
        off += k;
        if ((x & 6) && !take(&r, o))
            break;
    }
    if (!o->rc)
        take(&r, o);
    proto_reader_free(&r);
}

/* The byte-at-a-time run sees every failure at the earliest point. Another
 * run must agree with it, except that a too-big header found by feed() can
 * pre-empt frames of the same feed: then it took a prefix of the messages. */
static void compare(const struct outcome *ref, const struct outcome *o, const char *how)
{
    if (o->rc != PROTO_E_TOO_BIG) {
        CHECK(o->rc == ref->rc, "%s: rc %d, bytewise %d (%s | %s)", how, o->rc, ref->rc,
              o->err, ref->err);
        CHECK(o->count == ref->count, "%s: %zu messages, bytewise %zu", how, o->count,
              ref->count);
        CHECK(strcmp(o->err, ref->err) == 0, "%s: '%s', bytewise '%s'", how, o->err, ref->err);
    } else {
        CHECK(ref->rc != PROTO_OK, "%s: too big, bytewise fine", how);
        CHECK(o->count <= ref->count, "%s: more messages than bytewise", how);
    }
    CHECK(o->enc.len <= ref->enc.len &&
          (o->enc.len == 0 || memcmp(o->enc.data, ref->enc.data, o->enc.len) == 0),
          "%s: messages differ from bytewise", how);
}

/* The input as one frame body: the walk and msgpack-c must agree. */
static void check_body(const uint8_t *d, size_t n)
{
    char verr[256], derr[256];
    struct proto_msg m;
    int v = proto_validate(d, n, PROTO_DEPTH_MAX, verr, sizeof verr);
    int rc = proto_decode(d, n, &m, derr, sizeof derr);
    if (v != PROTO_OK) {
        CHECK(v == PROTO_E_MALFORMED, "validate returned %d", v);
        CHECK(rc == PROTO_E_MALFORMED && strcmp(verr, derr) == 0,
              "validate refused (%s) but decode said %d (%s)", verr, rc, derr);
        return;
    }
    CHECK(rc == PROTO_OK || rc == PROTO_E_SCHEMA || rc == PROTO_E_VERSION,
          "validated body failed to decode: %d (%s)", rc, derr);
    if (rc == PROTO_OK) {
        check_roundtrip(&m);
        proto_msg_release(&m);
    }
    CHECK(m.priv == NULL, "decoder state left behind");
}

static void check_utf8(const uint8_t *d, size_t n)
{
    const char *s = (const char *)d;
    char *out = malloc(3 * n + 1), *head = malloc(3 * n + 1);
    CHECK(out && head, "out of memory");
    size_t bad = n + 1;
    bool valid = utf8_valid(s, n, &bad);
    size_t len = utf8_sanitize(s, n, out);
    CHECK(len <= 3 * n && utf8_valid(out, len, NULL), "sanitised text is not valid");
    if (valid)
        CHECK(len == n && (n == 0 || memcmp(out, s, n) == 0), "valid text was changed");
    else
        CHECK(bad < n && utf8_valid(s, bad, NULL), "bad offset %zu of %zu", bad, n);

    /* Splitting at the complete prefix does not change the sanitised text. */
    size_t p = utf8_complete_prefix(s, n);
    CHECK(p <= n && n - p <= 3, "complete prefix %zu of %zu", p, n);
    size_t h = utf8_sanitize(s, p, head);
    h += utf8_sanitize(s + p, n - p, head + h);
    CHECK(h == len && (len == 0 || memcmp(head, out, len) == 0),
          "split at %zu sanitises differently", p);
    free(out);
    free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome bytewise = {0}, split = {0}, whole = {0};
    uint64_t seed = 1469598103934665603u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 1099511628211u;

    run_bytewise(data, size, &bytewise);
    run_split(data, size, seed, &split);
    compare(&bytewise, &split, "split");
    struct proto_reader r;
    proto_reader_init(&r, 0);
    if (feed(&r, data, size, &whole))
        take(&r, &whole);
    proto_reader_free(&r);
    compare(&bytewise, &whole, "whole");

    proto_buf_free(&bytewise.enc);
    proto_buf_free(&split.enc);
    proto_buf_free(&whole.enc);

    check_body(data, size);
    check_utf8(data, size);
    return 0;
}
