"""Compiled dynamics of heterogeneous games: agent ``i`` has ``M_i`` actions and ``Q_i`` observations.

:class:`RaggedDynamics` has the API of :class:`~crldgen.runtime.dynamics.Dynamics`;
only the shapes differ (the layout is fixed in :mod:`crldgen.ragged`):

* a joint strategy is a **tuple of N float64 arrays** ``X[i]`` of shape ``(Q_i, M_i)``
  (``Q_i = Z`` when fully observed); every method also accepts the flat vector of
  ``sum_i Q_i M_i`` numbers (the concatenation of ``X[i].ravel()``) and a list of
  per-agent arrays;
* log-ratio coordinates are a tuple of ``(Q_i, M_i - 1)`` arrays (or their flat
  concatenation, ``n_free = sum_i Q_i (M_i - 1)`` numbers);
* every per-agent result (TD errors, next strategies, values, ...) is a tuple of
  per-agent arrays; Jacobians are ``(n_free, n_free)`` matrices in the flat log-ratio
  order of :class:`crldgen.ragged.Layout` (``Layout.y_coords`` names each row).

``dyn.shape`` is ``dyn.layout.shapes()``, the tuple ``((Q_0, M_0), ...)``;
``dyn.logit_shape`` is ``((Q_0, M_0 - 1), ...)``; ``dyn.actions`` and
``dyn.observations`` are per-agent label tuples. ``n_actions`` and ``n_obs`` are None
(use ``action_counts`` and ``observation_counts``).

Validation is the uniform one: one compiled pass (``strategy_ok``/``checked_*`` kernels
of the ragged module) on the happy path; the detailed message, naming the agent, the
observation (or state) and the action, is built only when that check fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..errors import GenerationError, ParameterError, StrategyError
from ..ragged import Layout
from .dynamics import (_CHECK_BAD_INPUT, _CHECK_NONFINITE, _CHECK_OK, _F8, _GAME_CODES, REQUIRED_KERNELS,
                       SIMPLEX_ATOL, Dynamics)

__all__ = ["RaggedAverages", "RaggedDynamics"]

#: module constants a ragged module must define (besides those of every module)
REQUIRED_CONSTANTS = ("ACTION_COUNTS", "OBS_COUNTS", "AGENT_ACTIONS", "AGENT_OBSERVATIONS", "NX", "N_FREE")


@dataclass(frozen=True)
class RaggedAverages:
    """Strategy averages and values of a heterogeneous game at one joint strategy.

    The state-based quantities (crld-math section 2; under partial observability at the
    state strategy ``Y[i][s, a] = sum_o O_i[s, o] X[i][o, a]``) and the values in each
    agent's own observation space (section 7). Per-agent fields are tuples over agents.
    """

    Tss: np.ndarray  #: (Z, Z)
    Ris: np.ndarray  #: (N, Z)
    Tisas: tuple  #: per agent (Z, M_i, Z)
    Risa: tuple  #: per agent (Z, M_i)
    V: tuple  #: per agent (Q_i,)
    Q: tuple  #: per agent (Q_i, M_i)


def _split_sizes(flat, shapes):
    out, k = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(flat[k:k + n].reshape(shape).copy())
        k += n
    return tuple(out)


class RaggedDynamics(Dynamics):
    """Compiled CRLD of a heterogeneous game (per-agent ``M_i``, ``Q_i``) and learner.

    Created by :func:`crldgen.compile` for a game whose ``uniform`` is False. Same
    methods as :class:`Dynamics`; strategies are tuples of per-agent ``(Q_i, M_i)``
    arrays (see the module docstring).
    """

    ragged = True

    def __init__(self, module: ModuleType, *, alpha=0.05, beta=50.0, gamma=0.75, path=None, **game_params):
        self.module = module
        self.path = path
        missing = [k for k in REQUIRED_KERNELS if not hasattr(module, k)]
        missing += [k for k in REQUIRED_CONSTANTS if not hasattr(module, k)]
        if missing or not getattr(module, "RAGGED", False):
            raise GenerationError(
                f"generated module {path or module.__name__} is not a complete heterogeneous-game module (lacks "
                f"{missing or ['RAGGED = True']}); delete it (crldgen.compile regenerates it) or clear the cache "
                "directory")
        self.layout = Layout(module.ACTION_COUNTS, module.OBS_COUNTS)
        if self.layout.n_strategy != module.NX or self.layout.n_free != module.N_FREE:
            raise GenerationError(
                f"generated module {path or module.__name__}: NX={module.NX}, N_FREE={module.N_FREE} disagree with "
                f"its counts M={module.ACTION_COUNTS}, Q={module.OBS_COUNTS}")
        self.n_agents = module.N_AGENTS
        self.n_states = module.N_STATES
        self.n_actions = None
        self.n_obs = None
        self.action_counts = self.layout.action_counts
        self.observation_counts = self.layout.observation_counts
        self.n_free = module.N_FREE
        self.n_strategy = module.NX
        self.param_names = tuple(module.PARAM_NAMES)
        self.learner = module.LEARNER
        self.prefactor = module.PREFACTOR
        self.fully_observed = module.FULLY_OBSERVED
        self.agents, self.states = module.AGENTS, module.STATES
        self.actions = tuple(tuple(a) for a in module.AGENT_ACTIONS)
        self.observations = tuple(tuple(o) for o in module.AGENT_OBSERVATIONS)
        self._shape = self.layout.shapes()
        self._nx = module.NX
        self._sarsa = self.learner == "sarsa"
        self._where = "state" if self.fully_observed else "observation"
        self._param_cache: dict = {}
        self._valid_theta: set = set()
        theta = dict(zip(self.param_names, getattr(module, "PARAM_DEFAULTS", ())))
        self._defaults = self._resolve(
            {"alpha": np.full(self.n_agents, 0.05), "beta": np.full(self.n_agents, 50.0),
             "gamma": np.full(self.n_agents, 0.75), "theta": theta},
            dict(alpha=alpha, beta=beta, gamma=gamma, **game_params),
            what="these parameters (the defaults of crldgen.compile / Dynamics)",
        )
        # row structure for numpy (normalisation, log-ratios of batches)
        lay = self.layout
        self._row_x = np.array(lay.row_x, dtype=np.int64)
        self._row_of_x = np.repeat(np.arange(lay.n_rows), lay.row_m)
        self._free_x = np.array([lay.x_index(i, o, a) for i, o, a in lay.y_coords], dtype=np.int64)
        self._last_x = np.array([lay.x_index(i, o, lay.action_counts[i] - 1) for i, o, a in lay.y_coords],
                                dtype=np.int64)
        self._alpha_free = None

    # ------------------------------------------------------------- shapes
    @property
    def shape(self) -> tuple[tuple[int, int], ...]:
        """``((Q_0, M_0), ..., (Q_{N-1}, M_{N-1}))``: the shape of each agent's strategy array."""
        return self._shape

    @property
    def logit_shape(self) -> tuple[tuple[int, int], ...]:
        """``((Q_0, M_0 - 1), ...)``: the shape of each agent's log-ratio array."""
        return self.layout.logit_shapes()

    def split(self, flat) -> tuple[np.ndarray, ...]:
        """Per-agent ``(..., Q_i, M_i)`` arrays of flat strategies (leading batch axes kept)."""
        return self.layout.split(flat)

    def split_logit(self, flat) -> tuple[np.ndarray, ...]:
        """Per-agent ``(..., Q_i, M_i - 1)`` arrays of flat log-ratios (leading batch axes kept)."""
        return self.layout.split_logit(flat)

    def flatten(self, X, name: str = "X") -> np.ndarray:
        """A joint strategy (tuple of per-agent arrays, or flat) as a flat float64 copy (shape checked only)."""
        return self.layout.flatten(X, name)

    # ---------------------------------------------------------- strategies
    def _strategy_message(self, flat, name, interior) -> str | None:
        return self.layout.problem(np.asarray(flat, dtype=float).reshape(-1), name, interior, SIMPLEX_ATOL,
                                   where=self._where)

    def _array(self, X, name) -> np.ndarray:
        """``X`` as a flat float64 copy of NX numbers, or StrategyError naming the agent."""
        return self.layout.flatten(X, name)

    def _flat(self, X, name="X") -> np.ndarray:
        """The flat float64 strategy (no copy for a C-contiguous float64 vector of NX numbers; not checked)."""
        if type(X) is np.ndarray and X.dtype is _F8 and X.shape == (self._nx,) and X.flags.c_contiguous:
            return X
        return self.layout.flatten(X, name)

    def _checked(self, X, name, interior) -> np.ndarray:
        flat = self._flat(X, name)
        if not self.module.strategy_ok(flat, interior, SIMPLEX_ATOL):
            problem = self._strategy_message(flat, name, interior)
            if problem:
                raise StrategyError(problem)
        return flat

    def check_strategy(self, X, name: str = "X") -> tuple[np.ndarray, ...]:
        """Validate a joint strategy (shapes, finite, on the simplex); returns per-agent float64 copies."""
        return self.layout.split(self._checked(X, name, False))

    def _interior(self, X, name="X") -> np.ndarray:
        """The flat interior strategy (validated)."""
        return self._checked(X, name, True)

    def _bad_input(self, flat, name, interior) -> None:
        problem = self._strategy_message(flat, name, interior)
        if problem:
            raise StrategyError(problem)

    def _out(self, out, name="out"):
        """``(flat buffer, finish)``: where the kernel writes, and how the caller's ``out`` gets the result."""
        if isinstance(out, np.ndarray) and out.dtype == _F8 and out.shape == (self._nx,) \
                and out.flags.c_contiguous and out.flags.writeable:
            return out, None
        if isinstance(out, (tuple, list)) and len(out) == self.n_agents and all(
                isinstance(o, np.ndarray) and o.dtype == _F8 and o.shape == s and o.flags.writeable
                for o, s in zip(out, self._shape)):
            return np.empty(self._nx), out
        got = type(out).__name__ if not isinstance(out, np.ndarray) else f"{out.dtype} array of shape {out.shape}"
        if isinstance(out, (tuple, list)):
            got = "a sequence of " + ", ".join(
                f"{o.dtype} {o.shape}" if isinstance(o, np.ndarray) else type(o).__name__ for o in out)
        raise ParameterError(
            f"{name} must be a tuple of writeable float64 arrays of shapes {list(self._shape)} (one per agent) or a "
            f"writeable C-contiguous float64 vector of {self._nx} numbers, got {got}")

    def _result(self, flat, out, finish):
        """The per-agent result (a tuple of new arrays, the caller's tuple, or the caller's flat vector)."""
        if out is None:
            return self.layout.split(flat)
        if finish is None:
            return out
        for part, k, (q, m) in zip(finish, self.layout.x_offsets, self._shape):
            part[...] = flat[k:k + q * m].reshape(q, m)
        return out

    def uniform_strategy(self) -> tuple[np.ndarray, ...]:
        return self.layout.uniform_strategy()

    def random_strategy(self, rng=None) -> tuple[np.ndarray, ...]:
        """A joint strategy drawn uniformly from the product of simplices (tuple of per-agent arrays)."""
        return self.layout.random_strategy(rng)

    def to_logit(self, X) -> tuple[np.ndarray, ...]:
        """Log-ratios ``y[i][o, a] = ln(X[i][o, a] / X[i][o, M_i - 1])``: tuple of ``(Q_i, M_i - 1)`` arrays."""
        flat = self._interior(X)
        y = np.empty(self.n_free)
        self.module.logit_of_strategy(flat, y)
        return self.layout.split_logit(y)

    def _logit_input(self, y, name="y") -> np.ndarray:
        """Log-ratios (tuple of ``(Q_i, M_i - 1)`` arrays or a flat vector) as a flat float64 array."""
        if type(y) is np.ndarray and y.dtype is _F8 and y.shape == (self.n_free,) and y.flags.c_contiguous:
            return y
        return self.layout.flatten_logit(y, name)

    def _logit_message(self, flat, name="y") -> str:
        k = int(np.flatnonzero(~np.isfinite(flat))[0])
        i, o, a = self.layout.y_coords[k]
        return (f"{name}[{i}][{o}, {a}] (agent {i}, {self._where} {o}, action {a}) = {flat[k]} is not finite; "
                "log-ratio coordinates must be finite numbers")

    def from_logit(self, y) -> tuple[np.ndarray, ...]:
        """The strategy ``X[i][o, :] = softmax(y[i][o, :], 0)`` (tuple of ``(Q_i, M_i)`` arrays)."""
        y = self._logit_input(y)
        if not self.module.all_finite(y):
            raise StrategyError(self._logit_message(y))
        X = np.empty(self._nx)
        self.module.strategy_of_logit(y, X)
        return self.layout.split(X)

    # ------------------------------------------------------------ kernels
    def _average_sizes(self):
        Z = self.n_states
        M, Q = self.action_counts, self.observation_counts
        return (Z * Z, self.n_agents * Z, sum(Z * m * Z for m in M), sum(Z * m for m in M), sum(Q), self._nx)

    def averages(self, X, **p) -> RaggedAverages:
        """Strategy averages and values at ``X`` (per-agent tuples); non-finite numbers raise DivergenceError."""
        flat = self._checked(X, "X", False)
        res = self.params(**p)
        a, b, g, th = res
        n_tss, n_ris, n_tisas, n_risa, n_v, n_q = self._average_sizes()
        Tss, Ris, Tisas, Risa = np.empty(n_tss), np.empty(n_ris), np.empty(n_tisas), np.empty(n_risa)
        self.module.averages(flat, th, Tss, Ris, Tisas, Risa)
        V, Qv = np.empty(n_v), np.empty(n_q)
        self.module.values(flat, th, a, b, g, V, Qv)
        finite = self.module.all_finite
        for what, arr in (("Tss", Tss), ("Ris", Ris), ("Tisas", Tisas), ("Risa", Risa), ("V", V), ("Q", Qv)):
            if not finite(arr):
                raise self._divergence("averages", f"the value {what}", res)
        Z, M, Q = self.n_states, self.action_counts, self.observation_counts
        return RaggedAverages(
            Tss.reshape(Z, Z), Ris.reshape(self.n_agents, Z), _split_sizes(Tisas, [(Z, m, Z) for m in M]),
            _split_sizes(Risa, [(Z, m) for m in M]), _split_sizes(V, [(q,) for q in Q]), self.layout.split(Qv))

    def _normalize_rows(self, flat) -> None:
        """Subtract each row's mean over the agent's own actions (in place)."""
        means = np.add.reduceat(flat, self._row_x) / np.array(self.layout.row_m)
        flat -= means[self._row_of_x]

    def tderror(self, X, normalize: bool = False, *, out=None, **p) -> tuple[np.ndarray, ...]:
        """TD errors ``delta[i][o, a]`` (scaled by beta): a tuple of ``(Q_i, M_i)`` arrays.

        ``normalize`` subtracts the mean over agent i's own ``M_i`` actions. ``out``: a
        tuple of per-agent float64 arrays (or a flat vector) to write into (returned).
        """
        flat = self._flat(X)
        res = self._defaults if not p else self.params(**p)
        a, b, g, th = res
        if out is None:
            buf, finish = np.empty(self._nx), None
        else:
            buf, finish = self._out(out)
        status = self.module.checked_tderror(flat, th, a, b, g, self._sarsa, SIMPLEX_ATOL, buf)
        if status:
            if status == _CHECK_BAD_INPUT:
                self._bad_input(flat, "X", self._sarsa)
                self.module.tderror(flat, th, a, b, g, buf)
                status = _CHECK_OK if self.module.all_finite(buf) else _CHECK_NONFINITE
            if status == _CHECK_NONFINITE:
                raise self._divergence("tderror", "the TD error", res)
        if normalize:
            self._normalize_rows(buf)
        return self._result(buf, out, finish)

    def step(self, X, *, out=None, **p) -> tuple[np.ndarray, ...]:
        """One learning step ``X -> X'`` (crld-math section 4): a tuple of ``(Q_i, M_i)`` arrays.

        ``out``: a tuple of per-agent float64 arrays (it may be ``X`` itself) or a flat
        vector to write into (returned).
        """
        return self._step(X, 1.0, p, out, "step")

    def reverse_step(self, X, *, out=None, **p) -> tuple[np.ndarray, ...]:
        """One step of the reverse-time map (``-delta``)."""
        return self._step(X, -1.0, p, out, "reverse_step")

    def _step(self, X, direction, p, out, call):
        flat = self._flat(X)
        res = self._defaults if not p else self.params(**p)
        a, b, g, th = res
        if out is None:
            buf, finish = np.empty(self._nx), None
        else:
            buf, finish = self._out(out)
        status = self.module.checked_strategy_step(flat, th, a, b, g, direction, SIMPLEX_ATOL, buf)
        if status:
            if status == _CHECK_BAD_INPUT:
                self._bad_input(flat, "X", True)
                self.module.strategy_step(flat, th, a, b, g, direction, buf)
                status = _CHECK_OK if self.module.all_finite(buf) else _CHECK_NONFINITE
            if status == _CHECK_NONFINITE:
                raise self._divergence(call, "the update (TD error or next strategy)", res)
        return self._result(buf, out, finish)

    def logit_step(self, y, **p) -> tuple[np.ndarray, ...]:
        """One step in log-ratio coordinates: a tuple of ``(Q_i, M_i - 1)`` arrays."""
        y = self._logit_input(y)
        res = self.params(**p)
        a, b, g, th = res
        out = np.empty(self.n_free)
        status = self.module.checked_logit_step(y, th, a, b, g, out)
        if status == _CHECK_BAD_INPUT:
            raise StrategyError(self._logit_message(y))
        if status == _CHECK_NONFINITE:
            raise self._divergence("logit_step", "the update", res)
        return self.layout.split_logit(out)

    def jacobian(self, X, coords: str = "logit", **p) -> np.ndarray:
        """Closed-form Jacobian of the update map, ``(n_free, n_free)``, in the flat log-ratio order.

        Row and column ``k`` belong to ``dyn.layout.y_coords[k] = (agent, observation, action)``.
        ``coords='logit'``: ``dy'/dy``. ``coords='strategy'``: ``dX'/dX`` in the
        coordinates ``X[i][o, a], a < M_i - 1`` (the same order). Both have the same
        eigenvalues at a fixed point; normalization directions are never included.
        """
        if coords not in ("logit", "strategy"):
            raise ParameterError(f"coords must be 'logit' or 'strategy', got {coords!r}")
        flat = self._interior(X)
        res = self.params(**p)
        a, b, g, th = res
        n = self.n_free
        J = np.empty(n * n)
        self.module.jacobian(flat, th, a, b, g, J)
        if not self.module.all_finite(J):
            raise self._divergence("jacobian", "the Jacobian", res)
        J = J.reshape(n, n)
        if coords == "logit":
            return J
        Xn = self._flat(self.step(flat, **p))
        return ragged_dx_dy(self.layout, Xn) @ J @ ragged_dy_dx(self.layout, flat)

    def stationary_distribution(self, X, **p) -> np.ndarray:
        """Stationary state distribution ``Ps`` (Z,) of ``Tss`` (crld-math section 6)."""
        flat = self._checked(X, "X", False)
        a, b, g, th = self.params(**p)
        out = np.empty(self.n_states)
        ok = self.module.stationary(flat, th, out)
        if not ok:
            raise StrategyError(
                "the stationary distribution is not unique at this strategy (Tss is reducible: "
                "several closed classes of states); average rewards are not defined")
        return out

    def game_tensors(self, **params):
        """Numeric ``(T, R, O)``; ``O`` is a tuple of per-agent ``(Z, Q_i)`` arrays (the identity when fully observed)."""
        for name in params:
            if self.parameter_slot(name)[0] != "theta":
                raise ParameterError(f"game_tensors takes game parameters only ({list(self.param_names)}), "
                                     f"got {name!r}")
        th = self.params(**params)[3]
        mod = self.module
        T, R, O = np.empty(mod.T_SHAPE), np.empty(mod.R_SHAPE), np.empty(mod.O_SHAPE)  # noqa: E741
        mod.game_tensors(th, T.reshape(-1), R.reshape(-1), O.reshape(-1))
        return T, R, _split_sizes(O.reshape(-1), self._o_shapes())

    def _o_shapes(self):
        shapes = getattr(self.module, "O_SHAPES", None)
        if shapes is None:
            shapes = tuple((self.n_states, q) for q in self.observation_counts)
        return tuple(tuple(s) for s in shapes)

    def _game_message(self, code, k, value, th, member, what) -> str:
        tensor, kind = _GAME_CODES[int(code)]
        if tensor == "T":
            return super()._game_message(code, k, value, th, member, what)
        at = f" at parameters {self._theta_dict(th)}" + (f" (batch member {member})" if member is not None else "")
        k = int(k)
        if kind == "entry":  # k indexes the concatenation of O_i.ravel()
            for i, (Z, q) in enumerate(self._o_shapes()):
                if k < Z * q:
                    s, o = divmod(k, q)
                    return (f"O[{i}][{s}, {o}] (agent {i}, state {s}, observation {o}) = {value:.6g}{at} is not a "
                            f"probability in [0, 1]; {what} give the game invalid observation probabilities")
                k -= Z * q
            return f"O entry {k} = {value:.6g}{at} is not a probability in [0, 1]"
        i, s = divmod(k, self.n_states)  # k indexes the rows (agent, state) of the O_i
        return (f"O[{i}][{s}, :] (agent {i}, state {s}) sums to {value:.12g} over o{at}; each row of O must sum "
                f"to 1 ({what} give the game invalid probabilities)")

    def __repr__(self) -> str:
        return (f"RaggedDynamics({self.module.GAME!r}, learner={self.learner!r}, N={self.n_agents}, "
                f"Z={self.n_states}, M={self.action_counts}, Q={self.observation_counts}, params={self.defaults})")

    # ------------------------------------------------------ batch helpers (crldgen.iterate)
    def _logits_of_rows(self, rows) -> np.ndarray:
        """Log-ratios (B, n_free) of flat strategies (B, NX): ``ln X[free] - ln X[last action]``."""
        logs = np.log(rows)
        return np.ascontiguousarray(logs[:, self._free_x] - logs[:, self._last_x])

    def _row_sums(self, rows) -> np.ndarray:
        """Row sums (B, n_rows) of flat strategies (B, NX)."""
        return np.add.reduceat(rows, self._row_x, axis=1)


def ragged_dx_dy(layout: Layout, flat) -> np.ndarray:
    """d x_free / d y at the flat strategy (block diagonal per row, blocks X[a](delta_ac - X[c]))."""
    n = layout.n_free
    D = np.zeros((n, n))
    for r in range(layout.n_rows):
        m, kx, ky = layout.row_m[r], layout.row_x[r], layout.row_y[r]
        x = flat[kx:kx + m - 1]
        sl = slice(ky, ky + m - 1)
        D[sl, sl] = np.diag(x) - np.outer(x, x)
    return D


def ragged_dy_dx(layout: Layout, flat) -> np.ndarray:
    """d y / d x_free at the flat strategy (blocks delta_ac / X[a] + 1 / X[M_r - 1])."""
    n = layout.n_free
    D = np.zeros((n, n))
    for r in range(layout.n_rows):
        m, kx, ky = layout.row_m[r], layout.row_x[r], layout.row_y[r]
        sl = slice(ky, ky + m - 1)
        D[sl, sl] = np.diag(1.0 / flat[kx:kx + m - 1]) + 1.0 / flat[kx + m - 1]
    return D
