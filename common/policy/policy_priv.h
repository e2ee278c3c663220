/* Inside the policy module, one section per file, in the order they build
 * on each other: the model (policy_model.c) and the words policies use
 * (policy_names.c) at the bottom, the parser (policy_parse.c,
 * policy_parse_rules.c) on them, the loader (policy_load.c) on the parser.
 * The compiler (policy_seccomp.c) and the dump (policy_dump.c) read the
 * model only; their entry points are in policy.h. Nothing outside
 * common/policy/ includes this. Errors are negative errno values. */
#ifndef AIOBOX_POLICY_PRIV_H
#define AIOBOX_POLICY_PRIV_H

#include "policy.h"

#define POLICY_MAX_CONDS 6
#define POLICY_LINE_MAX 4096
#define POLICY_FILE_MAX ((size_t)1 << 20)
#define POLICY_INCLUDE_DEPTH_MAX 8
#define POLICY_HOSTNAME_DEFAULT "aiobox"

/* --- policy_model.c: the parsed form -------------------------------------- */

/* Where a directive came from. file points into policy->files. */
struct policy_where {
    const char *file;
    unsigned line;
};

enum policy_action_kind { PA_ALLOW, PA_ERRNO, PA_KILL, PA_TRAP };

struct policy_action {
    enum policy_action_kind kind;
    int errnum;                 /* PA_ERRNO */
};

enum policy_op { PO_EQ, PO_NE, PO_LT, PO_LE, PO_GT, PO_GE, PO_MASKED_EQ };

struct policy_cond {
    unsigned arg;               /* 0..5 */
    enum policy_op op;
    uint64_t mask;              /* PO_MASKED_EQ */
    uint64_t value;
    bool value_is_pid;          /* `$pid`: resolved when the filter is built */
};

struct policy_rule {
    int nr;
    char *sysname;
    struct policy_action action;
    bool when_writable;         /* allow-when-writable */
    unsigned ncond;
    struct policy_cond cond[POLICY_MAX_CONDS];
    struct policy_where where;
};

struct policy_group {
    char *name;                 /* without the '@' */
    int *nrs;
    size_t count;
    struct policy_where where;
};

struct policy_path_entry {
    struct policy_path pub;
    char *path;                 /* owned; pub.path points here */
    struct policy_where where;  /* file NULL: a grant from the command line */
    const char *variable;       /* the path variable it came from, or NULL */
    const char *origin;         /* the mount directive that added it, or NULL */
};

struct policy_mount_entry {
    struct policy_mount pub;
    char *path;                 /* owned; pub.path points here */
    struct policy_where where;
    int depth;                  /* include depth of the directive */
};

/* A setting given once. An including file may override what it includes:
 * the shallower include depth wins; two settings at one depth conflict. */
struct policy_slot {
    bool set;
    int depth;
    struct policy_where where;
};

struct policy_tcp_entry {
    struct policy_tcp pub;
    struct policy_where where;
};

struct policy_rlimit_entry {
    struct policy_rlimit pub;
    struct policy_slot slot;
};

struct policy {
    char *name;
    char *path;                 /* the top file as given */

    struct policy_action def;
    struct policy_slot def_slot;
    struct policy_slot name_slot;
    double timeout;
    struct policy_slot timeout_slot;
    size_t output_cap;
    struct policy_slot cap_slot;
    bool landlock_off;
    int landlock_abi;
    struct policy_slot landlock_slot;
    bool writable;              /* some rw path: when-writable rules apply */
    unsigned ns, ns_optional;   /* POLICY_NS_* */
    struct policy_slot ns_slot;
    char *hostname;             /* NULL: POLICY_HOSTNAME_DEFAULT */
    struct policy_slot hostname_slot;
    struct policy_idle_cpu idle_cpu;
    struct policy_slot idle_cpu_slot;
    struct policy_cgroup_limit cgroup[POLICY_CGROUP_COUNT];
    struct policy_slot cgroup_slot[POLICY_CGROUP_COUNT];

    struct policy_rule *rules;
    size_t nrules, caprules;
    struct policy_group *groups;
    size_t ngroups, capgroups;
    struct policy_path_entry *paths;
    size_t npaths, cappaths;
    struct policy_tcp_entry *tcp;
    size_t ntcp, captcp;
    struct policy_rlimit_entry *rlimits;
    size_t nrlimits, caprlimits;
    struct policy_mount_entry *mounts;
    size_t nmounts, capmounts;
    enum policy_mount_root mount_root;
    struct policy_slot mount_root_slot;

    char **files;               /* names of every file read, for wheres */
    size_t nfiles;
};

/* An empty policy with the defaults (errno EPERM, landlock ABI 1, the
 * default output cap); NULL when out of memory. */
struct policy *policy_new(void);
/* Grows arr to hold need elements (doubling); NULL when out of memory,
 * arr then untouched. */
void *policy_grow(void *arr, size_t *cap, size_t need, size_t elem);
/* The policy's own copy of a file name, for wheres; NULL when out of memory. */
const char *policy_intern_file(struct policy *p, const char *name);
/* Adds an fs path; where NULL: a grant from the command line. 0 or -ENOMEM. */
int policy_add_path_entry(struct policy *p, const char *path,
                          enum policy_fs_access access, bool optional,
                          const struct policy_where *where);
void policy_action_text(const struct policy_action *a, char *buf, size_t len);
/* The POLICY_NS_* bit for a namespace word; 0 or -EINVAL. */
int policy_ns_bit(const char *word, unsigned *bit);
void policy_rule_text(const struct policy_rule *r, char *buf, size_t len);

/* --- policy_names.c: the words policies may use for numbers --------------- */

/* Each returns 0, or -EINVAL for a word it does not know. */
int policy_constant(const char *word, uint64_t *value);
int policy_errno_value(const char *word, int *errnum);
const char *policy_errno_name(int errnum);
int policy_rlimit_resource(const char *word, int *resource, const char **name);
int policy_parse_size(const char *word, uint64_t *value);
int policy_parse_duration(const char *word, double *seconds);
/* A path variable ($python_path: the executor's sys.path, $python_libdir:
 * where libpython and the libraries of its extension modules live), as
 * the build found them; *name is the variable's own static copy. */
int policy_path_variable(const char *word, const char **name, const char *const **paths,
                         size_t *count);

/* --- policy_parse.c and policy_parse_rules.c: the parser ------------------- */

/* Reads all of fd (a policy file or an include) into a malloc'd buffer,
 * refusing more than POLICY_FILE_MAX bytes. Returns 0, or a negative errno:
 * -EFBIG when too large, -ENOMEM, or the read's. The caller closes fd and
 * words the error for its context. */
int policy_read_fd(int fd, char **out, size_t *len);
/* Parses text into p, which may already hold what an includer parsed;
 * depth counts includes (0 for the top file). */
int policy_parse_into(struct policy *p, const char *text, size_t len,
                      const char *filename, int depth,
                      char *err, size_t errlen);

/* The parser's state while it reads one file, shared by its two files. */
struct policy_parse_ctx {
    struct policy *p;
    const char *file;       /* interned */
    const char *dir;        /* for relative includes; NULL: cwd */
    unsigned line;
    int depth;
    bool seen_format;
    char *err;
    size_t errlen;
};

/* Word "FILE:LINE: ..." into the error buffer and return -EINVAL, or
 * -ENOMEM with "out of memory". */
__attribute__((format(printf, 2, 3)))
int policy_fail(struct policy_parse_ctx *c, const char *fmt, ...);
int policy_fail_nomem(struct policy_parse_ctx *c);
struct policy_where policy_here(const struct policy_parse_ctx *c);

/* policy_parse_rules.c: the directives that make seccomp rules. */
/* An action word (and the errno after `errno`); *used: words taken. */
int policy_parse_action(struct policy_parse_ctx *c, char **w, size_t n,
                        struct policy_action *act, size_t *used);
int policy_d_rule(struct policy_parse_ctx *c, char **w, size_t n);
int policy_d_when_writable(struct policy_parse_ctx *c, char **w, size_t n);
int policy_d_group(struct policy_parse_ctx *c, char **w, size_t n);

/* policy_parse_limits.c: the limits the supervisor applies (idle-cpu,
 * cgroup). */
int policy_d_idle_cpu(struct policy_parse_ctx *c, char **w, size_t n);
int policy_d_cgroup(struct policy_parse_ctx *c, char **w, size_t n);
/* Settings given once; see struct policy_slot. Returns 1 to take the new
 * value, 0 to keep the includer's, or a negative errno on a conflict. */
int policy_claim(struct policy_parse_ctx *c, struct policy_slot *s, const char *what);
/* policy_load.c: "FILE:LINE: " (where w points) and the message in err;
 * returns rc. For the checks that need the whole policy. */
__attribute__((format(printf, 5, 6)))
int policy_fail_at(int rc, const struct policy_where *w, char *err, size_t errlen,
                   const char *fmt, ...);
/* policy_mounts.c: tmpfs PATH SIZE; bind-ro[?] PATH; bind-rw[?] PATH. */
int policy_d_tmpfs(struct policy_parse_ctx *c, char **w, size_t n);
int policy_d_bind(struct policy_parse_ctx *c, char **w, size_t n);
/* mount-root minimal|host. */
int policy_d_mount_root(struct policy_parse_ctx *c, char **w, size_t n);
/* For the loader: refuses (-EINVAL, "FILE:LINE: ...") a mount directive
 * without a mount namespace, and adds the fs rule each needs (mount_only)
 * under landlock. */
int policy_finish_mounts(struct policy *p, char *err, size_t errlen);

/* --- policy_sockets.c: what the loader checks of socket rules ------------ */

/* Under landlock, refuses (-EINVAL, "FILE:LINE: ...") a policy whose
 * filter admits sockets that neither landlock nor the filter governs:
 * Unix sockets from socket(), Unix datagram socket pairs, INET stream
 * sockets whose protocol may be MPTCP. */
int policy_check_sockets(const struct policy *p, char *err, size_t errlen);

#endif
