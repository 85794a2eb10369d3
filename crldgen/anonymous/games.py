"""Built-in anonymous games (count-based forms of crldgen's built-in games)."""

from __future__ import annotations

import sympy

from .game import AnonymousGame


def ecological_public_good(n: int = 2, f=1.2, c=5.0, m=-5.0, qc=0.2, qr=0.01,
                           degraded_choice: bool = False) -> AnonymousGame:
    """The ecological public good in anonymous form (states ``('g', 'p')``, actions ``('c', 'd')``).

    With ``k_c`` cooperators and ``k_d`` defectors among the ``n`` agents:

    * prosperous state, no collapse: ``f c k_c / n - c [a = c]``;
    * collapse from 'p' with probability ``qc k_d / n``; the impact ``m`` on that
      transition and in every step in 'g';
    * recovery from 'g' with probability ``qr`` (``qr k_c / n`` with ``degraded_choice``).

    ``expand(n)`` equals :func:`crldgen.games.ecological_public_good` ``(n)`` with the same
    scalar parameters (equal ``f``, ``c``, ... for every agent).
    """
    kc, kd = AnonymousGame.count_symbols(("c", "d"))
    N = sympy.Symbol("n", real=True)
    f_, c_, m_, qc_, qr_ = (sympy.Symbol(s, real=True) for s in ("f", "c", "m", "qc", "qr"))
    collapse = qc_ * kd / N
    recover = qr_ * kc / N if degraded_choice else qr_
    G, P = 0, 1
    T = [[None, None], [None, None]]
    T[P][G], T[P][P] = collapse, 1 - collapse
    T[G][P], T[G][G] = recover, 1 - recover
    R = [[[m_, m_], [m_, m_]],                                   # degraded: m whatever happens
         [[m_, f_ * c_ * kc / N - c_], [m_, f_ * c_ * kc / N]]]   # prosperous: R[p][a][s']
    return AnonymousGame(T, R, params={"f": f, "c": c, "m": m, "qc": qc, "qr": qr}, states=("g", "p"),
                         actions=("c", "d"), n=n, name="anon_ecopg" + ("_dc" if degraded_choice else ""))


def social_dilemma(n: int = 2, R=1.0, T=1.5, S=-0.5, P=0.0) -> AnonymousGame:
    """The n-player social dilemma: every agent plays the 2x2 dilemma against each other agent.

    One state 's', actions ``('c', 'd')``; an agent's reward is its mean payoff over the
    ``n - 1`` others: cooperators get ``(R (k_c - 1) + S k_d) / (n - 1)``, defectors
    ``(T k_c + P (k_d - 1)) / (n - 1)``. For ``n = 2`` ``expand()`` is
    :func:`crldgen.games.social_dilemma` (parameters ``R, T, S, P``). Needs ``n >= 2``.
    """
    kc, kd = AnonymousGame.count_symbols(("c", "d"))
    N = sympy.Symbol("n", real=True)
    r, t, s, p = (sympy.Symbol(x, real=True) for x in ("R", "T", "S", "P"))
    coop = (r * (kc - 1) + s * kd) / (N - 1)
    defect = (t * kc + p * (kd - 1)) / (N - 1)
    return AnonymousGame([[1]], [[[coop], [defect]]], params={"R": R, "T": T, "S": S, "P": P},
                         states=("s",), actions=("c", "d"), n=n, name="anon_social_dilemma")
