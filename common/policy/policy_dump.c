/* The dump (--check-policy): a finished policy as it will be applied,
 * rule by rule, then its compiled filter in libseccomp's pseudo filter
 * code. It reads the model and asks the compiler for the filter. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy_priv.h"

static const char *access_word(enum policy_fs_access a)
{
    switch (a) {
    case POLICY_FS_RO: return "ro";
    case POLICY_FS_RX: return "rx";
    case POLICY_FS_RW: return "rw";
    }
    return "?";
}

static void dump_settings(const struct policy *p, FILE *out)
{
    char act[64], size[32];
    policy_action_text(&p->def, act, sizeof act);
    fprintf(out, "policy %s", p->name);
    if (p->path)
        fprintf(out, " (%s)", p->path);
    fprintf(out, "\n  restrictive: %s\n", policy_is_restrictive(p) ? "yes" : "no");
    if (p->timeout > 0)
        fprintf(out, "  timeout: %g s\n", p->timeout);
    else
        fprintf(out, "  timeout: none\n");
    if (p->output_cap == SIZE_MAX)
        snprintf(size, sizeof size, "unlimited");
    else
        policy_format_size(p->output_cap, size, sizeof size);
    fprintf(out, "  output-cap: %s\n", size);
    fprintf(out, "  default: %s\n", act);
}

static void dump_rules(const struct policy *p, FILE *out)
{
    fprintf(out, "seccomp (bad architecture: kill process; TSYNC):\n");
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        char text[600];
        policy_rule_text(r, text, sizeof text);
        const char *note = "";
        if (r->when_writable)
            note = p->writable ? "  [active: a path is writable]"
                               : "  [inactive: no writable path]";
        fprintf(out, "  %-60s # %s:%u%s\n", text, r->where.file, r->where.line, note);
    }
}

static void dump_landlock(const struct policy *p, FILE *out)
{
    if (p->landlock_off) {
        fprintf(out, "landlock: off");
        if (p->npaths)
            fprintf(out, " (paths from the command line have no effect)");
        fprintf(out, "\n");
        return;
    }
    fprintf(out, "landlock (ABI %d or later; signal and abstract-socket scope where the ABI has it):\n",
            policy_landlock_min_abi(p));
    for (size_t i = 0; i < p->npaths; i++) {
        const struct policy_path_entry *e = &p->paths[i];
        fprintf(out, "  fs %s%s %s", access_word(e->pub.access),
                e->pub.optional ? "?" : "", e->pub.path);
        if (e->where.file && e->variable)
            fprintf(out, "  # %s:%u %s\n", e->where.file, e->where.line, e->variable);
        else if (e->where.file && e->origin)
            fprintf(out, "  # %s:%u %s, inside the mount namespace only\n", e->where.file,
                    e->where.line, e->origin);
        else if (e->where.file)
            fprintf(out, "  # %s:%u\n", e->where.file, e->where.line);
        else
            fprintf(out, "  # command line\n");
    }
    for (size_t i = 0; i < p->ntcp; i++) {
        const struct policy_tcp *t = &p->tcp[i].pub;
        if (t->port < 0)
            fprintf(out, "  tcp %s any  # %s:%u\n", t->kind == POLICY_TCP_BIND ? "bind" : "connect",
                    p->tcp[i].where.file, p->tcp[i].where.line);
        else
            fprintf(out, "  tcp %s %d  # %s:%u\n", t->kind == POLICY_TCP_BIND ? "bind" : "connect",
                    t->port, p->tcp[i].where.file, p->tcp[i].where.line);
    }
    if (p->ntcp == 0)
        fprintf(out, "  tcp: no connect, no bind (ABI 4 or later)\n");
}

/* What the new root holds: the fs paths (listed under landlock), the
 * device nodes, and the mount directives. */
static void dump_mounts(const struct policy *p, FILE *out)
{
    if (!(p->ns & POLICY_NS_MOUNT)) {
        if (p->nmounts)
            fprintf(out, "  mounts: inert without a mount namespace\n");
        return;
    }
    if (p->mount_root == POLICY_ROOT_HOST)
        fprintf(out, "  mount: the host's root as it is (mount-root host), with a /proc of "
                "its own pid namespace where there is one%s\n", p->nmounts ? ", and:" : "");
    else
        fprintf(out, "  mount: a new root holding only the fs paths that exist (rw writable, "
                "the rest read-only), /dev/null, /dev/zero, /dev/urandom%s\n",
                p->nmounts ? " and:" : "");
    for (size_t i = 0; i < p->nmounts; i++) {
        const struct policy_mount_entry *m = &p->mounts[i];
        char size[32] = "";
        if (m->pub.kind == POLICY_MOUNT_TMPFS) {
            size[0] = ' ';
            policy_format_size(m->pub.size, size + 1, sizeof size - 1);
        }
        fprintf(out, "    %s%s %s%s  # %s:%u\n", policy_mount_word(m->pub.kind),
                m->pub.optional ? "?" : "", m->pub.path, size, m->where.file, m->where.line);
    }
}

static void dump_namespaces(const struct policy *p, FILE *out)
{
    fprintf(out, "namespaces:");
    if (!p->ns)
        fprintf(out, " none");
    for (unsigned bit = 1; bit <= p->ns; bit <<= 1)
        if (p->ns & bit)
            fprintf(out, " %s%s", policy_ns_name(bit), p->ns_optional & bit ? "?" : "");
    if (p->ns_slot.set)
        fprintf(out, "  # %s:%u", p->ns_slot.where.file, p->ns_slot.where.line);
    fprintf(out, "\n");
    if (p->ns & POLICY_NS_UTS)
        fprintf(out, "  hostname %s\n", policy_hostname(p));
    dump_mounts(p, out);
}

static void dump_limits(const struct policy *p, FILE *out)
{
    const struct policy_idle_cpu *ic = &p->idle_cpu;
    if (ic->share > 0)
        fprintf(out, "idle-cpu: %g%% of one CPU over %g s while no statement runs, then %s  # %s:%u\n",
                ic->share * 100, ic->window_s, policy_idle_action_name(ic->action),
                p->idle_cpu_slot.where.file, p->idle_cpu_slot.where.line);
    else
        fprintf(out, "idle-cpu: none\n");
    bool any = false;
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++)
        any |= p->cgroup[i].set;
    fprintf(out, "cgroup:%s\n", any ? "" : " none");
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++) {
        const struct policy_cgroup_limit *l = &p->cgroup[i];
        if (!l->set)
            continue;
        char v[48];
        if (i == POLICY_CGROUP_CPU)
            snprintf(v, sizeof v, "%llu%%  (cpu.max %llu 100000)", (unsigned long long)l->value,
                     (unsigned long long)l->value * 1000);
        else
            policy_format_size(l->value, v, sizeof v);
        fprintf(out, "  %s%s %s  # %s:%u%s\n", policy_cgroup_name((enum policy_cgroup_ctl)i),
                l->optional ? "?" : "", v, p->cgroup_slot[i].where.file,
                p->cgroup_slot[i].where.line, l->optional ? "" : " (required)");
    }
}

static void dump_rlimits(const struct policy *p, FILE *out)
{
    fprintf(out, "rlimits:%s\n", p->nrlimits ? "" : " none");
    for (size_t i = 0; i < p->nrlimits; i++) {
        char v[32];
        policy_format_size(p->rlimits[i].pub.value, v, sizeof v);
        fprintf(out, "  %s %s\n", p->rlimits[i].pub.name, v);
    }
}

/* libseccomp exports to a file descriptor only. */
static int dump_pfc(const struct policy *p, FILE *out, char *err, size_t errlen)
{
    scmp_filter_ctx ctx;
    unsigned n;
    int rc = policy_seccomp_build(p, &ctx, &n, err, errlen);
    if (rc < 0)
        return rc;
    int fd = memfd_create("aiobox-pfc", MFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "memfd_create: %s", strerror(-rc));
        seccomp_release(ctx);
        return rc;
    }
    rc = seccomp_export_pfc(ctx, fd);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp_export_pfc: %s", strerror(-rc));
        close(fd);
        return rc;
    }
    fprintf(out, "filter (%u rules, libseccomp pseudo filter code; $pid shown as %ld):\n",
            n, (long)getpid());
    char buf[4096];
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "reading the exported filter: %s", strerror(-rc));
            break;
        }
        if (r == 0)
            break;
        if (fwrite(buf, 1, (size_t)r, out) != (size_t)r)
            break;      /* ferror(out), checked by the caller */
        off += r;
    }
    close(fd);
    return rc;
}

int policy_dump(const struct policy *p, FILE *out, char *err, size_t errlen)
{
    return policy_dump_noted(p, NULL, out, err, errlen);
}

int policy_dump_noted(const struct policy *p, const char *note, FILE *out, char *err,
                      size_t errlen)
{
    dump_settings(p, out);
    dump_rules(p, out);
    dump_landlock(p, out);
    dump_namespaces(p, out);
    dump_rlimits(p, out);
    dump_limits(p, out);
    if (note)
        fprintf(out, "%s\n", note);
    int rc = dump_pfc(p, out, err, errlen);
    if (rc < 0)
        return rc;
    errno = 0;
    if (fflush(out) != 0 || ferror(out)) {
        rc = errno ? -errno : -EIO;
        snprintf(err, errlen, "write: %s", strerror(-rc));
        return rc;
    }
    return 0;
}
