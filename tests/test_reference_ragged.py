"""Checks of the ragged test oracle (tests/reference_ragged.py). No crldgen import.

1. On uniform games it agrees with tests/reference.py (an independent einsum code).
2. On ragged games it satisfies the identities of crld-math.md (simplex, consistency,
   logit form of the map, agent relabelling, finite-difference Jacobians, the
   zero-probability-observation convention).
3. Embeddings into uniform games, evaluated with tests/reference.py: a duplicated action
   (exact) and a deleted action approached by a vanishing probability eps (limit).
"""

import itertools

import numpy as np
import pytest

import reference as ref
import reference_ragged as rr

LEARNERS = ("sarsa", "actor_critic")
TOL = dict(rtol=1e-12, atol=1e-12)


def _rng(*key):
    return np.random.default_rng(list(key))


def _close(a, b, **kw):
    kw = kw or TOL
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, **kw)


# ------------------------------------------------ 1. uniform games vs reference.py
UNIFORM = [(N, Z, M, Qo) for N in (1, 2, 3) for Z in (1, 2, 3) for M in (2, 3)
           for Qo in (None, 1, 2, 3) if not (N == 3 and M == 3 and Z == 3)]


def _uniform_case(N, Z, M, Qo, seed=0):
    rng = _rng(N, Z, M, 0 if Qo is None else Qo, seed)
    T, R, O = rr.random_game(rng, M=(M,) * N, Z=Z, Q=None if Qo is None else (Qo,) * N)
    X = rr.random_strategy(rng, (M,) * N, (Z if Qo is None else Qo,) * N)
    alpha, beta, gamma = rr.random_params(rng, N)
    return T, R, O, X, alpha, beta, gamma


@pytest.mark.parametrize("N,Z,M,Qo", UNIFORM)
def test_uniform_agrees_with_reference(N, Z, M, Qo):
    T, R, O, X, alpha, beta, gamma = _uniform_case(N, Z, M, Qo)
    Xa = rr.array_of_tuple(X)
    Oa = None if O is None else rr.array_of_tuple(O)
    if O is None:
        np.testing.assert_allclose(rr.Tss(T, X), ref.Tss(T, Xa), **TOL)
        np.testing.assert_allclose(rr.array_of_tuple(rr.Ris(T, R, X)), ref.Ris(T, R, Xa), **TOL)
        np.testing.assert_allclose(rr.array_of_tuple(rr.Tisas(T, X)), ref.Tisas(T, Xa), **TOL)
        np.testing.assert_allclose(rr.array_of_tuple(rr.Risa(T, R, X)), ref.Risa(T, R, Xa), **TOL)
    else:
        for focal in ("observation", "state"):
            mine = rr.po_averages(T, R, O, X, focal)
            theirs = ref.po_averages(T, R, Oa, Xa, focal)
            for a, b in zip(mine, theirs):
                np.testing.assert_allclose(rr.array_of_tuple(a), b, **TOL)
    y = rr.flat_logit(rr.logit_of(X))
    np.testing.assert_allclose(y, ref.logit_of_strategy(Xa).ravel(), **TOL)
    np.testing.assert_allclose(rr.flat_of(X), Xa.ravel(), **TOL)
    for prefactor in (True, False):
        if O is None:
            Vr = ref.V(T, R, Xa, gamma, prefactor)
            Qr = ref.Q(T, R, Xa, gamma, prefactor)
        else:
            Vr = ref.po_V(T, R, Oa, Xa, gamma, prefactor)
            Qr = ref.po_Q(T, R, Oa, Xa, gamma, prefactor)
        np.testing.assert_allclose(rr.array_of_tuple(rr.values(T, R, O, X, gamma, prefactor)), Vr, **TOL)
        np.testing.assert_allclose(rr.array_of_tuple(rr.action_values(T, R, O, X, gamma, prefactor)),
                                   Qr, **TOL)
        for learner in LEARNERS:
            if O is None:
                dr = ref.td_error(T, R, Xa, beta, gamma, prefactor, learner)
                Xr = ref.strategy_step(T, R, Xa, alpha, beta, gamma, prefactor, learner)
                Xb = ref.strategy_step(T, R, Xa, alpha, beta, gamma, prefactor, learner, reverse=True)
            else:
                dr = ref.po_td_error(T, R, Oa, Xa, beta, gamma, prefactor, learner)
                Xr = ref.po_strategy_step(T, R, Oa, Xa, alpha, beta, gamma, prefactor, learner)
                Xb = ref.po_strategy_step(T, R, Oa, Xa, alpha, beta, gamma, prefactor, learner,
                                          reverse=True)
            d = rr.tderror(T, R, O, X, alpha, beta, gamma, learner, prefactor)
            np.testing.assert_allclose(rr.array_of_tuple(d), dr, **TOL)
            np.testing.assert_allclose(
                rr.array_of_tuple(rr.tderror_normalized(T, R, O, X, alpha, beta, gamma, learner, prefactor)),
                ref.normalize_td(dr), **TOL)
            np.testing.assert_allclose(
                rr.array_of_tuple(rr.step(T, R, O, X, alpha, beta, gamma, learner, prefactor)), Xr, **TOL)
            np.testing.assert_allclose(
                rr.array_of_tuple(rr.step(T, R, O, X, alpha, beta, gamma, learner, prefactor, reverse=True)),
                Xb, **TOL)
            yl = ref.logit_of_strategy(Xa)
            np.testing.assert_allclose(
                rr.logit_step(T, R, O, y, alpha, beta, gamma, learner, prefactor),
                ref.logit_step(T, R, yl, alpha, beta, gamma, prefactor, learner, Oa).ravel(), **TOL)


@pytest.mark.parametrize("N,Z,M,Qo", [(2, 2, 2, None), (2, 3, 3, 2), (3, 2, 2, 3), (1, 3, 3, None)])
@pytest.mark.parametrize("learner", LEARNERS)
def test_uniform_jacobian_and_trajectory_agree_with_reference(N, Z, M, Qo, learner):
    T, R, O, X, alpha, beta, gamma = _uniform_case(N, Z, M, Qo, seed=1)
    Oa = None if O is None else rr.array_of_tuple(O)
    Xa = rr.array_of_tuple(X)
    y = rr.logit_of(X)
    J = rr.jacobian_fd(T, R, O, y, alpha, beta, gamma, learner, False, h=1e-5)
    Jr = ref.logit_jacobian_fd(T, R, ref.logit_of_strategy(Xa), alpha, beta, gamma, False, learner,
                               Oa, h=1e-5)
    # the same difference quotient: rounding (1e-16 / 1e-5) is all that may differ
    np.testing.assert_allclose(J, Jr, rtol=1e-8, atol=1e-8)
    traj = rr.trajectory(T, R, O, X, alpha, beta, gamma, learner, True, tmax=5)
    assert len(traj) == 6
    Xr = Xa
    for Xt in traj[1:]:
        Xr = (ref.strategy_step(T, R, Xr, alpha, beta, gamma, True, learner) if O is None else
              ref.po_strategy_step(T, R, Oa, Xr, alpha, beta, gamma, True, learner))
        np.testing.assert_allclose(rr.array_of_tuple(Xt), Xr, rtol=1e-11, atol=1e-12)


# ------------------------------------------------------------- 2. ragged games
RAGGED = [((2, 3), 2, None), ((2, 3), 2, (1, 3)), ((3, 2, 2), 2, None), ((3, 2, 2), 3, (2, 1, 3)),
          ((2, 3), 3, (3, 2)), ((4,), 2, (3,))]


def _ragged_case(M, Z, Qs, seed=0):
    rng = _rng(*M, Z, *(Qs or (0,)), seed)
    T, R, O = rr.random_game(rng, M=M, Z=Z, Q=Qs)
    _, _, _, Qn = rr.shapes(T, O)
    X = rr.random_strategy(rng, M, Qn)
    alpha, beta, gamma = rr.random_params(rng, len(M))
    return T, R, O, X, alpha, beta, gamma


def test_random_game_is_valid():
    T, R, O = rr.random_game(_rng(7), M=(2, 3, 4), Z=3, Q=(1, 3, 2))
    assert T.shape == (3, 2, 3, 4, 3) and R.shape == (3, 3, 2, 3, 4, 3)
    np.testing.assert_allclose(T.sum(axis=-1), 1.0, atol=1e-14)
    assert [o.shape for o in O] == [(3, 1), (3, 3), (3, 2)]
    for o in O:
        np.testing.assert_allclose(o.sum(axis=1), 1.0, atol=1e-14)
    X = rr.random_strategy(_rng(8), (2, 3, 4), (1, 3, 2))
    assert [x.shape for x in X] == [(1, 2), (3, 3), (2, 4)]
    assert rr.shapes(T, O) == (3, 3, (2, 3, 4), (1, 3, 2))
    assert rr.n_free((2, 3, 4), (1, 3, 2)) == 1 + 6 + 6


@pytest.mark.parametrize("M,Z,Qs", RAGGED)
def test_flat_and_logit_round_trips(M, Z, Qs):
    T, R, O, X, *_ = _ragged_case(M, Z, Qs)
    _, _, _, Qn = rr.shapes(T, O)
    x = rr.flat_of(X)
    assert x.size == sum(m * q for m, q in zip(M, Qn))
    _close(rr.unflat(x, M, Qn), X, rtol=0, atol=0)
    y = rr.flat_logit(rr.logit_of(X))
    assert y.size == rr.n_free(M, Qn)
    _close(rr.strategy_of_logit(y, M, Qn), X, rtol=1e-13, atol=1e-15)
    # flat order: agent-major, then observation, then action
    k = 0
    for i, (m, q) in enumerate(zip(M, Qn)):
        for o in range(q):
            for a in range(m - 1):
                assert y[k] == pytest.approx(np.log(X[i][o, a] / X[i][o, m - 1]), abs=1e-14)
                k += 1


@pytest.mark.parametrize("M,Z,Qs", RAGGED)
@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("prefactor", (True, False))
def test_step_stays_on_simplex_and_matches_logit_step(M, Z, Qs, learner, prefactor):
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, Z, Qs)
    _, _, _, Qn = rr.shapes(T, O)
    for reverse in (False, True):
        Xn = rr.step(T, R, O, X, alpha, beta, gamma, learner, prefactor, reverse)
        assert [x.shape for x in Xn] == [(q, m) for m, q in zip(M, Qn)]
        for x in Xn:
            assert np.all(x > 0)
            np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-14)
        yn = rr.logit_step(T, R, O, rr.logit_of(X), alpha, beta, gamma, learner, prefactor, reverse)
        np.testing.assert_allclose(yn, rr.flat_logit(rr.logit_of(Xn)), rtol=1e-11, atol=1e-11)
        _close(rr.strategy_of_logit(yn, M, Qn), Xn, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("M,Z,Qs", RAGGED)
@pytest.mark.parametrize("prefactor", (True, False))
def test_consistency_identities(M, Z, Qs, prefactor):
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, Z, Qs)
    N = len(M)
    Xs = X if O is None else rr.state_strategy(O, X)
    for i in range(N):
        np.testing.assert_allclose(Xs[i].sum(axis=1), 1.0, atol=1e-14)
    Tx, Rs, Tsa, Rsa = rr.Tss(T, Xs), rr.Ris(T, R, Xs), rr.Tisas(T, Xs), rr.Risa(T, R, Xs)
    np.testing.assert_allclose(Tx.sum(axis=1), 1.0, atol=1e-14)
    for i in range(N):
        np.testing.assert_allclose(Tsa[i].sum(axis=-1), 1.0, atol=1e-14)
        np.testing.assert_allclose(np.einsum("sa,sat->st", Xs[i], Tsa[i]), Tx, atol=1e-14)
        np.testing.assert_allclose(np.einsum("sa,sa->s", Xs[i], Rsa[i]), Rs[i], atol=1e-13)
    Rxa, Txa, Rx, Txx = rr.averages(T, R, O, X)
    for i in range(N):
        np.testing.assert_allclose(Txa[i].sum(axis=-1), 1.0, atol=1e-13)  # every o reachable here
        np.testing.assert_allclose(Txx[i].sum(axis=-1), 1.0, atol=1e-13)
    V = rr.values(T, R, O, X, gamma, prefactor)
    Qv = rr.action_values(T, R, O, X, gamma, prefactor)
    pre = rr.prefactors(gamma, prefactor)
    for i in range(N):
        np.testing.assert_allclose(np.einsum("oa,oa->o", X[i], Qv[i]), V[i], rtol=1e-12, atol=1e-12)
        # Bellman equation
        np.testing.assert_allclose(V[i], pre[i] * Rx[i] + gamma[i] * Txx[i] @ V[i], rtol=1e-12, atol=1e-12)
    if O is not None:
        Ps = rr.stationary_distribution(rr.Tss(T, rr.state_strategy(O, X)))
        np.testing.assert_allclose(Ps @ rr.Tss(T, rr.state_strategy(O, X)), Ps, atol=1e-14)
        for B in rr.beliefs(O, Ps):
            np.testing.assert_allclose(B.sum(axis=1), 1.0, atol=1e-14)
    # gamma = 0: values are the immediate expected rewards
    g0 = np.zeros(N)
    _close(rr.action_values(T, R, O, X, g0, prefactor), Rxa, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("M,Z,Qs", RAGGED)
def test_actor_critic_and_sarsa_structure(M, Z, Qs):
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, Z, Qs, seed=3)
    N = len(M)
    Qv = rr.action_values(T, R, O, X, gamma, True)
    # actor-critic: the X-average of the TD error vanishes row by row
    d = rr.tderror(T, R, O, X, alpha, beta, gamma, "actor_critic", True)
    for i in range(N):
        np.testing.assert_allclose(np.einsum("oa,oa->o", X[i], d[i]), 0.0, atol=1e-12)
    # a pure row: the played action has zero actor-critic TD error and the row stays pure
    i = N - 1
    Xp = list(X)
    Xp[i] = X[i].copy()
    Xp[i][0] = 0.0
    Xp[i][0, 1] = 1.0
    Xp = tuple(Xp)
    d = rr.tderror(T, R, O, Xp, alpha, beta, gamma, "actor_critic", True)
    assert abs(d[i][0, 1]) < 1e-12
    Xn = rr.step(T, R, O, Xp, alpha, beta, gamma, "actor_critic", True)
    np.testing.assert_array_equal(Xn[i][0], Xp[i][0])
    # SARSA in logit coordinates: y' = (1 - alpha) y + alpha beta (Q[a] - Q[M-1])
    y = rr.logit_of(X)
    yn = rr.logit_step(T, R, O, y, alpha, beta, gamma, "sarsa", True)
    expect = rr.flat_logit([(1 - alpha[i]) * y[i] + alpha[i] * beta[i] * (Qv[i][:, :-1] - Qv[i][:, -1:])
                            for i in range(N)])
    np.testing.assert_allclose(yn, expect, rtol=1e-12, atol=1e-12)
    # with alpha = 1 the SARSA logit step maps y to beta (Q[a] - Q[M-1]) (the logit response)
    yn1 = rr.logit_step(T, R, O, y, np.ones(N), beta, gamma, "sarsa", True)
    np.testing.assert_allclose(
        yn1, rr.flat_logit([beta[i] * (Qv[i][:, :-1] - Qv[i][:, -1:]) for i in range(N)]), atol=1e-12)
    # normalized TD errors have zero mean over each agent's own actions
    for dn in rr.tderror_normalized(T, R, O, X, alpha, beta, gamma, "sarsa", True):
        np.testing.assert_allclose(dn.mean(axis=1), 0.0, atol=1e-13)


@pytest.mark.parametrize("M,Z,Qs", [((2, 3), 2, None), ((2, 3), 3, (1, 3)), ((3, 2, 2), 2, (2, 1, 3))])
@pytest.mark.parametrize("learner", LEARNERS)
def test_agent_relabelling(M, Z, Qs, learner):
    """Permuting the agents permutes every per-agent result (catches mixed-up axes)."""
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, Z, Qs, seed=5)
    N = len(M)
    for perm in itertools.permutations(range(N)):
        if perm == tuple(range(N)):
            continue
        axes = (0,) + tuple(1 + p for p in perm) + (N + 1,)
        Tp = T.transpose(axes)
        Rp = R[list(perm)].transpose((0,) + tuple(1 + a for a in axes))
        Op = None if O is None else [O[p] for p in perm]
        Xp = tuple(X[p] for p in perm)
        al, be, ga = alpha[list(perm)], beta[list(perm)], gamma[list(perm)]
        d = rr.tderror(T, R, O, X, alpha, beta, gamma, learner, True)
        dp = rr.tderror(Tp, Rp, Op, Xp, al, be, ga, learner, True)
        _close(dp, [d[p] for p in perm])
        Xn = rr.step(T, R, O, X, alpha, beta, gamma, learner, False)
        Xnp = rr.step(Tp, Rp, Op, Xp, al, be, ga, learner, False)
        _close(Xnp, [Xn[p] for p in perm])


@pytest.mark.parametrize("M,Z,Qs", [((2, 3), 2, None), ((2, 3), 2, (1, 3)), ((3, 2, 2), 2, (2, 1, 3))])
@pytest.mark.parametrize("learner", LEARNERS)
def test_fd_jacobian_consistent(M, Z, Qs, learner):
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, Z, Qs, seed=2)
    _, _, _, Qn = rr.shapes(T, O)
    y = rr.flat_logit(rr.logit_of(X))
    n = rr.n_free(M, Qn)
    J1 = rr.jacobian_fd(T, R, O, y, alpha, beta, gamma, learner, True, h=1e-4)
    J2 = rr.jacobian_fd(T, R, O, rr.logit_of(X), alpha, beta, gamma, learner, True, h=1e-5)
    assert J1.shape == J2.shape == (n, n)
    np.testing.assert_allclose(J1, J2, rtol=1e-6, atol=1e-7)
    # a directional derivative along a random direction agrees with J v
    v = _rng(11).normal(size=n)
    t = 1e-5
    f = lambda z: rr.logit_step(T, R, O, z, alpha, beta, gamma, learner, True)  # noqa: E731
    np.testing.assert_allclose(J2 @ v, (f(y + t * v) - f(y - t * v)) / (2 * t), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("M", [(2, 3), (3, 2, 2)])
def test_identity_observation_is_full_observability(M):
    """With O_i = Id (and an interior stationary distribution) section 7 reduces to section 2."""
    T, R, O, X, alpha, beta, gamma = _ragged_case(M, 3, None, seed=4)
    Oid = [np.eye(3) for _ in M]
    for learner in LEARNERS:
        for prefactor in (True, False):
            _close(rr.tderror(T, R, Oid, X, alpha, beta, gamma, learner, prefactor),
                   rr.tderror(T, R, None, X, alpha, beta, gamma, learner, prefactor),
                   rtol=1e-11, atol=1e-12)


def test_zero_probability_observation_convention():
    """An observation agent 1 never makes: V = Q = 0 there; AC error 0, SARSA error -ln X."""
    rng = _rng(99)
    M, Z = (2, 3), 3
    T, R, _ = rr.random_game(rng, M=M, Z=Z)
    O = [rng.dirichlet(np.ones(2), size=Z),
         np.concatenate([rng.dirichlet(np.ones(2), size=Z), np.zeros((Z, 1))], axis=1)]
    X = rr.random_strategy(rng, M, (2, 3))
    alpha, beta, gamma = rr.random_params(rng, 2)
    Ps = rr.stationary_distribution(rr.Tss(T, rr.state_strategy(O, X)))
    B = rr.beliefs(O, Ps)
    np.testing.assert_array_equal(B[1][2], 0.0)
    V = rr.values(T, R, O, X, gamma)
    Qv = rr.action_values(T, R, O, X, gamma)
    assert V[1][2] == 0.0
    np.testing.assert_array_equal(Qv[1][2], 0.0)
    d_ac = rr.tderror(T, R, O, X, alpha, beta, gamma, "actor_critic")
    np.testing.assert_array_equal(d_ac[1][2], 0.0)
    d_sa = rr.tderror(T, R, O, X, alpha, beta, gamma, "sarsa")
    np.testing.assert_allclose(d_sa[1][2], -np.log(X[1][2]), rtol=1e-15)
    Xn = rr.step(T, R, O, X, alpha, beta, gamma, "sarsa")
    w = X[1][2] ** (1 - alpha[1])
    np.testing.assert_allclose(Xn[1][2], w / w.sum(), rtol=1e-13)
    # tests/reference.py follows the same convention (uniform game, both agents lack observation 2)
    M3 = (3, 3)
    T3, R3, _ = rr.random_game(rng, M=M3, Z=Z)
    X3 = rr.random_strategy(rng, M3, (3, 3))
    Oz = [O[1], O[1]]
    for learner in LEARNERS:
        d = rr.tderror(T3, R3, Oz, X3, alpha, beta, gamma, learner)
        dr = ref.po_td_error(T3, R3, np.stack(Oz), rr.array_of_tuple(X3), beta, gamma, True, learner)
        np.testing.assert_allclose(rr.array_of_tuple(d), dr, **TOL)


def test_non_unique_stationary_distribution_raises():
    Z, M = 2, (2, 3)
    T = np.zeros((Z,) + M + (Z,))
    T[0, ..., 0] = 1.0
    T[1, ..., 1] = 1.0  # two absorbing states
    R = np.zeros((2, Z) + M + (Z,))
    O = [np.full((Z, 1), 1.0), np.eye(Z)]
    X = rr.random_strategy(_rng(1), M, (1, 2))
    with pytest.raises(ValueError, match="not unique"):
        rr.tderror(T, R, O, X, np.ones(2), np.ones(2), np.full(2, 0.5))
    rr.tderror(T, R, None, rr.random_strategy(_rng(1), M, (2, 2)), np.ones(2), np.ones(2), np.full(2, 0.5))


# ---------------------------------------------------- 3. embeddings into uniform games
def _embed_case(Z, Qs, seed):
    """A uniform game G (M = (3, 3)) from reference_ragged.random_game and its O, params."""
    rng = _rng(Z, *(Qs or (0,)), seed, 3)
    T, R, O = rr.random_game(rng, M=(3, 3), Z=Z, Q=Qs)
    _, _, _, Qn = rr.shapes(T, O)
    alpha, beta, gamma = rr.random_params(rng, 2)
    return rng, T, R, O, Qn, alpha, beta, gamma


def _ref_td(T, R, O, Xa, beta, gamma, prefactor, learner):
    if O is None:
        return ref.td_error(T, R, Xa, beta, gamma, prefactor, learner)
    return ref.po_td_error(T, R, np.stack(O), Xa, beta, gamma, prefactor, learner)


def _ref_q(T, R, O, Xa, gamma, prefactor):
    if O is None:
        return ref.Q(T, R, Xa, gamma, prefactor)
    return ref.po_Q(T, R, np.stack(O), Xa, gamma, prefactor)


@pytest.mark.parametrize("Z,Qs", [(2, None), (3, None), (2, (2, 2)), (3, (3, 3)), (3, (1, 1))])
@pytest.mark.parametrize("prefactor", (True, False))
def test_duplicated_action_embedding_is_exact(Z, Qs, prefactor):
    """G': agent 0 has 2 actions. G: the same game with agent 0's action 2 a copy of action 1.

    A strategy of G that splits x'_1 over actions 1 and 2 has exactly the averages of G',
    so reference.py on G and reference_ragged on G' agree (Q values and actor-critic TD
    errors; SARSA differs only by the -ln X term).
    """
    rng, T, R, O, Qn, alpha, beta, gamma = _embed_case(Z, Qs, 0)
    T[:, 2] = T[:, 1]
    R[:, :, 2] = R[:, :, 1]
    T2, R2 = T[:, :2].copy(), R[:, :, :2].copy()
    X2 = rr.random_strategy(rng, (2, 3), Qn)
    w = rng.uniform(0.2, 0.8, size=(Qn[0], 1))
    Xa = np.stack([np.concatenate([X2[0][:, :1], w * X2[0][:, 1:], (1 - w) * X2[0][:, 1:]], axis=1), X2[1]])
    Qr = _ref_q(T, R, O, Xa, gamma, prefactor)
    Qm = rr.action_values(T2, R2, O, X2, gamma, prefactor)
    np.testing.assert_allclose(Qr[0][:, [0, 1, 1]], Qm[0][:, [0, 1, 1]], **TOL)
    np.testing.assert_allclose(Qr[0][:, 2], Qm[0][:, 1], **TOL)
    np.testing.assert_allclose(Qr[1], Qm[1], **TOL)
    dr = _ref_td(T, R, O, Xa, beta, gamma, prefactor, "actor_critic")
    dm = rr.tderror(T2, R2, O, X2, alpha, beta, gamma, "actor_critic", prefactor)
    np.testing.assert_allclose(dr[0], dm[0][:, [0, 1, 1]], **TOL)
    np.testing.assert_allclose(dr[1], dm[1], **TOL)
    dr = _ref_td(T, R, O, Xa, beta, gamma, prefactor, "sarsa")
    dm = rr.tderror(T2, R2, O, X2, alpha, beta, gamma, "sarsa", prefactor)
    np.testing.assert_allclose(dr[1], dm[1], **TOL)
    np.testing.assert_allclose(dr[0] + np.log(Xa[0]), (dm[0] + np.log(X2[0]))[:, [0, 1, 1]], **TOL)


@pytest.mark.parametrize("Z,Qs", [(2, None), (3, None), (2, (2, 2)), (3, (3, 3)), (3, (2, 2))])
@pytest.mark.parametrize("learner", LEARNERS)
def test_deleted_action_limit(Z, Qs, learner):
    """G (M = 3, 3) at strategies where agent 0 plays action 2 with probability eps approaches
    G' = G without that action, linearly in eps: TD errors of the remaining actions and the
    step restricted to them (evaluated with reference.py on G, reference_ragged on G')."""
    rng, T, R, O, Qn, alpha, beta, gamma = _embed_case(Z, Qs, 1)
    T2, R2 = T[:, :2].copy(), R[:, :, :2].copy()
    X2 = rr.random_strategy(rng, (2, 3), Qn)
    dm = rr.tderror(T2, R2, O, X2, alpha, beta, gamma, learner, True)
    Xm = rr.step(T2, R2, O, X2, alpha, beta, gamma, learner, True)
    errs = []
    for eps in (1e-3, 1e-6):
        Xa = np.stack([np.concatenate([(1 - eps) * X2[0], np.full((Qn[0], 1), eps)], axis=1), X2[1]])
        dr = _ref_td(T, R, O, Xa, beta, gamma, True, learner)
        if O is None:
            Xr = ref.strategy_step(T, R, Xa, alpha, beta, gamma, True, learner)
        else:
            Xr = ref.po_strategy_step(T, R, np.stack(O), Xa, alpha, beta, gamma, True, learner)
        kept = Xr[0][:, :2] / Xr[0][:, :2].sum(axis=1, keepdims=True)
        err = max(np.abs(dr[0][:, :2] - dm[0]).max(), np.abs(dr[1] - dm[1]).max(),
                  np.abs(kept - Xm[0]).max(), np.abs(Xr[1] - Xm[1]).max())
        errs.append(err)
    assert errs[1] < 1e-4
    assert errs[1] < 1e-2 * errs[0] + 1e-12  # O(eps) convergence
