"""Reference side of the pyparse differential test: CPython's own codeop,
as code.InteractiveConsole runs it (one codeop.CommandCompiler per file,
so __future__ imports stay in force for the rest of the file, as in the
REPL), on every line of a file pushed through the console's push loop.

As a worker of tests/pyparse/difftest.c, it reads requests on stdin, one a
line, and answers each on stdout:
  V
      answer "V <sys.version on one line>".
  F <id> <await> <path>
      answer "R <id> <verdicts>": the verdicts of the file's lines, one
      letter a line (C complete, I incomplete, E error), with plain codeop
      flags (await 0) or with ast.PyCF_ALLOW_TOP_LEVEL_AWAIT as the
      asyncio REPL compiles (await 1); "R <id> U" when the file is not
      valid UTF-8.

make_reference.py imports file_verdicts to build the stored reference.
"""

import ast
import codeop
import sys
import warnings


def file_lines(path):
    """The file's lines as the push loop gets them, or None if it is not
    UTF-8."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    return lines


def push_loop(lines, top_level_await):
    """One letter a line, as code.InteractiveConsole.push would decide."""
    compiler = codeop.CommandCompiler()
    if top_level_await:
        compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    buffer = []
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for line in lines:
            buffer.append(line)
            try:
                code = compiler('\n'.join(buffer), '<console>', 'single')
                verdict = 'C' if code is not None else 'I'
            except Exception:   # SyntaxError, ValueError, OverflowError, MemoryError...
                verdict = 'E'
            if verdict != 'I':
                buffer = []
            out.append(verdict)
    return ''.join(out)


def file_verdicts(path, top_level_await):
    """The verdict string of a file, or 'U'."""
    lines = file_lines(path)
    if lines is None:
        return 'U'
    return push_loop(lines, top_level_await)


def main():
    out = sys.stdout
    for request in sys.stdin:
        request = request.rstrip('\n')
        if request == 'V':
            out.write('V %s\n' % sys.version.replace('\n', ' '))
        elif request.startswith('F '):
            _, job, tla, path = request.split(' ', 3)
            out.write('R %s %s\n' % (job, file_verdicts(path, tla == '1')))
        out.flush()


if __name__ == '__main__':
    main()
