"""User code speaks the protocol itself: it writes frames of its own on the
channel (fd 3 of the executor) or raises the sandbox's signal at itself. The
supervisor believes none of it beyond what it can know: a forged `error`
frame ends that executor as the protocol says the last frame does, a forged
`input` for no statement while one runs ends it too without swallowing the
next line, and a SIGSYS that no trapped call caused is reported as a bare
signal, not as a denial."""
import struct
import unittest

import harness
from livesession import Live

CHANNEL_FD = 3
PROTO_VERSION = 2


def pack(obj):
    """msgpack for the few shapes a frame needs (maps of short strings and
    small unsigned integers): the executor has no msgpack module to use."""
    if isinstance(obj, dict):
        assert len(obj) < 16
        return bytes([0x80 | len(obj)]) + b''.join(pack(k) + pack(v) for k, v in obj.items())
    if isinstance(obj, str):
        data = obj.encode()
        assert len(data) < 32
        return bytes([0xa0 | len(data)]) + data
    if isinstance(obj, bool):
        return b'\xc3' if obj else b'\xc2'
    assert isinstance(obj, int) and 0 <= obj < 128
    return bytes([obj])


def frame(**fields):
    body = pack({'t': fields.pop('t'), 'v': PROTO_VERSION, **fields})
    return struct.pack('>I', len(body)) + body


def forge(**fields):
    """A statement that writes one forged frame on the channel."""
    return f'import os; os.write({CHANNEL_FD}, {frame(**fields)!r})'


class Forged(unittest.TestCase):
    def setUp(self):
        self.s = Live('-q')
        self.s.prompt()
        self.pid = self.s.executor_pid()

    def tearDown(self):
        self.s.kill()

    def assert_new_executor(self):
        pid = self.s.executor_pid()
        self.assertNotEqual(pid, self.pid)
        self.assertEqual(self.s.run('print(6 * 7)'), (b'42\n', b''))

    def test_forged_error_frame_ends_the_executor(self):
        self.s.run('x = 1')
        out, err = self.s.run(forge(t='error', message='forged'))
        self.assertEqual(out, b'')
        self.assertEqual(err, b'aiobox: executor reported an error and was stopped: forged\n'
                              b'aiobox: statement 2 did not complete\n'
                              b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n')
        self.assert_new_executor()
        out, err = self.s.run('x')
        self.assertIn(b"NameError: name 'x' is not defined", err)

    def test_forged_input_for_no_statement_swallows_nothing(self):
        # The next line is sent at once: it waits in the supervisor's queue
        # (or is sent ahead) while the forging statement runs, and must run
        # as itself, not be handed to the forged input request.
        self.s.send(forge(t='input', id=0, prompt='? ', kind='line'))
        self.s.send('print("the next line")')
        self.s.expect_err(b'aiobox: executor sent an invalid frame: input for no statement '
                          b'while statement 1 runs\n')
        self.s.expect_err(b'aiobox: statement 1 did not complete\n')
        self.s.expect_out(b'the next line\n')
        self.s.prompt()
        self.assert_new_executor()

    def test_forged_input_for_another_statement(self):
        out, err = self.s.run(forge(t='input', id=9, prompt='? ', kind='line'))
        self.assertIn(b'aiobox: executor sent an invalid frame: input for statement 9, which '
                      b'is not running\n', err)
        self.assert_new_executor()

    def test_forged_clear_output_and_page_for_another_statement(self):
        for fields, what in (({'t': 'clear_output', 'id': 9, 'wait': False}, b'clear_output'),
                             ({'t': 'page', 'id': 9, 'text': 'forged'}, b'page')):
            with self.subTest(what=what):
                out, err = self.s.run(forge(**fields))
                self.assertIn(b'aiobox: executor sent an invalid frame: ' + what +
                              b' for statement ', err)
                self.assertIn(b', which is not running\n', err)
                self.assertNotIn(b'forged', out)
                self.assert_new_executor()
                self.pid = self.s.executor_pid()

    def test_self_sent_sigsys_is_not_a_denial(self):
        out, err = self.s.run('import os, signal; os.kill(os.getpid(), signal.SIGSYS)')
        self.assertEqual(out, b'')
        self.assertEqual(err, b'aiobox: executor killed by SIGSYS\n'
                              b'aiobox: statement 1 did not complete\n'
                              b'aiobox: started a new executor (restart 1); the session state '
                              b'was lost\n')
        self.assert_new_executor()

    def test_a_real_denial_is_still_named(self):
        out, err = self.s.run('import ctypes; ctypes.CDLL(None).syscall(165, 0, 0, 0, 0, 0)')
        self.assertIn(b'aiobox: executor killed by SIGSYS: blocked by policy strict: mount\n', err)
        self.assert_new_executor()


if __name__ == '__main__':
    harness.main('supervisor-forged')
