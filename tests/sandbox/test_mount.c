/* The mount namespace in forked children: under strict, the host's files
 * outside the policy do not exist (not even for stat, which landlock
 * leaves alone), /tmp is a private tmpfs, and the old root is gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "checkrun.h"
#include "harness.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static const char full_strict[] = "aiobox-policy 1\ninclude strict\n";

static int p_stat(void *arg)
{
    struct stat st;
    return stat((const char *)arg, &st) < 0 ? errno : 0;
}

/* Writes /tmp/NAME and checks it is on a tmpfs. */
static int p_write_tmp(void *arg)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/%s", (const char *)arg);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return errno;
    ssize_t w = write(fd, "x", 1);
    close(fd);
    struct statfs sf;
    if (w != 1 || statfs("/tmp", &sf) < 0)
        return EIO;
    return sf.f_type == TMPFS_MAGIC ? 0 : EXDEV;
}

/* The root's parent is itself: nothing of the old root is above it. */
static int p_root_is_top(void *arg)
{
    (void)arg;
    struct stat a, b;
    if (stat("/", &a) < 0 || stat("/..", &b) < 0)
        return errno;
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev ? 0 : EEXIST;
}

START_TEST(host_files_do_not_exist)
{
    struct outcome o;
    /* world-readable, and stat needs no read right: only the mount
     * namespace makes these fail. */
    static const char *const hidden[] = { "/etc/passwd", "/home", "/root", "/sys" };
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++) {
        if (access(hidden[i], F_OK) < 0)
            continue;
        run_sandboxed(full_strict, p_stat, (void *)hidden[i], &o);
        ck_assert_exit(&o, ENOENT);
        char *text = strict_without("");
        run_sandboxed(text, p_stat, (void *)hidden[i], &o);
        free(text);
        ck_assert_exit(&o, 0);
    }
    run_sandboxed(full_strict, p_stat, AIOBOX_PYTHON_STDLIB "/os.py", &o);
    ck_assert_exit(&o, 0);
    run_sandboxed(full_strict, p_root_is_top, NULL, &o);
    ck_assert_exit(&o, 0);
    ck_assert_msg(strstr(o.desc, " mount(") && strstr(o.desc, "/tmp 64M, /proc)"), "%s", o.desc);
}
END_TEST

START_TEST(tmp_is_private)
{
    char name[64];
    snprintf(name, sizeof name, "aiobox-mount-%d", (int)getpid());
    char host[96];
    snprintf(host, sizeof host, "/tmp/%s", name);
    struct outcome o;
    run_sandboxed(full_strict, p_write_tmp, name, &o);
    ck_assert_exit(&o, 0);
    ck_assert_int_eq(access(host, F_OK), -1);
    /* The next one starts empty (O_EXCL would fail otherwise). */
    run_sandboxed(full_strict, p_write_tmp, name, &o);
    ck_assert_exit(&o, 0);
}
END_TEST

Suite *mount_suite(void)
{
    Suite *s = suite_create("mount");
    TCase *t = tcase_create("mount");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, host_files_do_not_exist);
    tcase_add_test(t, tmp_is_private);
    suite_add_tcase(s, t);
    return s;
}
