/* Incomplete-input detector: answers, without Python, what
 * codeop.compile_command(src, '<console>', 'single') of CPython 3.11 says
 * about the REPL buffer, so the supervisor knows whether to show "... ". */
#ifndef AIOBOX_PYPARSE_H
#define AIOBOX_PYPARSE_H

#include <stddef.h>

enum pyparse_verdict {
    PYPARSE_COMPLETE,       /* compile_command returns a code object */
    PYPARSE_INCOMPLETE,     /* it returns None: more lines are needed */
    PYPARSE_ERROR,          /* it raises (SyntaxError, ValueError, ...) */
};

/* src[0..len) is the REPL buffer: the lines typed so far joined with "\n"
 * (no trailing newline unless the last line typed was empty), exactly what
 * code.InteractiveConsole.push passes to compile_command. Valid UTF-8
 * (the caller sanitises). Never crashes, bounded stack and time (linear-ish),
 * whatever the input (10 MB lines, 100k nested brackets, NUL bytes). */
enum pyparse_verdict pyparse_verdict(const char *src, size_t len);

/* Flags of pyparse_verdict_flags. */
enum {
    /* ast.PyCF_ALLOW_TOP_LEVEL_AWAIT in the compile flags, as the console
     * of python -m asyncio has it: await, async for, async with and async
     * comprehensions are then allowed at the top level, so a block such
     * as "for i in x:\n    await f(i)" is incomplete, not an error. */
    PYPARSE_TOP_LEVEL_AWAIT = 1,
};

/* pyparse_verdict with compile flags (0: the same as pyparse_verdict). */
enum pyparse_verdict pyparse_verdict_flags(const char *src, size_t len, unsigned flags);

#endif
