/* Jupyter messages on the wire (messaging spec, "The Wire Protocol"):
 *
 *   [routing identities...] "<IDS|MSG>" signature header parent_header
 *   metadata content [buffers...]
 *
 * each a zmq frame, the four dicts as JSON, the signature an HMAC of
 * those four frames exactly as they were sent. Everything received is
 * checked before anyone sees it: frame count, the signature, then each
 * dict. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DELIMITER "<IDS|MSG>"
/* Frames in one message: identities (a few for proxies), the five parts,
 * and binary buffers (comm messages carry a handful). */
#define FRAMES_MAX 128

void wire_uuid(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR) {
            /* No entropy source at all: the pid and the clock still make a
             * kernel's session id unique on this machine. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t mix[2] = {(uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32),
                               (uint64_t)ts.tv_nsec};
            memcpy(b, mix, sizeof b);
            break;
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void jmsg_free(struct jmsg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nidents; i++)
        free(m->idents[i].data);
    free(m->idents);
    json_decref(m->header);
    json_decref(m->parent);
    json_decref(m->metadata);
    json_decref(m->content);
    free(m);
}

static json_t *load_dict(zmq_msg_t *f, const char *what, char *err, size_t errlen)
{
    json_error_t jerr;
    /* NUL is allowed in strings: Python's json.dumps writes it for a NUL
     * in a cell, and compiling the cell then says what is wrong. */
    json_t *v = json_loadb(zmq_msg_data(f), zmq_msg_size(f), JSON_ALLOW_NUL | JSON_DECODE_ANY,
                          &jerr);
    if (!v) {
        snprintf(err, errlen, "its %s is not JSON (column %d: %s)", what, jerr.column,
                 jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "its %s is not a JSON object", what);
        json_decref(v);
        return NULL;
    }
    return v;
}

static int parse(struct wire *w, zmq_msg_t *frames, size_t n, enum kchan chan,
                 struct jmsg **out, char *err, size_t errlen)
{
    size_t d = 0;
    while (d < n && !(zmq_msg_size(&frames[d]) == sizeof DELIMITER - 1 &&
                      memcmp(zmq_msg_data(&frames[d]), DELIMITER, sizeof DELIMITER - 1) == 0))
        d++;
    if (d == n) {
        snprintf(err, errlen, "no <IDS|MSG> delimiter in its %zu frames", n);
        return -EBADMSG;
    }
    if (n - d < 6) {
        snprintf(err, errlen, "%zu frames after the delimiter, not the 5 a message has",
                 n - d - 1);
        return -EBADMSG;
    }
    struct iovec parts[4];
    for (int i = 0; i < 4; i++)
        parts[i] = (struct iovec){zmq_msg_data(&frames[d + 2 + i]),
                                  zmq_msg_size(&frames[d + 2 + i])};
    switch (signer_check(w->signer, parts, 4, zmq_msg_data(&frames[d + 1]),
                         zmq_msg_size(&frames[d + 1]))) {
    case SIGNER_OK:
        break;
    case SIGNER_BAD:
        snprintf(err, errlen, "its signature is wrong");
        return -EACCES;
    case SIGNER_REPLAYED:
        snprintf(err, errlen, "its signature was seen before (a replayed message)");
        return -EALREADY;
    }
    struct jmsg *m = calloc(1, sizeof *m);
    if (!m || (d && !(m->idents = calloc(d, sizeof *m->idents)))) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    m->chan = chan;
    for (size_t i = 0; i < d; i++) {
        size_t len = zmq_msg_size(&frames[i]);
        m->idents[i].data = malloc(len ? len : 1);
        if (!m->idents[i].data) {
            jmsg_free(m);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        memcpy(m->idents[i].data, zmq_msg_data(&frames[i]), len);
        m->idents[i].len = len;
        m->nidents++;
    }
    if (!(m->header = load_dict(&frames[d + 2], "header", err, errlen))) {
        jmsg_free(m);
        return -EBADMSG;
    }
    m->type = json_string_value(json_object_get(m->header, "msg_type"));
    m->id = json_string_value(json_object_get(m->header, "msg_id"));
    if (!m->type || !m->id) {
        snprintf(err, errlen, "its header lacks a msg_type or msg_id string");
        jmsg_free(m);
        return -EBADMSG;
    }
    /* With a good header, what is wrong with the rest can be answered
     * (a request that is dropped leaves its client waiting for ever). */
    if (!(m->parent = load_dict(&frames[d + 3], "parent_header", err, errlen)) ||
        !(m->metadata = load_dict(&frames[d + 4], "metadata", err, errlen)) ||
        !(m->content = load_dict(&frames[d + 5], "content", err, errlen))) {
        snprintf(m->invalid, sizeof m->invalid, "%s", err);
        if (!m->parent)
            m->parent = json_object();
        if (!m->metadata)
            m->metadata = json_object();
        if (!m->content)
            m->content = json_object();
        if (!m->parent || !m->metadata || !m->content) {
            snprintf(err, errlen, "out of memory");
            jmsg_free(m);
            return -ENOMEM;
        }
    }
    *out = m;
    return 1;
}

int wire_recv(struct wire *w, void *sock, enum kchan chan, struct jmsg **out, char *err,
              size_t errlen)
{
    zmq_msg_t frames[FRAMES_MAX];
    size_t n = 0, total = 0, extra = 0;
    *out = NULL;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            if (n == 0 && extra == 0 && e == EAGAIN)
                return 0;
            snprintf(err, errlen, "reading it failed: %s", zmq_strerror(e));
            return -e;
        }
        total += zmq_msg_size(&part);
        int more = zmq_msg_more(&part);
        if (n < FRAMES_MAX)
            frames[n++] = part;
        else {
            zmq_msg_close(&part);
            extra++;
        }
        if (!more)
            break;
    }
    int rc;
    if (extra) {
        snprintf(err, errlen, "it has %zu frames, more than the %d a message may have",
                 n + extra, FRAMES_MAX);
        rc = -EMSGSIZE;
    } else
        rc = parse(w, frames, n, chan, out, err, errlen);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    if (*out)
        (*out)->size = total;
    return rc;
}

static void free_json_text(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Sends len bytes of data (malloc'd; taken) as one frame. */
static int send_frame(void *sock, char *data, size_t len, bool more)
{
    zmq_msg_t f;
    if (zmq_msg_init_data(&f, data, len, free_json_text, NULL) < 0) {
        free(data);
        return -errno;
    }
    if (zmq_msg_send(&f, sock, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&f);
        return -e;
    }
    return 0;
}

static int send_copy(void *sock, const void *data, size_t len, bool more)
{
    return zmq_send(sock, data, len, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

static json_t *make_header(struct wire *w, const char *type)
{
    struct timespec ts;
    struct tm tm;
    char date[64], id[96];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(date + n, sizeof date - n, ".%06ldZ", ts.tv_nsec / 1000);
    snprintf(id, sizeof id, "%s_%ld_%llu", w->session, (long)getpid(),
             (unsigned long long)++w->sent);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", id, "session", w->session,
                     "username", "kernel", "date", date, "msg_type", type, "version",
                     KERNEL_PROTOCOL_VERSION);
}

int wire_send(struct wire *w, void *sock, const struct jblob *idents, size_t nidents,
              const char *topic, const char *type, const json_t *parent, json_t *metadata,
              json_t *content)
{
    json_t *header = make_header(w, type);
    if (!metadata)
        metadata = json_object();
    if (!content)
        content = json_object();
    char *text[4] = {NULL, NULL, NULL, NULL};
    if (header && metadata && content) {
        text[0] = json_dumps(header, JSON_COMPACT | JSON_ENCODE_ANY);
        text[1] = parent ? json_dumps(parent, JSON_COMPACT) : strdup("{}");
        text[2] = json_dumps(metadata, JSON_COMPACT);
        text[3] = json_dumps(content, JSON_COMPACT);
    }
    json_decref(header);
    json_decref(metadata);
    json_decref(content);
    struct iovec parts[4];
    for (int i = 0; i < 4; i++) {
        if (!text[i]) {
            for (int j = 0; j < 4; j++)
                free(text[j]);
            return -ENOMEM;
        }
        parts[i] = (struct iovec){text[i], strlen(text[i])};
    }
    char sig[SIGNER_HEX_MAX];
    int rc = signer_sign(w->signer, parts, 4, sig);
    if (rc == 0 && topic)
        rc = send_copy(sock, topic, strlen(topic), true);
    for (size_t i = 0; rc == 0 && i < nidents; i++)
        rc = send_copy(sock, idents[i].data, idents[i].len, true);
    if (rc == 0)
        rc = send_copy(sock, DELIMITER, sizeof DELIMITER - 1, true);
    if (rc == 0)
        rc = send_copy(sock, sig, strlen(sig), true);
    /* Once the first frame is queued zmq takes the whole message, so the
     * frames below do not fail apart from it. */
    for (int i = 0; i < 4; i++) {
        if (rc == 0)
            rc = send_frame(sock, text[i], parts[i].iov_len, i < 3);
        else
            free(text[i]);
    }
    return rc;
}
