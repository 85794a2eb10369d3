"""A catalogue of bad input: each case asserts the error class and that the message names the culprit.

Covered here (issue 10, items 1, 2, 6, 7, 8): games (names, labels, parameter names and
values, tensor entries, sizes), built-in game arguments, learners, game files, the
argument checks of iteration and analysis, the command line (one line on stderr,
exit status, never a traceback), stale temporaries of the module writer, the
ecological public good's per-agent synergy convention; plus a sentinel-file test
(no user string ever executes) and hang cases run in subprocesses under a timeout.
Run-time parameter values and non-finite results have their own tests.
"""

from __future__ import annotations

import ast
import io
import itertools
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import sympy

import crldgen
from crldgen import Game
from crldgen.errors import CrldgenError, GameError, ParameterError, StrategyError
from crldgen.games import ecological_public_good, renewable_resources, social_dilemma, with_memory
from crldgen.tomlgame import GameFileError, loads_game

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


# ------------------------------------------------------------------ a tiny game
def tiny_args():
    """One agent, one state, two actions, one parameter ``p``: ``(T, R)`` and the symbol."""
    p = sympy.Symbol("p", real=True)
    T = [[[1], [1]]]
    R = [[[[p], [0]]]]
    return T, R, p


def tiny_game(**kw) -> Game:
    T, R, p = tiny_args()
    kw.setdefault("params", {p: 1.0})
    return Game(T, R, **kw)


def two_state(T_row0, R00=0, params=None):
    """One agent, two states: row (state 0, action 0) of T is ``T_row0``; the rest is deterministic."""
    T = [[T_row0, [1, 0]], [[0, 1], [0, 1]]]
    R = [[[[R00, 0], [0, 0]], [[0, 0], [0, 0]]]]
    return Game(T, R, params=params or {})


A6 = sympy.symbols("a1:7", real=True)
BIG = sympy.Add(*A6) ** 64            # expands to ~11 million terms: never expand it
IDENTITY_ZERO = (2 * A6[0] + 2 * A6[1]) ** 64 - 2 ** 64 * (A6[0] + A6[1]) ** 64   # == 0, not structurally
P = sympy.Symbol("p", real=True)


def _params_a(p=0.3):
    return {P: p, **{s: 0.0 for s in A6}}


# ---------------------------------------------------------------- the catalogue
# (id, callable, error class, fragments the message must contain)
GAME_CASES = [
    ("name-newline", lambda: tiny_game(name="a\nb"), GameError, ["name", "control character"]),
    ("name-nul", lambda: tiny_game(name="a\x00b"), GameError, ["name", "'\\x00'"]),
    ("name-line-separator", lambda: tiny_game(name="a\u2028b"), GameError, ["name", "\\u2028"]),
    ("name-not-text", lambda: tiny_game(name=3.5), GameError, ["name = 3.5", "string"]),
    ("name-none", lambda: tiny_game(name=None), GameError, ["name = None", "string"]),
    ("name-empty", lambda: tiny_game(name=""), GameError, ["name = ''", "non-empty"]),
    ("name-too-long", lambda: tiny_game(name="g" * 5000), GameError, ["name", "5000 characters"]),
    ("label-tab", lambda: tiny_game(actions=("c", "d\t")), GameError, ["actions[1]", "control character"]),
    ("label-carriage-return", lambda: tiny_game(states=("s\r",)), GameError, ["states[0]", "'\\r'"]),
    ("label-object", lambda: tiny_game(agents=(object(),)), GameError, ["agents[0]", "string"]),
    ("labels-a-string", lambda: tiny_game(actions="cd"), GameError, ["actions = 'cd'", "sequence"]),
    ("labels-count", lambda: tiny_game(actions=("c", "d", "e")), GameError, ["actions has 3 labels"]),
    ("labels-duplicate", lambda: tiny_game(actions=("c", "c")), GameError, ["actions labels", "not unique"]),
    ("param-fullwidth", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params={"ｆ": 1.0}), GameError,
     ["parameter name 'ｆ'", "ASCII"]),
    ("param-code", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params={"a=1;import os": 1.0}), GameError,
     ["parameter name 'a=1;import os'", "identifier"]),
    ("param-keyword", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params={"lambda": 1.0}), GameError,
     ["parameter name 'lambda'"]),
    ("param-dunder", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params={"__import__": 1.0}), GameError,
     ["'__import__'", "reserved"]),
    ("param-kernel-local", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params={"w": 1.0}), GameError,
     ["parameter name 'w'", "reserved"]),
    ("params-not-a-mapping", lambda: Game([[[1], [1]]], [[[[0], [0]]]], params=[("p", 1.0)]), GameError,
     ["params = [('p', 1.0)]", "mapping"]),
    ("param-default-text", lambda: tiny_game(params={P: "abc"}), GameError, ["parameter 'p'", "'abc'", "number"]),
    ("param-default-bool", lambda: tiny_game(params={P: True}), GameError, ["parameter 'p'", "True"]),
    ("param-default-nan", lambda: tiny_game(params={P: float("nan")}), GameError, ["parameter 'p'", "finite"]),
    ("entry-undefined-function", lambda: Game([[[1], [1]]], [[[[sympy.Function("system")(P)], [0]]]],
                                             params={P: 1.0}), GameError, ["R[0, 0, 0, 0]", "function system"]),
    ("entry-function-no-args", lambda: Game([[[1], [1]]], [[[[sympy.Function("f")()], [0]]]]), GameError,
     ["R[0, 0, 0, 0]", "function f"]),
    ("entry-imaginary", lambda: Game([[[1], [1]]], [[[[sympy.I * P], [0]]]], params={P: 1.0}), GameError,
     ["R[0, 0, 0, 0]", "not a finite real"]),
    ("entry-huge-sympy-int", lambda: Game([[[1], [1]]], [[[[sympy.Integer(10) ** 400], [0]]]]), GameError,
     ["R[0, 0, 0, 0]", "float64"]),
    ("entry-huge-python-int", lambda: Game([[[1], [1]]], [[[[10 ** 400], [0]]]]), GameError,
     ["R[0, 0, 0, 0]", "float64"]),
    ("entry-text", lambda: Game([[[1], [1]]], [[[["1"], [0]]]]), GameError, ["R[0, 0, 0, 0]", "type str"]),
    ("entry-relation", lambda: Game([[[1], [1]]], [[[[sympy.Lt(P, 1)], [0]]]], params={P: 0.5}), GameError,
     ["R[0, 0, 0, 0]", "contains"]),
    ("entry-piecewise", lambda: Game([[[1], [1]]], [[[[sympy.Piecewise((1, P > 0), (0, True))], [0]]]],
                                     params={P: 0.5}), GameError, ["R[0, 0, 0, 0]", "Piecewise"]),
    ("entry-infinite-at-defaults", lambda: Game([[[1], [1]]], [[[[1 / (P - 1)], [0]]]], params={P: 1.0}),
     GameError, ["R[0, 0, 0, 0]", "p"]),
    ("row-sum-not-identically-one", lambda: two_state([P, 1 - P + BIG], params=_params_a()), GameError,
     ["T[0, 0, :]", "not identically 1"]),
    ("row-sum-wrong-at-defaults", lambda: two_state([P, 1 - 2 * P], params={P: 0.3}), GameError,
     ["T[0, 0, :]", "sums to 0.7"]),
    ("probability-range", lambda: two_state([P, 1 - P], params={P: 1.5}), GameError,
     ["T[0, 0, 0]", "1.5", "[0, 1]"]),
    ("size-ecopg-40", lambda: ecological_public_good(40), GameError, ["40 agents", "MAX_TENSOR_ENTRIES"]),
    ("size-ecopg-huge", lambda: ecological_public_good(10 ** 9), GameError, ["1000000000 agents"]),
    ("size-renewable", lambda: renewable_resources(n_agents=25), GameError, ["25 agents", "2,000,000"]),
    ("ecopg-agents-text", lambda: ecological_public_good("2"), GameError, ["n_agents = '2'", "integer"]),
    ("ecopg-agents-zero", lambda: ecological_public_good(0), GameError, ["n_agents = 0", ">= 1"]),
    ("ecopg-agents-float", lambda: ecological_public_good(2.5), GameError, ["n_agents = 2.5"]),
    ("ecopg-f-text", lambda: ecological_public_good(2, f="abc"), GameError, ["f = 'abc'", "number"]),
    ("ecopg-qc-list-text", lambda: ecological_public_good(2, qc=[0.1, "x"]), GameError, ["qc[1] = 'x'"]),
    ("ecopg-c-count", lambda: ecological_public_good(2, c=[1, 2, 3]), GameError, ["'c' has 3 values"]),
    ("ecopg-qc-range", lambda: ecological_public_good(2, qc=1.5), GameError, ["T[", "[0, 1]"]),
    ("ecopg-degraded-choice-text", lambda: ecological_public_good(2, degraded_choice="False"), GameError,
     ["degraded_choice = 'False'", "True or False"]),
    ("dilemma-text", lambda: social_dilemma(R="1"), GameError, ["R = '1'", "number"]),
    ("dilemma-inf", lambda: social_dilemma(T=float("inf")), GameError, ["T = inf", "finite"]),
    ("memory-h-text", lambda: with_memory(social_dilemma(), (1, "a", 0)), GameError, ["h[1] = 'a'"]),
    ("memory-h-negative", lambda: with_memory(social_dilemma(), (1, -1, 0)), GameError, ["h[1] = -1"]),
    ("memory-h-string", lambda: with_memory(social_dilemma(), "110"), GameError, ["h='110'"]),
    ("memory-size", lambda: with_memory(social_dilemma(), (1, 12, 12)), GameError, ["with_memory", "2,000,000"]),
    ("memory-not-a-game", lambda: with_memory("ecopg", (1, 1, 1)), GameError, ["game = 'ecopg'"]),
]

LEARNER_CASES = [
    ("prefactor-text", lambda: crldgen.derive(tiny_game(), "sarsa", prefactor="False"), ParameterError,
     ["prefactor = 'False'", "True or False"]),
    ("prefactor-int", lambda: crldgen.derive(tiny_game(), "sarsa", prefactor=0), ParameterError,
     ["prefactor = 0"]),
    ("learner-unknown", lambda: crldgen.derive(tiny_game(), "q-learning"), ParameterError,
     ["learner = 'q-learning'", "sarsa"]),
    ("learner-not-text", lambda: crldgen.derive(tiny_game(), 5), ParameterError, ["learner = 5"]),
]


TOML_OK_HEAD = 'agents = 1\nstates = ["s"]\nactions = ["c", "d"]\n'
TOML_TENSORS = '[[T]]\nvalue = 1\n[[R]]\nvalue = "p"\n'

TOML_CASES = [
    ("toml-deep-nesting", lambda: loads_game(TOML_OK_HEAD + "T = " + "[" * 5000 + "]" * 5000), GameFileError,
     ["nested 5000 levels", "limit 64"]),
    ("toml-deep-nesting-inline-tables", lambda: loads_game("x = " + "{a = " * 3000 + "1" + "}" * 3000),
     GameFileError, ["nested 3000 levels"]),
    ("toml-name-newline", lambda: loads_game('name = "a\\nb"\n' + TOML_OK_HEAD + "[parameters]\np = 1\n"
                                             + TOML_TENSORS), GameFileError, ["name", "control character"]),
    ("toml-label-nul", lambda: loads_game('agents = ["x\\u0000"]\nstates = ["s"]\nactions = ["c", "d"]\n'
                                          "[parameters]\np = 1\n" + TOML_TENSORS), GameFileError,
     ["agents[0]", "control character"]),
    ("toml-param-text", lambda: loads_game(TOML_OK_HEAD + '[parameters]\np = "1.5"\n' + TOML_TENSORS),
     GameFileError, ["parameters.p", "'1.5'"]),
    ("toml-function-call", lambda: loads_game(TOML_OK_HEAD + "[parameters]\np = 1\n[[T]]\nvalue = 1\n"
                                              '[[R]]\nvalue = "exec(p)"\n'), GameFileError,
     ["R[1].value", "function calls are not allowed"]),
    ("toml-exponent", lambda: loads_game(TOML_OK_HEAD + "[parameters]\np = 1\n[[T]]\nvalue = 1\n"
                                         '[[R]]\nvalue = "p**100000"\n'), GameFileError,
     ["R[1].value", "exponent"]),
    ("toml-too-many-agents", lambda: loads_game('agents = 40\nstates = ["s"]\nactions = ["c", "d"]\n'
                                                + TOML_TENSORS), GameFileError, ["agents", "40 agents"]),
    ("toml-row-sum", lambda: loads_game(TOML_OK_HEAD.replace('["s"]', '["s", "t"]')
                                        + "[parameters]\np = 0.5\na = 0\nb = 0\n"
                                        '[[T]]\nnext = "s"\nvalue = "p"\n[[T]]\nnext = "t"\n'
                                        'value = "1 - p + (a + b + p)**64 - p**64"\n[[R]]\nvalue = 0\n'),
     GameFileError, ["T[", "not identically 1"]),
]


def _dyn_cases():
    """Cases that need a compiled game: (id, f(dyn, X), error class, fragments)."""
    from crldgen import analysis

    return [
        ("every-all", lambda d, X: d.trajectory(X, 10, every="all"), ParameterError, ["every = 'all'"]),
        ("every-zero", lambda d, X: d.trajectory(X, 10, every=0), ParameterError, ["every = 0", ">= 1"]),
        ("tmax-negative", lambda d, X: d.trajectory(X, -5), ParameterError, ["tmax = -5", ">= 1"]),
        ("tmax-bool", lambda d, X: d.trajectory(X, True), ParameterError, ["tmax = True"]),
        ("tmax-text", lambda d, X: d.trajectories(X[None], "100"), ParameterError, ["tmax = '100'"]),
        ("tol-text", lambda d, X: d.trajectory(X, 10, "1e-5"), ParameterError, ["tol = '1e-5'"]),
        ("tol-nan", lambda d, X: d.trajectory(X, 10, float("nan")), ParameterError, ["tol = nan", "finite"]),
        ("tol-negative", lambda d, X: d.trajectory(X, 10, -1.0), ParameterError, ["tol = -1.0", ">= 0"]),
        ("sweep-tmax", lambda d, X: d.sweep(X, "gamma", [0.7, 0.8], 0), ParameterError, ["tmax = 0"]),
        ("divergence-option", lambda d, X: d.trajectory(X, 10, on_divergence="ignore"), ParameterError,
         ["on_divergence", "'ignore'"]),
        ("fp-negative-starts", lambda d, X: analysis.fixed_points(d, n_starts=-1), ParameterError,
         ["n_starts = -1", ">= 0"]),
        ("fp-starts-text", lambda d, X: analysis.fixed_points(d, n_starts="8"), ParameterError, ["n_starts = '8'"]),
        ("fp-rng-negative", lambda d, X: analysis.fixed_points(d, n_starts=2, rng=-3), ParameterError,
         ["rng = -3"]),
        ("fp-sampling", lambda d, X: analysis.fixed_points(d, n_starts=2, sampling="grid"), ParameterError,
         ["sampling = 'grid'", "'lhs'"]),
        ("fp-guesses-nan", lambda d, X: analysis.fixed_points(d, np.full(d.shape, np.nan), n_starts=0),
         StrategyError, ["guesses[0, 0, 0]", "nan"]),
        ("basins-grid-negative", lambda d, X: analysis.basins(d, (0, "p", "c"), (1, "p", "c"), -1),
         ParameterError, ["grid = -1", ">= 2"]),
        ("basins-grid-one", lambda d, X: analysis.basins(d, (0, "p", "c"), (1, "p", "c"), 1), ParameterError,
         ["grid = 1"]),
        ("basins-range-reversed", lambda d, X: analysis.basins(d, (0, "p", "c"), (1, "p", "c"), 3,
                                                               x_range=(0.9, 0.1)), ParameterError,
         ["x_range", "lo < hi"]),
        ("basins-range-outside", lambda d, X: analysis.basins(d, (0, "p", "c"), (1, "p", "c"), 3,
                                                              y_range=(0.1, 1.5)), ParameterError,
         ["y_range[1] = 1.5", "<= 1"]),
        ("fractions-zero", lambda d, X: analysis.basin_fractions(d, 0), ParameterError, ["n_samples = 0"]),
        ("tipping-interval", lambda d, X: analysis.tipping_point(d, coordinate=(0, "p", "c"), interval=(0.5, 0.5)),
         ParameterError, ["interval", "lo < hi"]),
        ("tipping-tol", lambda d, X: analysis.tipping_point(d, coordinate=(0, "p", "c"), tol=0), ParameterError,
         ["tol = 0", "> 0"]),
        ("stability-nan", lambda d, X: analysis.stability(d, np.where(np.ones(d.shape, bool), np.nan, 0)),
         StrategyError, ["X[0, 0, 0]", "nan"]),
        ("stability-nan-logit", lambda d, X: analysis.stability(d, np.array([0.1, np.nan, 0.0, 0.2])),
         StrategyError, ["X[1]", "nan"]),
        ("stable-manifold-eps", lambda d, X: analysis.stable_manifold(d, None, eps=-1.0), ParameterError,
         ["eps = -1.0", "> 0"]),
        ("slowing-distances", lambda d, X: analysis.critical_slowing_down(d, None, [-1e-3]), ParameterError,
         ["distances", "positive"]),
        ("continuation-start-outside", lambda d, X: analysis.continuation(d, "gamma", X, start=0.95,
                                                                          bounds=(0.6, 0.9)), ParameterError,
         ["start = 0.95", "outside bounds"]),
        ("continuation-default-outside", lambda d, X: analysis.continuation(d, "gamma", X, bounds=(0.1, 0.2)),
         ParameterError, ["gamma = 0.75", "outside bounds"]),
        ("continuation-bounds-reversed", lambda d, X: analysis.continuation(d, "gamma", X, start=0.7,
                                                                            bounds=(0.9, 0.6)), ParameterError,
         ["bounds", "lo < hi"]),
        ("continuation-direction", lambda d, X: analysis.continuation(d, "gamma", X, direction=0),
         ParameterError, ["direction = 0"]),
        ("continuation-X-nan", lambda d, X: analysis.continuation(d, "gamma", np.full(d.shape, np.nan)),
         StrategyError, ["X0[0, 0, 0]"]),
        ("hysteresis-lo-above-hi", lambda d, X: analysis.hysteresis(d, "gamma", 0.9, 0.6), ParameterError,
         ["lo = 0.9, hi = 0.6", "lo < hi"]),
        ("hysteresis-lo-nan", lambda d, X: analysis.hysteresis(d, "gamma", float("nan"), 0.6), ParameterError,
         ["lo = nan"]),
        ("hysteresis-sweep-empty", lambda d, X: analysis.hysteresis_sweep(d, "gamma", []), ParameterError,
         ["values = []", "non-empty"]),
        ("hysteresis-sweep-inf", lambda d, X: analysis.hysteresis_sweep(d, "gamma", [0.6, np.inf]),
         ParameterError, ["values[1] = inf"]),
    ]


def _check(exc_info, fragments):
    msg = str(exc_info.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    assert isinstance(exc_info.value, CrldgenError)


@pytest.mark.parametrize("make, error, fragments", [c[1:] for c in GAME_CASES + LEARNER_CASES + TOML_CASES],
                         ids=[c[0] for c in GAME_CASES + LEARNER_CASES + TOML_CASES])
def test_bad_game_input(make, error, fragments):
    with pytest.raises(error) as info:
        make()
    _check(info, fragments)


@pytest.fixture(scope="module")
def ecopg(compiled):
    return compiled(lambda: crldgen.games.ecological_public_good(2), "sarsa", True,
                    alpha=0.01, beta=100.0, gamma=0.75)


@pytest.mark.parametrize("call, error, fragments", [c[1:] for c in _dyn_cases()], ids=[c[0] for c in _dyn_cases()])
def test_bad_runtime_arguments(ecopg, call, error, fragments):
    X = ecopg.uniform_strategy()
    with pytest.raises(error) as info:
        call(ecopg, X)
    _check(info, fragments)


def test_kernel_names_are_reserved_for_game_parameters():
    from crldgen.codegen.generator import _KERNEL_NAMES
    from crldgen.game import RESERVED_NAMES

    assert _KERNEL_NAMES <= RESERVED_NAMES


def test_catalogue_size():
    assert len(GAME_CASES + LEARNER_CASES + TOML_CASES) + len(_dyn_cases()) + len(CLI_CASES) >= 50


# ------------------------------------------------------------------- CLI
@pytest.fixture
def run(cache_dir, capsys):
    from crldgen.cli import main

    def _run(*args):
        argv = [str(a) for a in args]
        if argv[0] not in ("games", "derive", "generate") and "--cache-dir" not in argv:
            argv += ["--cache-dir", str(cache_dir)]
        out = io.StringIO()
        status = main(argv, out=out)
        captured = capsys.readouterr()
        return status, out.getvalue() + captured.out, captured.err

    return _run


DEEP_TOML = "deep.toml"
CLI_CASES = [
    ("out-missing-folder", ("simulate", "ecological-public-good", "--out", "nodir/x.csv"), ["--out", "'nodir'",
                                                                                             "does not exist"]),
    ("flow-missing-folder", ("flow", "ecological-public-good", "-o", "nodir/f.png"), ["nodir", "does not exist"]),
    ("csv-missing-folder", ("continue", "ecological-public-good", "--over", "gamma", "--range", "0.6", "0.9",
                            "--csv", "nodir/b.csv"), ["--csv", "does not exist"]),
    ("flow-bad-suffix", ("flow", "ecological-public-good", "-o", "f.xyz"), ["-o/--out", ".png"]),
    ("agents-40", ("simulate", "ecological-public-good", "--agents", "40"), ["40 agents", "MAX_TENSOR_ENTRIES"]),
    ("agents-zero", ("simulate", "ecological-public-good", "--agents", "0"), ["--agents", ">= 1"]),
    ("agents-text", ("simulate", "ecological-public-good", "--agents", "two"), ["--agents", "'two'"]),
    ("tmax-negative", ("simulate", "ecological-public-good", "--tmax", "-5"), ["--tmax", ">= 1"]),
    ("tol-nan", ("simulate", "ecological-public-good", "--tol", "nan"), ["--tol", "finite"]),
    ("starts-negative", ("fixed-points", "ecological-public-good", "--starts", "-2"), ["--starts", ">= 0"]),
    ("points-one", ("flow", "ecological-public-good", "--points", "1"), ["--points", ">= 2"]),
    ("seed-negative", ("simulate", "ecological-public-good", "--seed", "-1"), ["--seed"]),
    ("range-inf", ("continue", "ecological-public-good", "--over", "gamma", "--range", "0.6", "inf"),
     ["--range", "finite"]),
    ("param-text", ("simulate", "ecological-public-good", "--param", "qc=abc"), ["--param", "'abc'"]),
    ("param-nan", ("simulate", "ecological-public-good", "--param", "qc=nan"), ["--param", "finite"]),
    ("deep-game-file", ("derive", "--game-file", DEEP_TOML), ["deep.toml", "nested"]),
    ("unknown-command", ("frobnicate",), ["invalid choice"]),
    ("dpi-zero", ("flow", "ecological-public-good", "--dpi", "0"), ["--dpi", ">= 1"]),
    ("derive-bad-file-expression", ("derive", "--game-file", "bad.toml"), ["bad.toml", "R[1].value", "column"]),
]


@pytest.mark.parametrize("args, fragments", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_with_status_2(run, tmp_path, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEEP_TOML).write_text(TOML_OK_HEAD + "T = " + "[" * 3000 + "]" * 3000 + "\n")
    (tmp_path / "bad.toml").write_text(TOML_OK_HEAD + "[parameters]\np = 1\n[[T]]\nvalue = 1\n"
                                       '[[R]]\nvalue = "p +* 2"\n')
    status, out, err = run(*args)
    assert status == 2, (status, err)
    assert err.startswith("crldgen") and ": error: " in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert not (tmp_path / "nodir").exists()


def test_cli_unexpected_exception_is_one_line_status_3(run, monkeypatch):
    from crldgen import cli

    def boom(args, out):
        raise TypeError("unexpected")

    monkeypatch.setitem(cli.COMMANDS, "games", boom)
    status, _, err = run("games")
    assert status == 3
    assert len(err.strip().splitlines()) == 1 and "internal error: TypeError: unexpected" in err


def test_cli_output_failure_is_status_1(run, tmp_path, monkeypatch):
    from crldgen import cli

    def fail(args, out):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.csv"))

    monkeypatch.setitem(cli.COMMANDS, "games", fail)
    status, _, err = run("games")
    assert status == 1 and "x.csv" in err and "Permission denied" in err and len(err.strip().splitlines()) == 1


def test_cli_exit_codes_are_documented():
    from crldgen.cli import build_parser

    text = build_parser().format_help()
    for code in ("0 ", "1 ", "2 ", "3 ", "130", "141"):
        assert code in text
    readme = (ROOT / "README.md").read_text()
    assert "141" in readme and "exit status" in readme.lower()


def test_cli_broken_pipe_is_quiet():
    """``crldgen games | head``: the reader goes away; no traceback, status 141."""
    proc = subprocess.Popen([PYTHON, "-m", "crldgen", "games"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err
    assert proc.returncode == 141


# --------------------------------------------------------- code injection
PAYLOADS = [
    'x"""+open(SENTINEL, "w").close()+"""',                  # end the docstring, run code on the same line
    "x'''+open(SENTINEL, 'w').close()+'''",                  # the other triple quote
    "x'+open(SENTINEL, 'w').close()+'",                      # end a single-quoted constant
    'x"+open(SENTINEL, "w").close()+"',
    "x\\",                                                   # a trailing backslash escapes the closing quote
    "x\\\"\"\"+open(SENTINEL, 'w').close()#",                 # backslash before the quote, then a comment
    "#\"\"\"; open(SENTINEL, 'w').close() #",
    "{open(SENTINEL, 'w').close()}",                          # f-string / format braces
    "é\"\"\"é+open(SENTINEL,'w').close()+\"\"\"",             # non-ASCII around the quotes
]
#: refused by Game; tried against the generator directly by setting the attributes after construction
CONTROL_PAYLOADS = [
    'x"""\nopen(SENTINEL, "w").close()\n"""',
    "x\nopen(SENTINEL, 'w').close()\n",
    "x\u2028open(SENTINEL, 'w').close()",
    "x\x00\"\"\"\nopen(SENTINEL, 'w').close()\n",
    "x\r\"\"\"\ropen(SENTINEL, 'w').close()\r",
    "x\x0c\"\"\"\x0copen(SENTINEL, 'w').close()",
    "\\\n\"\"\"\nopen(SENTINEL, 'w').close()\n#",
]


def _injected_game(payloads, bypass: bool) -> Game:
    """A two-action game whose name and labels carry payloads (set after construction with ``bypass``)."""
    p = sympy.Symbol("p", real=True)
    T = [[[1], [1]]]
    R = [[[[p], [0]]]]
    name, agent, state, a0, a1 = (list(payloads) * 5)[:5]
    if a0 == a1:
        a1 = a1 + "2"
    if bypass:
        game = Game(T, R, params={p: 1.0}, name="g")
        game.name, game.agents, game.states, game.agent_actions = name, (agent,), (state,), ((a0, a1),)
        game.agent_observations = (game.states,)
        return game
    return Game(T, R, params={p: 1.0}, name=name, agents=(agent,), states=(state,), actions=(a0, a1))


def _module_constants(source: str) -> dict:
    """Top-level ``NAME = literal`` assignments of a module, read with ast.literal_eval (never executed)."""
    tree = ast.parse(source)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def _top_level_is_inert(source: str) -> None:
    """Only a docstring, imports, constant assignments and function definitions at module level."""
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)
    for node in tree.body[1:]:
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef)), ast.dump(node)[:200]
        if isinstance(node, ast.Assign) and not isinstance(node.value, ast.Constant):
            # constants are literals; the few computed ones call only numpy/numba, never open/exec
            assert not any(isinstance(n, ast.Name) and n.id in ("open", "exec", "eval", "__import__", "SENTINEL")
                           for n in ast.walk(node.value)), ast.dump(node)[:200]
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Name) and node.id == "SENTINEL"), "user text became code"


@pytest.mark.parametrize("payload", PAYLOADS + CONTROL_PAYLOADS, ids=range(len(PAYLOADS + CONTROL_PAYLOADS)))
def test_generated_source_keeps_every_user_string_a_string(payload):
    """Names and labels that try to leave their string context stay exact string constants."""
    from crldgen.codegen.generator import generate_source

    if payload in PAYLOADS:
        game = _injected_game([payload], bypass=False)
    else:
        with pytest.raises(GameError, match="control character"):
            _injected_game([payload], bypass=False)
        game = _injected_game([payload], bypass=True)
    src = generate_source(crldgen.derive(game, "sarsa"))
    body = src[src.index('"""'):]
    _top_level_is_inert(body)
    consts = _module_constants(body)
    assert consts["GAME"] == game.name
    assert consts["AGENTS"] == tuple(game.agents) and consts["STATES"] == tuple(game.states)
    assert consts["ACTIONS"] == tuple(game.actions) and consts["OBSERVATIONS"] == tuple(game.observations)
    doc = ast.get_docstring(ast.parse(body), clean=False)
    assert repr(game.name).encode("ascii", "backslashreplace").decode() in doc
    for line in src.splitlines()[:6]:
        assert line.startswith("#")


SENTINEL_SCRIPT = r'''
import sys, os, json
import numpy as np
sys.path.insert(0, sys.argv[1])
SENTINEL = sys.argv[2]
cache = sys.argv[3]
payloads = json.loads(sys.argv[4])
control = json.loads(sys.argv[5])
toml_path = sys.argv[6]
import crldgen
from crldgen.tomlgame import load_game
from tests.test_bad_input import _injected_game
report = []
for game in (load_game(toml_path), _injected_game(control, bypass=True)):
    dyn = crldgen.compile(game, "sarsa", cache_dir=cache)
    X = dyn.uniform_strategy()
    X1 = dyn.step(X)
    dyn.tderror(X)
    dyn.trajectory(X, 5)
    mod = dyn.module
    assert mod.GAME == game.name, (mod.GAME, game.name)
    assert tuple(mod.AGENTS) == tuple(game.agents) and tuple(mod.ACTIONS) == tuple(game.actions)
    assert tuple(mod.STATES) == tuple(game.states)
    assert np.all(np.isfinite(X1))
    report.append(str(dyn.path))
# a second process imports the cached modules again (the path users take every day)
print("OK", json.dumps(report))
'''


def _toml_string(s: str) -> str:
    """A TOML basic string of ``s`` (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@pytest.mark.slow
def test_sentinel_file_never_appears(tmp_path):
    """Generate, load and step games whose strings try to break out; the sentinel file must never appear.

    One game comes from a TOML file (the game-file path users share), one has control
    characters set behind Game's back (to test the generator's escaping on its own).
    Everything runs in a fresh subprocess, twice (generate, then load from the cache).
    """
    import json

    sentinel = tmp_path / "PWNED"
    quoted = json.dumps(str(sentinel))  # double quotes: repr() of a payload then needs no escapes inside
    names = [p.replace("SENTINEL", quoted) for p in PAYLOADS]
    control = [p.replace("SENTINEL", quoted) for p in CONTROL_PAYLOADS]
    name, agent, state, a0, a1 = (names * 2)[:5]
    toml = tmp_path / "evil.toml"
    toml.write_text(
        f"name = {_toml_string(name)}\nagents = [{_toml_string(agent)}]\nstates = [{_toml_string(state)}]\n"
        f"actions = [{_toml_string(a0)}, {_toml_string(a1)}]\n[parameters]\np = 1.0\n"
        "[[T]]\nvalue = 1\n[[R]]\nactions = [0]\nvalue = \"p\"\n", encoding="utf-8")
    cache = tmp_path / "cache"
    for attempt in range(2):
        proc = subprocess.run([PYTHON, "-c", SENTINEL_SCRIPT, str(ROOT), str(sentinel), str(cache), json.dumps(names),
                               json.dumps(control), str(toml)], capture_output=True, text=True, timeout=600,
                              env=_env(), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.startswith("OK"), proc.stdout
        assert not sentinel.exists(), f"a user string executed (attempt {attempt})"
    modules = list(cache.glob("*.py"))
    assert len(modules) == 2
    for path in modules:  # the files stay inert for any other reader too
        src = path.read_text(encoding="utf-8")
        _top_level_is_inert(src[src.index('"""'):])


# ------------------------------------------------------------------- hangs
HANG_SCRIPTS = {
    "row-sum-not-identical": """
        try:
            two_state([P, 1 - P + BIG], params=_params_a())
        except GameError as exc:
            assert "not identically 1" in str(exc)
        else:
            raise SystemExit("accepted")
    """,
    "row-sum-identity-not-structural": """
        g = two_state([P + IDENTITY_ZERO, 1 - P], params=_params_a())
        assert g.n_states == 2
    """,
    "reward-big-power-derive-program-latex": """
        g = two_state([P, 1 - P], R00=BIG, params=_params_a())
        m = crldgen.derive(g, "sarsa")
        m.program({"td_error", "jacobian"})
        m.latex()
    """,
    "memory-transition-zero-at-defaults": """
        g2 = Game([[[P * BIG, 1 - P * BIG], [1, 0]],
                   [[0, 1], [0, 1]]], [[[[0, 0], [0, 0]], [[0, 0], [0, 0]]]], params=_params_a(0.0))
        with_memory(g2, (2, 1))
    """,
    "toml-power-64": """
        text = ('agents = 1\\nstates = ["s", "t"]\\nactions = ["c", "d"]\\n[parameters]\\np = 0.5\\n'
                + "".join(f"a{k} = 0\\n" for k in range(1, 7))
                + '[[T]]\\nnext = "s"\\nvalue = "p"\\n[[T]]\\nnext = "t"\\nvalue = "1 - p"\\n'
                + '[[R]]\\nvalue = "(a1+a2+a3+a4+a5+a6)**64"\\n')
        g = loads_game(text)
        crldgen.derive(g, "sarsa").program({"td_error"})
    """,
}

HANG_PRELUDE = """
import sys
sys.path.insert(0, {root!r})
import sympy, crldgen
from crldgen import Game
from crldgen.errors import GameError
from crldgen.games import with_memory
from crldgen.tomlgame import loads_game
from tests.test_bad_input import two_state, BIG, IDENTITY_ZERO, P, A6, _params_a
"""


@pytest.mark.parametrize("name", list(HANG_SCRIPTS))
def test_symbolic_checks_are_bounded(name):
    """Each case used to call sympy.expand on (a1+...+a6)**64 and never return; now seconds, in a subprocess."""
    script = HANG_PRELUDE.format(root=str(ROOT)) + textwrap.dedent(HANG_SCRIPTS[name]) + "\nprint('OK')\n"
    try:
        proc = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=240, env=_env())
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still running after 240 s (an unbounded symbolic operation)")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stderr[-2000:]


# ------------------------------------------------------- stale temporaries
def test_stale_temporaries_are_cleaned_safely(tmp_path):
    from crldgen.codegen import writer

    dead = subprocess.Popen([PYTHON, "-c", "pass"])
    dead.wait()
    live = os.getpid()
    now = time.time()
    files = {
        f".mod_sarsa_abc.{dead.pid}.k3j2_x9q.tmp": (now - 120, True),      # dead writer, a while ago: removed
        f".mod_sarsa_abc.{dead.pid}.zzzzzzzz.tmp": (now - 5, False),       # dead pid but fresh (other host?): kept
        f".mod_sarsa_abc.{live}.aaaaaaaa.tmp": (now - 120, False),         # live writer: kept
        f".mod_sarsa_abc.{live}.bbbbbbbb.tmp": (now - 3600, True),         # a write never takes an hour: removed
        ".mod_sarsa_abc.q1w2e3r4.tmp": (now - 3600, True),                 # legacy name, old: removed
        ".mod_sarsa_abc.q1w2e3r5.tmp": (now - 60, False),                  # legacy name, recent: kept
        "mod_sarsa_abc.py": (now - 3600, False),                           # a module: never touched
        ".something_else.tmp": (now - 3600, False),                        # not the writer's pattern
        "notes.123.abcdefgh.tmp": (now - 3600, False),                     # no leading dot: not ours
    }
    for name, (mtime, _) in files.items():
        path = tmp_path / name
        path.write_text("x")
        os.utime(path, (mtime, mtime))
    link = tmp_path / f".mod_sarsa_abc.{dead.pid}.linklink.tmp"
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link.symlink_to(target)
    os.utime(link, (now - 3600, now - 3600), follow_symlinks=False)
    removed = {p.name for p in writer.clean_stale_temporaries(tmp_path, now=now)}
    assert removed == {n for n, (_, gone) in files.items() if gone}
    for name, (_, gone) in files.items():
        assert (tmp_path / name).exists() != gone, name
    assert link.is_symlink() and target.read_text() == "keep"
    # every write cleans its folder, and its own temporary carries its pid
    os.utime(tmp_path / f".mod_sarsa_abc.{live}.aaaaaaaa.tmp", (now - 7200, now - 7200))
    assert writer.write_atomic(tmp_path / "new.py", "print(1)\n")
    assert not (tmp_path / f".mod_sarsa_abc.{live}.aaaaaaaa.tmp").exists()
    assert not list(tmp_path.glob(".new.*.tmp"))


def test_killed_writer_leaves_a_temporary_the_next_write_removes(tmp_path):
    """A writer killed between the temporary and os.replace: its file goes once the pid is dead."""
    from crldgen.codegen import writer

    script = (f"import sys, os, tempfile, time; sys.path.insert(0, {str(ROOT)!r})\n"
              "fd, tmp = tempfile.mkstemp(prefix=f'.m.{os.getpid()}.', suffix='.tmp', dir=sys.argv[1])\n"
              "os.write(fd, b'half'); print(tmp, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([PYTHON, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists() and writer._TEMP.fullmatch(tmp.name)
    assert writer.clean_stale_temporaries(tmp_path, now=time.time() + 120) == []  # still alive: kept
    proc.kill()
    proc.wait()
    assert writer.clean_stale_temporaries(tmp_path, now=time.time() + 120) == [tmp]
    assert not tmp.exists()


# ------------------------------------------------------ pyCRLD convention
def test_ecological_public_good_per_agent_factors_follow_pycrld():
    """Agent i gets sum_j f_j c_j [j cooperates] / N - c_i [i cooperates] (each contributor's own factor)."""
    f, c, m, qc, qr = [1.1, 1.6, 2.3], [1.0, 2.0, 4.0], [-5.0, -6.0, -7.0], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03]
    game = ecological_public_good(3, f=f, c=c, m=m, qc=qc, qr=qr)
    R, T = game.numeric()["R"], game.numeric()["T"]
    N, g, p = 3, 0, 1
    for joint in itertools.product(range(2), repeat=N):
        coop = np.array([a == 0 for a in joint])
        pot = float(np.sum(np.array(f) * np.array(c) * coop))
        for i in range(N):
            expect = pot / N - (c[i] if coop[i] else 0.0)
            assert R[(i, p) + joint + (p,)] == pytest.approx(expect, rel=1e-14, abs=1e-14)
            assert R[(i, p) + joint + (g,)] == m[i] and R[(i, g) + joint + (g,)] == m[i]
        collapse = float(np.sum(np.array(qc) * ~coop)) / N
        assert T[(p,) + joint + (g,)] == pytest.approx(collapse, rel=1e-14, abs=1e-15)
    # the old convention (f_i times the pot) differs here, so the test can tell them apart
    joint = (0, 0, 0)
    assert R[(0, p) + joint + (p,)] != pytest.approx(f[0] * sum(c) / N - c[0])


def test_ecological_public_good_equal_factors_are_the_usual_formula():
    game = ecological_public_good(3, f=[1.4, 1.4, 1.4], c=5.0)
    single = ecological_public_good(3, f=1.4, c=5.0)
    R1, R2 = game.numeric()["R"], single.numeric()["R"]
    np.testing.assert_allclose(R1, R2, rtol=1e-14, atol=1e-14)
    for joint in itertools.product(range(2), repeat=3):
        k = sum(a == 0 for a in joint)
        for i in range(3):
            assert R2[(i, 1) + joint + (1,)] == pytest.approx(1.4 * 5.0 * k / 3 - (5.0 if joint[i] == 0 else 0))


def test_identity_check_accepts_true_identities_and_rejects_near_misses():
    """The bounded row-sum check: exact identities pass, a change far below float precision fails."""
    x, y = sympy.symbols("u v", real=True)
    g = two_state([x * y, 1 - x * y], params={x: 0.3, y: 0.5})
    from crldgen.game import is_identically_zero

    assert is_identically_zero((x + y) ** 10 - sympy.expand((x + y) ** 10), g)
    assert is_identically_zero(sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1, g)
    assert not is_identically_zero(x * (x - 0.3), g)           # zero at the defaults only
    assert not is_identically_zero(sympy.Rational(1, 10 ** 12) * y, g)
    assert not is_identically_zero(sympy.Function("f")(x), g)  # cannot evaluate: not an identity


def test_plot_save_into_missing_folder_names_the_path(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crldgen import plot

    fig = plt.figure()
    with pytest.raises(ParameterError) as info:
        plot.save(fig, tmp_path / "nodir" / "f.png")
    assert "nodir" in str(info.value) and "does not exist" in str(info.value)
    with pytest.raises(ParameterError, match="dpi = 0"):
        plot.save(fig, tmp_path / "f.png", dpi=0)
    plt.close(fig)
    assert not (tmp_path / "nodir").exists()
