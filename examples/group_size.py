"""Cooperation and group size: the critical discount factor of the ecological public good, n = 2..200.

The anonymous (count-based) form of the ecological public good (crld-math section 11)
makes the number of agents a run-time argument, so one compiled module serves every
group size. With ``k_d`` defectors among ``n`` agents the prosperous state collapses with
probability ``qc k_d / n``: one defector's share of the risk shrinks like ``1/n`` while
its gain ``c (1 - f/n)`` grows, so larger groups need more patient learners.

For every n, bisection over the discount factor finds the critical ``gamma_c(n)``: the
smallest gamma at which SARSA learners (values without the ``1 - gamma`` prefactor, so a
patient learner weighs the future fully) that start at cooperation (up to 1e-6) in the
prosperous state stay cooperative, on a symmetric fixed point that is stable in the full
n-agent space (symmetric *and* symmetry-breaking eigenvalues, blocks A and B). Every
bisection step is one compiled, parallel batch over all group sizes.

Writes group_size.png: ``gamma_c(n)`` and ``1 - gamma_c(n)`` (log-log), and prints the table.
"""

from __future__ import annotations

import numpy as np

import _common as c
from crldgen import anonymous

#: game and learner parameters of this example (collapse is irreversible: qr = 0)
GAME = dict(f=1.2, c=5.0, m=-5.0, qc=0.2, qr=0.0)
LEARNER = dict(alpha=0.05, beta=1.0)
X0 = np.array([[0.5, 0.5], [1 - 1e-6, 1e-6]])  # rows: states 'g', 'p'; columns: c, d


def cooperative(dyn, ns, gammas, tmax):
    """Whether learners from X0 end cooperative (x[p, c] > 0.5) and stable in the full space."""
    runs = dyn.trajectories(X0, tmax, 1e-9, n=ns, gamma=gammas)
    out = np.zeros(len(ns), dtype=bool)
    for j, (n, g) in enumerate(zip(ns, gammas)):
        x = runs.final[j]
        if x[1, 0] > 0.5:
            out[j] = dyn.stability(np.clip(x, 1e-300, None), n=int(n), gamma=g).stable
    return out


def critical_gamma(dyn, ns, lo=0.5, hi=1 - 1e-6, iterations=30, tmax=20000):
    """Bisection for gamma_c(n) on [lo, hi] (NaN where learners are not cooperative even at ``hi``)."""
    ns = np.asarray(ns)
    lo_, hi_ = np.full(len(ns), lo), np.full(len(ns), hi)
    ok_hi = cooperative(dyn, ns, hi_, tmax)
    for _ in range(iterations):
        mid = 0.5 * (lo_ + hi_)
        coop = cooperative(dyn, ns, mid, tmax)
        hi_ = np.where(coop, mid, hi_)
        lo_ = np.where(coop, lo_, mid)
    return np.where(ok_hi, hi_, np.nan)


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    game = anonymous.ecological_public_good(2, **GAME)
    dyn = anonymous.compile(game, "sarsa", prefactor=False, cache_dir=c.CACHE_DIR, **LEARNER)
    ns = np.unique(np.round(np.geomspace(2, 200, 12 if args.quick else 40)).astype(int))
    gc = critical_gamma(dyn, ns, iterations=14 if args.quick else 30)
    print("   n   gamma_c     1 - gamma_c")
    for n, g in zip(ns, gc):
        print(f"{n:4d}   {g:.6f}    {1 - g:.3e}")
    fig, (ax1, ax2) = c.figure(1, 2, figsize=(9, 3.6))
    ax1.plot(ns, gc, "o-", ms=3, gid="gamma_c")
    ax1.set_xscale("log")
    ax1.set_xlabel("group size n")
    ax1.set_ylabel(r"critical discount factor $\gamma_c$")
    ax1.set_title("cooperation needs patience")
    ax2.loglog(ns, 1 - gc, "o-", ms=3, gid="one_minus_gamma_c")
    fit = np.isfinite(gc)
    slope = np.polyfit(np.log(ns[fit]), np.log(1 - gc[fit]), 1)[0] if fit.sum() > 2 else np.nan
    ax2.set_xlabel("group size n")
    ax2.set_ylabel(r"$1 - \gamma_c$")
    ax2.set_title(f"log-log slope {slope:.2f}")
    print(f"log-log slope of 1 - gamma_c against n: {slope:.3f}")
    return [c.save(fig, args, "group_size.png")]


if __name__ == "__main__":
    main()
