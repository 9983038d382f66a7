"""Helpers shared by the experiment modules (not part of the public API)."""

from __future__ import annotations

import numpy as np
import torch

from ..diagnostics import activation_flips
from ..utils import check_choice, check_int, check_number


def param_vector(model: torch.nn.Module) -> torch.Tensor:
    """All trainable parameters flattened into one vector (shape ``(P,)``)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def mean_flips(model_0: torch.nn.Module, model_t: torch.nn.Module, X: torch.Tensor) -> float:
    """Fraction of (sample, unit, layer) activation signs that differ between two models (mean
    over the activation layers of :func:`ntklib.activation_flips`)."""
    return float(np.mean(activation_flips(model_0, model_t, X)))


def ints(**values) -> dict:
    """Validate positive integer arguments: ``ints(n=n, width=width)``."""
    return {k: check_int(v, k, minimum=1) for k, v in values.items()}


def positive(name: str, value) -> float:
    return check_number(value, name, minimum=0.0, strict_min=True)


def numpy_of(values) -> np.ndarray:
    """A copy of a tensor (on any device) or array as a numpy array, for the returned dicts."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy().copy()
    return np.array(values, copy=True)


__all__ = ["param_vector", "mean_flips", "ints", "positive", "numpy_of", "check_choice"]
