"""Games that know who they are before they are built: warm starts without sympy.

A game made by a built-in constructor (``crldgen.games.ecological_public_good(2)``) or
read from a TOML file has an *identity*: the constructor and its arguments, or the
file's bytes. The first time such a game is compiled, :func:`crldgen.compile` records
in an identity index what it learnt about it (the digest of its canonical description,
its name, shape, labels and parameter defaults). The next time the same identity is
asked for, the constructor returns a :class:`LazyGame` that carries exactly these facts
and builds its sympy tensors only when something needs them (``game.T``, deriving,
validating at other parameter values, ...). A cached module is then found and loaded
without importing sympy.

Entries are keyed by a sha256 over the identity, the crldgen version and the source
fingerprint of the game code (a changed constructor never meets an old entry). Only
games that were built and validated successfully are ever recorded, so a bad argument
still raises at construction as before. The index lives in the cache folder
(``identities/<sha256>.json``, written atomically) and, for the games the examples use,
in ``generated/identities.json`` beside the committed modules.

Nothing here imports sympy.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .game import Game

#: bump when the meaning of an index entry changes
INDEX_FORMAT = 2
#: index file of the committed modules in ``generated/``
BUNDLED_INDEX = "identities.json"


# ------------------------------------------------------------------ identities
def _normal(value: Any):
    """A JSON-able canonical form of a constructor argument (TypeError when there is none)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise TypeError("non-finite number")
        return ["float", v.hex()]
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError("non-numeric array")
        return ["array", list(value.shape), [_normal(v) for v in value.ravel().tolist()]]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_normal(v) for v in value]]
    raise TypeError(f"no canonical form for {type(value).__name__}")


@functools.lru_cache(maxsize=None)
def _source_digest(module_name: str) -> str:
    """sha256 of a module's source file (constructor code is part of the identity)."""
    spec = importlib.util.find_spec(module_name)
    origin = getattr(spec, "origin", None)
    return hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else "?"


def identity(kind: str, payload: Any) -> str | None:
    """sha256 identity of a game description, or None when it has no canonical form."""
    from .runtime.keys import source_fingerprint, sympy_version
    from ._version import __version__

    try:
        text = json.dumps({"format": INDEX_FORMAT, "kind": kind, "payload": _normal(payload),
                           "crldgen": __version__, "sympy": sympy_version(), "source": source_fingerprint()},
                          sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _index_dirs() -> list[Path]:
    from .runtime.loader import default_cache_dir

    return [default_cache_dir() / "identities"]


@functools.lru_cache(maxsize=4)
def _bundled(path: str, mtime_ns: int) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(ident: str) -> dict | None:
    """The index entry of identity ``ident`` (cache folder first, then ``generated/``), or None."""
    from .runtime.loader import repo_generated_dir

    for folder in _index_dirs():
        try:
            entry = json.loads((folder / f"{ident}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _valid_entry(entry):
            return entry
    if os.environ.get("CRLDGEN_NO_BUNDLED"):  # ignore the repository's generated/ (tests, benchmarks)
        return None
    bundled = repo_generated_dir() / BUNDLED_INDEX
    try:
        entry = _bundled(str(bundled), bundled.stat().st_mtime_ns).get(ident)
    except OSError:
        entry = None
    return entry if _valid_entry(entry) else None


_ENTRY_FIELDS = ("digest", "name", "params", "n_agents", "n_states", "n_actions", "n_observations",
                 "fully_observed", "agents", "states", "actions", "observations")


def _valid_entry(entry) -> bool:
    return isinstance(entry, dict) and entry.get("format") == INDEX_FORMAT and all(k in entry for k in _ENTRY_FIELDS)


def describe(game: Game, digest: str) -> dict:
    """The index entry of a built game (everything a :class:`LazyGame` knows without sympy)."""
    if game.uniform and game.shared_labels:  # the entry of every game before heterogeneous agents
        return {"format": INDEX_FORMAT, "digest": digest, "name": game.name,
                "params": [[k, v] for k, v in game.params.items()],
                "n_agents": game.n_agents, "n_states": game.n_states, "n_actions": game.n_actions,
                "n_observations": game.n_observations, "fully_observed": game.O is None,
                "agents": list(game.agents), "states": list(game.states), "actions": list(game.actions),
                "observations": list(game.observations)}
    # heterogeneous game (or per-agent labels): per-agent counts and labels; the shared fields hold agent 0's
    return {"format": INDEX_FORMAT, "digest": digest, "name": game.name,
            "params": [[k, v] for k, v in game.params.items()],
            "n_agents": game.n_agents, "n_states": game.n_states, "n_actions": game.action_counts[0],
            "n_observations": game.observation_counts[0], "fully_observed": game.O is None,
            "agents": list(game.agents), "states": list(game.states), "actions": list(game.agent_actions[0]),
            "observations": list(game.agent_observations[0]),
            "action_counts": list(game.action_counts), "observation_counts": list(game.observation_counts),
            "agent_actions": [list(a) for a in game.agent_actions],
            "agent_observations": [list(o) for o in game.agent_observations]}


def record(game: Game, digest: str, folder: str | os.PathLike | None = None) -> bool:
    """Remember ``game``'s facts under its identity (if it has one); False when not written.

    Writing is best effort: a read-only cache only loses the warm start without sympy.
    """
    ident = getattr(game, "_crldgen_identity", None)
    if not ident:
        return False
    folder = Path(folder) if folder is not None else _index_dirs()[0]
    path = folder / f"{ident}.json"
    entry = describe(game, digest)
    try:
        if path.is_file() and json.loads(path.read_text(encoding="utf-8")) == entry:
            return False
    except (OSError, ValueError):
        pass
    from .codegen.writer import write_atomic
    from .errors import CacheError

    try:
        return write_atomic(path, json.dumps(entry, sort_keys=True))
    except CacheError:
        return False


# ------------------------------------------------------------------ lazy games
class LazyGame(Game):
    """A :class:`~crldgen.Game` whose tensors are built on first use (see the module docstring).

    Name, shape, labels, parameter names and defaults and the canonical digest are known
    at once; any other attribute (``T``, ``R``, ``O``, the parameter symbols, ...) builds
    the game with its constructor and from then on the object is that game.
    """

    def __init__(self, build: Callable[[], Game], ident: str, entry: dict) -> None:  # noqa: D107
        d = self.__dict__
        d["_lazy_build"] = build
        d["_crldgen_identity"] = ident
        d["_crldgen_digest"] = entry["digest"]
        d["name"] = entry["name"]
        # a list of pairs: the order of the parameters is the order of run-time arrays
        d["params"] = {str(k): float(v) for k, v in entry["params"]}
        for k in ("n_agents", "n_states"):
            d[k] = int(entry[k])
        n = d["n_agents"]
        d["agents"], d["states"] = tuple(entry["agents"]), tuple(entry["states"])
        # per-agent facts (Game's n_actions, actions, ... are properties computed from these)
        if "action_counts" in entry:
            d["action_counts"] = tuple(int(m) for m in entry["action_counts"])
            d["observation_counts"] = tuple(int(q) for q in entry["observation_counts"])
            d["agent_actions"] = tuple(tuple(a) for a in entry["agent_actions"])
            d["agent_observations"] = tuple(tuple(o) for o in entry["agent_observations"])
        else:
            d["action_counts"] = (int(entry["n_actions"]),) * n
            d["observation_counts"] = (int(entry["n_observations"]),) * n
            d["agent_actions"] = (tuple(entry["actions"]),) * n
            d["agent_observations"] = (tuple(entry["observations"]),) * n
        d["_lazy_fully_observed"] = bool(entry["fully_observed"])

    @property
    def built(self) -> bool:
        """Whether the sympy tensors exist yet."""
        return "_lazy_build" not in self.__dict__

    @property
    def fully_observed(self) -> bool:
        if not self.built:
            return self.__dict__["_lazy_fully_observed"]
        return self.O is None

    def build(self) -> Game:
        """Build the sympy tensors now (idempotent); returns ``self``."""
        build = self.__dict__.pop("_lazy_build", None)
        if build is not None:
            try:
                real = build()
            except BaseException:
                self.__dict__["_lazy_build"] = build
                raise
            if list(real.params.items()) != list(self.__dict__["params"].items()) or real.name != self.name:
                from .errors import CacheError

                self.__dict__["_lazy_build"] = build
                raise CacheError(
                    f"the identity index entry {self.__dict__['_crldgen_identity'][:16]}... of game {self.name!r} "
                    f"does not match the built game (parameters {real.params}); delete it from "
                    "<cache>/identities/ and retry")
            state = dict(real.__dict__)
            state["_crldgen_identity"] = self.__dict__["_crldgen_identity"]
            state["_crldgen_digest"] = self.__dict__["_crldgen_digest"]
            self.__dict__.update(state)
        return self

    def __getattr__(self, attr: str):
        # only called for attributes not set yet: everything that needs the sympy tensors
        if attr.startswith("__") or "_lazy_build" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        self.build()
        return getattr(self, attr)

    def __reduce__(self):
        self.build()
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_lazy")}
        return (_restore_game, (state,))

    def __repr__(self) -> str:
        M = self.action_counts[0] if len(set(self.action_counts)) == 1 else self.action_counts
        Q = self.observation_counts[0] if len(set(self.observation_counts)) == 1 else self.observation_counts
        po = "" if self.fully_observed else f", Q={Q}"
        return f"Game({self.name!r}, N={self.n_agents}, Z={self.n_states}, M={M}{po}, params={self.params})"


def _restore_game(state: dict) -> Game:
    game = Game.__new__(Game)
    game.__dict__.update(state)
    return game


def game_digest(game: Game) -> str:
    """sha256 digest of ``game.canonical()``; a :class:`LazyGame` knows it without building."""
    digest = game.__dict__.get("_crldgen_digest")
    if digest:
        return digest
    from .runtime.keys import canonical_digest

    digest = canonical_digest(game.canonical())
    game.__dict__["_crldgen_digest"] = digest
    return digest


def lazy_or_build(kind: str, payload: Any, build: Callable[[], Game]) -> Game:
    """A :class:`LazyGame` when the identity is in the index, else the built game (tagged)."""
    if os.environ.get("CRLDGEN_LAZY_GAMES", "1") == "0":
        return build()
    ident = identity(kind, payload)
    if ident is not None:
        entry = lookup(ident)
        if entry is not None:
            return LazyGame(build, ident, entry)
    game = build()
    if ident is not None:
        game.__dict__["_crldgen_identity"] = ident
    return game


def builtin_game(func: Callable[..., Game]) -> Callable[..., Game]:
    """Decorator for built-in game constructors: lazy when the call's identity is indexed.

    The identity is the constructor's module and name, the sha256 of its source file and
    the bound arguments (defaults applied) in a canonical form; calls with arguments
    that have none (sympy expressions, games) are simply built.
    """
    signature = inspect.signature(func)
    where = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def constructor(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # the constructor's own error
        bound.apply_defaults()
        payload = [where, _source_digest(func.__module__), sorted(bound.arguments.items())]
        return lazy_or_build("builtin", payload, lambda: func(*args, **kwargs))

    return constructor
