/* The wire protocol between the supervisor and the executor.
 *
 * A frame is [u32 big-endian length][exactly one msgpack map]. Every map
 * carries "t" (the message type, a string) and "v" (the protocol version,
 * an unsigned integer), plus the typed fields of its type; keys this
 * version does not know are ignored so that later versions can add fields.
 * docs/protocol.md describes every message.
 *
 * Nothing here trusts the peer: a frame is bounded before it is buffered,
 * walked before msgpack-c unpacks it (msgpack-c allocates from container
 * headers), then checked field by field. Callers never see msgpack.
 *
 * Errors are negative errno values, as in libuv; enum proto_rc names the
 * ones this module gives, and the err buffers say what went wrong. */
#ifndef AIOBOX_PROTO_H
#define AIOBOX_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 2
#define PROTO_FRAME_MAX_DEFAULT ((size_t)1 << 20)
/* What the supervisor accepts from an executor: a display of a large
 * image fits. */
#define PROTO_FRAME_MAX_EXECUTOR ((size_t)8 << 20)
/* Statements may be larger than other frames: the executor accepts exec
 * frames up to this size. */
#define PROTO_FRAME_MAX_EXEC ((size_t)16 << 20)
#define PROTO_DEPTH_MAX 8
/* Array elements and map pairs (counted as two) in one frame, all
 * containers together: decoding costs tens of bytes an element, so this
 * bounds a frame's memory whatever its size. */
#define PROTO_ELEMENTS_MAX 65536
#define PROTO_HEADER_SIZE 4

enum proto_type {
    PROTO_HELLO = 1,       /* supervisor -> executor, first message */
    PROTO_READY,           /* executor -> supervisor, first message */
    PROTO_EXEC,            /* supervisor -> executor */
    PROTO_OUTPUT,          /* executor -> supervisor */
    PROTO_RESULT,          /* executor -> supervisor */
    PROTO_COMPLETE,        /* supervisor -> executor: completion request */
    PROTO_COMPLETIONS,     /* executor -> supervisor: completion reply */
    PROTO_INPUT,           /* executor -> supervisor: input() wants a line */
    PROTO_INPUT_REPLY,     /* supervisor -> executor */
    PROTO_INTERRUPT_ACK,   /* executor -> supervisor */
    PROTO_DENIED,          /* executor -> supervisor: sandbox trapped a call */
    PROTO_ERROR,           /* either way: the peer is about to give up */
    PROTO_STARTED,         /* executor -> supervisor: a statement began */
    PROTO_DISPLAY,         /* executor -> supervisor: display() of a MIME bundle */
    PROTO_CLEAR_OUTPUT,    /* executor -> supervisor: clear_output() */
    PROTO_INSPECT,         /* supervisor -> executor: what is this name? */
    PROTO_INSPECTION,      /* executor -> supervisor: its answer */
    PROTO_PAGE,            /* executor -> supervisor: text for a pager (help()) */
    PROTO_SHUTDOWN,        /* supervisor -> executor: finish as CPython does at exit */
    PROTO_CANCEL,          /* supervisor -> executor: do not run a statement sent ahead */
    PROTO_TYPE_COUNT
};

enum proto_stream { PROTO_STDOUT = 0, PROTO_STDERR = 1 };

enum proto_status {
    PROTO_STATUS_OK = 0,
    PROTO_STATUS_ERROR,        /* an exception (traceback already streamed) */
    PROTO_STATUS_INTERRUPTED,  /* SIGINT: KeyboardInterrupt or cancellation */
    PROTO_STATUS_EXIT,         /* exit(), quit(), SystemExit: see exit_code */
};

/* Text as received: valid UTF-8, not NUL-terminated. It points into the
 * frame it was decoded from and lives until the reader is fed again (see
 * proto_reader_take). */
struct proto_str {
    const char *ptr;
    size_t len;
};

/* Features of hello: what the front end wants of the runtime. */
enum {
    /* Notebook behaviour: display() and clear_output() as builtins, rich
     * representations of values, help() through a pager message. */
    PROTO_FEATURE_RICH = 1,
    /* The user's stdin is a terminal: sys.stdin.isatty() is true, and
     * help() pages through page messages. */
    PROTO_FEATURE_TERMINAL = 2,
    /* SystemExit ends the session (a REPL): after its result the executor
     * runs no more statements and finishes as CPython ends. */
    PROTO_FEATURE_EXIT_ENDS = 4,
};

struct proto_hello { uint32_t version; uint64_t features; };
struct proto_ready {
    uint32_t version;
    struct proto_str python;   /* "3.11.2" */
    int64_t pid;
    struct proto_str sandbox;  /* what was applied, in words */
};
/* single: one statement as the REPL's push loop assembled it (compiled in
 * 'single' mode). block: a pasted block, run statement by statement, only
 * the last one displaying its value, as CPython 3.13's REPL does. cell: a
 * notebook cell: as block, but the last expression's value is returned
 * in the result, not displayed. */
enum proto_exec_mode { PROTO_EXEC_SINGLE = 0, PROTO_EXEC_BLOCK = 1, PROTO_EXEC_CELL = 2 };
struct proto_exec {
    uint64_t id;
    struct proto_str source;
    enum proto_exec_mode mode;
    uint64_t output_cap;       /* bytes; 0: none (docs/protocol.md, Output caps) */
    bool rich;                 /* cell: the value's rich representations too */
    bool silent;               /* nothing displayed */
};
struct proto_output {
    bool has_id;               /* false: a background task wrote it */
    uint64_t id;
    enum proto_stream stream;
    struct proto_str text;
    /* Rich sessions: the statement whose code created the task (or ran
     * the code) that wrote it, so that a notebook shows it under that
     * cell; optional on the wire (has_origin false: not said). */
    bool has_origin;
    uint64_t origin;
};
struct proto_result {
    uint64_t id;
    enum proto_status status;
    struct proto_str display;  /* one-line summary, e.g. "ZeroDivisionError: division by zero" */
    int64_t exit_code;         /* meaningful for PROTO_STATUS_EXIT */
    /* str(sys.ps1), str(sys.ps2) after the statement: user code may set
     * them, so they are untrusted text for the next prompts. */
    struct proto_str ps1, ps2;
    /* cell: the final expression's value as a MIME bundle (a JSON object
     * as text), or empty. */
    struct proto_str value;
    /* error: the exception, as fields (the traceback with the user's
     * frames only, as printed); compile_error when compiling failed. */
    struct proto_str error_type, error_message, traceback;
    bool compile_error;
    /* A call the sandbox refused with an errno while it ran, by name, or
     * empty: what made a PermissionError. */
    struct proto_str denied;
    uint64_t cpu_us;           /* the executor's CPU time while it ran */
    uint64_t max_rss_kb;       /* the executor's peak resident memory so far */
};
/* Completion at cursor (in code points) of code. */
struct proto_complete { uint64_t id; struct proto_str code; uint64_t cursor; };
struct proto_completions {
    uint64_t id;
    size_t count;
    struct proto_str *matches; /* owned by the message: proto_msg_release */
    /* The matches replace code[start:end] (code points). */
    uint64_t start, end;
};
/* line: input(); password: getpass() (no echo); stdin: a read of
 * sys.stdin (the answer keeps its newline; end of file is eof). */
enum proto_input_kind { PROTO_INPUT_LINE = 0, PROTO_INPUT_PASSWORD = 1, PROTO_INPUT_STDIN = 2 };
struct proto_input { uint64_t id; struct proto_str prompt; enum proto_input_kind kind; };
struct proto_input_reply { uint64_t id; bool eof; struct proto_str text; };
struct proto_interrupt_ack { uint64_t id; };
/* The receiver names the call itself (seccomp_syscall_resolve_num_arch):
 * the executor is not trusted to say what it was denied. */
struct proto_denied { int64_t syscall; };
struct proto_error { struct proto_str message; };
struct proto_started { uint64_t id; };
/* data and metadata: JSON objects as text. display_id: empty or the id
 * display(..., display_id=X) gave; update: replace what that id shows. */
struct proto_display {
    bool has_id;
    uint64_t id;
    struct proto_str data, metadata, display_id;
    bool update;
    bool has_origin;           /* as proto_output's */
    uint64_t origin;
};
struct proto_clear_output { bool has_id; uint64_t id; bool wait; bool has_origin; uint64_t origin; };
struct proto_inspect { uint64_t id; struct proto_str code; uint64_t cursor; uint64_t detail; };
struct proto_inspection { uint64_t id; bool found; struct proto_str data; };
struct proto_page { bool has_id; uint64_t id; struct proto_str text; };
struct proto_shutdown { uint32_t version; };
/* A statement sent ahead is not to run: when its turn comes the executor
 * answers it as interrupted without running it (one already running is
 * interrupted by a signal instead). */
struct proto_cancel { uint64_t id; };

struct proto_msg {
    enum proto_type type;
    union {
        struct proto_hello hello;
        struct proto_ready ready;
        struct proto_exec exec;
        struct proto_output output;
        struct proto_result result;
        struct proto_complete complete;
        struct proto_completions completions;
        struct proto_input input;
        struct proto_input_reply input_reply;
        struct proto_interrupt_ack interrupt_ack;
        struct proto_denied denied;
        struct proto_error error;
        struct proto_started started;
        struct proto_display display;
        struct proto_clear_output clear_output;
        struct proto_inspect inspect;
        struct proto_inspection inspection;
        struct proto_page page;
        struct proto_shutdown shutdown;
        struct proto_cancel cancel;
    } u;
    void *priv;                /* decoder state; NULL for messages built by hand */
};

enum proto_rc {
    PROTO_OK = 0,
    PROTO_E_TOO_BIG = -EMSGSIZE,          /* length header above the reader's cap */
    PROTO_E_MALFORMED = -EBADMSG,         /* not exactly one well-formed, bounded msgpack value */
    PROTO_E_SCHEMA = -EPROTO,             /* missing/mistyped field, unknown type, bad UTF-8 */
    PROTO_E_VERSION = -EPROTONOSUPPORT,   /* peer speaks another protocol version */
    PROTO_E_NOMEM = -ENOMEM,
    PROTO_E_BAD = -ENOTRECOVERABLE,       /* the reader already failed; the stream is lost */
    PROTO_E_AGAIN = -EAGAIN,              /* no whole frame buffered yet */
};

/* --- helpers ---------------------------------------------------------- */
struct proto_str proto_str_c(const char *s);
struct proto_str proto_str_n(const char *s, size_t len);
/* malloc'd NUL-terminated copy; NULL on allocation failure. */
char *proto_str_dup(struct proto_str s);
bool proto_str_eq(struct proto_str s, const char *c);
const char *proto_type_name(enum proto_type t);
const char *proto_status_name(enum proto_status s);
const char *proto_stream_name(enum proto_stream s);
const char *proto_mode_name(enum proto_exec_mode m);

/* --- framing and validation (proto_frame.c, proto_validate.c) ---------- */

/* Checks that body[0..len) is exactly one msgpack value nested at most
 * max_depth deep, with at most PROTO_ELEMENTS_MAX elements, whose every
 * count and length fits in the bytes left, with no 0xc1 and no ext types.
 * Writes the reason to err on failure. */
int proto_validate(const void *body, size_t len, int max_depth,
                   char *err, size_t errlen);

/* Incremental frame reader: feed it bytes in any split, take messages. */
struct proto_reader {
    char *buf;
    size_t len;        /* bytes buffered */
    size_t cap;        /* allocated */
    size_t start;      /* offset of the first unconsumed byte */
    size_t scan;       /* offset of the frame being received (header maybe partial) */
    size_t max_frame;  /* largest body accepted */
    int rc;            /* PROTO_OK until the stream fails, then the error */
    char err[256];
};

void proto_reader_init(struct proto_reader *r, size_t max_frame);
void proto_reader_free(struct proto_reader *r);
/* Buffers data. Fails (and marks the reader bad) as soon as a length header
 * above the cap is seen, before that frame's body is stored. */
int proto_reader_feed(struct proto_reader *r, const void *data, size_t len);
/* Returns 0 and fills msg when a whole frame is buffered, PROTO_E_AGAIN
 * when more bytes are needed, or another negative proto_rc (the reader is
 * then bad and r->err says why). A message stays valid until the next feed
 * or next call; the caller must proto_msg_release it. Version mismatches
 * are errors. */
int proto_reader_take(struct proto_reader *r, struct proto_msg *msg);

/* --- messages (proto_msg.c) -------------------------------------------- */

/* Decodes one frame body (no length header). */
int proto_decode(const void *body, size_t len, struct proto_msg *msg,
                 char *err, size_t errlen);
void proto_msg_release(struct proto_msg *msg);

/* Appends one complete frame (header included) to *buf (realloc'd).
 * Returns PROTO_OK, PROTO_E_NOMEM, PROTO_E_TOO_BIG for a body over 4 GiB
 * (the length header's limit), or PROTO_E_SCHEMA for a message that would
 * not decode (bad UTF-8 in a text field, unknown type). */
struct proto_buf { char *data; size_t len, cap; };
int proto_encode(const struct proto_msg *msg, struct proto_buf *buf);
void proto_buf_free(struct proto_buf *buf);

#endif
