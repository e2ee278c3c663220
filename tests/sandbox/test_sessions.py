"""Sessions side by side (issue 14, items 7 and 10): under every shipped
policy, one session's executor cannot signal another's, its spare, or
any supervisor, even with os.kill(-1, 9) or a pid it was told. Under
trusted nothing but the executor's own id (one per executor when aiobox
runs as root) and its namespaces stop it; strict and net stop it in
seccomp and landlock besides.

Two real `aiobox -q --policy P` on pipes (tests/supervisor/livesession.py).
Usage: test_sessions.py AIOBOX
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'supervisor'))
import hostlacks  # noqa: E402
from livesession import Live  # noqa: E402

AIOBOX = sys.argv[1]
SPARE = re.compile(rb'^spare: pid (\d+)', re.M)
results = {'passed': 0, 'failed': 0, 'skipped': 0}


def check(name, ok, detail=''):
    if ok:
        results['passed'] += 1
        print(f'ok   {name}')
    else:
        results['failed'] += 1
        print(f'FAIL {name}\n{detail}')


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def sessions_apart(policy):
    with Live('-q', '--policy', policy, aiobox=AIOBOX) as a, \
            Live('-q', '--policy', policy, aiobox=AIOBOX) as b:
        a.prompt()
        b.prompt()
        a_exec, b_exec = a.executor_pid(), b.executor_pid()
        a.run("print('up')")
        b.run("print('up')")
        spares = [int(m.group(1)) for s in (a, b) for m in [SPARE.search(s.status())] if m]
        told, err = b.run('exec(%r)' % (f"import os\ntry:\n    os.kill({a_exec}, 9)\n"
                                         f"except OSError as e:\n    print('refused', e.errno)\n"))
        out, err2 = b.run('exec(%r)' % ("import os\ntry:\n    os.kill(-1, 9)\n    print('sent')\n"
                                        "except OSError as e:\n    print('refused', e.errno)\n"))
        a_out, _ = a.run("print('alive')")
        b_out, _ = b.run("print('alive')")
        ok = (b'refused' in told and b"alive" in a_out and b'alive' in b_out and
              a.executor_pid() == a_exec and b.executor_pid() == b_exec and
              a.proc.poll() is None and b.proc.poll() is None and all(alive(p) for p in spares))
        check(f'{policy}: os.kill(pid told, 9) and os.kill(-1, 9) leave the other session, '
              f'the spares and both supervisors alive', ok,
              f'  told: {told!r} {err!r}\n  kill(-1): {out!r} {err2!r}\n  a: {a_out!r}\n'
              f'  b: {b_out!r}\n  spares {spares}: {[alive(p) for p in spares]}')


def forked_apart(nomount):
    """The server's executors come from its fork server: each child makes
    its own namespaces and (as root) gets its own uid; in its own pid
    namespace it is pid 1. Read in /proc, so under strict without its mount
    namespace (whose /proc is that of its own pid namespace)."""
    code = ('import os, socket; print(os.getpid(), os.getuid(), socket.gethostname(), '
            '*(os.readlink("/proc/self/ns/" + n) for n in ("user", "ipc", "uts", "net", "pid")))')
    reqs = ''.join(json.dumps({'id': i, 'op': 'run', 'code': code, 'session': s}) + '\n'
                   for i, s in ((1, 'a'), (2, 'b')))
    p = subprocess.run([AIOBOX, '--json', '--policy', nomount], input=reqs.encode(),
                       capture_output=True, timeout=120)
    done = [json.loads(l) for l in p.stdout.decode().splitlines() if l.startswith('{')]
    seen = [d.get('stdout', '').split() for d in done if d.get('event') == 'done']
    ok = p.returncode == 0 and len(seen) == 2 and all(len(v) == 8 for v in seen)
    if ok:
        (pa, ua, ha, *nsa), (pb, ub, hb, *nsb) = seen
        host = [os.readlink('/proc/self/ns/' + n) for n in ('user', 'ipc', 'uts', 'net', 'pid')]
        ok = (pa == pb == '1' and ha == hb == 'aiobox' and all(x != y for x, y in zip(nsa, nsb)) and
              all(x != h for x, h in zip(nsa + nsb, host + host)) and
              (ua != ub if os.geteuid() == 0 else ua == ub))
    check('fork-server children: each its own user, ipc, uts, net and pid namespaces (pid 1)'
          + (' and uid' if os.geteuid() == 0 else ''), ok,
          f'  rc={p.returncode} seen={seen}\n  stdout: {p.stdout[-800:]!r}\n  stderr: {p.stderr[-800:]!r}')


def tmp_apart(policy):
    """Each executor's /tmp is its own tmpfs: what one session writes there
    the other, running at the same time, does not see; after a restart the
    session's next executor starts with an empty /tmp again."""
    listing = "import os; print(sorted(os.listdir('/tmp')))"
    with Live('-q', '--policy', policy, aiobox=AIOBOX) as a, \
            Live('-q', '--policy', policy, aiobox=AIOBOX) as b:
        a.prompt()
        b.prompt()
        wrote, werr = a.run("open('/tmp/secret-a', 'w').write('a'); print('wrote')")
        a_sees, _ = a.run(listing)
        b_sees, _ = b.run(listing)
        b.run("open('/tmp/secret-b', 'w').write('b')")
        a_again, _ = a.run(listing)
        a_pid = a.executor_pid()
        a.run(':restart')
        a_new = a.executor_pid()
        a_after, aerr = a.run(listing)
        host = os.path.exists('/tmp/secret-a') or os.path.exists('/tmp/secret-b')
        ok = (b'wrote' in wrote and b"['secret-a']" in a_sees and b'[]' in b_sees and
              b"['secret-a']" in a_again and a_new != a_pid and b'[]' in a_after and not host)
        check(f'{policy}: /tmp is each executor\'s own (not the other session\'s, not the '
              f'host\'s, empty again after :restart)', ok,
              f'  wrote: {wrote!r} {werr!r}\n  a sees {a_sees!r}, b sees {b_sees!r}, a again '
              f'{a_again!r}\n  after restart ({a_pid} -> {a_new}): {a_after!r} {aerr!r}\n'
              f'  on the host: {host}')


def forked_tmp_apart():
    """Fork-server children (strict): each makes its own mount namespace,
    so each session's /tmp is its own. Requests go one at a time, the next
    once the previous is done."""
    srv = subprocess.Popen([AIOBOX, '--json'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    seen = {}
    try:
        for i, sess, code in ((1, 'a', "open('/tmp/mine', 'w').write('a'); import os; print(os.listdir('/tmp'))"),
                              (2, 'b', "import os; print(os.listdir('/tmp'))"),
                              (3, 'a', "import os; print(os.listdir('/tmp'))")):
            srv.stdin.write((json.dumps({'id': i, 'op': 'run', 'code': code, 'session': sess}) +
                             '\n').encode())
            srv.stdin.flush()
            while True:
                line = srv.stdout.readline()
                if not line:
                    break
                d = json.loads(line)
                if d.get('id') == i and d.get('event') == 'done':
                    seen[i] = d.get('stdout', '').strip()
                    break
    finally:
        srv.stdin.close()
        rc = srv.wait(timeout=120)
        err = srv.stderr.read()
    ok = rc == 0 and seen == {1: "['mine']", 2: '[]', 3: "['mine']"}
    check('fork-server children: each session its own /tmp', ok,
          f'  rc={rc} seen={seen}\n  stderr: {err[-800:]!r}')


for pol in ('strict', 'net', 'trusted'):
    sessions_apart(pol)
for pol in ('strict', 'net'):
    tmp_apart(pol)
tmpdir = tempfile.mkdtemp(prefix='aiobox-sessions-')
os.chmod(tmpdir, 0o755)
nomount = os.path.join(tmpdir, 'strict-nomount')
with open(nomount, 'w') as f:
    f.write('aiobox-policy 1\ninclude %s\nname strict-nomount\nnamespaces user ipc uts net pid\n'
            % os.path.join(os.path.dirname(os.path.realpath(AIOBOX)), 'policies', 'strict'))
forked_apart(nomount)
forked_tmp_apart()
subprocess.run(['rm', '-rf', tmpdir])
print(f"sandbox-sessions: {results['passed']} passed, {results['failed']} failed, "
      f"{results['skipped']} skipped")
sys.exit(1 if results['failed'] else 0)
