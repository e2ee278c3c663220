/* Unit tests of the policy parser and seccomp compiler. */
#ifndef AIOBOX_TEST_POLICY_SUITES_H
#define AIOBOX_TEST_POLICY_SUITES_H

#include <check.h>
#include <stddef.h>

#include "policy.h"

Suite *directives_suite(void);
Suite *errors_suite(void);
Suite *filter_suite(void);
Suite *shipped_suite(void);

/* Parses text named "t.policy"; fails the test with the error if it does
 * not parse. */
struct policy *parse_ok(const char *text);
/* The filter the policy compiles to, in libseccomp's pseudo filter code
 * (malloc'd). */
char *export_pfc(const struct policy *p);
/* The lines of pfc that belong to `if ($syscall == nr)`, malloc'd. */
char *pfc_block(const char *pfc, int nr);
/* Checks that every `action ALLOW;` of the syscall's block sits under an
 * argument test: returns 0 when it does, -1 when the block allows the call
 * outright, 1 when the block is missing. */
int pfc_allow_is_conditional(const char *pfc, int nr);

#endif
