"""Three actions: flows on the simplex, for a game read from a TOML file.

Rock-paper-scissors (examples/games/rock_paper_scissors.toml, parsed by the whitelist
expression parser of crldgen.tomlgame) with SARSA learners. Left: both agents play the
same strategy (the symmetric subspace); the learning spirals into the mixed logit
equilibrium. Right: the row agent's flow while the column agent plays mostly rock
(0.6, 0.2, 0.2): the row agent learns to play paper.

Writes simplex_rps.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import _common as c
from crldgen import fixed_points
from crldgen.tomlgame import load_game

GAME_FILE = Path(__file__).resolve().parent / "games" / "rock_paper_scissors.toml"


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    game = load_game(GAME_FILE)
    dyn = c.compile_game(game, alpha=0.05, beta=5.0, gamma=0.5)
    fps = fixed_points(dyn, n_starts=4 if args.quick else 16, rng=0)
    print(fps.summary())
    X0 = np.array([[[0.8, 0.1, 0.1]], [[0.8, 0.1, 0.1]]])
    traj = dyn.trajectory(X0, tmax=3000 if args.quick else 10000, tol=1e-6)
    print(f"symmetric trajectory: {traj.steps} steps, converged: {traj.converged}")

    fig, (ax1, ax2) = c.figure(1, 2, figsize=(10.0, 4.4))
    c.plot.simplex(dyn, "row", "s", ax=ax1, symmetric=True, fixed_points=fps, trajectories=[traj],
                   traj_colors=["tab:red"], points=8 if args.quick else 12, colorbar=False,
                   title="both agents play the same strategy", legend=False)
    base = np.array([[[1 / 3, 1 / 3, 1 / 3]], [[0.6, 0.2, 0.2]]])
    c.plot.simplex(dyn, "row", "s", ax=ax2, base=base, points=8 if args.quick else 12,
                   title="row agent; column agent plays (0.6, 0.2, 0.2)")
    c.plot.legend([ax1, ax2])
    return [c.save(fig, args, "simplex_rps.png")]


if __name__ == "__main__":
    main()
