"""derive -> generate -> write -> load: the staged pipeline behind :func:`crldgen.compile`.

Every stage is public and safe to call twice. Modules are looked up first in the
repository's ``generated/`` folder (built-in games the examples use), then in the
cache directory (argument ``cache_dir``, else ``$CRLDGEN_CACHE``, else
``~/.cache/crldgen``). A file whose header or checksum does not match is regenerated,
never executed.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .game import Game
from .learners import Learner, as_learner
from .lazygame import game_digest, record
from .runtime.dynamics import Dynamics
from .runtime.keys import module_key, module_stem
from .runtime.loader import default_cache_dir, header_problem, load_module, read_header, repo_generated_dir

if TYPE_CHECKING:  # the derivation (sympy) is imported only when a module must be generated
    from .symbolic.model import Model


def _key_of(model: Model) -> str:
    return module_key(game_digest(model.game), model.learner.canonical())


def _stem(game_name: str, learner: Learner, key: str) -> str:
    return module_stem(game_name, learner.kind, key)


def _find(stem: str, key: str, cache_dir) -> tuple[Path, bool]:
    """``(path, valid)``: where the module is (repo ``generated/`` or cache) or will be written."""
    fname = stem + ".py"
    if cache_dir is None and not os.environ.get("CRLDGEN_NO_BUNDLED"):
        repo = repo_generated_dir() / fname
        if repo.exists() and header_problem(repo, key) is None:
            return repo, True
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = base / fname
    return path, path.exists() and header_problem(path, key) is None


def module_path(model: Model, cache_dir: str | os.PathLike | None = None, *, key: str | None = None) -> Path:
    """Where the module of ``model`` lives (or will be written); ``key`` saves recomputing it."""
    key = key or _key_of(model)
    return _find(_stem(model.game.name, model.learner, key), key, cache_dir)[0]


def generate(model: Model, out_dir: str | os.PathLike | None = None, *, key: str | None = None) -> Path:
    """Write the generated module of ``model`` (atomically; unchanged bytes are not rewritten).

    ``out_dir`` defaults to the cache location of :func:`module_path`. A stale, tampered
    or foreign file at the target is replaced (with a warning), never imported. Returns
    the file's path.
    """
    from .codegen.generator import generate_source
    from .codegen.writer import write_atomic

    key = key or _key_of(model)
    path = (Path(out_dir) / (_stem(model.game.name, model.learner, key) + ".py")) if out_dir is not None \
        else module_path(model, key=key)
    if path.exists() and header_problem(path, key) is None:
        return path
    if path.exists():
        warnings.warn(f"regenerating {path}: {header_problem(path, key)}", stacklevel=2)
    write_atomic(path, generate_source(model, key))
    return path


def _quiet(quiet: bool | None) -> bool:
    from .runtime.notice import quiet_env

    return quiet_env() if quiet is None else bool(quiet)


def _kernels_cached(module, path: Path) -> bool:
    """Whether numba's cache holds the loop kernels of ``module`` (a look at its index files, no loading).

    Asks each kernel's numba cache where its index lives (beside the file, or numba's
    user-wide / ``NUMBA_CACHE_DIR`` cache for a read-only folder).
    """
    for name in ("trajectory", "strategy_step", "checked_strategy_step"):
        try:
            index = getattr(module, name)._cache._cache_file._index_path
        except AttributeError:  # another numba: look beside the file
            index = path.parent / "__pycache__" / f"{path.stem}.{name}-*.nbi"
            if not list(index.parent.glob(index.name)):
                return False
            continue
        if not os.path.exists(index):
            return False
    return True


def _label(game: Game, learner: Learner) -> str:
    M = game.action_counts[0] if len(set(game.action_counts)) == 1 else game.action_counts
    Q = game.observation_counts[0] if len(set(game.observation_counts)) == 1 else game.observation_counts
    return (f"{game.name} ({learner.kind}, N={game.n_agents}, Z={game.n_states}, M={M}"
            + ("" if game.fully_observed else f", Q={Q}") + ")")


def _joint_actions(game: Game) -> int:
    n = 1
    for m in game.action_counts:
        n *= m
    return n


def _wrap(module, *, path, alpha, beta, gamma, **defaults):
    """The Python wrapper of a loaded module: :class:`Dynamics`, or ``RaggedDynamics`` for heterogeneous games."""
    if getattr(module, "RAGGED", False):
        try:
            from .runtime.ragged_dynamics import RaggedDynamics
        except ImportError as exc:
            raise NotImplementedError(
                f"the module {path} is of a heterogeneous game (agents with different numbers of actions or "
                "observations); its wrapper crldgen.runtime.ragged_dynamics.RaggedDynamics is not available in "
                "this build") from exc
        return RaggedDynamics(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)
    return Dynamics(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)


def _load_or_generate(game: Game, learner: Learner, cache_dir, model: Model | None = None, *,
                      engine: bool | None = None, quiet: bool | None = None):
    """``(module, path)`` of ``game`` under ``learner``: load the cached module, else derive and generate it.

    The cache key needs no derivation (:mod:`crldgen.runtime.keys`): a cached module is
    loaded without importing sympy. When numba has not compiled the module's kernels yet
    (a new game, a fresh checkout), a fully observed game gets an
    :class:`~crldgen.runtime.engine.EngineModule`: the generic engine serves the first
    calls while a background thread compiles the module's own kernels.
    """
    from .runtime.loader import _LOCK, _REGISTRY

    quiet = _quiet(quiet)
    key = module_key(game_digest(game), learner.canonical())
    path, valid = _find(_stem(game.name, learner, key), key, cache_dir)
    if valid and engine is not False and "numba" not in sys.modules and game.uniform:
        served = _python_start(game, learner, path, key, quiet)
        if served is not None:
            return served, path
    from .runtime.engine import EngineModule, engine_enabled, numeric_tensors, warm_up
    from .runtime.warm import discard_early, spawn_early

    # heterogeneous games (per-agent action or observation counts) never use the engine: it knows one M only
    use_engine = (engine if engine is not None else engine_enabled()) and game.fully_observed and game.uniform
    if not valid:
        big = _joint_actions(game) * game.n_states >= 32
        if big and not quiet:
            print(f"crldgen: deriving and generating the module of {_label(game, learner)} ...", file=sys.stderr,
                  flush=True)
        if use_engine:  # the compile helper starts numba while this process derives and generates the module
            spawn_early(path, key)
        try:
            if model is None:
                from .symbolic.model import derive

                model = derive(game, learner)
            written = generate(model, path.parent, key=key)
        except BaseException:
            discard_early(path)
            raise
        if written != path:  # (not expected: the same folder and stem) the early helper waits in vain
            discard_early(path)
            path = written
    module = load_module(path, key)
    if "_lazy_build" not in game.__dict__:
        record(game, game_digest(game))
    if isinstance(module, EngineModule) or _kernels_cached(module, path):
        discard_early(path)  # a helper started for nothing (the kernels were in numba's cache after all)
        return module, path
    if use_engine:
        with _LOCK:
            current = _REGISTRY.get(str(path.resolve()))
            if isinstance(current, EngineModule):
                discard_early(path)  # another thread's engine serves it (and compiles it) already
                return current, path
            warm_up()  # the engine's own kernels: loaded from numba's cache (compiled once per installation)
            if not quiet:
                print(f"crldgen: compiling {_label(game, learner)} in the background; the generic engine "
                      "serves the first calls (CRLDGEN_QUIET=1 silences this)", file=sys.stderr, flush=True)
            served = EngineModule(module, numeric_tensors(game, module.PARAM_NAMES), quiet=quiet,
                                  label=_label(game, learner))
            _REGISTRY[str(path.resolve())] = served
        return served, path
    if not quiet:
        print(f"crldgen: numba compiles the kernels of {_label(game, learner)} on first use "
              "(seconds per kernel, once; CRLDGEN_QUIET=1 silences this)", file=sys.stderr, flush=True)
    return module, path


def _python_start(game: Game, learner: Learner, path: Path, key: str, quiet: bool):
    """A :class:`~crldgen.runtime.pymodule.PythonModule` serving a cached module's first calls, or None.

    Only while numba is not imported yet and numba's cache beside the file holds the
    kernels (the warm start: the compiled kernels load in a background thread).
    """
    from .runtime import pymodule
    from .runtime.loader import _LOCK, _REGISTRY

    if not pymodule.enabled() or not pymodule.kernels_cached_beside(str(path)):
        return None
    resolved = str(path.resolve())

    def load():  # (background thread) the compiled module in place of the Python one in the registry
        from .runtime.warm import warm

        with _LOCK:
            if isinstance(_REGISTRY.get(resolved), pymodule.PythonModule):
                del _REGISTRY[resolved]
        module = load_module(path, key)
        warm(module)
        return module

    with _LOCK:
        current = _REGISTRY.get(resolved)
        if current is not None:
            return current if isinstance(current, pymodule.PythonModule) else None
        served = pymodule.PythonModule(path, key, load, label=_label(game, learner), quiet=quiet)
        _REGISTRY[resolved] = served
    if "_lazy_build" not in game.__dict__:
        record(game, game_digest(game))
    return served


def compile_model(model: Model, *, cache_dir=None, alpha=0.05, beta=50.0, gamma=0.75, engine: bool | None = None,
                  quiet: bool | None = None, **game_params) -> Dynamics:
    """Generate (if needed), import and wrap the compiled module of ``model``.

    The defaults of the returned :class:`Dynamics` are the game's parameter defaults,
    overridden by ``game_params``; they are not part of the module (one module serves
    every parameter value).
    """
    module, path = _load_or_generate(model.game, model.learner, cache_dir, model, engine=engine, quiet=quiet)
    defaults = dict(model.game.params)
    defaults.update(game_params)
    return _wrap(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)


def compile(game: Game, learner: str | Learner = "sarsa", prefactor: bool | None = None, *, cache_dir=None,
            alpha=0.05, beta=50.0, gamma=0.75, engine: bool | None = None, quiet: bool | None = None,
            **game_params) -> Dynamics:  # noqa: A001 - public API name
    """Compiled CRLD simulator of ``game``: derive, generate, cache and load in one call.

    A module already in the cache (or in the repository's ``generated/``) is loaded
    without deriving; for games from the built-in constructors or TOML files seen
    before, without importing sympy at all (see :mod:`crldgen.lazygame`).

    Parameters
    ----------
    game : Game
    learner : {'sarsa', 'actor_critic'}
    prefactor : bool, optional
        Multiply rewards by ``1 - gamma`` (default True).
    cache_dir : path, optional
        Where generated modules go (default ``$CRLDGEN_CACHE`` or ``~/.cache/crldgen``).
        A read-only folder (a copy on a read-only mount, another user's cache) serves
        the modules it holds; writing a missing one there raises :class:`CacheError`.
    alpha, beta, gamma : float or sequence
        Default learner parameters (scalar or one per agent); override per call.
    engine : bool, optional
        When numba has not compiled the module yet, serve the first calls from the
        game-independent engine (:mod:`crldgen.runtime.engine`) while a background
        thread compiles the module's kernels (fully observed games; default True,
        ``CRLDGEN_ENGINE=0`` turns it off). ``dyn.module.wait_compiled()`` waits for it.
    quiet : bool, optional
        No progress lines on stderr (default: ``CRLDGEN_QUIET=1`` in the environment).
    **game_params
        Default values of game parameters (override the game's defaults).
    """
    lrn = as_learner(learner, prefactor)
    module, path = _load_or_generate(game, lrn, cache_dir, engine=engine, quiet=quiet)
    defaults = dict(game.params)
    defaults.update(game_params)
    return _wrap(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)


# ------------------------------------------------------------------ built-in modules
#: the modules committed in the repository's ``generated/`` folder (the games the examples
#: use): ``(constructor name in crldgen.games, constructor kwargs, learner, prefactor)``
BUILTIN_MODULES = (
    ("ecological_public_good", {"n_agents": 2}, "sarsa", True),
    ("ecological_public_good", {"n_agents": 2}, "actor_critic", True),
    ("social_dilemma", {}, "sarsa", True),
    ("risk_reward", {}, "sarsa", True),
)


def builtin_models() -> list[Model]:
    """The models of :data:`BUILTIN_MODULES`, derived with the built-in games' defaults."""
    from . import games
    from .symbolic.model import derive

    return [derive(getattr(games, ctor)(**kwargs), learner, prefactor)
            for ctor, kwargs, learner, prefactor in BUILTIN_MODULES]


def builtin_sources() -> dict[str, str]:
    """``{file name: module text}`` the current generator emits for :data:`BUILTIN_MODULES`."""
    from .codegen.generator import generate_source

    out = {}
    for model in builtin_models():
        key = _key_of(model)
        out[_stem(model.game.name, model.learner, key) + ".py"] = generate_source(model, key)
    return out


def regenerate_builtin(out_dir: str | os.PathLike | None = None) -> list[Path]:
    """(Re)write the modules of :data:`BUILTIN_MODULES` into ``out_dir`` (default: ``generated/``).

    Files whose bytes are unchanged are not touched (numba's cache stays valid). Other
    crldgen-generated modules in ``out_dir`` (stale keys) are removed; files without a
    crldgen header are left alone. Returns the paths of the current modules.

    Run ``python -m crldgen.compiler`` after changing the generator, the symbolic layer,
    ``game.py`` or ``learners.py`` (their sources are part of every cache key).
    """
    import json

    from .codegen.writer import write_atomic
    from .lazygame import BUNDLED_INDEX, describe

    out = Path(out_dir) if out_dir is not None else repo_generated_dir()
    sources = builtin_sources()
    paths = []
    for fname, text in sources.items():
        write_atomic(out / fname, text)
        paths.append(out / fname)
    # the identity index of these games: a fresh process finds their modules without sympy
    index = {}
    for model in builtin_models():
        ident = model.game.__dict__.get("_crldgen_identity")
        if ident:
            index[ident] = describe(model.game, game_digest(model.game))
    write_atomic(out / BUNDLED_INDEX, json.dumps(index, sort_keys=True, indent=1) + "\n")
    for old in sorted(out.glob("*.py")):
        if old.name in sources:
            continue
        try:
            generated_by_crldgen = "key" in read_header(old)
        except (OSError, UnicodeDecodeError):
            generated_by_crldgen = False
        if generated_by_crldgen:
            old.unlink()
    return paths


if __name__ == "__main__":  # python -m crldgen.compiler [OUT_DIR]
    import sys

    for written in regenerate_builtin(sys.argv[1] if len(sys.argv) > 1 else None):
        print(written)
