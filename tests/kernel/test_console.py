"""`jupyter console --kernel aiobox` driven in a pseudo-terminal, as a
person would use it: statements, a block continued with the kernel's
indent hint, top-level await, the executor killed and the console going
on, `len?`, and leaving.

Ctrl-C is not driven here: jupyter console 6.4.4 on Python 3.11 reports
"cannot enter context" from its event loop as each line is submitted and
then waits for ENTER in raw mode, so a ^C during a cell reaches it as a
character, with ipykernel's kernel as with this one. Interrupts are
tested through jupyter_client (test_resilience.py), by signal and by
message.

The console is prompt_toolkit's: what it draws is full of escape
sequences and redraws, so the tests read the screen's text with escape
sequences removed, and wait for what should show (expect), never for a
fixed time."""
import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time
import unittest

import kernelenv
from kernelenv import TIMEOUT

kernelenv.isolate()
def take_terminal():
    # In the child, after setsid(): the pty becomes its controlling
    # terminal, so ^C written to the master is SIGINT for the console.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


ESCAPES = re.compile(rb'\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r')


class Console:
    def __init__(self):
        master, slave = os.openpty()
        env = dict(os.environ, TERM='xterm', COLUMNS='100', LINES='30',
                   # No cursor-position requests: nobody answers them here.
                   PROMPT_TOOLKIT_NO_CPR='1')
        self.proc = subprocess.Popen(
            ['jupyter', 'console', '--kernel', 'aiobox'],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=take_terminal, close_fds=True)
        os.close(slave)
        self.master = master
        self.raw = b''
        self.pos = 0

    def text(self):
        return ESCAPES.sub(b'', self.raw).decode('utf-8', 'replace')

    def expect(self, pattern, timeout=TIMEOUT):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(), self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'timed out waiting for {pattern!r}; the console shows '
                                     f'{self.text()[self.pos:]!r}')
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b''
                if not chunk:
                    raise AssertionError(f'the console ended while waiting for {pattern!r}; '
                                         f'it showed {self.text()[self.pos:]!r}')
                self.raw += chunk

    def type(self, line):
        os.write(self.master, line.encode() + b'\r')

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


class JupyterConsole(unittest.TestCase):
    def setUp(self):
        self.con = Console()
        self.addCleanup(self.con.close)

    def test_session(self):
        con = self.con
        # The banner is the kernel's (kernel_info_reply).
        con.expect(r'aiobox 0\.1\.0: Python 3\.11\.\d+ in a sandbox \(policy strict\)')
        con.expect(r'In \[1\]: ')
        con.type('x = 6 * 7')
        con.expect(r'In \[2\]: ')
        con.type('x')
        con.expect(r'Out\[2\]: 42')
        con.expect(r'In \[3\]: ')
        # Incomplete: the console asks is_complete, continues the block
        # with the indent the kernel gave, and runs it after an empty line.
        con.type('for i in range(2):')
        con.expect(r'\.\.\.: ')
        con.type('print("line", i)')
        con.expect(r'\.\.\.: ')
        con.type('')
        con.expect(r'line 0\s+line 1')
        con.expect(r'In \[4\]: ')
        con.type('import asyncio; await asyncio.sleep(0.01); "awaited"')
        con.expect(r"Out\[4\]: 'awaited'")
        con.expect(r'In \[5\]: ')
        con.type('import os; os.kill(os.getpid(), 9)')
        con.expect(r'executor killed by SIGKILL')
        con.expect(r'ExecutorDied')
        con.expect(r'In \[6\]: ')
        con.type('x')
        con.expect(r"NameError: name 'x' is not defined")
        con.expect(r'In \[7\]: ')
        con.type('len?')
        con.expect(r'Return the number of items in a container')
        con.expect(r'In \[8\]: ')
        # exit() asks the console to leave (an ask_exit payload); the
        # console then shuts the kernel down.
        con.type('exit()')
        self.assertEqual(con.proc.wait(TIMEOUT), 0)


if __name__ == '__main__':
    kernelenv.main('kernel-console')
