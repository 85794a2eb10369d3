"""crldgen: collective reinforcement learning dynamics, from symbols to compiled code.

The public names are imported lazily (PEP 562): ``import crldgen`` is cheap, and
``from crldgen.runtime import load_module`` (running an already generated module) never
imports sympy.
"""

from __future__ import annotations

import importlib
import importlib.util
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
    "iterate": (".iterate", None),
    "plot": (".plot", None),
    "compile": (".compiler", "compile"),
    "generate": (".compiler", "generate"),
    "Averages": (".runtime", "Averages"),
    "Dynamics": (".runtime", "Dynamics"),
    # analysis (issue 5): fixed points, stability, basins, tipping points, continuation
    "fixed_points": (".analysis", "fixed_points"),
    "stability": (".analysis", "stability"),
    "basins": (".analysis", "basins"),
    "basin_fractions": (".analysis", "basin_fractions"),
    "tipping_point": (".analysis", "tipping_point"),
    "critical_slowing_down": (".analysis", "critical_slowing_down"),
    "stable_manifold": (".analysis", "stable_manifold"),
    "continuation": (".analysis", "continuation"),
    "hysteresis": (".analysis", "hysteresis"),
    "hysteresis_sweep": (".analysis", "hysteresis_sweep"),
    "symbolic_stability": (".symbolic.stability", "symbolic_stability"),
    # results that leave the process (issue 15): labeled data, files, scans
    "load": (".data", "load"),
    "save": (".data", "save"),
    "scan": (".scans", "scan"),
    # value-space dynamics (issue 14): Q estimates as the state, value SARSA / expected SARSA / Q-learning
    "ValueDynamics": (".value", "ValueDynamics"),
    "ValueModel": (".symbolic.value", "ValueModel"),
    "derive_value": (".symbolic.value", "derive_value"),
}

__all__ = ["CacheError", "CrldgenError", "DivergenceError", "Game", "GameError", "GenerationError", "Learner",
           "Model", "Averages", "Dynamics", "compile", "generate", "ParameterError", "StrategyError", "derive",
           "games", "iterate", "plot", "__version__"]
__all__ += ["fixed_points", "stability", "basins", "basin_fractions", "tipping_point", "critical_slowing_down",
            "stable_manifold", "continuation", "hysteresis", "hysteresis_sweep", "symbolic_stability"]
__all__ += ["load", "save", "scan"]
__all__ += ["ValueDynamics", "ValueModel", "derive_value"]


def __getattr__(name: str):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        # a submodule (crldgen.codegen, crldgen.iterate, ...) not imported yet
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f"{__name__}.{name}")
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
    from .analysis import (basin_fractions, basins, continuation, critical_slowing_down, fixed_points, hysteresis,
                           hysteresis_sweep, stability, stable_manifold, tipping_point)
    from .symbolic.stability import symbolic_stability
    from .data import load, save
    from .scans import scan
    from .symbolic.value import ValueModel, derive_value
    from .value import ValueDynamics
