#include "fb.h"

#include <string.h>

void fb_init(struct fb *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
    fb_raw(b, "\0\0\0\0", 4);
}

void fb_free(struct fb *b)
{
    msgpack_sbuffer_destroy(&b->sb);
}

void fb_reset(struct fb *b)
{
    b->sb.size = 0;
    fb_raw(b, "\0\0\0\0", 4);
}

void fb_raw(struct fb *b, const void *p, size_t n)
{
    msgpack_sbuffer_write(&b->sb, p, n);
}

void fb_str(struct fb *b, const char *s)
{
    msgpack_pack_str_with_body(&b->pk, s, strlen(s));
}

void fb_bin(struct fb *b, const void *p, size_t n)
{
    msgpack_pack_bin_with_body(&b->pk, p, n);
}

void fb_head(struct fb *b, const char *type, unsigned version, uint32_t nfields)
{
    msgpack_pack_map(&b->pk, nfields + 2);
    fb_str(b, "t");
    fb_str(b, type);
    fb_str(b, "v");
    msgpack_pack_unsigned_int(&b->pk, version);
}

const char *fb_body(const struct fb *b, size_t *len)
{
    *len = b->sb.size - 4;
    return b->sb.data + 4;
}

const char *fb_frame(struct fb *b, size_t *len)
{
    size_t n = b->sb.size - 4;
    unsigned char *h = (unsigned char *)b->sb.data;
    h[0] = (unsigned char)(n >> 24);
    h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    *len = b->sb.size;
    return b->sb.data;
}

static int key_eq(const msgpack_object *k, const char *key)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
           memcmp(k->via.str.ptr, key, k->via.str.size) == 0;
}

int fb_edit(struct fb *out, const char *body, size_t len, enum fb_op op,
            const char *key, const void *val, size_t vallen)
{
    msgpack_unpacked up;
    size_t off = 0;
    int rc = -1;

    fb_reset(out);
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_MAP)
        goto done;

    const msgpack_object_map *m = &up.data.via.map;
    uint32_t found = 0;
    for (uint32_t i = 0; i < m->size; i++)
        found += key_eq(&m->ptr[i].key, key) ? 1 : 0;
    if (!found && op != FB_SET)
        goto done;

    uint32_t n = m->size;
    if (op == FB_DROP)
        n -= found;
    else if (op == FB_DUP)
        n += found;
    else if (!found)
        n++;
    msgpack_pack_map(&out->pk, n);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object_kv *kv = &m->ptr[i];
        if (!key_eq(&kv->key, key)) {
            msgpack_pack_object(&out->pk, kv->key);
            msgpack_pack_object(&out->pk, kv->val);
            continue;
        }
        if (op == FB_DROP)
            continue;
        msgpack_pack_object(&out->pk, kv->key);
        if (op == FB_SET) {
            fb_raw(out, val, vallen);
            continue;
        }
        msgpack_pack_object(&out->pk, kv->val);
        msgpack_pack_object(&out->pk, kv->key);
        msgpack_pack_object(&out->pk, kv->val);
    }
    if (op == FB_SET && !found) {
        fb_str(out, key);
        fb_raw(out, val, vallen);
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&up);
    return rc;
}
