"""Kernel library of anonymous-game modules (appended verbatim to every generated module).

This file is source text for :mod:`crldgen.anonymous.codegen`; it is not meant to be
imported on its own. The generated part of a module defines ``N_STATES``, ``N_ACTIONS``
and the two game functions (crld-math.md section 11)::

    game_T(s, k, n, theta, out)      out[s'] = T(s, k, s')         (k: float counts, length M)
    game_R(s, a, k, n, theta, out)   out[s'] = R(s, a, k, s')

Array layouts (one agent type, symmetric strategy ``x[s, a]``, flat C order):
``x`` (Z*M), ``Tsa[(s*M + a)*Z + s']``, ``Rsa[s*M + a]``, ``Tpair[((s*M + a)*M + c)*Z + s']``,
``Rpair[(s*M + a)*M + c]`` (focal action a, one other agent's action c), logit
coordinates ``y[s*(M-1) + a] = ln(x[s,a] / x[s,M-1])``.

The counts of the ``m`` other agents are multinomial. Weights are computed relative to
the mode (binomial recurrences for M = 2, ``lgamma`` differences for M > 2), count
vectors whose relative weight is below ``WEIGHT_CUTOFF`` are skipped, and the sums are
divided by the sum of the weights used, so nothing under- or overflows at any n and
memory does not depend on n. Every T row met is checked (status codes below), so
parameter values or an n at which T is not a probability raise a clear error.

When the generated part sets ``USE_MOMENTS = True`` (T and T*R polynomial in the counts),
``averages`` and ``pair_averages`` call its closed-form ``moment_averages`` /
``moment_pair_averages`` instead (factorial moments of the multinomial; cost independent
of n); T is then checked once per (n, parameters) by ``check_game`` from the Python side.
"""

import math

import numba
import numpy as np

#: count vectors whose multinomial weight relative to the mode's is below this are skipped
WEIGHT_CUTOFF = 1e-18
LEARNER_SARSA = 0
LEARNER_ACTOR_CRITIC = 1
STATUS_OK = 0
STATUS_T_RANGE = 1
STATUS_T_SUM = 2
STATUS_R_NONFINITE = 3
STATUS_NONFINITE = 4
STATUS_FULL = 5
INFO_SIZE = 8


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _fail(code, s, a, t, kv, value, info, val):
    info[0] = code
    info[1] = s
    info[2] = a
    info[3] = t
    for b in range(min(N_ACTIONS, info.shape[0] - 4)):
        info[4 + b] = int(kv[b] + 0.5)
    val[0] = value
    return code


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _term(s, kk, w, pair, n, theta, TA, RA, kv, trow, rrow, info, val):
    """Add the weight-``w`` count vector ``kk`` of the others (focal action a, and c if pair)."""
    Z = N_STATES
    M = N_ACTIONS
    n_c = M if pair else 1
    for a in range(M):
        for c in range(n_c):
            for b in range(M):
                kv[b] = kk[b]
            kv[a] += 1.0
            if pair:
                kv[c] += 1.0
            game_T(s, kv, n, theta, trow)
            game_R(s, a, kv, n, theta, rrow)
            tot = 0.0
            tr = 0.0
            for t in range(Z):
                v = trow[t]
                if not (v >= -1e-12 and v <= 1.0 + 1e-12):
                    return _fail(STATUS_T_RANGE, s, a, t, kv, v, info, val)
                if not math.isfinite(rrow[t]):
                    return _fail(STATUS_R_NONFINITE, s, a, t, kv, rrow[t], info, val)
                tot += v
                tr += v * rrow[t]
            if abs(tot - 1.0) > 1e-10:
                return _fail(STATUS_T_SUM, s, a, -1, kv, tot, info, val)
            j = a * n_c + c
            for t in range(Z):
                TA[j * Z + t] += w * trow[t]
            RA[j] += w * tr
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _accumulate(s, x, m, n, theta, pair, TA, RA, info, val):
    """Multinomial average over the counts of ``m`` other agents playing ``x[s, :]``.

    ``TA``/``RA`` receive the averages of T and T*R for each focal action (and each
    action of one more agent with ``pair``). Returns a status code.
    """
    Z = N_STATES
    M = N_ACTIONS
    for j in range(TA.shape[0]):
        TA[j] = 0.0
    for j in range(RA.shape[0]):
        RA[j] = 0.0
    kk = np.zeros(M)
    kv = np.empty(M)
    trow = np.empty(Z)
    rrow = np.empty(Z)
    total = 0.0
    if M == 2:
        x0 = x[s * 2]
        x1 = x[s * 2 + 1]
        if m == 0 or x0 <= 0.0 or x1 <= 0.0:
            kk[0] = float(m) if x1 <= 0.0 else 0.0
            kk[1] = m - kk[0]
            st = _term(s, kk, 1.0, pair, n, theta, TA, RA, kv, trow, rrow, info, val)
            if st != STATUS_OK:
                return st
            total = 1.0
        else:
            r = x0 / x1
            mode = int((m + 1) * x0)
            if mode > m:
                mode = m
            w = 1.0
            lo = mode
            while lo > 0:
                w_next = w * lo / ((m - lo + 1) * r)
                if w_next < WEIGHT_CUTOFF:
                    break
                w = w_next
                lo -= 1
            k0 = lo
            while True:
                kk[0] = k0
                kk[1] = m - k0
                st = _term(s, kk, w, pair, n, theta, TA, RA, kv, trow, rrow, info, val)
                if st != STATUS_OK:
                    return st
                total += w
                if k0 == m:
                    break
                w = w * (m - k0) * r / (k0 + 1)
                k0 += 1
                if k0 > mode and w < WEIGHT_CUTOFF:
                    break
    else:
        logx = np.empty(M)
        ref = np.zeros(M)
        best = 0
        for b in range(M):
            xb = x[s * M + b]
            logx[b] = math.log(xb) if xb > 0.0 else -np.inf
            ref[b] = math.floor(m * xb)
            if xb > x[s * M + best]:
                best = b
        rest = m
        for b in range(M):
            rest -= ref[b]
        ref[best] += rest
        logref = 0.0
        for b in range(M):
            if ref[b] > 0:
                logref += ref[b] * logx[b]
            logref -= math.lgamma(ref[b] + 1.0)
        logcut = math.log(WEIGHT_CUTOFF)
        kk[M - 1] = m
        while True:
            lw = -logref
            ok = True
            for b in range(M):
                if kk[b] > 0:
                    if logx[b] == -np.inf:
                        ok = False
                        break
                    lw += kk[b] * logx[b]
                lw -= math.lgamma(kk[b] + 1.0)
            if ok and lw > logcut:
                w = math.exp(lw)
                st = _term(s, kk, w, pair, n, theta, TA, RA, kv, trow, rrow, info, val)
                if st != STATUS_OK:
                    return st
                total += w
            # next composition: odometer over kk[0..M-2], kk[M-1] takes the rest
            b = M - 2
            partial = 0.0
            while b >= 0:
                kk[b] += 1.0
                partial = 0.0
                for e in range(M - 1):
                    partial += kk[e]
                if partial <= m:
                    break
                kk[b] = 0.0
                b -= 1
            if b < 0:
                break
            kk[M - 1] = m - partial
    for j in range(TA.shape[0]):
        TA[j] /= total
    for j in range(RA.shape[0]):
        RA[j] /= total
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _check_T(s, a, kv, trow, info, val):
    tot = 0.0
    for t in range(N_STATES):
        v = trow[t]
        if not (v >= -1e-12 and v <= 1.0 + 1e-12):
            return _fail(STATUS_T_RANGE, s, a, t, kv, v, info, val)
        tot += v
    if abs(tot - 1.0) > 1e-10:
        return _fail(STATUS_T_SUM, s, a, -1, kv, tot, info, val)
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _binomial_focal(s, x, m, n, theta, TA, RA, info, val, kv, t_lo, t_hi, rrow):
    """M = 2 focal averages; T is evaluated once per count vector of all n agents.

    With j cooperators among the others, the focal cooperator sees ``(j+1, m-j)`` and the
    focal defector ``(j, m-j+1)``, which is what the focal cooperator saw at ``j-1``.
    Falls back to :func:`_accumulate` for pure rows and ``m = 0``.
    """
    Z = N_STATES
    x0 = x[s * 2]
    x1 = x[s * 2 + 1]
    if m == 0 or x0 <= 0.0 or x1 <= 0.0:
        return _accumulate(s, x, m, n, theta, False, TA, RA, info, val)
    for j in range(2 * Z):
        TA[j] = 0.0
    RA[0] = 0.0
    RA[1] = 0.0
    r = x0 / x1
    mode = int((m + 1) * x0)
    if mode > m:
        mode = m
    w = 1.0
    lo = mode
    while lo > 0:
        w_next = w * lo / ((m - lo + 1) * r)
        if w_next < WEIGHT_CUTOFF:
            break
        w = w_next
        lo -= 1
    k0 = lo
    kv[0] = k0
    kv[1] = m - k0 + 1
    game_T(s, kv, n, theta, t_lo)
    st = _check_T(s, 1, kv, t_lo, info, val)
    if st != STATUS_OK:
        return st
    total = 0.0
    while True:
        kv[0] = k0 + 1
        kv[1] = m - k0
        game_T(s, kv, n, theta, t_hi)
        st = _check_T(s, 0, kv, t_hi, info, val)
        if st != STATUS_OK:
            return st
        game_R(s, 0, kv, n, theta, rrow)
        tr = 0.0
        for t in range(Z):
            if not math.isfinite(rrow[t]):
                return _fail(STATUS_R_NONFINITE, s, 0, t, kv, rrow[t], info, val)
            TA[t] += w * t_hi[t]
            tr += t_hi[t] * rrow[t]
        RA[0] += w * tr
        kv[0] = k0
        kv[1] = m - k0 + 1
        game_R(s, 1, kv, n, theta, rrow)
        tr = 0.0
        for t in range(Z):
            if not math.isfinite(rrow[t]):
                return _fail(STATUS_R_NONFINITE, s, 1, t, kv, rrow[t], info, val)
            TA[Z + t] += w * t_lo[t]
            tr += t_lo[t] * rrow[t]
        RA[1] += w * tr
        total += w
        if k0 == m:
            break
        w = w * (m - k0) * r / (k0 + 1)
        k0 += 1
        if k0 > mode and w < WEIGHT_CUTOFF:
            break
        t_lo, t_hi = t_hi, t_lo
    for j in range(2 * Z):
        TA[j] /= total
    RA[0] /= total
    RA[1] /= total
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def averages(x, n, theta, Tsa, Rsa, info, val):
    """Focal-agent averages ``Tsa = Tx[s, a, s']``, ``Rsa = Rx[s, a]`` at ``n`` agents; returns a status."""
    Z = N_STATES
    M = N_ACTIONS
    info[0] = STATUS_OK
    if USE_MOMENTS:
        return moment_averages(x, n, theta, Tsa, Rsa)
    if M == 2:
        kv = np.empty(2)
        t_lo = np.empty(Z)
        t_hi = np.empty(Z)
        rrow = np.empty(Z)
        for s in range(Z):
            st = _binomial_focal(s, x, n - 1, float(n), theta, Tsa[s * 2 * Z:(s + 1) * 2 * Z], Rsa[s * 2:(s + 1) * 2],
                                 info, val, kv, t_lo, t_hi, rrow)
            if st != STATUS_OK:
                return st
        return STATUS_OK
    for s in range(Z):
        st = _accumulate(s, x, n - 1, float(n), theta, False, Tsa[s * M * Z:(s + 1) * M * Z],
                         Rsa[s * M:(s + 1) * M], info, val)
        if st != STATUS_OK:
            return st
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def pair_averages(x, n, theta, Tpair, Rpair, info, val):
    """Averages given the focal action a and one other agent's action c (``n >= 2``); returns a status."""
    Z = N_STATES
    M = N_ACTIONS
    info[0] = STATUS_OK
    if USE_MOMENTS:
        return moment_pair_averages(x, n, theta, Tpair, Rpair)
    for s in range(Z):
        st = _accumulate(s, x, n - 2, float(n), theta, True, Tpair[s * M * M * Z:(s + 1) * M * M * Z],
                         Rpair[s * M * M:(s + 1) * M * M], info, val)
        if st != STATUS_OK:
            return st
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _inverse(A, out):
    """``out = A^-1`` for a Z x Z matrix (flat), Gauss-Jordan with partial pivoting."""
    Z = N_STATES
    aug = np.zeros((Z, 2 * Z))
    for i in range(Z):
        for j in range(Z):
            aug[i, j] = A[i * Z + j]
        aug[i, Z + i] = 1.0
    for col in range(Z):
        piv = col
        for i in range(col + 1, Z):
            if abs(aug[i, col]) > abs(aug[piv, col]):
                piv = i
        if piv != col:
            for j in range(2 * Z):
                tmp = aug[col, j]
                aug[col, j] = aug[piv, j]
                aug[piv, j] = tmp
        d = aug[col, col]
        for j in range(2 * Z):
            aug[col, j] /= d
        for i in range(Z):
            if i != col:
                fct = aug[i, col]
                if fct != 0.0:
                    for j in range(2 * Z):
                        aug[i, j] -= fct * aug[col, j]
    for i in range(Z):
        for j in range(Z):
            out[i * Z + j] = aug[i, Z + j]


@numba.njit(cache=True, no_cfunc_wrapper=True)
def values_from(x, Tsa, Rsa, gamma, prefactor, Tss, Ris, W, V, Qv):
    """``Tss``, ``Ris``, ``W = (Id - gamma Tss)^-1``, ``V = p W Ris``, ``Q = p Rsa + gamma Tsa V``."""
    Z = N_STATES
    M = N_ACTIONS
    p = 1.0 - gamma if prefactor else 1.0
    for s in range(Z):
        Ris[s] = 0.0
        for t in range(Z):
            Tss[s * Z + t] = 0.0
        for a in range(M):
            xa = x[s * M + a]
            Ris[s] += xa * Rsa[s * M + a]
            for t in range(Z):
                Tss[s * Z + t] += xa * Tsa[(s * M + a) * Z + t]
    A = np.empty(Z * Z)
    for s in range(Z):
        for t in range(Z):
            A[s * Z + t] = (1.0 if s == t else 0.0) - gamma * Tss[s * Z + t]
    _inverse(A, W)
    for s in range(Z):
        v = 0.0
        for t in range(Z):
            v += W[s * Z + t] * Ris[t]
        V[s] = p * v
    for s in range(Z):
        for a in range(M):
            q = p * Rsa[s * M + a]
            for t in range(Z):
                q += gamma * Tsa[(s * M + a) * Z + t] * V[t]
            Qv[s * M + a] = q


@numba.njit(cache=True, no_cfunc_wrapper=True)
def values(x, n, theta, gamma, prefactor, Tss, Ris, W, V, Qv, info, val):
    """Values at the symmetric strategy ``x`` (n agents); returns a status."""
    Z = N_STATES
    M = N_ACTIONS
    Tsa = np.empty(Z * M * Z)
    Rsa = np.empty(Z * M)
    st = averages(x, n, theta, Tsa, Rsa, info, val)
    if st != STATUS_OK:
        return st
    values_from(x, Tsa, Rsa, gamma, prefactor, Tss, Ris, W, V, Qv)
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def tderror(x, n, theta, beta, gamma, learner, prefactor, out, info, val):
    """TD error ``delta[s, a]`` of the representative agent (scaled by beta); returns a status."""
    Z = N_STATES
    M = N_ACTIONS
    Tss = np.empty(Z * Z)
    Ris = np.empty(Z)
    W = np.empty(Z * Z)
    V = np.empty(Z)
    Qv = np.empty(Z * M)
    st = values(x, n, theta, gamma, prefactor, Tss, Ris, W, V, Qv, info, val)
    if st != STATUS_OK:
        return st
    for s in range(Z):
        for a in range(M):
            if learner == LEARNER_SARSA:
                out[s * M + a] = beta * Qv[s * M + a] - math.log(x[s * M + a])
            else:
                out[s * M + a] = beta * (Qv[s * M + a] - V[s])
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_of_logit(y, x):
    """Softmax of the log-ratios (stable: the largest logit is subtracted)."""
    Z = N_STATES
    M = N_ACTIONS
    for s in range(Z):
        top = 0.0
        for a in range(M - 1):
            if y[s * (M - 1) + a] > top:
                top = y[s * (M - 1) + a]
        tot = math.exp(-top)
        for a in range(M - 1):
            tot += math.exp(y[s * (M - 1) + a] - top)
        for a in range(M - 1):
            x[s * M + a] = math.exp(y[s * (M - 1) + a] - top) / tot
        x[s * M + M - 1] = math.exp(-top) / tot


@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_step(y, n, theta, alpha, beta, gamma, learner, prefactor, direction, y_out, info, val):
    """``y' = y + direction * alpha (delta[a] - delta[M-1])`` on the symmetric subspace; returns a status."""
    Z = N_STATES
    M = N_ACTIONS
    x = np.empty(Z * M)
    strategy_of_logit(y, x)
    Tss = np.empty(Z * Z)
    Ris = np.empty(Z)
    W = np.empty(Z * Z)
    V = np.empty(Z)
    Qv = np.empty(Z * M)
    st = values(x, n, theta, gamma, prefactor, Tss, Ris, W, V, Qv, info, val)
    if st != STATUS_OK:
        return st
    for s in range(Z):
        for a in range(M - 1):
            k = s * (M - 1) + a
            diff = beta * (Qv[s * M + a] - Qv[s * M + M - 1])
            if learner == LEARNER_SARSA:
                diff -= y[k]
            y_out[k] = y[k] + direction * alpha * diff
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def jacobian_blocks(x, n, theta, alpha, beta, gamma, learner, prefactor, direction, A, B, info, val):
    """Blocks ``A = dy'_i/dy_i`` and ``B = dy'_i/dy_j`` (j != i) at the symmetric point ``x``.

    Both are F x F (F = Z*(M-1), flat row-major) in logit coordinates; the full
    n-agent Jacobian is ``I_n (x) (A - B) + 1 1^T (x) B`` (crld-math section 11).
    ``B`` is zero for n = 1. Returns a status.
    """
    Z = N_STATES
    M = N_ACTIONS
    F = Z * (M - 1)
    Tsa = np.empty(Z * M * Z)
    Rsa = np.empty(Z * M)
    st = averages(x, n, theta, Tsa, Rsa, info, val)
    if st != STATUS_OK:
        return st
    Tss = np.empty(Z * Z)
    Ris = np.empty(Z)
    W = np.empty(Z * Z)
    V = np.empty(Z)
    Qv = np.empty(Z * M)
    values_from(x, Tsa, Rsa, gamma, prefactor, Tss, Ris, W, V, Qv)
    p = 1.0 - gamma if prefactor else 1.0
    # dQ[s, a] / dx_self[s0, c] and / dx_other[s0, c]  (c over all M actions)
    dQs = np.zeros((Z * M, Z * M))
    dQo = np.zeros((Z * M, Z * M))
    # TV[s, a] = sum_t Tsa[s, a, t] W[t, s0] -> weights of dV
    for s in range(Z):
        for a in range(M):
            for s0 in range(Z):
                tw = 0.0
                for t in range(Z):
                    tw += Tsa[(s * M + a) * Z + t] * W[t * Z + s0]
                for c in range(M):
                    dQs[s * M + a, s0 * M + c] = gamma * tw * Qv[s0 * M + c]
    if n >= 2:
        Tpair = np.empty(Z * M * M * Z)
        Rpair = np.empty(Z * M * M)
        st = pair_averages(x, n, theta, Tpair, Rpair, info, val)
        if st != STATUS_OK:
            return st
        # g[s0, c] = p sum_a' x[s0,a'] Rpair[s0,a',c] + gamma Tsa[s0,c,:].V  (dV = W[:, s0] g[s0, c])
        g = np.empty(Z * M)
        for s0 in range(Z):
            for c in range(M):
                r = 0.0
                for a2 in range(M):
                    r += x[s0 * M + a2] * Rpair[(s0 * M + a2) * M + c]
                tv = 0.0
                for t in range(Z):
                    tv += Tsa[(s0 * M + c) * Z + t] * V[t]
                g[s0 * M + c] = p * r + gamma * tv
        for s in range(Z):
            for a in range(M):
                for s0 in range(Z):
                    tw = 0.0
                    for t in range(Z):
                        tw += Tsa[(s * M + a) * Z + t] * W[t * Z + s0]
                    for c in range(M):
                        d = gamma * tw * g[s0 * M + c]
                        if s == s0:
                            tv = 0.0
                            for t in range(Z):
                                tv += Tpair[((s0 * M + a) * M + c) * Z + t] * V[t]
                            d += p * Rpair[(s0 * M + a) * M + c] + gamma * tv
                        dQo[s * M + a, s0 * M + c] = d
    coef = alpha * beta * direction
    diag = 1.0 - direction * alpha if learner == LEARNER_SARSA else 1.0
    for s in range(Z):
        for a in range(M - 1):
            row = s * (M - 1) + a
            for s0 in range(Z):
                for b in range(M - 1):
                    col = s0 * (M - 1) + b
                    va = 0.0
                    vb = 0.0
                    for c in range(M):
                        dxdy = x[s0 * M + c] * ((1.0 if c == b else 0.0) - x[s0 * M + b])
                        va += (dQs[s * M + a, s0 * M + c] - dQs[s * M + M - 1, s0 * M + c]) * dxdy
                        vb += (dQo[s * M + a, s0 * M + c] - dQo[s * M + M - 1, s0 * M + c]) * dxdy
                    A[row * F + col] = coef * va + (diag if row == col else 0.0)
                    B[row * F + col] = coef * vb
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _run(y0, n, theta, alpha, beta, gamma, learner, prefactor, tmax, tol, direction, every, Xrec,
         x_out, y_out, info, val):
    """Iterate in logit coordinates from ``y0``; the chapter's stopping rule in the full n-agent space.

    Record x, compute the next x, stop when the distance of the two joint strategies,
    ``sqrt(n) * ||x' - x||_2``, is below ``tol`` (``tol <= 0``: never) or once ``tmax``
    strategies are recorded. Every ``every``-th recorded strategy goes to the rows of
    ``Xrec`` (``every <= 0``: none). Returns ``(t, converged, status, n_stored)``.
    """
    Z = N_STATES
    M = N_ACTIONS
    F = Z * (M - 1)
    y = np.empty(F)
    for k in range(F):
        y[k] = y0[k]
    y_next = np.empty(F)
    x = np.empty(Z * M)
    x_next = np.empty(Z * M)
    strategy_of_logit(y, x)
    cap = Xrec.shape[0]
    tol2 = tol * tol / n
    t = 0
    stored = 0
    converged = False
    status = STATUS_OK
    countdown = 0
    while True:
        if every > 0:
            if countdown == 0:
                if stored == cap:
                    status = STATUS_FULL
                    break
                for k in range(Z * M):
                    Xrec[stored, k] = x[k]
                stored += 1
                countdown = every
            countdown -= 1
        t += 1
        st = logit_step(y, n, theta, alpha, beta, gamma, learner, prefactor, direction, y_next, info, val)
        if st != STATUS_OK:
            status = st
            break
        total = 0.0
        for k in range(F):
            total += y_next[k]
        if not math.isfinite(total):
            status = STATUS_NONFINITE
            break
        strategy_of_logit(y_next, x_next)
        if tol > 0.0:
            d = 0.0
            for k in range(Z * M):
                d += (x_next[k] - x[k]) ** 2
            if d < tol2:
                converged = True
                break
        if t >= tmax:
            break
        y, y_next = y_next, y
        x, x_next = x_next, x
    for k in range(F):
        y_out[k] = y[k]
    for k in range(Z * M):
        x_out[k] = x[k]
    return t, converged, status, stored


@numba.njit(cache=True, no_cfunc_wrapper=True)
def trajectory(y0, n, theta, alpha, beta, gamma, learner, prefactor, tmax, tol, direction, every, Xrec,
               x_out, y_out, info, val):
    """One trajectory (see ``_run``)."""
    return _run(y0, n, theta, alpha, beta, gamma, learner, prefactor, tmax, tol, direction, every, Xrec,
                x_out, y_out, info, val)


@numba.njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def trajectories(Y0, Ns, Theta, Alpha, Beta, Gamma, learner, prefactor, tmax, tol, direction, every, Xrec,
                 X_out, Y_out, lengths, converged, status, stored, Info, Val):
    """A batch (row b of every array: start, n, parameters), in parallel over b."""
    for b in numba.prange(Y0.shape[0]):
        t, c, st, k = _run(Y0[b], Ns[b], Theta[b], Alpha[b], Beta[b], Gamma[b], learner, prefactor, tmax, tol,
                           direction, every, Xrec[b], X_out[b], Y_out[b], Info[b], Val[b])
        lengths[b] = t
        converged[b] = c
        status[b] = st
        stored[b] = k


@numba.njit(cache=True, no_cfunc_wrapper=True)
def check_game(n, theta, info, val):
    """Check T (probabilities, rows sum to 1) and R (finite) at every count vector of n agents."""
    Z = N_STATES
    M = N_ACTIONS
    kv = np.zeros(M)
    trow = np.empty(Z)
    rrow = np.empty(Z)
    info[0] = STATUS_OK
    kv[M - 1] = n
    while True:
        for s in range(Z):
            game_T(s, kv, float(n), theta, trow)
            tot = 0.0
            for t in range(Z):
                v = trow[t]
                if not (v >= -1e-12 and v <= 1.0 + 1e-12):
                    return _fail(STATUS_T_RANGE, s, -1, t, kv, v, info, val)
                tot += v
            if abs(tot - 1.0) > 1e-10:
                return _fail(STATUS_T_SUM, s, -1, -1, kv, tot, info, val)
            for a in range(M):
                if kv[a] >= 1.0:
                    game_R(s, a, kv, float(n), theta, rrow)
                    for t in range(Z):
                        if not math.isfinite(rrow[t]):
                            return _fail(STATUS_R_NONFINITE, s, a, t, kv, rrow[t], info, val)
        b = M - 2
        partial = 0.0
        while b >= 0:
            kv[b] += 1.0
            partial = 0.0
            for e in range(M - 1):
                partial += kv[e]
            if partial <= n:
                break
            kv[b] = 0.0
            b -= 1
        if b < 0:
            break
        kv[M - 1] = n - partial
    return STATUS_OK
