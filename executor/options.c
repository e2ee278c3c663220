/* The executor's command line (options.h shows it): parsed into exec_opts,
 * strings left in argv, at most POLICY_GRANTS_MAX grants. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_FD = 256, OPT_POLICY, OPT_NO_SANDBOX, OPT_ALLOW_READ, OPT_ALLOW_WRITE, OPT_HELP,
       OPT_FORKSERVER };

static const struct option longopts[] = {
    {"fd", required_argument, NULL, OPT_FD},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
    {"allow-read", required_argument, NULL, OPT_ALLOW_READ},
    {"allow-write", required_argument, NULL, OPT_ALLOW_WRITE},
    {"help", no_argument, NULL, OPT_HELP},
    {"forkserver", no_argument, NULL, OPT_FORKSERVER},
    {NULL, 0, NULL, 0},
};

int exec_opts_usage(int fd)
{
    if (dprintf(fd, "usage: aiobox-executor --fd N (--policy FILE | --no-sandbox)\n"
                    "                       [--allow-read PATH]... [--allow-write PATH]...\n"
                    "       aiobox-executor --forkserver --fd N --policy FILE...\n"
                    "                       [--allow-read PATH]... [--allow-write PATH]...\n") < 0)
        return -errno;
    return 0;
}

__attribute__((format(printf, 3, 4)))
static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_fd(const char *s, int *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 3 || v > INT_MAX)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

int exec_opts_parse(int argc, char **argv, struct exec_opts *o, char *err, size_t errlen)
{
    bool no_sandbox = false;
    int c;

    memset(o, 0, sizeof *o);
    o->fd = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FD:
            if (o->fd >= 0)
                return usage_error(err, errlen, "--fd given twice");
            if (parse_fd(optarg, &o->fd) < 0)
                return usage_error(err, errlen,
                                   "--fd wants a descriptor number above 2, not '%s'", optarg);
            break;
        case OPT_POLICY:
            if (o->npolicies == EXEC_POLICIES_MAX)
                return usage_error(err, errlen, "at most %d --policy options",
                                   EXEC_POLICIES_MAX);
            o->policies[o->npolicies++] = optarg;
            o->policy_path = o->policies[0];
            break;
        case OPT_FORKSERVER:
            o->forkserver = true;
            break;
        case OPT_NO_SANDBOX:
            no_sandbox = true;
            break;
        case OPT_ALLOW_READ:
        case OPT_ALLOW_WRITE:
            if (o->ngrants == POLICY_GRANTS_MAX)
                return usage_error(err, errlen, "at most %d --allow-read/--allow-write paths",
                                   POLICY_GRANTS_MAX);
            o->grants[o->ngrants].path = optarg;
            o->grants[o->ngrants++].writable = c == OPT_ALLOW_WRITE;
            break;
        case OPT_HELP:
            o->help = true;
            return 0;
        case ':':
            return usage_error(err, errlen, "%s needs an argument", argv[optind - 1]);
        default:
            return usage_error(err, errlen, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(err, errlen, "unexpected argument '%s'", argv[optind]);
    if (o->fd < 0)
        return usage_error(err, errlen, "--fd is required");
    if (no_sandbox == (o->policy_path != NULL))
        return usage_error(err, errlen, "give exactly one of --policy FILE and --no-sandbox");
    if (o->npolicies > 1 && !o->forkserver)
        return usage_error(err, errlen, "--policy given twice");
    if (no_sandbox && o->ngrants)
        return usage_error(err, errlen, "--allow-read and --allow-write need --policy");
    return 0;
}
