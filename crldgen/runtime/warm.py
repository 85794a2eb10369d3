"""Compile (or load from numba's cache) a generated module's kernels, split over two processes.

numba compiles one function at a time per process (a global compiler lock), and a new
game's module has some forty kernels: the chapter's game costs ~11 s of CPU to compile
them all. On a machine with two or more cores :func:`compile_module` shares the largest
self-contained kernels (:data:`HELPER_KERNELS`: the vectorised batch kernel, the
Jacobian) with a helper process (``python -m crldgen.runtime.warm PATH KEY --claims DIR
NAMES``), which compiles them into numba's cache while the calling process compiles the
rest; whichever process is free first takes the next shared kernel (a claim file each,
so none is compiled twice), and the calling process loads the helper's ones from the
cache (milliseconds). The helper runs at lower priority (``nice`` +10), so the user's
own calls keep their core.
Should the helper fail or stall, the calling process compiles those kernels itself
(same results; only slower). ``CRLDGEN_COMPILE_HELPER=0`` turns the helper off.

The helper loads the module file through :func:`crldgen.runtime.loader.load_module`
with the expected key, so a stale or foreign file is refused there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from types import ModuleType
from typing import Callable

import numpy as np

#: kernels shared with the helper process, in the helper's order (the calling process takes
#: them from the end once its own are done): the vectorised batch kernel, self-contained (its
#: own step and softmax, about half of a module's compile time: chapter's game 5.1 of 11.3 s),
#: and the Jacobian (small at N = 2, the largest kernel at N = 8)
HELPER_KERNELS = ("lanes_block", "jacobian")
#: seconds the calling process waits for the helper after its own kernels, before it
#: compiles the helper's kernels itself
HELPER_TIMEOUT = 600.0


def warm_calls(module: ModuleType) -> dict[str, Callable[[], object]]:
    """``name -> call`` for every kernel of ``module`` that crldgen calls, each call compiling it (or loading it).

    The calls use the argument types crldgen's Python layer passes (float64 C arrays,
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
    if hasattr(module, "lanes_block"):  # the vectorised batch kernel

        def lanes() -> None:
            m = int(getattr(module, "LANES", 8))
            tile = lambda v: np.tile(v, (m, 1))  # noqa: E731
            module.lanes_block(0, m, tile(X), tile(y), np.zeros(m, np.int64), tile(theta), tile(a), tile(a), tile(a),
                               2, 0.0, 1.0, 1, np.empty((m, 2, nx)), np.empty((m, nx)), np.empty((m, nf)),
                               np.empty(m, np.int64), np.empty(m, np.bool_), np.empty(m, np.int64),
                               np.empty(m, np.int64), True)

        calls["lanes_block"] = lanes
    return calls


def warm(module: ModuleType, names=None) -> None:
    """Compile (or load) the kernels ``names`` of ``module`` (default: every one :func:`warm_calls` knows)."""
    calls = warm_calls(module)
    for name in calls if names is None else names:
        if name in calls:
            calls[name]()


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


class Helper:
    """A running helper process compiling kernels of one module file into numba's cache.

    It takes the kernels ``names`` in order, each one only if the calling process has
    not claimed it (files in the folder ``claims``): the two processes share the shared
    kernels without compiling one twice.
    """

    def __init__(self, path: str, key: str, names: tuple[str, ...]) -> None:
        self.names = names
        self.claims = tempfile.mkdtemp(prefix="crldgen-claims-")
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crldgen.runtime.warm", str(path), key, "--claims", self.claims, *names],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, close_fds=True)

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
        shutil.rmtree(self.claims, ignore_errors=True)
        if code is None:
            return False, f"still running after {timeout:.0f} s (stopped)"
        if code != 0:
            return False, f"exit code {code}: {text.splitlines()[-1] if text else 'no message'}"
        return True, ""


def start_helper(module: ModuleType, names=HELPER_KERNELS) -> Helper | None:
    """A helper compiling the kernels ``names`` of ``module`` (those it has), or None (off, nothing to do, failed)."""
    path, key = getattr(module, "__file__", None), getattr(module, "KEY", None)
    names = tuple(n for n in names if hasattr(module, n))
    if not names or not path or not key or not helper_enabled():
        return None
    try:
        return Helper(path, key, names)
    except OSError:
        return None


def compile_module(module: ModuleType, first=(), on_first_done: Callable[[], None] | None = None,
                   report: Callable[[str], None] | None = None) -> dict:
    """Compile (or load) every kernel of ``module``, sharing :data:`HELPER_KERNELS` with a helper process.

    The kernels ``first`` come first; ``on_first_done()`` runs once they are compiled
    (the engine then hands their calls to them). Then the calling process compiles the
    rest of its own, then takes the shared kernels the helper has not begun, from the
    end of the list (the helper works from its start). ``report(text)`` hears why
    the helper's kernels had to be compiled here. Returns the seconds since the start
    ``{"first_s", "main_s", "all_s", "helper"}`` (the kernels ``first``, the calling
    process's kernels, every kernel; ``helper``: whether a helper took part and ended well).
    """
    start = time.perf_counter()
    helper = start_helper(module)
    shared = helper.names if helper is not None else ()
    names = [n for n in warm_calls(module) if n not in shared]
    warm(module, [n for n in names if n in first])
    first_s = time.perf_counter() - start
    if on_first_done is not None:
        on_first_done()
    warm(module, [n for n in names if n not in first])
    ok = False
    if helper is not None:
        warm(module, [n for n in reversed(shared) if claim(helper.claims, n)])
        main_s = time.perf_counter() - start
        ok, why = helper.wait(HELPER_TIMEOUT)
        if not ok and report is not None:
            report(f"the compile helper failed ({why}); compiling what it did not finish here")
    else:
        main_s = time.perf_counter() - start
    warm(module, shared)  # from numba's cache, or compiled here (the helper failed)
    return {"first_s": first_s, "main_s": main_s, "all_s": time.perf_counter() - start, "helper": ok}


def main(argv=None) -> int:
    """``python -m crldgen.runtime.warm PATH KEY [--claims DIR] NAME...``: compile those kernels of the module.

    With ``--claims`` a kernel is compiled only if claimed here first (:func:`claim`).
    The process lowers its priority (``nice`` +10): it uses the cores the user's own
    work leaves idle.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    claims = None
    if "--claims" in args[2:]:
        i = args.index("--claims", 2)
        claims = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        print("usage: python -m crldgen.runtime.warm PATH KEY [--claims DIR] [NAME ...]", file=sys.stderr)
        return 2
    from .loader import load_module

    module = load_module(args[0], args[1])
    calls = warm_calls(module)
    for name in args[2:] or list(calls):
        if name in calls and claim(claims, name):
            calls[name]()
    return 0


if __name__ == "__main__":
    if hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:
            pass
    sys.exit(main())
