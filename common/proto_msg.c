/* Messages: one schema table drives both encoding and decoding, so the two
 * cannot drift apart. */
#include "proto.h"
#include "utf8.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_kind {
    F_UINT,      /* uint64_t */
    F_INT,       /* int64_t */
    F_U32,       /* uint32_t, from the "v" key */
    F_STR,       /* struct proto_str */
    F_BOOL,      /* bool */
    F_OPT_ID,    /* uint64_t or nil; presence in the bool at aux */
    F_STREAM,    /* enum proto_stream as "stdout" / "stderr" */
    F_STATUS,    /* enum proto_status as "ok" / "error" / ... */
    F_MODE,      /* enum proto_exec_mode as "single" / "block" / "cell" */
    F_KIND,      /* enum proto_input_kind as "line" / "password" / "stdin" */
    F_STRS,      /* struct proto_str * array; count in the size_t at aux */
    /* uint64_t that may be absent from the map (presence in the bool at
     * aux): the one kind of optional field, written only when present, so
     * that peers which do not send it need not change (docs/protocol.md,
     * Room to grow). */
    F_ABSENT_OR_UINT,
};

struct field {
    const char *key;
    enum field_kind kind;
    size_t off;  /* within union u */
    size_t aux;
};

struct schema {
    const char *name;
    const struct field *fields;
    size_t count;
};

#define U(m) offsetof(struct proto_msg, u.m) - offsetof(struct proto_msg, u)
#define FIELDS(...) (const struct field[]){__VA_ARGS__}, \
    sizeof((const struct field[]){__VA_ARGS__}) / sizeof(struct field)

static const struct schema schemas[PROTO_TYPE_COUNT] = {
    [PROTO_HELLO] = {"hello", FIELDS(
        {"v", F_U32, U(hello.version), 0},
        {"features", F_UINT, U(hello.features), 0})},
    [PROTO_READY] = {"ready", FIELDS(
        {"v", F_U32, U(ready.version), 0},
        {"python", F_STR, U(ready.python), 0},
        {"pid", F_INT, U(ready.pid), 0},
        {"sandbox", F_STR, U(ready.sandbox), 0})},
    [PROTO_EXEC] = {"exec", FIELDS(
        {"id", F_UINT, U(exec.id), 0},
        {"source", F_STR, U(exec.source), 0},
        {"mode", F_MODE, U(exec.mode), 0},
        {"output_cap", F_UINT, U(exec.output_cap), 0},
        {"rich", F_BOOL, U(exec.rich), 0},
        {"silent", F_BOOL, U(exec.silent), 0})},
    [PROTO_OUTPUT] = {"output", FIELDS(
        {"id", F_OPT_ID, U(output.id), U(output.has_id)},
        {"stream", F_STREAM, U(output.stream), 0},
        {"text", F_STR, U(output.text), 0},
        {"origin", F_ABSENT_OR_UINT, U(output.origin), U(output.has_origin)})},
    [PROTO_RESULT] = {"result", FIELDS(
        {"id", F_UINT, U(result.id), 0},
        {"status", F_STATUS, U(result.status), 0},
        {"display", F_STR, U(result.display), 0},
        {"code", F_INT, U(result.exit_code), 0},
        {"ps1", F_STR, U(result.ps1), 0},
        {"ps2", F_STR, U(result.ps2), 0},
        {"value", F_STR, U(result.value), 0},
        {"error_type", F_STR, U(result.error_type), 0},
        {"error_message", F_STR, U(result.error_message), 0},
        {"traceback", F_STR, U(result.traceback), 0},
        {"compile_error", F_BOOL, U(result.compile_error), 0},
        {"denied", F_STR, U(result.denied), 0},
        {"cpu_us", F_UINT, U(result.cpu_us), 0},
        {"max_rss_kb", F_UINT, U(result.max_rss_kb), 0})},
    [PROTO_COMPLETE] = {"complete", FIELDS(
        {"id", F_UINT, U(complete.id), 0},
        {"code", F_STR, U(complete.code), 0},
        {"cursor", F_UINT, U(complete.cursor), 0})},
    [PROTO_COMPLETIONS] = {"completions", FIELDS(
        {"id", F_UINT, U(completions.id), 0},
        {"matches", F_STRS, U(completions.matches), U(completions.count)},
        {"start", F_UINT, U(completions.start), 0},
        {"end", F_UINT, U(completions.end), 0})},
    [PROTO_INPUT] = {"input", FIELDS(
        {"id", F_UINT, U(input.id), 0},
        {"prompt", F_STR, U(input.prompt), 0},
        {"kind", F_KIND, U(input.kind), 0})},
    [PROTO_INPUT_REPLY] = {"input_reply", FIELDS(
        {"id", F_UINT, U(input_reply.id), 0},
        {"eof", F_BOOL, U(input_reply.eof), 0},
        {"text", F_STR, U(input_reply.text), 0})},
    [PROTO_INTERRUPT_ACK] = {"interrupt_ack", FIELDS(
        {"id", F_UINT, U(interrupt_ack.id), 0})},
    [PROTO_DENIED] = {"denied", FIELDS(
        {"syscall", F_INT, U(denied.syscall), 0})},
    [PROTO_ERROR] = {"error", FIELDS(
        {"message", F_STR, U(error.message), 0})},
    [PROTO_STARTED] = {"started", FIELDS(
        {"id", F_UINT, U(started.id), 0})},
    [PROTO_DISPLAY] = {"display", FIELDS(
        {"id", F_OPT_ID, U(display.id), U(display.has_id)},
        {"data", F_STR, U(display.data), 0},
        {"metadata", F_STR, U(display.metadata), 0},
        {"display_id", F_STR, U(display.display_id), 0},
        {"update", F_BOOL, U(display.update), 0},
        {"origin", F_ABSENT_OR_UINT, U(display.origin), U(display.has_origin)})},
    [PROTO_CLEAR_OUTPUT] = {"clear_output", FIELDS(
        {"id", F_OPT_ID, U(clear_output.id), U(clear_output.has_id)},
        {"wait", F_BOOL, U(clear_output.wait), 0},
        {"origin", F_ABSENT_OR_UINT, U(clear_output.origin), U(clear_output.has_origin)})},
    [PROTO_INSPECT] = {"inspect", FIELDS(
        {"id", F_UINT, U(inspect.id), 0},
        {"code", F_STR, U(inspect.code), 0},
        {"cursor", F_UINT, U(inspect.cursor), 0},
        {"detail", F_UINT, U(inspect.detail), 0})},
    [PROTO_INSPECTION] = {"inspection", FIELDS(
        {"id", F_UINT, U(inspection.id), 0},
        {"found", F_BOOL, U(inspection.found), 0},
        {"data", F_STR, U(inspection.data), 0})},
    [PROTO_PAGE] = {"page", FIELDS(
        {"id", F_OPT_ID, U(page.id), U(page.has_id)},
        {"text", F_STR, U(page.text), 0})},
    [PROTO_SHUTDOWN] = {"shutdown", FIELDS(
        {"v", F_U32, U(shutdown.version), 0})},
    [PROTO_CANCEL] = {"cancel", FIELDS(
        {"id", F_UINT, U(cancel.id), 0})},
};

static const char *const status_names[] = {"ok", "error", "interrupted", "exit"};
static const char *const stream_names[] = {"stdout", "stderr"};
static const char *const mode_names[] = {"single", "block", "cell"};
static const char *const kind_names[] = {"line", "password", "stdin"};

struct proto_str proto_str_c(const char *s)
{
    return (struct proto_str){s, s ? strlen(s) : 0};
}

struct proto_str proto_str_n(const char *s, size_t len)
{
    return (struct proto_str){s, len};
}

char *proto_str_dup(struct proto_str s)
{
    char *d = malloc(s.len + 1);
    if (d) {
        if (s.len)
            memcpy(d, s.ptr, s.len);
        d[s.len] = '\0';
    }
    return d;
}

bool proto_str_eq(struct proto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

const char *proto_type_name(enum proto_type t)
{
    return t > 0 && t < PROTO_TYPE_COUNT ? schemas[t].name : "?";
}

const char *proto_status_name(enum proto_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "?";
}

const char *proto_stream_name(enum proto_stream s)
{
    return (unsigned)s < 2 ? stream_names[s] : "?";
}

const char *proto_mode_name(enum proto_exec_mode m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

/* --- decoding ----------------------------------------------------------- */

/* An error message shows at most QUOTE_BYTES bytes of a peer's value;
 * QUOTE_MAX holds them escaped (4 each), "..." and the NUL. */
#define QUOTE_BYTES 40
#define QUOTE_MAX (4 * QUOTE_BYTES + 8)

struct decoder {
    msgpack_unpacked unpacked;
    struct proto_str *strs;  /* completions.matches */
};

__attribute__((format(printf, 3, 4)))
static int schema_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PROTO_E_SCHEMA;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    return k->type == MSGPACK_OBJECT_STR &&
           proto_str_eq(proto_str_n(k->via.str.ptr, k->via.str.size), name);
}

/* Finds the value of a key this side reads. A key that appears twice is an
 * error, since two readers could pick different copies. Keys nobody reads
 * are not compared with each other: that keeps decoding linear in the size
 * of the map (a pairwise check spent 40 s on 1 MiB of distinct keys). */
static int lookup(const msgpack_object_map *m, const char *name,
                  const msgpack_object **out, char *err, size_t errlen)
{
    *out = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        if (!key_is(&m->ptr[i].key, name))
            continue;
        if (*out)
            return schema_err(err, errlen, "duplicate key '%s'", name);
        *out = &m->ptr[i].val;
    }
    return PROTO_OK;
}

/* Peer bytes shown in an error message. The message may end up on a
 * terminal, so only printable ASCII is shown as is, and long values are cut. */
static const char *quote(char *out, size_t outlen, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; i < len && i < QUOTE_BYTES && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int text_field(const char *type, const char *key, const msgpack_object *o,
                      struct proto_str *out, char *err, size_t errlen)
{
    size_t bad;
    if (o->type != MSGPACK_OBJECT_STR)
        return schema_err(err, errlen, "message '%s': field '%s' must be a string",
                          type, key);
    if (!utf8_valid(o->via.str.ptr, o->via.str.size, &bad))
        return schema_err(err, errlen,
                          "message '%s': field '%s' is not valid UTF-8 (byte 0x%02x at offset %zu)",
                          type, key, (unsigned char)o->via.str.ptr[bad], bad);
    *out = proto_str_n(o->via.str.ptr, o->via.str.size);
    return PROTO_OK;
}

static int pick_name(const char *type, const char *key, const msgpack_object *o,
                     const char *const *names, size_t n, int *out,
                     char *err, size_t errlen)
{
    struct proto_str s;
    int rc = text_field(type, key, o, &s, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (proto_str_eq(s, names[i])) {
            *out = (int)i;
            return PROTO_OK;
        }
    char q[QUOTE_MAX];
    return schema_err(err, errlen, "message '%s': field '%s' has unknown value '%s'",
                      type, key, quote(q, sizeof q, s.ptr, s.len));
}

static int decode_field(const struct schema *sc, const struct field *f,
                        const msgpack_object *o, struct proto_msg *msg,
                        struct decoder *dec, char *err, size_t errlen)
{
    char *base = (char *)&msg->u;
    const char *type = sc->name;

    switch (f->kind) {
    case F_UINT:
    case F_U32:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            (f->kind == F_U32 && o->via.u64 > UINT32_MAX))
            return schema_err(err, errlen,
                              "message '%s': field '%s' must be an unsigned integer",
                              type, f->key);
        if (f->kind == F_U32)
            *(uint32_t *)(base + f->off) = (uint32_t)o->via.u64;
        else
            *(uint64_t *)(base + f->off) = o->via.u64;
        return PROTO_OK;
    case F_INT:
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            *(int64_t *)(base + f->off) = o->via.i64;
        else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
            *(int64_t *)(base + f->off) = (int64_t)o->via.u64;
        else
            return schema_err(err, errlen, "message '%s': field '%s' must be an integer",
                              type, f->key);
        return PROTO_OK;
    case F_ABSENT_OR_UINT:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return schema_err(err, errlen,
                              "message '%s': field '%s' must be an unsigned integer",
                              type, f->key);
        *(bool *)(base + f->aux) = true;
        *(uint64_t *)(base + f->off) = o->via.u64;
        return PROTO_OK;
    case F_OPT_ID:
        if (o->type == MSGPACK_OBJECT_NIL) {
            *(bool *)(base + f->aux) = false;
            *(uint64_t *)(base + f->off) = 0;
            return PROTO_OK;
        }
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return schema_err(err, errlen,
                              "message '%s': field '%s' must be an unsigned integer or nil",
                              type, f->key);
        *(bool *)(base + f->aux) = true;
        *(uint64_t *)(base + f->off) = o->via.u64;
        return PROTO_OK;
    case F_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return schema_err(err, errlen, "message '%s': field '%s' must be a boolean",
                              type, f->key);
        *(bool *)(base + f->off) = o->via.boolean;
        return PROTO_OK;
    case F_STR:
        return text_field(type, f->key, o, (struct proto_str *)(base + f->off), err,
                          errlen);
    case F_STREAM:
        return pick_name(type, f->key, o, stream_names, 2, (int *)(base + f->off), err,
                         errlen);
    case F_STATUS:
        return pick_name(type, f->key, o, status_names, 4, (int *)(base + f->off), err,
                         errlen);
    case F_MODE:
        return pick_name(type, f->key, o, mode_names, 3, (int *)(base + f->off), err,
                         errlen);
    case F_KIND:
        return pick_name(type, f->key, o, kind_names, 3, (int *)(base + f->off), err,
                         errlen);
    case F_STRS: {
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return schema_err(err, errlen, "message '%s': field '%s' must be an array",
                              type, f->key);
        size_t n = o->via.array.size;
        struct proto_str *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
            return PROTO_E_NOMEM;
        dec->strs = v;
        for (size_t i = 0; i < n; i++) {
            int rc = text_field(type, f->key, &o->via.array.ptr[i], &v[i], err, errlen);
            if (rc)
                return rc;
        }
        *(struct proto_str **)(base + f->off) = v;
        *(size_t *)(base + f->aux) = n;
        return PROTO_OK;
    }
    }
    return schema_err(err, errlen, "internal: unknown field kind");
}

static int decode_map(const msgpack_object *root, struct proto_msg *msg,
                      struct decoder *dec, char *err, size_t errlen)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return schema_err(err, errlen, "message is not a map");
    const msgpack_object_map *m = &root->via.map;
    const msgpack_object *v, *t;
    int rc;

    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return schema_err(err, errlen, "message key %u is not a string", i);

    /* The version comes first: a peer of another version may have changed
     * anything else, and deserves to hear that rather than a schema error. */
    if ((rc = lookup(m, "v", &v, err, errlen)))
        return rc;
    if (!v)
        return schema_err(err, errlen, "message has no protocol version ('v')");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return schema_err(err, errlen, "protocol version ('v') must be an unsigned integer");
    if (v->via.u64 != PROTO_VERSION) {
        snprintf(err, errlen, "peer speaks protocol version %llu, this side speaks %d",
                 (unsigned long long)v->via.u64, PROTO_VERSION);
        return PROTO_E_VERSION;
    }

    if ((rc = lookup(m, "t", &t, err, errlen)))
        return rc;
    if (!t || t->type != MSGPACK_OBJECT_STR)
        return schema_err(err, errlen, "message has no type ('t') string");
    struct proto_str tname = proto_str_n(t->via.str.ptr, t->via.str.size);
    const struct schema *sc = NULL;
    for (int i = 1; i < PROTO_TYPE_COUNT; i++)
        if (proto_str_eq(tname, schemas[i].name)) {
            sc = &schemas[i];
            msg->type = (enum proto_type)i;
        }
    if (!sc) {
        char q[QUOTE_MAX];
        return schema_err(err, errlen, "unknown message type '%s'",
                          quote(q, sizeof q, tname.ptr, tname.len));
    }
    for (size_t i = 0; i < sc->count; i++) {
        const struct field *f = &sc->fields[i];
        const msgpack_object *o;
        if ((rc = lookup(m, f->key, &o, err, errlen)))
            return rc;
        if (!o && f->kind == F_ABSENT_OR_UINT) {
            *(bool *)((char *)&msg->u + f->aux) = false;
            *(uint64_t *)((char *)&msg->u + f->off) = 0;
            continue;
        }
        if (!o)
            return schema_err(err, errlen, "message '%s': missing field '%s'", sc->name,
                              f->key);
        if ((rc = decode_field(sc, f, o, msg, dec, err, errlen)))
            return rc;
    }
    return PROTO_OK;
}

int proto_decode(const void *body, size_t len, struct proto_msg *msg,
                 char *err, size_t errlen)
{
    char scratch[8];
    if (!err) {
        err = scratch;
        errlen = sizeof scratch;
    }
    memset(msg, 0, sizeof *msg);
    int rc = proto_validate(body, len, PROTO_DEPTH_MAX, err, errlen);
    if (rc)
        return rc;

    struct decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return PROTO_E_NOMEM;
    msgpack_unpacked_init(&dec->unpacked);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&dec->unpacked, body, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = PROTO_E_NOMEM;
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        snprintf(err, errlen, "msgpack rejected the frame (%d, %zu of %zu bytes)", (int)ur,
                 off, len);
        rc = PROTO_E_MALFORMED;
    } else
        rc = decode_map(&dec->unpacked.data, msg, dec, err, errlen);
    msg->priv = dec;
    if (rc)
        proto_msg_release(msg);
    return rc;
}

void proto_msg_release(struct proto_msg *msg)
{
    struct decoder *dec = msg->priv;
    if (dec) {
        msgpack_unpacked_destroy(&dec->unpacked);
        free(dec->strs);
        free(dec);
    }
    msg->priv = NULL;
}

/* --- encoding ----------------------------------------------------------- */

static int buf_write(void *data, const char *p, size_t n)
{
    struct proto_buf *b = data;
    if (b->cap - b->len < n) {
        size_t want = b->cap ? b->cap : 256;
        while (want - b->len < n)
            want *= 2;
        char *nb = realloc(b->data, want);
        if (!nb)
            return PROTO_E_NOMEM;
        b->data = nb;
        b->cap = want;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int pack_text(msgpack_packer *pk, struct proto_str s)
{
    if (!utf8_valid(s.ptr, s.len, NULL))
        return PROTO_E_SCHEMA;
    if (msgpack_pack_str(pk, s.len) || (s.len && msgpack_pack_str_body(pk, s.ptr, s.len)))
        return PROTO_E_NOMEM;
    return PROTO_OK;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return pack_text(pk, proto_str_c(s));
}

static int pack_field(msgpack_packer *pk, const struct field *f, const struct proto_msg *msg)
{
    const char *base = (const char *)&msg->u;
    int r;

    switch (f->kind) {
    case F_UINT:
        return msgpack_pack_uint64(pk, *(const uint64_t *)(base + f->off)) ? PROTO_E_NOMEM : 0;
    case F_U32:
        return msgpack_pack_uint32(pk, PROTO_VERSION) ? PROTO_E_NOMEM : 0;
    case F_INT:
        return msgpack_pack_int64(pk, *(const int64_t *)(base + f->off)) ? PROTO_E_NOMEM : 0;
    case F_ABSENT_OR_UINT:  /* present: proto_encode skips it otherwise */
        return msgpack_pack_uint64(pk, *(const uint64_t *)(base + f->off)) ? PROTO_E_NOMEM : 0;
    case F_OPT_ID:
        if (!*(const bool *)(base + f->aux))
            return msgpack_pack_nil(pk) ? PROTO_E_NOMEM : 0;
        return msgpack_pack_uint64(pk, *(const uint64_t *)(base + f->off)) ? PROTO_E_NOMEM : 0;
    case F_BOOL:
        r = *(const bool *)(base + f->off) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        return r ? PROTO_E_NOMEM : 0;
    case F_STR:
        return pack_text(pk, *(const struct proto_str *)(base + f->off));
    case F_STREAM: {
        unsigned v = *(const unsigned *)(base + f->off);
        return v < 2 ? pack_cstr(pk, stream_names[v]) : PROTO_E_SCHEMA;
    }
    case F_STATUS: {
        unsigned v = *(const unsigned *)(base + f->off);
        return v < 4 ? pack_cstr(pk, status_names[v]) : PROTO_E_SCHEMA;
    }
    case F_MODE: {
        unsigned v = *(const unsigned *)(base + f->off);
        return v < 3 ? pack_cstr(pk, mode_names[v]) : PROTO_E_SCHEMA;
    }
    case F_KIND: {
        unsigned v = *(const unsigned *)(base + f->off);
        return v < 3 ? pack_cstr(pk, kind_names[v]) : PROTO_E_SCHEMA;
    }
    case F_STRS: {
        const struct proto_str *v = *(struct proto_str *const *)(base + f->off);
        size_t n = *(const size_t *)(base + f->aux);
        if (n > UINT32_MAX || msgpack_pack_array(pk, n))
            return PROTO_E_NOMEM;
        for (size_t i = 0; i < n; i++)
            if ((r = pack_text(pk, v[i])))
                return r;
        return PROTO_OK;
    }
    }
    return PROTO_E_SCHEMA;
}

/* Whether field f of msg goes on the wire (only optional ones may not). */
static bool field_present(const struct field *f, const struct proto_msg *msg)
{
    return f->kind != F_ABSENT_OR_UINT || *(const bool *)((const char *)&msg->u + f->aux);
}

int proto_encode(const struct proto_msg *msg, struct proto_buf *buf)
{
    if (msg->type <= 0 || msg->type >= PROTO_TYPE_COUNT)
        return PROTO_E_SCHEMA;
    const struct schema *sc = &schemas[msg->type];
    size_t start = buf->len;
    bool has_v = sc->fields[0].kind == F_U32;
    msgpack_packer pk;
    int rc;

    size_t absent = 0;
    for (size_t i = 0; i < sc->count; i++)
        absent += !field_present(&sc->fields[i], msg);

    if (buf_write(buf, "\0\0\0\0", PROTO_HEADER_SIZE))
        return PROTO_E_NOMEM;
    msgpack_packer_init(&pk, buf, buf_write);
    rc = msgpack_pack_map(&pk, sc->count - absent + (has_v ? 1 : 2)) ? PROTO_E_NOMEM : 0;
    if (!rc)
        rc = pack_cstr(&pk, "t");
    if (!rc)
        rc = pack_cstr(&pk, sc->name);
    if (!rc && !has_v) {
        rc = pack_cstr(&pk, "v");
        if (!rc)
            rc = msgpack_pack_uint32(&pk, PROTO_VERSION) ? PROTO_E_NOMEM : 0;
    }
    for (size_t i = 0; !rc && i < sc->count; i++) {
        if (!field_present(&sc->fields[i], msg))
            continue;
        rc = pack_cstr(&pk, sc->fields[i].key);
        if (!rc)
            rc = pack_field(&pk, &sc->fields[i], msg);
    }
    if (rc) {
        buf->len = start;
        return rc;
    }
    size_t n = buf->len - start - PROTO_HEADER_SIZE;
    if (n > UINT32_MAX) {
        buf->len = start;
        return PROTO_E_TOO_BIG;
    }
    unsigned char *h = (unsigned char *)buf->data + start;
    h[0] = (unsigned char)(n >> 24);
    h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    return PROTO_OK;
}

void proto_buf_free(struct proto_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
