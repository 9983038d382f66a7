"""Measurements of the quantities in Allen-Zhu, Li & Song's lemmas, on any ntklib model.

Notation (AZLS, arXiv 1811.03962): h_0 = phi(A x), h_l = phi(W_l h_{l-1}) for l = 1..L, f = B h_L,
D_l = diag(1[W_l h_{l-1} > 0]) the activation pattern. Every function works on models with
``features(X)`` (pre-activations and hidden layers) and ``weight_layers()``; see DESIGN.md.

* `forward_norms`: ||h_l(x_i)|| (Lemma 7.1, forward stability).
* `backward_norms`: ||B D_L W_L ... D_{l+1} W_{l+1}|| = ||d f(x_i) / d h_l|| (Lemma 7.4b).
* `spectral_norms`: ||W_l||_2 per layer and their product (the crude Lipschitz bound).
* `gradient_ratio`: ||grad F||^2 / F (Theorem 3, gradient upper and lower bounds).
* `semi_smoothness`: F(W + W') - F(W) - <grad F(W), W'> (Theorem 4).
* `interpolation_path`: F on the straight line from theta_0 to theta_T (Goodfellow et al.).
* `activation_flips`: fraction of changed signs of D_l (Lemma 8.2).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, nn

from .losses import loss_tensor, prepare_data, prepare_inputs
from .utils import check_choice, check_int, check_memory

__all__ = [
    "forward_norms",
    "backward_norms",
    "spectral_norms",
    "gradient_ratio",
    "semi_smoothness",
    "interpolation_path",
    "activation_flips",
    "flip_fractions",
    "weight_layers_of",
    "as_matrix",
]


def weight_layers_of(model: nn.Module) -> dict[str, nn.Module]:
    """The model's weight layers in forward order (``model.weight_layers()``), or, for a plain
    ``nn.Module``, one stand-in layer per named parameter (with a ``weight`` attribute)."""
    if hasattr(model, "weight_layers"):
        return dict(model.weight_layers())
    return {name: _ParamView(p) for name, p in model.named_parameters()}


class _ParamView:
    """Stand-in for a layer of a model without `weight_layers`: a single named parameter."""

    def __init__(self, p: Tensor):
        self.weight = p


def _trainable_layers(model: nn.Module) -> dict[str, Tensor]:
    return {k: l.weight for k, l in weight_layers_of(model).items() if l.weight.requires_grad}


def flip_fractions(pre0: list[Tensor], pre: list[Tensor]) -> list[Tensor]:
    """Per layer: mean over (sample, unit) of 1[(pre0 > 0) != (pre > 0)] (0-dim tensors)."""
    return [((a > 0) != (b > 0)).to(torch.float64).mean() for a, b in zip(pre0, pre)]


def as_matrix(w: Tensor) -> Tensor:
    """A weight as a matrix: conv kernels (c_out, c_in, k, k) -> (c_out, c_in * k * k)."""
    return w.reshape(w.shape[0], -1) if w.ndim != 2 else w


def _inputs(model: nn.Module, X) -> Tensor:
    """X as a tensor on the model's device and dtype (validated like `train` does)."""
    return prepare_inputs(model, X)


def _need_module(model: object, name: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (an ntklib model), got "
                        f"{type(model).__name__}")


def _need(model: nn.Module, attr: str, fn: str) -> None:
    _need_module(model, "model")
    if not hasattr(model, attr):
        raise TypeError(f"{fn} needs a model with {attr}() (an ntklib model such as MLP), got "
                        f"{type(model).__name__}")


def forward_norms(model: nn.Module, X: Tensor) -> np.ndarray:
    """Norms of the hidden layers, ||h_l(x_i)||_2 for every sample and layer.

    AZLS Lemma 7.1: at initialisation with N(0, 2/m) weights and unit inputs these concentrate
    in [1 - eps, 1 + eps], eps ~ sqrt(L log(nL) / m).

    Args:
        model: ntklib model (uses ``features(X).hidden``).
        X: inputs, shape ``(n, d)`` (or images ``(n, C, H, W)``; a hidden map is flattened).

    Returns:
        Array of shape ``(n, L + 1)``: column l is ||h_l(x_i)|| (h_0 = phi(A x), ..., h_L).
    """
    _need(model, "features", "forward_norms")
    X = _inputs(model, X)
    with torch.no_grad():
        hidden = model.features(X).hidden
        return torch.stack([h.flatten(1).norm(dim=1) for h in hidden], dim=1).cpu().numpy()


def backward_norms(model: nn.Module, X: Tensor) -> np.ndarray:
    """Norms of the back-propagated vectors, ||d f(x_i) / d h_l||, for every sample and layer.

    For the MLP, d f(x_i) / d h_l = B D_{i,L} W_L ... D_{i,l+1} W_{l+1} (a ``(d_out, m)`` matrix;
    for l = L it is B itself). This is the product bounded in AZLS Lemma 7.4b,
    ||v^T B D_{i,L} W_L ... D_{i,a} W_a|| <= O(sqrt(m)) ||v|| for a in [L + 1] (here a = l + 1,
    and the returned value is the Frobenius norm, i.e. the norm for v = e_k summed over the
    d_out outputs; for d_out = 1 it is exactly the a-th norm with v = 1).

    Computed by autograd: the gradient of sum_i f_k(x_i) with respect to h_l, row i, equals
    d f_k(x_i) / d h_l(x_i) because samples do not interact. ReLU'(0) = 0, as in D_l.

    Args:
        model: ntklib model (uses ``features(X)``); samples must not interact (no batch norm).
        X: inputs, shape ``(n, d)``.

    Returns:
        Array of shape ``(n, L + 1)``: column l is ||d f(x_i) / d h_l||_F.
    """
    _need(model, "features", "backward_norms")
    X = _inputs(model, X).clone().requires_grad_(True)  # every h_l then lies on the graph
    with torch.enable_grad():
        feats = model.features(X)
        hidden, out = feats.hidden, feats.output
        sq = [torch.zeros(X.shape[0], dtype=X.dtype, device=X.device) for _ in hidden]
        for k in range(out.shape[1]):
            grads = torch.autograd.grad(out[:, k].sum(), hidden, retain_graph=True)
            for l, g in enumerate(grads):
                sq[l] += g.flatten(1).square().sum(dim=1)
    return torch.stack(sq, dim=1).sqrt().detach().cpu().numpy()


def spectral_norms(model: nn.Module) -> tuple[dict[str, float], float]:
    """Spectral norm of every weight layer's effective matrix and the product of all of them.

    The effective matrix of a layer is ``multiplier * weight`` (what the forward pass applies);
    a conv kernel ``(c_out, c_in, k, k)`` is reshaped to ``(c_out, c_in k^2)`` (the norm of the
    kernel matrix, not the operator norm of the convolution). The product of the norms bounds
    the network's Lipschitz constant for 1-Lipschitz activations.

    Args:
        model: any module (``weight_layers()`` if present, else every parameter).

    Returns:
        ``(norms, product)``: layer name -> ||c W||_2, and prod_l ||c_l W_l||_2.
    """
    _need_module(model, "model")
    norms = {}
    with torch.no_grad():
        for name, layer in weight_layers_of(model).items():
            c = float(getattr(layer, "multiplier", 1.0))
            w = as_matrix(layer.weight.detach())
            norms[name] = c * float(torch.linalg.matrix_norm(w, ord=2))
    return norms, float(np.prod(list(norms.values())))


def _loss_and_grads(model, X, y, loss, tensors):
    with torch.enable_grad():
        obj = loss_tensor(model(X), y, loss)
        grads = torch.autograd.grad(obj, tensors)
    return obj.detach(), grads


def gradient_ratio(model: nn.Module, X: Tensor, y: Tensor, loss: str = "mse_sum") -> float:
    """||grad F(theta)||^2 / F(theta) over the trainable parameters.

    AZLS Theorem 3 (for d_out = 1, in a small ball around init): Omega(delta m / n^2) <=
    ||grad F||_F^2 / F <= O(n m). For ``"mse_sum"`` and d_out = 1, ||grad F||^2 = e^T K e with
    e = f(X) - y and K the empirical NTK of the trained layers, so the ratio lies in
    [2 lambda_min(K), 2 lambda_max(K)].

    Args:
        model: network with at least one trainable parameter.
        X: inputs ``(n, d)``; y: labels (see `ntklib.train.loss_value`); loss: loss name.

    Returns:
        The ratio as a float.
    """
    X, y = prepare_data(model, X, y, loss)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: the gradient is empty")
    obj, grads = _loss_and_grads(model, X, y, loss, params)
    return float(sum(g.square().sum() for g in grads) / obj)


def semi_smoothness(model: nn.Module, X: Tensor, y: Tensor, radii, n_directions: int = 8,
                    seed: int = 0, *, norm: str = "spectral", loss: str = "mse_sum") -> np.ndarray:
    """Second-order remainder F(W + W') - F(W) - <grad F(W), W'> along random directions.

    AZLS Theorem 4 (semi-smoothness) bounds this remainder by
    C_1 sqrt(F(W)) ||W'||_2 + C_2 ||W'||_2^2 in a ball around init. For tiny ||W'|| no activation
    flips, F is a polynomial in W' and the remainder is quadratic in r.

    Directions: for each direction j, an i.i.d. N(0, 1) matrix Z_l per trainable weight layer l
    (only the ``weight`` of layers in ``weight_layers()``; biases stay fixed). For radius r,
    W'_l = r Z_l / ||Z_l||, so that **every trainable layer has ||W'_l|| = r**, where ||.|| is the
    spectral norm (``norm="spectral"``, as in the theorem's ||W'||_2 = max_l ||W'_l||_2) or the
    Frobenius norm (``norm="frobenius"``). The same Z is used for every radius.

    Args:
        model: network (its parameters are restored afterwards).
        X: inputs ``(n, d)``; y: labels.
        radii: sequence of radii r > 0.
        n_directions: number of random directions.
        seed: seed of the directions.
        norm: ``"spectral"`` or ``"frobenius"`` (per layer).
        loss: loss name.

    Returns:
        Array of shape ``(len(radii), n_directions)``.
    """
    check_choice(norm, "norm", ("spectral", "frobenius"))
    n_directions = check_int(n_directions, "n_directions", minimum=1)
    try:
        radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"radii must be a sequence of numbers > 0, got {radii!r}") from None
    check_memory(8 * radii.size * n_directions, "the table of remainders",
                 "pass fewer radii or directions")
    if radii.size == 0 or not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError(f"radii must be a non-empty sequence of finite numbers > 0, got {radii}")
    X, y = prepare_data(model, X, y, loss)
    ws = list(_trainable_layers(model).values())
    if not ws:
        raise ValueError("the model has no trainable weight layer to perturb")
    f0, grads = _loss_and_grads(model, X, y, loss, ws)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out = np.empty((radii.size, n_directions))
    saved = [w.detach().clone() for w in ws]
    try:
        with torch.no_grad():
            for j in range(n_directions):
                zs = [torch.randn(w.shape, generator=gen, dtype=w.dtype).to(w.device) for w in ws]
                zs = [z / _norm(z, norm) for z in zs]
                for i, r in enumerate(radii):
                    for w, w0, z in zip(ws, saved, zs):
                        w.copy_(w0 + r * z)
                    inner = sum((g * z).sum() for g, z in zip(grads, zs)) * r
                    out[i, j] = float(loss_tensor(model(X), y, loss) - f0 - inner)
    finally:
        with torch.no_grad():
            for w, w0 in zip(ws, saved):
                w.copy_(w0)
    return out


def _norm(z: Tensor, norm: str) -> Tensor:
    if norm == "frobenius":
        return torch.linalg.vector_norm(z)
    return torch.linalg.matrix_norm(as_matrix(z), ord=2)


def interpolation_path(model_0: nn.Module, model_T: nn.Module, X: Tensor, y: Tensor,
                       points: int = 21, loss: str = "mse_sum") -> tuple[np.ndarray, np.ndarray]:
    """The loss along the straight line theta(s) = (1 - s) theta_0 + s theta_T, s in [0, 1].

    Goodfellow, Vinyals & Saxe (arXiv 1412.6544): no obstacle on this path. In the lazy regime
    f(theta(s)) ~ f_0 + s (f_T - f_0), so F(s) ~ 1/2 (1 - s)^2 ||f_0 - y||^2 when f_T = y.
    All parameters (trained or frozen) are interpolated; for frozen ones both ends agree.

    Args:
        model_0: the model at initialisation (e.g. ``history.model0``).
        model_T: the trained model, same architecture.
        X: inputs ``(n, d)``; y: labels.
        points: number of equally spaced s values (>= 2), endpoints included.
        loss: loss name.

    Returns:
        ``(s, F)``, two arrays of shape ``(points,)``.
    """
    points = check_int(points, "points", minimum=2)
    _need_module(model_0, "model_0")
    _need_module(model_T, "model_T")
    check_memory(8 * points, f"{points} points", "pass fewer points")
    p0, pT = dict(model_0.named_parameters()), dict(model_T.named_parameters())
    if p0.keys() != pT.keys() or any(p0[k].shape != pT[k].shape for k in p0):
        raise ValueError("model_0 and model_T must have the same architecture: pass "
                         "history.model0 and the trained model")
    X, y = prepare_data(model_T, X, y, loss)
    probe = copy.deepcopy(model_T)
    s = np.linspace(0.0, 1.0, points)
    values = np.empty(points)
    with torch.no_grad():
        for i, si in enumerate(s):
            for name, p in probe.named_parameters():
                a, b = p0[name].detach().to(p.device), pT[name].detach()
                p.copy_(a + si * (b - a) if 0 < si < 1 else (a if si == 0 else b))
            values[i] = float(loss_tensor(probe(X), y, loss))
    return s, values


def activation_flips(model_0: nn.Module, model_t: nn.Module, X: Tensor) -> np.ndarray:
    """Fraction of activation signs that differ between two models, per activation layer.

    For layer l: (1/(nm)) sum_{i,r} 1[ sign(g^(0)_{i,l})_r != sign(g_{i,l})_r ] with g_{i,l} the
    pre-activation W_l h_{i,l-1} (A x_i for l = 0) and sign meaning 1[. > 0],
    i.e. ||D_{i,l} - D^(0)_{i,l}||_0 / m averaged over samples (AZLS Lemma 8.2 bounds it by
    O(omega^{2/3} L)). Pre-activations come from each model's own forward pass, so a layer's
    pattern also changes through earlier layers.

    Args:
        model_0: reference model (e.g. ``history.model0``).
        model_t: model after training, same architecture.
        X: inputs ``(n, d)``.

    Returns:
        Array of shape ``(number of activation layers,)`` (L + 1 for the MLP: A, W1, ..., WL).
    """
    _need(model_0, "features", "activation_flips")
    _need(model_t, "features", "activation_flips")
    X = _inputs(model_t, X)
    with torch.no_grad():
        pre0 = model_0.features(X.to(next(model_0.parameters()).device)).preacts
        pre = model_t.features(X).preacts
        if len(pre0) != len(pre) or any(a.shape != b.shape for a, b in zip(pre0, pre)):
            raise ValueError("model_0 and model_t have different activation layers: pass two "
                             "copies of the same architecture")
        fr = flip_fractions([p.to(X.device) for p in pre0], pre)
    return np.asarray([float(f) for f in fr])
