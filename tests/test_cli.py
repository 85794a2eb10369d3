"""The ``crldgen`` command line: every subcommand in-process, bad input, hostile game files, a subprocess."""

import io
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from crldgen.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RPS = ROOT / "examples" / "games" / "rock_paper_scissors.toml"
ECOPG_TOML = ROOT / "examples" / "games" / "ecological_public_good.toml"


@pytest.fixture
def run(cache_dir, capsys):
    """``run(*args) -> (status, stdout, stderr)``; commands that compile share the session cache."""

    def _run(*args):
        argv = [str(a) for a in args]
        if argv[0] not in ("games", "derive", "generate") and "--cache-dir" not in argv:
            argv += ["--cache-dir", str(cache_dir)]
        out = io.StringIO()
        status = main(argv, out=out)
        captured = capsys.readouterr()
        return status, out.getvalue() + captured.out, captured.err

    return _run


def png_shape(path):
    return mpimg.imread(path).shape


# ------------------------------------------------------------------- commands
def test_games_lists_builtins_and_parameters(run):
    status, out, _ = run("games")
    assert status == 0
    assert "ecological-public-good" in out and "social-dilemma" in out and "risk-reward" in out
    assert "f=1.2, c=5, m=-5, qc=0.2, qr=0.01" in out
    assert "--agents N (default 2)" in out


def test_derive_prints_latex(run):
    status, out, _ = run("derive", "ecological-public-good", "--agents", "2", "--learner", "sarsa")
    assert status == 0
    assert out.count(r"\begin{align*}") == 2
    assert r"\delta^i_{\mathbf{x}}(s, a) &= \beta^i q^i_{\mathbf{x}}(s, a) - \ln x^i(s, a)" in out
    assert r"R^{0}_{\mathbf{x}}(p, c)" in out
    status, out, _ = run("derive", "social-dilemma", "--learner", "actor_critic", "--no-general")
    assert status == 0 and out.count(r"\begin{align*}") == 1 and r"\log" not in out


def test_generate_writes_the_module(run, tmp_path):
    status, out, _ = run("generate", "ecological-public-good", "-o", tmp_path)
    path = Path(out.strip())
    assert status == 0 and path.parent == tmp_path and path.suffix == ".py"
    text = path.read_text()
    assert "@numba.njit" in text and "def tderror(" in text
    status, out2, _ = run("generate", "ecological-public-good", "-o", tmp_path)  # idempotent
    assert status == 0 and out2 == out


def test_simulate_reproduces_the_chapter_and_saves(run, tmp_path):
    args = ("simulate", "ecological-public-good", "--alpha", "0.01", "--beta", "100", "--x0", "0.5,0.19,0.5,0.95")
    status, out, _ = run(*args, "--out", tmp_path / "traj.npz")
    assert status == 0
    assert "234 strategies, converged: True" in out
    assert "0      p         0.99989" in out  # agent 0 in state p ends cooperating
    data = np.load(tmp_path / "traj.npz")
    assert data["X"].shape == (234, 2, 2, 2) and bool(data["converged"])
    assert list(data["actions"]) == ["c", "d"]
    status, out, _ = run(*args, "--out", tmp_path / "traj.csv")
    import csv

    with open(tmp_path / "traj.csv", newline="") as fh:
        rows = list(csv.reader(fh))  # names such as X[0,g,c] hold commas: quoted, so every row has 9 fields
    assert rows[0] == ["t", "X[0,g,c]", "X[0,g,d]", "X[0,p,c]", "X[0,p,d]", "X[1,g,c]", "X[1,g,d]", "X[1,p,c]",
                       "X[1,p,d]"]
    assert len(rows) == 235 and all(len(r) == 9 for r in rows) and rows[1][:5] == ["0", "0.5", "0.5", "0.19", "0.81"]


def test_simulate_with_parameters_and_per_agent_values(run):
    status, out, _ = run("simulate", "ecological-public-good", "--param", "qc=0.3", "--param", "m=-6",
                         "--gamma", "0.8,0.7", "--x0", "uniform")
    assert status == 0 and "converged: True" in out


def test_fixed_points_reports_stability(run):
    status, out, _ = run("fixed-points", "ecological-public-good", "--starts", "8")
    assert status == 0
    assert "3 fixed point(s)" in out
    assert out.count("stable node") >= 2 and "saddle" in out
    assert "eigenvalues of the map" in out


def test_flow_writes_a_png(run, tmp_path):
    png = tmp_path / "flow.png"
    status, out, _ = run("flow", "ecological-public-good", "-o", png, "--fixed-points", "--starts", "8",
                         "--dpi", "60")
    assert status == 0 and f"wrote {png}" in out
    h, w, _ = png_shape(png)
    assert w > 1.5 * h  # two panels side by side and a colour bar
    png2 = tmp_path / "p.png"
    status, _, _ = run("flow", "ecological-public-good", "--x", "0,p,c", "--y", "1,p,c", "--kind", "stream",
                       "-o", png2, "--dpi", "60")
    assert status == 0 and png2.exists()


def test_flow_on_the_simplex_of_a_toml_game(run, tmp_path):
    png = tmp_path / "rps.png"
    status, _, err = run("flow", "--game-file", RPS, "--simplex", "row,s", "--symmetric", "--beta", "5",
                         "--points", "6", "-o", png, "--dpi", "60")
    assert status == 0, err
    assert png.exists()


def test_continue_finds_the_folds_and_writes_png_and_csv(run, tmp_path):
    png, csv = tmp_path / "bif.png", tmp_path / "bif.csv"
    status, out, _ = run("continue", "ecological-public-good", "--over", "gamma", "--range", "0.6", "0.9",
                         "--observable", "0,p,c", "-o", png, "--csv", csv, "--dpi", "60")
    assert status == 0
    assert "up: fold at gamma = 0.8246" in out and "down: fold at gamma = 0.7154" in out
    rows = csv.read_text().splitlines()
    assert rows[0] == "sweep,gamma,observable" and rows[1].startswith("up,0.6,")
    assert any(r.startswith("down,") for r in rows)
    assert png.exists()


def test_continue_by_sweeping_like_the_chapter(run, tmp_path):
    status, out, _ = run("continue", "ecological-public-good", "--over", "gamma", "--range", "0.6", "0.9",
                         "--method", "sweep", "--steps", "61", "--observable", "0,p,c", "-o", tmp_path / "h.png",
                         "--dpi", "60")
    assert status == 0
    assert "up: jump at gamma = 0.825" in out and "down: jump at gamma = 0.715" in out


def test_a_game_file_runs_like_the_builtin(run):
    status, out, _ = run("simulate", "--game-file", ECOPG_TOML, "--alpha", "0.01", "--beta", "100",
                         "--x0", "0.5,0.19,0.5,0.95")
    assert status == 0 and "234 strategies" in out


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("args, fragment", [
    (("derive", "nope"), "unknown game 'nope'; built-in games are ecological-public-good"),
    (("simulate", "ecological-public-good", "--param", "qc:0.3"), "bad --param 'qc:0.3': expected name=value"),
    (("simulate", "ecological-public-good", "--param", "qc=abc"), "'abc' is not a number"),
    (("simulate", "ecological-public-good", "--param", "qc=nan"), "must be finite"),
    (("simulate", "ecological-public-good", "--param", "zz=1"), "unknown parameter 'zz' for game 'ecopg2'"),
    (("derive", "ecological-public-good", "--param", "zz=1"), "unknown parameter 'zz'"),
    (("simulate", "social-dilemma", "--agents", "3"), "fixed number of agents"),
    (("simulate",), "no game"),
    (("simulate", "social-dilemma", "--game-file", RPS), "not both"),
    (("simulate", "ecological-public-good", "--alpha", "2"), "learning rates must lie in (0, 1]"),
    (("simulate", "ecological-public-good", "--gamma", "0.5,x"), "bad --gamma"),
    (("simulate", "ecological-public-good", "--x0", "0.5,0.5"), "--x0 has 2 numbers"),
    (("simulate", "ecological-public-good", "--x0", "0.5,1.5,0.5,0.5"), "is negative"),
    (("simulate", "ecological-public-good", "--out", "traj.txt"), "use a .npz, .csv or .nc"),
    (("flow", "ecological-public-good", "--x", "0,p"), "bad projection"),
    (("flow", "ecological-public-good", "--x", "0,q,c"), "unknown state label 'q'"),
    (("flow", "ecological-public-good", "--simplex", "0,p"), "needs a game with 3 actions"),
    (("continue", "ecological-public-good", "--over", "gamma", "--range", "0.9", "0.6"), "must be smaller"),
    (("continue", "ecological-public-good", "--over", "zeta", "--range", "0.1", "0.2"), "unknown parameter 'zeta'"),
    (("simulate", "--game-file", "/nonexistent/game.toml"), "cannot read the game file"),
])
def test_bad_input_exits_with_status_2_and_a_message(run, args, fragment):
    status, out, err = run(*args)
    assert status == 2
    assert fragment in err
    assert err.startswith(f"crldgen {args[0]}: error: ")


def test_usage_errors_from_argparse(run):
    status, _, err = run("frobnicate")
    assert status == 2 and "invalid choice" in err
    status, _, err = run("continue", "ecological-public-good")
    assert status == 2 and "required" in err
    assert main(["--help"], out=io.StringIO()) == 0


def test_malicious_game_file_is_rejected_without_side_effects(run, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.toml"
    evil.write_text(f"""
agents = 2
states = ["s"]
actions = ["c", "d"]
[[T]]
value = 1
[[R]]
value = "__import__('os').system('touch {marker}')"
""")
    for command in ("derive", "generate", "simulate", "flow"):
        status, _, err = run(command, "--game-file", evil)
        assert status == 2
        assert f"{evil}: R[1].value: column 1: name '__import__' is not allowed" in err
    assert not marker.exists()
    deep = tmp_path / "deep.toml"
    deep.write_text(evil.read_text().replace(f"__import__('os').system('touch {marker}')", "(" * 3000 + "1"
                                             + ")" * 3000))
    status, _, err = run("derive", "--game-file", deep)
    assert status == 2 and "longer than" in err
    huge = tmp_path / "huge.toml"
    huge.write_text(evil.read_text().replace(f"__import__('os').system('touch {marker}')", "9**9**9**9"))
    status, _, err = run("derive", "--game-file", huge)
    assert status == 2 and "too large" in err


# --------------------------------------------------------------- subprocess
def test_python_dash_m_crldgen_smoke():
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "crldgen", "games"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "ecological-public-good" in done.stdout
    done = subprocess.run([sys.executable, "-m", "crldgen", "derive", "nope"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "unknown game 'nope'" in done.stderr
    done = subprocess.run([sys.executable, "-m", "crldgen", "--version"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("crldgen ")


def test_simulate_saves_netcdf_that_loads_as_the_trajectory(run, tmp_path):
    pytest.importorskip("netCDF4")
    import crldgen

    args = ("simulate", "ecological-public-good", "--alpha", "0.01", "--beta", "100", "--x0", "0.5,0.19,0.5,0.95")
    status, out, _ = run(*args, "--out", tmp_path / "traj.nc")
    assert status == 0 and "wrote" in out
    traj = crldgen.load(tmp_path / "traj.nc")
    assert traj.X.shape == (234, 2, 2, 2) and traj.converged and traj.game_info.game == "ecopg2"
    np.testing.assert_allclose(traj.X[0], [[[0.5, 0.5], [0.19, 0.81]], [[0.5, 0.5], [0.95, 0.05]]], rtol=0, atol=1e-15)


@pytest.mark.parametrize("command", ["games", "derive", "generate", "simulate", "fixed-points", "flow", "continue",
                                     "sample"])
def test_every_subcommand_describes_itself_and_writes_with_o_out(command, capsys):
    """One output flag everywhere (-o/--out) and a description on every subcommand's --help."""
    from crldgen import cli

    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    summary = cli.build_parser()._subparsers._group_actions[0].choices[command].description
    assert summary and summary in " ".join(text.split())
    if command not in ("games", "derive", "fixed-points"):
        assert "-o " in text and "--out" in text
