"""Value-space CRLD: the agents' Q estimates as the dynamical state (crld-math.md section 10).

``ValueDynamics(game, learner, policy)`` with ``learner`` one of ``'sarsa'`` (value
SARSA, pyCRLD's ``valSARSA``), ``'expected_sarsa'``, ``'q_learning'``,
``'strategy_q_learning'`` (Q-learning in strategy space) and ``policy`` ``'softmax'`` or
``'epsilon_greedy'``. Kernels are game independent and compiled once
(:mod:`crldgen.value.kernels`); no sympy is imported here.
"""

from .dynamics import (LEARNERS, POLICIES, TieError, ValueDynamics, ValueTrajectories, ValueTrajectory,
                       game_tensors)
from .analysis import ValueFixedPoint, fixed_points, stability

__all__ = ["LEARNERS", "POLICIES", "TieError", "ValueDynamics", "ValueFixedPoint", "ValueTrajectories",
           "ValueTrajectory", "fixed_points", "game_tensors", "stability"]
