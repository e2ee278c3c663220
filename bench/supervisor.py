"""Benchmark, not a test: prints figures beside `/usr/bin/python3 -m asyncio`
measured in the same run, and the ratios. Asserts nothing.

    /usr/bin/python3 bench/supervisor.py [path/to/aiobox] [--runs N]

1. Time per piped statement: 2001 x `x = 1` and 2001 x
   `await asyncio.sleep(0)` fed on stdin, from spawn to exit, minus the same
   for one statement (start-up, shutdown and a first statement, which
   waits for aiobox's executor to be ready), divided by 2000.
2. Spawn to the first `>>> ` on a pseudo-terminal.
3. Spawn to the answer of `1+1` typed at that first prompt.

Runs of aiobox and Python alternate, so both see the same load; figures
are medians. Targets (bench/README.md): per statement at most 0.6 x
Python's; first prompt within 10 ms; first answer no slower than Python's.
"""
import argparse
import fcntl
import os
import select
import signal
import statistics
import struct
import subprocess
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_AIOBOX = os.path.join(HERE, '..', 'build', 'aiobox')
PYTHON = '/usr/bin/python3'
STATEMENTS = 2000
WAIT = 60


def commands(aiobox):
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'TERM': 'xterm'}
    return {
        'aiobox': ([aiobox, '-q'], env),
        'python': ([PYTHON, '-m', 'asyncio'], env),
    }


# --- piped ------------------------------------------------------------------

def piped_run(argv, env, stdin):
    t0 = time.perf_counter()
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=WAIT)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f'{argv[0]} exited {p.returncode}: {p.stderr[-500:]!r}')
    return dt, p.stdout


def per_statement(cmds, statement, runs):
    one = (statement + '\n').encode()
    body = one * (STATEMENTS + 1)
    times = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (argv, env) in cmds.items():
            base, _ = piped_run(argv, env, one)
            full, out = piped_run(argv, env, body)
            # Every statement was answered: one prompt each, plus the first.
            if out.count(b'>>> ') < STATEMENTS:
                raise RuntimeError(f'{name}: only {out.count(b">>> ")} prompts')
            times[name].append((full - base) / STATEMENTS * 1e6)
    return {name: statistics.median(v) for name, v in times.items()}


# --- pseudo-terminal --------------------------------------------------------

def pty_spawn(argv, env):
    """posix_spawn (vfork and exec, as a shell starts a program) in a new
    session, opening the pty's slave by name so that it becomes the
    controlling terminal. subprocess with a preexec_fn would fork this
    Python process instead, which on this VM costs about 10 ms before the
    program even starts, and that would be counted as aiobox's."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    name = os.ttyname(slave)
    os.close(slave)
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=[
        (os.POSIX_SPAWN_CLOSE, master),
        (os.POSIX_SPAWN_OPEN, 0, name, os.O_RDWR, 0),
        (os.POSIX_SPAWN_DUP2, 0, 1),
        (os.POSIX_SPAWN_DUP2, 0, 2),
    ])
    return pid, master, t0


def pty_wait(master, pattern, buf, start):
    deadline = time.monotonic() + WAIT
    while True:
        i = buf.find(pattern, start)
        if i >= 0:
            return time.perf_counter(), i + len(pattern)
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f'no {pattern!r} on the terminal; got {bytes(buf[-300:])!r}')
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b''
            if not data:
                raise RuntimeError(f'terminal closed; got {bytes(buf[-300:])!r}')
            buf.extend(data)


def pty_run(argv, env):
    """(spawn to first prompt, spawn to the answer of 1+1) in seconds."""
    pid, master, t0 = pty_spawn(argv, env)
    buf = bytearray()
    try:
        t_prompt, end = pty_wait(master, b'>>> ', buf, 0)
        os.write(master, b'1+1\r')
        t_answer, _ = pty_wait(master, b'2\r\n', buf, end)
    finally:
        # The end is not measured; SIGTERM ends both (aiobox takes its
        # executors with it).
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + WAIT
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            # Drain the terminal, so that nothing blocks on a full pty.
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    os.read(master, 65536)
                except OSError:
                    pass
        os.close(master)
    return t_prompt - t0, t_answer - t0


def spawn_floor(runs):
    """Spawn to the first output of a program that only prints, on the same
    kind of terminal: what no program can beat here."""
    got = []
    for _ in range(runs):
        pid, master, t0 = pty_spawn(['/usr/bin/printf', '>>> '], {'PATH': '/usr/bin:/bin'})
        try:
            t, _ = pty_wait(master, b'>>> ', bytearray(), 0)
            got.append((t - t0) * 1e3)
        finally:
            os.waitpid(pid, 0)
            os.close(master)
    return statistics.median(got)


def pty_figures(cmds, runs):
    prompt = {name: [] for name in cmds}
    answer = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (argv, env) in cmds.items():
            a, b = pty_run(argv, env)
            prompt[name].append(a * 1e3)
            answer[name].append(b * 1e3)
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}
    return med(prompt), med(answer)


def line(label, ours, theirs, unit, target):
    ratio = ours / theirs if theirs else float('nan')
    print(f'{label:<40} aiobox {ours:8.1f} {unit}   python {theirs:8.1f} {unit}   '
          f'ratio {ratio:5.2f}   ({target})')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('aiobox', nargs='?', default=DEFAULT_AIOBOX)
    ap.add_argument('--runs', type=int, default=5, help='runs of each (default 5)')
    ap.add_argument('--only', choices=('piped', 'pty'), help='one half of the figures')
    args = ap.parse_args()
    cmds = commands(os.path.abspath(args.aiobox))
    print(f'aiobox: {cmds["aiobox"][0][0]}; reference: {PYTHON} -m asyncio; '
          f'medians of {args.runs} runs, interleaved')
    for statement in ('x = 1', 'await asyncio.sleep(0)') if args.only != 'pty' else ():
        r = per_statement(cmds, statement, args.runs)
        line(f'piped, {STATEMENTS} x `{statement}`', r['aiobox'], r['python'], 'us',
             'target ratio <= 0.6')
    if args.only == 'piped':
        return
    prompt, answer = pty_figures(cmds, max(args.runs, 10))
    line('pty, spawn to first prompt', prompt['aiobox'], prompt['python'], 'ms',
         'target aiobox <= 10 ms')
    line('pty, spawn to the answer of 1+1', answer['aiobox'], answer['python'], 'ms',
         'target ratio <= 1')
    print(f'{"pty, spawn to the output of printf":<40} {spawn_floor(max(args.runs, 10)):8.1f} ms '
          '(the floor of the two figures above)')


if __name__ == '__main__':
    main()
