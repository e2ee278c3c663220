#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* dir + "/" + name into out; -1 if it does not fit. */
static int join(char *out, size_t n, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b + 1 > n)
        return -1;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

int paths_init(struct paths *p, char *err, size_t errlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        snprintf(err, errlen, "cannot find my own path: %s", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if (join(p->executor, sizeof p->executor, self, "aiobox-executor") == 0 &&
        access(p->executor, X_OK) == 0 &&
        join(p->policy_dir, sizeof p->policy_dir, self, "policies") == 0)
        return 0;
    if (join(p->executor, sizeof p->executor, AIOBOX_LIBEXECDIR, "aiobox-executor") ||
        join(p->policy_dir, sizeof p->policy_dir, AIOBOX_POLICYDIR, "") ||
        access(p->executor, X_OK) != 0) {
        snprintf(err, errlen, "cannot find aiobox-executor (looked in %s and %s)", self,
                 AIOBOX_LIBEXECDIR);
        return -1;
    }
    return 0;
}

int paths_policy(const struct paths *p, const char *name_or_file, char *out, size_t outlen,
                 char *err, size_t errlen)
{
    char joined[PATH_MAX];
    const char *path = name_or_file;
    if (!strchr(name_or_file, '/')) {
        if (!*name_or_file || strlen(name_or_file) > 64) {
            snprintf(err, errlen, "'%s' is not a policy name", name_or_file);
            return -1;
        }
        if (join(joined, sizeof joined, p->policy_dir, name_or_file)) {
            snprintf(err, errlen, "policy directory path too long");
            return -1;
        }
        path = joined;
    }
    char resolved[PATH_MAX];
    if (!realpath(path, resolved)) {
        if (path == joined)
            snprintf(err, errlen, "no policy named '%s' (in %s); shipped: strict, net, trusted",
                     name_or_file, p->policy_dir);
        else
            snprintf(err, errlen, "policy file %s: %s", path, strerror(errno));
        return -1;
    }
    if (strlen(resolved) >= outlen) {
        snprintf(err, errlen, "policy path too long");
        return -1;
    }
    strcpy(out, resolved);
    return 0;
}
