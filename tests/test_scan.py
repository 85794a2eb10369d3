"""Parameter scans, locally and on a Dask LocalCluster (issue 15)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import crldgen
from crldgen.errors import ParameterError

xr = pytest.importorskip("xarray")

REPO = Path(__file__).resolve().parents[1]


def chapter_X(pc0, pc1=0.95):
    return np.array([[[0.5, 0.5], [pc0, 1 - pc0]], [[0.5, 0.5], [pc1, 1 - pc1]]])


X0S = np.array([chapter_X(p) for p in (0.1, 0.19, 0.3)])
GRID = {"gamma": [0.7, 0.75, 0.8], "qc": [0.1, 0.2]}


def test_local_scan_equals_one_trajectory_per_combination(ecopg2):
    ds = crldgen.scan(ecopg2, X0S, 3000, 1e-5, grid=GRID, alpha=0.01, beta=100.0)
    assert ds.final.dims == ("gamma", "qc", "initial", "agent", "state", "action")
    assert ds.steps.shape == (3, 2, 3)
    for g in GRID["gamma"]:
        for q in GRID["qc"]:
            for k, X0 in enumerate(X0S):
                tr = ecopg2.trajectory(X0, 3000, 1e-5, every=None, gamma=g, qc=q, alpha=0.01, beta=100.0)
                sel = ds.sel(gamma=g, qc=q).isel(initial=k)
                np.testing.assert_array_equal(sel.final.values, tr.final)
                assert int(sel.steps) == tr.steps and bool(sel.converged) == tr.converged
    np.testing.assert_array_equal(ds.X0.values, X0S)
    assert ds.attrs["module_key"] == ecopg2.module.KEY and ds.attrs["game"] == "ecopg2"


def test_scan_over_explicit_points_and_per_agent_names(ecopg2):
    pts = {"gamma_0": [0.7, 0.8], "m": [-5.0, -6.0]}
    ds = crldgen.scan(ecopg2, chapter_X(0.19), 2000, 1e-5, points=pts)
    assert ds.final.dims == ("point", "agent", "state", "action")
    for j in range(2):
        tr = ecopg2.trajectory(chapter_X(0.19), 2000, 1e-5, every=None, gamma_0=pts["gamma_0"][j], m=pts["m"][j])
        np.testing.assert_array_equal(ds.final.isel(point=j).values, tr.final)
    np.testing.assert_array_equal(ds.m.values, [-5.0, -6.0])


def test_the_scan_function_is_not_shadowed_by_its_module():
    import crldgen.scans  # noqa: F401 - importing the module must leave crldgen.scan the function

    assert callable(crldgen.scan) and crldgen.scan is crldgen.scans.scan


def test_scan_errors_name_the_problem(ecopg2):
    with pytest.raises(ParameterError, match="unknown parameter 'nope'"):
        crldgen.scan(ecopg2, chapter_X(0.2), 10, grid={"nope": [1.0]})
    with pytest.raises(ParameterError, match="one value per point"):
        crldgen.scan(ecopg2, chapter_X(0.2), 10, points={"gamma": [0.7, 0.8], "qc": [0.1]})
    with pytest.raises(ParameterError, match="both scanned and given"):
        crldgen.scan(ecopg2, chapter_X(0.2), 10, grid={"gamma": [0.7]}, gamma=0.8)


def test_scan_saves_and_loads(ecopg2, tmp_path):
    ds = crldgen.scan(ecopg2, X0S, 500, None, grid={"qc": [0.1, 0.3]})
    back = crldgen.load(crldgen.save(ds, tmp_path / "scan.nc"), dyn=ecopg2)
    xr.testing.assert_identical(ds, back)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_dask_scan_equals_the_local_scan_bit_for_bit(ecopg2, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # worker processes are spawned: they import crldgen from this checkout
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    grid = {"gamma": np.linspace(0.6, 0.9, 7), "qc": [0.1, 0.2, 0.3]}
    local = crldgen.scan(ecopg2, X0S, 3000, 1e-5, grid=grid)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        remote = crldgen.scan(ecopg2, X0S, 3000, 1e-5, grid=grid, client=client, chunk_size=10)
        # every worker process imported the generated module itself
        pids = client.run(lambda: __import__("os").getpid())
        loaded = client.run(lambda: sorted(__import__("crldgen.runtime.loader", fromlist=["x"]).loaded_modules()))
    assert len(pids) == 2 and len(set(pids.values())) == 2
    assert all(str(ecopg2.path.resolve()) in mods for mods in loaded.values())
    xr.testing.assert_identical(local, remote)
    assert local.steps.values.min() > 1  # the runs did something
