"""Compiled CRLD of a multi-type anonymous game on the type-symmetric subspace (numpy + numba, no sympy).

A type-symmetric strategy is an array ``x[tau, s, a]`` of shape ``(K, Z, M)``: every
agent of type tau plays ``x[tau]``. The full game's agents are ordered by type
(:meth:`TypedDynamics.joint`). Every method takes per-call overrides: ``sizes``,
``alpha``/``beta``/``gamma`` (scalar or one per type) and game parameters by name.

Stability: see :mod:`crldgen.anonymous.types` for the derivation. The full Jacobian's
eigenvalues are those of the coupled type-symmetric matrix ``S`` (K F x K F; diagonal
blocks ``A_tau + (n_tau - 1) B_tautau``, off-diagonal ``n_sigma B_{tau sigma}``) and, for
each type, those of ``A_tau - B_tautau`` (``n_tau - 1`` times).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ..errors import GameError, ParameterError, StrategyError

_LEARNERS = {"sarsa": 0, "actor_critic": 1, "actor-critic": 1, "ac": 1}
_RULES = {
    "alpha": (lambda v: 0 < v <= 1, "learning rates must lie in (0, 1]"),
    "beta": (lambda v: v > 0, "choice intensities must be > 0"),
    "gamma": (lambda v: 0 <= v < 1, "discount factors must lie in [0, 1)"),
}
SIMPLEX_ATOL = 1e-8
#: above this many count vectors the exhaustive game check of ``check_game`` is skipped
MAX_CHECKED_VECTORS = 200_000_000
INFO_SIZE = 16


def _order(e):
    return e[np.argsort(-np.abs(e), kind="stable")]


@dataclass(frozen=True)
class TypedStability:
    """Eigenvalues of the full Jacobian at a type-symmetric strategy.

    ``symmetric``: eigenvalues of the coupled type-symmetric matrix ``S``; ``breaking[tau]``:
    those of ``A_tau - B_tautau`` (each ``n_tau - 1`` times; empty when ``n_tau = 1``).
    """

    sizes: tuple
    symmetric: np.ndarray
    breaking: tuple
    alpha: np.ndarray
    S: np.ndarray = field(repr=False)
    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)

    @property
    def rho_symmetric(self) -> float:
        return float(np.max(np.abs(self.symmetric)))

    @property
    def rho_breaking(self) -> float:
        return max([float(np.max(np.abs(b))) for b in self.breaking if len(b)] + [0.0])

    @property
    def rho(self) -> float:
        return max(self.rho_symmetric, self.rho_breaking)

    @property
    def stable(self) -> bool:
        return self.rho < 1.0

    @property
    def stable_symmetric(self) -> bool:
        return self.rho_symmetric < 1.0

    @property
    def type(self) -> str:
        if self.stable:
            return "stable"
        return "unstable to symmetry breaking" if self.stable_symmetric else "unstable"

    def eigenvalues(self) -> np.ndarray:
        """All ``sum(sizes) * F`` eigenvalues of the full Jacobian (breaking ones repeated ``n_tau - 1`` times)."""
        parts = [self.symmetric] + [np.tile(b, n - 1) for b, n in zip(self.breaking, self.sizes) if n > 1]
        return np.concatenate(parts)


@dataclass(frozen=True, eq=False)
class TypedTrajectories:
    """A batch: ``final`` (B, K, Z, M), ``steps``, ``converged`` (B,), ``sizes`` (B, K)."""

    final: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class TypedFixedPoint:
    """A fixed point on the type-symmetric subspace (``x`` (K, Z, M)) with its full-space stability."""

    x: np.ndarray
    residual: float
    stability: TypedStability

    @property
    def stable(self) -> bool:
        return self.stability.stable


@dataclass(frozen=True, eq=False)
class TypedTrajectory:
    """A trajectory on the type-symmetric subspace: ``x`` (steps, K, Z, M) or None, ``final``, ``steps``, ..."""

    x: np.ndarray | None
    final: np.ndarray
    steps: int
    converged: bool
    sizes: tuple


class TypedDynamics:
    """Compiled CRLD of a multi-type anonymous game; sizes and every parameter at run time.

    Create with :func:`crldgen.anonymous.types.compile_types`.
    """

    def __init__(self, module: ModuleType, *, learner="sarsa", prefactor=True, sizes=(2, 2), alpha=0.05,
                 beta=50.0, gamma=0.75, path=None, **game_params):
        self.module = module
        self.path = path
        kind = _LEARNERS.get(str(learner).lower())
        if kind is None:
            raise ParameterError(f"unknown learner {learner!r}; choose 'sarsa' or 'actor_critic'")
        self.learner = "sarsa" if kind == 0 else "actor_critic"
        self._kind = kind
        self.prefactor = bool(prefactor)
        self.n_types, self.n_states, self.n_actions = module.N_TYPES, module.N_STATES, module.N_ACTIONS
        self.types, self.states, self.actions = module.TYPES, module.STATES, module.ACTIONS
        self.param_names = tuple(module.PARAM_NAMES)
        self.n_free = self.n_states * (self.n_actions - 1)
        #: 'moments' (closed-form averages, cost independent of the sizes) or 'sum' (product-multinomial count sums)
        self.method = "moments" if getattr(module, "USE_MOMENTS", False) else "sum"
        self._checked: set = set()
        missing = [p for p in self.param_names if p not in game_params]
        if missing:
            raise ParameterError(f"game parameters {missing} have no default value")
        self._defaults = {"sizes": sizes, "alpha": alpha, "beta": beta, "gamma": gamma, **game_params}
        self._defaults = self._resolve({})

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_types, self.n_states, self.n_actions)

    # -------------------------------------------------------------- parameters
    def _resolve(self, p: dict):
        vals = dict(self._defaults) if isinstance(self._defaults, dict) else self.defaults
        for k, v in p.items():
            if k not in vals:
                raise ParameterError(f"unknown parameter {k!r}; use sizes, alpha, beta, gamma or one of "
                                     f"{list(self.param_names)}")
            vals[k] = v
        try:
            sizes = tuple(np.atleast_1d(vals["sizes"]).tolist())
        except TypeError as exc:
            raise ParameterError(f"sizes = {vals['sizes']!r}: one positive integer per type") from exc
        if len(sizes) != self.n_types:
            raise ParameterError(f"sizes = {vals['sizes']!r}: expected {self.n_types} sizes, one per type "
                                 f"{self.types}")
        for t, n in zip(self.types, sizes):
            if isinstance(n, bool) or not float(n).is_integer() or n < 1:
                raise ParameterError(f"size of type {t!r} = {n!r}: must be a positive integer")
        sizes = np.array([int(n) for n in sizes], dtype=np.int64)
        learn = []
        for name, (ok, rule) in _RULES.items():
            v = np.asarray(vals[name], dtype=float)
            if v.ndim == 0:
                v = np.full(self.n_types, float(v))
            if v.shape != (self.n_types,):
                raise ParameterError(f"{name} = {vals[name]!r}: a scalar or one value per type {self.types}")
            for t, vt in zip(self.types, v):
                if not np.isfinite(vt) or not ok(vt):
                    raise ParameterError(f"{name} of type {t!r} = {vt}: {rule}")
            learn.append(v)
        th = np.array([float(vals[k]) for k in self.param_names])
        if not np.all(np.isfinite(th)):
            raise ParameterError(f"game parameters {dict(zip(self.param_names, th))} must be finite")
        return (sizes, *learn, th)

    @property
    def defaults(self) -> dict:
        sizes, a, b, g, th = self._defaults
        return dict(sizes=tuple(sizes.tolist()), alpha=a.copy(), beta=b.copy(), gamma=g.copy(),
                    **dict(zip(self.param_names, th.tolist())))

    def params(self, **p):
        """``(sizes, alpha, beta, gamma, theta)``: the defaults overridden by ``p`` (the game checked at them)."""
        res = self._defaults if not p else self._resolve(p)
        self.check_game(res[0], res[4])
        return res

    def check_game(self, sizes, theta) -> None:
        """Check T and R at every count vector of ``sizes`` (memoized per (sizes, theta)).

        The check visits ``prod_tau C(n_tau + M - 1, M - 1)`` count vectors (about 1e8 per
        second). Above :data:`MAX_CHECKED_VECTORS` it is skipped: the count-sum path still
        checks every T row it uses, the moment path then checks nothing.
        """
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        theta = np.ascontiguousarray(theta, dtype=float)
        key = (sizes.tobytes(), theta.tobytes())
        if key in self._checked:
            return
        vectors = 1
        for n in sizes.tolist():
            vectors *= math.comb(n + self.n_actions - 1, self.n_actions - 1)
        if vectors > MAX_CHECKED_VECTORS:
            return
        info, val = self._info()
        st = self.module.check_game(sizes, theta, info, val)
        if st:
            self._raise(st, info, val, sizes, theta)
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked.add(key)

    def _info(self):
        return np.zeros(INFO_SIZE, dtype=np.int64), np.zeros(1)

    def _raise(self, st, info, val, sizes, theta):
        if st == 4:
            raise StrategyError("the update is not finite (overflow: extreme beta or rewards)")
        s, a, t, tau = (int(v) for v in info[1:5])
        M = self.n_actions
        k = {name: int(info[5 + tt * M + b]) for tt, row in enumerate(self.module.COUNT_NAMES)
             for b, name in enumerate(row)}
        at = (f"at sizes {dict(zip(self.types, np.asarray(sizes).tolist()))}, parameters "
              f"{dict(zip(self.param_names, np.asarray(theta).tolist()))}")
        if st == 1:
            raise GameError(f"T[{self.states[s]!r}, k={k}, {self.states[t]!r}] = {val[0]:.6g} {at} is not a "
                            "probability in [0, 1]")
        if st == 2:
            raise GameError(f"T[{self.states[s]!r}, k={k}, :] sums to {val[0]:.12g} {at}; each row must sum to 1")
        if st == 3:
            raise GameError(f"R[{self.types[tau]!r}, {self.states[s]!r}, {self.actions[a]!r}, k={k}, "
                            f"{self.states[t]!r}] = {val[0]} {at} is not finite")
        raise GameError(f"kernel status {st} {at}")

    # -------------------------------------------------------------- strategies
    def check_strategy(self, x, name: str = "x", interior: bool = False) -> np.ndarray:
        """Validate a type-symmetric strategy ``x[tau, s, a]`` (shape (K, Z, M), finite, on the simplex)."""
        try:
            arr = np.array(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
        if arr.shape != self.shape:
            raise StrategyError(f"{name} has shape {arr.shape}; expected (K, Z, M) = {self.shape} (the strategy of "
                                "every agent of each type)")
        bad = np.argwhere(~np.isfinite(arr) | (arr < 0) | ((arr <= 0) if interior else False))
        if len(bad):
            i = tuple(int(v) for v in bad[0])
            rule = "is not finite" if not np.isfinite(arr[i]) else \
                ("is negative" if arr[i] < 0 else "is 0; the dynamics need strictly positive strategies (ln x)")
            raise StrategyError(f"{name}{list(i)} = {arr[i]} {rule}")
        sums = arr.sum(-1)
        bad = np.argwhere(np.abs(sums - 1) > SIMPLEX_ATOL)
        if len(bad):
            i = tuple(int(v) for v in bad[0])
            raise StrategyError(f"{name}[{i[0]}, {i[1]}, :] sums to {sums[i]:.12g}; each strategy must sum to 1")
        return arr

    def uniform_strategy(self) -> np.ndarray:
        return np.full(self.shape, 1.0 / self.n_actions)

    def to_logit(self, x) -> np.ndarray:
        x = self.check_strategy(x, interior=True)
        return np.log(x[..., :-1] / x[..., -1:])

    def from_logit(self, y) -> np.ndarray:
        y = np.ascontiguousarray(y, dtype=float).ravel()
        if y.size != self.n_types * self.n_free:
            raise StrategyError(f"y has {y.size} entries; expected K*Z*(M-1) = {self.n_types * self.n_free}")
        x = np.empty(int(np.prod(self.shape)))
        self.module.strategy_of_logit(y, x)
        return x.reshape(self.shape)

    def joint(self, x, sizes=None) -> np.ndarray:
        """The joint strategy of the full game, agents ordered by type (shape (sum(sizes), Z, M))."""
        sizes = self.params(**({} if sizes is None else {"sizes": sizes}))[0]
        x = self.check_strategy(x)
        return np.concatenate([np.broadcast_to(x[tau], (n,) + x.shape[1:]) for tau, n in enumerate(sizes)])

    # ----------------------------------------------------------------- kernels
    def averages(self, x, **p) -> tuple[np.ndarray, np.ndarray]:
        """``(Tsa[tau, s, a, s'], Rsa[tau, s, a])``: the focal averages of every type."""
        x = self.check_strategy(x).ravel()
        sizes, a, b, g, th = self.params(**p)
        K, Z, M = self.shape
        Tsa, Rsa = np.empty(K * Z * M * Z), np.empty(K * Z * M)
        info, val = self._info()
        st = self.module.averages(x, sizes, th, Tsa, Rsa, info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        return Tsa.reshape(K, Z, M, Z), Rsa.reshape(K, Z, M)

    def tderror(self, x, normalize: bool = False, **p) -> np.ndarray:
        """TD errors ``delta[tau, s, a]`` (scaled by beta of the type); ``normalize`` subtracts the action mean."""
        x = self.check_strategy(x, interior=self.learner == "sarsa").ravel()
        sizes, a, b, g, th = self.params(**p)
        out = np.empty(x.size)
        info, val = self._info()
        st = self.module.tderror(x, sizes, th, b, g, self._kind, self.prefactor, out, info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        out = out.reshape(self.shape)
        return out - out.mean(-1, keepdims=True) if normalize else out

    def logit_step(self, y, direction: float = 1.0, **p) -> np.ndarray:
        """One step in log-ratio coordinates ``y[tau, s, a]`` (shape (K, Z, M-1))."""
        y = np.ascontiguousarray(y, dtype=float).ravel()
        if y.size != self.n_types * self.n_free:
            raise StrategyError(f"y has {y.size} entries; expected K*Z*(M-1) = {self.n_types * self.n_free}")
        sizes, a, b, g, th = self.params(**p)
        out = np.empty(y.size)
        info, val = self._info()
        st = self.module.logit_step(y, sizes, th, a, b, g, self._kind, self.prefactor, float(direction), out,
                                    info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        return out.reshape(self.n_types, self.n_states, self.n_actions - 1)

    def step(self, x, **p) -> np.ndarray:
        """One learning step of every agent, ``x -> x'`` (shape (K, Z, M))."""
        return self.from_logit(self.logit_step(self.to_logit(x), **p))

    def step_loop(self, x, steps: int, **p) -> np.ndarray:
        """``steps`` learning steps in one compiled loop (no convergence test; for benchmarks)."""
        y = self.to_logit(x).ravel()
        sizes, a, b, g, th = self.params(**p)
        out = np.empty(y.size)
        info, val = self._info()
        st = self.module.step_loop(y, sizes, th, a, b, g, self._kind, self.prefactor, int(steps), out, info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        return self.from_logit(out)

    def jacobian_blocks(self, x, **p) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)``: ``A[tau] = dy'_i/dy_i``, ``B[tau, sigma] = dy'_i/dy_j`` (j != i of type sigma), logit coords.

        Shapes ``(K, F, F)`` and ``(K, K, F, F)``, F = Z(M-1); ``B[tau, tau] = 0`` when ``n_tau = 1``.
        """
        x = self.check_strategy(x, interior=True).ravel()
        sizes, a, b, g, th = self.params(**p)
        K, F = self.n_types, self.n_free
        A, B = np.empty(K * F * F), np.empty(K * K * F * F)
        info, val = self._info()
        st = self.module.jacobian_blocks(x, sizes, th, a, b, g, self._kind, self.prefactor, 1.0, A, B, info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        return A.reshape(K, F, F), B.reshape(K, K, F, F)

    def symmetric_jacobian(self, x, **p) -> np.ndarray:
        """The coupled type-symmetric matrix ``S`` (K F x K F): the Jacobian of the map on that subspace."""
        sizes = self.params(**p)[0]
        A, B = self.jacobian_blocks(x, **p)
        return self._S(sizes, A, B)

    def _S(self, sizes, A, B):
        K, F = self.n_types, self.n_free
        S = np.empty((K * F, K * F))
        for tau in range(K):
            for sg in range(K):
                blk = A[tau] + (sizes[tau] - 1) * B[tau, tau] if sg == tau else sizes[sg] * B[tau, sg]
                S[tau * F:(tau + 1) * F, sg * F:(sg + 1) * F] = blk
        return S

    def full_jacobian(self, x, **p) -> np.ndarray:
        """The full Jacobian (agents ordered by type, agent-major like :class:`crldgen.Dynamics`)."""
        sizes = self.params(**p)[0]
        A, B = self.jacobian_blocks(x, **p)
        owner = [tau for tau, n in enumerate(sizes) for _ in range(n)]
        F = self.n_free
        N = len(owner)
        J = np.empty((N * F, N * F))
        for i, ti in enumerate(owner):
            for j, tj in enumerate(owner):
                J[i * F:(i + 1) * F, j * F:(j + 1) * F] = A[ti] if i == j else B[ti, tj]
        return J

    def stability(self, x, **p) -> TypedStability:
        """Type-symmetric and per-type symmetry-breaking eigenvalues of the full Jacobian at ``x``."""
        sizes, a, *_ = self.params(**p)
        A, B = self.jacobian_blocks(x, **p)
        S = self._S(sizes, A, B)
        brk = tuple(_order(np.linalg.eigvals(A[tau] - B[tau, tau])) if sizes[tau] >= 2 else np.empty(0, complex)
                    for tau in range(self.n_types))
        return TypedStability(sizes=tuple(sizes.tolist()), symmetric=_order(np.linalg.eigvals(S)), breaking=brk,
                              alpha=a, S=S, A=A, B=B)

    def trajectory(self, x0, tmax: int, tol: float | None = None, *, every: int | None = 1, **p) -> TypedTrajectory:
        """Learning trajectory from ``x0`` (compiled loop; the full game's stopping rule ``||X' - X||_2 < tol``)."""
        y0 = self.to_logit(x0).ravel()
        sizes, a, b, g, th = self.params(**p)
        tmax = int(tmax)
        if tmax < 1:
            raise ParameterError(f"tmax = {tmax}: need at least one step")
        ev = 0 if every is None else int(every)
        rows = 0 if ev <= 0 else -(-tmax // ev)
        L = int(np.prod(self.shape))
        Xrec = np.empty((rows, L))
        x_out, y_out = np.empty(L), np.empty(y0.size)
        info, val = self._info()
        t, conv, st, stored = self.module.trajectory(y0, sizes, th, a, b, g, self._kind, self.prefactor, tmax,
                                                     -1.0 if tol is None else float(tol), 1.0, ev, Xrec, x_out,
                                                     y_out, info, val)
        if st:
            self._raise(st, info, val, sizes, th)
        X = None if ev <= 0 else Xrec[:stored].reshape(stored, *self.shape)
        return TypedTrajectory(x=X, final=x_out.reshape(self.shape), steps=int(t), converged=bool(conv),
                               sizes=tuple(sizes.tolist()))

    def fixed_point(self, x0, *, tol: float = 1e-12, max_iter: int = 100, **p) -> TypedFixedPoint:
        """Newton's method on the type-symmetric subspace from ``x0`` (Jacobian ``S - I``).

        Raises :class:`~crldgen.StrategyError` when Newton does not converge (iterate a
        trajectory first to get closer).
        """
        y = self.to_logit(x0).ravel()
        res = np.inf
        for _ in range(max_iter + 1):
            g = self.logit_step(y, **p).ravel() - y
            res = float(np.max(np.abs(g)))
            if res < tol:
                x = self.from_logit(y)
                return TypedFixedPoint(x=x, residual=res, stability=self.stability(x, **p))
            S = self.symmetric_jacobian(self.from_logit(y), **p)
            try:
                dy = np.linalg.solve(S - np.eye(y.size), -g)
            except np.linalg.LinAlgError:
                break
            y = y + min(1.0, 2.0 / max(float(np.max(np.abs(dy))), 1e-300)) * dy  # damp long steps in logit space
        raise StrategyError(f"Newton did not converge from x0 (residual {res:.3g} after {max_iter} iterations)")

    def trajectories(self, x0s, tmax: int, tol: float | None = None, *, sizes=None, **p) -> TypedTrajectories:
        """A batch in parallel: ``x0s`` (B, K, Z, M) or one x0; ``sizes`` one tuple or (B, K); a game parameter
        an array of length B; ``alpha``/``beta``/``gamma`` a scalar, one per type (K,) or one row per run (B, K)."""
        x0s = np.asarray(x0s, dtype=float)
        lens = {}
        if x0s.ndim == 4:
            lens["x0s"] = x0s.shape[0]
        sz = None if sizes is None else np.asarray(sizes)
        if sz is not None and sz.ndim == 2:
            lens["sizes"] = sz.shape[0]
        for k, v in p.items():
            nd = np.ndim(v)
            if (k in _RULES and nd == 2) or (k not in _RULES and nd == 1):
                lens[k] = np.shape(v)[0]
        if len(set(lens.values())) > 1:
            raise ParameterError(f"batch arrays have different lengths {lens}")
        B = next(iter(lens.values())) if lens else 1
        if x0s.ndim == 3:
            x0s = np.broadcast_to(x0s, (B,) + x0s.shape)
        Y0 = np.stack([self.to_logit(x0s[j]).ravel() for j in range(B)])
        K = self.n_types
        Sz, Th = np.empty((B, K), dtype=np.int64), np.empty((B, len(self.param_names)))
        Al, Be, Ga = np.empty((B, K)), np.empty((B, K)), np.empty((B, K))
        for j in range(B):
            pj = {k: (np.asarray(v)[j] if k in lens else v) for k, v in p.items()}
            if sz is not None:
                pj["sizes"] = sz[j] if sz.ndim == 2 else sz
            Sz[j], Al[j], Be[j], Ga[j], Th[j] = self.params(**pj)
        L = int(np.prod(self.shape))
        X_out, Y_out = np.empty((B, L)), np.empty((B, Y0.shape[1]))
        lengths, conv, status = np.empty(B, dtype=np.int64), np.empty(B, dtype=np.bool_), np.empty(B, dtype=np.int64)
        Info, Val = np.zeros((B, INFO_SIZE), dtype=np.int64), np.zeros((B, 1))
        self.module.trajectories(Y0, Sz, Th, Al, Be, Ga, self._kind, self.prefactor, int(tmax),
                                 -1.0 if tol is None else float(tol), X_out, Y_out, lengths, conv, status, Info, Val)
        bad = np.flatnonzero(status)
        if len(bad):
            j = bad[0]
            self._raise(int(status[j]), Info[j], Val[j], Sz[j], Th[j])
        return TypedTrajectories(final=X_out.reshape(B, *self.shape), steps=lengths, converged=conv, sizes=Sz)
