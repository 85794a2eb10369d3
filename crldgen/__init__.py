"""crldgen: collective reinforcement learning dynamics, from symbols to compiled code.

The public names are imported lazily (PEP 562): ``import crldgen`` is cheap, and
``from crldgen.runtime import load_module`` (running an already generated module) never
imports sympy.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from . import _hooks
from ._version import __version__
from .errors import (CacheError, CrldgenError, DivergenceError, GameError, GenerationError, ParameterError,
                     StrategyError)


# Providers of the upward calls of lower layers (see crldgen._hooks): the imports sit here, at the
# top of the package, so that no module imports a layer above its own. Each loader runs on first use.
def _iterate_module():
    from . import iterate
    return iterate


def _data_module():
    from . import data
    return data


def _reduce_dynamics():
    from .runtime.identity import reduce_dynamics
    return reduce_dynamics


def _compile_model():
    from .compiler import compile_model
    return compile_model


def _model_latex():
    from .symbolic.latex import model_latex
    return model_latex


def _partial_module():
    from .symbolic import partial
    return partial


def _analysis_boundary():
    from .analysis import boundary
    return boundary


def _value_fixed_points():
    from .value.analysis import fixed_points
    return fixed_points


for _name, _loader in (("iterate", _iterate_module), ("data", _data_module), ("reduce_dynamics", _reduce_dynamics),
                       ("compile_model", _compile_model), ("model_latex", _model_latex),
                       ("symbolic.partial", _partial_module), ("value.fixed_points", _value_fixed_points),
                       ("analysis.boundary", _analysis_boundary)):
    _hooks.provide(_name, _loader)
del _name, _loader

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
    # heterogeneous games (issue 11): per-agent action and observation counts
    "RaggedDynamics": (".runtime", "RaggedDynamics"),
    "RaggedAverages": (".runtime", "RaggedAverages"),
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
__all__ += ["RaggedDynamics", "RaggedAverages"]


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
    from .runtime import Averages, Dynamics, RaggedAverages, RaggedDynamics
    from .symbolic.model import Model, derive
    from .analysis import (basin_fractions, basins, continuation, critical_slowing_down, fixed_points, hysteresis,
                           hysteresis_sweep, stability, stable_manifold, tipping_point)
    from .symbolic.stability import symbolic_stability
    from .data import load, save
    from .scans import scan
    from .symbolic.value import ValueModel, derive_value
    from .value import ValueDynamics
