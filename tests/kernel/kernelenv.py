"""What the kernel tests share: a Jupyter world of their own and a client
that collects what a cell sends.

isolate() points every Jupyter location (data, config, runtime, the
kernelspec path, IPython's directory, HOME) into a temporary directory
and installs aiobox's kernelspec there with `aiobox kernel install
--prefix`, so the tests never read or write the machine's own Jupyter
setup and pass as root from a fresh clone. The python3 kernel (ipykernel)
is still found where Debian installs it, /usr/share/jupyter."""
import atexit
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

AIOBOX = os.environ.get('AIOBOX',
                        os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'aiobox'))
TIMEOUT = 30

_root = None


def isolate(install_args=()):
    """Makes the temporary Jupyter world (once) and returns its root."""
    global _root
    if _root:
        return _root
    _root = tempfile.mkdtemp(prefix='aiobox-kernel-test-')
    atexit.register(shutil.rmtree, _root, True)
    for d in ('prefix', 'data', 'config', 'runtime', 'ipython', 'home'):
        os.makedirs(os.path.join(_root, d))
    os.environ.update({
        'JUPYTER_PATH': os.path.join(_root, 'prefix', 'share', 'jupyter'),
        'JUPYTER_DATA_DIR': os.path.join(_root, 'data'),
        'JUPYTER_CONFIG_DIR': os.path.join(_root, 'config'),
        'JUPYTER_RUNTIME_DIR': os.path.join(_root, 'runtime'),
        'IPYTHONDIR': os.path.join(_root, 'ipython'),
        'HOME': os.path.join(_root, 'home'),
        'XDG_DATA_HOME': os.path.join(_root, 'home', '.local', 'share'),
        'XDG_CONFIG_HOME': os.path.join(_root, 'home', '.config'),
        'PYTHONDONTWRITEBYTECODE': '1',
        # ipykernel's debugger warns about frozen modules on every start.
        'PYDEVD_DISABLE_FILE_VALIDATION': '1',
    })
    install('aiobox', *install_args)
    return _root


def install(name, *args):
    """aiobox kernel install --prefix (the test world's) --name NAME ARGS."""
    prefix = os.path.join(_root, 'prefix')
    p = subprocess.run([AIOBOX, 'kernel', 'install', '--prefix', prefix, '--name', name, *args],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f'aiobox kernel install failed ({p.returncode}): {p.stderr}')
    return p


class Cell:
    """What one execute_request got: its reply, and the iopub messages
    with its header as parent, from busy to idle."""

    def __init__(self, reply, msgs):
        self.reply = reply
        self.content = reply['content']
        self.msgs = msgs

    def of(self, msg_type):
        return [m for m in self.msgs if m['msg_type'] == msg_type]

    def stream(self, name):
        return ''.join(m['content']['text'] for m in self.of('stream')
                       if m['content']['name'] == name)

    def types(self):
        return [m['msg_type'] for m in self.msgs]


class Client:
    """A blocking client's messages, sorted by parent: run() waits for a
    cell's reply and its idle; messages of other parents (background
    tasks of earlier cells) are kept in `others`."""

    def __init__(self, kc):
        self.kc = kc
        self.others = []
        self.pending = {}

    def _take_iopub(self, timeout):
        msg = self.kc.get_iopub_msg(timeout=timeout)
        parent = msg['parent_header'].get('msg_id')
        self.pending.setdefault(parent, []).append(msg)
        return msg

    def wait_idle(self, msg_id, timeout=TIMEOUT):
        """The iopub messages of msg_id up to its idle (others are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.pending.get(msg_id, [])
            if got and got[-1]['msg_type'] == 'status' and \
                    got[-1]['content']['execution_state'] == 'idle':
                return self.pending.pop(msg_id)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no idle for {msg_id} within {timeout} s; got {got}')
            try:
                self._take_iopub(left)
            except queue.Empty:
                pass

    def reply_to(self, msg_id, timeout=TIMEOUT, channel='shell'):
        get = self.kc.get_shell_msg if channel == 'shell' else self.kc.get_control_msg
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no reply to {msg_id} within {timeout} s')
            reply = get(timeout=left)
            if reply['parent_header'].get('msg_id') == msg_id:
                return reply

    def run(self, code, timeout=TIMEOUT, **kw):
        msg_id = self.kc.execute(code, **kw)
        reply = self.reply_to(msg_id, timeout)
        msgs = self.wait_idle(msg_id, timeout)
        return Cell(reply, msgs)

    def collect_others(self, until, timeout=TIMEOUT):
        """Takes iopub messages until until(msg) is true for one (which
        may belong to any parent); returns that message."""
        deadline = time.monotonic() + timeout
        for msgs in self.pending.values():
            for m in msgs:
                if until(m):
                    return m
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no such iopub message within {timeout} s')
            try:
                m = self._take_iopub(left)
            except queue.Empty:
                continue
            if until(m):
                return m


def main(name):
    """unittest, then the closing line tools/summarize.py reads; a skip
    would print its reason (none is expected: every test here runs)."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(getattr(r, 'unexpectedSuccesses', []))
    skipped = len(r.skipped)
    for test, reason in r.skipped:
        print(f'SKIP {test.id()}: {reason}')
    passed = r.testsRun - failed - skipped
    print(f'{name}: {passed} passed, {failed} failed, {skipped} skipped')
    sys.stdout.flush()
    sys.exit(1 if failed else 0)
