/* Frame I/O for the runtime. Reading is non-blocking and driven by the
 * event loop (loop.add_reader on the channel), except inside input(),
 * which blocks the whole interpreter as input() blocks the loop in
 * CPython's asyncio REPL. Nothing read from the channel is trusted: the
 * reader bounds and validates every frame, and anything unexpected ends
 * the process with status EXEC_EXIT_PROTOCOL. */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include "channel.h"

#include "interrupt.h"
#include "proto.h"
#include "sandbox.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Output text per frame, well under the supervisor's frame cap. */
#define OUTPUT_CHUNK ((size_t)64 << 10)
#define DISPLAY_MAX 1000
#define PROMPT_MAX ((size_t)64 << 10)
/* sys.ps1/sys.ps2: the runtime sends at most 256 characters of each. */
#define PS_MAX (256 * 4)
#define MATCH_MAX 4096
#define MATCHES_BYTES_MAX ((size_t)512 << 10)
#define ERROR_MAX 1000
/* Bytes one recv() call takes before letting the loop run again. */
#define RECV_BUDGET ((size_t)1 << 20)

/* A traceback or an error message in a result: more is no use to anyone. */
#define TRACEBACK_MAX ((size_t)64 << 10)
/* A display's data: what the supervisor accepts, less room for the rest. */
#define DISPLAY_DATA_MAX (PROTO_FRAME_MAX_EXECUTOR - ((size_t)64 << 10))

static struct {
    int fd;
    struct proto_reader reader;
    struct proto_buf out;
    bool hello_seen;
    uint64_t features;
    bool shutdown_wanted;        /* came inside input(): recv() reports it */
} chan = {.fd = -1};

/* An input() wait: which reply it wants and, once done, the line. */
struct reply_wait {
    uint64_t id;
    bool done;
    bool shutdown;   /* ended by a shutdown, not a reply */
    PyObject *line;  /* str, or None at EOF */
};

int chan_init(int fd, char *err, size_t errlen)
{
    struct stat st;
    int type = 0;
    socklen_t len = sizeof type;

    if (fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "--fd %d: %s", fd, strerror(e));
        return -e;
    }
    if (!S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        snprintf(err, errlen, "--fd %d: not a stream socket", fd);
        return -ENOTSOCK;
    }
    /* Whatever user code starts must not inherit the channel. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        snprintf(err, errlen, "--fd %d: %s", fd, strerror(e));
        return -e;
    }
    chan.fd = fd;
    proto_reader_init(&chan.reader, PROTO_FRAME_MAX_EXEC);
    return 0;
}

/* --- writing ------------------------------------------------------------ */

/* The supervisor closing its end is the normal way to stop an executor. */
__attribute__((noreturn)) static void channel_gone(void)
{
    _exit(EXEC_EXIT_CLOSED);
}

/* Returns 0 or a negative errno. */
static int write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(chan.fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w == 0)
            return -EPIPE;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* User code may have made the socket non-blocking. */
            struct pollfd pfd = {.fd = chan.fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        return -errno;
    }
    return 0;
}

static void send_msg(const struct proto_msg *m)
{
    chan.out.len = 0;
    int rc = proto_encode(m, &chan.out);
    if (rc)
        chan_fail(EXEC_EXIT_RUNTIME, "cannot encode a '%s' message: %s",
                  proto_type_name(m->type), strerror(-rc));
    rc = write_all(chan.out.data, chan.out.len);
    if (rc == -EPIPE || rc == -ECONNRESET)
        channel_gone();
    if (rc < 0)
        chan_fail(EXEC_EXIT_PROTOCOL, "writing to the channel: %s", strerror(-rc));
}

/* Longest prefix of s[0..len) no longer than max that ends on a character
 * boundary (s is valid UTF-8). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    return utf8_complete_prefix(s, max);
}

void chan_fail(int status, const char *fmt, ...)
{
    char msg[ERROR_MAX + 1];
    char clean[3 * ERROR_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = utf8_sanitize(msg, strlen(msg), clean);
    clean[n] = '\0';
    /* Both reports are best effort: the process ends either way, and the
     * supervisor sees the exit status even if neither arrives. */
    (void)dprintf(STDERR_FILENO, "aiobox-executor: %s\n", clean);
    if (chan.fd >= 0) {
        struct proto_msg m = {.type = PROTO_ERROR};
        struct proto_buf buf = {0};
        m.u.error.message = proto_str_n(clean, n);
        if (proto_encode(&m, &buf) == PROTO_OK)
            (void)write_all(buf.data, buf.len);
        proto_buf_free(&buf);
    }
    _exit(status);
}

void chan_send_ready(const char *sandbox)
{
    const char *v = Py_GetVersion();
    struct proto_msg m = {.type = PROTO_READY};

    m.u.ready.version = PROTO_VERSION;
    m.u.ready.python = proto_str_n(v, strcspn(v, " "));
    m.u.ready.pid = sandbox_outer_pid();
    m.u.ready.sandbox = proto_str_c(sandbox);
    send_msg(&m);
}

/* --- reading ------------------------------------------------------------ */

/* Reads what the socket has. Returns the byte count, 0 when nothing is
 * waiting; never returns at EOF. */
static size_t read_some(void)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(chan.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            if (proto_reader_feed(&chan.reader, buf, (size_t)n) != PROTO_OK)
                chan_fail(EXEC_EXIT_PROTOCOL, "bad frame: %s", chan.reader.err);
            return (size_t)n;
        }
        if (n == 0)
            channel_gone();
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ECONNRESET)
            channel_gone();
        chan_fail(EXEC_EXIT_PROTOCOL, "reading the channel: %s", strerror(errno));
    }
}

static PyObject *text_of(struct proto_str s)
{
    return PyUnicode_DecodeUTF8(s.ptr, (Py_ssize_t)s.len, "strict");
}

/* Functions below that hand a Python error back to the interpreter follow
 * the C API's convention instead of errno's: -1 (or NULL) with the Python
 * exception set, which the module functions return to Python as is. */

/* Appends (kind, id, text, a, b, c) to list: what the runtime takes from
 * recv(). */
static int append_request(PyObject *list, const char *kind, uint64_t id,
                          struct proto_str text, unsigned long long a, unsigned long long b,
                          unsigned long long c)
{
    PyObject *t = text_of(text);
    if (!t)
        return -1;
    PyObject *item = Py_BuildValue("(sKNKKK)", kind, (unsigned long long)id, t, a, b, c);
    if (!item)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static void send_no_completions(uint64_t id, uint64_t cursor)
{
    struct proto_msg m = {.type = PROTO_COMPLETIONS};
    m.u.completions.id = id;
    m.u.completions.start = m.u.completions.end = cursor;
    send_msg(&m);
}

static void send_no_inspection(uint64_t id)
{
    struct proto_msg m = {.type = PROTO_INSPECTION};
    m.u.inspection.id = id;
    send_msg(&m);
}

/* Handles one message. Requests go to list outside input(); inside it, wait
 * collects the awaited reply. Returns 0, or -1 with a Python error set. */
static int dispatch(const struct proto_msg *m, PyObject *list, struct reply_wait *wait)
{
    if (!chan.hello_seen) {
        if (m->type != PROTO_HELLO)
            chan_fail(EXEC_EXIT_PROTOCOL, "expected 'hello' first, got '%s'",
                      proto_type_name(m->type));
        chan.hello_seen = true;
        chan.features = m->u.hello.features;
        return 0;
    }
    switch (m->type) {
    case PROTO_EXEC:
        /* Sent before the supervisor saw the input request, so never
         * started: the protocol drops it, and the supervisor sends again
         * whatever should still run once it has answered. */
        if (wait)
            return 0;
        return append_request(list, proto_mode_name(m->u.exec.mode), m->u.exec.id,
                              m->u.exec.source, m->u.exec.output_cap, m->u.exec.rich,
                              m->u.exec.silent);
    case PROTO_COMPLETE:
        /* Completing would run user code in the middle of input(). */
        if (wait) {
            send_no_completions(m->u.complete.id, m->u.complete.cursor);
            return 0;
        }
        return append_request(list, "complete", m->u.complete.id, m->u.complete.code,
                              m->u.complete.cursor, 0, 0);
    case PROTO_INSPECT:
        if (wait) {
            send_no_inspection(m->u.inspect.id);
            return 0;
        }
        return append_request(list, "inspect", m->u.inspect.id, m->u.inspect.code,
                              m->u.inspect.cursor, m->u.inspect.detail, 0);
    case PROTO_CANCEL:
        /* Inside input() the statements sent ahead are dropped anyway. */
        if (wait)
            return 0;
        return append_request(list, "cancel", m->u.cancel.id, proto_str_c(""), 0, 0, 0);
    case PROTO_SHUTDOWN:
        /* Inside input() the answer is end of file, then the runtime
         * finishes; outside, it finishes from the loop. */
        if (wait && !wait->done) {
            Py_INCREF(Py_None);
            wait->line = Py_None;
            wait->done = true;
            wait->shutdown = true;
        }
        if (list)
            return append_request(list, "shutdown", 0, proto_str_c(""), 0, 0, 0);
        chan.shutdown_wanted = true;
        return 0;
    case PROTO_INPUT_REPLY:
        /* A reply nobody waits for is stale (the statement was interrupted). */
        if (wait && !wait->done && m->u.input_reply.id == wait->id) {
            if (m->u.input_reply.eof) {
                Py_INCREF(Py_None);
                wait->line = Py_None;
            } else if (!(wait->line = text_of(m->u.input_reply.text))) {
                return -1;
            }
            wait->done = true;
        }
        return 0;
    case PROTO_ERROR:
        /* The supervisor is about to close the channel; EOF ends us. */
        return 0;
    default:
        chan_fail(EXEC_EXIT_PROTOCOL, "unexpected '%s' message from the supervisor",
                  proto_type_name(m->type));
    }
}

/* Dispatches every whole frame buffered, stopping early once the awaited
 * reply is in. Returns 0, or -1 with a Python error set. */
static int drain_frames(PyObject *list, struct reply_wait *wait)
{
    while (!wait || !wait->done) {
        struct proto_msg m;
        int rc = proto_reader_take(&chan.reader, &m);
        if (rc == PROTO_E_AGAIN)
            return 0;
        if (rc < 0)
            chan_fail(EXEC_EXIT_PROTOCOL, "bad frame: %s", chan.reader.err);
        rc = dispatch(&m, list, wait);
        proto_msg_release(&m);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* --- the _aiobox module -------------------------------------------------- */

static PyObject *mod_recv(PyObject *self, PyObject *noargs)
{
    PyObject *list = PyList_New(0);
    size_t total = 0, n;

    if (!list)
        return NULL;
    if (chan.shutdown_wanted) {
        chan.shutdown_wanted = false;
        if (append_request(list, "shutdown", 0, proto_str_c(""), 0, 0, 0) < 0)
            goto fail;
    }
    if (drain_frames(list, NULL) < 0)
        goto fail;
    while (total < RECV_BUDGET && (n = read_some()) > 0) {
        total += n;
        if (drain_frames(list, NULL) < 0)
            goto fail;
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

/* str -> UTF-8 bytes that cannot fail on lone surrogates. */
static PyObject *utf8_of(PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.80s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    return PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
}

static bool parse_id(PyObject *o, bool *has, uint64_t *id)
{
    if (o == Py_None) {
        *has = false;
        *id = 0;
        return true;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return false;
    *has = true;
    *id = v;
    return true;
}

static PyObject *mod_send_output(PyObject *self, PyObject *args)
{
    int stream;
    PyObject *ido, *origin = Py_None;
    Py_buffer data;
    struct proto_msg m = {.type = PROTO_OUTPUT};

    if (!PyArg_ParseTuple(args, "iOy*|O:send_output", &stream, &ido, &data, &origin))
        return NULL;
    if ((stream != PROTO_STDOUT && stream != PROTO_STDERR) ||
        !parse_id(ido, &m.u.output.has_id, &m.u.output.id) ||
        !parse_id(origin, &m.u.output.has_origin, &m.u.output.origin)) {
        PyBuffer_Release(&data);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "bad stream");
        return NULL;
    }
    m.u.output.stream = (enum proto_stream)stream;

    const char *p = data.buf;
    size_t left = (size_t)data.len;
    char *clean = NULL;
    if (!utf8_valid(p, left, NULL)) {
        if (!(clean = PyMem_Malloc(3 * left + 1))) {
            PyBuffer_Release(&data);
            return PyErr_NoMemory();
        }
        left = utf8_sanitize(p, left, clean);
        p = clean;
    }
    while (left > 0) {
        size_t n = utf8_cut(p, left, OUTPUT_CHUNK);
        m.u.output.text = proto_str_n(p, n);
        send_msg(&m);
        p += n;
        left -= n;
    }
    PyMem_Free(clean);
    PyBuffer_Release(&data);
    Py_RETURN_NONE;
}

static struct proto_str capped_text(PyObject *b, size_t max)
{
    const char *s = PyBytes_AS_STRING(b);
    return proto_str_n(s, utf8_cut(s, (size_t)PyBytes_GET_SIZE(b), max));
}

/* Text fields given as str: each encoded, kept alive in keep, and cut to
 * max bytes on a character boundary. */
static bool text_arg(PyObject *keep, PyObject *o, size_t max, struct proto_str *out)
{
    if (!o || o == Py_None) {
        *out = proto_str_c("");
        return true;
    }
    PyObject *b = utf8_of(o);
    if (!b)
        return false;
    int rc = PyList_Append(keep, b);
    Py_DECREF(b);
    if (rc < 0)
        return false;
    *out = capped_text(b, max);
    return true;
}

static bool uint_arg(PyObject *o, uint64_t *out)
{
    if (!o || o == Py_None) {
        *out = 0;
        return true;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return false;
    *out = v;
    return true;
}

/* send_result(id, status, display, exit_code, ps1, ps2, extra): extra is a
 * dict of the optional fields (value, error_type, error_message,
 * traceback, compile_error, denied, cpu_us, max_rss_kb). */
static PyObject *mod_send_result(PyObject *self, PyObject *args)
{
    unsigned long long id;
    int status;
    PyObject *display, *ps1, *ps2, *extra;
    long long code;
    struct proto_msg m = {.type = PROTO_RESULT};
    struct proto_result *r = &m.u.result;

    if (!PyArg_ParseTuple(args, "KiULUUO!:send_result", &id, &status, &display, &code, &ps1,
                          &ps2, &PyDict_Type, &extra))
        return NULL;
    if (status < PROTO_STATUS_OK || status > PROTO_STATUS_EXIT) {
        PyErr_SetString(PyExc_ValueError, "bad status");
        return NULL;
    }
    PyObject *keep = PyList_New(0);
    if (!keep)
        return NULL;
    PyObject *ce = PyDict_GetItemString(extra, "compile_error");
    r->id = id;
    r->status = (enum proto_status)status;
    r->exit_code = code;
    r->compile_error = ce && PyObject_IsTrue(ce) == 1;
    if (text_arg(keep, display, DISPLAY_MAX, &r->display) &&
        text_arg(keep, ps1, PS_MAX, &r->ps1) && text_arg(keep, ps2, PS_MAX, &r->ps2) &&
        text_arg(keep, PyDict_GetItemString(extra, "value"), DISPLAY_DATA_MAX, &r->value) &&
        text_arg(keep, PyDict_GetItemString(extra, "error_type"), ERROR_MAX, &r->error_type) &&
        text_arg(keep, PyDict_GetItemString(extra, "error_message"), TRACEBACK_MAX,
                 &r->error_message) &&
        text_arg(keep, PyDict_GetItemString(extra, "traceback"), TRACEBACK_MAX,
                 &r->traceback) &&
        text_arg(keep, PyDict_GetItemString(extra, "denied"), ERROR_MAX, &r->denied) &&
        uint_arg(PyDict_GetItemString(extra, "cpu_us"), &r->cpu_us) &&
        uint_arg(PyDict_GetItemString(extra, "max_rss_kb"), &r->max_rss_kb))
        send_msg(&m);
    Py_DECREF(keep);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_send_started(PyObject *self, PyObject *args)
{
    unsigned long long id;
    struct proto_msg m = {.type = PROTO_STARTED};
    if (!PyArg_ParseTuple(args, "K:send_started", &id))
        return NULL;
    m.u.started.id = id;
    send_msg(&m);
    Py_RETURN_NONE;
}

/* send_display(id or None, data_json, metadata_json, display_id, update
 * [, origin or None]) */
static PyObject *mod_send_display(PyObject *self, PyObject *args)
{
    PyObject *ido, *data, *meta, *did, *origin = Py_None;
    int update;
    struct proto_msg m = {.type = PROTO_DISPLAY};
    struct proto_display *d = &m.u.display;
    if (!PyArg_ParseTuple(args, "OUUUp|O:send_display", &ido, &data, &meta, &did, &update,
                          &origin) ||
        !parse_id(ido, &d->has_id, &d->id) || !parse_id(origin, &d->has_origin, &d->origin))
        return NULL;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return NULL;
    d->update = update;
    bool ok = text_arg(keep, data, SIZE_MAX, &d->data) &&
              text_arg(keep, meta, DISPLAY_DATA_MAX, &d->metadata) &&
              text_arg(keep, did, ERROR_MAX, &d->display_id);
    if (ok && d->data.len + d->metadata.len > DISPLAY_DATA_MAX) {
        Py_DECREF(keep);
        PyErr_Format(PyExc_ValueError, "display data of %zu bytes is over the limit of %zu",
                     d->data.len + d->metadata.len, (size_t)DISPLAY_DATA_MAX);
        return NULL;
    }
    if (ok)
        send_msg(&m);
    Py_DECREF(keep);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_send_clear_output(PyObject *self, PyObject *args)
{
    PyObject *ido, *origin = Py_None;
    int wait;
    struct proto_msg m = {.type = PROTO_CLEAR_OUTPUT};
    if (!PyArg_ParseTuple(args, "Op|O:send_clear_output", &ido, &wait, &origin) ||
        !parse_id(ido, &m.u.clear_output.has_id, &m.u.clear_output.id) ||
        !parse_id(origin, &m.u.clear_output.has_origin, &m.u.clear_output.origin))
        return NULL;
    m.u.clear_output.wait = wait;
    send_msg(&m);
    Py_RETURN_NONE;
}

static PyObject *mod_send_inspection(PyObject *self, PyObject *args)
{
    unsigned long long id;
    int found;
    PyObject *data;
    struct proto_msg m = {.type = PROTO_INSPECTION};
    if (!PyArg_ParseTuple(args, "KpU:send_inspection", &id, &found, &data))
        return NULL;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return NULL;
    m.u.inspection.id = id;
    m.u.inspection.found = found;
    if (text_arg(keep, data, DISPLAY_DATA_MAX, &m.u.inspection.data))
        send_msg(&m);
    Py_DECREF(keep);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_send_page(PyObject *self, PyObject *args)
{
    PyObject *ido, *text;
    struct proto_msg m = {.type = PROTO_PAGE};
    if (!PyArg_ParseTuple(args, "OU:send_page", &ido, &text) ||
        !parse_id(ido, &m.u.page.has_id, &m.u.page.id))
        return NULL;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return NULL;
    if (text_arg(keep, text, DISPLAY_DATA_MAX, &m.u.page.text))
        send_msg(&m);
    Py_DECREF(keep);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* exit(status): the runtime has flushed what it had; the process ends
 * now, with no finalisation (user code must not run any more). */
static PyObject *mod_exit(PyObject *self, PyObject *args)
{
    int status;
    if (!PyArg_ParseTuple(args, "i:exit", &status))
        return NULL;
    _exit(status);
}

static PyObject *mod_features(PyObject *self, PyObject *noargs)
{
    return PyLong_FromUnsignedLongLong(chan.features);
}

/* (CPU microseconds, peak resident KiB) of the whole process so far. */
static PyObject *mod_rusage(PyObject *self, PyObject *noargs)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    unsigned long long cpu = (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
                                 1000000ULL +
                             (unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return Py_BuildValue("(KK)", cpu, (unsigned long long)ru.ru_maxrss);
}

static PyObject *mod_send_completions(PyObject *self, PyObject *args)
{
    unsigned long long id, start, end;
    PyObject *seq, *fast = NULL, *keep = NULL;
    struct proto_str *v = NULL;
    struct proto_msg m = {.type = PROTO_COMPLETIONS};
    PyObject *ret = NULL;

    if (!PyArg_ParseTuple(args, "KOKK:send_completions", &id, &seq, &start, &end))
        return NULL;
    if (!(fast = PySequence_Fast(seq, "matches must be a sequence")))
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (!(keep = PyList_New(0)) || !(v = PyMem_Calloc((size_t)n + 1, sizeof *v)))
        goto out;
    size_t count = 0, bytes = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = utf8_of(PySequence_Fast_GET_ITEM(fast, i));
        if (!b)
            goto out;
        size_t len = (size_t)PyBytes_GET_SIZE(b);
        int rc = PyList_Append(keep, b);
        Py_DECREF(b);
        if (rc < 0)
            goto out;
        /* A match that long is no use on a command line. */
        if (len > MATCH_MAX)
            continue;
        if (bytes + len > MATCHES_BYTES_MAX)
            break;
        bytes += len;
        v[count++] = proto_str_n(PyBytes_AS_STRING(b), len);
    }
    m.u.completions.id = id;
    m.u.completions.start = start;
    m.u.completions.end = end;
    m.u.completions.count = count;
    m.u.completions.matches = v;
    send_msg(&m);
    ret = Py_None;
    Py_INCREF(ret);
out:
    PyMem_Free(v);
    Py_XDECREF(keep);
    Py_XDECREF(fast);
    if (!ret && !PyErr_Occurred())
        PyErr_NoMemory();
    return ret;
}

static PyObject *mod_send_interrupt_ack(PyObject *self, PyObject *args)
{
    unsigned long long id;
    struct proto_msg m = {.type = PROTO_INTERRUPT_ACK};

    if (!PyArg_ParseTuple(args, "K:send_interrupt_ack", &id))
        return NULL;
    m.u.interrupt_ack.id = id;
    send_msg(&m);
    Py_RETURN_NONE;
}

/* input(): sends the request, then blocks for the reply. Statements that
 * arrive meanwhile are dropped (see dispatch), completions are answered
 * empty at once. SIGINT runs Python's handlers here, so the
 * runtime can raise KeyboardInterrupt out of the wait. */
static PyObject *mod_input(PyObject *self, PyObject *args)
{
    unsigned long long id;
    PyObject *prompt;
    int kind = PROTO_INPUT_LINE;
    struct proto_msg m = {.type = PROTO_INPUT};
    struct reply_wait wait = {0};

    if (!PyArg_ParseTuple(args, "KU|i:input", &id, &prompt, &kind))
        return NULL;
    if (kind < PROTO_INPUT_LINE || kind > PROTO_INPUT_STDIN) {
        PyErr_SetString(PyExc_ValueError, "bad input kind");
        return NULL;
    }
    m.u.input.kind = (enum proto_input_kind)kind;
    PyObject *b = utf8_of(prompt);
    if (!b)
        return NULL;
    const char *s = PyBytes_AS_STRING(b);
    m.u.input.id = id;
    m.u.input.prompt = proto_str_n(s, utf8_cut(s, (size_t)PyBytes_GET_SIZE(b), PROMPT_MAX));
    send_msg(&m);
    Py_DECREF(b);

    wait.id = id;
    for (;;) {
        if (drain_frames(NULL, &wait) < 0)
            return NULL;
        if (wait.done)
            return wait.line;
        struct pollfd pfd[2] = {
            {.fd = chan.fd, .events = POLLIN},
            {.fd = exec_interrupt_wake_fd(), .events = POLLIN},
        };
        int r = poll(pfd, 2, -1);
        if (r < 0 && errno != EINTR)
            chan_fail(EXEC_EXIT_RUNTIME, "waiting for input: %s", strerror(errno));
        if (r < 0 || (pfd[1].revents & POLLIN)) {
            exec_interrupt_drain();
            if (PyErr_CheckSignals() < 0)
                return NULL;
            continue;
        }
        if (pfd[0].revents)
            (void)read_some();
    }
}

static PyObject *mod_set_interrupt_target(PyObject *self, PyObject *arg)
{
    long tag = PyLong_AsLong(arg);
    if (tag == -1 && PyErr_Occurred())
        return NULL;
    exec_interrupt_set_target(tag < 0 ? EXEC_INTERRUPT_NONE : (int)(tag & 0x7fffffff));
    Py_RETURN_NONE;
}

static PyObject *mod_take_interrupt(PyObject *self, PyObject *noargs)
{
    return PyBool_FromLong(exec_interrupt_take());
}

static PyObject *mod_install_sigint(PyObject *self, PyObject *noargs)
{
    int rc = exec_interrupt_install();
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *mod_wake_fds(PyObject *self, PyObject *noargs)
{
    return Py_BuildValue("(ii)", exec_interrupt_wake_fd(), exec_interrupt_wake_write_fd());
}

static PyObject *mod_drain_wake(PyObject *self, PyObject *noargs)
{
    exec_interrupt_drain();
    Py_RETURN_NONE;
}

static PyObject *mod_fileno(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(chan.fd);
}

static PyObject *mod_fatal(PyObject *self, PyObject *args)
{
    int status;
    const char *msg;

    if (!PyArg_ParseTuple(args, "is:fatal", &status, &msg))
        return NULL;
    chan_fail(status, "%s", msg);
}

static PyMethodDef mod_methods[] = {
    {"recv", mod_recv, METH_NOARGS,
     "recv() -> list of ('exec'|'block'|'complete', id, text) waiting on the channel"},
    {"send_output", mod_send_output, METH_VARARGS,
     "send_output(stream, id or None, utf8_bytes[, origin or None])"},
    {"send_result", mod_send_result, METH_VARARGS,
     "send_result(id, status, display, exit_code, ps1, ps2, extra)"},
    {"send_completions", mod_send_completions, METH_VARARGS,
     "send_completions(id, matches, start, end)"},
    {"send_started", mod_send_started, METH_VARARGS, "send_started(id)"},
    {"send_display", mod_send_display, METH_VARARGS,
     "send_display(id or None, data_json, metadata_json, display_id, update[, origin])"},
    {"send_clear_output", mod_send_clear_output, METH_VARARGS,
     "send_clear_output(id or None, wait[, origin])"},
    {"send_inspection", mod_send_inspection, METH_VARARGS,
     "send_inspection(id, found, data_json)"},
    {"send_page", mod_send_page, METH_VARARGS, "send_page(id or None, text)"},
    {"features", mod_features, METH_NOARGS, "features() -> what hello asked for"},
    {"exit", mod_exit, METH_VARARGS, "exit(status): end the process now"},
    {"rusage", mod_rusage, METH_NOARGS,
     "rusage() -> (cpu microseconds, peak resident KiB) of the process"},
    {"send_interrupt_ack", mod_send_interrupt_ack, METH_VARARGS,
     "send_interrupt_ack(id)"},
    {"input", mod_input, METH_VARARGS,
     "input(id, prompt, kind=LINE) -> line, or None at end of input"},
    {"set_interrupt_target", mod_set_interrupt_target, METH_O,
     "set_interrupt_target(tag): SIGINTs for other tags are ignored; -1 for none"},
    {"take_interrupt", mod_take_interrupt, METH_NOARGS,
     "take_interrupt() -> whether an interrupt reached the target"},
    {"install_sigint", mod_install_sigint, METH_NOARGS,
     "install_sigint(): put the tag-reading C handler under signal.signal's"},
    {"wake_fds", mod_wake_fds, METH_NOARGS,
     "wake_fds() -> (read, write): the pipe signals wake the loop through"},
    {"drain_wake", mod_drain_wake, METH_NOARGS, "drain_wake(): empty that pipe"},
    {"fileno", mod_fileno, METH_NOARGS, "fileno() -> the channel's fd"},
    {"fatal", mod_fatal, METH_VARARGS,
     "fatal(status, message): report and end the process now"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mod_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_aiobox",
    .m_doc = "The executor's channel to the aiobox supervisor.",
    .m_size = -1,
    .m_methods = mod_methods,
};

PyObject *chan_py_init(void)
{
    PyObject *mod = PyModule_Create(&mod_def);
    if (!mod)
        return NULL;
    if (PyModule_AddIntConstant(mod, "STDOUT", PROTO_STDOUT) < 0 ||
        PyModule_AddIntConstant(mod, "STDERR", PROTO_STDERR) < 0 ||
        PyModule_AddIntConstant(mod, "OK", PROTO_STATUS_OK) < 0 ||
        PyModule_AddIntConstant(mod, "ERROR", PROTO_STATUS_ERROR) < 0 ||
        PyModule_AddIntConstant(mod, "INTERRUPTED", PROTO_STATUS_INTERRUPTED) < 0 ||
        PyModule_AddIntConstant(mod, "EXIT", PROTO_STATUS_EXIT) < 0 ||
        PyModule_AddIntConstant(mod, "EXIT_RUNTIME", EXEC_EXIT_RUNTIME) < 0 ||
        PyModule_AddIntConstant(mod, "INPUT_LINE", PROTO_INPUT_LINE) < 0 ||
        PyModule_AddIntConstant(mod, "INPUT_PASSWORD", PROTO_INPUT_PASSWORD) < 0 ||
        PyModule_AddIntConstant(mod, "INPUT_STDIN", PROTO_INPUT_STDIN) < 0 ||
        PyModule_AddIntConstant(mod, "FEATURE_RICH", PROTO_FEATURE_RICH) < 0 ||
        PyModule_AddIntConstant(mod, "FEATURE_TERMINAL", PROTO_FEATURE_TERMINAL) < 0 ||
        PyModule_AddIntConstant(mod, "FEATURE_EXIT_ENDS", PROTO_FEATURE_EXIT_ENDS) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
