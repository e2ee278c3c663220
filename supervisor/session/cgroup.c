/* The cgroup v2 probe (cgroup.h): the filesystem at /sys/fs/cgroup, the
 * supervisor's own cgroup from /proc/self/cgroup, and what that directory
 * lets it do. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

#define ROOT "/sys/fs/cgroup"

static bool probed, available;
static char words[PATH_MAX + 256];

/* The first line of path, without its newline; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n;
    do
        n = read(fd, buf, len - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

static bool has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += wl)
        if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
            return true;
    return false;
}

/* The supervisor's cgroup v2 path ("0::/path" in /proc/self/cgroup). */
static bool own_cgroup(char *out, size_t len)
{
    char buf[4096];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "0::", 3) == 0) {
            snprintf(out, len, "%s", line + 3);
            return true;
        }
    }
    return false;
}

static void probe(void)
{
    probed = true;
    struct statfs sf;
    if (statfs(ROOT, &sf) != 0) {
        snprintf(words, sizeof words, "cgroup v2: not available (%s: %s)", ROOT, strerror(errno));
        return;
    }
    const char *where = ROOT;
    bool hybrid = false;
    if (sf.f_type != CGROUP2_SUPER_MAGIC) {
        struct statfs uf;
        hybrid = statfs(ROOT "/unified", &uf) == 0 && uf.f_type == CGROUP2_SUPER_MAGIC;
        if (!hybrid) {
            snprintf(words, sizeof words, "cgroup v2: not available (%s is %s)", ROOT,
                     sf.f_type == TMPFS_MAGIC ? "cgroup v1" : "not a cgroup filesystem");
            return;
        }
        /* Hybrid: a v2 hierarchy beside v1, which holds the controllers. */
        where = ROOT "/unified";
    }
    char rel[PATH_MAX], dir[PATH_MAX + 64], file[PATH_MAX + 128], controllers[512];
    if (!own_cgroup(rel, sizeof rel)) {
        snprintf(words, sizeof words, "cgroup v2: not available (no cgroup v2 line in /proc/self/cgroup)");
        return;
    }
    snprintf(dir, sizeof dir, "%s%s", where, strcmp(rel, "/") == 0 ? "" : rel);
    snprintf(file, sizeof file, "%s/cgroup.controllers", dir);
    read_line(file, controllers, sizeof controllers);
    static const char *const need[] = {"cpu", "memory", "pids"};
    char missing[64] = "";
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!has_word(controllers, need[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", need[i]);
    if (missing[0]) {
        snprintf(words, sizeof words,
                 "cgroup v2: not available (%s%s; %s has no %s controller%s)", ROOT,
                 hybrid ? " is cgroup v1" : " is cgroup v2", dir, missing,
                 strchr(missing, ',') ? "s" : "");
        return;
    }
    snprintf(file, sizeof file, "%s/cgroup.subtree_control", dir);
    if (access(dir, W_OK) != 0 || access(file, W_OK) != 0) {
        snprintf(words, sizeof words, "cgroup v2: not available (%s is not delegated to this user)",
                 dir);
        return;
    }
    available = true;
    snprintf(words, sizeof words,
             "cgroup v2: delegated at %s, but aiobox does not place executors in cgroups yet: "
             "cgroup limits are not applied", dir);
}

bool cgroup_available(void)
{
    if (!probed)
        probe();
    return available;
}

const char *cgroup_status(void)
{
    if (!probed)
        probe();
    return words;
}

int cgroup_check_policy(const struct policy *p, char *err, size_t errlen)
{
    if (!policy_cgroup_required(p))
        return 0;
    char names[64] = "";
    const char *first = NULL;
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++) {
        const struct policy_cgroup_limit *l = policy_cgroup(p, (enum policy_cgroup_ctl)i);
        if (l->set && !l->optional && !first)
            first = policy_cgroup_name((enum policy_cgroup_ctl)i);
        if (l->set && !l->optional)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     names[0] ? ", " : "", policy_cgroup_name((enum policy_cgroup_ctl)i));
    }
    snprintf(err, errlen,
             "policy %s requires cgroup limits (%s), which cannot be applied here: %s "
             "(write 'cgroup %s? ...' to go without)",
             policy_name(p), names, cgroup_status(), first);
    return -ENOTSUP;
}
