"""The game model: transition, reward and observation tensors with named parameters.

Index conventions (fixed once, used everywhere in crldgen):

* ``T[s, a0, ..., a{N-1}, s']`` -- probability of moving from state ``s`` to ``s'``
  under the joint action ``(a0, ..., a{N-1})``;
* ``R[i, s, a0, ..., a{N-1}, s']`` -- reward of agent ``i`` for that transition;
* ``O[i, s, o]`` -- probability that agent ``i`` observes ``o`` in state ``s``
  (``None`` means full observability: ``Q = Z`` and ``O`` is the identity).

Entries are numbers or sympy expressions in the game's named parameters. Parameters
are sympy symbols with default values; they stay symbols in the derivation and become
run-time arguments of the generated code.
"""

from __future__ import annotations

import functools

import itertools
import keyword
import math
import numbers
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _validate
from .errors import GameError

from ._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it

#: names that generated code and the learner use; game parameters may not take them
RESERVED_NAMES = frozenset(
    {"alpha", "beta", "gamma", "X", "y", "theta", "V", "Q",
     "out", "J", "y_out", "math", "np", "numba", "Tss", "Ris", "Tisas", "Risa", "Ps", "W", "Y",
     # locals and helpers of the generated kernels (crldgen.codegen.generator._KERNEL_NAMES)
     "w", "N_WORK", "_solve", "_stage1", "_stage2", "logit_step_w", "range", "abs", "max", "min"}
)

#: keyword names of public functions that also take parameter overrides ``**p``; a game
#: parameter with one of these names could not be overridden per call (kept in sync by a test)
OPTION_NAMES = frozenset(
    {"X0", "X0s", "X_end", "X_start", "attractors", "base", "bounds", "cache_dir", "carry", "coordinate",
     "coords", "dedupe_tol", "direction", "distances", "ds", "ds_max", "ds_min", "dyn", "eigen_index", "eps",
     "every", "game", "grid", "guesses", "hi", "interval", "iterate", "jump", "learner", "lo", "match_tol",
     "max_angle", "max_iter", "max_pieces", "max_runs", "max_steps", "n_per_domain", "n_samples", "n_starts",
     "boundary", "max_faces", "max_pure",  # fixed_points' boundary search
     "normalize", "observable", "on_divergence", "param", "param_name", "param_scale", "prefactor", "progress",
     "reverse", "rng", "run_tol", "saddle", "sampling", "self", "start", "stop_at", "threshold", "tip", "tmax",
     "tol", "values", "x", "x_range", "y_limit", "y_range", "name",
     "engine", "quiet"}
)

#: shapes of the names of internal symbols (statement temporaries, indexed quantities)
_INTERNAL_NAME = re.compile(
    r"(t|cs|co|j|inv|vsol)\d.*"
    r"|(X|y|V|W|Y|Ps|D|Dinv|B|TO|Rioa|Tioao|Rio|Tioo|Tisas|Risa|Tss|Ris|Tpair|Rpair|Q|g|alpha|beta|gamma)_\d.*"
    r"|.*__.*"
)

_PROB_ATOL = 1e-12

#: the largest tensor a game may have: N * Z * M**N * Z entries of R (checked before anything is allocated
#: where crldgen builds the tensors: built-in games, game files); the symbolic derivation of a game of this
#: size already takes hours, a larger one could not be derived at all
MAX_TENSOR_ENTRIES = 2_000_000
#: the longest game name and label (they end up in file names, tables and generated docstrings)
MAX_LABEL_LENGTH = 500

#: sympy node types a tensor entry may contain (besides numbers and parameter symbols): the arithmetic
#: the code printer turns into plain float code. Anything else (undefined functions, matrices, relations,
#: unevaluated integrals, ...) is rejected when the Game is built, so nothing but arithmetic ever reaches
#: generated source.
#: Built on first use (not at import: loading a cached game must not import sympy).
@functools.lru_cache(maxsize=1)
def _allowed() -> tuple[tuple, tuple]:
    """``(functions, constants)`` a tensor entry may use."""
    functions = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh, sympy.tanh,
                 sympy.asin, sympy.acos, sympy.atan, sympy.Abs, sympy.Min, sympy.Max)
    return functions, (sympy.pi, sympy.E)


def check_size(n_agents: int, n_states: int, n_actions, what: str = "game") -> None:
    """Refuse games whose reward tensor would have more than :data:`MAX_TENSOR_ENTRIES` entries.

    Call this *before* allocating tensors: ``N * Z * M**N * Z`` grows exponentially in
    the number of agents (``--agents 40`` with two actions would need terabytes).
    ``n_actions`` is one count for every agent or a sequence of per-agent counts ``M_i``.
    """
    counts = [int(n_actions)] * int(n_agents) if isinstance(n_actions, numbers.Integral) \
        else [int(m) for m in n_actions]
    entries = int(n_agents) * int(n_states) * int(n_states)
    for m in counts:  # stops after ~21 factors: never computes a huge power
        entries *= m
        if entries > MAX_TENSOR_ENTRIES:
            break
    if entries > MAX_TENSOR_ENTRIES:
        acts = f"{counts[0]} actions" if len(set(counts)) == 1 else f"action counts {tuple(counts)}"
        raise GameError(
            f"{what}: {n_agents} agents with {acts} and {n_states} states need a reward tensor "
            f"R of N*Z*M**N*Z > {MAX_TENSOR_ENTRIES:,} entries (the limit crldgen.game.MAX_TENSOR_ENTRIES); "
            "use fewer agents, actions or states")


def check_text(value: Any, what: str) -> str:
    """A game name or label as a plain ``str`` (never a subclass), printable, at most 500 characters.

    Control characters (newlines, NUL, unicode line separators, ...) are refused: they have
    no place in a label and would garble tables and file contents. The generated code
    escapes every string anyway (``repr``), so this rule is for readability, not safety.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Integral)):
        raise GameError(f"{what} = {value!r:.80}: must be a string, not a {type(value).__name__}")
    text = str.__str__(value) if isinstance(value, str) else str(int(value))
    if len(text) > MAX_LABEL_LENGTH:
        raise GameError(f"{what} = {text[:40]!r}... has {len(text)} characters; at most {MAX_LABEL_LENGTH} "
                        "are allowed")
    for k, ch in enumerate(text):
        if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp"):
            raise GameError(
                f"{what} = {text!r:.80} contains the control character {ch!r} at position {k}; names and labels "
                "must be printable text (no newlines, tabs, NUL or unicode line separators)")
    return text


def _check_entry(expr: sympy.Basic, tensor: str, index: tuple, seen: set | None = None,
                 piecewise: bool = False) -> None:
    """Only numbers, symbols and whitelisted arithmetic may appear in a tensor entry (one pass over the tree).

    ``seen`` holds expressions already accepted (tensors repeat the same entries often).
    ``piecewise`` also admits ``Piecewise`` with comparisons and logic in its conditions:
    anonymous games use it for thresholds in the counts (their printer emits conditional
    expressions); a :class:`Game` entry must be plain arithmetic (its counts are numbers,
    so an expanded threshold is already evaluated).
    """
    if seen is not None and expr in seen:
        return
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol)):
            continue
        if isinstance(node, sympy.Number):
            if isinstance(node, sympy.Rational):
                if abs(node.p).bit_length() - node.q.bit_length() >= 1020:  # |value| above ~1e307
                    raise GameError(f"{tensor}{list(index)} contains the number {node!s:.40} which is not a "
                                    "finite float64 value")
            elif not math.isfinite(float(node)):  # nan, oo, a Float beyond the float64 range
                raise GameError(f"{tensor}{list(index)} = {str(expr)[:80]} is not a finite real expression")
            continue
        functions, constants = _allowed()
        if node in constants or node.func in functions or isinstance(node, sympy.Tuple):
            continue  # (Tuple: the arguments of Min/Max)
        if piecewise and isinstance(node, (sympy.Piecewise, sympy.core.relational.Relational,
                                           sympy.logic.boolalg.BooleanAtom, sympy.And, sympy.Or, sympy.Not,
                                           sympy.functions.elementary.piecewise.ExprCondPair)):
            continue
        if node is sympy.zoo or node is sympy.I:
            raise GameError(f"{tensor}{list(index)} = {str(expr)[:80]} is not a finite real expression")
        what = type(node).__name__ if not isinstance(node, sympy.Function) else f"the function {node.func}"
        raise GameError(
            f"{tensor}{list(index)} = {str(expr)[:80]} contains {what}; tensor entries may only use numbers, "
            "parameter symbols, + - * / **, and the functions exp, log, sin, cos, tan, sinh, cosh, tanh, asin, "
            "acos, atan, Abs, Min, Max")
    if seen is not None:
        seen.add(expr)


def _sample_points(game: Game, n_random: int = 3, seed: int = 20261201) -> list[dict]:
    """Parameter points for identity checks: the defaults and a few random points near them."""
    rng = np.random.default_rng(seed)
    points = [dict(game.params)]
    for _ in range(n_random):
        pt = {}
        for name, d in game.params.items():
            u = rng.uniform(-1.0, 1.0)
            pt[name] = d * (1.0 + 0.37 * u) if d != 0 else 0.05 + 0.3 * abs(u)
        points.append(pt)
    return points


def is_identically_zero(expr: sympy.Expr, game: Game) -> bool:
    """Whether ``expr`` vanishes for every value of the game's parameters (bounded cost).

    Never expands: ``expr`` is evaluated with 30 significant digits (mpmath, so the
    cancellation in, say, ``(a+b)**64`` minus its expansion is resolved) at the defaults
    and at three pseudo-random parameter points. A polynomial or rational function that
    vanishes at random points is zero with probability one; the cost is linear in the
    size of ``expr``, where ``sympy.expand`` can take forever (``(a1+...+a6)**64``).
    """
    expr = sympy.sympify(expr)
    if expr == 0:
        return True
    if not expr.free_symbols:
        pts = [{}]
    else:
        pts = _sample_points(game)
    for pt in pts:
        subs = {game._symbols[n]: sympy.Float(v, 40) for n, v in pt.items()}
        try:
            val = expr.evalf(30, subs=subs) if subs else expr.evalf(30)
            mag = abs(complex(val))
        except (TypeError, ValueError, ArithmeticError):
            return False
        if not math.isfinite(mag) or mag > 1e-20:
            return False
    return True


def _to_sympy(value: Any, tensor: str, index: tuple, seen: set | None = None,
              piecewise: bool = False) -> sympy.Expr:
    """Convert one tensor entry to sympy without ever parsing text (``piecewise``: see :func:`_check_entry`)."""
    if isinstance(value, sympy.Basic):
        _check_entry(value, tensor, index, seen, piecewise)
        return value
    if isinstance(value, (bool, np.bool_)):
        raise GameError(f"{tensor}{list(index)} is a boolean ({value!r}); expected a number or sympy expression")
    if isinstance(value, numbers.Integral):
        if abs(int(value)).bit_length() > 1020:
            raise GameError(f"{tensor}{list(index)} is an integer of {abs(int(value)).bit_length()} bits, "
                            "not a finite float64 value")
        return sympy.Integer(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v):
            raise GameError(f"{tensor}{list(index)} = {v!r} is not finite; every entry must be a finite number")
        if v.is_integer() and abs(v) < 2**53:
            return sympy.Integer(int(v))
        return sympy.Float(v, precision=53)
    if isinstance(value, (list, tuple, np.ndarray)):  # numpy >= 1.24 keeps ragged rows as list objects
        raise GameError(
            f"{tensor} is ragged (rows of different lengths): {tensor}{list(index)} is a "
            f"{type(value).__name__} of length {len(value)} where the other rows have numbers"
        )
    raise GameError(
        f"{tensor}{list(index)} has type {type(value).__name__}; expected a number or a sympy "
        "expression (text is never parsed: build expressions from Game parameter symbols)"
    )


def _as_object_array(data: Any, tensor: str) -> np.ndarray:
    if isinstance(data, sympy.NDimArray):
        arr = np.empty(data.shape, dtype=object)
        for idx in itertools.product(*(range(n) for n in data.shape)):
            arr[idx] = data[idx]
    else:
        try:
            arr = np.array(data, dtype=object)
        except ValueError as exc:  # ragged nested lists
            raise GameError(f"{tensor} is ragged (rows of different lengths): {exc}") from exc
    out = np.empty(arr.shape, dtype=object)
    seen: set = set()
    for idx in np.ndindex(arr.shape):
        out[idx] = _to_sympy(arr[idx], tensor, idx, seen)
    return out


def _per_agent(labels) -> bool:
    """Whether a label argument is one list per agent (its items are sequences, not labels)."""
    return (isinstance(labels, (Sequence, np.ndarray)) and not isinstance(labels, (str, bytes)) and len(labels) > 0
            and all(isinstance(x, (Sequence, np.ndarray)) and not isinstance(x, (str, bytes)) for x in labels))


def _as_observations(O: Any) -> np.ndarray | tuple[np.ndarray, ...]:
    """``O`` as one ``(N, Z, Q)`` object array, or a tuple of per-agent ``(Z, Q_i)`` arrays when the ``Q_i`` differ.

    A sequence of per-agent arrays that all have the same shape becomes the uniform array,
    so a game is uniform whenever its shapes are, whichever way ``O`` was written.
    """
    if isinstance(O, (list, tuple)) and O and all(np.ndim(Oi) == 2 if not isinstance(Oi, sympy.NDimArray)
                                                  else len(Oi.shape) == 2 for Oi in O):
        parts = [_as_object_array(Oi, f"O[{i}]") for i, Oi in enumerate(O)]
        if len({p.shape for p in parts}) > 1:
            return tuple(parts)
        arr = np.empty((len(parts),) + parts[0].shape, dtype=object)
        for i, p in enumerate(parts):
            arr[i] = p
        return arr
    return _as_object_array(O, "O")


class Game:
    """A stochastic game with ``N`` agents, ``Z`` states and ``M_i`` actions for agent ``i``.

    Parameters
    ----------
    T : array_like, shape ``(Z, M_0, ..., M_{N-1}, Z)``
        Transition probabilities; numbers or sympy expressions in the parameters.
        Agents may have different numbers of actions ``M_i`` (a heterogeneous game).
    R : array_like, shape ``(N, Z, M_0, ..., M_{N-1}, Z)``
        Rewards.
    O : array_like, optional
        Observation probabilities; ``None`` for full observability. Either one array of
        shape ``(N, Z, Q)`` (every agent has the same ``Q`` observations) or a sequence of
        ``N`` arrays, ``O[i]`` of shape ``(Z, Q_i)``: agent ``i``'s own observation set.
    params : mapping, optional
        ``{name or Symbol: default value}``. Every free symbol in ``T``, ``R``, ``O``
        must be one of these. Use :meth:`Game.symbol` to get the symbol of a name.
    agents, states : sequence of str, optional
        Labels (default ``'0', '1', ...``).
    actions, observations : sequence of str, or a sequence of N sequences, optional
        One label list shared by every agent, or one list per agent (needed when the
        counts differ, and allowed when they agree). ``observations`` defaults to
        ``states`` under full observability.
    name : str
        A short name (used to name generated modules).
    check : bool
        Validate tensors (default True).

    Notes
    -----
    Heterogeneous games: ``action_counts`` and ``observation_counts`` give ``M_i`` and ``Q_i`` per agent;
    ``uniform`` is True when all ``M_i`` agree and all ``Q_i`` agree. Only uniform games
    have a single ``n_actions`` / ``n_observations`` and an ``(N, Z, Q)`` array ``O``;
    a heterogeneous game keeps ``O`` as a tuple of per-agent ``(Z, Q_i)`` arrays and its
    strategies are tuples of per-agent ``(Q_i, M_i)`` arrays (see :mod:`crldgen.ragged`).
    """

    def __init__(
        self,
        T: Any,
        R: Any,
        O: Any = None,  # noqa: E741 - paper notation
        *,
        params: Mapping[Any, float] | None = None,
        agents: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        observations: Sequence[str] | None = None,
        name: str = "game",
        check: bool = True,
    ) -> None:
        self.name = check_text(name, "name")
        if not self.name:
            raise GameError("name = '': a game needs a non-empty name")
        if params is not None and not isinstance(params, Mapping):
            raise GameError(f"params = {params!r:.60}: must be a mapping {{name or Symbol: default value}}")
        check = _validate.check_bool("check", check, error=GameError)
        self._init_params(params or {})
        self.T = _as_object_array(T, "T")
        self.R = _as_object_array(R, "R")
        self.O = None if O is None else _as_observations(O)
        self._init_shapes()
        self.agents = self._labels(agents, self.n_agents, "agents")
        self.states = self._labels(states, self.n_states, "states")
        self.agent_actions = self._agent_labels(actions, self.action_counts, "actions")
        if self.O is None:
            if observations is not None and list(observations) != list(self.states) and not (
                    _per_agent(observations) and all(list(o) == list(self.states) for o in observations)):
                raise GameError("observations labels given for a fully observed game (O is None); drop them or pass O")
            self.agent_observations = (self.states,) * self.n_agents
        else:
            self.agent_observations = self._agent_labels(observations, self.observation_counts, "observations")
        self._check_symbols()
        if check:
            self.validate()

    # ------------------------------------------------------------------ set-up
    def _init_params(self, params: Mapping[Any, float]) -> None:
        self.params: dict[str, float] = {}
        self._symbols: dict[str, sympy.Symbol] = {}
        for key, value in params.items():
            if isinstance(key, sympy.Symbol):
                sym, pname = key, key.name
            elif isinstance(key, str):
                sym, pname = sympy.Symbol(key, real=True), key
            else:
                raise GameError(f"parameter key {key!r} must be a name (str) or a sympy Symbol")
            if not isinstance(pname, str) or not (pname.isascii() and pname.isidentifier()) \
                    or keyword.iskeyword(pname):
                raise GameError(f"parameter name {pname!r:.80} is not a Python identifier of ASCII letters, digits "
                                "and _ (not starting with a digit, not a keyword); rename it")
            pname = str.__str__(pname)
            if pname in RESERVED_NAMES or pname in OPTION_NAMES or _INTERNAL_NAME.fullmatch(pname):
                raise GameError(
                    f"parameter name {pname!r} is reserved by crldgen (it has the shape of an internal "
                    "symbol or of a name in generated code); choose another name")
            if pname in self.params:
                raise GameError(f"parameter {pname!r} is given twice")
            if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
                raise GameError(f"default value of parameter {pname!r} must be a number, got {value!r:.80} "
                                f"({type(value).__name__})")
            try:
                v = float(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise GameError(f"default value of parameter {pname!r} must be a number, got {value!r:.80}") from exc
            if not math.isfinite(v):
                raise GameError(f"default value of parameter {pname!r} is {v}; it must be finite")
            self.params[pname] = v
            self._symbols[pname] = sym

    def _init_shapes(self) -> None:
        T, R = self.T, self.R
        if T.ndim < 3:
            raise GameError(
                f"T has shape {T.shape}; expected (Z, M, ..., M, Z) with one action axis per agent (ndim >= 3)"
            )
        n_agents = T.ndim - 2
        n_states = T.shape[0]
        if T.shape[-1] != n_states:
            raise GameError(f"T has shape {T.shape}: first axis (Z={n_states}) and last axis ({T.shape[-1]}) must match")
        counts = tuple(int(m) for m in T.shape[1:-1])
        if n_states < 1:
            raise GameError(f"T has shape {T.shape}: need Z >= 1 states")
        for i, m in enumerate(counts):
            if m < 2:
                raise GameError(f"T has shape {T.shape}: agent {i} has {m} action(s) (axis {i + 1} of T); "
                                "every agent needs M_i >= 2 actions")
        expected_R = (n_agents,) + T.shape
        if R.shape != expected_R:
            what = "(N, Z, M x N, Z)" if len(set(counts)) == 1 else "(N, Z, M_0, ..., M_{N-1}, Z)"
            raise GameError(f"R has shape {R.shape}; expected {expected_R} = {what} to match T {T.shape}")
        check_size(n_agents, n_states, counts)
        self.n_agents, self.n_states = n_agents, n_states
        self.action_counts = counts
        if self.O is None:
            self.observation_counts = (n_states,) * n_agents
        elif isinstance(self.O, tuple):
            if len(self.O) != n_agents:
                raise GameError(f"O has {len(self.O)} per-agent arrays; expected one (Z={n_states}, Q_i) array "
                                f"for each of the N={n_agents} agents")
            for i, Oi in enumerate(self.O):
                if Oi.ndim != 2 or Oi.shape[0] != n_states or Oi.shape[1] < 1:
                    raise GameError(f"O[{i}] (agent {i}) has shape {Oi.shape}; expected (Z={n_states}, Q_{i}) "
                                    "with Q_i >= 1 observations")
            self.observation_counts = tuple(int(Oi.shape[1]) for Oi in self.O)
        else:
            if self.O.ndim != 3 or self.O.shape[:2] != (n_agents, n_states):
                raise GameError(f"O has shape {self.O.shape}; expected (N={n_agents}, Z={n_states}, Q)")
            self.observation_counts = (int(self.O.shape[2]),) * n_agents

    # ------------------------------------------------------ shapes per agent
    @property
    def uniform(self) -> bool:
        """Whether every agent has the same number of actions and the same number of observations."""
        return len(set(self.action_counts)) == 1 and len(set(self.observation_counts)) == 1

    @property
    def n_actions(self) -> int:
        """``M``, the number of actions of every agent (GameError when the agents' counts differ)."""
        if len(set(self.action_counts)) != 1:
            raise GameError(f"game {self.name!r} is heterogeneous: its agents have {self.action_counts} actions; "
                            "use game.action_counts (M_i per agent)")
        return self.action_counts[0]

    @property
    def n_observations(self) -> int:
        """``Q``, the number of observations of every agent (GameError when the agents' counts differ)."""
        if len(set(self.observation_counts)) != 1:
            raise GameError(f"game {self.name!r} is heterogeneous: its agents have {self.observation_counts} "
                            "observations; use game.observation_counts (Q_i per agent)")
        return self.observation_counts[0]

    @property
    def actions(self) -> tuple[str, ...]:
        """The action labels shared by every agent (GameError when they differ: see ``agent_actions``)."""
        if len(set(self.agent_actions)) != 1:
            raise GameError(f"the agents of game {self.name!r} have different action labels "
                            f"{self.agent_actions}; use game.agent_actions")
        return self.agent_actions[0]

    @property
    def observations(self) -> tuple[str, ...]:
        """The observation labels shared by every agent (GameError when they differ: see ``agent_observations``)."""
        if len(set(self.agent_observations)) != 1:
            raise GameError(f"the agents of game {self.name!r} have different observation labels "
                            f"{self.agent_observations}; use game.agent_observations")
        return self.agent_observations[0]

    @property
    def shared_labels(self) -> bool:
        """Whether all agents use the same action labels and the same observation labels."""
        return len(set(self.agent_actions)) == 1 and len(set(self.agent_observations)) == 1

    @property
    def n_strategy(self) -> int:
        """Entries of a joint strategy, ``sum_i Q_i M_i``."""
        return sum(q * m for q, m in zip(self.observation_counts, self.action_counts))

    @property
    def n_free(self) -> int:
        """Free coordinates of a joint strategy, ``sum_i Q_i (M_i - 1)``."""
        return sum(q * (m - 1) for q, m in zip(self.observation_counts, self.action_counts))

    def agent_O(self, i: int) -> np.ndarray:
        """``O_i[s, o]`` of agent ``i`` as a ``(Z, Q_i)`` object array (the identity under full observability)."""
        if self.O is None:
            return np.array([[sympy.Integer(int(s == o)) for o in range(self.n_states)]
                             for s in range(self.n_states)], dtype=object)
        return self.O[i] if isinstance(self.O, tuple) else self.O[i]

    def _agent_labels(self, labels, counts: tuple[int, ...], what: str) -> tuple[tuple[str, ...], ...]:
        """Per-agent label tuples from one shared list or one list per agent."""
        if labels is not None and _per_agent(labels):
            if len(labels) != self.n_agents:
                raise GameError(f"{what} has {len(labels)} per-agent label lists; the game has {self.n_agents} agents")
            return tuple(self._labels(lab, n, f"{what}[{i}] (agent {i})")
                         for i, (lab, n) in enumerate(zip(labels, counts)))
        if labels is None:
            return tuple(self._labels(None, n, what) for n in counts)
        if len(set(counts)) != 1:
            raise GameError(f"{what}: the agents have {counts} {what}, so give one label list per agent "
                            f"({what}=[[...], [...], ...])")
        shared = self._labels(labels, counts[0], what)
        return (shared,) * self.n_agents

    @staticmethod
    def _labels(labels: Sequence[str] | None, n: int, what: str) -> tuple[str, ...]:
        if labels is None:
            return tuple(str(k) for k in range(n))
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
            raise GameError(f"{what} = {labels!r:.80}: must be a sequence of labels, one per entry")
        out = tuple(check_text(x, f"{what}[{k}]") for k, x in enumerate(labels))
        if len(out) != n:
            raise GameError(f"{what} has {len(out)} labels {out}; the tensors have {n} {what}")
        if len(set(out)) != n:
            raise GameError(f"{what} labels {out} are not unique")
        return out

    def _check_symbols(self) -> None:
        known = set(self._symbols.values())
        for tname, tensor in self.tensors().items():
            for idx in np.ndindex(tensor.shape):
                free = tensor[idx].free_symbols - known
                if free:
                    names = sorted(str(s) for s in free)
                    hint = ""
                    same_name = [n for n in names if n in self._symbols]
                    if same_name:
                        hint = (
                            f" (a symbol named {same_name[0]!r} is a parameter but with other assumptions; "
                            f"build entries with game.symbol({same_name[0]!r}) or pass the Symbol itself as key)"
                        )
                    raise GameError(
                        f"{tname}{list(idx)} uses unknown symbol(s) {names}; declare them in params={{name: default}}"
                        + hint
                    )
                if tensor[idx].has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                    raise GameError(f"{tname}{list(idx)} = {tensor[idx]} is not a finite real expression")

    # ---------------------------------------------------------------- queries
    def tensors(self) -> dict[str, np.ndarray]:
        """The tensors ``{'T': ..., 'R': ..., 'O': ...}`` (object arrays of sympy expressions).

        Per-agent observation arrays of a heterogeneous game appear as ``'O[0]', 'O[1]', ...``.
        """
        out = {"T": self.T, "R": self.R}
        if isinstance(self.O, tuple):
            out.update({f"O[{i}]": Oi for i, Oi in enumerate(self.O)})
        elif self.O is not None:
            out["O"] = self.O
        return out

    @property
    def param_names(self) -> tuple[str, ...]:
        """Game parameter names in declaration order (the order of run-time arrays)."""
        return tuple(self.params)

    @property
    def param_symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(self._symbols[n] for n in self.params)

    @property
    def fully_observed(self) -> bool:
        return self.O is None

    def symbol(self, name: str) -> sympy.Symbol:
        """The sympy symbol of parameter ``name``."""
        try:
            return self._symbols[name]
        except KeyError:
            raise GameError(f"game {self.name!r} has no parameter {name!r}; it has {list(self.params)}") from None

    def numeric(self, **values: float) -> dict[str, np.ndarray]:
        """Float arrays of T, R (and O) at the defaults, overridden by ``values``."""
        subs = self._subs(values)
        out = {}
        for tname, tensor in self.tensors().items():
            arr = np.empty(tensor.shape)
            for idx in np.ndindex(tensor.shape):
                val = tensor[idx]
                try:
                    val = val.xreplace(subs) if subs else val
                    arr[idx] = float(val)
                except (TypeError, ValueError, ArithmeticError) as exc:
                    raise GameError(f"{tname}{list(idx)} = {str(val)[:80]} does not evaluate to a real number"
                                    + (f" at parameters {dict(self.params, **values)}" if self.params else "")) \
                        from exc
                if not math.isfinite(arr[idx]):
                    raise GameError(f"{tname}{list(idx)} = {arr[idx]!r}"
                                    + (f" at parameters {dict(self.params, **values)}" if self.params else "")
                                    + "; every entry must be finite")
            out[tname] = arr
        if isinstance(self.O, tuple):
            out["O"] = tuple(out.pop(f"O[{i}]") for i in range(self.n_agents))
        return out

    def _subs(self, values: Mapping[str, float]) -> dict:
        for k, v in values.items():
            if k not in self.params:
                raise GameError(f"game {self.name!r} has no parameter {k!r}; it has {list(self.params)}")
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
                raise GameError(f"parameter {k} = {v!r:.60}: must be a finite number")
        return {self._symbols[n]: sympy.Float(float(values.get(n, d)), precision=53) for n, d in self.params.items()}

    def substitute(self, **values: float) -> Game:
        """A game with the given parameters replaced by numbers (the rest stay symbols)."""
        subs = {self.symbol(k): _to_sympy(v, k, ()) for k, v in values.items()}
        keep = {self._symbols[n]: d for n, d in self.params.items() if n not in values}

        def sub(t):
            return None if t is None else np.vectorize(lambda e: e.xreplace(subs), otypes=[object])(t)

        O = [sub(Oi) for Oi in self.O] if isinstance(self.O, tuple) else sub(self.O)
        return Game(
            sub(self.T), sub(self.R), O, params=keep, agents=self.agents, states=self.states,
            actions=self._label_arg(self.agent_actions),
            observations=None if self.O is None else self._label_arg(self.agent_observations), name=self.name,
        )

    @staticmethod
    def _label_arg(per_agent: tuple) -> tuple:
        """Labels as a constructor argument: one shared tuple when all agents agree, else one per agent."""
        return per_agent[0] if len(set(per_agent)) == 1 else per_agent

    # ------------------------------------------------------------- validation
    def validate(self, **values: float) -> None:
        """Check probabilities (range, normalization) at the parameter values given.

        Symbolic rows must sum to one identically; numeric checks use the defaults
        overridden by ``values``. Raises :class:`GameError` naming the tensor and index.
        """
        num = self.numeric(**values)
        if isinstance(num.get("O"), tuple):
            num.update({f"O[{i}]": Oi for i, Oi in enumerate(num.pop("O"))})
        at = f" at parameters {dict(self.params, **values)}" if self.params else ""
        checks = [("T", "s'")] + [(name, "o") for name in self.tensors() if name.startswith("O")]
        for tname, axis_label in checks:
            if tname not in num:
                continue
            arr, sym = num[tname], self.tensors()[tname]
            bad = np.argwhere((arr < -_PROB_ATOL) | (arr > 1 + _PROB_ATOL))
            if len(bad):
                idx = tuple(int(k) for k in bad[0])
                raise GameError(
                    f"{tname}{list(idx)} = {arr[idx]:.6g}{at} is not a probability in [0, 1]"
                )
            sums = arr.sum(axis=-1)
            bad = np.argwhere(np.abs(sums - 1.0) > 1e-10)
            if len(bad):
                idx = tuple(int(k) for k in bad[0])
                raise GameError(
                    f"{tname}[{', '.join(map(str, idx))}, :] sums to {sums[idx]:.12g} over {axis_label}{at}; "
                    f"each row of {tname} must sum to 1"
                )
            for idx in np.ndindex(sym.shape[:-1]):
                row = sym[idx]
                total = sympy.Add(*row)
                # bounded: numeric evaluation at random points, never sympy.expand (which can take forever)
                if total.free_symbols and not is_identically_zero(total - 1, self):
                    raise GameError(
                        f"{tname}[{', '.join(map(str, idx))}, :] sums to {total} over {axis_label}, not identically 1; "
                        "probabilities must sum to 1 for every parameter value"
                    )

    # ----------------------------------------------------------------- misc
    def canonical(self) -> str:
        """A canonical text of the game (tensors, parameters, labels) used for cache keys."""
        if self.uniform and self.shared_labels:  # the text of every game before heterogeneous agents
            shape = f"M{self.n_actions} Q{self.n_observations}"
            labels = (self.agents, self.states, self.actions, self.observations)
        else:
            shape = f"M{self.action_counts} Q{self.observation_counts}"
            labels = (self.agents, self.states, self.agent_actions, self.agent_observations)
        parts = [
            f"name={self.name}",
            f"shape=N{self.n_agents} Z{self.n_states} {shape} O={self.O is not None}",
            "params=" + ";".join(f"{n}:{sympy.srepr(self._symbols[n])}" for n in self.params),
            "labels=" + repr(labels),
        ]
        for tname, tensor in self.tensors().items():
            parts.append(tname + "=" + "|".join(sympy.srepr(e) for e in tensor.flat))
        return "\n".join(parts)

    def __repr__(self) -> str:
        M = self.action_counts[0] if len(set(self.action_counts)) == 1 else self.action_counts
        Q = self.observation_counts[0] if len(set(self.observation_counts)) == 1 else self.observation_counts
        po = "" if self.O is None else f", Q={Q}"
        return f"Game({self.name!r}, N={self.n_agents}, Z={self.n_states}, M={M}{po}, params={self.params})"

    def joint_actions(self):
        """Iterate over all joint actions ``(a0, ..., a{N-1})`` (``a_i`` in ``range(M_i)``)."""
        return itertools.product(*(range(m) for m in self.action_counts))
