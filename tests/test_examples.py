"""The examples: the whole chapter end to end (quick mode), with the figures' content checked."""

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

EXPECTED = {
    "trajectory.png", "trajectories_random.png", "trajectories_phase.png", "flow_basic.png", "flow_analysis.png",
    "flow_gamma0.8.png", "flow_m-6.png", "flow_qc0.3.png", "flow_beta1.png", "flow_variations.png",
    "critical_transition.png", "critical_slowing_down.png", "transient_tipping.png", "transient_tipping_zoom.png",
    "basins.png", "hysteresis.png", "bifurcation.png", "stability_eigenvalues.png", "simplex_rps.png",
    "equations.tex",
}


def describe(fig):
    """What a test needs to know about a figure: per axes its arrows, lines, markers, images."""
    out = []
    for ax in fig.axes:
        out.append(dict(
            label=ax.get_label(), title=ax.get_title(), ylabel=ax.get_ylabel(),
            arrows=[c.N for c in ax.collections if isinstance(c, Quiver)],
            linecollections=sum(isinstance(c, LineCollection) for c in ax.collections),
            gids=[ln.get_gid() for ln in ax.lines],
            points={gid: sum(len(ln.get_xdata()) for ln in ax.lines if ln.get_gid() == gid)
                    for gid in {ln.get_gid() for ln in ax.lines}},
            scatter=[len(c.get_offsets()) for c in ax.collections if c.get_gid() == "sweep"],
            images=len(ax.images),
        ))
    return out


@pytest.fixture(scope="module")
def chapter_run(tmp_path_factory, cache_dir):
    """Run examples/chapter.py --quick once; record every figure before it is saved."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import _common
        import chapter

        figures = {}
        original = _common.save

        def recording_save(fig_or_axes, args, name):
            fig = getattr(fig_or_axes, "figure", fig_or_axes)
            if isinstance(fig_or_axes, (list, tuple, np.ndarray)):
                fig = np.ravel(fig_or_axes)[0].figure
            figures[name] = describe(fig)
            return original(fig_or_axes, args, name)

        _common.CACHE_DIR = cache_dir
        _common.save = recording_save
        out = tmp_path_factory.mktemp("chapter")
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            written = chapter.main(["--out", str(out), "--quick", "--dpi", "50"])
        docs = "\n".join(section.__doc__ for section in chapter.SECTIONS)
        return dict(out=out, written=written, figures=figures, log=buf.getvalue(), docs=docs)
    finally:
        _common.save = original
        _common.CACHE_DIR = None
        sys.path.remove(str(EXAMPLES))


def test_chapter_writes_every_figure(chapter_run):
    names = {p.name for p in chapter_run["written"]}
    assert names == EXPECTED
    for path in chapter_run["written"]:
        assert path.parent == chapter_run["out"] and path.stat().st_size > 1000
        if path.suffix == ".png":
            img = mpimg.imread(path)
            assert img.shape[0] > 100 and img.shape[1] > 100
            assert img[..., :3].std() > 0.05, f"{path.name} looks blank"
    for name in names:  # every example documents the files it writes
        assert name in chapter_run["docs"]


def test_chapter_numbers(chapter_run):
    log = chapter_run["log"]
    assert "trajectory from the chapter's start: 147 strategies, fixed point reached: True" in log
    assert "trajectory lengths: [178, 234, 174]" in log
    tip = float(re.search(r"critical point by bisection: ([0-9.]+)", log).group(1))
    assert 0.18966 < tip < 0.18974  # between the chapter's 0.189667 and 0.189733
    assert "all converged: True" in log
    up = float(re.search(r"sweep\s+up: cooperation jumps .* at gamma = ([0-9.]+)", log).group(1))
    down = float(re.search(r"sweep down: cooperation jumps .* at gamma = ([0-9.]+)", log).group(1))
    assert 0.8246 < up < 0.8246 + 0.015 and 0.7154 - 0.015 < down < 0.7154  # quick mode: grid step 0.015
    assert "continuation   up: fold at gamma = 0.8246" in log
    assert "continuation down: fold at gamma = 0.7154" in log
    assert "all stability checks passed" in log and "FAILED" not in log
    assert r"\begin{align*}" in log


def test_flow_figures_content(chapter_run):
    figs = chapter_run["figures"]
    basic = figs["flow_basic.png"]
    assert len(basic) == 3  # two panels and a colour bar
    assert [a["arrows"] for a in basic[:2]] == [[81], [81]]
    assert [a["title"] for a in basic[:2]] == ["state g", "state p"]
    assert basic[2]["ylabel"] == "|normalized TD error|"
    analysis = figs["flow_analysis.png"]
    for panel in analysis[:2]:
        assert panel["linecollections"] >= 1  # streamlines
        assert panel["points"]["fixed-points-stable"] == 2 and panel["points"]["fixed-points-unstable"] == 1
    assert analysis[1]["gids"].count("separatrix") == 2
    for name in ("flow_gamma0.8.png", "flow_m-6.png", "flow_qc0.3.png", "flow_beta1.png"):
        assert [a["arrows"] for a in figs[name][:2]] == [[81], [81]]
    variations = figs["flow_variations.png"]
    assert len(variations) == 5 and all(a["arrows"] == [81] for a in variations)
    stable = [a["points"].get("fixed-points-stable", 0) for a in variations]
    assert stable == [2, 2, 2, 1, 1]  # qc = 0.3 leaves cooperation only; beta = 1 one mixed point
    assert [a["points"].get("fixed-points-unstable", 0) for a in variations] == [1, 1, 1, 0, 0]


def test_critical_transition_figures_content(chapter_run):
    figs = chapter_run["figures"]
    crit = figs["critical_transition.png"]
    panel = crit[0]
    assert panel["arrows"] == [81]
    assert panel["gids"].count("trajectory") == 3
    assert panel["points"]["trajectory-end-converged"] == 3
    assert panel["points"]["fixed-points-stable"] == 2 and panel["points"]["fixed-points-unstable"] == 1
    slowing = figs["critical_slowing_down.png"]
    assert slowing[0]["gids"].count("convergence-time") == 2  # defection and cooperation
    assert len(figs["transient_tipping.png"][0]["gids"]) == 4 + 1  # two runs x two agents, and the saddle
    assert figs["basins.png"][0]["images"] == 1


def test_hysteresis_and_stability_figures_content(chapter_run):
    figs = chapter_run["figures"]
    hyst = figs["hysteresis.png"]
    n = len(np.arange(0.6, 0.9, 0.015))
    assert hyst[0]["scatter"] == [2 * n] and hyst[1]["ylabel"] == "sweep step"
    bif = figs["bifurcation.png"][0]
    assert bif["gids"].count("branch-unstable") == 1 and bif["gids"].count("branch-stable") == 2
    assert bif["gids"].count("bifurcation") == 2
    simplex = figs["simplex_rps.png"]
    assert [a["arrows"] for a in simplex[:2]] == [[45], [45]]  # 8 steps per side: 9 * 10 / 2 points
    assert simplex[0]["points"]["fixed-points-stable"] == 1


def test_an_example_runs_as_a_script(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(EXAMPLES / "latex_equations.py"), "--out", str(tmp_path),
                           "--quick", "--game", "social-dilemma"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    tex = (tmp_path / "equations.tex").read_text()
    assert tex.startswith(r"\documentclass{article}") and tex.rstrip().endswith(r"\end{document}")
    assert r"\begin{align*}" in tex and "social dilemma" in tex
