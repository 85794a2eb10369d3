"""Random games whose tensors are run-time parameters (shared by the codegen tests).

``param_game(N, Z, M)`` is a :class:`crldgen.Game` whose every reward entry and every
free transition probability is a game parameter: ``rw_i_s_a0.._s'`` for
``R[i, s, a0, .., s']`` and ``tp_s_a0.._s'`` for ``T[s, a0, .., s']`` with ``s' < Z-1``;
the last entry of each transition row is ``1 - sum(others)``, so rows sum to one
identically. One compiled module then serves any numeric game of that shape: a random
instance is just a set of parameter values (the design: parameters are run-time
arguments), which keeps the number of numba compilations in the test suite small.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

import reference as ref

#: (N, Z, M, learner, prefactor): every N, Z in 1..3 and M in 2..3, both learners,
#: prefactor on and off, in 8 compiled modules
CASES = [
    (1, 1, 2, "sarsa", True),
    (1, 2, 3, "actor_critic", True),
    (1, 3, 3, "actor_critic", False),
    (2, 2, 2, "sarsa", False),
    (2, 3, 3, "actor_critic", True),
    (3, 1, 3, "actor_critic", False),
    (3, 2, 2, "sarsa", True),
    (3, 3, 2, "sarsa", False),
]


def case_id(case) -> str:
    N, Z, M, learner, pre = case
    return f"N{N}Z{Z}M{M}-{learner}-{'pre' if pre else 'nopre'}"


def _name(prefix, idx) -> str:
    return prefix + "_" + "_".join(str(int(k)) for k in idx)


def param_game(N: int, Z: int, M: int):
    """The fully parametrized game of shape (N, Z, M) (defaults: uniform T, zero R)."""
    import crldgen

    joint = (M,) * N
    params: dict = {}
    T = np.empty((Z,) + joint + (Z,), dtype=object)
    for idx in np.ndindex(*((Z,) + joint)):
        free = []
        for sp in range(Z - 1):
            sym = sympy.Symbol(_name("tp", idx + (sp,)), real=True)
            params[sym] = 1.0 / Z
            free.append(sym)
            T[idx + (sp,)] = sym
        T[idx + (Z - 1,)] = 1 - sympy.Add(*free)
    R = np.empty((N, Z) + joint + (Z,), dtype=object)
    for idx in np.ndindex(*R.shape):
        sym = sympy.Symbol(_name("rw", idx), real=True)
        params[sym] = 0.0
        R[idx] = sym
    return crldgen.Game(T, R, params=params, name=f"rand_N{N}Z{Z}M{M}")


def theta_of(T: np.ndarray, R: np.ndarray) -> dict[str, float]:
    """Parameter values ``{name: value}`` of :func:`param_game` that realize numeric ``T``, ``R``."""
    Z = T.shape[0]
    out = {}
    for idx in itertools.product(*(range(n) for n in T.shape[:-1])):
        for sp in range(Z - 1):
            out[_name("tp", idx + (sp,))] = float(T[idx + (sp,)])
    for idx in np.ndindex(*R.shape):
        out[_name("rw", idx)] = float(R[idx])
    return out


def instances(N: int, Z: int, M: int, n: int = 3, seed: int = 0) -> list[dict]:
    """``n`` random numeric games of shape (N, Z, M) (``reference.random_game`` dicts + ``theta``)."""
    out = []
    for k in range(n):
        g = ref.random_game(np.random.default_rng([N, Z, M, seed, k]), N, Z, M)
        g["theta"] = theta_of(g["T"], g["R"])
        out.append(g)
    return out
