/* Kernel tests of the sandbox layers, each in forked children. */
#include <stdio.h>

#include "harness.h"

int main(void)
{
    SRunner *sr = srunner_create(seccomp_suite());
    srunner_add_suite(sr, landlock_suite());
    srunner_add_suite(sr, rlimit_suite());
    srunner_add_suite(sr, creds_suite());
    srunner_add_suite(sr, sigsys_suite());
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("sandbox: %d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
