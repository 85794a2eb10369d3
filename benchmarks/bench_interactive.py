"""Benchmark of crldgen.interactive: one slider move of the chapter's flow plot.

Run from the repository root::

    python benchmarks/bench_interactive.py      # writes benchmarks/results/interactive.{json,md}

The chapter's 9x9 two-state flow (ecological public good, N=2, SARSA, alpha 0.05,
beta 50, gamma 0.75) with fixed points tracked across moves. One update recomputes the
arrows of both panels, re-tracks the fixed points (Newton from the previous points plus
8 sampled starts, trajectories of at most 400 steps) and redraws on matplotlib's Agg
canvas by blitting. Reported separately: the whole update, the computation alone
(``flow_field`` + fixed points) and a full redraw (what an update costs when the colour
scale changes). Warm timings (after a first call that loads the compiled module).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen import interactive, plot  # noqa: E402

X_BOTH, Y_BOTH = ([0], ["g", "p"], ["c"]), ([1], ["g", "p"], ["c"])


def _ms(times) -> dict:
    return dict(median_ms=1e3 * statistics.median(times), best_ms=1e3 * min(times), n=len(times))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=40, help="slider moves to time (default 40)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    args = ap.parse_args(argv)
    game = crldgen.games.ecological_public_good(2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01)
    dyn = crldgen.compile(game, "sarsa", prefactor=True, alpha=0.05, beta=50.0, gamma=0.75, engine=False)
    ex = interactive.flow(dyn, X_BOTH, Y_BOTH, params={"gamma": (0.5, 0.95, 0.01)})
    values = np.linspace(0.70, 0.80, args.moves)
    ex.update(gamma=0.74)  # warm
    update, compute, full = [], [], []
    for g in values:
        t = time.perf_counter()
        ex.update(gamma=float(g))
        update.append(time.perf_counter() - t)
    for g in values[: max(5, args.moves // 4)]:
        t = time.perf_counter()
        plot.flow_field(dyn, X_BOTH, Y_BOTH, 9, gamma=float(g))
        ex._fixed_points(dict(gamma=float(g)))
        compute.append(time.perf_counter() - t)
    for _ in range(5):
        t = time.perf_counter()
        ex._redraw(full=True)
        full.append(time.perf_counter() - t)
    result = dict(
        machine=dict(python=platform.python_version(), processor=platform.processor() or platform.machine(),
                     numpy=np.__version__, crldgen=crldgen.__version__),
        workload="chapter flow 9x9, two panels, fixed points tracked; Agg canvas",
        update=_ms(update), compute=_ms(compute), full_redraw=_ms(full),
        recompilations=0,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "interactive.json").write_text(json.dumps(result, indent=2) + "\n")
    md = ["| what | median (ms) | best (ms) |", "|---|---:|---:|"]
    for key, label in [("update", "one slider move (compute + blit)"), ("compute", "computation alone"),
                       ("full_redraw", "full redraw (colour scale changed)")]:
        md.append(f"| {label} | {result[key]['median_ms']:.1f} | {result[key]['best_ms']:.1f} |")
    (out / "interactive.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return result


if __name__ == "__main__":
    main()
