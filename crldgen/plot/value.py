"""Flows of the value-space dynamics (:mod:`crldgen.value`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ._common import (FlowField, TRAJECTORY_COLORS, _as_axes_list, _coordinate, _figure_legend, _panel_title,
                      _projector, _quiver_scale, _style_unit_square, _trajectory_list, coordinate_label, panels)
from .flows import _grid, _place
from .overlays import _draw_fixed_points
from .trajectory import _draw_trajectories


# ------------------------------------------------------------ value-space flows (issue 14)
def value_coordinate_label(vdyn, c) -> str:
    """Axis label of the estimate ``q[agent, state, action]``."""
    i, s, a = _coordinate(vdyn, c)
    agent = vdyn.agents[i]
    agent = f"agent {agent}" if agent.isdigit() else agent
    return f"{agent}: q({vdyn.observations[s]}, {vdyn.actions[a]})"


def value_flow_field(vdyn, x, y, points=9, *, coords: str = "strategy", arrows: str = "step", base=None,
                     x_range=(-1.0, 1.0), y_range=(-1.0, 1.0), **p) -> list[FlowField]:
    """Flow arrows of a :class:`crldgen.value.ValueDynamics` on the panels of ``x, y``.

    ``coords='strategy'`` (softmax only): a grid of strategies as in :func:`flow_field`
    (hidden coordinates from ``base``, a strategy, default uniform); at each strategy X
    the estimates are ``vdyn.values_from_strategy(X, 'values')`` (``ln X / beta`` with
    ``sum_a X q = Vx``; the per-(agent, state) constant does not matter for value SARSA
    but does for expected SARSA and Q-learning) and the arrow is the strategy change
    ``pi(q') - X`` of one step (``arrows='step'``) or the normalized TD error
    ``delta - mean_a delta`` (``arrows='tderror'``).
    ``coords='values'`` (any policy): x and y are estimates ``q[i, s, a]`` on grids over
    ``x_range``, ``y_range``; the other estimates come from ``base`` (estimates, default
    0); the arrow is ``q' - q`` (``'step'``) or ``delta`` (``'tderror'``).
    """
    if coords not in ("strategy", "values"):
        raise ParameterError(f"coords must be 'strategy' or 'values', got {coords!r}")
    if arrows not in ("step", "tderror"):
        raise ParameterError(f"arrows must be 'step' or 'tderror', got {arrows!r}")
    out = []
    if coords == "strategy":
        if vdyn.policy != "softmax":
            raise ParameterError("strategy coordinates need a softmax policy (epsilon-greedy strategies do not "
                                 "determine the estimates); use coords='values'")
        xs, ys = _grid(points), _grid(points)
        base = np.full(vdyn.shape, 1.0 / vdyn.n_actions) if base is None else np.asarray(base, dtype=float)
    else:
        n = int(points)
        xs, ys = np.linspace(*x_range, n), np.linspace(*y_range, n)
        base = np.zeros(vdyn.shape) if base is None else vdyn.check_values(base, "base")
    GX, GY = np.meshgrid(xs, ys)
    vals = np.column_stack([GX.ravel(), GY.ravel()])
    for cx, cy in panels(vdyn, x, y):
        u, v = np.full(len(vals), np.nan), np.full(len(vals), np.nan)
        if coords == "strategy":
            Xs, valid = _place(base, [cx, cy], vals)
            for k in np.flatnonzero(valid):
                q = vdyn.values_from_strategy(Xs[k], constant="values", **p)
                if arrows == "step":
                    D = vdyn.strategy(vdyn.step(q, **p), **p) - Xs[k]
                else:
                    D = vdyn.tderror(q, normalize=True, **p)
                u[k], v[k] = D[cx], D[cy]
        else:
            for k, (a, b) in enumerate(vals):
                q = base.copy()
                q[cx], q[cy] = a, b
                D = vdyn.step(q, **p) - q if arrows == "step" else vdyn.tderror(q, **p)
                u[k], v[k] = D[cx], D[cy]
        out.append(FlowField((cx, cy), xs, ys, u.reshape(1, *GX.shape), v.reshape(1, *GX.shape), arrows))
    return out


def value_flow(vdyn, x, y, points=None, *, axes=None, coords: str = "strategy", arrows: str = "step", base=None,
               x_range=(-1.0, 1.0), y_range=(-1.0, 1.0), kind: str = "quiver", cmap: str = "viridis",
               colorbar: bool = True, fixed_points=None, trajectories=None, trajectory_colors=None,
               titles: Sequence[str] | None = None, legend: bool = True, **p):
    """Flow plot of value-space dynamics in strategy or value coordinates (see :func:`value_flow_field`).

    ``fixed_points``: a :func:`crldgen.value.fixed_points` result (drawn at their
    strategies or estimates); ``trajectories``: :class:`crldgen.value.ValueTrajectory`
    results (their strategies ``X`` or estimates ``Q``). Returns the list of axes.
    """
    import matplotlib.colors as mcolors

    if kind not in ("quiver", "stream"):
        raise ParameterError(f"kind must be 'quiver' or 'stream', got {kind!r}")
    pans = panels(vdyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    if points is None:
        points = 21 if kind == "stream" else 9
    fields = value_flow_field(vdyn, x, y, points, coords=coords, arrows=arrows, base=base, x_range=x_range,
                              y_range=y_range, **p)
    speeds = np.concatenate([f.speed[np.isfinite(f.speed)] for f in fields] or [np.zeros(1)])
    norm = mcolors.Normalize(vmin=0.0, vmax=float(speeds.max()) if speeds.size and speeds.max() > 0 else 1.0)
    mappable = None
    for k, (ax, f) in enumerate(zip(axes, fields)):
        GX, GY = np.meshgrid(f.xs, f.ys)
        if kind == "stream":
            sp = np.ma.masked_invalid(f.speed)
            st = ax.streamplot(f.xs, f.ys, np.ma.masked_invalid(f.u), np.ma.masked_invalid(f.v),
                               color=sp.filled(0.0), cmap=cmap, norm=norm, density=1.0, linewidth=1.0)
            mappable = st.lines
        else:
            q = ax.quiver(GX, GY, f.u, f.v, f.speed, cmap=cmap, norm=norm, angles="xy", scale_units="xy",
                          scale=_quiver_scale(f), width=0.007, zorder=2)
            q.set_gid("flow")
            mappable = q
        if coords == "strategy":
            _style_unit_square(ax)
            ax.set_xlabel(coordinate_label(vdyn, f.coords[0]))
            ax.set_ylabel(coordinate_label(vdyn, f.coords[1]))
        else:
            ax.set_xlabel(value_coordinate_label(vdyn, f.coords[0]))
            ax.set_ylabel(value_coordinate_label(vdyn, f.coords[1]))
        title = titles[k] if titles is not None else _panel_title(vdyn, pans, k)
        if title:
            ax.set_title(title)
    field = "X" if coords == "strategy" else "Q"
    if fixed_points is not None:
        pts = fixed_points.points if hasattr(fixed_points, "points") else fixed_points
        recs = [(np.asarray(getattr(pt, field), dtype=float), getattr(pt, "stable", None)) for pt in pts]
        _draw_fixed_points(axes, [_projector(*pan) for pan in pans], recs)
    if trajectories is not None:
        trajs = _trajectory_list(trajectories)
        if field == "Q":
            trajs = [_QRows(t.Q, bool(t.converged)) for t in trajs]
        tc = None if trajectory_colors == "time" else (trajectory_colors or TRAJECTORY_COLORS)
        _draw_trajectories(axes, [_projector(*pan) for pan in pans], trajs, colors=tc)
    if colorbar and mappable is not None:
        cb = axes[0].figure.colorbar(mappable, ax=axes, shrink=0.9, pad=0.02)
        cb.set_label("|strategy change per step|" if (arrows == "step" and coords == "strategy") else
                     "|estimate change per step|" if arrows == "step" else "|TD error|")
    if legend and (fixed_points is not None or trajectories is not None):
        _figure_legend(axes)
    return axes


@dataclass
class _QRows:
    """A trajectory of estimates in the shape the trajectory drawer reads (``X``, ``converged``)."""

    X: np.ndarray
    converged: bool
