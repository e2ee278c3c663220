"""The kernel's own handling of the wire and of bad clients, with the
kernel started directly (`aiobox kernel -f FILE`, its stderr kept): forged
and replayed signatures, malformed frames, unknown message types, a frame
over the size limit, a client that vanishes; then its life cycle: the
connection file (tcp, ipc, no key, other digests, broken files),
shutdown_request, SIGTERM, and, in a sanitizer build, no report at exit.

Whether the kernel dropped a message is told without waiting: shell
requests are answered in order, so a valid request sent after a bad one
gets the first reply only if the bad one got none."""
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.session import Session

import kernelenv
from kernelenv import AIOBOX, TIMEOUT, Client

kernelenv.isolate()


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class DirectKernel:
    """aiobox kernel -f FILE, run by the test; stderr in a file."""

    def __init__(self, key='secret', scheme='hmac-sha256', transport='tcp', args=()):
        self.dir = tempfile.TemporaryDirectory(prefix='aiobox-wire-')
        self.info = {'transport': transport, 'signature_scheme': scheme, 'key': key,
                     'kernel_name': 'aiobox'}
        if transport == 'ipc':
            self.info['ip'] = os.path.join(self.dir.name, 'k')
            ports = [1, 2, 3, 4, 5]
        else:
            self.info['ip'] = '127.0.0.1'
            ports = free_ports(5)
        for name, port in zip(('shell', 'iopub', 'stdin', 'control', 'hb'), ports):
            self.info[f'{name}_port'] = port
        self.file = os.path.join(self.dir.name, 'kernel.json')
        with open(self.file, 'w') as f:
            json.dump(self.info, f)
        self.err_path = os.path.join(self.dir.name, 'stderr')
        self.err = open(self.err_path, 'wb')
        self.proc = subprocess.Popen([AIOBOX, 'kernel', '-f', self.file, *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, start_new_session=True)

    def client(self):
        kc = BlockingKernelClient()
        kc.load_connection_file(self.file)
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        return kc

    def stderr(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def wait_log(self, text, timeout=TIMEOUT):
        """Waits until the kernel's stderr holds text."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if time.monotonic() > deadline:
                raise AssertionError(f'the kernel never logged {text!r}; it logged '
                                     f'{self.stderr()!r}')
            time.sleep(0.01)  # polling a file the kernel appends to

    def wait(self, timeout=TIMEOUT):
        try:
            return self.proc.wait(timeout)
        finally:
            self.err.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        self.dir.cleanup()


def alive(pid):
    """Whether pid runs (a zombie nobody reaps has ended)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def sanitizer_reports(text):
    return [line for line in text.splitlines()
            if 'Sanitizer' in line or 'runtime error:' in line]


class BadClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = DirectKernel()
        cls.kc = cls.k.client()
        cls.c = Client(cls.kc)
        cls.ctx = zmq.Context()

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.ctx.term()
        cls.k.close()

    def raw_shell(self):
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(f"tcp://127.0.0.1:{self.k.info['shell_port']}")
        self.addCleanup(sock.close)
        return sock

    def serialized(self, msg_type, content, key=b'secret'):
        s = Session(key=key, signature_scheme='hmac-sha256')
        return s.serialize(s.msg(msg_type, content))

    def next_reply(self, sock):
        """(header, parent) of the next reply on a raw socket."""
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        self.assertTrue(poller.poll(TIMEOUT * 1000), 'no reply at all')
        reply = sock.recv_multipart()
        d = reply.index(b'<IDS|MSG>')
        return json.loads(reply[d + 2]), json.loads(reply[d + 3])

    def assert_served_next(self, sock):
        """A valid request on the same socket gets the first reply."""
        frames = self.serialized('kernel_info_request', {})
        msg_id = json.loads(frames[2])['msg_id']
        sock.send_multipart(frames)
        header, parent = self.next_reply(sock)
        self.assertEqual(header['msg_type'], 'kernel_info_reply')
        self.assertEqual(parent['msg_id'], msg_id)

    def execute_frames(self, code, key=b'secret'):
        return self.serialized('execute_request', {
            'code': code, 'silent': False, 'store_history': True, 'user_expressions': {},
            'allow_stdin': False, 'stop_on_error': True}, key)

    def test_forged_signature_is_dropped(self):
        sock = self.raw_shell()
        sock.send_multipart(self.execute_frames('forged = 1', key=b'not the key'))
        self.assert_served_next(sock)
        self.k.wait_log('its signature is wrong')
        cell = self.c.run('"forged" in globals()')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], 'False')

    def test_unsigned_message_is_dropped(self):
        sock = self.raw_shell()
        frames = self.execute_frames('unsigned = 1')
        frames[1] = b''
        sock.send_multipart(frames)
        self.assert_served_next(sock)
        cell = self.c.run('"unsigned" in globals()')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], 'False')

    def test_replayed_message_is_dropped(self):
        sock = self.raw_shell()
        frames = self.execute_frames('replays = globals().get("replays", 0) + 1')
        sock.send_multipart(frames)
        sock.send_multipart(frames)
        header, parent = self.next_reply(sock)
        self.assertEqual(header['msg_type'], 'execute_reply')
        self.assertEqual(parent['msg_id'], json.loads(frames[2])['msg_id'])
        self.assert_served_next(sock)
        self.k.wait_log('seen before (a replayed message)')
        cell = self.c.run('replays')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], '1')

    def signed(self, header, parent=b'{}', metadata=b'{}', content=b'{}'):
        mac = hmac.new(b'secret', digestmod=hashlib.sha256)
        for part in (header, parent, metadata, content):
            mac.update(part)
        return [b'<IDS|MSG>', mac.hexdigest().encode(), header, parent, metadata, content]

    def test_malformed_messages(self):
        sock = self.raw_shell()
        header = json.dumps({'msg_id': str(uuid.uuid4()), 'msg_type': 'execute_request',
                             'session': 'x', 'username': 'u', 'date': '', 'version': '5.3'})
        cases = [
            ([b'no delimiter at all'], 'no <IDS|MSG> delimiter'),
            ([b'<IDS|MSG>', b'sig', b'{}'], 'not the 5 a message has'),
            (self.signed(b'{not json'), 'header is not JSON'),
            (self.signed(b'[1, 2]'), 'header is not a JSON object'),
            (self.signed(json.dumps({'msg_id': 'x'}).encode()), 'lacks a msg_type'),
            ([b'<IDS|MSG>'] + [b'x'] * 200, 'more than the 128'),
        ]
        for frames, said in cases:
            sock.send_multipart(frames)
            self.k.wait_log(said)
        self.assert_served_next(sock)
        self.assertEqual(self.c.run('1').content['status'], 'ok')

    def test_good_header_bad_content_is_answered(self):
        """A request whose header can be read is answered, even when the
        rest cannot, so that its client does not wait for ever."""
        sock = self.raw_shell()
        msg_id = str(uuid.uuid4())
        header = json.dumps({'msg_id': msg_id, 'msg_type': 'execute_request', 'session': 'x',
                             'username': 'u', 'date': '', 'version': '5.3'}).encode()
        for content, said in [(b'"code"', 'content is not a JSON object'),
                              (b'{"code": "\\ud800"', 'content is not JSON')]:
            sock.send_multipart(self.signed(header, content=content))
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            self.assertTrue(poller.poll(TIMEOUT * 1000), 'no reply')
            reply = sock.recv_multipart()
            d = reply.index(b'<IDS|MSG>')
            self.assertEqual(json.loads(reply[d + 2])['msg_type'], 'execute_reply')
            self.assertEqual(json.loads(reply[d + 3])['msg_id'], msg_id)
            content = json.loads(reply[d + 5])
            self.assertEqual((content['status'], content['ename']), ('error', 'InvalidRequest'))
            self.assertIn(said, content['evalue'])
            self.k.wait_log(said)
        self.assert_served_next(sock)

    def test_execute_request_without_code(self):
        sock = self.raw_shell()
        sock.send_multipart(self.serialized('execute_request', {'silent': False}))
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        self.assertTrue(poller.poll(TIMEOUT * 1000))
        reply = sock.recv_multipart()
        content = json.loads(reply[reply.index(b'<IDS|MSG>') + 5])
        self.k.wait_log('is malformed')
        self.assertEqual(content['status'], 'error')
        self.assertEqual(content['ename'], 'InvalidRequest')

    def test_unknown_request_gets_an_error_reply(self):
        msg = self.kc.session.msg('frobnicate_request', {})
        self.kc.shell_channel.send(msg)
        reply = self.c.reply_to(msg['header']['msg_id'])
        self.assertEqual(reply['msg_type'], 'frobnicate_reply')
        self.assertEqual(reply['content']['status'], 'error')
        self.assertEqual(reply['content']['ename'], 'UnknownRequest')
        msgs = self.c.wait_idle(msg['header']['msg_id'])
        self.assertEqual([m['content']['execution_state'] for m in msgs], ['busy', 'idle'])
        self.k.wait_log('unknown request frobnicate_request')

    def test_wrong_message_on_stdin_or_control(self):
        self.kc.stdin_channel.send(self.kc.session.msg('execute_request', {'code': '1'}))
        self.k.wait_log('only input_reply belongs there')
        msg = self.kc.session.msg('execute_request', {'code': 'on_control = 1'})
        self.kc.control_channel.send(msg)
        reply = self.c.reply_to(msg['header']['msg_id'], channel='control')
        self.assertEqual(reply['content']['status'], 'error')
        self.assertIn('shell channel', reply['content']['evalue'])

    def test_frame_over_the_limit_drops_only_its_sender(self):
        sock = self.raw_shell()
        frames = self.execute_frames('huge = 1')
        frames[5] = b'{"code": "' + b'a' * (65 << 20) + b'"}'
        sock.send_multipart(frames)
        # That connection is gone (libzmq drops it); the kernel serves on.
        cell = self.c.run('"huge" in globals()')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], 'False')
        self.assertEqual(self.k.proc.poll(), None)

    def test_client_vanishes_mid_request(self):
        other = BlockingKernelClient()
        other.load_connection_file(self.k.file)
        other.start_channels()
        other.execute('import asyncio\nawait asyncio.sleep(0.05)\nprint("nobody listens")')
        other.stop_channels()
        cell = self.c.run('"still serving"')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'],
                         "'still serving'")


class Lifecycle(unittest.TestCase):
    def lifecycle(self, **kw):
        k = DirectKernel(**kw)
        self.addCleanup(k.close)
        kc = k.client()
        c = Client(kc)
        cell = c.run('import asyncio\nawait asyncio.sleep(0)\n6 * 7')
        self.assertEqual(cell.of('execute_result')[0]['content']['data']['text/plain'], '42')
        msg_id = kc.shutdown()
        reply = c.reply_to(msg_id, channel='control')
        self.assertEqual(reply['content'], {'status': 'ok', 'restart': False})
        kc.stop_channels()
        self.assertEqual(k.wait(), 0, k.stderr())
        self.assertEqual(sanitizer_reports(k.stderr()), [])

    def test_tcp(self):
        self.lifecycle()

    def test_ipc(self):
        self.lifecycle(transport='ipc')

    def test_no_key_means_no_signing(self):
        self.lifecycle(key='')

    def test_sha512(self):
        self.lifecycle(scheme='hmac-sha512')

    def test_sigterm(self):
        k = DirectKernel()
        self.addCleanup(k.close)
        kc = k.client()
        Client(kc).run('x = 1')
        kc.stop_channels()
        k.proc.send_signal(signal.SIGTERM)
        self.assertEqual(k.wait(), 128 + signal.SIGTERM)
        self.assertIn('SIGTERM: shutting down', k.stderr())
        self.assertEqual(sanitizer_reports(k.stderr()), [])

    def test_broken_connection_files(self):
        with tempfile.TemporaryDirectory() as d:
            cases = [('missing.json', None, 'No such file'),
                     ('notjson.json', 'hello', 'not JSON'),
                     ('array.json', '[]', 'not a JSON object'),
                     ('noport.json', '{"key": "k"}', 'shell_port must be a port number'),
                     ('scheme.json', json.dumps({'shell_port': 1, 'iopub_port': 2,
                                                 'stdin_port': 3, 'control_port': 4,
                                                 'hb_port': 5, 'key': 'k',
                                                 'signature_scheme': 'rot13'}),
                      "signature scheme 'rot13' is not hmac-<digest>"),
                     ('transport.json', json.dumps({'transport': 'udp'}),
                      'transport must be "tcp" or "ipc"')]
            for name, text, said in cases:
                path = os.path.join(d, name)
                if text is not None:
                    with open(path, 'w') as f:
                        f.write(text)
                p = subprocess.run([AIOBOX, 'kernel', '-f', path], capture_output=True,
                                   text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 1, name)
                self.assertIn(said, p.stderr, name)
                self.assertEqual(sanitizer_reports(p.stderr), [])

    def test_port_in_use(self):
        holder = socket.socket()
        holder.bind(('127.0.0.1', 0))
        holder.listen()
        self.addCleanup(holder.close)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'k.json')
            ports = free_ports(4)
            with open(path, 'w') as f:
                json.dump({'ip': '127.0.0.1', 'key': 'k', 'shell_port': holder.getsockname()[1],
                           'iopub_port': ports[0], 'stdin_port': ports[1],
                           'control_port': ports[2], 'hb_port': ports[3]}, f)
            p = subprocess.run([AIOBOX, 'kernel', '-f', path], capture_output=True, text=True,
                               timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn('cannot bind the shell channel', p.stderr)
        self.assertEqual(sanitizer_reports(p.stderr), [])

    def test_kernel_ends_with_the_process_that_started_it(self):
        """jupyter_client names itself in JPY_PARENT_PID; a kernel whose
        manager is killed ends on its own instead of lingering."""
        launcher = subprocess.Popen(
            [sys.executable, '-c',
             'import sys\n'
             'from jupyter_client.manager import start_new_kernel\n'
             'km, kc = start_new_kernel(kernel_name="aiobox")\n'
             'print(km.provisioner.process.pid, flush=True)\n'
             'sys.stdin.read()\n'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(launcher.wait)
        self.addCleanup(launcher.kill)
        pid = int(launcher.stdout.readline())
        launcher.kill()
        deadline = time.monotonic() + 10
        while alive(pid):
            self.assertLess(time.monotonic(), deadline, 'the orphaned kernel did not end')
            time.sleep(0.05)  # polling /proc for the kernel's end

    def test_usage(self):
        p = subprocess.run([AIOBOX, 'kernel'], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn('kernel needs -f CONNECTION_FILE', p.stderr)


if __name__ == '__main__':
    kernelenv.main('kernel-wire')
