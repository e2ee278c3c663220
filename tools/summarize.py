"""Sum the per-program results of a test run into one line,
`N passed, N failed, N skipped`, with every skipped test and its reason
listed above it, and exit non-zero on any failure or unexplained skip.

Inputs: meson's testlog.json files and plain logs (tools/fuzz.sh's).

Each program's counts come from the last closing line of its output, in
any of these forms:
  NAME: N passed, N failed[, N skipped]       ours (checkrun, the Python tests)
  ==== 3 passed, 1 skipped in 0.12s ====       pytest
  100%: Checks: N, Failures: N, Errors: N      Check's own, when ours is missing
  Ran N tests ... OK (skipped=K) / FAILED (...)  unittest
A program without such a line counts as one test: passed, failed or
skipped as meson judged it. A program meson judged a failure (a crash or a
timeout after its line, say) counts at least one failure.

Skips must be explained. Each skipped test prints a line
  SKIP TEST: REASON                             ours (older programs: skip)
  SKIPPED [1] FILE:LINE: REASON                 pytest -rs
  TEST (CLASS) ... skipped 'REASON'             unittest -v
and a reason is accepted only as
  host lacks LAYER ...   with LAYER listed in AIOBOX_HOST_LACKS, or
  sanitizer build ...    in a log from a build with -Db_sanitize.
Any other skip, and any skip a program counts without printing its line,
is counted as a failure.
"""
import json
import os
import re
import sys

LAYERS = ('landlock', 'landlock-tcp', 'landlock-scope', 'seccomp', 'ia32', 'root', 'userns')

OURS = re.compile(r'^(?:[\w.-]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$', re.M)
PYTEST = re.compile(r'^=+ (.*\b(?:passed|failed|skipped|error|errors)\b.*) in [\d.]+s.* =+\s*$', re.M)
CHECK = re.compile(r'^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)\s*$', re.M)
UNITTEST_RAN = re.compile(r'^Ran (\d+) tests? in ', re.M)
UNITTEST_END = re.compile(r'^(OK|FAILED)(?: \((.*)\))?\s*$', re.M)

SKIP_LINES = (
    re.compile(r'^(?:SKIP|skip) (?P<name>\S.*?): (?P<reason>.*)$', re.M),
    re.compile(r'^SKIPPED \[\d+\] (?P<name>\S+?): (?P<reason>.*)$', re.M),
    re.compile(r"^(?P<name>\S+) \(.*\) \.\.\. skipped '(?P<reason>.*)'$", re.M),
)


def declared_lacks():
    words = [w for w in os.environ.get('AIOBOX_HOST_LACKS', '').split(',') if w]
    unknown = [w for w in words if w not in LAYERS]
    if unknown:
        print(f"summarize: AIOBOX_HOST_LACKS: unknown layer '{unknown[0]}' ({', '.join(LAYERS)})")
        sys.exit(2)
    return set(words)


def counts(text):
    """(passed, failed, skipped or None) from the program's closing line:
    the last of ours if there is one, else pytest's, unittest's or Check's;
    None when there is no closing line at all."""
    ours = list(OURS.finditer(text))
    if ours:
        m = ours[-1]
        return int(m.group(1)), int(m.group(2)), \
            int(m.group(3)) if m.group(3) is not None else None
    pytest = list(PYTEST.finditer(text))
    if pytest:
        c = {k: 0 for k in ('passed', 'failed', 'skipped', 'error', 'errors')}
        for n, word in re.findall(r'(\d+) (passed|failed|skipped|errors?)\b', pytest[-1].group(1)):
            c[word] += int(n)
        return c['passed'], c['failed'] + c['error'] + c['errors'], c['skipped']
    ran = list(UNITTEST_RAN.finditer(text))
    ends = list(UNITTEST_END.finditer(text))
    if ran and ends:
        n = int(ran[-1].group(1))
        detail = {k: int(v) for k, v in re.findall(r'([\w ]+?)=(\d+)', ends[-1].group(2) or '')}
        detail = {k.strip(): v for k, v in detail.items()}
        failed = detail.get('failures', 0) + detail.get('errors', 0) + \
            detail.get('unexpected successes', 0)
        skipped = detail.get('skipped', 0)
        return n - failed - skipped, failed, skipped
    check = list(CHECK.finditer(text))
    if check:
        n, f, e = map(int, check[-1].groups())
        return n - f - e, f + e, None
    return None


def skip_lines(text):
    out = []
    for pattern in SKIP_LINES:
        out += [(m.start(), m.group('name'), m.group('reason')) for m in pattern.finditer(text)]
    return [(name, reason) for _, name, reason in sorted(out)]


def explained(reason, lacks, sanitized):
    m = re.match(r'host lacks ([\w-]+)\b', reason)
    if m:
        return m.group(1) in lacks
    return reason.startswith('sanitizer build') and sanitized


def sanitized_build(testlog):
    """Whether the build that wrote this testlog.json has -Db_sanitize."""
    info = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(testlog))),
                        'meson-info', 'intro-buildoptions.json')
    try:
        with open(info, encoding='utf-8') as fh:
            options = json.load(fh)
    except (OSError, ValueError):
        return False
    return any(o.get('name') == 'b_sanitize' and o.get('value') not in ('none', [], '')
               for o in options)


class Tally:
    def __init__(self, lacks):
        self.lacks = lacks
        self.passed = self.failed = self.skipped = 0
        self.notes = []

    def program(self, name, result, text, sanitized):
        """One program: result is meson's verdict (OK, FAIL, SKIP, ...)."""
        ok = result in ('OK', 'EXPECTEDFAIL', 'SKIP')
        c = counts(text)
        if c is None:
            c = {'OK': (1, 0, 0), 'EXPECTEDFAIL': (1, 0, 0), 'SKIP': (0, 0, 1)}.get(result, (0, 1, 0))
        passed, failed, skipped = c
        lines = skip_lines(text)
        # A program that counts no skips but prints skip lines skipped them
        # all the same; one that counts more than it explains hides some.
        skipped = max(skipped or 0, len(lines))
        if result == 'SKIP' and skipped == 0 and passed == 0:
            skipped = 1
        if not ok and failed == 0:
            failed = 1
        if failed:
            self.notes.append(f'FAILED {name} ({result}, {failed} failed)')
        for test, reason in lines:
            if explained(reason, self.lacks, sanitized):
                self.notes.append(f'skipped {name} / {test}: {reason}')
                self.skipped += 1
            else:
                self.notes.append(f'FAILED {name} / {test}: a skip without an accepted reason: '
                                  f'{reason}')
                failed += 1
        if skipped > len(lines):
            missing = skipped - len(lines)
            self.notes.append(f'FAILED {name}: {missing} skip(s) without a SKIP line saying why')
            failed += missing
        self.passed += passed
        self.failed += failed

    def meson_log(self, path, data):
        sanitized = sanitized_build(path)
        for row in data.splitlines():
            if not row.strip():
                continue
            t = json.loads(row)
            text = (t.get('stdout') or '') + '\n' + (t.get('stderr') or '')
            self.program(t.get('name', path), t.get('result'), text, sanitized)

    def plain_log(self, path, data):
        self.program(path, 'OK', data, False)


def main(paths):
    tally = Tally(declared_lacks())
    for path in paths:
        try:
            with open(path, encoding='utf-8', errors='replace') as fh:
                data = fh.read()
        except OSError as e:
            tally.notes.append(f'FAILED {path}: {e}')
            tally.failed += 1
            continue
        if path.endswith('.json'):
            tally.meson_log(path, data)
        else:
            tally.plain_log(path, data)
    if not paths:
        tally.notes.append('FAILED: no test log given')
        tally.failed += 1
    for note in tally.notes:
        print(f'summarize: {note}')
    print(f'{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped')
    return 0 if tally.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
