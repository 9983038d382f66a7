r"""Training in the kernel regime: kernel drift, the linearised network and its closed form,
kernel regression, eigen-projection dynamics and frequency bias (see ``practical.py`` for the
conventions: sum loss, :math:`\eta = \text{lr\_factor}/\lambda_{\max}`, ``depth`` = number of
hidden activation layers).
"""

from __future__ import annotations

import numpy as np
import torch

from ..analysis import steps_to_reach
from ..data import circle_data, sphere_data
from ..kernels import du_two_layer_gram, limit_kernel
from ..models import MLP, TwoLayerNet
from ..ntk import empirical_ntk, kernel_drift, lambda_max, ntk_learning_rate
from ..predict import eigen_projection_curve, gd_dynamics, kernel_regression, label_complexity
from ..train import DivergenceError, train
from ..utils import check_choice, check_int, check_number, pick_device
from ..wrappers import linearize, scaled

__all__ = [
    "drift_run",
        "linearization_run",
    "kernel_regression_run",
    "eigen_projection_run",
    "frequency_run",
]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def drift_run(width: int, depth: int = 3, parameterization: str = "ntk", lr_factor: float = 1.0,
              ref_width: int | None = None, steps: int = 60, n: int = 10, d: int = 6,
              seed: int = 0, data_seed: int = 3, device: str = "cpu") -> dict:
    r"""Kernel drift after GD, for ``MLP(d, width, depth, parameterization, trainable="all")``.

    Data ``sphere_data(n, d, labels="teacher", seed=data_seed)``, sum loss, ``steps`` GD steps.
    Step size :math:`\text{lr\_factor}/\lambda_{\max}` of the net's own initial NTK, or, with
    ``ref_width``, of the same-seed net of width ``ref_width``: one fixed step for every width
    (the "everyday practice" contrast).

    Returns:
        dict with ``drift`` (relative Frobenius change of the NTK), ``eta_lmax0`` /
        ``eta_lmax1`` (:math:`\eta\lambda_{\max}` at init / after training), ``peak`` (largest
        loss / initial loss), ``diverged`` (bool; the other numbers are then NaN), ``lr``,
        ``err0`` (relative distance of the initial NTK from ``limit_kernel``), arrays ``step``,
        ``loss`` and the kernels ``k0``, ``k1``, ``kinf`` (n, n) divided by the mean diagonal of
        the limit kernel.
    """
    check_int(width, "width", minimum=1)
    check_choice(parameterization, "parameterization", ("ntk", "standard", "azls"))
    dev = pick_device(device)
    X, y, _ = sphere_data(n, d, labels="teacher", seed=data_seed, device=dev)

    def build(m: int) -> MLP:
        return MLP(d, m, depth, parameterization=parameterization, trainable="all", seed=seed,
                   device=dev)

    net = build(width)
    lr = ntk_learning_rate(net if ref_width is None else build(ref_width), X, lr_factor)
    k0, kinf = empirical_ntk(net, X), limit_kernel(net, X)
    scale = float(kinf.diagonal().mean())
    nan = float("nan")
    out = {"lr": float(lr), "eta_lmax0": lr * lambda_max(k0), "err0": float(
        torch.linalg.norm(k0 - kinf) / torch.linalg.norm(kinf)), "k0": _np(k0) / scale,
        "kinf": _np(kinf) / scale}
    try:
        hist = train(net, X, y, lr=lr, steps=steps)
    except DivergenceError as err:
        h = err.history
        out.update(drift=nan, eta_lmax1=nan, peak=nan, diverged=True, step=h.step.copy(),
                   loss=h.loss.copy(), k1=np.full_like(out["k0"], nan))
        return out
    k1 = empirical_ntk(net, X)
    out.update(drift=kernel_drift(hist.model0, net, X), eta_lmax1=lr * lambda_max(k1),
               peak=float(hist.loss.max() / hist.loss[0]), diverged=False,
               step=hist.step.copy(), loss=hist.loss.copy(), k1=_np(k1) / scale)
    return out


def linearization_run(width: int, depth: int = 2, checkpoints: tuple[int, ...] = (0, 10, 20, 40),
                      lr_factor: float = 1.0, n: int = 16, n_test: int = 16, d: int = 5,
                      seed: int = 0, device: str = "cpu") -> dict:
    r"""A network, its linearisation and the closed form, trained side by side (Lee et al.).

    ``MLP(d, width, depth, parameterization="ntk", trainable="all")`` and ``linearize`` of it
    are trained by GD on the sum loss with the same :math:`\eta = \text{lr\_factor}/
    \lambda_{\max}(\hat\Theta_0)` on ``sphere_data(n, d, labels="teacher", seed=0)``; the closed
    form is ``gd_dynamics`` with the initial empirical kernel on training and test points
    (``sphere_data(n_test, d, seed=1)``).

    Returns:
        dict with ``checkpoints``, outputs ``nn``, ``lin``, ``closed`` (T, n + n_test) (training
        points first), ``gap_nn_lin`` :math:`\sup_t\max_x |f_t - f^{lin}_t|`, ``gap_lin_closed``,
        ``lr`` and the training losses ``loss_nn``, ``loss_lin`` (T,) at the checkpoints.
    """
    checkpoints = sorted({check_int(k, "checkpoint", minimum=0) for k in checkpoints})
    dev = pick_device(device)
    Xtr, ytr, _ = sphere_data(n, d, labels="teacher", seed=0, device=dev)
    Xte, _, _ = sphere_data(n_test, d, seed=1, device=dev)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed, device=dev)
    lin = linearize(net)
    K, K_te = empirical_ntk(net, Xtr), empirical_ntk(net, Xte, Xtr)
    lr = ntk_learning_rate(net, Xtr, lr_factor)
    with torch.no_grad():
        f0_tr, f0_te = net(Xtr)[:, 0], net(Xte)[:, 0]
    X_all = torch.cat([Xtr, Xte])
    outs = {"nn": [], "lin": []}
    done = 0
    for k in checkpoints:
        if k > done:
            for model in (net, lin):
                train(model, Xtr, ytr, lr=lr, steps=k - done, log_every=k - done)
            done = k
        with torch.no_grad():
            outs["nn"].append(net(X_all)[:, 0])
            outs["lin"].append(lin(X_all)[:, 0])
    closed = gd_dynamics(K, ytr, f0_tr, lr=lr, steps=checkpoints, K_test_train=K_te,
                         f0_test=f0_te)
    cf = torch.cat([closed.f_train[..., 0], closed.f_test[..., 0]], dim=1)
    nn_o, lin_o = torch.stack(outs["nn"]), torch.stack(outs["lin"])

    def loss(o: torch.Tensor) -> np.ndarray:  # sum loss on the training points, (T,)
        return _np(0.5 * ((o[:, :n] - ytr) ** 2).sum(1))

    return {"checkpoints": np.array(checkpoints), "nn": _np(nn_o), "lin": _np(lin_o),
            "closed": _np(cf), "gap_nn_lin": float((nn_o - lin_o).abs().max()),
            "gap_lin_closed": float((lin_o - cf).abs().max()), "lr": float(lr),
            "loss_nn": loss(nn_o), "loss_lin": loss(lin_o)}


def kernel_regression_run(width: int, depth: int = 2, steps: int = 60, n: int = 12,
                          n_test: int = 24, d: int = 10, seed: int = 0,
                          device: str = "cpu") -> dict:
    r"""A wide network started at :math:`f_0 = 0` against NTK kernel regression (Arora et al.).

    ``scaled(MLP(d, width, depth, parameterization="ntk", trainable="all"), 1.0)`` (the model
    :math:`f(\theta) - f(\theta_0)`, same NTK) is trained by GD on the sum loss with
    :math:`\eta = 1/\lambda_{\max}(\hat\Theta_0)` on ``sphere_data(n, d, labels="teacher",
    last_coord=False, seed=2)``; its predictions on ``sphere_data(n_test, d, last_coord=False,
    seed=3)`` are compared with ``kernel_regression`` with the infinite-width kernel.

    Returns:
        dict with ``pred``, ``kr`` (n_test,), ``gap`` (relative distance), ``loss_ratio`` (final
        / initial training loss).
    """
    dev = pick_device(device)
    X, y, _ = sphere_data(n, d, labels="teacher", last_coord=False, seed=2, device=dev)
    Xt, _, _ = sphere_data(n_test, d, last_coord=False, seed=3, device=dev)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed, device=dev)
    model = scaled(net, 1.0)
    lr = ntk_learning_rate(net, X, 1.0)
    kr = kernel_regression(limit_kernel(net, X), y, K_test_train=limit_kernel(net, Xt, X))
    hist = train(model, X, y, lr=lr, steps=steps, log_every=steps)
    with torch.no_grad():
        pred = model(Xt)[:, 0]
    return {"pred": _np(pred), "kr": _np(kr), "gap": float(torch.linalg.norm(pred - kr)
                                                          / torch.linalg.norm(kr)),
            "loss_ratio": float(hist.loss[-1] / hist.loss[0])}


def eigen_projection_run(width: int = 2048, labels: str = "teacher", steps: int = 300,
                         n: int = 32, d: int = 5, data_seed: int = 4, seed: int = 0,
                         device: str = "cpu") -> dict:
    r"""Arora et al.'s fine-grained dynamics: Du et al.'s two-layer net against the
    eigen-projection formula with :math:`H^\infty`.

    ``scaled(TwoLayerNet(d, width), 1.0)`` (:math:`w_r` trained, :math:`a_r = \pm1` fixed,
    :math:`u(0) = 0`) on ``sphere_data(n, d, labels=labels, seed=data_seed)`` (``"teacher"`` or
    ``"permuted"``: the same inputs and label values), GD on the sum loss with
    :math:`\eta = 1/\lambda_{\max}(H^\infty)`.

    Returns:
        dict with ``step``, ``resid`` (:math:`\lVert y - u(k)\rVert` of the network),
        ``pred`` (the formula at the same steps), ``deviation`` (largest distance of the two),
        ``complexity`` :math:`y^\top(H^\infty)^{-1}y`, ``norm2`` :math:`\lVert y\rVert^2`,
        ``weight_distance`` :math:`\lVert W(T) - W(0)\rVert_F`, ``lr``.
    """
    check_choice(labels, "labels", ("teacher", "permuted", "random", "gaussian"))
    dev = pick_device(device)
    X, y, _ = sphere_data(n, d, labels=labels, seed=data_seed, device=dev)
    H = du_two_layer_gram(X)
    lr = 1.0 / lambda_max(H)
    net = TwoLayerNet(d, width, seed=seed, device=dev)
    W0 = net.weight_layers()["W"].weight.detach().clone()
    hist = train(scaled(net, 1.0), X, y, lr=lr, steps=steps)
    pred = _np(eigen_projection_curve(H, y, lr=lr, steps=steps))[hist.step]
    resid = np.sqrt(2 * hist.loss)
    moved = float(torch.linalg.norm(net.weight_layers()["W"].weight.detach() - W0))
    return {"step": hist.step.copy(), "resid": resid, "pred": pred,
            "deviation": float(np.abs(resid - pred).max()),
            "complexity": label_complexity(H, y), "norm2": float((y ** 2).sum()),
            "weight_distance": moved, "lr": float(lr)}


def frequency_run(frequency: int, width: int = 256, depth: int = 2, n: int = 48,
                  target: float = 0.01, kernel_steps: int = 5000, net_steps: int = 2000,
                  train_net: bool = True, seed: int = 0, device: str = "cpu") -> dict:
    r"""Basri et al.'s frequency bias: steps to fit :math:`\sin(\kappa t)` on the circle.

    ``circle_data(n, frequency)``; ``MLP(2, width, depth, parameterization="ntk",
    trainable="all")`` wrapped by ``scaled(., 1.0)`` (:math:`f_0 = 0`), GD on the sum loss with
    :math:`\eta = 1/\lambda_{\max}(\hat\Theta_0)` until :math:`F \le \text{target}\cdot F(0)`.
    The prediction counts the steps of the eigen-projection formula with the infinite-width
    kernel at the same :math:`\eta`.

    Returns:
        dict with ``pred_steps`` (-1 if not reached in ``kernel_steps``), ``net_steps``
        (-1 if not reached or ``train_net=False``), ``eigenvalue`` (Rayleigh quotient
        :math:`y^\top K y / y^\top y` of the mode in the limit kernel), ``two_layer_eigenvalue``
        (the same in Du et al.'s bias-free two-layer :math:`H^\infty`).
    """
    check_int(frequency, "frequency", minimum=1)
    check_number(target, "target", minimum=0.0, strict_min=True)
    dev = pick_device(device)
    X, y, _ = circle_data(n, frequency, device=dev)
    net = MLP(2, width, depth, parameterization="ntk", trainable="all", seed=seed, device=dev)
    K = limit_kernel(net, X)
    lr = ntk_learning_rate(net, X, 1.0)
    F0 = 0.5 * float((y ** 2).sum())  # f_0 = 0
    curve = _np(eigen_projection_curve(K, y, lr, kernel_steps))
    pred = steps_to_reach(0.5 * curve ** 2, target * F0)
    steps = -1
    if train_net:
        hist = train(scaled(net, 1.0), X, y, lr=lr, steps=net_steps, target_loss=target * F0)
        steps = int(hist.step[-1]) if hist.stopped == "target" else -1
    H = du_two_layer_gram(X)
    return {"pred_steps": -1 if pred is None else int(pred), "net_steps": steps,
            "eigenvalue": float(y @ K @ y / (y @ y)),
            "two_layer_eigenvalue": float(y @ H @ y / (y @ y)), "lr": float(lr)}
