"""The command line: GNU-style options, a clear message and status 2 for
every mistake, --check-policy, --timeout, and the exit status of a session
(README.md, Usage, lists them)."""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from livesession import Live

AIOBOX = harness.AIOBOX
POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(AIOBOX)), 'policies')
SHIPPED = ('strict', 'net', 'trusted')
TRY_HELP = "Try 'aiobox --help' for more information.\n"


def run(*args, stdin=b'', timeout=harness.TIMEOUT):
    p = subprocess.run([AIOBOX, *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Informational(unittest.TestCase):
    def test_help(self):
        for flag in ('--help', '-h'):
            rc, out, err = run(flag)
            self.assertEqual(rc, 0)
            self.assertEqual(err, '')
            self.assertTrue(out.startswith('Usage: aiobox [OPTION]...'), out)
            for option in ('--quiet', '--policy=NAME|FILE', '--timeout=SECONDS',
                           '--history=FILE', '--version', '--help', '--restore=replay',
                           '--no-standby', '--check-policy', '--grace', '--output-cap',
                           '--json', '--listen=PATH', '--max-executors', '--allow-uid',
                           '--idle-timeout'):
                self.assertIn(option, out)
            for usage in ('aiobox serve --listen PATH', 'aiobox kernel -f CONNECTION_FILE',
                          'aiobox kernel install', 'aiobox -s NAME', 'aiobox attach NAME',
                          'aiobox ls', 'aiobox kill NAME', 'aiobox --json'):
                self.assertIn(usage, out)
            for command in (':status', ':restart', ':help', ':detach'):
                self.assertIn(command, out)
            self.assertIn('Exit status:', out)

    def test_help_wins_over_a_session(self):
        # Nothing is started: the output is the help text alone.
        rc, out, err = run('-q', '--help', stdin=b'print(1)\n')
        self.assertEqual(rc, 0)
        self.assertNotIn('>>>', out)

    def test_version(self):
        for flag in ('--version', '-V'):
            rc, out, err = run(flag)
            self.assertEqual(rc, 0)
            self.assertEqual(err, '')
            self.assertRegex(out, r'^aiobox \d+\.\d+\.\d+ \(Python 3\.11[.\d]*\)\n$')


class BadOptions(unittest.TestCase):
    def assert_usage_error(self, args, message):
        rc, out, err = run(*args, stdin=b'print("ran")\n')
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, '', 'no session may start after a bad option')
        self.assertIn(message, err)
        return err

    def test_unknown_long_option(self):
        err = self.assert_usage_error(['--bogus'], "aiobox: unrecognized option '--bogus'\n")
        self.assertTrue(err.endswith(TRY_HELP))

    def test_unknown_short_option(self):
        self.assert_usage_error(['-x'], "aiobox: invalid option -- 'x'\n")

    def test_missing_argument(self):
        self.assert_usage_error(['--timeout'], "aiobox: option '--timeout' requires an argument")
        self.assert_usage_error(['-q', '-t'], "aiobox: option requires an argument -- 't'")
        self.assert_usage_error(['--policy'], "option '--policy' requires an argument")

    def test_argument_to_a_flag(self):
        self.assert_usage_error(['--quiet=yes'], "option '--quiet' doesn't allow an argument")

    def test_ambiguous_abbreviation(self):
        self.assert_usage_error(['--allow=/tmp'], "option '--allow=/tmp' is ambiguous")

    def test_unexpected_operand(self):
        self.assert_usage_error(['script.py'], "aiobox: unexpected argument 'script.py'")

    def test_bad_timeout(self):
        for value in ('abc', '-1', 'nan', 'inf', '1e99', '', '5s'):
            with self.subTest(value=value):
                self.assert_usage_error(['--timeout', value],
                                        f"aiobox: --timeout: '{value}' is not a number of "
                                        f"seconds (0 to 1000000)")

    def test_bad_grace(self):
        self.assert_usage_error(['--grace=soon'], "aiobox: --grace: 'soon' is not a number")

    def test_bad_restore(self):
        self.assert_usage_error(['--restore', 'snapshot'],
                                "aiobox: --restore: 'snapshot' is not 'replay' or 'none'")

    def test_unknown_policy_name(self):
        self.assert_usage_error(['--policy', 'nosuch'],
                                "aiobox: no policy named 'nosuch' (in ")

    def test_empty_policy_name(self):
        self.assert_usage_error(['--policy='], "aiobox: '' is not a policy name")

    def test_missing_policy_file(self):
        self.assert_usage_error(['--policy', '/nonexistent/p'],
                                'aiobox: policy file /nonexistent/p: No such file or directory')

    def test_broken_policy_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'broken')
            with open(path, 'w') as f:
                f.write('aiobox-policy 1\nname broken\n\nallow no_such_call\n')
            err = self.assert_usage_error(['--policy', path], f'{path}:4: ')
            self.assertIn('no_such_call', err)

    def test_missing_allow_path(self):
        self.assert_usage_error(['--allow-read', '/nonexistent/dir'],
                                'aiobox: --allow-read /nonexistent/dir: No such file or directory')

    def test_missing_executor_is_exit_status_1(self):
        rc, out, err = run('--executor', '/nonexistent/aiobox-executor', stdin=b'1\n')
        self.assertEqual(rc, 1)
        self.assertIn('aiobox: --executor /nonexistent/aiobox-executor: No such file', err)


class CheckPolicy(unittest.TestCase):
    def test_each_shipped_policy_by_name_and_file(self):
        for name in SHIPPED:
            for arg in (name, os.path.join(POLICY_DIR, name)):
                with self.subTest(policy=arg):
                    rc, out, err = run('--check-policy', arg)
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(err, '')
                    self.assertTrue(out.startswith(f'policy {name} ('), out[:200])
                    # The compiled filter in libseccomp's pseudo filter code.
                    self.assertRegex(out, r'(?m)^filter \(\d+ rules, libseccomp pseudo filter')
                    self.assertIn('# pseudo filter code start\n', out)
                    self.assertTrue(out.endswith('# pseudo filter code end\n#\n'), out[-200:])

    def test_filter_names_the_source_line(self):
        rc, out, err = run('--check-policy', 'strict')
        self.assertEqual(rc, 0)
        self.assertRegex(out, r'trap ptrace +# .*strict:\d+')

    def test_broken_policy(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'broken')
            with open(path, 'w') as f:
                f.write('aiobox-policy 1\nname broken\ntimeout forever\n')
            rc, out, err = run('--check-policy', path)
            self.assertEqual(rc, 2)
            self.assertEqual(out, '')
            self.assertRegex(err, rf'^aiobox: {re.escape(path)}:3: .*\n$')

    def test_unknown_policy(self):
        rc, out, err = run('--check-policy', 'nosuch')
        self.assertEqual(rc, 2)
        self.assertIn("no policy named 'nosuch'", err)


def quick_policy(directory, timeout):
    """strict with another statement timeout."""
    path = os.path.join(directory, 'quick')
    with open(path, 'w') as f:
        f.write(f'aiobox-policy 1\ninclude {os.path.join(POLICY_DIR, "strict")}\n'
                f'name quick\ntimeout {timeout}\n')
    os.chmod(directory, 0o755)
    os.chmod(path, 0o644)
    return path


class Timeout(unittest.TestCase):
    def test_statement_over_the_limit_is_interrupted(self):
        with Live('-q', '--timeout', '0.5') as s:
            s.prompt()
            t0 = time.monotonic()
            out, err = s.run('import time; time.sleep(30); print("not reached")')
            self.assertLess(time.monotonic() - t0, 25, 'the timeout did not interrupt it')
            self.assertNotIn(b'not reached', out)
            self.assertIn(b'aiobox: statement timed out after 0.5 s; interrupting it\n', err)
            self.assertIn(b'KeyboardInterrupt', err)
            self.assertNotIn(b'started a new executor', err, 'an interrupt suffices')
            # The session goes on in the same executor.
            out, err = s.run('print(6 * 7)')
            self.assertEqual(out, b'42\n')
            self.assertEqual(s.close(), 0)

    def test_async_statement_over_the_limit_is_cancelled(self):
        with Live('-q', '--timeout', '0.5') as s:
            s.prompt()
            out, err = s.run('await asyncio.sleep(30)')
            self.assertIn(b'statement timed out after 0.5 s', err)
            self.assertIn(b'KeyboardInterrupt', err)
            out, err = s.run('print("next")')
            self.assertEqual(out, b'next\n')

    def test_input_waiting_on_a_pipe_is_interrupted(self):
        # input() waits for a line that does not come: the timeout
        # interrupts it, and the next line typed is a statement again.
        with Live('-q', '--timeout', '0.5') as s:
            s.prompt()
            s.send('name = input("name? ")')
            s.expect_out(b'name? ')
            s.expect_err(b'statement timed out after 0.5 s')
            s.prompt()
            self.assertIn(b'KeyboardInterrupt', s.new_err())
            out, err = s.run('print(6 * 7)')
            self.assertEqual((out, err), (b'42\n', b''))
            self.assertIn(b"name 'name' is not defined", s.run('name')[1])

    def test_statement_under_the_limit_runs(self):
        with Live('-q', '--timeout', '20') as s:
            s.prompt()
            out, err = s.run('import time; time.sleep(0.2); print("done")')
            self.assertEqual(out, b'done\n')
            self.assertEqual(err, b'')

    def test_policy_timeout_applies(self):
        with tempfile.TemporaryDirectory() as d, Live('-q', '--policy', quick_policy(d, '500ms')) as s:
            s.prompt()
            self.assertIn(b'statement timeout: 0.5 s', s.status())
            out, err = s.run('import time; time.sleep(30)')
            self.assertIn(b'statement timed out after 0.5 s', err)

    def test_option_overrides_policy_timeout(self):
        with tempfile.TemporaryDirectory() as d, \
                Live('-q', '--policy', quick_policy(d, '500ms'), '--timeout', '0') as s:
            s.prompt()
            self.assertIn(b'statement timeout: none (Ctrl-C interrupts)', s.status())
            out, err = s.run('import time; time.sleep(1.5); print("survived")')
            self.assertEqual(out, b'survived\n')
            self.assertNotIn(b'timed out', err)

    def test_strict_policy_default(self):
        with Live('-q') as s:
            s.prompt()
            self.assertIn(b'statement timeout: 30 s', s.status())


class OutputCap(unittest.TestCase):
    FLOOD = b'for i in range(200000): print(i, "y" * 45)\n\n'

    def test_a_pipe_gets_all_the_output(self):
        rc, out, err = harness.run_aiobox(self.FLOOD)
        ref_rc, ref_out, ref_err = harness.run_reference(self.FLOOD)
        self.assertGreater(len(ref_out), 10_000_000)
        self.assertEqual(len(out), len(ref_out))
        self.assertEqual(out, ref_out)
        self.assertEqual((rc, err), (ref_rc, ref_err))

    def test_a_file_gets_all_the_output(self):
        with tempfile.TemporaryFile() as f:
            p = subprocess.run([AIOBOX, '-q'], input=self.FLOOD, stdout=f,
                               stderr=subprocess.PIPE, timeout=harness.TIMEOUT)
            f.seek(0)
            out = f.read()
        self.assertEqual(p.returncode, 0)
        self.assertTrue(out.endswith(b'199999 ' + b'y' * 45 + b'\n>>> '), out[-100:])
        self.assertNotIn(b'truncated', p.stderr)

    def test_a_cap_asked_for_cuts_and_says_how_to_change_it(self):
        rc, out, err = harness.run_aiobox(self.FLOOD, args=('-q', '--output-cap', '1000'))
        self.assertLessEqual(len(out), 1000 + len(b'>>> ... >>> '))
        self.assertIn(b'[aiobox: output truncated at 1000 bytes; --output-cap BYTES changes '
                      b'the limit]\n', err)
        for line in err.splitlines():
            self.assertLessEqual(len(line), 80, line)


class DenialHints(unittest.TestCase):
    """Each kind of denial says what would allow it, in one line within 80
    columns."""

    def hint(self, statement, *args):
        rc, out, err = harness.run_aiobox(statement.encode() + b'\n', args=('-q', *args))
        self.assertIn(b'PermissionError', err)
        lines = [line for line in err.decode().splitlines() if line.startswith('aiobox: ')]
        self.assertEqual(len(lines), 1, err)
        self.assertLessEqual(len(lines[0]), 80, lines[0])
        return lines[0]

    def test_socket(self):
        self.assertEqual(self.hint('import socket; socket.socket()'),
                         'aiobox: no network under policy strict; --policy net allows outgoing TCP')

    def test_asyncio_connection(self):
        self.assertEqual(self.hint('await asyncio.open_connection("127.0.0.1", 9)'),
                         'aiobox: no network under policy strict; --policy net allows outgoing TCP')

    def test_socket_under_net(self):
        self.assertEqual(
            self.hint('import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
                      '--policy', 'net'),
            'aiobox: policy net allows outgoing TCP only; --policy trusted allows more')

    def test_path(self):
        # In strict's new root (/etc/hostname is not there at all:
        # FileNotFoundError), /dev/zero is bound and landlock refuses it.
        self.assertEqual(self.hint('open("/dev/zero")'),
                         'aiobox: path outside the sandbox; --allow-read or --allow-write DIR '
                         'grants it')

    def test_no_hint_for_a_permission_error_of_the_users(self):
        rc, out, err = harness.run_aiobox(b'raise PermissionError("mine")\n')
        self.assertIn(b'PermissionError: mine', err)
        self.assertNotIn(b'aiobox: ', err)

    def test_process(self):
        expected = ('aiobox: no child processes under policy strict; --policy trusted allows '
                    'them')
        self.assertEqual(self.hint('import subprocess; subprocess.run(["true"])'), expected)
        self.assertEqual(self.hint('import os; os.fork()'), expected)


class Grants(unittest.TestCase):
    """Run as root, the executor runs user code as nobody: a grant nobody
    cannot use is refused at start-up, naming the path and the reason."""

    def setUp(self):
        if os.geteuid() != 0:
            sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
            import hostlacks
            if hostlacks.declared('root'):
                self.skipTest(hostlacks.skip_line(self.id(), 'root', f'euid {os.geteuid()}'))
            self.fail(hostlacks.undeclared('root'))

    def test_a_grant_nobody_cannot_use_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            for flag, verb in (('--allow-write', 'write'), ('--allow-read', 'read')):
                rc, out, err = run('-q', flag, d, stdin=b'print("ran")\n')
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, '')
                self.assertIn(f'aiobox: {flag} {d}: user code runs as nobody (uid 65534), who '
                              f'cannot {verb} there (Permission denied; owner root, mode '
                              f'0700)', err)

    def test_a_grant_nobody_can_use_works(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            path = os.path.join(d, 'f')
            rc, out, err = run('-q', '--allow-write', d,
                               stdin=f'open({path!r}, "w").write("hi")\n'.encode())
            self.assertEqual((rc, out), (0, '>>> 2\n>>> '), err)
            with open(path) as f:
                self.assertEqual(f.read(), 'hi')


class ExitStatus(unittest.TestCase):
    def check(self, source, status, stderr=None):
        rc, out, err = run('-q', stdin=source.encode())
        self.assertEqual(rc, status, err)
        if stderr is not None:
            self.assertEqual(err, stderr)
        # The same as the reference REPL.
        ref_rc, _, _ = harness.run_reference(source.encode())
        self.assertEqual(rc, ref_rc)

    def test_end_of_input(self):
        self.check('x = 1\n', 0, '\n')

    def test_exit(self):
        self.check('exit()\nprint("not reached")\n', 0)

    def test_exit_code(self):
        self.check('exit(3)\n', 3)

    def test_quit_code(self):
        self.check('quit(4)\n', 4)

    def test_system_exit(self):
        self.check('raise SystemExit(5)\n', 5)

    def test_sys_exit_wraps(self):
        self.check('import sys; sys.exit(258)\n', 2)

    def test_system_exit_message(self):
        self.check('raise SystemExit("bye")\n', 1, 'bye\n')

    def test_exit_from_a_coroutine(self):
        self.check('async def f():\n    raise SystemExit(6)\n\nawait f()\n', 6)

    def test_sigterm(self):
        with Live('-q') as s:
            s.prompt()
            # stdin stays open: SIGTERM alone ends the session.
            s.proc.terminate()
            self.assertEqual(s.proc.wait(harness.TIMEOUT), 128 + 15)


if __name__ == '__main__':
    harness.main('supervisor-cli')
