/* The replay journal of --restore replay: the statements that completed
 * without error, re-run silently in a new executor after a death, stopping
 * at the first that fails. The statement that crashed is never in it. */
#include "session_priv.h"

#include <stdio.h>

/* It keeps sources in memory; past this it stops growing (and says so)
 * rather than let a long session eat the supervisor. */
#define JOURNAL_BYTES_MAX ((size_t)16 << 20)

void journal_add(struct session *s, const struct stmt *st)
{
    if (s->journal_full)
        return;
    struct stmt *copy = NULL;
    if (s->journal.bytes + st->len <= JOURNAL_BYTES_MAX)
        copy = stmt_new(st->id, st->src, st->len, &st->opts);
    if (!copy) {
        /* Replaying a prefix with a later statement missing would build a
         * state the user never had: the journal ends here for good. */
        s->journal_full = true;
        emit_notice(s, 0,
                    "the replay journal is full (%zu statements); later statements will not "
                    "be restored after a crash",
                    s->journal.count);
        return;
    }
    copy->replay = true;
    stmt_list_append(&s->journal, copy);
}

void journal_truncate(struct session *s, size_t keep)
{
    struct stmt_list kept = {0};
    struct stmt *st;
    while (kept.count < keep && (st = stmt_list_pop(&s->journal)))
        stmt_list_append(&kept, st);
    stmt_list_clear(&s->journal);
    s->journal = kept;
}

void journal_begin_replay(struct session *s)
{
    if (s->cfg.restore != SESSION_RESTORE_REPLAY || !s->journal.count)
        return;
    struct stmt_list replays = {0};
    for (struct stmt *j = s->journal.head; j; j = j->next) {
        struct stmt *st = stmt_new(++s->next_id, j->src, j->len, &j->opts);
        if (!st) {
            stmt_list_clear(&replays);
            emit_notice(s, 0, "out of memory: the session was not replayed");
            return;
        }
        st->replay = true;
        stmt_list_append(&replays, st);
    }
    stmt_list_prepend(&s->queued, &replays);
    s->replay_total = s->journal.count;
    s->replay_done = 0;
}

void journal_drop_replays(struct session *s)
{
    struct stmt_list keep = {0};
    struct stmt *st;
    while ((st = stmt_list_pop(&s->queued))) {
        if (st->replay)
            stmt_free(st);
        else
            stmt_list_append(&keep, st);
    }
    s->queued = keep;
    s->replay_total = 0;
}

void journal_replayed(struct session *s, bool ok, const struct proto_result *r)
{
    if (!ok) {
        emit_notice(s, 0,
                    "replay stopped at statement %zu of %zu (%.*s); later statements were "
                    "not restored",
                    s->replay_done + 1, s->replay_total,
                    (int)(r->display.len > 200 ? 200 : r->display.len), r->display.ptr);
        journal_truncate(s, s->replay_done);
        journal_drop_replays(s);
    } else if (++s->replay_done == s->replay_total) {
        emit_notice(s, 0, "restored %zu statement%s in %llu ms", s->replay_done,
                    s->replay_done == 1 ? "" : "s",
                    (unsigned long long)(session_now_ms() - s->replay_started_ms));
        s->replay_total = 0;
    }
}

void journal_replay_died(struct session *s)
{
    emit_notice(s, 0, "replay stopped: the executor died replaying statement %zu of %zu",
                s->replay_done + 1, s->replay_total);
    journal_truncate(s, s->replay_done);
    journal_drop_replays(s);
}
