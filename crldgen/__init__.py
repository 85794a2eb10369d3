"""crldgen: collective reinforcement learning dynamics, from symbols to compiled code.

The public names are imported lazily (PEP 562): ``import crldgen`` is cheap, and
``from crldgen.runtime import load_module`` (running an already generated module) never
imports sympy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import (CacheError, CrldgenError, DivergenceError, GameError, GenerationError, ParameterError,
                     StrategyError)

#: public name -> (module relative to this package, attribute or None for the module itself)
_LAZY = {
    "Game": (".game", "Game"),
    "Learner": (".learners", "Learner"),
    "Model": (".symbolic.model", "Model"),
    "derive": (".symbolic.model", "derive"),
    "games": (".games", None),
    "compile": (".compiler", "compile"),
    "generate": (".compiler", "generate"),
    "Averages": (".runtime", "Averages"),
    "Dynamics": (".runtime", "Dynamics"),
}

__all__ = ["CacheError", "CrldgenError", "DivergenceError", "Game", "GameError", "GenerationError", "Learner",
           "Model", "Averages", "Dynamics", "compile", "generate", "ParameterError", "StrategyError", "derive",
           "games", "__version__"]


def __getattr__(name: str):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'crldgen' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - static analysers see the eager imports
    from . import games
    from .compiler import compile, generate
    from .game import Game
    from .learners import Learner
    from .runtime import Averages, Dynamics
    from .symbolic.model import Model, derive
