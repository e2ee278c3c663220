/* Runs probes inside a sandbox in a forked child, so the test process
 * itself stays free. */
#ifndef AIOBOX_TEST_SANDBOX_HARNESS_H
#define AIOBOX_TEST_SANDBOX_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "sandbox.h"

/* What a sandboxed child did. */
struct outcome {
    int status;                 /* from waitpid */
    unsigned char frame[256];   /* bytes written on the channel (SIGSYS) */
    size_t framelen;
    char desc[512];             /* what sandbox_apply said it applied */
    char err[512];              /* or why it failed */
};

/* The probe's return value becomes the child's exit status (by convention
 * the errno of the call tried, 0 when it worked). */
typedef int (*probe_fn)(void *arg);

/* Exit status of a child whose sandbox_apply failed. */
#define HARNESS_APPLY_FAILED 200

/* When set, the child calls it before sandbox_apply (to set up state the
 * sandbox must keep, or to simulate an older kernel). Tests reset it. */
extern void (*harness_before)(void);

/* Parses policy_text, forks; the child arms the SIGSYS handler on a
 * socketpair, applies the policy and runs probe. */
void run_sandboxed(const char *policy_text, probe_fn probe, void *arg,
                   struct outcome *out);
/* The same with a policy already parsed (and perhaps extended). */
void run_policy(const struct policy *p, probe_fn probe, void *arg,
                struct outcome *out);

/* The shipped strict policy with some directives dropped, then extra
 * appended (malloc'd text). A drop entry without a blank matches a
 * directive's first word; with blanks, the start of the directive. */
char *strict_variant(const char *const *drop, const char *extra);
/* strict minus one layer: "seccomp", "landlock", "rlimits" or "" (none);
 * always without its mount namespace (and /tmp), so that each layer is
 * seen alone. */
char *strict_without(const char *layer);

bool exited_with(const struct outcome *o, int code);
bool killed_by(const struct outcome *o, int sig);
/* The syscall number in a `denied` frame, or -1 if the bytes are not one
 * well-formed frame. */
long long denied_syscall(const struct outcome *o);

#define ck_assert_exit(o, code) \
    ck_assert_msg(exited_with((o), (code)), "expected exit %d, status 0x%x (%s)", \
                  (code), (o)->status, (o)->err)
#define ck_assert_killed(o, sig) \
    ck_assert_msg(killed_by((o), (sig)), "expected signal %d, status 0x%x (%s)", \
                  (sig), (o)->status, (o)->err)

Suite *seccomp_suite(void);
Suite *landlock_suite(void);
Suite *rlimit_suite(void);
Suite *creds_suite(void);
Suite *sigsys_suite(void);
Suite *mount_suite(void);

#endif
