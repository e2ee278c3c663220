/* The ':' commands typed at the primary prompt: :status, :restart, :help. */
#include "session_priv.h"

#include <stdio.h>
#include <string.h>

static void cmd_status(struct session *s)
{
    char buf[1024], spare[64];
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
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "policy: %s\nsandbox: %s\nstatement timeout: %g s\n"
                  "restarts: %u (deaths: %u, on request: %u)\nstatements run: %llu\n"
                  "spare: %s\nrestore: %s (%zu statements journaled)\n",
                  s->cfg.exec.policy_name ? s->cfg.exec.policy_name : "none",
                  s->ep && s->ep_ready && s->sandbox[0] ? s->sandbox : "(no executor ready)",
                  s->cfg.timeout_s,
                  s->restarts, s->deaths, s->restart_requests,
                  (unsigned long long)s->statements_run, spare,
                  s->cfg.restore == SESSION_RESTORE_REPLAY ? "replay" : "off", s->journal.count);
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
