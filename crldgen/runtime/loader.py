"""Load generated modules: check the header before importing; import each file once."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from ..errors import CacheError, GenerationError

HEADER_LINES = 6
_REGISTRY: dict[str, ModuleType] = {}
_LOCK = threading.Lock()


def repo_generated_dir() -> Path:
    """``generated/`` beside the package in a source checkout (modules of built-in games)."""
    return Path(__file__).resolve().parents[2] / "generated"


def default_cache_dir() -> Path:
    """``$CRLDGEN_CACHE``, else ``$XDG_CACHE_HOME/crldgen``, else ``~/.cache/crldgen``."""
    env = os.environ.get("CRLDGEN_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crldgen"


def read_header(path: Path) -> dict:
    """Header fields of a generated file and whether the body matches its checksum."""
    text = path.read_text()
    lines = text.split("\n", HEADER_LINES)
    info: dict = {}
    for ln in lines[:HEADER_LINES]:
        if ln.startswith("# crldgen-") and ":" in ln:
            k, v = ln[len("# crldgen-"):].split(":", 1)
            info[k.strip()] = v.strip()
    body = lines[HEADER_LINES] if len(lines) > HEADER_LINES else ""
    info["body_ok"] = hashlib.sha256(body.encode()).hexdigest() == info.get("body-sha256")
    return info


def header_problem(path: Path, key: str | None) -> str | None:
    """Why ``path`` must not be trusted (None when its header and checksum are fine)."""
    try:
        info = read_header(path)
    except (OSError, UnicodeDecodeError) as exc:
        return f"unreadable ({exc})"
    if "key" not in info:
        return "no crldgen header (foreign file)"
    if key is not None and info["key"] != key:
        return f"header key {info['key'][:12]} does not match expected {key[:12]} (stale)"
    if not info["body_ok"]:
        return "body does not match its checksum (edited or truncated)"
    return None


def load_module(path: str | os.PathLike, key: str | None = None) -> ModuleType:
    """Import a generated module after checking its header (once per process and path).

    Raises :class:`CacheError` for a foreign, stale or tampered file and
    :class:`GenerationError` (chained) when importing fails.
    """
    path = Path(path).resolve()
    with _LOCK:
        cached = _REGISTRY.get(str(path))
        if cached is not None and (key is None or cached.KEY == key):
            return cached
        problem = header_problem(path, key)
        if problem:
            raise CacheError(f"refusing to import {path}: {problem}")
        name = f"crldgen_generated_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise GenerationError(f"cannot import generated module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise GenerationError(f"importing generated module {path} failed: {exc}") from exc
        _REGISTRY[str(path)] = module
        return module
