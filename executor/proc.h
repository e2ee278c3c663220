/* Process hygiene for the start sequence. Errors are negative errno values. */
#ifndef AIOBOX_EXEC_PROC_H
#define AIOBOX_EXEC_PROC_H

#include <sys/types.h>

/* Closes every descriptor but 0, 1, 2 and keep. */
void exec_proc_close_fds(int keep);
/* Dies with the parent (SIGKILL). Returns 0, -ESRCH if the parent that
 * started us is already gone, or prctl's error. Call again after changing
 * credentials, which clears it. */
int exec_proc_bind_parent(pid_t parent);
/* Unblocks every signal: the mask survives exec, and a blocked SIGINT
 * would make the executor uninterruptible. Returns 0 or a negative errno. */
int exec_proc_unblock_signals(void);

#endif
