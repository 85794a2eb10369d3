"""Shared machinery of the analysis package: result objects, a fast evaluator, coordinates.

Everything here is numpy (and the compiled module of a :class:`~crldgen.Dynamics`);
nothing imports sympy.

Free coordinates are the log-ratios ``y[i, o, a] = ln(X[i,o,a] / X[i,o,M-1])``,
``a < M-1``, flattened ``k = (i*Q + o)*(M-1) + a`` (crld-math.md section 4). The fixed
point condition is written as the *flow residual*

    G(y) = (y' - y) / alpha_i = delta[i,o,a] - delta[i,o,M-1]

(one row per free coordinate, divided by the learning rate of the row's agent). ``G``
has the same zeros as ``F(y) = y' - y`` but does not scale with ``alpha``.

Heterogeneous games (``dyn.ragged``: per-agent ``M_i``, ``Q_i``): the free coordinates
are the flat log-ratios of :class:`crldgen.ragged.Layout` (``dyn.layout.y_coords[k]``
names coordinate ``k``); :meth:`System.X` returns per-agent tuples, the internal
computations use flat vectors (:func:`flat`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, StrategyError
from ..runtime.identity import ResultIO

#: largest Newton step (in log-ratio units) and largest ``|y|`` before a start is abandoned (Newton in
#: :mod:`.fixedpoints` and on the faces in :mod:`.boundary`)
MAX_STEP = 20.0
Y_LIMIT = 700.0

_DICT_ATTRS = frozenset(dir(dict))


class Result(dict, ResultIO):
    """A dict with attribute access (like scipy's ``OptimizeResult``).

    ``repr`` lists the keys with short summaries of their values; subclasses add a
    ``summary()`` table.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clash = [k for k in self if k in _DICT_ATTRS]
        if clash:
            raise AttributeError(f"result field names {clash} would hide dict methods")

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __setattr__(self, name, value):
        self[name] = value

    def __dir__(self):
        return list(self.keys()) + list(super().__dir__())

    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        width = max(len(k) for k in self) + 1
        lines = [f"{k.rjust(width)}: {_short(v)}" for k, v in self.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def is_ragged(dyn) -> bool:
    """A heterogeneous game's dynamics (strategies are tuples of per-agent arrays)."""
    return bool(getattr(dyn, "ragged", False))


def flat(X) -> np.ndarray:
    """A strategy (or log-ratios) as one flat float64 vector: per-agent tuples concatenated, arrays raveled."""
    if isinstance(X, (tuple, list)) and X and isinstance(X[0], np.ndarray):
        return np.concatenate([np.asarray(x, dtype=float).ravel() for x in X])
    return np.asarray(X, dtype=float).ravel()


def not_for_ragged(dyn, what: str) -> None:
    """Raise :class:`ParameterError` when ``what`` does not support heterogeneous games yet."""
    if is_ragged(dyn):
        raise ParameterError(
            f"{what} is not supported for heterogeneous games yet (agents with different numbers of actions or "
            f"observations, M={dyn.action_counts}, Q={dyn.observation_counts})")


def _short(v, limit: int = 72) -> str:
    if isinstance(v, np.ndarray):
        if v.size <= 6:
            text = np.array2string(v, precision=6, separator=", ").replace("\n", "")
        else:
            text = f"array(shape={v.shape}, dtype={v.dtype})"
    elif isinstance(v, (list, tuple)) and len(v) > 4:
        text = f"{type(v).__name__} of {len(v)} items"
    elif isinstance(v, Result):
        text = f"<{type(v).__name__}>"
    elif isinstance(v, float):
        text = f"{v:.6g}"
    else:
        text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class System:
    """Fast evaluation of the map, its residual and Jacobian at fixed parameters.

    Calls the generated kernels directly (no per-call validation) so that Newton
    iterations and continuation steps stay cheap.
    """

    def __init__(self, dyn, params: dict):
        self.dyn = dyn
        self.module = dyn.module
        self.params = dict(params)
        self.alpha, self.beta, self.gamma, self.theta = dyn.params(**params)
        self.n = dyn.n_free
        self.ragged = is_ragged(dyn)
        if self.ragged:
            self.layout = dyn.layout
            self.shape = dyn.shape
            self.alpha_rows = np.repeat(self.alpha, [q * (m - 1) for q, m in self.shape])
            self._X = np.empty(dyn.layout.n_strategy)
            return
        N, Q, M = dyn.shape
        self.shape = (N, Q, M)
        self.alpha_rows = np.repeat(self.alpha, Q * (M - 1))
        self._X = np.empty(N * Q * M)

    # -- coordinates
    def X(self, y):
        """Joint strategy (N, Q, M) of free coordinates ``y`` (ragged: a tuple of (Q_i, M_i) arrays)."""
        if self.ragged:
            return self.layout.split(self.X_flat(y))
        X = np.empty(int(np.prod(self.shape)))
        self.module.strategy_of_logit(np.ascontiguousarray(y, dtype=float).ravel(), X)
        return X.reshape(self.shape)

    def X_flat(self, y) -> np.ndarray:
        """The flat strategy of free coordinates ``y``."""
        X = np.empty(self._X.size)
        self.module.strategy_of_logit(np.ascontiguousarray(y, dtype=float).ravel(), X)
        return X

    def y(self, X) -> np.ndarray:
        """Free coordinates of a joint strategy (validated, interior)."""
        if self.ragged:
            return self.layout.flatten_logit(self.dyn.to_logit(X))
        return self.dyn.to_logit(X).ravel()

    def y_shaped(self, y):
        """Flat free coordinates in the user's shape: (N, Q, M-1), or per-agent (Q_i, M_i-1) tuples."""
        y = np.asarray(y, dtype=float).ravel()
        if self.ragged:
            return self.layout.split_logit(y)
        N, Q, M = self.shape
        return y.reshape(N, Q, M - 1)

    def full_support(self):
        """All-True support mask: (N, Q, M), or per-agent (Q_i, M_i) tuples."""
        if self.ragged:
            return tuple(np.ones(s, dtype=bool) for s in self.shape)
        return np.ones(self.shape, dtype=bool)

    # -- map and residuals
    def step(self, y) -> np.ndarray:
        y = np.ascontiguousarray(y, dtype=float).ravel()
        self.module.strategy_of_logit(y, self._X)
        out = np.empty(self.n)
        self.module.logit_step(self._X, y, self.theta, self.alpha, self.beta, self.gamma, out)
        return out

    def F(self, y) -> np.ndarray:
        """Map residual ``y' - y``."""
        return self.step(y) - np.asarray(y, dtype=float).ravel()

    def G(self, y) -> np.ndarray:
        """Flow residual ``(y' - y) / alpha`` (``delta[a] - delta[M-1]``)."""
        return self.F(y) / self.alpha_rows

    def J(self, y) -> np.ndarray:
        """Map Jacobian ``dy'/dy`` (n_free x n_free) at ``y``."""
        y = np.ascontiguousarray(y, dtype=float).ravel()
        self.module.strategy_of_logit(y, self._X)
        J = np.empty(self.n * self.n)
        self.module.jacobian(self._X, self.theta, self.alpha, self.beta, self.gamma, J)
        return J.reshape(self.n, self.n)

    def dG(self, y) -> np.ndarray:
        """Jacobian of the flow residual, ``(J - I) / alpha`` per agent row."""
        return (self.J(y) - np.eye(self.n)) / self.alpha_rows[:, None]


def effective_params(system: "System") -> dict:
    """Every parameter value of a :class:`System` (learner values per agent as lists, game parameters by name).

    The dict can be passed back as overrides (``**result.params``).
    """
    out = {"alpha": system.alpha.tolist(), "beta": system.beta.tolist(), "gamma": system.gamma.tolist()}
    out.update(zip(system.dyn.param_names, system.theta.tolist()))
    return out


def params_key(p: dict) -> dict:
    """Plain-python copy of a parameter override dict (for result records)."""
    out = {}
    for k, v in p.items():
        arr = np.asarray(v)
        out[k] = arr.tolist() if arr.ndim else float(arr)
    return out


# ------------------------------------------------------------------ coordinates
def coordinate(dyn, spec, what: str = "coordinate") -> tuple[int, int, int]:
    """Resolve ``(agent, state, action)`` given as indices or labels to indices.

    ``state`` means observation under partial observability (strategies are
    ``X[i, o, a]``).
    """
    try:
        agent, state, action = spec
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what} must be a triple (agent, state, action) of indices or labels, got {spec!r}") from exc
    if is_ragged(dyn):
        return _ragged_coordinate(dyn, agent, state, action, what)
    labels = (list(dyn.agents), list(dyn.observations if not dyn.fully_observed else dyn.states),
              list(dyn.actions))
    sizes = dyn.shape
    out = []
    for name, value, lab, size in zip(("agent", "state", "action"), (agent, state, action), labels, sizes):
        if isinstance(value, str):
            if value not in lab:
                raise ParameterError(f"{what}: unknown {name} label {value!r}; labels are {lab}")
            out.append(lab.index(value))
        else:
            idx = int(value)
            if not 0 <= idx < size:
                raise ParameterError(f"{what}: {name} index {idx} out of range 0..{size - 1}")
            out.append(idx)
    return tuple(out)


def _index(what, name, value, labels, size, of=""):
    if isinstance(value, str):
        if value not in labels:
            raise ParameterError(f"{what}: unknown {name} label {value!r}{of}; labels are {labels}")
        return labels.index(value)
    idx = int(value)
    if not 0 <= idx < size:
        raise ParameterError(f"{what}: {name} index {idx} out of range 0..{size - 1}{of}")
    return idx


def _ragged_coordinate(dyn, agent, state, action, what) -> tuple[int, int, int]:
    """:func:`coordinate` with agent i's own observation and action labels."""
    i = _index(what, "agent", agent, list(dyn.agents), dyn.n_agents)
    Q, M = dyn.shape[i]
    obs = list(dyn.states) if dyn.fully_observed else list(dyn.observations[i])
    o = _index(what, "state" if dyn.fully_observed else "observation", state, obs, Q, f" of agent {i}")
    a = _index(what, "action", action, list(dyn.actions[i]), M, f" of agent {i}")
    return i, o, a


def set_probability(X: np.ndarray, coords, values) -> np.ndarray:
    """Copy of ``X`` with ``X[i, o, a] = value`` for each coordinate, the other actions rescaled.

    The other actions of the same (agent, state) keep their relative weights in ``X``
    and share the remaining probability. Raises :class:`StrategyError` when the set
    probabilities of one (agent, state) exceed 1.
    """
    if isinstance(X, tuple):  # a heterogeneous game's per-agent arrays
        X = tuple(np.array(x, dtype=float) for x in X)
    else:
        X = np.array(X, dtype=float)
    groups: dict = {}
    for (i, o, a), v in zip(coords, values):
        groups.setdefault((i, o), {})[a] = float(v)
    for (i, o), fixed in groups.items():
        total = sum(fixed.values())
        if total > 1 + 1e-12 or min(fixed.values()) < 0:
            raise StrategyError(f"probabilities {fixed} of agent {i}, state {o} are not a partial distribution")
        row = X[i][o]  # a view into X (either layout)
        rest = [a for a in range(row.shape[-1]) if a not in fixed]
        w = row[rest]
        w = w / w.sum() if w.sum() > 0 else np.full(len(rest), 1.0 / max(len(rest), 1))
        for a, v in fixed.items():
            row[a] = v
        if rest:
            row[rest] = (1.0 - total) * w
    return X


# ------------------------------------------------------------------ sampling
def sample_strategies(dyn, n: int, rng=None, method: str = "lhs", eps: float = 1e-3) -> np.ndarray:
    """``n`` joint strategies spread over the product of simplices, shape (n, N, Q, M).

    ``method='lhs'``: a Latin hypercube in the unit cube of N*Q*(M-1) dimensions mapped
    onto each simplex by stick breaking with the inverse Beta(1, M-1-k) distribution
    functions, so every block is uniform on its simplex and each coordinate is
    stratified. ``method='dirichlet'``: independent flat Dirichlet draws. Both work for
    any number of actions. Samples are mixed with ``eps`` of the uniform strategy to
    stay away from the boundary.
    """
    from . import _checks

    _checks.sample_strategies(n, rng, method, eps)
    rng = np.random.default_rng(rng)
    if is_ragged(dyn):
        return _ragged_samples(dyn, n, rng, method, eps)
    N, Q, M = dyn.shape
    if method == "dirichlet":
        X = rng.dirichlet(np.ones(M), size=(n, N, Q))
    elif method == "lhs":
        d = N * Q * (M - 1)
        U = (rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T + rng.random((n, d))) / n
        U = U.reshape(n, N, Q, M - 1)
        X = np.empty((n, N, Q, M))
        remaining = np.ones((n, N, Q))
        for k in range(M - 1):
            v = 1.0 - (1.0 - U[..., k]) ** (1.0 / (M - 1 - k))  # inverse cdf of Beta(1, M-1-k)
            X[..., k] = remaining * v
            remaining = remaining * (1.0 - v)
        X[..., M - 1] = remaining
    else:
        raise ParameterError(f"method must be 'lhs' or 'dirichlet', got {method!r}")
    return (1 - eps) * X + eps / M


def _ragged_samples(dyn, n, rng, method, eps) -> tuple[np.ndarray, ...]:
    """:func:`sample_strategies` of a heterogeneous game: per-agent (n, Q_i, M_i) arrays."""
    if method == "dirichlet":
        parts = [rng.dirichlet(np.ones(M), size=(n, Q)) for Q, M in dyn.shape]
    elif method == "lhs":
        d = dyn.n_free
        U = (rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T + rng.random((n, d))) / n
        parts = []
        for (Q, M), Ui in zip(dyn.shape, dyn.layout.split_logit(U)):  # (n, Q, M-1) per agent
            X = np.empty((n, Q, M))
            remaining = np.ones((n, Q))
            for k in range(M - 1):
                v = 1.0 - (1.0 - Ui[..., k]) ** (1.0 / (M - 1 - k))
                X[..., k] = remaining * v
                remaining = remaining * (1.0 - v)
            X[..., M - 1] = remaining
            parts.append(X)
    else:
        raise ParameterError(f"method must be 'lhs' or 'dirichlet', got {method!r}")
    return tuple((1 - eps) * X + eps / X.shape[-1] for X in parts)


def sample_rows(dyn, samples) -> np.ndarray:
    """Samples of :func:`sample_strategies` as flat rows (n, n_strategy) (ragged) or (n, N, Q, M) (uniform)."""
    if isinstance(samples, tuple):
        n = samples[0].shape[0]
        return np.concatenate([s.reshape(n, -1) for s in samples], axis=1)
    return samples


# ------------------------------------------------------------------ trajectories
def start_strategies(dyn, Y) -> np.ndarray:
    """Strategies (B, N, Q, M) of log-ratio rows ``Y`` (B, n_free), for :mod:`crldgen.iterate`.

    Heterogeneous games: flat rows (B, n_strategy) (which :mod:`crldgen.iterate` accepts).
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    ragged = is_ragged(dyn)
    out = np.empty((Y.shape[0], dyn.layout.n_strategy if ragged else int(np.prod(dyn.shape))))
    for b in range(Y.shape[0]):
        dyn.module.strategy_of_logit(np.ascontiguousarray(Y[b]), out[b])
    return out if ragged else out.reshape((Y.shape[0],) + dyn.shape)


def batch_overrides(dyn, params: dict) -> dict:
    """Parameter overrides for :mod:`crldgen.iterate`'s batch calls (one value set for all members).

    Batch calls read array values as one value per member; per-agent learner values
    (shape (N,)) become shape (1, N): the same per-agent values for every member.
    """
    out = {}
    for k, v in params.items():
        arr = np.asarray(v, dtype=float)
        out[k] = arr.reshape(1, -1) if arr.ndim == 1 and arr.shape == (dyn.n_agents,) else v
    return out


def run_batch(dyn, Y0, tmax: int, tol: float | None, params: dict):
    """Trajectories from log-ratio rows ``Y0`` in parallel (final states only, divergence flagged).

    Returns the :class:`crldgen.iterate.Trajectories` of :meth:`Dynamics.trajectories`.
    """
    return dyn.trajectories(start_strategies(dyn, Y0), int(tmax), tol, every=None, progress=False,
                            on_divergence="flag", **batch_overrides(dyn, params))


def run_one(dyn, start, tmax: int, tol: float | None, params: dict, every: int | None = None):
    """One trajectory from log-ratios ``start`` (or continuing a Trajectory exactly)."""
    if not hasattr(start, "final_logit"):
        start = start_strategies(dyn, np.ravel(start))[0]
    return dyn.trajectory(start, int(tmax), tol, every=every, on_divergence="flag", **params)
