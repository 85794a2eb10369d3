"""Figures of collective reinforcement learning dynamics (matplotlib, imported lazily).

``import crldgen`` never imports matplotlib; this module imports it inside its
functions. Every plotting function takes ``ax`` (one :class:`~matplotlib.axes.Axes`)
or ``axes`` (one per panel) and returns them; when none are given a new figure is made.

Coordinates in strategy space
-----------------------------
A coordinate is a triple ``(agent, state, action)`` naming the strategy entry
``X[agent, state, action]`` (``state`` is the observation under partial
observability). Entries are indices or the game's labels. A *projection* is a pair of
specifications ``x, y`` (horizontal and vertical axis) in the style of the chapter::

    x = ([0], ["g", "p"], ["c"])   # agent 0 cooperating, in state g (panel 1) and p (panel 2)
    y = ([1], ["g", "p"], ["c"])   # agent 1 cooperating

Each position holds one entry or a list; lists longer than one must all have the same
length ``L`` and give ``L`` panels (panel ``k`` takes entry ``k`` of each list).

On a panel the coordinates not shown (the *hidden* ones) are taken from a base
strategy (default: uniform), or, with ``samples=n``, from ``n`` random joint
strategies over which the arrows are averaged. Setting ``X[i, s, a] = v`` rescales the
other actions of ``X[i, s, :]`` to ``1 - v`` in proportion to the base strategy.

Flow arrows show the normalized temporal-difference error (``arrows='tderror'``, the
chapter's default; it has a cognitive interpretation) or the strategy change of one
learning step (``arrows='step'``).

Fixed points are drawn filled when stable and open when unstable or saddles;
trajectories are coloured by time (or given colours) with a start marker (open
square) and an end marker (a star when a fixed point was reached, a cross otherwise).

The figures live in submodules, one per kind, all re-exported here:
:mod:`crldgen.plot._common` (styles, gids, coordinates, projections, legends, :func:`save`),
:mod:`~crldgen.plot.overlays` (:func:`fixed_points`, :func:`separatrix`),
:mod:`~crldgen.plot.trajectory` (:func:`trajectories`, :func:`time_series`),
:mod:`~crldgen.plot.flows` (:func:`flow`, :func:`flow_field`), :mod:`~crldgen.plot.ternary`
(:func:`simplex`), :mod:`~crldgen.plot.branches` (:func:`bifurcation`, :func:`hysteresis`),
:mod:`~crldgen.plot.attractors` (:func:`basins`, :func:`convergence_times`),
:mod:`~crldgen.plot.spectra` (:func:`eigenvalues`), :mod:`~crldgen.plot.sample`
(sample-based learners) and :mod:`~crldgen.plot.value` (value-space flows). The module names
differ from the function names so that ``crldgen.plot.flow`` is always the function.
"""

from __future__ import annotations

# submodules in dependency order (each imports only the ones above it)
from ._common import (  # noqa: F401
    GID_STABLE, GID_UNSTABLE, GID_UNKNOWN, GID_START, GID_END_CONVERGED,
    GID_END_OPEN, GID_SEPARATRIX, GID_BOUNDARY, GID_NEUTRAL, STABLE_STYLE, UNSTABLE_STYLE, UNKNOWN_STYLE,
    BOUNDARY_STYLE, TRAJECTORY_COLORS, _FP_KINDS, _pyplot, _new_axes, _as_axes_list, _index, _dims, _coordinate,
    panels, coordinate_label, _panel_title, _projector, _as_trajectory, _times, _trajectory_list, FlowField,
    _nanmean0, ARROW_CELLS, _cell, _quiver_scale, _arrow_pad, _style_unit_square, _LEGEND_ORDER, _handles,
    _legend, legend, _figure_legend, START_STYLE, REACHED_STYLE, OPEN_END_STYLE, save, _agent_labels, _n_actions,
    _padded, _is_ragged_trajectory)
from .overlays import (  # noqa: F401
    _fixed_point_records, _draw_fixed_points, _draw_neutral_set,
    fixed_points, _curves, _draw_separatrix, separatrix)
from .trajectory import (  # noqa: F401
    _end_markers, _draw_trajectories, trajectories, time_series)
from .flows import (  # noqa: F401
    _place, _evaluate, _grid, flow_field, flow)
from .ternary import (  # noqa: F401
    _SQ3, _ternary, simplex)
from .branches import (  # noqa: F401
    _branch_list, _runs, _BIF_STYLE, bifurcation, _param_name, hysteresis)
from .attractors import (  # noqa: F401
    basins, _attractor_name, convergence_times)
from .spectra import (  # noqa: F401
    INSIDE_STYLE, OUTSIDE_STYLE, eigenvalues)
from .sample import (  # noqa: F401
    sample_trajectories, distance_vs_batch)
from .value import (  # noqa: F401
    value_coordinate_label, value_flow_field, value_flow, _QRows)

__all__ = [
    "FlowField", "basins", "bifurcation", "convergence_times", "eigenvalues", "fixed_points", "flow", "flow_field",
    "hysteresis", "legend", "panels", "save", "separatrix", "simplex", "time_series", "trajectories",
]
__all__ += ["value_coordinate_label", "value_flow", "value_flow_field"]
