"""Reference side of the pyparse differential test: CPython's own codeop,
run by /usr/bin/python3 while the test runs.

Reads jobs on stdin, one a line, and answers each on stdout:
  J <id> <start> <first> <end> <path>
      push lines first..end-1 of the file through the REPL loop of
      code.InteractiveConsole.push, the buffer holding lines start..first-1
      to begin with (start == first: empty); answer "R <id> <verdicts>",
      one letter a line: C complete, I incomplete, E error.
  U <id> <path>
      answer "U <id> 1" when the file is not valid UTF-8, else "U <id> 0".
"""

import ast
import codeop
import sys
import warnings

# --top-level-await: the asyncio REPL's compiler (code.InteractiveConsole
# with ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, as asyncio/__main__.py sets it up).
FLAGS = codeop.PyCF_DONT_IMPLY_DEDENT | codeop.PyCF_ALLOW_INCOMPLETE_INPUT
if '--top-level-await' in sys.argv[1:]:
    FLAGS |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def compile_with_flags(source, filename, symbol):
    return compile(source, filename, symbol, FLAGS)


def verdict(source):
    try:
        code = codeop._maybe_compile(compile_with_flags, source, '<console>', 'single')
    except Exception:   # SyntaxError, ValueError, OverflowError, MemoryError...
        return 'E'
    return 'C' if code is not None else 'I'


def file_lines(path, cache={}):
    if path not in cache:
        cache.clear()
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
        lines = text.split('\n')
        if lines and lines[-1] == '':
            lines.pop()
        cache[path] = lines
    return cache[path]


def main():
    warnings.simplefilter('ignore')
    out = sys.stdout
    for request in sys.stdin:
        request = request.rstrip('\n')
        if request.startswith('J '):
            _, job, start, first, end, path = request.split(' ', 5)
            start, first, end = int(start), int(first), int(end)
            lines = file_lines(path)
            buffer = lines[start:first]
            answer = []
            for k in range(first, end):
                buffer.append(lines[k])
                v = verdict('\n'.join(buffer))
                if v != 'I':
                    buffer = []
                answer.append(v)
            out.write('R %s %s\n' % (job, ''.join(answer)))
        elif request.startswith('U '):
            _, job, path = request.split(' ', 2)
            try:
                with open(path, 'rb') as f:
                    f.read().decode('utf-8')
                bad = 0
            except (OSError, UnicodeDecodeError):
                bad = 1
            out.write('U %s %d\n' % (job, bad))
        out.flush()


if __name__ == '__main__':
    main()
