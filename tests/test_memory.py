"""History embedding (crld-math.md section 8) and the new built-in games."""

from __future__ import annotations

import numpy as np
import pytest

from crldgen import Game
from crldgen.errors import GameError
from crldgen.games import (BUILTIN, ecological_public_good, renewable_resources, risk_reward, social_dilemma,
                           uncertain_social_dilemma, with_memory)
from reference import Q as ref_Q
from reference import V as ref_V
import reference_ragged as rr


def _rows_sum_to_one(game, **values):
    num = game.numeric(**values)
    np.testing.assert_allclose(num["T"].sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    for Oi in num.get("O", ()):  # one (Z, Q_i) array per agent (a uniform (N, Z, Q) array iterates the same)
        np.testing.assert_allclose(Oi.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
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
def _O_list(game):
    """Per-agent observation arrays ``O[i]`` (Z, Q_i) as floats, from either form of ``O``."""
    return [np.asarray(o, dtype=float) for o in game.numeric()["O"]]


def _check_observation_sets(game):
    """Rows of every O[i] sum to 1 and every observation of every agent occurs in some state."""
    for i, Oi in enumerate(_O_list(game)):
        assert Oi.shape == (game.n_states, game.observation_counts[i])
        np.testing.assert_allclose(Oi.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert (Oi >= 0).all()
        assert (Oi.max(axis=0) > 0).all(), f"agent {i} has an observation no state produces"
        assert len(game.agent_observations[i]) == Oi.shape[1]


def test_heterogeneous_memory_observations():
    """One agent remembers the last joint action, the other nothing: each has its own observations."""
    g = with_memory(social_dilemma(), (1, 1, 0))
    assert g.states == ("s|cc", "s|cd", "s|dc", "s|dd")
    assert g.agent_observations == (("s|cc", "s|cd", "s|dc", "s|dd"), ("s",))
    assert g.observation_counts == (4, 1) and not g.uniform
    with pytest.raises(GameError, match="agent_observations"):
        g.observations
    O0, O1 = _O_list(g)
    np.testing.assert_array_equal(O0, np.eye(4))
    np.testing.assert_array_equal(O1, np.ones((4, 1)))
    _rows_sum_to_one(g)
    _check_observation_sets(g)


def test_mixed_memory_1_1_2_ecological_public_good():
    """h = (1, 1, 2): histories (s_t; a_{t-2}, a_{t-1}); agent 0 sees (s_t; a_{t-1}), agent 1 everything.

    Counted by hand: the only impossible base transition is p -> g after 'cc' (no defector,
    no collapse: symbolically zero). s_t = g after a_{t-1} = 'cc' still happens from
    s_{t-1} = g, and s_{t-1} = g is reachable after any a_{t-2} (from g, staying), so all
    2 * 4 * 4 = 32 histories occur; agent 0's views (s_t, a_{t-1}) are all 2 * 4 = 8 pairs.
    """
    g = with_memory(ecological_public_good(), (1, 1, 2))
    assert g.n_states == 32 and g.observation_counts == (8, 32) and not g.uniform
    assert isinstance(g.O, tuple) and g.action_counts == (2, 2)
    _rows_sum_to_one(g)
    _check_observation_sets(g)
    labels0, labels1 = g.agent_observations
    assert set(labels1) == set(g.states)  # agent 1 remembers as much as the world
    assert set(labels0) == {f"{s}|{a}{b}" for s in "gp" for a in "cd" for b in "cd"}
    O0, O1 = _O_list(g)
    for state in ("p|cd,dc", "g|cc,cc", "g|dd,cd", "p|dc,dd"):
        k = g.states.index(state)
        s, acts = state.split("|")
        own0 = f"{s}|{acts.split(',')[-1]}"  # agent 0: the state and its one remembered joint action
        assert O0[k, labels0.index(own0)] == 1 and O0[k].sum() == 1
        assert O1[k, labels1.index(state)] == 1 and O1[k].sum() == 1


def _leader_game():
    """Two agents with 2 and 3 actions; the next state is agent 0's action (deterministic), rewards 0/1."""
    T = np.zeros((2, 2, 3, 2))
    R = np.zeros((2, 2, 2, 3, 2))
    for s in range(2):
        for a in range(2):
            T[s, a, :, a] = 1
            R[0, s, a, :, a] = 1.0 + a
            for b in range(3):
                R[1, s, a, b, a] = 0.5 * b - s
    return Game(T, R, states=("L", "R"), actions=(("L", "R"), ("x", "y", "z")), name="leader")


def test_mixed_memory_of_a_heterogeneous_base_game():
    """M = (2, 3), the state is agent 0's last action: s_t is fixed by a_{t-1}.

    By hand, h = (1, 1, 2): (a_{t-2}, a_{t-1}) take 6 * 6 values and s_t is determined, so
    36 histories; agent 0 sees (s_t, a_{t-1}): 6 views; agent 1 all 36. With h = (1, 0, 1)
    agent 0 sees s_t only (2 views) and agent 1 (s_t, a_{t-1}) (6 views) = the 6 histories.
    """
    base = _leader_game()
    g = with_memory(base, (1, 1, 2))
    assert g.n_states == 36 and g.observation_counts == (6, 36) and g.action_counts == (2, 3)
    assert g.agent_actions == (("L", "R"), ("x", "y", "z"))
    # labels join each agent's own action labels; s_t is agent 0's last action
    assert all(lab[0] == lab.split(",")[-1][0] for lab in g.states)
    assert "R|Lz,Rx" in g.states and "L|Lz,Rx" not in g.states
    assert set(g.agent_observations[0]) == {f"{a}|{a}{b}" for a in "LR" for b in "xyz"}
    _rows_sum_to_one(g)
    _check_observation_sets(g)
    O0 = _O_list(g)[0]
    k = g.states.index("R|Lz,Rx")
    assert O0[k, g.agent_observations[0].index("R|Rx")] == 1
    # rewards and transitions are the base game's at the current state
    num, nb = g.numeric(), base.numeric()
    k2 = g.states.index("L|Rx,Ly")
    np.testing.assert_array_equal(num["T"][k, 0, 1, k2], 1.0)
    np.testing.assert_array_equal(num["R"][:, k, 0, 1, k2], nb["R"][:, 1, 0, 1, 0])
    g2 = with_memory(base, (1, 0, 1))
    assert g2.n_states == 6 and g2.observation_counts == (2, 6)
    assert g2.agent_observations[0] == ("L", "R")
    _check_observation_sets(g2)


def test_equal_memory_of_heterogeneous_base_game_is_fully_observed():
    g = with_memory(_leader_game(), (1, 1, 1))
    assert g.O is None and g.n_states == 6 and g.action_counts == (2, 3)
    assert g.states == ("L|Lx", "L|Ly", "L|Lz", "R|Rx", "R|Ry", "R|Rz")


def test_equal_views_give_one_observation_array():
    """Equal memory on a partially observed base game with shared observations: one (N, Z, Q) array."""
    g = with_memory(uncertain_social_dilemma(noise=(0.1, 0.3)), (1, 2, 2))
    assert g.uniform and not isinstance(g.O, tuple) and g.O.shape == (2, g.n_states, g.n_observations)
    _check_observation_sets(g)


def test_partially_observed_base_with_mixed_memory():
    base = uncertain_social_dilemma(noise=(0.1, 0.3))
    g = with_memory(base, (1, 0, 1))
    assert g.observation_counts == (2, 8)
    assert g.agent_observations[0] == ("pd", "sh")
    O0, O1 = _O_list(g)
    k = g.states.index("pd|cd")
    assert O0[k, 0] == pytest.approx(0.9) and O0[k, 1] == pytest.approx(0.1)
    assert O1[k, g.agent_observations[1].index("sh|cd")] == pytest.approx(0.3)
    _check_observation_sets(g)
    _rows_sum_to_one(g, noise_0=0.5, psh=0.9)


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
    """Agent 1 forgets, agent 0 remembers but ignores its memory: values are the base game's.

    Plain-numpy oracle (tests/reference_ragged.py) on the per-agent observation sets:
    agent 1 has the single observation 's', and every observation of both agents has
    positive long-run probability (no belief row is the zero-probability convention).
    """
    base = social_dilemma()
    g = with_memory(base, (1, 1, 0))
    rng = np.random.default_rng(1)
    xb = rng.dirichlet(np.ones(2), size=2)  # (agent, action)
    X = (np.tile(xb[0], (4, 1)), xb[1][None, :])  # per-agent (Q_i, M_i)
    gamma = [0.8, 0.6]
    num = g.numeric()
    T, R, O = num["T"], num["R"], rr.O_list(num["O"])
    V = rr.values(T, R, O, X, gamma)
    Q = rr.action_values(T, R, O, X, gamma)
    nb = base.numeric()
    Vb = ref_V(nb["T"], nb["R"], xb[:, None, :], gamma)
    Qb = ref_Q(nb["T"], nb["R"], xb[:, None, :], gamma)
    assert V[1].shape == (1,) and V[1][0] == pytest.approx(Vb[1, 0], rel=1e-10)
    np.testing.assert_allclose(Q[1][0], Qb[1, 0], rtol=1e-10)
    np.testing.assert_allclose(V[0], Vb[0, 0], rtol=1e-10)
    np.testing.assert_allclose(Q[0], np.tile(Qb[0, 0], (4, 1)), rtol=1e-10)
    Ps = rr.stationary_distribution(rr.Tss(T, rr.state_strategy(O, X)))
    for i, Oi in enumerate(O):
        assert (Ps @ Oi > 1e-6).all(), f"agent {i} has an observation that is never made"


@pytest.mark.parametrize("learner", ["actor_critic", "sarsa"])
def test_heterogeneous_memory_game_compiles_like_the_oracle(learner, cache_dir):
    """The per-agent observation sets (Q = (4, 1)) through derivation, code generation and the
    dynamics: TD errors and one step agree with tests/reference_ragged.py (needs the heterogeneous
    code generation and dynamics of the branches ragged-codegen and ragged-dyn)."""
    import crldgen

    g = with_memory(social_dilemma(), (1, 1, 0))
    dyn = crldgen.compile(g, learner, prefactor=True, cache_dir=cache_dir, quiet=True)
    rng = np.random.default_rng(3)
    X = (rng.dirichlet(np.ones(2), size=4), rng.dirichlet(np.ones(2), size=1))
    p = dict(alpha=0.1, beta=2.0, gamma=0.8)
    num = g.numeric()
    args = (num["T"], num["R"], rr.O_list(num["O"]), X, [p["alpha"]] * 2, [p["beta"]] * 2, [p["gamma"]] * 2)
    for got, want in zip(dyn.tderror(X, **p), rr.tderror(*args, learner=learner)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for got, want in zip(dyn.step(X, **p), rr.step(*args, learner=learner)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


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
