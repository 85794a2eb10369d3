"""Fixed points and separatrices drawn over strategy-space panels."""

from __future__ import annotations


import numpy as np

from ._common import (BOUNDARY_STYLE, GID_BOUNDARY, GID_NEUTRAL, GID_SEPARATRIX, _FP_KINDS, _as_axes_list,
                      _figure_legend, _legend, _projector, panels)


# ------------------------------------------------------------------ fixed points
def _fixed_point_records(points) -> list[tuple[np.ndarray, bool | None, str | None]]:
    """``[(X, stable or None, kind or None)]`` from a result, records, arrays or pairs."""
    if hasattr(points, "points"):
        points = points.points
    if isinstance(points, np.ndarray) and points.ndim == 3:
        points = [points]
    out = []
    for rec in points:
        if hasattr(rec, "X"):
            st = getattr(rec, "stable", None)
            kind = getattr(rec, "kind", None)
            out.append((np.asarray(rec.X, dtype=float), None if st is None else bool(st), kind))
        elif isinstance(rec, tuple) and len(rec) == 2:
            out.append((np.asarray(rec[0], dtype=float), None if rec[1] is None else bool(rec[1]), None))
        else:
            out.append((np.asarray(rec, dtype=float), None, None))
    return out


def _draw_fixed_points(axes, projections, points, label: bool = True):
    """Mark ``points`` on every axes; ``projections[k]`` maps strategies to that axes' coordinates.

    Stable points are filled, others open. Stable points on the boundary of the simplex
    (attractors reached only in the limit, e.g. under actor-critic) get an extra square
    (gid ``fixed-points-boundary``); a neutral set of fixed points whose free blocks
    move a panel's coordinate is drawn as the segment or region it spans there (gid
    ``neutral-sets``), stable sets solid, others dashed.
    """
    recs = _fixed_point_records(points)
    raw = points.points if hasattr(points, "points") else points
    records = [r for r in (raw if isinstance(raw, (list, tuple)) else []) if hasattr(r, "X")]
    for ax, project in zip(axes, projections):
        for st, gid, style, lab in _FP_KINDS:
            P = [X for X, stv, _ in recs if stv is st]
            if P:
                ln, = ax.plot(*project(np.array(P)), label=lab if label else None, **style)
                ln.set_gid(gid)
        bnd = [np.asarray(r.X, dtype=float) for r in records if r.get("on_boundary") and r.get("stable")]
        if bnd:
            ln, = ax.plot(*project(np.array(bnd)), label="boundary attractor" if label else None,
                          **BOUNDARY_STYLE)
            ln.set_gid(GID_BOUNDARY)
        for r in records:
            if r.get("free_blocks"):
                _draw_neutral_set(ax, project, r, label)


def _draw_neutral_set(ax, project, rec, label: bool):
    """The span of a neutral set (free blocks mix their actions freely) on one panel."""
    X = np.asarray(rec.X, dtype=float)
    # probe which panel coordinates move along the set: put each free block at its pure corners
    corners = [X]
    for i, o, acts in rec.free_blocks:
        new = []
        for Y in corners:
            for a in acts:
                Z = Y.copy()
                Z[i, o] = 0.0
                Z[i, o, a] = 1.0
                new.append(Z)
        corners = new
        if len(corners) > 64:
            break
    px, py = project(np.array(corners))
    x0, y0 = project(X[None])
    style = dict(color="black", lw=2.0, alpha=0.6, ls="-" if rec.get("stable") else "--", zorder=5)
    lab = (("stable" if rec.get("stable") else "unstable") + " neutral set") if label else None
    if np.ptp(px) < 1e-12 and np.ptp(py) < 1e-12:
        return  # the set projects to a point: the marker says it all
    if np.ptp(px) < 1e-12 or np.ptp(py) < 1e-12:
        xs = [px.min(), px.max()] if np.ptp(px) >= 1e-12 else [float(x0[0])] * 2
        ys = [py.min(), py.max()] if np.ptp(py) >= 1e-12 else [float(y0[0])] * 2
        ln, = ax.plot(xs, ys, label=lab, **style)
        ln.set_gid(GID_NEUTRAL)
        return
    from matplotlib.patches import Polygon

    pts = np.unique(np.round(np.column_stack([px, py]), 12), axis=0)
    c = pts.mean(0)
    order = np.argsort(np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0]))
    patch = Polygon(pts[order], closed=True, facecolor="0.5", alpha=0.12, edgecolor="black",
                    ls=style["ls"], label=lab, zorder=4)
    patch.set_gid(GID_NEUTRAL)
    ax.add_patch(patch)


def fixed_points(points, x, y, dyn=None, *, axes=None, legend: bool = True):
    """Mark fixed points (filled: stable, open: unstable or saddle) on the panels of ``x, y``.

    ``points`` is a fixed-point result (``.points`` records with ``.X`` and ``.stable``),
    a list of such records, of ``(X, stable)`` pairs or of strategies. Coordinates must
    be indices unless ``dyn`` is given for labels.
    """
    pans = panels(dyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    _draw_fixed_points(axes, [_projector(*pan) for pan in pans], points)
    if legend:
        _figure_legend(axes)
    return axes


# --------------------------------------------------------------------- separatrix
def _curves(sep) -> list[np.ndarray]:
    """Strategy curves ``(n, N, Q, M)`` or 2-d curves ``(n, 2)`` from results or arrays.

    Accepts a manifold result (``.branches``, each with ``.X``), an object with ``.X``,
    an array, or a list of these.
    """
    if hasattr(sep, "branches"):
        sep = sep.branches
    elif hasattr(sep, "X"):
        sep = [sep.X]
    if isinstance(sep, np.ndarray) and sep.ndim in (2, 4):
        sep = [sep]
    out = []
    for c in sep:
        if hasattr(c, "X"):
            c = c.X
        out.append(np.asarray(c, dtype=float))
    return out


def _draw_separatrix(ax, sep, cx, cy, label: str = "separatrix", **kw):
    style = dict(color="black", lw=1.8, ls="--", zorder=5)
    style.update(kw)
    for k, c in enumerate(_curves(sep)):
        if c.ndim == 4:
            xs, ys = _projector(cx, cy)(c)
        else:
            xs, ys = c[:, 0], c[:, 1]
        ln, = ax.plot(xs, ys, label=label if k == 0 else None, **style)
        ln.set_gid(GID_SEPARATRIX)


def separatrix(sep, x, y, dyn=None, *, axes=None, legend: bool = False, **kw):
    """Draw separatrix curve(s) (dashed) on the panels of ``x, y``; returns the axes."""
    pans = panels(dyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    for ax, (cx, cy) in zip(axes, pans):
        _draw_separatrix(ax, sep, cx, cy, **kw)
    if legend:
        _legend(axes[-1])
    return axes
