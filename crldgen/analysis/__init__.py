"""Analysis of compiled learning dynamics: fixed points, stability, basins, tipping points, continuation.

numpy and the compiled module only: nothing here imports sympy (the symbolic
counterpart is :mod:`crldgen.symbolic.stability`).

Coordinates: strategies ``X[i, o, a]`` of shape (N, Q, M); the free coordinates are the
log-ratios ``y[i, o, a] = ln(X[i,o,a] / X[i,o,M-1])`` (N*Q*(M-1) of them), where the
generated Jacobian lives and where stability is judged (crld-math.md sections 4-5).
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
