/* A stand-in for the executor's start sequence, to test policies against
 * real CPython: initialise it as the executor does (isolated, no site,
 * explicit sys.path), create the asyncio loop, apply the policy, then run
 * one program. Exit status: 0 when the program ran without an exception,
 * 1 when it raised, 2 when the sandbox could not be applied.
 *
 *   sandbox-pyprobe [--policy FILE] [--allow-read P] [--allow-write P]
 *                   [--channel-fd N] CODE
 *
 * The program may use `loop` (the event loop) and `run(coro)`. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "sandbox.h"

/* The executor disables leak checking in its own binary too: LeakSanitizer
 * needs ptrace at exit, which the filter forbids. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static int init_python(void)
{
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.install_signal_handlers = 1;
    /* The executor's program name and sys.path, from the build. */
    static const char *const paths[] = { AIOBOX_PYTHON_SYS_PATH };
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, AIOBOX_PYTHON);
    config.module_search_paths_set = 1;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !PyStatus_Exception(st); i++) {
        wchar_t *w = Py_DecodeLocale(paths[i], NULL);
        if (!w) {
            fprintf(stderr, "pyprobe: cannot decode %s\n", paths[i]);
            PyConfig_Clear(&config);
            return -1;
        }
        st = PyWideStringList_Append(&config.module_search_paths, w);
        PyMem_RawFree(w);
    }
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "pyprobe: python init: %s\n", st.err_msg ? st.err_msg : "?");
        return -1;
    }
    return PyRun_SimpleString(
        "import asyncio, sys\n"
        "loop = asyncio.new_event_loop()\n"
        "asyncio.set_event_loop(loop)\n"
        "def run(coro):\n"
        "    return loop.run_until_complete(coro)\n");
}

int main(int argc, char **argv)
{
    const char *policy_file = NULL, *code = NULL;
    struct policy_grant grants[POLICY_GRANTS_MAX];
    size_t ngrants = 0;
    int chan = -1;
    for (int i = 1; i < argc; i++) {
        bool grant = strcmp(argv[i], "--allow-read") == 0 || strcmp(argv[i], "--allow-write") == 0;
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            policy_file = argv[++i];
        else if (grant && i + 1 < argc && ngrants < POLICY_GRANTS_MAX) {
            grants[ngrants].writable = strcmp(argv[i], "--allow-write") == 0;
            grants[ngrants++].path = argv[++i];
        }
        else if (strcmp(argv[i], "--channel-fd") == 0 && i + 1 < argc)
            chan = atoi(argv[++i]);
        else if (!code)
            code = argv[i];
        else {
            fprintf(stderr, "pyprobe: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!code) {
        fprintf(stderr, "usage: sandbox-pyprobe [--policy FILE] [--allow-read P] [--allow-write P] [--channel-fd N] CODE\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    mallopt(M_ARENA_MAX, 1);
    char err[1024];
    struct policy *p = NULL;
    if (policy_file) {
        if (policy_load(policy_file, grants, ngrants, &p, err, sizeof err) < 0) {
            fprintf(stderr, "pyprobe: %s\n", err);
            return 2;
        }
    }
    if (init_python() != 0)
        return 2;
    if (p) {
        if (sandbox_arm_sigsys(chan) < 0) {
            fprintf(stderr, "pyprobe: cannot install the SIGSYS handler\n");
            return 2;
        }
        char desc[512];
        sandbox_set_fork_hooks(PyOS_BeforeFork, PyOS_AfterFork_Child);
        if (sandbox_apply(p, desc, sizeof desc, err, sizeof err) < 0) {
            fprintf(stderr, "pyprobe: sandbox: %s\n", err);
            return 2;
        }
        fprintf(stderr, "pyprobe: sandbox: %s\n", desc);
        policy_free(p);
    }
    int rc = PyRun_SimpleString(code);
    fflush(stdout);
    PyRun_SimpleString("import sys; sys.stdout.flush(); sys.stderr.flush()");
    /* Skip finalisation: it is not what is under test, and threads the
     * program left running would hold it up. */
    _exit(rc == 0 ? 0 : 1);
}
