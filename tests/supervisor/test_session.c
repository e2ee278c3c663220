/* The session engine (supervisor/session/) driven directly, against the
 * real executor: its contract with front ends (every callback from the
 * loop, never inside a call; one done() per statement, in order) and what
 * no front end can reach cheaply, such as a statement too long for an
 * exec frame (a terminal would have to feed readline 16 MiB). Each test
 * waits on the loop for the session's own callbacks; a timer only bounds
 * how long a broken build may take to fail. */
#include "checkrun.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "execproc.h"
#include "session.h"

#define WAIT_MS 30000

struct capture {
    char out[2][4096];
    size_t out_len[2];
    uint64_t done_id;
    int done_status;
    int dones;
    uint64_t done_ids[16];
    char why[512];
    int notices, exits, lost;
    /* Non-zero while the test is inside a call into the session: a
     * callback then breaks the contract. */
    int in_call;
    int reentered;
    uv_timer_t deadline;
    bool timed_out;
};

static struct capture cap;

static void append(struct capture *c, int i, const char *data, size_t len)
{
    size_t room = sizeof c->out[i] - 1 - c->out_len[i];
    if (len > room)
        len = room;
    memcpy(c->out[i] + c->out_len[i], data, len);
    c->out_len[i] += len;
    c->out[i][c->out_len[i]] = '\0';
}

static void entered(struct capture *c)
{
    if (c->in_call)
        c->reentered++;
}

static void cap_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    struct capture *c = fe;
    entered(c);
    append(c, fd == 2, data, len);
}

static void cap_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct capture *c = fe;
    entered(c);
    c->notices++;
    append(c, 1, text, len);
    append(c, 1, "\n", 1);
}

static void cap_text(void *fe, const char *text, size_t len)
{
    struct capture *c = fe;
    entered(c);
    append(c, 0, text, len);
}

static void cap_done(void *fe, uint64_t id, const struct session_result *r)
{
    struct capture *c = fe;
    entered(c);
    c->done_id = id;
    c->done_status = (int)r->status;
    snprintf(c->why, sizeof c->why, "%s", r->why ? r->why : "");
    if (c->dones < (int)(sizeof c->done_ids / sizeof *c->done_ids))
        c->done_ids[c->dones] = id;
    c->dones++;
}

static void cap_input(void *fe, uint64_t running, const char *prompt, size_t len,
                      enum proto_input_kind kind)
{
    entered(fe);
}

static void cap_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                            size_t start, size_t end)
{
    entered(fe);
}

static void cap_exit(void *fe, int code)
{
    struct capture *c = fe;
    entered(c);
    c->exits++;
}

static void cap_state_lost(void *fe)
{
    struct capture *c = fe;
    entered(c);
    c->lost++;
}

static const struct session_frontend cap_ops = {
    .output = cap_output,
    .notice = cap_notice,
    .text = cap_text,
    .done = cap_done,
    .input = cap_input,
    .completions = cap_completions,
    .exit = cap_exit,
    .state_lost = cap_state_lost,
};

static uv_loop_t loop;
static struct session *session;
static char policy_path[4096];

static void on_deadline(uv_timer_t *t)
{
    cap.timed_out = true;
}

static void setup(void)
{
    const char *executor = getenv("AIOBOX_EXECUTOR");
    const char *policies = getenv("AIOBOX_POLICIES");
    ck_assert_msg(executor && policies, "AIOBOX_EXECUTOR and AIOBOX_POLICIES must be set");
    snprintf(policy_path, sizeof policy_path, "%s/strict", policies);
    memset(&cap, 0, sizeof cap);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &cap.deadline);
    struct session_config cfg = {
        .exec = {.executor_path = executor, .policy_path = policy_path,
                 .policy_name = "strict"},
        .grace_s = 2,
        .output_cap = 1 << 20,
        .quiet = true,
        .standby = false,
    };
    ck_assert_int_eq(session_new(&session, &loop, &cfg, &cap_ops, &cap), 0);
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

static void teardown(void)
{
    bool closed = false;
    session_close(session, on_closed, &closed);
    uv_close((uv_handle_t *)&cap.deadline, NULL);
    while (!closed || execproc_live() > 0)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* Runs the loop until done() has been called `dones` times in all. */
static void run_until_done(int dones)
{
    cap.timed_out = false;
    uv_timer_start(&cap.deadline, on_deadline, WAIT_MS, 0);
    while (cap.dones < dones && !cap.timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&cap.deadline);
    ck_assert_msg(!cap.timed_out, "no result within %d ms; stderr: %s", WAIT_MS, cap.out[1]);
}

/* Calls into the session as a front end does, noting any callback that
 * comes while the call is on the stack. */
#define CALL(expr) (cap.in_call++, (expr), cap.in_call--)

static uint64_t submit(const char *src)
{
    uint64_t id;
    CALL(id = session_submit(session, src, strlen(src), SESSION_SINGLE));
    return id;
}

START_TEST(test_new_spawns_nothing_until_started)
{
    /* The terminal shows its first prompt between the two calls. */
    ck_assert_uint_eq(execproc_live(), 0);
    CALL(session_start(session));
    ck_assert_uint_eq(execproc_live(), 1);
    submit("1+1");
    run_until_done(1);
    ck_assert_int_eq(cap.done_status, SESSION_OK);
    ck_assert_str_eq(cap.out[0], "2\n");
    ck_assert_int_eq(cap.reentered, 0);
}
END_TEST

/* 17 MiB of source, then two prints: the first is refused, in words that
 * name its first line, and both prints run. */
START_TEST(test_oversized_statement_is_refused_and_the_rest_run)
{
    CALL(session_start(session));
    submit("x = 41");
    size_t len = (size_t)17 << 20;
    char *big = malloc(len + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', len);
    memcpy(big, "x = \"", 5);
    big[len - 1] = '"';
    big[len] = '\0';
    uint64_t refused = submit(big);
    free(big);
    uint64_t p1 = submit("print(1)");
    uint64_t p2 = submit("print(x + 1)");
    /* Nothing came back while the calls were made. */
    ck_assert_int_eq(cap.dones, 0);
    run_until_done(4);
    ck_assert_int_eq(cap.reentered, 0);
    /* One done() each, in submission order. */
    ck_assert_uint_eq(cap.done_ids[1], refused);
    ck_assert_uint_eq(cap.done_ids[2], p1);
    ck_assert_uint_eq(cap.done_ids[3], p2);
    ck_assert_ptr_nonnull(strstr(cap.out[1], "(x = \"aaaa"));
    ck_assert_ptr_nonnull(strstr(cap.out[1], "it was not run"));
    /* The same executor went on: x still holds what it held. */
    ck_assert_str_eq(cap.out[0], "1\n42\n");
    ck_assert_ptr_null(strstr(cap.out[1], "restart"));
    ck_assert_int_eq(cap.done_status, SESSION_OK);
}
END_TEST

START_TEST(test_longest_statement_runs)
{
    CALL(session_start(session));
    size_t len = SESSION_SOURCE_MAX;
    char *big = malloc(len + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', len);
    memcpy(big, "len('ok')", 9);
    big[len] = '\0';
    submit(big);
    free(big);
    run_until_done(1);
    ck_assert_int_eq(cap.done_status, SESSION_OK);
    ck_assert_str_eq(cap.out[0], "2\n");
}
END_TEST

/* A session that cannot start an executor fails every statement, from the
 * loop, in order, with words saying why. */
START_TEST(test_no_executor_fails_statements_from_the_loop)
{
    bool closed = false;
    session_close(session, on_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    struct session_config cfg = {
        .exec = {.executor_path = "/nonexistent/aiobox-executor", .policy_path = policy_path,
                 .policy_name = "strict"},
        .quiet = true,
    };
    ck_assert_int_eq(session_new(&session, &loop, &cfg, &cap_ops, &cap), 0);
    CALL(session_start(session));
    uint64_t a = submit("1"), b = submit("2");
    ck_assert_int_eq(cap.dones, 0);
    run_until_done(2);
    ck_assert_int_eq(cap.reentered, 0);
    ck_assert_uint_eq(cap.done_ids[0], a);
    ck_assert_uint_eq(cap.done_ids[1], b);
    ck_assert_int_eq(cap.done_status, SESSION_NOT_RUN);
    ck_assert_ptr_nonnull(strstr(cap.out[1], "cannot start /nonexistent/aiobox-executor"));
    ck_assert_ptr_nonnull(strstr(cap.why, ":restart"));
}
END_TEST

/* ':' commands answer from the loop too, after the call has returned,
 * and :restart ends the running statement before its own done(). */
START_TEST(test_commands_answer_from_the_loop)
{
    CALL(session_start(session));
    submit("x = 1");
    run_until_done(1);
    CALL(session_command(session, ":status", 7));
    ck_assert_int_eq(cap.dones, 1);
    run_until_done(2);
    ck_assert_uint_eq(cap.done_id, 0);
    ck_assert_ptr_nonnull(strstr(cap.out[0], "statements run: 1"));
    uint64_t sleeper = submit("import time; time.sleep(30)");
    CALL(session_command(session, ":restart", 8));
    ck_assert_int_eq(cap.dones, 2);
    run_until_done(4);
    ck_assert_int_eq(cap.reentered, 0);
    ck_assert_uint_eq(cap.done_ids[2], sleeper);
    ck_assert_uint_eq(cap.done_ids[3], 0);
    ck_assert_int_eq(cap.lost, 1);
    submit("x");
    run_until_done(5);
    ck_assert_int_eq(cap.done_status, SESSION_ERROR);
    ck_assert_ptr_nonnull(strstr(cap.out[1], "NameError"));
}
END_TEST

/* A death ends the running statement as crashed, with how it died. */
START_TEST(test_death_is_reported_with_its_signal)
{
    CALL(session_start(session));
    uint64_t id = submit("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)");
    run_until_done(1);
    ck_assert_uint_eq(cap.done_id, id);
    ck_assert_int_eq(cap.done_status, SESSION_CRASHED);
    ck_assert_ptr_nonnull(strstr(cap.why, "SIGSEGV"));
    ck_assert_int_eq(cap.lost, 1);
    ck_assert_int_eq(cap.reentered, 0);
}
END_TEST

static Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_new_spawns_nothing_until_started);
    tcase_add_test(tc, test_oversized_statement_is_refused_and_the_rest_run);
    tcase_add_test(tc, test_longest_statement_runs);
    tcase_add_test(tc, test_no_executor_fails_statements_from_the_loop);
    tcase_add_test(tc, test_commands_answer_from_the_loop);
    tcase_add_test(tc, test_death_is_reported_with_its_signal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(session_suite());
    return checkrun(sr, "session");
}
