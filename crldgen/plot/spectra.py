"""Eigenvalues of fixed points in the complex plane, with the unit circle."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import _as_axes_list, _pyplot


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
