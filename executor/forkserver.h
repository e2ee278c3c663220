/* The fork server (aiobox-executor --forkserver): CPython initialised and
 * the runtime's modules imported once, then an executor forked from here
 * for each request of the supervisor (common/forkproto.h). The server
 * never runs user code; a forked child finishes the start sequence of an
 * ordinary executor (runtime, sandbox, ready) with its own descriptors and
 * its own policy. */
#ifndef AIOBOX_EXEC_FORKSERVER_H
#define AIOBOX_EXEC_FORKSERVER_H

#include <stddef.h>

/* Serves requests on the control socket ctl until the supervisor closes
 * it (then the process exits). Returns only in a forked child, with its
 * channel on fd 3, fds 1 and 2 the supervisor's pipes, every other
 * descriptor closed, and *policy the index of the policy it asked for
 * (below npolicies, or 0 when there is none). */
void forkserver_serve(int ctl, size_t npolicies, unsigned *policy);

#endif
