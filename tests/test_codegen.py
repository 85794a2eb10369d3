"""Generated kernels against the plain-numpy oracle, the symbolic model and finite differences.

The random games of ``_randgames.CASES`` carry every reward and free transition
probability as a game parameter, so each of the 8 compiled modules (covering N = 1..3,
Z = 1..3, M = 2..3, both learners, prefactor on and off) is evaluated on several random
numeric games by passing parameter values at run time. Everything the compiled
:class:`crldgen.Dynamics` returns is compared with ``tests/reference.py`` at
``rtol = 1e-10``; Jacobians with central finite differences of the reference map.
Generation-only checks (text, names, the committed ``generated/`` folder) need no
compiler.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

import crldgen
import reference as ref
from _randgames import CASES, case_id, instances, param_game
from crldgen.codegen import generate_source
from crldgen.errors import GenerationError

RTOL = 1e-10
ATOL = 1e-12
ROOT = Path(__file__).resolve().parents[1]


def close(actual, expected, rtol=RTOL, atol=ATOL, what=""):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.fixture(params=CASES, ids=[case_id(c) for c in CASES])
def case(request, compiled):
    """``(dyn, case, games)``: the compiled parametrized game and 3 random numeric instances."""
    N, Z, M, learner, pre = request.param
    dyn = compiled(param_game(N, Z, M), learner, pre)
    return dyn, request.param, instances(N, Z, M, n=3)


def _p(g) -> dict:
    return dict(g["theta"], alpha=g["alpha"], beta=g["beta"], gamma=g["gamma"])


# ------------------------------------------------------------- kernels vs reference
def test_averages_and_values(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        T, R, X = g["T"], g["R"], g["X"]
        av = dyn.averages(X, **_p(g))
        close(av.Tss, ref.Tss(T, X), what="Tss")
        close(av.Ris, ref.Ris(T, R, X), what="Ris")
        close(av.Tisas, ref.Tisas(T, X), what="Tisas")
        close(av.Risa, ref.Risa(T, R, X), what="Risa")
        close(av.V, ref.V(T, R, X, g["gamma"], pre), what="V")
        close(av.Q, ref.Q(T, R, X, g["gamma"], pre), what="Q")


def test_tderror(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        args = (g["T"], g["R"], g["X"], g["beta"], g["gamma"], pre, learner)
        close(dyn.tderror(g["X"], **_p(g)), ref.td_error(*args))
        close(dyn.tderror(g["X"], normalize=True, **_p(g)), ref.td_error_normalized(*args))


@pytest.mark.parametrize("reverse", [False, True], ids=["step", "reverse_step"])
def test_step(case, reverse):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        expected = ref.strategy_step(g["T"], g["R"], g["X"], g["alpha"], g["beta"], g["gamma"], pre, learner,
                                     reverse=reverse)
        actual = (dyn.reverse_step if reverse else dyn.step)(g["X"], **_p(g))
        close(actual, expected)
        close(actual.sum(-1), 1.0, rtol=0, atol=1e-14)


def test_logit_step(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        y = ref.logit_of_strategy(g["X"])
        close(dyn.to_logit(g["X"]), y)
        close(dyn.from_logit(y), g["X"])
        expected = ref.logit_step(g["T"], g["R"], y, g["alpha"], g["beta"], g["gamma"], pre, learner)
        close(dyn.logit_step(y, **_p(g)), expected)


def test_stationary_distribution_and_average_reward(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        T, R, X = g["T"], g["R"], g["X"]
        close(dyn.stationary_distribution(X, **_p(g)), ref.stationary_distribution(ref.Tss(T, X)))
        close(dyn.average_reward(X, **_p(g)), ref.long_run_reward(T, R, X))


def test_jacobian_vs_finite_differences(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games:
        y = ref.logit_of_strategy(g["X"])
        J = dyn.jacobian(g["X"], **_p(g))
        assert J.shape == (dyn.n_free, dyn.n_free)
        fd = ref.logit_jacobian_fd(g["T"], g["R"], y, g["alpha"], g["beta"], g["gamma"], pre, learner, h=1e-5)
        close(J, fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))


def _strategy_jacobian_fd(g, pre, learner, h=1e-6):
    """Central differences of X' in the coordinates X[i, s, a], a < M-1 (last action eliminated)."""
    X = g["X"]
    N, Z, M = X.shape
    n = N * Z * (M - 1)
    J = np.empty((n, n))

    def step(Xp):
        return ref.strategy_step(g["T"], g["R"], Xp, g["alpha"], g["beta"], g["gamma"], pre, learner)[..., :-1]

    for k, (i, s, a) in enumerate(np.ndindex(N, Z, M - 1)):
        Xp, Xm = X.copy(), X.copy()
        Xp[i, s, a] += h
        Xp[i, s, M - 1] -= h
        Xm[i, s, a] -= h
        Xm[i, s, M - 1] += h
        J[:, k] = (step(Xp) - step(Xm)).ravel() / (2 * h)
    return J


def test_jacobian_in_strategy_coordinates(case):
    dyn, (N, Z, M, learner, pre), games = case
    for g in games[:2]:
        J = dyn.jacobian(g["X"], coords="strategy", **_p(g))
        fd = _strategy_jacobian_fd(g, pre, learner)
        close(J, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))


def test_parameters_are_runtime_arguments(case):
    """One module serves many numeric games: different theta give different, correct numbers."""
    dyn, (N, Z, M, learner, pre), games = case
    a, b = games[0], games[1]
    step_a = dyn.step(a["X"], **_p(a))
    step_b = dyn.step(a["X"], **dict(_p(b), alpha=a["alpha"], beta=a["beta"], gamma=a["gamma"]))
    expected_b = ref.strategy_step(b["T"], b["R"], a["X"], a["alpha"], a["beta"], a["gamma"], pre, learner)
    close(step_b, expected_b)
    assert not np.allclose(step_a, step_b)
    close(dyn.step(a["X"], **_p(a)), step_a, rtol=0, atol=0)  # a call's overrides never stick


# ------------------------------------------------------------ against the symbolic model
SYMBOLIC_CASES = [c for c in CASES if c[:3] in {(1, 1, 2), (1, 2, 3), (2, 2, 2)}]


def _symbolic_subs(model, g):
    subs = {model.game.symbol(k): sympy.Float(v, 30) for k, v in g["theta"].items()}
    subs.update({s: sympy.Float(v, 30) for s, v in zip(model._X.flat, g["X"].ravel())})
    for syms, vals in ((model.alpha, g["alpha"]), (model.beta, g["beta"]), (model.gamma, g["gamma"])):
        subs.update({s: sympy.Float(float(v), 30) for s, v in zip(syms, vals)})
    return subs


def _num(arr, subs) -> np.ndarray:
    return np.array([float(sympy.sympify(e).xreplace(subs)) for e in np.asarray(arr, dtype=object).flat]).reshape(
        np.shape(arr))


@pytest.mark.parametrize("spec", SYMBOLIC_CASES, ids=[case_id(c) for c in SYMBOLIC_CASES])
def test_kernels_match_symbolic_model(compiled, spec):
    """The generated code computes exactly the sympy expressions of crldgen.Model."""
    N, Z, M, learner, pre = spec
    game = param_game(N, Z, M)
    model = crldgen.derive(game, learner, pre)
    dyn = compiled(game, learner, pre)
    g = instances(N, Z, M, n=1, seed=7)[0]
    subs = _symbolic_subs(model, g)
    av = dyn.averages(g["X"], **_p(g))
    for name in ("Tss", "Ris", "Tisas", "Risa"):
        close(getattr(av, name), _num(getattr(model, name), subs), what=name)
    vals = {v: sympy.Float(float(e.xreplace(subs)), 30) for v, e in model.values_closed_form().items()}
    close(av.V, _num(model.V, vals), what="V")
    subs.update(vals)
    close(av.Q, _num(model.Q, subs), what="Q")
    close(dyn.tderror(g["X"], **_p(g)), _num(model.td_error, subs), what="td_error")
    close(dyn.step(g["X"], **_p(g)), _num(model.update, subs), what="update")
    y = ref.logit_of_strategy(g["X"])
    subs.update({s: sympy.Float(float(v), 30) for s, v in zip(model._y.flat, y.ravel())})
    close(dyn.logit_step(y, **_p(g)), _num(model.update_logit, subs), what="update_logit")


def test_jacobian_matches_symbolic_derivative(compiled):
    """The closed-form Jacobian kernel equals sympy's derivative of the logit map (N=1, Z=2, M=3)."""
    N, Z, M, learner, pre = 1, 2, 3, "actor_critic", True
    game = param_game(N, Z, M)
    model = crldgen.derive(game, learner, pre)
    dyn = compiled(game, learner, pre)
    g = instances(N, Z, M, n=1, seed=11)[0]
    subs = _symbolic_subs(model, g)
    for X in model._X.flat:
        subs.pop(X)
    values = {v: e.xreplace(subs) for v, e in model.values_closed_form().items()}
    x_of_y = model.strategy_of_logit()
    ys = list(model._y.flat)
    F = [sympy.sympify(e) for e in np.ravel(np.array(model.update_logit.tolist(), dtype=object))]
    F = [e.xreplace(values).xreplace(subs).xreplace(x_of_y) for e in F]
    y0 = ref.logit_of_strategy(g["X"]).ravel()
    at = {s: sympy.Float(float(v), 30) for s, v in zip(ys, y0)}
    J_sym = np.array([[float(sympy.diff(f, yk).xreplace(at)) for yk in ys] for f in F])
    close(dyn.jacobian(g["X"], **_p(g)), J_sym, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------- parameter overrides per call
def test_overrides_equal_recompiling_with_those_defaults(ecopg2, cache_dir):
    """dyn.step(X, gamma=0.8, f=1.5, alpha=[..]) == a Dynamics created with those defaults."""
    over = dict(gamma=0.8, f=1.5, alpha=[0.02, 0.03], beta=[80.0, 120.0], qc=0.25)
    other = crldgen.compile(crldgen.games.ecological_public_good(2, f=1.5, qc=0.25), "sarsa", True,
                            cache_dir=cache_dir, alpha=[0.02, 0.03], beta=[80.0, 120.0], gamma=0.8)
    assert other.module is ecopg2.module  # defaults are not part of the module: no recompilation
    assert other.defaults["f"] == 1.5 and other.defaults["qc"] == 0.25
    X = ecopg2.random_strategy(3)
    y = ecopg2.to_logit(X)
    same = functools.partial(np.testing.assert_array_equal)
    same(ecopg2.step(X, **over), other.step(X))
    same(ecopg2.reverse_step(X, **over), other.reverse_step(X))
    same(ecopg2.tderror(X, **over), other.tderror(X))
    same(ecopg2.logit_step(y, **over), other.logit_step(y))
    same(ecopg2.jacobian(X, **over), other.jacobian(X))
    same(ecopg2.average_reward(X, **over), other.average_reward(X))
    for name in ("Tss", "Ris", "Tisas", "Risa", "V", "Q"):
        same(getattr(ecopg2.averages(X, **over), name), getattr(other.averages(X), name))
    # ... and both are the numbers of the numeric game at those parameter values
    num = crldgen.games.ecological_public_good(2).numeric(f=1.5, qc=0.25)
    expected = ref.strategy_step(num["T"], num["R"], X, [0.02, 0.03], [80.0, 120.0], [0.8, 0.8], True, "sarsa")
    close(ecopg2.step(X, **over), expected)
    # per-agent names and per-call overrides leave the defaults alone
    same(ecopg2.step(X, alpha_0=0.02, alpha_1=0.03, beta_0=80.0, beta_1=120.0, gamma=0.8, f=1.5, qc=0.25),
         other.step(X))
    assert ecopg2.defaults["f"] == 1.2 and ecopg2.defaults["gamma"].tolist() == [0.75, 0.75]


def test_builtin_game_matches_reference(ecopg2):
    """The chapter's game at its defaults and away from them, against the numpy oracle."""
    game = crldgen.games.ecological_public_good(2)
    rng = np.random.default_rng(5)
    for values in ({}, {"f": 1.5, "m": -3.0, "qr": 0.05}):
        num = game.numeric(**values)
        T, R = num["T"], num["R"]
        for _ in range(2):
            X = ecopg2.random_strategy(rng)
            p = dict(values, alpha=0.01, beta=100.0, gamma=0.75)
            a, b, gm = np.full(2, 0.01), np.full(2, 100.0), np.full(2, 0.75)
            close(ecopg2.step(X, **p), ref.strategy_step(T, R, X, a, b, gm, True, "sarsa"))
            close(ecopg2.tderror(X, **p), ref.td_error(T, R, X, b, gm, True, "sarsa"))
            close(ecopg2.averages(X, **p).Q, ref.Q(T, R, X, gm, True))
            close(ecopg2.average_reward(X, **p), ref.long_run_reward(T, R, X))


# ------------------------------------------------------------ generation (text only)
def test_generation_is_deterministic_and_independent_of_defaults():
    a = crldgen.derive(crldgen.games.ecological_public_good(2, f=1.2))
    b = crldgen.derive(crldgen.games.ecological_public_good(2, f=3.0, c=1.0))
    text = generate_source(a)
    assert text == generate_source(a) == generate_source(b)
    assert "PARAM_DEFAULTS" not in text


def _defined_functions(text: str) -> set[str]:
    return {node.name for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


#: the public interface every generated module has (DynamicalSystems.jl-style conformance)
PUBLIC_KERNELS = {"averages", "values", "tderror", "logit_step", "logit_step_w", "jacobian", "stationary",
                  "strategy_step", "strategy_of_logit", "logit_of_strategy", "trajectory",
                  "logit_step_lanes"}
PUBLIC_CONSTANTS = {"KEY", "FORMAT", "GAME", "LEARNER", "PREFACTOR", "FULLY_OBSERVED", "N_AGENTS", "N_STATES",
                    "N_ACTIONS", "N_OBS", "N_FREE", "N_WORK", "PARAM_NAMES", "AGENTS", "STATES", "ACTIONS",
                    "OBSERVATIONS"}


@pytest.mark.parametrize("spec", [(1, 1, 2, "sarsa", True), (2, 2, 3, "actor_critic", False)],
                         ids=["N1Z1M2", "N2Z2M3"])
def test_every_module_has_the_same_public_names(spec):
    N, Z, M, learner, pre = spec
    text = generate_source(crldgen.derive(param_game(N, Z, M), learner, pre))
    tree = ast.parse(text)
    consts = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
              if isinstance(t, ast.Name)}
    assert PUBLIC_KERNELS <= _defined_functions(text)
    assert PUBLIC_CONSTANTS <= consts
    assert "PARAM_DEFAULTS" not in consts
    for line in text.splitlines()[:6]:
        assert line.startswith("# ")
    assert re.search(r"theta\[k\] +game parameters", text)  # the docstring documents the orderings


@pytest.mark.parametrize("bad", ["cs0", "co12", "np", "math", "w", "out", "J", "Tss", "X_0_0_0", "Q_0_0_0",
                                 "b__", "X__", "q__x",
                                 "inv0_p0"])
def test_parameter_names_that_collide_with_generated_code_are_refused(bad):
    sym = sympy.Symbol(bad, real=True)
    T = np.ones((1, 2, 1), dtype=object)
    R = np.array([[[[sym], [0]]]], dtype=object)
    try:
        game = crldgen.Game(T, R, params={sym: 1.0}, name="clash")
    except crldgen.GameError:
        return  # the game model refuses the name already: fine
    with pytest.raises(GenerationError, match=bad):
        generate_source(crldgen.derive(game))


def test_kernel_bodies_share_the_stages():
    """The strategy averages are printed once (stage 1), not once per kernel."""
    text = generate_source(crldgen.derive(param_game(2, 2, 2), "sarsa", True))
    assert text.count("def _stage1(") == 1
    assert len(re.findall(r"^    Tss_0_0 = (?!w\[)", text, flags=re.M)) == 1
    for kernel in ("values", "tderror", "logit_step_w"):
        body = text.split(f"def {kernel}(", 1)[1].split("\n\n\n", 1)[0]
        assert "_stage1(X, theta, w)" in body and "_stage2(X, theta, alpha, beta, gamma, w)" in body


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_codegen_produces_text_only():
    """codegen/ and symbolic/ never import numba (they only produce text); runtime/ never imports sympy."""
    for folder in ("codegen", "symbolic"):
        for path in (ROOT / "crldgen" / folder).glob("*.py"):
            assert "numba" not in _imports(path), f"{path} imports numba"
    for path in (ROOT / "crldgen" / "runtime").glob("*.py"):
        assert "sympy" not in _imports(path), f"{path} imports sympy"


# ------------------------------------------------------------------ generated/ folder
def test_committed_generated_modules_are_current():
    """generated/ holds exactly what the current generator emits for the built-in modules.

    Fails after any change to the generator, the symbolic layer, game.py or learners.py
    (their sources are part of every cache key): regenerate with ``python -m crldgen.compiler``.
    """
    from crldgen.compiler import builtin_sources
    from crldgen.runtime.loader import read_header

    folder = ROOT / "generated"
    expected = builtin_sources()
    committed = {}
    for path in sorted(folder.glob("*.py")):
        if "key" in read_header(path):
            committed[path.name] = path.read_text(encoding="utf-8")
    hint = "generated/ is stale: regenerate it with `python -m crldgen.compiler` and commit the result"
    assert sorted(committed) == sorted(expected), hint
    for name, text in expected.items():
        assert committed[name] == text, f"{name}: {hint}"
    assert (folder / "README.md").is_file()


def test_compile_finds_builtin_modules_in_generated_folder(monkeypatch, tmp_path):
    """Without an explicit cache_dir, compile() uses the repository's module (no generation)."""
    import crldgen.compiler
    from crldgen.compiler import builtin_models, module_path, regenerate_builtin

    folder = tmp_path / "generated"  # a fresh copy: the staleness of the real folder is tested above
    (folder / "old_module.py").parent.mkdir()
    (folder / "old_module.py").write_text(generate_source(crldgen.derive(param_game(1, 1, 2))))  # stale: removed
    (folder / "notes.py").write_text("# not generated by crldgen: kept\n")
    written = regenerate_builtin(folder)
    assert sorted(p.name for p in folder.glob("*.py")) == sorted([p.name for p in written] + ["notes.py"])
    monkeypatch.setattr(crldgen.compiler, "repo_generated_dir", lambda: folder)
    monkeypatch.setenv("CRLDGEN_CACHE", str(tmp_path / "cache"))
    for model in builtin_models():
        assert module_path(model).parent == folder
    model = builtin_models()[-1]
    other = crldgen.derive(crldgen.games.risk_reward(pc=0.5), model.learner)  # same module: defaults differ
    assert module_path(other) == module_path(model)
    dyn = crldgen.compile(crldgen.games.risk_reward(pc=0.5))  # imports only; numba compiles on first call
    assert dyn.path == module_path(model) and dyn.defaults["pc"] == 0.5
    # no module generated (the cache only gains the game's identity entry, see crldgen.lazygame)
    assert not list((tmp_path / "cache").rglob("*.py"))


@pytest.mark.parametrize("which", ["uniform", "heterogeneous", "partially_observed"])
def test_every_kernel_skips_the_cfunc_wrapper_and_helpers_the_python_entry_point(which):
    """Every generated ``@numba.njit`` line has ``no_cfunc_wrapper``; exactly the ``_``-prefixed helpers
    (called from kernels only) also have ``no_cpython_wrapper``, and no kernel crldgen or a user calls does."""
    from crldgen.games import regulated_extraction, social_dilemma, with_memory

    game = {"uniform": lambda: param_game(2, 2, 2), "heterogeneous": regulated_extraction,
            "partially_observed": lambda: with_memory(social_dilemma(), (1, 1, 0))}[which]()
    text = generate_source(crldgen.derive(game))
    decorated = re.findall(r"^@numba\.njit\(([^)\n]*)\)\ndef (\w+)\(", text, flags=re.M)
    assert len(decorated) == text.count("@numba.njit") > 10
    inner = set()
    for options, name in decorated:
        opts = {o.strip() for o in options.split(",")}
        assert {"cache=True", "no_cfunc_wrapper=True"} <= opts, name
        if "no_cpython_wrapper=True" in opts:
            inner.add(name)
    assert inner == {name for _, name in decorated if name.startswith("_")}
    assert {"_stage1", "_solve", "_copy"} <= inner
    public = PUBLIC_KERNELS | {"checked_strategy_step", "checked_tderror", "checked_logit_step", "check_game",
                               "check_game_rows", "game_tensors", "strategy_ok", "all_finite", "logit_from_logs"}
    assert not inner & public


@pytest.mark.parametrize("which", ["anonymous", "anonymous_types"])
def test_anonymous_modules_follow_the_same_decorator_rule(which):
    """The anonymous games' generated modules: every kernel skips the cfunc wrapper, and exactly the
    ``_``-prefixed ones (called from kernels only) skip the Python entry point too."""
    from crldgen import anonymous as an
    from crldgen.anonymous import codegen, types

    if which == "anonymous":
        text = codegen.generate_source(an.ecological_public_good(3))
    else:
        text = types.generate_source(types.two_group_public_good((2, 2)))
    decorated = re.findall(r"^@numba\.njit\(([^)\n]*)\)\ndef (\w+)\(", text, flags=re.M)
    assert len(decorated) == text.count("@numba.njit") > 10
    for options, name in decorated:
        opts = {o.strip() for o in options.split(",")}
        assert {"cache=True", "no_cfunc_wrapper=True"} <= opts, name
        assert ("no_cpython_wrapper=True" in opts) == name.startswith("_"), name
    assert {"game_T", "game_R", "trajectory", "logit_step"} <= {n for _, n in decorated}


@pytest.mark.parametrize("name", ["crldgen.runtime.engine", "crldgen.runtime.lanes", "crldgen.value.kernels",
                                  "crldgen.sample._kernels"])
def test_library_kernels_follow_the_decorator_rule_and_guard_their_helpers(name):
    """The game-independent kernels (engine, batch lanes, value-space and sampled learners): no cfunc wrapper
    on any compiled kernel; the ``_``-prefixed ones that are not inlined have no Python entry point, and a
    Python call of one raises a TypeError instead of crashing the interpreter."""
    import importlib

    from numba.core.registry import CPUDispatcher

    from crldgen.runtime.inner import InnerDispatcher

    module = importlib.import_module(name)
    own = {k: v for k, v in vars(module).items()
           if isinstance(v, CPUDispatcher) and v.py_func.__module__ == name}
    compiled = {k: v for k, v in own.items() if v.targetoptions.get("inline", "never") == "never"}
    assert len(compiled) >= 4, sorted(own)
    for k, v in compiled.items():
        assert v.targetoptions.get("no_cfunc_wrapper"), k
        inner = bool(v.targetoptions.get("no_cpython_wrapper"))
        assert inner == (type(v) is InnerDispatcher), k
        if not k.startswith("_"):
            assert not inner, k  # the kernels crldgen's Python layer calls keep their entry point
    helpers = [k for k, v in compiled.items() if type(v) is InnerDispatcher]
    assert helpers and all(k.startswith("_") for k in helpers)
    with pytest.raises(TypeError, match=rf"{helpers[0]} is called only from other kernels"):
        getattr(module, helpers[0])(np.zeros(2))


def test_a_python_call_of_a_helper_without_entry_point_raises(ecopg2):
    """The loader gives the helpers compiled with no_cpython_wrapper a dispatcher class whose Python call raises
    a TypeError (numba itself would jump to the missing wrapper and crash the interpreter)."""
    from crldgen.runtime.inner import InnerDispatcher
    from crldgen.runtime.warm import warm_calls

    module = ecopg2.module
    module = getattr(module, "_module", module)  # (an engine-served module: the real one)
    for name in ("_stage1", "_stage2", "_solve", "_copy"):
        assert type(getattr(module, name)) is InnerDispatcher, name
    X = ecopg2.uniform_strategy().ravel()
    with pytest.raises(TypeError, match=r"_stage1 is called only from other kernels"):
        module._stage1(X, np.zeros(len(module.PARAM_NAMES)), np.empty(module.N_WORK))
    with pytest.raises(TypeError, match="no_cpython_wrapper"):
        module._copy(X, np.empty_like(X))
    # the kernels crldgen's Python layer calls keep their Python entry point, and they run
    assert not any(type(getattr(module, n)) is InnerDispatcher for n in warm_calls(module) if hasattr(module, n))
    alpha, beta, gamma, theta = ecopg2.params()
    out = np.empty_like(X)
    module.strategy_step(X, theta, alpha, beta, gamma, 1.0, out)
    np.testing.assert_array_equal(out, ecopg2.step(ecopg2.uniform_strategy()).ravel())
