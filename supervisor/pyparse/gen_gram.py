#!/usr/bin/python3
"""Turn CPython 3.11's Grammar/python.gram into the tables that
supervisor/pyparse/pyparse_peg.c interprets.

Usage: /usr/bin/python3 supervisor/pyparse/gen_gram.py \
           /usr/src/python3.11/Grammar/python.gram supervisor/pyparse/pyparse_gram.c

It writes the tables (pyparse_gram.c) and, beside them, the same grammar as
C functions (pyparse_rules.inc, which pyparse_peg.c includes).

Only the first parser pass matters for "incomplete input", so an
alternative made of a single invalid_* rule is dropped (the generated
parser guards exactly those with p->call_invalid_rules); invalid rules
used anywhere else stay, since the first pass runs them too. Actions are
reduced to the few effects that decide success, failure or an error.
"""

import re
import sys

# Operator spellings, in the order of the token enum in pyparse_int.h.
OPERATORS = [
    ('LPAR', '('), ('RPAR', ')'), ('LSQB', '['), ('RSQB', ']'),
    ('COLON', ':'), ('COMMA', ','), ('SEMI', ';'), ('PLUS', '+'),
    ('MINUS', '-'), ('STAR', '*'), ('SLASH', '/'), ('VBAR', '|'),
    ('AMPER', '&'), ('LESS', '<'), ('GREATER', '>'), ('EQUAL', '='),
    ('DOT', '.'), ('PERCENT', '%'), ('LBRACE', '{'), ('RBRACE', '}'),
    ('EQEQUAL', '=='), ('NOTEQUAL', '!='), ('LESSEQUAL', '<='),
    ('GREATEREQUAL', '>='), ('TILDE', '~'), ('CIRCUMFLEX', '^'),
    ('LEFTSHIFT', '<<'), ('RIGHTSHIFT', '>>'), ('DOUBLESTAR', '**'),
    ('PLUSEQUAL', '+='), ('MINEQUAL', '-='), ('STAREQUAL', '*='),
    ('SLASHEQUAL', '/='), ('PERCENTEQUAL', '%='), ('AMPEREQUAL', '&='),
    ('VBAREQUAL', '|='), ('CIRCUMFLEXEQUAL', '^='),
    ('LEFTSHIFTEQUAL', '<<='), ('RIGHTSHIFTEQUAL', '>>='),
    ('DOUBLESTAREQUAL', '**='), ('DOUBLESLASH', '//'),
    ('DOUBLESLASHEQUAL', '//='), ('AT', '@'), ('ATEQUAL', '@='),
    ('RARROW', '->'), ('ELLIPSIS', '...'), ('COLONEQUAL', ':='),
]
OP_BY_TEXT = {text: name for name, text in OPERATORS}
# The token types in the order of enum pyparse_token_type: the first sets
# below are bit sets over these numbers.
TOKEN_ORDER = (['ENDMARKER', 'NAME', 'NUMBER', 'STRING', 'NEWLINE', 'INDENT', 'DEDENT'] +
               [name for name, _ in OPERATORS] +
               ['OP', 'ASYNC', 'AWAIT', 'TYPE_COMMENT', 'ERROR', 'KEYWORD'])
NAMED_TOKENS = {'NAME', 'NUMBER', 'STRING', 'NEWLINE', 'INDENT', 'DEDENT',
                'ENDMARKER', 'ASYNC', 'AWAIT', 'TYPE_COMMENT'}
START_RULES = ['interactive', 'fstring']
# Rules whose matches become tree nodes for the compile-stage checks
# (scopes and loops); everything else is found from the tokens.
NODE_RULES = ['function_def_raw', 'class_def_raw', 'lambdef', 'listcomp',
              'setcomp', 'dictcomp', 'genexp', 'for_stmt', 'while_stmt',
              'block', 'else_block',
              # names bound or declared, for the nonlocal check
              'star_atom', 'single_target', 'del_t_atom', 'param',
              'param_star_annotation', 'lambda_param', 'assignment',
              'assignment_expression', 'pattern_capture_target',
              'dotted_as_name', 'import_from_as_name', 'except_block',
              'except_star_block', 'global_stmt', 'nonlocal_stmt',
              'try_stmt',
              # statically nested blocks (compile.c's CO_MAXBLOCKS)
              'with_stmt', 'with_item', 'finally_block',
              # starred targets and values, keyword arguments
              'star_targets', 'star_targets_tuple_seq', 'star_targets_list_seq',
              'star_expressions', 'arguments',
              # patterns, for the reachability and capture-name checks
              'match_stmt', 'case_block', 'guard', 'as_pattern', 'or_pattern',
              'closed_pattern', 'capture_pattern', 'wildcard_pattern',
              'group_pattern']


# ---------------------------------------------------------------- lexing

TOKEN_RE = re.compile(r'''
    (?P<ws>[ \t]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>&&|[:|()\[\]*+?.&!~=,])
  | (?P<brace>\{)
''', re.VERBOSE)


def lex(text):
    """Yield (kind, value, at_column_0) for the grammar text."""
    pos = 0
    while pos < len(text):
        if text[pos] == '@':
            eol = text.index('\n', pos)
            quote = text.find("'''", pos, eol)
            pos = text.index("'''", quote + 3) + 3 if quote >= 0 else eol
            continue
        at0 = pos == 0 or text[pos - 1] == '\n'
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise SystemExit('grammar: cannot lex at %r' % text[pos:pos + 40])
        kind = m.lastgroup
        if kind == 'brace':
            depth = 0
            i = pos
            while True:
                c = text[i]
                if c in '"\'':
                    j = i + 1
                    while text[j] != c:
                        j += 2 if text[j] == '\\' else 1
                    i = j
                elif c == '{':
                    depth += 1
                elif c == '}':
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            yield ('action', text[pos + 1:i], False)
            pos = i + 1
            continue
        pos = m.end()
        if kind in ('ws', 'comment', 'nl'):
            continue
        yield (kind, m.group(kind), at0)


# ---------------------------------------------------------------- parsing
# Expression trees: ('seq', items, action), ('alt', [seq...]),
# ('tok', name), ('kw', word), ('soft', word), ('rule', name),
# ('opt', e), ('star', e), ('plus', e), ('gather', sep, e),
# ('and', e), ('not', e), ('forced', e), ('cut',)

class GramParser:
    def __init__(self, tokens):
        self.toks = list(tokens)
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ('eof', None, True)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, kind, value=None):
        t = self.take()
        if t[0] != kind or (value is not None and t[1] != value):
            raise SystemExit('grammar: expected %s %s, got %r' % (kind, value, t))
        return t

    def skip_brackets(self):
        """Skip a [type] annotation starting at the current '['."""
        depth = 0
        while True:
            t = self.take()
            if t[1] == '[':
                depth += 1
            elif t[1] == ']':
                depth -= 1
                if depth == 0:
                    return

    def rules(self):
        out = []
        while self.peek()[0] != 'eof':
            name = self.expect('name')[1]
            memo = False
            if self.peek()[1] == '[':
                self.skip_brackets()
            if self.peek()[1] == '(':
                self.take()
                self.expect('name', 'memo')
                self.expect('op', ')')
                memo = True
            self.expect('op', ':')
            body = self.alts(top=True)
            out.append((name, memo, body))
        return out

    def at_rule_start(self):
        t = self.peek()
        return t[0] == 'name' and t[2]

    def alts(self, top=False):
        seqs = []
        if self.peek()[1] == '|':
            self.take()
        seqs.append(self.seq(top))
        while self.peek()[1] == '|':
            self.take()
            seqs.append(self.seq(top))
        return ('alt', seqs)

    def seq(self, top):
        items = []
        action = None
        while True:
            t = self.peek()
            if t[0] == 'eof' or (top and self.at_rule_start()):
                break
            if t[1] in ('|', ')', ']'):
                break
            if t[0] == 'action':
                action = self.take()[1]
                continue
            items.append(self.named_item())
        return ('seq', items, action)

    def named_item(self):
        t = self.peek()
        if t[0] == 'name':
            nxt = self.peek(1)
            if nxt[1] == '=':
                self.i += 2
            elif nxt[1] == '[':
                # name[type]= ... or an item followed by an optional group
                j = self.i + 1
                depth = 0
                while True:
                    v = self.toks[j][1]
                    if v == '[':
                        depth += 1
                    elif v == ']':
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                if self.toks[j + 1][1] == '=':
                    self.i = j + 2
        return self.item()

    def item(self):
        t = self.peek()
        if t[1] == '~':
            self.take()
            return ('cut',)
        if t[1] == '&&':
            self.take()
            return ('forced', self.atom())
        if t[1] == '&':
            self.take()
            return ('and', self.atom())
        if t[1] == '!':
            self.take()
            return ('not', self.atom())
        if t[1] == '[':
            self.take()
            inner = self.alts()
            self.expect('op', ']')
            return ('opt', inner)
        a = self.atom()
        t = self.peek()
        if t[1] == '?':
            self.take()
            return ('opt', a)
        if t[1] == '*':
            self.take()
            return ('star', a)
        if t[1] == '+':
            self.take()
            return ('plus', a)
        if t[1] == '.' and self.peek(1)[0] in ('name', 'str') or \
                t[1] == '.' and self.peek(1)[1] == '(':
            self.take()
            elem = self.atom()
            self.expect('op', '+')
            return ('gather', a, elem)
        return a

    def atom(self):
        t = self.take()
        if t[1] == '(':
            inner = self.alts()
            self.expect('op', ')')
            return inner
        if t[0] == 'str':
            text = t[1][1:-1]
            if t[1][0] == '"':
                return ('soft', text)
            if re.fullmatch(r'[A-Za-z_]+', text):
                return ('kw', text)
            return ('tok', OP_BY_TEXT[text])
        if t[0] == 'name':
            if t[1] in NAMED_TOKENS:
                return ('tok', t[1])
            return ('rule', t[1])
        raise SystemExit('grammar: unexpected %r' % (t,))


# ---------------------------------------------------------------- actions

def action_kind(rule, action):
    """What an alternative's action can do besides building a node."""
    if action is None:
        return 'NONE'
    if 'RAISE_' in action:
        return 'RAISE'
    if '_PyPegen_interactive_exit' in action:
        return 'FAIL'
    if '_PyPegen_check_barry_as_flufl' in action:
        return 'NOT_LTGT'
    if '_PyPegen_concatenate_strings' in action:
        return 'STRINGS'
    if '_PyPegen_ensure_real' in action:
        return 'REAL'
    if '_PyPegen_ensure_imaginary' in action:
        return 'IMAG'
    return 'NONE'


# The AST nodes CPython's symtable does not count against its recursion
# limit (it visits their parts, which are statements and expressions).
UNCOUNTED_NODES = {'keyword', 'arg', 'arguments', 'comprehension', 'alias', 'withitem',
                   'match_case', 'ExceptHandler', 'Interactive', 'Expression', 'FunctionType',
                   'Module', 'TypeIgnore'}
# Rules whose alternatives' levels the action text does not tell right:
# args builds a Call that primary takes apart; a capture pattern's name and
# a dotted name are identifiers, not nodes; decorators are a function's or
# class's children, a level under it.
AST_LEVELS_OF_RULE = {'args': 0, 'pattern_capture_target': 0, 'dotted_name': 0, 'decorators': 1,
                      # a MatchOr only for two patterns or more: decided
                      # in pyparse_peg.c
                      'or_pattern': 'or_pattern_levels(p, start, %(closed_pattern)d)'}


def ast_levels(rule, items, action):
    """How many levels of counted AST nodes (statements, expressions,
    patterns) an alternative's result puts above what its items give:
    the depth pyparse_peg.c adds up for the compiler's recursion limit."""
    if rule in AST_LEVELS_OF_RULE:
        return AST_LEVELS_OF_RULE[rule]
    # A NUMBER item is a Constant node (the alternatives that have one
    # hold no other node); a NAME is a Name node when it stands alone or
    # gets a store context, an identifier otherwise.
    number = 1 if ('tok', 'NUMBER') in items else 0
    if action is None:
        return 1 if len(items) == 1 and items[0] in (('tok', 'NAME'), ('tok', 'NUMBER')) else 0
    built = [n for n in re.findall(r'_PyAST_(\w+)', action) if n not in UNCOUNTED_NODES]
    if built:
        return 1 + number
    if '_PyPegen_set_expr_context' in action and ('tok', 'NAME') in items and \
            not any(it[0] == 'rule' for it in items):
        return 1                # a NAME as a Name node in a store context
    return number


# ---------------------------------------------------------------- lowering

class Lowering:
    def __init__(self, rules):
        self.src = {name: (memo, body) for name, memo, body in rules}
        self.order = [name for name, _, _ in rules]
        self.rules = []        # (name, memo, leftrec, [alt indices])
        self.rule_index = {}
        self.alts = []         # (first item, count, action kind)
        self.alt_levels = []   # ast_levels of each alternative
        self.items = []        # (kind, a, b)
        self.keywords = []
        self.softs = []
        self.pending = []

    def rule_id(self, name):
        if name not in self.rule_index:
            self.rule_index[name] = len(self.rules)
            self.rules.append(None)
            self.pending.append(name)
        return self.rule_index[name]

    def kw_id(self, word):
        if word not in self.keywords:
            self.keywords.append(word)
        return self.keywords.index(word)

    def soft_id(self, word):
        if word not in self.softs:
            self.softs.append(word)
        return self.softs.index(word)

    def anon_rule(self, body, owner):
        name = '%s_group%d' % (owner, len(self.rules))
        self.src[name] = (False, body)
        return self.rule_id(name)

    def lower_atom(self, e, owner):
        """Lower e to one item; returns the item index."""
        kind = e[0]
        if kind == 'alt':
            if len(e[1]) == 1 and len(e[1][0][1]) == 1 and e[1][0][2] is None:
                return self.lower_atom(e[1][0][1][0], owner)
            return self.add_item('RULE', self.anon_rule(e, owner))
        if kind == 'tok':
            return self.add_item('TOKEN', 'PYPARSE_T_' + e[1])
        if kind == 'kw':
            return self.add_item('KEYWORD', self.kw_id(e[1]))
        if kind == 'soft':
            return self.add_item('SOFT', self.soft_id(e[1]))
        if kind == 'rule':
            return self.add_item('RULE', self.rule_id(e[1]))
        if kind == 'cut':
            return self.add_item('CUT')
        if kind in ('opt', 'star', 'plus', 'and', 'not', 'forced'):
            inner = self.lower_atom(e[1], owner)
            return self.add_item(kind.upper(), inner)
        if kind == 'gather':
            sep = self.lower_atom(e[1], owner)
            elem = self.lower_atom(e[2], owner)
            return self.add_item('GATHER', sep, elem)
        raise SystemExit('lowering: %r' % (e,))

    def add_item(self, kind, a=0, b=0):
        self.items.append((kind, a, b))
        return len(self.items) - 1

    def lower_rule(self, name):
        memo, body = self.src[name]
        alt_ids = []
        for seq in body[1]:
            _, items, action = seq
            if len(items) == 1 and items[0][0] == 'rule' and \
                    items[0][1].startswith('invalid_'):
                continue
            lowered = [self.lower_atom(it, name) for it in items]
            alt_ids.append((lowered, action_kind(name, action), ast_levels(name, items, action)))
        return memo, alt_ids

    def run(self):
        for start in START_RULES:
            self.rule_id(start)
        lowered = {}
        while self.pending:
            name = self.pending.pop(0)
            lowered[name] = self.lower_rule(name)
        # Items of each alternative must be contiguous: copy them.
        final_items = []
        for rid, name in sorted((v, k) for k, v in self.rule_index.items()):
            memo, alts = lowered[name]
            alt_list = []
            for seq_items, act, levels in alts:
                first = len(final_items)
                for it in seq_items:
                    final_items.append(('REF', it, 0))
                self.alts.append((first, len(seq_items), act))
                self.alt_levels.append(levels)
                alt_list.append(len(self.alts) - 1)
            self.rules[rid] = [name, memo, False, alt_list]
        self.seq_items = final_items
        self.mark_left_recursion()
        self.compute_first_sets()

    # First sets, for skipping an alternative without trying it. ALL (None)
    # means "may get past the current token or act on it whatever it is".
    # An alternative is skipped only when trying it would fail on the
    # current token without reading any further, raising an error or
    # committing a cut: its first set is what its leading items can start
    # with, up to and including the first item that must consume a token.
    def token_number(self, kind, a):
        if kind == 'KEYWORD':
            return TOKEN_ORDER.index('KEYWORD') + a
        return TOKEN_ORDER.index(a[len('PYPARSE_T_'):])

    def item_first(self, it, rule_first):
        """(set or None, nullable) of item it."""
        kind, a, b = self.items[it]
        if kind in ('TOKEN', 'KEYWORD'):
            return {self.token_number(kind, a)}, False
        if kind == 'SOFT':
            return {TOKEN_ORDER.index('NAME')}, False
        if kind == 'RULE':
            return rule_first[a], a in self.null
        if kind in ('OPT', 'STAR', 'NOT'):
            return self.item_first(a, rule_first)[0], True
        if kind in ('PLUS', 'AND'):
            return self.item_first(a, rule_first)
        if kind == 'GATHER':
            return self.item_first(b, rule_first)
        return None, False          # FORCED raises, CUT commits: never skip

    def seq_first(self, alt, rule_first, skip=0):
        first, n, _ = self.alts[alt]
        out = set()
        for k in range(skip, n):
            it = self.seq_items[first + k][1]
            s, nullable = self.item_first(it, rule_first)
            if s is None:
                return None
            out |= s
            if self.items[it][0] == 'AND' or not nullable:
                return out
        return None                 # may match nothing: never skip

    def compute_first_sets(self):
        self.null = self.nullable()
        rule_first = [set() for _ in self.rules]
        changed = True
        while changed:
            changed = False
            for rid, r in enumerate(self.rules):
                if rule_first[rid] is None:
                    continue
                acc = set()
                for a in r[3]:
                    s = self.seq_first(a, rule_first)
                    if s is None:
                        acc = None
                        break
                    acc |= s
                if acc is None or rid in self.null:
                    acc = None
                if acc != rule_first[rid]:
                    if acc is not None and rule_first[rid] is not None and \
                            acc <= rule_first[rid]:
                        continue
                    rule_first[rid] = acc
                    changed = True
        self.rule_first = rule_first
        self.alt_first = [self.seq_first(a, rule_first) for a in range(len(self.alts))]
        # An alternative led by a memoised rule: once that rule's memo is
        # there, the token after its match must start the rest.
        self.alt_lead = []
        for a in range(len(self.alts)):
            first, n, _ = self.alts[a]
            lead, rest = None, None
            if n:
                kind, r, _ = self.items[self.seq_items[first][1]]
                name = self.rules[r][0] if kind == 'RULE' else None
                if kind == 'RULE' and (self.src[name][0] or self.rules[r][2]):
                    lead = r
                    rest = self.seq_first(a, rule_first, skip=1) if n > 1 else None
            self.alt_lead.append((lead, rest))
        self.first_depth = self.failure_depth()

    def grows_by_itself(self, rid):
        """A left-recursive rule whose alternatives not led by the rule
        itself cannot call it at their start, even in a lookahead: a growth
        round then only gets longer through a self-led alternative."""
        def starts(it, out):
            kind, a, b = self.items[it]
            if kind == 'RULE':
                out.add(a)
                return a in self.null
            if kind in ('OPT', 'STAR', 'AND', 'NOT'):
                starts(a, out)
                return True
            if kind in ('PLUS', 'FORCED'):
                starts(a, out)
                return kind == 'PLUS' and self.item_nullable(a, self.null)
            if kind == 'GATHER':
                starts(b, out)
                return self.item_nullable(b, self.null)
            return kind == 'CUT'

        def alt_starts(a):
            out = set()
            first, n, _ = self.alts[a]
            for k in range(n):
                if not starts(self.seq_items[first + k][1], out):
                    break
            return out
        seen, todo = set(), []
        for a in self.rules[rid][3]:
            first, n, _ = self.alts[a]
            led = n and self.items[self.seq_items[first][1]][:2] == ('RULE', rid)
            if not led:
                todo.extend(alt_starts(a))
        while todo:
            r = todo.pop()
            if r in seen:
                continue
            seen.add(r)
            for a in self.rules[r][3]:
                todo.extend(alt_starts(a))
        return rid not in seen

    def failure_depth(self):
        """How deep rule calls go before a skippable item fails on its
        first token: the interpreter skips only with this much stack left,
        so skipping never hides the parser's own stack limit."""
        memo = {}

        def rule_depth(rid, active):
            if rid in memo:
                return memo[rid]
            if rid in active:
                return 1            # left recursion: the memo answers
            active.add(rid)
            d = 0
            for a in self.rules[rid][3]:
                first, n, _ = self.alts[a]
                for k in range(n):
                    it = self.seq_items[first + k][1]
                    d = max(d, item_depth(it, active))
                    kind = self.items[it][0]
                    if kind not in ('OPT', 'STAR', 'NOT', 'CUT') and \
                            not (kind == 'RULE' and self.items[it][1] in self.null):
                        break
            active.discard(rid)
            memo[rid] = d + 1
            return d + 1

        def item_depth(it, active):
            kind, a, b = self.items[it]
            if kind == 'RULE':
                return rule_depth(a, active)
            if kind in ('OPT', 'AND', 'NOT', 'FORCED'):
                return item_depth(a, active)
            if kind in ('STAR', 'PLUS'):
                return 1 + item_depth(a, active)
            if kind == 'GATHER':
                return 2 + item_depth(b, active)
            return 0
        return max(rule_depth(r, set()) for r in range(len(self.rules)))

    # Left recursion: a rule is left-recursive when it can reach itself
    # without consuming a token; pegen picks one leader per cycle.
    def nullable(self):
        null = set()
        changed = True
        while changed:
            changed = False
            for rid, r in enumerate(self.rules):
                if rid in null:
                    continue
                for a in r[3]:
                    first, n, _ = self.alts[a]
                    if all(self.item_nullable(self.seq_items[first + k][1], null)
                           for k in range(n)):
                        null.add(rid)
                        changed = True
                        break
        return null

    def item_nullable(self, it, null):
        kind, a, b = self.items[it]
        if kind in ('OPT', 'STAR', 'AND', 'NOT', 'CUT'):
            return True
        if kind in ('PLUS', 'FORCED'):
            return self.item_nullable(a, null)
        if kind == 'RULE':
            return a in null
        if kind == 'GATHER':
            return self.item_nullable(b, null)
        return False

    def first_rules(self, it, null, out):
        """Rules callable at the start of item it; returns its nullability."""
        kind, a, b = self.items[it]
        if kind == 'RULE':
            out.add(a)
            return a in null
        if kind in ('OPT', 'STAR', 'PLUS', 'AND', 'NOT', 'FORCED'):
            self.first_rules(a, null, out)
            return kind != 'PLUS' and kind != 'FORCED' or self.item_nullable(a, null)
        if kind == 'GATHER':
            self.first_rules(b, null, out)
            return self.item_nullable(b, null)
        return kind == 'CUT'

    def mark_left_recursion(self):
        null = self.nullable()
        graph = {}
        for rid, r in enumerate(self.rules):
            edges = set()
            for a in r[3]:
                first, n, _ = self.alts[a]
                for k in range(n):
                    it = self.seq_items[first + k][1]
                    kind = self.items[it][0]
                    if kind in ('AND', 'NOT'):
                        continue
                    if not self.first_rules(it, null, edges):
                        break
            graph[rid] = edges
        # strongly connected components (Tarjan)
        index, low, stack, on, sccs = {}, {}, [], set(), []
        counter = [0]

        def strong(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in graph[v]:
                if w not in index:
                    strong(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                sccs.append(comp)
        sys.setrecursionlimit(10000)
        for v in graph:
            if v not in index:
                strong(v)
        for comp in sccs:
            if len(comp) == 1 and comp[0] not in graph[comp[0]]:
                continue
            # One leader per cycle grows the seed; pegen takes the first
            # name in order. The only cycle of two rules in this grammar
            # is attr <-> name_or_attr, and either one lies on it.
            if len(comp) > 2:
                raise SystemExit('grammar: left-recursive cycle of %d rules' % len(comp))
            leader = min(self.rules[v][0] for v in comp)
            self.rules[self.rule_index[leader]][2] = True


def set_bits(fs):
    """The two 64-bit words of a first set (None: all)."""
    if fs is None:
        return (1 << 64) - 1, (1 << 64) - 1
    assert max(fs) < 128
    return sum(1 << t for t in fs if t < 64), sum(1 << (t - 64) for t in fs if t >= 64)


def emit(low, out, gram_path):
    w = out.write
    w('/* Generated by supervisor/pyparse/gen_gram.py from CPython 3.11\'s\n')
    w(' * Grammar/python.gram; do not edit. Regenerate with:\n')
    w(' *   /usr/bin/python3 supervisor/pyparse/gen_gram.py \\\n')
    w(' *       /usr/src/python3.11/Grammar/python.gram supervisor/pyparse/pyparse_gram.c\n')
    w(' */\n#include "pyparse_int.h"\n\n')
    w('const char *const pyparse_keywords[] = {\n')
    for k in low.keywords:
        w('    "%s",\n' % k)
    w('};\nconst uint8_t pyparse_keyword_lengths[] = {')
    w(', '.join(str(len(k)) for k in low.keywords))
    w('};\nconst int pyparse_keyword_count = %d;\n\n' % len(low.keywords))
    w('const char *const pyparse_soft_keywords[] = {\n')
    for k in low.softs:
        w('    "%s",\n' % k)
    w('};\nconst uint8_t pyparse_soft_keyword_lengths[] = {')
    w(', '.join(str(len(k)) for k in low.softs))
    w('};\n\n')
    w('const struct pyparse_op pyparse_ops[] = {\n')
    for name, text in OPERATORS:
        w('    { "%s", PYPARSE_T_%s },\n' % (text, name))
    w('};\nconst int pyparse_op_count = %d;\n\n' % len(OPERATORS))
    w('const struct pyparse_item pyparse_items[] = {\n')
    for i, (kind, a, b) in enumerate(low.items):
        w('    /* %4d */ { PYPARSE_I_%s, %s, %s },\n' % (i, kind, a, b))
    w('};\n\n')
    w('const uint16_t pyparse_seq[] = {\n')
    for i, (_, it, _) in enumerate(low.seq_items):
        w('    %d,\n' % it)
    w('};\n\n')
    sets = [None]
    set_index = {}

    def set_id(s):
        if s is None:
            return 0
        key = frozenset(s)
        if key not in set_index:
            set_index[key] = len(sets)
            sets.append(key)
        return set_index[key]
    alt_sets = [set_id(s) for s in low.alt_first]
    lead_sets = [set_id(rest) for _, rest in low.alt_lead]
    rule_sets = [set_id(s) for s in low.rule_first]
    w('const struct pyparse_alt pyparse_alts[] = {\n')
    for i, (first, n, act) in enumerate(low.alts):
        lead = low.alt_lead[i][0]
        w('    /* %4d */ { %d, %d, PYPARSE_A_%s, %d, %d, %d },\n' % (
            i, first, n, act, alt_sets[i], 0xffff if lead is None else lead, lead_sets[i]))
    w('};\n\n')
    w('_Static_assert(PYPARSE_T_KEYWORD == %d, "token numbers as gen_gram.py has them");\n'
      % TOKEN_ORDER.index('KEYWORD'))
    w('const int pyparse_first_depth = %d;\n\n' % low.first_depth)
    # Per rule of several alternatives and per token type: the alternatives
    # whose first set holds it (bit k: the rule's k-th alternative).
    dispatch = {}
    w('const uint16_t pyparse_dispatch[][128] = {\n')
    for rid, (name, memo, leftrec, alts) in enumerate(low.rules):
        if len(alts) < 2:
            continue
        assert len(alts) <= 16
        row = []
        for t in range(128):
            mask = 0
            for k, a in enumerate(alts):
                fs = low.alt_first[a]
                if fs is None or t in fs:
                    mask |= 1 << k
            row.append(mask)
        dispatch[rid] = len(dispatch)
        w('    /* %s */ {' % name)
        for t in range(0, 128, 16):
            w('\n        ' + ' '.join('0x%x,' % m for m in row[t:t + 16]))
        w('\n    },\n')
    w('};\n\n')
    assert len(dispatch) < 255
    w('const struct pyparse_rule pyparse_rules[] = {\n')
    memo_bits = 0
    memo_bit_of = []
    for i, (name, memo, leftrec, alts) in enumerate(low.rules):
        first = alts[0] if alts else 0
        assert alts == list(range(first, first + len(alts)))
        flags = []
        if memo:
            flags.append('PYPARSE_R_MEMO')
        if leftrec:
            flags.append('PYPARSE_R_LEFTREC')
        if name in NODE_RULES:
            flags.append('PYPARSE_R_NODE')
        grow = 0
        if leftrec and low.grows_by_itself(i):
            rests = [low.alt_lead[a][1] for a in alts if low.alt_lead[a][0] == i]
            if all(r is not None for r in rests):
                flags.append('PYPARSE_R_GROW_SELF')
                grow = set_id(set().union(*rests))
        bit = 255
        if memo or leftrec:
            bit = memo_bits
            memo_bits += 1
        memo_bit_of.append(bit)
        w('    /* %4d */ { "%s", %d, %d, %s, %d, %d, %d, %d },\n' % (
            i, name, first, len(alts), ' | '.join(flags) or '0', rule_sets[i], bit,
            dispatch.get(i, 255), grow))
    assert memo_bits <= 32
    w('};\nconst int pyparse_rule_count = %d;\n' % len(low.rules))

    low.emitted_rule_sets = rule_sets
    low.emitted_memo_bit = memo_bit_of
    for start in START_RULES + NODE_RULES:
        w('const int pyparse_rule_%s = %d;\n' % (start, low.rule_index[start]))
    w('\n/* Token types each first set holds; set 0 holds all. */\n')
    w('const uint64_t pyparse_first_sets[][2] = {\n')
    for fs in sets:
        lo, hi = set_bits(fs)
        w('    { 0x%xu, 0x%xu },\n' % (lo, hi))
    w('};\n')
    low.emitted_sets = sets


# ---------------------------------------------------------------- parser code
# The same grammar as C functions, one per rule and per item, for
# pyparse_peg.c to include: what its tables describe, without walking them.
# Each function does what the interpreter of the tables did (pyparse_peg.c
# documents the semantics; the helpers it calls are there).

def emit_rules(low, out, rule_sets, memo_bit):
    w = out.write
    w('/* Generated by supervisor/pyparse/gen_gram.py from CPython 3.11\'s\n')
    w(' * Grammar/python.gram, with pyparse_gram.c; do not edit. Included by\n')
    w(' * pyparse_peg.c, whose helpers it calls. */\n\n')
    used_items = set()
    for a in range(len(low.alts)):
        first, n, _ = low.alts[a]
        for k in range(n):
            used_items.add(low.seq_items[first + k][1])
    todo = list(used_items)
    while todo:
        it = todo.pop()
        kind, a, b = low.items[it]
        for child in ((a,) if kind in ('OPT', 'STAR', 'PLUS', 'AND', 'NOT', 'FORCED')
                      else (a, b) if kind == 'GATHER' else ()):
            if child not in used_items:
                used_items.add(child)
                todo.append(child)
    for rid, r in enumerate(low.rules):
        w('static bool rule_%d(struct parser *p);  /* %s */\n' % (rid, r[0]))
    for it in sorted(used_items):
        w('static bool item_%d(struct parser *p);\n' % it)
    w('\n')

    def token_type(kind, a):
        return 'PYPARSE_T_KEYWORD + %d' % a if kind == 'KEYWORD' else a

    for it in sorted(used_items):
        kind, a, b = low.items[it]
        w('static inline bool\nitem_%d(struct parser *p)\n{\n' % it)
        if kind == 'TOKEN':
            w('    return expect_type(p, %s);\n' % a)
        elif kind == 'KEYWORD':
            w('    return expect_type(p, PYPARSE_T_KEYWORD + %d);\n' % a)
        elif kind == 'SOFT':
            w('    return expect_soft(p, %d);\n' % a)
        elif kind == 'RULE':
            fs = low.rule_first[a]
            lo, hi = set_bits(fs)
            w('    return call_rule(p, %s, 0x%xu, 0x%xu, %d, rule_%d);  /* %s */\n' % (
                'true' if fs is None else 'false', lo, hi, memo_bit[a], a, low.rules[a][0]))
        elif kind == 'CUT':
            w('    return true;\n')
        elif kind == 'OPT':
            w('    int save = p->mark;\n')
            w('    if (!item_%d(p)) {\n        if (p->error)\n            return false;\n' % a)
            w('        p->mark = save;\n    }\n    return true;\n')
        elif kind in ('AND', 'NOT'):
            w('    int save = p->mark, from = p->nstack, depth = p->depth_acc;\n')
            w('    bool ok = item_%d(p);\n' % a)
            w('    p->mark = save;\n    p->nstack = from;\n    p->depth_acc = depth;\n')
            w('    if (p->error)\n        return false;\n')
            w('    return %sok;\n' % ('' if kind == 'AND' else '!'))
        elif kind == 'FORCED':
            ik, ia, _ = low.items[a]
            w('    return expect_forced(p, %s);\n' % token_type(ik, ia))
        elif kind in ('STAR', 'PLUS'):
            w('    int save = p->mark;\n    if (!enter_helper(p))\n        return false;\n')
            w('    int n = 0;\n    for (;;) {\n        int before = p->mark;\n')
            w('        if (!item_%d(p) || p->mark == before) {\n' % a)
            w('            p->mark = before;\n            break;\n        }\n        n++;\n    }\n')
            w('    p->level--;\n    if (p->error)\n        return false;\n')
            if kind == 'PLUS':
                w('    if (n == 0) {\n        p->mark = save;\n        return false;\n    }\n')
            else:
                w('    (void)save;\n    (void)n;\n')
            w('    return true;\n')
        elif kind == 'GATHER':
            w('    int save = p->mark;\n    if (!enter_helper(p))\n        return false;\n')
            w('    bool ok = item_%d(p);\n' % b)
            w('    if (ok && enter_helper(p)) {\n        for (;;) {\n')
            w('            int before = p->mark;\n')
            w('            if (!item_%d(p) || !item_%d(p) || p->mark == before) {\n' % (a, b))
            w('                p->mark = before;\n                break;\n            }\n')
            w('        }\n        p->level--;\n    }\n')
            w('    p->level--;\n    if (p->error)\n        return false;\n')
            w('    if (!ok)\n        p->mark = save;\n    return ok;\n')
        else:
            raise SystemExit('emit_rules: item kind %s' % kind)
        w('}\n\n')

    for rid, (name, memo, leftrec, alts) in enumerate(low.rules):
        dispatch = len(alts) >= 2
        w('/* %s */\nstatic bool\nalts_%d(struct parser *p)\n{\n' % (name, rid))
        w('    int start = p->mark, from = p->nstack, outer = p->depth_acc;\n')
        any_cut = any(low.items[low.seq_items[low.alts[a][0] + k][1]][0] == 'CUT'
                      for a in alts for k in range(low.alts[a][1]))
        if any_cut:
            w('    bool cut;\n')
        if dispatch:
            w('    unsigned todo = 0x%xu;\n' % ((1 << len(alts)) - 1))
            w('    if (may_skip(p)) {\n        struct pyparse_ptok *t = peek(p);\n')
            w('        if (!t) {\n            p->depth_acc = outer;\n            return false;\n        }\n')
            w('        todo = pyparse_dispatch[pyparse_rules[%d].dispatch][t->type];\n    }\n'
              % rid)
        else:
            w('    (void)start;\n    (void)from;\n')
        for k, a in enumerate(alts):
            first, n, act = low.alts[a]
            lead, _ = low.alt_lead[a]
            w('    /* alternative %d */\n' % k)
            indent = '    '
            if dispatch:
                w('    if (todo & 0x%xu) {\n' % (1 << k))
                indent = '        '
            w(indent + 'p->mark = start;\n')
            checks = []
            if not dispatch and low.alt_first[a] is not None:
                checks.append('!may_start_bits(p, 0x%xu, 0x%xu)' % set_bits(low.alt_first[a]))
            if lead is not None:
                rest = low.alt_lead[a][1]
                checks.append('!lead_may_match(p, %d, %d, %s, 0x%xu, 0x%xu)' % (
                    (lead, memo_bit[lead], 'true' if rest is None else 'false') + set_bits(rest)))
            if checks:
                w(indent + 'if (%s) {\n' % ' || '.join(checks))
                w(indent + '    if (p->error)\n' + indent + '        return false;\n')
                w(indent + '    goto skip_%d;\n' % k + indent + '}\n')
            w(indent + 'p->nstack = from;\n')
            w(indent + 'p->depth_acc = 0;\n')
            has_cut = any(low.items[low.seq_items[first + i][1]][0] == 'CUT' for i in range(n))
            if has_cut:
                w(indent + 'cut = false;\n')
            for i in range(n):
                it = low.seq_items[first + i][1]
                if low.items[it][0] == 'CUT':
                    w(indent + 'cut = true;\n')
                else:
                    w(indent + 'if (!item_%d(p))\n' % it + indent + '    goto fail_%d;\n' % k)
            w(indent + 'if (p->error)\n' + indent + '    return false;\n')
            if act != 'NONE':
                w(indent + 'if (apply_action(p, PYPARSE_A_%s, start) != 1) {\n' % act)
                w(indent + '    p->nstack = from;\n' + indent + '    p->depth_acc = outer;\n')
                w(indent + '    return false;\n' + indent + '}\n')
            levels = low.alt_levels[a]
            if isinstance(levels, str):
                levels = levels % low.rule_index
            w(indent + 'matched(p, outer, %s);\n' % levels)
            if name in NODE_RULES:
                w(indent + 'return make_node(p, %d, start, from);\n' % rid)
            else:
                w(indent + 'return true;\n')
            if n:
                w('fail_%d:\n' % k)
                w(indent + 'if (p->error)\n' + indent + '    return false;\n')
                w(indent + 'p->mark = start;\n' + indent + 'p->nstack = from;\n')
                if has_cut:
                    w(indent + 'if (cut) {\n' + indent + '    p->depth_acc = outer;\n')
                    w(indent + '    return false;\n' + indent + '}\n')
            if checks:
                w('skip_%d:\n' % k + indent + ';\n')
            if dispatch:
                w('    }\n')
        w('    p->depth_acc = outer;\n    return false;\n}\n\n')
        w('static bool\nrule_%d(struct parser *p)\n{\n' % rid)
        if leftrec:
            w('    return leftrec_rule(p, %d, alts_%d);\n' % (rid, rid))
        elif memo:
            w('    return memo_rule(p, %d, alts_%d);\n' % (rid, rid))
        else:
            w('    if (!enter(p))\n        return false;\n')
            w('    bool ok = alts_%d(p);\n    p->level--;\n    return ok;\n' % rid)
        w('}\n\n')
    w('static bool (*const rule_functions[])(struct parser *) = {\n')
    for rid in range(len(low.rules)):
        w('    rule_%d,\n' % rid)
    w('};\n')


def main():
    gram_path, out_path = sys.argv[1], sys.argv[2]
    with open(gram_path) as f:
        text = f.read()
    rules = GramParser(lex(text)).rules()
    low = Lowering(rules)
    low.run()
    with open(out_path, 'w') as out:
        emit(low, out, gram_path)
    import os
    with open(os.path.join(os.path.dirname(out_path), 'pyparse_rules.inc'), 'w') as out:
        emit_rules(low, out, low.emitted_rule_sets, low.emitted_memo_bit)


if __name__ == '__main__':
    main()
