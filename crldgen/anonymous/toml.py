"""Anonymous games from TOML files, read with crldgen's whitelist expression parser (never ``eval``).

Format (``kind = "anonymous"``)::

    kind = "anonymous"
    name = "anon_ecopg"                 # optional (default: the file name)
    states = ["g", "p"]
    actions = ["c", "d"]                # count symbols k_c, k_d (k_<label>; k_<index> if not an identifier)
    n = 50                              # default number of agents (optional, default 2)

    [parameters]                        # name = default value
    qc = 0.2

    [T.p]                               # T[state][next] = T(s, k, s'); entries not given are 0
    g = "qc * k_d / n"
    p = "1 - qc * k_d / n"
    [T.g]
    g = 1

    [[R]]                               # R(s, a, k, s') by rules: state / action / next select
    value = -5                          # ("*" or omitted: all); later rules override; unset are 0
    [[R]]
    state = "p"
    action = "c"
    next = "p"
    value = "2 * k_c / n - 1"

Values are numbers or expression strings in the count symbols, ``n`` and the parameters
(numbers, names, ``+ - * / **``, parentheses), parsed by
:func:`crldgen.tomlgame.parse_expression` with its limits. Errors are
:class:`~crldgen.tomlgame.GameFileError` naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import sympy

from ..errors import GameError
from ..tomlgame import GameFileError, _GameReader
from .game import AnonymousGame

_KEYS = {"kind", "name", "description", "format", "states", "actions", "n", "parameters", "T", "R"}
_RULE_KEYS = {"state", "action", "next", "value"}


def load_anonymous_game(path: str | os.PathLike) -> AnonymousGame:
    """Read an anonymous game from a TOML file (format in the module docstring)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise GameFileError(f"{path}: cannot read the game file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise GameFileError(f"{path}: not UTF-8 text (position {exc.start})") from exc
    return loads_anonymous_game(text, source=str(path), default_name=path.stem)


def loads_anonymous_game(text: str, source: str = "<string>", default_name: str = "anonymous") -> AnonymousGame:
    """Read an anonymous game from TOML text; ``source`` names it in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GameFileError(f"{source}: TOML syntax error: {exc}") from exc
    return _AnonymousReader(doc, source, default_name).anonymous_game()


class _AnonymousReader(_GameReader):
    def _select(self, key: str, rule: dict, field: str, labels: tuple) -> list[int]:
        v = rule.get(field, "*")
        if v == "*":
            return list(range(len(labels)))
        if isinstance(v, str) and v in labels:
            return [labels.index(v)]
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(labels):
            return [v]
        self.fail(f"{key}.{field}", f"{v!r} is not one of {list(labels)} (or an index, or '*')")

    def anonymous_game(self) -> AnonymousGame:
        doc = self.doc
        unknown = sorted(set(doc) - _KEYS)
        if unknown:
            self.fail(unknown[0], f"unknown key; an anonymous game file has {sorted(_KEYS)}")
        if doc.get("kind", "anonymous") != "anonymous":
            self.fail("kind", f"{doc.get('kind')!r}: this reader reads kind = \"anonymous\"")
        states, actions = self.labels("states"), self.labels("actions")
        params = self.parameters()
        counts = AnonymousGame.count_symbols(actions)
        self.names = {name: sym for name, (sym, _) in params.items()}
        self.names.update({c.name: c for c in counts})
        self.names["n"] = sympy.Symbol("n", real=True)
        n = doc.get("n", 2)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            self.fail("n", f"{n!r} must be a positive integer (the default number of agents)")
        Z, M = len(states), len(actions)
        T = [[sympy.Integer(0)] * Z for _ in range(Z)]
        table = doc.get("T")
        if not isinstance(table, dict):
            self.fail("T", "missing or not a table; give [T.<state>] tables of <next> = value")
        for s_label, row in table.items():
            if s_label not in states or not isinstance(row, dict):
                self.fail(f"T.{s_label}", f"must be a table named by a state of {list(states)}")
            for t_label, v in row.items():
                if t_label not in states:
                    self.fail(f"T.{s_label}.{t_label}", f"{t_label!r} is not a state of {list(states)}")
                T[states.index(s_label)][states.index(t_label)] = self.value(f"T.{s_label}.{t_label}", v)
        R = [[[sympy.Integer(0)] * Z for _ in range(M)] for _ in range(Z)]
        rules = doc.get("R", [])
        if not isinstance(rules, list):
            self.fail("R", "must be an array of rule tables ([[R]])")
        for j, rule in enumerate(rules, start=1):
            key = f"R[{j}]"
            if not isinstance(rule, dict):
                self.fail(key, "must be a table with state, action, next, value")
            bad = sorted(set(rule) - _RULE_KEYS)
            if bad:
                self.fail(f"{key}.{bad[0]}", f"unknown key; rules have {sorted(_RULE_KEYS)}")
            if "value" not in rule:
                self.fail(f"{key}.value", "missing")
            value = self.value(f"{key}.value", rule["value"])
            for s in self._select(key, rule, "state", states):
                for a in self._select(key, rule, "action", actions):
                    for t in self._select(key, rule, "next", states):
                        R[s][a][t] = value
        try:
            return AnonymousGame(T, R, params={k: v for k, (_, v) in params.items()}, states=states,
                                 actions=actions, n=n, name=str(doc.get("name", self.default_name)))
        except GameError as exc:
            raise GameFileError(f"{self.source}: {exc}") from exc
