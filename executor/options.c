#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_FD = 256, OPT_POLICY, OPT_NO_SANDBOX, OPT_ALLOW_READ, OPT_ALLOW_WRITE, OPT_HELP };

static const struct option longopts[] = {
    {"fd", required_argument, NULL, OPT_FD},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
    {"allow-read", required_argument, NULL, OPT_ALLOW_READ},
    {"allow-write", required_argument, NULL, OPT_ALLOW_WRITE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void exec_opts_usage(int fd)
{
    dprintf(fd, "usage: aiobox-executor --fd N (--policy FILE | --no-sandbox)\n"
                "                       [--allow-read PATH]... [--allow-write PATH]...\n");
}

static int parse_fd(const char *s, int *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 3 || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

int exec_opts_parse(int argc, char **argv, struct exec_opts *o, char *err, size_t errlen)
{
    bool no_sandbox = false;
    int c;

    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->grants = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o->grants);
    if (!o->grants) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FD:
            if (o->fd >= 0) {
                snprintf(err, errlen, "--fd given twice");
                return -1;
            }
            if (parse_fd(optarg, &o->fd) < 0) {
                snprintf(err, errlen, "--fd wants a descriptor number above 2, not '%s'",
                         optarg);
                return -1;
            }
            break;
        case OPT_POLICY:
            if (o->policy_path) {
                snprintf(err, errlen, "--policy given twice");
                return -1;
            }
            o->policy_path = optarg;
            break;
        case OPT_NO_SANDBOX:
            no_sandbox = true;
            break;
        case OPT_ALLOW_READ:
        case OPT_ALLOW_WRITE:
            o->grants[o->ngrants].path = optarg;
            o->grants[o->ngrants++].writable = c == OPT_ALLOW_WRITE;
            break;
        case OPT_HELP:
            exec_opts_usage(1);
            return 1;
        case ':':
            snprintf(err, errlen, "%s needs an argument", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->fd < 0) {
        snprintf(err, errlen, "--fd is required");
        return -1;
    }
    if (no_sandbox == (o->policy_path != NULL)) {
        snprintf(err, errlen, "give exactly one of --policy FILE and --no-sandbox");
        return -1;
    }
    if (no_sandbox && o->ngrants) {
        snprintf(err, errlen, "--allow-read and --allow-write need --policy");
        return -1;
    }
    return 0;
}

void exec_opts_free(struct exec_opts *o)
{
    free(o->grants);
    o->grants = NULL;
    o->ngrants = 0;
}
