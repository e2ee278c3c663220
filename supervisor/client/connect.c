/* Finding the per-user session server, and starting it when none runs.
 *
 * The server lives in a directory of ours (mode 0700): its socket, its
 * log, and a lock it holds for its whole life (listen.c), so that a
 * socket nobody answers on can be told from one whose server is still
 * starting. A server is started as a daemon of its own (a new session,
 * its stdio away from the terminal), and says on a pipe when it listens;
 * nothing here waits by sleeping. */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a server may take to start listening. */
#define START_TIMEOUT_MS 30000

static int fit(char *out, size_t n, const char *dir, const char *name)
{
    int len = snprintf(out, n, "%s%s%s", dir, name ? "/" : "", name ? name : "");
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

int client_where(struct client_where *w, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    char dir[PATH_MAX];
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/aiobox", xdg);
    else
        n = snprintf(dir, sizeof dir, "/tmp/aiobox-%u", (unsigned)geteuid());
    struct sockaddr_un a;
    if (n < 0 || (size_t)n >= sizeof dir || fit(w->dir, sizeof w->dir, dir, NULL) ||
        fit(w->socket, sizeof w->socket, dir, "server") || strlen(w->socket) >= sizeof a.sun_path ||
        fit(w->log, sizeof w->log, dir, "server.log") ||
        fit(w->lock, sizeof w->lock, dir, "server.lock")) {
        snprintf(err, errlen, "the session directory %s makes a socket path over %zu bytes",
                 dir, sizeof a.sun_path - 1);
        return -1;
    }
    return 0;
}

/* The directory must be ours and private: a socket in a directory others
 * can write to may be anyone's. create: make it if missing. */
static int check_dir(const struct client_where *w, bool create, char *err, size_t errlen)
{
    struct stat st;
    if (create && mkdir(w->dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", w->dir, strerror(errno));
        return -errno;
    }
    if (lstat(w->dir, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", w->dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen,
                 "%s is not a private directory of ours (mode 0700); refusing to use it",
                 w->dir);
        return -EPERM;
    }
    return 0;
}

/* A server holds the lock while it lives: a socket with the lock free is
 * left over from one that died, and goes. */
static bool remove_if_stale(const struct client_where *w)
{
    int fd = open(w->lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT && unlink(w->socket) == 0;
    bool stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (stale)
        unlink(w->socket);
    close(fd);
    return stale;
}

int client_connect(const struct client_where *w, int *out, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(w->dir, &st) < 0 && errno == ENOENT)
        return -ENOENT;
    int rc = check_dir(w, false, err, errlen);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t plen = strlen(w->socket);
    if (plen >= sizeof a.sun_path) {
        close(fd);
        snprintf(err, errlen, "the socket path %s is too long", w->socket);
        return -ENAMETOOLONG;
    }
    memcpy(a.sun_path, w->socket, plen + 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || (e == ECONNREFUSED && remove_if_stale(w)))
            return -ENOENT;
        snprintf(err, errlen, "cannot reach the session server at %s: %s", w->socket,
                 strerror(e));
        return -e;
    }
    /* The server must be ours too. */
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
        close(fd);
        snprintf(err, errlen, "the session server at %s is not ours (uid %d); refusing it",
                 w->socket, (int)cred.uid);
        return -EPERM;
    }
    *out = fd;
    return 0;
}

/* The last line of the server's log, for a start that failed. */
static void last_log_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (line[0] && line[0] != '\n')
            snprintf(out, n, "%s", line);
    fclose(f);
    size_t len = strlen(out);
    if (len && out[len - 1] == '\n')
        out[len - 1] = '\0';
}

/* In the grandchild: becomes the server. Never returns. */
static _Noreturn void exec_server(const struct client_where *w, const struct client_start *how,
                                  int ready)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int log = open(w->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    /* fd 3: the ready pipe; everything else above it goes. */
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
        dup2(log >= 0 ? log : null, 2) < 0 || dup2(ready, 3) < 0)
        _exit(127);
    close_range(4, ~0U, 0);
    if (chdir("/") < 0)
        _exit(127);
    const char *argv[64];
    size_t n = 0;
    static const char *const fixed[] = {"aiobox", "serve", "--on-demand", "--ready-fd", "3",
                                        "--policy", "strict", "--policy", "net",
                                        "--policy", "trusted"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        argv[n++] = fixed[i];
    argv[n++] = "--listen";
    argv[n++] = w->socket;
    argv[n++] = "--log";
    argv[n++] = w->log;
    for (size_t i = 0; i < how->nargs && n < sizeof argv / sizeof *argv - 1; i++)
        argv[n++] = how->args[i];
    argv[n] = NULL;
    execv("/proc/self/exe", (char *const *)argv);
    _exit(127);
}

/* Starts a server and waits until it listens (or has given up). */
static int start_server(const struct client_where *w, const struct client_start *how,
                        char *err, size_t errlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        snprintf(err, errlen, "pipe: %s", strerror(e));
        return -e;
    }
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        snprintf(err, errlen, "cannot start the session server: fork: %s", strerror(e));
        return -e;
    }
    if (child == 0) {
        /* A daemon: a session of its own, and not our child once the
         * middle process is gone, so nothing of ours waits for it. */
        if (setsid() < 0)
            _exit(127);
        pid_t grandchild = fork();
        if (grandchild == 0)
            exec_server(w, how, p[1]);
        _exit(grandchild < 0 ? 127 : 0);
    }
    close(p[1]);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    /* "ready\n", or end of file if it gave up (another server may have
     * come first: the connect below finds it). */
    char buf[16];
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    int rc = poll(&pfd, 1, START_TIMEOUT_MS);
    ssize_t n = rc > 0 ? read(p[0], buf, sizeof buf) : -1;
    close(p[0]);
    if (rc == 0) {
        snprintf(err, errlen, "the session server did not start within %d s (its log: %s)",
                 START_TIMEOUT_MS / 1000, w->log);
        return -ETIMEDOUT;
    }
    (void)n;
    return 0;
}

int client_connect_or_start(const struct client_where *w, const struct client_start *how,
                            int *fd, char *err, size_t errlen)
{
    int rc = client_connect(w, fd, err, errlen);
    /* Twice: a server that was ending as we started ours kept the lock
     * for a moment, and ours gave up. */
    for (int tries = 0; rc == -ENOENT && tries < 2; tries++) {
        if ((rc = check_dir(w, true, err, errlen)) < 0 ||
            (rc = start_server(w, how, err, errlen)) < 0)
            return rc;
        rc = client_connect(w, fd, err, errlen);
    }
    if (rc == -ENOENT) {
        char last[512];
        last_log_line(w->log, last, sizeof last);
        snprintf(err, errlen, "the session server did not start%s%s (its log: %s)",
                 last[0] ? ": " : "", last, w->log);
    }
    return rc;
}
