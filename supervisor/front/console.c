#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"
#include "sanitize.h"

/* What an outbuf's pressure callback is given: which console and fd. */
struct pressure_tag {
    struct console *c;
    int fd;
};

struct console {
    struct pressure_tag tag[3];
    struct outbuf *out[3];       /* [1], [2]; one object for both when one file */
    bool tty[3];
    /* One sanitiser per source, so that a sequence split across writes of
     * one source is judged whole: stdout frames, stderr frames (and our
     * notices), raw fd 1, raw fd 2. */
    struct sanitize san[4];
    void (*pressure)(void *arg, bool high);
    void *arg;
    bool high[3];
};

static void on_pressure(void *arg, bool high);

int console_open(struct console **out, uv_loop_t *loop,
                 void (*pressure)(void *arg, bool high), void *arg)
{
    struct console *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->pressure = pressure;
    c->arg = arg;
    for (int i = 0; i < 4; i++)
        sanitize_init(&c->san[i]);
    for (int fd = 1; fd <= 2; fd++) {
        c->tty[fd] = isatty(fd) == 1;
        if (fd == 2 && outbuf_same_file(1, 2)) {
            c->out[2] = c->out[1];
            continue;
        }
        c->tag[fd] = (struct pressure_tag){c, fd};
        int rc = outbuf_open(&c->out[fd], loop, fd, on_pressure, &c->tag[fd]);
        if (rc < 0) {
            if (fd == 2)
                outbuf_close(c->out[1]);
            free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

static void on_pressure(void *arg, bool high)
{
    struct pressure_tag *t = arg;
    struct console *c = t->c;
    bool before = c->high[1] || c->high[2];
    c->high[t->fd] = high;
    bool after = c->high[1] || c->high[2];
    if (before != after && c->pressure)
        c->pressure(c->arg, after);
}

bool console_is_tty(const struct console *c, int fd)
{
    return fd >= 1 && fd <= 2 && c->tty[fd];
}

void console_write(struct console *c, int fd, const char *data, size_t len)
{
    outbuf_write(c->out[fd == 2 ? 2 : 1], data, len);
}

void console_str(struct console *c, int fd, const char *s)
{
    console_write(c, fd, s, strlen(s));
}

static void write_safe(struct console *c, int fd, int source, const char *data, size_t len)
{
    if (!c->tty[fd]) {
        console_write(c, fd, data, len);
        return;
    }
    char *safe = NULL;
    size_t slen = 0, scap = 0;
    if (sanitize_feed(&c->san[source], data, len, &safe, &slen, &scap) == 0)
        console_write(c, fd, safe, slen);
    else
        console_str(c, 2, "aiobox: out of memory; output was lost\n");
    free(safe);
}

void console_output(struct console *c, int fd, bool raw, const char *data, size_t len)
{
    fd = fd == 2 ? 2 : 1;
    write_safe(c, fd, (fd - 1) + (raw ? 2 : 0), data, len);
}

void console_notice(struct console *c, const char *text, size_t len)
{
    /* Attributes user output left (hidden, black on black) must not hide
     * aiobox's own words; a pipe gets nothing of the kind. */
    if (c->tty[2])
        console_str(c, 2, CONSOLE_RESET);
    /* Notices may quote the executor: they pass the sanitiser too. */
    write_safe(c, 2, 1, "aiobox: ", 8);
    write_safe(c, 2, 1, text, len);
    write_safe(c, 2, 1, "\n", 1);
}

FILE *console_stream(struct console *c)
{
    return outbuf_stream(c->out[1]);
}

size_t console_pending(const struct console *c)
{
    size_t n = outbuf_pending(c->out[1]);
    if (c->out[2] != c->out[1])
        n += outbuf_pending(c->out[2]);
    return n;
}

void console_drain(struct console *c, int deadline_ms)
{
    outbuf_drain(c->out[1], deadline_ms);
    if (c->out[2] != c->out[1])
        outbuf_drain(c->out[2], deadline_ms);
}

void console_reset_attributes(struct console *c)
{
    for (int fd = 1; fd <= 2; fd++)
        if (c->tty[fd]) {
            console_str(c, fd, CONSOLE_RESET);
            return;
        }
}

void console_close(struct console *c)
{
    if (!c)
        return;
    if (c->out[2] != c->out[1])
        outbuf_close(c->out[2]);
    outbuf_close(c->out[1]);
    free(c);
}
