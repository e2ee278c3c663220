/* Deaths and restarts: the restart budget, as Jupyter's (this many deaths,
 * each within the stability window of its executor's start, and
 * restarting stops until the user asks), the back-off between rapid
 * deaths, and the warm spare that makes a restart take milliseconds. */
#include "session_priv.h"

#include <stdio.h>

#define RAPID_DEATHS_MAX 5
#define STABLE_MS 10000
#define SPARE_FAILURES_MAX 3
/* A spare starting (some 40 ms of CPU) must not compete with statements
 * the user waits for: it starts once the session is idle, or this long
 * after it was wanted if the session stays busy (a long piped script). */
#define SPARE_BUSY_MS 1000

void restart_now(struct session *s)
{
    if (s->closing || s->ep)
        return;
    uv_timer_stop(&s->restart_timer);
    s->restarts++;
    struct execproc *ep = s->spare;
    bool ready = s->spare_ready;
    if (ep) {
        s->spare = NULL;
        s->spare_ready = false;
    } else if (session_obtain(s, &ep, &ready) < 0) {
        s->gave_up = true;
        queue_fail_all(s, "no executor is running; type :restart to start one");
        return;
    }
    /* The replays go in front of the queue before the new executor can
     * take anything from it. */
    journal_begin_replay(s);
    if (s->replay_total)
        emit_notice(s, 0, "started a new executor (restart %u); replaying %zu statement%s",
                    s->restarts, s->replay_total, s->replay_total == 1 ? "" : "s");
    else
        emit_notice(s, 0, "started a new executor (restart %u); the session state was lost",
                    s->restarts);
    session_adopt(s, ep, ready);
}

static void on_restart_timer(uv_timer_t *t)
{
    restart_now(t->data);
}

void restart_after_death(struct session *s, uint64_t uptime_ms)
{
    if (s->cfg.no_restart) {
        /* Its pump fails whatever is still queued. */
        s->gave_up = true;
        return;
    }
    s->rapid_deaths = uptime_ms < STABLE_MS ? s->rapid_deaths + 1 : 1;
    if (s->rapid_deaths >= RAPID_DEATHS_MAX) {
        s->gave_up = true;
        emit_notice(s, 0,
                    "the executor died %d times within %d s of starting; not restarting "
                    "(type :restart to try again)",
                    s->rapid_deaths, STABLE_MS / 1000);
        return;
    }
    /* Back-off between rapid deaths; the first restart is immediate. */
    uint64_t delay = s->rapid_deaths <= 1 ? 0 : 100u << (s->rapid_deaths - 2);
    if (delay == 0) {
        restart_now(s);
        return;
    }
    emit_notice(s, 0, "the executor died %d times within %d s of starting; restarting in %llu ms",
                s->rapid_deaths, STABLE_MS / 1000, (unsigned long long)delay);
    uv_timer_start(&s->restart_timer, on_restart_timer, delay, 0);
}

/* A fresh executor on demand, also after the budget gave up. Nothing is
 * replayed: a user asking for a clean slate gets one, and a journal that
 * keeps crashing its executor cannot lock the user out. */
void restart_on_request(struct session *s)
{
    s->gave_up = false;
    s->rapid_deaths = 0;
    s->restart_requests++;
    journal_truncate(s, 0);
    s->journal_full = false;
    journal_drop_replays(s);
    if (s->ep) {
        session_drop_executor(s, s->ep);
        queue_unsend(s);
        emit_state_lost(s);
        if (s->running) {
            if (!s->running->replay)
                emit_notice(s, s->running->id, "statement %llu did not complete",
                            (unsigned long long)s->running->id);
            struct session_result res = {.status = SESSION_CRASHED,
                                         .term_signal = -1,
                                         .exit_status = -1,
                                         .why = "the executor was restarted on request"};
            queue_finish_running(s, &res);
        }
    }
    restart_now(s);
    queue_pump(s);
}

/* --- the warm spare ------------------------------------------------------ */

static void start_spare(struct session *s)
{
    /* A pool has ready executors for every session that uses it. */
    if (s->closing || s->spare || !s->cfg.standby || s->cfg.pool)
        return;
    struct execproc *ep;
    if (session_spawn(s, &ep, &session_spare_cb) < 0)
        return;
    s->spare = ep;
    s->spare_ready = false;
}

static void on_spare_timer(uv_timer_t *t)
{
    start_spare(t->data);
}

void spare_want(struct session *s)
{
    if (s->closing || s->spare || !s->cfg.standby || !s->ep || !s->ep_ready)
        return;
    if (!session_busy(s)) {
        uv_timer_stop(&s->spare_timer);
        start_spare(s);
    } else if (!uv_is_active((uv_handle_t *)&s->spare_timer))
        uv_timer_start(&s->spare_timer, on_spare_timer, SPARE_BUSY_MS, 0);
}

static void on_spare_ready(struct execproc *ep, const struct proto_ready *r)
{
    struct session *s = execproc_data(ep);
    (void)r;
    if (ep == s->spare) {
        s->spare_ready = true;
        s->spare_failures = 0;
    }
}

static void on_spare_message(struct execproc *ep, const struct proto_msg *m)
{
    /* A spare has no statement to talk about. */
    (void)m;
    execproc_kill(ep, "spare executor sent a message before it was used");
}

static void on_spare_raw(struct execproc *ep, int fd, const char *data, size_t len)
{
    /* Nothing of the user's runs in a spare: whatever it prints is its
     * own failure, shown as such. */
    struct session *s = execproc_data(ep);
    emit_output(s, 0, fd, true, data, len);
}

static void on_spare_dead(struct execproc *ep, const struct execproc_death *d)
{
    struct session *s = execproc_data(ep);
    execproc_destroy(ep);
    if (ep != s->spare)
        return;
    s->spare = NULL;
    s->spare_ready = false;
    if (s->closing)
        return;
    if (++s->spare_failures >= SPARE_FAILURES_MAX) {
        emit_notice(s, 0, "spare executor: %s; giving up on a warm spare", d->cause);
        return;
    }
    uv_timer_start(&s->spare_timer, on_spare_timer, 100u << s->spare_failures, 0);
}

const struct execproc_cb session_spare_cb = {on_spare_ready, on_spare_message, on_spare_raw,
                                             on_spare_dead};

void spare_status(const struct session *s, char *buf, size_t len)
{
    if (!s->cfg.standby)
        snprintf(buf, len, "off");
    else if (s->spare)
        snprintf(buf, len, "pid %d, %s", (int)execproc_pid(s->spare),
                 s->spare_ready ? "ready" : "starting");
    else
        snprintf(buf, len, "none");
}
