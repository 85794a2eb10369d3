"""Figures and the command line on a heterogeneous game (issue 11): the built-in regulated extraction, M = (3, 2).

Arrows and lines are checked against the plain-numpy oracle ``tests/reference_ragged.py``
at strategies built here independently of the plotting code.
"""

from __future__ import annotations

import numpy as np
import pytest

import crldgen
import reference_ragged as rr
from crldgen import plot
from crldgen.cli import main as cli_main


@pytest.fixture(scope="module")
def dyn(compiled):
    return compiled(crldgen.games.regulated_extraction, "sarsa", True, beta=25.0, gamma=0.9)


def _tensors(dyn):
    T, R, O = dyn.game_tensors()
    return T, R


def test_flow_arrows_equal_the_oracle(dyn):
    """flow_field in coordinates (user, healthy, low) x (regulator, healthy, monitor), by labels."""
    x, y = ("user", "healthy", "low"), ("regulator", "healthy", "monitor")
    (field,) = plot.flow_field(dyn, x, y, points=4)
    T, R = _tensors(dyn)
    a, b, g, _ = dyn.params()
    checked = 0
    for iy, yv in enumerate(field.ys):
        for ix, xv in enumerate(field.xs):
            X = [np.full((2, 3), 1 / 3), np.full((2, 2), 0.5)]
            X[0][0] = [xv, (1 - xv) / 2, (1 - xv) / 2]  # the other actions share the rest like the base row
            X[1][0] = [1 - yv, yv]
            d = rr.tderror_normalized(T, R, None, X, a, b, g, "sarsa", True)
            assert field.U[0, iy, ix] == pytest.approx(d[0][0, 0], rel=1e-10, abs=1e-12)
            assert field.V[0, iy, ix] == pytest.approx(d[1][0, 1], rel=1e-10, abs=1e-12)
            checked += 1
    assert checked == 16


def test_flow_plot_labels_each_agent_with_its_own_actions(dyn):
    axes = plot.flow(dyn, ("user", "healthy", "high"), ("regulator", "healthy", "monitor"), 5)
    ax = np.ravel(axes)[0]
    assert ax.get_xlabel() == "user: P(high | healthy)" and ax.get_ylabel() == "regulator: P(monitor | healthy)"
    plot._pyplot().close("all")


def test_coordinates_out_of_an_agents_range_are_refused(dyn):
    with pytest.raises(crldgen.errors.ParameterError, match="action index 2 is out of range"):
        plot.flow_field(dyn, ("user", 0, 0), ("regulator", 0, 2), points=3)
    with pytest.raises(crldgen.errors.ParameterError, match="unknown action label 'high'"):
        plot.flow_field(dyn, ("user", 0, 0), ("regulator", 0, "high"), points=3)


def test_time_series_draws_the_trajectory_entries(dyn):
    run = dyn.trajectory(dyn.uniform_strategy(), 30)
    ax = plot.time_series(run, dyn, coords=[("user", "healthy", "high"), ("regulator", "degraded", "monitor")])
    lines = ax.get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), run.X[0][:, 0, 2])
    np.testing.assert_array_equal(lines[1].get_ydata(), run.X[1][:, 1, 1])
    T, R = _tensors(dyn)
    a, b, g, _ = dyn.params()
    ref = rr.trajectory(T, R, None, dyn.uniform_strategy(), a, b, g, "sarsa", True, tmax=29)
    np.testing.assert_allclose(lines[0].get_ydata(), [X[0][0, 2] for X in ref], rtol=1e-10)
    plot._pyplot().close("all")


def test_cli_simulate_takes_a_ragged_x0(dyn, cache_dir, capsys, tmp_path):
    # sum_i Q_i (M_i - 1) = 2*2 + 2*1 = 6 numbers: per row all but the last action
    x0 = "0.2,0.5,0.3,0.3,0.4,0.9"
    status = cli_main(["simulate", "regulated-extraction", "--beta", "25", "--gamma", "0.9", "--x0", x0,
                       "--tmax", "40", "--cache-dir", str(cache_dir), "--out", str(tmp_path / "run.npz")])
    out = capsys.readouterr().out
    assert status == 0
    X0 = (np.array([[0.2, 0.5, 0.3], [0.3, 0.3, 0.4]]), np.array([[0.4, 0.6], [0.9, 0.1]]))  # row by row
    run = dyn.trajectory(X0, 40, 1e-5)  # the CLI's default tolerance
    for i, agent in enumerate(("user", "regulator")):
        for o, state in enumerate(("healthy", "degraded")):
            acts = dyn.actions[i]
            row = "  ".join(f"{a}={v:.6f}" for a, v in zip(acts, run.final[i][o]))
            assert f"{agent:<10}{state:<9}{row}" in out
    data = np.load(tmp_path / "run.npz")
    np.testing.assert_allclose(data["X_0"], run.X[0], rtol=1e-12)  # (the CLI computes the last action as 1 - rest)
    assert list(data["actions_1"]) == ["idle", "monitor"]
    status = cli_main(["simulate", "regulated-extraction", "--x0", "0.5,0.5", "--cache-dir", str(cache_dir)])
    err = capsys.readouterr().err
    assert status != 0 and "sum_i Q_i (M_i - 1) = 6" in err
