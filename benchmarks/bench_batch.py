"""Batch throughput: member-steps per second of the vectorised batch kernel against the per-member one.

Run from the repository root::

    python benchmarks/bench_batch.py            # writes benchmarks/results/batch.{json,md}

For the ecological public good with N = 2 and N = 4 agents, SARSA and actor-critic
(prefactor on, chapter parameters), on 1 and 2 threads (``numba.set_num_threads``),
``dyn.trajectories(X0s, tmax, tol=0)`` runs B random initial strategies for exactly
``tmax`` strategies each (no early convergence, so member-steps = B * (tmax - 1) updates
are counted exactly from ``steps``), once through the vectorised ``lanes_block``
and once through the per-member ``trajectories`` (``crldgen.iterate.USE_LANES``); the
vectorised kernel twice: with libm's exponentials (``exact``, the default, bit-identical
to the per-member kernel) and with its vectorised ones (``lanes``:
``crldgen.iterate.FAST_EXP``).

Reported per case: ns per member-step and member-steps per second (best of
``--repeat``), the speed-up, and the work of one member-step counted in the generated
source: arithmetic operators (``+ - * /`` and negations, by walking the Python AST of
``logit_step_lanes`` and of the softmax and bookkeeping loops) and exponentials. The
*SIMD floor* is ``flops / (doubles per vector * vector ops per cycle * GHz)`` per
core (AVX-512: 8 doubles, 2 vector arithmetic ops per cycle; the clock from
/proc/cpuinfo), divided by the thread count, with the operators of the vectorised
exponential (``_exp_lanes``) counted as flops; it ignores that a division costs more
than an addition, so it is optimistic.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen import iterate  # noqa: E402
from crldgen.runtime import lanes  # noqa: E402

TARGET_NS = 15.0  # issue 21: the 10,000 x 1,000 chapter batch, 2 threads


def count_ops(fn) -> int:
    """Arithmetic operators (+ - * / and unary minus) in the source of ``fn``, index arithmetic excluded."""
    tree = ast.parse(inspect.getsource(fn.py_func if hasattr(fn, "py_func") else fn).lstrip())
    arith = (ast.Add, ast.Sub, ast.Mult, ast.Div)

    class Counter(ast.NodeVisitor):
        n = 0

        def visit_Subscript(self, node):  # X[k * LANES + b]: addressing, not flops
            self.visit(node.value)

        def visit_Call(self, node):  # numba.carray(X__, (NX * LANES,)): views, not flops
            if not (isinstance(node.func, ast.Attribute) and node.func.attr == "carray"):
                self.generic_visit(node)

        def visit_BinOp(self, node):  # constant expressions (1.0 / 720.0) are folded by the compiler
            folded = isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)
            self.n += isinstance(node.op, arith) and not folded
            self.generic_visit(node)

        def visit_AugAssign(self, node):
            self.n += isinstance(node.op, arith)
            self.generic_visit(node)

        def visit_UnaryOp(self, node):
            self.n += isinstance(node.op, ast.USub)
            self.generic_visit(node)

    counter = Counter()
    counter.visit(tree)
    return counter.n


def step_work(module) -> dict:
    """Flops and exponentials of one member-step of the vectorised batch kernel (forward, with a tolerance)."""
    step = count_ops(module.logit_step_lanes)  # the loop body once per member: every operator is per member
    rows, M = module.N_AGENTS * module.N_OBS, module.N_ACTIONS
    nx, nf = module.NX, module.N_FREE
    if M == 2:
        softmax = rows * 4  # -abs(v), 1 + e, 1 / (1 + e), e * inv
        exps = rows
    else:
        softmax = rows * (2 * M)  # subtractions, the sum, the scaling (approximately)
        exps = rows * (M - 1)
    bookkeeping = nf + 3 * nx  # sum of the log-ratios (finiteness); squared distance
    exp_flops = count_ops(lanes._exp_lanes) * exps  # the vectorised exp's operators (integer ones too)
    return {"step": step, "softmax": softmax, "bookkeeping": bookkeeping, "exp_flops": exp_flops,
            "flops": step + softmax + bookkeeping + exp_flops, "exp": exps}


def cpu_ghz() -> float:
    try:
        mhz = [float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")]
        return max(mhz) / 1000.0
    except (OSError, ValueError):
        return 3.0


def vector_width() -> int:
    import llvmlite.binding as ll

    feats = ll.get_host_cpu_features()
    return 8 if feats.get("avx512f", False) else (4 if feats.get("avx2", False) else 2)


def run_case(dyn, B, tmax, threads, repeat, seed=0):
    numba.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    N, Q, M = dyn.shape
    X0 = rng.dirichlet(np.ones(M), size=(B, N, Q))
    out = {}
    finals = {}
    for label, use, fast in (("lanes", True, True), ("exact", True, False), ("scalar", False, False)):
        iterate.USE_LANES, iterate.FAST_EXP = use, fast
        dyn.trajectories(X0[:64], 5, 0.0, progress=False)  # compile / load
        best = np.inf
        for _ in range(repeat):
            t = time.perf_counter()
            r = dyn.trajectories(X0, tmax, 0.0, progress=False)
            best = min(best, time.perf_counter() - t)
        member_steps = int((r.steps - 1).sum())
        out[label] = {"seconds": best, "member_steps": member_steps, "ns_per_member_step": best / member_steps * 1e9,
                      "member_steps_per_s": member_steps / best}
        finals[label] = r.final
    iterate.USE_LANES, iterate.FAST_EXP = True, False
    out["speedup"] = out["scalar"]["seconds"] / out["lanes"]["seconds"]
    out["identical"] = bool(np.array_equal(finals["exact"], finals["scalar"]))
    out["fast_max_abs_diff"] = float(np.max(np.abs(finals["lanes"] - finals["scalar"])))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache-dir", default=None, help="crldgen cache (default: crldgen's default)")
    ap.add_argument("--quick", action="store_true", help="smaller batches (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    ghz, width = cpu_ghz(), vector_width()
    ops_per_cycle = 2
    cases = [(2, "sarsa", 10_000, 1_000), (2, "actor_critic", 10_000, 1_000),
             (4, "sarsa", 2_000, 1_000), (4, "actor_critic", 2_000, 1_000)]
    if args.quick:
        cases = [(n, lrn, B // 10, T // 2) for n, lrn, B, T in cases]
    max_threads = numba.config.NUMBA_NUM_THREADS
    results = []
    for n, learner, B, T in cases:
        dyn = crldgen.compile(crldgen.games.ecological_public_good(n), learner, True, cache_dir=args.cache_dir,
                              alpha=0.01, beta=100.0, gamma=0.75, engine=False)
        work = step_work(dyn.module)
        for threads in (1, 2):
            if threads > max_threads:
                continue
            res = run_case(dyn, B, T, threads, args.repeat)
            floor_ns = work["flops"] / (width * ops_per_cycle * ghz) / threads
            res.update(N=n, learner=learner, B=B, tmax=T, threads=threads, work=work, simd_floor_ns=floor_ns,
                       floor_fraction=floor_ns / res["lanes"]["ns_per_member_step"])
            results.append(res)
            print(f"N={n} {learner:12s} threads={threads}: lanes {res['lanes']['ns_per_member_step']:7.2f} ns, "
                  f"exact {res['exact']['ns_per_member_step']:7.2f} ns, "
                  f"scalar {res['scalar']['ns_per_member_step']:7.2f} ns per member-step (x{res['speedup']:.1f}), "
                  f"{work['flops']} flops ({work['exp']} exp), floor {floor_ns:.2f} ns "
                  f"({100 * res['floor_fraction']:.0f}%), exact identical={res['identical']}, "
                  f"fast max |diff| {res['fast_max_abs_diff']:.1e}", flush=True)
    meta = {"python": platform.python_version(), "numba": numba.__version__, "machine": platform.machine(),
            "cpu_ghz": ghz, "doubles_per_vector": width, "vector_ops_per_cycle": ops_per_cycle,
            "svml": bool(numba.config.USING_SVML), "cores": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "target_ns_2_threads_chapter": TARGET_NS}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = ["# Batch throughput (benchmarks/bench_batch.py)", "",
             f"numba {meta['numba']}, {meta['cores']} cores, {ghz:.2f} GHz, {width} doubles per vector, SVML "
             f"{'on' if meta['svml'] else 'off'}, load average at the end {meta['load_average']}.", "",
             "| game | learner | B x tmax | threads | lanes ns/member-step | lanes, libm exp | scalar | speed-up | "
             "member-steps/s (lanes) | flops per step (exp) | SIMD floor ns | floor reached | libm exp identical | "
             "max abs diff (lanes) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| ecological N={r['N']} | {r['learner']} | {r['B']} x {r['tmax']} | {r['threads']} | "
            f"{r['lanes']['ns_per_member_step']:.2f} | {r['exact']['ns_per_member_step']:.2f} | "
            f"{r['scalar']['ns_per_member_step']:.2f} | {r['speedup']:.1f}x | "
            f"{r['lanes']['member_steps_per_s']:.3g} | {r['work']['flops']} ({r['work']['exp']}) | "
            f"{r['simd_floor_ns']:.2f} | {100 * r['floor_fraction']:.0f}% | {r['identical']} | "
            f"{r['fast_max_abs_diff']:.1e} |")
    (out / "batch.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'batch.json'} and {out / 'batch.md'}")


if __name__ == "__main__":
    main()
