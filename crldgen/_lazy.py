"""Deferred imports (sympy is imported only when a function needs it)."""

from __future__ import annotations

import importlib
import sys


class LazyModule:
    """A stand-in for a module that is imported on first attribute access.

    ``sympy = LazyModule("sympy", __name__)`` at the top of a module defers ``import
    sympy`` until a function uses ``sympy.X``; the real module then replaces the
    stand-in in the owner's globals (later accesses cost nothing extra).
    """

    def __init__(self, name: str, owner: str) -> None:
        self._name = name
        self._owner = owner

    def __getattr__(self, attr: str):
        module = importlib.import_module(self._name)
        owner = sys.modules.get(self._owner)
        if owner is not None and owner.__dict__.get(self._name.rpartition(".")[2]) is self:
            owner.__dict__[self._name.rpartition(".")[2]] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
