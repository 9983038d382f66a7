r"""Noy et al.'s practical over-parameterization: the fixed-pattern surrogate and the time to fit.

Conventions (all experiment modules): plain numbers in, dicts of floats / numpy arrays out (so
:func:`ntklib.sweep` can cache them); float64 on the CPU; sum loss
:math:`F = \sum_i \tfrac12 (f(x_i) - y_i)^2` unless said otherwise; step sizes given as
``lr_factor`` in units of :math:`1/\lambda_{\max}` of the empirical NTK at initialisation
(:func:`ntklib.ntk_learning_rate`; GD on the linearised model is stable for ``lr_factor < 2``);
``depth`` = number of hidden activation layers (Allen-Zhu et al.'s L = ``depth - 1``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import sphere_data
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, lambda_max
from ..train import train
from ..utils import check_choice, check_int, check_positive
from ..wrappers import FixedPatternNet
from ._common import mean_flips as _mean_flips
from ._common import param_vector as _param_vector

__all__ = ["surrogate_vs_relu", "fit_run"]


def surrogate_vs_relu(n: int = 16, d: int = 8, width: int = 256, depth: int = 3, steps: int = 200,
                      lr_factor: float = 0.5, seed: int = 0, device: str = "cpu") -> dict:
    r"""Train an Allen-Zhu-Li-Song ReLU MLP and its fixed-pattern surrogate from the same init.

    Network: ``MLP(d, width, depth, parameterization="azls", trainable="hidden")`` (only
    :math:`W_1..W_L` trained), data ``sphere_data(n, d, labels="random")``, GD on the sum loss with
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}(\hat\Theta_0)` for both models (at
    :math:`\theta_0` the two NTKs coincide). The surrogate is ``FixedPatternNet.from_net(net)``:
    :math:`\tilde f(x) = B D_L^{(0)}(x) W_L \cdots D_0^{(0)}(x) A x` with gates frozen at init.

    Args:
        n, d: number and dimension of the inputs. width, depth: m and the number of hidden
            activation layers of the MLP (Allen-Zhu et al.'s L = ``depth - 1``).
        steps: GD steps. lr_factor: step size in units of :math:`1/\lambda_{\max}`. seed: data
            and weights. device: where the networks and the data live.

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
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed,
              device=device)
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
            steps: int = 400, lr_factor: float = 1.0, d: int = 16, seed: int = 0,
            device: str = "cpu") -> dict:
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
        ``lr``, ``lambda_max``, ``lambda_min`` of :math:`\hat\Theta_0`, ``seconds``,
        ``separation`` (the smallest distance between two inputs, Allen-Zhu et al.'s delta).
    """
    for name, v in (("n", n), ("width", width), ("steps", steps), ("d", d)):
        check_int(v, name, minimum=1)
    check_int(depth, "depth", minimum=1)
    check_choice(kind, "kind", ("relu", "surrogate"))
    check_positive(eps, "eps")
    check_positive(lr_factor, "lr_factor")
    X, y, sep = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed,
              device=device)
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
        "separation": float(sep),
    }


