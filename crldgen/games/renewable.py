"""A renewable resource with logistic regrowth, harvested by several agents."""

from __future__ import annotations

import numpy as np

from ..errors import GameError
from .._validate import check_int
from ..game import Game, check_size
from ..lazygame import builtin_game

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it


@builtin_game
def renewable_resources(
    n_agents: int = 2,
    n_levels: int = 5,
    n_actions: int = 3,
    r=0.8,
    pr=0.1,
    price=1.0,
) -> Game:
    """A resource stock with ``Z = n_levels`` levels ``0 .. K`` (``K = Z - 1``) and logistic regrowth.

    States ``('0', ..., 'K')``: the stock in units. Actions ``('0', ..., 'M-1')``:
    agent ``i`` asks to extract ``a_i`` units. One step:

    1. **Harvest.** The total demand is ``E = sum_i a_i``; the harvest is
       ``H = min(E, s)``. If the stock suffices every agent gets its demand, otherwise
       the stock is shared in proportion to the demands: agent ``i`` extracts
       ``h_i = a_i H / E``.
    2. **Regrowth.** The remaining stock ``x = s - H`` grows by one unit with the
       logistic probability ``g(x) = r * 4 x (K - x) / K**2`` (largest, ``r``, at half
       capacity; 0 at ``x = K``, the capacity) and stays otherwise. A depleted stock
       (``x = 0``) recovers one unit with probability ``pr`` (immigration), so there is
       no absorbing collapse when ``pr > 0``.
    3. **Reward.** Agent ``i`` receives ``price * h_i``, proportional to its extraction.

    ``r``, ``pr`` and ``price`` are game parameters (probabilities need
    ``0 <= r, pr <= 1``). The next state depends on the joint action, so the learners'
    collective extraction shapes the stock they live on. The expected regrowth
    ``g(x)`` is a discretized logistic map: at most one unit per step.
    """
    N, Z, M = (check_int(what, value, low, error=GameError) for what, value, low in
               (("n_agents", n_agents, 1), ("n_levels", n_levels, 2), ("n_actions", n_actions, 2)))
    check_size(N, Z, M, what="renewable_resources")
    K = Z - 1
    r_, pr_, price_ = (sympy.Symbol(k, real=True) for k in ("r", "pr", "price"))
    T = np.empty((Z,) + (M,) * N + (Z,), dtype=object)
    R = np.empty((N, Z) + (M,) * N + (Z,), dtype=object)
    for s in range(Z):
        for joint in np.ndindex(*(M,) * N):
            demand = sum(joint)
            harvest = min(demand, s)
            x = s - harvest
            if x == K:
                up = sympy.Integer(0)
            elif x == 0:
                up = pr_
            else:
                up = r_ * sympy.Rational(4 * x * (K - x), K * K)
            row = [sympy.Integer(0)] * Z
            row[x] = 1 - up
            if x < K:
                row[x + 1] = up
            T[(s,) + joint] = row
            for i in range(N):
                share = sympy.Rational(joint[i] * harvest, demand) if demand else sympy.Integer(0)
                R[(i, s) + joint] = [price_ * share] * Z
    params = {r_: r, pr_: pr, price_: price}
    return Game(
        T, R, params=params, states=tuple(str(k) for k in range(Z)), actions=tuple(str(a) for a in range(M)),
        name=f"renewable{N}_{Z}_{M}",
    )
