"""The supervisor's loop never starves: whatever is being parsed or
printed, signals are honoured, and a stalled reader of aiobox's output
stalls that output alone (nothing is lost, nothing blocks). Statements too
large to run are refused in words and everything after them runs.

Each test waits for a condition it can observe (a prompt read back, a pipe
found full), never for a fixed time. The bounds on how long aiobox may take
to end after a signal are generous: they catch a loop that is blocked
(which takes minutes, or for ever), not one that is slow; the benchmark
(bench/supervisor.py) measures the real figures."""
import fcntl
import os
import select
import signal
import subprocess
import tempfile
import termios
import threading
import time
import unittest

import harness

# A blocked loop is minutes; a working one answers in milliseconds.
PROMPT_END_S = 5.0


POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(harness.AIOBOX)), 'policies')


def uncapped_policy(tmpdir):
    """strict with room for all the output these tests print."""
    path = os.path.join(tmpdir, 'uncapped')
    with open(path, 'w') as f:
        f.write(f'aiobox-policy 1\ninclude {POLICY_DIR}/strict\nname uncapped\n'
                'output-cap 64M\ntimeout none\n')
    return path


def start(args=('-q',), stdout=subprocess.PIPE):
    return subprocess.Popen([harness.AIOBOX, *args], stdin=subprocess.PIPE, stdout=stdout,
                            stderr=subprocess.PIPE)


def read_until(fd, needle, count=1, limit_s=60):
    """Reads fd until needle has been seen count times; returns the data."""
    data = b''
    end = time.monotonic() + limit_s
    while data.count(needle) < count:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f'{needle!r} seen {data.count(needle)} of {count} times')
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f'EOF after {data[-300:]!r}')
            data += chunk
    return data


def feed(proc, data):
    """Writes data to proc's stdin from a thread (aiobox may not read it
    all: it is about to be killed)."""
    def run():
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def ended_within(proc, seconds):
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def reap(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            try:
                f.close()
            except BrokenPipeError:
                pass


class Signals(unittest.TestCase):
    def signal_while_judging(self, signum, lines):
        proc = start()
        try:
            literal = b'x = [\n' + b''.join(b'    %d,\n' % i for i in range(lines)) + b']\n'
            feed(proc, literal + b'len(x)\n')
            # A thousand continuation prompts: it is well into the literal.
            read_until(proc.stdout.fileno(), b'... ', 1000)
            t0 = time.monotonic()
            proc.send_signal(signum)
            self.assertTrue(ended_within(proc, PROMPT_END_S),
                            f'still running {PROMPT_END_S} s after signal {signum}')
            elapsed = time.monotonic() - t0
            self.assertEqual(proc.returncode, 128 + signum)
            return elapsed
        finally:
            reap(proc)

    def test_sigterm_during_a_40k_line_literal(self):
        self.signal_while_judging(signal.SIGTERM, 40000)

    def test_sighup_during_a_40k_line_literal(self):
        self.signal_while_judging(signal.SIGHUP, 40000)

    def test_a_40k_line_literal_runs(self):
        literal = b'x = [\n' + b''.join(b'    %d,\n' % i for i in range(40000)) + b']\n'
        rc, out, err = harness.run_aiobox(literal + b'len(x)\n', timeout=300)
        self.assertEqual(rc, 0, err[-500:])
        self.assertIn(b'40000\n', out)


class Oversized(unittest.TestCase):
    def test_statement_over_the_limit_then_two_prints(self):
        big = b'x = "' + b'a' * (17 << 20) + b'"\n'
        rc, out, err = harness.run_aiobox(big + b'print(1)\nprint(2)\n', timeout=300)
        self.assertEqual(rc, 0)
        # Both prints ran, in order, after the refusal.
        self.assertEqual(out.replace(b'>>> ', b''), b'1\n2\n')
        text = err.decode()
        self.assertIn('(x = "aaaa', text)
        self.assertIn('it was not run', text)

    def test_statement_over_the_limit_inside_a_session_keeps_its_state(self):
        big = b'x = "' + b'a' * (17 << 20) + b'"\n'
        rc, out, err = harness.run_aiobox(b'x = 41\n' + big + b'x + 1\n', timeout=300)
        self.assertEqual(rc, 0)
        self.assertEqual(out.replace(b'>>> ', b''), b'42\n')


class StalledReader(unittest.TestCase):
    """aiobox's stdout is a pipe nobody reads for a while."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.policy = uncapped_policy(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def stalled(self):
        r, w = os.pipe()
        proc = start(args=('-q', '--policy', self.policy), stdout=w)
        os.close(w)
        proc.stdin.write(b'for i in range(2_000_000): print(i)\n\n')
        proc.stdin.flush()
        # Until the pipe is full: less room is left in it than one write
        # of PIPE_BUF bytes needs, so aiobox's writes can go no further.
        size = fcntl.fcntl(r, 1032) - select.PIPE_BUF  # F_GETPIPE_SZ
        end = time.monotonic() + 60
        while True:
            n = int.from_bytes(fcntl.ioctl(r, termios.FIONREAD, b'\0' * 4), 'little')
            if n >= size:
                break
            self.assertLess(time.monotonic(), end, 'the pipe never filled')
            select.select([], [], [], 0.01)
        return proc, r

    def test_sigterm_while_the_reader_stalls(self):
        proc, r = self.stalled()
        try:
            proc.send_signal(signal.SIGTERM)
            self.assertTrue(ended_within(proc, PROMPT_END_S), 'SIGTERM not honoured')
            self.assertEqual(proc.returncode, 128 + signal.SIGTERM)
        finally:
            os.close(r)
            reap(proc)

    def test_nothing_is_lost_when_the_reader_comes_back(self):
        proc, r = self.stalled()
        try:
            out = []
            reader = threading.Thread(target=lambda: out.append(drain(r)), daemon=True)
            reader.start()
            proc.stdin.write(b'print("after")\n')
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=300), 0)
            reader.join(60)
            lines = out[0].replace(b'>>> ', b'').replace(b'... ', b'').split(b'\n')
            self.assertEqual(lines[:2_000_000], [b'%d' % i for i in range(2_000_000)])
            self.assertEqual(lines[2_000_000:], [b'after', b''])
        finally:
            os.close(r)
            reap(proc)

    def test_sigint_reaches_the_statement_while_the_reader_stalls(self):
        proc, r = self.stalled()
        try:
            proc.send_signal(signal.SIGINT)
            out = []
            reader = threading.Thread(target=lambda: out.append(drain(r)), daemon=True)
            reader.start()
            proc.stdin.write(b'print("after")\n')
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=300), 0)
            err = proc.stderr.read()
            reader.join(60)
            self.assertIn(b'KeyboardInterrupt', err)
            self.assertTrue(out[0].endswith(b'after\n>>> '), out[0][-200:])
            # Interrupted well before the two million lines were printed.
            self.assertNotIn(b'\n1999999\n', out[0])
        finally:
            os.close(r)
            reap(proc)


def drain(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


if __name__ == '__main__':
    harness.main('supervisor-loop')
