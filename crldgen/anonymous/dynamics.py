"""Compiled CRLD of an anonymous game on the symmetric subspace (numpy + numba only, no sympy).

A symmetric strategy is an array ``x[s, a]`` of shape ``(Z, M)``: every one of the ``n``
agents plays ``x``. The joint strategy of the full game is ``X[i] = x`` for all i.
Every method takes ``n`` and parameter overrides per call (``alpha``, ``beta``,
``gamma``, game parameters by name); nothing recompiles.

Stability (crld-math section 11): at a symmetric point the full ``n``-agent Jacobian is
``I_n (x) (A - B) + 1 1^T (x) B`` with ``A = dy'_i/dy_i`` and ``B = dy'_i/dy_j``;
its eigenvalues are those of ``A + (n-1) B`` (symmetric modes) and of ``A - B``
(``n - 1`` times, symmetry-breaking modes). A symmetric fixed point is stable only if
both sets are inside the unit circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ..errors import GameError, ParameterError, StrategyError

_LEARNERS = {"sarsa": 0, "actor_critic": 1, "actor-critic": 1, "ac": 1}
_RULES = (
    ("alpha", lambda v: 0 < v <= 1, "learning rates must lie in (0, 1]"),
    ("beta", lambda v: v > 0, "choice intensities must be > 0"),
    ("gamma", lambda v: 0 <= v < 1, "discount factors must lie in [0, 1)"),
)
SIMPLEX_ATOL = 1e-8
_STATUS_TEXT = {1: "is not a probability in [0, 1]", 2: "row sums to {v} (must be 1)", 3: "is not finite",
                4: "the update is not finite (overflow)"}


@dataclass(frozen=True)
class AnonymousAverages:
    """Averages and values of the representative agent at a symmetric strategy (section 11)."""

    Tsa: np.ndarray  #: (Z, M, Z) transition given own action
    Rsa: np.ndarray  #: (Z, M) reward given own action
    Tss: np.ndarray  #: (Z, Z)
    Ris: np.ndarray  #: (Z,)
    V: np.ndarray  #: (Z,)
    Q: np.ndarray  #: (Z, M)


@dataclass(frozen=True)
class AnonymousStability:
    """Eigenvalues of the full n-agent Jacobian at a symmetric strategy, split by symmetry.

    ``symmetric`` are the eigenvalues of ``A + (n-1) B`` (modes along the symmetric
    subspace), ``breaking`` those of ``A - B`` (each ``n - 1`` times; empty for n = 1).
    ``stable`` is the map's verdict in the full space (spectral radius < 1 over both sets);
    ``stable_symmetric`` judges the symmetric subspace only. ``flow_*`` are the
    eigenvalues of the continuous-time flow, ``(lambda - 1) / alpha``.
    """

    n: int
    symmetric: np.ndarray
    breaking: np.ndarray
    alpha: float
    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)

    @property
    def rho_symmetric(self) -> float:
        return float(np.max(np.abs(self.symmetric)))

    @property
    def rho_breaking(self) -> float:
        return float(np.max(np.abs(self.breaking))) if len(self.breaking) else 0.0

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
    def flow_symmetric(self) -> np.ndarray:
        return (self.symmetric - 1.0) / self.alpha

    @property
    def flow_breaking(self) -> np.ndarray:
        return (self.breaking - 1.0) / self.alpha

    def eigenvalues(self) -> np.ndarray:
        """All ``n * Z * (M-1)`` eigenvalues of the full Jacobian (breaking ones repeated ``n-1`` times)."""
        return np.concatenate([self.symmetric, np.tile(self.breaking, self.n - 1)])

    @property
    def type(self) -> str:
        if self.stable:
            return "stable"
        if self.stable_symmetric:
            return "unstable to symmetry breaking"
        return "unstable"


@dataclass(frozen=True, eq=False)
class AnonymousTrajectory:
    """A trajectory on the symmetric subspace: ``x`` (steps, Z, M) or None, ``final``, ``steps``, ..."""

    x: np.ndarray | None
    final: np.ndarray
    final_logit: np.ndarray
    steps: int
    converged: bool
    every: int | None
    n: int
    params: dict


@dataclass(frozen=True, eq=False)
class AnonymousTrajectories:
    """A batch: ``final`` (B, Z, M), ``steps``, ``converged`` (B,), ``n`` (B,), ``params`` (each (B,))."""

    final: np.ndarray
    final_logit: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    n: np.ndarray
    params: dict

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class SymmetricFixedPoint:
    """A fixed point on the symmetric subspace with its full-space stability."""

    x: np.ndarray
    y: np.ndarray
    residual: float
    stability: AnonymousStability

    @property
    def stable(self) -> bool:
        return self.stability.stable


@dataclass(frozen=True)
class AnonymousBranch:
    """A branch of symmetric fixed points: parameter values, points, full-space stability, special points."""

    param: str
    values: np.ndarray
    x: np.ndarray  #: (K, Z, M)
    rho_symmetric: np.ndarray
    rho_breaking: np.ndarray
    stable: np.ndarray
    folds: list  #: parameter values where an eigenvalue of A + (n-1)B crosses +1 (turning points)
    breaking_points: list  #: values where an eigenvalue of A - B crosses the unit circle


class AnonymousDynamics:
    """Compiled CRLD of an anonymous game (one type), n and every parameter at run time.

    Create with :func:`crldgen.anonymous.compile`.
    """

    def __init__(self, module: ModuleType, *, learner="sarsa", prefactor=True, n=2, alpha=0.05, beta=50.0,
                 gamma=0.75, path=None, **game_params):
        self.module = module
        self.path = path
        kind = _LEARNERS.get(str(learner).lower())
        if kind is None:
            raise ParameterError(f"unknown learner {learner!r}; choose 'sarsa' or 'actor_critic'")
        self.learner = "sarsa" if kind == 0 else "actor_critic"
        self._kind = kind
        self.prefactor = bool(prefactor)
        self.n_states, self.n_actions = module.N_STATES, module.N_ACTIONS
        self.states, self.actions = module.STATES, module.ACTIONS
        self.param_names = tuple(module.PARAM_NAMES)
        self.n_free = self.n_states * (self.n_actions - 1)
        #: 'moments' (closed-form averages, cost independent of n) or 'sum' (multinomial count sums)
        self.method = "moments" if getattr(module, "USE_MOMENTS", False) else "sum"
        self._checked: set = set()
        self._memo: dict = {}  # resolved (and game-checked) parameter overrides
        missing = [p for p in self.param_names if p not in game_params]
        if missing:
            raise ParameterError(f"game parameters {missing} have no default value")
        self._defaults = {"n": n, "alpha": alpha, "beta": beta, "gamma": gamma}
        self._defaults.update(game_params)
        self._defaults = self._resolve({}, check_game=False)

    # -------------------------------------------------------------- parameters
    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_states, self.n_actions)

    @property
    def defaults(self) -> dict:
        n, a, b, g, th = self._defaults
        return dict(n=n, alpha=a, beta=b, gamma=g, **dict(zip(self.param_names, th.tolist())))

    def _resolve(self, p: dict, check_game: bool = True):
        base = self._defaults if isinstance(self._defaults, dict) else self.defaults
        vals = dict(base)
        for k, v in p.items():
            if k not in vals:
                raise ParameterError(f"unknown parameter {k!r}; use n, alpha, beta, gamma or one of "
                                     f"{list(self.param_names)}")
            vals[k] = v
        n = vals["n"]
        if isinstance(n, (bool, np.bool_)) or not float(n).is_integer() or n < 1:
            raise ParameterError(f"n = {n!r}: the number of agents must be a positive integer")
        n = int(n)
        out = []
        for name, ok, rule in _RULES:
            v = vals[name]
            if np.ndim(v) != 0:
                raise ParameterError(f"{name} = {v!r}: one value for all agents of the type (a scalar)")
            v = float(v)
            if not np.isfinite(v) or not ok(v):
                raise ParameterError(f"{name} = {v}: {rule}")
            out.append(v)
        th = np.array([float(vals[k]) for k in self.param_names])
        if not np.all(np.isfinite(th)):
            raise ParameterError(f"game parameters {dict(zip(self.param_names, th))} must be finite")
        if check_game:
            self.check_game(n, th)
        return (n, *out, th)

    def params(self, **p):
        """``(n, alpha, beta, gamma, theta)``: the defaults overridden by ``p`` (the game checked at them)."""
        if not p:
            n, *_, th = self._defaults
            self.check_game(n, th)
            return self._defaults
        try:
            key = tuple(sorted(p.items()))
            hash(key)
        except TypeError:  # array-valued overrides: no memo
            return self._resolve(p)
        res = self._memo.get(key)
        if res is None:
            res = self._resolve(p)
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[key] = res
        return res

    def check_game(self, n: int, theta) -> None:
        """Check T and R at every count vector of ``n`` agents (memoized per (n, theta))."""
        theta = np.ascontiguousarray(theta, dtype=float)
        key = (int(n), theta.tobytes())
        if key in self._checked:
            return
        info, val = np.zeros(8, dtype=np.int64), np.zeros(1)
        st = self.module.check_game(int(n), theta, info, val)
        if st:
            self._raise(st, info, val, n, theta)
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked.add(key)

    def _raise(self, st, info, val, n, theta):
        if st == 4:
            raise StrategyError("the update is not finite (overflow: extreme beta or rewards)")
        s, a, t = int(info[1]), int(info[2]), int(info[3])
        k = dict(zip(self.module.COUNT_NAMES, info[4:4 + self.n_actions].tolist()))
        at = f"at n={n}, parameters {dict(zip(self.param_names, np.asarray(theta).tolist()))}"
        if st in (1, 2):
            entry = f"T[{self.states[s]!r}, k={k}, " + (f"{self.states[t]!r}]" if t >= 0 else ":]")
            what = _STATUS_TEXT[st].format(v=f"{val[0]:.12g}")
            raise GameError(f"{entry} = {val[0]:.6g} {at} {what}" if st == 1 else f"{entry} {what} {at}")
        if st == 3:
            raise GameError(f"R[{self.states[s]!r}, {self.actions[a]!r}, k={k}, {self.states[t]!r}] = {val[0]} "
                            f"{at} is not finite")
        raise GameError(f"kernel status {st} {at}")

    # -------------------------------------------------------------- strategies
    def check_strategy(self, x, name: str = "x", interior: bool = False) -> np.ndarray:
        """Validate a symmetric strategy ``x[s, a]`` (shape (Z, M), finite, on the simplex)."""
        try:
            arr = np.array(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
        if arr.shape == self.shape:  # fast path; NaN/inf fail these tests and get the detailed message below
            low = arr.min()
            if (low > 0 or (low >= 0 and not interior)) and abs(arr.sum(-1) - 1).max() <= SIMPLEX_ATOL:
                return arr
        if arr.shape != self.shape:
            raise StrategyError(f"{name} has shape {arr.shape}; expected (Z, M) = {self.shape} (the strategy every "
                                "agent plays)")
        bad = np.argwhere(~np.isfinite(arr) | (arr < 0) | ((arr <= 0) if interior else False))
        if len(bad):
            i = tuple(bad[0])
            rule = "is not finite" if not np.isfinite(arr[i]) else \
                ("is negative" if arr[i] < 0 else "is 0; the dynamics need strictly positive strategies (ln x)")
            raise StrategyError(f"{name}{list(map(int, i))} = {arr[i]} {rule}")
        sums = arr.sum(-1)
        bad = np.flatnonzero(np.abs(sums - 1) > SIMPLEX_ATOL)
        if len(bad):
            raise StrategyError(f"{name}[{bad[0]}, :] sums to {sums[bad[0]]:.12g}; each state's strategy must "
                                "sum to 1")
        return arr

    def uniform_strategy(self) -> np.ndarray:
        return np.full(self.shape, 1.0 / self.n_actions)

    def to_logit(self, x) -> np.ndarray:
        x = self.check_strategy(x, interior=True)
        return np.log(x[:, :-1] / x[:, -1:])

    def from_logit(self, y) -> np.ndarray:
        y = np.ascontiguousarray(y, dtype=float).ravel()
        if y.size != self.n_free:
            raise StrategyError(f"y has {y.size} entries; expected Z*(M-1) = {self.n_free}")
        x = np.empty(self.n_states * self.n_actions)
        self.module.strategy_of_logit(y, x)
        return x.reshape(self.shape)

    def joint(self, x, n: int | None = None) -> np.ndarray:
        """The joint strategy ``X[i, s, a] = x[s, a]`` of the full game (shape (n, Z, M))."""
        n = self._defaults[0] if n is None else int(n)
        return np.broadcast_to(self.check_strategy(x), (n,) + self.shape).copy()

    # ----------------------------------------------------------------- kernels
    def _info(self):
        return np.zeros(8, dtype=np.int64), np.zeros(1)

    def averages(self, x, **p) -> AnonymousAverages:
        """Focal-agent averages and values at the symmetric strategy ``x``."""
        x = self.check_strategy(x).ravel()
        n, a, b, g, th = self.params(**p)
        Z, M = self.shape
        Tsa, Rsa = np.empty(Z * M * Z), np.empty(Z * M)
        info, val = self._info()
        st = self.module.averages(x, n, th, Tsa, Rsa, info, val)
        if st:
            self._raise(st, info, val, n, th)
        Tss, Ris, W, V, Qv = np.empty(Z * Z), np.empty(Z), np.empty(Z * Z), np.empty(Z), np.empty(Z * M)
        self.module.values_from(x, Tsa, Rsa, g, self.prefactor, Tss, Ris, W, V, Qv)
        return AnonymousAverages(Tsa.reshape(Z, M, Z), Rsa.reshape(Z, M), Tss.reshape(Z, Z), Ris, V,
                                 Qv.reshape(Z, M))

    def tderror(self, x, normalize: bool = False, **p) -> np.ndarray:
        """TD error ``delta[s, a]`` of every agent (scaled by beta); ``normalize`` subtracts the action mean."""
        x = self.check_strategy(x, interior=self.learner == "sarsa").ravel()
        n, a, b, g, th = self.params(**p)
        out = np.empty(x.size)
        info, val = self._info()
        st = self.module.tderror(x, n, th, b, g, self._kind, self.prefactor, out, info, val)
        if st:
            self._raise(st, info, val, n, th)
        out = out.reshape(self.shape)
        return out - out.mean(-1, keepdims=True) if normalize else out

    def logit_step(self, y, direction: float = 1.0, **p) -> np.ndarray:
        """One step in log-ratio coordinates ``y[s, a]`` (shape (Z, M-1))."""
        y = np.ascontiguousarray(y, dtype=float).ravel()
        if y.size != self.n_free:
            raise StrategyError(f"y has {y.size} entries; expected Z*(M-1) = {self.n_free}")
        n, a, b, g, th = self.params(**p)
        out = np.empty(self.n_free)
        info, val = self._info()
        st = self.module.logit_step(y, n, th, a, b, g, self._kind, self.prefactor, float(direction), out, info, val)
        if st:
            self._raise(st, info, val, n, th)
        return out.reshape(self.n_states, self.n_actions - 1)

    def step(self, x, **p) -> np.ndarray:
        """One learning step ``x -> x'`` of every agent (crld-math section 4 on the symmetric subspace)."""
        return self.from_logit(self.logit_step(self.to_logit(x), **p))

    def reverse_step(self, x, **p) -> np.ndarray:
        """One step of the reverse-time map (``-delta``)."""
        return self.from_logit(self.logit_step(self.to_logit(x), direction=-1.0, **p))

    def jacobian_blocks(self, x, **p) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)``: ``dy'_i/dy_i`` and ``dy'_i/dy_j`` (j != i) in logit coordinates, each (F, F), F = Z(M-1)."""
        x = self.check_strategy(x, interior=True).ravel()
        n, a, b, g, th = self.params(**p)
        F = self.n_free
        A, B = np.empty(F * F), np.empty(F * F)
        info, val = self._info()
        st = self.module.jacobian_blocks(x, n, th, a, b, g, self._kind, self.prefactor, 1.0, A, B, info, val)
        if st:
            self._raise(st, info, val, n, th)
        return A.reshape(F, F), B.reshape(F, F)

    def full_jacobian(self, x, **p) -> np.ndarray:
        """The full n-agent Jacobian ``I_n (x) (A - B) + 1 1^T (x) B`` (agent-major, like :class:`crldgen.Dynamics`)."""
        n = self.params(**p)[0]
        A, B = self.jacobian_blocks(x, **p)
        return np.kron(np.eye(n), A - B) + np.kron(np.ones((n, n)), B)

    def stability(self, x, **p) -> AnonymousStability:
        """Symmetric and symmetry-breaking eigenvalues of the full Jacobian at ``x`` (see the module docstring)."""
        n, a, *_ = self.params(**p)
        A, B = self.jacobian_blocks(x, **p)
        sym = np.linalg.eigvals(A + (n - 1) * B)
        brk = np.linalg.eigvals(A - B) if n >= 2 else np.empty(0, dtype=complex)
        order = lambda e: e[np.argsort(-np.abs(e), kind="stable")]  # noqa: E731
        return AnonymousStability(n=n, symmetric=order(sym), breaking=order(brk), alpha=a, A=A, B=B)

    # --------------------------------------------------------------- iteration
    def trajectory(self, x0, tmax: int, tol: float | None = None, *, every: int | None = 1, reverse: bool = False,
                   **p) -> AnonymousTrajectory:
        """Learning trajectory from the symmetric strategy ``x0`` (compiled loop in logit coordinates).

        Stops when the joint strategies of two consecutive steps are closer than ``tol``
        (``sqrt(n) ||x' - x||_2``, the full game's rule) or after ``tmax`` strategies.
        """
        y0 = self.to_logit(x0).ravel()
        n, a, b, g, th = self.params(**p)
        tmax = int(tmax)
        if tmax < 1:
            raise ParameterError(f"tmax = {tmax}: need at least one step")
        ev = 0 if every is None else int(every)
        rows = 0 if ev <= 0 else -(-tmax // ev)
        Xrec = np.empty((rows, self.n_states * self.n_actions))
        x_out, y_out = np.empty(self.n_states * self.n_actions), np.empty(self.n_free)
        info, val = self._info()
        t, conv, st, stored = self.module.trajectory(
            y0, n, th, a, b, g, self._kind, self.prefactor, tmax, -1.0 if tol is None else float(tol),
            -1.0 if reverse else 1.0, ev, Xrec, x_out, y_out, info, val)
        if st:
            self._raise(st, info, val, n, th)
        X = None if ev <= 0 else Xrec[:stored].reshape(stored, *self.shape)
        return AnonymousTrajectory(x=X, final=x_out.reshape(self.shape),
                                   final_logit=y_out.reshape(self.n_states, -1), steps=int(t),
                                   converged=bool(conv), every=every, n=n,
                                   params=dict(alpha=a, beta=b, gamma=g, **dict(zip(self.param_names, th))))

    def trajectories(self, x0s, tmax: int, tol: float | None = None, *, reverse: bool = False,
                     **p) -> AnonymousTrajectories:
        """A batch in parallel: ``x0s`` (B, Z, M) or one x0; any parameter (also ``n``) may be an array of length B."""
        x0s = np.asarray(x0s, dtype=float)
        sizes = {k: np.size(v) for k, v in p.items() if np.ndim(v) > 0}
        if x0s.ndim == 3:
            sizes["x0s"] = x0s.shape[0]
        Bs = set(sizes.values())
        if len(Bs) > 1:
            raise ParameterError(f"batch arrays have different lengths {sizes}")
        B = Bs.pop() if Bs else 1
        if x0s.ndim == 2:
            x0s = np.broadcast_to(x0s, (B,) + x0s.shape)
        Y0 = np.stack([self.to_logit(x0s[j]).ravel() for j in range(B)])
        Ns, Al, Be, Ga = (np.empty(B, dtype=np.int64), np.empty(B), np.empty(B), np.empty(B))
        Th = np.empty((B, len(self.param_names)))
        for j in range(B):
            pj = {k: (np.ravel(v)[j] if np.ndim(v) > 0 else v) for k, v in p.items()}
            Ns[j], Al[j], Be[j], Ga[j], Th[j] = self.params(**pj)
        X_out, Y_out = np.empty((B, self.n_states * self.n_actions)), np.empty((B, self.n_free))
        lengths, conv = np.empty(B, dtype=np.int64), np.empty(B, dtype=np.bool_)
        status, stored = np.empty(B, dtype=np.int64), np.empty(B, dtype=np.int64)
        Info, Val = np.zeros((B, 8), dtype=np.int64), np.zeros((B, 1))
        Xrec = np.empty((B, 0, self.n_states * self.n_actions))
        self.module.trajectories(Y0, Ns, Th, Al, Be, Ga, self._kind, self.prefactor, int(tmax),
                                 -1.0 if tol is None else float(tol), -1.0 if reverse else 1.0, 0, Xrec, X_out,
                                 Y_out, lengths, conv, status, stored, Info, Val)
        bad = np.flatnonzero(status)
        if len(bad):
            j = bad[0]
            self._raise(int(status[j]), Info[j], Val[j], int(Ns[j]), Th[j])
        params = dict(alpha=Al, beta=Be, gamma=Ga, **{k: Th[:, j] for j, k in enumerate(self.param_names)})
        return AnonymousTrajectories(final=X_out.reshape(B, *self.shape),
                                     final_logit=Y_out.reshape(B, self.n_states, -1),
                                     steps=lengths, converged=conv, n=Ns, params=params)

    def sweep(self, x0, param: str, values, tmax: int, tol: float | None = None, *, carry: bool = True,
              **p) -> AnonymousTrajectories:
        """One run per value of ``param`` (``'n'`` or any parameter), each from the previous final strategy."""
        x = self.check_strategy(x0)
        finals, logits, steps, conv, ns = [], [], [], [], []
        for v in values:
            run = self.trajectory(x if carry else x0, tmax, tol, every=None, **{**p, param: v})
            finals.append(run.final)
            logits.append(run.final_logit)
            steps.append(run.steps)
            conv.append(run.converged)
            ns.append(run.n)
            if carry:
                x = run.final
        return AnonymousTrajectories(final=np.array(finals), final_logit=np.array(logits), steps=np.array(steps),
                                     converged=np.array(conv), n=np.array(ns), params={param: np.asarray(values)})

    # ---------------------------------------------------------------- analysis
    def _newton(self, y, p, tol, max_iter):
        n = self.params(**p)[0]
        F = self.n_free
        for _ in range(max_iter):
            g = self.logit_step(y, **p).ravel() - y
            res = float(np.max(np.abs(g)))
            if res < tol:
                return y, res, True
            A, B = self.jacobian_blocks(self.from_logit(y), **p)
            Jg = A + (n - 1) * B - np.eye(F)
            try:
                dy = np.linalg.solve(Jg, -g)
            except np.linalg.LinAlgError:
                return y, res, False
            lim = 2.0  # damp long steps in logit space
            scale = min(1.0, lim / max(np.max(np.abs(dy)), 1e-300))
            y = y + scale * dy
        g = self.logit_step(y, **p).ravel() - y
        res = float(np.max(np.abs(g)))
        return y, res, res < tol

    def fixed_point(self, x0, *, tol: float = 1e-12, max_iter: int = 100, **p) -> SymmetricFixedPoint:
        """Newton's method on the symmetric subspace from ``x0`` (its Jacobian is ``A + (n-1) B - I``).

        Raises :class:`~crldgen.StrategyError` when Newton does not converge; iterate a
        trajectory first to get closer.
        """
        y0 = self.to_logit(x0).ravel()
        y, res, ok = self._newton(y0, p, tol, max_iter)
        if not ok:
            raise StrategyError(f"Newton did not converge from x0 (residual {res:.3g} after {max_iter} iterations)")
        x = self.from_logit(y)
        return SymmetricFixedPoint(x=x, y=y.reshape(self.n_states, -1), residual=res, stability=self.stability(x, **p))

    def fixed_points(self, n_starts: int = 16, *, rng=None, tmax: int = 20000, tol: float = 1e-10,
                     dedupe: float = 1e-6, **p) -> list[SymmetricFixedPoint]:
        """Symmetric fixed points from random starts: trajectory ends, then Newton (also from midpoints)."""
        rng = np.random.default_rng(rng)
        starts = rng.dirichlet(np.ones(self.n_actions), size=(n_starts, self.n_states))
        starts = np.clip(starts, 1e-9, None)
        starts /= starts.sum(-1, keepdims=True)
        found: list[SymmetricFixedPoint] = []
        ends = self.trajectories(starts, tmax, 1e-9, **p).final
        for cand in list(ends) + list(starts):
            try:
                fp = self.fixed_point(np.clip(cand, 1e-300, None) / np.clip(cand, 1e-300, None).sum(-1, keepdims=True),
                                      tol=tol, **p)
            except (StrategyError, FloatingPointError):
                continue
            if all(np.max(np.abs(fp.y - f.y)) > dedupe for f in found):
                found.append(fp)
        return found

    def continuation(self, param: str, x0, values, *, tol: float = 1e-11, max_iter: int = 50, relax: int = 0,
                     **p) -> AnonymousBranch:
        """Follow a symmetric fixed point over ``values`` of ``param`` (``'n'`` or any parameter).

        Natural-parameter continuation: Newton from the previous point (after ``relax``
        steps of the map, useful when the branch ends in a fold and the iteration should
        fall onto the next attractor). Reports at every value the spectral radii of the
        symmetric and symmetry-breaking modes; ``folds`` are the values between which an
        eigenvalue of ``A + (n-1) B`` crosses +1 (or Newton loses the branch) and
        ``breaking_points`` those between which ``A - B`` gains an eigenvalue outside
        the unit circle (the point stays on the subspace but is unstable to symmetry breaking).
        """
        values = np.asarray(values)
        y = self.to_logit(x0).ravel()
        xs, rs, rb, stable = [], [], [], []
        prev = None
        folds, breaks = [], []
        for v in values:
            pv = {**p, param: v}
            if relax:
                y = self.trajectory(self.from_logit(y), relax, None, every=None, **pv).final_logit.ravel()
            y_new, res, ok = self._newton(y, pv, tol, max_iter)
            if not ok:
                run = self.trajectory(self.from_logit(y), 100000, 1e-12, every=None, **pv)
                y_new, res, ok = self._newton(run.final_logit.ravel(), pv, tol, max_iter)
                if prev is not None:
                    folds.append((prev[0], v))
            y = y_new
            st = self.stability(self.from_logit(y), **pv)
            xs.append(self.from_logit(y))
            rs.append(st.rho_symmetric)
            rb.append(st.rho_breaking)
            stable.append(st.stable)
            if prev is not None:
                if np.sign(_det1(st.symmetric)) != np.sign(_det1(prev[1].symmetric)):
                    folds.append((prev[0], v))
                if (st.rho_breaking >= 1) != (prev[1].rho_breaking >= 1):
                    breaks.append((prev[0], v))
            prev = (v, st)
        return AnonymousBranch(param=param, values=values, x=np.array(xs), rho_symmetric=np.array(rs),
                               rho_breaking=np.array(rb), stable=np.array(stable), folds=folds,
                               breaking_points=breaks)

    def arclength_continuation(self, param: str, x0, start: float, bounds: tuple[float, float], *,
                               direction: int = 1, ds: float = 0.02, ds_min: float = 1e-6, ds_max: float = 0.1,
                               max_steps: int = 2000, tol: float = 1e-11, **p) -> AnonymousBranch:
        """Pseudo-arclength continuation of symmetric fixed points in a continuous parameter; turns at folds.

        ``u = (y, param)`` follows ``G(u) = step(y) - y = 0`` with predictor along the
        tangent and a Newton corrector on ``[G; t . (u - u_pred)]`` (``dG/dy = A + (n-1) B - I``
        in closed form, ``dG/dparam`` by central differences). Stops when the parameter
        leaves ``bounds`` or after ``max_steps``. ``folds`` are the parameter intervals in
        which the tangent's parameter component changes sign (turning points);
        ``breaking_points`` where ``A - B`` crosses the unit circle. Every point carries its
        full-space stability.
        """
        if param == "n":
            raise ParameterError("n is an integer; follow it with continuation('n', x0, values)")
        lo, hi = bounds
        n = self.params(**p)[0]
        F = self.n_free

        def G(y, mu):
            return self.logit_step(y, **{**p, param: mu}).ravel() - y

        def jac(y, mu):
            A, B = self.jacobian_blocks(self.from_logit(y), **{**p, param: mu})
            h = 1e-6 * max(1.0, abs(mu))
            dmu = (G(y, mu + h) - G(y, mu - h)) / (2 * h)
            return np.column_stack([A + (n - 1) * B - np.eye(F), dmu])

        y, res, ok = self._newton(self.to_logit(x0).ravel(), {**p, param: start}, tol, 50)
        if not ok:
            raise StrategyError(f"no fixed point near x0 at {param} = {start} (residual {res:.3g})")
        u = np.append(y, float(start))
        t = np.zeros(F + 1)
        t[-1] = float(np.sign(direction) or 1)
        pts, tangents = [u.copy()], []
        for _ in range(max_steps):
            Jm = jac(u[:-1], u[-1])
            t_new = np.linalg.lstsq(np.vstack([Jm, t]), np.append(np.zeros(F), 1.0), rcond=None)[0]
            t = t_new / np.linalg.norm(t_new)
            tangents.append(t.copy())
            while True:
                pred = u + ds * t
                v = pred.copy()
                converged = False
                for _it in range(10):
                    try:
                        g = G(v[:-1], v[-1])
                    except (ParameterError, GameError):
                        break
                    r = np.append(g, t @ (v - pred))
                    if np.max(np.abs(g)) < tol:
                        converged = True
                        break
                    try:
                        v = v - np.linalg.solve(np.vstack([jac(v[:-1], v[-1]), t]), r)
                    except (np.linalg.LinAlgError, ParameterError, GameError):
                        break
                if converged:
                    ds = min(ds * 1.3, ds_max) if _it < 4 else ds
                    break
                ds /= 2
                if ds < ds_min:
                    break
            if ds < ds_min or not converged:
                break
            u = v
            pts.append(u.copy())
            if not (lo <= u[-1] <= hi):
                break
        values = np.array([q[-1] for q in pts])
        xs, rs, rb, stable = [], [], [], []
        for q in pts:
            x = self.from_logit(q[:-1])
            st = self.stability(x, **{**p, param: q[-1]})
            xs.append(x)
            rs.append(st.rho_symmetric)
            rb.append(st.rho_breaking)
            stable.append(st.stable)
        folds = [(values[j], values[j + 1]) for j in range(len(tangents) - 1)
                 if np.sign(tangents[j][-1]) != np.sign(tangents[j + 1][-1])]
        breaks = [(values[j], values[j + 1]) for j in range(len(values) - 1) if (rb[j] >= 1) != (rb[j + 1] >= 1)]
        return AnonymousBranch(param=param, values=values, x=np.array(xs), rho_symmetric=np.array(rs),
                               rho_breaking=np.array(rb), stable=np.array(stable), folds=folds,
                               breaking_points=breaks)

    def __repr__(self) -> str:
        return (f"AnonymousDynamics({self.module.GAME!r}, learner={self.learner!r}, method={self.method!r}, "
                f"Z={self.n_states}, "
                f"M={self.n_actions}, defaults={self.defaults})")


def _det1(eigs) -> float:
    """Sign-carrying ``prod (lambda - 1)`` (real for conjugate pairs)."""
    return float(np.real(np.prod(np.asarray(eigs) - 1.0)))
