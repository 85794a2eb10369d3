"""crldgen.plot: figure content (panels, arrows, markers, lines, colour bars), not just files."""

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

import crldgen  # noqa: E402
from crldgen import plot  # noqa: E402
from crldgen.errors import ParameterError  # noqa: E402
from crldgen.tomlgame import load_game  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
X_BOTH, Y_BOTH = ([0], ["g", "p"], ["c"]), ([1], ["g", "p"], ["c"])
X_P, Y_P = ([0], ["p"], ["c"]), ([1], ["p"], ["c"])


def rps_game():
    return load_game(ROOT / "examples" / "games" / "rock_paper_scissors.toml")


def strategy(p0, p1):
    """The chapter's compile_strategy: cooperation in 'p' of agents 0 and 1, 0.5 in 'g'."""
    Pi, Pj = np.array([0.5, p0]), np.array([0.5, p1])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fps(ecopg2):
    return crldgen.fixed_points(ecopg2, n_starts=8, rng=0)


@pytest.fixture(scope="module")
def rps(compiled):
    return compiled(rps_game, "sarsa", True, alpha=0.05, beta=5.0, gamma=0.5)


def quivers(ax):
    return [c for c in ax.collections if isinstance(c, Quiver)]


def by_gid(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def n_points(ax, gid):
    return sum(len(ln.get_xdata()) for ln in by_gid(ax, gid))


# ---------------------------------------------------------------- lazy import
def test_import_crldgen_and_the_cli_do_not_import_matplotlib():
    code = ("import sys, crldgen, crldgen.cli, crldgen.plot, crldgen.tomlgame; "
            "crldgen.games; assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


# ------------------------------------------------------------------ projections
def test_panels_of_the_chapter_projection(ecopg2):
    assert plot.panels(ecopg2, X_BOTH, Y_BOTH) == [((0, 0, 0), (1, 0, 0)), ((0, 1, 0), (1, 1, 0))]
    assert plot.panels(ecopg2, (0, "p", "c"), (1, 1, 0)) == [((0, 1, 0), (1, 1, 0))]
    assert plot.panels(None, ([0], [0, 1], [0]), ([1], [0, 1], [0]))[1] == ((0, 1, 0), (1, 1, 0))
    assert plot.coordinate_label(ecopg2, (1, "p", "c")) == "agent 1: P(c | p)"


@pytest.mark.parametrize("x, y, match", [
    (([0], ["g", "p"], ["c"]), ([1], ["g", "p", "p"], ["c"]), "different lengths"),
    (([0], ["p"], ["c"]), ([0], ["p"], ["c"]), "same coordinate"),
    (([0], ["p"], ["c"]), ([0], ["p"], ["d"]), "not independent"),
    (([0], ["q"], ["c"]), ([1], ["p"], ["c"]), "unknown state label 'q'"),
    (([5], ["p"], ["c"]), ([1], ["p"], ["c"]), "agent index 5 is out of range"),
    (([0], ["p"]), ([1], ["p"], ["c"]), "must be"),
    (([0], [], ["c"]), ([1], ["p"], ["c"]), "empty list"),
])
def test_bad_projections_are_clear_errors(ecopg2, x, y, match):
    with pytest.raises(ParameterError, match=match):
        plot.panels(ecopg2, x, y)


def test_place_rescales_the_other_actions_in_proportion():
    base = np.array([[[0.2, 0.3, 0.5]], [[0.1, 0.1, 0.8]]])
    Xs, valid = plot._place(base, [(0, 0, 0), (1, 0, 1)], np.array([[0.6, 0.5], [0.9, 0.3]]))
    np.testing.assert_allclose(Xs.sum(-1), 1.0)
    np.testing.assert_allclose(Xs[0, 0, 0], [0.6, 0.4 * 0.375, 0.4 * 0.625])
    np.testing.assert_allclose(Xs[1, 1, 0], [0.7 * 1 / 9, 0.3, 0.7 * 8 / 9])
    assert valid.all()
    _, valid = plot._place(base, [(0, 0, 0), (0, 0, 1)], np.array([[0.6, 0.5], [0.3, 0.3]]))
    assert valid.tolist() == [False, True]  # the first pair leaves nothing for action 2


# ------------------------------------------------------------------------ flow
def test_flow_arrows_are_the_normalized_td_error_on_the_grid(ecopg2):
    axes = plot.flow(ecopg2, X_BOTH, Y_BOTH, points=9)
    fig = axes[0].figure
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == ["state g", "state p"]
    assert len(fig.axes) == 3  # two panels and the colour bar
    assert fig.axes[2].get_ylabel() == "|normalized TD error|"
    for k, ax in enumerate(axes):
        (q,) = quivers(ax)
        assert q.N == 81
        assert ax.get_xlabel() == f"agent 0: P(c | {'gp'[k]})" and ax.get_ylabel() == f"agent 1: P(c | {'gp'[k]})"
    grid = np.linspace(0.01, 0.99, 9)
    q = quivers(axes[1])[0]
    X = strategy(grid[2], grid[6])  # column 2, row 6 of the p panel (base: uniform in g)
    d = ecopg2.tderror(X, normalize=True)
    U, V = np.asarray(q.U).reshape(9, 9), np.asarray(q.V).reshape(9, 9)
    np.testing.assert_allclose([U[6, 2], V[6, 2]], [d[0, 1, 0], d[1, 1, 0]], rtol=1e-12)


def test_flow_field_batch_equals_single_calls_and_step_arrows(ecopg2):
    (field,) = plot.flow_field(ecopg2, X_P, Y_P, points=5, arrows="step", gamma=0.8)
    X = strategy(field.xs[1], field.ys[3])
    dX = ecopg2.step(X, gamma=0.8) - X
    np.testing.assert_allclose([field.u[3, 1], field.v[3, 1]], [dX[0, 1, 0], dX[1, 1, 0]], rtol=1e-12)
    Xs = np.array([ecopg2.random_strategy(k) for k in range(5)])
    batch = plot._evaluate(ecopg2, Xs, "tderror", {"qc": 0.3})
    np.testing.assert_allclose(batch, [ecopg2.tderror(X, normalize=True, qc=0.3) for X in Xs], rtol=1e-13)


def test_flow_with_samples_averages_random_hidden_coordinates(rps):
    x, y = ([0], [0], [0]), ([1], [0], [0])  # rock of both agents; paper/scissors hidden
    (field,) = plot.flow_field(rps, x, y, points=4, samples=6, rng=1)
    assert field.U.shape == (6, 4, 4)
    assert np.ptp(field.U, axis=0).max() > 1e-3  # the hidden coordinates matter here
    np.testing.assert_allclose(field.u, field.U.mean(axis=0))
    axes = plot.flow(rps, x, y, points=4, kind="samples", samples=6, rng=1)
    qs = quivers(axes[0])
    assert len(qs) == 7 and all(q.N == 16 for q in qs)  # six faint draws and their mean


def test_streamplot_and_overlays(ecopg2, fps):
    sep = crldgen.stable_manifold(ecopg2, next(pt for pt in fps.points if pt.type == "saddle"), max_iter=200)
    axes = plot.flow(ecopg2, X_BOTH, Y_BOTH, kind="stream", points=12, fixed_points=fps, separatrix=sep)
    fig = axes[0].figure
    for ax in axes:
        assert any(isinstance(c, LineCollection) for c in ax.collections)  # the streamlines
        assert n_points(ax, plot.GID_STABLE) == 2 and n_points(ax, plot.GID_UNSTABLE) == 1
        assert len(by_gid(ax, plot.GID_SEPARATRIX)) == 2  # two branches of the stable manifold
        assert by_gid(ax, plot.GID_STABLE)[0].get_markerfacecolor() == "black"
        assert by_gid(ax, plot.GID_UNSTABLE)[0].get_markerfacecolor() == "white"
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["stable fixed point", "unstable fixed point", "separatrix"]
    p = axes[1]
    saddle = by_gid(p, plot.GID_UNSTABLE)[0]
    assert 0.6 < saddle.get_xdata()[0] < 0.7


def test_fixed_points_accept_results_records_pairs_and_arrays(ecopg2, fps):
    X0 = fps.points[0].X
    for points, kinds in ((fps, (2, 1, 0)), (fps.points, (2, 1, 0)), ([(X0, True), (X0, False)], (1, 1, 0)),
                          ([X0, X0, X0], (0, 0, 3))):
        ax = plot.fixed_points(points, X_P, Y_P, ecopg2)[0]
        assert (n_points(ax, plot.GID_STABLE), n_points(ax, plot.GID_UNSTABLE),
                n_points(ax, plot.GID_UNKNOWN)) == kinds
        plt.close("all")


# ---------------------------------------------------------------- trajectories
def test_trajectories_in_phase_space(ecopg2):
    trajs = [ecopg2.trajectory(strategy(pc, 0.95), 5000, 1e-5) for pc in (0.18, 0.19, 0.20)]
    assert [t.steps for t in trajs] == [178, 234, 174]
    unfinished = ecopg2.trajectory(strategy(0.5, 0.5), 20, 1e-5)
    axes = plot.trajectories(trajs + [unfinished], X_BOTH, Y_BOTH, dyn=ecopg2, colorbar=True)
    fig = axes[0].figure
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "time step (log scale)"
    for ax in axes:
        lcs = [c for c in ax.collections if c.get_gid() == "trajectory"]
        assert len(lcs) == 4 and len(lcs[1].get_segments()) == 233
        assert n_points(ax, plot.GID_START) == 4
        assert n_points(ax, plot.GID_END_CONVERGED) == 3 and n_points(ax, plot.GID_END_OPEN) == 1
    end = by_gid(axes[1], plot.GID_END_CONVERGED)[1]
    assert end.get_xdata()[0] > 0.99  # the second start tips to cooperation


def test_trajectories_with_colours_on_a_flow(ecopg2):
    trajs = [ecopg2.trajectory(strategy(pc, 0.95), 5000, 1e-5) for pc in (0.18, 0.20)]
    axes = plot.flow(ecopg2, X_P, Y_P, trajectories=trajs, trajectory_colors=["red", "blue"])
    lines = by_gid(axes[0], "trajectory")
    assert [ln.get_color() for ln in lines] == ["red", "blue"]
    assert len(lines[0].get_xdata()) == 178


def test_time_series_lines_and_labels(ecopg2):
    trajs = [ecopg2.trajectory(ecopg2.random_strategy(k), 300, 1e-5) for k in range(3)]
    ax = plot.time_series(trajs, ecopg2)
    assert len(ax.lines) == 3 * 4
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["agent 0, state g", "agent 1, state g", "agent 0, state p", "agent 1, state p"]
    assert ax.get_ylabel() == "probability of c" and ax.get_xlabel() == "time step"
    assert len(ax.lines[0].get_xdata()) == trajs[0].steps
    ax = plot.time_series(trajs[0], ecopg2, [(0, "p", "c")], colors=["k"], labels=["x"], xlim=(0, 10))
    assert len(ax.lines) == 1 and ax.get_xlim() == (0, 10)


# ---------------------------------------------------------------------- simplex
def test_simplex_flow_for_three_actions(rps):
    fps = crldgen.fixed_points(rps, n_starts=4, rng=0)
    traj = rps.trajectory(np.array([[[0.8, 0.1, 0.1]], [[0.8, 0.1, 0.1]]]), 5000, 1e-6)
    ax = plot.simplex(rps, "row", 0, points=6, symmetric=True, fixed_points=fps, trajectories=traj)
    (q,) = quivers(ax)
    assert q.N == 7 * 8 // 2  # triangular grid with 6 steps per side
    assert {t.get_text() for t in ax.texts} == {"R", "P", "S"}
    assert n_points(ax, plot.GID_STABLE) == 1
    x, y = by_gid(ax, plot.GID_STABLE)[0].get_data()
    np.testing.assert_allclose([x[0], y[0]], [0.5, np.sqrt(3) / 6], atol=1e-6)  # the centre: (1/3, 1/3, 1/3)
    assert n_points(ax, plot.GID_END_CONVERGED) == 1
    assert len(ax.figure.axes) == 2  # with the colour bar
    with pytest.raises(ParameterError, match="3 actions"):
        plot.simplex(type("TwoActions", (), {"n_actions": 2})())


# ----------------------------------------------------------- bifurcation diagrams
def test_bifurcation_stable_solid_unstable_dashed():
    mu = np.linspace(0, 1, 11)
    stable = np.array([True] * 4 + [False] * 4 + [True] * 3)
    ax = plot.bifurcation([(mu, mu ** 2, stable)], param="gamma")
    solid = [ln for ln in ax.lines if ln.get_gid() == "branch-stable"]
    dashed = [ln for ln in ax.lines if ln.get_gid() == "branch-unstable"]
    assert len(solid) == 2 and len(dashed) == 1
    assert all(ln.get_linestyle() == "-" for ln in solid) and dashed[0].get_linestyle() == "--"
    assert len(dashed[0].get_xdata()) == 5  # joined to the next segment
    assert ax.get_xlabel() == "gamma"


def test_bifurcation_and_hysteresis_of_the_chapter(ecopg2):
    dyn = ecopg2
    loop = crldgen.hysteresis(dyn, "gamma", 0.6, 0.9, observable=("p", "c"), alpha=0.05, beta=50.0)
    branch = crldgen.continuation(dyn, "gamma", loop.up["X"][0], start=0.6, bounds=(0.6, 0.9),
                                  observable=("p", "c"), alpha=0.05, beta=50.0)
    ax = plot.bifurcation(branch, jumps=loop)
    assert len([ln for ln in ax.lines if ln.get_gid() == "branch-unstable"]) == 1
    assert len([ln for ln in ax.lines if ln.get_gid() == "branch-stable"]) == 2
    folds = sorted(ln.get_xdata()[0] for ln in ax.lines if ln.get_gid() == "bifurcation")
    np.testing.assert_allclose(folds, [0.7154, 0.8246], atol=5e-4)
    assert len(ax.texts) == 2  # the two jump arrows
    assert ax.get_xlabel() == "gamma"
    plt.close("all")
    ax = plot.hysteresis(crldgen.hysteresis_sweep(dyn, "gamma", np.linspace(0.6, 0.9, 21), dyn.random_strategy(0),
                                                  observable=("p", "c"), alpha=0.05, beta=50.0))
    (sc,) = [c for c in ax.collections if c.get_gid() == "sweep"]
    assert len(sc.get_offsets()) == 42
    sizes = sc.get_sizes()
    assert sizes[0] > sizes[-1]  # time flows from big to small points
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "sweep step"


def test_hysteresis_from_arrays_validates_lengths():
    with pytest.raises(ParameterError, match="3 parameter values but 2"):
        plot.hysteresis([0.1, 0.2, 0.3], [0, 1])


# -------------------------------------------------------------------------- basins
def test_basin_image_with_legend_and_overlays(ecopg2, fps):
    res = crldgen.basins(ecopg2, (0, "p", "c"), (1, "p", "c"), grid=9, attractors=fps, base=strategy(0.5, 0.5))
    ax = plot.basins(res, dyn=ecopg2, fixed_points=fps)
    (im,) = ax.images
    assert im.get_array().shape == (9, 9)
    assert len(np.unique(im.get_array())) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["(1.00, 1.00), stable node", "(0.00, 0.00), stable node"]
    assert ax.get_xlabel() == "agent 0: P(c | p)"
    assert n_points(ax, plot.GID_STABLE) == 2


def test_basins_from_plain_arrays():
    labels = np.array([[0, 0, -1], [0, 1, 1], [-2, 1, 1]])
    ax = plot.basins((np.linspace(0, 1, 3), np.linspace(0, 1, 3), labels), names=["left", "right"])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["left", "right", "not converged"]
    with pytest.raises(ParameterError, match="shape"):
        plot.basins((np.linspace(0, 1, 4), np.linspace(0, 1, 3), labels))


# -------------------------------------------------------- critical slowing down
def test_convergence_times_split_by_outcome():
    pcs = np.linspace(0, 1, 11)
    steps = 100 + 50 / (np.abs(pcs - 0.45) + 0.05)
    outcome = np.where(pcs > 0.45, "cooperation", "defection")
    ax = plot.convergence_times(pcs, steps, outcome, critical=0.45,
                                colors={"defection": "red", "cooperation": "blue"})
    lines = [ln for ln in ax.lines if ln.get_gid() == "convergence-time"]
    assert [ln.get_color() for ln in lines] == ["red", "blue"]
    assert len(lines[0].get_xdata()) == 5 and len(lines[1].get_xdata()) == 6
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["defection", "cooperation", "critical point"]
    assert ax.get_ylim()[0] == 0


# --------------------------------------------------------------------- saving
def test_save_writes_a_png_of_the_expected_size(ecopg2, tmp_path):
    axes = plot.flow(ecopg2, X_BOTH, Y_BOTH, points=5)
    path = plot.save(axes, tmp_path / "flow.png", dpi=50)
    img = mpimg.imread(path)
    assert img.ndim == 3 and 150 < img.shape[1] < 600 and img.shape[0] > 100
    assert img[..., :3].std() > 0.05  # not blank
    assert not plt.get_fignums()  # save closes the figure


def test_wrong_number_of_axes(ecopg2):
    fig, ax = plt.subplots()
    with pytest.raises(ParameterError, match="1 axes for 2 panels"):
        plot.flow(ecopg2, X_BOTH, Y_BOTH, axes=ax)
    with pytest.raises(ParameterError, match="kind"):
        plot.flow(ecopg2, X_P, Y_P, kind="arrows")
    with pytest.raises(ParameterError, match="arrows"):
        plot.flow(ecopg2, X_P, Y_P, arrows="velocity")


def test_batches_and_thinned_trajectories(ecopg2):
    batch = ecopg2.trajectories(np.array([strategy(0.1, 0.9), strategy(0.9, 0.9)]), 5000, 1e-5, every=5)
    axes = plot.trajectories(batch, X_P, Y_P, dyn=ecopg2)
    assert n_points(axes[0], plot.GID_START) == 2
    ax = plot.time_series(batch[0], ecopg2, [(0, "p", "c")])
    t = ax.lines[0].get_xdata()
    assert t[1] == 5 and t[-1] == 5 * (batch.n_stored[0] - 1)
    with pytest.raises(ParameterError, match="every=None"):
        plot.time_series(ecopg2.trajectory(strategy(0.1, 0.9), 50, every=None), ecopg2)


def test_plot_package_reexports_every_name_of_its_submodules():
    # crldgen.plot is a package (issue 18): every function, class and constant of a submodule stays reachable
    # as crldgen.plot.<name> (callers use private helpers such as plot._draw_fixed_points too)
    import importlib
    import inspect

    names = ("_common", "overlays", "trajectory", "flows", "ternary", "branches", "attractors", "spectra",
             "sample", "value")
    checked = 0
    for name in names:
        module = importlib.import_module(f"crldgen.plot.{name}")
        for attr, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            constant = attr.isupper() or (attr.startswith("_") and attr[1:].isupper())
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and defined_here or constant:
                assert getattr(plot, attr) is obj, f"crldgen.plot.{attr} is not crldgen.plot.{name}.{attr}"
                checked += 1
    assert checked > 60
    for public in plot.__all__:
        assert callable(getattr(plot, public)), public  # functions, not the submodules of the same name
