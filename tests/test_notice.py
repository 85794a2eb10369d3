"""The one-line notice before numba compiles kernels that are not in its cache (crldgen.runtime.notice)."""

from __future__ import annotations

import importlib.util
import uuid

import pytest

from crldgen.runtime import notice

SOURCE = '''import numba


@numba.njit(cache=True)
def plus_one(x):
    return x + 1.0


@numba.njit
def not_cached(x):
    return x + 2.0
'''


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def kernel_file(tmp_path):
    path = tmp_path / f"notice_kernels_{uuid.uuid4().hex[:8]}.py"
    path.write_text(SOURCE)
    return path


def test_uncached_looks_at_numbas_index_file(kernel_file):
    first = _import(kernel_file, kernel_file.stem + "_a")
    assert notice.uncached(first.plus_one)  # no index file beside the module yet
    assert not list((kernel_file.parent / "__pycache__").glob("*.nbi"))
    assert first.plus_one(1.0) == 2.0
    assert not notice.uncached(first.plus_one)  # compiled in this process
    assert list((kernel_file.parent / "__pycache__").glob("*plus_one*.nbi"))
    again = _import(kernel_file, kernel_file.stem + "_b")  # a fresh dispatcher: nothing compiled, index present
    assert not again.plus_one.overloads
    assert not notice.uncached(again.plus_one)
    assert not notice.uncached(again.not_cached)  # no cache=True: nothing to know, nothing said


def test_before_compile_says_it_once_per_family_and_obeys_quiet(kernel_file, capsys, monkeypatch):
    monkeypatch.delenv("CRLDGEN_QUIET", raising=False)
    module = _import(kernel_file, kernel_file.stem)
    family = f"test-{uuid.uuid4().hex}"
    monkeypatch.setenv("CRLDGEN_QUIET", "1")
    assert not notice.before_compile(family, [module.plus_one], "compiling plus_one")
    monkeypatch.setenv("CRLDGEN_QUIET", "0")
    assert notice.before_compile(family, [module.plus_one], "compiling plus_one")
    assert capsys.readouterr().err == "crldgen: compiling plus_one; CRLDGEN_QUIET=1 silences this\n"
    assert not notice.before_compile(family, [module.plus_one], "compiling plus_one")
    assert not notice.before_compile(family + "-quiet", [module.plus_one], "x", quiet=True)
    module.plus_one(1.0)
    assert not notice.before_compile(family + "-other", [module.plus_one], "compiling plus_one")
    assert capsys.readouterr().err == ""


def test_a_new_anonymous_game_names_itself_before_numba_compiles(tmp_path, capsys, monkeypatch):
    from crldgen import anonymous as an

    monkeypatch.delenv("CRLDGEN_QUIET", raising=False)
    game = an.social_dilemma(n=2, R=1.0, T=1.5, S=0.5, P=0.0)
    dyn = an.compile(game, cache_dir=tmp_path)  # generates and imports; numba compiles nothing yet
    err = capsys.readouterr().err
    assert f"numba compiles the kernels of the anonymous game {game.name!r}" in err
    assert dyn.path.name in err
    an.compile(game, cache_dir=tmp_path)  # the same module again in this process: said already
    assert "numba compiles" not in capsys.readouterr().err


def _value_family():
    import crldgen
    from crldgen.value import ValueDynamics
    from crldgen.value import kernels as K

    return (lambda: ValueDynamics(crldgen.games.social_dilemma(), "sarsa"), "numba compiles the value-space kernels",
            (K.policy, K.averages, K.tderror, K.jacobian, K.trajectories, K.sequential_sweep))


def _sample_family():
    from crldgen import sample
    from crldgen.sample import _kernels as k

    def use():
        assert sample._kern() is k

    return (use, "numba compiles the sampled learners' kernels",
            (k.uniforms, k.batch_runs, k.batch_estimates, k.online_runs, k.td_error_stats))


@pytest.mark.parametrize("family", [_value_family, _sample_family], ids=["value", "sample"])
def test_the_value_and_sampled_learners_say_it_when_a_kernel_is_missing_from_the_cache(family, capsys,
                                                                                        monkeypatch):
    use, text, kernels = family()
    monkeypatch.delenv("CRLDGEN_QUIET", raising=False)
    asked = []
    for missing in (True, False):
        monkeypatch.setattr(notice, "_SAID", set())
        monkeypatch.setattr(notice, "uncached", lambda *d, m=missing: asked.append(d) or m)
        use()
        assert (text in capsys.readouterr().err) == missing
    assert asked[0] == kernels
