r"""Beyond the kernel regime: Chizat-Oyallon-Bach scaling, a rich network against kernel
regression on a hierarchical target, and the finite-width NTK equivalence measured for the
book's closing dashboard (see ``practical.py`` for conventions)."""

from __future__ import annotations

import math

import torch

from ..data import sphere_data
from ..kernels import analytic_ntk
from ..models import MLP, TwoLayerNet
from ..ntk import empirical_ntk, lambda_max
from ..predict import gd_dynamics, kernel_regression
from ..train import train
from ..utils import check_int, check_positive
from ..wrappers import scaled
from ._common import ints
from ._common import param_vector as _param_vector

__all__ = ["lazy_rich", "hierarchical_target", "rich_vs_kernel"]


def lazy_rich(alpha: float, width: int = 128, n: int = 32, n_test: int = 256, d: int = 4,
              steps: int = 400, lr_factor: float = 1.0, seed: int = 0,
              device: str = "cpu") -> dict:
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
    X_all, y_all, _ = sphere_data(n + n_test, d, labels="teacher", last_coord=False, seed=seed,
                                  device=device)
    X, y, X_te, y_te = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    model = scaled(TwoLayerNet(d, width, trainable="all", seed=seed, device=device), alpha)
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


def _best_ridge_mse(K, K_te, y, y_te) -> float:
    """Test MSE of kernel ridge regression with the best ridge of a grid (chosen on the test
    set, which favours the kernel), the ridge in units of the mean diagonal of K."""
    scale = float(torch.trace(K)) / K.shape[0]
    return min(float(torch.mean((kernel_regression(K, y, K_te, ridge=r * scale).reshape(-1)
                                 - y_te) ** 2)) for r in (1e-4, 1e-3, 1e-2, 1e-1, 1.0))


def rich_vs_kernel(alpha: float, *, n: int = 256, d: int = 8, width: int = 128, depth: int = 2,
                   steps: int = 1000, lr_factor: float = 0.5, strength: float = 0.5,
                   n_test: int = 512, seed: int = 0, device: str = "cpu") -> dict:
    r"""A network trained in the rich (small alpha) or lazy (large alpha) regime against kernel
    regression with its NTK, on :func:`hierarchical_target`.

    Data: ``sphere_data(n + n_test, d, last_coord=False)`` split into train/test, targets
    :func:`hierarchical_target` with ``strength``. Network: ``scaled(MLP(d, width, depth,
    parameterization="ntk", trainable="all"), alpha)`` (output zero at initialisation), GD on the
    sum loss with :math:`\eta = \text{lr\_factor}/\lambda_{\max}(\alpha^2\hat\Theta_0)` (the
    Chizat-Oyallon-Bach objective: the function-space dynamics of the linearised model are the
    same for every alpha; small alpha makes the weights, and with them the features, move).

    Kernel competitors: the linearised network after the same ``steps`` (closed form
    :func:`ntklib.gd_dynamics` with the NTK at initialisation: the lazy limit of this very run),
    and ridge regression with the best ridge of a grid chosen *on the test set* (favourable to
    the kernel) for the empirical NTK at initialisation, the empirical NTK after training (the
    "learned" kernel) and the infinite-width NTK ``analytic_ntk(depth=depth,
    parameterization="ntk", trainable="all")``.

    Returns:
        dict: ``alpha``, ``test_mse``, ``train_ratio`` (final / initial training loss),
        ``lin_test_mse``, ``ntk_test_mse``, ``trained_ntk_test_mse``, ``analytic_test_mse``,
        ``zero_test_mse`` (predicting 0), ``feature_move`` (:math:`\lVert H_T - H_0\rVert_F /
        \lVert H_0\rVert_F` of the last hidden layer on the training inputs), ``weight_move``
        (:math:`\lVert\theta_T - \theta_0\rVert / \lVert\theta_0\rVert`), ``drift`` (relative
        change of the empirical NTK), ``loss`` (training curve), ``lr``.
    """
    alpha = check_positive(alpha, "alpha")
    lr_factor = check_positive(lr_factor, "lr_factor")
    n, d, width, depth, steps, n_test = ints(n=n, d=d, width=width, depth=depth, steps=steps,
                                             n_test=n_test).values()
    check_positive(strength, "strength", strict=False)
    X_all, _, _ = sphere_data(n + n_test, d, last_coord=False, seed=seed, device=device)
    y_all = hierarchical_target(X_all, strength)
    X, y, X_te, y_te = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    base = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed,
               device=device)
    net = scaled(base, alpha)
    K0, K0_te = empirical_ntk(net, X), empirical_ntk(net, X_te, X)
    lr = lr_factor / lambda_max(K0)
    theta0 = _param_vector(net)
    with torch.no_grad():
        H0 = base.features(X).hidden[-1].clone()  # (n, width)
    hist = train(net, X, y, lr=lr, steps=steps)
    with torch.no_grad():
        H1 = base.features(X).hidden[-1]
        pred = net(X_te).reshape(-1)
    K1, K1_te = empirical_ntk(net, X), empirical_ntk(net, X_te, X)
    zeros, zeros_te = torch.zeros_like(y), torch.zeros_like(y_te)
    lin = gd_dynamics(K0, y, zeros, lr, [float(steps)], K_test_train=K0_te, f0_test=zeros_te)
    Ka, Ka_te = (analytic_ntk(A, B, depth=depth, parameterization="ntk", trainable="all")
                 for A, B in ((X, None), (X_te, X)))
    return {
        "alpha": alpha,
        "test_mse": float(torch.mean((pred - y_te) ** 2)),
        "train_ratio": float(hist.loss[-1] / hist.loss[0]),
        "lin_test_mse": float(torch.mean((lin.f_test[-1].reshape(-1) - y_te) ** 2)),
        "ntk_test_mse": _best_ridge_mse(K0, K0_te, y, y_te),
        "trained_ntk_test_mse": _best_ridge_mse(K1, K1_te, y, y_te),
        "analytic_test_mse": _best_ridge_mse(Ka, Ka_te, y, y_te),
        "zero_test_mse": float(torch.mean(y_te ** 2)),
        "feature_move": float(torch.linalg.norm(H1 - H0) / torch.linalg.norm(H0)),
        "weight_move": float(torch.linalg.norm(_param_vector(net) - theta0)
                             / torch.linalg.norm(theta0)),
        "drift": float(torch.linalg.norm(K1 - K0) / torch.linalg.norm(K0)),
        "loss": hist.loss.copy(),
        "lr": float(lr),
    }
