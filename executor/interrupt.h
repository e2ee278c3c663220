/* SIGINT for the executor: the supervisor tags each interrupt with the id of
 * the statement it means (sigqueue, sival_int = id & 0x7fffffff). The C
 * handler keeps only interrupts aimed at the running statement and hands
 * them to Python's signal machinery, whose Python-level handler (in the
 * runtime) decides between KeyboardInterrupt and cancelling the task. */
#ifndef AIOBOX_EXEC_INTERRUPT_H
#define AIOBOX_EXEC_INTERRUPT_H

#include <stdbool.h>

#define EXEC_INTERRUPT_NONE (-1)

/* Creates the wake pipe that lets a blocking wait notice a SIGINT delivered
 * to another thread. Returns 0 or a negative errno. */
int exec_interrupt_init(void);
/* Replaces the process-level SIGINT handler by ours; call after Python's
 * signal.signal(SIGINT, ...) so that Python keeps its Python-level handler.
 * Returns 0 or a negative errno. */
int exec_interrupt_install(void);
/* The 31-bit tag of the running statement, or EXEC_INTERRUPT_NONE.
 * Forgets any interrupt not yet taken. */
void exec_interrupt_set_target(int tag);
/* True once for each interrupt that reached the target since the last call. */
bool exec_interrupt_take(void);
/* The wake pipe: readable after a matching interrupt (and after any signal
 * Python handles, once the write end is given to signal.set_wakeup_fd);
 * exec_interrupt_drain empties it. */
int exec_interrupt_wake_fd(void);
int exec_interrupt_wake_write_fd(void);
void exec_interrupt_drain(void);

#endif
