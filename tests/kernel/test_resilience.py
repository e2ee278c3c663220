"""The kernel through real clients when things go wrong: interrupts (by
signal and by message) of a sleeping and of a spinning cell, input()
answered, refused, interrupted and abandoned, the executor dying in a cell
(kill, denied system call, exit status) with the heartbeat and
jupyter_client's restarter watching, restart by shutdown_request, a flood
of output, a cell too large to run."""
import asyncio
import os
import threading
import time
import unittest

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.ioloop import AsyncIOLoopKernelManager
from jupyter_client.manager import start_new_kernel
from traitlets.config import Config

import kernelenv
from kernelenv import TIMEOUT, Client

kernelenv.isolate()


class Heartbeat(threading.Thread):
    """Pings the kernel's heartbeat every 20 ms from a REQ socket of its
    own, as jupyter_client's HBChannel does, and records the longest wait
    for an echo; a wait over `dead` seconds is a missed beat."""

    def __init__(self, port, ip='127.0.0.1', dead=1.0):
        super().__init__(daemon=True)
        self.addr = f'tcp://{ip}:{port}'
        self.dead = dead
        self.stop = threading.Event()
        self.beats = 0
        self.missed = 0
        self.longest = 0.0

    def run(self):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.connect(self.addr)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while not self.stop.is_set():
            t = time.monotonic()
            sock.send(b'ping')
            if poller.poll(self.dead * 1000):
                sock.recv()
                self.beats += 1
                self.longest = max(self.longest, time.monotonic() - t)
            else:
                self.missed += 1
                poller.unregister(sock)
                sock.close()
                sock = ctx.socket(zmq.REQ)
                sock.linger = 0
                sock.connect(self.addr)
                poller.register(sock, zmq.POLLIN)
            self.stop.wait(0.02)
        sock.close()
        ctx.term()

    def finish(self):
        self.stop.set()
        self.join()


def interrupt_by_message(kc):
    """interrupt_request on control, as a client does for a kernel whose
    interrupt_mode is "message"; returns the reply."""
    msg = kc.session.msg('interrupt_request', {})
    kc.control_channel.send(msg)
    while True:
        reply = kc.get_control_msg(timeout=TIMEOUT)
        if reply['parent_header'].get('msg_id') == msg['header']['msg_id']:
            return reply


class Interrupts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name='aiobox')
        cls.c = Client(cls.kc)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def interrupted(self, code, started, interrupt):
        """Runs code, waits for its output `started`, interrupts it; the
        reply must come long before the cell's own end."""
        msg_id = self.kc.execute(code)
        self.c.collect_others(lambda m: m['parent_header'].get('msg_id') == msg_id and
                              m['msg_type'] == 'stream' and started in m['content']['text'])
        interrupt()
        # Well under the 30 s the cell would take, and no retry: one
        # interrupt is enough.
        reply = self.c.reply_to(msg_id, timeout=10)
        msgs = self.c.wait_idle(msg_id)
        self.assertEqual(reply['content']['status'], 'error')
        self.assertEqual(reply['content']['ename'], 'KeyboardInterrupt')
        errors = [m for m in msgs if m['msg_type'] == 'error']
        self.assertEqual([e['content']['ename'] for e in errors], ['KeyboardInterrupt'])
        # The kernel goes on, state kept.
        cell = self.c.run('survivor')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], "'here'")

    def setUp(self):
        self.c.run('survivor = "here"')

    def test_sleep_by_signal(self):
        self.interrupted('print("sleeping", flush=True)\nawait asyncio.sleep(30)', 'sleeping',
                         self.km.interrupt_kernel)

    def test_busy_loop_by_signal(self):
        self.interrupted('print("spinning", flush=True)\nwhile True: pass', 'spinning',
                         self.km.interrupt_kernel)

    def test_sleep_by_message(self):
        replies = []
        self.interrupted('print("sleeping", flush=True)\nawait asyncio.sleep(30)', 'sleeping',
                         lambda: replies.append(interrupt_by_message(self.kc)))
        self.assertEqual(replies[0]['content']['status'], 'ok')
        self.assertEqual(replies[0]['msg_type'], 'interrupt_reply')

    def test_busy_loop_by_message(self):
        self.interrupted('print("spinning", flush=True)\nwhile True: pass', 'spinning',
                         lambda: interrupt_by_message(self.kc))

    def test_interrupt_when_idle_changes_nothing(self):
        self.km.interrupt_kernel()
        interrupt_by_message(self.kc)
        cell = self.c.run('survivor')
        self.assertEqual(cell.content['status'], 'ok')


class Input(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name='aiobox')
        cls.c = Client(cls.kc)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def test_input_answered(self):
        msg_id = self.kc.execute('name = input("who? ")\nprint("hello", name)', allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.assertEqual(req['msg_type'], 'input_request')
        self.assertEqual(req['content'], {'prompt': 'who? ', 'password': False})
        self.assertEqual(req['parent_header']['msg_id'], msg_id)
        self.kc.input('Ada')
        reply = self.c.reply_to(msg_id)
        self.assertEqual(reply['content']['status'], 'ok')
        msgs = self.c.wait_idle(msg_id)
        text = ''.join(m['content']['text'] for m in msgs if m['msg_type'] == 'stream')
        self.assertEqual(text, 'hello Ada\n')

    def test_input_without_stdin_fails_at_once(self):
        cell = self.c.run('input("nobody will answer: ")', allow_stdin=False)
        self.assertEqual(cell.content['status'], 'error')
        self.assertEqual(cell.content['ename'], 'EOFError')
        self.assertIn('allow_stdin is false', cell.stream('stderr'))

    def test_input_reply_that_never_comes(self):
        """The cell waits, as ipykernel's does; an interrupt ends it, and
        an input_reply that comes afterwards is dropped."""
        msg_id = self.kc.execute('answer = input("? ")', allow_stdin=True)
        self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.km.interrupt_kernel()
        reply = self.c.reply_to(msg_id)
        self.assertEqual(reply['content']['ename'], 'KeyboardInterrupt')
        self.c.wait_idle(msg_id)
        self.kc.input('too late')
        cell = self.c.run('"answer" in globals()')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], 'False')

    def test_client_gone_while_its_input_waits(self):
        """Another client asks for input and disappears; this client's
        cell waits behind it until an interrupt ends the orphan."""
        # A client of its own: km.client() would share this one's session,
        # whose id is the zmq routing identity of its sockets.
        other = BlockingKernelClient()
        other.load_connection_info(self.km.get_connection_info())
        other.start_channels()
        other.wait_for_ready(timeout=TIMEOUT)
        # stop_on_error off: an interrupted cell fails, and would abort the
        # cells waiting behind it, as ipykernel does.
        orphan = other.execute('input("anyone? ")', allow_stdin=True, stop_on_error=False)
        other.get_stdin_msg(timeout=TIMEOUT)
        other.stop_channels()
        msg_id = self.kc.execute('"served"')
        self.c.collect_others(lambda m: m['parent_header'].get('msg_id') == orphan and
                              m['msg_type'] == 'execute_input')
        self.km.interrupt_kernel()
        reply = self.c.reply_to(msg_id)
        self.assertEqual(reply['content']['status'], 'ok')
        msgs = self.c.wait_idle(msg_id)
        self.assertEqual([m['content']['data']['text/plain'] for m in msgs
                          if m['msg_type'] == 'execute_result'], ["'served'"])


class ExecutorDeath(unittest.TestCase):
    """The executor dies in a cell; jupyter_client's manager, with its
    restarter polling five times a second, and a heartbeat client pinging
    every 20 ms watch the kernel meanwhile."""

    def run_async(self, body):
        async def main():
            cfg = Config()
            cfg.KernelRestarter.time_to_dead = 0.2
            km = AsyncIOLoopKernelManager(kernel_name='aiobox', config=cfg)
            await km.start_kernel()
            events = []
            km.add_restart_callback(lambda: events.append('restart'), 'restart')
            km.add_restart_callback(lambda: events.append('dead'), 'dead')
            km.start_restarter()
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=TIMEOUT)
            hb = Heartbeat(km.get_connection_info()['hb_port'])
            hb.start()
            try:
                await body(km, kc, hb, events)
            finally:
                hb.finish()
                kc.stop_channels()
                km.stop_restarter()
                await km.shutdown_kernel(now=True)
        asyncio.run(main())

    async def run_cell(self, kc, code):
        msg_id = kc.execute(code)
        msgs = []
        while True:
            m = await kc.get_iopub_msg(timeout=TIMEOUT)
            if m['parent_header'].get('msg_id') != msg_id:
                continue
            msgs.append(m)
            if m['msg_type'] == 'status' and m['content']['execution_state'] == 'idle':
                break
        while True:
            reply = await kc.get_shell_msg(timeout=TIMEOUT)
            if reply['parent_header'].get('msg_id') == msg_id:
                return reply['content'], msgs

    def death(self, code, cause):
        async def body(km, kc, hb, events):
            pid = km.provisioner.process.pid
            reply, _ = await self.run_cell(kc, 'x = "before"')
            self.assertEqual(reply['status'], 'ok')
            reply, msgs = await self.run_cell(kc, code)
            self.assertEqual(reply['status'], 'error')
            self.assertEqual(reply['ename'], 'ExecutorDied')
            self.assertIn(cause, reply['evalue'])
            types = [m['msg_type'] for m in msgs]
            self.assertEqual(types[0], 'status')
            self.assertEqual(types[-1], 'status')
            self.assertIn('error', types)
            stderr = ''.join(m['content']['text'] for m in msgs
                             if m['msg_type'] == 'stream' and m['content']['name'] == 'stderr')
            self.assertIn(cause, stderr)
            self.assertIn('state', stderr)
            self.assertIn('lost', stderr)
            self.assertLess(types.index('stream'), types.index('error'))
            # The next cell runs, in a fresh executor.
            reply, msgs = await self.run_cell(kc, '1 + 1')
            self.assertEqual(reply['status'], 'ok')
            self.assertEqual([m['content']['data']['text/plain'] for m in msgs
                              if m['msg_type'] == 'execute_result'], ['2'])
            reply, _ = await self.run_cell(kc, 'x')
            self.assertEqual(reply['ename'], 'NameError')
            # The kernel never died: same process, no restart, no missed beat.
            self.assertEqual(km.provisioner.process.pid, pid)
            self.assertTrue(await km.is_alive())
            self.assertEqual(events, [])
            self.assertGreater(hb.beats, 0)
            self.assertEqual(hb.missed, 0)
        self.run_async(body)

    def test_killed(self):
        self.death('import os\nos.kill(os.getpid(), 9)', 'SIGKILL')

    def test_denied_system_call(self):
        self.death('import ctypes\nctypes.CDLL(None).syscall(101, 0, 0, 0, 0)', 'ptrace')

    def test_exit_status(self):
        self.death('import os\nos._exit(3)', 'status 3')

    def test_segfault(self):
        self.death('import ctypes\nctypes.string_at(0)', 'SIGSEGV')


class Restart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name='aiobox')
        cls.c = Client(cls.kc)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def test_shutdown_with_restart_is_a_fresh_executor(self):
        pid = self.km.provisioner.process.pid
        self.c.run('x = 1\nasync def chatter():\n    while True:\n        await asyncio.sleep(0.01)\n'
                   '        print("old task")\nt = asyncio.create_task(chatter())')
        msg_id = self.kc.shutdown(restart=True)
        reply = self.c.reply_to(msg_id, channel='control')
        self.assertEqual(reply['content'], {'status': 'ok', 'restart': True})
        self.c.wait_idle(msg_id)
        cell = self.c.run('x')
        self.assertEqual(cell.content['ename'], 'NameError')
        # Prompts count from 1 again, as after ipykernel's restart.
        self.assertEqual(cell.content['execution_count'], 1)
        self.assertTrue(self.km.is_alive())
        self.assertEqual(self.km.provisioner.process.pid, pid)
        # The old executor's task is gone with it.
        cell = self.c.run('import asyncio\nlen(asyncio.all_tasks())')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], '0')
        self.assertNotIn('old task', cell.stream('stdout'))

    def test_manager_restart_is_a_new_process(self):
        """KernelManager.restart_kernel, as JupyterLab's Restart calls it:
        an interrupt, shutdown_request with restart, then the manager
        waits for the process to end and starts a new one. The kernel
        ends on its own at once (exit status 0, not the manager's SIGTERM
        after 2.5 s)."""
        self.c.run('before = 1')
        old = self.km.provisioner.process
        self.km.restart_kernel()
        self.assertEqual(old.returncode, 0)
        self.assertNotEqual(self.km.provisioner.process.pid, old.pid)
        self.kc.wait_for_ready(timeout=TIMEOUT)
        cell = self.c.run('"before" in globals()')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], 'False')

    def test_manager_restart_now(self):
        """restart_kernel(now=True): the manager kills and starts anew."""
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=TIMEOUT)
        cell = self.c.run('6 * 7')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], '42')


class Floods(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name='aiobox')
        cls.c = Client(cls.kc)
        cls.hb = Heartbeat(cls.km.get_connection_info()['hb_port'])
        cls.hb.start()

    @classmethod
    def tearDownClass(cls):
        cls.hb.finish()
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def test_flood_arrives_whole_and_coalesced(self):
        cell = self.c.run('for i in range(50000): print(i)', timeout=120)
        self.assertEqual(cell.content['status'], 'ok')
        self.assertEqual(cell.stream('stdout'), ''.join(f'{i}\n' for i in range(50000)))
        # Coalesced: far fewer messages than lines.
        self.assertLess(len(cell.of('stream')), 5000)
        self.assertEqual(self.hb.missed, 0)

    def test_flood_over_the_cap_is_cut_and_said(self):
        cell = self.c.run('for i in range(10**6): print(i)', timeout=300)
        self.assertEqual(cell.content['status'], 'ok')
        out = cell.stream('stdout')
        # The policy's cap (1 MiB): what came is the start of the output,
        # in order, then the cut is said.
        self.assertLessEqual(len(out.encode()), 1 << 20)
        lines = out.split('\n')[:-1]
        self.assertGreater(len(lines), 100000)
        self.assertEqual(lines, [str(i) for i in range(len(lines))])
        self.assertIn('[aiobox: output truncated at 1048576 bytes; --output-cap BYTES changes '
                      'the limit]', cell.stream('stderr'))
        self.assertEqual(self.c.run('"next"').content['status'], 'ok')
        self.assertEqual(self.hb.missed, 0)

    def test_cell_too_large_to_run(self):
        cell = self.c.run('x = "' + 'a' * (20 << 20) + '"', timeout=120)
        self.assertEqual(cell.content['status'], 'error')
        self.assertIn('over the limit', cell.content['evalue'])
        self.assertIn('over the limit', cell.stream('stderr'))
        self.assertEqual(self.c.run('"next"').content['status'], 'ok')


if __name__ == '__main__':
    kernelenv.main('kernel-resilience')
