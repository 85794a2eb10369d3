"""Independent plain-numpy reference of crld-math.md (sections 2-7): the test oracle.

This module deliberately does **not** import crldgen. Everything is computed directly
from the formulas with ``np.einsum`` and ``np.linalg.solve``, for any number of agents.

Array conventions (crld-math.md section 1)::

    T[s, a0, ..., a{N-1}, s']      transition probabilities
    R[i, s, a0, ..., a{N-1}, s']   rewards
    O[i, s, o]                     observation probabilities (partial observability)
    X[i, s, a]                     strategies (X[i, o, a] under partial observability)
    alpha, beta, gamma             float arrays of length N

Free (logit) coordinates: ``y[i, s, a] = ln(X[i,s,a] / X[i,s,M-1])`` for ``a < M-1``,
flattened as ``k = (i*Z + s)*(M-1) + a`` (C order of the array ``y[i, s, a]``).
"""

from __future__ import annotations

import numpy as np

_STATE, _NEXT = "s", "t"
_ACTION_LETTERS = "abcdefghijklmnopqr"  # one per agent; never 's' or 't'

LEARNERS = ("sarsa", "actor_critic")


# --------------------------------------------------------------------- helpers
def n_agents_of(T: np.ndarray) -> int:
    return T.ndim - 2


def prefactors(gamma, prefactor: bool) -> np.ndarray:
    """``p_i = 1 - gamma_i`` with the prefactor on, else 1."""
    gamma = np.asarray(gamma, dtype=float)
    return 1.0 - gamma if prefactor else np.ones_like(gamma)


def _letters(N: int) -> list[str]:
    if N > len(_ACTION_LETTERS):
        raise ValueError(f"reference supports at most {len(_ACTION_LETTERS)} agents")
    return list(_ACTION_LETTERS[:N])


def _average(tensor_subs: str, tensor: np.ndarray, X: np.ndarray, agents, out: str) -> np.ndarray:
    """``einsum`` of ``tensor`` with ``X[j, s, b_j]`` for every ``j`` in ``agents``."""
    acts = _letters(X.shape[0])
    operands = [tensor]
    subs = [tensor_subs]
    for j in agents:
        operands.append(X[j])
        subs.append(_STATE + acts[j])
    return np.einsum(",".join(subs) + "->" + out, *operands)


def _joint_subs(N: int, with_next: bool = True) -> str:
    return _STATE + "".join(_letters(N)) + (_NEXT if with_next else "")


# ------------------------------------------------ section 2: strategy averages
def Tss(T, X):
    """``Tx[s, s'] = sum_b P(s, b) T[s, b, s']``."""
    N = n_agents_of(T)
    return _average(_joint_subs(N), T, X, range(N), _STATE + _NEXT)


def Ris(T, R, X):
    """``Rx[i, s] = sum_b P(s, b) sum_s' T[s, b, s'] R[i, s, b, s']``."""
    N = n_agents_of(T)
    TR = np.einsum(f"{_joint_subs(N)},i{_joint_subs(N)}->i{_joint_subs(N, False)}", T, R)
    return np.array([_average(_joint_subs(N, False), TR[i], X, range(N), _STATE) for i in range(N)])


def Tisas(T, X):
    """``Tx[i, s, a, s'] = sum_{b_-i} P_-i(s, b) T[s, (a, b_-i), s']``."""
    N = n_agents_of(T)
    acts = _letters(N)
    return np.array([
        _average(_joint_subs(N), T, X, [j for j in range(N) if j != i], _STATE + acts[i] + _NEXT)
        for i in range(N)
    ])


def Risa(T, R, X):
    """``Rx[i, s, a] = sum_{b_-i} P_-i(s, b) sum_s' T[s, (a, b_-i), s'] R[i, s, (a, b_-i), s']``."""
    N = n_agents_of(T)
    acts = _letters(N)
    TR = np.einsum(f"{_joint_subs(N)},i{_joint_subs(N)}->i{_joint_subs(N, False)}", T, R)
    return np.array([
        _average(_joint_subs(N, False), TR[i], X, [j for j in range(N) if j != i], _STATE + acts[i])
        for i in range(N)
    ])


def values_from(Tx, Rx, gamma, prefactor):
    """``V[i] = p_i (Id - gamma_i Tx[i])^-1 Rx[i]``; ``Tx`` is (Z, Z) or one matrix per agent."""
    gamma = np.asarray(gamma, dtype=float)
    pre = prefactors(gamma, prefactor)
    N, Z = Rx.shape
    Tx = np.broadcast_to(Tx, (N, Z, Z))
    return np.array([pre[i] * np.linalg.solve(np.eye(Z) - gamma[i] * Tx[i], Rx[i]) for i in range(N)])


def V(T, R, X, gamma, prefactor=True):
    """State values ``Vx[i, s]`` (section 2, item 5)."""
    return values_from(Tss(T, X), Ris(T, R, X), gamma, prefactor)


def q_from(Tx_isas, Rx_isa, Vx, gamma, prefactor):
    """``Q[i, s, a] = p_i Rx[i, s, a] + gamma_i sum_s' Tx[i, s, a, s'] V[i, s']``."""
    gamma = np.asarray(gamma, dtype=float)
    pre = prefactors(gamma, prefactor)
    return pre[:, None, None] * Rx_isa + gamma[:, None, None] * np.einsum("isat,it->isa", Tx_isas, Vx)


def Q(T, R, X, gamma, prefactor=True):
    """State-action values ``Qx[i, s, a]`` (section 2, item 6)."""
    return q_from(Tisas(T, X), Risa(T, R, X), V(T, R, X, gamma, prefactor), gamma, prefactor)


# ------------------------------------------------------- section 3: TD errors
def td_from(Qx, Vx, X, beta, learner):
    beta = np.asarray(beta, dtype=float)[:, None, None]
    if learner == "sarsa":
        return beta * Qx - np.log(X)
    if learner == "actor_critic":
        return beta * (Qx - Vx[:, :, None])
    raise ValueError(f"unknown learner {learner!r}")


def td_error(T, R, X, beta, gamma, prefactor=True, learner="sarsa"):
    """``delta[i, s, a]`` scaled by beta (section 3)."""
    return td_from(Q(T, R, X, gamma, prefactor), V(T, R, X, gamma, prefactor), X, beta, learner)


def normalize_td(delta):
    """``delta[i,s,a] - mean_b delta[i,s,b]``."""
    return delta - delta.mean(axis=-1, keepdims=True)


def td_error_normalized(T, R, X, beta, gamma, prefactor=True, learner="sarsa"):
    return normalize_td(td_error(T, R, X, beta, gamma, prefactor, learner))


# ----------------------------------------------------- section 4: update map
def step_from(X, delta, alpha, reverse=False):
    """``X' ∝ X exp(alpha delta)`` (``-delta`` for the reverse step)."""
    alpha = np.asarray(alpha, dtype=float)[:, None, None]
    sign = -1.0 if reverse else 1.0
    w = X * np.exp(sign * alpha * delta)
    return w / w.sum(axis=-1, keepdims=True)


def strategy_step(T, R, X, alpha, beta, gamma, prefactor=True, learner="sarsa", reverse=False):
    """One step of the CRLD map in strategy coordinates (section 4)."""
    return step_from(X, td_error(T, R, X, beta, gamma, prefactor, learner), alpha, reverse)


def strategy_of_logit(y):
    """``X = softmax(y)`` with ``y[..., M-1] = 0``; ``y`` has shape (N, Z, M-1)."""
    full = np.concatenate([y, np.zeros(y.shape[:-1] + (1,))], axis=-1)
    full = full - full.max(axis=-1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=-1, keepdims=True)


def logit_of_strategy(X):
    """``y[i, s, a] = ln(X[i,s,a] / X[i,s,M-1])`` for ``a < M-1``."""
    return np.log(X[..., :-1]) - np.log(X[..., -1:])


def logit_step(T, R, y, alpha, beta, gamma, prefactor=True, learner="sarsa", O=None):
    """``y' = y + alpha (delta[a] - delta[M-1])`` with ``X = softmax(y)``.

    With ``O`` given, ``y`` are observation-based log-ratios and the TD errors are those
    of section 7.
    """
    X = strategy_of_logit(y)
    if O is None:
        delta = td_error(T, R, X, beta, gamma, prefactor, learner)
    else:
        delta = po_td_error(T, R, O, X, beta, gamma, prefactor, learner)
    alpha = np.asarray(alpha, dtype=float)[:, None, None]
    return y + alpha * (delta[..., :-1] - delta[..., -1:])


def logit_jacobian_fd(T, R, y, alpha, beta, gamma, prefactor=True, learner="sarsa", O=None, h=1e-5):
    """Central finite differences ``J[r, k] = d y'_r / d y_k`` in the N*Z*(M-1) free coordinates.

    Both ``r`` and ``k`` are flattened as ``(i*Z + s)*(M-1) + a``.
    """
    y = np.asarray(y, dtype=float)
    n = y.size
    J = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        e = e.reshape(y.shape)
        plus = logit_step(T, R, y + e, alpha, beta, gamma, prefactor, learner, O)
        minus = logit_step(T, R, y - e, alpha, beta, gamma, prefactor, learner, O)
        J[:, k] = (plus - minus).ravel() / (2 * h)
    return J


# ------------------------------------- section 6: stationary distribution
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


def long_run_reward(T, R, X):
    """``Ri[i] = sum_s Ps[s] Rx[i, s]``."""
    Ps = stationary_distribution(Tss(T, X))
    return Ris(T, R, X) @ Ps


# --------------------------------------- section 7: partial observability
def po_state_strategy(O, X):
    """``Y[i, s, a] = sum_o O[i, s, o] X[i, o, a]``."""
    return np.einsum("iso,ioa->isa", O, X)


def po_beliefs(O, Ps):
    """``B[i, o, s] = O[i,s,o] Ps[s] / sum_s'' O[i,s'',o] Ps[s'']`` (0 where the denominator is 0)."""
    joint = np.einsum("iso,s->ios", O, Ps)
    den = joint.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        B = np.where(den > 0, joint / np.where(den > 0, den, 1.0), 0.0)
    return B


def po_averages(T, R, O, X, focal="observation"):
    """Observation-based averages of section 7: ``(Rioa, Tioao, Rio, Tioo)``.

    ``focal='observation'`` (crldgen, crld-math.md section 7 note): agent i in
    observation o acts with ``X[i, o, :]``, so ``Tio[i,o,o'] = sum_a X[i,o,a] Tx[i,o,a,o']``.
    ``focal='state'``: the focal agent's transitions use the state mixture ``Y`` too
    (``Tio = B Tss O``, ``Rio = B Ris``), as some reference tools do.
    """
    Y = po_state_strategy(O, X)
    Tx = Tss(T, Y)
    Ps = stationary_distribution(Tx)
    B = po_beliefs(O, Ps)
    Rioa = np.einsum("ios,isa->ioa", B, Risa(T, R, Y))
    Tioao = np.einsum("ios,isat,itp->ioap", B, Tisas(T, Y), O)
    if focal == "observation":
        Rio = np.einsum("ioa,ioa->io", X, Rioa)
        Tioo = np.einsum("ioa,ioap->iop", X, Tioao)
    elif focal == "state":
        Rio = np.einsum("ios,is->io", B, Ris(T, R, Y))
        Tioo = np.einsum("ios,st,itp->iop", B, Tx, O)
    else:
        raise ValueError(f"focal must be 'observation' or 'state', got {focal!r}")
    return Rioa, Tioao, Rio, Tioo


def po_V(T, R, O, X, gamma, prefactor=True, focal="observation"):
    _, _, Rio, Tioo = po_averages(T, R, O, X, focal)
    return values_from(Tioo, Rio, gamma, prefactor)


def po_Q(T, R, O, X, gamma, prefactor=True, focal="observation"):
    Rioa, Tioao, Rio, Tioo = po_averages(T, R, O, X, focal)
    Vx = values_from(Tioo, Rio, gamma, prefactor)
    return q_from(Tioao, Rioa, Vx, gamma, prefactor)


def po_td_error(T, R, O, X, beta, gamma, prefactor=True, learner="sarsa", focal="observation"):
    Rioa, Tioao, Rio, Tioo = po_averages(T, R, O, X, focal)
    Vx = values_from(Tioo, Rio, gamma, prefactor)
    return td_from(q_from(Tioao, Rioa, Vx, gamma, prefactor), Vx, X, beta, learner)


def po_strategy_step(T, R, O, X, alpha, beta, gamma, prefactor=True, learner="sarsa", reverse=False):
    return step_from(X, po_td_error(T, R, O, X, beta, gamma, prefactor, learner), alpha, reverse)


# ------------------------------------------------------------ random games
def random_game(rng, N=2, Z=2, M=2, n_obs=None, concentration=2.0):
    """A random game with Dirichlet rows, normal rewards and interior strategies.

    Returns a dict with ``T, R, O`` (``O`` is None unless ``n_obs`` is given; then
    ``X`` is observation-based), ``X``, ``alpha, beta, gamma`` (length N).
    """
    joint = (M,) * N
    T = rng.dirichlet(np.ones(Z), size=(Z,) + joint)
    R = rng.normal(size=(N, Z) + joint + (Z,))
    O = None if n_obs is None else rng.dirichlet(np.ones(n_obs), size=(N, Z))
    Zx = Z if n_obs is None else n_obs
    X = rng.dirichlet(concentration * np.ones(M), size=(N, Zx))
    return dict(
        T=T, R=R, O=O, X=X,
        alpha=rng.uniform(0.05, 1.0, size=N),
        beta=rng.uniform(0.5, 5.0, size=N),
        gamma=rng.uniform(0.0, 0.95, size=N),
    )


def game_strategy(max_agents=3, max_states=3, max_actions=3, n_obs=False):
    """A hypothesis strategy producing ``random_game`` dicts (plus ``N, Z, M, seed``)."""
    from hypothesis import strategies as st

    @st.composite
    def games(draw):
        N = draw(st.integers(1, max_agents))
        Z = draw(st.integers(1, max_states))
        M = draw(st.integers(2, max_actions))
        Qo = draw(st.integers(1, max_states)) if n_obs else None
        seed = draw(st.integers(0, 2**32 - 1))
        g = random_game(np.random.default_rng(seed), N, Z, M, n_obs=Qo)
        g.update(N=N, Z=Z, M=M, seed=seed)
        return g

    return games()
