"""Partially observed games through the same public API: trajectories, flow plots, fixed points."""

import numpy as np
import pytest

import crldgen

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.quiver import Quiver  # noqa: E402

from crldgen import plot  # noqa: E402


def _uncertain():
    return crldgen.games.uncertain_social_dilemma()


@pytest.fixture(scope="module")
def po(compiled):
    return compiled(_uncertain, "sarsa", True, alpha=0.05, beta=5.0, gamma=0.8)


def test_trajectory_over_observations_stays_on_the_simplex(po):
    assert not po.fully_observed and po.shape == (2, 2, 2)
    res = po.trajectory(po.random_strategy(0), 3000, tol=1e-6)
    assert res.converged and res.X.shape == (res.steps, 2, 2, 2)
    np.testing.assert_allclose(res.X.sum(-1), 1.0, atol=1e-12)
    assert np.all(res.X > 0)
    # the end point is (numerically) a fixed point of the map
    assert np.linalg.norm(po.step(res.final) - res.final) < 1e-6


def test_observation_flow_plot_arrows_are_the_normalized_td_error(po):
    obs = list(po.observations)
    axes = plot.flow(po, ([0], obs, ["c"]), ([1], obs, ["c"]), points=9)
    assert [ax.get_title() for ax in axes] == [f"observation {o}" for o in obs]
    grid = np.linspace(0.01, 0.99, 9)
    for k, ax in enumerate(axes):
        (q,) = [c for c in ax.collections if isinstance(c, Quiver)]
        assert q.N == 81
        X = po.uniform_strategy()
        X[0, k] = [grid[3], 1 - grid[3]]
        X[1, k] = [grid[5], 1 - grid[5]]
        d = po.tderror(X, normalize=True)
        U, V = np.asarray(q.U).reshape(9, 9), np.asarray(q.V).reshape(9, 9)
        np.testing.assert_allclose([U[5, 3], V[5, 3]], [d[0, k, 0], d[1, k, 0]], rtol=1e-12)
    matplotlib.pyplot.close("all")


def test_fixed_points_of_a_po_game_are_zeros_of_the_condition(po):
    fps = crldgen.fixed_points(po, n_starts=16, rng=0)
    assert len(fps.points) >= 1
    for pt in fps.points:
        y = po.to_logit(pt.X)
        assert np.max(np.abs(po.logit_step(y) - y)) < 1e-10
        assert len(pt.eigenvalues) == po.n_free
