"""Benchmark of the code generator: derive/generate/compile times and ns per step.

Run from the repository root (on demand; this is not a test)::

    python benchmarks/bench_codegen.py            # writes benchmarks/results/codegen.{json,md}
    python benchmarks/bench_codegen.py --agents 2 3 --big   # a subset

For the ecological public good with N agents (``crldgen.games.ecological_public_good(N)``),
SARSA and actor-critic, every measurement runs in a fresh Python process so that numba's
in-memory state never helps:

* **cold**: an empty cache directory. ``derive`` is the symbolic derivation
  (``Model.program`` for the kernels and the Jacobian), ``generate`` printing the module
  text and writing it, ``load`` importing it, ``compile (loop)`` the first call of the
  ``trajectory`` kernel (numba compiles what iterating needs: the stages, ``logit_step``,
  the loop), ``compile (rest)`` the first call of every other kernel (``step``,
  ``tderror``, ``averages``/``values``, ``stationary``, ``jacobian``). ``total`` is the wall
  time of the whole process, interpreter start and imports included.
* **warm**: a second process on the same cache directory (module file and numba's cache
  exist): everything from ``import crldgen`` (numpy, numba and sympy included) to the
  first trajectory and the first call of every other kernel, the Jacobian last.
* **per step**: ns per step inside a compiled loop: the module's ``trajectory`` kernel
  with ``tol=0`` (never converges) over ``--steps`` steps, and the bare ``logit_step``
  kernel called from an ``@njit`` loop (the best of ``--repeat`` runs).
* **big**: N=8 (``--big-agents``) SARSA, cold, derived and compiled completely.

The machine is shared and has 2 cores: both wall and CPU (process) times are recorded;
CPU time is the robust number when other jobs run.
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

#: targets of issue 3 (seconds or nanoseconds)
TARGETS = {
    "N2 sarsa ns/step": 300.0,
    "N5 sarsa ns/step": 20_000.0,
    "N2 cold derive+compile s": 10.0,
    "N2 warm s": 1.0,
    "N8 cold derive+compile s": 120.0,
}


# --------------------------------------------------------------------------- worker
def worker(n_agents: int, learner: str, cache_dir: str, steps: int, repeat: int, measure_steps: bool,
           fingerprint: str | None = None) -> dict:
    """One process: derive, generate, load, compile and time (prints a JSON line).

    ``fingerprint`` pins the source fingerprint of the cache keys to the driver's, so that
    an edit of crldgen's sources during a run cannot turn a warm measurement cold.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out: dict = {"n_agents": n_agents, "learner": learner}

    def lap(name, t_wall, t_cpu):
        out[name] = time.perf_counter() - t_wall
        out[name + "_cpu"] = time.process_time() - t_cpu

    t, c = time.perf_counter(), time.process_time()
    import numba
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import crldgen
    from crldgen.compiler import compile_model, module_path

    if fingerprint:
        import crldgen.codegen.fingerprint
        import crldgen.runtime.keys

        crldgen.codegen.fingerprint.source_fingerprint = lambda: fingerprint
        crldgen.runtime.keys.source_fingerprint = lambda: fingerprint  # where module_key looks it up
    lap("import", t, c)
    t, c = time.perf_counter(), time.process_time()
    game = crldgen.games.ecological_public_good(n_agents)
    model = crldgen.derive(game, learner)
    path = module_path(model, cache_dir)
    cold = not path.exists()
    out["cold"] = cold
    if cold:  # the symbolic derivation proper (cached on the model, reused by the generator)
        base = {"Tss", "Ris", "Tisas", "Risa", "V", "Q", "td_error", "logit_step"}
        model.program(base)
        model.program({"jacobian"})
    lap("derive", t, c)
    t, c = time.perf_counter(), time.process_time()
    if cold:
        crldgen.generate(model, cache_dir)
    lap("generate", t, c)
    t, c = time.perf_counter(), time.process_time()
    dyn = compile_model(model, cache_dir=cache_dir)
    lap("load", t, c)
    text = Path(dyn.path).read_text()
    out["module_lines"], out["module_chars"] = text.count("\n"), len(text)
    m = dyn.module
    X = dyn.random_strategy(0)
    X0 = X.ravel().copy()
    y0 = dyn.to_logit(X).ravel().copy()
    a, b, g, th = dyn.params()
    Xrec = np.empty((0, X0.size))
    X_out, y_out = np.empty(X0.size), np.empty(y0.size)

    def run(n):
        return m.trajectory(X0, y0, 0, th, a, b, g, n, 0.0, 1.0, 0, Xrec, X_out, y_out)

    t, c = time.perf_counter(), time.process_time()
    run(10)
    lap("compile_loop", t, c)
    t, c = time.perf_counter(), time.process_time()
    dyn.step(X)
    dyn.tderror(X)
    dyn.averages(X)
    dyn.stationary_distribution(X)
    dyn.jacobian(X)
    lap("compile_rest", t, c)
    out["process_to_first_jacobian"] = time.perf_counter() - wall0
    out["process_to_first_jacobian_cpu"] = time.process_time() - cpu0
    if measure_steps:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            res = run(steps)
            best = min(best, time.perf_counter() - t)
        assert res[0] == steps, res
        out["ns_per_step_trajectory"] = best / steps * 1e9

        step = m.logit_step

        @numba.njit
        def bare(X, y, theta, alpha, beta, gamma, n):
            y_new = np.empty_like(y)
            for _ in range(n):
                step(X, y, theta, alpha, beta, gamma, y_new)
            return y_new

        bare(X0, y0, th, a, b, g, 10)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            bare(X0, y0, th, a, b, g, steps)
            best = min(best, time.perf_counter() - t)
        out["ns_per_logit_step_bare"] = best / steps * 1e9
    return out


# --------------------------------------------------------------------------- driver
def run_worker(n_agents, learner, cache_dir, steps, repeat, measure_steps, fingerprint, timeout=1800) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(n_agents), learner, str(cache_dir), "--steps", str(steps),
           "--repeat", str(repeat), "--fingerprint", fingerprint] + ([] if measure_steps else ["--no-steps"])
    t = time.perf_counter()
    # the module's own kernels, compiled on first call (not the engine of crldgen.runtime.engine)
    env = dict(os.environ, CRLDGEN_ENGINE="0", CRLDGEN_QUIET="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT), env=env)
    total = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"worker {n_agents} {learner} failed:\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_total"] = total
    return res


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(data: dict) -> str:
    lines = [
        "# Code generation benchmark (ecological public good)",
        "",
        f"Command: `{data['command']}`  ",
        f"Machine: {data['machine']['cpus']} cores, {data['machine']['platform']}, Python "
        f"{data['machine']['python']}, numba {data['machine']['numba']}, sympy {data['machine']['sympy']}; "
        f"load average at start {data['machine']['load_start']}, at end {data['machine']['load_end']}  ",
        f"Date: {data['date']}",
        "",
        "## Cold (empty cache, fresh process): seconds, wall (CPU)",
        "",
        "| N | learner | derive | generate | load | compile (loop) | compile (rest) | derive+generate+compile | "
        "whole process | module lines |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["cold"]:
        dgc = r["derive"] + r["generate"] + r["load"] + r["compile_loop"] + r["compile_rest"]
        dgc_cpu = r["derive_cpu"] + r["generate_cpu"] + r["load_cpu"] + r["compile_loop_cpu"] + r["compile_rest_cpu"]
        lines.append(
            f"| {r['n_agents']} | {r['learner']} | {fmt(r['derive'])} | {fmt(r['generate'])} | {fmt(r['load'])} | "
            f"{fmt(r['compile_loop'])} ({fmt(r['compile_loop_cpu'])}) | {fmt(r['compile_rest'])} "
            f"({fmt(r['compile_rest_cpu'])}) | **{fmt(dgc)}** ({fmt(dgc_cpu)}) | {fmt(r['process_total'])} | "
            f"{r['module_lines']} |")
    lines += [
        "",
        "## Warm (same cache, second fresh process): seconds",
        "",
        "| N | learner | import crldgen | derive (key only) | load | first trajectory | first of every other kernel | "
        "after imports | from `import crldgen` to first Jacobian |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["warm"]:
        inproc = r["derive"] + r["generate"] + r["load"] + r["compile_loop"] + r["compile_rest"]
        lines.append(
            f"| {r['n_agents']} | {r['learner']} | {fmt(r['import'])} | {fmt(r['derive'], 3)} | {fmt(r['load'], 3)} | "
            f"{fmt(r['compile_loop'], 3)} | {fmt(r['compile_rest'], 3)} | {fmt(inproc)} | "
            f"**{fmt(r['process_to_first_jacobian'])}** |")
    lines += [
        "",
        "## Per step inside a compiled loop (warm): ns",
        "",
        "| N | learner | trajectory kernel (tol=0) | bare logit_step in an njit loop |",
        "|---|---|---|---|",
    ]
    for r in data["warm"]:
        if "ns_per_step_trajectory" in r:
            lines.append(f"| {r['n_agents']} | {r['learner']} | **{fmt(r['ns_per_step_trajectory'], 0)}** | "
                         f"{fmt(r['ns_per_logit_step_bare'], 0)} |")
    lines += ["", "## Targets", "", "| target | limit | measured | met |", "|---|---|---|---|"]
    for name, (limit, value) in data["targets"].items():
        ok = value is not None and value <= limit
        lines.append(f"| {name} | {limit:g} | {fmt(value)} | {'yes' if ok else 'NO' if value is not None else '-'} |")
    lines.append("")
    return "\n".join(lines)


def targets(data: dict, big_agents: int = 8) -> dict:
    """``{target: (limit, measured)}`` from the measurements in ``data``."""
    def find(kind, n, learner="sarsa"):
        return next((r for r in data[kind] if r["n_agents"] == n and r["learner"] == learner), None)

    def dgc(r):
        return None if r is None else r["derive"] + r["generate"] + r["load"] + r["compile_loop"] + r["compile_rest"]

    w2, w5 = find("warm", 2), find("warm", 5)
    return {
        "N2 sarsa ns/step (trajectory kernel)": (TARGETS["N2 sarsa ns/step"], w2 and w2["ns_per_step_trajectory"]),
        "N5 sarsa ns/step (trajectory kernel)": (TARGETS["N5 sarsa ns/step"], w5 and w5["ns_per_step_trajectory"]),
        "N2 cold derive+generate+compile (all kernels) s": (TARGETS["N2 cold derive+compile s"], dgc(find("cold", 2))),
        "N2 warm: load + first call of every kernel (after imports) s": (TARGETS["N2 warm s"], dgc(w2)),
        "N2 warm: the same from `import crldgen` (numpy, numba, sympy imports included) s":
            (TARGETS["N2 warm s"], w2 and w2["process_to_first_jacobian"]),
        f"N{big_agents} cold derive+generate+compile (all kernels) s": (TARGETS["N8 cold derive+compile s"],
                                                                      dgc(find("big", big_agents))),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    ap.add_argument("--learners", nargs="+", default=["sarsa", "actor_critic"])
    ap.add_argument("--big", action=argparse.BooleanOptionalAction, default=True, help="also time N=--big-agents")
    ap.add_argument("--big-agents", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10**5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--render", action="store_true", help="only rewrite codegen.md from codegen.json in --out")
    ap.add_argument("--worker", nargs=3, metavar=("N", "LEARNER", "CACHE_DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--no-steps", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fingerprint", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.render:
        data = json.loads((Path(args.out) / "codegen.json").read_text())
        data["targets"] = targets(data, data["big"][0]["n_agents"] if data.get("big") else 8)
        (Path(args.out) / "codegen.json").write_text(json.dumps(data, indent=1) + "\n")
        (Path(args.out) / "codegen.md").write_text(markdown(data))
        print(markdown(data))
        return 0
    if args.worker:
        n, learner, cache = args.worker
        print(json.dumps(worker(int(n), learner, cache, args.steps, args.repeat, not args.no_steps,
                                args.fingerprint)))
        return 0

    import numba
    import sympy

    sys.path.insert(0, str(ROOT))
    from crldgen.codegen.fingerprint import source_fingerprint

    fingerprint = source_fingerprint()
    data = {
        "command": "python benchmarks/bench_codegen.py" + ("" if argv is None else " " + " ".join(argv)),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "numba": numba.__version__, "sympy": sympy.__version__,
                    "load_start": [round(x, 2) for x in os.getloadavg()]},
        "cold": [], "warm": [], "big": [],
    }
    if argv is None and len(sys.argv) > 1:
        data["command"] = "python benchmarks/bench_codegen.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="crldgen-bench-") as tmp:
        for n in args.agents:
            for learner in args.learners:
                cache = Path(tmp) / f"N{n}_{learner}"
                cold = run_worker(n, learner, cache, args.steps, args.repeat, False, fingerprint)
                warm = run_worker(n, learner, cache, args.steps, args.repeat, True, fingerprint)
                assert cold["cold"] and not warm["cold"], "the warm run regenerated the module"
                data["cold"].append(cold)
                data["warm"].append(warm)
                print(f"N={n} {learner}: cold {cold['process_total']:.1f} s, warm {warm['process_total']:.1f} s, "
                      f"{warm['ns_per_step_trajectory']:.0f} ns/step", flush=True)
        if args.big:
            cache = Path(tmp) / f"N{args.big_agents}_big"
            big = run_worker(args.big_agents, "sarsa", cache, args.steps, args.repeat, False, fingerprint)
            data["cold"].append(big)
            data["big"].append(big)
            print(f"N={args.big_agents} sarsa: cold {big['process_total']:.1f} s", flush=True)
    data["machine"]["load_end"] = [round(x, 2) for x in os.getloadavg()]

    data["targets"] = targets(data, args.big_agents)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "codegen.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / "codegen.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
