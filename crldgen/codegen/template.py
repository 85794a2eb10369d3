"""The game-independent part of every generated module (text only).

These functions use the module constants ``N_AGENTS, N_OBS, N_ACTIONS, N_FREE, N_WORK``
and the game kernels ``tderror``, ``logit_step_w`` (``logit_step`` with a caller-provided
work array of ``N_WORK`` entries, allocated once per loop), ``averages`` defined above them.
Strategies are flat arrays ``X[(i*N_OBS + o)*N_ACTIONS + a]``; log-ratio coordinates
``y[(i*N_OBS + o)*(N_ACTIONS-1) + a] = ln(X[..a] / X[..M-1])``.
"""


def decorator(name: str) -> str:
    """The ``@numba.njit`` line of the generated function ``name``.

    Every kernel is compiled on its first call and cached beside its module file. numba
    would also build a C-callable (cfunc) wrapper for each one, which crldgen never calls
    (``no_cfunc_wrapper``); the ``_``-prefixed helpers are called only from other kernels,
    so they get no Python entry point either (``no_cpython_wrapper``; the loader makes a
    Python call of one raise a ``TypeError`` instead of reaching numba's missing entry
    point). For the chapter's module that is 3.5 s of compiling instead of 4.1 s.
    """
    inner = ", no_cpython_wrapper=True" if name.startswith("_") else ""
    return f"@numba.njit(cache=True, no_cfunc_wrapper=True{inner})"


TEMPLATE = r'''
# ---------------------------------------------------------------------------
# Game-independent helpers and loops (crldgen template)
# ---------------------------------------------------------------------------
NX = N_AGENTS * N_OBS * N_ACTIONS


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _solve(A, B, n, k):
    """Solve A Z = B in place (B <- Z) by Gaussian elimination with partial pivoting.

    ``A`` is a flat row-major n x n array, ``B`` a flat row-major n x k array (flat arrays
    compile several times faster in numba than 2-d ones). Returns False (and fills B
    with NaN) when A is numerically singular.
    """
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


@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_of_strategy(X, y):
    m1 = N_ACTIONS - 1
    for r in range(N_AGENTS * N_OBS):
        last = math.log(X[r * N_ACTIONS + m1])
        for a in range(m1):
            y[r * m1 + a] = math.log(X[r * N_ACTIONS + a]) - last


@numba.njit(cache=True, no_cfunc_wrapper=True)
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


# --- iteration loops (crldgen.iterate drives these; the whole loop runs compiled) ---
#: version of the loop kernels' calling convention; crldgen.iterate checks it
LOOP_API = 5
#: kernel status codes
STATUS_OK = 0          # converged or reached tmax
STATUS_NONFINITE = 1   # the update produced a non-finite log-ratio (run stopped before it)
STATUS_FULL = 2        # the record buffer is full; resume from (X_out, y_out) at count t
STATUS_NOT_RUN = 3     # (sweeps) not run because an earlier value diverged


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _copy(src, dst):
    """dst[k] = src[k] for 1-d arrays (an explicit loop: numba compiles ``dst[:] = src``
    through its generic slice-assignment machinery, which costs seconds on a cold cache)."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_of_logit(y, X):
    """X = softmax of (y, 0) per row with M-1 exponentials (the largest entry's is 1).

    Probabilities below ~1e-308 underflow to exactly 0.0; rows still sum to 1.
    """
    m1 = N_ACTIONS - 1
    for r in range(N_AGENTS * N_OBS):
        if N_ACTIONS == 2:
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
            for a in range(N_ACTIONS):
                if a == arg:
                    e = 1.0
                elif a == m1:
                    e = math.exp(-top)
                else:
                    e = math.exp(y[r * m1 + a] - top)
                X[r * N_ACTIONS + a] = e
                tot += e
            inv = 1.0 / tot
            for a in range(N_ACTIONS):
                X[r * N_ACTIONS + a] *= inv


@numba.njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def trajectory(X0, y0, t0, theta, alpha, beta, gamma, tmax, tol, direction, every, Xrec, X_out, y_out):
    """One trajectory: iterate in log-ratio coordinates from (X0, y0); X0 must be softmax(y0).

    The chapter's rule: record X, compute the next X, stop when ||X_next - X||_2 < tol
    (the converged next X is not recorded) or once tmax strategies are recorded
    (``tol <= 0``: never converge). ``t0`` strategies count as recorded already
    (resuming a run). Recorded strategies with count ``t % every == 0`` are stored in
    the rows of ``Xrec`` (``every <= 0``: store none). ``X_out``/``y_out`` receive the
    last recorded strategy.

    Returns ``(t, converged, status, n_stored)``: ``t`` strategies recorded in total.
    With ``STATUS_FULL`` the run stopped before recording strategy number ``t``, which
    is in ``X_out``/``y_out``: resume with ``t0 = t`` and a fresh buffer.

    Releases the GIL: ``crldgen.iterate`` runs the members of a batch and the values of
    a sweep through this one kernel, on threads (no separate batch or sweep kernel to
    compile).
    """
    y = np.empty(N_FREE)
    _copy(y0, y)
    X = np.empty(NX)
    _copy(X0, X)
    y_next = np.empty(N_FREE)
    X_next = np.empty(NX)
    work = np.empty(N_WORK)  # scratch of the game kernels, allocated once per run
    cap = Xrec.shape[0]
    check = tol > 0.0
    # compare squared distances first; the exact test sqrt(d) < tol only near the threshold
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
                for k in range(NX):
                    Xrec[stored, k] = X[k]
                stored += 1
                countdown = every
            countdown -= 1
        t += 1
        # the update, written out here (not in a helper) so that LLVM inlines the step
        # into this loop and hoists what depends on the parameters only
        logit_step_w(X, y, theta, alpha, beta, gamma, y_next, work)
        if direction != 1.0:
            for k in range(N_FREE):
                y_next[k] = y[k] + direction * (y_next[k] - y[k])
        total = 0.0
        for k in range(N_FREE):
            total += y_next[k]
        if not math.isfinite(total):
            status = STATUS_NONFINITE
            break
        strategy_of_logit(y_next, X_next)
        if check:
            d = 0.0
            for k in range(NX):
                d += (X_next[k] - X[k]) ** 2
            if d < tol2 and math.sqrt(d) < tol:
                converged = True
                break
        if t >= tmax:
            break
        y, y_next = y_next, y
        X, X_next = X_next, X
    _copy(X, X_out)
    _copy(y, y_out)
    return t, converged, status, stored
'''

FO_STATIONARY = r'''

@numba.njit(cache=True, no_cfunc_wrapper=True)
def stationary(X, theta, out):
    """Stationary distribution Ps of Tss (Ps Tss = Ps, sum Ps = 1); False if not unique."""
    n = N_STATES
    Tss = np.empty(n * n)
    Ris = np.empty(N_AGENTS * n)
    Tisas = np.empty(N_AGENTS * n * N_ACTIONS * n)
    Risa = np.empty(N_AGENTS * n * N_ACTIONS)
    averages(X, theta, Tss, Ris, Tisas, Risa)
    # (Tss^T - Id) Ps = 0 with the last equation replaced by sum(Ps) = 1
    A = np.empty(n * n)
    for r in range(n):
        for c in range(n):
            A[r * n + c] = Tss[c * n + r] - (1.0 if r == c else 0.0)
    for c in range(n):
        A[(n - 1) * n + c] = 1.0
    for s in range(n):
        out[s] = 0.0
    out[n - 1] = 1.0
    return _solve(A, out, n, 1)
'''

#: checked single-call kernels (crldgen.runtime.dynamics calls these on every user call):
#: one compiled pass validates the input and the result and returns a status code; the
#: detailed error message is built in Python only when the status is not CHECK_OK
CHECKED_TEMPLATE = r'''
# --- checked kernels: validate input and result in the same compiled call ---
#: status codes of the checked kernels
CHECK_OK = 0           # valid input, finite result
CHECK_BAD_INPUT = 1    # the input failed the check; nothing was written
CHECK_NONFINITE = 2    # an intermediate (TD error) or the result is not finite


@numba.njit(cache=True, no_cfunc_wrapper=True)
def all_finite(a):
    """True when every entry of the 1-d array a is finite."""
    for k in range(a.shape[0]):
        if not math.isfinite(a[k]):
            return False
    return True


@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_ok(X, interior, atol):
    """X (flat) is finite, >= 0 (> 0 with ``interior``) and every row sums to 1 within atol."""
    for r in range(N_AGENTS * N_OBS):
        tot = 0.0
        for a in range(N_ACTIONS):
            x = X[r * N_ACTIONS + a]
            if not (x >= 0.0 and x <= 1.0 + atol):  # NaN and inf fail too
                return False
            if interior and x == 0.0:
                return False
            tot += x
        if abs(tot - 1.0) > atol:
            return False
    return True


@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_from_logs(logs, y):
    """y[(i*N_OBS + o)*(M-1) + a] = logs[.. a] - logs[.. M-1]: log-ratios from the logs of a strategy
    (crldgen.iterate takes the logs with numpy, as its batch path does, so both agree bit for bit)."""
    m1 = N_ACTIONS - 1
    for r in range(N_AGENTS * N_OBS):
        last = logs[r * N_ACTIONS + m1]
        for a in range(m1):
            y[r * m1 + a] = logs[r * N_ACTIONS + a] - last


@numba.njit(cache=True, no_cfunc_wrapper=True)
def checked_strategy_step(X, theta, alpha, beta, gamma, direction, atol, out):
    """``strategy_step`` (the same arithmetic) after checking X; returns a CHECK_* status.

    ``out`` may be ``X`` (in-place update): every X entry is read before its out entry
    is written.
    """
    if not strategy_ok(X, np.bool_(True), atol):  # bool, not Literal[bool]: one compiled strategy_ok
        return CHECK_BAD_INPUT
    td = np.empty(NX)
    tderror(X, theta, alpha, beta, gamma, td)
    if not all_finite(td):
        return CHECK_NONFINITE
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
    if not all_finite(out):
        return CHECK_NONFINITE
    return CHECK_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def checked_tderror(X, theta, alpha, beta, gamma, interior, atol, out):
    """``tderror`` after checking X (``interior``: strictly positive); returns a CHECK_* status."""
    if not strategy_ok(X, interior, atol):
        return CHECK_BAD_INPUT
    tderror(X, theta, alpha, beta, gamma, out)
    if not all_finite(out):
        return CHECK_NONFINITE
    return CHECK_OK


@numba.njit(cache=True, no_cfunc_wrapper=True)
def checked_logit_step(y, theta, alpha, beta, gamma, out):
    """``logit_step`` at X = softmax(y) after checking that y is finite; returns a CHECK_* status."""
    if not all_finite(y):
        return CHECK_BAD_INPUT
    X = np.empty(NX)
    strategy_of_logit(y, X)
    logit_step(X, y, theta, alpha, beta, gamma, out)
    if not all_finite(out):
        return CHECK_NONFINITE
    return CHECK_OK
'''

#: game tensors at run-time parameters; uses the generated ``_prob``/``_reward`` value
#: kernels and the ``_T_INDEX``/``_O_INDEX``/``_R_INDEX`` tables emitted above it
GAME_TENSORS_TEMPLATE = r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def game_tensors(theta, T, R, O):
    """T, R and O (flat, shapes T_SHAPE, R_SHAPE, O_SHAPE) at the game parameters theta."""
    v = np.empty(N_PROB_VALUES)
    _prob(theta, v)
    for k in range(_T_INDEX.shape[0]):
        T[k] = v[_T_INDEX[k]]
    if FULLY_OBSERVED:
        n = N_STATES
        for i in range(N_AGENTS):
            for s in range(n):
                for o in range(n):
                    O[(i * n + s) * n + o] = 1.0 if s == o else 0.0
    else:
        for k in range(_O_INDEX.shape[0]):
            O[k] = v[_O_INDEX[k]]
    r = np.empty(N_REWARD_VALUES)
    _reward(theta, r)
    for k in range(_R_INDEX.shape[0]):
        R[k] = r[_R_INDEX[k]]


@numba.njit(cache=True, no_cfunc_wrapper=True)
def check_game(theta, entry_atol, row_atol):
    """Are T and O probabilities at theta? Returns ``(code, flat index, value)``.

    Entries must lie in [-entry_atol, 1 + entry_atol] (non-finite ones fail), rows sum
    to 1 within row_atol. Codes: GT_OK, GT_T_ENTRY (index into T, the entry),
    GT_T_ROW (index of the row T[s, a.., :], its sum), GT_O_ENTRY, GT_O_ROW.
    """
    v = np.empty(N_PROB_VALUES)
    _prob(theta, v)
    lo = -entry_atol
    hi = 1.0 + entry_atol
    n_t = _T_INDEX.shape[0]
    for k in range(n_t):
        x = v[_T_INDEX[k]]
        if not (x >= lo and x <= hi):
            return GT_T_ENTRY, k, x
    for r in range(n_t // N_STATES):
        tot = 0.0
        for c in range(N_STATES):
            tot += v[_T_INDEX[r * N_STATES + c]]
        if abs(tot - 1.0) > row_atol:
            return GT_T_ROW, r, tot
    if not FULLY_OBSERVED:
        n_o = _O_INDEX.shape[0]
        for k in range(n_o):
            x = v[_O_INDEX[k]]
            if not (x >= lo and x <= hi):
                return GT_O_ENTRY, k, x
        for r in range(n_o // N_OBS):
            tot = 0.0
            for c in range(N_OBS):
                tot += v[_O_INDEX[r * N_OBS + c]]
            if abs(tot - 1.0) > row_atol:
                return GT_O_ROW, r, tot
    return GT_OK, 0, 0.0


@numba.njit(cache=True, no_cfunc_wrapper=True)
def check_game_rows(Theta, entry_atol, row_atol, codes, index, value):
    """check_game for every row b of Theta (B, P); returns the first row that fails, or -1."""
    for b in range(Theta.shape[0]):
        c, k, x = check_game(Theta[b], entry_atol, row_atol)
        codes[b] = c
        index[b] = k
        value[b] = x
    for b in range(Theta.shape[0]):
        if codes[b] != GT_OK:
            return b
    return -1
'''

#: members side by side in the vectorised batch kernel (``crldgen.runtime.lanes.LANES``):
#: the generator prints ``logit_step_lanes`` with this stride as literal offsets
LANES = 64

#: printed before ``logit_step_lanes`` (see ``generator.lanes_source``)
LANES_TEMPLATE = r'''
#: members side by side in a block of the vectorised batch kernel (crldgen.runtime.lanes, which
#: drives logit_step_lanes through its address and does the softmax and bookkeeping itself)
LANES = @LANES@
'''

#: row-batch kernels for many independent points (flow fields): one compiled call instead
#: of a Python call per point; the same arithmetic as the single-point kernels
ROWS_TEMPLATE = r'''
# --- row batches: the single-point kernels over the rows of 2-d arrays, in one compiled call ---
@numba.njit(cache=True, no_cfunc_wrapper=True)
def tderror_rows(Xs, theta, alpha, beta, gamma, out):
    """``tderror`` at every row k of Xs (K, NX) into out[k] (shared parameters)."""
    for k in range(Xs.shape[0]):
        tderror(Xs[k], theta, alpha, beta, gamma, out[k])


@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_step_rows(Xs, theta, alpha, beta, gamma, direction, out):
    """``strategy_step`` at every row k of Xs (K, NX) into out[k] (shared parameters)."""
    for k in range(Xs.shape[0]):
        strategy_step(Xs[k], theta, alpha, beta, gamma, direction, out[k])
'''


# ------------------------------------------------------------------ heterogeneous games
#: Row-table versions of the template functions for heterogeneous games (agent ``i`` has
#: ``M_i`` actions, ``Q_i`` observations; see :mod:`crldgen.ragged`). A heterogeneous module
#: defines ``N_ROWS`` and the int64 tables ``ROW_AGENT, ROW_OBS, ROW_M, ROW_X, ROW_Y``
#: (row ``r`` = ``(agent, observation)``, agent-major: ``X[ROW_X[r] + a]`` for
#: ``a < ROW_M[r]``, ``y[ROW_Y[r] + a]`` for ``a < ROW_M[r] - 1``), ``NX`` (``sum_i Q_i M_i``),
#: ``N_TISAS``, ``N_RISA`` and ``OBS_COUNTS_ARR``; the generator substitutes these functions
#: by name into the uniform template text (the same arithmetic per row).
RAGGED_FUNCTIONS = {
    "logit_of_strategy": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_of_strategy(X, y):
    for r in range(N_ROWS):
        m1 = ROW_M[r] - 1
        x0 = ROW_X[r]
        y0 = ROW_Y[r]
        last = math.log(X[x0 + m1])
        for a in range(m1):
            y[y0 + a] = math.log(X[x0 + a]) - last
''',
    "strategy_step": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_step(X, theta, alpha, beta, gamma, direction, out):
    """One step of crld-math section 4 in strategy coordinates (direction -1: reverse step)."""
    td = np.empty(NX)
    tderror(X, theta, alpha, beta, gamma, td)
    for r in range(N_ROWS):
        i = ROW_AGENT[r]
        m = ROW_M[r]
        x0 = ROW_X[r]
        top = -np.inf
        for a in range(m):
            top = max(top, direction * alpha[i] * td[x0 + a])
        tot = 0.0
        for a in range(m):
            w = X[x0 + a] * math.exp(direction * alpha[i] * td[x0 + a] - top)
            out[x0 + a] = w
            tot += w
        for a in range(m):
            out[x0 + a] /= tot
''',
    "strategy_of_logit": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_of_logit(y, X):
    """X = softmax of (y, 0) per row with M_r-1 exponentials (the largest entry's is 1).

    Probabilities below ~1e-308 underflow to exactly 0.0; rows still sum to 1.
    """
    for r in range(N_ROWS):
        m = ROW_M[r]
        m1 = m - 1
        x0 = ROW_X[r]
        y0 = ROW_Y[r]
        if m == 2:
            v = y[y0]
            e = math.exp(-abs(v))
            inv = 1.0 / (1.0 + e)
            if v > 0.0:
                X[x0] = inv
                X[x0 + 1] = e * inv
            else:
                X[x0] = e * inv
                X[x0 + 1] = inv
        else:
            top = 0.0
            arg = m1
            for a in range(m1):
                if y[y0 + a] > top:
                    top = y[y0 + a]
                    arg = a
            tot = 0.0
            for a in range(m):
                if a == arg:
                    e = 1.0
                elif a == m1:
                    e = math.exp(-top)
                else:
                    e = math.exp(y[y0 + a] - top)
                X[x0 + a] = e
                tot += e
            inv = 1.0 / tot
            for a in range(m):
                X[x0 + a] *= inv
''',
    "strategy_ok": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def strategy_ok(X, interior, atol):
    """X (flat) is finite, >= 0 (> 0 with ``interior``) and every row sums to 1 within atol."""
    for r in range(N_ROWS):
        x0 = ROW_X[r]
        tot = 0.0
        for a in range(ROW_M[r]):
            x = X[x0 + a]
            if not (x >= 0.0 and x <= 1.0 + atol):  # NaN and inf fail too
                return False
            if interior and x == 0.0:
                return False
            tot += x
        if abs(tot - 1.0) > atol:
            return False
    return True
''',
    "logit_from_logs": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def logit_from_logs(logs, y):
    """y[ROW_Y[r] + a] = logs[ROW_X[r] + a] - logs[ROW_X[r] + M_r - 1]: log-ratios from the logs of a strategy
    (crldgen.iterate takes the logs with numpy, as its batch path does, so both agree bit for bit)."""
    for r in range(N_ROWS):
        m1 = ROW_M[r] - 1
        x0 = ROW_X[r]
        y0 = ROW_Y[r]
        last = logs[x0 + m1]
        for a in range(m1):
            y[y0 + a] = logs[x0 + a] - last
''',
    "checked_strategy_step": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def checked_strategy_step(X, theta, alpha, beta, gamma, direction, atol, out):
    """``strategy_step`` (the same arithmetic) after checking X; returns a CHECK_* status.

    ``out`` may be ``X`` (in-place update): every X entry is read before its out entry
    is written.
    """
    if not strategy_ok(X, np.bool_(True), atol):  # bool, not Literal[bool]: one compiled strategy_ok
        return CHECK_BAD_INPUT
    td = np.empty(NX)
    tderror(X, theta, alpha, beta, gamma, td)
    if not all_finite(td):
        return CHECK_NONFINITE
    for r in range(N_ROWS):
        i = ROW_AGENT[r]
        m = ROW_M[r]
        x0 = ROW_X[r]
        top = -np.inf
        for a in range(m):
            top = max(top, direction * alpha[i] * td[x0 + a])
        tot = 0.0
        for a in range(m):
            w = X[x0 + a] * math.exp(direction * alpha[i] * td[x0 + a] - top)
            out[x0 + a] = w
            tot += w
        for a in range(m):
            out[x0 + a] /= tot
    if not all_finite(out):
        return CHECK_NONFINITE
    return CHECK_OK
''',
    "stationary": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def stationary(X, theta, out):
    """Stationary distribution Ps of Tss (Ps Tss = Ps, sum Ps = 1); False if not unique."""
    n = N_STATES
    Tss = np.empty(n * n)
    Ris = np.empty(N_AGENTS * n)
    Tisas = np.empty(N_TISAS)
    Risa = np.empty(N_RISA)
    averages(X, theta, Tss, Ris, Tisas, Risa)
    # (Tss^T - Id) Ps = 0 with the last equation replaced by sum(Ps) = 1
    A = np.empty(n * n)
    for r in range(n):
        for c in range(n):
            A[r * n + c] = Tss[c * n + r] - (1.0 if r == c else 0.0)
    for c in range(n):
        A[(n - 1) * n + c] = 1.0
    for s in range(n):
        out[s] = 0.0
    out[n - 1] = 1.0
    return _solve(A, out, n, 1)
''',

    "check_game": r'''
@numba.njit(cache=True, no_cfunc_wrapper=True)
def check_game(theta, entry_atol, row_atol):
    """Are T and O probabilities at theta? Returns ``(code, flat index, value)``.

    Entries must lie in [-entry_atol, 1 + entry_atol] (non-finite ones fail), rows sum
    to 1 within row_atol. Codes: GT_OK, GT_T_ENTRY (index into T, the entry),
    GT_T_ROW (index of the row T[s, a.., :], its sum), GT_O_ENTRY (index into the flat O,
    the concatenation of every agent's O_i (Z, Q_i)), GT_O_ROW (row i*Z + s: O_i[s, :]).
    """
    v = np.empty(N_PROB_VALUES)
    _prob(theta, v)
    lo = -entry_atol
    hi = 1.0 + entry_atol
    n_t = _T_INDEX.shape[0]
    for k in range(n_t):
        x = v[_T_INDEX[k]]
        if not (x >= lo and x <= hi):
            return GT_T_ENTRY, k, x
    for r in range(n_t // N_STATES):
        tot = 0.0
        for c in range(N_STATES):
            tot += v[_T_INDEX[r * N_STATES + c]]
        if abs(tot - 1.0) > row_atol:
            return GT_T_ROW, r, tot
    if not FULLY_OBSERVED:
        n_o = _O_INDEX.shape[0]
        for k in range(n_o):
            x = v[_O_INDEX[k]]
            if not (x >= lo and x <= hi):
                return GT_O_ENTRY, k, x
        k0 = 0
        for i in range(N_AGENTS):
            q = OBS_COUNTS_ARR[i]
            for s in range(N_STATES):
                tot = 0.0
                for c in range(q):
                    tot += v[_O_INDEX[k0 + s * q + c]]
                if abs(tot - 1.0) > row_atol:
                    return GT_O_ROW, i * N_STATES + s, tot
            k0 += N_STATES * q
    return GT_OK, 0, 0.0
''',
}


def replace_functions(text: str, functions: dict) -> str:
    """``text`` with each ``@numba.njit ... def name(...)`` block replaced by ``functions[name]``.

    A block runs from its decorator to the next two blank lines (or the end of the text);
    a name missing from ``text`` is an error (the template and this table went apart).
    """
    import re

    for name, source in functions.items():
        pattern = re.compile(r"@numba\.njit[^\n]*\ndef " + re.escape(name) + r"\(.*?(?=\n\n\n|\Z)", re.S)
        if len(pattern.findall(text)) > 1:
            raise ValueError(f"template function {name} appears more than once")
        text, n = pattern.subn(lambda _m: source.strip("\n"), text)
        if n != 1:
            raise KeyError(f"template function {name} not found")
    return text
