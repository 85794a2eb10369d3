"""Sample-based learners (crldgen.sample) against plain numpy evaluations of crld-math and the CRLD.

The reference values are computed here from the formulas of crld-math.md sections 2, 3
and 7 with loops over joint actions (never with crldgen code), and compared with the
compiled CRLD (:class:`crldgen.Dynamics`) where it has the same quantity.
"""

import functools
import itertools

import numba
import numpy as np
import pytest

import crldgen
from crldgen import sample
from crldgen.errors import GameError, ParameterError, StrategyError

BETA = 5.0
CHAPTER = dict(alpha=0.05, beta=5.0, gamma=0.75)


# ----------------------------------------------------------------- games
def random_matrix_game(seed=3, n_actions=3):
    """Two agents, one state, three actions, random rewards (numbers only)."""
    rng = np.random.default_rng(seed)
    M = n_actions
    T = np.ones((1, M, M, 1))
    R = rng.normal(size=(2, 1, M, M, 1)).round(3)
    return crldgen.Game(T, R, name=f"sample_matrix{M}")


def noisy_ecopg(noise=0.2):
    """The ecological public good with noisy state observations (actions move the state)."""
    num = crldgen.games.ecological_public_good(2).numeric()
    O = np.array([[[1 - noise, noise], [noise, 1 - noise]]] * 2)
    return crldgen.Game(num["T"], num["R"], O, states=("g", "p"), actions=("c", "d"), name="sample_noisy_ecopg")


ECOPG = functools.partial(crldgen.games.ecological_public_good, 2)


# -------------------------------------------------- plain numpy evaluation (crld-math)
def state_averages(T, R, Y):
    """Risa[i,s,a], Tisas[i,s,a,s'], Tss[s,s'] of crld-math section 2 with state strategies Y[i,s,a]."""
    N, Z, M = Y.shape
    Risa, Tisas, Tss = np.zeros((N, Z, M)), np.zeros((N, Z, M, Z)), np.zeros((Z, Z))
    for s in range(Z):
        for b in itertools.product(range(M), repeat=N):
            prob = np.prod([Y[j, s, b[j]] for j in range(N)])
            Tss[s] += prob * T[(s,) + b]
            for i in range(N):
                others = np.prod([Y[j, s, b[j]] for j in range(N) if j != i])
                Tisas[i, s, b[i]] += others * T[(s,) + b]
                Risa[i, s, b[i]] += others * np.dot(T[(s,) + b], R[(i, s) + b])
    return Risa, Tisas, Tss


def stationary(Tss):
    w, v = np.linalg.eig(Tss.T)
    p = np.real(v[:, np.argmin(abs(w - 1))])
    return p / p.sum()


def obs_averages(T, R, O, X):
    """Rioa[i,o,a], Tioao[i,o,a,o'] (section 7; identity O when fully observed)."""
    N, Qn, M = X.shape
    Y = np.einsum("iso,ioa->isa", O, X)
    Risa, Tisas, Tss = state_averages(T, R, Y)
    Ps = stationary(Tss)
    B = O * Ps[None, :, None]  # (i, s, o)
    B = B / B.sum(1, keepdims=True)
    Rioa = np.einsum("iso,isa->ioa", B, Risa)
    Tioao = np.einsum("iso,isat,itp->ioap", B, Tisas, O)
    return Rioa, Tioao, Ps


def crld_values(T, R, O, X, gamma, pref):
    """V[i,o], Q[i,o,a] of the CRLD (sections 2.5, 2.6, 7.5)."""
    Rioa, Tioao, _ = obs_averages(T, R, O, X)
    N, Qn, M = X.shape
    V, Q = np.zeros((N, Qn)), np.zeros((N, Qn, M))
    for i in range(N):
        Rio = np.einsum("oa,oa->o", X[i], Rioa[i])
        Tio = np.einsum("oa,oap->op", X[i], Tioao[i])
        V[i] = pref[i] * np.linalg.solve(np.eye(Qn) - gamma[i] * Tio, Rio)
        Q[i] = pref[i] * Rioa[i] + gamma[i] * np.einsum("oap,p->oa", Tioao[i], V[i])
    return V, Q


def crld_delta(T, R, O, X, beta, gamma, pref, learner="sarsa"):
    """Normalized CRLD TD error (section 3)."""
    V, Q = crld_values(T, R, O, X, gamma, pref)
    if learner == "sarsa":
        d = beta[:, None, None] * Q - np.log(X)
    else:
        d = beta[:, None, None] * (Q - V[:, :, None])
    return d - d.mean(-1, keepdims=True)


def expected_sample_td(T, R, O, X, Qe, gamma, pref, learner):
    """E[delta_t | o, a] of the online learners at fixed X and estimates Qe (stationary chain)."""
    Rioa, Tioao, _ = obs_averages(T, R, O, X)
    if learner in ("expected_sarsa", "sarsa"):
        nxt = np.einsum("ioa,ioa->io", X, Qe)
    elif learner == "q_learning":
        nxt = Qe.max(-1)
    else:  # actor-critic: critic V = Qe[..., 0]
        V = Qe[..., 0]
        return (pref[:, None, None] * Rioa + gamma[:, None, None] * np.einsum("ioap,ip->ioa", Tioao, V)
                - V[:, :, None])
    return pref[:, None, None] * Rioa + gamma[:, None, None] * np.einsum("ioap,ip->ioa", Tioao, nxt) - Qe


def tensors(game):
    num = game.numeric()
    O = num.get("O")
    if O is None:
        O = np.broadcast_to(np.eye(game.n_states), (game.n_agents, game.n_states, game.n_states)).copy()
    return num["T"], num["R"], O


def interior(rng, shape):
    return rng.dirichlet(np.full(shape[-1], 3.0), size=shape[:-1])


# ---------------------------------------------------------------- batch learners
@pytest.mark.parametrize("learner, replay", [("expected_sarsa", True), ("sarsa", True), ("actor_critic", True),
                                             ("expected_sarsa", False), ("actor_critic", False)])
@pytest.mark.parametrize("K", [100, 1000])
def test_single_state_batch_update_is_the_crld_map_in_expectation(compiled, learner, replay, K):
    game = random_matrix_game()
    dyn = compiled(game, "sarsa" if learner != "actor_critic" else "actor_critic", True)
    rng = np.random.default_rng(7)
    X = interior(rng, (2, 1, 3))
    p = dict(beta=BETA, gamma=0.75, alpha=0.05)
    runs = 4000
    delta, counts = sample.batch_td_errors(game, X, K, runs=runs, learner=learner, seed=11, replay=replay, **p)
    assert counts.min() > 0  # every pair seen in every batch at these K and X
    assert np.allclose(counts.sum(-1), K)
    norm = delta - delta.mean(-1, keepdims=True)
    est = norm.mean(0)
    sem = norm.std(0, ddof=1) / np.sqrt(runs)
    T, R, O = tensors(game)
    ref = crld_delta(T, R, O, X, np.full(2, BETA), np.full(2, 0.75), np.full(2, 0.25),
                     "sarsa" if learner != "actor_critic" else "actor_critic")
    np.testing.assert_allclose(dyn.tderror(X, normalize=True, **p), ref, atol=1e-10)
    # unbiased: within 5 standard errors, and the standard error itself shrinks as 1/sqrt(K)
    assert np.all(np.abs(est - ref) < 5 * sem + 1e-12), (est, ref, sem)
    per_sample_spread = norm.std(0, ddof=1) * np.sqrt(K)
    assert np.all(per_sample_spread < 20 * BETA * np.abs(game.numeric()["R"]).max())
    # the logit step of the batch learner has the CRLD logit step as its expectation
    y_step = p["alpha"] * (delta[..., :-1] - delta[..., -1:]).mean(0)
    y_crld = dyn.logit_step(dyn.to_logit(X), **p) - dyn.to_logit(X)
    tol = 5 * p["alpha"] * (delta[..., :-1] - delta[..., -1:]).std(0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(y_step - y_crld) < tol)


def test_batch_spread_scales_as_one_over_sqrt_K():
    game = random_matrix_game()
    X = interior(np.random.default_rng(1), (2, 1, 3))
    spreads = []
    for K in (100, 400, 1600):
        delta, _ = sample.batch_td_errors(game, X, K, runs=2000, seed=K, beta=BETA)
        norm = delta - delta.mean(-1, keepdims=True)
        spreads.append(norm.std(0).mean())
    ratios = np.array(spreads[:-1]) / np.array(spreads[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.1)


def test_multistate_batch_estimates_converge_to_crld(compiled):
    """Two states: the replayed batch estimates approach the CRLD TD error (bias O(1/K))."""
    game = ECOPG()
    dyn = compiled(ECOPG, "sarsa", True)
    X = interior(np.random.default_rng(5), (2, 2, 2))
    delta, counts = sample.batch_td_errors(game, X, 20000, runs=200, seed=3, **CHAPTER)
    assert counts.min() > 0
    norm = delta - delta.mean(-1, keepdims=True)
    ref = dyn.tderror(X, normalize=True, **CHAPTER)
    sem = norm.std(0, ddof=1) / np.sqrt(norm.shape[0])
    assert np.all(np.abs(norm.mean(0) - ref) < 5 * sem + 2e-3)


def test_partially_observed_batch_estimates_converge_to_crld(compiled):
    """Noisy observations: the batch frequencies give the belief-weighted CRLD of section 7."""
    game = noisy_ecopg(0.2)
    dyn = compiled(game, "sarsa", True)
    X = interior(np.random.default_rng(8), (2, 2, 2))
    delta, counts = sample.batch_td_errors(game, X, 20000, runs=200, seed=5, **CHAPTER)
    assert counts.min() > 0
    norm = delta - delta.mean(-1, keepdims=True)
    T, R, O = tensors(game)
    ref = crld_delta(T, R, O, X, np.full(2, BETA), np.full(2, 0.75), np.full(2, 0.25))
    np.testing.assert_allclose(dyn.tderror(X, normalize=True, **CHAPTER), ref, atol=1e-9)
    sem = norm.std(0, ddof=1) / np.sqrt(norm.shape[0])
    assert np.all(np.abs(norm.mean(0) - ref) < 5 * sem + 2e-3)


def test_per_agent_parameters_in_one_batch_step(compiled):
    """One batch update with per-agent alpha, beta, gamma: the mean logit step is the CRLD's."""
    game = random_matrix_game()
    dyn = compiled(game, "sarsa", True)
    X0 = interior(np.random.default_rng(3), (2, 1, 3))
    p = dict(alpha=[0.1, 0.3], beta=[2.0, 6.0], gamma=[0.5, 0.8])
    res = sample.simulate(game, X0, 1, batch=4000, runs=400, seed=9, learner="sarsa", **p)
    y = np.log(res.final[..., :-1] / res.final[..., -1:])
    y0 = dyn.to_logit(X0)
    step = y - y0
    ref = dyn.logit_step(y0, **p) - y0
    sem = step.std(0, ddof=1) / np.sqrt(step.shape[0])
    assert np.all(np.abs(step.mean(0) - ref) < 5 * sem), (step.mean(0), ref, sem)
    # with the agents' parameters swapped the CRLD step differs by many standard errors
    swapped = dyn.logit_step(y0, alpha=[0.3, 0.1], beta=[6.0, 2.0], gamma=[0.8, 0.5]) - y0
    assert np.any(np.abs(step.mean(0) - swapped) > 20 * sem)


@pytest.mark.parametrize("learner", ["expected_sarsa", "sarsa", "q_learning"])
def test_one_pass_batch_is_the_value_space_map_in_expectation(learner):
    """replay=False: the batch mean TD error is E[delta_t | o, a] with the current estimates (section 10)."""
    game = ECOPG()
    rng = np.random.default_rng(12)
    X = interior(rng, (2, 2, 2))
    Qe = rng.normal(size=(2, 2, 2))
    delta, counts = sample.batch_td_errors(game, X, 5000, runs=400, learner=learner, seed=2, Q=Qe, replay=False,
                                           **CHAPTER)
    assert counts.min() > 0
    T, R, O = tensors(game)
    ref = expected_sample_td(T, R, O, X, Qe, np.full(2, 0.75), np.full(2, 0.25), learner)
    est = delta / BETA
    sem = est.std(0, ddof=1) / np.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(0) - ref) < 5 * sem + 1e-3), (est.mean(0), ref, sem)


# ---------------------------------------------------------------- online TD errors
@pytest.mark.parametrize("learner", ["expected_sarsa", "sarsa", "q_learning", "actor_critic"])
def test_online_td_error_expectation_at_fixed_strategy(compiled, learner):
    game = ECOPG()
    rng = np.random.default_rng(2)
    X = interior(rng, (2, 2, 2))
    T, R, O = tensors(game)
    gamma, pref = np.full(2, 0.75), np.full(2, 0.25)
    V, Q = crld_values(T, R, O, X, gamma, pref)
    if learner == "actor_critic":
        Qe = np.repeat(V[:, :, None], 2, axis=-1)  # critic at the true values
    else:
        # estimates ln X / beta + C(s) with C chosen so that sum_b X Q = V (the CRLD's values)
        Qe = np.log(X) / BETA
        Qe = Qe + (V - np.einsum("isa,isa->is", X, Qe))[:, :, None]
    st = sample.td_errors(game, X, Qe, 200_000, runs=16, burn=50, learner=learner, seed=4, **CHAPTER)
    ref = expected_sample_td(T, R, O, X, Qe, gamma, pref, learner)
    assert np.all(np.abs(st.mean - ref) < 5 * st.stderr), (st.mean, ref, st.stderr)
    if learner != "q_learning":
        dyn = compiled(ECOPG, "sarsa" if learner != "actor_critic" else "actor_critic", True)
        d = BETA * st.mean
        d = d - d.mean(-1, keepdims=True)
        np.testing.assert_allclose(dyn.tderror(X, normalize=True, **CHAPTER),
                                   crld_delta(T, R, O, X, np.full(2, BETA), gamma, pref,
                                              "actor_critic" if learner == "actor_critic" else "sarsa"),
                                   atol=1e-9)
        assert np.all(np.abs(d - dyn.tderror(X, normalize=True, **CHAPTER)) < 5 * BETA * st.stderr.max())


def test_online_td_error_arbitrary_estimates():
    """E[delta_t] follows the formula for any estimates, not only consistent ones."""
    game = ECOPG()
    rng = np.random.default_rng(9)
    X = interior(rng, (2, 2, 2))
    Qe = rng.normal(size=(2, 2, 2))
    T, R, O = tensors(game)
    st = sample.td_errors(game, X, Qe, 100_000, runs=16, seed=8, gamma=0.6, prefactor=False)
    ref = expected_sample_td(T, R, O, X, Qe, np.full(2, 0.6), np.ones(2), "expected_sarsa")
    assert np.all(np.abs(st.mean - ref) < 5 * st.stderr)


def test_partially_observed_sampling(compiled):
    game = noisy_ecopg(0.2)
    X = interior(np.random.default_rng(4), (2, 2, 2))
    T, R, O = tensors(game)
    Rioa, Tioao, Ps = obs_averages(T, R, O, X)
    gamma, pref = np.full(2, 0.75), np.full(2, 0.25)
    V, _ = crld_values(T, R, O, X, gamma, pref)
    Qe = np.log(X) / BETA
    Qe = Qe + (V - np.einsum("ioa,ioa->io", X, Qe))[:, :, None]
    st = sample.td_errors(game, X, Qe, 200_000, runs=16, burn=200, seed=6, **CHAPTER)
    # observation frequencies: P(s, o) = Ps[s] O[i, s, o]
    freq = st.state_obs / st.state_obs.sum(axis=(1, 2), keepdims=True)
    expected = Ps[None, :, None] * O
    np.testing.assert_allclose(freq, expected, atol=5e-3)
    assert np.all(np.abs(freq - expected) < 0.05 * expected)
    # TD errors: belief-weighted averages of section 7
    ref = expected_sample_td(T, R, O, X, Qe, gamma, pref, "expected_sarsa")
    assert np.all(np.abs(st.mean - ref) < 5 * st.stderr)
    dyn = compiled(game, "sarsa", True)
    d = BETA * st.mean
    d = d - d.mean(-1, keepdims=True)
    assert np.all(np.abs(d - dyn.tderror(X, normalize=True, **CHAPTER)) < 5 * BETA * st.stderr.max())


# ------------------------------------------------------------ seeds, threads, simplex
@pytest.mark.parametrize("batch", [None, 200])
def test_seeds_reproduce_independent_of_threads(batch):
    game = ECOPG()
    X0 = np.full((2, 2, 2), 0.5)
    kw = dict(batch=batch, runs=6, every=7, learner="sarsa", **CHAPTER)
    steps = 20 if batch else 3000
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sample.simulate(game, X0, steps, seed=42, **kw)
        numba.set_num_threads(max(2, before))
        two = sample.simulate(game, X0, steps, seed=42, **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.X, two.X)
    np.testing.assert_array_equal(one.final, two.final)
    other = sample.simulate(game, X0, steps, seed=43, **kw)
    assert not np.array_equal(one.X, other.X)
    # runs are different streams
    assert not np.array_equal(one.X[0], one.X[1])
    assert one.X.shape == (6, len(range(0, steps + 1, 7)), 2, 2, 2)
    np.testing.assert_array_equal(one.times, np.arange(0, steps + 1, 7))


def test_spawned_keys_are_seedsequence_children():
    keys, s0 = sample.spawn_keys(5, 3, 2)
    for r, child in enumerate(np.random.SeedSequence(5).spawn(3)):
        words = child.generate_state(5, np.uint64)
        np.testing.assert_array_equal(keys[r], words[:4])
        assert s0[r] == int(words[4] % np.uint64(2))


def test_xoshiro_reference_values():
    """The generator is xoshiro256** (reference output for the state 1, 2, 3, 4)."""
    from crldgen.sample import _kernels

    key = np.array([1, 2, 3, 4], dtype=np.uint64)
    out = np.empty(3)
    _kernels.uniforms(key, 3, out)
    # first outputs of the reference C implementation for s = {1, 2, 3, 4}: 11520, 0, 1509978240
    ref = np.array([11520, 0, 1509978240], dtype=np.uint64) >> np.uint64(11)
    np.testing.assert_array_equal(out, ref.astype(float) * 2.0 ** -53)


@pytest.mark.parametrize("learner", sample.LEARNERS)
@pytest.mark.parametrize("batch", [None, 50])
def test_strategies_stay_on_the_simplex(learner, batch):
    game = noisy_ecopg(0.1) if learner == "sarsa" else ECOPG()
    X0 = interior(np.random.default_rng(0), (2, 2, 2))
    res = sample.simulate(game, X0, 40 if batch else 4000, batch=batch, runs=4, seed=1, learner=learner,
                          every=10 if batch else 500, alpha=0.2, beta=20.0, gamma=0.9)
    assert np.all(np.isfinite(res.X)) and np.all(res.X >= 0)
    np.testing.assert_allclose(res.X.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(res.final.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(res.X[:, 0], np.broadcast_to(X0, res.X[:, 0].shape), atol=1e-12)


@pytest.mark.parametrize("learner", sample.LEARNERS)
def test_online_learners_learn_to_defect_in_a_prisoners_dilemma(learner):
    """Defection is dominant (by 0.5 whatever the other does): most runs end near softmax(beta 0.5)."""
    game = crldgen.games.social_dilemma(R=1.0, T=1.5, S=-0.5, P=0.0)
    res = sample.simulate(game, np.full((2, 1, 2), 0.5), 20000, batch=None, runs=16, seed=0, every=20000,
                          learner=learner, alpha=0.05, beta=10.0, gamma=0.0)
    assert np.median(res.final[:, :, 0, 1]) > 0.9


# ------------------------------------------------------------------- bad input
def test_bad_input_is_reported():
    game = ECOPG()
    X0 = np.full((2, 2, 2), 0.5)
    with pytest.raises(ParameterError, match="unknown sample learner"):
        sample.simulate(game, X0, 2, learner="dqn")
    with pytest.raises(ParameterError, match="gamma"):
        sample.simulate(game, X0, 2, gamma=1.0)
    with pytest.raises(ParameterError, match="alpha_5"):
        sample.simulate(game, X0, 2, alpha_5=0.1)
    with pytest.raises(ParameterError, match="unknown parameter 'zeta'"):
        sample.simulate(game, X0, 2, zeta=0.1)
    with pytest.raises(GameError):
        sample.simulate(game, X0, 2, qc=1.5)
    with pytest.raises(StrategyError, match="shape"):
        sample.simulate(game, np.full((2, 2, 3), 1 / 3), 2)
    with pytest.raises(StrategyError, match="interior"):
        sample.simulate(game, np.array([[[1.0, 0.0]] * 2] * 2), 2)
    with pytest.raises(ParameterError, match="batch"):
        sample.simulate(game, X0, 2, batch=0)
    with pytest.raises(ParameterError, match="s0"):
        sample.simulate(game, X0, 2, s0=5)
    with pytest.raises(ParameterError, match="CRLD"):
        sample.compare(game, X0, 2, 10, learner="q_learning")


# ------------------------------------------------------------ comparison with CRLD
def test_compare_and_per_agent_parameters(compiled):
    game = ECOPG()
    dyn = compiled(ECOPG, "sarsa", True)
    X0 = np.full((2, 2, 2), 0.5)
    p = dict(alpha=[0.05, 0.1], beta=5.0, gamma=[0.75, 0.7], qc=0.25)
    cmp = sample.compare(game, X0, 10, 2000, dyn=dyn, runs=20, seed=2, **p)
    ref = X0.copy()
    for _ in range(10):
        ref = dyn.step(ref, **p)
    np.testing.assert_allclose(cmp.crld[-1], ref)
    assert cmp.mean.shape == (11, 2, 2, 2) and cmp.rms.shape == (11,)
    assert cmp.rms[0] == 0.0 and np.all(cmp.rms[1:] > 0) and np.all(cmp.rms < 0.05)
    np.testing.assert_allclose(cmp.sample.params["alpha"], [0.05, 0.1])
    with pytest.raises(ParameterError, match="actor_critic"):
        sample.compare(game, X0, 2, 10, dyn=dyn, learner="actor_critic")


@pytest.mark.slow
def test_distance_falls_as_one_over_sqrt_K_on_the_ecological_public_good(compiled):
    """The chapter's EcoPG (alpha 0.05, gamma 0.75, beta 5, prefactor), 30 updates, K = 1e3..1e5."""
    game = ECOPG()
    dyn = compiled(ECOPG, "sarsa", True)
    X0 = np.full((2, 2, 2), 0.5)
    X0[:, 1] = [[0.3, 0.7], [0.6, 0.4]]
    scan = sample.distance_vs_batch(game, X0, 30, [1000, 10000, 100000], dyn=dyn, runs=24, seed=1, **CHAPTER)
    assert -0.62 < scan.slope < -0.38, scan
    ratios = scan.rms[:-1] / scan.rms[1:]
    assert np.all((ratios > np.sqrt(10) / 1.5) & (ratios < np.sqrt(10) * 1.5)), scan
    # the systematic part (mean over runs vs CRLD) is not what dominates the distance
    assert np.all(scan.bias < scan.rms)


# ------------------------------------------------------------------ example and plots
def test_sample_example_quick(tmp_path, cache_dir, capsys):
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    sys.path.insert(0, str(examples))
    try:
        import _common
        import sample_learners

        _common.CACHE_DIR = cache_dir
        written = sample_learners.main(["--out", str(tmp_path), "--quick", "--dpi", "40"])
    finally:
        _common.CACHE_DIR = None
        sys.path.remove(str(examples))
    assert sorted(p.name for p in written) == ["sample_distance.png", "sample_trajectories.png"]
    assert all(p.stat().st_size > 1000 for p in written)
    log = capsys.readouterr().out
    slope = float(log.split("log-log slope ")[1].split()[0])
    assert -0.8 < slope < -0.3


def test_sample_plots_draw_runs_over_the_flow(compiled, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from crldgen import plot

    game = ECOPG()
    dyn = compiled(ECOPG, "sarsa", True)
    X0 = np.full((2, 2, 2), 0.5)
    cmp = sample.compare(game, X0, 5, 500, dyn=dyn, runs=7, seed=0, **CHAPTER)
    axes = plot.sample_trajectories(cmp, ([0], [0, 1], [0]), ([1], [0, 1], [0]), dyn, points=4, **CHAPTER)
    assert len(axes) == 2
    for ax in axes:
        gids = [ln.get_gid() for ln in ax.lines]
        assert gids.count("sample") == 7 and gids.count("crld") == 1
        assert any(c.get_gid() == "flow" for c in ax.collections)
        crld = [ln for ln in ax.lines if ln.get_gid() == "crld"][0]
        assert len(crld.get_xdata()) == 6
    scan = sample.distance_vs_batch(game, X0, 3, [100, 400], dyn=dyn, runs=4, seed=0, **CHAPTER)
    ax = plot.distance_vs_batch(scan)
    assert {ln.get_gid() for ln in ax.lines} == {"distance", "bias", "reference"}
    plot.save(ax, tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000


# ------------------------------------------------------------------------ CLI
def test_cli_sample(tmp_path, cache_dir, compiled):
    import io

    from crldgen.cli import main

    compiled(ECOPG, "sarsa", True)  # the CRLD module is then in the session cache
    buf = io.StringIO()
    out = tmp_path / "runs.npz"
    rc = main(["sample", "ecological-public-good", "--beta", "5", "--steps", "6", "--batch", "500", "--runs", "3",
               "--compare", "--cache-dir", str(cache_dir), "--x0", "0.5,0.3,0.5,0.6", "--out", str(out)], out=buf)
    assert rc == 0, buf.getvalue()
    text = buf.getvalue()
    assert "expected_sarsa (batch K=500)" in text and "RMS distance to CRLD after 6 updates" in text
    data = np.load(out)
    assert data["X"].shape == (3, 7, 2, 2, 2) and data["crld"].shape == (7, 2, 2, 2)
    np.testing.assert_allclose(data["X"][:, 0, 0, 1], [[0.3, 0.7]] * 3)
    # the same seed gives the same runs as the Python API
    X0 = np.array([[[0.5, 1 - 0.5], [0.3, 1 - 0.3]], [[0.5, 1 - 0.5], [0.6, 1 - 0.6]]])
    res = sample.simulate(ECOPG(), X0, 6, batch=500, runs=3, seed=0, beta=5.0, alpha=0.05,
                          gamma=0.75)
    np.testing.assert_array_equal(res.X, data["X"])
    assert main(["sample", "social-dilemma", "--batch", "0", "--steps", "100", "--learner", "q_learning"],
                out=io.StringIO()) == 0
    assert main(["sample", "social-dilemma", "--batch", "0", "--compare"], out=io.StringIO()) == 2
    assert main(["sample", "social-dilemma", "--gamma", "1.5"], out=io.StringIO()) == 2
    assert main(["sample", "social-dilemma", "--param", "zz=1"], out=io.StringIO()) == 2
