"""Fixed points on the boundary of the simplex, neutral sets and honest stability labels (issue 17).

Oracles are independent of the analysis code: ``reference.py`` (plain numpy TD errors
and update map), hand enumeration of the pure Nash equilibria of matrix games by loops,
finite differences of the update map restricted to a face, and plain counts of where
trajectories from a grid end.
"""

import functools

import numpy as np
import pytest
import sympy

import crldgen
import reference as ref
from crldgen.analysis import classify_flow, classify_map

G, P = 0, 1  # states of the ecological public good
C, D = 0, 1
CHAPTER = dict(alpha=0.01, beta=100.0, gamma=0.75)


@pytest.fixture(scope="module")
def ac(compiled):
    """The chapter's ecological public good under actor-critic learners."""
    return compiled(functools.partial(crldgen.games.ecological_public_good, 2), "actor_critic", True)


@pytest.fixture(scope="module")
def ac_points(ac):
    return crldgen.fixed_points(ac, n_starts=24, rng=0, **CHAPTER)


def ecopg_arrays():
    num = crldgen.games.ecological_public_good(2).numeric()
    return num["T"], num["R"]


def ref_delta(T, R, X, p):
    N = X.shape[0]
    return ref.td_error(T, R, X, np.full(N, p["beta"]), np.full(N, p["gamma"]), True, "actor_critic")


def assert_never_stable_when_rho_above_one(res):
    for pt in res.points + list(res.pure):
        normal_out = np.abs(np.asarray(pt.eigenvalues)) > 1 + 1e-9
        if normal_out.any():
            assert not pt.stable, pt.type
            assert pt.type.startswith(("saddle", "unstable")), pt.type
            assert pt.n_unstable >= 1


# ---------------------------------------------------------------- the chapter's game
def test_chapter_pure_attractors_are_stable_boundary_sets(ac, ac_points):
    T, R = ecopg_arrays()
    stable = ac_points.stable_points
    assert len(stable) == 2
    coop = [pt for pt in stable if pt.X[0, P, C] > 0.5]
    defect = [pt for pt in stable if pt.X[0, P, C] < 0.5]
    assert len(coop) == len(defect) == 1
    for pt, a in ((coop[0], C), (defect[0], D)):
        assert pt.on_boundary and pt.asymptotic and pt.stable
        np.testing.assert_array_equal(pt.X[:, P, a], [1.0, 1.0])
        assert pt.transversal_actions == [(0, P, 1 - a), (1, P, 1 - a)]
        # transversal rate delta[b] - delta[a] from the plain numpy TD errors at the boundary strategy
        d = ref_delta(T, R, pt.X, CHAPTER)
        want = d[:, P, 1 - a] - d[:, P, a]
        np.testing.assert_allclose(pt.transversal_rates, want, rtol=1e-10, atol=1e-12)
        assert np.all(want < 0)
        np.testing.assert_allclose(pt.transversal_multipliers, np.exp(CHAPTER["alpha"] * want), rtol=1e-12)
        # the degraded state's strategy is free: a 2-d neutral set, represented once
        assert pt.neutral_dimension == 2 and pt.type == "stable set"
        assert [(i, o) for i, o, _ in pt.free_blocks] == [(0, G), (1, G)]
        assert pt.hits > 1 and len(pt.corners) >= 1
    assert_never_stable_when_rho_above_one(ac_points)
    assert ac_points.params["qc"] == 0.2 and ac_points.params["alpha"] == [0.01, 0.01]
    assert ac_points.n_starts == 24 and ac_points.n_trajectories == 24
    assert ac_points.search["faces_tried"] >= 1 and ac_points.search["n_pure"] == 16


def test_chapter_neutral_plane_is_one_saddle_set(ac_points):
    """The degraded-state plane through the prosperous-state mixed point: one set, not dozens of points."""
    T, R = ecopg_arrays()
    interior = [pt for pt in ac_points.points if not pt.on_boundary]
    assert len(interior) == 1
    (s,) = interior
    assert s.neutral_dimension == 2 and s.type == "saddle set" and not s.stable
    assert s.spectral_radius > 1 and s.n_unstable == 1
    assert len(s.members) > 5  # many distinct starts landed on the plane; reported once
    # independent check that the set really is a plane of fixed points: any degraded-state strategy
    rng = np.random.default_rng(0)
    for _ in range(5):
        X = s.X.copy()
        X[:, G] = rng.dirichlet([1, 1], size=2)
        d = ref_delta(T, R, X, CHAPTER)
        np.testing.assert_allclose(d[:, :, 0] - d[:, :, 1], 0, atol=1e-10)
    assert len(ac_points.neutral_sets) == 3


def test_chapter_basins_split_matches_trajectory_ends(ac, ac_points):
    res = crldgen.basins(ac, (0, "p", "c"), (1, "p", "c"), 7, attractors=ac_points, **CHAPTER)
    assert len(res.attractors) == 2 and (res.labels >= 0).all()
    assert all(a.fixed_point is not None and a.fixed_point.on_boundary for a in res.attractors)
    # independent: run the same grid and count where prosperous-state cooperation ends
    xs = res.x_values
    X0s = []
    for vy in res.y_values:
        for vx in xs:
            X = np.full((2, 2, 2), 0.5)
            X[0, P] = [vx, 1 - vx]
            X[1, P] = [vy, 1 - vy]
            X0s.append(X)
    runs = ac.trajectories(np.array(X0s), 10000, 1e-8, **CHAPTER)
    end_coop = runs.final[:, :, P, C]
    near_c = np.all(end_coop > 1 - 1e-2, axis=1)
    near_d = np.all(end_coop < 1e-2, axis=1)
    assert np.all(near_c | near_d)
    k_coop = [k for k, a in enumerate(res.attractors) if a.X[0, P, C] > 0.5][0]
    assert res.fractions[k_coop] == pytest.approx(near_c.mean())
    assert res.fractions[1 - k_coop] == pytest.approx(near_d.mean())
    np.testing.assert_array_equal((res.labels == k_coop).ravel(), near_c)


# ---------------------------------------------------------------- 3x3 matrix games
RPS = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=float)
TIE0 = np.array([[3, 0, 0], [0, 2, 2], [0, 2, 1]], dtype=float)  # row player's payoffs R0[a0, a1]
TIE1 = np.array([[3, 0, 0], [0, 2, 2], [0, 1, 1]], dtype=float)  # column player's payoffs R1[a0, a1]
MATRIX = dict(alpha=0.05, beta=5.0, gamma=0.5)


def bimatrix3() -> crldgen.Game:
    """One state, 3x3: ``(1 - k) * rock-paper-scissors + k * a game with ties`` (one compiled module for both)."""
    k = sympy.Symbol("k", real=True)
    T = np.ones((1, 3, 3, 1), dtype=object)
    R = np.empty((2, 1, 3, 3, 1), dtype=object)
    for a in range(3):
        for b in range(3):
            R[0, 0, a, b, 0] = (1 - k) * int(RPS[a, b]) + k * int(TIE0[a, b])
            R[1, 0, a, b, 0] = (1 - k) * int(-RPS[a, b]) + k * int(TIE1[a, b])
    return crldgen.Game(T, R, params={k: 1.0}, actions=("a0", "a1", "a2"), name="bimatrix3_issue17")


@pytest.fixture(scope="module")
def bm(compiled):
    return compiled(bimatrix3, "actor_critic", True)


def pure_nash(R0, R1):
    """Hand enumeration: {(a0, a1): strict} for every pure Nash equilibrium of the bimatrix game."""
    out = {}
    for a0 in range(3):
        for a1 in range(3):
            dev0 = [R0[b, a1] - R0[a0, a1] for b in range(3) if b != a0]
            dev1 = [R1[a0, b] - R1[a0, a1] for b in range(3) if b != a1]
            if max(dev0) <= 0 and max(dev1) <= 0:
                out[(a0, a1)] = max(dev0) < 0 and max(dev1) < 0
    return out


def test_matrix_game_pure_nash_equilibria(bm):
    res = crldgen.fixed_points(bm, n_starts=16, rng=0, k=1.0, **MATRIX)
    want = pure_nash(TIE0, TIE1)
    assert want == {(0, 0): True, (1, 1): False, (1, 2): False, (2, 1): False}  # the game's design
    got = {tuple(int(a) for a in np.argmax(pt.X[:, 0], -1)): pt.strict for pt in res.pure if pt.nash}
    assert got == want
    assert res.search["n_pure"] == 9
    scale = MATRIX["beta"] * (1 - MATRIX["gamma"])
    for (a0, a1), strict in want.items():
        pt = [q for q in res.pure if tuple(np.argmax(q.X[:, 0], -1)) == (a0, a1)][0]
        # transversal rates beta (1 - gamma) (R_b - R_a): single state, values V = R at a pure profile
        rates = dict(zip(pt.transversal_actions, pt.transversal_rates))
        for b in range(3):
            if b != a0:
                assert rates[(0, 0, b)] == pytest.approx(scale * (TIE0[b, a1] - TIE0[a0, a1]), abs=1e-10)
            if b != a1:
                assert rates[(1, 0, b)] == pytest.approx(scale * (TIE1[a0, b] - TIE1[a0, a1]), abs=1e-10)
        if strict:
            assert pt.type == "stable node" and pt.stable
        else:
            assert pt.type == "non-hyperbolic" and not pt.stable
    # the strict equilibrium is a stable isolated boundary point of the result
    (strict_pt,) = [pt for pt in res.points if pt.stable and not pt.neutral_dimension]
    np.testing.assert_array_equal(strict_pt.X[:, 0], [[1, 0, 0], [1, 0, 0]])
    assert strict_pt.on_boundary and strict_pt.asymptotic
    # non-strict ones lie on neutral edges (one agent indifferent): reported as sets, never as stable points
    for pt in res.points:
        if pt.neutral_dimension:
            assert pt.type.endswith(" set")
    assert_never_stable_when_rho_above_one(res)


def test_face_jacobian_against_finite_differences(bm):
    """The within-face eigenvalues: a face fixed point's Jacobian against the plain update map on the face."""
    res = crldgen.fixed_points(bm, n_starts=16, rng=0, k=1.0, **MATRIX)
    num = bimatrix3().numeric(k=1.0)
    T, R = num["T"], num["R"]
    alpha, beta, gamma = (np.full(2, MATRIX[n]) for n in ("alpha", "beta", "gamma"))
    checked = 0
    for pt in res.points:
        if not pt.on_boundary or pt.jacobian.size == 0:
            continue
        sup = pt.support.reshape(2, 3)
        refa = [int(np.flatnonzero(s)[-1]) for s in sup]
        coords = [(b, a) for b in range(2) for a in range(3) if sup[b, a] and a != refa[b]]

        def z_of(X):
            return np.array([np.log(X[b, 0, a] / X[b, 0, refa[b]]) for b, a in coords])

        def X_of(z):
            L = np.full((2, 3), -np.inf)
            for b in range(2):
                L[b, refa[b]] = 0.0
            for k, (b, a) in enumerate(coords):
                L[b, a] = z[k]
            E = np.exp(L - L.max(-1, keepdims=True))
            return (E / E.sum(-1, keepdims=True))[:, None, :]

        def face_map(z):
            return z_of(ref.strategy_step(T, R, X_of(z), alpha, beta, gamma, True, "actor_critic"))

        z0 = z_of(pt.X)
        np.testing.assert_allclose(face_map(z0), z0, atol=1e-9)  # a fixed point of the plain map
        h = 1e-6
        J_fd = np.array([(face_map(z0 + h * e) - face_map(z0 - h * e)) / (2 * h) for e in np.eye(len(z0))]).T
        np.testing.assert_allclose(pt.jacobian, J_fd, atol=1e-7)
        checked += 1
    assert checked >= 2


def test_rock_paper_scissors_interior_point_and_boundary_cycle(bm):
    """RPS under actor-critic: the interior point spirals out; no fixed point attracts; runs do not converge."""
    res = crldgen.fixed_points(bm, n_starts=12, rng=0, k=0.0, **MATRIX)
    (pt,) = res.points
    np.testing.assert_allclose(pt.X, 1 / 3, atol=1e-12)
    assert not pt.on_boundary
    # flow: a centre (purely imaginary eigenvalues); map: |lambda| = |1 + i alpha omega| > 1
    assert pt.flow_type == "non-hyperbolic"
    np.testing.assert_allclose(np.real(pt.flow_eigenvalues), 0, atol=1e-10)
    assert pt.type == "unstable focus" and not pt.stable and pt.spectral_radius > 1
    assert not res.stable_points and not any(q.nash for q in res.pure)
    assert all(not q.stable for q in res.pure) and res.search["n_pure"] == 9
    assert res.search["n_unconverged"] == res.n_trajectories == 12
    assert "did not converge" in res.summary()
    # the runs drift to the boundary (the heteroclinic cycle of the pure profiles): no fixed point there
    X0 = np.full((2, 1, 3), 1 / 3)
    X0[0, 0] = [0.4, 0.3, 0.3]
    run = bm.trajectory(X0, 20000, None, every=None, k=0.0, **MATRIX)
    assert run.final.min() < 1e-3 < X0.min()
    assert_never_stable_when_rho_above_one(res)


# ---------------------------------------------------------------- labels
def test_spectral_radius_above_one_is_never_stable_or_non_hyperbolic():
    assert classify_map([1.0, 1.2]) == "unstable (non-hyperbolic)"
    assert classify_map([1.0, 1.2, 0.5]) == "saddle"
    assert classify_map([1.0, 1.0, 0.5]) == "non-hyperbolic"
    assert classify_flow([0.0, 0.3]) == "unstable (non-hyperbolic)"
    assert classify_flow([0.0, 0.3, -1.0]) == "saddle"


def test_sarsa_boundary_not_searched_and_said_so(ecopg2):
    res = crldgen.fixed_points(ecopg2, n_starts=8, rng=0, **CHAPTER)
    assert not res.search["boundary"] and "not searched" in res.search["boundary_note"]
    assert all(not pt.on_boundary for pt in res.points)
    assert res.n_starts == 8 and res.params["beta"] == [100.0, 100.0]
    with pytest.raises(crldgen.ParameterError, match="infinite rate"):
        crldgen.fixed_points(ecopg2, n_starts=2, rng=0, boundary=True, **CHAPTER)


def test_flow_plot_marks_boundary_attractors_and_neutral_sets(ac, ac_points):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from crldgen import plot

    axes = plot.flow(ac, ([0], ["g", "p"], ["c"]), ([1], ["g", "p"], ["c"]), points=5, fixed_points=ac_points,
                     **CHAPTER)
    g_panel, p_panel = axes
    marks = [a for a in p_panel.get_lines() if a.get_gid() == plot.GID_BOUNDARY]
    assert len(marks) == 1
    xs, ys = marks[0].get_data()
    assert sorted(zip(np.round(xs, 9), np.round(ys, 9))) == [(0.0, 0.0), (1.0, 1.0)]
    # the degraded-state panel: the free blocks span the whole square
    assert any(p.get_gid() == plot.GID_NEUTRAL for p in g_panel.patches)
    assert not any(p.get_gid() == plot.GID_NEUTRAL for p in p_panel.patches)
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- hysteresis defaults
def test_hysteresis_sweep_defaults_detect_the_chapter_jumps(ecopg2):
    """No observable, no threshold: the chapter's jumps at gamma = 0.825 (up) and 0.715 (down)."""
    values = np.arange(0.6, 0.9, 0.005)
    X0 = ecopg2.random_strategy(np.random.default_rng(0))
    res = crldgen.hysteresis_sweep(ecopg2, "gamma", values, X0, tmax=2500, tol=10e-12, alpha=0.05, beta=50.0)
    assert res.observable_name == ("p", "c")
    assert [(j.direction, round(j.value, 6)) for j in res.jumps] == [("up", 0.825), ("down", 0.715)]
    # the same jumps from the plain chapter loop's final strategies (prosperous cooperation, agent mean)
    coop_up = res.up.X[:, :, P, C].mean(-1)
    assert values[np.argmax(coop_up > 0.5)] == pytest.approx(0.825)
    assert res.fixed_params["gamma"] == "swept" and res.fixed_params["beta"] == [50.0, 50.0]
    assert res.fixed_params["qc"] == 0.2


def test_stability_of_a_boundary_strategy(bm):
    """crldgen.stability on a pure profile (actor-critic): the face report with the hand-computed rates."""
    X = np.zeros((2, 1, 3))
    X[0, 0, 0] = X[1, 0, 0] = 1.0
    rep = crldgen.stability(bm, X, k=1.0, **MATRIX)
    assert rep.on_boundary and rep.type == "stable node" and rep.residual == 0
    scale = MATRIX["beta"] * (1 - MATRIX["gamma"])
    want = [scale * (TIE0[b, 0] - TIE0[0, 0]) for b in (1, 2)] + [scale * (TIE1[0, b] - TIE1[0, 0]) for b in (1, 2)]
    np.testing.assert_allclose(rep.transversal_rates, want, atol=1e-12)
    np.testing.assert_allclose(np.sort(np.abs(rep.eigenvalues)), np.sort(np.exp(MATRIX["alpha"] * np.array(want))))


def test_sarsa_near_pure_attractors_at_high_beta(ecopg2):
    """beta = 10^4: the attractors sit at |y| ~ 1400 (X ~ e^-1400 underflows to 0) yet are found and kept apart."""
    res = crldgen.fixed_points(ecopg2, n_starts=12, rng=0, beta=1e4)
    assert [pt.type for pt in res.points] == ["stable node", "stable node", "saddle"]
    coop, defect, _ = res.points
    assert np.all(coop.X[:, P, C] > 1 - 1e-12) and np.all(defect.X[:, P, C] < 1e-12)
    assert np.max(np.abs(defect.y)) > 700  # beyond the old Newton limit
    for pt in (coop, defect):
        # the logit-equilibrium condition y = beta (Q[a] - Q[M-1]) with plain numpy Q values
        # (crld-math section 4; ln X is not needed, so the underflow of X is harmless)
        T, R = ecopg_arrays()
        Qv = ref.Q(T, R, ref.strategy_of_logit(pt.y), np.full(2, 0.75))
        np.testing.assert_allclose(1e4 * (Qv[..., :-1] - Qv[..., -1:]), pt.y, rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------- 2x2 social dilemmas
@pytest.mark.parametrize("payoff, n_stable", [((4.0, 3.0, 0.0, 1.0), 2),    # stag hunt: two strict NE
                                              ((1.0, 1.5, -0.5, 0.0), 1)])  # prisoner's dilemma: (d, d)
def test_social_dilemmas_under_actor_critic(compiled, payoff, n_stable):
    dyn = compiled(crldgen.games.social_dilemma, "actor_critic", True)
    Rw, Tm, S, Pn = payoff
    p = dict(alpha=0.05, beta=5.0, gamma=0.5, R=Rw, T=Tm, S=S, P=Pn)
    res = crldgen.fixed_points(dyn, n_starts=12, rng=0, **p)
    A = np.array([[Rw, S], [Tm, Pn]])  # row player's payoff (own, other)
    want = pure_nash_2x2(A)
    got = {tuple(int(a) for a in np.argmax(pt.X[:, 0], -1)): pt.strict for pt in res.pure if pt.nash}
    assert got == want
    stable = res.stable_points
    assert len(stable) == n_stable == sum(want.values())
    assert all(pt.on_boundary and pt.asymptotic and pt.type == "stable node" for pt in stable)
    assert {tuple(np.argmax(pt.X[:, 0], -1)) for pt in stable} == {k for k, v in want.items() if v}
    if n_stable == 2:  # the mixed equilibrium between the two basins: an interior saddle
        (mixed,) = [pt for pt in res.points if not pt.on_boundary]
        x = (Pn - S) / (Rw - Tm - S + Pn)  # indifference: x R + (1-x) S = x T + (1-x) P
        np.testing.assert_allclose(mixed.X[:, 0, 0], x, atol=1e-10)
        assert mixed.type == "saddle"
    assert_never_stable_when_rho_above_one(res)


def pure_nash_2x2(A):
    """Hand enumeration for a symmetric 2x2 game with row payoff ``A[own, other]``."""
    out = {}
    for a0 in range(2):
        for a1 in range(2):
            d0, d1 = A[1 - a0, a1] - A[a0, a1], A[1 - a1, a0] - A[a1, a0]
            if d0 <= 0 and d1 <= 0:
                out[(a0, a1)] = d0 < 0 and d1 < 0
    return out


def test_transversal_multiplier_predicts_the_approach_to_the_face(ac, ac_points):
    """Near the cooperative set X[d]/X[c] shrinks by exp(alpha (delta_d - delta_c)) per step (plain numpy map)."""
    T, R = ecopg_arrays()
    coop = [pt for pt in ac_points.stable_points if pt.X[0, P, C] > 0.5][0]
    X = coop.X.copy()
    X[:, G] = [[0.3, 0.7], [0.6, 0.4]]  # anywhere on the neutral set
    eps = 1e-7
    X[:, P] = [1 - eps, eps]
    X1 = ref.strategy_step(T, R, X, np.full(2, 0.01), np.full(2, 100.0), np.full(2, 0.75), True, "actor_critic")
    ratio = (X1[:, P, D] / X1[:, P, C]) / (X[:, P, D] / X[:, P, C])
    np.testing.assert_allclose(ratio, coop.transversal_multipliers, rtol=1e-4)
    np.testing.assert_allclose(X1[:, G], X[:, G], atol=1e-15)  # the degraded state never moves


# ---------------------------------------------------------------- random games (one compiled module)
def param_game() -> crldgen.Game:
    """Two agents, two states, two actions; every transition probability and reward a parameter."""
    T = np.empty((2, 2, 2, 2), dtype=object)
    R = np.empty((2, 2, 2, 2, 2), dtype=object)
    params = {}
    for s, a, b in np.ndindex(2, 2, 2):
        t = sympy.Symbol(f"trans_{s}{a}{b}", real=True)
        params[t] = 0.5
        T[s, a, b, 0], T[s, a, b, 1] = t, 1 - t
        for i in range(2):
            r = sympy.Symbol(f"rew_{i}{s}{a}{b}", real=True)
            params[r] = 0.0
            R[i, s, a, b, :] = r
    return crldgen.Game(T, R, params=params, name="param_2x2x2_issue17")


def random_values(dyn, seed):
    rng = np.random.default_rng(seed)
    return {n: float(rng.uniform(0.05, 0.95)) if n.startswith("trans") else float(rng.uniform(-1, 1))
            for n in dyn.param_names}


@pytest.mark.slow  # one ~30 s numba compile, then about a second per game
def test_random_games_every_converged_run_ends_at_a_reported_attractor(compiled):
    from crldgen.analysis.attractors import attractor_distance

    dyn = compiled(param_game, "actor_critic", True)
    lp = dict(alpha=0.05, beta=10.0, gamma=0.7)
    n_converged = 0
    for seed in range(5):
        p = random_values(dyn, seed)
        res = crldgen.fixed_points(dyn, n_starts=16, rng=seed, **lp, **p)
        assert_never_stable_when_rho_above_one(res)
        num = param_game().numeric(**p)
        for pt in res.stable_points:
            if pt.on_boundary:  # rates from the plain numpy TD errors at the boundary strategy
                d = ref_delta(num["T"], num["R"], pt.X, lp)
                sup = pt.support
                want = [d[i, o, a] - d[i, o, int(np.flatnonzero(sup[i, o])[-1])] for i, o, a in pt.transversal_actions]
                np.testing.assert_allclose(pt.transversal_rates, want, atol=1e-10)
                assert np.all(np.asarray(want) < 0)
        runs = dyn.trajectories(crldgen.analysis.sample_strategies(dyn, 24, seed + 100), 20000, 1e-9,
                                progress=False, **lp, **p)
        for X, conv in zip(runs.final, runs.converged):
            if conv:
                n_converged += 1
                assert min(attractor_distance(pt.X, pt, X) for pt in res.stable_points) < 1e-2
        if not runs.converged.any():  # cycling near a face: no attractor claimed, and said so
            assert not res.stable_points and "did not converge" in res.summary()
    assert n_converged >= 48
