/* Never run user code as root: RLIMIT_NPROC is ignored for root, and root
 * keeps capabilities that other layers assume away. Each executor gets a
 * uid of its own (SANDBOX_ID_FOR its pid): sharing one would let any
 * session signal every other's executor where nothing else stops it
 * (trusted). The group stays shared (see SANDBOX_GID). */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
    const unsigned id = SANDBOX_ID_FOR(getpid()), gid = SANDBOX_GID;
    if (setresgid(gid, gid, gid) < 0) {
        int e = errno;
        snprintf(err, errlen, "drop root: setresgid(%u): %s", gid, strerror(e));
        return -e;
    }
    if (setresuid(id, id, id) < 0) {
        int e = errno;
        snprintf(err, errlen, "drop root: setresuid(%u): %s", id, strerror(e));
        return -e;
    }
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
        ru != id || eu != id || su != id || rg != gid || eg != gid || sg != gid ||
        getgroups(0, NULL) != 0) {
        snprintf(err, errlen, "drop root: the ids did not change as asked");
        return -EPERM;
    }
    /* The way back must be closed too. */
    if (setuid(0) == 0 || setgid(0) == 0) {
        snprintf(err, errlen, "drop root: could become root again");
        return -EPERM;
    }
    (void)umask(SANDBOX_UMASK);     /* cannot fail */
    sandbox_desc_add(d, "uid %u", id);
    return 0;
}
