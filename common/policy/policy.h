/* Sandbox policies: the text format (docs/policies.md), its parser and the
 * seccomp filter it compiles to.
 *
 * A policy is built once: the loader reads and parses the text, adds the
 * command line's grants (--allow-read/--allow-write), then finishes it
 * (checks that need the whole policy, and a trial compile of the filter).
 * A finished policy is only read: by the accessors, policy_dump and
 * policy_seccomp_build here, by sandbox_apply in the executor.
 *
 * Errors are negative errno values, as in libuv; the err buffer says what
 * went wrong, naming the place that caused it as "FILE:LINE: what is
 * wrong" when there is one. */
#ifndef AIOBOX_POLICY_H
#define AIOBOX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include <seccomp.h>

/* The format version this parser reads (the `aiobox-policy N` line). */
#define POLICY_FORMAT_VERSION 1
/* Default statement output cap when the policy sets none. */
#define POLICY_OUTPUT_CAP_DEFAULT ((size_t)1 << 20)
/* The most --allow-read/--allow-write paths one policy takes, together.
 * The supervisor's and the executor's command lines have the same limit. */
#define POLICY_GRANTS_MAX 64

struct policy;

/* A --allow-read or --allow-write path. It must exist; the loader makes
 * it absolute. A writable path also lifts the write-flag conditions of the
 * policy's `allow-when-writable` calls (openat). No effect with `landlock
 * off`, where files are not restricted in the first place. */
struct policy_grant {
    const char *path;
    bool writable;
};

/* Builds a finished policy from the file at path (or from text that
 * filename names in errors and that anchors relative `include`s), with
 * up to POLICY_GRANTS_MAX grants (-E2BIG beyond). Returns 0, or a negative
 * errno with *out NULL: -EINVAL for a mistake in the policy, -E2BIG,
 * -EFBIG for a file over 1 MiB, -ENOMEM, or the failing call's. */
int policy_load(const char *path, const struct policy_grant *grants, size_t ngrants,
                struct policy **out, char *err, size_t errlen);
int policy_parse(const char *text, size_t len, const char *filename,
                 const struct policy_grant *grants, size_t ngrants,
                 struct policy **out, char *err, size_t errlen);
void policy_free(struct policy *p);

const char *policy_name(const struct policy *p);
double policy_timeout(const struct policy *p);        /* seconds, 0 = none */
size_t policy_output_cap(const struct policy *p);     /* bytes per statement */
/* False when the policy allows every call by default and leaves files
 * alone (trusted): a PermissionError then did not come from the policy. */
bool policy_is_restrictive(const struct policy *p);

/* --check-policy: every rule resolved, then the filter in libseccomp's
 * pseudo filter code. Returns 0 or a negative errno. */
int policy_dump(const struct policy *p, FILE *out, char *err, size_t errlen);
/* The same, with a line about this machine (what the supervisor makes of
 * the idle-cpu and cgroup limits here) after the limits, before the
 * filter. */
int policy_dump_noted(const struct policy *p, const char *note, FILE *out, char *err,
                      size_t errlen);

/* --- what sandbox_apply reads ------------------------------------------ */

/* Builds the seccomp filter (not loaded). $pid in conditions becomes
 * getpid() of the caller. Bad-architecture action: kill the process;
 * TSYNC on. The caller seccomp_release()s it. *nrules counts the rules
 * added. Returns 0 or a negative errno (libseccomp's). */
int policy_seccomp_build(const struct policy *p, scmp_filter_ctx *out,
                         unsigned *nrules, char *err, size_t errlen);

enum policy_fs_access {
    POLICY_FS_RO,   /* read files, list directories */
    POLICY_FS_RX,   /* plus execute */
    POLICY_FS_RW,   /* plus write, create, remove, rename, truncate */
};

struct policy_path {
    const char *path;
    enum policy_fs_access access;
    bool optional;      /* skipped when missing instead of failing */
    bool mount_only;    /* added by a tmpfs or bind directive: applies only
                         * where the mount namespace was made (outside
                         * it, the path is the host's, not the one meant) */
};

enum policy_tcp_kind { POLICY_TCP_CONNECT, POLICY_TCP_BIND };

struct policy_tcp {
    enum policy_tcp_kind kind;
    int port;           /* -1: any port */
};

struct policy_rlimit {
    int resource;       /* RLIMIT_* */
    const char *name;   /* "as", "nofile", ... */
    rlim_t value;       /* soft and hard */
};

/* False for `landlock off`. */
bool policy_landlock_enabled(const struct policy *p);
/* Lowest landlock ABI the policy accepts (`landlock abi N`, or what its
 * tcp rules need). */
int policy_landlock_min_abi(const struct policy *p);
size_t policy_path_count(const struct policy *p);
const struct policy_path *policy_path_at(const struct policy *p, size_t i);
size_t policy_tcp_count(const struct policy *p);
const struct policy_tcp *policy_tcp_at(const struct policy *p, size_t i);
size_t policy_rlimit_count(const struct policy *p);
const struct policy_rlimit *policy_rlimit_at(const struct policy *p, size_t i);

/* Namespaces the executor makes for itself (`namespaces ...`), in the
 * order it makes them; bits of policy_namespaces(). */
enum policy_ns {
    POLICY_NS_USER = 1 << 0,
    POLICY_NS_IPC = 1 << 1,
    POLICY_NS_UTS = 1 << 2,
    POLICY_NS_NET = 1 << 3,
    POLICY_NS_PID = 1 << 4,
    POLICY_NS_MOUNT = 1 << 5,   /* made apart, by sandbox_mounts */
};
/* The namespaces asked for; *optional: those marked '?', which the
 * executor goes without (and says so) where the kernel refuses them. */
unsigned policy_namespaces(const struct policy *p, unsigned *optional);
/* The word for one POLICY_NS_* bit ("user", ...). */
const char *policy_ns_name(unsigned bit);
/* The hostname inside the uts namespace (`hostname NAME`, default aiobox). */
const char *policy_hostname(const struct policy *p);

/* --- what the supervisor reads ------------------------------------------- */

/* What the supervisor does when an executor uses more CPU than the policy
 * allows while no statement runs (`idle-cpu ... then warn|kill`). */
enum policy_idle_action {
    POLICY_IDLE_WARN,   /* a notice each time it goes over */
    POLICY_IDLE_KILL,   /* a notice, and if it stays over one more window,
                         * the executor is killed and restarted */
};

struct policy_idle_cpu {
    double share;       /* of one CPU (0.25: 25%); 0: no limit */
    double window_s;    /* averaged over this long */
    enum policy_idle_action action;
};

/* The idle-CPU limit; share 0 when the policy sets none. */
struct policy_idle_cpu policy_idle_cpu(const struct policy *p);
/* The action's word ("warn", "kill"). */
const char *policy_idle_action_name(enum policy_idle_action a);

/* Limits of the executor's own cgroup v2 (`cgroup cpu|memory|pids ...`). */
enum policy_cgroup_ctl {
    POLICY_CGROUP_CPU,      /* cpu.max: percent of one CPU */
    POLICY_CGROUP_MEMORY,   /* memory.max: bytes */
    POLICY_CGROUP_PIDS,     /* pids.max: processes and threads */
    POLICY_CGROUP_COUNT,
};

struct policy_cgroup_limit {
    bool set;
    bool optional;      /* '?': gone without where cgroup v2 is not available */
    uint64_t value;
};

const struct policy_cgroup_limit *policy_cgroup(const struct policy *p,
                                                enum policy_cgroup_ctl ctl);
/* The controller's word ("cpu", "memory", "pids"). */
const char *policy_cgroup_name(enum policy_cgroup_ctl ctl);
/* Whether some cgroup limit is set without '?': the supervisor refuses
 * the policy where it cannot apply it. */
bool policy_cgroup_required(const struct policy *p);
/* What the mount namespace holds besides the policy's fs paths (`tmpfs`,
 * `bind-ro`, `bind-rw`); only with POLICY_NS_MOUNT. Each also adds an fs
 * rule for its path (mount_only) when landlock is on. */
enum policy_mount_kind {
    POLICY_MOUNT_TMPFS,     /* a private, empty, sized tmpfs (mode 1777) */
    POLICY_MOUNT_BIND_RO,   /* a host path, read-only */
    POLICY_MOUNT_BIND_RW,   /* a host path, writable */
};

struct policy_mount {
    enum policy_mount_kind kind;
    const char *path;       /* absolute, no '.', '..' or empty components */
    uint64_t size;          /* tmpfs: bytes */
    bool optional;          /* bind-ro?, bind-rw?: skipped when missing */
};

size_t policy_mount_count(const struct policy *p);
const struct policy_mount *policy_mount_at(const struct policy *p, size_t i);
/* The word for a mount kind ("tmpfs", "bind-ro", "bind-rw"). */
const char *policy_mount_word(enum policy_mount_kind kind);

/* What the mount namespace's root is (`mount-root minimal|host`). */
enum policy_mount_root {
    POLICY_ROOT_MINIMAL,    /* a new root holding only what the policy names */
    POLICY_ROOT_HOST,       /* the host's, with a /proc of its own and the tmpfs mounts */
};
enum policy_mount_root policy_mount_root(const struct policy *p);

/* Formats a size the way policies write it ("1G", "64", "unlimited"). */
void policy_format_size(uint64_t v, char *buf, size_t buflen);

#endif
