"""A short fault-injection soak (tests/supervisor/soak.py; bench/soak.py runs
1000 iterations): 40 iterations with a fixed seed, killing the executor by
every means at every kind of moment, with and without the warm spare."""
import sys
import unittest

import harness
import soak

ITERATIONS = 40


class Soak(unittest.TestCase):
    def run_soak(self, seed, args=()):
        result = soak.Soak(ITERATIONS, seed, args=args).run()
        print(result.summary(), file=sys.stderr)
        self.assertEqual(result.failures, [])
        self.assertEqual(result.passed, ITERATIONS)
        # Every means of death was used.
        self.assertEqual(set(result.by_kind), set(soak.CAUSE))
        self.assertGreater(result.trips, 0, 'the restart budget never tripped')

    def test_with_standby(self):
        self.run_soak(1)

    def test_without_standby(self):
        self.run_soak(2, args=('--no-standby',))


if __name__ == '__main__':
    harness.main('supervisor-soak')
