"""The real executor dies, while idle and in the middle of a statement, by a
signal sent from outside (this test runs as root; the executor runs as
nobody) or by something its own code does. Each time the cause is printed,
a statement in flight is reported as not completed, and the next statement
runs in a new executor. No executor is ever left behind."""
import os
import re
import signal
import time
import unittest

import harness
import livesession
from livesession import Live

CAUSE = {
    signal.SIGKILL: b'aiobox: executor killed by SIGKILL\n',
    signal.SIGSEGV: b'aiobox: executor killed by SIGSEGV\n',
    signal.SIGABRT: b'aiobox: executor killed by SIGABRT\n',
}


class Crashes(unittest.TestCase):
    def setUp(self):
        self.s = Live('-q')
        self.s.prompt()
        self.pid = self.s.executor_pid()
        self.mark = self.s.mark()

    def tearDown(self):
        self.s.kill()

    def getpid(self):
        """The executor's pid as the supervisor knows it: inside its own
        pid namespace, os.getpid() is 1."""
        out, err = self.s.run('import os; print(os.getpid())')
        self.assertEqual((out, err), (b'1\n', b''))
        return self.s.executor_pid()

    def assert_next_statement_runs_elsewhere(self, restart=1):
        self.s.expect_err(f'aiobox: started a new executor (restart {restart}); the session '
                          f'state was lost\n', since=self.mark)
        pid = self.getpid()
        self.assertNotEqual(pid, self.pid)
        self.assertEqual(self.s.run('print(6 * 7)'), (b'42\n', b''))
        self.assert_no_stray_children()
        return pid

    def assert_no_stray_children(self):
        """Only the executor and its spare are children of the supervisor:
        the dead one has been reaped. Reaping is the loop's next step after
        the death; ask until it has happened."""
        deadline = time.monotonic() + harness.TIMEOUT
        while True:
            kids = livesession.children(self.s.pid)
            if len(kids) <= 2 and all(state != 'Z' for _, state in kids) and \
                    self.pid not in [p for p, _ in kids]:
                return
            self.assertLess(time.monotonic(), deadline, f'children left: {kids}')

    def kill_idle(self, sig):
        os.kill(self.pid, sig)
        self.s.expect_err(CAUSE[sig])
        self.assert_next_statement_runs_elsewhere()
        self.assertNotIn(b'did not complete', bytes(self.s.err))

    def kill_mid_statement(self, sig, statement):
        self.s.send(statement)
        self.s.expect_out(b'started\n')
        os.kill(self.pid, sig)
        out = self.s.prompt()
        self.assertNotIn(b'finished', out)
        err = self.s.new_err()
        self.assertIn(CAUSE[sig], err)
        self.assertIn(b'aiobox: statement 1 did not complete\n', err)
        self.assert_next_statement_runs_elsewhere()

    SYNC = 'print("started", flush=True); import time; time.sleep(60); print("finished")'
    ASYNC = 'print("started", flush=True); await asyncio.sleep(60); print("finished")'

    def test_sigkill_idle(self):
        self.kill_idle(signal.SIGKILL)

    def test_sigsegv_idle(self):
        self.kill_idle(signal.SIGSEGV)

    def test_sigabrt_idle(self):
        self.kill_idle(signal.SIGABRT)

    def test_sigkill_mid_statement(self):
        self.kill_mid_statement(signal.SIGKILL, self.SYNC)

    def test_sigsegv_mid_statement(self):
        self.kill_mid_statement(signal.SIGSEGV, self.SYNC)

    def test_sigkill_mid_await(self):
        self.kill_mid_statement(signal.SIGKILL, self.ASYNC)

    def test_sigsegv_mid_await(self):
        self.kill_mid_statement(signal.SIGSEGV, self.ASYNC)

    def test_segfault_from_inside(self):
        out, err = self.s.run('import ctypes; ctypes.string_at(0)')
        self.assertEqual(out, b'')
        self.assertEqual(err, b'aiobox: executor killed by SIGSEGV\n'
                              b'aiobox: statement 1 did not complete\n'
                              b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n')
        self.assert_next_statement_runs_elsewhere()

    def test_self_inflicted_sigkill_claims_nothing_it_does_not_know(self):
        out, err = self.s.run('import os; os.kill(os.getpid(), 9)')
        self.assertEqual(out, b'')
        self.assertEqual(err, b'aiobox: executor killed by SIGKILL\n'
                              b'aiobox: statement 1 did not complete\n'
                              b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n')
        self.assert_next_statement_runs_elsewhere()

    def test_os_exit_from_inside(self):
        out, err = self.s.run('import os; os._exit(7)')
        self.assertIn(b'aiobox: executor exited with status 7\n', err)
        self.assertIn(b'aiobox: statement 1 did not complete\n', err)
        self.assert_next_statement_runs_elsewhere()

    def test_abort_from_inside(self):
        out, err = self.s.run('import os; os.abort()')
        self.assertIn(CAUSE[signal.SIGABRT], err)
        self.assert_next_statement_runs_elsewhere()

    def test_background_task_kills_it_between_statements(self):
        self.s.run('import os; asyncio.get_running_loop().call_later(0.1, os._exit, 4)')
        self.s.expect_err(b'aiobox: executor exited with status 4\n')
        self.assert_next_statement_runs_elsewhere()

    def test_one_death_after_another(self):
        for n, sig in enumerate((signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT), start=1):
            os.kill(self.pid, sig)
            self.s.expect_err(CAUSE[sig])
            self.pid = self.assert_next_statement_runs_elsewhere(restart=n)
            self.mark = self.s.mark()
        status = self.s.status()
        self.assertIn(b'restarts: 3 (deaths: 3, on request: 0)', status)
        self.assertIn(f'executor: pid {self.pid}, ready'.encode(), status)

    def test_supervisor_exit_takes_the_executors(self):
        spare = None
        while spare is None:
            m = re.search(rb'^spare: pid (\d+), ready$', self.s.status(), re.M)
            spare = m and int(m.group(1))
        self.assertEqual(self.s.close(), 0)
        for pid in (self.pid, spare):
            self.assertFalse(os.path.exists(f'/proc/{pid}'), f'{pid} outlived the supervisor')

    def test_supervisor_killed_takes_the_executors(self):
        # PR_SET_PDEATHSIG: the executor dies with its supervisor.
        os.kill(self.s.pid, signal.SIGKILL)
        self.s.proc.wait()
        deadline = time.monotonic() + harness.TIMEOUT
        while os.path.exists(f'/proc/{self.pid}'):
            with open(f'/proc/{self.pid}/stat') as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    break
            self.assertLess(time.monotonic(), deadline, 'the executor outlived its supervisor')


class Spawn(unittest.TestCase):
    """What the executor starts with (docs/architecture.md): fd 0 on
    /dev/null, fds 1 and 2 on pipes, the channel on fd 3, a session and
    process group of its own (made outside its pid namespace, so inside
    they read 0), no environment, no blocked signals."""

    def test_the_executor_starts_alone_and_clean(self):
        rc, out, err = harness.run_aiobox(
            b'import os, stat, signal\n'
            b'[stat.S_ISCHR(os.fstat(0).st_mode), stat.S_ISFIFO(os.fstat(1).st_mode), '
            b'stat.S_ISFIFO(os.fstat(2).st_mode), stat.S_ISSOCK(os.fstat(3).st_mode)]\n'
            b'os.getsid(0) == os.getpgid(0) == 0\n'
            b'dict(os.environ)\n'
            b'signal.pthread_sigmask(signal.SIG_BLOCK, [])\n',
            env=dict(os.environ, AIOBOX_TEST_MARKER='leaked'))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b">>> >>> [True, True, True, True]\n>>> True\n>>> {}\n"
                              b">>> set()\n>>> ")

    def test_a_missing_executor_is_reported(self):
        rc, out, err = harness.run_aiobox(b'1\n', args=('-q', '--executor', '/nonexistent'))
        self.assertEqual(rc, 1)
        self.assertIn(b'/nonexistent', err)


class Script(unittest.TestCase):
    """A piped script: the supervisor reads ahead and sends statements
    before the previous one has finished. Those the dead executor never
    started run in the next one, in order; nothing is lost or run twice."""

    def test_statements_sent_ahead_survive_a_death(self):
        rc, out, err = harness.run_aiobox(
            b'x = 1\nprint("one")\nimport os; os._exit(3)\nprint("two")\n'
            b'for i in range(3):\n    print("loop", i)\n\nprint("three")\n')
        self.assertEqual(rc, 0)
        self.assertEqual(out, b'>>> >>> one\n>>> >>> two\n>>> ... ... loop 0\nloop 1\nloop 2\n'
                              b'>>> three\n>>> ')
        self.assertEqual(err, b'aiobox: executor exited with status 3\n'
                              b'aiobox: statement 3 did not complete\n'
                              b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n\n')

    def test_prompts_after_a_death_are_the_defaults(self):
        # The prompts user code chose died with its executor; the
        # statements read ahead behind the death run under '>>> ' again.
        rc, out, err = harness.run_aiobox(
            b'import sys\nsys.ps1 = "In: "; sys.ps2 = "..: "\nif 1:\n    1\n\n'
            b'import os; os._exit(3)\nif 1:\n    2\n\n')
        self.assertEqual(rc, 0)
        self.assertEqual(out, b'>>> >>> In: ..: ..: 1\nIn: >>> ... ... 2\n>>> ')
        self.assertIn(b'(restart 1)', err)

    def test_long_script_across_deaths(self):
        # Three deaths in 400 statements, each with up to a window of
        # statements sent behind it.
        lines = []
        for part in range(4):
            lines += ['n = %d' % (part * 1000)] + ['n += 1'] * 99 + ['print(n)']
            if part < 3:
                lines.append('import os; os._exit(%d)' % (part + 1))
        rc, out, err = harness.run_aiobox(('\n'.join(lines) + '\n').encode())
        self.assertEqual(rc, 0)
        self.assertEqual(out.replace(b'>>> ', b''), b'99\n1099\n2099\n3099\n')
        self.assertEqual(out.count(b'>>> '), len(lines) + 1)
        for code in (1, 2, 3):
            self.assertIn(b'aiobox: executor exited with status %d\n' % code, err)
        self.assertIn(b'(restart 3)', err)


if __name__ == '__main__':
    harness.main('supervisor-real-crashes')
