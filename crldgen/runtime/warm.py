"""Compile (or load from numba's cache) a generated module's kernels, split over two processes.

numba compiles one function at a time per process (a global compiler lock), and a new
game's module has some twenty kernels: the chapter's game costs ~7 s of CPU to compile
them all. On a machine with two or more cores :func:`compile_module` shares them with a
helper process (``python -m crldgen.runtime.warm PATH KEY --claims DIR --steal A,B
NAMES``): the helper compiles :data:`HELPER_KERNELS` into numba's cache while the calling
process compiles the rest (the kernels the engine serves first); a process that runs out
takes the other's kernels from the end (a claim file each, so none is compiled twice, and
a ``.done`` file once a kernel is in the cache), and the calling process loads the
helper's ones from the cache (milliseconds). The helper runs at lower priority (``nice``
+10), so the user's own calls keep their core. For a new game the compiler starts it
before deriving the module (:func:`spawn_early`): it starts numba meanwhile and takes the
module the moment the file is written.
Should the helper fail or stall, the calling process compiles those kernels itself
(same results; only slower). ``CRLDGEN_COMPILE_HELPER=0`` turns the helper off;
``CRLDGEN_WARM_TRACE=1`` prints which process compiled which kernel, when and in how long.

The helper loads the module file through :func:`crldgen.runtime.loader.load_module`
with the expected key, so a stale or foreign file is refused there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from types import ModuleType
from typing import Callable

import numpy as np

from . import lanes

#: the helper process's kernels, in its order (the calling process takes the rest, the served
#: ones first; a process that runs out takes the other's from the end). Chosen to share few
#: callees with the calling process's (which compiles the game's stages with its first kernel,
#: strategy_step): first the small game-independent ones its loops and checked kernels call
#: (then found in numba's cache there), the step of the vectorised batch kernel, the game
#: check, then the Jacobian and the stationary distribution, whose stages are in the cache by
#: then. The Jacobian, the largest kernel of a many-agent game (8 s of 23 at N = 8), goes before
#: the stationary distribution so that the other process can take that one from the end.
HELPER_KERNELS = ("strategy_of_logit", "all_finite", "strategy_ok", "logit_of_strategy", "logit_from_logs",
                  "lanes_step", "check_game_rows", "check_game", "jacobian", "stationary")
#: seconds the calling process waits for the helper after its own kernels, before it
#: compiles the helper's kernels itself
HELPER_TIMEOUT = 600.0


def warm_calls(module: ModuleType) -> dict[str, Callable[[], object]]:
    """``name -> call`` for every kernel of ``module`` that crldgen calls, each call compiling it (or loading it).

    The kernels the engine serves come first (:func:`compile_module` and the helper's
    ``--steal '*'`` rely on that order). The calls use the argument types crldgen's Python layer passes (float64 C arrays,
    int64 and float64 scalars), so the compiled signatures are the ones that serve.
    """
    N, Q, M = module.N_AGENTS, module.N_OBS, module.N_ACTIONS
    Z = module.N_STATES
    nx, nf = N * Q * M, N * Q * (M - 1)
    X = np.full(nx, 1.0 / M)
    y = np.zeros(nf)
    theta = np.zeros(len(module.PARAM_NAMES))
    a = np.full(N, 0.5)
    calls = {
        "strategy_step": lambda: module.strategy_step(X, theta, a, a, a, 1.0, np.empty(nx)),
        "tderror": lambda: module.tderror(X, theta, a, a, a, np.empty(nx)),
        "logit_step": lambda: module.logit_step(X, y, theta, a, a, a, np.empty(nf)),
        "logit_of_strategy": lambda: module.logit_of_strategy(X, np.empty(nf)),
        "strategy_of_logit": lambda: module.strategy_of_logit(y, np.empty(nx)),
        "trajectory": lambda: module.trajectory(X, y, 0, theta, a, a, a, 2, 0.0, 1.0, 1, np.empty((2, nx)),
                                                np.empty(nx), np.empty(nf)),
        "averages": lambda: module.averages(X, theta, np.empty(Z * Z), np.empty(N * Z), np.empty(N * Z * M * Z),
                                            np.empty(N * Z * M)),
        "values": lambda: module.values(X, theta, a, a, a, np.empty(N * Q), np.empty(N * Q * M)),
        "stationary": lambda: module.stationary(X, theta, np.empty(Z)),
        "all_finite": lambda: module.all_finite(X),
        "strategy_ok": lambda: module.strategy_ok(X, True, 1e-9),
        "logit_from_logs": lambda: module.logit_from_logs(np.log(X), np.empty(nf)),
        "checked_strategy_step": lambda: module.checked_strategy_step(X, theta, a, a, a, 1.0, 1e-9, np.empty(nx)),
        "checked_tderror": lambda: module.checked_tderror(X, theta, a, a, a, True, 1e-9, np.empty(nx)),
        "checked_logit_step": lambda: module.checked_logit_step(y, theta, a, a, a, np.empty(nf)),
        "check_game": lambda: module.check_game(theta, 1e-9, 1e-9),
        "check_game_rows": lambda: module.check_game_rows(theta[None], 1e-9, 1e-9, np.empty(1, np.int64),
                                                          np.empty(1, np.int64), np.empty(1)),
    }
    if hasattr(module, "tderror_rows"):  # the flow-field row kernels
        calls["tderror_rows"] = lambda: module.tderror_rows(X[None], theta, a, a, a, np.empty((1, nx)))
        calls["strategy_step_rows"] = lambda: module.strategy_step_rows(X[None], theta, a, a, a, 1.0,
                                                                        np.empty((1, nx)))
    if hasattr(module, "jacobian"):
        calls["jacobian"] = lambda: module.jacobian(X, theta, a, a, a, np.empty(nf * nf))
    if lanes.has_lanes(module):  # the step of the vectorised batch kernel, and the game-independent driver

        def lanes_step() -> None:
            step, rows = lanes.step_of(module)
            m = 2
            tile = lambda v: np.tile(v, (m, 1))  # noqa: E731
            lanes.lanes_block(0, m, step, *rows, tile(X), tile(y), np.zeros(m, np.int64), tile(theta), tile(a),
                              tile(a), tile(a), 2, 0.0, 1.0, 1, np.empty((m, 2, nx)), np.empty((m, nx)),
                              np.empty((m, nf)), np.empty(m, np.int64), np.empty(m, np.bool_),
                              np.empty(m, np.int64), np.empty(m, np.int64), True)

        calls["lanes_step"] = lanes_step
    return calls


def warm(module: ModuleType, names=None) -> None:
    """Compile (or load) the kernels ``names`` of ``module`` (default: every one :func:`warm_calls` knows)."""
    calls = warm_calls(module)
    for name in calls if names is None else names:
        if name in calls:
            calls[name]()


def _tracing() -> bool:
    return os.environ.get("CRLDGEN_WARM_TRACE", "").strip() not in ("", "0")


def _trace(who: str, name: str, since: float) -> None:
    """``CRLDGEN_WARM_TRACE=1``: ``who name finished-at(unix time) +seconds`` on stderr (the helper's via its log)."""
    if _tracing():
        print(f"crldgen-warm {who} {name} {time.time():.2f} +{time.perf_counter() - since:.2f}", file=sys.stderr,
              flush=True)


def helper_enabled() -> bool:
    """Whether :func:`compile_module` may start a helper process (``CRLDGEN_COMPILE_HELPER``; default: 2+ cores)."""
    flag = os.environ.get("CRLDGEN_COMPILE_HELPER", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    if flag in ("1", "true", "yes", "on"):
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores >= 2


def claim(claims: str | None, name: str) -> bool:
    """Whether this process may compile kernel ``name`` (first to create ``claims/name`` wins; no folder: yes)."""
    if not claims:
        return True
    try:
        os.close(os.open(os.path.join(claims, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:  # the folder is gone (the caller finished): nothing left to share
        return False
    return True


def mark_done(claims: str | None, name: str) -> None:
    """Say (file ``claims/name.done``) that kernel ``name`` is in numba's cache now."""
    if claims:
        try:
            os.close(os.open(os.path.join(claims, name + ".done"), os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError:  # the caller finished and removed the folder
            pass


def is_done(claims: str | None, name: str) -> bool:
    """Whether the helper has put kernel ``name`` into numba's cache."""
    return bool(claims) and os.path.exists(os.path.join(claims, name + ".done"))


class Helper:
    """A running helper process compiling kernels of one module file into numba's cache.

    It takes the kernels ``names`` in order, then the calling process's ``steal`` from
    the end (``("*",)``: every other kernel of the module), each one only if no process has claimed it yet (files in the folder
    ``claims``; a ``.done`` file once it is in the cache): the two processes share the
    module without compiling a kernel twice.
    """

    def __init__(self, path: str, key: str, names: tuple[str, ...], steal: tuple[str, ...] = (),
                 wait: bool = False) -> None:
        self.names, self.steal = names, steal
        self.claims = tempfile.mkdtemp(prefix="crldgen-claims-")
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crldgen.runtime.warm", str(path), key, "--claims", self.claims,
             "--steal", ",".join(steal), *(("--wait", str(os.getpid())) if wait else ()), *names],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True,
            stderr=None if _tracing() else self.log)  # tracing: its lines go straight to this stderr

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float) -> tuple[bool, str]:
        """``(ok, why)`` once the helper has ended (or been stopped after ``timeout`` seconds)."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip()
        self.log.close()
        if code is None:
            return False, f"still running after {timeout:.0f} s (stopped)"
        if code != 0:
            return False, f"exit code {code}: {text.splitlines()[-1] if text else 'no message'}"
        return True, ""

    def close(self) -> None:
        shutil.rmtree(self.claims, ignore_errors=True)


#: module file -> a helper started before the module was imported (:func:`spawn_early`)
_early: dict[str, Helper] = {}


def spawn_early(path, key: str) -> None:
    """Start the helper for the module file ``path`` now, before it is written (or imported here).

    The helper starts numba (its import and first compile take it about a second) while
    this process derives and generates the module, then waits for the file with the
    header of ``key`` (a stale file at ``path`` is not taken); it gives up when this
    process ends or :func:`discard_early` removes its claims folder (say, the derivation
    failed). :func:`compile_module` adopts it. It steals the module's other kernels
    (``'*'``, in :func:`warm_calls` order: the served ones first) from the end.
    """
    if not helper_enabled() or os.path.realpath(path) in _early:
        return
    try:
        _early[os.path.realpath(path)] = Helper(str(path), key, HELPER_KERNELS, ("*",), wait=True)
    except OSError:
        pass


def discard_early(path) -> None:
    """Stop and forget the helper :func:`spawn_early` started for ``path``, if any (not needed after all)."""
    helper = _early.pop(os.path.realpath(path), None)
    if helper is not None:
        helper.close()  # no claims folder: it takes nothing more and ends
        threading.Thread(target=helper.wait, args=(HELPER_TIMEOUT,), name="crldgen-helper-reap", daemon=True).start()


def start_helper(module: ModuleType, names=HELPER_KERNELS, steal=()) -> Helper | None:
    """A helper compiling the kernels ``names`` of ``module`` (those it has), then ``steal`` from the end; or None."""
    path, key = getattr(module, "__file__", None), getattr(module, "KEY", None)
    calls = warm_calls(module)
    names = tuple(n for n in names if n in calls)
    steal = tuple(n for n in steal if n in calls and n not in names)
    if not names or not path or not key or not helper_enabled():
        return None
    try:
        return Helper(path, key, names, steal)
    except OSError:
        return None


def compile_module(module: ModuleType, first=(), on_first_done: Callable[[], None] | None = None,
                   report: Callable[[str], None] | None = None) -> dict:
    """Compile (or load) every kernel of ``module``, shared with a helper process when there is one.

    The calling process takes its kernels (every one but :data:`HELPER_KERNELS`, those
    in ``first`` first) in order, the helper takes :data:`HELPER_KERNELS` in order; a
    process that runs out takes the other's from the end (a claim file per kernel: none is
    compiled twice). The helper's kernels are loaded from numba's cache once it has
    finished them. ``on_first_done()`` runs as soon as every kernel in ``first`` is
    compiled or loaded here (the engine then hands their calls to them). ``report(text)``
    hears why the helper's kernels had to be compiled here. Returns the seconds since the
    start ``{"first_s", "main_s", "all_s", "helper"}`` (the kernels ``first``, the calling
    process's own work, every kernel; ``helper``: whether a helper took part and ended well).
    """
    start = time.perf_counter()
    calls = warm_calls(module)
    shared = tuple(n for n in HELPER_KERNELS if n in calls)
    own = [n for n in calls if n not in shared]
    own = [n for n in own if n in first] + [n for n in own if n not in first]
    early = _early.pop(os.path.realpath(getattr(module, "__file__", None) or ""), None)
    helper = early if early is not None else start_helper(module, shared, own)
    claims = helper.claims if helper is not None else None
    here: set[str] = set()  # compiled or loaded in this process
    first_s = None

    def load_done() -> None:  # the helper's finished kernels, from numba's cache (milliseconds each)
        for n in calls:
            if n not in here and is_done(claims, n):
                calls[n]()
                here.add(n)

    def first_ready() -> None:
        nonlocal first_s
        if first_s is None and all(n in here for n in first if n in calls):
            first_s = time.perf_counter() - start
            if on_first_done is not None:
                on_first_done()

    first_ready()
    queue = own + ([n for n in reversed(shared)] if helper is not None else [])
    for name in queue:
        if claim(claims, name):
            t = time.perf_counter()
            calls[name]()
            here.add(name)
            _trace("caller", name, t)
        load_done()
        first_ready()
    main_s = time.perf_counter() - start
    ok = False
    if helper is not None:
        deadline = time.perf_counter() + HELPER_TIMEOUT
        while len(here) < len(calls) and helper.running() and time.perf_counter() < deadline:
            time.sleep(0.01)  # the helper compiles its last kernels
            load_done()
            first_ready()
        load_done()
        if len(here) == len(calls) and helper.process.poll() in (None, 0):
            # all there: the helper, with nothing left to claim, ends by itself
            ok = True
            helper.close()
            threading.Thread(target=helper.wait, args=(HELPER_TIMEOUT,), name="crldgen-helper-reap",
                             daemon=True).start()
        else:
            _, why = helper.wait(max(0.0, deadline - time.perf_counter()))
            helper.close()
            if report is not None:
                report(f"the compile helper failed ({why or 'it ended early'}); compiling what it did not "
                       "finish here")
    for name in calls:  # compiled here: the helper failed or stalled
        if name not in here:
            calls[name]()
            here.add(name)
    first_ready()
    return {"first_s": first_s, "main_s": main_s, "all_s": time.perf_counter() - start, "helper": ok}


def _start_numba() -> None:
    """Import numba and compile one throw-away function (not cached): numba's first compile in a
    process sets up its typing and target contexts, about half a second."""
    import numba

    numba.njit(lambda v: v + 1.0)(1.0)


def _wait_for_module(path: str, key: str, claims: str | None, parent: int, timeout: float = HELPER_TIMEOUT) -> bool:
    """(helper started early) Start numba, then wait until ``path`` holds the module of ``key``.

    False when the calling process ``parent`` has ended, the claims folder is gone
    (:func:`discard_early`) or ``timeout`` seconds have passed.
    """
    from .loader import header_problem

    _start_numba()
    _trace("helper", "(numba started)", time.perf_counter())
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if claims and not os.path.isdir(claims):
            return False
        if os.getppid() != parent:  # the calling process has ended (this one was re-parented)
            return False
        if os.path.exists(path) and header_problem(path, key) is None:
            return True
        time.sleep(0.005)
    return False


def main(argv=None) -> int:
    """``python -m crldgen.runtime.warm PATH KEY [--claims DIR] [--steal A,B] [--wait PID] NAME...``: compile them.

    With ``--claims`` a kernel is compiled only if claimed here first (:func:`claim`),
    and marked done (:func:`mark_done`) once it is in numba's cache; then the kernels
    of ``--steal`` (``*``: every other kernel) are taken from the end the same way. The process lowers its priority
    (``nice`` +10): it uses the cores the user's own work leaves idle. With ``--wait PID``
    (:func:`spawn_early`) it starts numba first and waits for the file (from process PID).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    options = {}
    for flag in ("--claims", "--steal", "--wait"):
        if flag in args[2:]:
            i = args.index(flag, 2)
            options[flag] = args[i + 1]
            del args[i:i + 2]
    if len(args) < 2:
        print("usage: python -m crldgen.runtime.warm PATH KEY [--claims DIR] [--steal A,B] [--wait PID] [NAME ...]",
              file=sys.stderr)
        return 2
    from .loader import load_module

    claims = options.get("--claims")
    steal = [n for n in options.get("--steal", "").split(",") if n]
    if "--wait" in options and not _wait_for_module(args[0], args[1], claims, int(options["--wait"])):
        return 0  # not needed after all (the caller went away, or discarded this helper)
    module = load_module(args[0], args[1])
    calls = warm_calls(module)
    if steal == ["*"]:
        steal = [n for n in calls if n not in args[2:]]
    _trace("helper", "(module loaded)", time.perf_counter())
    for name in (args[2:] or list(calls)) + steal[::-1]:
        if name in calls and claim(claims, name):
            t = time.perf_counter()
            calls[name]()
            mark_done(claims, name)
            _trace("helper", name, t)
    return 0


if __name__ == "__main__":
    if hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:
            pass
    sys.exit(main())
