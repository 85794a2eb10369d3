"""Warm starts without sympy, lazy games, and relocatable caches (issues 16, 20, 10 item 4).

Each scenario runs in fresh subprocesses (``sys.modules`` and numba's in-process state
must be clean), on the cheapest built-in game (one state, two agents) so that the numba
compiles stay small.
"""

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
from crldgen.lazygame import LazyGame

ROOT = Path(__file__).resolve().parents[1]

#: compile social_dilemma, take one step; print what the checks need as JSON
STEP_SCRIPT = """
import json, sys
import crldgen
game = {game}
dyn = crldgen.compile(game, quiet=True)
X = dyn.uniform_strategy() * 0 + [[[0.3, 0.7]], [[0.6, 0.4]]]
out = dyn.step(X)
served = type(dyn.module).__name__  # EngineModule: a new module; PythonModule: a cached one (warm start)
engine = hasattr(dyn.module, "wait_compiled")  # both serve the first calls while numba compiles or loads
if engine:
    assert dyn.module.wait_compiled()
    assert (dyn.step(X) == out).all() or abs(dyn.step(X) - out).max() < 1e-13
# the kernels a checked step runs (Dynamics.step -> checked_strategy_step; creating it -> check_game)
ks = [dyn.module.checked_strategy_step, dyn.module.check_game]
print(json.dumps({{"sympy": "sympy" in sys.modules, "lazy": type(game).__name__, "path": str(dyn.path),
                  "engine": engine, "served": served,
                  "step": out.ravel().tolist(), "hits": sum(sum(k.stats.cache_hits.values()) for k in ks),
                  "misses": sum(sum(k.stats.cache_misses.values()) for k in ks)}}))
"""

TOML_GAME = """
name = "tomlpd"
agents = ["a", "b"]
states = ["s"]
actions = ["c", "d"]
T = [[[[1], [1]], [[1], [1]]]]
R = [[[[[1], [-0.5]], [["tempt"], [0]]]], [[[[1], ["tempt"]], [[-0.5], [0]]]]]
[parameters]
tempt = 1.5
"""


def _run(code: str, cache: Path, extra_env: dict | None = None) -> dict:
    # CRLDGEN_NO_BUNDLED: ignore the repository's generated/ (every module comes from ``cache``)
    env = dict(os.environ, CRLDGEN_CACHE=str(cache), PYTHONPATH=str(ROOT), CRLDGEN_NO_BUNDLED="1")
    env.pop("NUMBA_CACHE_DIR", None)
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=str(cache.parent))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _expected_step() -> np.ndarray:
    """One SARSA step of the social dilemma at X (crld-math section 4, written plainly)."""
    R = np.array([[1.0, -0.5], [1.5, 0.0]])  # row player's reward (own action, other's action)
    X = np.array([[0.3, 0.7], [0.6, 0.4]])
    alpha, beta, gamma = 0.05, 50.0, 0.75
    out = np.empty_like(X)
    for i in range(2):
        other = X[1 - i]
        Q = (1 - gamma) * (R @ other)  # one state: Q = (1-gamma) R(a) + gamma V, the gamma V part is common
        # SARSA: delta = beta Q - ln X (+ a constant per agent that the softmax removes)
        w = X[i] * np.exp(alpha * (beta * Q - np.log(X[i])))
        out[i] = w / w.sum()
    return out.reshape(2, 1, 2)


@pytest.mark.slow
def test_warm_start_never_imports_sympy(tmp_path):
    cache = tmp_path / "cache"
    cold = _run(STEP_SCRIPT.format(game="crldgen.games.social_dilemma()"), cache)
    assert cold["sympy"] and cold["lazy"] == "Game"  # the first time the game is built (and derived if needed)
    warm = _run(STEP_SCRIPT.format(game="crldgen.games.social_dilemma()"), cache)
    assert not warm["sympy"], "a cached built-in game must load without importing sympy"
    assert warm["lazy"] == "LazyGame" and warm["path"] == cold["path"]
    # a new module: the engine serves while numba compiles; a cached one: its kernels in plain Python
    # while numba loads the compiled ones from its cache (loaded, never compiled again: no cache misses)
    assert cold["served"] == "EngineModule" and warm["served"] == "PythonModule"
    assert warm["hits"] > 0 and warm["misses"] == 0
    np.testing.assert_allclose(warm["step"], cold["step"], rtol=0, atol=0)
    np.testing.assert_allclose(np.reshape(warm["step"], (2, 1, 2)), _expected_step(), rtol=1e-12, atol=1e-14)
    # other parameter defaults: the same module, still without sympy after one compile
    game = "crldgen.games.social_dilemma(T=1.7)"
    _run(STEP_SCRIPT.format(game=game), cache)
    again = _run(STEP_SCRIPT.format(game=game), cache)
    assert not again["sympy"] and again["path"] == cold["path"]


@pytest.mark.slow
def test_toml_game_warm_start_never_imports_sympy(tmp_path):
    cache = tmp_path / "cache"
    path = tmp_path / "pd.toml"
    path.write_text(TOML_GAME)
    game = f"__import__('crldgen.tomlgame').tomlgame.load_game({str(path)!r})"
    cold = _run(STEP_SCRIPT.format(game=game), cache)
    warm = _run(STEP_SCRIPT.format(game=game), cache)
    assert cold["sympy"] and not warm["sympy"] and warm["lazy"] == "LazyGame"
    assert warm["step"] == cold["step"]
    # an edited file is a new game: built (and compiled) again
    path.write_text(TOML_GAME.replace("tempt = 1.5", "tempt = 1.6"))
    edited = _run(STEP_SCRIPT.format(game=game), cache)
    assert edited["sympy"] and edited["lazy"] == "Game"
    assert edited["path"] == cold["path"]  # only a default changed: the same module


def test_lazy_game_equals_built_game(tmp_path, monkeypatch):
    monkeypatch.setenv("CRLDGEN_CACHE", str(tmp_path))
    built = crldgen.games.ecological_public_good(2, qc=[0.2, 0.3])
    assert not isinstance(built, LazyGame)
    from crldgen.lazygame import game_digest, record

    assert record(built, game_digest(built))
    lazy = crldgen.games.ecological_public_good(2, qc=[0.2, 0.3])
    assert isinstance(lazy, LazyGame) and not lazy.built
    assert lazy.params == built.params and list(lazy.params) == list(built.params)  # order = run-time arrays
    assert (lazy.n_agents, lazy.n_states, lazy.fully_observed) == (2, 2, True) and not lazy.built
    assert game_digest(lazy) == game_digest(built) and not lazy.built
    assert lazy.canonical() == built.canonical() and lazy.built  # anything else builds it
    assert lazy.param_symbols == built.param_symbols
    for name in ("T", "R"):
        assert (lazy.numeric(qc_1=0.4)[name] == built.numeric(qc_1=0.4)[name]).all()
    # a bad argument is never in the index: it still raises at construction
    with pytest.raises(crldgen.GameError):
        crldgen.games.ecological_public_good(0)


def test_lazy_game_parameter_order_survives_the_index(tmp_path, monkeypatch):
    """The index keeps the declaration order of parameters (it is the order of theta)."""
    monkeypatch.setenv("CRLDGEN_CACHE", str(tmp_path))
    built = crldgen.games.ecological_public_good(2)
    from crldgen.lazygame import game_digest, record

    record(built, game_digest(built))
    lazy = crldgen.games.ecological_public_good(2)
    assert isinstance(lazy, LazyGame)
    assert lazy.param_names == built.param_names == ("f", "c", "m", "qc", "qr")
    assert [s.name for s in lazy.param_symbols] == list(built.param_names)


# -------------------------------------------------------------------- relocation
def _copy_like_cp_r(src: Path, dst: Path) -> None:
    """``cp -r``: new files, new modification times (unlike ``cp -a``)."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)


@pytest.fixture(scope="module")
def compiled_cache(tmp_path_factory) -> tuple[Path, dict]:
    """A cache folder in which social_dilemma's module and its numba cache exist."""
    cache = tmp_path_factory.mktemp("reloc") / "cache"
    first = _run(STEP_SCRIPT.format(game="crldgen.games.social_dilemma()"), cache)
    assert Path(first["path"]).parent == cache
    assert list((cache / "__pycache__").glob("*.nbi")), "numba's cache beside the module"
    return cache, first


@pytest.mark.slow
@pytest.mark.parametrize("how", ["copy", "move"])
def test_copied_or_moved_cache_keeps_its_compiled_kernels(compiled_cache, tmp_path, how):
    cache, first = compiled_cache
    work = tmp_path / "original"
    _copy_like_cp_r(cache, work)  # a private copy of the fixture to move or copy from
    target = tmp_path / "elsewhere" / "cache"
    target.parent.mkdir()
    if how == "copy":
        _copy_like_cp_r(work, target)
    else:
        shutil.move(str(work), str(target))
    out = _run(STEP_SCRIPT.format(game="crldgen.games.social_dilemma()"), target)
    assert Path(out["path"]).parent == target  # loaded from the new place (no regeneration)
    assert out["step"] == first["step"]
    assert out["served"] == "PythonModule"  # numba's cache came along: a warm start, never the engine
    assert out["hits"] >= 1 and out["misses"] == 0, "numba must reuse the kernels compiled at the old place"


@pytest.mark.slow
def test_read_only_copy_falls_back_to_numbas_user_cache(compiled_cache, tmp_path):
    """A copy whose folder numba cannot write: the modules load, numba compiles into its user-wide cache.

    As root a chmod does not stop writes, so the folder beside the module is made
    unusable for everyone: ``__pycache__`` is a file.
    """
    cache, first = compiled_cache
    ro = tmp_path / "ro" / "cache"
    _copy_like_cp_r(cache, ro)
    shutil.rmtree(ro / "__pycache__")
    (ro / "__pycache__").write_text("not a folder")
    for f in ro.rglob("*"):
        if f.is_file():
            f.chmod(0o444)
    xdg = tmp_path / "xdg"
    out = _run(STEP_SCRIPT.format(game="crldgen.games.social_dilemma()"), ro,
               {"XDG_CACHE_HOME": str(xdg)})
    assert Path(out["path"]).parent == ro and out["step"] == first["step"]
    assert list(xdg.rglob("*.nbi")), "numba falls back to its user-wide cache"


def test_module_import_name_does_not_depend_on_the_folder(tmp_path):
    from crldgen.runtime.keys import import_name
    from crldgen.runtime.loader import load_module

    src = crldgen.compiler.generate(crldgen.derive(crldgen.games.social_dilemma()), tmp_path / "a")
    dst = tmp_path / "b" / src.name
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    first, second = load_module(src), load_module(dst)
    assert first.__name__ == import_name(src.stem) and second is first  # same key: one module per process


def test_copied_module_gets_its_canonical_mtime_back(tmp_path, monkeypatch):
    from crldgen.runtime.keys import canonical_mtime
    from crldgen.runtime.loader import pin_mtime, read_header

    src = crldgen.compiler.generate(crldgen.derive(crldgen.games.social_dilemma()), tmp_path / "a")
    key = read_header(src)["key"]
    dst = tmp_path / "b.py"
    shutil.copyfile(src, dst)
    assert os.stat(dst).st_mtime != canonical_mtime(key)
    assert pin_mtime(dst, key) and os.stat(dst).st_mtime == canonical_mtime(key)

    def refuse(*args, **kwargs):
        raise PermissionError("another user's file")

    shutil.copyfile(src, dst)
    monkeypatch.setattr(os, "utime", refuse)
    assert not pin_mtime(dst, key)  # another user's / read-only file: no error, numba recompiles


@pytest.mark.slow
def test_python_start_kernels_equal_the_compiled_ones(compiled_cache):
    """The plain-Python kernels of a warm start give the compiled kernels' numbers, edge cases included."""
    from crldgen.runtime.loader import load_module, read_header
    from crldgen.runtime.pymodule import PythonModule

    cache, first = compiled_cache
    path = Path(first["path"])
    key = read_header(path)["key"]
    compiled = load_module(path, key)
    release = __import__("threading").Event()

    def load():  # the background load waits until the Python kernels have been compared
        release.wait(60)
        return compiled

    py = PythonModule(path, key, load)
    assert not py.compiled
    rng = np.random.default_rng(3)
    theta = np.array([1.0, 1.5, -0.5, 0.0])
    a, b, g = np.array([0.05, 0.1]), np.array([50.0, 20.0]), np.array([0.75, 0.6])
    for X in [rng.dirichlet(np.ones(2), size=2).ravel() for _ in range(5)]:
        for name, args, n in (("tderror", (X, theta, a, b, g), 4), ("strategy_step", (X, theta, a, b, g, 1.0), 4),
                              ("strategy_step", (X, theta, a, b, g, -1.0), 4), ("jacobian", (X, theta, a, b, g), 4),
                              ("checked_strategy_step", (X, theta, a, b, g, 1.0, 1e-8), 4)):
            mine, theirs = np.empty(n), np.empty(n)
            r1 = getattr(py, name)(*args, mine)
            r2 = getattr(compiled, name)(*args, theirs)
            assert r1 == r2, name
            np.testing.assert_array_equal(mine, theirs, err_msg=f"{name} at X={X}")
    assert not py.compiled  # every call above ran in Python
    # SARSA's ln X at a pure strategy: math.log(0) raises in Python, numba returns -inf; the call waits
    # for the compiled kernel and returns its answer
    edge = np.array([1.0, 0.0, 0.5, 0.5])
    with pytest.raises(ValueError):
        py.tderror.py_func(edge, theta, a, b, g, np.empty(4))
    __import__("threading").Timer(0.5, release.set).start()
    mine, theirs = np.empty(4), np.empty(4)
    py.tderror(edge, theta, a, b, g, mine)
    compiled.tderror(edge, theta, a, b, g, theirs)
    np.testing.assert_array_equal(mine, theirs)
    assert py.wait_compiled(60) and py.strategy_step is compiled.strategy_step


@pytest.mark.slow
def test_python_start_loops_wait_for_the_compiled_kernels(compiled_cache):
    from crldgen.runtime.loader import load_module, read_header
    from crldgen.runtime.pymodule import PythonModule

    cache, first = compiled_cache
    path = Path(first["path"])
    key = read_header(path)["key"]
    compiled = load_module(path, key)
    called = []

    def load():
        called.append(True)
        return compiled

    py = PythonModule(path, key, load)
    X, y = np.array([0.3, 0.7, 0.6, 0.4]), np.empty(2)
    py.logit_of_strategy(X, y)
    theta, a = np.array([1.0, 1.5, -0.5, 0.0]), np.full(2, 0.05)
    rec, Xo, yo = np.empty((10, 4)), np.empty(4), np.empty(2)
    status = py.trajectory(X, y, 0, theta, a, np.full(2, 50.0), np.full(2, 0.75), 10, 0.0, 1.0, 1, rec, Xo, yo)
    assert called and py.compiled  # the loop waited for the compiled module, then ran compiled
    rec2 = np.empty((10, 4))
    status2 = compiled.trajectory(X, y, 0, theta, a, np.full(2, 50.0), np.full(2, 0.75), 10, 0.0, 1.0, 1, rec2,
                                  np.empty(4), np.empty(2))
    assert status == status2
    np.testing.assert_array_equal(rec, rec2)
