"""RaggedDynamics (heterogeneous games: per-agent M_i, Q_i), iteration and analysis.

Every number is compared with the plain-numpy oracle ``tests/reference_ragged.py`` (or
finite differences of it); nothing is compared with values computed by the code under
test. Random games: M=(2,3) and M=(3,2,2) fully observed, M=(2,3) with Q=(1,3) partially
observed, both learners; plus a small coordination game with two attractors for
basins, tipping points and continuation.
"""

from __future__ import annotations

import numpy as np
import pytest

import crldgen
import reference_ragged as rr
from crldgen.analysis._core import coordinate
from crldgen.errors import ParameterError, StrategyError

CASES = {  # name: (M, Z, Q, seed)
    "fo23": ((2, 3), 2, None, 11),
    "fo322": ((3, 2, 2), 2, None, 12),
    "po23": ((2, 3), 2, (1, 3), 13),
}
LEARNERS = ("sarsa", "actor_critic")
TIGHT = dict(rtol=1e-12, atol=1e-12)


class Case:
    """A random ragged game, its compiled dynamics and parameters (alpha, beta, gamma per agent)."""

    def __init__(self, name, learner, compiled):
        M, Z, Q, seed = CASES[name]
        rng = np.random.default_rng(seed)
        self.T, self.R, self.O = rr.random_game(rng, M=M, Z=Z, Q=Q)
        self.M, self.Z = M, Z
        self.Q = (Z,) * len(M) if Q is None else Q
        self.N = len(M)
        self.learner = learner
        self.alpha, self.beta, self.gamma = rr.random_params(rng, self.N)
        self.p = dict(alpha=self.alpha, beta=self.beta, gamma=self.gamma)
        game = crldgen.Game(self.T, self.R, None if self.O is None else tuple(self.O), name=f"ragged_{name}")
        self.dyn = compiled(game, learner, True)
        self.rng = rng

    def ref(self, fn, *args, **kw):
        return fn(self.T, self.R, self.O, *args, self.alpha, self.beta, self.gamma, self.learner, True, **kw)

    def X(self, k=0):
        return rr.random_strategy(np.random.default_rng(100 + k), self.M, self.Q)


@pytest.fixture(scope="module", params=[(n, lr) for n in CASES for lr in LEARNERS],
                ids=[f"{n}-{lr}" for n in CASES for lr in LEARNERS])
def case(request, compiled):
    return Case(*request.param, compiled)


def assert_parts(got, want, **tol):
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(g, w, **(tol or TIGHT))


# ------------------------------------------------------------------ object
def test_shapes_and_labels(case):
    dyn = case.dyn
    assert isinstance(dyn, crldgen.runtime.ragged_dynamics.RaggedDynamics) and dyn.ragged
    assert dyn.shape == tuple(zip(case.Q, case.M))
    assert dyn.logit_shape == tuple((q, m - 1) for q, m in zip(case.Q, case.M))
    assert dyn.n_actions is None and dyn.n_obs is None
    assert dyn.action_counts == case.M and dyn.observation_counts == case.Q
    assert dyn.n_free == rr.n_free(case.M, case.Q)
    assert tuple(len(a) for a in dyn.actions) == case.M
    assert tuple(len(o) for o in dyn.observations) == case.Q
    assert dyn.layout.shapes() == dyn.shape
    U = dyn.uniform_strategy()
    assert_parts(U, [np.full((q, m), 1 / m) for q, m in dyn.shape])
    Xr = dyn.random_strategy(0)
    assert all(x.shape == s and np.allclose(x.sum(-1), 1) for x, s in zip(Xr, dyn.shape))


def test_game_tensors(case):
    T, R, O = case.dyn.game_tensors()
    np.testing.assert_allclose(T, case.T, **TIGHT)
    np.testing.assert_allclose(R, case.R, **TIGHT)
    assert isinstance(O, tuple)
    want = [np.eye(case.Z)] * case.N if case.O is None else case.O
    assert_parts(O, want)


# ------------------------------------------------------------------ kernels vs the oracle
def test_tderror_step_logit_step(case):
    dyn, p = case.dyn, case.p
    for k in range(3):
        X = case.X(k)
        assert_parts(dyn.tderror(X, **p), case.ref(rr.tderror, X))
        d = case.ref(rr.tderror, X)
        assert_parts(dyn.tderror(X, normalize=True, **p), [di - di.mean(1, keepdims=True) for di in d])
        assert_parts(dyn.step(X, **p), case.ref(rr.step, X))
        assert_parts(dyn.reverse_step(X, **p), case.ref(rr.step, X, reverse=True))
        y = rr.logit_of(X)
        want = rr.unflat_logit(case.ref(rr.logit_step, y), case.M, case.Q)
        assert_parts(dyn.logit_step(y, **p), want)
        assert_parts(dyn.logit_step(rr.flat_logit(y), **p), want)  # flat log-ratios too
        # a flat strategy gives the same numbers as the tuple
        assert_parts(dyn.step(rr.flat_of(X), **p), case.ref(rr.step, X))


def test_out_argument(case):
    dyn, p = case.dyn, case.p
    X = case.X(1)
    want = case.ref(rr.step, X)
    out = tuple(np.empty(s) for s in dyn.shape)
    got = dyn.step(X, out=out, **p)
    assert got is out
    assert_parts(out, want)
    Xi = tuple(x.copy() for x in X)
    dyn.step(Xi, out=Xi, **p)  # in place
    assert_parts(Xi, want)
    flat_out = np.empty(dyn.layout.n_strategy)
    assert dyn.step(X, out=flat_out, **p) is flat_out
    np.testing.assert_allclose(flat_out, rr.flat_of(want), **TIGHT)
    td = tuple(np.empty(s) for s in dyn.shape)
    assert dyn.tderror(X, out=td, **p) is td
    assert_parts(td, case.ref(rr.tderror, X))
    with pytest.raises(ParameterError, match="one per agent"):
        dyn.step(X, out=tuple(np.empty((1, 1)) for _ in dyn.shape), **p)


def test_logit_round_trip(case):
    X = case.X(2)
    y = case.dyn.to_logit(X)
    assert_parts(y, rr.logit_of(X))
    assert_parts(case.dyn.from_logit(y), X)
    assert_parts(case.dyn.from_logit(rr.flat_logit(y)), X)


def test_averages_values_and_rewards(case):
    dyn, p = case.dyn, case.p
    X = case.X(0)
    av = dyn.averages(X, **p)
    Y = X if case.O is None else rr.state_strategy(case.O, X)
    np.testing.assert_allclose(av.Tss, rr.Tss(case.T, Y), **TIGHT)
    np.testing.assert_allclose(av.Ris, np.array(rr.Ris(case.T, case.R, Y)), **TIGHT)
    assert_parts(av.Tisas, rr.Tisas(case.T, Y))
    assert_parts(av.Risa, rr.Risa(case.T, case.R, Y))
    assert_parts(av.V, rr.values(case.T, case.R, case.O, X, case.gamma))
    assert_parts(av.Q, rr.action_values(case.T, case.R, case.O, X, case.gamma))
    Ps = rr.stationary_distribution(rr.Tss(case.T, Y))
    np.testing.assert_allclose(dyn.stationary_distribution(X, **p), Ps, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dyn.average_reward(X, **p), rr.long_run_reward(case.T, case.R, case.O, X),
                               rtol=1e-10, atol=1e-12)


def test_jacobian_logit_and_strategy(case):
    dyn, p = case.dyn, case.p
    X = case.X(0)
    y = rr.flat_logit(rr.logit_of(X))
    J = dyn.jacobian(X, **p)
    assert J.shape == (dyn.n_free, dyn.n_free)
    J_fd = case.ref(rr.jacobian_fd, y)
    np.testing.assert_allclose(J, J_fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(J_fd).max()))
    # strategy coordinates X[i][o, a], a < M_i - 1: finite differences of the oracle's step
    lay = dyn.layout
    free = [lay.x_index(i, o, a) for i, o, a in lay.y_coords]
    x0 = rr.flat_of(X)

    def step_free(xf):
        x = x0.copy()
        x[free] = xf
        for r in range(lay.n_rows):  # the last action of each row takes the rest
            last = lay.row_x[r] + lay.row_m[r] - 1
            x[last] = 1.0 - (x[lay.row_x[r]:last].sum())
        return rr.flat_of(case.ref(rr.step, rr.unflat(x, case.M, case.Q)))[free]

    h = 1e-6
    Js_fd = np.column_stack([(step_free(x0[free] + h * e) - step_free(x0[free] - h * e)) / (2 * h)
                             for e in np.eye(len(free))])
    Js = dyn.jacobian(X, coords="strategy", **p)
    np.testing.assert_allclose(Js, Js_fd, rtol=1e-5, atol=1e-7 * max(1.0, np.abs(Js_fd).max()))


# ------------------------------------------------------------------ iteration
def test_trajectory_matches_reference(case):
    dyn, p = case.dyn, case.p
    X0 = case.X(3)
    steps = 15
    tr = dyn.trajectory(X0, steps + 1, None, **p)
    want = case.ref(rr.trajectory, X0, tmax=steps)
    assert isinstance(tr.X, tuple) and tr.steps == steps + 1
    for i in range(case.N):
        assert tr.X[i].shape == (steps + 1,) + dyn.shape[i]
        np.testing.assert_allclose(tr.X[i], np.array([Xt[i] for Xt in want]), rtol=1e-10, atol=1e-12)
        assert np.all(tr.X[i] >= 0) and np.allclose(tr.X[i].sum(-1), 1.0, atol=1e-12)
    assert_parts(tr.final, want[-1], rtol=1e-10, atol=1e-12)
    assert_parts(tr.final_logit, rr.logit_of(tr.final), rtol=1e-9, atol=1e-9)
    assert len(tr.times) == steps + 1
    # continue exactly from the result: the same as one long run
    more = dyn.trajectory(tr, 6, None, **p)
    longer = case.ref(rr.trajectory, X0, tmax=steps + 5)
    assert_parts(more.final, longer[-1], rtol=1e-10, atol=1e-12)
    # flat input
    tr2 = dyn.trajectory(rr.flat_of(X0), steps + 1, None, **p)
    assert_parts(tr2.final, tr.final)


def test_trajectories_batch_equals_individual(case):
    dyn, p = case.dyn, case.p
    X0s = [case.X(10 + b) for b in range(9)]  # >= LANES_MIN_MEMBERS: the lanes kernel where a module has one
    batch = dyn.trajectories(X0s, 12, None, every=1, **{k: v[None] for k, v in p.items()})
    assert len(batch) == 9 and isinstance(batch.final, tuple) and isinstance(batch.X, tuple)
    for i in range(case.N):
        assert batch.final[i].shape == (9,) + dyn.shape[i]
        assert batch.X[i].shape == (9, 12) + dyn.shape[i]
        assert batch.final_logit[i].shape == (9,) + dyn.logit_shape[i]
    for b, X0 in enumerate(X0s):
        one = dyn.trajectory(X0, 12, None, **p)
        member = batch[b]
        assert_parts(member.final, one.final, rtol=1e-14, atol=0)
        assert_parts(member.X, one.X, rtol=1e-14, atol=0)
        assert_parts(member.final_logit, one.final_logit, rtol=1e-14, atol=1e-300)
    # the other batch forms give the same numbers
    flat_rows = np.array([rr.flat_of(X) for X in X0s])
    b2 = dyn.trajectories(flat_rows, 12, None, **{k: v[None] for k, v in p.items()})
    b3 = dyn.trajectories(tuple(np.array([X[i] for X in X0s]) for i in range(case.N)), 12, None,
                          **{k: v[None] for k, v in p.items()})
    for other in (b2, b3):
        assert_parts(other.final, batch.final, rtol=1e-14, atol=0)
    # batch parameters: one gamma per member
    gammas = np.linspace(0.1, 0.8, 3)
    bg = dyn.trajectories(X0s[0], 8, None, gamma=gammas, alpha=case.alpha[None], beta=case.beta[None])
    for b, g in enumerate(gammas):
        one = dyn.trajectory(X0s[0], 8, None, alpha=case.alpha, beta=case.beta, gamma=g)
        assert_parts(bg[b].final, one.final, rtol=1e-14, atol=0)
    # continuing a batch
    cont = dyn.trajectories(batch, 3, None, **{k: v[None] for k, v in p.items()})
    assert_parts(cont[0].final, dyn.trajectory(batch[0], 3, None, **p).final, rtol=1e-14, atol=0)


def test_sweep(case):
    dyn = case.dyn
    q = dict(alpha=case.alpha, beta=case.beta)
    X0 = case.X(4)
    gammas = np.array([0.2, 0.4, 0.6])
    sw = dyn.sweep(X0, "gamma", gammas, 10, None, **{k: v[None] for k, v in q.items()})
    assert isinstance(sw.final, tuple) and len(sw) == 3
    prev = X0
    for v, g in enumerate(gammas):
        run = dyn.trajectory(prev, 10, None, gamma=g, **q)
        assert_parts(sw[v].final, run.final, rtol=1e-12, atol=1e-300)
        prev = run
    free = dyn.sweep(X0, "gamma", gammas, 10, None, carry=False, **{k: v[None] for k, v in q.items()})
    for v, g in enumerate(gammas):
        assert_parts(free[v].final, dyn.trajectory(X0, 10, None, gamma=g, **q).final, rtol=1e-14, atol=0)


# ------------------------------------------------------------------ analysis
def test_fixed_points_and_stability(case):
    dyn, p = case.dyn, case.p
    if case.learner == "actor_critic":
        with pytest.raises(ParameterError, match="not supported for heterogeneous games"):
            crldgen.analysis.fixed_points(dyn, n_starts=2, rng=0, **p)
        res = crldgen.analysis.fixed_points(dyn, n_starts=4, rng=0, boundary=False, tmax=200, **p)
        assert res.search["boundary"] is False
        return
    res = crldgen.analysis.fixed_points(dyn, n_starts=6, rng=0, tmax=2000, **p)
    assert res.points, res.summary()
    assert isinstance(res.X, tuple) and res.X[0].shape[0] == len(res.points)
    for pt in res.points:
        assert isinstance(pt.X, tuple)
        X_next = case.ref(rr.step, pt.X)
        assert max(np.abs(a - b).max() for a, b in zip(X_next, pt.X)) < 1e-9
        assert pt.residual < 1e-9
        assert len(pt.eigenvalues) == dyn.n_free
        J_fd = case.ref(rr.jacobian_fd, rr.flat_logit(rr.logit_of(pt.X)))
        ev_fd = np.sort_complex(np.linalg.eigvals(J_fd))
        np.testing.assert_allclose(np.sort_complex(np.asarray(pt.eigenvalues, dtype=complex)), ev_fd,
                                   rtol=1e-5, atol=1e-6)
        again = crldgen.analysis.stability(dyn, pt.X, **p)
        assert len(again.eigenvalues) == dyn.n_free and again.stable == pt.stable
    assert "fixed point" in res.summary()


def test_bad_input_names_the_agent(case):
    dyn, p = case.dyn, case.p
    X = [x.copy() for x in case.X(0)]
    X[1][0, 0] += 0.1
    with pytest.raises(StrategyError, match=r"agent 1.*sum"):
        dyn.step(X, **p)
    with pytest.raises(StrategyError, match=r"agent 1"):
        dyn.trajectory(X, 5, **p)
    with pytest.raises(StrategyError, match=r"agent 1"):
        dyn.trajectories([case.X(0), X], 5, **p)
    X = [x.copy() for x in case.X(0)]
    X[1] = X[1][:, :-1]
    with pytest.raises(StrategyError, match=r"X\[1\] \(agent 1\) has shape"):
        dyn.tderror(X, **p)
    X = [x.copy() for x in case.X(0)]
    X[0][0, :] = 0.0
    X[0][0, 0] = 1.0
    with pytest.raises(StrategyError, match=r"agent 0.*interior"):
        dyn.to_logit(X)
    y = [v.copy() for v in rr.logit_of(case.X(0))]
    y[-1][0, 0] = np.nan
    with pytest.raises(StrategyError, match=f"agent {case.N - 1}"):
        dyn.logit_step(y, **p)
    with pytest.raises(StrategyError, match="flat array of 3 numbers"):
        dyn.step(np.ones(3), **p)


def test_coordinate_labels_are_per_agent(case):
    dyn = case.dyn
    last = case.N - 1
    M = case.M[last]
    assert coordinate(dyn, (str(last), 0, str(M - 1))) == (last, 0, M - 1)
    with pytest.raises(ParameterError, match="of agent"):
        coordinate(dyn, (0, 0, 9))


# ------------------------------------------------------------------ a game with two attractors
def coordination_game():
    """Z=1: agent 0 has actions (a, b), agent 1 has (a, b, s); both earn 1 when they match on a or b,
    agent 1's safe action s pays it 0.2."""
    T = np.ones((1, 2, 3, 1))
    R = np.zeros((2, 1, 2, 3, 1))
    for a in range(2):
        R[:, 0, a, a, 0] = 1.0
    R[1, 0, :, 2, 0] = 0.2
    return crldgen.Game(T, R, actions=(("a", "b"), ("a", "b", "s")), states=("x",), name="ragged_coord")


COORD = dict(alpha=0.1, beta=20.0, gamma=0.5)


@pytest.fixture(scope="module")
def coord(compiled):
    return compiled(coordination_game(), "sarsa", True, **COORD)


def coord_reference():
    g = coordination_game()
    T = np.array(g.T, dtype=float)
    R = np.array(g.R, dtype=float)
    a = np.full(2, COORD["alpha"])
    b = np.full(2, COORD["beta"])
    c = np.full(2, COORD["gamma"])
    return T, R, a, b, c


def test_coordination_fixed_points_basins_tipping(coord):
    T, R, a, b, c = coord_reference()
    res = crldgen.analysis.fixed_points(coord, n_starts=12, rng=1)
    stable = [pt for pt in res.points if pt.stable]
    assert len(stable) >= 2, res.summary()
    for pt in res.points:
        nxt = rr.step(T, R, None, pt.X, a, b, c, "sarsa", True)
        assert max(np.abs(u - v).max() for u, v in zip(nxt, pt.X)) < 1e-9
        assert len(pt.eigenvalues) == coord.n_free == 3
    # basins on the slice X[0][x, a] vs X[1][x, a] (labels per agent)
    bas = crldgen.analysis.basins(coord, (0, "x", "a"), (1, "x", "a"), grid=4, tmax=3000, tol=1e-10)
    assert bas.labels.shape == (4, 4)
    # (a corner of the anti-coordinated quadrant starts next to the saddle and may not converge in tmax)
    assert len(bas.attractors) >= 2 and np.all(bas.labels >= -1) and np.sum(bas.labels >= 0) >= 14
    assert bas.labels[0, 0] != bas.labels[-1, -1]
    # tipping point along agent 0's probability of a
    # (base not symmetric under a <-> b: the symmetric line X[0] = (1/2, 1/2) would be the separatrix itself)
    base = (np.array([[0.5, 0.5]]), np.array([[0.4, 0.35, 0.25]]))
    tip = crldgen.analysis.tipping_point(coord, coordinate=(0, "x", "a"), interval=(0.05, 0.95), base=base,
                                         tol=1e-3, tmax=3000, run_tol=1e-10)
    assert 0.05 < tip.value < 0.95 and isinstance(tip.X, tuple)
    lo, hi = tip.X_lo, tip.X_hi
    ends = []
    for X0 in (lo, hi):
        X = X0
        for _ in range(3000):
            X = rr.step(T, R, None, X, a, b, c, "sarsa", True)
        ends.append(X)
    assert np.abs(ends[0][0] - ends[1][0]).max() > 0.5  # the bracket's ends reach different attractors


def test_coordination_continuation(coord):
    T, R, a, b, c = coord_reference()
    fp = crldgen.analysis.fixed_points(coord, n_starts=8, rng=2).stable_points[0]
    cont = crldgen.analysis.continuation(coord, "beta", fp.X, bounds=(10.0, 20.0), direction=-1, max_steps=200,
                                         observable=(0, "x", "a"))
    assert len(cont.param) > 3 and isinstance(cont.X, tuple)
    for k in range(0, len(cont.param), max(1, len(cont.param) // 5)):
        X = tuple(x[k] for x in cont.X)
        bk = np.full(2, cont.param[k])
        nxt = rr.step(T, R, None, X, a, bk, c, "sarsa", True)
        assert max(np.abs(u - v).max() for u, v in zip(nxt, X)) < 1e-8
        assert np.isclose(cont.observable[k], X[0][0, 0])


def test_unsupported_features_say_so(coord):
    with pytest.raises(ParameterError, match="not supported for heterogeneous games"):
        crldgen.analysis.hysteresis_sweep(coord, "beta", [10.0, 20.0])
    with pytest.raises(ParameterError, match="not supported for heterogeneous games"):
        crldgen.analysis.fixed_points(coord, n_starts=2, boundary=True)


def test_pickle_repr_and_labeled_data(coord):
    import pickle

    again = pickle.loads(pickle.dumps(coord))
    assert type(again) is type(coord) and again.shape == coord.shape
    X = coord.uniform_strategy()
    assert_parts(again.step(X), coord.step(X), rtol=0, atol=0)
    html = coord._repr_html_()
    assert "agent 1: a, b, s" in html
    assert "M=(2, 3)" in repr(coord)
    tr = coord.trajectory(X, 3)
    assert "X ((3, 1, 2), (3, 1, 3))" in repr(tr)
    with pytest.raises(crldgen.errors.CrldgenError, match="heterogeneous games"):
        tr.to_xarray()
