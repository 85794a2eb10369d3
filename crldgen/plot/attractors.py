"""Basins of attraction and convergence times."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError
from ._common import _handles, _legend, _projector, _pyplot, coordinate_label
from .overlays import _draw_fixed_points, _draw_separatrix


# --------------------------------------------------------------------------- basins
def basins(result, *, ax=None, dyn=None, names: Sequence[str] | None = None, colors=None,
           xlabel: str | None = None, ylabel: str | None = None, fixed_points=None, separatrix=None,
           legend: bool = True, boundary: bool = True):
    """Basin image on a 2-d slice: one colour per attractor, basin boundaries outlined.

    Parameters
    ----------
    result : basin result (``.labels`` of shape ``(len(y_values), len(x_values))`` with
        attractor indices, -1 = not converged, -2 = not a strategy; ``.x_values``,
        ``.y_values``, ``.x``, ``.y``, ``.attractors``), or a tuple ``(xs, ys, labels)``
    dyn : Dynamics, optional (axis labels)
    names : legend names of the basins present, in attractor order (default: where the
        attractors lie on the slice and their type)
    colors : one colour per attractor index
    fixed_points, separatrix : overlays, as in :func:`flow`
    """
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch

    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.4, 4.0), constrained_layout=True)
    if isinstance(result, tuple):
        xs, ys, lab = result
        cx = cy = None
        attractors = None
    else:
        xs, ys, lab = result["x_values"], result["y_values"], result["labels"]
        cx, cy = result.get("x"), result.get("y")
        attractors = result.get("attractors")
    xs, ys, lab = np.asarray(xs, float), np.asarray(ys, float), np.asarray(lab).astype(int)
    if lab.shape != (len(ys), len(xs)):
        raise ParameterError(f"basin labels have shape {lab.shape}; expected (len(ys), len(xs)) = "
                             f"{(len(ys), len(xs))}")
    ids = sorted(set(np.unique(lab).tolist()) - {-1, -2})
    palette = colors or ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
    cols = ["white", "0.8"] + [palette[v % len(palette)] for v in ids]  # colour by attractor index
    idx = np.where(lab == -2, 0, 1)
    for k, v in enumerate(ids):
        idx[lab == v] = k + 2
    dx = (xs[-1] - xs[0]) / (len(xs) - 1) / 2 if len(xs) > 1 else 0.5
    dy = (ys[-1] - ys[0]) / (len(ys) - 1) / 2 if len(ys) > 1 else 0.5
    im = ax.imshow(idx, origin="lower", extent=(xs[0] - dx, xs[-1] + dx, ys[0] - dy, ys[-1] + dy),
                   cmap=mcolors.ListedColormap(cols), vmin=-0.5, vmax=len(cols) - 0.5, interpolation="nearest",
                   alpha=0.8, aspect="equal")
    im.set_gid("basins")
    if boundary and len(ids) > 1:
        ax.contour(xs, ys, idx, levels=np.arange(2.5, len(ids) + 1.5), colors="black", linewidths=1.0)
    if names is None:
        names = [_attractor_name(attractors, v, cx, cy, dyn) for v in ids]
    handles = [Patch(facecolor=cols[k + 2], edgecolor="black", alpha=0.8, label=names[k]) for k in range(len(ids))]
    if np.any(lab == -1):
        handles.append(Patch(facecolor="0.8", edgecolor="black", label="not converged"))
    pan = (tuple(cx), tuple(cy)) if cx is not None and cy is not None else None
    if dyn is not None and pan is not None:
        xlabel = xlabel or coordinate_label(dyn, pan[0])
        ylabel = ylabel or coordinate_label(dyn, pan[1])
    if fixed_points is not None and pan is not None:
        _draw_fixed_points([ax], [_projector(*pan)], fixed_points)
    if separatrix is not None and pan is not None:
        _draw_separatrix(ax, separatrix, *pan)
    ax.set_xlim(min(0, xs[0] - dx) - 0.02, max(1, xs[-1] + dx) + 0.02)
    ax.set_ylim(min(0, ys[0] - dy) - 0.02, max(1, ys[-1] + dy) + 0.02)
    ax.set_xlabel(xlabel or "x")
    ax.set_ylabel(ylabel or "y")
    if legend:
        extra = list(_handles([ax]).values())
        ax.legend(handles=handles + extra, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0, title="basin of", title_fontsize="small")
    return ax


def _attractor_name(attractors, v, cx, cy, dyn) -> str:
    name = f"attractor {v}"
    if attractors is None or not 0 <= v < len(attractors):
        return name
    a = attractors[v]
    X = np.asarray(a["X"] if isinstance(a, dict) else getattr(a, "X", a), dtype=float)
    if X.ndim == 3 and cx is not None and cy is not None:
        name = f"({X[tuple(cx)]:.2f}, {X[tuple(cy)]:.2f})"
    fp = a.get("fixed_point") if isinstance(a, dict) else None
    if fp is not None and "type" in fp:
        name += f", {fp['type']}"
    return name


# --------------------------------------------------------- critical slowing down
def convergence_times(values, lengths, outcome=None, *, ax=None, colors=None, names=None, critical=None,
                      xlabel: str = "initial value", ylabel: str = "time steps to convergence", lw: float = 2.0):
    """Time to convergence against an initial condition (critical slowing down, chapter Fig. 7).

    ``outcome`` (one label per value, e.g. the final cooperation level rounded) splits
    the curve into one colour per outcome; ``critical`` draws a dashed vertical line.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 3.6), constrained_layout=True)
    values = np.asarray(values, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    order = np.argsort(values)
    values, lengths = values[order], lengths[order]
    outcome = np.zeros(len(values), dtype=int) if outcome is None else np.asarray(outcome)[order]
    kinds = list(dict.fromkeys(outcome.tolist()))
    palette = colors or ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for k, o in enumerate(kinds):
        m = outcome == o
        lab = names[k] if names is not None else (None if len(kinds) == 1 else str(o))
        col = palette[k % len(palette)] if not isinstance(colors, dict) else colors[o]
        # break the line where the outcome changes so segments do not bridge other outcomes
        pos = np.flatnonzero(m)
        for seg in np.split(pos, np.flatnonzero(np.diff(pos) > 1) + 1):
            ln, = ax.plot(values[seg], lengths[seg], "-", color=col, lw=lw, alpha=0.85, label=lab)
            lab = None
            ln.set_gid("convergence-time")
    if critical is not None:
        ax.axvline(critical, color="0.3", ls="--", lw=1.0, label="critical point")
    ax.set_ylim(0, None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, lw=0.3, color="0.8")
    _legend(ax, loc="best")
    return ax
