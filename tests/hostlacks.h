/* AIOBOX_HOST_LACKS: what the person running the tests declares this host
 * cannot do (tests/README.md). A test that finds the host without a layer
 * it needs skips when the variable names that layer, and fails when it
 * does not; the variable never skips a test on a host that has the layer.
 * tests/hostlacks.py is the same for the Python tests. */
#ifndef AIOBOX_TESTS_HOSTLACKS_H
#define AIOBOX_TESTS_HOSTLACKS_H

#include <stdbool.h>

/* True when AIOBOX_HOST_LACKS lists layer, one of:
 *   landlock        the kernel has no landlock, or it is not enabled
 *   landlock-tcp    landlock below ABI 4: no TCP rules (the net policy)
 *   landlock-scope  landlock below ABI 6: no signal or abstract-socket scope
 *   seccomp         the kernel does not take seccomp filters
 *   ia32            no IA-32 emulation: int 0x80 faults before any filter
 *   root            the tests do not run as root: no drop to nobody to test
 * A word of the variable outside this list makes every call exit the
 * program with status 2: a typo must not pass for a declaration. */
bool hostlacks_declared(const char *layer);

/* The layer an executor or sandbox_apply error says the host lacks, by
 * the wording of executor/sandbox/ ("landlock: not available (...)", ...),
 * or NULL when the error is about something else. */
const char *hostlacks_layer_of(const char *error);

#endif
