"""Trajectories, batches and parameter sweeps of the learning dynamics (compiled loops).

Every loop runs inside compiled numba kernels: the generated module's ``trajectory`` (one
run; batches and sweeps call it per member or value, batches on threads, since it
releases the GIL) and ``crldgen.runtime.lanes.lanes_block`` (batches vectorised over
members, driving the module's ``logit_step_lanes``). Python only
validates input, allocates output, schedules tasks and reads the result. Nothing here
imports sympy.

Conventions (as in :mod:`crldgen.runtime.dynamics`): a joint strategy is an array
``X[i, o, a]`` of shape ``(N, Q, M)``; log-ratio coordinates are
``y[i, o, a] = ln(X[i, o, a] / X[i, o, M-1])``, ``a < M-1``.

Heterogeneous games (:class:`~crldgen.runtime.ragged_dynamics.RaggedDynamics`, per-agent
``M_i`` and ``Q_i``): a joint strategy is a tuple of per-agent ``(Q_i, M_i)`` arrays or
its flat vector (:mod:`crldgen.ragged`); a batch is a list of such tuples, a
``(B, sum_i Q_i M_i)`` array, or a tuple of per-agent ``(B, Q_i, M_i)`` arrays. Results
hold per-agent tuples wherever a uniform game has one array: ``X`` is a tuple of
``(steps, Q_i, M_i)`` arrays (batches: ``(B, n_rows, Q_i, M_i)``), ``final`` of
``(Q_i, M_i)`` (batches ``(B, Q_i, M_i)``), ``final_logit`` of ``(Q_i, M_i - 1)``.

Stopping rule (the chapter's, and pyCRLD's ``trajectory``): record ``X``, compute the
next ``X'``; stop when ``||X' - X||_2 < tol`` (``X'`` is *not* recorded; the run is
*converged*) or once ``tmax`` strategies are recorded. ``steps`` is the number of
recorded strategies, i.e. the chapter's ``len(xtraj)``; ``steps - 1`` updates lead from
the initial to the final strategy.

Numerics: the loops iterate the log-ratios ``y`` (the update is additive there) and
record ``X = softmax(y)`` (crld-math section 4). Actor-critic learners drive ``y``
towards +-infinity linearly in time; ``y`` stays finite and exact, while a recorded
probability whose log-ratio lies below about -745 underflows to exactly ``0.0`` (rows
still sum to 1, nothing is NaN). The exact state is kept in ``final_logit``; continue a
run from it by passing the result object as the initial strategy. Should the update
still produce a non-finite number (extreme ``beta`` or rewards, ``gamma`` so close to 1
that the value solve is singular), the kernel stops before it and a
:class:`~crldgen.errors.DivergenceError` is raised (or, with
``on_divergence='flag'``, the finite part is returned with ``diverged`` set).

Batch parameters: in :func:`trajectories` and :func:`sweep`, a parameter given as an
array has a leading *batch* axis: ``gamma=np.linspace(0.6, 0.9, 61)`` is one value per
batch member (the same for every agent); shape ``(B, N)`` gives per-agent values per
member (``(1, N)``: per-agent values shared by all members). Batch axes of initial
strategies and parameters broadcast like numpy (each is ``B`` or 1).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from dataclasses import dataclass
from typing import Callable, TextIO

import numba
import numpy as np

from ._validate import check_int, check_real
from .errors import DivergenceError, GenerationError, ParameterError, StrategyError
from .runtime import lanes as _lanes
from .runtime.dynamics import SIMPLEX_ATOL, ResolvedParams
from .runtime.identity import ResultIO, attach_game, game_of, tag_result

__all__ = ["ProgressBar", "Sweep", "Trajectories", "Trajectory", "sweep", "trajectories", "trajectory"]

#: the loop-kernel calling convention this module drives (``LOOP_API`` in generated modules)
LOOP_API = 5
STATUS_OK, STATUS_NONFINITE, STATUS_FULL, STATUS_NOT_RUN = 0, 1, 2, 3

#: batches at least this large are run in chunks with a progress bar (drawn once the
#: run has taken longer than ``PROGRESS_DELAY`` seconds) when ``progress=None``
AUTO_PROGRESS_MIN = 2048
PROGRESS_DELAY = 1.0
#: initial record buffer per kernel call, in bytes (grown by doubling when a run is longer)
_RECORD_BUDGET = 8 * 2**20
#: batches run the vectorised kernel (``crldgen.runtime.lanes.lanes_block`` driving the module's
#: ``logit_step_lanes``, see :func:`run_lanes`) when the module has one (every module whose step
#: has no linear solve) and the batch has at least
#: ``LANES_MIN_MEMBERS`` members (False: always the per-member kernel, e.g. to compare)
USE_LANES = True
LANES_MIN_MEMBERS = 8
#: False (default): the vectorised kernel's softmax calls libm's exp, and its results are the
#: per-member kernel's bit for bit; True: a vectorised exp (``crldgen.runtime.lanes._exp_lanes``,
#: within 1 ulp of libm's), about twice the throughput, results within ~1e-13 of the
#: per-member kernel (rounding differences grow along expanding transients).
#: ``CRLDGEN_FAST_EXP=1`` sets it at import.
FAST_EXP = os.environ.get("CRLDGEN_FAST_EXP", "0").strip() not in ("", "0", "false", "no", "off")

_LEARNER = ("alpha", "beta", "gamma")
_SIMPLEX_ATOL = SIMPLEX_ATOL


# ----------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Trajectory(ResultIO):
    """One learning trajectory (returned by :func:`trajectory`).

    Attributes
    ----------
    X : ndarray, shape (n_stored, N, Q, M), or None
        Recorded strategies: every one (``every=1``), every k-th (``every=k``: the
        strategies number 0, k, 2k, ...; see :attr:`times`), or None (``every=None``,
        final strategy only).
    final : ndarray, shape (N, Q, M)
        The last recorded strategy (always finite).
    final_logit : ndarray, shape (N, Q, M-1)
        Its exact log-ratio coordinates (the state the loop iterates).
    steps : int
        Number of strategies in the full trajectory (the chapter's ``len(xtraj)``).
    converged : bool
        Stopped because two consecutive strategies came closer than ``tol``.
    diverged : bool
        Stopped because the next update was not finite (only with ``on_divergence='flag'``).
    every : int or None
    reverse : bool
        Iterated the reverse-time map (``-delta``).
    params : dict
        The parameters used: ``alpha``, ``beta``, ``gamma`` (one per agent) and the game parameters.
    """

    X: np.ndarray | None
    final: np.ndarray
    final_logit: np.ndarray
    steps: int
    converged: bool
    diverged: bool
    every: int | None
    reverse: bool
    params: dict

    @property
    def times(self) -> np.ndarray | None:
        """Index in the full trajectory of every row of :attr:`X`."""
        if self.X is None:
            return None
        return np.arange(len(self.X[0] if isinstance(self.X, tuple) else self.X)) * self.every

    def __repr__(self) -> str:
        kept = "final only" if self.X is None else f"X {_shape_text(self.X)}"
        return (f"Trajectory(steps={self.steps}, converged={self.converged}, diverged={self.diverged}, "
                f"reverse={self.reverse}, {kept})")


def _new_trajectory(**fields) -> Trajectory:
    """``Trajectory(**fields)`` without the frozen-dataclass ``__init__`` (one ``object.__setattr__``
    per field costs about a microsecond per result; single-trajectory calls are that short)."""
    obj = object.__new__(Trajectory)
    if fields.keys() != _TRAJECTORY_FIELDS:
        raise TypeError(f"Trajectory fields are {sorted(_TRAJECTORY_FIELDS)}, got {sorted(fields)}")
    obj.__dict__.update(fields)
    return obj


_TRAJECTORY_FIELDS = set(Trajectory.__dataclass_fields__)


def _shape_text(X) -> str:
    """Shape of a result array, or of each per-agent array of a heterogeneous game's tuple."""
    return "(" + ", ".join(str(x.shape) for x in X) + ")" if isinstance(X, tuple) else str(X.shape)


def _member(value, b, stop=None):
    """Member ``b`` of a batch field (an array or a heterogeneous game's tuple of per-agent arrays)."""
    if isinstance(value, tuple):
        return tuple(v[b] if stop is None else v[b, :stop] for v in value)
    return value[b] if stop is None else value[b, :stop]


@dataclass(frozen=True, eq=False)
class Trajectories(ResultIO):
    """A batch of trajectories (returned by :func:`trajectories`); ``result[b]`` is a :class:`Trajectory`.

    Attributes
    ----------
    final : ndarray, shape (B, N, Q, M)
    final_logit : ndarray, shape (B, N, Q, M-1)
    steps : ndarray of int, shape (B,)
        Trajectory lengths (number of recorded strategies).
    converged, diverged : ndarray of bool, shape (B,)
    X : ndarray, shape (B, n_rows, N, Q, M), or None
        With ``every`` given: the recorded strategies, padded with NaN after
        ``n_stored[b]`` rows; None otherwise.
    n_stored : ndarray of int, shape (B,)
        Valid rows of ``X`` per member (``ceil(steps / every)``; 0 without ``X``).
    every : int or None
    reverse : bool
    params : dict
        ``alpha``, ``beta``, ``gamma`` of shape (B, N) and each game parameter of shape (B,).
    """

    final: np.ndarray
    final_logit: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    X: np.ndarray | None
    n_stored: np.ndarray
    every: int | None
    reverse: bool
    params: dict

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, b: int) -> Trajectory:
        b = range(len(self))[b]
        X = None if self.X is None else _member(self.X, b, self.n_stored[b])
        traj = Trajectory(X=X, final=_member(self.final, b), final_logit=_member(self.final_logit, b),
                          steps=int(self.steps[b]),
                          converged=bool(self.converged[b]), diverged=bool(self.diverged[b]), every=self.every,
                          reverse=self.reverse, params={k: v[b] for k, v in self.params.items()})
        return attach_game(traj, game_of(self))

    def __iter__(self):
        return (self[b] for b in range(len(self)))

    def __repr__(self) -> str:
        kept = "final only" if self.X is None else f"X {_shape_text(self.X)}"
        return (f"{type(self).__name__}(B={len(self)}, converged={int(self.converged.sum())}/{len(self)}, "
                f"diverged={int(self.diverged.sum())}, steps {self.steps.min()}..{self.steps.max()}, {kept})")


@dataclass(frozen=True, eq=False, repr=False)
class Sweep(Trajectories):
    """A parameter sweep (returned by :func:`sweep`): one run per value, in order.

    Besides the :class:`Trajectories` attributes: ``name`` (the swept parameter),
    ``values`` (its values), ``carry`` (whether each run started from the previous
    final strategy) and ``ran`` (False for values not run after a divergence).
    """

    name: str = ""
    values: np.ndarray | None = None
    carry: bool = True
    ran: np.ndarray | None = None


# ------------------------------------------------------------ progress bar
class ProgressBar:
    """Progress of a batch, drawn by ``tqdm.auto``: a widget in notebooks, a text bar on stderr elsewhere.

    ``100%|##########| 201/201 [00:00<00:00, 512.3trajectories/s]``

    Parameters
    ----------
    total : int
    label : str
        Unit of the counted items.
    stream : file, optional
        Default ``sys.stderr`` (ignored by the notebook widget).
    delay : float
        Draw nothing until this many seconds have passed (quick runs stay silent, and
        saved notebooks are not flooded).
    enabled : bool
    min_interval : float
        Least time between redraws.
    """

    def __init__(self, total: int, label: str = "trajectories", stream: TextIO | None = None, width: int = 30,
                 delay: float = 0.0, enabled: bool = True, min_interval: float = 0.1) -> None:
        from tqdm.auto import tqdm

        self.total = max(int(total), 0)
        self.label = label
        self.enabled = enabled
        self.done = 0
        self._bar = tqdm(total=self.total, unit=label, file=stream if stream is not None else sys.stderr,
                         delay=delay, disable=not enabled, mininterval=min_interval, ascii=True,
                         ncols=max(width, 10) + 50, leave=True, dynamic_ncols=False)

    def update(self, n: int = 1) -> None:
        n = min(int(n), self.total - self.done)
        self.done += n
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -------------------------------------------------------------- validation
def _module(dyn):
    """The generated module of ``dyn``, checked for the loop kernels this file drives."""
    module = dyn.module
    api = getattr(module, "LOOP_API", 1)
    if api != LOOP_API:
        raise GenerationError(
            f"generated module {dyn.path or module.__name__} has loop kernels of API {api}, but this crldgen "
            f"drives API {LOOP_API}: the file was generated from an older template. Delete it (it is "
            "regenerated on the next crldgen.compile) or clear the cache directory.")
    return module


def _tmax(tmax) -> int:
    """``tmax``: the maximum number of recorded strategies, an integer >= 1 (never bool or str)."""
    return check_int("tmax", tmax, 1)


def _tol(tol) -> float:
    """``tol``: a finite number >= 0, or None (run tmax steps)."""
    value = check_real("tol", tol, minimum=0.0, allow_none=True)
    return 0.0 if value is None else value


def _every(every) -> int:
    """Kernel value of ``every``: 0 keeps no strategies (None), k >= 1 every k-th."""
    value = check_int("every", every, 1, allow_none=True)
    return 0 if value is None else value


def _check_divergence(on_divergence: str) -> None:
    if not isinstance(on_divergence, str) or on_divergence not in ("raise", "flag"):
        raise ParameterError(f"on_divergence must be 'raise' or 'flag', got {on_divergence!r}")


def _strategies(dyn, X0, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated interior strategies of shape (B, NX) and their log-ratios (B, N_FREE).

    ``X0`` is one joint strategy (N, Q, M), a batch (B, N, Q, M), or a result object
    (:class:`Trajectory` / :class:`Trajectories`) whose final state is continued exactly.
    """
    ragged = getattr(dyn, "ragged", False)
    if isinstance(X0, (Trajectory, Trajectories)):
        B = 1 if isinstance(X0, Trajectory) else len(X0)
        if isinstance(X0.final, tuple) != ragged:
            raise StrategyError(f"{name}: the result object belongs to a game of another shape")
        if ragged:
            X, y = _flat_rows(X0.final, B), _flat_rows(X0.final_logit, B)
        else:
            X, y = X0.final.reshape(B, -1).copy(), X0.final_logit.reshape(B, -1).copy()
        nx = dyn._nx if ragged else dyn.n_agents * dyn.n_obs * dyn.n_actions
        if X.shape[1] != nx or y.shape[1] != dyn.n_free:
            raise StrategyError(f"{name}: the result object belongs to a game of another shape")
        bad = ~np.isfinite(y).all(axis=1)
        if bad.any():
            raise StrategyError(f"{name}: cannot continue from member {int(np.flatnonzero(bad)[0])}, whose final "
                                "state is not finite (a diverged or skipped run)")
        return X, y
    if ragged:
        return _ragged_strategies(dyn, X0, name)
    try:
        arr = np.array(X0, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
    shape = dyn.shape
    single = arr.shape == shape
    if single:
        arr = arr[None]
    elif not (arr.ndim == 4 and arr.shape[1:] == shape):
        raise StrategyError(
            f"{name} has shape {arr.shape}; expected one joint strategy (N, Q, M) = {shape} "
            f"or a batch (B, N, Q, M) = (B,) + {shape}")

    def label(idx, tail=""):
        idx = [int(i) for i in (idx[1:] if single else idx)]
        return f"{name}{idx}"[:-1] + tail + "]"

    sums = arr.sum(-1)
    if not (np.all(arr > 0) and np.all(np.abs(sums - 1) <= _SIMPLEX_ATOL)):  # NaN fails both
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            raise StrategyError(f"{label(bad[0])} = {arr[tuple(bad[0])]} is not finite")
        bad = np.argwhere(arr <= 0)
        if len(bad):
            raise StrategyError(
                f"{label(bad[0])} = {arr[tuple(bad[0])]:.6g}: the learning dynamics need strictly positive "
                "strategies (log-ratios); use a strategy in the interior of the simplex")
        bad = np.argwhere(np.abs(sums - 1) > _SIMPLEX_ATOL)
        raise StrategyError(
            f"{label(bad[0], ', :')} sums to {sums[tuple(bad[0])]:.12g}; each agent's strategy in each "
            "state/observation must sum to 1")
    if arr.shape[0] == 0:
        raise StrategyError(f"{name} is an empty batch; give at least one initial strategy")
    y = np.log(arr[..., :-1]) - np.log(arr[..., -1:])
    B = arr.shape[0]
    return np.ascontiguousarray(arr.reshape(B, -1)), np.ascontiguousarray(y.reshape(B, -1))


def _flat_rows(parts, B) -> np.ndarray:
    """(B, n) rows of per-agent arrays with B leading members (the concatenation of each member's parts)."""
    return np.concatenate([np.asarray(p, dtype=float).reshape(B, -1) for p in parts], axis=1)


def _ragged_strategies(dyn, X0, name: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_strategies` of a heterogeneous game: flat rows (B, NX) and log-ratios (B, N_FREE).

    ``X0``: one joint strategy (tuple of per-agent ``(Q_i, M_i)`` arrays, or a flat vector
    of NX numbers), a list of them, a ``(B, NX)`` array, or a tuple of per-agent
    ``(B, Q_i, M_i)`` arrays.
    """
    lay = dyn.layout
    nx = dyn._nx
    single = True
    if isinstance(X0, np.ndarray) and X0.dtype != object and X0.ndim == 2:
        if X0.shape[1] != nx:
            raise StrategyError(f"{name} has shape {X0.shape}; a batch of flat strategies of this heterogeneous game "
                                f"has shape (B, {nx}) (sum_i Q_i M_i = {nx})")
        arr, single = np.array(X0, dtype=float), False
    else:
        try:
            arr = lay.flatten(X0, name)[None]
        except StrategyError as first:
            arr = None
            batched = isinstance(X0, (tuple, list)) and len(X0) == dyn.n_agents and all(
                isinstance(p, np.ndarray) and p.ndim == 3 and p.shape[1:] == s for p, s in zip(X0, dyn.shape))
            if batched:  # a tuple of per-agent (B, Q_i, M_i) arrays
                sizes = {p.shape[0] for p in X0}
                if len(sizes) != 1:
                    raise StrategyError(f"{name}: the per-agent arrays have different batch sizes "
                                        f"{[p.shape[0] for p in X0]}") from None
                arr, single = _flat_rows(X0, sizes.pop()), False
            elif isinstance(X0, (tuple, list)) and len(X0) and not isinstance(X0[0], (int, float, np.number)):
                try:
                    arr = np.array([lay.flatten(m, f"{name}[{b}]") for b, m in enumerate(X0)])
                except StrategyError as member:
                    # a list of members whose first element is a whole strategy: report the member problem
                    if isinstance(X0[0], (tuple, list)) and len(X0[0]) == dyn.n_agents and not np.isscalar(
                            X0[0][0]):
                        raise member from None
                    raise first from None
                single = False
            if arr is None:
                raise first
    if arr.shape[0] == 0:
        raise StrategyError(f"{name} is an empty batch; give at least one initial strategy")
    sums = dyn._row_sums(arr)
    if not (np.all(arr > 0) and np.all(np.abs(sums - 1) <= _SIMPLEX_ATOL)):  # NaN fails both
        bad = np.flatnonzero(~((arr > 0).all(axis=1) & (np.abs(sums - 1) <= _SIMPLEX_ATOL).all(axis=1)))
        b = int(bad[0])
        problem = lay.problem(arr[b], name if single else f"{name}[{b}]", True, _SIMPLEX_ATOL,
                              where="state" if dyn.fully_observed else "observation")
        raise StrategyError(problem or f"{name}: member {b} is not an interior strategy")
    return np.ascontiguousarray(arr), dyn._logits_of_rows(arr)


def _batch_size(sizes: dict[str, int]) -> int:
    big = {n for n in sizes.values() if n != 1}
    if len(big) > 1:
        raise ParameterError(
            "batch axes do not broadcast: " + ", ".join(f"{k} has {v}" for k, v in sizes.items())
            + " members (each must have the same length B, or 1)")
    return big.pop() if big else 1


def _batch_params(dyn, p: dict, n_x: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(B, alpha, beta, gamma, theta)`` with shapes (B, N), (B, N), (B, N), (B, P).

    Scalars in ``p`` apply to every member; arrays carry a leading batch axis.
    """
    fixed = {k: v for k, v in p.items() if np.ndim(v) == 0}
    batched = {k: np.asarray(v, dtype=float) for k, v in p.items() if np.ndim(v) > 0}
    alpha, beta, gamma, theta = dyn._unchecked(fixed)  # every member's values are checked below
    N = dyn.n_agents
    sizes = {"initial strategies": n_x} if n_x != 1 else {}
    for name, arr in batched.items():
        if arr.shape[0] == 0:
            raise ParameterError(f"{name} is an empty array; give at least one value")
        sizes[name] = arr.shape[0]
    B = _batch_size(sizes)
    learner = {"alpha": np.tile(alpha, (B, 1)), "beta": np.tile(beta, (B, 1)), "gamma": np.tile(gamma, (B, 1))}
    Theta = np.tile(theta, (B, 1))
    for name, arr in batched.items():
        slot, i = dyn.parameter_slot(name)
        if slot != "theta" and i is None:
            if arr.ndim == 1:
                learner[slot][:] = arr[:, None]
            elif arr.ndim == 2 and arr.shape[1] == N:
                learner[slot][:] = arr
            else:
                raise ParameterError(
                    f"{name} has shape {arr.shape}; in a batch give one value per member (B,) or one per "
                    f"member and agent (B, {N}) (use (1, {N}) for per-agent values shared by all members)")
            continue
        if arr.ndim != 1:
            raise ParameterError(f"{name} has shape {arr.shape}; in a batch give one value per member, shape (B,)")
        if slot == "theta":
            Theta[:, i] = arr
        else:
            learner[slot][:, i] = arr
    A, Bt, G = learner["alpha"], learner["beta"], learner["gamma"]
    # learner ranges and valid T and O at every member's game parameters (one place: Dynamics)
    dyn.check_parameter_rows(A, Bt, G, Theta, what="the batch parameters")
    return B, A, Bt, G, Theta


def _params_dict(dyn, alpha, beta, gamma, theta) -> dict:
    out = {"alpha": alpha.copy(), "beta": beta.copy(), "gamma": gamma.copy()}
    for k, name in enumerate(dyn.param_names):
        out[name] = theta[..., k].copy()
    return out


# ------------------------------------------------------------------ driver
def _rows_needed(tmax: int, every: int) -> int:
    return 0 if every == 0 else -(-tmax // every)


def _run_members(module, parallel, X0, Y0, Th, A, Bt, G, tmax, tol, direction, every, nx, nf):
    """Run members ``X0.shape[0]`` to the end, growing record buffers by doubling.

    Returns ``(X_out, y_out, lengths, converged, status, stored, segments)``; ``segments``
    is a list of ``(members, row_offset, buffer)`` holding the recorded rows.
    """
    B = X0.shape[0]
    X_out = np.empty((B, nx))
    y_out = np.empty((B, nf))
    lengths = np.zeros(B, np.int64)
    conv = np.zeros(B, np.bool_)
    status = np.zeros(B, np.int64)
    stored = np.zeros(B, np.int64)
    segments = []
    need = _rows_needed(tmax, every)
    cap = min(need, max(64, _RECORD_BUDGET // (8 * nx * max(B, 1))))
    members = np.arange(B)
    T0 = np.zeros(B, np.int64)
    offset = 0
    first = True
    while True:
        n = len(members)
        if first:
            x0, y0, th, a, bt, g = X0, Y0, Th, A, Bt, G
        else:
            x0, y0 = X_out[members], y_out[members]
            th, a, bt, g = Th[members], A[members], Bt[members], G[members]
        seg = np.empty((n, cap, nx))
        xo, yo = np.empty((n, nx)), np.empty((n, nf))
        ln, cv = np.empty(n, np.int64), np.empty(n, np.bool_)
        st, k = np.empty(n, np.int64), np.empty(n, np.int64)
        # not while the engine serves a new game (its module compiles in the background: calling the
        # module's lanes kernel now would compile it in the foreground)
        lanes = USE_LANES and _lanes.has_lanes(module) and getattr(module, "compiled", True)
        if parallel and lanes and n >= LANES_MIN_MEMBERS:
            # members vectorised in blocks (structure of arrays); dynamic scheduling of the tasks
            size = max(LANES_MIN_MEMBERS, min(_lanes.LANE_CHUNK, -(-n // (4 * numba.get_num_threads()))))
            run_lanes(module, x0, y0, T0, th, a, bt, g, tmax, tol, direction, every, seg, xo, yo, ln, cv, st, k, size,
                      FAST_EXP)
        else:
            # one member at a time, on threads when parallel (``trajectory`` releases the GIL;
            # dynamic scheduling: lengths differ a lot between members)
            run_tasks(_members, n, 1, numba.get_num_threads() if parallel else 1,
                      (module.trajectory, x0, y0, T0, th, a, bt, g, tmax, tol, direction, every, seg, xo, yo, ln, cv,
                       st, k))
        X_out[members], y_out[members] = xo, yo
        lengths[members], conv[members], status[members] = ln, cv, st
        stored[members] += k
        if cap:
            segments.append((members, offset, seg))
        full = st == STATUS_FULL
        if not full.any():
            break
        members = members[full]
        T0 = ln[full]
        offset += cap
        cap = min(need - offset, offset)
        first = False
    return X_out, y_out, lengths, conv, status, stored, segments


def run_tasks(kernel: Callable, n: int, task_size: int, n_threads: int, args: tuple) -> None:
    """``kernel(lo, hi, *args)`` over ``0 <= lo < hi <= n`` in tasks of ``task_size`` items, on threads.

    ``n_threads`` threads (the calling one among them; 1: no other thread) take one
    task at a time (dynamic scheduling: run lengths differ a lot between members). The
    kernels release the GIL. The first exception of any task is raised here, after every
    thread has stopped.
    """
    size = max(1, int(task_size))
    n_tasks = -(-n // size)
    n_threads = max(1, min(int(n_threads), n_tasks))
    tasks = iter(range(n_tasks))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not errors:
                with lock:
                    c = next(tasks, None)
                if c is None:
                    return
                kernel(c * size, min(n, c * size + size), *args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    helpers = [threading.Thread(target=work, name=f"crldgen-task-{i}", daemon=True) for i in range(n_threads - 1)]
    for t in helpers:
        t.start()
    work()
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]


def _members(lo, hi, trajectory, X0, Y0, T0, Theta, Alpha, Beta, Gamma, tmax, tol, direction, every, Xrec, X_out,
             y_out, lengths, converged, status, stored) -> None:
    """Members ``lo <= b < hi`` of a batch, one ``trajectory`` call each (row b of every array)."""
    for b in range(lo, hi):
        lengths[b], converged[b], status[b], stored[b] = trajectory(
            X0[b], Y0[b], T0[b], Theta[b], Alpha[b], Beta[b], Gamma[b], tmax, tol, direction, every, Xrec[b],
            X_out[b], y_out[b])


def run_lanes(module, X0, Y0, T0, Theta, Alpha, Beta, Gamma, tmax, tol, direction, every, Xrec, X_out, y_out,
              lengths, converged, status, stored, task_size: int, fast: bool) -> None:
    """A batch (row b of every array: member b's ``trajectory`` arguments and results) by the vectorised kernel.

    ``crldgen.runtime.lanes.lanes_block`` (compiled once per installation) drives the
    module's ``logit_step_lanes`` through its address. The batch is cut into tasks of
    ``task_size`` members, which ``numba.get_num_threads()`` threads run
    (:func:`run_tasks`); the kernel vectorises the members of a task and releases the
    GIL. ``fast``: vectorised exponentials (else libm's, bit for bit).
    """
    step, rows = _lanes.step_of(module)
    run_tasks(_lanes.lanes_block, X0.shape[0], task_size, numba.get_num_threads(),
              (step, *rows, X0, Y0, T0, Theta, Alpha, Beta, Gamma, tmax, tol, direction, every, Xrec, X_out, y_out,
               lengths, converged, status, stored, bool(fast)))


def sequential_sweep(trajectory, X0, y0, Theta, Alpha, Beta, Gamma, tmax, tol, direction, carry, X_out, y_out,
                     lengths, converged, status) -> int:
    """One ``trajectory`` per row v of the parameter arrays, in order (the sweep with ``carry``).

    With ``carry`` each run starts from the previous run's last recorded strategy
    (hysteresis / continuation); otherwise every run starts from (X0, y0). A run with
    non-finite numbers stops the sweep (later rows get ``STATUS_NOT_RUN``). Returns the
    number of runs done.
    """
    x, y = X0, y0
    none = np.empty((0, X0.shape[0]))
    n_values = Theta.shape[0]
    for v in range(n_values):
        lengths[v], converged[v], status[v], _ = trajectory(
            x, y, 0, Theta[v], Alpha[v], Beta[v], Gamma[v], tmax, tol, direction, 0, none, X_out[v], y_out[v])
        if status[v] != STATUS_OK:
            status[v + 1:] = STATUS_NOT_RUN
            lengths[v + 1:] = 0
            converged[v + 1:] = False
            return v + 1
        if carry:
            x, y = X_out[v], y_out[v]
    return n_values


def _assemble(B, stored, segments, nx) -> np.ndarray:
    """NaN-padded (B, max(stored), nx) array of the recorded rows."""
    n_rows = int(stored.max()) if B else 0
    if len(segments) == 1 and segments[0][2].shape[1] == n_rows:
        out = segments[0][2]
    else:
        out = np.empty((B, n_rows, nx))
        for members, offset, seg in segments:
            rows = min(seg.shape[1], n_rows - offset)
            if rows > 0:
                out[members, offset:offset + rows] = seg[:, :rows]
    pad = np.arange(n_rows)[None, :] >= stored[:, None]
    if pad.any():
        out[pad] = np.nan
    return out


def _divergence_message(what: str, steps: int, params: dict) -> str:
    shown = ", ".join(f"{k}={np.array2string(np.asarray(v), precision=6)}" for k, v in params.items())
    return (f"{what} diverged after {steps} recorded strategies: the next update gave non-finite log-ratios "
            f"({shown}). Typical causes: extreme beta or rewards (beta * Q overflows) or a discount factor so "
            "close to 1 that the value solve is singular. The finite part is attached as err.result; pass "
            "on_divergence='flag' to get it returned instead.")


# ---------------------------------------------------------------- public API
@tag_result
def trajectory(dyn, X0, tmax: int, tol: float | None = None, *, every: int | None = 1, reverse: bool = False,
               on_divergence: str = "raise", **p) -> Trajectory:
    """Iterate the learning dynamics from ``X0`` (the whole loop runs compiled).

    Parameters
    ----------
    dyn : Dynamics
    X0 : array_like, shape (N, Q, M), or Trajectory
        Interior initial joint strategy; a :class:`Trajectory` continues exactly from its
        final state (log-ratios), also when ``final`` has underflowed entries.
    tmax : int
        Maximum number of recorded strategies (the chapter's ``Tmax``).
    tol : float, optional
        Stop when two consecutive strategies are closer than ``tol`` (Euclidean norm
        over all entries); None (or 0) runs ``tmax`` steps.
    every : int or None
        Keep every strategy (1), every k-th (k), or only the final one (None).
    reverse : bool
        Iterate the reverse-time map (``-delta``, crld-math section 4).
    on_divergence : {'raise', 'flag'}
        Non-finite numbers raise :class:`DivergenceError` (default) or set ``diverged``.
    **p
        Parameter overrides for this call (as :meth:`Dynamics.params`).

    Returns
    -------
    Trajectory
    """
    module = _module(dyn)
    # cheap checks of the common argument types first; anything else takes the full validators
    tmax = tmax if type(tmax) is int and tmax >= 1 else _tmax(tmax)
    tol = 0.0 if tol is None else (tol if type(tol) is float and 0.0 <= tol < math.inf else _tol(tol))
    k_every = 1 if (type(every) is int and every == 1) else _every(every)
    if on_divergence != "raise":
        _check_divergence(on_divergence)
    x0, y0 = _single_strategy(dyn, module, X0)
    ragged = getattr(dyn, "ragged", False)
    res = dyn.params(**p)
    alpha, beta, gamma, theta = res
    nx, nf = x0.shape[0], y0.shape[0]
    direction = -1.0 if reverse else 1.0
    need = _rows_needed(tmax, k_every)
    cap = min(need, max(64, _RECORD_BUDGET // (8 * nx)))
    if need <= cap:  # one kernel call, the record buffer cannot fill up
        Xrec = np.empty((cap, nx))
        x_out, y_out = np.empty(nx), np.empty(nf)
        t, conv, status, stored = module.trajectory(x0, y0, 0, theta, alpha, beta, gamma, tmax, tol, direction,
                                                    k_every, Xrec, x_out, y_out)
        X = None
        if k_every:
            rows = Xrec[:stored]
            X = (rows.copy() if 2 * stored < cap else rows)
            X = X.reshape((-1,) + dyn.shape) if not ragged else dyn.layout.split(X)
    else:  # long runs: buffers grown by doubling (as in batches)
        x_out, y_out, lengths, convs, statuses, stored, segments = _run_members(
            module, False, x0[None], y0[None], theta[None], alpha[None], beta[None], gamma[None], tmax, tol,
            direction, k_every, nx, nf)
        x_out, y_out, t, conv, status = x_out[0], y_out[0], lengths[0], convs[0], statuses[0]
        X = None
        if k_every:
            if len(segments) == 1:
                rows = segments[0][2][0, : stored[0]]
                X = rows.copy() if 2 * len(rows) < segments[0][2].shape[1] else rows
            else:
                X = _assemble(1, stored, segments, nx)[0]
            X = X.reshape((-1,) + dyn.shape) if not ragged else dyn.layout.split(X)
    params = res.info(dyn.param_names) if isinstance(res, ResolvedParams) else \
        _params_dict(dyn, alpha, beta, gamma, theta)
    if ragged:
        final, final_logit = dyn.layout.split(x_out), dyn.layout.split_logit(y_out)
    else:
        final, final_logit = x_out.reshape(dyn.shape), y_out.reshape(dyn.shape[:2] + (-1,))
    result = _new_trajectory(
        X=X, final=final, final_logit=final_logit,
        steps=int(t), converged=bool(conv), diverged=bool(status == STATUS_NONFINITE),
        every=None if k_every == 0 else k_every, reverse=bool(reverse), params=params)
    if result.diverged and on_divergence == "raise":
        err = DivergenceError(_divergence_message("the trajectory", result.steps, result.params))
        err.result = result
        raise err
    return result


def _single_strategy(dyn, module, X0) -> tuple[np.ndarray, np.ndarray]:
    """One validated interior initial strategy, flat ``(NX,)``, and its log-ratios ``(N_FREE,)``.

    A float64 array of the right shape is checked by one compiled pass; anything else
    (result objects, lists, invalid strategies for the detailed message) goes through
    :func:`_strategies`.
    """
    if type(X0) is np.ndarray and X0.dtype == np.float64 and X0.shape == dyn.shape:
        flat = X0.ravel()
        if module.strategy_ok(flat, True, _SIMPLEX_ATOL):
            # numpy's log, as in _strategies (numpy's log is the same function on strided and contiguous
            # input, so the log-ratios are bit-identical to the batch path's); the differences compiled
            y = np.empty(dyn.n_free)
            module.logit_from_logs(np.log(flat), y)
            return flat, y
    X0f, Y0 = _strategies(dyn, X0, "X0")
    if X0f.shape[0] != 1:
        raise StrategyError(f"trajectory() takes one initial strategy, got a batch of {X0f.shape[0]}; "
                            "use trajectories()")
    return X0f[0], Y0[0]


@tag_result
def trajectories(dyn, X0s, tmax: int, tol: float | None = None, *, every: int | None = None,
                 reverse: bool = False, progress: bool | None = None, on_divergence: str = "raise",
                 **p) -> Trajectories:
    """Many trajectories in one call, in parallel over the cores (threads running GIL-free kernels).

    Batches of at least ``LANES_MIN_MEMBERS`` members run the vectorised kernel
    (``crldgen.runtime.lanes``) when the module has one (members side by side in SIMD lanes, see
    :func:`run_lanes`; the same results bit for bit, or within ~1e-13 with ``FAST_EXP``).

    Parameters
    ----------
    dyn : Dynamics
    X0s : array_like, shape (B, N, Q, M) or (N, Q, M), or Trajectories
        Initial joint strategies (one is shared by all members).
    tmax, tol, reverse, on_divergence
        As in :func:`trajectory`; every member has its own convergence.
    every : int or None
        None (default) keeps only final strategies; k keeps every k-th strategy of each
        member in a NaN-padded array ``X`` of shape (B, n_rows, N, Q, M).
    progress : bool or None
        Progress bar (``tqdm.auto``: a widget in notebooks, text on stderr elsewhere).
        None: for batches of at least ``AUTO_PROGRESS_MIN`` members, drawn once the run
        has taken more than ``PROGRESS_DELAY`` s.
    **p
        Parameter overrides; arrays have a leading batch axis (``gamma=np.linspace(...)``
        is one value per member; shape (B, N) per member and agent).

    Returns
    -------
    Trajectories
    """
    module = _module(dyn)
    tmax, tol, k_every = _tmax(tmax), _tol(tol), _every(every)
    _check_divergence(on_divergence)
    X0f, Y0 = _strategies(dyn, X0s, "X0s")
    B, A, Bt, G, Th = _batch_params(dyn, p, X0f.shape[0])
    if X0f.shape[0] != B:
        X0f, Y0 = np.repeat(X0f, B, axis=0), np.repeat(Y0, B, axis=0)
    nx, nf = X0f.shape[1], Y0.shape[1]
    direction = -1.0 if reverse else 1.0
    chunked = bool(progress) or (progress is None and B >= AUTO_PROGRESS_MIN)
    if chunked:
        per_call = 4 * numba.get_num_threads()
        if USE_LANES and _lanes.has_lanes(module):  # full vector blocks in every call
            per_call *= _lanes.LANE_CHUNK
        size = max(per_call, -(-B // 100))
        bounds = list(range(0, B, size)) + [B]
    else:
        bounds = [0, B]
    X_out, y_out = np.empty((B, nx)), np.empty((B, nf))
    lengths, conv = np.empty(B, np.int64), np.empty(B, np.bool_)
    status, stored = np.empty(B, np.int64), np.empty(B, np.int64)
    segments = []
    bar = ProgressBar(B, "trajectories", delay=0.0 if progress else PROGRESS_DELAY, enabled=chunked)
    with bar:
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            sl = slice(lo, hi)
            xo, yo, ln, cv, st, k, segs = _run_members(
                module, True, X0f[sl], Y0[sl], Th[sl], A[sl], Bt[sl], G[sl], tmax, tol, direction, k_every, nx, nf)
            X_out[sl], y_out[sl], lengths[sl], conv[sl], status[sl], stored[sl] = xo, yo, ln, cv, st, k
            segments += [(members + lo, offset, seg) for members, offset, seg in segs]
            bar.update(hi - lo)
    X = None
    ragged = getattr(dyn, "ragged", False)
    if k_every:
        X = _assemble(B, stored, segments, nx)
        X = dyn.layout.split(X) if ragged else X.reshape((B, -1) + dyn.shape)
    else:
        stored[:] = 0
    diverged = status == STATUS_NONFINITE
    if ragged:
        final, final_logit = dyn.layout.split(X_out), dyn.layout.split_logit(y_out)
    else:
        final, final_logit = X_out.reshape((B,) + dyn.shape), y_out.reshape((B,) + dyn.shape[:2] + (-1,))
    result = Trajectories(
        final=final, final_logit=final_logit,
        steps=lengths, converged=conv, diverged=diverged, X=X, n_stored=stored,
        every=None if k_every == 0 else k_every, reverse=bool(reverse), params=_params_dict(dyn, A, Bt, G, Th))
    if diverged.any() and on_divergence == "raise":
        bad = np.flatnonzero(diverged)
        b = int(bad[0])
        err = DivergenceError(
            f"{len(bad)} of {B} trajectories diverged (members {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''}); "
            + _divergence_message(f"member {b}", int(lengths[b]), result[b].params))
        err.result = result
        raise err
    return result


@tag_result
def sweep(dyn, X0, param_name: str, values, tmax: int, tol: float | None = None, *, carry: bool = True,
          reverse: bool = False, on_divergence: str = "raise", **p) -> Sweep:
    """One run per value of a parameter, in order; with ``carry`` each starts where the last ended.

    ``carry=True`` is the chapter's hysteresis experiment: the whole sequence runs in
    one compiled call (no Python per value), restarting every run from the previous
    run's final strategy (exactly, in log-ratio coordinates). ``carry=False`` runs every
    value from ``X0``, in parallel (as :func:`trajectories`).

    Parameters
    ----------
    dyn : Dynamics
    X0 : array_like, shape (N, Q, M), or Trajectory
    param_name : str
        Any parameter name ``dyn.params`` accepts (``'gamma'``, ``'beta_1'``, ``'f'``, ...).
    values : array_like, shape (V,) or (V, N) for learner parameters
    tmax, tol, reverse, on_divergence
        As in :func:`trajectory`. A divergence stops a carried sweep (later values
        are marked ``ran=False``).
    **p
        Other parameter overrides (scalars, or arrays with a leading axis of length V).

    Returns
    -------
    Sweep
    """
    if param_name in p:
        raise ParameterError(f"{param_name!r} is both swept and given as a fixed override")
    values = np.asarray(values, dtype=float)
    if values.ndim == 0:
        values = values[None]
    if not carry:
        res = trajectories(dyn, X0, tmax, tol, reverse=reverse, progress=False, on_divergence=on_divergence,
                           **{param_name: values}, **p)
        return Sweep(**{f: getattr(res, f) for f in res.__dataclass_fields__}, name=param_name, values=values,
                     carry=False, ran=np.ones(len(res), np.bool_))
    module = _module(dyn)
    tmax, tol = _tmax(tmax), _tol(tol)
    _check_divergence(on_divergence)
    X0f, Y0 = _strategies(dyn, X0, "X0")
    if X0f.shape[0] != 1:
        raise StrategyError(f"a carried sweep starts from one strategy, got a batch of {X0f.shape[0]}")
    V, A, Bt, G, Th = _batch_params(dyn, {param_name: values, **p}, 1)
    nx, nf = X0f.shape[1], Y0.shape[1]
    X_out, y_out = np.empty((V, nx)), np.empty((V, nf))
    lengths, conv = np.zeros(V, np.int64), np.zeros(V, np.bool_)
    status = np.zeros(V, np.int64)
    sequential_sweep(module.trajectory, X0f[0], Y0[0], Th, A, Bt, G, tmax, tol, -1.0 if reverse else 1.0,
                     bool(carry), X_out, y_out, lengths, conv, status)
    ran = status != STATUS_NOT_RUN
    X_out[~ran] = np.nan
    y_out[~ran] = np.nan
    diverged = status == STATUS_NONFINITE
    if getattr(dyn, "ragged", False):
        final, final_logit = dyn.layout.split(X_out), dyn.layout.split_logit(y_out)
    else:
        final, final_logit = X_out.reshape((V,) + dyn.shape), y_out.reshape((V,) + dyn.shape[:2] + (-1,))
    result = Sweep(
        final=final, final_logit=final_logit,
        steps=lengths, converged=conv, diverged=diverged, X=None, n_stored=np.zeros(V, np.int64), every=None,
        reverse=bool(reverse), params=_params_dict(dyn, A, Bt, G, Th), name=param_name, values=values,
        carry=True, ran=ran)
    if diverged.any() and on_divergence == "raise":
        v = int(np.flatnonzero(diverged)[0])
        err = DivergenceError(
            f"the sweep over {param_name} stopped at value {v} ({param_name}={values[v]}): "
            + _divergence_message(f"run {v}", int(lengths[v]), result[v].params))
        err.result = result
        raise err
    return result
