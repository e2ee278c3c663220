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

INTERNAL_FILE = re.compile(
    r'^(?P<prefix>[ |]*)File "/usr/lib/python3\.11/(concurrent/futures/_base\.py|asyncio/__main__\.py)", '
    r'line \d+, in \w+$')
ADDRESS = re.compile(rb' at 0x[0-9a-f]+')


def strip_internal_frames(text):
    """Drops the frames of CPython's REPL machinery, also inside exception
    group tracebacks (where lines carry a '  | ' prefix)."""
    out, skip_prefix = [], None
    for line in text.split('\n'):
        m = INTERNAL_FILE.match(line)
        if m:
            skip_prefix = m.group('prefix') + '  '
            continue
        if skip_prefix is not None and line.startswith(skip_prefix) and \
                not line[len(skip_prefix):].startswith('File '):
            continue
        skip_prefix = None
        out.append(line)
    return '\n'.join(out)


def mask_addresses(data):
    return ADDRESS.sub(b' at 0x?', data)


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
    # The exit message comes at the end of input, before what the
    # interpreter prints as it finalises (atexit handlers, __del__).
    at = text.rfind('exiting asyncio REPL...\n')
    if at >= 0:
        text = text[:at] + text[at + len('exiting asyncio REPL...\n'):]
    text = strip_internal_frames(text)
    return text.encode('utf-8', 'surrogateescape')


class Result(unittest.TextTestResult):
    pass


def main(name):
    """unittest.main, ending with the lines the CI reads: one SKIP line a
    skipped test (tests/README.md says which reasons count), then
    NAME: N passed, N failed, N skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(getattr(r, 'unexpectedSuccesses', []))
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped
    for test, reason in r.skipped:
        print(f'SKIP {test.id()}: {reason}')
    print(f'{name}: {passed} passed, {failed} failed, {skipped} skipped')
    if failed:
        sys.exit(1)
    sys.exit(77 if skipped and not passed else 0)
