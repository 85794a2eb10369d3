"""Benchmark of the fixed-point finder with the boundary search (issue 17).

Run from the repository root (on demand; this is not a test)::

    python benchmarks/bench_fixed_points.py     # writes benchmarks/results/fixed_points.{json,md}

Times ``crldgen.fixed_points(dyn, n_starts=32, rng=0)`` (best of ``--repeat`` calls after
one warm-up call, which pays numba's cache load) on the chapter's ecological public good
(N=2) under SARSA (interior search only, as before) and actor-critic (interior plus
faces, pure profiles and neutral sets), at alpha=0.01, beta=100, gamma=0.75, and reports
what was found. Wall and CPU (process) times; the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--starts", type=int, default=32)
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "crldgen-bench-fixed-points"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fixed_points"))
    args = ap.parse_args(argv)
    import crldgen

    rows = []
    for learner in ("sarsa", "actor_critic"):
        dyn = crldgen.compile(crldgen.games.ecological_public_good(2), learner, cache_dir=args.cache_dir,
                              alpha=0.01, beta=100.0, gamma=0.75, engine=False)
        crldgen.fixed_points(dyn, n_starts=4, rng=0)  # warm-up: numba cache load
        wall, cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            res = crldgen.fixed_points(dyn, n_starts=args.starts, rng=0)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rows.append(dict(learner=learner, n_starts=args.starts, wall_s=min(wall), cpu_s=min(cpu),
                         points=[pt.type for pt in res.points],
                         on_boundary=[bool(pt.on_boundary) for pt in res.points],
                         neutral_dimension=[int(pt.neutral_dimension) for pt in res.points],
                         faces_tried=res.search["faces_tried"], pure=res.search["n_pure"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rows, indent=2))
    os.replace(tmp, out.with_suffix(".json"))
    lines = ["| learner | starts | wall (s) | CPU (s) | found |", "|---|---|---|---|---|"]
    for r in rows:
        found = ", ".join(f"{t}{' (boundary)' if b else ''}{f' dim {d}' if d else ''}"
                          for t, b, d in zip(r["points"], r["on_boundary"], r["neutral_dimension"]))
        lines.append(f"| {r['learner']} | {r['n_starts']} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | {found} |")
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out.with_suffix(".md"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
