/* Runs a Check program to its summary line, and lets its tests skip for
 * the two reasons the project accepts. A skip is recorded in a memfd that
 * the forked test processes inherit, then the test process exits 0 (which
 * Check counts as a pass): checkrun reads the records back and counts
 * those tests as skipped instead. */
#define _GNU_SOURCE
#include "checkrun.h"

#include "hostlacks.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CHECKRUN_SANITIZED true
#else
#define CHECKRUN_SANITIZED false
#endif

#define REASON_MAX 1024

static int skip_fd = -1;
static bool forking;

/* Ends the running test as skipped for reason. */
__attribute__((noreturn))
static void skip(char *reason)
{
    char record[REASON_MAX + 256];
    /* One line per record: the reason may quote an error. */
    for (char *c = reason; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    if (!forking || skip_fd < 0)
        ck_abort_msg("cannot skip outside Check's fork mode: %s", reason);
    int n = snprintf(record, sizeof record, "%s\t%s\n", tcase_name(), reason);
    if (n < 0 || (size_t)n >= sizeof record || write(skip_fd, record, (size_t)n) != n)
        ck_abort_msg("cannot record the skip: %s", reason);
    /* _exit: the test is over, and nothing it leaves behind (a leak report
     * at exit) is to be judged. */
    fflush(NULL);
    _exit(0);
}

void checkrun_host_lacks(const char *layer, const char *fmt, ...)
{
    char detail[REASON_MAX / 2], reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (!hostlacks_declared(layer))
        ck_abort_msg("this host lacks %s (%s); if it truly cannot have it, run the tests with "
                     "AIOBOX_HOST_LACKS=%s (tests/README.md)", layer, detail, layer);
    snprintf(reason, sizeof reason, "host lacks %s (AIOBOX_HOST_LACKS): %s", layer, detail);
    skip(reason);
}

void checkrun_sanitizer_skip(const char *fmt, ...)
{
    char detail[REASON_MAX / 2], reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (!CHECKRUN_SANITIZED)
        ck_abort_msg("a sanitizer skip outside a sanitizer build: %s", detail);
    snprintf(reason, sizeof reason, "sanitizer build: %s", detail);
    skip(reason);
}

/* Prints the records and returns how many there are, or -1 when they
 * cannot be read back. */
static int report_skips(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fdopen(skip_fd, "r");
    if (!f || fseek(f, 0, SEEK_SET) != 0)
        return -1;
    int count = 0;
    ssize_t n;
    while ((n = getline(&buf, &len, f)) > 0) {
        char *tab = strchr(buf, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        printf("SKIP %s: %s", buf, tab + 1);
        count++;
    }
    bool failed = ferror(f);
    free(buf);
    fclose(f);
    skip_fd = -1;
    return failed ? -1 : count;
}

int checkrun(SRunner *sr, const char *name)
{
    forking = srunner_fork_status(sr) != CK_NOFORK;
    skip_fd = memfd_create("checkrun-skips", MFD_CLOEXEC);
    if (skip_fd < 0) {
        perror("checkrun: memfd_create");
        srunner_free(sr);
        printf("%s: 0 passed, 1 failed, 0 skipped\n", name);
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fflush(stdout);
    int skipped = report_skips();
    if (skipped < 0) {
        perror("checkrun: reading the skip records");
        skipped = 0;
        failed++;
    }
    int passed = run - failed - skipped;
    if (passed < 0)
        passed = 0;
    printf("%s: %d passed, %d failed, %d skipped\n", name, passed, failed, skipped);
    if (failed)
        return 1;
    return run > 0 && skipped == run ? 77 : 0;
}
