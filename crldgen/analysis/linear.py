"""Linear stability of a joint strategy (crld-math.md section 5).

Stability is judged in the N*Q*(M-1) free log-ratio coordinates, where the generated
Jacobian ``J = dy'/dy`` lives; the spurious normalization eigenvalues of the full
N*Q*M-dimensional map never appear.

* Discrete map: eigenvalues of ``J``; stable if the spectral radius is < 1.
* Continuous-time flow ``dy/dt = alpha (delta[a] - delta[M-1])`` in units of learning
  steps scaled by ``alpha``: eigenvalues of ``(J - I) / alpha`` (per agent row);
  stable if all real parts are < 0.
"""

from __future__ import annotations

import numpy as np

from .. import _hooks
from ..errors import ParameterError, StrategyError
from ..runtime.identity import tag_result
from . import _checks
from ._core import Result, System, effective_params

#: ``|lambda|`` within this distance of 1 (map) or ``|Re|`` below it (flow) counts as non-hyperbolic
HYPERBOLIC_TOL = 1e-9
#: eigenvalues with ``|imag|`` below this (relative) count as real
IMAG_TOL = 1e-7

MAP_TYPES = ("stable node", "stable focus", "saddle", "unstable node", "unstable focus", "non-hyperbolic")


def _is_complex(ev) -> np.ndarray:
    ev = np.asarray(ev)
    return np.abs(ev.imag) > IMAG_TOL * np.maximum(1.0, np.abs(ev))


def classify_map(eigenvalues, tol: float = HYPERBOLIC_TOL) -> str:
    """Classify a fixed point of a map from the eigenvalues of its Jacobian.

    ``'stable node'``/``'stable focus'`` (all ``|lambda| < 1``), ``'unstable node'``/
    ``'unstable focus'`` (all ``|lambda| > 1``), ``'saddle'`` (both, whatever other
    eigenvalues of modulus 1 do), ``'unstable (non-hyperbolic)'`` (some ``|lambda| > 1``,
    the others of modulus 1), or ``'non-hyperbolic'`` (no ``|lambda| > 1`` and some
    ``|lambda| = 1`` within ``tol``): a spectral radius > 1 is never called anything
    but unstable. Node or focus follows
    the leading eigenvalue (largest modulus for stable points, smallest for unstable
    ones: the direction trajectories approach along or leave by first): a complex
    leading eigenvalue means spiralling, i.e. a focus.
    """
    ev = np.asarray(eigenvalues, dtype=complex)
    if ev.size == 0:
        return "stable node"
    mod = np.abs(ev)
    n_out, n_in = int(np.sum(mod > 1 + tol)), int(np.sum(mod < 1 - tol))
    if n_out and n_in:
        return "saddle"  # unstable in some direction, whatever the neutral ones do
    if n_out + n_in < ev.size:
        return "unstable (non-hyperbolic)" if n_out else "non-hyperbolic"
    lead = ev[np.argmax(mod)] if n_in else ev[np.argmin(mod)]
    kind = "focus" if _is_complex(lead) else "node"
    return ("stable " if n_in else "unstable ") + kind


def classify_flow(eigenvalues, tol: float = HYPERBOLIC_TOL) -> str:
    """Classify an equilibrium of a flow from the eigenvalues of its Jacobian.

    Stable if all real parts < 0, unstable if all > 0, saddle if both (whatever the
    vanishing ones do), ``'unstable (non-hyperbolic)'`` if some are > 0 and the others
    vanish, non-hyperbolic if none is > 0 and some vanish within ``tol``. Node or focus follows the leading
    eigenvalue (largest real part for stable points, smallest for unstable ones).
    """
    ev = np.asarray(eigenvalues, dtype=complex)
    if ev.size == 0:
        return "stable node"
    re = ev.real
    scale = max(1.0, float(np.max(np.abs(ev))))
    n_pos, n_neg = int(np.sum(re > tol * scale)), int(np.sum(re < -tol * scale))
    if n_pos and n_neg:
        return "saddle"
    if n_pos + n_neg < ev.size:
        return "unstable (non-hyperbolic)" if n_pos else "non-hyperbolic"
    lead = ev[np.argmax(re)] if n_neg else ev[np.argmin(re)]
    kind = "focus" if _is_complex(lead) else "node"
    return ("stable " if n_neg else "unstable ") + kind


def _sorted(ev, vecs=None):
    order = np.lexsort((-ev.imag, -np.abs(ev)))
    return (ev[order], vecs[:, order]) if vecs is not None else ev[order]


class FixedPoint(Result):
    """Stability report of one joint strategy (usually a fixed point).

    Fields
    ------
    X : (N, Q, M) joint strategy;  y : (N, Q, M-1) its log-ratios
    residual : max |y' - y| (the map's fixed point condition); flow_residual : max |delta[a] - delta[M-1]|
    jacobian : dy'/dy, (n_free, n_free)
    eigenvalues, eigenvectors : of the map Jacobian, sorted by decreasing modulus
    spectral_radius, stable, type : map stability and classification (:func:`classify_map`)
    flow_eigenvalues, flow_stable, flow_type : the same for the flow ``(J - I)/alpha``
    n_unstable : number of map eigenvalues with |lambda| > 1
    relaxation_time : ``-1 / ln(spectral_radius)`` in steps (e-folding time of the slowest
        mode; negative for unstable points: minus the e-folding time of the fastest growth)
    params : the parameter overrides the report was computed with
    on_boundary : the point lies on a face of the product of simplices (some actions have probability 0)
    support : (N, Q, M) bool, the actions with positive probability
    transversal_actions, transversal_rates, transversal_multipliers : the missing actions
        ``(agent, state, action)``, their growth rates ``delta[b] - delta[r]`` (flow units)
        and map multipliers ``exp(alpha (delta[b] - delta[r]))`` (empty in the interior);
        the multipliers are among ``eigenvalues``
    face_eigenvalues : eigenvalues of the map within the face (all of them in the interior)
    asymptotic : a stable boundary point: approached exponentially, never reached
    neutral_dimension, free_blocks : dimension of the neutral set of fixed points through
        the point (0: isolated) and the blocks ``(agent, state, actions)`` that mix those
        actions freely along it (the point itself mixes them uniformly); tangent : further
        neutral directions (face coordinates) of a curved set, or None; for a set,
        ``type`` is ``'<stable|saddle|unstable|non-hyperbolic> set'``, judged by the
        eigenvalues transversal to the set
    """

    def summary_row(self) -> str:
        X = self.X
        head = X[..., :-1].ravel() if not isinstance(X, tuple) else np.concatenate([x[..., :-1].ravel() for x in X])
        return (f"{self.type:<15} {self.spectral_radius:10.6f} {self.flow_type:<15} "
                f"{self.relaxation_time:12.4g} {self.residual:9.2e}  "
                + np.array2string(head, precision=4, separator=" ", max_line_width=10**6))

    def __repr__(self) -> str:
        head = ("FixedPoint(type={!r}, stable={}, spectral_radius={:.6g}, flow_type={!r}, "
                "relaxation_time={:.4g}, residual={:.2e})").format(
            self.type, self.stable, self.spectral_radius, self.flow_type, self.relaxation_time, self.residual)
        X = np.array2string(self.X, precision=6, prefix="  X=") if not isinstance(self.X, tuple) else \
            "(" + ", ".join(np.array2string(x, precision=6, prefix="  X=") for x in self.X) + ")"
        ev = np.array2string(self.eigenvalues, precision=6, prefix="  eigenvalues=")
        return f"{head}\n  X={X}\n  eigenvalues={ev}"


def report(system: System, y, **extra) -> FixedPoint:
    """Stability report at log-ratio coordinates ``y`` (see :class:`FixedPoint`)."""
    y = np.asarray(y, dtype=float).ravel()
    J = system.J(y)
    F = system.step(y) - y
    ev, vecs = np.linalg.eig(J)
    ev, vecs = _sorted(ev, vecs)
    flow_ev = _sorted(np.linalg.eigvals((J - np.eye(system.n)) / system.alpha_rows[:, None]))
    rho = float(np.max(np.abs(ev))) if ev.size else 0.0
    with np.errstate(divide="ignore"):
        relax = -1.0 / np.log(rho) if rho != 1.0 else np.inf
    map_type = classify_map(ev)
    flow_type = classify_flow(flow_ev)
    boundary_fields = dict(on_boundary=False, support=system.full_support(), transversal_actions=[],
                           transversal_rates=np.zeros(0), transversal_multipliers=np.zeros(0),
                           face_eigenvalues=_real_if_close(ev), asymptotic=False, neutral_dimension=0,
                           free_blocks=[], tangent=None)
    boundary_fields.update(extra)
    return FixedPoint(
        X=system.X(y), y=system.y_shaped(y),
        residual=float(np.max(np.abs(F))) if F.size else 0.0,
        flow_residual=float(np.max(np.abs(F / system.alpha_rows))) if F.size else 0.0,
        stable=map_type.startswith("stable"), type=map_type, spectral_radius=rho,
        n_unstable=int(np.sum(np.abs(ev) > 1 + HYPERBOLIC_TOL)),
        eigenvalues=_real_if_close(ev), eigenvectors=vecs,
        flow_stable=flow_type.startswith("stable"), flow_type=flow_type,
        flow_eigenvalues=_real_if_close(flow_ev),
        relaxation_time=float(relax), jacobian=J, params=effective_params(system), **boundary_fields)


def _real_if_close(ev):
    ev = np.asarray(ev, dtype=complex)
    return ev.real.copy() if not np.any(_is_complex(ev)) else ev


@tag_result
def stability(dyn, X, **p) -> FixedPoint:
    """Linear stability report of the joint strategy ``X`` (a fixed point, usually).

    Parameters
    ----------
    dyn : Dynamics
    X : array (N, Q, M)
        Joint strategy in the interior of the simplex (or log-ratios ``y`` of shape
        (N, Q, M-1) / (n_free,)). Under actor-critic ``X`` may lie on the boundary (zero
        entries): the report is then that of its face (``on_boundary``, within-face
        eigenvalues and ``transversal_rates``; ``eigenvectors`` is None).
    **p
        Parameter overrides (learner and game parameters), as for every Dynamics call.

    Returns
    -------
    FixedPoint
        Residual, eigenvalues of the map and of the flow in the N*Q*(M-1) free
        coordinates, spectral radius, classification, relaxation time. ``X`` need not
        be a fixed point: check ``residual``.
    """
    if getattr(dyn, "ragged", False):
        return _ragged_stability(dyn, X, p)
    _checks.strategy_arg("X", X)
    system = System(dyn, p)
    arr = np.asarray(X, dtype=float)
    if arr.shape == system.shape and dyn.learner == "actor_critic" and np.any(arr == 0):
        # a strategy on a face of the simplex: within-face eigenvalues plus transversal rates
        boundary = _hooks.upper("analysis.boundary")  # the face machinery sits above (it builds on this module)
        Xc = dyn.check_strategy(arr)
        face = boundary.FaceSystem(system, Xc > 0)
        return boundary.face_report(system, face, face.z(Xc))
    return report(system, _as_y(system, X))


def _ragged_stability(dyn, X, p) -> FixedPoint:
    """:func:`stability` of a heterogeneous game (interior strategies; faces are not supported yet)."""
    system = System(dyn, p)
    if hasattr(X, "final_logit"):  # a Trajectory: its exact final state
        X = X.final_logit
    elif hasattr(X, "y") and hasattr(X, "eigenvalues"):  # a FixedPoint
        X = X.y
    lay = dyn.layout
    if isinstance(X, np.ndarray) and X.dtype != object and X.shape == (system.n,):
        y = np.array(X, dtype=float)
    elif isinstance(X, (tuple, list)) and len(X) == dyn.n_agents and all(
            np.shape(x) == s for x, s in zip(X, lay.logit_shapes())):
        y = lay.flatten_logit(X, "X")
    else:
        flat = dyn._flat(X, "X")
        if dyn.learner == "actor_critic" and np.all(np.isfinite(flat)) and np.any(flat == 0):
            raise ParameterError(
                "stability at a strategy on the boundary of the simplex (zero entries) is not supported for "
                "heterogeneous games yet; give an interior strategy")
        y = system.y(flat)
    if not np.all(np.isfinite(y)):
        raise StrategyError("X: log-ratio coordinates must be finite")
    return report(system, y)


def _as_y(system: System, X) -> np.ndarray:
    """Log-ratios of a strategy (N, Q, M); log-ratios (N, Q, M-1) or (n_free,) pass through."""
    arr = np.asarray(X, dtype=float)
    N, Q, M = system.shape
    if arr.shape in ((N, Q, M - 1), (system.n,)):
        return arr.ravel()
    return system.y(arr)
