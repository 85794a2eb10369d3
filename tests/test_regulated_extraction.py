"""The built-in heterogeneous game regulated_extraction (M = (3, 2)) and lazy games of heterogeneous agents.

The lazy-game tests use the identity index format of heterogeneous games that main's
crldgen.lazygame writes (per-agent ``action_counts``, ``agent_actions``, ...).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy

import crldgen
from crldgen.errors import GameError
from crldgen.games import BUILTIN, regulated_extraction, with_memory
from crldgen.lazygame import LazyGame, describe, game_digest

H, D = 0, 1  # healthy, degraded
LOW, MEDIUM, HIGH = 0, 1, 2
IDLE, MONITOR = 0, 1


def test_shapes_labels_and_heterogeneity():
    g = regulated_extraction()
    assert g.T.shape == (2, 3, 2, 2) and g.R.shape == (2, 2, 3, 2, 2) and g.O is None
    assert g.action_counts == (3, 2) and g.observation_counts == (2, 2) and not g.uniform
    assert g.agents == ("user", "regulator") and g.states == ("healthy", "degraded")
    assert g.agent_actions == (("low", "medium", "high"), ("idle", "monitor"))
    assert g.n_strategy == 2 * 3 + 2 * 2 and g.n_free == 2 * 2 + 2 * 1
    with pytest.raises(GameError, match="action_counts"):
        g.n_actions
    assert BUILTIN["regulated-extraction"] is regulated_extraction
    assert g.name == "regulated_extraction"


@pytest.mark.parametrize("values", [{}, {"degrade_low": 0.1, "degrade_high": 0.9, "recovery": 1.0},
                                    {"degrade_medium": 0.0, "recovery": 0.0}])
def test_transition_rows_are_probabilities(values):
    g = regulated_extraction()
    T = g.numeric(**values)["T"]
    np.testing.assert_allclose(T.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    assert (T >= 0).all() and (T <= 1).all()
    g.validate(**values)
    for idx in np.ndindex(g.T.shape[:-1]):  # identically, for every parameter value
        assert sympy.simplify(sympy.Add(*g.T[idx]) - 1) == 0


def test_entries_by_hand():
    T = regulated_extraction().numeric()["T"]
    R = regulated_extraction().numeric()["R"]
    # degradation from healthy: 0, 0.05, 0.3 by extraction level, whatever the regulator does
    np.testing.assert_allclose(T[H, :, :, D], [[0.0, 0.0], [0.05, 0.05], [0.3, 0.3]], atol=1e-15)
    # recovery from degraded: recovery * (3 - e) / 2 = 0.1, 0.05, 0
    np.testing.assert_allclose(T[D, :, :, H], [[0.1, 0.1], [0.05, 0.05], [0.0, 0.0]], atol=1e-15)
    # the user: price * e (* 0.25 when degraded), minus the fine 3 when caught extracting high
    np.testing.assert_allclose(R[0, H, :, :, H], [[1, 1], [2, 2], [3, 0]])
    np.testing.assert_allclose(R[0, D, :, :, D], [[0.25, 0.25], [0.5, 0.5], [0.75, -2.25]])
    # the regulator: 1 for a healthy next state, -0.5 for monitoring, +3 for a caught high extractor
    np.testing.assert_allclose(R[1, H, :, :, H], [[1, 0.5], [1, 0.5], [1, 3.5]])
    np.testing.assert_allclose(R[1, D, :, :, D], [[0, -0.5], [0, -0.5], [0, 2.5]])
    # rewards do not depend on where the user's reward ends (only the regulator's health term does)
    np.testing.assert_array_equal(R[0, :, :, :, H], R[0, :, :, :, D])


def test_parameters_override():
    g = regulated_extraction()
    assert g.params == {"price": 1.0, "degraded_yield": 0.25, "fine": 3.0, "monitoring_cost": 0.5,
                        "health_value": 1.0, "degrade_low": 0.0, "degrade_medium": 0.05, "degrade_high": 0.3,
                        "recovery": 0.1}
    R = g.numeric(fine=5.0, monitoring_cost=0.2, price=2.0)["R"]
    assert R[0, H, HIGH, MONITOR, H] == pytest.approx(2.0 * 3 - 5.0)
    assert R[1, H, HIGH, MONITOR, H] == pytest.approx(1.0 - 0.2 + 5.0)
    assert R[1, H, LOW, MONITOR, D] == pytest.approx(-0.2)
    other = regulated_extraction(fine=5.0, degrade_high=0.5)
    assert other.params["fine"] == 5.0 and other.params["degrade_high"] == 0.5
    assert other.numeric()["T"][H, HIGH, IDLE, D] == pytest.approx(0.5)
    # defaults are run-time values: the same canonical text (so the same generated module)
    assert other.canonical() == g.canonical()
    with pytest.raises(GameError, match="fine"):
        regulated_extraction(fine="a lot")


def test_memory_of_the_heterogeneous_game():
    """h = (1, 1, 0): histories (s_t; a_{t-1}); all 2 * 3 * 2 = 12 occur (every transition is possible
    for some parameter value); the user sees all of them, the forgetful regulator only the state."""
    g = with_memory(regulated_extraction(), (1, 1, 0))
    assert g.n_states == 12 and g.action_counts == (3, 2) and g.observation_counts == (12, 2)
    assert "degraded|high-monitor" in g.states
    assert g.agent_observations[1] == ("healthy", "degraded")
    O1 = np.asarray(g.numeric()["O"][1])
    k = g.states.index("degraded|high-monitor")
    assert O1[k].tolist() == [0.0, 1.0]


# ------------------------------------------------------------------ lazy games
def _index(tmp_path, game):
    """Write the identity index entry of ``game`` as crldgen.lazygame.record would."""
    folder = tmp_path / "identities"
    folder.mkdir(exist_ok=True)
    entry = describe(game, game_digest(game))
    (folder / f"{game._crldgen_identity}.json").write_text(json.dumps(entry, sort_keys=True))
    return entry


def test_lazy_heterogeneous_game_knows_its_agents_without_building(tmp_path, monkeypatch):
    monkeypatch.setenv("CRLDGEN_CACHE", str(tmp_path))
    built = regulated_extraction(fine=4.0)
    assert not isinstance(built, LazyGame)
    entry = _index(tmp_path, built)
    assert entry["action_counts"] == [3, 2] and entry["agent_actions"] == [["low", "medium", "high"], ["idle", "monitor"]]
    lazy = regulated_extraction(fine=4.0)
    assert isinstance(lazy, LazyGame) and not lazy.built
    assert lazy.action_counts == (3, 2) and lazy.observation_counts == (2, 2) and not lazy.uniform
    assert lazy.agent_actions == built.agent_actions and lazy.agent_observations == built.agent_observations
    assert lazy.n_free == built.n_free and lazy.params == built.params
    with pytest.raises(GameError, match="heterogeneous"):
        lazy.n_actions
    assert repr(lazy) == repr(built) and not lazy.built
    assert game_digest(lazy) == game_digest(built) and not lazy.built
    assert lazy.canonical() == built.canonical() and lazy.built


def test_lazy_uniform_game_answers_shape_queries_without_building(tmp_path, monkeypatch):
    monkeypatch.setenv("CRLDGEN_CACHE", str(tmp_path))
    built = crldgen.games.social_dilemma()
    entry = _index(tmp_path, built)
    assert set(entry) == {"format", "digest", "name", "params", "n_agents", "n_states", "n_actions",  # unchanged
                          "n_observations", "fully_observed", "agents", "states", "actions", "observations"}
    lazy = crldgen.games.social_dilemma()
    assert isinstance(lazy, LazyGame) and not lazy.built
    assert (lazy.n_actions, lazy.n_observations, lazy.actions, lazy.observations) == (2, 1, ("c", "d"), ("s",))
    assert lazy.uniform and lazy.action_counts == (2, 2) and not lazy.built
