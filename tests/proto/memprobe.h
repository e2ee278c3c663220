/* Runs a function under a memory budget, measured for real: in a plain
 * build in a forked child whose RLIMIT_AS is its current size plus the
 * budget (an allocation past it fails), in an AddressSanitizer build (which
 * reserves terabytes, so RLIMIT_AS cannot work) in-process, tracking the
 * peak of live heap bytes through the sanitizer's allocation hooks. */
#ifndef AIOBOX_TEST_MEMPROBE_H
#define AIOBOX_TEST_MEMPROBE_H

#include <stddef.h>

/* fn returns 0 when it saw what it expected. Returns 0 when fn returned 0
 * within the budget; otherwise 1, with the reason in why. */
int memprobe_run(size_t budget, int (*fn)(void *), void *arg,
                 char *why, size_t whylen);

/* "rlimit" or "asan-hooks": which method memprobe_run uses. */
const char *memprobe_method(void);

#endif
