"""Basins of attraction, tipping points and separatrices.

* :func:`basins` classifies a grid of initial strategies on a 2-D slice (the chapter's
  flow-plot axes: ``x = (agent, state, action)``, ``y = (agent, state, action)``, the
  other coordinates taken from a base strategy) by the attractor their trajectory reaches.
* :func:`basin_fractions` estimates the size of every basin from random initial strategies.
* :func:`tipping_point` locates the separatrix on a line of initial strategies by
  bisection (the chapter's critical point) and counts the trajectories it needed.
* :func:`critical_slowing_down` measures the time to convergence against the distance
  to the separatrix.
* :func:`stable_manifold` traces a branch of a saddle's stable manifold by iterating
  the exact inverse of the learning map backwards from the saddle.

Attractors are identified by their end strategies: each end point is polished by
Newton's method, in the interior and (actor-critic) on the face of the simplex where
the end's small coordinates vanish; ends that polish to the same fixed point or
neutral set share a label, ends that do not (a cycle, a run that did not converge) are
clustered by distance.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from ..errors import ParameterError, StrategyError
from ..runtime.identity import tag_result
from ._core import (Result, System, batch_overrides, coordinate, effective_params, flat, is_ragged, not_for_ragged,
                    params_key, sample_rows, sample_strategies, set_probability)
from .fixedpoints import newton
from .linear import FixedPoint, report


# ------------------------------------------------------------------ attractors
class _Attractors:
    """Registry of attractors met so far; labels end points by matching or clustering.

    An attractor that is a neutral set (``free_blocks``) matches every end point that
    agrees with it outside the free blocks.
    """

    def __init__(self, system: System, match_tol: float, known=None):
        self.system = system
        self.match_tol = match_tol
        self.items: list[Result] = []
        for pt in known or ():
            X = pt.X if isinstance(pt, Result) else pt
            self._add(X if isinstance(X, tuple) else np.asarray(X, dtype=float),
                      pt if isinstance(pt, FixedPoint) else None)

    def _add(self, X, fp):
        self.items.append(Result(X=X, fixed_point=fp, count=0))
        return len(self.items) - 1

    def nearest(self, X):
        if not self.items:
            return -1, np.inf
        d = [attractor_distance(it.X, it.fixed_point, X) for it in self.items]
        k = int(np.argmin(d))
        return k, d[k]

    def label(self, X, y, converged: bool) -> int:
        k, d = self.nearest(X)
        if d <= self.match_tol:
            self.items[k].count += 1
            return k
        if not converged:
            return -1
        fp = _polish(self.system, X, y, self.match_tol)
        if fp is not None:
            k, d = self.nearest(fp.X)
            if d <= self.match_tol:
                self.items[k].count += 1
                return k
        k = self._add(fp.X if fp is not None else X if isinstance(X, tuple) else np.asarray(X, dtype=float), fp)
        self.items[k].count += 1
        return k


def attractor_distance(A, fp, X) -> float:
    """Max-abs distance of strategy ``X`` to attractor ``A`` (ignoring a neutral set's free blocks)."""
    if isinstance(A, tuple) or isinstance(X, tuple):  # heterogeneous games: per-agent arrays (no neutral sets)
        return float(np.max(np.abs(flat(A) - flat(X))))
    diff = np.abs(np.asarray(A, dtype=float) - np.asarray(X, dtype=float))
    free = getattr(fp, "free_blocks", None) if fp is not None else None
    if free:
        mask = np.ones(diff.shape[:2], dtype=bool)
        for i, o, *_ in free:
            mask[i, o] = False
        if not mask.any():
            return 0.0
        diff = diff[mask]
    return float(np.max(diff))


def _polish(system: System, X, y, match_tol: float):
    """The fixed point (or neutral set) an end strategy sits at, or None if none is within ``match_tol``.

    Newton from the end in log-ratio coordinates first; then, for actor-critic, Newton on
    the faces where the end's small coordinates vanish (:mod:`.boundary`).
    """
    from . import boundary as bd

    y_fp, _, _ = newton(system, y)
    if system.ragged:  # interior points only (no face search for heterogeneous games yet)
        if y_fp is None:
            return None
        fp = report(system, y_fp)
        return fp if attractor_distance(fp.X, fp, X) <= match_tol else None
    if y_fp is not None:
        Xf = system.X(y_fp)
        free = bd.free_blocks(system, Xf, np.ones(system.shape, dtype=bool))
        fp = bd.analyse_point(system, Xf, np.ones(system.shape, dtype=bool), 1e-12)[0] if free \
            else report(system, y_fp)
        if fp is not None and attractor_distance(fp.X, fp, X) <= match_tol:
            return fp
    if system.dyn.learner != "actor_critic":
        return None
    for t in bd.SUPPORT_TOLS:
        sup = bd.support_of(X, t)
        if sup.all() or not sup.any(-1).all():
            continue
        fp, _ = bd.analyse_point(system, X, sup, 1e-12)
        if fp is not None and attractor_distance(fp.X, fp, X) <= match_tol:
            return fp
    return None


def _known(attractors):
    if attractors is None:
        return None
    if isinstance(attractors, Result) and "points" in attractors:
        return [pt for pt in attractors.points if pt.stable]
    return list(attractors)


def _grid_axis(g, lo, hi):
    if np.ndim(g) == 0:
        return np.linspace(lo, hi, int(g))
    return np.asarray(g, dtype=float)


class BasinResult(Result):
    """Basins on a 2-D slice (:func:`basins`) or from random samples (:func:`basin_fractions`).

    Fields
    ------
    labels : attractor index of every initial strategy (-1: did not converge, -2: not a
        strategy); grid shape (len(y_values), len(x_values)) for :func:`basins`
    attractors : list of Result(X, fixed_point (FixedPoint or None), count)
    fractions : (K,) share of the converged initial strategies in each basin
    steps, converged : per initial strategy
    x_values, y_values, x, y : the slice (for :func:`basins`)
    n_starts : trajectories run;  params : every parameter value used;  overrides : those passed
    """

    def summary(self) -> str:
        lines = [f"{len(self.attractors)} attractor(s) from {self.get('n_starts', self.labels.size)} starts; "
                 f"{int(np.sum(self.labels == -1))} runs did not converge"]
        for k, a in enumerate(self.attractors):
            kind = a.fixed_point.type if a.fixed_point is not None else "not a fixed point"
            if a.fixed_point is not None and a.fixed_point.get("on_boundary"):
                kind += " (boundary)"
            err = f" +- {self.stderr[k]:.3f}" if "stderr" in self else ""
            head = np.concatenate([x[..., :-1].ravel() for x in a.X]) if isinstance(a.X, tuple) else \
                a.X[..., :-1].ravel()
            lines.append(f"{k:>3} fraction {self.fractions[k]:.4f}{err}  {kind:<15} X[..., :-1] = "
                         + np.array2string(head, precision=4, max_line_width=10**6))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "BasinResult:\n" + self.summary()


def _classify(dyn, X0, params, tmax, tol, match_tol, attractors):
    """Run trajectories from the strategies ``X0`` (in parallel) and label their ends."""
    system = System(dyn, params)
    reg = _Attractors(system, match_tol, _known(attractors))
    runs = dyn.trajectories(X0, tmax, tol, progress=False, on_divergence="flag", **batch_overrides(dyn, params))
    if is_ragged(dyn):
        Y = sample_rows(dyn, runs.final_logit)
        finals = [dyn.layout.split(x) for x in sample_rows(dyn, runs.final)]
    else:
        Y = runs.final_logit.reshape(len(runs), -1)
        finals = runs.final
    labels = np.array([reg.label(X, y, bool(c) and not d)
                       for X, y, c, d in zip(finals, Y, runs.converged, runs.diverged)], dtype=int)
    counts = np.array([np.sum(labels == k) for k in range(len(reg.items))], dtype=float)
    total = max(counts.sum(), 1.0)
    return runs, labels, reg.items, counts / total


@tag_result
def basins(dyn, x, y, grid=21, *, base=None, x_range=(0.01, 0.99), y_range=(0.01, 0.99), attractors=None,
           tmax: int = 10000, tol: float = 1e-8, match_tol: float = 1e-2, **p) -> BasinResult:
    """Classify a grid of initial strategies on a 2-D slice by the attractor they reach.

    Parameters
    ----------
    dyn : Dynamics
    x, y : (agent, state, action)
        The probabilities on the horizontal and vertical axes (indices or labels, e.g.
        ``(0, 'p', 'c')``), as in the chapter's flow plots.
    grid : int, or pair of int / arrays
        Grid points per axis, or the axis values themselves.
    base : array (N, Q, M), optional
        Strategy supplying all other coordinates (default uniform). The other actions of
        an axis' (agent, state) keep their relative weights in ``base``.
    x_range, y_range : (lo, hi)
        Axis ranges when ``grid`` gives counts.
    attractors : FixedPointResult or list of strategies, optional
        Known attractors to match end points against (more are added when met).
    tmax, tol : int, float
        Iteration limit and convergence tolerance (``||X_next - X|| < tol``).
    match_tol : float
        Largest max-abs distance of an end strategy to an attractor it is matched to.
    **p
        Parameter overrides.

    Returns
    -------
    BasinResult
        ``labels[j, k]`` is the attractor of the strategy ``(x_values[k], y_values[j])``.
    """
    _checks.basins(grid, x_range, y_range, tmax, tol, match_tol)
    cx, cy = coordinate(dyn, x, "x"), coordinate(dyn, y, "y")
    if cx == cy:
        raise ParameterError("x and y must be different coordinates")
    gx, gy = (grid, grid) if np.ndim(grid) == 0 or (np.ndim(grid) == 1 and len(grid) != 2) else grid
    xs, ys = _grid_axis(gx, *x_range), _grid_axis(gy, *y_range)
    base = dyn.uniform_strategy() if base is None else dyn.check_strategy(base, "base")
    starts, where = [], []
    for j, vy in enumerate(ys):
        for k, vx in enumerate(xs):
            try:
                X = set_probability(base, [cx, cy], [vx, vy])
            except StrategyError:  # both axes in one (agent, state): beyond the simplex
                continue
            parts = X if isinstance(X, tuple) else (X,)
            if all(np.all(x > 0) and np.allclose(x.sum(-1), 1.0, rtol=0, atol=1e-12) for x in parts):
                starts.append(flat(X) if isinstance(X, tuple) else X)
                where.append((j, k))
    if not starts:
        raise ParameterError("no grid point of the slice is a strategy in the interior of the simplex")
    runs, lab, items, fractions = _classify(dyn, np.array(starts), p, tmax, tol, match_tol, attractors)
    labels = np.full((len(ys), len(xs)), -2, dtype=int)
    steps = np.zeros((len(ys), len(xs)), dtype=int)
    converged = np.zeros((len(ys), len(xs)), dtype=bool)
    for (j, k), lb, st, cv in zip(where, lab, runs.steps, runs.converged):
        labels[j, k], steps[j, k], converged[j, k] = lb, st, cv
    return BasinResult(labels=labels, attractors=items, fractions=fractions, steps=steps, converged=converged,
                       x_values=xs, y_values=ys, x=cx, y=cy, n_starts=len(starts),
                       params=effective_params(System(dyn, p)), overrides=params_key(p))


@tag_result
def basin_fractions(dyn, n_samples: int = 1000, rng=None, *, sampling: str = "dirichlet", attractors=None,
                    tmax: int = 10000, tol: float = 1e-8, match_tol: float = 1e-2, **p) -> BasinResult:
    """Basin sizes from ``n_samples`` random initial strategies (uniform on the product of simplices).

    Returns a :class:`BasinResult` with ``fractions`` and their binomial standard
    errors ``stderr``; ``labels`` has one entry per sample, ``X0`` holds the samples.
    """
    _checks.basin_fractions(n_samples, rng, sampling, tmax, tol, match_tol)
    X0 = sample_strategies(dyn, n_samples, rng, sampling, eps=1e-9)
    runs, labels, items, fractions = _classify(dyn, X0, p, tmax, tol, match_tol, attractors)
    n = max(int(np.sum(labels >= 0)), 1)
    return BasinResult(labels=labels, attractors=items, fractions=fractions,
                       stderr=np.sqrt(fractions * (1 - fractions) / n), steps=runs.steps,
                       converged=runs.converged, X0=X0, n_starts=len(runs),
                       params=effective_params(System(dyn, p)), overrides=params_key(p))


# ---------------------------------------------------------------- tipping point
class TippingPoint(Result):
    """The separatrix on a line of initial strategies (:func:`tipping_point`).

    Fields
    ------
    t, bracket : position on the line ``X(t) = (1-t) X_start + t X_end`` and the final
        bracket ``(t_lo, t_hi)`` (``t_hi - t_lo <= tol``)
    value, value_bracket : the same in the units of ``coordinate`` (when given)
    X : the strategy at ``t``;  X_lo, X_hi : the bracket's strategies
    attractors : (attractor reached from below, from above), FixedPoint or end strategy
    n_trajectories : trajectories run (two for the ends, one per bisection step)
    steps_lo, steps_hi : trajectory lengths at the bracket ends (critical slowing down)
    """

    def __repr__(self) -> str:
        where = (f"{self.value:.10g} in [{self.value_bracket[0]:.10g}, {self.value_bracket[1]:.10g}]"
                 if self.value is not None else f"t={self.t:.10g}")
        return f"TippingPoint({where}, {self.n_trajectories} trajectories)"


def _line(dyn, X_start, X_end, coordinate_, interval, base):
    """The line's ends (flat vectors for heterogeneous games: the line is taken in the flat strategy)."""
    shape = flat if is_ragged(dyn) else (lambda X: X)
    if coordinate_ is not None:
        c = coordinate(dyn, coordinate_, "coordinate")
        base = dyn.uniform_strategy() if base is None else dyn.check_strategy(base, "base")
        lo, hi = interval
        return (shape(set_probability(base, [c], [lo])), shape(set_probability(base, [c], [hi])),
                (float(lo), float(hi)))
    if X_start is None or X_end is None:
        raise ParameterError("give either X_start and X_end, or coordinate= and interval= (with base=)")
    return shape(dyn.check_strategy(X_start, "X_start")), shape(dyn.check_strategy(X_end, "X_end")), None


@tag_result
def tipping_point(dyn, X_start=None, X_end=None, *, coordinate=None, interval=(0.01, 0.99), base=None,
                  tol: float = 1e-6, tmax: int = 20000, run_tol: float = 1e-9, max_runs: int = 200,
                  **p) -> TippingPoint:
    """Locate the separatrix on a line of initial strategies by bisection.

    The line is ``X(t) = (1-t) X_start + t X_end``, or, with ``coordinate=(agent, state,
    action)``, the strategies ``base`` with that probability running over ``interval``
    (the chapter: ``coordinate=(0, 'p', 'c')``, ``interval=(0.01, 0.99)``, ``base`` with
    ``X[1,p,c] = 0.95`` and 0.5 in the degraded state). The two ends must reach different
    attractors; bisection keeps the bracket whose ends do, until it is shorter than
    ``tol`` (in ``t``, or in the coordinate's units). One trajectory per step: about
    ``log2(length / tol)`` trajectories plus two for the ends.

    Parameters
    ----------
    tol : float
        Bracket width to reach.
    tmax, run_tol : int, float
        Limit and convergence tolerance of each trajectory; a run that ends near neither
        attractor is continued (up to ``tmax`` more steps at a time, ``max_runs`` runs).
    **p
        Parameter overrides.
    """
    _checks.tipping_point(X_start, X_end, interval, tol, tmax, run_tol, max_runs)
    Xa, Xb, span = _line(dyn, X_start, X_end, coordinate, interval, base)
    scale = (span[1] - span[0]) if span is not None else 1.0
    t_tol = tol / abs(scale)
    system = System(dyn, p)
    count = 0

    def run(t):
        nonlocal count
        X0 = (1 - t) * Xa + t * Xb
        count += 1
        return dyn.trajectory(X0, tmax, run_tol, every=None, **p)

    ends = []
    for t in (0.0, 1.0):
        r = run(t)
        ends.append((_polish(system, r.final, flat(r.final_logit), 1e-2), r))
    A = [e[0].X if e[0] is not None else e[1].final for e in ends]
    A_fp = [e[0] for e in ends]
    if max(attractor_distance(A[0], A_fp[0], A[1]), attractor_distance(A[1], A_fp[1], A[0])) < 1e-6:
        raise ParameterError("both ends of the line reach the same attractor: no tipping point between them")

    def side(r, t):
        """0 or 1: the attractor the run from t ends nearer to (continuing ambiguous runs)."""
        total = r.steps
        while True:
            d0, d1 = (attractor_distance(a, f, r.final) for a, f in zip(A, A_fp))
            if min(d0, d1) < 0.25 * max(d0, d1):
                return (0 if d0 < d1 else 1), total
            if total > max_runs * tmax:
                raise ParameterError(f"the run from t={t} ends near neither attractor after {total} steps")
            r = dyn.trajectory(r, tmax, None, every=None, **p)
            total += r.steps

    lo, hi = 0.0, 1.0
    steps_lo, steps_hi = ends[0][1].steps, ends[1][1].steps
    while hi - lo > t_tol:
        mid = 0.5 * (lo + hi)
        s, n = side(run(mid), mid)
        if s == 0:
            lo, steps_lo = mid, n
        else:
            hi, steps_hi = mid, n
    t = 0.5 * (lo + hi)
    value = value_bracket = None
    if span is not None:
        value = span[0] + t * scale
        value_bracket = (span[0] + lo * scale, span[0] + hi * scale)
    shaped = dyn.layout.split if is_ragged(dyn) else (lambda X: X)
    return TippingPoint(t=t, bracket=(lo, hi), value=value, value_bracket=value_bracket,
                        X=shaped((1 - t) * Xa + t * Xb), X_lo=shaped((1 - lo) * Xa + lo * Xb),
                        X_hi=shaped((1 - hi) * Xa + hi * Xb), X_start=shaped(Xa), X_end=shaped(Xb), span=span,
                        attractors=tuple(e[0] if e[0] is not None else e[1].final for e in ends),
                        n_trajectories=count, steps_lo=int(steps_lo), steps_hi=int(steps_hi),
                        params=effective_params(system), overrides=params_key(p))


@tag_result
def critical_slowing_down(dyn, tip: TippingPoint, distances=None, *, tmax: int = 100000, tol: float = 1e-8,
                          saddle: FixedPoint | None = None, **p) -> Result:
    """Time to convergence against the distance to the separatrix on the tipping point's line.

    Runs trajectories (in parallel) from ``t* - d`` and ``t* + d`` for every distance
    ``d`` (in ``t``, or in the coordinate's units when the line was given by one) with
    the chapter's convergence rule ``||X_next - X|| < tol``. Near a saddle the time grows
    like ``-ln(d) / ln(lambda_u)`` (``lambda_u`` the saddle's unstable eigenvalue): the
    fitted ``slope`` of steps against ``-ln d`` is reported next to
    ``predicted_slope = 1 / ln(lambda_u)`` when ``saddle`` is given.

    A run that passes the saddle more slowly than ``tol`` per step stops there: such runs
    (``reached[k] == False``, typical for the chapter's ``tol = 1e-5`` at ``d`` below
    about 1e-6) are left out of the fit; lower ``tol`` to resolve smaller distances.
    So are distances below ten times the tipping point's bracket half-width (locate the
    tipping point with a small ``tol`` first); ``fitted`` marks the runs the fit used.

    Returns
    -------
    Result
        ``distance`` (D,), ``steps`` (2, D) (row 0 below the separatrix, row 1 above),
        ``reached`` (2, D) (the run ended at its side's attractor), ``fitted``,
        ``converged``, ``slope``, ``predicted_slope`` (None without a saddle).
    """
    _checks.critical_slowing_down(distances, tmax, tol)
    p = {**tip.params, **p}
    scale = (tip.span[1] - tip.span[0]) if tip.span is not None else 1.0
    d = np.logspace(-8, -1, 15) if distances is None else np.asarray(distances, dtype=float)
    ts = np.concatenate([tip.t - d / scale, tip.t + d / scale])
    if np.any(ts < 0) or np.any(ts > 1):
        raise ParameterError("distances reach beyond the ends of the line")
    Xa, Xb = (flat(tip.X_start), flat(tip.X_end)) if is_ragged(dyn) else (tip.X_start, tip.X_end)
    runs = dyn.trajectories(np.array([(1 - t) * Xa + t * Xb for t in ts]), tmax, tol,
                            progress=False, **batch_overrides(dyn, p))
    A = [(a.X, a) if isinstance(a, Result) else (a if isinstance(a, tuple) else np.asarray(a), None)
         for a in tip.attractors]
    finals = sample_rows(dyn, runs.final) if is_ragged(dyn) else runs.final
    dist = np.array([[attractor_distance(a, f, X) for a, f in A] for X in finals])
    side = np.repeat([0, 1], len(d))
    reached = (dist[np.arange(len(ts)), side] < 0.25 * dist[np.arange(len(ts)), 1 - side]) & runs.converged
    steps = runs.steps.reshape(2, len(d))
    # distances within the tipping point's own uncertainty say nothing about the scaling
    half_width = 0.5 * (tip.bracket[1] - tip.bracket[0]) * abs(scale)
    fitted = reached & np.tile(d > 10 * half_width, 2)
    x = -np.log(np.concatenate([d, d]))[fitted]
    slope = float(np.polyfit(x, runs.steps[fitted].astype(float), 1)[0]) if len(np.unique(x)) > 1 else None
    predicted = None
    if saddle is not None:
        predicted = 1.0 / np.log(float(np.max(np.abs(saddle.eigenvalues))))
    return Result(distance=d, steps=steps, reached=reached.reshape(2, len(d)), fitted=fitted.reshape(2, len(d)),
                  converged=runs.converged.reshape(2, len(d)), slope=slope, predicted_slope=predicted)


# ------------------------------------------------------------------ manifolds
def inverse_step(system: System, z, y_guess=None, tol: float = 1e-13, max_iter: int = 50):
    """The exact preimage ``y`` with ``step(y) = z``, by Newton's method on the generated Jacobian.

    Starts from the reverse step ``z - (step(z) - z)`` (exact to first order in alpha).
    Returns None when Newton does not converge.
    """
    z = np.asarray(z, dtype=float).ravel()
    y = z - (system.step(z) - z) if y_guess is None else np.asarray(y_guess, dtype=float).ravel().copy()
    for _ in range(max_iter):
        r = system.step(y) - z
        if np.max(np.abs(r)) < tol * (1 + np.max(np.abs(z))):
            return y
        try:
            y = y - np.linalg.solve(system.J(y), r)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(y)):
            return None
    r = system.step(y) - z
    return y if np.max(np.abs(r)) < 1e-10 * (1 + np.max(np.abs(z))) else None


@tag_result
def stable_manifold(dyn, saddle, *, eigen_index: int | None = None, eps: float = 1e-6, n_per_domain: int = 16,
                    max_iter: int = 5000, y_limit: float = 30.0, **p) -> Result:
    """Trace the two branches of a one-dimensional stable manifold of a saddle backwards in time.

    Starting points ``saddle ± r v`` with ``r`` spread geometrically over one fundamental
    domain ``[eps, eps / lambda)`` (``v`` the eigenvector of the stable eigenvalue
    ``lambda``) are mapped backwards with the exact inverse of the learning map
    (:func:`inverse_step`, not the first-order reverse step), so the curve lies on the
    stable manifold of the map itself. Points are ordered along the curve.

    Parameters
    ----------
    saddle : FixedPoint or strategy
    eigen_index : int, optional
        Which eigenvalue (index into the saddle's ``eigenvalues``, sorted by decreasing
        modulus) spans the direction; default: the real stable eigenvalue of smallest
        modulus (the most strongly attracting direction).
    eps : float
        Distance from the saddle (in log-ratios) where the linear approximation is used.
    max_iter : int
        Backward steps per starting point; branches also stop when ``|y| > y_limit``.

    Returns
    -------
    Result
        ``branches``: two Results with ``y`` (L, n_free) and ``X`` (L, N, Q, M), and
        ``eigenvalue``, ``eigenvector``.
    """
    _checks.stable_manifold(eigen_index, eps, n_per_domain, max_iter, y_limit)
    system = System(dyn, p)
    fp = saddle if isinstance(saddle, FixedPoint) else report(system, system.y(saddle))
    if fp.get("on_boundary") or fp.get("eigenvectors") is None:
        raise ParameterError("stable_manifold needs an interior saddle with eigenvectors; this point lies on the "
                             "boundary of the simplex or is a neutral set (its stable manifold is not traced)")
    fp = report(system, flat(fp.y)) if fp.params != effective_params(system) else fp
    ev, vecs = np.asarray(fp.eigenvalues, dtype=complex), fp.eigenvectors
    if eigen_index is None:
        cand = [k for k in range(len(ev)) if abs(ev[k].imag) < 1e-12 and 0 < abs(ev[k]) < 1]
        if not cand:
            raise ParameterError("the saddle has no real stable eigenvalue")
        eigen_index = min(cand, key=lambda k: abs(ev[k]))
    lam = ev[eigen_index]
    if abs(lam.imag) > 1e-12 or not 0 < abs(lam.real) < 1:
        raise ParameterError(f"eigenvalue {lam} is not real and stable")
    lam = float(lam.real)
    v = np.real(vecs[:, eigen_index])
    v /= np.linalg.norm(v)
    y0 = flat(fp.y)
    m = int(n_per_domain)
    radii = eps * abs(lam) ** (-np.arange(m) / m)
    branches = []
    for sign in (1.0, -1.0):
        layers = [[y0 + sign * r * v for r in radii]]
        for _ in range(max_iter):
            nxt = []
            for z in layers[-1]:
                y = inverse_step(system, z)
                if y is None or np.max(np.abs(y)) > y_limit:
                    break
                nxt.append(y)
            if len(nxt) < len(layers[-1]):
                layers.append(nxt)
                break
            layers.append(nxt)
        pts = np.array([y0] + [y for layer in layers for y in layer])
        Xs = [system.X(y) for y in pts]
        branches.append(Result(y=pts, X=np.array(Xs) if not system.ragged else
                               tuple(np.array([X[i] for X in Xs]) for i in range(dyn.n_agents))))
    return Result(branches=branches, eigenvalue=lam, eigenvector=v, saddle=fp)


def crossing(dyn, curve, coordinate_, value: float) -> list[np.ndarray]:
    """Strategies where a curve crosses ``X[coordinate] = value``.

    ``curve`` is a Result with log-ratios ``y`` (L, n_free) (a branch of
    :func:`stable_manifold`). Between consecutive points the curve is interpolated
    linearly in log-ratio coordinates and the crossing found by bisection.
    """
    _checks.crossing(value)
    c = coordinate(dyn, coordinate_, "coordinate")
    Y = np.asarray(curve.y if hasattr(curve, "y") else curve, dtype=float)
    Y = Y.reshape(len(Y), -1)

    def f(y):
        return float(dyn.from_logit(y)[c[0]][c[1], c[2]]) - value

    s = np.array([f(y) for y in Y])
    out = []
    for k in np.flatnonzero(np.sign(s[:-1]) * np.sign(s[1:]) < 0):
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if np.sign(f(Y[k] + mid * (Y[k + 1] - Y[k]))) == np.sign(s[k]):
                lo = mid
            else:
                hi = mid
        out.append(dyn.from_logit(Y[k] + 0.5 * (lo + hi) * (Y[k + 1] - Y[k])))
    return out
