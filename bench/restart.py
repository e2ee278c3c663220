"""Benchmark, not a test: from an executor's death to a usable session.
Prints figures; asserts nothing.

    /usr/bin/python3 bench/restart.py [path/to/aiobox] [--runs N]

A live `aiobox -q` on pipes; its idle executor is killed with SIGKILL from
here, and the clock runs from the kill to:

- notice: the supervisor has seen the death, said why, and put a new
  executor in place (`aiobox: started a new executor` on stderr);
- answer: the answer of `1+1`, sent as soon as the notice shows, is read
  back. This is "usable": the new executor ran a statement. Minus the
  round trip of `1+1` in a settled session (printed too), it is the
  restart's own cost.

With the warm spare (default), the new executor is one that was started,
initialised and sandboxed in the background; with --no-standby one is
started after the death. Jupyter's automatic restart takes 2.5 s on this
machine (it polls the kernel process every 3 s); target here: 10 ms from
death to a usable prompt with the spare.

Each kill is a rapid death for the restart budget (5 within 10 s of an
executor's start stop the restarts, with a back-off from the second); so
between kills the bench types `:restart`, which resets the budget, and
waits for the new spare to be ready before the next kill.
"""
import argparse
import os
import re
import select
import signal
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_AIOBOX = os.path.join(HERE, '..', 'build', 'aiobox')
WAIT = 60
JUPYTER_AUTO_RESTART_MS = 2550


class Session:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.bufs = {self.p.stdout.fileno(): bytearray(), self.p.stderr.fileno(): bytearray()}
        self.pos = {fd: 0 for fd in self.bufs}
        for fd in self.bufs:
            os.set_blocking(fd, False)

    def send(self, line):
        self.p.stdin.write(line.encode() + b'\n')
        self.p.stdin.flush()

    def expect(self, stream, pattern):
        """Waits for pattern (a regex, bytes) on stdout or stderr after what
        was consumed; returns (match, time it was read)."""
        fd = (self.p.stdout if stream == 'out' else self.p.stderr).fileno()
        rx = re.compile(pattern)
        deadline = time.monotonic() + WAIT
        while True:
            m = rx.search(self.bufs[fd], self.pos[fd])
            if m:
                self.pos[fd] = m.end()
                return m, time.perf_counter()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f'no {pattern!r}; stderr: {bytes(self.bufs[self.p.stderr.fileno()][-500:])!r}')
            ready, _, _ = select.select(list(self.bufs), [], [], left)
            for r in ready:
                data = os.read(r, 65536)
                if not data:
                    raise RuntimeError('aiobox exited')
                self.bufs[r].extend(data)

    def status(self):
        self.send(':status')
        m, _ = self.expect('out', rb'executor: pid (\d+), (\w+)[^\n]*\n(?:.*\n)*?spare: ([^\n]*)\n')
        self.expect('out', rb'>>> ')
        return int(m.group(1)), m.group(2) == b'ready', m.group(3)

    def round_trip(self):
        t0 = time.perf_counter()
        self.send('1+1')
        _, t = self.expect('out', rb'2\n>>> ')
        return t - t0

    def close(self):
        self.p.stdin.close()
        self.p.wait(WAIT)


def measure(aiobox, standby, runs):
    argv = [aiobox, '-q'] + ([] if standby else ['--no-standby'])
    s = Session(argv)
    s.expect('out', rb'>>> ')
    notice, answer, settled = [], [], []
    for i in range(runs):
        # A settled session: the executor ready, the spare (if any) too.
        while True:
            pid, ready, spare = s.status()
            if ready and (not standby or spare.endswith(b'ready')):
                break
        settled.append(s.round_trip())
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        _, t1 = s.expect('err', rb'aiobox: started a new executor \(restart \d+\)')
        s.send('1+1')
        _, t2 = s.expect('out', rb'2\n>>> ')
        notice.append(t1 - t0)
        answer.append(t2 - t0)
        # Reset the restart budget for the next kill.
        s.send(':restart')
        s.expect('err', rb'aiobox: started a new executor \(restart \d+\)')
        s.expect('out', rb'>>> ')
    s.close()
    ms = lambda v: statistics.median(v) * 1e3
    return ms(notice), ms(answer), ms(settled), max(answer) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('aiobox', nargs='?', default=DEFAULT_AIOBOX)
    ap.add_argument('--runs', type=int, default=20)
    args = ap.parse_args()
    aiobox = os.path.abspath(args.aiobox)
    print(f'aiobox: {aiobox}; SIGKILL of the idle executor, medians of {args.runs}')
    for standby in (True, False):
        notice, answer, settled, worst = measure(aiobox, standby, args.runs)
        label = 'warm spare' if standby else '--no-standby'
        print(f'{label:<13} death to notice {notice:7.2f} ms   death to answer of 1+1 '
              f'{answer:7.2f} ms (max {worst:.2f})   settled round trip {settled:5.2f} ms')
        print(f'{"":<13} death to usable: {answer - settled:7.2f} ms; Jupyter automatic '
              f'restart {JUPYTER_AUTO_RESTART_MS} ms: {JUPYTER_AUTO_RESTART_MS / max(answer, 1e-3):.0f}x '
              f'faster' + ('   (target <= 10 ms)' if standby else ''))


if __name__ == '__main__':
    main()
