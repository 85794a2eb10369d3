"""Independent plain-numpy reference of crld-math.md (sections 2-7) for *ragged* games.

A ragged (heterogeneous) game lets agent ``i`` have its own number of actions ``M_i``
and its own number of observations ``Q_i``. This module is a test oracle: it deliberately
does **not** import crldgen (nor ``tests/reference.py``), and it is written plainly,
with explicit loops over joint actions (``itertools.product``) and ``np.linalg.solve``;
clarity over speed.

Conventions (the contract the library uses)
-------------------------------------------
* ``T[s, a_0, ..., a_{N-1}, s']``, axis sizes ``Z, M_0, ..., M_{N-1}, Z``.
* ``R[i, s, a_0, ..., a_{N-1}, s']``.
* ``O`` is ``None`` (full observability: ``Q_i = Z``, ``O_i`` the identity) or a list
  of N arrays, ``O[i]`` of shape ``(Z, Q_i)``; ``O[i][s, o]`` is the probability that
  agent i observes o in state s (rows sum to 1).
* A ragged strategy is a tuple of N arrays ``X[i]`` of shape ``(Q_i, M_i)``, rows on the
  simplex. Every per-agent result below (TD errors, values, ...) is a tuple of N arrays
  in the same way.
* Flat layout: rows ``r`` enumerate ``(i, o)`` agent-major. The flat strategy is
  ``concatenate([X[i].ravel() for i])`` (C order); the free (log-ratio) coordinates are
  ``y[i][o, a] = ln(X[i][o, a] / X[i][o, M_i - 1])`` for ``a < M_i - 1``, flattened as
  ``concatenate([y[i].ravel() for i])`` with ``y[i]`` of shape ``(Q_i, M_i - 1)``;
  ``n_free = sum_i Q_i (M_i - 1)``. For uniform games this coincides with the layout of
  ``tests/reference.py`` (``k = (i*Z + s)*(M-1) + a``).
* ``alpha, beta, gamma``: arrays of length N. ``learner`` is ``'sarsa'`` or
  ``'actor_critic'``; ``prefactor`` (bool) multiplies rewards by ``p_i = 1 - gamma_i``.

Partial observability (section 7) and its conventions
-----------------------------------------------------
``Y[i][s, a] = sum_o O[i][s, o] X[i][o, a]``; the state averages of section 2 are taken
under Y; ``Ps`` is the stationary distribution of ``Tss(Y)``; beliefs
``B[i][o, s] = O[i][s, o] Ps[s] / sum_s'' O[i][s'', o] Ps[s'']``; then
``Rioa = B Risa``, ``Tioao[o, a, o'] = sum_s B[o, s] sum_s' Tisas[s, a, s'] O[s', o']``,
and the focal agent acts with its own observation row:
``Rio[o] = sum_a X[o, a] Rioa[o, a]``, ``Tioo[o, o'] = sum_a X[o, a] Tioao[o, a, o']``
(``focal='observation'``, the crldgen convention; ``focal='state'`` gives the variant
``Rio = B Ris``, ``Tioo = B Tss O`` some reference tools use, as in tests/reference.py).

* **Zero-probability observations** (same as tests/reference.py): when
  ``sum_s O[i][s, o] Ps[s] = 0`` the belief row ``B[i][o, :]`` is set to 0. Then
  ``Rioa[i][o, :] = 0``, ``Tioao[i][o, :, :] = 0``, ``Rio[i][o] = 0``, ``Tioo[i][o, :] = 0``,
  hence ``V[i][o] = 0`` and ``Q[i][o, a] = 0`` for every a. Consequently the actor-critic
  TD error of that row is 0 (the row does not move) and the SARSA TD error is
  ``-ln X[i][o, a]`` (the row relaxes towards uniform, ``X' ∝ X^(1 - alpha_i)``). Other
  rows still see ``V[i][o] = 0`` through ``Tioao[.., .., o]`` where that entry is nonzero.
* **Non-unique stationary distribution** (same as tests/reference.py): ValueError.
* Full observability (``O is None``) uses section 2 directly (no stationary distribution).
"""

from __future__ import annotations

import itertools

import numpy as np

LEARNERS = ("sarsa", "actor_critic")


# ------------------------------------------------------------------ shapes
def shapes(T, O=None):
    """``(N, Z, M, Q)`` of a game: M and Q are tuples of per-agent counts."""
    T = np.asarray(T)
    N = T.ndim - 2
    Z = T.shape[0]
    M = tuple(int(m) for m in T.shape[1:-1])
    if O is None:
        Q = (Z,) * N
    else:
        if len(O) != N:
            raise ValueError(f"O has {len(O)} agents, T has {N}")
        Q = tuple(int(np.asarray(O[i]).shape[1]) for i in range(N))
    return N, Z, M, Q


def joint_actions(M):
    """All joint actions ``(a_0, ..., a_{N-1})`` with ``a_i in range(M_i)``."""
    return itertools.product(*(range(m) for m in M))


def n_free(M, Q):
    """Number of free (log-ratio) coordinates ``sum_i Q_i (M_i - 1)``."""
    return sum(q * (m - 1) for m, q in zip(M, Q))


def prefactors(gamma, prefactor):
    """``p_i = 1 - gamma_i`` with the prefactor on, else 1."""
    gamma = np.asarray(gamma, dtype=float)
    return 1.0 - gamma if prefactor else np.ones_like(gamma)


def _as_tuple(X):
    return tuple(np.asarray(x, dtype=float) for x in X)


# ------------------------------------------------------------ conversions
def flat_of(X):
    """Flat strategy ``concatenate([X[i].ravel() for i])``."""
    return np.concatenate([np.asarray(x, dtype=float).ravel() for x in X])


def unflat(x, M, Q):
    """Inverse of ``flat_of``: tuple of ``(Q_i, M_i)`` arrays from the flat vector ``x``."""
    x = np.asarray(x, dtype=float)
    out, k = [], 0
    for m, q in zip(M, Q):
        out.append(x[k:k + q * m].reshape(q, m).copy())
        k += q * m
    if k != x.size:
        raise ValueError(f"flat strategy has {x.size} entries, expected {k}")
    return tuple(out)


def logit_of(X):
    """Log-ratios ``y[i][o, a] = ln(X[i][o, a] / X[i][o, M_i - 1])``: tuple of ``(Q_i, M_i - 1)``."""
    return tuple(np.log(x[:, :-1]) - np.log(x[:, -1:]) for x in _as_tuple(X))


def flat_logit(y):
    """Flat free coordinates ``concatenate([y[i].ravel() for i])``."""
    return np.concatenate([np.asarray(v, dtype=float).ravel() for v in y])


def unflat_logit(y, M, Q):
    """Tuple of ``(Q_i, M_i - 1)`` arrays from flat free coordinates (a tuple passes through)."""
    if isinstance(y, (tuple, list)):
        return _as_tuple(y)
    y = np.asarray(y, dtype=float)
    out, k = [], 0
    for m, q in zip(M, Q):
        out.append(y[k:k + q * (m - 1)].reshape(q, m - 1).copy())
        k += q * (m - 1)
    if k != y.size:
        raise ValueError(f"flat logit has {y.size} entries, expected {k}")
    return tuple(out)


def strategy_of_logit(y, M, Q):
    """``X[i][o, :] = softmax(y[i][o, 0], ..., y[i][o, M_i-2], 0)``; y flat or a tuple."""
    out = []
    for v in unflat_logit(y, M, Q):
        full = np.concatenate([v, np.zeros((v.shape[0], 1))], axis=1)
        full = full - full.max(axis=1, keepdims=True)
        e = np.exp(full)
        out.append(e / e.sum(axis=1, keepdims=True))
    return tuple(out)


def tuple_of_array(X):
    """Uniform ``(N, Q, M)`` array -> tuple of N ``(Q, M)`` arrays."""
    X = np.asarray(X, dtype=float)
    return tuple(X[i].copy() for i in range(X.shape[0]))


def array_of_tuple(X):
    """Tuple of equally shaped arrays -> stacked ``(N, ...)`` array."""
    return np.stack([np.asarray(x, dtype=float) for x in X])


def O_list(O):
    """``O[i, s, o]`` (uniform array) or a list -> list of N ``(Z, Q_i)`` arrays (None stays None)."""
    if O is None:
        return None
    return [np.asarray(o, dtype=float) for o in O]


# ------------------------------------------- section 2: strategy averages
# Here X is a *state-based* ragged strategy: X[i] of shape (Z, M_i).
def _prob(X, s, b, skip=None):
    """``prod_{j != skip} X[j][s, b_j]``."""
    p = 1.0
    for j, bj in enumerate(b):
        if j != skip:
            p *= X[j][s, bj]
    return p


def Tss(T, X):
    """``Tx[s, s'] = sum_b P(s, b) T[s, b, s']``, shape (Z, Z)."""
    N, Z, M, _ = shapes(T)
    X = _as_tuple(X)
    out = np.zeros((Z, Z))
    for s in range(Z):
        for b in joint_actions(M):
            out[s] += _prob(X, s, b) * T[(s,) + b]
    return out


def _expected_reward(T, R, i, s, b):
    """``sum_s' T[s, b, s'] R[i, s, b, s']``."""
    return float(np.dot(T[(s,) + b], R[(i, s) + b]))


def Ris(T, R, X):
    """``Rx[i][s] = sum_b P(s, b) sum_s' T R``: tuple of N arrays of shape (Z,)."""
    N, Z, M, _ = shapes(T)
    X = _as_tuple(X)
    out = [np.zeros(Z) for _ in range(N)]
    for s in range(Z):
        for b in joint_actions(M):
            P = _prob(X, s, b)
            for i in range(N):
                out[i][s] += P * _expected_reward(T, R, i, s, b)
    return tuple(out)


def Tisas(T, X):
    """``Tx[i][s, a, s'] = sum_{b_-i} P_-i(s, b) T[s, (a, b_-i), s']``: tuple of (Z, M_i, Z)."""
    N, Z, M, _ = shapes(T)
    X = _as_tuple(X)
    out = [np.zeros((Z, M[i], Z)) for i in range(N)]
    for s in range(Z):
        for b in joint_actions(M):
            for i in range(N):
                out[i][s, b[i]] += _prob(X, s, b, skip=i) * T[(s,) + b]
    return tuple(out)


def Risa(T, R, X):
    """``Rx[i][s, a] = sum_{b_-i} P_-i(s, b) sum_s' T R``: tuple of (Z, M_i)."""
    N, Z, M, _ = shapes(T)
    X = _as_tuple(X)
    out = [np.zeros((Z, M[i])) for i in range(N)]
    for s in range(Z):
        for b in joint_actions(M):
            for i in range(N):
                out[i][s, b[i]] += _prob(X, s, b, skip=i) * _expected_reward(T, R, i, s, b)
    return tuple(out)


# ------------------------------------------ section 6: stationary distribution
def stationary_distribution(Tx, tol=1e-10):
    """``Ps`` with ``Ps Tx = Ps``, ``sum Ps = 1``. Raises ValueError when not unique."""
    Tx = np.asarray(Tx, dtype=float)
    Z = Tx.shape[0]
    A = Tx.T - np.eye(Z)
    if np.linalg.matrix_rank(A, tol=tol) < Z - 1:
        raise ValueError("stationary distribution is not unique (Tx is not irreducible)")
    lhs = np.vstack([A, np.ones((1, Z))])
    rhs = np.zeros(Z + 1)
    rhs[-1] = 1.0
    Ps, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    return Ps


# ----------------------------------------- section 7: partial observability
def state_strategy(O, X):
    """``Y[i][s, a] = sum_o O[i][s, o] X[i][o, a]``: tuple of (Z, M_i)."""
    return tuple(np.asarray(O[i], dtype=float) @ x for i, x in enumerate(_as_tuple(X)))


def beliefs(O, Ps):
    """``B[i][o, s] = O[i][s,o] Ps[s] / sum_s'' O[i][s'',o] Ps[s'']``, row 0 where the denominator is 0."""
    out = []
    for Oi in O:
        Oi = np.asarray(Oi, dtype=float)
        Z, Qi = Oi.shape
        B = np.zeros((Qi, Z))
        for o in range(Qi):
            den = sum(Oi[s, o] * Ps[s] for s in range(Z))
            if den > 0:
                for s in range(Z):
                    B[o, s] = Oi[s, o] * Ps[s] / den
        out.append(B)
    return tuple(out)


def po_averages(T, R, O, X, focal="observation"):
    """Observation-based averages ``(Rioa, Tioao, Rio, Tioo)``, each a tuple over agents.

    Shapes per agent: ``Rioa (Q_i, M_i)``, ``Tioao (Q_i, M_i, Q_i)``, ``Rio (Q_i,)``,
    ``Tioo (Q_i, Q_i)``. See the module docstring for ``focal`` and the zero-probability
    convention.
    """
    N, Z, M, Qn = shapes(T, O)
    X = _as_tuple(X)
    Y = state_strategy(O, X)
    Tx = Tss(T, Y)
    Ps = stationary_distribution(Tx)
    B = beliefs(O, Ps)
    Ys_a = Risa(T, R, Y)
    Ys_as = Tisas(T, Y)
    Ys = Ris(T, R, Y)
    Rioa, Tioao, Rio, Tioo = [], [], [], []
    for i in range(N):
        Oi = np.asarray(O[i], dtype=float)
        Qi, Mi = Qn[i], M[i]
        ra = np.zeros((Qi, Mi))
        ta = np.zeros((Qi, Mi, Qi))
        for o in range(Qi):
            for a in range(Mi):
                for s in range(Z):
                    ra[o, a] += B[i][o, s] * Ys_a[i][s, a]
                    for s2 in range(Z):
                        for o2 in range(Qi):
                            ta[o, a, o2] += B[i][o, s] * Ys_as[i][s, a, s2] * Oi[s2, o2]
        if focal == "observation":
            r = np.array([sum(X[i][o, a] * ra[o, a] for a in range(Mi)) for o in range(Qi)])
            t = np.array([[sum(X[i][o, a] * ta[o, a, o2] for a in range(Mi)) for o2 in range(Qi)]
                          for o in range(Qi)])
        elif focal == "state":
            r = B[i] @ Ys[i]
            t = B[i] @ Tx @ Oi
        else:
            raise ValueError(f"focal must be 'observation' or 'state', got {focal!r}")
        Rioa.append(ra)
        Tioao.append(ta)
        Rio.append(r)
        Tioo.append(t)
    return tuple(Rioa), tuple(Tioao), tuple(Rio), tuple(Tioo)


# ----------------------------------------------- unified averages, values
def averages(T, R, O, X, focal="observation"):
    """``(Rxa, Txa, Rx, Tx)`` per agent in the agent's own (state or observation) space.

    Full observability (``O is None``): ``Rxa[i] = Risa[i]`` (Z, M_i),
    ``Txa[i] = Tisas[i]`` (Z, M_i, Z), ``Rx[i] = Ris[i]`` (Z,), ``Tx[i] = Tss`` (Z, Z).
    Partial observability: ``po_averages``.
    """
    if O is None:
        N = shapes(T)[0]
        Tx = Tss(T, X)
        return Risa(T, R, X), Tisas(T, X), Ris(T, R, X), tuple(Tx.copy() for _ in range(N))
    return po_averages(T, R, O, X, focal)


def values_from(Tx, Rx, gamma, prefactor=True):
    """``V[i] = p_i (Id - gamma_i Tx[i])^-1 Rx[i]`` for each agent (tuples in, tuple out)."""
    gamma = np.asarray(gamma, dtype=float)
    pre = prefactors(gamma, prefactor)
    out = []
    for i in range(len(Rx)):
        n = len(Rx[i])
        out.append(pre[i] * np.linalg.solve(np.eye(n) - gamma[i] * Tx[i], Rx[i]))
    return tuple(out)


def q_from(Txa, Rxa, Vx, gamma, prefactor=True):
    """``Q[i][o, a] = p_i Rxa[i][o, a] + gamma_i sum_o' Txa[i][o, a, o'] V[i][o']``."""
    gamma = np.asarray(gamma, dtype=float)
    pre = prefactors(gamma, prefactor)
    out = []
    for i in range(len(Rxa)):
        q = np.zeros_like(Rxa[i])
        for o in range(q.shape[0]):
            for a in range(q.shape[1]):
                q[o, a] = pre[i] * Rxa[i][o, a] + gamma[i] * np.dot(Txa[i][o, a], Vx[i])
        out.append(q)
    return tuple(out)


def values(T, R, O, X, gamma, prefactor=True, focal="observation"):
    """State (or observation) values: tuple of N arrays ``V[i]`` of shape (Q_i,)."""
    _, _, Rx, Tx = averages(T, R, O, X, focal)
    return values_from(Tx, Rx, gamma, prefactor)


def action_values(T, R, O, X, gamma, prefactor=True, focal="observation"):
    """Action values: tuple of N arrays ``Q[i]`` of shape (Q_i, M_i)."""
    Rxa, Txa, Rx, Tx = averages(T, R, O, X, focal)
    Vx = values_from(Tx, Rx, gamma, prefactor)
    return q_from(Txa, Rxa, Vx, gamma, prefactor)


def long_run_reward(T, R, O, X):
    """``Ri[i] = sum_s Ps[s] Rx[i, s]`` under the state strategy (Y under partial observability)."""
    Xs = _as_tuple(X) if O is None else state_strategy(O, X)
    Ps = stationary_distribution(Tss(T, Xs))
    return np.array([np.dot(r, Ps) for r in Ris(T, R, Xs)])


# ------------------------------------------------------- section 3: TD errors
def td_from(Qx, Vx, X, beta, learner):
    """SARSA ``beta_i Q - ln X``; actor-critic ``beta_i (Q - V)``. Tuples in, tuple out."""
    beta = np.asarray(beta, dtype=float)
    X = _as_tuple(X)
    if learner == "sarsa":
        return tuple(beta[i] * Qx[i] - np.log(X[i]) for i in range(len(X)))
    if learner == "actor_critic":
        return tuple(beta[i] * (Qx[i] - Vx[i][:, None]) for i in range(len(X)))
    raise ValueError(f"unknown learner {learner!r}")


def tderror(T, R, O, X, alpha, beta, gamma, learner="sarsa", prefactor=True, focal="observation"):
    """TD errors ``delta[i][o, a]`` scaled by beta (section 3; section 7 when O is given).

    ``alpha`` is not used; it is accepted so that every dynamics function of this module
    takes the same ``(T, R, O, X, alpha, beta, gamma, learner, prefactor)`` arguments.
    Returns a tuple of N arrays of shape (Q_i, M_i).
    """
    Rxa, Txa, Rx, Tx = averages(T, R, O, X, focal)
    Vx = values_from(Tx, Rx, gamma, prefactor)
    return td_from(q_from(Txa, Rxa, Vx, gamma, prefactor), Vx, X, beta, learner)


def tderror_normalized(T, R, O, X, alpha, beta, gamma, learner="sarsa", prefactor=True):
    """``delta[i][o, a] - mean_b delta[i][o, b]`` (mean over agent i's own M_i actions)."""
    d = tderror(T, R, O, X, alpha, beta, gamma, learner, prefactor)
    return tuple(di - di.mean(axis=1, keepdims=True) for di in d)


# ----------------------------------------------------- section 4: update map
def step_from(X, delta, alpha, reverse=False):
    """``X'[i][o, a] ∝ X[i][o, a] exp(+-alpha_i delta[i][o, a])`` row-wise."""
    alpha = np.asarray(alpha, dtype=float)
    sign = -1.0 if reverse else 1.0
    out = []
    for i, x in enumerate(_as_tuple(X)):
        w = x * np.exp(sign * alpha[i] * delta[i])
        out.append(w / w.sum(axis=1, keepdims=True))
    return tuple(out)


def step(T, R, O, X, alpha, beta, gamma, learner="sarsa", prefactor=True, reverse=False):
    """One CRLD step in strategy coordinates: tuple of (Q_i, M_i) arrays (section 4)."""
    delta = tderror(T, R, O, X, alpha, beta, gamma, learner, prefactor)
    return step_from(X, delta, alpha, reverse)


def logit_step(T, R, O, y, alpha, beta, gamma, learner="sarsa", prefactor=True, reverse=False):
    """``y'[i][o, a] = y[i][o, a] +- alpha_i (delta[i][o, a] - delta[i][o, M_i - 1])``.

    ``y`` is flat or a tuple of (Q_i, M_i - 1); the result is the flat ``y'``.
    """
    _, _, M, Qn = shapes(T, O)
    yt = unflat_logit(y, M, Qn)
    X = strategy_of_logit(yt, M, Qn)
    delta = tderror(T, R, O, X, alpha, beta, gamma, learner, prefactor)
    alpha = np.asarray(alpha, dtype=float)
    sign = -1.0 if reverse else 1.0
    return flat_logit([yt[i] + sign * alpha[i] * (delta[i][:, :-1] - delta[i][:, -1:])
                       for i in range(len(yt))])


def trajectory(T, R, O, X0, alpha, beta, gamma, learner="sarsa", prefactor=True, tmax=10,
               reverse=False):
    """``[X0, X1, ..., X_tmax]`` (tmax + 1 strategies) iterating ``step``."""
    X = _as_tuple(X0)
    out = [X]
    for _ in range(tmax):
        X = step(T, R, O, X, alpha, beta, gamma, learner, prefactor, reverse)
        out.append(X)
    return out


def jacobian_fd(T, R, O, y, alpha, beta, gamma, learner="sarsa", prefactor=True, h=1e-5):
    """Central finite differences ``J[r, k] = d y'_r / d y_k`` of the flat logit step map.

    Shape ``(n_free, n_free)``; rows and columns in the flat logit layout.
    """
    _, _, M, Qn = shapes(T, O)
    y = flat_logit(unflat_logit(y, M, Qn)) if isinstance(y, (tuple, list)) else np.asarray(y, float)
    n = y.size
    J = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        plus = logit_step(T, R, O, y + e, alpha, beta, gamma, learner, prefactor)
        minus = logit_step(T, R, O, y - e, alpha, beta, gamma, learner, prefactor)
        J[:, k] = (plus - minus) / (2 * h)
    return J


# ------------------------------------------------------------ random games
def random_game(rng, M=(2, 3), Z=2, Q=None, concentration=1.0):
    """A random ragged game ``(T, R, O)``.

    ``T`` has Dirichlet rows over s' (sum 1), ``R`` standard normal entries, ``O`` is None
    for ``Q=None`` (full observability) else a list with ``O[i]`` of shape (Z, Q_i) and
    Dirichlet rows over o (sum 1).
    """
    M = tuple(int(m) for m in M)
    N = len(M)
    T = rng.dirichlet(concentration * np.ones(Z), size=(Z,) + M)
    R = rng.normal(size=(N, Z) + M + (Z,))
    if Q is None:
        O = None
    else:
        if len(Q) != N:
            raise ValueError("Q needs one count per agent")
        O = [rng.dirichlet(np.ones(q), size=Z) for q in Q]
    return T, R, O


def random_strategy(rng, M, Q, concentration=2.0):
    """Interior ragged strategy: tuple of N (Q_i, M_i) arrays with Dirichlet rows."""
    return tuple(rng.dirichlet(concentration * np.ones(m), size=q) for m, q in zip(M, Q))


def random_params(rng, N):
    """``(alpha, beta, gamma)`` arrays of length N in the ranges of tests/reference.py."""
    return (rng.uniform(0.05, 1.0, size=N), rng.uniform(0.5, 5.0, size=N),
            rng.uniform(0.0, 0.95, size=N))
