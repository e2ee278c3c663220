/* Each transcript in transcripts/ runs through the real executor and
 * through the reference, `/usr/bin/python3 -m asyncio`, in the same run;
 * what the two write to stdout and to stderr must match byte for byte,
 * apart from what the reference adds around a session (prompts, banner,
 * exit message), the internal frames its tracebacks wrongly show, and
 * object addresses. The statements are split as CPython's console splits
 * them (split_console.py, run by the reference interpreter).
 *
 * Not here: T06 of the shared cases, whose reference output depends on
 * thread scheduling inside CPython (a background task gets one more tick
 * in some runs); test_executor.c checks that behaviour instead. */
#define _GNU_SOURCE
#include "config.h"
#include "xproc.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFERENCE "/usr/bin/python3"

static char **cases;
static size_t ncases;

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_cases(void)
{
    const char *dir = env_or("AIOBOX_TRANSCRIPTS", "transcripts");
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return;
    }
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".in") != 0)
            continue;
        cases = realloc(cases, (ncases + 1) * sizeof *cases);
        if (!cases || asprintf(&cases[ncases], "%s/%s", dir, e->d_name) < 0)
            abort();
        ncases++;
    }
    closedir(d);
    qsort(cases, ncases, sizeof *cases, by_name);
}

static char *read_file(const char *path)
{
    struct xp_buf b = {0};
    char buf[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    ck_assert_msg(f != NULL, "cannot open %s", path);
    xp_buf_add(&b, "", 0);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        xp_buf_add(&b, buf, n);
    fclose(f);
    return b.data;
}

/* --- normalising ------------------------------------------------------------ */

static char *replace_all(const char *s, const char *what, const char *with)
{
    struct xp_buf b = {0};
    size_t wl = strlen(what);
    const char *p;

    xp_buf_add(&b, "", 0);
    while ((p = strstr(s, what))) {
        xp_buf_add(&b, s, (size_t)(p - s));
        xp_buf_add(&b, with, strlen(with));
        s = p + wl;
    }
    xp_buf_add(&b, s, strlen(s));
    return b.data;
}

/* Object addresses differ from run to run: " at 0x7f..." -> " at 0x?". */
static char *mask_addresses(const char *s)
{
    struct xp_buf b = {0};
    const char *p;

    xp_buf_add(&b, "", 0);
    while ((p = strstr(s, " at 0x"))) {
        p += 6;
        xp_buf_add(&b, s, (size_t)(p - s));
        xp_buf_add(&b, "?", 1);
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
            p++;
        s = p;
    }
    xp_buf_add(&b, s, strlen(s));
    return b.data;
}

static bool internal_frame(const char *line, size_t len, size_t *indent)
{
    static const char *const files[] = {
        "File \"" AIOBOX_PYTHON_STDLIB "/concurrent/futures/_base.py\"",
        "File \"" AIOBOX_PYTHON_STDLIB "/asyncio/__main__.py\"",
    };
    for (size_t i = 0; i < 2; i++) {
        const char *f = memmem(line, len, files[i], strlen(files[i]));
        if (f) {
            *indent = (size_t)(f - line);
            return true;
        }
    }
    return false;
}

/* The reference's stderr without banner, exit message and the frames of
 * its own machinery (each with the source and caret lines under it, which
 * are indented deeper; exception groups put a margin before all three). */
static char *reference_stderr(const char *err)
{
    const char *p = err;
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    ck_assert_msg(strncmp(err, "asyncio REPL ", 13) == 0 && p, "unexpected banner: %.200s", err);
    static const char tail[] = "\nexiting asyncio REPL...\n";
    size_t len = strlen(p);
    ck_assert_msg(len >= sizeof tail - 1 && strcmp(p + len - (sizeof tail - 1), tail) == 0,
                  "no exit message at the end of: %s", p);
    len -= sizeof tail - 1;

    struct xp_buf b = {0};
    char margin[64] = "";
    bool skipping = false;
    xp_buf_add(&b, "", 0);
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) + 1 : len;
        size_t indent;
        if (internal_frame(p, n, &indent) && indent + 2 < sizeof margin) {
            memcpy(margin, p, indent);
            memcpy(margin + indent, "  ", 3);
            skipping = true;
        } else if (!(skipping && strncmp(p, margin, strlen(margin)) == 0)) {
            skipping = false;
            xp_buf_add(&b, p, n);
        }
        p += n;
        len -= n;
    }
    return b.data;
}

static char *split_statements(const char *input, size_t *count)
{
    const char *argv[] = {REFERENCE, env_or("AIOBOX_SPLITTER", "split_console.py"), NULL};
    struct xp_buf out = {0}, err = {0};
    int st = xp_run(argv, input, &out, &err, XP_TIMEOUT_MS);

    ck_assert_msg(st == 0, "the splitter failed (%d): %s", st, err.data);
    xp_buf_free(&err);
    *count = 0;
    for (size_t i = 0; i < out.len; i++)
        *count += out.data[i] == '\0';
    return out.data;
}

static void report(const char *what, const char *want, const char *got)
{
    fprintf(stderr, "--- %s, reference:\n%s\n--- %s, aiobox-executor:\n%s\n--- end\n", what,
            want, what, got);
}

START_TEST(transcript)
{
    const char *path = cases[_i];
    char *input = read_file(path);
    size_t nstmt;
    char *stmts = split_statements(input, &nstmt);

    const char *argv[] = {REFERENCE, "-m", "asyncio", NULL};
    struct xp_buf rout = {0}, rerr = {0};
    int st = xp_run(argv, input, &rout, &rerr, XP_TIMEOUT_MS);
    ck_assert_msg(st == 0, "%s: the reference failed (%d)", path, st);

    struct xp x;
    ck_assert_msg(xp_start(&x) != NULL, "no ready");
    const char *s = stmts;
    for (size_t i = 0; i < nstmt; i++) {
        ck_assert_msg(xp_exec(&x, i + 1, s) != NULL, "%s: no result for %s", path, s);
        s += strlen(s) + 1;
    }
    struct xp_buf out = {0}, err = {0};
    xp_buf_add(&out, "", 0);
    xp_buf_add(&err, "", 0);
    for (size_t i = 0; i < x.nlog; i++)
        if (x.log[i].type == PROTO_OUTPUT)
            xp_buf_add(x.log[i].stream == PROTO_STDOUT ? &out : &err, x.log[i].text,
                       strlen(x.log[i].text));

    char *no_ps1 = replace_all(rout.data, ">>> ", "");
    char *no_ps2 = replace_all(no_ps1, "... ", "");
    char *want_out = mask_addresses(no_ps2);
    char *got_out = mask_addresses(out.data);
    char *filtered = reference_stderr(rerr.data);
    char *want_err = mask_addresses(filtered);
    char *got_err = mask_addresses(err.data);
    bool same_out = strcmp(want_out, got_out) == 0;
    bool same_err = strcmp(want_err, got_err) == 0;
    if (!same_out)
        report("stdout", want_out, got_out);
    if (!same_err)
        report("stderr", want_err, got_err);
    ck_assert_msg(same_out && same_err, "%s: %s differs from the reference", path,
                  same_out ? "stderr" : "stdout");

    free(no_ps1);
    free(no_ps2);
    free(want_out);
    free(got_out);
    free(filtered);
    free(want_err);
    free(got_err);
    xp_buf_free(&out);
    xp_buf_free(&err);
    xp_buf_free(&rout);
    xp_buf_free(&rerr);
    xp_close(&x);
    free(stmts);
    free(input);
}
END_TEST

int main(void)
{
    list_cases();
    Suite *s = suite_create("executor-transcripts");
    TCase *tc = tcase_create("transcripts");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, transcript, 0, (int)ncases);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    int passed = run - failed;
    srunner_free(sr);
    /* No cases found is a failure, not an empty success. */
    if (ncases == 0)
        failed++;
    printf("executor-transcripts: %d passed, %d failed\n", passed, failed);
    for (size_t i = 0; i < ncases; i++)
        free(cases[i]);
    free(cases);
    return failed ? 1 : 0;
}
