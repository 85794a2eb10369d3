"""The basic flow plot (chapter Fig. 2) and its analysis: fixed points and separatrix.

Arrows show the normalized temporal-difference error of agent 0 (x) and agent 1 (y)
cooperating, in the degraded state g and the prosperous state p (SARSA, alpha=0.05,
beta=50, gamma=0.75). The flow is bistable in p and randomizing in g.

Writes flow_basic.png (the chapter's figure) and flow_analysis.png (streamlines with
the fixed points, filled when stable, and the separatrix: the saddle's stable manifold).
"""

from __future__ import annotations

import _common as c
from crldgen import stable_manifold
from crldgen import fixed_points


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg()
    written = []

    axes = c.plot.flow(dyn, c.X_BOTH, c.Y_BOTH, points=9)
    written.append(c.save(axes, args, "flow_basic.png"))

    fps = fixed_points(dyn, n_starts=8 if args.quick else 32, rng=0)
    print(fps.summary())
    saddles = [pt for pt in fps.points if pt.type == "saddle"]
    sep = stable_manifold(dyn, saddles[0], max_iter=300 if args.quick else 5000) if saddles else None
    axes = c.plot.flow(dyn, c.X_BOTH, c.Y_BOTH, kind="stream", points=15 if args.quick else 25,
                       fixed_points=fps, separatrix=sep)
    written.append(c.save(axes, args, "flow_analysis.png"))
    return written


if __name__ == "__main__":
    main()
