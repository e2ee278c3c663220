"""The fault-injection soak, long form: 1000 iterations of killing the
executor of a live `aiobox` at random moments, by SIGKILL, SIGSEGV and
SIGABRT from outside and by os._exit and a ctypes segfault from inside
(tests/supervisor/soak.py says what is checked; the test suite runs a
short one). Prints `soak: N/N passed` and the figures; exits 1 if any
iteration failed.

    /usr/bin/python3 bench/soak.py [path/to/aiobox] [--iterations N]
                                   [--seed S] [--no-standby]

Unlike the test-suite version, an outside kill mid-statement lands after a
random extra delay of up to 20 ms, so it hits the executor anywhere in
its work. Needs root (the executor runs as nobody, the kills come from
here)."""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'supervisor'))

import livesession  # noqa: E402
import soak  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('aiobox', nargs='?', default=os.path.join(HERE, '..', 'build', 'aiobox'))
    ap.add_argument('--iterations', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=None,
                    help='random seed (default: from the clock, printed)')
    ap.add_argument('--no-standby', action='store_true', help='run aiobox without a spare')
    args = ap.parse_args()
    livesession.AIOBOX = os.path.abspath(args.aiobox)
    seed = args.seed if args.seed is not None else int(time.time())
    print(f'aiobox: {livesession.AIOBOX}; seed {seed}; {args.iterations} iterations'
          + (' without a spare' if args.no_standby else ''), flush=True)
    result = soak.Soak(args.iterations, seed, jitter_ms=20,
                       args=('--no-standby',) if args.no_standby else (),
                       log=lambda msg: print(msg, flush=True)).run()
    print(result.summary())
    ok = not result.failures and result.passed == args.iterations
    print(f'soak: {result.passed}/{args.iterations} passed')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
