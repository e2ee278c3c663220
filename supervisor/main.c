/* aiobox: the supervisor. Parse options, load the policy, wire the session
 * to a front end, run the loop. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "config.h"
#include "opts.h"
#include "paths.h"
#include "pipe.h"
#include "policy.h"
#include "term.h"

/* --check-policy NAME|FILE, resolved as --policy is. */
static int check_policy(const char *name_or_file)
{
    static char file[PATH_MAX];
    char err[512];
    struct paths paths;
    struct policy *p;
    if (paths_init(&paths, err, sizeof err) == 0) {
        if (paths_policy(&paths, name_or_file, file, sizeof file, err, sizeof err)) {
            fprintf(stderr, "aiobox: %s\n", err);
            return 2;
        }
    } else if (!strchr(name_or_file, '/')) {
        /* Without an executor there is no policy directory either. */
        fprintf(stderr, "aiobox: %s\n", err);
        return 1;
    } else
        snprintf(file, sizeof file, "%s", name_or_file);
    if (policy_load_file(file, &p, err, sizeof err)) {
        fprintf(stderr, "aiobox: %s\n", err);
        return 2;
    }
    int rc = policy_dump(p, stdout, err, sizeof err);
    if (rc)
        fprintf(stderr, "aiobox: %s\n", err);
    policy_free(p);
    return rc ? 2 : 0;
}

/* Absolute copies of --allow-* paths, checked against the policy now so a
 * mistake is reported before any executor starts. */
static int resolve_allowed(struct policy *pol, const char **paths, size_t n, bool writable,
                           char store[][PATH_MAX])
{
    char err[512];
    for (size_t i = 0; i < n; i++) {
        if (!realpath(paths[i], store[i])) {
            fprintf(stderr, "aiobox: --allow-%s %s: %m\n", writable ? "write" : "read",
                    paths[i]);
            return -1;
        }
        if (policy_add_path(pol, store[i], writable, err, sizeof err)) {
            fprintf(stderr, "aiobox: %s\n", err);
            return -1;
        }
        paths[i] = store[i];
    }
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

int main(int argc, char **argv)
{
    static char read_paths[OPTS_PATHS_MAX][PATH_MAX], write_paths[OPTS_PATHS_MAX][PATH_MAX];
    static char policy_path[PATH_MAX], policy_name_buf[128], banner[512];
    struct opts o;
    struct paths paths;
    struct policy *pol;
    char err[512];

    if (opts_parse(argc, argv, &o))
        return 2;
    if (o.help) {
        opts_usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("aiobox %s (Python %s)\n", AIOBOX_VERSION, AIOBOX_PYTHON_VERSION);
        return 0;
    }
    if (o.check_policy)
        return check_policy(o.check_policy);
    /* A write to a dead executor must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    if (paths_init(&paths, err, sizeof err)) {
        fprintf(stderr, "aiobox: %s\n", err);
        return 1;
    }
    if (o.executor && access(o.executor, X_OK) != 0) {
        fprintf(stderr, "aiobox: --executor %s: %m\n", o.executor);
        return 1;
    }
    if (paths_policy(&paths, o.policy ? o.policy : "strict", policy_path, sizeof policy_path,
                     err, sizeof err)) {
        fprintf(stderr, "aiobox: %s\n", err);
        /* A policy the user named is a usage error; a missing default is
         * a broken installation. */
        return o.policy ? 2 : 1;
    }
    if (policy_load_file(policy_path, &pol, err, sizeof err)) {
        fprintf(stderr, "aiobox: %s\n", err);
        return 2;
    }
    if (resolve_allowed(pol, o.allow_read, o.n_allow_read, false, read_paths) ||
        resolve_allowed(pol, o.allow_write, o.n_allow_write, true, write_paths)) {
        policy_free(pol);
        return 2;
    }

    struct session_config scfg = {
        .exec = {
            .executor_path = o.executor ? o.executor : paths.executor,
            .policy_path = policy_path,
            .allow_read = o.allow_read,
            .n_allow_read = o.n_allow_read,
            .allow_write = o.allow_write,
            .n_allow_write = o.n_allow_write,
        },
        .timeout_s = o.timeout >= 0 ? o.timeout : policy_timeout(pol),
        .grace_s = o.grace,
        .output_cap = policy_output_cap(pol),
        .quiet = o.quiet,
        .standby = !o.no_standby,
        .restore = o.restore_replay ? SESSION_RESTORE_REPLAY : SESSION_RESTORE_NONE,
    };
    snprintf(policy_name_buf, sizeof policy_name_buf, "%s", policy_name(pol));
    scfg.exec.policy_name = policy_name_buf;
    policy_free(pol);

    snprintf(banner, sizeof banner,
             "aiobox %s (Python %s), policy %s\n"
             "Use \"await\" directly. Type :help for supervisor commands, exit() or Ctrl-D to leave.\n",
             AIOBOX_VERSION, AIOBOX_PYTHON_VERSION, policy_name_buf);
    struct front_config fcfg = {.history_path = o.history, .banner = o.quiet ? NULL : banner};

    /* Static: with piped input a read of stdin may still be pending in the
     * thread pool at exit, so the loop cannot always be closed. */
    static uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot start the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    rc = -ENOTTY;
    if (isatty(0) && isatty(1)) {
        rc = term_front_run(&loop, &scfg, &fcfg);
        if (rc == -ENOTTY)
            fputs("aiobox: cannot open the terminal for input; reading it as a pipe\n", stderr);
    }
    if (rc == -ENOTTY)
        rc = pipe_front_run(&loop, &scfg, &fcfg);
    /* EBUSY when a read of stdin is still pending: the process ends now. */
    (void)uv_loop_close(&loop);
    finish(rc);
}
