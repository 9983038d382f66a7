r"""The empirical NTK against its infinite-width limit (see ``practical.py`` for conventions)."""

from __future__ import annotations

import torch

from ..data import sphere_data
from ..kernels import limit_kernel
from ..models import MLP
from ..ntk import empirical_ntk
from ..utils import check_int

__all__ = ["ntk_init_error"]


def ntk_init_error(width: int, depth: int = 3, n: int = 8, d: int = 8, seed: int = 0) -> float:
    r"""Relative Frobenius distance of the empirical NTK at init from its infinite-width limit.

    ``MLP(d, width, depth, parameterization="ntk", trainable="all")`` against
    ``limit_kernel(net, X)`` (Arora et al.'s :math:`\Theta^{(L)}`), on ``sphere_data(n, d)``:
    :math:`\|\hat\Theta_0 - \Theta\|_F / \|\Theta\|_F`.
    """
    check_int(width, "width", minimum=1)
    X, _, _ = sphere_data(n, d, seed=seed)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed)
    K = empirical_ntk(net, X)
    K_inf = limit_kernel(net, X)
    return float(torch.linalg.norm(K - K_inf) / torch.linalg.norm(K_inf))


