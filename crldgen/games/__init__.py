"""Built-in games: the environments of the learning-dynamics chapter and more.

Every constructor returns a :class:`crldgen.Game` whose parameters are sympy symbols
with the given values as defaults, so one generated module serves a whole sweep.
:func:`with_memory` turns any game into one whose states are recent histories.
"""

from .ecological import ecological_public_good
from .matrix import social_dilemma
from .memory import with_memory
from .regulated import regulated_extraction
from .renewable import renewable_resources
from .risk_reward import risk_reward
from .uncertain import uncertain_social_dilemma

#: name -> constructor, used by the command line
BUILTIN = {
    "ecological-public-good": ecological_public_good,
    "social-dilemma": social_dilemma,
    "risk-reward": risk_reward,
    "uncertain-social-dilemma": uncertain_social_dilemma,
    "renewable-resources": renewable_resources,
    "regulated-extraction": regulated_extraction,
}

__all__ = ["BUILTIN", "ecological_public_good", "regulated_extraction", "renewable_resources", "risk_reward",
           "social_dilemma", "uncertain_social_dilemma", "with_memory"]
