r"""The NTK at initialisation against its infinite-width limit (see ``practical.py`` for the
conventions): concentration, kernel scales, the depth convention, Monte Carlo references for the
recursion, and depth degeneracy.

``depth`` is the number of hidden activation layers everywhere: Arora et al.'s L (ReLU layers of
the recursion) is ``depth``; Allen-Zhu, Li, Song's L (trained hidden matrices) is ``depth - 1``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import sphere_data
from ..kernels import analytic_nngp, analytic_ntk, du_deep_gram, limit_kernel, relu_step
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, lambda_max, min_eigenvalue
from ..train import train
from ..utils import check_choice, check_int, check_number, make_generator, pick_device

__all__ = [
    "ntk_init_error",
    "gradient_identity",
    "kernel_scale",
    "arccos_monte_carlo",
    "depth_convention_errors",
    "azls_gradient_formula",
    "nngp_monte_carlo",
    "depth_degeneracy",
]


def _rel(A: torch.Tensor, B: torch.Tensor) -> float:
    """Relative Frobenius distance ``||A - B|| / ||B||``."""
    return float(torch.linalg.norm(A - B) / torch.linalg.norm(B))


def ntk_init_error(width: int, depth: int = 3, n: int = 8, d: int = 8, seed: int = 0,
                   device: str = "cpu") -> float:
    r"""Relative Frobenius distance of the empirical NTK at init from its infinite-width limit.

    ``MLP(d, width, depth, parameterization="ntk", trainable="all")`` against
    ``limit_kernel(net, X)`` (Arora et al.'s :math:`\Theta^{(L)}`, L = ``depth``), on
    ``sphere_data(n, d, seed=seed)``: :math:`\|\hat\Theta_0 - \Theta\|_F / \|\Theta\|_F`.
    """
    check_int(width, "width", minimum=1)
    dev = pick_device(device)
    X, _, _ = sphere_data(n, d, seed=seed, device=dev)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed, device=dev)
    return _rel(empirical_ntk(net, X), limit_kernel(net, X))


def gradient_identity(width: int = 256, depth: int = 3, n: int = 12, d: int = 5, seed: int = 0,
                      device: str = "cpu") -> dict:
    r""":math:`\lVert\nabla F\rVert^2` by autograd against :math:`e^\top\hat\Theta e` by the
    layerwise NTK, for ``MLP(d, width, depth, parameterization="ntk", trainable="all")`` on
    ``sphere_data(n, d, labels="random")`` and the sum loss.

    Two code paths: ``train(..., diagnostics=("grad",))`` records the squared gradient norm at
    iterate 0 (autograd on F); ``empirical_ntk`` builds :math:`\hat\Theta` from layer inputs and
    output gradients.

    Returns:
        dict with ``grad_sq``, ``quad`` (:math:`e^\top\hat\Theta e`), ``lambda_min``,
        ``loss`` (F at init) and ``lower_bound`` :math:`2\lambda_{\min}F`.
    """
    dev = pick_device(device)
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=dev)
    net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed, device=dev)
    K = empirical_ntk(net, X)
    with torch.no_grad():
        e = net(X)[:, 0] - y
    F = loss_value(net, X, y)
    hist = train(net, X, y, lr=1e-12, steps=1, diagnostics=("grad",))
    lam = min_eigenvalue(K)
    return {"grad_sq": float(hist.grad_norm_sq[0]), "quad": float(e @ K @ e),
            "lambda_min": lam, "loss": F, "lower_bound": 2 * lam * F}


def kernel_scale(width: int, depth: int = 3, parameterization: str = "ntk",
                 trainable: str | None = None, n: int = 8, d: int = 5, seed: int = 0,
                 data_seed: int = 1, device: str = "cpu") -> dict:
    r"""Size of the empirical NTK at init of ``MLP(d, width, depth, parameterization=...)``.

    ``trainable`` defaults to ``"hidden"`` for ``"azls"`` (Allen-Zhu et al.) and ``"all"``
    otherwise. Data ``sphere_data(n, d, seed=data_seed)`` (unit inputs).

    Returns:
        dict with ``diag_mean`` (mean of :math:`\hat\Theta(x_i, x_i)`), ``limit_diag_mean`` (the
        same for ``limit_kernel``), ``lambda_max`` and ``lr_stable`` :math:`2/\lambda_{\max}`.
    """
    check_choice(parameterization, "parameterization", ("ntk", "azls", "standard"))
    if trainable is None:
        trainable = "hidden" if parameterization == "azls" else "all"
    dev = pick_device(device)
    X, _, _ = sphere_data(n, d, seed=data_seed, device=dev)
    net = MLP(d, width, depth, parameterization=parameterization, trainable=trainable, seed=seed,
              device=dev)
    K = empirical_ntk(net, X)
    lam = lambda_max(K)
    return {"diag_mean": float(K.diagonal().mean()),
            "limit_diag_mean": float(limit_kernel(net, X).diagonal().mean()),
            "lambda_max": lam, "lr_stable": 2.0 / lam}


def arccos_monte_carlo(s11: float = 1.0, s12: float = 0.3, s22: float = 0.5,
                       n_samples: int = 400_000, seed: int = 0) -> dict:
    r"""The arc-cosine step (:func:`ntklib.relu_step`) against Gaussian sampling.

    Draws :math:`(u, v) \sim N(0, S)`, :math:`S = [[s_{11}, s_{12}], [s_{12}, s_{22}]]`, and
    estimates :math:`2\,\mathbb E[\mathrm{relu}(u)\mathrm{relu}(v)]` and
    :math:`2\,\mathbb E[1(u>0)1(v>0)]` with their Monte Carlo standard errors.

    Returns:
        dict with ``sigma``, ``dsigma`` (the formula, off-diagonal entry), ``sigma_mc``,
        ``dsigma_mc``, ``sigma_se``, ``dsigma_se`` (standard errors), ``sigma_diag``
        (the formula's diagonal, = diag S) and ``dsigma_diag`` (= 1).
    """
    check_int(n_samples, "n_samples", minimum=2)
    S = torch.tensor([[s11, s12], [s12, s22]], dtype=torch.float64)
    if min_eigenvalue(S) <= 0:
        raise ValueError(f"S = {S.tolist()} is not positive definite: pass s12^2 < s11 * s22")
    sig, dsig = relu_step(S)
    uv = torch.randn(n_samples, 2, generator=make_generator(seed), dtype=torch.float64)
    uv = uv @ torch.linalg.cholesky(S).T  # (N, 2) ~ N(0, S)
    prod = 2 * torch.relu(uv[:, 0]) * torch.relu(uv[:, 1])
    both = 2 * ((uv[:, 0] > 0) & (uv[:, 1] > 0)).to(torch.float64)
    root = math.sqrt(n_samples)
    return {"sigma": float(sig[0, 1]), "dsigma": float(dsig[0, 1]),
            "sigma_mc": float(prod.mean()), "dsigma_mc": float(both.mean()),
            "sigma_se": float(prod.std() / root), "dsigma_se": float(both.std() / root),
            "sigma_diag": sig.diagonal().numpy().copy(),
            "dsigma_diag": dsig.diagonal().numpy().copy()}


def depth_convention_errors(width: int, depth: int = 3, parameterization: str = "ntk",
                            n_seeds: int = 4, n: int = 16, d: int = 4, data_seed: int = 0,
                            device: str = "cpu") -> dict:
    r"""Which analytic depth does a finite network match? A Monte Carlo answer.

    Averages the empirical NTK of ``n_seeds`` networks ``MLP(d, width, depth, parameterization)``
    (``"ntk"``: all layers trained; ``"azls"``: hidden layers, normalised by :math:`m/2`) and
    compares the mean with ``analytic_ntk(X, depth=k)`` for :math:`k` = depth - 1, depth,
    depth + 1 (the normalised :math:`k_{AZ}` for ``"azls"``). The seed average shrinks the
    finite-width fluctuation by :math:`\sqrt{\text{n\_seeds}}`.

    Returns:
        dict with ``depths`` (3,), ``errors`` (3,) relative Frobenius distances of the mean
        kernel from each analytic kernel, ``single_error`` (one network against ``depth``),
        ``diag_mean`` of the mean kernel and ``analytic_diag`` (3,) the analytic diagonal means.
    """
    check_choice(parameterization, "parameterization", ("ntk", "azls"))
    check_int(depth, "depth", minimum=3 if parameterization == "azls" else 2)
    check_int(n_seeds, "n_seeds", minimum=1)
    dev = pick_device(device)
    X, _, _ = sphere_data(n, d, seed=data_seed, device=dev)
    trainable = "hidden" if parameterization == "azls" else "all"
    norm = width / 2 if parameterization == "azls" else 1.0
    kernels = []
    for s in range(n_seeds):
        net = MLP(d, width, depth, parameterization=parameterization, trainable=trainable,
                  seed=s, device=dev)
        kernels.append(empirical_ntk(net, X) / norm)
    mean = torch.stack(kernels).mean(0)
    depths = [depth - 1, depth, depth + 1]
    ref = [analytic_ntk(X, depth=k, parameterization=parameterization) for k in depths]
    return {"depths": np.array(depths), "errors": np.array([_rel(mean, R) for R in ref]),
            "single_error": _rel(kernels[0], ref[1]),
            "diag_mean": float(mean.diagonal().mean()),
            "analytic_diag": np.array([float(R.diagonal().mean()) for R in ref]),
            "kernel_mean": mean.cpu().numpy(), "kernel_analytic": ref[1].cpu().numpy()}


def _azls_explicit_kernel(net: MLP, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Allen-Zhu et al.'s gradient formula, by explicit matrix products (no autograd):
    :math:`\partial u_i/\partial W_\ell = (B D_{i,L} W_L \cdots W_{\ell+1} D_{i,\ell})^\top
    h_{i,\ell-1}^\top`, so :math:`H_{ij} = \sum_\ell \langle h_{i,\ell-1}, h_{j,\ell-1}\rangle
    \langle b_{i,\ell}, b_{j,\ell}\rangle`. Returns the kernel and the per-layer diagonals
    ``(L, n)``."""
    layers = net.weight_layers()
    names = list(layers)  # A, W1..WL, B
    Ws = {k: layers[k].weight.detach() for k in names}  # (out, in)
    h = torch.relu(X @ Ws["A"].T)  # h_0, (n, m)
    hs, gates = [h], []
    for name in names[1:-1]:
        z = h @ Ws[name].T
        gates.append((z > 0).to(z.dtype))  # D_l
        h = torch.relu(z)
        hs.append(h)
    b = Ws["B"][0][None, :] * gates[-1]  # b_L = B D_L, (n, m)
    K = torch.zeros(X.shape[0], X.shape[0], dtype=X.dtype, device=X.device)
    diags = []
    for ell in range(len(gates), 0, -1):  # l = L .. 1
        term = (hs[ell - 1] @ hs[ell - 1].T) * (b @ b.T)
        K += term
        diags.append(term.diagonal())
        if ell > 1:
            b = (b @ Ws[names[ell]]) * gates[ell - 2]  # b_{l-1} = b_l W_l D_{l-1}
    return K, torch.stack(diags[::-1])


def azls_gradient_formula(width: int, depth: int = 3, n_seeds: int = 2, n: int = 16, d: int = 4,
                          data_seed: int = 0, device: str = "cpu") -> dict:
    r"""Monte Carlo of :math:`k_{AZ}` from Allen-Zhu et al.'s gradient formula.

    For ``n_seeds`` networks ``MLP(d, width, depth, parameterization="azls",
    trainable="hidden")`` (L = ``depth - 1`` trained matrices) the kernel of the trained layers
    is built from explicit forward vectors :math:`h_{i,\ell-1}` and backward vectors
    :math:`b_{i,\ell} = B D_{i,L} W_L\cdots W_{\ell+1} D_{i,\ell}` (matrix products, no autograd
    and no kernel recursion), divided by :math:`m/2` and averaged over the seeds; it is compared
    with the recursion ``analytic_ntk(X, depth=depth, parameterization="azls")``.

    Returns:
        dict with ``error`` (relative Frobenius distance of the Monte Carlo mean from
        :math:`k_{AZ}`), ``diag_mc`` and ``diag_analytic`` (mean diagonals), ``layer_diag``
        (L,) the mean diagonal contribution of each trained layer, and ``autograd_gap`` (largest
        relative entry difference between the explicit kernel and ``empirical_ntk``, seed 0).
    """
    check_int(depth, "depth", minimum=2)
    check_int(n_seeds, "n_seeds", minimum=1)
    dev = pick_device(device)
    X, _, _ = sphere_data(n, d, seed=data_seed, device=dev)
    kernels, diags, gap = [], [], float("nan")
    for s in range(n_seeds):
        net = MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=s,
                  device=dev)
        K, layer_diag = _azls_explicit_kernel(net, X)
        if s == 0:
            K_auto = empirical_ntk(net, X)
            gap = float((K - K_auto).abs().max() / K_auto.abs().max())
        kernels.append(K / (width / 2))
        diags.append(layer_diag / (width / 2))
    mean = torch.stack(kernels).mean(0)
    k_az = analytic_ntk(X, depth=depth, parameterization="azls")
    return {"error": _rel(mean, k_az), "diag_mc": float(mean.diagonal().mean()),
            "diag_analytic": float(k_az.diagonal().mean()),
            "layer_diag": torch.stack(diags).mean((0, 2)).cpu().numpy(),
            "autograd_gap": gap}


def nngp_monte_carlo(width: int = 256, depth: int = 3, n_nets: int = 400, n: int = 8,
                     d: int = 4, data_seed: int = 0, seed: int = 0, device: str = "cpu") -> dict:
    r"""Output covariance of random networks against the NNGP :math:`\Sigma^{(L)}`.

    Draws ``n_nets`` networks ``MLP(d, width, depth, parameterization="ntk")`` (seeds
    ``seed, seed + 1, ...``), evaluates them on ``sphere_data(n, d, seed=data_seed)`` and
    averages :math:`f(x_i) f(x_j)` (forward passes only), against
    ``analytic_nngp(X, depth=depth)``.

    Returns:
        dict with ``cov`` (n, n) the Monte Carlo covariance, ``nngp`` (n, n), ``error`` (relative
        Frobenius distance) and ``se`` (the Monte Carlo standard error of that distance's scale,
        :math:`\lVert \mathrm{sd}(f_if_j)\rVert_F/(\sqrt{N}\lVert\Sigma\rVert_F)`).
    """
    check_int(n_nets, "n_nets", minimum=2)
    dev = pick_device(device)
    X, _, _ = sphere_data(n, d, seed=data_seed, device=dev)
    outs = []
    with torch.no_grad():
        for s in range(n_nets):
            net = MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed + s,
                      device=dev)
            outs.append(net(X)[:, 0])
    F = torch.stack(outs)  # (N, n)
    prods = F[:, :, None] * F[:, None, :]  # (N, n, n)
    cov = prods.mean(0)
    nngp = analytic_nngp(X, depth=depth)
    se = float(torch.linalg.norm(prods.std(0)) / math.sqrt(n_nets) / torch.linalg.norm(nngp))
    return {"cov": cov.cpu().numpy(), "nngp": nngp.cpu().numpy(), "error": _rel(cov, nngp),
            "se": se}


def depth_degeneracy(angles: tuple[float, ...] = (0.3, 1.0, 2.0, 3.0), max_layer: int = 40,
                     depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64), n: int = 20, d: int = 10,
                     seed: int = 7) -> dict:
    r"""Correlations and conditioning of ReLU kernels against depth (infinite width, no training).

    * ``rho`` (len(angles), max_layer + 1): the NNGP correlation :math:`\rho^{(h)}` of two unit
      inputs at each angle, ``analytic_nngp(X, depth=h)`` for h = 0..max_layer (h = 0: the input
      cosine);
    * on ``sphere_data(n, d, last_coord=False)``, for each depth H in ``depths``: the smallest
      eigenvalue and condition number of Du et al.'s last-layer Gram ``du_deep_gram(X, H)``
      normalised to unit mean diagonal (``gram_lambda_min``, ``gram_cond``), and of the full NTK
      ``analytic_ntk(X, depth=H)`` normalised the same way, its ``ntk_lambda_min`` and the
      standard deviation of its off-diagonal entries ``ntk_spread``.
    """
    check_int(max_layer, "max_layer", minimum=1)
    rho = np.zeros((len(angles), max_layer + 1))
    for i, a in enumerate(angles):
        check_number(a, "angle", minimum=0.0, maximum=math.pi)
        X2 = torch.tensor([[1.0, 0.0], [math.cos(a), math.sin(a)]], dtype=torch.float64)
        rho[i, 0] = math.cos(a)
        for h in range(1, max_layer + 1):
            S = analytic_nngp(X2, depth=h)
            rho[i, h] = float(S[0, 1] / torch.sqrt(S[0, 0] * S[1, 1]))
    X, _, _ = sphere_data(n, d, last_coord=False, seed=seed)
    off = ~torch.eye(n, dtype=torch.bool)
    out = {k: [] for k in ("gram_lambda_min", "gram_cond", "ntk_lambda_min", "ntk_spread")}
    for H in depths:
        G = du_deep_gram(X, H)
        ev = torch.linalg.eigvalsh(G / G.diagonal().mean())
        out["gram_lambda_min"].append(float(ev[0]))
        out["gram_cond"].append(float(ev[-1] / ev[0]))
        T = analytic_ntk(X, depth=H)
        T = T / T.diagonal().mean()
        out["ntk_lambda_min"].append(min_eigenvalue(T))
        out["ntk_spread"].append(float(T[off].std()))
    return {"angles": np.array(angles), "rho": rho, "depths": np.array(depths),
            **{k: np.array(v) for k, v in out.items()}}
