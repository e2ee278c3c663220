/* Piped stdin: behave as `python3 -m asyncio` does when stdin is not a
 * terminal. Prompts go to stdout with no newline, input is not echoed,
 * output follows the prompt on the same line, and EOF ends the session
 * with status 0 after a newline on stderr. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"
#include "out.h"
#include "proto.h"
#include "stmtbuf.h"

#define READ_CHUNK 65536
/* A statement must fit in an exec frame. */
#define SOURCE_MAX (PROTO_FRAME_MAX_EXEC - 4096)

struct pipein {
    uv_loop_t *loop;
    struct session *session;
    uv_fs_t read_req;
    uv_signal_t sigint, sigterm;
    char chunk[READ_CHUNK];
    char *in;                /* bytes read, not yet consumed */
    size_t in_len, in_cap, in_start;
    bool eof, reading, waiting, want_input, finished, oversized, closed;
    unsigned long lineno;
    struct stmtbuf sb;
    int exit_code;
    bool sanitize;           /* stdout is a terminal */
    char *ps[2];             /* sys.ps1, sys.ps2 as the executor last said */
    size_t ps_len[2];
};

static void process(struct pipein *p);

static void warn(void *fe, const char *msg)
{
    (void)fe;
    out_str(2, msg);
}

static void fe_write(void *fe, int fd, const char *data, size_t len)
{
    (void)fe;
    out_write(fd, data, len);
}

static void prompt(struct pipein *p)
{
    int i = stmtbuf_empty(&p->sb) ? 0 : 1;
    if (p->ps[i])
        out_write(1, p->ps[i], p->ps_len[i]);
    else
        out_str(1, i ? "... " : ">>> ");
}

/* Keeps the prompts user code chose, as CPython's piped REPL writes them. */
static void set_prompt(struct pipein *p, int i, struct proto_str text)
{
    size_t len;
    char *copy = frontend_prompt(text.ptr, text.len, p->sanitize, false, &len);
    if (!copy)
        return;  /* out of memory: keep the old one */
    free(p->ps[i]);
    p->ps[i] = copy;
    p->ps_len[i] = len;
}

static void on_closed(void *arg)
{
    struct pipein *p = arg;
    p->closed = true;
}

static void finish(struct pipein *p, int code)
{
    if (p->finished)
        return;
    p->finished = true;
    p->exit_code = code;
    session_close(p->session, on_closed, p);
    p->session = NULL;
    uv_signal_stop(&p->sigint);
    uv_signal_stop(&p->sigterm);
    uv_stop(p->loop);
}

static void fe_done(void *fe, uint64_t id, const struct proto_result *r)
{
    struct pipein *p = fe;
    (void)id;
    p->waiting = false;
    if (r) {
        set_prompt(p, 0, r->ps1);
        set_prompt(p, 1, r->ps2);
    }
    /* exit(): the session ends with no further prompt, as in CPython. */
    if (p->finished || (r && r->status == PROTO_STATUS_EXIT))
        return;
    prompt(p);
    process(p);
}

static void fe_input(void *fe, const char *text, size_t len)
{
    struct pipein *p = fe;
    size_t n;
    char *shown = frontend_prompt(text, len, p->sanitize, false, &n);
    if (shown)
        out_write(1, shown, n);
    free(shown);
    p->want_input = true;
    process(p);
}

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n)
{
    (void)fe; (void)id; (void)m; (void)n;
}

static void fe_exit(void *fe, int code)
{
    finish(fe, code);
}

static const struct session_frontend pipein_ops = {fe_write, fe_done, fe_input,
                                                   fe_completions, fe_exit};

static void on_read(uv_fs_t *req);

static void start_read(struct pipein *p)
{
    if (p->reading || p->eof || p->finished)
        return;
    p->reading = true;
    uv_buf_t b = uv_buf_init(p->chunk, sizeof p->chunk);
    if (uv_fs_read(p->loop, &p->read_req, 0, &b, 1, -1, on_read)) {
        p->reading = false;
        p->eof = true;
    }
}

static void on_read(uv_fs_t *req)
{
    struct pipein *p = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    p->reading = false;
    if (p->finished)
        return;
    if (n <= 0)
        p->eof = true;
    else {
        if (p->in_start > 0 && p->in_start == p->in_len)
            p->in_start = p->in_len = 0;
        if (p->in_cap - p->in_len < (size_t)n) {
            if (p->in_start > 0) {
                memmove(p->in, p->in + p->in_start, p->in_len - p->in_start);
                p->in_len -= p->in_start;
                p->in_start = 0;
            }
            size_t cap = p->in_cap ? p->in_cap : READ_CHUNK;
            while (cap - p->in_len < (size_t)n)
                cap *= 2;
            char *nb = realloc(p->in, cap);
            if (!nb) {
                out_str(2, "aiobox: out of memory reading input\n");
                finish(p, 1);
                return;
            }
            p->in = nb;
            p->in_cap = cap;
        }
        memcpy(p->in + p->in_len, p->chunk, (size_t)n);
        p->in_len += (size_t)n;
    }
    process(p);
}

/* The next whole line (without its newline), or NULL if none yet. */
static const char *next_line(struct pipein *p, size_t *len)
{
    const char *start = p->in + p->in_start;
    size_t avail = p->in_len - p->in_start;
    const char *nl = avail ? memchr(start, '\n', avail) : NULL;
    if (nl) {
        *len = (size_t)(nl - start);
        p->in_start += *len + 1;
        return start;
    }
    if (p->eof && avail) {
        *len = avail;
        p->in_start = p->in_len;
        return start;
    }
    return NULL;
}

static void handle_line(struct pipein *p, const char *raw, size_t rawlen)
{
    size_t len;
    char *line = frontend_clean_line(raw, rawlen, &len, ++p->lineno, warn, p);
    if (!line) {
        out_str(2, "aiobox: out of memory; line dropped\n");
        return;
    }
    if (p->want_input) {
        p->want_input = false;
        session_input_reply(p->session, line, len, false);
        free(line);
        return;
    }
    if (stmtbuf_empty(&p->sb) && len > 0 && line[0] == ':') {
        p->waiting = true;
        session_command(p->session, line, len);
        free(line);
        return;
    }
    if (p->oversized || p->sb.len + len + 1 > SOURCE_MAX) {
        /* Keep consuming the statement's lines but never send it. */
        if (!p->oversized)
            fprintf(stderr, "aiobox: statement at line %lu exceeds %zu bytes; it was not run\n",
                    p->lineno, (size_t)SOURCE_MAX);
        p->oversized = true;
        enum stmtbuf_state st = stmtbuf_push(&p->sb, "", 0);
        (void)st;
        if (len == 0) {
            p->oversized = false;
            stmtbuf_reset(&p->sb);
        }
        free(line);
        prompt(p);
        return;
    }
    enum stmtbuf_state state = stmtbuf_push(&p->sb, line, len);
    size_t len_ready = p->sb.len;
    switch (state) {
    case STMTBUF_MORE:
        prompt(p);
        break;
    case STMTBUF_NOTHING:
        stmtbuf_reset(&p->sb);
        prompt(p);
        break;
    case STMTBUF_READY:
        /* Empty the push loop first (the text stays in place): if the
         * session answers at once, the next prompt must be the primary. */
        p->waiting = true;
        stmtbuf_reset(&p->sb);
        session_submit(p->session, p->sb.buf, len_ready, false);
        break;
    case STMTBUF_NOMEM:
        out_str(2, "aiobox: out of memory; statement dropped\n");
        stmtbuf_reset(&p->sb);
        prompt(p);
        break;
    }
    free(line);
}

/* ^C from a terminal while stdin is piped: interrupt the statement; at
 * the prompt there is nothing to discard. */
static void on_sigint(uv_signal_t *h, int sig)
{
    struct pipein *p = h->data;
    (void)sig;
    if (p->session)
        session_interrupt(p->session);
}

static void on_sigterm(uv_signal_t *h, int sig)
{
    finish(h->data, 128 + sig);
}

static void process(struct pipein *p)
{
    while (!p->finished && (!p->waiting || p->want_input)) {
        size_t len;
        const char *line = next_line(p, &len);
        if (!line) {
            if (!p->eof) {
                start_read(p);
                return;
            }
            if (p->want_input) {
                p->want_input = false;
                session_input_reply(p->session, "", 0, true);
                return;
            }
            if (!p->waiting) {
                /* As code.interact does at EOF. */
                out_str(2, "\n");
                finish(p, 0);
            }
            return;
        }
        handle_line(p, line, len);
    }
}

int pipein_run(uv_loop_t *loop, const struct session_config *scfg,
               const struct frontend_config *fcfg)
{
    /* Static: a read of stdin may still be pending in libuv's thread pool
     * when this returns, and it will write into this state. */
    static struct pipein p;
    memset(&p, 0, sizeof p);
    p.loop = loop;
    p.read_req.data = &p;
    p.sanitize = scfg->sanitize_fd[1];
    stmtbuf_init(&p.sb);
    if (fcfg->banner)
        out_str(2, fcfg->banner);
    if (session_new(&p.session, loop, scfg, &pipein_ops, &p)) {
        out_str(2, "aiobox: out of memory\n");
        return 1;
    }
    uv_signal_init(loop, &p.sigint);
    uv_signal_init(loop, &p.sigterm);
    p.sigint.data = p.sigterm.data = &p;
    uv_signal_start(&p.sigint, on_sigint, SIGINT);
    uv_signal_start(&p.sigterm, on_sigterm, SIGTERM);
    prompt(&p);
    process(&p);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Run until the session has closed its handles. A read may still be
     * pending on stdin; it cannot be cancelled, so the loop is not drained. */
    uv_close((uv_handle_t *)&p.sigint, NULL);
    uv_close((uv_handle_t *)&p.sigterm, NULL);
    while (!p.closed || execproc_live() > 0)
        uv_run(loop, UV_RUN_ONCE);
    uv_run(loop, UV_RUN_NOWAIT);
    stmtbuf_free(&p.sb);
    free(p.in);
    free(p.ps[0]);
    free(p.ps[1]);
    return p.exit_code;
}
