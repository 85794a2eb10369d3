"""Upward calls without upward imports: a registry of providers that the package fills.

The modules of crldgen import one way only (game -> symbolic -> codegen -> runtime ->
iterate/analysis -> plot -> cli, with data, scans and interactive on top;
``tests/test_import_cycles.py`` checks it). A few convenience methods of a lower layer
do their work in an upper one: ``Dynamics.trajectory`` runs :mod:`crldgen.iterate`,
``Model.compile`` runs :mod:`crldgen.compiler`, ``pickle.dumps(dyn)`` uses
:mod:`crldgen.runtime.identity`. Such a method asks this registry for the upper-layer
object by name (:func:`upper`) instead of importing it; ``crldgen/__init__.py``, which
Python runs before any submodule, registers a loader for every name (:func:`provide`).
The loaders import on first use, so ``import crldgen`` stays cheap.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import CrldgenError

#: name -> loader (a function without arguments that imports and returns the object)
_PROVIDERS: dict[str, Callable[[], Any]] = {}
#: name -> the object its loader returned (loaded once)
_LOADED: dict[str, Any] = {}


def provide(name: str, loader: Callable[[], Any]) -> None:
    """Register ``loader`` (called once, on first use) as the provider of ``name``."""
    _PROVIDERS[name] = loader
    _LOADED.pop(name, None)


def upper(name: str) -> Any:
    """The object registered under ``name`` (a module or a function of an upper layer).

    Raises
    ------
    CrldgenError
        When nothing is registered under ``name`` (a bug: ``crldgen/__init__.py`` registers
        every name the package uses).
    """
    try:
        return _LOADED[name]
    except KeyError:
        pass
    try:
        loader = _PROVIDERS[name]
    except KeyError:
        raise CrldgenError(f"no provider registered for {name!r} (known: {sorted(_PROVIDERS)}); "
                           "crldgen/__init__.py registers them") from None
    obj = _LOADED[name] = loader()
    return obj
