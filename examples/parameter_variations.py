"""Parameter variations of the flow (chapter Figs. 3-6).

Caring more for the future (gamma = 0.8), a more severe collapse (m = -6) and a
higher collapse leverage (qc = 0.3) enlarge the cooperative basin in the prosperous
state; a low choice intensity (beta = 1) lets exploration dominate. The degraded state
is unaffected. One compiled module serves all of them: parameters are run-time
arguments, nothing is derived or compiled again.

Writes flow_gamma0.8.png, flow_m-6.png, flow_qc0.3.png, flow_beta1.png (the chapter's
figures) and flow_variations.png (the prosperous state of all five, with fixed points
and separatrices).
"""

from __future__ import annotations

import numpy as np

import _common as c
from crldgen import stable_manifold
from crldgen import fixed_points

#: (file name, title, parameter overrides) of the chapter's Figs. 3-6
VARIATIONS = [
    ("flow_gamma0.8.png", "more future caring: $\\gamma = 0.8$", dict(gamma=0.8)),
    ("flow_m-6.png", "more severe collapse: $m = -6$", dict(m=-6.0)),
    ("flow_qc0.3.png", "higher collapse leverage: $q_c = 0.3$", dict(qc=0.3)),
    ("flow_beta1.png", "low intensity of choice: $\\beta = 1$", dict(beta=1.0)),
]


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg()
    written = []
    for name, title, p in VARIATIONS:
        axes = c.plot.flow(dyn, c.X_BOTH, c.Y_BOTH, points=9, **p)
        axes[0].figure.suptitle(title)
        written.append(c.save(axes, args, name))

    cases = [("chapter defaults", {})] + [(title, p) for _, title, p in VARIATIONS]
    fig, axes = c.figure(1, len(cases), figsize=(3.3 * len(cases) + 0.8, 3.9))
    # one colour scale for all panels, so that their arrows compare under one colour bar
    vmax = max(float(np.nanmax(f.speed)) for _, p in cases for f in c.plot.flow_field(dyn, c.X_P, c.Y_P, 9, **p))
    for ax, (title, p) in zip(axes, cases):
        fps = fixed_points(dyn, n_starts=8 if args.quick else 24, rng=0, **p)
        saddles = [pt for pt in fps.points if pt.type == "saddle"]
        sep = stable_manifold(dyn, saddles[0], max_iter=300 if args.quick else 3000, **p) if saddles else None
        c.plot.flow(dyn, c.X_P, c.Y_P, points=9, axes=[ax], fixed_points=fps, separatrix=sep, colorbar=False,
                    legend=False, vmax=vmax, **p)
        ax.set_title(title, fontsize="medium")
        stable = ", ".join(f"({pt.X[0, c.P, c.C]:.2f}, {pt.X[1, c.P, c.C]:.2f})" for pt in fps.points if pt.stable)
        print(f"{title:<40} stable fixed points in p: {stable}")
    arrows = next(q for q in axes[-1].collections if q.get_gid() == "flow")
    fig.colorbar(arrows, ax=list(axes), shrink=0.85, pad=0.01).set_label("|normalized TD error|")
    c.plot.legend(axes)
    written.append(c.save(fig, args, "flow_variations.png"))
    return written


if __name__ == "__main__":
    main()
