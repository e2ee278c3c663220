/* aiobox: the supervisor. Parse options, load the policy, wire the
 * session engine to the one front end the command line chose, run the
 * loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "cgroup.h"
#include "client.h"
#include "config.h"
#include "kernel.h"
#include "opts.h"
#include "paths.h"
#include "pipe.h"
#include "policy.h"
#include "server.h"
#include "term.h"

/* Exit statuses of aiobox itself (docs: `aiobox --help`). */
#define EXIT_CANNOT_START 1
#define EXIT_USAGE 2

/* A policy as the command line named it, resolved and loaded. */
struct loaded_policy {
    char path[PATH_MAX];
    char name[128];
    double timeout_s;
    size_t output_cap;
    struct policy_idle_cpu idle_cpu;
};

/* Resolves NAME|FILE as --policy does, into out (absolute). 0, or the
 * exit status after saying why. */
static int resolve_policy(const char *name_or_file, char *out, size_t outlen)
{
    char err[512];
    struct paths paths;
    if (paths_init(&paths, err, sizeof err) == 0) {
        if (paths_policy(&paths, name_or_file, out, outlen, err, sizeof err) == 0)
            return 0;
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_USAGE;
    }
    if (!strchr(name_or_file, '/')) {
        /* Without an executor there is no policy directory either. */
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_CANNOT_START;
    }
    snprintf(out, outlen, "%s", name_or_file);
    return 0;
}

/* --check-policy NAME|FILE, resolved as --policy is. */
static int check_policy(const struct opts *o)
{
    static char file[PATH_MAX];
    char err[512];
    struct policy *p;
    int rc = resolve_policy(o->check_policy, file, sizeof file);
    if (rc)
        return rc;
    if (policy_load(file, o->grants, o->ngrants, &p, err, sizeof err) < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_USAGE;
    }
    /* What this machine makes of the limits the supervisor applies. */
    char note[1024];
    snprintf(note, sizeof note, "%s%s", cgroup_status(),
             policy_idle_cpu(p).share > 0 ? "; the idle-CPU limit is enforced by sampling" : "");
    rc = policy_dump_noted(p, note, stdout, err, sizeof err);
    if (rc)
        fprintf(stderr, "aiobox: %s\n", err);
    else if (cgroup_check_policy(p, err, sizeof err) < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        rc = -ENOTSUP;
    }
    policy_free(p);
    return rc ? EXIT_USAGE : 0;
}

/* Who runs user code when aiobox runs as root: the executor drops to
 * these ids (SANDBOX_UID and SANDBOX_GID in executor/sandbox/sandbox.h). */
#define EXECUTOR_UID 65534
#define EXECUTOR_GID 65534

/* 0 if the executor's user may use path as granted, else the errno of its
 * access(2) (asked in a child that has become that user, so that modes,
 * ACLs and every directory on the way count). */
static int executor_may_access(const char *path, bool writable)
{
    pid_t pid = fork();
    if (pid < 0)
        return 0;  /* cannot tell: the executor will say */
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setresgid(EXECUTOR_GID, EXECUTOR_GID, EXECUTOR_GID) < 0 ||
            setresuid(EXECUTOR_UID, EXECUTOR_UID, EXECUTOR_UID) < 0)
            _exit(0);
        struct stat st;
        int mode = R_OK | (writable ? W_OK : 0);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            mode |= X_OK;
        _exit(access(path, mode) == 0 ? 0 : errno & 0xff);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 0;
}

/* Absolute copies of the --allow-* paths: the executor is started
 * elsewhere than the user's directory. Run as root, a grant the executor's
 * user could not use anyway is refused now, naming the path and why,
 * rather than failing later with a hint that repeats the flag. */
static int resolve_grants(struct opts *o, char store[][PATH_MAX])
{
    for (size_t i = 0; i < o->ngrants; i++) {
        const char *flag = o->grants[i].writable ? "write" : "read";
        if (!realpath(o->grants[i].path, store[i])) {
            fprintf(stderr, "aiobox: --allow-%s %s: %s\n", flag, o->grants[i].path,
                    strerror(errno));
            return -1;
        }
        o->grants[i].path = store[i];
        int rc = geteuid() == 0 ? executor_may_access(store[i], o->grants[i].writable) : 0;
        if (rc) {
            struct stat st;
            struct passwd *pw = NULL;
            char owner[64] = "?", mode[16] = "?";
            if (stat(store[i], &st) == 0) {
                pw = getpwuid(st.st_uid);
                if (pw)
                    snprintf(owner, sizeof owner, "%s", pw->pw_name);
                else
                    snprintf(owner, sizeof owner, "uid %u", (unsigned)st.st_uid);
                snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
            }
            fprintf(stderr,
                    "aiobox: --allow-%s %s: user code runs as nobody (uid %d), who cannot %s "
                    "there (%s; owner %s, mode %s); give nobody access to it, or run aiobox "
                    "as a user who has it\n",
                    flag, store[i], EXECUTOR_UID, o->grants[i].writable ? "write" : "read",
                    strerror(rc), owner, mode);
            return -1;
        }
    }
    return 0;
}

/* Loads a policy with the grants, which it checks now, so that a mistake
 * is reported before any executor starts. 0, or the exit status. */
static int load_policy(const struct opts *o, const char *name_or_file, bool named,
                       struct loaded_policy *out)
{
    char err[512];
    struct policy *pol;
    int rc = resolve_policy(name_or_file, out->path, sizeof out->path);
    if (rc)
        /* A policy the user named is a usage error; a missing default is a
         * broken installation. */
        return named ? rc : EXIT_CANNOT_START;
    if (policy_load(out->path, o->grants, o->ngrants, &pol, err, sizeof err) < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_USAGE;
    }
    /* A limit the policy requires and this machine cannot give is
     * refused, never run without. */
    if (cgroup_check_policy(pol, err, sizeof err) < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        policy_free(pol);
        return EXIT_CANNOT_START;
    }
    snprintf(out->name, sizeof out->name, "%s", policy_name(pol));
    out->timeout_s = policy_timeout(pol);
    out->output_cap = policy_output_cap(pol);
    out->idle_cpu = policy_idle_cpu(pol);
    policy_free(pol);
    return 0;
}

/* Ends the process once the session is over. A read of piped stdin may
 * still block in libuv's thread pool (SIGTERM at an idle prompt, with the
 * writer keeping the pipe open), and exit() would wait for it forever:
 * libuv's destructor joins its threads. Everything is freed by now, so
 * the leak check runs here, as exit() would have run it. */
static _Noreturn void finish(int rc)
{
    fflush(NULL);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check();
#endif
    _exit(rc);
}

static int run_repl(uv_loop_t *loop, const struct opts *o, struct session_config *scfg,
                    const char *policy_name)
{
    static char banner[512];
    snprintf(banner, sizeof banner,
             "aiobox %s (Python %s), policy %s\n"
             "Use \"await\" directly. Type :help for supervisor commands, exit() or Ctrl-D to "
             "leave.\n",
             AIOBOX_VERSION, AIOBOX_PYTHON_VERSION, policy_name);
    struct front_config fcfg = {.history_path = o->history, .banner = o->quiet ? NULL : banner};
    int rc = -ENOTTY;
    /* A file or a pipe gets all the output unless --output-cap asked for a
     * cap; a terminal keeps the policy's flood protection. */
    if (!o->output_cap_set && isatty(1) != 1)
        scfg->output_cap = 0;
    if (isatty(0) && isatty(1)) {
        /* At a terminal Ctrl-C is there: no statement timeout unless
         * --timeout asks for one (a server's serve_forever() runs, a deep
         * recursion ends in RecursionError). Piped use keeps the policy's. */
        struct session_config term_cfg = *scfg;
        if (o->timeout < 0)
            term_cfg.timeout_s = 0;
        rc = term_front_run(loop, &term_cfg, &fcfg);
        if (rc == -ENOTTY)
            fputs("aiobox: cannot open the terminal for input; reading it as a pipe\n", stderr);
    }
    if (rc == -ENOTTY)
        rc = pipe_front_run(loop, scfg, &fcfg);
    return rc;
}

static int run_server(uv_loop_t *loop, const struct opts *o, const struct session_config *scfg,
                      const struct loaded_policy *loaded, size_t nloaded)
{
    static struct server_policy policies[OPTS_POLICIES_MAX];
    for (size_t i = 0; i < nloaded; i++)
        policies[i] = (struct server_policy){
            .name = loaded[i].name,
            .path = loaded[i].path,
            .timeout_s = o->timeout >= 0 ? o->timeout : loaded[i].timeout_s,
            .output_cap = o->output_cap_set ? o->output_cap : loaded[i].output_cap,
            .idle_cpu = loaded[i].idle_cpu,
        };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct server_config cfg = {
        .session = *scfg,
        .policies = policies,
        .npolicies = nloaded,
        .max_executors = o->max_executors ? o->max_executors : (unsigned)(cpus > 0 ? cpus : 1),
        .allow_uids = o->allow_uids,
        .n_allow_uids = o->n_allow_uids,
        .log_path = o->log,
        .forkserver = true,
        .idle_timeout_s = o->idle_timeout,
        .on_demand = o->on_demand,
        .ready_fd = o->ready_fd > 0 ? o->ready_fd : -1,
    };
    /* Sessions of the server take their limits from their policy. */
    cfg.session.timeout_s = -1;
    if (o->command == OPTS_JSON)
        return server_run_stdio(loop, &cfg);
    return server_run_listen(loop, &cfg, o->listen);
}

/* The options a named session is started with: those given on the
 * command line (the server's defaults for the rest). NULL: none. */
static json_t *session_options(const struct opts *o)
{
    json_t *opt = json_object();
    if (!opt)
        return NULL;
    if (o->npolicies) {
        static char file[PATH_MAX];
        /* A name the server knows goes as it is; anything else as a file. */
        bool builtin = !strchr(o->policies[0], '/') &&
                       (!strcmp(o->policies[0], "strict") || !strcmp(o->policies[0], "net") ||
                        !strcmp(o->policies[0], "trusted"));
        if (builtin)
            json_object_set_new(opt, "policy", json_string(o->policies[0]));
        else if (resolve_policy(o->policies[0], file, sizeof file) == 0)
            json_object_set_new(opt, "policy", json_string(file));
    }
    if (o->timeout >= 0)
        json_object_set_new(opt, "timeout", json_real(o->timeout));
    if (o->grace >= 0 && o->grace_set)
        json_object_set_new(opt, "grace", json_real(o->grace));
    if (o->output_cap_set)
        json_object_set_new(opt, "output_cap", json_integer((json_int_t)o->output_cap));
    if (o->restore_replay)
        json_object_set_new(opt, "restore", json_string("replay"));
    if (o->no_standby)
        json_object_set_new(opt, "standby", json_false());
    if (o->idle_timeout > 0)
        json_object_set_new(opt, "idle_timeout", json_real(o->idle_timeout));
    json_t *rd = json_array(), *wr = json_array();
    for (size_t i = 0; i < o->ngrants; i++)
        json_array_append_new(o->grants[i].writable ? wr : rd, json_string(o->grants[i].path));
    if (json_array_size(rd))
        json_object_set(opt, "allow_read", rd);
    if (json_array_size(wr))
        json_object_set(opt, "allow_write", wr);
    json_decref(rd);
    json_decref(wr);
    if (json_object_size(opt) == 0) {
        json_decref(opt);
        return NULL;
    }
    return opt;
}

/* aiobox -s NAME and aiobox attach NAME: the terminal front end on a
 * session the per-user server hosts (started on demand for -s). */
static int run_session(const struct opts *o)
{
    char err[512];
    bool create = o->command == OPTS_REPL;
    /* Piped: the statements run in the session, which goes on after. */
    bool piped = !isatty(0) || !isatty(1);
    struct client_where w;
    if (client_where(&w, err, sizeof err) < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_CANNOT_START;
    }
    const char *args[2];
    struct client_start how = {.args = args};
    if (o->executor) {
        static char exe[PATH_MAX];
        if (!realpath(o->executor, exe)) {
            fprintf(stderr, "aiobox: --executor %s: %s\n", o->executor, strerror(errno));
            return EXIT_CANNOT_START;
        }
        args[how.nargs++] = "--executor";
        args[how.nargs++] = exe;
    }
    int fd, rc = create ? client_connect_or_start(&w, &how, &fd, err, sizeof err)
                        : client_connect(&w, &fd, err, sizeof err);
    if (rc == -ENOENT && !create) {
        fprintf(stderr, "aiobox: no session %s\n", o->session);
        return EXIT_CANNOT_START;
    }
    if (rc < 0) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_CANNOT_START;
    }
    static uv_loop_t loop;
    if ((rc = uv_loop_init(&loop)) < 0) {
        close(fd);
        fprintf(stderr, "aiobox: cannot start the event loop: %s\n", uv_strerror(rc));
        return EXIT_CANNOT_START;
    }
    struct engine *e;
    json_t *attached;
    struct client_outcome outcome = {0};
    rc = client_attach(&e, &attached, &loop, fd, o->session, create,
                       session_options(o), &outcome, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "aiobox: %s\n", rc == -ENOENT && !create ? "no such session" : err);
        if (rc == -ENOENT)
            fprintf(stderr, "aiobox: no session %s\n", o->session);
        return EXIT_CANNOT_START;
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(attached, "differs"), i, d)
        fprintf(stderr, "aiobox: session %s was started with other options: %s\n", o->session,
                json_string_value(d) ? json_string_value(d) : "?");
    if (piped) {
        json_decref(attached);
        client_skip_replay(e);
        struct front_config pcfg = {.history_path = NULL, .banner = NULL};
        rc = pipe_front_run_engine(&loop, e, &pcfg);
        (void)uv_loop_close(&loop);
        return rc;
    }
    static char banner[512];
    json_t *opts = json_object_get(attached, "options");
    const char *pol = json_string_value(json_object_get(opts, "policy"));
    json_int_t others = json_integer_value(json_object_get(attached, "clients"));
    snprintf(banner, sizeof banner,
             "aiobox %s (Python %s), session %s (%s), policy %s%s\n"
             "Ctrl-\\, Ctrl-D or :detach detaches; exit() ends the session for everyone.\n",
             AIOBOX_VERSION, AIOBOX_PYTHON_VERSION, o->session,
             json_is_true(json_object_get(attached, "created")) ? "new" : "attached",
             pol ? pol : "?", others ? " (shared with other terminals)" : "");
    json_decref(attached);
    struct front_config fcfg = {.history_path = o->history, .banner = o->quiet ? NULL : banner};
    bool detached = false;
    rc = term_front_run_engine(&loop, e, &fcfg, &detached);
    if (rc == -ENOTTY) {
        fprintf(stderr, "aiobox: cannot open the terminal for input\n");
        rc = EXIT_CANNOT_START;
    }
    if (detached)
        fprintf(stderr, "aiobox: detached from session %s (aiobox attach %s comes back)\n",
                o->session, o->session);
    (void)uv_loop_close(&loop);
    return rc;
}

int main(int argc, char **argv)
{
    static char grant_paths[POLICY_GRANTS_MAX][PATH_MAX];
    static struct loaded_policy loaded[OPTS_POLICIES_MAX];
    static struct opts o;
    struct paths paths;
    char err[512];

    if (opts_parse(argc, argv, &o))
        return EXIT_USAGE;
    if (o.help) {
        opts_usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("aiobox %s (Python %s)\n", AIOBOX_VERSION, AIOBOX_PYTHON_VERSION);
        return 0;
    }
    if (resolve_grants(&o, grant_paths))
        return EXIT_USAGE;
    if (o.check_policy)
        return check_policy(&o);
    /* A write to a dead executor or client must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (o.command == OPTS_LS)
        return client_ls(stdout);
    if (o.command == OPTS_KILL)
        return client_kill(o.session);
    if (o.command == OPTS_ATTACH || (o.command == OPTS_REPL && o.session))
        finish(run_session(&o));
    if (o.command != OPTS_REPL && o.command != OPTS_JSON && o.command != OPTS_SERVE &&
        o.command != OPTS_KERNEL && o.command != OPTS_KERNEL_INSTALL) {
        fprintf(stderr, "aiobox: '%s' is not built yet\n", argv[1]);
        return EXIT_CANNOT_START;
    }

    if (paths_init(&paths, err, sizeof err)) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_CANNOT_START;
    }
    if (o.executor && access(o.executor, X_OK) != 0) {
        fprintf(stderr, "aiobox: --executor %s: %s\n", o.executor, strerror(errno));
        return EXIT_CANNOT_START;
    }
    size_t nloaded = o.npolicies ? o.npolicies : 1;
    for (size_t i = 0; i < nloaded; i++) {
        int rc = load_policy(&o, o.npolicies ? o.policies[i] : "strict", o.npolicies > 0,
                             &loaded[i]);
        if (rc)
            return rc;
    }
    if (o.command == OPTS_KERNEL_INSTALL)
        return kernel_install(&o, loaded[0].path);

    static const char *read_grants[POLICY_GRANTS_MAX], *write_grants[POLICY_GRANTS_MAX];
    size_t nread = 0, nwrite = 0;
    for (size_t i = 0; i < o.ngrants; i++) {
        if (o.grants[i].writable)
            write_grants[nwrite++] = o.grants[i].path;
        else
            read_grants[nread++] = o.grants[i].path;
    }
    struct session_config scfg = {
        .exec = {
            .executor_path = o.executor ? o.executor : paths.executor,
            .policy_path = loaded[0].path,
            .policy_name = loaded[0].name,
            .allow_read = read_grants,
            .n_allow_read = nread,
            .allow_write = write_grants,
            .n_allow_write = nwrite,
        },
        .timeout_s = o.timeout >= 0 ? o.timeout : loaded[0].timeout_s,
        .grace_s = o.grace,
        .output_cap = o.output_cap_set ? o.output_cap : loaded[0].output_cap,
        .quiet = o.quiet,
        .standby = !o.no_standby,
        .restore = o.restore_replay ? SESSION_RESTORE_REPLAY : SESSION_RESTORE_NONE,
        .idle_cpu = loaded[0].idle_cpu,
    };

    /* Static: with piped input a read of stdin may still be pending in the
     * thread pool at exit, so the loop cannot always be closed. */
    static uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot start the event loop: %s\n", uv_strerror(rc));
        return EXIT_CANNOT_START;
    }
    if (o.command == OPTS_REPL)
        rc = run_repl(&loop, &o, &scfg, loaded[0].name);
    else if (o.command == OPTS_KERNEL)
        rc = kernel_run(&loop, &(struct kernel_config){.connection_file = o.connection_file,
                                                        .session = scfg,
                                                        .policy_name = loaded[0].name});
    else
        rc = run_server(&loop, &o, &scfg, loaded, nloaded);
    /* EBUSY when a read of stdin is still pending: the process ends now. */
    (void)uv_loop_close(&loop);
    finish(rc);
}
