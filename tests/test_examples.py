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


def hygiene(fig) -> list[str]:
    """What a careful reader would object to in ``fig``: missing axis labels, arrows cut by
    the frame, more than one legend, legend entries that match nothing drawn."""
    from matplotlib.lines import Line2D

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    drawn = [a for ax in fig.axes for a in ax.get_children()]
    labels = {a.get_label() for a in drawn}
    markers = {a.get_marker() for a in drawn if isinstance(a, Line2D)} - {"None", "", None}
    for ax in fig.axes:
        if getattr(ax, "_colorbar", None) is not None or not ax.axison:  # colour bars; simplex panels
            continue
        has_data = ax.lines or ax.collections or ax.images or ax.patches[1:]
        if has_data and (not ax.get_xlabel() or not ax.get_ylabel()):
            problems.append(f"axes {ax.get_title()!r} lacks an axis label")
        frame = ax.get_window_extent(renderer)
        for q in ax.collections:
            if isinstance(q, Quiver) and len(q.get_paths()):
                # the arrow polygons in pixels (Quiver.get_window_extent is not reliable)
                off = q.get_offset_transform().transform(q.get_offsets())
                pts = np.concatenate([q.get_transform().transform(p.vertices) + o
                                      for p, o in zip(q.get_paths(), off)])
                pts = pts[np.all(np.isfinite(pts), axis=1)]
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                if lo[0] < frame.x0 - 1 or hi[0] > frame.x1 + 1 or lo[1] < frame.y0 - 1 or hi[1] > frame.y1 + 1:
                    problems.append(f"arrows of {ax.get_title()!r} reach outside the frame")
    from matplotlib.patches import Patch

    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    areas = any(ax.images for ax in fig.axes)
    seen: dict = {}
    for leg in legends:
        texts = [t.get_text() for t in leg.get_texts()]
        if len(set(texts)) != len(texts):
            problems.append(f"duplicate legend entries {texts}")
        for text in texts:  # overlays added in separate calls must not give a second legend
            if text in seen:
                problems.append(f"legend entry {text!r} appears in two legends")
            seen[text] = leg
        for h, text in zip(leg.legend_handles, texts):
            shape = h.get_marker() if isinstance(h, Line2D) else None
            colour_key = isinstance(h, Patch) and areas  # colour keys of image areas (basins)
            if text not in labels and shape not in markers and not colour_key:
                problems.append(f"legend entry {text!r} matches nothing drawn")
    return problems


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

        figures, problems = {}, {}
        original = _common.save

        def recording_save(fig_or_axes, args, name):
            fig = getattr(fig_or_axes, "figure", fig_or_axes)
            if isinstance(fig_or_axes, (list, tuple, np.ndarray)):
                fig = np.ravel(fig_or_axes)[0].figure
            figures[name] = describe(fig)
            problems[name] = hygiene(fig)
            return original(fig_or_axes, args, name)

        _common.CACHE_DIR = cache_dir
        _common.save = recording_save
        out = tmp_path_factory.mktemp("chapter")
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            written = chapter.main(["--out", str(out), "--quick", "--dpi", "50"])
        docs = "\n".join(section.__doc__ for section in chapter.SECTIONS)
        return dict(out=out, written=written, figures=figures, problems=problems, log=buf.getvalue(), docs=docs)
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


def test_every_figure_passes_the_hygiene_checks(chapter_run):
    assert set(chapter_run["problems"]) == EXPECTED - {"equations.tex"}
    bad = {name: p for name, p in chapter_run["problems"].items() if p}
    assert not bad


def test_hygiene_check_finds_the_faults_it_looks_for():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    from matplotlib.lines import Line2D

    line, = a.plot([0, 1], [0, 1], label="drawn")
    b.quiver([0.99], [0.5], [1.0], [0.0], angles="xy", scale_units="xy", scale=1.0)
    b.set_xlim(0, 1)
    a.legend([line, Line2D([], [], marker="^", ls="none")], ["drawn", "ghost"])
    found = "\n".join(hygiene(fig))
    plt.close(fig)
    assert "lacks an axis label" in found and "outside the frame" in found
    assert "'ghost' matches nothing" in found
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="line")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.legend()  # the overlay-in-a-second-call fault
    found = "\n".join(hygiene(fig))
    plt.close(fig)
    assert "'line' appears in two legends" in found


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
    variations, colorbar = figs["flow_variations.png"][:5], figs["flow_variations.png"][5:]
    assert len(variations) == 5 and all(a["arrows"] == [81] for a in variations)
    assert [a["ylabel"] for a in colorbar] == ["|normalized TD error|"]  # one shared colour scale
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


def test_regulated_extraction_example(tmp_path, cache_dir):
    """examples/regulated_extraction.py: a heterogeneous game (M = (3, 2)) end to end.

    The plotted trajectories (first steps from the uniform start) are checked against the
    plain-numpy oracle tests/reference_ragged.py; needs the heterogeneous code generation
    and dynamics (crldgen.compile of a game whose agents have different action counts).
    """
    import reference_ragged as rr

    sys.path.insert(0, str(EXAMPLES))
    try:
        import _common
        import regulated_extraction as example

        figures, problems = {}, {}
        original = _common.save

        def recording_save(fig, args, name):
            figures[name] = fig
            problems[name] = hygiene(fig)
            return original(fig, args, name)

        _common.CACHE_DIR = cache_dir
        _common.save = recording_save
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            written = example.main(["--out", str(tmp_path), "--quick", "--dpi", "50"])
    finally:
        _common.save = original
        _common.CACHE_DIR = None
        sys.path.remove(str(EXAMPLES))
    assert [p.name for p in written] == ["regulated_extraction.png"] and written[0].stat().st_size > 1000
    assert "regulated_extraction.png" in example.__doc__
    assert problems["regulated_extraction.png"] == []
    fig = figures["regulated_extraction.png"]
    lines = {ln.get_gid(): [] for ax in fig.axes for ln in ax.lines}
    for ax in fig.axes:
        for ln in ax.lines:
            lines[ln.get_gid()].append(np.asarray(ln.get_ydata()))
    n_starts = 3
    for state in ("healthy", "degraded"):
        assert len(lines[f"regulator-{state}-monitor"]) == n_starts
        for action in ("low", "medium", "high"):
            assert len(lines[f"user-{state}-{action}"]) == n_starts
        total = sum(lines[f"user-{state}-{a}"][0] for a in ("low", "medium", "high"))
        np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)  # the user's row stays on the simplex
    # the first start is uniform: the oracle's SARSA trajectory (prefactor on, as _common.compile_game)
    import crldgen

    num = crldgen.games.regulated_extraction().numeric()
    p = example.LEARNER
    X0 = (np.full((2, 3), 1 / 3), np.full((2, 2), 0.5))
    ref = rr.trajectory(num["T"], num["R"], None, X0, [p["alpha"]] * 2, [p["beta"]] * 2, [p["gamma"]] * 2,
                        learner="sarsa", prefactor=True, tmax=20)
    for s, state in enumerate(("healthy", "degraded")):
        np.testing.assert_allclose(lines[f"user-{state}-high"][0][:21], [x[0][s, 2] for x in ref], rtol=1e-9)
        np.testing.assert_allclose(lines[f"regulator-{state}-monitor"][0][:21], [x[1][s, 1] for x in ref],
                                   rtol=1e-9)
    assert "uniform:" in buf.getvalue() and "regulator monitors" in buf.getvalue()
