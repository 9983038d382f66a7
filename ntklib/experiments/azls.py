r"""Allen-Zhu, Li, Song's convergence theorem (arXiv 1811.03962v5): runs of the theorem's network.

The network is ``MLP(d, width, depth, parameterization="azls", trainable="hidden")``:
:math:`h_0 = \mathrm{relu}(Ax)`, :math:`h_\ell = \mathrm{relu}(W_\ell h_{\ell-1})` for
:math:`\ell = 1..L`, :math:`f = B h_L`, with the paper's L = ``depth - 1`` hidden m x m matrices
trained and A, B frozen; unit inputs with last coordinate :math:`1/\sqrt2` (``sphere_data``, or
``near_duplicate_pair`` for a controlled separation :math:`\delta`); the sum loss. The step is
``lr_factor / lambda_max`` of the empirical NTK at initialisation
(:func:`ntklib.ntk_learning_rate`); the theorem's own step
:math:`\eta = \Theta(\delta/(n^4L^2m))` is :func:`ntklib.theory.azls_learning_rate` (the width
study with either step is :func:`ntklib.experiments.min_width_needed` with ``model="azls"``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..analysis import steps_to_reach
from ..data import digits, near_duplicate_pair, sphere_data
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, lambda_max, min_eigenvalue, ntk_learning_rate
from ..predict import gd_dynamics
from ..theory import azls_iterations, azls_learning_rate
from ..train import stable_learning_rate, train
from ..utils import check_choice, check_int, check_number, pick_device
from ._common import ints

__all__ = ["azls_run", "iterations_to_eps", "train_part", "azls_classification"]


def _data(n: int, d: int, delta, seed: int, device: str):
    if delta is None:
        return sphere_data(n, d, labels="random", seed=seed, device=device)
    return near_duplicate_pair(n, d, delta, labels="random", seed=seed, device=device)


def _net(d, width, depth, seed, device, trainable="hidden", d_out=1):
    return MLP(d, width, depth, d_out=d_out, parameterization="azls", trainable=trainable,
               seed=seed, device=device)


def azls_run(width: int, optimizer: str = "gd", *, n: int = 16, d: int = 10, depth: int = 3,
             steps: int = 250, batch_size: int = 8, lr_factor: float = 1.5,
             delta: float | None = None, seed: int = 0, log_every: int = 5,
             device: str = "cpu") -> dict:
    r"""GD or SGD on the theorem's network, beside its linearisation.

    Data: ``sphere_data(n, d, labels="random", seed)``, or with ``delta`` n - 2 random points and a
    pair at distance ``delta`` with opposite labels. Step
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}(K_0)` for both optimizers. GD runs ``steps``
    steps. SGD draws batches of ``batch_size`` samples (at least two batches per epoch: the batch
    is ``n // 2`` when ``n < 2 batch_size``) without replacement and runs ``steps`` epochs of
    ``n // batch`` steps; the batch loss is the sum over the batch, so one epoch moves about as
    far as one GD step.

    Returns:
        dict with ``epoch`` (GD steps or SGD epochs at the logged points), ``step`` (optimizer
        steps), ``loss`` (full-data F), ``linear_loss`` (GD on the linearised network, kernel
        :math:`K_0`, at the same epochs), ``envelope_loss``
        :math:`(1 - \eta\lambda_{\min}(K_0)/2)^{t} F(0)` (the per-step contraction of the proof
        with the measured :math:`\lambda_{\min}` in place of its lower bound), ``F0``, ``lr``,
        ``lambda_min``, ``lambda_max`` of :math:`K_0`, ``batch_size`` (the one used; 0 for GD),
        ``separation``.
    """
    check_choice(optimizer, "optimizer", ("gd", "sgd"))
    width, n, d, steps, log_every = ints(width=width, n=n, d=d, steps=steps,
                                         log_every=log_every).values()
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    depth = check_int(depth, "depth", minimum=2)
    dev = str(pick_device(device))
    X, y, sep = _data(n, d, delta, seed, dev)
    net = _net(d, width, depth, seed, dev)
    K0 = empirical_ntk(net, X)  # (n, n), of order width
    lam_min, lam_max = min_eigenvalue(K0), lambda_max(K0)
    lr = ntk_learning_rate(net, X, lr_factor)
    if optimizer == "gd":
        batch, per_epoch = 0, 1
        hist = train(net, X, y, lr=lr, steps=steps, log_every=log_every)
    else:
        batch = batch_size if n >= 2 * batch_size else max(1, n // 2)
        per_epoch = n // batch
        hist = train(net, X, y, lr=lr, steps=steps * per_epoch, optimizer="sgd",
                     batch_size=batch, log_every=log_every * per_epoch, seed=seed)
    epoch = hist.step / per_epoch
    with torch.no_grad():
        f0 = hist.model0(X)
    linear = gd_dynamics(K0, y, f0, lr=lr, steps=epoch.tolist()).loss.cpu().numpy()
    F0 = float(hist.loss[0])
    return {"epoch": epoch, "step": hist.step.copy(), "loss": hist.loss.copy(),
            "linear_loss": linear, "envelope_loss": (1 - lr * lam_min / 2) ** epoch * F0,
            "F0": F0, "lr": float(lr), "lambda_min": lam_min, "lambda_max": lam_max,
            "batch_size": batch, "separation": float(sep)}


def iterations_to_eps(n: int = 16, depth: int = 3, delta: float | None = None, *,
                      width: int = 128, eps: float = 1e-4, max_steps: int = 3000,
                      lr_factor: float = 1.0, d: int = 10, seed: int = 0,
                      device: str = "cpu") -> dict:
    r"""GD iterations to reach :math:`F \le \varepsilon F(0)`: the network, its linearisation and
    the theorem's count.

    Data as in :func:`azls_run`; step :math:`\eta = \text{lr\_factor}/\lambda_{\max}(K_0)`. The
    linearised network (``gd_dynamics`` with :math:`K_0`, from the same :math:`f_0`) is followed
    for up to ``4 * max_steps`` steps.

    Returns:
        dict with ``steps`` (the network's count, -1 if not reached within ``max_steps``),
        ``steps_linear`` (-1 if not reached), ``lambda_min``, ``lambda_max``, ``kappa`` of
        :math:`K_0`, ``lr``, ``separation`` (measured :math:`\delta`), ``lr_theorem``
        (:math:`\delta/(n^4L^2m)`, constant 1) and ``steps_theorem``
        (:math:`n^6L^2\delta^{-2}\log(1/\varepsilon)`, constant 1), with L = depth - 1.
    """
    n, d, width = ints(n=n, d=d, width=width).values()
    depth = check_int(depth, "depth", minimum=2)
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    if eps >= 1:
        raise ValueError(f"eps must be below 1, got {eps}: pass e.g. 1e-4")
    dev = str(pick_device(device))
    X, y, sep = _data(n, d, delta, seed, dev)
    net = _net(d, width, depth, seed, dev)
    K0 = empirical_ntk(net, X)
    lam_min, lam_max = min_eigenvalue(K0), lambda_max(K0)
    lr = ntk_learning_rate(net, X, lr_factor)
    F0 = loss_value(net, X, y)
    hist = train(net, X, y, lr=lr, steps=max_steps, target_loss=eps * F0, log_every=1)
    with torch.no_grad():
        f0 = hist.model0(X)
    linear = gd_dynamics(K0, y, f0, lr=lr, steps=4 * max_steps).loss.cpu().numpy()
    t_net = steps_to_reach(hist.loss, eps * F0, hist.step)
    t_lin = steps_to_reach(linear, eps * F0)
    L = depth - 1
    return {"steps": -1 if t_net is None else t_net, "steps_linear": -1 if t_lin is None else t_lin,
            "lambda_min": lam_min, "lambda_max": lam_max, "kappa": lam_max / lam_min,
            "lr": float(lr), "separation": float(sep),
            "lr_theorem": azls_learning_rate(n, L, min(float(sep), 2.0), width),
            "steps_theorem": azls_iterations(n, L, min(float(sep), 2.0), eps)}


def train_part(width: int, trainable: str, *, n: int = 16, d: int = 10, depth: int = 2,
               steps: int = 600, lr_factor: float = 1.5, data_seed: int = 1, seed: int = 0,
               device: str = "cpu") -> dict:
    r"""Train one part of the network (``"last"`` = B only, ``"hidden"`` = the theorem's
    :math:`W_1..W_L`, ``"all"``) with GD and compare with the convex last-layer problem.

    Same data (``sphere_data(n, d, labels="random", seed=data_seed)``) and initial network for
    every ``trainable``; step :math:`\text{lr\_factor}/\lambda_{\max}` of the empirical NTK of the
    trained part (for ``"last"`` it is :math:`\Phi\Phi^\top`, with :math:`\Phi` the initial
    last-hidden-layer features); early stop at :math:`F \le 10^{-8}`.

    Returns:
        dict with ``loss`` (final F), ``F0``, ``rel_move`` (relative Frobenius movement of B for
        ``"last"``, of :math:`W_1` otherwise), ``ls_optimum``
        :math:`\min_B \tfrac12\lVert \Phi B^\top - y\rVert^2` (least squares on the frozen
        features: the optimum of the convex last-layer problem), ``rank`` (numerical rank of
        :math:`\Phi`), ``linear_loss_end`` (the final F predicted by GD on the linearised
        model, exact for ``"last"``) and ``params`` (trained parameters).
    """
    check_choice(trainable, "trainable", ("last", "hidden", "all"))
    width, n, d, steps = ints(width=width, n=n, d=d, steps=steps).values()
    depth = check_int(depth, "depth", minimum=2)
    dev = str(pick_device(device))
    X, y, _ = sphere_data(n, d, labels="random", seed=data_seed, device=dev)
    model = _net(d, width, depth, seed, dev, trainable=trainable)
    K0 = empirical_ntk(model, X)
    lr = ntk_learning_rate(model, X, lr_factor)
    hist = train(model, X, y, lr=lr, steps=steps, diagnostics=("distance",), log_every=50,
                 target_loss=1e-8)
    name = "B" if trainable == "last" else "W1"
    w0 = hist.model0.weight_layers()[name].weight
    with torch.no_grad():
        phi = hist.model0.features(X).hidden[-1]  # (n, m) initial features of the last layer
        f0 = hist.model0(X)
    yv = y.reshape(-1, 1).to(phi.dtype)
    coef = torch.linalg.lstsq(phi.cpu(), yv.cpu(), driver="gelsd").solution  # best B^T
    ls = 0.5 * float((phi.cpu() @ coef - yv.cpu()).square().sum())
    lin = gd_dynamics(K0, y, f0, lr=lr, steps=[int(hist.step[-1])]).loss
    return {"loss": float(hist.loss[-1]), "F0": float(hist.loss[0]),
            "rel_move": float(hist.distance[name][-1] / torch.linalg.norm(w0.detach())),
            "ls_optimum": ls, "rank": int(torch.linalg.matrix_rank(phi.cpu())),
            "linear_loss_end": float(lin[-1]),
            "params": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def azls_classification(n: int = 100, width: int = 256, depth: int = 3, *, steps: int = 300,
                        lr_factor: float = 1.5, seed: int = 0, log_every: int = 5,
                        device: str = "cpu") -> dict:
    r"""Cross-entropy training of the theorem's network (10 outputs, hidden layers trained) on
    ``n`` of scikit-learn's 8 x 8 digits (``nl.digits``, unit-norm images).

    Step: ``lr_factor`` times half the stability limit of the linearised model for the mean
    cross-entropy, ``0.5 * stable_learning_rate(model, X, "cross_entropy")`` (the loss has
    curvature at most 1/(2n) in the logits, so this is :math:`\text{lr\_factor}\cdot
    2n/\lambda_{\max}(K_0)`, with :math:`K_0` the empirical NTK of all 10 outputs).

    Returns:
        dict with ``step``, ``loss``, ``accuracy`` (logged curves), ``first_perfect`` (first
        logged step with 100% training accuracy, -1 if none) and ``lr``.
    """
    n, width, steps, log_every = ints(n=n, width=width, steps=steps,
                                      log_every=log_every).values()
    depth = check_int(depth, "depth", minimum=2)
    lr_factor = check_number(lr_factor, "lr_factor", minimum=0.0, strict_min=True)
    dev = str(pick_device(device))
    X, y, _ = digits(n=n, seed=seed, device=dev)
    model = _net(X.shape[1], width, depth, seed, dev, d_out=10)
    lr = lr_factor * 0.5 * stable_learning_rate(model, X, "cross_entropy")
    hist = train(model, X, y, lr=lr, steps=steps, loss="cross_entropy", log_every=log_every)
    perfect = np.flatnonzero(hist.accuracy >= 1.0)
    return {"step": hist.step.copy(), "loss": hist.loss.copy(), "accuracy": hist.accuracy.copy(),
            "first_perfect": int(hist.step[perfect[0]]) if perfect.size else -1, "lr": float(lr)}
