"""Fault-injection soak: a live `aiobox` gets statements one at a time while
its executor is killed at chosen moments, by a signal from outside
(SIGKILL, SIGSEGV, SIGABRT) or by its own code (os._exit, a ctypes
segfault, os._exit from a background callback). Each iteration checks:

- the supervisor is alive and answers (every wait has a timeout: a hang
  fails the iteration and ends the soak);
- the death's cause is printed, and a statement in flight is reported
  (`statement N did not complete`): every statement sent gets its answer
  or an explicit failure;
- nothing else is printed on stderr;
- the executor is restarted: restarts equal deaths;
- a marker statement sent after the crash answers, from a new executor;
- no executor is left behind (at most the executor and its spare are
  children of the supervisor, none a zombie).

Across the run: the supervisor's resident memory (median of the last
quarter against the first) and its open fds stay flat, and `:status`
agrees with the counts at the end.

The restart budget (5 deaths, each within 10 s of an executor's start)
trips by design every fifth death, since the soak kills faster than that.
The soak lets it trip, checks that a statement then fails with a reason,
and types `:restart`, which starts a fresh executor and resets the budget:
that path is exercised as often as any other, and `:restart` counts as one
more restart with no death behind it (`:status` shows both)."""
import os
import random
import re
import signal
import statistics
import time

import livesession
from livesession import Live, Timeout

OUTSIDE = {'SIGKILL': signal.SIGKILL, 'SIGSEGV': signal.SIGSEGV, 'SIGABRT': signal.SIGABRT}
INSIDE = {
    'os._exit': 'print("started", {i}, flush=True); import os; os._exit(1)',
    'ctypes': 'print("started", {i}, flush=True); import ctypes; ctypes.string_at(0)',
}
BACKGROUND = 'import os; _h = asyncio.get_running_loop().call_later(0.005, os._exit, 1)'
CAUSE = {
    'SIGKILL': b'aiobox: executor killed by SIGKILL\n',
    'SIGSEGV': b'aiobox: executor killed by SIGSEGV\n',
    'SIGABRT': b'aiobox: executor killed by SIGABRT\n',
    'os._exit': b'aiobox: executor exited with status 1\n',
    'ctypes': b'aiobox: executor killed by SIGSEGV\n',
    'background': b'aiobox: executor exited with status 1\n',
}
# Where an outside kill lands.
MOMENTS = {
    'idle': None,
    'sync': 'print("started", {i}, flush=True); import time; time.sleep(60)',
    'await': 'print("started", {i}, flush=True); await asyncio.sleep(60)',
    # One line each: iter(int, 1) never ends, and any() keeps going as
    # long as it sees nothing true.
    'busy': 'print("started", {i}, flush=True); any(iter(int, 1))',
    'output': 'print("started", {i}, flush=True); any(print("x" * 200) for _ in iter(int, 1))',
    'fresh': None,    # right after the restart, before anything runs in it
}
# Every line the supervisor may print on stderr during the soak.
EXPECTED_ERR = re.compile(
    rb'^(aiobox: executor killed by SIG(KILL|SEGV|ABRT)|aiobox: executor exited with status 1|aiobox: statement \d+ did not complete'
    rb'|aiobox: the executor died \d times within 10 s of starting; (restarting in \d+ ms|'
    rb'not restarting \(type :restart to try again\))'
    rb'|aiobox: started a new executor \(restart \d+\); the session state was lost'
    rb'|aiobox: no executor is running; type :restart to start one'
    rb'|\[aiobox: output truncated at \d+ bytes; --output-cap BYTES changes the limit\]|)$')
AFTER_DEATH = re.compile(rb'aiobox: started a new executor \(restart (\d+)\)|'
                         rb'aiobox: the executor died 5 times within 10 s of starting; not '
                         rb'restarting')
STATUS_COUNTS = re.compile(rb'restarts: (\d+) \(deaths: (\d+), on request: (\d+)\)')


class IterationFailed(Exception):
    pass


class Soak:
    def __init__(self, iterations, seed, args=(), jitter_ms=0, wait=30, log=None):
        self.iterations = iterations
        self.rng = random.Random(seed)
        self.args = ('-q', *args)
        self.jitter_ms = jitter_ms
        self.wait = wait
        self.log = log
        self.passed = 0
        self.failures = []
        self.deaths = 0
        self.restarts = 0
        self.trips = 0
        self.requests = 0
        self.statements = 0          # the supervisor numbers them from 1
        self.answered = 0
        self.failed_explicitly = 0
        self.by_kind = {}
        self.recovery_ms = []        # death (or kill) to the marker's answer
        self.rss = []
        self.fds = []
        self.sanitized = False

    # --- one statement --------------------------------------------------

    def statement(self, s, source):
        self.statements += 1
        s.send(source)
        return self.statements

    def expect(self, s, what, pattern, since):
        try:
            return s.expect_err(pattern, timeout=self.wait, since=since)
        except Timeout as e:
            raise IterationFailed(f'{what}: {e}') from None

    # --- one iteration --------------------------------------------------

    def iteration(self, s, i, pid):
        kinds = list(OUTSIDE) + list(INSIDE) + ['background']
        kind = self.rng.choice(kinds)
        moment = self.rng.choice(list(MOMENTS)) if kind in OUTSIDE else None
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        mark = s.mark()
        inflight = None
        if moment == 'fresh':
            # Force a restart first, then kill the new executor at once.
            s.run(':restart', timeout=self.wait)
            self.requests += 1
            self.restarts += 1
            pid = s.executor_pid()
            mark = s.mark()
        t0 = time.monotonic()
        if kind in OUTSIDE:
            if MOMENTS[moment]:
                inflight = self.statement(s, MOMENTS[moment].format(i=i))
                s.expect_out(f'started {i}\n'.encode(), timeout=self.wait)
                if self.jitter_ms:
                    time.sleep(self.rng.uniform(0, self.jitter_ms) / 1000)
            t0 = time.monotonic()
            os.kill(pid, OUTSIDE[kind])
        elif kind in INSIDE:
            inflight = self.statement(s, INSIDE[kind].format(i=i))
        else:
            self.statement(s, BACKGROUND)
            out = s.prompt(self.wait)
            if out:
                raise IterationFailed(f'background statement printed {out!r}')
            self.answered += 1
        if inflight:
            s.prompt(self.wait)
        self.expect(s, 'cause', CAUSE[kind], mark)
        self.deaths += 1
        if inflight:
            self.expect(s, 'failure of the statement in flight',
                        f'aiobox: statement {inflight} did not complete\n'.encode(), mark)
            self.failed_explicitly += 1
        m = self.expect(s, 'restart or budget', AFTER_DEATH, mark)
        if m.group(1):
            self.restarts += 1
            if int(m.group(1)) != self.restarts:
                raise IterationFailed(f'restart {m.group(1)}, expected {self.restarts}')
        else:
            self.trips += 1
            sid = self.statement(s, f'print("lost", {i})')
            out = s.prompt(self.wait)
            if out:
                raise IterationFailed(f'statement {sid} ran with no executor: {out!r}')
            self.expect(s, 'explicit failure with no executor',
                        b'aiobox: no executor is running; type :restart to start one\n', mark)
            self.failed_explicitly += 1
            s.run(':restart', timeout=self.wait)
            self.requests += 1
            self.restarts += 1
            self.expect(s, ':restart', f'(restart {self.restarts})'.encode(), mark)
        sid = self.statement(s, f'print("marker", {i}, 1)')
        out = s.prompt(self.wait)
        self.recovery_ms.append((time.monotonic() - t0) * 1000)
        m = re.fullmatch(rb'marker (\d+) 1\n', out)
        if not m or int(m.group(1)) != i:
            raise IterationFailed(f'marker statement {sid} answered {out!r}')
        self.answered += 1
        # The executor's pid as the supervisor knows it (inside its own
        # pid namespace it is 1).
        new_pid = s.executor_pid()
        if new_pid == pid:
            raise IterationFailed('the marker ran in the executor that was killed')
        self.check_err(s.err_since(mark))
        self.check_process(s, pid)
        return new_pid

    def check_err(self, err):
        for line in err.split(b'\n'):
            if not EXPECTED_ERR.match(line):
                raise IterationFailed(f'unexpected line on stderr: {line!r}')

    def check_process(self, s, dead_pid):
        if s.proc.poll() is not None:
            raise IterationFailed(f'the supervisor exited with {s.proc.returncode}')
        kids = livesession.children(s.pid)
        if dead_pid in [p for p, _ in kids]:
            raise IterationFailed(f'executor {dead_pid} was not reaped')
        if len(kids) > 2 or any(state == 'Z' for _, state in kids):
            raise IterationFailed(f'children of the supervisor: {kids}')
        self.rss.append(livesession.proc_status_kib(s.pid))
        self.fds.append(livesession.fd_count(s.pid))

    # --- the run --------------------------------------------------------

    def run(self):
        t_start = time.monotonic()
        with Live(*self.args) as s:
            s.prompt(self.wait)
            # Once it prompts, its libraries are mapped.
            self.sanitized = livesession.is_sanitized(s.pid)
            pid = s.executor_pid()
            for i in range(1, self.iterations + 1):
                try:
                    pid = self.iteration(s, i, pid)
                    self.passed += 1
                except (IterationFailed, Timeout, OSError) as e:
                    self.failures.append(f'iteration {i}: {e}')
                    if s.proc.poll() is not None or isinstance(e, Timeout):
                        break
                    # Resynchronise: whatever happened, find the executor again.
                    try:
                        s.run(':restart', timeout=self.wait)
                        self.requests += 1
                        self.restarts += 1
                        pid = s.executor_pid()
                    except (Timeout, OSError) as e2:
                        self.failures.append(f'iteration {i}: could not recover: {e2}')
                        break
                if self.log and i % 50 == 0:
                    self.log(f'soak: {i} iterations, {self.passed} passed')
            self.status = s.status() if s.proc.poll() is None else b''
            self.exit_status = s.close(self.wait) if s.proc.poll() is None else s.proc.returncode
        self.elapsed = time.monotonic() - t_start
        self.final_checks()
        return self

    def final_checks(self):
        m = STATUS_COUNTS.search(self.status)
        if not m:
            self.failures.append(f'no counts in :status: {self.status!r}')
        else:
            counts = tuple(int(g) for g in m.groups())
            if counts != (self.restarts, self.deaths, self.requests):
                self.failures.append(f':status says restarts, deaths, on request = {counts}; '
                                     f'the soak counted {(self.restarts, self.deaths, self.requests)}')
        if self.restarts != self.deaths - self.trips + self.requests:
            self.failures.append('restarts do not add up')
        if self.exit_status != 0:
            self.failures.append(f'exit status {self.exit_status} at the end of input')
        if self.answered + self.failed_explicitly != self.statements:
            self.failures.append(f'{self.statements} statements sent, {self.answered} answered, '
                                 f'{self.failed_explicitly} failed explicitly')
        if len(self.fds) >= 8:
            # A sample can catch the supervisor spawning a spare (it starts
            # once the session is idle, right after the marker's answer),
            # which holds a few descriptors for a moment; a leak raises
            # every later sample, so the fewest in the last quarter count.
            q = len(self.fds) // 4
            if min(self.fds[-q:]) > max(self.fds[:q]):
                self.failures.append(f'open fds grew: {max(self.fds[:q])} -> '
                                     f'{min(self.fds[-q:])}')
        growth = self.rss_growth_kib()
        # A leak of a few hundred bytes a death shows over 1000 iterations;
        # AddressSanitizer keeps freed memory in quarantine, so its RSS says
        # nothing (LeakSanitizer checks the supervisor at exit instead).
        if growth is not None and not self.sanitized and growth > 256:
            self.failures.append(f'supervisor RSS grew by {growth} KiB')

    def rss_growth_kib(self):
        if len(self.rss) < 8:
            return None
        q = len(self.rss) // 4
        return statistics.median(self.rss[-q:]) - statistics.median(self.rss[:q])

    def summary(self):
        rec = sorted(self.recovery_ms)
        lines = [
            f'iterations: {self.iterations}, passed {self.passed}, in {self.elapsed:.1f} s',
            f'deaths: {self.deaths} ({", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items()))})',
            f'restarts: {self.restarts} = deaths {self.deaths} - budget trips {self.trips} + '
            f':restart {self.requests}',
            f'statements: {self.statements} sent, {self.answered} answered, '
            f'{self.failed_explicitly} failed explicitly',
        ]
        if rec:
            lines.append(f'kill to the marker\'s answer: median {statistics.median(rec):.1f} ms, '
                         f'p90 {rec[int(0.9 * (len(rec) - 1))]:.1f} ms, max {rec[-1]:.1f} ms '
                         f'(includes back-off after rapid deaths)')
        if self.rss:
            q = max(len(self.rss) // 4, 1)
            lines.append(f'supervisor RSS: first quarter median {statistics.median(self.rss[:q])} '
                         f'KiB, last quarter {statistics.median(self.rss[-q:])} KiB'
                         + (' (sanitizer build: not judged)' if self.sanitized else ''))
            lines.append(f'supervisor fds: {min(self.fds)} to {max(self.fds)}')
        lines.extend(self.failures[:20])
        return '\n'.join(lines)
