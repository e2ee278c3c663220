/* The policies aiobox ships parse and say what docs/policies.md says. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "suites.h"

static struct policy *load(const char *name)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/%s", POLICY_DIR, name);
    struct policy *p;
    ck_assert_msg(policy_load(path, NULL, 0, &p, err, sizeof err) == 0, "%s", err);
    return p;
}

static const struct policy_rlimit *rlimit(const struct policy *p, int res)
{
    for (size_t i = 0; i < policy_rlimit_count(p); i++)
        if (policy_rlimit_at(p, i)->resource == res)
            return policy_rlimit_at(p, i);
    return NULL;
}

START_TEST(strict)
{
    struct policy *p = load("strict");
    ck_assert_str_eq(policy_name(p), "strict");
    ck_assert(policy_is_restrictive(p));
    ck_assert(policy_landlock_enabled(p));
    ck_assert_uint_eq(policy_tcp_count(p), 0);
    ck_assert(policy_timeout(p) > 0);
    ck_assert_uint_eq(policy_output_cap(p), 1u << 20);
    ck_assert_ptr_nonnull(rlimit(p, RLIMIT_AS));
    ck_assert_ptr_nonnull(rlimit(p, RLIMIT_NOFILE));
    ck_assert_ptr_nonnull(rlimit(p, RLIMIT_FSIZE));
    ck_assert_uint_eq(rlimit(p, RLIMIT_CORE)->value, 0);
    /* Reads below Python's own directories, the build's: every sys.path
     * entry and the library directory; nothing writable. */
    static const char *const python_dirs[] = { AIOBOX_PYTHON_SYS_PATH, AIOBOX_PYTHON_LIBDIR };
    for (size_t d = 0; d < sizeof python_dirs / sizeof *python_dirs; d++) {
        bool found = false;
        for (size_t i = 0; i < policy_path_count(p); i++)
            found |= strcmp(policy_path_at(p, i)->path, python_dirs[d]) == 0;
        ck_assert_msg(found, "strict does not let %s be read", python_dirs[d]);
    }
    /* Writable: only its own /tmp, a 64M tmpfs in its mount namespace. */
    for (size_t i = 0; i < policy_path_count(p); i++) {
        const struct policy_path *pp = policy_path_at(p, i);
        if (pp->access == POLICY_FS_RW)
            ck_assert(pp->mount_only && strcmp(pp->path, "/tmp") == 0);
    }
    ck_assert_uint_eq(policy_mount_count(p), 1);
    ck_assert_int_eq(policy_mount_at(p, 0)->kind, POLICY_MOUNT_TMPFS);
    ck_assert_str_eq(policy_mount_at(p, 0)->path, "/tmp");
    ck_assert_uint_eq(policy_mount_at(p, 0)->size, 64u << 20);
    /* A spinning thread is stopped; an idle asyncio loop (well under 1%)
     * is far from the limit. No cgroup limit is required: it could not
     * run where cgroup v2 is not delegated. */
    struct policy_idle_cpu ic = policy_idle_cpu(p);
    ck_assert(ic.share >= 0.25 && ic.share <= 0.9);
    ck_assert(ic.window_s <= 30);
    ck_assert_int_eq(ic.action, POLICY_IDLE_KILL);
    ck_assert(!policy_cgroup_required(p));
    policy_free(p);
}
END_TEST

START_TEST(net)
{
    struct policy *p = load("net");
    ck_assert_str_eq(policy_name(p), "net");
    ck_assert(policy_is_restrictive(p));
    ck_assert_uint_eq(policy_tcp_count(p), 1);
    ck_assert_int_eq(policy_tcp_at(p, 0)->kind, POLICY_TCP_CONNECT);
    ck_assert_int_eq(policy_tcp_at(p, 0)->port, -1);
    ck_assert_int_eq(policy_landlock_min_abi(p), 4);
    /* everything strict has, too */
    ck_assert_ptr_nonnull(rlimit(p, RLIMIT_AS));
    ck_assert_int_eq(policy_idle_cpu(p).action, POLICY_IDLE_KILL);
    policy_free(p);
}
END_TEST

START_TEST(trusted)
{
    struct policy *p = load("trusted");
    ck_assert_str_eq(policy_name(p), "trusted");
    ck_assert(!policy_is_restrictive(p));
    ck_assert(!policy_landlock_enabled(p));
    ck_assert(policy_timeout(p) == 0);
    /* Your own code may work in the background: warned of only. */
    ck_assert(policy_idle_cpu(p).share > 0);
    ck_assert_int_eq(policy_idle_cpu(p).action, POLICY_IDLE_WARN);
    ck_assert(!policy_cgroup_required(p));
    policy_free(p);
}
END_TEST

Suite *shipped_suite(void)
{
    Suite *s = suite_create("shipped");
    TCase *t = tcase_create("shipped");
    tcase_add_test(t, strict);
    tcase_add_test(t, net);
    tcase_add_test(t, trusted);
    suite_add_tcase(s, t);
    return s;
}
