"""Closed-form count averages of anonymous games (sympy): factorial moments of the multinomial.

When ``T(s, k, s')`` and ``T(s, k, s') R(s, a, k, s')`` are polynomials in the counts, their
averages over the multinomial counts ``k'`` of the other ``m`` agents are polynomials in the
strategy: expand ``poly(k' + shift)``, write powers as falling factorials (Stirling numbers
of the second kind, ``k^e = sum_j S(e, j) (k)_j``) and use
``E[prod_b (k'_b)_{j_b}] = (m)_{sum j} prod_b x_b^{j_b}`` (zero when ``sum j > m``).
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from ..errors import GameError

#: largest total degree in the counts for which the closed-form (moment) averages are generated
MAX_MOMENT_DEGREE = 8


def _polynomial(expr, counts):
    """``expr`` as a Poly in the counts (coefficients in n and the parameters), or None."""
    expr = sympy.expand(expr)
    if not expr.is_polynomial(*counts):
        return None
    poly = sympy.Poly(expr, *counts)
    return poly if poly.total_degree() <= MAX_MOMENT_DEGREE else None


def _expectation(poly, shift, m_sym, xs):
    """``E[poly(k' + shift)]`` for ``k' ~ Multinomial(m, x)``, via factorial moments.

    Powers become falling factorials with Stirling numbers of the second kind, and
    ``E[prod_b (k'_b)_{j_b}] = (m)_{sum j} prod_b x_b^{j_b}`` (zero when ``sum j > m``).
    """
    from sympy.functions.combinatorial.numbers import stirling

    counts = poly.gens
    shifted = sympy.Poly(sympy.expand(poly.as_expr().xreplace({c: c + d for c, d in zip(counts, shift) if d})),
                         *counts)
    total = sympy.Integer(0)
    for monom, coeff in shifted.terms():
        coeff = shifted.domain.to_sympy(coeff)
        parts = [[(sympy.Integer(1), 0)] if e == 0 else [(stirling(e, j), j) for j in range(1, e + 1)]
                 for e in monom]
        for combo in itertools.product(*parts):
            c = sympy.Mul(*[sc for sc, _ in combo])
            J = sum(j for _, j in combo)
            falling = sympy.Mul(*[m_sym - i for i in range(J)])
            total += coeff * c * falling * sympy.Mul(*[x ** j for x, (_, j) in zip(xs, combo)])
    return total



def averages_closed_form(game) -> dict:
    """Closed-form ``Tsa[s, a, s']``, ``Rsa[s, a]`` (and the pair averages) in ``x_<state>_<action>``, n, parameters.

    Returns ``{'x': (Z, M) symbols, 'Tsa': (Z, M, Z), 'Rsa': (Z, M), 'Tpair': (Z, M, M, Z),
    'Rpair': (Z, M, M)}`` (object arrays; ``Tpair[s, a, c]`` conditions on the focal action a
    and one other agent's action c). Raises :class:`~crldgen.GameError` when T or T*R is not
    a polynomial in the counts.
    """
    Z, M = game.n_states, game.n_actions
    xs = np.array([[sympy.Symbol(f"x_{s}_{a}", real=True) for a in game.actions] for s in game.states], dtype=object)
    n = game.n_symbol
    out = {"x": xs, "Tsa": np.empty((Z, M, Z), dtype=object), "Rsa": np.empty((Z, M), dtype=object),
           "Tpair": np.empty((Z, M, M, Z), dtype=object), "Rpair": np.empty((Z, M, M), dtype=object)}
    for s in range(Z):
        pT = [_polynomial(game.T[s, t], game.counts) for t in range(Z)]
        pTR = [[_polynomial(game.T[s, t] * game.R[s, a, t], game.counts) for t in range(Z)] for a in range(M)]
        if any(p is None for p in pT) or any(p is None for row in pTR for p in row):
            raise GameError(f"game {game.name!r}: T or T*R in state {game.states[s]!r} is not a polynomial in the "
                            f"counts of degree <= {MAX_MOMENT_DEGREE}; no closed-form averages")
        for a in range(M):
            shift = [int(b == a) for b in range(M)]
            for t in range(Z):
                out["Tsa"][s, a, t] = sympy.factor(_expectation(pT[t], shift, n - 1, xs[s]))
            out["Rsa"][s, a] = sympy.factor(sympy.Add(*[_expectation(pTR[a][t], shift, n - 1, xs[s])
                                                        for t in range(Z)]))
            for c in range(M):
                shift2 = [int(b == a) + int(b == c) for b in range(M)]
                for t in range(Z):
                    out["Tpair"][s, a, c, t] = sympy.factor(_expectation(pT[t], shift2, n - 2, xs[s]))
                out["Rpair"][s, a, c] = sympy.factor(sympy.Add(*[_expectation(pTR[a][t], shift2, n - 2, xs[s])
                                                                 for t in range(Z)]))
    return out
