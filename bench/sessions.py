"""Named sessions against their references, measured in one run (printed,
never asserted; bench/README.md):

  attach     `aiobox attach NAME` on a pty, from the spawn to its prompt
             (the replay shown), median; and the server's part alone: a
             connection's `attach` request to its answer. Target: 10 ms.
  statement  `x = 1` through the server as an attached terminal sends it
             (op submit), all sent at once, per statement, and piped into
             `aiobox -s NAME`, beside a statement of `aiobox` and of
             `/usr/bin/python3 -m asyncio`, each with piped input. Target: at most 1.3 times the direct
             REPL.

The server is the one `aiobox -s` starts on demand, in a private
XDG_RUNTIME_DIR. Usage: bench/sessions.py AIOBOX [--runs N]"""
import fcntl
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

PYTHON = '/usr/bin/python3'


class Pty:
    """The program on a fresh pty, started as bench/supervisor.py starts it
    (posix_spawn in a new session, the slave opened by name), so that no
    fork of this Python is counted as aiobox's."""

    def __init__(self, aiobox, args, env):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
        name = os.ttyname(slave)
        os.close(slave)
        self.t0 = time.perf_counter()
        self.pid = os.posix_spawn(aiobox, [aiobox, *args], env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_CLOSE, master),
            (os.POSIX_SPAWN_OPEN, 0, name, os.O_RDWR, 0),
            (os.POSIX_SPAWN_DUP2, 0, 1),
            (os.POSIX_SPAWN_DUP2, 0, 2),
        ])
        self.master, self.data = master, b''

    def expect(self, needle, limit=30):
        end = time.monotonic() + limit
        while needle not in self.data:
            r, _, _ = select.select([self.master], [], [], max(0, end - time.monotonic()))
            if not r:
                raise TimeoutError(f'{needle!r} not seen: {self.data[-300:]!r}')
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b''
            if not chunk:
                raise EOFError(self.data[-300:])
            self.data += chunk
        return time.perf_counter()

    def send(self, data):
        os.write(self.master, data)

    def finish(self):
        try:
            os.waitpid(self.pid, 0)
        finally:
            os.close(self.master)


def lines(sock):
    buf = b''
    while True:
        while b'\n' in buf:
            line, _, buf = buf.partition(b'\n')
            yield json.loads(line)
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        buf += chunk


def server_attach(path, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(b'{"id":"a","op":"attach","session":"bench"}\n')
        for e in lines(s):
            if e.get('id') == 'a':
                break
        times.append(time.perf_counter() - t0)
        s.close()
    return statistics.median(times)


def submitted_per_statement(path, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"id":"a","op":"attach","session":"bench"}\n')
    it = lines(s)
    for e in it:
        if e.get('id') == 'a':
            break
    batch = b''.join(b'{"id":%d,"op":"submit","session":"bench","code":"x = 1"}\n' % i
                     for i in range(n))
    t0 = time.perf_counter()
    s.sendall(batch)
    for e in it:
        if e.get('id') == n - 1 and e.get('event') == 'done':
            break
    total = time.perf_counter() - t0
    s.close()
    return total / n


def piped_per_statement(argv, n):
    """Per statement of n piped `x = 1` lines, less the cost of one."""
    def timed(k):
        t0 = time.perf_counter()
        subprocess.run(argv, input=b'x = 1\n' * k, capture_output=True, check=True)
        return time.perf_counter() - t0
    timed(1)
    one = statistics.median(timed(1) for _ in range(5))
    many = statistics.median(timed(n) for _ in range(5))
    return (many - one) / (n - 1)


def piped_per_statement_env(argv, n, env):
    def timed(k):
        t0 = time.perf_counter()
        subprocess.run(argv, input=b'x = 1\n' * k, capture_output=True, check=True, env=env)
        return time.perf_counter() - t0
    timed(1)
    one = statistics.median(timed(1) for _ in range(5))
    many = statistics.median(timed(n) for _ in range(5))
    return (many - one) / (n - 1)


def main(argv):
    aiobox = argv[1]
    runs = int(argv[argv.index('--runs') + 1]) if '--runs' in argv else 20
    rt = tempfile.mkdtemp(prefix='aiobox-bench-')
    os.chmod(rt, 0o700)
    env = {'PATH': '/usr/bin:/bin', 'TERM': 'xterm', 'HOME': rt, 'LANG': 'C.UTF-8',
           'INPUTRC': '/dev/null', 'XDG_RUNTIME_DIR': rt}
    path = os.path.join(rt, 'aiobox', 'server')
    first = Pty(aiobox, ['-s', 'bench', '-q', '--history', os.path.join(rt, 'h')], env)
    try:
        first.expect(b'>>> ')
        first.send(b'print("wa" + "rm")\r')
        first.expect(b'warm')
        first.send(b'\x1c')
        first.finish()
        attach = []
        for _ in range(runs):
            p = Pty(aiobox, ['attach', 'bench', '-q', '--history', os.path.join(rt, 'h')], env)
            attach.append(p.expect(b'>>> ') - p.t0)
            p.send(b'\x1c')
            p.finish()
        server = server_attach(path, runs * 5)
        floor = []
        for _ in range(runs):
            p = Pty(aiobox, ['--version'], env)
            floor.append(p.expect(b'aiobox ') - p.t0)
            p.finish()
        print(f'attach to prompt (aiobox attach, spawn included): median '
              f'{statistics.median(attach) * 1e3:.2f} ms, min {min(attach) * 1e3:.2f} ms '
              f'(target <= 10 ms); the server\'s attach answer: {server * 1e3:.3f} ms; '
              f'floor: aiobox --version spawned to its first bytes, median '
              f'{statistics.median(floor) * 1e3:.2f} ms')
        n = 2000
        submitted_per_statement(path, 200)  # warm
        through = min(submitted_per_statement(path, n) for _ in range(3))
        piped_server = piped_per_statement_env([aiobox, '-s', 'bench'], 10 * n, env)
        direct = piped_per_statement([aiobox, '-q', '--no-standby'], 10 * n)
        cpython = piped_per_statement([PYTHON, '-m', 'asyncio'], 10 * n)
        print(f'x = 1 through the server (submit, {n} sent at once): {through * 1e6:.1f} us; '
              f'direct aiobox piped: {direct * 1e6:.1f} us; python3 -m asyncio piped: '
              f'{cpython * 1e6:.1f} us; ratio to direct aiobox {through / direct:.2f}, to '
              f'python3 {through / cpython:.2f} (target <= 1.3)')
        print(f'x = 1 piped through aiobox -s bench: {piped_server * 1e6:.1f} us; ratio to '
              f'direct aiobox {piped_server / direct:.2f}, to python3 '
              f'{piped_server / cpython:.2f}')
    finally:
        subprocess.run([aiobox, 'kill', 'bench'], env=env, capture_output=True)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            pid = struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            s.close()
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        subprocess.run(['rm', '-rf', rt])


if __name__ == '__main__':
    main(sys.argv)
