#include "stmtbuf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pyparse.h"

/* The detector recurses up to about 6000 rule levels, some 2 MiB of stack
 * (pyparse.h): a judging thread gets room to spare whatever RLIMIT_STACK
 * says (libuv's pool threads take theirs from it, 2 MiB when unlimited). */
#define JUDGE_STACK ((size_t)8 << 20)

struct stmtbuf {
    uv_loop_t *loop;
    struct pyparse_buf *pb;
    uv_async_t done;             /* the judging thread finished */
    uv_thread_t thread;
    bool judging;                /* the thread runs (or has not been joined) */
    bool wanted;                 /* its verdict is still wanted */
    atomic_int cancel;
    enum pyparse_verdict verdict;
    void (*judged)(void *arg, enum stmtbuf_state state);
    void *arg;
};

static enum stmtbuf_state state_of(enum pyparse_verdict v)
{
    switch (v) {
    case PYPARSE_INCOMPLETE:
        return STMTBUF_MORE;
    case PYPARSE_NOTHING:
        return STMTBUF_NOTHING;
    case PYPARSE_PENDING:
        return STMTBUF_PENDING;
    default:
        /* COMPLETE, ERROR (the executor reports it), CANCELLED (not
         * asked for) */
        return STMTBUF_READY;
    }
}

/* Waits for the judging thread, which a cancel ends well within 10 ms. */
static void join(struct stmtbuf *b)
{
    if (!b->judging)
        return;
    atomic_store(&b->cancel, 1);
    uv_thread_join(&b->thread);
    b->judging = false;
    b->wanted = false;
}

static void on_done(uv_async_t *h)
{
    struct stmtbuf *b = h->data;
    if (!b->judging)
        return;
    uv_thread_join(&b->thread);
    b->judging = false;
    if (!b->wanted)
        return;
    b->wanted = false;
    b->judged(b->arg, state_of(b->verdict));
}

static void judge_thread(void *arg)
{
    struct stmtbuf *b = arg;
    b->verdict = pyparse_buf_judge(b->pb, &b->cancel);
    uv_async_send(&b->done);
}

int stmtbuf_new(struct stmtbuf **out, uv_loop_t *loop,
                void (*judged)(void *arg, enum stmtbuf_state state), void *arg)
{
    struct stmtbuf *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    /* As the asyncio REPL compiles: top-level await is allowed. */
    int rc = pyparse_buf_new(&b->pb, PYPARSE_TOP_LEVEL_AWAIT);
    if (rc < 0) {
        free(b);
        return rc;
    }
    if ((rc = uv_async_init(loop, &b->done, on_done)) < 0) {
        pyparse_buf_free(b->pb);
        free(b);
        return rc;
    }
    b->done.data = b;
    b->loop = loop;
    b->judged = judged;
    b->arg = arg;
    *out = b;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct stmtbuf *b = h->data;
    pyparse_buf_free(b->pb);
    free(b);
}

void stmtbuf_free(struct stmtbuf *b)
{
    if (!b)
        return;
    join(b);
    uv_close((uv_handle_t *)&b->done, on_closed);
}

void stmtbuf_reset(struct stmtbuf *b)
{
    join(b);
    pyparse_buf_reset(b->pb);
}

bool stmtbuf_empty(const struct stmtbuf *b)
{
    return pyparse_buf_lines(b->pb) == 0;
}

bool stmtbuf_pending(const struct stmtbuf *b)
{
    return b->judging && b->wanted;
}

size_t stmtbuf_lines(const struct stmtbuf *b)
{
    return pyparse_buf_lines(b->pb);
}

const char *stmtbuf_text(const struct stmtbuf *b, size_t *len)
{
    return pyparse_buf_text(b->pb, len);
}

int stmtbuf_push(struct stmtbuf *b, const char *line, size_t len)
{
    if (b->judging)
        return -EBUSY;
    int rc = pyparse_buf_push(b->pb, line, len);
    if (rc < 0)
        return rc;
    enum pyparse_verdict v = pyparse_buf_quick(b->pb, NULL);
    if (v != PYPARSE_PENDING)
        return state_of(v);
    atomic_store(&b->cancel, 0);
    uv_thread_options_t opts = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = JUDGE_STACK};
    if (uv_thread_create_ex(&b->thread, &opts, judge_thread, b) < 0)
        /* No thread: judged here after all; slow, but nothing is lost. */
        return state_of(pyparse_buf_judge(b->pb, NULL));
    b->judging = b->wanted = true;
    return STMTBUF_PENDING;
}
