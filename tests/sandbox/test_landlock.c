/* The landlock layer in forked children: reads outside the allow list,
 * writable paths, TCP rules, signal scoping, and refusing to start when
 * the kernel cannot give what the policy asks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "checkrun.h"
#include "harness.h"

static int p_read(void *arg)
{
    int fd = open((const char *)arg, O_RDONLY);
    if (fd < 0)
        return errno;
    char c;
    ssize_t r = read(fd, &c, 1);
    close(fd);
    return r < 0 ? errno : 0;
}

static int p_listdir(void *arg)
{
    DIR *d = opendir((const char *)arg);
    if (!d)
        return errno;
    closedir(d);
    return 0;
}

static int p_create(void *arg)
{
    int fd = open((const char *)arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return errno;
    ssize_t w = write(fd, "x", 1);
    close(fd);
    return w == 1 ? 0 : errno;
}

static void with_layer(const char *path_or_arg, probe_fn probe, int with, int without)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, probe, (void *)path_or_arg, &o);
    free(text);
    ck_assert_exit(&o, with);
    text = strict_without("landlock");
    run_sandboxed(text, probe, (void *)path_or_arg, &o);
    free(text);
    ck_assert_exit(&o, without);
}

START_TEST(reads_outside_the_list_fail)
{
    /* world-readable, so only landlock stops the unprivileged child */
    with_layer("/etc/passwd", p_read, EACCES, 0);
    with_layer("/", p_listdir, EACCES, 0);
    with_layer(AIOBOX_PYTHON_STDLIB "/os.py", p_read, 0, 0);
    with_layer(AIOBOX_PYTHON_STDLIB, p_listdir, 0, 0);
}
END_TEST

static char tmpdir[64];

static void make_shared_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aiobox-ll-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* the child writes as the unprivileged user */
    ck_assert_int_eq(chmod(tmpdir, 0777), 0);
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(allow_write_opens_one_tree)
{
    make_shared_tmpdir();
    char inside[128], outside[128];
    snprintf(inside, sizeof inside, "%s/inside", tmpdir);
    snprintf(outside, sizeof outside, "%s-outside", tmpdir);
    char *text = strict_without("");
    struct policy *p;
    char err[512];
    struct policy_grant rw = {.path = tmpdir, .writable = true};
    ck_assert_msg(policy_parse(text, strlen(text), "strict", &rw, 1, &p, err, sizeof err) == 0,
                  "%s", err);
    struct outcome o;
    run_policy(p, p_create, inside, &o);
    ck_assert_exit(&o, 0);
    ck_assert_int_eq(access(inside, F_OK), 0);
    /* /tmp is writable by anyone: landlock is what refuses this one */
    run_policy(p, p_create, outside, &o);
    ck_assert_exit(&o, EACCES);
    ck_assert_int_eq(access(outside, F_OK), -1);
    policy_free(p);
    /* --allow-read grants reading, not writing */
    struct policy_grant ro = {.path = "/etc/passwd", .writable = false};
    ck_assert_msg(policy_parse(text, strlen(text), "strict", &ro, 1, &p, err, sizeof err) == 0,
                  "%s", err);
    run_policy(p, p_read, "/etc/passwd", &o);
    ck_assert_exit(&o, 0);
    policy_free(p);
    free(text);
    unlink(outside);
    remove_tmpdir();
}
END_TEST

START_TEST(missing_paths)
{
    struct outcome o;
    run_sandboxed("aiobox-policy 1\ninclude strict\nfs ro? /nonexistent/optional\n",
                  p_read, AIOBOX_PYTHON_STDLIB "/os.py", &o);
    ck_assert_exit(&o, 0);
    /* Landlock's own refusal, without the mount namespace (which binds
     * every fs path first, and names the missing one itself). */
    char *text = strict_variant((const char *const[]){ "namespaces", "tmpfs", NULL },
                                "namespaces user ipc uts net\nfs ro /nonexistent/required\n");
    run_sandboxed(text, p_read, AIOBOX_PYTHON_STDLIB "/os.py", &o);
    free(text);
    ck_assert_exit(&o, HARNESS_APPLY_FAILED);
    ck_assert_str_eq(o.err, "landlock: /nonexistent/required: No such file or directory");
    run_sandboxed("aiobox-policy 1\ninclude strict\nfs ro /nonexistent/required\n",
                  p_read, AIOBOX_PYTHON_STDLIB "/os.py", &o);
    ck_assert_exit(&o, HARNESS_APPLY_FAILED);
    ck_assert_str_eq(o.err, "namespaces: mount: bind /nonexistent/required: No such file or directory");
}
END_TEST

/* The layer a landlock test needs, when this host cannot give it. */
static void need_landlock_abi(int min, const char *layer, const char *why)
{
    int abi = sandbox_landlock_abi();
    if (abi < 0)
        checkrun_host_lacks("landlock", "the kernel has no landlock (%s)", strerror(-abi));
    if (abi < min)
        checkrun_host_lacks(layer, "landlock ABI %d has no %s", abi, why);
}

START_TEST(abi_too_old_is_refused)
{
    need_landlock_abi(1, "landlock", "landlock");
    int abi = sandbox_landlock_abi();
    struct outcome o;
    run_sandboxed("aiobox-policy 1\ninclude strict\nlandlock abi 63\n", p_read, "/", &o);
    ck_assert_exit(&o, HARNESS_APPLY_FAILED);
    char want[256];
    snprintf(want, sizeof want,
             "landlock: the kernel offers ABI %d, policy strict needs ABI 63 or later", abi);
    ck_assert_str_eq(o.err, want);
}
END_TEST

/* An older kernel: landlock_create_ruleset does not exist. */
static void hide_landlock(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(landlock_create_ruleset), 0);
    if (seccomp_load(ctx) != 0)
        _exit(99);
    seccomp_release(ctx);
}

START_TEST(no_landlock_is_refused)
{
    harness_before = hide_landlock;
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_read, "/", &o);
    ck_assert_exit(&o, HARNESS_APPLY_FAILED);
    ck_assert_str_eq(o.err, "landlock: not available (Function not implemented): this kernel lacks it or it is not enabled (lsm=landlock); policy strict requires it");
    /* A policy that does not use landlock starts all the same. */
    free(text);
    text = strict_without("landlock");
    run_sandboxed(text, p_read, "/etc/passwd", &o);
    ck_assert_exit(&o, 0);
    harness_before = NULL;
    free(text);
}
END_TEST

static int listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s, 16), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

static int p_connect(void *arg)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)(intptr_t)arg),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    return rc < 0 ? errno : 0;
}

START_TEST(tcp_connect_rules)
{
    need_landlock_abi(4, "landlock-tcp", "TCP rules");
    int port;
    int s = listener(&port);
    /* seccomp lets TCP sockets through here, so landlock decides */
    static const char *const net_open =
        "aiobox-policy 1\ninclude strict\nallow socket if a0 == AF_INET and a2 == 0\nallow connect\n"
        "namespaces user ipc uts\n";
    char text[512];
    struct outcome o;
    run_sandboxed(net_open, p_connect, (void *)(intptr_t)port, &o);
    ck_assert_exit(&o, EACCES);
    snprintf(text, sizeof text, "%stcp connect %d\n", net_open, port);
    run_sandboxed(text, p_connect, (void *)(intptr_t)port, &o);
    ck_assert_exit(&o, 0);
    snprintf(text, sizeof text, "%stcp connect %d\n", net_open, port == 65535 ? 1 : port + 1);
    run_sandboxed(text, p_connect, (void *)(intptr_t)port, &o);
    ck_assert_exit(&o, EACCES);
    snprintf(text, sizeof text, "%stcp connect any\n", net_open);
    run_sandboxed(text, p_connect, (void *)(intptr_t)port, &o);
    ck_assert_exit(&o, 0);
    close(s);
}
END_TEST

static int p_signal(void *arg)
{
    return kill((pid_t)(intptr_t)arg, 0) < 0 ? errno : 0;
}

/* A process outside the sandbox: landlock's signal scope keeps the
 * sandboxed child from signalling it. Run as an ordinary user, the peer
 * has the child's uid, and without landlock the signal gets through (the
 * ablation); run as root, the child drops to an id of its own, which
 * stops the signal a second time. */
START_TEST(signal_scope)
{
    need_landlock_abi(6, "landlock-scope", "signal scoping");
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t peer = fork();
    ck_assert_int_ge(peer, 0);
    if (peer == 0) {
        if (geteuid() == 0 && (setresgid(65534, 65534, 65534) < 0 ||
                               setresuid(65534, 65534, 65534) < 0))
            _exit(1);
        close(ready[0]);
        close(ready[1]);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char c;
    /* EOF on the pipe: the peer has dropped its ids */
    ck_assert_int_eq(read(ready[0], &c, 1), 0);
    close(ready[0]);
    /* Without a pid namespace, which would hide the peer (ESRCH) before
     * landlock is asked. */
    static const char *const drop[] = { "allow kill if", "namespaces", "tmpfs", NULL };
    char *text = strict_variant(drop, "allow kill\nnamespaces user ipc uts net\n");
    struct outcome o;
    run_sandboxed(text, p_signal, (void *)(intptr_t)peer, &o);
    ck_assert_exit(&o, EPERM);
    free(text);
    static const char *const drop_ll[] = { "allow kill if", "fs", "namespaces", "tmpfs", NULL };
    text = strict_variant(drop_ll, "allow kill\nlandlock off\nnamespaces user ipc uts net\n");
    run_sandboxed(text, p_signal, (void *)(intptr_t)peer, &o);
    ck_assert_exit(&o, geteuid() == 0 ? EPERM : 0);
    free(text);
    kill(peer, SIGKILL);
    waitpid(peer, NULL, 0);
}
END_TEST

Suite *landlock_suite(void)
{
    Suite *s = suite_create("landlock");
    TCase *t = tcase_create("landlock");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, reads_outside_the_list_fail);
    tcase_add_test(t, allow_write_opens_one_tree);
    tcase_add_test(t, missing_paths);
    tcase_add_test(t, abi_too_old_is_refused);
    tcase_add_test(t, no_landlock_is_refused);
    tcase_add_test(t, tcp_connect_rules);
    tcase_add_test(t, signal_scope);
    suite_add_tcase(s, t);
    return s;
}
