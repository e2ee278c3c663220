#include "stmtbuf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pyparse.h"

/* Buffers up to this size are judged inline: well under a millisecond of
 * the detector here. Larger ones go to a worker thread. */
#define INLINE_BYTES_MAX ((size_t)16 << 10)

/* A judgement on a worker thread. It owns a copy of the text, so the
 * buffer may be reset (and the job abandoned) while it runs. */
struct job {
    uv_work_t req;
    struct stmtbuf *owner;       /* NULL once abandoned */
    char *text;
    size_t len;
    enum pyparse_verdict verdict;
};

struct stmtbuf {
    uv_loop_t *loop;
    char *buf;
    size_t len, cap;
    size_t lines;
    struct job *job;
    void (*judged)(void *arg, enum stmtbuf_state state);
    void *arg;
};

int stmtbuf_new(struct stmtbuf **out, uv_loop_t *loop,
                void (*judged)(void *arg, enum stmtbuf_state state), void *arg)
{
    struct stmtbuf *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->loop = loop;
    b->judged = judged;
    b->arg = arg;
    *out = b;
    return 0;
}

static void abandon_job(struct stmtbuf *b)
{
    if (b->job) {
        /* Cancelled if it has not started; else it finishes and frees
         * itself, unheard. */
        b->job->owner = NULL;
        b->job = NULL;
    }
}

void stmtbuf_free(struct stmtbuf *b)
{
    if (!b)
        return;
    abandon_job(b);
    free(b->buf);
    free(b);
}

void stmtbuf_reset(struct stmtbuf *b)
{
    abandon_job(b);
    b->len = 0;
    b->lines = 0;
}

bool stmtbuf_empty(const struct stmtbuf *b)
{
    return b->lines == 0;
}

bool stmtbuf_pending(const struct stmtbuf *b)
{
    return b->job != NULL;
}

size_t stmtbuf_lines(const struct stmtbuf *b)
{
    return b->lines;
}

const char *stmtbuf_text(const struct stmtbuf *b, size_t *len)
{
    *len = b->len;
    return b->buf ? b->buf : "";
}

static bool blank_or_comments(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f' || s[i] == '\r' ||
                           s[i] == '\v'))
            i++;
        if (i < len && s[i] != '\n' && s[i] != '#')
            return false;
        while (i < len && s[i] != '\n')
            i++;
        i++;
    }
    return true;
}

static enum stmtbuf_state state_of(enum pyparse_verdict v)
{
    return v == PYPARSE_INCOMPLETE ? STMTBUF_MORE : STMTBUF_READY;
}

/* As the asyncio REPL compiles: top-level await is allowed. */
static enum pyparse_verdict judge(const char *text, size_t len)
{
    return pyparse_verdict_flags(text, len, PYPARSE_TOP_LEVEL_AWAIT);
}

static void job_work(uv_work_t *req)
{
    struct job *j = req->data;
    j->verdict = judge(j->text, j->len);
}

static void job_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct stmtbuf *b = j->owner;
    enum pyparse_verdict v = j->verdict;
    free(j->text);
    free(j);
    if (!b || status < 0)
        return;
    b->job = NULL;
    b->judged(b->arg, state_of(v));
}

int stmtbuf_push(struct stmtbuf *b, const char *line, size_t len)
{
    if (b->job)
        return -EBUSY;
    size_t need = b->len + len + 2;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -ENOMEM;
        b->buf = nb;
        b->cap = cap;
    }
    if (b->lines++)
        b->buf[b->len++] = '\n';
    memcpy(b->buf + b->len, line, len);
    b->len += len;
    b->buf[b->len] = '\0';
    if (blank_or_comments(b->buf, b->len))
        return STMTBUF_NOTHING;
    if (b->len <= INLINE_BYTES_MAX)
        return state_of(judge(b->buf, b->len));
    struct job *j = calloc(1, sizeof *j);
    char *text = j ? malloc(b->len + 1) : NULL;
    if (!text) {
        free(j);
        /* Judged here after all: slow, but nothing is lost. */
        return state_of(judge(b->buf, b->len));
    }
    memcpy(text, b->buf, b->len + 1);
    j->text = text;
    j->len = b->len;
    j->owner = b;
    j->req.data = j;
    if (uv_queue_work(b->loop, &j->req, job_work, job_done) < 0) {
        free(text);
        free(j);
        return state_of(judge(b->buf, b->len));
    }
    b->job = j;
    return STMTBUF_PENDING;
}
