/* The embedded interpreter: its configuration, and the Python runtime
 * (runtime.py, compiled into the binary) that serves statements. */
#ifndef AIOBOX_EXEC_HOST_H
#define AIOBOX_EXEC_HOST_H

#include <stdbool.h>
#include <stddef.h>

struct host_config {
    size_t output_cap;         /* bytes of output per statement */
    const char *policy_name;   /* NULL without a sandbox */
    bool permission_hint;      /* name the policy after a PermissionError */
};

/* Initialises CPython from an explicit, isolated configuration. Returns 0,
 * or a negative errno with the reason in err: -ENOMEM when memory ran
 * out, -EINVAL for anything else CPython refused. */
int host_init(char *err, size_t errlen);
/* Imports the runtime and what it needs, and nothing else: what a fork
 * server does once for all its executors. Returns 0, or a negative errno
 * as host_init (a Python exception: MemoryError is -ENOMEM) with err set. */
int host_preload(char *err, size_t errlen);
/* Loads the runtime (unless host_preload did) and starts it: namespace,
 * output streams, event loop, signal handling. Starts no thread. Returns
 * as host_preload. */
int host_prepare(const struct host_config *cfg, char *err, size_t errlen);
/* Python's own work around a fork (PyOS_BeforeFork, PyOS_AfterFork_Child),
 * for the fork into a pid namespace (sandbox_set_fork_hooks). */
void host_before_fork(void);
void host_after_fork_child(void);
/* Runs the session. It ends from inside (channel closed, protocol error),
 * or, once the session is over (shutdown, or SystemExit where it ends the
 * session), by returning the exit status after finalising Python. */
int host_serve(void);

#endif
