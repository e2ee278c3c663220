/* Frame builder for the protocol tests: packs well-formed msgpack with
 * msgpack-c, appends hand-made bytes where a test needs malformed input, and
 * rewrites one key of an encoded message map. */
#ifndef AIOBOX_TEST_FB_H
#define AIOBOX_TEST_FB_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

struct fb {
    msgpack_sbuffer sb;    /* starts with the 4-byte length header */
    msgpack_packer pk;     /* packs into sb */
};

void fb_init(struct fb *b);
void fb_free(struct fb *b);
void fb_reset(struct fb *b);
void fb_raw(struct fb *b, const void *p, size_t n);
void fb_str(struct fb *b, const char *s);
void fb_bin(struct fb *b, const void *p, size_t n);
/* A map header for nfields + 2 entries, then "t": type and "v": version. */
void fb_head(struct fb *b, const char *type, unsigned version, uint32_t nfields);
/* The body so far (no header). */
const char *fb_body(const struct fb *b, size_t *len);
/* Sets the length header and returns the whole frame. */
const char *fb_frame(struct fb *b, size_t *len);

enum fb_op {
    FB_DROP,   /* leave the key out */
    FB_DUP,    /* write the key and its value twice */
    FB_SET,    /* replace the key's value by the msgpack bytes given (or add the key) */
};

/* Re-packs the message map body[0..len) into out (which is reset first)
 * with one key edited. Returns 0, or -1 when body is not a map or the key
 * to drop or duplicate is absent. */
int fb_edit(struct fb *out, const char *body, size_t len, enum fb_op op,
            const char *key, const void *val, size_t vallen);

#endif
