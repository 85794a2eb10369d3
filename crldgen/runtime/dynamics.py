"""The compiled dynamics object: validated calls into a generated module (no sympy).

Strategies are arrays ``X[i, o, a]`` of shape ``(N, Q, M)`` (``Q = Z`` when fully
observed). Every method takes ``**p`` overriding learner parameters (``alpha``,
``beta``, ``gamma`` as scalars or one value per agent, or ``alpha_0`` ...) and game
parameters by name for that call only.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..errors import ParameterError, StrategyError

SIMPLEX_ATOL = 1e-8

LEARNER_NAMES = ("alpha", "beta", "gamma")

#: (name, test on an array of values, the rule) for the learner parameters; batches in
#: :mod:`crldgen.iterate` check the same rules
LEARNER_RULES = (
    ("alpha", lambda v: (v > 0) & (v <= 1), "learning rates must lie in (0, 1]"),
    ("beta", lambda v: v > 0, "choice intensities must be > 0"),
    ("gamma", lambda v: (v >= 0) & (v < 1), "discount factors must lie in [0, 1)"),
)


@dataclass(frozen=True)
class Averages:
    """Strategy averages and values at one joint strategy (crld-math sections 2, 7)."""

    Tss: np.ndarray  #: (Z, Z)
    Ris: np.ndarray  #: (N, Z)
    Tisas: np.ndarray  #: (N, Z, M, Z)
    Risa: np.ndarray  #: (N, Z, M)
    V: np.ndarray  #: (N, Q)
    Q: np.ndarray  #: (N, Q, M)


class Dynamics:
    """Compiled CRLD of one game and learner, with default parameters.

    Create with :func:`crldgen.compile` (or ``model.compile()``).
    """

    def __init__(self, module: ModuleType, *, alpha=0.05, beta=50.0, gamma=0.75, path=None, **game_params):
        self.module = module
        self.path = path
        self.n_agents = module.N_AGENTS
        self.n_states = module.N_STATES
        self.n_actions = module.N_ACTIONS
        self.n_obs = module.N_OBS
        self.n_free = module.N_FREE
        self.param_names = tuple(module.PARAM_NAMES)
        self.learner = module.LEARNER
        self.prefactor = module.PREFACTOR
        self.fully_observed = module.FULLY_OBSERVED
        self.agents, self.states = module.AGENTS, module.STATES
        self.actions, self.observations = module.ACTIONS, module.OBSERVATIONS
        # generated modules carry no parameter defaults (they are not part of the cache
        # key); crldgen.compile passes the game's defaults here as game_params
        theta = dict(zip(self.param_names, getattr(module, "PARAM_DEFAULTS", ())))
        self._defaults = self._resolve(
            {"alpha": np.full(self.n_agents, 0.05), "beta": np.full(self.n_agents, 50.0),
             "gamma": np.full(self.n_agents, 0.75), "theta": theta},
            dict(alpha=alpha, beta=beta, gamma=gamma, **game_params),
        )

    # ------------------------------------------------------------- parameters
    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_agents, self.n_obs, self.n_actions)

    @property
    def defaults(self) -> dict:
        """Default parameters: ``{'alpha': array, 'beta': array, 'gamma': array, name: value ...}``."""
        a, b, g, th = self._defaults
        out = {"alpha": a.copy(), "beta": b.copy(), "gamma": g.copy()}
        out.update(zip(self.param_names, th.tolist()))
        return out

    def parameter_slot(self, name: str) -> tuple[str, int | None]:
        """Where an override named ``name`` goes.

        ``('alpha' | 'beta' | 'gamma', None)`` for all agents, ``(..., i)`` for agent ``i``
        (``alpha_0``, ...), ``('theta', k)`` for the k-th game parameter. Unknown names
        and agent indices out of range raise :class:`ParameterError`.
        """
        head, _, tail = name.rpartition("_")
        if name in LEARNER_NAMES:
            return name, None
        if head in LEARNER_NAMES and tail.isdigit() and name not in self.param_names:
            i = int(tail)
            if i >= self.n_agents:
                raise ParameterError(f"{name}: agent index {i} out of range (N={self.n_agents})")
            return head, i
        if name in self.param_names:
            return "theta", self.param_names.index(name)
        raise ParameterError(
            f"unknown parameter {name!r}; learner parameters are alpha, beta, gamma (or alpha_0, ...), "
            f"game parameters are {list(self.param_names)}")

    def _resolve(self, base, overrides):
        learner = {n: np.array(base[n], dtype=float) for n in LEARNER_NAMES}
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
                    raise ParameterError(
                        f"{name} must be a scalar or have one value per agent (shape ({self.n_agents},)), "
                        f"got shape {arr.shape}")
        for name, arr in learner.items():
            if not np.all(np.isfinite(arr)):
                raise ParameterError(f"{name} = {arr} is not finite")
        for name, ok, rule in LEARNER_RULES:
            if not np.all(ok(learner[name])):
                raise ParameterError(f"{name} = {learner[name]}: {rule}")
        alpha, beta, gamma = (learner[n] for n in LEARNER_NAMES)
        missing = [n for n in self.param_names if n not in theta]
        if missing:
            raise ParameterError(
                f"game parameters {missing} have no value; pass them by name (e.g. {missing[0]}=...) "
                "or create the object with crldgen.compile(game), which uses the game's defaults")
        th = np.array([theta[n] for n in self.param_names], dtype=float)
        if not np.all(np.isfinite(th)):
            raise ParameterError(f"game parameters {dict(zip(self.param_names, th))} must be finite")
        return alpha, beta, gamma, th

    def params(self, **p) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(alpha, beta, gamma, theta)`` arrays: the defaults overridden by ``p``."""
        if not p:
            return self._defaults
        a, b, g, th = self._defaults
        return self._resolve({"alpha": a, "beta": b, "gamma": g, "theta": dict(zip(self.param_names, th))}, p)

    # -------------------------------------------------------------- strategies
    def check_strategy(self, X, name: str = "X") -> np.ndarray:
        """Validate a joint strategy (shape, finite, on the simplex); returns a float64 copy."""
        try:
            arr = np.array(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
        if arr.shape != self.shape:
            raise StrategyError(
                f"{name} has shape {arr.shape}; expected (N, {'Q' if not self.fully_observed else 'Z'}, M) = "
                f"{self.shape}")
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            raise StrategyError(f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]} is not finite")
        bad = np.argwhere(arr < 0)
        if len(bad):
            raise StrategyError(f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]:.6g} is negative")
        sums = arr.sum(-1)
        bad = np.argwhere(np.abs(sums - 1) > SIMPLEX_ATOL)
        if len(bad):
            i, o = bad[0].tolist()
            raise StrategyError(
                f"{name}[{i}, {o}, :] sums to {sums[i, o]:.12g}; each agent's strategy in each "
                f"{'state' if self.fully_observed else 'observation'} must sum to 1")
        return arr

    def _interior(self, X, name="X") -> np.ndarray:
        arr = self.check_strategy(X, name)
        bad = np.argwhere(arr <= 0)
        if len(bad):
            raise StrategyError(
                f"{name}{bad[0].tolist()} = 0: the learning dynamics need strictly positive strategies "
                "(ln X); use a strategy in the interior of the simplex")
        return arr

    def uniform_strategy(self) -> np.ndarray:
        return np.full(self.shape, 1.0 / self.n_actions)

    def random_strategy(self, rng=None) -> np.ndarray:
        """A joint strategy drawn uniformly from the product of simplices."""
        rng = np.random.default_rng(rng)
        return rng.dirichlet(np.ones(self.n_actions), size=self.shape[:2])

    def to_logit(self, X) -> np.ndarray:
        X = self._interior(X)
        y = np.empty(self.n_free)
        self.module.logit_of_strategy(X.ravel(), y)
        return y.reshape(self.n_agents, self.n_obs, self.n_actions - 1)

    def from_logit(self, y) -> np.ndarray:
        y = np.ascontiguousarray(y, dtype=float).ravel()
        if y.size != self.n_free:
            raise StrategyError(f"y has {y.size} entries; expected N*Q*(M-1) = {self.n_free}")
        X = np.empty(self.n_agents * self.n_obs * self.n_actions)
        self.module.strategy_of_logit(y, X)
        return X.reshape(self.shape)

    # --------------------------------------------------------------- kernels
    def averages(self, X, **p) -> Averages:
        """Strategy averages and values at ``X``."""
        X = self.check_strategy(X).ravel()
        a, b, g, th = self.params(**p)
        N, Z, M, Q = self.n_agents, self.n_states, self.n_actions, self.n_obs
        Tss, Ris = np.empty(Z * Z), np.empty(N * Z)
        Tisas, Risa = np.empty(N * Z * M * Z), np.empty(N * Z * M)
        self.module.averages(X, th, Tss, Ris, Tisas, Risa)
        V, Qv = np.empty(N * Q), np.empty(N * Q * M)
        self.module.values(X, th, a, b, g, V, Qv)
        return Averages(Tss.reshape(Z, Z), Ris.reshape(N, Z), Tisas.reshape(N, Z, M, Z),
                        Risa.reshape(N, Z, M), V.reshape(N, Q), Qv.reshape(N, Q, M))

    def tderror(self, X, normalize: bool = False, **p) -> np.ndarray:
        """TD error ``delta[i, o, a]`` (scaled by beta); ``normalize`` subtracts the action mean."""
        X = self._interior(X) if self.learner == "sarsa" else self.check_strategy(X)
        a, b, g, th = self.params(**p)
        out = np.empty(X.size)
        self.module.tderror(X.ravel(), th, a, b, g, out)
        out = out.reshape(self.shape)
        if normalize:
            out = out - out.mean(-1, keepdims=True)
        return out

    def step(self, X, **p) -> np.ndarray:
        """One learning step ``X -> X'`` (crld-math section 4)."""
        return self._step(X, 1.0, p)

    def reverse_step(self, X, **p) -> np.ndarray:
        """One step of the reverse-time map (``-delta``), for tracing separatrices backwards."""
        return self._step(X, -1.0, p)

    def _step(self, X, direction, p):
        X = self._interior(X)
        a, b, g, th = self.params(**p)
        out = np.empty(X.size)
        self.module.strategy_step(X.ravel(), th, a, b, g, direction, out)
        return out.reshape(self.shape)

    def logit_step(self, y, **p) -> np.ndarray:
        """One step in log-ratio coordinates, ``y' = y + alpha (delta[a] - delta[M-1])``."""
        y = np.ascontiguousarray(y, dtype=float).ravel()
        X = self.from_logit(y).ravel()
        a, b, g, th = self.params(**p)
        out = np.empty(self.n_free)
        self.module.logit_step(X, y, th, a, b, g, out)
        return out.reshape(self.n_agents, self.n_obs, self.n_actions - 1)

    def jacobian(self, X, coords: str = "logit", **p) -> np.ndarray:
        """Closed-form Jacobian of the update map in the N*Q*(M-1) free coordinates.

        ``coords='logit'`` (default): ``dy'/dy`` in log-ratio coordinates, flattened
        ``k = (i*Q + o)*(M-1) + a``. ``coords='strategy'``: ``dX'/dX`` in the coordinates
        ``X[i,o,a], a < M-1`` (the last action eliminated). Both have the same
        eigenvalues at a fixed point; the normalization directions are never included.
        """
        X = self._interior(X)
        a, b, g, th = self.params(**p)
        n = self.n_free
        J = np.empty(n * n)
        self.module.jacobian(X.ravel(), th, a, b, g, J)
        J = J.reshape(n, n)
        if coords == "logit":
            return J
        if coords != "strategy":
            raise ParameterError(f"coords must be 'logit' or 'strategy', got {coords!r}")
        Xn = self.step(X, **p)
        return _dx_dy(Xn) @ J @ _dy_dx(X)

    def stationary_distribution(self, X, **p) -> np.ndarray:
        """Stationary state distribution ``Ps`` of ``Tss`` (crld-math section 6).

        Raises :class:`StrategyError` when it is not unique (reducible ``Tss``).
        """
        X = self.check_strategy(X)
        a, b, g, th = self.params(**p)
        out = np.empty(self.n_states)
        ok = self.module.stationary(X.ravel(), th, out)
        if not ok:
            raise StrategyError(
                "the stationary distribution is not unique at this strategy (Tss is reducible: "
                "several closed classes of states); average rewards are not defined")
        return out

    def average_reward(self, X, **p) -> np.ndarray:
        """Long-run average reward ``Ri[i] = sum_s Ps[s] Ris[i, s]`` of every agent."""
        Ps = self.stationary_distribution(X, **p)
        return self.averages(X, **p).Ris @ Ps

    # ------------------------------------------------------------- iteration
    def trajectory(self, X0, tmax: int, tol: float | None = None, *, every: int | None = 1, reverse: bool = False,
                   on_divergence: str = "raise", **p):
        """Learning trajectory from ``X0`` (compiled loop); see :func:`crldgen.iterate.trajectory`.

        Returns a :class:`crldgen.iterate.Trajectory` with ``.X`` (recorded strategies,
        shape (steps, N, Q, M) with ``every=1``), ``.final``, ``.steps``, ``.converged``.
        ``reverse=True`` iterates the reverse-time map.
        """
        from ..iterate import trajectory

        return trajectory(self, X0, tmax, tol, every=every, reverse=reverse, on_divergence=on_divergence, **p)

    def trajectories(self, X0s, tmax: int, tol: float | None = None, *, every: int | None = None,
                     reverse: bool = False, progress: bool | None = None, on_divergence: str = "raise", **p):
        """A batch of trajectories in parallel; see :func:`crldgen.iterate.trajectories`.

        Array-valued parameters carry a leading batch axis (``gamma=np.linspace(...)``).
        """
        from ..iterate import trajectories

        return trajectories(self, X0s, tmax, tol, every=every, reverse=reverse, progress=progress,
                            on_divergence=on_divergence, **p)

    def reverse_trajectory(self, X0, tmax: int, tol: float | None = None, **kw):
        """``trajectory(..., reverse=True)``: iterate the reverse-time map (``-delta``)."""
        return self.trajectory(X0, tmax, tol, reverse=True, **kw)

    def sweep(self, X0, param_name: str, values, tmax: int, tol: float | None = None, *, carry: bool = True,
              reverse: bool = False, on_divergence: str = "raise", **p):
        """One run per parameter value, each from the previous final strategy; see :func:`crldgen.iterate.sweep`."""
        from ..iterate import sweep

        return sweep(self, X0, param_name, values, tmax, tol, carry=carry, reverse=reverse,
                     on_divergence=on_divergence, **p)

    def __repr__(self) -> str:
        return (f"Dynamics({self.module.GAME!r}, learner={self.learner!r}, N={self.n_agents}, "
                f"Z={self.n_states}, M={self.n_actions}, Q={self.n_obs}, params={self.defaults})")

    # ------------------------------------------------- pickling and notebooks (issue 15)
    def __reduce__(self):
        """Pickle by reference: module path, cache key and defaults (see :mod:`crldgen.runtime.identity`)."""
        from .identity import reduce_dynamics

        return reduce_dynamics(self)

    def _repr_html_(self) -> str:
        from ..data import dynamics_html

        return dynamics_html(self)


def _blocks(X):
    N, Q, M = X.shape
    return [(i, o) for i in range(N) for o in range(Q)], M


def _dx_dy(X) -> np.ndarray:
    """d x_free / d y at X (block diagonal, blocks X[a](delta_ac - X[c]))."""
    blocks, M = _blocks(X)
    n = len(blocks) * (M - 1)
    D = np.zeros((n, n))
    for k, (i, o) in enumerate(blocks):
        x = X[i, o, :-1]
        sl = slice(k * (M - 1), (k + 1) * (M - 1))
        D[sl, sl] = np.diag(x) - np.outer(x, x)
    return D


def _dy_dx(X) -> np.ndarray:
    """d y / d x_free at X (blocks delta_ac / X[a] + 1 / X[M-1])."""
    blocks, M = _blocks(X)
    n = len(blocks) * (M - 1)
    D = np.zeros((n, n))
    for k, (i, o) in enumerate(blocks):
        sl = slice(k * (M - 1), (k + 1) * (M - 1))
        D[sl, sl] = np.diag(1.0 / X[i, o, :-1]) + 1.0 / X[i, o, -1]
    return D
