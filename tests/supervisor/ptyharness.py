"""Drives the real `aiobox` on a pseudo-terminal: the child gets the pty as
its controlling terminal and as stdin, stdout and stderr, TERM=xterm and a
fixed window size. Reads are expect-style: wait (select) until a pattern
shows up in what the terminal received, with a generous timeout that fails
the test; nothing waits for a fixed time."""
import fcntl
import os
import re
import select
import struct
import subprocess
import tempfile
import termios
import time

import harness

ROWS, COLS = 24, 80
TIMEOUT = 20
CTRL_C, CTRL_D, TAB, UP = b'\x03', b'\x04', b'\t', b'\x1b[A'
PASTE_START, PASTE_END = b'\x1b[200~', b'\x1b[201~'
# The primary prompt, matched on its own: readline surrounds it with
# carriage returns and mode-setting sequences.
PROMPT = rb'>>> '


class Timeout(AssertionError):
    pass


def _take_terminal():
    # Runs in the child after setsid(): make the pty its controlling
    # terminal, so ^C written to the master raises SIGINT in it.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtySession:
    """One aiobox process on a fresh pty. `data` is everything the
    terminal received; `pos` is where the next expect() starts looking."""

    def __init__(self, args=(), home=None, history=None, quiet=True, env=None):
        """history: a file for --history, None for one in the session's
        home, False for none (aiobox then uses $HOME/.aiobox_history)."""
        self.tmp = tempfile.TemporaryDirectory(prefix='aiobox-tty-')
        self.home = home or self.tmp.name
        if history is None:
            history = os.path.join(self.home, 'history')
        self.history = history
        options = [*(['-q'] if quiet else []), *(['--history', history] if history else [])]
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', ROWS, COLS, 0, 0))
        self.saved_attrs = termios.tcgetattr(slave)
        full_env = {
            'PATH': '/usr/bin:/bin',
            'TERM': 'xterm',
            'HOME': self.home,
            'LANG': 'C.UTF-8',
            'INPUTRC': '/dev/null',
        }
        for key in ('ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'):
            if key in os.environ:
                full_env[key] = os.environ[key]
        full_env.update(env or {})
        self.slave_name = os.ttyname(slave)
        try:
            self.proc = subprocess.Popen(
                [harness.AIOBOX, *options, *args],
                stdin=slave, stdout=slave, stderr=slave, env=full_env,
                start_new_session=True, preexec_fn=_take_terminal, close_fds=True)
        finally:
            # Only the child holds the slave: its exit closes the terminal,
            # and an expect() then fails at once instead of at its timeout.
            os.close(slave)
        self.master = master
        self.data = b''
        self.pos = 0

    # --- reading ---------------------------------------------------------

    def _read_some(self, wait):
        """Reads what the terminal has, waiting up to wait seconds for it;
        False if nothing came."""
        ready, _, _ = select.select([self.master], [], [], max(0, wait))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every slave fd is closed
            chunk = b''
        if not chunk:
            raise EOFError
        self.data += chunk
        return True

    def expect(self, pattern, timeout=TIMEOUT):
        """Waits until pattern (a bytes regex, or a str taken literally)
        matches after pos; moves pos to the end of the match and returns
        the match."""
        if isinstance(pattern, str):
            pattern = re.escape(pattern.encode())
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.data, self.pos)
            if m:
                self.pos = m.end()
                return m
            try:
                left = deadline - time.monotonic()
                if left <= 0 or not self._read_some(left):
                    raise Timeout(f'timed out after {timeout} s waiting for {rx.pattern!r};'
                                  f' the terminal shows after it: {self.data[self.pos:]!r}')
            except EOFError:
                raise Timeout(f'the terminal closed while waiting for {rx.pattern!r};'
                              f' it shows after it: {self.data[self.pos:]!r}') from None

    def screen_lines(self):
        """The non-empty lines the terminal shows, oldest first."""
        return [line for line in visible(self.data) if line]

    def expect_screen(self, last_lines, timeout=TIMEOUT):
        """Waits until the screen's last non-empty lines are last_lines
        (readline redraws by moving the cursor, so the raw bytes do not
        show a recalled line whole)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.screen_lines()[-len(last_lines):] == last_lines:
                self.pos = len(self.data)
                return
            try:
                left = deadline - time.monotonic()
                if left <= 0 or not self._read_some(left):
                    raise Timeout(f'timed out after {timeout} s waiting for the screen to end'
                                  f' with {last_lines!r}; it ends with'
                                  f' {self.screen_lines()[-len(last_lines):]!r}')
            except EOFError:
                raise Timeout(f'the terminal closed while waiting for {last_lines!r}') from None

    def expect_prompt(self, prompt=PROMPT, timeout=TIMEOUT):
        return self.expect(prompt, timeout)

    def wait_exit(self, timeout=TIMEOUT):
        """Reads until the terminal closes and waits for the process;
        returns its exit status."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self._read_some(left):
                    raise Timeout(f'aiobox did not exit within {timeout} s; the terminal'
                                  f' shows: {self.data[self.pos:]!r}')
        except EOFError:
            pass
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    # --- writing ---------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        os.write(self.master, data)

    def line(self, text):
        self.send(text + '\r')

    def run(self, statement, then=PROMPT):
        """Types a statement and returns the text the terminal showed up to
        the next prompt."""
        start = self.pos
        self.line(statement)
        m = self.expect(then)
        return self.data[start:m.start()]

    # --- the end ---------------------------------------------------------

    def terminal_attrs(self):
        """The terminal's settings as a process opening it now sees them."""
        fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            return termios.tcgetattr(fd)
        finally:
            os.close(fd)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.tmp.cleanup()


def visible(data, rows=None):
    """What the bytes leave on a terminal screen, as lines of text: a small
    VT100 model (printable text, CR, LF, BS, cursor moves, erase to end of
    line/screen), enough for readline's redisplay with TERM=xterm. A full
    row wraps only when the next character comes, as xterm's does. With
    rows, the screen has that many: cursor moves stop at its top row, and
    a line feed on its bottom row scrolls (the lines above stay in the
    list, as a terminal's scrollback)."""
    lines = [[]]
    row = col = 0
    top = 0
    pending = False
    i = 0
    text = data.decode('utf-8', 'replace')

    def put(ch):
        nonlocal col, pending
        if pending:
            newline()
        line = lines[row]
        while len(line) < col:
            line.append(' ')
        if col < len(line):
            line[col] = ch
        else:
            line.append(ch)
        if col + 1 >= COLS:
            pending = True
        else:
            col += 1

    def newline():
        nonlocal row, col, top, pending
        pending = False
        row += 1
        col = 0
        while len(lines) <= row:
            lines.append([])
        if rows is not None and row >= top + rows:
            top = row - rows + 1

    while i < len(text):
        ch = text[i]
        if ch == '\x1b':
            m = re.compile(r'\x1b\[([0-9;?]*)([@-~])|\x1b[=>]').match(text, i)
            if not m:
                i += 1
                continue
            i = m.end()
            if not m.group(2):
                continue
            params, final = m.group(1), m.group(2)
            if params.startswith('?'):
                continue
            n = int(params) if params.isdigit() else 1
            if final in 'ABCDKJ':
                pending = False
            if final == 'A':
                row = max(top, row - n)
            elif final == 'B':
                row += n
                if rows is not None:
                    row = min(row, top + rows - 1)
                while len(lines) <= row:
                    lines.append([])
            elif final == 'C':
                col = min(col + n, COLS - 1)
            elif final == 'D':
                col = max(0, col - n)
            elif final == 'K':
                del lines[row][col:]
            elif final == 'J':
                del lines[row][col:]
                del lines[row + 1:]
            continue
        i += 1
        if ch == '\r':
            col = 0
            pending = False
        elif ch == '\n':
            col_kept = col
            newline()
            col = col_kept
        elif ch == '\b':
            pending = False
            col = max(0, col - 1)
        elif ch == '\x07':
            pass
        else:
            put(ch)
    return [''.join(line).rstrip() for line in lines]
