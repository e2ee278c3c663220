/* Shared by the policy tests: parsing and reading exported filters. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "suites.h"

struct policy *parse_ok(const char *text)
{
    struct policy *p = NULL;
    char err[1024] = "";
    int rc = policy_parse(text, strlen(text), "t.policy", NULL, 0, &p, err, sizeof err);
    ck_assert_msg(rc == 0, "policy did not parse: %s", err);
    ck_assert_ptr_nonnull(p);
    return p;
}

char *export_pfc(const struct policy *p)
{
    scmp_filter_ctx ctx;
    unsigned n;
    char err[1024];
    ck_assert_msg(policy_seccomp_build(p, &ctx, &n, err, sizeof err) == 0, "%s", err);
    int fd = memfd_create("pfc", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(seccomp_export_pfc(ctx, fd), 0);
    seccomp_release(ctx);
    off_t size = lseek(fd, 0, SEEK_END);
    ck_assert_int_gt(size, 0);
    char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    close(fd);
    return buf;
}

static size_t indent_of(const char *line)
{
    size_t n = 0;
    while (line[n] == ' ')
        n++;
    return n;
}

char *pfc_block(const char *pfc, int nr)
{
    char head[64];
    snprintf(head, sizeof head, "if ($syscall == %d)\n", nr);
    const char *at = strstr(pfc, head);
    if (!at)
        return NULL;
    const char *line_start = at;
    while (line_start > pfc && line_start[-1] != '\n')
        line_start--;
    size_t base = indent_of(line_start);
    const char *end = strchr(at, '\n') + 1;
    /* The block goes on while lines are indented deeper than its head. */
    while (*end && indent_of(end) > base)
        end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
    return strndup(line_start, (size_t)(end - line_start));
}

int pfc_allow_is_conditional(const char *pfc, int nr)
{
    char *block = pfc_block(pfc, nr);
    if (!block)
        return 1;
    size_t base = indent_of(block);
    int rc = 0;
    for (char *line = strchr(block, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        const char *l = line + 1;
        /* Directly under the syscall test means no argument was checked. */
        if (indent_of(l) == base + 2 && strncmp(l + base + 2, "action ALLOW;", 13) == 0)
            rc = -1;
    }
    free(block);
    return rc;
}
