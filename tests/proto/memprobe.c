#include "memprobe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MEMPROBE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMPROBE_ASAN 1
#endif
#endif

#ifdef MEMPROBE_ASAN
/* From the sanitizer allocator interface; GCC does not ship its header. */
size_t __sanitizer_get_allocated_size(const volatile void *p);
int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));

const char *__asan_default_options(void);

/* A huge allocation should fail like malloc does, so that a regression
 * shows as a test failure rather than as the sanitizer aborting. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static long long live_bytes, peak_bytes;
static int hooks_installed;

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    live_bytes += (long long)n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
}

static void on_free(const volatile void *p)
{
    if (p)
        live_bytes -= (long long)__sanitizer_get_allocated_size(p);
}

const char *memprobe_method(void)
{
    return "asan-hooks";
}

int memprobe_run(size_t budget, int (*fn)(void *), void *arg, char *why, size_t whylen)
{
    if (!hooks_installed) {
        __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
        hooks_installed = 1;
    }
    live_bytes = peak_bytes = 0;
    int rc = fn(arg);
    long long peak = peak_bytes;
    if (rc) {
        snprintf(why, whylen, "the function saw something unexpected (%d)", rc);
        return 1;
    }
    if (peak > (long long)budget) {
        snprintf(why, whylen, "peak heap %lld bytes exceeds the budget of %zu", peak,
                 budget);
        return 1;
    }
    snprintf(why, whylen, "peak heap %lld bytes", peak);
    return 0;
}

#else

/* Address space in use now, from /proc/self/statm (first field, pages). */
static size_t address_space_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

const char *memprobe_method(void)
{
    return "rlimit";
}

int memprobe_run(size_t budget, int (*fn)(void *), void *arg, char *why, size_t whylen)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork failed");
        return 1;
    }
    if (pid == 0) {
        size_t now = address_space_now();
        struct rlimit rl = {now + budget, now + budget};
        if (now == 0 || setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        _exit(fn(arg) ? 1 : 0);
    }
    int status;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        snprintf(why, whylen, "waitpid failed");
        return 1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "killed by signal %d under RLIMIT_AS +%zu", WTERMSIG(status),
                 budget);
        return 1;
    }
    switch (WEXITSTATUS(status)) {
    case 0:
        snprintf(why, whylen, "within RLIMIT_AS +%zu", budget);
        return 0;
    case 3:
        snprintf(why, whylen, "could not set RLIMIT_AS");
        return 1;
    default:
        snprintf(why, whylen, "the function failed under RLIMIT_AS +%zu", budget);
        return 1;
    }
}
#endif
