"""Benchmark of the value-space kernels (crldgen.value): per-step cost and compile time.

Run from the repository root::

    python benchmarks/bench_value.py              # writes benchmarks/results/value.{json,md}

Measures, on the ecological public good (N=2 and N=3, prefactor on):

* ``per_step``: ns per step inside the compiled trajectory loop (tol=None, so it never
  stops early) for every learner x policy, next to strategy-space SARSA's compiled loop
  on the same game (N=2 only: its generated module is in ``generated/``);
* ``batch``: ns per step of a 1000-member batch (``trajectories``, parallel);
* ``jacobian``: one forward-mode Jacobian call (N*Z*M directions);
* ``cold_compile``: a fresh process with an empty numba cache (``NUMBA_CACHE_DIR`` in a
  temporary folder) calling every kernel once: the one-time cost per installation;
  ``warm_first_call``: the same with the cache filled.

``best`` is the minimum over ``--repeat`` runs (warm); per-step costs are given in wall
time and in process CPU time (the latter is less sensitive to a loaded machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen.value import ValueDynamics  # noqa: E402

FIRST_CALLS = r"""
import sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import numpy as np, crldgen
from crldgen.value import ValueDynamics
game = crldgen.games.ecological_public_good(2)
vd = ValueDynamics(game, "q_learning")
Q = np.zeros(vd.shape)
t1 = time.perf_counter()
vd.strategy(Q); vd.tderror(Q); vd.step(Q); vd.averages(vd.strategy(Q)); vd.jacobian(Q + np.arange(8).reshape(Q.shape))
vd.trajectory(Q, 10); vd.trajectories(np.zeros((2,) + vd.shape), 10); vd.sweep(Q, "gamma", [0.5, 0.6], 10)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def timed(fn, repeat, clock=time.perf_counter):
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return {"best": min(times), "median": statistics.median(times), "repeat": repeat}


def first_calls(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", FIRST_CALLS.format(root=str(ROOT))], capture_output=True,
                         text=True, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    imp, calls = (float(v) for v in out.stdout.split())
    return {"import_and_setup_s": imp, "first_calls_s": calls,
            "process_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-compile measurement")
    args = ap.parse_args(argv)
    res = {"machine": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
           "load_average": os.getloadavg(), "per_step_ns": {}, "per_step_cpu_ns": {}, "batch_ns_per_step": {}, "jacobian_us": {}}
    steps = args.steps
    for N in (2, 3):
        game = crldgen.games.ecological_public_good(N)
        for learner in ("sarsa", "expected_sarsa", "q_learning"):
            for policy in ("softmax", "epsilon_greedy"):
                vd = ValueDynamics(game, learner, policy, alpha=0.05, beta=50.0, epsilon=0.1, gamma=0.75)
                Q0 = np.random.default_rng(0).normal(size=vd.shape)
                vd.trajectory(Q0, 10, None, every=None)
                t = timed(lambda: vd.trajectory(Q0, steps, None, every=None), args.repeat)
                c = timed(lambda: vd.trajectory(Q0, steps, None, every=None), args.repeat, time.process_time)
                res["per_step_ns"][f"N{N} {learner} {policy}"] = 1e9 * t["best"] / steps
                res["per_step_cpu_ns"][f"N{N} {learner} {policy}"] = 1e9 * c["best"] / steps
        vd = ValueDynamics(game, "q_learning", "softmax")
        Q0 = np.random.default_rng(0).normal(size=vd.shape)
        Q0s = np.random.default_rng(1).normal(size=(1000,) + vd.shape)
        vd.trajectories(Q0s[:2], 10)
        t = timed(lambda: vd.trajectories(Q0s, 1000, None), max(1, args.repeat // 2))
        res["batch_ns_per_step"][f"N{N} q_learning softmax, 1000 x 1000"] = 1e9 * t["best"] / 1e6
        vd.jacobian(Q0)
        t = timed(lambda: vd.jacobian(Q0), args.repeat)
        res["jacobian_us"][f"N{N} q_learning softmax"] = 1e6 * t["best"]
    dyn = crldgen.compile(crldgen.games.ecological_public_good(2), "sarsa", alpha=0.05, beta=50.0, gamma=0.75,
                          engine=False)
    X0 = dyn.uniform_strategy()
    dyn.trajectory(X0, 10, every=None)
    t = timed(lambda: dyn.trajectory(X0, steps, None, every=None), args.repeat)
    c = timed(lambda: dyn.trajectory(X0, steps, None, every=None), args.repeat, time.process_time)
    res["per_step_ns"]["N2 strategy-space SARSA (generated module)"] = 1e9 * t["best"] / steps
    res["per_step_cpu_ns"]["N2 strategy-space SARSA (generated module)"] = 1e9 * c["best"] / steps
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as tmp:
            res["cold_compile"] = first_calls(tmp)
            res["warm_first_call"] = first_calls(tmp)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "value.json").write_text(json.dumps(res, indent=2))
    lines = ["# Value-space kernels", "", f"`python benchmarks/bench_value.py --repeat {args.repeat}` on "
             f"{res['machine']} ({res['cpus']} CPUs, load average {np.round(res['load_average'], 2).tolist()})",
             "", "| case | ns per step (wall) | ns per step (process CPU) |", "|---|---|---|"]
    lines += [f"| {k} | {v:.0f} | {res['per_step_cpu_ns'][k]:.0f} |" for k, v in res["per_step_ns"].items()]
    lines += ["", "| batch (parallel) | ns per step |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in res["batch_ns_per_step"].items()]
    lines += ["", "| Jacobian | µs per call |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in res["jacobian_us"].items()]
    if "cold_compile" in res:
        cold, warm = res["cold_compile"], res["warm_first_call"]
        lines += ["", "| first use in a fresh process | import + set-up (s) | first call of every kernel (s) | "
                  "process CPU (s) |", "|---|---|---|---|",
                  f"| empty numba cache (once per installation) | {cold['import_and_setup_s']:.2f} | "
                  f"{cold['first_calls_s']:.2f} | {cold['process_cpu_s']:.1f} |",
                  f"| cache filled | {warm['import_and_setup_s']:.2f} | {warm['first_calls_s']:.2f} | "
                  f"{warm['process_cpu_s']:.1f} |"]
    (out / "value.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
