/* Naming trapped calls. The seccomp trap raises SIGSYS in the thread that
 * made the call; the handler sends the supervisor a `denied` frame built
 * in advance (msgpack needs no allocation then) and dies by SIGSYS. The
 * supervisor treats the frame as a claim only: user code can forge it or
 * replace this handler. */
#define _GNU_SOURCE
#include <errno.h>
#include <msgpack.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "proto.h"
#include "sandbox_priv.h"

/* si_code of a seccomp trap (asm-generic/siginfo.h); glibc's headers do
 * not define it and the kernel's clash with them. */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#define DENIED_FRAME_MAX 64

static unsigned char denied_frame[DENIED_FRAME_MAX];
static size_t denied_len;
static size_t denied_nr_at;     /* offset of the 8-byte syscall number */
static int denied_fd = -1;

static int pack_write(void *data, const char *buf, size_t len)
{
    size_t *off = data;
    if (*off + len > DENIED_FRAME_MAX - PROTO_HEADER_SIZE)
        return -EMSGSIZE;
    memcpy(denied_frame + PROTO_HEADER_SIZE + *off, buf, len);
    *off += len;
    return 0;
}

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/* {"t": "denied", "v": PROTO_VERSION, "syscall": int64} with the number in fixed
 * 8-byte form, so the handler only patches those bytes. Returns 0, or
 * -EMSGSIZE if that does not fit DENIED_FRAME_MAX. */
static int encode_template(void)
{
    size_t body = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, pack_write);
    if (msgpack_pack_map(&pk, 3) || pack_str(&pk, "t") || pack_str(&pk, "denied") ||
        pack_str(&pk, "v") || msgpack_pack_unsigned_int(&pk, PROTO_VERSION) ||
        pack_str(&pk, "syscall") || msgpack_pack_fix_int64(&pk, 0))
        return -EMSGSIZE;
    denied_nr_at = PROTO_HEADER_SIZE + body - 8;
    denied_len = PROTO_HEADER_SIZE + body;
    denied_frame[0] = (unsigned char)(body >> 24);
    denied_frame[1] = (unsigned char)(body >> 16);
    denied_frame[2] = (unsigned char)(body >> 8);
    denied_frame[3] = (unsigned char)body;
    return 0;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    /* Only the filter's trap names a call. A SIGSYS sent by kill() or
     * tgkill() (the code's own, or anyone's) carries no call number, and
     * reporting one would blame the policy for what it did not do. */
    if (si->si_code != SYS_SECCOMP) {
        sandbox_pidns_die(SIGSYS);
        signal(SIGSYS, SIG_DFL);
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
        _exit(128 + SIGSYS);
    }
    /* As pid 1 of its own namespace, a SIGKILL the process sends itself
     * is trapped (sandbox_pidns.c) and carried out here. */
    if (sandbox_pidns_self_kill(si, uctx))
        sandbox_pidns_die(SIGKILL);
    unsigned char frame[DENIED_FRAME_MAX];
    int64_t nr = si->si_syscall;
    for (size_t i = 0; i < denied_len; i++)
        frame[i] = denied_frame[i];
    for (int i = 0; i < 8; i++)
        frame[denied_nr_at + (size_t)i] = (unsigned char)((uint64_t)nr >> (56 - 8 * i));
    size_t off = 0;
    while (denied_fd >= 0 && off < denied_len) {
        ssize_t w = write(denied_fd, frame + off, denied_len - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    /* As pid 1, the reaper ends the executor; otherwise SA_RESETHAND
     * made SIGSYS fatal again and SA_NODEFER left it unblocked:
     * signalling this thread ends the process. */
    sandbox_pidns_die(SIGSYS);
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
#ifdef __x86_64__
    /* A policy that also denies tgkill: make the trapped call again; with
     * the default action for SIGSYS the kernel kills the process. */
    const ucontext_t *uc = uctx;
    const greg_t *g = uc->uc_mcontext.gregs;
    syscall(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
#else
    (void)uctx;
#endif
    _exit(128 + SIGSYS);
}

int sandbox_arm_sigsys(int channel_fd)
{
    int rc = encode_template();
    if (rc < 0)
        return rc;
    denied_fd = channel_fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESETHAND;
    if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGSYS, &sa, NULL) < 0)
        return -errno;
    return 0;
}
