"""Results that leave the process: labeled xarray data, netCDF round trips, pickling (issue 15)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import crldgen
from crldgen import data
from crldgen.errors import CacheError
from crldgen.runtime import load_module
from crldgen.runtime.identity import game_of

pytest.importorskip("xarray")
pytest.importorskip("netCDF4")

REPO = Path(__file__).resolve().parents[1]
CH = dict(alpha=0.01, beta=100.0, gamma=0.75)


def chapter_X(pc0, pc1=0.95):
    return np.array([[[0.5, 0.5], [pc0, 1 - pc0]], [[0.5, 0.5], [pc1, 1 - pc1]]])


def assert_same(a, b, where="result"):
    """Recursive exact equality: classes, keys, dtypes, shapes, values (NaN equal to NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{where}: values differ"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def results(ecopg2):
    """One result of every kind, computed once on the chapter's game."""
    dyn = ecopg2
    out = {}
    out["trajectory"] = dyn.trajectory(chapter_X(0.19), 5000, 1e-5)
    out["trajectory_every"] = dyn.trajectory(chapter_X(0.19), 5000, 1e-5, every=7)
    out["trajectory_final"] = dyn.trajectory(chapter_X(0.19), 5000, 1e-5, every=None)
    X0s = np.array([chapter_X(p) for p in (0.15, 0.19, 0.3)])
    out["trajectories"] = dyn.trajectories(X0s, 3000, 1e-5, every=10, gamma=[0.7, 0.75, 0.8], qc=0.25)
    out["sweep"] = dyn.sweep(dyn.uniform_strategy(), "gamma", np.linspace(0.6, 0.9, 7), 2500, 1e-11,
                             alpha=0.05, beta=50.0)
    out["sweep_free"] = dyn.sweep(dyn.uniform_strategy(), "qc", [0.1, 0.2], 500, None, carry=False)
    fps = crldgen.fixed_points(dyn, n_starts=12, rng=1)
    out["fixed_points"] = fps
    out["stability"] = crldgen.stability(dyn, fps.points[-1].X)
    out["basins"] = crldgen.basins(dyn, (0, "p", "c"), (1, "p", "c"), 4, attractors=fps, tmax=3000, tol=1e-6)
    out["basin_fractions"] = crldgen.basin_fractions(dyn, 8, rng=2, tmax=3000, tol=1e-6)
    out["tipping_point"] = crldgen.tipping_point(dyn, coordinate=(0, "p", "c"), interval=(0.1, 0.3),
                                                 base=chapter_X(0.5), tol=1e-3, run_tol=1e-5, tmax=5000)
    saddle = [pt for pt in fps.points if pt.type == "saddle"][0]
    out["branch"] = crldgen.continuation(dyn, "gamma", saddle.X, start=0.75, bounds=(0.7, 0.8), max_steps=20)
    out["hysteresis"] = crldgen.hysteresis(dyn, "gamma", 0.7, 0.85, observable=("p", "c"), alpha=0.05, beta=50.0,
                                           max_steps=200)
    out["slowing_down"] = crldgen.critical_slowing_down(dyn, out["tipping_point"], np.logspace(-3, -2, 3),
                                                        saddle=saddle, tmax=20000, tol=1e-5)
    out["manifold"] = crldgen.stable_manifold(dyn, saddle, n_per_domain=4, max_iter=30)
    out["hysteresis_sweep"] = crldgen.hysteresis_sweep(dyn, "gamma", np.linspace(0.6, 0.9, 9), tmax=2500,
                                                       alpha=0.05, beta=50.0)
    return out


KINDS = ["trajectory", "trajectory_every", "trajectory_final", "trajectories", "sweep", "sweep_free",
         "fixed_points", "stability", "basins", "basin_fractions", "tipping_point", "branch", "hysteresis",
         "slowing_down", "manifold", "hysteresis_sweep"]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_is_exact(results, kind, tmp_path, ecopg2):
    res = results[kind]
    path = res.save(tmp_path / f"{kind}.nc")
    back = crldgen.load(path)
    assert_same(res, back)
    info = game_of(back)
    assert info is not None and info.key == ecopg2.module.KEY and info.game == "ecopg2" and info.learner == "sarsa"
    # loading with the right dynamics passes the identity check
    assert_same(res, crldgen.load(path, dyn=ecopg2))


@pytest.mark.parametrize("kind", KINDS)
def test_results_pickle_exactly(results, kind):
    res = results[kind]
    back = pickle.loads(pickle.dumps(res))
    assert_same(res, back)
    assert game_of(back) == game_of(res)


def test_trajectory_dataset_has_labels_and_parameters(results, ecopg2):
    tr = results["trajectory_every"]
    ds = tr.to_xarray()
    assert ds.X.dims == ("time", "agent", "state", "action")
    assert list(ds.state.values) == ["g", "p"] and list(ds.action.values) == ["c", "d"]
    np.testing.assert_array_equal(ds.time.values, np.arange(len(tr.X)) * 7)
    # label-based selection hits the same numbers as the array indices
    assert float(ds.X.sel(time=14, agent="1", state="p", action="c")) == tr.X[2, 1, 1, 0]
    assert ds.attrs["game"] == "ecopg2" and ds.attrs["learner"] == "sarsa"
    assert ds.attrs["module_key"] == ecopg2.module.KEY
    assert ds.attrs["qc"] == 0.2 and list(ds.attrs["alpha"]) == [0.01, 0.01]


def test_batch_dataset_has_member_parameters(results):
    res = results["trajectories"]
    ds = res.to_xarray()
    assert ds.final.dims == ("member", "agent", "state", "action")
    np.testing.assert_array_equal(ds.gamma.sel(agent="0").values, [0.7, 0.75, 0.8])
    np.testing.assert_array_equal(ds.qc.values, [0.25] * 3)
    np.testing.assert_array_equal(ds.steps.values, res.steps)
    sw = results["sweep"].to_xarray()
    np.testing.assert_array_equal(sw["gamma_swept"].values, np.linspace(0.6, 0.9, 7))


def test_fixed_point_dataset_and_table(results):
    fps = results["fixed_points"]
    ds = fps.to_xarray()
    assert ds.X.dims == ("point", "agent", "state", "action")
    assert list(ds.type.values) == [pt.type for pt in fps.points]
    assert ds.jacobian.dims == ("point", "row", "column") and ds.row.values[0] == "0|g|c"
    np.testing.assert_array_equal(ds.eigenvalues.values, np.array([pt.eigenvalues for pt in fps.points]))
    table = fps.to_pandas()
    assert list(table["type"]) == [pt.type for pt in fps.points]
    np.testing.assert_array_equal(table["X[1,p,c]"].values, fps.X[:, 1, 1, 0])
    html = fps._repr_html_()
    assert html.startswith("<table") and "saddle" in html and "X[0,p,c]" in html


def test_branch_dataset_and_table(results):
    br = results["branch"]
    ds = br.to_xarray()
    assert ds.X.dims == ("point", "agent", "state", "action")
    np.testing.assert_array_equal(ds.gamma.values, br.param)
    table = br.to_pandas()
    np.testing.assert_array_equal(table["gamma"].values, br.param)
    np.testing.assert_array_equal(table["stable"].values, br.stable)


def test_complex_eigenvalues_survive_the_file(tmp_path, compiled):
    """netCDF has no complex type: complex fields are split into real and imaginary parts and rejoined."""
    dyn = compiled(lambda: crldgen.games.social_dilemma(), "sarsa", True)
    fp = crldgen.stability(dyn, dyn.uniform_strategy(), alpha=0.5, beta=5.0)
    fp["eigenvalues"] = fp.eigenvalues.astype(complex) + np.array([0.25j, -0.25j])  # a complex pair
    back = crldgen.load(fp.save(tmp_path / "fp.nc"))
    assert back.eigenvalues.dtype == np.complex128
    assert_same(fp, back)


def test_load_checks_the_game(results, tmp_path, compiled):
    other = compiled(lambda: crldgen.games.social_dilemma(), "sarsa", True)
    path = results["trajectory"].save(tmp_path / "t.nc")
    with pytest.raises(CacheError, match="module key"):
        crldgen.load(path, dyn=other)
    with pytest.raises(CacheError, match="module key"):
        results["trajectory"].to_xarray(dyn=other)


def test_loaded_result_reattaches_to_its_dynamics(results, tmp_path, ecopg2):
    back = crldgen.load(results["trajectory"].save(tmp_path / "t.nc"))
    dyn = back.dynamics(cache_dir=ecopg2.path.parent)
    assert dyn.module is ecopg2.module
    again = dyn.trajectory(chapter_X(0.19), 5000, 1e-5, **CH)
    np.testing.assert_array_equal(again.X, back.X)


def test_unknown_class_in_a_file_is_refused(results):
    ds = results["trajectory"].to_xarray()
    ds.attrs["crldgen_meta"] = ds.attrs["crldgen_meta"].replace('"Trajectory"', '"os.system"')
    with pytest.raises(data.DataFormatError, match="unknown result class"):
        data.from_xarray(ds)


# ------------------------------------------------------------------ pickling Dynamics
CHILD = r"""
import pickle, sys
import numpy as np
dyn, X = pickle.loads(sys.stdin.buffer.read())
tr = dyn.trajectory(X, 5000, 1e-5)
out = dict(step=dyn.step(X), step_override=dyn.step(X, gamma=0.8, qc=0.3), X=tr.X, steps=tr.steps,
           path=str(dyn.path), defaults=dyn.defaults)
sys.stdout.buffer.write(pickle.dumps(out))
"""


def _child_env(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), CRLDGEN_CACHE=str(tmp_path / "empty-cache"))
    return env


def test_dynamics_pickles_by_reference_into_a_fresh_process(ecopg2, tmp_path):
    assert len(pickle.dumps(ecopg2)) < 2000  # a reference (path, key, defaults), not the module
    X = chapter_X(0.19)
    blob = pickle.dumps((ecopg2, X))
    proc = subprocess.run([sys.executable, "-c", CHILD], input=blob, capture_output=True, env=_child_env(tmp_path),
                          timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    out = pickle.loads(proc.stdout)
    tr = ecopg2.trajectory(X, 5000, 1e-5)
    np.testing.assert_array_equal(out["step"], ecopg2.step(X))
    np.testing.assert_array_equal(out["step_override"], ecopg2.step(X, gamma=0.8, qc=0.3))
    np.testing.assert_array_equal(out["X"], tr.X)
    assert out["steps"] == tr.steps == 234
    assert out["path"] == str(ecopg2.path)
    assert_same(out["defaults"], ecopg2.defaults)


def test_pickled_dynamics_keeps_its_defaults(ecopg2):
    dyn = crldgen.Dynamics(ecopg2.module, path=ecopg2.path,
                           **{**ecopg2.defaults, "qc": 0.3, "gamma": [0.7, 0.8]})
    back = pickle.loads(pickle.dumps(dyn))
    assert back.module is dyn.module  # same process: the registry's module
    assert_same(back.defaults, dyn.defaults)
    assert back.defaults["qc"] == 0.3 and back.defaults["gamma"].tolist() == [0.7, 0.8]


def test_unpickling_without_the_module_is_a_clear_cache_error(ecopg2, tmp_path):
    moved = tmp_path / "moved_ecopg2_module.py"  # a name found neither in generated/ nor the cache
    shutil.copy(ecopg2.path, moved)
    dyn = crldgen.Dynamics(load_module(moved, ecopg2.module.KEY), path=moved, **ecopg2.defaults)
    blob = pickle.dumps((dyn, chapter_X(0.19)))
    moved.unlink()
    proc = subprocess.run([sys.executable, "-c", CHILD], input=blob, capture_output=True, env=_child_env(tmp_path),
                          timeout=300)
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "CacheError" in err and "moved_ecopg2_module.py" in err and "not available in this process" in err


def test_unpickling_refuses_a_tampered_module(ecopg2, tmp_path):
    copy = tmp_path / "copy_ecopg2_module.py"
    shutil.copy(ecopg2.path, copy)
    dyn = crldgen.Dynamics(load_module(copy, ecopg2.module.KEY), path=copy, **ecopg2.defaults)
    blob = pickle.dumps((dyn, chapter_X(0.19)))
    copy.write_text(copy.read_text() + "\n# edited\n")
    proc = subprocess.run([sys.executable, "-c", CHILD], input=blob, capture_output=True, env=_child_env(tmp_path),
                          timeout=300)
    assert proc.returncode != 0 and "CacheError" in proc.stderr.decode()


def _uncertain():
    return crldgen.games.uncertain_social_dilemma()


def test_partially_observed_results_use_observation_labels(compiled, tmp_path):
    po = compiled(_uncertain, "sarsa", True, alpha=0.05, beta=5.0, gamma=0.8)
    tr = po.trajectory(po.uniform_strategy(), 50)
    ds = tr.to_xarray()
    assert ds.X.dims == ("time", "agent", "observation", "action")
    assert list(ds.observation.values) == list(po.observations)
    assert "state" not in ds.dims
    back = crldgen.load(tr.save(tmp_path / "po.nc"), dyn=po)
    assert_same(tr, back)
    assert game_of(back).observations == tuple(po.observations) and not game_of(back).fully_observed


def test_html_of_results_is_short_for_long_runs(results, ecopg2):
    html = results["trajectory"]._repr_html_()
    assert html.startswith("<table") and "final[0,p,c]" in html and html.count("<tr>") == 2  # header + final
    batch = ecopg2.trajectories(np.array([chapter_X(0.19)] * 60), 50, None)
    html = batch._repr_html_()
    assert html.count("<tr>") == 1 + 40 + 1 and "more rows" in html
    assert "<table" in ecopg2._repr_html_() and "ecopg2" in ecopg2._repr_html_()


def test_a_foreign_netcdf_file_is_refused_clearly(tmp_path):
    import xarray as xr

    path = tmp_path / "foreign.nc"
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_netcdf(path)
    with pytest.raises(data.DataFormatError, match="not made by crldgen"):
        crldgen.load(path)
    with pytest.raises(FileNotFoundError):
        crldgen.load(tmp_path / "missing.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.nc"]  # nothing half-written left behind
