/* Every directive of the policy language, as the parsed policy shows it. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "suites.h"

#define HEAD "aiobox-policy 1\n"

static char *dump(const struct policy *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    char err[512];
    ck_assert_msg(policy_dump(p, f, err, sizeof err) == 0, "%s", err);
    fclose(f);
    return buf;
}

#define ck_assert_has(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))
#define ck_assert_lacks(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect '%s' in:\n%s", (needle), (hay))

START_TEST(format_line_and_comments)
{
    struct policy *p = parse_ok("# leading comment\n\n  aiobox-policy 1   # trailing\n"
                                "allow read # why: reading\n");
    char *d = dump(p);
    ck_assert_has(d, "allow read");
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(defaults_without_settings)
{
    struct policy *p = parse_ok(HEAD);
    ck_assert_str_eq(policy_name(p), "t.policy");
    ck_assert(policy_timeout(p) == 0);
    ck_assert_uint_eq(policy_output_cap(p), POLICY_OUTPUT_CAP_DEFAULT);
    ck_assert(policy_is_restrictive(p));
    ck_assert(policy_landlock_enabled(p));
    ck_assert_int_eq(policy_landlock_min_abi(p), 1);
    ck_assert_uint_eq(policy_rlimit_count(p), 0);
    char *d = dump(p);
    ck_assert_has(d, "default: errno EPERM");
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(name_directive)
{
    struct policy *p = parse_ok(HEAD "name my-policy_2.x\n");
    ck_assert_str_eq(policy_name(p), "my-policy_2.x");
    policy_free(p);
}
END_TEST

START_TEST(default_actions)
{
    static const struct { const char *line, *shown; } cases[] = {
        { "default allow\n", "default: allow" },
        { "default errno EACCES\n", "default: errno EACCES" },
        { "default errno 38\n", "default: errno ENOSYS" },
        { "default kill\n", "default: kill" },
        { "default trap\n", "default: trap" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, HEAD "%s", cases[i].line);
        struct policy *p = parse_ok(text);
        char *d = dump(p);
        ck_assert_has(d, cases[i].shown);
        free(d);
        policy_free(p);
    }
}
END_TEST

START_TEST(rule_actions)
{
    struct policy *p = parse_ok(HEAD "default allow\n"
                                "errno EACCES chdir\nkill ptrace\ntrap bpf\nerrno ENOSYS clone3\n");
    char *pfc = export_pfc(p);
    char *b = pfc_block(pfc, SCMP_SYS(chdir));
    ck_assert_has(b, "action ERRNO(13);");
    free(b);
    b = pfc_block(pfc, SCMP_SYS(ptrace));
    ck_assert_has(b, "action KILL_PROCESS;");
    free(b);
    b = pfc_block(pfc, SCMP_SYS(bpf));
    ck_assert_has(b, "action TRAP;");
    free(b);
    b = pfc_block(pfc, SCMP_SYS(clone3));
    ck_assert_has(b, "action ERRNO(38);");
    free(b);
    ck_assert_has(pfc, "# default action\n  action ALLOW;");
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(groups_expand_and_nest)
{
    struct policy *p = parse_ok(HEAD "group @io read write\ngroup @more @io close\n"
                                "allow @more lseek\n");
    char *pfc = export_pfc(p);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(read)), -1);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(write)), -1);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(close)), -1);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(lseek)), -1);
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(overlapping_groups_are_fine)
{
    struct policy *p = parse_ok(HEAD "group @a read madvise\ngroup @b madvise write\n"
                                "allow @a @b\nallow madvise\n");
    policy_free(p);
}
END_TEST

START_TEST(continuation_lines)
{
    struct policy *p = parse_ok(HEAD "allow read \\\n    write \\\n  close\nallow lseek\n");
    char *pfc = export_pfc(p);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(close)), -1);
    free(pfc);
    policy_free(p);
    /* An error after a continued directive names the line it starts on. */
    const char *bad = HEAD "allow read \\\n write \\\n nosuch\n";
    char err[256];
    struct policy *q;
    ck_assert_int_eq(policy_parse(bad, strlen(bad), "t.policy", NULL, 0, &q, err, sizeof err),
                     -EINVAL);
    ck_assert_str_eq(err, "t.policy:2: unknown syscall 'nosuch'");
}
END_TEST

START_TEST(conditions_every_operator)
{
    struct policy *p = parse_ok(HEAD
        "allow read if a0 == 3\n"
        "allow write if a0 != 7\n"
        "allow lseek if a0 < 10\n"
        "allow close if a0 <= 0x10\n"
        "allow dup if a0 > 2\n"
        "allow pread64 if a3 >= 010\n"
        "allow mmap if a2 & PROT_WRITE|PROT_EXEC == PROT_WRITE and a3 == -1\n");
    char *d = dump(p);
    ck_assert_has(d, "allow read if a0 == 0x3");
    ck_assert_has(d, "allow write if a0 != 0x7");
    ck_assert_has(d, "allow lseek if a0 < 0xa");
    ck_assert_has(d, "allow close if a0 <= 0x10");
    ck_assert_has(d, "allow dup if a0 > 0x2");
    ck_assert_has(d, "allow pread64 if a3 >= 0x8");
    ck_assert_has(d, "allow mmap if a2 & 0x6 == 0x2 and a3 == 0xffffffffffffffff");
    free(d);
    char *pfc = export_pfc(p);
    char *b = pfc_block(pfc, SCMP_SYS(mmap));
    ck_assert_has(b, "& 0x00000006 == 2");
    free(b);
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(pid_is_substituted)
{
    struct policy *p = parse_ok(HEAD "allow kill if a0 == $pid\n");
    char *pfc = export_pfc(p);
    char want[64];
    snprintf(want, sizeof want, "if ($a0.lo32 == %d)", (int)getpid());
    char *b = pfc_block(pfc, SCMP_SYS(kill));
    ck_assert_has(b, want);
    free(b);
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(narrow_arguments_compare_32_bits)
{
    struct policy *p = parse_ok(HEAD "landlock off\nallow ioctl if a1 == TCGETS\n"
                                "allow socket if a0 == AF_UNIX\n");
    char *d = dump(p);
    ck_assert_has(d, "allow ioctl if a1 & 0xffffffff == 0x5401");
    ck_assert_has(d, "allow socket if a0 & 0xffffffff == 0x1");
    free(d);
    char *pfc = export_pfc(p);
    char *b = pfc_block(pfc, SCMP_SYS(ioctl));
    /* The high word is masked out entirely: TCGETS | 1 << 32 matches too,
     * as the kernel reads it. */
    ck_assert_has(b, "$a1.hi32 & 0x00000000 == 0");
    ck_assert_has(b, "$a1.lo32 & 0xffffffff == 21505");
    free(b);
    free(pfc);
    policy_free(p);
}
END_TEST

/* What the socket check lets through: Unix stream pairs, Unix sockets
 * without landlock, other families with the family pinned. */
START_TEST(socket_rules_that_pass)
{
    static const char *const ok[] = {
        HEAD "allow socketpair if a0 == AF_UNIX and a1 & SOCK_TYPE_MASK == SOCK_STREAM\n",
        HEAD "allow socketpair if a1 == SOCK_STREAM\n",
        HEAD "allow socket if a0 == AF_NETLINK\n",
        HEAD "landlock off\nallow socket\nallow socketpair\n",
        HEAD "errno EACCES socket\nerrno EACCES socketpair\n",
        HEAD "allow socket if a0 == AF_INET and a1 & SOCK_TYPE_MASK == SOCK_STREAM and a2 == 0\n"
             "allow socket if a0 == AF_INET6 and a2 == IPPROTO_TCP\ntcp connect 5432\n",
        HEAD "allow socket if a0 == AF_INET and a1 & SOCK_TYPE_MASK == SOCK_DGRAM\n",
        HEAD "default allow\nerrno EPERM socket socketpair\ntcp connect 5432\n",
        HEAD "default allow\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        policy_free(parse_ok(ok[i]));
}
END_TEST

START_TEST(idle_cpu_directive)
{
    struct policy *p = parse_ok(HEAD);
    ck_assert(policy_idle_cpu(p).share == 0);
    char *d = dump(p);
    ck_assert_has(d, "idle-cpu: none\n");
    free(d);
    policy_free(p);

    p = parse_ok(HEAD "idle-cpu 25% over 10s then kill\n");
    struct policy_idle_cpu ic = policy_idle_cpu(p);
    ck_assert(ic.share == 0.25);
    ck_assert(ic.window_s == 10);
    ck_assert_int_eq(ic.action, POLICY_IDLE_KILL);
    d = dump(p);
    ck_assert_has(d, "idle-cpu: 25% of one CPU over 10 s while no statement runs, then kill  # t.policy:2\n");
    free(d);
    policy_free(p);

    p = parse_ok(HEAD "idle-cpu 2.5% over 1m then warn\n");
    ic = policy_idle_cpu(p);
    ck_assert(ic.share == 0.025);
    ck_assert(ic.window_s == 60);
    ck_assert_int_eq(ic.action, POLICY_IDLE_WARN);
    ck_assert_str_eq(policy_idle_action_name(ic.action), "warn");
    policy_free(p);

    /* An including file overrides what it includes, `none` included. */
    char inc[] = "/tmp/aiobox-policy-inc-XXXXXX";
    int fd = mkstemp(inc);
    ck_assert_int_ge(fd, 0);
    static const char included[] = HEAD "idle-cpu 50% over 10s then kill\n";
    ck_assert_int_eq(write(fd, included, sizeof included - 1), (ssize_t)(sizeof included - 1));
    ck_assert_int_eq(close(fd), 0);
    char text[256];
    snprintf(text, sizeof text, HEAD "include %s\nidle-cpu none\n", inc);
    p = parse_ok(text);
    ck_assert(policy_idle_cpu(p).share == 0);
    policy_free(p);
    snprintf(text, sizeof text, HEAD "include %s\n", inc);
    p = parse_ok(text);
    ck_assert(policy_idle_cpu(p).share == 0.5);
    policy_free(p);
    ck_assert_int_eq(unlink(inc), 0);
}
END_TEST

START_TEST(cgroup_directive)
{
    struct policy *p = parse_ok(HEAD);
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++)
        ck_assert(!policy_cgroup(p, (enum policy_cgroup_ctl)i)->set);
    ck_assert(!policy_cgroup_required(p));
    char *d = dump(p);
    ck_assert_has(d, "cgroup: none\n");
    free(d);
    policy_free(p);

    p = parse_ok(HEAD "cgroup cpu? 50%\ncgroup memory? 1G\ncgroup pids? 256\n");
    ck_assert(!policy_cgroup_required(p));
    ck_assert_uint_eq(policy_cgroup(p, POLICY_CGROUP_CPU)->value, 50);
    ck_assert(policy_cgroup(p, POLICY_CGROUP_CPU)->optional);
    ck_assert_uint_eq(policy_cgroup(p, POLICY_CGROUP_MEMORY)->value, 1u << 30);
    ck_assert_uint_eq(policy_cgroup(p, POLICY_CGROUP_PIDS)->value, 256);
    d = dump(p);
    ck_assert_has(d, "cgroup:\n  cpu? 50%  (cpu.max 50000 100000)  # t.policy:2\n"
                     "  memory? 1G  # t.policy:3\n  pids? 256  # t.policy:4\n");
    free(d);
    policy_free(p);

    p = parse_ok(HEAD "cgroup pids 64\n");
    ck_assert(policy_cgroup_required(p));
    ck_assert(!policy_cgroup(p, POLICY_CGROUP_PIDS)->optional);
    d = dump(p);
    ck_assert_has(d, "  pids 64  # t.policy:2 (required)\n");
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(namespace_directives)
{
    struct policy *p = parse_ok(HEAD);
    unsigned opt = 99;
    ck_assert_uint_eq(policy_namespaces(p, &opt), 0);
    ck_assert_uint_eq(opt, 0);
    char *d = dump(p);
    ck_assert_has(d, "namespaces: none\n");
    free(d);
    policy_free(p);
    p = parse_ok(HEAD "namespaces net user ipc? uts\nhostname box-1.x\n");
    ck_assert_uint_eq(policy_namespaces(p, &opt),
                      POLICY_NS_USER | POLICY_NS_IPC | POLICY_NS_UTS | POLICY_NS_NET);
    ck_assert_uint_eq(opt, POLICY_NS_IPC);
    ck_assert_str_eq(policy_hostname(p), "box-1.x");
    d = dump(p);
    /* Shown in the order they are made, whatever the order written. */
    ck_assert_has(d, "namespaces: user ipc? uts net  # t.policy:2\n  hostname box-1.x\n");
    free(d);
    policy_free(p);
    p = parse_ok(HEAD "namespaces user uts\n");
    ck_assert_str_eq(policy_hostname(p), "aiobox");
    policy_free(p);
    /* An included hostname is inert where the includer drops uts. */
    char inc[] = "/tmp/aiobox-policy-inc-XXXXXX";
    int fd = mkstemp(inc);
    ck_assert_int_ge(fd, 0);
    static const char included[] = HEAD "namespaces user uts\nhostname inner\n";
    ck_assert_int_eq(write(fd, included, sizeof included - 1), (ssize_t)(sizeof included - 1));
    ck_assert_int_eq(close(fd), 0);
    char text[256];
    snprintf(text, sizeof text, HEAD "include %s\nnamespaces user ipc\n", inc);
    p = parse_ok(text);
    ck_assert_uint_eq(policy_namespaces(p, NULL), POLICY_NS_USER | POLICY_NS_IPC);
    policy_free(p);
    ck_assert_int_eq(unlink(inc), 0);
    p = parse_ok(HEAD "namespaces user? ipc? uts?\n");
    ck_assert_uint_eq(policy_namespaces(p, &opt), opt);
    policy_free(p);
}
END_TEST

/* Every shipped policy makes its namespaces; only strict takes the network. */
START_TEST(shipped_namespaces)
{
    static const struct { const char *name; unsigned ns; } want[] = {
        { "strict", POLICY_NS_USER | POLICY_NS_IPC | POLICY_NS_UTS | POLICY_NS_NET |
                    POLICY_NS_PID | POLICY_NS_MOUNT },
        { "net", POLICY_NS_USER | POLICY_NS_IPC | POLICY_NS_UTS | POLICY_NS_PID | POLICY_NS_MOUNT },
        { "trusted", POLICY_NS_USER | POLICY_NS_IPC | POLICY_NS_UTS | POLICY_NS_PID |
                     POLICY_NS_MOUNT },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512], err[512];
        struct policy *p;
        snprintf(path, sizeof path, "%s/%s", POLICY_DIR, want[i].name);
        ck_assert_msg(policy_load(path, NULL, 0, &p, err, sizeof err) == 0, "%s", err);
        unsigned opt;
        ck_assert_uint_eq(policy_namespaces(p, &opt), want[i].ns);
        ck_assert_uint_eq(opt, 0);
        ck_assert_str_eq(policy_hostname(p), "aiobox");
        /* trusted keeps the host's files: only /proc is its own. */
        ck_assert_int_eq(policy_mount_root(p), strcmp(want[i].name, "trusted") == 0
                                                   ? POLICY_ROOT_HOST : POLICY_ROOT_MINIMAL);
        policy_free(p);
    }
}
END_TEST

/* tmpfs, bind-ro, bind-rw: each in the model, each with its own fs rule
 * (mount_only), the tmpfs's writable; shown by the dump. */
START_TEST(mount_directives)
{
    struct policy *p = parse_ok(HEAD "namespaces user mount?\n"
                                "allow-when-writable openat\n"
                                "tmpfs /tmp 16M\nbind-ro /srv/data\nbind-rw? /srv/out\n"
                                "fs ro /usr\n");
    unsigned opt;
    ck_assert_uint_eq(policy_namespaces(p, &opt), POLICY_NS_USER | POLICY_NS_MOUNT);
    ck_assert_uint_eq(opt, POLICY_NS_MOUNT);
    ck_assert_uint_eq(policy_mount_count(p), 3);
    const struct policy_mount *m = policy_mount_at(p, 0);
    ck_assert_int_eq(m->kind, POLICY_MOUNT_TMPFS);
    ck_assert_str_eq(m->path, "/tmp");
    ck_assert_uint_eq(m->size, 16u << 20);
    m = policy_mount_at(p, 1);
    ck_assert_int_eq(m->kind, POLICY_MOUNT_BIND_RO);
    ck_assert_str_eq(m->path, "/srv/data");
    ck_assert(!m->optional);
    m = policy_mount_at(p, 2);
    ck_assert_int_eq(m->kind, POLICY_MOUNT_BIND_RW);
    ck_assert(m->optional);
    ck_assert_ptr_null(policy_mount_at(p, 3));
    /* fs /usr, then one rule per mount directive, marked mount_only. */
    ck_assert_uint_eq(policy_path_count(p), 4);
    ck_assert(!policy_path_at(p, 0)->mount_only);
    const struct policy_path *pp = policy_path_at(p, 1);
    ck_assert_str_eq(pp->path, "/tmp");
    ck_assert_int_eq(pp->access, POLICY_FS_RW);
    ck_assert(pp->mount_only && !pp->optional);
    ck_assert_int_eq(policy_path_at(p, 2)->access, POLICY_FS_RO);
    ck_assert(policy_path_at(p, 3)->optional && policy_path_at(p, 3)->mount_only);
    char *d = dump(p);
    ck_assert_has(d, "namespaces: user mount?  # t.policy:2\n");
    ck_assert_has(d, "    tmpfs /tmp 16M  # t.policy:4\n    bind-ro /srv/data  # t.policy:5\n"
                     "    bind-rw? /srv/out  # t.policy:6\n");
    ck_assert_has(d, "  fs rw /tmp  # t.policy:4 tmpfs, inside the mount namespace only\n");
    /* The tmpfs's rw rule makes a path writable. */
    ck_assert_has(d, "[active: a path is writable]");
    free(d);
    policy_free(p);
    /* landlock off: no fs rules are added (files are not restricted). */
    p = parse_ok(HEAD "landlock off\nnamespaces user mount\ntmpfs /tmp 4K\n");
    ck_assert_uint_eq(policy_path_count(p), 0);
    ck_assert_uint_eq(policy_mount_count(p), 1);
    policy_free(p);
    /* An includer may give strict's /tmp a size of its own; a mount from
     * an include is inert where the includer drops the namespace. */
    char text[512];
    snprintf(text, sizeof text, HEAD "include %s/strict\ntmpfs /tmp 4M\n", POLICY_DIR);
    p = parse_ok(text);
    ck_assert_uint_eq(policy_mount_count(p), 1);
    ck_assert_uint_eq(policy_mount_at(p, 0)->size, 4u << 20);
    ck_assert_int_eq(policy_mount_at(p, 0)->kind, POLICY_MOUNT_TMPFS);
    policy_free(p);
    snprintf(text, sizeof text, HEAD "include %s/strict\nnamespaces user ipc uts net\n", POLICY_DIR);
    p = parse_ok(text);
    for (size_t i = 0; i < policy_path_count(p); i++)
        ck_assert_msg(!policy_path_at(p, i)->mount_only, "%s", policy_path_at(p, i)->path);
    d = dump(p);
    ck_assert_has(d, "  mounts: inert without a mount namespace\n");
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(when_writable_lifts_conditions)
{
    const char *text = HEAD "allow openat if a2 & O_ACCMODE|O_CREAT|O_TRUNC == 0\n"
                            "allow-when-writable openat mkdirat\n";
    struct policy *p = parse_ok(text);
    char *pfc = export_pfc(p);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)), 0);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(mkdirat)), 1);
    free(pfc);
    char *d = dump(p);
    ck_assert_has(d, "[inactive: no writable path]");
    free(d);
    policy_free(p);
    char err[512];
    struct policy_grant rw = {.path = "/tmp", .writable = true};
    ck_assert_msg(policy_parse(text, strlen(text), "t.policy", &rw, 1, &p, err, sizeof err) == 0,
                  "%s", err);
    pfc = export_pfc(p);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)), -1);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(mkdirat)), -1);
    free(pfc);
    d = dump(p);
    ck_assert_has(d, "[active: a path is writable]");
    ck_assert_has(d, "fs rw /tmp  # command line");
    free(d);
    policy_free(p);
}
END_TEST

/* The build's Python directories, one rule per directory, marked with the
 * variable in --check-policy. */
START_TEST(path_variables)
{
    static const char *const sys_path[] = { AIOBOX_PYTHON_SYS_PATH };
    size_t n = sizeof sys_path / sizeof *sys_path;
    struct policy *p = parse_ok(HEAD "fs ro? $python_path\nfs rx $python_libdir\n");
    ck_assert_uint_eq(policy_path_count(p), n + 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(policy_path_at(p, i)->path, sys_path[i]);
        ck_assert(policy_path_at(p, i)->optional);
        ck_assert_int_eq(policy_path_at(p, i)->access, POLICY_FS_RO);
    }
    ck_assert_str_eq(policy_path_at(p, n)->path, AIOBOX_PYTHON_LIBDIR);
    ck_assert_int_eq(policy_path_at(p, n)->access, POLICY_FS_RX);
    char *d = dump(p);
    char want[512];
    snprintf(want, sizeof want, "fs ro? %s  # t.policy:2 $python_path\n", sys_path[0]);
    ck_assert_has(d, want);
    snprintf(want, sizeof want, "fs rx %s  # t.policy:3 $python_libdir\n", AIOBOX_PYTHON_LIBDIR);
    ck_assert_has(d, want);
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(fs_rules)
{
    struct policy *p = parse_ok(HEAD "fs ro /usr\nfs rx /bin\nfs rw /tmp\nfs ro? /nonexistent\n");
    ck_assert_uint_eq(policy_path_count(p), 4);
    const struct policy_path *pp = policy_path_at(p, 0);
    ck_assert_str_eq(pp->path, "/usr");
    ck_assert_int_eq(pp->access, POLICY_FS_RO);
    ck_assert(!pp->optional);
    ck_assert_int_eq(policy_path_at(p, 1)->access, POLICY_FS_RX);
    ck_assert_int_eq(policy_path_at(p, 2)->access, POLICY_FS_RW);
    ck_assert(policy_path_at(p, 3)->optional);
    ck_assert_ptr_null(policy_path_at(p, 4));
    policy_free(p);
}
END_TEST

START_TEST(tcp_rules_need_abi_4)
{
    struct policy *p = parse_ok(HEAD "tcp connect 443\ntcp bind any\n");
    ck_assert_uint_eq(policy_tcp_count(p), 2);
    ck_assert_int_eq(policy_tcp_at(p, 0)->kind, POLICY_TCP_CONNECT);
    ck_assert_int_eq(policy_tcp_at(p, 0)->port, 443);
    ck_assert_int_eq(policy_tcp_at(p, 1)->kind, POLICY_TCP_BIND);
    ck_assert_int_eq(policy_tcp_at(p, 1)->port, -1);
    ck_assert_int_eq(policy_landlock_min_abi(p), 4);
    policy_free(p);
}
END_TEST

START_TEST(landlock_settings)
{
    struct policy *p = parse_ok(HEAD "landlock abi 6\n");
    ck_assert(policy_landlock_enabled(p));
    ck_assert_int_eq(policy_landlock_min_abi(p), 6);
    policy_free(p);
    p = parse_ok(HEAD "landlock off\ndefault allow\n");
    ck_assert(!policy_landlock_enabled(p));
    ck_assert(!policy_is_restrictive(p));
    policy_free(p);
    /* Either layer alone keeps a policy restrictive. */
    p = parse_ok(HEAD "landlock off\n");
    ck_assert(policy_is_restrictive(p));
    policy_free(p);
    p = parse_ok(HEAD "default allow\n");
    ck_assert(policy_is_restrictive(p));
    policy_free(p);
}
END_TEST

START_TEST(rlimits)
{
    struct policy *p = parse_ok(HEAD "rlimit as 1G\nrlimit nofile 64\nrlimit fsize 16M\n"
                                "rlimit core 0\nrlimit stack 8192K\nrlimit cpu unlimited\n"
                                "rlimit data 2T\n");
    ck_assert_uint_eq(policy_rlimit_count(p), 7);
    const struct policy_rlimit *r = policy_rlimit_at(p, 0);
    ck_assert_int_eq(r->resource, RLIMIT_AS);
    ck_assert_str_eq(r->name, "as");
    ck_assert_uint_eq(r->value, (rlim_t)1 << 30);
    ck_assert_uint_eq(policy_rlimit_at(p, 1)->value, 64);
    ck_assert_uint_eq(policy_rlimit_at(p, 2)->value, 16u << 20);
    ck_assert_uint_eq(policy_rlimit_at(p, 3)->value, 0);
    ck_assert_uint_eq(policy_rlimit_at(p, 4)->value, 8u << 20);
    ck_assert_uint_eq(policy_rlimit_at(p, 5)->value, RLIM_INFINITY);
    ck_assert_uint_eq(policy_rlimit_at(p, 6)->value, (rlim_t)2 << 40);
    char *d = dump(p);
    ck_assert_has(d, "  as 1G\n");
    ck_assert_has(d, "  stack 8M\n");
    ck_assert_has(d, "  cpu unlimited\n");
    free(d);
    policy_free(p);
}
END_TEST

START_TEST(timeouts)
{
    static const struct { const char *word; double secs; } cases[] = {
        { "30", 30 }, { "2.5s", 2.5 }, { "500ms", 0.5 }, { "2m", 120 }, { "none", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, HEAD "timeout %s\n", cases[i].word);
        struct policy *p = parse_ok(text);
        ck_assert_double_eq_tol(policy_timeout(p), cases[i].secs, 1e-9);
        policy_free(p);
    }
}
END_TEST

START_TEST(output_cap)
{
    struct policy *p = parse_ok(HEAD "output-cap 640K\n");
    ck_assert_uint_eq(policy_output_cap(p), 640u << 10);
    policy_free(p);
    p = parse_ok(HEAD "output-cap 100\n");
    ck_assert_uint_eq(policy_output_cap(p), 100);
    policy_free(p);
}
END_TEST

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aiobox-policy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(include_and_override)
{
    make_tmpdir();
    write_file("base", HEAD "name base\ntimeout 30\nrlimit nofile 64\ngroup @io read write\n"
                      "allow @io\nfs ro /usr\n");
    write_file("top", HEAD "include base\nname top\ntimeout 5\nallow @io close\n");
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/top", tmpdir);
    struct policy *p;
    ck_assert_msg(policy_load(path, NULL, 0, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(policy_name(p), "top");
    ck_assert(policy_timeout(p) == 5);
    ck_assert_uint_eq(policy_rlimit_count(p), 1);
    ck_assert_uint_eq(policy_path_count(p), 1);
    char *d = dump(p);
    char want[300];
    snprintf(want, sizeof want, "# %s/base:6", tmpdir);
    ck_assert_has(d, want);
    free(d);
    policy_free(p);
    remove_tmpdir();
}
END_TEST

START_TEST(name_defaults_to_file_name)
{
    make_tmpdir();
    write_file("mine", HEAD "allow read\n");
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/mine", tmpdir);
    struct policy *p;
    ck_assert_msg(policy_load(path, NULL, 0, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(policy_name(p), "mine");
    policy_free(p);
    remove_tmpdir();
}
END_TEST

static int parse_with(const char *path, bool writable, struct policy **p, char *err,
                      size_t errlen)
{
    struct policy_grant g = {.path = path, .writable = writable};
    return policy_parse(HEAD, strlen(HEAD), "t.policy", &g, 1, p, err, errlen);
}

START_TEST(grants_read_and_write)
{
    struct policy *p;
    char err[512];
    ck_assert_int_eq(parse_with("/usr/../usr/lib", false, &p, err, sizeof err), 0);
    ck_assert_str_eq(policy_path_at(p, 0)->path, "/usr/lib");
    ck_assert_int_eq(policy_path_at(p, 0)->access, POLICY_FS_RO);
    policy_free(p);
    ck_assert_int_eq(parse_with("/nonexistent/x", true, &p, err, sizeof err), -ENOENT);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err, "/nonexistent/x: No such file or directory");
    ck_assert_int_eq(parse_with("", true, &p, err, sizeof err), -EINVAL);
    ck_assert_str_eq(err, "empty path");
    /* POLICY_GRANTS_MAX, and not one more. */
    struct policy_grant many[POLICY_GRANTS_MAX + 1];
    for (size_t i = 0; i < POLICY_GRANTS_MAX + 1; i++)
        many[i] = (struct policy_grant){.path = "/usr", .writable = false};
    ck_assert_int_eq(policy_parse(HEAD, strlen(HEAD), "t.policy", many, POLICY_GRANTS_MAX, &p,
                                  err, sizeof err), 0);
    ck_assert_uint_eq(policy_path_count(p), POLICY_GRANTS_MAX);
    policy_free(p);
    ck_assert_int_eq(policy_parse(HEAD, strlen(HEAD), "t.policy", many, POLICY_GRANTS_MAX + 1,
                                  &p, err, sizeof err), -E2BIG);
    ck_assert_str_eq(err, "at most 64 --allow-read/--allow-write paths");
}
END_TEST


START_TEST(dump_has_every_section)
{
    struct policy *p = parse_ok(HEAD "name d\ntimeout 3\nallow read\nfs ro /usr\nrlimit nofile 9\n");
    char *d = dump(p);
    ck_assert_has(d, "policy d (t.policy)\n");
    ck_assert_has(d, "  restrictive: yes\n");
    ck_assert_has(d, "  timeout: 3 s\n");
    ck_assert_has(d, "  output-cap: 1M\n");
    ck_assert_has(d, "allow read");
    ck_assert_has(d, "# t.policy:4");
    ck_assert_has(d, "  fs ro /usr  # t.policy:5\n");
    ck_assert_has(d, "  nofile 9\n");
    ck_assert_has(d, "pseudo filter code start");
    ck_assert_has(d, "action KILL_PROCESS;");
    free(d);
    policy_free(p);
}
END_TEST

Suite *directives_suite(void)
{
    Suite *s = suite_create("directives");
    TCase *t = tcase_create("directives");
    tcase_add_test(t, format_line_and_comments);
    tcase_add_test(t, defaults_without_settings);
    tcase_add_test(t, name_directive);
    tcase_add_test(t, default_actions);
    tcase_add_test(t, rule_actions);
    tcase_add_test(t, groups_expand_and_nest);
    tcase_add_test(t, overlapping_groups_are_fine);
    tcase_add_test(t, continuation_lines);
    tcase_add_test(t, conditions_every_operator);
    tcase_add_test(t, pid_is_substituted);
    tcase_add_test(t, narrow_arguments_compare_32_bits);
    tcase_add_test(t, when_writable_lifts_conditions);
    tcase_add_test(t, fs_rules);
    tcase_add_test(t, path_variables);
    tcase_add_test(t, tcp_rules_need_abi_4);
    tcase_add_test(t, landlock_settings);
    tcase_add_test(t, rlimits);
    tcase_add_test(t, timeouts);
    tcase_add_test(t, output_cap);
    tcase_add_test(t, include_and_override);
    tcase_add_test(t, name_defaults_to_file_name);
    tcase_add_test(t, grants_read_and_write);
    tcase_add_test(t, dump_has_every_section);
    tcase_add_test(t, socket_rules_that_pass);
    tcase_add_test(t, namespace_directives);
    tcase_add_test(t, idle_cpu_directive);
    tcase_add_test(t, cgroup_directive);
    tcase_add_test(t, shipped_namespaces);
    tcase_add_test(t, mount_directives);
    suite_add_tcase(s, t);
    return s;
}
