"""The symbolic CRLD model of a game and a learner (crld-math.md sections 2-5).

Index conventions: ``X[i, s, a]`` strategies (agent, state, action); free coordinates
are the log-ratios ``y[i, s, a] = ln(X[i,s,a] / X[i,s,M-1])`` for ``a < M-1``, flattened
as ``k = (i*Z + s)*(M-1) + a``. Everything here is sympy; nothing imports numba.

Heterogeneous games (agent ``i`` has ``M_i`` actions and ``Q_i`` observations, see
:mod:`crldgen.ragged`): per-agent quantities are 1-D object arrays, **agent-major**,
each agent's block in C order over its own index ranges:

* ``X``, ``Q``, ``td_error``, ``update``: the flat strategy layout (``Layout.x_index``);
  ``y``, ``update_logit``, ``logit_step``: the flat log-ratio layout (``Layout.y_index``);
* ``V``: one entry per row ``(i, o)`` (``sum_i Q_i`` entries);
* ``Tisas``: agent ``i``'s block ``(Z, M_i, Z)`` at offset ``sum_{j<i} Z M_j Z``;
  ``Risa``: agent ``i``'s block ``(Z, M_i)`` at offset ``sum_{j<i} Z M_j``;
* ``Tss`` ``(Z, Z)`` and ``Ris`` ``(N, Z)`` keep their shapes; the Jacobian is
  ``(n_free, n_free)`` in the log-ratio layout.

Internally such arrays are :class:`RaggedArray` objects addressed by the same tuples
as the uniform arrays (``X[i, s, a]``); ``model._X`` / ``model._y`` are their flat data.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np
import sympy

from .. import _hooks
from ..errors import ParameterError
from ..game import Game
from ..learners import Learner, as_learner
from ..ragged import Layout
from .program import Program, inverse_program


#: expand an expression (to shorten it) only if its expansion has at most this many terms
MAX_EXPANDED_TERMS = 200


def expanded_terms_bound(expr, limit: int = MAX_EXPANDED_TERMS) -> int:
    """An upper bound of the number of terms of ``sympy.expand(expr)``, capped at ``limit + 1``.

    Linear in the size of ``expr`` and never expands: sums add, products multiply,
    ``base**n`` (integer ``n > 0``) raises the bound of the base to the ``n``-th power.
    ``(a1 + ... + a6)**64`` has a bound far above any limit, so it is never expanded.
    """
    cap = limit + 1

    def bound(e) -> int:
        if isinstance(e, sympy.Add):
            return min(cap, sum(bound(a) for a in e.args))
        if isinstance(e, sympy.Mul):
            out = 1
            for a in e.args:
                out = min(cap, out * bound(a))
            return out
        if isinstance(e, sympy.Pow) and e.exp.is_Integer and abs(int(e.exp)) > 1:
            b = bound(e.base)  # expand also expands the base of a negative power (the denominator)
            if b <= 1:
                return 1
            out = 1
            for _ in range(min(abs(int(e.exp)), 64)):
                out = min(cap, out * b)
                if out >= cap:
                    break
            return out
        # any other node: expand works inside its arguments; too big inside is too big
        return cap if any(bound(a) >= cap for a in e.args) else 1

    return bound(sympy.sympify(expr))


def expansion_is_small(expr, limit: int = MAX_EXPANDED_TERMS) -> bool:
    """Whether ``sympy.expand(expr)`` is cheap (at most ``limit`` terms, see :func:`expanded_terms_bound`)."""
    return expanded_terms_bound(expr, limit) <= limit


#: above this many states values are computed by a pivoting linear solve, not unrolled
UNROLLED_INVERSE_MAX_STATES = 4


def _sym_array(shape, fmt, **assumptions) -> np.ndarray:
    arr = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        arr[idx] = sympy.Symbol(fmt.format(*idx), **assumptions)
    return arr


class RaggedArray:
    """An object array whose agents have blocks of different shapes, stored flat, agent-major.

    ``arr[i, *idx]`` is entry ``idx`` (C order) of agent ``i``'s block ``blocks[i]``;
    ``arr.data`` is the flat 1-D object array (agent 0's block first). Used for the
    per-agent quantities of heterogeneous games (see the module docstring).
    """

    def __init__(self, blocks, data=None) -> None:
        self.blocks = tuple(tuple(int(n) for n in b) for b in blocks)
        offsets, k = [], 0
        for b in self.blocks:
            offsets.append(k)
            k += int(np.prod(b, dtype=np.int64)) if b else 1
        self.offsets, self.size = tuple(offsets), k
        self.data = np.empty(k, dtype=object) if data is None else data
        if self.data.shape != (k,):
            raise ValueError(f"RaggedArray data has shape {self.data.shape}; expected ({k},)")

    def index(self, key) -> int:
        """Flat position of ``key = (i, *idx)`` (IndexError naming the agent when out of range)."""
        i, rest = key[0], key[1:]
        block = self.blocks[i]
        if len(rest) != len(block) or any(not 0 <= r < n for r, n in zip(rest, block)):
            raise IndexError(f"index {tuple(key)} out of range: agent {i}'s block has shape {block}")
        k = 0
        for n, r in zip(block, rest):
            k = k * n + r
        return self.offsets[i] + k

    def __getitem__(self, key):
        return self.data[self.index(key)]

    def __setitem__(self, key, value) -> None:
        self.data[self.index(key)] = value

    def keys(self):
        """Every index ``(i, *idx)`` in flat order."""
        for i, b in enumerate(self.blocks):
            for idx in np.ndindex(*b):
                yield (i,) + idx

    def copy(self) -> RaggedArray:
        return RaggedArray(self.blocks, self.data.copy())

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    def __repr__(self) -> str:
        return f"RaggedArray(blocks={self.blocks})"


def agent_array(n_agents: int, block, uniform: bool):
    """An empty object array with agent ``i``'s block of shape ``block(i)``.

    Uniform games get a plain ``(N, *block(0))`` numpy array, heterogeneous games a
    :class:`RaggedArray`; both are indexed ``arr[i, ...]`` and iterated with :func:`keys`.
    """
    if uniform:
        return np.empty((n_agents,) + tuple(block(0)), dtype=object)
    return RaggedArray([block(i) for i in range(n_agents)])


def keys(arr):
    """The indices of a numpy array (``np.ndindex``) or of a :class:`RaggedArray`, in flat order."""
    return arr.keys() if isinstance(arr, RaggedArray) else np.ndindex(*arr.shape)


def flat_data(arr):
    """A :class:`RaggedArray`'s flat data; anything else unchanged."""
    return arr.data if isinstance(arr, RaggedArray) else arr


def _sym_agent_array(n_agents, block, uniform, fmt, **assumptions):
    arr = agent_array(n_agents, block, uniform)
    for idx in keys(arr):
        arr[idx] = sympy.Symbol(fmt.format(*idx), **assumptions)
    return arr


def to_array(arr: np.ndarray) -> sympy.ImmutableDenseNDimArray:
    """A numpy object array (or the flat data of a :class:`RaggedArray`) as an immutable sympy Array."""
    arr = flat_data(arr)
    return sympy.ImmutableDenseNDimArray(arr.tolist(), arr.shape)


def contract(leaf, agents, state, XS, M):
    """``sum_b prod_{j in agents} XS[j, state, b_j] * leaf(b)`` as a nested (Horner) sum.

    ``M`` is the number of actions of every agent or a sequence of per-agent counts
    ``M_j`` (each agent's sum runs over its own actions). When all branches of an agent
    are equal the sum over its actions is dropped (``sum_b X[j,s,b] = 1`` on the
    simplex), which keeps expressions short.
    """

    def rec(k, fixed):
        if k == len(agents):
            return leaf(fixed)
        j = agents[k]
        subs = [rec(k + 1, fixed + (b,)) for b in range(M if isinstance(M, int) else M[j])]
        if all(e == subs[0] for e in subs[1:]):
            return subs[0]
        return sympy.Add(*[XS[j, state, b] * e for b, e in enumerate(subs) if e != 0])

    return rec(0, ())


class Model:
    """Symbolic CRLD of ``game`` under ``learner`` (see :func:`derive`).

    Attributes (sympy objects; index conventions in the module docstring)
    ----------------------------------------------------------------------
    X, y : strategy and log-ratio symbols
    alpha, beta, gamma : per-agent learner symbols; ``pre`` the prefactors
    theta : game parameter symbols (run-time arguments of generated code)
    Tss, Ris, Tisas, Risa : strategy averages, polynomials in X and theta
    V : value symbols, defined by :attr:`value_equations`
    Q, td_error, update, update_logit : in terms of X, theta and V
    """

    def __init__(self, game: Game, learner: Learner) -> None:
        if not game.fully_observed:
            check_po_supported = _hooks.upper("symbolic.partial").check_po_supported  # above: it subclasses Model
            if type(self) is Model:
                raise ParameterError(
                    f"game {game.name!r} is partially observed (O given): build its model with "
                    "crldgen.derive(game, ...), which returns the partial-observability model")
            check_po_supported(game)
        self.game = game
        self.learner = learner
        N, Z = game.n_agents, game.n_states
        self.layout = Layout.of_game(game)
        #: whether the agents' action or observation counts differ (flat per-agent arrays)
        self.ragged = not game.uniform
        #: ``M_i`` and ``Q_i`` per agent (``Q_i = Z`` under full observability)
        self.action_counts, self.obs_counts = self.layout.action_counts, self.layout.observation_counts
        # M and Q of uniform games; None when the agents' counts differ
        M = None if len(set(self.action_counts)) != 1 else self.action_counts[0]
        Zo = None if len(set(self.obs_counts)) != 1 else self.obs_counts[0]
        self.n_agents, self.n_states, self.n_actions, self.n_obs = N, Z, M, Zo
        if self.ragged:
            Mc, Qc = self.action_counts, self.obs_counts
            self._Xr = _sym_agent_array(N, lambda i: (Qc[i], Mc[i]), False, "X_{}_{}_{}", positive=True)
            self._yr = _sym_agent_array(N, lambda i: (Qc[i], Mc[i] - 1), False, "y_{}_{}_{}", real=True)
            self._X, self._y = self._Xr.data, self._yr.data
        else:
            self._X = _sym_array((N, Zo, M), "X_{}_{}_{}", positive=True)
            self._y = _sym_array((N, Zo, M - 1), "y_{}_{}_{}", real=True)
            self._Xr, self._yr = self._X, self._y
        self.alpha = tuple(sympy.Symbol(f"alpha_{i}", positive=True) for i in range(N))
        self.beta = tuple(sympy.Symbol(f"beta_{i}", positive=True) for i in range(N))
        self.gamma = tuple(sympy.Symbol(f"gamma_{i}", nonnegative=True) for i in range(N))
        self.pre = tuple((1 - g) if learner.prefactor else sympy.Integer(1) for g in self.gamma)
        self.theta = game.param_symbols
        Qc = self.obs_counts
        self._V = _sym_agent_array(N, lambda i: (Qc[i],), not self.ragged, "V_{}_{}", real=True)
        self._W = _sym_agent_array(N, lambda i: (Qc[i], Qc[i]), not self.ragged, "W_{}_{}_{}", real=True)

    def _agent_array(self, block):
        """An empty per-agent object array, agent ``i``'s block of shape ``block(i)`` (see :func:`agent_array`)."""
        return agent_array(self.n_agents, block, not self.ragged)

    # ---------------------------------------------------------- basic symbols
    @property
    def X(self):
        return to_array(self._X)

    @property
    def y(self):
        return to_array(self._y)

    @property
    def V(self):
        return to_array(self._V)

    @property
    def n_free(self) -> int:
        """``sum_i Q_i (M_i - 1)`` (``N*Q*(M-1)`` for uniform games)."""
        return self.layout.n_free

    def free_index(self, i: int, s: int, a: int) -> int:
        """Flat index of ``y[i, s, a]`` (``(i*Q + s)*(M-1) + a`` for uniform games, see :class:`Layout`)."""
        return self.layout.y_index(i, s, a)

    @cached_property
    def _TR(self) -> np.ndarray:
        """Expected reward of each joint action ``sum_s' T R`` (N, Z, M, ..., M)."""
        g = self.game
        out = np.empty((g.n_agents, g.n_states) + tuple(g.action_counts), dtype=object)
        for idx in np.ndindex(out.shape):
            i, s, joint = idx[0], idx[1], idx[2:]
            e = sympy.Add(*[g.T[(s,) + joint + (sp,)] * g.R[(i, s) + joint + (sp,)] for sp in range(g.n_states)])
            if e.free_symbols and expansion_is_small(e):
                short = sympy.expand(e)
                if sympy.count_ops(short) < sympy.count_ops(e):
                    e = short
            out[idx] = e
        return out

    @property
    def _XS(self) -> np.ndarray:
        """State-based strategies used in the averages (X itself when fully observed)."""
        return self._Xr

    def _fix(self, fixed_agents: dict, others, b):
        joint = [None] * self.n_agents
        for j, a in fixed_agents.items():
            joint[j] = a
        for j, bj in zip(others, b):
            joint[j] = bj
        return tuple(joint)

    # ------------------------------------------------------ strategy averages
    def _avg_T(self, s, sp, fixed: dict):
        others = [j for j in range(self.n_agents) if j not in fixed]
        T = self.game.T
        return contract(lambda b: T[(s,) + self._fix(fixed, others, b) + (sp,)], others, s, self._XS,
                        self._contract_M)

    def _avg_R(self, i, s, fixed: dict):
        others = [j for j in range(self.n_agents) if j not in fixed]
        TR = self._TR
        return contract(lambda b: TR[(i, s) + self._fix(fixed, others, b)], others, s, self._XS, self._contract_M)

    @property
    def _contract_M(self):
        """``M`` (uniform games) or the per-agent counts ``M_j`` for :func:`contract`."""
        return self.action_counts if self.ragged else self.n_actions

    @cached_property
    def _Tisas(self) -> np.ndarray:
        Z, M = self.n_states, self.action_counts
        out = self._agent_array(lambda i: (Z, M[i], Z))
        for i, s, a, sp in keys(out):
            out[i, s, a, sp] = self._avg_T(s, sp, {i: a})
        return out

    @cached_property
    def _Risa(self) -> np.ndarray:
        Z, M = self.n_states, self.action_counts
        out = self._agent_array(lambda i: (Z, M[i]))
        for i, s, a in keys(out):
            out[i, s, a] = self._avg_R(i, s, {i: a})
        return out

    @cached_property
    def _Tss(self) -> np.ndarray:
        Z = self.n_states
        out = np.empty((Z, Z), dtype=object)
        for s, sp in itertools.product(range(Z), range(Z)):
            out[s, sp] = self._avg_T(s, sp, {})
        return out

    @cached_property
    def _Ris(self) -> np.ndarray:
        N, Z = self.n_agents, self.n_states
        out = np.empty((N, Z), dtype=object)
        for i, s in itertools.product(range(N), range(Z)):
            out[i, s] = self._avg_R(i, s, {})
        return out

    @cached_property
    def _Tpair(self) -> dict:
        """``Tpair[(i, j, s, a, c, s')]`` for ``i < j``: transition given i plays a and j plays c."""
        N, Z, M = self.n_agents, self.n_states, self.action_counts
        out = {}
        for i, j in itertools.combinations(range(N), 2):
            for s, a, c, sp in itertools.product(range(Z), range(M[i]), range(M[j]), range(Z)):
                out[i, j, s, a, c, sp] = self._avg_T(s, sp, {i: a, j: c})
        return out

    @cached_property
    def _Rpair(self) -> dict:
        """``Rpair[(i, j, s, a, c)]`` for ``i != j``: reward of i given i plays a and j plays c."""
        N, Z, M = self.n_agents, self.n_states, self.action_counts
        out = {}
        for i, j in itertools.permutations(range(N), 2):
            for s, a, c in itertools.product(range(Z), range(M[i]), range(M[j])):
                out[i, j, s, a, c] = self._avg_R(i, s, {i: a, j: c})
        return out

    Tss = property(lambda self: to_array(self._Tss), doc="Tss[s, s'] transition matrix under X")
    Ris = property(lambda self: to_array(self._Ris), doc="Ris[i, s] expected reward under X")
    Tisas = property(lambda self: to_array(self._Tisas), doc="Tisas[i, s, a, s'] transition given own action")
    Risa = property(lambda self: to_array(self._Risa), doc="Risa[i, s, a] reward given own action")

    # ------------------------------------------------------- values and errors
    @cached_property
    def _value_tensors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(T[i,u,u'], R[i,u], Ta[i,u,a,u'], Ra[i,u,a])`` the values are built from.

        ``u`` runs over the states here (``Tss`` shared by all agents, ``Ris``, ``Tisas``,
        ``Risa``); the partial-observability model supplies the observation averages.
        """
        N = self.n_agents
        return np.broadcast_to(self._Tss, (N,) + self._Tss.shape), self._Ris, self._Tisas, self._Risa

    @cached_property
    def value_equations(self) -> list[sympy.Eq]:
        """The Bellman equations ``V[i,u] = p_i R[i,u] + gamma_i sum_u' T[i,u,u'] V[i,u']``.

        ``T, R`` are ``Tss, Ris`` under full observability (``Tioo, Rio`` under partial).
        """
        T, R, _, _ = self._value_tensors
        eqs = []
        for i in range(self.n_agents):
            n = self.obs_counts[i]
            for u in range(n):
                rhs = self.pre[i] * R[i, u] + self.gamma[i] * sympy.Add(
                    *[T[i, u, v] * self._V[i, v] for v in range(n)])
                eqs.append(sympy.Eq(self._V[i, u], rhs))
        return eqs

    def values_closed_form(self, max_states: int = 3) -> dict:
        """``{V symbol: closed-form expression}`` by solving the linear system (small Z or Q only)."""
        n = max(self.obs_counts)
        letter, what = ("Z", "states") if self.game.fully_observed else ("Q", "observations")
        if n > max_states:
            raise ParameterError(
                f"closed-form values need {letter} <= {max_states} {what} (game has {n}); "
                f"pass max_states=... to force it (expressions grow like {letter}!)"
            )
        T, R, _, _ = self._value_tensors
        out = {}
        for i in range(self.n_agents):
            n = self.obs_counts[i]
            A = sympy.eye(n) - self.gamma[i] * sympy.Matrix(n, n, lambda r, c: T[i, r, c])
            sol = A.LUsolve(self.pre[i] * sympy.Matrix(n, 1, lambda r, c: R[i, r]))
            for u in range(n):
                out[self._V[i, u]] = sol[u]
        return out

    @cached_property
    def _Q(self) -> np.ndarray:
        _, _, Ta, Ra = self._value_tensors
        out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i]))
        for i, u, a in keys(out):
            out[i, u, a] = self.pre[i] * Ra[i, u, a] + self.gamma[i] * sympy.Add(
                *[Ta[i, u, a, v] * self._V[i, v] for v in range(self.obs_counts[i])])
        return out

    Q = property(lambda self: to_array(self._Q), doc="Q[i, s, a] (Q[i, o, a]) action values, in terms of V")

    @cached_property
    def _td_error(self) -> np.ndarray:
        out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i]))
        for i, s, a in keys(out):
            if self.learner.log_strategy_in_error:
                out[i, s, a] = self.beta[i] * self._Q[i, s, a] - sympy.log(self._Xr[i, s, a])
            else:
                out[i, s, a] = self.beta[i] * (self._Q[i, s, a] - self._V[i, s])
        return out

    td_error = property(lambda self: to_array(self._td_error), doc="TD error delta[i, s, a] (scaled by beta)")

    @property
    def td_error_normalized(self):
        d = self._td_error
        if self.ragged:
            out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i]))
            for i, s, a in keys(out):
                Mi = self.action_counts[i]
                out[i, s, a] = d[i, s, a] - sympy.Add(*[d[i, s, b] for b in range(Mi)]) / Mi
            return to_array(out)
        M = self.n_actions
        return to_array(d - np.sum(d, axis=-1, keepdims=True) / M)

    @cached_property
    def _update(self) -> np.ndarray:
        out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i]))
        for i in range(self.n_agents):
            M = self.action_counts[i]
            for s in range(self.obs_counts[i]):
                w = [self._Xr[i, s, a] * sympy.exp(self.alpha[i] * self._td_error[i, s, a]) for a in range(M)]
                tot = sympy.Add(*w)
                for a in range(M):
                    out[i, s, a] = w[a] / tot
        return out

    update = property(lambda self: to_array(self._update), doc="X'[i, s, a], the update map in strategy coordinates")

    @cached_property
    def _dQ(self) -> np.ndarray:
        """``Q[i,s,a] - Q[i,s,M-1]`` for a < M-1 (``M_i - 1`` for agent i)."""
        if self.ragged:
            out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i] - 1))
            for i, s, a in keys(out):
                out[i, s, a] = self._Q[i, s, a] - self._Q[i, s, self.action_counts[i] - 1]
            return out
        return self._Q[..., :-1] - self._Q[..., -1:]

    @cached_property
    def _update_logit(self) -> np.ndarray:
        out = self._agent_array(lambda i: (self.obs_counts[i], self.action_counts[i] - 1))
        for i, s, a in keys(out):
            step = self.beta[i] * self._dQ[i, s, a]
            if self.learner.log_strategy_in_error:
                step -= self._yr[i, s, a]
            out[i, s, a] = self._yr[i, s, a] + self.alpha[i] * step
        return out

    update_logit = property(
        lambda self: to_array(self._update_logit),
        doc="y'[i, s, a] = y + alpha (delta[a] - delta[M-1]), with X = softmax(y) in Q",
    )

    def strategy_of_logit(self) -> dict:
        """``{X symbol: expression in y}``: ``X[a] = exp(y[a]) / (1 + sum_b exp(y[b]))``."""
        out = {}
        X, y = self._Xr, self._yr
        for i in range(self.n_agents):
            M = self.action_counts[i]
            for s in range(self.obs_counts[i]):
                den = 1 + sympy.Add(*[sympy.exp(y[i, s, b]) for b in range(M - 1)])
                for a in range(M):
                    num = sympy.exp(y[i, s, a]) if a < M - 1 else sympy.Integer(1)
                    out[X[i, s, a]] = num / den
        return out

    # -------------------------------------------------------------- Jacobian
    def jacobian_program(self, symbolic_averages: bool = True) -> tuple[Program, sympy.Matrix]:
        """The Jacobian ``dy'/dy`` (N*Z*(M-1) square) as a straight-line program.

        Intermediate quantities stay symbols: averages (``Tisas``, ``Risa``, pair
        averages), values ``V`` and the inverse ``W_i = (Id - gamma_i Tss)^-1``. The
        derivative of the values is the implicit derivative of the linear solve,
        ``dV = W (p dRis + gamma dTss V)`` (crld-math.md section 5); the derivatives of
        the multilinear averages are closed-form pair averages.
        Returns ``(program, J)``; ``J`` is in terms of the program's symbols, X and V.
        """
        if not self.game.fully_observed:
            po_jacobian_program = _hooks.upper("symbolic.partial").po_jacobian_program  # above: it subclasses Model
            return po_jacobian_program(self)
        N, Z, Mc = self.n_agents, self.n_states, self.action_counts
        prog = Program("j")
        X = self._Xr

        def name(tag, idx, expr):
            return prog.new(expr, f"{tag}_" + "_".join(map(str, idx))) if symbolic_averages else expr

        Tisas = {idx: name("Tisas", idx, self._Tisas[idx]) for idx in keys(self._Tisas)}
        Risa = {idx: name("Risa", idx, self._Risa[idx]) for idx in keys(self._Risa)}
        Tss = {(s, sp): name("Tss", (s, sp), sympy.Add(*[X[0, s, a] * Tisas[0, s, a, sp] for a in range(Mc[0])]))
               for s, sp in itertools.product(range(Z), range(Z))}
        Ris = {(i, s): name("Ris", (i, s), sympy.Add(*[X[i, s, a] * Risa[i, s, a] for a in range(Mc[i])]))
               for i, s in itertools.product(range(N), range(Z))}
        Tp = {k: name("Tpair", k, v) for k, v in self._Tpair.items()}
        Rp = {k: name("Rpair", k, v) for k, v in self._Rpair.items()}

        def tpair(i, j, s, a, c, sp):
            return Tp[i, j, s, a, c, sp] if i < j else Tp[j, i, s, c, a, sp]

        V, W = self._V, self._W
        n = self.n_free
        J = sympy.zeros(n, n)
        for j, s2, c in ((j, s2, c) for j in range(N) for s2, c in itertools.product(range(Z), range(Mc[j] - 1))):
            k = self.free_index(j, s2, c)
            w = X[j, s2, c]
            dTss = [w * (Tisas[j, s2, c, sp] - Tss[s2, sp]) for sp in range(Z)]
            for i in range(N):
                M = Mc[i]
                if i == j:
                    rsj = Risa[i, s2, c]
                else:
                    rsj = sympy.Add(*[X[i, s2, a] * Rp[i, j, s2, a, c] for a in range(M)])
                dRis = w * (rsj - Ris[i, s2])
                g = prog.new(self.pre[i] * dRis + self.gamma[i] * sympy.Add(
                    *[dTss[sp] * V[i, sp] for sp in range(Z)]), f"g_{i}_{k}")
                dV = [W[i, sp, s2] * g for sp in range(Z)]
                dQ = {}
                for s, a in itertools.product(range(Z), range(M)):
                    term = sympy.Add(*[Tisas[i, s, a, sp] * dV[sp] for sp in range(Z)])
                    if s == s2 and i != j:
                        dR = w * (Rp[i, j, s, a, c] - Risa[i, s, a])
                        dT = sympy.Add(*[w * (tpair(i, j, s, a, c, sp) - Tisas[i, s, a, sp]) * V[i, sp]
                                         for sp in range(Z)])
                        dQ[s, a] = self.pre[i] * dR + self.gamma[i] * (dT + term)
                    else:
                        dQ[s, a] = self.gamma[i] * term
                for s, a in itertools.product(range(Z), range(M - 1)):
                    r = self.free_index(i, s, a)
                    dD = self.beta[i] * (dQ[s, a] - dQ[s, M - 1])
                    if self.learner.log_strategy_in_error and r == k:
                        dD -= 1
                    J[r, k] = int(r == k) + self.alpha[i] * dD
        return prog, J

    def value_program(self, prog: Program, T, R, need_inverse: bool) -> tuple[dict, dict]:
        """Append statements computing ``V`` (and ``W``) from per-agent ``T[i,u,u']``, ``R[i,u]``.

        ``T``/``R`` are indexable by tuples (symbols or expressions): ``Tss`` broadcast over
        agents and ``Ris`` under full observability, ``Tioo`` and ``Rio`` under partial.
        Returns ``(V, W)`` dicts of expressions, ``W_i = (Id - gamma_i T_i)^-1``. Up to
        ``UNROLLED_INVERSE_MAX_STATES`` an unrolled Gauss-Jordan elimination (``Id - gamma T``
        is strictly diagonally dominant, so no pivoting is needed); above, a
        :class:`LinearSolve` statement (pivoting, in a loop).
        """
        N = self.n_agents
        V, W = {}, {}
        for i in range(N):
            n = self.obs_counts[i]
            A = sympy.Matrix(n, n, lambda r, c: int(r == c) - self.gamma[i] * T[i, r, c])
            if n > UNROLLED_INVERSE_MAX_STATES:
                B = sympy.Matrix(n, 1, lambda r, c: self.pre[i] * R[i, r])
                if need_inverse:
                    B = B.row_join(sympy.eye(n))
                sol = prog.solve(A, B, f"vsol{i}")
                for u in range(n):
                    V[i, u] = sol[u, 0]
                    if need_inverse:
                        for v in range(n):
                            W[i, u, v] = sol[u, 1 + v]
                continue
            Winv = inverse_program(A, prog, f"inv{i}")
            for u in range(n):
                V[i, u] = prog.new(self.pre[i] * sympy.Add(*[Winv[u, v] * R[i, v] for v in range(n)]),
                                   f"V_{i}_{u}")
                if need_inverse:
                    for v in range(n):
                        W[i, u, v] = Winv[u, v]
        return V, W

    # ------------------------------------------------------------ programs
    def program(self, outputs) -> tuple[Program, dict]:
        """A straight-line program computing ``outputs`` from inputs X (and y), theta and learner symbols.

        ``outputs`` is a subset of ``{'Tss', 'Ris', 'Tisas', 'Risa', 'V', 'Q', 'td_error',
        'logit_step', 'jacobian'}``. Returns ``(program, {name: object array})``; the
        arrays hold symbols or expressions of the program. This is what the code
        generator prints; inputs are ``X[i,s,a]``, ``y[i,s,a]`` and the parameter symbols.
        """
        if not self.game.fully_observed:
            po_program = _hooks.upper("symbolic.partial").po_program  # above: it subclasses Model
            return po_program(self, outputs)
        outputs = set(outputs)
        N, Z, Mc = self.n_agents, self.n_states, self.action_counts
        X = self._Xr
        prog = Program("t")

        def named(tag, arr):
            out = arr.copy() if isinstance(arr, RaggedArray) else np.empty(arr.shape, dtype=object)
            for idx in keys(arr):
                out[idx] = prog.new(arr[idx], f"{tag}_" + "_".join(map(str, idx)))
            return out

        def done(res):
            return prog, {k: flat_data(res[k]) for k in outputs}

        Tisas = named("Tisas", self._Tisas)
        Risa = named("Risa", self._Risa)
        Tss = np.empty((Z, Z), dtype=object)
        for s, sp in itertools.product(range(Z), range(Z)):
            Tss[s, sp] = prog.new(sympy.Add(*[X[0, s, a] * Tisas[0, s, a, sp] for a in range(Mc[0])]),
                                  f"Tss_{s}_{sp}")
        Ris = np.empty((N, Z), dtype=object)
        for i, s in itertools.product(range(N), range(Z)):
            Ris[i, s] = prog.new(sympy.Add(*[X[i, s, a] * Risa[i, s, a] for a in range(Mc[i])]), f"Ris_{i}_{s}")
        res = {"Tisas": Tisas, "Risa": Risa, "Tss": Tss, "Ris": Ris}
        if outputs <= set(res):
            return done(res)
        V, W = self.value_program(prog, np.broadcast_to(Tss, (N, Z, Z)), Ris, need_inverse="jacobian" in outputs)
        Varr = self._agent_array(lambda i: (Z,))
        for idx in V:
            Varr[idx] = V[idx]
        Q = self._agent_array(lambda i: (Z, Mc[i]))
        for i, s, a in keys(Q):
            Q[i, s, a] = prog.new(self.pre[i] * Risa[i, s, a] + self.gamma[i] * sympy.Add(
                *[Tisas[i, s, a, sp] * Varr[i, sp] for sp in range(Z)]), f"Q_{i}_{s}_{a}")
        res.update(V=Varr, Q=Q)
        if "td_error" in outputs:
            td = self._agent_array(lambda i: (Z, Mc[i]))
            for i, s, a in keys(td):
                if self.learner.log_strategy_in_error:
                    td[i, s, a] = self.beta[i] * Q[i, s, a] - sympy.log(X[i, s, a])
                else:
                    td[i, s, a] = self.beta[i] * (Q[i, s, a] - Varr[i, s])
            res["td_error"] = td
        if "logit_step" in outputs:
            step = self._agent_array(lambda i: (Z, Mc[i] - 1))
            for i, s, a in keys(step):
                d = self.beta[i] * (Q[i, s, a] - Q[i, s, Mc[i] - 1])
                yv = self._yr[i, s, a]
                step[i, s, a] = (yv + self.alpha[i] * (d - yv)) if self.learner.log_strategy_in_error \
                    else (yv + self.alpha[i] * d)
            res["logit_step"] = step
        if "jacobian" in outputs:
            jprog, J = self.jacobian_program(symbolic_averages=True)
            rename = {self._V[idx]: Varr[idx] for idx in keys(Varr)}
            rename.update({self._W[idx]: W[idx] for idx in W})
            for sym, expr in jprog.statements:
                base = sym.name.split("_")[0]
                if base in ("Tisas", "Risa", "Tss", "Ris"):
                    rename[sym] = res[base][tuple(int(k) for k in sym.name.split("_")[1:])]
                else:
                    prog.statements.append((sym, expr.xreplace(rename)))
            res["jacobian"] = np.array(J.xreplace(rename).tolist(), dtype=object)
        return done(res)

    # ------------------------------------------------------------------ misc
    def canonical(self) -> str:
        return self.game.canonical() + "\n" + self.learner.canonical()

    def latex(self, **kwargs) -> str:
        """The general and game-specific update equations as LaTeX (see :mod:`.latex`)."""
        return _hooks.upper("model_latex")(self, **kwargs)

    def _repr_latex_(self) -> str:
        return "$\\displaystyle " + self.latex(general=False, max_entries=8, inline=True) + "$"

    def __repr__(self) -> str:
        return f"Model({self.game!r}, learner={self.learner.kind!r}, prefactor={self.learner.prefactor})"

    def compile(self, **kwargs):
        """Generate, cache and load the compiled simulator (see :func:`crldgen.compile`)."""
        return _hooks.upper("compile_model")(self, **kwargs)


def derive(game: Game, learner: str | Learner = "sarsa", prefactor: bool | None = None) -> Model:
    """Derive the symbolic CRLD model of ``game`` for ``learner``.

    Parameters
    ----------
    game : Game
    learner : {'sarsa', 'actor_critic'} or Learner
    prefactor : bool, optional
        Multiply rewards by ``1 - gamma`` (default True).

    Returns
    -------
    Model or POModel
        A :class:`Model`, or a :class:`~crldgen.symbolic.partial.POModel` when the
        game has an observation tensor ``O`` (partial observability).
    """
    if not isinstance(game, Game):
        from ..errors import GameError

        raise GameError(f"game = {game!r:.60}: derive needs a crldgen.Game (see crldgen.games or crldgen.Game)")
    learner = as_learner(learner, prefactor)
    if not game.fully_observed:
        POModel = _hooks.upper("symbolic.partial").POModel  # above: it subclasses Model
        return POModel(game, learner)
    return Model(game, learner)
