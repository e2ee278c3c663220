"""The terminal front end, driven on a real pseudo-terminal: prompts,
Ctrl-C at the prompt and during statements, the grace-period kill,
completion, history, bracketed paste, background output while typing,
input(), sanitised output, sys.ps1/sys.ps2, and the ways out."""
import os
import re
import signal
import tempfile
import unittest

import harness
from ptyharness import (CTRL_C, CTRL_D, PASTE_END, PASTE_START, PROMPT, ROWS, TAB, UP,
                        PtySession, visible)

def quick_policy(directory):
    """strict with a statement timeout of half a second."""
    path = os.path.join(directory, 'quick')
    strict = os.path.join(os.environ.get('AIOBOX_POLICIES', ''), 'strict')
    with open(path, 'w') as f:
        f.write(f'aiobox-policy 1\ninclude {strict}\nname quick\ntimeout 500ms\n')
    os.chmod(directory, 0o755)
    os.chmod(path, 0o644)
    return path


# The primary prompt of a new line: readline turns bracketed paste back on
# first (a statement drawn on several rows is redrawn with its prompt).
FRESH_PROMPT = rb'\x1b\[\?2004h(?:\x1b\[0m)?' + PROMPT
# A line's end, then the primary prompt, after the reset of attributes
# aiobox writes before its prompts.
NL_PROMPT = rb'\r\n(?:\x1b\[0m)?' + PROMPT
# The continuation prompt as the terminal shows it.
PS2 = rb'\.\.\. '
KI = b'KeyboardInterrupt'


class TtyCase(unittest.TestCase):
    maxDiff = None

    def start(self, *args, **kw):
        s = PtySession(args=('--no-standby', *args), **kw)
        self.addCleanup(s.close)
        self.addCleanup(self.leave_cleanly, s)
        s.expect_prompt()
        return s

    def leave_cleanly(self, s):
        """Every session ends with ^D at a fresh prompt, exit status 0, and
        nothing from the sanitizers."""
        if s.proc.poll() is None:
            s.pos = len(s.data)
            s.send(CTRL_C)
            s.expect(PROMPT)
            s.send(CTRL_D)
            self.assertEqual(s.wait_exit(), 0, s.data[-2000:])
        for report in (b'Sanitizer', b'runtime error:'):
            self.assertNotIn(report, s.data)

    def ready(self, *args, **kw):
        """A session whose executor is known to be up (a statement ran)."""
        s = self.start(*args, **kw)
        self.assertIn(b'ready', s.run('print("re" + "ady")'))
        return s

    def executor_pid(self, s):
        """The executor's pid as :status gives it (inside its own pid
        namespace it is pid 1)."""
        return int(re.search(rb'executor: pid (\d+)', s.run(':status')).group(1))

    def last_line(self, s):
        lines = s.screen_lines()
        return lines[-1] if lines else ''

    def assert_output(self, s, statement, expected):
        shown = s.run(statement)
        lines = [line for line in visible(shown)[1:] if line]
        self.assertEqual(lines, expected, f'{statement!r} showed {shown!r}')


class Prompts(TtyCase):
    def test_first_prompt_before_executor_ready(self):
        s = PtySession(args=('--no-standby',), quiet=False)
        self.addCleanup(s.close)
        self.addCleanup(self.leave_cleanly, s)
        first = s.expect_prompt()
        # Typed at once, long before the executor can be ready.
        s.line('6 * 7')
        s.expect(rb'\r\n42\r\n')
        s.expect_prompt()
        ready = re.search(rb'aiobox: Python 3\.11\.\d+ is ready, sandboxed by policy strict '
                          rb'\(:status says how\)\r\n', s.data)
        self.assertIsNotNone(ready, s.data)
        # One short line in plain words; the details are in :status.
        self.assertLessEqual(len(ready.group()) - 2, 80)
        self.assertNotIn(b'seccomp', s.data)
        self.assertRegex(s.run(':status'), rb'sandbox: .*seccomp \d+ rules')
        self.assertLess(first.start(), ready.start(),
                        'the first prompt waited for the executor')

    def test_expression_value(self):
        s = self.start()
        self.assert_output(s, '1+1', ['2'])

    def test_typeahead_is_kept(self):
        s = self.ready()
        s.line('import time; print("bu" + "sy"); time.sleep(1)')
        s.expect('busy')
        # Typed while the statement runs: kept by the terminal, run after it.
        s.line('ahead = 5')
        s.expect(PROMPT)
        s.expect(PROMPT)
        self.assert_output(s, 'ahead', ['5'])

    def test_ps1_and_ps2_from_user_code(self):
        s = self.ready()
        s.run('import sys; sys.ps1 = "I" + "n: "; sys.ps2 = 6 * 7', then=rb'In: ')
        s.line('if True:')
        s.expect(rb'42')
        s.line('    pass')
        s.expect(rb'42')
        s.line('')
        s.expect(rb'In: ')
        s.run('sys.ps1 = "\\x1b[32mgreen>\\x1b[0m "', then=rb'\x1b\[32mgreen>\x1b\[0m ')
        # Readline's invisible-text markers never reach the terminal.
        self.assertNotIn(b'\x01', s.data)
        self.assertNotIn(b'\x02', s.data)
        s.run('sys.ps1 = "\\x1b]0;title\\x07\\x1b[2J$ "', then=rb'\^\[\]0;title\^G\^\[\[2J\$ ')
        s.run('del sys.ps1', then=PROMPT)
        self.assertNotIn(b'\x1b]0;', s.data)
        self.assertNotIn(b'\x1b[2J', s.data)

    def test_prompts_return_to_the_defaults_with_a_new_executor(self):
        s = self.ready()
        pid = self.executor_pid(s)
        s.line('import sys; sys.ps1 = "I" + "n: "')
        s.expect(rb'In: ')
        # Killed while idle at the custom prompt: the new executor's
        # sys.ps1 is '>>> ', and so is the prompt redrawn under the notice.
        os.kill(pid, signal.SIGKILL)
        s.expect(rb'started a new executor \(restart 1\)')
        s.expect_prompt()
        self.assertEqual(self.last_line(s), '>>>')
        self.assert_output(s, 'sys.ps1 if "sys" in dir() else "fresh"', ["'fresh'"])

    def test_supervisor_command_returns_to_the_prompt(self):
        s = self.ready()
        shown = s.run(':help')
        self.assertIn(b':status', shown)
        self.assert_output(s, '2+2', ['4'])


class Interrupts(TtyCase):
    def test_ctrl_c_discards_a_half_typed_line(self):
        s = self.ready()
        s.send('discarded = 1')
        s.expect('discarded = 1')
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)
        self.assert_output(s, '2+3', ['5'])
        shown = s.run('discarded')
        self.assertIn(b"NameError: name 'discarded' is not defined", shown)

    def test_ctrl_c_discards_a_pending_block(self):
        s = self.ready()
        s.line('if True:')
        s.expect(PS2)
        s.line('    pending = 1')
        s.expect(PS2)
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)
        # Back at the primary prompt: a new statement runs on its own.
        self.assert_output(s, 'print("clean")', ['clean'])
        shown = s.run('pending')
        self.assertIn(b"NameError: name 'pending' is not defined", shown)

    def interrupt(self, s, statement, started):
        s.run('kept = 42')
        mark = len(s.data)
        s.line(statement)
        s.expect(started)  # the statement runs: a ^C now is for it
        s.send(CTRL_C)
        s.expect(KI)
        s.expect_prompt()
        self.assertEqual(s.data[mark:].count(KI), 1, s.data[mark:])
        self.assertNotIn(b'Traceback', s.data[mark:])
        self.assert_output(s, 'kept', ['42'])
        self.assert_output(s, '"still" + " here"', ["'still here'"])

    def test_ctrl_c_during_await(self):
        s = self.ready()
        self.interrupt(s, 'print("sleep" + "ing"); await asyncio.sleep(30)', 'sleeping')

    def test_ctrl_c_during_busy_loop(self):
        s = self.ready()
        s.send(PASTE_START + b'def spin():\n    print("spin" + "ning")\n    while True: pass'
               + PASTE_END + b'\r')
        s.expect(FRESH_PROMPT)
        self.interrupt(s, 'spin()', 'spinning')

    def test_ignored_sigint_kills_after_grace(self):
        s = self.ready('--grace', '0.5')
        old_pid = self.executor_pid(s)
        s.run('kept = 1; import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)')
        s.line('print("spin" + "ning"); exec("while True: pass")')
        s.expect('spinning')
        s.send(CTRL_C)
        s.expect(rb'executor did not stop within 0\.5 s of an interrupt: killed')
        s.expect(rb'started a new executor')
        s.expect_prompt()
        self.assertNotEqual(self.executor_pid(s), old_pid)
        self.assertIn(b"NameError: name 'kept' is not defined", s.run('kept'))

    def test_ctrl_c_during_input(self):
        s = self.ready()
        s.run('kept = 3')
        mark = len(s.data)
        s.line('answer = input("say" + ": ")')
        s.expect('say: ')
        s.send('half')
        s.expect('half')
        s.send(CTRL_C)
        s.expect(KI)
        s.expect_prompt()
        self.assertEqual(s.data[mark:].count(KI), 1, s.data[mark:])
        # No blank line between what was typed and KeyboardInterrupt.
        screen = visible(s.data)
        while screen and not screen[-1]:
            screen.pop()
        self.assertEqual(screen[-3:], ['say: half', 'KeyboardInterrupt', '>>>'])
        self.assert_output(s, 'kept', ['3'])
        self.assertIn(b"NameError: name 'answer' is not defined", s.run('answer'))


class Completion(TtyCase):
    def test_unique_completion(self):
        s = self.ready()
        s.send('await asyncio.sle')
        s.expect('sle')
        s.send(TAB)
        s.expect(rb'ep\(')
        self.assertEqual(self.last_line(s), '>>> await asyncio.sleep(')
        s.send('0)\r')
        s.expect_prompt()
        self.assertNotIn(b'Error', s.data)
        self.assert_output(s, '"done"', ["'done'"])

    def test_ambiguous_completion_lists(self):
        s = self.ready()
        s.send('asyncio.ru')
        s.expect('ru')
        s.send(TAB + TAB)
        listing = s.expect(rb'\r\n(.*?)' + NL_PROMPT + rb'asyncio\.run').group(1)
        for name in (b'asyncio.run(', b'asyncio.run_coroutine_threadsafe(', b'asyncio.runners'):
            self.assertIn(name, listing)
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)

    def test_no_completion_while_the_executor_is_busy(self):
        s = self.ready()
        s.send(PASTE_START + b'async def hog():\n    print("hog" + "ging")\n'
               b'    import time; time.sleep(2)\n' + PASTE_END + b'\r')
        s.expect(FRESH_PROMPT)
        s.run('t = asyncio.get_running_loop().call_later(0.1, lambda: '
              'asyncio.ensure_future(hog()))')
        s.expect('hogging')
        s.expect_prompt()
        # The executor's loop is blocked: TAB gets no answer, typing goes on.
        s.send('await asyncio.sle' + '\t')
        s.send('ep(0)')
        s.expect(rb'ep\(0\)')
        self.assertEqual(self.last_line(s), '>>> await asyncio.sleep(0)')
        s.send('\r')
        s.expect_prompt()
        self.assertNotIn(b'Error', s.data)
        self.assert_output(s, '"after"', ["'after'"])


class Completing(TtyCase):
    """Beyond rlcompleter: dict keys, attributes of expressions, module
    names, paths in strings; never a name inside a string."""

    def complete(self, s, typed, expected_line):
        s.send(typed)
        s.expect(re.escape(typed[-8:].encode()))
        s.send(TAB)
        s.expect_screen([expected_line])
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)

    def test_dict_keys(self):
        s = self.ready()
        s.run('d = {"alpha": 1, "beta": 2}')
        s.send('d["al' + TAB.decode())
        s.expect(rb'pha"\]')
        s.send('\r')
        s.expect(rb'\r1\r\n')
        s.expect_prompt()
        self.complete(s, "d['b", ">>> d['beta']")

    def test_no_name_inside_a_string(self):
        s = self.ready()
        s.run('d = {"alpha": 1}')
        s.send('x = "al')
        s.expect(rb'x = "al')
        s.send(TAB)
        s.expect(rb'\x07')  # the bell: nothing to complete
        self.assertEqual(self.last_line(s), '>>> x = "al')
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)
        self.assertNotIn(b'all(', s.data)

    def test_attributes_of_an_expression(self):
        s = self.ready()
        self.complete(s, '"abc".up', '>>> "abc".upper(')
        s.run('d = {"k": [1]}')
        self.complete(s, 'd["k"].app', '>>> d["k"].append(')

    def test_module_names(self):
        s = self.ready()
        self.complete(s, 'import asynci', '>>> import asyncio')
        self.complete(s, 'import json.deco', '>>> import json.decoder')
        self.complete(s, 'from asyncio import wait_f', '>>> from asyncio import wait_for')

    def test_paths_in_a_string(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            with open(os.path.join(d, 'notes.txt'), 'w'):
                pass
            os.chmod(os.path.join(d, 'notes.txt'), 0o644)
            s = self.ready('--allow-read', d)
            self.complete(s, f'open("{d}/no', f'>>> open("{d}/notes.txt')

    def test_unsafe_characters_are_escaped(self):
        s = self.ready()
        s.run('d = {"beta\\u202e": 1, "\\x9bx": 2}')
        s.send('d["' + TAB.decode() + TAB.decode())
        listing = s.expect(rb'\r\n(.*?)' + NL_PROMPT + rb'd\["').group(1)
        self.assertIn(rb'beta\u202e"]', listing)
        self.assertIn(rb'\x9bx"]', listing)
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)
        # Names from the executor are made safe by aiobox itself too.
        s.run('c = type("C", (), {})(); setattr(c, "ev\\u202eil", 1)')
        self.complete(s, 'c.ev', '>>> c.ev\\u202eil')
        for raw in ('\u202e'.encode(), '\x9b'.encode()):
            self.assertNotIn(raw, s.data)


class History(TtyCase):
    def test_recall_one_line(self):
        s = self.ready()
        s.run('hv = 3')
        self.assert_output(s, 'hv * 2', ['6'])
        s.send(UP)
        s.expect_screen(['>>> hv * 2'])
        s.send(UP)
        s.expect_screen(['>>> hv = 3'])
        s.send('0\r')
        s.expect_prompt()
        self.assert_output(s, 'hv', ['30'])

    def test_recall_multi_line_statement(self):
        s = self.ready()
        s.line('def g():')
        s.expect(PS2)
        s.line('    return 5')
        s.expect(PS2)
        s.line('')
        s.expect_prompt()
        self.assert_output(s, 'g()', ['5'])
        s.send(UP + UP)
        # One history entry: the whole block comes back at once, with
        # sys.ps2 before its later lines, as 3.13 shows it.
        s.expect_screen(['>>> def g():', '...     return 5'])
        s.send('\r')
        s.expect(FRESH_PROMPT)
        self.assert_output(s, 'g()', ['5'])

    def test_history_persists_across_sessions(self):
        s = self.ready()
        s.run('persisted = 1')
        s.line('def h():')
        s.expect(PS2)
        s.line('    return 7')
        s.expect(PS2)
        s.line('')
        s.expect_prompt()
        s.send(CTRL_D)
        self.assertEqual(s.wait_exit(), 0)
        with open(s.history, 'rb') as f:
            saved = f.read()
        self.assertIn(b'persisted = 1', saved)
        self.assertIn(b'def h():\n    return 7', saved)

        again = self.start(home=s.home, history=s.history)
        again.send(UP)
        again.expect_screen(['>>> def h():', '...     return 7'])
        again.send('\r')
        again.expect(FRESH_PROMPT)
        self.assert_output(again, 'h()', ['7'])

    def test_default_history_file_in_home(self):
        s = self.ready(history=False)
        s.run('in_home = 1')
        s.send(CTRL_D)
        self.assertEqual(s.wait_exit(), 0)
        with open(os.path.join(s.home, '.aiobox_history'), 'rb') as f:
            self.assertIn(b'in_home = 1', f.read())


class Paste(TtyCase):
    def test_pasted_block_runs_like_3_13(self):
        s = self.ready()
        mark = len(s.data)
        s.send(PASTE_START + b'def f():\n    return 1\nf()' + PASTE_END)
        s.expect(rb'f\(\)')
        s.send('\r')
        s.expect(rb'\r1\r\n')
        s.expect(FRESH_PROMPT)
        # As 3.13 shows a pasted block: sys.ps2 before its later lines.
        self.assertEqual(s.screen_lines()[-5:],
                         ['>>> def f():', '...     return 1', '... f()', '1', '>>>'])

    def test_pasted_statements_run_in_order(self):
        s = self.ready()
        s.send(PASTE_START + b'a = 1\nprint("first", a)\nb = a + 1\nprint("second", b)'
               + PASTE_END + b'\r')
        s.expect(rb'first 1\r\nsecond 2\r\n')
        s.expect_prompt()


class LongPaste(TtyCase):
    def test_a_paste_taller_than_the_screen_stays_whole(self):
        s = self.ready()
        lines = [f'v{i} = {i}' for i in range(100)] + ['print(v99 + 1)']
        s.send(PASTE_START + '\n'.join(lines).encode() + PASTE_END)
        s.expect(rb'print\(v99 \+ 1\)')
        s.send('\r')
        s.expect(rb'\r100\r\n')
        s.expect(FRESH_PROMPT)
        s.run('v42')
        # On a screen of ROWS rows, with what scrolled off above it: every
        # line once, in order, and the output below the last one.
        screen = [line for line in visible(s.data, rows=ROWS) if line]
        first = screen.index('>>> v0 = 0')
        self.assertEqual(screen[first:], ['>>> v0 = 0'] + ['... ' + line for line in lines[1:]] +
                         ['100', '>>> v42', '42', '>>>'])


class Background(TtyCase):
    def test_output_above_a_partial_line(self):
        s = self.ready()
        s.send(PASTE_START + b'async def later():\n    await asyncio.sleep(1)\n'
               b'    print("background " + "output")\n' + PASTE_END + b'\r')
        s.expect(FRESH_PROMPT)
        s.run('task = asyncio.ensure_future(later())')
        s.send('partial = 7')
        typed = s.expect('partial = 7')
        out = s.expect('background output')
        self.assertLess(typed.start(), out.start(),
                        'the task printed before the line was typed')
        s.expect(PROMPT + rb'partial = 7')
        self.assertEqual(s.screen_lines()[-2:], ['background output', '>>> partial = 7'])
        s.send('\r')
        s.expect_prompt()
        self.assert_output(s, 'partial', ['7'])

    def test_background_input_keeps_the_partial_line(self):
        s = self.ready()
        s.send(PASTE_START + b'async def ask():\n    await asyncio.sleep(1)\n'
               b'    print("got", input("bg? "))\n' + PASTE_END + b'\r')
        s.expect(FRESH_PROMPT)
        s.run('task = asyncio.ensure_future(ask())')
        s.send('keep = 1')
        s.expect('keep = 1')
        s.expect(rb'bg\? ')
        s.line('yes')
        s.expect('got yes')
        s.expect(PROMPT + rb'keep = 1')
        s.send('\r')
        s.expect_prompt()
        self.assert_output(s, 'keep', ['1'])


class Input(TtyCase):
    def test_input_with_prompt(self):
        s = self.ready()
        s.line('name = input("your " + "name? ")')
        s.expect(rb'your name\? ')
        s.line('Ada')
        s.expect_prompt()
        self.assert_output(s, 'name', ["'Ada'"])

    def test_input_at_end_of_input(self):
        s = self.ready()
        s.line('input("eof" + "? ")')
        s.expect(rb'eof\? ')
        s.send(CTRL_D)
        s.expect(rb'EOFError')
        s.expect_prompt()
        self.assert_output(s, '5', ['5'])


class Limits(TtyCase):
    def test_no_statement_timeout_at_a_terminal(self):
        with tempfile.TemporaryDirectory() as d:
            s = self.ready('--policy', quick_policy(d))
            self.assertIn(b'statement timeout: none (Ctrl-C interrupts)', s.run(':status'))
            shown = s.run('await asyncio.sleep(1); print("slept " + "on")')
            self.assertIn(b'slept on', shown)
            self.assertNotIn(b'timed out', s.data)

    def test_timeout_asked_for_at_a_terminal(self):
        s = self.ready('--timeout', '0.5')
        shown = s.run('await asyncio.sleep(5)')
        self.assertIn(b'statement timed out after 0.5 s', shown)

    def test_flood_protection_at_a_terminal(self):
        s = self.ready()
        s.line('print("x" * 2000000)')
        s.expect(rb'\[aiobox: output truncated at 1048576 bytes; --output-cap BYTES changes '
                 rb'the limit\]', timeout=60)
        s.expect_prompt()


class Paging(TtyCase):
    MORE = '-- more --'

    def test_long_help_is_paged(self):
        s = self.ready()
        s.line('help(asyncio); print("after " + "help")')
        s.expect(self.MORE)
        # The statement waits for the pager, its output too.
        self.assertNotIn(b'after help', s.data)
        self.assertNotIn(b'\x08', s.data)
        s.send(' ')
        s.expect(self.MORE)
        s.send('q')
        s.expect('after help')
        s.expect(FRESH_PROMPT)
        self.assert_output(s, '6 * 7', ['42'])

    def test_ctrl_c_quits_the_pager(self):
        s = self.ready()
        s.line('help(asyncio)')
        s.expect(self.MORE)
        s.send(CTRL_C)
        s.expect(FRESH_PROMPT)
        self.assert_output(s, '6 * 7', ['42'])

    def test_short_help_is_shown_at_once(self):
        s = self.ready()
        shown = s.run('help(len)')
        self.assertIn(b'Help on built-in function len in module builtins:', shown)
        self.assertNotIn(self.MORE.encode(), shown)

    def test_pager_from_the_environment(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'paged')
            s = self.ready(env={'PAGER': f'cat > {out}'})
            s.run('help(asyncio)')
            with open(out, 'rb') as f:
                self.assertIn(b'Help on package asyncio', f.read())
            self.assertNotIn(self.MORE.encode(), s.data)
            self.assert_output(s, '6 * 7', ['42'])


class Reading(TtyCase):
    def test_getpass_reads_a_line_without_echo(self):
        s = self.ready()
        s.line('import getpass; secret = getpass.getpass()')
        s.expect(rb'Password: ')
        s.send('hunter2\r')
        s.expect_prompt()
        self.assertNotIn(b'hunter2', s.data)
        self.assertNotIn(b'GetPassWarning', s.data)
        self.assert_output(s, 'len(secret), secret[::-1] == "2retnuh"', ['(7, True)'])
        # An empty password is '' (not the end of input).
        s.line('secret = getpass.getpass()')
        s.expect(rb'Password: ')
        s.send('\r')
        s.expect_prompt()
        self.assert_output(s, 'secret', ["''"])
        # Its own prompt, and end of input as getpass raises it.
        s.line('getpass.getpass("pin" + "? ")')
        s.expect(rb'pin\? ')
        s.send(CTRL_D)
        s.expect(rb'EOFError')
        s.expect_prompt()
        self.assertNotIn(b'Error', s.run('print("after")'))

    def test_stdin_reads_a_line_at_the_terminal(self):
        s = self.ready()
        self.assert_output(s, 'import sys; sys.stdin.isatty()', ['True'])
        s.line('got = sys.stdin.readline()')
        s.send('typed line\r')
        s.expect_prompt()
        self.assert_output(s, 'got', ["'typed line\\n'"])
        s.line('part = sys.stdin.read(3)')
        s.send('abcdef\r')
        s.expect_prompt()
        # The rest of the line stays in sys.stdin, as in CPython at a terminal.
        self.assert_output(s, 'part, sys.stdin.readline()', ["('abc', 'def\\n')"])
        s.line('sys.stdin.read()')
        # Each line once readline reads the terminal again (it turns
        # bracketed paste back on): a ^D typed ahead in cooked mode is
        # the kernel's end of file, which raw mode never sees.
        for line in ('one', 'two'):
            s.expect(rb'\x1b\[\?2004h')
            s.send(line + '\r')
        s.expect(rb'two\r\n.*\x1b\[\?2004h')
        s.send(CTRL_D)
        s.expect(rb"'one\\ntwo\\n'")
        s.expect_prompt()


class PipedReading(unittest.TestCase):
    def test_getpass_takes_the_next_line(self):
        stdin = b'import getpass\nsecret = getpass.getpass()\nhunter2\nprint(len(secret))\n'
        rc, out, err = harness.run_aiobox(stdin)
        self.assertEqual(out, b'>>> >>> >>> 7\n>>> ')
        self.assertEqual(err, b'Password: \n')
        self.assertEqual(rc, 0)


class Ending(TtyCase):
    def test_exit_shows_what_the_executor_prints_as_it_ends(self):
        s = self.ready()
        s.run('import atexit; atexit.register(print, "atexit " + "ran")')
        s.line('exit(2)')
        self.assertEqual(s.wait_exit(), 2)
        self.assertIn(b'atexit ran\r\n', s.data)

    def test_ctrl_d_shows_what_the_executor_prints_as_it_ends(self):
        s = self.ready()
        s.send(PASTE_START + b'class Noisy:\n    def __del__(self):\n'
               b'        print("del " + "ran")\n' + PASTE_END + b'\r')
        s.expect(FRESH_PROMPT)
        s.run('n = Noisy(); import atexit; atexit.register(print, "atexit " + "ran")')
        s.send(CTRL_D)
        self.assertEqual(s.wait_exit(), 0)
        self.assertRegex(s.data, rb'atexit ran\r\n(.*\r\n)?del ran\r\n')


class Sanitising(TtyCase):
    def test_escape_sequences_are_neutralised(self):
        s = self.ready()
        shown = s.run(r'print("\x1b]0;title\x07A\x1b[2JB\x1b[31mred\x1b[0m")')
        self.assertIn(b'^[]0;title^GA^[[2JB\x1b[31mred\x1b[0m', shown)
        shown = s.run(r'import os; os.write(1, b"\x1b]52;c;Zm9v\x07raw \xff!\n")')
        self.assertIn(b'^[]52;c;Zm9v^Graw \xef\xbf\xbd!', shown)
        s.line(r'input("\x1b[2Jask: ")')
        s.expect(rb'\^\[\[2Jask: ')
        s.line('x')
        s.expect_prompt()
        for bad in (b'\x1b]0;', b'\x1b]52;', b'\x1b[2J', b'\xff'):
            self.assertNotIn(bad, s.data)


class Restore(TtyCase):
    def test_replay_after_a_crash_gives_the_prompt_back(self):
        s = self.ready('--restore', 'replay')
        s.run('a = 1')
        mark = len(s.data)
        s.line('import ctypes; ctypes.string_at(0)')
        s.expect(rb'restored 2 statements in \d+ ms')
        s.expect_prompt()
        shown = s.data[mark:]
        for notice in (rb'executor killed by SIGSEGV', rb'replaying 2 statements',
                       rb'restored 2 statements'):
            self.assertEqual(len(re.findall(notice, shown)), 1, shown)
        # The state came back, and the keys reach readline again.
        self.assert_output(s, 'a', ['1'])
        s.send('half')
        s.expect('half')
        s.send(CTRL_C)
        s.expect(KI + NL_PROMPT)
        self.assert_output(s, 'a + 1', ['2'])


class Attributes(TtyCase):
    RESET = b'\x1b[0m'

    def test_attributes_user_output_sets_do_not_hide_aiobox(self):
        s = self.ready()
        mark = len(s.data)
        s.run('print("\\x1b[8m\\x1b[30;40mhidden", end="")')
        shown = s.data[mark:]
        # Reset after the user's output, before the prompt.
        self.assertIn(self.RESET, shown[shown.rindex(b'hidden'):])
        mark = len(s.data)
        s.run('import os; os.write(1, b"\\x1b[8m"); os.kill(os.getpid(), 9)')
        shown = s.data[mark:]
        self.assertIn(self.RESET + b'aiobox: executor killed by SIGKILL', shown)
        s.run('print("\\x1b[8m", end="")')
        s.send(CTRL_D)
        self.assertEqual(s.wait_exit(), 0)
        # Nothing set by user output outlives aiobox.
        self.assertTrue(s.data.rstrip(b'\r\n').endswith(self.RESET), s.data[-60:])


    def test_prompts_keep_carriage_return_and_backspace(self):
        s = self.ready()
        s.run('import sys; sys.ps1 = "xx\\rab\\bc> "', then=rb'xx\rab\x08c> ')
        s.run('del sys.ps1')


class PipedPrompts(unittest.TestCase):
    """sys.ps1/sys.ps2 reach the piped front end too, written as CPython's
    piped REPL writes them."""
    maxDiff = None

    def test_prompts_as_cpython_writes_them(self):
        stdin = (b'import sys\nsys.ps1 = "\\x1b[1mIn\\0: "\nsys.ps2 = 3\nif 1:\n  pass\n\n'
                 b'exit(3)\n')
        rc, out, _ = harness.run_aiobox(stdin)
        ref_rc, ref_out, _ = harness.run_reference(stdin)
        self.assertEqual(out, ref_out)
        self.assertEqual(out, b'>>> >>> ' + b'\x1b[1mIn\0: ' * 2 + b'33\x1b[1mIn\0: ')
        self.assertEqual((rc, ref_rc), (3, 3))

    def test_unusable_prompts_fall_back(self):
        # CPython's REPL dies on the first two; aiobox keeps the default.
        stdin = (b'import sys\nclass P:\n  def __str__(self): raise ValueError\n\n'
                 b'sys.ps1 = P()\n1\ndel sys.ps1\n2\nsys.ps1 = "x" * 300\n')
        rc, out, _ = harness.run_aiobox(stdin)
        self.assertEqual(out, b'>>> >>> ... ... >>> >>> 1\n>>> >>> 2\n>>> ' + b'x' * 256)
        self.assertEqual(rc, 0)


class Leaving(TtyCase):
    def test_ctrl_d_exits_and_restores_the_terminal(self):
        s = self.ready()
        s.send(CTRL_D)
        self.assertEqual(s.wait_exit(), 0)
        self.assertEqual(s.terminal_attrs(), s.saved_attrs)

    def test_exit_code(self):
        s = self.ready()
        mark = len(s.data)
        s.line('exit(3)')
        self.assertEqual(s.wait_exit(), 3)
        self.assertNotIn(b'>>>', s.data[mark:], 'a prompt after exit()')
        self.assertEqual(s.terminal_attrs(), s.saved_attrs)

    def test_system_exit_code(self):
        s = self.ready()
        s.line('raise SystemExit(5)')
        self.assertEqual(s.wait_exit(), 5)


if __name__ == '__main__':
    harness.main('supervisor-tty')
