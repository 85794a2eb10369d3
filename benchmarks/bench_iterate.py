"""Benchmark of crldgen.iterate: the chapter's experiments and the per-step loop overhead.

Run from the repository root::

    python benchmarks/bench_iterate.py            # writes benchmarks/results/iterate.{json,md}

Measures (ecological public good, N=2, SARSA with prefactor, one compiled module):

* ``sweep201``: the critical-transition bundle, 201 trajectories (Tmax=5000, tol=1e-5)
  in one ``dyn.trajectories`` call (final strategies only, and with full trajectories),
  compared with a Python loop of 201 ``dyn.trajectory`` calls;
* ``hysteresis``: the 122-value discount-factor sweep (Tmax=2500, tol=1e-11, each run
  from the previous final strategy) in one ``dyn.sweep`` call, with the number of numba
  compilations it triggered (must be 0), compared with the chapter's Python loop;
* ``per_step``: ns per step of the trajectory kernel (tol=0, so it never stops early)
  against an njit loop that calls the module's step alone (``logit_step_w`` with a
  preallocated work array, as the kernel does; ``logit_step``, which allocates its work
  array per call, is reported too);
* ``batch_throughput``: steps per second of a large batch (parallel over cores).

Timings are warm (after a first call that compiles or loads from numba's cache);
``best`` is the minimum and ``median`` the median over ``--repeat`` runs.
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

TARGETS = {"sweep201_s": 0.020, "hysteresis_s": 0.4, "per_step_ratio": 2.0}


def compile_strategy(p0c, p1c):
    Pi, Pj = np.array([0.5, p0c]), np.array([0.5, p1c])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"best": min(times), "median": statistics.median(times), "repeat": repeat}


def n_signatures(module):
    return sum(len(getattr(module, name).signatures) for name in dir(module)
               if isinstance(getattr(module, name), numba.core.registry.CPUDispatcher))


def make_bare(step):
    """An njit loop of ``n`` calls of ``logit_step`` alone (fixed X, no softmax, no checks)."""
    @numba.njit
    def bare(X, y, theta, alpha, beta, gamma, n):
        y_out = np.empty_like(y)
        for _ in range(n):
            step(X, y, theta, alpha, beta, gamma, y_out)
            y, y_out = y_out, y
        return y

    return bare


def make_bare_w(step_w, n_work):
    """The same with ``logit_step_w`` and one preallocated work array (what the trajectory kernel calls)."""
    @numba.njit
    def bare_w(X, y, theta, alpha, beta, gamma, n):
        y_out = np.empty_like(y)
        w = np.empty(n_work)
        for _ in range(n):
            step_w(X, y, theta, alpha, beta, gamma, y_out, w)
            y, y_out = y_out, y
        return y

    return bare_w


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--steps", type=int, default=2 * 10**5, help="steps for the per-step comparison")
    ap.add_argument("--cache-dir", default=None, help="crldgen cache (default: crldgen's default)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]

    t = time.perf_counter()
    dyn = crldgen.compile(crldgen.games.ecological_public_good(2), "sarsa", True, cache_dir=args.cache_dir,
                          alpha=0.01, beta=100.0, gamma=0.75, engine=False)  # the module's own loops
    t_load = time.perf_counter() - t
    m = dyn.module
    out = {"module": str(dyn.path), "load_s": t_load}

    # ---------------------------------------------- 201-trajectory critical sweep
    pcs = np.sort(np.unique(np.concatenate([np.linspace(0.01, 0.99, 51), np.linspace(0.185, 0.195, 151)])))
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    t = time.perf_counter()
    res = dyn.trajectories(X0s, 5000, 1e-5)
    first = time.perf_counter() - t
    dyn.trajectories(X0s, 5000, 1e-5, every=1)
    hist = np.histogram(res.final[:, :, 1, 0].mean(-1), range=(0, 1))[0]
    out["sweep201"] = {
        "first_call_s": first,
        "final_only": timed(lambda: dyn.trajectories(X0s, 5000, 1e-5), args.repeat),
        "full_trajectories": timed(lambda: dyn.trajectories(X0s, 5000, 1e-5, every=1), args.repeat),
        "python_loop_of_trajectory_calls": timed(
            lambda: [dyn.trajectory(X, 5000, 1e-5) for X in X0s], max(3, args.repeat // 4)),
        "total_steps": int(res.steps.sum()),
        "histogram": hist.tolist(),
        "all_converged": bool(res.converged.all()),
    }

    # ------------------------------------------------------ hysteresis sweep
    dcfs = list(np.arange(0.6, 0.9, 0.005))
    hyst = np.array(dcfs + dcfs[::-1])
    X0 = dyn.random_strategy(np.random.default_rng(0))
    t = time.perf_counter()
    sw = dyn.sweep(X0, "gamma", hyst, 2500, 10e-12, alpha=0.05, beta=50.0)
    first = time.perf_counter() - t
    sigs = n_signatures(m)
    timing = timed(lambda: dyn.sweep(X0, "gamma", hyst, 2500, 10e-12, alpha=0.05, beta=50.0), args.repeat)
    other = dyn.sweep(X0, "gamma", hyst[::-1], 2500, 10e-12, alpha=0.05, beta=50.0)  # other values, same types

    def chapter_loop():
        X = X0
        for g in hyst:
            X = dyn.trajectory(X, 2500, 10e-12, every=1, alpha=0.05, beta=50.0, gamma=g)

    coop = sw.final[:, :, 1, 0].mean(-1)
    out["hysteresis"] = {
        "first_call_s": first,
        "sweep": timing,
        "python_loop_of_trajectory_calls": timed(chapter_loop, max(3, args.repeat // 4)),
        "recompilations": n_signatures(m) - sigs,
        "same_module_object": dyn.module is m,
        "n_values": len(hyst),
        "total_steps": int(sw.steps.sum()),
        "all_converged": bool(sw.converged.all() and other.converged.all()),
        "jump_up_at_gamma": float(hyst[:60][np.argmax(coop[:60] > 0.5)]),
        "drop_down_at_gamma": float(hyst[60:][np.argmax(coop[60:] < 0.5)]),
    }

    # ------------------------------------------------------- per-step overhead
    n = args.steps
    a, b, g, th = dyn.params()
    X = compile_strategy(0.19, 0.95).ravel()
    y = dyn.to_logit(X.reshape(dyn.shape)).ravel()
    bare_alloc = make_bare(m.logit_step)
    bare = make_bare_w(m.logit_step_w, m.N_WORK)
    bare_alloc(X, y, th, a, b, g, 10)
    bare(X, y, th, a, b, g, 10)
    nx, nf = X.size, y.size
    rec0 = np.empty((0, nx))
    rec1 = np.empty((n, nx))
    Xo, yo = np.empty(nx), np.empty(nf)

    def kernel(every, rec):
        return lambda: m.trajectory(X, y, 0, th, a, b, g, n, 0.0, 1.0, every, rec, Xo, yo)

    kernel(0, rec0)()
    kernel(1, rec1)()
    # interleave the variants and keep each one's best: robust against load from other processes
    variants = {"bare": lambda: bare(X, y, th, a, b, g, n), "bare_alloc": lambda: bare_alloc(X, y, th, a, b, g, n),
                "final": kernel(0, rec0), "rec": kernel(1, rec1),
                "api": lambda: dyn.trajectory(X.reshape(dyn.shape), n, None, every=None)}
    best = {k: np.inf for k in variants}
    for _ in range(max(5, args.repeat)):
        for k, fn in variants.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    t_bare, t_final, t_rec, t_api = ({"best": best[k]} for k in ("bare", "final", "rec", "api"))
    out["per_step"] = {
        "steps": n,
        "bare_logit_step_ns": t_bare["best"] / n * 1e9,
        "bare_logit_step_allocating_ns": best["bare_alloc"] / n * 1e9,
        "trajectory_kernel_final_only_ns": t_final["best"] / n * 1e9,
        "trajectory_kernel_recording_every_step_ns": t_rec["best"] / n * 1e9,
        "dyn_trajectory_final_only_ns": t_api["best"] / n * 1e9,
        "ratio_final_only": t_final["best"] / t_bare["best"],
        "ratio_recording": t_rec["best"] / t_bare["best"],
    }

    # ------------------------------------------------------ batch throughput
    B, T = 4000, 1000
    rng = np.random.default_rng(1)
    X0b = np.array([dyn.random_strategy(rng) for _ in range(B)])
    dyn.trajectories(X0b[:8], T, None, progress=False)
    run = lambda: dyn.trajectories(X0b, T, None, progress=False)  # noqa: E731
    threads = numba.get_num_threads()
    best = {1: np.inf, threads: np.inf}
    for _ in range(3):
        for k in best:
            numba.set_num_threads(k)
            t = time.perf_counter()
            run()
            best[k] = min(best[k], time.perf_counter() - t)
    numba.set_num_threads(threads)
    out["batch_throughput"] = {
        "batch": B, "steps_each": T, "threads": threads,
        "best_s": best[threads], "ns_per_step": best[threads] / (B * T) * 1e9,
        "one_thread_s": best[1], "speedup_vs_one_thread": best[1] / best[threads],
    }

    out["targets"] = TARGETS
    out["met"] = {
        "sweep201_s": out["sweep201"]["final_only"]["best"] <= TARGETS["sweep201_s"],
        "hysteresis_s": timing["best"] <= TARGETS["hysteresis_s"] and out["hysteresis"]["recompilations"] == 0,
        "per_step_ratio": out["per_step"]["ratio_final_only"] <= TARGETS["per_step_ratio"],
    }
    out["machine"] = {
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "crldgen": crldgen.__version__, "cpu_count": os.cpu_count(), "numba_threads": numba.get_num_threads(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }
    out["command"] = "python benchmarks/bench_iterate.py " + " ".join(argv if argv is not None else sys.argv[1:])

    dest = Path(args.out)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "iterate.json").write_text(json.dumps(out, indent=2) + "\n")
    (dest / "iterate.md").write_text(markdown(out) + "\n")
    print(markdown(out))
    return out


def ms(x):
    return f"{x * 1e3:.2f} ms"


def markdown(o) -> str:
    s, h, p, bt = o["sweep201"], o["hysteresis"], o["per_step"], o["batch_throughput"]
    mc = o["machine"]
    yes = {True: "yes", False: "NO"}
    lines = [
        "# crldgen.iterate benchmark",
        "",
        f"`{o['command'].strip()}` -- {mc['processor']}, {mc['cpu_count']} CPUs ({mc['numba_threads']} numba "
        f"threads), Python {mc['python']}, numpy {mc['numpy']}, numba {mc['numba']}; 1-min load average "
        f"{mc['load_average_1min'][0]:.1f} -> {mc['load_average_1min'][1]:.1f} (other processes on the machine). "
        f"Warm timings, best of {s['final_only']['repeat']} (median in parentheses).",
        "",
        "| experiment | crldgen | Python loop of `dyn.trajectory` | target | met |",
        "|---|---|---|---|---|",
        f"| 201-trajectory critical sweep ({s['total_steps']} steps), final strategies | "
        f"{ms(s['final_only']['best'])} ({ms(s['final_only']['median'])}) | "
        f"{ms(s['python_loop_of_trajectory_calls']['best'])} | <= 20 ms | {yes[o['met']['sweep201_s']]} |",
        f"| same, full trajectories kept | {ms(s['full_trajectories']['best'])} "
        f"({ms(s['full_trajectories']['median'])}) | | | |",
        f"| 122-value hysteresis sweep ({h['total_steps']} steps), {h['recompilations']} recompilations | "
        f"{ms(h['sweep']['best'])} ({ms(h['sweep']['median'])}) | "
        f"{ms(h['python_loop_of_trajectory_calls']['best'])} | <= 400 ms, 0 recompilations | "
        f"{yes[o['met']['hysteresis_s']]} |",
        "",
        f"Per step ({p['steps']:,} steps, ecopg2 SARSA): bare step loop {p['bare_logit_step_ns']:.1f} ns "
        f"(`logit_step_w` with a preallocated work array; `logit_step`, which allocates it per call: "
        f"{p['bare_logit_step_allocating_ns']:.1f} ns); "
        f"trajectory kernel with tol=0 {p['trajectory_kernel_final_only_ns']:.1f} ns "
        f"(**{p['ratio_final_only']:.2f}x**, target <= 2x: {yes[o['met']['per_step_ratio']]}), "
        f"recording every strategy {p['trajectory_kernel_recording_every_step_ns']:.1f} ns "
        f"({p['ratio_recording']:.2f}x); through `dyn.trajectory` {p['dyn_trajectory_final_only_ns']:.1f} ns. "
        f"The 201 sweep, which checks tol every step: {s['final_only']['best'] / s['total_steps'] * 1e9:.1f} "
        "ns per step (all cores).",
        "",
        f"Batch throughput: {bt['batch']} trajectories x {bt['steps_each']} steps in {ms(bt['best_s'])} "
        f"({bt['ns_per_step']:.1f} ns/step on {bt['threads']} threads; speedup {bt['speedup_vs_one_thread']:.2f}x "
        "over one thread).",
        "",
        f"Chapter checks: histogram {s['histogram']}, all converged {s['all_converged']}; hysteresis jumps up at "
        f"gamma={h['jump_up_at_gamma']:.3f}, drops at gamma={h['drop_down_at_gamma']:.3f}.",
        f"First calls (compile or load from numba's cache): 201 sweep {s['first_call_s']:.2f} s, hysteresis "
        f"{h['first_call_s']:.2f} s; module load {o['load_s']:.2f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
