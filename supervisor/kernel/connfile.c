/* The connection file a Jupyter client writes for the kernel it starts:
 * transport, address, the five ports, the signing key and scheme. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kchan_names[KCHAN_COUNT] = {"shell", "iopub", "stdin", "control", "hb"};

/* A connection file is a few hundred bytes; anything much larger is not
 * one. */
#define CONNFILE_MAX (64 * 1024)

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "connection file %s: %s", path, what);
    return -EINVAL;
}

static bool text_field(const json_t *root, const char *key, const char *fallback, char *out,
                       size_t outlen)
{
    const json_t *v = json_object_get(root, key);
    if (!v) {
        snprintf(out, outlen, "%s", fallback);
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) >= outlen ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    snprintf(out, outlen, "%s", json_string_value(v));
    return true;
}

int connfile_load(const char *path, struct connfile *cf, char *err, size_t errlen)
{
    static const char *const port_keys[KCHAN_COUNT] = {"shell_port", "iopub_port", "stdin_port",
                                                       "control_port", "hb_port"};
    memset(cf, 0, sizeof *cf);
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "connection file %s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(CONNFILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONNFILE_MAX + 1, f) : 0;
    bool read_failed = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (read_failed || n > CONNFILE_MAX) {
        free(buf);
        return fail(err, errlen, path, read_failed ? "cannot be read" : "larger than %d bytes",
                    CONNFILE_MAX);
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root)
        return fail(err, errlen, path, "not JSON (line %d: %s)", jerr.line, jerr.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = fail(err, errlen, path, "not a JSON object");
        goto out;
    }
    if (!text_field(root, "transport", "tcp", cf->transport, sizeof cf->transport) ||
        (strcmp(cf->transport, "tcp") != 0 && strcmp(cf->transport, "ipc") != 0)) {
        rc = fail(err, errlen, path, "transport must be \"tcp\" or \"ipc\"");
        goto out;
    }
    if (!text_field(root, "ip", "127.0.0.1", cf->ip, sizeof cf->ip) || !cf->ip[0]) {
        rc = fail(err, errlen, path, "ip must be an address (or, for ipc, a path)");
        goto out;
    }
    if (!text_field(root, "signature_scheme", "hmac-sha256", cf->scheme, sizeof cf->scheme)) {
        rc = fail(err, errlen, path, "signature_scheme must be a short string");
        goto out;
    }
    for (int c = 0; c < KCHAN_COUNT; c++) {
        const json_t *v = json_object_get(root, port_keys[c]);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
            rc = fail(err, errlen, path, "%s must be a port number (1 to 65535)", port_keys[c]);
            goto out;
        }
        cf->port[c] = (unsigned)json_integer_value(v);
    }
    const json_t *key = json_object_get(root, "key");
    if (key && !json_is_string(key)) {
        rc = fail(err, errlen, path, "key must be a string");
        goto out;
    }
    const char *k = key ? json_string_value(key) : "";
    cf->keylen = key ? json_string_length(key) : 0;
    cf->key = malloc(cf->keylen + 1);
    if (!cf->key) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    memcpy(cf->key, k, cf->keylen);
    cf->key[cf->keylen] = '\0';
out:
    json_decref(root);
    return rc;
}

void connfile_free(struct connfile *cf)
{
    if (cf->key)
        memset(cf->key, 0, cf->keylen);
    free(cf->key);
    cf->key = NULL;
}

void connfile_endpoint(const struct connfile *cf, enum kchan c, char *out, size_t len)
{
    if (strcmp(cf->transport, "ipc") == 0)
        snprintf(out, len, "ipc://%s-%u", cf->ip, cf->port[c]);
    else if (strchr(cf->ip, ':'))
        snprintf(out, len, "tcp://[%s]:%u", cf->ip, cf->port[c]);
    else
        snprintf(out, len, "tcp://%s:%u", cf->ip, cf->port[c]);
}
