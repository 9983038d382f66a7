"""The book's single sliders -> computation -> figure helper, :func:`panel`.

This is the only ntklib module that imports ipywidgets; ``import ntklib`` does not load it
(``ntklib.panel`` is a thin wrapper that imports this module on first use).

What a panel shows, in order:

1. the figure at the default control values, as an ordinary PNG output. The static HTML book has
   no kernel, so this is what a reader of the web page sees;
2. the live controls, displayed as a MIME bundle holding the widget view *and* a ``text/html``
   fallback ("live controls: open this chapter in Jupyter with the launch button ..."). The HTML
   build drops widget views, so the fallback is what appears there.

When the chapter is executed for the HTML book (nbval, jupyter-book; see
:mod:`ntklib.static_panels`), the ``text/html`` of step 2 is instead a *static panel*: the figure
precomputed at every point of a bounded grid of settings, with ``<select>`` controls that the page
script ``_static/ntklib_panels.js`` wires up, so the HTML book is interactive without a kernel.

In Jupyter, changing a control recomputes (or reads the cache: in memory, keyed by the argument
tuple, and on disk, see :mod:`ntklib.panel_cache`), redraws the figure into the panel's Output area
and blanks the static copy above, so the reader sees one figure. Sliders use
``continuous_update=False``: the computation runs when the slider is released, not at every pixel.
Exceptions from ``compute`` or ``plot`` (for example a ``DivergenceError`` at a too-large learning
rate) are shown inside the panel, never raised.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
import matplotlib as mpl
from matplotlib.figure import Figure

from ntklib import panel_cache
from ntklib import static_panels as sp
from ntklib.plotting import BOOK_STYLE

__all__ = ["Panel", "panel", "make_control", "FALLBACK_HTML"]

FALLBACK_HTML = (
    '<div class="ntklib-panel-fallback" style="border:1px dashed #999;padding:0.5em 0.8em;'
    'margin:0.3em 0;font-size:0.9em;color:#333;background:#f7f7f7">'
    "<b>{title}</b>Live controls ({controls}): open this chapter in Jupyter with the launch "
    "button at the top of the page (or run the notebook locally) to move them. The figure "
    "above shows the default values.</div>"
)


def _in_ipython_kernel() -> bool:
    """True inside a running IPython kernel/shell (so ``display`` has somewhere to go)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return get_ipython() is not None


def make_control(name: str, spec: Any, default: Any = inspect.Parameter.empty) -> w.ValueWidget:
    """Build one control from a widget or a shorthand.

    Shorthands: ``(min, max, step)`` or ``(min, max, step, default)`` -> ``IntSlider`` when all
    numbers are ints, else ``FloatSlider``; a list -> ``Dropdown`` (value = ``default`` if it is in
    the list, else the first item); a bool -> ``Checkbox``. A given widget is used as it is (its
    current value is the default; its description is set to ``name`` when empty).

    Args:
        name: the keyword of ``compute`` this control feeds.
        spec: widget or shorthand.
        default: the compute function's default for ``name`` (used by slider shorthands without
            an explicit 4th element, and by dropdowns).

    Returns:
        The widget, with ``continuous_update=False`` where it has that trait.
    """
    if isinstance(spec, w.ValueWidget):
        widget = spec
        if not getattr(widget, "description", "x"):
            widget.description = name
    elif isinstance(spec, bool):
        widget = w.Checkbox(value=spec, description=name)
    elif isinstance(spec, tuple):
        if len(spec) not in (3, 4) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in spec
        ):
            raise ValueError(
                f"control {name!r}: a tuple must be (min, max, step) or (min, max, step, default) "
                f"of numbers, got {spec!r}"
            )
        lo, hi, step = spec[:3]
        if not lo < hi or step <= 0:
            raise ValueError(f"control {name!r}: need min < max and step > 0, got {spec!r}")
        value = spec[3] if len(spec) == 4 else default
        if value is inspect.Parameter.empty or not lo <= value <= hi:
            value = lo
        cls = (
            w.IntSlider if all(isinstance(v, int) for v in (lo, hi, step, value)) else w.FloatSlider
        )
        widget = cls(value=value, min=lo, max=hi, step=step, description=name)
    elif isinstance(spec, list):
        if not spec:
            raise ValueError(f"control {name!r}: the list of options is empty")
        value = default if default in spec else spec[0]
        widget = w.Dropdown(options=spec, value=value, description=name)
    else:
        raise TypeError(
            f"control {name!r}: expected an ipywidgets widget, (min, max, step[, default]), a list "
            f"of options or a bool, got {type(spec).__name__}"
        )
    if hasattr(widget, "continuous_update"):
        widget.continuous_update = False
    return widget


def _figure_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``; one draw when a layout engine already fits the labels (faster)."""
    buf = io.BytesIO()
    tight = "tight" if fig.get_layout_engine() is None else None
    fig.savefig(buf, format="png", facecolor="white", bbox_inches=tight)
    return buf.getvalue()


class Panel:
    """Controls -> ``compute(**values)`` -> ``plot(result, ax=...)`` -> figure, with a cache.

    Create it with :func:`panel`. Attributes:

    * ``controls``: ``{name: widget}``; ``defaults``: ``{name: value}`` at creation.
    * ``figure``: the last drawn matplotlib ``Figure`` (None if the last draw failed).
    * ``last_result``, ``last_error`` (the exception, or None), ``last_seconds`` (compute + draw).
    * ``n_computed``: how many times ``compute`` actually ran (cache misses).
    * ``widget``: the ipywidgets ``VBox`` (title, Output area, controls, message).
    * ``static_grid``: the :class:`~ntklib.static_panels.StaticGrid` of the HTML book (None for
      ``static=False``); ``static_entries``: ``{point: {"png"|"error"|"default": ...}}`` once
      :meth:`render_static` ran (None before), ``static_skipped``: points left out (time budget).
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        plot: Callable[..., Any],
        controls: Mapping[str, Any],
        *,
        title: str | None = None,
        cache: bool = True,
        figsize: tuple[float, float] | None = None,
        static: Any = None,
    ) -> None:
        if not callable(compute) or not callable(plot):
            raise TypeError(
                "compute and plot must be callables: compute(**values), plot(result, ax=)"
            )
        if not isinstance(controls, Mapping) or not controls:
            raise TypeError(
                "controls must be a non-empty dict {keyword of compute: widget/shorthand}"
            )
        params = inspect.signature(compute).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = [k for k in controls if k not in params and not takes_kwargs]
        if unknown:
            raise ValueError(
                f"controls {unknown} are not parameters of compute{tuple(params)}: rename the "
                "controls or add these keywords to compute"
            )
        self.compute, self.plot, self.title, self.cache = compute, plot, title, cache
        self.figsize = figsize or BOOK_STYLE["figure.figsize"]
        empty = inspect.Parameter.empty
        self.controls: dict[str, w.ValueWidget] = {
            name: make_control(name, spec, params[name].default if name in params else empty)
            for name, spec in controls.items()
        }
        self.defaults = self.values()
        self.static_grid = sp.build_grid(self.controls, self.defaults, static)
        self.static_entries: dict[tuple, dict] | None = None
        self.static_skipped = 0
        self._fingerprints: dict[str, str | None] = {}
        self._cache: dict[tuple, Any] = {}
        self.n_computed = 0
        self.figure: Figure | None = None
        self.last_result: Any = None
        self.last_error: BaseException | None = None
        self.last_seconds = float("nan")
        self._static_id: str | None = None
        self._suspended = False
        self.output = w.Output()
        self.message = w.HTML(value="")
        header = [w.HTML(value=f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox(
            [*header, self.output, w.HBox(list(self.controls.values())), self.message]
        )
        for widget in self.controls.values():
            widget.observe(self._on_change, names="value")
        self._redraw(target="static")

    # ----------------------------------------------------------------------------- computing
    def values(self) -> dict[str, Any]:
        """Current control values ``{name: value}``."""
        return {name: widget.value for name, widget in self.controls.items()}

    def _fingerprint(self, which: str) -> str | None:
        """Fingerprint of ``compute`` or ``plot`` (None: not cacheable on disk), computed once."""
        if which not in self._fingerprints:
            fn = self.compute if which == "compute" else self.plot
            self._fingerprints[which] = panel_cache.fingerprint(fn) if self.cache else None
        return self._fingerprints[which]

    def _result_key(self, kwargs: dict[str, Any]) -> str | None:
        if hasattr(self.compute, "uncached"):  # an ntklib.cached function has its own disk cache
            return None
        fp = self._fingerprint("compute")
        return None if fp is None else panel_cache.entry_key("result", fp, kwargs)

    def _result(self, kwargs: dict[str, Any], *, memory: bool = True) -> Any:
        key = tuple(sorted(kwargs.items()))
        try:
            hash(key)
        except TypeError:
            key = None  # unhashable control values: no caching for this call
        if self.cache and key is not None and key in self._cache:
            return self._cache[key]
        disk_key = self._result_key(kwargs) if self.cache and key is not None else None
        result = panel_cache.load(disk_key)
        if result is panel_cache.MISSING:
            result = self.compute(**kwargs)
            self.n_computed += 1
            panel_cache.store(disk_key, result)
        if self.cache and key is not None and memory:
            self._cache[key] = result
        return result

    def _draw(self, result: Any) -> Figure:
        """Call ``plot`` with a fresh Figure (``fig=``) or Axes (``ax=``) and return the Figure."""
        params = inspect.signature(self.plot).parameters
        fig = Figure(figsize=self.figsize, facecolor="white", layout="constrained")
        if "fig" in params:
            out = self.plot(result, fig=fig)
        elif "ax" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            ax = fig.add_subplot()
            ax.set_facecolor("white")
            out = self.plot(result, ax=ax)
        else:
            out = self.plot(result)
        if isinstance(out, list | tuple) and out:
            out = out[0]
        made = out if isinstance(out, Figure) else getattr(out, "figure", None)
        if isinstance(made, Figure) and made is not fig:  # plot ignored ours and made its own
            fig = made
            _close_pyplot(fig)
        return fig

    def _redraw(self, target: str = "live") -> Any:
        kwargs = self.values()
        start = time.perf_counter()
        try:
            result = self._result(kwargs)
            fig = self._draw(result)
            png = _figure_png(fig)
        except Exception as err:  # shown in the panel, never raised (e.g. DivergenceError)
            self.last_error, self.figure = err, None
            self.last_seconds = time.perf_counter() - start
            text = f"{type(err).__name__}: {err}"
            setting = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            self.message.value = (
                '<div style="color:#a40000;white-space:pre-wrap">'
                f"<b>Could not draw at {html.escape(setting)}</b><br>{html.escape(text)}</div>"
            )
            self._show(target, None, f"Could not draw at {setting}:\n{text}")
            return None
        self.last_seconds = time.perf_counter() - start
        self.last_result, self.last_error, self.figure = result, None, fig
        self.message.value = ""
        self._show(target, png, None)
        return result

    # ----------------------------------------------------------------------------- displaying
    def _show(self, target: str, png: bytes | None, error: str | None) -> None:
        if target == "static":
            self._static = (png, error)
            return
        if png is not None:
            data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"}
        else:
            data = {"text/plain": error or ""}
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
        if self._static_id is not None and _in_ipython_kernel():
            # one figure on screen: the live Output now holds it, so blank the static copy
            from IPython.display import update_display

            update_display({"text/plain": ""}, raw=True, display_id=self._static_id)
            self._static_id = None

    def _on_change(self, change: dict) -> None:
        if not self._suspended:
            self._redraw()

    def update(self, **kwargs: Any) -> Any:
        """Set controls programmatically (like moving sliders) and redraw once.

        Args:
            **kwargs: ``name=value`` for some of the controls.

        Returns:
            The new result, or None when compute/plot failed (see ``last_error``).
        """
        unknown = [k for k in kwargs if k not in self.controls]
        if unknown:
            raise ValueError(
                f"update: unknown controls {unknown}; the controls are {list(self.controls)}"
            )
        self._suspended = True
        try:
            for name, value in kwargs.items():
                widget = self.controls[name]
                widget.value = value
                if widget.value != value:
                    raise ValueError(
                        f"update: {name}={value!r} is outside the control's range "
                        f"(it holds {widget.value!r}); pass a value the widget accepts"
                    )
        finally:
            self._suspended = False
        return self._redraw()

    def fallback_html(self) -> str:
        """The ``text/html`` shown in place of the live controls where widgets cannot render."""
        controls = ", ".join(
            f"{html.escape(k)} = {html.escape(repr(v))}" for k, v in self.defaults.items()
        )
        title = f"{html.escape(self.title)}. " if self.title else ""
        return FALLBACK_HTML.format(title=title, controls=controls)

    # ----------------------------------------------------------------------------- static grid
    def render_static(self, budget_s: float | None = None) -> dict[tuple, dict]:
        """Render the figure at every point of :attr:`static_grid` (for the HTML book).

        Points are computed in grid order until ``budget_s`` seconds (default
        ``$NTKLIB_STATIC_BUDGET_S`` or :data:`ntklib.static_panels.DEFAULT_BUDGET_S`) are spent;
        the rest are left out (``static_skipped``). Results and figures go through the disk cache,
        so a second execution reads them back. An exception at one point is recorded for that
        point (``{"error": message}``), never raised. The live controls are not moved.

        Returns:
            :attr:`static_entries`, ``{index tuple: entry}`` (empty without a grid).
        """
        self.static_entries, self.static_skipped = {}, 0
        grid = self.static_grid
        if grid is None:
            return self.static_entries
        budget = sp.budget_seconds() if budget_s is None else budget_s
        png, error = self._static
        self.static_entries[grid.default] = {"default": True} if png is not None else {
            "error": error}
        start = time.perf_counter()
        style = self._style_key()
        for point in grid.points:
            if point == grid.default:
                continue
            if time.perf_counter() - start > budget:
                self.static_skipped += 1
                continue
            self.static_entries[point] = self._render_point(grid.kwargs(point), style)
        return self.static_entries

    def _style_key(self) -> str | None:
        """What else shapes a grid figure: rcParams (not the backend) and the figure size."""
        style = {k: v for k, v in mpl.rcParams.items()
                 if not k.startswith(("backend", "interactive", "webagg", "savefig.directory"))}
        try:
            return panel_cache.entry_key("style", style, tuple(self.figsize))
        except Exception:  # noqa: BLE001 - an unhashable rcParam: no figure cache
            return None

    def _render_point(self, kwargs: dict[str, Any], style: str | None) -> dict:
        compute_fp, plot_fp = self._fingerprint("compute"), self._fingerprint("plot")
        key = None
        if None not in (compute_fp, plot_fp, style):
            key = panel_cache.entry_key("figure", compute_fp, plot_fp, style, kwargs)
        entry = panel_cache.load(key)
        if entry is not panel_cache.MISSING:
            return entry
        try:
            fig = self._draw(self._result(kwargs, memory=False))
            entry = {"png": sp.compress_png(_figure_png(fig))}
        except Exception as err:  # one failing setting must not break the panel
            entry = {"error": f"{type(err).__name__}: {err}"}
        panel_cache.store(key, entry)
        return entry

    def static_html(self) -> str:
        """The static panel's ``text/html`` (after :meth:`render_static`), else the fallback."""
        if self.static_grid is None or self.static_entries is None:
            return self.fallback_html()
        return sp.render_html(self.static_grid, self.static_entries, title=self.title,
                              skipped=self.static_skipped)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = f"Panel({', '.join(self.controls)}): live controls need Jupyter"
        return bundle

    def show(self) -> None:
        """Display the default figure (PNG) and then the live controls (widget view + HTML).

        Where :func:`ntklib.static_panels.static_enabled` (a book build or nbval, not a live
        Jupyter front end), the static grid is rendered first and the HTML is the static panel.
        """
        from IPython.display import display

        png, error = self._static
        handle_id = f"ntklib-panel-{id(self)}-{time.monotonic_ns()}"
        if png is not None:
            display(
                {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"},
                raw=True,
                display_id=handle_id,
            )
        else:
            display({"text/plain": error}, raw=True, display_id=handle_id)
        self._static_id = handle_id
        if self.static_grid is not None and sp.static_enabled():
            self.render_static()
        display(self._repr_mimebundle_(), raw=True)

    def _ipython_display_(self) -> None:
        # `nl.panel(...)` as the last line of a cell has already displayed itself: show nothing more
        if self._static_id is None and not getattr(self, "_shown", False):
            self.show()
        self._shown = True


def _close_pyplot(fig: Figure) -> None:
    """Drop a pyplot-made figure from pyplot's registry (else inline backends show it twice)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)  # a no-op for figures pyplot does not manage


def panel(
    compute: Callable[..., Any],
    plot: Callable[..., Any],
    controls: Mapping[str, Any],
    *,
    title: str | None = None,
    cache: bool = True,
    figsize: tuple[float, float] | None = None,
    show: bool | None = None,
    static: Any = None,
) -> Panel:
    """Sliders -> ``compute`` -> ``plot``: the book's one widget helper.

    The figure at the defaults is drawn immediately (as a PNG output, so the static HTML shows it),
    then the live controls are displayed. Results are cached in memory by the tuple of control
    values and on disk (:mod:`ntklib.panel_cache`, under ``$NTKLIB_CACHE_DIR``), so returning to a
    setting is instant and the book build reuses what nbval computed.

    For the HTML book (no kernel) the panel also renders its figure on a bounded grid of settings
    and shows them as a static panel whose controls swap the precomputed figures (see
    :mod:`ntklib.static_panels`); in live Jupyter only the ipywidgets panel runs.

    Args:
        compute: ``compute(**values) -> result``; must accept every control name as a keyword.
        plot: ``plot(result, ax=Axes) -> Axes`` or ``plot(result, fig=Figure)`` (multi-panel).
            It must draw on what it is given and not call ``plt.show()``.
        controls: ``{keyword: widget or shorthand}``; shorthands: ``(min, max, step[, default])``
            slider, list dropdown, bool checkbox. Values at creation are the defaults (a slider
            shorthand without a default uses ``compute``'s default for that keyword, else min).
        title: optional bold title above the live controls (also in the HTML fallback).
        cache: keep results keyed by the control values, in memory and on disk.
        figsize: figure size in inches (default: the book style's).
        show: display now; default True inside IPython/Jupyter and False elsewhere (tests).
        static: the HTML book's grid: None (automatic: each control moved alone through a few
            values, at most ``static_panels.MAX_FIGURES`` figures), a dict ``{control: [values]}``
            (cartesian product, default values added) or False (no grid, a note only).

    Returns:
        The :class:`Panel` (``.update(**values)``, ``.figure``, ``.last_result``, ``.last_error``).
        Exceptions from ``compute``/``plot`` are reported in the panel and in ``.last_error``.
    """
    p = Panel(compute, plot, controls, title=title, cache=cache, figsize=figsize, static=static)
    if show is None:
        show = _in_ipython_kernel()
    if show:
        p.show()
        p._shown = True
    return p
