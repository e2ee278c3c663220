/* Inside the sandbox module: one function per layer, each appending what
 * it applied to a description. */
#ifndef AIOBOX_SANDBOX_PRIV_H
#define AIOBOX_SANDBOX_PRIV_H

#include "sandbox.h"

/* A growing one-line description. */
struct sandbox_desc {
    char *buf;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
void sandbox_desc_add(struct sandbox_desc *d, const char *fmt, ...);

/* Each layer: 0, or a negative errno with err naming the layer and why. */
int sandbox_drop_root(struct sandbox_desc *d, char *err, size_t errlen);
int sandbox_namespaces(const struct policy *p, struct sandbox_desc *d,
                       char *err, size_t errlen);
int sandbox_rlimits(const struct policy *p, struct sandbox_desc *d,
                    char *err, size_t errlen);
int sandbox_landlock(const struct policy *p, struct sandbox_desc *d,
                     char *err, size_t errlen);

#endif
