/* Never run user code as root: RLIMIT_NPROC is ignored for root, and root
 * keeps capabilities that other layers assume away. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox_priv.h"

int sandbox_drop_root(struct sandbox_desc *d, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        sandbox_desc_add(d, "uid %u", (unsigned)getuid());
        return 0;
    }
    if (setgroups(0, NULL) < 0) {
        int e = errno;
        snprintf(err, errlen, "drop root: setgroups: %s", strerror(e));
        return -e;
    }
    if (setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID) < 0) {
        int e = errno;
        snprintf(err, errlen, "drop root: setresgid(%d): %s", SANDBOX_GID, strerror(e));
        return -e;
    }
    if (setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) < 0) {
        int e = errno;
        snprintf(err, errlen, "drop root: setresuid(%d): %s", SANDBOX_UID, strerror(e));
        return -e;
    }
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
        ru != SANDBOX_UID || eu != SANDBOX_UID || su != SANDBOX_UID ||
        rg != SANDBOX_GID || eg != SANDBOX_GID || sg != SANDBOX_GID ||
        getgroups(0, NULL) != 0) {
        snprintf(err, errlen, "drop root: the ids did not change as asked");
        return -EPERM;
    }
    /* The way back must be closed too. */
    if (setuid(0) == 0 || setgid(0) == 0) {
        snprintf(err, errlen, "drop root: could become root again");
        return -EPERM;
    }
    sandbox_desc_add(d, "uid %d", SANDBOX_UID);
    return 0;
}
