"""Fixed points on the boundary of the product of simplices, and neutral sets of fixed points.

A *face* keeps, for every agent ``i`` and state (observation) ``o``, a support
``S[i, o]`` of actions; the other actions have probability 0. Every face is invariant
under the map ``X'[a] = X[a] exp(alpha delta[a]) / sum_b X[b] exp(alpha delta[b])``
(crld-math.md section 4). Inside a face the coordinates are the log-ratios
``z[i,o,a] = ln(X[i,o,a] / X[i,o,r])`` to the reference action ``r = max S[i, o]`` and the
fixed point condition is ``delta[a] - delta[r] = 0`` for ``a`` in the support.

Stability at a fixed point on a face has two parts:

* within the face: eigenvalues of ``dz'/dz``, obtained from the generated Jacobian at
  the boundary strategy (it is a function of ``X`` only and stays finite there for
  actor-critic: the rows of the face are ``K[a] - K[r]`` and its columns the support
  coordinates, ``K = (J - I)/alpha``);
* transversal: a missing action ``b`` grows near the face like
  ``X[b]/X[r] -> X[b]/X[r] * exp(alpha (delta[b] - delta[r]))``, so its *rate* is
  ``delta[b] - delta[r]`` (flow units, the same with the normalized TD error, which
  only subtracts the action mean) and its map *multiplier* ``exp(alpha (delta[b] -
  delta[r]))``. The Jacobian of the map in strategy coordinates at the face point is
  block triangular, so these multipliers are exact eigenvalues of the map there.

Together the two parts give ``N*Q*(M-1)`` eigenvalues, as for an interior point. A
stable boundary point is approached exponentially but never reached: the trajectory
stays in the interior (``asymptotic``).

Under SARSA the error contains ``-ln X[b]``, so ``X[b]' ∝ X[b]**(1 - alpha)``: every
face is invariant but repels at an infinite rate, and there are no boundary attractors
(all SARSA fixed points that matter are interior, ``X ∝ exp(beta Q)``). The boundary
search is therefore run for actor-critic only (and says so).

Neutral sets: when the TD error of some (agent, state) blocks does not depend on their
own strategy at a fixed point (the chapter's degraded state under actor-critic: neither
reward nor transition depends on the action there, so ``delta = 0``; or an agent
indifferent between some actions, as at a non-strict Nash equilibrium), every mix of
those actions gives a fixed point. Such *free blocks* ``(block, actions)`` are
detected by replacing them with random mixes and checking the fixed-point condition;
the set (dimension ``sum (len(actions) - 1)``) is reported once, represented by the
point with uniform free blocks, and classified by the eigenvalues transversal to it
(the others are exactly 1). Continua that are not products of free blocks (several
blocks moving together along a curve) are found from the null space of the face
Jacobian (:func:`curved_set`): accepted when Newton from ``z ± h v`` stays on the set
for every null direction ``v``, otherwise the points are reported one by one.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._core import MAX_STEP, Y_LIMIT, System, effective_params
from .linear import FixedPoint, _real_if_close, _sorted, classify_flow, classify_map

#: a coordinate below this share of its block's largest probability counts as missing
SUPPORT_TOLS = (1e-3, 1e-7)
#: ``|residual|`` below this counts as zero when testing free blocks (relative to ``1 + |delta|``)
FREE_TOL = 1e-9
#: random replacements tried per free-block test
FREE_TRIALS = 3
#: face Newton (actor-critic) stops when a log-ratio passes this: the root is on a smaller face
DRIFT_LIMIT = 40.0


class FaceSystem:
    """The map restricted to one face: residual, Jacobian, transversal rates.

    Parameters
    ----------
    system : System
    support : bool array (N, Q, M)
        Actions kept in every (agent, state) block (at least one per block).
    """

    def __init__(self, system: System, support):
        self.system = system
        N, Q, M = system.shape
        self.shape = (N, Q, M)
        self.support = np.asarray(support, dtype=bool).reshape(N * Q, M)
        if not self.support.any(-1).all():
            raise ValueError("every block needs at least one action in its support")
        self.ref = np.array([int(np.flatnonzero(row)[-1]) for row in self.support])
        self.coords = [(b, a) for b in range(N * Q) for a in range(M) if self.support[b, a] and a != self.ref[b]]
        self.missing = [(b, a) for b in range(N * Q) for a in range(M) if not self.support[b, a]]
        self.n = len(self.coords)
        self.alpha_rows = np.array([system.alpha[b // Q] for b, _ in self.coords])
        self.alpha_missing = np.array([system.alpha[b // Q] for b, _ in self.missing])
        self._kernel_index = np.array([b * (M - 1) + a for b, a in self.coords], dtype=int)
        self._cb = np.array([b for b, _ in self.coords], dtype=int)
        self._ca = np.array([a for _, a in self.coords], dtype=int)
        self._base = np.full((N * Q, M), -np.inf)
        self._base[np.arange(N * Q), self.ref] = 0.0
        self._ref_index = {b: (b * (M - 1) + self.ref[b] if self.ref[b] < M - 1 else -1) for b in range(N * Q)}

    @property
    def interior(self) -> bool:
        return bool(self.support.all())

    # -- coordinates
    def X(self, z) -> np.ndarray:
        L = self._base.copy()
        if self.n:
            L[self._cb, self._ca] = z
        L -= L.max(-1, keepdims=True)
        E = np.exp(L)
        return (E / E.sum(-1, keepdims=True)).reshape(self.shape)

    def z(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float).reshape(-1, self.shape[2])
        with np.errstate(divide="ignore"):
            return np.array([np.log(X[b, a]) - np.log(X[b, self.ref[b]]) for b, a in self.coords])

    def project(self, X) -> np.ndarray:
        """``X`` with the missing actions set to 0 (renormalized; uniform on the support if all vanish)."""
        N, Q, M = self.shape
        P = np.where(self.support, np.asarray(X, dtype=float).reshape(N * Q, M), 0.0)
        tot = P.sum(-1, keepdims=True)
        P = np.where(tot > 0, P / np.where(tot > 0, tot, 1.0), self.support / self.support.sum(-1, keepdims=True))
        return P.reshape(self.shape)

    # -- dynamics
    def deltas(self, X) -> np.ndarray:
        s = self.system
        out = np.empty(int(np.prod(self.shape)))
        s.module.tderror(np.ascontiguousarray(X, dtype=float).ravel(), s.theta, s.alpha, s.beta, s.gamma, out)
        return out.reshape(-1, self.shape[2])

    def G(self, z) -> np.ndarray:
        """Face residual ``delta[a] - delta[r]`` (flow units)."""
        d = self.deltas(self.X(z))
        return d[self._cb, self._ca] - d[self._cb, self.ref[self._cb]]

    def flow_jacobian_at(self, X) -> np.ndarray:
        """``d(delta[a] - delta[r])/dz`` on the face at strategy ``X`` (n x n)."""
        s = self.system
        n_free = s.n
        J = np.empty(n_free * n_free)
        s.module.jacobian(np.ascontiguousarray(X, dtype=float).ravel(), s.theta, s.alpha, s.beta, s.gamma, J)
        K = (J.reshape(n_free, n_free) - np.eye(n_free)) / s.alpha_rows[:, None]
        rows = []
        for b, a in self.coords:
            row = K[b * (self.shape[2] - 1) + a].copy()
            r = self._ref_index[b]
            if r >= 0:
                row -= K[r]
            rows.append(row[self._kernel_index])
        return np.array(rows).reshape(self.n, self.n)

    def dG(self, z) -> np.ndarray:
        return self.flow_jacobian_at(self.X(z))

    def transversal(self, X) -> np.ndarray:
        """Rates ``delta[b] - delta[r]`` of the missing actions (flow units), in ``self.missing`` order."""
        if not self.missing:
            return np.zeros(0)
        d = self.deltas(X)
        return np.array([d[b, a] - d[b, self.ref[b]] for b, a in self.missing])


def face_newton(face: FaceSystem, z0, tol: float, max_iter: int = 40, drift_limit: float | None = None):
    """Damped Newton (least squares when singular) for the face residual; ``(z, max|G|)`` or ``(None, inf)``.

    With ``drift_limit``, an iterate with ``max|z|`` beyond it is returned at once with
    residual ``inf``: the root lies on a smaller face (an action's share below
    ``exp(-drift_limit)``).
    """
    z = np.asarray(z0, dtype=float).copy()
    if face.n == 0:
        return z, 0.0
    g = face.G(z)
    norm = float(np.linalg.norm(g))
    short = 0
    for _ in range(max_iter):
        if not np.isfinite(norm):
            return None, np.inf
        if np.max(np.abs(g)) < tol:
            return z, float(np.max(np.abs(g)))
        A = face.dG(z)
        dz = np.linalg.lstsq(A, -g, rcond=1e-12)[0]
        big = np.max(np.abs(dz))
        if not np.isfinite(big):
            return None, np.inf
        if big > MAX_STEP:
            dz *= MAX_STEP / big
        t = 1.0
        while True:
            g_new = face.G(z + t * dz)
            n_new = float(np.linalg.norm(g_new))
            if n_new <= (1 - 1e-4 * t) * norm or t < 2 ** -12:
                break
            t *= 0.5
        if t < 2 ** -12 and n_new >= norm:
            break
        short = short + 1 if t < 2 ** -5 else 0
        if short >= 4:  # creeping towards a minimum of |G| that is not a root
            z, g = z + t * dz, g_new
            break
        z, g, norm = z + t * dz, g_new, n_new
        if np.max(np.abs(z)) > Y_LIMIT:
            return None, np.inf
        if drift_limit is not None and np.max(np.abs(z)) > drift_limit:
            return z, np.inf  # heading for a smaller face: the caller judges the point there
    m = float(np.max(np.abs(g)))
    return (z, m) if m < tol * 1e3 else (None, m)


# ------------------------------------------------------------------ neutral sets
def free_blocks(system: System, X, support, rng=None) -> list[tuple[int, tuple[int, ...]]]:
    """Blocks whose strategy can move without leaving the set of fixed points: ``[(b, actions)]``.

    ``b = i*Q + o`` is a flat (agent, state) block and ``actions`` the actions it may mix
    freely: those whose TD error equals the reference one at ``X`` (the support, plus the
    missing actions with a zero transversal rate). A block with two or more such actions
    is a candidate; candidates are kept when random strategies on their actions (jointly,
    else added one at a time) leave every block's fixed-point condition intact in
    ``FREE_TRIALS`` trials.
    """
    rng = np.random.default_rng(12345 if rng is None else rng)
    N, Q, M = system.shape
    if M < 2:
        return []
    face = FaceSystem(system, support)
    d = face.deltas(X)
    finite = np.isfinite(d)
    scale = 1.0 + (np.max(np.abs(d[finite])) if finite.any() else 0.0)
    cand = []
    for b in range(N * Q):
        acts = tuple(int(a) for a in np.flatnonzero(finite[b] & (np.abs(d[b] - d[b, face.ref[b]]) < FREE_TOL * scale)))
        if len(acts) >= 2 and set(np.flatnonzero(face.support[b])) <= set(acts):
            cand.append((b, acts))
    if not cand:
        return []
    X0 = np.array(X, dtype=float).reshape(N * Q, M)

    def holds(blocks) -> bool:
        sup = face.support.copy()
        for b, acts in blocks:
            sup[b, list(acts)] = True
        for _ in range(FREE_TRIALS):
            Y = X0.copy()
            for b, acts in blocks:
                Y[b] = 0.0
                Y[b, list(acts)] = rng.dirichlet(np.ones(len(acts)))
            dd = face.deltas(Y)
            for b in range(N * Q):
                vals = dd[b, sup[b]]
                if not np.all(np.isfinite(vals)) or np.ptp(vals) > FREE_TOL * scale:
                    return False
        return True

    if holds(cand):
        return cand
    kept: list = []
    for c in cand:
        if holds(kept + [c]):
            kept.append(c)
    return kept


def expand_free(system: System, X, support, blocks) -> tuple[np.ndarray, np.ndarray]:
    """The set's representative (free blocks uniform on their actions) and its face."""
    N, Q, M = system.shape
    X = np.array(X, dtype=float).reshape(N * Q, M)
    sup = np.asarray(support, dtype=bool).reshape(N * Q, M).copy()
    for b, acts in blocks:
        X[b] = 0.0
        X[b, list(acts)] = 1.0 / len(acts)
        sup[b, list(acts)] = True
    return X.reshape(N, Q, M), sup.reshape(N, Q, M)


# ------------------------------------------------------------------ reports
def _set_kind(normal) -> str:
    t = classify_map(normal)
    for k in ("stable", "saddle", "unstable"):
        if t.startswith(k):
            return k
    return "non-hyperbolic"


def face_report(system: System, face: FaceSystem, z, free=(), tangent=None, **extra) -> FixedPoint:
    """Stability report of the fixed point ``z`` of ``face`` (see the module docstring).

    ``free`` lists the free blocks ``(b, actions)`` of a neutral set through the point: their
    eigenvalues (exactly 1) are reported but left out of the classification. ``tangent``
    (k x n, face coordinates) spans further verified neutral directions along a curved
    set: the ``k`` eigenvalues nearest 1 are left out as well.
    """
    N, Q, M = system.shape
    X = face.X(z)
    A = face.flow_jacobian_at(X) if face.n else np.zeros((0, 0))
    G = face.G(z) if face.n else np.zeros(0)
    rates = face.transversal(X)
    Jf = np.eye(face.n) + face.alpha_rows[:, None] * A
    face_ev = np.linalg.eigvals(Jf) if face.n else np.zeros(0, complex)
    mult = np.exp(face.alpha_missing * rates)
    ev = _sorted(np.concatenate([face_ev.astype(complex), mult.astype(complex)]))
    flow_face = np.linalg.eigvals(A) if face.n else np.zeros(0, complex)
    flow_ev = _sorted(np.concatenate([flow_face.astype(complex), rates.astype(complex)]))
    free = sorted(free)
    free_b = {b for b, _ in free}
    n_tangent = 0 if tangent is None else len(tangent)
    n_neutral = sum(len(acts) - 1 for _, acts in free) + n_tangent
    if n_neutral:
        keep = [k for k, (b, _) in enumerate(face.coords) if b not in free_b]
        inner = np.linalg.eigvals(Jf[np.ix_(keep, keep)]).astype(complex) if keep else np.zeros(0, complex)
        inner_flow = np.linalg.eigvals(A[np.ix_(keep, keep)]).astype(complex) if keep else np.zeros(0, complex)
        if n_tangent:
            inner = inner[np.argsort(np.abs(inner - 1.0))[n_tangent:]]
            inner_flow = inner_flow[np.argsort(np.abs(inner_flow))[n_tangent:]]
        normal = np.concatenate([inner, mult.astype(complex)])
        normal_flow = np.concatenate([inner_flow, rates.astype(complex)])
        kind = _set_kind(normal)
        map_type, flow_type = f"{kind} set", f"{_flow_kind(normal_flow)} set"
        n_unstable = int(np.sum(np.abs(normal) > 1 + 1e-9))
        rho_normal = float(np.max(np.abs(normal))) if normal.size else 0.0
    else:
        map_type, flow_type = classify_map(ev), classify_flow(flow_ev)
        n_unstable = int(np.sum(np.abs(ev) > 1 + 1e-9))
        rho_normal = float(np.max(np.abs(ev))) if ev.size else 0.0
    rho = float(np.max(np.abs(ev))) if ev.size else 0.0
    with np.errstate(divide="ignore"):
        relax = -1.0 / np.log(rho_normal) if rho_normal not in (0.0, 1.0) else (np.inf if rho_normal == 1.0 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Xf = X.reshape(N * Q, M)
        y = (np.log(Xf[:, :-1]) - np.log(Xf[:, -1:])).reshape(N, Q, M - 1)
    stable = map_type.startswith("stable")
    missing = [(b // Q, b % Q, a) for b, a in face.missing]
    return FixedPoint(
        X=X, y=y,
        residual=float(np.max(np.abs(face.alpha_rows * G))) if G.size else 0.0,
        flow_residual=float(np.max(np.abs(G))) if G.size else 0.0,
        stable=stable, type=map_type, spectral_radius=rho, n_unstable=n_unstable,
        eigenvalues=_real_if_close(ev), eigenvectors=None,
        flow_stable=flow_type.startswith("stable"), flow_type=flow_type, flow_eigenvalues=_real_if_close(flow_ev),
        relaxation_time=float(relax), jacobian=Jf, params=effective_params(system),
        on_boundary=not face.interior, support=face.support.reshape(N, Q, M).copy(),
        transversal_actions=missing, transversal_rates=rates, transversal_multipliers=mult,
        face_eigenvalues=_real_if_close(_sorted(face_ev.astype(complex))),
        asymptotic=bool(stable and not face.interior),
        neutral_dimension=n_neutral, free_blocks=[(b // Q, b % Q, acts) for b, acts in free],
        tangent=None if tangent is None else np.asarray(tangent), **extra)


def _flow_kind(ev) -> str:
    t = classify_flow(ev)
    for k in ("stable", "saddle", "unstable"):
        if t.startswith(k):
            return k
    return "non-hyperbolic"


def support_of(X, tol: float) -> np.ndarray:
    """Actions with probability above ``tol`` times their block's largest one."""
    X = np.asarray(X, dtype=float)
    return X > tol * X.max(-1, keepdims=True)


def analyse_point(system: System, X, support, tol: float, **extra):
    """Polish ``X`` on the face ``support`` and report it (neutral sets folded to one representative).

    Returns ``(FixedPoint, key)`` or ``(None, None)`` when the face has no fixed point near ``X``.
    ``key`` identifies the point (or set) for de-duplication: ``(support bytes, free blocks,
    curved-set dimension)``.
    """
    face = FaceSystem(system, support)
    uniform = face.support.reshape(np.shape(X)) / face.support.sum(-1).reshape(np.shape(X)[:-1] + (1,))
    start = face.project(X)
    if np.any(start[face.support.reshape(start.shape)] <= 0):  # an action of the face at 0: start just inside
        start = 0.99 * start + 0.01 * uniform
    actor_critic = system.dyn.learner == "actor_critic"
    z, res = face_newton(face, face.z(start), tol, drift_limit=DRIFT_LIMIT if actor_critic else None)
    if z is None or not np.all(np.isfinite(z)):
        return None, None
    Xp = face.X(z)
    if actor_critic:
        inner = support_of(Xp, 1e-9) & face.support.reshape(Xp.shape)
        if not np.array_equal(inner, face.support.reshape(Xp.shape)):
            # Newton drifted to a smaller face (a support action vanishing): judge the point there
            return analyse_point(system, Xp, inner, tol, **extra) if inner.any(-1).all() else (None, None)
    if not np.isfinite(res):
        return None, None
    if np.any(Xp[face.support.reshape(Xp.shape)] < 1e-300):
        return None, None
    free = free_blocks(system, Xp, face.support)
    if free:
        Xr, sup = expand_free(system, Xp, face.support, free)
        face = FaceSystem(system, sup)
        z = face.z(Xr)
        z2, _ = face_newton(face, z, tol)  # the non-free coordinates are already solved; a no-op check
        if z2 is not None:
            z = z2
    tangent = None
    fixed = [k for k, (b, _) in enumerate(face.coords) if b not in {fb for fb, _ in free}]
    if fixed:
        got = curved_set(face, z, fixed, tol)
        if got is not None:
            z, tangent = got
    key = (face.support.tobytes(), tuple(sorted(free)), 0 if tangent is None else len(tangent))
    return face_report(system, face, z, free=free, tangent=tangent, **extra), key


def _null_space(A, rtol: float = 1e-7):
    if A.size == 0:
        return np.zeros((0, A.shape[1]))
    _, sv, vt = np.linalg.svd(A)
    scale = max(1.0, float(sv[0])) if sv.size else 1.0
    rank = int(np.sum(sv > rtol * scale))
    return vt[rank:]


def curved_set(face: FaceSystem, z, coords, tol: float, h: float = 1e-2):
    """A verified continuum of fixed points through ``z`` along the null space of the face Jacobian.

    Only the face coordinates ``coords`` move (free blocks stay put). Each null direction
    ``v`` is verified by Newton (least squares, minimum-norm steps) from ``z ± h v``:
    the continuum is accepted when every direction lands at distance ``>= h/2`` from
    ``z`` (an isolated degenerate point pulls the corrected point back). The
    representative is the point of the set where ``z`` is orthogonal to the tangent
    (nearest the face's barycentre along the set), so that points of one set share it.
    Returns ``(z, tangent)`` or None.
    """
    coords = np.asarray(coords, dtype=int)

    def tangent_at(zz):
        A = face.dG(zz)[:, coords]
        T = np.zeros((0, face.n))
        null = _null_space(A)
        if null.size:
            T = np.zeros((len(null), face.n))
            T[:, coords] = null
        return T

    T = tangent_at(z)
    if not len(T):
        return None
    for v in T:
        for sign in (1.0, -1.0):
            z2, _ = face_newton(face, z + sign * h * v, tol)
            if z2 is None or np.linalg.norm(z2 - z) < 0.5 * h:
                return None
    for _ in range(100):
        T = tangent_at(z)
        if not len(T):
            return None
        step = T.T @ (T @ z)
        z_new, _ = face_newton(face, z - np.clip(step, -1.0, 1.0), tol)
        if z_new is None:
            break
        moved = float(np.max(np.abs(z_new - z)))
        z = z_new
        if moved < 1e-11 * (1.0 + float(np.max(np.abs(z)))):
            break
    T = tangent_at(z)
    return (z, T) if len(T) else None


def pure_profiles(shape, limit: int, rng=None, extra=()):
    """Pure joint strategies as supports: all ``M**(N*Q)`` when at most ``limit``, else a random subset + ``extra``."""
    N, Q, M = shape
    nb = N * Q
    total = M ** nb
    if total <= limit:
        choices = itertools.product(range(M), repeat=nb)
    else:
        rng = np.random.default_rng(rng)
        choices = [tuple(rng.integers(0, M, nb)) for _ in range(limit)]
    out = [tuple(int(a) for a in c) for c in extra]
    out.extend(tuple(c) for c in choices)
    seen, uniq = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            uniq.append(c)
    sup = []
    for c in uniq:
        s = np.zeros((nb, M), dtype=bool)
        s[np.arange(nb), list(c)] = True
        sup.append(s.reshape(N, Q, M))
    return sup, total


def pure_report(system: System, support) -> FixedPoint:
    """Report of a pure profile (always a fixed point of the actor-critic map) with Nash flags.

    ``nash``: no missing action has a positive rate (``delta[b] <= delta[r]`` within
    ``FREE_TOL``); ``strict``: all rates are negative (a strict Nash equilibrium of the
    Q values: a hyperbolic, asymptotically stable corner).
    """
    face = FaceSystem(system, support)
    fp = face_report(system, face, np.zeros(0))
    rates = fp.transversal_rates
    finite = rates[np.isfinite(rates)]
    scale = 1.0 + (np.max(np.abs(finite)) if finite.size else 0.0)
    fp["nash"] = bool(np.all(rates <= FREE_TOL * scale))
    fp["strict"] = bool(np.all(rates < -FREE_TOL * scale))
    return fp


