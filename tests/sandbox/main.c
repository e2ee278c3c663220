/* Kernel tests of the sandbox layers, each in forked children. */
#include "checkrun.h"
#include <stdio.h>

#include "harness.h"

int main(void)
{
    SRunner *sr = srunner_create(seccomp_suite());
    srunner_add_suite(sr, landlock_suite());
    srunner_add_suite(sr, rlimit_suite());
    srunner_add_suite(sr, creds_suite());
    srunner_add_suite(sr, sigsys_suite());
    srunner_add_suite(sr, mount_suite());
    return checkrun(sr, "sandbox");
}
