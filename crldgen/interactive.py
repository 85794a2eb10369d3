"""Interactive exploration: flow plots, trajectories and bifurcation diagrams with live sliders.

crldgen's game and learner parameters are run-time arguments of one compiled module,
so moving a slider only re-evaluates the compiled kernels: nothing is re-derived or
re-compiled (the reference package rebuilds and re-jits its agent on every move).

Each explorer is a plain object whose ``update``/``set_start``/``set_value`` methods do
all the work (recompute, then change the existing matplotlib artists in place); they are
called by the sliders and can be called, and tested, without a notebook. ``widget()``
wraps an explorer in ipywidgets sliders (optional extra ``crldgen[notebook]``).

    >>> ex = crldgen.interactive.flow(dyn, x, y, params={"gamma": (0.5, 0.95), "qc": (0.1, 0.4)})
    >>> ex.update(gamma=0.8)          # what the gamma slider does
    >>> ex.widget()                   # in Jupyter: the figure with one slider per parameter

Fixed points are tracked from one update to the next: Newton starts from the points of
the previous parameter values plus the ends of a few short trajectories, which keeps an
update of the chapter's two-state flow with fixed points to a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import plot as _plot
from .errors import CrldgenError, ParameterError
from .runtime.dynamics import LEARNER_NAMES

__all__ = ["BifurcationExplorer", "FlowExplorer", "TrajectoryExplorer", "bifurcation", "flow", "slider_range",
           "trajectory"]

#: slider ranges of the learner parameters, inside the rules of crldgen.runtime.dynamics.LEARNER_RULES
_LEARNER_RANGES = {"alpha": (0.001, 1.0), "gamma": (0.0, 0.99)}


def _wrap(text: str, width: int = 70) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _base_name(dyn, name: str) -> str:
    """``gamma_1 -> gamma``; game parameters and plain learner names unchanged (validates the name)."""
    slot, _ = dyn.parameter_slot(name)
    return name if slot == "theta" else slot


def slider_range(dyn, name: str, spec=None) -> tuple[float, float, float]:
    """``(lo, hi, step)`` of the slider of parameter ``name``.

    ``spec`` is ``(lo, hi)`` or ``(lo, hi, step)``; without it the range follows the
    parameter's rule (learning rate in (0, 1], discount factor in [0, 1), choice
    intensity > 0 up to 4x its default) or, for a game parameter, spans half to
    one and a half times its default (the game's own validation rejects values that give
    invalid probabilities; the explorer then shows the message instead of a flow).
    """
    default = _current(dyn, name)
    if spec is not None:
        vals = tuple(float(v) for v in spec)
        if len(vals) not in (2, 3) or not np.all(np.isfinite(vals)):
            raise ParameterError(f"range of {name!r} must be (lo, hi) or (lo, hi, step) of finite numbers, "
                                 f"got {spec!r}")
        lo, hi = vals[:2]
        step = vals[2] if len(vals) == 3 else (hi - lo) / 100.0
        if not lo < hi or step <= 0:
            raise ParameterError(f"range of {name!r} needs lo < hi and step > 0, got {spec!r}")
        return lo, hi, step
    base = _base_name(dyn, name)
    if base in _LEARNER_RANGES:
        lo, hi = _LEARNER_RANGES[base]
    elif base == "beta":
        lo, hi = min(0.1, default), max(4.0 * default, 1.0)
    else:
        lo, hi = sorted((0.5 * default, 1.5 * default)) if default != 0 else (-1.0, 1.0)
    return float(lo), float(hi), float(hi - lo) / 100.0


def _current(dyn, name: str) -> float:
    """Current default value of parameter ``name`` (first agent's for per-agent learner values)."""
    slot, i = dyn.parameter_slot(name)
    alpha, beta, gamma, theta = dyn.params()
    if slot == "theta":
        return float(theta[i])
    arr = dict(zip(LEARNER_NAMES, (alpha, beta, gamma)))[slot]
    return float(arr[0 if i is None else i])


class _Explorer:
    """Shared parameter handling of the explorers: the slider values and their ranges."""

    def __init__(self, dyn, params) -> None:
        self.dyn = dyn
        if params is None:
            params = {}
        elif not isinstance(params, Mapping):
            params = {name: None for name in params}
        self.ranges = {name: slider_range(dyn, name, spec) for name, spec in params.items()}
        self.values = {name: _current(dyn, name) for name in self.ranges}
        self.message = None
        self.n_updates = 0
        self._frozen = False
        self._background = None

    def _merge(self, changes: dict) -> dict:
        for name in changes:
            self.dyn.parameter_slot(name)  # unknown names raise ParameterError here
        return {**self.values, **{k: float(v) for k, v in changes.items()}}

    def _dynamic_artists(self) -> list:
        """The artists an update changes (drawn over the cached background)."""
        return []

    def _host_axes(self):
        """The axes that own the explorer's figure-wide texts (axes-level artists are kept when saving)."""
        return self.axes[0]

    def _redraw(self, full: bool = False):
        """Draw the changed artists over a cached background (blitting); a full draw when needed.

        The first draw lays the figure out and caches everything that does not change
        (axes, ticks, labels, colour bar, legend); later updates restore that background
        and draw only the arrows, markers and titles, which is what makes a slider move
        cheap. ``full=True`` (e.g. after the colour scale changed) redraws everything.
        """
        fig = self.figure
        canvas = fig.canvas
        dynamic = self._dynamic_artists()
        if not hasattr(canvas, "copy_from_bbox"):  # a backend without blitting
            canvas.draw_idle()
            return
        if full or self._background is None:
            for a in dynamic:
                a.set_animated(True)
            canvas.draw()
            if not self._frozen:
                # lay the figure out once: updates change data, not sizes
                fig.set_layout_engine("none")
                self._frozen = True
            self._background = canvas.copy_from_bbox(fig.bbox)
        else:
            canvas.restore_region(self._background)
        for a in dynamic:
            a.set_animated(True)
            fig.draw_artist(a)
        canvas.blit(fig.bbox)

    def _show_message(self, text: str | None) -> None:
        self.message = text
        if self._message_artist is None:
            self._message_artist = self._host_axes().annotate(
                "", xy=(0.5, 0.5), xycoords="figure fraction", ha="center", va="center", color="tab:red",
                fontsize="medium", wrap=True, zorder=20, annotation_clip=False,
                bbox=dict(fc="white", ec="tab:red", alpha=0.9))
            self._message_artist.set_in_layout(False)
            self._message_artist.set_animated(True)
        self._message_artist.set_text(_wrap(text or ""))
        self._message_artist.set_visible(bool(text))

    def widget(self, labels: Mapping[str, str] | None = None, continuous_update: bool = False):
        """ipywidgets box: one slider per explored parameter above the figure.

        ``labels`` renames sliders (e.g. ``{"gamma": "DiscountFactor"}``, the chapter's
        names). With the ``ipympl`` backend (``%matplotlib widget``) the figure is redrawn
        in place; with the inline backend it is re-rendered into an ``Output`` widget.
        """
        try:
            import ipywidgets as widgets
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise CrldgenError("the interactive widgets need ipywidgets: pip install 'crldgen[notebook]'") from exc
        from IPython.display import display

        fig = self.figure
        interactive_canvas = "ipympl" in type(fig.canvas).__module__
        out = None if interactive_canvas else widgets.Output()
        if out is not None:  # shown in the Output widget only, not a second time by the inline backend
            import matplotlib.pyplot as plt

            plt.close(fig)
        labels = dict(labels or {})
        sliders = []

        def show():
            if out is not None:
                with out:
                    out.clear_output(wait=True)
                    display(fig)

        def on_change(change, name):
            self._apply({name: change["new"]})
            show()

        for name, (lo, hi, step) in self.ranges.items():
            s = widgets.FloatSlider(value=self.values[name], min=lo, max=hi, step=step, description=labels.get(name, name),
                                    continuous_update=continuous_update, readout_format=".4g",
                                    style={"description_width": "initial"})
            s.observe(lambda ch, n=name: on_change(ch, n), names="value")
            sliders.append(s)
        show()
        return widgets.VBox(sliders + [fig.canvas if interactive_canvas else out])

    def _apply(self, changes: dict) -> None:  # the slider hook; each explorer maps it to its own update
        raise NotImplementedError


class FlowExplorer(_Explorer):
    """A flow plot (arrows, fixed points, optionally the separatrix) redrawn for new parameters.

    Parameters
    ----------
    dyn : Dynamics
    x, y : projection, as for :func:`crldgen.plot.flow`
    params : mapping ``name -> None | (lo, hi) | (lo, hi, step)`` or a list of names:
        the parameters that get a slider (learner or game parameters, ``gamma_1`` etc.)
    points : grid points per axis (the chapter's 9)
    fixed_points : mark fixed points (tracked across updates)
    separatrix : also draw the stable manifold of a saddle (costs a backward iteration
        per update, about 10-50 ms)
    n_starts : sampled Newton starts per update besides the tracked points
    axes : axes to draw on (one per panel), optional
    **fixed : parameter overrides held fixed (not on a slider)

    Attributes
    ----------
    fields : the current :class:`crldgen.plot.FlowField` list (one per panel)
    points : the current fixed-point result (or None)
    values : the current slider values
    """

    def __init__(self, dyn, x, y, params=None, *, points: int = 9, fixed_points: bool = True,
                 separatrix: bool = False, n_starts: int = 8, axes=None, rng=0, **fixed) -> None:
        super().__init__(dyn, params)
        self.x, self.y, self.grid = x, y, points
        self.fixed = dict(fixed)
        self.track, self.with_separatrix, self.n_starts = bool(fixed_points), bool(separatrix), int(n_starts)
        if self.n_starts < 0:
            raise ParameterError(f"n_starts must be >= 0, got {n_starts!r}")
        self.rng = np.random.default_rng(rng)
        self.points = None
        self.separatrix = None
        self._message_artist = None
        self.pans = _plot.panels(dyn, x, y)
        p = {**self.fixed, **self.values}
        self.fields = _plot.flow_field(dyn, x, y, points, **p)
        self.points = self._fixed_points(p) if self.track else None
        self.separatrix = self._separatrix(p) if self.with_separatrix else None
        self.axes = _plot.flow(dyn, x, y, points, axes=axes, fixed_points=self.points if self.track else None,
                               separatrix=self.separatrix, legend=False, **p)
        self.figure = self.axes[0].figure
        self._quivers = [next(c for c in ax.collections if c.get_gid() == "flow") for ax in self.axes]
        self._title_artist = None
        self._legend()
        self._title()
        self._redraw(full=True)

    # -- computation
    def _fixed_points(self, p: dict):
        from .analysis import fixed_points as find

        guesses = None
        if self.points is not None and len(self.points.points):
            guesses = np.array([pt.X for pt in self.points.points])
        return find(self.dyn, guesses=guesses, n_starts=self.n_starts, rng=self.rng, tmax=400, **p)

    def _separatrix(self, p: dict):
        from .analysis import stable_manifold

        saddles = [pt for pt in (self.points.points if self.points is not None else []) if pt.type == "saddle"]
        return stable_manifold(self.dyn, saddles[0], n_per_domain=8, max_iter=300, **p) if saddles else None

    # -- drawing
    _DYNAMIC_GIDS = ("flow", "trajectory", _plot.GID_STABLE, _plot.GID_UNSTABLE, _plot.GID_UNKNOWN,
                     _plot.GID_SEPARATRIX, _plot.GID_START, _plot.GID_END_CONVERGED, _plot.GID_END_OPEN)

    def _dynamic_artists(self) -> list:
        out = [a for ax in self.axes for a in list(ax.collections) + list(ax.lines)
               if a.get_gid() in self._DYNAMIC_GIDS]
        out += [t for t in (self._title_artist, self._message_artist) if t is not None]
        return out

    def _legend_entries(self) -> list[tuple[str, dict]]:
        """``(label, line style)`` of every kind of marker this explorer can draw."""
        out = []
        if self.track:
            out += [("stable fixed point", _plot.STABLE_STYLE), ("unstable fixed point", _plot.UNSTABLE_STYLE)]
        if self.with_separatrix:
            out.append(("separatrix", dict(color="black", ls="--", lw=1.5)))
        return out

    def _legend(self) -> None:
        """One legend below the panels, made before the layout: it lists every kind the
        explorer can draw, so it never changes when points appear or vanish."""
        from matplotlib.lines import Line2D

        entries = self._legend_entries()
        if entries:
            handles = [Line2D([], [], **style) for _, style in entries]
            self.figure.legend(handles, [lab for lab, _ in entries], loc="outside lower center",
                               ncol=min(len(entries), 4), fontsize="small", frameon=False).set_gid("legend")

    def _title(self) -> None:
        text = ", ".join(f"{k} = {v:.4g}" for k, v in self.values.items())
        if self._title_artist is None:
            # a blank suptitle keeps room at the top in the layout; the text itself is an
            # axes-level annotation there, redrawn by blitting and kept by savefig
            self.figure.suptitle(" ", fontsize="medium")
            self._title_artist = self._host_axes().annotate(
                "", xy=(0.5, 0.995), xycoords="figure fraction", ha="center", va="top", fontsize="medium",
                annotation_clip=False)
            self._title_artist.set_in_layout(False)
        self._title_artist.set_text(text)

    def _draw_points(self) -> None:
        for ax in self.axes:
            for ln in list(ax.lines):
                if ln.get_gid() in (_plot.GID_STABLE, _plot.GID_UNSTABLE, _plot.GID_UNKNOWN, _plot.GID_SEPARATRIX):
                    ln.remove()
        if self.points is not None and len(self.points.points):
            _plot._draw_fixed_points(self.axes, [_plot._projector(*pan) for pan in self.pans], self.points)
        if self.separatrix is not None:
            for ax, (cx, cy) in zip(self.axes, self.pans):
                _plot._draw_separatrix(ax, self.separatrix, cx, cy)

    def update(self, **changes) -> bool:
        """Recompute the flow (and fixed points) at the slider values changed by ``changes``; redraw in place.

        Returns True when drawn; False when the parameters were rejected (the game's or
        the learner's validation message is shown on the figure and kept in ``message``;
        the last valid picture stays). Unknown parameter names raise ParameterError.
        """
        new = self._merge(changes)
        p = {**self.fixed, **new}
        try:
            fields = _plot.flow_field(self.dyn, self.x, self.y, self.grid, **p)
            pts = self._fixed_points(p) if self.track else None
            self._compute_extra(p)
        except CrldgenError as exc:
            self._show_message(f"{exc}")
            self._redraw()
            return False
        self.values, self.fields, self.points = new, fields, pts
        self.separatrix = self._separatrix(p) if self.with_separatrix else None
        speeds = np.concatenate([f.speed[np.isfinite(f.speed)] for f in fields] or [np.zeros(1)])
        vmax = float(speeds.max()) if speeds.size and speeds.max() > 0 else 1.0
        norm = self._quivers[0].norm
        # the colour bar is part of the cached background: keep its scale while the
        # longest arrow stays within 20% of it, else rescale it and redraw everything
        rescale = not 0.8 <= vmax / norm.vmax <= 1.25
        for q, f in zip(self._quivers, fields):
            q.set_UVC(f.u, f.v, f.speed)
            q.scale = _plot._quiver_scale(f)
        if rescale:
            norm.vmax = vmax
        self._draw_points()
        self._draw_extra()
        self._show_message(None)
        self._title()
        self.n_updates += 1
        self._redraw(full=rescale)
        return True

    def _compute_extra(self, p: dict) -> None:
        """Hook: more results at the new parameters (may raise CrldgenError: nothing is drawn then)."""

    def _draw_extra(self) -> None:
        """Hook: draw what :meth:`_compute_extra` computed."""

    def _apply(self, changes: dict) -> None:
        self.update(**changes)


class TrajectoryExplorer(FlowExplorer):
    """A flow plot with one trajectory over it, restarted by clicking or by ``set_start``.

    Parameters are those of :class:`FlowExplorer` plus ``X0`` (the base start strategy,
    default uniform), ``tmax`` and ``tol`` of the trajectory. Clicking a panel at
    ``(u, v)`` sets that panel's two coordinates of the start and re-runs the trajectory;
    parameter sliders re-run it from the same start.
    """

    def __init__(self, dyn, x, y, params=None, *, X0=None, tmax: int = 5000, tol: float | None = 1e-5,
                 **kw) -> None:
        kw.setdefault("fixed_points", False)
        self.X0 = dyn.uniform_strategy() if X0 is None else dyn.check_strategy(X0, "X0")
        self.tmax, self.tol = tmax, tol
        self.trajectory = None
        super().__init__(dyn, x, y, params, **kw)
        self._compute_extra({**self.fixed, **self.values})
        self._draw_extra()
        self._redraw()
        self.figure.canvas.mpl_connect("button_press_event", self._on_click)

    def _legend_entries(self) -> list[tuple[str, dict]]:
        return super()._legend_entries() + [
            ("start", {**_plot.START_STYLE, "mec": "tab:red"}),
            ("fixed point reached", {**_plot.REACHED_STYLE, "mfc": "tab:red"}),
            ("end (not converged)", {**_plot.OPEN_END_STYLE, "color": "tab:red"})]

    def _compute_extra(self, p: dict) -> None:
        self.trajectory = self.dyn.trajectory(self.X0, self.tmax, self.tol, **p)

    def _draw_extra(self) -> None:
        for ax in self.axes:
            for artist in list(ax.lines) + list(ax.collections):
                if artist.get_gid() in ("trajectory", _plot.GID_START, _plot.GID_END_CONVERGED, _plot.GID_END_OPEN):
                    artist.remove()
        _plot._draw_trajectories(self.axes, [_plot._projector(*pan) for pan in self.pans], [self.trajectory],
                                 colors=["tab:red"])

    def set_start(self, u: float, v: float, panel: int = 0) -> bool:
        """Start the trajectory with the coordinates of ``panel`` at ``(u, v)``; returns True when drawn."""
        from .analysis._core import set_probability

        if not 0 <= panel < len(self.pans):
            raise ParameterError(f"panel must be in [0, {len(self.pans)}), got {panel!r}")
        if not (0.0 < u < 1.0 and 0.0 < v < 1.0):
            raise ParameterError(f"start coordinates must lie strictly inside (0, 1), got ({u!r}, {v!r})")
        cx, cy = self.pans[panel]
        old = self.X0
        try:
            self.X0 = self.dyn.check_strategy(set_probability(self.X0, [cx, cy], [u, v]), "start")
            self._compute_extra({**self.fixed, **self.values})
        except CrldgenError as exc:
            self.X0 = old
            self._show_message(str(exc))
            self._redraw()
            return False
        self._draw_extra()
        self._show_message(None)
        self.n_updates += 1
        self._redraw()
        return True

    def _on_click(self, event) -> None:
        if event.inaxes in self.axes and event.xdata is not None:
            self.set_start(float(event.xdata), float(event.ydata), self.axes.index(event.inaxes))


class BifurcationExplorer(_Explorer):
    """A continuation branch with a movable marker at one parameter value.

    Parameters
    ----------
    dyn : Dynamics
    branches : continuation result(s) (:func:`crldgen.continuation`), or a hysteresis result
    coordinate : (agent, state, action) shown on the y axis (default: the branches' observable)
    value : initial marker position (default: the middle of the branches' range)

    ``set_value(v)`` moves the marker and marks the branch points at ``v`` (filled:
    stable, open: unstable), interpolated linearly between the computed points.
    """

    def __init__(self, dyn, branches, coordinate=None, *, value: float | None = None, ax=None) -> None:
        self.dyn = dyn
        self.branches = _plot._branch_list(branches)
        if not self.branches:
            raise ParameterError("BifurcationExplorer needs at least one branch")
        self.coordinate = coordinate
        self.param = _plot._param_name(branches) or getattr(branches, "param_name", None) or "parameter"
        self.ax = _plot.bifurcation(branches, coordinate, ax=ax, dyn=dyn, param=self.param)
        self.figure = self.ax.figure
        lo = min(float(np.min(pv)) for pv, *_ in self.branches)
        hi = max(float(np.max(pv)) for pv, *_ in self.branches)
        self.ranges = {self.param: (lo, hi, (hi - lo) / 200.0)}
        self.values = {self.param: 0.5 * (lo + hi) if value is None else float(value)}
        self.message, self.n_updates, self._message_artist, self._frozen = None, 0, None, False
        self._background = None
        self._line = self.ax.axvline(self.values[self.param], color="tab:red", lw=1.0, ls=":", zorder=1)
        self._stable, = self.ax.plot([], [], **{**_plot.STABLE_STYLE, "mfc": "tab:red", "mec": "tab:red"})
        self._unstable, = self.ax.plot([], [], **{**_plot.UNSTABLE_STYLE, "mec": "tab:red"})
        self.crossings: list[tuple[float, bool]] = []
        self.ax.set_title(" ", fontsize="medium")  # keeps the room; the text is the annotation below
        self._title_artist = self.ax.annotate("", xy=(0.5, 1.0), xycoords="axes fraction", xytext=(0, 6),
                                              textcoords="offset points", ha="center", va="bottom",
                                              fontsize="medium", annotation_clip=False)
        self.axes = [self.ax]
        self.set_value(self.values[self.param])

    def _dynamic_artists(self) -> list:
        return [a for a in (self._line, self._stable, self._unstable, self._title_artist, self._message_artist)
                if a is not None]

    def _ys(self, X, obs) -> np.ndarray:
        if self.coordinate is not None and X is not None:
            c = _plot._coordinate(self.dyn, self.coordinate)
            return X[(slice(None),) + c]
        if obs is not None:
            return obs
        return X[..., 0].mean(axis=(1, 2))

    def set_value(self, value: float) -> list[tuple[float, bool]]:
        """Move the marker to ``value``; returns ``[(y, stable)]`` of the branch points there."""
        lo, hi, _ = self.ranges[self.param]
        v = float(value)
        if not lo <= v <= hi:
            raise ParameterError(f"{self.param} = {v!r} lies outside the branches' range [{lo:.6g}, {hi:.6g}]")
        found = []
        for pv, X, obs, st, _ in self.branches:
            ys = self._ys(X, obs)
            st = np.ones(len(pv), dtype=bool) if st is None else st
            for k in range(len(pv) - 1):
                a, b = pv[k], pv[k + 1]
                if (a - v) * (b - v) <= 0 and a != b:
                    t = (v - a) / (b - a)
                    found.append((float(ys[k] + t * (ys[k + 1] - ys[k])), bool(st[k] and st[k + 1])))
        self.values[self.param] = v
        self.crossings = found
        self._line.set_xdata([v, v])
        self._stable.set_data([v] * sum(s for _, s in found), [y for y, s in found if s])
        self._unstable.set_data([v] * sum(not s for _, s in found), [y for y, s in found if not s])
        self._title_artist.set_text(f"{self.param} = {v:.4g}: {sum(s for _, s in found)} stable, "
                                    f"{sum(not s for _, s in found)} unstable")
        self.n_updates += 1
        self._redraw()
        return found

    def _apply(self, changes: dict) -> None:
        self.set_value(changes[self.param])


def flow(dyn, x, y, params=None, **kw) -> FlowExplorer:
    """A :class:`FlowExplorer`: the flow plot of ``dyn`` with sliders for ``params`` (call ``.widget()``)."""
    return FlowExplorer(dyn, x, y, params, **kw)


def trajectory(dyn, x, y, params=None, **kw) -> TrajectoryExplorer:
    """A :class:`TrajectoryExplorer`: a trajectory over the flow, restarted by clicks or ``set_start``."""
    return TrajectoryExplorer(dyn, x, y, params, **kw)


def bifurcation(dyn, branches, coordinate=None, **kw) -> BifurcationExplorer:
    """A :class:`BifurcationExplorer`: continuation branches with a movable parameter marker."""
    return BifurcationExplorer(dyn, branches, coordinate, **kw)
