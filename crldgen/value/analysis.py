"""Fixed points and linear stability of the value-space maps (numpy only).

A fixed point solves ``delta(Q) = 0`` (all N*Q*M entries): Newton's method with the
forward-mode Jacobian ``d delta/dQ`` of :mod:`crldgen.value.kernels` (damped, as
:func:`crldgen.analysis.newton`). Stability of the map ``Q' = Q + alpha delta``: all
eigenvalues of ``dQ'/dQ`` inside the unit circle; of the flow ``dQ/dt = alpha delta``:
all real parts of the eigenvalues of ``diag(alpha) d delta/dQ`` negative. There are no
normalization directions in value space, so all N*Q*M eigenvalues are reported.

Where the map is not smooth (Q-learning at ties of ``max_b Q``, epsilon-greedy at
ties of the argmax) a point is reported with ``tie=True``, the tied pairs in ``ties``,
the eigenvalues of the branch that takes the first maximiser and, in ``branches``, the
spectral radius of every smooth piece that meets there (see :func:`stability`). Ties
are common: in a state where rewards and transitions do not depend on an agent's
action (the degraded state of the ecological public good), Q-learning's estimates of
all actions converge to the same value.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..analysis._core import Result, params_key, sample_strategies
from ..analysis.fixedpoints import ACCEPT_TOL, NEWTON_TOL, _dedupe, newton
from ..analysis.linear import HYPERBOLIC_TOL, _real_if_close, _sorted, classify_flow, classify_map
from ..errors import CrldgenError, ParameterError, StrategyError
from .dynamics import TIE_TOL


class ValueFixedPoint(Result):
    """A fixed point of the value-space map.

    Fields: ``Q`` (estimates), ``X`` (strategy ``pi(Q)``), ``residual`` (max |delta|),
    ``tie`` (bool), ``ties`` (tied (agent, observation) pairs of the estimates),
    ``value_ties`` (of ``Qx``, strategy-space Q-learning; stability then undecided), ``branches`` (at a tie:
    ``[(choice, spectral radius)]`` per smooth piece), ``eigenvalues`` (of ``dQ'/dQ``;
    first-maximiser branch at a tie), ``spectral_radius``, ``type`` (map
    classification), ``stable`` (at a tie: the verdict all pieces share, else None),
    ``n_unstable``, ``flow_eigenvalues``, ``flow_type``, ``jacobian``, ``hits``, ``params``.
    """

    def summary_row(self) -> str:
        stab = {True: "stable", False: "unstable", None: "undecided"}[self.stable]
        X = np.array2string(self.X[..., :-1].ravel(), precision=4, separator=", ")
        return f"{self.type:<22} {self.spectral_radius:>10.6f} {stab:<10} {self.residual:>9.1e}  {X}"


class ValueFixedPointResult(Result):
    """Fixed points found by :func:`fixed_points`: ``points``, ``Q``, ``X``, ``stable``, ``n_starts``."""

    def summary(self) -> str:
        lines = [f"{len(self.points)} fixed point(s) from {self.n_starts} starts ({self.n_converged} converged)",
                 f"{'#':>3} {'map type':<22} {'rho':>10} {'stability':<10} {'residual':>9}  X[..., :-1]"]
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


#: at most this many branch combinations are examined at a tie (2 per tied pair with M = 2)
MAX_BRANCHES = 64
#: relative shift that moves estimates into one branch of a tie to linearize that branch
BRANCH_SHIFT = 1e-7


def _map_jacobian(vdyn, Q, p):
    Jd = vdyn.flow_jacobian(Q, one_sided=True, **p)
    alpha = vdyn.params(**p)[0]
    rows = np.repeat(alpha, vdyn.n_obs * vdyn.n_actions)
    return np.eye(len(rows)) + rows[:, None] * Jd, rows[:, None] * Jd


def _branches(vdyn, Q, ties, tie_tol, p):
    """Spectral radius of each smooth piece meeting at a tie: ``[(choice, rho)]``.

    A piece is chosen by which of the tied maximisers of every tied (agent, observation)
    is taken; its Jacobian is evaluated at estimates moved by ``BRANCH_SHIFT`` (relative)
    into that piece (the pieces are smooth, so this changes it by O(BRANCH_SHIFT)).
    """
    options = []
    for i, o in ties:
        row = Q[i, o]
        top = np.flatnonzero(row >= row.max() - tie_tol * max(1.0, abs(row.max())))
        options.append([(i, o, int(a)) for a in top])
    out = []
    for choice in itertools.islice(itertools.product(*options), MAX_BRANCHES):
        Qb = Q.copy()
        for i, o, a in choice:
            Qb[i, o, a] += BRANCH_SHIFT * max(1.0, abs(Q[i, o, a]))
        J, _ = _map_jacobian(vdyn, Qb, p)
        out.append((choice, float(np.max(np.abs(np.linalg.eigvals(J))))))
    return out


def stability(vdyn, Q, tie_tol: float = TIE_TOL, **p) -> ValueFixedPoint:
    """Linear stability report of the estimates ``Q`` (usually a fixed point).

    Where the map is smooth: eigenvalues of ``dQ'/dQ`` and of the flow. At a tie
    (``tie=True``) the reported eigenvalues are those of the first-maximiser branch, and
    ``branches`` lists the spectral radius of every smooth piece meeting there;
    ``stable`` is True when every piece is linearly stable, False when every piece is
    unstable and None when they disagree. (Linear stability of every piece is a strong
    indication, not a proof, for a piecewise-smooth map.)
    """
    Q = vdyn.check_values(Q)
    bad = vdyn.nonsmooth(Q, tie_tol, **p)
    ties, value_ties = bad["estimates"], bad["values"]
    J, A = _map_jacobian(vdyn, Q, p)
    ev, _ = _sorted(*np.linalg.eig(J))
    flow_ev = _sorted(np.linalg.eigvals(A))
    rho = float(np.max(np.abs(ev)))
    map_type = classify_map(ev)
    tie = bool(ties or value_ties)
    branches = _branches(vdyn, Q, ties, tie_tol, p) if ties else []
    if not tie:
        stable = map_type.startswith("stable")
    elif value_ties:  # pieces of max_b Qx are not reached by moving the estimates: undecided
        stable = None
    else:
        verdicts = {r < 1 - HYPERBOLIC_TOL for _, r in branches} | ({None} if any(
            abs(r - 1) <= HYPERBOLIC_TOL for _, r in branches) else set())
        stable = verdicts.pop() if len(verdicts) == 1 else None
    return ValueFixedPoint(
        Q=Q, X=vdyn.strategy(Q, **p), residual=float(np.max(np.abs(vdyn.tderror(Q, **p)))), tie=tie, ties=ties,
        value_ties=value_ties,
        branches=branches, eigenvalues=_real_if_close(ev), spectral_radius=rho,
        type=map_type if not tie else map_type + " (tie)", stable=stable,
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
