r"""Allen-Zhu, Li, Song's network against its NTK at finite width (see ``practical.py`` for the
conventions).

One protocol, :func:`equivalence_run`: train the network to (near) zero loss and measure, at the
trained weights :math:`W^*`, every quantity that the two statements of the authors' talk
(arXiv 1811.03962, slides "Equivalent view: neural tangent kernel") are about:

* the gradient against the NTK feature map at initialisation, per sample
  :math:`g_i(W) = \nabla_W u_i(W)` against :math:`g_i(W^{(0)})`: the relative change of its
  length (a kernel quantity, :math:`\sqrt{H_{ii}(W)/H_{ii}(W^{(0)})}`) and of the vector itself
  (a feature quantity), from :func:`ntklib.cross_ntk`;
* the objective against the NTK objective at the same weights,
  :math:`F_{NTK}(W) = \tfrac12\sum_i (u_i(W^{(0)}) + \langle g_i(W^{(0)}), W - W^{(0)}\rangle
  - y_i)^2` (the linearised network of :func:`ntklib.linearize` evaluated at :math:`W^*`);
* the kernel drift of the lemma, and the loss curves of the network, of its linearisation
  (closed form with the empirical initial kernel) and of kernel GD with the infinite-width kernel.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import sphere_data
from ..kernels import limit_kernel
from ..losses import loss_value
from ..models import MLP
from ..ntk import (
    cross_ntk,
    empirical_ntk,
    kernel_drift,
    lambda_max,
    min_eigenvalue,
    ntk_learning_rate,
)
from ..predict import gd_dynamics
from ..train import DivergenceError, train
from ..utils import check_choice, check_int, check_number, pick_device
from ..wrappers import linearize
from ._common import mean_flips as _mean_flips

__all__ = ["equivalence_run"]

_MEASURES = ("drift", "grad_factor", "feature_change", "one_minus_cos", "remainder",
             "objective_gap", "trajectory_gap_lin", "trajectory_gap_kernel", "flips",
             "lambda_min_ratio")


def _curve(K: torch.Tensor, y: torch.Tensor, u0: torch.Tensor, lr: float, steps) -> np.ndarray:
    """Closed-form GD loss curve with kernel K, or inf where discrete GD on K diverges."""
    try:
        return gd_dynamics(K, y, u0, lr=lr, steps=steps).loss.cpu().numpy()
    except ValueError:  # lr * lambda_max(K) > 2: the kernel model diverges
        return np.full(len(steps), np.inf)


def equivalence_run(width: int, depth: int = 3, lr_factor: float = 1.0, eps: float | None = 1e-5,
                    steps: int = 500, n: int = 16, d: int = 8, labels: str = "random",
                    activation: str = "relu", parameterization: str = "azls", seed: int = 0,
                    device: str = "cpu") -> dict:
    r"""Train an Allen-Zhu-Li-Song network and compare it with its NTK model at :math:`W^*`.

    Network ``MLP(d, width, depth, parameterization="azls", trainable="hidden")``: only the hidden
    matrices :math:`W_1..W_L` are trained, :math:`L` = ``depth - 1`` (Allen-Zhu et al.'s L).
    Data ``sphere_data(n, d, labels=labels)`` (unit norm, last coordinate :math:`1/\sqrt2`). GD on
    the sum loss with :math:`\eta = \text{lr\_factor}/\lambda_{\max}(H(W^{(0)}))`
    (:func:`ntklib.ntk_learning_rate`) until :math:`F \le \text{eps}\cdot F(W^{(0)})` or ``steps``
    updates (``eps=None``: always ``steps``).

    Per-sample measures (means over the n samples), with :math:`H` the empirical NTK and
    :math:`H^{\times}_{ii} = \langle g_i(W^*), g_i(W^{(0)})\rangle`:

    * ``grad_factor`` :math:`|\sqrt{H_{ii}(W^*)/H_{ii}(W^{(0)})} - 1|`;
    * ``feature_change`` :math:`\lVert g_i(W^*) - g_i(W^{(0)})\rVert/\lVert g_i(W^{(0)})\rVert`;
    * ``one_minus_cos`` :math:`1 - \cos(g_i(W^*), g_i(W^{(0)}))`.

    Returns:
        dict of floats: ``drift`` (:func:`ntklib.kernel_drift`), the three above,
        ``remainder`` :math:`\lVert u(W^*) - u_{lin}(W^*)\rVert / \lVert u(W^{(0)}) - y\rVert`,
        ``objective`` :math:`F(W^*)/F(W^{(0)})`, ``objective_ntk``
        :math:`F_{NTK}(W^*)/F(W^{(0)})`, ``objective_gap`` their distance,
        ``trajectory_gap_lin`` / ``trajectory_gap_kernel`` :math:`\max_t |F(W^{(t)}) -
        F_{model}(t)|/F(W^{(0)})` against the linearised network (empirical kernel) and kernel
        GD with the infinite-width kernel (NaN without one), ``flips`` (final sign-flip fraction),
        ``lambda_min_ratio`` :math:`\lambda_{\min}(H(W^*))/\lambda_{\min}(H(W^{(0)}))`,
        ``lr``, ``lr_lambda_max_limit`` (:math:`\eta\lambda_{\max}` of the infinite-width
        kernel), ``steps_run``, ``converged`` (bool), ``diverged`` (bool: ``DivergenceError``;
        every measure is then NaN); arrays ``step``, ``loss``, ``loss_lin``, ``loss_kernel``
        (losses at the logged steps, divided by :math:`F(W^{(0)})`).
    """
    check_int(width, "width", minimum=1)
    check_int(depth, "depth", minimum=2)
    lr_factor = check_number(lr_factor, "lr_factor", minimum=0.0, strict_min=True)
    if eps is not None:
        eps = check_number(eps, "eps", minimum=0.0, strict_min=True)
    check_choice(parameterization, "parameterization", ("azls", "ntk"))
    dev = pick_device(device)
    X, y, _ = sphere_data(n, d, labels=labels, seed=seed, device=dev)
    net = MLP(d, width, depth, parameterization=parameterization, trainable="hidden",
              activation=activation, seed=seed, device=dev)
    K0 = empirical_ntk(net, X)
    lr = ntk_learning_rate(net, X, lr_factor)
    F0 = loss_value(net, X, y)
    try:
        hist = train(net, X, y, lr=lr, steps=steps,
                     target_loss=None if eps is None else eps * F0)
    except DivergenceError as err:
        nan = float("nan")
        out = {k: nan for k in _MEASURES + ("objective", "objective_ntk", "lr_lambda_max_limit")}
        h = err.history
        out.update(step=h.step.copy(), loss=h.loss / F0, loss_lin=np.full(len(h.step), nan),
                   loss_kernel=np.full(len(h.step), nan), lr=float(lr),
                   steps_run=int(h.step[-1]) if len(h.step) else 0, converged=False,
                   diverged=True)
        return out
    net0 = hist.model0
    # per-sample feature inner products at W* and W0 (no (n, P) Jacobian is formed)
    KT, KX = empirical_ntk(net, X), cross_ntk(net, net0, X)
    k0, kt, kx = K0.diagonal(), KT.diagonal(), KX.diagonal()
    change2 = torch.clamp(kt - 2 * kx + k0, min=0.0) / k0
    # the NTK model at the same weights: f(W0) + <grad f(W0), W* - W0>
    lin = linearize(net0)
    with torch.no_grad():
        trained = dict(net.named_parameters())
        for name in lin.params:
            lin.params[name].copy_(trained[name.replace("__", ".")])
        u0, u, u_lin = net0(X)[:, 0], net(X)[:, 0], lin(X)[:, 0]
    F_net, F_ntk = 0.5 * float(((u - y) ** 2).sum()), 0.5 * float(((u_lin - y) ** 2).sum())
    steps_logged = [float(s) for s in hist.step]
    loss_lin = _curve(K0, y, u0, lr, steps_logged) / F0
    if net.spec.has_limit:
        K_inf = limit_kernel(net0, X)
        loss_kernel = _curve(K_inf, y, u0, lr, steps_logged) / F0
        lr_lam_inf = lr * lambda_max(K_inf)
    else:
        loss_kernel, lr_lam_inf = np.full(len(steps_logged), np.nan), float("nan")
    loss = hist.loss / F0
    return {
        "drift": kernel_drift(net0, net, X),
        "grad_factor": float((torch.sqrt(kt / k0) - 1).abs().mean()),
        "feature_change": float(torch.sqrt(change2).mean()),
        "one_minus_cos": float((1 - kx / torch.sqrt(kt * k0)).mean()),
        "remainder": float(torch.linalg.norm(u - u_lin) / torch.linalg.norm(u0 - y)),
        "objective": F_net / F0,
        "objective_ntk": F_ntk / F0,
        "objective_gap": abs(F_net - F_ntk) / F0,
        "trajectory_gap_lin": float(np.max(np.abs(loss - loss_lin))),
        "trajectory_gap_kernel": float(np.max(np.abs(loss - loss_kernel))),
        "flips": _mean_flips(net0, net, X),
        "lambda_min_ratio": min_eigenvalue(KT) / min_eigenvalue(K0),
        "lr": float(lr),
        "lr_lambda_max_limit": float(lr_lam_inf),
        "steps_run": int(hist.step[-1]),
        "converged": bool(hist.stopped == "target"),
        "diverged": False,
        "step": hist.step.copy(),
        "loss": loss,
        "loss_lin": loss_lin,
        "loss_kernel": loss_kernel,
    }
