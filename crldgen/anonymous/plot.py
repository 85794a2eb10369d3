"""Plots of anonymous dynamics on the symmetric subspace (matplotlib, imported lazily).

* :func:`flow` -- arrows of the learning step (or the normalized TD error) in two
  coordinates ``x[s, a]`` of the symmetric strategy, the others fixed at ``base``;
  symmetric fixed points marked by their full-space stability (filled: stable; open
  square: stable on the subspace but unstable to symmetry breaking; open circle: unstable).
* :func:`branch` -- a continuation branch ``x[s, a]`` against the parameter, solid where
  stable in the full n-agent space, dashed where unstable on the subspace, dotted where
  only the symmetry-breaking modes are unstable.

Both take ``ax`` and return it; save with :func:`crldgen.plot.save`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(4.2, 3.8), constrained_layout=True)[1]


def _coord(dyn, c) -> tuple[int, int]:
    try:
        s, a = c
        s = dyn.states.index(s) if isinstance(s, str) else int(s)
        a = dyn.actions.index(a) if isinstance(a, str) else int(a)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"coordinate {c!r} must be (state, action) by label or index, states "
                             f"{dyn.states}, actions {dyn.actions}") from exc
    if not (0 <= s < dyn.n_states and 0 <= a < dyn.n_actions - 1):
        raise ParameterError(f"coordinate {c!r}: state index in [0, {dyn.n_states}), action one of the first "
                             f"M-1 = {dyn.n_actions - 1} actions (the last is the remainder)")
    return s, a


def _place(x, s, a, value):
    """Set x[s, a] = value and rescale the other actions of state s to keep the row on the simplex."""
    x = x.copy()
    rest = 1.0 - x[s, a]
    others = [b for b in range(x.shape[1]) if b != a]
    x[s, others] = (x[s, others] / rest if rest > 0 else 1.0 / len(others)) * (1.0 - value)
    x[s, a] = value
    return x


def flow(dyn, x=("g", "c"), y=("p", "c"), points: int = 15, *, base=None, arrows: str = "step",
         fixed_points=None, ax=None, **p):
    """Quiver plot of the anonymous dynamics in the plane of two strategy entries.

    Parameters
    ----------
    dyn : AnonymousDynamics
    x, y : (state, action)
        The coordinates on the axes (labels or indices; not the last action).
    points : grid points per axis.
    base : (Z, M) strategy for the other coordinates (default uniform).
    arrows : ``'step'`` (x' - x) or ``'tderror'`` (the normalized TD error of the two entries).
    fixed_points : list of :class:`SymmetricFixedPoint`, optional (marked by full-space stability).
    **p : overrides (``n``, learner and game parameters).
    """
    ax = _axes(ax)
    (sx, ax_), (sy, ay) = _coord(dyn, x), _coord(dyn, y)
    base = dyn.uniform_strategy() if base is None else dyn.check_strategy(base)
    grid = np.linspace(0.02, 0.98, points)
    U, V = np.zeros((points, points)), np.zeros((points, points))
    for i, gy in enumerate(grid):
        for j, gx in enumerate(grid):
            pt = _place(_place(base, sx, ax_, gx), sy, ay, gy)
            if arrows == "step":
                d = dyn.step(pt, **p) - pt
            elif arrows == "tderror":
                d = dyn.tderror(pt, normalize=True, **p)
            else:
                raise ParameterError(f"arrows must be 'step' or 'tderror', got {arrows!r}")
            U[i, j], V[i, j] = d[sx, ax_], d[sy, ay]
    X, Y = np.meshgrid(grid, grid)
    ax.quiver(X, Y, U, V, angles="xy", color="0.35", gid="flow")
    for fp in fixed_points or []:
        st = fp.stability
        style = dict(marker="o", ms=8, color="k", ls="none")
        if not st.stable:
            style.update(mfc="white", marker="s" if st.stable_symmetric else "o")
        ax.plot([fp.x[sx, ax_]], [fp.x[sy, ay]], gid=f"fixed_point_{st.type.replace(' ', '_')}", **style)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"x[{dyn.states[sx]}, {dyn.actions[ax_]}]")
    ax.set_ylabel(f"x[{dyn.states[sy]}, {dyn.actions[ay]}]")
    n = dyn.params(**p)[0]
    ax.set_title(f"n = {n}")
    return ax


def branch(dyn, br, observable=("p", "c"), *, ax=None):
    """Plot a continuation :class:`AnonymousBranch`: ``x[s, a]`` against the parameter, styled by stability."""
    ax = _axes(ax)
    s, a = _coord(dyn, observable)
    v, y = np.asarray(br.values, dtype=float), br.x[:, s, a]
    kind = np.where(br.stable, 0, np.where(br.rho_symmetric < 1, 1, 2))
    styles = {0: ("-", "stable"), 1: (":", "unstable to symmetry breaking"), 2: ("--", "unstable")}
    for k, (ls, label) in styles.items():
        yk = np.where(kind == k, y, np.nan)
        # join each piece to its neighbour so that the pieces meet
        for j in range(1, len(yk)):
            if kind[j] == k and kind[j - 1] != k:
                yk[j - 1] = y[j - 1]
        if np.isfinite(yk).any():
            ax.plot(v, yk, ls, color="k", label=label, gid=f"branch_{label.replace(' ', '_')}")
    ax.set_xlabel(br.param)
    ax.set_ylabel(f"x[{dyn.states[s]}, {dyn.actions[a]}]")
    ax.legend(frameon=False, fontsize="small")
    return ax
