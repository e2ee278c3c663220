"""CPU used while no statement runs (policy `idle-cpu`, docs/policies.md),
through the real `aiobox` on pipes and `aiobox --json`: a thread a
statement left spinning is warned of, then its executor is stopped and
restarted, in words; a quiet background task never is; a statement's own
CPU never counts. Also the cgroup v2 report, and a policy that requires a
cgroup limit refused where it cannot be applied. A test policy with a 1 s
window keeps it quick; every wait is for an event, with a timeout."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

from livesession import AIOBOX, Live

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'server'))
from jsonclient import Stdio  # noqa: E402

STRICT = os.path.join(os.path.dirname(os.path.abspath(AIOBOX)), 'policies', 'strict')
SPINNER = ('import threading; threading.Thread(target=lambda: [0 for _ in iter(int, 1)], '
           'daemon=True).start()')
WARNED = re.compile(rb'aiobox: the executor used (\d+)% of a CPU for 1 s while no statement ran '
                    rb'\(policy idletest allows 25%\): a thread or task is still running; it will '
                    rb'be stopped if this goes on for 1 s more\n')
STOPPED = re.compile(rb'aiobox: the executor used (\d+)% of a CPU for 1 s more while no statement '
                     rb'ran \(policy idletest allows 25%\): it was stopped\n')
RESTARTED = b'aiobox: started a new executor (restart 1); the session state was lost\n'
IDLE_FIGURE = re.compile(rb'^idle cpu: (\d+\.\d)% over the last (\d+) s \(limit 25% over 1 s, '
                         rb'then kill, measured by sampling\)$', re.M)


def write_policy(directory, name, body):
    path = os.path.join(directory, name)
    with open(path, 'w') as f:
        f.write(f'aiobox-policy 1\ninclude {STRICT}\nname {name}\n{body}')
    return path


class IdleCpu(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.policy = write_policy(cls.dir.name, 'idletest', 'idle-cpu 25% over 1s then kill\n')

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def live(self):
        s = Live('-q', '--policy', self.policy)
        self.addCleanup(s.kill)
        s.prompt()
        return s

    def test_spinning_thread_is_warned_of_then_stopped(self):
        s = self.live()
        pid = s.executor_pid()
        self.assertEqual(s.run('x = 1'), (b'', b''))
        mark = s.mark()
        s.send(SPINNER)
        s.prompt()
        warned = s.expect_err(WARNED, since=mark)
        self.assertGreater(int(warned.group(1)), 25)
        stopped = s.expect_err(STOPPED, since=warned.end())
        self.assertGreater(int(stopped.group(1)), 25)
        s.expect_err(RESTARTED, since=stopped.end())
        # Nothing else was said between them.
        said = s.err_since(mark)
        self.assertEqual(said.count(b'aiobox: '), 3, said)
        # A fresh executor, with the state gone, as after any death.
        self.assertNotEqual(s.executor_pid(), pid)
        out, err = s.run('print(6 * 7)')
        self.assertEqual(out, b'42\n')
        out, err = s.run('x')
        self.assertIn(b"NameError: name 'x' is not defined", err)

    def test_quiet_background_task_is_never_warned(self):
        s = self.live()
        mark = s.mark()
        s.send('import asyncio')
        s.prompt()
        s.send('async def tick(n):\n    for i in range(n):\n        await asyncio.sleep(0.1)\n'
               '        print("tick", i, flush=True)\n')
        s.prompt()
        s.send('t = asyncio.ensure_future(tick(40))')
        s.prompt()
        # Four seconds of ticks every 0.1 s: four windows, all idle.
        s.expect_out(b'tick 39\n', timeout=60)
        status = s.status()
        figure = IDLE_FIGURE.search(status)
        self.assertIsNotNone(figure, status)
        self.assertLess(float(figure.group(1)), 25.0, status)
        self.assertEqual(s.err_since(mark), b'')

    def test_a_statement_own_cpu_is_not_counted(self):
        s = self.live()
        pid = s.executor_pid()
        mark = s.mark()
        # 2.5 s of one CPU inside a statement: were it counted, the 1 s
        # window would warn and then stop the executor.
        out, err = s.run('import time; e = time.monotonic() + 2.5; '
                         'n = sum(1 for _ in iter(lambda: time.monotonic() < e, False))')
        self.assertEqual((out, err), (b'', b''))
        # Then 3 s idle, until a timer prints.
        s.send('import asyncio; asyncio.get_running_loop().call_later(3, print, "later")')
        s.prompt()
        s.expect_out(b'later\n', timeout=60)
        status = s.status()
        figure = IDLE_FIGURE.search(status)
        self.assertIsNotNone(figure, status)
        self.assertLess(float(figure.group(1)), 25.0, status)
        self.assertEqual(s.err_since(mark), b'')
        self.assertEqual(s.executor_pid(), pid)

    def test_status_says_the_limit_and_cgroup(self):
        s = self.live()
        status = s.status()
        self.assertRegex(status, rb'\nidle cpu: (not measured yet|\d+\.\d% over the last \d+ s) '
                                 rb'\(limit 25% over 1 s, then kill, measured by sampling\)\n')
        self.assertRegex(status, rb'\ncgroup v2: (not available \(.+\)|delegated at .+)\n')

    def test_json_lines_notice_events(self):
        c = Stdio('--policy', self.policy)
        self.addCleanup(c.close)
        d = c.run('x = 1', 1, session='s1')
        self.assertEqual(d['status'], 'ok')
        d = c.run(SPINNER, 2, session='s1')
        self.assertEqual(d['status'], 'ok')
        warned = c.event(lambda e: e['event'] == 'notice', limit_s=60)
        self.assertEqual(warned['id'], None)
        self.assertEqual(warned['session'], 's1')
        self.assertRegex(warned['message'], WARNED.pattern.decode()[len('aiobox: '):-2])
        stopped = c.event(lambda e: e['event'] == 'notice', limit_s=60)
        self.assertRegex(stopped['message'], STOPPED.pattern.decode()[len('aiobox: '):-2])
        c.send({'id': 3, 'op': 'sessions'})
        listed = c.answer(3, 'sessions')['sessions'][0]
        self.assertIn('idle_cpu', listed)
        d = c.run('x', 4, session='s1')
        self.assertEqual(d['status'], 'error')
        self.assertIs(d['state_lost'], True)
        self.assertEqual(d['epoch'], 1)
        c.send({'id': 5, 'op': 'status'})
        self.assertRegex(c.answer(5, 'status')['cgroup'], r'^cgroup v2: ')

    def test_json_idle_figure_of_a_quiet_session(self):
        c = Stdio('--policy', self.policy)
        self.addCleanup(c.close)
        c.run('import asyncio; asyncio.get_running_loop().call_later(2.5, print, "later")', 1,
              session='s1')
        c.event(lambda e: e['event'] == 'stdout' and e['data'] == 'later\n', limit_s=60)
        c.send({'id': 2, 'op': 'sessions'})
        idle = c.answer(2, 'sessions')['sessions'][0]['idle_cpu']
        self.assertIsNotNone(idle)
        self.assertLess(idle['percent'], 25)
        self.assertGreaterEqual(idle['over_s'], 0.9)
        self.assertEqual(idle['limit_percent'], 25)
        self.assertFalse(any(e['event'] == 'notice' for e in c.pending), c.pending)


class Cgroup(unittest.TestCase):
    """This aiobox places no executor in a cgroup yet: a policy that
    requires a cgroup limit is refused everywhere, one marked '?' runs."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def run_aiobox(self, *args, stdin=''):
        return subprocess.run([AIOBOX, *args], input=stdin, capture_output=True, text=True,
                              timeout=60)

    def test_required_limit_is_refused(self):
        path = write_policy(self.dir.name, 'needscg', 'cgroup pids 64\n')
        r = self.run_aiobox('-q', '--policy', path, stdin='print(1)\n')
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, '')
        self.assertRegex(r.stderr, r"^aiobox: policy needscg requires cgroup limits \(pids\), "
                                   r"which cannot be applied here: cgroup v2: .+ \(write "
                                   r"'cgroup pids\? \.\.\.' to go without\)\n$")
        r = self.run_aiobox('--check-policy', path)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn('  pids 64  # ', r.stdout)
        self.assertIn('requires cgroup limits (pids)', r.stderr)

    def test_optional_limit_runs_without(self):
        path = write_policy(self.dir.name, 'maybecg', 'cgroup pids? 64\ncgroup memory? 1G\n')
        r = self.run_aiobox('-q', '--policy', path, stdin='print(6 * 7)\n')
        self.assertEqual((r.returncode, r.stdout), (0, '>>> 42\n>>> '), r)
        r = self.run_aiobox('--check-policy', path)
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex(r.stdout, r'\n  pids\? 64  # .+\ncgroup v2: (not available \(.+\)|'
                                   r'delegated at .+); the idle-CPU limit is enforced by '
                                   r'sampling\nfilter \(')

    def test_this_machine_is_reported_plainly(self):
        r = self.run_aiobox('--check-policy', 'strict')
        last = r.stdout.split('\nfilter (', 1)[0].rsplit('\n', 1)[-1]
        with open('/proc/self/mounts') as f:
            v2_root = any(line.split()[1:3] == ['/sys/fs/cgroup', 'cgroup2'] for line in f)
        if not v2_root:
            self.assertRegex(last, r'^cgroup v2: not available \(/sys/fs/cgroup is (cgroup v1|not '
                                   r'a cgroup filesystem)')
        else:
            self.assertRegex(last, r'^cgroup v2: ')


if __name__ == '__main__':
    unittest.main(verbosity=2)
