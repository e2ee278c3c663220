"""The hostile corpus through the real aiobox under `strict`.

Each case in abuse.jsonl is a whole program; it is sent to a fresh
`aiobox -q --policy strict` session as one statement,
`exec(compile(<code>, '<case>', 'exec'))` (or as is, for top-level await),
followed by `print('alive')`. The case's `check` says what must happen:
  stdout / stderr   a regex that must match (multiline)
  stdout_lacks      text that must not appear on stdout
  stdout_max        stdout must stay below this many bytes
  restart           the supervisor must report a restart on stderr
  exit              the session ends cleanly with this status (no 'alive')
  timeout           the case needs the statement timeout (run with --timeout 3;
                    every other case gets 30 s, so that a slow machine's
                    page faults cannot turn a MemoryError into a timeout)
  needs_as          needs RLIMIT_AS, which sanitizer builds do not apply
Every other case must leave the session answering `print('alive')`.

Under another shipped policy (--policy net|trusted) a case's `under`
entry for that policy says what differs:
  a check           replaces the case's check (net reaches the network)
  {"admitted": why} the policy lets the code do it by design (trusted runs
                    processes, writes files); only containment is checked:
                    the supervisor ends the session with status 0 and the
                    session answered 'alive' or said why not (a restart)
  {"not_run": why}  the policy sets no limit that would end it (trusted
                    has no memory or process limit): not run, and counted
                    as neither passed nor skipped
Otherwise the case's check holds as it is, with 'policy strict' in it
read as the policy's name. Cases run two at a time (each its own aiobox).

Before the cases, the session must answer `print('alive')` at all: when it
does not, that is one failure, unless the executor refused to start for
want of a layer this host is declared to lack (AIOBOX_HOST_LACKS,
tests/README.md); then every case is a skip.

Usage: run_corpus.py AIOBOX CORPUS [--sanitized] [--only ID,...] [--policy P]
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import hostlacks  # noqa: E402

NAME = 'sandbox-corpus'
WORKERS = 2
STATEMENT_TIMEOUT = '3'
UNTIMED_STATEMENT_TIMEOUT = '30'
CASE_LIMIT = 120            # seconds: a failure guard, never a wait


POLICY = 'strict'
# After a prompt or at a line start: capped output may end without '\n'.
ALIVE = re.compile(r'(?:^|>>> )alive$', re.M)


def run_session(aiobox, stdin, timeout=CASE_LIMIT, statement_timeout=STATEMENT_TIMEOUT):
    # The marker shows the executor does not inherit our environment.
    env = dict(os.environ, AIOBOX_CORPUS_MARKER='leaked')
    t0 = time.monotonic()
    # Output to a pipe has no cap unless one is asked for: ask for the
    # policy's 1 MiB, which the flood cases check.
    # No spare executor: a case restarts at most once, and a spare per
    # session would double the executors the corpus starts.
    p = subprocess.run([aiobox, '-q', '--no-standby', '--policy', POLICY,
                        '--timeout', statement_timeout,
                        '--output-cap', '1048576'],
                       input=stdin.encode(), capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace'), \
        time.monotonic() - t0


def statement(case):
    if case['check'].get('raw'):
        return case['code']
    return f"exec(compile({case['code']!r}, '<case>', 'exec'))"


def check_under(case, policy):
    """The case's check under policy, or None when it is not run there."""
    chk = case['check']
    if policy == 'strict' or os.sep in policy:
        return chk      # strict, or a file (a variant of strict, for trying things out)
    over = case.get('under', {}).get(policy)
    if over is None:
        return {k: v.replace('policy strict', f'policy {policy}') if isinstance(v, str) else v
                for k, v in chk.items()}
    if 'not_run' in over:
        return None
    if 'admitted' in over:
        return {'admitted': over['admitted'], 'timeout': chk.get('timeout', False)}
    return over


def judge(case, chk, rc, out, err, sanitized):
    problems = []
    if sanitized and chk.get('stderr') == 'SIGSEGV':
        # ASan turns the executor's segfault into a report and an exit:
        # that report is the crash this case expects, not a finding.
        err = re.sub(r'(?s)(AddressSanitizer:DEADLYSIGNAL\n)?=+\n==\d+==ERROR: AddressSanitizer: '
                     r'SEGV.*?==\d+==ABORTING\n', 'SIGSEGV (sanitizer report removed)\n', err)
    # Prompts carry no newline: drop them to read lines as printed.
    text = out.replace('>>> ', '').replace('... ', '')
    if 'stdout' in chk and not re.search(chk['stdout'], text, re.M):
        problems.append(f"stdout does not match {chk['stdout']!r}")
    if 'stderr' in chk and not re.search(chk['stderr'], err, re.M):
        problems.append(f"stderr does not match {chk['stderr']!r}")
    if 'stdout_lacks' in chk and chk['stdout_lacks'] in text:
        problems.append(f"stdout shows {chk['stdout_lacks']!r}")
    if 'stdout_max' in chk and len(out) >= chk['stdout_max']:
        problems.append(f"stdout has {len(out)} bytes, cap {chk['stdout_max']}")
    if chk.get('restart') and not re.search(r'restart', err):
        problems.append('no restart reported')
    if 'AIOBOX_CORPUS_MARKER' in text:
        problems.append('the executor saw the supervisor\'s environment')
    if 'admitted' in chk:
        if not ALIVE.search(out) and not re.search(r'restart', err):
            problems.append("the session neither answered print('alive') nor said why")
        if rc != 0:
            problems.append(f'exit status {rc} at EOF, want 0')
    elif 'exit' in chk:
        if rc != chk['exit']:
            problems.append(f"exit status {rc}, want {chk['exit']}")
        if ALIVE.search(out):
            problems.append('the session went on after exit')
    else:
        if not ALIVE.search(out):
            problems.append("the session did not answer print('alive')")
        if rc != 0:
            problems.append(f'exit status {rc} at EOF, want 0')
    if re.search(r'AddressSanitizer|runtime error:|LeakSanitizer', err):
        problems.append('sanitizer report')
    return problems


def main():
    aiobox, corpus = sys.argv[1], sys.argv[2]
    sanitized = '--sanitized' in sys.argv
    global POLICY, NAME
    if '--policy' in sys.argv:
        POLICY = sys.argv[sys.argv.index('--policy') + 1]
        if POLICY != 'strict':
            NAME = f'sandbox-corpus-{POLICY}'
    only = None
    if '--only' in sys.argv:
        only = set(sys.argv[sys.argv.index('--only') + 1].split(','))
    with open(corpus) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    try:
        rc, out, err, _ = run_session(aiobox, "print('alive')\n", timeout=60)
        # A nonzero status here (a leak report, say) is judged per case.
        ready = ALIVE.search(out)
    except (OSError, subprocess.TimeoutExpired) as e:
        ready, err = False, str(e)
    if not ready:
        layer = hostlacks.layer_of(err)
        if layer and hostlacks.declared(layer):
            for case in cases:
                print(hostlacks.skip_line(case['id'], layer, err.strip().splitlines()[-1]))
            print(f'{NAME}: 0 passed, 0 failed, {len(cases)} skipped')
            sys.exit(77)
        why = hostlacks.undeclared(layer) if layer else 'the session did not start'
        print(f"FAIL {NAME}: aiobox cannot run print('alive') under {POLICY}: {why}; "
              f"its stderr:\n{err[-1500:]}")
        print(f'{NAME}: 0 passed, 1 failed, 0 skipped')
        sys.exit(1)
    passed = failed = skipped = 0
    todo = []
    for case in cases:
        if only and case['id'] not in only:
            continue
        chk = check_under(case, POLICY)
        if chk is None:
            print(f"n/a  {case['id']}: not run under {POLICY}: "
                  f"{case['under'][POLICY]['not_run']}")
            continue
        if chk.get('needs_as') and sanitized:
            print(f"SKIP {case['id']}: sanitizer build: needs RLIMIT_AS, which is not applied "
                  f"(ASan reserves terabytes of address space)")
            skipped += 1
            continue
        todo.append((case, chk))

    def run_case(item):
        case, chk = item
        stdin = (case['code'] if chk.get('raw') or case['check'].get('raw')
                 else statement(case)) + "\nprint('alive')\n"
        try:
            limit = STATEMENT_TIMEOUT if chk.get('timeout') else UNTIMED_STATEMENT_TIMEOUT
            rc, out, err, secs = run_session(aiobox, stdin, statement_timeout=limit)
            return judge(case, chk, rc, out, err, sanitized), secs, out, err
        except subprocess.TimeoutExpired:
            return [f'no answer within {CASE_LIMIT} s'], CASE_LIMIT, '', ''

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for (case, chk), (problems, secs, out, err) in zip(todo, pool.map(run_case, todo)):
            if problems:
                failed += 1
                print(f"FAIL {case['id']} ({secs:.1f} s): {'; '.join(problems)}")
                print(f"     expect: {chk.get('admitted') or case['expect']}")
                print(f"     stdout: {out[:400]!r}")
                print(f"     stderr: {err[-800:]!r}")
            else:
                passed += 1
                print(f"ok   {case['id']} ({secs:.1f} s)")
    print(f'{NAME}: {passed} passed, {failed} failed, {skipped} skipped')
    if failed:
        sys.exit(1)
    sys.exit(77 if passed == 0 and skipped else 0)


main()
