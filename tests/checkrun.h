/* The end of every Check test program, and the only ways a Check test may
 * skip: the host lacks a layer it is declared to lack (AIOBOX_HOST_LACKS,
 * tests/hostlacks.h), or RLIMIT_AS in a sanitizer build. */
#ifndef AIOBOX_TESTS_CHECKRUN_H
#define AIOBOX_TESTS_CHECKRUN_H

#include <check.h>

/* Runs sr's suites, frees sr, prints one `SKIP TEST: REASON` line per
 * skipped test, then `NAME: N passed, N failed, N skipped`, the line
 * tools/summarize.py adds up. Returns the program's exit status: 1 on a
 * failure, 77 (meson's skip) when every test skipped, else 0. */
int checkrun(SRunner *sr, const char *name);

/* The running test needs layer, which the caller found this host without.
 * When AIOBOX_HOST_LACKS declares it, the test ends as skipped with
 * "host lacks LAYER (AIOBOX_HOST_LACKS): " and the text; otherwise it
 * fails, saying how to declare it. Skipping needs Check's fork mode (the
 * default); under CK_FORK=no the test fails instead. */
__attribute__((noreturn, format(printf, 2, 3)))
void checkrun_host_lacks(const char *layer, const char *fmt, ...);

/* The running test needs RLIMIT_AS, which a sanitizer build does not
 * apply: it ends as skipped with "sanitizer build: " and the text. Called
 * in any other build, it fails the test. */
__attribute__((noreturn, format(printf, 1, 2)))
void checkrun_sanitizer_skip(const char *fmt, ...);

#endif
