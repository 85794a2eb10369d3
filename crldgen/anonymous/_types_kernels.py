"""Kernel library of multi-type anonymous-game modules (appended verbatim to every generated module).

Source text for :mod:`crldgen.anonymous.types`; not meant to be imported on its own. The
generated part defines ``N_TYPES`` (K), ``N_STATES`` (Z), ``N_ACTIONS`` (M, the same for
every type) and::

    game_T(s, k, n, theta, out)          out[s'] = T(s, k, s')
    game_R(tau, s, a, k, n, theta, out)  out[s'] = R_tau(s, a, k, s')

with ``k`` the float counts of every type, ``k[sigma*M + b]`` (focal agent included),
and ``n`` the float sizes ``n[sigma]``.

Layouts (flat C order): ``x[(tau*Z + s)*M + a]`` (type-symmetric strategy, one row per
type), ``y[(tau*Z + s)*(M-1) + a]`` (log-ratios), ``Tsa[((tau*Z + s)*M + a)*Z + s']``,
``Rsa[(tau*Z + s)*M + a]``, ``A[tau, F, F]``, ``B[tau, sigma, F, F]`` (F = Z*(M-1)).

The other agents' counts are a product of multinomials, one per type (the focal agent's
own type has ``n_tau - 1`` others; conditioning on one other agent of type sigma removes
one more). Each type's weights are computed in log space (``lgamma``) relative to its
mode; count vectors whose product weight is below ``WEIGHT_CUTOFF`` are skipped and the
sums are divided by the total weight used. Every T row met is checked.

When the generated part sets ``USE_MOMENTS = True`` (T and T*R_tau polynomial in the
counts), ``averages`` and the pair averages of ``jacobian_blocks`` call its closed-form
``moment_averages(x, n, theta, Tsa, Rsa)`` / ``moment_pair_averages(x, n, theta, tau,
sigma, Tpair, Rpair)`` (factorial moments of the product of multinomials; cost independent
of the sizes); T and R are then checked by ``check_game`` from the Python side.
"""

import math

import numba
import numpy as np

#: count vectors whose (product) multinomial weight relative to the mode's is below this are skipped
WEIGHT_CUTOFF = 1e-18
LEARNER_SARSA = 0
STATUS_OK = 0
STATUS_T_RANGE = 1
STATUS_T_SUM = 2
STATUS_R_NONFINITE = 3
STATUS_NONFINITE = 4
STATUS_FULL = 5


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _fail(code, tau, s, a, t, kv, value, info, val):
    info[0] = code
    info[1] = s
    info[2] = a
    info[3] = t
    info[4] = tau
    for j in range(min(N_TYPES * N_ACTIONS, info.shape[0] - 5)):
        info[5 + j] = int(kv[j] + 0.5)
    val[0] = value
    return code


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _n_compositions(m):
    c = 1
    for i in range(1, N_ACTIONS):
        c = c * (m + i) // i
    return c


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _tables(x, s, m):
    """Count vectors and relative multinomial weights of ``m[sigma]`` others of every type in state s."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    off = np.zeros(K + 1, dtype=np.int64)
    for sg in range(K):
        off[sg + 1] = off[sg] + _n_compositions(m[sg])
    counts = np.zeros((off[K], M))
    w = np.empty(off[K])
    k = np.zeros(M, dtype=np.int64)
    for sg in range(K):
        for b in range(M):
            k[b] = 0
        k[0] = m[sg]
        lm = math.lgamma(m[sg] + 1.0)
        top = -np.inf
        for j in range(off[sg], off[sg + 1]):
            lw = lm
            for b in range(M):
                counts[j, b] = k[b]
                if k[b] > 0:
                    xb = x[(sg * Z + s) * M + b]
                    lw += -math.lgamma(k[b] + 1.0) + (k[b] * math.log(xb) if xb > 0.0 else -np.inf)
            w[j] = lw
            if lw > top:
                top = lw
            # next composition: rightmost nonzero among 0..M-2 moves one unit right, the tail collects
            i = M - 2
            while i >= 0 and k[i] == 0:
                i -= 1
            if i >= 0:
                rest = k[M - 1]
                k[M - 1] = 0
                k[i] -= 1
                k[i + 1] = rest + 1
        for j in range(off[sg], off[sg + 1]):
            w[j] = math.exp(w[j] - top)
    return counts, w, off


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _sum_state(x, s, m, nf, theta, tau, sigma, TA, RA, info, val):
    """Averages in state s over the others' counts ``m`` for a focal agent of type tau.

    ``sigma < 0``: ``TA[a*Z + t]``, ``RA[a]`` (focal action a); ``sigma >= 0``: one more
    agent of type sigma plays c, ``TA[(a*M + c)*Z + t]``, ``RA[a*M + c]``.
    """
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    n_c = M if sigma >= 0 else 1
    for j in range(M * n_c * Z):
        TA[j] = 0.0
    for j in range(M * n_c):
        RA[j] = 0.0
    counts, w, off = _tables(x, s, m)
    idx = np.zeros(K, dtype=np.int64)
    kv = np.empty(K * M)
    trow = np.empty(Z)
    rrow = np.empty(Z)
    wsum = 0.0
    while True:
        wt = 1.0
        for sg in range(K):
            wt *= w[off[sg] + idx[sg]]
        if wt >= WEIGHT_CUTOFF:
            wsum += wt
            for a in range(M):
                for c in range(n_c):
                    for sg in range(K):
                        for b in range(M):
                            kv[sg * M + b] = counts[off[sg] + idx[sg], b]
                    kv[tau * M + a] += 1.0
                    if sigma >= 0:
                        kv[sigma * M + c] += 1.0
                    game_T(s, kv, nf, theta, trow)
                    game_R(tau, s, a, kv, nf, theta, rrow)
                    tot = 0.0
                    tr = 0.0
                    for t in range(Z):
                        v = trow[t]
                        if not (v >= -1e-12 and v <= 1.0 + 1e-12):
                            return _fail(STATUS_T_RANGE, tau, s, a, t, kv, v, info, val)
                        if not math.isfinite(rrow[t]):
                            return _fail(STATUS_R_NONFINITE, tau, s, a, t, kv, rrow[t], info, val)
                        tot += v
                        tr += v * rrow[t]
                    if abs(tot - 1.0) > 1e-10:
                        return _fail(STATUS_T_SUM, tau, s, a, -1, kv, tot, info, val)
                    j = a * n_c + c
                    for t in range(Z):
                        TA[j * Z + t] += wt * trow[t]
                    RA[j] += wt * tr
        # next index (odometer over the types)
        sg = K - 1
        while sg >= 0:
            idx[sg] += 1
            if off[sg] + idx[sg] < off[sg + 1]:
                break
            idx[sg] = 0
            sg -= 1
        if sg < 0:
            break
    for j in range(M * n_c * Z):
        TA[j] /= wsum
    for j in range(M * n_c):
        RA[j] /= wsum
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def averages(x, sizes, theta, Tsa, Rsa, info, val):
    """Focal averages of every type: ``Tsa``, ``Rsa`` (layouts above); returns a status."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    info[0] = STATUS_OK
    nf = np.empty(K)
    for sg in range(K):
        nf[sg] = float(sizes[sg])
    if USE_MOMENTS:
        return moment_averages(x, nf, theta, Tsa, Rsa)
    m = np.empty(K, dtype=np.int64)
    for tau in range(K):
        for sg in range(K):
            m[sg] = sizes[sg] - (1 if sg == tau else 0)
        for s in range(Z):
            b = tau * Z + s
            st = _sum_state(x, s, m, nf, theta, tau, -1, Tsa[b * M * Z:(b + 1) * M * Z], Rsa[b * M:(b + 1) * M],
                            info, val)
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
    """One type's ``Tss``, ``Ris``, ``W = (Id - gamma Tss)^-1``, ``V = p W Ris``, ``Q = p Rsa + gamma Tsa V``."""
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
def values(x, sizes, theta, gamma, prefactor, V, Qv, info, val):
    """``V[tau*Z + s]``, ``Qv[(tau*Z + s)*M + a]`` of every type; returns a status."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    Tsa = np.empty(K * Z * M * Z)
    Rsa = np.empty(K * Z * M)
    st = averages(x, sizes, theta, Tsa, Rsa, info, val)
    if st != STATUS_OK:
        return st
    Tss = np.empty(Z * Z)
    Ris = np.empty(Z)
    W = np.empty(Z * Z)
    for tau in range(K):
        values_from(x[tau * Z * M:(tau + 1) * Z * M], Tsa[tau * Z * M * Z:(tau + 1) * Z * M * Z],
                    Rsa[tau * Z * M:(tau + 1) * Z * M], gamma[tau], prefactor, Tss, Ris, W,
                    V[tau * Z:(tau + 1) * Z], Qv[tau * Z * M:(tau + 1) * Z * M])
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def tderror(x, sizes, theta, beta, gamma, learner, prefactor, out, info, val):
    """TD errors ``delta[(tau*Z + s)*M + a]`` (scaled by beta of the type); returns a status."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    V = np.empty(K * Z)
    Qv = np.empty(K * Z * M)
    st = values(x, sizes, theta, gamma, prefactor, V, Qv, info, val)
    if st != STATUS_OK:
        return st
    for tau in range(K):
        for s in range(Z):
            for a in range(M):
                j = (tau * Z + s) * M + a
                if learner == LEARNER_SARSA:
                    out[j] = beta[tau] * Qv[j] - math.log(x[j])
                else:
                    out[j] = beta[tau] * (Qv[j] - V[tau * Z + s])
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_of_logit(y, x):
    """Softmax of the log-ratios of every (type, state) row (the largest logit subtracted)."""
    M = N_ACTIONS
    for r in range(N_TYPES * N_STATES):
        top = 0.0
        for a in range(M - 1):
            if y[r * (M - 1) + a] > top:
                top = y[r * (M - 1) + a]
        tot = math.exp(-top)
        for a in range(M - 1):
            tot += math.exp(y[r * (M - 1) + a] - top)
        for a in range(M - 1):
            x[r * M + a] = math.exp(y[r * (M - 1) + a] - top) / tot
        x[r * M + M - 1] = math.exp(-top) / tot


@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_step(y, sizes, theta, alpha, beta, gamma, learner, prefactor, direction, y_out, info, val):
    """``y' = y + direction * alpha_tau (delta[a] - delta[M-1])`` for every type; returns a status."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    x = np.empty(K * Z * M)
    strategy_of_logit(y, x)
    V = np.empty(K * Z)
    Qv = np.empty(K * Z * M)
    st = values(x, sizes, theta, gamma, prefactor, V, Qv, info, val)
    if st != STATUS_OK:
        return st
    for tau in range(K):
        for s in range(Z):
            r = tau * Z + s
            for a in range(M - 1):
                k = r * (M - 1) + a
                diff = beta[tau] * (Qv[r * M + a] - Qv[r * M + M - 1])
                if learner == LEARNER_SARSA:
                    diff -= y[k]
                y_out[k] = y[k] + direction * alpha[tau] * diff
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def jacobian_blocks(x, sizes, theta, alpha, beta, gamma, learner, prefactor, direction, A, B, info, val):
    """``A[tau] = dy'_i/dy_i`` and ``B[tau, sigma] = dy'_i/dy_j`` (i of type tau, j != i of type sigma).

    Logit coordinates, each block F x F (F = Z*(M-1)), flat. ``B[tau, tau]`` is zero when
    ``n_tau = 1`` (no other agent of the type). Returns a status.
    """
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    F = Z * (M - 1)
    Tall = np.empty(K * Z * M * Z)
    Rall = np.empty(K * Z * M)
    st = averages(x, sizes, theta, Tall, Rall, info, val)
    if st != STATUS_OK:
        return st
    nf = np.empty(K)
    for sg in range(K):
        nf[sg] = float(sizes[sg])
    m = np.empty(K, dtype=np.int64)
    Tss = np.empty(Z * Z)
    Ris = np.empty(Z)
    W = np.empty(Z * Z)
    V = np.empty(Z)
    Qv = np.empty(Z * M)
    Tpair = np.empty(Z * M * M * Z)
    Rpair = np.empty(Z * M * M)
    dQ = np.zeros((Z * M, Z * M))
    TW = np.empty((Z * M, Z))
    g = np.empty(Z * M)
    for tau in range(K):
        xt = x[tau * Z * M:(tau + 1) * Z * M]
        Tsa = Tall[tau * Z * M * Z:(tau + 1) * Z * M * Z]
        Rsa = Rall[tau * Z * M:(tau + 1) * Z * M]
        values_from(xt, Tsa, Rsa, gamma[tau], prefactor, Tss, Ris, W, V, Qv)
        p = 1.0 - gamma[tau] if prefactor else 1.0
        gm = gamma[tau]
        for s in range(Z):
            for a in range(M):
                for s0 in range(Z):
                    tw = 0.0
                    for t in range(Z):
                        tw += Tsa[(s * M + a) * Z + t] * W[t * Z + s0]
                    TW[s * M + a, s0] = tw
        coef = alpha[tau] * beta[tau] * direction
        diag = 1.0 - direction * alpha[tau] if learner == LEARNER_SARSA else 1.0
        for sigma in range(-1, K):
            # sigma = -1: the agent's own strategy (A); else another agent of type sigma (B[tau, sigma])
            if sigma < 0:
                for s in range(Z):
                    for a in range(M):
                        for s0 in range(Z):
                            for c in range(M):
                                dQ[s * M + a, s0 * M + c] = gm * TW[s * M + a, s0] * Qv[s0 * M + c]
                xs = xt
            else:
                xs = x[sigma * Z * M:(sigma + 1) * Z * M]
                if sigma == tau and sizes[tau] < 2:
                    for j in range(F * F):
                        B[(tau * K + sigma) * F * F + j] = 0.0
                    continue
                for sg in range(K):
                    m[sg] = sizes[sg] - (1 if sg == tau else 0) - (1 if sg == sigma else 0)
                for s in range(Z if not USE_MOMENTS else 0):
                    st = _sum_state(x, s, m, nf, theta, tau, sigma, Tpair[s * M * M * Z:(s + 1) * M * M * Z],
                                    Rpair[s * M * M:(s + 1) * M * M], info, val)
                    if st != STATUS_OK:
                        return st
                if USE_MOMENTS:
                    moment_pair_averages(x, nf, theta, tau, sigma, Tpair, Rpair)
                # g[s0, c] = p sum_a' x[s0,a'] Rpair[s0,a',c] + gamma sum_a' x[s0,a'] Tpair[s0,a',c,:].V
                for s0 in range(Z):
                    for c in range(M):
                        r = 0.0
                        tv = 0.0
                        for a2 in range(M):
                            xa = xt[s0 * M + a2]
                            r += xa * Rpair[(s0 * M + a2) * M + c]
                            for t in range(Z):
                                tv += xa * Tpair[((s0 * M + a2) * M + c) * Z + t] * V[t]
                        g[s0 * M + c] = p * r + gm * tv
                for s in range(Z):
                    for a in range(M):
                        for s0 in range(Z):
                            for c in range(M):
                                d = gm * TW[s * M + a, s0] * g[s0 * M + c]
                                if s == s0:
                                    tv = 0.0
                                    for t in range(Z):
                                        tv += Tpair[((s0 * M + a) * M + c) * Z + t] * V[t]
                                    d += p * Rpair[(s0 * M + a) * M + c] + gm * tv
                                dQ[s * M + a, s0 * M + c] = d
            for s in range(Z):
                for a in range(M - 1):
                    row = s * (M - 1) + a
                    for s0 in range(Z):
                        for b in range(M - 1):
                            col = s0 * (M - 1) + b
                            v = 0.0
                            for c in range(M):
                                dxdy = xs[s0 * M + c] * ((1.0 if c == b else 0.0) - xs[s0 * M + b])
                                v += (dQ[s * M + a, s0 * M + c] - dQ[s * M + M - 1, s0 * M + c]) * dxdy
                            if sigma < 0:
                                A[tau * F * F + row * F + col] = coef * v + (diag if row == col else 0.0)
                            else:
                                B[(tau * K + sigma) * F * F + row * F + col] = coef * v
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def trajectory(y0, sizes, theta, alpha, beta, gamma, learner, prefactor, tmax, tol, direction, every, Xrec,
               x_out, y_out, info, val):
    """Iterate in logit coordinates; the full game's stopping rule (``||X' - X||_2`` over all agents).

    Record x, compute the next x, stop when ``sum_tau n_tau ||x'_tau - x_tau||^2 < tol^2``
    (``tol <= 0``: never) or once ``tmax`` strategies are recorded. Every ``every``-th
    strategy goes to ``Xrec`` (``every <= 0``: none). Returns ``(t, converged, status, n_stored)``.
    """
    K = N_TYPES
    Z = N_STATES
    M = N_ACTIONS
    F = K * Z * (M - 1)
    L = K * Z * M
    y = np.empty(F)
    for k in range(F):
        y[k] = y0[k]
    y_next = np.empty(F)
    x = np.empty(L)
    x_next = np.empty(L)
    strategy_of_logit(y, x)
    cap = Xrec.shape[0]
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
                for k in range(L):
                    Xrec[stored, k] = x[k]
                stored += 1
                countdown = every
            countdown -= 1
        t += 1
        st = logit_step(y, sizes, theta, alpha, beta, gamma, learner, prefactor, direction, y_next, info, val)
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
            for k in range(L):
                d += sizes[k // (Z * M)] * (x_next[k] - x[k]) ** 2
            if d < tol * tol:
                converged = True
                break
        if t >= tmax:
            break
        y, y_next = y_next, y
        x, x_next = x_next, x
    for k in range(F):
        y_out[k] = y[k]
    for k in range(L):
        x_out[k] = x[k]
    return t, converged, status, stored


@numba.njit(cache=True, no_cfunc_wrapper=True)
def step_loop(y0, sizes, theta, alpha, beta, gamma, learner, prefactor, steps, y_out, info, val):
    """``steps`` logit steps in a compiled loop (for benchmarks); returns a status."""
    F = y0.shape[0]
    y = y0.copy()
    for _ in range(steps):
        st = logit_step(y, sizes, theta, alpha, beta, gamma, learner, prefactor, 1.0, y_out, info, val)
        if st != STATUS_OK:
            return st
        for k in range(F):
            y[k] = y_out[k]
    return STATUS_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def check_game(sizes, theta, info, val):
    """Check T (probabilities, rows summing to 1) and R_tau (finite) at every count vector of ``sizes``."""
    K = N_TYPES
    M = N_ACTIONS
    Z = N_STATES
    info[0] = STATUS_OK
    xu = np.full(K * Z * M, 1.0 / M)
    nf = np.empty(K)
    for sg in range(K):
        nf[sg] = float(sizes[sg])
    counts, w, off = _tables(xu, 0, sizes)
    idx = np.zeros(K, dtype=np.int64)
    kv = np.empty(K * M)
    trow = np.empty(Z)
    rrow = np.empty(Z)
    while True:
        for sg in range(K):
            for b in range(M):
                kv[sg * M + b] = counts[off[sg] + idx[sg], b]
        for s in range(Z):
            game_T(s, kv, nf, theta, trow)
            tot = 0.0
            for t in range(Z):
                v = trow[t]
                if not (v >= -1e-12 and v <= 1.0 + 1e-12):
                    return _fail(STATUS_T_RANGE, 0, s, 0, t, kv, v, info, val)
                tot += v
            if abs(tot - 1.0) > 1e-10:
                return _fail(STATUS_T_SUM, 0, s, 0, -1, kv, tot, info, val)
            for tau in range(K):
                for a in range(M):
                    if kv[tau * M + a] < 0.5:
                        continue
                    game_R(tau, s, a, kv, nf, theta, rrow)
                    for t in range(Z):
                        if not math.isfinite(rrow[t]):
                            return _fail(STATUS_R_NONFINITE, tau, s, a, t, kv, rrow[t], info, val)
        sg = K - 1
        while sg >= 0:
            idx[sg] += 1
            if off[sg] + idx[sg] < off[sg + 1]:
                break
            idx[sg] = 0
            sg -= 1
        if sg < 0:
            break
    return STATUS_OK


@numba.njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def trajectories(Y0, Sizes, Theta, Alpha, Beta, Gamma, learner, prefactor, tmax, tol, X_out, Y_out, lengths,
                 converged, status, Info, Val):
    """A batch (row b of every array: start, sizes, parameters), in parallel over b; nothing recorded."""
    L = X_out.shape[1]
    for b in numba.prange(Y0.shape[0]):
        Xrec = np.empty((0, L))
        t, c, st, k = trajectory(Y0[b], Sizes[b], Theta[b], Alpha[b], Beta[b], Gamma[b], learner, prefactor, tmax,
                                 tol, 1.0, 0, Xrec, X_out[b], Y_out[b], Info[b], Val[b])
        lengths[b] = t
        converged[b] = c
        status[b] = st
