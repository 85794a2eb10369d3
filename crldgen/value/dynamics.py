"""Value-space learning dynamics: the agents' estimates ``Q[i, o, a]`` are the state.

crld-math.md section 10. The strategy is a function of the estimates, ``X = pi(Q)``
(softmax with per-agent ``beta`` or epsilon-greedy with per-agent ``epsilon``), and one
learning step is ``Q'[i,o,a] = Q[i,o,a] + alpha_i delta[i,o,a]`` with, at ``X = pi(Q)``,

* ``'sarsa'`` (value SARSA, pyCRLD's ``valSARSA``):
  ``delta = p_i Rx[i,o,a] + gamma_i sum_o' Tx[i,o,a,o'] Vx[i,o'] - Q[i,o,a]``,
  ``Vx`` the strategy-average values of ``X`` (not the estimates);
* ``'expected_sarsa'``: the next value is ``sum_b X[i,o',b] Q[i,o',b]`` (the estimates);
* ``'q_learning'``: the next value is ``max_b Q[i,o',b]``;
* ``'strategy_q_learning'`` (Q-learning in strategy space): the next value is
  ``max_b Qx[i,o',b]``, the greedy value of the strategy-average action values of X.
  Section 10's value SARSA replaces the estimates in SARSA's next value ``sum_b X Q`` by
  their strategy averages (``Vx = sum_b X Qx``); the same substitution in Q-learning's
  ``max_b Q`` gives ``max_b Qx``. The target then depends on X only, so with softmax the
  map is closed in strategy space (the per-(agent, state) constant of Q drops out):
  ``X' ∝ X^(1 - alpha) exp(alpha beta target)``, i.e. section 4's update with
  ``delta = beta (Qx + gamma sum_o' Tx (max_b Qx - Vx)) - ln X``; its fixed points are
  ``X ∝ exp(beta (Qx + gamma Tx (max_b Qx - Vx)))``.

Under partial observability ``o`` are observations and ``Rx[i,o,a]``, ``Tx[i,o,a,o']``,
``Vx[i,o]`` are those of crld-math.md section 7 (the focal agent acts with its own
``X[i,o,:]``, as in the strategy-space code). ``alpha`` multiplies each agent's own
error (pyCRLD broadcasts ``alpha`` over the action axis instead, which agrees only
when all agents share one learning rate).

Numeric tensors at run-time parameters come from :func:`game_tensors` (one function,
one line to switch the source) and are cached per parameter set; the numba kernels in
:mod:`crldgen.value.kernels` are game independent (see its docstring for why).

Piecewise smoothness: softmax value SARSA and expected SARSA are smooth everywhere;
Q-learning is smooth away from ties of ``max_b Q[i,o',b]``, strategy-space Q-learning
away from ties of ``max_b Qx[i,o',b]``; epsilon-greedy policies are
piecewise constant in ``Q`` and jump where the argmax ties. :meth:`ValueDynamics.jacobian`
raises :class:`TieError` at such points (``one_sided=True`` returns the derivative of
the branch that picks the first maximiser instead).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .. import _hooks
from ..errors import DivergenceError, ParameterError, StrategyError
from ..iterate import Trajectories, Trajectory
from ..runtime.dynamics import Averages
from ..runtime.notice import before_compile
from . import kernels as K

#: learner names (and aliases) -> kernel codes
LEARNERS = {"sarsa": K.VALUE_SARSA, "value_sarsa": K.VALUE_SARSA, "expected_sarsa": K.EXPECTED_SARSA,
            "q_learning": K.Q_LEARNING, "q-learning": K.Q_LEARNING, "qlearning": K.Q_LEARNING,
            "strategy_q_learning": K.STRATEGY_Q_LEARNING}
LEARNER_NAMES = {K.VALUE_SARSA: "sarsa", K.EXPECTED_SARSA: "expected_sarsa", K.Q_LEARNING: "q_learning",
                 K.STRATEGY_Q_LEARNING: "strategy_q_learning"}
POLICIES = {"softmax": K.SOFTMAX, "epsilon_greedy": K.EPSILON_GREEDY, "epsilon-greedy": K.EPSILON_GREEDY,
            "eps_greedy": K.EPSILON_GREEDY}
POLICY_NAMES = {K.SOFTMAX: "softmax", K.EPSILON_GREEDY: "epsilon_greedy"}

PARAM_NAMES = ("alpha", "beta", "epsilon", "gamma")
RULES = (
    ("alpha", lambda v: (v > 0) & (v <= 1), "learning rates must lie in (0, 1]"),
    ("beta", lambda v: v > 0, "choice intensities must be > 0"),
    ("epsilon", lambda v: (v >= 0) & (v <= 1), "exploration rates must lie in [0, 1]"),
    ("gamma", lambda v: (v >= 0) & (v < 1), "discount factors must lie in [0, 1)"),
)
#: keyword names of the value-space functions that take ``**p`` overrides and are not already
#: reserved by crldgen.game: a game parameter of such a name (or ``epsilon``) could not be
#: overridden per call, so ValueDynamics refuses it (kept in sync by a test)
VALUE_OPTION_NAMES = frozenset({
    "Q0", "Q0s", "Qs", "arrows", "axes", "cmap", "colorbar", "constant", "fixed_points", "kind", "legend",
    "one_sided", "points", "tie_tol", "titles", "trajectories", "trajectory_colors", "vdyn"})
#: estimates whose two largest entries of one (agent, observation) differ by at most
#: TIE_TOL * max(1, |Q|) count as tied (the map is not smooth there)
TIE_TOL = 1e-9
_TENSOR_CACHE_SIZE = 256


class TieError(StrategyError):
    """The map is not differentiable at these estimates: a max/argmax ties."""


def game_tensors(game, **params) -> dict:
    """Numeric ``T``, ``R`` (and ``O``) of ``game`` at the defaults overridden by ``params``.

    The one place value-space code gets numbers from a game (switch the source here).
    """
    return game.numeric(**params)


# ----------------------------------------------------------------- results
@dataclass(frozen=True, eq=False, repr=False)
class ValueTrajectory(Trajectory):
    """A value-space trajectory: a :class:`crldgen.iterate.Trajectory` plus the estimates.

    ``X``, ``final`` and ``final_logit`` are the *strategies* ``pi(Q)`` (so every plot
    and helper that takes a trajectory works); ``Q`` (recorded estimates, shape
    (n_stored, N, Q, M), or None) and ``final_Q`` are the dynamical state. ``steps``,
    ``converged`` (``||Q' - Q||_2 < tol``), ``diverged``, ``every``, ``reverse`` and
    ``params`` (``alpha, beta, epsilon, gamma`` and game parameters) as there.
    """

    Q: np.ndarray | None = None
    final_Q: np.ndarray | None = None

    def __repr__(self) -> str:
        kept = "final only" if self.Q is None else f"Q {self.Q.shape}"
        return (f"ValueTrajectory(steps={self.steps}, converged={self.converged}, diverged={self.diverged}, "
                f"reverse={self.reverse}, {kept})")


@dataclass(frozen=True, eq=False, repr=False)
class ValueTrajectories(Trajectories):
    """A batch of value-space trajectories; ``result[b]`` is a :class:`ValueTrajectory`.

    Besides the :class:`crldgen.iterate.Trajectories` fields (strategies): ``Q``
    (B, n_rows, N, Q, M) NaN-padded or None, ``final_Q`` (B, N, Q, M); for sweeps also
    ``name``, ``values``, ``carry`` and ``ran``.
    """

    Q: np.ndarray | None = None
    final_Q: np.ndarray | None = None
    name: str = ""
    values: np.ndarray | None = None
    carry: bool = False
    ran: np.ndarray | None = None

    def __getitem__(self, b: int) -> ValueTrajectory:
        b = range(len(self))[b]
        n = self.n_stored[b]
        return ValueTrajectory(
            X=None if self.X is None else self.X[b, :n], final=self.final[b], final_logit=self.final_logit[b],
            steps=int(self.steps[b]), converged=bool(self.converged[b]), diverged=bool(self.diverged[b]),
            every=self.every, reverse=self.reverse, params={k: v[b] for k, v in self.params.items()},
            Q=None if self.Q is None else self.Q[b, :n], final_Q=self.final_Q[b])


# ----------------------------------------------------------------- dynamics
class ValueDynamics:
    """Compiled value-space CRLD of one game (section 10 of crld-math.md).

    Parameters
    ----------
    game : Game
    learner : {'sarsa', 'expected_sarsa', 'q_learning', 'strategy_q_learning'}
        ``'sarsa'`` is value SARSA in pyCRLD's ``valSARSA`` convention (see the module
        docstring for the others).
    policy : {'softmax', 'epsilon_greedy'}
    prefactor : bool
        Multiply rewards by ``1 - gamma_i``.
    alpha, beta, epsilon, gamma : float or one per agent
        Defaults of the learner parameters (``beta`` is used by softmax, ``epsilon`` by
        epsilon-greedy).
    **game_params
        Defaults of game parameters (else the game's defaults).

    Notes
    -----
    Every method takes ``**p`` overriding ``alpha``, ``beta``, ``epsilon``, ``gamma``
    (scalar or per agent, or ``alpha_0`` ...) and game parameters for that call.
    Estimates are arrays ``Q[i, o, a]`` of shape :attr:`shape`.
    """

    def __init__(self, game, learner: str = "sarsa", policy: str = "softmax", *, prefactor: bool = True,
                 alpha=0.05, beta=50.0, epsilon=0.1, gamma=0.75, **game_params) -> None:
        try:
            self._learner = LEARNERS[str(learner).lower()]
        except KeyError:
            raise ParameterError(f"unknown value-space learner {learner!r}; choose one of "
                                 f"{sorted(set(LEARNER_NAMES.values()))}") from None
        try:
            self._policy = POLICIES[str(policy).lower()]
        except KeyError:
            raise ParameterError(f"unknown policy {policy!r}; choose 'softmax' or 'epsilon_greedy'") from None
        clash = [n for n in game.param_names if n in VALUE_OPTION_NAMES or n in PARAM_NAMES]
        if clash:
            raise ParameterError(
                f"game {game.name!r} has a parameter named {clash[0]!r}, which value-space calls use as a learner "
                "parameter or option name (it could not be overridden per call); rename the game parameter")
        self.game = game
        self.learner = LEARNER_NAMES[self._learner]
        self.policy = POLICY_NAMES[self._policy]
        self.prefactor = bool(prefactor)
        self.n_agents, self.n_states = game.n_agents, game.n_states
        self.n_actions, self.n_obs = game.n_actions, game.n_observations
        self.fully_observed = game.fully_observed
        self.agents, self.states = game.agents, game.states
        self.actions, self.observations = game.actions, game.observations
        self.param_names = tuple(game.param_names)
        N, M = self.n_agents, self.n_actions
        self._acts = np.array(list(itertools.product(range(M), repeat=N)), dtype=np.int64).ravel()
        self._tensor_cache: dict = {}
        base = {n: np.full(N, v) for n, v in zip(PARAM_NAMES, (0.05, 50.0, 0.1, 0.75))}
        base["theta"] = dict(game.params)
        self._defaults = self._resolve(base, dict(alpha=alpha, beta=beta, epsilon=epsilon, gamma=gamma,
                                                  **game_params))
        before_compile("value", (K.policy, K.averages, K.tderror, K.jacobian, K.trajectories, K.sequential_sweep),
                       "numba compiles the value-space kernels not in its cache yet on their first calls (tderror "
                       "~6 s, trajectory ~8 s, jacobian ~4 s, sweep ~3 s on 2 cores; once per installation)")

    # ------------------------------------------------------------ parameters
    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_agents, self.n_obs, self.n_actions)

    @property
    def defaults(self) -> dict:
        a, b, e, g, th = self._defaults
        out = {"alpha": a.copy(), "beta": b.copy(), "epsilon": e.copy(), "gamma": g.copy()}
        out.update(zip(self.param_names, th.tolist()))
        return out

    def parameter_slot(self, name: str) -> tuple[str, int | None]:
        """``(learner name, None | agent)`` or ``('theta', k)`` for an override named ``name``."""
        head, _, tail = name.rpartition("_")
        if name in PARAM_NAMES:
            return name, None
        if head in PARAM_NAMES and tail.isdigit() and name not in self.param_names:
            i = int(tail)
            if i >= self.n_agents:
                raise ParameterError(f"{name}: agent index {i} out of range (N={self.n_agents})")
            return head, i
        if name in self.param_names:
            return "theta", self.param_names.index(name)
        raise ParameterError(
            f"unknown parameter {name!r}; learner parameters are alpha, beta, epsilon, gamma (or alpha_0, ...), "
            f"game parameters are {list(self.param_names)}")

    def _resolve(self, base, overrides):
        learner = {n: np.array(base[n], dtype=float) for n in PARAM_NAMES}
        theta = dict(base["theta"])
        for name, value in overrides.items():
            slot, i = self.parameter_slot(name)
            if slot == "theta":
                theta[name] = float(value)
            elif i is not None:
                learner[slot][i] = float(value)
            else:
                arr = np.asarray(value, dtype=float)
                if arr.ndim == 0:
                    learner[slot][:] = float(arr)
                elif arr.shape == (self.n_agents,):
                    learner[slot][:] = arr
                else:
                    raise ParameterError(f"{name} must be a scalar or have one value per agent (shape "
                                         f"({self.n_agents},)), got shape {arr.shape}")
        for name, ok, rule in RULES:
            arr = learner[name]
            if not np.all(np.isfinite(arr)):
                raise ParameterError(f"{name} = {arr} is not finite")
            if not np.all(ok(arr)):
                raise ParameterError(f"{name} = {arr}: {rule}")
        th = np.array([theta[n] for n in self.param_names], dtype=float)
        if not np.all(np.isfinite(th)):
            raise ParameterError(f"game parameters {dict(zip(self.param_names, th))} must be finite")
        return tuple(learner[n] for n in PARAM_NAMES) + (th,)

    def params(self, **p):
        """``(alpha, beta, epsilon, gamma, theta)``: the defaults overridden by ``p``."""
        if not p:
            return self._defaults
        a, b, e, g, th = self._defaults
        base = {"alpha": a, "beta": b, "epsilon": e, "gamma": g, "theta": dict(zip(self.param_names, th))}
        return self._resolve(base, p)

    def tensors(self, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat ``(T3[s, j, s'], TR[i, s, j], O[i, s, o])`` at game parameters ``theta`` (cached).

        ``j`` runs over joint actions in C order; ``O`` is the identity when fully observed.
        """
        key = tuple(float(v) for v in np.asarray(theta, dtype=float).ravel())
        hit = self._tensor_cache.get(key)
        if hit is not None:
            return hit
        num = game_tensors(self.game, **dict(zip(self.param_names, key)))
        N, Z = self.n_agents, self.n_states
        T = np.asarray(num["T"], dtype=float)
        R = np.asarray(num["R"], dtype=float)
        T3 = T.reshape(Z, -1, Z)
        TR = np.ascontiguousarray(np.einsum("sjt,isjt->isj", T3, R.reshape(N, Z, -1, Z)).ravel())
        T3 = np.ascontiguousarray(T3.ravel())
        O = num.get("O")
        O = np.ascontiguousarray((np.eye(Z)[None].repeat(N, 0) if O is None else np.asarray(O, dtype=float)).ravel())
        if len(self._tensor_cache) >= _TENSOR_CACHE_SIZE:
            self._tensor_cache.pop(next(iter(self._tensor_cache)))
        self._tensor_cache[key] = (T3, TR, O)
        return T3, TR, O

    def _ctx(self, p):
        a, b, e, g, th = self.params(**p)
        T3, TR, O = self.tensors(th)
        return a, b, e, g, T3, TR, O

    # ------------------------------------------------------------ validation
    def check_values(self, Q, name: str = "Q") -> np.ndarray:
        """Validate estimates (shape, finite); returns a float64 C-contiguous copy."""
        try:
            arr = np.array(Q, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
        if arr.shape != self.shape:
            raise StrategyError(f"{name} has shape {arr.shape}; expected estimates (N, "
                                f"{'Z' if self.fully_observed else 'Q'}, M) = {self.shape}")
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            raise StrategyError(f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]} is not finite")
        return np.ascontiguousarray(arr)

    def _check_strategy(self, X, name="X", interior=False) -> np.ndarray:
        try:
            arr = np.array(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
        if arr.shape != self.shape:
            raise StrategyError(f"{name} has shape {arr.shape}; expected (N, Q, M) = {self.shape}")
        bad = np.argwhere(~np.isfinite(arr) | (arr < 0) | ((arr <= 0) if interior else False))
        if len(bad):
            rule = "strictly positive (interior of the simplex)" if interior else "finite and >= 0"
            raise StrategyError(f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]:.6g} must be {rule}")
        sums = arr.sum(-1)
        bad = np.argwhere(np.abs(sums - 1) > 1e-8)
        if len(bad):
            i, o = bad[0].tolist()
            raise StrategyError(f"{name}[{i}, {o}, :] sums to {sums[i, o]:.12g}; it must sum to 1")
        return np.ascontiguousarray(arr)

    # ------------------------------------------------------------ conversions
    def strategy(self, Q, **p) -> np.ndarray:
        """The joint strategy ``pi(Q)`` (softmax or epsilon-greedy), shape (N, Q, M)."""
        Q = self.check_values(Q)
        a, b, e, g, th = self.params(**p)
        X = np.empty(Q.size)
        K.policy(Q.ravel(), b, e, self._policy, self.n_actions, X)
        return X.reshape(self.shape)

    def strategies(self, Qs, **p) -> np.ndarray:
        """``pi`` of a stack of estimates (..., N, Q, M) (NaN rows stay NaN)."""
        Qs = np.asarray(Qs, dtype=float)
        a, b, e, g, th = self.params(**p)
        return self._policies_of(Qs.reshape((-1,) + self.shape), b, e).reshape(Qs.shape)

    def values_from_strategy(self, X, constant: str = "mean", **p) -> np.ndarray:
        """Softmax estimates ``Q`` with ``pi(Q) = X``: ``ln X / beta_i + c[i, o]``.

        The constant per (agent, observation) is free (softmax ignores it):
        ``constant='mean'`` makes the estimates average to 0 over actions;
        ``constant='values'`` makes ``sum_a X Q = Vx`` (the strategy-average values of X),
        so ``Q`` equals ``Qx(X)`` exactly at softmax value-SARSA fixed points.
        """
        if self._policy != K.SOFTMAX:
            raise ParameterError("values_from_strategy needs a softmax policy: epsilon-greedy strategies do not "
                                 "determine the estimates")
        X = self._check_strategy(X, interior=True)
        a, b, e, g, th = self.params(**p)
        Q = np.log(X) / b[:, None, None]
        if constant == "mean":
            return Q - Q.mean(-1, keepdims=True)
        if constant == "values":
            V = self.averages(X, **p).V
            return Q - (X * Q).sum(-1, keepdims=True) + V[..., None]
        raise ParameterError(f"constant must be 'mean' or 'values', got {constant!r}")

    def uniform_values(self, value: float = 0.0) -> np.ndarray:
        """Equal estimates everywhere (the uniform strategy under softmax)."""
        return np.full(self.shape, float(value))

    def random_values(self, rng=None, scale: float = 1.0) -> np.ndarray:
        """Normally distributed estimates (as pyCRLD's ``random_values``), times ``scale``."""
        return scale * np.random.default_rng(rng).standard_normal(self.shape)

    # ------------------------------------------------------------ kernels
    def averages(self, X, **p) -> Averages:
        """Strategy averages and values at a strategy ``X`` (sections 2, 7): ``V = Vx``, ``Q = Qx``."""
        X = self._check_strategy(X)
        a, b, e, g, T3, TR, O = self._ctx(p)
        N, Z, M, Qo = self.n_agents, self.n_states, self.n_actions, self.n_obs
        shapes = dict(Tss=(Z, Z), Ris=(N, Z), Tisas=(N, Z, M, Z), Risa=(N, Z, M), V=(N, Qo), Q=(N, Qo, M))
        out = {k: np.empty(int(np.prod(v))) for k, v in shapes.items()}
        ok = K.averages(X.ravel(), T3, TR, O, self._acts, self.fully_observed, g, self.prefactor, Z, M,
                        out["Tss"], out["Ris"], out["Tisas"], out["Risa"], out["V"], out["Q"])
        if not ok:
            raise StrategyError(self._singular_message())
        return Averages(**{k: out[k].reshape(v) for k, v in shapes.items()})

    def _singular_message(self) -> str:
        what = "the value solve" if self.fully_observed else "the stationary distribution or the value solve"
        return (f"{what} is singular at this strategy (under partial observability: several closed classes of "
                "states, so beliefs are not defined); the TD error is not defined here")

    def tderror(self, Q, normalize: bool = False, **p) -> np.ndarray:
        """TD error ``delta[i, o, a]`` of section 10 at the estimates ``Q`` (not scaled by beta)."""
        Q = self.check_values(Q)
        a, b, e, g, T3, TR, O = self._ctx(p)
        d, X, V = np.empty(Q.size), np.empty(Q.size), np.empty(self.n_agents * self.n_obs)
        ok = K.tderror(Q.ravel(), T3, TR, O, self._acts, self.fully_observed, self._learner, self._policy, b,
                       e, g, self.prefactor, self.n_states, self.n_actions, d, X, V)
        if not ok:
            raise StrategyError(self._singular_message())
        d = d.reshape(self.shape)
        return d - d.mean(-1, keepdims=True) if normalize else d

    def step(self, Q, **p) -> np.ndarray:
        """One learning step ``Q' = Q + alpha_i delta``."""
        return self._step(Q, 1.0, p)

    def reverse_step(self, Q, **p) -> np.ndarray:
        """``Q - alpha_i delta`` (the reverse-time step)."""
        return self._step(Q, -1.0, p)

    def _step(self, Q, direction, p):
        a = self.params(**p)[0]
        return self.check_values(Q) + direction * a[:, None, None] * self.tderror(Q, **p)

    def strategy_step(self, X, **p) -> np.ndarray:
        """Softmax only: the strategy after one step from ``Q = values_from_strategy(X, 'values')``.

        For value SARSA the constant does not matter and this equals the strategy-space
        SARSA step (crld-math section 4); for the other learners the result depends on
        the chosen representative (the estimates' X-average equals ``Vx``).
        """
        Q = self.values_from_strategy(X, constant="values", **p)
        return self.strategy(self.step(Q, **p), **p)

    # ------------------------------------------------------------ smoothness
    @staticmethod
    def _tied(V, tol):
        srt = np.sort(V, axis=-1)
        gap = srt[..., -1] - srt[..., -2]
        scale = np.maximum(1.0, np.abs(srt[..., -1]))
        return [tuple(int(k) for k in idx) for idx in np.argwhere(gap <= tol * scale)]

    def ties(self, Q, tol: float = TIE_TOL) -> list[tuple[int, int]]:
        """``(agent, observation)`` pairs whose largest estimates tie (within ``tol`` relative).

        These are where ``max_b Q`` (Q-learning) and the argmax (epsilon-greedy) are not smooth.
        """
        return self._tied(self.check_values(Q), tol)

    def value_ties(self, Q, tol: float = TIE_TOL, **p) -> list[tuple[int, int]]:
        """Pairs whose largest strategy-average action values ``Qx(pi(Q))`` tie: where the max of
        ``'strategy_q_learning'`` is not smooth."""
        return self._tied(self.averages(self.strategy(Q, **p), **p).Q, tol)

    def nonsmooth(self, Q, tol: float = TIE_TOL, **p) -> dict:
        """The ties that make the map non-differentiable at ``Q``: ``{'estimates': [...], 'values': [...]}``.

        Estimate ties matter for Q-learning and epsilon-greedy policies, ties of ``Qx`` for
        strategy-space Q-learning; softmax value SARSA and expected SARSA are smooth everywhere.
        """
        est = self._learner == K.Q_LEARNING or self._policy == K.EPSILON_GREEDY
        val = self._learner == K.STRATEGY_Q_LEARNING
        return {"estimates": self.ties(Q, tol) if est else [], "values": self.value_ties(Q, tol, **p) if val else []}

    def smooth_at(self, Q, tol: float = TIE_TOL, **p) -> bool:
        """Whether the map is differentiable at ``Q`` (see :meth:`nonsmooth`)."""
        return not any(self.nonsmooth(Q, tol, **p).values())

    def flow_jacobian(self, Q, one_sided: bool = False, tie_tol: float = TIE_TOL, **p) -> np.ndarray:
        """``d delta / d Q`` (n x n, n = N*Q*M, flat C order of ``[i, o, a]``).

        Raises :class:`TieError` where the map is not smooth, unless ``one_sided`` (then
        the derivative of the branch that takes the first maximiser).
        """
        Q = self.check_values(Q)
        if not one_sided:
            bad = self.nonsmooth(Q, tie_tol, **p)
            if any(bad.values()):
                where = "state" if self.fully_observed else "observation"
                what = []
                if bad["estimates"]:
                    kind = "max_b Q (Q-learning)" if self._learner == K.Q_LEARNING else "the epsilon-greedy argmax"
                    what.append(f"{kind} ties at (agent, {where}) {bad['estimates']}")
                if bad["values"]:
                    what.append(f"max_b Qx (strategy-space Q-learning) ties at (agent, {where}) {bad['values']}")
                raise TieError("the value-space map is not differentiable at these estimates: " + "; ".join(what)
                               + "; pass one_sided=True for the derivative of one branch")
        a, b, e, g, T3, TR, O = self._ctx(p)
        n = Q.size
        Jd = np.empty(n * n)
        ok = K.jacobian(Q.ravel(), T3, TR, O, self._acts, self.fully_observed, self._learner, self._policy, b,
                        e, g, self.prefactor, self.n_states, self.n_actions, Jd)
        if not ok:
            raise StrategyError(self._singular_message())
        return Jd.reshape(n, n)

    def jacobian(self, Q, one_sided: bool = False, tie_tol: float = TIE_TOL, **p) -> np.ndarray:
        """Jacobian ``dQ'/dQ = Id + diag(alpha_i) d delta/dQ`` of the map (n x n, n = N*Q*M).

        All N*Q*M directions are genuine in value space (no normalization directions).
        For softmax value SARSA the N*Q directions ``Q[i,o,:] += c`` have eigenvalue
        ``1 - alpha_i`` (they leave the strategy unchanged); the other eigenvalues are
        those of the strategy-space SARSA Jacobian in log-ratio coordinates.
        """
        Jd = self.flow_jacobian(Q, one_sided=one_sided, tie_tol=tie_tol, **p)
        a = self.params(**p)[0]
        rows = np.repeat(a, self.n_obs * self.n_actions)
        return np.eye(len(rows)) + rows[:, None] * Jd

    # ------------------------------------------------------------ iteration
    def _logit(self, Q, X, beta):
        if self._policy == K.SOFTMAX:
            return beta[..., :, None, None] * (Q[..., :-1] - Q[..., -1:])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(X[..., :-1]) - np.log(X[..., -1:])

    def _start(self, Q0, name, batch: bool):
        if isinstance(Q0, (ValueTrajectory, ValueTrajectories)):
            Q0 = Q0.final_Q
        elif isinstance(Q0, (Trajectory, Trajectories)):
            raise StrategyError(f"{name} is a strategy-space result; pass estimates (or values_from_strategy of "
                                "its final strategy)")
        arr = np.array(Q0, dtype=float)
        if arr.shape == self.shape:
            arr = arr[None]
        elif not (batch and arr.ndim == 4 and arr.shape[1:] == self.shape):
            want = f"(N, Q, M) = {self.shape}" + (f" or (B,) + {self.shape}" if batch else "")
            raise StrategyError(f"{name} has shape {arr.shape}; expected estimates {want}")
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            raise StrategyError(f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]} is not finite")
        if arr.shape[0] == 0:
            raise StrategyError(f"{name} is an empty batch")
        return np.ascontiguousarray(arr)

    def _batch_params(self, p, n_q):
        fixed = {k: v for k, v in p.items() if np.ndim(v) == 0}
        batched = {k: np.asarray(v, dtype=float) for k, v in p.items() if np.ndim(v) > 0}
        base = self.params(**fixed)
        N = self.n_agents
        sizes = {"initial estimates": n_q} if n_q != 1 else {}
        for k, arr in batched.items():
            if arr.shape[0] == 0:
                raise ParameterError(f"{k} is an empty array; give at least one value")
            sizes[k] = arr.shape[0]
        big = {v for v in sizes.values() if v != 1}
        if len(big) > 1:
            raise ParameterError("batch axes do not broadcast: " + ", ".join(f"{k} has {v}" for k, v in sizes.items())
                                 + " members (each must have the same length B, or 1)")
        B = big.pop() if big else 1
        learner = {n: np.tile(base[k], (B, 1)) for k, n in enumerate(PARAM_NAMES)}
        Theta = np.tile(base[4], (B, 1))
        for name, arr in batched.items():
            slot, i = self.parameter_slot(name)
            if slot != "theta" and i is None:
                if arr.ndim == 1:
                    learner[slot][:] = arr[:, None]
                elif arr.ndim == 2 and arr.shape[1] == N:
                    learner[slot][:] = arr
                else:
                    raise ParameterError(f"{name} has shape {arr.shape}; in a batch give (B,) or (B, {N}) values")
                continue
            if arr.ndim != 1:
                raise ParameterError(f"{name} has shape {arr.shape}; in a batch give one value per member, (B,)")
            if slot == "theta":
                Theta[:, i] = arr
            else:
                learner[slot][:, i] = arr
        for name, ok, rule in RULES:
            arr = learner[name]
            bad = np.argwhere(~np.isfinite(arr) | ~ok(arr))
            if len(bad):
                raise ParameterError(f"{name} = {arr[bad[0][0]]} (batch member {bad[0][0]}): {rule}")
        if not np.all(np.isfinite(Theta)):
            raise ParameterError("game parameters of a batch must be finite")
        tensors = [np.ascontiguousarray(np.stack(t)) for t in zip(*(self.tensors(th) for th in Theta))]
        return B, learner, Theta, tensors

    def _params_dict(self, learner, Theta):
        out = {n: np.array(learner[n]) for n in PARAM_NAMES}
        for k, name in enumerate(self.param_names):
            out[name] = Theta[..., k].copy()
        return out

    def trajectory(self, Q0, tmax: int, tol: float | None = None, *, every: int | None = 1, reverse: bool = False,
                   on_divergence: str = "raise", **p) -> ValueTrajectory:
        """Iterate the value-space map from ``Q0`` (compiled loop).

        The chapter's stopping rule on the estimates: record ``Q``, compute ``Q'``, stop
        when ``||Q' - Q||_2 < tol`` (``Q'`` not recorded) or after ``tmax`` recorded
        estimates. ``every`` keeps every k-th (None: final only). ``Q0`` may be a
        :class:`ValueTrajectory` to continue from its final estimates.
        """
        return self._runs(Q0, tmax, tol, every, reverse, on_divergence, True, p)[0]

    def trajectories(self, Q0s, tmax: int, tol: float | None = None, *, every: int | None = None,
                     reverse: bool = False, on_divergence: str = "raise", **p) -> ValueTrajectories:
        """A batch of trajectories in parallel (numba ``prange``), each with its own convergence.

        ``Q0s`` is (B, N, Q, M) or one (N, Q, M) shared by all; array-valued parameters
        carry a leading batch axis (``gamma=np.linspace(...)``; ``(B, N)`` per agent);
        ``every=k`` keeps every k-th estimate in NaN-padded arrays (None: final only).
        """
        return self._runs(Q0s, tmax, tol, every, reverse, on_divergence, False, p)

    def _runs(self, Q0s, tmax, tol, every, reverse, on_divergence, _single, p) -> ValueTrajectories:
        tmax, tol, k_every = _tmax(tmax), _tol(tol), _every(every)
        if on_divergence not in ("raise", "flag"):
            raise ParameterError(f"on_divergence must be 'raise' or 'flag', got {on_divergence!r}")
        Q0 = self._start(Q0s, "Q0" if _single else "Q0s", batch=not _single)
        if _single:
            a, b, e, g, th = self.params(**p)
            B = 1
            learner = {"alpha": a[None], "beta": b[None], "epsilon": e[None], "gamma": g[None]}
            Theta = th[None]
            T3s, TRs, Os = (t[None] for t in self.tensors(th))
        else:
            B, learner, Theta, (T3s, TRs, Os) = self._batch_params(p, Q0.shape[0])
        if Q0.shape[0] != B:
            Q0 = np.ascontiguousarray(np.repeat(Q0, B, axis=0))
        direction = -1.0 if reverse else 1.0
        need = 0 if k_every == 0 else -(-tmax // k_every)
        cap = min(need, max(64, (8 * 2**20) // (8 * Q0[0].size * B))) if need else 0
        nq = int(np.prod(self.shape))
        Q_out = np.empty((B, nq))
        lengths = np.zeros(B, np.int64)
        conv, status, stored = np.zeros(B, np.bool_), np.zeros(B, np.int64), np.zeros(B, np.int64)
        chunks = []
        members = np.arange(B)
        T0 = np.zeros(B, np.int64)
        start = Q0
        A, Bt, E, G = (np.ascontiguousarray(learner[n]) for n in PARAM_NAMES)
        while True:
            n = len(members)
            rec = np.empty((n, cap, nq))
            qo = np.empty((n, nq))
            ln, cv = np.empty(n, np.int64), np.empty(n, np.bool_)
            st, k = np.empty(n, np.int64), np.empty(n, np.int64)
            K.trajectories(np.ascontiguousarray(start.reshape(n, nq)), T0, T3s[members], TRs[members], Os[members],
                           self._acts, self.fully_observed, self._learner, self._policy, A[members], Bt[members],
                           E[members], G[members], self.prefactor, self.n_states, self.n_actions, tmax, tol,
                           direction, k_every, rec, qo, ln, cv, st, k)
            Q_out[members], lengths[members], conv[members], status[members] = qo, ln, cv, st
            stored[members] += k
            if cap:
                chunks.append((members, rec, k.copy()))
            full = st == K.STATUS_FULL
            if not full.any():
                break
            start, T0, members = qo[full], ln[full], members[full]
            cap = min(2 * cap, need)
        Qrec = None
        if k_every:
            rows = int(stored.max())
            Qrec = np.full((B, rows) + self.shape, np.nan)
            offset = np.zeros(B, np.int64)
            for mem, rec, k in chunks:
                for j, m in enumerate(mem):
                    Qrec[m, offset[m]:offset[m] + k[j]] = rec[j, :k[j]].reshape((-1,) + self.shape)
                    offset[m] += k[j]
        Q_out = Q_out.reshape((B,) + self.shape)
        X_final = self._policies_of(Q_out, Bt, E)
        final_logit = self._logit(Q_out, X_final, Bt)
        Xrec = None
        if Qrec is not None:
            Xrec = self._policies_of(Qrec, Bt[:, None], E[:, None])
        diverged = status == K.STATUS_NONFINITE
        result = ValueTrajectories(
            final=X_final, final_logit=final_logit, steps=lengths, converged=conv, diverged=diverged, X=Xrec,
            n_stored=stored if k_every else np.zeros(B, np.int64), every=None if k_every == 0 else k_every,
            reverse=bool(reverse), params=self._params_dict(learner, Theta), Q=Qrec, final_Q=Q_out)
        if diverged.any() and on_divergence == "raise":
            bad = int(np.flatnonzero(diverged)[0])
            err = DivergenceError(
                f"{int(diverged.sum())} of {B} value-space trajectories diverged (first: member {bad} after "
                f"{int(lengths[bad])} recorded estimates): the next estimates were not finite (a singular value "
                "solve, or alpha/rewards so large that the estimates blow up). The finite part is attached as "
                "err.result; pass on_divergence='flag' to get it returned instead.")
            err.result = result[0] if _single else result
            raise err
        return result

    def _policy_of(self, Q, beta, eps):
        X = np.empty(Q.size)
        K.policy(np.ascontiguousarray(Q).ravel(), np.ascontiguousarray(beta), np.ascontiguousarray(eps),
                 self._policy, self.n_actions, X)
        return X.reshape(self.shape)

    def _policies_of(self, Qs, beta, eps):
        """``pi`` of a stack of estimates (..., N, Q, M), vectorized (NaN rows stay NaN).

        ``beta``, ``eps`` broadcast against ``Qs[..., :, 0, 0]`` (one value per agent, or per
        member and agent).
        """
        Qs = np.asarray(Qs, dtype=float)
        mx = Qs.max(-1, keepdims=True)
        if self._policy == K.SOFTMAX:
            with np.errstate(invalid="ignore"):
                z = np.exp(np.asarray(beta)[..., :, None, None] * (Qs - mx))
                return z / z.sum(-1, keepdims=True)
        greedy = Qs == mx
        eps = np.asarray(eps)[..., :, None, None]
        with np.errstate(invalid="ignore"):
            out = (1.0 - eps) * greedy / greedy.sum(-1, keepdims=True) + eps / self.n_actions
        return np.where(np.isnan(Qs).any(-1, keepdims=True), np.nan, out)

    def reverse_trajectory(self, Q0, tmax: int, tol: float | None = None, **kw) -> ValueTrajectory:
        """``trajectory(..., reverse=True)``."""
        return self.trajectory(Q0, tmax, tol, reverse=True, **kw)

    def sweep(self, Q0, param_name: str, values, tmax: int, tol: float | None = None, *, carry: bool = True,
              reverse: bool = False, on_divergence: str = "raise", **p) -> ValueTrajectories:
        """One run per value of ``param_name``; with ``carry`` each starts from the previous final estimates.

        ``carry=True`` runs the whole sequence in one compiled call; ``carry=False`` runs
        every value from ``Q0`` in parallel. Returns :class:`ValueTrajectories` with
        ``name``, ``values``, ``carry`` and ``ran`` set.
        """
        if param_name in p:
            raise ParameterError(f"{param_name!r} is both swept and given as a fixed override")
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if not carry:
            res = self.trajectories(Q0, tmax, tol, reverse=reverse, on_divergence=on_divergence,
                                    **{param_name: values}, **p)
            fields = {f: getattr(res, f) for f in res.__dataclass_fields__}
            fields.update(name=param_name, values=values, carry=False, ran=np.ones(len(res), np.bool_))
            return ValueTrajectories(**fields)
        tmax, tol = _tmax(tmax), _tol(tol)
        q0 = self._start(Q0, "Q0", batch=False)[0]
        V, learner, Theta, (T3s, TRs, Os) = self._batch_params({param_name: values, **p}, 1)
        A, Bt, E, G = (np.ascontiguousarray(learner[n]) for n in PARAM_NAMES)
        Q_out = np.full((V, q0.size), np.nan)
        lengths, conv, status = np.zeros(V, np.int64), np.zeros(V, np.bool_), np.zeros(V, np.int64)
        K.sequential_sweep(q0.ravel(), T3s, TRs, Os, self._acts, self.fully_observed, self._learner,
                           self._policy, A, Bt, E, G, self.prefactor, self.n_states, self.n_actions, tmax, tol,
                           -1.0 if reverse else 1.0, Q_out, lengths, conv, status)
        Q_out = Q_out.reshape((V,) + self.shape)
        ran = status != K.STATUS_NOT_RUN
        Q_out[~ran] = np.nan
        X = self._policies_of(Q_out, Bt, E)
        diverged = status == K.STATUS_NONFINITE
        result = ValueTrajectories(
            final=X, final_logit=self._logit(Q_out, X, Bt), steps=lengths, converged=conv, diverged=diverged,
            X=None, n_stored=np.zeros(V, np.int64), every=None, reverse=bool(reverse),
            params=self._params_dict(learner, Theta), Q=None, final_Q=Q_out, name=param_name, values=values,
            carry=True, ran=ran)
        if diverged.any() and on_divergence == "raise":
            v = int(np.flatnonzero(diverged)[0])
            err = DivergenceError(f"the value-space sweep over {param_name} stopped at value {v} "
                                  f"({param_name}={values[v]}): the next estimates were not finite")
            err.result = result
            raise err
        return result

    # ------------------------------------------------------------ analysis
    def fixed_points(self, guesses=None, n_starts: int = 32, rng=None, **kw):
        """Fixed points by Newton's method; see :func:`crldgen.value.fixed_points`."""
        return _hooks.upper("value.fixed_points")(self, guesses=guesses, n_starts=n_starts, rng=rng, **kw)

    def __repr__(self) -> str:
        return (f"ValueDynamics({self.game.name!r}, learner={self.learner!r}, policy={self.policy!r}, "
                f"N={self.n_agents}, Z={self.n_states}, M={self.n_actions}, Q={self.n_obs}, "
                f"prefactor={self.prefactor})")


def _tmax(tmax) -> int:
    try:
        value = int(tmax)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"tmax = {tmax!r} is not an integer (the maximum number of recorded estimates)") from exc
    if value != tmax or value < 1:
        raise ParameterError(f"tmax = {tmax!r}: the maximum number of recorded estimates must be an integer >= 1")
    return value


def _tol(tol) -> float:
    if tol is None:
        return 0.0
    try:
        value = float(tol)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"tol = {tol!r} is not a number (or None: run tmax steps)") from exc
    if not (value >= 0.0 and math.isfinite(value)):
        raise ParameterError(f"tol = {tol!r}: the convergence tolerance must be finite and >= 0 (or None)")
    return value


def _every(every) -> int:
    if every is None:
        return 0
    if isinstance(every, (bool, np.bool_)) or int(every) != every or int(every) < 1:
        raise ParameterError(f"every = {every!r}: keep every k-th estimate with an integer k >= 1, or None")
    return int(every)
