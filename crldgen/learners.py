"""Learners: how each forms its strategy-average temporal-difference error.

Both learners use the softmax (replicator-like) update of crld-math.md section 4:
``X'[i,s,a] ∝ X[i,s,a] exp(alpha_i delta[i,s,a])``; they differ in ``delta``:

* ``sarsa``: ``delta = beta_i Q[i,s,a] - ln X[i,s,a]``
* ``actor_critic``: ``delta = beta_i (Q[i,s,a] - V[i,s])``

In log-ratio coordinates ``y[a] = ln(X[a] / X[M-1])`` both read
``y' = y + alpha (delta[a] - delta[M-1])`` with ``delta[a] - delta[M-1]`` equal to
``beta (Q[a] - Q[M-1]) - y[a]`` (SARSA) or ``beta (Q[a] - Q[M-1])`` (actor-critic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError

LEARNERS = ("sarsa", "actor_critic")
_ALIASES = {"sarsa": "sarsa", "actor_critic": "actor_critic", "actor-critic": "actor_critic", "ac": "actor_critic"}


@dataclass(frozen=True)
class Learner:
    """A learner kind with its options.

    Parameters
    ----------
    kind : {'sarsa', 'actor_critic'}
    prefactor : bool
        Multiply rewards by ``1 - gamma_i`` (values on the scale of rewards).
    """

    kind: str = "sarsa"
    prefactor: bool = True

    def __post_init__(self) -> None:
        kind = _ALIASES.get(self.kind.lower()) if isinstance(self.kind, str) else None
        if kind is None:
            raise ParameterError(f"learner = {self.kind!r:.60}: unknown learner; choose one of {LEARNERS}")
        if not isinstance(self.prefactor, (bool, np.bool_)):  # 'False' or 0 must not silently mean True/False
            raise ParameterError(f"prefactor = {self.prefactor!r:.60}: must be True or False, "
                                 f"not a {type(self.prefactor).__name__}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "prefactor", bool(self.prefactor))

    @property
    def log_strategy_in_error(self) -> bool:
        """Whether ``-ln X`` enters the TD error (SARSA) or not (actor-critic)."""
        return self.kind == "sarsa"

    def canonical(self) -> str:
        return f"learner={self.kind};prefactor={self.prefactor}"


def as_learner(learner: str | Learner, prefactor: bool | None = None) -> Learner:
    """Coerce a name or :class:`Learner` (``prefactor`` overrides when given)."""
    if not isinstance(learner, (str, Learner)):
        raise ParameterError(f"learner = {learner!r:.60}: must be a learner name {LEARNERS} or a Learner")
    if isinstance(learner, Learner):
        return learner if prefactor is None else Learner(learner.kind, prefactor)
    return Learner(learner, True if prefactor is None else prefactor)
