"""Measurement helpers: log-log slopes and first-passage steps of loss curves.

The chapters compare measured scalings with the papers' exponents through :func:`fit_slope`, and
count iterations to a target loss with :func:`steps_to_reach`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fit_slope", "steps_to_reach"]



def fit_slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares line through (log x, log y): log y = slope * log x + intercept (natural log).

    Args:
        x, y: positive values, same length >= 2 (x not all equal).

    Returns:
        ``(slope, intercept)``; ``y ~ exp(intercept) * x ** slope``.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y need the same length >= 2, got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("fit_slope needs finite positive x and y (log-log fit): drop zeros/NaN")
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("all x are equal: the slope is undefined; pass at least two distinct x")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def steps_to_reach(loss_curve: Sequence[float], eps: float, steps: Sequence[int] | None = None):
    """First step at which the loss is <= eps, or None if it never is.

    Args:
        loss_curve: losses, shape ``(k,)`` (e.g. ``history.loss``).
        eps: threshold >= 0.
        steps: step index of every entry (e.g. ``history.step``); default ``0, 1, ..., k - 1``.

    Returns:
        The step (int) or None.
    """
    loss = np.asarray(loss_curve, dtype=np.float64).ravel()
    if not isinstance(eps, (int, float, np.floating)) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")
    if steps is not None:
        steps = np.asarray(steps).ravel()
        if steps.shape != loss.shape:
            raise ValueError(f"steps has {steps.size} entries but loss_curve has {loss.size}")
    hit = np.flatnonzero(loss <= eps)
    if hit.size == 0:
        return None
    return int(hit[0] if steps is None else steps[hit[0]])
