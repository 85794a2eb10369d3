"""derive -> generate -> write -> load: the staged pipeline behind :func:`crldgen.compile`.

Every stage is public and safe to call twice. Modules are looked up first in the
repository's ``generated/`` folder (built-in games the examples use), then in the
cache directory (argument ``cache_dir``, else ``$CRLDGEN_CACHE``, else
``~/.cache/crldgen``). A file whose header or checksum does not match is regenerated,
never executed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from .codegen import cache_key, generate_source, module_name, write_atomic
from .game import Game
from .learners import Learner, as_learner
from .runtime.dynamics import Dynamics
from .runtime.loader import default_cache_dir, header_problem, load_module, repo_generated_dir
from .symbolic.model import Model, derive


def module_path(model: Model, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the module of ``model`` lives (or will be written)."""
    key = cache_key(model)
    fname = module_name(model, key) + ".py"
    if cache_dir is None:
        repo = repo_generated_dir() / fname
        if repo.exists() and header_problem(repo, key) is None:
            return repo
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / fname


def generate(model: Model, out_dir: str | os.PathLike | None = None) -> Path:
    """Write the generated module of ``model`` (atomically; unchanged bytes are not rewritten).

    ``out_dir`` defaults to the cache location of :func:`module_path`. A stale or
    foreign file at the target is replaced. Returns the file's path.
    """
    key = cache_key(model)
    path = (Path(out_dir) / (module_name(model, key) + ".py")) if out_dir is not None else module_path(model)
    if path.exists() and header_problem(path, key) is None:
        return path
    if path.exists():
        warnings.warn(f"regenerating {path}: {header_problem(path, key)}", stacklevel=2)
    write_atomic(path, generate_source(model, key))
    return path


def compile_model(model: Model, *, cache_dir=None, alpha=0.05, beta=50.0, gamma=0.75, **game_params) -> Dynamics:
    """Generate (if needed), import and wrap the compiled module of ``model``."""
    key = cache_key(model)
    path = module_path(model, cache_dir)
    if not path.exists() or header_problem(path, key) is not None:
        path = generate(model, path.parent)
    module = load_module(path, key)
    return Dynamics(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **game_params)


def compile(game: Game, learner: str | Learner = "sarsa", prefactor: bool | None = None, *, cache_dir=None,
            alpha=0.05, beta=50.0, gamma=0.75, **game_params) -> Dynamics:  # noqa: A001 - public API name
    """Compiled CRLD simulator of ``game``: derive, generate, cache and load in one call.

    Parameters
    ----------
    game : Game
    learner : {'sarsa', 'actor_critic'}
    prefactor : bool, optional
        Multiply rewards by ``1 - gamma`` (default True).
    cache_dir : path, optional
        Where generated modules go (default ``$CRLDGEN_CACHE`` or ``~/.cache/crldgen``).
    alpha, beta, gamma : float or sequence
        Default learner parameters (scalar or one per agent); override per call.
    **game_params
        Default values of game parameters (override the game's defaults).
    """
    model = derive(game, as_learner(learner, prefactor))
    return compile_model(model, cache_dir=cache_dir, alpha=alpha, beta=beta, gamma=gamma, **game_params)
