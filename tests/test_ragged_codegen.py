"""Generated modules of heterogeneous games (per-agent M_i, Q_i) against the ragged numpy oracle.

The modules are generated and loaded through the normal compiler/loader path
(``crldgen.compiler._load_or_generate``) and their kernels are called with flat numpy
arrays in the layout of :mod:`crldgen.ragged`; every number is compared with
``tests/reference_ragged.py`` (plain numpy, independent of crldgen) or with its finite
differences. One module per (game, learner), reused by every test (module-scoped).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import crldgen
import reference_ragged as rr
from crldgen import iterate as it
from crldgen.compiler import _load_or_generate
from crldgen.learners import as_learner
from crldgen.ragged import Layout
from crldgen.runtime import lanes

TOL = 1e-12

#: (label, M, Z, Q): Q None = fully observed
CASES = [
    ("fo23", (2, 3), 2, None),
    ("fo322", (3, 2, 2), 1, None),
    ("fo322z2", (3, 2, 2), 2, None),
    ("po23q13", (2, 3), 2, (1, 3)),
]
SPECS = [(c, lrn) for c in CASES for lrn in rr.LEARNERS if not (c[0] == "fo322z2" and lrn == "actor_critic")]


class Case:
    """A random ragged game, its generated module and random interior points."""

    def __init__(self, label, M, Z, Q, learner, cache_dir) -> None:
        rng = np.random.default_rng([CASES.index((label, M, Z, Q)), len(learner)])
        self.label, self.M, self.Z, self.learner = label, M, Z, learner
        self.N = len(M)
        self.Q = Q if Q is not None else (Z,) * self.N
        self.T, self.R, self.O = rr.random_game(rng, M=M, Z=Z, Q=Q)
        self.game = crldgen.Game(self.T, self.R, self.O, name=f"ragged_{label}")
        self.module, self.path = _load_or_generate(self.game, as_learner(learner), cache_dir, quiet=True)
        self.layout = Layout(M, self.Q)
        self.points = [rr.random_strategy(rng, M, self.Q) for _ in range(2)]
        self.params = [rr.random_params(rng, self.N) for _ in range(2)]
        self.theta = np.zeros(0)

    def ref(self, fn, X, par, **kw):
        a, b, g = par
        return fn(self.T, self.R, self.O, X, a, b, g, self.learner, **kw)


@pytest.fixture(scope="module", params=SPECS, ids=[f"{c[0]}-{lrn}" for c, lrn in SPECS])
def case(request, cache_dir):
    (label, M, Z, Q), learner = request.param
    return Case(label, M, Z, Q, learner, cache_dir)


# ------------------------------------------------------------------ constants
def test_module_constants(case):
    from crldgen.runtime.engine import EngineModule

    mod, lay = case.module, case.layout
    assert not isinstance(mod, EngineModule)  # the generic engine knows one M only: never for these games
    assert mod.RAGGED is True
    assert mod.N_ACTIONS is None and mod.N_OBS is None
    assert mod.ACTION_COUNTS == case.M and mod.OBS_COUNTS == case.Q
    assert mod.N_AGENTS == case.N and mod.N_STATES == case.Z
    assert mod.NX == sum(q * m for q, m in zip(case.Q, case.M)) == lay.n_strategy
    assert mod.N_FREE == rr.n_free(case.M, case.Q)
    assert mod.N_ROWS == sum(case.Q)
    assert tuple(mod.ROW_AGENT) == lay.row_agent and tuple(mod.ROW_OBS) == lay.row_obs
    assert tuple(mod.ROW_M) == lay.row_m and tuple(mod.ROW_X) == lay.row_x and tuple(mod.ROW_Y) == lay.row_y
    assert mod.AGENT_ACTIONS == tuple(tuple(str(a) for a in range(m)) for m in case.M)
    assert len(mod.AGENT_OBSERVATIONS) == case.N
    assert mod.O_SHAPES == tuple((case.Z, q) for q in case.Q)
    assert mod.O_SHAPE == (sum(case.Z * q for q in case.Q),)
    assert mod.T_SHAPE == (case.Z,) + case.M + (case.Z,)
    assert mod.R_SHAPE == (case.N, case.Z) + case.M + (case.Z,)
    # SoA batch kernels only without a linear solve (as for uniform games); iterate falls back to `trajectories`
    assert lanes.has_lanes(mod) == (case.O is None)
    assert "X_OFFSETS[i] + o*M_i + a" in mod.__doc__


# ------------------------------------------------------------------ kernels
def test_tderror(case):
    for X, par in zip(case.points, case.params):
        out = np.empty(case.module.NX)
        case.module.tderror(rr.flat_of(X), case.theta, *par, out)
        np.testing.assert_allclose(out, rr.flat_of(case.ref(rr.tderror, X, par)), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_strategy_step(case, direction):
    for X, par in zip(case.points, case.params):
        out = np.empty(case.module.NX)
        case.module.strategy_step(rr.flat_of(X), case.theta, *par, direction, out)
        ref = rr.flat_of(case.ref(rr.step, X, par, reverse=direction < 0))
        np.testing.assert_allclose(out, ref, rtol=TOL, atol=TOL)
        checked = np.empty(case.module.NX)
        status = case.module.checked_strategy_step(rr.flat_of(X), case.theta, *par, direction, 1e-9, checked)
        assert status == case.module.CHECK_OK
        np.testing.assert_array_equal(checked, out)


def test_logit_step(case):
    for X, par in zip(case.points, case.params):
        y = rr.flat_logit(rr.logit_of(X))
        Xs = rr.flat_of(rr.strategy_of_logit(y, case.M, case.Q))
        out = np.empty(case.module.N_FREE)
        case.module.logit_step(Xs, y, case.theta, *par, out)
        np.testing.assert_allclose(out, case.ref(rr.logit_step, y, par), rtol=TOL, atol=TOL)


def test_jacobian_vs_finite_differences(case):
    X, par = case.points[0], case.params[0]
    y = rr.flat_logit(rr.logit_of(X))
    Xs = rr.flat_of(rr.strategy_of_logit(y, case.M, case.Q))
    n = case.module.N_FREE
    J = np.empty(n * n)
    case.module.jacobian(Xs, case.theta, *par, J)
    fd = case.ref(rr.jacobian_fd, y, par)
    np.testing.assert_allclose(J.reshape(n, n), fd, rtol=1e-6, atol=1e-7)


def test_logit_round_trip(case):
    mod = case.module
    for X in case.points:
        x = rr.flat_of(X)
        y = np.empty(mod.N_FREE)
        mod.logit_of_strategy(x, y)
        np.testing.assert_allclose(y, rr.flat_logit(rr.logit_of(X)), rtol=TOL, atol=TOL)
        back = np.empty(mod.NX)
        mod.strategy_of_logit(y, back)
        np.testing.assert_allclose(back, x, rtol=TOL, atol=TOL)
        logs = np.empty(mod.N_FREE)
        mod.logit_from_logs(np.log(x), logs)
        np.testing.assert_allclose(logs, y, rtol=TOL, atol=TOL)
        assert mod.strategy_ok(x, True, 1e-9)
    bad = rr.flat_of(case.points[0]).copy()
    bad[-1] += 0.1  # the last row of the last agent off the simplex
    assert not mod.strategy_ok(bad, False, 1e-9)


def test_trajectory_stays_on_simplex_and_matches_reference(case):
    mod = case.module
    X0, par = case.points[1], case.params[1]
    x0 = rr.flat_of(X0)
    y0 = np.empty(mod.N_FREE)
    mod.logit_of_strategy(x0, y0)
    tmax = 12
    Xrec = np.empty((tmax, mod.NX))
    X_out, y_out = np.empty(mod.NX), np.empty(mod.N_FREE)
    t, converged, status, stored = mod.trajectory(x0, y0, 0, case.theta, *par, tmax, 0.0, 1.0, 1, Xrec, X_out,
                                                  y_out)
    assert (t, converged, status, stored) == (tmax, False, mod.STATUS_OK, tmax)
    ref = [rr.flat_of(X) for X in case.ref(rr.trajectory, X0, par, tmax=tmax - 1)]
    np.testing.assert_allclose(Xrec, np.array(ref), rtol=1e-10, atol=1e-11)
    assert np.all(Xrec >= 0)
    lay = case.layout
    for r in range(lay.n_rows):
        np.testing.assert_allclose(Xrec[:, lay.row_x[r]:lay.row_x[r] + lay.row_m[r]].sum(axis=1), 1.0, atol=1e-12)


def test_stationary_and_game_tensors(case):
    mod = case.module
    X = case.points[0]
    Y = X if case.O is None else rr.state_strategy(case.O, X)
    Ps = np.empty(case.Z)
    assert mod.stationary(rr.flat_of(X), case.theta, Ps)
    np.testing.assert_allclose(Ps, rr.stationary_distribution(rr.Tss(case.T, Y)), rtol=1e-10, atol=1e-12)
    T, R, O = np.empty(mod.T_SHAPE).ravel(), np.empty(mod.R_SHAPE).ravel(), np.empty(mod.O_SHAPE)
    mod.game_tensors(case.theta, T, R, O)
    np.testing.assert_allclose(T, case.T.ravel(), rtol=1e-15)
    np.testing.assert_allclose(R, case.R.ravel(), rtol=1e-15)
    Os = [np.eye(case.Z)] * case.N if case.O is None else case.O
    np.testing.assert_allclose(O, np.concatenate([o.ravel() for o in Os]), rtol=1e-15)
    assert mod.check_game(case.theta, 1e-12, 1e-10)[0] == mod.GT_OK


def test_averages_and_values(case):
    mod = case.module
    X, par = case.points[0], case.params[0]
    Z, N = case.Z, case.N
    Tss, Ris = np.empty(Z * Z), np.empty(N * Z)
    Tisas, Risa = np.empty(mod.N_TISAS), np.empty(mod.N_RISA)
    mod.averages(rr.flat_of(X), case.theta, Tss, Ris, Tisas, Risa)
    Y = X if case.O is None else rr.state_strategy(case.O, X)
    np.testing.assert_allclose(Tss, rr.Tss(case.T, Y).ravel(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Ris, np.concatenate(rr.Ris(case.T, case.R, Y)), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Tisas, rr.flat_of(rr.Tisas(case.T, Y)), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Risa, rr.flat_of(rr.Risa(case.T, case.R, Y)), rtol=TOL, atol=TOL)
    V, Q = np.empty(mod.N_ROWS), np.empty(mod.NX)
    mod.values(rr.flat_of(X), case.theta, *par, V, Q)
    np.testing.assert_allclose(V, np.concatenate(rr.values(case.T, case.R, case.O, X, par[2])), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Q, rr.flat_of(rr.action_values(case.T, case.R, case.O, X, par[2])), rtol=TOL,
                               atol=TOL)


# ------------------------------------------------------------------ routing
def test_cache_key_differs_from_uniform_games():
    """A heterogeneous game and the uniform game of the same tensors' first agent never share a key."""
    from crldgen.lazygame import game_digest

    rng = np.random.default_rng(5)
    T, R, _ = rr.random_game(rng, M=(2, 3), Z=1)
    ragged = crldgen.Game(T, R, name="g")
    uniform = crldgen.Game(T[:, :, :2], R[:, :, :, :2], name="g")
    assert game_digest(ragged) != game_digest(uniform)
    assert "M(2, 3)" in ragged.canonical()


def test_compile_routes_to_ragged_wrapper(case):
    """crldgen.compile builds the module; the wrapper is RaggedDynamics (or a clear NotImplementedError)."""
    if case.label != "fo23" or case.learner != "sarsa":
        pytest.skip("one case is enough")
    kw = dict(cache_dir=case.path.parent, quiet=True)
    if importlib.util.find_spec("crldgen.runtime.ragged_dynamics") is None:
        with pytest.raises(NotImplementedError, match="RaggedDynamics"):
            crldgen.compile(case.game, case.learner, **kw)
    else:
        dyn = crldgen.compile(case.game, case.learner, **kw)
        assert type(dyn).__name__ == "RaggedDynamics"
        assert dyn.module is case.module or getattr(dyn.module, "KEY", None) == case.module.KEY


def test_uniform_counts_with_per_agent_labels():
    """Equal M and Q with per-agent labels: the uniform layout, labels only in the constants."""
    from crldgen.codegen.generator import generate_source

    rng = np.random.default_rng(7)
    T, R, _ = rr.random_game(rng, M=(2, 2), Z=1)
    g = crldgen.Game(T, R, actions=[["c", "d"], ["x", "y"]], name="labels")
    src = generate_source(crldgen.derive(g, "sarsa"), "0" * 64)
    assert "N_ACTIONS = 2\n" in src and "RAGGED" not in src
    assert "AGENT_ACTIONS = (('c', 'd'), ('x', 'y'))" in src
    assert "ACTIONS = None\n" in src


def test_uniform_builtin_module_text_unchanged():
    """The generator prints the committed generated/ modules byte for byte (given their keys).

    The key itself changes with every edit of the generator (it contains a fingerprint of
    its sources); everything else in the text of a uniform game must not.
    """
    from pathlib import Path

    from crldgen.codegen.generator import generate_source
    from crldgen.compiler import builtin_models
    from crldgen.runtime.loader import read_header

    folder = Path(__file__).resolve().parents[1] / "generated"
    committed = {}
    for f in folder.glob("*.py"):
        committed[f.name.rsplit("_", 1)[0]] = f
    models = builtin_models()
    assert models
    for model in models:
        stem = f"{model.game.name}_{model.learner.kind}".lower()
        f = committed[stem]
        text = f.read_text()
        assert generate_source(model, read_header(f)["key"]) == text, f"uniform module text changed: {f.name}"


def test_check_game_flags_the_agent_and_entry_of_flat_O(cache_dir):
    """check_game on a parameterized heterogeneous PO game: the flat O index is the agent's block offset + entry."""
    import sympy

    p = sympy.Symbol("p", real=True)
    rng = np.random.default_rng(11)
    T, R, _ = rr.random_game(rng, M=(2, 3), Z=2)
    O0 = np.array([[1], [1]], dtype=object)  # agent 0: a single observation
    O1 = np.array([[p, 1 - p, 0], [0, 0, 1]], dtype=object)
    game = crldgen.Game(T, R, [O0, O1], params={p: 0.3}, name="ragged_po_param")
    mod, _ = _load_or_generate(game, as_learner("sarsa"), cache_dir, quiet=True)
    assert mod.check_game(np.array([0.3]), 1e-12, 1e-10)[0] == mod.GT_OK
    code, k, value = mod.check_game(np.array([1.5]), 1e-12, 1e-10)
    assert code == mod.GT_O_ENTRY and k == 2 and value == 1.5  # O1[0, 0] after agent 0's 2 entries
    O = np.empty(mod.O_SHAPE)
    mod.game_tensors(np.array([0.25]), np.empty(mod.T_SHAPE).ravel(), np.empty(mod.R_SHAPE).ravel(), O)
    np.testing.assert_array_equal(O, [1, 1, 0.25, 0.75, 0, 0, 0, 1])


def test_lanes_batch_equals_per_member_batch(case):
    """The vectorised batch kernel (SoA, rows of M_i = 2 and M_i = 3) gives the results of trajectories bit for bit."""
    if case.label != "fo322z2":
        pytest.skip("one case with mixed row lengths is enough (lanes compile slowly)")
    mod = case.module
    rng = np.random.default_rng(21)
    B, tmax, every = 11, 9, 2
    X0 = np.array([rr.flat_of(rr.random_strategy(rng, case.M, case.Q)) for _ in range(B)])
    Y0 = np.empty((B, mod.N_FREE))
    for b in range(B):
        mod.logit_of_strategy(X0[b], Y0[b])
    pars = [rr.random_params(rng, case.N) for _ in range(B)]
    A, Be, G = (np.array([p[k] for p in pars]) for k in range(3))
    T0 = np.zeros(B, np.int64)
    Theta = np.zeros((B, 0))

    def run(lanes, fast=False):
        Xrec = np.zeros((B, 5, mod.NX))
        outs = (np.empty((B, mod.NX)), np.empty((B, mod.N_FREE)), np.empty(B, np.int64), np.empty(B, np.bool_),
                np.empty(B, np.int64), np.empty(B, np.int64))
        args = (X0, Y0, T0, Theta, A, Be, G, tmax, 1e-9, 1.0, every, Xrec) + outs
        if lanes:
            it.run_lanes(mod, *args, 4, fast)
        else:  # one scalar kernel call per member
            for b in range(B):
                outs[2][b], outs[3][b], outs[4][b], outs[5][b] = mod.trajectory(
                    X0[b], Y0[b], T0[b], Theta[b], A[b], Be[b], G[b], tmax, 1e-9, 1.0, every, Xrec[b], outs[0][b],
                    outs[1][b])
        return (Xrec,) + outs

    ref = run(False)
    for a, b in zip(ref, run(True)):  # libm's exp: bit for bit
        np.testing.assert_array_equal(a, b)
    fast = run(True, fast=True)  # vectorised exp: flags and lengths the same, strategies within 1e-14
    for a, b in zip(ref[3:], fast[3:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(fast[0], ref[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(fast[1], ref[1], rtol=0, atol=1e-14)
