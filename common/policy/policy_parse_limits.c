/* The directives of limits the supervisor applies, not the executor's
 * sandbox: `idle-cpu` (CPU used while no statement runs, measured by the
 * supervisor) and `cgroup` (the executor's own cgroup v2, where one can be
 * made). Both are settings given once, which an including file may
 * override. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy_priv.h"

/* The most a share of one CPU may say: 100 CPUs. */
#define PERCENT_MAX 10000.0
#define IDLE_WINDOW_MIN_S 1.0
#define IDLE_WINDOW_MAX_S 3600.0
#define PIDS_MAX 4194304u

/* "25%", "2.5%": a positive share of one CPU, in percent. */
static int parse_percent(const char *word, double *out)
{
    if (word[0] < '0' || word[0] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(word, &end);
    if (errno != 0 || end == word || strcmp(end, "%") != 0 || !isfinite(v) || v <= 0 ||
        v > PERCENT_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

/* idle-cpu none | idle-cpu PERCENT over DURATION then warn|kill */
int policy_d_idle_cpu(struct policy_parse_ctx *c, char **w, size_t n)
{
    static const char usage[] = "idle-cpu PERCENT over DURATION then warn|kill, or idle-cpu none";
    struct policy_idle_cpu lim = {0};
    if (n == 2 && strcmp(w[1], "none") == 0) {
        /* share 0: no limit */
    } else if (n == 6 && strcmp(w[2], "over") == 0 && strcmp(w[4], "then") == 0) {
        double percent;
        if (parse_percent(w[1], &percent) < 0)
            return policy_fail(c, "bad share '%s' for idle-cpu (a percentage of one CPU, e.g. 25%%)",
                               w[1]);
        if (policy_parse_duration(w[3], &lim.window_s) < 0 || lim.window_s < IDLE_WINDOW_MIN_S ||
            lim.window_s > IDLE_WINDOW_MAX_S)
            return policy_fail(c, "bad window '%s' for idle-cpu (1s to 60m: the CPU is sampled once a second)",
                               w[3]);
        if (strcmp(w[5], "warn") == 0)
            lim.action = POLICY_IDLE_WARN;
        else if (strcmp(w[5], "kill") == 0)
            lim.action = POLICY_IDLE_KILL;
        else
            return policy_fail(c, "idle-cpu: unknown action '%s' (warn or kill; a statement is "
                                  "not running, so there is nothing to interrupt)", w[5]);
        lim.share = percent / 100.0;
    } else {
        return policy_fail(c, "idle-cpu takes '%s'", usage);
    }
    int r = policy_claim(c, &c->p->idle_cpu_slot, "idle-cpu");
    if (r > 0)
        c->p->idle_cpu = lim;
    return r < 0 ? r : 0;
}

/* cgroup cpu[?] PERCENT | cgroup memory[?] SIZE | cgroup pids[?] COUNT */
int policy_d_cgroup(struct policy_parse_ctx *c, char **w, size_t n)
{
    if (n != 3)
        return policy_fail(c, "cgroup takes 2 arguments: 'cgroup cpu|memory|pids[?] VALUE'");
    size_t len = strlen(w[1]);
    bool optional = len > 0 && w[1][len - 1] == '?';
    if (optional)
        len--;
    enum policy_cgroup_ctl ctl = POLICY_CGROUP_COUNT;
    for (int i = 0; i < POLICY_CGROUP_COUNT; i++) {
        const char *name = policy_cgroup_name((enum policy_cgroup_ctl)i);
        if (strlen(name) == len && strncmp(w[1], name, len) == 0)
            ctl = (enum policy_cgroup_ctl)i;
    }
    if (ctl == POLICY_CGROUP_COUNT)
        return policy_fail(c, "unknown cgroup controller '%s' (cpu, memory, pids; '?' after one "
                              "marks it optional)", w[1]);
    uint64_t value;
    switch (ctl) {
    case POLICY_CGROUP_CPU: {
        double percent;
        if (parse_percent(w[2], &percent) < 0 || percent < 1)
            return policy_fail(c, "bad share '%s' for cgroup cpu (a percentage of one CPU, "
                                  "at least 1%%, e.g. 100%%)", w[2]);
        value = (uint64_t)(percent + 0.5);
        break;
    }
    case POLICY_CGROUP_MEMORY:
        if (policy_parse_size(w[2], &value) < 0 || value == RLIM_INFINITY ||
            value < ((uint64_t)1 << 20))
            return policy_fail(c, "bad size '%s' for cgroup memory (at least 1M, e.g. 1G)", w[2]);
        break;
    case POLICY_CGROUP_PIDS:
        if (policy_parse_size(w[2], &value) < 0 || value == 0 || value > PIDS_MAX)
            return policy_fail(c, "bad count '%s' for cgroup pids (1 to %u)", w[2], PIDS_MAX);
        break;
    default:
        return -EINVAL;
    }
    char what[32];
    snprintf(what, sizeof what, "cgroup %s", policy_cgroup_name(ctl));
    int r = policy_claim(c, &c->p->cgroup_slot[ctl], what);
    if (r > 0)
        c->p->cgroup[ctl] = (struct policy_cgroup_limit){
            .set = true, .optional = optional, .value = value};
    return r < 0 ? r : 0;
}
