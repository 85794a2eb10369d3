"""Anonymous games with several agent types (populations); sizes are run-time parameters.

crld-math.md section 11, "several types". Types ``tau = 0..K-1`` have sizes ``n_tau``
and share the states and the ``M`` actions (the same action set for every type: the
kernel layouts assume it). The game is given by expressions in the count symbols of
every type, ``k_<action>_<type>`` (agents of that type playing that action, the focal
agent included; ``sum_b k_b_tau = n_tau``), the size symbols ``n_<type>`` and named
parameters:

* ``T[s][s']`` -- ``T(s, k_1..k_K, s')``;
* ``R[tau][s][a][s']`` -- ``R_tau(s, a, k_1..k_K, s')``, the reward of an agent of type
  tau playing ``a``.

Each type has its own learner parameters (``alpha``, ``beta``, ``gamma``: one value per
type). On the type-symmetric subspace every agent of type tau plays ``x_tau[s, :]``;
the counts of the focal agent's others are a product of multinomials, one per type, of
``n_sigma - [sigma = tau]`` agents. The compiled kernels (:mod:`crldgen.anonymous._types_kernels`)
evaluate these sums, or, when T and T*R_tau are polynomials in the counts, closed forms
from the factorial moments of the independent multinomials (:func:`expectation_types`).

Stability in the full space (derivation). Order the ``N = sum n_tau`` agents by type.
At a type-symmetric point, by exchangeability within types, the full Jacobian (logit
coordinates, blocks of size F = Z(M-1)) has diagonal blocks ``J_ii = A_tau`` (tau the type
of i: agent i's update w.r.t. its own strategy) and off-diagonal blocks
``J_ij = B_{tau sigma}`` (j != i of type sigma: w.r.t. one other agent's strategy, the
averages conditioning on that agent's action). Two kinds of invariant subspaces:

* symmetry breaking inside type tau: ``v_j = c_j w`` for the agents j of type tau with
  ``sum_j c_j = 0`` and ``v = 0`` elsewhere. For i of type tau,
  ``(J v)_i = A_tau c_i w + B_tautau (sum_{j != i} c_j) w = (A_tau - B_tautau) c_i w``; for i
  of another type sigma, ``(J v)_i = B_{sigma tau} (sum_j c_j) w = 0``. So the eigenvalues
  of ``A_tau - B_tautau`` appear ``n_tau - 1`` times each;
* type-symmetric modes: ``v_j = w_sigma`` for every j of type sigma. For i of type tau,
  ``(J v)_i = (A_tau + (n_tau - 1) B_tautau) w_tau + sum_{sigma != tau} n_sigma B_{tau sigma} w_sigma``:
  the ``K F x K F`` matrix ``S`` with diagonal blocks ``A_tau + (n_tau - 1) B_tautau`` and
  off-diagonal blocks ``n_sigma B_{tau sigma}`` (the Jacobian of the map restricted to the
  type-symmetric subspace).

The dimensions add up: ``K F + sum_tau (n_tau - 1) F = N F``, and the vectors above span
the whole space, so these are all eigenvalues (with multiplicity) of the full Jacobian.
"""

from __future__ import annotations

import hashlib
import itertools
import keyword
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy

from .._version import __version__
from ..codegen.printer import expr_code
from ..codegen.writer import write_atomic
from ..errors import GameError, ParameterError
from ..game import OPTION_NAMES, RESERVED_NAMES, Game, _to_sympy
from ..runtime.loader import FORMAT, HEADER_LINES, default_cache_dir, header_problem, load_module
from .codegen import say_before_compile
from .game import ANONYMOUS_RESERVED, composition_vectors
from .symbolic import MAX_MOMENT_DEGREE

_KERNELS = Path(__file__).with_name("_types_kernels.py")
_PROB_ATOL = 1e-12
_SUM_ATOL = 1e-10
#: at most this many count vectors are checked in Python by ``validate`` (the kernels check every T row they use)
MAX_VALIDATE = 200_000
TYPES_FORMAT = 1
#: keywords of TypedDynamics methods that take parameter overrides (not usable as parameter names)
TYPES_RESERVED = frozenset({"sizes", "steps", "tol", "tmax", "every", "x", "y", "x0", "normalize", "direction",
                            "method", "max_iter", "module", "path", "learner", "prefactor", "cache_dir"})


def _ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def typed_count_name(action: str, b: int, type_label: str) -> str:
    """``k_<action>_<type>`` (``k_<index>_<type>`` when the action label is not an identifier)."""
    name = f"k_{action}_{type_label}"
    return name if _ident(name) else f"k_{b}_{type_label}"


class TypedAnonymousGame:
    """An anonymous game with several agent types (see the module docstring).

    Parameters
    ----------
    T : array_like of expressions, shape ``(Z, Z)``
        ``T[s][s']`` in the counts of every type, the sizes and the parameters.
    R : array_like of expressions, shape ``(K, Z, M, Z)``
        ``R[tau][s][a][s']``: reward of an agent of type tau playing ``a``.
    types : sequence of str
        Type labels (identifiers; ``K >= 1``).
    sizes : sequence of int
        Default sizes ``n_tau >= 1`` (run-time parameters of the compiled dynamics).
    states, actions : sequence of str
        Labels; the actions are shared by all types (``M >= 2``).
    params : mapping
        ``{name: default}``.
    name : str
    check : bool
        Validate at the default sizes and parameters.
    """

    def __init__(self, T: Any, R: Any, *, types: Sequence[str], sizes: Sequence[int], states: Sequence[str],
                 actions: Sequence[str], params: Mapping[str, float] | None = None, name: str = "anon_types",
                 check: bool = True) -> None:
        self.name = str(name)
        if not self.name.replace("_", "").isalnum():
            raise GameError(f"game name {self.name!r} must consist of letters, digits and _")
        self.types = tuple(str(t) for t in types)
        self.states = tuple(str(s) for s in states)
        self.actions = tuple(str(a) for a in actions)
        for what, labels in (("types", self.types), ("states", self.states), ("actions", self.actions)):
            if len(set(labels)) != len(labels):
                raise GameError(f"{what} labels {labels} are not unique")
        for t in self.types:
            if not _ident(t):
                raise GameError(f"type label {t!r} must be a Python identifier (it names the symbols n_{t}, k_..._{t})")
        self.n_types, self.n_states, self.n_actions = len(self.types), len(self.states), len(self.actions)
        if self.n_types < 1 or self.n_states < 1 or self.n_actions < 2:
            raise GameError(f"need at least one type, one state and two actions, got types={self.types}, "
                            f"states={self.states}, actions={self.actions}")
        self.sizes = self.check_sizes(sizes)
        self.count_names = tuple(tuple(typed_count_name(a, b, t) for b, a in enumerate(self.actions))
                                 for t in self.types)
        flat = [c for row in self.count_names for c in row]
        self.size_names = tuple(f"n_{t}" for t in self.types)
        if len(set(flat + list(self.size_names))) != len(flat) + self.n_types:
            raise GameError(f"count symbols {self.count_names} and sizes {self.size_names} are not unique")
        self.counts = tuple(tuple(sympy.Symbol(c, real=True) for c in row) for row in self.count_names)
        self.size_symbols = tuple(sympy.Symbol(c, real=True) for c in self.size_names)
        self._init_params(params or {}, set(flat) | set(self.size_names))
        self.T = self._table(T, "T", (self.n_states, self.n_states))
        self.R = self._table(R, "R", (self.n_types, self.n_states, self.n_actions, self.n_states))
        if check:
            self.validate()

    # ------------------------------------------------------------ set-up
    def check_sizes(self, sizes) -> tuple[int, ...]:
        """``sizes`` as a tuple of K positive integers (GameError otherwise)."""
        try:
            sizes = tuple(sizes)
        except TypeError as exc:
            raise GameError(f"sizes = {sizes!r}: expected one size per type {self.types}") from exc
        if len(sizes) != self.n_types:
            raise GameError(f"sizes = {sizes!r}: expected {self.n_types} sizes, one per type {self.types}")
        for t, n in zip(self.types, sizes):
            if isinstance(n, (bool, np.bool_)) or not float(n).is_integer() or n < 1:
                raise GameError(f"size of type {t!r} = {n!r}: must be a positive integer")
        return tuple(int(n) for n in sizes)

    @staticmethod
    def count_symbols(actions: Sequence[str], types: Sequence[str]) -> tuple[tuple[sympy.Symbol, ...], ...]:
        """``counts[tau][b]``: the symbols ``k_<action>_<type>`` to build T and R with."""
        return tuple(tuple(sympy.Symbol(typed_count_name(str(a), b, str(t)), real=True)
                           for b, a in enumerate(actions)) for t in types)

    @staticmethod
    def size_symbols_of(types: Sequence[str]) -> tuple[sympy.Symbol, ...]:
        """The size symbols ``n_<type>``."""
        return tuple(sympy.Symbol(f"n_{t}", real=True) for t in types)

    def _init_params(self, params: Mapping[str, float], taken: set) -> None:
        self.params: dict[str, float] = {}
        for key, value in params.items():
            pname = key.name if isinstance(key, sympy.Symbol) else key
            if not isinstance(pname, str) or not _ident(pname):
                raise GameError(f"parameter name {pname!r} is not a Python identifier")
            if pname in taken or pname in RESERVED_NAMES or pname in OPTION_NAMES or pname in ANONYMOUS_RESERVED \
                    or pname in TYPES_RESERVED:
                raise GameError(f"parameter name {pname!r} is reserved (a count or size symbol, or a name crldgen "
                                "uses); choose another name")
            try:
                v = float(value)
            except (TypeError, ValueError) as exc:
                raise GameError(f"default value of parameter {pname!r} must be a number, got {value!r}") from exc
            if not math.isfinite(v):
                raise GameError(f"default value of parameter {pname!r} is {v}; it must be finite")
            self.params[pname] = v
        self.param_symbols = tuple(sympy.Symbol(p, real=True) for p in self.params)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.params)

    def _all_symbols(self):
        return tuple(c for row in self.counts for c in row) + self.size_symbols + self.param_symbols

    def _table(self, data: Any, tname: str, shape: tuple) -> np.ndarray:
        try:
            arr = np.array(data, dtype=object)
        except ValueError as exc:
            raise GameError(f"{tname} is ragged: {exc}") from exc
        if arr.shape != shape:
            dims = "(Z, Z) = T[s][s']" if tname == "T" else "(K, Z, M, Z) = R[type][s][a][s']"
            raise GameError(f"{tname} has shape {arr.shape}; expected {shape} {dims}")
        by_name = {s.name: s for s in self._all_symbols()}
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            e = _to_sympy(arr[idx], tname, idx, piecewise=True)
            repl = {}
            for sym in e.free_symbols:
                canon = by_name.get(getattr(sym, "name", None))
                if canon is None:
                    raise GameError(f"{tname}{list(idx)} = {e} uses unknown symbol {sym}; allowed are the counts "
                                    f"{[list(r) for r in self.count_names]}, the sizes {list(self.size_names)} and "
                                    f"the parameters {list(self.params)}")
                if canon is not sym:
                    repl[sym] = canon
            e = e.xreplace(repl) if repl else e
            if e.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise GameError(f"{tname}{list(idx)} = {e} is not a finite real expression")
            out[idx] = e
        return out

    # ------------------------------------------------------------ validation
    def _subs(self, sizes, values: Mapping[str, float]) -> dict:
        for k in values:
            if k not in self.params:
                raise GameError(f"game {self.name!r} has no parameter {k!r}; it has {list(self.params)}")
        subs = {sym: sympy.Integer(n) for sym, n in zip(self.size_symbols, sizes)}
        for sym, (pname, default) in zip(self.param_symbols, self.params.items()):
            subs[sym] = sympy.Float(float(values.get(pname, default)), precision=53)
        return subs

    def count_vectors(self, sizes):
        """All count tuples ``k[tau][b]`` of agents of sizes ``sizes`` (product over types)."""
        return itertools.product(*[list(composition_vectors(n, self.n_actions)) for n in sizes])

    def validate(self, sizes: Sequence[int] | None = None, **values: float) -> None:
        """Check T (probabilities summing to 1) and R (finite) at every count vector of ``sizes``.

        The row sums of T must also be 1 identically once ``k_<last>_<type> = n_<type> - sum
        of the type's other counts``. Raises :class:`~crldgen.GameError` naming the tensor,
        type, state, count vector and value.
        """
        sizes = self.sizes if sizes is None else self.check_sizes(sizes)
        last = {row[-1]: n - sympy.Add(*row[:-1]) for row, n in zip(self.counts, self.size_symbols)}
        for s in range(self.n_states):
            total = sympy.Add(*self.T[s]).xreplace(last)
            if sympy.expand(total - 1) != 0 and sympy.simplify(total - 1) != 0:
                raise GameError(f"T[{self.states[s]!r}, k, :] sums to {total} over s', not identically 1 "
                                "(with sum_b k_b_type = n_type); probabilities must sum to 1")
        total_vectors = math.prod(math.comb(n + self.n_actions - 1, self.n_actions - 1) for n in sizes)
        if total_vectors > MAX_VALIDATE:
            return  # the compiled kernels check every T row they evaluate
        subs = self._subs(sizes, values)
        at = f" at sizes {dict(zip(self.types, sizes))}" + (f", parameters {dict(self.params, **values)}"
                                                            if self.params else "")
        flat_counts = [c for row in self.counts for c in row]
        T = np.vectorize(lambda e: e.xreplace(subs), otypes=[object])(self.T)
        R = np.vectorize(lambda e: e.xreplace(subs), otypes=[object])(self.R)
        fT = sympy.lambdify([flat_counts], T.tolist(), modules="math")
        fR = sympy.lambdify([flat_counts], R.tolist(), modules="math")
        for k in self.count_vectors(sizes):
            flat = [v for row in k for v in row]
            kd = {c: v for c, v in zip((c for row in self.count_names for c in row), flat)}
            try:
                Tk, Rk = fT(flat), fR(flat)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
                raise GameError(f"T or R at k={kd} cannot be evaluated{at}: {exc}") from exc
            for s in range(self.n_states):
                row = np.array(Tk[s], dtype=float)
                for t, v in enumerate(row):
                    if not np.isfinite(v) or v < -_PROB_ATOL or v > 1 + _PROB_ATOL:
                        raise GameError(f"T[{self.states[s]!r}, k={kd}, {self.states[t]!r}] = {v:.6g}{at} is not "
                                        "a probability in [0, 1]")
                if abs(row.sum() - 1.0) > _SUM_ATOL:
                    raise GameError(f"T[{self.states[s]!r}, k={kd}, :] sums to {row.sum():.12g}{at}; each row must "
                                    "sum to 1")
                for tau in range(self.n_types):
                    for a in range(self.n_actions):
                        if k[tau][a] < 1:
                            continue
                        rr = np.array(Rk[tau][s][a], dtype=float)
                        bad = np.flatnonzero(~np.isfinite(rr))
                        if len(bad):
                            raise GameError(f"R[{self.types[tau]!r}, {self.states[s]!r}, {self.actions[a]!r}, "
                                            f"k={kd}, {self.states[bad[0]]!r}] = {rr[bad[0]]}{at} is not finite")

    # ------------------------------------------------------------ interop
    def agent_types(self, sizes: Sequence[int] | None = None) -> list[int]:
        """The type of each agent of the expanded game (agents ordered by type)."""
        sizes = self.sizes if sizes is None else self.check_sizes(sizes)
        return [tau for tau, n in enumerate(sizes) for _ in range(n)]

    def expand(self, sizes: Sequence[int] | None = None) -> Game:
        """The full :class:`crldgen.Game` of ``sum(sizes)`` agents, ordered by type (small sizes only).

        ``T[s, b_0..b_{N-1}, s'] = T(s, k(b), s')``, ``R[i, s, b, s'] = R_{type(i)}(s, b_i, k(b), s')``
        with ``k(b)[tau][a]`` the number of agents of type tau playing a in the joint action b.
        """
        sizes = self.sizes if sizes is None else self.check_sizes(sizes)
        owner = self.agent_types(sizes)
        N, Z, M = len(owner), self.n_states, self.n_actions
        if M ** N > 2_000_000:
            raise GameError(f"expand(sizes={sizes}) would build {M}**{N} joint actions; the full game is only "
                            "feasible for small sizes (use the anonymous dynamics instead)")
        nsub = {sym: sympy.Integer(n) for sym, n in zip(self.size_symbols, sizes)}
        cache: dict = {}
        T = np.empty((Z,) + (M,) * N + (Z,), dtype=object)
        R = np.empty((N, Z) + (M,) * N + (Z,), dtype=object)
        for joint in itertools.product(range(M), repeat=N):
            k = tuple(tuple(sum(1 for i in range(N) if owner[i] == tau and joint[i] == b) for b in range(M))
                      for tau in range(self.n_types))
            if k not in cache:
                sub = dict(nsub)
                for tau in range(self.n_types):
                    sub.update({c: sympy.Integer(v) for c, v in zip(self.counts[tau], k[tau])})
                cache[k] = (np.vectorize(lambda e: e.xreplace(sub), otypes=[object])(self.T),
                            np.vectorize(lambda e: e.xreplace(sub), otypes=[object])(self.R))
            Tk, Rk = cache[k]
            for s in range(Z):
                T[(s,) + joint] = Tk[s]
                for i in range(N):
                    R[(i, s) + joint] = Rk[owner[i], s, joint[i]]
        params = dict(zip(self.param_symbols, self.params.values()))
        return Game(T, R, params=params, states=self.states, actions=self.actions,
                    name=f"{self.name}_" + "_".join(str(n) for n in sizes))

    def canonical(self) -> str:
        """Canonical text (tables, names, labels) for cache keys; the default sizes are not part of it."""
        parts = [f"name={self.name}", f"K{self.n_types} Z{self.n_states} M{self.n_actions}",
                 "params=" + ";".join(self.params), "labels=" + repr((self.types, self.states, self.actions))]
        for tname, tab in (("T", self.T), ("R", self.R)):
            parts.append(tname + "=" + "|".join(sympy.srepr(e) for e in tab.flat))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (f"TypedAnonymousGame({self.name!r}, types={self.types}, sizes={self.sizes}, Z={self.n_states}, "
                f"M={self.n_actions}, params={self.params})")


# ---------------------------------------------------------------- code generation
def cache_key(game: TypedAnonymousGame, method: str = "auto") -> str:
    """sha256 of the game, the method, the kernel library, this generator and the versions."""
    if method not in ("auto", "sum", "moments"):
        raise ParameterError(f"method must be 'auto', 'sum' or 'moments', got {method!r}")
    h = hashlib.sha256()
    for part in (game.canonical(), method, _KERNELS.read_text(encoding="utf-8"),
                 Path(__file__).read_text(encoding="utf-8"),
                 str(TYPES_FORMAT), str(FORMAT), __version__, sympy.__version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _polynomial(expr, gens):
    """``expr`` as a Poly in the counts (coefficients in the sizes and parameters), or None."""
    expr = sympy.expand(expr)
    if not expr.is_polynomial(*gens):
        return None
    poly = sympy.Poly(expr, *gens)
    return poly if poly.total_degree() <= MAX_MOMENT_DEGREE else None


def expectation_types(poly, shift, m_values, xs, n_actions: int):
    """``E[poly(k' + shift)]`` when the others' counts of each type are independent multinomials.

    ``poly`` is a Poly in the flat counts (type-major, ``n_actions`` per type), ``shift`` the
    fixed agents' counts (flat), ``m_values[tau]`` the number of others of type tau and
    ``xs[tau][b]`` their strategy. Powers become falling factorials (Stirling numbers of the
    second kind) and ``E[prod_tau prod_b (k'_tb)_{j_tb}] = prod_tau (m_tau)_{J_tau} prod_b x_tb^{j_tb}``
    (``J_tau = sum_b j_tb``; zero when ``J_tau > m_tau``), the types being independent.
    """
    from sympy.functions.combinatorial.numbers import stirling

    gens = poly.gens
    shifted = sympy.Poly(sympy.expand(poly.as_expr().xreplace({g: g + d for g, d in zip(gens, shift) if d})),
                         *gens)
    flat_x = [x for row in xs for x in row]
    total = sympy.Integer(0)
    for monom, coeff in shifted.terms():
        coeff = shifted.domain.to_sympy(coeff)
        parts = [[(sympy.Integer(1), 0)] if e == 0 else [(stirling(e, j), j) for j in range(1, e + 1)]
                 for e in monom]
        for combo in itertools.product(*parts):
            term = coeff * sympy.Mul(*[sc for sc, _ in combo])
            for tau, m in enumerate(m_values):
                js = [j for _, j in combo[tau * n_actions:(tau + 1) * n_actions]]
                term *= sympy.Mul(*[m - i for i in range(sum(js))])
            term *= sympy.Mul(*[x ** j for x, (_, j) in zip(flat_x, combo)])
            total += term
    return total


_NO_MOMENTS = '''@numba.njit(cache=True, no_cfunc_wrapper=True)
def moment_averages(x, n, theta, Tsa, Rsa):
    """Not generated (T or T*R is not a polynomial in the counts): the count sums are used."""
    return -1


@numba.njit(cache=True, no_cfunc_wrapper=True)
def moment_pair_averages(x, n, theta, tau, sigma, Tpair, Rpair):
    return -1'''


def _moment_functions(game: TypedAnonymousGame, subs: dict) -> str | None:
    """Closed-form ``moment_averages`` / ``moment_pair_averages`` when T and T*R_tau are polynomials."""
    K, Z, M = game.n_types, game.n_states, game.n_actions
    gens = [c for row in game.counts for c in row]
    pT = [[_polynomial(game.T[s, t], gens) for t in range(Z)] for s in range(Z)]
    pTR = [[[[_polynomial(game.T[s, t] * game.R[tau, s, a, t], gens) for t in range(Z)] for a in range(M)]
             for s in range(Z)] for tau in range(K)]
    if any(p is None for row in pT for p in row) or any(p is None for b1 in pTR for b2 in b1 for b3 in b2 for p in b3):
        return None
    xs = [[sympy.Symbol(f"xb{tau}_{b}", real=True) for b in range(M)] for tau in range(K)]
    nn = [subs[c] for c in game.size_symbols]
    prologue = [f"    nn{tau} = n[{tau}]" for tau in range(K)] + \
        [f"    th{j} = theta[{j}]" for j in range(len(game.params))]

    def state_block(s, tau, sigma, indent):
        m_values = [nn[sg] - int(sg == tau) - int(sg == sigma) for sg in range(K)]
        lines = [f"{indent}xb{sg}_{b} = x[{(sg * Z + s) * M + b}]" for sg in range(K) for b in range(M)]
        exprs, targets = [], []
        for a in range(M):
            for c in (range(M) if sigma is not None else [None]):
                shift = [int(tt == tau and b == a) + int(sigma is not None and tt == sigma and b == c)
                         for tt in range(K) for b in range(M)]
                if sigma is None:
                    j, tname, rname = (tau * Z + s) * M + a, "Tsa", "Rsa"
                else:
                    j, tname, rname = (s * M + a) * M + c, "Tpair", "Rpair"
                for t in range(Z):
                    exprs.append(expectation_types(pT[s][t], shift, m_values, xs, M).xreplace(subs))
                    targets.append(f"{tname}[{j * Z + t}]")
                exprs.append(sympy.Add(*[expectation_types(pTR[tau][s][a][t], shift, m_values, xs, M)
                                         for t in range(Z)]).xreplace(subs))
                targets.append(f"{rname}[{j}]")
        return lines + _block(exprs, targets, indent)

    out = ["@numba.njit(cache=True, no_cfunc_wrapper=True)", "def moment_averages(x, n, theta, Tsa, Rsa):",
           '    """Closed-form focal averages of every type (factorial moments of the others\' multinomials)."""']
    out += prologue
    for tau in range(K):
        for s in range(Z):
            out += state_block(s, tau, None, "    ")
    out += ["    return 0", "", "", "@numba.njit(cache=True, no_cfunc_wrapper=True)",
            "def moment_pair_averages(x, n, theta, tau, sigma, Tpair, Rpair):",
            '    """Closed-form averages given the focal action a (type tau) and one other agent\'s c (type sigma)."""']
    out += prologue
    first = True
    for tau in range(K):
        for sigma in range(K):
            out.append(f"    {'if' if first else 'elif'} tau == {tau} and sigma == {sigma}:")
            first = False
            for s in range(Z):
                out += state_block(s, tau, sigma, "        ")
    out += ["    return 0"]
    return "\n".join(out)


def _block(exprs: list, targets: list[str], indent: str) -> list[str]:
    reps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("u"), order="none")
    lines = [f"{indent}{sym} = {expr_code(e)}" for sym, e in reps]
    lines += [f"{indent}{tgt} = {expr_code(e)}" for tgt, e in zip(targets, reduced)]
    return lines


def _safe_symbols(game: TypedAnonymousGame) -> dict:
    K = game.n_types
    subs = {c: sympy.Symbol(f"kk{tau}_{b}", real=True) for tau in range(K) for b, c in enumerate(game.counts[tau])}
    subs.update({c: sympy.Symbol(f"nn{tau}", real=True) for tau, c in enumerate(game.size_symbols)})
    subs.update({p: sympy.Symbol(f"th{j}", real=True) for j, p in enumerate(game.param_symbols)})
    return subs


def _game_functions(game: TypedAnonymousGame) -> str:
    K, Z, M = game.n_types, game.n_states, game.n_actions
    subs = _safe_symbols(game)
    prologue = [f"    kk{tau}_{b} = k[{tau * M + b}]" for tau in range(K) for b in range(M)] + \
        [f"    nn{tau} = n[{tau}]" for tau in range(K)] + [f"    th{j} = theta[{j}]" for j in range(len(game.params))]
    out = ["@numba.njit(cache=True, no_cfunc_wrapper=True)", "def game_T(s, k, n, theta, out):",
           '    """``out[s\'] = T(s, k, s\')`` (k: float counts k[type*M + action], n: float sizes)."""']
    out += prologue
    for s in range(Z):
        out.append(f"    {'if' if s == 0 else 'elif'} s == {s}:")
        out += _block([game.T[s, t].xreplace(subs) for t in range(Z)], [f"out[{t}]" for t in range(Z)], " " * 8)
    out += ["", "", "@numba.njit(cache=True, no_cfunc_wrapper=True)", "def game_R(tau, s, a, k, n, theta, out):",
            '    """``out[s\'] = R_tau(s, a, k, s\')`` (an agent of type tau playing a; k includes it)."""']
    out += prologue
    for tau in range(K):
        out.append(f"    {'if' if tau == 0 else 'elif'} tau == {tau}:")
        for s in range(Z):
            out.append(f"        {'if' if s == 0 else 'elif'} s == {s}:")
            for a in range(M):
                out.append(f"            {'if' if a == 0 else 'elif'} a == {a}:")
                out += _block([game.R[tau, s, a, t].xreplace(subs) for t in range(Z)],
                              [f"out[{t}]" for t in range(Z)], " " * 16)
    return "\n".join(out)


def generate_source(game: TypedAnonymousGame, key: str | None = None, method: str = "auto") -> str:
    """The text of the module of ``game`` (header, constants, game functions, kernels)."""
    key = key or cache_key(game, method)
    moments = None if method == "sum" else _moment_functions(game, _safe_symbols(game))
    if method == "moments" and moments is None:
        raise GameError(f"game {game.name!r}: method='moments' needs T and T*R polynomial in the counts "
                        f"(total degree <= {MAX_MOMENT_DEGREE}); use method='sum' or 'auto'")
    kernels = _KERNELS.read_text(encoding="utf-8")
    kernels = kernels[kernels.index("#: count vectors"):]
    body = "\n".join([
        f'"""Multi-type anonymous-game CRLD module of {game.name!r} (generated by crldgen.anonymous.types; do not '
        'edit)."""',
        "",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        f"KEY = {key!r}",
        f"GAME = {game.name!r}",
        f"N_TYPES = {game.n_types}",
        f"N_STATES = {game.n_states}",
        f"N_ACTIONS = {game.n_actions}",
        f"PARAM_NAMES = {game.param_names!r}",
        f"TYPES = {game.types!r}",
        f"STATES = {game.states!r}",
        f"ACTIONS = {game.actions!r}",
        f"COUNT_NAMES = {game.count_names!r}",
        f"USE_MOMENTS = {moments is not None}",
        "",
        "",
        _game_functions(game),
        "",
        "",
        moments if moments is not None else _NO_MOMENTS,
        "",
        "",
        kernels,
    ])
    header = [f"# crldgen-key: {key}", f"# crldgen-format: {FORMAT}",
              f"# crldgen-body-sha256: {hashlib.sha256(body.encode()).hexdigest()}",
              "# crldgen-kind: anonymous-types", f"# crldgen-game: {game.name}", "#"]
    assert len(header) == HEADER_LINES
    return "\n".join(header) + "\n" + body


def generate(game: TypedAnonymousGame, cache_dir: str | os.PathLike | None = None, method: str = "auto") -> Path:
    """Write the module of ``game`` (atomically; a valid file is kept) and return its path."""
    key = cache_key(game, method)
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = base / f"{game.name}_{key[:12]}.py"
    if not (path.exists() and header_problem(path, key) is None):
        write_atomic(path, generate_source(game, key, method))
    return path


def compile_types(game: TypedAnonymousGame, learner: str = "sarsa", prefactor: bool = True, *, cache_dir=None,
                  sizes: Sequence[int] | None = None, method: str = "auto", alpha=0.05, beta=50.0, gamma=0.75,
                  **game_params):
    """Generate (if needed), import and wrap the module: a :class:`~crldgen.anonymous.types_dynamics.TypedDynamics`.

    ``sizes`` (default: the game's) and the parameters are defaults; ``alpha``, ``beta``,
    ``gamma`` are scalars (all types) or one value per type. Every method overrides them
    per call (``sizes=(50, 50)``, ``gamma=(0.8, 0.9)``, game parameters by name).
    ``method``: ``'sum'`` (product-multinomial count sums, any T and R), ``'moments'``
    (closed form from factorial moments when T and T*R_tau are polynomials in the counts;
    cost independent of the sizes) or ``'auto'`` (moments when possible).
    """
    from .types_dynamics import TypedDynamics

    key = cache_key(game, method)
    path = generate(game, cache_dir, method)
    module = load_module(path, key)
    say_before_compile(game, module, path)
    defaults = dict(game.params, **game_params)
    return TypedDynamics(module, learner=learner, prefactor=prefactor,
                         sizes=game.sizes if sizes is None else game.check_sizes(sizes),
                         alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)


# ---------------------------------------------------------------- built-in
def two_group_public_good(sizes: Sequence[int] = (2, 2), f=(1.2, 1.2), c=(5.0, 5.0), m=-5.0, qc=0.2,
                          qr=0.01) -> TypedAnonymousGame:
    """The ecological public good with two groups ``'a'``, ``'b'`` (own synergy ``f_<g>`` and cost ``c_<g>``).

    ``N = n_a + n_b`` agents share one resource (states ``('g', 'p')``, actions
    ``('c', 'd')``). In 'p' the contributions of all cooperators are pooled,
    ``pool = c_a k_c_a + c_b k_c_b``, and a group-g agent gets ``f_g pool / N`` minus
    its own cost ``c_g`` if it cooperated; collapse probability ``qc (k_d_a + k_d_b) / N``
    (impact ``m`` on that transition and in every step in 'g'), recovery ``qr``. With
    equal parameters for both groups its expansion is the one-group game of N agents.
    """
    (kca, kda), (kcb, kdb) = TypedAnonymousGame.count_symbols(("c", "d"), ("a", "b"))
    na, nb = TypedAnonymousGame.size_symbols_of(("a", "b"))
    fa, fb, ca, cb, m_, qc_, qr_ = (sympy.Symbol(s, real=True) for s in ("f_a", "f_b", "c_a", "c_b", "m", "qc", "qr"))
    N = na + nb
    collapse = qc_ * (kda + kdb) / N
    pool = ca * kca + cb * kcb
    T = [[1 - qr_, qr_], [collapse, 1 - collapse]]
    R = [[[[m_, m_], [m_, m_]], [[m_, f * pool / N - cost], [m_, f * pool / N]]]
         for f, cost in ((fa, ca), (fb, cb))]
    return TypedAnonymousGame(T, R, types=("a", "b"), sizes=sizes, states=("g", "p"), actions=("c", "d"),
                              params={"f_a": f[0], "f_b": f[1], "c_a": c[0], "c_b": c[1], "m": m, "qc": qc, "qr": qr},
                              name="anon_two_group_pg")
