"""``python -m crldgen``: the command line (see :mod:`crldgen.cli`)."""

import sys

from .cli import main

sys.exit(main())
