"""crldgen.Game: validation errors (type and message) and the built-in games."""

import re

import numpy as np
import pytest
import sympy

import crldgen
from crldgen import Game, GameError
from crldgen.games import ecological_public_good, risk_reward, social_dilemma

import reference as ref


def _valid(N=2, Z=2, M=2, seed=0):
    g = ref.random_game(np.random.default_rng(seed), N, Z, M)
    return g["T"], g["R"]


def _raises(match, *args, **kwargs):
    """``Game(*args, **kwargs)`` raises GameError whose message matches every regex in ``match``."""
    with pytest.raises(GameError) as info:
        Game(*args, **kwargs)
    msg = str(info.value)
    for pattern in ([match] if isinstance(match, str) else match):
        assert re.search(pattern, msg), f"{pattern!r} not in message {msg!r}"
    return info.value


def test_game_error_is_crldgen_error_and_value_error():
    assert issubclass(GameError, crldgen.CrldgenError)
    assert issubclass(GameError, ValueError)


# ------------------------------------------------------------------ shapes
def test_valid_random_games_are_accepted():
    for N, Z, M in [(1, 1, 2), (2, 3, 2), (3, 2, 3)]:
        T, R = _valid(N, Z, M)
        game = Game(T, R)
        assert (game.n_agents, game.n_states, game.n_actions, game.n_observations) == (N, Z, M, Z)
        assert game.fully_observed and game.observations == game.states


def test_wrong_ndim():
    _raises([r"\bT\b", r"shape \(2, 2\)", "ndim"], np.full((2, 2), 0.5), np.zeros((1, 2, 2)))


def test_mismatched_number_of_states():
    T = np.full((2, 2, 3), 1 / 3)
    _raises([r"\bT\b", r"\(2, 2, 3\)", "Z=2", "must match"], T, np.zeros((1, 2, 2, 3)))


def test_unequal_action_counts_make_a_heterogeneous_game():
    T = np.full((2, 2, 3, 2), 0.5)
    g = Game(T, np.zeros((2, 2, 2, 3, 2)), actions=[["c", "d"], ["lo", "mid", "hi"]])
    assert g.action_counts == (2, 3) and g.observation_counts == (2, 2) and not g.uniform
    assert g.n_free == 2 * 1 + 2 * 2 and g.n_strategy == 2 * 2 + 2 * 3
    assert len(list(g.joint_actions())) == 6
    with pytest.raises(GameError, match="heterogeneous.*action_counts"):
        g.n_actions
    _raises([r"actions", r"\(2, 3\)", "one label list per agent"], T, np.zeros((2, 2, 2, 3, 2)),
            actions=["c", "d"])
    _raises([r"actions\[1\] \(agent 1\)", "3 actions"], T, np.zeros((2, 2, 2, 3, 2)),
            actions=[["c", "d"], ["lo", "hi"]])


def test_per_agent_observations():
    T = np.full((2, 2, 3, 2), 0.5)
    O = [np.ones((2, 1)), np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]])]  # noqa: E741
    g = Game(T, np.zeros((2, 2, 2, 3, 2)), O, actions=[["c", "d"], ["lo", "mid", "hi"]])
    assert g.observation_counts == (1, 3) and g.agent_observations == (("0",), ("0", "1", "2"))
    assert g.numeric()["O"][1].shape == (2, 3)
    bad = [O[0], np.array([[0.5, 0.6, 0.0], [0.0, 0.2, 0.8]])]
    _raises([r"O\[1\]\[0, :\]", "sums to 1.1"], T, np.zeros((2, 2, 2, 3, 2)), bad)
    _raises([r"O\[1\] \(agent 1\)", r"\(Z=2, Q_1\)"], T, np.zeros((2, 2, 2, 3, 2)), [O[0], np.ones((3, 2)) / 2])
    # per-agent arrays of equal shape give the uniform game (same canonical text as the stacked array)
    same = [np.eye(2), np.eye(2)]
    a = Game(T, np.zeros((2, 2, 2, 3, 2)), same, actions=[["c", "d"], ["lo", "mid", "hi"]])
    assert isinstance(a.O, np.ndarray) and a.O.shape == (2, 2, 2)


def test_too_few_actions():
    _raises([r"\bT\b", "M_i >= 2"], np.ones((2, 1, 2)) / 2, np.zeros((1, 2, 1, 2)))


@pytest.mark.parametrize("shape", [(1, 2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2, 3)])
def test_reward_shape_mismatch(shape):
    T, _ = _valid(2, 2, 2)
    _raises([r"\bR\b", "shape " + str(shape).replace("(", r"\(").replace(")", r"\)"), "expected"],
            T, np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 3, 2), (1, 2, 2), (2, 2), (2, 2, 2, 2)])
def test_observation_shape_mismatch(shape):
    T, R = _valid(2, 2, 2)
    O = np.full(shape, 1.0 / shape[-1])
    _raises([r"\bO\b", "shape", "expected"], T, R, O)


def test_ragged_input():
    T = [[[0.5, 0.5], [1.0]], [[0.5, 0.5], [0.5, 0.5]]]  # T[0, 1] has one entry too few
    _raises([r"\bT\b", "ragged"], T, np.zeros((1, 2, 2, 2)))
    R = [[[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0]]]]
    _raises([r"\bR\b", "ragged"], np.full((2, 2, 2), 0.5), R)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -np.inf, np.float64("nan")])
def test_non_finite_numbers(bad):
    T, R = _valid(2, 2, 2)
    R = R.astype(object)
    R[1, 0, 1, 0, 1] = bad
    _raises([r"R\[1, 0, 1, 0, 1\]", "not finite"], T, R)
    T2 = T.astype(object)
    T2[1, 0, 0, 0] = bad
    _raises([r"T\[1, 0, 0, 0\]", "not finite"], T2, _valid(2, 2, 2)[1])


@pytest.mark.parametrize("bad", [sympy.nan, sympy.oo, -sympy.oo, sympy.zoo, sympy.I])
def test_non_finite_sympy_entries(bad):
    T, R = _valid(1, 2, 2)
    R = R.astype(object)
    R[0, 1, 0, 1] = bad
    _raises([r"R\[0, 1, 0, 1\]", "finite"], T, R)


def test_negative_probability():
    T = np.full((2, 2, 2), 0.5)
    T[1, 0] = [-0.25, 1.25]
    _raises([r"T\[1, 0, 0\]", "-0.25", r"not a probability in \[0, 1\]"], T, np.zeros((1, 2, 2, 2)))


def test_probability_above_one_at_given_parameters():
    q = sympy.Symbol("q", real=True)
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[0, 1] = [q, 1 - q]
    game = Game(T, np.zeros((1, 2, 2, 2)), params={q: 0.3})
    with pytest.raises(GameError, match=r"T\[0, 1, 0\] = 1\.5 at parameters \{'q': 1\.5\} is not a probability"):
        game.validate(q=1.5)


def test_row_not_summing_to_one():
    T = np.full((2, 2, 2), 0.5)
    T[0, 1] = [0.5, 0.4]
    _raises([r"T\[0, 1, :\]", "sums to 0.9", "over s'", "must sum to 1"], T, np.zeros((1, 2, 2, 2)))


def test_observation_row_not_summing_to_one():
    T, R = _valid(2, 2, 2)
    O = np.full((2, 2, 3), 0.25)
    _raises([r"O\[0, 0, :\]", "sums to 0.75", "over o"], T, R, O)


def test_negative_observation_probability():
    T, R = _valid(2, 2, 2)
    O = np.full((2, 2, 2), 0.5)
    O[1, 1] = [1.5, -0.5]
    _raises([r"O\[1, 1, 0\] = 1\.5", "not a probability"], T, R, O)


def test_symbolic_row_sums_to_one_only_at_default():
    """[p, 1 - 2p] sums to 1 at the default p = 0 but not identically: rejected."""
    p = sympy.Symbol("p", real=True)
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[1, 1] = [p, 1 - 2 * p]
    _raises([r"T\[1, 1, :\]", "1 - p", "not identically 1"], T, np.zeros((1, 2, 2, 2)), params={p: 0.0})


def test_symbolic_row_identically_one_is_accepted():
    p, q = sympy.symbols("p q", real=True)
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[1, 1] = [p * q, 1 - p * q]
    T[0, 0] = [sympy.sin(p) ** 2, sympy.cos(p) ** 2]  # needs simplify, not expand
    game = Game(T, np.zeros((1, 2, 2, 2)), params={p: 0.5, q: 0.5})
    assert game.param_names == ("p", "q")


def test_unknown_symbol():
    p, q = sympy.symbols("p q", real=True)
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[0, 1] = [q, 1 - q]
    _raises([r"T\[0, 1, 0\]", "unknown symbol", "'q'", "params="], T, np.zeros((1, 2, 2, 2)), params={p: 0.5})
    R = np.zeros((1, 2, 2, 2), dtype=object)
    R[0, 1, 1, 0] = 2 * q
    _raises([r"R\[0, 1, 1, 0\]", "unknown symbol", "'q'"], np.full((2, 2, 2), 0.5), R)


def test_symbol_with_other_assumptions_gets_a_hint():
    T = np.full((2, 2, 2), 0.5, dtype=object)
    R = np.zeros((1, 2, 2, 2), dtype=object)
    R[0, 0, 0, 0] = sympy.Symbol("b")  # no real=True, the parameter is real
    _raises(["unknown symbol", "'b'", "other assumptions", r"game\.symbol\('b'\)"], T, R, params={"b": 1.0})
    # declared through game.symbol it works
    game = Game(T, np.zeros((1, 2, 2, 2)), params={"b": 1.0})
    R[0, 0, 0, 0] = game.symbol("b")
    Game(T, R, params={"b": 1.0})


@pytest.mark.parametrize("text", ["0.5", "p", "__import__('os').getcwd()"])
def test_string_entries_are_rejected_not_parsed(text):
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[1, 0, 0] = text
    with pytest.raises(GameError) as info:
        Game(T, np.zeros((1, 2, 2, 2)), params={"p": 0.5})
    msg = str(info.value)
    assert "T[1, 0, 0]" in msg and "str" in msg and "never parsed" in msg


def test_boolean_entries_are_rejected():
    R = np.zeros((1, 2, 2, 2), dtype=object)
    R[0, 0, 1, 1] = True
    _raises([r"R\[0, 0, 1, 1\]", "boolean"], np.full((2, 2, 2), 0.5), R)


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("kind,labels,n", [("states", ("a", "b", "c"), 2), ("actions", ("x",), 2),
                                           ("agents", ("A", "B", "C"), 2)])
def test_label_count_mismatch(kind, labels, n):
    T, R = _valid(2, 2, 2)
    _raises([kind, f"{len(labels)} labels", f"{n} {kind}"], T, R, **{kind: labels})


def test_observation_label_count_mismatch():
    T, R = _valid(2, 2, 2)
    O = np.full((2, 2, 3), 1 / 3)
    _raises(["observations", "2 labels", "3 observations"], T, R, O, observations=("u", "v"))


@pytest.mark.parametrize("kind", ["states", "actions", "agents"])
def test_duplicate_labels(kind):
    T, R = _valid(2, 2, 2)
    _raises([kind, "not unique"], T, R, **{kind: ("same", "same")})


def test_observation_labels_without_observations():
    T, R = _valid(2, 2, 2)
    _raises(["observations", "fully observed"], T, R, observations=("u", "v"))


def test_labels_are_stored():
    T, R = _valid(2, 2, 2)
    game = Game(T, R, agents=("ann", "bob"), states=("lo", "hi"), actions=("c", "d"))
    assert game.agents == ("ann", "bob") and game.states == ("lo", "hi") and game.actions == ("c", "d")
    assert game.observations == ("lo", "hi")


# -------------------------------------------------------------- parameters
@pytest.mark.parametrize("name", ["alpha", "beta", "gamma", "X", "y", "theta", "V", "Q", "out", "np", "math",
                                  "alpha_0", "beta_1", "gamma_2", "X_0_0_0", "t3", "cs1", "Tss_0_1", "a__b"])
def test_reserved_parameter_names(name):
    T, R = _valid(2, 2, 2)
    _raises([repr(name), "reserved"], T, R, params={name: 1.0})


@pytest.mark.parametrize("name", ["T", "R", "S", "P", "c_0", "qc", "R1", "noise_1", "f"])
def test_ordinary_parameter_names_are_accepted(name):
    T, R = _valid(2, 2, 2)
    game = Game(T, R, params={name: 1.0})
    assert game.param_names == (name,)


@pytest.mark.parametrize("name", ["not valid", "2x", "a-b", "", "lambda", "for"])
def test_invalid_parameter_names(name):
    T, R = _valid(2, 2, 2)
    _raises([repr(name).replace("(", r"\("), "not a Python identifier"], T, R, params={name: 1.0})


def test_parameter_key_must_be_name_or_symbol():
    T, R = _valid(2, 2, 2)
    _raises(["parameter key 3", "str", "Symbol"], T, R, params={3: 1.0})


def test_parameter_given_twice():
    T, R = _valid(2, 2, 2)
    _raises(["'p'", "given twice"], T, R, params={"p": 1.0, sympy.Symbol("p", real=True): 2.0})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_parameter_default(value):
    T, R = _valid(2, 2, 2)
    _raises(["default value", "'p'", "finite"], T, R, params={"p": value})


def test_non_numeric_parameter_default():
    T, R = _valid(2, 2, 2)
    _raises(["default value", "'p'", "must be a number"], T, R, params={"p": "one"})


def test_unknown_parameter_in_numeric_and_symbol():
    game = risk_reward()
    with pytest.raises(GameError, match="no parameter 'zz'.*pc"):
        game.numeric(zz=1.0)
    with pytest.raises(GameError, match="no parameter 'zz'"):
        game.symbol("zz")
    with pytest.raises(GameError, match="no parameter 'zz'"):
        game.substitute(zz=1.0)


# --------------------------------------------------------- numeric, substitute
def test_numeric_and_substitute():
    p, r = sympy.symbols("p r", real=True)
    T = np.full((2, 2, 2), 0.5, dtype=object)
    T[0, 1] = [p, 1 - p]
    R = np.zeros((1, 2, 2, 2), dtype=object)
    R[0, 1, 0, 1] = r ** 2 + p
    game = Game(T, R, params={p: 0.25, r: 2.0})
    num = game.numeric()
    assert set(num) == {"T", "R"}
    assert num["T"].dtype == np.float64
    np.testing.assert_array_equal(num["T"][0, 1], [0.25, 0.75])
    assert num["R"][0, 1, 0, 1] == 4.25
    num = game.numeric(r=3.0)
    assert num["R"][0, 1, 0, 1] == 9.25 and num["T"][0, 1, 0] == 0.25
    sub = game.substitute(p=0.5)
    assert isinstance(sub, Game) and sub.param_names == ("r",) and sub.params == {"r": 2.0}
    assert sub.T[0, 1, 0] == sympy.Rational(1, 2) or float(sub.T[0, 1, 0]) == 0.5
    assert sub.R[0, 1, 0, 1].free_symbols == {r}
    np.testing.assert_array_equal(sub.numeric(r=1.0)["R"], game.numeric(p=0.5, r=1.0)["R"])
    # substituting everything leaves a purely numeric game
    full = game.substitute(p=0.1, r=-1.0)
    assert full.params == {}
    np.testing.assert_allclose(full.numeric()["R"][0, 1, 0, 1], 1.1)
    # the original game is unchanged
    assert game.params == {"p": 0.25, "r": 2.0}


def test_numeric_includes_observations():
    T, R = _valid(2, 2, 2)
    O = np.array([[[0.9, 0.1], [0.2, 0.8]]] * 2)
    game = Game(T, R, O, observations=("lo", "hi"))
    num = game.numeric()
    assert set(num) == {"T", "R", "O"}
    np.testing.assert_allclose(num["O"], O, rtol=1e-15)
    np.testing.assert_allclose(num["T"], T, rtol=1e-15)
    assert not game.fully_observed and game.n_observations == 2


def test_numbers_are_kept_exactly():
    T, R = _valid(3, 2, 3, seed=5)
    game = Game(T, R)
    num = game.numeric()
    np.testing.assert_array_equal(num["T"], T)
    np.testing.assert_array_equal(num["R"], R)


# -------------------------------------------------------------- built-in games
def test_ecological_public_good_defaults():
    game = ecological_public_good()
    assert game.states == ("g", "p") and game.actions == ("c", "d")
    assert game.n_agents == 2 and game.n_states == 2 and game.n_actions == 2
    assert game.params == {"f": 1.2, "c": 5.0, "m": -5.0, "qc": 0.2, "qr": 0.01}
    num = game.numeric()
    p, g = game.states.index("p"), game.states.index("g")
    np.testing.assert_allclose(num["R"][0, p, :, :, p], [[1, -2], [3, 0]], rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(num["R"][1, p, :, :, p], [[1, 3], [-2, 0]], rtol=1e-14, atol=1e-14)
    # collapse probability: sum of qc over defectors / N; recovery qr
    c, d = game.actions.index("c"), game.actions.index("d")
    np.testing.assert_allclose(num["T"][p, c, c, g], 0.0, atol=1e-15)
    np.testing.assert_allclose(num["T"][p, c, d, g], 0.1, rtol=1e-14)
    np.testing.assert_allclose(num["T"][p, d, d, g], 0.2, rtol=1e-14)
    np.testing.assert_allclose(num["T"][g, :, :, p], 0.01, rtol=1e-14)
    np.testing.assert_allclose(num["R"][:, g], -5.0)
    np.testing.assert_allclose(num["R"][:, p, :, :, g], -5.0)


@pytest.mark.parametrize("degraded_choice", [False, True])
@pytest.mark.parametrize("n_agents", [1, 2, 3, 4])
def test_ecological_public_good_rows_sum_to_one(n_agents, degraded_choice):
    game = ecological_public_good(n_agents=n_agents, degraded_choice=degraded_choice)
    assert game.T.shape == (2,) + (2,) * n_agents + (2,)
    for idx in np.ndindex(game.T.shape[:-1]):
        assert sympy.simplify(sympy.Add(*game.T[idx]) - 1) == 0
    np.testing.assert_allclose(game.numeric()["T"].sum(-1), 1.0, rtol=1e-14)
    game.validate(qc=0.9, qr=0.5)


def test_ecological_public_good_n_agents_rewards():
    # N = 3: all cooperate in p -> f c - c = 1; a lone defector earns f * 2c / 3
    num = ecological_public_good(n_agents=3).numeric()
    np.testing.assert_allclose(num["R"][0, 1, 0, 0, 0, 1], 1.2 * 5 - 5, rtol=1e-14)
    np.testing.assert_allclose(num["R"][0, 1, 1, 0, 0, 1], 1.2 * 10 / 3, rtol=1e-14)
    np.testing.assert_allclose(num["T"][1, 1, 1, 0, 0], 0.2 * 2 / 3, rtol=1e-14)


def test_ecological_public_good_per_agent_parameters():
    game = ecological_public_good(c=[5, 4])
    assert "c" not in game.params
    assert game.params["c_0"] == 5.0 and game.params["c_1"] == 4.0
    assert game.param_names == ("f", "c_0", "c_1", "m", "qc", "qr")
    num = game.numeric()
    # both cooperate: agent 0 gets 1.2 * 9 / 2 - 5, agent 1 gets 1.2 * 9 / 2 - 4
    np.testing.assert_allclose(num["R"][:, 1, 0, 0, 1], [0.4, 1.4], rtol=1e-14)
    num = game.numeric(c_1=0.0)
    np.testing.assert_allclose(num["R"][:, 1, 0, 0, 1], [-2.0, 3.0], rtol=1e-14)
    with pytest.raises(GameError, match="'c'.*3 values.*2"):
        ecological_public_good(c=[1, 2, 3])
    with pytest.raises(GameError, match="n_agents"):
        ecological_public_good(n_agents=0)


def test_ecological_public_good_degraded_choice():
    game = ecological_public_good(degraded_choice=True)
    num = game.numeric()
    np.testing.assert_allclose(num["T"][0, :, :, 1], [[0.01, 0.005], [0.005, 0.0]], rtol=1e-14, atol=1e-16)
    assert game.name != ecological_public_good().name


def test_social_dilemma():
    game = social_dilemma()
    assert (game.n_agents, game.n_states, game.n_actions) == (2, 1, 2)
    assert game.actions == ("c", "d")
    num = game.numeric()
    np.testing.assert_array_equal(num["T"], 1.0)
    np.testing.assert_allclose(num["R"][0, 0, :, :, 0], [[1.0, -0.5], [1.5, 0.0]])
    np.testing.assert_allclose(num["R"][1, 0, :, :, 0], num["R"][0, 0, :, :, 0].T)
    pd = social_dilemma(R=3, T=5, S=0, P=1).numeric()["R"]
    np.testing.assert_allclose(pd[0, 0, :, :, 0], [[3, 0], [5, 1]])
    assert len(game.param_names) == 4


def test_risk_reward():
    game = risk_reward()
    assert (game.n_agents, game.n_states, game.n_actions) == (1, 2, 2)
    assert game.states == ("g", "p") and game.actions == ("s", "r")
    num = game.numeric()
    g, p, s, r = 0, 1, 0, 1
    np.testing.assert_allclose(num["T"][p, s], [0, 1])
    np.testing.assert_allclose(num["T"][p, r], [0.2, 0.8])
    np.testing.assert_allclose(num["T"][g, s], [0.99, 0.01])
    np.testing.assert_allclose(num["T"][g, r], [1, 0])
    np.testing.assert_allclose(num["R"][0, p, s], [0, 0.5])
    np.testing.assert_allclose(num["R"][0, p, r], [0, 1.0])
    np.testing.assert_allclose(num["R"][0, g], 0.0)
    np.testing.assert_allclose(risk_reward(pc=0.5).numeric()["T"][p, r], [0.5, 0.5])


def test_builtin_registry():
    for name, make in crldgen.games.BUILTIN.items():
        game = make()
        assert isinstance(game, Game), name
        assert game.canonical() == make().canonical()


def test_option_names_of_public_functions_are_reserved():
    """Every keyword of a public function that takes ``**p`` overrides is a reserved parameter name."""
    import inspect

    import crldgen.iterate as iterate
    from crldgen.game import OPTION_NAMES, RESERVED_NAMES
    from crldgen.runtime.dynamics import Dynamics

    fns = [crldgen.compile, crldgen.fixed_points, crldgen.stability, crldgen.basins, crldgen.basin_fractions,
           crldgen.tipping_point, crldgen.critical_slowing_down, crldgen.stable_manifold, crldgen.continuation,
           crldgen.hysteresis, crldgen.hysteresis_sweep, iterate.sweep]
    fns += [getattr(Dynamics, n) for n in dir(Dynamics) if not n.startswith("_") and callable(getattr(Dynamics, n))]
    missing = set()
    for f in fns:
        params = inspect.signature(f).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            missing |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing -= OPTION_NAMES | RESERVED_NAMES
    assert not missing, f"reserve these keyword names in crldgen.game.OPTION_NAMES: {sorted(missing)}"
    T, R = _valid(2, 2, 2)
    with pytest.raises(crldgen.GameError, match="reserved"):
        Game(T, R, params={"tol": 1.0})
