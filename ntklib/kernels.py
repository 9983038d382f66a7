r"""Analytic infinite-width kernels of fully connected networks (NNGP, NTK, Du et al.'s Grams).

Everything here is the deterministic limit of a random network as the width m grows; the
finite-width (empirical) kernels live in ``ntk.py``. The conventions are those of the fact sheet
(THEORY.md section C): no biases unless asked for, ReLU with :math:`c_\sigma = 2`, and
:math:`\Sigma^{(0)}(x, x') = x \cdot x'` (Arora et al.; *not* divided by the input dimension).

One layer of the recursion maps the covariance :math:`S` of the pre-activations of a layer to

.. math::
    \Sigma'(x, x') = c_\sigma\, \mathbb{E}[\sigma(u)\sigma(v)], \qquad
    \dot\Sigma'(x, x') = c_\sigma\, \mathbb{E}[\sigma'(u)\sigma'(v)], \qquad
    (u, v) \sim \mathcal{N}\Bigl(0, \begin{pmatrix} S_{xx} & S_{xx'} \\ S_{xx'} & S_{x'x'}
    \end{pmatrix}\Bigr),

and every layer ``h`` whose weights are trained adds the term
:math:`T_h = \Sigma^{(h-1)} \odot \prod_{h' \ge h} \dot\Sigma^{(h')}` to the NTK. For ReLU both
expectations are the arc-cosine kernels of Cho & Saul (degree 1 and 0); for softplus they are
computed by two-dimensional Gauss-Hermite quadrature.

References:
    Arora, Du, Hu, Li, Salakhutdinov, Wang, "On Exact Computation with an Infinitely Wide Neural
    Net", arXiv 1904.11955. Cho & Saul, "Kernel Methods for Deep Learning", NeurIPS 2009.
    Du, Zhai, Poczos, Singh, arXiv 1810.02054. Du, Lee, Li, Wang, Zhai, arXiv 1811.03804.
    Allen-Zhu, Li, Song, arXiv 1811.03962.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from .utils import check_choice, check_int

__all__ = [
    "relu_step",
    "analytic_nngp",
    "analytic_ntk",
    "du_two_layer_gram",
    "du_deep_gram",
    "limit_kernel",
    "activation_constant",
]

_ACTIVATIONS = ("relu", "softplus")
_PARAMETERIZATIONS = ("ntk", "azls", "standard")
_TRAINABLE = ("all", "hidden", "last")
_QUAD_POINTS = 48  # Gauss-Hermite nodes per dimension for softplus (~1e-5 relative accuracy)


# ----------------------------------------------------------------------------- validation
def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    return check_choice(value, name, choices)


def _check_depth(depth: object, minimum: int = 0) -> int:
    return check_int(depth, "depth", minimum=minimum)


def _as_inputs(X: object, name: str) -> Tensor:
    """Returns ``X`` as a floating tensor of shape (n, d); float64 unless already floating."""
    if not isinstance(X, Tensor):
        if isinstance(X, np.ndarray):
            X = torch.from_numpy(X)
        else:
            raise TypeError(
                f"{name} must be a torch.Tensor of shape (n, d), got {type(X).__name__}"
            )
    if X.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n, d), got {tuple(X.shape)}: flatten images with "
            f"{name}.reshape(len({name}), -1)"
        )
    if not X.is_floating_point():
        X = X.to(torch.float64)
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf: clean the inputs first")
    return X


def _pair(X1: object, X2: object | None) -> tuple[Tensor, Tensor, bool]:
    A = _as_inputs(X1, "X1")
    if X2 is None:
        return A, A, True
    B = _as_inputs(X2, "X2")
    if B.shape[1] != A.shape[1]:
        raise ValueError(
            f"X1 and X2 need the same input dimension, got {A.shape[1]} and {B.shape[1]}"
        )
    if B.dtype != A.dtype or B.device != A.device:
        raise TypeError(
            f"X1 ({A.dtype}, {A.device}) and X2 ({B.dtype}, {B.device}) differ: "
            "convert X2 with X2.to(X1)"
        )
    return A, B, False


# ----------------------------------------------------------------------------- one layer
def relu_step(
    S: Tensor, diag1: Tensor | None = None, diag2: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""One ReLU layer of the infinite-width recursion (arc-cosine kernels, :math:`c_\sigma = 2`).

    With :math:`d_i = \sqrt{S_{ii}}`, :math:`\theta_{ij} = \arccos(S_{ij} / (d_i d_j))` (cosine
    clamped to [-1, 1]):

    .. math::
        \Sigma'_{ij} = \frac{d_i d_j}{\pi}\bigl(\sin\theta_{ij} + (\pi - \theta_{ij})
        \cos\theta_{ij}\bigr) = 2\,\mathbb{E}[\mathrm{relu}(u)\,\mathrm{relu}(v)], \qquad
        \dot\Sigma'_{ij} = \frac{\pi - \theta_{ij}}{\pi} = 2\,\mathbb{E}[1(u>0)\,1(v>0)].

    Where a variance is 0 (a zero input) the pre-activation is exactly 0; we then follow
    PyTorch's ``relu'(0) = 0``, so both outputs are 0 there.

    Args:
        S: covariance of the pre-activations, shape (n1, n2). If ``diag1``/``diag2`` are None,
            ``S`` must be square and its own diagonal gives the variances (then the diagonal of
            the result is set exactly: :math:`\Sigma'_{ii} = S_{ii}`, :math:`\dot\Sigma'_{ii} = 1`).
        diag1: variances :math:`S(x_i, x_i)` of the row points, shape (n1,).
        diag2: variances of the column points, shape (n2,).

    Returns:
        ``(Sigma_next, dSigma)``, each of shape (n1, n2), dtype and device of ``S``.
    """
    S = torch.as_tensor(S)
    if S.ndim != 2:
        raise ValueError(f"S must be a matrix (n1, n2), got shape {tuple(S.shape)}")
    square = diag1 is None and diag2 is None
    if square:
        if S.shape[0] != S.shape[1]:
            raise ValueError("S is not square: pass diag1= and diag2= (variances of both sides)")
        diag1 = diag2 = torch.diagonal(S)
    elif diag1 is None or diag2 is None:
        raise ValueError("pass both diag1 and diag2, or neither (square S)")
    d1 = torch.sqrt(torch.clamp(diag1, min=0.0))
    d2 = torch.sqrt(torch.clamp(diag2, min=0.0))
    norm = d1[:, None] * d2[None, :]
    positive = norm > 0
    cos = torch.where(positive, S / torch.where(positive, norm, torch.ones_like(norm)), 0.0)
    cos = torch.clamp(cos, -1.0, 1.0)
    if square:
        cos.fill_diagonal_(1.0)
    theta = torch.arccos(cos)
    sigma = norm * (torch.sin(theta) + (math.pi - theta) * cos) / math.pi
    dsigma = torch.where(positive, (math.pi - theta) / math.pi, 0.0)
    return sigma, dsigma


@lru_cache(maxsize=8)
def _hermite(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights normalised to a N(0, 1) expectation."""
    z, w = np.polynomial.hermite_e.hermegauss(q)
    return z, w / math.sqrt(2.0 * math.pi)


def _softplus(z: Tensor) -> Tensor:
    return torch.nn.functional.softplus(z)


@lru_cache(maxsize=4)
def activation_constant(activation: str = "relu") -> float:
    r"""The normalisation :math:`c_\sigma = 1 / \mathbb{E}_{z \sim N(0,1)}[\sigma(z)^2]`.

    It is exactly 2 for ReLU; for softplus it is computed by 1-D Gauss-Hermite quadrature
    (about 1.0855). Du et al. (arXiv 1811.03804) and Arora et al. use this constant.
    """
    _check_choice("activation", activation, _ACTIVATIONS)
    if activation == "relu":
        return 2.0
    z, w = _hermite(200)
    values = _softplus(torch.from_numpy(z)).numpy()
    return float(1.0 / np.sum(w * values**2))


def _softplus_step(
    S: Tensor, v1: Tensor, v2: Tensor, square: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""Softplus layer: :math:`c_\sigma E[\sigma\sigma]`, :math:`c_\sigma E[\sigma'\sigma']`.

    Writes :math:`u = a z_1`, :math:`v = b(\rho z_1 + \sqrt{1-\rho^2} z_2)` with
    :math:`z_1, z_2 \sim N(0,1)` independent and sums over a ``q x q`` Gauss-Hermite grid.
    Rows are processed in blocks so the (rows, n2, q, q) temporaries stay below ~32 MB; for a
    square S only the upper block triangle is integrated. Accuracy: about 1e-5 relative with
    q = 48 nodes (checked against q = 96).
    """
    c = activation_constant("softplus")
    z_np, w_np = _hermite(_QUAD_POINTS)
    z = torch.as_tensor(z_np, dtype=S.dtype, device=S.device)
    w = torch.as_tensor(w_np, dtype=S.dtype, device=S.device)
    a = torch.sqrt(torch.clamp(v1, min=0.0))  # (n1,)
    b = torch.sqrt(torch.clamp(v2, min=0.0))  # (n2,)
    norm = a[:, None] * b[None, :]
    positive = norm > 0
    rho = torch.where(positive, S / torch.where(positive, norm, torch.ones_like(norm)), 0.0)
    rho = torch.clamp(rho, -1.0, 1.0)
    if square:
        rho.fill_diagonal_(1.0)
    perp = torch.sqrt(torch.clamp(1.0 - rho**2, min=0.0))
    u = a[:, None] * z[None, :]  # (n1, q)
    fu, du = _softplus(u), torch.sigmoid(u)  # (n1, q)
    n1, n2, q = S.shape[0], S.shape[1], z.numel()
    sig = torch.empty_like(S)
    dsig = torch.empty_like(S)
    rows = max(1, int(4e6 // max(1, n2 * q * q)))
    for start in range(0, n1, rows):
        sl = slice(start, start + rows)
        cols = slice(start if square else 0, n2)  # square: upper block triangle, mirrored below
        # v[i, j, k, l] = b_j (rho_ij z_k + perp_ij z_l)
        v = b[None, cols, None, None] * (
            rho[sl, cols, None, None] * z[None, None, :, None]
            + perp[sl, cols, None, None] * z[None, None, None, :]
        )
        gv = torch.einsum("ijkl,l->ijk", _softplus(v), w)  # integrate over z2
        dgv = torch.einsum("ijkl,l->ijk", torch.sigmoid(v), w)
        sig[sl, cols] = c * torch.einsum("ik,ijk,k->ij", fu[sl], gv, w)
        dsig[sl, cols] = c * torch.einsum("ik,ijk,k->ij", du[sl], dgv, w)
    if square:  # copy the upper triangle (computed) onto the lower one
        upper = torch.triu(torch.ones_like(S, dtype=torch.bool))
        sig = torch.where(upper, sig, sig.T)
        dsig = torch.where(upper, dsig, dsig.T)

    def var_next(var: Tensor) -> Tensor:
        s = torch.sqrt(torch.clamp(var, min=0.0))[:, None] * z[None, :]
        return c * (_softplus(s) ** 2) @ w

    return sig, dsig, var_next(v1), var_next(v2)


def _step(
    S: Tensor, v1: Tensor, v2: Tensor, square: bool, activation: str
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One activation layer on (cross covariance, variances) -> (Sigma, dSigma, variances)."""
    if activation == "relu":
        if square:
            sig, dsig = relu_step(S)
        else:
            sig, dsig = relu_step(S, v1, v2)
        return sig, dsig, v1, v2  # c_sigma = 2 preserves the variances exactly
    return _softplus_step(S, v1, v2, square)


def _kernel_sum(
    X1: Tensor,
    X2: Tensor,
    square: bool,
    n_act: int,
    coefs: list[float],
    activation: str,
    bias_coefs: list[float] | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Weighted sum of per-layer NTK terms of an ``n_act``-activation network.

    Network (Arora's form): :math:`f^{(1)} = W^{(1)}x`,
    :math:`f^{(h+1)} = W^{(h+1)} \sqrt{c/m}\,\sigma(f^{(h)})`, output :math:`f^{(n_{act}+1)}`, all
    weights N(0, 1). Layer h (1-based, ``n_act + 1`` layers) adds

    .. math::
        \bigl(\mathrm{coefs}_h\,\Sigma^{(h-1)} + \mathrm{bias\_coefs}_h\bigr) \odot
        \prod_{h'=h}^{n_{act}} \dot\Sigma^{(h')},

    the weight term and the term of a zero-initialised trained bias added to :math:`f^{(h)}`.

    Returns ``(ntk, nngp)`` where nngp is the covariance :math:`\Sigma^{(n_{act})}` of the
    last features.
    """
    if bias_coefs is None:
        bias_coefs = [0.0] * (n_act + 1)
    S = X1 @ X2.T  # Sigma^(0), shape (n1, n2)
    v1 = (X1 * X1).sum(1)
    v2 = v1 if square else (X2 * X2).sum(1)
    if activation == "relu" and bool((v1 > 0).all()) and bool((v2 > 0).all()):
        return _relu_sum(S, v1, v2, square, n_act, coefs, bias_coefs)
    theta = coefs[0] * S + bias_coefs[0]
    for h in range(1, n_act + 1):
        S, dsig, v1, v2 = _step(S, v1, v2, square, activation)
        theta = theta * dsig + coefs[h] * S + bias_coefs[h]
    if square:
        theta = 0.5 * (theta + theta.T)
        S = 0.5 * (S + S.T)
    return theta, S


_BLOCK = 256  # tile side of the ReLU fast path: (256, 256) temporaries stay in cache


def _relu_block(
    S: Tensor, d1: Tensor, d2: Tensor, on_diagonal: bool, n_act: int, coefs, bias_coefs
) -> tuple[Tensor, Tensor]:
    """The ReLU recursion on one tile (see :func:`_relu_sum`)."""
    norm = d1[:, None] * d2[None, :]  # d_i d_j
    rho = (S / norm).clamp_(-1.0, 1.0)
    if on_diagonal:
        rho.fill_diagonal_(1.0)
    theta = coefs[0] * S
    if bias_coefs[0]:
        theta.add_(bias_coefs[0])
    inv_pi = 1.0 / math.pi
    for h in range(1, n_act + 1):
        sin = (rho * rho).neg_().add_(1.0).clamp_(min=0.0).sqrt_()
        dsig = torch.atan2(sin, rho).neg_().add_(math.pi)  # pi - angle
        new = sin.addcmul_(dsig, rho).mul_(inv_pi).clamp_(-1.0, 1.0)  # next cosine
        if on_diagonal:
            new.fill_diagonal_(1.0)
        theta.mul_(dsig.mul_(inv_pi))
        if coefs[h]:
            theta.addcmul_(norm, new, value=coefs[h])
        if bias_coefs[h]:
            theta.add_(bias_coefs[h])
        rho = new
    sigma = rho.mul_(norm)
    if on_diagonal:
        theta, sigma = 0.5 * (theta + theta.T), 0.5 * (sigma + sigma.T)
    return theta, sigma


def _relu_sum(
    S: Tensor,
    v1: Tensor,
    v2: Tensor,
    square: bool,
    n_act: int,
    coefs: list[float],
    bias_coefs: list[float],
) -> tuple[Tensor, Tensor]:
    r"""Fast path of :func:`_kernel_sum` for ReLU and non-zero inputs (same formulas).

    With c = 2 the variances never change, so the recursion runs on the cosines
    :math:`\rho = \Sigma / (d_i d_j)`:

    .. math::
        s = \sqrt{1 - \rho^2},\quad \theta = \mathrm{atan2}(s, \rho),\quad
        \rho' = \frac{s + (\pi - \theta)\rho}{\pi},\quad
        \dot\Sigma = \frac{\pi - \theta}{\pi},

    with in-place operations, tile by tile (all layers of a tile while it is in cache). For a
    square kernel only the tiles on and above the diagonal are computed and mirrored, so the
    result is exactly symmetric.
    """
    d1, d2 = torch.sqrt(v1), torch.sqrt(v2)
    n1, n2 = S.shape
    theta, sigma = torch.empty_like(S), torch.empty_like(S)
    for i in range(0, n1, _BLOCK):
        rows = slice(i, i + _BLOCK)
        for j in range(i if square else 0, n2, _BLOCK):
            cols = slice(j, j + _BLOCK)
            t, s = _relu_block(
                S[rows, cols], d1[rows], d2[cols], square and i == j, n_act, coefs, bias_coefs
            )
            theta[rows, cols], sigma[rows, cols] = t, s
            if square and i != j:
                theta[cols, rows], sigma[cols, rows] = t.T, s.T
    return theta, sigma


def _layer_coefs(
    n_act: int, parameterization: str, trainable: str, width: int | None, d_out: int, c: float
) -> tuple[list[float], list[float]]:
    """Coefficients of each layer's weight term and bias term (n_act + 1 layers).

    All three parameterizations give the same random function (ReLU is positively homogeneous;
    "standard" equals "ntk" for any activation); only the gradient scale differs:
      ntk:      weights 1, biases 1.
      standard: weights: first layer 1, later layers m / c (weight = sqrt(c/m) N(0, 1)); biases 1.
      azls:     weights and biases of the first and hidden layers m / (c d_out) (their outputs
                are sqrt(c/m) times Arora's and B ~ N(0, 1/d_out)); output layer 1.
    ``width=None`` (azls, standard) keeps only the leading order in m, normalised: the terms that
    grow like m get coefficient 1, the O(1) terms 0.
    """
    n_layers = n_act + 1
    if parameterization == "ntk":
        coefs = [1.0] * n_layers
        bias = [1.0] * n_layers
    elif parameterization == "standard":
        big = 1.0 if width is None else width / c
        small = 0.0 if width is None else 1.0
        coefs = [small] + [big] * (n_layers - 1)
        bias = [small] * n_layers
    else:  # azls
        big = 1.0 if width is None else width / (c * d_out)
        small = 0.0 if width is None else 1.0
        coefs = [big] * (n_layers - 1) + [small]
        bias = list(coefs)
    if trainable == "hidden":
        mask = [0.0] + [1.0] * (n_layers - 2) + [0.0]
    elif trainable == "last":
        mask = [0.0] * (n_layers - 1) + [1.0]
    else:
        mask = [1.0] * n_layers
    return [a * b for a, b in zip(coefs, mask)], [a * b for a, b in zip(bias, mask)]


def analytic_ntk(
    X1: Tensor,
    X2: Tensor | None = None,
    *,
    depth: int,
    parameterization: str = "ntk",
    bias: bool = False,
    width: int | None = None,
    d_out: int = 1,
    trainable: str | None = None,
    activation: str = "relu",
) -> Tensor:
    r"""Infinite-width NTK of a fully connected network (per output coordinate).

    ``parameterization="ntk"`` (Arora et al. 2019, arXiv 1904.11955, all layers trained): the net
    :math:`f = W^{(L+1)} g^{(L)}`, :math:`g^{(h)} = \sqrt{c_\sigma/m}\,\sigma(W^{(h)} g^{(h-1)})`,
    :math:`g^{(0)} = x`, all weights N(0, 1), and ``depth = L`` = number of ReLU layers. With
    :math:`\Sigma^{(0)} = x\cdot x'` and the one-layer map of :func:`relu_step`,

    .. math::
        \Theta^{(0)} = \Sigma^{(0)}, \qquad
        \Theta^{(h)} = \Theta^{(h-1)} \odot \dot\Sigma^{(h)} + \Sigma^{(h)}, \qquad
        \text{result} = \Theta^{(L)},

    so :math:`\Theta(x, x) = (L+1)\lVert x\rVert^2`. In neural-tangents (0.6.5) this is
    ``kernel_fn(X1, X2, "ntk")`` of ``stax.serial(Dense(w, W_std=sqrt(d_in)), Relu(),
    [Dense(w, W_std=sqrt(2)), Relu()] * (depth - 1), Dense(1, W_std=sqrt(2)))`` with
    ``b_std=None`` (``sqrt(d_in)`` undoes neural-tangents' ``x.x'/d_in`` input normalisation, and
    ``W_std=sqrt(2)`` turns its c = 1 ``Relu`` into our c = 2).

    ``parameterization="azls"`` (Allen-Zhu, Li, Song): the kernel of
    ``MLP(parameterization="azls", trainable="hidden", depth=L)`` with A and B frozen, ``depth = L``
    = number of trained hidden m x m matrices (L + 1 ReLU layers). With ``width=None`` it returns
    the O(1) normalised kernel

    .. math::
        k_{AZ} = \sum_{l=1}^{L} \Sigma_{l-1} \odot \prod_{k=l}^{L} \dot\Sigma_k, \qquad
        \Sigma_0 = \Sigma^{(1)} \text{ (the kernel of } h_0),

    whose diagonal is L for unit inputs; with ``width=m`` it returns the kernel of the width-m net,
    :math:`K_{AZ} = \frac{m}{2 d_{out}} k_{AZ}` (which grows like m).

    ``parameterization="standard"`` (same random function as "ntk", scale in the weights):
    ``depth`` = number of ReLU layers as for "ntk"; every layer after the first has coefficient
    m/c, so pass ``width`` (``width=None`` gives the leading order :math:`\lim (c/m)\Theta`).

    Args:
        X1: inputs, shape (n1, d). float64 recommended.
        X2: inputs, shape (n2, d); None means X1 (then the result is exactly symmetric).
        depth: see above (number of ReLU layers for "ntk"/"standard", L for "azls"); depth 0 is
            the linear model for "ntk".
        parameterization: "ntk", "azls" or "standard".
        bias: trained biases initialised at zero with multiplier 1 on every layer, as in
            ``MLP(bias=True)``: they do not change the law at init (nor the NNGP) but add
            :math:`\prod_{h' \ge h}\dot\Sigma^{(h')}` (times the layer's scale) per layer.
        width: m, for the width-scaled "azls"/"standard" kernels; ignored for "ntk".
        d_out: number of outputs (only the "azls" scaling m / (2 d_out) uses it).
        trainable: which layers are trained: "all", "hidden" (all but the first and last layer)
            or "last"; default "all" for "ntk"/"standard" and "hidden" for "azls".
        activation: "relu" (closed form) or "softplus" (Gauss-Hermite quadrature, c_sigma =
            1/E[softplus(z)^2]; "ntk"/"standard" only, since softplus is not homogeneous).

    Returns:
        Kernel matrix (n1, n2), dtype/device of X1. The multi-output limit is this kernel
        tensored with the identity on outputs.
    """
    _check_choice("parameterization", parameterization, _PARAMETERIZATIONS)
    _check_choice("activation", activation, _ACTIVATIONS)
    if trainable is None:
        trainable = "hidden" if parameterization == "azls" else "all"
    _check_choice("trainable", trainable, _TRAINABLE)
    depth = _check_depth(depth, 1 if parameterization == "azls" else 0)
    if width is not None and (isinstance(width, bool) or not isinstance(width, int) or width < 1):
        raise ValueError(f"width must be None or an integer >= 1, got {width!r}")
    if isinstance(d_out, bool) or not isinstance(d_out, int) or d_out < 1:
        raise ValueError(f"d_out must be an integer >= 1, got {d_out!r}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    if parameterization == "azls" and activation != "relu":
        raise ValueError(
            "the 'azls' kernel is derived for ReLU only (it uses positive homogeneity): "
            "pass activation='relu' or parameterization='ntk'"
        )
    n_act = depth + 1 if parameterization == "azls" else depth
    if trainable == "hidden" and n_act < 1:
        raise ValueError("trainable='hidden' needs a hidden layer: pass depth >= 1")
    A, B, square = _pair(X1, X2)
    c = activation_constant(activation)
    coefs, bias_coefs = _layer_coefs(n_act, parameterization, trainable, width, d_out, c)
    if width is None and parameterization != "ntk" and not any(coefs):
        raise ValueError(
            f"with width=None the normalised {parameterization!r} kernel of trainable="
            f"{trainable!r} is 0 (it does not grow with m): pass width=m"
        )
    theta, _ = _kernel_sum(A, B, square, n_act, coefs, activation, bias_coefs if bias else None)
    return theta


def analytic_nngp(
    X1: Tensor,
    X2: Tensor | None = None,
    *,
    depth: int,
    parameterization: str = "ntk",
    d_out: int = 1,
    activation: str = "relu",
) -> Tensor:
    r"""Infinite-width NNGP kernel: the covariance :math:`\mathbb{E}[f(x) f(x')]` at initialisation.

    ``"ntk"``/``"standard"``: :math:`\Sigma^{(L)}` with ``depth = L`` activation layers (the
    output weights have unit variance after the :math:`\sqrt{c/m}` scaling), so for ReLU the
    diagonal is :math:`\lVert x\rVert^2` at every depth. ``"azls"``: ``depth = L`` hidden
    matrices, :math:`\Sigma^{(L+1)} / d_{out}` because :math:`B \sim N(0, 1/d_{out})`.
    Zero-initialised biases (``MLP(bias=True)``) do not change it.

    Args:
        X1: inputs (n1, d). X2: inputs (n2, d) or None (= X1).
        depth, parameterization, d_out, activation: as in :func:`analytic_ntk`.

    Returns:
        Covariance matrix (n1, n2) per output coordinate.
    """
    _check_choice("parameterization", parameterization, _PARAMETERIZATIONS)
    _check_choice("activation", activation, _ACTIVATIONS)
    depth = _check_depth(depth, 1 if parameterization == "azls" else 0)
    if parameterization == "azls" and activation != "relu":
        raise ValueError("the 'azls' NNGP is derived for ReLU only: pass activation='relu'")
    n_act = depth + 1 if parameterization == "azls" else depth
    A, B, square = _pair(X1, X2)
    _, nngp = _kernel_sum(A, B, square, n_act, [0.0] * (n_act + 1), activation)
    return nngp / d_out if parameterization == "azls" else nngp


def du_two_layer_gram(X: Tensor, X2: Tensor | None = None) -> Tensor:
    r"""Du, Zhai, Poczos, Singh's limiting Gram matrix :math:`H^\infty` (arXiv 1810.02054).

    .. math::
        H^\infty_{ij} = \mathbb{E}_{w \sim N(0, I)}\bigl[x_i^\top x_j\,
        1\{w^\top x_i \ge 0, w^\top x_j \ge 0\}\bigr]
        = \tfrac12 (X X^\top)_{ij}\, \dot\Sigma^{(1)}_{ij}
        = \frac{x_i^\top x_j\,(\pi - \theta_{ij})}{2\pi},

    the limit of the NTK of :math:`f(x) = m^{-1/2}\sum_r a_r\,\mathrm{relu}(w_r^\top x)` with
    only W trained (``TwoLayerNet``). Here :math:`\Sigma^{(0)} \odot \dot\Sigma^{(1)} = 2H^\infty`.

    Args:
        X: inputs, shape (n, d) (unit norm in the paper, but any norm works).
        X2: optional second set (n2, d) for the cross-Gram.

    Returns:
        (n, n) (or (n, n2)) matrix.
    """
    A, B, square = _pair(X, X2)
    S = A @ B.T
    if square:
        _, dsig = relu_step(S)
    else:
        _, dsig = relu_step(S, (A * A).sum(1), (B * B).sum(1))
    H = 0.5 * S * dsig
    return 0.5 * (H + H.T) if square else H


def du_deep_gram(X: Tensor, depth: int, activation: str = "relu") -> Tensor:
    r"""Du, Lee, Li, Wang, Zhai's last-hidden-layer Gram limit :math:`K^{(H)}` (arXiv 1811.03804).

    For the FC net :math:`x^{(h)} = \sqrt{c_\sigma/m}\,\sigma(W^{(h)} x^{(h-1)})`, ``H = depth``:

    .. math::
        K^{(0)} = X X^\top, \quad K^{(h)} = c_\sigma \mathbb{E}[\sigma(u)\sigma(v)]
        \ (h < H), \quad
        K^{(H)} = c_\sigma K^{(H-1)} \odot \mathbb{E}[\sigma'(u)\sigma'(v)],

    with (u, v) drawn from the 2x2 covariance built from :math:`K^{(H-1)}`. It is the limit of
    :math:`G^{(H)}_{ij} = \langle \partial u_i/\partial W^{(H)}, \partial u_j/\partial W^{(H)}
    \rangle` (a ~ N(0, 1) output weights). For ReLU (:math:`c_\sigma = 2`) this is
    :math:`\Sigma^{(H-1)} \odot \dot\Sigma^{(H)}`; at H = 1 it equals :math:`2 H^\infty`
    (:math:`c_\sigma` times :func:`du_two_layer_gram`, the two-layer net having fixed
    :math:`\pm 1` output weights and no :math:`c_\sigma`). Softplus uses 2-D Gauss-Hermite
    quadrature with :math:`c_\sigma = 1/\mathbb{E}[\mathrm{softplus}(z)^2]` (Du et al.'s
    theorems assume a smooth activation such as softplus; they do not cover ReLU).

    Args:
        X: inputs (n, d).
        depth: H >= 1, the number of layers of the FC net.
        activation: "relu" or "softplus".

    Returns:
        (n, n) symmetric PSD matrix.
    """
    _check_choice("activation", activation, _ACTIVATIONS)
    depth = _check_depth(depth, 1)
    A = _as_inputs(X, "X")
    coefs = [0.0] * (depth + 1)
    coefs[depth - 1] = 1.0  # only the weights of layer H: T_H = K^(H-1) * dSigma^(H)
    K, _ = _kernel_sum(A, A, True, depth, coefs, activation)
    return K


# ----------------------------------------------------------------------------- models
def limit_kernel(model: torch.nn.Module, X1: Tensor, X2: Tensor | None = None) -> Tensor:
    r"""The infinite-width kernel that ``empirical_ntk(model, X1, X2)`` converges to.

    The result keeps the model's width where the kernel grows with it (AZLS/standard), so it is
    directly comparable with the empirical NTK of *this* model; the relative error falls like
    :math:`m^{-1/2}`. Mapping (``L = model.depth``; an MLP has L + 1 activation layers):

    * ``MLP(parameterization="ntk", trainable="all")`` -> ``analytic_ntk(depth=L+1)`` (Arora);
      ``"hidden"``/``"last"`` -> the same sum restricted to the W_l terms / the B term.
    * ``MLP(parameterization="azls", trainable="hidden")`` -> :math:`K_{AZ}` =
      ``analytic_ntk(depth=L, parameterization="azls", width=m, d_out=d_out)``; ``"all"`` adds the A
      term (also times :math:`m/(2 d_{out})`) and the O(1) B term :math:`\Sigma^{(L+1)}`;
      ``"last"`` is :math:`\Sigma^{(L+1)}` alone (ReLU only).
    * ``MLP(parameterization="standard")``: the "ntk" terms with coefficient m/c for W_l and B.
    * Softplus MLPs ("ntk"/"standard") use the quadrature recursion with
      :math:`c_\sigma = 1/E[\mathrm{softplus}^2]`; ``bias=True`` adds the zero-init bias terms.
    * ``TwoLayerNet``: ``"hidden"`` (W trained) -> :math:`H^\infty` (:func:`du_two_layer_gram`);
      ``"last"`` (a trained) -> :math:`\Sigma^{(1)}/2`; ``"all"`` -> the sum.

    ResNet, CNN, FixedPatternNet and wrappers raise ``NotImplementedError``.
    For d_out > 1 the limit is this kernel times the identity on outputs, i.e. the limit of
    ``empirical_ntk(..., output="scalar")`` (the output-averaged diagonal block).

    Args:
        model: an ntklib model (only its attributes are read; its weights are not used).
        X1: inputs (n1, d_in). X2: inputs (n2, d_in) or None.

    Returns:
        (n1, n2) kernel in the dtype/device of X1.
    """
    name = type(model).__name__
    if name == "TwoLayerNet":
        trainable = model.trainable
        H = du_two_layer_gram(X1, X2) if trainable in ("hidden", "all") else 0.0
        if trainable in ("last", "all"):
            H = H + 0.5 * analytic_nngp(X1, X2, depth=1)
        return H
    if name != "MLP":
        raise NotImplementedError(
            f"limit_kernel has no closed form for {name}: it supports MLP and TwoLayerNet; use "
            "empirical_ntk at a large width as a Monte Carlo estimate instead"
        )
    parameterization = model.parameterization
    trainable = model.trainable
    activation = getattr(model, "activation", "relu")
    if parameterization not in _PARAMETERIZATIONS or trainable not in _TRAINABLE:
        raise NotImplementedError(
            f"limit_kernel: unsupported MLP(parameterization={parameterization!r}, "
            f"trainable={trainable!r})"
        )
    if activation not in _ACTIVATIONS or (parameterization == "azls" and activation != "relu"):
        raise NotImplementedError(
            f"limit_kernel: MLP(parameterization={parameterization!r}, activation="
            f"{activation!r}) is not modelled (azls needs ReLU's homogeneity): use relu, or "
            "parameterization 'ntk'/'standard'"
        )
    L, m, d_out = int(model.depth), int(model.width), int(getattr(model, "d_out", 1))
    A, B, square = _pair(X1, X2)
    c = activation_constant(activation)
    coefs, bias_coefs = _layer_coefs(L + 1, parameterization, trainable, m, d_out, c)
    has_bias = bool(getattr(model, "bias", False)) or any(
        getattr(layer, "bias", None) is not None for layer in model.modules() if layer is not model
    )
    theta, _ = _kernel_sum(
        A, B, square, L + 1, coefs, activation, bias_coefs if has_bias else None
    )
    return theta
