"""Strategies of heterogeneous games: agent ``i`` has ``M_i`` actions and ``Q_i`` observations.

A joint strategy of a heterogeneous (ragged) game is a **tuple of per-agent arrays**
``X[i]`` of shape ``(Q_i, M_i)``; ``X[i][o, a]`` is the probability that agent ``i``
plays action ``a`` after observing ``o``. Log-ratio (free) coordinates are a tuple of
``(Q_i, M_i - 1)`` arrays ``y[i][o, a] = ln(X[i][o, a] / X[i][o, M_i - 1])``.

The compiled kernels see the same numbers as one flat float64 vector. The **rows**
``r`` enumerate the pairs ``(agent, observation)`` agent-major (agent 0's ``Q_0``
observations first); row ``r`` holds ``M_r`` actions. The flat strategy is the
concatenation of ``X[i].ravel()`` (C order), the flat log-ratio vector that of
``y[i].ravel()``::

    X_flat[ROW_X[r] + a]    row r = (ROW_AGENT[r], ROW_OBS[r]), action a < ROW_M[r]
    y_flat[ROW_Y[r] + a]    a < ROW_M[r] - 1

There are ``sum_i Q_i M_i`` strategy entries and ``sum_i Q_i (M_i - 1)`` free
coordinates: no padding, so no inert entries and no spurious eigenvalues. A uniform
game (every ``M_i`` and ``Q_i`` equal) keeps its ``(N, Q, M)`` arrays everywhere; its
flat layout is the same formula with ``ROW_X[r] = r*M``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from .errors import StrategyError


class Layout:
    """The flat layout of the strategies of a game with per-agent ``M_i`` and ``Q_i``.

    Parameters
    ----------
    action_counts, observation_counts : sequence of int
        ``M_i`` and ``Q_i`` of every agent (the same length ``N``).
    """

    def __init__(self, action_counts: Sequence[int], observation_counts: Sequence[int]) -> None:
        self.action_counts = tuple(int(m) for m in action_counts)
        self.observation_counts = tuple(int(q) for q in observation_counts)
        if len(self.action_counts) != len(self.observation_counts):
            raise ValueError("action_counts and observation_counts need one entry per agent")
        self.n_agents = len(self.action_counts)
        agent, obs, m, xo, yo = [], [], [], [], []
        x = y = 0
        for i, (Mi, Qi) in enumerate(zip(self.action_counts, self.observation_counts)):
            for o in range(Qi):
                agent.append(i)
                obs.append(o)
                m.append(Mi)
                xo.append(x)
                yo.append(y)
                x += Mi
                y += Mi - 1
        self.row_agent, self.row_obs, self.row_m = tuple(agent), tuple(obs), tuple(m)
        self.row_x, self.row_y = tuple(xo), tuple(yo)
        self.n_rows = len(agent)
        self.n_strategy, self.n_free = x, y
        self.x_offsets = tuple(self.row_x[self.row_agent.index(i)] for i in range(self.n_agents))
        self.y_offsets = tuple(self.row_y[self.row_agent.index(i)] for i in range(self.n_agents))

    @classmethod
    def of_game(cls, game) -> Layout:
        """The layout of a :class:`crldgen.Game` (or anything with ``action_counts``/``observation_counts``)."""
        return cls(game.action_counts, game.observation_counts)

    @property
    def uniform(self) -> bool:
        return len(set(self.action_counts)) == 1 and len(set(self.observation_counts)) == 1

    def __eq__(self, other) -> bool:
        return isinstance(other, Layout) and (self.action_counts, self.observation_counts) == \
            (other.action_counts, other.observation_counts)

    def __hash__(self) -> int:
        return hash((self.action_counts, self.observation_counts))

    def __repr__(self) -> str:
        return f"Layout(M={self.action_counts}, Q={self.observation_counts})"

    # ------------------------------------------------------------ indices
    def shapes(self) -> tuple[tuple[int, int], ...]:
        """``((Q_0, M_0), ...)``: the shape of each agent's strategy array."""
        return tuple(zip(self.observation_counts, self.action_counts))

    def logit_shapes(self) -> tuple[tuple[int, int], ...]:
        """``((Q_0, M_0 - 1), ...)``: the shape of each agent's log-ratio array."""
        return tuple((q, m - 1) for q, m in self.shapes())

    def x_index(self, i: int, o: int, a: int) -> int:
        """Flat index of ``X[i][o, a]``."""
        return self.x_offsets[i] + o * self.action_counts[i] + a

    def y_index(self, i: int, o: int, a: int) -> int:
        """Flat index of ``y[i][o, a]`` (``a < M_i - 1``)."""
        return self.y_offsets[i] + o * (self.action_counts[i] - 1) + a

    @cached_property
    def x_coords(self) -> tuple[tuple[int, int, int], ...]:
        """``(agent, observation, action)`` of every flat strategy entry."""
        return tuple((i, o, a) for i, (q, m) in enumerate(self.shapes()) for o in range(q) for a in range(m))

    @cached_property
    def y_coords(self) -> tuple[tuple[int, int, int], ...]:
        """``(agent, observation, action)`` of every flat log-ratio coordinate (``a < M_i - 1``)."""
        return tuple((i, o, a) for i, (q, m) in enumerate(self.shapes()) for o in range(q) for a in range(m - 1))

    # ------------------------------------------------------- conversions
    def flatten(self, X, name: str = "X") -> np.ndarray:
        """A joint strategy as a flat float64 array (a copy).

        ``X`` is a sequence of ``N`` per-agent arrays ``(Q_i, M_i)`` or a flat vector of
        ``sum_i Q_i M_i`` numbers. Shapes are checked (StrategyError naming the agent);
        values are not (see :meth:`problem`).
        """
        return self._flatten(X, name, self.shapes(), self.n_strategy, "sum_i Q_i M_i")

    def flatten_logit(self, y, name: str = "y") -> np.ndarray:
        """Log-ratios (per-agent ``(Q_i, M_i - 1)`` arrays or a flat vector) as a flat float64 copy."""
        return self._flatten(y, name, self.logit_shapes(), self.n_free, "sum_i Q_i (M_i - 1)")

    def _flatten(self, X, name, shapes, total, formula) -> np.ndarray:
        if isinstance(X, np.ndarray) and X.dtype != object:
            if X.ndim == 1:
                if X.size != total:
                    raise StrategyError(f"{name} is a flat array of {X.size} numbers; expected {formula} = {total} "
                                        f"(or one array per agent of shapes {list(shapes)})")
                return np.array(X, dtype=float)
            raise StrategyError(f"{name} has shape {X.shape}; a heterogeneous game's strategy is a tuple of "
                                f"per-agent arrays of shapes {list(shapes)} (or a flat vector of {total} numbers)")
        if isinstance(X, (str, bytes)) or not isinstance(X, Sequence) and not isinstance(X, np.ndarray):
            raise StrategyError(f"{name} = {X!r:.60}: expected a tuple of per-agent arrays of shapes {list(shapes)}")
        if len(X) != self.n_agents:
            raise StrategyError(f"{name} has {len(X)} parts; expected one array per agent ({self.n_agents}) of "
                                f"shapes {list(shapes)}")
        parts = []
        for i, (part, shape) in enumerate(zip(X, shapes)):
            try:
                arr = np.asarray(part, dtype=float)
            except (TypeError, ValueError) as exc:
                raise StrategyError(f"{name}[{i}] (agent {i}) is not a numeric array: {exc}") from exc
            if arr.shape != shape:
                raise StrategyError(f"{name}[{i}] (agent {i}) has shape {arr.shape}; expected {shape}")
            parts.append(arr.ravel())
        return np.concatenate(parts)

    def split(self, flat) -> tuple[np.ndarray, ...]:
        """Per-agent ``(..., Q_i, M_i)`` arrays (copies) of flat strategies (leading batch axes kept)."""
        return self._split(np.asarray(flat), self.shapes(), self.x_offsets)

    def split_logit(self, flat) -> tuple[np.ndarray, ...]:
        """Per-agent ``(..., Q_i, M_i - 1)`` arrays (copies) of flat log-ratios."""
        return self._split(np.asarray(flat), self.logit_shapes(), self.y_offsets)

    @staticmethod
    def _split(flat, shapes, offsets) -> tuple[np.ndarray, ...]:
        lead = flat.shape[:-1]
        return tuple(flat[..., k:k + q * m].reshape(lead + (q, m)).copy() for (q, m), k in zip(shapes, offsets))

    def uniform_strategy(self) -> tuple[np.ndarray, ...]:
        return tuple(np.full((q, m), 1.0 / m) for q, m in self.shapes())

    def random_strategy(self, rng=None) -> tuple[np.ndarray, ...]:
        """Every row drawn uniformly from its simplex."""
        rng = np.random.default_rng(rng)
        return tuple(rng.dirichlet(np.ones(m), size=q) for q, m in self.shapes())

    def problem(self, flat, name: str = "X", interior: bool = False, atol: float = 1e-8,
                where: str = "observation") -> str | None:
        """What is wrong with a flat strategy (non-finite, negative, a row off the simplex), or None.

        The message names the agent, the observation (``where``) and the action.
        """
        flat = np.asarray(flat, dtype=float)
        for k, v in enumerate(flat):
            if not np.isfinite(v):
                i, o, a = self.x_coords[k]
                return f"{name}[{i}][{o}, {a}] (agent {i}, {where} {o}, action {a}) = {v} is not finite"
        for k, v in enumerate(flat):
            if v < 0:
                i, o, a = self.x_coords[k]
                return f"{name}[{i}][{o}, {a}] (agent {i}, {where} {o}, action {a}) = {v:.6g} is negative"
        for r in range(self.n_rows):
            row = flat[self.row_x[r]:self.row_x[r] + self.row_m[r]]
            if abs(row.sum() - 1.0) > atol:
                i, o = self.row_agent[r], self.row_obs[r]
                return (f"{name}[{i}][{o}, :] (agent {i}, {where} {o}) sums to {row.sum():.12g}; each agent's "
                        f"strategy in each {where} must sum to 1")
        if interior:
            for k, v in enumerate(flat):
                if v <= 0:
                    i, o, a = self.x_coords[k]
                    return (f"{name}[{i}][{o}, {a}] (agent {i}, {where} {o}, action {a}) = 0: the learning dynamics "
                            "need strictly positive strategies (ln X); use a strategy in the interior of the simplex")
        return None

    # ------------------------------------------------ padded views (figures only)
    @cached_property
    def mask(self) -> np.ndarray:
        """``(N, max Q_i, max M_i)`` boolean array: True where ``X[i][o, a]`` exists."""
        out = np.zeros((self.n_agents, max(self.observation_counts), max(self.action_counts)), dtype=bool)
        for i, (q, m) in enumerate(self.shapes()):
            out[i, :q, :m] = True
        return out

    def padded(self, X) -> np.ndarray:
        """Strategies as an ``(..., N, max Q_i, max M_i)`` float array with NaN where an entry does not exist.

        ``X`` is a tuple of per-agent ``(..., Q_i, M_i)`` arrays (leading axes shared) or
        flat ``(..., sum Q_i M_i)`` strategies. This is a view for indexing coordinates
        ``(agent, observation, action)`` in figures and tables; the dynamics and the
        analysis never see the NaN entries.
        """
        if isinstance(X, (tuple, list)):
            parts = [np.asarray(p, dtype=float) for p in X]
        else:
            parts = list(self.split(np.asarray(X, dtype=float)))
        lead = parts[0].shape[:-2]
        out = np.full(lead + self.mask.shape, np.nan)
        for i, p in enumerate(parts):
            q, m = p.shape[-2:]
            out[..., i, :q, :m] = p
        return out

    def unpadded(self, P) -> np.ndarray:
        """Flat ``(..., sum Q_i M_i)`` strategies of padded ``(..., N, max Q, max M)`` ones (inverse of :meth:`padded`)."""
        P = np.asarray(P, dtype=float)
        return P[..., self.mask]


def layout_of(dyn) -> Layout | None:
    """The :class:`Layout` of a heterogeneous dynamics object, None for a uniform one."""
    module = getattr(dyn, "module", None)
    if not getattr(module, "RAGGED", False):
        return None
    return Layout(module.ACTION_COUNTS, module.OBS_COUNTS)
