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


# ------------------------------------------------------- heterogeneous agents
HETERO = """
agents = ["user", "regulator"]
states = ["s"]
actions = [["low", "medium", "high"], ["idle", "monitor"]]
[parameters]
fine = 2.0
[[T]]
value = 1
[[R]]
agent = "user"
actions = ["high", "*"]
value = 3
[[R]]
agent = "user"
actions = ["high", "monitor"]
value = "3 - fine"
[[R]]
agent = "regulator"
actions = ["*", 1]
value = -0.5
"""


def test_per_agent_actions_give_a_heterogeneous_game():
    game = loads_game(HETERO, "h.toml")
    assert game.action_counts == (3, 2) and not game.uniform
    assert game.agent_actions == (("low", "medium", "high"), ("idle", "monitor"))
    assert game.T.shape == (1, 3, 2, 1) and game.R.shape == (2, 1, 3, 2, 1)
    R = game.numeric(fine=1.0)["R"][:, 0, :, :, 0]
    np.testing.assert_array_equal(R[0], [[0, 0], [0, 0], [3, 2]])  # (user action, regulator action)
    np.testing.assert_array_equal(R[1], [[0, -0.5]] * 3)


@pytest.mark.parametrize("form", [
    'actions = { user = ["low", "medium", "high"], regulator = ["idle", "monitor"] }',
    'actions = { regulator = ["idle", "monitor"], user = ["low", "medium", "high"] }',  # order of the table: free
])
def test_per_agent_actions_as_a_table(form):
    text = HETERO.replace('actions = [["low", "medium", "high"], ["idle", "monitor"]]', form)
    assert loads_game(text, "t.toml").canonical() == loads_game(HETERO, "h.toml").canonical()


def test_per_agent_actions_as_a_table_section_and_as_counts():
    section = HETERO.replace('actions = [["low", "medium", "high"], ["idle", "monitor"]]\n', "").replace(
        "[parameters]", '[actions]\nuser = ["low", "medium", "high"]\nregulator = ["idle", "monitor"]\n[parameters]')
    assert loads_game(section, "t.toml").agent_actions == (("low", "medium", "high"), ("idle", "monitor"))
    counts = HETERO.replace('actions = [["low", "medium", "high"], ["idle", "monitor"]]', "actions = [3, 2]")
    counts = counts.replace('"high"', "2").replace('"monitor"', "1")
    game = loads_game(counts, "c.toml")
    assert game.agent_actions == (("0", "1", "2"), ("0", "1"))
    np.testing.assert_array_equal(game.numeric()["R"], loads_game(HETERO, "h.toml").numeric()["R"])


def test_per_agent_actions_dense_tensor():
    text = """
agents = 2
states = ["s"]
actions = [["a", "b"], ["x", "y", "z"]]
T = [[[[1], [1], [1]], [[1], [1], [1]]]]
R = [[[[[1], [2], [3]], [[4], [5], [6]]]], [[[[0], [0], [0]], [[0], [0], [-1]]]]]
"""
    game = loads_game(text, "d.toml")
    assert game.action_counts == (2, 3)
    np.testing.assert_array_equal(game.numeric()["R"][0, 0, :, :, 0], [[1, 2, 3], [4, 5, 6]])
    assert game.numeric()["R"][1, 0, 1, 2, 0] == -1
    with pytest.raises(GameFileError, match=r"T\[0\]\[0\]: has 2 entries; expected 3"):
        loads_game(text.replace("T = [[[[1], [1], [1]], [[1], [1], [1]]]]", "T = [[[[1], [1]], [[1], [1]]]]"), "d.toml")


def test_shared_labels_given_per_agent_are_the_same_game():
    a = loads_game(game_text(), "a.toml")
    b = loads_game(game_text().replace('actions = ["c", "d"]', 'actions = [["c", "d"], ["c", "d"]]'), "b.toml")
    assert b.uniform and a.canonical() == b.canonical()


@pytest.mark.parametrize("change, fragment", [
    (('["*", 1]', '["*", "x"]'), "R[3].actions[1]: unknown action 'x' of agent 'regulator'; its actions are "
                                 "['idle', 'monitor']"),
    (('["high", "monitor"]', '["monitor", "high"]'), "R[2].actions[0]: unknown action 'monitor' of agent 'user'"),
    (('["*", 1]', '["*", 2]'), "R[3].actions[1]: action index 2 of agent 'regulator' is out of range 0..1"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '[["low", "medium", "high"], ["idle"]]'),
     "actions (agent 'regulator'): need at least two actions"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '[["low", "high"], ["idle", "monitor"], ["a", "b"]]'),
     "actions: has 3 per-agent entries; the game has 2 agents ['user', 'regulator']"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '[["low", "low"], ["idle", "monitor"]]'),
     "actions[0] (agent 'user'): labels ['low', 'low'] are not unique"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '[["low", "high"], "idle"]'),
     "actions[1] (agent 'regulator'): must be a non-empty list of labels or a count"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '{ user = ["low", "high"] }'),
     "actions: no actions for agent 'regulator'"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '{ user = [2], regulator = 2, boss = 2 }'),
     "actions.boss: unknown agent 'boss'; the agents are ['user', 'regulator']"),
    (('[["low", "medium", "high"], ["idle", "monitor"]]', '{ user = ["*", "b"], regulator = 2 }'),
     "actions.user[0]: label '*' must be a non-empty string other than '*'"),
])
def test_per_agent_action_errors_name_the_agent(change, fragment):
    with pytest.raises(GameFileError) as info:
        loads_game(HETERO.replace(*change), "h.toml")
    assert str(info.value).startswith("h.toml: ") and fragment in str(info.value)


PO_HETERO = """
agents = ["a", "b"]
states = ["calm", "storm"]
actions = ["x", "y"]
observations = [["quiet", "alarm"], ["o"]]
[parameters]
noise = 0.1
[[T]]
value = 0.5
[[R]]
value = 1
[[O]]
agent = "a"
state = "calm"
observation = "quiet"
value = "1 - noise"
[[O]]
agent = "a"
state = "calm"
observation = "alarm"
value = "noise"
[[O]]
agent = "a"
state = "storm"
observation = "alarm"
value = 1
[[O]]
agent = "b"
value = 1
"""


def test_per_agent_observation_sets_from_rules():
    game = loads_game(PO_HETERO, "po.toml")
    assert game.observation_counts == (2, 1) and game.agent_observations == (("quiet", "alarm"), ("o",))
    O0, O1 = game.numeric(noise=0.25)["O"]
    np.testing.assert_allclose(O0, [[0.75, 0.25], [0, 1]])
    np.testing.assert_array_equal(O1, [[1], [1]])


def test_per_agent_observation_sets_dense_and_as_a_table():
    rules = PO_HETERO[PO_HETERO.index("[[O]]"):]
    dense = PO_HETERO.replace(rules, "").replace(
        "[parameters]", 'O = [[["1 - noise", "noise"], [0, 1]], [[1], [1]]]\n[parameters]')
    table = PO_HETERO.replace('observations = [["quiet", "alarm"], ["o"]]',
                              'observations = { b = ["o"], a = ["quiet", "alarm"] }')
    want = loads_game(PO_HETERO, "po.toml").canonical()
    assert loads_game(dense, "d.toml").canonical() == want
    assert loads_game(table, "t.toml").canonical() == want


@pytest.mark.parametrize("change, fragment", [
    (('agent = "b"\nvalue = 1', 'agent = "b"\nobservation = "alarm"\nvalue = 1'),
     "O[4].observation: unknown observation 'alarm' of agent 'b'; its observations are ['o']"),
    (('agent = "b"\nvalue = 1', 'agent = "b"\nobservation = 1\nvalue = 1'),
     "O[4].observation: observation index 1 of agent 'b' is out of range 0..0"),
    (('agent = "b"\nvalue = 1', 'agent = "*"\nobservation = "o"\nvalue = 1'),  # agent a has no 'o'
     "O[4].observation: unknown observation 'o' of agent 'a'"),
    (('[["quiet", "alarm"], ["o"]]', '[["quiet", "alarm"]]'), "observations: has 1 per-agent entries"),
])
def test_per_agent_observation_errors_name_the_agent(change, fragment):
    with pytest.raises(GameFileError) as info:
        loads_game(PO_HETERO.replace(*change), "po.toml")
    assert fragment in str(info.value)


def test_per_agent_observation_dense_shape_errors():
    rules = PO_HETERO[PO_HETERO.index("[[O]]"):]
    base = PO_HETERO.replace(rules, "")
    bad = base.replace("[parameters]", "O = [[[1, 0], [0, 1]]]\n[parameters]")
    with pytest.raises(GameFileError, match="O: the agents have their own observation sets: give O as a list of 2"):
        loads_game(bad, "d.toml")
    bad = base.replace("[parameters]", "O = [[[1, 0], [0, 1]], [[1, 0], [1, 0]]]\n[parameters]")
    with pytest.raises(GameFileError, match=r"O\[1\]\[0\]: has 2 entries; expected 1"):
        loads_game(bad, "d.toml")
