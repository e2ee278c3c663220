"""The machine interface against its references, measured in one run
(printed, never asserted; bench/README.md):

  isolated   `print(1)` as isolated runs through `aiobox serve`, two clients
             at once (concurrency 2), runs per second, beside spawning
             `/usr/bin/python3 -I -c 'print(1)'` per snippet, two at once
             (no sandbox at all). Target: at least 5 times the spawns.
  session    `x = 1` as runs on one session through `aiobox --json`, all
             sent at once, per run, beside a statement of
             `/usr/bin/python3 -m asyncio` with piped input.
             Target: at most 1.5 times the piped statement.
  first      a new session to its first answer (`open` then `run x = 1`),
             median. Target: at most 5 ms.

Usage: bench/jsonlines.py AIOBOX [--runs N]"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PYTHON = '/usr/bin/python3'


def spawn_rate(n):
    """print(1) snippets per second, each its own python3, two at a time."""
    def worker(k, out):
        t = 0
        for _ in range(k):
            subprocess.run([PYTHON, '-I', '-c', 'print(1)'], capture_output=True, check=True)
            t += 1
        out.append(t)
    done = []
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(n // 2, done)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


class Serve:
    def __init__(self, aiobox):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, 's.sock')
        self.proc = subprocess.Popen([aiobox, 'serve', '--listen', self.path],
                                     stderr=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(self.path):
                break
            time.sleep(0.01)
        # The fork server is ready once a run has been forked quickly.
        c = self.client()
        for i in range(20):
            c.run('1', 'warm%d' % i)
        c.close()

    def client(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path)
        return Line(s)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.dir.cleanup()


class Line:
    def __init__(self, s):
        self.s = s
        self.f = s.makefile('rwb')

    def run(self, code, rid, **kw):
        self.f.write((json.dumps({'id': rid, 'op': 'run', 'code': code, **kw}) + '\n').encode())
        self.f.flush()
        while True:
            e = json.loads(self.f.readline())
            if e.get('id') == rid and e['event'] in ('done', 'error'):
                return e

    def request(self, rid, op, **kw):
        self.f.write((json.dumps({'id': rid, 'op': op, **kw}) + '\n').encode())
        self.f.flush()
        while True:
            e = json.loads(self.f.readline())
            if e.get('id') == rid:
                return e

    def wait_pool_full(self, rid):
        """Asks the server's figures until no pooled executor is starting."""
        while True:
            pool = self.request(rid, 'status')['pool']
            if pool['starting'] == 0 and pool['ready'] > 0:
                return

    def close(self):
        self.f.close()
        self.s.close()


def isolated_rate(aiobox, n):
    srv = Serve(aiobox)
    try:
        statuses = []

        def worker(k, tag):
            c = srv.client()
            for i in range(k):
                statuses.append(c.run('print(1)', '%s%d' % (tag, i))['status'])
            c.close()
        t0 = time.perf_counter()
        ts = [threading.Thread(target=worker, args=(n // 2, t)) for t in 'ab']
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        rate = len(statuses) / (time.perf_counter() - t0)
        assert statuses == ['ok'] * len(statuses), set(statuses)
        return rate
    finally:
        srv.close()


def first_answer(aiobox, n):
    srv = Serve(aiobox)
    try:
        c = srv.client()
        times = []
        for i in range(n):
            # A user opens a session now and then, not thirty at once: the
            # pool has replaced what the last one took before the next.
            c.wait_pool_full('p%d' % i)
            t0 = time.perf_counter()
            d = c.run('x = 1', 'f%d' % i, session='new%d' % i)
            times.append((time.perf_counter() - t0) * 1000)
            assert d['status'] == 'ok', d
        c.close()
        return statistics.median(times), min(times)
    finally:
        srv.close()


def session_per_run(aiobox, n):
    lines = [json.dumps({'id': i, 'op': 'run', 'code': 'x = 1', 'session': 's'})
             for i in range(n)]
    data = ('\n'.join([json.dumps({'id': 'w', 'op': 'run', 'code': '1', 'session': 's'})] +
                      lines) + '\n').encode()
    p = subprocess.Popen([aiobox, '--json'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    # The session's executor first, then the runs, timed from the first
    # sent to the last answered.
    p.stdin.write(data[:data.index(b'\n') + 1])
    p.stdin.flush()
    p.stdout.readline()
    t0 = time.perf_counter()
    p.stdin.write(data[data.index(b'\n') + 1:])
    p.stdin.close()
    got = p.stdout.read().count(b'"event":"done"')
    t = time.perf_counter() - t0
    p.wait()
    assert got == n, got
    return t / n * 1e6


def piped_per_statement(n):
    stdin = b'1\n' + b'x = 1\n' * n
    t0 = time.perf_counter()
    subprocess.run([PYTHON, '-m', 'asyncio'], input=stdin, capture_output=True, check=True)
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([PYTHON, '-m', 'asyncio'], input=b'1\n', capture_output=True, check=True)
    t_one = time.perf_counter() - t0
    return (t_all - t_one) / n * 1e6


def main(argv):
    aiobox = argv[1]
    runs = int(argv[argv.index('--runs') + 1]) if '--runs' in argv else 200
    spawn = spawn_rate(runs // 2)
    iso = isolated_rate(aiobox, runs)
    print(f'isolated print(1), concurrency 2: {iso:.0f} runs/s; python3 -I -c spawn: '
          f'{spawn:.0f} /s; ratio {iso / spawn:.2f} (target >= 5)')
    sess = session_per_run(aiobox, 2000)
    piped = piped_per_statement(2000)
    print(f'session run of x = 1: {sess:.1f} us; piped python3 -m asyncio statement: '
          f'{piped:.1f} us; ratio {sess / piped:.2f} (target <= 1.5)')
    med, best = first_answer(aiobox, 30)
    print(f'new session to first answer: median {med:.2f} ms, best {best:.2f} ms (target <= 5)')


if __name__ == '__main__':
    main(sys.argv)
