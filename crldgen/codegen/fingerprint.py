"""A fingerprint of the code that determines generated text (symbolic layer + generator).

It is part of every cache key, so changing the derivation or the generator can never
leave a stale module in a cache looking valid. The implementation lives in
:mod:`crldgen.runtime.keys` (keys are computed without sympy); this name is kept.
"""

from __future__ import annotations

from ..runtime.keys import source_fingerprint

__all__ = ["source_fingerprint"]
