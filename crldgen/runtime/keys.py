"""Cache keys and module names, computed without sympy and without deriving.

A module's key is a sha256 over the *digest* of the game's canonical description
(:meth:`crldgen.Game.canonical`), the learner's canonical text, the generator format,
the crldgen and sympy versions and a fingerprint of the sources that shape generated
text. None of these needs the derivation, so an already generated module is found
(and loaded) without importing sympy; games built by the built-in constructors or read
from TOML files even know their digest without building sympy tensors (see
:mod:`crldgen.lazygame`).

Nothing here depends on where a checkout or a cache lives: paths never enter a key or a
module name, so caches and checkouts can be copied and moved.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
import re

from .._version import __version__

#: format of generated modules the loader understands (the generator writes it too; it is part of
#: every cache key). Defined here, below the loader, so that keys never import the loader.
FORMAT = 2

_PACKAGE = Path(__file__).resolve().parents[1]
#: sources (relative to the package) that shape generated text
_PARTS = ("symbolic", "codegen", "learners.py", "game.py")
#: files under _PARTS that never influence the generated text (LaTeX, symbolic stability)
_EXCLUDE = frozenset({"symbolic/latex.py", "symbolic/stability.py", "symbolic/value.py"})


@lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """sha256 over the sources that shape generated text: symbolic layer, generator, learners, game model.

    Only relative paths and file contents enter it (a moved checkout keeps its keys).
    """
    h = hashlib.sha256()
    for part in _PARTS:
        p = _PACKAGE / part
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            rel = f.relative_to(_PACKAGE).as_posix()
            if rel in _EXCLUDE:
                continue
            h.update(rel.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def sympy_version() -> str:
    """The installed sympy version, read from its package metadata (sympy is not imported)."""
    from importlib import metadata

    try:
        return metadata.version("sympy")
    except metadata.PackageNotFoundError:  # pragma: no cover - sympy is a core dependency
        return "none"


def canonical_digest(text: str) -> str:
    """sha256 of a canonical game description (the part of the key that names the game)."""
    return hashlib.sha256(text.encode()).hexdigest()


def module_key(game_digest: str, learner_canonical: str) -> str:
    """The cache key of the module of a game (by digest) under a learner (by canonical text)."""
    text = "\n".join([f"game={game_digest}", learner_canonical, f"format={FORMAT}", f"crldgen={__version__}",
                      f"sympy={sympy_version()}", f"source={source_fingerprint()}"])
    return hashlib.sha256(text.encode()).hexdigest()


def module_stem(game_name: str, learner_kind: str, key: str) -> str:
    """File stem of a generated module: ``{slug}_{learner}_{key[:12]}`` (no path in it)."""
    slug = re.sub(r"[^0-9a-zA-Z_]", "_", game_name).strip("_").lower() or "game"
    return f"{slug}_{learner_kind}_{key[:12]}"


def import_name(stem: str) -> str:
    """The name a generated module is imported under (``sys.modules``); independent of its folder.

    numba's cache refers to a module's kernels by this name, so it must be the same for
    every copy of the file: a copied or moved cache keeps working.
    """
    return f"crldgen_generated_{stem}"


def canonical_mtime(key: str) -> int:
    """The modification time every copy of the module with ``key`` gets (seconds since the epoch).

    numba's cache accepts a compiled kernel only when the source file's (mtime, size)
    match what it recorded. A copy (``cp -r``) gets a new mtime; the loader sets it back
    to this value, so a copied cache keeps its compiled kernels. The bytes of a module
    are fixed by its key, so one time per key is safe.
    """
    return 1_500_000_000 + int(key[:6], 16)
