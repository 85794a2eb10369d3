"""The single-agent risk-reward dilemma."""

from __future__ import annotations

import numpy as np

from ..game import Game
from ..lazygame import builtin_game

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

DEGRADED, PROSPEROUS = 0, 1
SAFE, RISKY = 0, 1


@builtin_game
def risk_reward(pc=0.2, pr=0.01, rs=0.5, rr=1.0, rd=0.0) -> Game:
    """One agent choosing between a safe ('s') and a risky ('r') action.

    States ``('g', 'p')`` (degraded, prosperous). In 'p' the safe action keeps the
    state prosperous and pays ``rs``; the risky action pays ``rr`` but collapses the
    state with probability ``pc`` (the collapse transition pays ``rd``). In 'g' every
    step pays ``rd``; the safe action recovers with probability ``pr``, the risky one
    never does.
    """
    pc_, pr_, rs_, rr_, rd_ = (sympy.Symbol(k, real=True) for k in ("pc", "pr", "rs", "rr", "rd"))
    T = np.empty((2, 2, 2), dtype=object)
    R = np.empty((1, 2, 2, 2), dtype=object)
    T[PROSPEROUS, SAFE, :] = [0, 1]
    T[PROSPEROUS, RISKY, :] = [pc_, 1 - pc_]
    T[DEGRADED, SAFE, :] = [1 - pr_, pr_]
    T[DEGRADED, RISKY, :] = [1, 0]
    R[0, PROSPEROUS, SAFE, :] = [rd_, rs_]
    R[0, PROSPEROUS, RISKY, :] = [rd_, rr_]
    R[0, DEGRADED, :, :] = rd_
    params = {pc_: pc, pr_: pr, rs_: rs, rr_: rr, rd_: rd}
    return Game(T, R, params=params, states=("g", "p"), actions=("s", "r"), name="risk_reward")
