/* The heartbeat: clients send bytes and expect them back; a client that
 * hears nothing for a few seconds (jupyter_client's time_to_dead, 3 s)
 * calls the kernel dead. Here it is a ROUTER socket echoing into itself
 * (zmq_proxy with the socket at both ends, as ipykernel's heartbeat
 * device does), in a thread and a zmq context of its own: no executor
 * death, flood of output or busy turn of the loop delays a beat. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct heartbeat {
    void *zctx;
    void *sock;
    pthread_t thread;
    bool running;
};

static void *beat(void *arg)
{
    struct heartbeat *hb = arg;
    /* Returns when the context is shut down (ETERM); until then every
     * message comes straight back to its sender. */
    zmq_proxy(hb->sock, hb->sock, NULL);
    zmq_close(hb->sock);
    return NULL;
}

int heartbeat_start(struct heartbeat **out, const char *endpoint, int *fd, char *err,
                    size_t errlen)
{
    *out = NULL;
    struct heartbeat *hb = calloc(1, sizeof *hb);
    if (!hb || !(hb->zctx = zmq_ctx_new())) {
        free(hb);
        snprintf(err, errlen, "cannot make the heartbeat's zmq context");
        return -ENOMEM;
    }
    int linger = 0;
    hb->sock = zmq_socket(hb->zctx, ZMQ_ROUTER);
    bool ok = hb->sock && zmq_setsockopt(hb->sock, ZMQ_LINGER, &linger, sizeof linger) == 0;
    /* *fd: a listening socket bound already (kchannels_prebind), which
     * zmq takes over and closes with the socket. */
    if (ok && *fd >= 0 && (ok = zmq_setsockopt(hb->sock, ZMQ_USE_FD, fd, sizeof *fd) == 0))
        *fd = -1;
    if (!ok || zmq_bind(hb->sock, endpoint) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot bind the heartbeat to %s: %s", endpoint, zmq_strerror(e));
        if (hb->sock)
            zmq_close(hb->sock);
        zmq_ctx_term(hb->zctx);
        free(hb);
        return -e;
    }
    /* Signals are the loop's (SIGINT, SIGTERM, SIGCHLD): the thread
     * blocks them all, and libzmq's own threads do the same. The socket
     * was made here and is used only by the thread from now on. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&hb->thread, NULL, beat, hb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the heartbeat thread: %s", strerror(rc));
        zmq_close(hb->sock);
        zmq_ctx_term(hb->zctx);
        free(hb);
        return -rc;
    }
    hb->running = true;
    *out = hb;
    return 0;
}

void heartbeat_stop(struct heartbeat *hb)
{
    if (!hb)
        return;
    if (hb->running) {
        /* The proxy returns ETERM; the thread closes its socket. */
        zmq_ctx_shutdown(hb->zctx);
        pthread_join(hb->thread, NULL);
    }
    zmq_ctx_term(hb->zctx);
    free(hb);
}
