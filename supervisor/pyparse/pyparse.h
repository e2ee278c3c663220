/* Incomplete-input detector: answers, without Python, what
 * codeop.compile_command(src, '<console>', 'single') of CPython 3.11 says
 * about the REPL buffer, so the supervisor knows whether to show "... ". */
#ifndef AIOBOX_PYPARSE_H
#define AIOBOX_PYPARSE_H

#include <stdatomic.h>
#include <stddef.h>

enum pyparse_verdict {
    PYPARSE_COMPLETE,       /* compile_command returns a code object */
    PYPARSE_INCOMPLETE,     /* it returns None: more lines are needed */
    PYPARSE_ERROR,          /* it raises (SyntaxError, ValueError, ...) */
    /* Only from the pyparse_buf functions: */
    PYPARSE_NOTHING,        /* only blank lines and comments: nothing to run
                             * (codeop compiles "pass" for it) */
    PYPARSE_PENDING,        /* pyparse_buf_quick: not cheap to know, judge it */
    PYPARSE_CANCELLED,      /* pyparse_buf_judge: *cancel was set */
};

/* src[0..len) is the REPL buffer: the lines typed so far joined with "\n"
 * (no trailing newline unless the last line typed was empty), exactly what
 * code.InteractiveConsole.push passes to compile_command. Valid UTF-8
 * (the caller sanitises). Never crashes, bounded stack and time (linear-ish),
 * whatever the input (10 MB lines, 100k nested brackets, NUL bytes). */
enum pyparse_verdict pyparse_verdict(const char *src, size_t len);

/* Flags of pyparse_verdict_flags and pyparse_buf_new. */
enum {
    /* ast.PyCF_ALLOW_TOP_LEVEL_AWAIT in the compile flags, as the console
     * of python -m asyncio has it: await, async for, async with and async
     * comprehensions are then allowed at the top level, so a block such
     * as "for i in x:\n    await f(i)" is incomplete, not an error. */
    PYPARSE_TOP_LEVEL_AWAIT = 1,
    /* pyparse_buf only: every verdict exact, however long the statement
     * (the fast path and the work budget below are off). Quadratic in a
     * statement's lines; for tests and for comparing with codeop. */
    PYPARSE_BUF_EXACT = 2,
};

/* pyparse_verdict with compile flags (0: the same as pyparse_verdict).
 * One-shot: __future__ imports in src count for src only. */
enum pyparse_verdict pyparse_verdict_flags(const char *src, size_t len, unsigned flags);

/* --- The push loop, incrementally ---------------------------------------
 *
 * One REPL buffer, as code.InteractiveConsole keeps it: lines are pushed
 * one by one and, after each, the verdict says whether the statement is
 * complete. pyparse_verdict on the whole buffer after every line costs
 * O(N^2) for a statement of N lines; here each push tokenizes only the new
 * text, and the verdict is:
 *
 *  - exact (what codeop says) while the parsing done for the statement so
 *    far stays within PYPARSE_EXACT_BUDGET: a statement is judged exactly
 *    after every line up to several hundred lines (500 lines of a list
 *    literal, 900 of a function body, of 10 to 15 tokens each), and a
 *    single line of up to about 400,000 tokens;
 *  - beyond that, exact whenever it can be anything but "incomplete": the
 *    buffer is parsed in full when its last line closed the brackets,
 *    strings and continuations the statement had open and, in a compound
 *    statement (if/for/def/@decorator...), when a line without code (blank
 *    or comment) may have ended it;
 *  - and otherwise, while the statement is open (inside a bracket, a
 *    triple-quoted string, a backslash continuation, or a compound
 *    statement whose last line holds code), "incomplete" from the tokens
 *    alone, as codeop says unless the text so far already holds an error
 *    (a syntax error, or a tree too deep for the compiler). Such an error
 *    stays an error whatever follows (the tokens before it do not change),
 *    and full parses at geometrically spaced sizes (the buffer doubled
 *    since the last one) and, at lines that start a clause in the first
 *    column, whenever the work stays within PYPARSE_BUDGET_FACTOR full
 *    parses of the statement, find it: an error in a long open statement
 *    is reported by the time the statement is at most twice as long as
 *    where it is.
 *
 * So the parsing work over a statement is O(PYPARSE_EXACT_BUDGET + its
 * size), apart from full parses where the verdict may change; those need
 * a line without code after code in a compound statement that then stays
 * incomplete (a blank line in a try: body before its except:), so each one
 * is preceded by new code.
 *
 * Threads: a pyparse_buf is used by one thread at a time; pyparse_buf_judge
 * may run on a worker thread while the loop leaves b alone until it
 * returns. Nothing is shared between buffers. The parser recurses up to
 * 6000 rule levels (CPython's own limit), which takes up to 0.7 MiB of
 * stack in an optimised build and 2 MiB with sanitizers: give a worker
 * thread a stack of 4 MiB.
 *
 * Statements that compile are remembered as codeop.CommandCompiler does:
 * __future__ imports of barry_as_FLUFL ('<>' instead of '!=') and
 * annotations (no yield, await or := in annotations) stay in force for the
 * later statements of the same pyparse_buf, across resets. */
struct pyparse_buf;

/* Costs and work are counted in rule calls of the parser: about 12 ns
 * each on this machine, about 20 for a token parsed afresh, 4 for one a
 * memo of an earlier parse of the same statement covers. */
/* Work that pyparse_buf_judge may do for every statement before the
 * verdicts of open statements come from the fast path: about 0.1 s, as
 * much as one parse of 400,000 tokens, or a parse after each of about 600
 * lines of 10 tokens (4 calls a token for the earlier lines, 20 for the
 * new one). */
#define PYPARSE_EXACT_BUDGET ((size_t)8 << 20)
/* Beyond it, a full parse at a line that starts in the first column of a
 * compound statement (else:, except:..., or what would end it with an
 * error) while the work done stays under this many full parses of the
 * statement: a few clauses of a long statement each judged at once. */
#define PYPARSE_BUDGET_FACTOR 4
/* A cost (pyparse_buf_quick) the loop may pay inline: about 2 ms, a
 * statement of about 6,000 tokens parsed afresh. pyparse_buf_quick itself
 * parses when the cost is at most this, so PENDING always means more. */
#define PYPARSE_INLINE_COST ((size_t)1 << 17)

/* *out gets an empty buffer; flags: PYPARSE_TOP_LEVEL_AWAIT,
 * PYPARSE_BUF_EXACT. 0 or -ENOMEM. */
int pyparse_buf_new(struct pyparse_buf **out, unsigned flags);
void pyparse_buf_free(struct pyparse_buf *b);
/* Empties it (after a verdict, or Ctrl-C); keeps the __future__ features
 * remembered so far. */
void pyparse_buf_reset(struct pyparse_buf *b);
/* Appends one line as code.InteractiveConsole.push does (lines joined
 * with "\n"; line holds no "\n" of its own, else it counts as several
 * lines). O(len) amortised: it tokenizes the new text only (and the last
 * line again). 0, -ENOMEM, or -EFBIG past 2 GiB (b is then unchanged). */
int pyparse_buf_push(struct pyparse_buf *b, const char *line, size_t len);
/* The buffer's text (NUL-terminated) and its length. */
const char *pyparse_buf_text(const struct pyparse_buf *b, size_t *len);
/* Lines pushed since the last reset. */
size_t pyparse_buf_lines(const struct pyparse_buf *b);
/* The verdict when it is cheap to know: no code yet (NOTHING), the fast
 * path (INCOMPLETE), a verdict already known, or a parse of cost at most
 * PYPARSE_INLINE_COST, done here. Otherwise PYPARSE_PENDING, with *cost
 * set to an estimate of the judge's work in rule calls (more than
 * PYPARSE_INLINE_COST); cost may be NULL. */
enum pyparse_verdict pyparse_buf_quick(struct pyparse_buf *b, size_t *cost);
/* The verdict (as described above), parsing as needed. Touches only b, so
 * it may run on a worker thread while the loop goes on; returns
 * PYPARSE_CANCELLED soon (well under 10 ms) after *cancel becomes non-zero
 * (cancel may be NULL); b is then as before the call. Out of memory, it
 * says PYPARSE_ERROR: Python, given the statement, decides. */
enum pyparse_verdict pyparse_buf_judge(struct pyparse_buf *b, const atomic_int *cancel);

#endif
