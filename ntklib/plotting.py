"""Shared figure functions for the book: one style, pure ``plot_*`` functions returning Axes.

Every ``plot_*`` function draws on the ``ax`` it is given (or on a new figure when ``ax=None``) and
returns that Axes. None of them calls ``plt.show()`` or changes global state; the only global
setting is the explicit :func:`use_book_style` call in a chapter's setup cell.

Figures use white figure and axes backgrounds so they stay readable when the HTML book is shown
in dark mode (a transparent PNG would put black tick labels on a black page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter, NullLocator

__all__ = [
    "BOOK_STYLE",
    "use_book_style",
    "new_axes",
    "plot_loss_curves",
    "plot_loglog_fit",
    "plot_kernel",
    "plot_bars",
    "plot_path",
    "plot_histogram",
]

BOOK_STYLE: dict[str, object] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (6.0, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "axes.prop_cycle": mpl.cycler(
        color=["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]
    ),
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (white backgrounds, light grid, one colour cycle).

    Call it once in a chapter's setup cell. It only updates ``matplotlib.rcParams`` with
    :data:`BOOK_STYLE`; the ``plot_*`` functions also set white backgrounds on figures they create,
    so figures stay dark-mode safe even without it.
    """
    mpl.rcParams.update(BOOK_STYLE)


def new_axes(ax: Axes | None = None, *, figsize: tuple[float, float] | None = None) -> Axes:
    """Return ``ax`` unchanged, or the Axes of a new white figure when ``ax`` is None.

    Args:
        ax: an existing Axes to draw on, or None.
        figsize: size in inches of the new figure (ignored when ``ax`` is given).

    Returns:
        The Axes to draw on.
    """
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(
                f"ax must be a matplotlib Axes or None, got {type(ax).__name__}: "
                "pass ax=fig.add_subplot() or leave it out"
            )
        return ax
    import matplotlib.pyplot as plt  # pyplot only when a chapter asks for a fresh figure

    fig, new = plt.subplots(figsize=figsize, facecolor="white")
    new.set_facecolor("white")
    return new


def _as_1d(values, name: str) -> np.ndarray:
    """Convert tensors/lists to a float 1-D numpy array, with a helpful error otherwise."""
    if hasattr(values, "detach"):  # torch tensor without importing torch here
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, got shape {arr.shape}: pass a flat array"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: pass at least one value")
    return arr


def _curve_xy(label: str, curve) -> tuple[np.ndarray, np.ndarray]:
    """A curve is either ``values`` (x = 0, 1, ...) or a pair ``(x, values)``."""
    if isinstance(curve, tuple) and len(curve) == 2:
        x, y = _as_1d(curve[0], f"x of curve {label!r}"), _as_1d(curve[1], f"curve {label!r}")
        if x.shape != y.shape:
            raise ValueError(
                f"curve {label!r}: x has {x.size} points but the values have {y.size}: "
                "pass (x, values) of equal length"
            )
        return x, y
    y = _as_1d(curve, f"curve {label!r}")
    return np.arange(y.size, dtype=float), y


def plot_loss_curves(
    curves: Mapping[str, object],
    *,
    ax: Axes | None = None,
    logy: bool = True,
    xlabel: str = "GD step",
    ylabel: str = "training loss",
    title: str | None = None,
) -> Axes:
    """Plot several labelled loss curves, by default on a logarithmic y axis.

    Args:
        curves: ``{label: values}`` or ``{label: (steps, values)}``; ``values`` has shape ``(T,)``
            (numpy array, list or tensor). Without steps, the x axis is ``0..T-1``.
        ax: Axes to draw on; a new figure when None.
        logy: use a log y axis (a linear rate of convergence is then a straight line).
            Non-positive values are not drawn on a log axis.
        xlabel, ylabel, title: axis labels and optional title.

    Returns:
        The Axes.
    """
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise TypeError("curves must be a non-empty dict {label: values or (steps, values)}")
    ax = new_axes(ax)
    for label, curve in curves.items():
        x, y = _curve_xy(str(label), curve)
        if logy:
            y = np.where(y > 0, y, np.nan)  # loss exactly 0 has no place on a log axis
        ax.plot(x, y, label=str(label))
    if logy:
        ax.set_yscale("log")
        low, high = ax.get_ylim()
        if high / low > 1e4:  # many decades: unlabeled minor ticks only add clutter (and draw time)
            ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def _slope_text(value: float | Fraction | str) -> str:
    """Format a theory slope: strings pass through, floats become short fractions (-0.5 -> -1/2)."""
    if isinstance(value, str):
        return value
    frac = Fraction(float(value)).limit_denominator(12)
    if abs(float(frac) - float(value)) < 1e-9:
        return str(frac)
    return f"{float(value):.3g}"


def plot_loglog_fit(
    x,
    y,
    *,
    theory_slope: float | Fraction | str | None = None,
    ax: Axes | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    label: str = "measured",
    title: str | None = None,
) -> Axes:
    r"""Scatter ``(x, y)`` on log-log axes with the least-squares line and a theory reference slope.

    The fit is :math:`\log y = a \log x + b` by least squares (natural logs); the legend says e.g.
    ``"fit: slope -0.48"`` and ``"theory: slope -1/2"``. The reference line has the theory slope and
    passes through the geometric mean of the data, so both lines overlap when the theory holds.

    Args:
        x: positive values, shape ``(k,)``, ``k >= 2``.
        y: positive values, shape ``(k,)``.
        theory_slope: predicted exponent (float, Fraction or text such as ``"-1/2"``); a float is
            shown as a short fraction when it is one (-0.5 -> ``-1/2``). A text slope must parse
            as a number or fraction.
        ax: Axes to draw on; a new figure when None.
        xlabel, ylabel, label, title: texts.

    Returns:
        The Axes. The measured slope is also in the legend text.
    """
    x, y = _as_1d(x, "x"), _as_1d(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} points but y has {y.size}: pass arrays of equal length")
    if x.size < 2:
        raise ValueError("a log-log fit needs at least 2 points: pass more x values")
    if np.any(x <= 0) or np.any(y <= 0) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(
            "x and y must be finite and > 0 for a log-log plot: drop non-positive points"
        )
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    ax = new_axes(ax)
    ax.loglog(x, y, "o", label=label)
    grid = np.exp(np.linspace(lx.min(), lx.max(), 50))
    ax.loglog(grid, np.exp(intercept) * grid**slope, "-", label=f"fit: slope {slope:.2f}")
    if theory_slope is not None:
        s = float(Fraction(theory_slope)) if isinstance(theory_slope, str) else float(theory_slope)
        x_mid, y_mid = np.exp(lx.mean()), np.exp(ly.mean())
        ax.loglog(
            grid,
            y_mid * (grid / x_mid) ** s,
            "--",
            color="0.4",
            label=f"theory: slope {_slope_text(theory_slope)}",
        )
    if np.unique(x).size <= 8:  # few points: label them, drop crowded minor-tick labels
        ax.set_xticks(np.unique(x), [f"{v:g}" for v in np.unique(x)])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_kernel(
    K,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    symmetric: bool = False,
) -> Axes:
    """Show a kernel (Gram) matrix as a heatmap.

    Args:
        K: matrix of shape ``(n1, n2)`` (numpy array or tensor).
        ax: Axes to draw on; a new figure when None.
        title: optional title.
        cmap: colormap name; with ``symmetric=True`` use a diverging one (``"RdBu_r"``).
        colorbar: add a colorbar next to the Axes.
        symmetric: colour limits ``[-max|K|, max|K|]`` (for differences such as ``K_t - K_0``).

    Returns:
        The Axes.
    """
    if hasattr(K, "detach"):
        K = K.detach().cpu().numpy()
    K = np.asarray(K, dtype=float)
    if K.ndim != 2:
        raise ValueError(f"K must be a matrix (n1, n2), got shape {K.shape}")
    ax = new_axes(ax)
    kwargs: dict[str, object] = {"cmap": cmap, "interpolation": "nearest"}
    if symmetric:
        vmax = float(np.max(np.abs(K))) or 1.0
        kwargs.update(vmin=-vmax, vmax=vmax)
    image = ax.imshow(K, **kwargs)
    ax.grid(False)
    ax.set_xlabel("j")
    ax.set_ylabel("i")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    return ax


def plot_bars(
    values: Mapping[str, float] | Sequence[float],
    *,
    labels: Sequence[str] | None = None,
    errors: Sequence[float] | None = None,
    reference: float | None = None,
    reference_label: str = "reference",
    ax: Axes | None = None,
    ylabel: str = "",
    logy: bool = False,
    title: str | None = None,
) -> Axes:
    """Bar chart of named values, with optional error bars and a horizontal reference line.

    Args:
        values: ``{label: value}``, or a sequence of values together with ``labels``.
        labels: bar labels when ``values`` is a sequence.
        errors: one error-bar half-length per bar, shape ``(k,)``.
        reference: y of a dashed horizontal line (a threshold or prediction).
        reference_label: legend text of that line.
        ax: Axes to draw on; a new figure when None.
        ylabel, title: texts; ``logy`` puts the y axis on a log scale.

    Returns:
        The Axes.
    """
    if isinstance(values, Mapping):
        labels = [str(k) for k in values]
        heights = _as_1d(list(values.values()), "values")
    else:
        heights = _as_1d(values, "values")
        labels = [str(i) for i in range(heights.size)] if labels is None else list(labels)
    if len(labels) != heights.size:
        raise ValueError(f"{len(labels)} labels for {heights.size} values: pass one label per bar")
    yerr = None if errors is None else _as_1d(errors, "errors")
    if yerr is not None and yerr.shape != heights.shape:
        raise ValueError(f"errors has {yerr.size} entries for {heights.size} bars")
    ax = new_axes(ax)
    ax.bar(np.arange(heights.size), heights, yerr=yerr, capsize=3 if yerr is not None else 0)
    ax.set_xticks(np.arange(heights.size), labels)
    if reference is not None:
        ax.axhline(float(reference), ls="--", color="0.3", label=reference_label)
        ax.legend()
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_path(
    s,
    values,
    *,
    reference=None,
    reference_label: str = r"lazy prediction $\frac{1}{2}(1-s)^2\|f_0-y\|^2$",
    label: str = "loss along the path",
    ax: Axes | None = None,
    xlabel: str = r"interpolation $s$  ($\theta = (1-s)\theta_0 + s\theta_T$)",
    ylabel: str = "training loss",
    logy: bool = False,
    title: str | None = None,
) -> Axes:
    """Plot a quantity along the straight path from the initial to the trained weights.

    Args:
        s: path coordinates, shape ``(k,)``, usually ``linspace(0, 1, k)``.
        values: the loss (or any quantity) at each ``s``, shape ``(k,)``.
        reference: optional curve to compare with, shape ``(k,)`` (for instance the parabola the
            linearised model predicts).
        reference_label, label, xlabel, ylabel, title: texts; ``logy`` for a log y axis.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The Axes.
    """
    s, v = _as_1d(s, "s"), _as_1d(values, "values")
    if s.shape != v.shape:
        raise ValueError(f"s has {s.size} points but values has {v.size}: pass equal lengths")
    ax = new_axes(ax)
    ax.plot(s, v, "o-", ms=3, label=label)
    if reference is not None:
        r = _as_1d(reference, "reference")
        if r.shape != s.shape:
            raise ValueError(f"reference has {r.size} points, s has {s.size}: pass equal lengths")
        ax.plot(s, r, "--", color="0.3", label=reference_label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_histogram(
    values,
    *,
    bins: int | Sequence[float] = 30,
    vline: float | None = None,
    vline_label: str = "prediction",
    label: str | None = None,
    density: bool = False,
    ax: Axes | None = None,
    xlabel: str = "",
    ylabel: str | None = None,
    logy: bool = False,
    title: str | None = None,
) -> Axes:
    """Histogram of a sample, with an optional vertical marker (a predicted value).

    Args:
        values: sample, any shape (flattened), numpy array, list or tensor.
        bins: number of bins or bin edges.
        vline: x of a dashed vertical line, e.g. the theoretical mean.
        vline_label, label: legend texts.
        density: normalise to a probability density.
        ax: Axes to draw on; a new figure when None.
        xlabel, ylabel, title: texts; ``logy`` for a log count axis.

    Returns:
        The Axes.
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values is empty: pass at least one sample")
    ax = new_axes(ax)
    ax.hist(v[np.isfinite(v)], bins=bins, density=density, alpha=0.8, label=label)
    if vline is not None:
        ax.axvline(float(vline), ls="--", color="0.2", label=vline_label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if ylabel is not None else ("density" if density else "count"))
    if title:
        ax.set_title(title)
    if label is not None or vline is not None:
        ax.legend()
    return ax
