/* The words a policy may use instead of numbers and paths: constants for
 * argument conditions, errno names, rlimit names, sizes, durations, and the
 * path variables. Values come from the system headers and the build
 * (config.h), so they match the kernel and the Python this was built for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>

#include "config.h"
#include "policy_priv.h"

struct named_value {
    const char *name;
    uint64_t value;
};

#define NV(x) { #x, (uint64_t)(x) }

static const struct named_value constants[] = {
    NV(AF_UNIX), NV(AF_INET), NV(AF_INET6), NV(AF_NETLINK), NV(AF_PACKET),
    NV(SOCK_STREAM), NV(SOCK_DGRAM), NV(SOCK_RAW), NV(SOCK_SEQPACKET),
    NV(SOCK_NONBLOCK), NV(SOCK_CLOEXEC),
    NV(IPPROTO_TCP), NV(IPPROTO_UDP), NV(IPPROTO_MPTCP),
    /* The type argument of socket() carries flags above the type. */
    { "SOCK_TYPE_MASK", 0xf },
    NV(O_RDONLY), NV(O_WRONLY), NV(O_RDWR), NV(O_ACCMODE), NV(O_CREAT),
    NV(O_EXCL), NV(O_TRUNC), NV(O_APPEND), NV(O_DIRECTORY), NV(O_PATH),
    NV(O_TMPFILE), NV(O_CLOEXEC), NV(O_NONBLOCK),
    NV(PROT_NONE), NV(PROT_READ), NV(PROT_WRITE), NV(PROT_EXEC),
    NV(CLONE_VM), NV(CLONE_FS), NV(CLONE_FILES), NV(CLONE_SIGHAND),
    NV(CLONE_PIDFD), NV(CLONE_PTRACE), NV(CLONE_VFORK), NV(CLONE_PARENT),
    NV(CLONE_THREAD), NV(CLONE_NEWNS), NV(CLONE_SYSVSEM), NV(CLONE_SETTLS),
    NV(CLONE_NEWCGROUP), NV(CLONE_NEWUTS), NV(CLONE_NEWIPC),
    NV(CLONE_NEWUSER), NV(CLONE_NEWPID), NV(CLONE_NEWNET), NV(CLONE_IO),
    NV(TCGETS), NV(TCSETS), NV(TIOCGWINSZ), NV(TIOCSWINSZ), NV(TIOCSTI),
    NV(TIOCGPGRP), NV(FIONBIO), NV(FIOCLEX), NV(FIONCLEX), NV(FIONREAD),
    NV(F_DUPFD), NV(F_DUPFD_CLOEXEC), NV(F_GETFD), NV(F_SETFD), NV(F_GETFL),
    NV(F_SETFL), NV(F_GETLK), NV(F_SETLK), NV(F_SETLKW), NV(F_GETOWN),
    NV(F_SETOWN), NV(F_GETPIPE_SZ), NV(F_SETPIPE_SZ),
    NV(PR_SET_PDEATHSIG), NV(PR_GET_PDEATHSIG), NV(PR_SET_NAME), NV(PR_GET_NAME),
    NV(SIGKILL), NV(SIGTERM), NV(SIGINT),
    NV(RLIMIT_AS), NV(RLIMIT_NOFILE), NV(RLIMIT_FSIZE), NV(RLIMIT_NPROC),
    NV(RLIMIT_CPU), NV(RLIMIT_CORE), NV(RLIMIT_STACK), NV(RLIMIT_DATA),
};

int policy_constant(const char *word, uint64_t *value)
{
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        if (strcmp(constants[i].name, word) == 0) {
            *value = constants[i].value;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *const python_sys_path[] = { AIOBOX_PYTHON_SYS_PATH };
static const char *const python_libdir[] = { AIOBOX_PYTHON_LIBDIR };

static const struct {
    const char *name;
    const char *const *paths;
    size_t count;
} path_variables[] = {
    { "$python_path", python_sys_path, sizeof python_sys_path / sizeof *python_sys_path },
    { "$python_libdir", python_libdir, 1 },
};

int policy_path_variable(const char *word, const char **name, const char *const **paths,
                         size_t *count)
{
    for (size_t i = 0; i < sizeof path_variables / sizeof *path_variables; i++) {
        if (strcmp(path_variables[i].name, word) == 0) {
            *name = path_variables[i].name;
            *paths = path_variables[i].paths;
            *count = path_variables[i].count;
            return 0;
        }
    }
    return -EINVAL;
}

/* glibc knows every errno's name: ask it rather than keep a table. */
#define ERRNO_SCAN_MAX 200

int policy_errno_value(const char *word, int *errnum)
{
    char *end;
    errno = 0;
    long v = strtol(word, &end, 10);
    if (end != word && *end == '\0' && errno == 0) {
        if (v < 1 || v > 4095)
            return -EINVAL;
        *errnum = (int)v;
        return 0;
    }
    for (int e = 1; e < ERRNO_SCAN_MAX; e++) {
        const char *n = strerrorname_np(e);
        if (n && strcmp(n, word) == 0) {
            *errnum = e;
            return 0;
        }
    }
    return -EINVAL;
}

const char *policy_errno_name(int errnum)
{
    const char *n = strerrorname_np(errnum);
    return n ? n : "?";
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    { "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
    { "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE },
    { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
    { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
    { "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },
    { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
    { "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING },
    { "stack", RLIMIT_STACK },
};

int policy_rlimit_resource(const char *word, int *resource, const char **name)
{
    for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++) {
        if (strcmp(rlimit_names[i].name, word) == 0) {
            *resource = rlimit_names[i].resource;
            *name = rlimit_names[i].name;
            return 0;
        }
    }
    return -EINVAL;
}

/* Decimal digits with an optional binary suffix K, M, G or T. */
int policy_parse_size(const char *word, uint64_t *value)
{
    if (strcmp(word, "unlimited") == 0) {
        *value = RLIM_INFINITY;
        return 0;
    }
    if (word[0] < '0' || word[0] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(word, &end, 10);
    if (errno != 0)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return -EINVAL;
    }
    if (*end != '\0')
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -EINVAL;
    v <<= shift;
    /* RLIM_INFINITY is all ones: a number that large means "unlimited",
     * which has its own word. */
    if (v == RLIM_INFINITY)
        return -EINVAL;
    *value = v;
    return 0;
}

void policy_format_size(uint64_t v, char *buf, size_t buflen)
{
    static const char suffix[] = "KMGT";
    if (v == RLIM_INFINITY) {
        snprintf(buf, buflen, "unlimited");
        return;
    }
    int s = -1;
    while (s < 3 && v != 0 && (v & 1023) == 0) {
        v >>= 10;
        s++;
    }
    if (s < 0)
        snprintf(buf, buflen, "%llu", (unsigned long long)v);
    else
        snprintf(buf, buflen, "%llu%c", (unsigned long long)v, suffix[s]);
}

/* Seconds, optionally suffixed s, ms or m; "none" is 0. */
int policy_parse_duration(const char *word, double *seconds)
{
    if (strcmp(word, "none") == 0) {
        *seconds = 0;
        return 0;
    }
    if ((word[0] < '0' || word[0] > '9') && word[0] != '.')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(word, &end);
    if (errno != 0 || end == word || !isfinite(v))
        return -EINVAL;
    double scale = 1;
    if (strcmp(end, "ms") == 0)
        scale = 0.001;
    else if (strcmp(end, "m") == 0)
        scale = 60;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        return -EINVAL;
    v *= scale;
    /* A day is far beyond any statement; larger is a typo. */
    if (v <= 0 || v > 86400)
        return -EINVAL;
    *seconds = v;
    return 0;
}
