"""Code generation: model -> module source text (no compiling, no importing).

Names are imported lazily (PEP 562): ``from crldgen.codegen import write_atomic`` does
not import the generator (and sympy).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "FORMAT": ".generator", "cache_key": ".generator", "generate_source": ".generator",
    "module_name": ".generator", "parse_header": ".generator", "write_atomic": ".writer",
}

__all__ = ["FORMAT", "cache_key", "generate_source", "module_name", "parse_header", "write_atomic"]


def __getattr__(name: str):
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
