/* Unit tests of the wire protocol: framing, validation, messages, UTF-8. */
#include "suites.h"

#include <stdio.h>

int main(void)
{
    SRunner *sr = srunner_create(msg_suite());
    srunner_add_suite(sr, validate_suite());
    srunner_add_suite(sr, frame_suite());
    srunner_add_suite(sr, utf8_suite());
    srunner_add_suite(sr, memory_suite());
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("proto: %d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
