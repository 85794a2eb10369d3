"""History embedding (crld-math.md section 8) and the new built-in games."""

from __future__ import annotations

import numpy as np
import pytest

from crldgen import Game, derive
from crldgen.errors import GameError
from crldgen.games import (BUILTIN, ecological_public_good, renewable_resources, risk_reward, social_dilemma,
                           uncertain_social_dilemma, with_memory)
from reference import Q as ref_Q
from reference import V as ref_V
from test_partial import Evaluator, ref_po


def _rows_sum_to_one(game, **values):
    num = game.numeric(**values)
    np.testing.assert_allclose(num["T"].sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    if "O" in num:
        np.testing.assert_allclose(num["O"].sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert (num["T"] >= 0).all()


def _same_tensor(a, b):
    assert a.shape == b.shape
    assert all(x == y for x, y in zip(a.flat, b.flat))


# ------------------------------------------------------------- structure
def test_memory_one_ecological_public_good():
    base = ecological_public_good()
    g = with_memory(base, (1, 1, 1))
    assert g.n_states == 2 * 4 and g.O is None
    assert g.states == ("g|cc", "g|cd", "g|dc", "g|dd", "p|cc", "p|cd", "p|dc", "p|dd")
    assert g.params == base.params and g.actions == base.actions
    _rows_sum_to_one(g)
    _rows_sum_to_one(g, qc=0.7, qr=0.3)
    # from p|cc, both defect: next history records 'dd' and the new state
    num = g.numeric()
    k, dd = g.states.index("p|cc"), (1, 1)
    assert num["T"][(k,) + dd + (g.states.index("g|dd"),)] == pytest.approx(0.2)
    assert num["T"][(k,) + dd + (g.states.index("p|dd"),)] == pytest.approx(0.8)


def test_memory_one_social_dilemma_labels():
    g = with_memory(social_dilemma(), (1, 1, 1))
    assert g.states == ("s|cc", "s|cd", "s|dc", "s|dd")
    assert g.name == "social_dilemma_h1-1-1"
    _rows_sum_to_one(g)


def test_longer_histories_count_and_rows():
    g = with_memory(ecological_public_good(), (2, 2, 2))
    # (s_{t-1}, s_t, a_{t-2}, a_{t-1}); p -> g is impossible after 'cc'
    assert all("|" in s and s.count(",") == 2 for s in g.states)
    assert "p,g|cd,cc" not in g.states and "g,g|cd,cc" in g.states
    _rows_sum_to_one(g)


@pytest.mark.parametrize("h", [(0, 0, 0), (1, 0, 0)])
def test_no_memory_is_the_game_itself(h):
    base = ecological_public_good()
    g = with_memory(base, h)
    _same_tensor(g.T, base.T)
    _same_tensor(g.R, base.R)
    assert g.O is None and g.states == base.states and g.params == base.params
    assert g.canonical() == base.canonical()


def test_no_memory_keeps_observations():
    base = uncertain_social_dilemma(noise=0.2)
    g = with_memory(base, (0, 0, 0))
    _same_tensor(g.O, base.O)
    assert g.observations == base.observations


def test_impossible_histories_are_dropped_symbolically():
    """risk-reward with 2 remembered states: 'p -> g' after 's' and 'g -> p' after 'r' never happen."""
    g = with_memory(risk_reward(), (2, 1))
    assert g.states == ("g,g|s", "g,g|r", "g,p|s", "p,g|r", "p,p|s", "p,p|r")
    _rows_sum_to_one(g)
    # pc = 0 at the defaults: 'p -> g after r' is zero numerically but not symbolically: kept
    g0 = with_memory(risk_reward(pc=0.0), (2, 1))
    assert g0.states == g.states
    _rows_sum_to_one(g0, pc=0.5)


def test_invalid_history_specification():
    with pytest.raises(GameError, match="N\\+1"):
        with_memory(social_dilemma(), (1, 1))
    with pytest.raises(GameError, match="non-negative"):
        with_memory(social_dilemma(), (1, -1, 1))
    with pytest.raises(GameError, match="h_s <= 1"):
        with_memory(uncertain_social_dilemma(), (2, 1, 1))


# --------------------------------------------------------- observations
def test_heterogeneous_memory_observations():
    g = with_memory(social_dilemma(), (1, 1, 0))
    assert g.states == ("s|cc", "s|cd", "s|dc", "s|dd")
    assert g.observations == ("s|cc", "s|cd", "s|dc", "s|dd", "s")
    O = g.numeric()["O"]
    np.testing.assert_array_equal(O[0, :, :4], np.eye(4))
    np.testing.assert_array_equal(O[0, :, 4], 0)
    np.testing.assert_array_equal(O[1, :, 4], 1)
    _rows_sum_to_one(g)


def test_partially_observed_base_with_memory():
    base = uncertain_social_dilemma(noise=(0.1, 0.3))
    g = with_memory(base, (1, 1, 1))
    assert g.n_states == 8 and g.n_observations == 8
    assert g.states[1] == "pd|cd" and g.observations[5] == "sh|cd"
    O = g.numeric()["O"]
    k = g.states.index("pd|cd")
    assert O[0, k, g.observations.index("pd|cd")] == pytest.approx(0.9)
    assert O[1, k, g.observations.index("sh|cd")] == pytest.approx(0.3)
    assert O[0, k, g.observations.index("sh|dd")] == 0
    _rows_sum_to_one(g)
    _rows_sum_to_one(g, noise_0=0.5, psh=0.9)


# ------------------------------------------------------------ dynamics
def test_memory_without_use_of_memory_keeps_values():
    """History-independent strategies on the embedded game give the base game's values."""
    base = ecological_public_good()
    g = with_memory(base, (1, 1, 1))
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(2), size=(2, 2))
    current = [base.states.index(label.split("|")[0]) for label in g.states]
    Xh = X[:, current, :]
    nb, ng = base.numeric(), g.numeric()
    gamma = [0.9, 0.7]
    np.testing.assert_allclose(ref_V(ng["T"], ng["R"], Xh, gamma)[:, :], ref_V(nb["T"], nb["R"], X, gamma)[:, current],
                               rtol=1e-10)
    np.testing.assert_allclose(ref_Q(ng["T"], ng["R"], Xh, gamma), ref_Q(nb["T"], nb["R"], X, gamma)[:, current],
                               rtol=1e-10)


def test_memoryless_agent_in_heterogeneous_memory_game():
    """Agent 1 forgets, agent 0 remembers but ignores its memory: values are the base game's."""
    base = social_dilemma()
    g = with_memory(base, (1, 1, 0))
    model = derive(g, "actor_critic")
    ev = Evaluator(model, ["V", "Q", "beliefs"])
    rng = np.random.default_rng(1)
    xb = rng.dirichlet(np.ones(2), size=2)  # (agent, action)
    X = np.empty((2, g.n_observations, 2))
    X[:] = xb[:, None, :]
    gamma, beta, alpha = [0.8, 0.6], [1.0, 1.0], [0.1, 0.1]
    got = ev(X, g.params, alpha, beta, gamma)
    nb = base.numeric()
    Vb = ref_V(nb["T"], nb["R"], xb[:, None, :], gamma)
    Qb = ref_Q(nb["T"], nb["R"], xb[:, None, :], gamma)
    s = g.observations.index("s")
    assert got["V"][1, s] == pytest.approx(Vb[1, 0], rel=1e-10)
    np.testing.assert_allclose(got["Q"][1, s], Qb[1, 0], rtol=1e-10)
    np.testing.assert_allclose(got["V"][0, :4], Vb[0, 0], rtol=1e-10)
    # agent 1 never makes agent 0's observations and vice versa
    np.testing.assert_array_equal(got["beliefs"][1, :4], 0)
    np.testing.assert_array_equal(got["beliefs"][0, 4], 0)
    num = g.numeric()
    want = ref_po(num["T"], num["R"], num["O"], X, gamma, beta, alpha, learner="actor_critic")
    np.testing.assert_allclose(got["Q"], want["Q"], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ new games
def test_builtin_registry():
    assert BUILTIN["uncertain-social-dilemma"] is uncertain_social_dilemma
    assert BUILTIN["renewable-resources"] is renewable_resources
    for name in ("uncertain-social-dilemma", "renewable-resources"):
        game = BUILTIN[name]()
        assert isinstance(game, Game) and game.params


def test_uncertain_social_dilemma_structure():
    g = uncertain_social_dilemma()
    assert (g.n_agents, g.n_states, g.n_actions, g.n_observations) == (2, 2, 2, 2)
    num = g.numeric(noise=0.2, psh=0.3)
    np.testing.assert_allclose(num["O"][0], [[0.8, 0.2], [0.2, 0.8]])
    np.testing.assert_allclose(num["T"][:, :, :, 1], 0.3)
    # prisoner's dilemma in 'pd', stag hunt in 'sh' (row player's rewards)
    np.testing.assert_allclose(num["R"][0, 0, :, :, 0], [[1.0, -0.5], [1.5, 0.0]])
    np.testing.assert_allclose(num["R"][1, 1, :, :, 0], [[1.0, 0.5], [-0.5, 0.0]])


def test_renewable_resources_structure():
    g = renewable_resources(n_agents=2, n_levels=5, n_actions=3, r=0.8, pr=0.1, price=2.0)
    assert (g.n_agents, g.n_states, g.n_actions) == (2, 5, 3)
    _rows_sum_to_one(g)
    _rows_sum_to_one(g, r=1.0, pr=1.0)
    num = g.numeric()
    # full stock, nobody extracts: stays at capacity
    np.testing.assert_allclose(num["T"][4, 0, 0], [0, 0, 0, 0, 1])
    # stock 3, both extract 1: x = 1 grows with r * 4*1*3/16 = 0.6
    np.testing.assert_allclose(num["T"][3, 1, 1], [0, 0.4, 0.6, 0, 0])
    # stock 1, demands 2 and 1: shared 2:1, rewards price * share
    np.testing.assert_allclose(num["R"][:, 1, 2, 1, 0], [2.0 * 2 / 3, 2.0 / 3])
    # empty after harvest: recovers with pr
    np.testing.assert_allclose(num["T"][2, 2, 0], [0.9, 0.1, 0, 0, 0])
    # actions matter for the transitions
    assert not np.allclose(num["T"][3, 0, 0], num["T"][3, 2, 2])
