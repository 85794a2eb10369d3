"""Two-agent, one-state matrix games."""

from __future__ import annotations

import numpy as np

from .._validate import check_real
from ..errors import GameError
from ..game import Game
from ..lazygame import builtin_game

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it


@builtin_game
def social_dilemma(R=1.0, T=1.5, S=-0.5, P=0.0) -> Game:
    """A symmetric 2x2 social dilemma with one state 's' and actions ('c', 'd').

    Rewards to the row player: mutual cooperation ``R`` (reward), defecting on a
    cooperator ``T`` (temptation), cooperating with a defector ``S`` (sucker), mutual
    defection ``P`` (punishment). The game's parameters are named ``R, T, S, P``.
    Prisoner's dilemma: T > R > P > S; stag hunt: R > T > P > S; chicken: T > R > S > P.
    """
    names = ("R", "T", "S", "P")
    syms = {k: sympy.Symbol(k, real=True) for k in names}
    r, t, s, p = (syms[k] for k in names)
    payoff = [[r, s], [t, p]]  # row player's reward for (own, other)
    Tt = np.ones((1, 2, 2, 1), dtype=object)
    Rt = np.empty((2, 1, 2, 2, 1), dtype=object)
    for a0 in range(2):
        for a1 in range(2):
            Rt[0, 0, a0, a1, 0] = payoff[a0][a1]
            Rt[1, 0, a0, a1, 0] = payoff[a1][a0]
    defaults = dict(zip(names, (R, T, S, P)))
    return Game(Tt, Rt, params={syms[k]: check_real(k, v, error=GameError) for k, v in defaults.items()},
                states=("s",), actions=("c", "d"), name="social_dilemma")
