"""Benchmark of anonymous (count-based) games: derive + compile time, µs per step at n = 50 and 1000.

Run from the repository root (on demand; this is not a test)::

    python benchmarks/bench_anonymous.py          # writes benchmarks/results/anonymous.json

Game: ``crldgen.anonymous.ecological_public_good`` (one type, Z = 2, M = 2), SARSA, with the
closed-form moment averages (``method='moments'``, the default for this polynomial game) and,
for comparison (``[sum]`` keys), with the multinomial count sums any game can use.

* **cold** (a fresh process and an empty cache directory): building the game, generating
  and writing the module, importing it, and the first call of every kernel the object
  uses (``tderror``, ``logit_step``, ``jacobian_blocks``, ``trajectory``, ``trajectories``).
  Wall and CPU time of that process (CPU time is the robust number on a loaded machine).
* **per step**: µs per step inside the compiled ``trajectory`` loop (``tol`` off, so it
  never stops early) at n = 50 and n = 1000, at a mixed strategy (the slowest case: the
  binomial weights are widest there) and at the cooperative attractor; best of ``--repeat``.
  Also the Python-level ``dyn.logit_step`` call (validation and wrapping included).
* **two types** (``crldgen.anonymous.types.two_group_public_good``, SARSA, per-type beta and
  gamma): µs per step in the compiled ``step_loop`` at sizes (50, 50) and (1000, 10), with the
  closed-form moments and with the product-multinomial count sums.
* **memory**: numba runtime allocations per step (``rtsys.get_allocation_stats``) at
  n = 50 and n = 1000: the kernels allocate the same small scratch arrays for every n.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"cold derive+compile s": 20.0, "n50 us/step": 5.0, "n1000 us/step": 50.0}


def cold_worker(cache_dir: str) -> dict:
    import numpy as np

    t0, c0 = time.perf_counter(), time.process_time()
    sys.path.insert(0, str(ROOT))
    from crldgen import anonymous

    game = anonymous.ecological_public_good(50)
    t1 = time.perf_counter()
    dyn = anonymous.compile(game, "sarsa", cache_dir=cache_dir, alpha=0.05, beta=50.0, gamma=0.75)
    t2 = time.perf_counter()
    x = np.array([[0.5, 0.5], [0.7, 0.3]])
    dyn.tderror(x)
    dyn.logit_step(dyn.to_logit(x))
    dyn.jacobian_blocks(x)
    dyn.trajectory(x, 10, None)
    dyn.trajectories(x, 10, None, n=[5, 50])
    t3 = time.perf_counter()
    return {"game s": t1 - t0, "generate+import s": t2 - t1, "first calls (numba compile) s": t3 - t2,
            "cold derive+compile s": t3 - t0, "cold cpu s": time.process_time() - c0}


def step_worker(cache_dir: str, steps: int, repeat: int) -> dict:
    out = {}
    for method in ("moments", "sum"):
        res = _steps(cache_dir, steps, repeat, method)
        out.update({(k if method == "moments" else f"[sum] {k}"): v for k, v in res.items()})
    return out


def _steps(cache_dir: str, steps: int, repeat: int, method: str) -> dict:
    import numpy as np
    from numba.core.runtime import rtsys

    sys.path.insert(0, str(ROOT))
    from crldgen import anonymous

    t0 = time.perf_counter()
    dyn = anonymous.compile(anonymous.ecological_public_good(50), "sarsa", cache_dir=cache_dir, alpha=0.05,
                            beta=50.0, gamma=0.75, method=method)
    m = dyn.module
    out = {}
    points = {"mixed": np.array([[0.5, 0.5], [0.5, 0.5]])}
    for n in (50, 1000):
        fp = dyn.fixed_point(dyn.trajectory(np.array([[0.5, 0.5], [0.99, 0.01]]), 20000, 1e-10, every=None,
                                            n=n).final, n=n)
        points[f"attractor n{n}"] = fp.x
    for n in (50, 1000):
        nn, a, b, g, th = dyn.params(n=n)
        for label in ("mixed", f"attractor n{n}"):
            y0 = dyn.to_logit(points[label]).ravel()
            Xrec = np.empty((0, 4))
            x_out, y_out = np.empty(4), np.empty(2)
            info, val = np.zeros(8, dtype=np.int64), np.zeros(1)
            # the step map is a contraction towards the attractor; 'mixed' starts are re-used every repeat
            best = np.inf
            for _ in range(repeat):
                t = time.perf_counter()
                m.trajectory(y0, nn, th, a, b, g, 0, True, steps, -1.0, 1.0, 0, Xrec, x_out, y_out, info, val)
                best = min(best, (time.perf_counter() - t) / steps)
            out[f"n{n} us/step ({label})"] = best * 1e6
        y = dyn.to_logit(points["mixed"])
        best = np.inf
        for _ in range(repeat):
            t = time.perf_counter()
            for _ in range(200):
                dyn.logit_step(y, n=n)
            best = min(best, (time.perf_counter() - t) / 200)
        out[f"n{n} us per dyn.logit_step call (python)"] = best * 1e6
        before = rtsys.get_allocation_stats()
        m.trajectory(dyn.to_logit(points["mixed"]).ravel(), nn, th, a, b, g, 0, True, 100, -1.0, 1.0, 0, Xrec,
                     x_out, y_out, info, val)
        after = rtsys.get_allocation_stats()
        out[f"n{n} numba allocations per step"] = (after.alloc - before.alloc) / 100
    out["module load + first calls s"] = time.perf_counter() - t0
    out["n50 us/step"] = max(out["n50 us/step (mixed)"], out["n50 us/step (attractor n50)"])
    out["n1000 us/step"] = max(out["n1000 us/step (mixed)"], out["n1000 us/step (attractor n1000)"])
    return out


def types_worker(cache_dir: str, steps: int, repeat: int) -> dict:
    """Two types (``two_group_public_good``): µs per step in the compiled ``step_loop`` at (50, 50), (1000, 10)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from crldgen.anonymous.types import compile_types, two_group_public_good

    out = {}
    x = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.6, 0.4]]])
    for method in ("moments", "sum"):
        t0 = time.perf_counter()
        dyn = compile_types(two_group_public_good((50, 50), f=(1.5, 2.2), c=(5.0, 3.0)), "sarsa",
                            cache_dir=cache_dir, method=method, alpha=0.05, beta=(50.0, 20.0), gamma=(0.75, 0.9))
        dyn.step_loop(x, 2)
        out[f"[types {method}] generate + compile + first call s"] = time.perf_counter() - t0
        for sizes in ((50, 50), (1000, 10)):
            n_steps = steps if method == "moments" else max(steps // 20, 20)
            dyn.step_loop(x, 1, sizes=sizes)
            best = np.inf
            for _ in range(repeat):
                t = time.perf_counter()
                dyn.step_loop(x, n_steps, sizes=sizes)
                best = min(best, (time.perf_counter() - t) / n_steps)
            out[f"[types {method}] sizes {sizes} us/step"] = best * 1e6
    return out


def run_worker(kind: str, *args) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NRT_STATS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--worker", nargs="+")
    args = ap.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "cold":
            res = cold_worker(rest[0])
        elif kind == "types":
            res = types_worker(rest[0], int(rest[1]), int(rest[2]))
        else:
            res = step_worker(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(res))
        return res
    with tempfile.TemporaryDirectory(prefix="crldgen-bench-anon-") as tmp:
        cold = run_worker("cold", tmp)
        steps = run_worker("steps", tmp, args.steps, args.repeat)
        types = run_worker("types", tmp, args.steps, args.repeat)
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg(),
           "command": "python benchmarks/bench_anonymous.py " + " ".join(argv or sys.argv[1:]),
           "targets": TARGETS, **cold, **steps, **types}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "anonymous.json").write_text(json.dumps(res, indent=2) + "\n")
    for k, v in res.items():
        if k not in ("targets",):
            print(f"{k:48s} {v if not isinstance(v, float) else f'{v:.3f}'}")
    return res


if __name__ == "__main__":
    main()
