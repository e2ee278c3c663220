/* The Jupyter front end: `aiobox kernel -f CONNECTION_FILE` speaks the
 * Jupyter messaging protocol (5.3) on the five sockets a connection file
 * names, and runs the cells it is sent in one session of the engine, so
 * the executor's death costs the client a cell, never the kernel. `aiobox
 * kernel install` writes the kernelspec that starts it (docs/kernel.md). */
#ifndef AIOBOX_KERNEL_H
#define AIOBOX_KERNEL_H

#include <stdbool.h>
#include <uv.h>

#include "opts.h"
#include "session.h"

struct kernel_config {
    const char *connection_file;
    /* The executor, policy, grants, limits; the kernel sets rich, quiet
     * and keeps standby as given. */
    struct session_config session;
    const char *policy_name;
};

/* Runs the kernel until a shutdown_request, SIGTERM or SIGHUP. Returns the
 * exit status: 0, 1 when it cannot start (said on stderr), 128+N for
 * signal N. */
int kernel_run(uv_loop_t *loop, const struct kernel_config *cfg);

/* aiobox kernel install: writes kernel.json for the command line o holds
 * (its options, with paths made absolute) where --user, --prefix or the
 * system-wide default put it. policy_path: the policy, resolved (written
 * when o names a file rather than a shipped policy). Returns the exit
 * status, having said what it did or why it could not. */
int kernel_install(const struct opts *o, const char *policy_path);

#endif
