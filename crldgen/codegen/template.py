"""The game-independent part of every generated module (text only).

These functions use the module constants ``N_AGENTS, N_OBS, N_ACTIONS, N_FREE`` and
the game kernels ``tderror``, ``logit_step``, ``averages`` defined above them.
Strategies are flat arrays ``X[(i*N_OBS + o)*N_ACTIONS + a]``; log-ratio coordinates
``y[(i*N_OBS + o)*(N_ACTIONS-1) + a] = ln(X[..a] / X[..M-1])``.
"""

TEMPLATE = r'''
# ---------------------------------------------------------------------------
# Game-independent helpers and loops (crldgen template)
# ---------------------------------------------------------------------------
NX = N_AGENTS * N_OBS * N_ACTIONS


@numba.njit(cache=True)
def _solve(A, B):
    """Solve A Z = B in place (B <- Z) by Gaussian elimination with partial pivoting.

    Returns False (and fills B with NaN) when A is numerically singular.
    """
    n = A.shape[0]
    k = B.shape[1]
    scale = 0.0
    for r in range(n):
        for c in range(n):
            scale = max(scale, abs(A[r, c]))
    tiny = 1e-13 * max(scale, 1e-300)
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(A[r, col]) > abs(A[piv, col]):
                piv = r
        if abs(A[piv, col]) <= tiny:
            for r in range(n):
                for c in range(k):
                    B[r, c] = np.nan
            return False
        if piv != col:
            for c in range(n):
                A[col, c], A[piv, c] = A[piv, c], A[col, c]
            for c in range(k):
                B[col, c], B[piv, c] = B[piv, c], B[col, c]
        inv = 1.0 / A[col, col]
        for r in range(col + 1, n):
            f = A[r, col] * inv
            if f != 0.0:
                for c in range(col, n):
                    A[r, c] -= f * A[col, c]
                for c in range(k):
                    B[r, c] -= f * B[col, c]
    for r in range(n - 1, -1, -1):
        for c in range(k):
            acc = B[r, c]
            for q in range(r + 1, n):
                acc -= A[r, q] * B[q, c]
            B[r, c] = acc / A[r, r]
    return True


@numba.njit(cache=True)
def strategy_of_logit(y, X):
    """X = softmax over actions of (y, 0), shifted by the maximum to avoid overflow."""
    m1 = N_ACTIONS - 1
    for r in range(N_AGENTS * N_OBS):
        top = 0.0
        for a in range(m1):
            top = max(top, y[r * m1 + a])
        tot = math.exp(-top)
        X[r * N_ACTIONS + m1] = tot
        for a in range(m1):
            e = math.exp(y[r * m1 + a] - top)
            X[r * N_ACTIONS + a] = e
            tot += e
        for a in range(N_ACTIONS):
            X[r * N_ACTIONS + a] /= tot


@numba.njit(cache=True)
def logit_of_strategy(X, y):
    m1 = N_ACTIONS - 1
    for r in range(N_AGENTS * N_OBS):
        last = math.log(X[r * N_ACTIONS + m1])
        for a in range(m1):
            y[r * m1 + a] = math.log(X[r * N_ACTIONS + a]) - last


@numba.njit(cache=True)
def strategy_step(X, theta, alpha, beta, gamma, direction, out):
    """One step of crld-math section 4 in strategy coordinates (direction -1: reverse step)."""
    td = np.empty(NX)
    tderror(X, theta, alpha, beta, gamma, td)
    for r in range(N_AGENTS * N_OBS):
        i = r // N_OBS
        top = -np.inf
        for a in range(N_ACTIONS):
            top = max(top, direction * alpha[i] * td[r * N_ACTIONS + a])
        tot = 0.0
        for a in range(N_ACTIONS):
            w = X[r * N_ACTIONS + a] * math.exp(direction * alpha[i] * td[r * N_ACTIONS + a] - top)
            out[r * N_ACTIONS + a] = w
            tot += w
        for a in range(N_ACTIONS):
            out[r * N_ACTIONS + a] /= tot


@numba.njit(cache=True)
def _advance(X, y, theta, alpha, beta, gamma, direction, y_out):
    logit_step(X, y, theta, alpha, beta, gamma, y_out)
    if direction != 1.0:
        for k in range(N_FREE):
            y_out[k] = y[k] + direction * (y_out[k] - y[k])
    for k in range(N_FREE):
        if not math.isfinite(y_out[k]):
            return False
    return True


@numba.njit(cache=True)
def _run(y0, theta, alpha, beta, gamma, tmax, tol, direction, every, Xrec, X_final, y_final):
    """Iterate in log-ratio coordinates from y0.

    Records X, computes the next X, stops when ||X_next - X||_2 < tol (the converged
    next X is not recorded) or after tmax recorded strategies. Every ``every``-th
    recorded strategy is stored in ``Xrec`` (as many rows as it has).
    Returns (length, converged, status, n_stored); status 1 = non-finite numbers.
    X_final / y_final receive the last recorded strategy.
    """
    y = y0.copy()
    y_next = np.empty(N_FREE)
    X = np.empty(NX)
    X_next = np.empty(NX)
    strategy_of_logit(y, X)
    length = 0
    stored = 0
    converged = False
    status = 0
    while True:
        if length % every == 0 and stored < Xrec.shape[0]:
            Xrec[stored, :] = X
            stored += 1
        length += 1
        if length >= tmax:
            break
        if not _advance(X, y, theta, alpha, beta, gamma, direction, y_next):
            status = 1
            break
        strategy_of_logit(y_next, X_next)
        if tol > 0.0:
            d = 0.0
            for k in range(NX):
                d += (X_next[k] - X[k]) ** 2
            if math.sqrt(d) < tol:
                converged = True
                break
        y, y_next = y_next, y
        X, X_next = X_next, X
    X_final[:] = X
    y_final[:] = y
    return length, converged, status, stored


@numba.njit(cache=True)
def trajectory(y0, theta, alpha, beta, gamma, tmax, tol, direction, every, Xrec, X_final, y_final):
    return _run(y0, theta, alpha, beta, gamma, tmax, tol, direction, every, Xrec, X_final, y_final)


@numba.njit(cache=True, parallel=True)
def trajectories(Y0, Theta, Alpha, Beta, Gamma, tmax, tol, direction, every, Xrec,
                 lengths, converged, status, X_final, y_final):
    """Batch of independent trajectories (rows of Y0 and of the parameter arrays), in parallel.

    ``Xrec`` has shape (B, n_store, NX) (n_store may be 0 to keep final strategies only).
    """
    for b in numba.prange(Y0.shape[0]):
        n, c, st, _ = _run(Y0[b], Theta[b], Alpha[b], Beta[b], Gamma[b], tmax, tol, direction, every,
                           Xrec[b], X_final[b], y_final[b])
        lengths[b] = n
        converged[b] = c
        status[b] = st
'''

FO_STATIONARY = r'''

@numba.njit(cache=True)
def stationary(X, theta, out):
    """Stationary distribution Ps of Tss (Ps Tss = Ps, sum Ps = 1); False if not unique."""
    Tss = np.empty(N_STATES * N_STATES)
    Ris = np.empty(N_AGENTS * N_STATES)
    Tisas = np.empty(N_AGENTS * N_STATES * N_ACTIONS * N_STATES)
    Risa = np.empty(N_AGENTS * N_STATES * N_ACTIONS)
    averages(X, theta, Tss, Ris, Tisas, Risa)
    A = np.empty((N_STATES, N_STATES))
    B = np.zeros((N_STATES, 1))
    for r in range(N_STATES):
        for c in range(N_STATES):
            A[r, c] = Tss[c * N_STATES + r] - (1.0 if r == c else 0.0)
    for c in range(N_STATES):
        A[N_STATES - 1, c] = 1.0
    B[N_STATES - 1, 0] = 1.0
    ok = _solve(A, B)
    for s in range(N_STATES):
        out[s] = B[s, 0]
    return ok
'''
