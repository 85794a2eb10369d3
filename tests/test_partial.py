"""Partial observability (crld-math.md section 7): programs vs an independent numpy reference.

The reference below (``ref_*``) is plain numpy/einsum written from crld-math.md and does
not import crldgen. Programs are evaluated statement by statement (``LinearSolve`` with
``np.linalg.solve``) by :func:`program_function`.
"""

from __future__ import annotations

import string

import numpy as np
import pytest
import sympy
from sympy.printing.pycode import PythonCodePrinter

import crldgen
from crldgen import Game, derive
from crldgen.errors import GameError, ParameterError
from crldgen.games import uncertain_social_dilemma
from crldgen.symbolic.partial import POModel, PO_OUTPUTS, po_jacobian_program
from crldgen.symbolic.program import LinearSolve

RTOL = 1e-10


# =========================================================== numpy reference
def ref_joint_sum(T, Y, fixed=None):
    """``sum_b prod_{j not in fixed} Y[j,s,b_j] T[s, b, ...]`` with ``b_i = fixed[i]``.

    ``T`` has shape ``(Z, M, ..., M, *rest)``; returns shape ``(Z, *rest)``.
    """
    fixed = fixed or {}
    N = Y.shape[0]
    letters = string.ascii_letters[:N]
    sub_T = "z" + "".join(letters) + "..."
    operands, subs = [T], [sub_T]
    for j in range(N):
        if j in fixed:
            continue
        operands.append(Y[j])
        subs.append("z" + letters[j])
    out = np.einsum(",".join(subs) + "->z" + "".join(letters) + "...", *operands)
    idx = tuple([slice(None)] + [fixed.get(j, slice(None)) for j in range(N)])
    out = out[idx]
    free_axes = tuple(range(1, 1 + N - len(fixed)))
    return out.sum(axis=free_axes)


def ref_state_averages(T, R, Y):
    N, Z, M = Y.shape
    TR = (T[None] * R).sum(axis=-1)  # (N, Z, M.., M)
    Tss = ref_joint_sum(T, Y)
    Tisas = np.array([[ref_joint_sum(T, Y, {i: a}) for a in range(M)] for i in range(N)])  # (N, M, Z, Z)
    Tisas = Tisas.transpose(0, 2, 1, 3)
    Risa = np.array([[ref_joint_sum(TR[i], Y, {i: a}) for a in range(M)] for i in range(N)]).transpose(0, 2, 1)
    Ris = np.einsum("isa,isa->is", Y, Risa)
    return Tss, Ris, Tisas, Risa


def ref_stationary(Tss):
    """Stationary distribution from the eigenvector of eigenvalue 1 (independent of the solve)."""
    w, v = np.linalg.eig(Tss.T)
    k = np.argmin(np.abs(w - 1))
    p = np.real(v[:, k])
    return p / p.sum()


def ref_po(T, R, O, X, gamma, beta, alpha, prefactor=True, learner="sarsa"):
    """Every quantity of crld-math.md section 7 (focal agent acts with X[i,o,:])."""
    N, Q, M = X.shape
    Y = np.einsum("iso,ioa->isa", O, X)
    Tss, Ris, Tisas, Risa = ref_state_averages(T, R, Y)
    Ps = ref_stationary(Tss)
    joint = np.einsum("iso,s->ios", O, Ps)
    den = joint.sum(axis=-1, keepdims=True)
    B = np.divide(joint, den, out=np.zeros_like(joint), where=den != 0)
    Rioa = np.einsum("ios,isa->ioa", B, Risa)
    Tioao = np.einsum("ios,isat,itp->ioap", B, Tisas, O)
    Rio = np.einsum("ioa,ioa->io", X, Rioa)
    Tioo = np.einsum("ioa,ioap->iop", X, Tioao)
    gamma = np.asarray(gamma, float)
    pre = 1 - gamma if prefactor else np.ones(N)
    V = np.array([pre[i] * np.linalg.solve(np.eye(Q) - gamma[i] * Tioo[i], Rio[i]) for i in range(N)])
    Qv = pre[:, None, None] * Rioa + gamma[:, None, None] * np.einsum("ioap,ip->ioa", Tioao, V)
    beta = np.asarray(beta, float)[:, None, None]
    if learner == "sarsa":
        td = beta * Qv - np.log(X)
    else:
        td = beta * (Qv - V[:, :, None])
    y = np.log(X[..., :-1]) - np.log(X[..., -1:])
    step = y + np.asarray(alpha, float)[:, None, None] * (td[..., :-1] - td[..., -1:])
    return dict(Y=Y, Tss=Tss, Ris=Ris, Tisas=Tisas, Risa=Risa, Ps=Ps, beliefs=B, Rioa=Rioa, Tioao=Tioao,
                Rio=Rio, Tioo=Tioo, V=V, Q=Qv, td_error=td, logit_step=step)


def softmax_logit(y):
    full = np.concatenate([y, np.zeros(y.shape[:-1] + (1,))], axis=-1)
    e = np.exp(full - full.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ======================================================= program evaluation
class _Printer(PythonCodePrinter):
    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Symbol(self, expr):
        return expr.name


def _solve(A, B):
    """``np.linalg.solve``, NaN when singular (the contract of the generated ``_solve``)."""
    try:
        return np.linalg.solve(A, B)
    except np.linalg.LinAlgError:
        return np.full(B.shape, np.nan)


def program_function(prog, inputs, outputs):
    """A Python function ``f(values) -> list of floats`` running ``prog`` statement by statement.

    ``inputs`` is a list of symbols (the argument order), ``outputs`` a list of expressions.
    """
    pr = _Printer()
    lines = ["def _f(_v):"]
    lines += [f"    {s.name} = _v[{k}]" for k, s in enumerate(inputs)]
    for st in prog.statements:
        if isinstance(st, LinearSolve):
            n, k = st.B.shape
            A = "[" + ", ".join("[" + ", ".join(pr.doprint(st.A[r, c]) for c in range(n)) + "]"
                                for r in range(n)) + "]"
            B = "[" + ", ".join("[" + ", ".join(pr.doprint(st.B[r, c]) for c in range(k)) + "]"
                                for r in range(n)) + "]"
            lines.append(f"    _sol = _solve(np.array({A}, dtype=float), np.array({B}, dtype=float))")
            lines += [f"    {st.targets[r, c].name} = _sol[{r}, {c}]" for r in range(n) for c in range(k)]
        else:
            sym, expr = st
            lines.append(f"    {sym.name} = {pr.doprint(expr)}")
    lines.append("    return [" + ", ".join(pr.doprint(sympy.sympify(e)) for e in outputs) + "]")
    namespace = {"np": np, "math": __import__("math"), "_solve": _solve}
    exec("\n".join(lines), namespace)  # noqa: S102 - test helper on generated text
    return namespace["_f"]


class Evaluator:
    """Evaluate the outputs of ``model.program(outputs)`` numerically."""

    def __init__(self, model, outputs):
        self.model = model
        self.prog, self.res = model.program(outputs)
        self.names = sorted(self.res)
        flat = []
        self.shapes = {}
        for k in self.names:
            arr = np.asarray(self.res[k], dtype=object)
            self.shapes[k] = arr.shape
            flat += list(arr.ravel())
        m = model
        self.inputs = (list(np.asarray(m._X).ravel()) + list(np.asarray(m._y).ravel())
                       + list(m.theta) + list(m.alpha) + list(m.beta) + list(m.gamma))
        self.fn = program_function(self.prog, self.inputs, flat)

    def __call__(self, X, params, alpha, beta, gamma):
        X = np.asarray(X, float)
        y = np.log(X[..., :-1]) - np.log(X[..., -1:])
        theta = [params[n] for n in self.model.game.param_names]
        vals = list(X.ravel()) + list(y.ravel()) + theta + list(alpha) + list(beta) + list(gamma)
        out = np.array(self.fn(vals), dtype=float)
        res, pos = {}, 0
        for k in self.names:
            size = int(np.prod(self.shapes[k]))
            res[k] = out[pos:pos + size].reshape(self.shapes[k])
            pos += size
        return res


# ============================================================== random games
def random_po(rng, N=2, Z=3, Q=2, M=2, action_dependent=True, zero_obs_column=False):
    joint = (M,) * N
    if action_dependent:
        T = rng.dirichlet(np.ones(Z), size=(Z,) + joint)
    else:
        T = np.broadcast_to(rng.dirichlet(np.ones(Z), size=(Z,) + (1,) * N), (Z,) + joint + (Z,)).copy()
    R = rng.normal(size=(N, Z) + joint + (Z,))
    O = rng.dirichlet(np.ones(Q), size=(N, Z))
    if zero_obs_column:  # agent 0 never makes observation Q-1
        O[0, :, -1] = 0
        O[0] /= O[0].sum(axis=-1, keepdims=True)
    X = rng.dirichlet(2 * np.ones(M), size=(N, Q))
    learner = dict(alpha=rng.uniform(0.05, 1, N), beta=rng.uniform(0.5, 5, N), gamma=rng.uniform(0, 0.95, N))
    return dict(T=T, R=R, O=O, X=X, **learner)


CASES = [
    dict(N=2, Z=3, Q=2, M=2),
    dict(N=2, Z=2, Q=3, M=3),
    dict(N=3, Z=2, Q=2, M=2),
    dict(N=1, Z=3, Q=2, M=3),
    dict(N=2, Z=3, Q=2, M=2, action_dependent=False),
    dict(N=2, Z=3, Q=3, M=2, zero_obs_column=True),
    dict(N=2, Z=1, Q=2, M=2),
]


def _check(got, want, name):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(1.0, np.abs(want).max()), err_msg=name)


ALL = ["Y", "Tss", "Ris", "Tisas", "Risa", "Ps", "beliefs", "Rioa", "Tioao", "Rio", "Tioo", "V", "Q",
       "td_error", "logit_step"]


@pytest.mark.parametrize("learner", ["sarsa", "actor_critic"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_po_program_matches_reference(case, learner):
    rng = np.random.default_rng(100 + case)
    g = random_po(rng, **CASES[case])
    game = Game(g["T"], g["R"], g["O"])
    model = derive(game, learner)
    assert isinstance(model, POModel)
    ev = Evaluator(model, ALL)
    for trial in range(2):
        X = g["X"] if trial == 0 else rng.dirichlet(np.ones(g["X"].shape[-1]), size=g["X"].shape[:2])
        got = ev(X, {}, g["alpha"], g["beta"], g["gamma"])
        want = ref_po(g["T"], g["R"], g["O"], X, g["gamma"], g["beta"], g["alpha"], learner=learner)
        for k in ALL:
            _check(got[k], want[k], k)


def test_po_consistency_identities():
    """sum_a X Rioa = Rio, sum_a X Q = V, beliefs are distributions, Ps Tss = Ps."""
    rng = np.random.default_rng(7)
    g = random_po(rng, N=2, Z=3, Q=3, M=3)
    model = derive(Game(g["T"], g["R"], g["O"]))
    got = Evaluator(model, ALL)(g["X"], {}, g["alpha"], g["beta"], g["gamma"])
    X = g["X"]
    np.testing.assert_allclose(np.einsum("ioa,ioa->io", X, got["Q"]), got["V"], rtol=1e-10)
    np.testing.assert_allclose(got["beliefs"].sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(got["Ps"] @ got["Tss"], got["Ps"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got["Tioo"].sum(-1), 1.0, rtol=1e-12)


def test_identity_observation_equals_full_observability():
    """With O = identity the PO program reproduces the fully observed Model.program."""
    rng = np.random.default_rng(3)
    g = random_po(rng, N=2, Z=3, Q=3, M=2)
    O = np.broadcast_to(np.eye(3), (2, 3, 3)).copy()
    po = Evaluator(derive(Game(g["T"], g["R"], O), "actor_critic"), ["V", "Q", "logit_step"])
    fo = Evaluator(derive(Game(g["T"], g["R"]), "actor_critic"), ["V", "Q", "logit_step"])
    a = po(g["X"], {}, g["alpha"], g["beta"], g["gamma"])
    b = fo(g["X"], {}, g["alpha"], g["beta"], g["gamma"])
    for k in a:
        _check(a[k], b[k], k)


def test_focal_agent_uses_observation_strategy():
    """Under noisy observations Tioo from X[i,o,:] differs from the state-mixture convention."""
    game = uncertain_social_dilemma(noise=0.2)
    model = derive(game)
    X = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.3, 0.7]]])
    got = Evaluator(model, ["Tioo", "Rio", "beliefs", "Tss", "Ris"])(X, game.params, [0.1] * 2, [1.0] * 2, [0.9] * 2)
    O = game.numeric()["O"]
    mixture_Rio = np.einsum("ios,is->io", got["beliefs"], got["Ris"])
    assert not np.allclose(got["Rio"], mixture_Rio)
    num = game.numeric()
    want = ref_po(num["T"], num["R"], O, X, [0.9] * 2, [1.0] * 2, [0.1] * 2)
    _check(got["Rio"], want["Rio"], "Rio")
    _check(got["Tioo"], want["Tioo"], "Tioo")


def test_uncertain_social_dilemma_parameters_are_inputs():
    game = uncertain_social_dilemma(noise=(0.1, 0.3))
    assert "noise_0" in game.params and "noise_1" in game.params
    model = derive(game, "actor_critic")
    ev = Evaluator(model, ["V", "Q", "logit_step"])
    rng = np.random.default_rng(5)
    X = rng.dirichlet(np.ones(2), size=(2, 2))
    for values in ({}, {"noise_0": 0.25, "T1": 2.0, "psh": 0.3}):
        params = dict(game.params, **values)
        got = ev(X, params, [0.1, 0.2], [2.0, 3.0], [0.8, 0.6])
        num = game.numeric(**values)
        want = ref_po(num["T"], num["R"], num["O"], X, [0.8, 0.6], [2.0, 3.0], [0.1, 0.2], learner="actor_critic")
        for k in ("V", "Q", "logit_step"):
            _check(got[k], want[k], k)


# ================================================================ Jacobian
def _fd_jacobian(ev, y, params, alpha, beta, gamma, h=1e-6):
    n = y.size
    J = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        e = e.reshape(y.shape)
        plus = ev(softmax_logit(y + e), params, alpha, beta, gamma)["logit_step"]
        minus = ev(softmax_logit(y - e), params, alpha, beta, gamma)["logit_step"]
        J[:, k] = (plus - minus).ravel() / (2 * h)
    return J


@pytest.mark.parametrize("learner", ["sarsa", "actor_critic"])
@pytest.mark.parametrize("case", [0, 1, 2, 5])
def test_po_jacobian_matches_finite_differences(case, learner):
    rng = np.random.default_rng(200 + case)
    g = random_po(rng, **CASES[case])
    model = derive(Game(g["T"], g["R"], g["O"]), learner)
    ev = Evaluator(model, ["logit_step", "jacobian"])
    y = rng.normal(size=g["X"].shape[:2] + (g["X"].shape[2] - 1,))
    X = softmax_logit(y)
    J = ev(X, {}, g["alpha"], g["beta"], g["gamma"])["jacobian"]
    assert J.shape == (model.n_free, model.n_free)
    J_fd = _fd_jacobian(ev, y, {}, g["alpha"], g["beta"], g["gamma"])
    np.testing.assert_allclose(J, J_fd, rtol=1e-6, atol=1e-7)


def test_po_jacobian_program_is_self_contained():
    game = uncertain_social_dilemma(noise=0.15)
    model = derive(game, "sarsa")
    prog, J = po_jacobian_program(model)
    assert J.shape == (model.n_free, model.n_free)
    defined = set()
    for st in prog.statements:
        defined |= set(st.targets) if isinstance(st, LinearSolve) else {st[0]}
    inputs = set(np.asarray(model._X).ravel()) | set(np.asarray(model._y).ravel()) | set(model.theta)
    inputs |= set(model.alpha) | set(model.beta) | set(model.gamma)
    free = set().union(*(e.free_symbols for e in J))
    assert free <= defined | inputs
    ev = Evaluator(model, ["logit_step", "jacobian"])
    y = np.array([[[0.3], [-0.2]], [[1.0], [0.1]]])
    J_num = ev(softmax_logit(y), game.params, [0.2, 0.2], [3.0, 3.0], [0.9, 0.9])["jacobian"]
    J_fd = _fd_jacobian(ev, y, game.params, [0.2, 0.2], [3.0, 3.0], [0.9, 0.9])
    np.testing.assert_allclose(J_num, J_fd, rtol=1e-6, atol=1e-7)


# ======================================================= symbolic interface
def test_po_model_symbolic_attributes():
    game = uncertain_social_dilemma(noise=0.1)
    model = derive(game)
    assert model.X.shape == (2, 2, 2) and model.V.shape == (2, 2)
    assert model.Q.shape == (2, 2, 2) and model.td_error.shape == (2, 2, 2)
    assert model.Tisas.shape == (2, 2, 2, 2) and model.beliefs.shape == (2, 2, 2)
    # state averages are in X (no Y symbols leak out)
    free = model.Tisas.free_symbols | model.Risa.free_symbols | model.Tss.free_symbols
    assert free and not any(s.name.startswith("Y_") for s in free)
    assert len(model.stationary_equations) == 2
    assert len(model.value_equations) == 4
    vals = model.values_closed_form()
    assert set(vals) == set(np.asarray(model._V).ravel())


def test_po_program_rejects_unknown_output():
    model = derive(uncertain_social_dilemma())
    with pytest.raises(ParameterError, match="unknown output"):
        model.program({"V", "nonsense"})
    assert {"Ps", "beliefs"} <= PO_OUTPUTS


def test_singular_stationary_system_is_a_linear_solve():
    """Two absorbing states: the stationary system is singular (the runtime reports NaN)."""
    Z, M = 2, 2
    T = np.zeros((Z, M, Z))
    T[0, :, 0] = 1
    T[1, :, 1] = 1
    R = np.ones((1, Z, M, Z))
    O = np.array([[[0.5, 0.5], [0.5, 0.5]]])
    model = derive(Game(T, R, O))
    prog, res = model.program({"Ps"})
    solves = [st for st in prog.statements if isinstance(st, LinearSolve)]
    assert len(solves) == 1 and solves[0].A.shape == (2, 2) and solves[0].B.shape == (2, 1)
    got = Evaluator(model, ["Tss", "Ps", "V"])(np.full((1, 2, 2), 0.5), {}, [0.1], [1.0], [0.5])
    np.testing.assert_array_equal(got["Tss"], np.eye(2))
    assert np.isnan(got["Ps"]).all() and np.isnan(got["V"]).all()


def test_check_po_supported_and_fully_observed_model():
    from crldgen.symbolic.partial import check_po_supported

    with pytest.raises(GameError):
        check_po_supported(crldgen.games.social_dilemma())
    assert not isinstance(derive(crldgen.games.social_dilemma()), POModel)


def _transient_obs_game():
    """3 states: {0, 1} closed, state 2 transient (action-independent transitions);
    observation 0 is made only in state 2. The pivoting stationary solve leaves ~1e-15
    of round-off on state 2 for this chain."""
    P = np.array([[0.4585811242838866, 0.5414188757161135, 0.0],
                  [0.2907256759116343, 0.7092743240883658, 0.0],
                  [0.06021232783769104, 0.12223421338108688, 0.81755345878122208]])
    T = np.broadcast_to(P[:, None, None, :], (3, 2, 2, 3)).copy()
    R = np.random.default_rng(5).normal(size=(2, 3, 2, 2, 3))
    O = np.zeros((2, 3, 2))
    O[:, 2, 0] = 1.0
    O[:, :2, 1] = 1.0
    return Game(T, R, O, name="transient_obs")


def test_observation_made_only_in_a_transient_state_has_zero_belief(compiled):
    """Beliefs for an observation never made in the long run are exactly 0 (not a ratio of
    round-off), so V and Q there are exactly 0 and everything stays finite."""
    dyn = compiled(_transient_obs_game, "sarsa", True, alpha=0.1, beta=2.0, gamma=0.9)
    for seed in range(10):
        X = dyn.random_strategy(seed)
        av = dyn.averages(X)
        assert np.all(av.V[:, 0] == 0.0) and np.all(av.Q[:, 0, :] == 0.0), (av.V, dyn.stationary_distribution(X))
        assert np.all(np.isfinite(dyn.tderror(X))) and np.all(np.isfinite(dyn.jacobian(X)))
        np.testing.assert_allclose(dyn.stationary_distribution(X)[2], 0.0, atol=1e-12)
