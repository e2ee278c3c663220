"""A client of aiobox's JSON-lines interface for the tests: the real
`aiobox --json` on pipes, or a connection to the real `aiobox serve`."""
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'supervisor'))
import harness  # noqa: E402

AIOBOX = harness.AIOBOX
LIMIT_S = 60


class Client:
    """Lines out, events in; events that are not the one waited for are
    kept, in order, for later waits."""

    def __init__(self, rfile, wfile):
        self.rfile = rfile
        self.wfile = wfile
        self.pending = []
        self.buf = b''

    def send(self, obj):
        self.send_raw((json.dumps(obj) + '\n').encode())

    def send_raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def _read_line(self, limit_s):
        end = time.monotonic() + limit_s
        fd = self.rfile.fileno()
        while b'\n' not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no answer within {limit_s} s; pending {self.pending!r}')
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError(f'the server closed the stream; pending {self.pending!r}')
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b'\n')
        return json.loads(line)

    def event(self, match, limit_s=LIMIT_S):
        """The first event (kept or new) for which match(event) holds."""
        for i, e in enumerate(self.pending):
            if match(e):
                return self.pending.pop(i)
        end = time.monotonic() + limit_s
        while True:
            e = self._read_line(max(0.01, end - time.monotonic()))
            if match(e):
                return e
            self.pending.append(e)

    def answer(self, rid, event=None, limit_s=LIMIT_S):
        return self.event(lambda e: e.get('id') == rid and (event is None or e['event'] == event),
                          limit_s)

    def close(self):
        """Goes away: the connection closes (its files too hold it open)."""
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except OSError:
                pass
        sock = getattr(self, 'sock', None)
        if sock:
            sock.close()

    def run(self, code, rid, limit_s=LIMIT_S, **fields):
        self.send({'id': rid, 'op': 'run', 'code': code, **fields})
        return self.answer(rid, 'done', limit_s)


class Stdio(Client):
    # close() ends the process: see below.
    """aiobox --json on pipes."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([AIOBOX, '--json', *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        super().__init__(self.proc.stdout, self.proc.stdin)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=LIMIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        return self.proc.returncode


class Server:
    """aiobox serve --listen PATH in a private directory."""

    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, 'run', 'aiobox.sock')
        self.log = open(os.path.join(self.dir.name, 'log'), 'w+')
        self.proc = subprocess.Popen([AIOBOX, 'serve', '--listen', self.path, *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        end = time.monotonic() + LIMIT_S
        while True:
            try:
                self.connect().close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise AssertionError('the server did not start: ' + self.log_text())
                select.select([], [], [], 0.01)

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path)
        return s

    def client(self):
        s = self.connect()
        c = Client(s.makefile('rb', buffering=0), s.makefile('wb'))
        c.sock = s
        return c

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=LIMIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.dir.cleanup()
        return self.proc.returncode
