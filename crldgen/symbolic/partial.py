"""Partial observability: CRLD with observation-based strategies (crld-math.md section 7).

Index conventions
-----------------
``X[i, o, a]`` observation-based strategies (agent, observation, action);
``Y[i, s, a] = sum_o O[i,s,o] X[i,o,a]`` the state-based strategy they induce;
``Ps[s]`` the stationary distribution of ``Tss`` (the transition matrix under ``Y``);
``B[i, o, s]`` beliefs; values ``V[i, o]`` and ``Q[i, o, a]`` live on observations.
Free coordinates are the log-ratios ``y[i, o, a] = ln(X[i,o,a] / X[i,o,M-1])``,
``a < M-1``, flattened as ``k = (i*Q + o)*(M-1) + a``.

Heterogeneous games (agent ``i`` with ``M_i`` actions and ``Q_i`` observations,
``O[i]`` of shape ``(Z, Q_i)``): every sum over actions or observations runs over the
agent's own range, and the per-agent quantities are flat agent-major arrays (see
:mod:`crldgen.symbolic.model`): ``Y`` blocks ``(Z, M_i)``, ``beliefs`` ``(Q_i, Z)``,
``Rioa`` ``(Q_i, M_i)``, ``Tioao`` ``(Q_i, M_i, Q_i)``, ``Rio`` ``(Q_i,)``, ``Tioo``
``(Q_i, Q_i)``, ``V`` ``(Q_i,)``, ``Q`` ``(Q_i, M_i)``.

The quantities, in order (each one a named program symbol):

1. ``Y[i,s,a] = sum_o O[i,s,o] X[i,o,a]``;
2. state-based averages ``Tisas[i,s,a,s']``, ``Risa[i,s,a]`` (crld-math.md section 2
   with ``Y`` in place of ``X``), ``Tss[s,s'] = sum_a Y[0,s,a] Tisas[0,s,a,s']``,
   ``Ris[i,s] = sum_a Y[i,s,a] Risa[i,s,a]``;
3. ``Ps``: the solution of ``(Tss^T - Id) Ps = 0`` with the last equation replaced by
   ``sum_s Ps[s] = 1`` -- emitted as a :class:`~crldgen.symbolic.program.LinearSolve`
   (partial pivoting), because ``Ps`` is not a polynomial. The system is singular
   exactly when the stationary distribution is not unique (``Tss`` has more than one
   closed class); the generated solver then returns NaN and the runtime raises a clear
   error instead of silently picking one distribution;
4. beliefs ``B[i,o,s] = O[i,s,o] Ps[s] / D[i,o]`` with
   ``D[i,o] = sum_s O[i,s,o] Ps[s]``, and ``B[i,o,:] = 0`` where ``D[i,o] == 0``
   (an observation that is never made in the long run);
5. ``Rioa[i,o,a] = sum_s B[i,o,s] Risa[i,s,a]``,
   ``Tioao[i,o,a,o'] = sum_s B[i,o,s] sum_s' Tisas[i,s,a,s'] O[i,s',o']``;
6. ``Rio[i,o] = sum_a X[i,o,a] Rioa[i,o,a]``, ``Tioo[i,o,o'] = sum_a X[i,o,a] Tioao[i,o,a,o']``;
7. ``V[i,:] = p_i (Id - gamma_i Tioo[i])^-1 Rio[i,:]``,
   ``Q[i,o,a] = p_i Rioa[i,o,a] + gamma_i sum_o' Tioao[i,o,a,o'] V[i,o']``, and the TD
   errors / logit step of sections 3-4 with ``o`` in place of ``s``.

Convention (crld-math.md section 7, note on step 4): the focal agent ``i`` in
observation ``o`` acts with its own observation strategy ``X[i,o,:]`` -- never with the
state mixture ``Y[i,s,:]``. The other agents act with ``Y`` (they do not see agent
``i``'s observation). Tools that build ``Tioo`` and ``Rio`` from ``Y`` for the focal agent
too (``Tioo = B Tss O``, ``Rio = B Ris``) give different numbers under noisy
observations; with ``O`` the identity both agree with full observability.

Everything here is sympy; nothing imports numba.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np
import sympy

from ..errors import GameError, ParameterError
from ..game import Game
from .model import Model, RaggedArray, _sym_agent_array, flat_data, keys, to_array
from .program import LinearSolve, Program

#: outputs :func:`po_program` can produce
PO_OUTPUTS = frozenset({
    "Y", "Tss", "Ris", "Tisas", "Risa", "Ps", "beliefs", "Rioa", "Tioao", "Rio", "Tioo",
    "V", "Q", "td_error", "logit_step", "jacobian",
})

#: long-run observation probabilities at or below this count as zero in generated code
BELIEF_TOL = 1e-12


def check_po_supported(game: Game) -> None:
    """Check that ``game`` can be derived under partial observability (raises :class:`GameError`)."""
    O = game.O  # noqa: E741 - paper notation
    if O is None:
        raise GameError(f"game {game.name!r} is fully observed (O is None); partial observability needs O")
    if isinstance(O, tuple):
        if len(O) != game.n_agents:
            raise GameError(f"O of game {game.name!r} has {len(O)} per-agent arrays; expected {game.n_agents}")
        for i, Oi in enumerate(O):
            if Oi.ndim != 2 or Oi.shape[0] != game.n_states or Oi.shape[1] < 1:
                raise GameError(f"O[{i}] (agent {i}) of game {game.name!r} has shape {Oi.shape}; expected "
                                f"(Z={game.n_states}, Q_{i}>=1)")
        return
    if O.ndim != 3 or O.shape[:2] != (game.n_agents, game.n_states) or O.shape[2] < 1:
        raise GameError(
            f"O of game {game.name!r} has shape {O.shape}; expected (N={game.n_agents}, Z={game.n_states}, Q>=1)"
        )


def _is_zero(expr) -> bool:
    return expr == 0


class POModel(Model):
    """Symbolic CRLD of a partially observed game (see the module docstring).

    Made by :func:`crldgen.derive` for games with an observation tensor ``O``. Differs
    from :class:`~crldgen.symbolic.model.Model` in that

    * ``X``, ``V``, ``Q``, TD errors and updates are over observations;
    * ``Tss``, ``Ris``, ``Tisas``, ``Risa`` are state-based averages under
      ``Y = O X`` (expressions in ``X`` and the game parameters);
    * the stationary distribution enters through the symbols :attr:`Ps`, defined by
      :attr:`stationary_equations`; beliefs and observation averages are in terms of
      them;
    * :meth:`program` / :meth:`jacobian_program` build straight-line programs with a
      :class:`~crldgen.symbolic.program.LinearSolve` for ``Ps``.
    """

    def __init__(self, game: Game, learner) -> None:
        super().__init__(game, learner)
        N, Z, M = self.n_agents, self.n_states, self.action_counts
        self._Ysym = _sym_agent_array(N, lambda i: (Z, M[i]), not self.ragged, "Y_{}_{}_{}", real=True)
        #: the (Z, Q_i) observation matrix of each agent
        self._O = tuple(game.agent_O(i) for i in range(N))
        self._Ps = np.array([sympy.Symbol(f"Ps_{s}", real=True) for s in range(Z)], dtype=object)

    # ------------------------------------------------ state-based strategies
    @property
    def _XS(self) -> np.ndarray:
        """The averages of the base class are built from the symbols ``Y_i_s_a``."""
        return self._Ysym

    @cached_property
    def _Yexpr(self) -> np.ndarray:
        Z, M, Qc = self.n_states, self.action_counts, self.obs_counts
        O = self._O  # noqa: E741
        out = self._agent_array(lambda i: (Z, M[i]))
        for i, s, a in keys(out):
            out[i, s, a] = sympy.Add(*[O[i][s, o] * self._Xr[i, o, a] for o in range(Qc[i])])
        return out

    @cached_property
    def _Ysubs(self) -> dict:
        return {self._Ysym[idx]: self._Yexpr[idx] for idx in keys(self._Ysym)}

    def _in_X(self, arr: np.ndarray) -> sympy.ImmutableDenseNDimArray:
        subs = self._Ysubs
        arr = flat_data(arr)
        out = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            out[idx] = sympy.sympify(arr[idx]).xreplace(subs)
        return to_array(out)

    Y = property(lambda self: to_array(self._Yexpr), doc="Y[i, s, a] = sum_o O[i,s,o] X[i,o,a]")
    Tss = property(lambda self: self._in_X(self._Tss), doc="Tss[s, s'] transition matrix under Y")
    Ris = property(lambda self: self._in_X(self._Ris), doc="Ris[i, s] expected reward under Y")
    Tisas = property(lambda self: self._in_X(self._Tisas), doc="Tisas[i, s, a, s'] under Y for the others")
    Risa = property(lambda self: self._in_X(self._Risa), doc="Risa[i, s, a] under Y for the others")

    # ------------------------------------------ stationary distribution, beliefs
    @property
    def Ps(self) -> sympy.ImmutableDenseNDimArray:
        """Symbols ``Ps[s]`` of the stationary distribution (see :attr:`stationary_equations`)."""
        return to_array(self._Ps)

    @cached_property
    def stationary_equations(self) -> list[sympy.Eq]:
        """``Ps[s'] = sum_s Ps[s] Tss[s, s']`` for ``s' < Z-1`` and ``sum_s Ps[s] = 1``."""
        Z = self.n_states
        Tss = self.Tss
        eqs = [sympy.Eq(self._Ps[sp], sympy.Add(*[self._Ps[s] * Tss[s, sp] for s in range(Z)]))
               for sp in range(Z - 1)]
        eqs.append(sympy.Eq(sympy.Add(*self._Ps), 1))
        return eqs

    @cached_property
    def _beliefs(self) -> np.ndarray:
        N, Z, Qc = self.n_agents, self.n_states, self.obs_counts
        O = self._O  # noqa: E741
        out = self._agent_array(lambda i: (Qc[i], Z))
        for i, o in ((i, o) for i in range(N) for o in range(Qc[i])):
            den = sympy.Add(*[O[i][s, o] * self._Ps[s] for s in range(Z)])
            for s in range(Z):
                if _is_zero(den) or _is_zero(O[i][s, o]):
                    out[i, o, s] = sympy.Integer(0)
                else:
                    out[i, o, s] = sympy.Piecewise((O[i][s, o] * self._Ps[s] / den, sympy.Ne(den, 0)), (0, True))
        return out

    beliefs = property(lambda self: to_array(self._beliefs),
                       doc="B[i, o, s] beliefs in terms of the Ps symbols (0 where the observation has probability 0)")

    @cached_property
    def _Rioa(self) -> np.ndarray:
        Z, M, Qc = self.n_states, self.action_counts, self.obs_counts
        Risa = self._in_X_agent(self._Risa)
        out = self._agent_array(lambda i: (Qc[i], M[i]))
        for i, o, a in keys(out):
            out[i, o, a] = sympy.Add(*[self._beliefs[i, o, s] * Risa[i, s, a] for s in range(Z)])
        return out

    @cached_property
    def _Tioao(self) -> np.ndarray:
        Z, M, Qc = self.n_states, self.action_counts, self.obs_counts
        O = self._O  # noqa: E741
        Tisas = self._in_X_agent(self._Tisas)
        out = self._agent_array(lambda i: (Qc[i], M[i], Qc[i]))
        for i, o, a, op in keys(out):
            out[i, o, a, op] = sympy.Add(*[
                self._beliefs[i, o, s] * Tisas[i, s, a, sp] * O[i][sp, op]
                for s in range(Z) for sp in range(Z)])
        return out

    def _in_X_agent(self, arr):
        """``arr`` (numpy or RaggedArray) with the Y symbols replaced by their expressions in X."""
        if not isinstance(arr, RaggedArray):
            return self._in_X(arr)
        out = arr.copy()
        subs = self._Ysubs
        for idx in keys(arr):
            out[idx] = sympy.sympify(arr[idx]).xreplace(subs)
        return out

    @cached_property
    def _Rio(self) -> np.ndarray:
        X, R, M = self._Xr, self._Rioa, self.action_counts
        out = self._agent_array(lambda i: (self.obs_counts[i],))
        for i, o in keys(out):
            out[i, o] = sympy.Add(*[X[i, o, a] * R[i, o, a] for a in range(M[i])])
        return out

    @cached_property
    def _Tioo(self) -> np.ndarray:
        M, Qc = self.action_counts, self.obs_counts
        X, T = self._Xr, self._Tioao
        out = self._agent_array(lambda i: (Qc[i], Qc[i]))
        for i, o, op in keys(out):
            out[i, o, op] = sympy.Add(*[X[i, o, a] * T[i, o, a, op] for a in range(M[i])])
        return out

    Rioa = property(lambda self: to_array(self._Rioa), doc="Rioa[i, o, a] reward given observation and own action")
    Tioao = property(lambda self: to_array(self._Tioao), doc="Tioao[i, o, a, o'] observation transitions")
    Rio = property(lambda self: to_array(self._Rio), doc="Rio[i, o] = sum_a X[i,o,a] Rioa[i,o,a]")
    Tioo = property(lambda self: to_array(self._Tioo), doc="Tioo[i, o, o'] = sum_a X[i,o,a] Tioao[i,o,a,o']")

    # ----------------------------------------------------------- values
    @cached_property
    def _value_tensors(self):
        """Values live on observations: ``(Tioo, Rio, Tioao, Rioa)`` (in terms of X and Ps)."""
        return self._Tioo, self._Rio, self._Tioao, self._Rioa

    # ---------------------------------------------------------- programs
    def program(self, outputs) -> tuple[Program, dict]:
        """See :func:`po_program`."""
        return po_program(self, outputs)

    def jacobian_program(self, symbolic_averages: bool = True) -> tuple[Program, sympy.Matrix]:
        """See :func:`po_jacobian_program` (``symbolic_averages`` is always on here)."""
        return po_jacobian_program(self)

    def __repr__(self) -> str:
        return (f"POModel({self.game!r}, learner={self.learner.kind!r}, "
                f"prefactor={self.learner.prefactor})")


def _as_po_model(model: Model) -> POModel:
    if isinstance(model, POModel):
        return model
    if model.game.fully_observed:
        raise GameError(f"game {model.game.name!r} is fully observed; use Model.program")
    return POModel(model.game, model.learner)


# --------------------------------------------------------------- the program
class _Builder:
    """Builds the PO forward program and, on request, its forward-mode derivative."""

    def __init__(self, model: POModel, prog: Program) -> None:
        self.m = model
        self.prog = prog
        self.piecewise_inverse: dict = {}  # Dinv symbol -> D symbol
        self.value_range = (0, 0)  # statement indices of the inverse + V block

    def forward(self, need_inverse: bool) -> dict:
        m, prog = self.m, self.prog
        N, Z, Mc, Qc = m.n_agents, m.n_states, m.action_counts, m.obs_counts
        O, X = m._O, m._Xr  # noqa: E741

        Y = m._Ysym.copy()
        for idx in keys(Y):
            prog.statements.append((m._Ysym[idx], m._Yexpr[idx]))

        def named(tag, arr):
            out = arr.copy() if isinstance(arr, RaggedArray) else np.empty(arr.shape, dtype=object)
            for idx in keys(arr):
                out[idx] = prog.new(arr[idx], f"{tag}_" + "_".join(map(str, idx)))
            return out

        Tisas = named("Tisas", m._Tisas)
        Risa = named("Risa", m._Risa)
        Tss = np.empty((Z, Z), dtype=object)
        for s, sp in itertools.product(range(Z), range(Z)):
            Tss[s, sp] = prog.new(sympy.Add(*[Y[0, s, a] * Tisas[0, s, a, sp] for a in range(Mc[0])]),
                                  f"Tss_{s}_{sp}")
        Ris = np.empty((N, Z), dtype=object)
        for i, s in itertools.product(range(N), range(Z)):
            Ris[i, s] = prog.new(sympy.Add(*[Y[i, s, a] * Risa[i, s, a] for a in range(Mc[i])]), f"Ris_{i}_{s}")

        # stationary distribution: (Tss^T - Id) Ps = 0 with the last row replaced by sum Ps = 1
        if Z == 1:
            Ps = np.array([sympy.Integer(1)], dtype=object)
        else:
            A = sympy.Matrix(Z, Z, lambda r, c: 1 if r == Z - 1 else Tss[c, r] - int(r == c))
            B = sympy.Matrix(Z, 1, lambda r, c: int(r == Z - 1))
            prog.statements.append(LinearSolve(sympy.Matrix(Z, 1, list(m._Ps)), A, B))
            Ps = m._Ps.copy()

        # beliefs
        Bel = m._agent_array(lambda i: (Qc[i], Z))
        for i, o in ((i, o) for i in range(N) for o in range(Qc[i])):
            D = prog.new(sympy.Add(*[O[i][s, o] * Ps[s] for s in range(Z)]), f"D_{i}_{o}")
            if _is_zero(D):
                for s in range(Z):
                    Bel[i, o, s] = sympy.Integer(0)
                continue
            # an observation made with long-run probability <= BELIEF_TOL is treated as never
            # made: the stationary solve leaves ~1e-17 on transient states instead of 0
            Dinv = prog.new(sympy.Piecewise((1 / D, D > BELIEF_TOL), (0, True)), f"Dinv_{i}_{o}")
            if isinstance(Dinv, sympy.Symbol):
                self.piecewise_inverse[Dinv] = D
            for s in range(Z):
                Bel[i, o, s] = prog.new(O[i][s, o] * Ps[s] * Dinv, f"B_{i}_{o}_{s}")

        TO = m._agent_array(lambda i: (Z, Mc[i], Qc[i]))
        for i, s, a, op in keys(TO):
            TO[i, s, a, op] = prog.new(sympy.Add(*[Tisas[i, s, a, sp] * O[i][sp, op] for sp in range(Z)]),
                                       f"TO_{i}_{s}_{a}_{op}")
        Rioa = m._agent_array(lambda i: (Qc[i], Mc[i]))
        for i, o, a in keys(Rioa):
            Rioa[i, o, a] = prog.new(sympy.Add(*[Bel[i, o, s] * Risa[i, s, a] for s in range(Z)]),
                                     f"Rioa_{i}_{o}_{a}")
        Tioao = m._agent_array(lambda i: (Qc[i], Mc[i], Qc[i]))
        for i, o, a, op in keys(Tioao):
            Tioao[i, o, a, op] = prog.new(sympy.Add(*[Bel[i, o, s] * TO[i, s, a, op] for s in range(Z)]),
                                          f"Tioao_{i}_{o}_{a}_{op}")
        Rio = m._agent_array(lambda i: (Qc[i],))
        for i, o in keys(Rio):
            Rio[i, o] = prog.new(sympy.Add(*[X[i, o, a] * Rioa[i, o, a] for a in range(Mc[i])]), f"Rio_{i}_{o}")
        Tioo = m._agent_array(lambda i: (Qc[i], Qc[i]))
        for i, o, op in keys(Tioo):
            Tioo[i, o, op] = prog.new(sympy.Add(*[X[i, o, a] * Tioao[i, o, a, op] for a in range(Mc[i])]),
                                      f"Tioo_{i}_{o}_{op}")

        start = len(prog.statements)
        V, W = m.value_program(prog, Tioo, Rio, need_inverse=need_inverse)
        self.value_range = (start, len(prog.statements))
        Varr = m._agent_array(lambda i: (Qc[i],))
        for idx, v in V.items():
            Varr[idx] = v
        Qarr = m._agent_array(lambda i: (Qc[i], Mc[i]))
        for i, o, a in keys(Qarr):
            Qarr[i, o, a] = prog.new(m.pre[i] * Rioa[i, o, a] + m.gamma[i] * sympy.Add(
                *[Tioao[i, o, a, op] * Varr[i, op] for op in range(Qc[i])]), f"Q_{i}_{o}_{a}")
        Wd = {i: sympy.Matrix(Qc[i], Qc[i], lambda r, c: W[i, r, c]) for i in range(N)} if need_inverse else {}
        return dict(Y=Y, Tisas=Tisas, Risa=Risa, Tss=Tss, Ris=Ris, Ps=Ps, beliefs=Bel, Rioa=Rioa, Tioao=Tioao,
                    Rio=Rio, Tioo=Tioo, V=Varr, Q=Qarr, W=Wd)

    # ------------------------------------------------------------ derivative
    def jacobian(self, res: dict, stop: int) -> sympy.Matrix:
        """Forward-mode derivative of statements ``[0, stop)`` in the log-ratio directions.

        Assignments are differentiated with sympy (partial derivatives are named once
        and reused by every direction); the stationary-distribution solve by its implicit
        derivative ``A dPs = -dA Ps`` (one :class:`LinearSolve` with a column per
        direction, same ``A``); the value block by ``dV = W (p dRio + gamma dTioo V)``.
        """
        m, prog = self.m, self.prog
        N, Mc, Qc = m.n_agents, m.action_counts, m.obs_counts
        X = m._Xr
        n = m.n_free
        zero = sympy.Integer(0)
        d: dict = {}  # symbol -> list of n derivatives (0 or a symbol/small expression)
        for j, o2, c in m.layout.y_coords:
            k = m.free_index(j, o2, c)
            for a in range(Mc[j]):
                d.setdefault(X[j, o2, a], [zero] * n)[k] = X[j, o2, a] * (int(a == c) - X[j, o2, c])

        def directional(expr):
            """``[(partial, symbol)]`` of ``expr`` w.r.t. symbols with derivatives, or None."""
            expr = sympy.sympify(expr)
            deps = sorted((u for u in expr.free_symbols if u in d), key=lambda s: s.name)
            parts = [(p, u) for u in deps if (p := sympy.diff(expr, u)) != 0]
            return parts or None

        def combine(parts, k):
            return sympy.Add(*[p * d[u][k] for p, u in parts if d[u][k] != 0])

        v_lo, v_hi = self.value_range
        values_done = False
        for idx in range(stop):
            if idx == v_lo:
                self._value_derivative(res, d, n)
                values_done = True
            if v_lo <= idx < v_hi:
                continue
            st = prog.statements[idx]
            if isinstance(st, LinearSolve):
                self._solve_derivative(st, d, directional, combine, n)
                continue
            sym, expr = st
            if sym in self.piecewise_inverse:
                # d Dinv / d D = -Dinv^2, which is 0 where D == 0 like Dinv itself
                D = self.piecewise_inverse[sym]
                parts = [(-sym * sym, D)] if D in d else None
            else:
                parts = directional(expr)
            if parts is None:
                continue
            named = [(p if p.is_Atom else prog.new(p, f"P_{sym.name}__{u.name}"), u) for p, u in parts]
            ds = [zero] * n
            for k in range(n):
                e = combine(named, k)
                if e != 0:
                    ds[k] = prog.new(e, f"d{sym.name}__k{k}")
            if any(x != 0 for x in ds):
                d[sym] = ds
        if not values_done:
            self._value_derivative(res, d, n)

        # Jacobian of y' = y + alpha (delta[a] - delta[M-1]) from dQ
        Qarr = res["Q"]

        def dq(i, o, a, k):
            q = Qarr[i, o, a]
            return d[q][k] if q in d else zero

        J = sympy.zeros(n, n)
        for i, o, a in m.layout.y_coords:
            r = m.free_index(i, o, a)
            for k in range(n):
                dD = m.beta[i] * (dq(i, o, a, k) - dq(i, o, Mc[i] - 1, k))
                if m.learner.log_strategy_in_error and r == k:
                    dD -= 1
                J[r, k] = int(r == k) + m.alpha[i] * dD
        return J

    def _solve_derivative(self, st: LinearSolve, d, directional, combine, n) -> None:
        """``A x = B`` gives ``A dx = dB - dA x`` for every direction (one solve, many columns)."""
        prog = self.prog
        size = st.A.shape[0]
        x = st.targets
        if st.targets.shape[1] != 1:
            raise NotImplementedError("derivative of a multi-column LinearSolve")  # pragma: no cover
        partsA = {(r, c): directional(st.A[r, c]) for r in range(size) for c in range(size)}
        partsB = {r: directional(st.B[r, 0]) for r in range(size)}
        cols, rhs = [], []
        for k in range(n):
            col = []
            for r in range(size):
                e = combine(partsB[r], k) if partsB[r] else sympy.Integer(0)
                e -= sympy.Add(*[combine(partsA[r, c], k) * x[c, 0] for c in range(size) if partsA[r, c]])
                col.append(e)
            if any(e != 0 for e in col):
                cols.append(k)
                rhs.append(col)
        if not cols:
            return
        base = x[0, 0].name.rsplit("_", 1)[0]
        targets = sympy.Matrix(size, len(cols), lambda r, c: sympy.Symbol(f"d{base}_{r}__k{cols[c]}", real=True))
        Bm = sympy.Matrix(size, len(cols), lambda r, c: rhs[c][r])
        prog.statements.append(LinearSolve(targets, st.A, Bm))
        for r in range(size):
            ds = [sympy.Integer(0)] * n
            for c, k in enumerate(cols):
                ds[k] = targets[r, c]
            d[x[r, 0]] = ds

    def _value_derivative(self, res: dict, d, n) -> None:
        """``dV[i,:] = W_i (p_i dRio[i,:] + gamma_i dTioo[i] V[i,:])`` as named statements."""
        m, prog = self.m, self.prog
        zero = sympy.Integer(0)
        Rio, Tioo, V, W = res["Rio"], res["Tioo"], res["V"], res["W"]

        def der(sym, k):
            return d[sym][k] if sym in d else zero

        for i in range(m.n_agents):
            Q = m.obs_counts[i]
            for k in range(n):
                g = []
                for op in range(Q):
                    e = m.pre[i] * der(Rio[i, op], k) + m.gamma[i] * sympy.Add(
                        *[der(Tioo[i, op, oq], k) * V[i, oq] for oq in range(Q)])
                    g.append(prog.new(e, f"g_{i}_{op}__k{k}") if e != 0 else zero)
                if all(x == 0 for x in g):
                    continue
                for o in range(Q):
                    e = sympy.Add(*[W[i][o, op] * g[op] for op in range(Q) if g[op] != 0])
                    if e != 0:
                        d.setdefault(V[i, o], [zero] * n)[k] = prog.new(e, f"d{V[i, o].name}__k{k}")


def _build(model: Model, outputs) -> tuple[Program, dict]:
    m = _as_po_model(model)
    outputs = set(outputs)
    unknown = outputs - PO_OUTPUTS
    if unknown:
        raise ParameterError(
            f"unknown output(s) {sorted(unknown)} under partial observability; choose from {sorted(PO_OUTPUTS)}"
        )
    Mc = m.action_counts
    prog = Program("t")
    b = _Builder(m, prog)
    want_j = "jacobian" in outputs
    res = b.forward(need_inverse=want_j)
    X = m._Xr
    if "td_error" in outputs:
        td = m._agent_array(lambda i: (m.obs_counts[i], Mc[i]))
        for i, o, a in keys(td):
            if m.learner.log_strategy_in_error:
                td[i, o, a] = m.beta[i] * res["Q"][i, o, a] - sympy.log(X[i, o, a])
            else:
                td[i, o, a] = m.beta[i] * (res["Q"][i, o, a] - res["V"][i, o])
        res["td_error"] = td
    if "logit_step" in outputs:
        step = m._agent_array(lambda i: (m.obs_counts[i], Mc[i] - 1))
        for i, o, a in keys(step):
            dlt = m.beta[i] * (res["Q"][i, o, a] - res["Q"][i, o, Mc[i] - 1])
            yv = m._yr[i, o, a]
            step[i, o, a] = (yv + m.alpha[i] * (dlt - yv)) if m.learner.log_strategy_in_error \
                else (yv + m.alpha[i] * dlt)
        res["logit_step"] = step
    if want_j:
        J = b.jacobian(res, stop=len(prog.statements))
        res["jacobian"] = np.array(J.tolist(), dtype=object).reshape(J.shape)
    return prog, {k: flat_data(res[k]) for k in outputs}


def po_program(model: Model, outputs) -> tuple[Program, dict]:
    """A straight-line program computing ``outputs`` under partial observability.

    ``outputs`` is a subset of :data:`PO_OUTPUTS`: the outputs of
    :meth:`Model.program <crldgen.symbolic.model.Model.program>` (``'Tss', 'Ris',
    'Tisas', 'Risa'`` are state-based, under ``Y``; ``'V', 'Q', 'td_error',
    'logit_step', 'jacobian'`` are over observations) plus ``'Ps'`` (stationary
    distribution, shape ``(Z,)``), ``'beliefs'`` (``B[i, o, s]``), ``'Y'``, ``'Rioa'``,
    ``'Tioao'``, ``'Rio'``, ``'Tioo'``. Returns ``(program, {name: object array})``;
    inputs are ``X[i,o,a]``, ``y[i,o,a]``, the game parameters and learner symbols.

    The program contains one :class:`~crldgen.symbolic.program.LinearSolve` for
    ``Ps`` (and, with ``'jacobian'``, one for its derivative). When the stationary
    distribution is not unique the solve is singular: the generated helper returns NaN
    and the runtime raises an error naming the strategy. The focal agent acts with
    ``X[i,o,:]`` in ``Rio`` and ``Tioo`` (see the module docstring).
    """
    return _build(model, outputs)


def po_jacobian_program(model: Model) -> tuple[Program, sympy.Matrix]:
    """The Jacobian ``dy'/dy`` (``N*Q*(M-1)`` square) under partial observability.

    Coordinates: ``y[i,o,a] = ln(X[i,o,a] / X[i,o,M-1])``, flattened as
    ``k = (i*Q + o)*(M-1) + a`` for rows and columns; ``dX[i,o,a]/dy[i,o,c] =
    X[i,o,a] (delta_ac - X[i,o,c])``. Unlike the fully observed
    :meth:`Model.jacobian_program`, the returned program is self-contained: it computes
    ``Y``, the averages, ``Ps``, beliefs, values and their derivatives from the inputs
    (X, y, parameters, learner symbols); ``J`` is in terms of its symbols.
    """
    prog, res = _build(model, {"jacobian"})
    return prog, sympy.Matrix(res["jacobian"].tolist())
