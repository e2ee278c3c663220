/* posix_spawn rather than uv_spawn: libuv forks, and waiting for a forked
 * copy of the supervisor to exec takes 2 to 3 ms of the loop on this kind
 * of VM, where copying page tables is slow; glibc's posix_spawn shares the
 * address space until the exec (CLONE_VFORK) and returns in about 0.5 ms.
 * Without uv_spawn, the caller reaps the child itself. */
#define _GNU_SOURCE
#include "spawn_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A close-on-exec copy of fd numbered at least 4; fd itself is closed. */
static int fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 3)
        return fd;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 4);
    int saved = errno;
    close(fd);
    errno = saved;
    return copy;
}

void spawn_close_fds(int fds[3])
{
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

int spawn_fds(int chan_type, int parent[3], int child[3])
{
    for (int i = 0; i < 3; i++)
        parent[i] = child[i] = -1;
    for (int i = 0; i < 3; i++) {
        int sv[2];
        if ((i < 2 ? pipe2(sv, O_CLOEXEC)
                   : socketpair(AF_UNIX, chan_type | SOCK_CLOEXEC, 0, sv)) < 0) {
            int rc = -errno;
            spawn_close_fds(parent);
            spawn_close_fds(child);
            return rc;
        }
        parent[i] = fd_above_stdio(sv[0]);
        child[i] = fd_above_stdio(sv[1]);
        if (parent[i] < 0 || child[i] < 0) {
            int rc = errno ? -errno : -EMFILE;
            spawn_close_fds(parent);
            spawn_close_fds(child);
            return rc;
        }
    }
    return 0;
}

char **spawn_executor_args(const struct execproc_config *cfg, const char *const *extra)
{
    size_t nextra = 0;
    while (extra && extra[nextra])
        nextra++;
    size_t n = 6 + nextra + 2 * (cfg->n_allow_read + cfg->n_allow_write) + 1, na = 0;
    char **args = calloc(n, sizeof *args);
    if (!args)
        return NULL;
    args[na++] = (char *)cfg->executor_path;
    args[na++] = "--fd";
    args[na++] = "3";
    for (size_t i = 0; i < nextra; i++)
        args[na++] = (char *)extra[i];
    if (cfg->policy_path) {
        args[na++] = "--policy";
        args[na++] = (char *)cfg->policy_path;
    } else if (!nextra)
        args[na++] = "--no-sandbox";
    for (size_t i = 0; i < cfg->n_allow_read; i++) {
        args[na++] = "--allow-read";
        args[na++] = (char *)cfg->allow_read[i];
    }
    for (size_t i = 0; i < cfg->n_allow_write; i++) {
        args[na++] = "--allow-write";
        args[na++] = (char *)cfg->allow_write[i];
    }
    args[na] = NULL;
    return args;
}

int spawn_child(const char *path, char *const *args, const int child[3], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *env[] = {NULL};
    int rc;

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        return -rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    /* Each of these only records what to do: none fails but for memory. */
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, child[0], 1)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, child[1], 2)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, child[2], 3)) == 0 &&
        /* Its own session and process group: the terminal's ^C does not
         * reach it (the supervisor forwards interrupts, tagged), and a
         * restart kills the whole group. */
        (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF)) == 0 &&
        (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
        /* SIGPIPE is ignored here, and an ignored signal stays ignored
         * across exec. */
        (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0)
        rc = posix_spawn(pid, path, &fa, &attr, args, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return -rc;
}
