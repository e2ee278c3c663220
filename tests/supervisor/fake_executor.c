/* A stand-in executor for the supervisor's fault tests. It speaks the real
 * protocol, and each statement's source names a misbehaviour: the
 * supervisor must survive every one and keep the session going. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static int chan = 3;

/* In a sanitizer build, die by the signals raised below, as a real
 * executor would, instead of in AddressSanitizer's handler. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0";
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            _exit(9);
        c += w;
        n -= (size_t)w;
    }
}

static void send_msg(const struct proto_msg *m)
{
    struct proto_buf b = {0};
    if (proto_encode(m, &b))
        _exit(8);
    write_all(chan, b.data, b.len);
    proto_buf_free(&b);
}

static void send_raw_frame(const void *body, size_t n)
{
    unsigned char h[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    write_all(chan, h, 4);
    write_all(chan, body, n);
}

static void output(uint64_t id, int stream, const char *text, size_t len)
{
    struct proto_msg m = {.type = PROTO_OUTPUT};
    m.u.output.has_id = true;
    m.u.output.id = id;
    m.u.output.stream = stream;
    m.u.output.text = proto_str_n(text, len);
    send_msg(&m);
}

static void result(uint64_t id, enum proto_status st, int64_t code)
{
    struct proto_msg m = {.type = PROTO_RESULT};
    m.u.result.id = id;
    m.u.result.status = st;
    m.u.result.display = proto_str_c("");
    m.u.result.exit_code = code;
    m.u.result.ps1 = proto_str_c(">>> ");
    m.u.result.ps2 = proto_str_c("... ");
    send_msg(&m);
}

static void started(uint64_t id)
{
    struct proto_msg m = {.type = PROTO_STARTED};
    m.u.started.id = id;
    send_msg(&m);
}

static void run(uint64_t id, const char *src)
{
    /* Every statement starts as the protocol says, except where the
     * scenario is breaking the protocol. */
    if (strcmp(src, "unstarted") != 0)
        started(id);
    if (!strcmp(src, "ok") || !strcmp(src, "unstarted")) {
        output(id, PROTO_STDOUT, "fine\n", 5);
        result(id, PROTO_STATUS_OK, 0);
    } else if (!strcmp(src, "huge")) {
        unsigned char h[4] = {0x01, 0, 0, 0};  /* 16 MiB: over the cap */
        write_all(chan, h, 4);
        pause();
    } else if (!strcmp(src, "garbage")) {
        send_raw_frame("\xc1\xc1\xc1\xc1", 4);
        pause();
    } else if (!strcmp(src, "bomb")) {
        /* array32 claiming 4 billion elements, in a 5-byte frame. */
        send_raw_frame("\xdd\xff\xff\xff\xff", 5);
        pause();
    } else if (!strcmp(src, "badutf8")) {
        /* {"t":"output","v":2,"id":N,"stream":"stdout","text":"\xff"} */
        unsigned char body[64];
        size_t n = 0;
        body[n++] = 0x85;
        memcpy(body + n, "\xa1t\xa6output\xa1v\x02\xa2id", 15); n += 15;
        body[n++] = (unsigned char)(id & 0x7f);
        memcpy(body + n, "\xa6stream\xa6stdout\xa4text\xa1\xff", 21); n += 21;
        send_raw_frame(body, n);
        pause();
    } else if (!strcmp(src, "forged")) {
        result(id + 1000, PROTO_STATUS_OK, 0);
        pause();
    } else if (!strcmp(src, "wrongtype")) {
        struct proto_msg m = {.type = PROTO_EXEC};
        m.u.exec.id = id;
        m.u.exec.source = proto_str_c("1");
        send_msg(&m);
        pause();
    } else if (!strcmp(src, "version")) {
        /* {"t":"result","v":99} */
        send_raw_frame("\x82\xa1t\xa6result\xa1v\x63", 13);
        pause();
    } else if (!strcmp(src, "flood")) {
        static char block[65536];
        memset(block, 'x', sizeof block);
        for (int i = 0; i < 80; i++)  /* 5 MiB on fd 1 */
            write_all(1, block, sizeof block);
        result(id, PROTO_STATUS_OK, 0);
    } else if (!strcmp(src, "escapes")) {
        const char *t = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\xc2\x9b" "6n\n";
        output(id, PROTO_STDOUT, t, strlen(t));
        result(id, PROTO_STATUS_OK, 0);
    } else if (!strncmp(src, "live ", 5)) {
        /* Serves for a while before the next statement: the restart
         * budget counts only deaths soon after an executor's start. */
        struct timespec ts = {.tv_sec = atoi(src + 5)};
        while (nanosleep(&ts, &ts) != 0)
            ;
        output(id, PROTO_STDOUT, "lived\n", 6);
        result(id, PROTO_STATUS_OK, 0);
    } else if (!strcmp(src, "pid")) {
        char line[32];
        int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
        output(id, PROTO_STDOUT, line, (size_t)n);
        result(id, PROTO_STATUS_OK, 0);
    } else if (!strcmp(src, "segv")) {
        raise(SIGSEGV);
    } else if (!strcmp(src, "exit3")) {
        _exit(3);
    } else if (!strcmp(src, "close")) {
        close(chan);
        pause();
    } else if (!strcmp(src, "hang")) {
        signal(SIGINT, SIG_IGN);
        for (;;)
            pause();
    } else if (!strcmp(src, "denied")) {
        struct proto_msg m = {.type = PROTO_DENIED};
        m.u.denied.syscall = 101;  /* ptrace on x86_64 */
        send_msg(&m);
        signal(SIGSYS, SIG_DFL);
        raise(SIGSYS);
    } else {
        output(id, PROTO_STDERR, "unknown scenario\n", 17);
        result(id, PROTO_STATUS_ERROR, 0);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--fd"))
            chan = atoi(argv[i + 1]);
    struct proto_msg ready = {.type = PROTO_READY};
    ready.u.ready.version = PROTO_VERSION;
    ready.u.ready.python = proto_str_c("fake");
    ready.u.ready.pid = getpid();
    ready.u.ready.sandbox = proto_str_c("none (fake executor)");
    send_msg(&ready);

    struct proto_reader r;
    proto_reader_init(&r, PROTO_FRAME_MAX_EXEC);
    char buf[65536];
    for (;;) {
        ssize_t n = read(chan, buf, sizeof buf);
        if (n <= 0)
            return 0;
        if (proto_reader_feed(&r, buf, (size_t)n))
            return 3;
        struct proto_msg m;
        int rc;
        while ((rc = proto_reader_take(&r, &m)) == 0) {
            if (m.type == PROTO_EXEC) {
                char *src = proto_str_dup(m.u.exec.source);
                run(m.u.exec.id, src ? src : "");
                free(src);
            }
            proto_msg_release(&m);
        }
        if (rc != PROTO_E_AGAIN)
            return 3;
    }
}
