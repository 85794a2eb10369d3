"""Two social dilemmas behind noisy observations (a partially observed game)."""

from __future__ import annotations

import numpy as np

from .._validate import check_real
from ..errors import GameError
from ..game import Game
from ..lazygame import builtin_game
from ._params import agent_params

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

PD, SH = 0, 1


@builtin_game
def uncertain_social_dilemma(
    R1=1.0, T1=1.5, S1=-0.5, P1=0.0,
    R2=1.0, T2=0.5, S2=-0.5, P2=0.0,
    psh=0.5,
    noise=0.1,
) -> Game:
    """Two agents in one of two social dilemmas, each seeing the current one through noise.

    States ``('pd', 'sh')``: by default a prisoner's dilemma (``T1 > R1 > P1 > S1``) and
    a stag hunt (``R2 > T2 > P2 > S2``); actions ``('c', 'd')``. In state ``k`` the row
    player receives ``Rk`` for mutual cooperation, ``Sk`` for cooperating with a
    defector, ``Tk`` for defecting on a cooperator and ``Pk`` for mutual defection
    (symmetric for the column player), whatever the next state.

    Transitions do not depend on actions or on the current state: the next state is
    ``'sh'`` with probability ``psh`` (default 0.5, uniform) and ``'pd'`` otherwise.

    Observations ``('pd', 'sh')``: agent ``i`` sees the true state with probability
    ``1 - noise_i`` and the other one with probability ``noise_i``
    (``O[i,s,o] = 1 - noise_i`` if ``o == s`` else ``noise_i / (Z-1)`` with ``Z = 2``).
    ``noise`` is a scalar (one parameter ``noise``) or one value per agent (parameters
    ``noise_0, noise_1``). ``noise = 0.5`` makes the observation uninformative.

    All numbers are game parameters (sympy symbols with these defaults).
    """
    params: dict = {}
    names = ("R1", "T1", "S1", "P1", "R2", "T2", "S2", "P2", "psh")
    values = (R1, T1, S1, P1, R2, T2, S2, P2, psh)
    syms = {}
    for name, value in zip(names, values):
        syms[name] = sympy.Symbol(name, real=True)
        params[syms[name]] = check_real(name, value, error=GameError)
    noise_ = agent_params("noise", noise, 2, params)
    Z, M, N = 2, 2, 2
    payoff = {
        PD: [[syms["R1"], syms["S1"]], [syms["T1"], syms["P1"]]],
        SH: [[syms["R2"], syms["S2"]], [syms["T2"], syms["P2"]]],
    }
    T = np.empty((Z, M, M, Z), dtype=object)
    R = np.empty((N, Z, M, M, Z), dtype=object)
    for s, a0, a1 in np.ndindex(Z, M, M):
        T[s, a0, a1, PD] = 1 - syms["psh"]
        T[s, a0, a1, SH] = syms["psh"]
        for sp in range(Z):
            R[0, s, a0, a1, sp] = payoff[s][a0][a1]
            R[1, s, a0, a1, sp] = payoff[s][a1][a0]
    O = np.empty((N, Z, Z), dtype=object)
    for i, s, o in np.ndindex(N, Z, Z):
        O[i, s, o] = 1 - noise_[i] if o == s else noise_[i] / (Z - 1)
    return Game(T, R, O, params=params, states=("pd", "sh"), actions=("c", "d"), observations=("pd", "sh"),
                name="uncertain_social_dilemma")
