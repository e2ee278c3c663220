"""aiobox-executor's Python side.

Runs the statements the supervisor sends as CPython's asyncio REPL does
(Lib/asyncio/__main__.py): compiled in 'single' mode with top-level await
allowed, called inside an event-loop callback, a coroutine result run as a
Task. There is no console thread: the event loop itself watches the
channel, and runs for the whole session, so tasks a statement starts keep
running between statements. The C host calls prepare() before the sandbox
goes on and serve() after.
"""

import sys

# rlcompleter would import readline and set up a terminal library that
# nothing here uses; hide readline while rlcompleter loads.
sys.modules['readline'] = None
try:
    import rlcompleter
finally:
    del sys.modules['readline']

import _aiobox
import ast
import asyncio
import builtins
import code
import codecs
import codeop
import collections
import concurrent.futures
import contextvars
import inspect
import io
import json
import errno
import linecache
import os
import pkgutil
import importlib.machinery
import re
import selectors
import signal
import site
import threading
import traceback
import types
import warnings

_HERE = (lambda: None).__code__.co_filename
_MAX_MATCHES = 1000
_RUNPY_FRAMES = 3
_TRACEBACK_HEADER = 'Traceback (most recent call last):\n'
_CHAIN_SEPARATORS = (
    '\nThe above exception was the direct cause of the following exception:\n\n',
    '\nDuring handling of the above exception, another exception occurred:\n\n',
)

# Rich sessions: the statement whose code is running, set in the session's
# context as each statement begins. A task copies the context it was
# created in, so what it writes later, while another statement runs or
# none, is tagged with the statement that created it (the output's
# origin), and a notebook shows it under that cell.
_ORIGIN = contextvars.ContextVar('aiobox_origin', default=None)


class _Output:
    """Sends text as output frames tagged with the running statement (None
    between statements), and stops sending once one statement, or one
    stretch between statements, has sent more than its cap: the supervisor
    cuts the output at the cap and says so, and needs no more than one byte
    beyond it to know."""

    def __init__(self, cap):
        self.policy_cap = cap
        self.cap = cap
        # The stretches between statements: the last cap the supervisor
        # gave (until it gives one, the policy's).
        self.stretch_cap = cap
        self.tag = None
        self.sent = 0
        self.cut = False

    def retag(self, tag, cap=None):
        # A statement's cap is the one its exec frame gives (0: none); the
        # stretch after it keeps that cap, as the supervisor does.
        if cap is not None:
            self.stretch_cap = cap
        self.cap = self.stretch_cap if cap is None else cap
        self.tag = tag
        self.sent = 0
        self.cut = False

    def emit(self, stream, text, origin=None):
        if self.cut:
            return
        data = text.encode('utf-8', 'backslashreplace')
        if self.cap:
            room = self.cap + 1 - self.sent
            if len(data) > room:
                data = data[:room]
                self.cut = True
        self.sent += len(data)
        if data:
            _aiobox.send_output(stream, self.tag, data, origin)


class _Streams:
    """sys.stdout and sys.stderr. Line-buffered; a partial line goes out at
    the end of the loop iteration that wrote it, and one stream's pending
    text goes out before the other is written to, so order is kept."""

    def __init__(self, output, loop):
        self.output = output
        self.loop = loop
        self.lock = threading.RLock()
        self.main_thread = threading.get_ident()
        self.flush_scheduled = False
        # Once the session ends the loop runs no more: every write goes
        # out at once.
        self.immediate = False
        self.stdout = _ChannelStream(self, _aiobox.STDOUT, '<stdout>')
        self.stderr = _ChannelStream(self, _aiobox.STDERR, '<stderr>')

    def flush_all(self):
        with self.lock:
            self.flush_scheduled = False
            self.stdout.flush_locked()
            self.stderr.flush_locked()

    def schedule_flush(self):
        if self.immediate:
            self.flush_all()
            return
        if self.flush_scheduled:
            return
        self.flush_scheduled = True
        try:
            if threading.get_ident() == self.main_thread:
                self.loop.call_soon(self.flush_all)
            else:
                self.loop.call_soon_threadsafe(self.flush_all)
        except RuntimeError:
            self.flush_all()


class _ChannelStream(io.TextIOBase):
    """A text stream whose writes become output frames (see _Streams)."""

    def __init__(self, hub, stream, name):
        super().__init__()
        self._hub = hub
        self._stream = stream
        self._name = name
        self._pending = []
        self._origin = None       # of the pending text (see _ORIGIN)
        self._buffer = None

    name = property(lambda self: self._name)
    encoding = property(lambda self: 'utf-8')
    errors = property(lambda self: 'backslashreplace')
    line_buffering = property(lambda self: True)

    @property
    def buffer(self):
        if self._buffer is None:
            self._buffer = _ChannelBuffer(self)
        return self._buffer

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f'write() argument must be str, not {type(s).__name__}')
        if self.closed:
            raise ValueError('I/O operation on closed file.')
        hub = self._hub
        origin = _ORIGIN.get()
        with hub.lock:
            other = hub.stderr if self is hub.stdout else hub.stdout
            other.flush_locked()
            if origin != self._origin:
                # Text of another cell's making goes out on its own.
                self.flush_locked()
                self._origin = origin
            self._pending.append(s)
            if '\n' in s:
                self.flush_locked()
            else:
                hub.schedule_flush()
        return len(s)

    def flush(self):
        if self.closed:
            raise ValueError('I/O operation on closed file.')
        with self._hub.lock:
            self.flush_locked()

    def flush_locked(self):
        if self._pending:
            text = ''.join(self._pending)
            self._pending = []
            self._hub.output.emit(self._stream, text, self._origin)


class _ChannelBuffer(io.BufferedIOBase):
    """sys.stdout.buffer: bytes decoded as UTF-8 into the text stream."""

    def __init__(self, text):
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder('utf-8')('replace')

    def writable(self):
        return True

    def write(self, b):
        data = bytes(memoryview(b))
        self._text.write(self._decoder.decode(data))
        return len(data)

    def flush(self):
        self._text.flush()


class _Stdin(io.TextIOBase):
    """sys.stdin: the user's next lines, asked of the supervisor as
    input() asks for one. Piped, they are the lines after the statement
    (which then are not run as statements), as the REPL and sys.stdin
    share one stream in CPython; at a terminal, a line typed there."""

    def __init__(self, runtime):
        super().__init__()
        self._runtime = runtime
        self._buffer = ''

    name = property(lambda self: '<stdin>')
    encoding = property(lambda self: 'utf-8')
    errors = property(lambda self: 'strict')

    def readable(self):
        return True

    def isatty(self):
        return self._runtime.terminal

    def fileno(self):
        raise io.UnsupportedOperation('fileno')

    def _check(self):
        if self.closed:
            raise ValueError('I/O operation on closed file.')

    def _fill(self, limit=-1):
        """Asks for one more line (at most limit characters of it, where
        the REPL reads the rest); False at end of input."""
        hint = str(limit) if limit > 0 else ''
        text = self._runtime._read_line(hint, _aiobox.INPUT_STDIN)
        if not text:
            return False
        self._buffer += text
        return True

    def _take(self, n):
        text, self._buffer = self._buffer[:n], self._buffer[n:]
        return text

    def buffered(self):
        return bool(self._buffer)

    def readline(self, size=-1):
        self._check()
        size = -1 if size is None else size.__index__()
        while '\n' not in self._buffer and (size < 0 or len(self._buffer) < size):
            if not self._fill(size - len(self._buffer) if size >= 0 else -1):
                break
        end = self._buffer.find('\n') + 1 or len(self._buffer)
        return self._take(end if size < 0 else min(end, size))

    def read(self, size=-1):
        self._check()
        size = -1 if size is None else size.__index__()
        if size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size:
            if not self._fill(size - len(self._buffer)):
                break
        return self._take(size)


def _install_terminal_pager(runtime):
    """help() at a terminal pages as CPython's does there: the text, its
    bold overstrikes and all, goes to the front end's pager."""
    import pydoc

    def pager(text, title=''):
        runtime.streams.flush_all()
        st = runtime.current
        _aiobox.send_page(st.id if st is not None else None, str(text))

    pydoc.pager = pager


def _make_getpass(runtime):
    def getpass(prompt='Password: ', stream=None):
        """Prompt for a password, with echo turned off. The prompt and the
        line go through the aiobox user's terminal (or its input)."""
        runtime.streams.flush_all()
        line = runtime._read_line(str(prompt), _aiobox.INPUT_PASSWORD)
        if line is None:
            raise EOFError
        # An empty password is '' (CPython's getpass returns it too).
        return line[:-1] if line.endswith('\n') else line
    return getpass


class _Interpreter(code.InteractiveInterpreter):
    """For showsyntaxerror, exactly as CPython's console shows one."""

    def __init__(self, namespace, write):
        super().__init__(namespace)
        self._write = write

    def write(self, data):
        self._write(data)


class _Statement:
    """One exec, from its arrival to its result."""
    __slots__ = ('id', 'task', 'phase', 'interrupted', 'cancelled', 'mode', 'rich',
                 'silent', 'usage', 'value', 'has_value', 'compile_error', 'source')

    def __init__(self, sid, mode='single', rich=False, silent=False):
        self.id = sid
        self.task = None
        self.phase = 'queued'      # then 'sync', maybe 'task', then 'done'
        self.interrupted = False   # a SIGINT reached it
        self.cancelled = False     # ... and cancelled its task
        self.mode = mode           # 'single', 'block' or 'cell'
        self.rich = rich           # cell: rich representations of the value
        self.silent = silent
        self.usage = _aiobox.rusage()
        self.value = None          # cell: the last expression's value
        self.has_value = False
        self.compile_error = False
        self.source = ''


def _as_future_result(exc):
    """The exception as CPython's REPL reports it: it waits on a
    concurrent.futures.Future chained to the task, which turns asyncio's
    own exception classes into new, traceback-less ones."""
    cls = type(exc)
    if cls is asyncio.CancelledError:
        return concurrent.futures.CancelledError(*exc.args)
    if cls is asyncio.TimeoutError:
        return concurrent.futures.TimeoutError(*exc.args)
    if cls is asyncio.InvalidStateError:
        return concurrent.futures.InvalidStateError(*exc.args)
    return exc


def _user_frames(tb):
    """tb without the runtime's own frames (wherever they are: input() is
    ours, and a traceback through it must look as if it were built in)."""
    head = last = None
    while tb is not None:
        following = tb.tb_next
        if tb.tb_frame.f_code.co_filename != _HERE:
            if last is None:
                head = tb
            else:
                last.tb_next = tb
            last = tb
        tb = following
    if last is not None:
        last.tb_next = None
    return head


def _strip_runtime(exc):
    """Removes the runtime's frames from exc and the exceptions chained to
    or grouped in it."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            e.__traceback__ = _user_frames(e.__traceback__)
        except BaseException:
            pass
        todo += (e.__cause__, e.__context__)
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions


def _involves(exc, cls):
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, cls):
            return True
        todo += (e.__cause__, e.__context__)
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions
    return False


# What a denial was, told from the frames it went through and the call on
# the statement's line: calls of these names, or code in these modules.
_NET_CALLS = re.compile(r'\b(socket|create_connection|open_connection|connect|bind|listen|'
                        r'getaddrinfo|urlopen|sendto|start_server|create_server|'
                        r'create_datagram_endpoint)\s*\(')
_PROC_CALLS = re.compile(r'\b(fork|forkpty|posix_spawnp?|spawn[lv]p?e?|exec[lv]p?e?|system|'
                         r'popen|Popen|run|call|check_call|check_output|getoutput|'
                         r'create_subprocess_exec|create_subprocess_shell|Process|Pool)\s*\(')
_NET_FILES = ('/socket.py', '/ssl.py', '/urllib/request.py', '/http/client.py',
              '/asyncio/base_events.py', '/asyncio/selector_events.py', '/asyncio/streams.py')
_PROC_FILES = ('/subprocess.py', '/os.py', '/asyncio/subprocess.py',
               '/asyncio/unix_events.py', '/multiprocessing/', '/pty.py')


def _innermost(exc, cls):
    """The exception of class cls deepest in exc's chain and groups."""
    seen = set()
    todo = [exc]
    found = None
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, cls):
            found = e
        todo += (e.__cause__, e.__context__)
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions
    return found


def _classify_denial(exc, source):
    """(kind, call) for a PermissionError the sandbox caused: kind 'net',
    'path', 'process' or 'other'; None when exc involves none."""
    err = _innermost(exc, PermissionError)
    # The sandbox answers with EPERM (seccomp) or EACCES (landlock); a
    # PermissionError user code raised itself has no errno.
    if err is None or err.errno not in (errno.EPERM, errno.EACCES):
        return None
    if getattr(err, 'filename', None) is not None:
        return 'path', 'open'
    files = []
    lineno = None
    tb = err.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        if tb.tb_frame.f_code.co_filename == '<console>':
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = source.splitlines()
    line = lines[lineno - 1] if lineno and 0 < lineno <= len(lines) else source
    calls = [(m.start(), 'net', m.group(1)) for m in _NET_CALLS.finditer(line)]
    calls += [(m.start(), 'process', m.group(1)) for m in _PROC_CALLS.finditer(line)]
    for name in reversed(files):
        if name.endswith(_NET_FILES):
            return 'net', next((c for _, k, c in calls if k == 'net'), 'socket')
        if any(part in name for part in _PROC_FILES):
            return 'process', next((c for _, k, c in calls if k == 'process'), 'fork')
    if calls:
        _, kind, call = min(calls)
        return kind, call
    return 'other', ''


_KIND_CALL = {'net': 'socket', 'path': 'openat', 'process': 'clone'}


def _denial_hint(kind, policy):
    """One line, within 80 columns, saying what would allow it."""
    name = policy if len(policy) <= 10 else policy[:9] + '…'
    if kind == 'net':
        if policy == 'net':
            return 'aiobox: policy net allows outgoing TCP only; --policy trusted allows more'
        return f'aiobox: no network under policy {name}; --policy net allows outgoing TCP'
    if kind == 'path':
        return 'aiobox: path outside the sandbox; --allow-read or --allow-write DIR grants it'
    if kind == 'process':
        return f'aiobox: no child processes under policy {name}; --policy trusted allows them'
    return f'aiobox: refused by the sandbox (policy {name}); --policy trusted allows more'


# The standard library's own frames that a sandbox denial surfaces from,
# and the call it was: (file, function) -> system call; file alone -> call.
_DENIED_CALLS = {
    ('socket.py', 'connect'): 'connect', ('socket.py', 'connect_ex'): 'connect',
    ('socket.py', 'bind'): 'bind', ('socket.py', 'create_connection'): 'connect',
    'socket.py': 'socket', 'subprocess.py': 'clone', 'os.py': 'clone',
    'popen_fork.py': 'clone', 'forkserver.py': 'clone',
}


def _denied_call(err):
    """The system call the sandbox refused that raised PermissionError err
    (found by _classify_denial), as far as its traceback tells; '' when it
    does not."""
    if getattr(err, 'filename', None) is not None:
        return 'openat'
    tb, last = err.__traceback__, None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ''
    name = last.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]
    return _DENIED_CALLS.get((name, last.tb_frame.f_code.co_name)) or _DENIED_CALLS.get(name, '')


def _summary(exc):
    try:
        lines = traceback.format_exception_only(type(exc), exc)
        return lines[-1].strip() if lines else type(exc).__name__
    except BaseException:
        return type(exc).__name__


_PROMPT_MAX = 256

# Loop iterations a queued statement waits for the loop to go idle before it
# starts anyway (see _Selector).
_PATIENCE = 4


class _Selector(selectors.EpollSelector):
    """The event loop's selector; queued statements start from here.

    In CPython's REPL the next statement reaches the loop a round trip
    after the previous result, so background work that is ready by then,
    such as a timer that fell due during a blocking statement and the task
    it wakes, runs first. The supervisor may send statements ahead of
    time, so the executor recreates that gap: the next statement starts
    when the loop is about to sleep (nothing ready, no timer due), or after
    _PATIENCE busy iterations, so that a busy background task cannot starve
    it. Either way it starts from a callback of the same iteration, at the
    stack depth CPython gives a statement."""

    def __init__(self, runtime):
        super().__init__()
        self._runtime = runtime
        self._busy_turns = 0

    def select(self, timeout=None):
        runtime = self._runtime
        if runtime.queue and runtime.current is None and runtime.ending is None:
            if timeout is None or timeout > 0 or self._busy_turns >= _PATIENCE:
                self._busy_turns = 0
                runtime.start_next()
                timeout = 0
            else:
                self._busy_turns += 1
        return super().select(timeout)


# The dotted name right before the cursor: what completion replaces.
_WORD_BEFORE = re.compile(r'[\w.]*\Z')
# A dotted name: what inspection looks up.
_DOTTED = re.compile(r'[^\W\d]\w*(?:\.[^\W\d]\w*)*')


# --- completion ------------------------------------------------------------
# What 3.13's REPL completes (rlcompleter: names, dotted names), plus dict
# keys, attributes of expressions, module names after import and from,
# and file paths inside strings; inside a string never a name.

_STRING_PREFIX = re.compile(r'(?i)(?:rb|br|fr|rf|[rbfu])?\Z')
_IMPORT_LINE = re.compile(r'\s*import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*([\w.]*)\Z')
_FROM_LINE = re.compile(r'\s*from\s+([\w.]*)\Z')
_FROM_IMPORT_LINE = re.compile(
    r'\s*from\s+([\w.]+)\s+import\s+\(?\s*(?:\w+(?:\s+as\s+\w+)?\s*,\s*)*(\w*)\Z')
_ATTRIBUTE_AFTER = re.compile(r'\.(\w*)\Z')
_PATH_ENTRIES_MAX = 5000


def _scan(text):
    """Where text ends: ('code',), ('comment',), or ('string', body_start,
    quote, prefix) inside an unterminated string literal."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '#':
            nl = text.find('\n', i)
            if nl < 0:
                return ('comment',)
            i = nl + 1
            continue
        if c in '"\'':
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            prefix = _STRING_PREFIX.search(text, 0, i).group()
            body = i + len(quote)
            raw = 'r' in prefix.lower()
            j = body
            while j < n:
                if text[j] == '\\' and not raw:
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if text[j] == '\n' and len(quote) == 1:
                    break
                j += 1
            if j >= n:
                return ('string', body, quote, prefix)
            i = j + (len(quote) if text.startswith(quote, j) else 1)
            continue
        i += 1
    return ('code',)


def _expression_before(text):
    """The primary expression (names, attributes, subscripts, calls,
    literals) that ends text, or ''."""
    i = len(text)
    closers = {')': '(', ']': '[', '}': '{'}
    while i > 0:
        c = text[i - 1]
        if c in closers:
            depth, j = 0, i - 1
            while j >= 0:
                if text[j] in closers:
                    depth += 1
                elif text[j] in '([{':
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j < 0:
                return ''
            i = j
            continue
        if c in '"\'':
            j = text.rfind(c, 0, i - 1)
            if j < 0:
                return ''
            i = j - len(_STRING_PREFIX.search(text, 0, j).group())
            break
        if c.isalnum() or c == '_':
            while i > 0 and (text[i - 1].isalnum() or text[i - 1] == '_'):
                i -= 1
            if i > 0 and text[i - 1] == '.':
                i -= 1
                continue
            break
        return ''
    return text[i:]


class _Unsafe(Exception):
    pass


_CONTAINERS = (dict, list, tuple, str, bytes, types.MappingProxyType)


def _safe_value(node, ns):
    """The value of an expression made of literals, names, attributes and
    subscripts of built-in containers: no call runs (attributes are read
    as rlcompleter reads them)."""
    if isinstance(node, ast.Expression):
        return _safe_value(node.body, ns)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ns:
            return ns[node.id]
        if hasattr(builtins, node.id):
            return getattr(builtins, node.id)
        raise _Unsafe(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_safe_value(node.value, ns), node.attr)
    if isinstance(node, ast.Subscript):
        container = _safe_value(node.value, ns)
        if not isinstance(container, _CONTAINERS) and container is not _os_environ():
            raise _Unsafe('subscript')
        return container[_safe_value(node.slice, ns)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _safe_value(node.operand, ns)
        if isinstance(value, (int, float)):
            return -value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_safe_value(e, ns) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_safe_value(k, ns): _safe_value(v, ns) for k, v in zip(node.keys, node.values)}
    raise _Unsafe(type(node).__name__)


def _os_environ():
    module = sys.modules.get('os')
    return getattr(module, 'environ', None)


def _evaluate(text, ns):
    return _safe_value(ast.parse(text, mode='eval'), ns)


def _quote_body(s, quote, raw):
    """s as the body of a string literal with that quote; None where a raw
    string cannot hold it. Control, format and bidi characters are escaped:
    never written into the line as they are."""
    out = []
    for ch in s:
        if ch.isprintable() and ch != '\\' and not quote.startswith(ch):
            out.append(ch)
        elif raw:
            return None
        elif ch == '\\':
            out.append('\\\\')
        elif quote.startswith(ch):
            out.append('\\' + ch)
        else:
            out.append(repr(ch)[1:-1])
    return ''.join(out)


def _key_matches(ns, before, body, quote, prefix):
    """Keys of the mapping whose subscript the string opens, or None when
    there is none."""
    expr = _expression_before(before)
    if not expr:
        return None
    try:
        mapping = _evaluate(expr, ns)
    except BaseException:
        return None
    if isinstance(mapping, dict):
        keys = list(dict.keys(mapping))
    elif isinstance(mapping, types.MappingProxyType) or mapping is _os_environ():
        keys = list(mapping.keys())
    else:
        return None
    want = bytes if 'b' in prefix.lower() else str
    raw = 'r' in prefix.lower()
    matches = []
    for key in keys[:_MAX_MATCHES * 10]:
        if type(key) is not want:
            continue
        text = key.decode('latin-1') if want is bytes else key
        escaped = _quote_body(text, quote, raw)
        if escaped is not None and escaped.startswith(body):
            matches.append(escaped + quote + ']')
    return sorted(set(matches))


def _path_matches(body, quote, prefix):
    raw = 'r' in prefix.lower()
    if '\\' in body and not raw:
        return []
    head, tail = os.path.split(body)
    directory = os.path.expanduser(head) if head else '.'
    matches = []
    try:
        with os.scandir(directory) as entries:
            for count, entry in enumerate(entries):
                if count >= _PATH_ENTRIES_MAX:
                    break
                name = entry.name
                if not name.startswith(tail) or (name.startswith('.') and not tail):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                escaped = _quote_body(name, quote, raw)
                if escaped is None:
                    continue
                sep = '' if not head or head.endswith('/') else '/'
                matches.append(head + sep + escaped + ('/' if is_dir else ''))
    except OSError:
        return []
    return sorted(matches)


def _submodules(paths, prefix):
    names = set()
    for info in pkgutil.iter_modules(paths):
        names.add(info.name)
    return names


def _module_matches(dotted):
    package, dot, part = dotted.rpartition('.')
    if dot:
        module = sys.modules.get(package)
        paths = getattr(module, '__path__', None)
        if paths is None:
            return []
        names = _submodules(list(paths), part)
        lead = package + '.'
    else:
        names = _submodules(None, part) | set(sys.builtin_module_names)
        lead = ''
    return sorted(lead + name for name in names
                  if name.startswith(part) and (part.startswith('_') or not name.startswith('_')))


def _from_import_matches(module_name, word):
    names = set()
    module = sys.modules.get(module_name)
    if module is not None:
        names.update(dir(module))
        paths = getattr(module, '__path__', None)
    else:
        spec = None
        if '.' not in module_name:
            try:
                spec = importlib.machinery.PathFinder.find_spec(module_name)
            except BaseException:
                spec = None
        paths = spec.submodule_search_locations if spec is not None else None
    if paths is not None:
        names.update(_submodules(list(paths), word))
    return sorted(name for name in names
                  if name.startswith(word) and (word.startswith('_') or not name.startswith('_')))


def _attribute_matches(obj, attr):
    """As rlcompleter's attr_matches, for any object: no properties are
    run; callables get '('."""
    words = set(dir(obj))
    if hasattr(obj, '__class__'):
        words.add('__class__')
        words.update(rlcompleter.get_class_members(obj.__class__))
    noprefix = '__' if attr == '_' else ('_' if not attr else None)
    matches = []
    for word in sorted(words):
        if not word.startswith(attr) or (noprefix and word.startswith(noprefix)):
            continue
        if isinstance(getattr(type(obj), word, None), property):
            matches.append(word)
            continue
        try:
            value = getattr(obj, word)
        except BaseException:
            matches.append(word)
            continue
        matches.append(word + '(' if callable(value) else word)
    return matches


def _rlcompleter_matches(ns, word):
    matches = []
    completer = rlcompleter.Completer(ns)
    while len(matches) < _MAX_MATCHES:
        match = completer.complete(word, len(matches))
        if match is None:
            break
        matches.append(match)
    return matches


def _completions(ns, text):
    """(matches, start): the matches replace text[start:]."""
    where = _scan(text)
    if where[0] == 'comment':
        return [], len(text)
    if where[0] == 'string':
        _, body_start, quote, prefix = where
        body = text[body_start:]
        before = text[:body_start - len(quote) - len(prefix)].rstrip()
        if before.endswith('['):
            keys = _key_matches(ns, before[:-1], body, quote, prefix)
            if keys is not None:
                return keys, body_start
        return _path_matches(body, quote, prefix), body_start
    line = text[text.rfind('\n') + 1:].rsplit(';', 1)[-1]
    for rx in (_IMPORT_LINE, _FROM_LINE):
        m = rx.match(line)
        if m:
            return _module_matches(m.group(1)), len(text) - len(m.group(1))
    m = _FROM_IMPORT_LINE.match(line)
    if m:
        return _from_import_matches(m.group(1), m.group(2)), len(text) - len(m.group(2))
    word = _WORD_BEFORE.search(text).group()
    m = _ATTRIBUTE_AFTER.search(text)
    if m:
        expr = _expression_before(text[:m.start()])
        if expr and not _DOTTED.fullmatch(expr):
            try:
                obj = _evaluate(expr, ns)
            except BaseException:
                return [], len(text)
            return _attribute_matches(obj, m.group(1)), m.start() + 1
    return _rlcompleter_matches(ns, word), len(text) - len(word)


def _error_fields(exc, text=None):
    """The exception as the result's fields: its type, its message and the
    traceback as it was printed (user frames only)."""
    try:
        message = str(exc)
    except BaseException:
        message = ''
    if text is None:
        try:
            if isinstance(exc, SyntaxError) or exc.__traceback__ is None:
                text = ''.join(traceback.format_exception_only(type(exc), exc))
            else:
                text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        except BaseException:
            text = ''
    return {'error_type': type(exc).__name__, 'error_message': message,
            'traceback': text or ''}


# Rich representations, in the order IPython's display formatter asks.
_REPR_METHODS = (
    ('text/html', '_repr_html_'), ('text/markdown', '_repr_markdown_'),
    ('image/svg+xml', '_repr_svg_'), ('image/png', '_repr_png_'),
    ('image/jpeg', '_repr_jpeg_'), ('text/latex', '_repr_latex_'),
    ('application/json', '_repr_json_'), ('application/javascript', '_repr_javascript_'),
    ('application/pdf', '_repr_pdf_'),
)
_BINARY_MIME = ('image/png', 'image/jpeg', 'application/pdf')
_pretty = None
# Seconds after the rich set-up before the pretty printer is loaded ahead.
_PRELOAD_DELAY = 0.05


def _load_pretty():
    """IPython's pretty printer, IPython.lib.pretty.pretty, or None.

    Importing it the usual way imports the whole IPython package (650
    modules, 0.6 to 1.2 s here) before the first value could be shown. The
    module itself needs only the standard library and two trivial names
    from IPython.utils, so it is loaded from its file on its own, with
    those two names stubbed for the time of its import; a later `import
    IPython` by user code gets the real package."""
    import importlib.util
    import os
    try:
        spec = importlib.util.find_spec('IPython')
    except BaseException:
        spec = None
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for where in locations:
        path = where + '/lib/pretty.py'
        try:
            if not os.path.isfile(path):
                continue
            decorators = types.ModuleType('IPython.utils.decorators')
            decorators.undoc = lambda func: func
            py3compat = types.ModuleType('IPython.utils.py3compat')
            py3compat.PYPY = False
            stubs = {'IPython': types.ModuleType('IPython'),
                     'IPython.utils': types.ModuleType('IPython.utils'),
                     'IPython.utils.decorators': decorators,
                     'IPython.utils.py3compat': py3compat}
            saved = {name: sys.modules.get(name) for name in stubs}
            sys.modules.update(stubs)
            try:
                module_spec = importlib.util.spec_from_file_location('_aiobox_pretty', path)
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
            finally:
                for name, old in saved.items():
                    if old is None:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = old
            return module.pretty
        except BaseException:
            continue
    return None


def _plain(obj, rich):
    """text/plain: IPython's pretty printer where it is there (as
    ipykernel shows values), else repr()."""
    global _pretty
    if rich:
        if _pretty is None:
            _pretty = _load_pretty() or False
        if _pretty:
            return _pretty(obj)
    return repr(obj)


def _mime_value(mime, value):
    # Base64 with a final newline, as ipykernel encodes images
    # (binascii.b2a_base64), so notebooks store the same text.
    if mime in _BINARY_MIME and isinstance(value, (bytes, bytearray)):
        import binascii
        return binascii.b2a_base64(value).decode('ascii')
    return value


def _mime_bundle(obj, rich, include=None, exclude=None):
    """(data, metadata) for obj: text/plain always; with rich, what its
    _repr_*_ methods give. A method that fails is reported on stderr and
    left out, as IPython does."""
    data, meta = {}, {}
    if rich and not isinstance(obj, type):
        method = getattr(obj, '_repr_mimebundle_', None)
        if callable(method):
            try:
                got = method(include=include, exclude=exclude)
                if isinstance(got, tuple):
                    got, more = got
                    meta.update(more or {})
                for mime, value in (got or {}).items():
                    data[mime] = _mime_value(mime, value)
            except BaseException as exc:
                sys.stderr.write(f'aiobox: {type(obj).__name__}._repr_mimebundle_ failed: '
                                 f'{_summary(exc)}\n')
        for mime, name in _REPR_METHODS:
            if mime in data:
                continue
            method = getattr(obj, name, None)
            if not callable(method):
                continue
            try:
                value = method()
            except BaseException as exc:
                sys.stderr.write(f'aiobox: {type(obj).__name__}.{name} failed: '
                                 f'{_summary(exc)}\n')
                continue
            if value is None:
                continue
            if isinstance(value, tuple) and len(value) == 2:
                value, more = value
                meta[mime] = more
            data[mime] = _mime_value(mime, value)
    if 'text/plain' not in data:
        data['text/plain'] = _plain(obj, rich)
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, meta


def _lookup(ns, dotted):
    parts = dotted.split('.')
    if parts[0] in ns:
        obj = ns[parts[0]]
    elif hasattr(builtins, parts[0]):
        obj = getattr(builtins, parts[0])
    else:
        raise LookupError(dotted)
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def _describe(ns, code, cursor, detail):
    """(found, MIME bundle) for the name at the cursor, as IPython's
    `name?` (detail 0) and `name??` (detail 1) show it."""
    name = None
    for m in _DOTTED.finditer(code):
        if m.start() <= cursor <= m.end():
            name = m.group()
            break
    if name is None:
        before = code[:cursor].rstrip('( ')
        m = _DOTTED.search(before)
        while m and m.end() != len(before):
            m = _DOTTED.search(before, m.end())
        if m is None:
            return False, {}
        name = m.group()
    obj = _lookup(ns, name)
    lines = []
    try:
        sig = str(inspect.signature(obj)) if callable(obj) else None
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        lines.append(f'Signature: {name}{sig}')
    else:
        lines.append(f'String form: {_short(repr(obj))}')
    source = None
    if detail:
        try:
            source = inspect.getsource(obj)
        except BaseException:
            source = None
    if source:
        lines.append('Source:')
        lines.append(source.rstrip('\n'))
    else:
        doc = inspect.getdoc(obj)
        lines.append('Docstring:' + ('\n' + doc if doc else ' <no docstring>'))
    try:
        filename = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except BaseException:
        filename = None
    if filename:
        lines.append(f'File:      {filename}')
    lines.append(f'Type:      {type(obj).__name__}')
    return True, {'text/plain': '\n'.join(lines)}


def _short(text, limit=200):
    return text if len(text) <= limit else text[:limit - 3] + '...'


class _DisplayHandle:
    """What display(obj, display_id=...) returns, as IPython's."""

    def __init__(self, runtime, display_id):
        self.display_id = display_id
        self._runtime = runtime

    def display(self, obj, **kwargs):
        self._runtime.display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        self._runtime.display(obj, display_id=self.display_id, update=True, **kwargs)

    def __repr__(self):
        return f'<DisplayHandle display_id={self.display_id}>'


def _install_rich(runtime):
    """Notebook behaviour: display() and clear_output() as builtins, and
    help() through the front end's pager."""
    def display(*objs, include=None, exclude=None, metadata=None, transient=None,
                display_id=None, raw=False, clear=False, update=False, **kwargs):
        """Display objects in the front end, as IPython.display.display."""
        if clear:
            clear_output(wait=True)
        if display_id is True:
            import uuid
            display_id = uuid.uuid4().hex
        for obj in objs:
            runtime.display(obj, include=include, exclude=exclude, metadata=metadata,
                            display_id=display_id, raw=raw, update=update)
        if display_id:
            return _DisplayHandle(runtime, display_id)
        return None

    def clear_output(wait=False):
        """Clear the output of the current cell, as IPython's."""
        runtime.streams.flush_all()
        st = runtime.current
        _aiobox.send_clear_output(st.id if st is not None else None, bool(wait), _ORIGIN.get())

    builtins.display = display
    builtins.clear_output = clear_output

    def pager(text):
        import pydoc
        runtime.streams.flush_all()
        st = runtime.current
        _aiobox.send_page(st.id if st is not None else None, pydoc.plain(text))

    # help() pages through the front end. pydoc costs 15 ms to import,
    # which the first cell would wait for: it is set up when help() is
    # first called (site's helper imports pydoc then anyway).
    site_helper = type(builtins.help)

    class _RichHelper(site_helper):
        def __call__(self, *args, **kwds):
            import pydoc
            pydoc.pager = pager
            return site_helper.__call__(self, *args, **kwds)

    builtins.help = _RichHelper()

    # The pretty printer for values costs 10 to 15 ms to load, which the
    # first cell with a value (of a new executor: after a death too) would
    # wait for. A spare has the time while it waits; the first executor
    # takes it once its first statements are over. Never while a
    # statement runs: loading stubs modules for a moment.
    def preload_pretty():
        global _pretty
        if _pretty is None and runtime.current is None and not runtime.queue:
            _pretty = _load_pretty() or False

    runtime.loop.call_later(_PRELOAD_DELAY, preload_pretty)


def _prompt(name, default):
    """str(sys.ps1) or str(sys.ps2) for the supervisor's next prompt, as
    CPython's REPL would show it; user code may have set anything there."""
    try:
        text = str(getattr(sys, name))
        if type(text) is not str:
            text = str.__str__(text)
        return text[:_PROMPT_MAX]
    except BaseException:
        return default


# Modules the runtime's own path through a statement relies on.
_ESSENTIAL_MODULES = (
    '__main__', 'builtins', 'sys', 'warnings', 'linecache', 'traceback', 'codeop',
    '__future__', 'ast', 'asyncio', 'asyncio.events', 'asyncio.tasks',
    'asyncio.futures', 'asyncio.base_events', 'concurrent.futures', 'contextvars',
    'types', 'inspect', 'io', 'codecs', 'encodings', 'encodings.utf_8', 'signal',
    'rlcompleter', 'keyword', 're', 'tokenize', 'collections', 'functools', 'os',
    'posixpath', 'site', '_aiobox',
)


class Runtime:

    def __init__(self, output_cap, policy, hint):
        self.policy = policy
        self.hint = hint
        self.loop = asyncio.SelectorEventLoop(_Selector(self))
        asyncio.set_event_loop(self.loop)
        self.output = _Output(output_cap)
        self.streams = _Streams(self.output, self.loop)
        self.ns = sys.modules['__main__'].__dict__
        self.ns['asyncio'] = asyncio
        # One context for the session, so ContextVar.set() persists from
        # one statement to the next (as in CPython 3.14).
        self.context = contextvars.copy_context()
        self.compiler = codeop.CommandCompiler()
        self.compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.interp = _Interpreter(self.ns, self._write_stderr)
        self.queue = collections.deque()
        self.current = None
        self.essential_modules = {name: sys.modules[name] for name in _ESSENTIAL_MODULES
                                  if name in sys.modules}
        self.sync_running = False
        self.features_taken = False
        self.cancelled = set()
        self.rich = False
        self.cells = 0
        self.terminal = False      # the user's stdin is a terminal
        self.exit_ends = False     # SystemExit ends the session
        self.ending = None         # the exit status once the session ends
        self.stdin = _Stdin(self)
        self.kept_alive = None

    def install(self):
        site.setquit()
        site.setcopyright()
        site.sethelper()
        sys.ps1 = '>>> '
        sys.ps2 = '... '
        sys.stdout = self.streams.stdout
        sys.stderr = self.streams.stderr
        sys.stdin = self.stdin
        builtins.input = self._make_input()
        import getpass
        getpass.getpass = _make_getpass(self)
        signal.signal(signal.SIGINT, self._on_sigint)
        _aiobox.install_sigint()
        # A signal caught while the loop sleeps in epoll_wait, perhaps by
        # another thread, must wake it.
        wake_read, wake_write = _aiobox.wake_fds()
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self.loop.add_reader(wake_read, _aiobox.drain_wake)
        self.loop.add_reader(_aiobox.fileno(), self._on_channel)

    def serve(self):
        """Runs the session; returns the exit status once it has ended, and
        the host then finalises the interpreter as CPython does at exit."""
        return self._serve_below(_RUNPY_FRAMES)

    def _serve_below(self, frames):
        # CPython's REPL runs its loop under runpy's frames. Running ours
        # as deep gives user code the same recursion headroom, so even
        # RecursionError tracebacks ("Previous line repeated N more
        # times") come out identical.
        if frames > 1:
            return self._serve_below(frames - 1)
        while self.ending is None:
            try:
                self.loop.run_forever()
            except (KeyboardInterrupt, SystemExit) as exc:
                self._rescue(exc)
            except BaseException as exc:
                _aiobox.fatal(_aiobox.EXIT_RUNTIME,
                              'the event loop failed: ' + _summary(exc))
        self.streams.flush_all()
        return self.ending

    def _rescue(self, exc):
        # Raised by a task step (the task holds it), by some other callback
        # (nobody's), or, in a narrow window, by a statement's synchronous
        # part outside its own try: that one must still get its result.
        st = self.current
        if st is not None and st.phase == 'sync':
            self.sync_running = False
            self._conclude(st, exc)

    # --- the channel ---------------------------------------------------

    def _on_channel(self):
        # Statements wait in the queue; _Selector starts them.
        items = _aiobox.recv()
        if not self.features_taken:
            self._take_features()
        for kind, rid, text, a, b, c in items:
            if kind in ('single', 'block', 'cell'):
                self.queue.append((rid, text, kind, a, bool(b), bool(c)))
            elif kind == 'complete':
                self._complete(rid, text, a)
            elif kind == 'inspect':
                self._inspect(rid, text, a, b)
            elif kind == 'cancel':
                self.cancelled.add(rid)
            elif kind == 'shutdown':
                self._shutdown()

    def _take_features(self):
        # hello came in the first frames read: what the front end wants.
        self.features_taken = True
        features = _aiobox.features()
        self.terminal = bool(features & _aiobox.FEATURE_TERMINAL)
        self.exit_ends = bool(features & _aiobox.FEATURE_EXIT_ENDS)
        if self.terminal and not features & _aiobox.FEATURE_RICH:
            _install_terminal_pager(self)
        if features & _aiobox.FEATURE_RICH:
            self.rich = True
            _install_rich(self)

    def start_next(self):
        sid, source, mode, cap, rich, silent = self.queue.popleft()
        if sid in self.cancelled:
            # Cancelled while it waited: answered in its turn, not run.
            self.cancelled.discard(sid)
            _aiobox.send_started(sid)
            st = self.current = _Statement(sid, mode, rich, silent)
            self.output.retag(sid, cap)
            return self._finish(st, _aiobox.INTERRUPTED, 'cancelled')
        try:
            self._start(sid, source, mode, cap, rich, silent)
        except BaseException as exc:
            # Called from the selector, where no Handle catches for us.
            st = self.current
            if st is not None and st.id == sid:
                self._conclude(st, exc)

    def _complete(self, rid, code, cursor):
        # The matches replace code[start:cursor] (see _completions).
        text = code[:cursor]
        try:
            matches, start = _completions(self.ns, text)
        except BaseException:
            matches, start = [], cursor
        _aiobox.send_completions(rid, matches[:_MAX_MATCHES], start, cursor)

    def _inspect(self, rid, code, cursor, detail):
        try:
            found, data = _describe(self.ns, code, cursor, detail)
        except BaseException:
            found, data = False, {}
        _aiobox.send_inspection(rid, found, json.dumps(data) if found else '')

    def _shutdown(self):
        # The end of the user's input: as CPython's asyncio REPL's console
        # thread ends, it silences "coroutine ... was never awaited" and
        # stops the loop.
        warnings.filterwarnings('ignore', message=r'^coroutine .* was never awaited$',
                                category=RuntimeWarning)
        self._end(0)

    def _end(self, status, keep_namespace=False):
        # No statement starts after this; serve() returns once the loop has
        # stopped, and the host finalises the interpreter as CPython does
        # at exit (threads joined, atexit handlers, modules torn down),
        # what that prints reaching the user as any output does.
        if self.ending is not None:
            return
        self.ending = status
        if keep_namespace:
            # After SystemExit CPython's console thread stays blocked in
            # runcode() for good, and its frames keep the user's namespace
            # alive through the finalisation: nothing in it is torn down,
            # no __del__ runs. The host keeps this reference for ever.
            self.kept_alive = dict(self.ns)
        self.queue.clear()
        self.streams.immediate = True
        self.streams.flush_all()
        self.loop.stop()

    def display(self, obj, include=None, exclude=None, metadata=None, display_id=None,
                raw=False, update=False):
        self.streams.flush_all()
        if raw:
            data, meta = dict(obj), {}
        else:
            data, meta = _mime_bundle(obj, True, include, exclude)
        if metadata:
            meta.update(metadata)
        st = self.current
        _aiobox.send_display(st.id if st is not None else None, json.dumps(data),
                             json.dumps(meta), display_id or '', bool(update), _ORIGIN.get())

    def _make_input(self):
        runtime = self

        def input(prompt=''):
            """Read a line from the aiobox user; the trailing newline is
            stripped. Blocks the event loop, as in CPython's asyncio REPL."""
            return runtime._input(prompt)
        return input

    def _input(self, prompt):
        prompt = str(prompt)
        if not self.terminal and self.stdin.buffered():
            # Piped, CPython's input() reads sys.stdin, where a read of
            # part of a line left the rest.
            self.streams.stdout.write(prompt)
            line = self.stdin.readline()
            if not line:
                raise EOFError('EOF when reading a line')
            return line[:-1] if line.endswith('\n') else line
        line = self._read_line(prompt, _aiobox.INPUT_LINE)
        if line is None:
            raise EOFError('EOF when reading a line')
        return line[:-1] if line.endswith('\n') else line

    def _read_line(self, prompt, kind):
        """A line from the user (kind: input(), getpass() or sys.stdin), or
        None at end of input."""
        self.streams.flush_all()
        st = self.current
        # The supervisor may have sent statements ahead, taking the lines
        # after this statement's for code; they are this input()'s now. The
        # protocol has the executor drop every statement it has not
        # started, and the supervisor send again what still should run.
        self.queue.clear()
        try:
            return _aiobox.input(st.id if st is not None else 0, prompt, kind)
        finally:
            # Frames that came in behind the reply wait in _aiobox's reader.
            try:
                self.loop.call_soon_threadsafe(self._on_channel)
            except RuntimeError:
                pass

    # --- statements ----------------------------------------------------

    def _start(self, sid, source, mode='single', cap=0, rich=False, silent=False):
        # User code may empty or poison sys.modules; what the runtime and
        # the stdlib code it calls look up there (codeop's warnings,
        # traceback's linecache, ...) is put back before each statement.
        for name, module in self.essential_modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
        self.streams.flush_all()
        # Before anything of the statement's: from here on the supervisor
        # knows it runs.
        _aiobox.send_started(sid)
        st = self.current = _Statement(sid, mode, rich, silent)
        st.source = source
        self.output.retag(sid, cap)
        _aiobox.set_interrupt_target(sid & 0x7fffffff)
        last_is_value = False
        try:
            if mode == 'block':
                codes = self._compile_block(source)
            elif mode == 'cell':
                self.cells += 1
                codes, last_is_value = self._compile_cell(source, f'<cell {self.cells}>')
            else:
                codes = [self._compile(source)]
        except (OverflowError, SyntaxError, ValueError) as exc:
            st.compile_error = True
            if not self.rich:
                self.interp.showsyntaxerror('<console>')
            return self._finish(st, _aiobox.ERROR, _summary(exc), error=exc)
        except BaseException as exc:
            return self._conclude(st, exc)
        funcs = [types.FunctionType(code, self.ns) for code in codes]
        # A callback of its own, in the session's context, as CPython's
        # REPL runs a statement (which also gives user code the same stack
        # depth as there).
        self.loop.call_soon(self._run, st, funcs, last_is_value, context=self.context)

    def _compile_cell(self, source, filename):
        # A notebook cell: parsed whole, each top-level statement compiled
        # on its own; a final expression in 'eval' mode, so that its value
        # is returned rather than displayed. Its source goes to linecache
        # so that tracebacks show its lines.
        compiler = self.compiler.compiler
        flags = compiler.flags & ~(codeop.PyCF_DONT_IMPLY_DEDENT
                                   | codeop.PyCF_ALLOW_INCOMPLETE_INPUT)
        tree = compile(source, filename, 'exec', flags | ast.PyCF_ONLY_AST, True)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        body = tree.body
        last_is_value = bool(body) and isinstance(body[-1], ast.Expr)
        codes = []
        for i, stmt in enumerate(body):
            if last_is_value and i == len(body) - 1:
                expr = ast.Expression(stmt.value)
                ast.copy_location(expr, stmt)
                codes.append(compiler(expr, filename, 'eval'))
            else:
                codes.append(compiler(ast.Module([stmt], []), filename, 'exec'))
        return codes, last_is_value

    def _compile_block(self, source):
        # A pasted block, as CPython 3.13's REPL runs one: parsed whole,
        # then each top-level statement compiled on its own, the last in
        # 'single' mode so that only its value is displayed.
        compiler = self.compiler.compiler
        flags = compiler.flags & ~(codeop.PyCF_DONT_IMPLY_DEDENT
                                   | codeop.PyCF_ALLOW_INCOMPLETE_INPUT)
        tree = compile(source, '<console>', 'exec', flags | ast.PyCF_ONLY_AST, True)
        codes = []
        for i, stmt in enumerate(tree.body):
            if i == len(tree.body) - 1:
                codes.append(compiler(ast.Interactive([stmt]), '<console>', 'single'))
            else:
                codes.append(compiler(ast.Module([stmt], []), '<console>', 'exec'))
        return codes

    async def _rest_of_block(self, first, funcs):
        # The value of the last statement, which a cell may want.
        result = await first
        for func in funcs:
            result = func()
            if inspect.iscoroutine(result):
                result = await result
        return result

    def _compile(self, source):
        # codeop compiles a statement twice: with warnings ignored, to see
        # whether it is complete, and again for the warnings. When the
        # first compile succeeds and would warn about nothing, the second
        # gives the same code (checked over every statement in the
        # stdlib), so that one compile is enough. 'always' records
        # without touching any warning registry; leaving catch_warnings
        # resets the registries as codeop's own catch_warnings does.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                compiled = self.compiler.compiler(source, '<console>', 'single')
            except (OverflowError, SyntaxError, ValueError):
                compiled = None
        if compiled is not None and not caught:
            return compiled
        # Anything else takes codeop's own procedure, as CPython's console
        # uses it: the same errors, the same warnings.
        compiled = self.compiler(source, '<console>', 'single')
        if compiled is None:
            # Incomplete input; the supervisor should not send it. Say so
            # as compile() does.
            compiled = self.compiler.compiler(source, '<console>', 'single')
        return compiled

    def _run(self, st, funcs, last_is_value=False):
        st.phase = 'sync'
        if self.rich:
            # In the session's context, where this runs (see _ORIGIN).
            _ORIGIN.set(st.id)
        if st.interrupted:
            # Interrupted before it began: do not begin.
            return self._conclude(st, KeyboardInterrupt())
        try:
            self.sync_running = True
            result = None
            for i, func in enumerate(funcs):
                result = func()
                if inspect.iscoroutine(result):
                    if i + 1 < len(funcs):
                        result = self._rest_of_block(result, funcs[i + 1:])
                    break
        except BaseException as exc:
            self.sync_running = False
            return self._conclude(st, exc)
        self.sync_running = False
        st.has_value = last_is_value
        if not inspect.iscoroutine(result):
            st.value = result
            return self._finish(st, _aiobox.OK)
        st.phase = 'task'
        try:
            st.task = self.loop.create_task(result, context=self.context)
        except BaseException as exc:
            return self._conclude(st, exc)
        st.task.add_done_callback(self._task_done)

    def _task_done(self, task):
        st = self.current
        if st is None or st.task is not task:
            return
        if task.cancelled():
            exc = concurrent.futures.CancelledError()
        else:
            exc = task.exception()
            if exc is None:
                st.value = task.result()
                return self._finish(st, _aiobox.OK)
            exc = _as_future_result(exc)
        self._conclude(st, exc)

    def _conclude(self, st, exc):
        if isinstance(exc, SystemExit):
            status = self._exit_code(exc)
            self._finish(st, _aiobox.EXIT, '', status)
            if self.exit_ends:
                # As SystemExit leaves CPython's run_forever: at once.
                self._end(status, keep_namespace=True)
            return
        if isinstance(exc, KeyboardInterrupt) or st.cancelled:
            self._write_stderr('\nKeyboardInterrupt\n')
            return self._finish(st, _aiobox.INTERRUPTED, 'KeyboardInterrupt')
        summary = _summary(exc)
        text = self._show_traceback(exc, show=not self.rich)
        denial = None
        if self.hint:
            try:
                denial = _classify_denial(exc, st.source)
            except BaseException:
                denial = None
        if denial is not None and not self.rich:
            self._write_stderr(_denial_hint(denial[0], self.policy) + '\n')
        # The JSON interface's status "denied" names the system call; the
        # kind says which when the traceback does not.
        denied = None
        if denial is not None:
            denied = (_denied_call(_innermost(exc, PermissionError)) or
                      _KIND_CALL.get(denial[0], ''))
        self._finish(st, _aiobox.ERROR, summary, error=exc, traceback_text=text, denied=denied)

    def _finish(self, st, status, display='', exit_code=0, error=None, traceback_text=None,
                denied=None):
        if st.phase == 'done':
            return
        st.phase = 'done'
        self.sync_running = False
        _aiobox.set_interrupt_target(-1)
        self.streams.flush_all()
        if st.interrupted:
            _aiobox.send_interrupt_ack(st.id)
        extra = {}
        if st.has_value and st.value is not None and status == _aiobox.OK and not st.silent:
            builtins._ = st.value
            try:
                data, _meta = _mime_bundle(st.value, st.rich)
                extra['value'] = json.dumps(data)
            except BaseException as exc:
                self._write_stderr(f'aiobox: the value could not be shown: {_summary(exc)}\n')
        if error is not None:
            extra.update(_error_fields(error, traceback_text))
            extra['compile_error'] = st.compile_error
        if denied:
            extra['denied'] = denied
        cpu, rss = _aiobox.rusage()
        extra['cpu_us'] = max(0, cpu - st.usage[0])
        extra['max_rss_kb'] = rss
        _aiobox.send_result(st.id, status, display, exit_code,
                            _prompt('ps1', '>>> '), _prompt('ps2', '... '), extra)
        self.current = None
        self.output.retag(None)

    def _exit_code(self, exc):
        # CPython's mapping when SystemExit ends the interpreter.
        value = exc.code
        if value is None:
            return 0
        if isinstance(value, int):
            return int(value) if -2**63 <= value < 2**63 else -1
        try:
            text = str(value)
        except BaseException:
            text = object.__repr__(value)
        self._write_stderr(text + '\n')
        return 1

    # --- interrupts ----------------------------------------------------

    def _on_sigint(self, signum, frame):
        st = self.current
        if not _aiobox.take_interrupt() or st is None or st.phase == 'done':
            return
        st.interrupted = True
        if self.sync_running or (
                st.task is not None
                and asyncio.current_task(self.loop) is st.task):
            raise KeyboardInterrupt
        # The loop is idle or runs someone else's code: cancel the task
        # from a callback, which also wakes the loop.
        self.loop.call_soon_threadsafe(self._cancel, st)

    def _cancel(self, st):
        if st is self.current and st.task is not None and not st.task.done():
            st.cancelled = True
            st.task.cancel()

    # --- error display -------------------------------------------------

    def _write_stderr(self, text):
        try:
            sys.stderr.write(text)
        except BaseException:
            self.streams.stderr.write(text)

    def _show_traceback(self, exc, show=True):
        """As code.InteractiveConsole.showtraceback, with the user's frames
        only; returns the text (written to stderr when show is set)."""
        _strip_runtime(exc)
        tb = exc.__traceback__
        sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
        text = None
        try:
            lines = traceback.format_exception(type(exc), exc, tb)
            if tb is None:
                # CPython always has its own frames to show here.
                at = max((i + 1 for i, line in enumerate(lines)
                          if line in _CHAIN_SEPARATORS), default=0)
                lines.insert(at, _TRACEBACK_HEADER)
            text = ''.join(lines)
        except BaseException:
            text = None
        if not show:
            return text
        try:
            if sys.excepthook is sys.__excepthook__ and text is not None:
                self._write_stderr(text)
            else:
                sys.excepthook(type(exc), exc, tb)
        except BaseException as failure:
            # As CPython reports a broken sys.excepthook.
            out = self.streams.stderr
            _strip_runtime(failure)
            out.write('Error in sys.excepthook:\n')
            out.write(''.join(traceback.format_exception(
                type(failure), failure, failure.__traceback__, chain=False)))
            out.write('\nOriginal exception was:\n')
            out.write(''.join(traceback.format_exception(type(exc), exc, tb)))
        return text


def prepare(output_cap, policy, hint):
    runtime = Runtime(output_cap, policy, bool(hint))
    runtime.install()
    return runtime
