"""Value-space dynamics (crld-math.md section 10) against a plain numpy evaluation.

The section-10 formulas are written out below with einsum (policies, next values, TD
errors, steps); the strategy averages of sections 2 and 7 come from the independent
oracle ``tests/reference.py``. Jacobians are checked against central finite
differences, fixed points against the strategy-space SARSA fixed points and against a
fixed point solved independently with scipy.
"""

import functools

import numpy as np
import pytest

import crldgen
import reference as ref
from crldgen.errors import CrldgenError, ParameterError, StrategyError
from crldgen.value import TieError, ValueDynamics, ValueTrajectories, ValueTrajectory

LEARNERS = ("sarsa", "expected_sarsa", "q_learning", "strategy_q_learning")
RTOL = 1e-10


# ------------------------------------------------------------- numpy section 10
def np_softmax(Q, beta):
    z = beta[:, None, None] * Q
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def np_epsilon_greedy(Q, eps):
    """pyCRLD's ``action_probabilities``: (1 - eps) shared by the exact maximisers, eps / M everywhere."""
    where_max = Q == Q.max(-1, keepdims=True)
    M = Q.shape[-1]
    return (1 - eps[:, None, None]) * where_max / where_max.sum(-1, keepdims=True) + eps[:, None, None] / M


def np_averages(g, X, gamma, prefactor=True):
    """(Rx[i,o,a], Tx[i,o,a,o'], Vx[i,o]) at X: section 2 (fully observed) or 7 (observations)."""
    T, R, O = g["T"], g["R"], g["O"]
    if O is None:
        Rx, Tx = ref.Risa(T, R, X), ref.Tisas(T, X)
        Vx = ref.V(T, R, X, gamma, prefactor)
    else:
        Rx, Tx, Rio, Tioo = ref.po_averages(T, R, O, X)
        Vx = ref.values_from(Tioo, Rio, gamma, prefactor)
    return Rx, Tx, Vx


def np_tderror(g, Q, learner, policy="softmax", beta=None, eps=None, gamma=None, prefactor=True):
    """Section 10: delta = p Rx + gamma sum_o' Tx NV - Q with NV = Vx, sum_b X Q, max_b Q or max_b Qx."""
    X = np_softmax(Q, beta) if policy == "softmax" else np_epsilon_greedy(Q, eps)
    Rx, Tx, Vx = np_averages(g, X, gamma, prefactor)
    pre = ref.prefactors(gamma, prefactor)
    Qx = pre[:, None, None] * Rx + gamma[:, None, None] * np.einsum("ioap,ip->ioa", Tx, Vx)
    NV = {"sarsa": Vx, "expected_sarsa": (X * Q).sum(-1), "q_learning": Q.max(-1),
          "strategy_q_learning": Qx.max(-1)}[learner]
    return pre[:, None, None] * Rx + gamma[:, None, None] * np.einsum("ioap,ip->ioa", Tx, NV) - Q


def game_of(g):
    return crldgen.Game(g["T"], g["R"], g["O"])


CASES = [dict(N=2, Z=2, M=2), dict(N=3, Z=2, M=2), dict(N=2, Z=3, M=3), dict(N=2, Z=3, M=2, n_obs=2),
         dict(N=2, Z=2, M=3, n_obs=3)]


def case_id(c):
    return "N{N}Z{Z}M{M}".format(**c) + (f"O{c['n_obs']}" if "n_obs" in c else "")


@functools.lru_cache(maxsize=None)
def random_case(k, seed=0):
    rng = np.random.default_rng(100 + 7 * k + seed)
    c = CASES[k]
    g = ref.random_game(rng, c["N"], c["Z"], c["M"], c.get("n_obs"))
    g["eps"] = rng.uniform(0.05, 0.5, size=c["N"])
    g["Q"] = rng.normal(size=g["X"].shape)
    return g


def vdyn_of(g, learner, policy="softmax", prefactor=True):
    return ValueDynamics(game_of(g), learner, policy, prefactor=prefactor, alpha=g["alpha"], beta=g["beta"],
                         epsilon=g["eps"], gamma=g["gamma"])


# ------------------------------------------------------------- the TD error and step
@pytest.mark.parametrize("prefactor", [True, False])
@pytest.mark.parametrize("policy", ["softmax", "epsilon_greedy"])
@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("k", range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_tderror_step_strategy_match_numpy(k, learner, policy, prefactor):
    g = random_case(k)
    vd = vdyn_of(g, learner, policy, prefactor)
    Q = g["Q"]
    want = np_tderror(g, Q, learner, policy, g["beta"], g["eps"], g["gamma"], prefactor)
    np.testing.assert_allclose(vd.tderror(Q), want, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(vd.tderror(Q, normalize=True), want - want.mean(-1, keepdims=True), rtol=RTOL,
                               atol=1e-12)
    np.testing.assert_allclose(vd.step(Q), Q + g["alpha"][:, None, None] * want, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(vd.reverse_step(Q), Q - g["alpha"][:, None, None] * want, rtol=RTOL, atol=1e-12)
    X = np_softmax(Q, g["beta"]) if policy == "softmax" else np_epsilon_greedy(Q, g["eps"])
    np.testing.assert_allclose(vd.strategy(Q), X, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("k", [0, 3], ids=[case_id(CASES[0]), case_id(CASES[3])])
def test_averages_and_overrides(k):
    g = random_case(k)
    vd = vdyn_of(g, "sarsa")
    X = g["X"]
    av = vd.averages(X)
    Rx, Tx, Vx = np_averages(g, X, g["gamma"])
    np.testing.assert_allclose(av.V, Vx, rtol=RTOL)
    pre = ref.prefactors(g["gamma"], True)
    np.testing.assert_allclose(av.Q, pre[:, None, None] * Rx + g["gamma"][:, None, None]
                               * np.einsum("ioap,ip->ioa", Tx, Vx), rtol=RTOL)
    # per-call overrides: scalar, per agent, single agent
    gam = np.array([0.3, 0.6] + [0.5] * (len(g["gamma"]) - 2))
    Q = g["Q"]
    want = np_tderror(g, Q, "sarsa", beta=np.full(len(gam), 2.0), gamma=gam)
    np.testing.assert_allclose(vd.tderror(Q, beta=2.0, gamma=gam), want, rtol=RTOL, atol=1e-12)
    want = np_tderror(g, Q, "sarsa", beta=g["beta"], gamma=np.r_[0.9, g["gamma"][1:]])
    np.testing.assert_allclose(vd.tderror(Q, gamma_0=0.9), want, rtol=RTOL, atol=1e-12)


def test_game_parameters_are_run_time_arguments():
    game = crldgen.games.ecological_public_good(2)
    vd = ValueDynamics(game, "q_learning", beta=5.0)
    other = ValueDynamics(crldgen.games.ecological_public_good(2, qc=0.3, f=1.5), "q_learning", beta=5.0)
    Q = np.random.default_rng(3).normal(size=vd.shape)
    np.testing.assert_allclose(vd.tderror(Q, qc=0.3, f=1.5), other.tderror(Q), rtol=RTOL)
    g = {k: np.asarray(v) for k, v in game.numeric(qc=0.3, f=1.5).items()}
    g["O"] = None
    want = np_tderror(g, Q, "q_learning", beta=np.full(2, 5.0), gamma=np.full(2, 0.75))
    np.testing.assert_allclose(vd.tderror(Q, qc=0.3, f=1.5), want, rtol=RTOL)


# ------------------------------------------------------------- pyCRLD's valSARSA
def pycrld_valsarsa_step(T, R, Q, alpha, eps, gamma, use_prefactor):
    """pyCRLD's ``valSARSA`` with its epsilon-greedy policy, written plainly for N = 2 agents.

    ``action_probabilities``: X = (1-eps) [Q == max] / #max + eps / M;
    ``RPEisa``: E = pre Risa(X) + gamma NextQisa - Q with NextQisa the strategy average
    of the true values ``sum_a X Qisa(X)`` (= Vx) in the next state;
    ``step``: Q + alpha * E with one alpha shared by the agents.
    """
    X = np_epsilon_greedy(Q, eps)
    pre = (1 - gamma) if use_prefactor else np.ones_like(gamma)
    # abase: Risa, Tisas; Qisa = pre Risa + gamma Tisas Vx, Vx = pre (1 - gamma Tss)^-1 Ris
    Risa = np.empty(Q.shape)
    Tisas = np.empty(Q.shape + (T.shape[0],))
    Z, M = T.shape[0], Q.shape[-1]
    for s in range(Z):
        for a in range(M):
            Risa[0, s, a] = sum(X[1, s, b] * T[s, a, b, t] * R[0, s, a, b, t] for b in range(M) for t in range(Z))
            Risa[1, s, a] = sum(X[0, s, b] * T[s, b, a, t] * R[1, s, b, a, t] for b in range(M) for t in range(Z))
            for t in range(Z):
                Tisas[0, s, a, t] = sum(X[1, s, b] * T[s, a, b, t] for b in range(M))
                Tisas[1, s, a, t] = sum(X[0, s, b] * T[s, b, a, t] for b in range(M))
    Tss = np.einsum("sa,sat->st", X[0], Tisas[0])
    Ris = np.einsum("isa,isa->is", X, Risa)
    Vx = np.array([pre[i] * np.linalg.solve(np.eye(Z) - gamma[i] * Tss, Ris[i]) for i in range(2)])
    Qisa = pre[:, None, None] * Risa + gamma[:, None, None] * np.einsum("isat,it->isa", Tisas, Vx)
    next_V = np.einsum("isa,isa->is", Qisa, X)
    next_Q = np.einsum("isat,it->isa", Tisas, next_V)
    E = pre[:, None, None] * Risa + gamma[:, None, None] * next_Q - Q
    return Q + alpha * E, E


@pytest.mark.parametrize("use_prefactor", [True, False])
def test_value_sarsa_epsilon_greedy_equals_pycrld(use_prefactor):
    game = crldgen.games.ecological_public_good(2)
    num = game.numeric()
    eps = np.array([0.1, 0.3])
    gamma = np.array([0.75, 0.6])
    alpha = 0.05  # pyCRLD's step is right only with one shared learning rate
    vd = ValueDynamics(game, "sarsa", "epsilon_greedy", prefactor=use_prefactor, alpha=alpha, epsilon=eps,
                       gamma=gamma)
    rng = np.random.default_rng(5)
    Qs = [rng.normal(size=vd.shape), np.zeros(vd.shape),  # all tied: uniform strategy
          np.array([[[1.0, 1.0], [0.0, 2.0]], [[3.0, -1.0], [0.5, 0.5]]])]  # ties in some states
    for Q in Qs:
        Qn, E = pycrld_valsarsa_step(num["T"], num["R"], Q, alpha, eps, gamma, use_prefactor)
        np.testing.assert_allclose(vd.tderror(Q), E, rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(vd.step(Q), Qn, rtol=RTOL, atol=1e-12)
    X = vd.strategy(Qs[2])
    np.testing.assert_allclose(X[0, 0], [0.5, 0.5])  # a tie shares the greedy mass
    np.testing.assert_allclose(X[1, 0], [0.85, 0.15])
    # a trajectory of valSARSA is the iterated pyCRLD step (stopping on the estimates)
    traj = vd.trajectory(Qs[0], 40, None)
    Q = Qs[0]
    for t in range(40):
        np.testing.assert_allclose(traj.Q[t], Q, rtol=1e-9, atol=1e-12)
        Q = pycrld_valsarsa_step(num["T"], num["R"], Q, alpha, eps, gamma, use_prefactor)[0]


def test_per_agent_learning_rates_scale_each_agents_error():
    g = random_case(0)
    vd = vdyn_of(g, "sarsa", "epsilon_greedy")
    Q = g["Q"]
    alpha = np.array([0.1, 0.7])
    d = np_tderror(g, Q, "sarsa", "epsilon_greedy", eps=g["eps"], gamma=g["gamma"])
    np.testing.assert_allclose(vd.step(Q, alpha=alpha), Q + alpha[:, None, None] * d, rtol=RTOL, atol=1e-12)


# ------------------------------------------------------------- Jacobians
def fd_jacobian(vd, Q, h=1e-6, **p):
    n = Q.size
    J = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        J[:, k] = (vd.step(Q + e.reshape(Q.shape), **p) - vd.step(Q - e.reshape(Q.shape), **p)).ravel() / (2 * h)
    return J


@pytest.mark.parametrize("policy", ["softmax", "epsilon_greedy"])
@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("k", range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_jacobian_matches_finite_differences(k, learner, policy):
    g = random_case(k)
    vd = vdyn_of(g, learner, policy)
    Q = g["Q"]  # random normal estimates: no ties
    assert vd.smooth_at(Q)
    J = vd.jacobian(Q)
    np.testing.assert_allclose(J, fd_jacobian(vd, Q), rtol=1e-6, atol=1e-7)
    if policy == "epsilon_greedy" and learner == "sarsa":  # piecewise constant policy: dQ'/dQ = (1 - alpha) Id
        np.testing.assert_allclose(J, np.diag(np.repeat(1 - g["alpha"], Q[0].size)), atol=1e-12)


def test_jacobian_raises_at_ties():
    g = random_case(0)
    Q = g["Q"].copy()
    Q[1, 0, 1] = Q[1, 0, 0]
    for learner, policy in (("q_learning", "softmax"), ("sarsa", "epsilon_greedy")):
        vd = vdyn_of(g, learner, policy)
        assert vd.ties(Q) == [(1, 0)] and not vd.smooth_at(Q)
        with pytest.raises(TieError, match=r"ties at .*\(1, 0\)"):
            vd.jacobian(Q)
        assert vd.jacobian(Q, one_sided=True).shape == (Q.size, Q.size)
    vd = vdyn_of(g, "sarsa", "softmax")
    assert vd.smooth_at(Q)  # softmax value SARSA is smooth everywhere
    np.testing.assert_allclose(vd.jacobian(Q), fd_jacobian(vd, Q), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------- value SARSA = strategy SARSA
ECO = functools.partial(crldgen.games.ecological_public_good, 2)


@pytest.fixture(scope="module")
def eco_sarsa(compiled):
    return compiled(ECO, "sarsa", True, alpha=0.05, beta=25.0, gamma=0.75)


@pytest.fixture(scope="module")
def eco_value():
    return ValueDynamics(ECO(), "sarsa", alpha=0.05, beta=25.0, gamma=0.75)


def test_softmax_value_sarsa_is_strategy_sarsa(eco_sarsa, eco_value):
    rng = np.random.default_rng(0)
    for _ in range(3):
        X = rng.dirichlet(np.ones(2), size=(2, 2))
        Q = eco_value.values_from_strategy(X)
        np.testing.assert_allclose(eco_value.strategy(Q), X, rtol=1e-12)
        np.testing.assert_allclose(eco_value.strategy(eco_value.step(Q)), eco_sarsa.step(X), rtol=1e-9)
        np.testing.assert_allclose(eco_value.strategy_step(X), eco_sarsa.step(X), rtol=1e-9)
        # sum_a X Q = Vx with constant='values'
        Qv = eco_value.values_from_strategy(X, constant="values")
        np.testing.assert_allclose((X * Qv).sum(-1), eco_value.averages(X).V, rtol=1e-12)
        np.testing.assert_allclose(eco_value.averages(X).Q, eco_sarsa.averages(X).Q, rtol=1e-10)


def test_fixed_points_agree_with_strategy_sarsa(eco_sarsa, eco_value):
    fps = crldgen.fixed_points(eco_sarsa, n_starts=16, rng=1)
    vfps = eco_value.fixed_points(n_starts=16, rng=1)
    assert len(fps.points) == 3 and len(vfps.points) == len(fps.points)
    alpha = 0.05
    for pt in fps.points:
        # the value-space fixed point is Q* = Qx(X*), and pi(Q*) = X*
        d = [np.max(np.abs(v.X - pt.X)) for v in vfps.points]
        v = vfps.points[int(np.argmin(d))]
        assert min(d) < 1e-8
        np.testing.assert_allclose(v.Q, eco_sarsa.averages(pt.X).Q, rtol=1e-8, atol=1e-10)
        assert v.stable == pt.stable and not v.tie
        # eigenvalues: those of the strategy map in log-ratios plus 1 - alpha per (agent, state)
        want = np.sort_complex(np.r_[np.asarray(pt.eigenvalues, complex), np.full(4, 1 - alpha)])
        np.testing.assert_allclose(np.sort_complex(np.asarray(v.eigenvalues, complex)), want, atol=1e-7)


# ------------------------------------------------------------- Q-learning: logit fixed point
def test_q_learning_single_state_logit_fixed_point():
    from scipy.optimize import fsolve

    game = crldgen.games.social_dilemma(R=1.0, T=1.5, S=-0.5, P=0.0)
    beta, gamma, alpha = np.array([2.0, 3.0]), np.array([0.6, 0.8]), 0.1
    pre = 1 - gamma
    A = np.array([[1.0, -0.5], [1.5, 0.0]])  # row player's payoff (own action, other's action)

    def residual(q):
        q = q.reshape(2, 2)
        x = [np.exp(beta[i] * q[i]) / np.exp(beta[i] * q[i]).sum() for i in range(2)]
        r = [A @ x[1], A @ x[0]]  # expected reward of each own action
        return np.concatenate([pre[i] * r[i] + gamma[i] * q[i].max() - q[i] for i in range(2)])

    q_star = fsolve(residual, np.zeros(4), xtol=1e-14).reshape(2, 1, 2)
    assert np.max(np.abs(residual(q_star.ravel()))) < 1e-12
    vd = ValueDynamics(game, "q_learning", alpha=alpha, beta=beta, gamma=gamma)
    traj = vd.trajectory(np.zeros(vd.shape), 20000, 1e-13, every=None)
    assert traj.converged
    np.testing.assert_allclose(traj.final_Q, q_star, rtol=1e-9, atol=1e-10)
    fps = vd.fixed_points(n_starts=8, rng=0)
    assert len(fps.points) == 1
    pt = fps.points[0]
    np.testing.assert_allclose(pt.Q, q_star, rtol=1e-10, atol=1e-12)
    assert pt.stable and not pt.tie
    # logit form: X = softmax(beta Q*) and the fixed point equation holds
    np.testing.assert_allclose(pt.X, np_softmax(q_star, beta), rtol=1e-10)
    J = vd.jacobian(pt.Q)
    np.testing.assert_allclose(J, fd_jacobian(vd, pt.Q), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(pt.eigenvalues, np.linalg.eigvals(J)[np.argsort(-np.abs(np.linalg.eigvals(J)))],
                               atol=1e-10)


def test_fixed_point_on_a_tie_is_reported():
    # rewards independent of the own action: Q-learning's fixed point has Q[i, 0] == Q[i, 1]
    game = crldgen.games.social_dilemma(R=1.0, T=1.0, S=0.0, P=0.0)
    vd = ValueDynamics(game, "q_learning", alpha=0.1, beta=2.0, gamma=0.5)
    fps = vd.fixed_points(n_starts=4, rng=0)
    assert len(fps.points) >= 1
    pt = fps.points[0]
    assert pt.tie and set(pt.ties) == {(0, 0), (1, 0)} and "(tie)" in pt.type
    np.testing.assert_allclose(pt.Q[:, 0, 0], pt.Q[:, 0, 1], rtol=1e-12)
    with pytest.raises(TieError):
        vd.jacobian(pt.Q)
    # every smooth piece meeting at the tie (which maximiser of each agent): linearized by
    # finite differences inside that piece
    assert len(pt.branches) == 4
    for choice, rho in pt.branches:
        Q = pt.Q.copy()
        for i, o, a in choice:
            Q[i, o, a] += 1e-4
        rho_fd = np.max(np.abs(np.linalg.eigvals(fd_jacobian(vd, Q, h=1e-6))))
        assert abs(rho - rho_fd) < 1e-5 and rho < 1
    assert pt.stable is True  # all pieces are linearly stable


# ------------------------------------------------------------- iteration
def python_trajectory(vd, Q0, tmax, tol, **p):
    rows = [Q0]
    Q = Q0
    converged = False
    while len(rows) < tmax:
        Qn = vd.step(Q, **p)
        if tol and np.linalg.norm(Qn - Q) < tol:
            converged = True
            break
        rows.append(Qn)
        Q = Qn
    else:
        Qn = vd.step(Q, **p)
        converged = bool(tol) and np.linalg.norm(Qn - Q) < tol
    return np.array(rows), converged


@pytest.mark.parametrize("learner", LEARNERS)
def test_trajectory_matches_python_loop(learner):
    g = random_case(3)
    vd = vdyn_of(g, learner)
    Q0 = g["Q"]
    rows, conv = python_trajectory(vd, Q0, 400, 1e-6)
    tr = vd.trajectory(Q0, 400, 1e-6)
    assert isinstance(tr, ValueTrajectory) and isinstance(tr, crldgen.iterate.Trajectory)
    assert tr.steps == len(rows) and tr.converged == conv
    np.testing.assert_allclose(tr.Q, rows, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.X, vd.strategies(rows), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.final_Q, rows[-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.final, vd.strategy(rows[-1]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.final_logit, np.log(tr.final[..., :-1] / tr.final[..., -1:]), rtol=1e-9,
                               atol=1e-12)
    # every=k keeps rows 0, k, 2k, ...; continuing a result resumes exactly
    tr3 = vd.trajectory(Q0, 400, 1e-6, every=3)
    np.testing.assert_allclose(tr3.Q, rows[::3], rtol=1e-9, atol=1e-12)
    half = vd.trajectory(Q0, 50, None)
    more = vd.trajectory(half, 10, None)
    np.testing.assert_allclose(more.Q[0], rows[49] if len(rows) > 49 else rows[-1], rtol=1e-9)


def test_long_trajectory_grows_its_record_buffer():
    g = random_case(0)
    vd = vdyn_of(g, "q_learning", "epsilon_greedy")
    tr = vd.trajectory(g["Q"], 70000, None, every=1)  # more rows than the first buffer holds
    assert tr.steps == 70000 and tr.Q.shape == (70000,) + vd.shape and np.isfinite(tr.Q).all()
    np.testing.assert_allclose(tr.Q[1], vd.step(g["Q"]), rtol=1e-12)
    np.testing.assert_allclose(tr.Q[-1], vd.step(tr.Q[-2]), rtol=1e-9, atol=1e-12)


def test_batches_and_sweeps_match_single_runs():
    g = random_case(0)
    vd = vdyn_of(g, "expected_sarsa")
    rng = np.random.default_rng(2)
    Q0s = rng.normal(size=(5,) + vd.shape)
    res = vd.trajectories(Q0s, 300, 1e-7, every=1)
    assert isinstance(res, ValueTrajectories) and len(res) == 5
    for b in range(5):
        one = vd.trajectory(Q0s[b], 300, 1e-7)
        assert res.steps[b] == one.steps and res[b].converged == one.converged
        np.testing.assert_allclose(res[b].Q, one.Q, rtol=1e-12)
        np.testing.assert_allclose(res.final_Q[b], one.final_Q, rtol=1e-12)
    gammas = np.linspace(0.2, 0.8, 4)
    res = vd.trajectories(Q0s[0], 300, 1e-7, gamma=gammas)
    for b, gm in enumerate(gammas):
        np.testing.assert_allclose(res.final_Q[b], vd.trajectory(Q0s[0], 300, 1e-7, gamma=gm).final_Q, rtol=1e-12)
        np.testing.assert_allclose(res.params["gamma"][b], gm)
    sw = vd.sweep(Q0s[0], "gamma", gammas, 300, 1e-7)
    Q = Q0s[0]
    for v, gm in enumerate(gammas):
        one = vd.trajectory(Q, 300, 1e-7, every=None, gamma=gm)
        assert sw.steps[v] == one.steps and sw.ran[v]
        np.testing.assert_allclose(sw.final_Q[v], one.final_Q, rtol=1e-12)
        Q = one.final_Q
    sw2 = vd.sweep(Q0s[0], "gamma", gammas, 300, 1e-7, carry=False)
    np.testing.assert_allclose(sw2.final_Q, res.final_Q, rtol=1e-12)


def test_batch_over_game_parameters():
    vd = ValueDynamics(ECO(), "q_learning", beta=5.0)
    Q0 = np.zeros(vd.shape)
    qcs = np.array([0.1, 0.2, 0.3])
    res = vd.trajectories(Q0, 50, None, qc=qcs)
    for b, qc in enumerate(qcs):
        np.testing.assert_allclose(res.final_Q[b], vd.trajectory(Q0, 50, None, qc=qc).final_Q, rtol=1e-12)


def test_partially_observed_trajectory_runs_and_checks_rows():
    g = random_case(4)
    vd = vdyn_of(g, "sarsa")
    tr = vd.trajectory(g["Q"], 200, 1e-9)
    np.testing.assert_allclose(tr.X.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(tr.Q[1], vd.step(g["Q"]), rtol=1e-12)


# ------------------------------------------------------------- errors
def test_bad_input_raises_clear_errors():
    g = random_case(0)
    vd = vdyn_of(g, "sarsa")
    with pytest.raises(ParameterError, match="unknown value-space learner"):
        ValueDynamics(game_of(g), "actor_critic")
    with pytest.raises(ParameterError, match="unknown policy"):
        ValueDynamics(game_of(g), "sarsa", "greedy")
    with pytest.raises(ParameterError, match="epsilon .*exploration rates must lie in"):
        vd.step(g["Q"], epsilon=1.5)
    with pytest.raises(ParameterError, match="unknown parameter 'delta'"):
        vd.step(g["Q"], delta=1.0)
    with pytest.raises(StrategyError, match=r"Q has shape \(2, 2\)"):
        vd.step(np.zeros((2, 2)))
    bad = g["Q"].copy()
    bad[0, 1, 0] = np.nan
    with pytest.raises(StrategyError, match=r"Q\[0, 1, 0\] = nan is not finite"):
        vd.tderror(bad)
    with pytest.raises(ParameterError, match="softmax"):
        vdyn_of(g, "sarsa", "epsilon_greedy").values_from_strategy(g["X"])
    with pytest.raises(StrategyError, match="strategy-space result"):
        vd.trajectory(crldgen.iterate.Trajectory(None, g["X"], g["X"][..., :1], 1, False, False, None, False, {}),
                      5)
    assert issubclass(TieError, CrldgenError)


# ------------------------------------------------------------- symbolic layer
@pytest.mark.parametrize("learner", LEARNERS)
def test_symbolic_td_error_and_jacobian_match_the_kernels(learner):
    import sympy

    game = crldgen.games.social_dilemma()
    vm = crldgen.derive_value(game, learner)
    vd = vm.compile(alpha=[0.1, 0.2], beta=[2.0, 3.0], gamma=[0.7, 0.5])
    Q = np.random.default_rng(0).normal(size=vd.shape)
    args = list(np.ravel(vm.q.tolist())) + list(vm.alpha) + list(vm.beta) + list(vm.gamma) + list(vm.theta)
    vals = list(Q.ravel()) + [0.1, 0.2, 2.0, 3.0, 0.7, 0.5] + list(game.params.values())
    d = sympy.lambdify(args, vm.td_error_of_values().tolist(), "numpy")(*vals)
    np.testing.assert_allclose(np.array(d, dtype=float), vd.tderror(Q), rtol=1e-12, atol=1e-14)
    J = sympy.lambdify(args, vm.jacobian(), "numpy")(*vals)
    np.testing.assert_allclose(np.array(J, dtype=float), vd.jacobian(Q), rtol=1e-10, atol=1e-13)


def test_symbolic_partially_observed_td_error():
    g = random_case(3)  # N=2, Z=3, M=2, two observations
    vm = crldgen.ValueModel(game_of(g), "expected_sarsa")
    vd = vdyn_of(g, "expected_sarsa")
    X = np_softmax(g["Q"], g["beta"])
    Ps = ref.stationary_distribution(ref.Tss(g["T"], ref.po_state_strategy(g["O"], X)))
    sub = {**dict(zip(np.ravel(vm.X.tolist()), X.ravel())), **dict(zip(np.ravel(vm.q.tolist()), g["Q"].ravel())),
           **dict(zip(vm.gamma, g["gamma"])), **dict(zip(vm.strategy_model.Ps.tolist(), Ps))}
    val = np.array([float(e.xreplace(sub)) for e in np.ravel(vm.td_error.tolist())]).reshape(vd.shape)
    np.testing.assert_allclose(val, vd.tderror(g["Q"]), rtol=1e-9)


def test_latex_of_the_value_update():
    game = crldgen.games.ecological_public_good(2)
    tex = crldgen.derive_value(game, "q_learning").latex()
    assert r"\max_b q^i(s', b)" in tex and r"q^i_{t+1}(s, a) &= q^i_t(s, a) + \alpha^i \delta^i(s, a)" in tex
    assert r"\delta^{0}(g, c) &=" in tex and r"\max\left(q^{0}_{pc}, q^{0}_{pd}\right)" in tex
    tex = crldgen.derive_value(game, "sarsa", "epsilon_greedy").latex(specific=False)
    assert r"\epsilon^i" in tex and r"v^i_{\mathbf{x}}(s')" in tex and r"\mathbf{v}^i_{\mathbf{x}}" in tex
    tex = crldgen.derive_value(game, "expected_sarsa").latex(general=False, max_entries=3)
    assert r"\vdots" in tex and "v^{0}" not in tex
    with pytest.raises(ParameterError, match="smooth policy"):
        crldgen.derive_value(game, "sarsa", "epsilon_greedy").jacobian()


def test_value_package_never_imports_sympy():
    import ast
    from pathlib import Path

    root = Path(crldgen.__file__).parent
    for path in (root / "value").glob("*.py"):
        tree = ast.parse(path.read_text())
        mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 and n.level == 0}
        assert "sympy" not in mods, path
    tree = ast.parse((root / "symbolic" / "value.py").read_text())
    assert not any(isinstance(n, ast.Import) and any(a.name == "numba" for a in n.names) for n in ast.walk(tree))


# ------------------------------------------------------------- example and plots
def test_value_learners_example(tmp_path, cache_dir):
    import contextlib
    import io
    import sys
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    examples = Path(__file__).resolve().parents[1] / "examples"
    sys.path.insert(0, str(examples))
    try:
        import _common
        import value_learners

        _common.CACHE_DIR = cache_dir
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            written = value_learners.main(["--out", str(tmp_path), "--quick", "--dpi", "50"])
    finally:
        _common.CACHE_DIR = None
        sys.path.remove(str(examples))
    assert {p.name for p in written} == {"value_learners.png", "value_flow_q.png"}
    assert all(p.stat().st_size > 1000 for p in written)
    log = buf.getvalue()
    assert "value SARSA: 3 fixed points, strategy SARSA: 3" in log
    dev = float(log.split("largest strategy difference ")[1].split()[0])
    assert dev < 1e-8
    assert "Q-learning:" in log and "stable node (tie)" in log


def test_value_flow_plot_functions():
    import matplotlib

    matplotlib.use("Agg")
    from crldgen import plot

    g = random_case(0)
    vd = vdyn_of(g, "q_learning")
    fields = plot.value_flow_field(vd, ([0], [0, 1], [0]), ([1], [0, 1], [0]), 5, arrows="step")
    assert len(fields) == 2
    f = fields[0]
    # the arrow at one grid point: strategy change of one step from the anchored estimates
    Xs, valid = plot._place(np.full(vd.shape, 0.5), [f.coords[0], f.coords[1]], np.array([[f.xs[1], f.ys[2]]]))
    q = vd.values_from_strategy(Xs[0], constant="values")
    D = vd.strategy(vd.step(q)) - Xs[0]
    np.testing.assert_allclose([f.U[0, 2, 1], f.V[0, 2, 1]], [D[f.coords[0]], D[f.coords[1]]], rtol=1e-12)
    fv = plot.value_flow_field(vd, (0, 1, 0), (1, 1, 0), 4, coords="values", arrows="tderror",
                               base=g["Q"], x_range=(-1, 1), y_range=(0, 2))[0]
    q = g["Q"].copy()
    q[0, 1, 0], q[1, 1, 0] = fv.xs[3], fv.ys[1]
    d = vd.tderror(q)
    np.testing.assert_allclose([fv.U[0, 1, 3], fv.V[0, 1, 3]], [d[0, 1, 0], d[1, 1, 0]], rtol=1e-12)
    tr = vd.trajectory(g["Q"], 30, None)
    axes = plot.value_flow(vd, ([0], [0, 1], [0]), ([1], [0, 1], [0]), 4, trajectories=tr)
    assert len(axes) == 2 and axes[0].get_xlabel() == "agent 0: P(0 | 0)"
    axes = plot.value_flow(vd, (0, 1, 0), (1, 1, 0), 4, coords="values", trajectories=tr, x_range=(-2, 2))
    assert axes[0].get_xlabel() == "agent 0: q(1, 0)"
    with pytest.raises(ParameterError, match="softmax"):
        plot.value_flow_field(vdyn_of(g, "sarsa", "epsilon_greedy"), (0, 0, 0), (1, 0, 0))


# ------------------------------------------------------------- Q-learning in strategy space
def test_strategy_q_learning_is_closed_in_strategy_space():
    g = random_case(2)  # N=2, Z=3, M=3
    vd = vdyn_of(g, "strategy_q_learning")
    T, R, beta, gamma, alpha = g["T"], g["R"], g["beta"], g["gamma"], g["alpha"]
    X = g["X"]
    Qx, Vx, Tx = ref.Q(T, R, X, gamma), ref.V(T, R, X, gamma), ref.Tisas(T, X)
    # delta in strategy space (crld-math section 4 form), written from the averages
    target = Qx + gamma[:, None, None] * np.einsum("isat,it->isa", Tx, Qx.max(-1) - Vx)
    want = X * np.exp(alpha[:, None, None] * (beta[:, None, None] * target - np.log(X)))
    want /= want.sum(-1, keepdims=True)
    for constant in ("mean", "values"):  # the per-(agent, state) constant of the estimates drops out
        Q = vd.values_from_strategy(X, constant=constant)
        np.testing.assert_allclose(vd.strategy(vd.step(Q)), want, rtol=1e-9)
    np.testing.assert_allclose(vd.strategy_step(X), want, rtol=1e-9)


def test_strategy_q_learning_fixed_points_are_greedy_logit_points():
    vd = ValueDynamics(ECO(), "strategy_q_learning", alpha=0.05, beta=25.0, gamma=0.75)
    fps = vd.fixed_points(n_starts=8, rng=0)
    assert fps.points
    for pt in fps.points:
        av = vd.averages(pt.X)
        target = av.Q + 0.75 * np.einsum("isat,it->isa", av.Tisas, av.Q.max(-1) - av.V)
        np.testing.assert_allclose(pt.X, np_softmax(target, np.full(2, 25.0)), rtol=1e-8, atol=1e-12)


def test_option_names_cannot_be_game_parameters():
    import inspect

    from crldgen import plot
    from crldgen.game import OPTION_NAMES, RESERVED_NAMES
    from crldgen.value import fixed_points, stability
    from crldgen.value.dynamics import VALUE_OPTION_NAMES

    fns = [fixed_points, stability, plot.value_flow, plot.value_flow_field]
    fns += [getattr(ValueDynamics, n) for n in dir(ValueDynamics) if not n.startswith("_")
            and callable(getattr(ValueDynamics, n))]
    names = set()
    for f in fns:
        ps = inspect.signature(f).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in ps):
            names |= {p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = names - OPTION_NAMES - RESERVED_NAMES - VALUE_OPTION_NAMES
    assert not missing, f"add these to crldgen.value.dynamics.VALUE_OPTION_NAMES: {sorted(missing)}"
    g = random_case(0)
    for name in ("epsilon", "one_sided"):
        game = crldgen.Game(g["T"], g["R"], params={name: 1.0})
        with pytest.raises(ParameterError, match=f"parameter named '{name}'"):
            ValueDynamics(game)
