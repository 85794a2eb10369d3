"""Flow fields of the learning dynamics in strategy space (arrows, streamlines)."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from ..errors import ParameterError, StrategyError
from ..ragged import layout_of
from ._common import (FlowField, TRAJECTORY_COLORS, _arrow_pad, _as_axes_list, _figure_legend, _panel_title,
                      _projector, _quiver_scale, _style_unit_square, _trajectory_list, coordinate_label, panels)
from .overlays import _draw_fixed_points, _draw_separatrix
from .trajectory import _draw_trajectories


def _place(base: np.ndarray, coords, values: np.ndarray, counts=None) -> tuple[np.ndarray, np.ndarray]:
    """Strategies ``base`` with ``X[coords[k]] = values[:, k]``; returns ``(Xs, valid)``.

    ``base`` is ``(N, Q, M)`` or ``(P, N, Q, M)``; other actions of a changed row are
    rescaled in proportion to the base row. ``counts``: the agents' action counts ``M_i``
    of a heterogeneous game (``base`` then is NaN-padded, see :meth:`crldgen.ragged.Layout.padded`).
    """
    P = values.shape[0]
    Xs = np.array(np.broadcast_to(base, (P,) + base.shape[-3:]), dtype=float)
    valid = np.ones(P, dtype=bool)
    M = Xs.shape[-1]
    rows: dict = {}
    for k, (i, s, a) in enumerate(coords):
        rows.setdefault((i, s), []).append((a, k))
    for (i, s), items in rows.items():
        acts = [a for a, _ in items]
        vals = values[:, [k for _, k in items]]
        rest = [b for b in range(M if counts is None else counts[i]) if b not in acts]
        remain = 1.0 - vals.sum(axis=1)
        w = Xs[:, i, s, rest]
        tot = w.sum(axis=1, keepdims=True)
        w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / len(rest))
        Xs[:, i, s, acts] = vals
        Xs[:, i, s, rest] = remain[:, None] * w
        valid &= remain > 1e-9
    return Xs, valid


def _evaluate(dyn, Xs: np.ndarray, arrows: str, p: dict) -> np.ndarray:
    """Normalized TD errors (``arrows='tderror'``) or step changes at every strategy of ``Xs``."""
    if arrows not in ("tderror", "step"):
        raise ParameterError(f"arrows must be 'tderror' or 'step', got {arrows!r}")
    K = Xs.shape[0]
    if K == 0:
        return np.empty_like(Xs)
    lay = layout_of(dyn)
    real = Xs[..., lay.mask] if lay is not None else Xs  # the entries that exist (heterogeneous games: no padding)
    if not np.all(np.isfinite(real)) or np.any(real <= 0):
        raise StrategyError("flow strategies must be finite and strictly positive (interior of the simplex)")
    sums = Xs.sum(-1) if lay is None else np.nansum(Xs, -1)[..., lay.mask.any(-1)]
    if np.any(np.abs(sums - 1.0) > 1e-8):
        raise StrategyError("flow strategies must sum to 1 over actions")
    alpha, beta, gamma, theta = dyn.params(**p)
    flat = np.ascontiguousarray(real.reshape(K, -1))
    out = np.empty_like(flat)
    mod = dyn.module
    # one compiled call over the points when the module has the row kernels (the same arithmetic);
    # not while the engine still serves a module whose own kernels compile in the background
    if not getattr(mod, "compiled", True):
        mod = SimpleNamespace(tderror=mod.tderror, strategy_step=mod.strategy_step)
    if arrows == "tderror":
        rows = getattr(mod, "tderror_rows", None)
        if rows is not None and K > 1:
            rows(flat, theta, alpha, beta, gamma, out)
        else:
            for k in range(K):
                mod.tderror(flat[k], theta, alpha, beta, gamma, out[k])
        out = out.reshape(Xs.shape) if lay is None else lay.padded(out)
        return out - (out.mean(-1, keepdims=True) if lay is None else np.nanmean(out, -1, keepdims=True))
    rows = getattr(mod, "strategy_step_rows", None)
    if rows is not None and K > 1:
        rows(flat, theta, alpha, beta, gamma, 1.0, out)
    else:
        for k in range(K):
            mod.strategy_step(flat[k], theta, alpha, beta, gamma, 1.0, out[k])
    return (out - flat).reshape(Xs.shape) if lay is None else lay.padded(out - flat)


def _grid(points, eps: float = 1e-2) -> np.ndarray:
    if np.ndim(points) == 0:
        from .._validate import check_int

        n = check_int("points", points, 2)  # grid points per axis
        return np.linspace(eps, 1 - eps, n)
    from .._validate import check_finite_array

    g = check_finite_array("points", points).ravel()
    if g.size < 2 or np.any((g <= 0) | (g >= 1)):
        raise ParameterError("grid points must lie strictly between 0 and 1 (at least two of them)")
    return g


def flow_field(dyn, x, y, points=9, *, arrows: str = "tderror", samples: int = 0, base=None, rng=None,
               **p) -> list[FlowField]:
    """Flow arrows of every panel of the projection ``x, y`` (see the module docstring).

    Parameters
    ----------
    dyn : Dynamics
    x, y : projection specifications
    points : int or array
        Grid points per axis (int: ``linspace(0.01, 0.99, points)``, as in the chapter).
    arrows : {'tderror', 'step'}
        Normalized TD error (default) or the change of one learning step.
    samples : int
        0: hidden coordinates from ``base``; ``n > 0``: from ``n`` random joint strategies.
    base : array (N, Q, M), optional
        Base strategy for the hidden coordinates (default uniform).
    rng : seed or Generator for the samples.
    **p : parameter overrides (``gamma=0.8``, ``qc=0.3`` ...).
    """
    xs, ys = _grid(points), _grid(points)
    base = dyn.uniform_strategy() if base is None else dyn.check_strategy(base, "base")
    rng = np.random.default_rng(rng)
    n_draw = int(samples)
    lay = layout_of(dyn)
    if lay is not None:  # heterogeneous game: NaN-padded (N, Q, M) views, the padding never evaluated
        base = lay.padded(lay.flatten(base))
        bases = (base[None] if n_draw <= 0 else
                 np.stack([lay.padded(lay.flatten(lay.random_strategy(rng))) for _ in range(n_draw)]))
    else:
        bases = (base[None] if n_draw <= 0 else
                 rng.dirichlet(np.ones(dyn.n_actions), size=(n_draw, dyn.n_agents, dyn.n_obs)))
    GX, GY = np.meshgrid(xs, ys)
    vals = np.column_stack([GX.ravel(), GY.ravel()])
    out = []
    for cx, cy in panels(dyn, x, y):
        U = np.full((len(bases),) + GX.shape, np.nan)
        V = np.full_like(U, np.nan)
        for k, b in enumerate(bases):
            Xs, valid = _place(b, [cx, cy], vals, None if lay is None else lay.action_counts)
            D = _evaluate(dyn, Xs[valid], arrows, p)
            u, v = np.full(len(vals), np.nan), np.full(len(vals), np.nan)
            u[valid], v[valid] = D[(slice(None),) + cx], D[(slice(None),) + cy]
            U[k], V[k] = u.reshape(GX.shape), v.reshape(GX.shape)
        out.append(FlowField((cx, cy), xs, ys, U, V, arrows))
    return out


# ---------------------------------------------------------------------- flow plot
def flow(dyn, x, y, points=None, *, axes=None, kind: str = "quiver", arrows: str = "tderror", samples: int = 8,
         base=None, rng=0, cmap: str = "viridis", colorbar: bool = True, fixed_points=None, separatrix=None,
         trajectories=None, trajectory_colors=None, titles: Sequence[str] | None = None, xlabel: str | None = None,
         ylabel: str | None = None, legend: bool = True, vmax: float | None = None, **p):
    """Flow plot of the learning dynamics, one panel per entry of the projection.

    Parameters
    ----------
    dyn : Dynamics
    x, y : projection, e.g. ``([0], ['g', 'p'], ['c'])`` and ``([1], ['g', 'p'], ['c'])``
    points : int or array
        Grid points per axis (default 9 for arrows, 25 for streamlines).
    axes : Axes or sequence of Axes (one per panel), optional
    kind : {'quiver', 'samples', 'stream'}
        Plain arrows with the hidden coordinates from ``base``; arrows averaged over
        ``samples`` random draws of the hidden coordinates (the single draws faint
        behind them); or streamlines.
    arrows : {'tderror', 'step'}
    cmap : colour map of the arrow length; ``colorbar`` adds a colour bar for it.
    fixed_points : fixed-point result, or list of strategies / ``(X, stable)`` pairs / records
    separatrix : strategy curve(s) ``(n, N, Q, M)`` or separatrix result(s), drawn dashed
    trajectories : trajectory result(s) or arrays, with start and end markers
    trajectory_colors : one colour per trajectory (default: a qualitative palette), or
        ``'time'`` to colour them by time
    titles, xlabel, ylabel : override the automatic labels
    vmax : top of the arrow-length colour scale (default: the longest arrow); give the
        same value to several flow plots to compare them under one colour bar
    **p : parameter overrides for this plot (``gamma=0.8`` ...)

    Returns
    -------
    list of Axes
    """
    import matplotlib.colors as mcolors

    if kind not in ("quiver", "samples", "stream"):
        raise ParameterError(f"kind must be 'quiver', 'samples' or 'stream', got {kind!r}")
    pans = panels(dyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    if points is None:
        points = 25 if kind == "stream" else 9
    fields = flow_field(dyn, x, y, points, arrows=arrows, samples=samples if kind == "samples" else 0,
                        base=base, rng=rng, **p)
    speeds = np.concatenate([f.speed[np.isfinite(f.speed)] for f in fields] or [np.zeros(1)])
    if vmax is None:
        vmax = float(speeds.max()) if speeds.size and speeds.max() > 0 else 1.0
    elif not (np.isfinite(vmax) and vmax > 0):
        raise ParameterError(f"vmax must be a finite number > 0, got {vmax!r}")
    norm = mcolors.Normalize(vmin=0.0, vmax=float(vmax))
    mappable = None
    for k, (ax, f) in enumerate(zip(axes, fields)):
        GX, GY = np.meshgrid(f.xs, f.ys)
        if kind == "stream":
            u, v = np.ma.masked_invalid(f.u), np.ma.masked_invalid(f.v)
            sp = np.ma.masked_invalid(f.speed)
            lw = 0.6 + 1.6 * (sp / (norm.vmax or 1.0))
            st = ax.streamplot(f.xs, f.ys, u, v, color=sp.filled(0.0), cmap=cmap, norm=norm, density=1.1,
                               linewidth=lw.filled(0.6), arrowsize=1.0)
            mappable = st.lines
        else:
            if kind == "samples":
                scale = _quiver_scale(f)
                for s in range(f.U.shape[0]):
                    ax.quiver(GX, GY, f.U[s], f.V[s], color="0.75", alpha=0.6, angles="xy", scale_units="xy",
                              scale=scale, width=0.004, zorder=1, pivot="mid")
                q = ax.quiver(GX, GY, f.u, f.v, f.speed, cmap=cmap, norm=norm, angles="xy", scale_units="xy",
                              scale=scale, width=0.007, zorder=2, pivot="mid")
            else:
                q = ax.quiver(GX, GY, f.u, f.v, f.speed, cmap=cmap, norm=norm, angles="xy", scale_units="xy",
                              scale=_quiver_scale(f), width=0.007, zorder=2, pivot="mid")
            q.set_gid("flow")
            mappable = q
        # arrows are centred on their grid point and at most ARROW_CELLS grid cells long:
        # the frame leaves room for the half arrows at the outermost points
        _style_unit_square(ax, pad=_arrow_pad(f) if kind != "stream" else None)
        ax.set_xlabel(xlabel if xlabel is not None else coordinate_label(dyn, f.coords[0]))
        ax.set_ylabel(ylabel if ylabel is not None else coordinate_label(dyn, f.coords[1]))
        title = titles[k] if titles is not None else _panel_title(dyn, pans, k)
        if title:
            ax.set_title(title)
    if fixed_points is not None:
        _draw_fixed_points(axes, [_projector(*pan) for pan in pans], fixed_points)
    if separatrix is not None:
        for ax, (cx, cy) in zip(axes, pans):
            _draw_separatrix(ax, separatrix, cx, cy)
    if trajectories is not None:
        trajs = _trajectory_list(trajectories)
        tc = None if trajectory_colors == "time" else (trajectory_colors or TRAJECTORY_COLORS)
        _draw_trajectories(axes, [_projector(*pan) for pan in pans], trajs, colors=tc)
    if colorbar and mappable is not None:
        cb = axes[0].figure.colorbar(mappable, ax=axes, shrink=0.9, pad=0.02)
        cb.set_label("|normalized TD error|" if arrows == "tderror" else "|strategy change per step|")
    if legend and (fixed_points is not None or separatrix is not None or trajectories is not None):
        _figure_legend(axes)
    return axes
