"""The symbolic model (crldgen.derive) against the plain-numpy oracle tests/reference.py.

Every sympy quantity of a :class:`crldgen.Model` is evaluated numerically (strategies,
game parameters and learner parameters substituted as floats) and compared with the
reference at ``rtol = 1e-10``; the Jacobian is compared with central finite differences
of the reference logit step. Random games carry game parameters (one reward entry, one
reward scale and, for Z >= 2, one transition probability), evaluated away from their
defaults so that the parameters really stay symbols.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import sympy
from hypothesis import given, settings

import crldgen
from crldgen import Game

import reference as ref

RTOL = 1e-10
LEARNERS = ("sarsa", "actor_critic")
# (N, Z, M): every N in 1..3, Z in 1..3, M in 2..3 appears, games stay small
CASES = [(1, 1, 2), (1, 3, 3), (2, 1, 3), (2, 2, 2), (2, 3, 2), (3, 1, 2), (3, 2, 2), (2, 2, 3), (3, 3, 2)]
FLAVOURS = [(learner, prefactor) for learner in LEARNERS for prefactor in (True, False)]


# ------------------------------------------------------------------ helpers
def parametrized_game(g: dict, rng: np.random.Generator, name: str = "random"):
    """A crldgen Game built from the numeric game ``g`` with some entries replaced by parameters.

    Returns ``(game, theta, T, R)``: parameter values away from the defaults and the
    float tensors at those values (what the reference sees).
    """
    T, R = g["T"], g["R"]
    N, Z, M = R.shape[0], T.shape[0], T.shape[1]
    r, k, q = (sympy.Symbol(n, real=True) for n in ("r", "k", "q"))
    To, Ro = T.astype(object), R.astype(object)
    first, last = (0,) * N, (M - 1,) * N
    Tn, Rn = T.copy(), R.copy()
    params, theta = {}, {}
    # one reward entry is a parameter r
    at = (0, 0) + first + (0,)
    params[r], theta["r"] = float(R[at]), float(rng.normal())
    Ro[at], Rn[at] = r, theta["r"]
    # one reward row is scaled by k
    row = (N - 1, Z - 1) + last
    params[k], theta["k"] = 1.0, float(rng.uniform(0.5, 2.0))
    Ro[row] = np.array([k * sympy.Float(v, precision=53) for v in R[row]], dtype=object)
    Rn[row] = theta["k"] * R[row]
    if Z >= 2:  # one transition row is [q, tot - q, ...]
        tot = float(T[(0,) + first + (0,)] + T[(0,) + first + (1,)])
        params[q], theta["q"] = float(T[(0,) + first + (0,)]), float(rng.uniform(0.0, tot))
        To[(0,) + first + (0,)] = q
        To[(0,) + first + (1,)] = sympy.Float(tot, precision=53) - q
        Tn[(0,) + first + (0,)] = theta["q"]
        Tn[(0,) + first + (1,)] = tot - theta["q"]
    game = Game(To, Ro, params=params, name=name)
    return game, theta, Tn, Rn


@functools.lru_cache(maxsize=None)
def case_data(case):
    """Random game data of a case (fixed seed per case)."""
    N, Z, M = case
    rng = np.random.default_rng([N, Z, M, 2024])
    g = ref.random_game(rng, N, Z, M)
    game, theta, Tn, Rn = parametrized_game(g, rng, name=f"random_{N}{Z}{M}")
    g.update(game=game, theta=theta, T=Tn, R=Rn)
    return g


@functools.lru_cache(maxsize=None)
def cached_model(case, learner, prefactor):
    return crldgen.derive(case_data(case)["game"], learner, prefactor)


def F(x: float) -> sympy.Float:
    return sympy.Float(float(x), precision=53)


def input_subs(model, g, X=None, theta=None) -> dict:
    """Numeric substitutions for X, y, theta, alpha, beta, gamma."""
    X = g["X"] if X is None else X
    theta = g["theta"] if theta is None else theta
    y = ref.logit_of_strategy(X)
    subs = {}
    for idx in np.ndindex(X.shape):
        subs[model.X[idx]] = F(X[idx])
    for idx in np.ndindex(y.shape):
        subs[model.y[idx]] = F(y[idx])
    for i in range(model.n_agents):
        subs[model.alpha[i]] = F(g["alpha"][i])
        subs[model.beta[i]] = F(g["beta"][i])
        subs[model.gamma[i]] = F(g["gamma"][i])
    names = model.game.param_names
    assert tuple(s.name for s in model.theta) == names
    for sym, name in zip(model.theta, names):
        subs[sym] = F(theta[name])
    return subs


def num(expr, subs) -> float:
    """Evaluate one sympy expression; fails if any symbol is left."""
    val = sympy.sympify(expr).xreplace(subs)
    try:
        return float(val)
    except TypeError as exc:
        raise AssertionError(f"expression not numeric after substitution: {val}") from exc


def num_array(arr, subs) -> np.ndarray:
    """Evaluate a sympy Array/Matrix or an object array elementwise."""
    if not isinstance(arr, np.ndarray):
        arr = arr.tolist()
    arr = np.array(arr, dtype=object)
    out = np.empty(arr.shape)
    for idx in np.ndindex(arr.shape):
        out[idx] = num(arr[idx], subs)
    return out


def solve_values(model, subs) -> np.ndarray:
    """Solve ``model.value_equations`` numerically (linear in the V symbols)."""
    Vsyms = list(np.array(model.V.tolist(), dtype=object).ravel())
    exprs = [(eq.lhs - eq.rhs).xreplace(subs) for eq in model.value_equations]
    A, b = sympy.linear_eq_to_matrix(exprs, Vsyms)
    V = np.linalg.solve(np.array(A.tolist(), dtype=float), np.array(b.tolist(), dtype=float).ravel())
    return V.reshape(model.n_agents, model.n_obs)


def full_subs(model, g, **kw) -> tuple[dict, np.ndarray]:
    """Inputs plus V (from the model's own value equations) and W = (Id - gamma Tss)^-1."""
    subs = input_subs(model, g, **kw)
    V = solve_values(model, subs)
    for idx in np.ndindex(V.shape):
        subs[model.V[idx]] = F(V[idx])
    Tss = num_array(model.Tss, subs)
    Z = Tss.shape[0]
    for i in range(model.n_agents):
        W = np.linalg.inv(np.eye(Z) - g["gamma"][i] * Tss)
        for r, c in itertools.product(range(Z), range(Z)):
            subs[model._W[i, r, c]] = F(W[r, c])
    return subs, V


@functools.lru_cache(maxsize=None)
def cached_subs(case, learner, prefactor):
    return full_subs(cached_model(case, learner, prefactor), case_data(case))


def run_program(statements, subs) -> dict:
    """Evaluate program statements in order on top of ``subs``.

    Statements are ``(symbol, expr)`` assignments or linear solves (objects with
    ``targets``, ``A``, ``B``: ``targets = A^-1 B``), solved here with numpy.
    """
    env = dict(subs)

    def assign(sym, value):
        assert sym not in env, f"statement {sym} overwrites an input or an earlier statement"
        env[sym] = F(value)

    for st in statements:
        if hasattr(st, "targets"):
            A = num_array(np.array(st.A.tolist(), dtype=object), env)
            B = num_array(np.array(st.B.tolist(), dtype=object), env)
            sol = np.linalg.solve(A, B)
            for idx in np.ndindex(sol.shape):
                assign(st.targets[idx], sol[idx])
        else:
            sym, expr = st
            assign(sym, num(expr, env))
    return env


def assert_close(actual, desired, rtol=RTOL, atol=None, what=""):
    desired = np.asarray(desired, dtype=float)
    if atol is None:
        atol = 1e-12 * max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


def reference_all(g, learner, prefactor) -> dict:
    T, R, X, a, b, c = (g[k] for k in ("T", "R", "X", "alpha", "beta", "gamma"))
    y = ref.logit_of_strategy(X)
    return dict(
        Tss=ref.Tss(T, X), Ris=ref.Ris(T, R, X), Tisas=ref.Tisas(T, X), Risa=ref.Risa(T, R, X),
        V=ref.V(T, R, X, c, prefactor), Q=ref.Q(T, R, X, c, prefactor),
        td_error=ref.td_error(T, R, X, b, c, prefactor, learner),
        td_error_normalized=ref.td_error_normalized(T, R, X, b, c, prefactor, learner),
        update=ref.strategy_step(T, R, X, a, b, c, prefactor, learner),
        logit_step=ref.logit_step(T, R, y, a, b, c, prefactor, learner),
    )


def fd_jacobian(g, learner, prefactor):
    T, R, X, a, b, c = (g[k] for k in ("T", "R", "X", "alpha", "beta", "gamma"))
    return ref.logit_jacobian_fd(T, R, ref.logit_of_strategy(X), a, b, c, prefactor, learner)


def assert_jacobian_close(J, Jfd, what=""):
    # central differences with h = 1e-5: truncation ~ h^2, round-off ~ 1e-16 / h
    np.testing.assert_allclose(J, Jfd, rtol=1e-6, atol=1e-8 * max(1.0, np.max(np.abs(Jfd))), err_msg=what)


# ----------------------------------------------------------------- the game
@pytest.mark.parametrize("case", CASES)
def test_parametrized_game_numeric(case):
    """The test games themselves: Game.numeric at theta equals the reference's tensors."""
    g = case_data(case)
    num_ = g["game"].numeric(**g["theta"])
    np.testing.assert_array_equal(num_["T"], g["T"])
    np.testing.assert_allclose(num_["R"], g["R"], rtol=1e-15)


def test_derive_returns_model():
    model = cached_model((2, 2, 2), "sarsa", True)
    assert isinstance(model, crldgen.Model)
    assert (model.n_agents, model.n_states, model.n_actions, model.n_obs) == (2, 2, 2, 2)
    assert model.n_free == 4 and model.free_index(1, 0, 0) == 2
    assert model.learner.kind == "sarsa" and model.learner.prefactor is True
    assert crldgen.derive(case_data((2, 2, 2))["game"]).learner == crldgen.Learner("sarsa", True)
    ac = crldgen.derive(case_data((2, 2, 2))["game"], "actor-critic", prefactor=False)
    assert ac.learner.kind == "actor_critic" and ac.learner.prefactor is False
    with pytest.raises(crldgen.ParameterError, match="unknown learner"):
        crldgen.derive(case_data((2, 2, 2))["game"], "q-learning")


# ------------------------------------------------------- strategy averages
@pytest.mark.parametrize("case", CASES)
def test_strategy_averages(case):
    g = case_data(case)
    model = cached_model(case, "sarsa", True)
    subs = input_subs(model, g)
    expect = reference_all(g, "sarsa", True)
    got = {k: num_array(getattr(model, k), subs) for k in ("Tss", "Ris", "Tisas", "Risa")}
    for k, v in got.items():
        assert_close(v, expect[k], what=k)
    # consistency checks of crld-math.md section 2 (on the model's own numbers)
    X = g["X"]
    assert_close(np.einsum("isa,isa->is", X, got["Risa"]), got["Ris"], what="sum_a X Risa = Ris")
    for i in range(model.n_agents):
        assert_close(np.einsum("sa,sat->st", X[i], got["Tisas"][i]), got["Tss"], what="sum_a X Tisas = Tss")
    assert_close(got["Tss"].sum(-1), np.ones(case[1]), what="Tss rows")
    assert_close(got["Tisas"].sum(-1), np.ones(got["Tisas"].shape[:-1]), what="Tisas rows")


def test_three_agent_tisas_rows_sum_to_one():
    for case in [c for c in CASES if c[0] == 3]:
        g = case_data(case)
        model = cached_model(case, "sarsa", True)
        subs = input_subs(model, g)
        Tisas = np.array(model.Tisas.tolist(), dtype=object)
        for idx in np.ndindex(Tisas.shape[:-1]):
            assert abs(num(sympy.Add(*Tisas[idx]), subs) - 1.0) < 1e-13, (case, idx)


# ------------------------------------------------------- values, Q, errors
@pytest.mark.parametrize("learner,prefactor", FLAVOURS)
@pytest.mark.parametrize("case", CASES)
def test_values_q_td_error_update(case, learner, prefactor):
    g = case_data(case)
    model = cached_model(case, learner, prefactor)
    subs, V = cached_subs(case, learner, prefactor)
    expect = reference_all(g, learner, prefactor)
    assert_close(V, expect["V"], what="V from value_equations")
    # the reference values satisfy the value equations
    ref_subs = input_subs(model, g)
    ref_subs.update({model.V[idx]: F(expect["V"][idx]) for idx in np.ndindex(V.shape)})
    scale = max(1.0, np.max(np.abs(expect["V"])))
    for eq in model.value_equations:
        assert abs(num(eq.lhs - eq.rhs, ref_subs)) < 1e-12 * scale, eq
    Q = num_array(model.Q, subs)
    assert_close(Q, expect["Q"], what="Q")
    assert_close(np.einsum("isa,isa->is", g["X"], Q), V, what="sum_a X Q = V")
    assert_close(num_array(model.td_error, subs), expect["td_error"], what="td_error")
    assert_close(num_array(model.td_error_normalized, subs), expect["td_error_normalized"], what="normalized")
    assert_close(num_array(model.update, subs), expect["update"], what="update")
    assert_close(num_array(model.update_logit, subs), expect["logit_step"], what="update_logit")


@pytest.mark.parametrize("case", [c for c in CASES if c[1] <= 2] + [(2, 3, 2)])
def test_values_closed_form(case):
    g = case_data(case)
    for prefactor in (True, False):
        model = cached_model(case, "sarsa", prefactor)
        subs = input_subs(model, g)
        closed = model.values_closed_form()
        assert set(closed) == set(np.array(model.V.tolist(), dtype=object).ravel())
        V = np.array([[num(closed[model.V[i, s]], subs) for s in range(case[1])] for i in range(case[0])])
        assert_close(V, ref.V(g["T"], g["R"], g["X"], g["gamma"], prefactor), what="closed-form V")


def test_values_closed_form_refuses_large_games():
    T, R = ref.random_game(np.random.default_rng(0), 1, 4, 2)["T"], ref.random_game(
        np.random.default_rng(0), 1, 4, 2)["R"]
    model = crldgen.derive(Game(T, R))
    with pytest.raises(crldgen.ParameterError, match="Z <= 3"):
        model.values_closed_form()


@pytest.mark.parametrize("learner", LEARNERS)
def test_strategy_of_logit(learner):
    """strategy_of_logit gives X = softmax(y) (with y[M-1] = 0), the X that update_logit assumes."""
    case = (2, 2, 3)
    g = case_data(case)
    model = cached_model(case, learner, True)
    subs, _ = cached_subs(case, learner, True)
    Xy = model.strategy_of_logit()
    X = np.array([[[num(Xy[model.X[i, s, a]], subs) for a in range(3)] for s in range(2)] for i in range(2)])
    assert_close(X, g["X"], what="strategy_of_logit")


# ------------------------------------------------------------------- Jacobian
@pytest.mark.parametrize("learner,prefactor", FLAVOURS)
@pytest.mark.parametrize("case", CASES)
def test_jacobian_program(case, learner, prefactor):
    g = case_data(case)
    model = cached_model(case, learner, prefactor)
    subs, _ = cached_subs(case, learner, prefactor)
    prog, J = model.jacobian_program()
    assert J.shape == (model.n_free, model.n_free)
    env = run_program(prog.statements, subs)
    Jnum = num_array(J, env)
    assert_jacobian_close(Jnum, fd_jacobian(g, learner, prefactor), what=f"{case} {learner} {prefactor}")


def test_jacobian_program_without_symbolic_averages():
    case = (2, 2, 2)
    g = case_data(case)
    model = cached_model(case, "actor_critic", True)
    subs, _ = cached_subs(case, "actor_critic", True)
    prog, J = model.jacobian_program(symbolic_averages=False)
    assert not any(s.name.startswith(("Tisas", "Risa", "Tss", "Ris")) for s, _ in prog.statements)
    Jnum = num_array(J, run_program(prog.statements, subs))
    assert_jacobian_close(Jnum, fd_jacobian(g, "actor_critic", True))


# ---------------------------------------------------------- model.program
PROGRAM_OUTPUTS = ("Tss", "Ris", "Tisas", "Risa", "V", "Q", "td_error", "logit_step", "jacobian")


@pytest.mark.parametrize("learner,prefactor", FLAVOURS)
@pytest.mark.parametrize("case", CASES)
def test_program_all_outputs(case, learner, prefactor):
    """model.program: inputs X, y, theta and learner symbols only (no V, no W)."""
    g = case_data(case)
    model = cached_model(case, learner, prefactor)
    prog, out = model.program(set(PROGRAM_OUTPUTS))
    assert set(out) == set(PROGRAM_OUTPUTS)
    env = run_program(prog.statements, input_subs(model, g))
    expect = reference_all(g, learner, prefactor)
    for name in PROGRAM_OUTPUTS[:-1]:
        assert_close(num_array(out[name], env), expect[name], what=name)
    assert out["jacobian"].shape == (model.n_free, model.n_free)
    assert_jacobian_close(num_array(out["jacobian"], env), fd_jacobian(g, learner, prefactor))


@pytest.mark.parametrize("outputs", [("td_error",), ("logit_step",), ("jacobian",), ("Tss", "Risa"), ("V", "Q")])
def test_program_output_subsets(outputs):
    case = (2, 2, 3)
    g = case_data(case)
    model = cached_model(case, "sarsa", True)
    prog, out = model.program(outputs)
    assert set(out) == set(outputs)
    env = run_program(prog.statements, input_subs(model, g))
    expect = reference_all(g, "sarsa", True)
    for name in outputs:
        if name == "jacobian":
            assert_jacobian_close(num_array(out[name], env), fd_jacobian(g, "sarsa", True))
        else:
            assert_close(num_array(out[name], env), expect[name], what=name)


@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("case", [(1, 5, 2), (2, 5, 2)])
def test_program_many_states(case, learner):
    """Larger Z (the value solve may be a linear-solve statement instead of an unrolled inverse)."""
    g = case_data(case)
    model = crldgen.derive(g["game"], learner, False)
    prog, out = model.program(("V", "Q", "td_error", "logit_step", "jacobian"))
    env = run_program(prog.statements, input_subs(model, g))
    expect = reference_all(g, learner, False)
    for name in ("V", "Q", "td_error", "logit_step"):
        assert_close(num_array(out[name], env), expect[name], what=name)
    assert_jacobian_close(num_array(out["jacobian"], env), fd_jacobian(g, learner, False))


def test_program_at_other_parameters_and_strategies():
    """One program serves every theta and X: evaluate it at fresh values."""
    case = (3, 2, 2)
    g = case_data(case)
    model = cached_model(case, "actor_critic", False)
    prog, out = model.program(("td_error", "logit_step"))
    rng = np.random.default_rng(7)
    for _ in range(2):
        X = rng.dirichlet(np.ones(2), size=(3, 2))
        theta = {k: v + rng.normal(scale=0.1) for k, v in g["theta"].items()}
        theta["q"] = min(max(theta["q"], 0.0), g["T"][0, 0, 0, 0, 0] + g["T"][0, 0, 0, 0, 1])
        num_ = g["game"].numeric(**theta)
        env = run_program(prog.statements, input_subs(model, g, X=X, theta=theta))
        expect = ref.td_error(num_["T"], num_["R"], X, g["beta"], g["gamma"], False, "actor_critic")
        assert_close(num_array(out["td_error"], env), expect, what="td_error")
        y = ref.logit_of_strategy(X)
        expect = ref.logit_step(num_["T"], num_["R"], y, g["alpha"], g["beta"], g["gamma"], False, "actor_critic")
        assert_close(num_array(out["logit_step"], env), expect, what="logit_step")


# ------------------------------------------------------------ built-in games
BUILTIN_CASES = [
    ("ecopg2", lambda: crldgen.games.ecological_public_good(), {"qc": 0.3, "m": -3.0}),
    ("ecopg3_dc", lambda: crldgen.games.ecological_public_good(3, degraded_choice=True), {"f": 2.0}),
    ("ecopg_c", lambda: crldgen.games.ecological_public_good(c=[5, 4]), {"c_1": 2.5}),
    ("social_dilemma", lambda: crldgen.games.social_dilemma(), {}),
    ("risk_reward", lambda: crldgen.games.risk_reward(), {"pc": 0.4}),
]


@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("name,make,theta", BUILTIN_CASES, ids=[c[0] for c in BUILTIN_CASES])
def test_builtin_games(name, make, theta, learner):
    game = make()
    rng = np.random.default_rng(len(name))
    N, Z, M = game.n_agents, game.n_states, game.n_actions
    g = dict(X=rng.dirichlet(2 * np.ones(M), size=(N, Z)), alpha=rng.uniform(0.05, 1, N),
             beta=rng.uniform(0.5, 5, N), gamma=rng.uniform(0, 0.95, N),
             theta=dict(game.params, **theta))
    g.update(game.numeric(**theta))
    model = crldgen.derive(game, learner, True)
    prog, out = model.program(("V", "td_error", "logit_step", "jacobian"))
    env = run_program(prog.statements, input_subs(model, g))
    expect = reference_all(g, learner, True)
    for k in ("V", "td_error", "logit_step"):
        assert_close(num_array(out[k], env), expect[k], what=k)
    assert_jacobian_close(num_array(out["jacobian"], env), fd_jacobian(g, learner, True))


def test_ecological_public_good_chapter_values():
    """At X = 1/2 everywhere: Tss, Ris of the EcoPG by hand."""
    game = crldgen.games.ecological_public_good()
    model = crldgen.derive(game)
    subs = input_subs(model, dict(X=np.full((2, 2, 2), 0.5), alpha=[1, 1], beta=[1, 1], gamma=[0.5, 0.5],
                                  theta=game.params))
    g_, p_ = 0, 1
    Tss = num_array(model.Tss, subs)
    # collapse probability from p: mean over joint actions of (#defectors * 0.2 / 2) = 0.1
    assert_close(Tss[p_], [0.1, 0.9])
    assert_close(Tss[g_], [0.99, 0.01])
    Ris = num_array(model.Ris, subs)
    # in p, agent 0 over the joint actions (cc, cd, dc, dd), each with probability 1/4:
    # cc: 1; cd: 0.9 * (-2) + 0.1 * (-5); dc: 0.9 * 3 + 0.1 * (-5); dd: 0.8 * 0 + 0.2 * (-5)
    hand = (1 + (0.9 * -2 + 0.1 * -5) + (0.9 * 3 + 0.1 * -5) + (0.2 * -5)) / 4
    assert_close(Ris[:, p_], [hand, hand])
    assert_close(Ris[:, g_], [-5.0, -5.0])


# ---------------------------------------------------------------- hypothesis
@settings(max_examples=6, deadline=None, derandomize=True)
@given(g=ref.game_strategy(max_agents=3, max_states=3, max_actions=3))
def test_random_games_hypothesis(g):
    rng = np.random.default_rng(g["seed"])
    game, theta, Tn, Rn = parametrized_game(g, rng)
    g = dict(g, T=Tn, R=Rn, theta=theta)
    learner = LEARNERS[g["seed"] % 2]
    prefactor = bool((g["seed"] // 2) % 2)
    model = crldgen.derive(game, learner, prefactor)
    prog, out = model.program(("V", "Q", "td_error", "logit_step", "jacobian"))
    env = run_program(prog.statements, input_subs(model, g))
    expect = reference_all(g, learner, prefactor)
    for k in ("V", "Q", "td_error", "logit_step"):
        assert_close(num_array(out[k], env), expect[k], what=k)
    assert_jacobian_close(num_array(out["jacobian"], env), fd_jacobian(g, learner, prefactor))


# ------------------------------------------------ parameter names vs internal names
@pytest.mark.parametrize("pname", ["V_0_0", "g_0_1", "Tisas_0_0_0_0", "inv0_p0", "cs3", "out", "np"])
def test_parameter_named_like_internal_symbol(pname):
    """A game parameter named like an internal symbol (V_0_0, g_0_1, Tisas_0_0_0_0, inv0_p0, ...).

    It is the same sympy Symbol (real=True, same name) as a value or statement symbol of
    the model's programs, so the parameter is silently replaced by that quantity. Game
    should reject such names (or the model should use names that cannot collide).
    """
    g = ref.random_game(np.random.default_rng(11), 2, 2, 2)
    v = sympy.Symbol(pname, real=True)
    R = g["R"].astype(object)
    R[0, 1, 1, 1, 1] = v
    try:
        game = Game(g["T"], R, params={v: float(g["R"][0, 1, 1, 1, 1])})
    except crldgen.GameError as exc:  # rejecting the name is a fix
        assert pname in str(exc)
        return
    g["theta"] = {pname: float(g["R"][0, 1, 1, 1, 1])}
    model = crldgen.derive(game, "sarsa", True)
    prog, out = model.program(("td_error", "jacobian"))
    env = run_program(prog.statements, input_subs(model, g))
    assert_close(num_array(out["td_error"], env), reference_all(g, "sarsa", True)["td_error"])
