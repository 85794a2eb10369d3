"""Helpers for game parameters that may be scalar or one value per agent."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import GameError

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it


def agent_params(name: str, value, n_agents: int, params: dict) -> list[sympy.Symbol]:
    """Register parameter ``name`` (scalar or per agent) and return one symbol per agent.

    A scalar gives one parameter ``name``; a sequence of length ``n_agents`` gives
    ``name_0, ..., name_{N-1}``.
    """
    if isinstance(value, Sequence) or isinstance(value, np.ndarray):
        values = list(np.asarray(value, dtype=float).ravel())
        if len(values) != n_agents:
            raise GameError(f"parameter {name!r} has {len(values)} values; expected one per agent ({n_agents})")
        syms = []
        for i, v in enumerate(values):
            sym = sympy.Symbol(f"{name}_{i}", real=True)
            params[sym] = v
            syms.append(sym)
        return syms
    sym = sympy.Symbol(name, real=True)
    params[sym] = float(value)
    return [sym] * n_agents
