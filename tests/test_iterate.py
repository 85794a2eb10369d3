"""crldgen.iterate: trajectories, batches, sweeps (compiled loops) against plain numpy.

Everything runs on session-compiled modules (``ecopg2`` and ``compiled``); the random
games are compared with an independent numpy loop over ``reference.strategy_step``
(strategy coordinates, no log-ratios), which follows the chapter's stopping rule.
"""

import ast
import functools
import io
from pathlib import Path

import numpy as np
import pytest

import crldgen
import reference as ref
from crldgen import iterate
from crldgen.errors import DivergenceError, ParameterError, StrategyError
from crldgen.runtime import lanes

ROOT = Path(__file__).resolve().parents[1]


def compile_strategy(p0c, p1c):
    Pi, Pj = np.array([0.5, p0c]), np.array([0.5, p1c])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


X_DEF = compile_strategy(0.19, 0.95)
CH = dict(alpha=0.01, beta=100.0, gamma=0.75)


def ref_trajectory(g, X0, tmax, tol, learner="sarsa", prefactor=True, reverse=False):
    """The chapter's loop in plain numpy: record X, step, stop when ||X' - X|| < tol or tmax recorded."""
    traj, X = [], np.asarray(X0, dtype=float)
    while True:
        traj.append(X)
        if g.get("O") is None:
            Xn = ref.strategy_step(g["T"], g["R"], X, g["alpha"], g["beta"], g["gamma"], prefactor, learner, reverse)
        else:
            Xn = ref.po_strategy_step(g["T"], g["R"], g["O"], X, g["alpha"], g["beta"], g["gamma"], prefactor,
                                      learner, reverse)
        if np.linalg.norm(Xn - X) < tol:
            return np.array(traj), True
        if len(traj) >= tmax:
            return np.array(traj), False
        X = Xn


# ------------------------------------------------------- random games vs numpy
RANDOM = [  # (N, Z, M, n_obs, learner, seed)
    (2, 2, 2, None, "sarsa", 0),
    (3, 2, 2, None, "sarsa", 1),
    (3, 2, 2, None, "actor_critic", 2),
    (2, 3, 3, None, "actor_critic", 3),
    (2, 2, 2, 2, "sarsa", 4),
]


def _random_case(N, Z, M, n_obs, learner, seed):
    g = ref.random_game(np.random.default_rng(seed), N, Z, M, n_obs=n_obs)
    game = crldgen.Game(g["T"], g["R"], g["O"], name=f"iter_rand_{N}{Z}{M}{n_obs or ''}_{seed}")
    return g, game


def _case_id(c):
    return f"N{c[0]}Z{c[1]}M{c[2]}{'Q%d' % c[3] if c[3] else ''}-{c[4]}"


@pytest.fixture(scope="module", params=RANDOM, ids=_case_id)
def random_case(request, compiled):
    N, Z, M, n_obs, learner, seed = request.param
    g, game = _random_case(N, Z, M, n_obs, learner, seed)
    return g, compiled(game, learner, True), learner


def test_random_games_match_numpy_loop(random_case):
    g, dyn, learner = random_case
    p = dict(alpha=g["alpha"], beta=g["beta"], gamma=g["gamma"])
    res = dyn.trajectory(g["X"], 3000, 1e-8, **p)
    X, conv = ref_trajectory(g, g["X"], 3000, 1e-8, learner)
    assert res.steps == len(X) and res.converged == conv
    np.testing.assert_allclose(res.X, X, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.final, X[-1], rtol=0, atol=1e-12)


def test_random_games_reverse_matches_numpy_loop(random_case):
    g, dyn, learner = random_case
    p = dict(alpha=g["alpha"], beta=g["beta"], gamma=g["gamma"])
    res = dyn.trajectory(g["X"], 6, None, reverse=True, **p)  # reverse SARSA runs off to the boundary fast
    X, _ = ref_trajectory(g, g["X"], 6, 0.0, learner, reverse=True)
    assert res.steps == 6 and not res.converged and res.reverse
    np.testing.assert_allclose(res.X, X, rtol=1e-9, atol=1e-12)


def test_random_game_tmax_edge(random_case):
    """Exactly the chapter's rule at tmax: a run that converges on its last step reports it."""
    g, dyn, learner = random_case
    p = dict(alpha=g["alpha"], beta=g["beta"], gamma=g["gamma"])
    full = dyn.trajectory(g["X"], 3000, 1e-8, **p)
    n = full.steps
    at = dyn.trajectory(g["X"], n, 1e-8, **p)
    assert at.steps == n and at.converged
    short = dyn.trajectory(g["X"], n - 1, 1e-8, **p)
    assert short.steps == n - 1 and not short.converged
    one = dyn.trajectory(g["X"], 1, None, **p)
    assert one.steps == 1 and one.X.shape[0] == 1


# ------------------------------------------------------------ single runs
def test_trajectory_result_object(ecopg2):
    res = ecopg2.trajectory(X_DEF, 5000, 1e-5, **CH)
    assert isinstance(res, iterate.Trajectory)
    assert res.steps == 234 and res.converged and not res.diverged and not res.reverse
    assert res.X.shape == (234, 2, 2, 2) and res.every == 1
    np.testing.assert_array_equal(res.times, np.arange(234))
    np.testing.assert_array_equal(res.final, res.X[-1])
    np.testing.assert_allclose(ecopg2.from_logit(res.final_logit), res.final, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(res.params["gamma"], [0.75, 0.75])
    assert res.params["f"] == 1.2
    assert "steps=234" in repr(res)


def test_trajectory_agrees_with_python_steps(ecopg2):
    res = ecopg2.trajectory(X_DEF, 30, None, **CH)
    X = X_DEF
    for t in range(30):
        np.testing.assert_allclose(res.X[t], X, rtol=0, atol=1e-14)
        X = ecopg2.step(X, **CH)


def test_every_and_final_only(ecopg2):
    full = ecopg2.trajectory(X_DEF, 5000, 1e-5, **CH)
    sub = ecopg2.trajectory(X_DEF, 5000, 1e-5, every=7, **CH)
    fin = ecopg2.trajectory(X_DEF, 5000, 1e-5, every=None, **CH)
    assert sub.steps == fin.steps == full.steps
    np.testing.assert_array_equal(sub.X, full.X[::7])
    np.testing.assert_array_equal(sub.times, np.arange(0, full.steps, 7))
    assert fin.X is None and fin.times is None
    np.testing.assert_array_equal(fin.final, full.final)
    np.testing.assert_array_equal(sub.final, full.final)


def test_per_call_parameters_do_not_change_defaults(ecopg2):
    before = ecopg2.defaults
    a = ecopg2.trajectory(X_DEF, 5000, 1e-5, alpha=0.05, beta=50.0, gamma=[0.7, 0.8], f=1.3)
    np.testing.assert_array_equal(a.params["gamma"], [0.7, 0.8])
    assert a.params["f"] == 1.3
    after = ecopg2.defaults
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    b = ecopg2.trajectory(X_DEF, 5000, 1e-5, alpha=0.05, beta=50.0, gamma_0=0.7, gamma_1=0.8, f=1.3)
    assert a.steps == b.steps
    np.testing.assert_array_equal(a.final, b.final)


def test_continue_from_result_is_exact(ecopg2):
    whole = ecopg2.trajectory(X_DEF, 5000, 1e-5, **CH)
    first = ecopg2.trajectory(X_DEF, 100, 1e-5, **CH)
    rest = ecopg2.trajectory(first, 5000, 1e-5, **CH)
    assert first.steps + rest.steps - 1 == whole.steps  # the restart point is recorded twice
    np.testing.assert_array_equal(rest.X[0], first.final)
    np.testing.assert_array_equal(rest.final, whole.final)


def test_buffer_growth(ecopg2, monkeypatch):
    """Record buffers start small and double; the result does not depend on it."""
    ref_run = ecopg2.trajectory(X_DEF, 5000, 1e-5, **CH)
    ref_every = ecopg2.trajectory(X_DEF, 5000, 1e-5, every=3, **CH)
    pcs = np.linspace(0.1, 0.3, 9)
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    ref_batch = ecopg2.trajectories(X0s, 5000, 1e-5, every=2, **CH)
    monkeypatch.setattr(iterate, "_RECORD_BUDGET", 0)  # initial buffers of 64 rows
    res = ecopg2.trajectory(X_DEF, 5000, 1e-5, **CH)
    np.testing.assert_array_equal(res.X, ref_run.X)
    res = ecopg2.trajectory(X_DEF, 5000, 1e-5, every=3, **CH)
    np.testing.assert_array_equal(res.X, ref_every.X)
    batch = ecopg2.trajectories(X0s, 5000, 1e-5, every=2, **CH)
    assert ref_batch.X.shape[1] > 64
    np.testing.assert_array_equal(batch.steps, ref_batch.steps)
    np.testing.assert_array_equal(batch.X, ref_batch.X)  # NaN padding in the same places
    for b in range(len(pcs)):
        np.testing.assert_array_equal(batch[b].X, ref_batch[b].X)
        assert not np.isnan(batch[b].X).any()


def test_reverse_trajectory(ecopg2):
    res = ecopg2.reverse_trajectory(X_DEF, 25, None, **CH)
    assert res.reverse and res.steps == 25
    X = X_DEF
    for t in range(25):
        np.testing.assert_allclose(res.X[t], X, rtol=1e-12, atol=1e-15)
        X = ecopg2.reverse_step(X, **CH)
    same = ecopg2.trajectory(X_DEF, 25, None, reverse=True, **CH)
    np.testing.assert_array_equal(same.X, res.X)


def test_reverse_moves_away_from_the_attractor(ecopg2):
    """Forward runs converge to a fixed point; backwards the same point repels."""
    fwd = ecopg2.trajectory(X_DEF, 5000, 1e-10, **CH)
    start = 0.99 * fwd.final + 0.01 * 0.5
    back = ecopg2.trajectory(start, 50, None, reverse=True, **CH)
    dist = np.linalg.norm((back.X - fwd.final).reshape(50, -1), axis=1)
    assert dist[-1] > 10 * dist[0]


# --------------------------------------------------------- numerics, errors
@pytest.fixture(scope="module")
def ecopg2_ac(compiled):
    return compiled(functools.partial(crldgen.games.ecological_public_good, 2), "actor_critic", True)


def test_million_step_actor_critic_stays_finite(ecopg2_ac):
    X0 = compile_strategy(0.6, 0.7)
    res = ecopg2_ac.trajectory(X0, 10**6, None, every=None, alpha=0.05, beta=50.0, gamma=0.8)
    assert res.steps == 10**6 and not res.converged and not res.diverged
    assert np.all(np.isfinite(res.final)) and np.all(np.isfinite(res.final_logit))
    np.testing.assert_allclose(res.final.sum(-1), 1.0, rtol=0, atol=1e-15)
    # the prosperous state went pure: the log-ratios are huge, the small probabilities exactly 0.0
    assert np.all(np.abs(res.final_logit[:, 1, 0]) > 1e4)
    assert np.count_nonzero(res.final[:, 1, :] == 0.0) == 2
    assert np.all(res.final[:, 1, C_] == 1.0)
    # continuing from the result works although .final is on the boundary
    more = ecopg2_ac.trajectory(res, 10, None, alpha=0.05, beta=50.0, gamma=0.8)
    assert np.all(np.isfinite(more.X)) and np.all(more.final_logit[:, 1, 0] > res.final_logit[:, 1, 0])
    with pytest.raises(StrategyError, match="strictly positive"):
        ecopg2_ac.trajectory(res.final, 10, None)


C_ = 0  # cooperate


def test_recorded_strategies_underflow_to_exact_zeros(ecopg2_ac):
    """Pure-going runs record exact 0.0 probabilities (finite, rows sum to 1), never NaN."""
    X0 = compile_strategy(0.6, 0.7)
    res = ecopg2_ac.trajectory(X0, 2000, None, every=100, alpha=0.05, beta=50.0, gamma=0.8)
    assert np.any(res.X == 0.0) and np.all(np.isfinite(res.X))
    np.testing.assert_allclose(res.X.sum(-1), 1.0, rtol=0, atol=1e-15)


def test_divergence_raises_with_partial_result(ecopg2):
    with pytest.raises(DivergenceError, match="diverged after 1 recorded") as info:
        ecopg2.trajectory(X_DEF, 100, 1e-5, c=1e308, f=2.0)  # rewards overflow
    assert isinstance(info.value, crldgen.CrldgenError)
    res = info.value.result
    assert res.diverged and res.steps == 1
    np.testing.assert_array_equal(res.final, X_DEF)
    flagged = ecopg2.trajectory(X_DEF, 100, 1e-5, c=1e308, f=2.0, on_divergence="flag")
    assert flagged.diverged and not flagged.converged and np.all(np.isfinite(flagged.X))


def test_batch_divergence_is_per_member(ecopg2):
    res = ecopg2.trajectories(X_DEF, 5000, 1e-5, c=[5.0, 1e308, 5.0], f=[1.2, 2.0, 1.2], **CH, on_divergence="flag")
    np.testing.assert_array_equal(res.diverged, [False, True, False])
    np.testing.assert_array_equal(res.converged, [True, False, True])
    assert res.steps[0] == 234
    with pytest.raises(DivergenceError, match=r"1 of 3 trajectories diverged \(members \[1\]\)"):
        ecopg2.trajectories(X_DEF, 5000, 1e-5, c=[5.0, 1e308, 5.0], f=[1.2, 2.0, 1.2], **CH)


@pytest.mark.parametrize("kwargs, match", [
    (dict(tmax=0), "tmax"),
    (dict(tmax=2.5), "tmax"),
    (dict(tol=-1.0), "tol"),
    (dict(tol=float("nan")), "tol"),
    (dict(every=0), "every"),
    (dict(on_divergence="ignore"), "on_divergence"),
    (dict(gamma=1.0), "discount"),
    (dict(nope=1.0), "unknown parameter 'nope'"),
])
def test_argument_errors(ecopg2, kwargs, match):
    args = dict(tmax=10, tol=None)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        ecopg2.trajectory(X_DEF, **args)


def test_strategy_errors(ecopg2):
    with pytest.raises(StrategyError, match="shape"):
        ecopg2.trajectory(np.ones((2, 2)), 10)
    with pytest.raises(StrategyError, match="sums to"):
        ecopg2.trajectory(X_DEF * 1.1, 10)
    bad = X_DEF.copy()
    bad[1, 1] = [1.0, 0.0]
    with pytest.raises(StrategyError, match=r"X0\[1, 1, 1\] = 0"):
        ecopg2.trajectory(bad, 10)
    with pytest.raises(StrategyError, match=r"X0s\[1, 1, 1, 1\] = 0"):
        ecopg2.trajectories(np.array([X_DEF, bad]), 10)
    with pytest.raises(StrategyError, match="trajectories"):
        ecopg2.trajectory(np.array([X_DEF, X_DEF]), 10)


# ------------------------------------------------------------------ batches
def test_batch_over_gamma_with_one_initial_strategy(ecopg2):
    gammas = np.linspace(0.6, 0.9, 7)
    res = ecopg2.trajectories(X_DEF, 5000, 1e-5, gamma=gammas, alpha=0.05, beta=50.0)
    assert len(res) == 7 and res.final.shape == (7, 2, 2, 2) and res.X is None
    np.testing.assert_array_equal(res.params["gamma"], np.repeat(gammas[:, None], 2, axis=1))
    for b, gam in enumerate(gammas):
        one = ecopg2.trajectory(X_DEF, 5000, 1e-5, every=None, gamma=gam, alpha=0.05, beta=50.0)
        assert res.steps[b] == one.steps and res.converged[b] == one.converged
        np.testing.assert_allclose(res.final[b], one.final, rtol=0, atol=1e-14)


def test_batch_broadcasting_rules(ecopg2):
    X0s = np.array([compile_strategy(pc, 0.95) for pc in (0.18, 0.19, 0.2)])
    per_agent = ecopg2.trajectories(X0s, 5000, 1e-5, gamma=[[0.7, 0.8]], alpha=0.01, beta=100.0)
    np.testing.assert_array_equal(per_agent.params["gamma"], [[0.7, 0.8]] * 3)
    both = ecopg2.trajectories(X0s, 5000, 1e-5, gamma=np.array([[0.7, 0.8], [0.75, 0.75], [0.8, 0.7]]), **{
        k: v for k, v in CH.items() if k != "gamma"})
    assert both.steps[1] == 234
    one_agent = ecopg2.trajectories(X0s[1], 5000, 1e-5, beta_1=[100.0, 90.0], alpha=0.01, beta=100.0)
    np.testing.assert_array_equal(one_agent.params["beta"], [[100.0, 100.0], [100.0, 90.0]])
    assert one_agent.steps[0] == 234
    game = ecopg2.trajectories(X0s[1], 5000, 1e-5, f=[1.2, 1.5], **CH)
    np.testing.assert_array_equal(game.params["f"], [1.2, 1.5])
    assert game.steps[0] == 234
    with pytest.raises(ParameterError, match="do not broadcast"):
        ecopg2.trajectories(X0s, 100, gamma=[0.7, 0.8])
    with pytest.raises(ParameterError, match=r"batch member 1\): discount"):
        ecopg2.trajectories(X_DEF, 100, gamma=[0.7, 1.0])
    with pytest.raises(ParameterError, match="unknown parameter"):
        ecopg2.trajectories(X_DEF, 100, nope=[0.7, 0.8])
    with pytest.raises(ParameterError, match="out of range"):
        ecopg2.trajectories(X_DEF, 100, alpha_5=[0.1, 0.2])
    with pytest.raises(ParameterError, match="shape"):
        ecopg2.trajectories(X_DEF, 100, f=[[1.0, 2.0]])


def test_batch_members_match_single_runs(ecopg2):
    rng = np.random.default_rng(7)
    X0s = np.array([ecopg2.random_strategy(rng) for _ in range(12)])
    res = ecopg2.trajectories(X0s, 500, 1e-6, every=5, alpha=0.05, beta=50.0)
    for b in range(12):
        one = ecopg2.trajectory(X0s[b], 500, 1e-6, every=5, alpha=0.05, beta=50.0)
        assert res[b].steps == one.steps and res[b].converged == one.converged
        np.testing.assert_allclose(res[b].X, one.X, rtol=0, atol=1e-14)
    assert [t.steps for t in res] == res.steps.tolist()
    np.testing.assert_array_equal(res.n_stored, -(-res.steps // 5))


def test_batch_continues_from_batch_result(ecopg2):
    X0s = np.array([compile_strategy(pc, 0.95) for pc in (0.18, 0.19, 0.2)])
    whole = ecopg2.trajectories(X0s, 5000, 1e-5, **CH)
    part = ecopg2.trajectories(X0s, 50, 1e-5, **CH)
    rest = ecopg2.trajectories(part, 5000, 1e-5, **CH)
    np.testing.assert_array_equal(part.steps + rest.steps - 1, whole.steps)
    np.testing.assert_array_equal(rest.final, whole.final)


def test_progress_bar_chunks_give_the_same_result(ecopg2, capsys):
    pcs = np.linspace(0.15, 0.25, 101)
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    plain = ecopg2.trajectories(X0s, 5000, 1e-5, progress=False, every=10, **CH)
    capsys.readouterr()
    shown = ecopg2.trajectories(X0s, 5000, 1e-5, progress=True, every=10, **CH)
    err = capsys.readouterr().err
    assert "101/101" in err and "trajectories/s" in err and "100%" in err and err.endswith("\n")
    np.testing.assert_array_equal(plain.steps, shown.steps)
    np.testing.assert_array_equal(plain.final, shown.final)
    np.testing.assert_array_equal(plain.X, shown.X)
    ecopg2.trajectories(X0s, 5000, 1e-5, **CH)  # small batch, progress=None: silent
    assert capsys.readouterr().err == ""


def test_progress_bar_helper():
    """The bar is tqdm's (tqdm.auto: text on a stream outside notebooks), counting in the given unit."""
    out = io.StringIO()
    with iterate.ProgressBar(4, "runs", stream=out, min_interval=0.0) as bar:
        for _ in range(4):
            bar.update()
        assert bar._bar.n == 4 and bar.done == 4
    text = out.getvalue()
    assert text.count("\r") >= 4 and "4/4" in text and "runs/s" in text and "100%" in text and text.endswith("\n")
    assert "|" + "#" * 10 in text  # ascii bar, full at the end
    quiet = io.StringIO()
    with iterate.ProgressBar(4, stream=quiet, delay=60.0) as bar:  # finished before the delay: silent
        bar.update(4)
    assert quiet.getvalue() == ""
    off = io.StringIO()
    with iterate.ProgressBar(4, stream=off, enabled=False) as bar:
        bar.update(10)  # never counts past the total
        assert bar.done == 4
    assert off.getvalue() == ""


def test_batch_kernels_compile_once(ecopg2):
    module = ecopg2.module
    ecopg2.trajectory(X_DEF, 10, 1e-5)
    ecopg2.trajectories(X_DEF, 10, 1e-5)
    ecopg2.trajectories(np.array([X_DEF] * 9), 10, 1e-5)  # the lanes kernel
    n = [len(module.trajectory.signatures), len(lanes.lanes_block.signatures)]
    ecopg2.trajectories(X_DEF, 10, 1e-5, gamma=np.linspace(0.6, 0.8, 5), every=1)
    ecopg2.trajectories(np.array([X_DEF] * 3), 20, None, reverse=True, f=[1.1, 1.2, 1.3])
    ecopg2.trajectories(np.array([X_DEF] * 9), 20, None, reverse=True, f=np.linspace(1.1, 1.3, 9))
    ecopg2.sweep(X_DEF, "gamma", [0.6, 0.7], 20, 1e-5)
    assert [len(module.trajectory.signatures), len(lanes.lanes_block.signatures)] == n == [1, 1]


# -------------------------------------------------------------------- sweeps
def test_sweep_api(ecopg2):
    values = np.linspace(0.7, 0.85, 4)
    sw = crldgen.iterate.sweep(ecopg2, X_DEF, "gamma", values, 2500, 1e-10, alpha=0.05, beta=50.0)
    assert isinstance(sw, iterate.Sweep) and sw.name == "gamma" and sw.carry
    np.testing.assert_array_equal(sw.values, values)
    assert sw.final.shape == (4, 2, 2, 2) and sw.X is None and sw.ran.all()
    np.testing.assert_array_equal(sw[2].params["gamma"], [values[2]] * 2)
    per_agent = ecopg2.sweep(X_DEF, "gamma", np.stack([values, values], axis=1), 2500, 1e-10, alpha=0.05, beta=50.0)
    np.testing.assert_array_equal(per_agent.final, sw.final)
    with pytest.raises(ParameterError, match="both swept"):
        ecopg2.sweep(X_DEF, "gamma", values, 100, gamma=0.7)


def test_sweep_stops_at_divergence(ecopg2):
    sw = ecopg2.sweep(X_DEF, "c", [5.0, 1e308, 5.0], 200, 1e-8, f=2.0, alpha=0.05, on_divergence="flag")
    np.testing.assert_array_equal(sw.diverged, [False, True, False])
    np.testing.assert_array_equal(sw.ran, [True, True, False])
    assert np.isnan(sw.final[2]).all()
    with pytest.raises(DivergenceError, match="sweep over c stopped at value 1"):
        ecopg2.sweep(X_DEF, "c", [5.0, 1e308, 5.0], 200, 1e-8, f=2.0, alpha=0.05)


# ---------------------------------------------------------------- boundaries
def test_iterate_never_imports_sympy():
    tree = ast.parse((ROOT / "crldgen" / "iterate.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert "sympy" not in names
    # the progress bar's tqdm is imported lazily (inside ProgressBar), never at import time
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert "tqdm" in names and "tqdm" not in top


def test_stale_module_is_refused(ecopg2):
    class Old:
        LOOP_API = 1
        __name__ = "old_module"

    class Fake:
        module = Old()
        path = "/somewhere/old_module.py"

    with pytest.raises(crldgen.GenerationError, match="older template"):
        iterate.trajectory(Fake(), X_DEF, 10)
