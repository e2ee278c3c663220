/* The executor's end of the channel, and `_aiobox`, the built-in module
 * through which the Python runtime reads and writes it. There is one
 * channel per process, so the state is module-wide. Writes are blocking
 * writes of whole frames made while holding the GIL, so frames from
 * several Python threads never interleave. */
#ifndef AIOBOX_EXEC_CHANNEL_H
#define AIOBOX_EXEC_CHANNEL_H

#include <Python.h>
#include <stddef.h>

/* Exit statuses shared by the executor's modules. */
#define EXEC_EXIT_CLOSED 0   /* the supervisor closed the channel */
#define EXEC_EXIT_START 1    /* could not start (Python, sandbox) */
#define EXEC_EXIT_USAGE 2    /* bad command line */
#define EXEC_EXIT_PROTOCOL 3 /* the peer broke the protocol */
#define EXEC_EXIT_RUNTIME 4  /* the runtime or its event loop broke */

/* Takes fd, which must be a connected stream socket. Returns 0, or a
 * negative errno with the reason in err. */
int chan_init(int fd, char *err, size_t errlen);

/* Sends `ready`; the python field is the first word of Py_GetVersion().
 * Exits if the channel is gone. */
void chan_send_ready(const char *sandbox);

/* Sends `error {message}` if it can, says why on fd 2, and ends the
 * process at once (no finalisation: user code must not run any more). */
__attribute__((noreturn, format(printf, 2, 3)))
void chan_fail(int status, const char *fmt, ...);

/* Module initialiser for PyImport_AppendInittab("_aiobox", ...). */
PyObject *chan_py_init(void);

#endif
