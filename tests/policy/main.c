/* Unit tests of the policy language, its errors and the filters it
 * compiles to. */
#include <stdio.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(directives_suite());
    srunner_add_suite(sr, errors_suite());
    srunner_add_suite(sr, filter_suite());
    srunner_add_suite(sr, shipped_suite());
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("policy: %d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
