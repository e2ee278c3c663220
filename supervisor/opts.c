#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void opts_usage(FILE *out)
{
    fputs("Usage: aiobox [OPTION]...\n"
          "A sandboxed, crash-proof Python asyncio REPL: top-level await, tasks that\n"
          "keep running between prompts, user code in a separate sandboxed process.\n"
          "\n"
          "  -q, --quiet            no banner\n"
          "  -p, --policy=NAME|FILE sandbox policy: strict (default), net, trusted, or\n"
          "                         a policy file\n"
          "      --allow-read=PATH  also allow reading PATH (repeatable)\n"
          "      --allow-write=PATH also allow reading and writing PATH (repeatable)\n"
          "      --check-policy=NAME|FILE\n"
          "                         parse a policy, print what it compiles to, and exit\n"
          "  -t, --timeout=SECONDS  wall-clock limit of a statement (0: none); overrides\n"
          "                         the policy's\n"
          "      --grace=SECONDS    after an interrupt, wait this long before killing the\n"
          "                         executor (default 2; 0: never kill)\n"
          "      --history=FILE     history file (default ~/.aiobox_history; terminal\n"
          "                         only)\n"
          "      --restore=replay   after a crash, silently re-run the statements that\n"
          "                         succeeded (their side effects happen again)\n"
          "      --no-standby       keep no warm spare executor (saves memory; a restart\n"
          "                         then waits for a new executor to start)\n"
          "      --executor=PATH    run this executor binary (for testing aiobox itself)\n"
          "  -V, --version          print the version and exit\n"
          "  -h, --help             print this help and exit\n"
          "\n"
          "Lines starting with ':' at the primary prompt are supervisor commands, also\n"
          "with piped input:\n"
          "  :status   executor pid, uptime, memory, restarts, policy, statements run\n"
          "  :restart  a fresh executor (the session state is dropped)\n"
          "  :help     the commands\n"
          "After 5 executor deaths, each within 10 s of that executor's start, aiobox\n"
          "stops restarting it until :restart.\n"
          "\n"
          "Exit status: 0 at end of input or Ctrl-D; N for exit(N) or SystemExit(N);\n"
          "1 when aiobox cannot start; 2 for a bad option or policy; 128+N when ended\n"
          "by signal N.\n",
          out);
}

static int parse_seconds(const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < 0 || v > 1e6) {
        fprintf(stderr, "aiobox: %s: '%s' is not a number of seconds (0 to 1000000)\n", opt,
                arg);
        return -1;
    }
    *out = v;
    return 0;
}

enum { O_ALLOW_READ = 256, O_ALLOW_WRITE, O_CHECK, O_HISTORY, O_RESTORE, O_NO_STANDBY,
       O_GRACE, O_EXECUTOR };

int opts_parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"policy", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"grace", required_argument, NULL, O_GRACE},
        {"allow-read", required_argument, NULL, O_ALLOW_READ},
        {"allow-write", required_argument, NULL, O_ALLOW_WRITE},
        {"check-policy", required_argument, NULL, O_CHECK},
        {"history", required_argument, NULL, O_HISTORY},
        {"restore", required_argument, NULL, O_RESTORE},
        {"no-standby", no_argument, NULL, O_NO_STANDBY},
        {"executor", required_argument, NULL, O_EXECUTOR},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    o->timeout = -1;
    o->grace = 2;
    /* getopt's own messages (unknown, ambiguous, missing or unexpected
     * argument) are the GNU ones users know; it names the program after
     * argv[0], which is a path when run from the build tree. */
    char *prog = argv[0];
    argv[0] = "aiobox";
    opterr = 1;
    optind = 1;
    int rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "qp:t:Vh", longs, NULL)) != -1) {
        switch (c) {
        case 'q': o->quiet = true; break;
        case 'p': o->policy = optarg; break;
        case 't':
            rc = parse_seconds("--timeout", optarg, &o->timeout);
            break;
        case O_GRACE:
            rc = parse_seconds("--grace", optarg, &o->grace);
            break;
        case O_ALLOW_READ:
        case O_ALLOW_WRITE: {
            const char **v = c == O_ALLOW_READ ? o->allow_read : o->allow_write;
            size_t *n = c == O_ALLOW_READ ? &o->n_allow_read : &o->n_allow_write;
            if (o->n_allow_read + o->n_allow_write >= OPTS_PATHS_MAX) {
                fprintf(stderr, "aiobox: at most %d --allow-read/--allow-write paths\n",
                        OPTS_PATHS_MAX);
                rc = -1;
                break;
            }
            v[(*n)++] = optarg;
            break;
        }
        case O_CHECK: o->check_policy = optarg; break;
        case O_HISTORY: o->history = optarg; break;
        case O_RESTORE:
            if (!strcmp(optarg, "replay"))
                o->restore_replay = true;
            else if (strcmp(optarg, "none")) {
                fprintf(stderr, "aiobox: --restore: '%s' is not 'replay' or 'none'\n", optarg);
                rc = -1;
            }
            break;
        case O_NO_STANDBY: o->no_standby = true; break;
        case O_EXECUTOR: o->executor = optarg; break;
        case 'V': o->version = true; break;
        case 'h': o->help = true; break;
        default:
            rc = -1;
            break;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "aiobox: unexpected argument '%s'\n", argv[optind]);
        rc = -1;
    }
    argv[0] = prog;
    if (rc)
        fprintf(stderr, "Try 'aiobox --help' for more information.\n");
    return rc;
}
