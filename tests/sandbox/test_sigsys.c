/* The SIGSYS handler: a trapped call sends one `denied` frame and the
 * process dies by SIGSYS, whichever thread made the call. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int p_ptrace(void *arg)
{
    syscall(SYS_ptrace, 0, 0, 0, 0);
    return 0;
}

START_TEST(frame_is_one_denied_message)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_ptrace, NULL, &o);
    free(text);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_int_eq(denied_syscall(&o), SYS_ptrace);
    /* header + {"t":"denied","v":1,"syscall":int64} */
    ck_assert_uint_eq(o.framelen, 4 + 1 + 2 + 7 + 2 + 1 + 8 + 9);
}
END_TEST

static void *ptrace_in_thread(void *arg)
{
    syscall(SYS_ptrace, 0, 0, 0, 0);
    return NULL;
}

static int p_thread_ptrace(void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, ptrace_in_thread, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    return 0;
}

START_TEST(a_thread_takes_the_process_down)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_thread_ptrace, NULL, &o);
    free(text);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_int_eq(denied_syscall(&o), SYS_ptrace);
}
END_TEST

static int p_getppid(void *arg)
{
    syscall(SYS_getppid);
    return 0;
}

/* A policy that traps the calls the handler itself makes to end the
 * process: it still dies by SIGSYS, with the first call named. */
START_TEST(dies_even_when_tgkill_is_trapped)
{
    struct outcome o;
    run_sandboxed("aiobox-policy 1\ndefault allow\nlandlock off\n"
                  "trap getppid tgkill tkill gettid getpid rt_sigprocmask\n", p_getppid, NULL, &o);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_int_eq(denied_syscall(&o), SYS_getppid);
}
END_TEST

START_TEST(no_channel_still_dies)
{
    struct policy *p;
    char *text = strict_without("");
    char err[512], desc[512];
    ck_assert_int_eq(policy_parse(text, strlen(text), "strict", NULL, 0, &p, err, sizeof err), 0);
    free(text);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (sandbox_arm_sigsys(-1) < 0 || sandbox_apply(p, desc, sizeof desc, err, sizeof err) < 0)
            _exit(HARNESS_APPLY_FAILED);
        syscall(SYS_ptrace, 0, 0, 0, 0);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
    policy_free(p);
}
END_TEST

Suite *sigsys_suite(void)
{
    Suite *s = suite_create("sigsys");
    TCase *t = tcase_create("sigsys");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, frame_is_one_denied_message);
    tcase_add_test(t, a_thread_takes_the_process_down);
    tcase_add_test(t, dies_even_when_tgkill_is_trapped);
    tcase_add_test(t, no_channel_still_dies);
    suite_add_tcase(s, t);
    return s;
}
