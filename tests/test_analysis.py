"""crldgen.analysis: fixed points, stability, basins, tipping points, continuation.

Independent checks: the plain-numpy oracle ``tests/reference.py`` (Q values, the map,
finite-difference Jacobians), a numpy value iteration of the soft Bellman fixed point,
a scan for the logit equilibria of 2x2 games, and the chapter's numbers (critical point
between 0.18966666666666668 and 0.18973333333333334; hysteresis jumps measured with an
independent implementation at gamma 0.825 up and 0.715 down, alpha=0.05, beta=50).

Index conventions: ecological public good states ('g', 'p') = (0, 1), actions ('c', 'd').
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import crldgen
import reference as ref
from crldgen.analysis import classify_flow, classify_map, crossing, sample_strategies

G, P = 0, 1
C, D = 0, 1
CHAPTER = dict(alpha=0.01, beta=100.0, gamma=0.75)  # critical-transition section
HYSTERESIS = dict(alpha=0.05, beta=50.0)  # hysteresis section
CHAPTER_BRACKET = (0.18966666666666668, 0.18973333333333334)
CHAPTER_BASE = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.95, 0.05]]])


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def social(compiled):
    return compiled(crldgen.games.social_dilemma)


@pytest.fixture(scope="module")
def riskreward(compiled):
    return compiled(crldgen.games.risk_reward)


@pytest.fixture(scope="module")
def ecopg_points(ecopg2):
    return crldgen.fixed_points(ecopg2, n_starts=32, rng=0, **CHAPTER)


@pytest.fixture(scope="module")
def chapter_tip(ecopg2):
    return crldgen.tipping_point(ecopg2, coordinate=(0, "p", "c"), interval=(0.01, 0.99), base=CHAPTER_BASE,
                                 tol=1e-8, **CHAPTER)


@pytest.fixture(scope="module")
def gamma_branch(ecopg2):
    """The S-shaped branch of symmetric fixed points in gamma (hysteresis parameters)."""
    start = crldgen.fixed_points(ecopg2, n_starts=8, rng=0, gamma=0.6, **HYSTERESIS)
    assert len(start.points) == 1
    return crldgen.continuation(ecopg2, "gamma", start.points[0].X, start=0.6, bounds=(0.6, 0.9),
                                observable=("p", "c"), **HYSTERESIS)


def payoffs(dyn, R, T, S, P_):
    """Game parameter overrides of the 2x2 social dilemma, found from the reward tensor (robust to renames)."""
    game = crldgen.games.social_dilemma()
    where = {"R": (0, 0), "S": (0, 1), "T": (1, 0), "P": (1, 1)}
    value = {"R": R, "T": T, "S": S, "P": P_}
    out = {}
    for k, (a0, a1) in where.items():
        out[str(game.R[0, 0, a0, a1, 0])] = value[k]
    assert set(out) == set(dyn.param_names)
    return out


def numeric_game(factory, **params):
    game = factory()
    num = game.numeric(**params)
    return num["T"], num["R"]


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def logit_equilibria_2x2(R, T, S, P_, beta, gamma):
    """All logit equilibria of the symmetric 2x2 game, by scanning y0 = phi(phi(y0)) (plain numpy).

    ``phi(y) = beta (1-gamma) [x (R - T) + (1 - x)(S - P)]`` with ``x = sigmoid(y)`` is the
    logit of an agent's response to an opponent with log-ratio ``y`` (prefactor on, one state).
    """
    k = beta * (1 - gamma)

    def phi(y):
        x = sigmoid(y)
        return k * (x * (R - T) + (1 - x) * (S - P_))

    bound = k * max(abs(R - T), abs(S - P_)) + 1
    ys = np.linspace(-bound, bound, 400001)
    f = ys - phi(phi(ys))
    out = []
    for j in np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) <= 0):
        lo, hi = ys[j], ys[j + 1]
        flo = lo - phi(phi(lo))
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            fm = mid - phi(phi(mid))
            if np.sign(fm) == np.sign(flo):
                lo, flo = mid, fm
            else:
                hi = mid
        y0 = 0.5 * (lo + hi)
        if not any(abs(y0 - o[0]) < 1e-6 for o in out):
            out.append((y0, phi(y0)))
    return out


def soft_bellman_fixed_point(T, R, beta, gamma, iters=200000, damping=0.5):
    """Single-agent SARSA fixed point by damped value iteration (plain numpy).

    ``Q = (1-gamma) R_sa + gamma T V`` with ``V(s) = sum_a X(s,a) Q(s,a)`` and
    ``X = softmax(beta Q)``; returns X.
    """
    Rsa = np.einsum("sat,sat->sa", T, R[0])
    Q = np.zeros_like(Rsa)
    for _ in range(iters):
        X = np.exp(beta * (Q - Q.max(axis=1, keepdims=True)))
        X /= X.sum(axis=1, keepdims=True)
        V = np.sum(X * Q, axis=1)
        Q_new = (1 - gamma) * Rsa + gamma * np.einsum("sat,t->sa", T, V)
        if np.max(np.abs(Q_new - Q)) < 1e-15:
            break
        Q = (1 - damping) * Q + damping * Q_new
    X = np.exp(beta * (Q - Q.max(axis=1, keepdims=True)))
    return X / X.sum(axis=1, keepdims=True)


def assert_logit_equilibrium(dyn, factory, X, beta, gamma, game_params=None, atol=1e-9):
    """``X[i, s] ∝ exp(beta Q_i[s])`` with Q from the numpy oracle (``gamma`` scalar or one per agent)."""
    T, R = numeric_game(factory, **(game_params or {}))
    N = X.shape[0]
    Qref = ref.Q(T, R, X, np.broadcast_to(gamma, (N,)), prefactor=True)
    lhs = np.log(X[..., :-1]) - np.log(X[..., -1:])
    np.testing.assert_allclose(lhs, beta * (Qref[..., :-1] - Qref[..., -1:]), atol=atol, rtol=0)


# ---------------------------------------------------------- fixed points
@pytest.mark.parametrize("beta, gamma", [(1.0, 0.5), (5.0, 0.9), (20.0, 0.8), (60.0, 0.6)])
def test_single_agent_fixed_point_is_softmax_of_q(riskreward, beta, gamma):
    res = crldgen.fixed_points(riskreward, n_starts=16, rng=1, beta=beta, gamma=gamma)
    X_ref = soft_bellman_fixed_point(*numeric_game(crldgen.games.risk_reward), beta, gamma)
    assert len(res.points) == 1
    pt = res.points[0]
    np.testing.assert_allclose(pt.X[0], X_ref, atol=1e-9)
    assert pt.residual < 1e-10 and pt.stable
    assert_logit_equilibrium(riskreward, crldgen.games.risk_reward, pt.X, beta, gamma)


@pytest.mark.parametrize("game, beta, expected", [
    ((3.0, 5.0, 0.0, 1.0), 10.0, ["stable node"]),  # prisoner's dilemma: one equilibrium
    ((4.0, 3.0, 0.0, 1.0), 10.0, ["stable node", "stable node", "saddle"]),  # stag hunt, symmetric at x=1/2
    ((4.0, 3.0, 0.0, 1.0), 3.0, ["stable node"]),  # stag hunt below the pitchfork at beta = 2/(1-gamma)
    ((5.0, 3.0, 0.0, 1.0), 12.0, ["stable node", "stable node", "saddle"]),  # asymmetric stag hunt
    ((1.0, 2.0, 0.0, -1.0), 10.0, ["stable node", "stable node", "saddle"]),  # chicken: asymmetric equilibria
])
def test_matrix_game_logit_equilibria(social, game, beta, expected):
    R, T, S, P_ = game
    gamma = 0.5
    pay = payoffs(social, R, T, S, P_)
    res = crldgen.fixed_points(social, n_starts=32, rng=2, alpha=0.1, beta=beta, gamma=gamma, **pay)
    qre = logit_equilibria_2x2(R, T, S, P_, beta, gamma)
    assert len(res.points) == len(qre) == len(expected)
    assert sorted(pt.type for pt in res.points) == sorted(expected)
    for pt in res.points:
        assert pt.residual < 1e-10
        assert_logit_equilibrium(social, crldgen.games.social_dilemma, pt.X, beta, gamma, pay)
        y = pt.y[:, 0, 0]
        assert min(abs(y[0] - a) + abs(y[1] - b) for a, b in qre) < 1e-7


def random_game(n_obs):
    """Two agents, two states (observed through noisy observations with ``n_obs``), three actions."""
    g = ref.random_game(np.random.default_rng(1), N=2, Z=2, M=3, n_obs=n_obs)
    return g, crldgen.Game(g["T"], g["R"], g["O"], name=f"analysis_random_{n_obs}")


@pytest.mark.parametrize("n_obs", [None, pytest.param(2, marks=pytest.mark.slow)])  # slow: a 30 s compile
def test_random_three_action_game(compiled, n_obs):
    """Per-agent parameters, M=3 (and X[i, o, a] on observations): the oracle confirms points and Jacobians."""
    g, game = random_game(n_obs)
    dyn = compiled(game)
    p = dict(alpha=g["alpha"] / 8, beta=3 * g["beta"], gamma=g["gamma"])
    res = crldgen.fixed_points(dyn, n_starts=16, rng=0, **p)
    assert len(res.points) >= 1
    for pt in res.points:
        assert pt.eigenvalues.shape == (dyn.n_free,) == (8,)
        assert pt.residual < 1e-10
        y_next = ref.logit_step(g["T"], g["R"], pt.y, p["alpha"], p["beta"], p["gamma"], O=g["O"])
        assert np.max(np.abs(y_next - pt.y)) < 1e-10
        J_fd = ref.logit_jacobian_fd(g["T"], g["R"], pt.y, p["alpha"], p["beta"], p["gamma"], O=g["O"], h=1e-6)
        np.testing.assert_allclose(pt.jacobian, J_fd, atol=1e-7)
        if n_obs is None:
            assert_logit_equilibrium(dyn, lambda: game, pt.X, p["beta"][:, None, None], p["gamma"])
    frac = crldgen.basin_fractions(dyn, 40, rng=1, **p)
    assert (frac.labels >= 0).all()
    assert len(frac.attractors) == len([pt for pt in res.points if pt.stable])


def test_chapter_fixed_points(ecopg_points):
    """Cooperative and defective attractors and the saddle between them (alpha=0.01, beta=100, gamma=0.75)."""
    pts = ecopg_points.points
    assert [pt.type for pt in pts] == ["stable node", "stable node", "saddle"]
    coop, defect, saddle = pts
    assert np.all(coop.X[:, P, C] > 0.999) and np.all(defect.X[:, P, C] < 1e-3)
    assert coop.stable and defect.stable and not saddle.stable and saddle.n_unstable == 1
    assert saddle.X[0, P, C] == pytest.approx(saddle.X[1, P, C], abs=1e-12)  # symmetric
    assert 0.1 < saddle.X[0, P, C] < 0.9
    for pt in pts:
        np.testing.assert_allclose(pt.X[:, G, :], 0.5, atol=1e-12)  # no agency in the degraded state
        assert pt.eigenvalues.shape == (4,)  # N*Z*(M-1): no normalization eigenvalues
    assert ecopg_points.X.shape == (3, 2, 2, 2)
    np.testing.assert_array_equal(ecopg_points.stable, [True, True, False])
    assert saddle.relaxation_time < 0 < coop.relaxation_time
    assert coop.relaxation_time == pytest.approx(-1 / np.log(coop.spectral_radius))


def test_every_fixed_point_is_a_zero(ecopg2, ecopg_points):
    T, R = numeric_game(lambda: crldgen.games.ecological_public_good(2))
    a, b, g = (np.full(2, CHAPTER[k]) for k in ("alpha", "beta", "gamma"))
    for pt in ecopg_points.points:
        assert pt.residual < 1e-10 and pt.flow_residual < 1e-10 / CHAPTER["alpha"]
        y_next = ref.logit_step(T, R, pt.y, a, b, g)
        assert np.max(np.abs(y_next - pt.y)) < 1e-10


def test_eigenvalues_match_finite_differences(ecopg2, ecopg_points):
    T, R = numeric_game(lambda: crldgen.games.ecological_public_good(2))
    a, b, g = (np.full(2, CHAPTER[k]) for k in ("alpha", "beta", "gamma"))
    for pt in ecopg_points.points:
        J_fd = ref.logit_jacobian_fd(T, R, pt.y, a, b, g, h=1e-6)
        np.testing.assert_allclose(pt.jacobian, J_fd, atol=1e-7)
        ev_fd = np.sort_complex(np.linalg.eigvals(J_fd))
        np.testing.assert_allclose(np.sort_complex(np.asarray(pt.eigenvalues, dtype=complex)), ev_fd, atol=1e-7)
        flow = np.sort_complex((ev_fd - 1) / CHAPTER["alpha"])
        np.testing.assert_allclose(np.sort_complex(np.asarray(pt.flow_eigenvalues, dtype=complex)), flow,
                                   atol=1e-5)


def test_stability_of_one_point(ecopg2, ecopg_points):
    saddle = ecopg_points.points[2]
    rep = crldgen.stability(ecopg2, saddle.X, **CHAPTER)
    assert rep.type == "saddle" and rep.flow_type == "saddle" and not rep.stable
    np.testing.assert_allclose(rep.eigenvalues, saddle.eigenvalues, rtol=1e-9)
    # log-ratios are accepted too, and parameters are per call
    rep2 = crldgen.stability(ecopg2, saddle.y, **CHAPTER)
    assert rep2.spectral_radius == pytest.approx(rep.spectral_radius, rel=1e-12)
    off = crldgen.stability(ecopg2, ecopg2.uniform_strategy(), **CHAPTER)
    assert off.residual > 1e-3  # not a fixed point: says so
    text = repr(ecopg_points)
    assert "saddle" in text and "stable node" in text and "3 fixed point(s)" in text
    assert "relaxation_time" in repr(rep)


def test_map_and_flow_classified_separately(social):
    """Chicken with x = 1/2 fixed and a large learning rate: the map and the flow disagree."""
    pay = payoffs(social, 1.0, 2.0, 0.0, -1.0)  # chicken, x = 1/2 is a fixed point
    X = social.uniform_strategy()
    rep = crldgen.stability(social, X, alpha=0.8, beta=4.0, gamma=0.0, **pay)
    # J = [[1-a, a c], [a c, 1-a]] with c = -beta/2: eigenvalues 1 - a -+ 2a
    np.testing.assert_allclose(np.sort(rep.eigenvalues), [1 - 0.8 - 1.6, 1 - 0.8 + 1.6], atol=1e-12)
    assert rep.type == "unstable node"  # |1 - 3a| > 1 and 1 + a > 1
    assert rep.flow_type == "saddle"  # flow eigenvalues -1 -+ 2
    np.testing.assert_allclose(np.sort(rep.flow_eigenvalues), [-3.0, 1.0], atol=1e-12)


def test_classifiers():
    assert classify_map([0.5, 0.3]) == "stable node"
    assert classify_map([0.5 + 0.2j, 0.5 - 0.2j, 0.1]) == "stable focus"
    assert classify_map([0.9, 0.3 + 0.1j, 0.3 - 0.1j]) == "stable node"  # the slowest mode is real
    assert classify_map([1.2, 0.5]) == "saddle"
    assert classify_map([1.5, -2.0]) == "unstable node"
    assert classify_map([1.1 + 0.5j, 1.1 - 0.5j]) == "unstable focus"
    assert classify_map([1.0, 0.5]) == "non-hyperbolic"
    assert classify_flow([-1.0, -2.0]) == "stable node"
    assert classify_flow([-1 + 1j, -1 - 1j]) == "stable focus"
    assert classify_flow([1.0, -2.0]) == "saddle"
    assert classify_flow([1.0, 2.0]) == "unstable node"
    assert classify_flow([1 + 1j, 1 - 1j]) == "unstable focus"
    assert classify_flow([0.0, -1.0]) == "non-hyperbolic"


@pytest.mark.parametrize("method", ["lhs", "dirichlet"])
@pytest.mark.parametrize("M", [2, 3, 5])
def test_start_samples_cover_simplices(method, M):
    dyn = SimpleNamespace(shape=(2, 3, M))
    X = sample_strategies(dyn, 4000, rng=0, method=method)
    assert X.shape == (4000, 2, 3, M)
    assert np.all(X > 0) and np.allclose(X.sum(-1), 1)
    np.testing.assert_allclose(X.mean(axis=0), 1 / M, atol=0.02)  # uniform on the simplex: mean 1/M
    if method == "lhs":  # every stick-breaking coordinate is stratified: one sample per 1/n bin
        first = X[:, 0, 0, 0]
        u = 1 - (1 - (first - 1e-3 / M) / (1 - 1e-3)) ** (M - 1)
        counts = np.bincount(np.clip((u * 4000).astype(int), 0, 3999), minlength=4000)
        assert counts.max() <= 2


def test_guesses_only(ecopg2, ecopg_points):
    coop = ecopg_points.points[0]
    X0 = np.where(coop.X > 0.5, 0.9999, 0.0001)
    X0[:, G] = 0.5
    res = crldgen.fixed_points(ecopg2, guesses=X0, n_starts=0, iterate=False, **CHAPTER)
    assert len(res.points) == 1
    np.testing.assert_allclose(res.points[0].X, coop.X, atol=1e-12)
    with pytest.raises(crldgen.ParameterError):
        crldgen.fixed_points(ecopg2, guesses=np.ones(3), **CHAPTER)


# ------------------------------------------------------- basins, tipping points
def test_chapter_tipping_point(ecopg2):
    """The chapter's critical point with far fewer trajectories than its 201."""
    tip = crldgen.tipping_point(ecopg2, coordinate=(0, "p", "c"), interval=(0.01, 0.99), base=CHAPTER_BASE,
                                tol=1e-5, **CHAPTER)
    assert CHAPTER_BRACKET[0] < tip.value < CHAPTER_BRACKET[1]
    lo, hi = tip.value_bracket
    assert hi - lo <= 1e-5 and lo <= tip.value <= hi
    assert tip.n_trajectories == 2 + int(np.ceil(np.log2(0.98 / 1e-5)))  # 19: two ends + 17 bisection steps
    defect, coop = tip.attractors
    assert np.all(defect.X[:, P, C] < 1e-3) and np.all(coop.X[:, P, C] > 0.999)
    assert "19 trajectories" in repr(tip)


def test_tipping_point_to_high_precision(chapter_tip):
    assert CHAPTER_BRACKET[0] < chapter_tip.value < CHAPTER_BRACKET[1]
    lo, hi = chapter_tip.value_bracket
    assert hi - lo <= 1e-8
    assert chapter_tip.n_trajectories <= 2 + int(np.ceil(np.log2(0.98 / 1e-8)))


def test_separatrix_is_the_saddles_stable_manifold(ecopg2, ecopg_points, chapter_tip):
    saddle = ecopg_points.points[2]
    # (1) the saddle's stable manifold (exact backward iteration) crosses the chapter's line at the critical point
    man = crldgen.stable_manifold(ecopg2, saddle, y_limit=4.0, **CHAPTER)
    assert man.eigenvalue == pytest.approx(np.min(np.abs(saddle.eigenvalues)))
    hits = [X for branch in man.branches for X in crossing(ecopg2, branch, (1, "p", "c"), 0.95)]
    assert len(hits) == 1
    assert hits[0][0, P, C] == pytest.approx(chapter_tip.value, abs=1e-6)
    np.testing.assert_allclose(hits[0][:, G, C], 0.5, atol=1e-12)
    # (2) trajectories from the bisection bracket pass the saddle closely before they part
    dmin = []
    for X0 in (chapter_tip.X_lo, chapter_tip.X_hi):
        run = ecopg2.trajectory(X0, 3000, None, **CHAPTER)
        dmin.append(np.min(np.max(np.abs(run.X - saddle.X), axis=(1, 2, 3))))
    assert max(dmin) < 1e-3
    # (3) inverse_step is the exact inverse of the map
    from crldgen.analysis._core import System

    sys_ = System(ecopg2, CHAPTER)
    z = saddle.y.ravel() + np.array([0.0, 0.3, 0.0, -0.2])
    np.testing.assert_allclose(sys_.step(crldgen.analysis.inverse_step(sys_, z)), z, atol=1e-12)


def test_critical_slowing_down(ecopg2, ecopg_points, chapter_tip):
    saddle = ecopg_points.points[2]
    csd = crldgen.critical_slowing_down(ecopg2, chapter_tip, np.logspace(-7, -2, 6), saddle=saddle)
    assert csd.reached.all()
    assert np.all(np.diff(csd.steps, axis=1) < 0)  # closer to the separatrix: slower
    # time ~ -ln(d) / ln(lambda_u): the slope is set by the saddle's unstable eigenvalue
    assert csd.slope == pytest.approx(csd.predicted_slope, rel=0.02)
    # the chapter's tolerance 1e-5 stops runs at the saddle for tiny distances: flagged, left out of the fit
    tiny = crldgen.critical_slowing_down(ecopg2, chapter_tip, [1e-8, 1e-3], tol=1e-5)
    assert not tiny.reached[:, 0].any() and tiny.reached[:, 1].all()


def test_basins_on_the_chapter_slice(ecopg2, ecopg_points):
    res = crldgen.basins(ecopg2, (0, "p", "c"), (1, "p", "c"), 9, base=CHAPTER_BASE * 0 + 0.5,
                         attractors=ecopg_points, **CHAPTER)
    assert res.labels.shape == (9, 9) and len(res.attractors) == 2
    assert (res.labels >= 0).all()
    coop = [k for k, a in enumerate(res.attractors) if a.X[0, P, C] > 0.5][0]
    assert res.labels[-1, -1] == coop and res.labels[0, 0] == 1 - coop
    np.testing.assert_array_equal(res.labels, res.labels.T)  # symmetric game: swapping the agents
    assert res.fractions.sum() == pytest.approx(1.0)
    assert res.attractors[coop].fixed_point is ecopg_points.points[0]
    assert "fraction" in res.summary()


def test_basin_fractions(ecopg2):
    res = crldgen.basin_fractions(ecopg2, 200, rng=3, **CHAPTER)
    assert len(res.attractors) == 2 and (res.labels >= 0).all()
    assert res.fractions.sum() == pytest.approx(1.0)
    assert np.all(res.fractions > 0.1) and np.all(res.stderr < 0.05)
    assert all(a.fixed_point is not None and a.fixed_point.stable for a in res.attractors)


# ----------------------------------------------------------------- continuation
def test_continuation_folds_match_the_brute_force_hysteresis(gamma_branch):
    folds = [b for b in gamma_branch.bifurcations if b.kind == "fold"]
    assert len(folds) == 2
    defect_fold, coop_fold = folds
    # the colleague's brute-force sweep: jump up at 0.825 (still defective at 0.82), down at 0.715
    assert 0.82 < defect_fold.value <= 0.825
    assert 0.715 <= coop_fold.value < 0.72
    assert defect_fold.observable < 0.5 < coop_fold.observable
    segs = gamma_branch.segments()
    assert [s.stable for s in segs] == [True, False, True]
    assert segs[0].param[-1] == segs[1].param[0] == defect_fold.value
    assert gamma_branch.param[0] == 0.6 and gamma_branch.param[-1] == 0.9
    assert gamma_branch.stop_reason.startswith("reached bound")
    # a fold: one eigenvalue +1 there
    for f in folds:
        assert np.min(np.abs(np.asarray(f.eigenvalues) - 1)) < 1e-6


def test_continuation_points_are_fixed_points(ecopg2, gamma_branch):
    for k in range(0, len(gamma_branch.param), 7):
        rep = crldgen.stability(ecopg2, gamma_branch.y[k], gamma=gamma_branch.param[k], **HYSTERESIS)
        assert rep.flow_residual < 1e-8
        assert rep.stable == gamma_branch.stable[k] or abs(rep.spectral_radius - 1) < 1e-6


def test_fold_is_where_the_branch_ends(ecopg2, gamma_branch):
    fold = gamma_branch.bifurcations[0]
    before = crldgen.fixed_points(ecopg2, n_starts=16, rng=4, gamma=fold.value - 1e-4, **HYSTERESIS)
    after = crldgen.fixed_points(ecopg2, n_starts=16, rng=4, gamma=fold.value + 1e-4, **HYSTERESIS)
    assert len(before.points) == 3 and len(after.points) == 1
    assert after.points[0].X[0, P, C] > 0.99  # only cooperation is left


def test_hysteresis_loop(ecopg2):
    values = np.arange(0.6, 0.9, 0.005)
    brute = crldgen.hysteresis_sweep(ecopg2, "gamma", values, tmax=2500, tol=10e-12, observable=("p", "c"),
                                     **HYSTERESIS)
    assert [(j.direction, round(j.value, 6)) for j in brute.jumps] == [("up", 0.825), ("down", 0.715)]
    loop = crldgen.hysteresis(ecopg2, "gamma", 0.6, 0.9, observable=("p", "c"), **HYSTERESIS)
    assert [(j.direction, j.kind) for j in loop.jumps] == [("up", "fold"), ("down", "fold")]
    for jc, jb in zip(loop.jumps, brute.jumps):
        lo, hi = sorted((jb.last_before, jb.value))
        assert lo < jc.value < hi  # the fold lies between the neighbouring grid values
        assert abs(jc.observable_after - jb.observable_after) < 0.01
    assert loop.up.param[0] == 0.6 and loop.up.param[-1] == 0.9
    assert loop.down.param[0] == 0.9 and loop.down.param[-1] == 0.6
    assert loop.up.observable[0] < 0.01 and loop.down.observable[0] > 0.99
    assert "fold" in repr(loop)


def test_period_doubling_and_branch_point(social):
    X = social.uniform_strategy()
    # chicken with x = 1/2 fixed: eigenvalue 1 - 3 alpha crosses -1 at alpha = 2/3 (beta=4, gamma=0)
    pd = crldgen.continuation(social, "alpha", X, start=0.05, bounds=(0.05, 1.0), beta=4.0, gamma=0.0,
                              **payoffs(social, 1.0, 2.0, 0.0, -1.0))
    assert [b.kind for b in pd.bifurcations] == ["period_doubling"]
    assert pd.bifurcations[0].value == pytest.approx(2 / 3, abs=1e-9)
    assert pd.param[-1] == 1.0
    # stag hunt: the symmetric point loses stability in a pitchfork at beta = 2 / (1 - gamma)
    bp = crldgen.continuation(social, "beta", X, start=1.0, bounds=(1.0, 20.0), alpha=0.1, gamma=0.5,
                              **payoffs(social, 4.0, 3.0, 0.0, 1.0))
    assert [b.kind for b in bp.bifurcations] == ["branch_point"]
    assert bp.bifurcations[0].value == pytest.approx(4.0, abs=1e-9)
    assert bp.stable[0] and not bp.stable[-1]


def test_neimark_sacker(compiled):
    """Matching pennies: x = 1/2 with eigenvalues 1 - alpha +- i alpha beta; a pair leaves the unit circle
    at alpha = 2 / (1 + beta^2) while the flow stays a stable focus."""
    dyn = compiled(matching_pennies)
    X = dyn.uniform_strategy()
    res = crldgen.continuation(dyn, "alpha", X, start=0.02, bounds=(0.02, 1.0), beta=4.0, gamma=0.0)
    assert [b.kind for b in res.bifurcations] == ["neimark_sacker"]
    assert res.bifurcations[0].value == pytest.approx(2 / 17, abs=1e-9)
    before = crldgen.stability(dyn, X, alpha=0.1, beta=4.0, gamma=0.0)
    after = crldgen.stability(dyn, X, alpha=0.2, beta=4.0, gamma=0.0)
    assert (before.type, after.type) == ("stable focus", "unstable focus")
    assert before.flow_type == after.flow_type == "stable focus"


def matching_pennies():
    T = np.ones((1, 2, 2, 1))
    R = np.zeros((2, 1, 2, 2, 1))
    R[0, 0, :, :, 0] = [[1, -1], [-1, 1]]
    R[1] = -R[0]
    return crldgen.Game(T, R, states=("s",), actions=("h", "t"), name="matching_pennies")


def test_continuation_in_game_and_per_agent_parameters(ecopg2):
    start = crldgen.fixed_points(ecopg2, n_starts=8, rng=0, gamma=0.78, **HYSTERESIS).points[0]
    assert start.X[0, P, C] > 0.999  # cooperation
    # a game parameter: the collapse impact m (the cooperative branch folds when collapse hurts too little)
    up = crldgen.continuation(ecopg2, "m", start.X, bounds=(-8.0, -2.0), gamma=0.78, **HYSTERESIS)
    assert up.param[0] == -5.0 and up.bifurcations and up.bifurcations[0].kind == "fold"
    down = crldgen.continuation(ecopg2, "m", start.X, bounds=(-8.0, -2.0), direction=-1, gamma=0.78,
                                **HYSTERESIS)
    assert down.param[-1] == -8.0 and down.stable.all() and not down.bifurcations
    # one agent's discount factor
    one = crldgen.continuation(ecopg2, "gamma_0", start.X, start=0.78, bounds=(0.5, 0.95), gamma=0.78,
                               **HYSTERESIS)
    assert one.param[-1] == 0.95
    for branch, name in ((up, "m"), (one, "gamma_0")):
        for k in range(0, len(branch.param), 4):
            rep = crldgen.stability(ecopg2, branch.y[k], gamma=0.78, **{name: branch.param[k]}, **HYSTERESIS)
            assert rep.flow_residual < 1e-8


def test_actor_critic_attractors_on_the_boundary(compiled):
    """Actor-critic learners converge to pure strategies on the boundary: the basins name those fixed points."""
    dyn = compiled(functools.partial(crldgen.games.ecological_public_good, 2), "actor_critic", True)
    res = crldgen.basins(dyn, (0, "p", "c"), (1, "p", "c"), 5, alpha=0.05, beta=50.0, gamma=0.75)
    assert len(res.attractors) == 2 and (res.labels >= 0).all()
    # (before issue 17 these were 'not a fixed point': the boundary was never searched)
    assert all(a.fixed_point is not None and a.fixed_point.on_boundary and a.fixed_point.stable
               for a in res.attractors)
    ends = sorted(float(a.X[0, P, C]) for a in res.attractors)
    assert ends[0] < 1e-6 and ends[1] > 1 - 1e-6
    np.testing.assert_array_equal(res.labels, res.labels.T)


def test_continuation_errors(ecopg2):
    with pytest.raises(crldgen.ParameterError, match="unknown parameter"):
        crldgen.continuation(ecopg2, "nope", ecopg2.uniform_strategy(), start=0.7)
    with pytest.raises(crldgen.ParameterError, match="stop_at"):
        crldgen.continuation(ecopg2, "gamma", ecopg2.uniform_strategy(), stop_at=("bogus",))


# ------------------------------------------------------------------ boundaries
def test_analysis_never_imports_sympy():
    root = Path(crldgen.__file__).parent / "analysis"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "sympy" or "symbolic" in n for n in names), path
