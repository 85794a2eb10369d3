"""crldgen.symbolic.stability: the Jacobian, eigenvalues and critical parameters with sympy.

Closed forms for the 2x2 social dilemma at the symmetric point X[i] = (x, 1-x) (one
state, prefactor on): with D = R - T - S + P and c = beta (1-gamma) x (1-x) D,

    J = [[1 - alpha, alpha c], [alpha c, 1 - alpha]],   lambda = 1 - alpha +- alpha c.

Checked against the generated Jacobian, against direct sympy differentiation through
``X = softmax(y)``, and the critical values against numerical continuation.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import crldgen
from crldgen.symbolic import stability as ss

HALF = sympy.Rational(1, 2)


@pytest.fixture(scope="module")
def sd_model():
    return crldgen.derive(crldgen.games.social_dilemma(), "sarsa")


@pytest.fixture(scope="module")
def eco_model():
    return crldgen.derive(crldgen.games.ecological_public_good(2), "sarsa")


def names(model):
    """Game parameter symbols of the social dilemma by role, found from the reward tensor."""
    R = model.game.R
    return {"R": R[0, 0, 0, 0, 0], "S": R[0, 0, 0, 1, 0], "T": R[0, 0, 1, 0, 0], "P": R[0, 0, 1, 1, 0]}


def test_symmetric_point_closed_form(sd_model):
    x = sympy.Symbol("x", positive=True)
    st = ss.symbolic_stability(sd_model, [[[x, 1 - x]], [[x, 1 - x]]])
    a, b, g = ss.COMMON["alpha"], ss.COMMON["beta"], ss.COMMON["gamma"]
    n = names(sd_model)
    c = b * (1 - g) * x * (1 - x) * (n["R"] - n["T"] - n["S"] + n["P"])
    expected = sympy.Matrix([[1 - a, a * c], [a * c, 1 - a]])
    assert sympy.simplify(st.jacobian - expected) == sympy.zeros(2, 2)
    assert len(st.eigenvalues) == 2
    for lam, sign in zip(sorted(st.eigenvalues, key=sympy.default_sort_key), (1, -1)):
        assert any(sympy.simplify(lam - (1 - a + s * a * c)) == 0 for s in (1, -1))
    assert all(sympy.simplify(f - (lam - 1) / a) == 0 for f, lam in zip(st.flow_eigenvalues, st.eigenvalues))
    tex = st.latex()
    assert r"\alpha" in tex and r"\beta" in tex and r"\gamma" in tex and "x" in tex
    # the fixed point condition at the symmetric point: x = sigmoid(beta (1-gamma) (x (R-T) + (1-x)(S-P)))
    assert st.residual.shape == (2, 1) and st.is_fixed_point() is None


def test_symbolic_jacobian_matches_generated(compiled, sd_model, eco_model, ecopg2):
    rng = np.random.default_rng(5)
    for model, dyn, params in ((sd_model, compiled(crldgen.games.social_dilemma), dict(alpha=0.3, beta=7.0,
                                                                                          gamma=0.4)),
                               (eco_model, ecopg2, dict(alpha=0.05, beta=50.0, gamma=0.8))):
        X = rng.dirichlet(np.ones(dyn.n_actions), size=dyn.shape[:2])
        J_num = dyn.jacobian(X, **params)
        game = {k: v for k, v in dyn.defaults.items() if k not in ("alpha", "beta", "gamma")}
        J_sym = ss.jacobian(model, X.tolist(), params={**params, **game}, simplify=False)
        np.testing.assert_allclose(np.array(J_sym.evalf(), dtype=float), J_num, rtol=1e-10, atol=1e-12)


def test_chain_rule_equals_direct_differentiation(sd_model):
    """The Jacobian in X equals d(update_logit)/dy with X = softmax(y) substituted (strategy_of_logit)."""
    m = sd_model
    values = m.values_closed_form()
    soft = m.strategy_of_logit()
    y = list(m._y.flat)
    f = sympy.Matrix([m._update_logit[idx].xreplace(values).xreplace(soft) for idx in np.ndindex(*m._y.shape)])
    J_direct = f.jacobian(y)
    params = dict(alpha=0.2, beta=3.0, gamma=0.3, **{str(s): v for s, v in zip(names(m).values(), (1, 0, 2, -1))})
    subs = ss.parameter_substitutions(m, params)
    at_y = {y[0]: 0.4, y[1]: -1.3}
    J1 = np.array(J_direct.xreplace(subs).subs(at_y).evalf(), dtype=float)
    X = {m._X[i, 0, 0]: 1 / (1 + np.exp(-at_y[y[i]])) for i in range(2)}
    X.update({m._X[i, 0, 1]: 1 - X[m._X[i, 0, 0]] for i in range(2)})
    J2 = np.array(ss.jacobian(m, None, params, simplify=False).xreplace(X).evalf(), dtype=float)
    np.testing.assert_allclose(J1, J2, rtol=1e-12)


def test_pitchfork_of_the_stag_hunt_closed_form_and_numeric(sd_model, compiled):
    """x = 1/2 is a fixed point when R - T = P - S; it loses stability at beta = 2/(1-gamma) (D = 2)."""
    n = names(sd_model)
    pay = {str(n["R"]): 4, str(n["T"]): 3, str(n["S"]): 0, str(n["P"]): 1}
    st = ss.symbolic_stability(sd_model, [[[HALF, HALF]], [[HALF, HALF]]], params=pay)
    assert st.is_fixed_point() is True
    gamma = sympy.Rational(1, 2)
    crit = st.critical_values("beta", kind="fold", gamma=gamma, alpha=sympy.Rational(1, 10))
    assert crit == [4]
    assert st.stable_set("beta", gamma=gamma, alpha=sympy.Rational(1, 10)) == sympy.Interval.open(0, 4)
    g = ss.COMMON["gamma"]
    general = st.critical_values("beta", kind="fold")  # beta = -2/(1-gamma) < 0 is dropped
    assert len(general) == 1 and sympy.simplify(general[0] - 2 / (1 - g)) == 0
    dyn = compiled(crldgen.games.social_dilemma)
    res = crldgen.continuation(dyn, "beta", dyn.uniform_strategy(), start=1.0, bounds=(1.0, 8.0), alpha=0.1,
                               gamma=0.5, **pay)
    assert res.bifurcations[0].value == pytest.approx(float(crit[0]), abs=1e-9)


def test_flip_of_chicken_closed_form_and_numeric(sd_model, compiled):
    n = names(sd_model)
    pay = {str(n["R"]): 1, str(n["T"]): 2, str(n["S"]): 0, str(n["P"]): -1}
    st = ss.symbolic_stability(sd_model, [[[HALF, HALF]], [[HALF, HALF]]], params=pay)
    crit = st.critical_values("alpha", kind="flip", beta=4, gamma=0)
    assert crit == [sympy.Rational(2, 3)]
    dyn = compiled(crldgen.games.social_dilemma)
    res = crldgen.continuation(dyn, "alpha", dyn.uniform_strategy(), start=0.05, bounds=(0.05, 1.0), beta=4.0,
                               gamma=0.0, **pay)
    assert res.bifurcations[0].kind == "period_doubling"
    assert res.bifurcations[0].value == pytest.approx(2 / 3, abs=1e-9)


def test_critical_discount_factor_of_the_ecological_public_good(eco_model, ecopg2):
    """The folds of the hysteresis loop: a 2-agent 2-state game at a symmetric fixed point, solved with sympy."""
    x = sympy.Symbol("x", positive=True)
    point = [[[HALF, HALF], [x, 1 - x]], [[HALF, HALF], [x, 1 - x]]]
    params = dict(alpha=0.05, beta=50)
    folds = [ss.critical_value(eco_model, "gamma", point, guess=guess, params=params)
             for guess in (dict(x=0.1, gamma=0.82), dict(x=0.9, gamma=0.72))]
    start = crldgen.fixed_points(ecopg2, n_starts=8, rng=0, gamma=0.6, **params).points[0].X
    branch = crldgen.continuation(ecopg2, "gamma", start, start=0.6, bounds=(0.6, 0.9), observable=("p", "c"),
                                  **params)
    numeric = [b for b in branch.bifurcations if b.kind == "fold"]
    assert len(numeric) == 2
    for sym, num in zip(folds, numeric):
        assert float(sym["gamma"]) == pytest.approx(num.value, abs=1e-9)
        assert float(sym["x"]) == pytest.approx(num.observable, abs=1e-8)
    assert 0.82 < float(folds[0]["gamma"]) <= 0.825 and 0.715 <= float(folds[1]["gamma"]) < 0.72


def test_errors(sd_model):
    with pytest.raises(crldgen.ParameterError, match="unknown parameter"):
        ss.jacobian(sd_model, params={"nope": 1})
    with pytest.raises(crldgen.ParameterError, match="shape"):
        ss.jacobian(sd_model, [[0.5, 0.5]])
    with pytest.raises(crldgen.ParameterError, match="kind"):
        ss.critical_value(sd_model, "beta", [[[HALF, HALF]], [[HALF, HALF]]], guess={"beta": 1}, kind="bogus")


def test_text_is_never_parsed_as_a_point_or_parameter():
    model = crldgen.derive(crldgen.games.social_dilemma())
    hostile = "__import__('os').system('touch /tmp/crldgen-pwned')"
    with pytest.raises(crldgen.ParameterError, match="never parsed"):
        crldgen.symbolic_stability(model, [[[hostile, 0.5]], [[0.5, 0.5]]])
    with pytest.raises(crldgen.ParameterError, match="never parsed"):
        crldgen.symbolic_stability(model, [[[0.5, 0.5]], [[0.5, 0.5]]], params={"beta": hostile})


def test_neimark_sacker_critical_values_of_matching_pennies():
    """lambda = 1 - alpha +- i alpha beta (1 - gamma) at x = 1/2: the pair reaches |lambda| = 1 at
    alpha = 2 / (1 + beta^2 (1 - gamma)^2) (by hand), a Neimark-Sacker crossing (issue 17)."""
    T = np.ones((1, 2, 2, 1))
    R = np.zeros((2, 1, 2, 2, 1))
    R[0, 0, :, :, 0] = [[1, -1], [-1, 1]]
    R[1] = -R[0]
    model = crldgen.derive(crldgen.Game(T, R, states=("s",), actions=("h", "t"), name="matching_pennies"))
    st = ss.symbolic_stability(model, [[[HALF, HALF]], [[HALF, HALF]]])
    for beta, gamma in ((4, 0), (4, HALF)):
        want = sympy.Rational(2) / (1 + beta ** 2 * (1 - gamma) ** 2)
        assert st.critical_values("alpha", beta=beta, gamma=gamma) == [want]
        assert st.critical_values("alpha", beta=beta, gamma=gamma, with_kind=True) == [(want, "neimark_sacker")]
        assert st.critical_values("alpha", kind="fold", beta=beta, gamma=gamma) == []
        assert st.stable_set("alpha", beta=beta, gamma=gamma) == sympy.Interval.open(0, want)
    with pytest.raises(crldgen.ParameterError, match="kind"):
        st.critical_values("alpha", kind="hopf", beta=4, gamma=0)
