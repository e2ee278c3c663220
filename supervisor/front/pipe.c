/* Piped stdin: behave as `python3 -m asyncio` does when stdin is not a
 * terminal. Prompts go to stdout with no newline, input is not echoed,
 * output follows the prompt on the same line, and EOF ends the session
 * with status 0 after a newline on stderr.
 *
 * Reading runs ahead of the executor: complete statements are submitted as
 * soon as they are read, and the session sends them ahead. What CPython
 * would print between them (prompts, notices about the input) waits in a
 * queue of steps, in input order, until the statements before it have
 * finished, so the output is what a line-by-line REPL prints. When user
 * code calls input(), the lines read for later statements belong to it:
 * those statements are withdrawn and their lines read again.
 *
 * Work per turn of the loop is bounded (LINES_PER_TURN), and a statement
 * too large to judge at once is judged off the loop (stmtbuf), so signals
 * and output are served whatever the input. */
#include "pipe.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "engine.h"
#include "proto.h"
#include "stmtbuf.h"

#define READ_CHUNK 65536
/* How far reading runs ahead of the running statement. */
#define UNFINISHED_MAX 64
#define STEPS_MAX 4096
/* Lines handled in one turn of the loop before it serves everything else. */
#define LINES_PER_TURN 512
/* A statement still incomplete past this size is given up: nothing could
 * run it (SESSION_SOURCE_MAX), and keeping it would only eat memory. */
#define PENDING_STMT_MAX ((size_t)4 * SESSION_SOURCE_MAX)

enum step_kind {
    STEP_PROMPT,    /* show sys.ps1 or sys.ps2 */
    STEP_NOTICE,    /* our notice about the input, for stderr */
    STEP_STMT,      /* a submitted statement; then the primary prompt */
    STEP_COMMAND,   /* a ':' command, run in its turn */
};

struct step {
    struct step *next;
    enum step_kind kind;
    /* The input line that made this step: where it starts, and the line
     * count before it. A withdrawal reads again from such a place. */
    uint64_t line_pos;
    unsigned long line_no;
    int ps;                  /* STEP_PROMPT: 0 primary, 1 continuation */
    char *text;              /* STEP_NOTICE, STEP_COMMAND */
    size_t len;
    uint64_t id;             /* STEP_STMT */
    bool done;               /* STEP_STMT: finished */
    bool exited;             /* ... by exit() */
    /* STEP_STMT: where its lines end, and after any line input() took. */
    uint64_t end_pos;
    unsigned long end_no;
};

struct pipe_front {
    uv_loop_t *loop;
    struct engine *engine;
    struct console *console;
    uv_fs_t read_req;
    uv_signal_t sigint, sigterm, sighup;
    uv_idle_t resume;            /* more lines to handle next turn */
    char chunk[READ_CHUNK];
    /* Input bytes in[0..in_len) start at stream offset in_base; pos is
     * the offset of the next unread byte. Bytes stay from the first
     * step's line on, for a withdrawal to read again. */
    char *in;
    size_t in_len, in_cap;
    uint64_t in_base, pos;
    uint64_t line_pos;           /* where the line being handled starts */
    unsigned long line_no;
    bool eof, reading, finished, closed, terminated;
    unsigned long lineno;
    struct stmtbuf *sb;
    uint64_t stmt_pos;           /* where the statement in sb began */
    unsigned long stmt_no;
    /* The line whose verdict is being computed off the loop. */
    uint64_t judged_pos;
    unsigned long judged_no;
    struct step *steps, *steps_tail;
    size_t nsteps, unfinished;   /* all steps; STEP_STMT not done */
    struct step *asker;          /* the statement whose input() waits */
    bool want_input, command_waiting, exiting, flushing;
    /* What the line wanted is for: input(), getpass() or sys.stdin (which
     * keeps the newline, and may want only the first want_chars
     * characters: the REPL reads the rest, as in CPython, where both read
     * one stream). */
    enum proto_input_kind want_kind;
    size_t want_chars;
    int exit_code;
    char *ps[2];                 /* sys.ps1, sys.ps2 as the executor last said */
    size_t ps_len[2];
};

static void process(struct pipe_front *p);
static void flush(struct pipe_front *p);

static void show_prompt(struct pipe_front *p, int i)
{
    if (p->ps[i])
        console_write(p->console, 1, p->ps[i], p->ps_len[i]);
    else
        console_str(p->console, 1, i ? "... " : ">>> ");
}

/* Keeps the prompts user code chose, as CPython's piped REPL writes them. */
static void set_prompt(struct pipe_front *p, int i, struct proto_str text)
{
    size_t len;
    char *copy = front_prompt(text.ptr, text.len, console_is_tty(p->console, 1), false, &len);
    if (!copy)
        return;  /* out of memory: keep the old one */
    free(p->ps[i]);
    p->ps[i] = copy;
    p->ps_len[i] = len;
}

/* --- steps ------------------------------------------------------------- */

static void step_free(struct step *st)
{
    free(st->text);
    free(st);
}

/* Appends a step for the line at line_pos (line_no before it). NULL when
 * out of memory; the caller says so. */
static struct step *add_step(struct pipe_front *p, enum step_kind kind, uint64_t line_pos,
                             unsigned long line_no)
{
    struct step *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->kind = kind;
    st->line_pos = line_pos;
    st->line_no = line_no;
    if (p->steps_tail)
        p->steps_tail->next = st;
    else
        p->steps = st;
    p->steps_tail = st;
    p->nsteps++;
    if (kind == STEP_STMT)
        p->unfinished++;
    return st;
}

static void add_prompt(struct pipe_front *p, int ps, uint64_t line_pos, unsigned long line_no)
{
    struct step *st = add_step(p, STEP_PROMPT, line_pos, line_no);
    if (st)
        st->ps = ps;
    else
        show_prompt(p, ps);  /* out of memory: at least keep the output */
}

/* A notice (text without "aiobox: ") or a command, in its turn. */
static void add_text(struct pipe_front *p, enum step_kind kind, const char *text, size_t len,
                     uint64_t line_pos, unsigned long line_no)
{
    struct step *st = add_step(p, kind, line_pos, line_no);
    char *copy = st ? malloc(len + 1) : NULL;
    if (!copy) {
        if (kind == STEP_NOTICE)
            console_notice(p->console, text, len);
        else
            console_notice(p->console, "out of memory; a command was dropped", 36);
        if (st)
            st->kind = STEP_NOTICE;  /* an empty one */
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    st->text = copy;
    st->len = len;
}

static struct step *find_stmt(struct pipe_front *p, uint64_t id)
{
    for (struct step *st = p->steps; st; st = st->next)
        if (st->kind == STEP_STMT && !st->done && st->id == id)
            return st;
    return NULL;
}

/* Carries out the steps whose turn has come: everything up to the first
 * statement still running. */
static void flush(struct pipe_front *p)
{
    if (p->flushing)
        return;
    p->flushing = true;
    while (p->steps && !p->finished && !p->exiting) {
        struct step *st = p->steps;
        if (st->kind == STEP_STMT && !st->done)
            break;
        p->steps = st->next;
        if (!p->steps)
            p->steps_tail = NULL;
        p->nsteps--;
        switch (st->kind) {
        case STEP_PROMPT:
            show_prompt(p, st->ps);
            break;
        case STEP_NOTICE:
            if (st->len)
                console_notice(p->console, st->text, st->len);
            break;
        case STEP_STMT:
            /* exit(): the session ends with no further prompt, as in CPython. */
            if (st->exited)
                p->exiting = true;
            else
                show_prompt(p, 0);
            break;
        case STEP_COMMAND:
            /* Its done() (id 0) shows the next prompt and reading goes on. */
            engine_command(p->engine, st->text, st->len);
            p->command_waiting = false;
            break;
        }
        if (p->asker == st)
            p->asker = NULL;
        step_free(st);
    }
    p->flushing = false;
}

/* input() was called: the lines after the asking statement's are its to
 * read, so the statements read from them are withdrawn and their steps
 * dropped, and reading goes back to where they began. id == 0: no
 * statement asked (a background task), and every statement not finished
 * was withdrawn by the session. */
static void withdraw(struct pipe_front *p, uint64_t id)
{
    struct step *asker = id ? find_stmt(p, id) : NULL;
    uint64_t pos = p->pos;
    unsigned long no = p->lineno;
    bool rewind = false;

    engine_withdraw(p->engine);
    if (asker) {
        pos = asker->end_pos;
        no = asker->end_no;
        rewind = true;
    } else {
        for (struct step *st = p->steps; st; st = st->next)
            if (st->kind == STEP_STMT && !st->done) {
                pos = st->line_pos;
                no = st->line_no;
                rewind = true;
                break;
            }
    }
    p->asker = asker;
    if (!rewind)
        return;  /* nothing read ahead: the next line is the answer */
    /* Steps come in line order, except that a statement's step follows
     * the prompts of its own continuation lines: the first step at or
     * past pos starts what is read again. */
    struct step **pp = &p->steps;
    p->steps_tail = NULL;
    while (*pp && (*pp)->line_pos < pos) {
        p->steps_tail = *pp;
        pp = &(*pp)->next;
    }
    struct step *dead = *pp;
    *pp = NULL;
    while (dead) {
        struct step *next = dead->next;
        p->nsteps--;
        if (dead->kind == STEP_STMT && !dead->done)
            p->unfinished--;
        if (dead->kind == STEP_COMMAND)
            p->command_waiting = false;
        step_free(dead);
        dead = next;
    }
    p->pos = pos;
    p->lineno = no;
    stmtbuf_reset(p->sb);
}

/* --- session events ---------------------------------------------------- */

static void on_closed(void *arg)
{
    struct pipe_front *p = arg;
    p->closed = true;
    p->engine = NULL;
}

/* The session ends: as CPython's does (the executor finishes, and its last
 * output is written) unless a signal ended aiobox, which ends it at once. */
static void finish(struct pipe_front *p, int code)
{
    if (p->finished) {
        if (p->terminated && p->engine) {
            engine_close(p->engine, on_closed, p);
            p->engine = NULL;
        }
        return;
    }
    p->finished = true;
    p->exit_code = code;
    if (p->terminated) {
        engine_close(p->engine, on_closed, p);
        p->engine = NULL;
    } else
        engine_finish(p->engine, on_closed, p);
    uv_idle_stop(&p->resume);
    uv_stop(p->loop);
}

static void fe_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    struct pipe_front *p = fe;
    (void)id;
    console_output(p->console, fd, raw, data, len);
}

static void fe_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct pipe_front *p = fe;
    (void)id;
    console_notice(p->console, text, len);
}

static void fe_text(void *fe, const char *text, size_t len)
{
    struct pipe_front *p = fe;
    console_write(p->console, 1, text, len);
}

static void fe_done(void *fe, uint64_t id, const struct session_result *r)
{
    struct pipe_front *p = fe;
    if (id == 0) {
        /* A ':' command ran (from flush). */
        show_prompt(p, 0);
        process(p);
        return;
    }
    struct step *st = find_stmt(p, id);
    if (!st)
        return;  /* withdrawn meanwhile */
    st->done = true;
    p->unfinished--;
    /* Interrupted or dead while its input() waited: the next line is a
     * statement again. */
    if (st == p->asker)
        p->want_input = false;
    if (r->r) {
        set_prompt(p, 0, r->r->ps1);
        set_prompt(p, 1, r->r->ps2);
    }
    st->exited = r->status == SESSION_EXIT;
    if (p->finished)
        return;
    flush(p);
    process(p);
}

static void fe_input(void *fe, uint64_t id, const char *text, size_t len,
                     enum proto_input_kind kind)
{
    struct pipe_front *p = fe;
    size_t n;
    if (p->finished) {
        /* Asked while the session ends (an atexit handler): the input has
         * ended. */
        engine_input_reply(p->engine, "", 0, true);
        return;
    }
    withdraw(p, id);
    p->want_kind = kind;
    p->want_chars = 0;
    if (kind == PROTO_INPUT_STDIN) {
        /* No prompt: its text is how many characters the read wants at
         * most ("" for a line). */
        char hint[24];
        size_t hl = len < sizeof hint ? len : 0;
        memcpy(hint, text, hl);
        hint[hl] = '\0';
        char *end;
        unsigned long long want = strtoull(hint, &end, 10);
        if (hl && *end == '\0' && hint[0] >= '0' && hint[0] <= '9')
            p->want_chars = (size_t)want;
    } else {
        /* input() writes its prompt to stdout; getpass() to the
         * terminal, else stderr. */
        int fd = kind == PROTO_INPUT_PASSWORD ? 2 : 1;
        char *shown = front_prompt(text, len, console_is_tty(p->console, fd), false, &n);
        if (shown)
            console_write(p->console, fd, shown, n);
        free(shown);
    }
    p->want_input = true;
    process(p);
}

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                           size_t start, size_t end)
{
    (void)fe; (void)id; (void)m; (void)n; (void)start; (void)end;
}

static void fe_exit(void *fe, int code)
{
    finish(fe, code);
}

static void fe_state_lost(void *fe)
{
    struct pipe_front *p = fe;
    set_prompt(p, 0, (struct proto_str){">>> ", 4});
    set_prompt(p, 1, (struct proto_str){"... ", 4});
}

static const struct engine_frontend pipe_ops = {
    .s = {
        .output = fe_output,
        .notice = fe_notice,
        .text = fe_text,
        .done = fe_done,
        .input = fe_input,
        .completions = fe_completions,
        .exit = fe_exit,
        .state_lost = fe_state_lost,
    },
};

static void on_pressure(void *arg, bool high)
{
    struct pipe_front *p = arg;
    if (p->engine)
        engine_hold_output(p->engine, high);
}

/* --- reading ----------------------------------------------------------- */

static void on_read(uv_fs_t *req);

static void start_read(struct pipe_front *p)
{
    if (p->reading || p->eof || p->finished)
        return;
    p->reading = true;
    uv_buf_t b = uv_buf_init(p->chunk, sizeof p->chunk);
    int rc = uv_fs_read(p->loop, &p->read_req, 0, &b, 1, -1, on_read);
    if (rc < 0) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "cannot read the input: %s; treating it as ended",
                         uv_strerror(rc));
        console_notice(p->console, msg, (size_t)n);
        p->reading = false;
        p->eof = true;
    }
}

/* Room for n more bytes, dropping what no step can read again. */
static bool make_room(struct pipe_front *p, size_t n)
{
    uint64_t keep = p->pos;
    for (struct step *st = p->steps; st; st = st->next)
        if (st->line_pos < keep)
            keep = st->line_pos;
    if (!stmtbuf_empty(p->sb) && p->stmt_pos < keep)
        keep = p->stmt_pos;
    size_t drop = (size_t)(keep - p->in_base);
    if (drop > 0) {
        memmove(p->in, p->in + drop, p->in_len - drop);
        p->in_len -= drop;
        p->in_base += drop;
    }
    if (p->in_cap - p->in_len >= n)
        return true;
    size_t cap = p->in_cap ? p->in_cap : READ_CHUNK;
    while (cap - p->in_len < n)
        cap *= 2;
    char *nb = realloc(p->in, cap);
    if (!nb)
        return false;
    p->in = nb;
    p->in_cap = cap;
    return true;
}

static void on_read(uv_fs_t *req)
{
    struct pipe_front *p = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    p->reading = false;
    if (p->finished)
        return;
    if (n < 0) {
        char msg[128];
        int len = snprintf(msg, sizeof msg, "cannot read the input: %s; treating it as ended",
                           uv_strerror((int)n));
        console_notice(p->console, msg, (size_t)len);
    }
    if (n <= 0)
        p->eof = true;
    else {
        if (!make_room(p, (size_t)n)) {
            console_notice(p->console, "out of memory reading the input", 31);
            finish(p, 1);
            return;
        }
        memcpy(p->in + p->in_len, p->chunk, (size_t)n);
        p->in_len += (size_t)n;
    }
    process(p);
}

/* The next whole line (without its newline), or NULL if none yet. */
static const char *next_line(struct pipe_front *p, size_t *len)
{
    p->line_pos = p->pos;
    p->line_no = p->lineno;
    size_t off = (size_t)(p->pos - p->in_base);
    const char *start = p->in + off;
    size_t avail = p->in_len - off;
    const char *nl = avail ? memchr(start, '\n', avail) : NULL;
    if (nl) {
        *len = (size_t)(nl - start);
        p->pos += *len + 1;
        return start;
    }
    if (p->eof && avail) {
        *len = avail;
        p->pos += avail;
        return start;
    }
    return NULL;
}

/* Notices about a line go out in their turn, after the output of the
 * statements before it. */
static void warn(void *fe, const char *msg)
{
    struct pipe_front *p = fe;
    add_text(p, STEP_NOTICE, msg, strlen(msg), p->line_pos, p->line_no);
}

static void submit(struct pipe_front *p, uint64_t line_pos, unsigned long line_no)
{
    struct step *st = add_step(p, STEP_STMT, p->stmt_pos, p->stmt_no);
    if (!st) {
        static const char msg[] = "out of memory; a statement was dropped";
        console_notice(p->console, msg, sizeof msg - 1);
        stmtbuf_reset(p->sb);
        add_prompt(p, 0, line_pos, line_no);
        return;
    }
    st->end_pos = p->pos;
    st->end_no = p->lineno;
    size_t len;
    const char *text = stmtbuf_text(p->sb, &len);
    st->id = engine_submit(p->engine, text, len, SESSION_SINGLE);
    stmtbuf_reset(p->sb);
}

/* What the push loop said of the line at line_pos. */
static void apply_verdict(struct pipe_front *p, enum stmtbuf_state state, uint64_t line_pos,
                          unsigned long line_no)
{
    switch (state) {
    case STMTBUF_MORE: {
        size_t len;
        (void)stmtbuf_text(p->sb, &len);
        if (len > PENDING_STMT_MAX) {
            char msg[200];
            int n = snprintf(msg, sizeof msg,
                             "the statement starting at line %lu is over %zu bytes and still "
                             "incomplete; lines %lu to %lu were not run",
                             p->stmt_no + 1, PENDING_STMT_MAX, p->stmt_no + 1, p->lineno);
            add_text(p, STEP_NOTICE, msg, (size_t)n, line_pos, line_no);
            stmtbuf_reset(p->sb);
            add_prompt(p, 0, line_pos, line_no);
        } else
            add_prompt(p, 1, line_pos, line_no);
        break;
    }
    case STMTBUF_NOTHING:
        stmtbuf_reset(p->sb);
        add_prompt(p, 0, line_pos, line_no);
        break;
    case STMTBUF_READY:
        submit(p, line_pos, line_no);
        break;
    case STMTBUF_PENDING:
        p->judged_pos = line_pos;
        p->judged_no = line_no;
        break;
    }
}

static void on_judged(void *arg, enum stmtbuf_state state)
{
    struct pipe_front *p = arg;
    if (p->finished)
        return;
    apply_verdict(p, state, p->judged_pos, p->judged_no);
    process(p);
}

static void handle_line(struct pipe_front *p, const char *raw, size_t rawlen)
{
    static const char no_line[] = "out of memory; an input line was dropped";
    uint64_t line_pos = p->line_pos;
    unsigned long line_no = p->line_no;
    size_t len;
    char *line = front_clean_line(raw, rawlen, &len, ++p->lineno, warn, p);
    if (!line) {
        add_text(p, STEP_NOTICE, no_line, sizeof no_line - 1, line_pos, line_no);
        return;
    }
    if (p->want_input) {
        p->want_input = false;
        size_t give = len;
        if (p->want_kind == PROTO_INPUT_STDIN) {
            bool newline = p->pos > line_pos + rawlen;
            size_t chars = 0, at = 0;
            while (at < len && chars < p->want_chars) {
                at++;
                while (at < len && ((unsigned char)line[at] & 0xc0) == 0x80)
                    at++;
                chars++;
            }
            if (p->want_chars && chars == p->want_chars && at < len + newline &&
                len == rawlen && memcmp(line, raw, len) == 0) {
                /* Part of the line: the rest is read again, by the REPL
                 * or by the next read. */
                give = at;
                p->pos = line_pos + at;
                p->lineno--;
            } else if (newline)
                line[give++] = '\n';  /* front_clean_line left room for it */
        }
        if (p->asker) {
            p->asker->end_pos = p->pos;
            p->asker->end_no = p->lineno;
        }
        engine_input_reply(p->engine, line, give, false);
        free(line);
        return;
    }
    if (stmtbuf_empty(p->sb) && len > 0 && line[0] == ':') {
        p->command_waiting = true;
        add_text(p, STEP_COMMAND, line, len, line_pos, line_no);
        free(line);
        return;
    }
    if (stmtbuf_empty(p->sb)) {
        p->stmt_pos = line_pos;
        p->stmt_no = line_no;
    }
    int state = stmtbuf_push(p->sb, line, len);
    free(line);
    if (state < 0) {
        static const char msg[] = "out of memory; the statement being read was dropped";
        add_text(p, STEP_NOTICE, msg, sizeof msg - 1, line_pos, line_no);
        stmtbuf_reset(p->sb);
        add_prompt(p, 0, line_pos, line_no);
        return;
    }
    apply_verdict(p, (enum stmtbuf_state)state, line_pos, line_no);
}

/* ^C from a terminal while stdin is piped: interrupt the statement; at
 * the prompt there is nothing to discard. */
static void on_sigint(uv_signal_t *h, int sig)
{
    struct pipe_front *p = h->data;
    (void)sig;
    if (p->engine)
        engine_interrupt(p->engine);
}

static void on_sigterm(uv_signal_t *h, int sig)
{
    struct pipe_front *p = h->data;
    p->terminated = true;
    finish(p, 128 + sig);
}

static void on_resume(uv_idle_t *h)
{
    struct pipe_front *p = h->data;
    uv_idle_stop(h);
    process(p);
}

/* Reads and hands on lines while there is room ahead; ends the session at
 * the end of input once every step is done. */
static void process(struct pipe_front *p)
{
    int budget = LINES_PER_TURN;
    while (!p->finished && !p->exiting) {
        flush(p);
        if (p->finished || p->exiting || stmtbuf_pending(p->sb))
            return;
        if (!p->want_input && (p->command_waiting || p->unfinished >= UNFINISHED_MAX ||
                               p->nsteps >= STEPS_MAX))
            return;
        if (budget-- == 0) {
            /* The rest next turn, after signals, output and the executor. */
            if (uv_idle_start(&p->resume, on_resume) < 0)
                continue;
            return;
        }
        size_t len;
        const char *line = next_line(p, &len);
        if (!line) {
            if (!p->eof) {
                start_read(p);
                return;
            }
            if (p->want_input) {
                p->want_input = false;
                engine_input_reply(p->engine, "", 0, true);
                continue;
            }
            if (!p->steps && stmtbuf_empty(p->sb)) {
                /* As code.interact does at EOF. */
                console_str(p->console, 2, "\n");
                finish(p, 0);
            } else if (!p->steps && !stmtbuf_empty(p->sb)) {
                /* Input ended inside a statement: as CPython, it is
                 * dropped with the newline of EOF. */
                stmtbuf_reset(p->sb);
                continue;
            }
            return;
        }
        handle_line(p, line, len);
    }
}

int pipe_front_run(uv_loop_t *loop, const struct session_config *given,
                   const struct front_config *fcfg)
{
    /* A REPL: exit() ends the session. */
    struct session_config cfg = *given;
    cfg.exit_ends_session = true;
    struct engine *e;
    if (engine_local_new(&e, loop, &cfg) < 0) {
        fputs("aiobox: out of memory\n", stderr);
        return 1;
    }
    return pipe_front_run_engine(loop, e, fcfg);
}

int pipe_front_run_engine(uv_loop_t *loop, struct engine *engine,
                          const struct front_config *fcfg)
{
    /* Static: a read of stdin may still be pending in libuv's thread pool
     * when this returns, and it will write into this state. */
    static struct pipe_front p;
    memset(&p, 0, sizeof p);
    p.loop = loop;
    p.read_req.data = &p;
    int rc = console_open(&p.console, loop, on_pressure, &p);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot set up the output: %s\n", strerror(-rc));
        engine_free(engine);
        return 1;
    }
    if (stmtbuf_new(&p.sb, loop, on_judged, &p) < 0 ||
        engine_bind(engine, &pipe_ops, &p) < 0) {
        engine_free(engine);
        console_str(p.console, 2, "aiobox: out of memory\n");
        console_drain(p.console, 1000);
        stmtbuf_free(p.sb);
        console_close(p.console);
        uv_run(loop, UV_RUN_NOWAIT);
        return 1;
    }
    if (fcfg->banner)
        console_str(p.console, 2, fcfg->banner);
    p.engine = engine;
    engine_start(p.engine);
    uv_signal_t *sigs[] = {&p.sigint, &p.sigterm, &p.sighup};
    int signums[] = {SIGINT, SIGTERM, SIGHUP};
    (void)uv_idle_init(loop, &p.resume);  /* cannot fail */
    p.resume.data = &p;
    for (int i = 0; i < 3; i++) {
        (void)uv_signal_init(loop, sigs[i]);  /* cannot fail: the loop's signal pipe exists */
        sigs[i]->data = &p;
        if (uv_signal_start(sigs[i], i == 0 ? on_sigint : on_sigterm, signums[i]) < 0)
            console_notice(p.console, "cannot watch a signal; it will end aiobox abruptly", 50);
    }
    show_prompt(&p, 0);
    process(&p);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Run until the session has closed its handles and every executor is
     * reaped, then until the output is out (a stalled reader can hold it:
     * SIGTERM or SIGHUP then ends the wait). A read may still be pending
     * on stdin; it cannot be cancelled, so the loop is not drained. */
    while (!p.closed || execproc_live() > 0)
        uv_run(loop, UV_RUN_ONCE);
    console_reset_attributes(p.console);
    while (!p.terminated && console_pending(p.console) > 0)
        uv_run(loop, UV_RUN_ONCE);
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)sigs[i], NULL);
    uv_close((uv_handle_t *)&p.resume, NULL);
    console_close(p.console);
    stmtbuf_free(p.sb);
    uv_run(loop, UV_RUN_NOWAIT);
    while (p.steps) {
        struct step *next = p.steps->next;
        step_free(p.steps);
        p.steps = next;
    }
    free(p.in);
    free(p.ps[0]);
    free(p.ps[1]);
    return p.exit_code;
}
