"""Sum the per-program results of a test run into one line.

Every test program ends its output with `NAME: N passed, N failed`. A
program that ended without that line (a crash, a timeout) counts as one
failure; a meson test that passed without it counts as one pass.
"""
import json
import re
import sys

LINE = re.compile(r'^(?:[\w.-]+: )?(\d+) passed, (\d+) failed', re.M)


def tally(text, ok):
    found = LINE.findall(text or '')
    if not found:
        return (1, 0) if ok else (0, 1)
    p, f = map(int, found[-1])
    if not ok and f == 0:
        f = 1
    return p, f


def main(paths):
    passed = failed = 0
    for path in paths:
        try:
            with open(path, encoding='utf-8', errors='replace') as fh:
                data = fh.read()
        except OSError as e:
            print(f'summarize: {path}: {e}', file=sys.stderr)
            failed += 1
            continue
        if path.endswith('.json'):
            for row in data.splitlines():
                if not row.strip():
                    continue
                t = json.loads(row)
                ok = t.get('result') in ('OK', 'EXPECTEDFAIL', 'SKIP')
                p, f = tally(t.get('stdout', ''), ok)
                if not ok:
                    print(f"summarize: FAILED {t.get('name')} ({t.get('result')})", file=sys.stderr)
                passed, failed = passed + p, failed + f
        else:
            p, f = tally(data, True)
            passed, failed = passed + p, failed + f
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
