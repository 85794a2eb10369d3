"""Symbolic value-space CRLD (crld-math.md section 10): sympy only.

The state is the agents' estimates ``q[i, o, a]`` (symbols ``q_i_o_a``); the strategy
is ``x = pi(q)``; one step is ``q' = q + alpha_i delta`` with

    delta[i,o,a] = p_i Rx[i,o,a] + gamma_i sum_o' Tx[i,o,a,o'] NV[i,o'] - q[i,o,a]

and the next value ``NV`` the strategy-average value ``v_x`` (value SARSA, pyCRLD's
``valSARSA``), ``sum_b x q`` (expected SARSA), ``max_b q`` (Q-learning) or ``max_b q_x``
(strategy-space Q-learning, see :mod:`crldgen.value.dynamics`). The averages
``Rx, Tx`` (and the value symbols ``V`` with their Bellman equations) are those of the
strategy-space model :func:`crldgen.derive`, in terms of the strategy symbols ``X``;
:meth:`ValueModel.td_error_of_values` substitutes the softmax ``X = pi(q)`` (and the
closed-form values) to give expressions in ``q`` alone, and
:meth:`ValueModel.jacobian` differentiates them (softmax only: the epsilon-greedy
policy is piecewise constant, the max of Q-learning is differentiated as sympy's
``Max``, i.e. valid away from ties).

The numeric counterpart (compiled, game independent) is :mod:`crldgen.value`.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from ..errors import ParameterError
from .latex import _tex_label, symbol_names
from .model import _sym_array, derive, to_array

_LEARNERS = {"sarsa": "sarsa", "value_sarsa": "sarsa", "expected_sarsa": "expected_sarsa",
             "q_learning": "q_learning", "q-learning": "q_learning", "qlearning": "q_learning",
             "strategy_q_learning": "strategy_q_learning"}
_POLICIES = {"softmax": "softmax", "epsilon_greedy": "epsilon_greedy", "epsilon-greedy": "epsilon_greedy",
             "eps_greedy": "epsilon_greedy"}

POLICY_TEX = {
    "softmax": r"x^i(s, a) &= \frac{\exp\left[\beta^i q^i(s, a)\right]}{\sum_b \exp\left[\beta^i q^i(s, b)\right]}",
    "epsilon_greedy": (r"x^i(s, a) &= (1 - \epsilon^i) \frac{[a \in A^i(s)]}{|A^i(s)|} + \frac{\epsilon^i}{M}, "
                       r"\quad A^i(s) = \arg\max_b q^i(s, b)"),
}
NEXT_TEX = {
    "sarsa": r"v^i_{\mathbf{x}}(s')",
    "expected_sarsa": r"\sum_b x^i(s', b)\, q^i(s', b)",
    "q_learning": r"\max_b q^i(s', b)",
    "strategy_q_learning": r"\max_b q^i_{\mathbf{x}}(s', b)",
}
GENERAL = r"""\begin{align*}
%(policy)s \\
T^i_{\mathbf{x}}(s, a, s') &= \sum_{a^{-i}} \prod_{j \neq i} x^j(s, a^j)\, T(s, (a, a^{-i}), s') \\
R^i_{\mathbf{x}}(s, a) &= \sum_{a^{-i}} \prod_{j \neq i} x^j(s, a^j) \sum_{s'} T(s, (a, a^{-i}), s')\, R^i(s, (a, a^{-i}), s') \\
%(values)s\delta^i(s, a) &= p^i R^i_{\mathbf{x}}(s, a) + \gamma^i \sum_{s'} T^i_{\mathbf{x}}(s, a, s')\, %(next)s - q^i(s, a) \\
q^i_{t+1}(s, a) &= q^i_t(s, a) + \alpha^i \delta^i(s, a)
\end{align*}"""
VALUES_TEX = (r"\mathbf{v}^i_{\mathbf{x}} &= p^i \left(\mathbb{1}_Z - \gamma^i \mathbf{T}_{\mathbf{x}}\right)^{-1} "
              r"\mathbf{R}^i_{\mathbf{x}} \\" "\n")
QX_TEX = (r"q^i_{\mathbf{x}}(s, a) &= p^i R^i_{\mathbf{x}}(s, a) + \gamma^i \sum_{s'} T^i_{\mathbf{x}}(s, a, s')\, "
          r"v^i_{\mathbf{x}}(s') \\" "\n")


class ValueModel:
    """Symbolic value-space CRLD of ``game`` (see the module docstring).

    Attributes
    ----------
    game, learner ('sarsa' | 'expected_sarsa' | 'q_learning'), policy ('softmax' | 'epsilon_greedy')
    strategy_model : the strategy-space :class:`~crldgen.Model` supplying the averages
    q : estimate symbols ``q[i, o, a]``;  X : strategy symbols;  V : value symbols
    alpha, beta, epsilon, gamma : per-agent symbols;  pre : prefactors
    policy_map : ``{X symbol: pi(q)}`` (softmax; None for epsilon-greedy)
    next_values : ``NV[i, o]``;  td_error, update : in terms of X, V, q and the game parameters
    """

    def __init__(self, game, learner: str = "sarsa", policy: str = "softmax", prefactor: bool = True) -> None:
        try:
            self.learner = _LEARNERS[str(learner).lower()]
        except KeyError:
            raise ParameterError(f"unknown value-space learner {learner!r}; choose one of "
                                 f"{sorted(set(_LEARNERS.values()))}") from None
        try:
            self.policy = _POLICIES[str(policy).lower()]
        except KeyError:
            raise ParameterError(f"unknown policy {policy!r}; choose 'softmax' or 'epsilon_greedy'") from None
        self.game = game
        self.prefactor = bool(prefactor)
        self.strategy_model = m = derive(game, "sarsa", prefactor)
        N, Qo, M = m.n_agents, m.n_obs, m.n_actions
        self.n_agents, self.n_states, self.n_obs, self.n_actions = N, m.n_states, Qo, M
        self._q = _sym_array((N, Qo, M), "q_{}_{}_{}", real=True)
        self.alpha, self.beta, self.gamma, self.pre = m.alpha, m.beta, m.gamma, m.pre
        self.epsilon = tuple(sympy.Symbol(f"epsilon_{i}", nonnegative=True) for i in range(N))
        self.theta = m.theta
        _, _, Ta, Ra = m._value_tensors
        X, V, q = m._X, m._V, self._q
        NV = np.empty((N, Qo), dtype=object)
        for i, o in itertools.product(range(N), range(Qo)):
            if self.learner == "sarsa":
                NV[i, o] = V[i, o]
            elif self.learner == "expected_sarsa":
                NV[i, o] = sympy.Add(*[X[i, o, b] * q[i, o, b] for b in range(M)])
            elif self.learner == "strategy_q_learning":
                NV[i, o] = sympy.Max(*[m._Q[i, o, b] for b in range(M)])
            else:
                NV[i, o] = sympy.Max(*[q[i, o, b] for b in range(M)])
        self._NV = NV
        td = np.empty((N, Qo, M), dtype=object)
        for i, o, a in itertools.product(range(N), range(Qo), range(M)):
            td[i, o, a] = (self.pre[i] * Ra[i, o, a]
                           + self.gamma[i] * sympy.Add(*[Ta[i, o, a, op] * NV[i, op] for op in range(Qo)])
                           - q[i, o, a])
        self._td = td
        self._update = np.array([[[q[i, o, a] + self.alpha[i] * td[i, o, a] for a in range(M)]
                                  for o in range(Qo)] for i in range(N)], dtype=object)

    # ------------------------------------------------------------ attributes
    q = property(lambda self: to_array(self._q), doc="estimate symbols q[i, o, a]")
    X = property(lambda self: self.strategy_model.X, doc="strategy symbols X[i, o, a]")
    V = property(lambda self: self.strategy_model.V, doc="value symbols V[i, o] (see value_equations)")
    next_values = property(lambda self: to_array(self._NV), doc="NV[i, o] the learner's next-state value")
    td_error = property(lambda self: to_array(self._td), doc="delta[i, o, a] in terms of X, V, q")
    update = property(lambda self: to_array(self._update), doc="q'[i, o, a] = q + alpha delta")

    @property
    def value_equations(self) -> list:
        """Bellman equations defining the value symbols ``V`` at the strategy ``X``."""
        return self.strategy_model.value_equations

    @property
    def policy_map(self) -> dict | None:
        """``{X[i,o,a]: exp(beta_i q[i,o,a]) / sum_b exp(beta_i q[i,o,b])}`` (softmax), else None."""
        if self.policy != "softmax":
            return None
        X, q = self.strategy_model._X, self._q
        out = {}
        for i, o in itertools.product(range(self.n_agents), range(self.n_obs)):
            w = [sympy.exp(self.beta[i] * q[i, o, b]) for b in range(self.n_actions)]
            tot = sympy.Add(*w)
            for a in range(self.n_actions):
                out[X[i, o, a]] = w[a] / tot
        return out

    def _smooth(self, what: str) -> None:
        if self.policy != "softmax":
            raise ParameterError(f"{what} needs a smooth policy: the epsilon-greedy policy is piecewise constant "
                                 "in q (use policy='softmax'; numerically, crldgen.value.ValueDynamics.jacobian)")

    def td_error_of_values(self, max_states: int = 3) -> sympy.ImmutableDenseNDimArray:
        """``delta`` as expressions in ``q`` (and the parameters) only: softmax substituted for X,
        closed-form values for V (small games; see :meth:`crldgen.Model.values_closed_form`)."""
        self._smooth("td_error_of_values")
        sub = {}
        if self.learner in ("sarsa", "strategy_q_learning"):
            sub.update(self.strategy_model.values_closed_form(max_states=max_states))
        pol = self.policy_map
        out = np.empty(self._td.shape, dtype=object)
        for idx in np.ndindex(self._td.shape):
            out[idx] = self._td[idx].xreplace(sub).xreplace(pol)
        return to_array(out)

    def jacobian(self, max_states: int = 3) -> sympy.Matrix:
        """``dq'/dq`` (flat C order of ``q[i, o, a]``), exact where smooth (softmax; away from max ties)."""
        d = self.td_error_of_values(max_states)
        qs = list(self._q.flat)
        rows = []
        for k, (i, o, a) in enumerate(itertools.product(range(self.n_agents), range(self.n_obs),
                                                         range(self.n_actions))):
            f = qs[k] + self.alpha[i] * d[i, o, a]
            rows.append([sympy.diff(f, v) for v in qs])
        return sympy.Matrix(rows)

    # ------------------------------------------------------------ LaTeX
    def _names(self) -> dict:
        g = self.game
        names = symbol_names(self.strategy_model)
        for i, o, a in itertools.product(range(self.n_agents), range(self.n_obs), range(self.n_actions)):
            names[self._q[i, o, a]] = (f"q^{{{_tex_label(g.agents[i])}}}_{{{_tex_label(g.observations[o])}"
                                       f"{_tex_label(g.actions[a])}}}")
        for i in range(self.n_agents):
            names[self.epsilon[i]] = rf"\epsilon^{{{_tex_label(g.agents[i])}}}"
        return names

    def latex(self, general: bool = True, specific: bool = True, max_entries: int | None = None,
              inline: bool = False) -> str:
        """The value-space update equations as LaTeX: the general form and every game-specific
        TD error (in the strategy symbols ``x``, the values ``v`` and the estimates ``q``)."""
        parts = []
        if general:
            parts.append(GENERAL % {"policy": POLICY_TEX[self.policy], "next": NEXT_TEX[self.learner],
                                    "values": {"sarsa": VALUES_TEX, "strategy_q_learning": VALUES_TEX + QX_TEX}.get(
                                        self.learner, "")})
        if specific:
            g = self.game
            lines = [r"&\text{with } " + ("p^i = 1 - \\gamma^i" if self.prefactor else "p^i = 1")]
            names = self._names()
            obs = g.observations
            for i, o, a in itertools.product(range(self.n_agents), range(self.n_obs), range(self.n_actions)):
                lhs = f"\\delta^{{{_tex_label(g.agents[i])}}}({_tex_label(obs[o])}, {_tex_label(g.actions[a])})"
                lines.append(f"{lhs} &= {sympy.latex(self._td[i, o, a], symbol_names=names)}")
            if max_entries is not None and len(lines) > max_entries + 1:
                lines = lines[: max_entries + 1] + [r"&\vdots"]
            env = "aligned" if inline else "align*"
            parts.append(f"\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}")
        return "\n\n".join(parts)

    def _repr_latex_(self) -> str:
        return "$\\displaystyle " + self.latex(general=False, max_entries=8, inline=True) + "$"

    def __repr__(self) -> str:
        return (f"ValueModel({self.game!r}, learner={self.learner!r}, policy={self.policy!r}, "
                f"prefactor={self.prefactor})")

    def compile(self, **defaults):
        """The compiled (game-independent kernels) :class:`crldgen.value.ValueDynamics`."""
        from ..value import ValueDynamics

        return ValueDynamics(self.game, self.learner, self.policy, prefactor=self.prefactor, **defaults)


def derive_value(game, learner: str = "sarsa", policy: str = "softmax", prefactor: bool = True) -> ValueModel:
    """Derive the symbolic value-space model of ``game`` (see :class:`ValueModel`)."""
    return ValueModel(game, learner, policy, prefactor)
