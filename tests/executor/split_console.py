"""Splits a REPL transcript into the statements CPython's asyncio REPL
would run, in the form code.InteractiveConsole passes them to runsource()
(lines joined by newlines; a block keeps the blank line that ended it).
Reads the transcript on stdin, writes the statements NUL-terminated.
Run it with the reference interpreter, /usr/bin/python3."""
import ast
import code
import sys


class Splitter(code.InteractiveConsole):

    def __init__(self):
        super().__init__(filename='<console>')
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.statements = []

    def runsource(self, source, filename='<console>', symbol='single'):
        try:
            compiled = self.compile(source, filename, symbol)
        except (OverflowError, SyntaxError, ValueError):
            compiled = False
        if compiled is None:
            return True
        self.statements.append(source)
        return False


def main():
    splitter = Splitter()
    for line in sys.stdin.read().splitlines():
        splitter.push(line)
    out = sys.stdout.buffer
    for statement in splitter.statements:
        out.write(statement.encode('utf-8', 'surrogateescape') + b'\0')


main()
