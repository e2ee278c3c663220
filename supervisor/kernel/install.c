/* aiobox kernel install: the kernelspec, kernels/NAME/kernel.json, where
 * `jupyter kernelspec install` would put it (jupyter_client's
 * _get_destination_dir): the user's Jupyter data directory with --user,
 * PREFIX/share/jupyter with --prefix, else /usr/local/share/jupyter. Its
 * argv is this aiobox, `kernel -f {connection_file}`, and the options
 * given, with every path absolute: Jupyter starts kernels from wherever
 * it runs. */
#define _GNU_SOURCE
#include "kernel_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define EXIT_CANNOT 1
#define EXIT_USAGE 2

/* Kernel names Jupyter accepts (jupyter_client's _is_valid_kernel_name). */
static bool name_ok(const char *name)
{
    if (!*name || strlen(name) > 128)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* mkdir -p, 0755. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int kernels_dir(const struct opts *o, char *out, size_t len)
{
    const char *data = getenv("JUPYTER_DATA_DIR"), *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (o->kernel_prefix) {
        char abs[PATH_MAX];
        if (o->kernel_prefix[0] == '/')
            snprintf(abs, sizeof abs, "%s", o->kernel_prefix);
        else if (!getcwd(abs, sizeof abs) ||
                 strlen(abs) + strlen(o->kernel_prefix) + 2 > sizeof abs)
            return -ENAMETOOLONG;
        else
            strcat(strcat(abs, "/"), o->kernel_prefix);
        n = snprintf(out, len, "%s/share/jupyter/kernels", abs);
    } else if (o->kernel_user && data && *data)
        n = snprintf(out, len, "%s/kernels", data);
    else if (o->kernel_user && xdg && *xdg)
        n = snprintf(out, len, "%s/jupyter/kernels", xdg);
    else if (o->kernel_user) {
        if (!home || !*home)
            return -ENOENT;
        n = snprintf(out, len, "%s/.local/share/jupyter/kernels", home);
    } else
        n = snprintf(out, len, "/usr/local/share/jupyter/kernels");
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int add(json_t *argv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add(json_t *argv, const char *fmt, ...)
{
    char buf[PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -ENAMETOOLONG;
    return json_array_append_new(argv, json_string(buf)) == 0 ? 0 : -ENOMEM;
}

static json_t *kernel_argv(const struct opts *o, const char *policy_path, char *err,
                           size_t errlen)
{
    char self[PATH_MAX], executor[PATH_MAX];
    if (!realpath("/proc/self/exe", self)) {
        snprintf(err, errlen, "cannot tell where this aiobox is: %s", strerror(errno));
        return NULL;
    }
    json_t *argv = json_array();
    int rc = add(argv, "%s", self);
    rc = rc ? rc : add(argv, "kernel");
    rc = rc ? rc : add(argv, "-f");
    rc = rc ? rc : add(argv, "{connection_file}");
    if (!rc && o->npolicies)
        rc = strchr(o->policies[0], '/') ? add(argv, "--policy=%s", policy_path)
                                         : add(argv, "--policy=%s", o->policies[0]);
    if (!rc && o->timeout >= 0)
        rc = add(argv, "--timeout=%g", o->timeout);
    if (!rc && o->output_cap_set)
        rc = add(argv, "--output-cap=%zu", o->output_cap);
    if (!rc && o->grace != 2)
        rc = add(argv, "--grace=%g", o->grace);
    for (size_t i = 0; !rc && i < o->ngrants; i++)
        rc = add(argv, "--allow-%s=%s", o->grants[i].writable ? "write" : "read",
                 o->grants[i].path);
    if (!rc && o->restore_replay)
        rc = add(argv, "--restore=replay");
    if (!rc && o->no_standby)
        rc = add(argv, "--no-standby");
    if (!rc && o->executor) {
        if (!realpath(o->executor, executor)) {
            snprintf(err, errlen, "--executor %s: %s", o->executor, strerror(errno));
            json_decref(argv);
            return NULL;
        }
        rc = add(argv, "--executor=%s", executor);
    }
    if (rc) {
        snprintf(err, errlen, "cannot write the kernel's command line: %s", strerror(-rc));
        json_decref(argv);
        return NULL;
    }
    return argv;
}

int kernel_install(const struct opts *o, const char *policy_path)
{
    const char *name = o->kernel_name ? o->kernel_name : "aiobox";
    char err[PATH_MAX + 128], dir[PATH_MAX], path[PATH_MAX + 32], tmp[PATH_MAX + 48];
    if (!name_ok(name)) {
        fprintf(stderr,
                "aiobox: --name %s: a kernel name is letters, digits, '.', '_' and '-' (at "
                "most 128)\n",
                name);
        return EXIT_USAGE;
    }
    int rc = kernels_dir(o, dir, sizeof dir);
    if (rc < 0) {
        fprintf(stderr, "aiobox: cannot tell where to install: %s\n",
                rc == -ENOENT ? "HOME is not set" : strerror(-rc));
        return EXIT_CANNOT;
    }
    if (strlen(dir) + strlen(name) + 2 > sizeof dir) {
        fprintf(stderr, "aiobox: %s/%s: %s\n", dir, name, strerror(ENAMETOOLONG));
        return EXIT_CANNOT;
    }
    strcat(strcat(dir, "/"), name);
    json_t *argv = kernel_argv(o, policy_path, err, sizeof err);
    if (!argv) {
        fprintf(stderr, "aiobox: %s\n", err);
        return EXIT_CANNOT;
    }
    json_t *spec = json_pack("{s:o, s:s, s:s, s:s, s:{s:b}}", "argv", argv, "display_name",
                             "Python " AIOBOX_PYTHON_VERSION " (aiobox)", "language", "python",
                             "interrupt_mode", "signal", "metadata", "debugger", 0);
    if ((rc = make_dirs(dir)) < 0) {
        fprintf(stderr, "aiobox: cannot make %s: %s\n", dir, strerror(-rc));
        json_decref(spec);
        return EXIT_CANNOT;
    }
    /* Written beside it and renamed over it: a client listing kernels
     * meanwhile sees the old file or the new, never half of one. */
    snprintf(path, sizeof path, "%s/kernel.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.kernel.json.%ld", dir, (long)getpid());
    if (json_dump_file(spec, tmp, JSON_INDENT(1)) < 0 || chmod(tmp, 0644) < 0 ||
        rename(tmp, path) < 0) {
        fprintf(stderr, "aiobox: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        json_decref(spec);
        return EXIT_CANNOT;
    }
    json_decref(spec);
    printf("Installed kernelspec %s in %s\n", name, dir);
    return 0;
}
