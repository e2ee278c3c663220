/* Benchmark, not a test: prints figures, asserts nothing.
 *
 *   bench-executor [path/to/aiobox-executor] [runs]
 *
 * 1. spawn-to-ready of aiobox-executor (fork to `ready` received) beside
 *    `/usr/bin/python3 -c 'import asyncio'` (fork to exit), medians of the
 *    same number of runs, interleaved so both see the same machine load;
 * 2. the round trip of `exec x = 1` to its `result`, median and p90. */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUND_TRIPS 2000
#define WAIT_MS 30000

static char *const empty_env[] = {NULL};

struct executor {
    pid_t pid;
    int chan;
    struct proto_reader reader;
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int send_msg(struct executor *e, const struct proto_msg *m)
{
    struct proto_buf b = {0};
    int rc = proto_encode(m, &b);
    size_t off = 0;

    while (rc == PROTO_OK && off < b.len) {
        ssize_t w = send(e->chan, b.data + off, b.len - off, MSG_NOSIGNAL);
        if (w < 0 && errno != EINTR)
            rc = -1;
        else if (w > 0)
            off += (size_t)w;
    }
    proto_buf_free(&b);
    return rc;
}

/* Waits for a message of the given type; returns 0, or -1 on EOF,
 * timeout or a bad frame. */
static int wait_for(struct executor *e, enum proto_type type)
{
    char buf[65536];

    for (;;) {
        struct proto_msg m;
        int rc = proto_reader_take(&e->reader, &m);
        if (rc < 0 && rc != PROTO_E_AGAIN)
            return -1;
        if (rc == 0) {
            bool hit = m.type == type;
            proto_msg_release(&m);
            if (hit)
                return 0;
            continue;
        }
        struct pollfd p = {.fd = e->chan, .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0)
            return -1;
        ssize_t n = recv(e->chan, buf, sizeof buf, 0);
        if (n <= 0 || proto_reader_feed(&e->reader, buf, (size_t)n) != PROTO_OK)
            return -1;
    }
}

static int spawn_executor(struct executor *e, const char *path)
{
    int sv[2];
    struct proto_msg hello = {.type = PROTO_HELLO};

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    e->pid = fork();
    if (e->pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(sv[1], 3) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
            _exit(126);
        char *argv[] = {(char *)path, "--fd", "3", "--no-sandbox", NULL};
        execve(path, argv, empty_env);
        _exit(127);
    }
    close(sv[1]);
    e->chan = sv[0];
    proto_reader_init(&e->reader, 0);
    hello.u.hello.version = PROTO_VERSION;
    if (e->pid < 0 || send_msg(e, &hello) < 0)
        return -1;
    return wait_for(e, PROTO_READY);
}

static void close_executor(struct executor *e)
{
    close(e->chan);
    waitpid(e->pid, NULL, 0);
    proto_reader_free(&e->reader);
}

static int run_python(void)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        char *argv[] = {"/usr/bin/python3", "-c", "import asyncio", NULL};
        execve(argv[0], argv, empty_env);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./aiobox-executor";
    int runs = argc > 2 ? atoi(argv[2]) : 30;

    if (runs < 1)
        runs = 1;
    double *ready = calloc((size_t)runs, sizeof *ready);
    double *python = calloc((size_t)runs, sizeof *python);
    double *rtt = calloc(ROUND_TRIPS, sizeof *rtt);
    if (!ready || !python || !rtt)
        return 1;

    for (int i = 0; i < runs; i++) {
        struct executor e;
        double t0 = now_us();
        if (spawn_executor(&e, path) < 0) {
            fprintf(stderr, "bench: %s did not become ready\n", path);
            return 1;
        }
        ready[i] = now_us() - t0;
        close_executor(&e);
        t0 = now_us();
        if (run_python() < 0) {
            fprintf(stderr, "bench: /usr/bin/python3 -c 'import asyncio' failed\n");
            return 1;
        }
        python[i] = now_us() - t0;
    }
    double ready_med = percentile(ready, (size_t)runs, 0.5);
    double python_med = percentile(python, (size_t)runs, 0.5);
    printf("spawn to ready, aiobox-executor:          %8.1f ms (median of %d)\n",
           ready_med / 1e3, runs);
    printf("/usr/bin/python3 -c 'import asyncio':     %8.1f ms (median of %d)\n",
           python_med / 1e3, runs);
    printf("ratio executor / python:                  %8.2f (target <= 1)\n",
           ready_med / python_med);

    struct executor e;
    if (spawn_executor(&e, path) < 0)
        return 1;
    for (int i = 0; i < ROUND_TRIPS; i++) {
        struct proto_msg m = {.type = PROTO_EXEC};
        m.u.exec.id = (uint64_t)i + 1;
        m.u.exec.source = proto_str_c("x = 1");
        double t0 = now_us();
        if (send_msg(&e, &m) < 0 || wait_for(&e, PROTO_RESULT) < 0) {
            fprintf(stderr, "bench: no result for statement %d\n", i + 1);
            return 1;
        }
        rtt[i] = now_us() - t0;
    }
    close_executor(&e);
    double rtt_med = percentile(rtt, ROUND_TRIPS, 0.5);
    double rtt_p90 = percentile(rtt, ROUND_TRIPS, 0.9);
    printf("round trip of `x = 1`:                    %8.1f us median, %.1f us p90 (%d runs)\n",
           rtt_med, rtt_p90, ROUND_TRIPS);
    free(ready);
    free(python);
    free(rtt);
    return 0;
}
