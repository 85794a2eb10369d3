"""Fixed points of the learning map by damped Newton iteration in log-ratio coordinates.

The fixed point condition ``y' = y`` is solved as ``G(y) = (y' - y)/alpha = 0``
(``delta[a] - delta[M-1] = 0``, crld-math.md section 4) with the generated closed-form
Jacobian: ``dG/dy = (J - I)/alpha``. Starts come from a Latin hypercube (or Dirichlet)
sample of the product of simplices, from user guesses, and from the end points of
trajectories iterated from the same starts (which find the attractors).

In log-ratio coordinates pure strategies lie at infinity: the finder reports interior
fixed points only. For SARSA every fixed point is interior (``X ∝ exp(beta Q)``); an
actor-critic attractor on the boundary shows up in :func:`crldgen.basins` as a cluster
of final strategies instead.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..runtime.identity import tag_result
from ._core import Result, System, params_key, run_batch, sample_strategies
from .linear import report

#: Newton stops when max |G| falls below this; points with max |G| above ACCEPT_TOL are dropped
NEWTON_TOL = 1e-12
ACCEPT_TOL = 1e-9
#: largest Newton step (in log-ratio units) and largest |y| before a start is abandoned
MAX_STEP = 20.0
Y_LIMIT = 700.0


def newton(system: System, y0, tol: float = NEWTON_TOL, max_iter: int = 100):
    """Damped Newton iteration for ``G(y) = 0`` from ``y0``.

    Backtracking line search on ``|G|`` (Armijo, halving down to 2^-12) and a cap of
    ``MAX_STEP`` on the largest component of each step. A singular ``dG`` is handled
    by least squares. Returns ``(y, max|G|, iterations)``; ``y`` is None when the
    iteration left the region ``|y| < Y_LIMIT`` or stalled far from a root.
    """
    y = np.asarray(y0, dtype=float).ravel().copy()
    g = system.G(y)
    norm = float(np.linalg.norm(g))
    for it in range(1, max_iter + 1):
        if not np.isfinite(norm):
            return None, np.inf, it
        if np.max(np.abs(g)) < tol:
            return y, float(np.max(np.abs(g))), it
        A = system.dG(y)
        try:
            dy = np.linalg.solve(A, -g)
        except np.linalg.LinAlgError:
            dy = np.linalg.lstsq(A, -g, rcond=None)[0]
        big = np.max(np.abs(dy))
        if not np.isfinite(big):
            return None, np.inf, it
        if big > MAX_STEP:
            dy *= MAX_STEP / big
        t = 1.0
        while True:
            y_new = y + t * dy
            g_new = system.G(y_new)
            n_new = float(np.linalg.norm(g_new))
            if n_new <= (1 - 1e-4 * t) * norm or t < 2 ** -12:
                break
            t *= 0.5
        if t < 2 ** -12 and n_new >= norm:
            # no descent: accept only if we are at round-off level already
            return (y, float(np.max(np.abs(g))), it) if np.max(np.abs(g)) < ACCEPT_TOL else (None, norm, it)
        y, g, norm = y_new, g_new, n_new
        if np.max(np.abs(y)) > Y_LIMIT:
            return None, norm, it
    m = float(np.max(np.abs(g)))
    return (y if m < ACCEPT_TOL else None), m, max_iter


class FixedPointResult(Result):
    """Fixed points found by :func:`fixed_points`.

    Fields
    ------
    points : list of :class:`FixedPoint`, stable ones first, then by number of unstable
        directions; each has ``X``, ``stable``, ``type``, ``eigenvalues``, ... and
        ``hits`` (how many starts converged to it)
    X : (K, N, Q, M) array of the points' strategies;  stable : (K,) bool
    n_starts, n_converged : Newton starts (samples, guesses and trajectory end points) and how many converged
    params : the parameter overrides used
    """

    def summary(self) -> str:
        """A table: one row per fixed point."""
        lines = [f"{len(self.points)} fixed point(s) from {self.n_starts} starts "
                 f"({self.n_converged} converged); params {self.params}",
                 f"{'#':>3} {'map type':<15} {'rho':>10} {'flow type':<15} {'relax time':>12} "
                 f"{'residual':>9}  X[..., :-1]"]
        for k, pt in enumerate(self.points):
            lines.append(f"{k:>3} " + pt.summary_row())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "FixedPointResult:\n" + self.summary()

    @property
    def stable_points(self) -> list:
        return [pt for pt in self.points if pt.stable]


def _dedupe(ys: list, rtol: float) -> list[tuple[np.ndarray, int]]:
    out: list[list] = []
    for y in ys:
        for rec in out:
            if np.max(np.abs(rec[0] - y)) <= rtol * max(1.0, np.max(np.abs(y))):
                rec[1] += 1
                break
        else:
            out.append([y, 1])
    return [(y, n) for y, n in out]


@tag_result
def fixed_points(dyn, guesses=None, n_starts: int = 64, rng=None, *, sampling: str = "lhs",
                 iterate: bool = True, tmax: int = 5000, tol: float = NEWTON_TOL, dedupe_tol: float = 1e-6,
                 **p) -> FixedPointResult:
    """Find the (interior) fixed points of the learning map by Newton's method from many starts.

    Parameters
    ----------
    dyn : Dynamics
    guesses : array-like, optional
        Extra start strategies, one (N, Q, M) strategy or a stack (K, N, Q, M).
    n_starts : int
        Number of sampled starts (0 to use only ``guesses``).
    rng : seed or numpy Generator
    sampling : {'lhs', 'dirichlet'}
        How starts are sampled from the product of simplices (any number of actions).
    iterate : bool
        Also iterate the map from every start (up to ``tmax`` steps, in parallel) and
        polish the end points by Newton: this finds the attractors even when Newton
        from the raw start converges elsewhere.
    tol : float
        Newton tolerance on ``max |delta[a] - delta[M-1]|``.
    dedupe_tol : float
        Points closer than this (relative, max-norm in log-ratios) are one point.
    **p
        Parameter overrides (learner and game parameters).

    Returns
    -------
    FixedPointResult
        ``.points`` lists one :class:`FixedPoint` per distinct fixed point.
    """
    system = System(dyn, p)
    starts = []
    if guesses is not None:
        G = np.asarray(guesses, dtype=float)
        if G.shape == dyn.shape:
            G = G[None]
        if G.ndim != 4 or G.shape[1:] != dyn.shape:
            raise ParameterError(f"guesses must have shape {dyn.shape} or (K,) + {dyn.shape}, got {G.shape}")
        G = np.clip(G, 1e-300, None)  # a pure strategy as a guess: nudge it into the interior
        starts.extend(system.y(g_ / g_.sum(-1, keepdims=True)) for g_ in G)
    if n_starts:
        starts.extend(dyn.to_logit(X).ravel() for X in sample_strategies(dyn, n_starts, rng, sampling))
    if iterate and starts:
        ends = run_batch(dyn, np.array(starts), tmax, 1e-10, p)
        Y = ends.final_logit.reshape(len(ends), -1)
        starts.extend(y for y, bad in zip(Y, ends.diverged) if not bad and np.all(np.isfinite(y)))
    found = []
    for y0 in starts:
        y, res, _ = newton(system, y0, tol=tol)
        if y is not None and res < ACCEPT_TOL:
            found.append(y)
    points = []
    for y, hits in _dedupe(found, dedupe_tol):
        points.append(report(system, y, hits=hits))
    points.sort(key=lambda pt: (not pt.stable, pt.n_unstable, tuple(-pt.X[..., 0].ravel())))
    N, Q, M = dyn.shape
    return FixedPointResult(
        points=points,
        X=np.array([pt.X for pt in points]).reshape((len(points), N, Q, M)),
        stable=np.array([pt.stable for pt in points], dtype=bool),
        n_starts=len(starts), n_converged=len(found), params=params_key(p))
