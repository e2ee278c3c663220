/* The incomplete-input detector on long statements, pushed a line at a
 * time through a pyparse_buf as the front ends do (pyparse_buf_quick after
 * each line, pyparse_buf_judge when it answers PENDING), beside CPython's
 * compile() of the same text by /usr/bin/python3 in the same run. With
 * --one-shot, also the push loop as it was before pyparse_buf:
 * pyparse_verdict_flags on the whole buffer after every line, stopped
 * after --limit seconds.
 *
 * Each case runs --repeat times (3): the figures are of the fastest run,
 * as this VM's speed changes within minutes.
 *
 * Usage: bench-pyparse [--python /usr/bin/python3] [--one-shot] [--limit SECONDS]
 *                      [--only NAME] [--repeat N] */
#define _GNU_SOURCE
#include "pyparse.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Times compile(text, '<console>', 'single', flags) of stdin (CPU time),
 * with the flags of the asyncio REPL, and says what codeop says of it. */
static const char python_script[] =
    "import ast, codeop, sys, time, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "src = sys.stdin.buffer.read().decode('utf-8')\n"
    "flags = codeop.PyCF_DONT_IMPLY_DEDENT | codeop.PyCF_ALLOW_INCOMPLETE_INPUT\n"
    "flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT\n"
    "t = time.process_time()\n"
    "try:\n"
    "    compile(src, '<console>', 'single', flags)\n"
    "    how = 'compiles'\n"
    "except Exception as e:\n"
    "    how = type(e).__name__\n"
    "t = time.process_time() - t\n"
    "cc = codeop.CommandCompiler()\n"
    "cc.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT\n"
    "try:\n"
    "    verdict = 'complete' if cc(src, '<console>', 'single') else 'incomplete'\n"
    "except Exception:\n"
    "    verdict = 'error'\n"
    "print('%.3f %s %s' % (t, how, verdict))\n";

struct lines {
    char **line;
    size_t n, cap;
};

static void
add_line(struct lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->line = realloc(l->line, l->cap * sizeof *l->line);
        if (!l->line) {
            fprintf(stderr, "bench-pyparse: out of memory\n");
            exit(2);
        }
    }
    l->line[l->n] = strdup(s);
    if (!l->line[l->n]) {
        fprintf(stderr, "bench-pyparse: out of memory\n");
        exit(2);
    }
    l->n++;
}

static void
free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    free(l->line);
    memset(l, 0, sizeof *l);
}

/* CPU time of this thread: the machine is shared, and what others run
 * in the meantime must not count. */
static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
verdict_name(enum pyparse_verdict v)
{
    switch (v) {
    case PYPARSE_COMPLETE:
        return "complete";
    case PYPARSE_INCOMPLETE:
        return "incomplete";
    case PYPARSE_ERROR:
        return "error";
    case PYPARSE_NOTHING:
        return "nothing";
    default:
        return "?";
    }
}

/* The case's text, as the push loop joins its lines. */
static char *
joined(const struct lines *l, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->line[i]) + 1;
    char *s = malloc(n + 1);
    if (!s)
        exit(2);
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->line[i]);
        memcpy(s + o, l->line[i], k);
        o += k;
        if (i + 1 < l->n)
            s[o++] = '\n';
    }
    s[o] = '\0';
    *len = o;
    return s;
}

/* CPython's compile() of the text: "seconds how codeop-verdict". */
static void
run_python(const char *python, const char *text, size_t len, char *out, size_t outlen)
{
    int in[2], res[2];
    snprintf(out, outlen, "(not run)");
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, res[1], 1);
    char *argv[] = { (char *)python, (char *)"-I", (char *)"-c", (char *)python_script, NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(res[1]);
    if (rc != 0) {
        close(in[1]);
        close(res[0]);
        return;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(in[1], text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(in[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < outlen && (r = read(res[0], out + got, outlen - 1 - got)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    if (got && out[got - 1] == '\n')
        out[got - 1] = '\0';
    close(res[0]);
    int status;
    waitpid(pid, &status, 0);
}

struct result {
    double total, wall, worst_quick, worst_judge, judge_total;
    size_t judges;
    enum pyparse_verdict last;
};

/* The push loop through a pyparse_buf, as a front end runs it. */
static struct result
push_loop(const struct lines *l)
{
    struct result r = { 0 };
    struct pyparse_buf *b;
    if (pyparse_buf_new(&b, PYPARSE_TOP_LEVEL_AWAIT) < 0)
        exit(2);
    double t0 = now(), w0 = wall();
    for (size_t i = 0; i < l->n; i++) {
        /* per line, the wall clock: the CPU clock is a system call, which
         * would cost more than a push */
        double q0 = wall();
        if (pyparse_buf_push(b, l->line[i], strlen(l->line[i])) < 0)
            exit(2);
        size_t cost;
        enum pyparse_verdict v = pyparse_buf_quick(b, &cost);
        double q1 = wall();
        if (q1 - q0 > r.worst_quick)
            r.worst_quick = q1 - q0;
        if (v == PYPARSE_PENDING) {
            v = pyparse_buf_judge(b, NULL);
            double j = wall() - q1;
            r.judges++;
            r.judge_total += j;
            if (j > r.worst_judge)
                r.worst_judge = j;
        }
        r.last = v;
        if (v != PYPARSE_INCOMPLETE && i + 1 < l->n) {
            fprintf(stderr, "bench-pyparse: %s at line %zu of %zu\n", verdict_name(v), i + 1,
                    l->n);
            pyparse_buf_reset(b);
        }
    }
    r.total = now() - t0;
    r.wall = wall() - w0;
    pyparse_buf_free(b);
    return r;
}

/* The push loop before pyparse_buf: the whole buffer judged after every
 * line, up to limit seconds. Returns the seconds, *done the lines judged. */
static double
one_shot_loop(const struct lines *l, double limit, size_t *done)
{
    size_t len;
    char *text = joined(l, &len);
    double t0 = now();
    size_t off = 0;
    *done = 0;
    for (size_t i = 0; i < l->n; i++) {
        off += strlen(l->line[i]) + (i ? 1 : 0);
        pyparse_verdict_flags(text, off, PYPARSE_TOP_LEVEL_AWAIT);
        *done = i + 1;
        if (now() - t0 > limit)
            break;
    }
    double t = now() - t0;
    free(text);
    return t;
}

static void
make_case(const char *name, struct lines *l)
{
    char buf[64];
    if (strcmp(name, "decorators") == 0) {
        for (int i = 0; i < 8000; i++)
            add_line(l, "@d");
        add_line(l, "def f(): pass");
        add_line(l, "");
    }
    else if (strcmp(name, "list") == 0) {
        add_line(l, "x = [");
        for (int i = 0; i < 40000; i++) {
            snprintf(buf, sizeof buf, "    %d,", i);
            add_line(l, buf);
        }
        add_line(l, "]");
    }
    else if (strcmp(name, "block") == 0) {
        add_line(l, "def f():");
        for (int i = 0; i < 200000 - 2; i++) {
            snprintf(buf, sizeof buf, "    x%d = %d", i % 100, i);
            add_line(l, buf);
        }
        add_line(l, "");
    }
    else if (strcmp(name, "string") == 0) {
        add_line(l, "s = '''");
        for (int i = 0; i < 200000 - 2; i++)
            add_line(l, "a line of text in a long string");
        add_line(l, "'''");
    }
    else if (strcmp(name, "subscripts") == 0) {
        size_t n = 1 + 3 * 500000;
        char *s = malloc(n + 1);
        if (!s)
            exit(2);
        s[0] = 'a';
        for (size_t i = 0; i < 500000; i++)
            memcpy(s + 1 + 3 * i, "[0]", 3);
        s[n] = '\0';
        add_line(l, s);
        free(s);
    }
}

int
main(int argc, char **argv)
{
    const char *python = "/usr/bin/python3";
    const char *only = NULL;
    bool one_shot = false;
    double limit = 30;
    int repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--python") == 0 && i + 1 < argc)
            python = argv[++i];
        else if (strcmp(argv[i], "--one-shot") == 0)
            one_shot = true;
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-pyparse [--python PATH] [--one-shot] "
                            "[--limit SECONDS] [--only NAME] [--repeat N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    static const struct {
        const char *name, *what;
    } cases[] = {
        { "decorators", "8,000 '@d' lines, 'def f(): pass', a blank line" },
        { "list", "a 40,000-line list literal" },
        { "block", "200,000 lines: a function body and a blank line" },
        { "string", "200,000 lines: a triple-quoted string" },
        { "subscripts", "one line: 'a' and 500,000 times '[0]'" },
    };
    printf("Totals are CPU times of the thread (wall time in brackets); max-quick and max-judge\n"
           "are wall times of one line's push and quick, and of one judge.\n");
    printf("%-11s %8s %8s %9s %6s %9s %9s %-11s | %9s %-15s %-11s\n", "case", "lines", "total",
           "(wall)", "judges", "max-quick", "max-judge", "verdict", "py-compile", "", "codeop");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only && strcmp(only, cases[c].name) != 0)
            continue;
        struct lines l = { 0 };
        make_case(cases[c].name, &l);
        struct result r = push_loop(&l);
        for (int k = 1; k < repeat; k++) {
            struct result again = push_loop(&l);
            if (again.total < r.total)
                r = again;
        }
        size_t len;
        char *text = joined(&l, &len);
        double py_t = 0;
        char how[64] = "", verdict[64] = "";
        for (int k = 0; k < (repeat > 0 ? repeat : 1); k++) {
            char py[256];
            double t = 0;
            run_python(python, text, len, py, sizeof py);
            if (sscanf(py, "%lf %63s %63s", &t, how, verdict) == 3 && (k == 0 || t < py_t))
                py_t = t;
        }
        free(text);
        printf("%-11s %8zu %7.3fs (%6.3fs) %6zu %8.1fms %8.1fms %-11s | %8.3fs %-15s %-11s\n",
               cases[c].name, l.n, r.total, r.wall, r.judges, r.worst_quick * 1e3,
               r.worst_judge * 1e3, verdict_name(r.last), py_t, how, verdict);
        printf("            (%s; judges %.3f s in all)\n", cases[c].what, r.judge_total);
        if (one_shot) {
            size_t done;
            double t = one_shot_loop(&l, limit, &done);
            if (done < l.n)
                printf("            one-shot push loop: %.1f s for %zu of %zu lines, stopped\n", t,
                       done, l.n);
            else
                printf("            one-shot push loop: %.3f s\n", t);
        }
        fflush(stdout);
        free_lines(&l);
    }
    return 0;
}
