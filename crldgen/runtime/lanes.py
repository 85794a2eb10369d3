"""The vectorised batch kernel: one compiled driver for every game, the game's step through its address.

A batch of at least ``crldgen.iterate.LANES_MIN_MEMBERS`` members runs in blocks of
:data:`LANES` members side by side in structure-of-arrays layout (entry k of member b of a
block at ``k * LANES + b`` of flat work arrays), so the step, the softmax, the distances and
the finiteness test are loops over members that LLVM vectorises. :func:`lanes_block` gives
``trajectory``'s results per member (with libm's exp, bit for bit).

Only the step is the game's: ``logit_step_lanes`` of the generated module (the lines of
its ``_stage1``, ``_stage2`` and ``logit_step_w`` inside one loop over the members, on raw
pointers), compiled with ``numba.cfunc`` (signature :data:`STEP_SIGNATURE`, cached on disk
beside the module like its other kernels) and called through its address. Everything else
here (the block bookkeeping, the softmax, the vectorised exp) is compiled once per
installation into numba's cache (~17 s), so a new game pays for its step only (the
chapter's game: ~0.5 s instead of ~6 s, when the whole block was compiled per game). The
throughput is the per-game kernel's (``benchmarks/bench_lanes_ab.py``): the indirect call
costs nanoseconds per block step of 64 members, and for 2, 4 or 8 rows of two actions and
2 or 4 rows of three the row count is a compile-time constant of the softmax.
"""

from __future__ import annotations

import math
import sys
import threading

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from . import inner, typing_memo

typing_memo.install()

#: members in flight per block of :func:`lanes_block` (the width of its vector loops); the
#: generator prints ``logit_step_lanes`` with this stride as literal offsets
LANES = 64
#: members per task (one :func:`lanes_block` call) that crldgen.iterate uses at most
LANE_CHUNK = 256
#: ``trajectory``'s status codes (``LOOP_API`` 5 of the generated modules)
STATUS_OK, STATUS_NONFINITE, STATUS_FULL = 0, 1, 2

#: C signature of a game's ``logit_step_lanes``: ``(X, y, theta, alpha, beta, gamma, y_out, n)``,
#: seven ``double *`` (flat SoA arrays with stride LANES) and the number of members in flight
STEP_SIGNATURE = types.void(*([types.CPointer(types.float64)] * 7), types.int64)


@intrinsic
def _call_step(typingctx, step, X, y, th, al, be, ga, y_out, n):
    """Call the ``void(double *, ... 7, int64)`` function at address ``step`` on the arrays' data."""
    sig = types.void(step, X, y, th, al, be, ga, y_out, n)

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType().as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [dbl] * 7 + [ir.IntType(64)])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        data = [context.make_array(ty)(context, builder, v).data for ty, v in zip(signature.args[1:8], args[1:8])]
        builder.call(fn, data + [args[8]])
        return context.get_dummy_value()

    return sig, codegen


#: exp of the vectorised softmax (``fast=True`` in ``lanes_block``): Cody-Waite
#: reduction x = k ln2 + r, |r| <= ln2/2 (fdlibm's two-part ln2), the degree-13 Taylor
#: polynomial of exp(r) (truncation below 1e-17), scaled by 2**k built from bits in two
#: factors (subnormal results stay right); within 1 ulp of libm's exp, no table, no branch
_EXP_INVLN2 = 1.4426950408889634
_EXP_LN2HI = 6.93147180369123816490e-01
_EXP_LN2LO = 1.90821492927058770002e-10
_EXP_SHIFT = 6755399441055744.0  # 1.5 * 2**52: kd = x / ln2 + SHIFT holds round(x / ln2) in its low bits
_EXP_SHIFT_BITS = 4843621399236968448  # the bits of _EXP_SHIFT


@numba.njit(cache=True, error_model="numpy", no_cfunc_wrapper=True)  # (tests call it from Python)
def _exp_lanes(a, n, s1, s2):
    """a[b] = exp(a[b]) for b < n, every argument <= 0 or NaN; s1, s2: scratch of >= n doubles."""
    k1 = s1.view(np.int64)
    k2 = s2.view(np.int64)
    for b in range(n):
        v = a[b]
        v = -1400.0 if v < -1400.0 else v  # exp underflows to 0 from -745.2 on; NaN stays NaN
        kd = v * _EXP_INVLN2 + _EXP_SHIFT
        s1[b] = kd
        kd = kd - _EXP_SHIFT
        r = (v - kd * _EXP_LN2HI) - kd * _EXP_LN2LO
        p = 1.0 / 6227020800.0
        p = 1.0 / 479001600.0 + r * p
        p = 1.0 / 39916800.0 + r * p
        p = 1.0 / 3628800.0 + r * p
        p = 1.0 / 362880.0 + r * p
        p = 1.0 / 40320.0 + r * p
        p = 1.0 / 5040.0 + r * p
        p = 1.0 / 720.0 + r * p
        p = 1.0 / 120.0 + r * p
        p = 1.0 / 24.0 + r * p
        p = 1.0 / 6.0 + r * p
        p = 0.5 + r * p
        p = 1.0 + r * p
        a[b] = 1.0 + r * p
    for b in range(n):  # 2**k = 2**h * 2**(k - h), h = k >> 1: both normal for k >= -2044
        k = k1[b] - _EXP_SHIFT_BITS
        h = k >> 1
        k1[b] = (h + 1023) << 52
        k2[b] = (k - h + 1023) << 52
    for b in range(n):
        a[b] = a[b] * s1[b] * s2[b]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _exp_work(e, m, t1, t2, fast):
    """e[k] = exp(e[k]) for k < m in one vector loop: ``_exp_lanes`` (scratch t1, t2) if fast, else libm's."""
    if fast:
        _exp_lanes(e, m, t1, t2)
    else:  # libm's exp, the scalar kernel's bit for bit
        for k in range(m):
            e[k] = math.exp(e[k])


@numba.njit(cache=True, error_model="numpy", inline="always")
def _binary_logit_lanes(y, X, n, e, t1, t2, fast, n_rows):
    """``strategy_of_logit_lanes`` when every row has two actions (row r: X at 2r, 2r+1, y at r).

    The exponents of the ``n`` members in flight are packed into ``e`` (row r at
    ``r * n``), their exponentials taken in one vector loop, then the two probabilities
    of each row written: one long loop instead of one per row (more than twice as fast
    for the chapter's game), no work for idle columns, the same arithmetic. ``e, t1,
    t2``: scratch arrays of ``n_rows * n`` doubles or more.
    """
    m = n_rows * n
    if n == LANES:  # a full block: the rows of y are contiguous already (one flat loop, faster)
        for k in range(m):
            e[k] = -abs(y[k])
    else:
        for r in range(n_rows):
            for b in range(n):
                e[r * n + b] = -abs(y[r * LANES + b])
    _exp_work(e, m, t1, t2, fast)
    for r in range(n_rows):
        for b in range(n):
            v = y[r * LANES + b]
            ex = e[r * n + b]
            inv = 1.0 / (1.0 + ex)
            small = ex * inv
            pos = v > 0.0
            X[(2 * r) * LANES + b] = inv if pos else small
            X[(2 * r + 1) * LANES + b] = small if pos else inv


@numba.njit(cache=True, error_model="numpy", inline="always")
def _row_exponents(y, e, n, s1, x0, y0, m):
    """The softmax exponents of a row of ``m > 2`` actions into ``e`` (entry a at ``(x0 + a) n``).

    exp(y_a - top) with y_{m-1} = 0 and top = max(0, y): the scalar kernel's 1.0 for the
    largest entry is exp(0) = 1.0 exactly, and its exp(-top) is exp(0.0 - top).
    """
    m1 = m - 1
    for b in range(n):
        s1[b] = 0.0
    for a in range(m1):
        for b in range(n):
            v = y[(y0 + a) * LANES + b]
            s1[b] = v if v > s1[b] else s1[b]
    for a in range(m1):
        for b in range(n):
            e[(x0 + a) * n + b] = y[(y0 + a) * LANES + b] - s1[b]
    for b in range(n):
        e[(x0 + m1) * n + b] = 0.0 - s1[b]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _row_normalise(e, X, n, s1, x0, m):
    """X of a row of ``m > 2`` actions from its exponentials in ``e``: each divided by their sum."""
    for b in range(n):
        s1[b] = 0.0
    for a in range(m):
        for b in range(n):
            s1[b] += e[(x0 + a) * n + b]
    for b in range(n):
        s1[b] = 1.0 / s1[b]
    for a in range(m):
        for b in range(n):
            X[(x0 + a) * LANES + b] = e[(x0 + a) * n + b] * s1[b]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _uniform_logit_lanes(y, X, n, s1, e, t1, t2, fast, n_rows, M):
    """``strategy_of_logit_lanes`` when every row has the same ``M > 2`` actions (row r: X at r M, y at r (M - 1)).

    Exponents packed into ``e`` (entry a of row r at ``(r M + a) n``), one vector loop
    of exponentials, then each row normalised into X; the same arithmetic, without the
    row tables' loads. ``e, t1, t2``: scratch arrays of ``n_rows * M * n`` doubles or
    more.
    """
    for r in range(n_rows):
        _row_exponents(y, e, n, s1, r * M, r * (M - 1), M)
    _exp_work(e, n_rows * M * n, t1, t2, fast)
    for r in range(n_rows):
        _row_normalise(e, X, n, s1, r * M, M)


@numba.njit(cache=True, error_model="numpy", inline="always")
def strategy_of_logit_lanes(y, X, n, s1, e, t1, t2, fast, row_m, row_x, row_y):
    """strategy_of_logit for members b < n (flat SoA arrays, entry k of member b at k * LANES + b).

    Row r (an agent's observation) has ``row_m[r]`` actions, its strategy at ``X[row_x[r] +
    a]``, its log-ratios at ``y[row_y[r] + a]`` (a member's flat layout; the rows fill X).
    The exponents are packed into ``e`` (entry k of the layout at ``k n``), their
    exponentials taken in one vector loop (libm's exp, or ``_exp_lanes`` when fast), then
    each row normalised into X. With libm's exp the results are the scalar kernel's bit for
    bit. ``e, t1, t2``: scratch arrays of ``nx * n`` doubles or more.
    """
    n_rows = row_m.shape[0]
    for r in range(n_rows):
        x0 = row_x[r]
        if row_m[r] == 2:  # exp(-|y|) in the second entry (the first: exp(0), unused)
            for b in range(n):
                e[x0 * n + b] = 0.0
                e[(x0 + 1) * n + b] = -abs(y[row_y[r] * LANES + b])
        else:
            _row_exponents(y, e, n, s1, x0, row_y[r], row_m[r])
    _exp_work(e, (row_x[n_rows - 1] + row_m[n_rows - 1]) * n, t1, t2, fast)
    for r in range(n_rows):
        x0 = row_x[r]
        if row_m[r] == 2:
            y0 = row_y[r]
            for b in range(n):
                v = y[y0 * LANES + b]
                ex = e[(x0 + 1) * n + b]
                inv = 1.0 / (1.0 + ex)
                small = ex * inv
                pos = v > 0.0
                X[x0 * LANES + b] = inv if pos else small
                X[(x0 + 1) * LANES + b] = small if pos else inv
        else:
            _row_normalise(e, X, n, s1, x0, row_m[r])


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _lane_load(m, lane, X0, Y0, T0, Theta, Alpha, Beta, Gamma, every, X, y, th, al, be, ga, mem, t, cd, ns):
    """Put member m into column ``lane`` of the block's arrays (fresh: nothing recorded yet)."""
    for k in range(X0.shape[1]):
        X[k * LANES + lane] = X0[m, k]
    for k in range(Y0.shape[1]):
        y[k * LANES + lane] = Y0[m, k]
    for p in range(Theta.shape[1]):
        th[p * LANES + lane] = Theta[m, p]
    for i in range(Alpha.shape[1]):
        al[i * LANES + lane] = Alpha[m, i]
        be[i * LANES + lane] = Beta[m, i]
        ga[i * LANES + lane] = Gamma[m, i]
    mem[lane] = m
    t[lane] = T0[m]
    ns[lane] = 0
    cd[lane] = (every - T0[m] % every) % every if every > 0 else 0


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _lane_move(src, dst, X, y, th, al, be, ga, mem, t, cd, ns):
    """Move the member in column src to column dst (compaction of the block)."""
    for k in range(X.shape[0] // LANES):
        X[k * LANES + dst] = X[k * LANES + src]
    for k in range(y.shape[0] // LANES):
        y[k * LANES + dst] = y[k * LANES + src]
    for p in range(th.shape[0] // LANES):
        th[p * LANES + dst] = th[p * LANES + src]
    for i in range(al.shape[0] // LANES):
        al[i * LANES + dst] = al[i * LANES + src]
        be[i * LANES + dst] = be[i * LANES + src]
        ga[i * LANES + dst] = ga[i * LANES + src]
    mem[dst] = mem[src]
    t[dst] = t[src]
    cd[dst] = cd[src]
    ns[dst] = ns[src]


@numba.njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _lane_finish(lane, X, y, mem, t, ns, conv, st, X_out, y_out, lengths, converged, status, stored):
    """Write the results of the member in column ``lane`` (its last recorded strategy, X[k * LANES + lane])."""
    m = mem[lane]
    for k in range(X_out.shape[1]):
        X_out[m, k] = X[k * LANES + lane]
    for k in range(y_out.shape[1]):
        y_out[m, k] = y[k * LANES + lane]
    lengths[m] = t[lane]
    converged[m] = conv
    status[m] = st
    stored[m] = ns[lane]


@numba.njit(cache=True, error_model="numpy", nogil=True, no_cfunc_wrapper=True)
def lanes_block(lo, hi, step, row_m, row_x, row_y, X0, Y0, T0, Theta, Alpha, Beta, Gamma, tmax, tol, direction,
                every, Xrec, X_out, y_out, lengths, converged, status, stored, fast):
    """Members lo <= m < hi of a batch through ``trajectory``'s rules, LANES at a time.

    ``step`` is the address of the game's compiled ``logit_step_lanes`` (:func:`step_of`),
    ``row_m, row_x, row_y`` the rows of its strategy layout (:func:`rows_of`). Row m of
    ``X0``, ``Y0``, ``T0``, ``Theta``, ``Alpha``, ``Beta``, ``Gamma`` are member m's
    ``trajectory`` arguments; ``Xrec`` (B, n_rows, NX) and the per-member outputs
    ``X_out``, ``y_out``, ``lengths``, ``converged``, ``status``, ``stored`` receive its
    results. ``fast=False``: the results are ``trajectory``'s bit for bit; ``fast=True``: the
    softmax's exponentials are vectorised too (``_exp_lanes``, within 1 ulp of libm's exp).
    ``crldgen.iterate.run_lanes`` runs blocks of a batch on several threads (this kernel
    releases the GIL).

    A member that stops (converged, non-finite, tmax, record buffer full) hands its column
    to the next waiting member, or, when none waits, to the block's last column
    (compaction), so the vector loops always run over the ``na`` members in flight.
    """
    L = LANES
    nx, nf, n_agents = X0.shape[1], Y0.shape[1], Alpha.shape[1]
    X = np.empty(nx * L)
    Xn = np.empty(nx * L)
    y = np.empty(nf * L)
    yn = np.empty(nf * L)
    th = np.empty(max(Theta.shape[1], 1) * L)
    al = np.empty(n_agents * L)
    be = np.empty(n_agents * L)
    ga = np.empty(n_agents * L)
    mem = np.empty(L, np.int64)
    t = np.empty(L, np.int64)
    cd = np.empty(L, np.int64)
    ns = np.empty(L, np.int64)
    tot = np.empty(L)
    dist = np.empty(L)
    s1 = np.empty(L)
    n_rows = row_m.shape[0]
    M = row_m[0]
    uniform = True  # every row has M actions (then row r starts at r M in X, at r (M - 1) in y)
    for r in range(n_rows):
        uniform = uniform and row_m[r] == M
    e = np.empty(nx * L)  # the softmax's scratch (exponents, and two for the vectorised exp)
    t1 = np.empty(nx * L)
    t2 = np.empty(nx * L)
    cap = Xrec.shape[1]
    check = tol > 0.0
    tol2 = tol * tol * (1.0 + 1e-12) if tol > 1e-150 else np.inf
    nxt = lo
    na = np.int64(0)  # typed, not Literal[int](0): one compiled _lane_load, not two
    while na < L and nxt < hi:
        _lane_load(nxt, na, X0, Y0, T0, Theta, Alpha, Beta, Gamma, every, X, y, th, al, be, ga, mem, t, cd, ns)
        na += 1
        nxt += 1
    while na > 0:
        if every > 0:
            lane = na - 1
            while lane >= 0:
                if cd[lane] == 0:
                    if ns[lane] == cap:
                        _lane_finish(lane, X, y, mem, t, ns, np.bool_(False), np.int64(STATUS_FULL), X_out, y_out,
                                     lengths, converged, status, stored)
                        if nxt < hi:  # a fresh member takes the column and is recorded in this pass
                            _lane_load(nxt, lane, X0, Y0, T0, Theta, Alpha, Beta, Gamma, every, X, y, th, al, be,
                                       ga, mem, t, cd, ns)
                            nxt += 1
                        else:  # the last column (already recorded in this pass) moves here
                            na -= 1
                            if lane != na:
                                _lane_move(na, lane, X, y, th, al, be, ga, mem, t, cd, ns)
                            lane -= 1
                        continue
                    m = mem[lane]
                    row = ns[lane]
                    for k in range(nx):
                        Xrec[m, row, k] = X[k * LANES + lane]
                    ns[lane] = row + 1
                    cd[lane] = every
                cd[lane] -= 1
                lane -= 1
            if na == 0:
                break
        for b in range(na):
            t[b] += 1
        _call_step(step, X, y, th, al, be, ga, yn, na)
        if direction != 1.0:
            for k in range(nf):
                for b in range(na):
                    yn[k * LANES + b] = y[k * LANES + b] + direction * (yn[k * LANES + b] - y[k * LANES + b])
        if uniform and M == 2:  # the row count as a constant for the usual sizes: LLVM then unrolls the rows
            if n_rows == 2:
                _binary_logit_lanes(yn, Xn, na, e, t1, t2, fast, 2)
            elif n_rows == 4:
                _binary_logit_lanes(yn, Xn, na, e, t1, t2, fast, 4)
            elif n_rows == 8:
                _binary_logit_lanes(yn, Xn, na, e, t1, t2, fast, 8)
            else:
                _binary_logit_lanes(yn, Xn, na, e, t1, t2, fast, n_rows)
        elif uniform and M == 3 and n_rows == 2:
            _uniform_logit_lanes(yn, Xn, na, s1, e, t1, t2, fast, 2, 3)
        elif uniform and M == 3 and n_rows == 4:
            _uniform_logit_lanes(yn, Xn, na, s1, e, t1, t2, fast, 4, 3)
        elif uniform:
            _uniform_logit_lanes(yn, Xn, na, s1, e, t1, t2, fast, n_rows, M)
        else:
            strategy_of_logit_lanes(yn, Xn, na, s1, e, t1, t2, fast, row_m, row_x, row_y)
        for b in range(na):
            tot[b] = 0.0
            dist[b] = 0.0
        for k in range(nf):
            for b in range(na):
                tot[b] += yn[k * LANES + b]
        if check:
            for k in range(nx):
                for b in range(na):
                    dist[b] += (Xn[k * LANES + b] - X[k * LANES + b]) ** 2
        lane = na - 1
        while lane >= 0:
            if not math.isfinite(tot[lane]):
                st = STATUS_NONFINITE
                conv = False
            elif check and dist[lane] < tol2 and math.sqrt(dist[lane]) < tol:
                st = STATUS_OK
                conv = True
            elif t[lane] >= tmax:
                st = STATUS_OK
                conv = False
            else:
                lane -= 1
                continue
            _lane_finish(lane, X, y, mem, t, ns, conv, st, X_out, y_out, lengths, converged, status, stored)
            # the column's next state (Xn, yn) becomes current below: refill or compact there
            if nxt < hi:
                _lane_load(nxt, lane, X0, Y0, T0, Theta, Alpha, Beta, Gamma, every, Xn, yn, th, al, be, ga, mem,
                           t, cd, ns)
                nxt += 1
            else:
                na -= 1
                if lane != na:
                    _lane_move(na, lane, Xn, yn, th, al, be, ga, mem, t, cd, ns)
            lane -= 1
        X, Xn = Xn, X
        y, yn = yn, y


# --------------------------------------------------------------- the game's step, per module
_lock = threading.Lock()
#: a module's logit_step_lanes function -> (its compiled cfunc, row tables)
_steps: dict = {}


def has_lanes(module) -> bool:
    """Whether ``module`` has a vectorisable step (``logit_step_lanes``; none when its step solves a linear system)."""
    return getattr(module, "logit_step_lanes", None) is not None


def rows_of(module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row_m, row_x, row_y)``: actions, strategy offset and log-ratio offset of each row of ``module``'s layout."""
    if getattr(module, "RAGGED", False):
        return (np.ascontiguousarray(module.ROW_M, np.int64), np.ascontiguousarray(module.ROW_X, np.int64),
                np.ascontiguousarray(module.ROW_Y, np.int64))
    n_rows, M = module.N_AGENTS * module.N_OBS, module.N_ACTIONS
    r = np.arange(n_rows, dtype=np.int64)
    return np.full(n_rows, M, np.int64), r * M, r * (M - 1)


def step_of(module) -> tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(address, rows)``: the compiled ``logit_step_lanes`` of ``module`` and its row tables.

    The first call per module compiles the step with ``numba.cfunc`` (or loads it from
    numba's on-disk cache beside the module, like the module's other kernels); thread-safe.
    """
    fn = module.logit_step_lanes
    if getattr(fn, "__globals__", {}).get("numba") is not numba:  # a stand-in (crldgen.runtime.pymodule)
        raise RuntimeError(f"{module.__name__}: its compiled module is not loaded yet; wait_compiled() first")
    if getattr(module, "LANES", LANES) != LANES:
        raise ValueError(f"{module.__name__} prints its lanes step with stride {module.LANES}, the driver uses {LANES}")
    with _lock:
        got = _steps.get(fn)
        if got is None:
            compiled = numba.cfunc(STEP_SIGNATURE, cache=True, error_model="numpy")(fn)
            got = _steps[fn] = (compiled, rows_of(module))
    return got[0].address, got[1]


def warm_up() -> None:
    """Compile (or load) the driver's kernels (once per installation: numba's cache keeps them)."""
    step = numba.cfunc(STEP_SIGNATURE)(_zero_step)
    rows = (np.full(1, 2, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))
    f = lambda *shape: np.zeros(shape)  # noqa: E731
    i = lambda n: np.zeros(n, np.int64)  # noqa: E731
    for fast in (False, True):
        lanes_block(0, 2, step.address, *rows, f(2, 2), f(2, 1), i(2), f(2, 0), f(2, 1), f(2, 1), f(2, 1), 2, 0.0,
                    1.0, 1, f(2, 2, 2), f(2, 2), f(2, 1), i(2), np.zeros(2, np.bool_), i(2), i(2), fast)


def _zero_step(X, y, th, al, be, ga, y_out, n):
    for b in range(n):
        y_out[b] = 0.0


# _lane_load, _lane_move and _lane_finish have no Python entry point (no_cpython_wrapper: only lanes_block
# calls them); a Python call raises a TypeError instead of crashing (crldgen.runtime.inner)
inner.guard(sys.modules[__name__])
