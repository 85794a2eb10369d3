"""The compiled-dynamics object: input validation, parameters, strategies, the sympy-free runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import crldgen
import reference as ref
from crldgen.errors import ParameterError, StrategyError

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ strategies
def test_strategy_validation_names_the_problem(ecopg2):
    good = ecopg2.uniform_strategy()
    with pytest.raises(StrategyError, match=r"shape \(2, 2\); expected .*\(2, 2, 2\)"):
        ecopg2.step(good[0])
    bad = good.copy()
    bad[0, 1, 0] = np.nan
    with pytest.raises(StrategyError, match=r"X\[0, 1, 0\] = nan is not finite"):
        ecopg2.step(bad)
    bad = good.copy()
    bad[1, 0] = [1.2, -0.2]
    with pytest.raises(StrategyError, match=r"X\[1, 0, 1\] = -0.2 is negative"):
        ecopg2.tderror(bad)
    bad = good.copy()
    bad[1, 1] = [0.5, 0.6]
    with pytest.raises(StrategyError, match=r"X\[1, 1, :\] sums to 1.1"):
        ecopg2.averages(bad)
    bad = good.copy()
    bad[0, 0] = [1.0, 0.0]
    with pytest.raises(StrategyError, match=r"X\[0, 0, 1\] = 0: .*interior"):
        ecopg2.step(bad)
    with pytest.raises(StrategyError, match="not a numeric array"):
        ecopg2.step([["a", "b"]])
    with pytest.raises(StrategyError, match="y has 3 entries; expected"):
        ecopg2.logit_step(np.zeros(3))


def test_pure_strategies_are_fine_where_no_logarithm_is_taken(ecopg2):
    X = ecopg2.uniform_strategy()
    X[0, 1] = [1.0, 0.0]
    av = ecopg2.averages(X)
    assert np.all(np.isfinite(av.Q))
    assert ecopg2.stationary_distribution(X).sum() == pytest.approx(1.0)


def test_uniform_and_random_strategies_lie_on_the_simplex(ecopg2):
    U = ecopg2.uniform_strategy()
    assert U.shape == ecopg2.shape == (2, 2, 2) and np.all(U == 0.5)
    for seed in range(5):
        X = ecopg2.random_strategy(seed)
        assert X.shape == (2, 2, 2)
        assert np.all(X > 0) and np.allclose(X.sum(-1), 1.0, rtol=0, atol=1e-14)
        ecopg2.check_strategy(X)
    np.testing.assert_array_equal(ecopg2.random_strategy(3), ecopg2.random_strategy(3))
    assert not np.array_equal(ecopg2.random_strategy(3), ecopg2.random_strategy(4))


def test_logit_round_trip(ecopg2):
    X = ecopg2.random_strategy(1)
    y = ecopg2.to_logit(X)
    assert y.shape == (2, 2, 1)
    np.testing.assert_allclose(ecopg2.from_logit(y), X, rtol=1e-13)
    np.testing.assert_allclose(y, ref.logit_of_strategy(X), rtol=1e-13)
    big = ecopg2.from_logit(np.full((2, 2, 1), 800.0))  # no overflow: softmax shifted by the maximum
    assert np.all(np.isfinite(big)) and np.allclose(big.sum(-1), 1.0)


# ------------------------------------------------------------------ parameters
def test_unknown_parameter_names_are_refused(ecopg2):
    X = ecopg2.uniform_strategy()
    with pytest.raises(ParameterError, match=r"unknown parameter 'fx'.*\['f', 'c', 'm', 'qc', 'qr'\]"):
        ecopg2.step(X, fx=1.0)
    with pytest.raises(ParameterError, match="agent index 5 out of range"):
        ecopg2.step(X, alpha_5=0.1)
    with pytest.raises(ParameterError, match="unknown parameter"):
        crldgen.compile(crldgen.games.ecological_public_good(2), cache_dir=ecopg2.path.parent, nonsense=1.0)


@pytest.mark.parametrize("name,value,match", [
    ("alpha", 0.0, r"alpha = .*\(0, 1\]"), ("alpha", 1.5, r"alpha = .*\(0, 1\]"), ("alpha", [0.1, -0.1], "alpha"),
    ("beta", 0.0, "beta = .*> 0"), ("beta", -2.0, "beta = .*> 0"),
    ("gamma", 1.0, r"gamma = .*\[0, 1\)"), ("gamma", -0.1, r"gamma = .*\[0, 1\)"),
    ("gamma", np.nan, "not finite"), ("alpha", [0.1, 0.2, 0.3], r"one value per agent \(shape \(2,\)\)"),
    ("f", np.inf, "must be finite"),
])
def test_bad_parameter_values_are_refused(ecopg2, name, value, match):
    with pytest.raises(ParameterError, match=match):
        ecopg2.step(ecopg2.uniform_strategy(), **{name: value})


def test_boundary_parameter_values_are_accepted(ecopg2):
    X = ecopg2.random_strategy(0)
    for p in ({"alpha": 1.0}, {"gamma": 0.0}, {"gamma": 0.999}, {"beta": 1e-6}):
        assert np.all(np.isfinite(ecopg2.step(X, **p)))


def test_per_agent_values(ecopg2):
    X = ecopg2.random_strategy(2)
    a = ecopg2.step(X, alpha=[0.01, 0.5], gamma=[0.5, 0.9])
    b = ecopg2.step(X, alpha_0=0.01, alpha_1=0.5, gamma_0=0.5, gamma_1=0.9)
    np.testing.assert_array_equal(a, b)
    alpha, beta, gamma, theta = ecopg2.params(alpha=[0.01, 0.5])
    assert alpha.tolist() == [0.01, 0.5] and beta.tolist() == [100.0, 100.0]
    assert theta.tolist() == [1.2, 5.0, -5.0, 0.2, 0.01]
    assert ecopg2.params()[0].tolist() == [0.01, 0.01]  # defaults untouched


def test_module_without_defaults_needs_every_game_parameter(ecopg2):
    """Generated modules carry no defaults (not part of the key): Dynamics(module) must be told."""
    with pytest.raises(ParameterError, match=r"game parameters \['f', 'c', 'm', 'qc', 'qr'\] have no value"):
        crldgen.Dynamics(ecopg2.module)
    with pytest.raises(ParameterError, match=r"\['qr'\] have no value"):
        crldgen.Dynamics(ecopg2.module, f=1.2, c=5.0, m=-5.0, qc=0.2)
    dyn = crldgen.Dynamics(ecopg2.module, f=1.2, c=5.0, m=-5.0, qc=0.2, qr=0.01, alpha=0.01, beta=100.0)
    X = ecopg2.random_strategy(0)
    np.testing.assert_array_equal(dyn.step(X), ecopg2.step(X))


def test_averages_satisfy_the_consistency_identities(ecopg2):
    X = ecopg2.random_strategy(9)
    av = ecopg2.averages(X)
    np.testing.assert_allclose(np.einsum("isa,isa->is", X, av.Risa), av.Ris, rtol=1e-12)
    np.testing.assert_allclose(np.einsum("isa,isat->st", X[:1], av.Tisas[:1]), av.Tss, rtol=1e-12)
    np.testing.assert_allclose(np.einsum("isa,isa->is", X, av.Q), av.V, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(av.Tss.sum(-1), 1.0, rtol=1e-14)


# ------------------------------------------------------------ the sympy-free runtime
def test_runtime_never_imports_sympy(tmp_path, cache_dir):
    """Loading and running an already generated module pays neither for sympy nor the generator."""
    model = crldgen.derive(crldgen.games.risk_reward())
    src = crldgen.generate(model, cache_dir / "sympy_free")
    code = """
        import importlib.util, json, sys
        import crldgen.runtime.loader, crldgen.runtime.dynamics
        from crldgen.runtime import Dynamics, load_module
        report = {"after runtime imports": "sympy" in sys.modules}
        module = load_module(sys.argv[1])
        dyn = Dynamics(module, pc=0.2, pr=0.01, rs=0.5, rr=1.0, rd=0.0, alpha=0.1, beta=5.0, gamma=0.9)
        X = dyn.step(dyn.uniform_strategy())
        report["after running a kernel"] = "sympy" in sys.modules
        for name in ("crldgen.iterate", "crldgen.analysis"):
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
                report["after " + name] = "sympy" in sys.modules
        report["codegen imported"] = "crldgen.codegen" in sys.modules
        report["X"] = X.tolist()
        print(json.dumps(report))
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(src)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    X = np.array(report.pop("X"))
    assert not report.pop("codegen imported")
    assert not any(report.values()), f"sympy was imported: {report}"
    num = crldgen.games.risk_reward().numeric()
    expected = ref.strategy_step(num["T"], num["R"], np.full((1, 2, 2), 0.5), [0.1], [5.0], [0.9])
    np.testing.assert_allclose(X, expected, rtol=1e-10)


def test_generated_folder_modules_load_with_the_runtime_only(tmp_path):
    """The committed modules are self-describing: constants, orderings, the public kernels."""
    from crldgen.runtime import load_module

    files = sorted((ROOT / "generated").glob("*.py"))
    assert files, "generated/ is empty: run python -m crldgen.compiler"
    for path in files:
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        module = load_module(copy)
        assert module.KEY in path.read_text()
        for name in ("averages", "values", "tderror", "logit_step", "jacobian", "stationary", "trajectory"):
            assert callable(getattr(module, name))
        assert module.N_FREE == module.N_AGENTS * module.N_OBS * (module.N_ACTIONS - 1)


def test_stationary_distribution_that_is_not_unique_is_an_error(ecopg2):
    """With qr = 0 the degraded state is absorbing; full cooperation makes 'p' absorbing too."""
    X = ecopg2.uniform_strategy()
    X[:, 1] = [1.0, 0.0]  # everybody cooperates in the prosperous state
    with pytest.raises(StrategyError, match="not unique"):
        ecopg2.stationary_distribution(X, qr=0.0)
    with pytest.raises(StrategyError, match="not unique"):
        ecopg2.average_reward(X, qr=0.0)
    np.testing.assert_allclose(ecopg2.stationary_distribution(X), [0.0, 1.0], atol=1e-15)
