"""The supervisor survives every misbehaviour of its executor: oversized,
malformed and forged frames, crashes, a closed channel, a hang. Each is
driven through a fake executor ($FAKE_EXECUTOR) that misbehaves on cue;
after each, the cause is printed and the next statement runs in a new
executor."""
import os
import unittest

import harness

FAKE = os.environ.get('FAKE_EXECUTOR')


def session(*statements, args=()):
    stdin = ''.join(s + '\n' for s in statements).encode()
    return harness.run_aiobox(stdin, args=('-q', '--no-standby', '--grace', '0.5',
                                           '--executor', FAKE, *args))


class Faults(unittest.TestCase):
    def assert_survives(self, scenario, cause):
        rc, out, err = session(scenario, 'ok')
        err = err.decode()
        self.assertEqual(rc, 0, err)
        self.assertIn(cause, err)
        self.assertIn('aiobox: started a new executor (restart 1); the session state was lost', err)
        self.assertIn('statement 1 did not complete', err)
        self.assertEqual(out.decode(), '>>> >>> fine\n>>> ')

    def test_oversized_frame(self):
        self.assert_survives('huge', 'executor sent an invalid frame: frame of 16777216 bytes '
                                     'exceeds the 8388608-byte limit')

    def test_garbage_frame(self):
        self.assert_survives('garbage', 'executor sent an invalid frame: reserved byte 0xc1')

    def test_array32_bomb(self):
        self.assert_survives('bomb', 'executor sent an invalid frame: ')

    def test_invalid_utf8(self):
        self.assert_survives('badutf8', "field 'text' is not valid UTF-8")

    def test_forged_result(self):
        self.assert_survives('forged', 'result for statement 1001, which is not running')

    def test_result_of_a_statement_that_never_started(self):
        self.assert_survives('unstarted', 'output for statement 1, which never started')

    def test_wrong_direction(self):
        self.assert_survives('wrongtype', "'exec' is not a message an executor sends")

    def test_version_mismatch(self):
        self.assert_survives('version', 'peer speaks protocol version 99, this side speaks 2')

    def test_segfault(self):
        self.assert_survives('segv', 'aiobox: executor killed by SIGSEGV\n')

    def test_exit_status(self):
        self.assert_survives('exit3', 'aiobox: executor exited with status 3\n')

    def test_closed_channel(self):
        self.assert_survives('close', 'aiobox: executor closed its channel\n')

    def test_hang_is_killed_after_grace(self):
        self.assert_survives('hang', 'did not stop within 0.5 s of an interrupt: killed')

    def test_denied_syscall_named(self):
        self.assert_survives('denied', 'executor killed by SIGSYS: blocked by policy ')

    def test_raw_flood_is_capped_and_drained(self):
        rc, out, err = session('flood', 'ok', args=('--output-cap', '1048576'))
        self.assertEqual(rc, 0)
        self.assertIn(b'[aiobox: output truncated at 1048576 bytes; --output-cap BYTES changes '
                      b'the limit]', err)
        self.assertLessEqual(out.count(b'x'), 1048576)
        self.assertTrue(out.endswith(b'>>> fine\n>>> '))

    def test_escapes_pass_untouched_to_a_pipe(self):
        # Sanitising is for terminals; the pty test checks that side.
        rc, out, err = session('escapes')
        self.assertIn(b'\x1b]0;pwned\x07', out)


if __name__ == '__main__':
    harness.main('supervisor-faults')
