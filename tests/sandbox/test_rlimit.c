/* The rlimit layer in forked children: each limit stops its bomb, and
 * without the limit the same probe gets through. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkrun.h"
#include "harness.h"

static void both_ways(probe_fn probe, void *arg, int with, int without)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, probe, arg, &o);
    free(text);
    ck_assert_exit(&o, with);
    text = strict_without("rlimits");
    run_sandboxed(text, probe, arg, &o);
    free(text);
    ck_assert_exit(&o, without);
}

static int p_many_fds(void *arg)
{
    for (int i = 0; i < 200; i++)
        if (dup(0) < 0)
            return errno;
    return 0;
}

START_TEST(nofile_stops_fd_exhaustion)
{
    both_ways(p_many_fds, NULL, EMFILE, 0);
}
END_TEST

static int p_big_map(void *arg)
{
    /* 2 GiB of address space, never touched */
    void *m = mmap(NULL, (size_t)2 << 30, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return errno;
    munmap(m, (size_t)2 << 30);
    return 0;
}

START_TEST(as_stops_memory_bombs)
{
    if (sandbox_sanitizer_build())
        checkrun_sanitizer_skip("RLIMIT_AS is not applied (ASan reserves terabytes of address space)");
    both_ways(p_big_map, NULL, ENOMEM, 0);
}
END_TEST

static char tmpdir[64];

static int p_big_file(void *arg)
{
    signal(SIGXFSZ, SIG_IGN);
    int fd = open((const char *)arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 100 + errno;
    static char block[1 << 20];
    for (int i = 0; i < 17; i++) {
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
            int e = errno;
            close(fd);
            return e;
        }
    }
    close(fd);
    return 0;
}

START_TEST(fsize_stops_large_files)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aiobox-rl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(chmod(tmpdir, 0777), 0);
    char file[128];
    snprintf(file, sizeof file, "%s/big", tmpdir);
    static const char *const variants[] = { "", "rlimits" };
    static const int want[] = { EFBIG, 0 };
    for (int i = 0; i < 2; i++) {
        char *text = strict_without(variants[i]);
        struct policy *p;
        char err[512];
        struct policy_grant rw = {.path = tmpdir, .writable = true};
        ck_assert_msg(policy_parse(text, strlen(text), "strict", &rw, 1, &p, err, sizeof err) == 0,
                      "%s", err);
        struct outcome o;
        run_policy(p, p_big_file, file, &o);
        ck_assert_exit(&o, want[i]);
        policy_free(p);
        free(text);
        unlink(file);
    }
    rmdir(tmpdir);
}
END_TEST

static int p_limits(void *arg)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_CORE, &r) < 0 || r.rlim_cur != 0 || r.rlim_max != 0)
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur != 64 || r.rlim_max != 64)
        return 2;
    if (getrlimit(RLIMIT_FSIZE, &r) < 0 || r.rlim_cur != 16u << 20)
        return 3;
    return 0;
}

START_TEST(limits_are_soft_and_hard)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_limits, NULL, &o);
    free(text);
    ck_assert_exit(&o, 0);
    if (sandbox_sanitizer_build())
        ck_assert_msg(strstr(o.desc, "rlimits as=skipped (sanitizer build) nofile=64 fsize=16M core=0"),
                      "%s", o.desc);
    else
        ck_assert_msg(strstr(o.desc, "rlimits as=1G nofile=64 fsize=16M core=0"), "%s", o.desc);
}
END_TEST

static void lower_nofile(void)
{
    struct rlimit r = { 20, 20 };
    if (setrlimit(RLIMIT_NOFILE, &r) < 0)
        _exit(99);
}

/* A limit already lower than the policy's stays as it is. */
START_TEST(never_raises_a_limit)
{
    harness_before = lower_nofile;
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_many_fds, NULL, &o);
    harness_before = NULL;
    free(text);
    ck_assert_exit(&o, EMFILE);
    ck_assert_msg(strstr(o.desc, " nofile=20 "), "%s", o.desc);
}
END_TEST

Suite *rlimit_suite(void)
{
    Suite *s = suite_create("rlimit");
    TCase *t = tcase_create("rlimit");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, nofile_stops_fd_exhaustion);
    tcase_add_test(t, as_stops_memory_bombs);
    tcase_add_test(t, fsize_stops_large_files);
    tcase_add_test(t, limits_are_soft_and_hard);
    tcase_add_test(t, never_raises_a_limit);
    suite_add_tcase(s, t);
    return s;
}
