/* Writes the fuzzer's seed corpus: every sample message as a frame, all of
 * them as one stream, and a few hostile frames, one file each.
 * usage: fuzz-corpus DIR */
#include "proto.h"
#include "samples.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_seed(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz-corpus: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends the first n bytes of buf to itself. */
static int append_prefix(struct proto_buf *buf, size_t n)
{
    char *nb = realloc(buf->data, buf->len + n);
    if (!nb) {
        fprintf(stderr, "fuzz-corpus: out of memory\n");
        return -1;
    }
    memcpy(nb + buf->len, nb, n);
    buf->data = nb;
    buf->len += n;
    buf->cap = buf->len;
    return 0;
}

#define RAW(lit) lit, sizeof(lit) - 1

static const struct {
    const char *name;
    const char *bytes;
    size_t len;
} hostile[] = {
    {"array32-bomb", RAW("\0\0\0\x05\xdd\xff\xff\xff\xff")},
    {"map32-bomb", RAW("\0\0\0\x05\xdf\xff\xff\xff\xff")},
    {"too-big", RAW("\x00\x10\x00\x01\x80")},
    {"empty-frame", RAW("\0\0\0\0")},
    {"version-2", RAW("\0\0\0\x0c\x82\xa1t\xa5hello\xa1v\x02")},
    {"nested", RAW("\0\0\0\x09\x91\x91\x91\x91\x91\x91\x91\x91\x90")},
    {"ext", RAW("\0\0\0\x03\xd4\x01\x01")},
    {"bad-utf8", RAW("\0\0\0\x1d\x83\xa1t\xa5" "error\xa1v\x01\xa7message\xa8\xe2\x82\xc0\x80\xed\xa0\x80x")},
};

int main(int argc, char **argv)
{
    struct proto_buf all = {0};
    char name[32];

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-corpus DIR\n");
        return 2;
    }
    for (size_t i = 0; i < samples_count(); i++) {
        struct proto_buf one = {0};
        struct proto_msg m;
        samples_get(i, &m);
        if (proto_encode(&m, &one) || proto_encode(&m, &all)) {
            fprintf(stderr, "fuzz-corpus: cannot encode sample %zu\n", i);
            return 1;
        }
        snprintf(name, sizeof name, "sample-%02zu-%s", i, proto_type_name(m.type));
        if (write_seed(argv[1], name, one.data, one.len))
            return 1;
        proto_buf_free(&one);
    }
    if (write_seed(argv[1], "stream", all.data, all.len))
        return 1;
    /* Longer than the reader's first 4 KiB buffer, so that buffer growth
     * and compaction are in play from the start. */
    size_t one_pass = all.len;
    while (all.len < 12 * 1024) {
        if (append_prefix(&all, one_pass))
            return 1;
    }
    if (write_seed(argv[1], "long-stream", all.data, all.len))
        return 1;
    proto_buf_free(&all);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        if (write_seed(argv[1], hostile[i].name, hostile[i].bytes, hostile[i].len))
            return 1;
    return 0;
}
