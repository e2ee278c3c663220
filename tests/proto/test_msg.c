/* Messages: round trips, the schema of every type, and every way a field
 * can be wrong. */
#include "fb.h"
#include "msgcmp.h"
#include "proto.h"
#include "samples.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>

#define RAW(lit) lit, sizeof(lit) - 1

/* The keys of each type as docs/protocol.md lists them. */
static const struct {
    enum proto_type type;
    const char *keys[17];
} documented[] = {
    {PROTO_HELLO, {"t", "v", "features"}},
    {PROTO_READY, {"t", "v", "python", "pid", "sandbox"}},
    {PROTO_EXEC, {"t", "v", "id", "source", "mode", "output_cap", "rich", "silent"}},
    {PROTO_OUTPUT, {"t", "v", "id", "stream", "text"}},
    {PROTO_RESULT, {"t", "v", "id", "status", "display", "code", "ps1", "ps2", "value",
                    "error_type", "error_message", "traceback", "compile_error", "denied",
                    "cpu_us", "max_rss_kb"}},
    {PROTO_COMPLETE, {"t", "v", "id", "code", "cursor"}},
    {PROTO_COMPLETIONS, {"t", "v", "id", "matches", "start", "end"}},
    {PROTO_INPUT, {"t", "v", "id", "prompt", "kind"}},
    {PROTO_INPUT_REPLY, {"t", "v", "id", "eof", "text"}},
    {PROTO_INTERRUPT_ACK, {"t", "v", "id"}},
    {PROTO_DENIED, {"t", "v", "syscall"}},
    {PROTO_ERROR, {"t", "v", "message"}},
    {PROTO_STARTED, {"t", "v", "id"}},
    {PROTO_DISPLAY, {"t", "v", "id", "data", "metadata", "display_id", "update"}},
    {PROTO_CLEAR_OUTPUT, {"t", "v", "id", "wait"}},
    {PROTO_INSPECT, {"t", "v", "id", "code", "cursor", "detail"}},
    {PROTO_INSPECTION, {"t", "v", "id", "found", "data"}},
    {PROTO_PAGE, {"t", "v", "id", "text"}},
    {PROTO_SHUTDOWN, {"t", "v"}},
    {PROTO_CANCEL, {"t", "v", "id"}},
};
#define NDOCUMENTED (sizeof documented / sizeof documented[0])

/* The optional keys docs/protocol.md lists: absent from the first sample
 * of their type (so the exact-keys test above holds), present in a later
 * one. */
static const struct {
    enum proto_type type;
    const char *key;
} optional_keys[] = {
    {PROTO_OUTPUT, "origin"},
    {PROTO_DISPLAY, "origin"},
    {PROTO_CLEAR_OUTPUT, "origin"},
};
#define NOPTIONAL (sizeof optional_keys / sizeof optional_keys[0])

static size_t first_sample(enum proto_type type)
{
    struct proto_msg m;
    for (size_t i = 0; i < samples_count(); i++) {
        samples_get(i, &m);
        if (m.type == type)
            return i;
    }
    ck_abort_msg("no sample of type %d", (int)type);
    return 0;
}

/* Encodes sample i into buf (reset first). */
static void encode_sample(size_t i, struct proto_buf *buf)
{
    struct proto_msg m;
    samples_get(i, &m);
    buf->len = 0;
    ck_assert_int_eq(proto_encode(&m, buf), PROTO_OK);
}

static int decode_fb(const struct fb *b, struct proto_msg *m, char *err, size_t errlen)
{
    size_t len;
    const char *body = fb_body(b, &len);
    err[0] = '\0';
    return proto_decode(body, len, m, err, errlen);
}

/* The first sample of type, re-packed with key edited, decoded. */
static int decode_edited(enum proto_type type, enum fb_op op, const char *key,
                         const char *val, size_t vallen, struct proto_msg *m,
                         char *err, size_t errlen)
{
    struct proto_buf buf = {0};
    struct fb b;
    encode_sample(first_sample(type), &buf);
    fb_init(&b);
    ck_assert_int_eq(fb_edit(&b, buf.data + 4, buf.len - 4, op, key, val, vallen), 0);
    int rc = decode_fb(&b, m, err, errlen);
    fb_free(&b);
    proto_buf_free(&buf);
    return rc;
}

START_TEST(test_roundtrip_every_sample)
{
    bool seen[PROTO_TYPE_COUNT] = {false};
    char err[256], why[128];

    for (size_t i = 0; i < samples_count(); i++) {
        struct proto_msg in, out;
        struct proto_buf buf = {0};
        samples_get(i, &in);
        ck_assert_int_eq(proto_encode(&in, &buf), PROTO_OK);
        ck_assert_uint_gt(buf.len, 4);
        size_t n = (size_t)(unsigned char)buf.data[0] << 24 |
                   (size_t)(unsigned char)buf.data[1] << 16 |
                   (size_t)(unsigned char)buf.data[2] << 8 | (unsigned char)buf.data[3];
        ck_assert_uint_eq(n, buf.len - 4);
        int rc = proto_decode(buf.data + 4, n, &out, err, sizeof err);
        ck_assert_msg(rc == PROTO_OK, "sample %zu (%s): %s", i, proto_type_name(in.type), err);
        ck_assert_msg(msgcmp_equal(&in, &out, why, sizeof why), "sample %zu: %s", i, why);
        if (out.type == PROTO_HELLO)
            ck_assert_uint_eq(out.u.hello.version, PROTO_VERSION);
        if (out.type == PROTO_READY)
            ck_assert_uint_eq(out.u.ready.version, PROTO_VERSION);
        seen[out.type] = true;
        proto_msg_release(&out);
        proto_buf_free(&buf);
    }
    for (int t = 1; t < PROTO_TYPE_COUNT; t++)
        ck_assert_msg(seen[t], "no round trip of %s", proto_type_name(t));
}
END_TEST

START_TEST(test_encode_appends)
{
    struct proto_buf buf = {0};
    struct proto_reader r;
    struct proto_msg m, want;
    char why[128];

    for (size_t i = 0; i < samples_count(); i++) {
        samples_get(i, &m);
        ck_assert_int_eq(proto_encode(&m, &buf), PROTO_OK);
    }
    proto_reader_init(&r, 0);
    ck_assert_int_eq(proto_reader_feed(&r, buf.data, buf.len), PROTO_OK);
    for (size_t i = 0; i < samples_count(); i++) {
        ck_assert_int_eq(proto_reader_take(&r, &m), 0);
        samples_get(i, &want);
        ck_assert_msg(msgcmp_equal(&want, &m, why, sizeof why), "frame %zu: %s", i, why);
        proto_msg_release(&m);
    }
    ck_assert_int_eq(proto_reader_take(&r, &m), PROTO_E_AGAIN);
    proto_reader_free(&r);
    proto_buf_free(&buf);
}
END_TEST

/* What goes on the wire is what docs/protocol.md says: exactly these keys. */
START_TEST(test_encoded_keys_are_documented)
{
    ck_assert_uint_eq(NDOCUMENTED, PROTO_TYPE_COUNT - 1);
    for (size_t d = 0; d < NDOCUMENTED; d++) {
        struct proto_buf buf = {0};
        msgpack_unpacked up;
        size_t off = 0, nkeys = 0;

        encode_sample(first_sample(documented[d].type), &buf);
        msgpack_unpacked_init(&up);
        ck_assert_int_eq(msgpack_unpack_next(&up, buf.data + 4, buf.len - 4, &off),
                         MSGPACK_UNPACK_SUCCESS);
        ck_assert_int_eq(up.data.type, MSGPACK_OBJECT_MAP);
        while (documented[d].keys[nkeys])
            nkeys++;
        ck_assert_uint_eq(up.data.via.map.size, nkeys);
        for (size_t k = 0; k < nkeys; k++) {
            bool found = false;
            for (uint32_t i = 0; i < up.data.via.map.size; i++) {
                const msgpack_object *key = &up.data.via.map.ptr[i].key;
                found |= key->type == MSGPACK_OBJECT_STR &&
                         proto_str_eq(proto_str_n(key->via.str.ptr, key->via.str.size),
                                      documented[d].keys[k]);
            }
            ck_assert_msg(found, "%s lacks key %s", proto_type_name(documented[d].type),
                          documented[d].keys[k]);
        }
        msgpack_unpacked_destroy(&up);
        proto_buf_free(&buf);
    }
}
END_TEST

/* The one kind of optional field: written only when set, decoded as
 * unset when absent, an unsigned integer when present (nil refused). */
START_TEST(test_optional_origin)
{
    char err[256], why[128];
    for (size_t o = 0; o < NOPTIONAL; o++) {
        size_t with = SIZE_MAX;
        for (size_t i = 0; i < samples_count() && with == SIZE_MAX; i++) {
            struct proto_msg m;
            samples_get(i, &m);
            bool has = m.type == PROTO_OUTPUT       ? m.u.output.has_origin
                       : m.type == PROTO_DISPLAY    ? m.u.display.has_origin
                       : m.type == PROTO_CLEAR_OUTPUT ? m.u.clear_output.has_origin
                                                    : false;
            if (m.type == optional_keys[o].type && has)
                with = i;
        }
        ck_assert_msg(with != SIZE_MAX, "no sample of %s with %s",
                      proto_type_name(optional_keys[o].type), optional_keys[o].key);
        ck_assert_uint_ne(with, first_sample(optional_keys[o].type));

        struct proto_buf buf = {0};
        struct proto_msg in, out;
        struct fb b;
        samples_get(with, &in);
        encode_sample(with, &buf);
        /* Dropped: the same message without it. */
        fb_init(&b);
        ck_assert_int_eq(fb_edit(&b, buf.data + 4, buf.len - 4, FB_DROP, optional_keys[o].key,
                                 NULL, 0), 0);
        ck_assert_msg(decode_fb(&b, &out, err, sizeof err) == PROTO_OK, "%s", err);
        ck_assert(!msgcmp_equal(&in, &out, why, sizeof why));
        ck_assert_msg(strstr(why, "has_origin"), "%s", why);
        proto_msg_release(&out);
        fb_free(&b);
        /* nil, a string, a negative number: refused. */
        static const struct { const char *val; size_t len; } bad[] = {
            {RAW("\xc0")}, {RAW("\xa1" "3")}, {RAW("\xff")},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            char want[128];
            fb_init(&b);
            ck_assert_int_eq(fb_edit(&b, buf.data + 4, buf.len - 4, FB_SET,
                                     optional_keys[o].key, bad[k].val, bad[k].len), 0);
            snprintf(want, sizeof want, "field '%s' must be an unsigned integer",
                     optional_keys[o].key);
            ASSERT_FAILS(decode_fb(&b, &out, err, sizeof err), PROTO_E_SCHEMA, err, want);
            fb_free(&b);
        }
        /* Twice: refused as any key this side reads. */
        fb_init(&b);
        ck_assert_int_eq(fb_edit(&b, buf.data + 4, buf.len - 4, FB_DUP, optional_keys[o].key,
                                 NULL, 0), 0);
        ASSERT_FAILS(decode_fb(&b, &out, err, sizeof err), PROTO_E_SCHEMA, err,
                     "duplicate key 'origin'");
        fb_free(&b);
        proto_buf_free(&buf);
    }
}
END_TEST

START_TEST(test_missing_fields)
{
    char err[256], want[128];
    struct proto_msg m;

    for (size_t d = 0; d < NDOCUMENTED; d++) {
        for (size_t k = 0; documented[d].keys[k]; k++) {
            const char *key = documented[d].keys[k];
            int rc = decode_edited(documented[d].type, FB_DROP, key, NULL, 0, &m, err,
                                   sizeof err);
            if (strcmp(key, "t") == 0)
                snprintf(want, sizeof want, "message has no type ('t') string");
            else if (strcmp(key, "v") == 0)
                snprintf(want, sizeof want, "message has no protocol version ('v')");
            else
                snprintf(want, sizeof want, "message '%s': missing field '%s'",
                         proto_type_name(documented[d].type), key);
            ASSERT_FAILS(rc, PROTO_E_SCHEMA, err, want);
            ck_assert_ptr_null(m.priv);
        }
    }
}
END_TEST

START_TEST(test_duplicate_keys)
{
    char err[256], want[128];
    struct proto_msg m;

    for (size_t d = 0; d < NDOCUMENTED; d++) {
        for (size_t k = 0; documented[d].keys[k]; k++) {
            const char *key = documented[d].keys[k];
            int rc = decode_edited(documented[d].type, FB_DUP, key, NULL, 0, &m, err,
                                   sizeof err);
            snprintf(want, sizeof want, "duplicate key '%s'", key);
            ASSERT_FAILS(rc, PROTO_E_SCHEMA, err, want);
        }
    }
}
END_TEST

/* Room to grow: keys this version does not know are skipped, whatever
 * their value, even repeated. */
START_TEST(test_unknown_keys_ignored)
{
    static const struct {
        const char *val;
        size_t len;
    } values[] = {
        {RAW("\xc0")},
        {RAW("\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18")},
        {RAW("\xc4\x03\x00\xff\x01")},
        {RAW("\x81\xa1" "a" "\x93\x01\x02\x81\xa1" "b" "\xc0")},
        {RAW("\xa3\xff\xfe\xfd")},  /* not UTF-8: nobody reads it */
    };
    char err[256], why[128];

    for (size_t i = 0; i < samples_count(); i++) {
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            struct proto_buf buf = {0};
            struct proto_msg in, out;
            struct fb b, b2;

            samples_get(i, &in);
            encode_sample(i, &buf);
            fb_init(&b);
            fb_init(&b2);
            fb_edit(&b, buf.data + 4, buf.len - 4, FB_SET, "zz_later", values[v].val,
                    values[v].len);
            size_t len;
            const char *body = fb_body(&b, &len);
            ck_assert_int_eq(fb_edit(&b2, body, len, FB_DUP, "zz_later", NULL, 0), 0);
            ck_assert_msg(decode_fb(&b2, &out, err, sizeof err) == PROTO_OK,
                          "sample %zu value %zu: %s", i, v, err);
            ck_assert_msg(msgcmp_equal(&in, &out, why, sizeof why), "%s", why);
            proto_msg_release(&out);
            fb_free(&b);
            fb_free(&b2);
            proto_buf_free(&buf);
        }
    }
}
END_TEST

/* Decoding stays linear in the number of keys: a pairwise duplicate check
 * took 40 s for this frame. */
START_TEST(test_many_unknown_keys)
{
    /* As many as a frame may have: each key and each value counts. */
    enum { NKEYS = PROTO_ELEMENTS_MAX / 2 - 4 };
    struct fb b;
    struct proto_msg m;
    char err[256];

    fb_init(&b);
    fb_head(&b, "interrupt_ack", PROTO_VERSION, 1 + NKEYS);
    fb_str(&b, "id");
    msgpack_pack_uint64(&b.pk, 77);
    for (unsigned i = 0; i < NKEYS; i++) {
        char key[5] = {(char)('a' + i % 26), (char)('a' + i / 26 % 26),
                       (char)('a' + i / 676 % 26), (char)('a' + i / 17576 % 26), 0};
        fb_str(&b, key);
        msgpack_pack_nil(&b.pk);
    }
    ck_assert_msg(decode_fb(&b, &m, err, sizeof err) == PROTO_OK, "%s", err);
    ck_assert_int_eq(m.type, PROTO_INTERRUPT_ACK);
    ck_assert_uint_eq(m.u.interrupt_ack.id, 77);
    proto_msg_release(&m);
    fb_free(&b);
}
END_TEST

static const struct wrong {
    enum proto_type type;
    const char *key;
    const char *val;
    size_t len;
    const char *needle;
} wrong_types[] = {
    {PROTO_EXEC, "id", RAW("\xa1" "1"), "message 'exec': field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "id", RAW("\xff"), "field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "id", RAW("\xd3\x80\0\0\0\0\0\0\0"), "field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "id", RAW("\xcb\x3f\xf0\0\0\0\0\0\0"), "field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "id", RAW("\xc0"), "field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "source", RAW("\x00"), "message 'exec': field 'source' must be a string"},
    {PROTO_EXEC, "source", RAW("\xc4\x01x"), "field 'source' must be a string"},
    {PROTO_EXEC, "source", RAW("\xc0"), "field 'source' must be a string"},
    {PROTO_EXEC, "source", RAW("\x91\xa1x"), "field 'source' must be a string"},
    {PROTO_OUTPUT, "id", RAW("\xa1x"), "field 'id' must be an unsigned integer or nil"},
    {PROTO_OUTPUT, "id", RAW("\xff"), "field 'id' must be an unsigned integer or nil"},
    {PROTO_OUTPUT, "id", RAW("\xc2"), "field 'id' must be an unsigned integer or nil"},
    {PROTO_OUTPUT, "stream", RAW("\xa5stdin"), "field 'stream' has unknown value 'stdin'"},
    {PROTO_OUTPUT, "stream", RAW("\xa0"), "field 'stream' has unknown value ''"},
    {PROTO_OUTPUT, "stream", RAW("\x01"), "field 'stream' must be a string"},
    {PROTO_OUTPUT, "stream", RAW("\xc4\x06stdout"), "field 'stream' must be a string"},
    {PROTO_OUTPUT, "text", RAW("\xc4\x02hi"), "field 'text' must be a string"},
    {PROTO_RESULT, "status", RAW("\xa2OK"), "field 'status' has unknown value 'OK'"},
    {PROTO_RESULT, "status", RAW("\x00"), "field 'status' must be a string"},
    {PROTO_RESULT, "code", RAW("\xcf\x80\0\0\0\0\0\0\0"), "field 'code' must be an integer"},
    {PROTO_RESULT, "code", RAW("\xcb\x3f\xf0\0\0\0\0\0\0"), "field 'code' must be an integer"},
    {PROTO_RESULT, "code", RAW("\xa1" "0"), "field 'code' must be an integer"},
    {PROTO_RESULT, "display", RAW("\x91\x01"), "field 'display' must be a string"},
    {PROTO_RESULT, "ps1", RAW("\xc0"), "field 'ps1' must be a string"},
    {PROTO_RESULT, "ps2", RAW("\xc4\x01x"), "field 'ps2' must be a string"},
    {PROTO_RESULT, "id", RAW("\xc3"), "field 'id' must be an unsigned integer"},
    {PROTO_INPUT_REPLY, "eof", RAW("\x00"), "field 'eof' must be a boolean"},
    {PROTO_INPUT_REPLY, "eof", RAW("\xc0"), "field 'eof' must be a boolean"},
    {PROTO_INPUT_REPLY, "eof", RAW("\xa4true"), "field 'eof' must be a boolean"},
    {PROTO_INPUT_REPLY, "text", RAW("\xc2"), "field 'text' must be a string"},
    {PROTO_COMPLETIONS, "matches", RAW("\xa1x"), "field 'matches' must be an array"},
    {PROTO_COMPLETIONS, "matches", RAW("\x80"), "field 'matches' must be an array"},
    {PROTO_COMPLETIONS, "matches", RAW("\x91\x01"), "field 'matches' must be a string"},
    {PROTO_COMPLETIONS, "matches", RAW("\x92\xa1x\xc0"), "field 'matches' must be a string"},
    {PROTO_COMPLETIONS, "matches", RAW("\x91\xc4\x01x"), "field 'matches' must be a string"},
    {PROTO_COMPLETIONS, "matches", RAW("\x91\x91\xa1x"), "field 'matches' must be a string"},
    {PROTO_READY, "pid", RAW("\xc3"), "message 'ready': field 'pid' must be an integer"},
    {PROTO_READY, "python", RAW("\x03"), "field 'python' must be a string"},
    {PROTO_READY, "sandbox", RAW("\xc0"), "field 'sandbox' must be a string"},
    {PROTO_DENIED, "syscall", RAW("\xa6ptrace"), "field 'syscall' must be an integer"},
    {PROTO_DENIED, "syscall", RAW("\xca\x3f\x80\0\0"), "field 'syscall' must be an integer"},
    {PROTO_ERROR, "message", RAW("\xc0"), "field 'message' must be a string"},
    {PROTO_INPUT, "prompt", RAW("\xc4\x01>"), "field 'prompt' must be a string"},
    {PROTO_COMPLETE, "id", RAW("\xfb"), "field 'id' must be an unsigned integer"},
    {PROTO_COMPLETE, "code", RAW("\x80"), "field 'code' must be a string"},
    {PROTO_COMPLETE, "cursor", RAW("\xff"), "field 'cursor' must be an unsigned integer"},
    {PROTO_INPUT, "kind", RAW("\xa4" "file"), "field 'kind' has unknown value 'file'"},
    {PROTO_EXEC, "rich", RAW("\x01"), "field 'rich' must be a boolean"},
    {PROTO_RESULT, "traceback", RAW("\x91\x01"), "field 'traceback' must be a string"},
    {PROTO_DISPLAY, "data", RAW("\x80"), "field 'data' must be a string"},
    {PROTO_INSPECTION, "found", RAW("\xa3" "yes"), "field 'found' must be a boolean"},
    {PROTO_INTERRUPT_ACK, "id", RAW("\xa1" "9"), "field 'id' must be an unsigned integer"},
    {PROTO_EXEC, "t", RAW("\xc4\x04" "exec"), "message has no type ('t') string"},
    {PROTO_EXEC, "t", RAW("\x03"), "message has no type ('t') string"},
    {PROTO_EXEC, "t", RAW("\xc0"), "message has no type ('t') string"},
    {PROTO_EXEC, "v", RAW("\xff"), "protocol version ('v') must be an unsigned integer"},
    {PROTO_EXEC, "v", RAW("\xa1" "1"), "protocol version ('v') must be an unsigned integer"},
    {PROTO_EXEC, "v", RAW("\xcb\x3f\xf0\0\0\0\0\0\0"), "protocol version ('v') must be an unsigned integer"},
    {PROTO_EXEC, "v", RAW("\xc3"), "protocol version ('v') must be an unsigned integer"},
    {PROTO_HELLO, "v", RAW("\xc0"), "protocol version ('v') must be an unsigned integer"},
};

START_TEST(test_wrong_field_types)
{
    const struct wrong *w = &wrong_types[_i];
    struct proto_msg m;
    char err[256];
    int rc = decode_edited(w->type, FB_SET, w->key, w->val, w->len, &m, err, sizeof err);
    ASSERT_FAILS(rc, PROTO_E_SCHEMA, err, w->needle);
    ck_assert_ptr_null(m.priv);
}
END_TEST

/* Every text field, and the enum fields spelt as text, refuse what is not
 * UTF-8, and say where. */
START_TEST(test_invalid_utf8_fields)
{
    static const struct {
        enum proto_type type;
        const char *key;
    } fields[] = {
        {PROTO_READY, "python"}, {PROTO_READY, "sandbox"}, {PROTO_EXEC, "source"},
        {PROTO_OUTPUT, "text"}, {PROTO_OUTPUT, "stream"}, {PROTO_RESULT, "display"},
        {PROTO_RESULT, "status"}, {PROTO_RESULT, "ps1"}, {PROTO_RESULT, "ps2"},
        {PROTO_COMPLETE, "code"}, {PROTO_INPUT, "prompt"}, {PROTO_INPUT_REPLY, "text"},
        {PROTO_ERROR, "message"}, {PROTO_COMPLETIONS, "matches"}, {PROTO_RESULT, "value"},
        {PROTO_RESULT, "traceback"}, {PROTO_DISPLAY, "data"}, {PROTO_INSPECT, "code"},
        {PROTO_PAGE, "text"},
    };
    static const struct {
        const char *bytes;
        size_t len;
        const char *where;
    } bad[] = {
        {RAW("ok\xc0\x80"), "(byte 0xc0 at offset 2)"},          /* overlong NUL */
        {RAW("\xc1\xbf"), "(byte 0xc1 at offset 0)"},            /* overlong */
        {RAW("x\xe0\x9f\xbf"), "(byte 0xe0 at offset 1)"},       /* overlong 3-byte */
        {RAW("\xf0\x8f\xbf\xbf"), "(byte 0xf0 at offset 0)"},    /* overlong 4-byte */
        {RAW("\xed\xa0\x80"), "(byte 0xed at offset 0)"},        /* surrogate */
        {RAW("ab\xf4\x90\x80\x80"), "(byte 0xf4 at offset 2)"},  /* above U+10FFFF */
        {RAW("\xf5\x80\x80\x80"), "(byte 0xf5 at offset 0)"},
        {RAW("abc\xe2\x82"), "(byte 0xe2 at offset 3)"},         /* truncated */
        {RAW("\x80"), "(byte 0x80 at offset 0)"},                /* lone continuation */
        {RAW("\xff"), "(byte 0xff at offset 0)"},
        {RAW("\xf8\x88\x80\x80\x80"), "(byte 0xf8 at offset 0)"},
    };
    char err[256], want[160], val[16];
    struct proto_msg m;

    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            size_t n = 0;
            if (fields[f].type == PROTO_COMPLETIONS) {
                val[n++] = (char)0x92;  /* a good match, then the bad one */
                val[n++] = (char)0xa1;
                val[n++] = 'p';
            }
            val[n++] = (char)(0xa0 | bad[b].len);
            memcpy(val + n, bad[b].bytes, bad[b].len);
            n += bad[b].len;
            int rc = decode_edited(fields[f].type, FB_SET, fields[f].key, val, n, &m, err,
                                   sizeof err);
            snprintf(want, sizeof want, "message '%s': field '%s' is not valid UTF-8 %s",
                     proto_type_name(fields[f].type), fields[f].key, bad[b].where);
            ASSERT_FAILS(rc, PROTO_E_SCHEMA, err, want);
        }
    }
}
END_TEST

START_TEST(test_unknown_type)
{
    static const struct {
        const char *name;
        size_t len;
        const char *needle;
    } cases[] = {
        {RAW("bogus"), "unknown message type 'bogus'"},
        {RAW("Exec"), "unknown message type 'Exec'"},
        {RAW(""), "unknown message type ''"},
        {RAW("exec\0"), "unknown message type 'exec\\x00'"},
        /* Peer bytes never reach the error text raw: it may be printed. */
        {RAW("\x1b[2J\x1b]0;owned\x07"), "unknown message type '\\x1b[2J\\x1b]0;owned\\x07'"},
        {RAW("\xff\xfe"), "unknown message type '\\xff\\xfe'"},
        {RAW("caf\xc3\xa9"), "unknown message type 'caf\\xc3\\xa9'"},
        {RAW("0123456789012345678901234567890123456789overflow"),
         "unknown message type '0123456789012345678901234567890123456789...'"},
    };
    char err[256];
    struct fb b;

    fb_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_msg m;
        fb_reset(&b);
        msgpack_pack_map(&b.pk, 3);
        fb_str(&b, "t");
        msgpack_pack_str_with_body(&b.pk, cases[i].name, cases[i].len);
        fb_str(&b, "v");
        msgpack_pack_uint8(&b.pk, PROTO_VERSION);
        fb_str(&b, "id");
        msgpack_pack_uint8(&b.pk, 1);
        ASSERT_FAILS(decode_fb(&b, &m, err, sizeof err), PROTO_E_SCHEMA, err, cases[i].needle);
        for (const char *p = err; *p; p++)
            ck_assert_msg(*p >= 0x20 && *p < 0x7f, "raw byte 0x%02x in the error",
                          (unsigned char)*p);
    }
    fb_free(&b);
}
END_TEST

/* A bad enum value is quoted the same way. */
START_TEST(test_error_text_is_escaped)
{
    struct proto_msg m;
    char err[256];
    int rc = decode_edited(PROTO_RESULT, FB_SET, "status", RAW("\xa5\x1b[31m"), &m, err,
                           sizeof err);
    ASSERT_FAILS(rc, PROTO_E_SCHEMA, err, "unknown value '\\x1b[31m'");
    ck_assert_ptr_null(strchr(err, 0x1b));
}
END_TEST

START_TEST(test_version_mismatch)
{
    static const struct {
        const char *val;
        size_t len;
        const char *needle;
    } cases[] = {
        {RAW("\x03"), "peer speaks protocol version 3, this side speaks 2"},
        {RAW("\x01"), "peer speaks protocol version 1, this side speaks 2"},
        {RAW("\x00"), "peer speaks protocol version 0, this side speaks 2"},
        {RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
         "peer speaks protocol version 18446744073709551615, this side speaks 2"},
        {RAW("\xce\x00\x00\x01\x00"), "peer speaks protocol version 256"},
    };
    char err[256];
    struct proto_msg m;

    for (size_t d = 0; d < NDOCUMENTED; d++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int rc = decode_edited(documented[d].type, FB_SET, "v", cases[i].val,
                                   cases[i].len, &m, err, sizeof err);
            ASSERT_FAILS(rc, PROTO_E_VERSION, err, cases[i].needle);
        }
}
END_TEST

/* The version is looked at first: a newer peer may have changed anything
 * else and should hear about the version, not about a field. */
START_TEST(test_version_checked_first)
{
    struct fb b;
    struct proto_msg m;
    char err[256];

    fb_init(&b);
    fb_head(&b, "shiny_new_type", PROTO_VERSION + 1, 1);
    fb_str(&b, "id");
    fb_str(&b, "not a number");
    ASSERT_FAILS(decode_fb(&b, &m, err, sizeof err), PROTO_E_VERSION, err,
                 "peer speaks protocol version 3");

    fb_reset(&b);
    msgpack_pack_map(&b.pk, 1);
    fb_str(&b, "v");
    msgpack_pack_uint8(&b.pk, 4);
    ASSERT_FAILS(decode_fb(&b, &m, err, sizeof err), PROTO_E_VERSION, err,
                 "peer speaks protocol version 4");
    fb_free(&b);
}
END_TEST

/* Integers may come in any msgpack width; a signed encoding of a
 * non-negative value is still an unsigned value. */
START_TEST(test_integer_widths)
{
    static const struct {
        const char *val;
        size_t len;
    } fives[] = {
        {RAW("\x05")}, {RAW("\xcc\x05")}, {RAW("\xcd\x00\x05")}, {RAW("\xce\0\0\0\x05")},
        {RAW("\xcf\0\0\0\0\0\0\0\x05")}, {RAW("\xd0\x05")}, {RAW("\xd1\x00\x05")},
        {RAW("\xd2\0\0\0\x05")}, {RAW("\xd3\0\0\0\0\0\0\0\x05")},
    };
    char err[256];
    struct proto_msg m;

    for (size_t i = 0; i < sizeof fives / sizeof fives[0]; i++) {
        int rc = decode_edited(PROTO_EXEC, FB_SET, "id", fives[i].val, fives[i].len, &m, err,
                               sizeof err);
        ck_assert_msg(rc == PROTO_OK, "width %zu: %s", i, err);
        ck_assert_uint_eq(m.u.exec.id, 5);
        proto_msg_release(&m);

        rc = decode_edited(PROTO_DENIED, FB_SET, "syscall", fives[i].val, fives[i].len, &m,
                           err, sizeof err);
        ck_assert_msg(rc == PROTO_OK, "width %zu: %s", i, err);
        ck_assert_int_eq(m.u.denied.syscall, 5);
        proto_msg_release(&m);

        /* Any width of the version number is the version. */
        char one[16];
        memcpy(one, fives[i].val, fives[i].len);
        one[fives[i].len - 1] = PROTO_VERSION;
        rc = decode_edited(PROTO_HELLO, FB_SET, "v", one, fives[i].len, &m, err, sizeof err);
        ck_assert_msg(rc == PROTO_OK, "width %zu: %s", i, err);
        proto_msg_release(&m);
    }

    int rc = decode_edited(PROTO_RESULT, FB_SET, "code", RAW("\xd3\x80\0\0\0\0\0\0\0"), &m,
                           err, sizeof err);
    ck_assert_int_eq(rc, PROTO_OK);
    ck_assert_int_eq(m.u.result.exit_code, INT64_MIN);
    proto_msg_release(&m);
    rc = decode_edited(PROTO_RESULT, FB_SET, "code", RAW("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"),
                       &m, err, sizeof err);
    ck_assert_int_eq(rc, PROTO_OK);
    ck_assert_int_eq(m.u.result.exit_code, INT64_MAX);
    proto_msg_release(&m);
    rc = decode_edited(PROTO_OUTPUT, FB_SET, "id", RAW("\xc0"), &m, err, sizeof err);
    ck_assert_int_eq(rc, PROTO_OK);
    ck_assert(!m.u.output.has_id);
    proto_msg_release(&m);
}
END_TEST

START_TEST(test_not_a_map)
{
    static const struct {
        const char *body;
        size_t len;
        const char *needle;
    } cases[] = {
        {RAW("\x91\x01"), "message is not a map"},
        {RAW("\xc0"), "message is not a map"},
        {RAW("\xa4" "exec"), "message is not a map"},
        {RAW("\x80"), "message has no protocol version ('v')"},
        {RAW("\x82\x01\x02\xa1v\x01"), "message key 0 is not a string"},
        {RAW("\x82\xa1v\x01\xc4\x01t\xa5hello"), "message key 1 is not a string"},
        {RAW("\x82\xa1v\x01\x80\xc0"), "message key 1 is not a string"},
    };
    char err[256];
    struct proto_msg m;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_FAILS(proto_decode(cases[i].body, cases[i].len, &m, err, sizeof err),
                     PROTO_E_SCHEMA, err, cases[i].needle);
}
END_TEST

START_TEST(test_encode_refuses)
{
    struct proto_buf buf = {0};
    struct proto_msg m;
    struct proto_str bad_matches[] = {{"ok", 2}, {"\xc0\x80", 2}};

    samples_get(0, &m);
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_OK);
    size_t good = buf.len;

    m = (struct proto_msg){.type = PROTO_EXEC, .u.exec = {1, {"x\xed\xa0\x80", 4}, PROTO_EXEC_SINGLE}};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    ck_assert_uint_eq(buf.len, good);
    m = (struct proto_msg){.type = PROTO_COMPLETIONS, .u.completions = {1, 2, bad_matches}};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    ck_assert_uint_eq(buf.len, good);
    m = (struct proto_msg){.type = PROTO_OUTPUT, .u.output = {true, 1, 2, {"x", 1}}};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    m = (struct proto_msg){.type = PROTO_RESULT, .u.result = {1, 4, {"", 0}, 0}};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    m = (struct proto_msg){.type = 0};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    m = (struct proto_msg){.type = PROTO_TYPE_COUNT};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_E_SCHEMA);
    ck_assert_uint_eq(buf.len, good);

    /* The encoder speaks its own version whatever the struct says. */
    struct proto_msg out;
    char err[128];
    buf.len = 0;
    m = (struct proto_msg){.type = PROTO_HELLO, .u.hello = {99}};
    ck_assert_int_eq(proto_encode(&m, &buf), PROTO_OK);
    ck_assert_int_eq(proto_decode(buf.data + 4, buf.len - 4, &out, err, sizeof err), PROTO_OK);
    ck_assert_uint_eq(out.u.hello.version, PROTO_VERSION);
    proto_msg_release(&out);
    proto_buf_free(&buf);
}
END_TEST

START_TEST(test_helpers)
{
    struct proto_str s = proto_str_c(NULL);
    ck_assert_uint_eq(s.len, 0);
    s = proto_str_c("abc");
    ck_assert_uint_eq(s.len, 3);
    ck_assert(proto_str_eq(s, "abc"));
    ck_assert(!proto_str_eq(s, "ab"));
    ck_assert(!proto_str_eq(s, "abcd"));
    ck_assert(proto_str_eq(proto_str_n(NULL, 0), ""));

    char *d = proto_str_dup(proto_str_n("a\0b", 3));
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(memcmp(d, "a\0b", 4), 0);
    free(d);
    d = proto_str_dup(proto_str_n(NULL, 0));
    ck_assert_str_eq(d, "");
    free(d);

    for (size_t i = 0; i < NDOCUMENTED; i++)
        ck_assert_str_ne(proto_type_name(documented[i].type), "?");
    ck_assert_str_eq(proto_type_name(PROTO_INPUT_REPLY), "input_reply");
    ck_assert_str_eq(proto_type_name(0), "?");
    ck_assert_str_eq(proto_type_name(PROTO_TYPE_COUNT), "?");
    ck_assert_str_eq(proto_status_name(PROTO_STATUS_INTERRUPTED), "interrupted");
    ck_assert_str_eq(proto_status_name(PROTO_STATUS_EXIT), "exit");
    ck_assert_str_eq(proto_status_name((enum proto_status)4), "?");
    ck_assert_str_eq(proto_stream_name(PROTO_STDERR), "stderr");
    ck_assert_str_eq(proto_stream_name((enum proto_stream)2), "?");
}
END_TEST

/* Without an error buffer, decoding still fails cleanly. */
START_TEST(test_decode_without_err)
{
    struct proto_msg m;
    ck_assert_int_eq(proto_decode("\x91\x01", 2, &m, NULL, 0), PROTO_E_SCHEMA);
    ck_assert_int_eq(proto_decode("\xdd\xff\xff\xff\xff", 5, &m, NULL, 0), PROTO_E_MALFORMED);
    ck_assert_int_eq(proto_decode("", 0, &m, NULL, 0), PROTO_E_MALFORMED);
}
END_TEST

Suite *msg_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("msg");
    tcase_set_timeout(tc, TEST_TIMEOUT);
    tcase_add_test(tc, test_roundtrip_every_sample);
    tcase_add_test(tc, test_encode_appends);
    tcase_add_test(tc, test_encoded_keys_are_documented);
    tcase_add_test(tc, test_missing_fields);
    tcase_add_test(tc, test_optional_origin);
    tcase_add_test(tc, test_duplicate_keys);
    tcase_add_test(tc, test_unknown_keys_ignored);
    tcase_add_test(tc, test_many_unknown_keys);
    tcase_add_loop_test(tc, test_wrong_field_types, 0,
                        (int)(sizeof wrong_types / sizeof wrong_types[0]));
    tcase_add_test(tc, test_invalid_utf8_fields);
    tcase_add_test(tc, test_unknown_type);
    tcase_add_test(tc, test_error_text_is_escaped);
    tcase_add_test(tc, test_version_mismatch);
    tcase_add_test(tc, test_version_checked_first);
    tcase_add_test(tc, test_integer_widths);
    tcase_add_test(tc, test_not_a_map);
    tcase_add_test(tc, test_encode_refuses);
    tcase_add_test(tc, test_helpers);
    tcase_add_test(tc, test_decode_without_err);
    suite_add_tcase(s, tc);
    return s;
}
