r"""How wide is wide enough: the smallest width that fits, and Nguyen's one wide layer
(see ``practical.py`` for conventions)."""

from __future__ import annotations

import math

import torch

from ..data import near_duplicate_pair, sphere_data
from ..losses import loss_value
from ..models import MLP, OneWideLayerNet, TwoLayerNet
from ..ntk import ntk_learning_rate
from ..theory import azls_learning_rate
from ..train import DivergenceError, stable_learning_rate, train
from ..utils import check_choice, check_int, check_number, pick_device
from ._common import ints

__all__ = ["reaches_target", "min_width_needed", "width_grid", "one_wide_layer_run"]

LR_RULES = ("hessian", "ntk", "theorem")


def _step_size(net, X, n: int, width: int, sep: float, lr_rule: str, lr_factor: float) -> float:
    """The step of ``lr_rule`` (see :func:`reaches_target`); ValueError on a dead network."""
    if lr_rule == "hessian":
        return lr_factor * 0.5 * stable_learning_rate(net, X, "mse_sum", iters=20)
    if lr_rule == "ntk":
        return ntk_learning_rate(net, X, lr_factor)
    return lr_factor * azls_learning_rate(n, net.L, min(sep, 2.0), width)


def reaches_target(model: str, n: int, width: int, *, d: int = 8, depth: int = 2,
                   eps: float = 1e-2, steps: int = 400, lr_factor: float = 1.0, seed: int = 0,
                   device: str = "cpu", lr_rule: str = "hessian", delta: float | None = None,
                   last_coord: bool = False) -> dict:
    r"""Does GD bring the loss below ``eps * F(0)`` within ``steps`` steps at this width?

    ``model``: ``"two_layer"`` (Du et al.'s :class:`~ntklib.models.TwoLayerNet`, first layer
    trained), ``"mlp"`` (``MLP(..., parameterization="ntk", trainable="all")``, ReLU, ``depth``
    hidden layers) or ``"azls"`` (Allen-Zhu, Li, Song's net ``MLP(..., parameterization="azls",
    trainable="hidden")``: A and B frozen, their L = ``depth - 1`` hidden matrices trained). Data:
    ``sphere_data(n, d, labels="random", last_coord=last_coord, seed)`` (``last_coord=True`` is
    the paper's last coordinate 1/sqrt(2)); with ``delta``, n - 2 random points plus a pair at
    distance ``delta`` with opposite labels (``near_duplicate_pair``). Loss ``"mse_sum"``. Step
    size (``lr_rule``):

    * ``"hessian"``: ``lr_factor / lambda_max`` of the loss Hessian at initialisation by power
      iteration (half the stability limit ``stable_learning_rate`` when ``lr_factor = 1``);
    * ``"ntk"``: ``lr_factor / lambda_max`` of the empirical NTK at initialisation
      (:func:`ntklib.ntk_learning_rate`, the protocol of the chapters);
    * ``"theorem"`` (``"azls"`` only): ``lr_factor`` times Allen-Zhu, Li, Song's
      :math:`\eta = \delta/(n^4 L^2 m)` (:func:`ntklib.theory.azls_learning_rate`, constant 1)
      with :math:`\delta` the data's measured separation and L = ``depth - 1``.

    A network without any gradient at initialisation (all ReLUs of a layer dead, possible at
    widths of a few units; ``steps`` is then 0) or one that diverges counts as a failure.

    Returns:
        dict with ``ok`` (bool), ``ratio`` (final loss / initial loss), ``steps`` (steps run),
        ``lr`` (NaN for a dead network) and ``separation`` (min distance of the inputs).
    """
    check_choice(model, "model", ("two_layer", "mlp", "azls"))
    check_choice(lr_rule, "lr_rule", LR_RULES)
    n, width, d = ints(n=n, width=width, d=d).values()
    steps = check_int(steps, "steps", minimum=1)
    depth = check_int(depth, "depth", minimum=2 if model == "azls" else 1)
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    lr_factor = check_number(lr_factor, "lr_factor", minimum=0.0, strict_min=True)
    if lr_rule == "theorem" and model != "azls":
        raise ValueError("lr_rule='theorem' is Allen-Zhu, Li, Song's step: pass model='azls' "
                         "or lr_rule='ntk'")
    if not isinstance(last_coord, bool):
        raise TypeError(f"last_coord must be True or False, got {last_coord!r}")
    dev = str(pick_device(device))
    if delta is None:
        X, y, sep = sphere_data(n, d, labels="random", last_coord=last_coord, seed=seed,
                                device=dev)
    else:
        X, y, sep = near_duplicate_pair(n, d, delta, labels="random", last_coord=last_coord,
                                        seed=seed, device=dev)
    if model == "two_layer":
        net = TwoLayerNet(d, width, seed=seed, device=dev)
    else:
        ntk = model == "mlp"
        net = MLP(d, width, depth, parameterization="ntk" if ntk else "azls",
                  trainable="all" if ntk else "hidden", seed=seed, device=dev)
    fail = {"ok": False, "ratio": float("inf"), "steps": 0, "lr": float("nan"),
            "separation": float(sep)}
    try:
        lr = _step_size(net, X, n, width, sep, lr_rule, lr_factor)
    except ValueError:  # no gradient at initialisation: a dead network cannot be trained
        return fail
    f0 = loss_value(net, X, y)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=eps * f0, progress=False)
    except DivergenceError:
        return {**fail, "steps": steps, "lr": float(lr)}
    ratio = float(h.loss[-1] / f0)
    return {"ok": bool(ratio <= eps), "ratio": ratio, "steps": int(h.step[-1]), "lr": float(lr),
            "separation": float(sep)}


def width_grid(max_width: int, min_width: int = 1) -> list[int]:
    r"""The widths :math:`\lceil 2^{k/2}\rceil` (k = 0, 1, ...) between ``min_width`` and
    ``max_width``, increasing and without repeats: 1, 2, 3, 4, 6, 8, 12, 16, 23, 32, ..."""
    max_width = check_int(max_width, "max_width", minimum=1)
    min_width = check_int(min_width, "min_width", minimum=1)
    grid, k = [], 0
    while (w := math.ceil(2 ** (k / 2))) <= max_width:
        if w >= min_width and (not grid or w != grid[-1]):
            grid.append(w)
        k += 1
    return grid


def min_width_needed(model: str, n: int, *, d: int = 8, depth: int = 2, eps: float = 1e-2,
                     steps: int = 400, lr_factor: float = 1.0, seed: int = 0,
                     max_width: int = 4096, device: str = "cpu", lr_rule: str = "hessian",
                     delta: float | None = None, last_coord: bool = False, min_width: int = 1,
                     scan: str = "up") -> dict:
    r"""Smallest width on the grid :func:`width_grid` at which :func:`reaches_target` succeeds.

    ``scan="up"`` tries the widths from ``min_width`` upwards and returns the first success
    (later widths are not tried). ``scan="down"`` tries them from ``max_width`` downwards and
    returns the smallest width m such that *every* grid width from m to ``max_width`` succeeds
    (robust to a lucky narrow network; NaN if ``max_width`` itself fails). The other arguments
    are those of :func:`reaches_target`.

    Returns:
        dict with ``width`` (NaN if none), ``tried`` (widths, in the order tried), ``ratios``
        (final/initial loss of each try) and ``steps`` (steps each try ran), as lists.
    """
    check_choice(scan, "scan", ("up", "down"))
    grid = width_grid(max_width, min_width)
    if not grid:
        raise ValueError(f"no grid width between min_width={min_width} and "
                         f"max_width={max_width}: pass min_width <= max_width")
    tried, ratios, ran, found = [], [], [], float("nan")
    for w in grid if scan == "up" else grid[::-1]:
        r = reaches_target(model, n, w, d=d, depth=depth, eps=eps, steps=steps,
                           lr_factor=lr_factor, seed=seed, device=device, lr_rule=lr_rule,
                           delta=delta, last_coord=last_coord)
        tried.append(w)
        ratios.append(r["ratio"])
        ran.append(r["steps"])
        if scan == "up" and r["ok"]:
            found = float(w)
            break
        if scan == "down":
            if not r["ok"]:
                break
            found = float(w)
    return {"width": found, "tried": tried, "ratios": ratios, "steps": ran}


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
