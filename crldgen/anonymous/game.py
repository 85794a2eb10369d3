"""Anonymous (count-based) games: one type of exchangeable agents, n a parameter.

crld-math.md section 11. An anonymous game has ``Z`` states and ``M`` actions; agent
i's reward and the transitions depend on the state, agent i's own action and the
*counts* ``k = (k_0, ..., k_{M-1})`` of agents playing each action (the focal agent
included, ``sum k = n``). It is given by two tables of sympy expressions in the count
symbols, the number of agents ``n`` and named parameters:

* ``T[s][s']`` -- ``T(s, k, s')``, the probability of moving from ``s`` to ``s'``;
* ``R[s][a][s']`` -- ``R(s, a, k, s')``, the reward of an agent that played ``a``.

Symbols are matched by *name*: ``k_<action label>`` for the counts (see
:meth:`AnonymousGame.count_symbols`; ``k_<index>`` when a label is not an identifier),
``n`` for the number of agents, and the parameter names. Text is never parsed.

Only one agent type is supported (one population; every agent has the same actions
and the same learner parameters).
"""

from __future__ import annotations

import itertools
import keyword
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from ..errors import GameError
from ..game import OPTION_NAMES, RESERVED_NAMES, Game, _to_sympy

_PROB_ATOL = 1e-12
_SUM_ATOL = 1e-10
#: names the anonymous layer uses itself: kernel arguments and the keywords of AnonymousDynamics methods that
#: take parameter overrides (kept in sync by a test)
ANONYMOUS_RESERVED = frozenset({"n", "k", "s", "a", "x", "w", "x0", "x0s", "dedupe", "method", "relax"})


def count_name(label: str, index: int) -> str:
    """Name of the count symbol of action ``label`` (``k_<label>``, or ``k_<index>``)."""
    name = f"k_{label}"
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"k_{index}"


def composition_vectors(n: int, n_actions: int):
    """All count vectors ``k`` (tuples of length ``n_actions``, ``k >= 0``, ``sum k = n``)."""
    if n_actions == 1:
        yield (n,)
        return
    for first in range(n, -1, -1):
        for rest in composition_vectors(n - first, n_actions - 1):
            yield (first,) + rest


class AnonymousGame:
    """An anonymous game of ``n`` exchangeable agents (crld-math section 11).

    Parameters
    ----------
    T : array_like of expressions, shape ``(Z, Z)``
        ``T[s][s'] = T(s, k, s')`` in the count symbols, ``n`` and the parameters.
    R : array_like of expressions, shape ``(Z, M, Z)``
        ``R[s][a][s'] = R(s, a, k, s')``, the reward of an agent playing ``a``
        (``k`` includes that agent, so ``k_a >= 1``).
    params : mapping
        ``{name: default}`` of the named game parameters.
    states, actions : sequence of str
        Labels (``Z`` states, ``M >= 2`` actions).
    n : int
        Default number of agents (a run-time parameter of the compiled dynamics).
    name : str
        Short name (names generated modules).
    check : bool
        Validate at the default ``n`` and parameters (default True).
    """

    def __init__(self, T: Any, R: Any, *, params: Mapping[str, float] | None = None,
                 states: Sequence[str], actions: Sequence[str], n: int = 2, name: str = "anonymous",
                 check: bool = True) -> None:
        self.name = str(name)
        if not self.name.replace("_", "").isalnum():
            raise GameError(f"game name {self.name!r} must consist of letters, digits and _")
        self.states = tuple(str(s) for s in states)
        self.actions = tuple(str(a) for a in actions)
        for what, labels in (("states", self.states), ("actions", self.actions)):
            if len(set(labels)) != len(labels):
                raise GameError(f"{what} labels {labels} are not unique")
        self.n_states, self.n_actions = len(self.states), len(self.actions)
        if self.n_states < 1 or self.n_actions < 2:
            raise GameError(f"need at least one state and two actions, got states={self.states}, "
                            f"actions={self.actions}")
        self.n = self._check_n(n, "n")
        self.count_names = tuple(count_name(a, b) for b, a in enumerate(self.actions))
        if len(set(self.count_names)) != self.n_actions:
            raise GameError(f"count symbol names {self.count_names} are not unique; use distinct action labels")
        self.counts = tuple(sympy.Symbol(c, real=True) for c in self.count_names)
        self.n_symbol = sympy.Symbol("n", real=True)
        self._init_params(params or {})
        self.T = self._table(T, "T", (self.n_states, self.n_states))
        self.R = self._table(R, "R", (self.n_states, self.n_actions, self.n_states))
        if check:
            self.validate()

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _check_n(n, what: str) -> int:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise GameError(f"{what} = {n!r}: the number of agents must be a positive integer")
        return int(n)

    @classmethod
    def count_symbols(cls, actions: Sequence[str]) -> tuple[sympy.Symbol, ...]:
        """The count symbols ``k_<label>`` for these action labels (to build T and R with)."""
        return tuple(sympy.Symbol(count_name(str(a), b), real=True) for b, a in enumerate(actions))

    def _init_params(self, params: Mapping[str, float]) -> None:
        self.params: dict[str, float] = {}
        taken = set(self.count_names) | {"n"}
        for key, value in params.items():
            pname = key.name if isinstance(key, sympy.Symbol) else key
            if not isinstance(pname, str) or not pname.isidentifier() or keyword.iskeyword(pname):
                raise GameError(f"parameter name {pname!r} is not a Python identifier")
            if pname in taken or pname in RESERVED_NAMES or pname in OPTION_NAMES or pname in ANONYMOUS_RESERVED:
                raise GameError(f"parameter name {pname!r} is reserved (a count symbol, n, or a name crldgen "
                                "uses); choose another name")
            if pname in self.params:
                raise GameError(f"parameter {pname!r} is given twice")
            try:
                v = float(value)
            except (TypeError, ValueError) as exc:
                raise GameError(f"default value of parameter {pname!r} must be a number, got {value!r}") from exc
            if not math.isfinite(v):
                raise GameError(f"default value of parameter {pname!r} is {v}; it must be finite")
            self.params[pname] = v
        self.param_symbols = tuple(sympy.Symbol(p, real=True) for p in self.params)

    def _table(self, data: Any, tname: str, shape: tuple) -> np.ndarray:
        try:
            arr = np.array(data, dtype=object)
        except ValueError as exc:
            raise GameError(f"{tname} is ragged: {exc}") from exc
        if arr.shape != shape:
            dims = "(Z, Z) = T[s][s']" if tname == "T" else "(Z, M, Z) = R[s][a][s']"
            raise GameError(f"{tname} has shape {arr.shape}; expected {shape} {dims}")
        by_name = {s.name: s for s in self.counts + (self.n_symbol,) + self.param_symbols}
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            e = _to_sympy(arr[idx], tname, idx, piecewise=True)
            repl = {}
            for sym in e.free_symbols:
                canon = by_name.get(getattr(sym, "name", None))
                if canon is None:
                    raise GameError(
                        f"{tname}{list(idx)} = {e} uses unknown symbol {sym}; allowed are the counts "
                        f"{list(self.count_names)}, n and the parameters {list(self.params)}")
                if canon is not sym:
                    repl[sym] = canon
            e = e.xreplace(repl) if repl else e
            if e.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise GameError(f"{tname}{list(idx)} = {e} is not a finite real expression")
            out[idx] = e
        return out

    # ------------------------------------------------------------ queries
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.params)

    def symbol(self, name: str) -> sympy.Symbol:
        """The symbol of a parameter, a count (``k_c``) or ``n``."""
        for s in self.param_symbols + self.counts + (self.n_symbol,):
            if s.name == name:
                return s
        raise GameError(f"game {self.name!r} has no symbol {name!r}")

    def _values(self, n: int, values: Mapping[str, float]) -> dict:
        for k in values:
            if k not in self.params:
                raise GameError(f"game {self.name!r} has no parameter {k!r}; it has {list(self.params)}")
        subs = {self.n_symbol: sympy.Integer(n)}
        for sym, (pname, default) in zip(self.param_symbols, self.params.items()):
            subs[sym] = sympy.Float(float(values.get(pname, default)), precision=53)
        return subs

    def _numeric_tables(self, n: int, values: Mapping[str, float]):
        """Callables ``T(s, k) -> (Z,)`` and ``R(s, a, k) -> (Z,)`` at ``n`` and the parameters."""
        subs = self._values(n, values)
        T = np.vectorize(lambda e: e.xreplace(subs), otypes=[object])(self.T)
        R = np.vectorize(lambda e: e.xreplace(subs), otypes=[object])(self.R)
        fT = sympy.lambdify([self.counts], T.tolist(), modules="math")
        fR = sympy.lambdify([self.counts], R.tolist(), modules="math")
        return fT, fR

    def validate(self, n: int | None = None, **values: float) -> None:
        """Check the game at ``n`` agents (default: ``self.n``) and the parameters.

        For every state and every count vector ``k`` (``sum k = n``): ``T(s, k, :)``
        are probabilities in [0, 1] summing to 1, and ``R(s, a, k, :)`` is finite for
        every action with ``k_a >= 1``. Symbolically, each row of ``T`` must sum to 1
        identically once ``k_{M-1} = n - sum of the other counts``. Raises
        :class:`~crldgen.GameError` naming the tensor, state, count vector and value.
        """
        n = self.n if n is None else self._check_n(n, "n")
        at = f" at n={n}" + (f", parameters {dict(self.params, **values)}" if self.params else "")
        last = {self.counts[-1]: self.n_symbol - sympy.Add(*self.counts[:-1])}
        for s in range(self.n_states):
            total = sympy.Add(*self.T[s]).xreplace(last)
            if sympy.expand(total - 1) != 0 and sympy.simplify(total - 1) != 0:
                raise GameError(f"T[{self.states[s]!r}, k, :] sums to {total} over s', not identically 1 "
                                "(with sum k = n); probabilities must sum to 1 for every count vector")
        fT, fR = self._numeric_tables(n, values)
        for k in composition_vectors(n, self.n_actions):
            kd = dict(zip(self.count_names, k))
            for s in range(self.n_states):
                try:
                    row = np.array(fT(k)[s], dtype=float)
                except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
                    raise GameError(f"T[{self.states[s]!r}, k={kd}, :] cannot be evaluated{at}: {exc}") from exc
                for t, v in enumerate(row):
                    if not np.isfinite(v) or v < -_PROB_ATOL or v > 1 + _PROB_ATOL:
                        raise GameError(f"T[{self.states[s]!r}, k={kd}, {self.states[t]!r}] = {v:.6g}{at} is not "
                                        "a probability in [0, 1]")
                if abs(row.sum() - 1.0) > _SUM_ATOL:
                    raise GameError(f"T[{self.states[s]!r}, k={kd}, :] sums to {row.sum():.12g}{at}; each row "
                                    "must sum to 1")
                for a in range(self.n_actions):
                    if k[a] < 1:
                        continue
                    try:
                        rr = np.array(fR(k)[s][a], dtype=float)
                    except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
                        raise GameError(f"R[{self.states[s]!r}, {self.actions[a]!r}, k={kd}, :] cannot be "
                                        f"evaluated{at}: {exc}") from exc
                    bad = np.flatnonzero(~np.isfinite(rr))
                    if len(bad):
                        raise GameError(f"R[{self.states[s]!r}, {self.actions[a]!r}, k={kd}, "
                                        f"{self.states[bad[0]]!r}] = {rr[bad[0]]}{at} is not finite")

    # ------------------------------------------------------------ interop
    def expand(self, n: int | None = None) -> Game:
        """The full :class:`crldgen.Game` of ``n`` agents (``M**n`` joint actions: small n only).

        ``T[s, b_0..b_{n-1}, s'] = T(s, k(b), s')`` and ``R[i, s, b, s'] = R(s, b_i, k(b), s')``
        with ``k(b)`` the action counts of the joint action ``b``; the parameters keep
        their names and defaults.
        """
        n = self.n if n is None else self._check_n(n, "n")
        if self.n_actions ** n > 2_000_000:
            raise GameError(f"expand(n={n}) would build {self.n_actions}**{n} joint actions; the full game is "
                            "only feasible for small n (use the anonymous dynamics instead)")
        Z, M = self.n_states, self.n_actions
        nsub = {self.n_symbol: sympy.Integer(n)}
        cache: dict = {}
        T = np.empty((Z,) + (M,) * n + (Z,), dtype=object)
        R = np.empty((n, Z) + (M,) * n + (Z,), dtype=object)
        for joint in itertools.product(range(M), repeat=n):
            k = tuple(joint.count(b) for b in range(M))
            if k not in cache:
                sub = {**nsub, **{c: sympy.Integer(v) for c, v in zip(self.counts, k)}}
                cache[k] = (np.vectorize(lambda e: e.xreplace(sub), otypes=[object])(self.T),
                            np.vectorize(lambda e: e.xreplace(sub), otypes=[object])(self.R))
            Tk, Rk = cache[k]
            for s in range(Z):
                T[(s,) + joint] = Tk[s]
                for i in range(n):
                    R[(i, s) + joint] = Rk[s, joint[i]]
        params = dict(zip(self.param_symbols, self.params.values()))
        return Game(T, R, params=params, states=self.states, actions=self.actions, name=f"{self.name}_n{n}")

    def canonical(self) -> str:
        """A canonical text (tables, parameter names, labels) for cache keys; the default n is not part of it."""
        parts = [f"name={self.name}", f"Z{self.n_states} M{self.n_actions}",
                 "params=" + ";".join(self.params), "labels=" + repr((self.states, self.actions)),
                 "counts=" + ";".join(self.count_names)]
        for tname, tab in (("T", self.T), ("R", self.R)):
            parts.append(tname + "=" + "|".join(sympy.srepr(e) for e in tab.flat))
        return "\n".join(parts)

    def averages_closed_form(self) -> dict:
        """Closed-form strategy averages when T and T*R are polynomial in the counts.

        See :func:`crldgen.anonymous.symbolic.averages_closed_form`.
        """
        from .symbolic import averages_closed_form

        return averages_closed_form(self)

    def latex(self, closed_form: bool = False) -> str:
        """LaTeX of the count sums of section 11 and of this game's T and R entries.

        ``closed_form=True`` adds the averages ``T_x(s, a, s')`` and ``R_x(s, a)`` in closed
        form (polynomial games only), in the strategy entries ``x_{s a}`` and n.
        """
        from sympy import latex

        ks = ", ".join(latex(c) for c in self.counts)
        lines = [
            r"P(k') &= \frac{(n-1)!}{\prod_b k'_b!} \prod_b x_{s b}^{k'_b}, \quad \textstyle\sum_b k'_b = n - 1",
            r"T_{\mathbf{x}}(s, a, s') &= \sum_{k'} P(k')\, T(s, k' + e_a, s')",
            r"R_{\mathbf{x}}(s, a) &= \sum_{k'} P(k') \sum_{s'} T(s, k' + e_a, s')\, R(s, a, k' + e_a, s')",
            r"T_{\mathbf{x}}(s, s') &= \sum_a x_{sa} T_{\mathbf{x}}(s, a, s')",
        ]
        for s, sl in enumerate(self.states):
            for t, tl in enumerate(self.states):
                lines.append(rf"T({sl}, ({ks}), {tl}) &= {latex(self.T[s, t])}")
        for s, sl in enumerate(self.states):
            for a, al in enumerate(self.actions):
                for t, tl in enumerate(self.states):
                    lines.append(rf"R({sl}, {al}, ({ks}), {tl}) &= {latex(self.R[s, a, t])}")
        if closed_form:
            av = self.averages_closed_form()
            for s, sl in enumerate(self.states):
                for a, al in enumerate(self.actions):
                    for t, tl in enumerate(self.states):
                        lines.append(rf"T_{{\mathbf{{x}}}}({sl}, {al}, {tl}) &= {latex(av['Tsa'][s, a, t])}")
                    lines.append(rf"R_{{\mathbf{{x}}}}({sl}, {al}) &= {latex(av['Rsa'][s, a])}")
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def __repr__(self) -> str:
        return (f"AnonymousGame({self.name!r}, n={self.n}, Z={self.n_states}, M={self.n_actions}, "
                f"params={self.params})")
