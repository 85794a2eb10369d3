"""Figures of the sample-based learners (:mod:`crldgen.sample`)."""

from __future__ import annotations


import numpy as np

from ._common import _as_axes_list, _legend, _projector, _pyplot, _style_unit_square, coordinate_label, panels
from .flows import flow
from .trajectory import _end_markers


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
