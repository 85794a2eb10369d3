"""One line on stderr before numba compiles kernels that are not in its cache yet.

numba compiles a ``cache=True`` kernel on its first call and keeps the result on disk
(an index file ``<module>.<kernel>-<line>.pyXY.nbi`` beside the source, or in numba's
user-wide / ``NUMBA_CACHE_DIR`` cache). Before the first call of a family of kernels
(the value-space learners', the sampled learners', an anonymous game's module) crldgen
looks for those index files, and when one is missing says what is compiled, for what,
and roughly how long it takes, once per process and family. ``CRLDGEN_QUIET=1`` silences
it. This module imports neither numba nor sympy: it only reads attributes of the
dispatchers it is given.
"""

from __future__ import annotations

import os
import sys
import threading

_SAID: set[str] = set()
_LOCK = threading.Lock()


def quiet_env() -> bool:
    """Whether ``CRLDGEN_QUIET`` asks for no progress lines."""
    return bool(int(os.environ.get("CRLDGEN_QUIET", "0") or 0))


def uncached(*dispatchers) -> bool:
    """Whether numba would compile one of ``dispatchers`` on its next call: not compiled in this
    process, and its cache index file is absent (a look at the file system, nothing loaded)."""
    for d in dispatchers:
        if getattr(d, "overloads", None):
            continue  # compiled or loaded in this process already
        try:
            index = d._cache._cache_file._index_path
        except AttributeError:  # not a caching dispatcher, or another numba: say nothing
            continue
        if not os.path.exists(index):
            return True
    return False


def before_compile(family: str, dispatchers, text: str, quiet: bool | None = None) -> bool:
    """Print ``crldgen: <text>; CRLDGEN_QUIET=1 silences this`` on stderr if one of
    ``dispatchers`` is not in numba's cache; looks once per process and ``family`` (unless
    quiet), so later calls cost a set lookup. Returns whether it printed."""
    if quiet_env() if quiet is None else quiet:
        return False
    with _LOCK:
        if family in _SAID:
            return False
        _SAID.add(family)
    if not uncached(*dispatchers):
        return False
    print(f"crldgen: {text}; CRLDGEN_QUIET=1 silences this", file=sys.stderr, flush=True)
    return True
