"""Results as labeled data: xarray Datasets, pandas tables, netCDF files, HTML tables.

Every result object (:class:`~crldgen.iterate.Trajectory`, ``Trajectories``, ``Sweep``,
and every analysis :class:`~crldgen.analysis.Result`: fixed points, stability reports,
basins, tipping points, continuation branches, hysteresis loops) converts to an
``xarray.Dataset``:

* joint strategies get the dimensions ``('agent', 'state', 'action')`` (``'observation'``
  instead of ``'state'`` under partial observability) with the game's labels as
  coordinates; log-ratios ``('agent', 'state', 'free_action')``; Jacobians
  ``('row', 'column')`` over the free coordinates (labelled ``'agent|state|action'``),
  eigenvalues ``'mode'``; a trajectory's rows ``'time'`` (the step index), a batch's
  members ``'member'``, fixed points ``'point'``, ...
* per-member parameters of batches are coordinates along ``'member'``; the parameters
  of single results and the game's identity (``game``, ``learner``, ``module_key``,
  ``prefactor``) are attributes;
* nested fields get dotted names (``'up.X'``, ``'bifurcations.kind'``); lists of results
  of one kind are stacked along a new dimension.

:func:`save` writes that Dataset to netCDF (engine ``netcdf4``, else ``h5netcdf``; complex
arrays split into real and imaginary parts) together with a JSON description of the
object, and :func:`load` rebuilds the very same object (equal arrays, dtypes, scalars,
classes), with its :class:`~crldgen.runtime.identity.GameInfo` attached, so that
``result.dynamics()`` (or ``load(path, dyn=...)``, which checks the module key) re-attaches
it to the compiled game. Files written by :func:`crldgen.scan` load as Datasets.

xarray, pandas and h5netcdf are imported lazily: ``pip install crldgen[data]``.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import CacheError, CrldgenError
from .runtime.identity import GameInfo, attach_game, game_info, game_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import xarray

__all__ = ["DataFormatError", "from_xarray", "load", "save", "to_pandas", "to_xarray"]

#: version of the JSON description stored in every file (attribute ``crldgen_meta``)
META_VERSION = 1
META_ATTR = "crldgen_meta"
GAME_ATTR = "crldgen_game"
#: trailing dimension of complex arrays in files (netCDF has no complex type)
COMPLEX_DIM = "re_im"

#: dimension hints: field name -> dims; ``S3`` stands for the strategy dims, ``Y3`` for log-ratios
_HINTS = {
    "Trajectory": {"X": ("time", "S3"), "final": ("S3",), "final_logit": ("Y3",)},
    "Trajectories": {"X": ("member", "time", "S3"), "final": ("member", "S3"), "final_logit": ("member", "Y3"),
                     "steps": ("member",), "converged": ("member",), "diverged": ("member",),
                     "n_stored": ("member",), "ran": ("member",), "values": ("member",)},
    "FixedPoint": {"X": ("S3",), "y": ("Y3",), "jacobian": ("row", "column"), "eigenvalues": ("mode",),
                   "eigenvectors": ("row", "mode"), "flow_eigenvalues": ("mode",)},
    "FixedPointResult": {"X": ("point", "S3"), "stable": ("point",)},
    "ContinuationResult": {"param": ("point",), "X": ("point", "S3"), "y": ("point", "row"),
                           "observable": ("point",), "stable": ("point",), "spectral_radius": ("point",),
                           "eigenvalues": ("point", "mode"), "arclength": ("point",)},
    "BasinResult": {"labels": ("y_value", "x_value"), "steps": ("y_value", "x_value"),
                    "converged": ("y_value", "x_value"), "x_values": ("x_value",), "y_values": ("y_value",),
                    "fractions": ("attractor",), "stderr": ("attractor",), "X0": ("sample", "S3")},
}
_HINTS["Sweep"] = _HINTS["Trajectories"]
#: results whose list of points is their main content: the stacked fields lose the prefix
_FLATTEN = {"FixedPointResult": "points"}
#: nested results whose arrays share a leading axis named like the field (hysteresis sweeps)
_NESTED_LEAD = ("up", "down")
#: names of the stacking dimension of lists of results, by field name
_STACK_DIMS = {"points": "point", "bifurcations": "bifurcation", "jumps": "jump", "attractors": "attractor",
               "branches": "branch"}


class DataFormatError(CrldgenError, ValueError):
    """A file or Dataset is not a crldgen result (or was written by an incompatible version)."""


# ------------------------------------------------------------------ helpers
def _xr():
    try:
        import xarray
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("crldgen's labeled data needs xarray: pip install 'crldgen[data]'") from exc
    return xarray


def _result_classes() -> dict:
    """Classes a file may name (nothing else is ever instantiated from a file)."""
    from . import analysis, iterate
    from .analysis import Result

    out = {"Trajectory": iterate.Trajectory, "Trajectories": iterate.Trajectories, "Sweep": iterate.Sweep}
    for name in dir(analysis):
        obj = getattr(analysis, name)
        if isinstance(obj, type) and issubclass(obj, Result):
            out[name] = obj
    return out


def _info_for(result, dyn) -> GameInfo | None:
    info = game_of(result)
    if dyn is not None:
        given = game_info(dyn)
        if info is not None:
            info.check(dyn)
        return given
    return info


class _Shapes:
    """Strategy shape and labels of one game (from its GameInfo, or guessed from the result)."""

    def __init__(self, info: GameInfo | None, result):
        self.info = info
        if info is not None and info.actions and not isinstance(info.actions[0], str):
            raise CrldgenError(
                f"labeled data (xarray, pandas, netCDF files) of heterogeneous games ({info.game!r}: agents with "
                "different numbers of actions or observations) is not supported yet; the result's arrays are "
                "per-agent tuples, use them directly")
        if info is not None:
            labels = info.strategy_labels
            self.shape = tuple(len(v) for v in labels)
            self.dims = info.strategy_dims
            self.labels = labels
        else:
            X = _first_strategy(result)
            self.shape = X.shape[-3:] if X is not None else None
            self.dims = ("agent", "state", "action")
            self.labels = None
        if self.shape is not None:
            N, S, M = self.shape
            self.n_free = N * S * (M - 1)
            self.logit_shape = (N, S, M - 1)
        else:
            self.n_free, self.logit_shape = None, None

    def expand(self, dims: tuple) -> tuple:
        out = []
        for d in dims:
            if d == "S3":
                out.extend(self.dims)
            elif d == "Y3":
                out.extend((self.dims[0], self.dims[1], "free_action"))
            else:
                out.append(d)
        return tuple(out)

    def guess(self, key: str, arr: np.ndarray) -> tuple | None:
        """Trailing dims of an array from its shape (strategy, log-ratio, Jacobian, eigenvalues)."""
        if self.shape is None:
            return None
        if arr.ndim >= 3 and arr.shape[-3:] == self.shape:
            return self.dims
        if arr.ndim >= 3 and arr.shape[-3:] == self.logit_shape:
            return (self.dims[0], self.dims[1], "free_action")
        if key in ("jacobian",) and arr.shape[-2:] == (self.n_free, self.n_free):
            return ("row", "column")
        if key == "eigenvectors" and arr.shape[-2:] == (self.n_free, self.n_free):
            return ("row", "mode")
        if "eigenvalues" in key and arr.ndim >= 1 and arr.shape[-1] == self.n_free:
            return ("mode",)
        if key == "y" and arr.ndim >= 1 and arr.shape[-1] == self.n_free:
            return ("row",)
        if key in ("eigenvector",) and arr.shape[-1:] == (self.n_free,):
            return ("row",)
        return None


def _first_strategy(obj, depth=0):
    if depth > 3:
        return None
    if dataclasses.is_dataclass(obj):
        return np.asarray(obj.final)
    if isinstance(obj, dict):
        for k in ("X", "final"):
            v = obj.get(k)
            if isinstance(v, np.ndarray) and v.ndim >= 3:
                return v
        for v in obj.values():
            if isinstance(v, (dict, list)):
                found = _first_strategy(v, depth + 1)
                if found is not None:
                    return found
    if isinstance(obj, list):
        for v in obj:
            found = _first_strategy(v, depth + 1)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------ encoding
class _Encoder:
    """Walks a result object: arrays become variables, the rest a JSON tree that names them."""

    def __init__(self, shapes: _Shapes):
        self.shapes = shapes
        self.variables: dict[str, tuple[tuple, np.ndarray]] = {}
        self.dim_sizes: dict[str, int] = {}

    # -- variables
    def add(self, name: str, arr: np.ndarray, dims: tuple | None) -> str:
        if dims is None or len(dims) != arr.ndim or any(
                self.dim_sizes.get(d, n) != n for d, n in zip(dims, arr.shape)) or len(set(dims)) != len(dims):
            dims = tuple(f"{name}_dim{k}" for k in range(arr.ndim))
        for d, n in zip(dims, arr.shape):
            self.dim_sizes[d] = n
        self.variables[name] = (dims, arr)
        return name

    def dims_for(self, cls_name: str, key: str, arr: np.ndarray, lead: tuple, prefix: str) -> tuple | None:
        hint = _HINTS.get(cls_name, {}).get(key)
        if hint is not None:
            dims = self.shapes.expand(hint) if self.shapes.shape is not None or "S3" not in hint else None
            if dims is not None and len(lead) + len(dims) == arr.ndim:
                return tuple(lead) + tuple(self._scoped(d, prefix) for d in dims)
        tail = self.shapes.guess(key, arr[(0,) * len(lead)] if lead and arr.size else arr) if len(lead) < arr.ndim \
            or not lead else None
        if tail is None and arr.ndim == len(lead):
            return tuple(lead)
        if tail is not None and len(lead) + len(tail) == arr.ndim:
            return tuple(lead) + tail
        return None

    def _scoped(self, dim: str, prefix: str) -> str:
        """Leading dims of nested results get the nesting path (so that sizes never clash)."""
        if dim in (*self.shapes.dims, "free_action", "row", "column", "mode") or not prefix:
            return dim
        return f"{prefix}{dim}"

    # -- the tree
    def encode(self, value, name: str, key: str = "", cls_name: str = "", lead: tuple = (), prefix: str = ""):
        if value is None or isinstance(value, (bool, str)):
            return {"t": "py", "v": value}
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return {"t": "py", "v": value}
        if isinstance(value, np.generic):
            return {"t": "npscalar", "dtype": value.dtype.str, "v": value.item()}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcU":
                raise DataFormatError(f"field {name!r}: arrays of dtype {value.dtype} cannot be stored")
            var = self.add(name, value, self.dims_for(cls_name, key, value, lead, prefix))
            return {"t": "array", "var": var, "dtype": value.dtype.str}
        if isinstance(value, GameInfo):
            return {"t": "gameinfo", "v": value.to_dict()}
        classes = _result_classes()
        if dataclasses.is_dataclass(value) and type(value).__name__ in classes:
            cname = type(value).__name__
            fields = {f.name: self.encode(getattr(value, f.name), self._join(name, f.name), f.name, cname, lead,
                                          prefix) for f in dataclasses.fields(value)}
            return {"t": "dataclass", "cls": cname, "fields": fields}
        if isinstance(value, dict):
            from .analysis import Result

            if isinstance(value, Result):
                cname = type(value).__name__ if type(value).__name__ in classes else "Result"
            else:
                cname = None
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise DataFormatError(f"field {name!r}: only string keys can be stored, got {bad[0]!r}")
            items = {}
            if cname == "Result" and key in _NESTED_LEAD and not lead:
                lead_name = self._scoped(key, prefix)
                firsts = {v.shape[0] for v in value.values() if isinstance(v, np.ndarray) and v.ndim}
                if len(firsts) == 1:
                    lead = (lead_name,)
            for k, v in value.items():
                if key == "params" and cname is None and isinstance(v, np.ndarray) and \
                        cls_name in ("Trajectory", "Trajectories", "Sweep"):
                    # per-agent learner parameters; a batch's parameters have a leading member axis
                    dims = (("member",) if cls_name != "Trajectory" else ()) + \
                        (("agent",) if k in ("alpha", "beta", "gamma") else ())
                    var = self.add(self._join(name, k), v, self.shapes.expand(dims))
                    items[k] = {"t": "array", "var": var, "dtype": v.dtype.str}
                else:
                    items[k] = self.encode(v, self._join(name, k), k, cname or cls_name, lead, prefix)
            return {"t": "result" if cname else "dict", "cls": cname, "items": items}
        if isinstance(value, (list, tuple)):
            return self.encode_list(value, name, key, lead, prefix)
        raise DataFormatError(f"field {name!r}: values of type {type(value).__name__} cannot be stored")

    @staticmethod
    def _join(name: str, key: str) -> str:
        return f"{name}.{key}" if name else key

    def encode_list(self, items, name, key, lead, prefix):
        kind = "tuple" if isinstance(items, tuple) else "list"
        stacked = self._stackable(items)
        if stacked is not None and not lead:
            dim = self._scoped(_STACK_DIMS.get(key, f"{key}_item"), prefix)
            cname = stacked
            fields = {}
            for k in items[0]:
                vals = [it[k] for it in items]
                fields[k] = self._encode_stacked(vals, self._join(name, k), k, cname, dim, prefix)
            return {"t": "stack", "kind": kind, "cls": cname, "n": len(items), "fields": fields}
        out = [self.encode(v, f"{name}.{j}", key, "", lead, f"{name}.{j}.") for j, v in enumerate(items)]
        return {"t": kind, "items": out}

    def _encode_stacked(self, vals, name, key, cname, dim, prefix):
        first = vals[0]
        if isinstance(first, np.ndarray) and all(isinstance(v, np.ndarray) and v.shape == first.shape
                                                 and v.dtype == first.dtype for v in vals):
            arr = np.stack(vals)
            var = self.add(name, arr, self.dims_for(cname, key, arr, (dim,), prefix))
            return {"t": "stacked_array", "var": var, "dtype": first.dtype.str}
        for typ in (bool, int, float, str):
            if all(type(v) is typ for v in vals):
                arr = np.array(vals) if typ is not str else np.array(vals, dtype=str)
                if typ is int:
                    arr = arr.astype(np.int64)
                var = self.add(name, arr, (dim,))
                return {"t": "stacked_py", "var": var, "type": typ.__name__}
        return {"t": "list", "items": [self.encode(v, f"{name}.{j}", key, cname, (), f"{name}.{j}.")
                                       for j, v in enumerate(vals)]}

    @staticmethod
    def _stackable(items):
        """Class name when ``items`` are >= 1 analysis results of one class with the same keys."""
        from .analysis import Result

        if not items or not all(isinstance(it, Result) for it in items):
            return None
        cls = type(items[0])
        keys = list(items[0])
        if not all(type(it) is cls and list(it) == keys for it in items):
            return None
        for k in keys:  # arrays of different shapes (branches of different lengths): one by one
            arrays = [it[k] for it in items if isinstance(it[k], np.ndarray)]
            if arrays and (len(arrays) < len(items) or len({(a.shape, a.dtype.str) for a in arrays}) > 1):
                return None
        return cls.__name__ if cls.__name__ in _result_classes() else "Result"


# ------------------------------------------------------------------ public API
def to_xarray(result, dyn=None) -> xarray.Dataset:
    """Convert a crldgen result to an ``xarray.Dataset`` (see the module docstring for the layout).

    Parameters
    ----------
    result : Trajectory, Trajectories, Sweep, or an analysis Result
    dyn : Dynamics, optional
        Labels and identity of the game; by default the ones the result carries (every
        result made by a crldgen function does). Given both, their module keys must match.

    Returns
    -------
    xarray.Dataset
        Its attributes ``crldgen_meta`` (JSON) and ``crldgen_game`` let :func:`from_xarray`
        rebuild the object exactly.
    """
    xr = _xr()
    info = _info_for(result, dyn)
    shapes = _Shapes(info, result)
    enc = _Encoder(shapes)
    tree = enc.encode(result, "")
    coords = {}
    if shapes.labels is not None:
        for d, lab in zip(shapes.dims, shapes.labels):
            if d in enc.dim_sizes:
                coords[d] = list(lab)
        if "free_action" in enc.dim_sizes:
            coords["free_action"] = list(shapes.labels[2][:-1])
        free = [f"{a}|{s}|{x}" for a in shapes.labels[0] for s in shapes.labels[1] for x in shapes.labels[2][:-1]]
        for d in ("row", "column"):
            if enc.dim_sizes.get(d) == len(free):
                coords[d] = free
    _dedupe_variables(enc, tree)
    flatten = _FLATTEN.get(type(result).__name__)
    if flatten:
        for name in list(enc.variables):
            short = name[len(flatten) + 1:]
            if name.startswith(flatten + ".") and "." not in short and short not in enc.variables:
                enc.variables[short] = enc.variables.pop(name)
                _rename(tree, name, short)
    data_vars = {}
    top = tree.get("fields") or tree.get("items") or {}
    param_names = set(info.param_names) | {"alpha", "beta", "gamma"} if info is not None else set()
    every = getattr(result, "every", None) if dataclasses.is_dataclass(result) else None
    for name, (dims, arr) in enc.variables.items():
        short = name.split(".", 1)[1] if name.startswith("params.") else name
        is_param = name.startswith("params.") and short not in top and short not in enc.variables
        if is_param:
            enc_name = short
        else:
            enc_name = name
        if enc_name != name:
            _rename(tree, name, enc_name)
        if is_param and set(dims) <= {"member", "agent"} | set(shapes.dims[:1]):
            coords[enc_name] = (dims, arr)
        else:
            data_vars[enc_name] = (dims, arr)
    if "time" in enc.dim_sizes and every:
        coords["time"] = np.arange(enc.dim_sizes["time"]) * int(every)
    if type(result).__name__ == "Sweep" and result.values is not None and np.ndim(result.values) == 1:
        coords[f"{result.name}_swept"] = ("member", np.asarray(result.values))
    if type(result).__name__ == "ContinuationResult" and "param" in data_vars:
        coords[str(result.param_name)] = ("point", np.asarray(result.param))
    attrs = {META_ATTR: json.dumps({"version": META_VERSION, "tree": tree}, allow_nan=True),
             "crldgen_kind": type(result).__name__}
    from ._version import __version__

    attrs["crldgen_version"] = __version__
    if info is not None:
        attrs[GAME_ATTR] = json.dumps(info.to_dict())
        attrs.update(game=info.game, learner=info.learner, prefactor=int(info.prefactor), module_key=info.key)
    params = result.get("params") if isinstance(result, dict) else getattr(result, "params", None)
    if isinstance(params, dict):
        for k, v in params.items():
            arr = np.asarray(v)
            if arr.dtype.kind in "biuf" and arr.ndim <= 1 and not (dataclasses.is_dataclass(result) and
                                                                    type(result).__name__ != "Trajectory"):
                attrs[k] = arr if arr.ndim else arr.item()
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _dedupe_variables(enc: _Encoder, tree) -> None:
    """Store identical arrays once (e.g. ``FixedPointResult.X`` and the stacked ``points.X``)."""
    seen: dict = {}
    for name in sorted(enc.variables, key=lambda n: (len(n), n)):
        dims, arr = enc.variables[name]
        sig = (dims, arr.dtype.str, arr.shape, hash(arr.tobytes()))
        other = seen.get(sig)
        if other is not None and np.array_equal(enc.variables[other][1], arr, equal_nan=arr.dtype.kind in "fc"):
            del enc.variables[name]
            _rename(tree, name, other)
        else:
            seen[sig] = name


def _rename(tree, old: str, new: str) -> None:
    if isinstance(tree, dict):
        if tree.get("var") == old:
            tree["var"] = new
        for v in tree.values():
            _rename(v, old, new)
    elif isinstance(tree, list):
        for v in tree:
            _rename(v, old, new)


def from_xarray(ds: xarray.Dataset):
    """Rebuild the result object a Dataset of :func:`to_xarray` describes (with its GameInfo)."""
    meta = ds.attrs.get(META_ATTR)
    if meta is None:
        raise DataFormatError("the Dataset has no crldgen_meta attribute: it was not made by crldgen's to_xarray")
    try:
        meta = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"crldgen_meta is not valid JSON: {exc}") from exc
    if meta.get("version") != META_VERSION:
        raise DataFormatError(f"crldgen_meta version {meta.get('version')!r}; this crldgen reads {META_VERSION}")
    classes = _result_classes()
    result = _decode(meta["tree"], ds, classes)
    info = _game_attr(ds)
    if info is not None:
        attach_game(result, info, depth=3)
    return result


def _game_attr(ds) -> GameInfo | None:
    text = ds.attrs.get(GAME_ATTR)
    if text is None:
        return None
    try:
        return GameInfo.from_dict(json.loads(text))
    except (json.JSONDecodeError, TypeError) as exc:
        raise DataFormatError(f"crldgen_game attribute is not a game identity: {exc}") from exc


def _array(ds, var: str, dtype: str) -> np.ndarray:
    if var not in ds.variables:
        raise DataFormatError(f"the Dataset lacks variable {var!r} named in its crldgen_meta")
    arr = np.asarray(ds[var].values)
    dt = np.dtype(dtype)
    if dt.kind == "U":
        return np.array([str(v) for v in arr.ravel()], dtype=dt).reshape(arr.shape)
    return np.array(arr, dtype=dt)


def _decode(node, ds, classes):
    t = node["t"]
    if t == "py":
        return node["v"]
    if t == "npscalar":
        return np.dtype(node["dtype"]).type(node["v"])
    if t == "array":
        return _array(ds, node["var"], node["dtype"])
    if t == "gameinfo":
        return GameInfo.from_dict(node["v"])
    if t in ("list", "tuple"):
        items = [_decode(v, ds, classes) for v in node["items"]]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        return {k: _decode(v, ds, classes) for k, v in node["items"].items()}
    if t == "result":
        cls = _cls(classes, node["cls"])
        return cls({k: _decode(v, ds, classes) for k, v in node["items"].items()})
    if t == "dataclass":
        cls = _cls(classes, node["cls"])
        return cls(**{k: _decode(v, ds, classes) for k, v in node["fields"].items()})
    if t == "stack":
        cls = _cls(classes, node["cls"])
        n = node["n"]
        cols = {k: _unstack(v, ds, classes, n) for k, v in node["fields"].items()}
        items = [cls({k: col[j] for k, col in cols.items()}) for j in range(n)]
        return tuple(items) if node["kind"] == "tuple" else items
    raise DataFormatError(f"unknown node type {t!r} in crldgen_meta")


def _unstack(node, ds, classes, n):
    t = node["t"]
    if t == "stacked_array":
        arr = _array(ds, node["var"], node["dtype"])
        return [arr[j].copy() for j in range(n)]
    if t == "stacked_py":
        arr = np.asarray(ds[node["var"]].values)
        conv = {"bool": bool, "int": int, "float": float, "str": str}[node["type"]]
        return [conv(v) for v in arr.tolist()]
    return _decode(node, ds, classes)


def _cls(classes, name):
    if name not in classes:
        raise DataFormatError(f"unknown result class {name!r} in crldgen_meta")
    return classes[name]


# ------------------------------------------------------------------ files
def _engine(engine: str | None) -> str:
    if engine is not None:
        return engine
    try:
        import netCDF4  # noqa: F401

        return "netcdf4"
    except ImportError:
        return "h5netcdf"  # needs h5py as well


def _for_file(ds):
    """netCDF has no complex numbers: split them along a trailing ``re_im`` dimension."""
    out = ds.copy()
    for name in list(out.variables):
        var = out[name]
        if np.iscomplexobj(var.values):
            parts = np.stack([var.values.real, var.values.imag], axis=-1)
            attrs = dict(var.attrs, crldgen_complex=1)
            new = (var.dims + (COMPLEX_DIM,), parts, attrs)
            if name in out.coords:
                out = out.assign_coords({name: new})
            else:
                out[name] = new
    return out


def _from_file(ds):
    for name in list(ds.variables):
        var = ds[name]
        if var.attrs.get("crldgen_complex"):
            vals = var.values[..., 0] + 1j * var.values[..., 1]
            attrs = {k: v for k, v in var.attrs.items() if k != "crldgen_complex"}
            new = (var.dims[:-1], vals, attrs)
            if name in ds.coords:
                ds = ds.assign_coords({name: new})
            else:
                ds[name] = new
    return ds


def save(result, path: str | os.PathLike, dyn=None, *, engine: str | None = None) -> Path:
    """Write a result (or a Dataset of :func:`crldgen.scan`) to a netCDF file, atomically.

    Parameters
    ----------
    result : a crldgen result object or an ``xarray.Dataset``
    path : file name (``.nc``)
    dyn : Dynamics, optional (see :func:`to_xarray`)
    engine : ``'netcdf4'`` (default when installed) or ``'h5netcdf'``

    Returns
    -------
    str
        The path. Read it back with :func:`load`.
    """
    xr = _xr()
    ds = result if isinstance(result, xr.Dataset) else to_xarray(result, dyn)
    ds = _for_file(ds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=_engine(engine))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike, dyn=None, *, engine: str | None = None, cache_dir=None):
    """Read a file written by :func:`save`: the same result object (or the scan's Dataset).

    Parameters
    ----------
    path : file name
    dyn : Dynamics, optional
        Checked against the file's module key (:class:`~crldgen.errors.CacheError` if the
        file belongs to another game or learner).

    The game identity is attached (``result.game_info``); ``result.dynamics()`` loads
    the compiled module by its key (from the shipped ``generated/`` folder or the cache).
    """
    xr = _xr()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with xr.open_dataset(path, engine=_engine(engine)) as opened:
        ds = _from_file(opened.load())
    info = _game_attr(ds)
    if dyn is not None:
        if info is None:
            raise CacheError(f"{path} carries no game identity, so it cannot be checked against the dynamics")
        info.check(dyn)
    if ds.attrs.get("crldgen_kind") == "scan":
        return ds
    return from_xarray(ds)


# ------------------------------------------------------------------ tables
def _strategy_columns(info: GameInfo | None, X: np.ndarray, name: str = "X") -> dict:
    N, S, M = X.shape[-3:]
    labels = info.strategy_labels if info is not None else (range(N), range(S), range(M))
    out = {}
    for i, a in enumerate(labels[0]):
        for s, st in enumerate(labels[1]):
            for k, ac in enumerate(labels[2]):
                out[f"{name}[{a},{st},{ac}]"] = X[..., i, s, k]
    return out


def table_rows(result, dyn=None, limit: int | None = None) -> tuple[list[str], list[list]]:
    """``(columns, rows)`` of the table of a result (used by :func:`to_pandas` and the HTML repr).

    ``limit`` caps the number of rows built (long runs in a notebook display).
    """
    info = _info_for(result, dyn)

    def upto(n):
        return range(n if limit is None else min(n, limit))

    kind = type(result).__name__
    if kind == "FixedPointResult":
        pts = list(result.points)
    elif kind == "FixedPoint":
        pts = [result]
    else:
        pts = None
    if pts is not None:
        cols = ["type", "stable", "spectral_radius", "flow_type", "relaxation_time", "n_unstable", "residual"]
        rows = []
        for pt in pts:
            row = [pt.type, bool(pt.stable), float(pt.spectral_radius), pt.flow_type, float(pt.relaxation_time),
                   int(pt.n_unstable), float(pt.residual)]
            xcols = _strategy_columns(info, np.asarray(pt.X))
            rows.append(row + [float(v) for v in xcols.values()])
        if pts:
            cols = cols + list(_strategy_columns(info, np.asarray(pts[0].X)))
        return cols, rows
    if kind == "ContinuationResult":
        bif = {b.index: b.kind for b in result.bifurcations}
        cols = [str(result.param_name), "observable", "stable", "spectral_radius", "arclength", "bifurcation"]
        X = np.asarray(result.X)
        xcols = _strategy_columns(info, X) if X.ndim == 4 else {}
        rows = [[float(result.param[k]), float(result.observable[k]), bool(result.stable[k]),
                 float(result.spectral_radius[k]), float(result.arclength[k]), bif.get(k, "")]
                + [float(v[k]) for v in xcols.values()] for k in upto(len(result.param))]
        return cols + list(xcols), rows
    if kind == "HysteresisResult":
        cols = ["direction", str(result.param_name), "observable"]
        rows = []
        for d in ("up", "down"):
            part = result[d]
            rows += [[d, float(v), float(o)] for v, o in zip(part.param, part.observable)]
        return cols, rows
    if kind == "BasinResult":
        cols = ["attractor", "fraction", "type", "count"]
        rows = [[k, float(result.fractions[k]),
                 a.fixed_point.type if a.fixed_point is not None else "not a fixed point", int(a.count)]
                for k, a in enumerate(result.attractors)]
        return cols, rows
    if kind == "Trajectory":
        if result.X is None:
            return list(_strategy_columns(info, result.final)), [[float(v) for v in
                                                                  _strategy_columns(info, result.final).values()]]
        xcols = _strategy_columns(info, result.X)
        times = result.times
        return ["time"] + list(xcols), [[int(times[r])] + [float(v[r]) for v in xcols.values()]
                                        for r in upto(len(times))]
    if kind in ("Trajectories", "Sweep"):
        pcols = {}
        for k in [k for k, v in result.params.items() if np.ndim(v) in (1, 2)]:
            v = np.asarray(result.params[k])
            if v.ndim == 1:
                pcols[k] = v
            else:
                for i in range(v.shape[1]):
                    pcols[f"{k}_{i}"] = v[:, i]
        xcols = _strategy_columns(info, result.final, "final")
        cols = ["steps", "converged", "diverged"] + list(pcols) + list(xcols)
        rows = [[int(result.steps[b]), bool(result.converged[b]), bool(result.diverged[b])]
                + [float(v[b]) for v in pcols.values()] + [float(v[b]) for v in xcols.values()]
                for b in upto(len(result))]
        return cols, rows
    raise DataFormatError(f"no table for a {kind}; use .to_xarray()")


def to_pandas(result, dyn=None) -> pandas.DataFrame:
    """A ``pandas.DataFrame``: one row per fixed point, branch point, attractor, member or time step."""
    import pandas as pd

    cols, rows = table_rows(result, dyn)
    return pd.DataFrame(rows, columns=cols)


def _html_table(cols, rows, caption: str, limit: int = 40) -> str:
    """A plain HTML table (at most ``limit`` rows; a longer ``rows`` adds a '... more rows' line)."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.6g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    shown = rows[:limit]
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in shown)
    more = f"<tr><td colspan='{len(cols)}'>... more rows</td></tr>" if len(rows) > limit else ""
    return (f"<table class='crldgen'><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}{more}</tbody></table>")


def result_html(result) -> str:
    """HTML of a result for notebooks: its table when it has one, else its text repr."""
    limit = 40
    try:
        if type(result).__name__ == "Trajectory":  # the final strategy, not every recorded row
            xcols = _strategy_columns(game_of(result), result.final, "final")
            cols, rows = list(xcols), [[float(v) for v in xcols.values()]]
        else:
            cols, rows = table_rows(result, limit=limit + 1)
    except (DataFormatError, AttributeError, KeyError, TypeError):
        return f"<pre>{html.escape(repr(result))}</pre>"
    info = game_of(result)
    where = f" of {info.game!r} ({info.learner})" if info is not None else ""
    first = repr(result).splitlines()[0] if repr(result) else type(result).__name__
    return _html_table(cols, rows, f"{first}{where}", limit=limit)


def _label_text(labels) -> str:
    """Shared labels ``a, b``; per-agent labels of a heterogeneous game ``agent 0: a, b; agent 1: ...``."""
    if labels and not isinstance(labels[0], str):
        return "; ".join(f"agent {i}: " + ", ".join(lab) for i, lab in enumerate(labels))
    return ", ".join(labels)


def dynamics_html(dyn) -> str:
    """HTML of a :class:`Dynamics`: game, shape, labels and default parameters."""
    info = game_info(dyn)
    rows = [["game", info.game], ["learner", f"{info.learner} (prefactor {info.prefactor})"],
            ["agents", ", ".join(info.agents)], ["states", ", ".join(info.states)],
            ["actions", _label_text(info.actions)]]
    if not info.fully_observed:
        rows.append(["observations", _label_text(info.observations)])
    for k, v in dyn.defaults.items():
        rows.append([k, np.array2string(np.asarray(v), precision=6) if np.ndim(v) else f"{v:.6g}"])
    rows.append(["module", f"{info.module_file} (key {info.key[:12]})"])
    return _html_table(["", ""], rows, "Dynamics")
