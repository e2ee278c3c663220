/* Terminal front end: GNU readline through its callback interface, fed from
 * the libuv loop. The prompt is shown only while nothing runs; while a
 * statement runs the terminal is back in cooked mode, so type-ahead waits
 * in the kernel (echoed, as CPython's REPL does) and ^C reaches us as a
 * signal. Output that arrives while the prompt is up is printed above it
 * and the prompt and the partial line are redrawn. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "frontend.h"
#include "out.h"
#include "stmtbuf.h"

#define COMPLETION_TIMEOUT_MS 100
#define HISTORY_MAX 10000
/* Python's readline module's default word delimiters. */
#define WORD_DELIMS " \t\n`~!@#$%^&*()-=+[{]}\\|;:'\",<>/?"

enum term_mode {
    MODE_IDLE,       /* nothing shown: a statement runs or is queued */
    MODE_PROMPT,     /* >>> or ... */
    MODE_INPUT,      /* input() in user code */
};

struct term {
    uv_loop_t *loop;
    struct session *session;
    int tty_fd;                  /* a private description of the terminal */
    FILE *tty_in;
    uv_poll_t poll;
    uv_signal_t sigint, sigwinch, sigterm, sighup;
    uv_timer_t complete_timer;
    enum term_mode mode;
    struct stmtbuf sb;
    char *history_path;
    bool finished, closed, at_line_start;
    int exit_code;
    int handles_open;
    /* completion in flight */
    uint64_t complete_id;
    bool complete_list;          /* second TAB: list the matches */
    char **matches;              /* cached reply, NULL-terminated */
    size_t match_next;
    int last_key_tab;
    char *line_at_tab;
    char input_prompt[256];
};

static struct term *g_term;  /* readline's callbacks carry no user data */

static void show_prompt(struct term *t);

/* --- output ------------------------------------------------------------- */

static void fe_write(void *fe, int fd, const char *data, size_t len)
{
    struct term *t = fe;
    if (!len)
        return;
    if (t->mode != MODE_IDLE) {
        /* Above the prompt: clear it, print, redraw prompt and line. */
        rl_clear_visible_line();
        fflush(rl_outstream);
        out_write(fd, data, len);
        if (data[len - 1] != '\n')
            out_write(fd, "\n", 1);
        rl_on_new_line();
        rl_redisplay();
        return;
    }
    fflush(stdout);
    out_write(fd, data, len);
    t->at_line_start = data[len - 1] == '\n';
}

/* --- lines -------------------------------------------------------------- */

static void warn(void *fe, const char *msg)
{
    fe_write(fe, 2, msg, strlen(msg));
}

static void leave_prompt(struct term *t)
{
    if (t->mode == MODE_IDLE)
        return;
    rl_callback_handler_remove();
    uv_poll_stop(&t->poll);
    t->mode = MODE_IDLE;
}

static void finish(struct term *t, int code);

static void remember(struct term *t, const char *src, size_t len)
{
    char *entry = strndup(src, len);
    if (!entry)
        return;
    HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
    if (!last || strcmp(last->line, entry) != 0) {
        add_history(entry);
        if (t->history_path)
            append_history(1, t->history_path);
    }
    free(entry);
}

/* One typed line through the push loop. Returns true when a statement was
 * handed to the session (so the prompt waits for it). */
static bool push_line(struct term *t, const char *line, size_t len)
{
    if (stmtbuf_empty(&t->sb) && len > 0 && line[0] == ':') {
        remember(t, line, len);
        session_command(t->session, line, len);
        return true;
    }
    switch (stmtbuf_push(&t->sb, line, len)) {
    case STMTBUF_MORE:
        return false;
    case STMTBUF_NOTHING:
        stmtbuf_reset(&t->sb);
        return false;
    case STMTBUF_READY:
        remember(t, t->sb.buf, t->sb.len);
        session_submit(t->session, t->sb.buf, t->sb.len, false);
        stmtbuf_reset(&t->sb);
        return true;
    case STMTBUF_NOMEM:
        warn(t, "aiobox: out of memory; statement dropped\n");
        stmtbuf_reset(&t->sb);
        return false;
    }
    return false;
}

/* A line with embedded newlines (a bracketed paste, or a multi-line
 * statement recalled from history) at the primary prompt runs as a block:
 * its statements in order, only the last one's value shown, as CPython
 * 3.13's REPL runs a paste. Inside a pending block its lines are typed. */
static bool push_block(struct term *t, const char *text, size_t len)
{
    if (stmtbuf_empty(&t->sb)) {
        remember(t, text, len);
        session_submit(t->session, text, len, true);
        return true;
    }
    bool submitted = false;
    const char *p = text, *end = text + len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (push_line(t, p, n))
            submitted = true;
        if (!nl)
            break;
        p = nl + 1;
    }
    return submitted;
}

static void on_line(char *line)
{
    struct term *t = g_term;
    if (t->mode == MODE_INPUT) {
        leave_prompt(t);
        if (!line)
            session_input_reply(t->session, "", 0, true);
        else {
            size_t len;
            char *clean = frontend_clean_line(line, strlen(line), &len, 0, warn, t);
            session_input_reply(t->session, clean ? clean : "", clean ? len : 0, false);
            free(clean);
        }
        free(line);
        return;
    }
    if (!line) {
        /* Ctrl-D: as code.interact does at EOF. */
        leave_prompt(t);
        out_str(1, "\n");
        finish(t, 0);
        return;
    }
    size_t len;
    char *clean = frontend_clean_line(line, strlen(line), &len, (unsigned long)history_length + 1,
                                      warn, t);
    free(line);
    if (!clean)
        return;
    bool submitted = memchr(clean, '\n', len) ? push_block(t, clean, len)
                                              : push_line(t, clean, len);
    free(clean);
    if (submitted) {
        leave_prompt(t);
        t->at_line_start = true;
    } else
        rl_set_prompt(stmtbuf_empty(&t->sb) ? ">>> " : "... ");
}

static void on_tty_readable(uv_poll_t *p, int status, int events)
{
    (void)p; (void)events;
    if (status < 0 || g_term->mode == MODE_IDLE)
        return;
    rl_callback_read_char();
}

static void show_prompt(struct term *t)
{
    if (t->finished || t->mode != MODE_IDLE)
        return;
    t->mode = MODE_PROMPT;
    rl_callback_handler_install(stmtbuf_empty(&t->sb) ? ">>> " : "... ", on_line);
    uv_poll_start(&t->poll, UV_READABLE, on_tty_readable);
}

/* --- session events ----------------------------------------------------- */

static void fe_done(void *fe, uint64_t id)
{
    struct term *t = fe;
    (void)id;
    if (!session_busy(t->session))
        show_prompt(t);
}

static void fe_input(void *fe, const char *prompt, size_t len)
{
    struct term *t = fe;
    if (t->finished)
        return;
    leave_prompt(t);
    snprintf(t->input_prompt, sizeof t->input_prompt, "%.*s", (int)len, prompt);
    t->mode = MODE_INPUT;
    rl_callback_handler_install(t->input_prompt, on_line);
    uv_poll_start(&t->poll, UV_READABLE, on_tty_readable);
}

static void fe_exit(void *fe, int code)
{
    finish(fe, code);
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
    (void)text;
    if (state == 0)
        t->match_next = 0;
    if (!t->matches || !t->matches[t->match_next])
        return NULL;
    return strdup(t->matches[t->match_next++]);
}

static char **attempted_completion(const char *text, int start, int end)
{
    (void)start; (void)end;
    rl_attempted_completion_over = 1;  /* never fall back to file names */
    return rl_completion_matches(text, match_generator);
}

static void fe_completions(void *fe, uint64_t id, const struct proto_str *m, size_t n)
{
    struct term *t = fe;
    if (id != t->complete_id || t->mode == MODE_IDLE)
        return;
    uv_timer_stop(&t->complete_timer);
    t->complete_id = 0;
    free_matches(t);
    t->matches = calloc(n + 1, sizeof *t->matches);
    if (!t->matches)
        return;
    for (size_t i = 0, j = 0; i < n; i++) {
        char *s = proto_str_dup(m[i]);
        if (s && !memchr(s, '\n', m[i].len))
            t->matches[j++] = s;
        else
            free(s);
    }
    rl_complete_internal(t->complete_list ? '?' : '\t');
    rl_redisplay();
}

static void on_complete_timeout(uv_timer_t *timer)
{
    struct term *t = timer->data;
    t->complete_id = 0;  /* no answer in time: no completion, no hang */
}

static int on_tab(int count, int key)
{
    struct term *t = g_term;
    (void)count; (void)key;
    if (t->complete_id)
        return 0;
    int start = rl_point;
    while (start > 0 && !strchr(WORD_DELIMS, rl_line_buffer[start - 1]))
        start--;
    if (start == rl_point && (start == 0 || rl_line_buffer[start - 1] != '.')) {
        /* Nothing typed yet on this word: indent, as CPython 3.13 does. */
        if (rl_point == 0 || strspn(rl_line_buffer, " \t") >= (size_t)rl_point) {
            rl_insert_text("    ");
            return 0;
        }
    }
    t->complete_list = t->line_at_tab && strcmp(t->line_at_tab, rl_line_buffer) == 0;
    free(t->line_at_tab);
    t->line_at_tab = strdup(rl_line_buffer);
    t->complete_id = session_complete(t->session, rl_line_buffer + start,
                                      (size_t)(rl_point - start));
    if (t->complete_id)
        uv_timer_start(&t->complete_timer, on_complete_timeout, COMPLETION_TIMEOUT_MS, 0);
    return 0;
}

/* --- signals ------------------------------------------------------------ */

static void on_sigint(uv_signal_t *h, int sig)
{
    struct term *t = h->data;
    (void)sig;
    if (t->mode == MODE_PROMPT) {
        /* Discard the line and any pending block, as CPython 3.13 does. */
        rl_free_line_state();
        rl_callback_sigcleanup();
        rl_replace_line("", 0);
        rl_point = rl_end = 0;
        stmtbuf_reset(&t->sb);
        rl_crlf();
        fflush(rl_outstream);
        out_str(2, "KeyboardInterrupt\n");
        rl_set_prompt(">>> ");
        rl_on_new_line();
        rl_redisplay();
        return;
    }
    session_interrupt(t->session);
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
    finish(t, 128 + sig);
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
}

static void finish(struct term *t, int code)
{
    if (t->finished)
        return;
    t->finished = true;
    t->exit_code = code;
    leave_prompt(t);
    if (t->history_path)
        history_truncate_file(t->history_path, HISTORY_MAX);
    session_close(t->session, on_session_closed, t);
    t->session = NULL;
    uv_handle_t *hs[] = {(uv_handle_t *)&t->poll, (uv_handle_t *)&t->sigint,
                         (uv_handle_t *)&t->sigwinch, (uv_handle_t *)&t->sigterm,
                         (uv_handle_t *)&t->sighup, (uv_handle_t *)&t->complete_timer};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        uv_close(hs[i], on_handle_closed);
}

static const struct session_frontend term_ops = {fe_write, fe_done, fe_input, fe_completions,
                                                 fe_exit};

static char *default_history(void)
{
    const char *home = getenv("HOME");
    char *path;
    if (!home || !*home || asprintf(&path, "%s/.aiobox_history", home) < 0)
        return NULL;
    return path;
}

int term_run(uv_loop_t *loop, const struct session_config *scfg,
             const struct frontend_config *fcfg)
{
    struct term t;
    memset(&t, 0, sizeof t);
    g_term = &t;
    t.loop = loop;
    t.at_line_start = true;
    stmtbuf_init(&t.sb);

    /* A private open file description: polling makes it non-blocking, and
     * fds 0-2 of a terminal share one, which would make stdout fail with
     * EAGAIN (and leave the user's shell non-blocking). */
    const char *name = ttyname(0);
    t.tty_fd = name ? open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC) : -1;
    if (t.tty_fd < 0 || !(t.tty_in = fdopen(t.tty_fd, "r"))) {
        out_str(2, "aiobox: cannot open the terminal for input; reading it as a pipe\n");
        if (t.tty_fd >= 0)
            close(t.tty_fd);
        return pipein_run(loop, scfg, fcfg);
    }

    rl_instream = t.tty_in;
    rl_outstream = stdout;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_readline_name = "aiobox";
    rl_basic_word_break_characters = WORD_DELIMS;
    rl_completion_append_character = '\0';
    rl_attempted_completion_function = attempted_completion;
    rl_bind_key('\t', on_tab);
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    using_history();
    t.history_path = fcfg->history_path ? strdup(fcfg->history_path) : default_history();
    if (t.history_path) {
        int rc = read_history(t.history_path);
        if (rc && rc != ENOENT) {
            fprintf(stderr, "aiobox: history %s: %s; history will not be saved\n",
                    t.history_path, strerror(rc));
            free(t.history_path);
            t.history_path = NULL;
        } else if (rc == ENOENT) {
            int fd = open(t.history_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd >= 0)
                close(fd);
        }
    }

    uv_poll_init(loop, &t.poll, t.tty_fd);
    uv_signal_init(loop, &t.sigint);
    uv_signal_init(loop, &t.sigwinch);
    uv_signal_init(loop, &t.sigterm);
    uv_signal_init(loop, &t.sighup);
    uv_timer_init(loop, &t.complete_timer);
    t.poll.data = t.sigint.data = t.sigwinch.data = t.sigterm.data = t.sighup.data = &t;
    t.complete_timer.data = &t;
    t.handles_open = 6;
    uv_signal_start(&t.sigint, on_sigint, SIGINT);
    uv_signal_start(&t.sigwinch, on_sigwinch, SIGWINCH);
    uv_signal_start(&t.sigterm, on_sigterm, SIGTERM);
    uv_signal_start(&t.sighup, on_sigterm, SIGHUP);

    if (fcfg->banner)
        out_str(2, fcfg->banner);
    if (session_new(&t.session, loop, scfg, &term_ops, &t)) {
        out_str(2, "aiobox: out of memory\n");
        return 1;
    }
    show_prompt(&t);
    while (!t.closed || t.handles_open > 0 || execproc_live() > 0)
        uv_run(loop, UV_RUN_ONCE);
    rl_callback_handler_remove();
    free_matches(&t);
    free(t.line_at_tab);
    free(t.history_path);
    stmtbuf_free(&t.sb);
    clear_history();
    fclose(t.tty_in);
    g_term = NULL;
    return t.exit_code;
}
