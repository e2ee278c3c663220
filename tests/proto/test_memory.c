/* Memory stays small: container bombs cost nothing, and the worst frame a
 * peer can send within the cap costs a bounded, measured amount. */
#include "memprobe.h"
#include "proto.h"
#include "suites.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>

#define RAW(lit) lit, sizeof(lit) - 1
#define MiB ((size_t)1 << 20)

struct job {
    const char *frame;     /* header included */
    size_t len;
    int want;              /* what proto_reader_take must return */
    size_t want_count;     /* completions: matches expected */
};

/* Feeds a whole frame to a fresh reader and decodes it. */
static int run_reader(void *arg)
{
    const struct job *j = arg;
    struct proto_reader r;
    struct proto_msg m;
    int rc;

    /* The cap the supervisor reads executors with, the largest there is. */
    proto_reader_init(&r, PROTO_FRAME_MAX_EXECUTOR);
    rc = proto_reader_feed(&r, j->frame, j->len);
    if (rc == PROTO_OK)
        rc = proto_reader_take(&r, &m);
    bool ok = rc == j->want;
    if (rc == 0) {
        if (m.type == PROTO_COMPLETIONS && m.u.completions.count != j->want_count)
            ok = false;
        proto_msg_release(&m);
    }
    proto_reader_free(&r);
    return ok ? 0 : 1;
}

static char *with_header(const char *body, size_t n, size_t *len)
{
    char *f = malloc(n + 4);
    ck_assert_ptr_nonnull(f);
    f[0] = (char)(n >> 24);
    f[1] = (char)(n >> 16);
    f[2] = (char)(n >> 8);
    f[3] = (char)n;
    memcpy(f + 4, body, n);
    *len = n + 4;
    return f;
}

static void expect_within(size_t budget, struct job *j, const char *what)
{
    char why[160];
    int rc = memprobe_run(budget, run_reader, j, why, sizeof why);
    ck_assert_msg(rc == 0, "%s: %s (%s)", what, why, memprobe_method());
    printf("memory: %s: %s\n", what, why);
}

/* Headers claiming billions of elements or bytes, alone and inside a
 * message: refused, within 4 MiB. */
START_TEST(test_bombs_stay_small)
{
    static const struct {
        const char *body;
        size_t n;
    } bombs[] = {
        {RAW("\xdd\xff\xff\xff\xff")},
        {RAW("\xdf\xff\xff\xff\xff")},
        {RAW("\xdb\xff\xff\xff\xff")},
        {RAW("\xc6\xff\xff\xff\xff")},
        {RAW("\x83\xa1t\xa5hello\xa1v\x01\xa1x\xdd\xff\xff\xff\xff")},
        {RAW("\x83\xa1t\xa5hello\xa1v\x01\xa1x\xdf\xff\xff\xff\xff")},
        {RAW("\x83\xa1t\xa5hello\xa1v\x01\xa1x\x91\x91\xdd\x0f\xff\xff\xff\xc0")},
        {RAW("\xdf\x00\x00\x00\x03\xa1t\xa5hello\xa1v\x01")},
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        struct job j = {.want = PROTO_E_MALFORMED};
        char *f = with_header(bombs[i].body, bombs[i].n, &j.len);
        j.frame = f;
        char what[32];
        snprintf(what, sizeof what, "bomb %zu", i);
        expect_within(4 * MiB, &j, what);
        free(f);
    }
}
END_TEST

/* The probe itself: msgpack-c given a modest bomb directly (no walk first)
 * allocates 24 MiB for it, and the probe must notice. */
static int unpack_unchecked(void *arg)
{
    (void)arg;
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return ur = msgpack_unpack_next(&up, "\xdd\x00\x10\x00\x00\xc0", 6, &off);
    msgpack_unpacked_destroy(&up);
    return ur == MSGPACK_UNPACK_NOMEM_ERROR ? 1 : 0;
}

START_TEST(test_probe_sees_an_unchecked_bomb)
{
    char why[160];
    ck_assert_msg(memprobe_run(4 * MiB, unpack_unchecked, NULL, why, sizeof why) != 0,
                  "msgpack-c's 24 MiB went unnoticed: %s (%s)", why, memprobe_method());
}
END_TEST

/* A body of exactly len bytes: head (which ends in an array32 marker),
 * the count, then fill for every element. */
static char *array_frame(const char *head, size_t head_len, char fill, size_t len,
                         size_t *count, size_t *frame_len)
{
    char *body = malloc(len);
    ck_assert_ptr_nonnull(body);
    *count = len - head_len - 4;
    memcpy(body, head, head_len);
    body[head_len] = (char)(*count >> 24);
    body[head_len + 1] = (char)(*count >> 16);
    body[head_len + 2] = (char)(*count >> 8);
    body[head_len + 3] = (char)*count;
    memset(body + head_len + 4, fill, *count);
    char *f = with_header(body, len, frame_len);
    free(body);
    return f;
}

/* The largest element count a frame may carry, every element an empty
 * string: msgpack-c's objects plus the matches array, the costliest
 * message to decode. Then the same count of nils under a key nobody
 * reads: ignored, but still unpacked. Then a frame as large as the
 * supervisor takes from an executor, all elements: refused by the count
 * before anything is unpacked. */
START_TEST(test_worst_frame_within_cap)
{
    static const char completions[] =
        "\x86\xa1t\xab" "completions\xa1v\x02\xa2id\x01\xa5start\x00\xa3" "end\x00"
        "\xa7matches\xdd";
    static const char ignored[] = "\x84\xa1t\xadinterrupt_ack\xa1v\x02\xa2id\x01\xa1x\xdd";
    /* The frame's own keys are elements too. */
    size_t most = PROTO_ELEMENTS_MAX - 12;
    struct job j = {.want = 0};

    char *f = array_frame(completions, sizeof completions - 1, (char)0xa0,
                          most + sizeof completions - 1 + 4, &j.want_count, &j.len);
    j.frame = f;
    expect_within(16 * MiB, &j, "the most empty matches a frame may have");
    free(f);

    size_t count;
    f = array_frame(ignored, sizeof ignored - 1, (char)0xc0, most + sizeof ignored - 1 + 4,
                    &count, &j.len);
    j.frame = f;
    expect_within(16 * MiB, &j, "as many ignored nils");
    free(f);

    struct job big = {.want = PROTO_E_MALFORMED};
    f = array_frame(completions, sizeof completions - 1, (char)0xa0, PROTO_FRAME_MAX_EXECUTOR,
                    &big.want_count, &big.len);
    big.frame = f;
    big.want_count = 0;
    /* The frame itself is buffered: 8 MiB, and what a realloc may double. */
    expect_within(24 * MiB, &big, "8 MiB of empty matches, refused");
    free(f);
}
END_TEST

Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_bombs_stay_small);
    tcase_add_test(tc, test_probe_sees_an_unchecked_bomb);
    tcase_add_test(tc, test_worst_frame_within_cap);
    suite_add_tcase(s, tc);
    return s;
}
