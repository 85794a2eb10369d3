"""Cold and warm start of crldgen: from ``python`` to the first trajectory, fixed-point search, all kernels.

Run from the repository root::

    python benchmarks/bench_coldstart.py                 # writes benchmarks/results/coldstart.{json,md}
    python benchmarks/bench_coldstart.py --agents 6 8 10 # the ecological public good at larger N

Every measurement is one fresh Python process with a fresh crldgen cache folder
(``/tmp/cold-bench-*``; the repository's ``generated/`` is ignored via
``CRLDGEN_NO_BUNDLED=1``, so the chapter's game is generated and compiled too). The
game-independent engine (:mod:`crldgen.runtime.engine`) is compiled once per
installation into numba's cache beside crldgen's sources; the first run of this script
makes sure it is, and reports how long that took (``engine_install_s``).

Scenarios

* ``new_game``: a 2-agent, 2-state, 2-action game never seen before (a TOML text with a
  unique name): time to the first ``dyn.trajectory(X, 100)`` with the engine (default)
  and with ``CRLDGEN_ENGINE=0`` (the module's own kernels compiled on first call, the
  behaviour before the engine); ``module_compiled_s`` is when the background compile
  finished.
* ``new_game_fixed_points``: first ``crldgen.fixed_points(dyn, n_starts=8)`` of a new game.
* ``chapter_all_kernels``: the chapter's game (ecological public good, N=2) cold, every
  kernel of its module compiled (step, tderror, logit step, averages, values,
  stationary, trajectory, trajectories, sweep, Jacobian, the vectorised batch kernel);
  ``chapter_all_kernels_no_helper`` the same with ``CRLDGEN_COMPILE_HELPER=0`` (every
  kernel compiled in the one process). ``*_cpu`` numbers include the compile helper's CPU.
* ``warm_start``: a second process on the cache of ``new_game``: import, compile, first
  step; and whether sympy was imported.
* ``ecopg_N``: ecological public good with N agents, cold: derive+generate, first
  trajectory, module compiled; ``--jacobian`` also times the first Jacobian.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

NEW_GAME = """
name = "{name}"
agents = ["a", "b"]
states = ["g", "p"]
actions = ["c", "d"]
[[T]]
state = "p"
next = "g"
value = "qc * 0.5"
[[T]]
state = "p"
actions = ["d", "d"]
next = "g"
value = "qc"
[[T]]
state = "p"
next = "p"
value = "1 - qc * 0.5"
[[T]]
state = "p"
actions = ["d", "d"]
next = "p"
value = "1 - qc"
[[T]]
state = "g"
next = "p"
value = "0.1"
[[T]]
state = "g"
next = "g"
value = "0.9"
[[R]]
state = "p"
next = "p"
value = "f"
[[R]]
agent = "a"
state = "p"
actions = ["d", "c"]
next = "p"
value = "f + 1"
[[R]]
state = "g"
value = "-1"
[parameters]
qc = 0.2
f = 1.0
"""


# ------------------------------------------------------------------ workers (run in fresh processes)
def _worker(scenario: str, arg: str) -> dict:
    t0 = time.perf_counter()
    out: dict = {}
    before: dict = {}  # children's CPU at each mark

    def mark(name):
        out[name] = round(time.perf_counter() - t0, 3)
        # CPU seconds of the process (all threads, so a background compile counts) and of its ended
        # children (the compile helper) at that point: on a loaded machine the wall times stretch, the
        # CPU times much less
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() + kids.ru_utime + kids.ru_stime
        before[name] = kids.ru_utime + kids.ru_stime
        out[name[:-2] + "_cpu" if name.endswith("_s") else name + "_cpu"] = round(cpu, 3)

    def with_helper_cpu(name):
        """Add the compile helper's CPU to ``name``'s (a thread reaps it once its kernels are done)."""
        for thread in threading.enumerate():
            if thread.name == "crldgen-helper-reap":
                thread.join(60)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        key = name[:-2] + "_cpu"
        out[key] = round(out[key] + kids.ru_utime + kids.ru_stime - before[name], 3)

    import numpy as np

    import crldgen

    mark("import_s")
    if scenario in ("new_game", "new_game_fixed_points", "warm_start"):
        from crldgen.tomlgame import loads_game

        game = loads_game(NEW_GAME.format(name=arg))
        mark("game_s")
        dyn = crldgen.compile(game)
        mark("compile_s")
        X = dyn.uniform_strategy()
        if scenario == "warm_start":
            dyn.step(X)
            mark("first_step_s")
            out["sympy_imported"] = "sympy" in sys.modules
            out["served"] = type(dyn.module).__name__  # PythonModule: plain-Python kernels while numba loads
            if hasattr(dyn.module, "wait_compiled"):
                dyn.module.wait_compiled()
                mark("compiled_kernels_loaded_s")
            return out
        if scenario == "new_game":
            dyn.trajectory(X, 100)
            mark("first_trajectory_s")
        else:
            crldgen.fixed_points(dyn, n_starts=8, rng=1)
            mark("first_fixed_points_s")
        out["engine"] = type(dyn.module).__name__ == "EngineModule"
        if out["engine"]:
            dyn.module.wait_compiled()
            mark("module_compiled_s")
            with_helper_cpu("module_compiled_s")
        return out
    if scenario == "chapter_all_kernels":
        game = crldgen.games.ecological_public_good(2)
        dyn = crldgen.compile(game)
        mark("compile_s")
        X = dyn.random_strategy(1)
        dyn.trajectory(X, 100)
        mark("first_trajectory_s")
        if type(dyn.module).__name__ == "EngineModule":
            dyn.module.wait_compiled()
        mark("served_kernels_compiled_s")
        dyn.jacobian(X)
        dyn.trajectories(np.stack([X, X]), 50)
        dyn.sweep(X, "gamma", [0.5, 0.6], 50)
        dyn.average_reward(X)
        dyn.tderror(X)
        dyn.logit_step(dyn.to_logit(X))
        dyn.trajectories(np.stack([X] * 9), 50)  # the vectorised batch kernel
        mark("all_kernels_s")
        with_helper_cpu("all_kernels_s")
        times = getattr(dyn.module, "compile_times", None)
        if times:  # seconds from the start of the background compile
            out.update({f"background_{k}": (round(v, 3) if isinstance(v, float) else v) for k, v in times.items()})
        return out
    if scenario == "ecopg":
        n = int(arg.split(",")[0])
        game = crldgen.games.ecological_public_good(n)
        mark("game_s")
        dyn = crldgen.compile(game)
        mark("derive_generate_load_s")
        X = dyn.uniform_strategy()
        dyn.trajectory(X, 100)
        mark("first_trajectory_s")
        out["engine"] = type(dyn.module).__name__ == "EngineModule"
        if out["engine"]:
            dyn.module.wait_compiled()
        mark("module_compiled_s")
        with_helper_cpu("module_compiled_s")
        if arg.endswith(",jac"):
            dyn.jacobian(X)
            mark("first_jacobian_s")
        return out
    if scenario == "profile":  # where the cold time goes, stage by stage and kernel by kernel
        n = int(arg)
        game = crldgen.games.ecological_public_good(n)
        game.T  # build the sympy tensors
        mark("import_and_game_s")
        from crldgen.codegen.generator import generate_source
        from crldgen.compiler import generate

        try:
            from crldgen.compiler import _key_of
        except ImportError:  # crldgen before the engine (keys derived from the model)
            from crldgen.codegen import cache_key as _key_of
        from crldgen.runtime.loader import load_module
        from crldgen.symbolic.model import derive

        stages = {}
        t = time.perf_counter()
        model = derive(game, "sarsa")
        model.program({"Tss", "Ris", "Tisas", "Risa", "V", "Q", "td_error", "logit_step"})
        stages["derive_base_s"] = time.perf_counter() - t
        t = time.perf_counter()
        model.program({"jacobian"})
        stages["derive_jacobian_s"] = time.perf_counter() - t
        t = time.perf_counter()
        key = _key_of(model)
        text = generate_source(model, key)
        stages["generate_text_s"] = time.perf_counter() - t
        stages["module_lines"] = text.count("\n")
        t = time.perf_counter()
        path = generate(model, Path(os.environ["CRLDGEN_CACHE"]), key=key)
        module = load_module(path, key)
        stages["write_import_s"] = time.perf_counter() - t
        N, Z, M = module.N_AGENTS, module.N_STATES, module.N_ACTIONS
        nx, nf = N * Z * M, N * Z * (M - 1)
        X, y, th, a = np.full(nx, 1 / M), np.zeros(nf), np.array([game.params[k] for k in module.PARAM_NAMES]), \
            np.full(N, 0.5)
        calls = {
            "strategy_step": lambda: module.strategy_step(X, th, a, a, a, 1.0, np.empty(nx)),
            "trajectory": lambda: module.trajectory(X, y, 0, th, a, a, a, 2, 0.0, 1.0, 1, np.empty((2, nx)),
                                                    np.empty(nx), np.empty(nf)),
            "averages": lambda: module.averages(X, th, np.empty(Z * Z), np.empty(N * Z), np.empty(N * Z * M * Z),
                                                np.empty(N * Z * M)),
            "stationary": lambda: module.stationary(X, th, np.empty(Z)),
            "jacobian": lambda: module.jacobian(X, th, a, a, a, np.empty(nf * nf)),
        }
        kernels = {}
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            wall = time.perf_counter() - t
            disp = getattr(module, name)
            timers = disp.get_metadata(disp.signatures[0]).get("timers", {})
            kernels[name] = {"first_call_s": round(wall, 3), "compiler_lock_s": round(timers.get("compiler_lock", 0), 3),
                             "llvm_s": round(timers.get("llvm_lock", 0), 3)}
        out["stages"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in stages.items()}
        out["kernels"] = kernels
        mark("total_s")
        return out
    if scenario == "engine_install":
        from crldgen.runtime import engine

        out["engine_install_s"] = round(engine.warm_up(), 3)
        try:
            from crldgen.runtime import lanes
        except ImportError:  # crldgen before the game-independent batch kernel
            return out
        t = time.perf_counter()
        lanes.warm_up()  # the batch kernel's game-independent part (compiled once per installation)
        out["lanes_install_s"] = round(time.perf_counter() - t, 3)
        return out
    raise SystemExit(f"unknown scenario {scenario}")


def run(scenario: str, arg: str = "", cache: Path | None = None, env: dict | None = None, timeout=900) -> dict:
    cache = cache or Path(tempfile.mkdtemp(prefix="cold-bench-", dir="/tmp"))
    e = dict(os.environ, CRLDGEN_CACHE=str(cache), CRLDGEN_NO_BUNDLED="1", CRLDGEN_QUIET="1",
             PYTHONPATH=os.environ.get("BENCH_PYTHONPATH", str(ROOT)))
    e.update(env or {})
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", scenario, arg], capture_output=True, text=True,
                          env=e, timeout=timeout, cwd=str(cache))
    if proc.returncode != 0:
        raise RuntimeError(f"{scenario} {arg} failed:\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = round(time.perf_counter() - start, 3)  # includes interpreter start and exit
    res["cache"] = str(cache)
    return res


def _small_scenarios(results: dict, tag: str, args) -> None:
    results["new_game"] = run("new_game", f"new_{tag}")
    results["warm_start"] = run("warm_start", f"new_{tag}", cache=Path(results["new_game"]["cache"]))
    results["new_game_fixed_points"] = run("new_game_fixed_points", f"fp_{tag}")
    results["chapter_all_kernels"] = run("chapter_all_kernels")
    results["chapter_all_kernels_no_helper"] = run("chapter_all_kernels", env={"CRLDGEN_COMPILE_HELPER": "0"})
    if not args.skip_before:
        off = {"CRLDGEN_ENGINE": "0"}
        results["new_game_engine_off"] = run("new_game", f"off_{tag}", env=off)
        results["new_game_fixed_points_engine_off"] = run("new_game_fixed_points", f"fpoff_{tag}", env=off)
        results["chapter_all_kernels_engine_off"] = run("chapter_all_kernels", env=off)


def _repeat_only(args) -> None:
    """``--repeat K``: the new-game, fixed-point and chapter scenarios K times each, interleaved (ranges).

    With ``--against CHECKOUT`` every round runs the other checkout's code right after this
    one's (the machine's drift then hits both alike) and both tables are written.
    """
    names = ("first_trajectory_s", "first_fixed_points_s", "all_kernels_s")
    codes = {str(ROOT): None}
    if args.against:
        codes[str(Path(args.against).resolve())] = {"BENCH_PYTHONPATH": str(Path(args.against).resolve())}
    runs: dict = {label: [] for label in codes}
    for _ in range(args.repeat):
        for label, env in codes.items():
            tag = uuid.uuid4().hex[:8]
            saved = os.environ.get("BENCH_PYTHONPATH")
            if env:
                os.environ.update(env)
            try:
                r = {"new_game": run("new_game", f"rep_{tag}"),
                     "new_game_fixed_points": run("new_game_fixed_points", f"repfp_{tag}"),
                     "chapter_all_kernels": run("chapter_all_kernels")}
            finally:
                if env:
                    os.environ.pop("BENCH_PYTHONPATH", None)
                    if saved is not None:
                        os.environ["BENCH_PYTHONPATH"] = saved
            for v in r.values():
                shutil.rmtree(v.pop("cache"), ignore_errors=True)
            runs[label].append(r)
            print(label, ", ".join(f"{k} {v.get(n)}" for (k, v), n in zip(r.items(), names)), flush=True)
    if not args.against:
        label = os.environ.get("BENCH_PYTHONPATH") or str(ROOT)
        runs = {label: runs[str(ROOT)]}
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "runs": runs}
    out = Path(args.out + "_repeat")
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    against = f" --against {args.against}" if args.against else ""
    lines = [f"# Cold start, {args.repeat} rounds ({res['machine']}, {res['cpus']} cpus)", "",
             f"`python benchmarks/bench_coldstart.py --repeat {args.repeat}{against}`: each round a new 2x2x2 game "
             "to its first trajectory, another to its first `fixed_points(n_starts=8)`, and the chapter's game with "
             "every kernel compiled; fresh processes and caches"
             + (", each code in turn within the round" if args.against else "") + ". Seconds since the process "
             "started.", ""]
    for label, rounds in runs.items():
        lines += [f"crldgen from {label}:", "", "| scenario | min | median | max | all |", "|---|---|---|---|---|"]
        for (scenario, name) in zip(("new_game", "new_game_fixed_points", "chapter_all_kernels"), names):
            v = sorted(r[scenario][name] for r in rounds)
            lines.append(f"| {scenario}: {name} | {v[0]:.2f} | {v[len(v) // 2]:.2f} | {v[-1]:.2f} | "
                         + ", ".join(f"{x:.2f}" for x in v) + " |")
        lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def _warm_only(args) -> None:
    """``--warm K``: the warm start alone, K fresh processes on one cache (best and median)."""
    tag = uuid.uuid4().hex[:8]
    cold = run("new_game", f"warm_{tag}")
    cache = Path(cold.pop("cache"))
    runs = []
    for _ in range(args.warm):
        r = run("warm_start", f"warm_{tag}", cache=cache)
        r.pop("cache")
        runs.append(r)
    shutil.rmtree(cache, ignore_errors=True)
    first = sorted(r["first_step_s"] for r in runs)
    res = {"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
           "load_before": os.getloadavg()[0], "runs": runs, "first_step_best_s": first[0],
           "first_step_median_s": first[len(first) // 2], "sympy_imported": any(r["sympy_imported"] for r in runs),
           "served": sorted({r.get("served", "") for r in runs})}
    out = Path(args.out + "_warm")
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    lines = [f"# Warm start ({res['machine']}, {res['cpus']} cpus, load {res['load_before']:.1f} before)", "",
             f"`python benchmarks/bench_coldstart.py --warm {args.warm}`: a new 2x2x2 TOML game compiled once, then "
             f"{args.warm} fresh processes each run `import crldgen; game = loads_game(...); dyn = crldgen.compile(game); "
             "dyn.step(X)`. Seconds since the process started.", "",
             f"* first step: best {res['first_step_best_s']} s, median {res['first_step_median_s']} s (target 0.5 s)",
             f"* sympy imported: {res['sympy_imported']}; module served by {', '.join(res['served'])}", "",
             "| run | numbers |", "|---|---|"]
    lines += [f"| {k} | " + ", ".join(f"{a}={b}" for a, b in r.items()) + " |" for k, r in enumerate(runs)]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--agents", type=int, nargs="*", default=[6, 8], help="ecological public good sizes (cold)")
    ap.add_argument("--jacobian", action="store_true", help="also time the first Jacobian at each N")
    ap.add_argument("--skip-before", action="store_true", help="skip the CRLDGEN_ENGINE=0 comparison runs")
    ap.add_argument("--profile", type=int, nargs="*", default=[2, 6, 8],
                    help="profile derive/generate/numba per kernel for these N (engine off)")
    ap.add_argument("--only-agents", action="store_true", help="run only the --agents (and --profile) scenarios")
    ap.add_argument("--warm", type=int, default=0, metavar="K",
                    help="only the warm start: one cold run of a new game, then K warm processes "
                         "(writes <out>_warm.{json,md})")
    ap.add_argument("--repeat", type=int, default=0, metavar="K",
                    help="only the new-game, fixed-point and chapter scenarios, K rounds "
                         "(writes <out>_repeat.{json,md})")
    ap.add_argument("--against", metavar="CHECKOUT",
                    help="with --repeat: run another checkout's code in every round too (interleaved)")
    ap.add_argument("--out", default=str(RESULTS / "coldstart"))
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return
    if args.warm:
        _warm_only(args)
        return
    if args.repeat:
        _repeat_only(args)
        return
    if os.environ.get("BENCH_PYTHONPATH"):  # another checkout (e.g. the code before this change)
        results_note = f"crldgen from {os.environ['BENCH_PYTHONPATH']}"
    else:
        results_note = f"crldgen from {ROOT}"
    results: dict = {"crldgen": results_note, "machine": platform.platform(), "python": platform.python_version(),
                     "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    try:
        results["engine_install"] = run("engine_install")
    except RuntimeError:  # a crldgen without the engine
        results["engine_install"] = {"engine_install_s": None}
    tag = uuid.uuid4().hex[:8]
    if not args.only_agents:
        _small_scenarios(results, tag, args)
    for n in args.profile:
        results[f"profile_ecopg_{n}"] = run("profile", str(n), env={"CRLDGEN_ENGINE": "0"}, timeout=1800)
    for n in args.agents:
        results[f"ecopg_{n}"] = run("ecopg", f"{n},jac" if args.jacobian else str(n), timeout=1800)
    results["load_after"] = os.getloadavg()[0]
    for v in results.values():
        if isinstance(v, dict) and v.get("cache", "").startswith("/tmp/cold-bench-"):
            shutil.rmtree(v["cache"], ignore_errors=True)
            v.pop("cache")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"# Cold start ({results['crldgen']}; {results['machine']}, {results['cpus']} cpus, load {results['load_before']:.1f} before, "
             f"{results['load_after']:.1f} after)", "",
             "Seconds since the process started (fresh process, fresh crldgen cache).", "",
             "| scenario | numbers |", "|---|---|"]
    for k, v in results.items():
        if isinstance(v, dict):
            lines.append(f"| {k} | " + ", ".join(f"{a}={b}" for a, b in v.items()) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
