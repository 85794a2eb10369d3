"""Per-call cost of the Python-level API, side by side with the batch APIs (issue 16).

Run from the repository root::

    python benchmarks/bench_calls.py                 # writes benchmarks/results/calls.{json,md}
    python benchmarks/bench_calls.py --quick         # fewer repeats (a smoke run)

The game is the chapter's ecological public good (N=2, SARSA with prefactor, alpha=0.05,
beta=50, gamma=0.75). Measured, in microseconds per call (warm: after a first call
that compiles or loads from numba's cache; ``best`` is the minimum and ``median`` the
median over the repeats of a block of calls):

* user-level patterns: a Python loop of ``dyn.step(X)`` (also with ``out=``, and
  chained ``X = dyn.step(X)``), ``dyn.tderror(X)``, per-call overrides
  (``step(X, gamma=0.8)`` repeated, and a new ``qc`` value on every call), a 10-step
  ``dyn.trajectory`` call, and the chapter's bundle written as one ``dyn.trajectory``
  call per sweep point (201 points, Tmax=5000, tol=1e-5);
* the same work through the batch APIs: ``dyn.trajectories`` on the 201 initial
  strategies (per member) and a carried ``dyn.sweep`` over 122 discount factors
  (per value);
* the raw kernels (``module.strategy_step``, ``module.tderror``, ``module.trajectory``)
  called directly with prepared arrays: the floor of any Python-level call.

Ratios are printed against the per-call numbers issue 16 states for the reference
package pyCRLD (jitted ``step`` about 15 us per call). pyCRLD itself is not installed
here, so those numbers are quoted, not measured by this script.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402

#: per-call numbers of pyCRLD quoted in issue 16 (not measured here: pyCRLD is not installed)
PYCRLD_QUOTED_US = {"step": 15.0}
#: targets of issue 16 (us per call); override_extra is step(X, gamma=0.8) minus step(X)
TARGETS_US = {"step": 5.0, "tderror": 5.0, "trajectory10": 15.0, "override_extra": 2.0}


def compile_strategy(p0c, p1c):
    Pi, Pj = np.array([0.5, p0c]), np.array([0.5, p1c])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


def per_call(fn, n_calls, repeat):
    """us per call of ``fn(k)`` over blocks of ``n_calls`` calls; best and median of ``repeat`` blocks.

    ``min_single_us`` is the fastest single call of one more block, each call timed on its
    own (includes ~0.05 us of timer overhead): on a loaded machine it shows what a call
    costs when it is not interrupted, where the block averages include the interruptions.
    """
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for k in range(n_calls):
            fn(k)
        times.append((time.perf_counter() - t) / n_calls * 1e6)
    clock = time.perf_counter_ns
    single = []
    for k in range(n_calls):
        t = clock()
        fn(k)
        single.append(clock() - t)
    return {"best_us": min(times), "median_us": statistics.median(times), "min_single_us": min(single) / 1e3,
            "calls": n_calls, "repeat": repeat}


def supports_out(dyn) -> bool:
    try:
        dyn.step(dyn.uniform_strategy(), out=np.empty(dyn.shape))
        return True
    except (TypeError, crldgen.ParameterError):  # an older crldgen (out= is a game parameter name there)
        return False


def run(quick: bool) -> dict:
    repeat = 3 if quick else 7
    n = 2000 if quick else 20000
    game = crldgen.games.ecological_public_good(2)
    dyn = crldgen.compile(game, "sarsa", True, alpha=0.05, beta=50.0, gamma=0.75, engine=False)
    module = dyn.module
    X = compile_strategy(0.3, 0.7)
    pcs = np.sort(np.unique(np.concatenate([np.linspace(0.01, 0.99, 51), np.linspace(0.185, 0.195, 151)])))
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    gammas = np.concatenate([np.linspace(0.6, 0.9, 61), np.linspace(0.9, 0.6, 61)])
    qcs = np.linspace(0.05, 0.95, max(n, 1000) * repeat + 10)
    # warm-up: compile or load every kernel used below
    dyn.step(X), dyn.tderror(X), dyn.trajectory(X, 10), dyn.step(X, gamma=0.8), dyn.step(X, qc=0.3)
    dyn.trajectories(X0s[:2], 10), dyn.sweep(X, "gamma", gammas[:2], 10)
    out = np.empty(dyn.shape)
    has_out = supports_out(dyn)

    a, b, g, th = dyn.params()
    flat = X.ravel().copy()
    y0 = (np.log(X[..., :-1]) - np.log(X[..., -1:])).ravel()
    kout = np.empty(flat.size)
    Xrec, x_out, y_out = np.empty((10, flat.size)), np.empty(flat.size), np.empty(y0.size)

    res: dict = {}
    res["kernel_step"] = per_call(lambda k: module.strategy_step(flat, th, a, b, g, 1.0, kout), n, repeat)
    res["kernel_tderror"] = per_call(lambda k: module.tderror(flat, th, a, b, g, kout), n, repeat)
    res["kernel_trajectory10"] = per_call(
        lambda k: module.trajectory(flat, y0, 0, th, a, b, g, 10, 0.0, 1.0, 1, Xrec, x_out, y_out), n, repeat)
    res["step"] = per_call(lambda k: dyn.step(X), n, repeat)
    if has_out:
        res["step_out"] = per_call(lambda k: dyn.step(X, out=out), n, repeat)
    state = {"X": X.copy()}

    def chained(k):
        state["X"] = dyn.step(state["X"])

    res["step_chained"] = per_call(chained, n, repeat)
    res["tderror"] = per_call(lambda k: dyn.tderror(X), n, repeat)
    res["step_override_same"] = per_call(lambda k: dyn.step(X, gamma=0.8), n, repeat)
    counter = iter(range(len(qcs)))
    res["step_override_new_value"] = per_call(lambda k: dyn.step(X, qc=qcs[next(counter)]), max(n // 10, 200),
                                              repeat)
    res["trajectory10"] = per_call(lambda k: dyn.trajectory(X, 10), n, repeat)
    res["trajectory10_override"] = per_call(lambda k: dyn.trajectory(X, 10, gamma=0.8), n, repeat)
    # the chapter's bundle, one trajectory call per sweep point (dominated by the loop kernel)
    bundle_repeat = max(repeat // 2, 1)
    res["bundle_trajectory_per_point"] = per_call(lambda k: dyn.trajectory(X0s[k], 5000, 1e-5), len(pcs),
                                                  bundle_repeat)
    res["bundle_trajectories_per_member"] = per_call(lambda k: dyn.trajectories(X0s, 5000, 1e-5), 1, bundle_repeat)
    res["bundle_trajectories_per_member"] = {
        k: (v / len(pcs) if k.endswith("_us") else v) for k, v in res["bundle_trajectories_per_member"].items()}
    res["bundle_trajectories_per_member"]["members"] = len(pcs)
    res["hysteresis_sweep_per_value"] = per_call(lambda k: dyn.sweep(X, "gamma", gammas, 2500, 1e-11), 1,
                                                 bundle_repeat)
    res["hysteresis_sweep_per_value"] = {
        k: (v / len(gammas) if k.endswith("_us") else v) for k, v in res["hysteresis_sweep_per_value"].items()}
    res["hysteresis_sweep_per_value"]["values"] = len(gammas)
    return res


def summary(res: dict) -> dict:
    best = {k: v["best_us"] for k, v in res.items()}
    out = {
        "override_extra_us": best["step_override_same"] - best["step"],
        "step_overhead_over_kernel_us": best["step"] - best["kernel_step"],
        "trajectory10_overhead_over_kernel_us": best["trajectory10"] - best["kernel_trajectory10"],
        "pycrld_step_quoted_us": PYCRLD_QUOTED_US["step"],
        "pycrld_step_over_crldgen_step": PYCRLD_QUOTED_US["step"] / best["step"],
        "pycrld_step_over_crldgen_tderror": PYCRLD_QUOTED_US["step"] / best["tderror"],
    }
    measured = {"step": best["step"], "tderror": best["tderror"], "trajectory10": best["trajectory10"],
                "override_extra": out["override_extra_us"]}
    out["targets"] = {k: {"target_us": TARGETS_US[k], "measured_us": measured[k], "met": measured[k] <= TARGETS_US[k]}
                      for k in TARGETS_US}
    return out


def markdown(res: dict, summ: dict, meta: dict) -> str:
    lines = [
        "# Per-call cost (benchmarks/bench_calls.py)",
        "",
        f"{meta['when']}, {meta['machine']}, Python {meta['python']}, numpy {meta['numpy']}, "
        f"numba {meta['numba']}, load average before the run {meta['load_before']}.",
        "",
        "Ecological public good N=2, SARSA. Microseconds per call: best and median of the repeated blocks, "
        "and the fastest single call (timed alone; robust to a loaded machine). Targets are judged on the "
        "block best.",
        "",
        "| pattern | best us | median us | fastest single call us | calls x repeats |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, v in res.items():
        lines.append(f"| `{k}` | {v['best_us']:.2f} | {v['median_us']:.2f} | {v['min_single_us']:.2f} | "
                     f"{v['calls']} x {v['repeat']} |")
    lines += [
        "",
        f"* per-call override extra (`step(X, gamma=0.8)` - `step(X)`): {summ['override_extra_us']:.2f} us",
        f"* `step` overhead over the raw kernel: {summ['step_overhead_over_kernel_us']:.2f} us; 10-step "
        f"`trajectory` overhead over its kernel: {summ['trajectory10_overhead_over_kernel_us']:.2f} us",
        f"* pyCRLD jitted `step`, {summ['pycrld_step_quoted_us']:.0f} us per call (quoted in issue 16; pyCRLD is "
        f"not installed here, not measured): {summ['pycrld_step_over_crldgen_step']:.1f}x the crldgen `step`, "
        f"{summ['pycrld_step_over_crldgen_tderror']:.1f}x the crldgen `tderror`",
        "",
        "| target (issue 16) | target us | measured us | met |",
        "|---|---:|---:|:---:|",
    ]
    for k, v in summ["targets"].items():
        lines.append(f"| {k} | {v['target_us']:.1f} | {v['measured_us']:.2f} | {'yes' if v['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer calls and repeats (smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    args = ap.parse_args(argv)
    import numba

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "crldgen": crldgen.__version__, "load_before": round(load, 2),
            "quick": args.quick, "pycrld": "not installed; quoted numbers from issue 16"}
    res = run(args.quick)
    summ = summary(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "calls.json", json.dumps({"meta": meta, "results": res, "summary": summ}, indent=2) + "\n")
    text = markdown(res, summ, meta)
    write_atomic(out / "calls.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
