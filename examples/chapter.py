"""The learning-dynamics chapter end to end: every figure, into one folder.

Runs, in the chapter's order, the examples

    trajectories.py          learning trajectories from random starts
    flow.py                  the basic flow plot (Fig. 2), fixed points, separatrix
    parameter_variations.py  the flow under parameter changes (Figs. 3-6)
    critical_transition.py   critical transition, slowing down, transient tipping (Figs. 7-9), basins
    hysteresis.py            hysteresis in the discount factor (Fig. 10) and its bifurcation diagram
    stability.py             analytic checks of the fixed points' stability
    simplex.py               three actions: flows on the simplex (a game from a TOML file)
    latex_equations.py       the update equations as LaTeX

and writes all PNG files (and equations.tex) into --out (default ./out):

    python examples/chapter.py --out out
"""

from __future__ import annotations

import time

import _common as c
import critical_transition
import flow
import hysteresis
import latex_equations
import parameter_variations
import simplex
import stability
import trajectories

SECTIONS = [trajectories, flow, parameter_variations, critical_transition, hysteresis, stability, simplex,
            latex_equations]


def main(argv=None) -> list:
    args = c.parse(__doc__.split("\n")[0], argv)
    passed = ["--out", str(args.out), "--dpi", str(args.dpi)] + (["--quick"] if args.quick else [])
    written = []
    start = time.perf_counter()
    for section in SECTIONS:
        name = section.__name__
        print(f"\n=== {name}: {section.__doc__.splitlines()[0]}")
        t0 = time.perf_counter()
        files = section.main(passed)
        written.extend(files)
        print(f"--- {name}: {len(files)} file(s) in {time.perf_counter() - t0:.1f} s")
    print(f"\n{len(written)} files in {args.out}/ ({time.perf_counter() - start:.1f} s):")
    for path in written:
        print(f"  {path.name}")
    return written


if __name__ == "__main__":
    main()
