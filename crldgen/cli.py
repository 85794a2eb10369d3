"""The ``crldgen`` command: derive, generate, simulate, analyse and plot games from the shell.

Subcommands (``crldgen <command> --help`` for details)::

    crldgen games                                   built-in games and their parameters
    crldgen derive GAME                             the update equations as LaTeX
    crldgen generate GAME [-o DIR]                  write the generated numba module
    crldgen simulate GAME [-o traj.npz|.csv|.nc]    one learning trajectory
    crldgen fixed-points GAME                       fixed points and their stability
    crldgen flow GAME [-o flow.png]                 flow plot (one panel per state)
    crldgen continue GAME --over gamma --range 0.6 0.9 [-o bif.png] [--csv bif.csv]
    crldgen sample GAME [--batch K] [--compare]     sample-based learners (vs CRLD)

``GAME`` is a built-in name (``crldgen games``) or ``--game-file game.toml`` (format:
:mod:`crldgen.tomlgame`). Common options: ``--agents N`` (games with a number of
agents), ``--learner sarsa|actor_critic``, ``--no-prefactor``, ``--alpha/--beta/--gamma``
(one value, or one per agent separated by commas) and ``--param name=value`` (game
parameters, repeatable).

Exit status (also in ``crldgen --help``)::

    0    success
    1    the computation or writing a file failed (divergence, cache or output not writable, ...)
    2    bad input: unknown game or parameter, bad option value, invalid game file, missing output folder
    3    internal error (a bug in crldgen: please report it; CRLDGEN_DEBUG=1 shows the traceback)
    130  interrupted (Ctrl-C)
    141  the output pipe was closed early (``crldgen games | head``); nothing is printed

Errors are one line on stderr, ``crldgen COMMAND: error: ...``, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import math
import os
import sys
from pathlib import Path

import numpy as np

from .errors import CrldgenError, GameError, ParameterError, StrategyError
from .ragged import layout_of

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 130, 141

EXIT_STATUS_HELP = """exit status:
  0    success
  1    the computation or writing a file failed (divergence, cache or output not writable)
  2    bad input (unknown game or parameter, bad option value, invalid game file, missing output folder)
  3    internal error (a bug: please report it; CRLDGEN_DEBUG=1 shows the traceback)
  130  interrupted; 141  output pipe closed early (e.g. `crldgen games | head`)
errors are one line on stderr: `crldgen COMMAND: error: ...`"""

#: chapter defaults (the trajectory section of the learning-dynamics chapter)
DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_GAMMA = 0.05, 50.0, 0.75


class UsageError(CrldgenError, ValueError):
    """Bad command-line input (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``crldgen simulate: error: ...``) and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {_one_line(message)} (see `{self.prog} --help`)\n")


def _one_line(message: str) -> str:
    """A message as one line: lines joined with '; ', caret-only lines (column markers) dropped."""
    lines = [ln.strip() for ln in str(message).splitlines()]
    return "; ".join(ln for ln in lines if ln and set(ln) != {"^"})


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be an integer >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _finite_float(minimum: float | None = None):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            rule = "a finite number" + (f" >= {minimum:g}" if minimum is not None else "")
            raise argparse.ArgumentTypeError(f"{text!r}: must be {rule}")
        return value

    parse.__name__ = "number"
    return parse


def _output_file(option: str, path: str | None, suffixes: tuple[str, ...] | None = None) -> None:
    """Check an output file name before any work: its folder exists and is writable, its suffix is known."""
    if path is None:
        return
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        known = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else suffixes[0]
        raise UsageError(f"{option} {path!r}: use a {known} file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option} {path!r}: the folder {str(folder)!r} does not exist; create it first")
    if p.is_dir():
        raise UsageError(f"{option} {path!r} is a folder; give a file name")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r}: the folder {str(folder)!r} is not writable")


#: file types the plot commands write (matplotlib's savefig formats)
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".eps", ".ps", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".pgf")


# ------------------------------------------------------------------ parsing
def _parse_param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise UsageError(f"bad --param {text!r}: expected name=value, e.g. --param qc=0.3")
    if not name.isidentifier():
        raise UsageError(f"bad --param {text!r}: {name!r} is not a parameter name")
    try:
        v = float(value)
    except ValueError:
        raise UsageError(f"bad --param {text!r}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise UsageError(f"bad --param {text!r}: the value must be finite")
    return name, v


def _parse_floats(text: str, what: str) -> float | list[float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"bad {what} {text!r}: expected a number or comma-separated numbers (one per agent)") \
            from None
    if not all(math.isfinite(v) for v in vals):
        raise UsageError(f"bad {what} {text!r}: values must be finite")
    return vals[0] if len(vals) == 1 else vals


def _parse_coordinate_spec(text: str) -> tuple:
    """``'0,g:p,c'`` -> ``([0], ['g', 'p'], ['c'])`` (integers where the entry is a number)."""
    parts = text.split(",")
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"bad projection {text!r}: expected AGENT,STATE,ACTION such as 0,g:p,c "
                         "(':' separates entries of one panel each)")

    def entry(v):
        v = v.strip()
        return int(v) if v.isdigit() else v

    return tuple([entry(v) for v in part.split(":")] for part in parts)


def _game(args):
    """The game named by ``args.game`` or ``args.game_file`` (with ``--agents``)."""
    from .games import BUILTIN

    if args.game_file is not None:
        if args.game is not None:
            raise UsageError("give either a built-in GAME or --game-file, not both")
        if args.agents is not None:
            raise UsageError("--agents applies to built-in games; a game file fixes its agents")
        from .tomlgame import load_game

        return load_game(args.game_file)
    if args.game is None:
        raise UsageError(f"no game: give a built-in name ({', '.join(BUILTIN)}) or --game-file FILE")
    if args.game not in BUILTIN:
        raise UsageError(f"unknown game {args.game!r}; built-in games are {', '.join(BUILTIN)} "
                         "(or use --game-file FILE)")
    factory = BUILTIN[args.game]
    kwargs = {}
    if args.agents is not None:
        if "n_agents" not in inspect.signature(factory).parameters:
            raise UsageError(f"game {args.game!r} has a fixed number of agents; drop --agents")
        if args.agents < 1:
            raise UsageError(f"--agents must be at least 1, got {args.agents}")
        kwargs["n_agents"] = args.agents
    return factory(**kwargs)


def _game_params(args, game) -> dict:
    params = dict(_parse_param(t) for t in args.param or [])
    unknown = sorted(set(params) - set(game.params))
    if unknown:
        raise UsageError(f"unknown parameter {unknown[0]!r} for game {game.name!r}; its parameters are "
                         f"{', '.join(game.params) or 'none'} (learner parameters: --alpha, --beta, --gamma)")
    return params


def _learner_params(args) -> dict:
    out = {}
    for name in ("alpha", "beta", "gamma"):
        text = getattr(args, name)
        out[name] = _parse_floats(text, "--" + name) if text is not None else \
            {"alpha": DEFAULT_ALPHA, "beta": DEFAULT_BETA, "gamma": DEFAULT_GAMMA}[name]
    return out


def _model(args):
    from .symbolic.model import derive

    game = _game(args)
    return game, derive(game, args.learner, prefactor=not args.no_prefactor)


def _dynamics(args):
    from .compiler import compile_model

    game, model = _model(args)
    kw = dict(_learner_params(args), **_game_params(args, game))
    if args.cache_dir is not None:
        kw["cache_dir"] = args.cache_dir
    return compile_model(model, **kw)


def _initial(dyn, text: str | None, seed: int) -> np.ndarray:
    """``uniform``, ``random`` (default), comma-separated probabilities or a .npy file."""
    if text is None or text == "random":
        return dyn.random_strategy(seed)
    if text == "uniform":
        return dyn.uniform_strategy()
    if text.endswith(".npy"):
        try:
            return dyn.check_strategy(np.load(text, allow_pickle=False), "--x0")
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read --x0 file {text!r}: {exc}") from exc
    vals = np.array(_parse_floats(text, "--x0"), dtype=float).ravel()
    lay = layout_of(dyn)
    if lay is not None:
        return dyn.check_strategy(_ragged_initial(lay, vals), "--x0")
    N, Q, M = dyn.shape
    if vals.size == N * Q * (M - 1):
        part = vals.reshape(N, Q, M - 1)
        X = np.concatenate([part, 1 - part.sum(-1, keepdims=True)], axis=-1)
    elif vals.size == N * Q * M:
        X = vals.reshape(N, Q, M)
    else:
        raise UsageError(f"--x0 has {vals.size} numbers; give N*Z*(M-1) = {N * Q * (M - 1)} (the last action "
                         f"takes the rest) or N*Z*M = {N * Q * M}, in the order agent, state, action")
    return dyn.check_strategy(X, "--x0")


def _ragged_initial(lay, vals: np.ndarray) -> tuple:
    """``--x0`` numbers of a heterogeneous game: per row all but the last action, or every entry."""
    if vals.size == lay.n_free:
        parts = []
        for r in range(lay.n_rows):
            free = vals[lay.row_y[r]:lay.row_y[r] + lay.row_m[r] - 1]
            parts.append(np.append(free, 1.0 - free.sum()))
        return lay.split(np.concatenate(parts))
    if vals.size == lay.n_strategy:
        return lay.split(vals)
    raise UsageError(f"--x0 has {vals.size} numbers; give sum_i Q_i (M_i - 1) = {lay.n_free} (the last action of "
                     f"each row takes the rest) or sum_i Q_i M_i = {lay.n_strategy}, in the order agent, "
                     f"{'state' if lay.n_rows else 'observation'}, action (agents' shapes (Q_i, M_i) = "
                     f"{list(lay.shapes())})")


def _strategy_table(dyn, X) -> str:
    lay = layout_of(dyn)
    if lay is not None:  # one line per (agent, observation): that agent's own actions
        parts = lay.split(lay.flatten(X))
        wa = max(7, 1 + max(len(a) for a in dyn.agents))
        wo = max(8, 1 + max(len(o) for obs in dyn.module.AGENT_OBSERVATIONS for o in obs))
        lines = ["agent".ljust(wa) + ("state" if dyn.fully_observed else "obs").ljust(wo) + "strategy"]
        for i in range(dyn.n_agents):
            obs, acts = dyn.module.AGENT_OBSERVATIONS[i], dyn.module.AGENT_ACTIONS[i]
            for o in range(len(obs)):
                lines.append(f"{dyn.agents[i]:<{wa}}{obs[o]:<{wo}}" + "  ".join(
                    f"{a}={v:.6f}" for a, v in zip(acts, parts[i][o])))
        return "\n".join(lines)
    obs = dyn.observations
    head = "agent  " + ("state" if dyn.fully_observed else "obs").ljust(8) + "".join(
        f"{a:>10}" for a in dyn.actions)
    lines = [head]
    for i in range(dyn.n_agents):
        for s in range(dyn.n_obs):
            lines.append(f"{dyn.agents[i]:<7}{obs[s]:<8}" + "".join(f"{v:10.6f}" for v in X[i, s]))
    return "\n".join(lines)


def _coordinate_names(dyn) -> list[str]:
    lay = layout_of(dyn)
    if lay is not None:
        mod = dyn.module
        return [f"X[{dyn.agents[i]},{mod.AGENT_OBSERVATIONS[i][o]},{mod.AGENT_ACTIONS[i][a]}]"
                for i, o, a in lay.x_coords]
    return [f"X[{dyn.agents[i]},{dyn.observations[s]},{dyn.actions[a]}]"
            for i in range(dyn.n_agents) for s in range(dyn.n_obs) for a in range(dyn.n_actions)]


def _pyplot():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------- commands
def cmd_games(args, out) -> int:
    from .games import BUILTIN

    for name, factory in BUILTIN.items():
        doc = (inspect.getdoc(factory) or "").split("\n")[0]
        game = factory()
        sig = inspect.signature(factory).parameters
        agents = f"--agents N (default {sig['n_agents'].default})" if "n_agents" in sig else \
            f"{game.n_agents} agent(s)"
        print(f"{name}", file=out)
        print(f"    {doc}", file=out)
        acts = list(game.actions) if game.shared_labels else [list(a) for a in game.agent_actions]
        print(f"    {agents}; states {list(game.states)}; actions {acts}", file=out)
        params = ", ".join(f"{k}={v:g}" for k, v in game.params.items()) or "none"
        print(f"    parameters (--param name=value): {params}", file=out)
    print("\nGame files: --game-file game.toml (format: python -c 'import crldgen.tomlgame as t; "
          "help(t)'; examples in examples/games/)", file=out)
    return 0


def cmd_derive(args, out) -> int:
    game, model = _model(args)
    _game_params(args, game)  # validate names
    text = model.latex(general=not args.no_general, specific=not args.no_specific, max_entries=args.max_entries)
    print(text, file=out)
    return 0


def cmd_generate(args, out) -> int:
    from .compiler import generate

    game, model = _model(args)
    _game_params(args, game)
    path = generate(model, args.out)
    print(path, file=out)
    return 0


def cmd_simulate(args, out) -> int:
    _output_file("--out", args.out, (".npz", ".csv", ".nc"))
    dyn = _dynamics(args)
    X0 = _initial(dyn, args.x0, args.seed)
    traj = dyn.trajectory(X0, args.tmax, args.tol)
    print(f"game {dyn.module.GAME}, learner {dyn.learner}; {traj.steps} strategies, converged: {traj.converged} "
          f"(tol {args.tol:g}, tmax {args.tmax})", file=out)
    print("final strategy:", file=out)
    print(_strategy_table(dyn, traj.final), file=out)
    if args.out is not None:
        path = Path(args.out)
        lay = layout_of(dyn)
        X = traj.X.reshape(len(traj.X), -1) if lay is None else np.column_stack(
            [p.reshape(len(p), -1) for p in traj.X])
        if path.suffix == ".npz" and lay is not None:  # one array per agent: X_0 (steps, Q_0, M_0), ...
            mod = dyn.module
            arrays = {f"X_{i}": p for i, p in enumerate(traj.X)}
            arrays.update({f"actions_{i}": np.array(a) for i, a in enumerate(mod.AGENT_ACTIONS)})
            arrays.update({f"observations_{i}": np.array(o) for i, o in enumerate(mod.AGENT_OBSERVATIONS)})
            np.savez_compressed(path, converged=traj.converged, steps=traj.steps, agents=np.array(dyn.agents),
                                **arrays)
        elif path.suffix == ".npz":
            np.savez_compressed(path, X=traj.X, converged=traj.converged, steps=traj.steps,
                                agents=np.array(dyn.agents), states=np.array(dyn.observations),
                                actions=np.array(dyn.actions))
        elif path.suffix == ".csv":  # the csv module quotes labels that contain commas or quotes
            with open(path, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["t", *_coordinate_names(dyn)])
                writer.writerows([t, *(f"{v:.12g}" for v in row)] for t, row in enumerate(X))
        elif path.suffix == ".nc":  # netCDF with labels and the game's identity: crldgen.load(path)
            traj.save(path)
        else:
            raise UsageError(f"--out {args.out!r}: use a .npz, .csv or .nc file name")
        print(f"wrote {path}", file=out)
    return 0


def _fixed_points(dyn, args):
    from .analysis import fixed_points

    return fixed_points(dyn, n_starts=args.starts, rng=args.seed)


def cmd_fixed_points(args, out) -> int:
    dyn = _dynamics(args)
    res = _fixed_points(dyn, args)
    print(res.summary(), file=out)
    for k, pt in enumerate(res.points):
        print(f"\nfixed point {k}: {pt.type}, eigenvalues of the map "
              + np.array2string(np.asarray(pt.eigenvalues), precision=6), file=out)
        print(_strategy_table(dyn, pt.X), file=out)
    return 0


def _default_projection(dyn):
    lay = layout_of(dyn)
    if lay is not None:
        if dyn.n_agents >= 2:
            q = min(lay.observation_counts[:2])
            return ([0], list(range(q)), [0]), ([1], list(range(q)), [0])
        N, Q, M = 1, lay.observation_counts[0], lay.action_counts[0]
    else:
        N, Q, M = dyn.shape
    states = list(range(Q))
    if N >= 2:
        return ([0], states, [0]), ([1], states, [0])
    if Q >= 2:
        return ([0], [0], [0]), ([0], [1], [0])
    if M >= 3:
        return ([0], [0], [0]), ([0], [0], [1])
    raise UsageError("this game has one agent, one state and two actions: there is no 2-d projection")


def cmd_flow(args, out) -> int:
    from . import plot

    _output_file("-o/--out", args.out, _FIGURE_SUFFIXES)
    dyn = _dynamics(args)
    x, y = _default_projection(dyn)
    if args.x is not None:
        x = _parse_coordinate_spec(args.x)
    if args.y is not None:
        y = _parse_coordinate_spec(args.y)
    _pyplot()
    fps = _fixed_points(dyn, args) if args.fixed_points else None
    if args.simplex is not None:
        agent, state = (_parse_coordinate_spec(args.simplex + ",0")[k][0] for k in (0, 1))
        lay = layout_of(dyn)
        if lay is None and dyn.n_actions != 3:
            raise UsageError(f"--simplex needs a game with 3 actions; this one has {dyn.n_actions}")
        if lay is not None and isinstance(agent, int) and 0 <= agent < dyn.n_agents \
                and lay.action_counts[agent] != 3:
            raise UsageError(f"--simplex needs an agent with 3 actions; agent {agent} has "
                             f"{lay.action_counts[agent]} (the agents have {lay.action_counts})")
        ax = plot.simplex(dyn, agent, state, points=args.points or 12, symmetric=args.symmetric,
                          arrows=args.arrows, fixed_points=fps)
        plot.save(ax, args.out, dpi=args.dpi)
    else:
        axes = plot.flow(dyn, x, y, args.points, kind=args.kind, arrows=args.arrows, fixed_points=fps)
        plot.save(axes, args.out, dpi=args.dpi)
    print(f"wrote {args.out}", file=out)
    return 0


def cmd_continue(args, out) -> int:
    from . import plot
    from . import analysis as cont

    lo, hi = args.range
    if not lo < hi:
        raise UsageError(f"--range {lo} {hi}: the first value must be smaller than the second")
    _output_file("-o/--out", args.out, _FIGURE_SUFFIXES)
    _output_file("--csv", args.csv, (".csv",))
    dyn = _dynamics(args)
    observable = None
    if args.observable is not None:
        spec = _parse_coordinate_spec(args.observable)
        observable = tuple(v[0] for v in spec)
    branch = None
    if args.method == "sweep":
        values = np.linspace(lo, hi, args.steps)
        X0 = _initial(dyn, args.x0, args.seed)
        res = cont.hysteresis_sweep(dyn, args.over, values, X0, tmax=args.tmax, tol=args.tol,
                                    observable=observable, threshold=0.25)
    else:
        X0 = _initial(dyn, args.x0 or "uniform", args.seed)
        res = cont.hysteresis(dyn, args.over, lo, hi, X0, observable=observable)
        # the whole branch from the lower end, through folds (unstable parts dashed)
        start = res.up["X"][0] if len(res.up["X"]) else X0
        branch = cont.continuation(dyn, args.over, start, start=lo, bounds=(lo, hi), observable=observable)
    for j in res.jumps:
        print(f"{j.direction:>4}: {j.kind} at {args.over} = {j.value:.6g} "
              f"({j.observable_before:.4g} -> {j.observable_after:.4g})", file=out)
    if not res.jumps:
        print(f"no jumps between {args.over} = {lo:g} and {hi:g}", file=out)
    if args.csv is not None:
        rows = [(d, float(v), float(o)) for d in ("up", "down")
                for v, o in zip(res[d].param, res[d].observable)]
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sweep", args.over, "observable"])
            writer.writerows([d, f"{v:.12g}", f"{o:.12g}"] for d, v, o in rows)
        print(f"wrote {args.csv}", file=out)
    if args.out is not None:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
        if observable is not None:
            label = plot.coordinate_label(dyn, observable)
        else:
            label = f"P({dyn.actions[0]}), mean over agents and states"
        if branch is not None:
            plot.bifurcation(branch, ax=ax, param=args.over, ylabel=label, jumps=res)
        else:
            plot.hysteresis(res, ax=ax, xlabel=args.over, ylabel=label)
        plot.save(fig, args.out, dpi=args.dpi)
        print(f"wrote {args.out}", file=out)
    return 0


# ------------------------------------------------------------------ sample-based learners (issue 12)
def _add_sample_parser(sub) -> None:
    """Register ``crldgen sample``: sample-based (batch or online) learners, optionally against CRLD."""
    from .sample import LEARNERS

    p = _command(sub, "sample", "simulate sample-based learners (batch or online) and compare with CRLD")
    p.add_argument("game", nargs="?", help="built-in game name (see `crldgen games`)")
    p.add_argument("--game-file", metavar="FILE", help="read the game from a TOML file instead")
    p.add_argument("--agents", type=int, metavar="N", help="number of agents (games that take n_agents)")
    p.add_argument("--learner", default="expected_sarsa", choices=list(LEARNERS),
                   help="sample learner (default expected_sarsa)")
    p.add_argument("--no-prefactor", action="store_true", help="do not scale rewards by (1 - gamma)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="game parameter (repeatable)")
    p.add_argument("--alpha", metavar="A", help=f"learning rate(s) (default {DEFAULT_ALPHA})")
    p.add_argument("--beta", metavar="B", help=f"choice intensity(ies) (default {DEFAULT_BETA:g})")
    p.add_argument("--gamma", metavar="G", help=f"discount factor(s) (default {DEFAULT_GAMMA})")
    p.add_argument("--cache-dir", metavar="DIR", help="where generated modules are cached (with --compare)")
    p.add_argument("--batch", type=int, default=1000, metavar="K",
                   help="transitions per strategy update (default 1000); 0 for the online learners")
    p.add_argument("--steps", type=int, default=100, help="strategy updates (online: time steps; default 100)")
    p.add_argument("--runs", type=int, default=10, help="independent replicates (default 10)")
    p.add_argument("--seed", type=int, default=0, help="root seed (runs and a random --x0; default 0)")
    p.add_argument("--every", type=int, default=1, help="record every k-th strategy (default 1)")
    p.add_argument("--x0", metavar="X", help="initial strategy: uniform (default), random, comma-separated "
                   "probabilities (agent, state, action order; the last action may be left out) or a .npy file")
    p.add_argument("--one-pass", action="store_true",
                   help="batch learners average the sample TD errors once with the current estimates instead of "
                   "replaying the batch to convergence (their limit is not the CRLD map)")
    p.add_argument("--compare", action="store_true",
                   help="also iterate the CRLD from --x0 and report the RMS distance (batch learners)")
    p.add_argument("-o", "--out", metavar="FILE", help="save strategies (and the CRLD trajectory) as .npz")


def cmd_sample(args, out) -> int:
    """``crldgen sample``: run sample-based learners; with ``--compare`` next to the CRLD trajectory."""
    from types import SimpleNamespace

    from . import sample

    game = _game(args)
    params = dict(_learner_params(args), **_game_params(args, game))
    shape = (game.n_agents, game.n_observations, game.n_actions)
    strategies = SimpleNamespace(  # what _initial needs of a Dynamics
        shape=shape, uniform_strategy=lambda: np.full(shape, 1.0 / shape[-1]),
        random_strategy=lambda seed: np.random.default_rng(seed).dirichlet(np.ones(shape[-1]), size=shape[:2]),
        check_strategy=lambda X, name: sample._check_strategy(X, shape, name))
    X0 = _initial(strategies, args.x0 or "uniform", args.seed)
    if args.batch < 0:
        raise UsageError(f"--batch must be >= 0 (0: online learners), got {args.batch}")
    batch = args.batch or None
    prefactor = not args.no_prefactor
    if args.compare:
        if batch is None:
            raise UsageError("--compare needs batch learners (--batch K > 0): one CRLD step per batch update")
        target = sample.CRLD_LEARNER[args.learner]
        if target is None:
            raise UsageError(f"--compare: learner {args.learner!r} has no CRLD counterpart")
        from .compiler import compile as crld_compile

        kw = {} if args.cache_dir is None else {"cache_dir": args.cache_dir}
        dyn = crld_compile(game, target, prefactor, **kw)
        cmp = sample.compare(game, X0, args.steps, batch, dyn=dyn, runs=args.runs, learner=args.learner,
                             seed=args.seed, every=args.every, prefactor=prefactor, replay=not args.one_pass,
                             **params)
        res = cmp.sample
    else:
        res = sample.simulate(game, X0, args.steps, learner=args.learner, batch=batch, runs=args.runs,
                              seed=args.seed, every=args.every, prefactor=prefactor, replay=not args.one_pass,
                              **params)
    kind = (f"batch K={batch}" + (", one pass" if args.one_pass else "")) if batch else "online"
    print(f"game {game.name}, sample learner {res.learner} ({kind}), {args.runs} runs x {args.steps} "
          f"{'updates' if batch else 'time steps'}, seed {args.seed}", file=out)
    mean, std = res.final.mean(0), res.final.std(0)
    obs = "state" if game.fully_observed else "obs"
    print("final strategy, mean (std) over runs:", file=out)
    print(f"agent  {obs:<8}" + "".join(f"{a:>19}" for a in game.actions), file=out)
    for i, o in np.ndindex(*shape[:2]):
        cells = "".join(f"{mean[i, o, a]:>10.4f} ({std[i, o, a]:.4f})" for a in range(shape[2]))
        print(f"{game.agents[i]:<6} {game.observations[o]:<8}{cells}", file=out)
    if args.compare:
        print(f"RMS distance to CRLD after {cmp.times[-1]} updates: {cmp.rms[-1]:.6g} "
              f"(run mean: {cmp.bias[-1]:.6g})", file=out)
    if args.out is not None:
        path = Path(args.out)
        if path.suffix != ".npz":
            raise UsageError(f"--out {args.out!r}: use a .npz file name")
        extra = dict(crld=cmp.crld, rms=cmp.rms) if args.compare else {}
        tmp = path.with_name(path.name + ".part.npz")  # written whole, then renamed
        np.savez_compressed(tmp, X=res.X, times=res.times, final=res.final, **extra)
        tmp.replace(path)
        print(f"wrote {path}", file=out)
    return 0


# ------------------------------------------------------------------ parser
def _add_game_options(p: argparse.ArgumentParser, learner_params: bool = True) -> None:
    g = p.add_argument_group("game and learner")
    g.add_argument("game", nargs="?", help="built-in game name (see `crldgen games`)")
    g.add_argument("--game-file", metavar="FILE", help="read the game from a TOML file instead")
    g.add_argument("--agents", type=_int_at_least(1), metavar="N", help="number of agents (games that take n_agents)")
    g.add_argument("--learner", default="sarsa", choices=["sarsa", "actor_critic", "actor-critic"],
                   help="learner (default sarsa)")
    g.add_argument("--no-prefactor", action="store_true", help="do not scale rewards by (1 - gamma)")
    g.add_argument("--param", action="append", metavar="NAME=VALUE", help="game parameter (repeatable)")
    if learner_params:
        g.add_argument("--alpha", metavar="A", help=f"learning rate(s) (default {DEFAULT_ALPHA})")
        g.add_argument("--beta", metavar="B", help=f"choice intensity(ies) (default {DEFAULT_BETA:g})")
        g.add_argument("--gamma", metavar="G", help=f"discount factor(s) (default {DEFAULT_GAMMA})")
        g.add_argument("--cache-dir", metavar="DIR", help="where generated modules are cached")


def _command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` starts with the same one-line summary as ``crldgen --help``."""
    return sub.add_parser(name, help=summary, description=summary[:1].upper() + summary[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(
        prog="crldgen", description="Collective reinforcement learning dynamics: derive, generate, simulate, "
        "analyse and plot.", epilog="`crldgen COMMAND --help` describes each command.\n\n" + EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"crldgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _command(sub, "games", "list the built-in games and their parameters")

    p = _command(sub, "derive", "print the update equations as LaTeX")
    _add_game_options(p, learner_params=False)
    p.add_argument("--no-general", action="store_true", help="omit the general CRLD equations")
    p.add_argument("--no-specific", action="store_true", help="omit the game-specific expressions")
    p.add_argument("--max-entries", type=_int_at_least(0), metavar="K", help="at most K game-specific lines")

    p = _command(sub, "generate", "write the generated numba module of a game")
    _add_game_options(p, learner_params=False)
    p.add_argument("-o", "--out", "--output", dest="out", default=".", metavar="DIR",
                   help="output directory (default: current)")

    p = _command(sub, "simulate", "iterate one learning trajectory")
    _add_game_options(p)
    p.add_argument("--x0", metavar="X", help="initial strategy: random (default), uniform, comma-separated "
                   "probabilities (agent, state, action order; the last action may be left out) or a .npy file")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the random initial strategy (default 0)")
    p.add_argument("--tmax", type=_int_at_least(1), default=5000, help="maximum trajectory length (default 5000)")
    p.add_argument("--tol", type=_finite_float(0.0), default=1e-5, help="convergence tolerance (default 1e-5)")
    p.add_argument("-o", "--out", metavar="FILE",
                   help="save the trajectory (.npz, .csv, or .nc: netCDF, read with crldgen.load)")

    p = _command(sub, "fixed-points", "find fixed points and their stability")
    _add_game_options(p)
    p.add_argument("--starts", type=_int_at_least(0), default=64, help="number of sampled starts (default 64)")
    p.add_argument("--seed", type=_int_at_least(0), default=0)

    p = _command(sub, "flow", "write a flow plot (PNG)")
    _add_game_options(p)
    p.add_argument("-o", "--out", "--output", dest="out", default="flow.png", metavar="PNG",
                   help="output file (default flow.png)")
    p.add_argument("--x", metavar="SPEC", help="x axis AGENT,STATE,ACTION; ':' lists panels, e.g. 0,g:p,c")
    p.add_argument("--y", metavar="SPEC", help="y axis, e.g. 1,g:p,c")
    p.add_argument("--points", type=_int_at_least(2), help="grid points per axis (default 9; 25 for streamlines)")
    p.add_argument("--kind", default="quiver", choices=["quiver", "samples", "stream"])
    p.add_argument("--arrows", default="tderror", choices=["tderror", "step"],
                   help="normalized TD error (default) or strategy change per step")
    p.add_argument("--fixed-points", action="store_true", help="find and mark fixed points")
    p.add_argument("--starts", type=_int_at_least(0), default=32, help="starts of the fixed-point search (default 32)")
    p.add_argument("--seed", type=_int_at_least(0), default=0)
    p.add_argument("--simplex", metavar="AGENT,STATE", help="ternary plot of one agent's strategy (3 actions)")
    p.add_argument("--symmetric", action="store_true", help="with --simplex: all agents play the plotted strategy")
    p.add_argument("--dpi", type=_int_at_least(1), default=200)

    p = _command(sub, "continue", "follow fixed points (or sweep) in a parameter; PNG/CSV")
    _add_game_options(p)
    p.add_argument("--over", required=True, metavar="NAME", help="parameter to vary (gamma, beta, qc, ...)")
    p.add_argument("--range", required=True, nargs=2, type=_finite_float(), metavar=("LO", "HI"))
    p.add_argument("--method", default="continuation", choices=["continuation", "sweep"],
                   help="pseudo-arclength continuation of stable branches up and down (default) or the "
                   "chapter's brute-force up/down sweep")
    p.add_argument("--steps", type=_int_at_least(2), default=61, help="grid values of --method sweep (default 61)")
    p.add_argument("--observable", metavar="SPEC", help="plotted quantity AGENT,STATE,ACTION (default: mean "
                   "probability of the first action)")
    p.add_argument("--x0", metavar="X", help="initial strategy (as for simulate)")
    p.add_argument("--seed", type=_int_at_least(0), default=0)
    p.add_argument("--tmax", type=_int_at_least(1), default=2500, help="steps per value of --method sweep")
    p.add_argument("--tol", type=_finite_float(0.0), default=1e-11, help="tolerance per value of --method sweep")
    p.add_argument("-o", "--out", "--output", dest="out", metavar="PNG", help="write the diagram")
    p.add_argument("--csv", metavar="FILE", help="write the up and down sweeps as CSV")
    p.add_argument("--dpi", type=_int_at_least(1), default=200)
    _add_sample_parser(sub)
    return parser


COMMANDS = {"games": cmd_games, "derive": cmd_derive, "generate": cmd_generate, "simulate": cmd_simulate,
            "fixed-points": cmd_fixed_points, "flow": cmd_flow, "continue": cmd_continue}
COMMANDS["sample"] = cmd_sample


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None, out=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Every failure becomes one line on stderr and an exit status (module docstring), never
    a traceback (``CRLDGEN_DEBUG=1`` re-raises unexpected exceptions for debugging).
    """
    out = sys.stdout if out is None else out
    parser = build_parser()
    prog = "crldgen"
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors (already printed)
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_BAD_INPUT
        prog = f"crldgen {args.command}"
        status = COMMANDS[args.command](args, out)
        out.flush()
        return status
    except BrokenPipeError:
        if out is sys.stdout:
            _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, GameError, ParameterError, StrategyError) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CrldgenError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except MemoryError:
        print(f"{prog}: error: out of memory (try a smaller game or fewer points)", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: still one line, never a traceback
        if os.environ.get("CRLDGEN_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)[:300]} (this is a bug in crldgen; "
              "please report it; CRLDGEN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
