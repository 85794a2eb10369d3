"""Fixed points and linear stability of the value-space maps (numpy only).

A fixed point solves ``delta(Q) = 0`` (all N*Q*M entries): Newton's method with the
forward-mode Jacobian ``d delta/dQ`` of :mod:`crldgen.value.kernels` (damped, as
:func:`crldgen.analysis.newton`). Stability of the map ``Q' = Q + alpha delta``: all
eigenvalues of ``dQ'/dQ`` inside the unit circle; of the flow ``dQ/dt = alpha delta``:
all real parts of the eigenvalues of ``diag(alpha) d delta/dQ`` negative. There are no
normalization directions in value space, so all N*Q*M eigenvalues are reported.

Where the map is not smooth (Q-learning at ties of ``max_b Q``, epsilon-greedy at
ties of the argmax) a point is reported with ``tie=True``, the tied pairs in ``ties``
and the eigenvalues of the branch that takes the first maximiser (``one_sided=True``);
its stability is then not decided by them (``stable=None``).
"""

from __future__ import annotations

import numpy as np

from ..analysis._core import Result, params_key, sample_strategies
from ..analysis.fixedpoints import ACCEPT_TOL, NEWTON_TOL, _dedupe, newton
from ..analysis.linear import HYPERBOLIC_TOL, _real_if_close, _sorted, classify_flow, classify_map
from ..errors import CrldgenError, ParameterError, StrategyError
from .dynamics import TIE_TOL


class ValueFixedPoint(Result):
    """A fixed point of the value-space map.

    Fields: ``Q`` (estimates), ``X`` (strategy ``pi(Q)``), ``residual`` (max |delta|),
    ``tie`` (bool), ``ties`` (tied (agent, observation) pairs), ``eigenvalues`` (of
    ``dQ'/dQ``), ``spectral_radius``, ``type`` (map classification), ``stable``
    (True/False, None at a tie), ``flow_eigenvalues``, ``flow_type``, ``jacobian``,
    ``hits`` and ``params``.
    """

    def summary_row(self) -> str:
        stab = {True: "stable", False: "unstable", None: "tie (non-smooth)"}[self.stable]
        X = np.array2string(self.X[..., :-1].ravel(), precision=4, separator=", ")
        return f"{self.type:<16} {self.spectral_radius:>10.6f} {stab:<17} {self.residual:>9.1e}  {X}"


class ValueFixedPointResult(Result):
    """Fixed points found by :func:`fixed_points`: ``points``, ``Q``, ``X``, ``stable``, ``n_starts``."""

    def summary(self) -> str:
        lines = [f"{len(self.points)} fixed point(s) from {self.n_starts} starts ({self.n_converged} converged)",
                 f"{'#':>3} {'map type':<16} {'rho':>10} {'stability':<17} {'residual':>9}  X[..., :-1]"]
        lines += [f"{k:>3} " + pt.summary_row() for k, pt in enumerate(self.points)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "ValueFixedPointResult:\n" + self.summary()


class _System:
    """``G(q) = delta`` and ``dG = d delta / dQ`` at fixed parameters (for Newton)."""

    def __init__(self, vdyn, p):
        self.vdyn, self.p = vdyn, dict(p)
        self.shape = vdyn.shape

    def G(self, q):
        try:
            return self.vdyn.tderror(np.reshape(q, self.shape), **self.p).ravel()
        except StrategyError:
            return np.full(int(np.prod(self.shape)), np.nan)

    def dG(self, q):
        return self.vdyn.flow_jacobian(np.reshape(q, self.shape), one_sided=True, **self.p)


def stability(vdyn, Q, tie_tol: float = TIE_TOL, **p) -> ValueFixedPoint:
    """Linear stability report of the estimates ``Q`` (usually a fixed point)."""
    Q = vdyn.check_values(Q)
    ties = vdyn.ties(Q, tie_tol) if not vdyn.smooth_at(Q, tie_tol) else []
    Jd = vdyn.flow_jacobian(Q, one_sided=True, **p)
    alpha = vdyn.params(**p)[0]
    rows = np.repeat(alpha, vdyn.n_obs * vdyn.n_actions)
    J = np.eye(len(rows)) + rows[:, None] * Jd
    ev, _ = _sorted(*np.linalg.eig(J))
    flow_ev = _sorted(np.linalg.eigvals(rows[:, None] * Jd))
    rho = float(np.max(np.abs(ev)))
    map_type = classify_map(ev)
    tie = bool(ties)
    return ValueFixedPoint(
        Q=Q, X=vdyn.strategy(Q, **p), residual=float(np.max(np.abs(vdyn.tderror(Q, **p)))), tie=tie, ties=ties,
        eigenvalues=_real_if_close(ev), spectral_radius=rho, type=map_type if not tie else map_type + " (one-sided)",
        stable=None if tie else map_type.startswith("stable"),
        n_unstable=int(np.sum(np.abs(ev) > 1 + HYPERBOLIC_TOL)),
        flow_eigenvalues=_real_if_close(flow_ev), flow_type=classify_flow(flow_ev), jacobian=J,
        params=params_key(p))


def fixed_points(vdyn, guesses=None, n_starts: int = 32, rng=None, *, iterate: bool = True, tmax: int = 5000,
                 tol: float = NEWTON_TOL, dedupe_tol: float = 1e-6, tie_tol: float = TIE_TOL,
                 **p) -> ValueFixedPointResult:
    """Fixed points ``delta(Q) = 0`` of a :class:`~crldgen.value.ValueDynamics` by Newton's method.

    Starts: ``guesses`` (estimates, (N, Q, M) or a stack), ``n_starts`` Latin-hypercube
    strategies ``X`` turned into estimates twice, as ``Qx(X)`` (the strategy-average Q
    values of X) and, for softmax, as ``ln X / beta`` anchored so that ``sum_a X Q = Vx``,
    and, with ``iterate``, the end points of trajectories from all of them.
    Newton solves to ``tol`` (max |delta|); points closer than ``dedupe_tol`` merge.
    Each point carries a stability report (:func:`stability`), ``tie=True`` when it
    sits where the map is not smooth.
    """
    system = _System(vdyn, p)
    starts = []
    if guesses is not None:
        G = np.asarray(guesses, dtype=float)
        if G.shape == vdyn.shape:
            G = G[None]
        if G.ndim != 4 or G.shape[1:] != vdyn.shape:
            raise ParameterError(f"guesses must have shape {vdyn.shape} or (K,) + {vdyn.shape}, got {G.shape}")
        starts.extend(g.ravel() for g in G)
    if n_starts:
        for X in sample_strategies(vdyn, n_starts, rng):
            if vdyn.policy == "softmax":  # the estimates whose softmax is X (anchored at Vx)
                try:
                    starts.append(vdyn.values_from_strategy(X, constant="values", **p).ravel())
                except StrategyError:
                    pass
            try:
                starts.append(vdyn.averages(X, **p).Q.ravel())
            except StrategyError:
                continue
    if iterate and starts:
        batch = {k: (np.reshape(v, (1, -1)) if np.ndim(v) == 1 else v) for k, v in p.items()}
        ends = vdyn.trajectories(np.array(starts).reshape((-1,) + vdyn.shape), tmax, 1e-12, on_divergence="flag",
                                 **batch)
        starts.extend(q.ravel() for q, bad in zip(ends.final_Q, ends.diverged) if not bad)
    found = []
    for q0 in starts:
        try:
            q, res, _ = newton(system, q0, tol=tol)
        except (CrldgenError, np.linalg.LinAlgError):
            continue
        if q is not None and res < ACCEPT_TOL:
            found.append(q)
    points = []
    for q, hits in _dedupe(found, dedupe_tol):
        pt = stability(vdyn, q.reshape(vdyn.shape), tie_tol=tie_tol, **p)
        pt.hits = hits
        points.append(pt)
    points.sort(key=lambda pt: (pt.stable is not True, pt.n_unstable, tuple(-pt.X[..., 0].ravel())))
    return ValueFixedPointResult(
        points=points, Q=np.array([pt.Q for pt in points]).reshape((-1,) + vdyn.shape),
        X=np.array([pt.X for pt in points]).reshape((-1,) + vdyn.shape),
        stable=np.array([pt.stable for pt in points], dtype=object), n_starts=len(starts),
        n_converged=len(found), params=params_key(p))
