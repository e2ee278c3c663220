/* Unit tests of the wire protocol: framing, validation, messages, UTF-8. */
#include "checkrun.h"
#include "suites.h"

#include <stdio.h>

int main(void)
{
    SRunner *sr = srunner_create(msg_suite());
    srunner_add_suite(sr, validate_suite());
    srunner_add_suite(sr, frame_suite());
    srunner_add_suite(sr, utf8_suite());
    srunner_add_suite(sr, memory_suite());
    return checkrun(sr, "proto");
}
