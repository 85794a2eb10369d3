"""Fixed points of the learning map by damped Newton iteration in log-ratio coordinates.

The fixed point condition ``y' = y`` is solved as ``G(y) = (y' - y)/alpha = 0``
(``delta[a] - delta[M-1] = 0``, crld-math.md section 4) with the generated closed-form
Jacobian: ``dG/dy = (J - I)/alpha``. Starts come from a Latin hypercube (or Dirichlet)
sample of the product of simplices, from user guesses, and from the end points of
trajectories iterated from the same starts (which find the attractors).

In log-ratio coordinates pure strategies lie at infinity: boundary fixed points are
found by Newton on the faces of the product of simplices (:mod:`.boundary`), which
also folds continua of fixed points into one neutral set. For SARSA every fixed point
that matters is interior (``X ∝ exp(beta Q)``); actor-critic attractors are typically
on the boundary.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from ..errors import ParameterError, StrategyError
from ..runtime.identity import tag_result
from ._core import (MAX_STEP, Y_LIMIT, Result, System, effective_params, flat, is_ragged, params_key, run_batch,
                    sample_rows, sample_strategies)
from .linear import FixedPoint, report

#: Newton stops when ``max |G|`` falls below this; points with ``max |G|`` above ACCEPT_TOL are dropped
NEWTON_TOL = 1e-12
ACCEPT_TOL = 1e-9
#: an eigenvalue this close to modulus 1 triggers the test for a continuum of fixed points
NEUTRAL_TOL = 1e-6


def newton(system: System, y0, tol: float = NEWTON_TOL, max_iter: int = 100, y_limit: float = Y_LIMIT):
    """Damped Newton iteration for ``G(y) = 0`` from ``y0``.

    Backtracking line search on ``|G|`` (Armijo, halving down to 2^-12) and a cap of
    ``MAX_STEP`` on the largest component of each step. A singular ``dG`` is handled
    by least squares. The tolerances are scaled by ``max(1, max|y|)``: at a near-pure
    SARSA point (``y ~ beta Q``, thousands at high beta) ``G = beta dQ - y`` cancels to
    round-off of ``|y|``. Returns ``(y, max|G|, iterations)``; ``y`` is None when the
    iteration left the region ``|y| < y_limit`` or stalled far from a root.
    """
    y = np.asarray(y0, dtype=float).ravel().copy()
    if not np.all(np.isfinite(y)):
        return None, np.inf, 0

    def scale(v):
        return max(1.0, float(np.max(np.abs(v)))) if v.size else 1.0

    g = system.G(y)
    norm = float(np.linalg.norm(g))
    for it in range(1, max_iter + 1):
        if not np.isfinite(norm):
            return None, np.inf, it
        if np.max(np.abs(g)) < tol * scale(y):
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
            ok = np.max(np.abs(g)) < ACCEPT_TOL * scale(y)
            return (y, float(np.max(np.abs(g))), it) if ok else (None, norm, it)
        y, g, norm = y_new, g_new, n_new
        if np.max(np.abs(y)) > y_limit:
            return None, norm, it
    m = float(np.max(np.abs(g)))
    return (y if m < ACCEPT_TOL * scale(y) else None), m, max_iter


class FixedPointResult(Result):
    """Fixed points found by :func:`fixed_points`.

    Fields
    ------
    points : list of :class:`FixedPoint`, stable ones first, then by number of unstable
        directions; each has ``X``, ``stable``, ``type``, ``eigenvalues``, ... and
        ``hits`` (how many Newton starts, face starts and pure profiles landed on it), ``on_boundary``, ``support``,
        ``transversal_rates``, ``neutral_dimension`` (see :class:`FixedPoint`). A neutral
        set of fixed points is one entry (its representative, ``type`` ending in
        ``' set'``) with ``members`` (distinct points of the set met) and ``corners``
        (pure profiles in it).
    X : (K, N, Q, M) array of the points' strategies;  stable : (K,) bool
    neutral_sets : the entries of ``points`` with ``neutral_dimension > 0``
    boundary_points : the entries of ``points`` with ``on_boundary``
    pure : reports of the pure profiles examined, with ``nash`` and ``strict`` flags
        (actor-critic; empty otherwise)
    n_starts : starts actually used (guesses + samples); n_trajectories : trajectories iterated
    n_newton_starts, n_converged : interior Newton starts (starts and trajectory ends) and
        how many converged
    search : what was searched: ``boundary`` (bool), ``boundary_note``, ``faces_tried``
        (number of faces), ``faces`` (their supports), ``n_pure`` (pure profiles examined
        out of ``n_pure_total``), ``n_unconverged`` (trajectories that did not converge:
        cycles, slow boundary approach)
    params : every parameter value the points were computed at (learner and game)
    overrides : the parameter overrides passed to the call
    """

    def summary(self) -> str:
        """A table: one row per fixed point (or neutral set)."""
        s = self.search
        lines = [f"{len(self.points)} fixed point(s) ({len(self.neutral_sets)} neutral set(s), "
                 f"{len(self.boundary_points)} on the boundary) from {self.n_starts} starts "
                 f"({self.n_trajectories} trajectories, {self.n_unconverged_note()}; "
                 f"{self.n_converged}/{self.n_newton_starts} interior Newton starts converged)",
                 f"boundary: {s['boundary_note']}",
                 f"params {_fmt_params(self.params)}",
                 f"{'#':>3} {'map type':<22} {'rho':>10} {'flow type':<22} {'relax time':>12} "
                 f"{'residual':>9}  where  X[..., :-1]"]
        for k, pt in enumerate(self.points):
            where = "bnd " if pt.on_boundary else "int "
            if pt.neutral_dimension:
                where += f"set dim {pt.neutral_dimension} "
                if pt.free_blocks:
                    where += "free " + ", ".join(f"X[{i},{o},{list(a)}]" for i, o, a in pt.free_blocks) + " "
                if pt.tangent is not None:
                    where += f"curved ({len(pt.tangent)}-d tangent) "
            lines.append(f"{k:>3} {pt.type:<22} {pt.spectral_radius:10.6f} {pt.flow_type:<22} "
                         f"{pt.relaxation_time:12.4g} {pt.residual:9.2e}  {where} "
                         + np.array2string(_head(pt.X), precision=4, separator=" ",
                                           max_line_width=10 ** 6))
        if s["n_unconverged"]:
            lines.append(f"{s['n_unconverged']} of {self.n_trajectories} trajectories did not converge within "
                         f"tmax (cycles, or a slow approach to the boundary such as a heteroclinic cycle): "
                         f"their ends are not fixed points"
                         + ("; no stable fixed point found" if not self.stable_points else ""))
        if self.pure:
            nash = [pt for pt in self.pure if pt.nash]
            lines.append("pure Nash profiles (action index per state, one list per agent): "
                         + ", ".join(_profile(pt) + ("" if pt.strict else " (non-strict)") for pt in nash)
                         if nash else "no pure profile is a Nash profile")
        return "\n".join(lines)

    def n_unconverged_note(self) -> str:
        n = self.search["n_unconverged"]
        return f"{n} not converged" if n else "all converged"

    def __repr__(self) -> str:
        return "FixedPointResult:\n" + self.summary()

    @property
    def stable_points(self) -> list:
        return [pt for pt in self.points if pt.stable]


def _head(X) -> np.ndarray:
    """``X[..., :-1]`` flattened (per-agent tuples of heterogeneous games concatenated)."""
    if isinstance(X, tuple):
        return np.concatenate([x[..., :-1].ravel() for x in X])
    return X[..., :-1].ravel()


def _profile(pt) -> str:
    return "[" + " ".join(str(np.argmax(pt.X[i], -1).tolist()) for i in range(pt.X.shape[0])).replace(" ", "") + "]"


def _fmt_params(params: dict) -> str:
    out = []
    for k, v in params.items():
        if isinstance(v, list):
            out.append(f"{k}={v[0]:g}" if len(set(v)) == 1 else f"{k}={[float(f'{x:g}') for x in v]}")
        else:
            out.append(f"{k}={v:g}")
    return ", ".join(out)


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


class _Registry:
    """Distinct fixed points and neutral sets, keyed by face and free blocks, matched by distance."""

    def __init__(self, dedupe_tol: float):
        self.tol = dedupe_tol
        self.items: list = []  # (key, coords for matching, FixedPoint)

    def add(self, fp, key, origin=None) -> FixedPoint:
        if not fp.on_boundary:
            coords = np.asarray(fp.y, dtype=float).ravel()  # finite even where X underflows to 0
        else:
            sup = fp.support.reshape(-1, fp.X.shape[-1])
            with np.errstate(divide="ignore"):
                L = np.log(np.where(sup, fp.X.reshape(sup.shape), 1.0))
            coords = (L - L.max(-1, keepdims=True))[sup]
        finite = np.isfinite(coords)
        scale = max(1.0, float(np.max(np.abs(coords[finite])))) if finite.any() else 1.0
        coords = np.where(finite, coords, -1e300)
        for k, c, rec in self.items:
            if k == key and c.shape == coords.shape and np.max(np.abs(c - coords)) <= self.tol * scale:
                rec["hits"] += 1
                if origin is not None and rec.neutral_dimension:
                    _note_member(rec, origin)
                return rec
        fp["hits"] = 1
        if fp.neutral_dimension:
            fp["members"], fp["corners"] = [], []
            if origin is not None:
                _note_member(fp, origin)
        self.items.append((key, coords, fp))
        return fp

    @property
    def points(self) -> list:
        return [rec for _, _, rec in self.items]


def _free_mask(fp) -> np.ndarray:
    """True on the (agent, state, action) entries a neutral set's free blocks do not cover."""
    mask = np.ones(fp.X.shape, dtype=bool)
    for i, o, acts in fp.free_blocks:
        mask[i, o, :] = False
    if not mask.any():
        mask[:] = True
    return mask


def _note_member(rec, X):
    X = np.asarray(X, dtype=float)
    pure = bool(np.all((X < 1e-12) | (X > 1 - 1e-12)))
    where = rec["corners"] if pure else rec["members"]
    if not any(np.max(np.abs(m - X)) < 1e-6 for m in where) and len(where) < 64:
        where.append(X)


@tag_result
def fixed_points(dyn, guesses=None, n_starts: int = 64, rng=None, *, sampling: str = "lhs",
                 iterate: bool = True, tmax: int = 5000, tol: float = NEWTON_TOL, dedupe_tol: float = 1e-6,
                 boundary: bool | None = None, max_faces: int = 200, max_pure: int = 512,
                 **p) -> FixedPointResult:
    """Find the fixed points of the learning map, in the interior and on the boundary.

    Interior: Newton's method in log-ratio coordinates from many starts (samples,
    guesses and the end points of trajectories iterated from them). Boundary
    (actor-critic; see :mod:`crldgen.analysis.boundary`): Newton on the faces of the
    product of simplices suggested by the trajectory ends (actions below 1e-3 or 1e-7
    of their block's largest probability dropped), by near-zero coordinates of the
    interior points and the starts, and every pure profile (all ``M**(N*Q)`` of them up
    to ``max_pure``, else a random subset plus the rounded trajectory ends), then the
    faces one action larger wherever a point found grows transversally (where saddles
    between boundary attractors lie), up to ``max_faces`` faces; stability
    from the eigenvalues within the face and the transversal rates. Continua of fixed
    points (blocks whose strategy does not matter) are reported once as a neutral set.

    Heterogeneous games (per-agent ``M_i``, ``Q_i``): interior points only; ``guesses``
    is one strategy (a tuple of per-agent arrays, or flat) or a list of them, ``X`` of
    the result a tuple of per-agent ``(K, Q_i, M_i)`` arrays. The boundary search is not
    supported yet: ``boundary=True``, and actor-critic without ``boundary=False``, raise
    :class:`ParameterError`.

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
        Newton tolerance on ``max |delta[a] - delta[r]|``.
    dedupe_tol : float
        Points closer than this (relative, max-norm in log-ratios) are one point.
    boundary : bool, optional
        Search the faces (default: for actor-critic; SARSA faces repel, see the module
        docstring of :mod:`crldgen.analysis.boundary`, and ``boundary=True`` with SARSA
        raises :class:`ParameterError`).
    max_faces, max_pure : int
        Budgets: faces searched by Newton, pure profiles examined.
    **p
        Parameter overrides (learner and game parameters).

    Returns
    -------
    FixedPointResult
        ``.points`` lists one :class:`FixedPoint` per distinct fixed point or neutral set;
        ``.search`` says what was searched, ``.params`` the parameter values used.
    """
    _checks.fixed_points(guesses, n_starts, rng, sampling, iterate, tmax, tol, dedupe_tol)
    if is_ragged(dyn):
        return _ragged_fixed_points(dyn, guesses, n_starts, rng, sampling, iterate, tmax, tol, dedupe_tol, boundary,
                                    p)
    from . import boundary as bd

    system = System(dyn, p)
    rng = np.random.default_rng(rng)
    N, Q, M = dyn.shape
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
    n_used = len(starts)
    newton_starts = list(starts)
    ends_X = np.zeros((0,) + dyn.shape)
    n_unconverged = 0
    if iterate and starts:
        ends = run_batch(dyn, np.array(starts), tmax, 1e-10, p)
        Y = ends.final_logit.reshape(len(ends), -1)
        ok = ~np.asarray(ends.diverged, dtype=bool) & np.all(np.isfinite(Y), axis=1)
        ends_X = np.asarray(ends.final)[ok]
        if dyn.learner == "actor_critic" and boundary is not False:
            # ends numerically on a face go to the face search only (interior Newton would run off to infinity)
            inside = np.array([bd.support_of(X, 1e-12).all() for X in ends_X], dtype=bool)
            newton_starts.extend(Y[ok][inside])
        else:
            newton_starts.extend(Y[ok])
        n_unconverged = int(np.sum(~np.asarray(ends.converged, dtype=bool)))
    do_boundary = dyn.learner == "actor_critic" if boundary is None else bool(boundary)
    reg = _Registry(dedupe_tol)
    if do_boundary and dyn.learner != "actor_critic":
        raise ParameterError(
            f"boundary=True: the boundary search needs actor-critic learners; under {dyn.learner} the TD error "
            "contains -ln X, so every face repels at an infinite rate (X[b]' ~ X[b]**(1 - alpha)) and holds no "
            "attractor; use boundary=None or False")
    seen: list = []  # (interior root, the record it went to)
    n_found = 0
    finite = [np.max(np.abs(v)) for v in newton_starts if v.size and np.all(np.isfinite(v))]
    # near-pure SARSA ends sit far out (y ~ beta Q); actor-critic ends far out are boundary points (faces below)
    y_limit = Y_LIMIT if do_boundary else max(Y_LIMIT, 4.0 * max(finite, default=0.0))
    for y0 in newton_starts:
        y, res, _ = newton(system, y0, tol=tol, y_limit=y_limit)
        if y is None or res >= ACCEPT_TOL * max(1.0, float(np.max(np.abs(y))) if y.size else 1.0):
            continue
        n_found += 1
        seen_rec = next((rec for y_seen, rec in seen if
                         np.max(np.abs(y_seen - y)) <= dedupe_tol * max(1.0, np.max(np.abs(y)))), None)
        if seen_rec is not None:  # the same root again: count it, skip the analysis
            seen_rec["hits"] += 1
            continue
        X = system.X(y)
        if do_boundary:  # numerically on a face (actions below 1e-9 of their block): judge it there
            sup = bd.support_of(X, 1e-9)
            if not sup.all():
                got, key = bd.analyse_point(system, X, sup, tol)
                if got is not None and (got.neutral_dimension or np.max(np.abs(got.X - X)[_free_mask(got)]) < 1e-8):
                    seen.append((y, reg.add(got, key, origin=X)))
                    continue
        fp = report(system, y)
        if np.any(np.abs(np.abs(fp.eigenvalues) - 1.0) < NEUTRAL_TOL):  # maybe on a continuum
            got, key = bd.analyse_point(system, X, np.ones(dyn.shape, dtype=bool), tol)
            if got is not None and got.neutral_dimension:
                seen.append((y, reg.add(got, key, origin=X)))
                continue
        seen.append((y, reg.add(fp, (np.ones(dyn.shape, dtype=bool).tobytes(), (), 0))))

    faces_tried: list = []
    pure_reports: list = []
    n_pure_total = M ** (N * Q)
    if do_boundary and M > 1:
        faces: dict = {}
        full = np.ones(dyn.shape, dtype=bool).tobytes()

        def suggest(X, origin):
            for t in bd.SUPPORT_TOLS:
                sup = bd.support_of(X, t)
                k = sup.tobytes()
                if k == full or not sup.any(-1).all():
                    continue
                faces.setdefault(k, (sup, []))[1].append(origin)

        for X in ends_X:
            suggest(X, X)
        for pt in reg.points:
            suggest(pt.X, pt.X)
        for y0 in starts:
            X = system.X(y0)
            suggest(X, X)
        rounded = [tuple(np.argmax(X, -1).ravel()) for X in ends_X]
        pure_sups, n_pure_total = bd.pure_profiles(dyn.shape, max_pure, rng, extra=rounded)
        pure_keys = {s.tobytes() for s in pure_sups}
        growing: list = []  # faces one action larger where a point is unstable (saddles on edges, ...)

        def grow(fp, sup):
            for (i, o, a), r in zip(fp.transversal_actions, fp.transversal_rates):
                if np.isfinite(r) and r > 0:
                    bigger = sup.copy()
                    bigger[i, o, a] = True
                    growing.append((bigger, fp.X))

        for sup in pure_sups:
            fp = bd.pure_report(system, sup)
            pure_reports.append(fp)
            if fp.n_unstable == 0:  # stable or non-hyperbolic corners: classify (sets fold them)
                got, key = bd.analyse_point(system, fp.X, sup, tol)
                if got is not None:
                    reg.add(got, key, origin=fp.X)
            else:
                grow(fp, sup)
        queue = [(sup, origins) for k, (sup, origins) in faces.items() if k not in pure_keys]
        done = set(pure_keys) | {full}
        while (queue or growing) and len(faces_tried) < max_faces:
            if not queue:
                merged: dict = {}
                for sup, X0 in growing:
                    merged.setdefault(sup.tobytes(), (sup, []))[1].append(X0)
                growing.clear()
                queue = list(merged.values())
                continue
            sup, origins = queue.pop(0)
            if sup.tobytes() in done:
                continue
            done.add(sup.tobytes())
            faces_tried.append(sup)
            face = bd.FaceSystem(system, sup)
            tries = origins[:3] + [face.project(dyn.uniform_strategy())]
            for X0 in tries:
                fp, key = bd.analyse_point(system, X0, sup, tol)
                if fp is not None:
                    reg.add(fp, key, origin=face.project(X0))
                    if fp.n_unstable:
                        grow(fp, fp.support)
        note = (f"{len(faces_tried)} face(s) (from trajectory ends and near-zero coordinates, then faces one "
                f"action larger where a point grows transversally; budget {max_faces}) and "
                f"{len(pure_sups)} of {n_pure_total} pure profiles searched")
    elif do_boundary:
        note = "one action per block: the only point is the pure profile"
    else:
        note = (f"not searched ({dyn.learner}: every face repels at an infinite rate, "
                "X[b]' ~ X[b]**(1 - alpha); all fixed points are interior)")
    points = reg.points
    # rounded: points equal up to round-off (e.g. X = 0.5 in a state without agency) must not
    # be ordered by their last bits
    points.sort(key=lambda pt: (not pt.stable, pt.n_unstable, pt.on_boundary,
                                tuple(np.round(-pt.X[..., 0].ravel(), 9))))
    search = dict(boundary=do_boundary, boundary_note=note, faces_tried=len(faces_tried), faces=faces_tried,
                  n_pure=len(pure_reports), n_pure_total=n_pure_total, n_unconverged=n_unconverged)
    return FixedPointResult(
        points=points,
        X=np.array([pt.X for pt in points]).reshape((len(points), N, Q, M)),
        stable=np.array([pt.stable for pt in points], dtype=bool),
        neutral_sets=[pt for pt in points if pt.neutral_dimension],
        boundary_points=[pt for pt in points if pt.on_boundary],
        pure=pure_reports,
        n_starts=n_used, n_trajectories=len(starts) if iterate else 0,
        n_newton_starts=len(newton_starts), n_converged=n_found, search=search,
        params=effective_params(system), overrides=params_key(p))


def _ragged_guesses(dyn, guesses) -> list[np.ndarray]:
    """Flat interior strategies of ``guesses``: one strategy (tuple or flat) or a list of them."""
    lay = dyn.layout
    try:
        rows = [lay.flatten(guesses, "guesses")]
    except StrategyError:
        if isinstance(guesses, np.ndarray) and guesses.ndim == 2 and guesses.shape[1] == lay.n_strategy:
            rows = list(np.asarray(guesses, dtype=float))
        elif isinstance(guesses, (tuple, list)):
            rows = [lay.flatten(g, f"guesses[{k}]") for k, g in enumerate(guesses)]
        else:
            raise
    out = []
    for row in rows:
        row = np.clip(row, 1e-300, None)  # a pure strategy as a guess: nudge it into the interior
        for r in range(lay.n_rows):
            sl = slice(lay.row_x[r], lay.row_x[r] + lay.row_m[r])
            row[sl] /= row[sl].sum()
        out.append(row)
    return out


def _ragged_fixed_points(dyn, guesses, n_starts, rng, sampling, iterate, tmax, tol, dedupe_tol, boundary,
                         p) -> FixedPointResult:
    """:func:`fixed_points` of a heterogeneous game: interior points only (Newton in the flat log-ratios).

    The boundary (face) search is not supported for heterogeneous games yet: actor-critic
    learners need ``boundary=False`` (their attractors are typically on the boundary, so
    an interior-only answer is not the default).
    """
    if boundary or (boundary is None and dyn.learner == "actor_critic"):
        raise ParameterError(
            "fixed_points: the boundary (face) search is not supported for heterogeneous games yet (agents with "
            f"different numbers of actions or observations, M={dyn.action_counts}, Q={dyn.observation_counts}); "
            "pass boundary=False for the interior fixed points only")
    system = System(dyn, p)
    rng = np.random.default_rng(rng)
    starts = []
    if guesses is not None:
        starts.extend(system.y(g) for g in _ragged_guesses(dyn, guesses))
    if n_starts:
        starts.extend(system.y(X) for X in sample_rows(dyn, sample_strategies(dyn, n_starts, rng, sampling)))
    n_used = len(starts)
    newton_starts = list(starts)
    n_unconverged = 0
    if iterate and starts:
        ends = run_batch(dyn, np.array(starts), tmax, 1e-10, p)
        Y = np.concatenate([v.reshape(len(ends), -1) for v in ends.final_logit], axis=1)
        ok = ~np.asarray(ends.diverged, dtype=bool) & np.all(np.isfinite(Y), axis=1)
        newton_starts.extend(Y[ok])
        n_unconverged = int(np.sum(~np.asarray(ends.converged, dtype=bool)))
    finite = [np.max(np.abs(v)) for v in newton_starts if v.size and np.all(np.isfinite(v))]
    y_limit = max(Y_LIMIT, 4.0 * max(finite, default=0.0))
    roots: list = []  # (y, FixedPoint)
    n_found = 0
    for y0 in newton_starts:
        y, res, _ = newton(system, y0, tol=tol, y_limit=y_limit)
        if y is None or res >= ACCEPT_TOL * max(1.0, float(np.max(np.abs(y))) if y.size else 1.0):
            continue
        n_found += 1
        rec = next((fp for y_seen, fp in roots
                    if np.max(np.abs(y_seen - y)) <= dedupe_tol * max(1.0, np.max(np.abs(y)))), None)
        if rec is not None:
            rec["hits"] += 1
            continue
        fp = report(system, y)
        fp["hits"] = 1
        roots.append((y, fp))
    points = [fp for _, fp in roots]
    points.sort(key=lambda pt: (not pt.stable, pt.n_unstable, tuple(np.round(-flat(pt.X), 9))))
    note = (f"not searched (the boundary search is not supported for heterogeneous games yet; {dyn.learner}: "
            + ("every face repels, all fixed points are interior)" if dyn.learner == "sarsa" else
               "boundary=False: interior points only)"))
    search = dict(boundary=False, boundary_note=note, faces_tried=0, faces=[], n_pure=0, n_pure_total=0,
                  n_unconverged=n_unconverged)
    X = tuple(np.array([pt.X[i] for pt in points]).reshape((len(points),) + shape)
              for i, shape in enumerate(dyn.shape))
    return FixedPointResult(
        points=points, X=X, stable=np.array([pt.stable for pt in points], dtype=bool), neutral_sets=[],
        boundary_points=[], pure=[], n_starts=n_used, n_trajectories=len(starts) if iterate else 0,
        n_newton_starts=len(newton_starts), n_converged=n_found, search=search,
        params=effective_params(system), overrides=params_key(p))
