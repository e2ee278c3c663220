/* Resource limits: soft and hard set alike, never above what the process
 * already has (an unprivileged process cannot raise a hard limit). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "sandbox_priv.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

bool sandbox_sanitizer_build(void)
{
#ifdef SANDBOX_ASAN
    return true;
#else
    return false;
#endif
}

int sandbox_rlimits(const struct policy *p, struct sandbox_desc *d,
                    char *err, size_t errlen)
{
    size_t n = policy_rlimit_count(p);
    if (n == 0) {
        sandbox_desc_add(d, "rlimits none");
        return 0;
    }
    sandbox_desc_add(d, "rlimits");
    for (size_t i = 0; i < n; i++) {
        const struct policy_rlimit *r = policy_rlimit_at(p, i);
        if (r->resource == RLIMIT_AS && sandbox_sanitizer_build()) {
            sandbox_desc_add(d, " as=skipped (sanitizer build)");
            continue;
        }
        struct rlimit cur;
        if (getrlimit(r->resource, &cur) < 0) {
            int e = errno;
            snprintf(err, errlen, "rlimit %s: %s", r->name, strerror(e));
            return -e;
        }
        rlim_t v = r->value;
        if (cur.rlim_max != RLIM_INFINITY && (v == RLIM_INFINITY || v > cur.rlim_max))
            v = cur.rlim_max;
        struct rlimit nw = { .rlim_cur = v, .rlim_max = v };
        if (setrlimit(r->resource, &nw) < 0) {
            int e = errno;
            snprintf(err, errlen, "rlimit %s: %s", r->name, strerror(e));
            return -e;
        }
        char val[32];
        policy_format_size(v, val, sizeof val);
        sandbox_desc_add(d, " %s=%s", r->name, val);
    }
    return 0;
}
