"""Numerical continuation of fixed points and hysteresis loops.

:func:`continuation` follows a branch of fixed points ``G(y, mu) = 0`` (``G`` the flow
residual ``delta[a] - delta[M-1]`` in log-ratio coordinates) as any learner or game
parameter ``mu`` changes, by pseudo-arclength continuation: tangent predictor, Newton
corrector on the branch and on the hyperplane orthogonal to the tangent, adaptive step
size. ``dG/dy`` is the generated closed-form Jacobian (``(J - I)/alpha``), ``dG/dmu``
a central finite difference. Along the branch it monitors the eigenvalues of the map
Jacobian ``J`` and locates, by bisection along the arclength,

* ``'fold'``: a real eigenvalue crosses +1 and the branch turns back in ``mu``
  (``'branch_point'`` when it crosses +1 without the branch turning: a pitchfork or
  transcritical point),
* ``'period_doubling'``: a real eigenvalue crosses -1,
* ``'neimark_sacker'``: a complex pair crosses the unit circle.

:func:`hysteresis` sweeps a parameter up and down along stable branches, jumping to the
attractor the dynamics reach where a branch ends; :func:`hysteresis_sweep` is the
brute-force counterpart (iterate the learning map to convergence at every grid value,
starting from the previous end point, as the chapter does).
"""

from __future__ import annotations

import numpy as np

from . import _checks
from ..errors import ParameterError
from ..runtime.identity import tag_result
from ._core import (Result, System, batch_overrides, coordinate, effective_params, flat, is_ragged, not_for_ragged,
                    params_key, run_one)
from .fixedpoints import newton
from .linear import HYPERBOLIC_TOL, _is_complex

KINDS = ("fold", "branch_point", "period_doubling", "neimark_sacker")


# ----------------------------------------------------------------- observables
def make_observable(dyn, observable):
    """A function ``X -> float`` from ``observable``.

    ``None``: mean over agents and states of the probability of action 0; a pair
    ``(state, action)`` (indices or labels): mean over agents of ``X[:, state, action]``;
    a triple ``(agent, state, action)``: that probability; or any callable.
    """
    if callable(observable):
        return lambda X: float(observable(X))
    if is_ragged(dyn):  # X is a tuple of per-agent (Q_i, M_i) arrays; labels are each agent's own
        if observable is None:
            return lambda X: float(np.mean(np.concatenate([x[..., 0].ravel() for x in X])))
        obs = tuple(observable)
        if len(obs) == 2:
            cs = [coordinate(dyn, (i,) + obs, "observable") for i in range(dyn.n_agents)]
            return lambda X: float(np.mean([X[i][s, a] for i, s, a in cs]))
        i, s, a = coordinate(dyn, obs, "observable")
        return lambda X: float(X[i][s, a])
    if observable is None:
        return lambda X: float(np.mean(X[..., 0]))
    obs = tuple(observable)
    if len(obs) == 2:
        _, s, a = coordinate(dyn, (0,) + obs, "observable")
        return lambda X: float(np.mean(X[:, s, a]))
    i, s, a = coordinate(dyn, obs, "observable")
    return lambda X: float(X[i, s, a])


def _fixed_params(dyn, p: dict, swept: str) -> dict:
    """Every parameter value held fixed along a scan of ``swept`` (its own entry marked ``'swept'``)."""
    rest = {k: v for k, v in p.items() if k != swept}
    out = effective_params(System(dyn, rest))
    head, _, tail = swept.rpartition("_")
    if swept in out:
        out[swept] = "swept"
    elif head in out and tail.isdigit() and isinstance(out[head], list) and int(tail) < len(out[head]):
        out[head][int(tail)] = "swept"
    return out


def _param_value(dyn, name, p):
    if name in p:
        v = np.asarray(p[name], dtype=float)
    else:
        d = dyn.defaults
        head, _, tail = name.rpartition("_")
        if name in d:
            v = np.asarray(d[name], dtype=float)
        elif head in ("alpha", "beta", "gamma") and tail.isdigit():
            dyn.params(**{name: d[head][0]})  # raises for an agent index out of range
            v = np.asarray(d[head][int(tail)], dtype=float)
        else:
            raise ParameterError(f"unknown parameter {name!r}; learner parameters are alpha, beta, gamma (or "
                                 f"alpha_0, ...), game parameters are {list(dyn.param_names)}")
    if v.ndim and not np.all(v == v.flat[0]):
        raise ParameterError(f"{name} has different values per agent ({v}); continue one agent's value "
                             f"({name}_0, ...) or pass start=")
    return float(v.flat[0])


# ------------------------------------------------------------------- branch
class _Branch:
    """G(y, mu), its derivatives and the map Jacobian for one parameter name."""

    def __init__(self, dyn, name, p, scale):
        self.dyn, self.name, self.p, self.scale = dyn, name, dict(p), float(scale)
        self.n = dyn.n_free
        self._cache = {}

    def system(self, mu) -> System:
        key = float(mu)
        sys_ = self._cache.get(key)
        if sys_ is None:
            if len(self._cache) > 64:
                self._cache.clear()
            q = dict(self.p)
            q[self.name] = key
            sys_ = self._cache[key] = System(self.dyn, q)
        return sys_

    def valid(self, mu) -> bool:
        try:
            self.system(mu)
            return True
        except ParameterError:
            return False

    def G(self, u):
        return self.system(u[-1] * self.scale).G(u[:-1])

    def dG_dmu(self, u):
        """Derivative of G with respect to the scaled parameter (central difference)."""
        mu = u[-1] * self.scale
        h = 1e-6 * max(1.0, abs(mu))
        lo, hi = mu - h, mu + h
        if not self.valid(hi):
            hi = mu
        if not self.valid(lo):
            lo = mu
        return (self.system(hi).G(u[:-1]) - self.system(lo).G(u[:-1])) / (hi - lo) * self.scale

    def jac(self, u):
        """The n x (n+1) Jacobian of G in (y, mu/scale)."""
        sys_ = self.system(u[-1] * self.scale)
        return np.column_stack([sys_.dG(u[:-1]), self.dG_dmu(u)])

    def tangent(self, u, t_prev):
        A = np.vstack([self.jac(u), t_prev])
        rhs = np.zeros(self.n + 1)
        rhs[-1] = 1.0
        try:
            t = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            t = np.linalg.lstsq(A, rhs, rcond=None)[0]
        t /= np.linalg.norm(t)
        return t if t @ t_prev >= 0 else -t

    def correct(self, u_pred, t, tol, max_iter=10):
        """Newton on [G(u) = 0, t.(u - u_pred) = 0]; returns (u, iterations) or (None, it)."""
        u = u_pred.copy()
        for it in range(1, max_iter + 1):
            if not self.valid(u[-1] * self.scale):
                return None, it
            g = self.G(u)
            if not np.all(np.isfinite(g)):
                return None, it
            res = np.append(g, t @ (u - u_pred))
            A = np.vstack([self.jac(u), t])
            try:
                du = np.linalg.solve(A, -res)
            except np.linalg.LinAlgError:
                return None, it
            u = u + du
            if np.max(np.abs(du)) < 1e-11 * (1 + np.max(np.abs(u))) or (
                    np.max(np.abs(g)) < tol and np.max(np.abs(du)) < 1e-8):
                if not self.valid(u[-1] * self.scale):
                    return None, it
                if np.max(np.abs(self.G(u))) < max(tol, 1e-9):
                    return u, it
        return None, max_iter

    def eig(self, u):
        return np.linalg.eigvals(self.system(u[-1] * self.scale).J(u[:-1]))


def _tests(ev):
    """Test functions whose sign changes mark crossings of +1, -1 and of the unit circle by pairs."""
    ev = np.asarray(ev, dtype=complex)
    fold = float(np.prod((ev - 1.0)).real)
    flip = float(np.prod((ev + 1.0)).real)
    cplx = ev[(_is_complex(ev)) & (ev.imag > 0)]
    ns = float(np.prod(np.abs(cplx) ** 2 - 1.0)) if cplx.size else 1.0
    return np.array([fold, flip, ns]), int(np.sum(np.abs(ev) > 1 + HYPERBOLIC_TOL)), cplx.size


class ContinuationResult(Result):
    """A branch of fixed points, ready to plot.

    Fields
    ------
    param_name : str, the parameter;  param : (K,) its values along the branch
    X : (K, N, Q, M) strategies;  y : (K, n_free) log-ratios
    observable : (K,) the scalar observable;  stable : (K,) map stability (rho < 1)
    spectral_radius : (K,);  eigenvalues : (K, n_free) complex, map Jacobian
    arclength : (K,) pseudo-arclength in (y, param/param_scale)
    bifurcations : list of Result(kind, value, X, y, observable, eigenvalues, index), index
        the position of the point in the arrays (bifurcation points are part of the branch)
    stop_reason : why the continuation ended
    params : the overrides passed;  fixed_params : every other parameter value along the branch
        (the continued one marked ``'swept'``)
    """

    def segments(self) -> list[Result]:
        """Runs of equal stability, to plot stable and unstable parts differently.

        Returns a list of Result(param, observable, stable); neighbouring runs share their
        end point (the bifurcation point where stability changes, when one was located).
        """
        st = np.array(self.stable, dtype=bool)
        for b in self.bifurcations:  # a bifurcation point closes the run before it
            if b.index > 0:
                st[b.index] = st[b.index - 1]
        out, start = [], 0
        for k in range(len(st)):
            if k == len(st) - 1 or st[k + 1] != st[k]:
                out.append(Result(param=self.param[start:k + 1], observable=self.observable[start:k + 1],
                                  stable=bool(st[k])))
                start = k
        return out

    def __repr__(self) -> str:
        bif = ", ".join(f"{b.kind} at {self.param_name}={b.value:.6g}" for b in self.bifurcations) or "none"
        if len(self.param):
            span = f"{self.param_name} from {self.param[0]:.6g} to {self.param[-1]:.6g}"
        else:
            span = "empty"
        return (f"ContinuationResult({len(self.param)} points, {span}; bifurcations: {bif}; "
                f"stopped: {self.stop_reason})")


def _start_point(branch, X0, mu0):
    sys_ = branch.system(mu0)
    if is_ragged(branch.dyn):
        y0 = _ragged_start(branch.dyn, sys_, X0)
    else:
        arr = np.asarray(X0, dtype=float)
        y0 = arr.ravel() if arr.shape in ((branch.n,), branch.dyn.shape[:2] + (branch.dyn.shape[2] - 1,)) \
            else sys_.y(arr)
    y, res, _ = newton(sys_, y0)
    if y is None:
        raise ParameterError(
            f"no fixed point near the start strategy at {branch.name}={mu0} (Newton ended with residual {res:.3g});"
            " start from a fixed point (e.g. from crldgen.fixed_points) or from the end of a trajectory")
    return y


def _ragged_start(dyn, sys_, X0) -> np.ndarray:
    """Flat log-ratios of a heterogeneous game's start: flat log-ratios, per-agent log-ratio arrays, a
    FixedPoint, a Trajectory, or a strategy (tuple or flat)."""
    if hasattr(X0, "final_logit"):
        return flat(X0.final_logit)
    if hasattr(X0, "y") and hasattr(X0, "eigenvalues"):
        return flat(X0.y)
    lay = dyn.layout
    if isinstance(X0, np.ndarray) and X0.dtype != object and X0.shape == (lay.n_free,):
        return np.array(X0, dtype=float)
    if isinstance(X0, (tuple, list)) and len(X0) == dyn.n_agents and all(
            np.shape(x) == s for x, s in zip(X0, lay.logit_shapes())):
        return lay.flatten_logit(X0, "X0")
    return sys_.y(X0)


@tag_result
def continuation(dyn, param: str, X0, *, start: float | None = None, bounds=(None, None), direction: int = 1,
                 ds: float = 0.05, ds_min: float = 1e-7, ds_max: float = 1.0, max_steps: int = 2000,
                 param_scale: float = 1.0, observable=None, tol: float = 1e-10, stop_at=(),
                 max_angle: float = 0.5, **p) -> ContinuationResult:
    """Follow a branch of fixed points as the parameter ``param`` changes.

    Parameters
    ----------
    dyn : Dynamics
    param : str
        Any learner parameter (``'gamma'``, ``'beta'``, ``'alpha'`` for all agents, or
        ``'gamma_0'`` ...) or game parameter name.
    X0 : array (N, Q, M) or log-ratios
        A strategy at or near a fixed point at ``param = start``; Newton polishes it.
    start : float, optional
        Starting value (default: ``p[param]`` or the default of ``dyn``).
    bounds : (lo, hi)
        Stop when the parameter leaves this interval (the last point is placed on the
        bound). ``None`` means unbounded on that side.
    direction : +1 or -1
        Initial direction of the parameter.
    ds, ds_min, ds_max : float
        Initial, smallest and largest pseudo-arclength steps, measured in
        ``(y, param / param_scale)``.
    max_steps : int
    param_scale : float
        Scale of the parameter relative to the log-ratios in the arclength.
    observable : see :func:`make_observable`
    tol : float
        Corrector tolerance on ``max |delta[a] - delta[M-1]|``.
    stop_at : iterable of str
        Stop at the first bifurcation of these kinds (also ``'stability'``: at the first
        point where the map's stability changes).
    max_angle : float
        Largest angle (radians) between consecutive tangents; larger turns are retried
        with a smaller step (guards against branch jumping).
    **p
        Other parameter overrides.

    Returns
    -------
    ContinuationResult
    """
    _checks.continuation(param, X0, start, bounds, direction, ds, ds_min, ds_max, max_steps, param_scale, tol,
                         max_angle)
    if param in p and start is None:
        start = _param_value(dyn, param, p)
    p = {k: v for k, v in p.items() if k != param}
    mu0 = _param_value(dyn, param, {}) if start is None else float(start)
    scale = float(param_scale)
    branch = _Branch(dyn, param, p, scale)
    obs = make_observable(dyn, observable)
    lo, hi = (-np.inf if bounds[0] is None else float(bounds[0])), (np.inf if bounds[1] is None else float(bounds[1]))
    if not lo <= mu0 <= hi:
        raise ParameterError(f"start: {param} = {mu0!r} lies outside bounds = {bounds!r}; start inside [lo, hi]")
    stop_at = set(stop_at)
    bad = stop_at - set(KINDS) - {"stability"}
    if bad:
        raise ParameterError(f"stop_at: unknown kinds {sorted(bad)}; choose from {KINDS + ('stability',)}")

    y0 = _start_point(branch, X0, mu0)
    u = np.append(y0, mu0 / scale)
    t = branch.tangent(u, np.append(np.zeros(branch.n), float(np.sign(direction) or 1)))
    pts, arcs = [u], [0.0]
    ev = branch.eig(u)
    eigs = [ev]
    tests = [_tests(ev)]
    bifs = []
    reason = "max_steps"
    h = float(ds)
    cos_max = np.cos(max_angle)
    for _ in range(max_steps):
        u_new, t_new, iters, edge, h = _advance(branch, u, t, h, lo, hi, ds_min, cos_max, tol)
        if u_new is None:
            reason = "step size below ds_min" if branch.valid((u[-1] + ds_min * t[-1]) * scale) else \
                f"{param} reached the end of its valid range"
            break
        if edge is None and np.max(np.abs(u_new[:-1])) > 600:
            reason = "strategy reached the boundary of the simplex"
            break
        was_stable = tests[-1][1] == 0
        ev_new = branch.eig(u_new)
        stop = False
        for kind, u_b in _locate(branch, u, t, u_new, t_new, tests[-1], _tests(ev_new), tol):
            k = _append(branch, pts, arcs, eigs, tests, u_b)
            X = branch.system(u_b[-1] * scale).X(u_b[:-1])
            bifs.append(Result(kind=kind, value=float(u_b[-1] * scale), X=X, y=u_b[:-1].copy(),
                               observable=obs(X), eigenvalues=eigs[-1], index=k))
            stop = stop or kind in stop_at
        if stop:
            reason = f"stopped at {bifs[-1].kind}"
            break
        _append(branch, pts, arcs, eigs, tests, u_new, ev_new)
        if edge is not None:
            reason = f"reached bound {param}={edge:g}"
            break
        if "stability" in stop_at and (tests[-1][1] == 0) != was_stable:
            reason = "stability changed"
            break
        u, t = u_new, t_new
        h = min(h * 1.5, ds_max) if iters <= 3 else h
        if len(pts) > 10 and np.linalg.norm(u - pts[0]) < 0.5 * h:
            reason = "closed loop"
            break
    U = np.array(pts)
    values = U[:, -1] * scale
    Xs = [branch.system(v).X(uu[:-1]) for v, uu in zip(values, U)]
    observed = np.array([obs(X) for X in Xs])
    if is_ragged(dyn):  # per-agent (L, Q_i, M_i) arrays
        Xs = tuple(np.array([X[i] for X in Xs]).reshape((len(U),) + s) for i, s in enumerate(dyn.shape))
    else:
        Xs = np.array(Xs)
    E = np.array(eigs)
    return ContinuationResult(
        param_name=param, param=values, X=Xs, y=U[:, :-1], observable=observed,
        stable=np.array([tt[1] == 0 for tt in tests], dtype=bool),
        spectral_radius=np.max(np.abs(E), axis=1) if E.size else np.zeros(len(values)),
        eigenvalues=E, arclength=np.array(arcs), bifurcations=bifs, stop_reason=reason,
        params=params_key(p), fixed_params=_fixed_params(dyn, p, param))


def _advance(branch, u, t, h, lo, hi, ds_min, cos_max, tol):
    """One predictor-corrector step: ``(u_new, t_new, iterations, edge, step)``.

    The step is halved until the corrector converges and the tangent turns by less than
    ``arccos(cos_max)``; ``u_new`` is None when the step falls below ``ds_min``. A step
    that would cross a bound of the parameter ends exactly on it (``edge`` is then the
    bound, else None).
    """
    scale = branch.scale
    while h >= ds_min:
        mu_pred = (u[-1] + h * t[-1]) * scale
        if (mu_pred > hi or mu_pred < lo) and abs(t[-1]) > 1e-12:
            edge = hi if mu_pred > hi else lo
            y_edge = _to_bound(branch, u, u + ((edge / scale - u[-1]) / t[-1]) * t, edge)
            if y_edge is not None:
                u_e = np.append(y_edge, edge / scale)
                return u_e, branch.tangent(u_e, t), 0, edge, h
        elif branch.valid(mu_pred):
            cand, iters = branch.correct(u + h * t, t, tol)
            if cand is not None:
                t_new = branch.tangent(cand, t)
                if t_new @ t >= cos_max:
                    return cand, t_new, iters, None, h
        h *= 0.5
    return None, None, 0, None, h


def _append(branch, pts, arcs, eigs, tests, u, ev=None):
    """Add a branch point with its eigenvalues and test functions; returns its index."""
    arcs.append(arcs[-1] + float(np.linalg.norm(u - pts[-1])))
    pts.append(u)
    ev = branch.eig(u) if ev is None else ev
    eigs.append(ev)
    tests.append(_tests(ev))
    return len(pts) - 1


def _to_bound(branch, u, u_new, edge):
    """Fixed point at parameter ``edge`` between two branch points (linear guess, then Newton)."""
    mu_a, mu_b = u[-1] * branch.scale, u_new[-1] * branch.scale
    w = (edge - mu_a) / (mu_b - mu_a) if mu_b != mu_a else 1.0
    y_guess = u[:-1] + w * (u_new[:-1] - u[:-1])
    if not branch.valid(edge):
        return None
    y, res, _ = newton(branch.system(edge), y_guess)
    return y


def _locate(branch, u_a, t_a, u_b, t_b, tests_a, tests_b, tol):
    """Bifurcations between consecutive branch points, located by bisection along the arclength.

    Returns ``[(kind, u)]`` ordered along the branch.
    """
    out = []
    names = ("fold", "period_doubling", "neimark_sacker")
    for j, name in enumerate(names):
        fa, fb = tests_a[0][j], tests_b[0][j]
        if not (np.sign(fa) != np.sign(fb) and fa != 0 and fb != 0):
            continue
        if name == "neimark_sacker" and tests_a[2] != tests_b[2]:
            continue  # a complex pair formed or split: not a crossing of the unit circle
        seg = u_b - u_a
        L = float(np.linalg.norm(seg))
        d = seg / L
        s_lo, s_hi, u_hit = 0.0, L, u_b
        for _ in range(60):
            s_mid = 0.5 * (s_lo + s_hi)
            cand, _ = branch.correct(u_a + s_mid * d, d, tol)
            if cand is None:
                break
            f = _tests(branch.eig(cand))[0][j]
            if np.sign(f) == np.sign(fa):
                s_lo = s_mid
            else:
                s_hi = s_mid
            u_hit = cand
            if s_hi - s_lo < 1e-12 * max(1.0, L):
                break
        kind = name
        if name == "fold" and np.sign(t_a[-1]) == np.sign(t_b[-1]):
            kind = "branch_point"
        out.append((kind, u_hit))
    out.sort(key=lambda item: float(np.linalg.norm(item[1] - u_a)))
    return out


# ------------------------------------------------------------------ hysteresis
class HysteresisResult(Result):
    """Up and down sweeps along stable branches (:func:`hysteresis`) or grid runs (:func:`hysteresis_sweep`).

    Fields
    ------
    param_name : str
    up, down : Results with arrays ``param``, ``observable`` (to plot) and ``X`` (strategies);
        for :func:`hysteresis_sweep` also ``steps`` and ``converged`` per grid value
    jumps : list of Result(direction ('up'/'down'), value (where the branch ends),
        kind, observable_before, observable_after)
    branches : (continuation only) the ContinuationResult of every stable piece
    params : the overrides passed;  fixed_params : every other parameter value (the swept one
        marked ``'swept'``);  observable_name, threshold : (:func:`hysteresis_sweep`) what was used
    """

    def __repr__(self) -> str:
        j = "; ".join(f"{r.direction}: {r.kind} at {self.param_name}={r.value:.6g} "
                      f"({r.observable_before:.3g} -> {r.observable_after:.3g})" for r in self.jumps) or "none"
        return f"HysteresisResult({self.param_name}; jumps: {j})"


def _attractor(dyn, y, params, tmax, tol):
    """Iterate from log-ratios ``y`` and polish the end point by Newton (None if that fails)."""
    run = run_one(dyn, y, tmax, tol, params)
    y_fp, _, _ = newton(System(dyn, params), run.final_logit.ravel())
    return y_fp


@tag_result
def hysteresis(dyn, param: str, lo: float, hi: float, X0=None, *, observable=None, jump: float | None = None,
               tmax: int = 200000, tol: float = 1e-12, max_pieces: int = 10, ds: float = 0.05,
               ds_max: float = 1.0, param_scale: float = 1.0, max_steps: int = 2000, **p) -> HysteresisResult:
    """Hysteresis loop by continuation: follow stable branches from ``lo`` up to ``hi`` and back.

    From the attractor reached from ``X0`` (default uniform) at ``lo``, the stable branch
    is continued upward until it loses stability (a fold, period doubling or
    Neimark-Sacker point) or reaches ``hi``. Where a branch ends, the learning map is
    iterated at ``value + jump`` (just beyond the end; default 0.1% of ``hi - lo``) from
    the last fixed point until it settles on another attractor (``tmax``, ``tol``), which
    is continued in turn. Then the same from ``hi`` down to ``lo``. ``ds``, ``ds_max``,
    ``param_scale``, ``max_steps`` go to :func:`continuation`; ``p`` are parameter
    overrides.

    Returns
    -------
    HysteresisResult
        ``up``/``down`` arrays ready to plot (``param``, ``observable``, ``X``) and ``jumps``
        recording where each stable branch ends.
    """
    not_for_ragged(dyn, "hysteresis")
    _checks.hysteresis(param, lo, hi, X0, jump, tmax, tol, max_pieces, ds, ds_max, param_scale, max_steps)
    ckw = dict(ds=ds, ds_max=ds_max, param_scale=param_scale, max_steps=max_steps)
    jump = (hi - lo) * 1e-3 if jump is None else float(jump)
    X0 = dyn.uniform_strategy() if X0 is None else X0
    q = {**p, param: lo}
    y = _attractor(dyn, System(dyn, q).y(X0) if np.shape(X0) == dyn.shape else np.ravel(X0), q, tmax, tol)
    if y is None:
        raise ParameterError(f"the learning dynamics from X0 at {param}={lo} did not settle on a fixed point")
    obs = make_observable(dyn, observable)
    pieces, jumps, out = [], [], {}
    mu = lo
    for sweep_dir, sign in (("up", 1), ("down", -1)):
        vals, obsv, Xs = [], [], []
        for _ in range(max_pieces):
            res = continuation(dyn, param, y, start=mu, bounds=(lo, hi), direction=sign, observable=observable,
                               stop_at=("stability",), **ckw, **p)
            pieces.append(res)
            stable_idx = np.flatnonzero(res.stable)
            # keep the stable part, up to the bifurcation point where stability is lost
            last = stable_idx[-1] if len(stable_idx) else 0
            end = res.bifurcations[-1] if res.bifurcations else None
            if end is not None and end.index > last:
                last = end.index
            vals.extend(res.param[:last + 1])
            obsv.extend(res.observable[:last + 1])
            Xs.extend(res.X[:last + 1])
            if res.stop_reason.startswith("reached bound") or not len(stable_idx):
                y, mu = res.y[-1], res.param[-1]
                break
            mu_end, y_end = (end.value, end.y) if end is not None else (res.param[last], res.y[last])
            mu = float(np.clip(mu_end + sign * jump, lo, hi))
            q = {**p, param: mu}
            y = _attractor(dyn, y_end, q, tmax, tol)
            if y is None:
                raise ParameterError(f"after the end of the branch at {param}={mu_end:.6g} the dynamics did not "
                                     f"settle on a fixed point within tmax={tmax}")
            jumps.append(Result(direction=sweep_dir, value=float(mu_end), kind=end.kind if end else res.stop_reason,
                                observable_before=float(res.observable[last]),
                                observable_after=obs(System(dyn, q).X(y)), landed_at=mu))
        out[sweep_dir] = Result(param=np.array(vals), observable=np.array(obsv), X=np.array(Xs))
    return HysteresisResult(param_name=param, up=out["up"], down=out["down"], jumps=jumps, branches=pieces,
                            params=params_key(p), fixed_params=_fixed_params(dyn, p, param))


@tag_result
def hysteresis_sweep(dyn, param: str, values, X0=None, *, tmax: int = 2500, tol: float | None = 1e-11,
                     observable=None, threshold: float | None = None, **p) -> HysteresisResult:
    """Brute-force hysteresis, as in the chapter: iterate to convergence at every grid value.

    A carried :func:`crldgen.iterate.sweep` over ``values`` (each run starts from the
    previous run's end, the first from ``X0``, default uniform) and back over
    ``values[::-1]`` from where the up sweep ended. Jumps are recorded where the
    observable changes by more than ``threshold`` between neighbouring grid values;
    ``value`` is the first grid value on the new branch, ``last_before`` the one before.

    Defaults: ``observable=None`` picks the (state, action) probability, averaged over
    the agents, that varies most over the two sweeps (on the chapter's game: cooperation
    in the prosperous state; the degraded state stays at 0.5); ``threshold=None`` is a
    quarter of that observable's range over the sweeps (no jumps when it is flat). The
    result records both (``observable_name``, ``threshold``).
    """
    not_for_ragged(dyn, "hysteresis_sweep")
    _checks.hysteresis_sweep(param, values, X0, tmax, tol, threshold)
    from ..iterate import sweep

    values = np.asarray(values, dtype=float)
    q = batch_overrides(dyn, p)
    up = sweep(dyn, dyn.uniform_strategy() if X0 is None else X0, param, values, tmax, tol, **q)
    down = sweep(dyn, up[len(up) - 1], param, values[::-1], tmax, tol, **q)
    name_obs = observable
    if observable is None:
        finals = np.concatenate([np.asarray(up.final), np.asarray(down.final)])  # (2V, N, Q, M)
        means = finals.mean(axis=1)  # (2V, Q, M): agent means
        spread = means.max(axis=0) - means.min(axis=0)
        s_idx, a_idx = np.unravel_index(int(np.argmax(spread)), spread.shape)
        states = list(dyn.observations if not dyn.fully_observed else dyn.states)
        name_obs = (states[s_idx], list(dyn.actions)[a_idx])
        observable = (int(s_idx), int(a_idx))
    obs = make_observable(dyn, observable)
    out, jumps = {}, []
    series = {name: np.array([obs(X) for X in run.final]) for name, run in (("up", up), ("down", down))}
    if threshold is None:
        both = np.concatenate(list(series.values()))
        span = float(both.max() - both.min()) if both.size else 0.0
        threshold = 0.25 * span if span > 1e-9 else np.inf
    for name, run in (("up", up), ("down", down)):
        r = out[name] = Result(param=run.values, X=run.final, observable=series[name],
                               steps=run.steps, converged=run.converged)
        for k in np.flatnonzero(np.abs(np.diff(r.observable)) > threshold):
            jumps.append(Result(direction=name, value=float(r.param[k + 1]), kind="jump",
                                last_before=float(r.param[k]), observable_before=float(r.observable[k]),
                                observable_after=float(r.observable[k + 1])))
    return HysteresisResult(param_name=param, up=out["up"], down=out["down"], jumps=jumps, params=params_key(p),
                            fixed_params=_fixed_params(dyn, p, param),
                            observable_name=name_obs if not callable(name_obs) else "callable",
                            threshold=float(threshold))
