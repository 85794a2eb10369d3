"""Atomic file writing: a temporary file in the target folder, then ``os.replace``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import CacheError


def write_atomic(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` atomically; returns False when identical bytes were there.

    Identical files are not rewritten (numba's cache keys on file time and size).
    Raises :class:`CacheError` when the folder cannot be created or written.
    """
    path = Path(path)
    data = text.encode()
    try:
        if path.exists() and path.read_bytes() == data:
            return False
    except OSError as exc:
        raise CacheError(f"cannot read {path}: {exc}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CacheError(
            f"cannot write generated module into {path.parent}: {exc.strerror or exc}. "
            "Choose a writable cache with cache_dir=... or the CRLDGEN_CACHE environment variable."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True
