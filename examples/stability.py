"""Stability of the fixed points, checked analytically.

For the chapter's ecological public good (SARSA, alpha=0.05, beta=50, gamma=0.75):

1. find the fixed points (Newton on the generated closed-form Jacobian) and classify them;
2. compare that Jacobian with an independent one: sympy differentiates the update map
   with the state values solved in closed form, and the result is evaluated exactly at
   each fixed point;
3. check what theory says: with no agency in the degraded state, ``Q(g, c) = Q(g, d)``,
   so the update there is ``y' = (1 - alpha) y`` and two eigenvalues are exactly
   ``1 - alpha``; SARSA fixed points are logit equilibria ``X ∝ exp(beta Q)``;
4. check the linearization against the dynamics: a small perturbation of each stable
   fixed point decays like ``rho^t`` (rho the spectral radius).

Prints a report and exits with status 1 if any check fails. Writes
stability_eigenvalues.png (the eigenvalues of every fixed point in the complex plane, with
the unit circle).
"""

from __future__ import annotations

import sys

import numpy as np
import sympy

import _common as c
from crldgen import fixed_points


def symbolic_jacobian(game, params: dict):
    """An independent Jacobian ``dy'/dy`` from sympy (closed-form values), as a function of y."""
    model = c.crldgen.derive(game, "sarsa", prefactor=True)
    subs = {sym: sympy.nsimplify(params[sym.name]) for sym in model.theta}
    for i in range(model.n_agents):
        subs[model.alpha[i]] = sympy.nsimplify(params["alpha"])
        subs[model.beta[i]] = sympy.nsimplify(params["beta"])
        subs[model.gamma[i]] = sympy.nsimplify(params["gamma"])
    values = {k: v.xreplace(subs) for k, v in model.values_closed_form().items()}
    x_of_y = model.strategy_of_logit()
    idx = list(np.ndindex(*model.y.shape))
    ys = [model.y[k] for k in idx]
    step = [model.update_logit[k].xreplace(subs).xreplace(values).xreplace(x_of_y) for k in idx]
    J = sympy.Matrix(step).jacobian(ys)
    return sympy.lambdify(ys, J.tolist(), "math")


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    dyn = c.ecopg()
    alpha = c.CHAPTER["alpha"]
    failures = []

    def check(ok: bool, what: str):
        print(f"  [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            failures.append(what)

    fps = fixed_points(dyn, n_starts=8 if args.quick else 32, rng=0)
    print(fps.summary())
    check(len(fps.points) == 3 and sum(pt.stable for pt in fps.points) == 2,
          "three fixed points: two stable nodes and a saddle")

    params = dict(dyn.defaults)
    params = {k: (float(v[0]) if np.ndim(v) else float(v)) for k, v in params.items()}
    jac = symbolic_jacobian(c.crldgen.games.ecological_public_good(2), params)
    for k, pt in enumerate(fps.points):
        print(f"\nfixed point {k} ({pt.type}): X[:, p, c] = {np.round(pt.X[:, c.P, c.C], 6)}")
        J_sym = np.array(jac(*pt.y.ravel()), dtype=float)
        diff = np.max(np.abs(J_sym - dyn.jacobian(pt.X)))
        check(diff < 1e-10, f"generated Jacobian = sympy Jacobian (max difference {diff:.1e})")
        ev = np.sort_complex(np.asarray(pt.eigenvalues, dtype=complex))
        n_g = int(np.sum(np.abs(ev - (1 - alpha)) < 1e-12))
        check(n_g >= 2, f"eigenvalue 1 - alpha = {1 - alpha} (degraded state, no agency) appears {n_g} times")
        Q = dyn.averages(pt.X).Q
        logit = np.exp(dyn.params()[1][:, None, None] * Q)
        logit /= logit.sum(-1, keepdims=True)
        err = np.max(np.abs(logit - pt.X))
        check(err < 1e-9, f"logit equilibrium X = softmax(beta Q) (max deviation {err:.1e})")
        rho = pt.spectral_radius
        check(pt.stable == (rho < 1), f"stable = {pt.stable} since spectral radius {rho:.6f} "
                                      f"{'<' if rho < 1 else '>'} 1")
        if pt.stable:
            v = np.real(pt.eigenvectors[:, 0])
            y0 = pt.y.ravel() + 1e-6 * v / np.linalg.norm(v)
            traj = dyn.trajectory(dyn.from_logit(y0), tmax=101, tol=None)
            d = [np.linalg.norm(dyn.to_logit(X).ravel() - pt.y.ravel()) for X in traj.X[[0, -1]]]
            rate = (d[1] / d[0]) ** (1 / (len(traj.X) - 1))
            check(abs(rate - rho) < 1e-4, f"perturbation decays at rate {rate:.6f} per step (rho = {rho:.6f})")

    axes = c.plot.eigenvalues(fps, names=[f"{pt.type}, P(c|p) = {pt.X[0, c.P, c.C]:.3f}" for pt in fps.points])
    axes[0].figure.suptitle("linear stability of the fixed points: inside the unit circle = contracting")
    fig = axes[0].figure
    written = [c.save(fig, args, "stability_eigenvalues.png")]
    if failures:
        print(f"\n{len(failures)} check(s) FAILED")
        sys.exit(1)
    print("\nall stability checks passed")
    return written


if __name__ == "__main__":
    main()
