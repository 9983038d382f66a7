r"""The training objectives and the preparation of ``(X, y)`` for a model.

Loss names (the same everywhere in ntklib):

* ``"mse_sum"``: :math:`F = \sum_i \tfrac12 \lVert f(x_i) - y_i\rVert^2` (the papers' objective);
* ``"mse_mean"``: :math:`F / n`;
* ``"cross_entropy"``: mean cross-entropy over the samples, labels int64 class indices ``(n,)``.

:func:`prepare_data` is the one place where inputs and labels are validated, cast to the model's
dtype and moved to its device; ``train``, the diagnostics and the experiments all call it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .utils import check_choice, check_tensor, pick_device

__all__ = ["LOSSES", "loss_tensor", "prepare_data", "prepare_inputs", "check_output",
           "loss_value", "curvature"]

LOSSES = ("mse_sum", "mse_mean", "cross_entropy")


def loss_tensor(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Scalar loss of outputs ``out`` ``(n, d_out)`` against prepared labels ``y``.

    Args:
        out: model outputs, ``(n, d_out)``.
        y: labels as returned by :func:`prepare_data` (``(n, d_out)`` floats, or ``(n,)`` int64
            for cross-entropy).
        loss: a name in :data:`LOSSES`.

    Returns:
        0-dim tensor (differentiable).
    """
    if loss == "cross_entropy":
        return nn.functional.cross_entropy(out, y, reduction="mean")
    sq = 0.5 * (out - y).square().sum()  # F = sum_i 1/2 ||f(x_i) - y_i||^2
    return sq if loss == "mse_sum" else sq / out.shape[0]


def curvature(loss: str, n: int) -> float:
    r"""Largest curvature :math:`\lVert\partial^2 F/\partial f^2\rVert_2` of the loss in the
    outputs: 1 for ``"mse_sum"``, :math:`1/n` for ``"mse_mean"``, at most :math:`1/(2n)` for
    ``"cross_entropy"`` (the softmax Hessian has norm at most 1/2)."""
    check_choice(loss, "loss", LOSSES)
    return {"mse_sum": 1.0, "mse_mean": 1.0 / n, "cross_entropy": 0.5 / n}[loss]


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device | None]:
    p = next(iter(model.parameters()), None)
    return (p.dtype, p.device) if p is not None else (torch.get_default_dtype(), None)


def prepare_inputs(model: nn.Module, X: object) -> Tensor:
    """Validate inputs ``X`` ``(n, d)`` / ``(n, C, H, W)`` and cast them to the model's dtype and
    device (the input half of :func:`prepare_data`)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dtype, dev = _model_dtype_device(model)
    return check_tensor(X, "X", ndim=(2, 3, 4), dtype=dtype, device=dev)


def prepare_data(model: nn.Module, X: object, y: object, loss: str = "mse_sum",
                 device: object = None) -> tuple[Tensor, Tensor]:
    """Validate ``X, y`` and cast them to the model's dtype and device.

    Args:
        model: the network (its first parameter fixes dtype and device).
        X: inputs ``(n, d)`` or ``(n, C, H, W)``, tensor or numpy array.
        y: labels ``(n,)`` or ``(n, d_out)`` for MSE (``(n,)`` becomes ``(n, 1)``), int64
            class indices ``(n,)`` for cross-entropy.
        loss: a name in :data:`LOSSES`.
        device: move there instead of the model's device.

    Returns:
        ``(X, y)`` ready for :func:`loss_tensor`.
    """
    check_choice(loss, "loss", LOSSES)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dtype, dev = _model_dtype_device(model)
    dev = pick_device(device) if device is not None else dev
    X = check_tensor(X, "X", ndim=(2, 3, 4), dtype=dtype, device=dev)
    y = check_tensor(y, "y", floating=False, finite=False, min_rows=0)
    if y.dim() not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape (n,) or (n, d_out) with n = {X.shape[0]} rows of X, "
                         f"got {tuple(y.shape)}: pass one label per row of X")
    y = y.to(dev if dev is not None else X.device)
    if loss == "cross_entropy":
        if y.is_floating_point() or y.dim() != 1 or y.dtype == torch.bool:
            raise TypeError(f"cross_entropy needs int64 class indices of shape (n,), got {y.dtype} "
                            f"{tuple(y.shape)}: pass y.long() (or use loss='mse_sum' for "
                            "real-valued targets)")
        y = y.to(torch.long)
        if bool((y < 0).any()):
            raise ValueError("cross_entropy labels must be class indices >= 0")
        return X, y
    if y.is_complex():
        raise TypeError(f"y must be real for loss={loss!r}, got {y.dtype}")
    y = y.to(dtype)
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y contains NaN or inf: clean or drop those labels before training")
    return X, (y[:, None] if y.dim() == 1 else y)


def check_output(out: Tensor, y: Tensor, loss: str) -> None:
    """Check that model outputs match the prepared labels (shape, number of classes)."""
    if out.dim() != 2:
        raise ValueError(f"the model must return (n, d_out), got {tuple(out.shape)}")
    if loss == "cross_entropy":
        if y.numel() and int(y.max()) >= out.shape[1]:
            raise ValueError(f"label {int(y.max())} is out of range for d_out={out.shape[1]}: "
                             "build the model with d_out = number of classes")
    elif out.shape != y.shape:
        raise ValueError(f"model output {tuple(out.shape)} and labels {tuple(y.shape)} differ: "
                         "build the model with d_out = y.shape[1]")


def loss_value(model: nn.Module, X: object, y: object, loss: str = "mse_sum") -> float:
    """The training objective at the model's current parameters.

    Args:
        model: maps ``(n, ...)`` to ``(n, d_out)``.
        X: inputs, ``(n, d)`` (or ``(n, C, H, W)``).
        y: labels, ``(n,)`` or ``(n, d_out)`` for MSE, ``(n,)`` int64 for cross-entropy.
        loss: ``"mse_sum"``, ``"mse_mean"`` or ``"cross_entropy"``.

    Returns:
        F as a Python float.
    """
    X, y = prepare_data(model, X, y, loss)
    with torch.no_grad():
        out = model(X)
        check_output(out, y, loss)
        return float(loss_tensor(out, y, loss))
