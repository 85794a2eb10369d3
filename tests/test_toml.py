"""Games from TOML files (crldgen.tomlgame): the format, the whitelist expression parser, hostile input."""

from pathlib import Path

import numpy as np
import pytest
import sympy

import crldgen
from crldgen.tomlgame import ExpressionError, GameFileError, load_game, loads_game, parse_expression

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "games"
QC, F = sympy.Symbol("qc", real=True), sympy.Symbol("f", real=True)
NAMES = {"qc": QC, "f": F}

HEADER = """
agents = 2
states = ["s"]
actions = ["c", "d"]
[parameters]
qc = 0.2
"""


def game_text(value='"1"', extra=""):
    """A one-state two-agent game whose R entries are ``value``."""
    return HEADER + extra + f"""
[[T]]
value = 1
[[R]]
value = {value}
"""


# ----------------------------------------------------------------- the parser
@pytest.mark.parametrize("text, expected", [
    ("1 - qc", 1 - QC),
    ("-2**2", sympy.Integer(-4)),                 # as in Python: -(2**2)
    ("2**-1", sympy.Rational(1, 2)),
    ("2**3**2", sympy.Integer(512)),              # right-associative
    ("f*(1 + qc)/2", F * (1 + QC) / 2),
    ("0.1 + 0.2 + 0.7", sympy.Integer(1)),       # decimals are exact rationals
    ("1e-3*qc", QC / 1000),
    ("--qc", QC),
    ("+qc", QC),
    ("  qc\t", QC),
    (".5", sympy.Rational(1, 2)),
    ("2.5E+1", sympy.Integer(25)),
    ("qc**2", QC ** 2),
    ("(((qc)))", QC),
])
def test_parser_builds_sympy_from_the_parse_tree(text, expected):
    assert sympy.simplify(parse_expression(text, NAMES) - expected) == 0


@pytest.mark.parametrize("text, column, fragment", [
    ("x + 1", 1, "unknown name 'x'"),
    ("qc +", 5, "unexpected end"),
    ("", 1, "empty expression"),
    ("qc^2", 3, "use ** for powers"),
    ("sin(qc)", 1, "function calls are not allowed"),
    ("qc.real", 3, "unexpected character '.'"),
    ("1 2", 3, "unexpected '2'"),
    ("(qc", 4, "expected ')'"),
    ("qc)", 3, "unexpected ')'"),
    ("1/0", 2, "division by zero"),
    ("1/(qc - qc)", 2, "division by zero"),
    ("0**-1", 2, "division by zero"),
    ("(-8)**0.5", 5, "not real"),
    ("1e400", 1, "floating-point range"),
    ("__import__", 1, "may not start with '_'"),
    ("qc if qc else 1", 4, "unexpected 'if'"),
    ("lambda: 1", 7, "unexpected character ':'"),
    ("'1'", 1, "unexpected character"),
    ("１", 1, "unexpected character"),  # non-ASCII digits are not numbers
    ("1_000", 2, "unexpected '_'"),
])
def test_parser_errors_name_the_column(text, column, fragment):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, NAMES)
    assert info.value.column == column
    assert fragment in info.value.message


@pytest.mark.parametrize("text", [
    "2**99999999", "10**10**10", "(2**60)**60", "qc**1000", "(1 - qc)**60**2", "9**9**9**9",
    "1e300*1e300*1e300*1e300", "(1 - qc)**64**64",
])
def test_huge_powers_are_rejected_by_the_limits(text):
    """Rejected by the exponent/range rules before anything huge is computed."""
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, NAMES)
    assert "too large (|exponent| <= 64)" in info.value.message or "floating-point range" in info.value.message


@pytest.mark.parametrize("text", ["(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1", "2" + "**2" * 5000,
                                  "1" + "+1" * 600])
def test_deep_or_long_expressions_are_rejected_without_recursion_errors(text):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, NAMES)
    assert "deep" in str(info.value) or "longer than" in str(info.value)


def test_moderate_nesting_is_fine():
    assert parse_expression("(" * 20 + "qc" + ")" * 20, NAMES) == QC


# ------------------------------------------------------------------ hostile files
MALICIOUS = [
    "__import__('os').system('touch {marker}')",
    "eval(\"__import__('os').system('touch {marker}')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "exec('open(\"{marker}\", \"w\")')",
    "qc; import os",
    "[x for x in ()]",
]


@pytest.mark.parametrize("payload", MALICIOUS)
def test_malicious_expressions_are_rejected_without_side_effects(tmp_path, payload):
    marker = tmp_path / "pwned"
    expr = payload.format(marker=marker)
    path = tmp_path / "evil.toml"
    path.write_text(game_text(value="'''" + expr + "'''"))
    with pytest.raises(GameFileError) as info:
        load_game(path)
    message = str(info.value)
    assert str(path) in message and "R[1].value" in message and "column" in message
    assert not marker.exists()


def test_error_shows_the_expression_and_a_caret(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(game_text(value='"1 - qz"'))
    with pytest.raises(GameFileError) as info:
        load_game(path)
    lines = str(info.value).splitlines()
    assert "column 5: unknown name 'qz'" in lines[0]
    assert lines[1].strip() == "1 - qz" and lines[2].index("^") - lines[1].index("1") == 4


def test_hostile_file_sizes_are_rejected(tmp_path):
    text = HEADER.replace("agents = 2", "agents = 40") + "[[T]]\nvalue = 1\n[[R]]\nvalue = 1\n"
    with pytest.raises(GameFileError, match="entries"):
        loads_game(text, "big.toml")


# -------------------------------------------------------------- file structure
@pytest.mark.parametrize("text, fragment", [
    ("agents = 2\nstates = [\"s\"\n", "TOML syntax error"),
    ("colour = 1\n" + game_text(), "colour: unknown key"),
    (HEADER + "[[T]]\nvalue = 1\n", "R: missing"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nstate = \"q\"\nvalue = 1"), "T[1].state: unknown state 'q'"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nactions = [\"c\"]\nvalue = 1"), "T[1].actions: must be"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nactions = [\"c\", \"x\"]\nvalue = 1"),
     "T[1].actions[1]: unknown action 'x'"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nnext = 3\nvalue = 1"), "T[1].next: state index 3"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nvalue = 1\nweight = 2"), "T[1].weight: unknown key"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nstate = \"s\""), "T[1]: missing 'value'"),
    (game_text(value="true"), "R[1].value: True is a boolean"),
    (game_text().replace("[[T]]\nvalue = 1", "[[T]]\nvalue = 0.5"), "sums to 0.5"),
    (game_text().replace("qc = 0.2", "qc = \"a\""), "parameters.qc: default value must be a number"),
    (game_text().replace("qc = 0.2", "alpha = 0.2"), "reserved"),
    (game_text().replace("qc = 0.2", "_x = 0.2"), "parameters._x"),
    (game_text().replace('actions = ["c", "d"]', 'actions = ["c", "c"]'), "not unique"),
    (game_text().replace('actions = ["c", "d"]', 'actions = ["c"]'), "at least two actions"),
    (game_text().replace('states = ["s"]', 'states = ["*"]'), "other than '*'"),
    ("format = 2\n" + game_text(), "unsupported format"),
    (game_text().replace("actions =", "observations = [\"o\"]\nactions ="), "need an observation tensor O"),
])
def test_bad_files_name_file_and_key(text, fragment):
    with pytest.raises(GameFileError) as info:
        loads_game(text, source="game.toml")
    assert str(info.value).startswith("game.toml: ")
    assert fragment in str(info.value)


def test_keys_after_a_table_header_get_a_hint():
    text = game_text().replace("[[T]]\nvalue = 1\n", "") + "T = [[[[1], [1]], [[1], [1]]]]\n"
    text = text.replace("[parameters]\nqc = 0.2\n", "[parameters]\nqc = 0.2\nT = [[[[1], [1]], [[1], [1]]]]\n")
    with pytest.raises(GameFileError, match="move it above"):
        loads_game(text, "x.toml")


def test_dense_shape_errors():
    text = HEADER.replace("[parameters]", "T = [[[1, 1], [1, 1]]]\n[parameters]") + "[[R]]\nvalue = 1\n"
    with pytest.raises(GameFileError, match=r"T\[0\]\[0\]\[0\]: expected a list of 1 entries"):
        loads_game(text, "x.toml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(GameFileError, match="cannot read"):
        load_game(tmp_path / "nope.toml")


# ------------------------------------------------------------------- semantics
def test_toml_ecological_public_good_equals_the_builtin():
    toml = load_game(EXAMPLES / "ecological_public_good.toml")
    builtin = crldgen.games.ecological_public_good(2)
    assert toml.params == builtin.params
    assert (toml.states, toml.actions) == (builtin.states, builtin.actions)
    for values in ({}, {"qc": 0.35, "m": -7.0, "f": 1.5, "c": 3.0, "qr": 0.1}):
        a, b = toml.numeric(**values), builtin.numeric(**values)
        np.testing.assert_allclose(a["T"], b["T"], rtol=0, atol=1e-15)
        np.testing.assert_allclose(a["R"], b["R"], rtol=0, atol=1e-14)


def test_rock_paper_scissors_mixes_dense_and_rule_tensors():
    game = load_game(EXAMPLES / "rock_paper_scissors.toml")
    assert (game.n_agents, game.n_states, game.n_actions) == (2, 1, 3)
    assert game.agents == ("row", "column") and game.actions == ("R", "P", "S")
    R = game.numeric(tie=0.25)["R"][:, 0, :, :, 0]
    np.testing.assert_array_equal(R[0], [[0.25, -1, 1], [1, 0.25, -1], [-1, 1, 0.25]])
    np.testing.assert_array_equal(R[1], R[0].T)


def test_observations_tensor_and_labels():
    text = """
agents = 1
states = ["a", "b"]
actions = ["x", "y"]
observations = ["same"]
[parameters]
p = 0.3
[[T]]
next = "a"
value = "p"
[[T]]
next = "b"
value = "1 - p"
[[R]]
actions = ["x"]
value = 1
[[O]]
value = 1
"""
    game = loads_game(text, "po.toml")
    assert not game.fully_observed and game.observations == ("same",)
    np.testing.assert_array_equal(game.numeric()["O"], [[[1.0], [1.0]]])


def test_later_rules_override_earlier_ones_and_indices_work():
    text = game_text(value="1").replace("[[R]]\nvalue = 1", "[[R]]\nvalue = 1\n[[R]]\nagent = 1\nactions = [0, \"d\"]\n"
                                                  "value = \"qc * 10\"")
    R = loads_game(text, "x.toml").numeric()["R"]
    assert R[1, 0, 0, 1, 0] == 2.0 and R[0, 0, 0, 1, 0] == 1.0 and R[1, 0, 1, 1, 0] == 1.0
