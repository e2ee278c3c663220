/* The listening socket: created mode 0600 inside a directory of mode 0700
 * that belongs to us, and only peers of our own uid (or those given with
 * --allow-uid) are served; every peer is checked with SO_PEERCRED. A
 * socket file left by a server that died is replaced; one a live server
 * answers on is not. Each server holds a lock (PATH.lock) for its whole
 * life: two servers started at once for one path cannot both take it, and
 * clients tell a dead server's socket from a starting one's by it. */
#define _GNU_SOURCE
#include "server_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool listen_allowed(const struct server *srv, uid_t uid)
{
    if (uid == geteuid())
        return true;
    for (size_t i = 0; i < srv->cfg->n_allow_uids; i++)
        if (srv->cfg->allow_uids[i] == uid)
            return true;
    return false;
}

/* The directory the socket goes in: ours, 0700, created if missing. */
static int check_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "aiobox: cannot create %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    if (lstat(dir, &st) < 0) {
        fprintf(stderr, "aiobox: %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        fprintf(stderr, "aiobox: %s is not a directory of ours; refusing to listen there\n",
                dir);
        return -EPERM;
    }
    if ((st.st_mode & 077) && chmod(dir, 0700) < 0) {
        fprintf(stderr, "aiobox: cannot make %s private (mode 0700): %s\n", dir,
                strerror(errno));
        return -errno;
    }
    return 0;
}

/* Whether a server answers on path now. */
static bool someone_listens(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    bool live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return live;
}

int listen_open(struct server *srv, const char *path)
{
    struct sockaddr_un a;
    if (!path)
        return -EINVAL;
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "aiobox: socket path %s is longer than %zu bytes\n", path,
                sizeof a.sun_path - 1);
        return -ENAMETOOLONG;
    }
    /* shown: path for messages. GCC 12 with -fsanitize=undefined, which
     * checks the nonnull arguments of the calls below and carries on,
     * believes path may be NULL by the chmod (-Wformat-overflow); a copy
     * in a buffer of our own is plainly not. */
    char copy[PATH_MAX], shown[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(shown, sizeof shown, "%s", path);
    int rc = check_dir(dirname(copy));
    if (rc < 0)
        return rc;
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", path);
    srv->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (srv->lock_fd < 0) {
        int e = errno;
        fprintf(stderr, "aiobox: cannot open %s: %s\n", lock, strerror(e));
        return -e;
    }
    if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "aiobox: a server already listens on %s\n", path);
        return -EADDRINUSE;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "aiobox: %s exists and is not a socket\n", path);
            return -EEXIST;
        }
        if (someone_listens(path)) {
            fprintf(stderr, "aiobox: a server already listens on %s\n", path);
            return -EADDRINUSE;
        }
        unlink(path);  /* left by a server that is gone */
    }
    if ((rc = uv_pipe_init(srv->loop, &srv->listener, 0)) < 0) {
        fprintf(stderr, "aiobox: %s\n", uv_strerror(rc));
        return rc;
    }
    srv->listening = true;
    /* The socket is born 0600: the directory already keeps others out,
     * and the umask closes the window before the chmod. */
    mode_t old = umask(0177);
    rc = uv_pipe_bind(&srv->listener, path);
    umask(old);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot listen on %s: %s\n", path, uv_strerror(rc));
        return rc;
    }
    if (chmod(path, 0600) < 0) {
        int err = errno;
        fprintf(stderr, "aiobox: cannot set mode 0600 on %s: %s\n", shown, strerror(err));
        unlink(path);
        return -err;
    }
    srv->listen_path = strdup(path);
    if (!srv->listen_path) {
        unlink(path);
        return -ENOMEM;
    }
    return 0;
}
