"""Batch learners approach the deterministic dynamics: sample-based learners vs CRLD.

The chapter's ecological public good (alpha 0.05, gamma 0.75, beta 5, prefactor):
agents that really sample actions, next states and rewards, and update their strategy
after every batch of K transitions (crldgen.sample). Their trajectories scatter around
the CRLD trajectory, and the root-mean-square distance after 30 updates falls as
1/sqrt(K): in the limit of an infinite memory batch the error term vanishes. (Batches
that are not replayed, but averaged once with the current estimates as next-state
values, approach a different map: their distance levels off.)

Writes sample_trajectories.png (sample runs over the flow, one row per K) and
sample_distance.png (distance vs K, log-log).
"""

from __future__ import annotations

import numpy as np

import _common as c
from crldgen import sample

PARAMS = dict(alpha=0.05, beta=5.0, gamma=0.75)


def initial_strategy() -> np.ndarray:
    """Both agents at 1/2 in the degraded state; 0.3 and 0.6 cooperation in the prosperous one."""
    return c.compile_strategy(0.3, 0.6)


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    game = c.crldgen.games.ecological_public_good(2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01)
    dyn = c.compile_game(game, **PARAMS)
    X0 = initial_strategy()
    quick = args.quick

    # sample runs over the flow, for a small and a large batch
    steps = 100 if quick else 300
    runs = 10 if quick else 30
    batches = (300, 3000) if quick else (300, 3000, 30000)
    fig, axes = c.figure(len(batches), 2, figsize=(8.0, 3.4 * len(batches)), squeeze=False)
    for row, K in enumerate(batches):
        cmp = sample.compare(game, X0, steps, K, dyn=dyn, runs=runs, seed=row, **PARAMS)
        print(f"K = {K:>6}: RMS distance to CRLD after {steps} updates {cmp.rms[-1]:.4f} "
              f"(run mean {cmp.bias[-1]:.4f})")
        c.plot.sample_trajectories(cmp, c.X_BOTH, c.Y_BOTH, dyn, axes=list(axes[row]), points=7 if quick else 9,
                                   legend=row == 0, **PARAMS)
        for ax, state in zip(axes[row], ("g", "p")):
            ax.set_title(f"K = {K}, state {state}")
    written = [c.save(fig, args, "sample_trajectories.png")]

    # distance after 30 updates as a function of K
    Ks = [2000, 6000, 20000] if quick else [1000, 3000, 10000, 30000, 100000]
    scan = sample.distance_vs_batch(game, X0, 30, Ks, dyn=dyn, runs=12 if quick else 24, seed=1, **PARAMS)
    for K, d, b in zip(scan.batch, scan.rms, scan.bias):
        print(f"K = {K:>6}: RMS distance after 30 updates {d:.5f}, run mean {b:.5f}")
    print(f"log-log slope {scan.slope:.3f} (1/sqrt(K): -0.5)")
    # contrast: one-pass batches (no replay) bootstrap from the current estimates and
    # approach the value-space map instead, so their distance to CRLD levels off
    one_pass = sample.distance_vs_batch(game, X0, 30, Ks, dyn=dyn, runs=12 if quick else 24, seed=2, replay=False,
                                        **PARAMS)
    for K, d in zip(one_pass.batch, one_pass.rms):
        print(f"K = {K:>6}: one-pass batches (no replay): RMS distance {d:.5f}")
    ax = c.plot.distance_vs_batch(scan, label="replayed batches")
    c.plot.distance_vs_batch(one_pass, ax=ax, color="tab:orange", label="one-pass", mean=False, reference=False)
    ax.set_title("batch learners vs CRLD (ecological public good)", fontsize="medium")
    written.append(c.save(ax, args, "sample_distance.png"))
    return written


if __name__ == "__main__":
    main()
