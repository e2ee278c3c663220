/* aiobox-executor: embedded CPython serving one REPL session over the
 * channel. The start sequence is the order that matters for the sandbox:
 * everything that needs files, threads or privileges happens before
 * sandbox_apply, and nothing starts a thread before it. The namespaces
 * (and the fork into a pid namespace) come first, before Python. */
#define _GNU_SOURCE
#include "channel.h"
#include "forkserver.h"
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

/* Loads a policy with the extra paths, or says why it cannot (on the
 * channel when there is one, and on stderr) and ends. */
static struct policy *load_policy(const char *path, const struct exec_opts *o)
{
    struct policy *p = NULL;
    char err[512];

    if (policy_load(path, o->grants, o->ngrants, &p, err, sizeof err) < 0)
        start_failed(err);
    return p;
}

/* What the runtime needs to know of its policy. */
static void describe_policy(const struct policy *p, struct host_config *hc)
{
    hc->policy_name = policy_name(p);
    hc->output_cap = policy_output_cap(p);
    hc->permission_hint = policy_is_restrictive(p);
}

/* Before Python: descriptors, parent, signals, malloc. keep is the one
 * descriptor above 2 that stays (the channel, or the fork server's
 * control socket). */
static void settle_process(int keep, pid_t parent)
{
    exec_proc_close_fds(keep);
    if (exec_proc_bind_parent(parent) < 0)
        _exit(EXEC_EXIT_CLOSED);
    int rc = exec_proc_unblock_signals();
    if (rc < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: cannot unblock signals: %s\n",
                      strerror(-rc));
        _exit(EXEC_EXIT_START);
    }
    /* One malloc arena: glibc reserves 128 MiB of address space for each
     * extra arena, which RLIMIT_AS would count against user code.
     * AddressSanitizer's allocator replaces glibc's and refuses mallopt;
     * it has no such arenas, and no RLIMIT_AS either. */
    if (mallopt(M_ARENA_MAX, 1) != 1 && !sandbox_sanitizer_build()) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: mallopt(M_ARENA_MAX, 1) failed\n");
        _exit(EXEC_EXIT_START);
    }
}

/* The channel, and the pipe interrupts wake the loop through. */
static void open_channel(int fd)
{
    char err[512];
    int rc = chan_init(fd, err, sizeof err);
    if (rc < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", err);
        _exit(EXEC_EXIT_USAGE);
    }
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
    sandbox_set_fork_hooks(host_before_fork, host_after_fork_child);
    if (sandbox_apply(policy, desc, desclen, err, sizeof err) < 0)
        start_failed(err);
    policy_free(policy);
}

/* The fork server: every policy loaded, Python initialised and the
 * runtime imported, then requests served; returns only in a forked
 * child, with the policy it asked for (the others freed). */
static struct policy *become_forkserver(const struct exec_opts *o, pid_t parent)
{
    struct policy *policies[EXEC_POLICIES_MAX] = {0};
    char err[512];
    unsigned which;

    settle_process(o->fd, parent);
    for (size_t i = 0; i < o->npolicies; i++)
        policies[i] = load_policy(o->policies[i], o);
    if (host_init(err, sizeof err) < 0 || host_preload(err, sizeof err) < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", err);
        _exit(EXEC_EXIT_START);
    }
    forkserver_serve(o->fd, o->npolicies, &which);
    /* The child: its parent is the fork server, whose death is its own. */
    if (exec_proc_bind_parent(getppid()) < 0)
        _exit(EXEC_EXIT_CLOSED);
    for (size_t i = 0; i < o->npolicies; i++)
        if (i != which)
            policy_free(policies[i]);
    return policies[which];
}

int main(int argc, char **argv)
{
    pid_t parent = getppid();
    struct exec_opts opts;
    struct host_config hc = {.output_cap = POLICY_OUTPUT_CAP_DEFAULT};
    struct policy *policy = NULL;
    char err[512], sandbox_desc[384] = "none";
    int channel;

    if (exec_opts_parse(argc, argv, &opts, err, sizeof err) < 0) {
        (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", err);
        (void)exec_opts_usage(STDERR_FILENO);
        return EXEC_EXIT_USAGE;
    }
    if (opts.help)
        return exec_opts_usage(STDOUT_FILENO) < 0 ? EXEC_EXIT_USAGE : 0;
    if (opts.forkserver) {
        policy = become_forkserver(&opts, parent);
        /* At once after the fork from the server: whatever this process
         * writes before the fork into its pid namespace, the child pays a
         * page fault for again. */
        sandbox_set_fork_hooks(host_before_fork, host_after_fork_child);
        int rc = sandbox_enter_namespaces(policy, err, sizeof err);
        channel = 3;
        if (rc < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            open_channel(channel);      /* the supervisor reads why on it */
            start_failed(why);
        }
        open_channel(channel);
    } else {
        settle_process(opts.fd, parent);
        channel = opts.fd;
        open_channel(channel);
        if (opts.policy_path)
            policy = load_policy(opts.policy_path, &opts);
        /* The namespaces before Python: the fork into a pid namespace is
         * then nearly free (see sandbox_enter_namespaces). A fork-server
         * child has Python already; sandbox_apply enters them there. */
        if (policy && sandbox_enter_namespaces(policy, err, sizeof err) < 0)
            start_failed(err);
    }
    if (policy)
        describe_policy(policy, &hc);
    if ((!opts.forkserver && host_init(err, sizeof err) < 0) ||
        host_prepare(&hc, err, sizeof err) < 0)
        start_failed(err);
    if (policy)
        enter_sandbox(policy, channel, sandbox_desc, sizeof sandbox_desc);
    chan_send_ready(sandbox_desc);
    return host_serve();
}
