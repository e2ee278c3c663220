"""Restarts: the budget and its back-off, the supervisor commands (:status,
:restart, :help), the warm spare, and replay of the journal
(--restore replay). Deaths in a hurry come from the fake executor
($FAKE_EXECUTOR); everything about state runs the real one."""
import os
import re
import signal
import tempfile
import time
import unittest

import harness
import livesession
from livesession import Live

FAKE = os.environ.get('FAKE_EXECUTOR')
RESTART = re.compile(rb'aiobox: started a new executor \(restart (\d+)\)')


def fake(*extra):
    return ('-q', '--executor', FAKE, *extra)


def wait_for_spare(s):
    """The spare's pid once it is ready. The spare starts after the
    executor is ready and takes an executor's start-up time: ask until it
    says so (the timeout guards against it never coming)."""
    deadline = time.monotonic() + harness.TIMEOUT
    while time.monotonic() < deadline:
        m = re.search(rb'^spare: pid (\d+), ready$', s.status(), re.M)
        if m:
            return int(m.group(1))
    raise AssertionError('no spare became ready')


class Budget(unittest.TestCase):
    def test_five_rapid_deaths_stop_restarting(self):
        with Live(*fake()) as s:
            s.prompt()
            mark = s.mark()
            t0 = time.monotonic()
            for i in range(1, 6):
                out, _ = s.run('segv')
                self.assertEqual(out, b'')
            # Restarts 2 to 4 come after their back-off: wait for the last.
            s.expect_err(b'not restarting', since=mark)
            elapsed = time.monotonic() - t0
            err = s.err_since(mark)
            text = err.decode()
            self.assertEqual(text.count('aiobox: executor killed by SIGSEGV\n'), 5, text)
            for i in range(1, 6):
                self.assertIn(f'aiobox: statement {i} did not complete\n', text)
            self.assertEqual([int(n) for n in RESTART.findall(err)], [1, 2, 3, 4])
            for deaths, delay in ((2, 100), (3, 200), (4, 400)):
                self.assertIn(f'aiobox: the executor died {deaths} times within 10 s of '
                              f'starting; restarting in {delay} ms\n', text)
            self.assertIn('aiobox: the executor died 5 times within 10 s of starting; '
                          'not restarting (type :restart to try again)\n', text)
            # A timer never fires early: the back-off really waited.
            self.assertGreaterEqual(elapsed, 0.7)

            # The prompt stays; statements fail with a reason.
            out, err = s.run('ok')
            self.assertEqual(out, b'')
            self.assertEqual(err, b'aiobox: no executor is running; type :restart to start one\n')
            status = s.status()
            self.assertIn(b'executor: none running (restart budget spent; :restart starts one)\n',
                          status)
            self.assertIn(b'restarts: 4 (deaths: 5, on request: 0)\n', status)

            # :restart starts one on demand, and the budget starts over.
            out, err = s.run(':restart')
            self.assertIn(b'aiobox: started a new executor (restart 5); the session state was '
                          b'lost\n', err)
            self.assertEqual(s.run('ok')[0], b'fine\n')
            out, err = s.run('segv')
            self.assertIn(b'(restart 6)', err)
            self.assertNotIn(b'restarting in', err)
            self.assertEqual(s.run('ok')[0], b'fine\n')
            self.assertEqual(s.close(), 0)

    def test_statement_typed_during_back_off_waits_for_the_restart(self):
        with Live(*fake('--no-standby')) as s:
            s.prompt()
            s.run('segv')
            # The second death is followed by a 100 ms back-off; the statement
            # sent at once runs in the executor started after it.
            s.send('segv')
            s.send('pid')
            s.expect_err(b'restarting in 100 ms')
            out = s.prompt()
            self.assertEqual(out, b'')
            pid = int(s.prompt())
            self.assertGreater(pid, 0)
            self.assertIn(b'(restart 2)', s.new_err())
            self.assertIn(f'executor: pid {pid}, ready'.encode(), s.status())

    def test_executor_up_ten_seconds_resets_the_count(self):
        with Live(*fake()) as s:
            s.prompt()
            mark = s.mark()
            for _ in range(4):
                s.run('segv')
            s.expect_err(b'(restart 4)', since=mark)
            # This one serves for more than 10 s before it dies.
            out, _ = s.run('live 11', timeout=harness.TIMEOUT + 11)
            self.assertEqual(out, b'lived\n')
            out, err = s.run('segv')
            self.assertIn(b'(restart 5)', err)
            self.assertNotIn(b'restarting in', err, 'its death was not counted as rapid')
            # The count began again at that death: four more to give up.
            mark = s.mark()
            for _ in range(3):
                s.run('segv')
            s.expect_err(b'(restart 8)', since=mark)
            s.run('segv')
            s.expect_err(b'died 5 times within 10 s of starting; not restarting', since=mark)

    def test_spare_that_waited_long_counts_from_its_use(self):
        # The spare was started long before it takes over; its uptime for
        # the budget begins when it does.
        with Live(*fake()) as s:
            s.prompt()
            wait_for_spare(s)
            s.run('live 11', timeout=harness.TIMEOUT + 11)
            mark = s.mark()
            for _ in range(4):
                s.run('segv')
            s.expect_err(b'died 4 times within 10 s of starting; restarting in 400 ms',
                         since=mark)


    def test_restart_in_a_script_after_the_budget_is_spent(self):
        # The real executor, its deaths and the command all in one script:
        # what follows :restart waits for the executor it starts.
        script = b'import os; os._exit(1)\n' * 5 + b':restart\nprint("AFTER")\nprint("AGAIN")\n'
        rc, out, err = harness.run_aiobox(script)
        self.assertIn(b'not restarting (type :restart to try again)', err)
        self.assertIn(b'aiobox: started a new executor (restart 5); the session state was '
                      b'lost\n', err)
        self.assertNotIn(b'no executor is running', err)
        self.assertTrue(out.endswith(b'>>> AFTER\n>>> AGAIN\n>>> '), out)
        self.assertEqual(rc, 0)


class Commands(unittest.TestCase):
    def test_help(self):
        with Live('-q') as s:
            s.prompt()
            out, err = s.run(':help')
            self.assertEqual(err, b'')
            for command in (b':status', b':restart', b':help'):
                self.assertIn(b'\n  ' + command + b' ', out)
            self.assertEqual(s.run(':help   ')[0], out, 'trailing blanks are ignored')

    def test_status(self):
        with Live('-q', '--restore', 'replay') as s:
            s.prompt()
            s.run('import os')
            pid = s.executor_pid()
            self.assertIn(pid, [p for p, _ in livesession.children(s.pid)])
            s.run('x = 1')
            s.run('1/0')
            out = s.status().decode()
            m = re.search(r'^executor: pid (\d+), ready, up (\d+\.\d{3}) s, memory (\d+) KiB$',
                          out, re.M)
            self.assertTrue(m, out)
            self.assertEqual(int(m.group(1)), pid)
            self.assertGreater(int(m.group(3)), 1000)
            self.assertIn('\npolicy: strict\n', out)
            self.assertIn('\nrestarts: 0 (deaths: 0, on request: 0)\n', out)
            self.assertIn('\nstatements run: 3\n', out)
            self.assertRegex(out, r'\nspare: (pid \d+, (ready|starting)|none)\n')
            self.assertIn('\nrestore: replay (2 statements journaled)\n', out)
            up = float(m.group(2))
            later = float(re.search(r'up (\d+\.\d+) s', s.status().decode()).group(1))
            self.assertGreaterEqual(later, up)

    def test_commands_in_a_script_wait_their_turn(self):
        # Statements are sent ahead of the running one, but a command runs
        # only once everything before it has finished, and nothing after
        # it is sent before it has run.
        script = ['x = %d' % i for i in range(50)] + [':status', ':restart', 'print("x" in globals())']
        rc, out, err = harness.run_aiobox(('\n'.join(script) + '\n').encode())
        self.assertEqual(rc, 0)
        self.assertIn(b'\nstatements run: 50\n', out)
        self.assertTrue(out.endswith(b'>>> False\n>>> '), out[-100:])
        self.assertEqual(err, b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n\n')

    def test_unknown_command(self):
        with Live('-q') as s:
            s.prompt()
            for line in (':nope', ':', ':status now', ':: x'):
                out, err = s.run(line)
                self.assertEqual(out, b'')
                self.assertEqual(err, f"aiobox: unknown command '{line}'; type :help\n".encode())

    def test_colon_is_python_inside_a_statement(self):
        with Live('-q') as s:
            s.prompt()
            s.send('a = [1, 2, 3][0')
            s.send(':2]')
            s.prompt()
            self.assertEqual(s.run('a')[0], b'[1, 2]\n')

    def test_restart_gives_a_fresh_executor(self):
        with Live('-q', '--restore', 'replay') as s:
            s.prompt()
            old = s.executor_pid()
            s.run('x = 1')
            out, err = s.run(':restart')
            self.assertEqual(out, b'')
            self.assertEqual(err, b'aiobox: started a new executor (restart 1); the session '
                                  b'state was lost\n')
            self.assertIn(b'restore: replay (0 statements journaled)\n', s.status())
            out, err = s.run('print("x" in globals())')
            has_x = out.strip()
            self.assertNotEqual(s.executor_pid(), old)
            self.assertEqual(has_x, b'False', 'nothing is replayed after :restart')
            status = s.status()
            self.assertIn(b'restarts: 1 (deaths: 0, on request: 1)\n', status)
            self.assertIn(b'restore: replay (1 statements journaled)\n', status)
            # The old one is gone and reaped, not left behind.
            deadline = time.monotonic() + harness.TIMEOUT
            while old in [p for p, _ in livesession.children(s.pid)]:
                self.assertLess(time.monotonic(), deadline, 'the old executor is still there')
            self.assertEqual(s.close(), 0)


class Standby(unittest.TestCase):
    def test_spare_takes_over_after_a_crash(self):
        with Live('-q') as s:
            s.prompt()
            spare = wait_for_spare(s)
            old = s.executor_pid()
            os.kill(old, signal.SIGKILL)
            s.expect_err(b'aiobox: executor killed by SIGKILL')
            s.expect_err(b'(restart 1)')
            s.run('1')
            self.assertEqual(s.executor_pid(), spare, 'the ready spare became the executor')
            # A new spare is started in the background.
            self.assertNotIn(wait_for_spare(s), (old, spare))

    def test_no_standby(self):
        with Live('-q', '--no-standby') as s:
            s.prompt()
            s.run('1')
            self.assertIn(b'\nspare: off\n', s.status())
            self.assertEqual(len(livesession.children(s.pid)), 1)
            old = s.executor_pid()
            os.kill(old, signal.SIGKILL)
            s.expect_err(b'(restart 1)')
            s.run('1')
            self.assertNotEqual(s.executor_pid(), old)
            self.assertIn(b'\nspare: off\n', s.status())

    def test_killed_spare_is_replaced(self):
        with Live('-q') as s:
            s.prompt()
            spare = wait_for_spare(s)
            os.kill(spare, signal.SIGKILL)
            # The session itself is not disturbed.
            self.assertEqual(s.run('print("still here")'), (b'still here\n', b''))
            deadline = time.monotonic() + harness.TIMEOUT
            while time.monotonic() < deadline:
                m = re.search(rb'^spare: pid (\d+), ready$', s.status(), re.M)
                if m and int(m.group(1)) != spare:
                    break
            else:
                self.fail('the spare was not replaced')
            self.assertIn(b'restarts: 0 (deaths: 0', s.status())


class Replay(unittest.TestCase):
    def crash(self, s):
        s.send('import ctypes; ctypes.string_at(0)')
        s.prompt()
        return s.new_err()

    def test_state_comes_back(self):
        with Live('-q', '--restore', 'replay') as s:
            s.prompt()
            s.run('x = 20')
            s.run('def f(a):\n    return a + x\n')
            s.run('print("side effect")')
            self.assertIn(b'ZeroDivisionError', s.run('y = 1/0')[1])
            s.run('t = asyncio.create_task(asyncio.sleep(0, result=2))')
            s.run('z = await t')
            s.send('w = 5; import ctypes; ctypes.string_at(0)')
            s.prompt()
            since_crash = s.out_pos
            err = s.new_err()
            self.assertIn(b'aiobox: executor killed by SIGSEGV\n', err)
            self.assertIn(b'aiobox: started a new executor (restart 1); replaying 5 statements\n',
                          err)
            s.expect_err(re.compile(rb'aiobox: restored 5 statements in \d+ ms\n'))
            out, err = s.run('print(f(z), "y" in globals(), "w" in globals())')
            # Replayed output is not shown again; the failed statement and
            # the one that crashed were not replayed.
            self.assertEqual(out, b'22 False False\n')
            self.assertNotIn(b'side effect', s.out[since_crash:])
            self.assertIn(b'restore: replay (6 statements journaled)', s.status())

    def test_side_effects_happen_again(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            log = os.path.join(d, 'log')
            with Live('-q', '--restore', 'replay', '--allow-write', d) as s:
                s.prompt()
                s.run(f'open({log!r}, "a").write("ran\\n")')
                self.crash(s)
                s.expect_err(b'restored 1 statement in ')
                s.run('1')
                with open(log) as f:
                    self.assertEqual(f.read(), 'ran\nran\n')

    def test_replay_stops_at_first_failure(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            mark = os.path.join(d, 'mark')
            with Live('-q', '--restore', 'replay', '--allow-write', d) as s:
                s.prompt()
                s.run('a = 1')
                # Succeeds once; on replay the file exists and it fails.
                s.run(f'open({mark!r}, "x").close()')
                s.run('b = 2')
                self.crash(s)
                s.expect_err(b'aiobox: replay stopped at statement 2 of 3 (FileExistsError')
                s.expect_err(b'later statements were not restored\n')
                out, _ = s.run('print("a" in globals(), "b" in globals())')
                self.assertEqual(out, b'True False\n')
                # a = 1, then the print just run.
                self.assertIn(b'(2 statements journaled)', s.status())

    def test_death_during_replay(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            mark = os.path.join(d, 'mark')
            with Live('-q', '--restore', 'replay', '--allow-write', d) as s:
                s.prompt()
                s.run('a = 1')
                # Harmless now; kills its executor when replayed.
                s.run(f'import os; os.path.exists({mark!r}) and os._exit(9)')
                s.run(f'open({mark!r}, "x").close()')
                self.crash(s)
                s.expect_err(b'aiobox: executor exited with status 9\n')
                s.expect_err(b'aiobox: replay stopped: the executor died replaying statement '
                             b'2 of 3\n')
                # The statements before it come back in the next executor.
                s.expect_err(b'(restart 2); replaying 1 statement\n')
                s.expect_err(b'restored 1 statement in ')
                out, _ = s.run('print(a)')
                self.assertEqual(out, b'1\n')

    def test_replayed_input_sees_end_of_file(self):
        with Live('-q', '--restore', 'replay') as s:
            s.prompt()
            s.send('name = input("name? ")')
            s.expect_out(b'name? ')
            s.send('bob')
            s.prompt()
            s.run('n = 1')
            self.crash(s)
            s.expect_err(b'replay stopped at statement 1 of 2 (EOFError')
            # The user's next line is a statement, not an answer to input().
            out, _ = s.run('print("name" in globals(), "n" in globals())')
            self.assertEqual(out, b'False False\n')

    def test_without_restore_nothing_is_replayed(self):
        with Live('-q') as s:
            s.prompt()
            s.run('x = 1')
            err = self.crash(s)
            self.assertIn(b'the session state was lost', err)
            self.assertIn(b"NameError: name 'x' is not defined", s.run('x')[1])


class Timeouts(unittest.TestCase):
    def test_statement_deaf_to_interrupts_is_killed_after_grace(self):
        with Live('-q', '--timeout', '0.3', '--grace', '0.5') as s:
            s.prompt()
            s.run('import time')
            s.send('while True:\n    try:\n        time.sleep(10)\n    except BaseException:\n'
                   '        pass\n')
            s.prompt()
            err = s.new_err()
            self.assertIn(b'statement timed out after 0.3 s; interrupting it', err)
            self.assertIn(b'aiobox: executor did not stop within 0.5 s of an interrupt: killed\n',
                          err)
            self.assertIn(b'did not complete', err)
            self.assertEqual(s.run('print("next")')[0], b'next\n')


if __name__ == '__main__':
    harness.main('supervisor-resilience')
