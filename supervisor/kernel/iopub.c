/* What the kernel publishes on iopub. Stream text is coalesced: the
 * executor writes a frame per line, and a loop that prints 100,000 lines
 * would otherwise become 100,000 signed messages (ipykernel batches its
 * streams too, every 0.2 s). Text for the same parent and stream joins
 * what is pending; it goes out before any other message, so order holds,
 * and at the latest when the loop is about to sleep. */
#include "kernel_priv.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "utf8.h"

/* A stream message carries at most this much; more goes in the next. */
#define STREAM_CHUNK ((size_t)1 << 20)

static void topic_of(const struct kernel *k, const char *type, char *out, size_t len)
{
    snprintf(out, len, "kernel.%s.%s", k->wire.session, type);
}

static void send_now(struct kernel *k, const char *type, const json_t *parent, json_t *content)
{
    char topic[128];
    topic_of(k, type, topic, sizeof topic);
    int rc = wire_send(&k->wire, kchannels_socket(k->ch, KCHAN_IOPUB), NULL, 0, topic, type,
                       parent, NULL, content);
    if (rc < 0)
        kernel_log(k, "could not publish %s: %s", type, zmq_strerror(-rc));
}

json_t *json_text(const char *data, size_t len)
{
    if (utf8_valid(data, len, NULL))
        return json_stringn_nocheck(data, len);
    char *clean = malloc(3 * len + 1);
    if (!clean)
        return json_string("");
    size_t n = utf8_sanitize(data, len, clean);
    json_t *s = json_stringn_nocheck(clean, n);
    free(clean);
    return s;
}

void iopub_flush(struct kernel *k)
{
    struct pending_stream *p = &k->stream;
    if (!p->len || !k->ch)
        return;
    json_t *content = json_pack("{s:s, s:o}", "name", p->fd == 2 ? "stderr" : "stdout", "text",
                                json_text(p->data, p->len));
    p->len = 0;
    if (content)
        send_now(k, "stream", p->parent, content);
    else
        kernel_log(k, "out of memory: stream output was lost");
    json_decref(p->parent);
    p->parent = NULL;
}

void iopub_stream(struct kernel *k, const json_t *parent, int fd, const char *data, size_t len)
{
    struct pending_stream *p = &k->stream;
    while (len) {
        if (p->len && (p->parent != parent || p->fd != fd || p->len >= STREAM_CHUNK))
            iopub_flush(k);
        if (!p->len) {
            json_decref(p->parent);
            p->parent = json_incref((json_t *)parent);
            p->fd = fd;
        }
        size_t take = len < STREAM_CHUNK - p->len ? len : STREAM_CHUNK - p->len;
        if (p->len + take > p->cap) {
            size_t cap = p->cap ? p->cap : 4096;
            while (cap < p->len + take)
                cap *= 2;
            char *nb = realloc(p->data, cap);
            if (!nb) {
                kernel_log(k, "out of memory: stream output was lost");
                return;
            }
            p->data = nb;
            p->cap = cap;
        }
        memcpy(p->data + p->len, data, take);
        p->len += take;
        data += take;
        len -= take;
    }
}

void iopub_publish(struct kernel *k, const char *type, const json_t *parent, json_t *content)
{
    iopub_flush(k);
    if (!content) {
        kernel_log(k, "out of memory: a %s message was lost", type);
        return;
    }
    send_now(k, type, parent, content);
}

void iopub_status(struct kernel *k, const json_t *parent, const char *state)
{
    iopub_publish(k, "status", parent, json_pack("{s:s}", "execution_state", state));
}

static void on_flush(uv_prepare_t *h)
{
    iopub_flush(h->data);
}

int iopub_init(struct kernel *k)
{
    int rc = uv_prepare_init(k->loop, &k->flush_prepare);
    if (rc < 0)
        return rc;
    k->handles_open++;
    k->flush_prepare.data = k;
    return uv_prepare_start(&k->flush_prepare, on_flush);
}

void iopub_close(struct kernel *k)
{
    iopub_flush(k);
    free(k->stream.data);
    k->stream.data = NULL;
    k->stream.cap = 0;
    json_decref(k->stream.parent);
    k->stream.parent = NULL;
}
