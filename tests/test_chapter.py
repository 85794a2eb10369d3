"""The learning-dynamics chapter's experiments, reproduced with one compiled module.

Ecological public good, N=2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01, SARSA with prefactor
(the ``ecopg2`` fixture). States ('g', 'p'): g=0, p=1; actions ('c', 'd'): c=0, d=1.
Numbers from the chapter (sections "Learning trajectories", "Critical transition",
"Hysteresis"); the hysteresis jump locations were measured independently with numpy.
"""

import numpy as np
import pytest

G, P = 0, 1
C, D = 0, 1


def compile_strategy(p0c: float, p1c: float) -> np.ndarray:
    """The chapter's helper: cooperation 0.5 in the degraded state, p0c / p1c in the prosperous one."""
    Pi = np.array([0.5, p0c])
    Pj = np.array([0.5, p1c])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


def critical_pcs() -> np.ndarray:
    pcs = np.concatenate([np.linspace(0.01, 0.99, 51), np.linspace(0.185, 0.195, 151)])
    return np.sort(np.unique(pcs))


CHAPTER = dict(alpha=0.01, beta=100.0, gamma=0.75)  # critical-transition section


def test_fixture_is_the_chapter_game(ecopg2):
    assert ecopg2.states == ("g", "p") and ecopg2.actions == ("c", "d")
    d = ecopg2.defaults
    assert (d["f"], d["c"], d["m"], d["qc"], d["qr"]) == (1.2, 5.0, -5.0, 0.2, 0.01)
    assert ecopg2.learner == "sarsa" and ecopg2.prefactor


@pytest.mark.parametrize("pc, length", [(0.18, 178), (0.19, 234), (0.20, 174)])
def test_critical_transition_three_trajectories(ecopg2, pc, length):
    X0 = compile_strategy(pc, 0.95)
    res = ecopg2.trajectory(X0, 5000, 1e-5, **CHAPTER)
    assert res.converged and res.steps == length
    assert res.X.shape == (length, 2, 2, 2)
    np.testing.assert_array_equal(res.X[0], X0)
    np.testing.assert_array_equal(res.X[-1], res.final)
    # the converged next strategy is not recorded: the last recorded step is still >= tol
    assert np.linalg.norm(ecopg2.step(res.X[-2], **CHAPTER) - res.X[-2]) >= 1e-5
    assert np.linalg.norm(ecopg2.step(res.final, **CHAPTER) - res.final) < 1e-5
    coop = res.final[:, P, C]
    if pc == 0.18:
        assert np.all(coop < 1e-3)  # tips to defection
    else:
        assert np.all(coop > 0.999)  # cooperation
    np.testing.assert_allclose(res.final[:, G, C], 0.5, atol=1e-6)  # randomize in the degraded state


def test_trajectory_from_the_printed_random_strategy(ecopg2):
    """'Learning trajectories': the float32 strategy printed in the chapter reaches a fixed point in 147 steps."""
    X = np.array([[[0.36419877, 0.63580126], [0.287849, 0.712151]],
                  [[0.69508857, 0.30491143], [0.41352522, 0.5864748]]], dtype=np.float32).astype(float)
    X /= X.sum(-1, keepdims=True)
    res = ecopg2.trajectory(X, 5000, 1e-5, alpha=0.05, beta=50.0, gamma=0.75)
    assert res.converged and res.steps == 147


def test_critical_point_sweep_of_201_trajectories(ecopg2):
    pcs = critical_pcs()
    assert len(pcs) == 201
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    res = ecopg2.trajectories(X0s, 5000, 1e-5, **CHAPTER)
    assert res.converged.all()
    converged_pcs = res.final[:, :, P, C]
    hist = np.histogram(converged_pcs.mean(-1), range=(0, 1))[0]
    np.testing.assert_array_equal(hist, [80, 0, 0, 0, 0, 0, 0, 0, 0, 121])
    cp = hist[0]
    assert pcs[cp - 1] == 0.18966666666666668 and pcs[cp] == 0.18973333333333334
    assert np.all(converged_pcs[:cp] < 0.5) and np.all(converged_pcs[cp:] > 0.5)
    # critical slowing down: the two runs around the critical point are the slowest
    assert set(np.argsort(res.steps)[-2:]) == {cp - 1, cp}


def test_critical_point_bundle_with_full_trajectories(ecopg2):
    pcs = critical_pcs()
    X0s = np.array([compile_strategy(pc, 0.95) for pc in pcs])
    full = ecopg2.trajectories(X0s, 5000, 1e-5, every=1, **CHAPTER)
    assert full.X.shape == (201, full.steps.max(), 2, 2, 2)
    np.testing.assert_array_equal(full.n_stored, full.steps)
    one = full[80]
    ref = ecopg2.trajectory(X0s[80], 5000, 1e-5, **CHAPTER)
    assert one.steps == ref.steps
    np.testing.assert_allclose(one.X, ref.X, rtol=0, atol=1e-14)
    assert np.isnan(full.X[0, full.steps[0]:]).all()


def _hysteresis_curve() -> np.ndarray:
    dcfs = list(np.arange(0.6, 0.9, 0.005))
    return np.array(dcfs + dcfs[::-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_hysteresis_over_the_discount_factor(ecopg2, seed):
    hyst = _hysteresis_curve()
    assert len(hyst) == 122
    X0 = ecopg2.random_strategy(np.random.default_rng(seed))
    module = ecopg2.module
    ecopg2.sweep(X0, "gamma", hyst[:3], 2500, 10e-12, alpha=0.05, beta=50.0)  # compile (or load) once
    kernels = [module.trajectory, module.logit_step]
    before = [len(k.signatures) for k in kernels]

    sw = ecopg2.sweep(X0, "gamma", hyst, 2500, 10e-12, alpha=0.05, beta=50.0)

    assert ecopg2.module is module  # one compiled module, gamma passed at run time
    assert [len(k.signatures) for k in kernels] == before  # no recompilation
    assert len(module.trajectory.signatures) == 1
    assert sw.converged.all() and sw.ran.all()
    np.testing.assert_array_equal(sw.params["gamma"][:, 0], hyst)
    coop = sw.final[:, :, P, C].mean(-1)  # the chapter's X[:, 1, 0] averaged over agents
    up, down = coop[:60], coop[60:]
    gam_up, gam_down = hyst[:60], hyst[60:]
    # on the way up cooperation jumps to ~1 at gamma = 0.825 ...
    jump = np.argmax(up > 0.5)
    assert gam_up[jump] == pytest.approx(0.825)
    assert np.all(up[:jump] < 0.1) and np.all(up[jump:] > 0.99)
    # ... and on the way down stays high until it drops to ~0 at gamma = 0.715
    drop = np.argmax(down < 0.5)
    assert gam_down[drop] == pytest.approx(0.715)
    assert np.all(down[:drop] > 0.9) and np.all(down[drop:] < 1e-3)


def test_hysteresis_sweep_equals_the_chapter_loop(ecopg2):
    """The compiled continuation equals the chapter's Python loop of trajectory calls."""
    hyst = _hysteresis_curve()[50:75]  # around the upper turning point
    X0 = ecopg2.random_strategy(np.random.default_rng(3))
    sw = ecopg2.sweep(X0, "gamma", hyst, 2500, 10e-12, alpha=0.05, beta=50.0)
    X = X0
    for v, dcf in enumerate(hyst):
        trj = ecopg2.trajectory(X, 2500, 10e-12, alpha=0.05, beta=50.0, gamma=dcf, every=None)
        assert trj.steps == sw.steps[v] and trj.converged == sw.converged[v]
        np.testing.assert_allclose(trj.final, sw.final[v], rtol=0, atol=1e-13)
        X = trj  # continue exactly from the last recorded strategy (the chapter's X = trj[-1])


def test_hysteresis_without_carry_is_a_parallel_batch(ecopg2):
    hyst = _hysteresis_curve()[::10]
    X0 = compile_strategy(0.9, 0.9)
    sw = ecopg2.sweep(X0, "gamma", hyst, 2500, 10e-12, carry=False, alpha=0.05, beta=50.0)
    batch = ecopg2.trajectories(X0, 2500, 10e-12, gamma=hyst, alpha=0.05, beta=50.0)
    np.testing.assert_array_equal(sw.steps, batch.steps)
    np.testing.assert_array_equal(sw.final, batch.final)
    assert not sw.carry
