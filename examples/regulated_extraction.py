"""Regulated extraction: learners with different action sets (a heterogeneous game, M = (3, 2)).

A resource user extracts low, medium or high; a regulator stays idle or monitors, and
fines a user it catches extracting high (``crldgen.games.regulated_extraction``: the
resource is 'healthy' or 'degraded'; high extraction pays most now and degrades the
resource most). The two agents have different numbers of actions, so a joint strategy is
a tuple of per-agent arrays: the user's ``X[0]`` of shape (2 states, 3 actions) and the
regulator's ``X[1]`` of shape (2, 2).

SARSA learners (alpha=0.05, beta=25, gamma=0.9) from a few start strategies (uniform,
a greedy user facing a lax regulator, a careful user facing a strict regulator): the
user's three action probabilities and the regulator's monitoring probability in each
state over time. Monitoring only pays the regulator while the user extracts high often
enough (``P(high) * fine > monitoring_cost``), high extraction only pays the user while
monitoring is rare: an inspection game on a renewable resource.

Writes regulated_extraction.png.
"""

from __future__ import annotations

import numpy as np

import _common as c
import crldgen

#: learner parameters of this example
LEARNER = dict(alpha=0.05, beta=25.0, gamma=0.9)
STATES = ("healthy", "degraded")
USER_ACTIONS = ("low", "medium", "high")
MONITOR = 1  # the regulator's actions are ('idle', 'monitor')
#: line colours of the user's actions, line styles of the start strategies
COLOURS = {"low": "tab:green", "medium": "tab:orange", "high": "tab:red"}
STYLES = ("-", "--", ":")


def start_strategies(dyn) -> dict:
    """Named start strategies: tuples ``(user (2, 3), regulator (2, 2))``, the same rows in both states."""
    greedy = (np.tile([0.1, 0.2, 0.7], (2, 1)), np.tile([0.9, 0.1], (2, 1)))
    careful = (np.tile([0.6, 0.3, 0.1], (2, 1)), np.tile([0.2, 0.8], (2, 1)))
    return {"uniform": dyn.uniform_strategy(), "greedy user, lax regulator": greedy,
            "careful user, strict regulator": careful}


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    game = crldgen.games.regulated_extraction()
    dyn = c.compile_game(game, "sarsa", **LEARNER)
    tmax = 600 if args.quick else 3000
    fig, axes = c.figure(2, 2, figsize=(10, 6.4))
    for (name, X0), style in zip(start_strategies(dyn).items(), STYLES):
        traj = dyn.trajectory(X0, tmax, 1e-6)
        user, regulator = traj.X  # (steps, 2, 3) and (steps, 2, 2)
        t = np.arange(len(user))
        for s, state in enumerate(STATES):
            for a, action in enumerate(USER_ACTIONS):
                first = s == 0 and style == STYLES[0]
                axes[s, 0].plot(t, user[:, s, a], color=COLOURS[action], ls=style, lw=1.5,
                                label=action if first else None, gid=f"user-{state}-{action}")
            axes[s, 1].plot(t, regulator[:, s, MONITOR], color="k", ls=style, lw=1.5,
                            label=name if s == 0 else None, gid=f"regulator-{state}-monitor")
        final_user, final_reg = (x[-1] for x in traj.X)
        print(f"{name}: {len(user)} strategies, converged: {traj.converged}")
        for s, state in enumerate(STATES):
            probs = ", ".join(f"{a} {p:.3f}" for a, p in zip(USER_ACTIONS, final_user[s]))
            print(f"  {state:9s} user: {probs}; regulator monitors {final_reg[s, MONITOR]:.3f}")
    for s, state in enumerate(STATES):
        axes[s, 0].set_title(f"user, state '{state}'")
        axes[s, 1].set_title(f"regulator, state '{state}'")
        axes[s, 0].set_ylabel("action probability")
        axes[s, 1].set_ylabel("monitoring probability")
        for ax in axes[s]:
            ax.set_ylim(-0.02, 1.02)
    for ax in axes.flat:
        ax.set_xlabel("learning step")
    axes[0, 0].legend(title="user's action", fontsize=8)
    axes[0, 1].legend(title="start (line style)", fontsize=8)
    return [c.save(fig, args, "regulated_extraction.png")]


if __name__ == "__main__":
    main()
