/* The compiled filters, read back from libseccomp's export: conditional
 * rules must still be conditional after compilation. libseccomp's masked
 * compare takes the mask first; with the operands swapped the mask is 0
 * and libseccomp silently compiles an unconditional allow. */
#define _GNU_SOURCE
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "suites.h"

#ifndef POLICY_DIR
#error "POLICY_DIR must name the build tree's policies/"
#endif

static struct policy *load_shipped(const char *name)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/%s", POLICY_DIR, name);
    struct policy *p;
    ck_assert_msg(policy_load(path, NULL, 0, &p, err, sizeof err) == 0, "%s", err);
    return p;
}

/* strict without its mount namespace: the tmpfs is inert, no path is
 * writable, and openat keeps its write-flag condition. */
static struct policy *load_strict_without_tmp(void)
{
    char text[512], err[1024];
    int n = snprintf(text, sizeof text, "aiobox-policy 1\ninclude %s/strict\n"
                     "namespaces user ipc uts net\n", POLICY_DIR);
    struct policy *p;
    ck_assert_msg(policy_parse(text, (size_t)n, "strict-without-tmp", NULL, 0, &p, err,
                               sizeof err) == 0, "%s", err);
    return p;
}

/* strict's /tmp (a tmpfs, writable) turns allow-when-writable on: openat
 * is allowed with any flags and landlock keeps writes in /tmp. */
static const char *const conditional_in_strict[] = {
    "mmap", "mprotect", "clone", "ioctl", "fcntl", "socketpair",
    "prlimit64", "kill", "tgkill",
};

START_TEST(strict_conditions_survive)
{
    struct policy *p = load_shipped("strict");
    char *pfc = export_pfc(p);
    for (size_t i = 0; i < sizeof conditional_in_strict / sizeof conditional_in_strict[0]; i++) {
        int nr = seccomp_syscall_resolve_name(conditional_in_strict[i]);
        ck_assert_msg(pfc_allow_is_conditional(pfc, nr) == 0,
                      "%s is not conditional in the compiled filter", conditional_in_strict[i]);
    }
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)), -1);
    free(pfc);
    policy_free(p);
    p = load_strict_without_tmp();
    pfc = export_pfc(p);
    ck_assert_msg(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)) == 0,
                  "openat is not conditional without a writable path");
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(net_socket_is_conditional)
{
    struct policy *p = load_shipped("net");
    char *pfc = export_pfc(p);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(socket)), 0);
    /* strict's writable /tmp stays. */
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)), -1);
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(openat_mask_and_value_in_place)
{
    struct policy *p = load_strict_without_tmp();
    char *pfc = export_pfc(p);
    char *b = pfc_block(pfc, SCMP_SYS(openat));
    ck_assert_ptr_nonnull(b);
    /* mask = O_ACCMODE|O_CREAT|O_TRUNC, value 0 */
    ck_assert_msg(strstr(b, "if ($a2.lo32 & 0x00000243 == 0)") != NULL, "%s", b);
    free(b);
    b = pfc_block(pfc, SCMP_SYS(clone));
    ck_assert_msg(strstr(b, "if ($a0.lo32 & 0x7e030000 == 65536)") != NULL, "%s", b);
    free(b);
    b = pfc_block(pfc, SCMP_SYS(mmap));
    ck_assert_msg(strstr(b, "& 0x00000006 == 0)") && strstr(b, "& 0x00000006 == 2)") &&
                  strstr(b, "& 0x00000006 == 4)") && !strstr(b, "== 6)"), "%s", b);
    free(b);
    free(pfc);
    policy_free(p);
}
END_TEST

/* The checker itself must be able to fail: build the filter with the
 * operands swapped, as the pitfall did, and see it flagged. */
START_TEST(swapped_operands_are_caught)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(1));
    ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                                      SCMP_A2(SCMP_CMP_MASKED_EQ, 0, 0x243)), 0);
    ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                                      SCMP_A2(SCMP_CMP_MASKED_EQ, 0x6, 0x2)), 0);
    int fd = memfd_create("pfc", MFD_CLOEXEC);
    ck_assert_int_eq(seccomp_export_pfc(ctx, fd), 0);
    seccomp_release(ctx);
    off_t size = lseek(fd, 0, SEEK_END);
    char *pfc = calloc(1, (size_t)size + 1);
    ck_assert_int_eq(pread(fd, pfc, (size_t)size, 0), size);
    close(fd);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(openat)), -1);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(mmap)), 0);
    ck_assert_int_eq(pfc_allow_is_conditional(pfc, SCMP_SYS(read)), 1);
    free(pfc);
}
END_TEST

START_TEST(bad_arch_kills_process)
{
    struct policy *p = load_shipped("strict");
    char *pfc = export_pfc(p);
    ck_assert_msg(strstr(pfc, "# invalid architecture action\naction KILL_PROCESS;") != NULL, "%s", pfc);
    free(pfc);
    policy_free(p);
}
END_TEST

START_TEST(tsync_is_set)
{
    struct policy *p = load_shipped("strict");
    scmp_filter_ctx ctx;
    unsigned n;
    char err[512];
    ck_assert_int_eq(policy_seccomp_build(p, &ctx, &n, err, sizeof err), 0);
    uint32_t v = 0;
    ck_assert_int_eq(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_TSYNC, &v), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(seccomp_attr_get(ctx, SCMP_FLTATR_ACT_BADARCH, &v), 0);
    ck_assert_uint_eq(v, SCMP_ACT_KILL_PROCESS);
    ck_assert_uint_gt(n, 100);
    seccomp_release(ctx);
    policy_free(p);
}
END_TEST

START_TEST(clone3_enosys_everywhere)
{
    static const char *const names[] = { "strict", "net", "trusted" };
    for (size_t i = 0; i < 3; i++) {
        struct policy *p = load_shipped(names[i]);
        char *pfc = export_pfc(p);
        char *b = pfc_block(pfc, SCMP_SYS(clone3));
        ck_assert_msg(b && strstr(b, "action ERRNO(38);"), "%s: %s", names[i], b ? b : "no block");
        free(b);
        free(pfc);
        policy_free(p);
    }
}
END_TEST

Suite *filter_suite(void)
{
    Suite *s = suite_create("filter");
    TCase *t = tcase_create("filter");
    tcase_add_test(t, strict_conditions_survive);
    tcase_add_test(t, net_socket_is_conditional);
    tcase_add_test(t, openat_mask_and_value_in_place);
    tcase_add_test(t, swapped_operands_are_caught);
    tcase_add_test(t, bad_arch_kills_process);
    tcase_add_test(t, tsync_is_set);
    tcase_add_test(t, clone3_enosys_everywhere);
    suite_add_tcase(s, t);
    return s;
}
