/* AIOBOX_HOST_LACKS: the layers this host is declared to lack, and the
 * layer a sandbox start error names. */
#define _GNU_SOURCE
#include "hostlacks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const layers[] = {
    "landlock", "landlock-tcp", "landlock-scope", "seccomp", "ia32", "root", "userns",
};

static bool known(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
        if (strlen(layers[i]) == len && strncmp(layers[i], word, len) == 0)
            return true;
    return false;
}

bool hostlacks_declared(const char *layer)
{
    const char *v = getenv("AIOBOX_HOST_LACKS");
    bool found = false;

    for (const char *w = v ? v : ""; *w; ) {
        size_t len = strcspn(w, ",");
        if (len > 0 && !known(w, len)) {
            fprintf(stderr, "AIOBOX_HOST_LACKS: unknown layer '%.*s' (landlock, landlock-tcp, "
                    "landlock-scope, seccomp, ia32, root, userns)\n", (int)len, w);
            fflush(NULL);
            _exit(2);
        }
        if (strlen(layer) == len && strncmp(layer, w, len) == 0)
            found = true;
        w += len + (w[len] == ',');
    }
    return found;
}

const char *hostlacks_layer_of(const char *error)
{
    int have, need;
    const char *at;

    if (strstr(error, "landlock: not available"))
        return "landlock";
    at = strstr(error, "landlock: the kernel offers ABI ");
    if (at && sscanf(at, "landlock: the kernel offers ABI %d, policy %*s needs ABI %d",
                     &have, &need) == 2) {
        if (have < 4 && need >= 4)
            return "landlock-tcp";
        if (have < 6 && need >= 6)
            return "landlock-scope";
        return NULL;
    }
    if (strstr(error, "seccomp: the kernel refused the filter"))
        return "seccomp";
    /* A mount namespace is made inside the user namespace: a host that
     * refuses it there lacks what unprivileged namespaces need. */
    if (strstr(error, "namespaces: user: cannot be created") ||
        strstr(error, "namespaces: mount: cannot be created"))
        return "userns";
    return NULL;
}
