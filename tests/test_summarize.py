"""tools/summarize.py on test logs made here: every closing-line format it
reads, and its verdict on failures and on explained and unexplained skips.

Usage: test_summarize.py SUMMARIZE
"""
import json
import os
import subprocess
import sys
import tempfile

SUMMARIZE = sys.argv[1]
results = {'passed': 0, 'failed': 0}


def check(name, ok, detail=''):
    results['passed' if ok else 'failed'] += 1
    print(f'ok   {name}' if ok else f'FAIL {name}\n{detail}')


def build_dir(root, name, sanitize):
    """A build dir with a testlog.json and the option meson records."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, 'meson-logs'))
    os.makedirs(os.path.join(d, 'meson-info'))
    with open(os.path.join(d, 'meson-info', 'intro-buildoptions.json'), 'w') as f:
        json.dump([{'name': 'b_sanitize', 'value': sanitize}], f)
    return os.path.join(d, 'meson-logs', 'testlog.json')


def write_log(path, rows):
    with open(path, 'w') as f:
        for name, result, stdout, stderr in rows:
            f.write(json.dumps({'name': name, 'result': result, 'stdout': stdout,
                                'stderr': stderr}) + '\n')


def summarize(paths, lacks=None):
    env = {k: v for k, v in os.environ.items() if k != 'AIOBOX_HOST_LACKS'}
    if lacks is not None:
        env['AIOBOX_HOST_LACKS'] = lacks
    p = subprocess.run([sys.executable, SUMMARIZE, *paths], capture_output=True, text=True,
                       env=env, timeout=60)
    return p.returncode, p.stdout


def expect(name, paths, rc, last, lacks=None, has=(), lacks_text=()):
    got_rc, out = summarize(paths, lacks)
    lines = out.strip().splitlines()
    ok = got_rc == rc and lines and lines[-1] == last
    ok = ok and all(h in out for h in has) and not any(h in out for h in lacks_text)
    check(name, ok, f'  rc {got_rc} (want {rc}), last line {lines[-1:]!r} (want {last!r})\n{out}')


root = tempfile.mkdtemp(prefix='aiobox-summarize-')
plain = build_dir(root, 'build', 'none')
asan = build_dir(root, 'build-asan', 'address,undefined')

CHECK_OUT = ('Running suite(s): x\n100%: Checks: 5, Failures: 0, Errors: 0\n'
             'x: 5 passed, 0 failed, 0 skipped\n')
write_log(plain, [
    ('check', 'OK', CHECK_OUT, ''),
    ('older', 'OK', 'older: 3 passed, 0 failed\n', ''),
    ('pytest', 'OK', '==== 4 passed, 1 warning in 0.20s ====\n', ''),
    ('unittest', 'OK', 'u: 2 passed, 0 failed\n', 'Ran 2 tests in 0.1s\n\nOK\n'),
    ('silent', 'OK', 'no closing line\n', ''),
])
expect('closing lines of every kind add up', [plain], 0, '15 passed, 0 failed, 0 skipped')

# Check's own line when the program ended before ours (a crash in checkrun).
crash = build_dir(root, 'crash', 'none')
write_log(crash, [('check', 'FAIL', '60%: Checks: 5, Failures: 1, Errors: 1\n', '')])
expect("Check's own line, and a failure", [crash], 1, '3 passed, 2 failed, 0 skipped',
       has=('FAILED check',))

after = build_dir(root, 'after', 'none')
write_log(after, [('late-crash', 'FAIL', 'x: 5 passed, 0 failed, 0 skipped\n', ''),
                  ('timeout', 'TIMEOUT', '', '')])
expect('meson\'s failure counts even after a clean line', [after], 1,
       '5 passed, 2 failed, 0 skipped')

pyfail = build_dir(root, 'pyfail', 'none')
write_log(pyfail, [('pytest', 'FAIL', '=== 1 failed, 2 passed, 1 skipped in 1.00s ===\n'
                    'SKIPPED [1] t.py:3: host lacks root (AIOBOX_HOST_LACKS): uid 1000\n', ''),
                   ('unittest', 'FAIL', '', 'Ran 4 tests in 0.2s\n\nFAILED (failures=1, skipped=1)\n'
                    "test_b (m.T) ... skipped 'host lacks root (AIOBOX_HOST_LACKS): no'\n")])
expect('pytest and unittest lines, skips declared', [pyfail], 1, '4 passed, 2 failed, 2 skipped',
       lacks='root')

HOST_SKIP = ('SKIP i386_entry: host lacks ia32 (AIOBOX_HOST_LACKS): int 0x80 fails\n'
             'sandbox: 36 passed, 0 failed, 1 skipped\n')
hostskip = build_dir(root, 'hostskip', 'none')
write_log(hostskip, [('sandbox', 'OK', HOST_SKIP, '')])
expect('a declared host lack is a skip, listed', [hostskip], 0, '36 passed, 0 failed, 1 skipped',
       lacks='ia32', has=('skipped sandbox / i386_entry: host lacks ia32',))
expect('an undeclared host lack is a failure', [hostskip], 1, '36 passed, 1 failed, 0 skipped',
       lacks='', has=('FAILED sandbox / i386_entry',))
expect('another declared layer does not explain it', [hostskip], 1,
       '36 passed, 1 failed, 0 skipped', lacks='landlock')
expect('an unknown word in AIOBOX_HOST_LACKS stops it', [hostskip], 2,
       "summarize: AIOBOX_HOST_LACKS: unknown layer 'ia-32' "
       "(landlock, landlock-tcp, landlock-scope, seccomp, ia32, root, userns)", lacks='ia-32')

SAN_SKIP = ('SKIP as_stops_memory_bombs: sanitizer build: RLIMIT_AS is not applied\n'
            'sandbox: 10 passed, 0 failed, 1 skipped\n')
sanskip = build_dir(root, 'sanskip', 'none')
write_log(sanskip, [('sandbox', 'OK', SAN_SKIP, '')])
write_log(asan, [('sandbox', 'OK', SAN_SKIP, '')])
expect('a sanitizer skip in a sanitizer build is a skip', [asan], 0,
       '10 passed, 0 failed, 1 skipped')
expect('a sanitizer skip elsewhere is a failure', [sanskip], 1, '10 passed, 1 failed, 0 skipped')

other = build_dir(root, 'other', 'none')
write_log(other, [
    ('meson-skip', 'SKIP', 'corpus: 0 passed, 0 failed\n', ''),
    ('old-skip', 'OK', 'skip x: running as root\nold: 2 passed, 0 failed\n', ''),
    ('hidden', 'OK', 'h: 2 passed, 0 failed, 3 skipped\n', ''),
])
expect('skips without an accepted reason are failures', [other], 1,
       '4 passed, 5 failed, 0 skipped',
       has=('FAILED meson-skip: 1 skip(s) without a SKIP line', 'FAILED old-skip / x',
            'FAILED hidden: 3 skip(s) without a SKIP line'))

fuzz = os.path.join(root, 'fuzz.log')
with open(fuzz, 'w') as f:
    f.write('#123 DONE\nfuzz: 1 passed, 0 failed\n')
expect('a plain log', [plain, fuzz], 0, '16 passed, 0 failed, 0 skipped')
expect('a missing log is a failure', [os.path.join(root, 'nope.json')], 1,
       '0 passed, 1 failed, 0 skipped')
expect('no log at all is a failure', [], 1, '0 passed, 1 failed, 0 skipped')

subprocess.run(['rm', '-rf', root], check=True)
print(f"test-summarize: {results['passed']} passed, {results['failed']} failed, 0 skipped")
sys.exit(1 if results['failed'] else 0)
