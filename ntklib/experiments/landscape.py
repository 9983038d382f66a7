r"""The landscape near initialisation (Allen-Zhu, Li, Song, arXiv 1811.03962, Theorems 3 and 4):
the gradient ratio :math:`\lVert\nabla F\rVert^2/F` and its NTK floor, in a ball around
:math:`W^{(0)}` and along gradient descent, semi-smoothness, and the straight path from
:math:`\theta_0` to :math:`\theta_T` (Goodfellow, Vinyals, Saxe, arXiv 1412.6544).

Network: ``MLP(d, m, depth, parameterization="azls", trainable="hidden")`` (Allen-Zhu et al.'s
:math:`L` = ``depth - 1`` trained hidden layers, A and B frozen), sum loss, random :math:`\pm1`
labels on ``sphere_data`` unless said otherwise; step sizes ``lr_factor`` /
:math:`\lambda_{\max}` of the empirical NTK at initialisation (``nl.ntk_learning_rate``). For a
scalar output and the sum loss, :math:`\lVert\nabla F\rVert^2 = e^\top K e` with :math:`e = u - y`
and :math:`K` the empirical NTK of the trained layers, so the ratio lies in
:math:`[2\lambda_{\min}(K), 2\lambda_{\max}(K)]`. See ``practical.py`` for the shared conventions.
"""

from __future__ import annotations

import numpy as np
import torch

from ..analysis import fit_slope
from ..data import digits, near_duplicate_pair, sphere_data
from ..diagnostics import activation_flips, gradient_ratio, interpolation_path, semi_smoothness
from ..kernels import limit_kernel
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, min_eigenvalue, ntk_learning_rate
from ..train import train
from ..utils import check_int
from ._common import ints, positive
from .lemmas import _flip_prediction, perturbed

__all__ = [
    "ratio_at_init",
    "ball_run",
    "semi_smoothness_run",
    "descent_run",
    "landscape_run",
    "straight_path",
]


def _azls(d: int, width: int, depth: int, seed: int, device: str) -> MLP:
    return MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed,
               device=device)


def _eigh(K: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric kernel, as float64 numpy."""
    vals, vecs = torch.linalg.eigh(0.5 * (K + K.T).to(torch.float64))
    return vals.cpu().numpy(), vecs.cpu().numpy()


def _residual(net, X, y) -> torch.Tensor:
    with torch.no_grad():
        return net(X)[:, 0] - y.reshape(-1)


def ratio_at_init(n: int = 16, width: int = 512, depth: int = 3, *, d: int = 10, seed: int = 0,
                  device: str = "cpu") -> dict:
    r"""The gradient ratio at :math:`W^{(0)}` computed three ways, and its NTK bounds.

    Returns:
        dict with ``ratio`` (:math:`\lVert\nabla F\rVert^2/F` by autograd, ``nl.gradient_ratio``),
        ``ratio_ntk`` (:math:`e^\top K e/F` from ``nl.empirical_ntk``), ``eigs`` (eigenvalues of
        K, ascending), ``trace`` (:math:`\operatorname{tr}K`; for this network each diagonal
        entry is about :math:`mL\lVert x\rVert^2/2`), ``lam_min_limit`` (:math:`\lambda_{\min}`
        of ``nl.limit_kernel``), ``ratio_worst`` (the ratio for the labels
        :math:`y = u(W^{(0)}) - v_{\min}`, whose residual is the bottom eigenvector of K),
        ``separation``.
    """
    n, width, depth, d = ints(n=n, width=width, depth=depth, d=d).values()
    X, y, sep = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    ratio = gradient_ratio(net, X, y)
    K = empirical_ntk(net, X)
    e = _residual(net, X, y)
    F = 0.5 * float(e @ e)
    eigs, vecs = _eigh(K)
    with torch.no_grad():
        u = net(X)[:, 0]
    v_min = torch.as_tensor(vecs[:, 0], dtype=u.dtype, device=u.device)
    return {"ratio": ratio, "ratio_ntk": float(e @ K @ e) / F, "eigs": eigs,
            "trace": float(torch.trace(K)), "lam_min_limit": min_eigenvalue(limit_kernel(net, X)),
            "ratio_worst": gradient_ratio(net, X, u - v_min), "separation": float(sep)}


def ball_run(width: int = 512, depth: int = 3, omegas=(0.01, 0.03, 0.1, 0.3, 1.0), *,
             n_points: int = 3, n: int = 16, d: int = 10, seed: int = 0,
             device: str = "cpu") -> dict:
    r"""Random points on spheres :math:`\lVert W - W^{(0)}\rVert_2 = \omega` (per layer, see
    :func:`ntklib.experiments.perturbed`): gradient ratio, NTK floor and flipped gates.

    Returns:
        dict with ``omegas``; ``ratio``, ``lam_min``, ``flips`` of shape ``(len(omegas),
        n_points)`` (the ratio with the same labels, :math:`\lambda_{\min}(K(W))`, and the flipped
        fraction averaged over the trained layers); ``flips_predicted`` ``(len(omegas),)`` the
        random-direction prediction :math:`\arctan(\omega\sqrt{\ell/8})/\pi` averaged over the
        same layers; ``ratio_0``, ``lam_min_0`` at :math:`W^{(0)}`.
    """
    width, depth, n_points, n, d = ints(width=width, depth=depth, n_points=n_points, n=n,
                                        d=d).values()
    omegas = np.asarray([positive("omega", w) for w in omegas])
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net0 = _azls(d, width, depth, seed, device)
    out = {k: np.empty((omegas.size, n_points)) for k in ("ratio", "lam_min", "flips")}
    for a, omega in enumerate(omegas):
        for j in range(n_points):
            net = perturbed(net0, float(omega), seed=100 + j)
            out["ratio"][a, j] = gradient_ratio(net, X, y)
            out["lam_min"][a, j] = min_eigenvalue(empirical_ntk(net, X))
            out["flips"][a, j] = activation_flips(net0, net, X)[1:].mean()
    out.update({"omegas": omegas,
                "flips_predicted": np.array([_flip_prediction(w, depth)[1:].mean()
                                             for w in omegas]),
                "ratio_0": gradient_ratio(net0, X, y),
                "lam_min_0": min_eigenvalue(empirical_ntk(net0, X))})
    return out


def semi_smoothness_run(width: int, depth: int = 3, *, radii=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
                        n_directions: int = 3, n: int = 16, d: int = 10, seed: int = 0,
                        device: str = "cpu") -> dict:
    r"""Semi-smoothness (Theorem 4) at :math:`W^{(0)}`: the remainder
    :math:`\Delta(W') = F(W + W') - F(W) - \langle\nabla F(W), W'\rangle` along random
    directions with :math:`\lVert W'_\ell\rVert_2 = r` (``nl.semi_smoothness``), and along the
    worst direction for the quadratic part.

    The worst direction: to second order :math:`\Delta \approx \tfrac12\lVert JW'\rVert^2`, largest
    per :math:`\lVert W'\rVert_F^2` (equal to :math:`\lambda_{\max}(K)/2`) for
    :math:`W' \propto J^\top v_{\max}`. That is the gradient of the loss whose residual is the top
    eigenvector :math:`v_{\max}` of the NTK, so one GD step (``nl.train``, step
    :math:`\eta = 10^{-2}/\lambda_{\max}`) on the labels :math:`y = u(W) - v_{\max}` measures it:
    ``c2_top`` :math:`= (F_1 - F_0 + \eta g^2)/(\eta^2 g^2)` with :math:`g^2 = \lVert\nabla
    F\rVert^2`.

    Returns:
        dict with ``radii``, ``remainder`` (``(len(radii), n_directions)``, :math:`|\Delta|`),
        ``exponent`` (log-log slope of the median :math:`|\Delta|` in r), ``c2_random``
        (median :math:`|\Delta|/r^2` at the radius closest to 0.01), ``c2_top``, ``half_lmax``
        (:math:`\lambda_{\max}(K)/2`).
    """
    width, depth, n_directions, n, d = ints(width=width, depth=depth, n_directions=n_directions,
                                            n=n, d=d).values()
    radii = np.asarray([positive("radius", r) for r in radii])
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    rem = np.abs(semi_smoothness(net, X, y, radii, n_directions=n_directions, seed=seed))
    typical = np.median(rem, axis=1)
    eigs, vecs = _eigh(empirical_ntk(net, X))
    with torch.no_grad():
        u = net(X)[:, 0]
    y_top = u - torch.as_tensor(vecs[:, -1], dtype=u.dtype, device=u.device)
    eta = 1e-2 / eigs[-1]
    step = train(net, X, y_top, lr=eta, steps=1, diagnostics=("grad",))
    g2 = float(step.grad_norm_sq[0])
    k = int(np.argmin(np.abs(np.log(radii / 1e-2))))
    return {"radii": radii, "remainder": rem,
            "exponent": fit_slope(radii, typical)[0] if radii.size > 1 else float("nan"),
            "c2_random": float(typical[k] / radii[k] ** 2),
            "c2_top": float((step.loss[1] - step.loss[0] + eta * g2) / (eta**2 * g2)),
            "half_lmax": float(eigs[-1] / 2)}


def descent_run(width: int = 512, depth: int = 3, *, n: int = 16, d: int = 10,
                steps: int = 200, lr_factor: float = 1.0, lam_every: int = 40, seed: int = 0,
                device: str = "cpu") -> dict:
    r"""Gradient descent from :math:`W^{(0)}`, with what the descent inequality needs per step.

    GD (``nl.train``, diagnostics ``"grad"``, ``"flips"``, ``"distance"``) at
    :math:`\eta` = ``lr_factor`` / :math:`\lambda_{\max}(K_0)`; every ``lam_every`` steps a hook
    records :math:`\lambda_{\min}` of the current empirical NTK.

    Returns:
        dict with ``step``, ``loss``, ``grad_norm_sq``, ``grad_ratio`` (per step), ``eta``,
        ``eigs_0`` (eigenvalues of :math:`K_0`), ``lam_min_steps``, ``lam_min`` (hook),
        ``max_flips`` (largest final flipped fraction over layers), ``distance`` (final
        :math:`\lVert W_\ell - W_\ell^{(0)}\rVert_F` per trained layer).
    """
    width, depth, n, d, steps, lam_every = ints(width=width, depth=depth, n=n, d=d, steps=steps,
                                                lam_every=lam_every).values()
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    eigs0, _ = _eigh(empirical_ntk(net, X))
    eta = ntk_learning_rate(net, X, positive("lr_factor", lr_factor))
    hist = train(net, X, y, lr=eta, steps=steps, diagnostics=("grad", "flips", "distance"),
                 hooks={"lam_min": (lam_every,
                                    lambda model: min_eigenvalue(empirical_ntk(model, X)))})
    return {"step": hist.step, "loss": hist.loss, "grad_norm_sq": hist.grad_norm_sq,
            "grad_ratio": hist.grad_ratio, "eta": float(eta), "eigs_0": eigs0,
            "lam_min_steps": hist.extra_steps["lam_min"], "lam_min": hist.extra["lam_min"],
            "max_flips": float(max(v[-1] for v in hist.flips.values())),
            "distance": np.array([v[-1] for v in hist.distance.values()])}


def landscape_run(width: int = 256, n: int = 16, delta: float = 0.1, lr_factor: float = 1.0,
                  seed: int = 0, steps: int = 150, *, depth: int = 3, d: int = 10,
                  floor_every: int = 50, device: str = "cpu") -> dict:
    r"""GD on ``near_duplicate_pair(n, d, delta)`` (the pair with opposite labels): the gradient
    ratio, its NTK floor and the loss along the run (the panel of the landscape chapter).

    Returns:
        dict with ``step``, ``ratio`` (:math:`\lVert\nabla F\rVert^2/(Fm)`), ``loss``,
        ``floor_steps``, ``floor`` (:math:`2\lambda_{\min}(K_t)/m` every ``floor_every`` steps)
        and ``rate`` (:math:`\eta\lambda_{\min}(K_0)`, the linear-model contraction per step).
    """
    width, n, steps, depth, d, floor_every = ints(width=width, n=n, steps=steps, depth=depth,
                                                  d=d, floor_every=floor_every).values()
    seed = check_int(seed, "seed", minimum=0)
    X, y, _ = near_duplicate_pair(n, d, positive("delta", delta), seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    eigs0, _ = _eigh(empirical_ntk(net, X))
    lr = positive("lr_factor", lr_factor) / eigs0[-1]
    h = train(net, X, y, lr=lr, steps=steps, diagnostics=("grad",),
              hooks={"lam_min": (floor_every,
                                 lambda model: min_eigenvalue(empirical_ntk(model, X)))})
    return {"step": h.step, "ratio": h.grad_ratio / width, "loss": h.loss,
            "floor_steps": h.extra_steps["lam_min"], "floor": 2 * h.extra["lam_min"] / width,
            "rate": float(lr * eigs0[0])}


def straight_path(width: int, n: int = 64, *, depth: int = 2, classes=(3, 8), seed: int = 0,
                  max_steps: int = 4000, points: int = 21, device: str = "cpu") -> dict:
    r"""Train on real images, then the loss on the segment :math:`\theta(s) = (1 - s)\theta_0 +
    s\theta_T` (``nl.interpolation_path``) and its lazy prediction.

    Data: ``n`` unit-norm digits of two ``classes`` (scikit-learn's bundled 8 x 8 images,
    ``nl.digits``), labels :math:`\pm1`. Network ``MLP(64, width, depth, "azls",
    trainable="hidden")``; GD at :math:`\eta = 1/\lambda_{\max}(K_0)` until :math:`F \le F_0/100`.
    Lazy prediction: the loss of the straight line between the two output vectors,
    :math:`\tfrac12\lVert(1 - s)e_0 + s e_T\rVert^2` (:math:`e = f - y`), which is
    :math:`(1 - s)^2F_0` when :math:`f_T = y`.

    Returns:
        dict with ``s``, ``F``, ``lazy`` (``(points,)``), ``width``, ``steps`` (GD steps run),
        ``final`` (:math:`F_T/F_0`), ``deviation`` (:math:`\max_s|F - F_{lazy}|/F_0`).
    """
    width, n, depth, max_steps, points = ints(width=width, n=n, depth=depth,
                                              max_steps=max_steps, points=points).values()
    X, y = _digits_pm1(n, classes, seed, device)
    net = _azls(64, width, depth, seed, device)
    F0 = loss_value(net, X, y)
    hist = train(net, X, y, lr=ntk_learning_rate(net, X, 1.0), steps=max_steps,
                 target_loss=F0 / 100, log_every=10)
    s, F = interpolation_path(hist.model0, net, X, y, points=points)
    e_0 = _residual(hist.model0, X, y).cpu().numpy()
    e_T = _residual(net, X, y).cpu().numpy()
    lazy = 0.5 * (((1 - s)[:, None] * e_0 + s[:, None] * e_T) ** 2).sum(axis=1)
    return {"s": s, "F": F, "lazy": lazy, "width": width, "steps": int(hist.step[-1]),
            "final": float(hist.loss[-1] / F0),
            "deviation": float(np.abs(F - lazy).max() / F[0])}


def _digits_pm1(n: int, classes, seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` unit-norm digits of two classes as (X (n, 64), y (n,) in {-1, +1})."""
    classes = tuple(classes)
    if len(classes) != 2:
        raise ValueError(f"classes must be two digits (a binary task), got {classes}")
    X, t, _ = digits(n=n, classes=classes, seed=seed, device=device)
    return X, 2.0 * t.to(X.dtype) - 1.0
