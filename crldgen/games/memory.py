"""History embedding: agents that remember recent states and joint actions (crld-math.md section 8)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..errors import GameError
from .._validate import check_int
from ..game import MAX_TENSOR_ENTRIES, Game, check_size, is_identically_zero

from .._lazy import LazyModule

sympy = LazyModule("sympy", __name__)  # imported on first use: building a game imports it


def _possibly_nonzero(expr: sympy.Expr, value: float, game: Game) -> bool:
    """A transition is impossible only if it is zero for every parameter value (bounded check, never expands)."""
    if value != 0.0:
        return True
    if expr == 0:
        return False
    return not is_identically_zero(expr, game)


def with_memory(game: Game, h: Sequence[int]) -> Game:
    """Embed ``game`` into the space of recent histories.

    Parameters
    ----------
    game : Game
        The base game (its parameters stay parameters of the result). Its agents may
        have different numbers of actions ``M_i`` and, when it is partially observed,
        their own observation sets.
    h : sequence of ``N + 1`` non-negative ints, ``(h_s, h_0, ..., h_{N-1})``
        ``h_s``: how many of the most recent states, the current one included, make a
        history (``h_s = 0`` is the same as ``h_s = 1``: the current state is always
        part of the state, or the process would not be Markov);
        ``h_i``: how many of the most recent joint actions agent ``i`` remembers.

    Returns
    -------
    Game
        States are the histories ``(s_{t-L+1}, ..., s_t; a_{t-H}, ..., a_{t-1})`` with
        ``L = max(h_s, 1)`` and ``H = max_i h_i`` (the world keeps the longest memory).
        Labels read ``'g,p|cd,dd'``: states oldest first, ``|``, then joint actions oldest
        first (agent ``j``'s own action label for each ``j``, joined without separator
        when all action labels of all agents are single characters, with ``-``
        otherwise); ``'p'`` alone when ``H = 0``.
        From a history, the joint action ``a`` and next base state ``s'`` lead to the
        shifted history with probability ``T[s_t, a, s']`` and reward
        ``R[i, s_t, a, s']``; rows of ``T`` sum to 1.

        Histories that cannot occur are dropped: a base transition is impossible when
        it is zero at the default parameters *and* symbolically zero (a transition that
        only vanishes at the defaults stays possible, so the game is valid for every
        parameter value).

    Observations
    ------------
    When all ``h_i`` are equal and ``game`` is fully observed the result is fully
    observed (``O`` is None). Otherwise every agent has its *own* observation set: its
    view of the history, that is the remembered states (through the base observation
    tensor of that agent for a partially observed base game) and only its own last
    ``h_i`` joint actions. Observation labels read like the state labels with ``h_i``
    joint actions (``'s'`` for an agent that remembers no action, ``'s|cd'`` for one
    that remembers the last). Only views that occur in some history are observations
    (a view through a base observation entry that is zero for every parameter value
    is no observation), so no observation of any agent has zero probability in every
    state. When the agents' views coincide (the same labels for every agent, e.g. equal
    ``h_i`` on a partially observed base game with a shared observation set) ``O`` is one
    ``(N, Z, Q)`` array; otherwise it is a tuple of per-agent ``(Z, Q_i)`` arrays and the
    result is a heterogeneous game (``game.agent_observations`` names each agent's
    observations, ``game.observation_counts`` gives the ``Q_i``).

    A partially observed base game supports ``h_s <= 1`` only: remembering past noisy
    observations would make consecutive observations correlated, which a memoryless
    observation tensor cannot express.
    """
    if not isinstance(game, Game):
        raise GameError(f"game = {game!r:.60}: with_memory needs a crldgen.Game")
    N, Z, counts = game.n_agents, game.n_states, game.action_counts
    rule = f"must be N+1 = {N + 1} non-negative integers (h_s, h_0, ..., h_{N - 1})"
    if isinstance(h, (str, bytes)) or not isinstance(h, Sequence):
        raise GameError(f"history specification h={h!r:.60} {rule}")
    h = tuple(h)
    if len(h) != N + 1:
        raise GameError(f"history specification h={h!r} {rule}")
    for k, x in enumerate(h):
        try:
            check_int(f"h[{k}]", x, 0, error=GameError)
        except GameError as exc:
            raise GameError(f"history specification h={h!r:.60}: {exc}; h {rule}") from None
    h = tuple(int(x) for x in h)
    h_s, h_a = h[0], h[1:]
    L, H = max(h_s, 1), max(h_a)
    # at most Z**L * (M_0 ... M_{N-1})**H histories: refuse sizes past the limit before building anything
    n_hist = 1
    for factor in [Z] * L + list(counts) * H:
        n_hist *= factor
        if n_hist > MAX_TENSOR_ENTRIES:
            break
    check_size(N, min(n_hist, MAX_TENSOR_ENTRIES + 1), counts, what=f"with_memory(h={h})")
    if game.O is not None and L > 1:
        raise GameError(
            f"with_memory(h={h}) of the partially observed game {game.name!r}: remembering h_s={h_s} > 1 past "
            "observations is not supported (consecutive observations would be correlated); use h_s <= 1"
        )
    if L == 1 and H == 0:  # nothing to remember: the game itself
        O = list(game.O) if isinstance(game.O, tuple) else game.O  # noqa: E741
        return Game(game.T, game.R, O, params=_params(game), agents=game.agents, states=game.states,
                    actions=_label_arg(game.agent_actions),
                    observations=None if game.O is None else _label_arg(game.agent_observations),
                    name=game.name)

    joints = list(game.joint_actions())
    num = game.numeric()
    numT = num["T"]
    succ = {}
    for s, ja in itertools.product(range(Z), joints):
        succ[s, ja] = [sp for sp in range(Z)
                       if _possibly_nonzero(game.T[(s,) + ja + (sp,)], float(numT[(s,) + ja + (sp,)]), game)]

    def shift(states, acts, ja, sp):
        return (states + (sp,))[-L:], ((acts + (ja,))[-H:] if H else ())

    # windows of possible trajectories (any start state), extended step by step
    windows = {((s,), ()) for s in range(Z)}
    for _ in range(max(L - 1, H)):
        windows = {shift(st, ac, ja, sp) for st, ac in windows for ja in joints for sp in succ[st[-1], ja]}
    windows = sorted(windows)
    index = {w: k for k, w in enumerate(windows)}
    Zh = len(windows)

    zero = sympy.Integer(0)
    T = np.full((Zh,) + counts + (Zh,), zero, dtype=object)
    R = np.full((N, Zh) + counts + (Zh,), zero, dtype=object)
    for k, (states, acts) in enumerate(windows):
        s = states[-1]
        for ja in joints:
            for sp in succ[s, ja]:
                k2 = index[shift(states, acts, ja, sp)]
                T[(k,) + ja + (k2,)] = game.T[(s,) + ja + (sp,)]
                for i in range(N):
                    R[(i, k) + ja + (k2,)] = game.R[(i, s) + ja + (sp,)]

    sep = "" if all(len(a) == 1 for labels in game.agent_actions for a in labels) else "-"

    def label(state_labels, acts):
        text = ",".join(state_labels)
        if acts:
            text += "|" + ",".join(sep.join(game.agent_actions[j][a] for j, a in enumerate(ja)) for ja in acts)
        return text

    state_labels = [label([game.states[s] for s in st], ac) for st, ac in windows]

    O = None  # noqa: E741
    obs_labels = None
    if game.O is not None or len(set(h_a)) > 1:
        per_agent_O, per_agent_labels = [], []
        for i in range(N):
            entries = []  # (k, sort key, label, probability)
            if game.O is not None:
                Oi, numOi, obs_i = game.agent_O(i), np.asarray(num["O"][i]), game.agent_observations[i]
            for k, (states, acts) in enumerate(windows):
                seen = acts[len(acts) - h_a[i]:] if h_a[i] else ()
                if game.O is None:
                    views = [(states, [game.states[s] for s in states], sympy.Integer(1))]
                else:
                    s = states[-1]
                    views = [((o,), [obs_i[o]], Oi[s, o]) for o in range(len(obs_i))
                             if _possibly_nonzero(Oi[s, o], float(numOi[s, o]), game)]
                for view, text, prob in views:
                    entries.append((k, (-len(seen), view, seen), label(text, seen), prob))
            order = sorted({(key, text) for _, key, text, _ in entries})
            column = {text: c for c, (_, text) in enumerate(order)}
            Oi_hist = np.full((Zh, len(order)), zero, dtype=object)
            for k, _, text, prob in entries:
                Oi_hist[k, column[text]] += prob
            per_agent_O.append(Oi_hist)
            per_agent_labels.append(tuple(text for _, text in order))
        if len(set(per_agent_labels)) == 1:  # the same view for every agent: one (N, Z, Q) array
            O = np.empty((N,) + per_agent_O[0].shape, dtype=object)  # noqa: E741
            for i, Oi_hist in enumerate(per_agent_O):
                O[i] = Oi_hist
            obs_labels = list(per_agent_labels[0])
        else:
            O = per_agent_O  # noqa: E741
            obs_labels = [list(lab) for lab in per_agent_labels]

    return Game(T, R, O, params=_params(game), agents=game.agents, states=state_labels,
                actions=_label_arg(game.agent_actions), observations=obs_labels,
                name=f"{game.name}_h{'-'.join(map(str, h))}")


def _label_arg(per_agent: tuple) -> tuple:
    """Labels as a Game argument: one shared tuple when every agent has the same, else one per agent."""
    return per_agent[0] if len(set(per_agent)) == 1 else per_agent


def _params(game: Game) -> dict:
    return {game.symbol(n): v for n, v in game.params.items()}
