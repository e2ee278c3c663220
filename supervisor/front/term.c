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
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "console.h"
#include "engine.h"
#include "stmtbuf.h"

#define COMPLETION_TIMEOUT_MS 100
#define HISTORY_MAX 10000
/* Python's readline module's default word delimiters. */
#define WORD_DELIMS " \t\n`~!@#$%^&*()-=+[{]}\\|;:'\",<>/?"

enum term_mode {
    MODE_IDLE,       /* nothing shown: a statement runs or is queued */
    MODE_PROMPT,     /* sys.ps1 or sys.ps2 */
    MODE_INPUT,      /* input() in user code */
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
};

static struct term *g_term;  /* readline's callbacks carry no user data */

static void show_prompt(struct term *t);
static void finish(struct term *t, int code);

/* --- output ------------------------------------------------------------- */

/* Runs write(t) above the prompt when one is up: the prompt and the
 * partial line are cleared, and drawn again below what was written. */
static void clear_prompt(struct term *t)
{
    if (t->mode != MODE_IDLE)
        rl_clear_visible_line();
}

static void redraw_prompt(struct term *t, bool ended_line)
{
    if (t->mode == MODE_IDLE)
        return;
    if (!ended_line)
        console_str(t->console, 1, "\n");
    rl_on_new_line();
    rl_redisplay();
}

static void fe_output(void *fe, uint64_t id, int fd, bool raw, const char *data, size_t len)
{
    struct term *t = fe;
    (void)id;
    clear_prompt(t);
    console_output(t->console, fd, raw, data, len);
    redraw_prompt(t, len && data[len - 1] == '\n');
}

static void fe_notice(void *fe, uint64_t id, const char *text, size_t len)
{
    struct term *t = fe;
    (void)id;
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

static void install(struct term *t, enum term_mode mode, const char *prompt)
{
    t->mode = mode;
    rl_callback_handler_install(prompt, on_line);
    if (uv_poll_start(&t->poll, UV_READABLE, on_tty_readable) < 0) {
        console_notice(t->console, "cannot read the terminal", 24);
        finish(t, 1);
    }
}

static void show_prompt(struct term *t)
{
    if (t->finished || t->mode != MODE_IDLE || engine_busy(t->engine) ||
        stmtbuf_pending(t->sb) || t->command_running)
        return;
    install(t, MODE_PROMPT, current_prompt(t));
    if (t->saved_line) {
        rl_replace_line(t->saved_line, 0);
        rl_point = t->saved_point <= rl_end ? t->saved_point : rl_end;
        free(t->saved_line);
        t->saved_line = NULL;
        rl_redisplay();
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
    (void)kind;
    struct term *t = fe;
    (void)id;
    if (t->finished)
        return;
    size_t n;
    char *shown = front_prompt(prompt, len, true, true, &n);
    free(t->input_prompt);
    t->input_prompt = shown;
    if (t->mode == MODE_PROMPT) {
        /* A background task's input() while the user types: keep the
         * partial line for when the prompt comes back. */
        free(t->saved_line);
        t->saved_line = strdup(rl_line_buffer);
        t->saved_point = rl_point;
        rl_clear_visible_line();
        discard_line();
    } else if (t->mode == MODE_INPUT) {
        discard_line();
        rl_crlf();
    }
    leave_prompt(t);
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
        if (memchr(m[i].ptr, '\n', m[i].len) || memchr(m[i].ptr, '\0', m[i].len))
            continue;
        if (from <= word) {
            /* Drop what lies between start and readline's word. */
            size_t skip = word - from;
            if (m[i].len < skip || memcmp(m[i].ptr, rl_line_buffer + from, skip) != 0)
                continue;
            s = strndup(m[i].ptr + skip, m[i].len - skip);
        } else if (asprintf(&s, "%.*s%.*s", (int)(from - word), rl_line_buffer + word,
                            (int)m[i].len, m[i].ptr) < 0)
            s = NULL;
        if (s)
            t->matches[j++] = s;
    }
    /* '!': complete what is common, and list the candidates if several. */
    rl_complete_internal(t->complete_list ? '!' : '\t');
    free_matches(t);
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
            rl_crlf();
            console_str(t->console, 2, "KeyboardInterrupt\n");
            rl_set_prompt(t->ps[0]);
            rl_on_new_line();
            rl_redisplay();
        } else {
            console_str(t->console, 2, "\nKeyboardInterrupt\n");
            show_prompt(t);
        }
        return;
    }
    if (t->mode == MODE_INPUT) {
        discard_line();
        rl_crlf();
        leave_prompt(t);
        if (!engine_busy(t->engine)) {
            /* A background task's input(): nothing to interrupt, so it
             * gets end of input rather than waiting for ever. */
            console_str(t->console, 2, "KeyboardInterrupt\n");
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

static void on_pressure(void *arg, bool high)
{
    struct term *t = arg;
    if (t->engine)
        engine_hold_output(t->engine, high);
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
    leave_prompt(t);
    t->finished = true;
    t->exit_code = code;
    if (t->history_path)
        history_truncate_file(t->history_path, HISTORY_MAX);
    engine_close(t->engine, on_session_closed, t);
    t->engine = NULL;
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
    rl_attempted_completion_function = attempted_completion;
    rl_bind_key('\t', on_tab);
    /* Timestamps delimit the entries in the file, so that a multi-line
     * statement comes back as one; readline writes them only with a
     * comment character set. */
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    using_history();
}

int term_front_run(uv_loop_t *loop, const struct session_config *scfg,
                   const struct front_config *fcfg)
{
    struct engine *e;
    if (engine_local_new(&e, loop, scfg) < 0) {
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
    t.ps[0] = strdup(">>> ");
    t.ps[1] = strdup("... ");
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
    free(t.history_path);
    free(t.ps[0]);
    free(t.ps[1]);
    clear_history();
    fclose(t.tty_in);
    g_term = NULL;
    *detached = t.detached;
    return t.exit_code;
}
