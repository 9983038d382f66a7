"""Static panels: a widget panel's figures precomputed on a bounded grid, for the HTML book.

The HTML book has no kernel. When a chapter is executed by the notebook tests (nbval) or by the
book build, :meth:`ntklib.widgets.Panel.show` also renders the panel's figure at every point of a
small *static grid* of control settings and displays them as a ``text/html`` output: ``<select>``
controls listing the precomputed values and the figures as PNG data (palette-compressed). The page
script ``_static/ntklib_panels.js`` (loaded on every page of the book, no CDN) swaps the figure when
the reader picks a value. The default figure stays the ordinary PNG output above it, so readers
without JavaScript still see it. In a live Jupyter kernel nothing of this runs: the ipywidgets panel
recomputes on demand.

Grids (the ``static=`` argument of :func:`ntklib.panel`):

* ``None``/``True`` (default): automatic. Sliders are subsampled to at most
  :data:`SLIDER_VALUES` values (``seed`` controls to :data:`SEED_VALUES`), dropdowns keep up to
  :data:`OPTION_VALUES` options, always including the default. When all combinations of these
  values make at most :data:`MAX_AUTO_PRODUCT` settings, every combination is rendered (e.g. a
  4 x 4 width/depth grid); otherwise a *star*: each control moved alone through its values with
  the others at their defaults, thinned to at most :data:`MAX_FIGURES` figures. ``"star"`` forces
  the star.
* a dict ``{control: [values]}``: the cartesian product of these values (each control's default
  is added to its list; unlisted controls stay at their defaults), at most :data:`MAX_CARTESIAN`
  points.
* ``False``: no grid; the HTML shows the "open this chapter in Jupyter" note as before.

When to render: ``$NTKLIB_STATIC_PANELS`` = ``1``/``0`` forces it on/off; otherwise it is on in
every kernel except one started by a Jupyter server (JupyterLab, Notebook: ``JPY_SESSION_NAME`` is
set), Colab or VS Code, i.e. on for nbval, jupyter-book, nbclient and papermill. Grid points are
computed in order (the extremes of every control first) until ``$NTKLIB_STATIC_BUDGET_S`` seconds
(default :data:`DEFAULT_BUDGET_S`) are spent; later points are left out and the HTML lists only
what was computed. Results and figures go through the panel disk cache (:mod:`ntklib.panel_cache`),
so the book build after nbval reads them back.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "StaticGrid",
    "build_grid",
    "control_choices",
    "compress_png",
    "render_html",
    "static_enabled",
    "budget_seconds",
    "MAX_FIGURES",
    "MAX_AUTO_PRODUCT",
    "MAX_CARTESIAN",
]

MAX_FIGURES = 24  # star grid: figures per panel, the default included
MAX_AUTO_PRODUCT = 16  # automatic grid: all combinations when there are at most this many
MAX_CARTESIAN = 64  # explicit cartesian grid: points per panel
SLIDER_VALUES = 4  # values per slider in the star grid (the default included)
SEED_VALUES = 3  # ... for a control named "seed" (another draw, not another regime)
OPTION_VALUES = 6  # ... per dropdown
DEFAULT_BUDGET_S = 150.0  # seconds of computing per panel grid (cache hits cost ~nothing)
ENV_ENABLE = "NTKLIB_STATIC_PANELS"
ENV_BUDGET = "NTKLIB_STATIC_BUDGET_S"
_FIXED = "fixed"  # a control the grid cannot vary (text box, multi-select, ...)


def static_enabled() -> bool:
    """Whether :meth:`Panel.show` renders the static grid in this process (see module doc)."""
    flag = os.environ.get(ENV_ENABLE, "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    if os.environ.get("JPY_SESSION_NAME") or "google.colab" in sys.modules:
        return False  # a live front end: JupyterLab / Notebook / Colab
    if os.environ.get("VSCODE_PID") or os.environ.get("VSCODE_CWD"):
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    return not (shell is not None and "__vsc_ipynb_file__" in getattr(shell, "user_ns", {}))


def budget_seconds() -> float:
    """Computing time allowed per panel grid: ``$NTKLIB_STATIC_BUDGET_S`` or the default."""
    text = os.environ.get(ENV_BUDGET, "").strip()
    if not text:
        return DEFAULT_BUDGET_S
    try:
        value = float(text)
    except ValueError as err:
        raise ValueError(f"{ENV_BUDGET} must be a number of seconds, got {text!r}") from err
    return max(0.0, value)


# ------------------------------------------------------------------------------ choices per control
def _label(value: Any) -> str:
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _clean_float(value: float) -> float:
    return float(f"{value:.12g}")


def _evenly(n: int, k: int) -> list[int]:
    """``k`` evenly spaced positions among ``0..n-1`` (both ends when k >= 2)."""
    if k >= n:
        return list(range(n))
    if k <= 1:
        return []
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _with_default(chosen: list, default: Any, k: int, same) -> list:
    """``chosen`` plus ``default``; to stay within ``k`` values the value nearest to the default
    is dropped (an interior one when there are more than two)."""
    if any(same(v, default) for v in chosen):
        return list(chosen)
    chosen = list(chosen)
    if chosen and len(chosen) >= k:
        lo, hi = (1, len(chosen) - 1) if len(chosen) > 2 else (0, len(chosen))
        del chosen[min(range(lo, hi), key=lambda i: _distance(chosen[i], default))]
    return [*chosen, default]


def _distance(a: Any, b: Any) -> float:
    try:
        return abs(float(a) - float(b))
    except (TypeError, ValueError):
        return 0.0


def control_choices(widget: Any, default: Any, k: int) -> tuple[list, list[str]]:
    """At most ``k`` values of a control (its default included) and their labels.

    Works by duck typing on ipywidgets: selection widgets (``Dropdown``, ``SelectionSlider``,
    ``RadioButtons``, ...) by their options, numeric sliders/boxes by ``min``/``max``/``step``
    (``FloatLogSlider`` by its exponents), checkboxes by ``[False, True]``. Any other control keeps
    its default only.

    Args:
        widget: the control.
        default: its value at creation.
        k: the largest number of values to return (>= 1).

    Returns:
        ``(values, labels)``, values in the control's natural order.
    """
    k = max(1, k)
    options = getattr(widget, "_options_values", None)
    if options is not None and not isinstance(default, tuple):
        options, labels = list(options), [str(x) for x in widget._options_labels]
        positions = _evenly(len(options), k)
        default_pos = next((i for i, v in enumerate(options) if v == default), None)
        if default_pos is None:
            return [default], [_label(default)]
        positions = _with_default(positions, default_pos, k, lambda a, b: a == b)
        positions = sorted(positions)
        return [options[i] for i in positions], [labels[i] for i in positions]
    if isinstance(default, bool):
        values = [default] if k == 1 else [False, True]
        return values, [_label(v) for v in values]
    lo, hi, step = (getattr(widget, name, None) for name in ("min", "max", "step"))
    if isinstance(default, int | float) and None not in (lo, hi, step) and step > 0 and hi > lo:
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        base = getattr(widget, "base", None)  # FloatLogSlider: min/max/step are exponents
        exponent_default = math.log(default, base) if base else default
        grid = [lo + i * step for i in _evenly(n, k)]
        same = lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * max(1, abs(hi)))
        grid = sorted(_with_default(grid, exponent_default, k, same))
        if base:
            values = [_clean_float(base**e) for e in grid]
        elif isinstance(default, int) and all(isinstance(v, int) for v in (lo, hi, step)):
            values = [int(round(v)) for v in grid]
        else:
            values = [_clean_float(v) for v in grid]
        # the default itself, exactly (not a rounded copy)
        values = [default if same(v, default) else v for v in values]
        return values, [_label(v) for v in values]
    return [default], [_label(default)]


def _accepts(widget: Any, default: Any, value: Any) -> bool:
    options = getattr(widget, "_options_values", None)
    if options is not None:
        return value in list(options)
    if isinstance(default, bool):
        return isinstance(value, bool)
    lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and None not in (lo, hi):
        base = getattr(widget, "base", None)
        if base:
            lo, hi = base**lo, base**hi
        return lo - 1e-12 <= value <= hi + 1e-12
    return value == default


# ------------------------------------------------------------------------------------------ grids
@dataclass
class StaticGrid:
    """A bounded set of control settings.

    Attributes:
        names: the control names, in the panel's order.
        values: per control, the values that appear in the grid (default included).
        labels: per control, how each value is shown.
        default: the index tuple of the default setting (into ``values``).
        points: index tuples of the settings to render, the default first.
        mode: ``"star"`` or ``"cartesian"``.
    """

    names: list[str]
    values: list[list]
    labels: list[list[str]]
    default: tuple[int, ...]
    points: list[tuple[int, ...]]
    mode: str

    def kwargs(self, point: Sequence[int]) -> dict[str, Any]:
        """The compute keywords of a grid point."""
        return {name: self.values[c][i] for c, (name, i) in enumerate(zip(self.names, point))}

    def describe(self, point: Sequence[int]) -> str:
        """``"width = 64, depth = 3"`` for a grid point."""
        return ", ".join(f"{n} = {self.labels[c][i]}" for c, (n, i) in
                         enumerate(zip(self.names, point)))


def _is_seed(name: str) -> bool:
    return name == "seed" or name.endswith("_seed")


def build_grid(
    controls: Mapping[str, Any],
    defaults: Mapping[str, Any],
    spec: Any = None,
    *,
    max_figures: int = MAX_FIGURES,
) -> StaticGrid | None:
    """The static grid of a panel.

    Args:
        controls: ``{name: widget}``.
        defaults: ``{name: value}`` at creation.
        spec: ``None``/``True`` (automatic: all combinations of a few values per control when
            there are at most ``MAX_AUTO_PRODUCT``, else a star), ``"star"``, a dict
            ``{name: [values]}`` (cartesian product) or ``False`` (no grid).
        max_figures: cap on the automatic grid's size (the default included).

    Returns:
        The grid, or None for ``spec=False``.

    Raises:
        ValueError/TypeError: an explicit grid names an unknown control, gives a value the
            control cannot take, or has more than :data:`MAX_CARTESIAN` points.
    """
    if spec is False:
        return None
    names = list(controls)
    if spec is None or spec is True or spec == "star":
        star = _star(names, controls, defaults, max(1, int(max_figures)))
        product = math.prod(len(v) for v in star.values)
        if spec == "star" or product > min(MAX_AUTO_PRODUCT, max_figures):
            return star
        # few combinations: all of them, the star's points first (computed first on a budget)
        rest = [p for p in itertools.product(*(range(len(v)) for v in star.values))
                if p not in set(star.points)]
        return StaticGrid(names, star.values, star.labels, star.default, star.points + rest,
                          "cartesian")
    if isinstance(spec, Mapping):
        return _cartesian(names, controls, defaults, spec)
    raise TypeError(
        f"static must be None/True (automatic grid), False (none) or a dict {{control: [values]}}, "
        f"got {type(spec).__name__}"
    )


def _star(names, controls, defaults, max_figures) -> StaticGrid:
    caps = []
    for name in names:
        cap = SEED_VALUES if _is_seed(name) else SLIDER_VALUES
        if getattr(controls[name], "_options_values", None) is not None:
            cap = SEED_VALUES if _is_seed(name) else OPTION_VALUES
        values, _ = control_choices(controls[name], defaults[name], cap)
        caps.append(len(values))
    while 1 + sum(k - 1 for k in caps) > max_figures:
        largest = max(range(len(caps)), key=lambda c: (caps[c], c))
        caps[largest] -= 1
    values, labels, default = [], [], []
    for name, k in zip(names, caps):
        v, lab = control_choices(controls[name], defaults[name], k)
        values.append(v)
        labels.append(lab)
        default.append(next(i for i, x in enumerate(v) if x == defaults[name]))
    default_t = tuple(default)
    # each control's other values, farthest from the default first; then round-robin over controls
    per_control = [
        sorted((i for i in range(len(v)) if i != d), key=lambda i, d=d: (-abs(i - d), i))
        for v, d in zip(values, default)
    ]
    points = [default_t]
    for round_ in itertools.zip_longest(*per_control):
        for c, i in enumerate(round_):
            if i is not None:
                point = list(default_t)
                point[c] = i
                points.append(tuple(point))
    return StaticGrid(names, values, labels, default_t, points, "star")


def _cartesian(names, controls, defaults, spec) -> StaticGrid:
    unknown = [k for k in spec if k not in controls]
    if unknown:
        raise ValueError(f"static grid: {unknown} are not controls of this panel ({names})")
    values, labels, default = [], [], []
    for name in names:
        widget, dflt = controls[name], defaults[name]
        given = spec.get(name, [dflt])
        if isinstance(given, str | bytes) or not isinstance(given, Sequence) or not given:
            raise TypeError(f"static grid[{name!r}] must be a non-empty list of values")
        bad = [v for v in given if not _accepts(widget, dflt, v)]
        if bad:
            raise ValueError(
                f"static grid[{name!r}]: {bad} are not values the control can take; "
                "use values within its range/options"
            )
        vals = list(dict.fromkeys(given))
        if dflt not in vals:
            vals.append(dflt)
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
                vals.sort()
        values.append(vals)
        labels.append([_label(v) for v in vals])
        default.append(vals.index(dflt))
    size = math.prod(len(v) for v in values)
    if size > MAX_CARTESIAN:
        raise ValueError(
            f"static grid has {size} points (at most {MAX_CARTESIAN}): give fewer values, or use "
            "the automatic grid (static=None)"
        )
    default_t = tuple(default)
    points = [default_t] + [
        p for p in itertools.product(*(range(len(v)) for v in values)) if p != default_t
    ]
    return StaticGrid(names, values, labels, default_t, points, "cartesian")


# ------------------------------------------------------------------------------------- rendering
def compress_png(png: bytes, colors: int = 256) -> bytes:
    """The PNG re-encoded with a ``colors``-entry palette (about 4x smaller for line plots);
    the input itself when Pillow is missing or the result is not smaller."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return png
    try:
        with Image.open(io.BytesIO(png)) as image:
            small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    except Exception:  # noqa: BLE001 - an odd image: keep it as it is
        return png
    data = out.getvalue()
    return data if len(data) < len(png) else png


def _key(point: Sequence[int]) -> str:
    return ",".join(str(i) for i in point)


def render_html(
    grid: StaticGrid,
    entries: Mapping[tuple[int, ...], Mapping[str, Any]],
    *,
    title: str | None = None,
    skipped: int = 0,
) -> str:
    """The ``text/html`` output of a static panel.

    Args:
        grid: the grid.
        entries: per rendered point, ``{"png": bytes}``, ``{"error": message}`` or, for the
            default point, ``{"default": True}`` (its figure is the PNG output above the panel).
            Points without an entry were not computed and are not offered.
        title: panel title.
        skipped: how many grid points were left out (time budget), for the note.

    Returns:
        HTML: a ``div.ntklib-static-panel`` with the controls (hidden until the page script runs),
        a status line, a note and the data as ``<script type="application/json">``.
    """
    offered = [sorted({p[c] for p in entries}) for c in range(len(grid.names))]
    figures = {}
    for point, entry in entries.items():
        if "png" in entry:
            figures[_key(point)] = {"png": base64.b64encode(entry["png"]).decode("ascii")}
        elif "error" in entry:
            figures[_key(point)] = {"error": str(entry["error"])[:600]}
        else:
            figures[_key(point)] = {"default": True}
    data = {
        "version": 1,
        "mode": grid.mode,
        "controls": [
            {"name": n, "labels": grid.labels[c], "default": grid.default[c]}
            for c, n in enumerate(grid.names)
        ],
        "figures": figures,
        # the default figure is the ordinary PNG output just above the panel
        "default_png": "default" in entries.get(grid.default, {}),
    }
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    panel_id = "ntklib-static-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    selects = []
    for c, name in enumerate(grid.names):
        opts = "".join(
            f'<option value="{i}"{" selected" if i == grid.default[c] else ""}>'
            f"{html.escape(grid.labels[c][i])}</option>"
            for i in offered[c]
        )
        disabled = " disabled" if len(offered[c]) < 2 else ""
        selects.append(
            f'<label class="ntklib-static-control"><span>{html.escape(name)}</span> '
            f'<select name="{html.escape(name)}" data-control="{c}"{disabled}>{opts}</select>'
            "</label>"
        )
    n_fig = sum(1 for e in entries.values() if "png" in e or "default" in e)
    if grid.mode == "star":
        how = "each control moved alone from the defaults (the others stay at their defaults)"
    else:
        how = "every combination of the listed values"
    left_out = f"; {skipped} more were left out to keep the build short" if skipped else ""
    note = (
        f"{n_fig} figures precomputed when the book was built: {how}{left_out}. "
        "To move the controls freely, open this chapter in Jupyter with the launch button at the "
        "top of the page (or run the notebook locally)."
    )
    title_html = f'<p class="ntklib-static-title"><b>{html.escape(title)}</b></p>' if title else ""
    return (
        f'<div class="ntklib-static-panel" id="{panel_id}">{title_html}'
        f'<div class="ntklib-static-controls" hidden>{"".join(selects)}</div>'
        '<p class="ntklib-static-status" role="status"></p>'
        f'<p class="ntklib-static-note">{html.escape(note)}</p>'
        '<noscript><p class="ntklib-static-note">The other settings need JavaScript; the figure '
        "above shows the defaults.</p></noscript>"
        f'<script type="application/json" class="ntklib-static-data">{payload}</script></div>'
    )
