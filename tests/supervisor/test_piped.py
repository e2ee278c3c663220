"""Piped stdin: with -q, aiobox's stdout and stderr are byte-identical to
`/usr/bin/python3 -m asyncio`'s for every transcript (apart from Python's
banner, its exit message, and the REPL-machinery frames it wrongly shows)."""
import glob
import os
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sorted(glob.glob(os.path.join(HERE, 'transcripts', '*.in')))


class Transcripts(unittest.TestCase):
    maxDiff = None


# The reference itself is not deterministic where background tasks and the
# next statement race (T06): aiobox must produce one of the outputs the
# reference produces, so the reference is re-run a few times on mismatch.
REFERENCE_RUNS = 5


def make_case(path):
    def test(self):
        with open(path, 'rb') as f:
            stdin = f.read()
        rc, out, err = harness.run_aiobox(stdin)
        out, err = harness.mask_addresses(out), harness.mask_addresses(err)
        for _ in range(REFERENCE_RUNS):
            ref_rc, ref_out, ref_err = harness.run_reference(stdin)
            ref_out, ref_err = harness.mask_addresses(ref_out), harness.mask_addresses(ref_err)
            if (out, err) == (ref_out, ref_err):
                break
        self.assertEqual(out.decode('utf-8', 'replace'), ref_out.decode('utf-8', 'replace'),
                         'stdout differs')
        self.assertEqual(err.decode('utf-8', 'replace'), ref_err.decode('utf-8', 'replace'),
                         'stderr differs')
        self.assertEqual(rc, ref_rc)
    return test


for path in CASES:
    name = 'test_' + os.path.basename(path)[:-3].replace('-', '_')
    setattr(Transcripts, name, make_case(path))


if __name__ == '__main__':
    harness.main('supervisor-piped')
