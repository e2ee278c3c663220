/* Differential test of the incomplete-input detector against CPython.
 *
 * Every line of every .py file under a directory (by default the standard
 * library, /usr/lib/python3.11) goes through the REPL's push loop: the
 * buffer grows line by line and is emptied when the verdict is complete or
 * error, as code.InteractiveConsole.push does. pyparse_verdict gives the C
 * verdict of each buffer; codeop.compile_command, run live by worker
 * processes of the reference interpreter (codeop_ref.py), gives Python's.
 *
 * compile_command on a growing buffer is quadratic in long statements
 * (pydoc_data/topics.py alone costs Python about two minutes), so the work
 * is cut into chunks of lines that start where the C side emptied its
 * buffer; the workers run them in parallel while the C side (two threads,
 * a file at a time each) goes on. As
 * long as both sides agree, this is exactly the sequential push loop;
 * the first disagreement of a file is exact, and later ones in that file
 * still compare the two verdicts on the very same buffer.
 *
 * Usage: pyparse-diff --script codeop_ref.py [--python /usr/bin/python3]
 *                     [--root DIR] [--jobs N] [--threads N] [--timeout SECONDS]
 */
#define _GNU_SOURCE
#include "pyparse.h"

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
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_WORKERS 16
#define MAX_THREADS 16
#define CHUNK_COST (24u << 20)      /* buffer bytes a chunk makes Python compile */
#define LINE_COST 2048              /* fixed cost of one compile_command call */
#define REPORT_MAX 5
#define KEEP_MAX 200

/* A file is computed by one C thread, which publishes its progress under
 * progress_lock (computed, all_computed, skipped); the main thread reads
 * the lines below computed and owns everything else. */
struct file {
    char *path;
    char *data;                     /* NULL once all its jobs are answered */
    size_t size;
    size_t nlines;
    size_t *off;                    /* line k is data[off[k] .. off[k+1]-1) */
    char *verdict;                  /* C verdict of each line */
    size_t *start;                  /* first line of each line's buffer */
    size_t computed;                /* lines with a C verdict so far */
    bool all_computed;
    bool skipped;
    size_t queued;                  /* lines handed to the workers */
    size_t cost_pos;                /* lines whose cost is counted */
    size_t queued_cost;             /* cost of lines counted, not yet queued */
    bool skip_queued;
    size_t pending;                 /* jobs not answered yet */
    bool released;
};

struct job {
    size_t file, start, first, end;
};

struct mismatch {
    size_t file, line;
    char c, py;
};

struct worker {
    pid_t pid;
    int in, out;                    /* its stdin (we write), stdout (we read) */
    long job;                       /* outstanding job or -1 */
    char *line;                     /* a reply being assembled */
    size_t line_len, line_cap;
};

static struct file *files;
static size_t nfiles, files_cap;
static struct job *jobs;
static size_t njobs, jobs_cap, next_job;
static struct mismatch kept[KEEP_MAX];
static size_t nkept;
static size_t agree, disagree, skipped_files, skip_mismatch;
static struct worker workers[MAX_WORKERS];
static int nworkers = 2;
static int nthreads = 2;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t next_to_compute;      /* under progress_lock */
static int progress_fd;             /* eventfd: a C thread made progress */
static const char *python = "/usr/bin/python3";
static const char *script;
/* 0: plain codeop.compile_command; PYPARSE_TOP_LEVEL_AWAIT: the asyncio
 * REPL's compiler, which is what the supervisor asks. */
static unsigned verdict_flags;
static double deadline;

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

/* .py files below dir in sorted order, as os.walk finds them: links to
 * files are followed, links to directories are not. */
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
        names[n++] = strdup(e->d_name);
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
        char *argv[] = { (char *)python, (char *)"-I", (char *)script,
                         verdict_flags ? (char *)"--top-level-await" : NULL, NULL };
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
    if (next_job >= njobs)
        return;
    size_t id = next_job++;
    struct job *j = &jobs[id];
    char *msg;
    int n;
    if (j->end == 0 && j->first == 0 && files[j->file].skipped)
        n = asprintf(&msg, "U %zu %s\n", id, files[j->file].path);
    else
        n = asprintf(&msg, "J %zu %zu %zu %zu %s\n", id, j->start, j->first, j->end,
                     files[j->file].path);
    if (n < 0)
        exit(2);
    write_all(w->in, msg, (size_t)n);
    free(msg);
    w->job = (long)id;
}

static void
add_job(size_t file, size_t start, size_t first, size_t end)
{
    if (njobs == jobs_cap) {
        jobs_cap = jobs_cap ? jobs_cap * 2 : 1024;
        jobs = xrealloc(jobs, jobs_cap * sizeof *jobs);
    }
    jobs[njobs++] = (struct job){ file, start, first, end };
    files[file].pending++;
    for (int i = 0; i < nworkers; i++)
        if (workers[i].job < 0)
            give_job(&workers[i]);
}

static void
release(struct file *f)
{
    f->released = true;
    free(f->data);
    free(f->off);
    free(f->verdict);
    free(f->start);
    f->data = NULL;
    f->off = NULL;
    f->verdict = NULL;
    f->start = NULL;
}

static void
keep_mismatch(size_t file, size_t line, char c, char py)
{
    if (nkept < KEEP_MAX) {
        kept[nkept++] = (struct mismatch){ file, line, c, py };
        return;
    }
    /* keep the earliest ones */
    size_t worst = 0;
    for (size_t i = 1; i < KEEP_MAX; i++)
        if (kept[i].file > kept[worst].file ||
            (kept[i].file == kept[worst].file && kept[i].line > kept[worst].line))
            worst = i;
    if (file < kept[worst].file || (file == kept[worst].file && line < kept[worst].line))
        kept[worst] = (struct mismatch){ file, line, c, py };
}

static void
handle_reply(struct worker *w, char *line)
{
    char *sp = strchr(line, ' ');
    char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
    if (!sp || !sp2) {
        fprintf(stderr, "pyparse-diff: bad reply from the reference: %.80s\n", line);
        exit(2);
    }
    size_t id = strtoul(sp + 1, NULL, 10);
    if (id >= njobs || (long)id != w->job) {
        fprintf(stderr, "pyparse-diff: reply to an unknown job\n");
        exit(2);
    }
    struct job *j = &jobs[id];
    struct file *f = &files[j->file];
    const char *v = sp2 + 1;
    if (line[0] == 'U') {
        if (*v != '1') {
            skip_mismatch++;
            fprintf(stderr, "pyparse-diff: %s: skipped as not UTF-8, but Python reads it\n",
                    f->path);
        }
    }
    else {
        if (strlen(v) != j->end - j->first) {
            fprintf(stderr, "pyparse-diff: reply of the wrong length for %s\n", f->path);
            exit(2);
        }
        for (size_t k = j->first; k < j->end; k++) {
            char py = v[k - j->first];
            if (py == f->verdict[k]) {
                agree++;
            }
            else {
                disagree++;
                keep_mismatch(j->file, k, f->verdict[k], py);
            }
        }
    }
    w->job = -1;
    f->pending--;
    give_job(w);
}

/* Reads what the workers have written; waits at most timeout_ms. */
static void
pump(int timeout_ms)
{
    struct pollfd pfd[MAX_WORKERS + 1];
    int n = 0;
    for (int i = 0; i < nworkers; i++) {
        pfd[n].fd = workers[i].out;
        pfd[n].events = POLLIN;
        n++;
    }
    pfd[n].fd = progress_fd;
    pfd[n].events = POLLIN;
    int r = poll(pfd, (nfds_t)n + 1, timeout_ms);
    if (r < 0 && errno != EINTR) {
        perror("pyparse-diff: poll");
        exit(2);
    }
    if (r > 0 && (pfd[n].revents & POLLIN)) {
        uint64_t count;
        if (read(progress_fd, &count, sizeof count) < 0 && errno != EAGAIN) {
            perror("pyparse-diff: eventfd");
            exit(2);
        }
    }
    for (int i = 0; i < n && r > 0; i++) {
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

static char
verdict_letter(enum pyparse_verdict v)
{
    return v == PYPARSE_COMPLETE ? 'C' : v == PYPARSE_INCOMPLETE ? 'I' : 'E';
}

static void
signal_progress(void)
{
    uint64_t one = 1;
    if (write(progress_fd, &one, sizeof one) < 0 && errno != EAGAIN) {
        perror("pyparse-diff: eventfd");
        exit(2);
    }
}

/* C verdicts of one file, published line by line. */
static void
compute_file(struct file *f)
{
    if (!read_file(f) || !utf8_ok((unsigned char *)f->data, f->size)) {
        pthread_mutex_lock(&progress_lock);
        f->skipped = true;
        f->all_computed = true;
        pthread_mutex_unlock(&progress_lock);
        signal_progress();
        return;
    }
    size_t cap = 1024;
    size_t *off = xrealloc(NULL, cap * sizeof *off);
    size_t n = 0, pos = 0;
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
    f->off = off;
    f->nlines = n;
    f->verdict = xrealloc(NULL, n + 1);
    f->start = xrealloc(NULL, (n + 1) * sizeof *f->start);
    size_t start = 0, since = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len = off[k + 1] - 1 - off[start];
        f->start[k] = start;
        f->verdict[k] = verdict_letter(pyparse_verdict_flags(f->data + off[start], len, verdict_flags));
        if (f->verdict[k] != 'I')
            start = k + 1;
        since += len + LINE_COST;
        if (since >= CHUNK_COST / 4 || k + 1 == n) {
            pthread_mutex_lock(&progress_lock);
            f->computed = k + 1;
            pthread_mutex_unlock(&progress_lock);
            signal_progress();
            since = 0;
        }
    }
    pthread_mutex_lock(&progress_lock);
    f->computed = n;
    f->all_computed = true;
    pthread_mutex_unlock(&progress_lock);
    signal_progress();
}

static void *
compute_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&progress_lock);
        size_t idx = next_to_compute++;
        pthread_mutex_unlock(&progress_lock);
        if (idx >= nfiles)
            return NULL;
        compute_file(&files[idx]);
    }
}

/* Hands the workers chunks of the lines computed so far, and releases the
 * files that are done; returns true when every file is. */
static bool
queue_ready(void)
{
    bool finished = true;
    for (size_t i = 0; i < nfiles; i++) {
        struct file *f = &files[i];
        if (f->released)
            continue;
        pthread_mutex_lock(&progress_lock);
        size_t computed = f->computed;
        bool all = f->all_computed, skipped = f->skipped;
        pthread_mutex_unlock(&progress_lock);
        if (skipped && !f->skip_queued) {
            skipped_files++;
            f->skip_queued = true;
            add_job(i, 0, 0, 0);
        }
        for (; !skipped && f->cost_pos < computed; f->cost_pos++) {
            size_t k = f->cost_pos;
            f->queued_cost += f->off[k + 1] - 1 - f->off[f->start[k]] + LINE_COST;
            if (f->queued_cost >= CHUNK_COST) {
                add_job(i, f->start[f->queued], f->queued, k + 1);
                f->queued = k + 1;
                f->queued_cost = 0;
            }
        }
        if (all && !skipped && f->queued < f->nlines) {
            add_job(i, f->start[f->queued], f->queued, f->nlines);
            f->queued = f->nlines;
        }
        if (all && f->pending == 0 && (skipped || f->queued == f->nlines))
            release(f);
        else
            finished = false;
    }
    return finished;
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

static int
cmp_mismatch(const void *a, const void *b)
{
    const struct mismatch *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void
report(void)
{
    qsort(kept, nkept, sizeof *kept, cmp_mismatch);
    for (size_t i = 0; i < nkept && i < REPORT_MAX; i++) {
        struct mismatch *m = &kept[i];
        struct file f = { .path = files[m->file].path };
        printf("  %s:%zu: C says %c, Python says %c; buffer:\n    ", f.path, m->line + 1,
               m->c, m->py);
        if (!read_file(&f)) {
            printf("(unreadable)\n");
            continue;
        }
        /* recompute the buffer start as the C side saw it */
        size_t off = 0, line = 0, bstart = 0;
        size_t *offs = xrealloc(NULL, (m->line + 2) * sizeof *offs);
        while (line <= m->line && off <= f.size) {
            offs[line] = off;
            const char *nl = memchr(f.data + off, '\n', f.size - off);
            off = nl ? (size_t)(nl - f.data) + 1 : f.size + 1;
            line++;
        }
        offs[line] = off;
        for (size_t k = 0; k < m->line; k++) {
            size_t len = offs[k + 1] - 1 - offs[bstart];
            if (pyparse_verdict_flags(f.data + offs[bstart], len, verdict_flags) != PYPARSE_INCOMPLETE)
                bstart = k + 1;
        }
        print_buffer(f.data + offs[bstart], offs[m->line + 1] - 1 - offs[bstart]);
        free(offs);
        free(f.data);
    }
}

int
main(int argc, char **argv)
{
    const char *root = "/usr/lib/python3.11";
    double limit = 1800;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--script") == 0 && i + 1 < argc)
            script = argv[++i];
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
        else if (strcmp(argv[i], "--top-level-await") == 0)
            verdict_flags = PYPARSE_TOP_LEVEL_AWAIT;
        else {
            fprintf(stderr, "usage: pyparse-diff --script codeop_ref.py [--python PATH] "
                            "[--root DIR] [--jobs N] [--threads N] [--timeout SECONDS] "
                            "[--top-level-await]\n");
            return 2;
        }
    }
    if (!script || nworkers < 1 || nworkers > MAX_WORKERS || nthreads < 1 ||
        nthreads > MAX_THREADS) {
        fprintf(stderr, "pyparse-diff: --script is required; --jobs and --threads 1..%d\n",
                MAX_WORKERS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    double t0 = now();
    deadline = t0 + limit;
    collect(root);
    if (nfiles == 0) {
        fprintf(stderr, "pyparse-diff: no .py files under %s\n", root);
        printf("pyparse-diff: 0 passed, 1 failed\n");
        return 1;
    }
    spawn_workers();
    progress_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (progress_fd < 0) {
        perror("pyparse-diff: eventfd");
        return 2;
    }
    pthread_t threads[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&threads[i], NULL, compute_thread, NULL);
        if (rc != 0) {
            fprintf(stderr, "pyparse-diff: pthread_create: %s\n", strerror(rc));
            return 2;
        }
    }
    double c_done = 0;
    while (!queue_ready()) {
        pump(1000);
        if (c_done == 0) {
            pthread_mutex_lock(&progress_lock);
            bool all = next_to_compute >= nfiles + (size_t)nthreads;
            pthread_mutex_unlock(&progress_lock);
            if (all)
                c_done = now();
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    if (c_done == 0)
        c_done = now();
    close(progress_fd);
    for (int i = 0; i < nworkers; i++) {
        close(workers[i].in);
        int status;
        waitpid(workers[i].pid, &status, 0);
        free(workers[i].line);
    }
    size_t total = agree + disagree;
    printf("pyparse-diff: %zu/%zu verdicts agree (%zu files, %zu skipped as not UTF-8; "
           "C side %.1f s in %d threads, total %.1f s, %d reference workers)\n",
           agree, total, nfiles, skipped_files, c_done - t0, nthreads, now() - t0, nworkers);
    if (disagree)
        report();
    bool ok = disagree == 0 && skip_mismatch == 0 && total > 0;
    for (size_t i = 0; i < nfiles; i++) {
        release(&files[i]);
        free(files[i].path);
    }
    free(files);
    free(jobs);
    printf("pyparse-diff: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
