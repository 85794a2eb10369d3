"""Load generated modules: check the header before importing; import each file once.

A generated module starts with ``HEADER_LINES`` comment lines (see
:func:`crldgen.codegen.generator.header`)::

    # crldgen generated module
    # crldgen-key: <sha256 cache key>
    # crldgen-format: <FORMAT>
    # crldgen-version: <crldgen version>
    # crldgen-body-sha256: <sha256 of everything after the header>
    # (the loader checks these lines; a file that does not match is regenerated)

A file is trusted (imported, i.e. executed) only when the header is present, its format
is this loader's :data:`FORMAT`, the key is the expected one (when a key is given), the
body matches its checksum and the body's ``KEY`` constant repeats the header key. This
module imports neither sympy nor the code generator.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from ..errors import CacheError, GenerationError
from . import typing_memo
from .keys import FORMAT, canonical_mtime, import_name

#: number of comment lines before the body of a generated module
HEADER_LINES = 6

_REGISTRY: dict[str, ModuleType] = {}
#: import name -> module (one module per name, whichever copy of the file was loaded first)
_BY_NAME: dict[str, ModuleType] = {}
_LOCK = threading.RLock()


def repo_generated_dir() -> Path:
    """The committed modules of the built-in games.

    ``crldgen/_generated`` in an installed wheel (the wheel maps the repository's
    top-level ``generated/`` folder there), else ``generated/`` beside the package in a
    source checkout (also for editable installs).
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "_generated"
    return installed if installed.is_dir() else package.parent / "generated"


def default_cache_dir() -> Path:
    """``$CRLDGEN_CACHE``, else ``$XDG_CACHE_HOME/crldgen``, else ``~/.cache/crldgen``."""
    env = os.environ.get("CRLDGEN_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crldgen"


def split_header(text: str) -> tuple[dict, str]:
    """``(fields, body)`` of a module's text; fields are the ``# crldgen-NAME: value`` lines."""
    lines = text.split("\n", HEADER_LINES)
    info: dict = {}
    for ln in lines[:HEADER_LINES]:
        if ln.startswith("# crldgen-") and ":" in ln:
            k, v = ln[len("# crldgen-"):].split(":", 1)
            info[k.strip()] = v.strip()
    body = lines[HEADER_LINES] if len(lines) > HEADER_LINES else ""
    return info, body


def parse_header(text: str) -> dict:
    """Header fields of a module's text, ``body_ok`` (checksum) and ``key_in_body``."""
    info, body = split_header(text)
    info["body_ok"] = hashlib.sha256(body.encode()).hexdigest() == info.get("body-sha256")
    info["key_in_body"] = "key" in info and f"\nKEY = {info['key']!r}\n" in body
    return info


def read_header(path: str | os.PathLike) -> dict:
    """:func:`parse_header` of the file at ``path``."""
    return parse_header(Path(path).read_text(encoding="utf-8"))


def header_problem(path: str | os.PathLike, key: str | None) -> str | None:
    """Why the file at ``path`` must not be trusted (None when it may be imported).

    ``key`` is the expected cache key (None: any key, e.g. loading a file by path).
    """
    try:
        info = read_header(path)
    except (OSError, UnicodeDecodeError) as exc:
        return f"unreadable ({exc})"
    if "key" not in info:
        return "no crldgen header (foreign file)"
    if info.get("format") != str(FORMAT):
        return f"generator format {info.get('format')!r}, this crldgen reads format {FORMAT} (stale)"
    if key is not None and info["key"] != key:
        return f"header key {info['key'][:12]} does not match expected {key[:12]} (stale)"
    if not info["body_ok"]:
        return "body does not match its checksum (edited or truncated)"
    if not info["key_in_body"]:
        return "the body's KEY constant does not match the header key (edited)"
    return None


def load_module(path: str | os.PathLike, key: str | None = None) -> ModuleType:
    """Import a generated module after checking its header (once per process and file).

    Parameters
    ----------
    path : path of a generated module (``*.py``)
    key : expected cache key; None accepts any key (the header is still checked).

    Raises
    ------
    CacheError
        For a missing, foreign, stale or tampered file (it is never executed).
    GenerationError
        (chained) When importing fails.

    Repeated calls return the same module object from an in-process registry.
    """
    path = Path(path).resolve()
    with _LOCK:
        cached = _REGISTRY.get(str(path))
        if cached is not None and (key is None or cached.KEY == key):
            return cached
        if not path.is_file():
            raise CacheError(f"generated module {path} does not exist; generate it with crldgen.generate(model)")
        problem = header_problem(path, key)
        if problem:
            raise CacheError(
                f"refusing to import {path}: {problem}. Regenerate it with crldgen.generate(model) "
                "(crldgen.compile does this automatically)")
        info_key = read_header(path)["key"]
        name = import_name(path.stem)
        same = _BY_NAME.get(name)
        if same is not None and getattr(same, "KEY", None) == info_key:
            # another copy of the same module (same key, hence the same bytes): reuse it
            _REGISTRY[str(path)] = same
            return same
        if same is not None:  # two keys with the same 12-digit prefix: keep both importable
            name = f"{name}_{info_key[12:24]}"
        pin_mtime(path, info_key)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise GenerationError(f"cannot import generated module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        typing_memo.install()  # before the module's kernels are typed (they compile lazily or in warm)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise GenerationError(f"importing generated module {path} failed: {exc}") from exc
        from .inner import guard  # (numba is imported now: the module imported it)

        guard(module)  # its helpers without a Python entry point raise when called from Python
        _BY_NAME[name] = module
        _REGISTRY[str(path)] = module
        return module


def pin_mtime(path: str | os.PathLike, key: str) -> bool:
    """Give the module file at ``path`` its canonical mtime (see :func:`.keys.canonical_mtime`).

    Returns False when the file's time could not be set (read-only copy, another user's
    file): numba then recompiles into a cache it can write (its user-wide cache when the
    folder beside the file is read-only), which is slower but correct.
    """
    want = canonical_mtime(key)
    try:
        st = os.stat(path)
        if st.st_mtime == want:
            return True
        os.utime(path, (st.st_atime, want))
        return True
    except OSError:
        return False


def loaded_modules() -> dict[str, ModuleType]:
    """``{resolved path: module}`` of the generated modules imported in this process."""
    with _LOCK:
        return dict(_REGISTRY)
