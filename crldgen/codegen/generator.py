"""Generate the source text of a per-game module of numba kernels (text only, no compiling).

Module layout (the same public names in every module): header comment with key and
checksum, docstring with the array orderings, constants, the two shared stages
(``_stage1``: learner-independent quantities such as the strategy averages; ``_stage2``:
inverse, values ``V`` and ``Q``), the game kernels (``averages``, ``values``,
``tderror``, ``logit_step`` / ``logit_step_w``, ``jacobian``, ``stationary``), then the
game-independent template (``strategy_step``, ``trajectory``, ``trajectories``, ...).

Kernel arguments are flat float64 arrays: ``X[(i*Q + o)*M + a]``, ``y[(i*Q + o)*(M-1) + a]``,
``theta`` (game parameters in ``PARAM_NAMES`` order), ``alpha``, ``beta``, ``gamma``
(one value per agent); outputs go into preallocated arrays. Game parameters are never
module constants (numba would freeze them at compile time) and their default values
are not in the module at all: one module serves every value (see :func:`cache_key`).

Heterogeneous games (agents with different ``M_i`` or ``Q_i``, ``game.uniform`` False)
get the flat layout of :mod:`crldgen.ragged` (agent-major, no padding): the module has
``RAGGED = True``, ``N_ACTIONS = N_OBS = None``, ``ACTION_COUNTS``, ``OBS_COUNTS``,
``AGENT_ACTIONS``, ``AGENT_OBSERVATIONS``, the row tables ``N_ROWS, ROW_AGENT, ROW_OBS,
ROW_M, ROW_X, ROW_Y``, ``X_OFFSETS``, ``Y_OFFSETS``, ``NX``, ``N_TISAS``, ``N_RISA`` and
``O_SHAPES``; the template functions that loop over rows are replaced by the row-table
versions of :data:`~crldgen.codegen.template.RAGGED_FUNCTIONS` (the same arithmetic per
row). Uniform games keep their text byte for byte.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import sympy

from .._version import __version__
from ..errors import GenerationError
from ..runtime.loader import FORMAT, HEADER_LINES, parse_header  # noqa: F401 - parse_header re-exported
from ..symbolic.model import Model
from ..symbolic.program import LinearSolve, Program
from .printer import expr_code, program_lines
from .template import (CHECKED_TEMPLATE, FO_STATIONARY, GAME_TENSORS_TEMPLATE, LANES, LANES_TEMPLATE,
                       RAGGED_FUNCTIONS, ROWS_TEMPLATE, TEMPLATE, decorator, replace_functions)

__all__ = ["FORMAT", "HEADER_LINES", "cache_key", "generate_source", "header", "module_name", "parse_header"]


def cache_key(model: Model) -> str:
    """sha256 of everything the generated text depends on, and nothing else.

    The key covers the canonical game (name, shape, tensor entries, parameter *names*
    and symbol assumptions, labels; through the sha256 digest of
    :meth:`crldgen.Game.canonical`), the learner and prefactor option, the generator
    ``FORMAT``, the crldgen and sympy versions and a fingerprint of the sources of the
    symbolic layer and the generator (:mod:`.fingerprint`). It is computed by
    :func:`crldgen.runtime.keys.module_key`, which needs neither sympy nor the
    derivation: :func:`crldgen.compile` finds a cached module without deriving.

    Parameter *default values* are deliberately not part of the key: parameters are
    run-time arguments, so the module text does not contain them and one module serves
    every value (``ecological_public_good(2, f=1.5)`` and ``f=1.2`` share a file; the
    defaults travel with the :class:`~crldgen.runtime.Dynamics` object instead).
    """
    from ..runtime.keys import canonical_digest, module_key

    return module_key(canonical_digest(model.game.canonical()), model.learner.canonical())


def module_name(model: Model, key: str | None = None) -> str:
    """File stem of the module of ``model`` (see :func:`crldgen.runtime.keys.module_stem`)."""
    from ..runtime.keys import module_stem

    return module_stem(model.game.name, model.learner.kind, key or cache_key(model))


def py_literal(value) -> str:
    """A Python literal of ``value`` that is safe in generated source: every user string goes through here.

    Strings are printed with ``str.__repr__`` of an exact ``str`` copy (never a subclass's
    ``__repr__``), which escapes quotes, backslashes, newlines, NUL and every other
    non-printable character; tuples of strings element by element; only bool, int and
    str are accepted, so nothing else can smuggle text into the module.
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return str.__repr__(str.__str__(value))
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise GenerationError(f"cannot emit {type(value).__name__} {value!r:.40} into generated source")


def doc_text(value) -> str:
    """User text for the module docstring: the ``py_literal`` shown as text, escaped for a ``\"\"\"`` string.

    ``ascii()``-style escaping first (no newline, quote character sequence, NUL or unicode
    line separator survives as itself), then backslashes and double quotes are escaped
    so the docstring cannot end early or change meaning: the reader of the docstring's
    value sees exactly the ``repr`` of the name.
    """
    text = py_literal(value).encode("ascii", "backslashreplace").decode("ascii")
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _flat(shape, idx) -> int:
    k = 0
    for n, i in zip(shape, idx):
        k = k * n + i
    return k


#: outputs of Model.program that the non-Jacobian kernels print
_BASE_OUTPUTS = ("Tss", "Ris", "Tisas", "Risa", "V", "Q", "td_error", "logit_step")
#: names the generated kernels use besides the model's symbols (a game parameter must not take them)
_KERNEL_NAMES = frozenset({
    "math", "np", "numba", "_solve", "_stage1", "_stage2", "logit_step_w", "N_WORK", "w", "X", "y", "theta",
    "alpha", "beta", "gamma", "Tss", "Ris", "Tisas", "Risa", "V", "Q", "out", "y_out", "J", "range", "abs",
    "max", "min",
})
_TEMP_NAME = re.compile(r"c[so]\d+|.*_sys_[AB]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _deps(st) -> set:
    """Free symbols a statement reads."""
    if isinstance(st, LinearSolve):
        out: set = set()
        for e in list(st.A) + list(st.B):
            out |= sympy.sympify(e).free_symbols
        return out
    return sympy.sympify(st[1]).free_symbols


def _defs(st) -> list:
    """Symbols a statement defines."""
    return list(st.targets) if isinstance(st, LinearSolve) else [st[0]]


def _closure(statements, exprs) -> list:
    """The statements (in order) that ``exprs`` need, directly or through other statements."""
    needed: set = set()
    for e in exprs:
        needed |= sympy.sympify(e).free_symbols
    keep = []
    for st in reversed(statements):
        if needed.intersection(_defs(st)):
            keep.append(st)
            needed |= _deps(st)
    keep.reverse()
    return keep


def _same(st, other) -> bool:
    if isinstance(st, LinearSolve) or isinstance(other, LinearSolve):
        return (isinstance(st, LinearSolve) and isinstance(other, LinearSolve) and st.targets == other.targets
                and st.A == other.A and st.B == other.B)
    return st[0] == other[0] and sympy.sympify(st[1]) == sympy.sympify(other[1])


def _program(statements) -> Program:
    prog = Program("u")
    prog.statements = list(statements)
    return prog


class _Emitter:
    """Print the kernels of one model, sharing the expensive straight-line code.

    The model's program is derived once and cut in two stages compiled once each:
    ``_stage1(X, theta, w)`` computes everything that does not depend on the learner
    parameters (the strategy averages; under partial observability also ``Ps`` and the
    beliefs) and ``_stage2(X, theta, alpha, beta, gamma, w)`` the rest (inverse, values
    ``V``, ``Q``). Both store the quantities later code reads into a scratch array ``w``
    of ``N_WORK`` entries; the public kernels call the stages and print only their own
    outputs. The Jacobian reuses every statement of the stages that its own program
    repeats verbatim. numba spends about a millisecond per arithmetic operation (typing
    and lowering), so compiling the averages once instead of once per kernel is what
    keeps cold compiles short; the numbers are those of the model's program either way
    (the same statements, common subexpressions eliminated per function).
    """

    def __init__(self, model: Model) -> None:
        m = self.model = model
        self.X_syms = list(m._X.flat)
        self.y_syms = list(m._y.flat)
        self.learner_syms = set(m.alpha) | set(m.beta) | set(m.gamma)
        self.inputs = set(self.X_syms) | set(self.y_syms) | set(m.theta) | self.learner_syms
        base = set(_BASE_OUTPUTS) | (set() if model.game.fully_observed else {"Ps"})
        prog, self.res = m.program(base)
        jprog, jres = m.program({"jacobian"})
        self.res["jacobian"] = jres["jacobian"]
        self.statement_names = {d.name for st in prog.statements + jprog.statements for d in _defs(st)}
        base_exprs = [e for k in base for e in np.asarray(self.res[k], dtype=object).flat]
        needed = _closure(prog.statements, base_exprs)
        # stage 1: statements that do not depend (transitively) on alpha, beta, gamma
        tainted = set(self.learner_syms)
        self.stage1, self.stage2 = [], []
        for st in needed:
            if _deps(st) & tainted:
                self.stage2.append(st)
                tainted.update(_defs(st))
            else:
                self.stage1.append(st)
        stage_of = {d: 1 for st in self.stage1 for d in _defs(st)}
        stage_of.update({d: 2 for st in self.stage2 for d in _defs(st)})
        base_def = {d: st for st in needed for d in _defs(st)}
        # the Jacobian: statements identical to a stage statement are read from w
        reused: set = set()
        own = []
        for st in jprog.statements:
            defs = _defs(st)
            if (all(d in base_def and _same(st, base_def[d]) for d in defs)
                    and all(d in self.inputs or d in reused for d in _deps(st))):
                reused.update(defs)
            else:
                own.append(st)
        jac_exprs = list(np.asarray(self.res["jacobian"], dtype=object).flat)
        self.jac_own = _closure(own, jac_exprs)
        # what later code reads from each stage
        refs: set = set()
        for st in self.stage2 + self.jac_own:
            refs |= _deps(st)
        for e in base_exprs + jac_exprs:
            refs |= sympy.sympify(e).free_symbols
        self.exports = {}
        for st in self.stage1 + self.stage2:
            for d in _defs(st):
                if d in refs:
                    self.exports[d] = len(self.exports)
        self.stage_of = stage_of
        self.n_work = len(self.exports)
        self.param_index = {sym: k for k, sym in enumerate(m.theta)}

    # ------------------------------------------------------------------ pieces
    def _loads(self, body: list[str], args: set, extra: dict | None = None) -> list[str]:
        """Load lines for the input symbols the ``body`` lines use (arrays in ``args`` only)."""
        m = self.model
        used = set(_IDENT.findall("\n".join(body)))
        lines = []
        sources = [("X", self.X_syms), ("y", self.y_syms), ("theta", list(m.theta)),
                   ("alpha", list(m.alpha)), ("beta", list(m.beta)), ("gamma", list(m.gamma))]
        for arr, syms in sources:
            if arr not in args:
                continue
            lines += [f"{sym.name} = {arr}[{k}]" for k, sym in enumerate(syms) if sym.name in used]
        if extra:
            lines += [f"{sym.name} = w[{k}]" for sym, k in sorted(extra.items(), key=lambda kv: kv[1])
                      if sym.name in used]
        return lines

    @staticmethod
    def _function(name, args, doc, body) -> str:
        text = [decorator(name), f"def {name}({', '.join(args)}):", f'    """{doc}"""']
        text += ["    " + ln for ln in (body or ["pass"])]
        return "\n".join(text) + "\n"

    def stages(self) -> list[str]:
        """The source of ``_stage1`` and ``_stage2`` (only those with statements)."""
        out = []
        for stage, statements, args, doc in (
            (1, self.stage1, ["X", "theta", "w"],
             "Stage 1 (learner-independent quantities, e.g. strategy averages) into the scratch array w."),
            (2, self.stage2, ["X", "theta", "alpha", "beta", "gamma", "w"],
             "Stage 2 (inverse, values V and Q; needs stage 1 in w) into the scratch array w."),
        ):
            if not statements:
                continue
            stores = [(f"w[{k}]", d) for d, k in self.exports.items() if self.stage_of[d] == stage]
            previous = {d: k for d, k in self.exports.items() if self.stage_of[d] < stage}
            body = program_lines(_program(statements), self.inputs | set(previous), stores)
            out.append(self._function(f"_stage{stage}", args, doc, self._loads(body, set(args), previous) + body))
        return out

    def kernel(self, name, args, doc, outputs: dict, own=(), scratch: bool = False) -> str:
        """A kernel writing ``res[key][idx]`` into argument ``outputs[key]`` (flat, row-major).

        With ``scratch`` the caller passes the work array ``w`` (the last argument) instead
        of the kernel allocating it: loops call these ``*_w`` kernels with one array.
        """
        outs = []
        for key, argname in outputs.items():
            arr = np.asarray(self.res[key], dtype=object)
            for idx in np.ndindex(arr.shape):
                outs.append((f"{argname}[{_flat(arr.shape, idx)}]", arr[idx]))
        refs: set = set()
        for st in own:
            refs |= _deps(st)
        for _, e in outs:
            refs |= sympy.sympify(e).free_symbols
        imported = {d: k for d, k in self.exports.items() if d in refs}
        n_stage = max((self.stage_of[d] for d in imported), default=0)
        body = program_lines(_program(own), self.inputs | set(imported), outs)
        calls = []
        if n_stage:
            if not scratch:
                calls.append("w = np.empty(N_WORK)")
            if self.stage1:
                calls.append("_stage1(X, theta, w)")
            if n_stage == 2 and self.stage2:
                calls.append("_stage2(X, theta, alpha, beta, gamma, w)")
        loads = self._loads(body, set(args), imported)
        return self._function(name, args, doc, calls + loads + body)

    def lanes_kernel(self) -> str | None:
        """``logit_step_lanes``: ``logit_step`` for a block of members in structure-of-arrays layout.

        Every array is flat with entry k of member b at ``k * LANES + b`` (``X``, ``y``,
        ``theta``, ``alpha``, ``beta``, ``gamma``, ``y_out``; a compile-time stride, so LLVM
        needs no run-time alias checks per row), and the body is the straight-line code of
        ``_stage1``, ``_stage2`` and ``logit_step_w`` (the same lines, so the same
        floating-point operations in the same order) inside one loop over the members
        ``b < n``, which LLVM vectorises. None when the program has a linear solve (a
        loop with pivoting that does not vectorise): the batch loops then run the
        scalar kernel per member.
        """
        m = self.model
        if any(isinstance(st, LinearSolve) for st in self.stage1 + self.stage2):
            return None
        lines: list[str] = []
        for stage, statements in ((1, self.stage1), (2, self.stage2)):
            if not statements:
                continue
            stores = [(f"w[{k}]", d) for d, k in self.exports.items() if self.stage_of[d] == stage]
            previous = {d: k for d, k in self.exports.items() if self.stage_of[d] < stage}
            body = program_lines(_program(statements), self.inputs | set(previous), stores)
            lines += [ln for ln in body if not re.match(r"w\[\d+\] = ", ln)]
        arr = np.asarray(self.res["logit_step"], dtype=object)
        outs = [(f"y_out[{_flat(arr.shape, idx) * LANES} + b__]", arr[idx]) for idx in np.ndindex(arr.shape)]
        imported = {d for d in self.exports}
        lines += program_lines(_program(()), self.inputs | imported, outs)
        if any("np." in ln or "_solve" in ln or "w[" in ln for ln in lines):
            return None
        used = set(_IDENT.findall("\n".join(lines)))
        sources = [("X", self.X_syms), ("y", self.y_syms), ("theta", list(m.theta)),
                   ("alpha", list(m.alpha)), ("beta", list(m.beta)), ("gamma", list(m.gamma))]
        loads = [f"{sym.name} = {name}[{k * LANES} + b__]" for name, syms in sources for k, sym in enumerate(syms)
                 if sym.name in used]
        doc = ("logit_step for members b__ < n__ in flat structure-of-arrays layout (entry k of member b at "
               "k * LANES + b__ of X, y, theta, alpha, beta, gamma and y_out): the lines of _stage1, _stage2 "
               "and logit_step_w in one loop over the members, which LLVM vectorises.\n\n"
               "    A C function on raw pointers (signature crldgen.runtime.lanes.STEP_SIGNATURE), so not "
               "decorated here:\n    crldgen.runtime.lanes compiles it with numba.cfunc (cached like the "
               "kernels above) and its\n    game-independent batch kernel calls it through its address.\n    ")
        sizes = [("X", "NX"), ("y", "N_FREE"), ("theta", str(max(len(m.theta), 1))), ("alpha", "N_AGENTS"),
                 ("beta", "N_AGENTS"), ("gamma", "N_AGENTS"), ("y_out", "N_FREE")]
        views = [f"{name} = numba.carray({name}__, ({size} * LANES,))" for name, size in sizes]
        text = ["def logit_step_lanes(" + ", ".join(f"{name}__" for name, _ in sizes) + ", n__):",
                f'    """{doc}"""']
        text += ["    " + ln for ln in views]
        text += ["    for b__ in range(n__):"]
        text += ["        " + ln for ln in loads + lines]
        return "\n".join(text) + "\n"

    def check_names(self) -> None:
        """Game parameter names must not collide with names the generated code uses."""
        m = self.model
        taken = _KERNEL_NAMES | self.statement_names | {s.name for s in self.X_syms + self.y_syms}
        bad = [s.name for s in m.theta if s.name in taken or _TEMP_NAME.fullmatch(s.name)]
        if bad:
            raise GenerationError(
                f"game parameter name(s) {bad} of game {m.game.name!r} collide with names the generated code "
                "uses (kernel arguments, module names, temporaries or the model's own symbols); rename them")


def _check_names(model: Model) -> None:
    bad = [s.name for s in model.theta if not (_IDENT.fullmatch(s.name) and s.name.isascii())]
    if bad:
        raise GenerationError(f"game parameter names {bad} are not Python identifiers; rename them")
    bad = [s.name for s in model.theta if "__" in s.name]
    if bad:  # b__, n__, X__, v__, cg__, ...: the generated code's own local names
        raise GenerationError(f"game parameter names {bad} contain '__', which the generated code reserves for its "
                              "own names; rename them")


def generate_source(model: Model, key: str | None = None) -> str:
    """The complete text of the generated module of ``model``."""
    _check_names(model)
    key = key or cache_key(model)
    g, m = model.game, model
    N, Z, M, Q = m.n_agents, m.n_states, m.n_actions, m.n_obs
    ragged = m.ragged
    if ragged:  # no single M or Q: ACTION_COUNTS / OBS_COUNTS and the row tables describe the layout
        M = Q = None
    em = _Emitter(model)
    em.check_names()
    XA = ["X", "theta", "alpha", "beta", "gamma"]
    over = "the observations of each agent (Q_i)" if ragged else f"the {Q} observations"
    kernels = em.stages() + [
        em.kernel("averages", ["X", "theta", "Tss", "Ris", "Tisas", "Risa"],
                  "State-based strategy averages Tss[s,s'], Ris[i,s], Tisas[i,s,a,s'], Risa[i,s,a] (flat).",
                  {"Tss": "Tss", "Ris": "Ris", "Tisas": "Tisas", "Risa": "Risa"}),
        em.kernel("values", XA + ["V", "Q"],
                  f"Values V[i,o] and Q[i,o,a] (flat, over {over}).",
                  {"V": "V", "Q": "Q"}),
        em.kernel("tderror", XA + ["out"],
                  "Strategy-average TD error delta[i,o,a] scaled by beta (crld-math section 3).",
                  {"td_error": "out"}),
        em.kernel("logit_step_w", ["X", "y"] + XA[1:] + ["y_out", "w"],
                  "logit_step with a caller-provided work array w of N_WORK entries (no allocation).",
                  {"logit_step": "y_out"}, scratch=True),
        em._function("logit_step", ["X", "y"] + XA[1:] + ["y_out"],
                     "y' = y + alpha (delta[a] - delta[M-1]) in log-ratio coordinates; X must equal softmax(y).",
                     ["w = np.empty(N_WORK)", "logit_step_w(X, y, theta, alpha, beta, gamma, y_out, w)"]),
        em.kernel("jacobian", XA + ["J"],
                  ("Jacobian dy'/dy in the N_FREE = sum_i Q_i (M_i - 1) log-ratio coordinates, row-major "
                   "J[r*N_FREE + c]." if ragged else
                   "Jacobian dy'/dy in the N*Q*(M-1) log-ratio coordinates, row-major J[r*N_FREE + c]."),
                  {"jacobian": "J"}, own=em.jac_own),
    ]
    if g.fully_observed:
        kernels.append((RAGGED_FUNCTIONS["stationary"] if ragged else FO_STATIONARY).strip("\n") + "\n")
    else:
        kernels.append(em.kernel(
            "_stationary_po", ["X", "theta", "out"], "Stationary state distribution Ps[s].", {"Ps": "out"}))
        kernels.append(
            decorator("stationary") + "\ndef stationary(X, theta, out):\n"
            '    """Stationary distribution Ps of Tss; False if not unique."""\n'
            "    _stationary_po(X, theta, out)\n"
            "    for s in range(N_STATES):\n"
            "        if not math.isfinite(out[s]):\n"
            "            return False\n"
            "    return True\n")
    consts = [
        f"KEY = {py_literal(key)}",
        f"FORMAT = {FORMAT}",
        f"CRLDGEN_VERSION = {py_literal(__version__)}",
        f"SYMPY_VERSION = {py_literal(sympy.__version__)}",
        f"GAME = {py_literal(g.name)}",
        f"LEARNER = {py_literal(m.learner.kind)}",
        f"PREFACTOR = {py_literal(bool(m.learner.prefactor))}",
        f"FULLY_OBSERVED = {py_literal(bool(g.fully_observed))}",
        f"N_AGENTS = {N}",
        f"N_STATES = {Z}",
        f"N_ACTIONS = {M}",
        f"N_OBS = {Q}",
        f"N_FREE = {m.n_free}",
        f"N_WORK = {max(em.n_work, 1)}",
        f"PARAM_NAMES = {py_literal(tuple(g.param_names))}",
        f"AGENTS = {py_literal(tuple(g.agents))}",
        f"STATES = {py_literal(tuple(g.states))}",
    ]
    if g.shared_labels:
        consts += [f"ACTIONS = {py_literal(tuple(g.actions))}",
                   f"OBSERVATIONS = {py_literal(tuple(g.observations))}"]
    else:  # per-agent labels: AGENT_ACTIONS / AGENT_OBSERVATIONS hold them
        consts += ["ACTIONS = None", "OBSERVATIONS = None"]
    if ragged or not g.shared_labels:
        consts += [f"AGENT_ACTIONS = {py_literal(tuple(tuple(a) for a in g.agent_actions))}",
                   f"AGENT_OBSERVATIONS = {py_literal(tuple(tuple(o) for o in g.agent_observations))}"]
    if ragged:
        consts += ragged_constants(m)
        doc = ragged_docstring(m)
        template = replace_functions(TEMPLATE, {k: RAGGED_FUNCTIONS[k] for k in (
            "logit_of_strategy", "strategy_step", "strategy_of_logit")})
        template = template.replace("NX = N_AGENTS * N_OBS * N_ACTIONS\n",
                                    "# NX (= sum_i Q_i M_i) and the row tables are defined with the constants\n")
        checked = replace_functions(CHECKED_TEMPLATE, {k: RAGGED_FUNCTIONS[k] for k in (
            "strategy_ok", "logit_from_logs", "checked_strategy_step")})
        lanes = lanes_source(em)
    else:
        doc = None
        template, checked, lanes = TEMPLATE, CHECKED_TEMPLATE, lanes_source(em)
    doc = doc or f'''"""Compiled CRLD simulator generated by crldgen {__version__} -- do not edit.

Game {doc_text(g.name)}: N={N} agents, Z={Z} states, M={M} actions, Q={Q} observations;
learner {doc_text(m.learner.kind)}, prefactor {bool(m.learner.prefactor)}.

Array orderings (all flat float64):
  X[(i*{Q} + o)*{M} + a]          strategies, agent i, observation o, action a
  y[(i*{Q} + o)*{M - 1} + a]          log-ratios ln(X[a]/X[{M - 1}]), a < {M - 1}
  theta[k]                      game parameters {doc_text(tuple(g.param_names))}
  alpha[i], beta[i], gamma[i]   learner parameters, one per agent
  Tss[s*{Z} + s'], Ris[i*{Z} + s], Tisas[((i*{Z} + s)*{M} + a)*{Z} + s'], Risa[(i*{Z} + s)*{M} + a]
  V[i*{Q} + o], Q[(i*{Q} + o)*{M} + a], J[r*N_FREE + c]
"""'''
    body = "\n".join([
        doc,
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        "# Kernels are compiled on their first call and cached beside this file, without the C-callable",
        "# wrapper numba builds by default (no_cfunc_wrapper; crldgen never calls one). The _-prefixed",
        "# helpers are called only from other kernels: no Python entry point either (no_cpython_wrapper).",
        "\n".join(consts),
        "",
        "",
        "\n\n".join(kernels),
        template,
        checked,
        lanes,
        ROWS_TEMPLATE,
        "",
        game_tensor_source(model),
    ])
    return header(key, body) + body


def ragged_constants(model: Model) -> list[str]:
    """Module constants of a heterogeneous game: counts, the row tables of its flat layout, sizes."""
    lay, Z = model.layout, model.n_states
    return [
        "RAGGED = True",
        f"ACTION_COUNTS = {py_literal(tuple(lay.action_counts))}",
        f"OBS_COUNTS = {py_literal(tuple(lay.observation_counts))}",
        "#: rows r = (agent, observation), agent-major: X[ROW_X[r] + a] (a < ROW_M[r]), y[ROW_Y[r] + a] (a < ROW_M[r]-1)",
        f"N_ROWS = {lay.n_rows}",
        f"ROW_AGENT = {_int_array(lay.row_agent)}",
        f"ROW_OBS = {_int_array(lay.row_obs)}",
        f"ROW_M = {_int_array(lay.row_m)}",
        f"ROW_X = {_int_array(lay.row_x)}",
        f"ROW_Y = {_int_array(lay.row_y)}",
        f"X_OFFSETS = {py_literal(tuple(lay.x_offsets))}",
        f"Y_OFFSETS = {py_literal(tuple(lay.y_offsets))}",
        f"NX = {lay.n_strategy}",
        f"N_STRATEGY = {lay.n_strategy}",
        f"N_TISAS = {sum(Z * m * Z for m in lay.action_counts)}",
        f"N_RISA = {sum(Z * m for m in lay.action_counts)}",
        f"OBS_COUNTS_ARR = {_int_array(lay.observation_counts)}",
    ]


def ragged_docstring(model: Model) -> str:
    """The module docstring of a heterogeneous game: the flat layout, agent by agent."""
    g, m, lay = model.game, model, model.layout
    N, Z = m.n_agents, m.n_states
    Mc, Qc = lay.action_counts, lay.observation_counts
    po = "" if g.fully_observed else f", Q_i={Qc} observations"
    lines = [
        f'"""Compiled CRLD simulator generated by crldgen {__version__} -- do not edit.',
        "",
        f"Game {doc_text(g.name)} (heterogeneous agents): N={N} agents, Z={Z} states, M_i={Mc} actions{po};",
        f"learner {doc_text(m.learner.kind)}, prefactor {bool(m.learner.prefactor)}.",
        "",
        "Array orderings (all flat float64, agent-major, each agent's block in C order; see crldgen.ragged):",
        f"  X  ({lay.n_strategy} = sum_i Q_i M_i)      X[X_OFFSETS[i] + o*M_i + a]      agent i, observation o, "
        "action a < M_i",
        f"  y  ({lay.n_free} = sum_i Q_i (M_i-1))  y[Y_OFFSETS[i] + o*(M_i-1) + a]  log-ratios ln(X[a]/X[M_i-1])",
        "  rows r = (ROW_AGENT[r], ROW_OBS[r]): X[ROW_X[r] + a], y[ROW_Y[r] + a], ROW_M[r] actions",
        f"  theta[k]                      game parameters {doc_text(tuple(g.param_names))}",
        "  alpha[i], beta[i], gamma[i]   learner parameters, one per agent",
        f"  Tss[s*{Z} + s'], Ris[i*{Z} + s]",
        "  Tisas[TO_i + (s*M_i + a)*Z + s'], TO_i = sum_{j<i} Z*M_j*Z;  Risa[RO_i + s*M_i + a], RO_i = sum_{j<i} Z*M_j",
        "  V[VO_i + o], VO_i = sum_{j<i} Q_j (row order);  Q[X_OFFSETS[i] + o*M_i + a];  J[r*N_FREE + c]",
        "  O (game_tensors, check_game): concatenation of O_i.ravel(), O_i of shape O_SHAPES[i] = (Z, Q_i)",
        "",
        "Per-agent blocks:",
    ]
    to = ro = vo = oo = 0
    for i in range(N):
        lines.append(f"  agent {i} ({doc_text(g.agents[i])}): M={Mc[i]}, Q={Qc[i]}; X[{lay.x_offsets[i]}:"
                     f"{lay.x_offsets[i] + Qc[i] * Mc[i]}], y[{lay.y_offsets[i]}:"
                     f"{lay.y_offsets[i] + Qc[i] * (Mc[i] - 1)}], V[{vo}:{vo + Qc[i]}], Tisas[{to}:"
                     f"{to + Z * Mc[i] * Z}], Risa[{ro}:{ro + Z * Mc[i]}], O[{oo}:{oo + Z * Qc[i]}]")
        to += Z * Mc[i] * Z
        ro += Z * Mc[i]
        vo += Qc[i]
        oo += Z * Qc[i]
    lines.append('"""')
    return "\n".join(lines)


def lanes_source(em: _Emitter) -> str:
    """The step of the vectorised batch kernel (``logit_step_lanes``, see ``crldgen.runtime.lanes``), or ""."""
    step = em.lanes_kernel()
    if step is None:
        return ""
    return LANES_TEMPLATE.replace("@LANES@", str(LANES)) + "\n\n" + step


def header(key: str, body: str) -> str:
    """The first lines of a module: key, format and the sha256 of the body that follows."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    return (
        "# crldgen generated module\n"
        f"# crldgen-key: {key}\n"
        f"# crldgen-format: {FORMAT}\n"
        f"# crldgen-version: {__version__}\n"
        f"# crldgen-body-sha256: {digest}\n"
        "# (the loader checks these lines; a file that does not match is regenerated)\n"
    )



# ------------------------------------------------------------- game tensors at run time
#: local names of the game-tensor kernels; "__" never occurs in a parameter or temporary name
_GT_VALUES, _GT_TEMP = "v__", "cg__"


def _value_table(entries) -> tuple[list[float], list, list[int]]:
    """``(constants, expressions, index)``: every entry is ``values[index[k]]``, where
    ``values`` is the constants followed by the (deduplicated) symbolic expressions."""
    consts: dict[float, int] = {}
    exprs: dict = {}
    slots = []
    for e in entries:
        if not e.free_symbols:
            v = float(e)
            slots.append(("c", consts.setdefault(v, len(consts))))
        else:
            slots.append(("e", exprs.setdefault(e, len(exprs))))
    n_const = len(consts)
    index = [k if kind == "c" else n_const + k for kind, k in slots]
    return list(consts), list(exprs), index


def _int_array(values) -> str:
    return f"np.array({list(values)!r}, dtype=np.int64)" if values else "np.zeros(0, dtype=np.int64)"


def _float_array(values) -> str:
    return f"np.array([{', '.join(repr(float(v)) for v in values)}])" if values else "np.zeros(0)"


def game_tensor_source(model: Model) -> str:
    """Kernels that evaluate the game tensors at run-time parameters (``theta``).

    ``game_tensors(theta, T, R, O)`` writes T, R and O (flat, in the layout of
    :class:`~crldgen.game.Game`: ``T[s, a0..aN-1, s']``, ``R[i, s, a0.., s']``,
    ``O[i, s, o]``; the identity when fully observed) and ``check_game(theta,
    entry_atol, row_atol)`` checks that T and O hold probabilities (entries in
    ``[-entry_atol, 1 + entry_atol]``, rows summing to 1 within ``row_atol``), returning
    ``(code, flat index, value)``: code 0 (valid), ``GT_T_ENTRY``, ``GT_T_ROW``,
    ``GT_O_ENTRY``, ``GT_O_ROW`` (index of the first offending entry or row in C
    order; value the entry or the row sum; non-finite entries count as out of range).
    Every distinct symbolic entry is computed once (common subexpressions shared);
    numeric entries are tables, so the kernels stay small for large games.
    """
    g = model.game
    theta = list(model.theta)
    T = list(g.T.flat)
    R = list(g.R.flat)
    if isinstance(g.O, tuple):  # per-agent (Z, Q_i) arrays: flat is the concatenation of every O_i
        O = [e for Oi in g.O for e in Oi.flat]  # noqa: E741 - paper notation
    else:
        O = list(g.O.flat) if g.O is not None else None  # noqa: E741 - paper notation
    prob_entries = T + (O if O is not None else [])
    p_const, p_expr, p_index = _value_table(prob_entries)
    r_const, r_expr, r_index = _value_table(R)
    nT = len(T)
    t_index, o_index = p_index[:nT], p_index[nT:]
    ragged = not g.uniform
    if ragged:
        o_shapes = tuple((g.n_states, q) for q in g.observation_counts)
        o_shape = (sum(z * q for z, q in o_shapes),)
    else:
        o_shape = tuple(g.O.shape) if g.O is not None else (g.n_agents, g.n_states, g.n_states)

    def values_kernel(name, consts, exprs, doc):
        body = [f"for k__ in range({len(consts)}):", f"    {_GT_VALUES}[k__] = {name.upper()}_CONSTS[k__]"] \
            if consts else []
        if exprs:
            reps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols(_GT_TEMP), order="none")
            lines = [f"{s.name} = {expr_code(e)}" for s, e in reps]
            lines += [f"{_GT_VALUES}[{len(consts) + j}] = {expr_code(e)}" for j, e in enumerate(reduced)]
            used = set(_IDENT.findall("\n".join(lines)))
            body += [f"{sym.name} = theta[{k}]" for k, sym in enumerate(theta) if sym.name in used] + lines
        text = [decorator(name), f"def {name}(theta, {_GT_VALUES}):", f'    """{doc}"""']
        text += ["    " + ln for ln in (body or ["pass"])]
        return "\n".join(text) + "\n"

    consts = [
        f"T_SHAPE = {tuple(g.T.shape)!r}",
        f"R_SHAPE = {tuple(g.R.shape)!r}",
        f"O_SHAPE = {o_shape!r}",
    ] + ([f"O_SHAPES = {o_shapes!r}"] if ragged else []) + [
        f"N_PROB_VALUES = {max(len(p_const) + len(p_expr), 1)}",
        f"N_REWARD_VALUES = {max(len(r_const) + len(r_expr), 1)}",
        f"_PROB_CONSTS = {_float_array(p_const)}",
        f"_REWARD_CONSTS = {_float_array(r_const)}",
        f"_T_INDEX = {_int_array(t_index)}",
        f"_O_INDEX = {_int_array(o_index)}",
        f"_R_INDEX = {_int_array(r_index)}",
        "#: check_game codes",
        "GT_OK, GT_T_ENTRY, GT_T_ROW, GT_O_ENTRY, GT_O_ROW = 0, 1, 2, 3, 4",
    ]
    parts = [
        "\n".join(consts) + "\n",
        values_kernel("_prob", p_const, p_expr, "Distinct values of the T (and O) entries at theta."),
        values_kernel("_reward", r_const, r_expr, "Distinct values of the R entries at theta."),
        (replace_functions(GAME_TENSORS_TEMPLATE, {"check_game": RAGGED_FUNCTIONS["check_game"]}) if ragged
         else GAME_TENSORS_TEMPLATE).strip("\n") + "\n",
    ]
    return "\n\n".join(parts)
