/* The session module (supervisor/session.c) driven directly, against the
 * real executor: what no front end can reach cheaply, such as a statement
 * too long for an exec frame (a terminal would have to feed readline
 * 16 MiB). Each test waits on the loop for the session's own callbacks;
 * a timer only bounds how long a broken build may take to fail. */
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
    int done_status;   /* -1: done() without a result */
    int dones;
    uv_timer_t deadline;
    bool timed_out;
};

static void cap_write(void *fe, int fd, const char *data, size_t len)
{
    struct capture *c = fe;
    int i = fd == 2;
    size_t room = sizeof c->out[i] - 1 - c->out_len[i];
    if (len > room)
        len = room;
    memcpy(c->out[i] + c->out_len[i], data, len);
    c->out_len[i] += len;
    c->out[i][c->out_len[i]] = '\0';
}

static void cap_done(void *fe, uint64_t id, const struct proto_result *r)
{
    struct capture *c = fe;
    c->done_id = id;
    c->done_status = r ? (int)r->status : -1;
    c->dones++;
}

static void cap_input(void *fe, uint64_t running, const char *prompt, size_t len) {}
static void cap_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n) {}
static void cap_exit(void *fe, int code) {}
static void cap_state_lost(void *fe) {}

static const struct session_frontend cap_ops = {
    .write = cap_write,
    .done = cap_done,
    .input = cap_input,
    .completions = cap_completions,
    .exit = cap_exit,
    .state_lost = cap_state_lost,
};

static uv_loop_t loop;
static struct capture cap;
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

START_TEST(test_new_spawns_nothing_until_started)
{
    /* The terminal shows its first prompt between the two calls. */
    ck_assert_uint_eq(execproc_live(), 0);
    session_start(session);
    ck_assert_uint_eq(execproc_live(), 1);
    session_submit(session, "1+1", 3, false);
    run_until_done(1);
    ck_assert_int_eq(cap.done_status, PROTO_STATUS_OK);
    ck_assert_str_eq(cap.out[0], "2\n");
}
END_TEST

START_TEST(test_oversized_statement_is_refused_and_the_executor_kept)
{
    session_start(session);
    session_submit(session, "x = 41", 6, false);
    run_until_done(1);
    ck_assert_int_eq(cap.done_status, PROTO_STATUS_OK);

    size_t len = SESSION_SOURCE_MAX + 1;
    char *big = malloc(len);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', len);
    memcpy(big, "x = 0", 5);
    uint64_t id = session_submit(session, big, len, false);
    free(big);
    /* Refused at once, in words, without a result. */
    ck_assert_int_eq(cap.dones, 2);
    ck_assert_uint_eq(cap.done_id, id);
    ck_assert_int_eq(cap.done_status, -1);
    ck_assert_ptr_nonnull(strstr(cap.out[1], "exceeds the"));
    ck_assert_ptr_nonnull(strstr(cap.out[1], "it was not run"));

    /* The same executor goes on: x still holds what it held. */
    session_submit(session, "x + 1", 5, false);
    run_until_done(3);
    ck_assert_int_eq(cap.done_status, PROTO_STATUS_OK);
    ck_assert_str_eq(cap.out[0], "42\n");
    ck_assert_ptr_null(strstr(cap.out[1], "restart"));
}
END_TEST

START_TEST(test_longest_statement_runs)
{
    session_start(session);
    size_t len = SESSION_SOURCE_MAX;
    char *big = malloc(len);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', len);
    memcpy(big, "len('ok')", 9);
    session_submit(session, big, len, false);
    free(big);
    run_until_done(1);
    ck_assert_int_eq(cap.done_status, PROTO_STATUS_OK);
    ck_assert_str_eq(cap.out[0], "2\n");
}
END_TEST

static Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_new_spawns_nothing_until_started);
    tcase_add_test(tc, test_oversized_statement_is_refused_and_the_executor_kept);
    tcase_add_test(tc, test_longest_statement_runs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(session_suite());
    return checkrun(sr, "session");
}
