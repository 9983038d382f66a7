r"""Over-parameterized networks fit anything: random labels, laziness, the straight path.

The protocols of the tour and of the chapter on fitting random labels, all on Allen-Zhu, Li,
Song's network ``MLP(d, width, depth, parameterization="azls", trainable="hidden")`` (A and B
frozen; their L = ``depth - 1`` hidden m x m matrices trained), unit inputs with last coordinate
1/sqrt(2) (``sphere_data``), GD on the sum loss :math:`F = \sum_i \frac12 (f(x_i) - y_i)^2` with
step ``lr_factor / lambda_max`` of the empirical NTK at initialisation
(:func:`ntklib.ntk_learning_rate`). Conventions as in ``practical.py``; every function takes a
``device`` string and returns numpy arrays and floats.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..analysis import steps_to_reach
from ..data import sphere_data
from ..diagnostics import interpolation_path
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, ntk_learning_rate
from ..predict import gd_dynamics, label_complexity
from ..train import DivergenceError, train
from ..utils import check_choice, check_int, check_number, pick_device
from ._common import ints, numpy_of

__all__ = ["tour_run", "fit_random_labels", "path_and_parabola", "permutation_midpoint",
           "sum_vs_mean"]


def _azls_net(d: int, width: int, depth: int, seed: int, device: str) -> MLP:
    return MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed,
               device=device)


def _setup(n, d, width, depth, seed, device, labels="random", data_seed=None):
    n, d, width = ints(n=n, d=d, width=width).values()
    depth = check_int(depth, "depth", minimum=2)
    dev = str(pick_device(device))
    X, y, sep = sphere_data(n, d, labels=labels, seed=seed if data_seed is None else data_seed,
                            device=dev)
    return X, y, sep, _azls_net(d, width, depth, seed, dev)


def tour_run(width: int = 256, depth: int = 4, *, n: int = 16, d: int = 10,
             target: float = 1e-7, max_steps: int = 5000, lr_factor: float = 1.0, seed: int = 0,
             device: str = "cpu") -> dict:
    r"""Train the Allen-Zhu-Li-Song net on random labels to ``F <= target`` and measure laziness.

    Data ``sphere_data(n, d, labels="random", seed)``; GD with
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}(K_0)` until the loss is below ``target`` or
    ``max_steps`` steps have run.

    Returns:
        dict with ``width``, ``depth``, ``L`` (= depth - 1), ``lr``, ``step`` and ``loss``
        (logged every step), ``stopped`` (``"target"`` or ``"steps"``), ``moved``
        ``{layer: ||W_l - W_l(0)||_F / ||W_l(0)||_F}`` for the trained layers, ``movement``
        :math:`\|\theta_T - \theta_0\|` (all trained layers), ``lazy_movement``
        :math:`\sqrt{r_0^\top K_0^{-1} r_0}` (the distance the linearised model travels,
        :math:`r_0 = f_0(X) - y`), ``eig0`` and ``eigT`` (smallest, largest eigenvalue of the
        empirical NTK at initialisation and at the end).
    """
    target = check_number(target, "target", minimum=0.0, strict_min=True)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    X, y, _, net = _setup(n, d, width, depth, seed, device)
    K0 = empirical_ntk(net, X)  # (n, n), of order width
    lr = ntk_learning_rate(net, X, lr_factor)
    hist = train(net, X, y, lr=lr, steps=max_steps, target_loss=target)
    layers0 = hist.model0.weight_layers()
    moved, total_sq = {}, 0.0
    for name, layer in net.weight_layers().items():
        if layer.weight.requires_grad:  # W_1..W_L; A and B are frozen
            w0 = layers0[name].weight.detach()
            dist = float(torch.linalg.norm(layer.weight.detach() - w0))
            moved[name] = dist / float(torch.linalg.norm(w0))
            total_sq += dist**2
    with torch.no_grad():
        r0 = (hist.model0(X) - y.reshape(-1, 1)).reshape(-1)  # residual at init, (n,)
    eig0 = torch.linalg.eigvalsh(K0)
    eigT = torch.linalg.eigvalsh(empirical_ntk(net, X))
    return {
        "width": int(width), "depth": int(depth), "L": int(depth) - 1, "lr": float(lr),
        "step": hist.step.copy(), "loss": hist.loss.copy(), "stopped": hist.stopped,
        "moved": moved, "movement": math.sqrt(total_sq),
        "lazy_movement": math.sqrt(label_complexity(K0, r0)),
        "eig0": (float(eig0[0]), float(eig0[-1])), "eigT": (float(eigT[0]), float(eigT[-1])),
    }


def fit_random_labels(width: int, seed: int = 0, *, depth: int = 3, n: int = 16, d: int = 8,
                      labels: str = "random", data_seed: int = 0, steps: int = 500,
                      lr_factor: float = 1.5, target: float = 1e-3, log_every: int = 10,
                      device: str = "cpu") -> dict:
    r"""One GD run on random (or other) labels: does it reach ``F <= target`` within ``steps``?

    Data ``sphere_data(n, d, labels=labels, seed=data_seed)`` (the same points for every network
    seed), network seed ``seed``, step :math:`\text{lr\_factor}/\lambda_{\max}(K_0)`.
    A network whose NTK is zero at initialisation (every ReLU path dead, possible at tiny widths)
    cannot be trained (``status="dead"``); one that blows up raises
    :class:`~ntklib.DivergenceError` inside and is reported as ``status="diverged"``.

    Returns:
        dict with ``status`` (``"fit"``, ``"stalled"``, ``"dead"`` or ``"diverged"``),
        ``reached`` (bool), ``F0``, ``final_loss`` (NaN unless trained), ``steps_run``,
        ``step``/``loss`` (logged curve, empty unless trained), ``lr``, ``kappa``
        (:math:`\lambda_{\max}/\lambda_{\min}` of :math:`K_0`), ``lambda_min`` of :math:`K_0`,
        ``steps_linear`` (steps the linearised network, GD with the same step on :math:`K_0`,
        needs to reach ``target``; -1 if not within ``steps``), ``envelope_loss``
        :math:`(1 - \eta\lambda_{\min}(K_0)/2)^t F(0)` at the logged steps (the per-step
        contraction of the convergence proofs, with the measured :math:`\lambda_{\min}`) and
        ``params`` (number of trained parameters).
    """
    check_choice(labels, "labels", ("random", "gaussian", "teacher", "permuted"))
    steps = check_int(steps, "steps", minimum=1)
    target = check_number(target, "target", minimum=0.0, strict_min=True)
    X, y, _, net = _setup(n, d, width, depth, seed, device, labels, data_seed)
    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    F0 = loss_value(net, X, y)
    K0 = empirical_ntk(net, X)
    eig = torch.linalg.eigvalsh(0.5 * (K0 + K0.T))
    out = {"status": "dead", "reached": False, "F0": F0, "final_loss": float("nan"),
           "steps_run": 0, "step": np.zeros(0, dtype=np.int64), "loss": np.zeros(0),
           "lr": float("nan"), "kappa": float("inf"), "lambda_min": float(eig[0]),
           "steps_linear": -1, "envelope_loss": np.zeros(0), "params": params}
    if not float(eig[-1]) > 0:
        return out
    lr = ntk_learning_rate(net, X, lr_factor)
    with torch.no_grad():
        f0 = net(X)
    lin = gd_dynamics(K0, y, f0, lr=lr, steps=steps).loss.cpu().numpy()
    t_lin = steps_to_reach(lin, target)
    out.update(lr=float(lr), kappa=float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf"),
               steps_linear=-1 if t_lin is None else int(t_lin))
    try:
        hist = train(net, X, y, lr=lr, steps=steps, target_loss=target, log_every=log_every,
                     seed=seed)
    except DivergenceError as err:
        h = err.history
        out.update(status="diverged", steps_run=int(h.step[-1]) if len(h.step) else 0)
        return out
    reached = hist.stopped == "target"
    rate = max(0.0, 1.0 - lr * float(eig[0]) / 2)
    out.update(status="fit" if reached else "stalled", reached=bool(reached),
               final_loss=float(hist.loss[-1]), steps_run=int(hist.step[-1]),
               step=hist.step.copy(), loss=hist.loss.copy(),
               envelope_loss=rate ** hist.step.astype(np.float64) * F0)
    return out


def path_and_parabola(width: int, seed: int = 0, *, depth: int = 3, n: int = 16, d: int = 8,
                      data_seed: int = 0, steps: int = 500, lr_factor: float = 1.5,
                      target: float = 1e-3, points: int = 21, log_every: int = 5,
                      device: str = "cpu") -> dict:
    r"""Train as :func:`fit_random_labels`, then evaluate F on the straight line
    :math:`\theta(s) = (1-s)\theta_0 + s\theta_T` (Goodfellow, Vinyals, Saxe).

    The lazy (linearised) prediction is the parabola
    :math:`F(\theta(s)) \approx \tfrac12 (1-s)^2 \lVert f_0 - y\rVert^2 = (1-s)^2 F(0)`
    when :math:`f_T \approx y` (:func:`ntklib.interpolation_path`).

    Returns:
        dict with ``s``, ``path`` (F on the line), ``parabola`` (:math:`(1-s)^2 F(0)`),
        ``deviation`` :math:`\max_s |F(\theta(s)) - (1-s)^2F(0)| / F(0)`, ``final_loss``,
        ``F0``, ``step``/``loss`` (the training curve) and ``width``.
    """
    steps = check_int(steps, "steps", minimum=1)
    target = check_number(target, "target", minimum=0.0, strict_min=True)
    X, y, _, net = _setup(n, d, width, depth, seed, device, data_seed=data_seed)
    lr = ntk_learning_rate(net, X, lr_factor)
    hist = train(net, X, y, lr=lr, steps=steps, target_loss=target, log_every=log_every,
                 seed=seed)
    s, path = interpolation_path(hist.model0, net, X, y, points=points)
    F0 = float(hist.loss[0])
    parabola = (1.0 - s) ** 2 * F0  # 1/2 (1 - s)^2 ||f_0 - y||^2
    return {"s": s, "path": path, "parabola": parabola,
            "deviation": float(np.max(np.abs(path - parabola)) / F0),
            "final_loss": float(hist.loss[-1]), "F0": F0, "step": hist.step.copy(),
            "loss": hist.loss.copy(), "width": int(width)}


def permutation_midpoint(width: int, *, depth: int = 3, n: int = 16, d: int = 8, seed: int = 0,
                         perm_seed: int = 1, steps: int = 500, lr_factor: float = 1.5,
                         target: float = 1e-3, device: str = "cpu") -> dict:
    r"""The loss at a trained :math:`W^*`, at its permuted copy :math:`\pi(W^*)` and at their
    midpoint, for :math:`\pi(W) = (P W_1, W_2 P^\top)` (a hidden-unit permutation of layer 1).

    Trains as :func:`fit_random_labels` (needs ``depth >= 3``, i.e. L >= 2 trained matrices), then
    evaluates the sum loss at the three points. The permutation leaves the network function
    unchanged, so :math:`F(\pi(W^*)) = F(W^*)` up to rounding.

    Returns:
        dict with ``F_star``, ``F_perm``, ``F_mid``, ``F0`` (loss at initialisation) and
        ``half_y_sq`` :math:`\tfrac12\lVert y\rVert^2` (the loss of the zero function).
    """
    depth = check_int(depth, "depth", minimum=3)
    perm_seed = check_int(perm_seed, "perm_seed", minimum=0)
    steps = check_int(steps, "steps", minimum=1)
    X, y, _, net = _setup(n, d, width, depth, seed, device)
    lr = ntk_learning_rate(net, X, lr_factor)
    hist = train(net, X, y, lr=lr, steps=steps, target_loss=target, seed=seed)
    perm = torch.randperm(int(width), generator=torch.Generator().manual_seed(perm_seed))
    perm = perm.to(X.device)

    def loss_at(scale_perm: float) -> float:
        # hidden weights (1 - t) W + t pi(W): t = 0 is W*, t = 1 is pi(W*), t = 1/2 the midpoint
        probe = copy.deepcopy(net)
        layers = probe.weight_layers()
        W1, W2 = layers["W1"].weight, layers["W2"].weight  # (m, m) each
        with torch.no_grad():
            W1.copy_((1 - scale_perm) * W1 + scale_perm * W1[perm])
            W2.copy_((1 - scale_perm) * W2 + scale_perm * W2[:, perm])
        return loss_value(probe, X, y)

    return {"F_star": loss_at(0.0), "F_perm": loss_at(1.0), "F_mid": loss_at(0.5),
            "F0": float(hist.loss[0]), "half_y_sq": 0.5 * float((y * y).sum())}


def sum_vs_mean(width: int = 64, depth: int = 3, *, n: int = 16, d: int = 10, steps: int = 20,
                lr_factor: float = 1.0, lr: float | None = None, parameterization: str = "azls",
                seed: int = 1, data_seed: int | None = None, device: str = "cpu") -> dict:
    r"""The loss-normalisation convention: GD on the sum loss F with step :math:`\eta` and on the
    mean loss F/n with step :math:`n\eta`, from the same initialisation: the iterates, hence the
    curves (up to the factor n) and the trained networks, coincide.

    The network is ``MLP(d, width, depth, parameterization=...)`` with Allen-Zhu et al.'s trained
    layers for ``"azls"`` and all layers otherwise; :math:`\eta` = ``lr`` if given, else
    ``lr_factor / lambda_max`` of the empirical NTK (:func:`ntklib.ntk_learning_rate`).

    Returns:
        dict with ``loss_sum`` (F along the first run), ``loss_mean`` (F/n along the second) and
        ``loss_mean_times_n``, each ``(steps + 1,)``; ``output_gap`` (largest difference of the
        two trained networks' outputs); the two step sizes ``lr_sum``, ``lr_mean``.
    """
    steps = check_int(steps, "steps", minimum=1)
    n, d, width = ints(n=n, d=d, width=width).values()
    check_choice(parameterization, "parameterization", ("azls", "ntk", "standard"))
    dev = str(pick_device(device))
    X, y, _ = sphere_data(n, d, labels="random", seed=seed if data_seed is None else data_seed,
                          device=dev)
    trainable = "hidden" if parameterization == "azls" else "all"
    net = MLP(d, width, depth, parameterization=parameterization, trainable=trainable,
              seed=seed, device=dev)
    net_mean = copy.deepcopy(net)
    lr = ntk_learning_rate(net, X, lr_factor) if lr is None else check_number(
        lr, "lr", minimum=0.0, strict_min=True)
    h_sum = train(net, X, y, lr=lr, steps=steps, loss="mse_sum")
    h_mean = train(net_mean, X, y, lr=n * lr, steps=steps, loss="mse_mean")
    with torch.no_grad():
        gap = float((net(X) - net_mean(X)).abs().max())
    return {"loss_sum": numpy_of(h_sum.loss), "loss_mean": numpy_of(h_mean.loss),
            "loss_mean_times_n": numpy_of(h_mean.loss) * n, "output_gap": gap,
            "lr_sum": float(lr), "lr_mean": float(n * lr)}
