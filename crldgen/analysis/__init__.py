"""Analysis of compiled learning dynamics: fixed points, stability, basins, tipping points, continuation.

numpy and the compiled module only: nothing here imports sympy (the symbolic
counterpart is :mod:`crldgen.symbolic.stability`).

Coordinates: strategies ``X[i, o, a]`` of shape (N, Q, M); the free coordinates are the
log-ratios ``y[i, o, a] = ln(X[i,o,a] / X[i,o,M-1])`` (N*Q*(M-1) of them), where the
generated Jacobian lives and where stability is judged (crld-math.md sections 4-5).

Heterogeneous games (:class:`~crldgen.runtime.ragged_dynamics.RaggedDynamics`, per-agent
``M_i`` and ``Q_i``): the free coordinates are the flat log-ratios of
:class:`crldgen.ragged.Layout` (``n_free = sum_i Q_i (M_i - 1)``, no padding, so no
spurious eigenvalues); strategies in results are tuples of per-agent ``(Q_i, M_i)``
arrays (stacks: ``(K, Q_i, M_i)``), coordinates ``(agent, state, action)`` take agent
i's own labels. Supported: :func:`fixed_points` (interior points; the boundary face
search is not supported yet, so actor-critic needs ``boundary=False``),
:func:`stability` (interior strategies), :func:`basins`, :func:`basin_fractions`,
:func:`tipping_point`, :func:`critical_slowing_down`, :func:`continuation`,
:func:`stable_manifold`. :func:`hysteresis`, :func:`hysteresis_sweep` and every face
(boundary) computation raise :class:`~crldgen.errors.ParameterError` saying they are not
supported for heterogeneous games yet.
"""

from ._core import Result, sample_strategies
from .attractors import (BasinResult, TippingPoint, basin_fractions, basins, critical_slowing_down, crossing,
                     inverse_step, stable_manifold, tipping_point)
from .branches import ContinuationResult, HysteresisResult, continuation, hysteresis, hysteresis_sweep
from .fixedpoints import FixedPointResult, fixed_points, newton
from .linear import FixedPoint, classify_flow, classify_map, stability

__all__ = [
    "BasinResult", "ContinuationResult", "FixedPoint", "FixedPointResult", "HysteresisResult", "Result",
    "TippingPoint", "basin_fractions", "basins", "classify_flow", "classify_map", "continuation",
    "critical_slowing_down", "crossing", "fixed_points", "hysteresis", "hysteresis_sweep", "inverse_step",
    "newton", "sample_strategies", "stability", "stable_manifold", "tipping_point",
]
