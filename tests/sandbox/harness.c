/* The forked-child harness for sandbox tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"

#include "checkrun.h"
#include "harness.h"

#ifndef POLICY_DIR
#error "POLICY_DIR must name the build tree's policies/"
#endif

void (*harness_before)(void);

static void read_all(int fd, void *buf, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        ssize_t r = read(fd, (char *)buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        *len += (size_t)r;
        if (*len == cap)
            return;
    }
}

void run_policy(const struct policy *p, probe_fn probe, void *arg, struct outcome *out)
{
    memset(out, 0, sizeof *out);
    /* Without landlock in the kernel no landlock policy can start: the
     * test cannot say anything about what it came for. */
    if (policy_landlock_enabled(p)) {
        int abi = sandbox_landlock_abi();
        if (abi < 0)
            checkrun_host_lacks("landlock", "the kernel has no landlock (%s), policy %s needs it",
                                strerror(-abi), policy_name(p));
    }
    int chan[2], info[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan), 0);
    ck_assert_int_eq(pipe2(info, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(chan[0]);
        close(info[0]);
        char desc[512], err[512];
        if (sandbox_arm_sigsys(chan[1]) < 0) {
            dprintf(info[1], "Ecannot install the SIGSYS handler");
            _exit(HARNESS_APPLY_FAILED);
        }
        if (harness_before)
            harness_before();
        if (sandbox_apply(p, desc, sizeof desc, err, sizeof err) < 0) {
            dprintf(info[1], "E%s", err);
            _exit(HARNESS_APPLY_FAILED);
        }
        dprintf(info[1], "D%s", desc);
        close(info[1]);
        _exit(probe(arg));
    }
    close(chan[1]);
    close(info[1]);
    char buf[sizeof out->desc];
    size_t n;
    read_all(info[0], buf, sizeof buf - 1, &n);
    buf[n] = '\0';
    close(info[0]);
    if (buf[0] == 'D')
        snprintf(out->desc, sizeof out->desc, "%s", buf + 1);
    else if (buf[0] == 'E')
        snprintf(out->err, sizeof out->err, "%s", buf + 1);
    /* The channel reaches EOF when the child is gone. */
    read_all(chan[0], out->frame, sizeof out->frame, &out->framelen);
    close(chan[0]);
    ck_assert_int_eq(waitpid(pid, &out->status, 0), pid);
}

void run_sandboxed(const char *policy_text, probe_fn probe, void *arg, struct outcome *out)
{
    struct policy *p;
    char err[1024];
    ck_assert_msg(policy_parse(policy_text, strlen(policy_text), POLICY_DIR "/test-policy",
                               NULL, 0, &p, err, sizeof err) == 0, "%s", err);
    run_policy(p, probe, arg, out);
    policy_free(p);
}

char *strict_variant(const char *const *drop, const char *extra)
{
    FILE *f = fopen(POLICY_DIR "/strict", "r");
    ck_assert_ptr_nonnull(f);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    char line[8192], logical[16384] = "";
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == ' '))
            line[--l] = '\0';
        bool more = l && line[l - 1] == '\\';
        if (more)
            line[l - 1] = ' ';
        strncat(logical, line, sizeof logical - strlen(logical) - 1);
        if (more)
            continue;
        char first[64] = "";
        sscanf(logical, "%63s", first);
        bool keep = true;
        for (size_t i = 0; drop && drop[i]; i++) {
            if (strchr(drop[i], ' ') ? strncmp(logical, drop[i], strlen(drop[i])) == 0
                                     : strcmp(first, drop[i]) == 0)
                keep = false;
        }
        if (keep)
            fprintf(out, "%s\n", logical);
        logical[0] = '\0';
    }
    fclose(f);
    fprintf(out, "%s", extra ? extra : "");
    fclose(out);
    return text;
}

/* The layers here are tested each on its own, so every variant leaves
 * the mount namespace out: its root hides host files before landlock is
 * asked, and makes /tmp writable, which lifts seccomp's openat condition.
 * tests/sandbox/test_python.py and test_sessions.py test it. */
char *strict_without(const char *layer)
{
    static const char *const seccomp[] = {
        "default", "group", "allow", "errno", "kill", "trap", "allow-when-writable",
        "namespaces", "tmpfs", NULL,
    };
    static const char *const landlock[] = { "fs", "tcp", "namespaces", "tmpfs", NULL };
    static const char *const rlimits[] = { "rlimit", "namespaces", "tmpfs", NULL };
    static const char *const none[] = { "namespaces", "tmpfs", NULL };
    static const char no_mount[] = "namespaces user ipc uts net\n";
    if (strcmp(layer, "seccomp") == 0)
        return strict_variant(seccomp, "default allow\nnamespaces user ipc uts net\n");
    if (strcmp(layer, "landlock") == 0)
        return strict_variant(landlock, "landlock off\nnamespaces user ipc uts net\n");
    if (strcmp(layer, "rlimits") == 0)
        return strict_variant(rlimits, no_mount);
    return strict_variant(none, no_mount);
}

bool exited_with(const struct outcome *o, int code)
{
    return WIFEXITED(o->status) && WEXITSTATUS(o->status) == code;
}

bool killed_by(const struct outcome *o, int sig)
{
    return WIFSIGNALED(o->status) && WTERMSIG(o->status) == sig;
}

/* Decodes with msgpack-c directly: the frame must be what the protocol
 * says a `denied` message is, whoever decodes it. */
long long denied_syscall(const struct outcome *o)
{
    if (o->framelen < 4)
        return -1;
    size_t body = ((size_t)o->frame[0] << 24) | ((size_t)o->frame[1] << 16) |
                  ((size_t)o->frame[2] << 8) | o->frame[3];
    if (body + 4 != o->framelen)
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    long long nr = -1;
    if (msgpack_unpack_next(&u, (const char *)o->frame + 4, body, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == body && u.data.type == MSGPACK_OBJECT_MAP) {
        bool t_ok = false, v_ok = false;
        long long found = -1;
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_object k = u.data.via.map.ptr[i].key, v = u.data.via.map.ptr[i].val;
            if (k.type != MSGPACK_OBJECT_STR)
                continue;
            if (k.via.str.size == 1 && k.via.str.ptr[0] == 't')
                t_ok = v.type == MSGPACK_OBJECT_STR && v.via.str.size == 6 &&
                       memcmp(v.via.str.ptr, "denied", 6) == 0;
            else if (k.via.str.size == 1 && k.via.str.ptr[0] == 'v')
                v_ok = v.type == MSGPACK_OBJECT_POSITIVE_INTEGER && v.via.u64 == PROTO_VERSION;
            else if (k.via.str.size == 7 && memcmp(k.via.str.ptr, "syscall", 7) == 0) {
                if (v.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                    found = (long long)v.via.u64;
                else if (v.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                    found = v.via.i64;
            }
        }
        if (t_ok && v_ok)
            nr = found;
    }
    msgpack_unpacked_destroy(&u);
    return nr;
}
