/* The fork server's control channel (aiobox-executor --forkserver): an
 * AF_UNIX SOCK_SEQPACKET socketpair between the supervisor and the fork
 * server, one fixed-size record a message. Both ends are aiobox's own
 * code (the fork server never runs user code), yet each record is checked
 * (magic, kind, size) and anything else ends the conversation.
 *
 *   server -> supervisor  READY once, when Python is initialised
 *   supervisor -> server  FORK {tag, policy}, with three descriptors
 *                         (SCM_RIGHTS): what become the new executor's
 *                         fd 1, fd 2 and fd 3 (its channel)
 *   server -> supervisor  FORKED {tag, pid} or FAILED {tag, error}
 *   server -> supervisor  EXITED {pid, status} when an executor it forked
 *                         ends (the raw waitpid status)
 */
#ifndef AIOBOX_FORKPROTO_H
#define AIOBOX_FORKPROTO_H

#include <stdint.h>

#define FORKPROTO_MAGIC 0x61696f66u  /* "aiof" */
#define FORKPROTO_FDS 3

enum forkproto_kind {
    FORKPROTO_READY = 1,
    FORKPROTO_FORK,
    FORKPROTO_FORKED,
    FORKPROTO_FAILED,
    FORKPROTO_EXITED,
};

struct forkproto_msg {
    uint32_t magic;
    uint32_t kind;
    uint64_t tag;       /* FORK, FORKED, FAILED: the request it is about */
    uint32_t policy;    /* FORK: which of the server's --policy options */
    int32_t pid;        /* READY: the server's; FORKED, EXITED: the executor's */
    int32_t value;      /* FAILED: a negative errno; EXITED: the wait status */
    uint32_t reserved;
};

#endif
