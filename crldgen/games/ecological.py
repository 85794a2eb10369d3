"""The ecological public good (Barfuss et al. 2020, PNAS; the chapter's EcoPG)."""

from __future__ import annotations

import numpy as np

from ..errors import GameError
from .._validate import check_bool, check_int
from ..game import Game, check_size
from ..lazygame import builtin_game
from ._params import agent_params

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

DEGRADED, PROSPEROUS = 0, 1
COOPERATE, DEFECT = 0, 1


@builtin_game
def ecological_public_good(
    n_agents: int = 2,
    f=1.2,
    c=5.0,
    m=-5.0,
    qc=0.2,
    qr=0.01,
    degraded_choice: bool = False,
) -> Game:
    """Ecological public good with a prosperous ('p') and a degraded ('g') state.

    States ``('g', 'p')``, actions ``('c', 'd')`` (cooperate, defect).

    * Prosperous state, no collapse: agent ``i`` receives ``(sum_j f_j c_j [j
      cooperates]) / N - c_i [i cooperates]``: each contributor's investment is
      multiplied by *its own* synergy factor ``f_j`` and the pot is shared equally.
      This is pyCRLD's convention (``EcologicalPublicGood`` with per-agent factors), so
      studies ported from pyCRLD give the same numbers; with one ``f`` for all agents
      it is the familiar ``f * (sum_j c_j [j cooperates]) / N - c_i [i cooperates]``.
    * Collapse: from 'p' the state degrades with probability
      ``sum_j qc_j [j defects] / N``; every agent receives the collapse impact ``m_i``
      on that transition and in every step in the degraded state.
    * Recovery: from 'g' the state recovers with probability ``qr`` (the mean of the
      ``qr_j``); with ``degraded_choice=True`` with ``sum_j qr_j [j cooperates] / N``.

    Parameters ``f, c, m, qc, qr`` may be scalars or one value per agent (then the
    game has parameters ``c_0, c_1, ...``). With N=2, f=1.2, c=5 the prosperous-state
    rewards of agent 0 are ``[[1, -2], [3, 0]]``.
    """
    n = check_int("n_agents", n_agents, 1, error=GameError)
    check_bool("degraded_choice", degraded_choice, error=GameError)
    check_size(n, 2, 2, what="ecological_public_good")  # before allocating 2**n joint actions
    params: dict = {}
    f_, c_, m_, qc_, qr_ = (agent_params(k, v, n, params) for k, v in
                            (("f", f), ("c", c), ("m", m), ("qc", qc), ("qr", qr)))
    Z, M = 2, 2
    T = np.empty((Z,) + (M,) * n + (Z,), dtype=object)
    R = np.empty((n, Z) + (M,) * n + (Z,), dtype=object)
    N = sympy.Integer(n)
    for joint in np.ndindex(*(M,) * n):
        coop = [a == COOPERATE for a in joint]
        collapse = sympy.Add(*[qc_[j] for j in range(n) if not coop[j]]) / N
        if degraded_choice:
            recover = sympy.Add(*[qr_[j] for j in range(n) if coop[j]]) / N
        else:
            recover = sympy.Add(*qr_) / N if len(set(qr_)) > 1 else qr_[0]
        T[(PROSPEROUS,) + joint + (DEGRADED,)] = collapse
        T[(PROSPEROUS,) + joint + (PROSPEROUS,)] = 1 - collapse
        T[(DEGRADED,) + joint + (PROSPEROUS,)] = recover
        T[(DEGRADED,) + joint + (DEGRADED,)] = 1 - recover
        if len(set(f_)) == 1:  # one synergy factor: f * sum_j c_j [j cooperates] (the same expression as before)
            pot = f_[0] * sympy.Add(*[c_[j] for j in range(n) if coop[j]])
        else:  # pyCRLD: each contributor's own factor
            pot = sympy.Add(*[f_[j] * c_[j] for j in range(n) if coop[j]])
        for i in range(n):
            R[(i, PROSPEROUS) + joint + (PROSPEROUS,)] = pot / N - (c_[i] if coop[i] else 0)
            R[(i, PROSPEROUS) + joint + (DEGRADED,)] = m_[i]
            R[(i, DEGRADED) + joint + (DEGRADED,)] = m_[i]
            R[(i, DEGRADED) + joint + (PROSPEROUS,)] = m_[i]
    return Game(
        T, R, params=params, states=("g", "p"), actions=("c", "d"),
        name=f"ecopg{n}" + ("_dc" if degraded_choice else ""),
    )
