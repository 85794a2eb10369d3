"""Game-independent numba kernels of the value-space dynamics (crld-math.md section 10).

Design choice: these kernels are **not** generated per game. They work on dense numeric
tensors evaluated at the run-time parameters and are compiled once per installation
(``cache=True``). Why: the value-space maps are short loops over joint actions for the
small games CRLD is used on, so one set of kernels serves every game, every learner
(value SARSA, expected SARSA, Q-learning) and both policies (softmax, epsilon-greedy)
without a sympy derivation or a numba compilation per game; the non-smooth pieces
(argmax with ties, max) are plain branches. Changing a game parameter re-evaluates the
tensors (once per parameter set, cached by :class:`~crldgen.value.ValueDynamics`), never
recompiles. Every array is flat (1-d, C order), which compiles several times faster in
numba than n-d indexing. Entry points (each compiled on first use): ``policy``,
``tderror``, ``averages``, ``jacobian``, ``trajectories`` (one run or many, parallel over
members) and ``sequential_sweep``; a step is ``Qe + alpha delta`` from ``tderror``.

Cost: about 1.2-2 µs of CPU per step for two or three agents, two states and two actions
(``benchmarks/bench_value.py`` on a loaded 2-core machine; the generated strategy-space
module of the same game took 0.13 µs in the same run). About half of it comes from the
run-time loop bounds (nothing is unrolled); specializing the kernels per game *shape*
(``numba.literally`` on N, Z, M) would remove that at one compilation per shape.

Layouts (flat, C order of the index lists):

* ``T3[s, j, s']`` transitions, ``j`` the joint action in C order of ``(a0, ..., a{N-1})``;
  ``acts[j, k]`` is agent k's action in joint action ``j``;
* ``TR[i, s, j] = sum_s' T[s, j, s'] R[i, s, j, s']`` expected rewards;
* ``O[i, s, o]`` observation probabilities (ignored when ``fo``, fully observed);
* estimates ``Qe[i, o, a]``, strategies ``X[i, o, a]``, TD errors ``delta[i, o, a]``.

Learner codes: ``VALUE_SARSA`` (next value: strategy-average ``Vx``, pyCRLD's
``valSARSA``), ``EXPECTED_SARSA`` (``sum_b X Qe``), ``Q_LEARNING`` (``max_b Qe``),
``STRATEGY_Q_LEARNING`` (``max_b Qx``, the greedy value of the strategy-average action
values: Q-learning's max with the estimates replaced by strategy averages). Policy
codes: ``SOFTMAX`` (``X ∝ exp(beta Qe)``), ``EPSILON_GREEDY`` (``1 - eps`` shared by the
exact maximisers, ``eps / M`` on every action).
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

from ..runtime import inner
from ..runtime.engine import _solve  # the pivoting linear solve (one copy for both engines)
from numba import prange

VALUE_SARSA, EXPECTED_SARSA, Q_LEARNING, STRATEGY_Q_LEARNING = 0, 1, 2, 3
SOFTMAX, EPSILON_GREEDY = 0, 1
STATUS_OK, STATUS_NONFINITE, STATUS_FULL, STATUS_NOT_RUN = 0, 1, 2, 3
#: an observation made with long-run probability at most this counts as never made
#: (beliefs 0), as in the strategy-space code (crldgen.symbolic.partial.BELIEF_TOL)
BELIEF_TOL = 1e-12
#: indices of the work arrays returned by :func:`work`
(W_X, W_Y, W_TSS, W_RIS, W_TISAS, W_RISA, W_PS, W_RIOA, W_TIOAO, W_NV, W_A, W_B, W_DX, W_DY, W_DTSS,
 W_DTISAS, W_DRISA, W_DPS, W_DRIOA, W_DTIOAO, W_DNV, W_DB, W_V) = range(23)


# ------------------------------------------------------------------ policies
@numba.njit(cache=True, no_cfunc_wrapper=True)
def policy(Qe, beta, eps, kind, M, X):
    """Strategy ``X = pi(Qe)``: softmax with ``beta[i]`` or epsilon-greedy with ``eps[i]``."""
    n_rows = Qe.size // M
    n_obs = n_rows // beta.size
    for r in range(n_rows):
        i = r // n_obs
        base = r * M
        mx = Qe[base]
        for a in range(1, M):
            mx = max(mx, Qe[base + a])
        if kind == SOFTMAX:
            tot = 0.0
            for a in range(M):
                X[base + a] = math.exp(beta[i] * (Qe[base + a] - mx))
                tot += X[base + a]
            for a in range(M):
                X[base + a] /= tot
        else:
            count = 0
            for a in range(M):
                if Qe[base + a] == mx:
                    count += 1
            for a in range(M):
                greedy = (1.0 - eps[i]) / count if Qe[base + a] == mx else 0.0
                X[base + a] = greedy + eps[i] / M


# ------------------------------------------------------------------ strategy averages
@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _state_strategy(X, O, fo, N, Z, Qo, M, Y):
    """``Y[i, s, a] = sum_o O[i, s, o] X[i, o, a]`` (``Y = X`` when fully observed)."""
    if fo:
        for q in range(N * Z * M):
            Y[q] = X[q]
        return
    for i in range(N):
        for s in range(Z):
            for a in range(M):
                acc = 0.0
                for o in range(Qo):
                    acc += O[(i * Z + s) * Qo + o] * X[(i * Qo + o) * M + a]
                Y[(i * Z + s) * M + a] = acc


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _state_averages(Y, T3, TR, acts, N, Z, M, J, Tss, Ris, Tisas, Risa):
    """Section 2 at the state strategy ``Y``: Tss, Ris, Tisas, Risa."""
    for q in range(Z * Z):
        Tss[q] = 0.0
    for q in range(N * Z):
        Ris[q] = 0.0
    for q in range(N * Z * M * Z):
        Tisas[q] = 0.0
    for q in range(N * Z * M):
        Risa[q] = 0.0
    for s in range(Z):
        for j in range(J):
            P = 1.0
            for k in range(N):
                P *= Y[(k * Z + s) * M + acts[j * N + k]]
            tb = (s * J + j) * Z
            for sp in range(Z):
                Tss[s * Z + sp] += P * T3[tb + sp]
            for i in range(N):
                r = TR[(i * Z + s) * J + j]
                Ris[i * Z + s] += P * r
                Pm = 1.0
                for k in range(N):
                    if k != i:
                        Pm *= Y[(k * Z + s) * M + acts[j * N + k]]
                isa = (i * Z + s) * M + acts[j * N + i]
                Risa[isa] += Pm * r
                for sp in range(Z):
                    Tisas[isa * Z + sp] += Pm * T3[tb + sp]


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _state_tangent(Y, dY, T3, TR, acts, N, Z, M, J, dTss, dTisas, dRisa):
    """Derivatives of Tss, Tisas, Risa along ``dY`` (they are multilinear in Y)."""
    for q in range(Z * Z):
        dTss[q] = 0.0
    for q in range(N * Z * M * Z):
        dTisas[q] = 0.0
    for q in range(N * Z * M):
        dRisa[q] = 0.0
    for s in range(Z):
        for j in range(J):
            tb = (s * J + j) * Z
            dP = 0.0
            for k in range(N):
                term = dY[(k * Z + s) * M + acts[j * N + k]]
                for l in range(N):
                    if l != k:
                        term *= Y[(l * Z + s) * M + acts[j * N + l]]
                dP += term
            for sp in range(Z):
                dTss[s * Z + sp] += dP * T3[tb + sp]
            for i in range(N):
                dPm = 0.0
                for k in range(N):
                    if k == i:
                        continue
                    term = dY[(k * Z + s) * M + acts[j * N + k]]
                    for l in range(N):
                        if l != i and l != k:
                            term *= Y[(l * Z + s) * M + acts[j * N + l]]
                    dPm += term
                isa = (i * Z + s) * M + acts[j * N + i]
                dRisa[isa] += dPm * TR[(i * Z + s) * J + j]
                for sp in range(Z):
                    dTisas[isa * Z + sp] += dPm * T3[tb + sp]


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _stationary_matrix(Tss, Z, A):
    """``(Tss^T - Id)`` with the last row replaced by ones (flat Z x Z)."""
    for r in range(Z):
        for c in range(Z):
            A[r * Z + c] = 1.0 if r == Z - 1 else Tss[c * Z + r] - (1.0 if r == c else 0.0)


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _observation_averages(O, Ps, Tisas, Risa, N, Z, Qo, M, Rioa, Tioao, Bel):
    """Section 7.2-7.3: beliefs ``Bel`` per (i, o), then Rioa and Tioao."""
    for i in range(N):
        for o in range(Qo):
            D = 0.0
            for s in range(Z):
                D += O[(i * Z + s) * Qo + o] * Ps[s]
            for s in range(Z):
                Bel[s] = O[(i * Z + s) * Qo + o] * Ps[s] / D if D > BELIEF_TOL else 0.0
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc = 0.0
                for s in range(Z):
                    acc += Bel[s] * Risa[(i * Z + s) * M + a]
                Rioa[ioa] = acc
                for op in range(Qo):
                    t = 0.0
                    for s in range(Z):
                        if Bel[s] == 0.0:
                            continue
                        isa = (i * Z + s) * M + a
                        to = 0.0
                        for sp in range(Z):
                            to += Tisas[isa * Z + sp] * O[(i * Z + sp) * Qo + op]
                        t += Bel[s] * to
                    Tioao[ioa * Qo + op] = t


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _observation_tangent(O, Ps, dPs, Tisas, Risa, dTisas, dRisa, N, Z, Qo, M, dRioa, dTioao, Bel, dBel):
    """Derivatives of Rioa, Tioao along (dPs, dTisas, dRisa)."""
    for i in range(N):
        for o in range(Qo):
            D = 0.0
            dD = 0.0
            for s in range(Z):
                D += O[(i * Z + s) * Qo + o] * Ps[s]
                dD += O[(i * Z + s) * Qo + o] * dPs[s]
            for s in range(Z):
                if D > BELIEF_TOL:
                    w = O[(i * Z + s) * Qo + o]
                    Bel[s] = w * Ps[s] / D
                    dBel[s] = w * (dPs[s] / D - Ps[s] * dD / (D * D))
                else:
                    Bel[s] = 0.0
                    dBel[s] = 0.0
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc = 0.0
                for s in range(Z):
                    isa = (i * Z + s) * M + a
                    acc += dBel[s] * Risa[isa] + Bel[s] * dRisa[isa]
                dRioa[ioa] = acc
                for op in range(Qo):
                    t = 0.0
                    for s in range(Z):
                        isa = (i * Z + s) * M + a
                        to = 0.0
                        dto = 0.0
                        for sp in range(Z):
                            w = O[(i * Z + sp) * Qo + op]
                            to += Tisas[isa * Z + sp] * w
                            dto += dTisas[isa * Z + sp] * w
                        t += dBel[s] * to + Bel[s] * dto
                    dTioao[ioa * Qo + op] = t


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _value_matrix(X, Tioao, g, i, Qo, M, A):
    """``Id - gamma_i Tx[i]`` with ``Tx[i, o, o'] = sum_a X[i,o,a] Tx[i,o,a,o']`` (flat Qo x Qo)."""
    for o in range(Qo):
        for op in range(Qo):
            t = 0.0
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                t += X[ioa] * Tioao[ioa * Qo + op]
            A[o * Qo + op] = (1.0 if o == op else 0.0) - g * t


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _values(X, Rioa, Tioao, gamma, prefactor, N, Qo, M, V, A, rhs):
    """Strategy-average values ``V[i, o] = p_i (Id - gamma_i Tx[i])^-1 Rx[i]`` (sections 2.5, 7.5)."""
    ok = True
    for i in range(N):
        pre = 1.0 - gamma[i] if prefactor else 1.0
        _value_matrix(X, Tioao, gamma[i], i, Qo, M, A)
        for o in range(Qo):
            acc = 0.0
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc += X[ioa] * Rioa[ioa]
            rhs[o] = pre * acc
        ok = _solve(A, rhs, Qo, 1) and ok
        for o in range(Qo):
            V[i * Qo + o] = rhs[o]
    return ok


@numba.njit(cache=True, no_cfunc_wrapper=True)
def work(N, Z, Qo, M):
    """Work arrays of one evaluation (index constants ``W_*``), allocated once per loop."""
    n = max(Z, Qo)
    return (np.empty(N * Qo * M), np.empty(N * Z * M), np.empty(Z * Z), np.empty(N * Z), np.empty(N * Z * M * Z),
            np.empty(N * Z * M), np.empty(Z), np.empty(N * Qo * M), np.empty(N * Qo * M * Qo), np.empty(N * Qo),
            np.empty(n * n), np.empty(n), np.empty(N * Qo * M), np.empty(N * Z * M), np.empty(Z * Z),
            np.empty(N * Z * M * Z), np.empty(N * Z * M), np.empty(Z), np.empty(N * Qo * M),
            np.empty(N * Qo * M * Qo), np.empty(N * Qo), np.empty(n), np.empty(N * Qo))


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _evaluate(Qe, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, w, delta):
    """TD error ``delta`` of section 10 at the estimates ``Qe``; fills the work arrays.

    Returns False when a linear solve was singular (``delta`` is then NaN).
    """
    N = beta.size
    Qo = Qe.size // (N * M)
    J = acts.size // N
    X, Y, Tss, Ris, Tisas, Risa = w[W_X], w[W_Y], w[W_TSS], w[W_RIS], w[W_TISAS], w[W_RISA]
    Ps, NV, A, Bel, V = w[W_PS], w[W_NV], w[W_A], w[W_B], w[W_V]
    policy(Qe, beta, eps, kind, M, X)
    _state_strategy(X, O, fo, N, Z, Qo, M, Y)
    _state_averages(Y, T3, TR, acts, N, Z, M, J, Tss, Ris, Tisas, Risa)
    ok = True
    if fo:
        Rioa, Tioao = Risa, Tisas
    else:
        Rioa, Tioao = w[W_RIOA], w[W_TIOAO]
        _stationary_matrix(Tss, Z, A)
        for s in range(Z):
            Ps[s] = 1.0 if s == Z - 1 else 0.0
        ok = _solve(A, Ps, Z, 1)
        _observation_averages(O, Ps, Tisas, Risa, N, Z, Qo, M, Rioa, Tioao, Bel)
    if learner == VALUE_SARSA:
        ok = _values(X, Rioa, Tioao, gamma, prefactor, N, Qo, M, V, A, Bel) and ok
        for q in range(N * Qo):
            NV[q] = V[q]
    elif learner == STRATEGY_Q_LEARNING:
        ok = _values(X, Rioa, Tioao, gamma, prefactor, N, Qo, M, V, A, Bel) and ok
        for i in range(N):
            pre = 1.0 - gamma[i] if prefactor else 1.0
            for o in range(Qo):
                best = -np.inf
                for a in range(M):
                    ioa = (i * Qo + o) * M + a
                    acc = 0.0
                    for op in range(Qo):
                        acc += Tioao[ioa * Qo + op] * V[i * Qo + op]
                    best = max(best, pre * Rioa[ioa] + gamma[i] * acc)
                NV[i * Qo + o] = best
    else:
        for r in range(N * Qo):
            if learner == EXPECTED_SARSA:
                acc = 0.0
                for a in range(M):
                    acc += X[r * M + a] * Qe[r * M + a]
            else:
                acc = Qe[r * M]
                for a in range(1, M):
                    acc = max(acc, Qe[r * M + a])
            NV[r] = acc
    for i in range(N):
        pre = 1.0 - gamma[i] if prefactor else 1.0
        for o in range(Qo):
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc = 0.0
                for op in range(Qo):
                    acc += Tioao[ioa * Qo + op] * NV[i * Qo + op]
                delta[ioa] = pre * Rioa[ioa] + gamma[i] * acc - Qe[ioa]
    if not ok:
        for q in range(delta.size):
            delta[q] = np.nan
    return ok


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _tangent(Qe, dQ, T3, TR, O, acts, fo, learner, kind, beta, gamma, prefactor, Z, M, w, ddelta):
    """Derivative of ``delta`` along ``dQ``; needs the work arrays filled by :func:`_evaluate` at Qe.

    At ties of max / argmax it is the derivative of the branch that takes the first
    maximiser (epsilon-greedy policies have zero derivative away from ties).
    """
    N = beta.size
    Qo = Qe.size // (N * M)
    J = acts.size // N
    X, Y, Tss, Tisas, Risa = w[W_X], w[W_Y], w[W_TSS], w[W_TISAS], w[W_RISA]
    Ps, NV, A, Bel, V = w[W_PS], w[W_NV], w[W_A], w[W_B], w[W_V]
    dX, dY, dTss, dTisas, dRisa = w[W_DX], w[W_DY], w[W_DTSS], w[W_DTISAS], w[W_DRISA]
    dPs, dNV, dBel = w[W_DPS], w[W_DNV], w[W_DB]
    for r in range(N * Qo):
        i = r // Qo
        mean = 0.0
        for a in range(M):
            mean += X[r * M + a] * dQ[r * M + a]
        for a in range(M):
            dX[r * M + a] = beta[i] * X[r * M + a] * (dQ[r * M + a] - mean) if kind == SOFTMAX else 0.0
    _state_strategy(dX, O, fo, N, Z, Qo, M, dY)
    _state_tangent(Y, dY, T3, TR, acts, N, Z, M, J, dTss, dTisas, dRisa)
    ok = True
    if fo:
        Rioa, Tioao, dRioa, dTioao = Risa, Tisas, dRisa, dTisas
    else:
        Rioa, Tioao, dRioa, dTioao = w[W_RIOA], w[W_TIOAO], w[W_DRIOA], w[W_DTIOAO]
        # d Ps = -A^-1 (dA Ps), A = stationary matrix (its last row is constant)
        _stationary_matrix(Tss, Z, A)
        for r in range(Z):
            acc = 0.0
            if r < Z - 1:
                for c in range(Z):
                    acc += dTss[c * Z + r] * Ps[c]
            dPs[r] = -acc
        ok = _solve(A, dPs, Z, 1)
        _observation_tangent(O, Ps, dPs, Tisas, Risa, dTisas, dRisa, N, Z, Qo, M, dRioa, dTioao, Bel, dBel)
    if learner == VALUE_SARSA or learner == STRATEGY_Q_LEARNING:
        # dV = (Id - gamma Tx)^-1 (p dRx + gamma dTx V)
        for i in range(N):
            pre = 1.0 - gamma[i] if prefactor else 1.0
            _value_matrix(X, Tioao, gamma[i], i, Qo, M, A)
            for o in range(Qo):
                acc = 0.0
                for a in range(M):
                    ioa = (i * Qo + o) * M + a
                    acc += pre * (dX[ioa] * Rioa[ioa] + X[ioa] * dRioa[ioa])
                    for op in range(Qo):
                        acc += gamma[i] * (dX[ioa] * Tioao[ioa * Qo + op]
                                           + X[ioa] * dTioao[ioa * Qo + op]) * V[i * Qo + op]
                dBel[o] = acc
            ok = _solve(A, dBel, Qo, 1) and ok
            for o in range(Qo):
                if learner == VALUE_SARSA:
                    dNV[i * Qo + o] = dBel[o]
                    continue
                # d max_b Qx = dQx at the first maximiser, dQx = p dRx + gamma (dTx V + Tx dV)
                best, best_a = -np.inf, 0
                for a in range(M):
                    ioa = (i * Qo + o) * M + a
                    acc = 0.0
                    for op in range(Qo):
                        acc += Tioao[ioa * Qo + op] * V[i * Qo + op]
                    qx = pre * Rioa[ioa] + gamma[i] * acc
                    if qx > best:
                        best, best_a = qx, a
                ioa = (i * Qo + o) * M + best_a
                acc = 0.0
                for op in range(Qo):
                    acc += dTioao[ioa * Qo + op] * V[i * Qo + op] + Tioao[ioa * Qo + op] * dBel[op]
                dNV[i * Qo + o] = pre * dRioa[ioa] + gamma[i] * acc
    else:
        for r in range(N * Qo):
            if learner == EXPECTED_SARSA:
                acc = 0.0
                for a in range(M):
                    acc += dX[r * M + a] * Qe[r * M + a] + X[r * M + a] * dQ[r * M + a]
                dNV[r] = acc
            else:
                best = 0
                for a in range(1, M):
                    if Qe[r * M + a] > Qe[r * M + best]:
                        best = a
                dNV[r] = dQ[r * M + best]
    for i in range(N):
        pre = 1.0 - gamma[i] if prefactor else 1.0
        for o in range(Qo):
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc = 0.0
                for op in range(Qo):
                    acc += dTioao[ioa * Qo + op] * NV[i * Qo + op] + Tioao[ioa * Qo + op] * dNV[i * Qo + op]
                ddelta[ioa] = pre * dRioa[ioa] + gamma[i] * acc - dQ[ioa]
    return ok


# ------------------------------------------------------------------ public kernels
@numba.njit(cache=True, no_cfunc_wrapper=True)
def tderror(Qe, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, delta, X, NV):
    """TD error at ``Qe`` into ``delta``, the strategy into ``X`` and the next values into ``NV``.

    ``NV[i, o]`` is ``Vx`` (value SARSA), ``sum_b X Qe`` or ``max_b Qe``. Returns False
    when a linear solve was singular.
    """
    N = beta.size
    w = work(N, Z, Qe.size // (N * M), M)
    ok = _evaluate(Qe, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, w, delta)
    X[:] = w[W_X]
    NV[:] = w[W_NV]
    return ok


@numba.njit(cache=True, no_cfunc_wrapper=True)
def averages(X, T3, TR, O, acts, fo, gamma, prefactor, Z, M, Tss, Ris, Tisas, Risa, V, Qx):
    """Strategy averages (sections 2, 7) and the values ``Vx``, ``Qx`` at a strategy ``X``."""
    N = gamma.size
    Qo = X.size // (N * M)
    J = acts.size // N
    w = work(N, Z, Qo, M)
    Y, A, Bel, Ps = w[W_Y], w[W_A], w[W_B], w[W_PS]
    _state_strategy(X, O, fo, N, Z, Qo, M, Y)
    _state_averages(Y, T3, TR, acts, N, Z, M, J, Tss, Ris, Tisas, Risa)
    ok = True
    if fo:
        Rioa, Tioao = Risa, Tisas
    else:
        Rioa, Tioao = w[W_RIOA], w[W_TIOAO]
        _stationary_matrix(Tss, Z, A)
        for s in range(Z):
            Ps[s] = 1.0 if s == Z - 1 else 0.0
        ok = _solve(A, Ps, Z, 1)
        _observation_averages(O, Ps, Tisas, Risa, N, Z, Qo, M, Rioa, Tioao, Bel)
    ok = _values(X, Rioa, Tioao, gamma, prefactor, N, Qo, M, V, A, Bel) and ok
    for i in range(N):
        pre = 1.0 - gamma[i] if prefactor else 1.0
        for o in range(Qo):
            for a in range(M):
                ioa = (i * Qo + o) * M + a
                acc = 0.0
                for op in range(Qo):
                    acc += Tioao[ioa * Qo + op] * V[i * Qo + op]
                Qx[ioa] = pre * Rioa[ioa] + gamma[i] * acc
    return ok


@numba.njit(cache=True, no_cfunc_wrapper=True)
def jacobian(Qe, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, Jd):
    """``Jd[k, l] = d delta_k / d Qe_l`` (flat n x n, n = Qe.size), by forward mode."""
    N = beta.size
    n = Qe.size
    w = work(N, Z, n // (N * M), M)
    delta = np.empty(n)
    ok = _evaluate(Qe, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, w, delta)
    dQ = np.zeros(n)
    dd = np.empty(n)
    for l in range(n):
        dQ[l] = 1.0
        ok = _tangent(Qe, dQ, T3, TR, O, acts, fo, learner, kind, beta, gamma, prefactor, Z, M, w, dd) and ok
        dQ[l] = 0.0
        for k in range(n):
            Jd[k * n + l] = dd[k]
    return ok


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _run(Q0, t0, T3, TR, O, acts, fo, learner, kind, alpha, beta, eps, gamma, prefactor, Z, M, tmax, tol,
         direction, every, rec, Q_out):
    """Iterate from ``Q0`` (recorded estimate number ``t0``); returns ``(t, converged, status, stored)``.

    The chapter's rule on the estimates: record ``Qe`` (every ``every``-th into the rows
    of ``rec``; ``every == 0``: none), compute ``Qe'``, stop when ``||Qe' - Qe||_2 < tol``
    (``Qe'`` not recorded; ``tol <= 0``: never) or once ``tmax`` estimates are recorded.
    STATUS_NONFINITE: the next estimates were not finite. STATUS_FULL: ``rec`` is full
    before recording number ``t``, which is in ``Q_out`` (resume with ``t0 = t``).
    """
    N = beta.size
    n = Q0.size
    n_row = n // N
    w = work(N, Z, n_row // M, M)
    Qc = Q0.copy()
    Qn = np.empty(n)
    cap = rec.shape[0]
    check = tol > 0.0
    tol2 = tol * tol * (1.0 + 1e-12) if tol > 1e-150 else np.inf
    t = t0
    stored = 0
    status = STATUS_OK
    converged = False
    while True:
        if every > 0 and t % every == 0:
            if stored == cap:
                status = STATUS_FULL
                break
            for q in range(n):
                rec[stored, q] = Qc[q]
            stored += 1
        t += 1
        _evaluate(Qc, T3, TR, O, acts, fo, learner, kind, beta, eps, gamma, prefactor, Z, M, w, Qn)
        d2 = 0.0
        for q in range(n):
            step_q = direction * alpha[q // n_row] * Qn[q]
            Qn[q] = Qc[q] + step_q
            d2 += step_q * step_q
        if not math.isfinite(d2):
            status = STATUS_NONFINITE
            break
        if check and d2 < tol2 and math.sqrt(d2) < tol:
            converged = True
            break
        if t >= tmax:
            break
        Qc, Qn = Qn, Qc
    for q in range(n):
        Q_out[q] = Qc[q]
    return t, converged, status, stored


@numba.njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def trajectories(Q0s, T0, T3s, TRs, Os, acts, fo, learner, kind, Alpha, Beta, Eps, Gamma, prefactor, Z, M, tmax, tol,
                 direction, every, rec, Q_out, lengths, converged, status, stored):
    """A batch in parallel: member b uses row b of ``Q0s, T0, T3s, TRs, Os`` and of the parameters."""
    for b in prange(Q0s.shape[0]):
        ln, cv, st, k = _run(Q0s[b], T0[b], T3s[b], TRs[b], Os[b], acts, fo, learner, kind, Alpha[b], Beta[b], Eps[b],
                             Gamma[b], prefactor, Z, M, tmax, tol, direction, every, rec[b], Q_out[b])
        lengths[b] = ln
        converged[b] = cv
        status[b] = st
        stored[b] = k


@numba.njit(cache=True, no_cfunc_wrapper=True)
def sequential_sweep(Q0, T3s, TRs, Os, acts, fo, learner, kind, Alpha, Beta, Eps, Gamma, prefactor, Z, M, tmax, tol,
                     direction, Q_out, lengths, converged, status):
    """Runs one after another, each from the previous final estimates; stops at a divergence."""
    n_val = T3s.shape[0]
    rec = np.empty((0, Q0.size))
    Qc = Q0.copy()
    for v in range(n_val):
        status[v] = STATUS_NOT_RUN
    for v in range(n_val):
        ln, cv, st, _ = _run(Qc, 0, T3s[v], TRs[v], Os[v], acts, fo, learner, kind, Alpha[v], Beta[v], Eps[v], Gamma[v],
                             prefactor, Z, M, tmax, tol, direction, 0, rec, Q_out[v])
        lengths[v] = ln
        converged[v] = cv
        status[v] = st
        if st == STATUS_NONFINITE:
            break
        for q in range(Q0.size):
            Qc[q] = Q_out[v, q]


# the _-prefixed kernels have no Python entry point (no_cpython_wrapper: only the kernels above call
# them); a Python call raises a TypeError instead of crashing (crldgen.runtime.inner)
inner.guard(sys.modules[__name__])
