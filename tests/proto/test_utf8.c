/* UTF-8 validation, sanitising and the complete-prefix split, checked at
 * every boundary of the encoding and exhaustively where the space is small.
 * Expected sanitiser output comes from /usr/bin/python3's
 * bytes.decode('utf-8', 'replace'). */
#include "suites.h"
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RAW(lit) lit, sizeof(lit) - 1

/* Plain encoding of a scalar in n bytes (n may be longer than needed, to
 * make overlongs); no range checks. */
static size_t encode_in(uint32_t cp, int n, unsigned char *out)
{
    static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    if (n == 1) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    for (int i = n - 1; i > 0; i--) {
        out[i] = (unsigned char)(0x80 | (cp & 0x3f));
        cp >>= 6;
    }
    out[0] = (unsigned char)(lead[n] | cp);
    return (size_t)n;
}

static int shortest(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

START_TEST(test_valid_boundaries)
{
    static const struct {
        const char *s;
        size_t n;
    } ok[] = {
        {RAW("")}, {RAW("a")}, {"\0", 1}, {RAW("\x7f")}, {RAW("\xc2\x80")}, {RAW("\xdf\xbf")},
        {RAW("\xe0\xa0\x80")}, {RAW("\xed\x9f\xbf")}, {RAW("\xee\x80\x80")}, {RAW("\xef\xbf\xbf")},
        {RAW("\xf0\x90\x80\x80")}, {RAW("\xf4\x8f\xbf\xbf")},
        {RAW("mixed \xce\xbb \xe2\x82\xac \xf0\x9f\x90\x8d.")},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t bad = 12345;
        ck_assert_msg(utf8_valid(ok[i].s, ok[i].n, &bad), "case %zu refused", i);
        ck_assert_uint_eq(bad, 12345);
        ck_assert(utf8_valid(ok[i].s, ok[i].n, NULL));
    }
}
END_TEST

START_TEST(test_invalid_with_offsets)
{
    static const struct {
        const char *s;
        size_t n;
        size_t bad;
    } cases[] = {
        {RAW("\x80"), 0},                   /* lone continuation */
        {RAW("ab\xbf"), 2},
        {RAW("\xc0\x80"), 0},               /* overlong NUL */
        {RAW("\xc1\xbf"), 0},               /* overlong U+007F */
        {RAW("\xe0\x80\x80"), 0},           /* overlong 3-byte */
        {RAW("\xe0\x9f\xbf"), 0},
        {RAW("\xf0\x80\x80\x80"), 0},       /* overlong 4-byte */
        {RAW("\xf0\x8f\xbf\xbf"), 0},
        {RAW("ok\xed\xa0\x80"), 2},         /* U+D800 */
        {RAW("\xed\xbf\xbf"), 0},           /* U+DFFF */
        {RAW("\xed\xa0\xbd\xed\xb2\xa9"), 0},  /* CESU-8 pair */
        {RAW("\xf4\x90\x80\x80"), 0},       /* U+110000 */
        {RAW("\xf7\xbf\xbf\xbf"), 0},
        {RAW("\xf8\x88\x80\x80\x80"), 0},   /* 5-byte form */
        {RAW("\xfc\x84\x80\x80\x80\x80"), 0},
        {RAW("\xfe"), 0},
        {RAW("\xff"), 0},
        {RAW("a\xc3"), 1},                  /* truncated at the end */
        {RAW("a\xe2\x82"), 1},
        {RAW("a\xf0\x9f\x98"), 1},
        {RAW("\xe2\x82" "a"), 0},           /* cut short by a non-continuation */
        {RAW("\xf0\x9f\x98\xc3\xa9"), 0},
        {RAW("\xce\xbb\xc3"), 2},
        {RAW("\xc3\xa9\xa9"), 2},           /* one continuation too many */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 999;
        ck_assert_msg(!utf8_valid(cases[i].s, cases[i].n, &bad), "case %zu accepted", i);
        ck_assert_msg(bad == cases[i].bad, "case %zu: bad %zu, expected %zu", i, bad,
                      cases[i].bad);
        ck_assert(!utf8_valid(cases[i].s, cases[i].n, NULL));
    }
}
END_TEST

/* Every scalar value encodes to something valid; surrogates, overlong
 * forms and values above U+10FFFF do not. */
START_TEST(test_every_code_point)
{
    unsigned char b[4];
    for (uint32_t cp = 0; cp < 0x200000; cp++) {
        int n = shortest(cp);
        size_t len = encode_in(cp, n, b);
        bool scalar = cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        size_t bad = 99;
        if (utf8_valid((const char *)b, len, &bad) != scalar)
            ck_abort_msg("U+%04X: expected %s", (unsigned)cp, scalar ? "valid" : "invalid");
        if (!scalar)
            ck_assert_uint_eq(bad, 0);
        for (int longer = n + 1; longer <= 4 && cp < 0x10000; longer++) {
            len = encode_in(cp, longer, b);
            if (utf8_valid((const char *)b, len, NULL))
                ck_abort_msg("overlong U+%04X in %d bytes accepted", (unsigned)cp, longer);
        }
    }
}
END_TEST

/* All 2- and 3-byte strings: as many are accepted as there are ways to
 * write valid text of that length (ASCII = 128, two-byte scalars = 1920,
 * three-byte scalars = 63488 - 2048 surrogates). */
START_TEST(test_exhaustive_short_strings)
{
    const uint64_t ascii = 128, two = 1920, three = 63488 - 2048;
    uint64_t valid2 = 0, valid3 = 0;
    char s[3];

    for (unsigned i = 0; i < 0x10000; i++) {
        s[0] = (char)(i >> 8);
        s[1] = (char)i;
        valid2 += utf8_valid(s, 2, NULL);
    }
    ck_assert_uint_eq(valid2, ascii * ascii + two);
    for (unsigned i = 0; i < 0x1000000; i++) {
        s[0] = (char)(i >> 16);
        s[1] = (char)(i >> 8);
        s[2] = (char)i;
        valid3 += utf8_valid(s, 3, NULL);
    }
    ck_assert_uint_eq(valid3, ascii * ascii * ascii + 2 * ascii * two + three);
}
END_TEST

START_TEST(test_sanitize_like_python)
{
    static const struct {
        const char *in;
        size_t inlen;
        const char *out;
        size_t outlen;
    } cases[] = {
        {RAW("\xe2\x82"), RAW("\xef\xbf\xbd")},
        {RAW("\xe2\x82" "A"), RAW("\xef\xbf\xbd" "A")},
        {RAW("\xe2\x82("), RAW("\xef\xbf\xbd(")},
        {RAW("\xf0\x9f\x98"), RAW("\xef\xbf\xbd")},
        {RAW("\xed\xa0\x80"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xc0\xaf"), RAW("\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xf4\x90\x80\x80"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xf5\x80"), RAW("\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xe0\x80\xaf"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xf0\x80\x80\xaf"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xff"), RAW("\xef\xbf\xbd")},
        {RAW("a\xf0\x9f\x98\x80" "b"), RAW("a\xf0\x9f\x98\x80" "b")},
        {RAW(""), RAW("")},
        {RAW("\x80\x80"), RAW("\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xf0\x9f\x98\xf0\x9f\x98\x80"), RAW("\xef\xbf\xbd\xf0\x9f\x98\x80")},
        {RAW("\xe2\xf0\x9f\x98\x80"), RAW("\xef\xbf\xbd\xf0\x9f\x98\x80")},
        {RAW("\xf0\x9f\x98\xe2\x82\xac"), RAW("\xef\xbf\xbd\xe2\x82\xac")},
        {RAW("x\xc3"), RAW("x\xef\xbf\xbd")},
        {RAW("\xf8\x88\x80\x80\x80"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xc2" "A\xc2"), RAW("\xef\xbf\xbd" "A\xef\xbf\xbd")},
        {RAW("\xe1\x80\xe2\xf0\x91\x92\xf1\xbf" "A"), RAW("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "A")},
        {RAW("\xed\x9f\xbf\xed\xbf\xbf"), RAW("\xed\x9f\xbf\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")},
        {RAW("\xf4\x8f\xbf\xbf\xf4\x8f\xbf"), RAW("\xf4\x8f\xbf\xbf\xef\xbf\xbd")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = utf8_sanitize(cases[i].in, cases[i].inlen, out);
        ck_assert_msg(n == cases[i].outlen && memcmp(out, cases[i].out, n) == 0,
                      "case %zu: %zu bytes, expected %zu", i, n, cases[i].outlen);
    }
}
END_TEST

/* Whatever goes in, what comes out is valid, within 3 * len, and valid
 * input comes out unchanged. */
START_TEST(test_sanitize_properties)
{
    char s[3], out[9];
    for (unsigned i = 0; i < 0x1000000; i++) {
        s[0] = (char)(i >> 16);
        s[1] = (char)(i >> 8);
        s[2] = (char)i;
        size_t n = utf8_sanitize(s, 3, out);
        if (n > 9 || !utf8_valid(out, n, NULL))
            ck_abort_msg("sanitising %06x gave invalid output", i);
        if (utf8_valid(s, 3, NULL) && (n != 3 || memcmp(s, out, 3) != 0))
            ck_abort_msg("sanitising valid %06x changed it", i);
    }
    ck_assert_uint_eq(utf8_sanitize("", 0, out), 0);
    /* Every byte invalid: the worst case, three bytes out for each in. */
    ck_assert_uint_eq(utf8_sanitize("\xff\xfe\x80", 3, out), 9);
}
END_TEST

START_TEST(test_complete_prefix)
{
    static const struct {
        const char *s;
        size_t n;
        size_t prefix;
    } cases[] = {
        {RAW(""), 0},
        {RAW("abc"), 3},
        {RAW("abc\xe2"), 3},
        {RAW("abc\xe2\x82"), 3},
        {RAW("abc\xe2\x82\xac"), 6},
        {RAW("\xf0"), 0},
        {RAW("\xf0\x9f"), 0},
        {RAW("\xf0\x9f\x98"), 0},
        {RAW("x\xf0\x9f\x98\x80"), 5},
        {RAW("ab\xf0\x9f\x98\x80\xe2\x82"), 6},
        {RAW("\xc3"), 0},
        /* Bytes that can never become valid are not held back. */
        {RAW("a\xff"), 2},
        {RAW("\x80"), 1},
        {RAW("\xc0"), 1},
        {RAW("\xe2\x28"), 2},
        {RAW("\xed\xa0"), 2},    /* would be a surrogate */
        {RAW("\xf4\x90"), 2},    /* would be above U+10FFFF */
        {RAW("\xe0\x80"), 2},    /* would be overlong */
        {RAW("\xf5\x80\x80"), 3},
        {RAW("\xe2\xf0\x9f"), 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t p = utf8_complete_prefix(cases[i].s, cases[i].n);
        ck_assert_msg(p == cases[i].prefix, "case %zu: %zu, expected %zu", i, p,
                      cases[i].prefix);
    }
}
END_TEST

/* Cut valid text anywhere: the prefix ends at the last character boundary
 * before the cut, so the two pieces are each valid. */
START_TEST(test_complete_prefix_at_every_cut)
{
    static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x8d" "b\xf4\x8f\xbf\xbf\xce\xbb";
    const size_t len = sizeof text - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        size_t p = utf8_complete_prefix(text, cut);
        ck_assert_uint_le(p, cut);
        ck_assert_uint_lt(cut - p, 4);
        ck_assert_msg(utf8_valid(text, p, NULL), "cut %zu: prefix %zu invalid", cut, p);
        ck_assert_msg(utf8_valid(text + p, len - p, NULL), "cut %zu: rest invalid", cut);
    }
}
END_TEST

Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_valid_boundaries);
    tcase_add_test(tc, test_invalid_with_offsets);
    tcase_add_test(tc, test_every_code_point);
    tcase_add_test(tc, test_exhaustive_short_strings);
    tcase_add_test(tc, test_sanitize_like_python);
    tcase_add_test(tc, test_sanitize_properties);
    tcase_add_test(tc, test_complete_prefix);
    tcase_add_test(tc, test_complete_prefix_at_every_cut);
    suite_add_tcase(s, tc);
    return s;
}
