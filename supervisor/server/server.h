/* The machine interface: JSON lines (docs/json.md) on stdin/stdout
 * (aiobox --json) or on a Unix socket for any number of clients (aiobox
 * serve --listen PATH). Named sessions live here, and isolated runs, each
 * in a fresh executor discarded afterwards. The server never runs user
 * code: sessions and executors do. */
#ifndef AIOBOX_SERVER_H
#define AIOBOX_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "session.h"

/* A policy clients may choose (the first is the default). */
struct server_policy {
    const char *name;
    const char *path;
    double timeout_s;          /* the statement limit it sets (0: none) */
    size_t output_cap;
    struct policy_idle_cpu idle_cpu;
};

struct server_config {
    /* Executor, grants, grace, standby: shared by every session; the
     * policy's fields are filled in per session. */
    struct session_config session;
    const struct server_policy *policies;
    size_t npolicies;
    unsigned max_executors;    /* runs executing at once */
    const uid_t *allow_uids;   /* besides our own uid */
    size_t n_allow_uids;
    const char *log_path;      /* serve: where the log goes; NULL: stderr */
    /* Fork executors from a fork server (else each is spawned). */
    bool forkserver;
    /* Named sessions: end one idle this long (no terminal attached, no
     * statement; 0: never), and keep this much of its output for
     * terminals that attach (0: SERVER_REPLAY_BYTES). A session's own
     * options, given when it starts, win. */
    double idle_timeout_s;
    size_t replay_bytes;
    /* Started by aiobox -s: ends when it holds no session and serves no
     * client (after SERVER_LINGER_MS for the first one to come). */
    bool on_demand;
    /* >= 0: written "ready\n" and closed once the socket listens. */
    int ready_fd;
};

#define SERVER_REPLAY_BYTES ((size_t)64 << 10)
#define SERVER_LINGER_MS 10000

/* aiobox --json: one client, stdin and stdout. Returns when stdin ends and
 * every request has been answered (0), or on SIGTERM/SIGINT (128+N). */
int server_run_stdio(uv_loop_t *loop, const struct server_config *cfg);
/* aiobox serve --listen PATH: until SIGTERM or SIGINT. Returns the exit
 * status; 1 when the socket cannot be set up (said on stderr). */
int server_run_listen(uv_loop_t *loop, const struct server_config *cfg, const char *path);

#endif
