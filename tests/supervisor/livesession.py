"""A live `aiobox` on pipes, driven one line at a time: the tests and the
soak send a line, then wait for what must follow (a prompt, an answer, a
notice) with a timeout that only guards against a hang. Also reads the
supervisor's and its executors' state from /proc."""
import os
import re
import select
import signal
import subprocess
import time

AIOBOX = os.environ.get('AIOBOX', os.path.join(os.path.dirname(__file__), '..', '..', 'build',
                                               'aiobox'))
TIMEOUT = 60

STATUS_PID = re.compile(rb'^executor: pid (\d+), (ready|starting)', re.M)


class Timeout(AssertionError):
    pass


class Live:
    def __init__(self, *args, aiobox=None, env=None):
        self.proc = subprocess.Popen([aiobox or AIOBOX, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env if env is not None else os.environ.copy())
        self.pid = self.proc.pid
        for f in (self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
        self.out = bytearray()
        self.err = bytearray()
        # Consumed positions: expect_* searches only what follows them.
        self.out_pos = 0
        self.err_pos = 0
        self.eof = {1: False, 2: False}

    # --- reading --------------------------------------------------------

    def _read(self, timeout):
        fds = [f for f, n in ((self.proc.stdout, 1), (self.proc.stderr, 2)) if not self.eof[n]]
        if not fds:
            return False
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        for f in ready:
            n = 1 if f is self.proc.stdout else 2
            try:
                data = os.read(f.fileno(), 65536)
            except BlockingIOError:
                continue
            if not data:
                self.eof[n] = True
            (self.out if n == 1 else self.err).extend(data)
        return bool(ready)

    def drain(self):
        """Reads whatever is already written. The supervisor writes its
        notices before the prompt that follows them, so once a prompt has
        been seen everything said before it is in the pipe."""
        while self._read(0):
            pass

    def _expect(self, which, pattern, timeout, since=None):
        if isinstance(pattern, str):
            pattern = pattern.encode()
        if isinstance(pattern, bytes):
            pattern = re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        while True:
            buf = self.out if which == 1 else self.err
            pos = self.out_pos if which == 1 else self.err_pos
            if since is not None:
                pos = since
            m = pattern.search(buf, pos)
            if m:
                if which == 1:
                    self.out_pos = m.end()
                else:
                    self.err_pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.eof[which]:
                raise Timeout(f'{"stdout" if which == 1 else "stderr"}: no {pattern.pattern!r} '
                              f'within {timeout} s; unread: {bytes(buf[pos:])[-2000:]!r}; '
                              f'stderr tail: {bytes(self.err[-2000:])!r}')
            self._read(min(left, 1.0))

    def expect_out(self, pattern, timeout=TIMEOUT):
        return self._expect(1, pattern, timeout)

    def expect_err(self, pattern, timeout=TIMEOUT, since=None):
        """Waits for pattern on stderr after what was consumed, or after
        offset since (a mark()) when given, consumed or not."""
        return self._expect(2, pattern, timeout, since)

    def mark(self):
        """An offset into stderr for expect_err(since=) and err_since()."""
        self.drain()
        return len(self.err)

    def err_since(self, mark):
        """stderr from mark on; consumes it all."""
        self.drain()
        self.err_pos = len(self.err)
        return bytes(self.err[mark:])

    def prompt(self, timeout=TIMEOUT):
        """Waits for the next primary prompt; returns the stdout before it."""
        start = self.out_pos
        m = self.expect_out(b'>>> ', timeout)
        self.drain()
        return bytes(self.out[start:m.start()])

    def new_err(self):
        """stderr not yet consumed; consumes it."""
        self.drain()
        text = bytes(self.err[self.err_pos:])
        self.err_pos = len(self.err)
        return text

    # --- writing --------------------------------------------------------

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.proc.stdin.write(line + b'\n')
        self.proc.stdin.flush()

    def run(self, line, timeout=TIMEOUT):
        """Sends one complete statement or command; returns (stdout before
        the next prompt, new stderr)."""
        self.send(line)
        out = self.prompt(timeout)
        return out, self.new_err()

    def status(self):
        out, _ = self.run(':status')
        return out

    def executor_pid(self):
        """The current executor's pid, waiting until there is one."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = STATUS_PID.search(self.status())
            if m:
                return int(m.group(1))
            if time.monotonic() > deadline:
                raise Timeout('no executor pid in :status')
            # Back-off before a restart: ask again once the restart notice shows.
            self.expect_err(b'started a new executor', timeout=TIMEOUT)

    # --- the end --------------------------------------------------------

    def close(self, timeout=TIMEOUT):
        """EOF on stdin; waits for exit; returns the exit status."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + timeout
        while not (self.eof[1] and self.eof[2]):
            if time.monotonic() > deadline:
                self.proc.kill()
                raise Timeout('aiobox did not finish after end of input')
            self._read(deadline - time.monotonic())
        return self.proc.wait(max(deadline - time.monotonic(), 1))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


# --- /proc ------------------------------------------------------------------

def proc_status_kib(pid, field='VmRSS'):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return -1


def fd_count(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def children(pid):
    """Pids whose parent is pid (zombies included)."""
    kids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[1]) == pid:
            kids.append((int(entry), fields[0]))
    return kids


def is_sanitized(pid):
    """True when the process runs under AddressSanitizer (its allocator
    keeps freed memory in quarantine, so RSS is no leak indicator)."""
    with open(f'/proc/{pid}/maps') as f:
        return 'libasan' in f.read()


def kill_quietly(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


SIGNALS = {'SIGKILL': signal.SIGKILL, 'SIGSEGV': signal.SIGSEGV, 'SIGABRT': signal.SIGABRT}
