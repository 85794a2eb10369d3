"""Compiled kernels of the sample-based learners (numba only; no sympy, game independent).

Array conventions (the joint action is flattened, agent 0 most significant,
``j = sum_i a_i M^(N-1-i)``, i.e. ``T.reshape(Z, M**N, Z)`` of crldgen's layout):

* ``Tc[s, j, s']`` -- cumulative transition probabilities along ``s'`` (last entry 1);
* ``R[i, s, j, s']`` -- rewards;
* ``Oc[i, s, o]`` -- cumulative observation probabilities along ``o`` (ignored when
  ``full_obs``: then ``o = s``);
* ``alpha, beta, gamma, pref`` -- one value per agent (``pref[i]`` is the reward
  prefactor ``1 - gamma_i`` or 1);
* ``keys[r, 4]`` -- the xoshiro256** state of run ``r`` (uint64, not all zero), spawned
  from a ``numpy.random.SeedSequence`` by the caller, so run ``r`` draws the same
  numbers whatever the number of threads.

Learner codes: 0 expected SARSA, 1 SARSA, 2 actor-critic, 3 Q-learning.

Every learner keeps estimates ``Qe[i, o, a]``; SARSA, expected SARSA and Q-learning act
with ``X = softmax(beta Qe)``; the actor-critic acts with ``X = softmax(beta P)`` of its
actor preferences ``P`` (``Qe`` is then its critic). Batch learners (``batch_runs``)
collect ``K`` transitions with fixed strategies, evaluate them by replaying the batch to
convergence (the certainty-equivalence solution that batch TD(0) converges to) and then
take one step of size ``alpha`` (see :mod:`crldgen.sample`).
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange

from ..runtime import inner, typing_memo

typing_memo.install()

EXPECTED_SARSA, SARSA, ACTOR_CRITIC, Q_LEARNING = 0, 1, 2, 3

_U53 = 1.0 / 9007199254740992.0  # 2**-53
_U32 = 1.0 / 4294967296.0  # 2**-32


# ----------------------------------------------------------------- xoshiro256**
@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _next_u64(st):
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def _uniform(st):
    """A double in [0, 1) with 53 random bits."""
    return np.float64(_next_u64(st) >> np.uint64(11)) * _U53


@njit(cache=True, no_cfunc_wrapper=True)
def uniforms(key, n, out):
    """``n`` uniforms from one xoshiro256** state (for tests of the generator)."""
    st = key.copy()
    for k in range(n):
        out[k] = _uniform(st)


# -------------------------------------------------------------- small helpers
@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _softmax_rows(V, beta, X, Xc):
    """``X[i, o, :] = softmax(beta_i V[i, o, :])`` and its cumulative ``Xc``."""
    N, Qn, M = V.shape
    for i in range(N):
        for o in range(Qn):
            vmax = V[i, o, 0]
            for a in range(1, M):
                if V[i, o, a] > vmax:
                    vmax = V[i, o, a]
            tot = 0.0
            for a in range(M):
                e = np.exp(beta[i] * (V[i, o, a] - vmax))
                X[i, o, a] = e
                tot += e
            acc = 0.0
            for a in range(M):
                X[i, o, a] /= tot
                acc += X[i, o, a]
                Xc[i, o, a] = acc
            Xc[i, o, M - 1] = 1.0


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _solve(A, b, x):
    """Solve ``A x = b`` in place by Gaussian elimination with partial pivoting."""
    n = b.shape[0]
    for c in range(n):
        piv = c
        big = abs(A[c, c])
        for r in range(c + 1, n):
            if abs(A[r, c]) > big:
                big = abs(A[r, c])
                piv = r
        if piv != c:
            for k in range(n):
                A[c, k], A[piv, k] = A[piv, k], A[c, k]
            b[c], b[piv] = b[piv], b[c]
        for r in range(c + 1, n):
            f = A[r, c] / A[c, c]
            if f != 0.0:
                for k in range(c, n):
                    A[r, k] -= f * A[c, k]
                b[r] -= f * b[c]
    for c in range(n - 1, -1, -1):
        acc = b[c]
        for k in range(c + 1, n):
            acc -= A[c, k] * x[k]
        x[c] = acc / A[c, c]


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _batch_evaluate(i, learner, replay, n, rs, nn, X, Qe, gam, pref, A, b, Qhat):
    """Batch estimates ``Qhat`` of agent i from one batch's statistics.

    ``replay=False``: one pass, the batch mean of the sample TD targets with the current
    estimates ``Qe`` as next-state values (``Qhat[p] = mean over the pair's samples of
    p r + gamma Q_next``). ``replay=True`` (the default of the Python API): the
    certainty-equivalent values that replaying the batch to convergence gives:

    Visited pairs ``p = (o, a)``: ``Qhat[p] = pref R^[p] + gamma sum_p' W[p, p'] Qhat[p']``
    with ``W`` the empirical next-pair frequencies (SARSA) or the empirical next
    observation frequencies times ``X[o', a']`` (expected SARSA, actor-critic);
    Q-learning uses ``max_a' Qhat[o', a']`` (value iteration). Unvisited pairs keep the
    current estimate ``Qe[p]``.
    """
    Qn, M = X.shape[1], X.shape[2]
    D = Qn * M
    if not replay:
        for o in range(Qn):
            for a in range(M):
                cnt = n[i, o, a]
                if cnt == 0.0:
                    Qhat[o * M + a] = Qe[i, o, a]
                    continue
                acc = 0.0
                for o2 in range(Qn):
                    if learner == SARSA:
                        for a2 in range(M):
                            acc += nn[i, o, a, o2, a2] * Qe[i, o2, a2]
                        continue
                    tot = 0.0
                    for a2 in range(M):
                        tot += nn[i, o, a, o2, a2]
                    if tot == 0.0:
                        continue
                    if learner == Q_LEARNING:
                        nxt = Qe[i, o2, 0]
                        for a2 in range(1, M):
                            if Qe[i, o2, a2] > nxt:
                                nxt = Qe[i, o2, a2]
                    else:
                        nxt = 0.0
                        for a2 in range(M):
                            nxt += X[i, o2, a2] * Qe[i, o2, a2]
                    acc += tot * nxt
                Qhat[o * M + a] = (pref * rs[i, o, a] + gam * acc) / cnt
        return
    if learner == Q_LEARNING:
        for o in range(Qn):
            for a in range(M):
                Qhat[o * M + a] = Qe[i, o, a]
        for _ in range(100000):
            change = 0.0
            for o in range(Qn):
                for a in range(M):
                    cnt = n[i, o, a]
                    if cnt == 0.0:
                        continue
                    acc = 0.0
                    for o2 in range(Qn):
                        tot = 0.0
                        for a2 in range(M):
                            tot += nn[i, o, a, o2, a2]
                        if tot > 0.0:
                            best = Qhat[o2 * M]
                            for a2 in range(1, M):
                                if Qhat[o2 * M + a2] > best:
                                    best = Qhat[o2 * M + a2]
                            acc += tot * best
                    new = (pref * rs[i, o, a] + gam * acc) / cnt
                    d = abs(new - Qhat[o * M + a])
                    if d > change:
                        change = d
                    Qhat[o * M + a] = new
            if change <= 1e-13 * (1.0 + np.abs(Qhat).max()):
                break
        return
    for p in range(D):
        for q in range(D):
            A[p, q] = 0.0
        A[p, p] = 1.0
    for o in range(Qn):
        for a in range(M):
            p = o * M + a
            cnt = n[i, o, a]
            if cnt == 0.0:
                b[p] = Qe[i, o, a]
                continue
            b[p] = pref * rs[i, o, a] / cnt
            for o2 in range(Qn):
                if learner == SARSA:
                    for a2 in range(M):
                        A[p, o2 * M + a2] -= gam * nn[i, o, a, o2, a2] / cnt
                else:
                    tot = 0.0
                    for a2 in range(M):
                        tot += nn[i, o, a, o2, a2]
                    if tot > 0.0:
                        for a2 in range(M):
                            A[p, o2 * M + a2] -= gam * tot / cnt * X[i, o2, a2]
    _solve(A, b, Qhat)


@njit(cache=True, inline="always")
def _draw_at(C, i0, i1, u):
    """Index k with ``C[i0, i1, k-1] <= u < C[i0, i1, k]`` (linear search over a cumulative row
    whose last entry is 1; indexes in place instead of making a view)."""
    n = C.shape[2]
    k = 0
    while k < n - 1 and u >= C[i0, i1, k]:
        k += 1
    return k


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _collect_batch(Tc, R, Oc, full_obs, Xc, K, s, obs, act, mult, st, C, n, rs, nn):
    """Play ``K`` time steps at the fixed strategies ``Xc`` (cumulative) from state ``s``.

    Fills the batch statistics of every agent: ``n[i, o, a]`` visits, ``rs[i, o, a]``
    reward sums, ``nn[i, o, a, o', a']`` next (observation, action) counts. ``obs``
    holds the agents' current observations (updated); returns the final state. Each
    64-bit draw gives two 32-bit uniforms. Fully observed games count joint
    transitions ``C[s, j, s', j']`` and derive the per-agent statistics afterwards.
    """
    N, Qn, M = Xc.shape
    J = Tc.shape[1]
    Z = Tc.shape[0]
    n[:] = 0.0
    rs[:] = 0.0
    nn[:] = 0.0
    spare = 0.0
    have = False
    for i in range(N):
        if have:
            u = spare
            have = False
        else:
            x = _next_u64(st)
            u = np.float64(x >> np.uint64(32)) * _U32
            spare = np.float64(x & np.uint64(0xFFFFFFFF)) * _U32
            have = True
        act[i] = _draw_at(Xc, i, obs[i], u)
    j = 0
    for i in range(N):
        j += act[i] * mult[i]
    if full_obs:
        C[:] = 0
        for _ in range(K):
            if have:
                u = spare
                have = False
            else:
                x = _next_u64(st)
                u = np.float64(x >> np.uint64(32)) * _U32
                spare = np.float64(x & np.uint64(0xFFFFFFFF)) * _U32
                have = True
            s2 = _draw_at(Tc, s, j, u)
            j2 = 0
            for i in range(N):
                if have:
                    u = spare
                    have = False
                else:
                    x = _next_u64(st)
                    u = np.float64(x >> np.uint64(32)) * _U32
                    spare = np.float64(x & np.uint64(0xFFFFFFFF)) * _U32
                    have = True
                j2 += _draw_at(Xc, i, s2, u) * mult[i]
            C[s, j, s2, j2] += 1
            s = s2
            j = j2
        for s1 in range(Z):
            for j1 in range(J):
                for s3 in range(Z):
                    for j3 in range(J):
                        cnt = C[s1, j1, s3, j3]
                        if cnt == 0:
                            continue
                        for i in range(N):
                            a = (j1 // mult[i]) % M
                            a2 = (j3 // mult[i]) % M
                            n[i, s1, a] += cnt
                            rs[i, s1, a] += cnt * R[i, s1, j1, s3]
                            nn[i, s1, a, s3, a2] += cnt
        for i in range(N):
            obs[i] = s
        return s
    for _ in range(K):
        s2 = _draw_at(Tc, s, j, _uniform(st))
        j2 = 0
        for i in range(N):
            o, a = obs[i], act[i]
            o2 = _draw_at(Oc, i, s2, _uniform(st))
            a2 = _draw_at(Xc, i, o2, _uniform(st))
            n[i, o, a] += 1.0
            rs[i, o, a] += R[i, s, j, s2]
            nn[i, o, a, o2, a2] += 1.0
            obs[i] = o2
            act[i] = a2
            j2 += a2 * mult[i]
        s = s2
        j = j2
    return s


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _multipliers(N, M):
    mult = np.empty(N, np.int64)
    m = 1
    for i in range(N - 1, -1, -1):
        mult[i] = m
        m *= M
    return mult


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _cumulative_rows(X, Xc):
    N, Qn, M = X.shape
    for i in range(N):
        for o in range(Qn):
            acc = 0.0
            for a in range(M):
                acc += X[i, o, a]
                Xc[i, o, a] = acc
            Xc[i, o, M - 1] = 1.0


# ------------------------------------------------------------------ batch learners
@njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def batch_runs(Tc, R, Oc, full_obs, Q0, P0, alpha, beta, gamma, pref, learner, replay, K, steps, every, s0, keys,
               out, final, visits):
    """Batch learners: ``steps`` strategy updates of ``K`` sampled transitions each, per run.

    ``Q0`` / ``P0`` (N, Qn, M) are the initial estimates / actor preferences (``P0`` is
    used by the actor-critic only). Writes ``out[r, k]`` = strategy after update
    ``k * every`` (k = 0 is the start), ``final[r]`` = the last strategy and
    ``visits[r, i, o]`` = how often agent i observed o (all batches).
    """
    n_runs = keys.shape[0]
    N, Qn, M = Q0.shape
    Z, J = Tc.shape[0], Tc.shape[1]
    D = Qn * M
    for r in prange(n_runs):
        st = keys[r].copy()
        Qe = Q0.copy()
        P = P0.copy()
        X = np.empty((N, Qn, M))
        Xc = np.empty((N, Qn, M))
        n = np.zeros((N, Qn, M))
        rs = np.zeros((N, Qn, M))
        nn = np.zeros((N, Qn, M, Qn, M))
        C = np.zeros((Z, J, Z, J) if full_obs else (1, 1, 1, 1), np.int64)
        A = np.empty((D, D))
        b = np.empty(D)
        Qhat = np.empty(D)
        obs = np.empty(N, np.int64)
        act = np.empty(N, np.int64)
        mult = _multipliers(N, M)
        s = s0[r]
        for i in range(N):
            obs[i] = s if full_obs else _draw_at(Oc, i, s, _uniform(st))
        rec = 0
        for t in range(steps + 1):
            if learner == ACTOR_CRITIC:
                _softmax_rows(P, beta, X, Xc)
            else:
                _softmax_rows(Qe, beta, X, Xc)
            if t % every == 0:
                out[r, rec] = X
                rec += 1
            if t == steps:
                final[r] = X
                break
            s = _collect_batch(Tc, R, Oc, full_obs, Xc, K, s, obs, act, mult, st, C, n, rs, nn)
            for i in range(N):
                for o in range(Qn):
                    for a in range(M):
                        visits[r, i, o] += n[i, o, a]
                _batch_evaluate(i, learner, replay, n, rs, nn, X, Qe, gamma[i], pref[i], A, b, Qhat)
                for o in range(Qn):
                    vhat = 0.0
                    for a in range(M):
                        vhat += X[i, o, a] * Qhat[o * M + a]
                    for a in range(M):
                        qh = Qhat[o * M + a]
                        if learner == ACTOR_CRITIC:
                            if n[i, o, a] > 0.0:
                                P[i, o, a] += alpha[i] * (qh - vhat)
                            if replay:
                                Qe[i, o, a] = qh
                            else:
                                Qe[i, o, a] += alpha[i] * (qh - Qe[i, o, a])
                        else:
                            Qe[i, o, a] += alpha[i] * (qh - Qe[i, o, a])


@njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def batch_estimates(Tc, R, Oc, full_obs, X, Qe, gamma, pref, learner, replay, K, s0, keys, out, counts):
    """One batch per run at the fixed strategy ``X``: the replayed estimates ``Qhat``.

    ``out[r, i, o, a]`` = certainty-equivalent ``Qhat`` (``Qe`` where unvisited),
    ``counts[r, i, o, a]`` = visits of the pair. The environment starts in ``s0[r]``.
    Uses the same collection code as :func:`batch_runs`.
    """
    n_runs = keys.shape[0]
    N, Qn, M = X.shape
    Z, J = Tc.shape[0], Tc.shape[1]
    D = Qn * M
    Xc = np.empty((N, Qn, M))
    _cumulative_rows(X, Xc)
    for r in prange(n_runs):
        st = keys[r].copy()
        n = np.zeros((N, Qn, M))
        rs = np.zeros((N, Qn, M))
        nn = np.zeros((N, Qn, M, Qn, M))
        C = np.zeros((Z, J, Z, J) if full_obs else (1, 1, 1, 1), np.int64)
        A = np.empty((D, D))
        b = np.empty(D)
        Qhat = np.empty(D)
        obs = np.empty(N, np.int64)
        act = np.empty(N, np.int64)
        mult = _multipliers(N, M)
        s = s0[r]
        for i in range(N):
            obs[i] = s if full_obs else _draw_at(Oc, i, s, _uniform(st))
        _collect_batch(Tc, R, Oc, full_obs, Xc, K, s, obs, act, mult, st, C, n, rs, nn)
        for i in range(N):
            _batch_evaluate(i, learner, replay, n, rs, nn, X, Qe, gamma[i], pref[i], A, b, Qhat)
            for o in range(Qn):
                for a in range(M):
                    out[r, i, o, a] = Qhat[o * M + a]
                    counts[r, i, o, a] = n[i, o, a]


# ----------------------------------------------------------------- online learners
@njit(cache=True, inline="always")
def _td_error(learner, i, o, a, o2, a2, rew, Qe, X, gam, pref):
    """Sample TD error of agent i (``Qe`` is the critic ``V`` in ``Qe[i, o, 0]`` for the actor-critic)."""
    M = X.shape[2]
    if learner == EXPECTED_SARSA:
        nxt = 0.0
        for b in range(M):
            nxt += X[i, o2, b] * Qe[i, o2, b]
        return pref * rew + gam * nxt - Qe[i, o, a]
    if learner == SARSA:
        return pref * rew + gam * Qe[i, o2, a2] - Qe[i, o, a]
    if learner == Q_LEARNING:
        best = Qe[i, o2, 0]
        for b in range(1, M):
            if Qe[i, o2, b] > best:
                best = Qe[i, o2, b]
        return pref * rew + gam * best - Qe[i, o, a]
    return pref * rew + gam * Qe[i, o2, 0] - Qe[i, o, 0]


@njit(cache=True, inline="always")
def _softmax_row(V, i, o, beta, X, Xc):
    M = V.shape[2]
    vmax = V[i, o, 0]
    for a in range(1, M):
        if V[i, o, a] > vmax:
            vmax = V[i, o, a]
    tot = 0.0
    for a in range(M):
        e = np.exp(beta * (V[i, o, a] - vmax))
        X[i, o, a] = e
        tot += e
    acc = 0.0
    for a in range(M):
        X[i, o, a] /= tot
        acc += X[i, o, a]
        Xc[i, o, a] = acc
    Xc[i, o, M - 1] = 1.0


@njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def online_runs(Tc, R, Oc, full_obs, Q0, P0, alpha, beta, gamma, pref, learner, steps, every, s0, keys,
                out, final):
    """Online (K = 1) learners: ``steps`` time steps per run, one TD update per step.

    The actor-critic keeps its critic ``V[i, o]`` in ``Qe[i, o, 0]`` (``Q0[..., 0]`` its
    initial value) and its actor preferences in ``P``; the others update ``Qe[i, o_t, a_t]``.
    ``out[r, k]`` = strategy after time step ``k * every``.
    """
    n_runs = keys.shape[0]
    N, Qn, M = Q0.shape
    for r in prange(n_runs):
        st = keys[r].copy()
        Qe = Q0.copy()
        P = P0.copy()
        X = np.empty((N, Qn, M))
        Xc = np.empty((N, Qn, M))
        obs = np.empty(N, np.int64)
        act = np.empty(N, np.int64)
        mult = np.empty(N, np.int64)
        m = 1
        for i in range(N - 1, -1, -1):
            mult[i] = m
            m *= M
        if learner == ACTOR_CRITIC:
            _softmax_rows(P, beta, X, Xc)
        else:
            _softmax_rows(Qe, beta, X, Xc)
        s = s0[r]
        for i in range(N):
            obs[i] = s if full_obs else _draw_at(Oc, i, s, _uniform(st))
            act[i] = _draw_at(Xc, i, obs[i], _uniform(st))
        rec = 0
        for t in range(steps + 1):
            if t % every == 0:
                out[r, rec] = X
                rec += 1
            if t == steps:
                final[r] = X
                break
            j = 0
            for i in range(N):
                j += act[i] * mult[i]
            s2 = _draw_at(Tc, s, j, _uniform(st))
            for i in range(N):
                o, a = obs[i], act[i]
                o2 = s2 if full_obs else _draw_at(Oc, i, s2, _uniform(st))
                a2 = _draw_at(Xc, i, o2, _uniform(st))
                delta = _td_error(learner, i, o, a, o2, a2, R[i, s, j, s2], Qe, X, gamma[i], pref[i])
                if learner == ACTOR_CRITIC:
                    Qe[i, o, 0] += alpha[i] * delta
                    P[i, o, a] += alpha[i] * delta
                    _softmax_row(P, i, o, beta[i], X, Xc)
                else:
                    Qe[i, o, a] += alpha[i] * delta
                    _softmax_row(Qe, i, o, beta[i], X, Xc)
                obs[i] = o2
                act[i] = a2
            s = s2


@njit(cache=True, parallel=True, no_cfunc_wrapper=True)
def td_error_stats(Tc, R, Oc, full_obs, X, Qe, gamma, pref, learner, steps, burn, s0, keys, sums, counts,
                   state_obs):
    """Sample TD errors at the fixed strategy ``X`` and fixed estimates ``Qe`` (no learning).

    Each run follows the chain for ``burn + steps`` time steps and, after ``burn``,
    accumulates ``sums[r, i, o, a]`` (sum of the sample TD errors of the online
    learner), ``counts[r, i, o, a]`` and ``state_obs[r, i, s, o]`` (visits of state s
    with agent i observing o).
    """
    n_runs = keys.shape[0]
    N, Qn, M = X.shape
    Xc = np.empty((N, Qn, M))
    for i in range(N):
        for o in range(Qn):
            acc = 0.0
            for a in range(M):
                acc += X[i, o, a]
                Xc[i, o, a] = acc
            Xc[i, o, M - 1] = 1.0
    for r in prange(n_runs):
        st = keys[r].copy()
        obs = np.empty(N, np.int64)
        act = np.empty(N, np.int64)
        mult = np.empty(N, np.int64)
        m = 1
        for i in range(N - 1, -1, -1):
            mult[i] = m
            m *= M
        s = s0[r]
        for i in range(N):
            obs[i] = s if full_obs else _draw_at(Oc, i, s, _uniform(st))
            act[i] = _draw_at(Xc, i, obs[i], _uniform(st))
        for t in range(burn + steps):
            j = 0
            for i in range(N):
                j += act[i] * mult[i]
            s2 = _draw_at(Tc, s, j, _uniform(st))
            for i in range(N):
                o, a = obs[i], act[i]
                o2 = s2 if full_obs else _draw_at(Oc, i, s2, _uniform(st))
                a2 = _draw_at(Xc, i, o2, _uniform(st))
                if t >= burn:
                    sums[r, i, o, a] += _td_error(learner, i, o, a, o2, a2, R[i, s, j, s2], Qe, X, gamma[i],
                                                  pref[i])
                    counts[r, i, o, a] += 1.0
                    state_obs[r, i, s, o] += 1.0
                obs[i] = o2
                act[i] = a2
            s = s2


# the _-prefixed kernels that are not inlined have no Python entry point (no_cpython_wrapper: only the
# kernels above call them); a Python call raises a TypeError instead of crashing (crldgen.runtime.inner)
inner.guard(sys.modules[__name__])
