/* One request at a time, before any loop runs: aiobox ls, aiobox kill,
 * and the lines of the attach handshake. */
#define _GNU_SOURCE
#include "client_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The longest line taken from the server (an attach answer carries the
 * replay: 64 KiB of output, escaped, by default). */
#define LINE_MAX_BYTES ((size_t)256 << 20)
#define REQUEST_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int client_lines_next(struct client_lines *r, int timeout_ms, char **line, size_t *len,
                      char *err, size_t errlen)
{
    int64_t deadline = now_ms() + timeout_ms;
    size_t scanned = r->start;
    for (;;) {
        /* (No buffer yet while nothing came: memchr takes no NULL.) */
        char *nl = scanned < r->len ? memchr(r->buf + scanned, '\n', r->len - scanned) : NULL;
        if (nl) {
            *nl = '\0';
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start = (size_t)(nl + 1 - r->buf);
            return 0;
        }
        scanned = r->len;
        if (r->start > 0 && r->len == r->cap) {
            memmove(r->buf, r->buf + r->start, r->len - r->start);
            r->len -= r->start;
            scanned -= r->start;
            r->start = 0;
        }
        if (r->len == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 65536;
            char *nb = cap <= LINE_MAX_BYTES ? realloc(r->buf, cap) : NULL;
            if (!nb) {
                snprintf(err, errlen, "an answer from the session server is too long");
                return -E2BIG;
            }
            r->buf = nb;
            r->cap = cap;
        }
        int64_t left = deadline - now_ms();
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            snprintf(err, errlen, "the session server did not answer within %d s",
                     timeout_ms / 1000);
            return -ETIMEDOUT;
        }
        ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "the session server closed the connection%s%s",
                     n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return -EPIPE;
        }
        r->len += (size_t)n;
    }
}

void client_lines_free(struct client_lines *r)
{
    free(r->buf);
    r->buf = NULL;
    r->start = r->len = r->cap = 0;
}

int client_send(int fd, json_t *req, char *err, size_t errlen)
{
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t len = strlen(text);
    text[len] = '\n';  /* over the NUL: the line is sent by length */
    size_t off = 0;
    while (off < len + 1) {
        ssize_t n = send(fd, text + off, len + 1 - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(text);
            snprintf(err, errlen, "cannot talk to the session server: %s", strerror(e));
            return -e;
        }
        off += (size_t)n;
    }
    free(text);
    return 0;
}

int client_request(int fd, json_t *req, json_t **answer, int timeout_ms, char *err,
                   size_t errlen)
{
    json_t *id = json_incref(json_object_get(req, "id"));
    int rc = client_send(fd, req, err, errlen);
    struct client_lines r = {.fd = fd};
    while (rc == 0) {
        char *line;
        size_t len;
        if ((rc = client_lines_next(&r, timeout_ms, &line, &len, err, errlen)) < 0)
            break;
        json_t *o = json_loadb(line, len, 0, NULL);
        if (o && json_equal(json_object_get(o, "id"), id)) {
            *answer = o;
            break;
        }
        json_decref(o);
    }
    client_lines_free(&r);
    json_decref(id);
    return rc;
}

/* --- aiobox ls, aiobox kill ------------------------------------------------------ */

static void duration(char *out, size_t n, json_int_t ms)
{
    long long s = ms / 1000;
    if (s < 60)
        snprintf(out, n, "%llds", s);
    else if (s < 3600)
        snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        snprintf(out, n, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

static int connect_quietly(int *fd, char *err, size_t errlen)
{
    struct client_where w;
    if (client_where(&w, err, errlen) < 0)
        return -EINVAL;
    return client_connect(&w, fd, err, errlen);
}

int client_ls(FILE *out)
{
    char err[512];
    int fd;
    int rc = connect_quietly(&fd, err, sizeof err);
    if (rc == -ENOENT) {
        fputs("aiobox: no sessions\n", stderr);
        return 0;
    }
    json_t *answer = NULL;
    if (rc == 0) {
        rc = client_request(fd, json_pack("{s:s,s:s}", "id", "ls", "op", "sessions"), &answer,
                            REQUEST_TIMEOUT_MS, err, sizeof err);
        close(fd);
    }
    json_t *list = json_object_get(answer, "sessions");
    if (rc == 0 && !json_is_array(list)) {
        const char *msg = json_string_value(json_object_get(answer, "message"));
        snprintf(err, sizeof err, "the session server said: %s", msg ? msg : "(nothing usable)");
        rc = -EPROTO;
    }
    if (rc < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        json_decref(answer);
        return 1;
    }
    size_t i, named = 0;
    json_t *s;
    json_array_foreach(list, i, s) {
        if (named++ == 0)
            fprintf(out, "%-16s %8s %-8s %8s %10s %8s %7s %8s\n", "NAME", "PID", "POLICY",
                    "UPTIME", "STATEMENTS", "RESTARTS", "CLIENTS", "IDLE");
        char pid[24] = "-", up[32], idle[32] = "-";
        json_t *p = json_object_get(s, "pid");
        if (json_is_integer(p))
            snprintf(pid, sizeof pid, "%lld", (long long)json_integer_value(p));
        duration(up, sizeof up, json_integer_value(json_object_get(s, "age_ms")));
        if (!json_is_true(json_object_get(s, "busy")))
            duration(idle, sizeof idle, json_integer_value(json_object_get(s, "idle_ms")));
        const char *name = json_string_value(json_object_get(s, "session"));
        const char *policy = json_string_value(json_object_get(s, "policy"));
        fprintf(out, "%-16s %8s %-8s %8s %10lld %8lld %7lld %8s\n", name ? name : "?", pid,
                policy ? policy : "?", up,
                (long long)json_integer_value(json_object_get(s, "statements")),
                (long long)json_integer_value(json_object_get(s, "restarts")),
                (long long)json_integer_value(json_object_get(s, "clients")), idle);
    }
    if (!named)
        fputs("aiobox: no sessions\n", stderr);
    json_decref(answer);
    return 0;
}

int client_kill(const char *name)
{
    char err[512];
    int fd;
    int rc = connect_quietly(&fd, err, sizeof err);
    if (rc == -ENOENT) {
        fprintf(stderr, "aiobox: no session %s\n", name);
        return 1;
    }
    json_t *answer = NULL;
    if (rc == 0) {
        char reason[64];
        snprintf(reason, sizeof reason, "aiobox kill (pid %d) ended it", (int)getpid());
        rc = client_request(fd,
                            json_pack("{s:s,s:s,s:s,s:s}", "id", "kill", "op", "close", "session",
                                      name, "reason", reason),
                            &answer, REQUEST_TIMEOUT_MS, err, sizeof err);
        close(fd);
    }
    if (rc < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        return 1;
    }
    const char *event = json_string_value(json_object_get(answer, "event"));
    int status = 0;
    if (!event || strcmp(event, "closed") != 0) {
        const char *msg = json_string_value(json_object_get(answer, "message"));
        if (msg && strncmp(msg, "close: ", 7) == 0)
            msg += 7;
        fprintf(stderr, "aiobox: %s\n", msg ? msg : "the session server refused");
        status = 1;
    }
    json_decref(answer);
    return status;
}
