"""Benchmark of crldgen.sample: sampled transitions per second, one core and all cores.

Run from the repository root::

    python benchmarks/bench_sample.py            # writes benchmarks/results/sample.{json,md}

The chapter's ecological public good (N=2, Z=2, M=2; alpha 0.05, beta 5, gamma 0.75,
prefactor) with every sample learner:

* ``batch``: batch learners, ``--runs`` replicates x ``--steps`` strategy updates x
  ``--batch`` transitions (the batch evaluation per update is included);
* ``online``: online (K = 1) learners, ``--runs`` x ``--online-steps`` time steps.

Each measurement is the best (and median) of ``--repeat`` warm calls (after one call
that compiles or loads the kernels from numba's cache), with ``numba.set_num_threads(1)``
and with all threads. Target: at least 5e7 transitions/s on 2 cores (batch learners).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen import sample  # noqa: E402

PARAMS = dict(alpha=0.05, beta=5.0, gamma=0.75)
TARGET_2_CORES = 5e7


def timed(fn, repeat):
    """Best and median wall time, and the CPU time (all threads) of the best call."""
    times, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(times), statistics.median(times), cpus[int(np.argmin(times))]


def measure(game, X0, learner, batch, steps, runs, repeat, threads):
    numba.set_num_threads(threads)

    def run():
        sample.simulate(game, X0, steps, learner=learner, batch=batch, runs=runs, seed=0, every=steps, **PARAMS)

    run()  # compile / load from cache
    best, median, cpu = timed(run, repeat)
    n = runs * steps * (batch or 1)
    # per CPU second: what one core delivers when it is not shared (a loaded machine lowers
    # the wall-clock rates, much less the CPU-time rate)
    return {"threads": threads, "transitions": n, "best_s": best, "median_s": median, "cpu_s": cpu,
            "per_s_best": n / best, "per_s_median": n / median, "per_cpu_s": n / cpu}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--online-steps", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    game = crldgen.games.ecological_public_good(2)
    X0 = np.full((2, 2, 2), 0.5)
    X0[:, 1] = [[0.3, 0.7], [0.6, 0.4]]
    all_threads = numba.config.NUMBA_NUM_THREADS
    loadavg = os.getloadavg() if hasattr(os, "getloadavg") else None
    results = {"machine": platform.platform(), "cpus": os.cpu_count(), "numba_threads": all_threads,
               "loadavg_at_start": loadavg, "game": "ecological public good, N=2", "params": PARAMS,
               "batch": {}, "online": {}}
    for learner in sample.LEARNERS:
        for threads in sorted({1, all_threads}):
            r = measure(game, X0, learner, args.batch, args.steps, args.runs, args.repeat, threads)
            results["batch"].setdefault(learner, []).append(r)
            print(f"batch  {learner:<15} K={args.batch} threads={threads}: {r['per_s_best']:.3g} transitions/s "
                  f"({r['per_cpu_s']:.3g} per CPU second)")
            r = measure(game, X0, learner, None, args.online_steps, args.runs, args.repeat, threads)
            results["online"].setdefault(learner, []).append(r)
            print(f"online {learner:<15} threads={threads}: {r['per_s_best']:.3g} transitions/s "
                  f"({r['per_cpu_s']:.3g} per CPU second)")
    numba.set_num_threads(all_threads)
    results["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    best_all = max(r["per_s_best"] for rs in results["batch"].values() for r in rs if r["threads"] == all_threads)
    results["target_2_cores"] = TARGET_2_CORES
    results["batch_best_all_threads"] = best_all

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "sample.json.part"
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out / "sample.json")
    lines = [f"# crldgen.sample benchmark ({results['machine']}, {results['cpus']} CPUs, "
             f"load average at start {loadavg})", "",
             f"Batch K={args.batch}, {args.runs} runs x {args.steps} updates; online {args.runs} runs x "
             f"{args.online_steps} steps. Best of {args.repeat}, transitions per second.", "",
             "| learner | kind | 1 thread | all threads | per CPU second (1 thread) |", "|---|---|---|---|---|"]
    for kind in ("batch", "online"):
        for learner, rs in results[kind].items():
            by = {r["threads"]: r["per_s_best"] for r in rs}
            cpu1 = [r["per_cpu_s"] for r in rs if r["threads"] == 1]
            lines.append(f"| {learner} | {kind} | {by.get(1, float('nan')):.3g} | "
                         f"{by.get(all_threads, float('nan')):.3g} | {cpu1[0] if cpu1 else float('nan'):.3g} |")
    tmp = out / "sample.md.part"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out / "sample.md")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
