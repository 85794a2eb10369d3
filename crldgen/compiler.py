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
from .runtime.loader import default_cache_dir, header_problem, load_module, read_header, repo_generated_dir
from .symbolic.model import Model, derive


def module_path(model: Model, cache_dir: str | os.PathLike | None = None, *, key: str | None = None) -> Path:
    """Where the module of ``model`` lives (or will be written); ``key`` saves recomputing it."""
    key = key or cache_key(model)
    fname = module_name(model, key) + ".py"
    if cache_dir is None:
        repo = repo_generated_dir() / fname
        if repo.exists() and header_problem(repo, key) is None:
            return repo
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / fname


def generate(model: Model, out_dir: str | os.PathLike | None = None, *, key: str | None = None) -> Path:
    """Write the generated module of ``model`` (atomically; unchanged bytes are not rewritten).

    ``out_dir`` defaults to the cache location of :func:`module_path`. A stale, tampered
    or foreign file at the target is replaced (with a warning), never imported. Returns
    the file's path.
    """
    key = key or cache_key(model)
    path = (Path(out_dir) / (module_name(model, key) + ".py")) if out_dir is not None \
        else module_path(model, key=key)
    if path.exists() and header_problem(path, key) is None:
        return path
    if path.exists():
        warnings.warn(f"regenerating {path}: {header_problem(path, key)}", stacklevel=2)
    write_atomic(path, generate_source(model, key))
    return path


def compile_model(model: Model, *, cache_dir=None, alpha=0.05, beta=50.0, gamma=0.75, **game_params) -> Dynamics:
    """Generate (if needed), import and wrap the compiled module of ``model``.

    The defaults of the returned :class:`Dynamics` are the game's parameter defaults,
    overridden by ``game_params``; they are not part of the module (one module serves
    every parameter value).
    """
    key = cache_key(model)
    path = module_path(model, cache_dir, key=key)
    if not path.exists() or header_problem(path, key) is not None:
        path = generate(model, path.parent, key=key)
    module = load_module(path, key)
    defaults = dict(model.game.params)
    defaults.update(game_params)
    return Dynamics(module, alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)


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

    return [derive(getattr(games, ctor)(**kwargs), learner, prefactor)
            for ctor, kwargs, learner, prefactor in BUILTIN_MODULES]


def builtin_sources() -> dict[str, str]:
    """``{file name: module text}`` the current generator emits for :data:`BUILTIN_MODULES`."""
    out = {}
    for model in builtin_models():
        key = cache_key(model)
        out[module_name(model, key) + ".py"] = generate_source(model, key)
    return out


def regenerate_builtin(out_dir: str | os.PathLike | None = None) -> list[Path]:
    """(Re)write the modules of :data:`BUILTIN_MODULES` into ``out_dir`` (default: ``generated/``).

    Files whose bytes are unchanged are not touched (numba's cache stays valid). Other
    crldgen-generated modules in ``out_dir`` (stale keys) are removed; files without a
    crldgen header are left alone. Returns the paths of the current modules.

    Run ``python -m crldgen.compiler`` after changing the generator, the symbolic layer,
    ``game.py`` or ``learners.py`` (their sources are part of every cache key).
    """
    out = Path(out_dir) if out_dir is not None else repo_generated_dir()
    sources = builtin_sources()
    paths = []
    for fname, text in sources.items():
        write_atomic(out / fname, text)
        paths.append(out / fname)
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
