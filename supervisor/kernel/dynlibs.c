/* libzmq and libcrypto, loaded when a kernel starts, not when aiobox does.
 *
 * Linked the usual way, the two libraries (and what libzmq needs:
 * libstdc++, libsodium, libpgm, libnorm, GSSAPI) cost every start of
 * aiobox 12 to 16 ms on this VM (a program linked to libzmq alone starts
 * 8.5 ms slower than one linked to libc), which the terminal REPL's first
 * prompt, due within 10 ms, cannot pay. So aiobox is not linked to them:
 * this file defines the functions the kernel calls, with the prototypes
 * of zmq.h and OpenSSL's headers, each forwarding to the library's own,
 * found with dlopen and dlsym by dynlibs_load() when a kernel starts. The
 * call sites are plain libzmq and OpenSSL code.
 *
 * These definitions are not exported (aiobox is not linked with
 * --export-dynamic), so the libraries' own calls between their functions
 * never land here. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <zmq.h>

/* X(return type, name, (parameters), (arguments)); V(name, (parameters),
 * (arguments)) for those that return nothing. */
#define ZMQ_FUNCTIONS(X, V) \
    X(void *, zmq_ctx_new, (void), ()) \
    X(int, zmq_ctx_term, (void *context), (context)) \
    X(int, zmq_ctx_shutdown, (void *context), (context)) \
    X(void *, zmq_socket, (void *context, int type), (context, type)) \
    X(int, zmq_close, (void *s), (s)) \
    X(int, zmq_setsockopt, (void *s, int option, const void *value, size_t len), \
      (s, option, value, len)) \
    X(int, zmq_getsockopt, (void *s, int option, void *value, size_t *len), \
      (s, option, value, len)) \
    X(int, zmq_bind, (void *s, const char *addr), (s, addr)) \
    X(const char *, zmq_strerror, (int errnum), (errnum)) \
    X(int, zmq_proxy, (void *frontend, void *backend, void *capture), \
      (frontend, backend, capture)) \
    X(int, zmq_send, (void *s, const void *buf, size_t len, int flags), (s, buf, len, flags)) \
    X(int, zmq_msg_init, (zmq_msg_t *msg), (msg)) \
    X(int, zmq_msg_init_data, \
      (zmq_msg_t *msg, void *data, size_t size, zmq_free_fn *ffn, void *hint), \
      (msg, data, size, ffn, hint)) \
    X(int, zmq_msg_recv, (zmq_msg_t *msg, void *s, int flags), (msg, s, flags)) \
    X(int, zmq_msg_send, (zmq_msg_t *msg, void *s, int flags), (msg, s, flags)) \
    X(int, zmq_msg_close, (zmq_msg_t *msg), (msg)) \
    X(void *, zmq_msg_data, (zmq_msg_t *msg), (msg)) \
    X(size_t, zmq_msg_size, (const zmq_msg_t *msg), (msg)) \
    X(int, zmq_msg_more, (const zmq_msg_t *msg), (msg))

#define CRYPTO_FUNCTIONS(X, V) \
    X(EVP_MD *, EVP_MD_fetch, \
      (OSSL_LIB_CTX *ctx, const char *algorithm, const char *properties), \
      (ctx, algorithm, properties)) \
    X(int, EVP_MD_get_size, (const EVP_MD *md), (md)) \
    V(EVP_MD_free, (EVP_MD *md), (md)) \
    X(EVP_MAC *, EVP_MAC_fetch, \
      (OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties), \
      (libctx, algorithm, properties)) \
    V(EVP_MAC_free, (EVP_MAC *mac), (mac)) \
    X(EVP_MAC_CTX *, EVP_MAC_CTX_new, (EVP_MAC *mac), (mac)) \
    X(EVP_MAC_CTX *, EVP_MAC_CTX_dup, (const EVP_MAC_CTX *src), (src)) \
    V(EVP_MAC_CTX_free, (EVP_MAC_CTX *ctx), (ctx)) \
    X(int, EVP_MAC_init, \
      (EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen, const OSSL_PARAM params[]), \
      (ctx, key, keylen, params)) \
    X(int, EVP_MAC_update, (EVP_MAC_CTX *ctx, const unsigned char *data, size_t datalen), \
      (ctx, data, datalen)) \
    X(int, EVP_MAC_final, \
      (EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize), \
      (ctx, out, outl, outsize)) \
    X(int, CRYPTO_memcmp, (const void *in_a, const void *in_b, size_t len), \
      (in_a, in_b, len)) \
    X(OSSL_PARAM, OSSL_PARAM_construct_utf8_string, \
      (const char *key, char *buf, size_t bsize), (key, buf, bsize)) \
    X(OSSL_PARAM, OSSL_PARAM_construct_end, (void), ())

/* The library's function, once loaded. The type comes from the header's
 * own declaration, so a prototype written wrong above does not compile. */
#define POINTER(ret, name, params, args) static __typeof__(name) *real_##name;
#define POINTER_VOID(name, params, args) POINTER(void, name, params, args)
ZMQ_FUNCTIONS(POINTER, POINTER_VOID)
CRYPTO_FUNCTIONS(POINTER, POINTER_VOID)

#define FORWARD(ret, name, params, args) \
    ret name params \
    { \
        return real_##name args; \
    }
#define FORWARD_VOID(name, params, args) \
    void name params \
    { \
        real_##name args; \
    }
ZMQ_FUNCTIONS(FORWARD, FORWARD_VOID)
CRYPTO_FUNCTIONS(FORWARD, FORWARD_VOID)

static int open_library(const char *soname, void **handle, char *err, size_t errlen)
{
    *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot load %s: %s", soname, why ? why : "unknown error");
        return -ENOENT;
    }
    return 0;
}

static int find(void *handle, const char *soname, const char *name, void **out, char *err,
                size_t errlen)
{
    dlerror();
    *out = dlsym(handle, name);
    if (!*out) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s has no %s: %s", soname, name, why ? why : "unknown error");
        return -ENOENT;
    }
    return 0;
}

int dynlibs_load(char *err, size_t errlen)
{
    static bool loaded;
    void *zmq, *crypto;
    int rc;
    if (loaded)
        return 0;
    /* Never closed: the kernel uses them until the process ends. */
    if ((rc = open_library(KERNEL_LIBZMQ, &zmq, err, errlen)) < 0 ||
        (rc = open_library(KERNEL_LIBCRYPTO, &crypto, err, errlen)) < 0)
        return rc;
#define LOOKUP_ZMQ(ret, name, params, args) \
    if ((rc = find(zmq, KERNEL_LIBZMQ, #name, (void **)&real_##name, err, errlen)) < 0) \
        return rc;
#define LOOKUP_ZMQ_VOID(name, params, args) LOOKUP_ZMQ(void, name, params, args)
#define LOOKUP_CRYPTO(ret, name, params, args) \
    if ((rc = find(crypto, KERNEL_LIBCRYPTO, #name, (void **)&real_##name, err, errlen)) < 0) \
        return rc;
#define LOOKUP_CRYPTO_VOID(name, params, args) LOOKUP_CRYPTO(void, name, params, args)
    ZMQ_FUNCTIONS(LOOKUP_ZMQ, LOOKUP_ZMQ_VOID)
    CRYPTO_FUNCTIONS(LOOKUP_CRYPTO, LOOKUP_CRYPTO_VOID)
    loaded = true;
    return 0;
}
