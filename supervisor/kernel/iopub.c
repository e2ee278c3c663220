/* What the kernel publishes on iopub. Stream text is coalesced: the
 * executor writes a frame per line, and a loop that prints 100,000 lines
 * would otherwise become 100,000 signed messages (ipykernel batches its
 * streams too, every 0.2 s). Text for the same parent and stream joins
 * what is pending; it goes out before any other message, so order holds,
 * and at the latest STREAM_DELAY_MS after its first byte came. A timer,
 * not the loop going idle: on a loaded machine the loop idles between
 * every two frames, and the number of messages would follow the load. */
#include "kernel_priv.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "utf8.h"

/* A stream message carries at most this much; more goes in the next. */
#define STREAM_CHUNK ((size_t)1 << 20)
/* How long text may wait for more to join it (ipykernel: 200 ms). */
#define STREAM_DELAY_MS 50

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

static void on_flush(uv_timer_t *h)
{
    iopub_flush(h->data);
}

void iopub_flush(struct kernel *k)
{
    struct pending_stream *p = &k->stream;
    if (!p->len || !k->ch)
        return;
    json_t *content = json_pack("{s:s, s:o}", "name", p->fd == 2 ? "stderr" : "stdout", "text",
                                json_text(p->data, p->len));
    p->len = 0;
    int rc = uv_timer_stop(&k->flush_timer);
    if (rc < 0)
        kernel_log(k, "could not stop the stream timer: %s", uv_strerror(rc));
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
    bool untimed = false;
    while (len) {
        if (p->len && (p->parent != parent || p->fd != fd || p->len >= STREAM_CHUNK))
            iopub_flush(k);
        if (!p->len) {
            int rc = uv_timer_start(&k->flush_timer, on_flush, STREAM_DELAY_MS, 0);
            if (rc < 0) {
                /* Without the timer the text would wait for the next
                 * message: send it at once instead. */
                kernel_log(k, "could not start the stream timer: %s", uv_strerror(rc));
                untimed = true;
            }
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
    if (untimed)
        iopub_flush(k);
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

int iopub_init(struct kernel *k)
{
    int rc = uv_timer_init(k->loop, &k->flush_timer);
    if (rc < 0)
        return rc;
    k->handles_open++;
    k->flush_timer.data = k;
    return 0;
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
