"""Benchmark of results that leave the process (issue 15).

Run from the repository root::

    python benchmarks/bench_results.py            # writes benchmarks/results/results.{json,md}

Measures (ecological public good, N=2, SARSA, the committed module):

* ``tag_overhead``: per-call cost of a short ``dyn.trajectory`` (tmax=10) with the game
  identity attached to the result (the public function) and without (``__wrapped__``);
* ``attach_identity``: the part of that cost spent attaching the identity (``attach_game``);
* ``pickle``: ``pickle.dumps`` + ``loads`` of a ``Dynamics`` in one process (by reference);
* ``save_load``: ``save`` + ``crldgen.load`` of a 5000-step trajectory and of a fixed point result;
* ``scan``: the README scan (4 x 3 x 3 grid x 50 initial strategies = 1800 trajectories)
  locally, and on a ``LocalCluster(n_workers=2, threads_per_worker=1)`` (cluster start-up
  not included).
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen import iterate  # noqa: E402
from crldgen.games import ecological_public_good  # noqa: E402


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out), statistics.median(out)


def main():
    dyn = crldgen.compile(ecological_public_good(2), "sarsa", alpha=0.01, beta=100.0, gamma=0.75, engine=False)
    X = np.array([[[0.5, 0.5], [0.19, 0.81]], [[0.5, 0.5], [0.95, 0.05]]])
    res = {}
    dyn.trajectory(X, 10)
    n = 2000
    tagged = timed(lambda: [iterate.trajectory(dyn, X, 10) for _ in range(n)], 5)
    bare = timed(lambda: [iterate.trajectory.__wrapped__(dyn, X, 10) for _ in range(n)], 5)
    res["tag_overhead_us"] = {"tagged_per_call": tagged[0] / n * 1e6, "untagged_per_call": bare[0] / n * 1e6}
    from crldgen.runtime.identity import attach_game, game_info

    one = iterate.trajectory(dyn, X, 10)
    m = 100000
    res["attach_identity_ns"] = timed(lambda: [attach_game(one, game_info(dyn)) for _ in range(m)], 3)[0] / m * 1e9
    res["pickle_us"] = timed(lambda: pickle.loads(pickle.dumps(dyn)), 200)[0] * 1e6
    tr = dyn.trajectory(X, 5000, 1e-5)
    fps = crldgen.fixed_points(dyn, n_starts=16, rng=0)
    with tempfile.TemporaryDirectory() as tmp:
        res["save_load_trajectory_ms"] = timed(lambda: crldgen.load(tr.save(Path(tmp) / "t.nc")), 10)[0] * 1e3
        res["save_load_fixed_points_ms"] = timed(lambda: crldgen.load(fps.save(Path(tmp) / "f.nc")), 10)[0] * 1e3
    rng = np.random.default_rng(0)
    X0s = np.array([dyn.random_strategy(rng) for _ in range(50)])
    grid = {"gamma": [0.6, 0.7, 0.8, 0.9], "qc": [0.1, 0.2, 0.3], "m": [-6.0, -5.0, -4.0]}
    crldgen.scan(dyn, X0s, 5000, 1e-5, grid=grid)
    res["scan_local_s"] = timed(lambda: crldgen.scan(dyn, X0s, 5000, 1e-5, grid=grid), 3)[0]
    from distributed import Client, LocalCluster

    os.environ["PYTHONPATH"] = str(ROOT)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        crldgen.scan(dyn, X0s, 5000, 1e-5, grid=grid, client=client)  # workers import the module
        res["scan_dask_s"] = timed(lambda: crldgen.scan(dyn, X0s, 5000, 1e-5, grid=grid, client=client), 3)[0]
    res["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    md = ["| measure | value |", "|---|---|"]
    md += [f"| trajectory(tmax=10) per call, identity attached | {res['tag_overhead_us']['tagged_per_call']:.1f} us |",
           f"| the same without attaching | {res['tag_overhead_us']['untagged_per_call']:.1f} us |",
           f"| attaching the game identity to one result | {res['attach_identity_ns']:.0f} ns |",
           f"| pickle + unpickle a Dynamics | {res['pickle_us']:.0f} us |",
           f"| save + load a 234-step trajectory | {res['save_load_trajectory_ms']:.1f} ms |",
           f"| save + load 3 fixed points | {res['save_load_fixed_points_ms']:.1f} ms |",
           f"| README scan, 1800 trajectories, local | {res['scan_local_s']:.3f} s |",
           f"| the same on LocalCluster(2 workers x 1 thread) | {res['scan_dask_s']:.3f} s |"]
    (out / "results.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
