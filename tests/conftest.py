"""Test configuration: make ``crldgen`` (repo root) and ``reference`` (this folder) importable."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _p in (_HERE.parent, _HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
