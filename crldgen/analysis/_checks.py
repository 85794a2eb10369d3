"""Argument checks at the entry of the public analysis functions (one call each).

Kept apart from the algorithms so that every public function validates its arguments
the same way before any work: a :class:`~crldgen.errors.ParameterError` (or
:class:`~crldgen.errors.StrategyError` for strategies) naming the argument, the value
and the rule. Nothing here imports sympy.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import _show, check_bool, check_choice, check_finite_array, check_int, check_interval, check_real
from ..errors import ParameterError, StrategyError


def rng_arg(rng) -> None:
    """``rng``: None, a non-negative integer seed or a numpy Generator / SeedSequence."""
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, numbers.Integral) or int(rng) < 0:
        raise ParameterError(f"rng = {_show(rng)}: must be None, an integer seed >= 0 or a numpy Generator")


def strategy_arg(name: str, X) -> np.ndarray:
    """A strategy-like array (strategies or log-ratios) with finite entries only (result objects pass)."""
    if hasattr(X, "final") or hasattr(X, "final_logit"):  # a Trajectory/Trajectories: continued exactly
        return X
    if hasattr(X, "y") and hasattr(X, "eigenvalues"):  # a FixedPoint
        return X
    if isinstance(X, (tuple, list)) and len(X) and not _rectangular(X):
        # a heterogeneous game's per-agent arrays (or a list of such strategies): each part checked
        for k, part in enumerate(X):
            strategy_arg(f"{name}[{k}]", part)
        return X
    return check_finite_array(name, X, error=StrategyError)


def _rectangular(X) -> bool:
    """``X`` converts to one numeric array (not a ragged sequence of per-agent arrays)."""
    try:
        np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def iteration(tmax, tol, *, tol_name: str = "tol", allow_none: bool = False) -> None:
    check_int("tmax", tmax, 1)
    check_real(tol_name, tol, minimum=0.0, allow_none=allow_none)


def fixed_points(guesses, n_starts, rng, sampling, iterate, tmax, tol, dedupe_tol) -> None:
    check_int("n_starts", n_starts, 0)
    rng_arg(rng)
    check_choice("sampling", sampling, ("lhs", "dirichlet"))
    check_bool("iterate", iterate)
    check_int("tmax", tmax, 1)
    check_real("tol", tol, minimum=0.0, strict_min=True)
    check_real("dedupe_tol", dedupe_tol, minimum=0.0, strict_min=True)
    if guesses is not None:
        strategy_arg("guesses", guesses)


def _grid_count(name: str, g) -> None:
    if np.ndim(g) == 0:
        check_int(name, g, 2)
    else:
        arr = check_finite_array(name, g)
        if arr.ndim != 1 or arr.size < 1:
            raise ParameterError(f"{name}: a grid axis must be a count >= 2 or a 1-d array of values")


def basins(grid, x_range, y_range, tmax, tol, match_tol) -> None:
    if np.ndim(grid) == 0 or (np.ndim(grid) == 1 and len(grid) != 2):
        _grid_count("grid", grid)
    else:
        if isinstance(grid, (str, bytes)) or len(grid) != 2:
            raise ParameterError(f"grid = {_show(grid)}: must be a count, a pair of counts or a pair of arrays")
        _grid_count("grid[0]", grid[0])
        _grid_count("grid[1]", grid[1])
    check_interval("x_range", x_range, minimum=0.0, maximum=1.0)
    check_interval("y_range", y_range, minimum=0.0, maximum=1.0)
    iteration(tmax, tol)
    check_real("match_tol", match_tol, minimum=0.0, strict_min=True)


def basin_fractions(n_samples, rng, sampling, tmax, tol, match_tol) -> None:
    check_int("n_samples", n_samples, 1)
    rng_arg(rng)
    check_choice("sampling", sampling, ("lhs", "dirichlet"))
    iteration(tmax, tol)
    check_real("match_tol", match_tol, minimum=0.0, strict_min=True)


def tipping_point(X_start, X_end, interval, tol, tmax, run_tol, max_runs) -> None:
    for name, X in (("X_start", X_start), ("X_end", X_end)):
        if X is not None:
            strategy_arg(name, X)
    check_interval("interval", interval)
    check_real("tol", tol, minimum=0.0, strict_min=True)
    iteration(tmax, run_tol, tol_name="run_tol")
    check_int("max_runs", max_runs, 1)


def critical_slowing_down(distances, tmax, tol) -> None:
    if distances is not None:
        d = check_finite_array("distances", distances)
        if d.ndim != 1 or d.size == 0 or np.any(d <= 0):
            raise ParameterError(f"distances = {_show(distances)}: must be a non-empty 1-d array of positive numbers")
    iteration(tmax, tol)


def stable_manifold(eigen_index, eps, n_per_domain, max_iter, y_limit) -> None:
    check_int("eigen_index", eigen_index, 0, allow_none=True)
    check_real("eps", eps, minimum=0.0, strict_min=True)
    check_int("n_per_domain", n_per_domain, 1)
    check_int("max_iter", max_iter, 1)
    check_real("y_limit", y_limit, minimum=0.0, strict_min=True)


def continuation(param, X0, start, bounds, direction, ds, ds_min, ds_max, max_steps, param_scale, tol,
                 max_angle) -> None:
    if not isinstance(param, str):
        raise ParameterError(f"param = {_show(param)}: must be a parameter name (str)")
    strategy_arg("X0", X0)
    check_real("start", start, allow_none=True)
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise ParameterError(f"bounds = {_show(bounds)}: must be a pair (lo, hi); None leaves a side open")
    lo = check_real("bounds[0]", bounds[0], allow_none=True)
    hi = check_real("bounds[1]", bounds[1], allow_none=True)
    if lo is not None and hi is not None and not lo < hi:
        raise ParameterError(f"bounds = {_show(bounds)}: the lower bound must be smaller than the upper (lo < hi)")
    if start is not None and ((lo is not None and start < lo) or (hi is not None and start > hi)):
        raise ParameterError(f"start = {start!r} lies outside bounds = {_show(bounds)}; start inside [lo, hi]")
    if isinstance(direction, (bool, np.bool_)) or direction not in (1, -1):
        raise ParameterError(f"direction = {_show(direction)}: must be +1 (increasing {param}) or -1")
    check_real("ds", ds, minimum=0.0, strict_min=True)
    check_real("ds_min", ds_min, minimum=0.0, strict_min=True)
    check_real("ds_max", ds_max, minimum=0.0, strict_min=True)
    if not ds_min <= ds_max:
        raise ParameterError(f"ds_min = {ds_min!r} > ds_max = {ds_max!r}: need ds_min <= ds_max")
    check_int("max_steps", max_steps, 1)
    check_real("param_scale", param_scale, minimum=0.0, strict_min=True)
    check_real("tol", tol, minimum=0.0, strict_min=True)
    check_real("max_angle", max_angle, minimum=0.0, strict_min=True)


def hysteresis(param, lo, hi, X0, jump, tmax, tol, max_pieces, ds, ds_max, param_scale, max_steps) -> None:
    if not isinstance(param, str):
        raise ParameterError(f"param = {_show(param)}: must be a parameter name (str)")
    lo = check_real("lo", lo)
    hi = check_real("hi", hi)
    if not lo < hi:
        raise ParameterError(f"lo = {lo!r}, hi = {hi!r}: the sweep needs lo < hi")
    if X0 is not None:
        strategy_arg("X0", X0)
    check_real("jump", jump, minimum=0.0, strict_min=True, allow_none=True)
    iteration(tmax, tol)
    check_int("max_pieces", max_pieces, 1)
    check_real("ds", ds, minimum=0.0, strict_min=True)
    check_real("ds_max", ds_max, minimum=0.0, strict_min=True)
    check_real("param_scale", param_scale, minimum=0.0, strict_min=True)
    check_int("max_steps", max_steps, 1)


def hysteresis_sweep(param, values, X0, tmax, tol, threshold) -> None:
    if not isinstance(param, str):
        raise ParameterError(f"param = {_show(param)}: must be a parameter name (str)")
    v = check_finite_array("values", values)
    if v.ndim != 1 or v.size == 0:
        raise ParameterError(f"values = {_show(values)}: must be a non-empty 1-d sequence of numbers")
    if X0 is not None:
        strategy_arg("X0", X0)
    iteration(tmax, tol, allow_none=True)
    check_real("threshold", threshold, minimum=0.0, strict_min=True, allow_none=True)  # None: automatic


def sample_strategies(n, rng, method, eps) -> None:
    check_int("n", n, 0)
    rng_arg(rng)
    check_choice("method", method, ("lhs", "dirichlet"))
    check_real("eps", eps, minimum=0.0, maximum=1.0, strict_max=True)


def crossing(value) -> None:
    check_real("value", value)
