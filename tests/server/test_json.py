"""The machine interface (docs/json.md), through the real binaries:
`aiobox --json` on pipes and `aiobox serve` on a Unix socket. Every status
has a case that yields exactly it; bad lines of every kind get an answer
and change nothing; isolated runs see nothing of one another; sessions say
when their state was lost; a client that goes away has its runs cancelled,
and one that floods or stops reading stalls nobody else."""
import json
import os
import pwd
import select
import signal
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonclient  # noqa: E402
from jsonclient import Server, Stdio  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import hostlacks  # noqa: E402

# An executor's own pid namespace, as its code sees it (it is pid 1 there).
PID_NS = '__import__("os").readlink("/proc/self/ns/pid")'
SANITIZED = os.environ.get('AIOBOX_SANITIZED') == '1'


class StdioCase(unittest.TestCase):
    def setUp(self):
        self.c = Stdio()

    def tearDown(self):
        self.c.close()


class Statuses(StdioCase):
    """One case a status, each yielding exactly it."""

    def test_ok_with_value_and_output(self):
        d = self.c.run('x = 6\nprint("hi")\nx * 7', 1)
        self.assertEqual(d['status'], 'ok')
        self.assertEqual(d['value'], '42')
        self.assertEqual(d['stdout'], 'hi\n')
        self.assertEqual(d['stderr'], '')
        self.assertNotIn('error', d)
        for field in ('wall_ms', 'cpu_ms', 'max_rss_kb', 'epoch'):
            self.assertIsInstance(d[field], (int, float), field)
        self.assertGreater(d['max_rss_kb'], 0)
        self.assertIs(d['state_lost'], False)

    def test_top_level_await(self):
        d = self.c.run('import asyncio\nawait asyncio.sleep(0.01, result=7)', 1)
        self.assertEqual((d['status'], d['value']), ('ok', '7'))

    def test_error(self):
        d = self.c.run('1/0', 1)
        self.assertEqual(d['status'], 'error')
        self.assertEqual(d['error']['type'], 'ZeroDivisionError')
        self.assertEqual(d['error']['message'], 'division by zero')
        self.assertIn('ZeroDivisionError: division by zero', d['error']['traceback'])
        self.assertIn('Traceback (most recent call last)', d['stderr'])
        self.assertNotIn('_aiobox_runtime', d['error']['traceback'])

    def test_syntax_error(self):
        d = self.c.run('1 +', 1)
        self.assertEqual(d['status'], 'syntax_error')
        self.assertEqual(d['error']['type'], 'SyntaxError')

    def test_timeout(self):
        d = self.c.run('while True: pass', 1, limits={'timeout': 0.3})
        self.assertEqual(d['status'], 'timeout')

    def test_memory(self):
        if SANITIZED:
            self.skipTest('sanitizer build: RLIMIT_AS is not applied')
        d = self.c.run('b = bytearray(1 << 30)', 1)
        self.assertEqual(d['status'], 'memory')
        self.assertEqual(d['error']['type'], 'MemoryError')

    def test_output_limit(self):
        d = self.c.run('while True: print("y" * 99)', 1, limits={'output': 65536})
        self.assertEqual(d['status'], 'output_limit')
        self.assertEqual(len(d['stdout'].encode()), 65536)
        self.assertTrue(d['stdout'].startswith('y' * 99 + '\n'))

    def test_denied(self):
        d = self.c.run('import socket\nsocket.socket()', 1)
        self.assertEqual(d['status'], 'denied')
        self.assertEqual(d['syscall'], 'socket')

    def test_denied_by_a_trapped_call(self):
        d = self.c.run('import ctypes\nctypes.CDLL(None).syscall(101, 0, 0, 0, 0)', 1)
        self.assertEqual(d['status'], 'denied')
        self.assertEqual(d['syscall'], 'ptrace')

    def test_crashed_by_a_signal(self):
        d = self.c.run('import os\nos.kill(os.getpid(), 9)', 1)
        self.assertEqual(d['status'], 'crashed')
        self.assertEqual(d['signal'], 9)

    def test_crashed_by_a_segfault(self):
        d = self.c.run('import ctypes\nctypes.string_at(0)', 1)
        self.assertEqual(d['status'], 'crashed')
        self.assertEqual(d['signal'], 11)

    def test_crashed_by_an_exit(self):
        d = self.c.run('import os\nos._exit(3)', 1)
        self.assertEqual(d['status'], 'crashed')
        self.assertEqual(d['exit_code'], 3)

    def test_interrupted(self):
        self.c.send({'id': 1, 'op': 'run', 'stream': True, 'session': 's',
                     'code': 'import asyncio\nprint("go", flush=True)\nawait asyncio.sleep(60)'})
        self.c.send({'id': 2, 'op': 'run', 'stream': True,
                     'code': 'import time\nprint("go", flush=True)\ntime.sleep(60)'})
        # Interrupts reach statements that run: each says so first.
        for target in (1, 2):
            self.c.answer(target, 'stdout')
            self.c.send({'id': 'i%d' % target, 'op': 'interrupt', 'target': target})
            self.c.answer('i%d' % target, 'interrupt')
        self.assertEqual(self.c.answer(1, 'done')['status'], 'interrupted')
        self.assertEqual(self.c.answer(2, 'done')['status'], 'interrupted')

    def test_interrupt_by_session(self):
        self.c.send({'id': 1, 'op': 'run', 'stream': True, 'session': 's',
                     'code': 'print("go", flush=True)\nwhile True: pass'})
        self.c.answer(1, 'stdout')
        self.c.send({'op': 'interrupt', 'session': 's'})
        self.assertEqual(self.c.answer(1, 'done')['status'], 'interrupted')

    def test_a_run_interrupted_before_it_starts_is_cancelled(self):
        self.c.send({'id': 1, 'op': 'run', 'stream': True, 'session': 's',
                     'code': 'import time\nprint("go", flush=True)\ntime.sleep(60)'})
        self.c.answer(1, 'stdout')
        self.c.send({'id': 2, 'op': 'run', 'code': 'print("never")', 'session': 's'})
        self.c.send({'op': 'interrupt', 'target': 2})
        self.c.send({'op': 'interrupt', 'target': 1})
        self.assertEqual(self.c.answer(1, 'done')['status'], 'interrupted')
        d = self.c.answer(2, 'done')
        self.assertEqual((d['status'], d['stdout']), ('cancelled', ''))

    def test_invalid(self):
        d = self.c.run('x = "' + 'a' * ((16 << 20) - 4000) + '"', 1)
        self.assertEqual(d['status'], 'invalid')
        self.assertIn('over the limit', d['message'])
        d = self.c.run('1 + 1', 2)
        self.assertEqual((d['status'], d['value']), ('ok', '2'))

    def test_exit(self):
        d = self.c.run('raise SystemExit(4)', 1, session='s')
        self.assertEqual((d['status'], d['exit_code']), ('error', 4))
        d = self.c.run('raise SystemExit(0)', 2, session='s')
        self.assertEqual(d['status'], 'ok')


class Sessions(StdioCase):
    def test_state_persists_and_tasks_run_between_runs(self):
        self.assertEqual(self.c.run('x = 41', 1, session='a')['status'], 'ok')
        self.assertEqual(self.c.run('x + 1', 2, session='a')['value'], '42')
        # Another session has its own namespace.
        self.assertEqual(self.c.run('x', 3, session='b')['error']['type'], 'NameError')
        self.c.run('import asyncio\nticks = []\n'
                   'async def tick():\n    for i in range(3):\n        ticks.append(i)\n'
                   '        await asyncio.sleep(0)\n'
                   't = asyncio.ensure_future(tick())', 4, session='a')
        self.assertEqual(self.c.run('await t\nticks', 5, session='a')['value'], '[0, 1, 2]')

    def test_killed_mid_run_says_state_lost(self):
        self.c.run('x = 1', 1, session='k')
        d = self.c.run('import os\nos.kill(os.getpid(), 9)', 2, session='k')
        self.assertEqual((d['status'], d['state_lost'], d['epoch']), ('crashed', True, 1))
        d = self.c.run('1 + 1', 3, session='k')
        self.assertEqual((d['status'], d['state_lost'], d['epoch']), ('ok', True, 1))
        d = self.c.run('x', 4, session='k')
        self.assertEqual((d['status'], d['state_lost']), ('error', False))

    def test_replay_after_an_idle_executor_is_killed(self):
        # The restart takes a ready executor at once, which starts the
        # replay before the death is fully handled: the replay must run,
        # not be finished as the statement that died.
        c = Stdio('--restore', 'replay')
        try:
            c.run('x = 41', 1, session='r')
            c.run('1', 2, session='r')
            c.send({'id': 'p', 'op': 'sessions'})
            (r,) = c.answer('p', 'sessions')['sessions']
            pid = r['pid']
            os.kill(pid, signal.SIGKILL)
            # Once the server has seen the death, a run goes to the new
            # executor (sent before, it would be the one that died).
            deadline = time.monotonic() + jsonclient.LIMIT_S
            while True:
                c.send({'id': 's', 'op': 'sessions'})
                (r,) = c.answer('s', 'sessions')['sessions']
                if r['epoch'] == 1:
                    break
                self.assertLess(time.monotonic(), deadline, r)
            d = c.run('x + 1', 3, session='r')
            self.assertEqual((d['status'], d['value'], d['epoch']), ('ok', '42', 1))
            self.assertEqual(c.run('x + 2', 4, session='r')['value'], '43')
        finally:
            c.close()

    def test_background_output_comes_with_the_session(self):
        self.c.run('import asyncio\n'
                   'async def later():\n    await asyncio.sleep(0.05)\n    print("bg")\n'
                   't = asyncio.ensure_future(later())', 1, session='bg')
        e = self.c.event(lambda e: e.get('event') == 'stdout' and e.get('id') is None)
        self.assertEqual((e['session'], e['data']), ('bg', 'bg\n'))

    def test_streaming(self):
        self.c.send({'id': 1, 'op': 'run', 'code': 'import sys\nprint("a")\n'
                     'print("b", file=sys.stderr)\nprint("c")', 'stream': True})
        events = [self.c.event(lambda e: e.get('id') == 1) for _ in range(4)]
        self.assertEqual([(e['event'], e.get('data')) for e in events],
                         [('stdout', 'a\n'), ('stderr', 'b\n'), ('stdout', 'c\n'),
                          ('done', None)])
        self.assertNotIn('stdout', events[-1])

    def test_stdin_feeds_input(self):
        d = self.c.run('a = input("one? ")\nb = input()\n(a, b)', 1, stdin='x\ny\n')
        self.assertEqual(d['value'], "('x', 'y')")
        d = self.c.run('input()', 2, stdin='')
        self.assertEqual(d['error']['type'], 'EOFError')

    def test_input_asks_the_client(self):
        self.c.send({'id': 1, 'op': 'run', 'code': 'input("name? ")'})
        r = self.c.answer(1, 'input_request')
        self.assertEqual(r['prompt'], 'name? ')
        self.c.send({'op': 'input', 'id': 1, 'value': 'Ada'})
        self.assertEqual(self.c.answer(1, 'done')['value'], "'Ada'")

    def test_limits_only_lower(self):
        d = self.c.run('import time\ntime.sleep(0.5)\n1', 1, limits={'timeout': 0.1})
        self.assertEqual(d['status'], 'timeout')

    def test_sessions_open_close_and_lists(self):
        self.c.send({'id': 1, 'op': 'open', 'session': 'o'})
        o = self.c.answer(1, 'opened')
        self.assertEqual((o['session'], o['policy']), ('o', 'strict'))
        self.c.run('1', 2, session='o')
        self.c.send({'id': 3, 'op': 'sessions'})
        ss = self.c.answer(3, 'sessions')['sessions']
        self.assertEqual([s['session'] for s in ss], ['o'])
        self.assertEqual(ss[0]['runs'], 1)
        self.assertIsInstance(ss[0]['pid'], int)
        self.c.send({'id': 4, 'op': 'close', 'session': 'o'})
        self.assertEqual(self.c.answer(4, 'closed')['session'], 'o')
        self.c.send({'id': 5, 'op': 'sessions'})
        self.assertEqual(self.c.answer(5, 'sessions')['sessions'], [])
        self.c.send({'id': 6, 'op': 'status'})
        st = self.c.answer(6, 'status')
        self.assertEqual(st['runs_by_status']['ok'], 1)
        self.assertIn('pool', st)

    def pool(self, rid):
        self.c.send({'id': rid, 'op': 'status'})
        return self.c.answer(rid, 'status')['pool']

    def test_new_sessions_take_ready_executors_that_ran_nothing(self):
        # The first session of a kind starts its own and has the pool fill.
        self.c.run('1', 'w', session='first')
        deadline = time.monotonic() + jsonclient.LIMIT_S
        n = 0
        while True:
            n += 1
            pool = self.pool('p%d' % n)
            if pool['ready'] > 0 and pool['starting'] == 0:
                break
            self.assertLess(time.monotonic(), deadline, pool)
        before = pool['taken']
        d = self.c.run('sorted(k for k in globals() if not k.startswith("__"))', 1,
                       session='second')
        self.assertEqual((d['status'], d['value']), ('ok', "['asyncio']"))
        self.assertEqual(self.pool('after')['taken'], before + 1)
        # A pooled executor was not the first session's.
        self.assertNotEqual(self.c.run(PID_NS, 2, session='first')['value'],
                            self.c.run(PID_NS, 3, session='second')['value'])

    def test_complete_and_is_complete(self):
        self.c.run('alphabet = 1', 1, session='c')
        self.c.send({'id': 2, 'op': 'complete', 'code': 'x = alpha', 'session': 'c'})
        r = self.c.answer(2, 'complete')
        self.assertIn('alphabet', r['matches'])
        self.assertEqual((r['cursor_start'], r['cursor_end']), (4, 9))
        cases = [('for i in x:', 'incomplete', '    '), ('x = 1', 'complete', None),
                 ('1 +', 'invalid', None), ('x = [1,', 'incomplete', '')]
        for i, (code, status, indent) in enumerate(cases):
            self.c.send({'id': 10 + i, 'op': 'is_complete', 'code': code})
            r = self.c.answer(10 + i, 'is_complete')
            self.assertEqual(r['status'], status, code)
            self.assertEqual(r.get('indent'), indent, code)


class BadInput(StdioCase):
    """Every kind of bad line gets an error event, and nothing else changes."""

    def assert_error(self, raw, rid, needle):
        self.c.send_raw(raw)
        e = self.c.answer(rid, 'error')
        self.assertIn(needle, e['message'])

    def test_each_kind_of_bad_line(self):
        self.c.run('x = 5', 0, session='keep')
        self.assert_error(b'{"id": 1, "op": \n', None, 'invalid JSON')
        self.assert_error(b'[1, 2]\n', None, 'not an array')
        self.assert_error(b'"run"\n', None, 'a single value')
        self.assert_error(b'{"id": 2, "op": "launch"}\n', 2, "unknown op 'launch'")
        self.assert_error(b'{"id": 3, "op": "run"}\n', 3, "missing field 'code'")
        self.assert_error(b'{"id": 4, "op": "run", "code": 7}\n', 4, "'code' must be a string")
        self.assert_error(b'{"id": 5, "op": "run", "code": "1", "limits": {"timeout": -1}}\n',
                          5, 'limits.timeout')
        self.assert_error(b'{"id": 6, "op": "run", "code": "1", "colour": "red"}\n', 6,
                          "unknown field 'colour'")
        self.assert_error(b'{"id": [1], "op": "run", "code": "1"}\n', None, "'id' must be")
        self.assert_error(b'{"id": 7, "op": "run", "code": "1", "policy": "root"}\n', 7,
                          "policy 'root' is not one this server allows")
        self.assert_error(b'{"id": 8, "op": "run", "code": "\xff"}\n', None, 'invalid JSON')
        self.assert_error(b'{"id": 9, "op": "input", "value": "x"}\n', 9, 'waiting for input')
        # Over the line limit: read through and answered.
        self.c.send_raw(b'{"id": 10, "op": "run", "code": "' + b'a' * (16 << 20) + b'"}\n')
        e = self.c.event(lambda e: e.get('event') == 'error' and 'over the limit' in e['message'])
        self.assertIsNone(e['id'])
        # And the session went on through all of it.
        self.assertEqual(self.c.run('x', 11, session='keep')['value'], '5')


class Isolation(unittest.TestCase):
    def test_a_hundred_isolated_runs_see_nothing_of_each_other(self):
        c = Stdio()
        try:
            code = ('import os\nassert "marker" not in globals()\nmarker = 1\n'
                    'import builtins\nassert not hasattr(builtins, "leak")\nbuiltins.leak = 1\n'
                    '(os.getpid(), ' + PID_NS + ')')
            for i in range(100):
                c.send({'id': i, 'op': 'run', 'code': code})
            results = [c.answer(i, 'done', limit_s=300) for i in range(100)]
            self.assertEqual([r['status'] for r in results], ['ok'] * 100,
                             [r for r in results if r['status'] != 'ok'][:1])
            # Each its own executor, pid 1 of its own namespace (the
            # namespace's number may be reused once an executor is gone).
            host_ns = os.readlink('/proc/self/ns/pid')
            values = [r['value'] for r in results]
            self.assertTrue(all(v.startswith("(1, 'pid:[") and host_ns not in v for v in values),
                            values[:3])
        finally:
            c.close()

    def test_ten_thousand_pipelined_runs_none_lost(self):
        c = Stdio()
        try:
            c.run('n = 0', 'start', session='p')
            lines = b''.join(
                (json.dumps({'id': i, 'op': 'run', 'code': 'n += 1\nn', 'session': 'p'}) +
                 '\n').encode() for i in range(10000))
            c.send_raw(lines)
            values = [c.answer(i, 'done', limit_s=300)['value'] for i in range(10000)]
            self.assertEqual(values, [str(i + 1) for i in range(10000)])
        finally:
            c.close()

    def test_end_of_input_answers_what_was_asked(self):
        c = Stdio()
        c.send({'id': 1, 'op': 'run', 'code': 'import time\ntime.sleep(0.2)\n1'})
        c.wfile.close()
        self.assertEqual(c.answer(1, 'done')['value'], '1')
        self.assertEqual(c.proc.wait(timeout=60), 0)


class Serve(unittest.TestCase):
    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        self.assertEqual(self.srv.close(), 128 + 15)

    def test_socket_and_directory_modes(self):
        mode = os.stat(self.srv.path).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.srv.path)).st_mode), 0o700)

    def test_two_clients_share_a_session(self):
        a, b = self.srv.client(), self.srv.client()
        self.assertEqual(a.run('shared = 3', 1, session='s')['status'], 'ok')
        self.assertEqual(b.run('shared * 2', 1, session='s')['value'], '6')

    def test_runs_on_different_sessions_run_in_parallel(self):
        c = self.srv.client()
        # Each run says when it slept; run in turn, the two spans could
        # not overlap.
        code = 'import time\nt = time.time()\ntime.sleep(1)\n(t, time.time())'
        c.send({'id': 1, 'op': 'run', 'code': code, 'session': 'x'})
        c.send({'id': 2, 'op': 'run', 'code': code, 'session': 'y'})
        x = eval(c.answer(1, 'done')['value'])
        y = eval(c.answer(2, 'done')['value'])
        self.assertLess(x[0], y[1])
        self.assertLess(y[0], x[1])

    def test_client_that_disconnects_mid_run_is_cancelled(self):
        c = self.srv.client()
        c.send({'id': 1, 'op': 'run', 'code': 'while True: pass', 'session': 'd'})
        c.send({'id': 2, 'op': 'run', 'code': 'while True: pass'})
        # Both running: each has an executor busy at 100 % CPU.
        c.send({'id': 'st', 'op': 'status'})
        deadline = time.monotonic() + 30
        while c.answer('st', 'status')['pool']['busy'] < 2:
            self.assertLess(time.monotonic(), deadline)
            c.send({'id': 'st', 'op': 'status'})
        c.close()
        other = self.srv.client()
        deadline = time.monotonic() + 30
        while True:
            other.send({'id': 's', 'op': 'status'})
            st = other.answer('s', 'status')
            if st['runs_by_status']['cancelled'] == 2:
                break
            self.assertLess(time.monotonic(), deadline, st)
        # The session is still there and usable.
        self.assertEqual(other.run('1 + 1', 3, session='d')['value'], '2')

    def test_a_client_that_stops_reading_is_dropped_alone(self):
        hog = self.srv.client()
        # Output it never reads: over 64 MiB queued for it, it is dropped.
        for i in range(80):
            hog.send({'id': i, 'op': 'run', 'code': 'print("z" * ((1 << 20) - 1))',
                      'limits': {'output': 1 << 20}})
        other = self.srv.client()
        t0 = time.monotonic()
        self.assertEqual(other.run('21 * 2', 'x')['value'], '42')
        deadline = time.monotonic() + 120
        while 'stopped reading' not in self.srv.log_text():
            self.assertLess(time.monotonic(), deadline, self.srv.log_text()[-500:])
            select.select([], [], [], 0.05)
        self.assertEqual(other.run('1', 'y')['value'], '1')
        self.assertLess(time.monotonic() - t0, 120)

    def test_policy_chosen_among_those_allowed(self):
        c = self.srv.client()
        c.send({'id': 1, 'op': 'open', 'session': 'p', 'policy': 'trusted'})
        self.assertIn('not one this server allows', c.answer(1, 'error')['message'])

    def test_peer_of_another_uid_is_refused(self):
        if os.geteuid() != 0:
            if hostlacks.declared('root'):
                self.skipTest(hostlacks.skip_line('peer uid', 'root', 'not run as root'))
            self.fail(hostlacks.undeclared('root'))
        # The directory keeps others out already; let them in to test the
        # credentials check itself.
        os.chmod(self.srv.dir.name, 0o711)
        os.chmod(os.path.dirname(self.srv.path), 0o711)
        os.chmod(self.srv.path, 0o666)
        nobody = pwd.getpwnam('nobody').pw_uid
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setresuid(nobody, nobody, nobody)
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.srv.path)
                # Refused at once: nothing it might send is read.
                data = b''
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                os.write(w, data)
            except BaseException as exc:
                os.write(w, repr(exc).encode())
            finally:
                os._exit(0)
        os.close(w)
        data = b''
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        os.waitpid(pid, 0)
        self.assertTrue(data.startswith(b'{'), data)
        e = json.loads(data.split(b'\n')[0])
        self.assertEqual(e['event'], 'error')
        self.assertIn('may not use this server', e['message'])
        self.assertIn('refused a client of uid %d' % nobody, self.srv.log_text())


class ServeOptions(unittest.TestCase):
    def test_several_policies_the_first_the_default(self):
        srv = Server('--policy', 'strict', '--policy', 'trusted')
        try:
            c = srv.client()
            self.assertEqual(c.run('import socket\nsocket.socket()', 1)['status'], 'denied')
            d = c.run('import socket\nsocket.socket().close()', 2, policy='trusted')
            self.assertEqual(d['status'], 'ok')
        finally:
            srv.close()

    def test_a_live_socket_is_not_taken_over(self):
        srv = Server()
        try:
            import subprocess
            p = subprocess.run([jsonclient.AIOBOX, 'serve', '--listen', srv.path],
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b'already listens', p.stderr)
        finally:
            srv.close()


if __name__ == '__main__':
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                                    'supervisor'))
    import harness
    harness.main('server-json')
