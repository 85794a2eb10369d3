"""Exception hierarchy: every error crldgen raises is a :class:`CrldgenError`."""

from __future__ import annotations


class CrldgenError(Exception):
    """Base class of all crldgen errors."""


class GameError(CrldgenError, ValueError):
    """A game's tensors, labels or parameters are invalid."""


class ParameterError(CrldgenError, ValueError):
    """An unknown parameter name or a bad parameter value."""


class StrategyError(CrldgenError, ValueError):
    """A joint strategy has the wrong shape, is not finite or not on the simplex."""


class GenerationError(CrldgenError, RuntimeError):
    """Writing or loading a generated module failed."""


class CacheError(GenerationError):
    """The module cache directory cannot be used (missing, read-only, foreign file)."""


class DivergenceError(CrldgenError, FloatingPointError):
    """An iteration produced non-finite numbers."""
