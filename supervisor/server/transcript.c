/* A named session's transcript: what its attached terminals show, in
 * order, numbered, the last bytes of it kept for replay.
 *
 * Numbering is by bytes: an entry's seq is the count of bytes the
 * transcript has ever held up to the end of that entry. A client that
 * remembers the last seq it showed can attach again from there and gets
 * exactly what came after, cut mid-entry if need be; what the buffer no
 * longer holds is counted, so its loss is said rather than silent. */
#include "server_priv.h"

#include <stdlib.h>
#include <string.h>

void transcript_init(struct transcript *t, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
}

void transcript_clear(struct transcript *t)
{
    while (t->head) {
        struct transcript_entry *e = t->head;
        t->head = e->next;
        free(e);
    }
    t->tail = NULL;
    t->bytes = 0;
}

/* Drops the oldest bytes until the buffer fits: whole entries first; the
 * oldest is then cut after a newline, so the replay starts on a line of
 * its own, or at least on a character. */
static void trim(struct transcript *t)
{
    while (t->head && t->bytes > t->cap) {
        struct transcript_entry *e = t->head;
        size_t excess = t->bytes - t->cap;
        if (excess >= e->len) {
            t->head = e->next;
            if (!t->head)
                t->tail = NULL;
            t->bytes -= e->len;
            t->kept_from = e->seq;
            free(e);
            continue;
        }
        size_t cut = excess;
        const char *nl = memchr(e->data + cut, '\n', e->len - cut);
        if (nl && nl + 1 < e->data + e->len)
            cut = (size_t)(nl + 1 - e->data);
        while (cut < e->len && ((unsigned char)e->data[cut] & 0xc0) == 0x80)
            cut++;
        memmove(e->data, e->data + cut, e->len - cut);
        e->len -= cut;
        t->bytes -= cut;
        t->kept_from = e->seq - e->len;
    }
}

const struct transcript_entry *transcript_add(struct transcript *t, enum transcript_kind kind,
                                              unsigned client, const char *data, size_t len)
{
    if (!len)
        return NULL;
    struct transcript_entry *e = malloc(sizeof *e + len);
    if (!e) {
        /* Counted as written and lost at once: a later replay says so. */
        t->seq += len;
        t->kept_from = t->seq;
        transcript_clear(t);
        return NULL;
    }
    t->seq += len;
    e->next = NULL;
    e->seq = t->seq;
    e->kind = kind;
    e->client = client;
    e->len = len;
    memcpy(e->data, data, len);
    if (t->tail)
        t->tail->next = e;
    else
        t->head = e;
    t->tail = e;
    t->bytes += len;
    /* Handed to the caller whole: transcript_fit trims once it is sent. */
    return e;
}

void transcript_fit(struct transcript *t)
{
    trim(t);
}

uint64_t transcript_replay(const struct transcript *t, uint64_t since,
                           void (*each)(void *arg, const struct transcript_entry *e,
                                        size_t skip),
                           void *arg)
{
    uint64_t missed = t->kept_from > since ? t->kept_from - since : 0;
    for (const struct transcript_entry *e = t->head; e; e = e->next) {
        if (e->seq <= since)
            continue;
        uint64_t start = e->seq - e->len;
        size_t skip = since > start ? (size_t)(since - start) : 0;
        /* Resume on a character, not inside one. */
        while (skip < e->len && ((unsigned char)e->data[skip] & 0xc0) == 0x80)
            skip++;
        if (skip < e->len)
            each(arg, e, skip);
    }
    return missed;
}
