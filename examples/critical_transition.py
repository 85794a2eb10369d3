"""The critical transition (chapter section 'Critical transition', Figs. 7-9).

SARSA learners with alpha=0.01, beta=100 start with agent 1 cooperating with
probability 0.95 in the prosperous state; agent 0's initial cooperation decides
between mutual defection and mutual cooperation. Near the separatrix the learning
slows down critically and shows a transient tipping point: an apparent convergence to
a mixed strategy (the saddle) before the final decision.

Writes critical_transition.png (flow with three trajectories, lengths 178, 234, 174),
critical_slowing_down.png (Fig. 7, and the time to convergence against the distance to
the separatrix), transient_tipping.png (Fig. 8), transient_tipping_zoom.png (Fig. 9)
and basins.png (basins of attraction with the separatrix).
"""

from __future__ import annotations

import numpy as np

import _common as c
from crldgen import basins, critical_slowing_down, stable_manifold, tipping_point
from crldgen import fixed_points


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg(**c.CRITICAL)
    written = []

    # three well-chosen trajectories on top of the flow
    trajs = [dyn.trajectory(c.compile_strategy(pc, 0.95), tmax=5000, tol=1e-5) for pc in (0.18, 0.19, 0.20)]
    print("trajectory lengths:", [t.steps for t in trajs], "(chapter: 178, 234, 174)")
    fps = fixed_points(dyn, n_starts=8 if args.quick else 32, rng=0)
    saddle = next(pt for pt in fps.points if pt.type == "saddle")
    sep = stable_manifold(dyn, saddle, max_iter=300 if args.quick else 5000)
    axes = c.plot.flow(dyn, c.X_P, c.Y_P, points=9, fixed_points=fps, separatrix=sep, trajectories=trajs,
                       trajectory_colors=["tab:red", "tab:blue", "tab:green"],
                       xlabel="agent 0's cooperation probability", ylabel="agent 1's cooperation probability")
    axes[0].set_title("prosperous state")
    written.append(c.save(axes, args, "critical_transition.png"))

    # a bundle of trajectories across the tipping point (in parallel)
    coarse, fine = (21, 41) if args.quick else (51, 151)
    pcs = np.unique(np.concatenate([np.linspace(0.01, 0.99, coarse), np.linspace(0.185, 0.195, fine)]))
    bundle = dyn.trajectories(np.array([c.compile_strategy(pc, 0.95) for pc in pcs]), tmax=5000, tol=1e-5)
    final = bundle.final[:, :, c.P, c.C].mean(axis=1)
    hist = np.histogram(final, range=(0, 1))[0]
    cp = int(hist[0])
    print(f"{len(pcs)} trajectories, all converged: {bool(bundle.converged.all())}; histogram {hist.tolist()}")
    print(f"critical point between {pcs[cp - 1]} and {pcs[cp]}")
    tip = tipping_point(dyn, coordinate=(0, "p", "c"), interval=(0.01, 0.99), base=c.compile_strategy(0.5, 0.95),
                        tol=1e-9 if not args.quick else 1e-6, run_tol=1e-5)
    print(f"critical point by bisection: {tip.value:.8f} ({tip.n_trajectories} trajectories)")

    fig, (ax1, ax2) = c.figure(1, 2, figsize=(11.0, 3.8))
    outcome = np.where(final > 0.5, "cooperation", "defection")
    c.plot.convergence_times(pcs, bundle.steps, outcome, ax=ax1, colors={"defection": "tab:red",
                             "cooperation": "tab:blue"}, critical=tip.value,
                             xlabel="agent 0's cooperation probability in the prosperous state",
                             ylabel="time steps to convergence ($\\|\\Delta X\\| < 10^{-5}$)")
    ax1.set_title("critical slowing down (chapter Fig. 7)")
    # distances well above the bisection's precision (closer starts stall at the saddle, where
    # the chapter's criterion ||X' - X|| < 1e-5 declares them converged)
    distances = np.logspace(-5 if args.quick else -6, -2, 7 if args.quick else 13)
    csd = critical_slowing_down(dyn, tip, distances, tmax=20000, saddle=saddle)
    below, above = csd.steps
    ax2.semilogx(csd.distance, below, "o-", color="tab:red", label="defection side")
    ax2.semilogx(csd.distance, above, "s-", color="tab:blue", label="cooperation side")
    mean_steps = np.mean(csd.steps)
    pred = mean_steps - csd.predicted_slope * (np.log(csd.distance) - np.mean(np.log(csd.distance)))
    ax2.semilogx(csd.distance, pred, "k--", lw=1.2,
                 label=f"saddle theory: $1/\\ln\\lambda_u$ = {csd.predicted_slope:.1f} steps per e-fold")
    ax2.set_xlabel("distance to the critical point")
    ax2.set_ylabel("time steps to convergence ($\\|\\Delta X\\| < 10^{-8}$)")
    ax2.set_title("logarithmic divergence at the separatrix")
    ax2.grid(True, lw=0.3, color="0.8")
    ax2.legend(fontsize="small")
    print(f"slowing down: fitted slope {csd.slope:.2f}, predicted {csd.predicted_slope:.2f} steps per e-fold")
    written.append(c.save(fig, args, "critical_slowing_down.png"))

    # transient tipping: the two trajectories closest to the critical point
    pair = [dyn.trajectory(c.compile_strategy(pcs[k], 0.95), tmax=5000, tol=1e-5) for k in (cp - 1, cp)]
    for name, xlim in (("transient_tipping.png", None), ("transient_tipping_zoom.png", (0, 95))):
        fig, ax = c.figure(figsize=(6.4, 3.8))
        coords = [(0, "p", "c"), (1, "p", "c")]
        c.plot.time_series(pair[0], dyn, coords, ax=ax, colors=["tab:red", "tab:red"], linestyles=[":", "--"],
                           labels=["agent 0 (defecting)", "agent 1 (defecting)"], lw=3, legend=False)
        c.plot.time_series(pair[1], dyn, coords, ax=ax, colors=["tab:blue", "tab:blue"], linestyles=[":", "--"],
                           labels=["agent 0 (cooperating)", "agent 1 (cooperating)"], lw=2, xlim=xlim,
                           ylabel="cooperation probability in p", legend=False)
        ax.axhline(saddle.X[0, c.P, c.C], color="0.4", lw=0.8, ls="-.", label="saddle")
        ax.set_title("apparent convergence to a mixed strategy" if xlim else
                     "emergent time-scale separation at the critical point")
        c.plot.legend(ax)
        written.append(c.save(fig, args, name))

    res = basins(dyn, (0, "p", "c"), (1, "p", "c"), grid=21 if args.quick else 61, attractors=fps,
                 base=c.compile_strategy(0.5, 0.5))
    colors = ["tab:blue" if a.X[0, c.P, c.C] > 0.5 else "tab:red" for a in res.attractors]
    ax = c.plot.basins(res, dyn=dyn, fixed_points=fps, separatrix=sep, colors=colors)
    ax.set_title("basins of attraction (prosperous state)")
    written.append(c.save(ax, args, "basins.png"))
    return written


if __name__ == "__main__":
    main()
