"""crldgen.interactive: the explorers' update logic, without a browser.

Each check compares what an explorer drew with an independent call of the public API
at the same parameters (plot.flow_field, fixed_points, Dynamics.trajectory), counts that
50 slider moves compile nothing, and runs the example notebook through nbclient.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402

import crldgen  # noqa: E402
from crldgen import interactive, plot  # noqa: E402
from crldgen.errors import ParameterError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
X_BOTH, Y_BOTH = ([0], ["g", "p"], ["c"]), ([1], ["g", "p"], ["c"])


@pytest.fixture(scope="module")
def dyn(compiled):
    """The chapter's flow-plot set-up (SARSA, alpha 0.05, beta 50, gamma 0.75)."""
    return compiled(lambda: crldgen.games.ecological_public_good(2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01),
                    "sarsa", True, alpha=0.05, beta=50.0, gamma=0.75)


@pytest.fixture()
def explorer(dyn):
    ex = interactive.flow(dyn, X_BOTH, Y_BOTH, params={"gamma": (0.5, 0.95, 0.01), "beta": (1, 100),
                                                       "m": (-8, -2), "qc": (0.05, 0.5)})
    yield ex
    import matplotlib.pyplot as plt

    plt.close(ex.figure)


def _quiver_uv(ax):
    q = next(c for c in ax.collections if c.get_gid() == "flow")
    return np.ma.filled(q.U, np.nan), np.ma.filled(q.V, np.nan)


@pytest.mark.parametrize("changes", [dict(gamma=0.8), dict(m=-6.0), dict(qc=0.3), dict(beta=1.0),
                                     dict(gamma=0.9, qc=0.25, m=-4.0)])
def test_update_draws_the_arrows_of_a_direct_flow_field_call(dyn, explorer, changes):
    assert explorer.update(**changes)
    p = {**dict(gamma=0.75, beta=50.0, m=-5.0, qc=0.2), **changes}
    direct = plot.flow_field(dyn, X_BOTH, Y_BOTH, 9, **p)
    assert len(direct) == len(explorer.fields) == 2
    for ax, f, g in zip(explorer.axes, explorer.fields, direct):
        np.testing.assert_array_equal(f.U, g.U)
        np.testing.assert_array_equal(f.V, g.V)
        u, v = _quiver_uv(ax)  # what the figure shows
        np.testing.assert_allclose(u.ravel(), g.u.ravel(), rtol=0, atol=0, equal_nan=True)
        np.testing.assert_allclose(v.ravel(), g.v.ravel(), rtol=0, atol=0, equal_nan=True)
    assert explorer.values == {k: float(v) for k, v in p.items()}


def _sorted_points(X):
    X = np.asarray(X)
    return X[np.lexsort(X.reshape(len(X), -1).T[::-1])] if len(X) else X


@pytest.mark.parametrize("gamma", [0.7, 0.8, 0.85, 0.72])
def test_tracked_fixed_points_are_those_of_a_full_search(dyn, explorer, gamma):
    explorer.update(gamma=0.75)
    explorer.update(gamma=gamma)
    full = crldgen.fixed_points(dyn, n_starts=64, rng=1, gamma=gamma)
    got = _sorted_points(explorer.points.X)
    want = _sorted_points(full.X)
    assert got.shape == want.shape, (explorer.points.summary(), full.summary())
    np.testing.assert_allclose(got, want, atol=1e-8)
    np.testing.assert_array_equal(np.sort(explorer.points.stable), np.sort(full.stable))
    # and the markers on the figure are these points: filled = stable, open = unstable
    ax_p = explorer.axes[1]
    stable = [ln for ln in ax_p.lines if ln.get_gid() == plot.GID_STABLE]
    n_stable = sum(len(ln.get_xdata()) for ln in stable)
    assert n_stable == int(np.sum(full.stable))


def test_fifty_slider_moves_compile_nothing(dyn, explorer, monkeypatch):
    import crldgen.compiler
    import crldgen.runtime.loader

    calls = []
    for mod, name in [(crldgen.compiler, "compile"), (crldgen.compiler, "compile_model"),
                      (crldgen.compiler, "generate"), (crldgen.runtime.loader, "load_module")]:
        monkeypatch.setattr(mod, name, lambda *a, _n=name, **k: calls.append(_n))
    kernels = {n: k for n, k in vars(dyn.module).items() if hasattr(k, "signatures")}
    before = {n: len(k.signatures) for n, k in kernels.items()}
    rng = np.random.default_rng(0)
    for _ in range(50):
        name = rng.choice(["gamma", "beta", "m", "qc"])
        lo, hi, _ = explorer.ranges[name]
        explorer.update(**{name: float(rng.uniform(lo, hi))})
    assert explorer.n_updates + (explorer.message is not None) >= 1
    assert calls == []
    assert {n: len(k.signatures) for n, k in kernels.items()} == before
    assert explorer.dyn.module is dyn.module


def test_rejected_parameters_keep_the_picture_and_say_why(dyn, explorer):
    explorer.update(gamma=0.8)
    fields = explorer.fields
    assert explorer.update(gamma=1.2) is False
    assert "gamma" in explorer.message and "[0, 1)" in explorer.message
    assert explorer.fields is fields and explorer.values["gamma"] == 0.8
    assert explorer.update(gamma=0.7) and explorer.message is None
    with pytest.raises(ParameterError, match="zeta"):
        explorer.update(zeta=1.0)


def test_slider_ranges_follow_the_rules_or_the_user(dyn):
    assert interactive.slider_range(dyn, "gamma") == pytest.approx((0.0, 0.99, 0.0099))
    lo, hi, _ = interactive.slider_range(dyn, "alpha")
    assert 0 < lo < hi <= 1
    lo, hi, _ = interactive.slider_range(dyn, "beta")
    assert 0 < lo < 50 < hi
    assert interactive.slider_range(dyn, "m") == pytest.approx((-7.5, -2.5, 0.05))
    assert interactive.slider_range(dyn, "qc", (0.1, 0.4, 0.05)) == (0.1, 0.4, 0.05)
    for bad in [(0.4, 0.1), (0, 1, -0.1), (0, float("nan")), (1,)]:
        with pytest.raises(ParameterError, match="qc"):
            interactive.slider_range(dyn, "qc", bad)
    with pytest.raises(ParameterError, match="nope"):
        interactive.slider_range(dyn, "nope")


def test_trajectory_explorer_restarts_where_clicked(dyn):
    ex = interactive.trajectory(dyn, X_BOTH, Y_BOTH, params=["gamma"], tmax=3000, tol=1e-5)
    assert ex.set_start(0.3, 0.7, panel=1)
    X0 = ex.X0
    assert X0[0, 1, 0] == pytest.approx(0.3) and X0[1, 1, 0] == pytest.approx(0.7)
    direct = dyn.trajectory(X0, 3000, 1e-5)
    np.testing.assert_array_equal(ex.trajectory.X, direct.X)
    line = [ln for ln in ex.axes[1].lines if ln.get_gid() == "trajectory"]
    assert len(line) == 1
    np.testing.assert_allclose(line[0].get_xdata(), direct.X[:, 0, 1, 0])
    # a click in panel g at (0.2, 0.9) does the same through matplotlib's event system
    ax = ex.axes[0]
    px, py = ax.transData.transform((0.2, 0.9))
    ex.figure.canvas.callbacks.process("button_press_event",
                                       MouseEvent("button_press_event", ex.figure.canvas, px, py, button=1))
    assert ex.X0[0, 0, 0] == pytest.approx(0.2, abs=1e-9) and ex.X0[1, 0, 0] == pytest.approx(0.9, abs=1e-9)
    np.testing.assert_array_equal(ex.trajectory.X, dyn.trajectory(ex.X0, 3000, 1e-5).X)
    # a slider move re-runs the trajectory from the same start at the new value
    assert ex.update(gamma=0.8)
    np.testing.assert_array_equal(ex.trajectory.X, dyn.trajectory(ex.X0, 3000, 1e-5, gamma=0.8).X)
    with pytest.raises(ParameterError, match="panel"):
        ex.set_start(0.5, 0.5, panel=2)
    with pytest.raises(ParameterError, match="strictly inside"):
        ex.set_start(1.0, 0.5)


def test_bifurcation_explorer_marks_the_fixed_points_at_the_marker(dyn):
    start = crldgen.fixed_points(dyn, n_starts=16, rng=0, gamma=0.6).points[0].X
    branch = crldgen.continuation(dyn, "gamma", start, start=0.6, bounds=(0.6, 0.9), observable=("p", "c"),
                                  ds_max=0.2)
    ex = interactive.bifurcation(dyn, branch, value=0.75)
    for g in (0.75, 0.8):
        found = sorted(ex.set_value(g))
        full = crldgen.fixed_points(dyn, n_starts=64, rng=0, gamma=g)
        want = sorted((float(X[:, 1, 0].mean()), bool(s)) for X, s in zip(full.X, full.stable))
        assert [s for _, s in found] == [s for _, s in want]
        np.testing.assert_allclose([y for y, _ in found], [y for y, _ in want], atol=2e-3)
        assert ex._line.get_xdata()[0] == g
    assert ex.set_value(0.65) == [(pytest.approx(ex.crossings[0][0]), True)]
    with pytest.raises(ParameterError, match="outside"):
        ex.set_value(0.95)


def test_widget_has_one_slider_per_parameter_and_moves_the_explorer(explorer):
    pytest.importorskip("ipywidgets")
    box = explorer.widget()
    sliders = box.children[:-1]
    assert [s.description for s in sliders] == ["gamma", "beta", "m", "qc"]
    assert (sliders[0].min, sliders[0].max) == (0.5, 0.95)
    n = explorer.n_updates
    sliders[0].value = 0.8
    assert explorer.values["gamma"] == 0.8 and explorer.n_updates == n + 1


@pytest.mark.slow
def test_example_notebook_executes(tmp_path, cache_dir):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "examples" / "interactive.ipynb", as_version=4)
    env_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    old = {k: os.environ.get(k) for k in ("PYTHONPATH", "CRLDGEN_CACHE", "MPLBACKEND", "CRLDGEN_QUIET")}
    # CRLDGEN_QUIET: no messages from the background compile thread after a cell is over (nbclient waits for them)
    os.environ.update(PYTHONPATH=env_path, CRLDGEN_CACHE=str(cache_dir), CRLDGEN_QUIET="1")
    os.environ.pop("MPLBACKEND", None)
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT / "examples")}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
