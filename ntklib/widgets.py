"""The book's single sliders -> computation -> figure helper, :func:`panel`.

This is the only ntklib module that imports ipywidgets; ``import ntklib`` does not load it
(``ntklib.panel`` is a thin wrapper that imports this module on first use).

What a panel shows, in order:

1. the figure at the default control values, as an ordinary PNG output. The static HTML book has
   no kernel, so this is what a reader of the web page sees;
2. the live controls, displayed as a MIME bundle holding the widget view *and* a ``text/html``
   fallback ("live controls: open this chapter in Jupyter with the launch button ..."). The HTML
   build drops widget views, so the fallback is what appears there.

In Jupyter, changing a control recomputes (or reads the in-memory cache keyed by the argument
tuple), redraws the figure into the panel's Output area and blanks the static copy above, so the
reader sees one figure. Sliders use ``continuous_update=False``: the computation runs when the
slider is released, not at every pixel. Exceptions from ``compute`` or ``plot`` (for example a
``DivergenceError`` at a too-large learning rate) are shown inside the panel, never raised.
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
from matplotlib.figure import Figure

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

    def _result(self, kwargs: dict[str, Any]) -> Any:
        key = tuple(sorted(kwargs.items()))
        try:
            hash(key)
        except TypeError:
            key = None  # unhashable control values: no caching for this call
        if self.cache and key is not None and key in self._cache:
            return self._cache[key]
        result = self.compute(**kwargs)
        self.n_computed += 1
        if self.cache and key is not None:
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

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.fallback_html()
        bundle["text/plain"] = f"Panel({', '.join(self.controls)}): live controls need Jupyter"
        return bundle

    def show(self) -> None:
        """Display the default figure (PNG) and then the live controls (widget + HTML fallback)."""
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
) -> Panel:
    """Sliders -> ``compute`` -> ``plot``: the book's one widget helper.

    The figure at the defaults is drawn immediately (as a PNG output, so the static HTML shows it),
    then the live controls are displayed. Results are cached in memory by the tuple of control
    values, so returning to a setting is instant; for expensive computations also cache ``compute``
    on disk with :func:`ntklib.sweep.cached` / precompute with :func:`ntklib.sweep.sweep`.

    Args:
        compute: ``compute(**values) -> result``; must accept every control name as a keyword.
        plot: ``plot(result, ax=Axes) -> Axes`` or ``plot(result, fig=Figure)`` (multi-panel).
            It must draw on what it is given and not call ``plt.show()``.
        controls: ``{keyword: widget or shorthand}``; shorthands: ``(min, max, step[, default])``
            slider, list dropdown, bool checkbox. Values at creation are the defaults (a slider
            shorthand without a default uses ``compute``'s default for that keyword, else min).
        title: optional bold title above the live controls (also in the HTML fallback).
        cache: keep results in memory keyed by the control values.
        figsize: figure size in inches (default: the book style's).
        show: display now; default True inside IPython/Jupyter and False elsewhere (tests).

    Returns:
        The :class:`Panel` (``.update(**values)``, ``.figure``, ``.last_result``, ``.last_error``).
        Exceptions from ``compute``/``plot`` are reported in the panel and in ``.last_error``.
    """
    p = Panel(compute, plot, controls, title=title, cache=cache, figsize=figsize)
    if show is None:
        show = _in_ipython_kernel()
    if show:
        p.show()
        p._shown = True
    return p
