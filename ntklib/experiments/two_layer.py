r"""Du, Zhai, Poczos, Singh's two-layer net: its Gram matrix and lazy training (see
``practical.py`` for conventions).

The network is :class:`~ntklib.models.TwoLayerNet`,
:math:`f(x) = m^{-1/2}\sum_r a_r\,\mathrm{relu}(w_r^\top x)` with :math:`w_r` trained and
:math:`a_r = \pm 1` fixed; its empirical NTK is the Gram matrix :math:`H(k)` of the paper
(arXiv 1810.02054) and :func:`ntklib.du_two_layer_gram` its limit :math:`H^\infty`. Data are
unit vectors without the Allen-Zhu et al. last coordinate (``last_coord=False``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import near_duplicate_pair, sphere_data
from ..kernels import du_two_layer_gram
from ..models import TwoLayerNet
from ..ntk import empirical_ntk, kernel_drift, lambda_max, min_eigenvalue
from ..predict import gd_dynamics, label_complexity
from ..theory import du_two_layer_rate
from ..train import train
from ..utils import check_choice, check_int, check_number, pick_device
from ._common import ints
from ._common import mean_flips as _mean_flips

__all__ = ["two_layer_lazy", "gram_error", "lambda0_near_pair"]


def two_layer_lazy(width: int, n: int = 32, d: int = 8, steps: int = 300, lr_factor: float = 1.0,
                   seed: int = 0, *, data_seed: int | None = None, lr_rule: str = "empirical",
                   log_every: int = 1, device: str = "cpu") -> dict:
    r"""Lazy-training statistics of Du et al.'s two-layer net after GD on the sum loss.

    ``TwoLayerNet(d, width, seed=seed)`` (:math:`w_r` trained, :math:`a_r = \pm1` fixed),
    Gaussian labels on ``sphere_data(n, d, last_coord=False, seed=data_seed)`` (``data_seed``
    defaults to ``seed``). Step :math:`\eta = \text{lr\_factor}/\lambda_{\max}` of the empirical
    Gram matrix :math:`H(0)` (``lr_rule="empirical"``) or of :math:`H^\infty`
    (``lr_rule="limit"``: the same step at every width).

    Besides the measured curve it returns the two predictions of the paper's analysis at the same
    step: the *linear* prediction :math:`\tfrac12\lVert (I - \eta H^\infty)^k (u(0) - y)\rVert^2`
    (``gd_dynamics`` with :math:`H^\infty`; NaN when :math:`\eta\lambda_{\max}(H^\infty) > 2`) and
    Theorem 4.1's guarantee :math:`(1 - \eta\lambda_0/2)^k F(0)` (``theory.du_two_layer_rate``).

    Returns:
        dict with ``max_neuron_move`` :math:`\max_r\|w_r(T) - w_r(0)\|`, ``flips`` (fraction of
        (sample, neuron) signs changed), ``drift`` (relative Gram change
        :math:`\|H(T) - H(0)\|_F/\|H(0)\|_F`), ``rel_loss`` :math:`F(T)/F(0)`; ``dist``
        :math:`\|W(T) - W(0)\|_F`, ``min_norm`` :math:`\sqrt{e^\top (H^\infty)^{-1} e}` with
        :math:`e = y - u(0)` (the distance the linearised model with kernel :math:`H^\infty`
        travels); ``step``, ``loss`` (logged curve of F), ``linear_loss`` and
        ``envelope_loss`` (the two predictions at the logged steps), ``F0``, ``lr``,
        ``lambda0`` :math:`=\lambda_{\min}(H^\infty)` and ``lambda_max_inf``.
    """
    width, n, d, steps = ints(width=width, n=n, d=d, steps=steps).values()
    check_choice(lr_rule, "lr_rule", ("empirical", "limit"))
    lr_factor = check_number(lr_factor, "lr_factor", minimum=0.0, strict_min=True)
    log_every = check_int(log_every, "log_every", minimum=1)
    dev = str(pick_device(device))
    data_seed = seed if data_seed is None else check_int(data_seed, "data_seed", minimum=0)
    X, y, _ = sphere_data(n, d, labels="gaussian", last_coord=False, seed=data_seed, device=dev)
    H_inf = du_two_layer_gram(X)  # (n, n)
    lam0, lam_max_inf = min_eigenvalue(H_inf), lambda_max(H_inf)
    net = TwoLayerNet(d, width, seed=seed, device=dev)
    K0 = empirical_ntk(net, X)  # = H(0)
    lr = lr_factor / (lambda_max(K0) if lr_rule == "empirical" else lam_max_inf)
    hist = train(net, X, y, lr=lr, steps=steps, log_every=log_every)
    W0 = hist.model0.weight_layers()["W"].weight.detach()
    W = net.weight_layers()["W"].weight.detach()
    with torch.no_grad():
        u0 = hist.model0(X).reshape(-1)
    F0 = float(hist.loss[0])
    k = hist.step.astype(np.float64)
    try:
        linear = gd_dynamics(H_inf, y, u0, lr=lr, steps=k.tolist()).loss.cpu().numpy()
    except ValueError:  # lr * lambda_max(H_inf) > 2: the linear model diverges
        linear = np.full(k.shape, np.nan)
    try:
        envelope = du_two_layer_rate(lr, lam0) ** k * F0
    except ValueError:  # lr * lambda0 / 2 > 1: outside the theorem
        envelope = np.full(k.shape, np.nan)
    return {
        "max_neuron_move": float(torch.linalg.norm(W - W0, dim=1).max()),
        "flips": _mean_flips(hist.model0, net, X),
        "drift": kernel_drift(hist.model0, net, X),
        "rel_loss": float(hist.loss[-1] / hist.loss[0]),
        "dist": float(torch.linalg.norm(W - W0)),
        "min_norm": math.sqrt(label_complexity(H_inf, y - u0)),
        "step": hist.step.copy(), "loss": hist.loss.copy(), "linear_loss": linear,
        "envelope_loss": envelope, "F0": F0, "lr": float(lr), "lambda0": lam0,
        "lambda_max_inf": lam_max_inf,
    }


def gram_error(width: int, seed: int = 0, *, n: int = 20, d: int = 10, data_seed: int = 0,
               device: str = "cpu") -> dict:
    r""":math:`\|H(0) - H^\infty\|_2` for one initialisation (Remark 3.1 of Du et al.: it is
    :math:`O(m^{-1/2})`).

    :math:`H(0)` is the empirical NTK of ``TwoLayerNet(d, width, seed=seed)`` (the first layer
    is the trained one) on ``sphere_data(n, d, last_coord=False, seed=data_seed)``.

    Returns:
        dict with ``error`` (spectral norm of the difference), ``lambda0``
        :math:`=\lambda_{\min}(H^\infty)` and ``lambda_min_H0`` :math:`=\lambda_{\min}(H(0))`.
    """
    width, n, d = ints(width=width, n=n, d=d).values()
    dev = str(pick_device(device))
    X, _, _ = sphere_data(n, d, last_coord=False, seed=data_seed, device=dev)
    H_inf = du_two_layer_gram(X)
    H0 = empirical_ntk(TwoLayerNet(d, width, seed=seed, device=dev), X)
    return {"error": float(torch.linalg.matrix_norm(H0 - H_inf, ord=2)),
            "lambda0": min_eigenvalue(H_inf), "lambda_min_H0": min_eigenvalue(H0)}


def lambda0_near_pair(delta: float, n: int = 20, d: int = 10, seed: int = 0,
                      device: str = "cpu") -> dict:
    r""":math:`\lambda_0 = \lambda_{\min}(H^\infty)` for n - 2 random unit points plus a pair at
    distance ``delta`` (``near_duplicate_pair(..., last_coord=False)``).

    Also returns the closed form for the pair alone, the smallest eigenvalue of the 2 x 2 matrix
    with diagonal 1/2 and off-diagonal :math:`\cos\theta(\pi - \theta)/(2\pi)`, where
    :math:`\theta = 2\arcsin(\delta/2)` is the pair's angle:
    :math:`\tfrac12 - \cos\theta(\pi-\theta)/(2\pi) \to \delta/(2\pi)` as :math:`\delta \to 0`.

    Returns:
        dict with ``lambda0``, ``pair_closed_form`` and ``separation`` (smallest distance).
    """
    n, d = ints(n=n, d=d).values()
    X, _, sep = near_duplicate_pair(n, d, delta, last_coord=False, seed=seed,
                                    device=str(pick_device(device)))
    theta = 2 * math.asin(min(1.0, delta / 2))
    return {"lambda0": min_eigenvalue(du_two_layer_gram(X)),
            "pair_closed_form": 0.5 - math.cos(theta) * (math.pi - theta) / (2 * math.pi),
            "separation": float(sep)}
