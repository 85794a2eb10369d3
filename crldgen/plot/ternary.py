"""Flows on the simplex of one agent with three actions (ternary plot)."""

from __future__ import annotations


import numpy as np

from ..errors import ParameterError
from ._common import _coordinate, _legend, _pyplot, _trajectory_list
from .flows import _evaluate
from .overlays import _draw_fixed_points
from .trajectory import _draw_trajectories


# ------------------------------------------------------------------------ simplex
_SQ3 = np.sqrt(3.0) / 2


def _ternary(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian coordinates of barycentric points ``P[..., 3]`` (corners a0 left, a1 right, a2 top)."""
    P = np.asarray(P, dtype=float)
    return P[..., 1] + 0.5 * P[..., 2], _SQ3 * P[..., 2]


def simplex(dyn, agent=0, state=0, *, ax=None, points: int = 12, base=None, symmetric: bool = False,
            arrows: str = "tderror", cmap: str = "viridis", colorbar: bool = True, fixed_points=None,
            trajectories=None, traj_colors=None, title: str | None = None, legend: bool = True, **p):
    """Flow on the simplex of one agent's strategy in one state (games with 3 actions).

    The other strategies come from ``base`` (default uniform); with ``symmetric=True``
    every agent plays the plotted strategy in that state (the symmetric subspace of a
    symmetric game). Arrows are the projection of the normalized TD error (or the step
    change) onto the simplex plane; fixed points and trajectories are overlaid.
    """
    import matplotlib.colors as mcolors

    if dyn.n_actions != 3:
        raise ParameterError(f"simplex plots need 3 actions; the game has {dyn.n_actions}")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 4.0), constrained_layout=True)
    i, s, _ = _coordinate(dyn, (agent, state, 0))
    base = dyn.uniform_strategy() if base is None else dyn.check_strategy(base, "base")
    n = int(points)
    eps = 0.5 / n
    bary = np.array([(a, b, n - a - b) for a in range(n + 1) for b in range(n + 1 - a)], dtype=float) / n
    bary = bary * (1 - 3 * eps) + eps  # keep off the boundary (ln X)
    Xs = np.repeat(base[None], len(bary), axis=0)
    who = range(dyn.n_agents) if symmetric else [i]
    for j in who:
        Xs[:, j, s, :] = bary
    D = _evaluate(dyn, Xs, arrows, p)[:, i, s, :]
    u, v = _ternary(D)  # the map is linear (corner a0 at the origin): displacements map to displacements
    px, py = _ternary(bary)
    speed = np.hypot(u, v)
    norm = mcolors.Normalize(0, speed.max() if speed.max() > 0 else 1)
    scale = speed.max() / (1.1 / n) if speed.max() > 0 else 1.0
    q = ax.quiver(px, py, u, v, speed, cmap=cmap, norm=norm, angles="xy", scale_units="xy", scale=scale,
                  width=0.006, zorder=2)
    q.set_gid("flow")
    corners = np.array([[0, 0], [1, 0], [0.5, _SQ3], [0, 0]])
    ax.plot(corners[:, 0], corners[:, 1], color="black", lw=1.2, zorder=1)
    for frac in (0.25, 0.5, 0.75):  # light grid lines parallel to the edges
        for k in range(3):
            e1 = np.zeros(3)
            e1[k] = frac
            a = e1.copy()
            a[(k + 1) % 3] = 1 - frac
            b = e1.copy()
            b[(k + 2) % 3] = 1 - frac
            (xa, ya), (xb, yb) = _ternary(a), _ternary(b)
            ax.plot([xa, xb], [ya, yb], color="0.85", lw=0.6, zorder=0)
    labels = dyn.actions
    off = 0.06
    ax.text(-off, -off, labels[0], ha="center", va="center", fontsize="large")
    ax.text(1 + off, -off, labels[1], ha="center", va="center", fontsize="large")
    ax.text(0.5, _SQ3 + off, labels[2], ha="center", va="center", fontsize="large")
    project = lambda X: _ternary(X[..., i, s, :])  # noqa: E731
    if fixed_points is not None:
        _draw_fixed_points([ax], [project], fixed_points)
    if trajectories is not None:
        _draw_trajectories([ax], [project], _trajectory_list(trajectories), colors=traj_colors)
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.12, _SQ3 + 0.12)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is None:
        ag = dyn.agents[i]
        title = (f"agent {ag}" if ag.isdigit() else ag) + (
            f", state {dyn.observations[s]}" if dyn.n_obs > 1 else "") + (" (symmetric)" if symmetric else "")
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(q, ax=ax, shrink=0.8, pad=0.02).set_label(
            "|normalized TD error|" if arrows == "tderror" else "|strategy change per step|")
    if legend and (fixed_points is not None or trajectories is not None):
        _legend(ax, loc="upper right")
    return ax
