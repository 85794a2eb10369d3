"""Shared helpers of the figure modules: styles, gids, coordinates, projections, legends, saving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..ragged import Layout, layout_of


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


def _dims(dyn, agent: int | None = None):
    """``((name, labels) x 3)`` of the coordinate axes; a heterogeneous game's labels are those of ``agent``."""
    if dyn is None:
        return (("agent", None), ("state", None), ("action", None))
    obs = "state" if dyn.fully_observed else "observation"
    if layout_of(dyn) is not None:
        obs_labels, act_labels = _agent_labels(dyn, 0 if agent is None else agent)
        return (("agent", dyn.agents), (obs, obs_labels), ("action", act_labels))
    return (("agent", dyn.agents), (obs, dyn.observations), ("action", dyn.actions))


def _agent_labels(dyn, i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(observation labels, action labels)`` of agent ``i`` (per-agent in a heterogeneous game)."""
    mod = getattr(dyn, "module", None)  # (value-space dynamics have no generated module)
    if getattr(mod, "AGENT_ACTIONS", None) is not None and (getattr(mod, "RAGGED", False) or dyn.actions is None):
        return tuple(mod.AGENT_OBSERVATIONS[i]), tuple(mod.AGENT_ACTIONS[i])  # per-agent labels
    return tuple(dyn.observations), tuple(dyn.actions)


def _n_actions(dyn, i: int) -> int:
    lay = layout_of(dyn)
    return lay.action_counts[i] if lay is not None else dyn.n_actions


def _coordinate(dyn, c) -> tuple[int, int, int]:
    """One ``(agent, state, action)`` coordinate as indices (per-agent labels and ranges)."""
    if len(c) != 3:
        raise ParameterError(f"a coordinate is (agent, state, action); got {c!r}")
    i = _index(_dims(dyn)[0][1], c[0], "agent")
    return (i,) + tuple(_index(labels, v, what) for (what, labels), v in zip(_dims(dyn, i)[1:], c[1:]))


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
        if cx[:2] == cy[:2] and dyn is not None and _n_actions(dyn, cx[0]) < 3:
            raise ParameterError(
                f"panel {k}: x and y are two actions of the same agent and state {cx[:2]}; with "
                f"{_n_actions(dyn, cx[0])} actions they are not independent")
        out.append((cx, cy))
    return out


def coordinate_label(dyn, c) -> str:
    """Axis label of coordinate ``(agent, state, action)`` from the game's labels."""
    i, s, a = _coordinate(dyn, c)
    agent = dyn.agents[i]
    agent = f"agent {agent}" if agent.isdigit() else agent
    obs, acts = _agent_labels(dyn, i)
    cond = "" if len(obs) == 1 else f" | {obs[s]}"
    return f"{agent}: P({acts[a]}{cond})"


def _panel_title(dyn, pans, k) -> str:
    """Title naming what varies across the panels (e.g. 'state p')."""
    if len(pans) == 1:
        return ""
    parts = []
    cx, cy = pans[k]
    for d in range(3):
        vals = {(px[d], py[d]) for px, py in pans}
        if len(vals) > 1:
            (what, lx), (_, ly) = _dims(dyn, cx[0])[d], _dims(dyn, cy[0])[d]
            lab = lx[cx[d]] if cx[d] == cy[d] and lx == ly else f"{lx[cx[d]]}/{ly[cy[d]]}"
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
        X = _padded(obj.X) if isinstance(obj.X, tuple) else np.asarray(obj.X, dtype=float)
        conv = getattr(obj, "converged", None)
        return X, (None if conv is None else bool(conv))
    X = _padded(obj) if isinstance(obj, tuple) else np.asarray(obj, dtype=float)
    if X.ndim != 4:
        raise ParameterError(f"a trajectory is an array X[t, agent, state, action] (4-d); got shape {X.shape}")
    return X, None


def _times(obj, n: int) -> np.ndarray:
    """Time steps of the rows of a trajectory (``every=k`` keeps every k-th strategy)."""
    t = getattr(obj, "times", None)
    return np.asarray(t) if t is not None and len(t) == n else np.arange(n)


def _padded(parts) -> np.ndarray:
    """Per-agent ``(..., Q_i, M_i)`` arrays of a heterogeneous game as one NaN-padded ``(..., N, Q, M)`` array.

    Figures index coordinates ``(agent, observation, action)`` in it; the padding is never drawn.
    """
    parts = [np.asarray(p, dtype=float) for p in parts]
    return Layout([p.shape[-1] for p in parts], [p.shape[-2] for p in parts]).padded(parts)


def _is_ragged_trajectory(X) -> bool:
    return isinstance(X, tuple) and len(X) > 0 and all(np.ndim(p) == 3 for p in X)


def _trajectory_list(trajs) -> list:
    """A list of trajectories from one trajectory, a batch result or a sequence."""
    if isinstance(trajs, np.ndarray) and trajs.ndim == 4:
        return [trajs]
    if _is_ragged_trajectory(trajs):
        return [trajs]
    if hasattr(trajs, "X") and (trajs.X is None or np.ndim(trajs.X) == 4 if not isinstance(trajs.X, tuple)
                                else _is_ragged_trajectory(trajs.X)):
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



START_STYLE = dict(marker="s", ms=6, mfc="white", mew=1.5, ls="none", zorder=8)
REACHED_STYLE = dict(marker="*", ms=12, mec="black", mew=0.6, ls="none", zorder=8)
OPEN_END_STYLE = dict(marker="x", ms=7, mew=2, ls="none", zorder=8)



def save(fig_or_ax, path, dpi: int = 200) -> str:
    """Save the figure of ``fig_or_ax`` as ``path`` (PNG by default) and close it; returns the path.

    Raises :class:`~crldgen.errors.ParameterError` naming ``path`` when its folder does
    not exist or ``dpi`` is not a positive integer (before anything is drawn).
    """
    from pathlib import Path

    from .._validate import check_int

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
