/* The pre-unpack walk: what it lets through to msgpack-c and what it stops. */
#include "proto.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>

#define RAW(lit) lit, sizeof(lit) - 1

/* One value of every msgpack format the protocol allows. */
static const struct {
    const char *b;
    size_t n;
} every_format[] = {
    {RAW("\xc0")}, {RAW("\xc2")}, {RAW("\xc3")}, {RAW("\x7f")}, {RAW("\xe0")},
    {RAW("\xcc\xff")}, {RAW("\xcd\xff\xff")}, {RAW("\xce\xff\xff\xff\xff")},
    {RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff")}, {RAW("\xd0\x80")}, {RAW("\xd1\x80\x00")},
    {RAW("\xd2\x80\0\0\0")}, {RAW("\xd3\x80\0\0\0\0\0\0\0")}, {RAW("\xca\x3f\x80\0\0")},
    {RAW("\xcb\x3f\xf0\0\0\0\0\0\0")}, {RAW("\xa3" "abc")}, {RAW("\xd9\x03" "abc")},
    {RAW("\xda\x00\x03" "abc")}, {RAW("\xdb\0\0\0\x03" "abc")}, {RAW("\xc4\x03\x00\xff\x01")},
    {RAW("\xc5\x00\x03\x00\xff\x01")}, {RAW("\xc6\0\0\0\x03\x00\xff\x01")}, {RAW("\x92\x01\x02")},
    {RAW("\xdc\x00\x02\x01\x02")}, {RAW("\xdd\0\0\0\x02\x01\x02")}, {RAW("\x81\xa1k\x01")},
    {RAW("\xde\x00\x01\xa1k\x01")}, {RAW("\xdf\0\0\0\x01\xa1k\x01")}, {RAW("\x90")},
    {RAW("\x80")}, {RAW("\xa0")}, {RAW("\xd9\x00")}, {RAW("\xc4\x00")}, {RAW("\xdc\x00\x00")},
};
#define NFORMATS (sizeof every_format / sizeof every_format[0])

/* An array16 holding one of each format. */
static char *all_formats(size_t *len)
{
    size_t n = 3;
    for (size_t i = 0; i < NFORMATS; i++)
        n += every_format[i].n;
    char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    b[0] = (char)0xdc;
    b[1] = 0;
    b[2] = (char)NFORMATS;
    size_t o = 3;
    for (size_t i = 0; i < NFORMATS; i++) {
        memcpy(b + o, every_format[i].b, every_format[i].n);
        o += every_format[i].n;
    }
    *len = n;
    return b;
}

static int validate(const char *b, size_t n, char *err, size_t errlen)
{
    err[0] = '\0';
    return proto_validate(b, n, PROTO_DEPTH_MAX, err, errlen);
}

START_TEST(test_every_format_accepted)
{
    char err[256];
    size_t len;
    char *b = all_formats(&len);

    for (size_t i = 0; i < NFORMATS; i++)
        ck_assert_msg(validate(every_format[i].b, every_format[i].n, err, sizeof err) == PROTO_OK,
                      "format %zu: %s", i, err);
    ck_assert_msg(validate(b, len, err, sizeof err) == PROTO_OK, "%s", err);
    /* Well-formed, so it reaches the schema check. */
    struct proto_msg m;
    ASSERT_FAILS(proto_decode(b, len, &m, err, sizeof err), PROTO_E_SCHEMA, err,
                 "message is not a map");
    free(b);
}
END_TEST

/* Every single byte as a whole frame: accepted exactly when it is a
 * complete value by itself. */
START_TEST(test_every_single_byte)
{
    char err[256];
    for (int c = 0; c < 256; c++) {
        char b = (char)c;
        bool complete = c <= 0x80 || c == 0x90 || c == 0xa0 || c == 0xc0 || c == 0xc2 ||
                        c == 0xc3 || c >= 0xe0;
        int rc = validate(&b, 1, err, sizeof err);
        ck_assert_msg(rc == (complete ? PROTO_OK : PROTO_E_MALFORMED), "byte 0x%02x: rc %d (%s)",
                      c, rc, err);
        if (!complete)
            ck_assert_msg(err[0] != '\0', "byte 0x%02x: no reason given", c);
    }
}
END_TEST

START_TEST(test_empty_frame)
{
    char err[256];
    ASSERT_FAILS(validate("", 0, err, sizeof err), PROTO_E_MALFORMED, err, "empty frame");
    struct proto_msg m;
    ASSERT_FAILS(proto_decode("", 0, &m, err, sizeof err), PROTO_E_MALFORMED, err, "empty frame");
}
END_TEST

/* Cut anywhere, a value is refused, never read past its end (the copy is
 * exactly as long as the cut, so ASan sees any overread). */
START_TEST(test_truncated_everywhere)
{
    char err[256];
    size_t len;
    char *b = all_formats(&len);
    for (size_t cut = 1; cut < len; cut++) {
        char *t = malloc(cut);
        memcpy(t, b, cut);
        ck_assert_msg(validate(t, cut, err, sizeof err) == PROTO_E_MALFORMED,
                      "accepted %zu of %zu bytes", cut, len);
        free(t);
    }
    free(b);
}
END_TEST

START_TEST(test_truncated_messages)
{
    static const struct {
        const char *b;
        size_t n;
        const char *needle;
    } cases[] = {
        {RAW("\xd9"), "length header truncated at 0"},
        {RAW("\xc5\x00"), "length header truncated at 0"},
        {RAW("\xdc\x00"), "container header truncated at 0"},
        {RAW("\xdf\x00\x00\x00"), "container header truncated at 0"},
        {RAW("\xa3" "a"), "value at 0 claims 3 bytes, 1 left"},
        {RAW("\xcd\x00"), "value at 0 claims 2 bytes, 1 left"},
        {RAW("\xcb\0\0\0"), "value at 0 claims 8 bytes, 3 left"},
        {RAW("\x92\x01"), "container at 0 claims 2 elements, 1 bytes left"},
        {RAW("\x93\x01\x92\x01\x02"), "value truncated at byte 5"},
        {RAW("\x81\xa1k"), "value truncated at byte 3"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_FAILS(validate(cases[i].b, cases[i].n, err, sizeof err), PROTO_E_MALFORMED, err,
                     cases[i].needle);
}
END_TEST

START_TEST(test_trailing_bytes)
{
    char err[256];
    for (size_t i = 0; i < NFORMATS; i++) {
        char b[32];
        memcpy(b, every_format[i].b, every_format[i].n);
        b[every_format[i].n] = (char)0xc0;
        ASSERT_FAILS(validate(b, every_format[i].n + 1, err, sizeof err), PROTO_E_MALFORMED,
                     err, "1 trailing bytes after the value");
    }
    ASSERT_FAILS(validate(RAW("\x80\x80\x80"), err, sizeof err), PROTO_E_MALFORMED, err,
                 "2 trailing bytes");
    struct proto_msg m;
    ASSERT_FAILS(proto_decode(RAW("\x82\xa1t\xa5hello\xa1v\x01\x00"), &m, err, sizeof err),
                 PROTO_E_MALFORMED, err, "1 trailing bytes");
}
END_TEST

START_TEST(test_reserved_c1)
{
    static const struct {
        const char *b;
        size_t n;
        const char *needle;
    } cases[] = {
        {RAW("\xc1"), "reserved byte 0xc1 at 0"},
        {RAW("\x91\xc1"), "reserved byte 0xc1 at 1"},
        {RAW("\x81\xa1k\xc1"), "reserved byte 0xc1 at 3"},
        {RAW("\x81\xc1\x01"), "reserved byte 0xc1 at 1"},
        {RAW("\x82\xa1t\xa5hello\xa1v\xc1"), "reserved byte 0xc1 at 11"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_FAILS(validate(cases[i].b, cases[i].n, err, sizeof err), PROTO_E_MALFORMED, err,
                     cases[i].needle);
}
END_TEST

START_TEST(test_ext_types_refused)
{
    static const struct {
        const char *b;
        size_t n;
        const char *needle;
    } cases[] = {
        {RAW("\xc7\x01\x05x"), "ext type 0xc7 at 0 is not allowed"},
        {RAW("\xc8\x00\x01\x05x"), "ext type 0xc8 at 0"},
        {RAW("\xc9\0\0\0\x01\x05x"), "ext type 0xc9 at 0"},
        {RAW("\xd4\x05x"), "ext type 0xd4 at 0"},
        {RAW("\xd5\x05xx"), "ext type 0xd5 at 0"},
        {RAW("\xd6\xffxxxx"), "ext type 0xd6 at 0"},  /* -1: the timestamp type */
        {RAW("\xd7\x05xxxxxxxx"), "ext type 0xd7 at 0"},
        {RAW("\xd8\x05xxxxxxxxxxxxxxxx"), "ext type 0xd8 at 0"},
        {RAW("\x82\xa1t\xa5hello\xa1v\xd4\x01\x01"), "ext type 0xd4 at 11"},
    };
    char err[256];
    struct proto_msg m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_FAILS(validate(cases[i].b, cases[i].n, err, sizeof err), PROTO_E_MALFORMED, err,
                     cases[i].needle);
        ASSERT_FAILS(proto_decode(cases[i].b, cases[i].n, &m, err, sizeof err),
                     PROTO_E_MALFORMED, err, cases[i].needle);
    }
}
END_TEST

/* n nested containers: arrays, or maps with one key, innermost empty or
 * holding one integer. */
static char *nest(int n, bool maps, bool empty_inside, size_t *len)
{
    char *b = malloc((size_t)n * 3 + 1);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        bool last = i == n - 1;
        if (maps) {
            b[o++] = (char)(last && empty_inside ? 0x80 : 0x81);
            if (!(last && empty_inside)) {
                b[o++] = (char)0xa1;
                b[o++] = 'k';
            }
        } else {
            b[o++] = (char)(last && empty_inside ? 0x90 : 0x91);
        }
    }
    if (!empty_inside)
        b[o++] = 0x01;
    *len = o;
    return b;
}

START_TEST(test_nesting_cap)
{
    char err[256];
    for (int maps = 0; maps < 2; maps++)
        for (int empty = 0; empty < 2; empty++) {
            size_t len;
            char *b = nest(PROTO_DEPTH_MAX, maps, empty, &len);
            ck_assert_msg(validate(b, len, err, sizeof err) == PROTO_OK, "depth 8: %s", err);
            free(b);
            b = nest(PROTO_DEPTH_MAX + 1, maps, empty, &len);
            ASSERT_FAILS(validate(b, len, err, sizeof err), PROTO_E_MALFORMED, err,
                         "nesting deeper than 8");
            free(b);
        }

    /* Deep enough to overflow a recursive walker. */
    size_t len;
    char *b = nest(100000, false, false, &len);
    ASSERT_FAILS(validate(b, len, err, sizeof err), PROTO_E_MALFORMED, err,
                 "nesting deeper than 8");
    free(b);

    /* The cap is a parameter, clamped to PROTO_DEPTH_MAX. */
    b = nest(3, false, false, &len);
    ck_assert_int_eq(proto_validate(b, len, 3, err, sizeof err), PROTO_OK);
    ASSERT_FAILS(proto_validate(b, len, 2, err, sizeof err), PROTO_E_MALFORMED, err,
                 "nesting deeper than 2");
    free(b);
    b = nest(PROTO_DEPTH_MAX + 1, false, false, &len);
    ASSERT_FAILS(proto_validate(b, len, 0, err, sizeof err), PROTO_E_MALFORMED, err,
                 "nesting deeper than 8");
    ASSERT_FAILS(proto_validate(b, len, 1000, err, sizeof err), PROTO_E_MALFORMED, err,
                 "nesting deeper than 8");
    free(b);
}
END_TEST

/* The message map is the first level: a field value may nest 7 more. */
START_TEST(test_nesting_in_a_message)
{
    char err[256];
    for (int extra = PROTO_DEPTH_MAX - 1; extra <= PROTO_DEPTH_MAX; extra++) {
        size_t len;
        char *inner = nest(extra, false, false, &len);
        char *b = malloc(len + 32);
        size_t o = 0;
        memcpy(b + o, RAW("\x84\xa1t\xa5hello\xa1v\x02\xa8" "features\x00\xa1x"));
        o += sizeof("\x84\xa1t\xa5hello\xa1v\x02\xa8" "features\x00\xa1x") - 1;
        memcpy(b + o, inner, len);
        o += len;
        struct proto_msg m;
        int rc = proto_decode(b, o, &m, err, sizeof err);
        if (extra < PROTO_DEPTH_MAX) {
            ck_assert_msg(rc == PROTO_OK, "%s", err);
            proto_msg_release(&m);
        } else {
            ASSERT_FAILS(rc, PROTO_E_MALFORMED, err, "nesting deeper than 8");
        }
        free(inner);
        free(b);
    }
}
END_TEST

/* Headers that claim more than the frame holds are refused by the walk,
 * before msgpack-c would allocate for them. */
START_TEST(test_bomb_headers)
{
    static const struct {
        const char *b;
        size_t n;
        const char *needle;
    } cases[] = {
        {RAW("\xdd\xff\xff\xff\xff"), "container at 0 claims 4294967295 elements, 0 bytes left"},
        {RAW("\xdf\xff\xff\xff\xff"), "container at 0 claims 8589934590 elements, 0 bytes left"},
        {RAW("\xdc\xff\xff\x01\x02"), "container at 0 claims 65535 elements, 2 bytes left"},
        {RAW("\xde\x00\x03\xa1k\x01"), "container at 0 claims 6 elements, 3 bytes left"},
        {RAW("\xdb\xff\xff\xff\xff"), "value at 0 claims 4294967295 bytes, 0 left"},
        {RAW("\xc6\xff\xff\xff\xff" "abc"), "value at 0 claims 4294967295 bytes, 3 left"},
        {RAW("\x92\xdd\x7f\xff\xff\xff\xc0"), "container at 1 claims 2147483647 elements, 1 bytes left"},
        {RAW("\x82\xa1t\xa5hello\xa1v\xdf\x10\x00\x00\x00"), "container at 11 claims 536870912 elements"},
    };
    char err[256];
    struct proto_msg m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_FAILS(validate(cases[i].b, cases[i].n, err, sizeof err), PROTO_E_MALFORMED, err,
                     cases[i].needle);
        ASSERT_FAILS(proto_decode(cases[i].b, cases[i].n, &m, err, sizeof err),
                     PROTO_E_MALFORMED, err, cases[i].needle);
    }
}
END_TEST

START_TEST(test_validate_without_err)
{
    ck_assert_int_eq(proto_validate("\xc1", 1, PROTO_DEPTH_MAX, NULL, 0), PROTO_E_MALFORMED);
    ck_assert_int_eq(proto_validate("\xc0", 1, PROTO_DEPTH_MAX, NULL, 0), PROTO_OK);
    char tiny[4];
    ck_assert_int_eq(proto_validate("\xdd\xff\xff\xff\xff", 5, PROTO_DEPTH_MAX, tiny, sizeof tiny),
                     PROTO_E_MALFORMED);
    ck_assert_uint_eq(strlen(tiny), sizeof tiny - 1);
}
END_TEST

Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_every_format_accepted);
    tcase_add_test(tc, test_every_single_byte);
    tcase_add_test(tc, test_empty_frame);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_truncated_messages);
    tcase_add_test(tc, test_trailing_bytes);
    tcase_add_test(tc, test_reserved_c1);
    tcase_add_test(tc, test_ext_types_refused);
    tcase_add_test(tc, test_nesting_cap);
    tcase_add_test(tc, test_nesting_in_a_message);
    tcase_add_test(tc, test_bomb_headers);
    tcase_add_test(tc, test_validate_without_err);
    suite_add_tcase(s, tc);
    return s;
}
