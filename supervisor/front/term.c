/* Terminal front end: GNU readline through its callback interface, fed from
 * the libuv loop. The prompt is shown only while nothing runs; while a
 * statement runs the terminal is back in cooked mode, so type-ahead waits
 * in the kernel (echoed, as CPython's REPL does) and ^C reaches us as a
 * signal. Output that arrives while the prompt is up is printed above it
 * and the prompt and the partial line are redrawn.
 *
 * Readline must never be reinstalled from inside its own line handler (it
 * resets the line after the handler returns), so on_line only records
 * what to do, and the prompt comes back once rl_callback_read_char has
 * returned, or from a session callback, which the loop delivers. */
#define _GNU_SOURCE
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "console.h"
#include "engine.h"
#include "pager.h"
#include "stmtbuf.h"

#define COMPLETION_TIMEOUT_MS 100
#define HISTORY_MAX 10000
/* Python's readline module's default word delimiters. */
#define WORD_DELIMS " \t\n`~!@#$%^&*()-=+[{]}\\|;:'\",<>/?"

enum term_mode {
    MODE_IDLE,       /* nothing shown: a statement runs or is queued */
    MODE_PROMPT,     /* sys.ps1 or sys.ps2 */
    MODE_INPUT,      /* input(), getpass() or a read of sys.stdin in user code */
};

struct term {
    uv_loop_t *loop;
    struct engine *engine;
    struct console *console;
    int tty_fd;                  /* a private description of the terminal */
    FILE *tty_in;
    uv_poll_t poll;
    uv_signal_t sigint, sigwinch, sigterm, sighup, sigquit;
    uv_timer_t complete_timer;
    enum term_mode mode;
    struct stmtbuf *sb;
    char *history_path;
    bool finished, closed, terminated;
    bool command_running;        /* a ':' command: the prompt waits for its done() */
    bool detached;               /* a shared session goes on without us */
    bool shared_running;         /* another terminal's statement runs */
    int exit_code;
    int handles_open;
    char *ps[2];                 /* readline forms of sys.ps1, sys.ps2 */
    char *input_prompt;
    enum proto_input_kind input_kind;
    /* getpass(): the prompt as written (no readline markers), and whether
     * it is on the screen; nothing typed is. */
    char *password_prompt;
    bool password_shown;
    /* The prompt's partial line, kept while a background task's input()
     * borrows the terminal. */
    char *saved_line;
    int saved_point;
    /* completion in flight */
    uint64_t complete_id;
    bool complete_list;          /* a second TAB: list the matches */
    char *line_at_tab;
    int point_at_tab, word_at_tab;
    char **matches;              /* the reply, NULL-terminated */
    size_t match_next;
    /* help() paging, while its statement waits (its output held): the
     * built-in pager reading keys, or $PAGER running. */
    bool pressure_high;
    bool paging;
    struct pager *pager;
    struct termios saved_tio;
    uv_process_t pager_proc;
    uv_pipe_t pager_in;
    uv_write_t pager_write;
    char *pager_text;
    /* What came in after the text being paged (read before the output
     * was held): shown once the pager is done. */
    struct deferred *deferred, **deferred_tail;
};

/* Output or a notice (fd 0) kept while a pager has the screen. */
struct deferred {
    struct deferred *next;
    int fd;
    bool raw;
    size_t len;
    char data[];
};

static struct term *g_term;  /* readline's callbacks carry no user data */

static void show_prompt(struct term *t);
static void finish(struct term *t, int code);
static void on_session_closed(void *arg);
static void end_paging(struct term *t);

/* --- multi-line statements on the screen -------------------------------- */

/* Readline draws a line with newlines in it (a paste, a recalled block) as
 * it is: no prompt before the later lines, and a block taller than the
 * screen corrupts the display, since readline moves the cursor up past the
 * top of the screen. Such a line is drawn here instead, as CPython 3.13
 * shows it: sys.ps1 before the first line, sys.ps2 before the others, and
 * only the rows still on the screen are ever redrawn. */

/* Rows of the last drawing, counted from its first row: the first one
 * still on the screen, the cursor's, and the last one. */
struct ml_state {
    bool active;
    int first, cursor, last;
};
static struct ml_state ml;

struct ml_out {
    char *buf;
    size_t len, cap;
    int col;      /* of the row being laid out */
    int row;      /* rows laid out before it */
};

static void ml_put(struct ml_out *o, const char *p, size_t n)
{
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb)
            return;  /* out of memory: a shorter drawing */
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* Lays out one character cell's text (width 1 or 2 as given); a full row
 * wraps before the next cell. Rows before `from` are laid out, not drawn. */
static void ml_cell(struct ml_out *o, const char *p, size_t n, int width, int cols, int from)
{
    if (o->col + width > cols) {
        if (o->row >= from)
            ml_put(o, "\r\n", 2);
        o->row++;
        o->col = 0;
    }
    if (o->row >= from)
        ml_put(o, p, n);
    o->col += width;
}

/* Lays out text (a prompt with readline's \001..\002 marks, or a line of
 * the buffer) from position *col; the cursor's place is reported when
 * the byte offset at reaches point. */
static void ml_text(struct ml_out *o, const char *s, size_t n, bool prompt, int cols, int from,
                    size_t point_at, int *cur_row, int *cur_col)
{
    bool invisible = false;
    for (size_t i = 0; i < n;) {
        if (point_at == i && cur_row) {
            if (o->col >= cols) {
                *cur_row = o->row + 1;
                *cur_col = 0;
            } else {
                *cur_row = o->row;
                *cur_col = o->col;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (prompt && (c == '\001' || c == '\002')) {
            invisible = c == '\001';
            i++;
            continue;
        }
        if (invisible) {
            if (o->row >= from)
                ml_put(o, s + i, 1);
            i++;
            continue;
        }
        if (c == '\t') {
            int to = (o->col / 8 + 1) * 8;
            while (o->col < to && o->col < cols)
                ml_cell(o, " ", 1, 1, cols, from);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            char v[2] = {'^', (char)(c == 0x7f ? '?' : c + 64)};
            ml_cell(o, v, 2, 2, cols, from);
            i++;
            continue;
        }
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (len > n - i)
            len = n - i;
        ml_cell(o, s + i, len, 1, cols, from);
        i += len;
    }
    if (point_at == n && cur_row) {
        *cur_row = o->col >= cols ? o->row + 1 : o->row;
        *cur_col = o->col >= cols ? 0 : o->col;
    }
}

/* Lays out the prompt and the buffer, drawing the rows from `from` on;
 * returns the output (malloc'd) and the rows of the cursor and the end. */
static char *ml_layout(int cols, int from, int *cur_row, int *cur_col, int *last_row,
                       bool *full, size_t *outlen)
{
    struct ml_out o = {0};
    const char *buf = rl_line_buffer;
    size_t end = (size_t)rl_end, point = (size_t)rl_point;
    struct term *t = g_term;
    *cur_row = *cur_col = 0;
    size_t line_start = 0;
    bool first = true;
    for (;;) {
        const char *nl = memchr(buf + line_start, '\n', end - line_start);
        size_t line_end = nl ? (size_t)(nl - buf) : end;
        const char *prompt = first ? (rl_prompt ? rl_prompt : "") : t->ps[1];
        ml_text(&o, prompt, strlen(prompt), true, cols, from, (size_t)-1, NULL, NULL);
        size_t at = point >= line_start && point <= line_end ? point - line_start : (size_t)-1;
        ml_text(&o, buf + line_start, line_end - line_start, false, cols, from, at, cur_row,
                cur_col);
        if (!nl)
            break;
        if (o.row >= from)
            ml_put(&o, "\r\n", 2);
        o.row++;
        o.col = 0;
        line_start = line_end + 1;
        first = false;
    }
    /* A full last row: the terminal waits to wrap; the drawing goes on to
     * the next row's start, where the cursor may be. */
    *full = o.col >= cols;
    if (*full && o.row >= from)
        ml_put(&o, "\r\n", 2);
    *last_row = *full ? o.row + 1 : o.row;
    if (*cur_row > *last_row)
        *last_row = *cur_row;
    *outlen = o.len;
    return o.buf;
}

static void ml_write(const char *s, size_t n)
{
    if (n)
        fwrite(s, 1, n, rl_outstream);
}

/* Moves the cursor n rows up ('A') or down ('B'), or n columns right ('C'). */
static void ml_move(char direction, int n)
{
    if (n > 0)
        fprintf(rl_outstream, "\x1b[%d%c", n, direction);
}

/* Puts the cursor at the start of the first row of the drawing still on
 * the screen and clears from there down. */
static void ml_clear(void)
{
    if (!ml.active)
        return;
    ml_move('A', ml.cursor - ml.first);
    ml_write("\r\x1b[J", 4);
}

static void multiline_redisplay(void)
{
    struct term *t = g_term;
    bool multi = t->mode == MODE_PROMPT && memchr(rl_line_buffer, '\n', (size_t)rl_end);
    if (!multi) {
        if (ml.active) {
            /* Back to one line: readline draws it anew where ours was. */
            ml_clear();
            ml.active = false;
            rl_on_new_line();
        }
        rl_redisplay();
        return;
    }
    int rows, cols;
    rl_get_screen_size(&rows, &cols);
    if (cols < 8)
        cols = 80;
    if (rows < 2)
        rows = 24;
    int from = 0;
    if (ml.active) {
        /* Only what is on the screen can be drawn again. */
        int top = ml.last - (rows - 1);
        from = ml.first > top ? ml.first : top;
        ml_clear();
        ml.first = from;
    } else {
        /* From readline's drawing of one line: all of it is drawn, what
         * does not fit scrolls up. */
        rl_clear_visible_line();
        ml.first = 0;
    }
    int cur_row, cur_col, last_row;
    bool full;
    size_t len;
    char *out = ml_layout(cols, from, &cur_row, &cur_col, &last_row, &full, &len);
    if (cur_row < from) {
        /* The cursor is above what the screen holds: draw from its row. */
        free(out);
        ml_write("\r\x1b[J", 4);
        from = ml.first = cur_row;
        out = ml_layout(cols, from, &cur_row, &cur_col, &last_row, &full, &len);
    }
    ml_write(out, len);
    free(out);
    /* From the end of the drawing to the cursor. */
    int end_row = last_row;
    ml_move('A', end_row - cur_row);
    ml_write("\r", 1);
    ml_move('C', cur_col);
    fflush(rl_outstream);
    ml.active = true;
    ml.cursor = cur_row;
    ml.last = last_row;
    if (ml.first < last_row - (rows - 1))
        ml.first = last_row - (rows - 1);
}

/* Leaves the drawing: the cursor goes below its last row, at column 0. */
static void ml_leave(void)
{
    if (!ml.active)
        return;
    ml_move('B', ml.last - ml.cursor);
    ml_write("\r\n", 2);
    fflush(rl_outstream);
    ml.active = false;
    rl_on_new_line();
}

/* --- output ------------------------------------------------------------- */

/* Runs write(t) above the prompt when one is up: the prompt and the
 * partial line are cleared, and drawn again below what was written. */
static void clear_prompt(struct term *t)
{
    if (t->mode == MODE_IDLE)
        return;
    if (ml.active) {
        ml_clear();
        ml.active = false;
    } else
        rl_clear_visible_line();
}

static void redraw_prompt(struct term *t, bool ended_line)
{
    if (t->mode == MODE_IDLE)
        return;
    if (!ended_line)
        console_str(t->console, 1, "\n");
    t->password_shown = false;
    rl_on_new_line();
    (*rl_redisplay_function)();
}

/* Keeps what arrives while a pager has the screen; false when there is
 * none (or no memory: then it is shown now). */
static bool defer(struct term *t, int fd, bool raw, const char *data, size_t len)
{
    if (!t->paging)
        return false;
    struct deferred *d = malloc(sizeof *d + len);
    if (!d)
        return false;
    d->next = NULL;
    d->fd = fd;
    d->raw = raw;
    d->len = len;
    memcpy(d->data, data, len);
    if (!t->deferred_tail)
        t->deferred_tail = &t->deferred;
    *t->deferred_tail = d;
    t->deferred_tail = &d->next;
    return true;
}

static void fe_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    struct term *t = fe;
    (void)id;
    if (defer(t, fd, raw, data, len))
        return;
    clear_prompt(t);
    console_output(t->console, fd, raw, data, len);
    redraw_prompt(t, len && data[len - 1] == '\n');
}

static void fe_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct term *t = fe;
    (void)id;
    if (defer(t, 0, false, text, len))
        return;
    clear_prompt(t);
    console_notice(t->console, text, len);
    redraw_prompt(t, true);
}

static void fe_text(void *fe, const char *text, size_t len)
{
    struct term *t = fe;
    clear_prompt(t);
    console_write(t->console, 1, text, len);
    redraw_prompt(t, len && text[len - 1] == '\n');
}

static void warn(void *fe, const char *msg)
{
    fe_notice(fe, 0, msg, strlen(msg));
}

/* --- prompts ------------------------------------------------------------ */

static const char *current_prompt(const struct term *t)
{
    return t->ps[stmtbuf_empty(t->sb) ? 0 : 1];
}

static void set_prompt(struct term *t, int i, struct proto_str text)
{
    size_t len;
    char *p = front_prompt(text.ptr, text.len, true, true, &len);
    if (!p)
        return;  /* out of memory: keep the old one */
    free(t->ps[i]);
    t->ps[i] = p;
}

static void cancel_completion(struct term *t)
{
    t->complete_id = 0;
    uv_timer_stop(&t->complete_timer);
}

/* Forgets what readline holds of the current line. */
static void discard_line(void)
{
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_point = rl_end = rl_mark = 0;
}

static void leave_prompt(struct term *t)
{
    if (t->mode == MODE_IDLE)
        return;
    rl_callback_handler_remove();
    uv_poll_stop(&t->poll);
    cancel_completion(t);
    t->mode = MODE_IDLE;
}

static void on_line(char *line);

static void on_tty_readable(uv_poll_t *p, int status, int events)
{
    struct term *t = p->data;
    (void)events;
    if (status < 0 || t->mode == MODE_IDLE)
        return;
    rl_callback_read_char();
    /* A line handled inside left the prompt; it comes back now, outside
     * readline's handler, unless a statement runs. */
    show_prompt(t);
}

/* getpass(): readline edits the line, and only the prompt is shown, as
 * getpass shows it with the terminal's echo off. */
static void password_redisplay(void)
{
    struct term *t = g_term;
    if (t->password_shown)
        return;
    t->password_shown = true;
    fputs("\r" CONSOLE_RESET, rl_outstream);
    if (t->password_prompt)
        fputs(t->password_prompt, rl_outstream);
    fflush(rl_outstream);
}

static void install(struct term *t, enum term_mode mode, const char *prompt)
{
    t->mode = mode;
    bool password = mode == MODE_INPUT && t->input_kind == PROTO_INPUT_PASSWORD;
    rl_redisplay_function = password             ? password_redisplay
                            : mode == MODE_PROMPT ? multiline_redisplay
                                                  : rl_redisplay;
    ml.active = false;
    t->password_shown = false;
    rl_callback_handler_install(prompt, on_line);
    if (uv_poll_start(&t->poll, UV_READABLE, on_tty_readable) < 0) {
        console_notice(t->console, "cannot read the terminal", 24);
        finish(t, 1);
    }
}

static void show_prompt(struct term *t)
{
    if (t->finished || t->mode != MODE_IDLE || engine_busy(t->engine) ||
        stmtbuf_pending(t->sb) || t->command_running || t->paging)
        return;
    install(t, MODE_PROMPT, current_prompt(t));
    if (t->saved_line) {
        rl_replace_line(t->saved_line, 0);
        rl_point = t->saved_point <= rl_end ? t->saved_point : rl_end;
        free(t->saved_line);
        t->saved_line = NULL;
        (*rl_redisplay_function)();
    }
}

/* --- lines -------------------------------------------------------------- */

static void remember(struct term *t, const char *src, size_t len)
{
    while (len > 0 && src[len - 1] == '\n')
        len--;
    char *entry = strndup(src, len);
    if (!entry)
        return;
    HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
    if (len && (!last || strcmp(last->line, entry) != 0)) {
        add_history(entry);
        if (t->history_path)
            append_history(1, t->history_path);
    }
    free(entry);
}

static void apply_verdict(struct term *t, enum stmtbuf_state state)
{
    switch (state) {
    case STMTBUF_MORE:
    case STMTBUF_PENDING:
        return;
    case STMTBUF_NOTHING:
        stmtbuf_reset(t->sb);
        return;
    case STMTBUF_READY: {
        size_t len;
        const char *text = stmtbuf_text(t->sb, &len);
        remember(t, text, len);
        engine_submit(t->engine, text, len, SESSION_SINGLE);
        stmtbuf_reset(t->sb);
        return;
    }
    }
}

static void on_judged(void *arg, enum stmtbuf_state state)
{
    struct term *t = arg;
    if (t->finished)
        return;
    apply_verdict(t, state);
    show_prompt(t);
}

/* `:detach`, spaces around it allowed. */
static bool is_detach(const char *line, size_t len)
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    return len == 7 && memcmp(line, ":detach", 7) == 0;
}

/* One typed line through the push loop. */
static void push_line(struct term *t, const char *line, size_t len)
{
    if (stmtbuf_empty(t->sb) && len > 0 && line[0] == ':') {
        remember(t, line, len);
        if (t->engine->detachable && is_detach(line, len)) {
            t->detached = true;
            finish(t, 0);
            return;
        }
        t->command_running = true;
        engine_command(t->engine, line, len);
        return;
    }
    int state = stmtbuf_push(t->sb, line, len);
    if (state < 0) {
        warn(t, "out of memory; the statement being typed was dropped");
        stmtbuf_reset(t->sb);
        return;
    }
    apply_verdict(t, (enum stmtbuf_state)state);
}

/* A line with embedded newlines (a bracketed paste, or a multi-line
 * statement recalled from history) at the primary prompt runs as a block:
 * its statements in order, only the last one's value shown, as CPython
 * 3.13's REPL runs a paste. Inside a pending block its lines are typed. */
static void push_block(struct term *t, const char *text, size_t len)
{
    if (stmtbuf_empty(t->sb)) {
        remember(t, text, len);
        engine_submit(t->engine, text, len, SESSION_BLOCK);
        return;
    }
    const char *p = text, *end = text + len;
    while (!stmtbuf_pending(t->sb)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        push_line(t, p, n);
        if (!nl)
            return;
        p = nl + 1;
    }
    /* A line of the paste is being judged: the rest of it is lost to the
     * push loop, and the user is told so. */
    warn(t, "a pasted line is still being judged; the rest of the paste was dropped");
}

static void input_line(struct term *t, char *line)
{
    leave_prompt(t);
    if (!line)
        engine_input_reply(t->engine, "", 0, true);
    else {
        size_t len;
        char *clean = front_clean_line(line, strlen(line), &len, 0, warn, t);
        if (clean && t->input_kind == PROTO_INPUT_STDIN) {
            /* A read of sys.stdin keeps the line's newline. */
            char *nl = realloc(clean, len + 2);
            if (nl) {
                clean = nl;
                clean[len++] = '\n';
                clean[len] = '\0';
            }
        }
        engine_input_reply(t->engine, clean ? clean : "", clean ? len : 0, false);
        free(clean);
    }
    free(line);
}

static void on_line(char *line)
{
    struct term *t = g_term;
    if (t->mode == MODE_INPUT) {
        input_line(t, line);
        return;
    }
    /* Off the prompt first: what the line causes must not land inside
     * readline's line. */
    leave_prompt(t);
    if (!line) {
        /* Ctrl-D: as code.interact does at EOF; a shared session goes on
         * without this terminal. */
        t->detached = t->engine->detachable;
        finish(t, 0);
        return;
    }
    size_t len;
    char *clean = front_clean_line(line, strlen(line), &len, (unsigned long)history_length + 1,
                                   warn, t);
    free(line);
    if (clean) {
        if (memchr(clean, '\n', len))
            push_block(t, clean, len);
        else
            push_line(t, clean, len);
        free(clean);
    }
}

/* --- session events ----------------------------------------------------- */

static void fe_done(void *fe, uint64_t id, const struct session_result *r)
{
    struct term *t = fe;
    if (id == 0)
        t->command_running = false;
    if (r->r) {
        set_prompt(t, 0, r->r->ps1);
        set_prompt(t, 1, r->r->ps2);
    }
    if (r->status == SESSION_EXIT)
        return;  /* exit() follows: no prompt in between */
    if (t->mode == MODE_INPUT) {
        /* The statement ended (its executor died) while input() waited. */
        discard_line();
        rl_crlf();
        leave_prompt(t);
    }
    show_prompt(t);
}

static void fe_input(void *fe, uint64_t id, const char *prompt, size_t len,
                     enum proto_input_kind kind)
{
    struct term *t = fe;
    (void)id;
    if (t->finished) {
        /* Asked while the session ends (an atexit handler): the input has
         * ended, as for CPython's at that point. */
        engine_input_reply(t->engine, "", 0, true);
        return;
    }
    size_t n;
    /* A read of sys.stdin shows no prompt; its text is a size hint. */
    if (kind == PROTO_INPUT_STDIN)
        len = 0;
    char *shown = front_prompt(prompt, len, true, true, &n);
    free(t->input_prompt);
    t->input_prompt = shown;
    free(t->password_prompt);
    t->password_prompt = kind == PROTO_INPUT_PASSWORD ? front_prompt(prompt, len, true, false, &n)
                                                      : NULL;
    if (t->mode == MODE_PROMPT) {
        /* A background task's input() while the user types: keep the
         * partial line for when the prompt comes back. */
        free(t->saved_line);
        t->saved_line = strdup(rl_line_buffer);
        t->saved_point = rl_point;
        clear_prompt(t);
        discard_line();
    } else if (t->mode == MODE_INPUT) {
        discard_line();
        rl_crlf();
    }
    leave_prompt(t);
    t->input_kind = kind;
    install(t, MODE_INPUT, shown ? shown : "");
}

static void fe_exit(void *fe, int code)
{
    finish(fe, code);
}

static void fe_state_lost(void *fe)
{
    struct term *t = fe;
    set_prompt(t, 0, (struct proto_str){">>> ", 4});
    set_prompt(t, 1, (struct proto_str){"... ", 4});
    /* Died while idle: the prompt on screen changes with the notice
     * that is about to be printed above it. */
    if (t->mode == MODE_PROMPT)
        rl_set_prompt(current_prompt(t));
}

static void fe_shared(void *fe, const struct engine_shared *st)
{
    struct term *t = fe;
    t->shared_running = st->running;
    const char *was = current_prompt(t);
    char *old = was ? strdup(was) : NULL;
    set_prompt(t, 0, st->ps1);
    set_prompt(t, 1, st->ps2);
    bool same = old && current_prompt(t) && strcmp(old, current_prompt(t)) == 0;
    free(old);
    if (t->mode == MODE_PROMPT && !same) {
        rl_set_prompt(current_prompt(t));
        rl_redisplay();
    }
    /* The first state follows an attached session's replay: the prompt
     * comes below it. */
    show_prompt(t);
}

static void fe_input_gone(void *fe)
{
    struct term *t = fe;
    if (t->mode != MODE_INPUT)
        return;
    /* Another terminal answered: this one's prompt for it goes. */
    rl_clear_visible_line();
    discard_line();
    leave_prompt(t);
    show_prompt(t);
}

/* --- completion --------------------------------------------------------- */

static void free_matches(struct term *t)
{
    if (t->matches) {
        for (size_t i = 0; t->matches[i]; i++)
            free(t->matches[i]);
        free(t->matches);
    }
    t->matches = NULL;
}

static char *match_generator(const char *text, int state)
{
    struct term *t = g_term;
    size_t n = strlen(text);
    if (state == 0)
        t->match_next = 0;
    while (t->matches && t->matches[t->match_next]) {
        const char *m = t->matches[t->match_next++];
        if (strncmp(m, text, n) == 0)
            return strdup(m);
    }
    return NULL;
}

static char **attempted_completion(const char *text, int start, int end)
{
    (void)start; (void)end;
    rl_attempted_completion_over = 1;  /* never fall back to file names */
    /* Readline resets these before every completion. */
    rl_completion_append_character = '\0';
    rl_completion_suppress_append = 1;
    return rl_completion_matches(text, match_generator);
}

/* Byte offset of code point cp of s[0..len) (len if there are fewer). */
static size_t byte_of(const char *s, size_t len, size_t cp)
{
    size_t seen = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80 && seen++ == cp)
            return i;
    return len;
}

static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Whether code point c must never reach the line or the screen as it is:
 * C0 and C1 controls (U+009B is an 8-bit CSI), bidi controls and other
 * invisible formatting characters. */
static bool unsafe_code_point(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0xad || c == 0x061c ||
           (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
           (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

/* A match from the executor made safe (it is not trusted): unsafe code
 * points become Python escapes (\x9b, \u202e), which mean the same inside
 * a string literal and are plainly visible anywhere else. NULL when out of
 * memory. The text is valid UTF-8 (the protocol checked it). */
static char *safe_match(const char *p, size_t n)
{
    char *out = malloc(3 * n + 1);  /* an escape is at most 6 for 2 or 3 bytes */
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)p[i];
        size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        if (len > n - i)
            len = n - i;
        uint32_t c = len == 1 ? b : b & (0xff >> (len + 1));
        for (size_t k = 1; k < len; k++)
            c = (c << 6) | ((unsigned char)p[i + k] & 0x3f);
        if (unsafe_code_point(c))
            o += (size_t)sprintf(out + o, c < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)c);
        else {
            memcpy(out + o, p + i, len);
            o += len;
        }
        i += len;
    }
    out[o] = '\0';
    return out;
}

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n,
                           size_t start, size_t end)
{
    struct term *t = fe;
    (void)end;
    if (id != t->complete_id || t->mode != MODE_PROMPT)
        return;
    cancel_completion(t);
    /* Typed on meanwhile: the answer is for another word. */
    if (!t->line_at_tab || strcmp(t->line_at_tab, rl_line_buffer) != 0 ||
        t->point_at_tab != rl_point)
        return;
    /* The matches replace the line from start on; readline replaces its
     * own word, which begins at word: each match is made to begin there. */
    size_t line_len = strlen(rl_line_buffer);
    size_t from = start ? byte_of(rl_line_buffer, line_len, start) : 0;
    size_t word = (size_t)t->word_at_tab;
    if (from > (size_t)rl_point)
        return;
    free_matches(t);
    t->matches = calloc(n + 1, sizeof *t->matches);
    if (!t->matches)
        return;
    for (size_t i = 0, j = 0; i < n; i++) {
        char *s = NULL;
        char *safe = safe_match(m[i].ptr, m[i].len);
        if (!safe)
            continue;
        size_t len = strlen(safe);
        if (from <= word) {
            /* Drop what lies between start and readline's word. */
            size_t skip = word - from;
            if (len >= skip && memcmp(safe, rl_line_buffer + from, skip) == 0)
                s = strdup(safe + skip);
        } else if (asprintf(&s, "%.*s%s", (int)(from - word), rl_line_buffer + word, safe) < 0)
            s = NULL;
        free(safe);
        if (s)
            t->matches[j++] = s;
    }
    /* '!': complete what is common, and list the candidates if several. */
    rl_complete_internal(t->complete_list ? '!' : '\t');
    free_matches(t);
    (*rl_redisplay_function)();
}

static void on_complete_timeout(uv_timer_t *timer)
{
    struct term *t = timer->data;
    t->complete_id = 0;  /* no answer in time: no completion, no hang */
}

/* Enter: a statement drawn on several rows is left below its last row
 * before readline ends the line (readline's own ending knows only its
 * drawings). */
static int on_accept(int count, int key)
{
    if (g_term && g_term->mode == MODE_PROMPT && ml.active) {
        if (rl_mark_active_p())
            rl_deactivate_mark();
        rl_point = rl_end;
        multiline_redisplay();
        ml_leave();
    }
    return rl_newline(count, key);
}

static int on_tab(int count, int key)
{
    struct term *t = g_term;
    bool again = rl_last_func == on_tab;
    if (t->mode != MODE_PROMPT)
        return rl_insert(count, key);  /* input(): the user's data */
    if (t->complete_id) {
        t->complete_list |= again;  /* TAB TAB before the first answer */
        return 0;
    }
    int start = rl_point;
    while (start > 0 && !strchr(WORD_DELIMS, rl_line_buffer[start - 1]))
        start--;
    if (strspn(rl_line_buffer, " \t") >= (size_t)rl_point) {
        /* Nothing typed yet on this line: indent, as CPython 3.13 does. */
        rl_insert_text("    ");
        return 0;
    }
    t->complete_list = again;
    free(t->line_at_tab);
    t->line_at_tab = strdup(rl_line_buffer);
    t->point_at_tab = rl_point;
    t->word_at_tab = start;
    t->complete_id = engine_complete(t->engine, rl_line_buffer, (size_t)rl_point,
                                      code_points(rl_line_buffer, (size_t)rl_point));
    if (t->complete_id)
        uv_timer_start(&t->complete_timer, on_complete_timeout, COMPLETION_TIMEOUT_MS, 0);
    return 0;
}

/* --- signals ------------------------------------------------------------ */

static void on_sigint(uv_signal_t *h, int sig)
{
    struct term *t = h->data;
    (void)sig;
    if (t->finished)
        return;
    if (t->paging) {
        /* Ctrl-C quits the built-in pager; $PAGER has its own way (and
         * help() returns normally, as CPython's pipe pager does). */
        if (t->pager) {
            console_str(t->console, 1, "\r\x1b[K");
            end_paging(t);
        }
        return;
    }
    if (t->mode == MODE_PROMPT && t->shared_running && rl_end == 0 && stmtbuf_empty(t->sb) &&
        !stmtbuf_pending(t->sb)) {
        /* Nothing typed here, and another terminal's statement runs: it
         * is this one's too, and ^C interrupts it. */
        engine_interrupt(t->engine);
        return;
    }
    if (t->mode == MODE_PROMPT || stmtbuf_pending(t->sb)) {
        /* Discard the line and any pending block, as CPython 3.13 does. */
        discard_line();
        cancel_completion(t);
        stmtbuf_reset(t->sb);
        free(t->saved_line);
        t->saved_line = NULL;
        if (t->mode == MODE_PROMPT) {
            if (ml.active)
                ml_leave();
            else
                rl_crlf();
            console_str(t->console, 2, "KeyboardInterrupt\n");
            rl_set_prompt(t->ps[0]);
            rl_on_new_line();
            (*rl_redisplay_function)();
        } else {
            console_str(t->console, 2, "\nKeyboardInterrupt\n");
            show_prompt(t);
        }
        return;
    }
    if (t->mode == MODE_INPUT) {
        /* The line typed stays on the screen; the statement's
         * "\nKeyboardInterrupt\n" goes below it, as in CPython. */
        discard_line();
        leave_prompt(t);
        if (!engine_busy(t->engine)) {
            /* A background task's input(): nothing to interrupt, so it
             * gets end of input rather than waiting for ever. */
            console_str(t->console, 2, "\nKeyboardInterrupt\n");
            engine_input_reply(t->engine, "", 0, true);
            show_prompt(t);
            return;
        }
    }
    engine_interrupt(t->engine);
}

static void on_sigwinch(uv_signal_t *h, int sig)
{
    struct term *t = h->data;
    (void)sig;
    if (t->mode != MODE_IDLE)
        rl_resize_terminal();
}

static void on_sigterm(uv_signal_t *h, int sig)
{
    struct term *t = h->data;
    t->terminated = true;
    if (t->finished && t->engine) {
        /* Finishing already: end at once. */
        engine_close(t->engine, on_session_closed, t);
        t->engine = NULL;
        return;
    }
    finish(t, 128 + sig);
}

/* SIGHUP (the terminal closed) or Ctrl-\\ (SIGQUIT): a shared session is
 * left running; a session of our own ends as before. */
static void on_detach_signal(uv_signal_t *h, int sig)
{
    struct term *t = h->data;
    if (t->finished)
        return;
    if (!t->engine->detachable) {
        if (sig == SIGQUIT)
            return;
        on_sigterm(h, sig);
        return;
    }
    t->detached = true;
    if (sig == SIGHUP)
        t->terminated = true;  /* nobody reads the terminal now */
    else {
        discard_line();
        if (t->mode != MODE_IDLE)
            rl_crlf();
    }
    finish(t, 0);
}

/* The executor's output waits while the terminal's reader stalls, and
 * while a pager has the screen. */
static void update_hold(struct term *t)
{
    if (t->engine)
        engine_hold_output(t->engine, t->pressure_high || t->paging);
}

static void on_pressure(void *arg, bool high)
{
    struct term *t = arg;
    t->pressure_high = high;
    update_hold(t);
}

/* --- paging --------------------------------------------------------------- */

static void end_paging(struct term *t)
{
    if (!t->paging)
        return;
    if (t->pager) {
        (void)tcsetattr(t->tty_fd, TCSADRAIN, &t->saved_tio);
        uv_poll_stop(&t->poll);
        pager_free(t->pager);
        t->pager = NULL;
    }
    t->paging = false;
    while (t->deferred) {
        struct deferred *d = t->deferred;
        t->deferred = d->next;
        if (d->fd)
            fe_output(t, 0, d->fd, d->raw, d->data, d->len);
        else
            fe_notice(t, 0, d->data, d->len);
        free(d);
    }
    t->deferred_tail = NULL;
    update_hold(t);
    show_prompt(t);
}

static void on_pager_key(uv_poll_t *h, int status, int events)
{
    struct term *t = h->data;
    (void)events;
    char keys[64];
    ssize_t n = status < 0 ? -1 : read(t->tty_fd, keys, sizeof keys);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        end_paging(t);
        return;
    }
    for (ssize_t i = 0; i < n && t->pager; i++)
        if (!pager_key(t->pager, t->console, keys[i]))
            end_paging(t);
}

static void on_pager_closed(uv_handle_t *h)
{
    struct term *t = h->data;
    t->handles_open--;
}

static void on_pager_exit(uv_process_t *proc, int64_t status, int signo)
{
    struct term *t = proc->data;
    (void)status; (void)signo;
    uv_close((uv_handle_t *)proc, on_pager_closed);
    end_paging(t);
}

static void on_pager_written(uv_write_t *req, int status)
{
    struct term *t = req->data;
    (void)status;  /* a pager that quit early closed its input: fine */
    free(t->pager_text);
    t->pager_text = NULL;
    uv_close((uv_handle_t *)&t->pager_in, on_pager_closed);
}

/* $PAGER through the shell, the text on its stdin, the terminal its own.
 * 0, or a negative errno (then the built-in pager shows the text). */
static int run_user_pager(struct term *t, const char *cmd, const char *text, size_t len)
{
    if (!(t->pager_text = malloc(len ? len : 1)))
        return -ENOMEM;
    memcpy(t->pager_text, text, len);
    (void)uv_pipe_init(t->loop, &t->pager_in, 0);  /* cannot fail */
    t->pager_in.data = t->pager_proc.data = t->pager_write.data = t;
    char *args[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&t->pager_in},
        {.flags = UV_INHERIT_FD, .data.fd = 1},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t opts = {.exit_cb = on_pager_exit, .file = "/bin/sh", .args = args,
                                 .stdio_count = 3, .stdio = stdio};
    /* What aiobox wrote goes first. */
    console_drain(t->console, 1000);
    int rc = uv_spawn(t->loop, &t->pager_proc, &opts);
    if (rc < 0) {
        uv_close((uv_handle_t *)&t->pager_proc, NULL);
        uv_close((uv_handle_t *)&t->pager_in, NULL);
        free(t->pager_text);
        t->pager_text = NULL;
        return rc;
    }
    t->handles_open += 2;
    uv_buf_t b = uv_buf_init(t->pager_text, (unsigned)len);
    if (uv_write(&t->pager_write, (uv_stream_t *)&t->pager_in, &b, 1, on_pager_written) < 0) {
        free(t->pager_text);
        t->pager_text = NULL;
        uv_close((uv_handle_t *)&t->pager_in, on_pager_closed);
    }
    return 0;
}

static void fe_page(void *fe, uint64_t id, const char *text, size_t len)
{
    struct term *t = fe;
    struct winsize ws = {0};
    if (t->finished || t->mode != MODE_IDLE || t->paging) {
        /* A background task's help() while the prompt is up: as output. */
        fe_output(fe, id, 1, false, text, len);
        return;
    }
    (void)ioctl(t->tty_fd, TIOCGWINSZ, &ws);
    struct pager *p = pager_new(text, len, ws.ws_row, ws.ws_col);
    if (!p) {
        fe_output(fe, id, 1, false, text, len);
        return;
    }
    if (pager_fits(p)) {
        /* Short: shown at once. */
        (void)pager_start(p, t->console);
        pager_free(p);
        return;
    }
    t->paging = true;
    update_hold(t);
    const char *cmd = getenv("PAGER");
    if (cmd && *cmd && run_user_pager(t, cmd, text, len) == 0) {
        pager_free(p);
        return;
    }
    struct termios raw;
    if (tcgetattr(t->tty_fd, &t->saved_tio) < 0) {
        (void)pager_start(p, t->console);  /* no keys: all of it */
        while (pager_key(p, t->console, ' '))
            ;
        pager_free(p);
        t->paging = false;
        update_hold(t);
        return;
    }
    raw = t->saved_tio;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    (void)tcsetattr(t->tty_fd, TCSADRAIN, &raw);
    t->pager = p;
    if (!pager_start(p, t->console) ||
        uv_poll_start(&t->poll, UV_READABLE, on_pager_key) < 0)
        end_paging(t);
}

/* --- life cycle --------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct term *t = h->data;
    t->handles_open--;
}

static void on_session_closed(void *arg)
{
    struct term *t = arg;
    t->closed = true;
    t->engine = NULL;
}

/* The session ends: as CPython's does (the executor finishes, and its last
 * output is shown) unless a signal ended aiobox, which ends it at once. */
static void finish(struct term *t, int code)
{
    if (t->finished)
        return;
    leave_prompt(t);
    t->finished = true;
    t->exit_code = code;
    if (t->history_path)
        history_truncate_file(t->history_path, HISTORY_MAX);
    if (t->paging && !t->pager)
        (void)uv_process_kill(&t->pager_proc, SIGTERM);
    end_paging(t);
    if (t->terminated) {
        engine_close(t->engine, on_session_closed, t);
        t->engine = NULL;
    } else
        engine_finish(t->engine, on_session_closed, t);
    uv_handle_t *hs[] = {(uv_handle_t *)&t->poll, (uv_handle_t *)&t->sigwinch,
                         (uv_handle_t *)&t->complete_timer};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        uv_close(hs[i], on_handle_closed);
}

static const struct engine_frontend term_ops = {
    .s = {
        .output = fe_output,
        .notice = fe_notice,
        .text = fe_text,
        .done = fe_done,
        .input = fe_input,
        .completions = fe_completions,
        .page = fe_page,
        .exit = fe_exit,
        .state_lost = fe_state_lost,
    },
    .shared = fe_shared,
    .input_gone = fe_input_gone,
};

static char *default_history(void)
{
    const char *home = getenv("HOME");
    char *path;
    if (!home || !*home || asprintf(&path, "%s/.aiobox_history", home) < 0)
        return NULL;
    return path;
}

static void open_history(struct term *t, const char *path)
{
    t->history_path = path ? strdup(path) : default_history();
    if (!t->history_path)
        return;
    int rc = read_history(t->history_path);
    if (rc == ENOENT) {
        int fd = open(t->history_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        rc = fd >= 0 ? 0 : errno;
    }
    if (rc) {
        char msg[600];
        int n = snprintf(msg, sizeof msg, "history %s: %s; history will not be saved",
                         t->history_path, strerror(rc));
        console_notice(t->console, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1));
        free(t->history_path);
        t->history_path = NULL;
    }
}

static void setup_readline(struct term *t)
{
    rl_instream = t->tty_in;
    rl_outstream = console_stream(t->console);
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_readline_name = "aiobox";
    rl_basic_word_break_characters = WORD_DELIMS;
    /* A quote before the word would be appended after a unique match (as
     * its "delimiter"); the executor's matches end as they should. */
    rl_basic_quote_characters = NULL;
    rl_attempted_completion_function = attempted_completion;
    rl_bind_key('\t', on_tab);
    rl_bind_key('\r', on_accept);
    rl_bind_key('\n', on_accept);
    /* Timestamps delimit the entries in the file, so that a multi-line
     * statement comes back as one; readline writes them only with a
     * comment character set. */
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    using_history();
    /* Readline sets the terminal up (capabilities, bracketed paste) only
     * with its own redisplay function in place, so before ours is. */
    rl_initialize();
}

int term_front_run(uv_loop_t *loop, const struct session_config *given,
                   const struct front_config *fcfg)
{
    /* A REPL at a terminal: sys.stdin.isatty(), help() paged, exit()
     * ends the session. */
    struct session_config cfg = *given;
    cfg.terminal = true;
    cfg.exit_ends_session = true;
    struct engine *e;
    if (engine_local_new(&e, loop, &cfg) < 0) {
        fputs("aiobox: out of memory\n", stderr);
        return 1;
    }
    bool detached;
    return term_front_run_engine(loop, e, fcfg, &detached);
}

int term_front_run_engine(uv_loop_t *loop, struct engine *engine,
                          const struct front_config *fcfg, bool *detached)
{
    struct term t;
    memset(&t, 0, sizeof t);
    t.loop = loop;

    /* A private open file description: polling makes it non-blocking, and
     * fds 0-2 of a terminal share one, which would make stdout fail with
     * EAGAIN (and leave the user's shell non-blocking). */
    char name[256];
    *detached = false;
    if (ttyname_r(0, name, sizeof name) != 0) {
        engine_free(engine);
        return -ENOTTY;
    }
    t.tty_fd = open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (t.tty_fd < 0) {
        engine_free(engine);
        return -ENOTTY;
    }
    if (!(t.tty_in = fdopen(t.tty_fd, "r"))) {
        close(t.tty_fd);
        engine_free(engine);
        return -ENOTTY;
    }
    int rc = console_open(&t.console, loop, on_pressure, &t);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot set up the output: %s\n", strerror(-rc));
        fclose(t.tty_in);
        engine_free(engine);
        return 1;
    }
    set_prompt(&t, 0, (struct proto_str){">>> ", 4});
    set_prompt(&t, 1, (struct proto_str){"... ", 4});
    if (!t.ps[0] || !t.ps[1] || !console_stream(t.console) ||
        stmtbuf_new(&t.sb, loop, on_judged, &t) < 0 ||
        engine_bind(engine, &term_ops, &t) < 0) {
        fputs("aiobox: out of memory\n", stderr);
        engine_free(engine);
        free(t.ps[0]);
        free(t.ps[1]);
        stmtbuf_free(t.sb);
        console_close(t.console);
        uv_run(loop, UV_RUN_NOWAIT);
        fclose(t.tty_in);
        return 1;
    }
    g_term = &t;
    setup_readline(&t);
    open_history(&t, fcfg->history_path);

    t.engine = engine;
    /* Initialising these handles cannot fail once the loop exists. */
    (void)uv_poll_init(loop, &t.poll, t.tty_fd);
    (void)uv_timer_init(loop, &t.complete_timer);
    uv_signal_t *sigs[] = {&t.sigint, &t.sigwinch, &t.sigterm, &t.sighup, &t.sigquit};
    uv_signal_cb cbs[] = {on_sigint, on_sigwinch, on_sigterm, on_detach_signal,
                          on_detach_signal};
    int signums[] = {SIGINT, SIGWINCH, SIGTERM, SIGHUP, SIGQUIT};
    int nsigs = engine->detachable ? 5 : 4;
    t.poll.data = t.complete_timer.data = &t;
    t.handles_open = 3;
    for (int i = 0; i < nsigs; i++) {
        (void)uv_signal_init(loop, sigs[i]);
        sigs[i]->data = &t;
        if (uv_signal_start(sigs[i], cbs[i], signums[i]) < 0)
            console_notice(t.console, "cannot watch a signal; it will end aiobox abruptly", 50);
    }

    if (fcfg->banner)
        console_str(t.console, 2, fcfg->banner);
    /* The prompt first: the spawn (about 0.5 ms) is all it would wait
     * for, and the executor's start-up takes tens of ms anyway. */
    show_prompt(&t);
    engine_start(t.engine);
    while (!t.closed || t.handles_open > 0 || execproc_live() > 0)
        uv_run(loop, UV_RUN_ONCE);
    /* The output is out before we go, unless a signal ended us (the
     * terminal may be stopped with ^S: then SIGTERM or SIGHUP ends the
     * wait). */
    console_reset_attributes(t.console);
    while (!t.terminated && console_pending(t.console) > 0)
        uv_run(loop, UV_RUN_ONCE);
    for (int i = 0; i < nsigs; i++)
        if (i != 1)
            uv_close((uv_handle_t *)sigs[i], NULL);
    rl_callback_handler_remove();
    rl_outstream = stdout;
    console_close(t.console);
    stmtbuf_free(t.sb);
    uv_run(loop, UV_RUN_NOWAIT);
    free_matches(&t);
    free(t.line_at_tab);
    free(t.saved_line);
    free(t.input_prompt);
    free(t.password_prompt);
    free(t.history_path);
    free(t.ps[0]);
    free(t.ps[1]);
    clear_history();
    fclose(t.tty_in);
    g_term = NULL;
    *detached = t.detached;
    return t.exit_code;
}
