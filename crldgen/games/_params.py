"""Helpers for game parameters that may be scalar or one value per agent."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validate import check_real
from ..errors import GameError

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it


def agent_params(name: str, value, n_agents: int, params: dict) -> list[sympy.Symbol]:
    """Register parameter ``name`` (scalar or per agent) and return one symbol per agent.

    A scalar gives one parameter ``name``; a sequence of length ``n_agents`` gives
    ``name_0, ..., name_{N-1}``.
    """
    if (isinstance(value, Sequence) and not isinstance(value, (str, bytes))) or isinstance(value, np.ndarray):
        values = [check_real(f"{name}[{k}]", v, error=GameError)
                  for k, v in enumerate(np.asarray(value, dtype=object).ravel())]
        if len(values) != n_agents:
            raise GameError(f"parameter {name!r} has {len(values)} values; expected one per agent ({n_agents})")
        syms = []
        for i, v in enumerate(values):
            sym = sympy.Symbol(f"{name}_{i}", real=True)
            params[sym] = v
            syms.append(sym)
        return syms
    sym = sympy.Symbol(name, real=True)
    params[sym] = check_real(name, value, error=GameError)
    return [sym] * n_agents
