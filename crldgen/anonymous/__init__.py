"""Anonymous (count-based) games with many agents; n is a run-time parameter (crld-math section 11).

>>> from crldgen import anonymous
>>> game = anonymous.ecological_public_good(n=50)
>>> dyn = anonymous.compile(game, "sarsa", alpha=0.05, beta=50.0, gamma=0.75)   # doctest: +SKIP
>>> dyn.step(dyn.uniform_strategy(), n=1000)                                       # doctest: +SKIP

``AnonymousGame`` (description, validation, ``expand(n)`` to a full :class:`crldgen.Game`)
and the built-in games import sympy; :class:`AnonymousDynamics` (the compiled object) does not.
Several agent types (populations): :class:`TypedAnonymousGame`, :func:`compile_types`,
:class:`TypedDynamics` (:mod:`crldgen.anonymous.types`).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "AnonymousGame": (".game", "AnonymousGame"),
    "ecological_public_good": (".games", "ecological_public_good"),
    "social_dilemma": (".games", "social_dilemma"),
    "compile": (".codegen", "compile"),
    "generate": (".codegen", "generate"),
    "generate_source": (".codegen", "generate_source"),
    "AnonymousDynamics": (".dynamics", "AnonymousDynamics"),
    "AnonymousStability": (".dynamics", "AnonymousStability"),
    "load_anonymous_game": (".toml", "load_anonymous_game"),
    "loads_anonymous_game": (".toml", "loads_anonymous_game"),
    "TypedAnonymousGame": (".types", "TypedAnonymousGame"),
    "two_group_public_good": (".types", "two_group_public_good"),
    "compile_types": (".types", "compile_types"),
    "TypedDynamics": (".types_dynamics", "TypedDynamics"),
    "TypedStability": (".types_dynamics", "TypedStability"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'crldgen.anonymous' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name, __name__), attr)
    globals()[name] = value
    return value
