"""Sample-based learners: the stochastic process that CRLD approximates (crld-math.md section 9).

Individual agents keep quality estimates ``Q[i, o, a]``, act by softmax
``X[i, o, :] ∝ exp(beta_i Q[i, o, :])`` and learn from experience sampled in the same
:class:`crldgen.Game`: every time step each agent observes ``o ~ O[i, s, :]`` (``o = s``
when fully observed), draws ``a ~ X[i, o, :]``, the environment moves to
``s' ~ T[s, a, :]`` and pays ``r_i = R[i, s, a, s']``. The sample TD error is

    delta_t = p_i r_t + gamma_i Q_next - Q[o_t, a_t]      (p_i = 1 - gamma_i with the prefactor)

with ``Q_next = sum_b X[o', b] Q[o', b]`` (expected SARSA), ``Q[o', a']`` with the
next action actually drawn (SARSA), ``max_b Q[o', b]`` (Q-learning); the actor-critic
keeps a critic ``V[o]``, uses ``delta_t = p r + gamma V[o'] - V[o]`` and acts by
softmax of actor preferences that it moves by ``alpha delta_t``.

Two kinds of learners:

* **online** (``batch=None``, the plain K = 1 learners): ``Q[o_t, a_t] += alpha delta_t``
  after every time step (the actor-critic: ``V[o_t]`` and the preference of ``a_t``).
* **batch** (``batch=K``): the agents play ``K`` time steps with fixed strategies,
  store the experience and replay it to convergence, i.e. they evaluate their current
  strategy on the batch (the certainty-equivalence estimate that batch TD(0) converges
  to: empirical mean rewards ``R^[o, a]`` and next-observation (SARSA: next pair)
  frequencies, ``Q^ = p R^ + gamma W^ Q^``; Q-learning: ``max`` in place of the
  strategy average). Then one strategy update: ``Q += alpha (Q^ - Q)`` for SARSA,
  expected SARSA, Q-learning (the batch-mean sample TD error with the replayed
  next-state values); the actor-critic moves its preferences by
  ``alpha (Q^[o, a] - sum_b X[o, b] Q^[o, b])``. Pairs not visited in a batch keep
  their estimate (their TD error is 0). ``replay=False`` gives the one-pass variant: the
  batch mean of the sample TD errors with the current estimates as next-state values;
  its K -> infinity limit is the value-space map of crld-math section 10 (expected
  SARSA / SARSA / Q-learning on the estimates), which equals the CRLD map only on
  single-state games (the next-state value is then common to all actions).

As ``K -> infinity`` the batch estimates converge to the strategy averages
``Q^ -> Qx`` (crld-math sections 2, 3, 7) and the strategy update becomes exactly
the CRLD map ``X' ∝ X exp(alpha (beta Qx - ln X))`` (SARSA and expected SARSA; the
CRLD ``sarsa`` learner) or ``X' ∝ X exp(alpha beta (Qx - Vx))`` (actor-critic). In
log-ratio coordinates the update is linear in the batch TD error, so its expectation
is the CRLD step whenever the batch estimate is unbiased: exactly so on a single-state
game (the next-state value is then common to all actions and cancels); with several
states the replayed value is a ratio of sample averages and carries an O(1/K) bias,
below the O(1/sqrt(K)) sampling noise. Under partial observability the batch
frequencies converge to the belief-weighted averages of section 7 (stationary beliefs)
as long as the environment chain mixes within a batch. Q-learning has no CRLD
counterpart in crldgen (its batch limit is the greedy value iteration of the current
strategy's experience).

Sampling conventions (for comparisons with other implementations): one environment
chain per run, carried across batches (the start state is uniform from the seed, or
``s0``); every agent draws its own observation of each state independently and the
same draw serves as the next observation of one step and the current observation of
the next; the next action is drawn from the current strategy right after the next
observation (it is SARSA's ``a'`` and the action actually played next; at the end of
a batch it is discarded and the first action of the next batch is drawn from the new
strategy). Initial estimates are ``ln X0 / beta`` (no per-state constant).

Every run owns a xoshiro256** generator seeded from
``numpy.random.SeedSequence(seed).spawn(runs)``, so results are reproducible and do not
depend on the number of threads (``numba.set_num_threads``). Game tensors at run-time
parameters come from :func:`game_tensors`; learner and game parameters are overridden
per call like :class:`crldgen.Dynamics` (``alpha``, ``beta``, ``gamma`` as scalars or
one per agent, ``alpha_0``, ..., game parameters by name).

Example
-------
>>> import crldgen
>>> from crldgen import sample
>>> game = crldgen.games.ecological_public_good(2)
>>> X0 = np.full((2, 2, 2), 0.5)
>>> res = sample.simulate(game, X0, steps=30, batch=1000, runs=8, seed=1, alpha=0.05, beta=5.0)
>>> res.X.shape        # (runs, records, N, Q, M)
(8, 31, 2, 2, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError, StrategyError
from ..runtime.dynamics import LEARNER_NAMES, LEARNER_RULES, SIMPLEX_ATOL

#: the sample-based learners, in the order of the kernels' learner codes
LEARNERS = ("expected_sarsa", "sarsa", "actor_critic", "q_learning")
_ALIASES = {"expected_sarsa": 0, "expected-sarsa": 0, "esarsa": 0, "sarsa": 1, "actor_critic": 2,
            "actor-critic": 2, "ac": 2, "q_learning": 3, "q-learning": 3, "q": 3}
#: the deterministic (CRLD) learner each sample learner approaches (None: no counterpart)
CRLD_LEARNER = {"expected_sarsa": "sarsa", "sarsa": "sarsa", "actor_critic": "actor_critic", "q_learning": None}
#: learner parameter defaults (those of :class:`crldgen.Dynamics`)
DEFAULTS = {"alpha": 0.05, "beta": 50.0, "gamma": 0.75}


def _kern():
    from ..runtime.notice import before_compile
    from . import _kernels

    k = _kernels
    before_compile("sample", (k.uniforms, k.batch_runs, k.batch_estimates, k.online_runs, k.td_error_stats),
                   "numba compiles the sampled learners' kernels not in its cache yet on their first calls "
                   "(simulate ~17 s, simulate with batch=None ~8 s, batch_td_errors ~5 s, td_errors ~3 s on "
                   "2 cores; once per installation)")
    return _kernels


# ----------------------------------------------------------------- game tensors
def game_tensors(game, **params: float) -> dict[str, np.ndarray]:
    """Float tensors ``{'T', 'R'[, 'O']}`` of ``game`` at run-time parameters (validated).

    The one place the sample learners get numbers from a game (crldgen's layout
    ``T[s, a0..a{N-1}, s']``, ``R[i, s, a0.., s']``, ``O[i, s, o]``). ``params`` are the
    game parameters only; :meth:`crldgen.Game.validate` checks them (unknown names,
    probabilities out of range or not normalized raise :class:`crldgen.GameError`).
    """
    game.validate(**params)
    return game.numeric(**params)


@dataclass(frozen=True)
class _Setup:
    """Everything a kernel call needs, resolved and validated."""

    learner: str
    code: int
    Tc: np.ndarray
    R: np.ndarray
    Oc: np.ndarray
    full_obs: bool
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    pref: np.ndarray
    prefactor: bool
    theta: dict
    shape: tuple


def _learner(learner: str) -> tuple[str, int]:
    code = _ALIASES.get(str(learner).lower())
    if code is None:
        raise ParameterError(f"unknown sample learner {learner!r}; choose one of {LEARNERS}")
    return LEARNERS[code], code


def _resolve_learner_params(n_agents: int, overrides: dict) -> tuple[dict, dict]:
    """Split ``overrides`` into learner arrays (validated like Dynamics) and game parameters."""
    learner = {n: np.full(n_agents, DEFAULTS[n], dtype=float) for n in LEARNER_NAMES}
    theta = {}
    for name, value in overrides.items():
        head, _, tail = name.rpartition("_")
        if name in LEARNER_NAMES:
            arr = np.asarray(value, dtype=float)
            if arr.ndim == 0:
                learner[name][:] = float(arr)
            elif arr.shape == (n_agents,):
                learner[name][:] = arr
            else:
                raise ParameterError(f"{name} must be a scalar or have one value per agent (shape ({n_agents},)), "
                                     f"got shape {arr.shape}")
        elif head in LEARNER_NAMES and tail.isdigit():
            i = int(tail)
            if i >= n_agents:
                raise ParameterError(f"{name}: agent index {i} out of range (N={n_agents})")
            learner[head][i] = float(value)
        else:
            theta[name] = value
    for name, arr in learner.items():
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{name} = {arr} is not finite")
    for name, ok, rule in LEARNER_RULES:
        if not np.all(ok(learner[name])):
            raise ParameterError(f"{name} = {learner[name]}: {rule}")
    for name, value in theta.items():
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"game parameter {name} = {value!r} is not a number") from exc
        if not np.isfinite(v):
            raise ParameterError(f"game parameter {name} = {v} is not finite")
        theta[name] = v
    return learner, theta


def _cumulative(P: np.ndarray) -> np.ndarray:
    C = np.cumsum(P, axis=-1)
    C[..., -1] = 1.0
    return np.ascontiguousarray(C)


def _setup(game, learner: str, prefactor: bool, params: dict) -> _Setup:
    name, code = _learner(learner)
    N, Z, M, Qn = game.n_agents, game.n_states, game.n_actions, game.n_observations
    lp, theta = _resolve_learner_params(N, params)
    for k in theta:
        if k not in game.params:
            raise ParameterError(
                f"unknown parameter {k!r}; learner parameters are alpha, beta, gamma (or alpha_0, ...), "
                f"game parameters are {list(game.params)}")
    num = game_tensors(game, **theta)
    J = M ** N
    Tc = _cumulative(num["T"].reshape(Z, J, Z))
    R = np.ascontiguousarray(num["R"].reshape(N, Z, J, Z))
    full = "O" not in num
    Oc = _cumulative(num["O"]) if not full else np.ones((N, Z, 1))
    pref = 1.0 - lp["gamma"] if prefactor else np.ones(N)
    return _Setup(name, code, Tc, R, Oc, full, lp["alpha"], lp["beta"], lp["gamma"], pref, bool(prefactor),
                  dict(game.params, **theta), (N, Qn, M))


def _check_strategy(X, shape, name: str = "X0") -> np.ndarray:
    try:
        arr = np.array(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"{name} is not a numeric array: {exc}") from exc
    if arr.shape != shape:
        raise StrategyError(f"{name} has shape {arr.shape}; expected (N, Q, M) = {shape}")
    bad = np.argwhere(~np.isfinite(arr) | (arr <= 0))
    if len(bad):
        raise StrategyError(
            f"{name}{bad[0].tolist()} = {arr[tuple(bad[0])]}: softmax learners need strictly positive, finite "
            "strategies (Q = ln X / beta); use a strategy in the interior of the simplex")
    sums = arr.sum(-1)
    bad = np.argwhere(np.abs(sums - 1) > SIMPLEX_ATOL)
    if len(bad):
        i, o = bad[0].tolist()
        raise StrategyError(f"{name}[{i}, {o}, :] sums to {sums[i, o]:.12g}; each strategy must sum to 1")
    return arr


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value or int(value) < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def spawn_keys(seed, runs: int, n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-run generator states and start states from ``SeedSequence(seed).spawn(runs)``.

    Returns ``(keys, s0)``: ``keys[r]`` the 4 uint64 words of run r's xoshiro256**
    state, ``s0[r]`` its initial environment state (uniform over states).
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys = np.empty((runs, 4), dtype=np.uint64)
    s0 = np.empty(runs, dtype=np.int64)
    for r, child in enumerate(ss.spawn(runs)):
        words = child.generate_state(5, np.uint64)
        if not words[:4].any():  # xoshiro's one forbidden state
            words[0] = 1
        keys[r] = words[:4]
        s0[r] = int(words[4] % np.uint64(n_states))
    return keys, s0


def _start_states(s0, default: np.ndarray, n_states: int) -> np.ndarray:
    if s0 is None:
        return default
    arr = np.broadcast_to(np.asarray(s0), default.shape)
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= n_states:
        raise ParameterError(f"s0 must be a state index in 0..{n_states - 1} (or one per run), got {s0!r}")
    return np.ascontiguousarray(arr, dtype=np.int64)


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class SampleResult:
    """Strategies of sample-based learners over ``runs`` independent replicates.

    Attributes
    ----------
    X : ndarray, shape (runs, n_records, N, Q, M)
        Recorded strategies at :attr:`times` (``times[0] = 0`` is ``X0``).
    times : ndarray of int
        Strategy updates (batch learners) or time steps (online learners) of the records.
    final : ndarray, shape (runs, N, Q, M)
        Strategies after the last update.
    visits : ndarray, shape (runs, N, Q) or None
        Batch learners: how often each agent observed each observation, all batches.
    learner : str
    batch : int or None
        Batch size K (None: online learners).
    params : dict
        ``alpha``, ``beta``, ``gamma`` (one per agent), ``prefactor`` and the game parameters.
    seed : numpy.random.SeedSequence
    """

    X: np.ndarray
    times: np.ndarray
    final: np.ndarray
    visits: np.ndarray | None
    learner: str
    batch: int | None
    params: dict
    seed: Any = field(repr=False)

    @property
    def mean(self) -> np.ndarray:
        """Mean strategy over runs, shape (n_records, N, Q, M)."""
        return self.X.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """Standard deviation over runs (ddof=1 when runs > 1), shape (n_records, N, Q, M)."""
        return self.X.std(axis=0, ddof=1 if self.X.shape[0] > 1 else 0)

    @property
    def transitions(self) -> int:
        """Number of sampled transitions over all runs."""
        per_update = self.batch if self.batch is not None else 1
        return int(self.X.shape[0]) * self.steps * per_update

    @property
    def steps(self) -> int:
        return int(self.params["steps"])


def simulate(game, X0, steps: int, *, learner: str = "expected_sarsa", batch: int | None = 1000, runs: int = 1,
             seed=None, every: int = 1, prefactor: bool = True, s0=None, replay: bool = True,
             **params) -> SampleResult:
    """Run sample-based learners on ``game`` from ``X0`` (``runs`` replicates, in parallel).

    Parameters
    ----------
    game : crldgen.Game
    X0 : array_like, shape (N, Q, M)
        Initial joint strategy (interior of the simplex); the initial estimates are
        ``Q = ln X0 / beta`` (the actor-critic's preferences too; its critic starts there).
    steps : int
        Strategy updates (batch learners) or time steps (online learners).
    learner : {'expected_sarsa', 'sarsa', 'actor_critic', 'q_learning'}
    batch : int or None
        Transitions per strategy update ``K``; ``None`` for the online learners.
    runs : int
        Independent replicates (parallel over runs with numba's threads).
    seed : int, SeedSequence or None
        Root seed; run r uses ``SeedSequence(seed).spawn(runs)[r]``.
    every : int
        Record every ``every``-th strategy (memory-light output); the final one is
        always in :attr:`SampleResult.final`.
    prefactor : bool
        Rewards multiplied by ``1 - gamma_i`` (as in the deterministic learners).
    s0 : int or array of int, optional
        Initial environment state (one per run); default uniform from the seed.
    replay : bool
        Batch learners: replay the batch to convergence (default; the K -> infinity limit
        is the CRLD map) or take the one-pass batch mean of the sample TD errors with the
        current estimates as next-state values (its limit is the value-space dynamics of
        crld-math section 10, not the CRLD map, except on single-state games).
    **params
        ``alpha``, ``beta``, ``gamma`` (scalar or one per agent; ``alpha_0`` ...), game
        parameters by name.
    """
    st = _setup(game, learner, prefactor, params)
    steps = _positive_int(steps, "steps", 0)
    runs = _positive_int(runs, "runs")
    every = _positive_int(every, "every")
    K = None if batch is None else _positive_int(batch, "batch")
    X0 = _check_strategy(X0, st.shape)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys, s0_default = spawn_keys(ss, runs, game.n_states)
    s0 = _start_states(s0, s0_default, game.n_states)
    Q0 = np.ascontiguousarray(np.log(X0) / st.beta[:, None, None])
    times = np.arange(0, steps + 1, every)
    out = np.empty((runs, len(times)) + st.shape)
    final = np.empty((runs,) + st.shape)
    kern = _kern()
    visits = None
    if K is None:
        kern.online_runs(st.Tc, st.R, st.Oc, st.full_obs, Q0, Q0.copy(), st.alpha, st.beta, st.gamma, st.pref,
                         st.code, steps, every, s0, keys, out, final)
    else:
        visits = np.zeros((runs, st.shape[0], st.shape[1]))
        kern.batch_runs(st.Tc, st.R, st.Oc, st.full_obs, Q0, Q0.copy(), st.alpha, st.beta, st.gamma, st.pref,
                        st.code, bool(replay), K, steps, every, s0, keys, out, final, visits)
    info = dict(alpha=st.alpha, beta=st.beta, gamma=st.gamma, prefactor=st.prefactor, steps=steps,
                replay=bool(replay) if K is not None else None, **st.theta)
    return SampleResult(out, times, final, visits, st.learner, K, info, ss)


def batch_td_errors(game, X, batch: int, *, runs: int = 1000, learner: str = "expected_sarsa", seed=None,
                    Q=None, prefactor: bool = True, s0=None, replay: bool = True,
                    **params) -> tuple[np.ndarray, np.ndarray]:
    """Batch TD errors at a fixed strategy: one batch of ``K`` transitions per run.

    Returns ``(delta, counts)`` of shape (runs, N, Q, M): ``delta = beta (Q^ - Q)``
    (actor-critic: ``beta (Q^ - sum_b X Q^)``; scaled by beta like the CRLD TD errors;
    0 for pairs not visited) with the batch's certainty-equivalent estimates ``Q^`` and
    the estimates ``Q`` (default ``ln X / beta``), and the visits of each pair. The
    strategy update of the batch learner is ``X' ∝ X exp(alpha delta)``. ``replay`` as in
    :func:`simulate`. With ``Q = ln X / beta`` the mean of
    ``delta`` approaches the CRLD TD error up to a constant per (agent, state), i.e.
    ``delta - mean_a delta`` approaches ``Dynamics.tderror(X, normalize=True)``.
    """
    st = _setup(game, learner, prefactor, params)
    X = _check_strategy(X, st.shape, "X")
    runs, K = _positive_int(runs, "runs"), _positive_int(batch, "batch")
    Qe = np.log(X) / st.beta[:, None, None] if Q is None else np.array(Q, dtype=float)
    if Qe.shape != st.shape:
        raise StrategyError(f"Q has shape {Qe.shape}; expected (N, Q, M) = {st.shape}")
    keys, s0_default = spawn_keys(seed, runs, game.n_states)
    s0 = _start_states(s0, s0_default, game.n_states)
    Qhat = np.empty((runs,) + st.shape)
    counts = np.empty((runs,) + st.shape)
    _kern().batch_estimates(st.Tc, st.R, st.Oc, st.full_obs, X, np.ascontiguousarray(Qe), st.gamma, st.pref,
                            st.code, bool(replay), K, s0, keys, Qhat, counts)
    if st.code == 2:  # actor-critic: the actor's increment Q^ - V^ with V^ = sum_b X Q^
        delta = Qhat - np.sum(X * Qhat, axis=-1, keepdims=True)
    else:
        delta = Qhat - Qe
    delta = np.where(counts > 0, delta, 0.0)
    return delta * st.beta[None, :, None, None], counts


@dataclass(frozen=True)
class TDErrorStats:
    """Sample TD errors of the online learners at a fixed strategy (:func:`td_errors`)."""

    mean: np.ndarray  #: (N, Q, M) mean sample TD error per visited pair (nan if never visited)
    counts: np.ndarray  #: (N, Q, M) visits of each pair
    stderr: np.ndarray  #: (N, Q, M) standard error of the mean over runs
    state_obs: np.ndarray  #: (N, Z, Q) visits of state s with agent i observing o


def td_errors(game, X, Q, steps: int, *, runs: int = 64, burn: int = 100, learner: str = "expected_sarsa",
              seed=None, prefactor: bool = True, s0=None, **params) -> TDErrorStats:
    """Mean sample TD errors of online learners at fixed strategy ``X`` and estimates ``Q``.

    Each of ``runs`` chains plays ``burn + steps`` time steps without learning and
    averages ``delta_t = p r + gamma Q_next - Q[o, a]`` per (agent, observation, action)
    after the burn-in (for the actor-critic ``Q[i, o, 0]`` is the critic ``V[i, o]``).
    Not scaled by beta.
    """
    st = _setup(game, learner, prefactor, params)
    X = _check_strategy(X, st.shape, "X")
    runs, steps = _positive_int(runs, "runs"), _positive_int(steps, "steps")
    burn = _positive_int(burn, "burn", 0)
    Qe = np.array(Q, dtype=float)
    if Qe.shape != st.shape:
        raise StrategyError(f"Q has shape {Qe.shape}; expected (N, Q, M) = {st.shape}")
    keys, s0_default = spawn_keys(seed, runs, game.n_states)
    s0 = _start_states(s0, s0_default, game.n_states)
    sums = np.zeros((runs,) + st.shape)
    counts = np.zeros((runs,) + st.shape)
    state_obs = np.zeros((runs, st.shape[0], game.n_states, st.shape[1]))
    _kern().td_error_stats(st.Tc, st.R, st.Oc, st.full_obs, X, np.ascontiguousarray(Qe), st.gamma, st.pref,
                              st.code, steps, burn, s0, keys, sums, counts, state_obs)
    n = counts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(0) / n
        per_run = sums / counts
        stderr = np.nanstd(per_run, axis=0, ddof=1) / np.sqrt(np.sum(counts > 0, axis=0))
    return TDErrorStats(mean, n, stderr, state_obs.sum(0))


# ------------------------------------------------------------------ comparison with CRLD
@dataclass(frozen=True)
class Comparison:
    """Sample learners next to the CRLD trajectory from the same ``X0`` (:func:`compare`).

    Attributes
    ----------
    times : ndarray (n_records,)
    crld : ndarray (n_records, N, Q, M)
        The deterministic trajectory at the recorded times.
    mean, std : ndarray (n_records, N, Q, M)
        Mean and standard deviation of the sample strategies over the runs.
    rms : ndarray (n_records,)
        Root-mean-square distance ``sqrt(mean over runs and (i, o, a) of (X - crld)^2)``.
    bias : ndarray (n_records,)
        RMS over (i, o, a) of ``mean - crld`` (the systematic part of the distance).
    sample : SampleResult
    """

    times: np.ndarray
    crld: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    rms: np.ndarray
    bias: np.ndarray
    sample: SampleResult


def crld_trajectory(dyn, X0, steps: int, **params) -> np.ndarray:
    """The CRLD strategies ``X_0 .. X_steps`` (``steps + 1`` of them) of a compiled :class:`Dynamics`."""
    X = np.array(X0, dtype=float)
    out = np.empty((steps + 1,) + X.shape)
    out[0] = X
    for t in range(steps):
        X = dyn.step(X, **params)
        out[t + 1] = X
    return out


def _check_dynamics(dyn, game, learner: str, prefactor: bool) -> None:
    name, _ = _learner(learner)
    target = CRLD_LEARNER[name]
    if target is None:
        raise ParameterError(f"sample learner {name!r} has no deterministic (CRLD) counterpart to compare with; "
                             f"use one of {[k for k, v in CRLD_LEARNER.items() if v]}")
    if dyn.learner != target:
        raise ParameterError(f"dyn is a {dyn.learner!r} CRLD; sample learner {name!r} approaches the {target!r} "
                             f"CRLD (compile it with crldgen.compile(game, {target!r}))")
    if bool(dyn.prefactor) != bool(prefactor):
        raise ParameterError(f"prefactor={prefactor} but dyn was compiled with prefactor={dyn.prefactor}")
    if dyn.shape != (game.n_agents, game.n_observations, game.n_actions) or dyn.n_states != game.n_states:
        raise ParameterError(f"dyn (N, Q, M) = {dyn.shape}, Z = {dyn.n_states} does not match the game "
                             f"{(game.n_agents, game.n_observations, game.n_actions)}, Z = {game.n_states}")


def compare(game, X0, steps: int, batch: int, *, dyn=None, runs: int = 100, learner: str = "expected_sarsa",
            seed=None, every: int = 1, prefactor: bool = True, s0=None, replay: bool = True,
            **params) -> Comparison:
    """``runs`` batch-learner replicates from ``X0`` next to the CRLD trajectory.

    ``dyn`` is the compiled CRLD (:func:`crldgen.compile`) of ``game`` with the matching
    learner (``'sarsa'`` for SARSA and expected SARSA, ``'actor_critic'``); compiled on
    demand when omitted. ``params`` override learner and game parameters for both.
    """
    if dyn is None:
        from ..compiler import compile as crld_compile

        name = _learner(learner)[0]
        if CRLD_LEARNER[name] is None:
            raise ParameterError(f"sample learner {name!r} has no deterministic (CRLD) counterpart to compare with")
        dyn = crld_compile(game, CRLD_LEARNER[name], prefactor)
    _check_dynamics(dyn, game, learner, prefactor)
    res = simulate(game, X0, steps, learner=learner, batch=batch, runs=runs, seed=seed, every=every,
                   prefactor=prefactor, s0=s0, replay=replay, **params)
    crld = crld_trajectory(dyn, X0, steps, **params)[res.times]
    diff = res.X - crld[None]
    rms = np.sqrt(np.mean(diff ** 2, axis=(0, 2, 3, 4)))
    bias = np.sqrt(np.mean((res.mean - crld) ** 2, axis=(1, 2, 3)))
    return Comparison(res.times, crld, res.mean, res.std, rms, bias, res)


@dataclass(frozen=True)
class DistanceScan:
    """RMS distance between batch learners and CRLD after ``steps`` updates, per batch size."""

    batch: np.ndarray  #: (n,) batch sizes K
    rms: np.ndarray  #: (n,) RMS distance at the last update
    bias: np.ndarray  #: (n,) RMS distance of the run mean at the last update
    slope: float  #: least-squares slope of log(rms) against log(K) (-0.5 for 1/sqrt(K))
    steps: int
    runs: int


def distance_vs_batch(game, X0, steps: int, batches, *, dyn=None, runs: int = 50, learner: str = "expected_sarsa",
                      seed=None, prefactor: bool = True, replay: bool = True, **params) -> DistanceScan:
    """RMS distance to CRLD after ``steps`` strategy updates for each batch size in ``batches``."""
    Ks = np.array([_positive_int(k, "batches") for k in np.atleast_1d(batches)])
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rms, bias = [], []
    for K, child in zip(Ks, ss.spawn(len(Ks))):
        cmp = compare(game, X0, steps, int(K), dyn=dyn, runs=runs, learner=learner, seed=child, every=steps,
                      prefactor=prefactor, replay=replay, **params)
        rms.append(cmp.rms[-1])
        bias.append(cmp.bias[-1])
    rms, bias = np.array(rms), np.array(bias)
    slope = float(np.polyfit(np.log(Ks), np.log(rms), 1)[0]) if len(Ks) > 1 else float("nan")
    return DistanceScan(Ks, rms, bias, slope, int(steps), int(runs))


__all__ = ["LEARNERS", "CRLD_LEARNER", "Comparison", "DistanceScan", "SampleResult", "TDErrorStats",
           "batch_td_errors", "compare", "crld_trajectory", "distance_vs_batch", "game_tensors", "simulate",
           "spawn_keys", "td_errors"]
