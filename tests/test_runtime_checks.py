"""Run-time checks of every call: game parameters (T and O stay probabilities), learner
ranges, strategies and log-ratios, non-finite results; the checked paths return exactly
what the raw kernels return; ``game_tensors`` against the game's own sympy evaluation.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
import sympy

import crldgen
from crldgen.errors import DivergenceError, ParameterError, StrategyError
from crldgen.games import ecological_public_good, risk_reward, uncertain_social_dilemma
from crldgen.runtime import dynamics as rt

uncertain = functools.partial(uncertain_social_dilemma)


def _row_game():
    """One agent, two states; T rows sum to 2p (valid only at p = 0.5): built unchecked."""
    p = sympy.Symbol("p", real=True)
    T = np.empty((2, 2, 2), dtype=object)
    R = np.empty((1, 2, 2, 2), dtype=object)
    for s, a, t in np.ndindex(2, 2, 2):
        T[s, a, t] = p
        R[0, s, a, t] = 1.0 if a == t else 0.0
    return crldgen.Game(T, R, params={p: 0.5}, name="row_sum_game", check=False)


@pytest.fixture(scope="module")
def po(compiled):
    return compiled(uncertain, "sarsa", True, alpha=0.05, beta=5.0, gamma=0.8)


@pytest.fixture(scope="module")
def X(ecopg2):
    return ecopg2.random_strategy(3)


# ---------------------------------------------------------------- game parameters
GAME_PARAMETER_CASES = [
    # (call, expected message fragments)
    (lambda d, X: d.step(X, qc=1.5), [r"T[1, 1, 1, 0] = 1.5", "'qc': 1.5", "not a probability in [0, 1]"]),
    (lambda d, X: d.step(X, qc=-0.5), ["T[", "= -0.25", "'qc': -0.5"]),
    (lambda d, X: d.tderror(X, qr=1.7), ["T[0, 0, 0, 0] = -0.7", "'qr': 1.7"]),
    (lambda d, X: d.reverse_step(X, qr=-0.01), ["T[0, 0, 0, 0] = 1.01", "'qr': -0.01"]),
    (lambda d, X: d.averages(X, qc=2.0), ["T[", "'qc': 2.0"]),
    (lambda d, X: d.jacobian(X, qc=1.5), ["T[1, 1, 1, 0] = 1.5"]),
    (lambda d, X: d.stationary_distribution(X, qr=3.0), ["T[", "'qr': 3.0"]),
    (lambda d, X: d.game_tensors(qc=1.5), ["T[1, 1, 1, 0] = 1.5"]),
    (lambda d, X: d.trajectory(X, 10, qc=1.5), ["T[1, 1, 1, 0] = 1.5"]),
    (lambda d, X: d.trajectories(X, 10, qr=[0.01, 1.7]), ["T[0, 0, 0, 0] = -0.7", "batch member 1", "'qr': 1.7"]),
    (lambda d, X: d.trajectories(np.stack([X, X, X]), 10, qc=np.array([0.2, 0.3, -1.0])),
     ["batch member 2", "'qc': -1.0"]),
    (lambda d, X: d.sweep(X, "qc", [0.1, 0.5, 2.0], 10), ["batch member 2", "'qc': 2.0"]),
    (lambda d, X: d.sweep(X, "qr", [1.5, 0.1], 10, carry=False), ["batch member 0", "'qr': 1.5"]),
    (lambda d, X: d.sweep(X, "gamma", [0.5, 0.6], 10, qc=1.5), ["T[1, 1, 1, 0] = 1.5"]),
    (lambda d, X: d.step(X, qc=float("nan")), ["game parameters", "'qc': nan", "must be finite"]),
    (lambda d, X: d.step(X, qc="abc"), ["qc = 'abc' is not a number"]),
    (lambda d, X: d.step(X, zeta=1.0), ["unknown parameter 'zeta'"]),
    (lambda d, X: d.game_tensors(gamma=0.5), ["game parameters only", "'gamma'"]),
]


@pytest.mark.parametrize("call, fragments", GAME_PARAMETER_CASES)
def test_bad_game_parameters_raise_parameter_error_naming_the_culprit(ecopg2, X, call, fragments):
    with pytest.raises(ParameterError) as info:
        call(ecopg2, X)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_invalid_parameters_are_rejected_again_on_repeated_calls(ecopg2, X):
    """The parameter cache keeps valid sets only."""
    for _ in range(3):
        with pytest.raises(ParameterError, match=r"T\[1, 1, 1, 0\] = 1.5"):
            ecopg2.step(X, qc=1.5)


def test_invalid_defaults_are_rejected_at_construction(ecopg2, cache_dir):
    with pytest.raises(ParameterError, match=r"T\[1, 1, 1, 0\] = 1.5 .*defaults of crldgen.compile"):
        crldgen.compile(ecological_public_good(2), cache_dir=cache_dir, qc=1.5)
    with pytest.raises(ParameterError, match=r"T\[0, 0, 0, 0\] = -0.7"):
        crldgen.Dynamics(ecopg2.module, f=1.2, c=5.0, m=-5.0, qc=0.2, qr=1.7)


def test_the_command_line_rejects_invalid_game_parameters(cache_dir, capsys):
    from crldgen.cli import main

    status = main(["simulate", "ecological-public-good", "--param", "qc=1.5", "--tmax", "5",
                   "--cache-dir", str(cache_dir)], out=io.StringIO())
    err = capsys.readouterr().err
    assert status == 2
    assert "T[1, 1, 1, 0] = 1.5" in err and "'qc': 1.5" in err
    assert "Traceback" not in err


def test_observation_probabilities_are_checked(po):
    X = po.random_strategy(0)
    with pytest.raises(ParameterError) as info:
        po.step(X, noise=1.5)
    msg = str(info.value)
    assert "O[0, 0, 0] = -0.5" in msg and "'noise': 1.5" in msg and "observation" in msg
    with pytest.raises(ParameterError, match=r"O\[.*batch member 1"):
        po.trajectories(X, 5, noise=[0.2, -0.1])
    with pytest.raises(ParameterError, match=r"T\[0, 0, 0, 0\] = -0.2"):
        po.tderror(X, psh=1.2)


def test_row_sums_are_checked(compiled):
    dyn = compiled(_row_game(), "sarsa", True, alpha=0.1, beta=1.0, gamma=0.5)
    X = dyn.uniform_strategy()
    assert np.all(np.isfinite(dyn.step(X)))  # p = 0.5: valid
    with pytest.raises(ParameterError) as info:
        dyn.step(X, p=0.4)
    msg = str(info.value)
    assert "T[0, 0, :] sums to 0.8 over s'" in msg and "'p': 0.4" in msg and "must sum to 1" in msg


def test_boundary_probabilities_within_the_game_tolerance_are_accepted(ecopg2, X):
    for qc, qr in ((0.0, 0.0), (1.0, 1.0), (1.0 + 1e-13, -1e-13)):
        assert np.all(np.isfinite(ecopg2.step(X, qc=qc, qr=qr)))
    with pytest.raises(ParameterError, match="not a probability"):
        ecopg2.step(X, qc=1.0 + 1e-9)


def test_the_tolerances_are_those_of_game_validation():
    from crldgen import game

    assert rt.PROB_ATOL == game._PROB_ATOL
    with pytest.raises(crldgen.GameError, match=r"T\[1, 1, 1, 0\] = 1.5 at parameters"):
        ecological_public_good(2, qc=1.5)


# ------------------------------------------------------------------ learner parameters
LEARNER_CASES = [
    ({"alpha": 0.0}, ["alpha", "learning rates must lie in (0, 1]"]),
    ({"alpha": 1.5}, ["alpha", "(0, 1]"]),
    ({"alpha_1": 2.0}, ["alpha = [0.01 2.  ]", "(0, 1]", "agent 1 has 2"]),
    ({"beta": 0.0}, ["beta", "choice intensities must be > 0"]),
    ({"beta": -1.0}, ["beta", "> 0"]),
    ({"beta": float("inf")}, ["beta", "not finite"]),
    ({"gamma": 1.0}, ["gamma", "discount factors must lie in [0, 1)"]),
    ({"gamma": -0.1}, ["gamma", "[0, 1)"]),
    ({"gamma": [0.5, 1.2]}, ["gamma = [0.5 1.2]", "[0, 1)", "agent 1 has 1.2"]),
    ({"gamma": [0.5, 0.6, 0.7]}, ["gamma must be a scalar or have one value per agent"]),
    ({"alpha_7": 0.5}, ["alpha_7: agent index 7 out of range"]),
]


@pytest.mark.parametrize("override, fragments", LEARNER_CASES)
def test_bad_learner_parameters_raise_parameter_error(ecopg2, X, override, fragments):
    with pytest.raises(ParameterError) as info:
        ecopg2.step(X, **override)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_batch_learner_parameters_are_checked_per_member(ecopg2, X):
    with pytest.raises(ParameterError, match=r"gamma = \[1. 1.\] \(batch member 2\): discount"):
        ecopg2.trajectories(X, 5, gamma=[0.5, 0.6, 1.0])
    with pytest.raises(ParameterError, match=r"beta = .*\(batch member 1\) is not finite \(agent 0 has nan\)"):
        ecopg2.trajectories(X, 5, beta=[1.0, np.nan])


# ----------------------------------------------------------------------- strategies
STRATEGY_CASES = [
    ("step", (0, 1, 0), np.nan, r"X[0, 1, 0] = nan is not finite"),
    ("tderror", (1, 0, 1), np.inf, r"X[1, 0, 1] = inf is not finite"),
    ("step", (1, 0, 1), -0.2, r"X[1, 0, 1] = -0.2 is negative"),
    ("tderror", (1, 1, 0), 0.7, r"X[1, 1, :] sums to"),
    ("step", (0, 0, 1), 0.0, r"X[0, 0, 1] = 0: the learning dynamics need strictly positive"),
    ("reverse_step", (1, 1, 1), 0.0, r"X[1, 1, 1] = 0"),
    ("jacobian", (0, 1, 1), 0.0, r"X[0, 1, 1] = 0"),
    ("averages", (0, 0, 0), np.nan, r"X[0, 0, 0] = nan"),
]


@pytest.mark.parametrize("method, idx, value, fragment", STRATEGY_CASES)
def test_bad_strategies_raise_strategy_error_naming_the_entry(ecopg2, method, idx, value, fragment):
    X = ecopg2.uniform_strategy()
    X[idx] = value
    if value == 0.0:
        X[idx[:2] + (1 - idx[2],)] = 1.0
    with pytest.raises(StrategyError) as info:
        getattr(ecopg2, method)(X)
    assert fragment in str(info.value)


def test_bad_trajectory_starts_name_the_entry(ecopg2):
    X = ecopg2.uniform_strategy()
    X[1, 0, 0] = np.nan
    with pytest.raises(StrategyError, match=r"X0\[1, 0, 0\] = nan is not finite"):
        ecopg2.trajectory(X, 10)
    X = ecopg2.uniform_strategy()
    X[0, 1] = [1.0, 0.0]
    with pytest.raises(StrategyError, match=r"X0\[0, 1, 1\] = 0: .*strictly positive"):
        ecopg2.trajectory(X, 10)
    with pytest.raises(StrategyError, match="takes one initial strategy"):
        ecopg2.trajectory(np.stack([ecopg2.uniform_strategy()] * 2), 10)


@pytest.mark.parametrize("method", ["logit_step", "from_logit"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_log_ratios_are_rejected(ecopg2, method, value):
    y = np.zeros((2, 2, 1))
    y[1, 0, 0] = value
    with pytest.raises(StrategyError) as info:
        getattr(ecopg2, method)(y)
    assert f"y[1, 0, 0] = {value}" in str(info.value) and "must be finite" in str(info.value)


def test_out_arrays_are_validated(ecopg2, X):
    for bad in (np.empty((2, 2)), np.empty((2, 2, 2), dtype=np.float32), np.empty((2, 2, 4))[..., ::2], [0.0] * 8):
        with pytest.raises(ParameterError, match="out must be a writeable C-contiguous float64 array"):
            ecopg2.step(X, out=bad)
    ro = np.empty((2, 2, 2))
    ro.flags.writeable = False
    with pytest.raises(ParameterError, match="writeable"):
        ecopg2.tderror(X, out=ro)


# -------------------------------------------------------------------- non-finite results
EXTREME = {"beta": 1e308, "c": 1e308}


@pytest.mark.parametrize("method", ["step", "reverse_step", "tderror", "jacobian"])
def test_non_finite_results_raise_divergence_error_naming_call_and_parameters(ecopg2, X, method):
    with pytest.raises(DivergenceError) as info:
        getattr(ecopg2, method)(X, **EXTREME)
    msg = str(info.value)
    assert msg.startswith(method + ":") and "beta=[1.e+308 1.e+308]" in msg and "c=1e+308" in msg


def test_non_finite_averages_raise_divergence_error(ecopg2, X):
    with pytest.raises(DivergenceError, match=r"^averages: the value Ris is not finite .*f=1e\+308, c=1e\+308"):
        ecopg2.averages(X, f=1e308, c=1e308)


def test_non_finite_logit_step_raises_divergence_error(ecopg2):
    with pytest.raises(DivergenceError, match=r"^logit_step: .*c=1e\+308"):
        ecopg2.logit_step(np.zeros((2, 2, 1)), **EXTREME)


def test_divergence_error_is_a_crldgen_error(ecopg2, X):
    with pytest.raises(crldgen.CrldgenError):
        ecopg2.step(X, **EXTREME)


# ------------------------------------------------------------ checked == raw kernels
def _raw(dyn, **p):
    a, b, g, th = dyn.params(**p)
    return dyn.module, a, b, g, th


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("override", [{}, {"gamma": 0.9}, {"qc": 0.4, "beta_1": 20.0}])
def test_checked_calls_are_bit_identical_to_the_raw_kernels(ecopg2, seed, override):
    X = ecopg2.random_strategy(seed)
    m, a, b, g, th = _raw(ecopg2, **override)
    flat = X.ravel().copy()
    for direction, method in ((1.0, ecopg2.step), (-1.0, ecopg2.reverse_step)):
        expected = np.empty(flat.size)
        m.strategy_step(flat, th, a, b, g, direction, expected)
        np.testing.assert_array_equal(method(X, **override), expected.reshape(X.shape))
    expected = np.empty(flat.size)
    m.tderror(flat, th, a, b, g, expected)
    np.testing.assert_array_equal(ecopg2.tderror(X, **override), expected.reshape(X.shape))
    J = np.empty(ecopg2.n_free ** 2)
    m.jacobian(flat, th, a, b, g, J)
    np.testing.assert_array_equal(ecopg2.jacobian(X, **override), J.reshape(ecopg2.n_free, -1))
    y = np.log(X[..., :-1]) - np.log(X[..., -1:])
    Xs, ys = np.empty(flat.size), np.empty(ecopg2.n_free)
    m.strategy_of_logit(y.ravel(), Xs)
    m.logit_step(Xs, y.ravel(), th, a, b, g, ys)
    np.testing.assert_array_equal(ecopg2.logit_step(y, **override), ys.reshape(y.shape))
    np.testing.assert_array_equal(X.ravel(), flat)  # the input is not modified


@pytest.mark.parametrize("tmax, every", [(1, 1), (10, 1), (200, 3), (50, None)])
def test_single_trajectories_are_bit_identical_to_the_raw_loop_kernel(ecopg2, tmax, every):
    X = ecopg2.random_strategy(tmax)
    m, a, b, g, th = _raw(ecopg2, gamma=0.8)
    arr = np.array(X)[None]  # the log-ratios exactly as the batch validator computes them
    y0 = (np.log(arr[..., :-1]) - np.log(arr[..., -1:])).reshape(-1)
    k_every = every or 0
    Xrec = np.empty((0 if not every else -(-tmax // every), X.size))
    X_out, y_out = np.empty(X.size), np.empty(ecopg2.n_free)
    t, conv, status, stored = m.trajectory(X.ravel().copy(), y0, 0, th, a, b, g, tmax, 1e-5, 1.0, k_every, Xrec,
                                           X_out, y_out)
    res = ecopg2.trajectory(X, tmax, 1e-5, every=every, gamma=0.8)
    assert (res.steps, res.converged, res.diverged) == (t, conv, False)
    np.testing.assert_array_equal(res.final.ravel(), X_out)
    np.testing.assert_array_equal(res.final_logit.ravel(), y_out)
    if every:
        np.testing.assert_array_equal(res.X.reshape(stored, -1), Xrec[:stored])
    else:
        assert res.X is None
    batch = ecopg2.trajectories(X, tmax, 1e-5, every=every, gamma=[0.8])
    np.testing.assert_array_equal(batch.final[0], res.final)
    assert res.params["gamma"].tolist() == [0.8, 0.8] and float(res.params["qc"]) == 0.2


def test_out_arrays_give_the_same_numbers_and_may_alias_the_input(ecopg2, X):
    out = np.empty_like(X)
    assert ecopg2.step(X, out=out) is out
    np.testing.assert_array_equal(out, ecopg2.step(X))
    inplace = X.copy()
    ecopg2.step(inplace, out=inplace)
    np.testing.assert_array_equal(inplace, ecopg2.step(X))
    td = np.empty_like(X)
    assert ecopg2.tderror(X, normalize=True, out=td) is td
    np.testing.assert_array_equal(td, ecopg2.tderror(X, normalize=True))


def test_cached_overrides_give_the_numbers_of_fresh_defaults(ecopg2, X, cache_dir):
    fresh = crldgen.Dynamics(ecopg2.module, f=1.2, c=5.0, m=-5.0, qc=0.3, qr=0.01, alpha=0.01, beta=100.0,
                             gamma=0.8)
    for _ in range(3):
        np.testing.assert_array_equal(ecopg2.step(X, gamma=0.8, qc=0.3), fresh.step(X))
    np.testing.assert_array_equal(ecopg2.step(X, gamma=[0.8, 0.8], qc=0.3), fresh.step(X))  # uncached path
    assert ecopg2.params()[2].tolist() == [0.75, 0.75]


def test_non_array_inputs_take_the_slow_path_with_the_same_numbers(ecopg2, X):
    np.testing.assert_array_equal(ecopg2.step(X.tolist()), ecopg2.step(X))
    np.testing.assert_array_equal(ecopg2.step(np.asfortranarray(X)), ecopg2.step(X))
    np.testing.assert_array_equal(ecopg2.tderror(X.astype(">f8")), ecopg2.tderror(X))
    np.testing.assert_array_equal(ecopg2.trajectory(X.tolist(), 20).final, ecopg2.trajectory(X, 20).final)


# ----------------------------------------------------------------- game_tensors
POINTS = [{}, {"qc": 0.0, "qr": 1.0}, {"f": 3.7, "c": -1.25, "m": 0.5, "qc": 0.61, "qr": 0.33}]


@pytest.mark.parametrize("point", POINTS)
def test_game_tensors_match_the_sympy_evaluation(ecopg2, point):
    game = ecological_public_good(2)
    num = game.numeric(**point)
    T, R, O = ecopg2.game_tensors(**point)  # noqa: E741
    assert T.shape == (2, 2, 2, 2) and R.shape == (2, 2, 2, 2, 2) and O.shape == (2, 2, 2)
    np.testing.assert_allclose(T, num["T"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(R, num["R"], rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(O, np.broadcast_to(np.eye(2), (2, 2, 2)))


@pytest.mark.parametrize("point", [{}, {"noise": 0.0, "psh": 0.9}, {"noise": 0.37, "R2": 4.0, "S1": -2.5}])
def test_game_tensors_of_a_partially_observed_game(po, point):
    num = uncertain_social_dilemma().numeric(**point)
    T, R, O = po.game_tensors(**point)  # noqa: E741
    np.testing.assert_allclose(T, num["T"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(R, num["R"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(O, num["O"], rtol=1e-14, atol=1e-15)


def test_game_tensors_of_another_game(compiled):
    dyn = compiled(risk_reward, "sarsa", True)
    for point in ({}, {"pc": 0.9, "pr": 0.05, "rs": 0.25, "rr": 2.0, "rd": -1.0}):
        num = risk_reward().numeric(**point)
        T, R, _ = dyn.game_tensors(**point)
        np.testing.assert_allclose(T, num["T"], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(R, num["R"], rtol=1e-14, atol=1e-15)
