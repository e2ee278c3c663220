/* Where the executor and the policies are: next to the supervisor in the
 * build tree, under libexecdir and datadir once installed. */
#ifndef AIOBOX_PATHS_H
#define AIOBOX_PATHS_H

#include <limits.h>
#include <stddef.h>

struct paths {
    char executor[PATH_MAX];
    char policy_dir[PATH_MAX];
};

int paths_init(struct paths *p, char *err, size_t errlen);
/* NAME (no '/') is looked up in the policy directory; anything else is a
 * file. out gets an absolute path. */
int paths_policy(const struct paths *p, const char *name_or_file, char *out, size_t outlen,
                 char *err, size_t errlen);

#endif
