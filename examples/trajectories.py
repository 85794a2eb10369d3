"""Learning trajectories (chapter section 'Learning trajectories').

SARSA learners (alpha=0.05, beta=50, gamma=0.75) in the ecological public good, from
the chapter's random initial strategy (the trajectory has 147 strategies) and from
several more random starts: learning is fast, deterministic and bistable in the
prosperous state; the agents randomize in the degraded state.

Writes trajectory.png, trajectories_random.png, trajectories_phase.png.
"""

from __future__ import annotations

import numpy as np

import _common as c

#: the chapter's random initial strategy (float32 in pyCRLD, renormalized here)
X_CHAPTER = np.array([[[0.36419877, 0.63580126], [0.287849, 0.712151]],
                      [[0.69508857, 0.30491143], [0.41352522, 0.5864748]]])
X_CHAPTER = X_CHAPTER / X_CHAPTER.sum(-1, keepdims=True)


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg()
    written = []

    traj = dyn.trajectory(X_CHAPTER, tmax=5000, tol=1e-5)
    print(f"trajectory from the chapter's start: {traj.steps} strategies, fixed point reached: {traj.converged}")
    ax = c.plot.time_series(traj, dyn, ylabel="cooperation probability")
    ax.set_title(f"learning trajectory from the chapter's random start ({traj.steps} strategies)")
    written.append(c.save(ax, args, "trajectory.png"))

    n = 4 if args.quick else 10
    X0s = np.array([dyn.random_strategy(seed) for seed in range(n)])
    batch = dyn.trajectories(X0s, tmax=5000, tol=1e-5, every=1)
    coop = batch.final[:, :, c.P, c.C].mean(axis=1)
    print(f"{n} random starts: lengths {batch.steps.tolist()}, final cooperation in 'p' "
          f"{np.round(coop, 3).tolist()}")
    trajs = list(batch)
    fig, ax = c.figure(figsize=(6.4, 3.8))
    c.plot.time_series(trajs, dyn, ax=ax, alpha=0.6, ylabel="cooperation probability")
    ax.set_title(f"{n} random starts: bistable in 'p', random in 'g'")
    written.append(c.save(fig, args, "trajectories_random.png"))

    axes = c.plot.trajectories(trajs, c.X_BOTH, c.Y_BOTH, dyn=dyn, colorbar=True)
    for ax, state in zip(axes, ("g", "p")):
        ax.set_title(f"state {state}")
    c.plot.legend(axes)  # what the start and end markers mean
    written.append(c.save(axes, args, "trajectories_phase.png"))
    return written


if __name__ == "__main__":
    main()
