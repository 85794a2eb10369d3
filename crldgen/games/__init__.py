"""Built-in games: the environments of the learning-dynamics chapter and more.

Every constructor returns a :class:`crldgen.Game` whose parameters are sympy symbols
with the given values as defaults, so one generated module serves a whole sweep.
"""

from .ecological import ecological_public_good
from .matrix import social_dilemma
from .risk_reward import risk_reward

#: name -> constructor, used by the command line
BUILTIN = {
    "ecological-public-good": ecological_public_good,
    "social-dilemma": social_dilemma,
    "risk-reward": risk_reward,
}

__all__ = ["BUILTIN", "ecological_public_good", "risk_reward", "social_dilemma"]
