"""Games from TOML files: tensors with parameter expressions, parsed without ``eval``.

The format (version 1)
----------------------
A game file names the labels, the parameters with their default values, and the
tensors ``T``, ``R`` and optionally ``O`` (index conventions of :class:`crldgen.Game`)::

    name = "rps"                                  # optional (default: the file name)
    description = "rock-paper-scissors"           # optional, free text
    agents = ["row", "column"]                    # labels, or a count: agents = 2
    states = ["s"]                                # labels, or a count
    actions = ["rock", "paper", "scissors"]       # the same actions for every agent (or one
                                                  # list per agent, see below)
    # observations = ["o1", "o2"]                 # only together with O

    [parameters]                                  # name = default value
    win = 1.0
    loss = -1.0

    # A tensor is either a dense nested array in index order, e.g. for one state and
    # two agents with two actions:  T = [[[[1], [1]], [[1], [1]]]]
    # or an array of rule tables. Each rule selects entries by label or index ("*" or
    # an omitted field selects all) and sets them to `value`; later rules override
    # earlier ones; entries that no rule sets are 0.

    [[T]]                      # T[state, a_0, ..., a_{N-1}, next]
    state = "*"
    actions = ["*", "*"]       # one entry per agent, or "*" for every joint action
    next = "s"
    value = 1

    [[R]]                      # R[agent, state, a_0, ..., a_{N-1}, next]
    agent = "row"
    actions = ["rock", "scissors"]
    value = "win"              # numbers, or expressions in strings

    # [[O]]                    # O[agent, state, observation]
    # agent = "*"
    # state = "s"
    # observation = "o1"
    # value = "1 - noise"

Agents with their own actions or observations (heterogeneous games)
--------------------------------------------------------------------
``actions`` (and ``observations``) may also give one list per agent, either in agent
order or as a table keyed by agent label (an inline table, or a ``[actions]`` table
placed after the top-level keys); each entry is a list of labels or a count::

    agents = ["user", "regulator"]
    actions = [["low", "medium", "high"], ["idle", "monitor"]]
    # or: actions = { user = ["low", "medium", "high"], regulator = ["idle", "monitor"] }
    # or counts: actions = [3, 2]   (labels '0', '1', ...)

The tensors then have one action axis of each agent's own size,
``T[state, a_user, a_regulator, next]`` of shape ``(Z, 3, 2, Z)``, and in a rule
``actions = ["high", "monitor"]`` names each agent's action among that agent's own
labels (an unknown label is an error naming the agent and listing its actions).

Per-agent observation sets (``observations = [["quiet", "alarm"], ["o"]]``) make ``O``
one array per agent, ``O[i][state][observation]`` of shape ``(Z, Q_i)``: dense, as a
list of N nested arrays; or as ``[[O]]`` rules whose ``observation`` is a label (or
index) of every agent the rule selects. When all agents have the same labels the file
means the same as with one shared list.

Values are numbers or expression strings. Expressions contain numbers (``2``,
``0.25``, ``1e-3``), parameter names, ``+ - * / **``, parentheses and unary minus,
nothing else: they are read by a small recursive-descent parser that builds sympy
expressions from the parse tree (never ``eval``, ``exec`` or ``sympify`` of the
text). Expressions are limited in length, nesting depth and exponent size so a
hostile file cannot exhaust memory or time. Decimal numbers are exact rationals
(``0.1 + 0.2 + 0.7`` is exactly 1).

Errors are :class:`GameFileError` (a :class:`~crldgen.GameError`) naming the file, the
key (``R[3].value``; rules count from 1) and, for expressions, the column.
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Mapping

import numpy as np

from .errors import GameError
from .game import MAX_TENSOR_ENTRIES, Game

from ._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

FORMAT = 1
#: limits on expression strings (characters, nesting depth, numeric literal length, ``|exponent|``)
MAX_EXPRESSION_LENGTH = 1000
MAX_DEPTH = 40
MAX_LITERAL_LENGTH = 40
MAX_EXPONENT = 64
#: limit on the number of tensor entries a file may describe (the Game limit, see crldgen.game.check_size)
MAX_ENTRIES = MAX_TENSOR_ENTRIES
#: limits on the file: characters, nesting of arrays and inline tables (a tensor needs N + 3 levels)
MAX_FILE_CHARACTERS = 50_000_000
MAX_NESTING = 64


def _bracket_depth(text: str) -> int:
    """Maximal nesting of ``[ ]`` and ``{ }`` outside strings and comments (an upper bound of TOML nesting)."""
    depth = best = 0
    k, n = 0, len(text)
    while k < n:
        ch = text[k]
        if ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
        elif ch == "#":
            j = text.find("\n", k)
            k = n if j < 0 else j
            continue
        elif ch in "\"'":
            quote = text[k:k + 3] if text[k:k + 3] in ('"""', "'''") else ch
            j = k + len(quote)
            while j < n:
                if text[j] == "\\" and quote[0] == '"':
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if len(quote) == 1 and text[j] == "\n":
                    break
                j += 1
            k = j + len(quote)
            continue
        k += 1
    return best

_TOP_KEYS = {"name", "description", "format", "agents", "states", "actions", "observations", "parameters",
             "T", "R", "O"}
_RULE_KEYS = {
    "T": ("state", "actions", "next"),
    "R": ("agent", "state", "actions", "next"),
    "O": ("agent", "state", "observation"),
}


class GameFileError(GameError):
    """A game file is not valid (syntax, keys, labels, expressions)."""


# ------------------------------------------------------------------ expressions
class ExpressionError(GameFileError):
    """An expression string is not valid; ``column`` is 1-based."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.message = message
        self.column = column


_OPS = ("**", "+", "-", "*", "/", "(", ")")


_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | _DIGITS


# Kept hand-written on purpose (issue 18 weighed an ``ast``-based whitelist): this grammar is
# six operators, numbers and names, so the tokenizer and parser are short; they give the
# column of every error, keep numeric literals exact (Fraction, so ``0.1`` is 1/10), and never
# hand untrusted text to CPython's parser, whose full grammar would have to be whitelisted
# and which itself fails on deeply nested input (RecursionError / MemoryError).
def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """Tokens ``(kind, text, column)``; kinds: 'num', 'name', 'op', 'end', and 'bad'.

    A character outside the grammar gives a final 'bad' token, so the parser reports
    the first problem from the left (an unknown name before a stray quote).
    """
    tokens = []
    k, n = 0, len(text)
    while k < n:
        ch = text[k]
        if ch in " \t":
            k += 1
            continue
        col = k + 1
        if ch in _DIGITS or (ch == "." and k + 1 < n and text[k + 1] in _DIGITS):
            j = k
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            if j < n and text[j] in "eE":
                m = j + 1
                if m < n and text[m] in "+-":
                    m += 1
                if m < n and text[m] in _DIGITS:
                    while m < n and text[m] in _DIGITS:
                        m += 1
                    j = m
            lit = text[k:j]
            if len(lit) > MAX_LITERAL_LENGTH:
                raise ExpressionError(f"number {lit[:20]}... is longer than {MAX_LITERAL_LENGTH} characters", col)
            if j < n and text[j] in _NAME_CHARS:
                raise ExpressionError(f"unexpected {text[j]!r} after the number {lit!r}", j + 1)
            tokens.append(("num", lit, col))
            k = j
        elif ch in _NAME_START:
            j = k
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            tokens.append(("name", text[k:j], col))
            k = j
        else:
            op = text[k:k + 2] if text[k:k + 2] == "**" else ch
            if op not in _OPS:
                tokens.append(("bad", ch, col))
                return tokens
            tokens.append(("op", op, col))
            k += len(op)
    tokens.append(("end", "", n + 1))
    return tokens


def _number(lit: str, col: int) -> sympy.Expr:
    mant, _, exp = lit.lower().partition("e")
    if exp and abs(int(exp)) > 300:
        raise ExpressionError(f"number {lit!r} is out of the floating-point range", col)
    frac = Fraction(lit)  # numeric literal only (the tokenizer guarantees the form)
    return sympy.Integer(frac.numerator) if frac.denominator == 1 else sympy.Rational(frac.numerator,
                                                                                      frac.denominator)


class _Parser:
    """Recursive descent for ``expr := term (('+'|'-') term)*`` and so on (see :func:`parse_expression`)."""

    def __init__(self, text: str, names: Mapping[str, sympy.Symbol]):
        self.text = text
        self.names = names
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self):
        tok = self.tokens[self.pos]
        if tok[0] == "bad":
            ch, col = tok[1], tok[2]
            hint = " (use ** for powers)" if ch == "^" else ""
            raise ExpressionError(f"unexpected character {ch!r}{hint}; expressions use numbers, parameter "
                                  "names, + - * / ** and parentheses", col)
        return tok

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def enter(self, col):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_DEPTH} levels deep", col)

    def parse(self) -> sympy.Expr:
        if self.peek()[0] == "end":
            raise ExpressionError("empty expression", 1)
        e = self.expr()
        kind, tok, col = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {tok!r}", col)
        return e

    def expr(self):
        self.enter(self.peek()[2])
        e = self.term()
        while self.peek()[:2] in (("op", "+"), ("op", "-")):
            _, op, col = self.take()
            rhs = self.term()
            e = self.check(e + rhs if op == "+" else e - rhs, col)
        self.depth -= 1
        return e

    def term(self):
        e = self.unary()
        while self.peek()[:2] in (("op", "*"), ("op", "/")):
            _, op, col = self.take()
            rhs = self.unary()
            if op == "/" and rhs.is_zero:
                raise ExpressionError("division by zero", col)
            e = self.check(e * rhs if op == "*" else e / rhs, col)
        return e

    def unary(self):
        kind, tok, col = self.peek()
        if kind == "op" and tok in "+-":
            self.take()
            self.enter(col)
            e = self.unary()
            self.depth -= 1
            return -e if tok == "-" else e
        return self.power()

    def power(self):
        base = self.atom()
        kind, tok, col = self.peek()
        if (kind, tok) != ("op", "**"):
            return base
        self.take()
        self.enter(col)
        exponent = self.unary()  # right-associative; -2**2 == -(2**2) as in Python
        self.depth -= 1
        return self.check(_power(base, exponent, col), col)

    def atom(self):
        kind, tok, col = self.take()
        if kind == "num":
            return _number(tok, col)
        if kind == "name":
            if tok.startswith("_"):
                raise ExpressionError(f"name {tok!r} is not allowed (names may not start with '_')", col)
            if self.peek()[:2] == ("op", "("):
                raise ExpressionError(f"function calls are not allowed ({tok}(...)); use numbers, parameters, "
                                      "+ - * / ** and parentheses", col)
            if tok not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise ExpressionError(f"unknown name {tok!r}; the parameters are: {known}", col)
            return self.names[tok]
        if (kind, tok) == ("op", "("):
            e = self.expr()
            k2, t2, c2 = self.take()
            if (k2, t2) != ("op", ")"):
                found = repr(t2) if t2 else "the end"
                raise ExpressionError(f"expected ')' to close the '(' at column {col}, found {found}", c2)
            return e
        if kind == "end":
            raise ExpressionError("unexpected end of the expression", col)
        raise ExpressionError(f"unexpected {tok!r}", col)

    @staticmethod
    def check(e, col):
        if e.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
            raise ExpressionError("the expression is not finite (division by zero?)", col)
        if e.is_Rational and (abs(e.p).bit_length() - e.q.bit_length() > 1000 or
                              e.q.bit_length() - abs(e.p).bit_length() > 1000):
            raise ExpressionError("a number in the expression is out of the floating-point range", col)
        return e


def _power(base: sympy.Expr, exponent: sympy.Expr, col: int) -> sympy.Expr:
    """``base ** exponent`` with limits that keep sympy from huge or slow results."""
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT:
            raise ExpressionError(f"exponent {exponent} is too large (|exponent| <= {MAX_EXPONENT})", col)
        if base.is_Number:
            if base.is_zero and exponent.is_negative:
                raise ExpressionError("division by zero (0 to a negative power)", col)
            if base.is_negative and not exponent.is_Integer:
                raise ExpressionError("a negative number to a fractional power is not real", col)
            if not base.is_zero:
                mag = abs(float(exponent)) * abs(math.log(abs(int(base.p))) - math.log(int(base.q)))
                if mag > 700:
                    raise ExpressionError(f"{base}**{exponent} is out of the floating-point range", col)
    result = base ** exponent
    for sub in sympy.preorder_traversal(result):
        if isinstance(sub, sympy.Pow) and sub.exp.is_Number and abs(sub.exp) > MAX_EXPONENT:
            raise ExpressionError(f"the power {sub} has an exponent above {MAX_EXPONENT}", col)
    return result


def parse_expression(text: str, names: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    """Parse an arithmetic expression into sympy, allowing only the given names.

    Grammar (whitelist; anything else is an :class:`ExpressionError` with its column)::

        expr  := term (('+' | '-') term)*
        term  := unary (('*' | '/') unary)*
        unary := ('+' | '-') unary | power
        power := atom ('**' unary)?
        atom  := NUMBER | NAME | '(' expr ')'
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}", 1)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters", 1)
    return _Parser(text, names).parse()


# ------------------------------------------------------------------------ files
def load_game(path: str | os.PathLike) -> Game:
    """Read a game from a TOML file (format in the module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GameFileError(f"{path}: cannot read the game file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GameFileError(f"{path}: not UTF-8 text (position {exc.start})") from exc
    return loads_game(text, source=str(path), default_name=path.stem)


def loads_game(text: str, source: str = "<string>", default_name: str = "game") -> Game:
    """Read a game from TOML text; ``source`` names it in error messages.

    A text read (and compiled) before gives a :class:`crldgen.lazygame.LazyGame` that
    builds its sympy tensors only when needed (see :mod:`crldgen.lazygame`). The size and
    nesting limits are checked first, on every path.
    """
    from .lazygame import lazy_or_build

    if not isinstance(text, str):
        raise GameFileError(f"{source}: game text must be a str, got {type(text).__name__}")
    if len(text) > MAX_FILE_CHARACTERS:
        raise GameFileError(f"{source}: the game file has {len(text)} characters (limit {MAX_FILE_CHARACTERS})")
    depth = _bracket_depth(text)
    if depth > MAX_NESTING:
        raise GameFileError(f"{source}: arrays or tables are nested {depth} levels deep (limit {MAX_NESTING}); "
                            "a game tensor needs N + 3 levels")

    def build() -> Game:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GameFileError(f"{source}: TOML syntax error: {exc}") from exc
        except (RecursionError, MemoryError) as exc:  # pathological nesting the scan above did not see
            raise GameFileError(f"{source}: the file is nested too deeply or too large to read") from exc
        return _GameReader(doc, source, default_name).game()

    payload = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), str(default_name)]
    return lazy_or_build("toml", payload, build)


class _GameReader:
    def __init__(self, doc: dict, source: str, default_name: str):
        self.doc = doc
        self.source = source
        self.default_name = default_name

    def fail(self, key: str, message: str, cause: Exception | None = None):
        err = GameFileError(f"{self.source}: {key}: {message}")
        if cause is not None:
            raise err from cause
        raise err

    # -- labels and parameters
    def labels(self, key: str, required: bool = True) -> tuple[str, ...] | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                self.fail(key, f"missing; give the {key} as a list of labels or a count")
            return None
        return self.label_list(key, value)

    def label_list(self, key: str, value) -> tuple[str, ...]:
        """One list of labels (or a count) at ``key``."""
        if isinstance(value, bool):
            self.fail(key, "must be a list of labels or a count")
        if isinstance(value, int):
            if not 1 <= value <= 10_000:
                self.fail(key, f"count {value} must be between 1 and 10000")
            return tuple(str(k) for k in range(value))
        if not isinstance(value, list) or not value:
            self.fail(key, "must be a non-empty list of labels or a count")
        out = []
        for k, v in enumerate(value):
            if not isinstance(v, str) or not v or v == "*":
                self.fail(f"{key}[{k}]", f"label {v!r} must be a non-empty string other than '*'")
            out.append(v)
        if len(set(out)) != len(out):
            self.fail(key, f"labels {out} are not unique")
        return tuple(out)

    def agent_labels(self, key: str, agents: tuple[str, ...], required: bool = True) \
            -> tuple[tuple[str, ...], ...] | None:
        """Per-agent label tuples from one shared list (or count), a list of per-agent lists, or a table.

        The per-agent forms: ``[[...], [...]]`` (or counts ``[3, 2]``) in agent order, or a
        table ``{agent label = [...] or count}`` with one entry for every agent.
        """
        value = self.doc.get(key)
        if value is None:
            if required:
                self.fail(key, f"missing; give the {key} as a list of labels or a count (one for every agent), "
                               f"or one per agent")
            return None
        if isinstance(value, dict):
            extra = [a for a in value if a not in agents]
            if extra:
                self.fail(f"{key}.{extra[0]}", f"unknown agent {extra[0]!r}; the agents are {list(agents)}")
            missing = [a for a in agents if a not in value]
            if missing:
                self.fail(key, f"no {key} for agent {missing[0]!r}: the table needs one entry per agent "
                               f"{list(agents)}")
            return tuple(self.label_list(f"{key}.{a}", value[a]) for a in agents)
        per_agent = isinstance(value, list) and bool(value) and (
            any(isinstance(v, list) for v in value)
            or all(isinstance(v, int) and not isinstance(v, bool) for v in value))
        if not per_agent:
            return (self.label_list(key, value),) * len(agents)
        if len(value) != len(agents):
            self.fail(key, f"has {len(value)} per-agent entries; the game has {len(agents)} agents {list(agents)} "
                           "(give one list of labels or count per agent, or one list shared by every agent)")
        return tuple(self.label_list(f"{key}[{k}] (agent {a!r})", v) for k, (a, v) in enumerate(zip(agents, value)))

    def parameters(self) -> dict[str, tuple[sympy.Symbol, float]]:
        table = self.doc.get("parameters", {})
        if not isinstance(table, dict):
            self.fail("parameters", "must be a table of name = default value")
        out = {}
        for name, value in table.items():
            if not name.isidentifier() or not name.isascii() or name.startswith("_"):
                self.fail(f"parameters.{name}", "parameter names are ASCII identifiers not starting with '_'")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                hint = ""
                if name in _TOP_KEYS:
                    hint = (f" ({name!r} is a top-level key: in TOML, keys after the [parameters] header belong "
                            "to that table; move it above [parameters])")
                self.fail(f"parameters.{name}", f"default value must be a number, got {value!r}{hint}")
            if not math.isfinite(value):
                self.fail(f"parameters.{name}", f"default value {value} is not finite")
            out[name] = (sympy.Symbol(name, real=True), float(value))
        return out

    # -- values
    def value(self, key: str, v) -> sympy.Expr:
        if isinstance(v, bool):
            self.fail(key, f"{v!r} is a boolean; expected a number or an expression string")
        if isinstance(v, int):
            return sympy.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                self.fail(key, f"{v} is not finite")
            frac = Fraction(repr(v))
            return sympy.Rational(frac.numerator, frac.denominator)
        if isinstance(v, str):
            try:
                return parse_expression(v, self.names)
            except ExpressionError as exc:
                self.fail(key, f"column {exc.column}: {exc.message}\n    {v}\n    {' ' * (exc.column - 1)}^", exc)
        self.fail(key, f"expected a number or an expression string, got {type(v).__name__}")

    # -- tensors
    def dense(self, key: str, data, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=object)

        def fill(node, idx):
            depth = len(idx)
            where = key + "".join(f"[{k}]" for k in idx)
            if depth == len(shape):
                out[idx] = self.value(where, node)
                return
            if not isinstance(node, list):
                self.fail(where, f"expected a list of {shape[depth]} entries (shape {shape})")
            if len(node) != shape[depth]:
                self.fail(where, f"has {len(node)} entries; expected {shape[depth]} (tensor shape {shape})")
            for k, child in enumerate(node):
                fill(child, idx + (k,))

        fill(data, ())
        return out

    def select(self, key: str, value, labels: tuple[str, ...], what: str, owner: str | None = None) -> list[int]:
        """Indices selected by a label, an index or ``'*'``; ``owner`` names the agent whose labels these are."""
        of = f" of agent {owner!r}" if owner is not None else ""
        if value is None or value == "*":
            return list(range(len(labels)))
        if isinstance(value, bool):
            self.fail(key, f"{value!r} is not a {what} label or index{of}")
        if isinstance(value, int):
            if not 0 <= value < len(labels):
                self.fail(key, f"{what} index {value}{of} is out of range 0..{len(labels) - 1}")
            return [value]
        if isinstance(value, str):
            if value not in labels:
                if owner is not None:
                    self.fail(key, f"unknown {what} {value!r} of agent {owner!r}; its {what}s are {list(labels)}")
                self.fail(key, f"unknown {what} {value!r}; the {what}s are {list(labels)}")
            return [labels.index(value)]
        self.fail(key, f"{value!r} must be a {what} label, an index or '*'")

    def rules(self, name: str, rules: list, shape: tuple[int, ...], dims: dict) -> np.ndarray:
        out = np.full(shape, sympy.Integer(0), dtype=object)
        agents = dims["agent"]
        n_agents = len(agents)
        for r, rule in enumerate(rules, start=1):
            where = f"{name}[{r}]"
            value = self.rule_value(name, where, rule)
            axes = []
            for field in _RULE_KEYS[name]:
                if field == "actions":
                    acts = rule.get("actions", "*")
                    if acts == "*":
                        axes.extend(list(range(len(labels))) for labels in dims["action"])
                        continue
                    if not isinstance(acts, list) or len(acts) != n_agents:
                        self.fail(f"{where}.actions", f"must be '*' or a list of one action per agent ({n_agents})")
                    axes.extend(self.select(f"{where}.actions[{k}]", a, dims["action"][k], "action",
                                            dims["action_owner"][k]) for k, a in enumerate(acts))
                else:
                    dim = {"next": "state"}.get(field, field)
                    axes.append(self.select(f"{where}.{field}", rule.get(field), dims[dim], dim))
            n = math.prod(len(a) for a in axes)
            if n > MAX_ENTRIES:
                self.fail(where, f"selects {n} entries (limit {MAX_ENTRIES})")
            out[np.ix_(*axes)] = value
        return out

    def rule_value(self, name: str, where: str, rule) -> sympy.Expr:
        """Check a rule's keys and read its value."""
        if not isinstance(rule, dict):
            self.fail(where, "rules must be tables ([[T]], [[R]], [[O]])")
        allowed = set(_RULE_KEYS[name]) | {"value"}
        unknown = sorted(set(rule) - allowed)
        if unknown:
            self.fail(f"{where}.{unknown[0]}", f"unknown key; a {name} rule has keys {sorted(allowed)}")
        if "value" not in rule:
            self.fail(where, "missing 'value'")
        return self.value(f"{where}.value", rule["value"])

    def agent_observation_tensors(self, observations: tuple[tuple[str, ...], ...], dims: dict) -> list[np.ndarray]:
        """``O`` of agents with their own observation sets: one ``(Z, Q_i)`` array per agent.

        Dense form: a list of N nested arrays, ``O[i][s][o]``; rule form: ``[[O]]`` rules
        whose ``observation`` is a label (or index) of each selected agent's own set.
        """
        data = self.doc["O"]
        agents, states = dims["agent"], dims["state"]
        Z = len(states)
        for i, obs in enumerate(observations):
            if Z * len(obs) > MAX_ENTRIES:
                self.fail(f"O[{i}]", f"has {Z * len(obs)} entries (limit {MAX_ENTRIES})")
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            out = [np.full((Z, len(obs)), sympy.Integer(0), dtype=object) for obs in observations]
            for r, rule in enumerate(data, start=1):
                where = f"O[{r}]"
                value = self.rule_value("O", where, rule)
                rows = self.select(f"{where}.state", rule.get("state"), states, "state")
                for i in self.select(f"{where}.agent", rule.get("agent"), agents, "agent"):
                    cols = self.select(f"{where}.observation", rule.get("observation"), observations[i],
                                       "observation", agents[i])
                    out[i][np.ix_(rows, cols)] = value
            return out
        if not isinstance(data, list) or len(data) != len(agents):
            self.fail("O", f"the agents have their own observation sets: give O as a list of {len(agents)} "
                           "nested arrays O[i][state][observation] (one per agent) or as [[O]] rules")
        return [self.dense(f"O[{i}]", data[i], (Z, len(obs))) for i, obs in enumerate(observations)]

    def tensor(self, name: str, shape: tuple[int, ...], dims: dict, required: bool = True):
        data = self.doc.get(name)
        if data is None:
            if required:
                self.fail(name, f"missing; give {name} as a nested array or as [[{name}]] rules")
            return None
        if math.prod(shape) > MAX_ENTRIES:
            self.fail(name, f"has {math.prod(shape)} entries (limit {MAX_ENTRIES})")
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            return self.rules(name, data, shape, dims)
        return self.dense(name, data, shape)

    def game(self) -> Game:
        doc = self.doc
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            self.fail(unknown[0], f"unknown key; a game file has keys {sorted(_TOP_KEYS)}")
        fmt = doc.get("format", FORMAT)
        if fmt != FORMAT:
            self.fail("format", f"unsupported format {fmt!r}; this crldgen reads format {FORMAT}")
        name = doc.get("name", self.default_name)
        if not isinstance(name, str) or not name:
            self.fail("name", "must be a non-empty string")
        if not isinstance(doc.get("description", ""), str):
            self.fail("description", "must be a string")
        agents = self.labels("agents")
        states = self.labels("states")
        actions = self.agent_labels("actions", agents)
        for i, acts in enumerate(actions):
            if len(acts) < 2:
                self.fail("actions" if len(set(actions)) == 1 else f"actions (agent {agents[i]!r})",
                          "need at least two actions")
        observations = self.agent_labels("observations", agents, required=False)
        params = self.parameters()
        self.names = {k: sym for k, (sym, _) in params.items()}
        N, Z, counts = len(agents), len(states), tuple(len(a) for a in actions)
        if math.prod(counts) * Z * Z * N > MAX_ENTRIES:
            acts = f"{counts[0]} actions" if len(set(counts)) == 1 else f"action counts {counts}"
            self.fail("agents", f"{N} agents with {acts} and {Z} states give more than {MAX_ENTRIES} entries")
        shared = len(set(actions)) == 1
        dims = {"agent": agents, "state": states, "action": actions,
                "action_owner": (None,) * N if shared else agents}
        T = self.tensor("T", (Z,) + counts + (Z,), dims)
        R = self.tensor("R", (N, Z) + counts + (Z,), dims)
        O = None  # noqa: E741
        if "O" in doc:
            obs = observations or (states,) * N
            if len(set(obs)) == 1:  # one observation set for every agent: O[agent, state, observation]
                dims["observation"] = obs[0]
                O = self.tensor("O", (N, Z, len(obs[0])), dims)  # noqa: E741
            else:
                O = self.agent_observation_tensors(obs, dims)  # noqa: E741
        elif observations is not None:
            self.fail("observations", "observation labels need an observation tensor O")
        actions = actions[0] if shared else actions
        if observations is not None and len(set(observations)) == 1:
            observations = observations[0]
        try:
            return Game(T, R, O, params={sym: v for sym, v in params.values()}, agents=agents, states=states,
                        actions=actions, observations=observations if O is not None else None, name=name)
        except GameError as exc:
            raise GameFileError(f"{self.source}: {exc}") from exc

