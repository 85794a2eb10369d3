"""SARSA, Q-learning and actor-critic flows on the chapter's game (value-space dynamics).

The ecological public good (N=2, alpha=0.05, beta=50, gamma=0.75) under three learners,
each panel showing the strategy change of one learning step (agent 0 cooperating on x,
agent 1 on y; states g and p): SARSA and actor-critic as strategy-space CRLD, Q-learning
as value-space CRLD (crld-math.md section 10; its arrows at a strategy X start from the
estimates ln X / beta anchored so that their X-average is the strategy value Vx). Each
row also shows the trajectory from the chapter's random start and the fixed points.
Value SARSA (softmax) reproduces the strategy-space SARSA fixed points exactly; Q-learning
estimates max_b q of the next state, so it values cooperation differently.

Writes value_learners.png (the three flows) and value_flow_q.png (Q-learning in value
coordinates: agent 0's and agent 1's estimates of cooperating in p, the other estimates held
at a stable fixed point, which is marked).
"""

from __future__ import annotations

import numpy as np

import _common as c
import crldgen
from crldgen.value import ValueDynamics
from trajectories import X_CHAPTER


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    game = crldgen.games.ecological_public_good(2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01)
    sarsa = c.compile_game(game, "sarsa", **c.CHAPTER)
    actor_critic = c.compile_game(game, "actor_critic", **c.CHAPTER)
    q_learning = ValueDynamics(game, "q_learning", "softmax", **c.CHAPTER)
    value_sarsa = ValueDynamics(game, "sarsa", "softmax", **c.CHAPTER)
    n_starts = 8 if args.quick else 32
    written = []

    # value SARSA with softmax is strategy SARSA: same fixed points through the policy
    fps = crldgen.fixed_points(sarsa, n_starts=n_starts, rng=0)
    vfps = value_sarsa.fixed_points(n_starts=n_starts, rng=0)
    dev = max(min(np.max(np.abs(v.X - pt.X)) for v in vfps.points) for pt in fps.points)
    print(f"value SARSA: {len(vfps.points)} fixed points, strategy SARSA: {len(fps.points)}; "
          f"largest strategy difference {dev:.1e}")
    qfps = q_learning.fixed_points(n_starts=n_starts, rng=0)
    print("Q-learning fixed points:\n" + qfps.summary())

    tmax = 2000 if args.quick else 10000
    runs = {
        "SARSA": (sarsa.trajectory(X_CHAPTER, tmax, 1e-5), fps),
        "Q-learning": (q_learning.trajectory(q_learning.values_from_strategy(X_CHAPTER, "values"), tmax, 1e-5),
                       qfps),
        "actor-critic": (actor_critic.trajectory(X_CHAPTER, tmax, 1e-5), None),
    }
    for name, (traj, _) in runs.items():
        print(f"{name:>12}: {traj.steps} steps, converged {traj.converged}, final cooperation "
              f"g {np.round(traj.final[:, c.G, c.C], 3).tolist()}, p {np.round(traj.final[:, c.P, c.C], 3).tolist()}")

    points = 7 if args.quick else 9
    fig, axes = c.figure(3, 2, figsize=(7.4, 10.4))
    for row, (name, (traj, points_found)) in zip(axes, runs.items()):
        if name == "Q-learning":
            c.plot.value_flow(q_learning, c.X_BOTH, c.Y_BOTH, points, axes=list(row), arrows="step",
                              fixed_points=points_found, trajectories=traj, colorbar=False, legend=False)
        else:
            dyn = sarsa if name == "SARSA" else actor_critic
            c.plot.flow(dyn, c.X_BOTH, c.Y_BOTH, points, axes=list(row), arrows="step", fixed_points=points_found,
                        trajectories=traj, colorbar=False, legend=False)
        for ax, state in zip(row, ("g", "p")):
            ax.set_title(f"{name}, state {state}")
    written.append(c.save(fig, args, "value_learners.png"))

    stable = [pt for pt in qfps.points if pt.stable] or qfps.points
    base = stable[0].Q  # the other estimates at the first stable fixed point
    qs = qfps.Q[:, :, c.P, c.C]
    lo, hi = float(qs.min()) - 0.5, float(qs.max()) + 0.5
    axes = c.plot.value_flow(q_learning, ([0], ["p"], ["c"]), ([1], ["p"], ["c"]), 11 if args.quick else 15,
                             coords="values", base=base, x_range=(lo, hi), y_range=(lo, hi),
                             fixed_points=[stable[0]])  # the one fixed point that lies in this slice
    axes[0].set_title("Q-learning: a slice of value space")
    written.append(c.save(axes, args, "value_flow_q.png"))
    return written


if __name__ == "__main__":
    main()
