#include "samples.h"

#include <stdint.h>
#include <string.h>

#define S(lit) {lit, sizeof(lit) - 1}

static struct proto_str matches3[] = {S("print("), S("property("), S("\xce\xbb_\xf0\x9f\x90\x8d")};
static struct proto_str matches_empty_strs[] = {S(""), S("")};

static const struct proto_msg samples[] = {
    {.type = PROTO_HELLO, .u.hello = {PROTO_VERSION, 0}},
    {.type = PROTO_HELLO, .u.hello = {PROTO_VERSION, PROTO_FEATURE_RICH}},
    {.type = PROTO_READY, .u.ready = {PROTO_VERSION, S("3.11.2"), 4242,
                                      S("policy strict: rlimits, landlock, seccomp")}},
    {.type = PROTO_READY, .u.ready = {PROTO_VERSION, S(""), -1, S("none")}},
    {.type = PROTO_EXEC, .u.exec = {.id = 1, .source = S("x = 1"), .mode = PROTO_EXEC_SINGLE}},
    {.type = PROTO_EXEC, .u.exec = {.id = UINT64_MAX, .source = S("async def f():\n    await g()\n"), .mode = PROTO_EXEC_BLOCK}},
    {.type = PROTO_EXEC, .u.exec = {.id = 0, .source = S(""), .mode = PROTO_EXEC_SINGLE}},
    {.type = PROTO_EXEC, .u.exec = {.id = 7, .source = S("def f():\n    return 1\nf()"), .mode = PROTO_EXEC_BLOCK}},
    {.type = PROTO_EXEC, .u.exec = {.id = 8, .source = S("x = 1\nx + 1"), .mode = PROTO_EXEC_CELL, .output_cap = 65536, .rich = true, .silent = false}},
    {.type = PROTO_EXEC, .u.exec = {.id = 9, .source = S("x"), .mode = PROTO_EXEC_CELL, .output_cap = UINT64_MAX, .rich = false, .silent = true}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = true, .id = 7, .stream = PROTO_STDOUT, .text = S("hello\n")}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = true, .id = 7, .stream = PROTO_STDERR, .text = S("Traceback \xe2\x80\xa6\n")}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = false, .id = 0, .stream = PROTO_STDOUT, .text = S("tick\n")}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = true, .id = 0, .stream = PROTO_STDERR, .text = S("")}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = true, .id = 1, .stream = PROTO_STDOUT, .text = S("nul \0 inside\x1b[0m")}},
    /* A task that statement 3 created, writing while 9 runs, and later. */
    {.type = PROTO_OUTPUT, .u.output = {.has_id = true, .id = 9, .stream = PROTO_STDOUT,
                                        .text = S("tick\n"), .has_origin = true, .origin = 3}},
    {.type = PROTO_OUTPUT, .u.output = {.has_id = false, .id = 0, .stream = PROTO_STDERR,
                                        .text = S("tock\n"), .has_origin = true,
                                        .origin = UINT64_MAX}},
    {.type = PROTO_RESULT, .u.result = {.id = 7, .status = PROTO_STATUS_OK, .display = S(""),
                                        .exit_code = 0, .ps1 = S(">>> "), .ps2 = S("... ")}},
    {.type = PROTO_RESULT, .u.result = {.id = 8, .status = PROTO_STATUS_ERROR, .display = S("ZeroDivisionError: division by zero"),
                                        .exit_code = 0, .ps1 = S("\x1b[32m>>>\x1b[0m "), .ps2 = S("")}},
    {.type = PROTO_RESULT, .u.result = {.id = 9, .status = PROTO_STATUS_INTERRUPTED, .display = S("KeyboardInterrupt"),
                                        .exit_code = 0, .ps1 = S("In [\xce\xbb]: "), .ps2 = S("...: ")}},
    {.type = PROTO_RESULT, .u.result = {.id = 10, .status = PROTO_STATUS_EXIT, .display = S("SystemExit: 3"),
                                        .exit_code = 3, .ps1 = S(">>> "), .ps2 = S("... ")}},
    {.type = PROTO_RESULT, .u.result = {.id = 11, .status = PROTO_STATUS_EXIT, .display = S(""),
                                        .exit_code = INT64_MIN, .ps1 = S(""), .ps2 = S("")}},
    {.type = PROTO_RESULT, .u.result = {.id = 12, .status = PROTO_STATUS_EXIT, .display = S(""),
                                        .exit_code = INT64_MAX, .ps1 = S("nul \0 prompt"), .ps2 = S("\t")}},
    {.type = PROTO_RESULT, .u.result = {13, PROTO_STATUS_OK, S(""), 0, S(">>> "), S("... "),
                                        S("{\"text/plain\": \"42\"}"), S(""), S(""), S(""),
                                        false, S(""), 1234, 20480}},
    {.type = PROTO_RESULT, .u.result = {14, PROTO_STATUS_ERROR, S("SyntaxError: bad"), 0,
                                        S(">>> "), S("... "), S(""), S("SyntaxError"),
                                        S("bad"), S("  File \"<console>\", line 1\n"), true,
                                        S("socket"), UINT64_MAX, 0}},
    {.type = PROTO_COMPLETE, .u.complete = {3, S("pr"), 2}},
    {.type = PROTO_COMPLETE, .u.complete = {3, S("d[\"\xce\xbb"), 3}},
    {.type = PROTO_COMPLETIONS, .u.completions = {3, 3, matches3, 0, 2}},
    {.type = PROTO_COMPLETIONS, .u.completions = {4, 0, NULL, 7, 7}},
    {.type = PROTO_COMPLETIONS, .u.completions = {5, 2, matches_empty_strs, 0, 0}},
    {.type = PROTO_INPUT, .u.input = {12, S("name? "), PROTO_INPUT_LINE}},
    {.type = PROTO_INPUT, .u.input = {12, S("Password: "), PROTO_INPUT_PASSWORD}},
    {.type = PROTO_INPUT, .u.input = {0, S(""), PROTO_INPUT_STDIN}},
    {.type = PROTO_INPUT_REPLY, .u.input_reply = {12, false, S("Ada")}},
    {.type = PROTO_INPUT_REPLY, .u.input_reply = {12, true, S("")}},
    {.type = PROTO_INTERRUPT_ACK, .u.interrupt_ack = {9}},
    {.type = PROTO_DENIED, .u.denied = {101}},
    {.type = PROTO_DENIED, .u.denied = {-1}},
    {.type = PROTO_ERROR, .u.error = {S("frame of 4294967295 bytes exceeds the 1048576-byte limit")}},
    {.type = PROTO_STARTED, .u.started = {7}},
    {.type = PROTO_DISPLAY, .u.display = {.has_id = true, .id = 7,
                                          .data = S("{\"text/html\": \"<b>x</b>\"}"),
                                          .metadata = S("{}"), .display_id = S("")}},
    {.type = PROTO_DISPLAY, .u.display = {.data = S("{}"), .metadata = S("{}"),
                                          .display_id = S("d1"), .update = true}},
    {.type = PROTO_DISPLAY, .u.display = {true, 9, S("{}"), S("{}"), S(""), false, true, 3}},
    {.type = PROTO_CLEAR_OUTPUT, .u.clear_output = {.has_id = true, .id = 7, .wait = true}},
    {.type = PROTO_CLEAR_OUTPUT, .u.clear_output = {.has_id = false, .wait = false}},
    {.type = PROTO_CLEAR_OUTPUT, .u.clear_output = {false, 0, true, true, 0}},
    {.type = PROTO_INSPECT, .u.inspect = {15, S("print("), 5, 1}},
    {.type = PROTO_INSPECTION, .u.inspection = {15, true, S("{\"text/plain\": \"doc\"}")}},
    {.type = PROTO_INSPECTION, .u.inspection = {16, false, S("")}},
    {.type = PROTO_PAGE, .u.page = {true, 7, S("Help on int object:\n")}},
    {.type = PROTO_PAGE, .u.page = {false, 0, S("")}},
    {.type = PROTO_SHUTDOWN, .u.shutdown = {PROTO_VERSION}},
    {.type = PROTO_CANCEL, .u.cancel = {17}},
};

size_t samples_count(void)
{
    return sizeof samples / sizeof samples[0];
}

void samples_get(size_t i, struct proto_msg *msg)
{
    *msg = samples[i];
}
