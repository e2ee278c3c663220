/* Message signatures: HMAC over the four serialized dicts of a message
 * (header, parent_header, metadata, content) with the connection file's
 * key, in lowercase hex, as Jupyter's Session computes them. A message
 * whose signature is wrong is dropped; so is one whose signature was
 * already seen (a captured message sent again), as jupyter_client's
 * Session refuses a duplicate signature. */
#include "kernel_priv.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Signatures remembered for the replay guard (as Session's digest
 * history, 2^16), by their first 128 bits; when full, the older half is
 * forgotten. */
#define SEEN_MAX 65536
#define SEEN_SLOTS (2 * SEEN_MAX)
#define SEEN_BYTES 16

struct signer {
    EVP_MAC *mac;
    EVP_MAC_CTX *base;          /* keyed once; copied for each message */
    char digest[32];
    size_t hexlen;
    /* Open-addressing sets of signatures seen, in two generations; an
     * all-zero slot is free. */
    unsigned char (*seen)[SEEN_BYTES];
    size_t nseen;
    unsigned char (*old)[SEEN_BYTES];
};

int signer_new(struct signer **out, const char *scheme, const char *key, size_t keylen,
               char *err, size_t errlen)
{
    *out = NULL;
    struct signer *sg = calloc(1, sizeof *sg);
    if (!sg) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (keylen == 0) {
        *out = sg;   /* signing off, as an empty key asks */
        return 0;
    }
    if (strncmp(scheme, "hmac-", 5) != 0 || strlen(scheme + 5) >= sizeof sg->digest) {
        snprintf(err, errlen, "signature scheme '%s' is not hmac-<digest>", scheme);
        free(sg);
        return -EINVAL;
    }
    snprintf(sg->digest, sizeof sg->digest, "%s", scheme + 5);
    EVP_MD *md = EVP_MD_fetch(NULL, sg->digest, NULL);
    int size = md ? EVP_MD_get_size(md) : 0;
    EVP_MD_free(md);
    if (size <= 0 || (size_t)size * 2 + 1 > SIGNER_HEX_MAX) {
        snprintf(err, errlen, "signature scheme '%s': no such digest here", scheme);
        free(sg);
        return -EINVAL;
    }
    sg->hexlen = (size_t)size * 2;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sg->digest, 0),
        OSSL_PARAM_construct_end(),
    };
    sg->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sg->base = sg->mac ? EVP_MAC_CTX_new(sg->mac) : NULL;
    sg->seen = calloc(SEEN_SLOTS, sizeof *sg->seen);
    sg->old = calloc(SEEN_SLOTS, sizeof *sg->old);
    if (!sg->base || !sg->seen || !sg->old ||
        !EVP_MAC_init(sg->base, (const unsigned char *)key, keylen, params)) {
        snprintf(err, errlen, "cannot set up HMAC-%s with OpenSSL", sg->digest);
        signer_free(sg);
        return -EINVAL;
    }
    *out = sg;
    return 0;
}

void signer_free(struct signer *sg)
{
    if (!sg)
        return;
    EVP_MAC_CTX_free(sg->base);
    EVP_MAC_free(sg->mac);
    free(sg->seen);
    free(sg->old);
    free(sg);
}

int signer_sign(struct signer *sg, const struct iovec *parts, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\0';
    if (!sg->base)
        return 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(sg->base);
    if (!ctx)
        return -ENOMEM;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        ok = EVP_MAC_update(ctx, parts[i].iov_base, parts[i].iov_len);
    ok = ok && EVP_MAC_final(ctx, mac, &maclen, sizeof mac);
    EVP_MAC_CTX_free(ctx);
    if (!ok || maclen * 2 != sg->hexlen)
        return -ENOMEM;
    for (size_t i = 0; i < maclen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[2 * maclen] = '\0';
    return 0;
}

static size_t slot_of(const unsigned char *key)
{
    /* A MAC's bytes are as good as any hash. */
    size_t h = 0;
    for (size_t i = 0; i < sizeof h; i++)
        h = h << 8 | key[i];
    return h % SEEN_SLOTS;
}

static bool in_set(unsigned char (*set)[SEEN_BYTES], const unsigned char *key)
{
    static const unsigned char zero[SEEN_BYTES];
    for (size_t i = slot_of(key);; i = (i + 1) % SEEN_SLOTS) {
        if (memcmp(set[i], zero, SEEN_BYTES) == 0)
            return false;
        if (memcmp(set[i], key, SEEN_BYTES) == 0)
            return true;
    }
}

/* Remembers a signature (lowercase hex, checked); false if it was there
 * already. */
static bool remember(struct signer *sg, const char *sig)
{
    static const unsigned char zero[SEEN_BYTES];
    unsigned char key[SEEN_BYTES];
    for (size_t i = 0; i < SEEN_BYTES; i++) {
        int hi = sig[2 * i] <= '9' ? sig[2 * i] - '0' : sig[2 * i] - 'a' + 10;
        int lo = sig[2 * i + 1] <= '9' ? sig[2 * i + 1] - '0' : sig[2 * i + 1] - 'a' + 10;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    if (memcmp(key, zero, SEEN_BYTES) == 0)
        return true;   /* one chance in 2^128: not worth a slot marker */
    if (in_set(sg->seen, key) || in_set(sg->old, key))
        return false;
    if (sg->nseen == SEEN_MAX) {
        /* The sets stay at most half full, so probes stay short. */
        unsigned char (*t)[SEEN_BYTES] = sg->old;
        sg->old = sg->seen;
        memset(t, 0, SEEN_SLOTS * sizeof *t);
        sg->seen = t;
        sg->nseen = 0;
    }
    size_t i = slot_of(key);
    while (memcmp(sg->seen[i], zero, SEEN_BYTES) != 0)
        i = (i + 1) % SEEN_SLOTS;
    memcpy(sg->seen[i], key, SEEN_BYTES);
    sg->nseen++;
    return true;
}

enum signer_verdict signer_check(struct signer *sg, const struct iovec *parts, size_t n,
                                 const char *sig, size_t siglen)
{
    if (!sg->base)
        return SIGNER_OK;
    char want[SIGNER_HEX_MAX];
    if (siglen != sg->hexlen || siglen < 2 * SEEN_BYTES || signer_sign(sg, parts, n, want) < 0)
        return SIGNER_BAD;
    /* Compared in constant time: no byte of the right signature leaks
     * through how long a wrong one takes to be refused. */
    if (CRYPTO_memcmp(want, sig, siglen) != 0)
        return SIGNER_BAD;
    return remember(sg, want) ? SIGNER_OK : SIGNER_REPLAYED;
}
