/* Behaviour of the real aiobox-executor, driven over its channel without
 * the supervisor. Byte-for-byte comparisons with CPython's asyncio REPL
 * live in test_transcripts.c. */
#define _GNU_SOURCE
#include "checkrun.h"
#include "hostlacks.h"
#include "config.h"
#include "policy.h"
#include "xproc.h"

#include <check.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT PROTO_STDOUT
#define ERR PROTO_STDERR

static struct xp x;

static void start(void)
{
    ck_assert_msg(xp_start(&x) != NULL, "the executor sent no ready");
}

/* Ends the executor by closing the channel, and fails the test if a
 * sanitizer complained on its fd 2 meanwhile. */
static void stop(void)
{
    xp_close_channel(&x);
    xp_wait_exit(&x, XP_TIMEOUT_MS);
    xp_drain(&x, XP_TIMEOUT_MS);
    const char *err = x.raw2.data ? x.raw2.data : "";
    ck_assert_msg(!strstr(err, "runtime error:") && !strstr(err, "Sanitizer"),
                  "sanitizer report from the executor:\n%s", err);
    xp_close(&x);
}

static const struct xp_msg *run(uint64_t id, const char *src)
{
    const struct xp_msg *r = xp_exec(&x, id, src);
    ck_assert_msg(r != NULL, "no result for statement %llu: %s", (unsigned long long)id, src);
    return r;
}

static void run_status(uint64_t id, const char *src, int status)
{
    const struct xp_msg *r = run(id, src);
    ck_assert_msg(r->status == status, "statement %llu (%s): status %s, want %s (display '%s')",
                  (unsigned long long)id, src, proto_status_name(r->status),
                  proto_status_name(status), r->text);
}

/* Runs src, which must succeed, and checks what it wrote to stdout. */
static void expect_out(uint64_t id, const char *src, const char *want)
{
    run_status(id, src, PROTO_STATUS_OK);
    char *got = xp_output(&x, true, id, OUT);
    ck_assert_msg(strcmp(got, want) == 0, "%s: stdout '%s', want '%s'", src, got, want);
    free(got);
}

static void expect_err_contains(uint64_t id, const char *needle)
{
    char *got = xp_output(&x, true, id, ERR);
    ck_assert_msg(strstr(got, needle), "stderr of %llu is '%s', wanted '%s' in it",
                  (unsigned long long)id, got, needle);
    free(got);
}

static const struct xp_msg *wait_text(uint64_t id, const char *needle)
{
    size_t from = 0;
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_OUTPUT, .has_id = true,
                                                          .id = id, .needle = needle},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_msg(m != NULL, "statement %llu never wrote '%s'", (unsigned long long)id, needle);
    return m;
}

static const struct xp_msg *wait_result(uint64_t id)
{
    size_t from = 0;
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_RESULT, .has_id = true,
                                                          .id = id},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_msg(m != NULL, "no result for statement %llu", (unsigned long long)id);
    return m;
}

static void interrupt(uint64_t tag)
{
    union sigval v = {.sival_int = (int)(tag & 0x7fffffff)};
    ck_assert_int_eq(sigqueue(x.pid, SIGINT, v), 0);
}

/* An interrupted statement: KeyboardInterrupt shown as CPython shows it,
 * acknowledged, then the interrupted result. */
static void expect_interrupted(uint64_t id)
{
    const struct xp_msg *r = wait_result(id);
    ck_assert_int_eq(r->status, PROTO_STATUS_INTERRUPTED);
    ck_assert_str_eq(r->text, "KeyboardInterrupt");
    char *err = xp_output(&x, true, id, ERR);
    ck_assert_str_eq(err, "\nKeyboardInterrupt\n");
    free(err);
    size_t ack = xp_index(&x, PROTO_INTERRUPT_ACK, id);
    ck_assert_msg(ack != (size_t)-1, "no interrupt_ack for %llu", (unsigned long long)id);
    ck_assert_msg(ack < xp_index(&x, PROTO_RESULT, id), "interrupt_ack after the result");
}

/* --- start, protocol, command line --------------------------------------- */

START_TEST(ready_fields)
{
    const struct xp_msg *r = xp_start(&x);
    ck_assert_ptr_nonnull(r);
    struct xp_buf out = {0}, err = {0};
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "import platform; print(platform.python_version(), end='')", NULL};
    ck_assert_int_eq(xp_run(argv, NULL, &out, &err, XP_TIMEOUT_MS), 0);
    ck_assert_str_eq(r->text, out.data);
    ck_assert_int_eq(r->code, x.pid);
    ck_assert_str_eq(r->extra, "none");
    xp_buf_free(&out);
    xp_buf_free(&err);
    /* ready is the first message, and nothing precedes it on fd 1 or 2. */
    ck_assert_ptr_eq(r, &x.log[0]);
    stop();
}
END_TEST

static void send_map(int version, const char *type)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, type, strlen(type));
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, (uint32_t)version);
    unsigned char hdr[4] = {(unsigned char)(sb.size >> 24), (unsigned char)(sb.size >> 16),
                            (unsigned char)(sb.size >> 8), (unsigned char)sb.size};
    ck_assert_int_eq(xp_send_raw(&x, hdr, 4), 0);
    ck_assert_int_eq(xp_send_raw(&x, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* The executor refuses the peer with an error message and status 3. */
static void expect_refusal(const char *needle)
{
    const struct xp_msg *e = xp_wait(&x, (struct xp_want){.type = PROTO_ERROR, .any_id = true},
                                     NULL, XP_TIMEOUT_MS);
    ck_assert_msg(e != NULL, "no error message");
    ck_assert_msg(strstr(e->text, needle), "error '%s' does not mention '%s'", e->text, needle);
    int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3,
                  "exit status %d, want exit(3)", st);
    stop();
}

START_TEST(hello_wrong_version)
{
    ck_assert_int_eq(xp_spawn(&x, NULL), 0);
    send_map(PROTO_VERSION + 1, "hello");
    expect_refusal("version");
}
END_TEST

START_TEST(first_message_not_hello)
{
    ck_assert_int_eq(xp_spawn(&x, NULL), 0);
    ck_assert_int_eq(xp_send_exec(&x, 1, "1"), 0);
    expect_refusal("hello");
}
END_TEST

START_TEST(garbage_frame)
{
    static const unsigned char junk[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
    start();
    ck_assert_int_eq(xp_send_raw(&x, junk, sizeof junk), 0);
    expect_refusal("frame");
}
END_TEST

START_TEST(oversized_frame)
{
    static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff};
    start();
    ck_assert_int_eq(xp_send_raw(&x, huge, sizeof huge), 0);
    expect_refusal("limit");
}
END_TEST

START_TEST(message_for_the_supervisor)
{
    struct proto_msg ack = {.type = PROTO_INTERRUPT_ACK};
    start();
    ack.u.interrupt_ack.id = 1;
    ck_assert_int_eq(xp_send(&x, &ack), 0);
    expect_refusal("unexpected");
}
END_TEST

static const struct {
    const char *args[6];
    const char *complaint;
} bad_options[] = {
    {{NULL}, "--fd is required"},
    {{"--fd", "3", NULL}, "--no-sandbox"},
    {{"--fd", "x3", "--no-sandbox", NULL}, "--fd"},
    {{"--fd", "1", "--no-sandbox", NULL}, "--fd"},
    {{"--fd", "3", "--no-sandbox", "--policy", "p", NULL}, "exactly one"},
    {{"--fd", "3", "--no-sandbox", "--allow-read", "/tmp", NULL}, "--policy"},
    {{"--fd", "3", "--no-sandbox", "--bogus", NULL}, "unknown option"},
    {{"--fd", "3", "--no-sandbox", "extra", NULL}, "unexpected argument"},
    {{"--fd", NULL}, "needs an argument"},
    {{"--fd", "3", "--fd", "4", "--no-sandbox", NULL}, "twice"},
    {{"--fd", "9", "--no-sandbox", NULL}, "--fd 9"},
};

START_TEST(bad_command_line)
{
    ck_assert_int_eq(xp_spawn(&x, bad_options[_i].args), 0);
    int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d, want exit(2)",
                  st);
    ck_assert_msg(xp_wait_raw(&x, 2, bad_options[_i].complaint, XP_TIMEOUT_MS),
                  "stderr '%s' lacks '%s'", x.raw2.data ? x.raw2.data : "",
                  bad_options[_i].complaint);
    stop();
}
END_TEST

/* POLICY_GRANTS_MAX grants pass the command line (the missing policy then
 * stops the start: exit 1); one more is a usage error (exit 2). */
START_TEST(grants_limit)
{
    const char *args[4 + 2 * (POLICY_GRANTS_MAX + 1) + 1] = {
        "--fd", "3", "--policy", "/nonexistent/aiobox-policy",
    };
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = 4;
        for (size_t i = 0; i < POLICY_GRANTS_MAX + (size_t)extra; i++) {
            args[n++] = "--allow-read";
            args[n++] = "/usr";
        }
        args[n] = NULL;
        ck_assert_int_eq(xp_spawn(&x, args), 0);
        int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 + extra,
                      "%d grants: status %d, want exit(%d)", POLICY_GRANTS_MAX + extra, st,
                      1 + extra);
        if (extra)
            ck_assert_msg(xp_wait_raw(&x, 2, "at most 64 --allow-read/--allow-write paths",
                                      XP_TIMEOUT_MS), "stderr: %s", x.raw2.data ? x.raw2.data : "");
        stop();
    }
}
END_TEST

START_TEST(not_a_socket)
{
    /* fd 3 is a pipe here: refused before Python starts. */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    memset(&x, 0, sizeof x);
    x.chan = -1;
    ck_assert_int_eq(xp_spawn_fds(&x, p[0], NULL), 0);
    int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    close(p[1]);
    stop();
}
END_TEST

START_TEST(unusable_policy)
{
    const char *args[] = {"--fd", "3", "--policy", "/nonexistent/aiobox-policy", NULL};
    ck_assert_int_eq(xp_spawn(&x, args), 0);
    /* Refused before ready, with a reason on the channel and on fd 2. */
    const struct xp_msg *e = xp_wait(&x, (struct xp_want){.type = PROTO_ERROR, .any_id = true},
                                     NULL, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(xp_count(&x, PROTO_READY, 0), 0);
    int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d, want exit(1)",
                  st);
    ck_assert(xp_wait_raw(&x, 2, "aiobox-executor: ", XP_TIMEOUT_MS));
    stop();
}
END_TEST

START_TEST(exit_when_channel_closes)
{
    start();
    run_status(1, "x = 1", PROTO_STATUS_OK);
    xp_close_channel(&x);
    int st = xp_wait_exit(&x, XP_TIMEOUT_MS);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, want exit(0)",
                  st);
    stop();
}
END_TEST

START_TEST(exit_when_parent_dies)
{
    int sv[2], report[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(pipe(report), 0);
    pid_t middle = fork();
    ck_assert_int_ne(middle, -1);
    if (middle == 0) {
        /* The executor's parent: starts it, then waits to be killed. */
        struct xp child;
        memset(&child, 0, sizeof child);
        child.chan = -1;
        close(sv[0]);
        close(report[0]);
        if (xp_spawn_fds(&child, sv[1], NULL) < 0)
            _exit(1);
        if (write(report[1], &child.pid, sizeof child.pid) != sizeof child.pid)
            _exit(1);
        for (;;)
            pause();
    }
    close(sv[1]);
    close(report[1]);
    memset(&x, 0, sizeof x);
    x.chan = sv[0];
    x.fd1 = x.fd2 = -1;
    proto_reader_init(&x.reader, PROTO_FRAME_MAX_DEFAULT);
    pid_t exec_pid;
    ck_assert_int_eq(read(report[0], &exec_pid, sizeof exec_pid), sizeof exec_pid);
    struct proto_msg hello = {.type = PROTO_HELLO};
    hello.u.hello.version = PROTO_VERSION;
    ck_assert_int_eq(xp_send(&x, &hello), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_READY, .any_id = true},
                                  NULL, XP_TIMEOUT_MS));
    kill(middle, SIGKILL);
    waitpid(middle, NULL, 0);
    /* Only the executor holds the other end: EOF means it died. */
    ck_assert_msg(xp_wait_eof(&x, XP_TIMEOUT_MS), "the executor outlived its parent");
    close(report[0]);
    stop();
}
END_TEST

/* --- statements ------------------------------------------------------------ */

START_TEST(display_and_underscore)
{
    start();
    expect_out(1, "1 + 1", "2\n");
    expect_out(2, "_", "2\n");
    expect_out(3, "None", "");
    expect_out(4, "_ * 10", "20\n");
    expect_out(5, "x = 5", "");
    expect_out(6, "_", "20\n");
    expect_out(7, "1; 2", "1\n2\n");
    expect_out(8, "x = 3; x * 2", "6\n");
    stop();
}
END_TEST

START_TEST(namespace_like_cpython)
{
    start();
    expect_out(1, "__name__", "'__main__'\n");
    expect_out(2, "asyncio.__name__", "'asyncio'\n");
    expect_out(3, "__builtins__.__name__", "'builtins'\n");
    expect_out(4, "def f(): return __name__\n\n", "");
    expect_out(5, "f()", "'__main__'\n");
    expect_out(6, "exit", "Use exit() or Ctrl-D (i.e. EOF) to exit\n");
    expect_out(7, "import threading; threading.active_count()", "1\n");
    stop();
}
END_TEST

/* sys.path as Python shows it: the build's list, in order. */
static char *sys_path_repr(void)
{
    static const char *const path[] = { AIOBOX_PYTHON_SYS_PATH };
    struct xp_buf b = {0};
    xp_buf_add(&b, "[", 1);
    for (size_t i = 0; i < sizeof path / sizeof *path; i++) {
        if (i)
            xp_buf_add(&b, ", ", 2);
        xp_buf_add(&b, "'", 1);
        xp_buf_add(&b, path[i], strlen(path[i]));
        xp_buf_add(&b, "'", 1);
    }
    xp_buf_add(&b, "]\n", 2);
    return b.data;
}

START_TEST(isolated_configuration)
{
    start();
    char *want = sys_path_repr();
    expect_out(1, "import sys; sys.path", want);
    free(want);
    expect_out(2, "sys.flags.no_site, sys.flags.no_user_site, sys.flags.ignore_environment, "
                  "sys.flags.safe_path, sys.flags.dont_write_bytecode",
               "(1, 1, 1, True, 1)\n");
    expect_out(3, "sys.getfilesystemencoding(), sys.flags.utf8_mode", "('utf-8', 1)\n");
    expect_out(4, "sys.argv", "['']\n");
    /* The standard library and the interpreter the build found are the
     * ones in use. */
    expect_out(5, "import os; os.path.dirname(os.__file__) == '" AIOBOX_PYTHON_STDLIB "'",
               "True\n");
    expect_out(6, "sys.executable == '" AIOBOX_PYTHON "'", "True\n");
    stop();
}
END_TEST

START_TEST(top_level_await_and_tasks)
{
    start();
    expect_out(1, "await asyncio.sleep(0.01, result=42)", "42\n");
    expect_out(2, "asyncio.current_task() is None", "True\n");
    expect_out(3, "(await asyncio.sleep(0)) or asyncio.current_task() is not None", "True\n");
    expect_out(4, "loop = asyncio.get_running_loop(); loop.is_running()", "True\n");
    stop();
}
END_TEST

START_TEST(create_task_across_statements)
{
    start();
    /* The seed's case: a task started without await keeps running. */
    expect_out(1, "done = asyncio.Event()", "");
    expect_out(2, "async def f():\n    await asyncio.sleep(0.01)\n    done.set()\n    return 'finished'\n\n", "");
    expect_out(3, "t = asyncio.create_task(f())", "");
    expect_out(4, "await done.wait()", "True\n");
    expect_out(5, "t.done(), t.result()", "(True, 'finished')\n");
    stop();
}
END_TEST

START_TEST(background_task_runs_between_statements)
{
    start();
    expect_out(1, "ticks = []", "");
    expect_out(2, "async def ticker():\n    for i in range(5):\n        ticks.append(i)\n"
                  "        await asyncio.sleep(0.01)\n    print('ticker done')\n\n", "");
    expect_out(3, "bg = asyncio.create_task(ticker())", "");
    /* Nothing is sent now: the loop runs on its own. */
    size_t from = 0;
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_OUTPUT,
                                                          .needle = "ticker done"},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_msg(m != NULL, "the background task never finished");
    ck_assert_msg(!m->has_id, "background output tagged with statement %llu",
                  (unsigned long long)m->id);
    expect_out(4, "ticks, bg.done()", "([0, 1, 2, 3, 4], True)\n");
    stop();
}
END_TEST

START_TEST(background_partial_line)
{
    start();
    expect_out(1, "async def bg():\n    await asyncio.sleep(0.01)\n    print('no newline', end='')\n\n", "");
    expect_out(2, "t = asyncio.create_task(bg())", "");
    size_t from = 0;
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_OUTPUT,
                                                          .needle = "no newline"},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_msg(m != NULL, "a partial line from a background task was never flushed");
    ck_assert(!m->has_id);
    stop();
}
END_TEST

START_TEST(output_framing_and_order)
{
    start();
    expect_out(1, "for i in range(3):\n    print(i)\n\n", "0\n1\n2\n");
    /* One frame per line, all before the result. */
    size_t frames = 0, last = 0;
    for (size_t i = 0; i < x.nlog; i++)
        if (x.log[i].type == PROTO_OUTPUT && x.log[i].has_id && x.log[i].id == 1) {
            frames++;
            last = i;
        }
    ck_assert_uint_eq(frames, 3);
    ck_assert_uint_lt(last, xp_index(&x, PROTO_RESULT, 1));
    /* Partial writes gather into one frame. */
    size_t before = x.nlog;
    expect_out(2, "if True:\n    import sys\n    for c in 'abc': n = sys.stdout.write(c)\n\n", "abc");
    frames = 0;
    for (size_t i = before; i < x.nlog; i++)
        frames += x.log[i].type == PROTO_OUTPUT;
    ck_assert_uint_eq(frames, 1);
    /* stdout's pending text goes out before stderr is written. */
    before = x.nlog;
    run_status(3, "print('o', end=''); print('e', file=sys.stderr); print('o2')",
               PROTO_STATUS_OK);
    const char *want[][2] = {{"stdout", "o"}, {"stderr", "e\n"}, {"stdout", "o2\n"}};
    size_t k = 0;
    for (size_t i = before; i < x.nlog; i++) {
        if (x.log[i].type != PROTO_OUTPUT)
            continue;
        ck_assert_uint_lt(k, 3);
        ck_assert_str_eq(proto_stream_name(x.log[i].stream), want[k][0]);
        ck_assert_str_eq(x.log[i].text, want[k][1]);
        k++;
    }
    ck_assert_uint_eq(k, 3);
    /* Bytes through sys.stdout.buffer, and text that is not UTF-8-clean. */
    expect_out(4, "n = sys.stdout.buffer.write('\\u00e9t\\u00e9\\n'.encode())", "\xc3\xa9t\xc3\xa9\n");
    expect_out(5, "print('\\ud800')", "\\ud800\n");
    stop();
}
END_TEST

START_TEST(output_cap)
{
    /* The exec frame's cap is the statement's: the executor sends one byte
     * past it, so the supervisor sees the cut, and then nothing more. The
     * notice is the supervisor's to give, so none comes from here. */
    start();
    struct proto_msg m = {.type = PROTO_EXEC};
    m.u.exec.id = 1;
    m.u.exec.source = proto_str_c("print('x' * 3000000); print('more')");
    m.u.exec.output_cap = 1048576;
    size_t from = x.nlog;
    ck_assert_int_eq(xp_send(&x, &m), 0);
    const struct xp_msg *r = xp_wait(&x, (struct xp_want){.type = PROTO_RESULT, .has_id = true, .id = 1},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, PROTO_STATUS_OK);
    char *out = xp_output(&x, true, 1, OUT);
    ck_assert_uint_eq(strlen(out), 1048577);
    free(out);
    char *err = xp_output(&x, true, 1, ERR);
    ck_assert_str_eq(err, "");
    free(err);
    /* The next statement has its own budget; a cap of 0 is none. */
    run_status(2, "print('y' * 3000000)", PROTO_STATUS_OK);
    out = xp_output(&x, true, 2, OUT);
    ck_assert_uint_eq(strlen(out), 3000001);
    free(out);
    stop();
}
END_TEST

START_TEST(error_results)
{
    start();
    const struct xp_msg *r = run(1, "1/0");
    ck_assert_int_eq(r->status, PROTO_STATUS_ERROR);
    ck_assert_str_eq(r->text, "ZeroDivisionError: division by zero");
    expect_err_contains(1, "ZeroDivisionError: division by zero\n");
    r = run(2, "1 +");
    ck_assert_int_eq(r->status, PROTO_STATUS_ERROR);
    ck_assert_str_eq(r->text, "SyntaxError: incomplete input");
    /* input() is the runtime's, but no frame of it shows. */
    xp_send_exec(&x, 3, "input()");
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true, .id = 3},
                                  NULL, XP_TIMEOUT_MS));
    xp_send_input_reply(&x, 3, true, NULL);
    r = wait_result(3);
    ck_assert_str_eq(r->text, "EOFError: EOF when reading a line");
    char *err = xp_output(&x, true, 3, ERR);
    ck_assert_str_eq(err, "Traceback (most recent call last):\n"
                          "  File \"<console>\", line 1, in <module>\n"
                          "EOFError: EOF when reading a line\n");
    free(err);
    /* A statement raising KeyboardInterrupt itself is interrupted, with no ack. */
    r = run(4, "raise KeyboardInterrupt");
    ck_assert_int_eq(r->status, PROTO_STATUS_INTERRUPTED);
    ck_assert_uint_eq(xp_count(&x, PROTO_INTERRUPT_ACK, 4), 0);
    /* Only blank lines and comments: nothing runs, nothing fails. */
    expect_out(5, "# just a comment", "");
    expect_out(6, "", "");
    /* A NUL in the source is reported as CPython's console reports it. */
    struct proto_msg m = {.type = PROTO_EXEC};
    m.u.exec.id = 7;
    m.u.exec.source = proto_str_n("1\0", 2);
    ck_assert_int_eq(xp_send(&x, &m), 0);
    r = wait_result(7);
    ck_assert_int_eq(r->status, PROTO_STATUS_ERROR);
    ck_assert_msg(strstr(r->text, "null bytes"), "display '%s'", r->text);
    stop();
}
END_TEST

START_TEST(exit_results)
{
    static const struct {
        const char *src;
        int64_t code;
        const char *err;
    } cases[] = {
        {"exit()", 0, ""},
        {"quit()", 0, ""},
        {"raise SystemExit(3)", 3, ""},
        {"import sys; sys.exit('msg')", 1, "msg\n"},
        {"sys.exit(None)", 0, ""},
        {"await asyncio.sleep(0); exit(5)", 5, ""},
    };
    start();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t id = 10 * (i + 1);
        const struct xp_msg *r = run(id, cases[i].src);
        ck_assert_msg(r->status == PROTO_STATUS_EXIT, "%s: status %s", cases[i].src,
                      proto_status_name(r->status));
        ck_assert_msg(r->code == cases[i].code, "%s: code %lld", cases[i].src, (long long)r->code);
        char *err = xp_output(&x, true, id, ERR);
        ck_assert_str_eq(err, cases[i].err);
        free(err);
        /* The executor keeps serving. */
        expect_out(id + 1, "1 + 1", "2\n");
    }
    /* SystemExit in a background task does not stop the loop either. */
    expect_out(100, "async def quitter():\n    raise SystemExit(9)\n\n", "");
    expect_out(101, "t = asyncio.create_task(quitter())", "");
    expect_out(102, "await asyncio.sleep(0.01); t.done()", "True\n");
    stop();
}
END_TEST

START_TEST(big_statement)
{
    /* Statements may exceed the 1 MiB cap of other frames. */
    size_t n = 3u << 20;
    char *src = malloc(n + 16);
    ck_assert_ptr_nonnull(src);
    memcpy(src, "s = '", 5);
    memset(src + 5, 'a', n);
    strcpy(src + 5 + n, "'");
    start();
    run_status(1, src, PROTO_STATUS_OK);
    free(src);
    expect_out(2, "len(s)", "3145728\n");
    stop();
}
END_TEST

START_TEST(output_from_threads)
{
    start();
    expect_out(1, "await asyncio.to_thread(print, 'in a thread')", "in a thread\n");
    expect_out(2, "import threading; go = threading.Event()", "");
    /* The thread writes once a loop callback lets it, which is after the
     * statement's result: its partial line belongs to no statement. */
    expect_out(3, "t = threading.Thread(target=lambda: (go.wait(), print('timer', 'late', end='')));"
                  " t.start(); h = asyncio.get_running_loop().call_soon(go.set)", "");
    /* print() makes several writes; the loop may flush between them. */
    size_t from = 0;
    char *bg = NULL;
    for (;;) {
        free(bg);
        bg = xp_output(&x, false, 0, OUT);
        if (strstr(bg, "timer late"))
            break;
        ck_assert_msg(xp_wait(&x, (struct xp_want){.type = PROTO_OUTPUT}, &from, XP_TIMEOUT_MS),
                      "a thread's partial line was never flushed (got '%s')", bg);
    }
    free(bg);
    char *tagged = xp_output(&x, true, 3, OUT);
    ck_assert_str_eq(tagged, "");
    free(tagged);
    stop();
}
END_TEST

START_TEST(queued_statements)
{
    start();
    /* The supervisor sends one at a time, but two at once must work. */
    xp_send_exec(&x, 1, "await asyncio.sleep(0.02); print('first')");
    xp_send_exec(&x, 2, "print('second')");
    const struct xp_msg *r2 = wait_result(2);
    ck_assert_int_eq(r2->status, PROTO_STATUS_OK);
    ck_assert_uint_lt(xp_index(&x, PROTO_RESULT, 1), xp_index(&x, PROTO_RESULT, 2));
    char *o1 = xp_output(&x, true, 1, OUT), *o2 = xp_output(&x, true, 2, OUT);
    ck_assert_str_eq(o1, "first\n");
    ck_assert_str_eq(o2, "second\n");
    free(o1);
    free(o2);
    stop();
}
END_TEST

START_TEST(contextvar_persists)
{
    start();
    expect_out(1, "import contextvars; v = contextvars.ContextVar('v', default='unset')", "");
    expect_out(2, "t = v.set('sync')", "");
    expect_out(3, "v.get()", "'sync'\n");
    expect_out(4, "await asyncio.sleep(0); t = v.set('async')", "");
    expect_out(5, "v.get()", "'async'\n");
    expect_out(6, "async def read(): return v.get()\n\n", "");
    expect_out(7, "await asyncio.create_task(read())", "'async'\n");
    stop();
}
END_TEST

START_TEST(completion)
{
    start();
    expect_out(1, "my_variable = 1", "");
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"my_v", "my_variable"},
        {"asyn", "asyncio"},
        {"asyncio.sle", "asyncio.sleep("},
        {"imp", "import "},
        {"pri", "print("},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t from = x.nlog;
        ck_assert_int_eq(xp_send_complete(&x, 50 + i, cases[i].text), 0);
        const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_COMPLETIONS,
                                                              .has_id = true, .id = 50 + i},
                                         &from, XP_TIMEOUT_MS);
        ck_assert_ptr_nonnull(m);
        bool found = false;
        for (size_t j = 0; j < m->nmatches; j++)
            found = found || strcmp(m->matches[j], cases[i].want) == 0;
        ck_assert_msg(found, "completing '%s' did not offer '%s'", cases[i].text, cases[i].want);
    }
    /* Nothing matches: an empty answer, not an error. */
    ck_assert_int_eq(xp_send_complete(&x, 60, "zzz_nothing"), 0);
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.type = PROTO_COMPLETIONS,
                                                          .has_id = true, .id = 60},
                                     NULL, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->nmatches, 0);
    /* A property that raises does not break completion. */
    expect_out(2, "class C:\n    @property\n    def bad(self): raise RuntimeError\n\n", "");
    expect_out(3, "c = C()", "");
    ck_assert_int_eq(xp_send_complete(&x, 61, "c.ba"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_COMPLETIONS,
                                                       .has_id = true, .id = 61},
                                  NULL, XP_TIMEOUT_MS));
    expect_out(4, "1", "1\n");
    stop();
}
END_TEST

START_TEST(input_round_trip)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "name = input('name? ')"), 0);
    const struct xp_msg *in = xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true,
                                                           .id = 1},
                                      NULL, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(in->text, "name? ");
    /* Completion requests meanwhile get an empty answer at once. */
    ck_assert_int_eq(xp_send_complete(&x, 7, "na"), 0);
    const struct xp_msg *c = xp_wait(&x, (struct xp_want){.type = PROTO_COMPLETIONS,
                                                          .has_id = true, .id = 7},
                                     NULL, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->nmatches, 0);
    /* A reply for another id is stale and ignored. A statement that
     * arrives before the reply was sent ahead of the input request, so
     * it is dropped (the supervisor sends it again); one sent after the
     * reply runs. */
    ck_assert_int_eq(xp_send_input_reply(&x, 99, false, "wrong"), 0);
    ck_assert_int_eq(xp_send_exec(&x, 9, "print('dropped')"), 0);
    ck_assert_int_eq(xp_send_input_reply(&x, 1, false, "bob\n"), 0);
    ck_assert_int_eq(xp_send_exec(&x, 10, "print('after')"), 0);
    ck_assert_int_eq(wait_result(1)->status, PROTO_STATUS_OK);
    ck_assert_int_eq(wait_result(10)->status, PROTO_STATUS_OK);
    char *after = xp_output(&x, true, 10, OUT);
    ck_assert_str_eq(after, "after\n");
    free(after);
    ck_assert_uint_eq(xp_count(&x, PROTO_RESULT, 9), 0);
    ck_assert_uint_eq(xp_count(&x, PROTO_OUTPUT, 9), 0);
    expect_out(2, "name", "'bob'\n");
    /* Statements queued behind the one that asks are dropped too. */
    ck_assert_int_eq(xp_send_exec(&x, 11, "input('again? ')"), 0);
    ck_assert_int_eq(xp_send_exec(&x, 12, "print('queued behind')"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true,
                                                       .id = 11},
                                  NULL, XP_TIMEOUT_MS));
    ck_assert_int_eq(xp_send_input_reply(&x, 11, false, "yes"), 0);
    ck_assert_int_eq(wait_result(11)->status, PROTO_STATUS_OK);
    expect_out(13, "'ran'", "'ran'\n");
    ck_assert_uint_eq(xp_count(&x, PROTO_RESULT, 12), 0);
    /* Output written before input() goes out before the request. */
    ck_assert_int_eq(xp_send_exec(&x, 3, "print('before', end=''); input()"), 0);
    in = xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true, .id = 3}, NULL,
                 XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(in);
    ck_assert_uint_lt(xp_index(&x, PROTO_OUTPUT, 3), (size_t)(in - x.log));
    ck_assert_int_eq(xp_send_input_reply(&x, 3, false, "typed"), 0);
    ck_assert_int_eq(wait_result(3)->status, PROTO_STATUS_OK);
    char *out = xp_output(&x, true, 3, OUT);
    ck_assert_str_eq(out, "before'typed'\n");
    free(out);
    /* End of input raises EOFError. */
    ck_assert_int_eq(xp_send_exec(&x, 4, "input()"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true,
                                                       .id = 4},
                                  NULL, XP_TIMEOUT_MS));
    ck_assert_int_eq(xp_send_input_reply(&x, 4, true, NULL), 0);
    const struct xp_msg *r = wait_result(4);
    ck_assert_int_eq(r->status, PROTO_STATUS_ERROR);
    ck_assert_str_eq(r->text, "EOFError: EOF when reading a line");
    stop();
}
END_TEST

/* --- interrupts ------------------------------------------------------------- */

/* Prints "started" from a callback, so only once the statement's task has
 * suspended: a SIGINT sent after seeing it finds the task awaiting. */
#define ANNOUNCE "h = asyncio.get_running_loop().call_soon(print, 'started'); "

START_TEST(sigint_cancels_await)
{
    start();
    expect_out(1, "inner = asyncio.ensure_future(asyncio.sleep(1000))", "");
    ck_assert_int_eq(xp_send_exec(&x, 2, ANNOUNCE "await inner"), 0);
    wait_text(2, "started");
    interrupt(2);
    expect_interrupted(2);
    /* What it awaited was cancelled too, and the loop runs on. */
    expect_out(3, "inner.cancelled()", "True\n");
    expect_out(4, "await asyncio.sleep(0.01, result='alive')", "'alive'\n");
    stop();
}
END_TEST

START_TEST(sigint_cancels_sleep)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, ANNOUNCE "await asyncio.sleep(1000)"), 0);
    wait_text(1, "started");
    interrupt(1);
    expect_interrupted(1);
    expect_out(2, "1 + 1", "2\n");
    stop();
}
END_TEST

START_TEST(sigint_stops_busy_loop)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "if True:\n    print('spinning')\n    while True: pass\n\n"), 0);
    wait_text(1, "spinning");
    interrupt(1);
    expect_interrupted(1);
    expect_out(2, "1 + 1", "2\n");
    stop();
}
END_TEST

START_TEST(sigint_stops_busy_task)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "if True:\n    await asyncio.sleep(0)\n"
                                         "    print('spinning')\n    while True: pass\n\n"),
                     0);
    wait_text(1, "spinning");
    /* Untagged (kill -INT) means the running statement. */
    ck_assert_int_eq(kill(x.pid, SIGINT), 0);
    expect_interrupted(1);
    expect_out(2, "await asyncio.sleep(0.01, result=3)", "3\n");
    stop();
}
END_TEST

START_TEST(sigint_stops_blocking_call)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "import time; print('sleeping'); time.sleep(1000)"), 0);
    wait_text(1, "sleeping");
    interrupt(1);
    expect_interrupted(1);
    stop();
}
END_TEST

START_TEST(sigint_during_input)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "input('> ')"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true,
                                                       .id = 1},
                                  NULL, XP_TIMEOUT_MS));
    interrupt(1);
    expect_interrupted(1);
    /* The late reply is stale. */
    ck_assert_int_eq(xp_send_input_reply(&x, 1, false, "late"), 0);
    expect_out(2, "1 + 1", "2\n");
    stop();
}
END_TEST

START_TEST(sigint_idle_is_ignored)
{
    start();
    expect_out(1, "t = asyncio.create_task(asyncio.sleep(0.05, result='kept'))", "");
    interrupt(1);
    ck_assert_int_eq(kill(x.pid, SIGINT), 0);
    interrupt(2);
    /* Signals are delivered before the executor reads anything further. */
    expect_out(2, "await t", "'kept'\n");
    ck_assert_uint_eq(xp_count(&x, PROTO_INTERRUPT_ACK, 1), 0);
    ck_assert_uint_eq(xp_count(&x, PROTO_INTERRUPT_ACK, 2), 0);
    stop();
}
END_TEST

START_TEST(sigint_stale_tag_is_ignored)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 5, "answer = input()"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_INPUT, .has_id = true,
                                                       .id = 5},
                                  NULL, XP_TIMEOUT_MS));
    interrupt(4);
    /* The completion answer proves the executor ran after the signal. */
    ck_assert_int_eq(xp_send_complete(&x, 6, "x"), 0);
    ck_assert_ptr_nonnull(xp_wait(&x, (struct xp_want){.type = PROTO_COMPLETIONS,
                                                       .has_id = true, .id = 6},
                                  NULL, XP_TIMEOUT_MS));
    ck_assert_int_eq(xp_send_input_reply(&x, 5, false, "fine"), 0);
    ck_assert_int_eq(wait_result(5)->status, PROTO_STATUS_OK);
    ck_assert_uint_eq(xp_count(&x, PROTO_INTERRUPT_ACK, 5), 0);
    expect_out(7, "answer", "'fine'\n");
    stop();
}
END_TEST

START_TEST(sigint_swallowed_cancellation)
{
    start();
    ck_assert_int_eq(xp_send_exec(&x, 1, "try:\n    " ANNOUNCE "await asyncio.sleep(1000)\n"
                                         "except asyncio.CancelledError:\n    print('swallowed')\n\n"),
                     0);
    wait_text(1, "started");
    interrupt(1);
    const struct xp_msg *r = wait_result(1);
    ck_assert_int_eq(r->status, PROTO_STATUS_OK);
    char *out = xp_output(&x, true, 1, OUT);
    ck_assert_str_eq(out, "started\nswallowed\n");
    free(out);
    /* The interrupt was received, so it is acknowledged. */
    ck_assert_uint_eq(xp_count(&x, PROTO_INTERRUPT_ACK, 1), 1);
    stop();
}
END_TEST

/* --- under a policy ---------------------------------------------------------- */

#define HINT_STRICT "aiobox: path outside the sandbox; --allow-read or --allow-write DIR " \
                    "grants it\n"

static const char *policy_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("AIOBOX_POLICIES");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "policies", name);
    return path;
}

/* Starts the executor under a policy. The executor fails closed: when it
 * refuses to start, the test fails, unless the refusal names a layer this
 * host is declared to lack (AIOBOX_HOST_LACKS), and then it skips. */
static void start_policy(const char *path, bool remove_file)
{
    const char *args[] = {"--fd", "3", "--policy", path, NULL};
    struct proto_msg hello = {.type = PROTO_HELLO};
    ck_assert_int_eq(xp_spawn(&x, args), 0);
    hello.u.hello.version = PROTO_VERSION;
    ck_assert_int_eq(xp_send(&x, &hello), 0);
    const struct xp_msg *m = xp_wait(&x, (struct xp_want){.any_id = true}, NULL, XP_TIMEOUT_MS);
    /* Read by now, or never to be. */
    if (remove_file)
        ck_assert_int_eq(unlink(path), 0);
    ck_assert_msg(m != NULL, "neither ready nor error under %s", path);
    if (m->type == PROTO_ERROR) {
        char why[1024];
        snprintf(why, sizeof why, "%s", m->text);
        stop();
        const char *layer = hostlacks_layer_of(why);
        if (layer)
            checkrun_host_lacks(layer, "the executor refused to start under %s: %s", path, why);
        ck_abort_msg("the executor refused to start under %s: %s", path, why);
    }
    ck_assert_int_eq(m->type, PROTO_READY);
}

static void start_with_policy(const char *path)
{
    start_policy(path, false);
}

START_TEST(permission_hint_names_the_policy)
{
    start_with_policy(policy_path("strict"));
    /* Bound in strict's new root (which has no /etc/passwd at all), and
     * refused by landlock. */
    run_status(1, "open('/dev/zero')", PROTO_STATUS_ERROR);
    char *err = xp_output(&x, true, 1, ERR);
    ck_assert_msg(strlen(err) > strlen(HINT_STRICT) &&
                  strcmp(err + strlen(err) - strlen(HINT_STRICT), HINT_STRICT) == 0,
                  "stderr does not end with the hint: %s", err);
    free(err);
    /* Found in the chain too, and absent for other errors. */
    run_status(2, "try:\n    open('/dev/zero')\nexcept OSError as e:\n"
                  "    raise ValueError('wrapped') from e\n\n", PROTO_STATUS_ERROR);
    expect_err_contains(2, HINT_STRICT);
    run_status(3, "1/0", PROTO_STATUS_ERROR);
    char *plain = xp_output(&x, true, 3, ERR);
    ck_assert_msg(!strstr(plain, "aiobox: "), "hint after ZeroDivisionError: %s", plain);
    free(plain);
    stop();
}
END_TEST

START_TEST(no_hint_under_trusted)
{
    start_with_policy(policy_path("trusted"));
    run_status(1, "raise PermissionError('mine')", PROTO_STATUS_ERROR);
    char *err = xp_output(&x, true, 1, ERR);
    ck_assert_msg(!strstr(err, "aiobox: "), "hint under trusted: %s", err);
    free(err);
    stop();
}
END_TEST

START_TEST(output_cap_between_statements)
{
    /* Output between statements, such as a background task's, has the cap
     * of the last exec frame: the supervisor counts it the same way. */
    start();
    run_status(1, "import asyncio", PROTO_STATUS_OK);
    run_status(2, "async def chatter():\n"
                  "    await asyncio.sleep(0)\n"
                  "    print('y' * 5000)\n"
                  "    print('after the cut')\n",
               PROTO_STATUS_OK);
    struct proto_msg m = {.type = PROTO_EXEC};
    m.u.exec.id = 3;
    m.u.exec.source = proto_str_c("t = asyncio.get_running_loop().create_task(chatter())");
    m.u.exec.output_cap = 1024;
    size_t from = x.nlog;
    ck_assert_int_eq(xp_send(&x, &m), 0);
    const struct xp_msg *r = xp_wait(&x, (struct xp_want){.type = PROTO_RESULT, .has_id = true, .id = 3},
                                     &from, XP_TIMEOUT_MS);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, PROTO_STATUS_OK);
    ck_assert(xp_wait_output(&x, false, 0, OUT, 1025, XP_TIMEOUT_MS));
    run_status(4, "1", PROTO_STATUS_OK);
    char *out = xp_output(&x, false, 0, OUT);
    ck_assert_uint_eq(strlen(out), 1025);
    free(out);
    stop();
}
END_TEST

/* --- the process's own descriptors -------------------------------------------- */

START_TEST(fd1_fd2_are_not_the_channel)
{
    start();
    expect_out(1, "import os; n = os.write(1, b'raw-fd1\\n'); n = os.write(2, b'raw-fd2\\n')", "");
    ck_assert(xp_wait_raw(&x, 1, "raw-fd1\n", XP_TIMEOUT_MS));
    ck_assert(xp_wait_raw(&x, 2, "raw-fd2\n", XP_TIMEOUT_MS));
    expect_out(2, "import sys; print('via sys.__stdout__', file=sys.__stdout__)", "");
    ck_assert(xp_wait_raw(&x, 1, "via sys.__stdout__\n", XP_TIMEOUT_MS));
    for (size_t i = 0; i < x.nlog; i++)
        ck_assert_msg(!strstr(x.log[i].text, "raw-fd") && !strstr(x.log[i].text, "via sys.__"),
                      "fd output came over the channel");
    stop();
}
END_TEST

static Suite *executor_suite(void)
{
    Suite *s = suite_create("executor");
    TCase *tc;

    tc = tcase_create("process");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ready_fields);
    tcase_add_test(tc, hello_wrong_version);
    tcase_add_test(tc, first_message_not_hello);
    tcase_add_test(tc, garbage_frame);
    tcase_add_test(tc, oversized_frame);
    tcase_add_test(tc, message_for_the_supervisor);
    tcase_add_loop_test(tc, bad_command_line, 0, (int)(sizeof bad_options / sizeof *bad_options));
    tcase_add_test(tc, grants_limit);
    tcase_add_test(tc, not_a_socket);
    tcase_add_test(tc, unusable_policy);
    tcase_add_test(tc, exit_when_channel_closes);
    tcase_add_test(tc, exit_when_parent_dies);
    tcase_add_test(tc, fd1_fd2_are_not_the_channel);
    suite_add_tcase(s, tc);

    tc = tcase_create("statements");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, display_and_underscore);
    tcase_add_test(tc, namespace_like_cpython);
    tcase_add_test(tc, isolated_configuration);
    tcase_add_test(tc, top_level_await_and_tasks);
    tcase_add_test(tc, create_task_across_statements);
    tcase_add_test(tc, background_task_runs_between_statements);
    tcase_add_test(tc, background_partial_line);
    tcase_add_test(tc, output_framing_and_order);
    tcase_add_test(tc, output_cap);
    tcase_add_test(tc, error_results);
    tcase_add_test(tc, exit_results);
    tcase_add_test(tc, queued_statements);
    tcase_add_test(tc, big_statement);
    tcase_add_test(tc, output_from_threads);
    tcase_add_test(tc, contextvar_persists);
    tcase_add_test(tc, completion);
    tcase_add_test(tc, input_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("interrupts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sigint_cancels_await);
    tcase_add_test(tc, sigint_cancels_sleep);
    tcase_add_test(tc, sigint_stops_busy_loop);
    tcase_add_test(tc, sigint_stops_busy_task);
    tcase_add_test(tc, sigint_stops_blocking_call);
    tcase_add_test(tc, sigint_during_input);
    tcase_add_test(tc, sigint_idle_is_ignored);
    tcase_add_test(tc, sigint_stale_tag_is_ignored);
    tcase_add_test(tc, sigint_swallowed_cancellation);
    suite_add_tcase(s, tc);

    tc = tcase_create("policy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, permission_hint_names_the_policy);
    tcase_add_test(tc, no_hint_under_trusted);
    tcase_add_test(tc, output_cap_between_statements);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(executor_suite());
    return checkrun(sr, "executor");
}
