"""A fingerprint of the code that determines generated text (symbolic layer + generator).

It is part of every cache key, so changing the derivation or the generator can never
leave a stale module in a cache looking valid.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_PARTS = ("symbolic", "codegen", "learners.py", "game.py")
#: files under _PARTS that never influence the generated text (LaTeX, symbolic stability,
#: the value-space model, whose numeric kernels are game independent)
_EXCLUDE = frozenset({"symbolic/latex.py", "symbolic/stability.py", "symbolic/value.py"})


@lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """sha256 over the sources that shape generated text: symbolic layer, generator, learners, game model."""
    h = hashlib.sha256()
    for part in _PARTS:
        p = _PACKAGE / part
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            if f.relative_to(_PACKAGE).as_posix() in _EXCLUDE:
                continue
            h.update(str(f.relative_to(_PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()
