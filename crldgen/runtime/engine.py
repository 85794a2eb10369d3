"""A game-independent compiled engine: CRLD of any fully observed game from numeric tensors.

The per-game generated module is the fast path and the readable artefact, but numba
needs seconds to compile it for a new game (see ``benchmarks/results/coldstart.md``).
The kernels here are crldgen's own, compiled once per installation (``cache=True``) and
loaded from numba's cache in a fraction of a second. They evaluate crld-math.md
sections 2-4 and 6 directly from dense numeric tensors ``T[s, b, s']`` and
``TR[i, s, b] = sum_s' T[s, b, s'] R[i, s, b, s']`` (``b`` a joint action, agent 0's
action the most significant digit), so they serve the first calls of a new game while
its generated module is compiled in a background thread (:class:`EngineModule`); the
module's own kernels then take over. ``nogil=True`` lets that compile run while the
engine computes.

Array conventions are those of the generated modules (flat ``X[(i*Z + s)*M + a]``,
``y[(i*Z + s)*(M-1) + a]``); the engine's trajectory loop follows the template's ``trajectory``
exactly (recording, convergence, status codes). This module imports neither sympy nor
the generator.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from types import ModuleType
from typing import Callable

import numba
import numpy as np

from . import inner, typing_memo

typing_memo.install()

STATUS_OK, STATUS_NONFINITE, STATUS_FULL = 0, 1, 2


# ------------------------------------------------------------------ kernels
@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _averages(X, T, TR, N, Z, M, Tss, Ris, Tisas, Risa):
    """Strategy averages of section 2 into flat Tss[s,s'], Ris[i,s], Tisas[i,s,a,s'], Risa[i,s,a]."""
    A = M ** N
    for k in range(Tisas.shape[0]):
        Tisas[k] = 0.0
    for k in range(Risa.shape[0]):
        Risa[k] = 0.0
    acts = np.empty(N, np.int64)
    for s in range(Z):
        for b in range(A):
            rem = b
            for i in range(N - 1, -1, -1):
                acts[i] = rem % M
                rem //= M
            for i in range(N):
                p = 1.0
                for j in range(N):
                    if j != i:
                        p *= X[(j * Z + s) * M + acts[j]]
                if p == 0.0:
                    continue
                row = (i * Z + s) * M + acts[i]
                for t in range(Z):
                    Tisas[row * Z + t] += p * T[(s * A + b) * Z + t]
                Risa[row] += p * TR[(i * Z + s) * A + b]
    for s in range(Z):
        for t in range(Z):
            acc = 0.0
            for a in range(M):
                acc += X[s * M + a] * Tisas[(s * M + a) * Z + t]  # agent 0's average is the joint one
            Tss[s * Z + t] = acc
        for i in range(N):
            acc = 0.0
            for a in range(M):
                acc += X[(i * Z + s) * M + a] * Risa[(i * Z + s) * M + a]
            Ris[i * Z + s] = acc


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _solve(A, B, n, k):
    """Solve A Z = B in place (B <- Z), partial pivoting (the template's solver); False if singular."""
    scale = 0.0
    for q in range(n * n):
        scale = max(scale, abs(A[q]))
    tiny = 1e-13 * max(scale, 1e-300)
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(A[r * n + col]) > abs(A[piv * n + col]):
                piv = r
        if abs(A[piv * n + col]) <= tiny:
            for q in range(n * k):
                B[q] = np.nan
            return False
        if piv != col:
            for c in range(n):
                tmp = A[col * n + c]
                A[col * n + c] = A[piv * n + c]
                A[piv * n + c] = tmp
            for c in range(k):
                tmp = B[col * k + c]
                B[col * k + c] = B[piv * k + c]
                B[piv * k + c] = tmp
        inv = 1.0 / A[col * n + col]
        for r in range(col + 1, n):
            f = A[r * n + col] * inv
            if f != 0.0:
                for c in range(col, n):
                    A[r * n + c] -= f * A[col * n + c]
                for c in range(k):
                    B[r * k + c] -= f * B[col * k + c]
    for r in range(n - 1, -1, -1):
        for c in range(k):
            acc = B[r * k + c]
            for q in range(r + 1, n):
                acc -= A[r * n + q] * B[q * k + c]
            B[r * k + c] = acc / A[r * n + r]
    return True


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _values(X, T, TR, N, Z, M, gamma, prefactor, V, Qv, work):
    """Values V[i,s] and Q[i,s,a] (section 2.5-2.6); ``work`` holds Tss|Ris|Tisas|Risa|A."""
    Tss = work[:Z * Z]
    Ris = work[Z * Z:Z * Z + N * Z]
    o = Z * Z + N * Z
    Tisas = work[o:o + N * Z * M * Z]
    o += N * Z * M * Z
    Risa = work[o:o + N * Z * M]
    o += N * Z * M
    A = work[o:o + Z * Z]
    _averages(X, T, TR, N, Z, M, Tss, Ris, Tisas, Risa)
    for i in range(N):
        g = gamma[i]
        p = 1.0 - g if prefactor else 1.0
        for r in range(Z):
            for c in range(Z):
                A[r * Z + c] = (1.0 if r == c else 0.0) - g * Tss[r * Z + c]
            V[i * Z + r] = p * Ris[i * Z + r]
        _solve(A, V[i * Z:(i + 1) * Z], Z, 1)
        for s in range(Z):
            for a in range(M):
                row = (i * Z + s) * M + a
                acc = 0.0
                for t in range(Z):
                    acc += Tisas[row * Z + t] * V[i * Z + t]
                Qv[row] = p * Risa[row] + g * acc


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _tderror(X, T, TR, N, Z, M, beta, gamma, prefactor, sarsa, out, work):
    """TD error of section 3 (scaled by beta) into out[i,s,a]; ``work`` as in :func:`_values`."""
    o = Z * Z + N * Z + N * Z * M * Z + N * Z * M + Z * Z
    V = work[o:o + N * Z]
    Qv = work[o + N * Z:o + N * Z + N * Z * M]
    _values(X, T, TR, N, Z, M, gamma, prefactor, V, Qv, work)
    for i in range(N):
        for s in range(Z):
            for a in range(M):
                k = (i * Z + s) * M + a
                if sarsa:
                    out[k] = beta[i] * Qv[k] - math.log(X[k])
                else:
                    out[k] = beta[i] * (Qv[k] - V[i * Z + s])


def work_size(N: int, Z: int, M: int) -> int:
    """Entries of the scratch array the engine kernels need."""
    return Z * Z + N * Z + N * Z * M * Z + N * Z * M + Z * Z + N * Z + N * Z * M


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _strategy_step(X, T, TR, N, Z, M, alpha, beta, gamma, prefactor, sarsa, direction, out, work):
    """X' of section 4 (direction -1: the reverse step)."""
    td = np.empty(N * Z * M)
    _tderror(X, T, TR, N, Z, M, beta, gamma, prefactor, sarsa, td, work)
    for r in range(N * Z):
        i = r // Z
        top = -np.inf
        for a in range(M):
            top = max(top, direction * alpha[i] * td[r * M + a])
        tot = 0.0
        for a in range(M):
            w = X[r * M + a] * math.exp(direction * alpha[i] * td[r * M + a] - top)
            out[r * M + a] = w
            tot += w
        for a in range(M):
            out[r * M + a] /= tot


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _logit_step(X, y, T, TR, N, Z, M, alpha, beta, gamma, prefactor, sarsa, y_out, td, work):
    """y' = y + alpha (delta[a] - delta[M-1]) (X must equal softmax(y))."""
    _tderror(X, T, TR, N, Z, M, beta, gamma, prefactor, sarsa, td, work)
    m1 = M - 1
    for r in range(N * Z):
        i = r // Z
        for a in range(m1):
            y_out[r * m1 + a] = y[r * m1 + a] + alpha[i] * (td[r * M + a] - td[r * M + m1])


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _strategy_of_logit(y, X, n_rows, M):
    """X = softmax of (y, 0) per row (the template's ``strategy_of_logit``)."""
    m1 = M - 1
    for r in range(n_rows):
        if M == 2:
            v = y[r]
            e = math.exp(-abs(v))
            inv = 1.0 / (1.0 + e)
            if v > 0.0:
                X[2 * r] = inv
                X[2 * r + 1] = e * inv
            else:
                X[2 * r] = e * inv
                X[2 * r + 1] = inv
        else:
            top = 0.0
            arg = m1
            for a in range(m1):
                if y[r * m1 + a] > top:
                    top = y[r * m1 + a]
                    arg = a
            tot = 0.0
            for a in range(M):
                if a == arg:
                    e = 1.0
                elif a == m1:
                    e = math.exp(-top)
                else:
                    e = math.exp(y[r * m1 + a] - top)
                X[r * M + a] = e
                tot += e
            inv = 1.0 / tot
            for a in range(M):
                X[r * M + a] *= inv


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _logit_of_strategy(X, y, n_rows, M):
    m1 = M - 1
    for r in range(n_rows):
        last = math.log(X[r * M + m1])
        for a in range(m1):
            y[r * m1 + a] = math.log(X[r * M + a]) - last


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _run(T, TR, N, Z, M, prefactor, sarsa, X0, y0, t0, alpha, beta, gamma, tmax, tol, direction, every,
         Xrec, X_out, y_out):
    """The template's ``trajectory`` (same recording, convergence rule and status codes) on the engine."""
    nx = N * Z * M
    nf = N * Z * (M - 1)
    y = y0.copy()
    X = X0.copy()
    y_next = np.empty(nf)
    X_next = np.empty(nx)
    td = np.empty(nx)
    work = np.empty(Z * Z + N * Z + N * Z * M * Z + N * Z * M + Z * Z + N * Z + N * Z * M)
    cap = Xrec.shape[0]
    check = tol > 0.0
    tol2 = tol * tol * (1.0 + 1e-12) if tol > 1e-150 else np.inf
    countdown = 0
    if every > 0:
        countdown = (every - t0 % every) % every
    t = t0
    stored = 0
    converged = False
    status = STATUS_OK
    while True:
        if every > 0:
            if countdown == 0:
                if stored == cap:
                    status = STATUS_FULL
                    break
                for k in range(nx):
                    Xrec[stored, k] = X[k]
                stored += 1
                countdown = every
            countdown -= 1
        t += 1
        _logit_step(X, y, T, TR, N, Z, M, alpha, beta, gamma, prefactor, sarsa, y_next, td, work)
        if direction != 1.0:
            for k in range(nf):
                y_next[k] = y[k] + direction * (y_next[k] - y[k])
        total = 0.0
        for k in range(nf):
            total += y_next[k]
        if not math.isfinite(total):
            status = STATUS_NONFINITE
            break
        _strategy_of_logit(y_next, X_next, N * Z, M)
        if check:
            d = 0.0
            for k in range(nx):
                d += (X_next[k] - X[k]) ** 2
            if d < tol2 and math.sqrt(d) < tol:
                converged = True
                break
        if t >= tmax:
            break
        y, y_next = y_next, y
        X, X_next = X_next, X
    for k in range(nx):
        X_out[k] = X[k]
    for k in range(nf):
        y_out[k] = y[k]
    return t, converged, status, stored


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _stationary(X, T, TR, N, Z, M, out, work):
    """Stationary distribution Ps of Tss (section 6); False if not unique."""
    Tss = work[:Z * Z]
    Ris = work[Z * Z:Z * Z + N * Z]
    o = Z * Z + N * Z
    Tisas = work[o:o + N * Z * M * Z]
    o += N * Z * M * Z
    Risa = work[o:o + N * Z * M]
    o += N * Z * M
    A = work[o:o + Z * Z]
    _averages(X, T, TR, N, Z, M, Tss, Ris, Tisas, Risa)
    for r in range(Z):
        for c in range(Z):
            A[r * Z + c] = Tss[c * Z + r] - (1.0 if r == c else 0.0)
    for c in range(Z):
        A[(Z - 1) * Z + c] = 1.0
    for s in range(Z):
        out[s] = 0.0
    out[Z - 1] = 1.0
    return _solve(A, out, Z, 1)


def warm_up() -> float:
    """Load (or, once per installation, compile) every engine kernel; returns the seconds spent."""
    start = time.perf_counter()
    N, Z, M = 1, 1, 2
    T, TR = np.ones(Z * M * Z), np.zeros(N * Z * M)
    X, y = np.full(N * Z * M, 0.5), np.zeros(N * Z * (M - 1))
    one = np.full(N, 0.5)
    work = np.empty(work_size(N, Z, M))
    out, y_out = np.empty(N * Z * M), np.empty(N * Z * (M - 1))
    _strategy_step(X, T, TR, N, Z, M, one, one, one, True, True, 1.0, out, work)
    _logit_step(X, y, T, TR, N, Z, M, one, one, one, True, True, y_out, out, work)
    _strategy_of_logit(y, out, N * Z, M)
    _logit_of_strategy(X, y_out, N * Z, M)
    _run(T, TR, N, Z, M, True, True, X, y, 0, one, one, one, 2, 0.0, 1.0, 1, np.empty((2, N * Z * M)),
         np.empty(N * Z * M), np.empty(N * Z * (M - 1)))
    V, Qv = np.empty(N * Z), np.empty(N * Z * M)
    _values(X, T, TR, N, Z, M, one, True, V, Qv, work)
    _stationary(X, T, TR, N, Z, M, np.empty(Z), work)
    _all_finite(X)
    _strategy_ok(X, N * Z, M, True, 1e-9)
    _logit_from_logs(np.log(X), y_out, N * Z, M)
    _check_T(T, Z, 1e-9, 1e-9)
    return time.perf_counter() - start


# ------------------------------------------------------------------ the switching module
#: kernels of a generated module the engine can serve (the rest are the module's own)
SERVED = ("averages", "values", "tderror", "logit_step", "strategy_step", "logit_of_strategy",
          "strategy_of_logit", "trajectory", "stationary",
          # the checked kernels crldgen.runtime.dynamics calls on every user call (and when it is created):
          # served too, or a new game's first call would wait for numba to compile them from the module
          "all_finite", "strategy_ok", "logit_from_logs", "checked_strategy_step", "checked_tderror",
          "checked_logit_step", "check_game", "check_game_rows")

#: codes of check_game (the generated modules' GT_*): fully observed games have no O to check
GT_OK, GT_T_ENTRY, GT_T_ROW = 0, 1, 2
#: statuses of the checked kernels (the generated modules' CHECK_*)
CHECK_OK, CHECK_BAD_INPUT, CHECK_NONFINITE = 0, 1, 2


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _all_finite(a):
    for k in range(a.shape[0]):
        if not math.isfinite(a[k]):
            return False
    return True


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _strategy_ok(X, n_rows, M, interior, atol):
    """The generated ``strategy_ok``: finite, in [0, 1 + atol] (> 0 with ``interior``), rows sum to 1."""
    for r in range(n_rows):
        tot = 0.0
        for a in range(M):
            x = X[r * M + a]
            if not (x >= 0.0 and x <= 1.0 + atol):
                return False
            if interior and x == 0.0:
                return False
            tot += x
        if abs(tot - 1.0) > atol:
            return False
    return True


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _logit_from_logs(logs, y, n_rows, M):
    m1 = M - 1
    for r in range(n_rows):
        last = logs[r * M + m1]
        for a in range(m1):
            y[r * m1 + a] = logs[r * M + a] - last


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _check_T(T, Z, entry_atol, row_atol):
    """The generated ``check_game`` for a fully observed game: ``(code, flat index, value)``."""
    lo, hi = -entry_atol, 1.0 + entry_atol
    for k in range(T.shape[0]):
        x = T[k]
        if not (x >= lo and x <= hi):
            return GT_T_ENTRY, k, x
    for r in range(T.shape[0] // Z):
        tot = 0.0
        for c in range(Z):
            tot += T[r * Z + c]
        if abs(tot - 1.0) > row_atol:
            return GT_T_ROW, r, tot
    return GT_OK, 0, 0.0


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(f"crldgen: {text}", file=sys.stderr, flush=True)


class EngineModule(ModuleType):
    """A generated module whose first calls the engine serves while numba compiles its kernels.

    Every attribute is the generated module's (constants, ``KEY``, ``jacobian``,
    ``logit_step_lanes``, ...), except the kernels in :data:`SERVED`: until a background
    thread has compiled them (:meth:`wait_compiled`), calls go to the engine with the
    numeric tensors of the game at the call's parameters ``theta``; then the module's
    own kernels replace them (same numbers up to rounding, faster loops).
    """

    def __init__(self, module: ModuleType, tensors: Callable[[tuple], tuple[np.ndarray, np.ndarray]],
                 *, quiet: bool = False, label: str = "") -> None:
        super().__init__(module.__name__, module.__doc__)
        self.__dict__.update({k: v for k, v in module.__dict__.items() if k not in SERVED})
        self._module = module
        self._tensors_of = tensors
        self._tensor_cache: dict = {}
        self._lock = threading.Lock()
        self._quiet = quiet
        self._label = label or module.__name__
        self._done = threading.Event()
        self._callbacks: list = []
        self._error: BaseException | None = None
        N, Z, M = module.N_AGENTS, module.N_STATES, module.N_ACTIONS
        self._dims = (N, Z, M)
        self._sarsa = module.LEARNER == "sarsa"
        self._prefactor = bool(module.PREFACTOR)
        self._work = np.empty(work_size(N, Z, M))
        for name in SERVED:
            self.__dict__[name] = getattr(self, "_engine_" + name)
        self._thread = threading.Thread(target=self._compile, name=f"crldgen-compile-{self._label}", daemon=False)
        self._started = time.perf_counter()
        self._thread.start()

    # ------------------------------------------------------------ switching
    @property
    def compiled(self) -> bool:
        """Whether the module's own kernels serve the calls now."""
        return self._done.is_set() and self._error is None

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until the background compile is over; True when the module's kernels took over."""
        self._done.wait(timeout)
        return self.compiled

    def when_compiled(self, callback: Callable[[ModuleType], None]) -> None:
        """Call ``callback(module)`` once the module's own kernels serve the calls (now, if they do).

        For code that keeps references to kernels (``f = module.strategy_step``): re-bind them here.
        """
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        if self._error is None:
            callback(self._module)

    def _compile(self) -> None:
        from .warm import compile_module

        swapped = []

        def swap() -> None:  # the module's served kernels are compiled: they serve from now on
            for name in SERVED:
                self.__dict__[name] = getattr(self._module, name)
            swapped.append(time.perf_counter() - self._started)

        try:
            times = compile_module(self._module, SERVED, swap,
                                   lambda text: _say(self._quiet, f"{self._label}: {text}"))
        except BaseException as exc:  # reported once; the engine keeps serving what it serves
            self._error = exc
            _say(self._quiet, f"background compile of {self._label} failed ({type(exc).__name__}: {exc}); "
                              "the generic engine keeps serving its calls")
        else:
            #: seconds from the start of the background compile: served kernels, every kernel; helper used
            self.compile_times = {"served_s": swapped[0], "all_s": times["all_s"], "helper": times["helper"]}
            if not self._quiet and time.perf_counter() - self._started > 2.0:
                _say(False, f"{self._label} compiled in {time.perf_counter() - self._started:.1f} s "
                            "(its own kernels serve the calls now)")
        finally:
            with self._lock:
                self._done.set()
                callbacks, self._callbacks = self._callbacks, []
        if self._error is None:
            for callback in callbacks:
                callback(self._module)

    def _tensors(self, theta) -> tuple[np.ndarray, np.ndarray]:
        key = np.asarray(theta, dtype=float).tobytes()
        with self._lock:
            hit = self._tensor_cache.get(key)
            if hit is None:
                hit = self._tensors_of(tuple(np.asarray(theta, dtype=float).tolist()))
                if len(self._tensor_cache) > 64:
                    self._tensor_cache.clear()
                self._tensor_cache[key] = hit
        return hit

    # ------------------------------------------------------------ served kernels (module signatures)
    def _engine_averages(self, X, theta, Tss, Ris, Tisas, Risa):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        _averages(X, T, TR, N, Z, M, Tss, Ris, Tisas, Risa)

    def _engine_values(self, X, theta, alpha, beta, gamma, V, Qv):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        _values(X, T, TR, N, Z, M, gamma, self._prefactor, V, Qv, np.empty(self._work.size))

    def _engine_tderror(self, X, theta, alpha, beta, gamma, out):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        _tderror(X, T, TR, N, Z, M, beta, gamma, self._prefactor, self._sarsa, out, np.empty(self._work.size))

    def _engine_strategy_step(self, X, theta, alpha, beta, gamma, direction, out):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        _strategy_step(X, T, TR, N, Z, M, alpha, beta, gamma, self._prefactor, self._sarsa, float(direction), out,
                       np.empty(self._work.size))

    def _engine_logit_step(self, X, y, theta, alpha, beta, gamma, y_out):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        _logit_step(X, y, T, TR, N, Z, M, alpha, beta, gamma, self._prefactor, self._sarsa, y_out,
                    np.empty(N * Z * M), np.empty(self._work.size))

    def _engine_logit_of_strategy(self, X, y):
        N, Z, M = self._dims
        _logit_of_strategy(X, y, N * Z, M)

    def _engine_strategy_of_logit(self, y, X):
        N, Z, M = self._dims
        _strategy_of_logit(y, X, N * Z, M)

    def _engine_trajectory(self, X0, y0, t0, theta, alpha, beta, gamma, tmax, tol, direction, every, Xrec, X_out,
                           y_out):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        return _run(T, TR, N, Z, M, self._prefactor, self._sarsa, X0, y0, int(t0), alpha, beta, gamma, int(tmax),
                    float(tol), float(direction), int(every), Xrec, X_out, y_out)

    # the checked kernels: same checks and status codes as the generated ones (codegen/template.py)
    def _engine_all_finite(self, a):
        return _all_finite(a)

    def _engine_strategy_ok(self, X, interior, atol):
        N, Z, M = self._dims
        return _strategy_ok(X, N * Z, M, interior, atol)

    def _engine_logit_from_logs(self, logs, y):
        N, Z, M = self._dims
        _logit_from_logs(logs, y, N * Z, M)

    def _engine_checked_strategy_step(self, X, theta, alpha, beta, gamma, direction, atol, out):
        if not self._engine_strategy_ok(X, True, atol):
            return CHECK_BAD_INPUT
        td = np.empty(X.shape[0])
        self._engine_tderror(X, theta, alpha, beta, gamma, td)
        if not _all_finite(td):
            return CHECK_NONFINITE
        new = np.empty(X.shape[0])  # out may be X (in-place update)
        self._engine_strategy_step(X, theta, alpha, beta, gamma, direction, new)
        out[:] = new
        return CHECK_OK if _all_finite(out) else CHECK_NONFINITE

    def _engine_checked_tderror(self, X, theta, alpha, beta, gamma, interior, atol, out):
        if not self._engine_strategy_ok(X, interior, atol):
            return CHECK_BAD_INPUT
        self._engine_tderror(X, theta, alpha, beta, gamma, out)
        return CHECK_OK if _all_finite(out) else CHECK_NONFINITE

    def _engine_checked_logit_step(self, y, theta, alpha, beta, gamma, out):
        if not _all_finite(y):
            return CHECK_BAD_INPUT
        N, Z, M = self._dims
        X = np.empty(N * Z * M)
        self._engine_strategy_of_logit(y, X)
        self._engine_logit_step(X, y, theta, alpha, beta, gamma, out)
        return CHECK_OK if _all_finite(out) else CHECK_NONFINITE

    def _engine_check_game(self, theta, entry_atol, row_atol):
        T, _ = self._tensors(theta)
        return _check_T(T, self._dims[1], entry_atol, row_atol)

    def _engine_check_game_rows(self, Theta, entry_atol, row_atol, codes, index, value):
        for b in range(Theta.shape[0]):
            codes[b], index[b], value[b] = self._engine_check_game(Theta[b], entry_atol, row_atol)
        bad = np.flatnonzero(codes[:Theta.shape[0]] != GT_OK)
        return int(bad[0]) if bad.size else -1

    def _engine_stationary(self, X, theta, out):
        T, TR = self._tensors(theta)
        N, Z, M = self._dims
        return _stationary(X, T, TR, N, Z, M, out, np.empty(self._work.size))


def numeric_tensors(game, param_names) -> Callable[[tuple], tuple[np.ndarray, np.ndarray]]:
    """``theta -> (T, TR)`` flat engine tensors of ``game`` (its parameters in ``param_names`` order)."""

    def tensors(theta: tuple) -> tuple[np.ndarray, np.ndarray]:
        num = game.numeric(**dict(zip(param_names, theta)))
        T, R = num["T"], num["R"]
        N, Z = game.n_agents, game.n_states
        T2 = np.ascontiguousarray(T.reshape(Z, -1, Z))
        TR = np.einsum("sbt,isbt->isb", T2, R.reshape(N, Z, -1, Z))
        return T2.ravel(), np.ascontiguousarray(TR).ravel()

    return tensors


def engine_enabled() -> bool:
    """Whether :func:`crldgen.compile` may serve new games from the engine (``CRLDGEN_ENGINE=0`` turns it off)."""
    return os.environ.get("CRLDGEN_ENGINE", "1") != "0"


# _solve has no Python entry point (no_cpython_wrapper: only kernels call it, here and in crldgen.value);
# a Python call raises a TypeError instead of crashing (crldgen.runtime.inner)
inner.guard(sys.modules[__name__])
