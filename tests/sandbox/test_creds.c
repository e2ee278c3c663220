/* Identity and privileges: the drop from root, no_new_privs, and the
 * parent-death signal that a credential change clears. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkrun.h"
#include "harness.h"

/* These probes read process state with prctl, which strict forbids. */
static const char *const open_policy = "aiobox-policy 1\nname open\ndefault allow\nlandlock off\n";

static int p_ids(void *arg)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return 1;
    /* The id comes from the pid before any pid namespace: as pid 1 of
     * one, only its range can be checked here. */
    const unsigned id = getpid() == 1 ? r : SANDBOX_ID_FOR(getpid());
    if (r != id || e != id || s != id || r <= SANDBOX_ID_BASE)
        return 2;
    if (rg != SANDBOX_GID || eg != SANDBOX_GID || sg != SANDBOX_GID)
        return 3;
    /* strict refuses umask itself (glibc then returns -1, errno
     * untouched: umask "cannot fail"): nothing to read. */
    mode_t mask = umask(077);
    if (mask != SANDBOX_UMASK && mask != (mode_t)-1)
        return 6;
    if (getgroups(0, NULL) != 0)
        return 4;
    if (setuid(0) == 0 || errno != EPERM)
        return 5;
    return 0;
}

START_TEST(root_drops_to_nobody)
{
    if (geteuid() != 0)
        checkrun_host_lacks("root", "the tests run as uid %u: there is no root to drop",
                            (unsigned)geteuid());
    struct outcome o;
    run_sandboxed(open_policy, p_ids, NULL, &o);
    ck_assert_exit(&o, 0);
    ck_assert_msg(strstr(o.desc, ", uid 10737") != NULL, "%s", o.desc);
    char *text = strict_without("");
    run_sandboxed(text, p_ids, NULL, &o);
    free(text);
    ck_assert_exit(&o, 0);
}
END_TEST

static int p_uid_kept(void *arg)
{
    return getuid() == (uid_t)(intptr_t)arg ? 0 : 1;
}

/* Neither root nor nobody: what a non-root executor runs as. */
#define OTHER_UID 4242

static void become_other_user(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
        setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
        _exit(99);
}

START_TEST(other_users_keep_their_uid)
{
    struct outcome o;
    /* As root, the sandboxed child first becomes another user itself. */
    uid_t want = geteuid() == 0 ? OTHER_UID : getuid();
    harness_before = geteuid() == 0 ? become_other_user : NULL;
    run_sandboxed(open_policy, p_uid_kept, (void *)(intptr_t)want, &o);
    harness_before = NULL;
    ck_assert_exit(&o, 0);
    char desc[64];
    snprintf(desc, sizeof desc, ", uid %u", (unsigned)want);
    ck_assert_msg(strstr(o.desc, desc) != NULL, "%s", o.desc);
}
END_TEST

static int p_nnp(void *arg)
{
    return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1;
}

START_TEST(no_new_privs_is_set)
{
    struct outcome o;
    run_sandboxed(open_policy, p_nnp, NULL, &o);
    ck_assert_exit(&o, 0);
}
END_TEST

static void arm_deathsig(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        _exit(99);
}

static int p_deathsig(void *arg)
{
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) < 0)
        return 1;
    return sig == SIGKILL ? 0 : 2;
}

START_TEST(pdeathsig_survives_the_drop)
{
    harness_before = arm_deathsig;
    struct outcome o;
    run_sandboxed(open_policy, p_deathsig, NULL, &o);
    harness_before = NULL;
    ck_assert_exit(&o, 0);
}
END_TEST

static int p_nothing(void *arg)
{
    return 0;
}

START_TEST(description_names_every_layer)
{
    char *text = strict_without("");
    struct outcome o;
    run_sandboxed(text, p_nothing, NULL, &o);
    free(text);
    ck_assert_exit(&o, 0);
    char want[64];
    snprintf(want, sizeof want, "landlock ABI %d (", sandbox_landlock_abi());
    ck_assert_msg(strncmp(o.desc, "strict: seccomp ", 16) == 0, "%s", o.desc);
    ck_assert_msg(strstr(o.desc, " rules, ") && strstr(o.desc, want) &&
                  strstr(o.desc, ", rlimits as=") && strstr(o.desc, ", uid "), "%s", o.desc);
    run_sandboxed(open_policy, p_nothing, NULL, &o);
    ck_assert_exit(&o, 0);
    ck_assert_msg(strncmp(o.desc, "open: seccomp 0 rules, landlock off, rlimits none, uid ", 55) == 0,
                  "%s", o.desc);
}
END_TEST

Suite *creds_suite(void)
{
    Suite *s = suite_create("creds");
    TCase *t = tcase_create("creds");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, root_drops_to_nobody);
    tcase_add_test(t, other_users_keep_their_uid);
    tcase_add_test(t, no_new_privs_is_set);
    tcase_add_test(t, pdeathsig_survives_the_drop);
    tcase_add_test(t, description_names_every_layer);
    suite_add_tcase(s, t);
    return s;
}
