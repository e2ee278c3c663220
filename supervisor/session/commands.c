/* The ':' commands typed at the primary prompt: :status, :restart, :help. */
#include "cgroup.h"
#include "session_priv.h"

#include <stdio.h>
#include <string.h>

/* "idle cpu: 0.3% over the last 10 s (limit 25%, then kill)". */
static int idle_cpu_status(const struct session *s, char *buf, size_t len)
{
    const struct policy_idle_cpu *ic = &s->cfg.idle_cpu;
    if (ic->share <= 0)
        return snprintf(buf, len, "idle cpu: not limited by the policy\n");
    struct session_info info;
    session_info(s, &info);
    char limit[96];
    snprintf(limit, sizeof limit, "limit %g%% over %g s, then %s, measured by sampling",
             ic->share * 100, ic->window_s, policy_idle_action_name(ic->action));
    if (info.idle_cpu_span_s <= 0)
        return snprintf(buf, len, "idle cpu: not measured yet (%s)\n", limit);
    return snprintf(buf, len, "idle cpu: %.1f%% over the last %.0f s (%s)\n",
                    info.idle_cpu_share * 100, info.idle_cpu_span_s, limit);
}

static void cmd_status(struct session *s)
{
    char buf[2048], spare[64];
    int n;
    if (s->ep) {
        long rss = execproc_rss_kib(s->ep);
        uint64_t up = session_now_ms() - s->ep_since_ms;
        n = snprintf(buf, sizeof buf, "executor: pid %d, %s, up %llu.%03llu s, memory %ld KiB\n",
                     (int)execproc_pid(s->ep), s->ep_ready ? "ready" : "starting",
                     (unsigned long long)(up / 1000), (unsigned long long)(up % 1000), rss);
    } else
        n = snprintf(buf, sizeof buf, "executor: none running%s\n",
                     s->gave_up ? " (restart budget spent; :restart starts one)"
                     : uv_is_active((uv_handle_t *)&s->restart_timer) ? " (restart pending)"
                                                                       : "");
    spare_status(s, spare, sizeof spare);
    char timeout[64];
    if (s->cfg.timeout_s > 0)
        snprintf(timeout, sizeof timeout, "%g s", s->cfg.timeout_s);
    else
        snprintf(timeout, sizeof timeout, "none (Ctrl-C interrupts)");
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "policy: %s\nsandbox: %s\nstatement timeout: %s\n"
                  "restarts: %u (deaths: %u, on request: %u)\nstatements run: %llu\n"
                  "spare: %s\nrestore: %s (%zu statements journaled)\n",
                  s->cfg.exec.policy_name ? s->cfg.exec.policy_name : "none",
                  s->sandbox_desc[0] ? s->sandbox_desc : "(not started yet)", timeout,
                  s->restarts, s->deaths, s->restart_requests,
                  (unsigned long long)s->statements_run, spare,
                  s->cfg.restore == SESSION_RESTORE_REPLAY ? "replay" : "off", s->journal.count);
    n += idle_cpu_status(s, buf + n, sizeof buf - (size_t)n);
    if ((size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s\n", cgroup_status());
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    emit_text(s, buf, (size_t)n);
}

static const char help_text[] =
    "Supervisor commands (at the primary prompt):\n"
    "  :status   executor pid, uptime, memory, restarts, policy, statements run\n"
    "  :restart  stop the executor and start a fresh one: the session state and the\n"
    "            replay journal are dropped, and the restart budget starts over\n"
    "  :help     this text\n";

void session_command(struct session *s, const char *line, size_t len)
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 7 && !memcmp(line, ":status", 7))
        cmd_status(s);
    else if (len == 5 && !memcmp(line, ":help", 5))
        emit_text(s, help_text, sizeof help_text - 1);
    else if (len == 8 && !memcmp(line, ":restart", 8))
        restart_on_request(s);
    else
        emit_notice(s, 0, "unknown command '%.*s'; type :help", (int)(len > 60 ? 60 : len), line);
    struct session_result res = {.status = SESSION_OK};
    emit_done(s, 0, &res);
}
