"""Atomic file writing: a temporary file in the target folder, then ``os.replace``.

Readers never see a half-written module: concurrent writers of the same module (two
processes compiling the same game at once) each replace the file with identical bytes.

A writer killed between creating its temporary file and ``os.replace`` leaves the
temporary behind. Temporaries are named ``.{module}.{pid}.{random}.tmp``; every write
removes stale ones in its folder (:func:`clean_stale_temporaries`): only regular files
of this user that match the writer's own pattern, and only when their writer process
is gone (and the file is older than a minute, so a writer on another machine sharing
the folder is never disturbed) or the file is older than :data:`STALE_SECONDS`.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from pathlib import Path

from ..errors import CacheError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: permission bits of written files (like ``open(..., 'w')``: 0o666 minus the umask)
_FILE_MODE = 0o666 & ~_umask()


#: a temporary this old is stale whatever its pid says (a write takes milliseconds)
STALE_SECONDS = 15 * 60
#: a temporary of a dead process is removed once it is this old (another host may share the folder)
DEAD_PID_SECONDS = 60
_TEMP = re.compile(r"\.(?P<stem>[^/]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
_LEGACY_TEMP = re.compile(r"\.(?P<stem>[^/]+)\.[a-z0-9_]{8}\.tmp")  # before the pid was in the name


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's process) or cannot tell: keep the file
    return True


def clean_stale_temporaries(folder: str | os.PathLike, now: float | None = None) -> list[Path]:
    """Remove temporaries that killed writers left in ``folder``; returns the removed paths.

    Only files matching the writer's own pattern (``.{name}.{pid}.{random}.tmp``, or the
    older ``.{name}.{random}.tmp``), regular files owned by this user, are candidates.
    Such a file is removed when its pid is not a running process and it is older than
    :data:`DEAD_PID_SECONDS`, or when it is older than :data:`STALE_SECONDS`. Errors
    (a concurrent cleaner, permissions) are ignored: cleaning is best effort.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        m = _TEMP.fullmatch(entry.name)
        legacy = None if m else _LEGACY_TEMP.fullmatch(entry.name)
        if not (m or legacy):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
            continue
        age = now - st.st_mtime
        stale = age > STALE_SECONDS or (m is not None and age > DEAD_PID_SECONDS and not _pid_alive(int(m["pid"])))
        if stale:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


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
        clean_stale_temporaries(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
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
