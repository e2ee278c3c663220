#!/usr/bin/python3
"""Regenerates the stored reference verdicts of the pyparse differential
test: codeop's verdict on every line of every .py file under a directory
(the standard library by default), pushed through the REPL's push loop,
with plain flags and with top-level await, by the interpreter running
this script.

Usage: /usr/bin/python3 tests/pyparse/make_reference.py \
           [--root /usr/lib/python3.11] [--jobs 2] \
           [--out tests/pyparse/reference.txt.gz]

The output (gzip, text) starts with
    pyparse-reference 1
    python <sys.version on one line>
    root <the directory walked>
then a line per file content:
    <sha256 of its bytes> <plain verdicts> <await verdicts> <path>
with one letter a line (C, I, E), - for a file without lines, or U for a
file that is not UTF-8.
Files are found as difftest.c finds them: sorted names, links to files
followed, links to directories not.

It takes about a quarter of an hour on two cores (codeop on a growing
buffer is quadratic in a statement's lines: pydoc_data/topics.py alone
takes two minutes).
"""

import argparse
import gzip
import hashlib
import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codeop_ref  # noqa: E402

def python_files(root):
    out = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            out.extend(python_files(path))
        elif name.endswith('.py') and len(name) > 3 and '\n' not in path and \
                os.path.isfile(path):
            out.append(path)
    return out


def one(task):
    digest, path = task
    return digest, codeop_ref.file_verdicts(path, False), codeop_ref.file_verdicts(path, True), path


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', default='/usr/lib/python3.11')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--out', default=os.path.join(here, 'reference.txt.gz'))
    args = ap.parse_args()
    tasks = {}
    for path in python_files(args.root):
        with open(path, 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        tasks.setdefault(digest, path)
    # the biggest first, so that the workers finish together
    order = sorted(tasks.items(), key=lambda kv: -os.path.getsize(kv[1]))
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(one, order, chunksize=1)
    results.sort(key=lambda r: r[3])
    with gzip.open(args.out + '.tmp', 'wt', encoding='utf-8', compresslevel=9) as out:
        out.write('pyparse-reference 1\n')
        out.write('python %s\n' % sys.version.replace('\n', ' '))
        out.write('root %s\n' % args.root)
        for digest, plain, tla, path in results:
            out.write('%s %s %s %s\n' % (digest, plain or '-', tla or '-',
                                          os.path.relpath(path, args.root)))
    os.replace(args.out + '.tmp', args.out)
    print('%s: %d files' % (args.out, len(results)))


if __name__ == '__main__':
    main()
