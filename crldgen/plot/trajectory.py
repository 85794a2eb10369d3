"""Trajectories in strategy space and time series of strategy entries."""

from __future__ import annotations


import numpy as np

from ..ragged import layout_of
from ._common import (GID_END_CONVERGED, GID_END_OPEN, GID_START, OPEN_END_STYLE, REACHED_STYLE, START_STYLE,
                      _agent_labels, _as_axes_list, _as_trajectory, _coordinate, _legend, _projector, _pyplot,
                      _style_unit_square, _times, _trajectory_list, coordinate_label, panels)


def _end_markers(ax, xs, ys, converged, color, label: bool = True):
    """Start (open square) and end markers: star = fixed point reached, cross = still moving."""
    ln, = ax.plot(xs[:1], ys[:1], mec=color, label="start" if label else None, **START_STYLE)
    ln.set_gid(GID_START)
    if converged:
        ln, = ax.plot(xs[-1:], ys[-1:], mfc=color, label="fixed point reached" if label else None, **REACHED_STYLE)
        ln.set_gid(GID_END_CONVERGED)
    else:
        ln, = ax.plot(xs[-1:], ys[-1:], color=color, label="end (not converged)" if label else None,
                      **OPEN_END_STYLE)
        ln.set_gid(GID_END_OPEN)


def _draw_trajectories(axes, projections, trajs, colors=None, cmap="plasma", lw=2.0, alpha=0.9, markers=True):
    """Draw ``trajs`` on every axes (``projections[k]``: strategies -> that axes' coordinates).

    Without ``colors`` each trajectory is coloured by time (log scale); returns the last
    LineCollection (for a colour bar) or None.
    """
    import matplotlib.colors as mcolors
    from matplotlib.collections import LineCollection

    data = [_as_trajectory(t) for t in trajs]
    tmax = max((len(X) for X, _ in data), default=2)
    # time on a log scale: learning is fast at first and slow near the end
    norm = mcolors.LogNorm(1, max(tmax - 1, 2))
    lc_last = None
    for ax, project in zip(axes, projections):
        for k, (X, conv) in enumerate(data):
            xs, ys = project(X)
            if colors is None:
                pts = np.column_stack([xs, ys]).reshape(-1, 1, 2)
                segs = np.concatenate([pts[:-1], pts[1:]], axis=1)
                lc = LineCollection(segs, cmap=cmap, norm=norm, linewidths=lw, alpha=alpha, zorder=4)
                lc.set_array(np.arange(1, len(segs) + 1, dtype=float))
                lc.set_gid("trajectory")
                ax.add_collection(lc)
                lc_last = lc
                mcol = "black"
            else:
                mcol = colors[k % len(colors)]
                ln, = ax.plot(xs, ys, color=mcol, lw=lw, alpha=alpha, zorder=4)
                ln.set_gid("trajectory")
            if markers:
                _end_markers(ax, xs, ys, conv, mcol)
    return lc_last


def trajectories(trajs, x, y, dyn=None, *, axes=None, colors=None, cmap: str = "plasma", colorbar: bool = False,
                 lw: float = 2.0, alpha: float = 0.9, markers: bool = True, unit_square: bool = True):
    """Trajectories in phase space on the panels of the projection ``x, y``.

    Parameters
    ----------
    trajs : trajectory result (``.X``, ``.converged``), array ``X[t, i, s, a]``, or a list of them
    x, y : projection (indices, or labels when ``dyn`` is given)
    colors : list of colours (one per trajectory) instead of colouring by time
    cmap, colorbar : colour map of time and whether to add its colour bar
    markers : start (open square) and end markers (star: fixed point reached, cross: not converged)
    """
    pans = panels(dyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    trajs = _trajectory_list(trajs)
    lc = _draw_trajectories(axes, [_projector(*pan) for pan in pans], trajs, colors=colors, cmap=cmap, lw=lw,
                            alpha=alpha, markers=markers)
    for ax, (cx, cy) in zip(axes, pans):
        if unit_square and not any(c.get_gid() == "flow" for c in ax.collections):  # a flow keeps its frame
            _style_unit_square(ax)
        if dyn is not None and not ax.get_xlabel():
            ax.set_xlabel(coordinate_label(dyn, cx))
            ax.set_ylabel(coordinate_label(dyn, cy))
    if colorbar and lc is not None:
        axes[0].figure.colorbar(lc, ax=axes, shrink=0.9, pad=0.02).set_label("time step (log scale)")
    return axes


def time_series(trajs, dyn=None, coords=None, *, ax=None, colors=None, linestyles=None, labels=None,
                alpha: float = 0.9, lw: float = 2.0, legend: bool = True, ylabel: str | None = None,
                xlabel: str = "time step", xlim=None):
    """Strategy entries over time (one line per coordinate and trajectory).

    Parameters
    ----------
    trajs : trajectory result(s) or arrays ``X[t, i, s, a]``
    dyn : Dynamics, optional (labels)
    coords : list of (agent, state, action); default: action 0 of every agent and state
    colors, linestyles : per coordinate (default: colour by state, line style by agent)
    labels : legend labels per coordinate
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    items = _trajectory_list(trajs)
    data = [_as_trajectory(t)[0] for t in items]
    times = [_times(t, len(X)) for t, X in zip(items, data)]
    N, Q, M = data[0].shape[1:]
    if coords is None:
        lay = layout_of(dyn) if dyn is not None else None
        qs = lay.observation_counts if lay is not None else (Q,) * N
        coords = [(i, s, 0) for s in range(Q) for i in range(N) if s < qs[i]]
    coords = [_coordinate(dyn, c) if dyn is not None else tuple(int(v) for v in c) for c in coords]
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    state_colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"] + palette
    agent_styles = ["-", "--", ":", "-."]
    for n, X in enumerate(data):
        for k, (i, s, a) in enumerate(coords):
            col = colors[k] if colors is not None else state_colors[s % len(state_colors)]
            ls = linestyles[k] if linestyles is not None else agent_styles[i % len(agent_styles)]
            if labels is not None:
                lab = labels[k]
            elif dyn is not None:
                ag = dyn.agents[i]
                obs, acts = _agent_labels(dyn, i)
                lab = (f"agent {ag}" if ag.isdigit() else ag) + (
                    f", {'state' if dyn.fully_observed else 'observation'} {obs[s]}" if len(obs) > 1 else "")
                if layout_of(dyn) is not None:
                    lab += f": {acts[a]}"
            else:
                lab = f"X[{i}, {s}, {a}]"
            ax.plot(times[n], X[:, i, s, a], color=col, ls=ls, lw=lw if i == 0 else 0.75 * lw,
                    alpha=alpha, label=lab if n == 0 else None)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(xlim if xlim is not None else (0, max(t[-1] for t in times)))
    ax.set_xlabel(xlabel)
    if ylabel is None:
        acts = {_agent_labels(dyn, i)[1][a] for i, _, a in coords} if dyn is not None else set()
        if len(acts) == 1:
            ylabel = f"probability of {acts.pop()}"
        else:
            ylabel = "action probability"
    ax.set_ylabel(ylabel)
    if legend:
        _legend(ax, loc="best")
    return ax
