"""A compiled game's identity, and how results and ``Dynamics`` find their module again.

* :class:`GameInfo` names the generated module a result came from: cache key, game name,
  learner, prefactor, file name, labels and parameter names. Results carry it (set by
  :func:`tag_result`, see :func:`game_of`), files written by :mod:`crldgen.data` store
  it, and :meth:`GameInfo.dynamics` re-attaches a result to its compiled module.
* ``pickle`` stores a :class:`~crldgen.runtime.Dynamics` *by reference*: the module's path,
  its cache key and the default parameters. Unpickling (in another process, e.g. a Dask
  worker or a ``multiprocessing`` spawn child) re-imports the module through
  :func:`~crldgen.runtime.loader.load_module` with the same header checks as the loader,
  once per process; a missing module raises :class:`~crldgen.errors.CacheError`.

numpy and the loader only: nothing here imports sympy or numba directly.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import _hooks
from ..errors import CacheError
from .loader import default_cache_dir, header_problem, load_module, repo_generated_dir


@dataclass(frozen=True)
class GameInfo:
    """Identity of a compiled game and learner (what a result needs to find its module again)."""

    key: str  #: the module's cache key (sha256)
    game: str  #: the game's name
    learner: str  #: 'sarsa' or 'actor_critic'
    prefactor: bool
    module_file: str  #: file name of the generated module (``{game}_{learner}_{key[:12]}.py``)
    path: str  #: where the module was loaded from in the process that made the result
    fully_observed: bool
    agents: tuple
    states: tuple
    actions: tuple
    observations: tuple
    param_names: tuple
    #: default parameters of the dynamics that made the result (plain lists and floats)
    defaults: dict = None

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def __hash__(self) -> int:
        return hash(self.key)

    @classmethod
    def from_dict(cls, d: dict) -> GameInfo:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @property
    def strategy_dims(self) -> tuple[str, str, str]:
        """Dimension names of a joint strategy ``X[i, o, a]``."""
        return ("agent", "state" if self.fully_observed else "observation", "action")

    @property
    def strategy_labels(self) -> tuple:
        return (self.agents, self.states if self.fully_observed else self.observations, self.actions)

    def locate(self, cache_dir: str | os.PathLike | None = None) -> Path:
        """Path of this game's module on this machine (see :func:`locate_module`)."""
        return locate_module(self.path, self.key, self.module_file, cache_dir)

    def dynamics(self, cache_dir: str | os.PathLike | None = None, **defaults):
        """A :class:`Dynamics` of this game's module (found by :meth:`locate`).

        Its defaults are those of the dynamics that made the result, overridden by ``defaults``.
        """
        path = self.locate(cache_dir)
        module = load_module(path, self.key)
        return dynamics_class(module)(module, path=path, **{**(self.defaults or {}), **defaults})

    def check(self, dyn) -> None:
        """Raise :class:`CacheError` unless ``dyn`` runs this game's module (same cache key)."""
        key = getattr(dyn.module, "KEY", None)
        if key != self.key:
            raise CacheError(
                f"the result belongs to game {self.game!r} ({self.learner}, module key {self.key[:12]}), but the "
                f"given dynamics run {getattr(dyn.module, 'GAME', '?')!r} ({dyn.learner}, module key "
                f"{str(key)[:12]}): compile the game the result was made with")


def _labels(module, name: str) -> tuple:
    """``ACTIONS`` / ``OBSERVATIONS`` of a module; per-agent tuples (``AGENT_*``) for a heterogeneous game."""
    value = getattr(module, name, None)
    return tuple(value) if value is not None else tuple(getattr(module, "AGENT_" + name))


def game_info(dyn) -> GameInfo:
    """The :class:`GameInfo` of a :class:`Dynamics` (computed once per object)."""
    cached = dyn.__dict__.get("_game_info")
    if cached is not None:
        return cached
    m = dyn.module
    path = dyn.path if dyn.path is not None else getattr(m, "__file__", "")
    info = GameInfo(key=m.KEY, game=m.GAME, learner=m.LEARNER, prefactor=bool(m.PREFACTOR),
                    module_file=Path(path).name if path else "", path=str(path), fully_observed=bool(m.FULLY_OBSERVED),
                    agents=tuple(m.AGENTS), states=tuple(m.STATES), actions=_labels(m, "ACTIONS"),
                    observations=_labels(m, "OBSERVATIONS"), param_names=tuple(m.PARAM_NAMES),
                    defaults=_plain_defaults(dyn))
    dyn.__dict__["_game_info"] = info
    return info


# ----------------------------------------------------------------- results
def game_of(result) -> GameInfo | None:
    """The :class:`GameInfo` attached to a result (None when it was made without one)."""
    try:
        return object.__getattribute__(result, "_crldgen_game")
    except AttributeError:
        return None


def attach_game(result, info: GameInfo | None, depth: int = 2):
    """Attach ``info`` to ``result`` and (``depth`` levels down) to the results it contains."""
    if info is None or result is None or isinstance(result, (str, bytes, int, float)):
        return result
    try:
        object.__setattr__(result, "_crldgen_game", info)
    except (AttributeError, TypeError):  # plain tuples, arrays, ...
        pass
    if depth > 0:
        items = result.values() if isinstance(result, dict) else result if isinstance(result, (list, tuple)) else ()
        for item in items:
            if isinstance(item, (dict, list, tuple)):
                attach_game(item, info, depth - 1)
    return result


def tag_result(func):
    """Decorator of ``func(dyn, ...)``: the returned result carries ``game_info(dyn)``."""

    @functools.wraps(func)
    def wrapper(dyn, *args, **kwargs):
        result = func(dyn, *args, **kwargs)
        info = getattr(dyn, "__dict__", {}).get("_game_info")
        if info is None:
            if not hasattr(getattr(dyn, "module", None), "KEY"):
                return result
            info = game_info(dyn)
        if isinstance(result, (dict, list, tuple)):
            attach_game(result, info)
        else:  # the common case (trajectories): one attribute, no walk
            try:
                object.__setattr__(result, "_crldgen_game", info)
            except (AttributeError, TypeError):
                pass
        return result

    return wrapper


# ----------------------------------------------------------------- modules
def locate_module(path: str | os.PathLike | None, key: str, module_file: str | None = None,
                  cache_dir: str | os.PathLike | None = None) -> Path:
    """Find the generated module with cache key ``key`` on this machine.

    Tries ``path`` (where the module lived in the process that pickled or saved the
    object), then the file name in ``cache_dir``, the committed/shipped ``generated/``
    folder, ``$CRLDGEN_CACHE`` (or ``~/.cache/crldgen``). Only a file whose header is
    valid for ``key`` counts. Raises :class:`CacheError` naming every place looked at.
    """
    name = module_file or (Path(path).name if path else None)
    candidates = []
    if path:
        candidates.append(Path(path))
    if name:
        for folder in (cache_dir, repo_generated_dir(), default_cache_dir()):
            if folder is not None:
                candidates.append(Path(folder).expanduser() / name)
    seen = []
    for cand in candidates:
        if cand in seen:
            continue
        seen.append(cand)
        if cand.is_file() and header_problem(cand, key) is None:
            return cand
    raise CacheError(
        f"the generated module with key {key[:12]} ({name or 'unknown file name'}) is not available in this "
        f"process: looked at {', '.join(str(c) for c in seen) or 'nowhere'}. Compile the game here first "
        "(crldgen.compile(game, learner) writes it to the cache), or set CRLDGEN_CACHE to a folder that has it")


def restore_dynamics(path: str, key: str, defaults: dict, module_file: str | None = None):
    """Unpickle a :class:`Dynamics`: locate and load its module (header-checked), apply ``defaults``."""
    found = locate_module(path, key, module_file)
    module = load_module(found, key)
    return dynamics_class(module)(module, path=found, **defaults)


def dynamics_class(module):
    """:class:`Dynamics`, or :class:`RaggedDynamics` for a heterogeneous game's module (``RAGGED = True``)."""
    if getattr(module, "RAGGED", False):
        from .ragged_dynamics import RaggedDynamics

        return RaggedDynamics
    from .dynamics import Dynamics

    return Dynamics


def _plain_defaults(dyn) -> dict:
    return {k: (v.tolist() if hasattr(v, "tolist") else float(v)) for k, v in dyn.defaults.items()}


def reduce_dynamics(dyn):
    """``__reduce__`` of a :class:`Dynamics`: by reference to its module's path and key."""
    info = game_info(dyn)
    return restore_dynamics, (info.path, info.key, _plain_defaults(dyn), info.module_file)


class ResultIO:
    """Mixin of every result class: labeled data, tables, files and notebook display.

    The machinery lives in :mod:`crldgen.data` (xarray, pandas and netCDF are imported
    only when these methods are called; install ``crldgen[data]``).
    """

    __slots__ = ()

    @property
    def game_info(self) -> GameInfo | None:
        """The :class:`GameInfo` of the game this result was computed for (None if unknown)."""
        return game_of(self)

    def to_xarray(self, dyn=None):
        """An ``xarray.Dataset`` with named dimensions and labels; see :func:`crldgen.data.to_xarray`."""
        return _hooks.upper("data").to_xarray(self, dyn)

    def to_pandas(self, dyn=None):
        """A ``pandas.DataFrame`` table of the result; see :func:`crldgen.data.to_pandas`."""
        return _hooks.upper("data").to_pandas(self, dyn)

    def save(self, path, dyn=None, *, engine: str | None = None):
        """Write the result to a netCDF file (atomically); read it back with :func:`crldgen.load`."""
        return _hooks.upper("data").save(self, path, dyn, engine=engine)

    def dynamics(self, cache_dir=None, **defaults):
        """Re-attach: the :class:`Dynamics` of the module this result was computed with."""
        info = game_of(self)
        if info is None:
            raise CacheError("this result carries no game identity (it was not made by a crldgen function); "
                             "pass the dynamics explicitly")
        return info.dynamics(cache_dir, **defaults)

    def _repr_html_(self) -> str:
        return _hooks.upper("data").result_html(self)
