"""Bifurcation diagrams and hysteresis loops of continuation results."""

from __future__ import annotations


import numpy as np

from ..errors import ParameterError
from ._common import _coordinate, _legend, _pyplot, coordinate_label


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
