/* aiobox-executor: embedded CPython serving one REPL session over the
 * channel. The start sequence is the order that matters for the sandbox:
 * everything that needs files, threads or privileges happens before
 * sandbox_apply, and nothing starts a thread before it. */
#define _GNU_SOURCE
#include "channel.h"
#include "host.h"
#include "interrupt.h"
#include "options.h"
#include "policy.h"
#include "proc.h"
#include "sandbox.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noreturn)) static void start_failed(const char *why)
{
    chan_fail(EXEC_EXIT_START, "%s", why);
}

/* Loads the policy with the extra paths; fills in what the runtime needs
 * to know about it. */
static struct policy *load_policy(const struct exec_opts *o, struct host_config *hc)
{
    struct policy *p = NULL;
    char err[512];

    if (policy_load(o->policy_path, o->grants, o->ngrants, &p, err, sizeof err) < 0)
        start_failed(err);
    hc->policy_name = policy_name(p);
    hc->output_cap = policy_output_cap(p);
    hc->permission_hint = policy_is_restrictive(p);
    return p;
}

/* Everything before Python: descriptors, parent, signals, malloc, the
 * channel. */
static void settle_process(const struct exec_opts *o, pid_t parent)
{
    char err[512];
    int rc;

    exec_proc_close_fds(o->fd);
    if (exec_proc_bind_parent(parent) < 0)
        _exit(EXEC_EXIT_CLOSED);
    rc = chan_init(o->fd, err, sizeof err);
    if (rc < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", err);
        _exit(EXEC_EXIT_USAGE);
    }
    rc = exec_proc_unblock_signals();
    if (rc < 0)
        chan_fail(EXEC_EXIT_START, "cannot unblock signals: %s", strerror(-rc));
    /* One malloc arena: glibc reserves 128 MiB of address space for each
     * extra arena, which RLIMIT_AS would count against user code.
     * AddressSanitizer's allocator replaces glibc's and refuses mallopt;
     * it has no such arenas, and no RLIMIT_AS either. */
    if (mallopt(M_ARENA_MAX, 1) != 1 && !sandbox_sanitizer_build())
        start_failed("mallopt(M_ARENA_MAX, 1) failed");
    rc = exec_interrupt_init();
    if (rc < 0)
        chan_fail(EXEC_EXIT_START, "cannot create the interrupt pipe: %s", strerror(-rc));
}

/* sandbox_apply checks that the process still has one thread (landlock
 * and seccomp without TSYNC bind only the calling thread), re-arms the
 * parent death signal after dropping root (which clears it) and before
 * seccomp (which may forbid prctl afterwards). */
static void enter_sandbox(struct policy *policy, int channel, char *desc, size_t desclen)
{
    char err[512];
    int rc = sandbox_arm_sigsys(channel);

    if (rc < 0)
        chan_fail(EXEC_EXIT_START, "cannot install the SIGSYS handler: %s", strerror(-rc));
    if (sandbox_apply(policy, desc, desclen, err, sizeof err) < 0)
        start_failed(err);
    policy_free(policy);
}

int main(int argc, char **argv)
{
    pid_t parent = getppid();
    struct exec_opts opts;
    struct host_config hc = {.output_cap = POLICY_OUTPUT_CAP_DEFAULT};
    struct policy *policy = NULL;
    char err[512], sandbox_desc[256] = "none";

    if (exec_opts_parse(argc, argv, &opts, err, sizeof err) < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", err);
        (void)exec_opts_usage(STDERR_FILENO);
        return EXEC_EXIT_USAGE;
    }
    if (opts.help)
        return exec_opts_usage(STDOUT_FILENO) < 0 ? EXEC_EXIT_USAGE : 0;
    settle_process(&opts, parent);
    if (opts.policy_path)
        policy = load_policy(&opts, &hc);
    if (host_init(err, sizeof err) < 0 || host_prepare(&hc, err, sizeof err) < 0)
        start_failed(err);
    if (policy)
        enter_sandbox(policy, opts.fd, sandbox_desc, sizeof sandbox_desc);
    chan_send_ready(sandbox_desc);
    return host_serve();
}
