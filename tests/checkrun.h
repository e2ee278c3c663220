/* The end of every Check test program. */
#ifndef AIOBOX_TESTS_CHECKRUN_H
#define AIOBOX_TESTS_CHECKRUN_H

#include <check.h>

/* Runs sr's suites, frees sr and prints `NAME: N passed, N failed`, the
 * line tools/summarize.py adds up. Returns the program's exit status. */
int checkrun(SRunner *sr, const char *name);

#endif
