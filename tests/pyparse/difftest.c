/* Differential test of the incomplete-input detector against CPython.
 *
 * Every line of every .py file under a directory (by default the standard
 * library, /usr/lib/python3.11) goes through the REPL's push loop, as
 * code.InteractiveConsole.push does it: one pyparse_buf per file, a line
 * pushed at a time, the buffer reset when the verdict is complete or
 * error. The C verdicts are compared with codeop's:
 *
 *  - as stored in tests/pyparse/reference.txt.gz (make_reference.py),
 *    keyed by the reference Python's version and each file's sha256, so
 *    a run costs the C side only;
 *  - computed live by /usr/bin/python3 (codeop_ref.py workers) for a
 *    random sample of the stored files, a few seconds' worth (--sample,
 *    seeded by --seed or the clock), which must also agree with the store:
 *    a store gone stale (another Python build, a changed codeop) shows;
 *  - computed live for every file the store does not hold (another
 *    Python build, other files), and for all of them when the reference
 *    interpreter is not the version the store was made with, or with
 *    --all-live.
 *
 * Usage: pyparse-diff --script codeop_ref.py [--reference reference.txt.gz]
 *                     [--python /usr/bin/python3] [--root DIR]
 *                     [--top-level-await] [--exact] [--jobs N] [--threads N]
 *                     [--sample SECONDS] [--seed N] [--all-live]
 *                     [--timeout SECONDS]
 */
#define _GNU_SOURCE
#include "pyparse.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

extern char **environ;

#define MAX_WORKERS 16
#define MAX_THREADS 16
#define REPORT_MAX 5
/* What codeop costs on this machine, in seconds: a call costs about
 * LINE_SECONDS, and compiling the buffer at least BUFFER_LINE_SECONDS a
 * line in it and a byte per BYTES_PER_SECOND (argparse.py: 2600 calls in
 * 41 ms; html/entities.py, one dict of 2231 lines: 2.5 million lines
 * compiled in 28 s; pydoc_data/topics.py, mostly long strings: 5.7 GB
 * compiled in 120 s). */
#define LINE_SECONDS 15e-6
#define BUFFER_LINE_SECONDS 11e-6
#define BYTES_PER_SECOND 50e6

struct ref {
    uint8_t sha[32];
    char *verdict[2];               /* plain, top-level await; "U": not UTF-8 */
};

struct file {
    char *path;
    char *data;
    size_t size;
    bool utf8;
    uint8_t sha[32];
    size_t nlines;
    char *c_verdict;                /* C side, one letter a line */
    size_t *start;                  /* first line of each line's buffer */
    const struct ref *ref;          /* stored verdicts, or NULL */
    bool live_wanted, sampled;
    char *live;                     /* live verdicts, once answered */
    double live_started, live_seconds;
};

struct worker {
    pid_t pid;
    int in, out;
    long job;                       /* file index being computed, or -1 */
    char *line;
    size_t line_len, line_cap;
};

static struct file *files;
static size_t nfiles, files_cap;
static struct ref *refs;
static size_t nrefs;
static char *ref_python;            /* the store's version line */
static struct worker workers[MAX_WORKERS];
static int nworkers = 2;
static int nthreads = 2;
static size_t next_live;            /* next file to consider for a live job */
static bool jobs_open;              /* live jobs chosen: hand them out */
static pthread_mutex_t compute_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t next_to_compute;
static const char *python = "/usr/bin/python3";
static const char *script;
static unsigned buf_flags;
static int flag_index;              /* 0 plain, 1 top-level await */
static double deadline;
static char *live_python;           /* the version the workers report */

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "pyparse-diff: out of memory\n");
        exit(2);
    }
    return q;
}

static char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* .py files below dir in sorted order, as make_reference.py finds them:
 * links to files are followed, links to directories are not. */
static void
collect(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *path;
        struct stat st;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
            exit(2);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            collect(path);
            free(path);
        }
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && strlen(names[i]) > 3 &&
                 strcmp(names[i] + strlen(names[i]) - 3, ".py") == 0 &&
                 !strchr(path, '\n')) {
            if (nfiles == files_cap) {
                files_cap = files_cap ? files_cap * 2 : 256;
                files = xrealloc(files, files_cap * sizeof *files);
            }
            memset(&files[nfiles], 0, sizeof files[nfiles]);
            files[nfiles++].path = path;
        }
        else {
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

/* Strict UTF-8, as bytes.decode('utf-8') accepts it. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            k = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        }
        else
            return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n)
                return false;
            unsigned b = s[i + j];
            if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
                return false;
        }
        i += k + 1;
    }
    return true;
}

static bool
read_file(struct file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return false;
    }
    f->data = xrealloc(NULL, (size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, f->data + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    f->size = got;
    return true;
}

/* --- the store ----------------------------------------------------------- */

static int
cmp_ref(const void *a, const void *b)
{
    return memcmp(((const struct ref *)a)->sha, ((const struct ref *)b)->sha, 32);
}

static bool
parse_hex(const char *s, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return s[64] == ' ';
}

/* Reads one line of any length; NULL at the end. */
static char *
gz_line(gzFile gz, char **buf, size_t *cap)
{
    size_t len = 0;
    for (;;) {
        if (*cap - len < 4096) {
            *cap = *cap ? *cap * 2 : 1 << 16;
            *buf = xrealloc(*buf, *cap);
        }
        if (!gzgets(gz, *buf + len, (int)(*cap - len)))
            return len ? *buf : NULL;
        len += strlen(*buf + len);
        if (len && (*buf)[len - 1] == '\n') {
            (*buf)[len - 1] = '\0';
            return *buf;
        }
    }
}

static bool
load_store(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return false;
    char *line = NULL;
    size_t cap = 0, n = 0, refs_cap = 0;
    bool ok = true;
    while (gz_line(gz, &line, &cap)) {
        n++;
        if (n == 1) {
            ok = strcmp(line, "pyparse-reference 1") == 0;
            if (!ok)
                break;
            continue;
        }
        if (strncmp(line, "python ", 7) == 0) {
            ref_python = xstrdup(line + 7);
            continue;
        }
        if (strncmp(line, "root ", 5) == 0)
            continue;
        struct ref r;
        char *plain, *tla, *save;
        if (!parse_hex(line, r.sha) || !(plain = strtok_r(line + 65, " ", &save)) ||
            !(tla = strtok_r(NULL, " ", &save))) {
            ok = false;
            break;
        }
        r.verdict[0] = xstrdup(strcmp(plain, "-") == 0 ? "" : plain);   /* no lines */
        r.verdict[1] = xstrdup(strcmp(tla, "-") == 0 ? "" : tla);
        if (nrefs == refs_cap) {
            refs_cap = refs_cap ? refs_cap * 2 : 1024;
            refs = xrealloc(refs, refs_cap * sizeof *refs);
        }
        refs[nrefs++] = r;
    }
    free(line);
    gzclose(gz);
    if (!ok || !ref_python) {
        fprintf(stderr, "pyparse-diff: %s: not a reference store\n", path);
        return false;
    }
    qsort(refs, nrefs, sizeof *refs, cmp_ref);
    return true;
}

static const struct ref *
find_ref(const uint8_t sha[32])
{
    struct ref key;
    memcpy(key.sha, sha, 32);
    return bsearch(&key, refs, nrefs, sizeof *refs, cmp_ref);
}

/* --- the C side ---------------------------------------------------------- */

static char
letter(enum pyparse_verdict v)
{
    switch (v) {
    case PYPARSE_COMPLETE:
    case PYPARSE_NOTHING:
        return 'C';
    case PYPARSE_INCOMPLETE:
        return 'I';
    default:
        return 'E';
    }
}

/* The lines of f as the push loop gets them: line k is
 * data[off[k] .. off[k + 1] - 1). */
static size_t *
line_offsets(const struct file *f, size_t *nlines)
{
    size_t cap = 1024, n = 0, pos = 0;
    size_t *off = xrealloc(NULL, cap * sizeof *off);
    while (pos < f->size) {
        if (n + 2 >= cap) {
            cap *= 2;
            off = xrealloc(off, cap * sizeof *off);
        }
        off[n++] = pos;
        const char *nl = memchr(f->data + pos, '\n', f->size - pos);
        pos = nl ? (size_t)(nl - f->data) + 1 : f->size + 1;
    }
    off[n] = pos;
    *nlines = n;
    return off;
}

static void
compute_file(struct file *f)
{
    if (!f->utf8) {
        f->c_verdict = xstrdup("U");
        return;
    }
    size_t n;
    size_t *off = line_offsets(f, &n);
    struct pyparse_buf *b;
    if (pyparse_buf_new(&b, buf_flags) < 0) {
        fprintf(stderr, "pyparse-diff: out of memory\n");
        exit(2);
    }
    f->nlines = n;
    f->c_verdict = xrealloc(NULL, n + 1);
    f->start = xrealloc(NULL, (n + 1) * sizeof *f->start);
    size_t start = 0;
    for (size_t k = 0; k < n; k++) {
        f->start[k] = start;
        if (pyparse_buf_push(b, f->data + off[k], off[k + 1] - 1 - off[k]) < 0) {
            fprintf(stderr, "pyparse-diff: pyparse_buf_push failed\n");
            exit(2);
        }
        char v = letter(pyparse_buf_judge(b, NULL));
        f->c_verdict[k] = v;
        if (v != 'I') {
            pyparse_buf_reset(b);
            start = k + 1;
        }
    }
    f->c_verdict[n] = '\0';
    pyparse_buf_free(b);
    free(off);
}

static int threads_done;            /* under compute_lock */

static void *
compute_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&compute_lock);
        size_t idx = next_to_compute++;
        if (idx >= nfiles)
            threads_done++;
        pthread_mutex_unlock(&compute_lock);
        if (idx >= nfiles)
            return NULL;
        compute_file(&files[idx]);
    }
}

static bool
c_side_done(void)
{
    pthread_mutex_lock(&compute_lock);
    bool done = threads_done == nthreads;
    pthread_mutex_unlock(&compute_lock);
    return done;
}

/* --- the live reference -------------------------------------------------- */

static void
spawn_workers(void)
{
    for (int i = 0; i < nworkers; i++) {
        int to[2], from[2];
        if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
            perror("pyparse-diff: pipe");
            exit(2);
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, to[0], 0);
        posix_spawn_file_actions_adddup2(&fa, from[1], 1);
        char *argv[] = { (char *)python, (char *)"-I", (char *)script, NULL };
        int rc = posix_spawn(&workers[i].pid, python, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            fprintf(stderr, "pyparse-diff: cannot run %s: %s\n", python, strerror(rc));
            exit(2);
        }
        close(to[0]);
        close(from[1]);
        workers[i].in = to[1];
        workers[i].out = from[0];
        workers[i].job = -1;
    }
}

static void
write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "pyparse-diff: a reference worker went away\n");
            exit(2);
        }
        s += w;
        n -= (size_t)w;
    }
}

static void
give_job(struct worker *w)
{
    if (!jobs_open)
        return;
    while (next_live < nfiles && !files[next_live].live_wanted)
        next_live++;
    if (next_live >= nfiles)
        return;
    size_t id = next_live++;
    char *msg;
    int n = asprintf(&msg, "F %zu %d %s\n", id, flag_index, files[id].path);
    if (n < 0)
        exit(2);
    write_all(w->in, msg, (size_t)n);
    free(msg);
    w->job = (long)id;
    files[id].live_started = now();
}

static void
handle_reply(struct worker *w, char *line)
{
    if (line[0] == 'V' && line[1] == ' ') {
        live_python = xstrdup(line + 2);
        w->job = -1;
        return;
    }
    char *sp = strchr(line, ' ');
    char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
    if (line[0] != 'R' || !sp || !sp2) {
        fprintf(stderr, "pyparse-diff: bad reply from the reference: %.80s\n", line);
        exit(2);
    }
    size_t id = strtoul(sp + 1, NULL, 10);
    if ((long)id != w->job) {
        fprintf(stderr, "pyparse-diff: reply to an unknown job\n");
        exit(2);
    }
    files[id].live = xstrdup(sp2 + 1);
    files[id].live_seconds = now() - files[id].live_started;
    w->job = -1;
}

/* Reads what the workers have written; waits at most timeout_ms. */
static void
pump(int timeout_ms)
{
    struct pollfd pfd[MAX_WORKERS];
    for (int i = 0; i < nworkers; i++) {
        pfd[i].fd = workers[i].out;
        pfd[i].events = POLLIN;
    }
    int r = poll(pfd, (nfds_t)nworkers, timeout_ms);
    if (r < 0 && errno != EINTR) {
        perror("pyparse-diff: poll");
        exit(2);
    }
    for (int i = 0; i < nworkers && r > 0; i++) {
        if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        struct worker *w = &workers[i];
        char chunk[1 << 16];
        ssize_t got = read(w->out, chunk, sizeof chunk);
        if (got <= 0) {
            fprintf(stderr, "pyparse-diff: reference worker %d died\n", (int)w->pid);
            exit(2);
        }
        for (ssize_t k = 0; k < got; k++) {
            if (w->line_len + 1 >= w->line_cap) {
                w->line_cap = w->line_cap ? w->line_cap * 2 : 4096;
                w->line = xrealloc(w->line, w->line_cap);
            }
            if (chunk[k] == '\n') {
                w->line[w->line_len] = 0;
                handle_reply(w, w->line);
                w->line_len = 0;
                give_job(w);
                continue;
            }
            w->line[w->line_len++] = chunk[k];
        }
    }
    if (now() > deadline) {
        fprintf(stderr, "pyparse-diff: gave up: over the time limit\n");
        exit(2);
    }
}

static bool
workers_busy(void)
{
    for (int i = 0; i < nworkers; i++)
        if (workers[i].job != -1)
            return true;
    return false;
}

/* What codeop spends on f's push loop (seconds), as the store's verdicts
 * cut it into buffers. */
static double
live_cost(const struct file *f)
{
    const char *v = f->ref->verdict[flag_index];
    double seconds = 0, bytes = 0, lines = 0;
    size_t pos = 0;
    for (size_t k = 0; v[k] && pos < f->size; k++) {
        const char *nl = memchr(f->data + pos, '\n', f->size - pos);
        size_t end = nl ? (size_t)(nl - f->data) + 1 : f->size;
        bytes += (double)(end - pos);
        lines++;
        double by_lines = lines * BUFFER_LINE_SECONDS, by_bytes = bytes / BYTES_PER_SECOND;
        seconds += LINE_SECONDS + (by_lines > by_bytes ? by_lines : by_bytes);
        if (v[k] != 'I')
            bytes = lines = 0;
        pos = end;
    }
    return seconds;
}

/* A random sample of the stored files worth about seconds of codeop. */
static size_t
choose_sample(double seconds, unsigned seed, double *cost_out)
{
    size_t *order = xrealloc(NULL, nfiles * sizeof *order);
    size_t n = 0, chosen = 0;
    double cost = 0, budget = seconds * nworkers;
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].ref && !files[i].live_wanted && files[i].ref->verdict[0][0] != 'U')
            order[n++] = i;
    for (size_t i = n; i > 1; i--) {    /* Fisher-Yates */
        seed = seed * 1103515245u + 12345u;
        size_t j = (size_t)((seed >> 8) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n && cost < budget; i++) {
        struct file *f = &files[order[i]];
        double c = live_cost(f);
        if (cost + c > budget * 1.25)
            continue;   /* too big for what is left */
        f->live_wanted = f->sampled = true;
        cost += c;
        chosen++;
    }
    free(order);
    *cost_out = cost;
    return chosen;
}

/* --- comparing ----------------------------------------------------------- */

struct mismatch {
    size_t file, line;
    char c, want;
    const char *against;
};

static struct mismatch kept[REPORT_MAX];
static size_t nkept;

static size_t
compare(size_t fi, const char *want, const char *against, size_t *agree)
{
    struct file *f = &files[fi];
    size_t bad = 0;
    if (strcmp(want, "U") == 0 || strcmp(f->c_verdict, "U") == 0) {
        if (strcmp(want, f->c_verdict) != 0) {
            fprintf(stderr, "pyparse-diff: %s: UTF-8 %s here, not for the %s\n", f->path,
                    f->utf8 ? "valid" : "invalid", against);
            return 1;
        }
        return 0;
    }
    if (strlen(want) != f->nlines) {
        fprintf(stderr, "pyparse-diff: %s: %zu verdicts from the %s, %zu lines\n", f->path,
                strlen(want), against, f->nlines);
        return 1;
    }
    for (size_t k = 0; k < f->nlines; k++) {
        if (want[k] == f->c_verdict[k]) {
            (*agree)++;
            continue;
        }
        bad++;
        if (nkept < REPORT_MAX)
            kept[nkept++] = (struct mismatch){ fi, k, f->c_verdict[k], want[k], against };
    }
    return bad;
}

static void
print_buffer(const char *s, size_t n)
{
    size_t shown = n > 300 ? 300 : n;
    if (n > 300) {
        s += n - 300;
        printf("...");
    }
    putchar('\'');
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            printf("\\n");
        else if (c == '\\' || c == '\'')
            printf("\\%c", c);
        else if (c < 32 || c == 127)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("'\n");
}

static void
report(void)
{
    for (size_t i = 0; i < nkept; i++) {
        struct mismatch *m = &kept[i];
        struct file *f = &files[m->file];
        printf("  %s:%zu: C says %c, the %s %c; buffer:\n    ", f->path, m->line + 1, m->c,
               m->against, m->want);
        size_t n;
        size_t *off = line_offsets(f, &n);
        size_t from = off[f->start[m->line]];
        print_buffer(f->data + from, off[m->line + 1] - 1 - from);
        free(off);
    }
}

int
main(int argc, char **argv)
{
    const char *root = "/usr/lib/python3.11";
    const char *store = NULL;
    double limit = 1800, sample = 4;
    bool all_live = false, seeded = false;
    unsigned seed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--script") == 0 && i + 1 < argc)
            script = argv[++i];
        else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc)
            store = argv[++i];
        else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc)
            python = argv[++i];
        else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
            root = argv[++i];
        else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            nworkers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            limit = atof(argv[++i]);
        else if (strcmp(argv[i], "--sample") == 0 && i + 1 < argc)
            sample = atof(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
            seeded = true;
        }
        else if (strcmp(argv[i], "--all-live") == 0)
            all_live = true;
        else if (strcmp(argv[i], "--top-level-await") == 0) {
            buf_flags |= PYPARSE_TOP_LEVEL_AWAIT;
            flag_index = 1;
        }
        else if (strcmp(argv[i], "--exact") == 0)
            buf_flags |= PYPARSE_BUF_EXACT;
        else {
            fprintf(stderr, "usage: pyparse-diff --script codeop_ref.py [--reference FILE] "
                            "[--python PATH] [--root DIR] [--top-level-await] [--exact] "
                            "[--jobs N] [--threads N] [--sample SECONDS] [--seed N] "
                            "[--all-live] [--timeout SECONDS]\n");
            return 2;
        }
    }
    if (!script || nworkers < 1 || nworkers > MAX_WORKERS || nthreads < 1 ||
        nthreads > MAX_THREADS) {
        fprintf(stderr, "pyparse-diff: --script is required; --jobs and --threads 1..%d\n",
                MAX_WORKERS);
        return 2;
    }
    if (!seeded)
        seed = (unsigned)time(NULL);
    signal(SIGPIPE, SIG_IGN);
    double t0 = now();
    deadline = t0 + limit;
    collect(root);
    if (nfiles == 0) {
        fprintf(stderr, "pyparse-diff: no .py files under %s\n", root);
        printf("pyparse-diff: 0 passed, 1 failed\n");
        return 1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        struct file *f = &files[i];
        if (!read_file(f)) {
            fprintf(stderr, "pyparse-diff: cannot read %s\n", f->path);
            return 2;
        }
        f->utf8 = utf8_ok((unsigned char *)f->data, f->size);
        sha256(f->data, f->size, f->sha);
    }

    /* the reference: the store where it applies, live elsewhere */
    spawn_workers();
    write_all(workers[0].in, "V\n", 2);
    workers[0].job = -2;
    while (!live_python)
        pump(1000);
    bool store_ok = store && !all_live && load_store(store);
    if (store_ok && strcmp(ref_python, live_python) != 0) {
        printf("pyparse-diff: the store was made by Python %s, the reference here is %s: "
               "every file is checked live\n", ref_python, live_python);
        store_ok = false;
    }
    size_t stored = 0, live_only = 0;
    for (size_t i = 0; i < nfiles; i++) {
        files[i].ref = store_ok ? find_ref(files[i].sha) : NULL;
        if (files[i].ref)
            stored++;
        else
            files[i].live_wanted = true, live_only++;
    }
    double sample_cost = 0;
    size_t sampled = store_ok ? choose_sample(sample, seed, &sample_cost) : 0;
    jobs_open = true;
    for (int i = 0; i < nworkers; i++)
        give_job(&workers[i]);

    /* the C side, meanwhile */
    pthread_t threads[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&threads[i], NULL, compute_thread, NULL);
        if (rc != 0) {
            fprintf(stderr, "pyparse-diff: pthread_create: %s\n", strerror(rc));
            return 2;
        }
    }
    /* the workers' answers are read meanwhile, so that they keep busy */
    while (!c_side_done())
        pump(50);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    double c_done = now();
    while (workers_busy())
        pump(1000);
    double all_done = now();
    for (int i = 0; i < nworkers; i++) {
        close(workers[i].in);
        int status;
        waitpid(workers[i].pid, &status, 0);
        free(workers[i].line);
    }

    size_t agree = 0, disagree = 0, stale = 0, live_agree = 0;
    for (size_t i = 0; i < nfiles; i++) {
        struct file *f = &files[i];
        if (f->ref) {
            disagree += compare(i, f->ref->verdict[flag_index], "store", &agree);
            if (f->sampled && strcmp(f->live, f->ref->verdict[flag_index]) != 0) {
                stale++;
                fprintf(stderr, "pyparse-diff: %s: the live reference disagrees with the "
                                "store: regenerate it (tests/pyparse/make_reference.py)\n",
                        f->path);
            }
        }
        else {
            disagree += compare(i, f->live, "live reference", &agree);
        }
        if (f->sampled)
            disagree += compare(i, f->live, "live reference", &live_agree);
    }
    printf("pyparse-diff%s%s: %zu/%zu lines agree (%zu files: %zu from the store, %zu live; "
           "C side %.1f s in %d threads, total %.1f s)\n",
           flag_index ? " --top-level-await" : "", (buf_flags & PYPARSE_BUF_EXACT) ? " --exact" : "",
           agree, agree + disagree, nfiles, stored, live_only, c_done - t0, nthreads,
           all_done - t0);
    if (store_ok)
        printf("pyparse-diff: live sample (seed %u, about %.1f s of codeop): %zu files, %zu "
               "lines, the store agrees: %s\n", seed, sample_cost / nworkers,
               sampled, live_agree, stale ? "NO" : "yes");
    if (getenv("PYPARSE_DIFF_TIMES")) {
        for (size_t i = 0; i < nfiles; i++)
            if (files[i].live)
                printf("live %.3f s, estimated %.3f s: %s\n", files[i].live_seconds,
                       files[i].ref ? live_cost(&files[i]) : 0.0, files[i].path);
    }
    if (disagree)
        report();
    bool ok = disagree == 0 && stale == 0 && agree > 0 && (!store_ok || sampled > 0);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].path);
        free(files[i].data);
        free(files[i].c_verdict);
        free(files[i].start);
        free(files[i].live);
    }
    free(files);
    for (size_t i = 0; i < nrefs; i++) {
        free(refs[i].verdict[0]);
        free(refs[i].verdict[1]);
    }
    free(refs);
    free(ref_python);
    free(live_python);
    printf("pyparse-diff: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
