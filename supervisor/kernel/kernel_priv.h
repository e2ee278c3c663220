/* Inside the Jupyter kernel. kernel.h is what the rest of aiobox uses;
 * this is what the kernel's files share.
 *
 *   kernel.c     life cycle: sockets, heartbeat, session, signals, exit
 *   dynlibs.c    libzmq and libcrypto, loaded when a kernel starts
 *   connfile.c   the connection file
 *   sign.c       HMAC signatures of messages, and the replay guard
 *   wire.c       messages to and from zmq frames
 *   channels.c   the zmq sockets, polled from the libuv loop
 *   heartbeat.c  the heartbeat, echoed from a thread of its own
 *   iopub.c      what the kernel publishes: status, streams, the rest
 *   requests.c   the shell and control requests, in turn, and their replies
 *   execute.c    execute_request, and everything the session says about cells
 *   history.c    the history of the cells run (history_request)
 *   cellcheck.c  is_complete: a cell's verdict from the C detector
 *   pinfo.c      `name?`, `name??`, `?name`: IPython's help syntax
 *   install.c    aiobox kernel install: the kernelspec
 */
#ifndef AIOBOX_KERNEL_PRIV_H
#define AIOBOX_KERNEL_PRIV_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "kernel.h"
#include "session.h"

#define KERNEL_PROTOCOL_VERSION "5.3"

/* The largest zmq frame a client may send (libzmq drops a connection that
 * sends more). Above the largest cell the session takes, so that a cell
 * too long to run gets a reply that says so. */
#define KERNEL_FRAME_MAX ((int64_t)64 << 20)

/* --- dynlibs.c ------------------------------------------------------------ */

/* Loads libzmq and libcrypto (once): nothing of either may be called
 * before. 0, or a negative errno with err saying which is missing. */
int dynlibs_load(char *err, size_t errlen);

/* --- connfile.c ---------------------------------------------------------- */

enum kchan { KCHAN_SHELL, KCHAN_IOPUB, KCHAN_STDIN, KCHAN_CONTROL, KCHAN_HB, KCHAN_COUNT };
extern const char *const kchan_names[KCHAN_COUNT];

struct connfile {
    char transport[8];          /* "tcp" or "ipc" */
    char ip[256];               /* tcp: the address; ipc: the path's stem */
    unsigned port[KCHAN_COUNT];
    char *key;                  /* may be empty: messages are then not signed */
    size_t keylen;
    char scheme[32];            /* "hmac-sha256" and the like */
};

/* 0, or a negative errno with err saying what is wrong with the file. */
int connfile_load(const char *path, struct connfile *cf, char *err, size_t errlen);
void connfile_free(struct connfile *cf);
/* Where channel c binds: "tcp://IP:PORT", or "ipc://IP-PORT" as Jupyter
 * names ipc endpoints. */
void connfile_endpoint(const struct connfile *cf, enum kchan c, char *out, size_t len);

/* --- sign.c ------------------------------------------------------------- */

/* Longest signature in hex (SHA-512), with its NUL. */
#define SIGNER_HEX_MAX 129

enum signer_verdict { SIGNER_OK, SIGNER_BAD, SIGNER_REPLAYED };

struct signer;
/* scheme "hmac-<digest>" (OpenSSL's digest names); an empty key signs
 * nothing and checks nothing, as Jupyter's Session does. */
int signer_new(struct signer **out, const char *scheme, const char *key, size_t keylen,
               char *err, size_t errlen);
void signer_free(struct signer *sg);
/* The signature of the parts in lowercase hex into hex[SIGNER_HEX_MAX]
 * ("" without a key). 0, or -ENOMEM. */
int signer_sign(struct signer *sg, const struct iovec *parts, size_t n, char *hex);
/* Checks a received signature; a good one seen before is a replay. */
enum signer_verdict signer_check(struct signer *sg, const struct iovec *parts, size_t n,
                                 const char *sig, size_t siglen);

/* --- wire.c ------------------------------------------------------------- */

/* A routing identity (a zmq frame before the delimiter). */
struct jblob {
    char *data;
    size_t len;
};

/* A message received. */
struct jmsg {
    enum kchan chan;
    struct jblob *idents;
    size_t nidents;
    json_t *header, *parent, *metadata, *content;
    const char *type;           /* header.msg_type, borrowed */
    const char *id;             /* header.msg_id, borrowed */
    size_t size;                /* bytes of all its frames */
    /* A good header, but what follows it is not: why (then the other
     * dicts are empty), or "". */
    char invalid[200];
};

/* What the kernel signs its messages with and as whom. */
struct wire {
    struct signer *signer;
    char session[37];           /* a fresh uuid per kernel process */
    uint64_t sent;
};

/* Reads one whole multipart message from a socket with one waiting.
 * 1: *out is a signed message with a valid header (see its invalid); 0:
 * none was waiting; negative errno: one was read and dropped, err says
 * why (-EBADMSG malformed, -EACCES bad signature, -EALREADY a replay,
 * -EMSGSIZE too many frames). */
int wire_recv(struct wire *w, void *sock, enum kchan chan, struct jmsg **out, char *err,
              size_t errlen);
void jmsg_free(struct jmsg *m);
/* Sends a message: header made here, parent borrowed (NULL: {}),
 * metadata and content taken (NULL: {}). topic: iopub's first frame, or
 * NULL to send to idents. 0, or a negative errno (the message is lost;
 * zmq drops what a slow or vanished peer cannot take). */
int wire_send(struct wire *w, void *sock, const struct jblob *idents, size_t nidents,
              const char *topic, const char *type, const json_t *parent, json_t *metadata,
              json_t *content);
/* A fresh random uuid, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void wire_uuid(char out[37]);

/* --- channels.c ------------------------------------------------------------- */

struct kchannels;
/* A message arrived (the callback owns it). */
typedef void (*kchannels_cb)(void *data, struct jmsg *m);

/* Binds and listens on every channel's TCP address (a numeric ip) with
 * plain sockets, before libzmq is even loaded: a client connecting
 * meanwhile waits in the listen backlog instead of being refused and
 * trying again only after zmq's reconnect interval (100 ms), which would
 * be most of the kernel's start. fds[c] is -1 where zmq binds itself.
 * 0, or a negative errno with err saying which port failed. */
int kchannels_prebind(const struct connfile *cf, int fds[KCHAN_COUNT], char *err,
                      size_t errlen);
void kchannels_unbind(int fds[KCHAN_COUNT]);
/* The sockets, on fds from kchannels_prebind (taken: set to -1). */
int kchannels_open(struct kchannels **out, uv_loop_t *loop, void *zctx,
                   const struct connfile *cf, int fds[KCHAN_COUNT], struct wire *w,
                   kchannels_cb cb, void *data, char *err, size_t errlen);
void *kchannels_socket(struct kchannels *ch, enum kchan c);
/* Takes every message waiting on channel c now (held or not). */
void kchannels_drain(struct kchannels *ch, enum kchan c);
/* Stops reading a channel (its peers then wait in zmq's queues), or
 * starts again. */
void kchannels_hold(struct kchannels *ch, enum kchan c, bool hold);
/* Closes the sockets (what was sent still goes out, within the linger)
 * and the handles; frees ch once they are closed. */
void kchannels_close(struct kchannels *ch);

/* --- heartbeat.c ------------------------------------------------------------- */

struct heartbeat;
/* Binds endpoint and echoes every message from a thread of its own, with
 * its own zmq context, so nothing the loop does can delay a beat. */
int heartbeat_start(struct heartbeat **out, const char *endpoint, int *fd, char *err,
                    size_t errlen);
void heartbeat_stop(struct heartbeat *hb);

/* --- history.c ---------------------------------------------------------------- */

struct history;
int history_new(struct history **out);
void history_free(struct history *h);
/* The current session's number (history sessions start at 1; a restart
 * begins a new one). */
unsigned history_session(const struct history *h);
void history_new_session(struct history *h);
/* A cell run with store_history: its line number is count; output is
 * its result's text/plain or NULL. */
void history_add(struct history *h, uint64_t count, const char *input, size_t len,
                 const char *output);
/* The reply's "history" array for a history_request's content, or NULL
 * with err saying what is wrong with the request. */
json_t *history_query(const struct history *h, const json_t *content, char *err,
                      size_t errlen);

/* --- cellcheck.c -------------------------------------------------------------- */

enum cellcheck_status { CELLCHECK_COMPLETE, CELLCHECK_INCOMPLETE, CELLCHECK_INVALID,
                        CELLCHECK_UNKNOWN };
/* Whether a cell is ready to run, as IPython's check_complete answers for
 * jupyter console; incomplete comes with the indentation of the next
 * line (malloc'd into *indent). */
enum cellcheck_status cellcheck(const char *code, size_t len, char **indent);

/* --- pinfo.c ------------------------------------------------------------------ */

/* A cell that is only `name?`, `name??`, `?name` or `??name` (IPython's
 * help syntax): the name's place in code and the detail (1 for ??). */
bool pinfo_parse(const char *code, size_t len, size_t *start, size_t *name_len, int *detail);

/* --- the kernel ------------------------------------------------------------------ */

/* A request from a client, waiting or being answered. */
struct request {
    struct request *next;
    struct jmsg *msg;
    struct kernel *k;
    /* execute_request: its cell (execute.c), or NULL. */
    struct cell *cell;
    /* complete/inspect: the session's query id. */
    uint64_t query;
    /* An execute_request that came before a cell failed with
     * stop_on_error: answered "aborted", as ipykernel does. */
    bool aborted;
    bool control;               /* came on control: answered at once */
};

/* Output on its way to iopub as one stream message (coalesced: one
 * message for what a turn of the loop brought, not one per line). */
struct pending_stream {
    json_t *parent;             /* a reference */
    int fd;
    char *data;
    size_t len, cap;
};

/* Parent headers of recent statements, for output that arrives after its
 * cell (background tasks): statement id -> the execute_request's header. */
#define ORIGINS_MAX 1024
struct origin {
    uint64_t stmt;
    json_t *header;
};

struct kernel {
    uv_loop_t *loop;
    const struct kernel_config *cfg;
    struct connfile cf;
    struct wire wire;
    void *zctx;
    struct kchannels *ch;
    int prebound[KCHAN_COUNT];  /* kchannels_prebind's, until zmq takes them */
    struct heartbeat *hb;
    struct session *s;
    struct session_config scfg;
    /* The policy refuses more than never-legitimate calls: a
     * PermissionError gets the hint the terminal gives. */
    bool permission_hint;

    /* Shell requests in turn: one answered at a time, as ipykernel does. */
    struct request *shell_head, *shell_tail;
    size_t shell_waiting;
    struct request *shell_current;
    bool shell_held;

    /* Cells (execute.c). */
    uint64_t execution_count;
    struct origin origins[ORIGINS_MAX];
    size_t origins_next;
    json_t *last_header;        /* the latest cell's, for output of no cell */
    struct history *history;
    /* A cell waiting for an input_reply (stdin), or NULL. */
    struct cell *input_cell;
    bool input_password;
    enum proto_input_kind input_kind;

    /* The executor died and no notice has said the state was lost yet
     * (a restart after a back-off says it later): the cell it ended
     * says so itself. */
    bool state_loss_unsaid;

    struct pending_stream stream;
    uv_timer_t flush_timer;

    uv_signal_t sigint, sigterm, sighup;
    uint64_t interrupted_ms;    /* the last SIGINT or interrupt_request (uv_now), or 0 */
    /* JPY_PARENT_PID: the process that started the kernel, watched so
     * that a kernel whose manager died does not linger. */
    pid_t parent;
    uv_timer_t parent_timer;
    /* A shutdown_request with restart waiting to tell a client's restart
     * from its manager's (requests.c, MANAGER_RESTART_WINDOW_MS). */
    uv_timer_t restart_timer;
    struct request *restart_req;
    bool stopping;
    int exit_code;
    int handles_open;
};

/* kernel.c */
__attribute__((format(printf, 2, 3)))
void kernel_log(struct kernel *k, const char *fmt, ...);
/* Ends the kernel: the session, the sockets, the loop. */
void kernel_stop(struct kernel *k, int exit_code);

/* iopub.c */
void iopub_publish(struct kernel *k, const char *type, const json_t *parent, json_t *content);
void iopub_status(struct kernel *k, const json_t *parent, const char *state);
/* Stream text for parent, coalesced with what is pending for the same
 * parent and stream; sent before any other message and once a turn. */
void iopub_stream(struct kernel *k, const json_t *parent, int fd, const char *data, size_t len);
void iopub_flush(struct kernel *k);
int iopub_init(struct kernel *k);
void iopub_close(struct kernel *k);

/* requests.c */
void requests_receive(void *data, struct jmsg *m);
/* The reply to req, on its channel, to its sender (content taken). */
void request_reply(struct request *req, const char *type, json_t *content);
/* With metadata (taken). */
void request_reply_md(struct request *req, const char *type, json_t *content,
                      json_t *metadata);
/* Marks every execute_request received and not yet run as aborted (a
 * cell failed with stop_on_error). */
void requests_abort_queued(struct kernel *k);
/* The request's answer is complete: status idle, and the next shell
 * request's turn. */
void request_done(struct request *req);
void requests_free_all(struct kernel *k);
/* A session answer for the current shell request (complete, inspect). */
void requests_completions(struct kernel *k, uint64_t id, const struct proto_str *m, size_t n,
                          size_t start, size_t end);
void requests_inspection(struct kernel *k, uint64_t id, bool found, const char *data,
                         size_t len);
/* An error reply's content: status error, ename, evalue, traceback. */
json_t *error_content(const char *ename, const char *evalue, json_t *traceback);
/* A JSON string of text, bad UTF-8 replaced. */
json_t *json_text(const char *data, size_t len);

/* execute.c */
void execute_request(struct request *req);
void execute_input_reply(struct kernel *k, struct jmsg *m);
void execute_free_cell(struct cell *c);
/* The answer to a cell's `name?` (see pinfo.c). */
bool execute_inspection(struct kernel *k, uint64_t id, bool found, const char *data,
                        size_t len);
/* The reply metadata ipykernel gives execute replies. */
json_t *execute_metadata(struct kernel *k, const char *status);
/* The session's callbacks. */
extern const struct session_frontend execute_frontend;
/* The parent header for what statement id (or origin) made: NULL when
 * no cell is known (then {}). */
const json_t *execute_parent(struct kernel *k, uint64_t id, uint64_t origin);
void execute_forget_origins(struct kernel *k);

#endif
