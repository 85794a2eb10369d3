"""Atomic file writing: a temporary file in the target folder, then ``os.replace``.

Readers never see a half-written module: concurrent writers of the same module (two
processes compiling the same game at once) each replace the file with identical bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import CacheError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: permission bits of written files (like ``open(..., 'w')``: 0o666 minus the umask)
_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` atomically; returns False when identical bytes were there.

    Identical files are not rewritten (numba's cache keys on file time and size).
    Raises :class:`CacheError` when the folder cannot be created or written.
    """
    path = Path(path)
    data = text.encode("utf-8")
    try:
        if path.is_file() and path.read_bytes() == data:
            return False
    except OSError as exc:
        raise CacheError(f"cannot read {path}: {exc}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CacheError(
            f"cannot write generated module {path.name} into {path.parent}: {exc.strerror or exc}. "
            "Choose a writable cache with cache_dir=... or the CRLDGEN_CACHE environment variable."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CacheError(f"cannot write generated module {path}: {exc.strerror or exc}") from exc
        raise
    return True
