/* The idle-CPU watcher (idlecpu.h): samples of an executor's CPU time in a
 * ring, a sliding window over them, and the decision to warn or act. */
#define _GNU_SOURCE
#include "idlecpu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first sample (the window's start) waits this long after the session
 * became idle: statements in quick succession (a pasted script, a
 * notebook) never open /proc at all. */
#define SETTLE_MS 100
/* At most once a second; longer windows sample less often, so that the
 * ring holds a whole window. */
#define PERIOD_MIN_MS 1000
#define RING 40

struct sample {
    uint64_t at_ms;
    double cpu_s;
};

struct idlecpu {
    uv_timer_t timer;
    struct policy_idle_cpu limit;
    uint64_t period_ms, window_ms;
    idlecpu_over_cb *cb;
    void *data;
    pid_t pid;                  /* 0: not watching */
    struct sample ring[RING];
    unsigned first, count;
    /* The window went over the limit at warned_ms (0: not since it was
     * under): said once; with `then kill` a whole window after it that is
     * over too acts. */
    uint64_t warned_ms;
};

int idlecpu_read_cpu(pid_t pid, double *seconds)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    if (n == 0)
        return -ESRCH;          /* a process being reaped reads empty */
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold blanks and ')', so the
     * fields start after the last ')'. utime and stime are fields 14 and
     * 15, the 12th and 13th after it. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EIO;
    p++;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -EIO;
        char *end;
        if (field == 14 || field == 15) {
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (errno || end == p)
                return -EIO;
            *(field == 14 ? &utime : &stime) = v;
            p = end;
        } else {
            while (*p && *p != ' ')
                p++;
        }
    }
    long tck = sysconf(_SC_CLK_TCK);
    if (tck <= 0)
        return -EIO;
    *seconds = (double)(utime + stime) / (double)tck;
    return 0;
}

static struct sample *at(struct idlecpu *ic, unsigned i)
{
    return &ic->ring[(ic->first + i) % RING];
}

static const struct sample *at_c(const struct idlecpu *ic, unsigned i)
{
    return &ic->ring[(ic->first + i) % RING];
}

static void push(struct idlecpu *ic, uint64_t now_ms, double cpu_s)
{
    if (ic->count == RING) {
        ic->first = (ic->first + 1) % RING;
        ic->count--;
    }
    *at(ic, ic->count++) = (struct sample){now_ms, cpu_s};
}

/* Drops samples older than the one that starts the latest full window;
 * returns that one's index, or -1 when no window is full yet. A sample
 * may come a little early: 10 ms short of the window counts as full. */
static int window_start(struct idlecpu *ic)
{
    uint64_t now = at(ic, ic->count - 1)->at_ms;
    int start = -1;
    for (unsigned i = 0; i + 1 < ic->count; i++)
        if (now - at(ic, i)->at_ms + 10 >= ic->window_ms)
            start = (int)i;
    if (start > 0) {
        ic->first = (ic->first + (unsigned)start) % RING;
        ic->count -= (unsigned)start;
        start = 0;
    }
    return start;
}

static void on_sample(uv_timer_t *t)
{
    struct idlecpu *ic = t->data;
    double cpu;
    int rc = idlecpu_read_cpu(ic->pid, &cpu);
    if (rc < 0) {
        /* Gone, or going: its death is the session's to report. */
        idlecpu_unwatch(ic);
        return;
    }
    uint64_t now = uv_now(t->loop);
    push(ic, now, cpu);
    if (window_start(ic) < 0)
        return;
    const struct sample *old = at(ic, 0), *cur = at(ic, ic->count - 1);
    double span = (double)(cur->at_ms - old->at_ms) / 1000.0;
    double share = span > 0 ? (cur->cpu_s - old->cpu_s) / span : 0;
    if (share <= ic->limit.share) {
        /* Under again: the next time over is a new warning. Windows that
         * began before the warning do not decide. */
        if (!ic->warned_ms || old->at_ms >= ic->warned_ms)
            ic->warned_ms = 0;
        return;
    }
    struct idlecpu_over over = {.share = share, .window_s = span};
    if (!ic->warned_ms) {
        ic->warned_ms = now;
    } else if (ic->limit.action == POLICY_IDLE_KILL && old->at_ms >= ic->warned_ms) {
        over.again = true;
    } else {
        return;         /* said already */
    }
    /* Last: the callback may unwatch or close. */
    ic->cb(ic->data, &over);
}

int idlecpu_new(struct idlecpu **out, uv_loop_t *loop, const struct policy_idle_cpu *limit,
                idlecpu_over_cb *cb, void *data)
{
    struct idlecpu *ic = calloc(1, sizeof *ic);
    if (!ic)
        return -ENOMEM;
    int rc = uv_timer_init(loop, &ic->timer);
    if (rc < 0) {
        free(ic);
        return rc;
    }
    /* Measuring never keeps the loop, and so aiobox, running. */
    uv_unref((uv_handle_t *)&ic->timer);
    ic->timer.data = ic;
    ic->limit = *limit;
    ic->cb = cb;
    ic->data = data;
    ic->window_ms = (uint64_t)(limit->window_s * 1000.0 + 0.5);
    ic->period_ms = ic->window_ms / (RING - 8);
    if (ic->period_ms < PERIOD_MIN_MS)
        ic->period_ms = PERIOD_MIN_MS;
    *out = ic;
    return 0;
}

void idlecpu_watch(struct idlecpu *ic, pid_t pid)
{
    if (ic->pid == pid || pid <= 0)
        return;
    ic->pid = pid;
    ic->first = ic->count = 0;
    ic->warned_ms = 0;
    /* uv_timer_start fails only on a closing handle or without a
     * callback: neither can be here. */
    (void)uv_timer_start(&ic->timer, on_sample, SETTLE_MS, ic->period_ms);
}

void idlecpu_unwatch(struct idlecpu *ic)
{
    if (!ic->pid)
        return;
    ic->pid = 0;
    ic->first = ic->count = 0;
    ic->warned_ms = 0;
    (void)uv_timer_stop(&ic->timer);
}

int idlecpu_share(const struct idlecpu *ic, double *share, double *span_s)
{
    if (!ic->pid || ic->count < 2)
        return -ENODATA;
    const struct sample *old = at_c(ic, 0), *cur = at_c(ic, ic->count - 1);
    double span = (double)(cur->at_ms - old->at_ms) / 1000.0;
    if (span <= 0)
        return -ENODATA;
    *share = (cur->cpu_s - old->cpu_s) / span;
    *span_s = span;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void idlecpu_close(struct idlecpu *ic)
{
    if (!ic)
        return;
    ic->pid = 0;
    uv_close((uv_handle_t *)&ic->timer, on_closed);
}
