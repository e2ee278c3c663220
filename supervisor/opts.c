#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void opts_usage(FILE *out)
{
    fputs("Usage: aiobox [OPTION]...                      the REPL (terminal or piped)\n"
          "       aiobox -s NAME [OPTION]...              attach to session NAME, starting it\n"
          "       aiobox attach NAME                      attach to an existing session\n"
          "       aiobox ls                               list the sessions\n"
          "       aiobox kill NAME                        end a session\n"
          "       aiobox --json [OPTION]...               JSON lines on stdin/stdout\n"
          "       aiobox serve --listen PATH [OPTION]...  JSON lines on a Unix socket\n"
          "       aiobox kernel -f CONNECTION_FILE [OPTION]...   a Jupyter kernel\n"
          "       aiobox kernel install [--user | --prefix DIR] [--name NAME] [OPTION]...\n"
          "A sandboxed, crash-proof Python asyncio REPL: top-level await, tasks that\n"
          "keep running between prompts, user code in a separate sandboxed process.\n"
          "\n"
          "  -q, --quiet            no banner\n"
          "  -p, --policy=NAME|FILE sandbox policy: strict (default), net, trusted, or\n"
          "                         a policy file; serve takes several (clients choose\n"
          "                         among them; the first is the default)\n"
          "      --allow-read=PATH  also allow reading PATH (repeatable)\n"
          "      --allow-write=PATH also allow reading and writing PATH (repeatable)\n"
          "      --check-policy=NAME|FILE\n"
          "                         parse a policy, print what it compiles to, and exit\n"
          "  -t, --timeout=SECONDS  wall-clock limit of a statement (0: none); default:\n"
          "                         none at a terminal, else the policy's\n"
          "      --output-cap=BYTES output a statement may print (0: none); default: the\n"
          "                         policy's on a terminal, none to a file or pipe\n"
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
          "Machine interface (--json, serve; docs/json.md): one JSON object a line both\n"
          "ways; ops run, input, interrupt, complete, is_complete, open, close,\n"
          "sessions, status, and for terminals attach, detach, submit, withdraw,\n"
          "command. A run without a session is isolated: a fresh executor.\n"
          "      --json             speak it on stdin/stdout\n"
          "      --listen=PATH      serve: the socket (created mode 0600 in a 0700 directory)\n"
          "      --max-executors=N  serve, --json: runs executing at once (default: CPUs)\n"
          "      --allow-uid=UID    serve: also serve this uid (repeatable; default: ours)\n"
          "      --log=FILE         serve: log here instead of stderr\n"
          "      --idle-timeout=SECONDS\n"
          "                         end a named session idle this long (default: never)\n"
          "\n"
          "Named sessions outlive their terminal: Ctrl-\\ or :detach detaches, closing\n"
          "the terminal too; the session's executor, state and tasks go on in a\n"
          "per-user server ($XDG_RUNTIME_DIR/aiobox/, else /tmp/aiobox-UID/; started\n"
          "on demand, ended when it holds no session). Attaching shows the session's\n"
          "last 64 KiB of output, then the prompt; several terminals may attach at\n"
          "once, each seeing everything, any typing. -s NAME takes --policy,\n"
          "--timeout, --output-cap, --grace, --restore, --no-standby, --idle-timeout\n"
          "and the grants, fixed when the session starts. aiobox ls shows name,\n"
          "executor pid, policy, uptime, statements, restarts, clients, idle time.\n"
          "\n"
          "Lines starting with ':' at the primary prompt are supervisor commands, also\n"
          "with piped input:\n"
          "  :status   executor pid, uptime, memory, restarts, policy, statements run\n"
          "  :restart  a fresh executor (the session state is dropped)\n"
          "  :detach   leave a named session running\n"
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

static int parse_count(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v > max) {
        fprintf(stderr, "aiobox: %s: '%s' is not a whole number from 0 to %llu\n", opt, arg,
                (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

enum { O_ALLOW_READ = 256, O_ALLOW_WRITE, O_CHECK, O_HISTORY, O_RESTORE, O_NO_STANDBY,
       O_GRACE, O_EXECUTOR, O_JSON, O_LISTEN, O_MAX_EXECUTORS, O_ALLOW_UID, O_LOG,
       O_IDLE_TIMEOUT, O_OUTPUT_CAP, O_USER, O_PREFIX, O_NAME, O_ON_DEMAND, O_READY_FD };

static const struct {
    const char *word;
    enum opts_command command;
    bool operand;          /* takes NAME */
} commands[] = {
    {"serve", OPTS_SERVE, false},
    {"kernel", OPTS_KERNEL, false},
    {"attach", OPTS_ATTACH, true},
    {"ls", OPTS_LS, false},
    {"kill", OPTS_KILL, true},
};

/* Whether option c belongs to command cmd (everything else is refused
 * there, so a mistake is said rather than ignored). */
static bool option_fits(int c, enum opts_command cmd)
{
    switch (c) {
    case O_LISTEN: case O_ALLOW_UID: case O_LOG: case O_ON_DEMAND: case O_READY_FD:
        return cmd == OPTS_SERVE;
    case O_MAX_EXECUTORS:
        return cmd == OPTS_SERVE || cmd == OPTS_JSON;
    case O_IDLE_TIMEOUT:
        return cmd == OPTS_SERVE || cmd == OPTS_REPL;
    case 'f':
        return cmd == OPTS_KERNEL;
    case O_USER: case O_PREFIX: case O_NAME:
        return cmd == OPTS_KERNEL_INSTALL;
    case 's':
        return cmd == OPTS_REPL;
    case O_HISTORY:
        return cmd == OPTS_REPL || cmd == OPTS_ATTACH;
    default:
        return true;
    }
}

int opts_parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"policy", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"output-cap", required_argument, NULL, O_OUTPUT_CAP},
        {"grace", required_argument, NULL, O_GRACE},
        {"allow-read", required_argument, NULL, O_ALLOW_READ},
        {"allow-write", required_argument, NULL, O_ALLOW_WRITE},
        {"check-policy", required_argument, NULL, O_CHECK},
        {"history", required_argument, NULL, O_HISTORY},
        {"restore", required_argument, NULL, O_RESTORE},
        {"no-standby", no_argument, NULL, O_NO_STANDBY},
        {"executor", required_argument, NULL, O_EXECUTOR},
        {"json", no_argument, NULL, O_JSON},
        {"listen", required_argument, NULL, O_LISTEN},
        {"max-executors", required_argument, NULL, O_MAX_EXECUTORS},
        {"allow-uid", required_argument, NULL, O_ALLOW_UID},
        {"log", required_argument, NULL, O_LOG},
        {"idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT},
        {"on-demand", no_argument, NULL, O_ON_DEMAND},
        {"ready-fd", required_argument, NULL, O_READY_FD},
        {"session", required_argument, NULL, 's'},
        {"user", no_argument, NULL, O_USER},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"name", required_argument, NULL, O_NAME},
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
    bool operand = false;
    if (argc > 1) {
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            if (strcmp(argv[1], commands[i].word) == 0) {
                o->command = commands[i].command;
                operand = commands[i].operand;
                optind = 2;
            }
        if (o->command == OPTS_KERNEL && argc > 2 && strcmp(argv[2], "install") == 0) {
            o->command = OPTS_KERNEL_INSTALL;
            optind = 3;
        }
    }
    int first = optind;
    /* A command's NAME comes first, or after its options. */
    if (operand && optind < argc && argv[optind][0] != '-')
        o->session = argv[optind++];
    while (rc == 0 && (c = getopt_long(argc, argv, "+qp:t:s:f:Vh", longs, NULL)) != -1) {
        if (c != '?' && c != ':' && !option_fits(c, o->command)) {
            fprintf(stderr, "aiobox: %s does not apply here\n", argv[optind - 1]);
            rc = -1;
            break;
        }
        switch (c) {
        case 'q': o->quiet = true; break;
        case 'p':
            if (o->npolicies == OPTS_POLICIES_MAX) {
                fprintf(stderr, "aiobox: at most %d --policy options\n", OPTS_POLICIES_MAX);
                rc = -1;
            } else
                o->policies[o->npolicies++] = optarg;
            break;
        case 't':
            rc = parse_seconds("--timeout", optarg, &o->timeout);
            break;
        case O_OUTPUT_CAP: {
            uint64_t v;
            rc = parse_count("--output-cap", optarg, (uint64_t)1 << 40, &v);
            o->output_cap = (size_t)v;
            o->output_cap_set = true;
            break;
        }
        case O_GRACE:
            rc = parse_seconds("--grace", optarg, &o->grace);
            o->grace_set = true;
            break;
        case O_ALLOW_READ:
        case O_ALLOW_WRITE:
            if (o->ngrants == POLICY_GRANTS_MAX) {
                fprintf(stderr, "aiobox: at most %d --allow-read/--allow-write paths\n",
                        POLICY_GRANTS_MAX);
                rc = -1;
                break;
            }
            o->grants[o->ngrants++] = (struct policy_grant){optarg, c == O_ALLOW_WRITE};
            break;
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
        case O_JSON:
            if (o->command != OPTS_REPL) {
                fprintf(stderr, "aiobox: --json does not apply here\n");
                rc = -1;
            } else
                o->command = OPTS_JSON;
            break;
        case O_LISTEN: o->listen = optarg; break;
        case O_MAX_EXECUTORS: {
            uint64_t v;
            rc = parse_count("--max-executors", optarg, 4096, &v);
            if (rc == 0 && v == 0) {
                fprintf(stderr, "aiobox: --max-executors: at least 1\n");
                rc = -1;
            }
            o->max_executors = (unsigned)v;
            break;
        }
        case O_ALLOW_UID: {
            uint64_t v;
            if (o->n_allow_uids == OPTS_UIDS_MAX) {
                fprintf(stderr, "aiobox: at most %d --allow-uid options\n", OPTS_UIDS_MAX);
                rc = -1;
            } else if ((rc = parse_count("--allow-uid", optarg, UINT32_MAX - 1, &v)) == 0)
                o->allow_uids[o->n_allow_uids++] = (uid_t)v;
            break;
        }
        case O_LOG: o->log = optarg; break;
        case O_ON_DEMAND: o->on_demand = true; break;
        case O_READY_FD: {
            uint64_t v;
            if ((rc = parse_count("--ready-fd", optarg, 1023, &v)) == 0)
                o->ready_fd = (int)v;
            break;
        }
        case O_IDLE_TIMEOUT:
            rc = parse_seconds("--idle-timeout", optarg, &o->idle_timeout);
            break;
        case 's': o->session = optarg; break;
        case 'f': o->connection_file = optarg; break;
        case O_USER: o->kernel_user = true; break;
        case O_PREFIX: o->kernel_prefix = optarg; break;
        case O_NAME: o->kernel_name = optarg; break;
        case 'V': o->version = true; break;
        case 'h': o->help = true; break;
        default:
            rc = -1;
            break;
        }
    }
    if (rc == 0 && operand && !o->session && optind < argc)
        o->session = argv[optind++];
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "aiobox: unexpected argument '%s'\n", argv[optind]);
        rc = -1;
    }
    if (rc == 0 && !o->help && !o->version && !o->check_policy) {
        if (operand && !o->session) {
            fprintf(stderr, "aiobox: %s needs a session NAME\n", argv[1]);
            rc = -1;
        } else if (o->command == OPTS_SERVE && !o->listen) {
            fprintf(stderr, "aiobox: serve needs --listen PATH\n");
            rc = -1;
        } else if (o->command == OPTS_KERNEL && !o->connection_file) {
            fprintf(stderr, "aiobox: kernel needs -f CONNECTION_FILE\n");
            rc = -1;
        } else if (o->command == OPTS_KERNEL_INSTALL && o->kernel_user && o->kernel_prefix) {
            fprintf(stderr, "aiobox: kernel install takes --user or --prefix, not both\n");
            rc = -1;
        } else if (o->npolicies > 1 && o->command != OPTS_SERVE) {
            fprintf(stderr, "aiobox: only serve takes more than one --policy\n");
            rc = -1;
        }
    }
    /* What kernel install writes into kernel.json: the options that apply
     * to the kernel, as typed. */
    if (rc == 0 && o->command == OPTS_KERNEL_INSTALL) {
        o->passthrough = argv + first;
        o->npassthrough = (size_t)(argc - first);
    }
    argv[0] = prog;
    if (rc)
        fprintf(stderr, "Try 'aiobox --help' for more information.\n");
    return rc;
}
