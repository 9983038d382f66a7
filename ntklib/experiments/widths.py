r"""How wide is wide enough: the smallest width that fits, and Nguyen's one wide layer
(see ``practical.py`` for conventions)."""

from __future__ import annotations

import math

import torch

from ..data import sphere_data
from ..losses import loss_value
from ..models import MLP, OneWideLayerNet, TwoLayerNet
from ..train import DivergenceError, stable_learning_rate, train
from ..utils import check_choice, check_int, check_number
from ._common import ints

__all__ = ["reaches_target", "min_width_needed", "one_wide_layer_run"]


def reaches_target(model: str, n: int, width: int, *, d: int = 8, depth: int = 2,
                   eps: float = 1e-2, steps: int = 400, lr_factor: float = 1.0,
                   seed: int = 0, device: str = "cpu") -> dict:
    r"""Does GD bring the loss below ``eps * F(0)`` within ``steps`` steps at this width?

    ``model``: ``"two_layer"`` (Du et al.'s :class:`~ntklib.models.TwoLayerNet`, first layer
    trained), ``"mlp"`` (``MLP(..., parameterization="ntk", trainable="all")``, ReLU, ``depth``
    hidden activation layers) or ``"azls"`` (Allen-Zhu, Li, Song's net ``MLP(...,
    parameterization="azls", trainable="hidden")``, their L = ``depth - 1``). Data:
    ``sphere_data(n, d, labels="random", last_coord=False, seed)``. Loss ``"mse_sum"``; step
    ``lr = lr_factor / lambda_max`` of the empirical NTK at initialisation (half the linear
    stability limit 2/lambda_max when ``lr_factor = 1``). A network that is dead at
    initialisation (every ReLU of a layer off, which happens at widths of a few units) or
    diverges counts as a failure.

    Returns:
        dict with ``ok`` (bool), ``ratio`` (final loss / initial loss), ``steps`` (steps run).
    """
    check_choice(model, "model", ("two_layer", "mlp", "azls"))
    n, width, d = ints(n=n, width=width, d=d).values()
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed, device=device)
    if model == "two_layer":
        net = TwoLayerNet(d, width, seed=seed, device=device)
    else:
        ntk = model == "mlp"
        net = MLP(d, width, depth, parameterization="ntk" if ntk else "azls",
                  trainable="all" if ntk else "hidden", seed=seed, device=device)
    try:
        lr = lr_factor * 0.5 * stable_learning_rate(net, X, "mse_sum", iters=20)
    except ValueError:  # the NTK is zero: a dead network at initialisation
        return {"ok": False, "ratio": float("inf"), "steps": 0}
    f0 = loss_value(net, X, y)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=eps * f0, progress=False)
    except DivergenceError:
        return {"ok": False, "ratio": float("inf"), "steps": steps}
    ratio = float(h.loss[-1] / f0)
    return {"ok": bool(ratio <= eps), "ratio": ratio, "steps": int(h.step[-1])}


def min_width_needed(model: str, n: int, *, d: int = 8, depth: int = 2, eps: float = 1e-2,
                     steps: int = 400, lr_factor: float = 1.0, seed: int = 0,
                     max_width: int = 4096, device: str = "cpu") -> dict:
    r"""Smallest width (on the grid :math:`\lceil 2^{k/2}\rceil`) at which :func:`reaches_target`
    succeeds, scanning upwards from 1 (the first success is returned; later widths are not tried).

    Returns:
        dict with ``width`` (NaN if none up to ``max_width``), ``tried`` (widths) and
        ``ratios`` (final/initial loss of each try), as lists.
    """
    max_width = check_int(max_width, "max_width", minimum=1)
    tried, ratios = [], []
    k = 0
    while True:
        w = math.ceil(2 ** (k / 2))
        k += 1
        if tried and w == tried[-1]:
            continue
        if w > max_width:
            return {"width": float("nan"), "tried": tried, "ratios": ratios}
        r = reaches_target(model, n, w, d=d, depth=depth, eps=eps, steps=steps,
                           lr_factor=lr_factor, seed=seed, device=device)
        tried.append(w)
        ratios.append(r["ratio"])
        if r["ok"]:
            return {"width": float(w), "tried": tried, "ratios": ratios}


def one_wide_layer_run(N: int, wide_width: int, *, d: int = 8, width: int = 16, depth: int = 3,
                       wide_layer: int | None = None, steps: int = 400, eps: float = 1e-3,
                       seed: int = 0, device: str = "cpu") -> dict:
    r"""One run of the one-wide-layer experiment (Nguyen 2021; Nguyen-Mondelli-Montufar 2021).

    Builds :class:`~ntklib.models.OneWideLayerNet` (ReLU, standard/He init, all layers trained,
    narrow layers of ``width``, one layer of ``wide_width``) on ``N`` random unit-norm points with
    random +-1 labels, measures the singular values of the wide layer's feature matrix
    :math:`F_k = [f_k(x_1), \dots, f_k(x_N)]^\top` (shape ``(N, wide_width)``) at initialisation,
    then trains by GD (loss ``"mse_sum"``, step ``1/lambda_max`` of the empirical NTK) until the
    loss is below ``eps * F(0)`` or ``steps`` steps have run.

    Returns:
        dict with ``sigma_min`` (the N-th singular value of F_k, exactly 0 when
        ``wide_width < N``), ``sigma_max``, ``rank`` (numerical rank of F_k), ``ok`` (target
        reached), ``ratio`` (final / initial loss), ``steps`` (steps run) and ``floor``: the
        smallest loss the output layer alone can reach on these frozen features,
        :math:`\min_B \lVert F_k B - y\rVert^2 / \lVert y\rVert^2` (least squares; 0 iff y lies in
        the column space of F_k, which for generic y needs rank F_k = N).
    """
    N, wide_width = ints(N=N, wide_width=wide_width).values()
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    X, y, _ = sphere_data(N, d, labels="random", last_coord=False, seed=seed, device=device)
    net = OneWideLayerNet(d, width, depth, wide_width=wide_width, wide_layer=wide_layer,
                          seed=seed, device=device)
    with torch.no_grad():
        F_k = net.features(X).hidden[net.wide_layer - 1]  # (N, wide_width)
        sv = torch.linalg.svdvals(F_k)
    padded = torch.zeros(N, dtype=sv.dtype, device=sv.device)
    padded[: sv.numel()] = sv[:N]
    tol = float(sv[0]) * max(F_k.shape) * torch.finfo(sv.dtype).eps
    yv = y.reshape(-1, 1).to(F_k.dtype)
    # best output layer B^T by least squares, on the CPU: the SVD-based driver (rank-deficient F_k
    # for wide_width < N) is not available for CUDA tensors
    F_cpu, y_cpu = F_k.cpu(), yv.cpu()
    coef = torch.linalg.lstsq(F_cpu, y_cpu, driver="gelsd").solution
    floor = float((F_cpu @ coef - y_cpu).square().sum() / y_cpu.square().sum())
    f0 = loss_value(net, X, y)
    lr = 0.5 * stable_learning_rate(net, X, "mse_sum", iters=20)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=eps * f0, progress=False)
        ratio, ran = float(h.loss[-1] / f0), int(h.step[-1])
    except DivergenceError:
        ratio, ran = float("inf"), steps
    return {"sigma_min": float(padded[N - 1]), "sigma_max": float(sv[0]),
            "rank": int((sv > tol).sum()), "floor": floor, "ok": bool(ratio <= eps),
            "ratio": ratio,
            "steps": ran}
