/* The kernel's life: read the connection file, start the heartbeat, bind
 * the sockets, start the session (the first executor's start-up is what
 * the first cell waits for, so it begins at once), then serve until a
 * shutdown_request or a signal ends it.
 *
 * SIGINT interrupts the running cell, as Jupyter's default interrupt mode
 * (a signal to the kernel process) expects; interrupt_request on control
 * does the same for interrupt_mode "message". SIGTERM and SIGHUP end the
 * kernel cleanly, and so does the end of the process that started it
 * when jupyter_client said which one that is (JPY_PARENT_PID, which
 * ipykernel watches the same way): a manager that died leaves no kernel
 * and no executors behind. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "policy.h"

void kernel_log(struct kernel *k, const char *fmt, ...)
{
    (void)k;
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "aiobox kernel: %s\n", line);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct kernel *k = h->data;
    k->handles_open--;
}

static void on_session_closed(void *arg)
{
    struct kernel *k = arg;
    k->s = NULL;
    requests_free_all(k);
    iopub_close(k);
    kchannels_close(k->ch);
    k->ch = NULL;
    execute_forget_origins(k);
}

static void close_handle(uv_handle_t *h)
{
    /* A handle start() never reached was never initialised. */
    if (h->loop && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

void kernel_stop(struct kernel *k, int exit_code)
{
    if (k->stopping)
        return;
    k->stopping = true;
    k->exit_code = exit_code;
    close_handle((uv_handle_t *)&k->sigint);
    close_handle((uv_handle_t *)&k->sigterm);
    close_handle((uv_handle_t *)&k->sighup);
    close_handle((uv_handle_t *)&k->flush_timer);
    close_handle((uv_handle_t *)&k->parent_timer);
    close_handle((uv_handle_t *)&k->restart_timer);
    /* Idle goes out before the sockets close: a client that asked for
     * the shutdown hears its reply, then nothing. */
    iopub_flush(k);
    if (k->s)
        session_close(k->s, on_session_closed, k);
    else
        on_session_closed(k);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct kernel *k = h->data;
    if (signum == SIGINT) {
        kernel_log(k, "SIGINT: interrupting the running cell");
        k->interrupted_ms = uv_now(k->loop);
        if (k->s)
            session_interrupt(k->s);
        return;
    }
    kernel_log(k, "%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGHUP");
    kernel_stop(k, 128 + signum);
}

static int watch_signal(struct kernel *k, uv_signal_t *h, int signum)
{
    int rc = uv_signal_init(k->loop, h);
    if (rc < 0)
        return rc;
    k->handles_open++;
    h->data = k;
    return uv_signal_start(h, on_signal, signum);
}

static void on_parent_check(uv_timer_t *t)
{
    struct kernel *k = t->data;
    if (getppid() == k->parent)
        return;
    kernel_log(k, "the process that started this kernel (pid %ld) is gone: shutting down",
               (long)k->parent);
    kernel_stop(k, 0);
}

/* Watches JPY_PARENT_PID once a second, if it names our parent. */
static int watch_parent(struct kernel *k)
{
    const char *s = getenv("JPY_PARENT_PID");
    char *end;
    long pid = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || pid <= 1 || (pid_t)pid != getppid())
        return 0;
    k->parent = (pid_t)pid;
    int rc = uv_timer_init(k->loop, &k->parent_timer);
    if (rc < 0)
        return rc;
    k->handles_open++;
    k->parent_timer.data = k;
    rc = uv_timer_start(&k->parent_timer, on_parent_check, 1000, 1000);
    if (rc == 0)
        uv_unref((uv_handle_t *)&k->parent_timer);
    return rc;
}

static int start(struct kernel *k, char *err, size_t errlen)
{
    /* The first executor's start-up (some 80 ms) is what the first cell
     * waits for: it begins as soon as the connection file is known to be
     * good, and runs beside the kernel's own start (loading libzmq and
     * libcrypto, binding). Its first events reach the kernel from the
     * loop, once every socket is bound. */
    int rc = connfile_load(k->cfg->connection_file, &k->cf, err, errlen);
    if (rc < 0 || (rc = kchannels_prebind(&k->cf, k->prebound, err, errlen)) < 0)
        return rc;
    k->scfg = k->cfg->session;
    k->scfg.rich = true;
    k->scfg.quiet = true;
    if ((rc = session_new(&k->s, k->loop, &k->scfg, &execute_frontend, k)) < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    session_start(k->s);
    if ((rc = dynlibs_load(err, errlen)) < 0)
        return rc;
    if ((rc = signer_new(&k->wire.signer, k->cf.scheme, k->cf.key, k->cf.keylen, err, errlen)) <
        0)
        return rc;
    wire_uuid(k->wire.session);
    if (history_new(&k->history) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (!(k->zctx = zmq_ctx_new())) {
        snprintf(err, errlen, "cannot make a zmq context: %s", zmq_strerror(errno));
        return -errno;
    }
    /* Shell first: a client that connects before it is bound retries
     * only after zmq's reconnect interval (100 ms). */
    if ((rc = kchannels_open(&k->ch, k->loop, k->zctx, &k->cf, k->prebound, &k->wire,
                             requests_receive, k, err, errlen)) < 0)
        return rc;
    char endpoint[512];
    connfile_endpoint(&k->cf, KCHAN_HB, endpoint, sizeof endpoint);
    if ((rc = heartbeat_start(&k->hb, endpoint, &k->prebound[KCHAN_HB], err, errlen)) < 0)
        return rc;
    if ((rc = uv_timer_init(k->loop, &k->restart_timer)) == 0) {
        k->handles_open++;
        k->restart_timer.data = k;
    }
    if (rc < 0 || (rc = iopub_init(k)) < 0 || (rc = watch_signal(k, &k->sigint, SIGINT)) < 0 ||
        (rc = watch_signal(k, &k->sigterm, SIGTERM)) < 0 ||
        (rc = watch_signal(k, &k->sighup, SIGHUP)) < 0 || (rc = watch_parent(k)) < 0) {
        snprintf(err, errlen, "cannot set up the event loop: %s", uv_strerror(rc));
        return rc;
    }
    /* Only for the hint after a PermissionError: after the binding. */
    struct policy *pol;
    char perr[256];
    if (k->cfg->session.exec.policy_path &&
        policy_load(k->cfg->session.exec.policy_path, NULL, 0, &pol, perr, sizeof perr) == 0) {
        k->permission_hint = policy_is_restrictive(pol);
        policy_free(pol);
    }
    iopub_status(k, NULL, "starting");
    return 0;
}

int kernel_run(uv_loop_t *loop, const struct kernel_config *cfg)
{
    static struct kernel k;
    char err[768] = "";
    k.loop = loop;
    k.cfg = cfg;
    k.exit_code = 0;
    for (int c = 0; c < KCHAN_COUNT; c++)
        k.prebound[c] = -1;
    int rc = start(&k, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "aiobox kernel: %s\n", err);
        k.exit_code = 1;
        /* What was set up comes down the usual way. */
        kernel_stop(&k, 1);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    kchannels_unbind(k.prebound);   /* those zmq never took (a failed start) */
    heartbeat_stop(k.hb);
    if (k.zctx)
        zmq_ctx_term(k.zctx);   /* waits for replies still queued, up to the linger */
    signer_free(k.wire.signer);
    connfile_free(&k.cf);
    history_free(k.history);
    return k.exit_code;
}
