/* The client side of named sessions: finding the per-user server (and
 * starting it on demand), one request at a time for aiobox ls and kill,
 * and the engine a front end drives to use a session the server hosts
 * (remote.c), over the JSON-lines protocol of docs/json.md. */
#ifndef AIOBOX_CLIENT_H
#define AIOBOX_CLIENT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#include "engine.h"

/* Where the per-user server lives: $XDG_RUNTIME_DIR/aiobox/, else
 * /tmp/aiobox-UID/ (mode 0700): its socket, log and start-up lock. */
struct client_where {
    char dir[PATH_MAX];
    char socket[PATH_MAX];
    char log[PATH_MAX];
    char lock[PATH_MAX];
};

/* 0, or -1 with err said. */
int client_where(struct client_where *w, char *err, size_t errlen);

/* Connects to the server. 0 and *fd; -ENOENT when none runs (a socket
 * left by a dead one is removed then); another negative errno with err
 * said. */
int client_connect(const struct client_where *w, int *fd, char *err, size_t errlen);

/* How to start the server when none runs: this program, with these
 * arguments after `serve --listen SOCKET --log LOG --on-demand`. */
struct client_start {
    const char *const *args;
    size_t nargs;
};

/* Connects, starting the server first when none runs (it then lives
 * while it holds a session). 0 and *fd, or a negative errno, err said. */
int client_connect_or_start(const struct client_where *w, const struct client_start *how,
                            int *fd, char *err, size_t errlen);

/* Sends req (taken) and waits up to timeout_ms for the line that answers
 * it (same id); other lines are skipped. 0 and *answer (the caller's), or
 * a negative errno, err said. Blocking: before the loop runs. */
int client_request(int fd, json_t *req, json_t **answer, int timeout_ms, char *err,
                   size_t errlen);

/* aiobox ls and aiobox kill NAME: the exit status, after saying what
 * there is to say (the table on out, errors on stderr). */
int client_ls(FILE *out);
int client_kill(const char *name);

/* How an attachment ended, filled in by the engine as it closes. */
struct client_outcome {
    bool detached;             /* the session goes on without us */
};

/* Attaching to session name over fd (taken, also on failure): the
 * request is `attach` with create and options (a JSON object, taken; NULL
 * for none), answered before this returns. On success *out is an engine
 * (detachable) and *attached the server's answer (the caller's: session
 * info, options, what differs); outcome (the caller's, outliving the
 * engine) says at the end how it ended. 0, or a negative errno with err
 * said (-ENOENT: no such session). */
int client_attach(struct engine **out, json_t **attached, uv_loop_t *loop, int fd,
                  const char *name, bool create, json_t *options,
                  struct client_outcome *outcome, char *err, size_t errlen);

/* Piped input: the session's kept output is not shown on attaching. */
void client_skip_replay(struct engine *e);

#endif
