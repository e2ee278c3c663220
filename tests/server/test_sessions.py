"""Named sessions (aiobox -s NAME, attach, ls, kill) through the real
binaries: terminals are real aiobox processes on ptys, the per-user server
is the one they start on demand in a private XDG_RUNTIME_DIR. Every wait
is for output, with a deadline; nothing sleeps to synchronise."""
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'supervisor'))
import harness  # noqa: E402
from ptyharness import CTRL_C, PROMPT, PtySession, Timeout  # noqa: E402

AIOBOX = harness.AIOBOX
LIMIT_S = 30


def lines_of(data):
    return data.replace(b'\r', b'').split(b'\n')


class SessionCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.rt = tempfile.mkdtemp(prefix='aiobox-rt-')
        os.chmod(self.rt, 0o700)
        self.env = {'XDG_RUNTIME_DIR': self.rt}
        if os.environ.get('AIOBOX_SANITIZED') == '1':
            # ASan holds freed memory in quarantine, which would read as
            # growth in the leak test's RSS: the server reuses it at once.
            asan = os.environ.get('ASAN_OPTIONS', '')
            self.env['ASAN_OPTIONS'] = (asan + ':' if asan else '') + 'quarantine_size_mb=0'
        self.sock_path = os.path.join(self.rt, 'aiobox', 'server')
        self.addCleanup(self.end_server)

    def end_server(self):
        pid = self.server_pid(quiet=True)
        if pid:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + LIMIT_S
            while os.path.exists(f'/proc/{pid}') and time.monotonic() < deadline:
                try:
                    with open(f'/proc/{pid}/stat') as f:
                        if f.read().split()[2] == 'Z':
                            break
                except OSError:
                    break
                select_wait(0.01)
        # A sanitizer's report in the server's log fails the test.
        try:
            with open(os.path.join(self.rt, 'aiobox', 'server.log'), errors='replace') as f:
                log = f.read()
        except OSError:
            log = ''
        subprocess.run(['rm', '-rf', self.rt])
        self.assertNotRegex(log, r'runtime error:|Sanitizer')

    def term(self, *args):
        """aiobox COMMAND... on a fresh pty (the command word first)."""
        s = PtySession(args=args, env=self.env, quiet=False, history=False)
        self.addCleanup(s.close)
        return s

    def start(self, name='t'):
        s = self.term('-s', name)
        s.expect(PROMPT)
        s.run('print("re" + "ady")', then=rb'ready\r\n.*?>>> ')
        return s

    def attach(self, name='t'):
        s = self.term('attach', name)
        s.expect(rb'\(attached')
        # The replay (with its prompts) comes before this terminal's own.
        s.run('print("at" + "tached")', then=rb'attached\r\n.*?>>> ')
        return s

    def cli(self, *args):
        return subprocess.run([AIOBOX, *args], env={**os.environ, **self.env},
                              capture_output=True, timeout=LIMIT_S)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path)
        return s

    def server_pid(self, quiet=False):
        try:
            s = self.connect()
        except OSError:
            if quiet:
                return None
            raise
        creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        s.close()
        return int.from_bytes(creds[:4], 'little')

    def ls(self):
        r = self.cli('ls')
        self.assertEqual(r.returncode, 0, r)
        rows = [line.split() for line in r.stdout.decode().splitlines()[1:]]
        return {row[0]: row for row in rows}

    def detach_by_signal(self, s, sig=signal.SIGHUP):
        os.kill(s.proc.pid, sig)
        return s.wait_exit()


def select_wait(seconds):
    # Not synchronisation: the pause between two looks at /proc.
    import select
    select.select([], [], [], seconds)


class Lines:
    """JSON lines over a connection to the server."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b''

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + '\n').encode())

    def until(self, match, limit_s=LIMIT_S):
        deadline = time.monotonic() + limit_s
        while True:
            while b'\n' in self.buf:
                line, _, self.buf = self.buf.partition(b'\n')
                e = json.loads(line)
                if match(e):
                    return e
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk


class Detach(SessionCase):
    def test_sighup_then_reattach_finds_state_and_task(self):
        a = self.start()
        a.run('x = 6 * 7')
        a.run('import asyncio, itertools\ncount = itertools.count()')
        a.line('async def tick():')
        a.line('    while True: print("tick", next(count)); await asyncio.sleep(0.05)')
        a.line('')
        a.expect(PROMPT)
        a.line('task = asyncio.ensure_future(tick())')
        seen = int(a.expect(rb'tick (\d+)').group(1))
        self.assertEqual(self.detach_by_signal(a), 0, a.data[-500:])
        self.assertIn(b'detached from session t', a.data)
        row = self.ls()['t']
        self.assertEqual(row[6], '0', row)   # no terminal attached now
        b = self.attach()
        b.line('x')
        b.expect(rb'[\r\n]42\r\n')
        later = int(b.expect(rb'tick (\d+)').group(1))
        self.assertGreater(later, seen)
        b.line(':detach')
        self.assertEqual(b.wait_exit(), 0)
        self.assertIn('t', self.ls())

    def test_ctrl_backslash_and_detach_command(self):
        a = self.start()
        a.run('y = "kept"')
        a.send(b'\x1c')
        self.assertEqual(a.wait_exit(), 0)
        self.assertIn(b'detached from session t', a.data)
        b = self.attach()
        b.line('y')
        b.expect(rb"'kept'\r\n")
        b.line(':detach')
        self.assertEqual(b.wait_exit(), 0)
        self.assertIn(b'detached from session t', b.data)
        self.assertEqual(self.ls()['t'][6], '0')


class Terminal(SessionCase):
    def test_completion_interrupt_and_prompts_over_the_socket(self):
        a = self.start()
        a.run('alphabet_soup = 1')
        a.send(b'alphabet_s\t')
        a.expect(rb'alphabet_soup')
        a.send(b'\r')
        a.expect(rb'[\r\n]1\r\n')
        a.line('import time; print("sle" + "eping"); time.sleep(60)')
        a.expect(rb'sleeping\r\n')
        a.send(CTRL_C)
        a.expect(rb'KeyboardInterrupt')
        a.expect(PROMPT)
        a.line('import sys; sys.ps1 = "In" + ": "')
        a.expect(rb'In: ')
        b = self.term('attach', 't')
        b.expect(rb'\(attached')
        b.expect(rb'In: $')


class Shared(SessionCase):
    def test_statement_echoed_to_the_other_with_its_prompt(self):
        a = self.start()
        b = self.attach()
        a.run('z = 6 * 7')
        b.expect(rb'>>> z = 6 \* 7\r\n')
        b.run('print("z is", z)')
        a.expect(rb'>>> print\("z is", z\)\r\n')
        a.expect(rb'z is 42')
        self.assertEqual(self.ls()['t'][6], '2')

    def test_ctrl_c_from_the_other_interrupts(self):
        a = self.start()
        b = self.attach()
        a.line('import time; print("sle" + "eping"); time.sleep(60)')
        # Sent and started (an interrupt that reaches the executor before
        # the statement starts is not its: docs/architecture.md).
        b.expect(rb'sleeping\r\n')
        start = time.monotonic()
        b.send(CTRL_C)
        a.expect(rb'KeyboardInterrupt')
        a.expect(PROMPT)
        b.expect(rb'KeyboardInterrupt')
        self.assertLess(time.monotonic() - start, 30)
        a.line('print("st" + "ill")')
        a.expect(rb'still\r\n')

    def test_input_answered_from_either(self):
        a = self.start()
        b = self.attach()
        a.line('n = input("na" + "me? ")')
        a.expect(rb'name\? ')
        b.expect(rb'name\? ')
        b.line('bob')
        # The asking terminal sees the answer, with its prompt, and goes on.
        a.expect(rb'name\? bob')
        a.expect(PROMPT)
        a.line('n')
        a.expect(rb"'bob'\r\n")
        # And the other way round.
        b.line('m = input("aga" + "in? ")')
        a.expect(rb'again\? ')
        a.line('alice')
        b.expect(rb'again\? alice')
        b.expect(PROMPT)
        b.line('m')
        b.expect(rb"'alice'\r\n")


class Replay(SessionCase):
    def test_replay_is_the_tail_of_the_output(self):
        a = self.start()
        a.run('print("\\n".join(f"line {i:05d} " + "x" * 30 for i in range(4000)))',
              then=rb'line 03999 x+\r\n.*?>>> ')
        a.send(b'\x1c')
        a.wait_exit()
        b = self.term('attach', 't')
        b.expect(rb'line 03999 x+\r\n')
        b.expect(PROMPT)
        shown = [int(m) for m in re.findall(rb'line (\d{5}) x', b.data)]
        self.assertTrue(shown, b.data[-500:])
        # The last 64 KiB: contiguous, ending at the last line, without
        # the start.
        self.assertEqual(shown, list(range(shown[0], 4000)))
        self.assertGreater(shown[0], 2000)
        self.assertLess(shown[0], 2600)

    def test_attach_while_output_flows_misses_and_repeats_nothing(self):
        a = self.start()
        a.line('import asyncio')
        a.expect(PROMPT)
        a.line('async def flow():')
        a.line('    for i in range(100000): print("n", i); await asyncio.sleep(0.001)')
        a.line('')
        a.expect(PROMPT)
        a.line('task = asyncio.ensure_future(flow())')
        a.expect(rb'n 200\r\n')
        b = self.term('attach', 't')
        b.expect(rb'n (\d+)\r\n')
        seen = b.expect(rb'n (\d+)\r\n')
        first = int(re.search(rb'n (\d+)\r\n', b.data).group(1))
        target = int(seen.group(1)) + 500
        b.expect(rb'n %d\r\n' % target)
        got = [int(m) for m in re.findall(rb'n (\d+)\r\n', b.data)]
        got = got[:got.index(target) + 1]  # what came after it is not checked
        self.assertEqual(got, list(range(first, target + 1)))


class Cli(SessionCase):
    def test_attach_missing_and_kill(self):
        r = self.cli('ls')
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'no sessions', r.stderr)
        b = self.term('attach', 'nope')
        self.assertEqual(b.wait_exit(), 1)
        self.assertIn(b'no session nope', b.data)
        r = self.cli('kill', 'nope')
        self.assertEqual(r.returncode, 1)
        a = self.start()
        row = self.ls()['t']
        self.assertEqual(row[2], 'strict')
        executor = int(row[1])
        r = self.cli('kill', 't')
        self.assertEqual(r.returncode, 0, r)
        a.expect(rb'session t ended')
        self.assertEqual(a.wait_exit(), 0)
        self.assertNotIn('t', self.ls())
        deadline = time.monotonic() + LIMIT_S
        while os.path.exists(f'/proc/{executor}/cmdline') and \
                open(f'/proc/{executor}/cmdline', 'rb').read() and time.monotonic() < deadline:
            select_wait(0.01)
        self.assertFalse(os.path.exists(f'/proc/{executor}/cmdline') and
                         open(f'/proc/{executor}/cmdline', 'rb').read())
        # A server started on demand ends with its last session (after its
        # linger time for a first client), its socket gone.
        deadline = time.monotonic() + LIMIT_S
        while os.path.exists(self.sock_path) and time.monotonic() < deadline:
            select_wait(0.05)
        self.assertFalse(os.path.exists(self.sock_path))

    def test_exit_ends_the_session_for_everyone(self):
        a = self.start()
        b = self.attach()
        a.line('exit(3)')
        self.assertEqual(a.wait_exit(), 3)
        b.expect(rb'session t ended')
        self.assertEqual(b.wait_exit(), 3)


class Piped(SessionCase):
    def test_piped_statements_run_in_the_session(self):
        r = subprocess.run([AIOBOX, '-s', 'p'], env={**os.environ, **self.env}, timeout=LIMIT_S,
                           input=b'x = 41\nprint(x + 1)\nn = input("q? ")\nyes\nprint(n)\n',
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, b'>>> >>> 42\n>>> q? >>> yes\n>>> ')
        # The session goes on, with x, for a terminal that attaches.
        b = self.attach('p')
        b.line('x')
        b.expect(rb'[\r\n]41\r\n')
        self.assertIn(b'\r\n42\r\n', b.data)   # in the replay
        r = subprocess.run([AIOBOX, '-s', 'p'], env={**os.environ, **self.env}, timeout=LIMIT_S,
                           input=b'exit(4)\n', capture_output=True)
        self.assertEqual(r.returncode, 4, r)
        b.expect(rb'session p ended: exit\(4\)')
        self.assertEqual(b.wait_exit(), 4)


class Life(SessionCase):
    def test_other_options_said_on_attach(self):
        a = self.start()
        b = self.term('-s', 't', '--timeout', '7')
        b.expect(rb'session t was started with other options: [^\r]*timeout')
        b.expect(rb'\(attached')
        b.send(b'\x1c')
        self.assertEqual(b.wait_exit(), 0)
        del a

    def test_detached_session_restarts_its_executor(self):
        # With --restore replay: the state comes back in the new executor,
        # which the server takes ready from its pool.
        a = self.term('-s', 't', '--restore', 'replay')
        a.expect(PROMPT)
        a.run('x = 41', then=rb'>>> ')
        old = int(self.ls()['t'][1])     # inside its pid namespace it is pid 1
        a.send(b'\x1c')
        self.assertEqual(a.wait_exit(), 0)
        os.kill(old, signal.SIGKILL)
        # The server restarts it with no terminal attached.
        deadline = time.monotonic() + LIMIT_S
        while time.monotonic() < deadline:
            row = self.ls()['t']
            if row[5] == '1' and row[1] not in ('-', str(old)):
                break
            select_wait(0.02)
        self.assertEqual(row[5], '1', row)
        b = self.attach()
        # What happened meanwhile is in the replay.
        self.assertIn(b'executor killed by SIGKILL', b.data)
        self.assertIn(b'started a new executor (restart 1); replaying 1 statement\r', b.data)
        b.line('print(x + 1)')
        b.expect(rb'[\r\n]42\r\n')

    def test_idle_session_ends_and_its_output_is_logged(self):
        a = self.term('-s', 't', '--idle-timeout', '1')
        a.expect(PROMPT)
        a.run('print("last" + " words")', then=rb'last words\r\n.*?>>> ')
        a.send(b'\x1c')
        self.assertEqual(a.wait_exit(), 0)
        log = os.path.join(self.rt, 'aiobox', 'server.log')
        deadline = time.monotonic() + LIMIT_S
        text = ''
        while 'last words' not in text and time.monotonic() < deadline:
            select_wait(0.05)
            with open(log) as f:
                text = f.read()
        self.assertIn('session t ends: idle for 1 s', text)
        self.assertIn('  | last words', text)
        self.assertNotIn('t', self.ls())


class Server(SessionCase):
    def test_bad_clients_dropped_alone(self):
        a = self.start()
        a.line('import asyncio')
        a.expect(PROMPT)
        # Garbage, then a line over the limit: each dropped, nothing else.
        g = self.connect()
        g.sendall(b'\x00\xff not json at all\n{"op": "submit"\n')
        big = self.connect()
        try:
            big.sendall(b'{"op": "submit", "code": "' + b'x' * (80 << 20))
        except OSError:
            pass  # dropped while sending: as it should be
        # A client killed mid-statement: its statement goes on, and the
        # session with it.
        k = Lines(self.connect())
        k.send({'id': 'a', 'op': 'attach', 'session': 't'})
        k.until(lambda e: e.get('id') == 'a')
        k.send({'id': 1, 'op': 'submit', 'session': 't',
                'code': 'import time; time.sleep(0.5); print("fin" + "ished")'})
        k.until(lambda e: e.get('event') == 'state' and e.get('running'))
        k.sock.close()
        a.expect(rb'finished\r\n')
        for sock in (g, big):
            sock.close()
        a.line('print("al" + "ive")')
        a.expect(rb'alive\r\n')
        self.assertEqual(self.ls()['t'][6], '1')


    def test_server_killed_clients_told(self):
        a = self.start()
        b = self.attach()
        os.kill(self.server_pid(), signal.SIGKILL)
        for s in (a, b):
            s.expect(rb'the session server is gone')
            self.assertEqual(s.wait_exit(), 1)
        r = self.cli('ls')
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'no sessions', r.stderr)
        self.assertFalse(os.path.exists(self.sock_path))

    def test_peer_of_another_uid_refused(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to connect as another uid')
        a = self.start()
        del a
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                libc = ctypes.CDLL(None, use_errno=True)
                os.setegid(65534)
                os.seteuid(65534)
                libc.setfsuid(0)  # the path as root; the peer credentials as nobody
                libc.setfsgid(0)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock_path)
                s.settimeout(LIMIT_S)
                data = b''
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                os.write(w, data or b'(nothing)')
            except BaseException as e:
                os.write(w, repr(e).encode())
            os._exit(0)
        os.close(w)
        data = b''
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        self.assertIn(b'uid 65534 may not use this server', data)
        self.assertNotIn(b'"sessions"', data)
        self.assertIn('t', self.ls())

    def test_attach_detach_cycles_leak_nothing(self):
        a = self.start()
        pid = self.server_pid()

        def cycle(n):
            for i in range(n):
                conn = Lines(self.connect())
                conn.send({'id': 'a', 'op': 'attach', 'session': 't'})
                conn.until(lambda e: e.get('id') == 'a')
                if i % 2:
                    conn.send({'op': 'detach', 'session': 't', 'id': 'd'})
                    conn.until(lambda e: e.get('id') == 'd')
                conn.sock.close()

        def usage(target=None):
            # The server has dropped every client when ls shows one
            # terminal, and a connection's descriptor goes at the end of
            # the loop iteration that saw it close: the count may take a
            # moment to come down to target, never longer than the deadline.
            deadline = time.monotonic() + LIMIT_S
            while self.ls()['t'][6] != '1' and time.monotonic() < deadline:
                select_wait(0.01)
            while True:
                fds = len(os.listdir(f'/proc/{pid}/fd'))
                if target is None or fds <= target or time.monotonic() > deadline:
                    break
                select_wait(0.01)
            with open(f'/proc/{pid}/status') as f:
                rss = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))
            return fds, rss

        cycle(20)
        fds0, rss0 = usage()
        cycle(100)
        fds1, rss1 = usage(fds0)
        self.assertLessEqual(fds1, fds0)
        self.assertLess(rss1 - rss0, 1024, (rss0, rss1))
        # And through the terminal front end, a few times.
        for _ in range(3):
            b = self.attach()
            b.line(':detach')
            self.assertEqual(b.wait_exit(), 0)
        self.assertLessEqual(usage(fds0)[0], fds0)
        a.line('print("o" + "k")')
        a.expect(rb'ok\r\n')


if __name__ == '__main__':
    harness.main('test_sessions')
