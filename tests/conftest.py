"""Test configuration: make ``crldgen`` (repo root) and ``reference`` (this folder) importable."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _p in (_HERE.parent, _HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


# --- compiled-module reuse (shared by all test files) ------------------------------
# numba compilation dominates the test time: every test that needs a compiled game goes
# through ``compiled(...)`` below, which builds each (game, learner, prefactor) once per
# session into one cache directory inside the test run (numba's on-disk cache lives
# beside the generated files, so a second run in the same directory is warm).
import os  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

_SESSION_CACHE = {}


def _cache_root() -> Path:
    root = os.environ.get("CRLDGEN_TEST_CACHE")
    if root:
        return Path(root)
    return Path(tempfile.gettempdir()) / f"crldgen-test-cache-{os.getuid()}"


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The cache directory of this test session's generated modules."""
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _compiled(game_factory, learner="sarsa", prefactor=True, **defaults):
    """Compiled dynamics of ``game_factory()`` (a zero-argument callable; memoized by its repr)."""
    import crldgen

    game = game_factory if isinstance(game_factory, crldgen.Game) else None
    ident = game.canonical() if game is not None else repr(game_factory)
    key = (ident, learner, prefactor, tuple(sorted((k, repr(v)) for k, v in defaults.items())))
    if key not in _SESSION_CACHE:
        game = game if game is not None else game_factory()
        dyn = crldgen.compile(game, learner, prefactor, cache_dir=_cache_root(), quiet=True, **defaults)
        # a new module is served by the generic engine while numba compiles it in the background
        # (crldgen.runtime.engine, tested in test_engine.py): the tests here are about the module's
        # own kernels, so wait for them
        wait = getattr(dyn.module, "wait_compiled", None)
        if wait is not None:
            assert wait(), f"background compile failed: {dyn.module._error!r}"
        _SESSION_CACHE[key] = dyn
    return _SESSION_CACHE[key]


@pytest.fixture(scope="session")
def compiled(cache_dir):
    """``compiled(game_or_factory, learner='sarsa', prefactor=True, **defaults) -> Dynamics``, reused per session.

    Pass a module-level factory (e.g. ``functools.partial(ecological_public_good, 2)``)
    or a Game; defaults (alpha, beta, gamma, game parameters) become part of the key,
    but prefer overriding parameters per call (``dyn.step(X, gamma=0.8)``): one compiled
    module serves them all.
    """
    return _compiled


@pytest.fixture(scope="session")
def ecopg2(compiled):
    """The chapter's ecological public good (N=2), SARSA with prefactor, chapter defaults."""
    import crldgen

    return compiled(lambda: crldgen.games.ecological_public_good(2), "sarsa", True,
                    alpha=0.01, beta=100.0, gamma=0.75)
