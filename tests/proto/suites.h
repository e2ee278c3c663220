/* The suites of the protocol test program and what they share. */
#ifndef AIOBOX_TEST_SUITES_H
#define AIOBOX_TEST_SUITES_H

#include <check.h>
#include <string.h>

Suite *msg_suite(void);
Suite *validate_suite(void);
Suite *frame_suite(void);
Suite *utf8_suite(void);
Suite *memory_suite(void);

/* rc must be want and the error text must contain needle. */
#define ASSERT_FAILS(rc, want, err, needle) do { \
        int rc_ = (rc); \
        ck_assert_msg(rc_ == (want), "rc %d, expected %d (error: %s)", rc_, (int)(want), (err)); \
        ck_assert_msg(strstr((err), (needle)) != NULL, "error '%s' does not mention '%s'", \
                      (err), (needle)); \
    } while (0)

/* Generous: the sanitizer build is several times slower. */
#define TEST_TIMEOUT 120

#endif
