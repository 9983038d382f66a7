r"""Du, Lee, Li, Wang, Zhai: the Gram matrix of the last hidden layer, its fluctuation at
initialisation and the stable step, for the FC net and the ResNet (see ``practical.py``)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import sphere_data
from ..kernels import du_deep_gram
from ..models import MLP, ResNet
from ..ntk import empirical_ntk
from ..train import DivergenceError, stable_learning_rate, train
from ..utils import check_choice, check_int
from ._common import ints, positive

__all__ = ["last_layer_gram", "gram_perturbation", "max_stable_lr"]


def _du_net(arch: str, depth: int, width: int, d: int, *, activation: str, c_res: float,
            seed: int):
    """Du et al.'s FC net (``MLP`` "ntk") or ResNet, both with H = depth."""
    if arch == "fc":
        return MLP(d, width, depth, parameterization="ntk", trainable="all",
                   activation=activation, seed=seed)
    return ResNet(d, width, depth, style="du", activation=activation, c_res=c_res,
                  trainable="all", seed=seed)


def _check_arch(arch: str, depth) -> int:
    check_choice(arch, "arch", ("fc", "resnet"))
    depth = check_int(depth, "depth", minimum=1)
    if arch == "fc" and depth < 2:
        raise ValueError(f"the FC net needs depth H >= 2 (its W^(H) is an m x m layer), got "
                         f"{depth}: pass depth >= 2")
    return depth


def last_layer_gram(model, X):
    r"""Du et al.'s :math:`G^{(H)}`: the block of the empirical NTK of the last hidden layer.

    :math:`G^{(H)}_{ij} = \langle \partial u_i / \partial W^{(H)}, \partial u_j / \partial
    W^{(H)} \rangle` (arXiv 1811.03804, §4): ``empirical_ntk(model, X, layers=[name])`` with
    ``name`` Du et al.'s :math:`W^{(H)}` (``W{H-1}`` of an ``MLP`` with ``depth = H >= 2``,
    ``W{H}`` of a ``ResNet(style="du")``). Its limit is :func:`ntklib.du_deep_gram` (FC).

    Args:
        model: ``MLP`` or ``ResNet(style="du")``. X: inputs ``(n, d_in)``.

    Returns:
        ``(n, n)`` tensor.
    """
    names = list(model.weight_layers()) if hasattr(model, "weight_layers") else []
    if len(names) < 3:
        raise ValueError(f"model has no hidden m x m layer (its layers: {names}): pass an ntklib "
                         "MLP or ResNet with depth >= 2")
    return empirical_ntk(model, X, layers=[names[-2]])


def gram_perturbation(arch: str, depth: int, width: int, *, n: int = 16, d: int = 16,
                      seeds: int = 6, c_res: float = 0.5, activation: str = "softplus",
                      seed: int = 0) -> dict:
    r"""Size of the initialisation perturbation of :math:`G^{(H)}(0)` against
    :math:`\lambda_{\min}` (the quantity in step 1 of Du et al.'s proof, arXiv 1811.03804 §4).

    For ``seeds`` independent initialisations s of the FC net or the ResNet (width m, H = depth)
    on the same unit-norm data, compute :math:`G_s = G^{(H)}(0)` (:func:`last_layer_gram`), their
    mean :math:`\bar G` (the Monte Carlo estimate of the limit Gram matrix) and

    .. math::
        \text{op} = \frac1S\sum_s \lVert G_s - \bar G\rVert_2, \qquad
        \text{ratio} = \text{op} / \lambda_{\min}(\bar G).

    The proof needs :math:`\lVert G^{(H)}(0) - K^{(H)}\rVert_2 \le \lambda_{\min}(K^{(H)})/4`,
    i.e. ratio below about 1/4; since op falls like :math:`m^{-1/2}`, the width this step needs
    scales like ``width * (4 ratio)^2``. For the FC net the same numbers against the exact limit
    :math:`K^{(H)}` (:func:`ntklib.kernels.du_deep_gram`) are returned as ``*_limit`` (NaN for
    the ResNet, whose limit Gram matrix ntklib does not implement).

    Args:
        arch: ``"fc"`` or ``"resnet"``; depth: H; width: m; n, d: data size; seeds: S >= 2;
        c_res: ResNet residual scale; activation: ``"softplus"`` (Du et al.) or ``"relu"``;
        seed: data seed (network seeds are ``1000 * seed + s``).

    Returns:
        dict of floats: ``op``, ``lambda_min`` (of :math:`\bar G`), ``ratio``, ``scale`` (mean
        diagonal of :math:`\bar G`), ``fluct`` (mean relative Frobenius deviation from
        :math:`\bar G`), ``op_limit``, ``lambda_min_limit``, ``ratio_limit``, ``limit_error``
        (mean relative Frobenius error against :math:`K^{(H)}`).
    """
    depth = _check_arch(arch, depth)
    width, n, d, seeds = ints(width=width, n=n, d=d, seeds=seeds).values()
    if seeds < 2:
        raise ValueError(f"seeds must be >= 2 to measure a fluctuation, got {seeds}")
    X, _, _ = sphere_data(n, d, last_coord=False, seed=seed)
    G = torch.stack([last_layer_gram(_du_net(arch, depth, width, d, activation=activation,
                                             c_res=c_res, seed=1000 * seed + s), X)
                     for s in range(seeds)])  # (S, n, n)
    G_bar = G.mean(0)

    def stats(ref):
        op = float(torch.linalg.matrix_norm(G - ref, ord=2).mean())
        lam = float(torch.linalg.eigvalsh(ref)[0])
        frob = float(((G - ref).flatten(1).norm(dim=1) / ref.norm()).mean())
        return op, lam, op / lam if lam > 0 else float("inf"), frob

    op, lam, ratio, fluct = stats(G_bar)
    out = {"op": op, "lambda_min": lam, "ratio": ratio, "fluct": fluct,
           "scale": float(G_bar.diagonal().mean())}
    nan = float("nan")
    op_k, lam_k, ratio_k, err_k = stats(du_deep_gram(X, depth, activation)) if arch == "fc" \
        else (nan, nan, nan, nan)
    out.update(op_limit=op_k, lambda_min_limit=lam_k, ratio_limit=ratio_k, limit_error=err_k)
    return out


def max_stable_lr(arch: str, depth: int, width: int, *, n: int = 16, d: int = 8,
                  steps: int = 60, c_res: float = 0.5, activation: str = "softplus",
                  iters: int = 8, bracket: float = 16.0, seed: int = 0) -> dict:
    r"""Largest GD step size that trains Du et al.'s FC net / ResNet stably, by bisection.

    A step size is *stable* when :func:`ntklib.train.train` (loss ``"mse_sum"``, all layers,
    ``steps`` GD steps, random +-1 labels) raises no :class:`~ntklib.train.DivergenceError` and the
    loss never exceeds its initial value. Bisection (geometric, ``iters`` halvings) runs on
    ``[r/bracket, bracket * r]`` around the linear-model scale
    :math:`r = 2/\lambda_{\max}(\Theta)` of the empirical NTK at initialisation
    (:func:`ntklib.train.stable_learning_rate`), which is returned too so the two can be compared.

    Returns:
        dict with ``lr`` (largest stable step found), ``lr_linear`` (= r), ``lambda_max``.
    """
    depth = _check_arch(arch, depth)
    width, n, d, steps, iters = ints(width=width, n=n, d=d, steps=steps, iters=iters).values()
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed)

    def net():
        return _du_net(arch, depth, width, d, activation=activation, c_res=c_res, seed=seed)

    r = stable_learning_rate(net(), X, "mse_sum", iters=30)
    bracket = positive("bracket", bracket)
    if bracket <= 1:
        raise ValueError(f"bracket must be > 1, got {bracket}: pass e.g. bracket=16")

    def stable(lr: float) -> bool:
        try:
            h = train(net(), X, y, lr=lr, steps=steps, progress=False)
        except DivergenceError:
            return False
        return bool(np.all(np.isfinite(h.loss)) and np.max(h.loss) <= h.loss[0] * (1 + 1e-12))

    lo, hi = math.log(r / bracket), math.log(bracket * r)
    if not stable(math.exp(lo)):
        raise RuntimeError(f"even lr = {math.exp(lo):.3g} (2/lambda_max / {bracket:g}) is unstable")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(math.exp(mid)) else (lo, mid)
    return {"lr": math.exp(lo), "lr_linear": r, "lambda_max": 2.0 / r}


