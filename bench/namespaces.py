"""Benchmark, not a test: what an executor's namespaces cost at start-up
(issue 14 item 9). Prints figures; asserts nothing.

    /usr/bin/python3 bench/namespaces.py [path/to/aiobox-executor] [--runs N]

Spawns `aiobox-executor --fd N --policy P` directly (as the supervisor
does, an empty environment, a socketpair for the channel) and times spawn
to its first frame, `ready`, under `strict` (user, ipc, uts, net, pid and
mount namespaces: the fork into the pid namespace and the new root
included) and under `strict` with `namespaces none`, runs interleaved.
The target: at most 3 ms more with them.
"""
import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXECUTOR = os.path.join(HERE, '..', 'build', 'aiobox-executor')
POLICIES = os.path.join(HERE, '..', 'build', 'policies')


def spawn_to_ready(executor, policy):
    parent, child = socket.socketpair()
    t0 = time.perf_counter()
    p = subprocess.Popen([executor, '--fd', str(child.fileno()), '--policy', policy],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, pass_fds=(child.fileno(),), env={})
    child.close()
    head = parent.recv(4, socket.MSG_WAITALL)
    t1 = time.perf_counter()
    body = parent.recv(int.from_bytes(head, 'big'), socket.MSG_WAITALL) if len(head) == 4 else b''
    p.kill()
    err = p.communicate()[1]
    parent.close()
    if b'ready' not in body:
        raise SystemExit(f'no ready frame from {policy}: {body[:200]!r} {err[-400:]!r}')
    return (t1 - t0) * 1000, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('executor', nargs='?', default=DEFAULT_EXECUTOR)
    ap.add_argument('--runs', type=int, default=40)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='aiobox-bench-ns-')
    without = os.path.join(tmp, 'strict-no-namespaces')
    with open(without, 'w') as f:
        f.write('aiobox-policy 1\ninclude %s\nname strict-no-namespaces\nnamespaces none\n'
                % os.path.abspath(os.path.join(POLICIES, 'strict')))
    kinds = {'with namespaces (strict)': os.path.join(POLICIES, 'strict'),
             'without (namespaces none)': without}
    times = {k: [] for k in kinds}
    for k, pol in kinds.items():     # warm the page cache
        _, body = spawn_to_ready(a.executor, pol)
        print(f'{k}: ready says {body[body.find(b"strict"):][:160].decode(errors="replace")}')
    for _ in range(a.runs):
        for k, pol in kinds.items():
            times[k].append(spawn_to_ready(a.executor, pol)[0])
    print(f'\nexecutor spawn to ready, {a.runs} runs each, interleaved (ms):')
    med = {}
    for k, t in times.items():
        t.sort()
        med[k] = statistics.median(t)
        print(f'  {k:28s} median {med[k]:7.2f}  p10 {t[len(t) // 10]:7.2f}  '
              f'p90 {t[len(t) * 9 // 10]:7.2f}  min {t[0]:7.2f}')
    w, wo = med.values()
    mw, mwo = (t[0] for t in times.values())
    print(f'  difference of the medians: {w - wo:+.2f} ms, of the minimums: {mw - mwo:+.2f} ms '
          f'(target: at most +3 ms)')
    os.unlink(without)
    os.rmdir(tmp)


main()
