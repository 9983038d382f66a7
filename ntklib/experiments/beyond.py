r"""Beyond the kernel regime: Chizat-Oyallon-Bach scaling and a hierarchical target
(see ``practical.py`` for conventions)."""

from __future__ import annotations

import math

import torch

from ..data import sphere_data
from ..kernels import analytic_ntk
from ..models import ResNet, TwoLayerNet
from ..ntk import empirical_ntk, lambda_max
from ..predict import kernel_regression
from ..train import train
from ..utils import check_int, check_positive
from ..wrappers import scaled
from ._common import param_vector as _param_vector

__all__ = ["lazy_rich", "hierarchical_target", "hierarchical_benchmark"]


def lazy_rich(alpha: float, width: int = 128, n: int = 32, n_test: int = 256, d: int = 4,
              steps: int = 400, lr_factor: float = 1.0, seed: int = 0) -> dict:
    r"""Chizat-Oyallon-Bach scaling: train :math:`\alpha(f(\theta) - f(\theta_0))` for one alpha.

    Model ``scaled(TwoLayerNet(d, width, trainable="all"), alpha)`` (zero output at init).
    Objective :math:`\frac{1}{\alpha^2}\sum_i\frac12(\alpha\Delta f(x_i) - y_i)^2`: this is
    ``train(..., loss="mse_sum")`` with the learning rate divided by :math:`\alpha^2`. We set
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}(\hat\Theta^{\alpha}_0)` where
    :math:`\hat\Theta^\alpha_0 = \alpha^2\hat\Theta_0`, i.e. exactly
    :math:`\eta = (\text{lr\_factor}/\lambda_{\max}(\hat\Theta_0))/\alpha^2`: the function-space
    dynamics of the linearised model are then the same for every alpha. Targets: the smooth
    ``"teacher"`` labels of ``sphere_data(n + n_test, d, last_coord=False)``, split into train/test.

    Returns:
        dict with ``alpha``, ``weight_move`` :math:`\|\theta_T-\theta_0\|/\|\theta_0\|`,
        ``drift`` (relative NTK change, end vs init, on the training inputs), ``loss``
        (training curve, :math:`F/\alpha^2`-free: the plain sum loss of the scaled model),
        ``test_mse`` of the trained network, ``ntk_test_mse`` of kernel regression with the
        empirical NTK at init (the lazy limit), ``nn_vs_ntk`` the mean squared difference of
        the two predictors on the test set, ``test_var`` the variance of the test targets.
    """
    check_positive(alpha, "alpha")
    check_int(width, "width", minimum=1)
    X_all, y_all, _ = sphere_data(n + n_test, d, labels="teacher", last_coord=False, seed=seed)
    X, y, X_te, y_te = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    model = scaled(TwoLayerNet(d, width, trainable="all", seed=seed), alpha)
    K0 = empirical_ntk(model, X)
    K0_te = empirical_ntk(model, X_te, X)
    lr = lr_factor / lambda_max(K0)
    theta0 = _param_vector(model)
    hist = train(model, X, y, lr=lr, steps=steps)
    with torch.no_grad():
        pred = model(X_te).reshape(-1)
    pred_ntk = kernel_regression(K0, y, K0_te).reshape(-1)
    K_end = empirical_ntk(model, X)
    return {
        "alpha": float(alpha),
        "weight_move": float(torch.linalg.norm(_param_vector(model) - theta0)
                             / torch.linalg.norm(theta0)),
        "drift": float(torch.linalg.norm(K_end - K0) / torch.linalg.norm(K0)),
        "loss": hist.loss.copy(),
        "test_mse": float(torch.mean((pred - y_te) ** 2)),
        "ntk_test_mse": float(torch.mean((pred_ntk - y_te) ** 2)),
        "nn_vs_ntk": float(torch.mean((pred - pred_ntk) ** 2)),
        "test_var": float(torch.var(y_te)),
    }


def hierarchical_target(X: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    r"""A two-level target :math:`y = F(x) + \text{strength}\cdot G(F(x))` in the spirit of
    Allen-Zhu & Li (arXiv 1905.10337); our choice of F and G, not theirs.

    :math:`F(x) = \sqrt{d}\,(x_1 x_2 + x_3 x_4)\cdot\sqrt{d/2}` -- a degree-2 feature with unit
    variance for x uniform on the sphere in :math:`\mathbb R^d` (:math:`E[x_i^2x_j^2] =
    1/(d(d+2))`, so the factor is :math:`\sqrt{d(d+2)/2}`), and :math:`G(z) = z^2 - 1`: the
    composition is a degree-4 polynomial built from the degree-2 feature.

    Args:
        X: ``(n, d)`` inputs, ``d >= 4``.
        strength: the weight of the composed term.

    Returns:
        ``(n,)`` targets.
    """
    if X.ndim != 2 or X.shape[1] < 4:
        raise ValueError(f"hierarchical_target needs X of shape (n, d) with d >= 4, got "
                         f"{tuple(X.shape)}: use sphere_data(n, d) with d >= 4")
    d = X.shape[1]
    F = math.sqrt(d * (d + 2) / 2.0) * (X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3])
    return F + strength * (F ** 2 - 1.0)


def hierarchical_benchmark(n: int = 128, d: int = 8, strength: float = 1.0, width: int = 128,
                           depth: int = 3, steps: int = 1500, lr_factor: float = 1.0,
                           n_test: int = 512, seed: int = 0) -> dict:
    r"""Trained ResNet vs NTK regression on :func:`hierarchical_target`, at equal n.

    Data: ``sphere_data(n + n_test, d, last_coord=False)`` split into train/test, targets from
    :func:`hierarchical_target`. Network: ``scaled(ResNet(d, width, depth, style="du"), 1)`` (Du et
    al.'s ResNet with the output at init subtracted, so that the network and the kernel predictor
    both start from 0), all layers trained by GD on the mean loss with
    :math:`\eta = \text{lr\_factor}\cdot n/\lambda_{\max}(\hat\Theta_0)`. Kernel predictors: ridge
    regression with the ResNet's empirical NTK at init, and with the infinite-width NTK of a ReLU
    MLP (``analytic_ntk(depth=depth)``), each with the ridge picked *on the test set* from a grid
    (favourable to the kernels).

    Returns:
        dict with ``nn_test_mse``, ``ntk_test_mse`` (empirical NTK at init, best ridge),
        ``analytic_ntk_test_mse`` (best ridge), ``zero_test_mse`` (predicting 0, i.e. the mean
        square of the targets), ``nn_train_mse``, ``loss`` (training curve).
    """
    check_int(n, "n", minimum=2)
    check_positive(strength, "strength", strict=False)
    X_all, _, _ = sphere_data(n + n_test, d, last_coord=False, seed=seed)
    y_all = hierarchical_target(X_all, strength)
    X, y, X_te, y_te = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    model = scaled(ResNet(d, width, depth, style="du", seed=seed), 1.0)
    K0 = empirical_ntk(model, X)
    K0_te = empirical_ntk(model, X_te, X)
    lr = lr_factor * n / lambda_max(K0)
    hist = train(model, X, y, lr=lr, steps=steps, loss="mse_mean")
    with torch.no_grad():
        pred = model(X_te).reshape(-1)
        pred_tr = model(X).reshape(-1)

    def best_ridge(K, K_te):
        scale = float(torch.trace(K)) / n
        errs = [float(torch.mean((kernel_regression(K, y, K_te, ridge=r * scale).reshape(-1)
                                  - y_te) ** 2)) for r in (0.0, 1e-3, 1e-2, 1e-1, 1.0)]
        return min(errs)

    Ka = analytic_ntk(X, depth=depth)
    Ka_te = analytic_ntk(X_te, X, depth=depth)
    return {
        "nn_test_mse": float(torch.mean((pred - y_te) ** 2)),
        "nn_train_mse": float(torch.mean((pred_tr - y) ** 2)),
        "ntk_test_mse": best_ridge(K0, K0_te),
        "analytic_ntk_test_mse": best_ridge(Ka, Ka_te),
        "zero_test_mse": float(torch.mean(y_te ** 2)),
        "loss": hist.loss.copy(),
    }

