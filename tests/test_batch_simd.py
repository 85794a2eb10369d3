"""The vectorised batch kernel ``lanes_block`` against the per-member scalar kernel.

``lanes_block``, driven by ``crldgen.iterate.run_lanes`` on several threads (members in
structure-of-arrays blocks, the step and the softmax as loops over members that LLVM
vectorises) with ``fast=False`` (libm's exp) must give the results of one scalar
``trajectory`` call per member bit for bit: lengths, convergence,
divergence and record-full flags, final strategies and log-ratios, and the recorded rows
with ``every=``. With ``fast=True`` (``crldgen.iterate.FAST_EXP``: the softmax's
exponentials vectorised, ``_exp_lanes``) the flags and lengths must be the same and the
strategies within 1e-13 (rounding differences of 1 ulp grow along expanding transients:
measured up to 6e-14 here). ``_exp_lanes`` itself is checked against exp evaluated with
50-digit arithmetic (mpmath). The scalar kernel is checked against the plain numpy
reference in test_codegen.py and test_iterate.py; here every case mixes members that
converge at different times, run to ``tmax`` and diverge, with per-member parameters.
"""

from __future__ import annotations

import functools
import math
import re

import numba
import numpy as np
import pytest

import crldgen
from crldgen import iterate as it
from crldgen.runtime import lanes as rl

ecopg2 = functools.partial(crldgen.games.ecological_public_good, 2)


def _inputs(dyn, B, seed, **p):
    rng = np.random.default_rng(seed)
    N, Q, M = dyn.shape
    X0 = rng.dirichlet(np.ones(M), size=(B, N, Q))
    X0f, Y0 = it._strategies(dyn, X0, "X0s")
    B, A, Bt, G, Th = it._batch_params(dyn, p, B)
    return X0f, Y0, Th, A, Bt, G


def _one_by_one(module):
    """The batch as separate ``module.trajectory`` calls, member after member (the scalar reference)."""

    def run(X0, Y0, T0, Th, A, Bt, G, tmax, tol, direction, every, rec, X_out, y_out, lengths, conv, status, stored):
        for b in range(X0.shape[0]):
            lengths[b], conv[b], status[b], stored[b] = module.trajectory(
                X0[b], Y0[b], T0[b], Th[b], A[b], Bt[b], G[b], tmax, tol, direction, every, rec[b], X_out[b], y_out[b])

    return run


def _call(kernel, args, tmax, tol, direction, every, cap, T0=None, lanes=False, task_size=13, fast=False):
    X0f, Y0, Th, A, Bt, G = args
    B, nx = X0f.shape
    nf = Y0.shape[1]
    out = [np.full((B, nx), -7.0), np.full((B, nf), -7.0), np.full(B, -1, np.int64), np.zeros(B, np.bool_),
           np.full(B, -1, np.int64), np.full(B, -1, np.int64)]
    rec = np.full((B, cap, nx), -7.0)
    T0 = np.zeros(B, np.int64) if T0 is None else T0
    extra = (task_size, fast) if lanes else ()
    kernel(X0f, Y0, T0, Th, A, Bt, G, tmax, tol, direction, every, rec, *out, *extra)
    return out, rec


#: the fast lanes kernel against the scalar one: strategies (and recorded rows) absolute,
#: log-ratios relative to max(1, |y|)
FAST_ATOL = 1e-13


def _same(dyn, args, tmax, tol, direction, every=0, cap=0, T0=None, task_size=13):
    """Run the scalar and both lanes kernels; assert identical (exact) and close (fast) outputs; return them.

    Recorded rows are compared where stored.
    """
    module = it._module(dyn)
    assert rl.has_lanes(module), "the generated module has no vectorised batch kernel"
    lanes = functools.partial(it.run_lanes, module)
    ref, ref_rec = _call(_one_by_one(module), args, tmax, tol, direction, every, cap, T0)
    got, got_rec = _call(lanes, args, tmax, tol, direction, every, cap, T0, lanes=True,
                         task_size=task_size)
    names = ("X_out", "y_out", "lengths", "converged", "status", "stored")
    for name, a, b in zip(names, ref, got):
        assert np.array_equal(a, b), f"{name} differs: max |diff| {np.max(np.abs(a.astype(float) - b)):.3g}"
    stored = ref[5]
    for b in range(len(stored)):
        assert np.array_equal(ref_rec[b, : stored[b]], got_rec[b, : stored[b]]), f"recorded rows of member {b}"
    fast, fast_rec = _call(lanes, args, tmax, tol, direction, every, cap, T0, lanes=True,
                           task_size=task_size, fast=True)
    for name, a, b in list(zip(names, ref, fast))[2:]:
        assert np.array_equal(a, b), f"fast: {name} differs in {np.sum(a != b)} members"
    finite = ref[4] == it.STATUS_OK  # a diverged member's last finite state is far from the simplex's interior
    X_err = np.max(np.abs(ref[0] - fast[0])[finite], initial=0.0)
    assert X_err <= FAST_ATOL, f"fast: final strategies differ by {X_err:.3g}"
    y_err = np.max((np.abs(ref[1] - fast[1]) / np.maximum(1.0, np.abs(ref[1])))[finite], initial=0.0)
    # the reverse map expands: there 1-ulp differences of the exponentials grow most (1.5e-12 measured)
    y_tol = FAST_ATOL if direction > 0 else 1e-11
    assert y_err <= y_tol, f"fast: final log-ratios differ by {y_err:.3g} (relative)"
    for b in range(len(stored)):
        err = np.max(np.abs(ref_rec[b, : stored[b]] - fast_rec[b, : stored[b]]), initial=0.0)
        assert err <= FAST_ATOL, f"fast: recorded rows of member {b} differ by {err:.3g}"
    return ref


def _sarsa_ecopg2(compiled):
    return compiled(ecopg2, "sarsa", True, alpha=0.01, beta=100.0, gamma=0.75)


@pytest.fixture(scope="module", params=["sarsa", "actor_critic"])
def chapter(request, compiled):
    return compiled(ecopg2, request.param, True, alpha=0.01, beta=100.0, gamma=0.75)


def test_forward_mixed_convergence_every(chapter):
    """Members converge at different times or reach tmax; every=3 records; per-member alpha, beta, gamma, f."""
    B = 150
    rng = np.random.default_rng(1)
    args = _inputs(chapter, B, 2, alpha=rng.uniform(0.005, 0.2, B), gamma=rng.uniform(0.5, 0.9, B),
                   beta=rng.uniform(5.0, 150.0, B), f=rng.uniform(1.0, 1.6, B))
    out = _same(chapter, args, 400, 1e-5, 1.0, every=3, cap=134)
    lengths, conv = out[2], out[3]
    assert conv.any() and not conv.all(), "want members that converge and members that reach tmax"
    assert len(np.unique(lengths[conv])) > 10, "members should converge at many different times"
    # the record buffer fills up before tmax for the long runs (STATUS_FULL, resumed by iterate)
    out = _same(chapter, args, 400, 1e-5, 1.0, every=1, cap=50)
    assert (out[4] == it.STATUS_FULL).any() and (out[4] == it.STATUS_OK).any()


def test_reverse_divergence_and_resume(chapter):
    """Reverse runs without tolerance: some members diverge (non-finite), the rest reach tmax; resumed counts T0."""
    B = 70
    rng = np.random.default_rng(4)
    # SARSA's reverse step grows the log-ratios geometrically; actor-critic's linearly (huge beta)
    beta = 1e3 if chapter.learner == "sarsa" else rng.uniform(1e304, 3e306, B)
    args = _inputs(chapter, B, 5, alpha=rng.uniform(0.01, 1.0, B), beta=beta)
    out = _same(chapter, args, 1500, 0.0, -1.0)
    status = out[4]
    assert (status == it.STATUS_NONFINITE).any() and (status == it.STATUS_OK).any()
    assert len(np.unique(out[2][status == it.STATUS_NONFINITE])) > 5
    # resuming: T0 strategies count as recorded already (every= phase and tmax count from T0)
    T0 = rng.integers(0, 40, B)
    _same(chapter, args, 300, 1e-7, 1.0, every=4, cap=80, T0=T0)
    # reverse with a tolerance: saturating members converge at different times
    _same(chapter, args, 300, 1e-9, -1.0, every=5, cap=61)


@pytest.mark.parametrize("task_size", [1, 8, 64, 65, 1000])
def test_block_sizes(compiled, task_size):
    """Tasks smaller and larger than a block of LANES members (refill and compaction paths)."""
    dyn = _sarsa_ecopg2(compiled)
    B = 203
    args = _inputs(dyn, B, 7, alpha=np.random.default_rng(8).uniform(0.01, 0.1, B))
    _same(dyn, args, 200, 1e-4, 1.0, every=7, cap=29, task_size=task_size)


def test_trajectories_uses_lanes_and_matches(compiled, monkeypatch):
    """``dyn.trajectories`` (record-buffer growth, chunking, results) is the same with and without the lanes kernel."""
    dyn = _sarsa_ecopg2(compiled)
    module = it._module(dyn)
    X0 = np.random.default_rng(11).dirichlet(np.ones(2), size=(300, 2, 2))
    alpha = np.linspace(0.005, 0.05, 300)
    calls = []
    real = it.run_lanes

    def spy(mod, *a):
        assert mod is module
        calls.append((a[0].shape[0], a[-1]))  # (members, fast)
        return real(mod, *a)

    monkeypatch.setattr(it, "run_lanes", spy)
    # every=1 and a long run: more rows than the first record buffer holds (STATUS_FULL resumes)
    exact = dyn.trajectories(X0, 2500, 1e-6, every=1, alpha=alpha, progress=False)
    assert calls, "trajectories did not call the vectorised kernel"
    assert len(calls) > 1, "the record buffer should have been grown (resumed calls)"
    assert not calls[0][1], "by default the kernel should run with libm's exp (fast=False)"
    monkeypatch.setattr(it, "USE_LANES", False)
    n_calls = len(calls)
    slow = dyn.trajectories(X0, 2500, 1e-6, every=1, alpha=alpha, progress=False)
    assert len(calls) == n_calls
    for field in ("final", "final_logit", "steps", "converged", "diverged", "n_stored"):
        assert np.array_equal(getattr(exact, field), getattr(slow, field)), field
    assert np.array_equal(exact.X, slow.X, equal_nan=True)
    # FAST_EXP: vectorised exponentials, the same flags and lengths, strategies within 1e-13
    monkeypatch.setattr(it, "USE_LANES", True)
    monkeypatch.setattr(it, "FAST_EXP", True)
    fast = dyn.trajectories(X0, 2500, 1e-6, every=1, alpha=alpha, progress=False)
    assert calls[-1][1], "FAST_EXP: the kernel should run with fast=True"
    for field in ("steps", "converged", "diverged", "n_stored"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
    assert np.isnan(fast.X).sum() == np.isnan(slow.X).sum()
    assert np.nanmax(np.abs(fast.X - slow.X)) <= FAST_ATOL
    assert np.max(np.abs(fast.final - slow.final)) <= 1e-14  # converged ends agree more closely
    monkeypatch.setattr(it, "FAST_EXP", False)
    # sweep over a parameter without carry runs as a batch too
    sw = dyn.sweep(X0[0], "gamma", np.linspace(0.5, 0.9, 40), 500, 1e-5, carry=False)
    assert calls[-1][0] == 40
    ref = [dyn.trajectory(X0[0], 500, 1e-5, gamma=g) for g in np.linspace(0.5, 0.9, 40)]
    assert np.array_equal(sw.final, np.array([r.final for r in ref]))
    assert np.array_equal(sw.steps, np.array([r.steps for r in ref]))


@pytest.mark.slow
@pytest.mark.parametrize("case", [(2, 2, 2, "sarsa", False), (1, 2, 3, "actor_critic", True)],
                         ids=["N2Z2M2-sarsa", "N1Z2M3-actor_critic"])
def test_random_games(compiled, case):
    """Random games (M=3 takes the general softmax), forward with mixed convergence and reverse divergence."""
    from _randgames import instances, param_game

    N, Z, M, learner, pre = case
    dyn = compiled(param_game(N, Z, M), learner, pre)
    theta = instances(N, Z, M, n=1, seed=3)[0]["theta"]
    B = 90
    rng = np.random.default_rng(12)
    args = _inputs(dyn, B, 13, alpha=rng.uniform(0.01, 0.3, B), gamma=rng.uniform(0.3, 0.9, B),
                   beta=rng.uniform(1.0, 30.0, B), **theta)
    out = _same(dyn, args, 600, 1e-6, 1.0, every=2, cap=300)
    assert out[3].any()
    beta = 1e3 if learner == "sarsa" else rng.uniform(1e305, 1e307, B)
    args = _inputs(dyn, B, 14, alpha=rng.uniform(0.05, 1.0, B), beta=beta, **theta)
    out = _same(dyn, args, 2000, 0.0, -1.0)
    assert (out[4] == it.STATUS_NONFINITE).any()


def test_lanes_kernels_are_vectorised(compiled):
    """The compiled step and softmax of a block contain packed double-precision vector instructions."""
    import llvmlite.binding as ll

    features = ll.get_host_cpu_features()
    if not features.get("avx2", False):
        pytest.skip("this CPU has no AVX2: the check looks for 256/512-bit packed-double instructions")
    dyn = _sarsa_ecopg2(compiled)
    module = it._module(dyn)
    L = 64
    nx, nf, N, P = module.NX, module.N_FREE, module.N_AGENTS, len(module.PARAM_NAMES)
    # compile fresh copies (a kernel loaded from numba's cache keeps no assembly text)
    step = numba.cfunc(rl.STEP_SIGNATURE, error_model="numpy")(module.logit_step_lanes)
    soft = numba.njit(error_model="numpy")(rl.strategy_of_logit_lanes.py_func)
    assert module.LANES == rl.LANES == L
    rows = rl.rows_of(module)
    scratch = [np.empty(nx * L) for _ in range(3)]
    soft(np.zeros(nf * L), np.empty(nx * L), L, np.empty(L), *scratch, False, *rows)
    binary = numba.njit(error_model="numpy")(rl._binary_logit_lanes.py_func)  # what this game's batches use
    binary(np.zeros(nf * L), np.empty(nx * L), L, *scratch, True, nf)
    vexp = numba.njit(error_model="numpy")(rl._exp_lanes.py_func)
    vexp(np.zeros(L), L, np.empty(L), np.empty(L))
    packed = re.compile(r"^\s*v(mul|add|sub|div)pd\s+.*%[yz]mm", re.M)
    codes = {"logit_step_lanes": (step._library.get_asm_str(), step.inspect_llvm())}
    for k in (soft, binary, vexp):
        codes[k.__name__] = (k.inspect_asm(k.signatures[0]), k.inspect_llvm(k.signatures[0]))
    for name, (asm, ir) in codes.items():
        assert len(packed.findall(asm)) >= 4, f"{name}: no packed vector arithmetic in its assembly"
        assert re.search(r"<(4|8) x double>", ir), f"{name}: no vector type in its LLVM IR"


def test_vectorised_exp_within_one_ulp(compiled):
    """``_exp_lanes`` against exp in 50-digit arithmetic: at most 1 ulp off, over the whole non-positive range.

    Arguments: uniform on [-1, 0] (the usual softmax), [-40, 0], the subnormal range
    [-745.2, -708], beyond underflow, and the special values 0, -0, -inf, NaN.
    """
    import mpmath

    module = it._module(_sarsa_ecopg2(compiled))
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.uniform(-1.0, 0.0, 400), rng.uniform(-40.0, 0.0, 400), rng.uniform(-745.2, -708.0, 300),
                        [-1e-300, -5e-324, -0.5 * np.log(2.0), -np.log(2.0), -708.3964185322641, -745.1332191019411,
                         -745.2, -800.0, -1e6]])
    got = x.copy()
    rl._exp_lanes(got, len(got), np.empty(len(x)), np.empty(len(x)))
    with mpmath.workdps(50):
        true = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in x])  # correctly rounded
    ulp = np.spacing(np.maximum(true, 5e-324))
    err = np.abs(got - true) / ulp
    assert err.max() <= 1.0, f"{err.max():.2f} ulp at x = {x[err.argmax()]!r}"
    assert np.mean(got == true) > 0.8  # mostly correctly rounded
    special = np.array([0.0, -0.0, -np.inf, np.nan, -2000.0])
    rl._exp_lanes(special, 5, np.empty(5), np.empty(5))
    assert special[0] == 1.0 and special[1] == 1.0 and special[2] == 0.0 and np.isnan(special[3])
    assert special[4] == 0.0



def test_flow_field_rows_kernel(compiled):
    """plot._evaluate's one-call row kernels give what the single-point kernels give at each point."""
    from crldgen.plot import _evaluate

    dyn = _sarsa_ecopg2(compiled)
    module = dyn.module
    Xs = np.random.default_rng(21).dirichlet(np.ones(2), size=(37, 2, 2))
    alpha, beta, gamma, theta = dyn.params(gamma=0.8)
    flat = Xs.reshape(37, -1)
    td = np.array([_single(module.tderror, x, theta, alpha, beta, gamma) for x in flat]).reshape(Xs.shape)
    assert np.array_equal(_evaluate(dyn, Xs, "tderror", {"gamma": 0.8}), td - td.mean(-1, keepdims=True))
    st = np.array([_single(module.strategy_step, x, theta, alpha, beta, gamma, 1.0) for x in flat])
    assert np.array_equal(_evaluate(dyn, Xs, "step", {"gamma": 0.8}), (st - flat).reshape(Xs.shape))


def _single(kernel, x, *args):
    out = np.empty_like(x)
    kernel(np.ascontiguousarray(x), *args, out)
    return out
