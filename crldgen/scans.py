"""Parameter scans: grids of learner/game parameters and initial strategies, locally or on Dask.

:func:`scan` runs one trajectory (final state only) per combination of

* ``grid={name: values, ...}``: a cartesian product, one dimension per name;
* ``points={name: values, ...}``: an explicit list of parameter combinations (equal
  lengths, one dimension ``'point'``);
* ``X0``: one initial joint strategy, or a stack of them (dimension ``'initial'``);

and returns one ``xarray.Dataset`` with the final strategies, trajectory lengths and
convergence flags, labelled by the parameter values and the game's agents, states and
actions. Names are anything :meth:`crldgen.Dynamics.params` accepts (``'gamma'``,
``'beta_1'``, game parameters such as ``'qc'``).

Locally the whole scan is one call of the compiled batch kernel
(:meth:`crldgen.Dynamics.trajectories`, parallel over the cores). With a
``dask.distributed`` ``client`` the members are split into chunks; the dynamics object is
sent to every worker once (it pickles by reference to its generated module, which each
worker process imports once) and every chunk runs the same compiled batch kernel, so the
result is bit for bit the local one. Progress: ``progress=True`` shows Dask's own
progress bar (``distributed.progress``: a widget in notebooks, text in a terminal); the
chunks also appear on the Dask dashboard.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from .analysis._core import batch_overrides
from .errors import ParameterError
from .runtime.identity import game_info

if TYPE_CHECKING:  # pragma: no cover
    import xarray

__all__ = ["scan", "scan_members"]


def _axes(dyn, grid, points):
    """``[(dim, {name: values})]``: one entry per grid name, plus ``'point'`` for the explicit list."""
    axes = []
    for name, values in (grid or {}).items():
        dyn.parameter_slot(name)  # unknown names fail here, with the list of known ones
        arr = np.asarray(values, dtype=float)
        if arr.ndim != 1 or len(arr) == 0:
            raise ParameterError(f"grid[{name!r}] must be a non-empty 1-D sequence of values, got shape {arr.shape}")
        axes.append((name, {name: arr}))
    if points:
        cols = {}
        for name, values in points.items():
            dyn.parameter_slot(name)
            if name in (grid or {}):
                raise ParameterError(f"{name!r} is given both in grid and in points")
            arr = np.asarray(values, dtype=float)
            if arr.ndim != 1 or len(arr) == 0:
                raise ParameterError(f"points[{name!r}] must be a non-empty 1-D sequence, got shape {arr.shape}")
            cols[name] = arr
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ParameterError(f"points: every parameter needs one value per point, got lengths {lengths}")
        axes.append(("point", cols))
    return axes


def _initial(dyn, X0) -> tuple[np.ndarray, bool]:
    arr = np.asarray(X0, dtype=float)
    if arr.shape == dyn.shape:
        return arr[None], False
    if arr.ndim == 4 and arr.shape[1:] == dyn.shape:
        return arr, True
    raise ParameterError(f"X0 has shape {arr.shape}; give one strategy {dyn.shape} or a stack (K,) + {dyn.shape}")


def scan_members(dyn, X0, grid=None, points=None):
    """The flattened members of a scan: ``(dims, sizes, coords, X0s (B, N, Q, M), overrides {name: (B,)})``."""
    axes = _axes(dyn, grid, points)
    inits, stacked = _initial(dyn, X0)
    dims = [d for d, _ in axes] + (["initial"] if stacked else [])
    sizes = [len(next(iter(cols.values()))) for _, cols in axes] + ([len(inits)] if stacked else [])
    index = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.zeros((0, 1), int)
    B = index.shape[1]
    overrides = {}
    for k, (_, cols) in enumerate(axes):
        for name, values in cols.items():
            overrides[name] = values[index[k]]
    X0s = inits[index[-1]] if stacked else np.repeat(inits, B, axis=0)
    coords = {}
    for d, cols in axes:
        for name, values in cols.items():
            coords[name] = ((d,), values)
    return dims, sizes, coords, X0s, overrides


def _run_chunk(dyn, X0s, overrides, fixed, tmax, tol, reverse):
    """One chunk of members with the compiled batch kernel (runs on a Dask worker or locally)."""
    res = dyn.trajectories(X0s, tmax, tol, every=None, reverse=reverse, progress=False, on_divergence="flag",
                           **overrides, **fixed)
    return res.final, res.final_logit, res.steps, res.converged, res.diverged


def scan(dyn, X0, tmax: int, tol: float | None = None, *, grid: dict | None = None, points: dict | None = None,
         client=None, chunk_size: int | None = None, progress: bool = False, reverse: bool = False,
         **fixed) -> xarray.Dataset:
    """Scan parameters and initial strategies; one trajectory per combination, one Dataset back.

    Parameters
    ----------
    dyn : Dynamics
    X0 : array (N, Q, M) or (K, N, Q, M)
        Initial strategy, or K of them (a dimension ``'initial'`` of the result).
    tmax, tol : as in :meth:`Dynamics.trajectories` (final states only are kept).
    grid : dict name -> 1-D values, optional
        Cartesian product: one dimension per name, in the given order.
    points : dict name -> 1-D values of equal length, optional
        An explicit list of parameter combinations (dimension ``'point'``).
    client : dask.distributed.Client, optional
        Run on the cluster in chunks of ``chunk_size`` members (default: about four
        chunks per worker); None runs locally in one compiled batch call.
    progress : bool
        Locally: crldgen's progress bar; on Dask: ``distributed.progress`` of the chunks.
    reverse : bool
        Iterate the reverse-time map.
    **fixed
        Parameter overrides for every member (scalars, or per-agent values of shape (N,)).

    Returns
    -------
    xarray.Dataset
        ``final`` (scan dims..., agent, state, action), ``final_logit``, ``steps``,
        ``converged``, ``diverged``; the scanned values as coordinates; ``X0``; the game's
        identity and the fixed parameters as attributes. Save it with
        :func:`crldgen.save`, read it with :func:`crldgen.load`.
    """
    from .data import _xr

    xr = _xr()
    dims, sizes, coords, X0s, overrides = scan_members(dyn, X0, grid, points)
    clash = set(fixed) & set(overrides)
    if clash:
        raise ParameterError(f"{sorted(clash)} are both scanned and given as fixed overrides")
    fixed_b = batch_overrides(dyn, fixed)
    B = len(X0s)
    if client is None:
        parts = [_run_chunk(dyn, X0s, overrides, fixed_b, tmax, tol, reverse) if not progress else
                 _local_with_progress(dyn, X0s, overrides, fixed_b, tmax, tol, reverse)]
    else:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        size = int(chunk_size) if chunk_size else max(1, -(-B // (4 * n_workers)))
        if size < 1:
            raise ParameterError(f"chunk_size must be >= 1, got {chunk_size}")
        remote = client.scatter(dyn, broadcast=True)
        futures = []
        for lo in range(0, B, size):
            sl = slice(lo, min(lo + size, B))
            futures.append(client.submit(_run_chunk, remote, X0s[sl], {k: v[sl] for k, v in overrides.items()},
                                         fixed_b, tmax, tol, reverse, pure=False))
        if progress:
            from distributed import progress as dask_progress

            dask_progress(futures)
        parts = client.gather(futures)
    final, logit, steps, conv, div = (np.concatenate([p[k] for p in parts]) for k in range(5))
    info = game_info(dyn)
    sdims = info.strategy_dims
    shape = tuple(sizes)
    ds = xr.Dataset(
        {"final": (tuple(dims) + sdims, final.reshape(shape + dyn.shape)),
         "final_logit": (tuple(dims) + sdims[:2] + ("free_action",), logit.reshape(shape + logit.shape[1:])),
         "steps": (tuple(dims), steps.reshape(shape)),
         "converged": (tuple(dims), conv.reshape(shape)),
         "diverged": (tuple(dims), div.reshape(shape))},
        coords={**coords, **dict(zip(sdims, (list(v) for v in info.strategy_labels))),
                "free_action": list(info.actions[:-1])})
    inits, stacked = _initial(dyn, X0)
    ds["X0"] = ((("initial",) if stacked else ()) + sdims, inits if stacked else inits[0])
    from ._version import __version__

    ds.attrs.update(crldgen_kind="scan", crldgen_version=__version__, crldgen_game=json.dumps(info.to_dict()),
                    game=info.game, learner=info.learner, prefactor=int(info.prefactor), module_key=info.key,
                    tmax=int(tmax), tol=float(tol) if tol is not None else 0.0, reverse=int(bool(reverse)),
                    fixed=json.dumps({k: np.asarray(v).tolist() for k, v in fixed.items()}),
                    defaults=json.dumps({k: np.asarray(v).tolist() for k, v in dyn.defaults.items()}))
    return ds


def _local_with_progress(dyn, X0s, overrides, fixed, tmax, tol, reverse):
    res = dyn.trajectories(X0s, tmax, tol, every=None, reverse=reverse, progress=True, on_divergence="flag",
                           **overrides, **fixed)
    return res.final, res.final_logit, res.steps, res.converged, res.diverged

