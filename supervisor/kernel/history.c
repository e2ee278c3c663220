/* The history of the cells the kernel ran with store_history, for
 * history_request: the last n (tail), a range of one session's lines
 * (range), or those matching a glob (search), as IPython's history
 * manager answers them. It lives in the kernel process, so an executor's
 * death loses none of it; a restart (shutdown_request with restart)
 * begins a new session, as a new ipykernel process would. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept in memory: beyond either bound the oldest entries go. */
#define HISTORY_ENTRIES_MAX 100000
#define HISTORY_BYTES_MAX ((size_t)64 << 20)
#define TAIL_DEFAULT 10

struct entry {
    unsigned session;
    uint64_t line;
    char *input;
    char *output;               /* NULL: no result */
};

struct history {
    struct entry *v;
    size_t n, cap, bytes;
    unsigned session;
};

int history_new(struct history **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    (*out)->session = 1;
    return 0;
}

static void entry_free(struct entry *e)
{
    free(e->input);
    free(e->output);
}

void history_free(struct history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        entry_free(&h->v[i]);
    free(h->v);
    free(h);
}

unsigned history_session(const struct history *h)
{
    return h->session;
}

void history_new_session(struct history *h)
{
    h->session++;
}

static size_t entry_bytes(const struct entry *e)
{
    return sizeof *e + strlen(e->input) + (e->output ? strlen(e->output) : 0);
}

static void drop_oldest(struct history *h, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        h->bytes -= entry_bytes(&h->v[i]);
        entry_free(&h->v[i]);
    }
    memmove(h->v, h->v + count, (h->n - count) * sizeof *h->v);
    h->n -= count;
}

void history_add(struct history *h, uint64_t count, const char *input, size_t len,
                 const char *output)
{
    struct entry e = {.session = h->session, .line = count, .input = strndup(input, len),
                      .output = output ? strdup(output) : NULL};
    if (!e.input || (output && !e.output)) {
        entry_free(&e);
        return;   /* out of memory: the cell is not remembered */
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct entry *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) {
            entry_free(&e);
            return;
        }
        h->v = nv;
        h->cap = cap;
    }
    h->v[h->n++] = e;
    h->bytes += entry_bytes(&e);
    /* Half of what is over at once, so that dropping stays cheap. */
    if (h->n > HISTORY_ENTRIES_MAX)
        drop_oldest(h, h->n - HISTORY_ENTRIES_MAX / 2);
    size_t drop = 0, freed = 0;
    while (h->bytes - freed > HISTORY_BYTES_MAX / 2 && h->bytes > HISTORY_BYTES_MAX &&
           drop < h->n - 1)
        freed += entry_bytes(&h->v[drop++]);
    if (drop)
        drop_oldest(h, drop);
}

static json_t *entry_json(const struct entry *e, bool output)
{
    json_t *in = json_text(e->input, strlen(e->input));
    json_t *what = output ? json_pack("[o, o]", in,
                                      e->output ? json_text(e->output, strlen(e->output))
                                                : json_null())
                          : in;
    return json_pack("[i, I, o]", (int)e->session, (json_int_t)e->line, what);
}

/* An integer field: absent gives fallback; present must be an integer
 * (JSON numbers that are whole, as Python clients send). */
static bool int_field(const json_t *content, const char *key, json_int_t fallback,
                      json_int_t *out)
{
    const json_t *v = json_object_get(content, key);
    if (!v || json_is_null(v)) {
        *out = fallback;
        return true;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) == (double)(json_int_t)json_real_value(v)) {
        *out = (json_int_t)json_real_value(v);
        return true;
    }
    return false;
}

static json_t *tail(const struct history *h, json_int_t n, bool output)
{
    json_t *list = json_array();
    size_t from = n >= 0 && (size_t)n < h->n ? h->n - (size_t)n : 0;
    for (size_t i = from; i < h->n; i++)
        json_array_append_new(list, entry_json(&h->v[i], output));
    return list;
}

static json_t *range(const struct history *h, json_int_t session, json_int_t start,
                     json_int_t stop, bool output)
{
    /* As IPython's: 0 is the current session, negative counts back. */
    if (session <= 0)
        session += h->session;
    json_t *list = json_array();
    for (size_t i = 0; i < h->n; i++) {
        const struct entry *e = &h->v[i];
        if ((json_int_t)e->session == session && (json_int_t)e->line >= start &&
            (stop < 0 || (json_int_t)e->line < stop))
            json_array_append_new(list, entry_json(e, output));
    }
    return list;
}

static size_t text_hash(const char *s)
{
    size_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static json_t *search(const struct history *h, const char *pattern, json_int_t n, bool unique,
                      bool output)
{
    /* Matches as SQLite's GLOB matches (IPython's query): * ? [..], no
     * escapes. The last n matches, oldest first; unique keeps the latest
     * run of each input (a hash set of those taken). */
    size_t slots = 2 * h->n + 2;
    size_t *hits = malloc((h->n + 1) * sizeof *hits);
    size_t *taken = unique ? calloc(slots, sizeof *taken) : NULL;
    if (!hits || (unique && !taken)) {
        free(hits);
        free(taken);
        return NULL;
    }
    size_t nhits = 0;
    for (size_t i = h->n; i-- > 0;) {
        const struct entry *e = &h->v[i];
        if (fnmatch(pattern, e->input, FNM_NOESCAPE) != 0)
            continue;
        if (unique) {
            /* Slots hold index + 1; 0 is free. */
            size_t k = text_hash(e->input) % slots;
            bool dup = false;
            while (taken[k] && !(dup = strcmp(h->v[taken[k] - 1].input, e->input) == 0))
                k = (k + 1) % slots;
            if (dup)
                continue;
            taken[k] = i + 1;
        }
        hits[nhits++] = i;
        if (n > 0 && nhits == (size_t)n)
            break;
    }
    json_t *list = json_array();
    while (nhits-- > 0)
        json_array_append_new(list, entry_json(&h->v[hits[nhits]], output));
    free(hits);
    free(taken);
    return list;
}

json_t *history_query(const struct history *h, const json_t *content, char *err,
                      size_t errlen)
{
    const char *type = json_string_value(json_object_get(content, "hist_access_type"));
    const json_t *out = json_object_get(content, "output");
    bool output = json_is_true(out);
    if (!type) {
        snprintf(err, errlen, "hist_access_type must be \"tail\", \"range\" or \"search\"");
        return NULL;
    }
    json_int_t n, session, start, stop;
    if (strcmp(type, "tail") == 0) {
        if (!int_field(content, "n", TAIL_DEFAULT, &n)) {
            snprintf(err, errlen, "n must be a number of cells");
            return NULL;
        }
        return tail(h, n, output);
    }
    if (strcmp(type, "range") == 0) {
        if (!int_field(content, "session", 0, &session) ||
            !int_field(content, "start", 0, &start) || !int_field(content, "stop", -1, &stop)) {
            snprintf(err, errlen, "session, start and stop must be whole numbers");
            return NULL;
        }
        return range(h, session, start, stop, output);
    }
    if (strcmp(type, "search") == 0) {
        const json_t *p = json_object_get(content, "pattern");
        const char *pattern = json_is_string(p) ? json_string_value(p) : "*";
        if (p && !json_is_string(p)) {
            snprintf(err, errlen, "pattern must be a string");
            return NULL;
        }
        if (!int_field(content, "n", 0, &n)) {
            snprintf(err, errlen, "n must be a number of cells");
            return NULL;
        }
        json_t *list = search(h, pattern, n, json_is_true(json_object_get(content, "unique")),
                              output);
        if (!list)
            snprintf(err, errlen, "out of memory");
        return list;
    }
    snprintf(err, errlen, "hist_access_type '%.40s' is not \"tail\", \"range\" or \"search\"",
             type);
    return NULL;
}
