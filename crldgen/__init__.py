"""crldgen: collective reinforcement learning dynamics, from symbols to compiled code."""

from .errors import (CacheError, CrldgenError, DivergenceError, GameError, GenerationError, ParameterError,
                     StrategyError)
from .game import Game
from .learners import Learner
from .symbolic.model import Model, derive
from . import games
from .compiler import compile, generate
from .runtime import Averages, Dynamics

from ._version import __version__  # noqa: E402

__all__ = ["CacheError", "CrldgenError", "DivergenceError", "Game", "GameError", "GenerationError", "Learner",
           "Model", "Averages", "Dynamics", "compile", "generate", "ParameterError", "StrategyError", "derive", "games", "__version__"]
