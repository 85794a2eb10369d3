"""Anonymous (count-based) games: the symmetric-subspace dynamics against the expanded full game.

Oracles: the plain-numpy reference (tests/reference.py) on ``game.expand(n)``, crldgen's
compiled full game (closed-form Jacobian) and complex-step derivatives of the reference
(exact to rounding) for the full n-agent Jacobian.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import crldgen
import reference as ref
from crldgen import anonymous as an
from crldgen.errors import GameError, ParameterError, StrategyError

_DYN = {}


def anon(factory, learner="sarsa", method="auto", **defaults):
    """Compiled anonymous dynamics, one module per game and method (learner and n are run-time arguments)."""
    from conftest import _cache_root

    key = (factory.__name__ if hasattr(factory, "__name__") else repr(factory), learner, method,
           tuple(sorted(defaults.items())))
    if key not in _DYN:
        _DYN[key] = an.compile(factory(), learner, cache_dir=_cache_root(), method=method, **defaults)
    return _DYN[key]


def random_anonymous_game():
    """A nonlinear M = 3, Z = 2 anonymous game (rational T in the counts, polynomial R)."""
    rng = np.random.default_rng(7)
    actions = ("a", "b", "c")
    k = an.AnonymousGame.count_symbols(actions)
    n = sympy.Symbol("n", real=True)
    u = sympy.Symbol("u", real=True)
    P = rng.dirichlet(np.ones(2), size=(2, 3))
    U = rng.dirichlet(np.ones(2), size=2)
    r = rng.normal(size=(4, 2, 3, 2)).round(3)
    T = [[None] * 2 for _ in range(2)]
    mix = u * k[0] * k[1] / n
    for s in range(2):
        for t in range(2):
            T[s][t] = (sum(k[b] * sympy.Rational(str(P[s, b, t].round(6))) for b in range(3)) if t == 0 else None)
        T[s][0] = (T[s][0] + mix * sympy.Rational(str(U[s, 0].round(6)))) / (n + mix)
        T[s][1] = 1 - T[s][0]
    R = [[[sympy.Float(r[0, s, a, t]) + sympy.Float(r[1, s, a, t]) * k[0] / n
           + sympy.Float(r[2, s, a, t]) * k[1] * k[2] / n**2 + sympy.Float(r[3, s, a, t]) * k[a] / n
           for t in range(2)] for a in range(3)] for s in range(2)]
    return an.AnonymousGame(T, R, params={"u": 0.7}, states=("s0", "s1"), actions=actions, n=3, name="anon_random3")


def polynomial_anonymous_game():
    """A Z = 2, M = 3 game, T quadratic and R cubic in the counts (closed-form moments apply)."""
    rng = np.random.default_rng(11)
    actions = ("a", "b", "c")
    k = an.AnonymousGame.count_symbols(actions)
    n = sympy.Symbol("n", real=True)
    v = sympy.Symbol("v", real=True)
    P = rng.dirichlet(np.ones(2), size=(2, 3, 3)).round(4)
    Pr = np.empty(P.shape, dtype=object)
    for idx in np.ndindex(P.shape[:-1]):
        Pr[idx + (0,)] = sympy.Rational(str(P[idx + (0,)]))
        Pr[idx + (1,)] = 1 - Pr[idx + (0,)]
    T = [[sum(Pr[s, b, c, t] * k[b] * k[c] for b in range(3) for c in range(3)) / n**2
          for t in range(2)] for s in range(2)]
    r = rng.normal(size=(3, 2, 3, 2)).round(3)
    R = [[[sympy.Float(r[0, s, a, t]) + v * k[a] / n + sympy.Float(r[1, s, a, t]) * k[0] * k[1] / n**2
           + sympy.Float(r[2, s, a, t]) * k[2] ** 3 / n**3 for t in range(2)] for a in range(3)] for s in range(2)]
    return an.AnonymousGame(T, R, params={"v": 0.4}, states=("s0", "s1"), actions=actions, n=3,
                            name="anon_poly3")


def chicken():
    return an.social_dilemma(n=2, R=1.0, T=1.5, S=0.5, P=0.0)


def complex_step_jacobian(T, R, y, alpha, beta, gamma, learner, h=1e-30):
    """``d y'/d y`` of the reference logit step by complex steps (no subtractive cancellation)."""
    n = y.size
    J = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n, dtype=complex)
        e[k] = 1j * h
        out = ref.logit_step(T, R, y + e.reshape(y.shape), alpha, beta, gamma, True, learner)
        J[:, k] = out.imag.ravel() / h
    return J


def match_eigenvalues(a, b, tol):
    """Largest distance of a greedy one-to-one matching of two eigenvalue sets."""
    a, b = list(np.asarray(a)), list(np.asarray(b))
    assert len(a) == len(b)
    worst = 0.0
    for lam in a:
        j = int(np.argmin([abs(lam - m) for m in b]))
        worst = max(worst, abs(lam - b[j]) / max(1.0, abs(lam)))
        b.pop(j)
    return worst


def symmetric_points(rng, Z, M, count=3):
    xs = rng.dirichlet(2 * np.ones(M), size=(count, Z))
    return [x for x in xs]


LEARNER_PARAMS = dict(alpha=0.07, beta=7.0, gamma=0.8)


# --------------------------------------------------------------- description
def test_expand_equals_the_builtin_full_games():
    for n in range(1, 6):
        a = an.ecological_public_good(n).expand().numeric()
        b = crldgen.games.ecological_public_good(n).numeric()
        assert np.array_equal(a["T"], b["T"]) and np.array_equal(a["R"], b["R"])
    a = an.social_dilemma(2, R=1, T=2, S=-1, P=0.5).expand().numeric(R=1, T=2, S=-1, P=0.5)
    b = crldgen.games.social_dilemma(1, 2, -1, 0.5).numeric()
    assert np.array_equal(a["R"], b["R"]) and np.array_equal(a["T"], b["T"])
    full = an.social_dilemma(4).expand()
    assert full.n_agents == 4 and full.param_names == ("R", "T", "S", "P")
    # agent 0 cooperates with one other cooperator among three: (R*1 + S*2) / 3
    assert full.numeric()["R"][0, 0, 0, 0, 1, 1, 0] == pytest.approx((1.0 - 1.0) / 3)


def test_validation_names_tensor_state_counts_and_value():
    with pytest.raises(GameError, match=r"T\['p', k=\{'k_c': 0, 'k_d': 2\}, 'g'\] = 1\.5.*n=2.*not a probability"):
        an.ecological_public_good(2, qc=1.5)
    kc, kd = an.AnonymousGame.count_symbols(("c", "d"))
    with pytest.raises(GameError, match="not identically 1"):
        an.AnonymousGame([[kc / sympy.Symbol("n")]], [[[1], [1]]], states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match="unknown symbol z"):
        an.AnonymousGame([[1]], [[[sympy.Symbol("z")], [1]]], states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match=r"R has shape \(2, 1, 1\); expected \(1, 2, 1\)"):
        an.AnonymousGame([[1]], [[[1]], [[1]]], states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match="reserved"):
        an.AnonymousGame([[1]], [[[1], [1]]], params={"n": 1.0}, states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match="expand"):
        an.ecological_public_good(2).expand(40)


@pytest.mark.parametrize("method", ["moments", "sum"])
def test_run_time_overrides_are_validated(cache_dir, method):
    dyn = anon(an.ecological_public_good, "sarsa", method, **LEARNER_PARAMS)
    x = np.array([[0.4, 0.6], [0.3, 0.7]])
    with pytest.raises(GameError, match=r"T\['p', k=\{'k_c': 0, 'k_d': 30\}, 'g'\] = 2.*n=30.*not a probability"):
        dyn.step(x, n=30, qc=2.0)
    with pytest.raises(GameError, match=r"n=7"):
        dyn.trajectories(x, 10, None, n=[3, 7], qc=[0.5, 1.5])
    with pytest.raises(GameError, match="method='moments' needs"):
        an.generate_source(random_anonymous_game(), method="moments")
    with pytest.raises(ParameterError, match="positive integer"):
        dyn.step(x, n=2.5)
    with pytest.raises(ParameterError, match="unknown parameter"):
        dyn.step(x, qq=1)
    with pytest.raises(ParameterError, match=r"gamma = 1.0"):
        dyn.step(x, gamma=1.0)
    with pytest.raises(StrategyError, match=r"x\[1, :\] sums to"):
        dyn.step(np.array([[0.5, 0.5], [0.5, 0.6]]))
    with pytest.raises(StrategyError, match=r"shape"):
        dyn.step(np.full((2, 2, 2), 0.5))


def test_latex_mentions_the_count_sums():
    text = an.ecological_public_good().latex()
    assert r"\sum_{k'} P(k')" in text and "k_{d}" in text


# ------------------------------------------------ against the plain reference
@pytest.mark.parametrize("method", ["moments", "sum"])
@pytest.mark.parametrize("learner", ["sarsa", "actor_critic"])
def test_td_error_and_step_equal_the_expanded_game(cache_dir, learner, method):
    rng = np.random.default_rng(1)
    game = an.ecological_public_good(2)
    dyn = anon(an.ecological_public_good, learner, method, **LEARNER_PARAMS)
    assert dyn.method == method
    for n in range(1, 7):
        full = game.expand(n).numeric(qc=0.3, f=1.7)
        al, be, ga = (np.full(n, LEARNER_PARAMS[k]) for k in ("alpha", "beta", "gamma"))
        for x in symmetric_points(rng, 2, 2, count=2):
            X = np.broadcast_to(x, (n, 2, 2))
            delta = ref.td_error(full["T"], full["R"], X, be, ga, True, learner)
            np.testing.assert_allclose(dyn.tderror(x, n=n, qc=0.3, f=1.7), delta[0], rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(delta, np.broadcast_to(delta[0], delta.shape), rtol=1e-12, atol=1e-12)
            step = ref.strategy_step(full["T"], full["R"], X, al, be, ga, True, learner)
            np.testing.assert_allclose(dyn.step(x, n=n, qc=0.3, f=1.7), step[0], rtol=1e-10, atol=1e-13)


@pytest.mark.slow
def test_random_three_action_game_equals_its_expansion(cache_dir):
    rng = np.random.default_rng(2)
    game = random_anonymous_game()
    dyn = anon(random_anonymous_game, "sarsa", **LEARNER_PARAMS)
    assert dyn.method == "sum"  # T is rational in the counts: no closed-form moments
    for n in (1, 2, 3, 4):
        full = game.expand(n).numeric(u=1.3)
        al, be, ga = (np.full(n, LEARNER_PARAMS[k]) for k in ("alpha", "beta", "gamma"))
        x = symmetric_points(rng, 2, 3, count=1)[0]
        X = np.broadcast_to(x, (n, 2, 3))
        np.testing.assert_allclose(dyn.tderror(x, n=n, u=1.3),
                                   ref.td_error(full["T"], full["R"], X, be, ga, True, "sarsa")[0], rtol=1e-10)
        np.testing.assert_allclose(dyn.step(x, n=n, u=1.3),
                                   ref.strategy_step(full["T"], full["R"], X, al, be, ga)[0], rtol=1e-10, atol=1e-13)
        y = ref.logit_of_strategy(X)
        J = complex_step_jacobian(full["T"], full["R"], y, al, be, ga, "sarsa")
        np.testing.assert_allclose(dyn.full_jacobian(x, n=n, u=1.3), J, rtol=1e-9, atol=1e-10)
        st = dyn.stability(x, n=n, u=1.3)
        assert match_eigenvalues(st.eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10


@pytest.mark.parametrize("method", ["moments", pytest.param("sum", marks=pytest.mark.slow)])
def test_polynomial_three_action_game(cache_dir, method):
    """Both methods on a game with quadratic T and cubic R against the expansion (n = 1..4)."""
    rng = np.random.default_rng(5)
    game = polynomial_anonymous_game()
    dyn = anon(polynomial_anonymous_game, "actor_critic", method, **LEARNER_PARAMS)
    assert dyn.method == method
    for n in (1, 2, 3, 4):
        full = game.expand(n).numeric(v=-0.3)
        al, be, ga = (np.full(n, LEARNER_PARAMS[k]) for k in ("alpha", "beta", "gamma"))
        x = symmetric_points(rng, 2, 3, count=1)[0]
        X = np.broadcast_to(x, (n, 2, 3))
        np.testing.assert_allclose(dyn.tderror(x, n=n, v=-0.3),
                                   ref.td_error(full["T"], full["R"], X, be, ga, True, "actor_critic")[0],
                                   rtol=1e-10, atol=1e-12)
        y = ref.logit_of_strategy(X)
        J = complex_step_jacobian(full["T"], full["R"], y, al, be, ga, "actor_critic")
        np.testing.assert_allclose(dyn.full_jacobian(x, n=n, v=-0.3), J, rtol=1e-9, atol=1e-11)
        assert match_eigenvalues(dyn.stability(x, n=n, v=-0.3).eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10
    if method == "sum":  # the two methods agree at large n too
        other = anon(polynomial_anonymous_game, "actor_critic", "moments", **LEARNER_PARAMS)
        x = symmetric_points(rng, 2, 3, count=1)[0]
        np.testing.assert_allclose(dyn.step(x, n=60), other.step(x, n=60), rtol=1e-12, atol=1e-14)
        A1, B1 = dyn.jacobian_blocks(x, n=60)
        A2, B2 = other.jacobian_blocks(x, n=60)
        np.testing.assert_allclose(A1, A2, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(B1, B2, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("method", ["moments", "sum"])
@pytest.mark.parametrize("learner", ["sarsa", "actor_critic"])
def test_blocks_give_the_full_jacobian(cache_dir, learner, method):
    rng = np.random.default_rng(3)
    game = an.ecological_public_good(2)
    dyn = anon(an.ecological_public_good, learner, method, **LEARNER_PARAMS)
    for n in (1, 2, 3, 5):
        full = game.expand(n).numeric()
        al, be, ga = (np.full(n, LEARNER_PARAMS[k]) for k in ("alpha", "beta", "gamma"))
        x = symmetric_points(rng, 2, 2, count=1)[0]
        y = ref.logit_of_strategy(np.broadcast_to(x, (n, 2, 2)))
        J = complex_step_jacobian(full["T"], full["R"], y, al, be, ga, learner)
        np.testing.assert_allclose(dyn.full_jacobian(x, n=n), J, rtol=1e-9, atol=1e-11)
        assert match_eigenvalues(dyn.stability(x, n=n).eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10


# -------------------------------------------- against crldgen's compiled full game
def _full_vs_anonymous(compiled, n):
    kw = dict(alpha=0.05, beta=25.0, gamma=0.8)
    full = compiled(an.ecological_public_good(2).expand(n), "sarsa", True, **kw)
    dyn = anon(an.ecological_public_good, "sarsa", **kw)
    rng = np.random.default_rng(10 + n)
    for x in symmetric_points(rng, 2, 2, count=2):
        X = np.broadcast_to(x, (n, 2, 2)).copy()
        np.testing.assert_allclose(dyn.tderror(x, n=n), full.tderror(X)[0], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dyn.step(x, n=n, qc=0.35), full.step(X, qc=0.35)[0], rtol=1e-10, atol=1e-13)
        J = full.jacobian(X)
        np.testing.assert_allclose(dyn.full_jacobian(x, n=n), J, rtol=1e-10, atol=1e-11)
        assert match_eigenvalues(dyn.stability(x, n=n).eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10
    x0 = np.array([[0.5, 0.5], [0.3, 0.7]])
    a = dyn.trajectory(x0, 3000, 1e-6, n=n)
    b = full.trajectory(np.broadcast_to(x0, (n, 2, 2)), 3000, 1e-6)
    assert a.steps == b.steps and a.converged == b.converged
    np.testing.assert_allclose(a.x, b.X[:, 0], rtol=1e-9, atol=1e-12)
    batch = dyn.trajectories(x0, 3000, 1e-6, n=np.array([n, n]), gamma=np.array([0.8, 0.7]))
    bb = full.trajectories(np.broadcast_to(x0, (2, n, 2, 2)), 3000, 1e-6, gamma=np.array([0.8, 0.7]))
    assert list(batch.steps) == list(bb.steps)
    np.testing.assert_allclose(batch.final, bb.final[:, 0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_equals_compiled_full_game(compiled, cache_dir, n):
    _full_vs_anonymous(compiled, n)


@pytest.mark.slow
@pytest.mark.parametrize("n", [5, 6])
def test_equals_compiled_full_game_large(compiled, cache_dir, n):
    _full_vs_anonymous(compiled, n)


# --------------------------------------------------------------- stability
def test_symmetric_point_stable_on_subspace_but_breaks_symmetry(cache_dir):
    """Chicken: the mixed symmetric equilibrium attracts along the diagonal, repels off it."""
    dyn = anon(chicken, "sarsa", alpha=0.1, beta=10.0, gamma=0.0)
    fp = dyn.fixed_point(np.array([[0.5, 0.5]]), n=2)
    assert fp.residual < 1e-12
    st = fp.stability
    assert st.stable_symmetric and not st.stable and st.type == "unstable to symmetry breaking"
    assert st.rho_symmetric < 1 < st.rho_breaking
    # the same verdict from the full 2-agent game's Jacobian (complex steps on the reference)
    full = chicken().expand(2).numeric()
    y = ref.logit_of_strategy(np.broadcast_to(fp.x, (2, 1, 2)))
    J = complex_step_jacobian(full["T"], full["R"], y, np.full(2, 0.1), np.full(2, 10.0), np.full(2, 0.0), "sarsa")
    assert max(abs(np.linalg.eigvals(J))) > 1
    assert match_eigenvalues(st.eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10
    # and the full game's iteration leaves the symmetric point when pushed off the diagonal
    X = np.broadcast_to(fp.x, (2, 1, 2)).copy()
    X[0, 0] = [fp.x[0, 0] + 1e-4, fp.x[0, 1] - 1e-4]
    for _ in range(300):
        X = ref.strategy_step(full["T"], full["R"], X, np.full(2, 0.1), np.full(2, 10.0), np.full(2, 0.0), False)
    assert abs(X[0, 0, 0] - X[1, 0, 0]) > 0.1


def test_fixed_point_is_a_fixed_point_for_large_n(cache_dir):
    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    for n in (50, 1000):
        run = dyn.trajectory(np.array([[0.5, 0.5], [0.9, 0.1]]), 20000, 1e-10, every=None, n=n)
        fp = dyn.fixed_point(run.final, n=n)
        np.testing.assert_allclose(dyn.step(fp.x, n=n), fp.x, atol=1e-11)
        assert len(fp.stability.breaking) == 2 and len(fp.stability.symmetric) == 2


def test_large_n_weights_are_normalized_and_match_exact_binomial_sums(cache_dir):
    """At n = 1000 the truncated mode-relative weights agree with an exact log-space binomial sum."""
    from math import lgamma

    dyn = anon(an.ecological_public_good, "sarsa", "sum", **LEARNER_PARAMS)
    x = np.array([[0.37, 0.63], [0.81, 0.19]])
    n = 1000
    av = dyn.averages(x, n=n)
    moments = anon(an.ecological_public_good, "sarsa", "moments", **LEARNER_PARAMS).averages(x, n=n)
    np.testing.assert_allclose(av.Tsa, moments.Tsa, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(av.Rsa, moments.Rsa, rtol=1e-12)
    p = dyn.defaults
    for s, _ in enumerate(("g", "p")):
        kc = np.arange(n)  # cooperators among the other n - 1
        logw = np.array([lgamma(n) - lgamma(k + 1) - lgamma(n - k) for k in kc]) + kc * np.log(x[s, 0]) \
            + (n - 1 - kc) * np.log(x[s, 1])
        w = np.exp(logw - logw.max())
        w /= w.sum()
        if s == 1:  # prosperous: Tx[p, a, g] = E[qc k_d / n], k_d = n-1-kc (+1 if a = d)
            for a in (0, 1):
                kd = n - 1 - kc + (a == 1)
                np.testing.assert_allclose(av.Tsa[1, a, 0], w @ (p["qc"] * kd / n), rtol=1e-12)
                kcf = kc + (a == 0)
                r = (1 - p["qc"] * kd / n) * (p["f"] * p["c"] * kcf / n - p["c"] * (a == 0)) + p["qc"] * kd / n * p["m"]
                np.testing.assert_allclose(av.Rsa[1, a], w @ r, rtol=1e-12)


def test_sweep_and_batch_over_n_and_parameters(cache_dir):
    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    x0 = np.array([[0.5, 0.5], [0.6, 0.4]])
    ns = np.array([2, 10, 100, 1000])
    batch = dyn.trajectories(x0, 5000, 1e-8, n=ns)
    for j, n in enumerate(ns):
        single = dyn.trajectory(x0, 5000, 1e-8, every=None, n=int(n))
        assert single.steps == batch.steps[j]
        np.testing.assert_array_equal(single.final, batch.final[j])
    sw = dyn.sweep(x0, "qc", [0.1, 0.2, 0.3], 5000, 1e-8, n=50)
    assert sw.final.shape == (3, 2, 2) and np.allclose(sw.final.sum(-1), 1)
    again = dyn.trajectory(sw.final[0], 5000, 1e-8, every=None, n=50, qc=0.2)
    np.testing.assert_allclose(again.final, sw.final[1], atol=1e-6)


def test_continuation_in_n_and_in_a_parameter(cache_dir):
    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    start = dyn.trajectory(np.array([[0.5, 0.5], [0.95, 0.05]]), 20000, 1e-12, every=None, n=50).final
    branch = dyn.continuation("gamma", start, np.linspace(0.8, 0.6, 9), n=50)
    assert branch.x.shape == (9, 2, 2)
    for v, x in zip(branch.values, branch.x):
        np.testing.assert_allclose(dyn.step(x, n=50, gamma=v), x, atol=1e-10)
    big = dyn.continuation("gamma", start, np.linspace(0.8, 0.6, 5), n=1000)
    for v, x in zip(big.values, big.x):
        np.testing.assert_allclose(dyn.step(x, n=1000, gamma=v), x, atol=1e-10)
    byn = dyn.continuation("n", start, [50, 100, 300, 1000])
    for v, x in zip(byn.values, byn.x):
        np.testing.assert_allclose(dyn.step(x, n=int(v)), x, atol=1e-10)
    assert byn.rho_breaking.shape == (4,)


# ----------------------------------------------------------------- example
def test_group_size_example(tmp_path, cache_dir):
    """examples/group_size.py: gamma_c(n) grows with n, and the full n-agent game agrees at n = 2, 3."""
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    sys.path.insert(0, str(examples))
    try:
        import _common
        import group_size

        _common.CACHE_DIR = cache_dir
        written = group_size.main(["--quick", "--out", str(tmp_path), "--dpi", "40"])
        assert [p.name for p in written] == ["group_size.png"] and written[0].stat().st_size > 0
        game = an.ecological_public_good(2, **group_size.GAME)
        dyn = an.compile(game, "sarsa", prefactor=False, cache_dir=cache_dir, **group_size.LEARNER)
        ns = np.array([2, 3, 20])
        gc = group_size.critical_gamma(dyn, ns, iterations=12)
        assert np.all(np.diff(gc) > 0) and gc[0] > 0.7
    finally:
        _common.CACHE_DIR = None
        sys.path.remove(str(examples))
    # brute force: iterate the expanded full game (reference, logit coordinates) on both sides of gamma_c
    for n, g in zip(ns[:2], gc[:2]):
        full = game.expand(n).numeric()
        for gamma, expect in ((g + 2e-3, True), (g - 2e-3, False)):
            y = ref.logit_of_strategy(np.broadcast_to(group_size.X0, (n, 2, 2)))
            for _ in range(4000):
                y = ref.logit_step(full["T"], full["R"], y, np.full(n, 0.05), np.full(n, 1.0), np.full(n, gamma), False)
            X = ref.strategy_of_logit(y)
            assert (X[:, 1, 0] > 0.5).all() == expect, (n, gamma, X[:, 1, 0])


def test_fixed_points_reproduce_the_chapter_saddle(cache_dir):
    """n = 2 with the chapter's critical-transition parameters: two attractors and the saddle
    at P(c | p) = 0.6334 with eigenvalues 1.0591, 0.99, 0.99, 0.9215 (README, full-game analysis)."""
    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    kw = dict(n=2, alpha=0.01, beta=100.0, gamma=0.75)
    fps = dyn.fixed_points(16, rng=0, **kw)
    assert len(fps) == 3
    for fp in fps:
        np.testing.assert_allclose(dyn.step(fp.x, **kw), fp.x, atol=1e-12)
    saddle = [fp for fp in fps if not fp.stable]
    assert len(saddle) == 1 and sum(fp.stable for fp in fps) == 2
    assert saddle[0].x[1, 0] == pytest.approx(0.6334, abs=1e-4)
    np.testing.assert_allclose(np.sort(np.abs(saddle[0].stability.eigenvalues()))[::-1],
                               [1.0591, 0.99, 0.99, 0.9215], atol=1e-4)


# -------------------------------------------------------------------- TOML
def test_toml_game_equals_the_builtin():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "games" / "anon_ecopg.toml"
    game = an.load_anonymous_game(path)
    assert game.n == 50 and game.param_names == ("f", "c", "m", "qc", "qr")
    for n in (1, 2, 4):
        a = game.expand(n).numeric(qc=0.3)
        b = crldgen.games.ecological_public_good(n).numeric(qc=0.3)
        np.testing.assert_allclose(a["T"], b["T"], rtol=1e-15)
        np.testing.assert_allclose(a["R"], b["R"], rtol=1e-15)


def test_toml_errors_name_file_and_key():
    from crldgen.tomlgame import GameFileError

    base = 'kind = "anonymous"\nstates = ["s"]\nactions = ["c", "d"]\n'
    with pytest.raises(GameFileError, match=r"R\[1\]\.value: column 5: unexpected"):
        an.loads_anonymous_game(base + '[T.s]\ns = 1\n[[R]]\nvalue = "k_c __import__"\n')
    with pytest.raises(GameFileError, match=r"T\.s\.x.*not a state"):
        an.loads_anonymous_game(base + '[T.s]\nx = 1\n')
    with pytest.raises(GameFileError, match=r"sums to .* not identically 1"):
        an.loads_anonymous_game(base + '[T.s]\ns = "k_c / n"\n')
    with pytest.raises(GameFileError, match=r"R\[1\]\.action.*'e' is not one of"):
        an.loads_anonymous_game(base + '[T.s]\ns = 1\n[[R]]\naction = "e"\nvalue = 1\n')
    game = an.loads_anonymous_game(base + '[T.s]\ns = 1\n[[R]]\nvalue = "(k_c - 1) / (n - 1)"\n', default_name="g")
    assert game.R[0, 0, 0].free_symbols == {game.symbol("k_c"), game.symbol("n")}


# ----------------------------------------------------------- symbolic layer
def test_closed_form_averages_match_the_compiled_sums(cache_dir):
    game = an.ecological_public_good(2)
    av = game.averages_closed_form()
    dyn = anon(an.ecological_public_good, "sarsa", "sum", **LEARNER_PARAMS)
    x = np.array([[0.2, 0.8], [0.65, 0.35]])
    n = 7
    subs = {game.n_symbol: n, **{s: v for s, v in zip(game.param_symbols, game.params.values())}}
    subs.update({sym: val for sym, val in zip(av["x"].flat, x.flat)})
    num = dyn.averages(x, n=n)
    Tsa = np.array([float(e.xreplace(subs)) for e in av["Tsa"].flat]).reshape(num.Tsa.shape)
    Rsa = np.array([float(e.xreplace(subs)) for e in av["Rsa"].flat]).reshape(num.Rsa.shape)
    np.testing.assert_allclose(Tsa, num.Tsa, rtol=1e-12)
    np.testing.assert_allclose(Rsa, num.Rsa, rtol=1e-12)
    # the n-player dilemma's average payoff is the 2x2 payoff against the mixed strategy
    sd = an.social_dilemma().averages_closed_form()
    xc, xd = sd["x"][0]
    R, T, S, P = (sympy.Symbol(k, real=True) for k in "RTSP")
    assert sympy.simplify(sd["Rsa"][0, 0] - (R * xc + S * xd)) == 0
    assert sympy.simplify(sd["Rsa"][0, 1] - (T * xc + P * xd)) == 0
    with pytest.raises(GameError, match="not a polynomial"):
        random_anonymous_game().averages_closed_form()


def test_compiled_anonymous_module_runs_without_sympy(cache_dir):
    import subprocess
    import sys
    from pathlib import Path

    path = an.generate(an.ecological_public_good(), cache_dir)
    code = ("import sys; from crldgen.runtime.loader import load_module; "
            "from crldgen.anonymous.dynamics import AnonymousDynamics; import numpy as np; "
            f"m = load_module({str(path)!r}); "
            "d = AnonymousDynamics(m, n=5, f=1.2, c=5, m=-5, qc=0.2, qr=0.01); "
            "print(d.step(np.full((2, 2), 0.5)).shape, 'sympy' in sys.modules)")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert out.stdout.split()[-1] == "False", out.stdout


def test_keywords_of_override_methods_are_reserved_parameter_names():
    import inspect

    from crldgen.anonymous import codegen
    from crldgen.anonymous.dynamics import AnonymousDynamics
    from crldgen.anonymous.game import ANONYMOUS_RESERVED
    from crldgen.game import OPTION_NAMES, RESERVED_NAMES

    fns = [getattr(AnonymousDynamics, k) for k in dir(AnonymousDynamics)
           if not k.startswith("_") and callable(getattr(AnonymousDynamics, k))] + [codegen.compile]
    used = set()
    for f in fns:
        params = inspect.signature(f).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            used |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    assert not used - OPTION_NAMES - RESERVED_NAMES - ANONYMOUS_RESERVED
    with pytest.raises(GameError, match="reserved"):
        an.AnonymousGame([[1]], [[[1], [1]]], params={"relax": 1.0}, states=("s",), actions=("c", "d"))


# -------------------------------------------------------------------- plots
def test_flow_and_branch_plots(cache_dir, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from crldgen.anonymous import plot as aplot
    from crldgen.plot import save

    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    kw = dict(n=2, alpha=0.01, beta=100.0, gamma=0.75)
    fps = dyn.fixed_points(8, rng=0, **kw)
    ax = aplot.flow(dyn, ("g", "c"), ("p", "c"), 7, fixed_points=fps, **kw)
    assert [c.N for c in ax.collections] == [49]
    gids = sorted(ln.get_gid() for ln in ax.lines)
    assert gids == sorted(f"fixed_point_{fp.stability.type.replace(' ', '_')}" for fp in fps)
    assert save(ax, tmp_path / "flow.png")
    # chicken at n = 3: the mixed symmetric point is stable on the subspace, unstable to symmetry breaking
    ch = anon(chicken, "sarsa", alpha=0.1, beta=10.0, gamma=0.0)
    br = ch.continuation("beta", np.array([[0.5, 0.5]]), np.linspace(0.5, 10, 12), n=3)
    assert br.stable[0] and not br.stable[-1] and (br.rho_symmetric < 1).all()
    assert br.breaking_points
    ax = aplot.branch(ch, br, ("s", "c"))
    assert {ln.get_gid() for ln in ax.lines} == {"branch_stable", "branch_unstable_to_symmetry_breaking"}
    assert save(ax, tmp_path / "branch.png")


def test_arclength_continuation_finds_the_chapter_folds(cache_dir):
    """n = 2, alpha = 0.05, beta = 50: folds at gamma = 0.82462 and 0.71542 (the full game's continuation, README)."""
    dyn = anon(an.ecological_public_good, "sarsa", **LEARNER_PARAMS)
    kw = dict(n=2, alpha=0.05, beta=50.0)
    x = dyn.trajectory(np.array([[0.5, 0.5], [0.05, 0.95]]), 20000, 1e-12, every=None, gamma=0.6, **kw).final
    br = dyn.arclength_continuation("gamma", x, 0.6, (0.6, 0.9), **kw)
    assert len(br.folds) == 2
    for fold, expected in zip(br.folds, (0.82462, 0.71542)):
        a, b = sorted(fold)
        assert a - 1e-4 <= expected <= b + 1e-4
    for v, x in zip(br.values[::40], br.x[::40]):
        np.testing.assert_allclose(dyn.step(x, gamma=v, **kw), x, atol=1e-10)
    # the middle (saddle) part between the folds is unstable, the outer parts stable
    assert br.stable[0] and br.stable[-1] and not br.stable.all()
    # at n = 1000 the same machinery runs (no fold needed)
    big = dyn.arclength_continuation("qc", np.array([[0.5, 0.5], [0.05, 0.95]]), 0.2, (0.1, 0.3), n=1000,
                                     max_steps=30, ds_max=0.05)
    assert len(big.values) > 3
    for v, x in zip(big.values, big.x):
        np.testing.assert_allclose(dyn.step(x, qc=v, n=1000), x, atol=1e-10)


def test_import_boundaries():
    """The compiled side (dynamics, plot, kernels) never imports sympy; the symbolic side never imports numba."""
    import ast
    from pathlib import Path

    folder = Path(an.__file__).parent

    def imports(path):
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module.split(".")[0])
        return out

    for name in ("dynamics.py", "plot.py", "_kernels.py"):
        assert "sympy" not in imports(folder / name), name
    for name in ("game.py", "games.py", "symbolic.py", "codegen.py", "toml.py"):
        assert "numba" not in imports(folder / name), name


def threshold_game():
    """Piecewise (threshold public good), Min and exp in the counts; plain symbols matched by name."""
    kc, kd = sympy.symbols("k_c k_d")
    n, b, q = sympy.symbols("n b q")
    pot = sympy.Piecewise((b, kc >= n / 2), (0, True))
    collapse = q * sympy.Min(1, 2 * kd / n)
    T = [[1 - collapse, collapse], [sympy.Rational(1, 10), sympy.Rational(9, 10)]]
    R = [[[pot - 1, pot - 1 + sympy.exp(-kd / n)], [pot, pot]], [[-2, -2], [-2, -2]]]
    return an.AnonymousGame(T, R, params={"b": 3.0, "q": 0.5}, states=("h", "l"), actions=("c", "d"),
                            name="anon_threshold")


@pytest.mark.slow
def test_piecewise_threshold_game_equals_its_expansion(cache_dir):
    game = threshold_game()
    dyn = anon(threshold_game, "sarsa", **LEARNER_PARAMS)
    assert dyn.method == "sum"
    rng = np.random.default_rng(8)
    for n in range(1, 7):
        full = game.expand(n).numeric(q=0.7)
        al, be, ga = (np.full(n, LEARNER_PARAMS[k]) for k in ("alpha", "beta", "gamma"))
        x = symmetric_points(rng, 2, 2, count=1)[0]
        X = np.broadcast_to(x, (n, 2, 2))
        np.testing.assert_allclose(dyn.step(x, n=n, q=0.7), ref.strategy_step(full["T"], full["R"], X, al, be, ga)[0],
                                   rtol=1e-10, atol=1e-13)
        J = complex_step_jacobian(full["T"], full["R"], ref.logit_of_strategy(X), al, be, ga, "sarsa")
        np.testing.assert_allclose(dyn.full_jacobian(x, n=n, q=0.7), J, rtol=1e-9, atol=1e-11)
