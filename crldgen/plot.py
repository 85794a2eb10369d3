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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .errors import ParameterError, StrategyError

__all__ = [
    "FlowField", "basins", "bifurcation", "convergence_times", "eigenvalues", "fixed_points", "flow", "flow_field",
    "hysteresis", "legend", "panels", "save", "separatrix", "simplex", "time_series", "trajectories",
]

#: gid of the artists drawn by this module (tests and users can find them by gid)
GID_STABLE, GID_UNSTABLE, GID_UNKNOWN = "fixed-points-stable", "fixed-points-unstable", "fixed-points"
GID_START, GID_END_CONVERGED, GID_END_OPEN = "trajectory-start", "trajectory-end-converged", "trajectory-end"
GID_SEPARATRIX = "separatrix"
GID_BOUNDARY, GID_NEUTRAL = "fixed-points-boundary", "neutral-sets"

STABLE_STYLE = dict(marker="o", ms=8, mfc="black", mec="black", mew=1.2, ls="none", zorder=7)
UNSTABLE_STYLE = dict(marker="o", ms=8, mfc="white", mec="black", mew=1.5, ls="none", zorder=6)
UNKNOWN_STYLE = dict(marker="D", ms=6, mfc="0.6", mec="black", mew=1.0, ls="none", zorder=6)
BOUNDARY_STYLE = dict(marker="s", ms=13, mfc="none", mec="black", mew=1.2, ls="none", zorder=7)
TRAJECTORY_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")
#: drawing order: stable points last, on top of unstable ones at the same projected place
_FP_KINDS = ((None, GID_UNKNOWN, UNKNOWN_STYLE, "fixed point"),
             (False, GID_UNSTABLE, UNSTABLE_STYLE, "unstable fixed point"),
             (True, GID_STABLE, STABLE_STYLE, "stable fixed point"))


# --------------------------------------------------------------------------- helpers
def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_axes(n: int, ncols: int | None = None, panel_size=(3.6, 3.3), **kw):
    plt = _pyplot()
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             squeeze=False, constrained_layout=True, **kw)
    for ax in axes.flat[n:]:
        ax.remove()
    return list(axes.flat[:n])


def _as_axes_list(axes, n: int, **kw) -> list:
    if axes is None:
        return _new_axes(n, **kw)
    if hasattr(axes, "plot"):  # one Axes
        axes = [axes]
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) != n:
        raise ParameterError(f"got {len(axes)} axes for {n} panels; pass one Axes per panel (or axes=None)")
    return axes


def _index(labels: Sequence[str] | None, value, what: str) -> int:
    """Index of ``value`` (an int, or one of ``labels``; ``labels=None`` accepts indices only)."""
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{what} {value!r} must be an index or a label, not a boolean")
    if isinstance(value, (int, np.integer)):
        k = int(value)
        if k < 0 or (labels is not None and k >= len(labels)):
            n = "" if labels is None else f"; the game has {len(labels)} {what}s {list(labels)}"
            raise ParameterError(f"{what} index {k} is out of range{n}")
        return k
    if isinstance(value, str) and labels is not None:
        if value in labels:
            return list(labels).index(value)
        raise ParameterError(f"unknown {what} label {value!r}; the game's {what}s are {list(labels)}")
    raise ParameterError(f"{what} {value!r} must be an index" + ("" if labels is None else " or a label")
                         + ("" if labels is not None else " (pass dyn=... to use the game's labels)"))


def _dims(dyn):
    if dyn is None:
        return (("agent", None), ("state", None), ("action", None))
    obs = "state" if dyn.fully_observed else "observation"
    return (("agent", dyn.agents), (obs, dyn.observations), ("action", dyn.actions))


def _coordinate(dyn, c) -> tuple[int, int, int]:
    """One ``(agent, state, action)`` coordinate as indices."""
    if len(c) != 3:
        raise ParameterError(f"a coordinate is (agent, state, action); got {c!r}")
    return tuple(_index(labels, v, what) for (what, labels), v in zip(_dims(dyn), c))


def panels(dyn, x, y) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """The panels of a projection: ``[((i, s, a), (j, t, b)), ...]`` (see the module docstring).

    ``dyn`` supplies the labels and ranges; with ``dyn=None`` entries must be indices.
    """
    specs = []
    for name, spec in (("x", x), ("y", y)):
        if isinstance(spec, (str, bytes)) or len(spec) != 3:
            raise ParameterError(f"{name} must be (agent, state, action), each an entry or a list; got {spec!r}")
        specs.append([list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v] for v in spec])
    lengths = {len(v) for s in specs for v in s if len(v) != 1}
    if any(len(v) == 0 for s in specs for v in s):
        raise ParameterError(f"empty list in the projection x={x!r}, y={y!r}")
    if len(lengths) > 1:
        raise ParameterError(
            f"the lists in x={x!r}, y={y!r} have different lengths {sorted(lengths)}; lists longer than one "
            "entry give one panel each and must have the same length")
    n = lengths.pop() if lengths else 1
    out = []
    for k in range(n):
        cx, cy = ([v[k] if len(v) > 1 else v[0] for v in s] for s in specs)
        cx, cy = _coordinate(dyn, cx), _coordinate(dyn, cy)
        if cx == cy:
            raise ParameterError(f"panel {k}: x and y are the same coordinate {cx}")
        if cx[:2] == cy[:2] and dyn is not None and dyn.n_actions < 3:
            raise ParameterError(
                f"panel {k}: x and y are two actions of the same agent and state {cx[:2]}; with "
                f"{dyn.n_actions} actions they are not independent")
        out.append((cx, cy))
    return out


def coordinate_label(dyn, c) -> str:
    """Axis label of coordinate ``(agent, state, action)`` from the game's labels."""
    i, s, a = _coordinate(dyn, c)
    agent = dyn.agents[i]
    agent = f"agent {agent}" if agent.isdigit() else agent
    cond = "" if len(dyn.observations) == 1 else f" | {dyn.observations[s]}"
    return f"{agent}: P({dyn.actions[a]}{cond})"


def _panel_title(dyn, pans, k) -> str:
    """Title naming what varies across the panels (e.g. 'state p')."""
    if len(pans) == 1:
        return ""
    parts = []
    for d, (what, labels) in enumerate(_dims(dyn)):
        vals = {(cx[d], cy[d]) for cx, cy in pans}
        if len(vals) > 1:
            cx, cy = pans[k]
            lab = labels[cx[d]] if cx[d] == cy[d] else f"{labels[cx[d]]}/{labels[cy[d]]}"
            parts.append(f"{what} {lab}")
    return ", ".join(parts)


def _projector(cx, cy):
    """``X[..., N, Q, M] -> (X[..., cx], X[..., cy])`` for one panel."""
    return lambda X: (X[(Ellipsis,) + cx], X[(Ellipsis,) + cy])


def _as_trajectory(obj) -> tuple[np.ndarray, bool | None]:
    """``(X[t, i, s, a], converged or None)`` of a trajectory result or array."""
    if hasattr(obj, "X"):
        if obj.X is None:
            raise ParameterError("the trajectory kept only its final strategy (every=None); run it with every=1 "
                                 "(or every=k) to plot it")
        X = np.asarray(obj.X, dtype=float)
        conv = getattr(obj, "converged", None)
        return X, (None if conv is None else bool(conv))
    X = np.asarray(obj, dtype=float)
    if X.ndim != 4:
        raise ParameterError(f"a trajectory is an array X[t, agent, state, action] (4-d); got shape {X.shape}")
    return X, None


def _times(obj, n: int) -> np.ndarray:
    """Time steps of the rows of a trajectory (``every=k`` keeps every k-th strategy)."""
    t = getattr(obj, "times", None)
    return np.asarray(t) if t is not None and len(t) == n else np.arange(n)


def _trajectory_list(trajs) -> list:
    """A list of trajectories from one trajectory, a batch result or a sequence."""
    if isinstance(trajs, np.ndarray) and trajs.ndim == 4:
        return [trajs]
    if hasattr(trajs, "X") and (trajs.X is None or np.ndim(trajs.X) == 4):
        return [trajs]
    return list(trajs)  # a batch result iterates over its members


# --------------------------------------------------------------------- flow data
@dataclass
class FlowField:
    """Arrows of one panel of a flow plot.

    Attributes
    ----------
    coords : ((i, s, a), (j, t, b)) the x and y coordinates
    xs, ys : grid values along x and y
    U, V : arrays ``(samples, len(ys), len(xs))`` of arrow components (NaN off the simplex)
    arrows : 'tderror' or 'step'
    """

    coords: tuple
    xs: np.ndarray
    ys: np.ndarray
    U: np.ndarray
    V: np.ndarray
    arrows: str

    @property
    def u(self) -> np.ndarray:
        """Arrow x components averaged over samples (shape ``(len(ys), len(xs))``)."""
        return _nanmean0(self.U)

    @property
    def v(self) -> np.ndarray:
        return _nanmean0(self.V)

    @property
    def speed(self) -> np.ndarray:
        return np.hypot(self.u, self.v)


def _nanmean0(A):
    with np.errstate(invalid="ignore"):
        n = np.sum(np.isfinite(A), axis=0)
        s = np.nansum(A, axis=0)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _place(base: np.ndarray, coords, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strategies ``base`` with ``X[coords[k]] = values[:, k]``; returns ``(Xs, valid)``.

    ``base`` is ``(N, Q, M)`` or ``(P, N, Q, M)``; other actions of a changed row are
    rescaled in proportion to the base row.
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
        rest = [b for b in range(M) if b not in acts]
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
    if not np.all(np.isfinite(Xs)) or np.any(Xs <= 0):
        raise StrategyError("flow strategies must be finite and strictly positive (interior of the simplex)")
    if np.any(np.abs(Xs.sum(-1) - 1.0) > 1e-8):
        raise StrategyError("flow strategies must sum to 1 over actions")
    alpha, beta, gamma, theta = dyn.params(**p)
    flat = np.ascontiguousarray(Xs.reshape(K, -1))
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
        out = out.reshape(Xs.shape)
        return out - out.mean(-1, keepdims=True)
    rows = getattr(mod, "strategy_step_rows", None)
    if rows is not None and K > 1:
        rows(flat, theta, alpha, beta, gamma, 1.0, out)
    else:
        for k in range(K):
            mod.strategy_step(flat[k], theta, alpha, beta, gamma, 1.0, out[k])
    return (out - flat).reshape(Xs.shape)


def _grid(points, eps: float = 1e-2) -> np.ndarray:
    if np.ndim(points) == 0:
        from ._validate import check_int

        n = check_int("points", points, 2)  # grid points per axis
        return np.linspace(eps, 1 - eps, n)
    from ._validate import check_finite_array

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
    bases = (base[None] if n_draw <= 0 else
             rng.dirichlet(np.ones(dyn.n_actions), size=(n_draw, dyn.n_agents, dyn.n_obs)))
    GX, GY = np.meshgrid(xs, ys)
    vals = np.column_stack([GX.ravel(), GY.ravel()])
    out = []
    for cx, cy in panels(dyn, x, y):
        U = np.full((len(bases),) + GX.shape, np.nan)
        V = np.full_like(U, np.nan)
        for k, b in enumerate(bases):
            Xs, valid = _place(b, [cx, cy], vals)
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


#: length of the longest arrow of a flow plot, in grid cells
ARROW_CELLS = 0.9


def _cell(f: FlowField) -> float:
    return float(np.min(np.diff(np.sort(f.xs)))) if len(f.xs) > 1 else 0.1


def _quiver_scale(f: FlowField) -> float:
    """Arrow scale so that the longest mean arrow spans ``ARROW_CELLS`` grid cells."""
    top = np.nanmax(f.speed) if np.any(np.isfinite(f.speed)) else 0.0
    return top / (ARROW_CELLS * _cell(f)) if top > 0 else 1.0


def _arrow_pad(f: FlowField) -> float:
    """Frame padding beyond [0, 1] that holds the outermost (centred) arrows and their heads."""
    outer = max(float(np.min(f.xs)), 1.0 - float(np.max(f.xs)), float(np.min(f.ys)), 1.0 - float(np.max(f.ys)))
    return max(0.03, 0.5 * ARROW_CELLS * _cell(f) + 0.012 - outer)


def _style_unit_square(ax, lo=0.0, hi=1.0, pad=None):
    pad = 0.03 * (hi - lo) if pad is None else pad
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xticks(np.linspace(lo, hi, 5))
    ax.set_yticks(np.linspace(lo, hi, 5))


_LEGEND_ORDER = ("stable fixed point", "unstable fixed point", "fixed point", "separatrix", "start",
                 "fixed point reached", "end (not converged)")


def _handles(axes) -> dict:
    """``{label: handle}`` of all labelled artists, fixed points and trajectory markers in a fixed order."""
    seen = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_") and lab not in seen:
                seen[lab] = h
    # trajectory markers take each trajectory's colour; the legend explains the marker shape
    for lab, style in (("start", dict(START_STYLE, mec="black")), ("fixed point reached",
                       dict(REACHED_STYLE, mfc="0.5")), ("end (not converged)", dict(OPEN_END_STYLE, color="black"))):
        if lab in seen:
            from matplotlib.lines import Line2D

            seen[lab] = Line2D([], [], **style)
    rank = {lab: k for k, lab in enumerate(_LEGEND_ORDER)}
    return dict(sorted(seen.items(), key=lambda kv: rank.get(kv[0], -1)))


def _legend(ax, **kw):
    seen = _handles([ax])
    if seen:
        kw.setdefault("fontsize", "small")
        kw.setdefault("framealpha", 0.9)
        ax.legend(list(seen.values()), list(seen), **kw).set_gid("legend")


def legend(axes):
    """One legend for the labelled artists of all ``axes`` (below them, or in the last panel)."""
    axes = _as_axes_list(axes, len(np.ravel(np.asarray(axes, dtype=object))) if not hasattr(axes, "plot") else 1)
    _figure_legend(axes)
    return axes


def _figure_legend(axes):
    """One legend for all panels: below them (constrained layout) or inside the last panel."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    seen = _handles(axes)
    if not seen:
        return
    fig = axes[0].figure
    # overlays added in separate calls: one legend with every entry, not one per call
    for old in [leg for leg in fig.legends if leg.get_gid() == "legend"] + \
            [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None and ax.get_legend().get_gid() == "legend"]:
        old.remove()
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        ncol = min(len(seen), 2 if len(axes) == 1 else 4)
        leg = fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=ncol,
                         fontsize="small", frameon=False)
    else:
        leg = axes[-1].legend(list(seen.values()), list(seen), fontsize="small", framealpha=0.9)
    leg.set_gid("legend")


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


# ------------------------------------------------------------------ trajectories
START_STYLE = dict(marker="s", ms=6, mfc="white", mew=1.5, ls="none", zorder=8)
REACHED_STYLE = dict(marker="*", ms=12, mec="black", mew=0.6, ls="none", zorder=8)
OPEN_END_STYLE = dict(marker="x", ms=7, mew=2, ls="none", zorder=8)


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
        coords = [(i, s, 0) for s in range(Q) for i in range(N)]
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
                lab = (f"agent {ag}" if ag.isdigit() else ag) + (
                    f", {'state' if dyn.fully_observed else 'observation'} {dyn.observations[s]}" if Q > 1 else "")
            else:
                lab = f"X[{i}, {s}, {a}]"
            ax.plot(times[n], X[:, i, s, a], color=col, ls=ls, lw=lw if i == 0 else 0.75 * lw,
                    alpha=alpha, label=lab if n == 0 else None)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(xlim if xlim is not None else (0, max(t[-1] for t in times)))
    ax.set_xlabel(xlabel)
    if ylabel is None:
        acts = {a for _, _, a in coords}
        if dyn is not None and len(acts) == 1:
            ylabel = f"probability of {dyn.actions[acts.pop()]}"
        else:
            ylabel = "action probability"
    ax.set_ylabel(ylabel)
    if legend:
        _legend(ax, loc="best")
    return ax


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


# ---------------------------------------------------------- bifurcation diagrams
def _branch_list(result) -> list:
    """Branches ``[(param values, X or None, observable or None, stable or None, bifurcations)]``.

    Accepts a continuation result (``.param`` values, ``.X``, ``.observable``,
    ``.stable``, ``.bifurcations``), a hysteresis result (its ``.branches``), a list of
    these, or tuples ``(param values, X or observable values[, stable])``.
    """
    if hasattr(result, "branches"):
        result = result.branches
    elif hasattr(result, "stable") and hasattr(result, "X"):
        result = [result]
    out = []
    for br in result:
        if isinstance(br, (tuple, list)):
            pv, data, st = (tuple(br) + (None,))[:3]
            data = np.asarray(data, dtype=float)
            X, obs = (data, None) if data.ndim == 4 else (None, data.reshape(len(data), -1)[:, 0])
            bifs = []
        else:
            pv = br["param"] if not isinstance(br["param"], str) else br["values"]
            X, obs = br.get("X"), br.get("observable")
            st, bifs = br.get("stable"), br.get("bifurcations") or []
        out.append((np.asarray(pv, dtype=float), None if X is None else np.asarray(X, dtype=float),
                    None if obs is None else np.asarray(obs, dtype=float),
                    None if st is None else np.asarray(st, dtype=bool), list(bifs)))
    return out


def _runs(mask: np.ndarray):
    """Contiguous runs ``(start, stop, value)`` of a boolean array."""
    start = 0
    for k in range(1, len(mask) + 1):
        if k == len(mask) or mask[k] != mask[start]:
            yield start, k, bool(mask[start])
            start = k


_BIF_STYLE = {
    "fold": dict(marker="o", mfc="white", mec="black", label="fold"),
    "branch_point": dict(marker="D", mfc="white", mec="black", label="branch point"),
    "period_doubling": dict(marker="^", mfc="white", mec="black", label="period doubling"),
    "neimark_sacker": dict(marker="s", mfc="white", mec="black", label="Neimark-Sacker"),
}


def bifurcation(result, coordinate=None, *, ax=None, dyn=None, param: str | None = None, color: str = "tab:blue",
                ylabel: str | None = None, legend: bool = True, lw: float = 2.2, jumps=None):
    """Bifurcation diagram: stable branch segments solid, unstable ones dashed, bifurcations marked.

    Parameters
    ----------
    result : continuation result (``.param``, ``.X``, ``.observable``, ``.stable``,
        ``.bifurcations``), hysteresis result (``.branches``, ``.jumps``), a list of
        them, or tuples ``(param values, X or values, stable)``
    coordinate : (agent, state, action) or callable ``X -> value`` for the y axis
        (default: the result's ``observable``)
    jumps : None/True (the jumps of ``result`` if it has any), False, or a hysteresis
        result / list of jumps (``value``, ``observable_before``, ``observable_after``)
        drawn as dotted arrows
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 3.8), constrained_layout=True)
    for pv, X, obs, st, bifs in _branch_list(result):
        if coordinate is not None and X is not None:
            if callable(coordinate):
                yv = np.array([coordinate(x) for x in X])
            else:
                c = _coordinate(dyn, coordinate)
                yv = X[(slice(None),) + c]
        elif obs is not None:
            yv = obs
        elif X is not None:
            yv = X[..., 0].mean(axis=(1, 2))
        else:
            raise ParameterError("a branch needs strategies X or observable values")
        st = np.ones(len(pv), dtype=bool) if st is None else st
        for lo, hi, stable in _runs(st):
            hi2 = min(hi + 1, len(pv))  # join to the next segment
            ln, = ax.plot(pv[lo:hi2], yv[lo:hi2], color=color, lw=lw if stable else 0.7 * lw,
                          ls="-" if stable else "--", label="stable" if stable else "unstable", zorder=2)
            ln.set_gid("branch-stable" if stable else "branch-unstable")
        for b in bifs:
            style = dict(_BIF_STYLE.get(b["kind"], dict(marker="*", mfc="white", mec="black", label=b["kind"])))
            yb = b["observable"] if coordinate is None else (
                coordinate(b["X"]) if callable(coordinate) else b["X"][_coordinate(dyn, coordinate)])
            ln, = ax.plot([b["value"]], [yb], ls="none", ms=8, mew=1.5, zorder=5, **style)
            ln.set_gid("bifurcation")
    if jumps is True or jumps is None:
        jumps = getattr(result, "jumps", None) if coordinate is None else None
    elif hasattr(jumps, "jumps"):
        jumps = jumps.jumps
    if jumps:
        for j in jumps:
            x = j.get("landed_at", j["value"])
            ax.annotate("", xy=(x, j["observable_after"]), xytext=(x, j["observable_before"]),
                        arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.2, ls=":", mutation_scale=14),
                        zorder=3)
    ax.set_xlabel(param or _param_name(result) or "parameter")
    if ylabel is None:
        ylabel = coordinate_label(dyn, coordinate) if (dyn is not None and coordinate is not None and
                                                       not callable(coordinate)) else "observable"
    ax.set_ylabel(ylabel)
    ax.grid(True, lw=0.3, color="0.8")
    if legend:
        _legend(ax, loc="best")
    return ax


def _param_name(result) -> str | None:
    name = getattr(result, "param_name", None)
    if name is None and isinstance(getattr(result, "param", None), str):
        name = result.param
    return name


def hysteresis(result, values=None, *, ax=None, cmap: str = "viridis", colorbar: bool = True, line: bool = True,
               xlabel: str | None = None, ylabel: str = "cooperation probability", sizes=(60.0, 6.0),
               arrows: bool = True):
    """The chapter's hysteresis plot: sweep values coloured (and sized) by sweep step.

    ``result`` is a hysteresis result (``.up`` and ``.down`` with ``.param`` and
    ``.observable``, as from :func:`crldgen.analysis.continuation.hysteresis_sweep`) or the
    parameter values of the whole up-and-down sweep, with ``values`` the observed
    quantity (one per parameter value; rows are averaged). Time flows from big to small
    points and from dark to light colours; a grey line joins consecutive points and
    arrows show the sweep direction.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 3.8), constrained_layout=True)
    if values is None:
        if not hasattr(result, "up"):
            raise ParameterError("pass a hysteresis result (with .up and .down) or params and values")
        params = np.concatenate([np.asarray(result.up["param"]), np.asarray(result.down["param"])])
        values = np.concatenate([np.asarray(result.up["observable"]), np.asarray(result.down["observable"])])
        xlabel = xlabel or _param_name(result)
    else:
        params = np.asarray(result, dtype=float)
    params = np.asarray(params, dtype=float)
    values = np.asarray(values, dtype=float)
    if values.ndim > 1:
        values = values.reshape(len(params), -1).mean(axis=1)
    if len(values) != len(params):
        raise ParameterError(f"{len(params)} parameter values but {len(values)} observed values")
    n = len(params)
    if line:
        ax.plot(params, values, "-", color="black", alpha=0.35, lw=1.0, zorder=1)
    t = np.arange(n)
    s = np.linspace(sizes[0], sizes[1], n)
    sc = ax.scatter(params, values, c=t, s=s, cmap=cmap, alpha=0.9, edgecolors="none", zorder=2)
    sc.set_gid("sweep")
    if arrows and n > 8:
        for k in (n // 8, n // 2 + n // 8):
            ax.annotate("", xy=(params[k + 1], values[k + 1]), xytext=(params[k - 1], values[k - 1]),
                        arrowprops=dict(arrowstyle="-|>", color="0.25", lw=1.2, mutation_scale=16), zorder=3)
    ax.set_xlabel(xlabel or "parameter")
    ax.set_ylabel(ylabel)
    ax.grid(True, lw=0.3, color="0.8")
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, pad=0.02).set_label("sweep step")
    return ax


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


INSIDE_STYLE = dict(mfc="tab:blue", mec="tab:blue")
OUTSIDE_STYLE = dict(mfc="white", mec="tab:red", mew=1.6)


def eigenvalues(points, *, axes=None, zoom: bool = True, names: Sequence[str] | None = None,
                markers: Sequence[str] = ("o", "s", "^", "D", "v", "P", "X", "*")):
    """Eigenvalues of the map Jacobian at fixed points, in the complex plane with the unit circle.

    Inside the circle a direction contracts, outside it expands: a fixed point is stable
    when all its eigenvalues lie inside. Markers are filled inside the circle and open
    (red edge) outside; one marker shape per fixed point.

    Parameters
    ----------
    points : fixed-point result (``.points``) or records with ``.eigenvalues`` (and
        optionally ``.type``), or a list of eigenvalue arrays
    axes : one or two Axes; default a new figure with the whole circle (left) and, with
        ``zoom``, a close-up of the eigenvalues near the circle (right)
    names : legend label per fixed point (default its ``type`` and index)
    """
    plt = _pyplot()
    recs = points.points if hasattr(points, "points") else list(points)
    evs = [np.asarray(getattr(r, "eigenvalues", r), dtype=complex).ravel() for r in recs]
    if names is None:
        names = [f"{k}: {getattr(r, 'type', 'fixed point')}" for k, r in enumerate(recs)]
    n_panels = 2 if zoom else 1
    if axes is None:
        _, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 4.0), constrained_layout=True, squeeze=False)
        axes = list(axes[0])
    else:
        axes = _as_axes_list(axes, len(np.ravel(np.asarray(axes, dtype=object))) if not hasattr(axes, "plot")
                             else 1)
    t = np.linspace(0, 2 * np.pi, 721)
    allv = np.concatenate(evs) if evs else np.zeros(0, dtype=complex)
    for j, ax in enumerate(axes):
        ax.plot(np.cos(t), np.sin(t), color="black", lw=1.0, label="unit circle |λ| = 1" if j == 0 else "_circle")
        ax.axhline(0, color="0.8", lw=0.6, zorder=0)
        ax.axvline(0, color="0.8", lw=0.6, zorder=0)
        for k, ev in enumerate(evs):
            inside = np.abs(ev) < 1
            mk = markers[k % len(markers)]
            for sel, style in ((inside, INSIDE_STYLE), (~inside, OUTSIDE_STYLE)):
                if np.any(sel):
                    ln, = ax.plot(ev[sel].real, ev[sel].imag, ls="none", marker=mk, ms=7, zorder=3, **style)
                    ln.set_gid("eigenvalues")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax.set_aspect("equal")
        if j == 0:
            ax.set_xlim(-1.25, 1.25)
            ax.set_ylim(-1.25, 1.25)
            ax.set_title("eigenvalues of the map")
        elif allv.size:
            lo, hi = min(allv.real.min(), 0.9), max(allv.real.max(), 1.05)
            span = max(hi - lo, 2 * np.abs(allv.imag).max(), 0.1)
            mid = 0.5 * (lo + hi)
            ax.set_xlim(mid - 0.6 * span, mid + 0.6 * span)
            ax.set_ylim(-0.6 * span, 0.6 * span)
            ax.set_title("close-up near |λ| = 1")
    from matplotlib.lines import Line2D

    entries = [(Line2D([], [], color="black", lw=1.0), "unit circle |λ| = 1"),
               (Line2D([], [], ls="none", marker="o", ms=7, **INSIDE_STYLE), "|λ| < 1: contracting"),
               (Line2D([], [], ls="none", marker="o", ms=7, **OUTSIDE_STYLE), "|λ| > 1: expanding")]
    entries += [(Line2D([], [], ls="none", marker=markers[k % len(markers)], ms=7, mfc="0.6", mec="black"), name)
                for k, name in enumerate(names)]
    fig = axes[0].figure
    leg = fig.legend([h for h, _ in entries], [lab for _, lab in entries], loc="outside lower center",
                     ncol=3, fontsize="small", frameon=False)
    leg.set_gid("legend")
    return axes


def save(fig_or_ax, path, dpi: int = 200) -> str:
    """Save the figure of ``fig_or_ax`` as ``path`` (PNG by default) and close it; returns the path.

    Raises :class:`~crldgen.errors.ParameterError` naming ``path`` when its folder does
    not exist or ``dpi`` is not a positive integer (before anything is drawn).
    """
    from pathlib import Path

    from ._validate import check_int

    check_int("dpi", dpi, 1)
    folder = Path(path).parent
    if not folder.is_dir():
        raise ParameterError(f"path = {str(path)!r}: the folder {str(folder)!r} does not exist; create it first")
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    if isinstance(fig_or_ax, (list, tuple, np.ndarray)):
        fig = np.ravel(fig_or_ax)[0].figure
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return str(path)



# ------------------------------------------------------------------ sample-based learners (issue 12)
def sample_trajectories(comparison, x, y, dyn, *, axes=None, show_flow: bool = True, max_runs: int = 50,
                        sample_color: str = "tab:blue", sample_alpha: float = 0.25, sample_lw: float = 0.7,
                        crld_color: str = "black", points: int = 9, legend: bool = True, **p):
    """Sample-learner trajectories (thin, transparent) over the deterministic flow and trajectory.

    Parameters
    ----------
    comparison : :class:`crldgen.sample.Comparison`
        From :func:`crldgen.sample.compare` (its runs and its CRLD trajectory).
    x, y : projection (see the module docstring)
    dyn : Dynamics
        The compiled CRLD the comparison used (flow arrows and labels).
    show_flow : bool
        Draw the flow arrows of ``dyn`` underneath (:func:`flow`, ``points`` per axis).
    max_runs : int
        Draw at most this many sample runs.
    **p : parameter overrides of the flow (use those of the comparison)
    """
    pans = panels(dyn, x, y)
    axes = _as_axes_list(axes, len(pans))
    if show_flow:
        flow(dyn, x, y, points, axes=axes, colorbar=False, legend=False, **p)
    Xs = np.asarray(comparison.sample.X)[:max_runs]
    for ax, (cx, cy) in zip(axes, pans):
        project = _projector(cx, cy)
        for r in range(Xs.shape[0]):
            xs, ys = project(Xs[r])
            ln, = ax.plot(xs, ys, color=sample_color, lw=sample_lw, alpha=sample_alpha, zorder=3,
                          label="sample learners" if r == 0 else None)
            ln.set_gid("sample")
        xs, ys = project(np.asarray(comparison.crld))
        ln, = ax.plot(xs, ys, color=crld_color, lw=2.0, zorder=5, label="CRLD")
        ln.set_gid("crld")
        _end_markers(ax, xs, ys, False, crld_color, label=False)
        ln, = ax.plot(*project(np.asarray(comparison.mean)), color=sample_color, lw=1.5, ls="--", zorder=4,
                      label="sample mean")
        ln.set_gid("sample-mean")
        _style_unit_square(ax)
        if not ax.get_xlabel():
            ax.set_xlabel(coordinate_label(dyn, cx))
            ax.set_ylabel(coordinate_label(dyn, cy))
    if legend:
        _legend(axes[-1], loc="best", fontsize="small")
    return axes


def distance_vs_batch(scan, *, ax=None, reference: bool = True, color: str = "tab:blue", label: str = "",
                      mean: bool = True):
    """RMS distance between batch learners and CRLD against the batch size K (log-log).

    ``scan`` is a :class:`crldgen.sample.DistanceScan`; ``reference`` adds a
    ``1/sqrt(K)`` line through the first point; ``label`` prefixes the legend entries;
    ``mean`` also draws the distance of the run mean.
    """
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(4.2, 3.4), constrained_layout=True)
    K, rms = np.asarray(scan.batch, float), np.asarray(scan.rms, float)
    prefix = f"{label}: " if label else ""
    ln, = ax.loglog(K, rms, "o-", color=color, label=f"{prefix}RMS distance (slope {scan.slope:.2f})")
    ln.set_gid("distance")
    if mean:
        ln, = ax.loglog(K, np.asarray(scan.bias, float), "s--", color=color, alpha=0.6, ms=4,
                        label=f"{prefix}distance of the run mean")
        ln.set_gid("bias")
    if reference:
        ln, = ax.loglog(K, rms[0] * np.sqrt(K[0] / K), ":", color="0.3", label=r"$\propto 1/\sqrt{K}$")
        ln.set_gid("reference")
    ax.set_xlabel("batch size K (transitions per strategy update)")
    ax.set_ylabel(f"distance to CRLD after {scan.steps} updates")
    ax.grid(True, which="both", lw=0.3, color="0.85")
    _legend(ax, loc="best", fontsize="small")
    return ax


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
__all__ += ["value_coordinate_label", "value_flow", "value_flow_field"]
