"""Generate the source text of a per-game module of numba kernels (text only, no compiling).

Module layout (the same public names in every module): header comment with key and
orderings, constants, game kernels (``averages``, ``values``, ``tderror``,
``logit_step``, ``jacobian``, ``stationary``), then the game-independent template
(``strategy_step``, ``trajectory``, ``trajectories``, ...).

Kernel arguments are flat float64 arrays: ``X[(i*Q + o)*M + a]``, ``y[(i*Q + o)*(M-1) + a]``,
``theta`` (game parameters in ``PARAM_NAMES`` order), ``alpha``, ``beta``, ``gamma``
(one value per agent); outputs go into preallocated arrays.
"""

from __future__ import annotations

import hashlib
import re

import sympy

from .._version import __version__
from ..errors import GenerationError
from ..runtime.loader import FORMAT, HEADER_LINES, split_header
from ..symbolic.model import Model
from .printer import KernelPrinter, program_lines
from .template import FO_STATIONARY, TEMPLATE

__all__ = ["FORMAT", "HEADER_LINES", "cache_key", "generate_source", "header", "module_name", "parse_header"]


def cache_key(model: Model) -> str:
    """sha256 of everything the generated text depends on, and nothing else.

    The key covers the canonical game (name, shape, tensor entries, parameter *names*
    and symbol assumptions, labels), the learner and prefactor option, the generator
    ``FORMAT``, the crldgen and sympy versions and a fingerprint of the sources of the
    symbolic layer and the generator (:mod:`.fingerprint`).

    Parameter *default values* are deliberately not part of the key: parameters are
    run-time arguments, so the module text does not contain them and one module serves
    every value (``ecological_public_good(2, f=1.5)`` and ``f=1.2`` share a file; the
    defaults travel with the :class:`~crldgen.runtime.Dynamics` object instead).
    """
    from .fingerprint import source_fingerprint

    text = "\n".join([model.canonical(), f"format={FORMAT}", f"crldgen={__version__}",
                      f"sympy={sympy.__version__}", f"source={source_fingerprint()}"])
    return hashlib.sha256(text.encode()).hexdigest()


def module_name(model: Model, key: str | None = None) -> str:
    key = key or cache_key(model)
    slug = re.sub(r"[^0-9a-zA-Z_]", "_", model.game.name).strip("_").lower() or "game"
    return f"{slug}_{model.learner.kind}_{key[:12]}"


def _flat(shape, idx) -> int:
    k = 0
    for n, i in zip(shape, idx):
        k = k * n + i
    return k


class _Emitter:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.printer = KernelPrinter()
        m = model
        self.inputs = set(m._X.flat) | set(m._y.flat) | set(m.theta) | set(m.alpha) | set(m.beta) | set(m.gamma)

    def loads(self, with_y: bool, with_learner: bool) -> list[str]:
        m = self.model
        lines = [f"{sym.name} = X[{k}]" for k, sym in enumerate(m._X.flat)]
        if with_y:
            lines += [f"{sym.name} = y[{k}]" for k, sym in enumerate(m._y.flat)]
        lines += [f"{sym.name} = theta[{k}]" for k, sym in enumerate(m.theta)]
        if with_learner:
            for name, syms in (("alpha", m.alpha), ("beta", m.beta), ("gamma", m.gamma)):
                lines += [f"{s.name} = {name}[{i}]" for i, s in enumerate(syms)]
        return lines

    def kernel(self, name, args, doc, outputs: dict, arrays: dict, with_y=False, with_learner=True) -> str:
        """A kernel writing ``arrays[name][idx]`` into output argument ``outputs[name]``."""
        prog, res = self.model.program(set(arrays))
        outs = []
        for key, argname in outputs.items():
            arr = res[key]
            for idx in sorted(_indices(arr)):
                outs.append((f"{argname}[{_flat(arr.shape, idx)}]", arr[idx]))
        body = self.loads(with_y, with_learner) + program_lines(prog, self.inputs, outs)
        text = [
            "@numba.njit(cache=True)",
            f"def {name}({', '.join(args)}):",
            f'    """{doc}"""',
        ]
        text += ["    " + ln for ln in body]
        return "\n".join(text) + "\n"


def _indices(arr):
    import numpy as np

    return [tuple(int(i) for i in idx) for idx in np.ndindex(arr.shape)]


def _check_names(model: Model) -> None:
    bad = [s.name for s in model.theta if not s.name.isidentifier()]
    if bad:
        raise GenerationError(f"game parameter names {bad} are not Python identifiers; rename them")


def generate_source(model: Model, key: str | None = None) -> str:
    """The complete text of the generated module of ``model``."""
    _check_names(model)
    key = key or cache_key(model)
    g, m = model.game, model
    N, Z, M, Q = m.n_agents, m.n_states, m.n_actions, m.n_obs
    em = _Emitter(model)
    XA = "X, theta, alpha, beta, gamma"
    kernels = [
        em.kernel("averages", ["X", "theta", "Tss", "Ris", "Tisas", "Risa"],
                  "State-based strategy averages Tss[s,s'], Ris[i,s], Tisas[i,s,a,s'], Risa[i,s,a] (flat).",
                  {"Tss": "Tss", "Ris": "Ris", "Tisas": "Tisas", "Risa": "Risa"},
                  {"Tss": 1, "Ris": 1, "Tisas": 1, "Risa": 1}, with_learner=False),
        em.kernel("values", XA.split(", ") + ["V", "Q"],
                  f"Values V[i,o] and Q[i,o,a] (flat, over the {Q} observations).",
                  {"V": "V", "Q": "Q"}, {"V": 1, "Q": 1}),
        em.kernel("tderror", XA.split(", ") + ["out"],
                  "Strategy-average TD error delta[i,o,a] scaled by beta (crld-math section 3).",
                  {"td_error": "out"}, {"td_error": 1}),
        em.kernel("logit_step", ["X", "y"] + XA.split(", ")[1:] + ["y_out"],
                  "y' = y + alpha (delta[a] - delta[M-1]) in log-ratio coordinates; X must equal softmax(y).",
                  {"logit_step": "y_out"}, {"logit_step": 1}, with_y=True),
        em.kernel("jacobian", XA.split(", ") + ["J"],
                  "Jacobian dy'/dy in the N*Q*(M-1) log-ratio coordinates, row-major J[r*N_FREE + c].",
                  {"jacobian": "J"}, {"jacobian": 1}),
    ]
    if g.fully_observed:
        kernels.append(FO_STATIONARY.strip("\n") + "\n")
    else:
        kernels.append(em.kernel(
            "_stationary_po", ["X", "theta", "out"], "Stationary state distribution Ps[s].",
            {"Ps": "out"}, {"Ps": 1}, with_learner=False))
        kernels.append(
            "@numba.njit(cache=True)\ndef stationary(X, theta, out):\n"
            '    """Stationary distribution Ps of Tss; False if not unique."""\n'
            "    _stationary_po(X, theta, out)\n"
            "    for s in range(N_STATES):\n"
            "        if not math.isfinite(out[s]):\n"
            "            return False\n"
            "    return True\n")
    consts = [
        f"KEY = {key!r}",
        f"FORMAT = {FORMAT}",
        f"CRLDGEN_VERSION = {__version__!r}",
        f"SYMPY_VERSION = {sympy.__version__!r}",
        f"GAME = {g.name!r}",
        f"LEARNER = {m.learner.kind!r}",
        f"PREFACTOR = {m.learner.prefactor!r}",
        f"FULLY_OBSERVED = {g.fully_observed!r}",
        f"N_AGENTS = {N}",
        f"N_STATES = {Z}",
        f"N_ACTIONS = {M}",
        f"N_OBS = {Q}",
        f"N_FREE = {m.n_free}",
        f"PARAM_NAMES = {tuple(g.param_names)!r}",
        f"AGENTS = {g.agents!r}",
        f"STATES = {g.states!r}",
        f"ACTIONS = {g.actions!r}",
        f"OBSERVATIONS = {g.observations!r}",
    ]
    doc = f'''"""Compiled CRLD simulator generated by crldgen {__version__} -- do not edit.

Game {g.name!r}: N={N} agents, Z={Z} states, M={M} actions, Q={Q} observations;
learner {m.learner.kind!r}, prefactor {m.learner.prefactor}.

Array orderings (all flat float64):
  X[(i*{Q} + o)*{M} + a]          strategies, agent i, observation o, action a
  y[(i*{Q} + o)*{M - 1} + a]          log-ratios ln(X[a]/X[{M - 1}]), a < {M - 1}
  theta[k]                      game parameters {tuple(g.param_names)}
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
        "\n".join(consts),
        "",
        "",
        "\n\n".join(kernels),
        TEMPLATE,
    ])
    return header(key, body) + body


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


def parse_header(text: str) -> dict:
    """``{'key', 'format', 'version', 'body-sha256', 'body_ok'}`` read from a module's text."""
    info, body = split_header(text)
    info["body_ok"] = hashlib.sha256(body.encode()).hexdigest() == info.get("body-sha256")
    return info
