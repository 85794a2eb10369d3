"""Hysteresis in the discount factor (chapter section 'Hysteresis', Fig. 10).

The chapter's experiment: from a random strategy, let the agents learn (2500 steps or
until ||X' - X|| < 1e-11) at discount factors 0.6, 0.605, ..., 0.895 and back down,
each run starting where the last ended. Cooperation jumps up near gamma = 0.825 and
down near 0.715: the learners remember their history. The whole up-and-down sweep is
one compiled call.

The bifurcation diagram explains it: pseudo-arclength continuation of the fixed points
in gamma gives an S-shaped curve, stable branches solid, the saddle branch dashed,
with folds where the sweep jumps.

Writes hysteresis.png (Fig. 10) and bifurcation.png.
"""

from __future__ import annotations

import numpy as np

import _common as c
from crldgen import continuation, hysteresis


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg()
    written = []

    step = 0.015 if args.quick else 0.005
    dcfs = np.arange(0.6, 0.9, step)
    curve = np.concatenate([dcfs, dcfs[::-1]])
    X0 = dyn.random_strategy(0)
    sweep = dyn.sweep(X0, "gamma", curve, tmax=2500, tol=1e-11)
    coop = sweep.final[:, :, c.P, c.C].mean(axis=1)
    jumps = np.flatnonzero(np.abs(np.diff(coop)) > 0.5)
    for k in jumps:
        way = "up" if curve[k + 1] > curve[k] else "down"
        print(f"sweep {way:>4}: cooperation jumps from {coop[k]:.3f} to {coop[k + 1]:.3f} at gamma = "
              f"{curve[k + 1]:.3f}")
    ax = c.plot.hysteresis(curve, coop, xlabel="discount factor $\\gamma$",
                           ylabel="cooperation probability in p")
    ax.set_title("hysteresis: sweeping $\\gamma$ up and down")
    written.append(c.save(ax, args, "hysteresis.png"))

    loop = hysteresis(dyn, "gamma", 0.6, 0.9, X0, observable=("p", "c"))
    for j in loop.jumps:
        print(f"continuation {j.direction:>4}: {j.kind} at gamma = {j.value:.6f}")
    start = loop.up["X"][0]
    branch = continuation(dyn, "gamma", start, start=0.6, bounds=(0.6, 0.9), observable=("p", "c"), ds_max=0.2)
    fig, ax = c.figure(figsize=(6.4, 4.2))
    ax.scatter(curve, coop, s=12, c="0.55", zorder=1, label="sweep (Fig. 10)")
    c.plot.bifurcation(branch, ax=ax, param="discount factor $\\gamma$", jumps=loop,
                       ylabel="cooperation probability in p")
    ax.set_title("fixed points of the learning dynamics")
    written.append(c.save(fig, args, "bifurcation.png"))
    return written


if __name__ == "__main__":
    main()
