r"""Du, Zhai, Poczos, Singh's two-layer net: lazy-training statistics (see ``practical.py``)."""

from __future__ import annotations

import torch

from ..data import sphere_data
from ..models import TwoLayerNet
from ..ntk import empirical_ntk, kernel_drift, lambda_max
from ..train import train
from ..utils import check_int
from ._common import mean_flips as _mean_flips

__all__ = ["two_layer_lazy"]


def two_layer_lazy(width: int, n: int = 32, d: int = 8, steps: int = 300, lr_factor: float = 1.0,
                   seed: int = 0) -> dict:
    r"""Lazy-training statistics of Du et al.'s two-layer net after GD on the sum loss.

    ``TwoLayerNet(d, width)`` (:math:`w_r` trained, :math:`a_r = \pm1` fixed), Gaussian labels on
    ``sphere_data(n, d, last_coord=False)``, :math:`\eta = \text{lr\_factor}/\lambda_{\max}`.

    Returns:
        dict with ``max_neuron_move`` :math:`\max_r\|w_r(T) - w_r(0)\|`, ``flips`` (fraction of
        (sample, neuron) signs changed), ``drift`` (relative Gram change
        :math:`\|H(T) - H(0)\|_F/\|H(0)\|_F`), ``rel_loss`` :math:`F(T)/F(0)`.
    """
    check_int(width, "width", minimum=1)
    X, y, _ = sphere_data(n, d, labels="gaussian", last_coord=False, seed=seed)
    net = TwoLayerNet(d, width, seed=seed)
    K0 = empirical_ntk(net, X)
    hist = train(net, X, y, lr=lr_factor / lambda_max(K0), steps=steps)
    W0 = hist.model0.weight_layers()["W"].weight.detach()
    W = net.weight_layers()["W"].weight.detach()
    return {
        "max_neuron_move": float(torch.linalg.norm(W - W0, dim=1).max()),
        "flips": _mean_flips(hist.model0, net, X),
        "drift": kernel_drift(hist.model0, net, X),
        "rel_loss": float(hist.loss[-1] / hist.loss[0]),
    }


