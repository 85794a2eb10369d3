"""Checks of the test oracle itself (tests/reference.py).

The oracle is compared with a second, naive implementation (explicit loops over joint
actions, value iteration instead of a linear solve), with hand-computed numbers and
with the identities of crld-math.md. None of this imports crldgen.
"""

import itertools

import numpy as np
import pytest

import reference as ref

SHAPES = [(N, Z, M) for N in (1, 2, 3) for Z in (1, 2, 3) for M in (2, 3)]


def _game(N, Z, M, seed=0, n_obs=None):
    return ref.random_game(np.random.default_rng([N, Z, M, seed]), N, Z, M, n_obs=n_obs)


# ------------------------------------------------------- naive second oracle
def naive_averages(T, R, X):
    """Tss, Ris, Tisas, Risa by explicit loops over joint actions."""
    N, Z, M = X.shape
    Tss = np.zeros((Z, Z))
    Ris = np.zeros((N, Z))
    Tisas = np.zeros((N, Z, M, Z))
    Risa = np.zeros((N, Z, M))
    for s in range(Z):
        for b in itertools.product(range(M), repeat=N):
            P = np.prod([X[j, s, b[j]] for j in range(N)])
            Tss[s] += P * T[(s,) + b]
            for i in range(N):
                r = np.dot(T[(s,) + b], R[(i, s) + b])
                Ris[i, s] += P * r
                P_other = np.prod([X[j, s, b[j]] for j in range(N) if j != i])
                Tisas[i, s, b[i]] += P_other * T[(s,) + b]
                Risa[i, s, b[i]] += P_other * r
    return Tss, Ris, Tisas, Risa


def naive_values(Tss, Ris, gamma, prefactor):
    """Value iteration ``V <- p R + gamma Tss V`` to convergence."""
    pre = 1 - gamma if prefactor else np.ones_like(gamma)
    V = np.zeros_like(Ris)
    for _ in range(5000):
        V_new = pre[:, None] * Ris + gamma[:, None] * np.einsum("st,it->is", Tss, V)
        if np.max(np.abs(V_new - V)) < 1e-15 * max(1.0, np.max(np.abs(V_new))):
            return V_new
        V = V_new
    return V


@pytest.mark.parametrize("N,Z,M", SHAPES)
def test_averages_match_loops(N, Z, M):
    g = _game(N, Z, M)
    T, R, X = g["T"], g["R"], g["X"]
    Tss, Ris, Tisas, Risa = naive_averages(T, R, X)
    np.testing.assert_allclose(ref.Tss(T, X), Tss, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.Ris(T, R, X), Ris, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.Tisas(T, X), Tisas, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.Risa(T, R, X), Risa, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("prefactor", [True, False])
@pytest.mark.parametrize("N,Z,M", [(1, 1, 2), (2, 2, 2), (3, 3, 2), (2, 3, 3)])
def test_values_match_value_iteration(N, Z, M, prefactor):
    g = _game(N, Z, M, seed=1)
    T, R, X, gamma = g["T"], g["R"], g["X"], g["gamma"]
    Tss, Ris, Tisas, Risa = naive_averages(T, R, X)
    V = naive_values(Tss, Ris, gamma, prefactor)
    np.testing.assert_allclose(ref.V(T, R, X, gamma, prefactor), V, rtol=1e-11, atol=1e-13)
    pre = 1 - gamma if prefactor else np.ones(N)
    Q = np.empty((N, Z, M))
    for i, s, a in itertools.product(range(N), range(Z), range(M)):
        Q[i, s, a] = pre[i] * Risa[i, s, a] + gamma[i] * Tisas[i, s, a] @ V[i]
    np.testing.assert_allclose(ref.Q(T, R, X, gamma, prefactor), Q, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("N,Z,M", SHAPES)
def test_consistency_identities(N, Z, M):
    """crld-math.md section 2: sum_a X Rx = Rx, sum_a X Tx = Tx, sum_a X Q = V; rows sum to 1."""
    g = _game(N, Z, M, seed=2)
    T, R, X, gamma = g["T"], g["R"], g["X"], g["gamma"]
    np.testing.assert_allclose(np.einsum("isa,isa->is", X, ref.Risa(T, R, X)), ref.Ris(T, R, X), rtol=1e-12,
                               atol=1e-14)
    for i in range(N):
        np.testing.assert_allclose(np.einsum("sa,sat->st", X[i], ref.Tisas(T, X)[i]), ref.Tss(T, X), rtol=1e-12)
    np.testing.assert_allclose(ref.Tss(T, X).sum(axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(ref.Tisas(T, X).sum(axis=-1), 1.0, rtol=1e-13)
    for prefactor in (True, False):
        np.testing.assert_allclose(np.einsum("isa,isa->is", X, ref.Q(T, R, X, gamma, prefactor)),
                                   ref.V(T, R, X, gamma, prefactor), rtol=1e-11, atol=1e-13)


def test_hand_computed_single_agent():
    """One agent, two states: action 0 stays, action 1 switches; reward 1 for arriving in state 1."""
    T = np.zeros((2, 2, 2))
    T[0, 0, 0] = T[1, 0, 1] = 1.0  # stay
    T[0, 1, 1] = T[1, 1, 0] = 1.0  # switch
    R = np.zeros((1, 2, 2, 2))
    R[0, :, :, 1] = 1.0
    X = np.array([[[0.25, 0.75], [0.5, 0.5]]])
    gamma = np.array([0.5])
    # Tx = [[.25, .75], [.5, .5]]; Rx = [.75, .5]
    np.testing.assert_allclose(ref.Tss(T, X), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(ref.Ris(T, R, X), [[0.75, 0.5]])
    np.testing.assert_allclose(ref.Risa(T, R, X), [[[0.0, 1.0], [1.0, 0.0]]])
    # V = p (Id - 0.5 Tx)^-1 Rx with
    # (Id - .5 Tx) = [[.875, -.375], [-.25, .75]]; det = .5625; inverse = [[.75, .375], [.25, .875]] / .5625
    Vnp = np.array([0.75 * 0.75 + 0.375 * 0.5, 0.25 * 0.75 + 0.875 * 0.5]) / 0.5625
    np.testing.assert_allclose(ref.V(T, R, X, gamma, prefactor=False), [Vnp], rtol=1e-14)
    np.testing.assert_allclose(ref.V(T, R, X, gamma, prefactor=True), [0.5 * Vnp], rtol=1e-14)
    # no prefactor: Q[s=0] = [0 + .5 V0, 1 + .5 V1] (stay in 0, switch to 1), Q[s=1] = [1 + .5 V1, 0 + .5 V0]
    Q = ref.Q(T, R, X, gamma, prefactor=False)
    np.testing.assert_allclose(Q[0, 0], [0.5 * Vnp[0], 1 + 0.5 * Vnp[1]], rtol=1e-14)
    np.testing.assert_allclose(Q[0, 1], [1 + 0.5 * Vnp[1], 0.5 * Vnp[0]], rtol=1e-14)
    beta = np.array([2.0])
    np.testing.assert_allclose(ref.td_error(T, R, X, beta, gamma, False, "sarsa"), 2.0 * Q - np.log(X), rtol=1e-14)
    np.testing.assert_allclose(ref.td_error(T, R, X, beta, gamma, False, "actor_critic"),
                               2.0 * (Q - Vnp[None, :, None]), rtol=1e-14, atol=1e-15)
    # stationary distribution of [[.25, .75], [.5, .5]] is (.4, .6)
    np.testing.assert_allclose(ref.stationary_distribution(ref.Tss(T, X)), [0.4, 0.6], rtol=1e-13)
    np.testing.assert_allclose(ref.long_run_reward(T, R, X), [0.4 * 0.75 + 0.6 * 0.5], rtol=1e-13)


@pytest.mark.parametrize("learner", ref.LEARNERS)
@pytest.mark.parametrize("N,Z,M", [(1, 1, 2), (2, 2, 3), (3, 2, 2)])
def test_update_map_forms_agree(N, Z, M, learner):
    g = _game(N, Z, M, seed=3)
    T, R, X, a, b, c = (g[k] for k in ("T", "R", "X", "alpha", "beta", "gamma"))
    Xn = ref.strategy_step(T, R, X, a, b, c, True, learner)
    np.testing.assert_allclose(Xn.sum(-1), 1.0, rtol=1e-14)
    y = ref.logit_of_strategy(X)
    np.testing.assert_allclose(ref.strategy_of_logit(y), X, rtol=1e-13)
    yn = ref.logit_step(T, R, y, a, b, c, True, learner)
    np.testing.assert_allclose(yn, ref.logit_of_strategy(Xn), rtol=1e-11, atol=1e-12)
    delta = ref.td_error(T, R, X, b, c, True, learner)
    nd = ref.td_error_normalized(T, R, X, b, c, True, learner)
    np.testing.assert_allclose(nd.sum(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(nd[..., :-1] - nd[..., -1:], delta[..., :-1] - delta[..., -1:], atol=1e-12)
    # the reverse step undoes a forward step taken with the same errors
    np.testing.assert_allclose(ref.step_from(ref.step_from(X, delta, a), delta, a, reverse=True), X, rtol=1e-12)
    rev = ref.strategy_step(T, R, X, a, b, c, True, learner, reverse=True)
    np.testing.assert_allclose(rev, ref.step_from(X, -delta, a), rtol=1e-14)
    if learner == "sarsa":  # y' = (1 - alpha) y + alpha beta (Q[a] - Q[M-1])
        Q = ref.Q(T, R, X, c, True)
        expect = (1 - a[:, None, None]) * y + (a * b)[:, None, None] * (Q[..., :-1] - Q[..., -1:])
        np.testing.assert_allclose(yn, expect, rtol=1e-11, atol=1e-12)


def test_sarsa_fixed_point_is_logit_equilibrium():
    """Single state, single agent: X ∝ exp(beta p R) is a fixed point of the SARSA map."""
    rng = np.random.default_rng(4)
    T = np.ones((1, 3, 1))
    R = rng.normal(size=(1, 1, 3, 1))
    beta, gamma, alpha = np.array([2.0]), np.array([0.6]), np.array([0.5])
    w = np.exp(beta[0] * 0.4 * R[0, 0, :, 0])
    X = (w / w.sum())[None, None, :]
    np.testing.assert_allclose(ref.strategy_step(T, R, X, alpha, beta, gamma, True, "sarsa"), X, rtol=1e-13)


@pytest.mark.parametrize("learner", ref.LEARNERS)
def test_finite_difference_jacobian_known_case(learner):
    """N = Z = 1: SARSA has J = (1 - alpha) Id, actor-critic J = Id."""
    rng = np.random.default_rng(5)
    T = np.ones((1, 3, 1))
    R = rng.normal(size=(1, 1, 3, 1))
    y = rng.normal(size=(1, 1, 2))
    alpha = np.array([0.3])
    J = ref.logit_jacobian_fd(T, R, y, alpha, np.array([3.0]), np.array([0.9]), True, learner)
    expect = (0.7 if learner == "sarsa" else 1.0) * np.eye(2)
    np.testing.assert_allclose(J, expect, atol=1e-9)


def test_finite_difference_jacobian_layout():
    """Columns are flattened as k = (i*Z + s)*(M-1) + a: y[0, 1, 0] is column (0*2 + 1)*2 + 0 = 2."""
    g = _game(2, 2, 3, seed=6)
    T, R, X, a, b, c = (g[k] for k in ("T", "R", "X", "alpha", "beta", "gamma"))
    y = ref.logit_of_strategy(X)
    J = ref.logit_jacobian_fd(T, R, y, a, b, c, True, "sarsa")
    assert J.shape == (8, 8)
    e = np.zeros_like(y)
    e[0, 1, 0] = 1e-6
    col = (ref.logit_step(T, R, y + e, a, b, c) - ref.logit_step(T, R, y - e, a, b, c)).ravel() / 2e-6
    np.testing.assert_allclose(J[:, 2], col, rtol=1e-6, atol=1e-8)


def test_stationary_distribution():
    g = _game(2, 3, 2, seed=7)
    Tx = ref.Tss(g["T"], g["X"])
    Ps = ref.stationary_distribution(Tx)
    np.testing.assert_allclose(Ps @ Tx, Ps, atol=1e-14)
    np.testing.assert_allclose(Ps.sum(), 1.0, rtol=1e-14)
    assert np.all(Ps > 0)
    np.testing.assert_allclose(Ps, np.linalg.matrix_power(Tx, 500)[0], atol=1e-12)
    np.testing.assert_allclose(ref.long_run_reward(g["T"], g["R"], g["X"]), ref.Ris(g["T"], g["R"], g["X"]) @ Ps)
    with pytest.raises(ValueError, match="not unique"):
        ref.stationary_distribution(np.eye(2))


@pytest.mark.parametrize("learner", ref.LEARNERS)
@pytest.mark.parametrize("N,Z,M", [(1, 2, 2), (2, 2, 2), (2, 3, 3), (3, 2, 2)])
def test_partial_observability_with_identity_is_full(N, Z, M, learner):
    g = _game(N, Z, M, seed=8)
    T, R, X, a, b, c = (g[k] for k in ("T", "R", "X", "alpha", "beta", "gamma"))
    O = np.broadcast_to(np.eye(Z), (N, Z, Z)).copy()
    for focal in ("observation", "state"):
        np.testing.assert_allclose(ref.po_V(T, R, O, X, c, True, focal), ref.V(T, R, X, c, True), rtol=1e-11)
        np.testing.assert_allclose(ref.po_Q(T, R, O, X, c, True, focal), ref.Q(T, R, X, c, True), rtol=1e-11)
    np.testing.assert_allclose(ref.po_td_error(T, R, O, X, b, c, True, learner),
                               ref.td_error(T, R, X, b, c, True, learner), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref.po_strategy_step(T, R, O, X, a, b, c, True, learner),
                               ref.strategy_step(T, R, X, a, b, c, True, learner), rtol=1e-10)
    y = ref.logit_of_strategy(X)
    np.testing.assert_allclose(ref.logit_step(T, R, y, a, b, c, True, learner, O=O),
                               ref.logit_step(T, R, y, a, b, c, True, learner), rtol=1e-10, atol=1e-12)


def test_partial_observability_beliefs_and_focal_conventions():
    g = _game(2, 3, 2, seed=9, n_obs=2)
    T, R, O, X, c = (g[k] for k in ("T", "R", "O", "X", "gamma"))
    Y = ref.po_state_strategy(O, X)
    np.testing.assert_allclose(Y.sum(-1), 1.0, rtol=1e-14)
    Ps = ref.stationary_distribution(ref.Tss(T, Y))
    B = ref.po_beliefs(O, Ps)
    np.testing.assert_allclose(B.sum(-1), 1.0, rtol=1e-14)
    Rioa, Tioao, Rio, Tioo = ref.po_averages(T, R, O, X)
    np.testing.assert_allclose(Tioao.sum(-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(Tioo.sum(-1), 1.0, rtol=1e-13)
    # explicit loops for step 3
    N, Z, M = 2, 3, 2
    Tisas = ref.Tisas(T, Y)
    for i, o, a, o2 in itertools.product(range(N), range(2), range(M), range(2)):
        val = sum(B[i, o, s] * Tisas[i, s, a, s2] * O[i, s2, o2] for s in range(Z) for s2 in range(Z))
        assert abs(Tioao[i, o, a, o2] - val) < 1e-14
    # under noisy observations the focal conventions differ (crld-math.md section 7 note)
    Q_obs = ref.po_Q(T, R, O, X, c, True, "observation")
    Q_state = ref.po_Q(T, R, O, X, c, True, "state")
    assert np.max(np.abs(Q_obs - Q_state)) > 1e-6
    # an observation nobody ever makes gets belief 0
    O2 = np.zeros((1, 2, 3))
    O2[0, :, :2] = np.eye(2)
    np.testing.assert_array_equal(ref.po_beliefs(O2, np.array([0.3, 0.7]))[0, 2], 0.0)


def test_random_game_generator():
    for N, Z, M in SHAPES:
        g = _game(N, Z, M, seed=10, n_obs=2)
        assert g["T"].shape == (Z,) + (M,) * N + (Z,)
        assert g["R"].shape == (N, Z) + (M,) * N + (Z,)
        assert g["O"].shape == (N, Z, 2)
        assert g["X"].shape == (N, 2, M)
        np.testing.assert_allclose(g["T"].sum(-1), 1.0)
        np.testing.assert_allclose(g["O"].sum(-1), 1.0)
        assert np.all(g["X"] > 0)
        assert np.all((g["alpha"] > 0) & (g["alpha"] <= 1))
        assert np.all((g["beta"] >= 0.5) & (g["beta"] <= 5))
        assert np.all((g["gamma"] >= 0) & (g["gamma"] <= 0.95))
