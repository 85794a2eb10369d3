"""The update equations of a game as LaTeX (symbolic derivation with sympy).

Prints the general CRLD equations and the game-specific expressions (strategy-average
rewards, transitions, TD errors) of the chapter's ecological public good for SARSA
learners, and writes them into equations.tex (a complete LaTeX document).

    python examples/latex_equations.py --out out [--game social-dilemma] [--learner actor_critic]
"""

from __future__ import annotations

import _common as c
from crldgen.games import BUILTIN

DOCUMENT = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
\usepackage[margin=2cm,landscape]{geometry}
\allowdisplaybreaks
\begin{document}
\section*{Collective reinforcement learning dynamics: %(title)s}
%(body)s
\end{document}
"""


def main(argv=None) -> list:
    ap = c.parser(__doc__.split("\n")[0])
    ap.add_argument("--game", default="ecological-public-good", choices=list(BUILTIN))
    ap.add_argument("--learner", default="sarsa", choices=["sarsa", "actor_critic"])
    args = ap.parse_args(argv)
    out = c.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    game = BUILTIN[args.game]()
    model = c.crldgen.derive(game, args.learner, prefactor=True)
    text = model.latex(max_entries=12 if args.quick else None)
    print(text)
    path = out / "equations.tex"
    title = f"{args.game.replace('-', ' ')}, {args.learner.replace('_', '-')} learners"
    path.write_text(DOCUMENT % {"title": title, "body": text})
    print(f"  wrote {path}")
    return [path]


if __name__ == "__main__":
    main()
