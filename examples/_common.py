"""Shared set-up of the chapter examples: the game, the command line, saving figures.

Every example is a script with ``main(argv) -> list of written files``; run it as
``python examples/<name>.py --out out`` (``--quick`` for a smaller, faster run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the examples only write files

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402
from crldgen import plot  # noqa: E402

#: the chapter's learner parameters (trajectories, flow plots, hysteresis) ...
CHAPTER = dict(alpha=0.05, beta=50.0, gamma=0.75)
#: ... and those of its critical-transition section
CRITICAL = dict(alpha=0.01, beta=100.0, gamma=0.75)

#: the chapter's projections: cooperation of agent 0 (x) and agent 1 (y) in each state ...
X_BOTH, Y_BOTH = ([0], ["g", "p"], ["c"]), ([1], ["g", "p"], ["c"])
#: ... and in the prosperous state only
X_P, Y_P = ([0], ["p"], ["c"]), ([1], ["p"], ["c"])
#: index of the prosperous state and of cooperation
P, G, C = 1, 0, 0

#: where generated modules are looked up and cached (None: the repository's generated/
#: folder, then the user cache; the tests point it at their session cache)
CACHE_DIR = None


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default="out", help="output folder for the figures (default ./out)")
    ap.add_argument("--quick", action="store_true", help="smaller runs (for tests and CI)")
    ap.add_argument("--dpi", type=int, default=200, help="resolution of the PNG files (default 200)")
    return ap


def parse(description: str, argv=None) -> argparse.Namespace:
    args = parser(description).parse_args(argv)
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def ecopg(**defaults):
    """The chapter's ecological public good (N=2), SARSA with prefactor, compiled (cached on disk).

    ``defaults`` override the chapter's learner parameters (the same compiled module
    serves every parameter value).
    """
    game = crldgen.games.ecological_public_good(2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01)
    return compile_game(game, **{**CHAPTER, **defaults})


def compile_game(game, learner: str = "sarsa", **defaults):
    """``crldgen.compile`` with the examples' cache location."""
    return crldgen.compile(game, learner, prefactor=True, cache_dir=CACHE_DIR, **defaults)


def compile_strategy(p0c: float, p1c: float) -> np.ndarray:
    """The chapter's helper: cooperation probabilities in 'p' of agents 0 and 1, 0.5 in 'g'."""
    Pi, Pj = np.array([0.5, p0c]), np.array([0.5, p1c])
    return np.array([np.array([Pi, 1 - Pi]).T, np.array([Pj, 1 - Pj]).T])


def save(fig_or_axes, args, name: str) -> Path:
    path = args.out / name
    plot.save(fig_or_axes, path, dpi=args.dpi)
    print(f"  wrote {path}")
    return path


def figure(*shape, **kw):
    import matplotlib.pyplot as plt

    kw.setdefault("constrained_layout", True)
    return plt.subplots(*shape, **kw)
