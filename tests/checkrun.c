#include "checkrun.h"

#include <stdio.h>

int checkrun(SRunner *sr, const char *name)
{
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%s: %d passed, %d failed\n", name, run - failed, failed);
    return failed ? 1 : 0;
}
