"""Anonymous games with several agent types against their expanded full games.

Oracles: crldgen's compiled full game of ``game.expand(sizes)`` (closed-form Jacobian),
the plain-numpy reference (tests/reference.py) with complex-step Jacobians, and closed
forms of the binomial averages of the (linear) public good at large sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import reference as ref
from crldgen import anonymous as an
from crldgen.anonymous.types import TypedAnonymousGame, compile_types, two_group_public_good
from crldgen.errors import GameError, ParameterError, StrategyError
from test_anonymous import complex_step_jacobian, match_eigenvalues

_DYN = {}
PG_PARAMS = dict(f=(1.5, 2.2), c=(5.0, 3.0))


def typed(factory, learner="sarsa", method="auto", **defaults):
    """Compiled typed dynamics, one module per game and method (learner, sizes, parameters: run-time arguments)."""
    from conftest import _cache_root

    key = (factory.__name__, learner, method, tuple(sorted((k, repr(v)) for k, v in defaults.items())))
    if key not in _DYN:
        _DYN[key] = compile_types(factory(), learner, cache_dir=_cache_root(), method=method, **defaults)
    return _DYN[key]


def public_good():
    return two_group_public_good((2, 1), **PG_PARAMS)


def random_three_type_game():
    """K = 3 types, Z = 2, M = 3: rational T in the counts of all types, type-specific nonlinear R."""
    rng = np.random.default_rng(3)
    types, actions = ("x", "y", "z"), ("a", "b", "c")
    k = TypedAnonymousGame.count_symbols(actions, types)
    n = TypedAnonymousGame.size_symbols_of(types)
    u = sympy.Symbol("u", real=True)
    N = sum(n)
    P = rng.dirichlet(np.ones(2), size=(2, 3, 3)).round(4)
    mix = u * k[0][0] * k[1][2] / N
    T = []
    for s in range(2):
        lin = sum(sympy.Rational(str(P[s, t, b, 0])) * k[t][b] for t in range(3) for b in range(3))
        p0 = (lin + mix * sympy.Rational(1, 3 + s)) / (N + mix)
        T.append([p0, 1 - p0])
    r = rng.normal(size=(4, 3, 2, 3, 2)).round(3)
    R = [[[[sympy.Float(r[0, t, s, a, q]) + sympy.Float(r[1, t, s, a, q]) * k[t][a] / n[t]
            + sympy.Float(r[2, t, s, a, q]) * k[(t + 1) % 3][0] * k[t][2] / N ** 2
            + sympy.Float(r[3, t, s, a, q]) * u * k[2][a] / N for q in range(2)] for a in range(3)]
          for s in range(2)] for t in range(3)]
    return TypedAnonymousGame(T, R, types=types, sizes=(1, 2, 1), states=("s0", "s1"), actions=actions,
                              params={"u": 0.6}, name="anon_types_random3")


def type_points(rng, K, Z, M, count=2):
    return [rng.dirichlet(2 * np.ones(M), size=(K, Z)) for _ in range(count)]


def per_agent(values, sizes):
    return np.concatenate([np.full(n, v) for v, n in zip(values, sizes)])


# --------------------------------------------------------------- description
def test_equal_groups_expand_to_the_one_type_game():
    for sizes in [(1, 1), (1, 2), (2, 1)]:
        a = two_group_public_good(sizes).expand().numeric()
        b = an.ecological_public_good(sum(sizes)).expand().numeric()
        np.testing.assert_allclose(a["T"], b["T"], atol=1e-14)
        np.testing.assert_allclose(a["R"], b["R"], atol=1e-12)


def test_expand_puts_agents_in_type_order_with_their_own_rewards():
    game = two_group_public_good((1, 2), f=(1.5, 2.0), c=(5.0, 3.0))
    full = game.expand().numeric()
    # joint action: agent 0 (type a) cooperates, agents 1, 2 (type b): c, d; state p -> p
    pool = 5.0 + 3.0
    np.testing.assert_allclose(full["R"][0, 1, 0, 0, 1, 1], 1.5 * pool / 3 - 5.0)
    np.testing.assert_allclose(full["R"][1, 1, 0, 0, 1, 1], 2.0 * pool / 3 - 3.0)
    np.testing.assert_allclose(full["R"][2, 1, 0, 0, 1, 1], 2.0 * pool / 3)
    np.testing.assert_allclose(full["T"][1, 0, 0, 1, 0], 0.2 / 3)


def test_validation_errors():
    with pytest.raises(GameError, match="size of type 'b'"):
        two_group_public_good((2, 0))
    with pytest.raises(GameError, match="expected 2 sizes"):
        two_group_public_good((2, 1, 1))
    with pytest.raises(GameError, match="not a probability"):
        two_group_public_good((2, 2), qc=1.5)
    (kc, kd), = TypedAnonymousGame.count_symbols(("c", "d"), ("a",))
    with pytest.raises(GameError, match="not identically 1"):
        TypedAnonymousGame([[kc / 3]], [[[[0], [0]]]], types=("a",), sizes=(2,), states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match="unknown symbol"):
        TypedAnonymousGame([[1]], [[[[sympy.Symbol("k_c")], [0]]]], types=("a",), sizes=(2,), states=("s",),
                           actions=("c", "d"))
    with pytest.raises(GameError, match="shape"):
        TypedAnonymousGame([[1]], [[[0], [0]]], types=("a",), sizes=(2,), states=("s",), actions=("c", "d"))
    with pytest.raises(GameError, match="reserved"):
        TypedAnonymousGame([[1]], [[[[0], [0]]]], types=("a",), sizes=(2,), states=("s",), actions=("c", "d"),
                           params={"n_a": 1.0})


@pytest.mark.parametrize("method", ["moments", "sum"])
def test_run_time_errors(cache_dir, method):
    dyn = typed(public_good, method=method, **LEARN)
    x = dyn.uniform_strategy()
    with pytest.raises(GameError, match=r"T\['p', k=.*not a probability"):
        dyn.step(x, qc=2.0)
    with pytest.raises(ParameterError, match="size of type 'a'"):
        dyn.step(x, sizes=(0, 3))
    with pytest.raises(ParameterError, match="gamma of type 'b'"):
        dyn.step(x, gamma=(0.5, 1.0))
    with pytest.raises(ParameterError, match="one value per type"):
        dyn.step(x, alpha=(0.1, 0.1, 0.1))
    with pytest.raises(ParameterError, match="unknown parameter"):
        dyn.step(x, n=3)
    with pytest.raises(StrategyError, match="shape"):
        dyn.step(x[0])
    bad = x.copy()
    bad[1, 0] = [0.7, 0.7]
    with pytest.raises(StrategyError, match=r"x\[1, 0, :\] sums to"):
        dyn.step(bad)


# ------------------------------------------- against crldgen's compiled full game
LEARN = dict(alpha=(0.05, 0.08), beta=(25.0, 12.0), gamma=(0.8, 0.7))


@pytest.mark.parametrize("method", ["moments", "sum"])
@pytest.mark.parametrize("sizes", [(1, 2), pytest.param((2, 2), marks=pytest.mark.slow), (2, 1)])
def test_equals_compiled_full_game(compiled, cache_dir, sizes, method):
    dyn = typed(public_good, method=method, **LEARN)
    assert dyn.method == method
    game = public_good()
    full = compiled(game.expand(sizes), "sarsa", True,
                    **{k: per_agent(v, sizes) for k, v in LEARN.items()})
    rng = np.random.default_rng(sum(sizes) * 7 + sizes[0])
    for x in type_points(rng, 2, 2, 2):
        X = dyn.joint(x, sizes=sizes)
        owner = game.agent_types(sizes)
        np.testing.assert_allclose(dyn.tderror(x, sizes=sizes)[owner], full.tderror(X), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dyn.step(x, sizes=sizes, qc=0.35)[owner], full.step(X, qc=0.35),
                                   rtol=1e-10, atol=1e-13)
        J = full.jacobian(X)
        np.testing.assert_allclose(dyn.full_jacobian(x, sizes=sizes), J, rtol=1e-10, atol=1e-11)
        stab = dyn.stability(x, sizes=sizes)
        assert len(stab.eigenvalues()) == J.shape[0]
        assert match_eigenvalues(stab.eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10
    x0 = np.array([[[0.5, 0.5], [0.3, 0.7]], [[0.6, 0.4], [0.45, 0.55]]])
    a = dyn.trajectory(x0, 2000, 1e-6, sizes=sizes)
    b = full.trajectory(dyn.joint(x0, sizes=sizes), 2000, 1e-6)
    assert a.steps == b.steps and a.converged == b.converged
    np.testing.assert_allclose(a.x[:, game.agent_types(sizes)], b.X, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("learner", ["sarsa", "actor_critic"])
def test_random_three_type_game_equals_its_expansion(cache_dir, learner):
    dyn = typed(random_three_type_game, learner)
    game = random_three_type_game()
    al, be, ga = np.array([0.1, 0.05, 0.2]), np.array([3.0, 5.0, 2.0]), np.array([0.6, 0.8, 0.7])
    rng = np.random.default_rng(5)
    for sizes in [(1, 2, 1), (2, 1, 1), (1, 1, 1)]:
        full = game.expand(sizes).numeric(u=1.1)
        owner = game.agent_types(sizes)
        kw = dict(sizes=sizes, u=1.1, alpha=al, beta=be, gamma=ga)
        for x in type_points(rng, 3, 2, 3, 1):
            X = dyn.joint(x, sizes=sizes)
            A, B, G = (per_agent(v, sizes) for v in (al, be, ga))
            np.testing.assert_allclose(dyn.tderror(x, **kw)[owner],
                                       ref.td_error(full["T"], full["R"], X, B, G, True, learner),
                                       rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(dyn.step(x, **kw)[owner],
                                       ref.strategy_step(full["T"], full["R"], X, A, B, G, True, learner),
                                       rtol=1e-10, atol=1e-12)
            y = ref.logit_of_strategy(X)
            J = complex_step_jacobian(full["T"], full["R"], y, A, B, G, learner)
            np.testing.assert_allclose(dyn.full_jacobian(x, **kw), J, rtol=1e-9, atol=1e-11)
            assert match_eigenvalues(dyn.stability(x, **kw).eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10


def test_symmetric_block_is_the_jacobian_on_the_type_symmetric_subspace(cache_dir):
    """S from the blocks equals the central finite-difference Jacobian of the compiled type-symmetric map."""
    dyn = typed(public_good, method="sum", **LEARN)
    x = np.array([[[0.4, 0.6], [0.7, 0.3]], [[0.2, 0.8], [0.5, 0.5]]])
    y = dyn.to_logit(x).ravel()
    for sizes in [(3, 5), (40, 7)]:
        S = dyn.symmetric_jacobian(x, sizes=sizes)
        h = 1e-6
        fd = np.empty_like(S)
        for j in range(y.size):
            e = np.zeros(y.size)
            e[j] = h
            up, down = dyn.logit_step(y + e, sizes=sizes), dyn.logit_step(y - e, sizes=sizes)
            fd[:, j] = (up - down).ravel() / (2 * h)
        np.testing.assert_allclose(S, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["moments", "sum"])
def test_large_sizes_match_closed_form_binomial_averages(cache_dir, method):
    """The public good is linear in the counts: its averages (written out by hand here) have closed forms."""
    dyn = typed(public_good, method=method, **LEARN)
    x = np.array([[[0.35, 0.65], [0.8, 0.2]], [[0.6, 0.4], [0.25, 0.75]]])
    f, c, qc, m = np.array(PG_PARAMS["f"]), np.array(PG_PARAMS["c"]), 0.2, -5.0
    for sizes in [(50, 50), (1000, 10), (3, 700)]:
        n = np.array(sizes)
        N = n.sum()
        Tsa, Rsa = dyn.averages(x, sizes=sizes)
        for tau in range(2):
            others = n - np.eye(2, dtype=int)[tau]
            for a in range(2):
                kd = others @ x[:, 1, 1] + (a == 1)
                pool = others @ (c * x[:, 1, 0]) + c[tau] * (a == 0)
                pc = qc * kd / N
                np.testing.assert_allclose(Tsa[tau, 1, a], [pc, 1 - pc], rtol=1e-12, atol=1e-14)
                stay = f[tau] * pool / N - c[tau] * (a == 0)
                # E[T_pp R] = E[(1 - qc kd/N) f pool/N] needs the covariance of kd and pool (same agents)
                cov = -sum(others[s] * c[s] * x[s, 1, 0] * x[s, 1, 1] for s in range(2))
                e_stay = (1 - pc) * stay - qc / N * f[tau] / N * cov
                np.testing.assert_allclose(Rsa[tau, 1, a], pc * m + e_stay, rtol=1e-10, atol=1e-10)
        step = dyn.step(x, sizes=sizes)
        assert np.all(np.isfinite(step)) and np.allclose(step.sum(-1), 1.0)


def test_moments_need_polynomial_games_and_agree_with_sums(cache_dir):
    from crldgen.anonymous.types import generate_source

    with pytest.raises(GameError, match="method='moments' needs T and T\\*R polynomial"):
        generate_source(random_three_type_game(), method="moments")
    assert "USE_MOMENTS = False" in generate_source(random_three_type_game())
    sums, moms = typed(public_good, method="sum", **LEARN), typed(public_good, method="moments", **LEARN)
    x = np.array([[[0.2, 0.8], [0.9, 0.1]], [[0.7, 0.3], [0.35, 0.65]]])
    for sizes in [(1, 1), (3, 40), (1000, 10)]:
        np.testing.assert_allclose(moms.tderror(x, sizes=sizes), sums.tderror(x, sizes=sizes), rtol=1e-11, atol=1e-10)
        for a, b in zip(moms.jacobian_blocks(x, sizes=sizes), sums.jacobian_blocks(x, sizes=sizes)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_one_group_sizes_reduce_to_the_one_type_dynamics(cache_dir):
    """Equal parameters: the two-group dynamics at (n_a, n_b) equals the one-type dynamics of n_a + n_b agents."""
    from test_anonymous import anon

    kw = dict(alpha=0.05, beta=25.0, gamma=0.8)
    one = anon(an.ecological_public_good, "sarsa", **kw)
    dyn = typed(public_good, method="moments", **LEARN)
    x1 = np.array([[0.3, 0.7], [0.65, 0.35]])
    x = np.stack([x1, x1])
    for sizes in [(30, 20), (1, 99)]:
        p = dict(f_a=1.2, f_b=1.2, c_a=5.0, c_b=5.0, alpha=0.05, beta=25.0, gamma=0.8)
        np.testing.assert_allclose(dyn.step(x, sizes=sizes, **p)[0], one.step(x1, n=sum(sizes)), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(dyn.step(x, sizes=sizes, **p)[1], one.step(x1, n=sum(sizes)), rtol=1e-10,
                                   atol=1e-12)
        stab = dyn.stability(x, sizes=sizes, **p)
        ref_stab = one.stability(x1, n=sum(sizes))
        # the one-type symmetric modes are among the typed symmetric ones; breaking within and across groups
        # are the one-type symmetry-breaking eigenvalues
        assert match_eigenvalues(np.sort_complex(stab.eigenvalues()), np.sort_complex(ref_stab.eigenvalues()),
                                 1e-8) < 1e-8


def test_fixed_point_and_its_full_space_stability(compiled, cache_dir):
    """Newton's fixed point is a fixed point of the compiled step; its stability equals the expanded full game's."""
    dyn = typed(public_good, method="moments", **LEARN)
    for sizes in [(2, 1), (30, 70)]:
        run = dyn.trajectory(np.array([[[0.5, 0.5], [0.8, 0.2]], [[0.5, 0.5], [0.7, 0.3]]]), 20000, 1e-7,
                             every=None, sizes=sizes)
        fp = dyn.fixed_point(run.final, sizes=sizes)
        assert fp.residual < 1e-12
        np.testing.assert_allclose(dyn.step(fp.x, sizes=sizes), fp.x, atol=1e-11)
        assert fp.stability.stable == (fp.stability.rho < 1)
    full = compiled(public_good().expand((2, 1)), "sarsa", True, **{k: per_agent(v, (2, 1)) for k, v in LEARN.items()})
    fp = dyn.fixed_point(dyn.trajectory(dyn.uniform_strategy(), 20000, 1e-7, every=None, sizes=(2, 1)).final,
                         sizes=(2, 1))
    J = full.jacobian(dyn.joint(fp.x, sizes=(2, 1)))
    assert match_eigenvalues(fp.stability.eigenvalues(), np.linalg.eigvals(J), 1e-10) < 1e-10
    with pytest.raises(StrategyError, match="Newton did not converge"):
        dyn.fixed_point(dyn.uniform_strategy(), sizes=(2, 1), max_iter=1)


def test_import_boundaries_of_the_types_modules():
    import ast
    from pathlib import Path

    folder = Path(an.__file__).parent

    def imports(path):
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module.split(".")[0])
        return out

    for name in ("types_dynamics.py", "_types_kernels.py"):
        assert "sympy" not in imports(folder / name), name
    assert "numba" not in imports(folder / "types.py")


def test_keywords_of_typed_methods_are_reserved_parameter_names():
    import inspect

    from crldgen.anonymous.types import TYPES_RESERVED
    from crldgen.anonymous.types_dynamics import TypedDynamics
    from crldgen.game import OPTION_NAMES, RESERVED_NAMES
    from crldgen.anonymous.game import ANONYMOUS_RESERVED

    taken = TYPES_RESERVED | OPTION_NAMES | RESERVED_NAMES | ANONYMOUS_RESERVED
    for name, fn in inspect.getmembers(TypedDynamics, inspect.isfunction):
        sig = inspect.signature(fn)
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            names = {p.name for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD} - {"self"}
            assert names <= taken, (name, names - taken)
    with pytest.raises(GameError, match="reserved"):
        TypedAnonymousGame([[1]], [[[[0], [0]]]], types=("a",), sizes=(2,), states=("s",), actions=("c", "d"),
                           params={"sizes": 1.0})


def test_compiled_types_module_runs_without_sympy(cache_dir):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import _cache_root
    from crldgen.anonymous.types import generate

    path = generate(public_good(), _cache_root(), method="moments")
    code = ("import sys; from crldgen.runtime.loader import load_module; "
            "from crldgen.anonymous.types_dynamics import TypedDynamics; import numpy as np; "
            f"m = load_module({str(path)!r}); "
            "d = TypedDynamics(m, sizes=(3, 4), f_a=1.5, f_b=2.2, c_a=5, c_b=3, m=-5, qc=0.2, qr=0.01); "
            "print(d.step(np.full((2, 2, 2), 0.5)).shape, 'sympy' in sys.modules)")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.stdout.split()[-1] == "False", out.stdout


def test_batch_equals_single_runs(cache_dir):
    dyn = typed(public_good, method="moments", **LEARN)
    x0 = np.array([[[0.5, 0.5], [0.3, 0.7]], [[0.6, 0.4], [0.45, 0.55]]])
    sizes = np.array([[2, 1], [50, 50], [1000, 10]])
    qc = np.array([0.2, 0.3, 0.25])
    batch = dyn.trajectories(x0, 3000, 1e-7, sizes=sizes, qc=qc, gamma=(0.8, 0.6))
    for j in range(3):
        run = dyn.trajectory(x0, 3000, 1e-7, every=None, sizes=tuple(sizes[j]), qc=qc[j], gamma=(0.8, 0.6))
        assert batch.steps[j] == run.steps and batch.converged[j] == run.converged
        np.testing.assert_allclose(batch.final[j], run.final, rtol=0, atol=1e-14)
    with pytest.raises(ParameterError, match="different lengths"):
        dyn.trajectories(x0, 10, sizes=sizes, qc=qc[:2])
    with pytest.raises(GameError, match="not a probability"):
        dyn.trajectories(x0, 10, sizes=sizes, qc=np.array([0.2, 3.0, 0.2]))


def test_game_check_is_skipped_only_above_the_limit(cache_dir):
    from crldgen.anonymous import types_dynamics

    dyn = typed(public_good, method="moments", **LEARN)
    x = dyn.uniform_strategy()
    with pytest.raises(GameError, match="not a probability"):
        dyn.step(x, sizes=(300, 300), qc=1.5)   # 90601 count vectors: checked
    old = types_dynamics.MAX_CHECKED_VECTORS
    try:
        types_dynamics.MAX_CHECKED_VECTORS = 1000
        dyn.step(x, sizes=(300, 301), qc=1.5)  # not checked: the moment path evaluates no T row
    finally:
        types_dynamics.MAX_CHECKED_VECTORS = old
