r"""Du, Lee, Li, Wang, Zhai: the Gram matrix of the last hidden layer, its fluctuation at
initialisation (step 1 of their proof), its stability during training (step 2), the stable step,
and the convolutional ResNet, for the FC net and the ResNet (see ``practical.py``).

The FC net is ``MLP(d, m, H, parameterization="ntk", trainable="all")`` and the ResNet
``ResNet(d, m, H, style="du")``: Du et al.'s H is ``depth`` for both."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import digits, sphere_data
from ..kernels import du_deep_gram
from ..models import CNN, MLP, ResNet
from ..ntk import empirical_ntk, lambda_max, min_eigenvalue
from ..predict import gd_dynamics
from ..train import DivergenceError, stable_learning_rate, train
from ..utils import check_choice, check_int
from ._common import ints, positive

__all__ = ["last_layer_gram", "gram_perturbation", "max_stable_lr", "gram_stability",
           "conv_resnet_run"]


def _du_net(arch: str, depth: int, width: int, d: int, *, activation: str, c_res: float,
            seed: int, device: str = "cpu"):
    """Du et al.'s FC net (``MLP`` "ntk") or ResNet, both with H = depth."""
    if arch == "fc":
        return MLP(d, width, depth, parameterization="ntk", trainable="all",
                   activation=activation, seed=seed, device=device)
    return ResNet(d, width, depth, style="du", activation=activation, c_res=c_res,
                  trainable="all", seed=seed, device=device)


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
                      seed: int = 0, device: str = "cpu") -> dict:
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
        seed: data seed (network seeds are ``1000 * seed + s``); device: where the networks
        and the data live.

    Returns:
        dict of floats: ``op``, ``lambda_min`` (of :math:`\bar G`), ``ratio``, ``scale`` (mean
        diagonal of :math:`\bar G`), ``fluct`` (mean relative Frobenius deviation from
        :math:`\bar G`), ``op_limit``, ``lambda_min_limit``, ``ratio_limit``, ``limit_error``
        (mean relative Frobenius error against :math:`K^{(H)}`), ``scale_limit`` (mean diagonal
        of :math:`K^{(H)}`); the ``*_limit`` entries are NaN for the ResNet.
    """
    depth = _check_arch(arch, depth)
    width, n, d, seeds = ints(width=width, n=n, d=d, seeds=seeds).values()
    if seeds < 2:
        raise ValueError(f"seeds must be >= 2 to measure a fluctuation, got {seeds}")
    X, _, _ = sphere_data(n, d, last_coord=False, seed=seed, device=device)
    G = torch.stack([last_layer_gram(_du_net(arch, depth, width, d, activation=activation,
                                             c_res=c_res, seed=1000 * seed + s, device=device),
                                     X)
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
    K = du_deep_gram(X, depth, activation) if arch == "fc" else None
    op_k, lam_k, ratio_k, err_k = stats(K) if K is not None else (nan, nan, nan, nan)
    out.update(op_limit=op_k, lambda_min_limit=lam_k, ratio_limit=ratio_k, limit_error=err_k,
               scale_limit=float(K.diagonal().mean()) if K is not None else nan)
    return out


def max_stable_lr(arch: str, depth: int, width: int, *, n: int = 16, d: int = 8,
                  steps: int = 60, c_res: float = 0.5, activation: str = "softplus",
                  iters: int = 8, bracket: float = 16.0, seed: int = 0,
                  device: str = "cpu") -> dict:
    r"""Largest GD step size that trains Du et al.'s FC net / ResNet stably, by bisection.

    A step size is *stable* when :func:`ntklib.train.train` (loss ``"mse_sum"``, all layers,
    ``steps`` GD steps, random +-1 labels) raises no :class:`~ntklib.train.DivergenceError` and the
    loss never exceeds its initial value. Bisection (geometric, ``iters`` halvings) runs on
    ``[r/bracket, bracket * r]`` around the linear-model scale
    :math:`r = 2/\lambda_{\max}(\Theta)` of the empirical NTK at initialisation
    (:func:`ntklib.train.stable_learning_rate`), which is returned too so the two can be compared.

    Returns:
        dict with ``lr`` (the largest step found stable), ``lr_unstable`` (the smallest step
        found unstable: the threshold lies in ``[lr, lr_unstable]``), ``lr_linear`` (= r),
        ``lambda_max``.
    """
    depth = _check_arch(arch, depth)
    width, n, d, steps, iters = ints(width=width, n=n, d=d, steps=steps, iters=iters).values()
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed, device=device)

    def net():
        return _du_net(arch, depth, width, d, activation=activation, c_res=c_res, seed=seed,
                       device=device)

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
    return {"lr": math.exp(lo), "lr_unstable": math.exp(hi), "lr_linear": r,
            "lambda_max": 2.0 / r}




def _kernel_regime_run(net, X, y, *, steps: int, lr_factor: float,
                       hooks: dict | None = None) -> tuple:
    """Train ``net`` by GD on the sum loss with eta = lr_factor / lambda_max(NTK at init),
    logging the loss at every step, and predict the same run with the linearised model (the
    NTK at initialisation, fixed).

    Returns (history, NTK at init, NTK at the end, lr, dict of shared outputs)."""
    K0 = empirical_ntk(net, X)
    lr = lr_factor / lambda_max(K0)
    with torch.no_grad():
        f0 = net(X).reshape(-1)
    hist = train(net, X, y, lr=lr, steps=steps, hooks=hooks)
    kernel = gd_dynamics(K0, y, f0, lr, [float(t) for t in hist.step])
    K_end = empirical_ntk(net, X)
    loss, loss_k = hist.loss, kernel.loss.detach().cpu().numpy()
    out = {
        "step": hist.step.copy(),
        "loss": loss.copy(),
        "loss_kernel": loss_k,
        "kernel_gap": float(np.max(np.abs(loss - loss_k)) / loss[0]),
        "final_ratio": float(loss[-1] / loss[0]),
        "ntk_drift": float(torch.linalg.norm(K_end - K0) / torch.linalg.norm(K0)),
        "lr": float(lr),
        "lambda_max": lambda_max(K0),
        "lambda_min": min_eigenvalue(K0),
    }
    return hist, K0, K_end, lr, out


def gram_stability(arch: str, depth: int, width: int, *, n: int = 16, d: int = 16,
                   steps: int = 300, lr_factor: float = 1.0, c_res: float = 0.5,
                   activation: str = "softplus", log_every: int = 10, seed: int = 0,
                   device: str = "cpu") -> dict:
    r"""Step 2 of Du et al.'s proof, measured: does :math:`G^{(H)}(k)` stay close to
    :math:`G^{(H)}(0)` while gradient descent trains all layers? And does the loss follow the
    linearised (kernel) prediction?

    Network: the FC net or the ResNet (softplus by default, H = ``depth``, width m), all layers
    trained, on ``sphere_data(n, d, labels="random", last_coord=False)``; GD on the sum loss
    :math:`\tfrac12\sum_i (u_i - y_i)^2` with :math:`\eta = \text{lr\_factor}/\lambda_{\max}`
    of the full empirical NTK at initialisation. Every ``log_every`` steps the last-hidden-layer
    Gram matrix :math:`G^{(H)}(k)` (:func:`last_layer_gram`) is compared with :math:`G^{(H)}(0)`.
    The kernel prediction is :func:`ntklib.gd_dynamics` with the full NTK at initialisation
    (the trajectory of the linearised network).

    Args:
        arch: ``"fc"`` or ``"resnet"``; depth: H (>= 2 for FC); width: m; n, d: data size;
        steps: GD steps; lr_factor: step in units of :math:`1/\lambda_{\max}` (< 2);
        c_res: ResNet residual scale; activation: ``"softplus"`` (Du et al.) or ``"relu"``;
        log_every: interval of the Gram log (the loss is logged at every step); seed: data
        and weights;
        device: where the network and the data live.

    Returns:
        dict: ``step``, ``loss``, ``loss_kernel`` (linearised prediction at the logged steps),
        ``guaranteed`` (:math:`F(0)(1 - \eta\lambda_0/2)^k`, :math:`\lambda_0 =
        \lambda_{\min}(G^{(H)}(0))`, the rate form of the theorem), ``kernel_gap``
        (:math:`\max_k |F(k) - F_{lin}(k)|/F(0)`), ``final_ratio``; ``gram_step``,
        ``gram_op`` (:math:`\lVert G^{(H)}(k) - G^{(H)}(0)\rVert_2/\lambda_0`, the proof needs
        :math:`\le 1/4`), ``gram_rel`` (same in relative Frobenius norm), ``gram_lam``
        (:math:`\lambda_{\min}(G^{(H)}(k))/\lambda_0`, the proof concludes :math:`\ge 1/2`),
        each an array over the Gram log; ``lambda0``, ``gram_scale`` (mean diagonal of
        :math:`G^{(H)}(0)`); ``move`` (array: :math:`\lVert W(T) - W(0)\rVert_F` per layer, in
        forward order) and ``move_rel`` (divided by :math:`\lVert W(0)\rVert_F`);
        ``ntk_drift``, ``lr``, ``lambda_max``, ``lambda_min`` (of the full NTK at init).
    """
    depth = _check_arch(arch, depth)
    width, n, d, steps, log_every = ints(width=width, n=n, d=d, steps=steps,
                                         log_every=log_every).values()
    lr_factor = positive("lr_factor", lr_factor)
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed, device=device)
    net = _du_net(arch, depth, width, d, activation=activation, c_res=c_res, seed=seed,
                  device=device)
    G0 = last_layer_gram(net, X)
    lam0 = min_eigenvalue(G0)
    w0 = {k: v.weight.detach().clone() for k, v in net.weight_layers().items()}
    rows = []

    def gram_hook(model) -> float:
        G = last_layer_gram(model, X)
        dG = G - G0
        rows.append((float(torch.linalg.matrix_norm(dG, ord=2)) / lam0,
                     float(torch.linalg.norm(dG) / torch.linalg.norm(G0)),
                     min_eigenvalue(G) / lam0))
        return rows[-1][0]

    hist, _, _, lr, out = _kernel_regime_run(net, X, y, steps=steps, lr_factor=lr_factor,
                                             hooks={"gram": (log_every, gram_hook)})
    rows = np.array(rows)
    moves = [float(torch.linalg.norm(layer.weight.detach() - w0[k]))
             for k, layer in net.weight_layers().items()]
    norms = [float(torch.linalg.norm(w0[k])) for k in net.weight_layers()]
    out.update(
        guaranteed=out["loss"][0] * (1.0 - lr * lam0 / 2.0) ** out["step"].astype(float),
        gram_step=hist.extra_steps["gram"].copy(),
        gram_op=rows[:, 0], gram_rel=rows[:, 1], gram_lam=rows[:, 2],
        lambda0=lam0, gram_scale=float(G0.diagonal().mean()),
        move=np.array(moves), move_rel=np.array(moves) / np.array(norms),
    )
    return out


def conv_resnet_run(channels: int, *, depth: int = 3, n: int = 16, steps: int = 150,
                    lr_factor: float = 1.0, c_res: float = 0.5, activation: str = "softplus",
                    seed: int = 0, device: str = "cpu") -> dict:
    r"""A small convolutional ResNet trained by GD, against its linearised (NTK) prediction.

    ``CNN(1, channels, depth, residual=True)`` (convolutions with NTK scaling, residual branches
    scaled by ``c_res / (depth - 1)``, global average pooling, linear read-out; all layers
    trained) on ``n`` digits 0 and 1 of :func:`ntklib.digits` (8 x 8 images of unit Frobenius
    norm, as Du et al.'s Theorem 7.1 assumes), labels :math:`\pm 1`, GD on the sum loss with
    :math:`\eta = \text{lr\_factor}/\lambda_{\max}` of the empirical NTK at initialisation.

    Returns:
        dict: ``step``, ``loss``, ``loss_kernel``, ``kernel_gap``, ``final_ratio``,
        ``ntk_drift``, ``lr``, ``lambda_max``, ``lambda_min`` (as :func:`gram_stability`), and
        ``norm_error`` (:math:`\max_i |\lVert x_i\rVert_F - 1|`).
    """
    channels, depth, n, steps = ints(channels=channels, depth=depth, n=n,
                                     steps=steps).values()
    if depth < 2:
        raise ValueError(f"a residual CNN needs depth >= 2 (one residual block), got {depth}")
    lr_factor = positive("lr_factor", lr_factor)
    X, cls, _ = digits(n, classes=(0, 1), image=True, seed=seed, device=device)
    y = 2.0 * cls.to(X.dtype) - 1.0
    net = CNN(1, channels, depth, residual=True, activation=activation, c_res=c_res,
              seed=seed, device=device)
    _, _, _, _, out = _kernel_regime_run(net, X, y, steps=steps, lr_factor=lr_factor)
    out["norm_error"] = float((X.flatten(1).norm(dim=1) - 1).abs().max())
    return out
