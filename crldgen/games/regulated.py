"""Regulated extraction: a resource user and a regulator with different action sets (a heterogeneous game)."""

from __future__ import annotations

import numpy as np

from .._validate import check_real
from ..errors import GameError
from ..game import Game
from ..lazygame import builtin_game

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

HEALTHY, DEGRADED = 0, 1
LOW, MEDIUM, HIGH = 0, 1, 2
IDLE, MONITOR = 0, 1
USER, REGULATOR = 0, 1


@builtin_game
def regulated_extraction(
    price=1.0,
    degraded_yield=0.25,
    fine=3.0,
    monitoring_cost=0.5,
    health_value=1.0,
    degrade_low=0.0,
    degrade_medium=0.05,
    degrade_high=0.3,
    recovery=0.1,
) -> Game:
    """A resource user extracts low/medium/high; a regulator monitors or not (M = (3, 2)).

    Agents ``('user', 'regulator')``; states ``('healthy', 'degraded')``; the user's
    actions ``('low', 'medium', 'high')`` extract ``e = 1, 2, 3`` units, the regulator's
    actions are ``('idle', 'monitor')``. In the spirit of the ecological public good
    (:func:`crldgen.games.ecological_public_good`), extraction pays now and endangers the
    resource later; a regulator's inspections make high extraction costly. With
    ``a`` the user's action and ``b`` the regulator's, the tensors are:

    * ``T[s, a, b, s']`` (the regulator's action does not move the resource):
      from 'healthy' the resource degrades with probability ``degrade_low``,
      ``degrade_medium`` or ``degrade_high`` for low, medium and high extraction; from
      'degraded' it recovers with probability ``recovery * (3 - e) / 2``: ``recovery``
      under low extraction, half of it under medium, never under high.
    * ``R[0, s, a, b, s']``, the user: the harvest ``price * e`` in 'healthy' and
      ``price * e * degraded_yield`` in 'degraded', minus ``fine`` when it extracts high
      while the regulator monitors (it is caught).
    * ``R[1, s, a, b, s']``, the regulator: ``health_value`` when the next state is
      'healthy', minus ``monitoring_cost`` when it monitors, plus the ``fine`` it
      collects from a caught high extractor (a self-financing agency).

    So monitoring pays for the regulator only when the user extracts high often enough
    (``P(high) * fine > monitoring_cost``), and high extraction pays for the user only
    while monitoring is rare and the future of the resource weighs little: an
    inspection game on a renewable resource. Every parameter is a named game
    parameter (a run-time argument of the generated code).
    """
    params: dict = {}

    def parameter(name, value):
        sym = sympy.Symbol(name, real=True)
        params[sym] = check_real(name, value, error=GameError)
        return sym

    (price_, yield_, fine_, cost_, health_, q_low, q_medium, q_high, recovery_) = (
        parameter(k, v) for k, v in (
            ("price", price), ("degraded_yield", degraded_yield), ("fine", fine),
            ("monitoring_cost", monitoring_cost), ("health_value", health_value), ("degrade_low", degrade_low),
            ("degrade_medium", degrade_medium), ("degrade_high", degrade_high), ("recovery", recovery)))
    Z, counts = 2, (3, 2)
    T = np.empty((Z,) + counts + (Z,), dtype=object)
    R = np.empty((2, Z) + counts + (Z,), dtype=object)
    extraction = {LOW: 1, MEDIUM: 2, HIGH: 3}
    degrade = {LOW: q_low, MEDIUM: q_medium, HIGH: q_high}
    for a, e in extraction.items():
        recover = recovery_ * sympy.Rational(3 - e, 2)
        for b in (IDLE, MONITOR):
            T[HEALTHY, a, b, DEGRADED] = degrade[a]
            T[HEALTHY, a, b, HEALTHY] = 1 - degrade[a]
            T[DEGRADED, a, b, HEALTHY] = recover
            T[DEGRADED, a, b, DEGRADED] = 1 - recover
            caught = a == HIGH and b == MONITOR
            for s, productivity in ((HEALTHY, 1), (DEGRADED, yield_)):
                harvest = price_ * e * productivity - (fine_ if caught else 0)
                for sp in (HEALTHY, DEGRADED):
                    R[USER, s, a, b, sp] = harvest
                    R[REGULATOR, s, a, b, sp] = ((health_ if sp == HEALTHY else 0) - (cost_ if b == MONITOR else 0)
                                                 + (fine_ if caught else 0))
    return Game(T, R, params=params, agents=("user", "regulator"), states=("healthy", "degraded"),
                actions=(("low", "medium", "high"), ("idle", "monitor")), name="regulated_extraction")
