r"""Small, cacheable experiments for the last part of the book (practical widths, beyond kernels).

Every function here takes plain numbers/strings and returns a dict of floats and numpy arrays, so
it can be cached with :func:`ntklib.sweep` / :func:`ntklib.cached` and shared between the notebook
test run and the book build. Each one is a thin composition of ntklib's public API (models, data,
``train``, ``empirical_ntk``, ``kernel_regression``, ...): no training loop and no kernel formula is
re-implemented here. Chapters call them as ``from ntklib import experiments``.

Conventions: float64 on the CPU (the theory checks), sum loss
:math:`F = \sum_i \tfrac12 (f(x_i) - y_i)^2` unless said otherwise, learning rates given as a
fraction of :math:`1/\lambda_{\max}` of the empirical NTK at initialization (GD on the linearised
model is stable for ``lr_factor < 2``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .data import sphere_data
from .models import MLP, FixedPatternNet, ResNet, TwoLayerNet, scaled
from .ntk import empirical_ntk, kernel_drift, lambda_max
from .predict import kernel_regression
from .train import loss_value, train
from .utils import check_choice, check_int, check_positive

__all__ = [
    "surrogate_vs_relu",
    "fit_run",
    "ntk_init_error",
    "two_layer_lazy",
    "lazy_rich",
    "hierarchical_target",
    "hierarchical_benchmark",
]


def _param_vector(model: torch.nn.Module) -> torch.Tensor:
    """All trainable parameters flattened into one vector (shape ``(P,)``)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def _mean_flips(model_0: torch.nn.Module, model_t: torch.nn.Module, X: torch.Tensor) -> float:
    """Fraction of (sample, unit, layer) ReLU signs that differ between two models (mean over
    the activation layers of :func:`ntklib.activation_flips`)."""
    from .diagnostics import activation_flips

    return float(np.mean(activation_flips(model_0, model_t, X)))


def surrogate_vs_relu(n: int = 16, d: int = 8, width: int = 256, depth: int = 2, steps: int = 200,
                      lr_factor: float = 0.5, seed: int = 0) -> dict:
    r"""Train an Allen-Zhu-Li-Song ReLU MLP and its fixed-pattern surrogate from the same init.

    Network: ``MLP(d, width, depth, parameterization="azls", trainable="hidden")`` (only
    :math:`W_1..W_L` trained), data ``sphere_data(n, d, labels="random")``, GD on the sum loss with
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}(\hat\Theta_0)` for both models (at
    :math:`\theta_0` the two NTKs coincide). The surrogate is ``FixedPatternNet.from_net(net)``:
    :math:`\tilde f(x) = B D_L^{(0)}(x) W_L \cdots D_0^{(0)}(x) A x` with gates frozen at init.

    Args:
        n, d: number and dimension of the inputs. width, depth: m and L of the MLP.
        steps: GD steps. lr_factor: step size in units of :math:`1/\lambda_{\max}`. seed: data
            and weights.

    Returns:
        dict with ``step`` (k,), ``loss_relu``, ``loss_surrogate`` (k,) the two loss curves;
        ``loss_to_relu`` the loss of ``surrogate.to_relu()`` (the ReLU net carrying the trained
        surrogate weights); ``curve_gap`` :math:`\max_t |F_{relu} - F_{sur}|/F(0)`;
        ``flips`` the ReLU net's final sign-flip fraction; ``flips_to_relu`` that of the
        converted surrogate; ``ntk_gap`` :math:`\|\hat\Theta_{relu,T} - \hat\Theta_{sur,T}\|_F /
        \|\hat\Theta_0\|_F`; ``drift_relu``, ``drift_surrogate`` the kernel drifts;
        ``weight_gap`` :math:`\|\theta_{relu,T} - \theta_{sur,T}\| / \|\theta_{relu,T} -
        \theta_0\|`; ``sec_per_step_relu``, ``sec_per_step_surrogate`` wall-clock seconds per
        step; ``lr``.
    """
    for name, v in (("n", n), ("d", d), ("width", width), ("depth", depth), ("steps", steps)):
        check_int(v, name, minimum=1)
    check_positive(lr_factor, "lr_factor")
    X, y, _ = sphere_data(n, d, labels="random", seed=seed)
    net = MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed)
    sur = FixedPatternNet.from_net(net, X)
    K0 = empirical_ntk(net, X)
    lr = lr_factor / lambda_max(K0)
    theta0 = _param_vector(net)
    h_sur = train(sur, X, y, lr=lr, steps=steps)
    h_relu = train(net, X, y, lr=lr, steps=steps)
    relu_from_sur = sur.to_relu()
    K_relu, K_sur = empirical_ntk(net, X), empirical_ntk(sur, X)
    K0n = float(torch.linalg.norm(K0))
    f0 = float(h_relu.loss[0])
    move = float(torch.linalg.norm(_param_vector(net) - theta0))
    return {
        "step": h_relu.step.copy(),
        "loss_relu": h_relu.loss.copy(),
        "loss_surrogate": h_sur.loss.copy(),
        "loss_to_relu": loss_value(relu_from_sur, X, y),
        "curve_gap": float(np.max(np.abs(h_relu.loss - h_sur.loss)) / f0),
        "flips": _mean_flips(h_relu.model0, net, X),
        "flips_to_relu": _mean_flips(h_relu.model0, relu_from_sur, X),
        "ntk_gap": float(torch.linalg.norm(K_relu - K_sur)) / K0n,
        "drift_relu": float(torch.linalg.norm(K_relu - K0)) / K0n,
        "drift_surrogate": float(torch.linalg.norm(K_sur - K0)) / K0n,
        "weight_gap": float(torch.linalg.norm(_param_vector(net) - _param_vector(sur))) / move,
        "sec_per_step_relu": float(h_relu.time[-1] / max(1, h_relu.step[-1])),
        "sec_per_step_surrogate": float(h_sur.time[-1] / max(1, h_sur.step[-1])),
        "lr": float(lr),
    }


def fit_run(n: int, depth: int, width: int, *, kind: str = "relu", eps: float = 1e-3,
            steps: int = 400, lr_factor: float = 1.0, d: int = 16, seed: int = 0) -> dict:
    r"""Train until the relative loss :math:`F(\theta_t)/F(\theta_0)` falls below ``eps``.

    The model is ``MLP(d, width, depth, parameterization="azls", trainable="hidden")`` on
    ``sphere_data(n, d, labels="random")`` (``kind="relu"``), or its fixed-pattern surrogate
    ``FixedPatternNet.from_net`` of the same initial net (``kind="surrogate"``). GD on the sum
    loss, :math:`\eta = \text{lr\_factor}/\lambda_{\max}(\hat\Theta_0)`, early stop at
    ``target_loss = eps * F(0)``.

    Returns:
        dict with ``steps_to_eps`` (int, or ``-1`` if not reached within ``steps``),
        ``reached`` (bool), ``final_rel_loss``, ``flips`` (final sign-flip fraction of the ReLU
        net carrying the trained weights), ``drift`` (relative NTK change, end vs init),
        ``lr``, ``lambda_max``, ``lambda_min`` of :math:`\hat\Theta_0`, ``seconds``.
    """
    for name, v in (("n", n), ("width", width), ("steps", steps), ("d", d)):
        check_int(v, name, minimum=1)
    check_int(depth, "depth", minimum=1)
    check_choice(kind, "kind", ("relu", "surrogate"))
    check_positive(eps, "eps")
    check_positive(lr_factor, "lr_factor")
    X, y, _ = sphere_data(n, d, labels="random", seed=seed)
    net = MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed)
    model = net if kind == "relu" else FixedPatternNet.from_net(net, X)
    K0 = empirical_ntk(model, X)
    lam_max = lambda_max(K0)
    lam_min = float(torch.linalg.eigvalsh(0.5 * (K0 + K0.T))[0])
    lr = lr_factor / lam_max
    F0 = loss_value(model, X, y)
    hist = train(model, X, y, lr=lr, steps=steps, target_loss=eps * F0)
    reached = hist.stopped == "target"
    trained = model if kind == "relu" else model.to_relu()
    K_end = empirical_ntk(model, X)
    return {
        "steps_to_eps": int(hist.step[-1]) if reached else -1,
        "reached": bool(reached),
        "final_rel_loss": float(hist.loss[-1] / F0),
        "flips": _mean_flips(hist.model0 if kind == "relu" else net, trained, X),
        "drift": float(torch.linalg.norm(K_end - K0) / torch.linalg.norm(K0)),
        "lr": float(lr),
        "lambda_max": float(lam_max),
        "lambda_min": lam_min,
        "seconds": float(hist.time[-1]),
    }


def ntk_init_error(width: int, depth: int = 2, n: int = 8, d: int = 8, seed: int = 0) -> float:
    r"""Relative Frobenius distance of the empirical NTK at init from its infinite-width limit.

    ``MLP(d, width, depth, parameterization="ntk", trainable="all")`` against
    ``limit_kernel(net, X)`` (Arora et al.'s :math:`\Theta^{(L)}`), on ``sphere_data(n, d)``:
    :math:`\|\hat\Theta_0 - \Theta\|_F / \|\Theta\|_F`.
    """
    from .kernels import limit_kernel

    check_int(width, "width", minimum=1)
    X, _, _ = sphere_data(n, d, seed=seed)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed)
    K = empirical_ntk(net, X)
    K_inf = limit_kernel(net, X)
    return float(torch.linalg.norm(K - K_inf) / torch.linalg.norm(K_inf))


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
    from .kernels import analytic_ntk

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

