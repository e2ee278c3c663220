/* The incremental frame reader: any split of the byte stream gives the same
 * messages; caps are enforced before a body is buffered; a failed reader
 * stays failed. */
#include "msgcmp.h"
#include "proto.h"
#include "samples.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>

/* Every sample, encoded back to back; ends[i] is where frame i ends. */
struct stream {
    struct proto_buf buf;
    size_t ends[64];
    size_t count;
};

static void stream_make(struct stream *s)
{
    memset(s, 0, sizeof *s);
    ck_assert_uint_le(samples_count(), 64);
    for (size_t i = 0; i < samples_count(); i++) {
        struct proto_msg m;
        samples_get(i, &m);
        ck_assert_int_eq(proto_encode(&m, &s->buf), PROTO_OK);
        s->ends[i] = s->buf.len;
    }
    s->count = samples_count();
}

/* Takes every message the reader has, checking each against the samples in
 * order; *got counts them. Returns 0 when the reader wants more bytes, or
 * the error that stopped it. */
static int drain(struct proto_reader *r, size_t *got)
{
    struct proto_msg m, want;
    char why[128];
    int rc;
    while ((rc = proto_reader_take(r, &m)) == 0) {
        samples_get(*got % samples_count(), &want);
        ck_assert_msg(msgcmp_equal(&want, &m, why, sizeof why), "message %zu: %s", *got, why);
        proto_msg_release(&m);
        (*got)++;
    }
    return rc == PROTO_E_AGAIN ? 0 : rc;
}

START_TEST(test_one_byte_at_a_time)
{
    struct stream s;
    struct proto_reader r;
    size_t got = 0, frame = 0;

    stream_make(&s);
    proto_reader_init(&r, 0);
    for (size_t i = 0; i < s.buf.len; i++) {
        ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + i, 1), PROTO_OK);
        ck_assert_int_eq(drain(&r, &got), 0);
        /* A message comes out exactly when its last byte is in. */
        while (frame < s.count && s.ends[frame] <= i + 1)
            frame++;
        ck_assert_uint_eq(got, frame);
    }
    ck_assert_uint_eq(got, s.count);
    proto_reader_free(&r);
    proto_buf_free(&s.buf);
}
END_TEST

/* Two feeds, split at every byte position of a multi-frame buffer. */
START_TEST(test_split_at_every_position)
{
    struct stream s;
    stream_make(&s);
    for (size_t k = 0; k <= s.buf.len; k++) {
        struct proto_reader r;
        size_t got = 0;
        proto_reader_init(&r, 0);
        ck_assert_int_eq(proto_reader_feed(&r, s.buf.data, k), PROTO_OK);
        ck_assert_int_eq(drain(&r, &got), 0);
        ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + k, s.buf.len - k), PROTO_OK);
        ck_assert_int_eq(drain(&r, &got), 0);
        ck_assert_msg(got == s.count, "split at %zu: %zu of %zu messages", k, got, s.count);
        proto_reader_free(&r);
    }
    proto_buf_free(&s.buf);
}
END_TEST

/* Many feeds of pseudo-random sizes (fixed seed), draining sometimes, over
 * a stream several times the reader's first 4 KiB buffer, so that frames
 * left behind a partial one are moved down and the buffer grows. */
START_TEST(test_random_splits)
{
    struct stream s;
    uint32_t x = 2463534242u;
    stream_make(&s);
    size_t one = s.buf.len;
    while (s.buf.len < 16 * 1024) {
        for (size_t i = 0; i < s.count; i++) {
            struct proto_msg m;
            samples_get(i, &m);
            ck_assert_int_eq(proto_encode(&m, &s.buf), PROTO_OK);
        }
    }
    size_t total = s.count * (s.buf.len / one);
    for (int round = 0; round < 300; round++) {
        struct proto_reader r;
        size_t got = 0, off = 0;
        proto_reader_init(&r, 0);
        while (off < s.buf.len) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t n = (x & 0x200) ? x % 97 : x % 3000;
            if (n > s.buf.len - off)
                n = s.buf.len - off;
            ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + off, n), PROTO_OK);
            off += n;
            if (x & 0x100)
                ck_assert_int_eq(drain(&r, &got), 0);
        }
        ck_assert_int_eq(drain(&r, &got), 0);
        ck_assert_uint_eq(got, total);
        proto_reader_free(&r);
    }
    proto_buf_free(&s.buf);
}
END_TEST

START_TEST(test_many_frames_in_one_buffer)
{
    enum { NFRAMES = 5000 };
    struct proto_buf buf = {0};
    struct proto_reader r;
    struct proto_msg m;
    size_t got = 0;

    for (size_t i = 0; i < NFRAMES; i++) {
        samples_get(i % samples_count(), &m);
        ck_assert_int_eq(proto_encode(&m, &buf), PROTO_OK);
    }
    proto_reader_init(&r, 0);
    ck_assert_int_eq(proto_reader_feed(&r, buf.data, buf.len), PROTO_OK);
    ck_assert_int_eq(drain(&r, &got), 0);
    ck_assert_uint_eq(got, NFRAMES);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    proto_reader_free(&r);
    proto_buf_free(&buf);
}
END_TEST

/* A reader that is drained as it goes never holds more than a frame. */
START_TEST(test_buffer_stays_small)
{
    struct stream s;
    struct proto_reader r;
    size_t got = 0;

    stream_make(&s);
    proto_reader_init(&r, 0);
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < s.count; i++) {
            size_t from = i ? s.ends[i - 1] : 0;
            ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + from, s.ends[i] - from),
                             PROTO_OK);
            ck_assert_int_eq(drain(&r, &got), 0);
        }
    }
    ck_assert_uint_eq(got, 2000 * s.count);
    ck_assert_uint_le(r.cap, 4096);
    proto_reader_free(&r);
    proto_buf_free(&s.buf);
}
END_TEST

/* An exec frame whose body is exactly size bytes. */
static void exec_of_size(size_t size, struct proto_buf *buf)
{
    char *src = malloc(size);
    ck_assert_ptr_nonnull(src);
    memset(src, 'x', size);
    for (size_t pad = 8; pad < 200; pad++) {
        struct proto_msg m = {.type = PROTO_EXEC, .u.exec = {1, {src, size - pad}, PROTO_EXEC_SINGLE}};
        buf->len = 0;
        ck_assert_int_eq(proto_encode(&m, buf), PROTO_OK);
        if (buf->len - PROTO_HEADER_SIZE == size)
            break;
    }
    free(src);
    ck_assert_uint_eq(buf->len - PROTO_HEADER_SIZE, size);
}

/* Feeds buf in chunks of 64 KiB; returns the first failure, or what next()
 * returns at the end. */
static int feed_in_chunks(struct proto_reader *r, const struct proto_buf *buf,
                          struct proto_msg *m)
{
    for (size_t off = 0; off < buf->len; off += 65536) {
        size_t n = buf->len - off < 65536 ? buf->len - off : 65536;
        int rc = proto_reader_feed(r, buf->data + off, n);
        if (rc)
            return rc;
    }
    return proto_reader_take(r, m);
}

START_TEST(test_cap_boundaries)
{
    static const struct {
        size_t cap;      /* given to the reader */
        size_t limit;    /* what the reader makes of it */
    } caps[] = {
        {1000, 1000},
        {0, PROTO_FRAME_MAX_DEFAULT},
        {PROTO_FRAME_MAX_DEFAULT, PROTO_FRAME_MAX_DEFAULT},
        {PROTO_FRAME_MAX_EXEC, PROTO_FRAME_MAX_EXEC},
    };
    struct proto_buf buf = {0};
    struct proto_msg m;
    char want[128];

    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        struct proto_reader r;
        proto_reader_init(&r, caps[i].cap);
        exec_of_size(caps[i].limit, &buf);
        ck_assert_msg(feed_in_chunks(&r, &buf, &m) == 0, "cap %zu: %s", caps[i].limit, r.err);
        ck_assert_int_eq(m.type, PROTO_EXEC);
        /* All but the other fields' bytes is source. */
        ck_assert_uint_gt(m.u.exec.source.len, caps[i].limit - 100);
        proto_msg_release(&m);
        proto_reader_free(&r);

        proto_reader_init(&r, caps[i].cap);
        exec_of_size(caps[i].limit + 1, &buf);
        snprintf(want, sizeof want, "frame of %zu bytes exceeds the %zu-byte limit",
                 caps[i].limit + 1, caps[i].limit);
        ASSERT_FAILS(feed_in_chunks(&r, &buf, &m), PROTO_E_TOO_BIG, r.err, want);
        /* Refused from the header: none of the body was stored. */
        ck_assert_uint_le(r.cap, 4096);
        proto_reader_free(&r);
    }
    proto_buf_free(&buf);
}
END_TEST

/* The length is judged as soon as its fourth byte arrives. */
START_TEST(test_too_big_header_alone)
{
    static const unsigned char headers[][4] = {
        {0x00, 0x10, 0x00, 0x01},
        {0xff, 0xff, 0xff, 0xff},
        {0x80, 0x00, 0x00, 0x00},
    };
    static const char *const sizes[] = {"1048577", "4294967295", "2147483648"};

    for (size_t h = 0; h < 3; h++) {
        struct proto_reader r;
        char want[128];
        proto_reader_init(&r, 0);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(proto_reader_feed(&r, &headers[h][i], 1), PROTO_OK);
        snprintf(want, sizeof want, "frame of %s bytes exceeds the 1048576-byte limit", sizes[h]);
        ASSERT_FAILS(proto_reader_feed(&r, &headers[h][3], 1), PROTO_E_TOO_BIG, r.err, want);
        ck_assert_uint_le(r.cap, 4096);
        proto_reader_free(&r);
    }
}
END_TEST

START_TEST(test_zero_length_frame)
{
    struct proto_reader r;
    struct proto_msg m;
    proto_reader_init(&r, 0);
    ck_assert_int_eq(proto_reader_feed(&r, "\0\0\0\0", 4), PROTO_OK);
    ASSERT_FAILS(proto_reader_take(&r, &m), PROTO_E_MALFORMED, r.err, "empty frame");
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_BAD);
    proto_reader_free(&r);
}
END_TEST

/* After any failure the stream is lost: good bytes change nothing, and the
 * first reason is kept. */
START_TEST(test_failed_reader_stays_failed)
{
    static const struct {
        const char *frame;
        size_t len;
        int rc;
        const char *needle;
    } failures[] = {
        {"\0\0\0\x01\xc1", 5, PROTO_E_MALFORMED, "reserved byte 0xc1"},
        {"\0\0\0\x03\x91\x01\x02", 7, PROTO_E_MALFORMED, "trailing bytes"},
        {"\0\0\0\x01\x80", 5, PROTO_E_SCHEMA, "no protocol version"},
        {"\0\0\0\x05\x81\xa1v\x02\x00", 9, PROTO_E_MALFORMED, "trailing"},
        {"\0\0\0\x04\x81\xa1v\x07", 8, PROTO_E_VERSION, "peer speaks protocol version 7"},
        {"\x01\0\0\0", 4, PROTO_E_TOO_BIG, "exceeds"},
    };
    struct stream s;
    stream_make(&s);

    for (size_t f = 0; f < sizeof failures / sizeof failures[0]; f++) {
        struct proto_reader r;
        struct proto_msg m;
        char first[sizeof r.err];
        size_t got = 0;

        proto_reader_init(&r, 0);
        /* Good frames first, then the bad one. */
        ck_assert_int_eq(proto_reader_feed(&r, s.buf.data, s.ends[2]), PROTO_OK);
        ck_assert_int_eq(drain(&r, &got), 0);
        ck_assert_uint_eq(got, 3);
        int rc = proto_reader_feed(&r, failures[f].frame, failures[f].len);
        if (rc == PROTO_OK)
            rc = proto_reader_take(&r, &m);
        ASSERT_FAILS(rc, failures[f].rc, r.err, failures[f].needle);
        snprintf(first, sizeof first, "%s", r.err);

        ck_assert_int_eq(proto_reader_feed(&r, s.buf.data, s.buf.len), PROTO_E_BAD);
        ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_BAD);
        ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_BAD);
        ck_assert_ptr_null(m.priv);
        ck_assert_str_eq(r.err, first);
        ck_assert_int_eq(r.rc, failures[f].rc);
        proto_reader_free(&r);
    }
    proto_buf_free(&s.buf);
}
END_TEST

/* Frames before a bad one in the same buffer come out; none after it. */
START_TEST(test_bad_frame_mid_buffer)
{
    struct proto_buf buf = {0};
    struct proto_reader r;
    struct proto_msg m;
    size_t got = 0;

    for (size_t i = 0; i < 2; i++) {
        samples_get(i, &m);
        ck_assert_int_eq(proto_encode(&m, &buf), PROTO_OK);
    }
    size_t good = buf.len;
    char *all = malloc(good + 16);
    memcpy(all, buf.data, good);
    memcpy(all + good, "\0\0\0\x01\xc1", 5);
    memcpy(all + good + 5, buf.data, 8);

    proto_reader_init(&r, 0);
    ck_assert_int_eq(proto_reader_feed(&r, all, good + 13), PROTO_OK);
    ASSERT_FAILS(drain(&r, &got), PROTO_E_MALFORMED, r.err, "reserved byte 0xc1 at 0");
    ck_assert_uint_eq(got, 2);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_BAD);
    proto_reader_free(&r);
    free(all);
    proto_buf_free(&buf);
}
END_TEST

START_TEST(test_partial_frame_waits)
{
    struct stream s;
    struct proto_reader r;
    struct proto_msg m;
    stream_make(&s);

    proto_reader_init(&r, 0);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    ck_assert_int_eq(proto_reader_feed(&r, s.buf.data, 3), PROTO_OK);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + 3, s.ends[0] - 4), PROTO_OK);
    memset(&m, 0x5a, sizeof m);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    ck_assert_ptr_null(m.priv);
    ck_assert_int_eq(m.type, 0);
    ck_assert_int_eq(proto_reader_feed(&r, s.buf.data + s.ends[0] - 1, 1), PROTO_OK);
    ck_assert_int_eq(proto_reader_take(&r, &m), 0);
    proto_msg_release(&m);
    ck_assert_int_eq(proto_reader_feed(&r, NULL, 0), PROTO_OK);
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    /* A waiting reader is not a failed one. */
    ck_assert_int_eq(r.rc, PROTO_OK);
    proto_reader_free(&r);
    proto_reader_free(&r);
    proto_buf_free(&s.buf);
}
END_TEST


Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_one_byte_at_a_time);
    tcase_add_test(tc, test_split_at_every_position);
    tcase_add_test(tc, test_random_splits);
    tcase_add_test(tc, test_many_frames_in_one_buffer);
    tcase_add_test(tc, test_buffer_stays_small);
    tcase_add_test(tc, test_cap_boundaries);
    tcase_add_test(tc, test_too_big_header_alone);
    tcase_add_test(tc, test_zero_length_frame);
    tcase_add_test(tc, test_failed_reader_stays_failed);
    tcase_add_test(tc, test_bad_frame_mid_buffer);
    tcase_add_test(tc, test_partial_frame_waits);
    suite_add_tcase(s, tc);
    return s;
}
