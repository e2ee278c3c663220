/* The seccomp layer in forked children: each probe under strict, and
 * where the result could come from another layer, under strict without
 * seccomp to show that seccomp is what stops it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "checkrun.h"
#include "config.h"
#include "harness.h"

static int err_of(long rc)
{
    return rc < 0 ? errno : 0;
}

static int p_fork(void *arg)
{
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    if (c < 0)
        return errno;
    waitpid(c, NULL, 0);
    return 0;
}

static int p_clone3(void *arg)
{
    struct clone_args ca = { .exit_signal = SIGCHLD };
    long c = syscall(SYS_clone3, &ca, sizeof ca);
    if (c == 0)
        _exit(0);
    if (c < 0)
        return errno;
    waitpid((pid_t)c, NULL, 0);
    return 0;
}

static int p_clone_flags(void *arg)
{
    long c = syscall(SYS_clone, (long)(intptr_t)arg | SIGCHLD, 0, 0, 0, 0);
    if (c == 0)
        _exit(0);
    if (c < 0)
        return errno;
    waitpid((pid_t)c, NULL, 0);
    return 0;
}

static void *thread_forks(void *arg)
{
    *(int *)arg = p_fork(NULL);
    return NULL;
}

/* Threads work (clone3 gets ENOSYS, glibc falls back to clone with
 * CLONE_THREAD) and run under the same filter. */
static int p_thread(void *arg)
{
    pthread_t t;
    int in_thread = -1;
    int rc = pthread_create(&t, NULL, thread_forks, &in_thread);
    if (rc != 0)
        return 100 + rc;
    pthread_join(t, NULL);
    return in_thread;
}

static int p_open(void *arg)
{
    int fd = open(AIOBOX_PYTHON_STDLIB "/os.py", (int)(intptr_t)arg);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int p_mmap(void *arg)
{
    void *m = mmap(NULL, 4096, (int)(intptr_t)arg, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return errno;
    munmap(m, 4096);
    return 0;
}

static int p_mprotect(void *arg)
{
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 99;
    return err_of(mprotect(m, 4096, (int)(intptr_t)arg));
}

/* ioctl on a pipe: the kernel answers ENOTTY to any terminal command, so
 * EPERM can only come from the filter. */
static int p_ioctl(void *arg)
{
    int fds[2];
    if (pipe(fds) < 0)
        return 99;
    struct termios t;
    return err_of(syscall(SYS_ioctl, fds[0], (unsigned long)(uintptr_t)arg, &t));
}

static int p_socket(void *arg)
{
    int fd = socket((int)(intptr_t)arg, SOCK_STREAM, 0);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int p_socketpair(void *arg)
{
    int fds[2];
    return err_of(socketpair((int)(intptr_t)arg, SOCK_STREAM, 0, fds));
}

static int p_prlimit(void *arg)
{
    struct rlimit r;
    if (arg)
        return err_of(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &(struct rlimit){ 3, 3 }, NULL));
    return err_of(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &r));
}

static int p_kill(void *arg)
{
    return err_of(kill(arg ? getppid() : getpid(), 0));
}

static int p_chdir(void *arg)
{
    return err_of(chdir(AIOBOX_PYTHON_STDLIB));
}

static int p_syscall(void *arg)
{
    return err_of(syscall((long)(intptr_t)arg, 0, 0, 0, 0, 0));
}

static int p_bad_arch(void *arg)
{
    /* getpid through the i386 entry point: another audit architecture. */
    long r = 20;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
    return 0;
}

static void strict_result(probe_fn probe, void *arg, int want)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, probe, arg, &o);
    free(text);
    ck_assert_exit(&o, want);
}

static void unfiltered_result(probe_fn probe, void *arg, int want)
{
    char *text = strict_without("seccomp");
    struct outcome o;
    run_sandboxed(text, probe, arg, &o);
    free(text);
    ck_assert_exit(&o, want);
}

START_TEST(fork_is_eperm)
{
    strict_result(p_fork, NULL, EPERM);
    unfiltered_result(p_fork, NULL, 0);
}
END_TEST

START_TEST(clone3_is_enosys)
{
    strict_result(p_clone3, NULL, ENOSYS);
}
END_TEST

START_TEST(clone_needs_clone_thread)
{
    strict_result(p_clone_flags, (void *)(intptr_t)0, EPERM);
    strict_result(p_clone_flags, (void *)(intptr_t)CLONE_NEWUSER, EPERM);
    /* Namespace flags are refused even next to CLONE_THREAD. */
    strict_result(p_clone_flags,
                  (void *)(intptr_t)(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWNET), EPERM);
}
END_TEST

START_TEST(threads_work_and_inherit_the_filter)
{
    strict_result(p_thread, NULL, EPERM);
}
END_TEST

START_TEST(openat_without_write_flags_only)
{
    strict_result(p_open, (void *)(intptr_t)O_RDONLY, 0);
    strict_result(p_open, (void *)(intptr_t)O_WRONLY, EPERM);
    strict_result(p_open, (void *)(intptr_t)O_RDWR, EPERM);
    strict_result(p_open, (void *)(intptr_t)(O_RDONLY | O_TRUNC), EPERM);
    strict_result(p_open, (void *)(intptr_t)(O_RDONLY | O_CREAT), EPERM);
    /* Without seccomp the file is still not writable, but the refusal is
     * landlock's or the file mode's (EACCES), not the filter's. */
    unfiltered_result(p_open, (void *)(intptr_t)O_WRONLY, EACCES);
}
END_TEST

START_TEST(w_xor_x)
{
    strict_result(p_mmap, (void *)(intptr_t)(PROT_READ | PROT_WRITE), 0);
    strict_result(p_mmap, (void *)(intptr_t)(PROT_READ | PROT_EXEC), 0);
    strict_result(p_mmap, (void *)(intptr_t)(PROT_READ | PROT_WRITE | PROT_EXEC), EPERM);
    strict_result(p_mprotect, (void *)(intptr_t)(PROT_READ | PROT_WRITE), 0);
    strict_result(p_mprotect, (void *)(intptr_t)(PROT_READ | PROT_WRITE | PROT_EXEC), EPERM);
    unfiltered_result(p_mmap, (void *)(intptr_t)(PROT_READ | PROT_WRITE | PROT_EXEC), 0);
}
END_TEST

START_TEST(ioctl_compared_on_32_bits)
{
    const unsigned long hi = 1ul << 32;
    strict_result(p_ioctl, (void *)(uintptr_t)TCGETS, ENOTTY);
    /* The kernel reads TCGETS with high bits as TCGETS: so does the filter. */
    strict_result(p_ioctl, (void *)(uintptr_t)(hi | TCGETS), ENOTTY);
    strict_result(p_ioctl, (void *)(uintptr_t)TIOCSTI, EPERM);
    /* CVE-2019-10063: TIOCSTI with high bits set must not slip through. */
    strict_result(p_ioctl, (void *)(uintptr_t)((0x123ul << 32) | TIOCSTI), EPERM);
    unfiltered_result(p_ioctl, (void *)(uintptr_t)((0x123ul << 32) | TIOCSTI), ENOTTY);
}
END_TEST

START_TEST(socket_families)
{
    strict_result(p_socket, (void *)(intptr_t)AF_INET, EPERM);
    strict_result(p_socket, (void *)(intptr_t)AF_UNIX, EPERM);
    strict_result(p_socketpair, (void *)(intptr_t)AF_UNIX, 0);
    /* The kernel would say EOPNOTSUPP; EPERM is the filter. */
    strict_result(p_socketpair, (void *)(intptr_t)AF_INET, EPERM);
    unfiltered_result(p_socketpair, (void *)(intptr_t)AF_INET, EOPNOTSUPP);
}
END_TEST

START_TEST(prlimit_reads_only)
{
    strict_result(p_prlimit, NULL, 0);
    strict_result(p_prlimit, (void *)1, EACCES);
}
END_TEST

START_TEST(signals_only_to_itself)
{
    strict_result(p_kill, NULL, 0);
    strict_result(p_kill, (void *)1, EPERM);
}
END_TEST

START_TEST(chdir_is_eperm)
{
    strict_result(p_chdir, NULL, EPERM);
    unfiltered_result(p_chdir, NULL, 0);
}
END_TEST

START_TEST(never_calls_are_trapped_and_named)
{
    static const long calls[] = {
        SYS_ptrace, SYS_bpf, SYS_unshare, SYS_mount, SYS_keyctl, SYS_io_uring_setup,
        SYS_userfaultfd, SYS_personality, SYS_seccomp,
    };
    char *text = strict_without("");
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        struct outcome o;
        run_sandboxed(text, p_syscall, (void *)(intptr_t)calls[i], &o);
        ck_assert_killed(&o, SIGSYS);
        ck_assert_int_eq(denied_syscall(&o), calls[i]);
    }
    free(text);
}
END_TEST

START_TEST(kill_action_kills_without_a_frame)
{
    struct outcome o;
    run_sandboxed("aiobox-policy 1\ninclude strict\nkill getcpu\n", p_syscall,
                  (void *)(intptr_t)SYS_getcpu, &o);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_uint_eq(o.framelen, 0);
}
END_TEST

START_TEST(i386_entry_kills_the_process)
{
    char *unfiltered = strict_without("seccomp");
    struct outcome o;
    /* A kernel built or booted without IA-32 emulation has no i386 entry
     * point: int 0x80 faults (SIGSEGV, or a sanitizer's abort) before any
     * filter runs, so there is nothing for the filter to stop. */
    run_sandboxed(unfiltered, p_bad_arch, NULL, &o);
    free(unfiltered);
    if (!exited_with(&o, 0))
        checkrun_host_lacks("ia32", "int 0x80 fails without a filter (status 0x%x)",
                            (unsigned)o.status);
    char *text = strict_without("");
    run_sandboxed(text, p_bad_arch, NULL, &o);
    free(text);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_uint_eq(o.framelen, 0);
}
END_TEST

/* x32 numbers (bit 30) are another architecture too. */
START_TEST(x32_numbers_kill_the_process)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_syscall, (void *)(intptr_t)(0x40000000 | SYS_getpid), &o);
    free(text);
    ck_assert_killed(&o, SIGSYS);
    ck_assert_uint_eq(o.framelen, 0);
}
END_TEST

static void *block_on_pipe(void *arg)
{
    char c;
    ssize_t r = read(*(int *)arg, &c, 1);
    (void)r;
    return NULL;
}

/* Asserted, not assumed: a second thread would escape landlock. */
START_TEST(refuses_when_multithreaded)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, block_on_pipe, &fds[0]), 0);
    char *text = strict_without("");
    struct policy *p;
    char desc[512], err[512];
    ck_assert_int_eq(policy_parse(text, strlen(text), "strict", NULL, 0, &p, err, sizeof err), 0);
    ck_assert_int_eq(sandbox_apply(p, desc, sizeof desc, err, sizeof err), -EBUSY);
    ck_assert_str_eq(err, "the process has 2 threads: the sandbox must go on while it has one");
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    pthread_join(t, NULL);
    policy_free(p);
    free(text);
}
END_TEST

Suite *seccomp_suite(void)
{
    Suite *s = suite_create("seccomp");
    TCase *t = tcase_create("seccomp");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fork_is_eperm);
    tcase_add_test(t, clone3_is_enosys);
    tcase_add_test(t, clone_needs_clone_thread);
    tcase_add_test(t, threads_work_and_inherit_the_filter);
    tcase_add_test(t, openat_without_write_flags_only);
    tcase_add_test(t, w_xor_x);
    tcase_add_test(t, ioctl_compared_on_32_bits);
    tcase_add_test(t, socket_families);
    tcase_add_test(t, prlimit_reads_only);
    tcase_add_test(t, signals_only_to_itself);
    tcase_add_test(t, chdir_is_eperm);
    tcase_add_test(t, never_calls_are_trapped_and_named);
    tcase_add_test(t, kill_action_kills_without_a_frame);
    tcase_add_test(t, i386_entry_kills_the_process);
    tcase_add_test(t, x32_numbers_kill_the_process);
    tcase_add_test(t, refuses_when_multithreaded);
    suite_add_tcase(s, t);
    return s;
}
