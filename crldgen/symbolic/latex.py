"""LaTeX of the CRLD update equations: the general form and the game-specific expressions."""

from __future__ import annotations

import itertools

import sympy

GENERAL_FO = r"""\begin{align*}
T_{\mathbf{x}}(s, s') &= \sum_{\mathbf{a}} \prod_j x^j(s, a^j)\, T(s, \mathbf{a}, s') \\
R^i_{\mathbf{x}}(s) &= \sum_{\mathbf{a}} \prod_j x^j(s, a^j) \sum_{s'} T(s, \mathbf{a}, s')\, R^i(s, \mathbf{a}, s') \\
T^i_{\mathbf{x}}(s, a, s') &= \sum_{a^{-i}} \prod_{j \neq i} x^j(s, a^j)\, T(s, (a, a^{-i}), s') \\
R^i_{\mathbf{x}}(s, a) &= \sum_{a^{-i}} \prod_{j \neq i} x^j(s, a^j) \sum_{s'} T(s, (a, a^{-i}), s')\, R^i(s, (a, a^{-i}), s') \\
\mathbf{v}^i_{\mathbf{x}} &= p^i \left(\mathbb{1}_Z - \gamma^i \mathbf{T}_{\mathbf{x}}\right)^{-1} \mathbf{R}^i_{\mathbf{x}} \\
q^i_{\mathbf{x}}(s, a) &= p^i R^i_{\mathbf{x}}(s, a) + \gamma^i \sum_{s'} T^i_{\mathbf{x}}(s, a, s')\, v^i_{\mathbf{x}}(s') \\
%(td)s \\
x^i_{t+1}(s, a) &= \frac{x^i_t(s, a) \exp\left[\alpha^i \delta^i_{\mathbf{x}}(s, a)\right]}{\sum_b x^i_t(s, b) \exp\left[\alpha^i \delta^i_{\mathbf{x}}(s, b)\right]}
\end{align*}"""

TD = {
    "sarsa": r"\delta^i_{\mathbf{x}}(s, a) &= \beta^i q^i_{\mathbf{x}}(s, a) - \ln x^i(s, a)",
    "actor_critic": r"\delta^i_{\mathbf{x}}(s, a) &= \beta^i \left(q^i_{\mathbf{x}}(s, a) - v^i_{\mathbf{x}}(s)\right)",
}


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}"}


def _tex_label(label: str) -> str:
    """A label as LaTeX: plain when alphanumeric, else ``\\text{...}`` with every special character escaped."""
    if label.isascii() and label.isalnum():
        return label
    return r"\text{" + "".join(_TEX_ESCAPES.get(ch, ch) for ch in label) + "}"


def _triples(model):
    """``(agent, observation, action)`` of every strategy entry, each agent over its own ranges."""
    return list(model.layout.x_coords)


def _obs_labels(model, i):
    return model.game.agent_observations[i]


def _action_labels(model, i):
    return model.game.agent_actions[i]


def symbol_names(model) -> dict:
    """LaTeX names of the model's symbols using the game's (per-agent) labels."""
    g = model.game
    names = {}
    for i, o, a in _triples(model):
        obs, act = _obs_labels(model, i), _action_labels(model, i)
        names[model._Xr[i, o, a]] = f"x^{{{_tex_label(g.agents[i])}}}_{{{_tex_label(obs[o])}{_tex_label(act[a])}}}"
    for i in range(model.n_agents):
        obs = _obs_labels(model, i)
        for o in range(model.obs_counts[i]):
            names[model._V[i, o]] = f"v^{{{_tex_label(g.agents[i])}}}_{{{_tex_label(obs[o])}}}"
    for i in range(model.n_agents):
        ag = _tex_label(g.agents[i])
        names[model.alpha[i]] = rf"\alpha^{{{ag}}}"
        names[model.beta[i]] = rf"\beta^{{{ag}}}"
        names[model.gamma[i]] = rf"\gamma^{{{ag}}}"
    return names


def _fmt(model, expr) -> str:
    return sympy.latex(expr, symbol_names=symbol_names(model))


def model_latex(model, general: bool = True, specific: bool = True, max_entries: int | None = None,
                inline: bool = False, simplify: bool = True) -> str:
    """LaTeX of the update equations.

    Parameters
    ----------
    general : include the general CRLD equations (crld-math.md sections 2-4).
    specific : include the game-specific averages, Q and TD errors for every agent,
        state and action, as expressions in the strategy variables and parameters.
    max_entries : cap the number of game-specific lines (None: all).
    inline : return a single ``aligned`` block without the outer ``align*`` (for Jupyter);
        with ``general=False`` this is the notebook form of :func:`notebook_latex` (update
        map, TD error, the game's TD errors first, then a few average rewards).
    simplify : factor/collect each expression for readability (small games only).
    """
    if inline and not general and specific:
        return notebook_latex(model, max_entries if max_entries is not None else 6)
    parts = []
    if general:
        parts.append(GENERAL_FO % {"td": TD[model.learner.kind]})
    if specific:
        g = model.game
        lines = []
        pre = "p^i = 1 - \\gamma^i" if model.learner.prefactor else "p^i = 1"
        lines.append(r"&\text{with } " + pre)
        if model.ragged:  # per-agent index ranges
            for i in range(model.n_agents):
                ag = _tex_label(g.agents[i])
                what = "states" if g.fully_observed else "observations"
                lines.append(rf"&\text{{agent }} {ag}\text{{: }} a \in \{{0, \dots, {model.action_counts[i] - 1}\}}"
                             rf"\ (M^{{{ag}}} = {model.action_counts[i]} \text{{ actions}}),\ "
                             rf"Q^{{{ag}}} = {model.obs_counts[i]} \text{{ {what}}}")

        def tidy(e):
            if not simplify:
                return e
            from .model import expansion_is_small

            try:  # bounded: expand only what expands to a few terms ((a1+...+a6)**64 stays as it is)
                return sympy.collect(sympy.expand(e), list(model._X.flat), evaluate=True) \
                    if sympy.count_ops(e) < 400 and expansion_is_small(e) else e
            except Exception:  # pragma: no cover - readability only
                return e

        if g.fully_observed:
            for i, s, a in _triples(model):
                ag, st, ac = g.agents[i], g.states[s], _action_labels(model, i)[a]
                lhs = f"R^{{{_tex_label(ag)}}}_{{\\mathbf{{x}}}}({_tex_label(st)}, {_tex_label(ac)})"
                lines.append(f"{lhs} &= {_fmt(model, tidy(model._Risa[i, s, a]))}")
            for s, sp in itertools.product(range(model.n_states), range(model.n_states)):
                lhs = f"T_{{\\mathbf{{x}}}}({_tex_label(g.states[s])}, {_tex_label(g.states[sp])})"
                lines.append(f"{lhs} &= {_fmt(model, tidy(model._Tss[s, sp]))}")
            for i, s, a in _triples(model):
                ag, st, ac = g.agents[i], g.states[s], _action_labels(model, i)[a]
                lhs = f"\\delta^{{{_tex_label(ag)}}}_{{\\mathbf{{x}}}}({_tex_label(st)}, {_tex_label(ac)})"
                lines.append(f"{lhs} &= {_fmt(model, model._td_error[i, s, a])}")
        else:
            for i, o, a in _triples(model):
                lhs = (f"\\delta^{{{_tex_label(g.agents[i])}}}_{{\\mathbf{{x}}}}"
                       f"({_tex_label(_obs_labels(model, i)[o])}, {_tex_label(_action_labels(model, i)[a])})")
                lines.append(f"{lhs} &= {_fmt(model, model._td_error[i, o, a])}")
        if max_entries is not None and len(lines) > max_entries + 1:
            lines = lines[: max_entries + 1] + [r"&\vdots"]
        env = "aligned" if inline else "align*"
        parts.append(f"\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}")
    return "\n\n".join(parts)


def expr_latex(model, expr) -> str:
    """LaTeX of any expression of ``model`` with label-based symbol names."""
    return _fmt(model, expr)


UPDATE = (r"x^i_{t+1}(s, a) &= \frac{x^i_t(s, a) \exp\left[\alpha^i \delta^i_{\mathbf{x}}(s, a)\right]}"
          r"{\sum_b x^i_t(s, b) \exp\left[\alpha^i \delta^i_{\mathbf{x}}(s, b)\right]}")


def notebook_latex(model, max_entries: int = 6) -> str:
    """Compact LaTeX for notebooks: the update map, the TD error, and the game's TD errors.

    One ``aligned`` block: the softmax update map and the learner's TD error (general
    form), then the strategy-average TD errors of the first ``max_entries`` (agent,
    state, action) triples in the game's labels, then (fully observed games) the first
    average rewards.
    """
    g = model.game
    lines = [UPDATE, TD[model.learner.kind],
             r"&\text{with } " + ("p^i = 1 - \\gamma^i" if model.learner.prefactor else "p^i = 1")]
    triples = _triples(model)
    for i, o, a in triples[:max_entries]:
        lhs = (f"\\delta^{{{_tex_label(g.agents[i])}}}_{{\\mathbf{{x}}}}"
               f"({_tex_label(_obs_labels(model, i)[o])}, {_tex_label(_action_labels(model, i)[a])})")
        lines.append(f"{lhs} &= {_fmt(model, model._td_error[i, o, a])}")
    if len(triples) > max_entries:
        lines.append(r"&\vdots")
    if g.fully_observed:
        for i, s, a in triples[: max(2, max_entries // 3)]:
            ag, st, ac = (_tex_label(v) for v in (g.agents[i], g.states[s], _action_labels(model, i)[a]))
            lhs = f"R^{{{ag}}}_{{\\mathbf{{x}}}}({st}, {ac})"
            lines.append(f"{lhs} &= {_fmt(model, model._Risa[i, s, a])}")
        lines.append(r"&\vdots \quad \text{(all equations: model.latex())}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
