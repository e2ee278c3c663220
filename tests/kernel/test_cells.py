"""Cell semantics as ipykernel's, through jupyter_client: the messages of
a cell in order, execution counts, rich values and display(), output of
background tasks under the cell that created them, user expressions,
silent cells, stop_on_error, IPython's ? syntax and help(), exit(),
completion, inspection, is_complete, history, the sandbox's words."""
import platform
import re
import unittest

from jupyter_client.manager import start_new_kernel

import kernelenv
from kernelenv import TIMEOUT, Client

kernelenv.isolate()
kernelenv.install('aiobox-timeout', '--timeout=1')


class Kernel(unittest.TestCase):
    kernel_name = 'aiobox'

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name)
        cls.c = Client(cls.kc)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def result(self, cell):
        results = cell.of('execute_result')
        self.assertEqual(len(results), 1, cell.msgs)
        return results[0]['content']


class Cells(Kernel):
    def test_message_order_and_counts(self):
        first = self.c.run('print("out")\n6 * 7')
        self.assertEqual(first.types(), ['status', 'execute_input', 'stream', 'execute_result',
                                         'status'])
        n = first.content['execution_count']
        self.assertEqual(first.of('execute_input')[0]['content']['execution_count'], n)
        self.assertEqual(self.result(first)['execution_count'], n)
        self.assertEqual(self.result(first)['data'], {'text/plain': '42'})
        self.assertEqual(first.reply['metadata']['status'], 'ok')
        second = self.c.run('None')
        self.assertEqual(second.content['execution_count'], n + 1)
        self.assertEqual(second.types(), ['status', 'execute_input', 'status'])
        for m in first.msgs + second.msgs:
            self.assertIn(m['parent_header']['msg_id'], (first.reply['parent_header']['msg_id'],
                                                         second.reply['parent_header']['msg_id']))

    def test_error_has_users_frames_only(self):
        cell = self.c.run('def f(n):\n    return 1 / n\nf(0)')
        self.assertEqual(cell.content['status'], 'error')
        self.assertEqual(cell.content['ename'], 'ZeroDivisionError')
        self.assertEqual(cell.content['evalue'], 'division by zero')
        error = cell.of('error')[0]['content']
        self.assertEqual(error['traceback'], cell.content['traceback'])
        tb = '\n'.join(error['traceback'])
        self.assertIn('return 1 / n', tb)
        self.assertIn('f(0)', tb)
        self.assertNotIn('runtime.py', tb)
        self.assertEqual(error['traceback'][-1], 'ZeroDivisionError: division by zero')
        # An error cell has no stream output: the error message is it.
        self.assertEqual(cell.of('stream'), [])

    def test_syntax_error(self):
        cell = self.c.run('x = = 1')
        self.assertEqual(cell.content['ename'], 'SyntaxError')
        self.assertIn('x = = 1', '\n'.join(cell.content['traceback']))

    def test_rich_representations(self):
        cell = self.c.run(
            'class R:\n'
            '    def _repr_html_(self): return "<b>r</b>"\n'
            '    def _repr_markdown_(self): return "**r**"\n'
            '    def _repr_latex_(self): return "$r$"\n'
            '    def _repr_svg_(self): return "<svg/>"\n'
            '    def _repr_png_(self): return b"\\x89PNG"\n'
            '    def _repr_json_(self): return {"r": 1}\n'
            '    def __repr__(self): return "R()"\n'
            'R()')
        self.assertEqual(self.result(cell)['data'], {
            'text/plain': 'R()', 'text/html': '<b>r</b>', 'text/markdown': '**r**',
            'text/latex': '$r$', 'image/svg+xml': '<svg/>', 'image/png': 'iVBORw==\n',
            'application/json': {'r': 1}})

    def test_repr_mimebundle(self):
        cell = self.c.run(
            'class M:\n'
            '    def _repr_mimebundle_(self, include=None, exclude=None):\n'
            '        return {"text/plain": "m", "application/x-thing": "t"}\n'
            'M()')
        self.assertEqual(self.result(cell)['data'],
                         {'text/plain': 'm', 'application/x-thing': 't'})

    def test_pretty_printed_as_ipython(self):
        cell = self.c.run('class P: pass\nP()')
        self.assertRegex(self.result(cell)['data']['text/plain'], r'^<__main__\.P at 0x[0-9a-f]+>$')
        cell = self.c.run('list(range(40))')
        self.assertEqual(self.result(cell)['data']['text/plain'].count('\n'), 39)

    def test_display_and_update(self):
        cell = self.c.run('display("a", "b")\n'
                          'h = display({"x": 1}, display_id="one")\n'
                          'h.update("replaced")\n'
                          'display("again", display_id="one", update=True)\n'
                          'h')
        shown = cell.of('display_data')
        self.assertEqual([m['content']['data']['text/plain'] for m in shown],
                         ["'a'", "'b'", "{'x': 1}"])
        self.assertEqual(shown[2]['content']['transient'], {'display_id': 'one'})
        updates = cell.of('update_display_data')
        self.assertEqual([m['content']['data']['text/plain'] for m in updates],
                         ["'replaced'", "'again'"])
        self.assertEqual([m['content']['transient'] for m in updates],
                         [{'display_id': 'one'}] * 2)
        self.assertEqual(self.result(cell)['data']['text/plain'],
                         '<DisplayHandle display_id=one>')

    def test_clear_output(self):
        cell = self.c.run('print("x")\nclear_output(wait=True)\nprint("y")')
        self.assertEqual(cell.types()[2:5], ['stream', 'clear_output', 'stream'])
        self.assertEqual(cell.of('clear_output')[0]['content'], {'wait': True})

    def test_top_level_await_and_tasks_between_cells(self):
        self.c.run('import asyncio\nresults = []\n'
                   'async def later():\n    await asyncio.sleep(0)\n    results.append(1)\n'
                   't = asyncio.create_task(later())')
        cell = self.c.run('await t\nresults')
        self.assertEqual(self.result(cell)['data']['text/plain'], '[1]')

    def test_user_expressions(self):
        msg_id = self.kc.execute('ue = 5', user_expressions={
            'sum': 'ue + 1', 'bad': '1 / 0', 'none': 'None', 'html':
            'type("H", (), {"_repr_html_": lambda self: "<i/>"})()'})
        reply = self.c.reply_to(msg_id)['content']
        self.c.wait_idle(msg_id)
        ue = reply['user_expressions']
        self.assertEqual(ue['sum'], {'status': 'ok', 'data': {'text/plain': '6'}, 'metadata': {}})
        self.assertEqual(ue['none']['data'], {'text/plain': 'None'})
        self.assertEqual(ue['html']['data']['text/html'], '<i/>')
        self.assertEqual(ue['bad']['status'], 'error')
        self.assertEqual(ue['bad']['ename'], 'ZeroDivisionError')

    def test_silent(self):
        before = self.c.run('None').content['execution_count']
        cell = self.c.run('print("quiet output still shows")\n1 + 1', silent=True)
        self.assertEqual(cell.types(), ['status', 'stream', 'status'])
        self.assertEqual(cell.content['execution_count'], before)
        self.assertEqual(self.c.run('None').content['execution_count'], before + 1)

    def test_stop_on_error_aborts_what_was_sent(self):
        # The failing cell waits for input until the two after it are sent
        # (on the shell connection, ahead of the answer on stdin), so they
        # are in the kernel when it fails, as in "Run All".
        ids = [self.kc.execute('input()\n1 / 0', allow_stdin=True)]
        self.kc.get_stdin_msg(timeout=TIMEOUT)
        ids += [self.kc.execute('never = 1'), self.kc.execute('never = 2')]
        self.kc.input('go')
        statuses = [self.c.reply_to(i)['content']['status'] for i in ids]
        for i in ids:
            self.c.wait_idle(i)
        self.assertEqual(statuses, ['error', 'aborted', 'aborted'])
        self.assertEqual(self.c.run('"never" in globals()').of('execute_result')[0]
                         ['content']['data']['text/plain'], 'False')
        ids = [self.kc.execute('1 / 0', stop_on_error=False), self.kc.execute('ran = 1')]
        statuses = [self.c.reply_to(i)['content']['status'] for i in ids]
        for i in ids:
            self.c.wait_idle(i)
        self.assertEqual(statuses, ['error', 'ok'])

    def test_pinfo(self):
        cell = self.c.run('len?')
        self.assertEqual(cell.content['status'], 'ok')
        [page] = cell.content['payload']
        self.assertEqual(page['source'], 'page')
        self.assertIn('Return the number of items', page['data']['text/plain'])
        self.assertIn('Signature: len(obj, /)', page['data']['text/plain'])
        self.c.run('def with_source(a):\n    return a  # the body\n')
        cell = self.c.run('with_source??')
        self.assertIn('# the body', cell.content['payload'][0]['data']['text/plain'])
        cell = self.c.run('?zip')
        self.assertIn('zip', cell.content['payload'][0]['data']['text/plain'])
        cell = self.c.run('no_such_name?')
        self.assertEqual(cell.content['payload'], [])
        self.assertEqual(cell.stream('stdout'), 'Object `no_such_name` not found.\n')

    def test_help_pages(self):
        cell = self.c.run('help(len)')
        [page] = cell.content['payload']
        self.assertEqual(page['source'], 'page')
        self.assertIn('Help on built-in function len', page['data']['text/plain'])

    def test_complete(self):
        msg_id = self.kc.complete('x = zi', 6)
        reply = self.c.reply_to(msg_id)['content']
        self.assertEqual(reply['status'], 'ok')
        self.assertIn('zip(', reply['matches'])
        self.assertEqual((reply['cursor_start'], reply['cursor_end']), (4, 6))
        # Positions are in code points: 'é' is one.
        self.c.run('été = 1')
        msg_id = self.kc.complete('"é" + ét', 8)
        reply = self.c.reply_to(msg_id)['content']
        self.assertEqual(reply['matches'], ['été'])
        self.assertEqual((reply['cursor_start'], reply['cursor_end']), (6, 8))

    def test_inspect(self):
        msg_id = self.kc.inspect('print(zip', 9, 0)
        reply = self.c.reply_to(msg_id)['content']
        self.assertTrue(reply['found'])
        self.assertIn('zip', reply['data']['text/plain'])
        msg_id = self.kc.inspect('nothing_by_this_name', 5)
        reply = self.c.reply_to(msg_id)['content']
        self.assertEqual((reply['status'], reply['found'], reply['data']), ('ok', False, {}))

    def test_is_complete_indent(self):
        for code, status, indent in [('for i in x:', 'incomplete', '    '),
                                     ('if a:\n    if b:', 'incomplete', '        '),
                                     ('x = [1,', 'incomplete', ''),
                                     ('x = 1', 'complete', None),
                                     ('x = )', 'invalid', None)]:
            msg_id = self.kc.is_complete(code)
            reply = self.c.reply_to(msg_id)['content']
            self.assertEqual(reply['status'], status, code)
            self.assertEqual(reply.get('indent'), indent, code)

    def test_permission_denied_says_so(self):
        # Bound in strict's new root (which has no /etc/passwd at all), and
        # refused by landlock.
        cell = self.c.run("open('/dev/zero').read(1)")
        self.assertEqual(cell.content['ename'], 'PermissionError')
        self.assertIn("denied by the sandbox (policy 'strict')", cell.stream('stderr'))

    def test_exit_in_a_cell(self):
        self.c.run('kept = 1')
        cell = self.c.run('exit()')
        self.assertEqual(cell.content['status'], 'ok')
        self.assertEqual(cell.content['payload'], [{'source': 'ask_exit', 'keepkernel': False}])
        # The kernel stays; a fresh executor serves the next cell.
        cell = self.c.run('"kept" in globals()')
        self.assertEqual(self.result(cell)['data']['text/plain'], 'False')

    def test_kernel_info(self):
        msg_id = self.kc.kernel_info()
        info = self.c.reply_to(msg_id)['content']
        self.assertEqual(info['protocol_version'], '5.3')
        self.assertEqual(info['implementation'], 'aiobox')
        self.assertEqual(info['language_info']['name'], 'python')
        self.assertEqual(info['language_info']['version'], platform.python_version())
        self.assertFalse(info['debugger'])

    def test_comms(self):
        msg_id = self.kc.comm_info()
        self.assertEqual(self.c.reply_to(msg_id)['content'], {'status': 'ok', 'comms': {}})
        msg = self.kc.session.msg('comm_open', {'comm_id': 'c1', 'target_name': 'widgets',
                                                'data': {}})
        self.kc.shell_channel.send(msg)
        closed = self.c.collect_others(lambda m: m['msg_type'] == 'comm_close')
        self.assertEqual(closed['content']['comm_id'], 'c1')
        self.assertEqual(closed['parent_header']['msg_id'], msg['header']['msg_id'])


class History(Kernel):
    def test_tail_range_search(self):
        counts = [self.c.run(code).content['execution_count']
                  for code in ('a = 1', 'a + 1', 'b = "x"', 'a + 1')]
        self.c.run('hidden = 1', store_history=False)
        msg_id = self.kc.history(hist_access_type='tail', n=3, output=True, raw=True)
        hist = self.c.reply_to(msg_id)['content']['history']
        session = hist[0][0]
        self.assertEqual(hist, [[session, counts[1], ['a + 1', '2']],
                                [session, counts[2], ['b = "x"', None]],
                                [session, counts[3], ['a + 1', '2']]])
        msg_id = self.kc.history(hist_access_type='range', session=0, start=counts[1],
                                 stop=counts[3], output=False, raw=True)
        hist = self.c.reply_to(msg_id)['content']['history']
        self.assertEqual(hist, [[session, counts[1], 'a + 1'], [session, counts[2], 'b = "x"']])
        msg_id = self.kc.history(hist_access_type='search', pattern='a*', output=False,
                                 raw=True, unique=True)
        hist = self.c.reply_to(msg_id)['content']['history']
        self.assertEqual([h[2] for h in hist], ['a = 1', 'a + 1'])
        self.assertEqual(hist[-1][1], counts[3])
        msg_id = self.kc.history(hist_access_type='search', pattern='a ?*', n=2, output=False,
                                 raw=True)
        hist = self.c.reply_to(msg_id)['content']['history']
        self.assertEqual([h[1] for h in hist], [counts[1], counts[3]])

    def test_history_survives_the_executor(self):
        self.c.run('survives = 1')
        self.c.run('import os; os.kill(os.getpid(), 9)')
        msg_id = self.kc.history(hist_access_type='search', pattern='survives*', output=False,
                                 raw=True)
        hist = self.c.reply_to(msg_id)['content']['history']
        self.assertEqual([h[2] for h in hist], ['survives = 1'])


class Background(Kernel):
    """A task's output goes under the cell that created it, whichever
    cell runs when it prints, and also when none does."""

    def test_routing(self):
        first = self.c.run(
            'import asyncio\n'
            'go, done, later = asyncio.Event(), asyncio.Event(), asyncio.Event()\n'
            'async def worker():\n'
            '    await go.wait()\n'
            '    print("from the task")\n'
            '    display("shown by the task")\n'
            '    done.set()\n'
            '    await later.wait()\n'
            '    await asyncio.sleep(0)\n'
            '    print("after every cell")\n'
            'task = asyncio.create_task(worker())')
        first_id = first.reply['parent_header']['msg_id']
        second = self.c.run('go.set()\nawait done.wait()\nprint("from the second cell")')
        self.assertEqual(second.stream('stdout'), 'from the second cell\n')
        self.assertEqual(second.of('display_data'), [])
        mine = self.c.pending.get(first_id, [])
        self.assertEqual([m['content']['text'] for m in mine if m['msg_type'] == 'stream'],
                         ['from the task\n'])
        self.assertEqual([m['content']['data']['text/plain'] for m in mine
                          if m['msg_type'] == 'display_data'], ["'shown by the task'"])
        # No cell runs when it prints this.
        self.c.run('later.set()')
        late = self.c.collect_others(lambda m: m['msg_type'] == 'stream' and
                                     'after every cell' in m['content']['text'])
        self.assertEqual(late['parent_header']['msg_id'], first_id)


class Timeout(Kernel):
    kernel_name = 'aiobox-timeout'

    def test_timeout_in_words(self):
        cell = self.c.run('while True: pass')
        self.assertEqual(cell.content['status'], 'error')
        self.assertEqual(cell.content['ename'], 'TimeoutError')
        self.assertIn('timed out after 1 s', cell.stream('stderr'))
        self.assertEqual(self.c.run('1').content['status'], 'ok')


if __name__ == '__main__':
    kernelenv.main('kernel-cells')
