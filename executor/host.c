/* CPython is configured field by field rather than from the environment:
 * the executor must behave the same whatever it inherits, must never look
 * at PATH or the current directory, and must not write bytecode. sys.path
 * and the program name are those of the interpreter built with the
 * embedded libpython, as `pythonX.Y -I` sets itself up at build time, less
 * what did not exist (the stdlib zip): meson puts them in config.h. */
#define PY_SSIZE_T_CLEAN
#include "host.h"

#include "channel.h"
#include "config.h"

#include <Python.h>
#include <marshal.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* runtime.py as source (NUL-terminated), and compiled: the magic number
 * of the interpreter that compiled it, then the marshalled code object
 * (empty when the build had no such interpreter). Both by tools/embed.py. */
extern const unsigned char executor_runtime_py[];
extern const size_t executor_runtime_py_len;
extern const unsigned char executor_runtime_code[];
extern const size_t executor_runtime_code_len;

#define RUNTIME_NAME "_aiobox_runtime"
#define RUNTIME_FILE "<aiobox-runtime>"

static const char *const search_path[] = { AIOBOX_PYTHON_SYS_PATH };

static PyObject *runtime;

/* CPython reports a failed allocation with this message and nothing else
 * (_PyStatus_NO_MEMORY). */
#define PYSTATUS_NO_MEMORY "memory allocation failed"

static int status_error(PyStatus st, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s%s%s", what, st.func ? st.func : "",
             st.func ? ": " : "", st.err_msg ? st.err_msg : "failed");
    if (st.err_msg && strcmp(st.err_msg, PYSTATUS_NO_MEMORY) == 0)
        return -ENOMEM;
    return -EINVAL;
}

/* Reports the pending Python error on fd 2 (never on the channel: the
 * supervisor expects `ready` or `error` first) and summarises it in err. */
static int python_error(const char *what, char *err, size_t errlen)
{
    PyObject *type, *value, *tb;
    const char *msg = NULL;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    int rc = type && PyErr_GivenExceptionMatches(type, PyExc_MemoryError) ? -ENOMEM : -EINVAL;
    PyObject *s = value ? PyObject_Str(value) : NULL;
    if (s)
        msg = PyUnicode_AsUTF8(s);
    snprintf(err, errlen, "%s: %s%s%s", what,
             type ? ((PyTypeObject *)type)->tp_name : "error", msg ? ": " : "",
             msg ? msg : "");
    Py_XDECREF(s);
    PyErr_Clear();
    /* The traceback goes to the real fd 2 even if the runtime had already
     * replaced sys.stderr; if that fails, PyErr_Print uses what is there. */
    PyObject *real = PySys_GetObject("__stderr__");
    if (real && PySys_SetObject("stderr", real) < 0)
        PyErr_Clear();
    PyErr_Restore(type, value, tb);
    PyErr_Print();
    return rc;
}

static int configure(PyConfig *c, char *err, size_t errlen)
{
    PyStatus st;

    PyConfig_InitIsolatedConfig(c);
    c->use_environment = 0;
    c->user_site_directory = 0;
    c->safe_path = 1;
    c->site_import = 0;
    c->write_bytecode = 0;
    c->install_signal_handlers = 1;
    c->parse_argv = 0;
    c->pathconfig_warnings = 0;
    /* Unbuffered fd 1 and 2, so sys.__stdout__ writes reach the supervisor's
     * pipes at once, as os.write(1, ...) does. */
    c->buffered_stdio = 0;
    c->module_search_paths_set = 1;
    for (size_t i = 0; i < sizeof search_path / sizeof *search_path; i++) {
        /* Pre-initialised in UTF-8 mode: this decodes UTF-8. */
        size_t bad;
        wchar_t *w = Py_DecodeLocale(search_path[i], &bad);
        if (!w) {
            snprintf(err, errlen, "sys.path: cannot decode %s", search_path[i]);
            return bad == (size_t)-2 ? -EILSEQ : -ENOMEM;
        }
        st = PyWideStringList_Append(&c->module_search_paths, w);
        PyMem_RawFree(w);
        if (PyStatus_Exception(st))
            return status_error(st, "sys.path", err, errlen);
    }
    st = PyWideStringList_Append(&c->argv, L"");
    /* An absolute program name: Python finds its prefix from it and never
     * walks PATH. No `home`: in 3.11 a home together with an explicit
     * sys.path leaves sys._stdlib_dir unset, and frozen stdlib modules
     * then lack __file__ (os.__file__, license(), ...). */
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(c, &c->program_name, AIOBOX_PYTHON);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(c, &c->stdio_encoding, L"utf-8");
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(c, &c->stdio_errors, L"backslashreplace");
    if (PyStatus_Exception(st))
        return status_error(st, "configuring Python", err, errlen);
    return 0;
}

int host_init(char *err, size_t errlen)
{
    PyPreConfig pre;
    PyConfig c;
    PyStatus st;

    /* Started with an empty environment the locale is "C"; UTF-8 mode
     * keeps file names and text in UTF-8 regardless. */
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        return status_error(st, "pre-initialising Python", err, errlen);
    /* Fails only when it cannot grow CPython's table of modules. */
    if (PyImport_AppendInittab("_aiobox", chan_py_init) < 0) {
        snprintf(err, errlen, "cannot register the _aiobox module: out of memory");
        return -ENOMEM;
    }
    int rc = configure(&c, err, errlen);
    if (rc < 0) {
        PyConfig_Clear(&c);
        return rc;
    }
    st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st))
        return status_error(st, "initialising Python", err, errlen);
    return 0;
}

/* The precompiled runtime if this interpreter can load it, else the
 * runtime compiled now. */
static PyObject *runtime_code(void)
{
    long magic = PyImport_GetMagicNumber();
    const unsigned char *c = executor_runtime_code;

    if (executor_runtime_code_len > 4 && magic != -1 && c[0] == (magic & 0xff) &&
        c[1] == ((magic >> 8) & 0xff) && c[2] == ((magic >> 16) & 0xff) &&
        c[3] == ((magic >> 24) & 0xff)) {
        PyObject *code = PyMarshal_ReadObjectFromString((const char *)c + 4,
                                                        (Py_ssize_t)executor_runtime_code_len - 4);
        if (code && PyCode_Check(code))
            return code;
        Py_XDECREF(code);
        PyErr_Clear();
    }
    return Py_CompileString((const char *)executor_runtime_py, RUNTIME_FILE, Py_file_input);
}

static PyObject *runtime_module;

static int load_runtime(char *err, size_t errlen)
{
    if (runtime_module)
        return 0;
    PyObject *code = runtime_code();
    if (!code)
        return python_error("compiling the runtime", err, errlen);
    runtime_module = PyImport_ExecCodeModuleEx(RUNTIME_NAME, code, RUNTIME_FILE);
    Py_DECREF(code);
    if (!runtime_module)
        return python_error("loading the runtime", err, errlen);
    return 0;
}

static int start_runtime(const struct host_config *cfg, char *err, size_t errlen)
{
    runtime = PyObject_CallMethod(runtime_module, "prepare", "nzi", (Py_ssize_t)cfg->output_cap,
                                  cfg->policy_name, (int)cfg->permission_hint);
    if (!runtime)
        return python_error("starting the runtime", err, errlen);
    return 0;
}

/* The runtime's imports (asyncio and what it pulls in) allocate hundreds
 * of thousands of objects that all live for the whole session:
 * collections in the middle of that find nothing to free. With the
 * collector merely paused they would all still be young, and the first
 * collection, at the first statement, would walk them all (3 ms here).
 * gc.freeze() then gc.unfreeze() moves them straight to the oldest
 * generation, where CPython's own collections would have put them,
 * without a traversal; gc.get_objects() still lists them, as it does in
 * CPython's REPL. User code runs with the collector on. (Before a fork
 * this also keeps the collector from touching, and so copying, the pages
 * the children share.) */
static int quietly(int (*step)(const struct host_config *, char *, size_t),
                   const struct host_config *cfg, char *err, size_t errlen)
{
    PyGC_Disable();
    int rc = step(cfg, err, errlen);
    if (rc == 0) {
        PyObject *gc = PyImport_ImportModule("gc");
        PyObject *frozen = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
        PyObject *r = frozen ? PyObject_CallMethod(gc, "unfreeze", NULL) : NULL;
        Py_XDECREF(frozen);
        Py_XDECREF(gc);
        if (!r)
            rc = python_error("promoting the runtime's objects", err, errlen);
        Py_XDECREF(r);
    }
    PyGC_Enable();
    return rc;
}

static int preload_step(const struct host_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    return load_runtime(err, errlen);
}

static int prepare_step(const struct host_config *cfg, char *err, size_t errlen)
{
    int rc = load_runtime(err, errlen);
    return rc < 0 ? rc : start_runtime(cfg, err, errlen);
}

int host_preload(char *err, size_t errlen)
{
    return quietly(preload_step, NULL, err, errlen);
}

int host_prepare(const struct host_config *cfg, char *err, size_t errlen)
{
    return quietly(prepare_step, cfg, err, errlen);
}

int host_serve(void)
{
    char err[512];
    PyObject *r = PyObject_CallMethod(runtime, "serve", NULL);

    if (r) {
        /* The session ended: the interpreter finishes as CPython's does at
         * exit (threads joined, atexit handlers, modules torn down), and
         * what it prints meanwhile still reaches the supervisor. */
        long status = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
        Py_DECREF(r);
        if (status == -1 && PyErr_Occurred())
            PyErr_Clear();
        /* What the runtime keeps alive through the finalisation (the
         * user's namespace after SystemExit, as CPython's blocked console
         * thread does): this reference is never released. */
        PyObject *kept = PyObject_GetAttrString(runtime, "kept_alive");
        if (!kept)
            PyErr_Clear();
        Py_CLEAR(runtime);
        /* 120: CPython's status when its final flush fails. */
        if (Py_FinalizeEx() < 0)
            return 120;
        return (int)(status & 0xff);
    }
    python_error("serving", err, sizeof err);
    chan_fail(EXEC_EXIT_RUNTIME, "%s", err);
}

void host_before_fork(void)
{
    PyOS_BeforeFork();
}

void host_after_fork_child(void)
{
    PyOS_AfterFork_Child();
}
