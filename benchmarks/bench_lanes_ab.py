"""The vectorised batch kernel against the one of an older checkout, in one process.

``python benchmarks/bench_lanes_ab.py --against /path/to/older/checkout`` loads the older
checkout's generated module of the chapter's game (its own per-game ``lanes_block``,
numpy and numba only) next to this checkout's game-independent
``crldgen.runtime.lanes.lanes_block`` driving the module's ``logit_step_lanes``, checks
that both give the same final strategies bit for bit, and times both on the same inputs,
alternating, one thread, CPU time, best of ``--repeat``: the 201-run critical bundle of
the chapter (tol 1e-5, tasks of 26 members as crldgen.iterate cuts it on 2 threads) and
2048 members x 300 steps (full blocks). One process, so the machine's drift between
processes (+-20 % on this shared machine) cancels. Results: ``benchmarks/results/lanes_ab.md``.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import crldgen  # noqa: E402
from bench_iterate import compile_strategy  # noqa: E402
from crldgen.runtime import lanes  # noqa: E402


def load_older(checkout: str, learner: str):
    files = glob.glob(os.path.join(checkout, "generated", f"ecopg2_{learner}_*.py"))
    if not files:
        raise SystemExit(f"no generated ecopg2_{learner} module in {checkout}/generated")
    name = "crldgen_generated_" + os.path.basename(files[0])[:-3]  # the name its numba cache refers to
    spec = importlib.util.spec_from_file_location(name, files[0])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "lanes_block"):
        raise SystemExit(f"{files[0]} has no per-game lanes_block")
    return module


def bundle(dyn, kind):
    if kind == "critical":
        pcs = np.sort(np.unique(np.concatenate([np.linspace(0.01, 0.99, 51), np.linspace(0.185, 0.195, 151)])))
        return np.array([compile_strategy(pc, 0.95) for pc in pcs]), 5000, 1e-5, 26
    rng = np.random.default_rng(1)
    return np.array([dyn.random_strategy(rng) for _ in range(2048)]), 300, 0.0, 256


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", required=True, help="a checkout of the older code (with its generated/)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lanes_ab"))
    args = ap.parse_args()
    numba.set_num_threads(1)
    rows_out = []
    for learner in ("sarsa", "actor_critic"):
        old = load_older(args.against, learner)
        dyn = crldgen.compile(crldgen.games.ecological_public_good(2), learner, True, alpha=0.01, beta=100.0,
                              gamma=0.75, engine=False, quiet=True)
        new = dyn.module
        step, rows = lanes.step_of(new)
        for kind in ("critical", "full"):
            X0s, tmax, tol, size = bundle(dyn, kind)
            B, nx, nf = len(X0s), new.NX, new.N_FREE
            X0 = X0s.reshape(B, -1).copy()
            Y0 = np.stack([dyn.to_logit(x).ravel() for x in X0s])
            a, bt, g, th = dyn.params()
            per = [np.tile(v, (B, 1)) for v in (th, a, bt, g)]
            outs = (np.empty((B, 1, nx)), np.empty((B, nx)), np.empty((B, nf)), np.empty(B, np.int64),
                    np.empty(B, np.bool_), np.empty(B, np.int64), np.empty(B, np.int64))
            T0 = np.zeros(B, np.int64)
            common = (X0, Y0, T0, *per, tmax, tol, 1.0, 0, *outs)

            def run_old(fast):
                for lo in range(0, B, size):
                    old.lanes_block(lo, min(B, lo + size), *common, fast)

            def run_new(fast):
                for lo in range(0, B, size):
                    lanes.lanes_block(lo, min(B, lo + size), step, *rows, *common, fast)

            for fast in (False, True):
                run_old(fast)
                ref = outs[1].copy()
                run_new(fast)
                same = bool(np.array_equal(ref, outs[1]))
                best = {"old": np.inf, "new": np.inf}
                for _ in range(args.repeat):
                    for name, fn in (("old", run_old), ("new", run_new)):
                        t = time.process_time()
                        fn(fast)
                        best[name] = min(best[name], time.process_time() - t)
                steps = int(outs[3].sum())
                row = (learner, kind, "vectorised exp" if fast else "libm exp", best["old"] / steps * 1e9,
                       best["new"] / steps * 1e9, best["new"] / best["old"], same)
                rows_out.append(row)
                print(f"{learner:12s} {kind:8s} {row[2]:14s} older {row[3]:6.2f} ns  now {row[4]:6.2f} ns "
                      f"per member-step  now/older {row[5]:.3f}  identical {same}", flush=True)
    lines = [f"# Vectorised batch kernel: this checkout against {args.against}", "",
             f"`python benchmarks/bench_lanes_ab.py --against {args.against}`; one thread, CPU time, best of "
             f"{args.repeat}, alternating, one process; load {os.getloadavg()[0]:.1f}.", "",
             "| learner | batch | softmax | older ns/member-step | now | now/older | same results |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.3f} | {r[6]} |" for r in rows_out]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
