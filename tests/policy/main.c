/* Unit tests of the policy language, its errors and the filters it
 * compiles to. */
#include "checkrun.h"
#include <stdio.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(directives_suite());
    srunner_add_suite(sr, errors_suite());
    srunner_add_suite(sr, filter_suite());
    srunner_add_suite(sr, shipped_suite());
    return checkrun(sr, "policy");
}
