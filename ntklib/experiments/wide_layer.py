r"""One wide layer under different initialisations: what the one-wide-layer proofs track
(Nguyen, arXiv 2101.09612: "we only need to track the evolution of the output at the last
hidden layer"), measured (see ``practical.py`` for conventions).

The network is :class:`~ntklib.models.OneWideLayerNet` (ReLU, He initialisation of the hidden
layers, narrow layers of ``width`` units, the last hidden layer of ``wide_width`` units, all
layers trained). The initialisations differ only in the output layer B, whose entries are
:math:`N(0, s^2)` with

* ``"small"``: :math:`s = 1/n_k` (the output at initialisation is :math:`O(n_k^{-1/2})`),
* ``"he"``: :math:`s = 1/\sqrt{n_k}` (LeCun/He: the output is :math:`O(1)`),
* ``"large"``: :math:`s = 1` (the output is :math:`O(\sqrt{n_k})`),

where :math:`n_k` is the wide layer's width. Which initialisation of Nguyen's paper gives which
width (linear, quadratic, cubic) was not checked: these three only span the range of output
scales.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import sphere_data
from ..losses import loss_value
from ..models import OneWideLayerNet
from ..ntk import ntk_learning_rate
from ..train import DivergenceError, train
from ..utils import check_choice, check_number
from ._common import ints

__all__ = ["INITS", "output_std", "one_wide_layer_init"]

INITS = ("small", "he", "large")


def output_std(init: str, wide_width: int) -> float:
    """Standard deviation of the output layer's entries for an initialisation name (see the
    module docstring): ``1/n_k``, ``1/sqrt(n_k)`` or ``1``."""
    check_choice(init, "init", INITS)
    n_k = ints(wide_width=wide_width)["wide_width"]
    return {"small": 1.0 / n_k, "he": 1.0 / math.sqrt(n_k), "large": 1.0}[init]


def one_wide_layer_init(N: int, wide_width: int, *, init: str = "he", d: int = 8,  # noqa: N803
                        width: int = 16, depth: int = 3, steps: int = 600, eps: float = 1e-3,
                        lr_factor: float = 1.0, log_every: int = 10, seed: int = 0,
                        device: str = "cpu") -> dict:
    r"""Train a one-wide-layer net from one initialisation and track its wide layer's output.

    Data ``sphere_data(N, d, labels="random", last_coord=False)``; GD on the sum loss with
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}` of the empirical NTK at initialisation,
    stopped at :math:`F \le \varepsilon F(0)` or after ``steps`` steps. With
    :math:`F_k(t)` the :math:`N \times n_k` output of the wide (last hidden) layer at step t and
    :math:`\sigma_0 = \sigma_{\min}(F_k(0))` (> 0 needs :math:`n_k \ge N`):

    * the output layer alone has the NTK block :math:`F_kF_k^\top \succeq \sigma_{\min}(F_k)^2 I`,
      so gradient descent contracts the loss as long as :math:`\sigma_{\min}(F_k(t))` stays
      away from 0; by Weyl's inequality it stays above :math:`\sigma_0/2` whenever
      :math:`\lVert F_k(t) - F_k(0)\rVert_2 \le \sigma_0/2`. A proof that tracks only the last
      hidden layer needs an invariant of this kind, and the width makes it hold.

    Args:
        N: number of samples; wide_width: :math:`n_k` (>= N); init: ``"small"``, ``"he"`` or
        ``"large"`` (module docstring); d: input dimension; width, depth: narrow layers and
        number of hidden layers; steps, eps, lr_factor: GD budget, target and step;
        log_every: interval of the feature log; seed: data and weights; device: where the
        network and the data live.

    Returns:
        dict: ``sigma0`` (:math:`\sigma_0`), ``loss0`` (:math:`F(0)/(\tfrac12\lVert
        y\rVert^2)`: 1 for a zero output), ``feature_move`` (:math:`\max_t \lVert F_k(t) -
        F_k(0)\rVert_2/\sigma_0`, the invariant needs :math:`\le 1/2`), ``sigma_ratio``
        (:math:`\min_t \sigma_{\min}(F_k(t))/\sigma_0`), ``ok`` (target reached), ``ratio``
        (final / initial loss), ``steps`` (steps run), ``lr``.
    """
    N, wide_width, d, width, depth, steps, log_every = ints(
        N=N, wide_width=wide_width, d=d, width=width, depth=depth, steps=steps,
        log_every=log_every).values()
    if wide_width < N:
        raise ValueError(f"wide_width = {wide_width} < N = {N}: the feature matrix then has "
                         "rank < N and sigma_min = 0; pass wide_width >= N")
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    X, y, _ = sphere_data(N, d, labels="random", last_coord=False, seed=seed, device=device)
    net = OneWideLayerNet(d, width, depth, wide_width=wide_width,
                          output_std=output_std(init, wide_width), seed=seed, device=device)
    k = net.wide_layer - 1

    def features(model) -> torch.Tensor:
        with torch.no_grad():
            return model.features(X).hidden[k]  # (N, n_k)

    F0 = features(net).clone()
    sigma0 = float(torch.linalg.svdvals(F0)[N - 1])
    rows = []

    def track(model) -> float:
        F = features(model)
        rows.append((float(torch.linalg.matrix_norm(F - F0, ord=2)) / sigma0,
                     float(torch.linalg.svdvals(F)[N - 1]) / sigma0))
        return rows[-1][0]

    f0 = loss_value(net, X, y)
    lr = ntk_learning_rate(net, X, lr_factor)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=eps * f0,
                  hooks={"features": (log_every, track)})
        ratio, ran = float(h.loss[-1] / f0), int(h.step[-1])
    except DivergenceError:
        ratio, ran = float("inf"), steps
    rows = np.array(rows)
    return {"sigma0": sigma0, "loss0": float(f0 / (0.5 * float(y.square().sum()))),
            "feature_move": float(rows[:, 0].max()), "sigma_ratio": float(rows[:, 1].min()),
            "ok": bool(ratio <= eps), "ratio": ratio, "steps": ran, "lr": float(lr)}
