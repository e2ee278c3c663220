"""Shared helpers for the supervisor's integration tests: they drive the
real `aiobox` binary (path in $AIOBOX) and compare with the reference,
`/usr/bin/python3 -m asyncio`, run live in the same test."""
import os
import re
import subprocess
import sys
import unittest

AIOBOX = os.environ.get('AIOBOX', os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'aiobox'))
PYTHON = '/usr/bin/python3'
TIMEOUT = 60

INTERNAL_FRAME = re.compile(
    r'  File "/usr/lib/python3\.11/(concurrent/futures/_base\.py|asyncio/__main__\.py)", line \d+, in \w+\n'
    r'(?:    .*\n)*')


def run_aiobox(stdin, args=('-q',), timeout=TIMEOUT, env=None):
    p = subprocess.run([AIOBOX, *args], input=stdin, capture_output=True, timeout=timeout,
                       env=env if env is not None else os.environ.copy())
    return p.returncode, p.stdout, p.stderr


def run_reference(stdin, timeout=TIMEOUT):
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'}
    p = subprocess.run([PYTHON, '-m', 'asyncio'], input=stdin, capture_output=True,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout, reference_stderr(p.stderr)


def reference_stderr(err):
    """The reference's stderr without its banner, its exit message, and the
    REPL-machinery frames CPython wrongly shows (gh-153248)."""
    text = err.decode('utf-8', 'surrogateescape')
    lines = text.split('\n')
    # Banner: 'asyncio REPL ...', 'Use "await" ...', 'Type "help" ...', then
    # the prompt and 'import asyncio' on one line.
    if lines and lines[0].startswith('asyncio REPL '):
        lines = lines[4:]
    text = '\n'.join(lines)
    if text.endswith('exiting asyncio REPL...\n'):
        text = text[:-len('exiting asyncio REPL...\n')]
    text = INTERNAL_FRAME.sub('', text)
    return text.encode('utf-8', 'surrogateescape')


class Result(unittest.TextTestResult):
    pass


def main(name):
    """unittest.main, ending with the line the CI sums."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(getattr(r, 'unexpectedSuccesses', []))
    passed = r.testsRun - failed - len(r.skipped)
    print(f'{name}: {passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)
