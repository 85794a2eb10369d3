"""Generate, write and load the numba module of an anonymous game (sympy lives here).

The module has two generated functions, ``game_T(s, k, n, theta, out)`` and
``game_R(s, a, k, n, theta, out)`` (the game's expressions after ``cse``), followed by
the fixed kernel library :mod:`crldgen.anonymous._kernels` (multinomial count sums,
values, TD errors, steps, Jacobian blocks, trajectories). Learner kind, prefactor, n
and every parameter are run-time arguments: one module per game serves SARSA and
actor-critic, every n and every parameter value. Files carry crldgen's header (key,
format, body checksum) and are written atomically; the loader checks them before import.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import sympy

from .._version import __version__
from ..errors import GameError, ParameterError
from ..codegen.printer import expr_code
from ..codegen.writer import write_atomic
from ..runtime.loader import FORMAT, HEADER_LINES, default_cache_dir, header_problem, load_module
from ..runtime.notice import before_compile
from .game import AnonymousGame
from .symbolic import MAX_MOMENT_DEGREE, _expectation, _polynomial

_KERNELS = Path(__file__).with_name("_kernels.py")
_SYMBOLIC = Path(__file__).with_name("symbolic.py")
#: version of this generator's output (part of the cache key)
ANON_FORMAT = 1


def _kernel_source() -> str:
    text = _KERNELS.read_text(encoding="utf-8")
    # drop the module docstring and imports: the generated header has them
    start = text.index("#: count vectors")
    return text[start:]


_NO_MOMENTS = '''@numba.njit(cache=True, no_cfunc_wrapper=True)
def moment_averages(x, n, theta, Tsa, Rsa):
    """Not generated (T or T*R is not a polynomial in the counts): the count sums are used."""
    return -1


@numba.njit(cache=True, no_cfunc_wrapper=True)
def moment_pair_averages(x, n, theta, Tpair, Rpair):
    return -1'''


def cache_key(game: AnonymousGame, method: str = "auto") -> str:
    """sha256 of the game's canonical text, the method, the kernel library, this generator, the moment
    derivation and the versions (so a change to any of them never leaves a stale module looking valid)."""
    if method not in ("auto", "sum", "moments"):
        raise ParameterError(f"method must be 'auto', 'sum' or 'moments', got {method!r}")
    h = hashlib.sha256()
    for part in (game.canonical(), method, _KERNELS.read_text(encoding="utf-8"),
                 Path(__file__).read_text(encoding="utf-8"), _SYMBOLIC.read_text(encoding="utf-8"),
                 str(ANON_FORMAT), str(FORMAT), __version__,
                 sympy.__version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _safe_symbols(game: AnonymousGame) -> dict:
    subs = {c: sympy.Symbol(f"kk{b}", real=True) for b, c in enumerate(game.counts)}
    subs[game.n_symbol] = sympy.Symbol("nn", real=True)
    subs.update({p: sympy.Symbol(f"th{j}", real=True) for j, p in enumerate(game.param_symbols)})
    return subs


def _block(exprs: list, targets: list[str], indent: str) -> list[str]:
    reps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("u"), order="none")
    lines = [f"{indent}{sym} = {expr_code(e)}" for sym, e in reps]
    lines += [f"{indent}{tgt} = {expr_code(e)}" for tgt, e in zip(targets, reduced)]
    return lines


def _game_functions(game: AnonymousGame) -> str:
    subs = _safe_symbols(game)
    Z, M = game.n_states, game.n_actions
    prologue = ["    nn = n"] + [f"    kk{b} = k[{b}]" for b in range(M)] + \
        [f"    th{j} = theta[{j}]" for j in range(len(game.params))]
    out = ["@numba.njit(cache=True, no_cfunc_wrapper=True)", "def game_T(s, k, n, theta, out):",
           '    """``out[s\'] = T(s, k, s\')`` for the float count vector ``k`` of n agents."""']
    out += prologue
    for s in range(Z):
        out.append(f"    {'if' if s == 0 else 'elif'} s == {s}:")
        out += _block([game.T[s, t].xreplace(subs) for t in range(Z)], [f"out[{t}]" for t in range(Z)], " " * 8)
    out += ["", "", "@numba.njit(cache=True, no_cfunc_wrapper=True)", "def game_R(s, a, k, n, theta, out):",
            '    """``out[s\'] = R(s, a, k, s\')`` (reward of an agent playing a; k includes it)."""']
    out += prologue
    for s in range(Z):
        out.append(f"    {'if' if s == 0 else 'elif'} s == {s}:")
        for a in range(M):
            out.append(f"        {'if' if a == 0 else 'elif'} a == {a}:")
            out += _block([game.R[s, a, t].xreplace(subs) for t in range(Z)], [f"out[{t}]" for t in range(Z)],
                          " " * 12)
    return "\n".join(out)


def _moment_functions(game: AnonymousGame) -> str | None:
    """Closed-form ``moment_averages`` / ``moment_pair_averages`` when T and T*R are polynomials in the counts."""
    Z, M = game.n_states, game.n_actions
    polys_T = [[_polynomial(game.T[s, t], game.counts) for t in range(Z)] for s in range(Z)]
    polys_TR = [[[_polynomial(game.T[s, t] * game.R[s, a, t], game.counts) for t in range(Z)] for a in range(M)]
                for s in range(Z)]
    if any(p is None for row in polys_T for p in row) or \
            any(p is None for blk in polys_TR for row in blk for p in row):
        return None
    subs = _safe_symbols(game)
    mm = sympy.Symbol("mm", real=True)
    xs = [sympy.Symbol(f"xb{b}", real=True) for b in range(M)]
    prologue = ["    nn = float(n)"] + [f"    th{j} = theta[{j}]" for j in range(len(game.params))]
    out = []
    for pair in (False, True):
        name = "moment_pair_averages" if pair else "moment_averages"
        args = "Tpair, Rpair" if pair else "Tsa, Rsa"
        out += ["@numba.njit(cache=True, no_cfunc_wrapper=True)", f"def {name}(x, n, theta, {args}):",
                f'    """Closed-form {"pair " if pair else ""}averages (factorial moments of the multinomial of the '
                f'{"n - 2" if pair else "n - 1"} others)."""']
        out += prologue + [f"    mm = nn - {2.0 if pair else 1.0}"]
        for s in range(Z):
            out += [f"    xb{b} = x[{s * M + b}]" for b in range(M)]
            exprs, targets = [], []
            for a in range(M):
                for c in (range(M) if pair else [None]):
                    shift = [int(b == a) + int(c is not None and b == c) for b in range(M)]
                    j = a * M + c if pair else a
                    blockT = (s * M * M if pair else s * M) + j
                    for t in range(Z):
                        exprs.append(_expectation(polys_T[s][t], shift, mm, xs).xreplace(subs))
                        targets.append(f"{'Tpair' if pair else 'Tsa'}[{blockT * Z + t}]")
                    exprs.append(sympy.Add(*[_expectation(polys_TR[s][a][t], shift, mm, xs)
                                             for t in range(Z)]).xreplace(subs))
                    targets.append(f"{'Rpair' if pair else 'Rsa'}[{blockT}]")
            out += _block(exprs, targets, "    ")
        out += ["    return 0", "", ""]
    return "\n".join(out)


def generate_source(game: AnonymousGame, key: str | None = None, method: str = "auto") -> str:
    """The text of the module of ``game`` (header, constants, game functions, kernels)."""
    key = key or cache_key(game, method)
    moments = None if method == "sum" else _moment_functions(game)
    if method == "moments" and moments is None:
        raise GameError(f"game {game.name!r}: method='moments' needs T and T*R polynomial in the counts "
                        f"(total degree <= {MAX_MOMENT_DEGREE}); use method='sum' or 'auto'")
    body = "\n".join([
        f'"""Anonymous-game CRLD module of {game.name!r} (generated by crldgen.anonymous; do not edit).',
        "",
        f"States {game.states}, actions {game.actions}, counts {game.count_names}, parameters",
        f"theta = {game.param_names}. Array layouts: see crldgen/anonymous/_kernels.py.",
        '"""',
        "",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        f"KEY = {key!r}",
        f"GAME = {game.name!r}",
        f"N_STATES = {game.n_states}",
        f"N_ACTIONS = {game.n_actions}",
        f"PARAM_NAMES = {game.param_names!r}",
        f"STATES = {game.states!r}",
        f"ACTIONS = {game.actions!r}",
        f"COUNT_NAMES = {game.count_names!r}",
        f"USE_MOMENTS = {moments is not None}",
        "",
        "",
        _game_functions(game),
        "",
        "",
        moments if moments is not None else _NO_MOMENTS,
        "",
        "",
        _kernel_source(),
    ])
    header = [f"# crldgen-key: {key}", f"# crldgen-format: {FORMAT}",
              f"# crldgen-body-sha256: {hashlib.sha256(body.encode()).hexdigest()}",
              "# crldgen-kind: anonymous", f"# crldgen-game: {game.name}", "#"]
    assert len(header) == HEADER_LINES
    return "\n".join(header) + "\n" + body


def module_path(game: AnonymousGame, cache_dir: str | os.PathLike | None = None, key: str | None = None,
                method: str = "auto") -> Path:
    key = key or cache_key(game, method)
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"{game.name}_{key[:12]}.py"


def generate(game: AnonymousGame, cache_dir: str | os.PathLike | None = None, method: str = "auto") -> Path:
    """Write the module of ``game`` (atomically; a valid file is kept) and return its path."""
    key = cache_key(game, method)
    path = module_path(game, cache_dir, key, method)
    if not (path.exists() and header_problem(path, key) is None):
        write_atomic(path, generate_source(game, key, method))
    return path


def say_before_compile(game, module, path: Path) -> None:
    """One line on stderr when numba has not compiled the module of anonymous ``game`` (at ``path``) yet."""
    kernels = [getattr(module, k) for k in ("tderror", "logit_step", "jacobian_blocks", "trajectory", "trajectories")]
    before_compile(f"anonymous:{path}", kernels,
                   f"numba compiles the kernels of the anonymous game {game.name!r} on their first calls "
                   f"(~5 s in all on 2 cores, once per game; cached beside {path.name})")


def compile(game: AnonymousGame, learner: str = "sarsa", prefactor: bool = True, *, cache_dir=None,
            n: int | None = None, method: str = "auto", alpha=0.05, beta=50.0, gamma=0.75, **game_params):
    """Generate (if needed), import and wrap the module of ``game``: an :class:`AnonymousDynamics`.

    ``n`` (default: the game's) and the parameters are defaults of the object; every
    method overrides them per call without recompiling. ``method``: ``'sum'`` evaluates
    the multinomial count sums (any T, R; cost grows like sqrt(n) once the weights are
    truncated); ``'moments'`` uses closed-form averages from the factorial moments of the
    multinomial, exact and independent of n, available when T and T*R are polynomials in
    the counts (e.g. both built-in games); ``'auto'`` (default) takes moments when possible.
    """
    from .dynamics import AnonymousDynamics

    key = cache_key(game, method)
    path = generate(game, cache_dir, method)
    module = load_module(path, key)
    say_before_compile(game, module, path)
    defaults = dict(game.params, **game_params)
    return AnonymousDynamics(module, learner=learner, prefactor=prefactor, n=game.n if n is None else n,
                             alpha=alpha, beta=beta, gamma=gamma, path=path, **defaults)
