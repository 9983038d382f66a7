r"""Empirical (finite-width) neural tangent kernels and kernel diagnostics.

The empirical NTK of a network :math:`f(\theta, x) \in \mathbb{R}^{d_{out}}` is

.. math::
    \hat\Theta_{kl}(x, x') = \Bigl\langle \frac{\partial f_k(\theta, x)}{\partial\theta},
    \frac{\partial f_l(\theta, x')}{\partial\theta} \Bigr\rangle ,

summed over the trained parameters. Two implementations:

* ``"layerwise"`` (fast, ntklib layers only). Forward hooks on every :class:`~ntklib.layers.Dense`
  and :class:`~ntklib.layers.Conv` record the layer input :math:`H`; one backward pass of
  :math:`\sum_i f_k(x_i)` gives :math:`G = \partial \sum_i f_k(x_i) / \partial z` for the layer
  output :math:`z`. Samples do not interact in any ntklib model, so row i of G is the gradient of
  :math:`f_k(x_i)` alone. A Dense layer ``z = c H W^T + c_b b`` contributes
  :math:`c^2 (G_1 G_2^\top) \odot (H_1 H_2^\top) + c_b^2\, G_1 G_2^\top` and never forms a tensor
  of the size of its weight. A Conv layer contributes :math:`J_1 J_2^\top` with the per-sample
  weight gradients :math:`J_i = c \sum_p G_{i,:,p} \otimes \mathrm{unfold}(H_i)_{:,p}` (one
  ``(n, c_out c_in k^2)`` tensor per conv layer: the only per-sample gradients formed).
* ``"jacobian"`` (generic): ``torch.func.vmap(jacrev(...))`` per-sample Jacobians contracted over
  all parameters. Works for any ``nn.Module`` whose samples are independent (also ``linearize``
  and ``scaled`` wrappers), at the cost of an (n, d_out, P) tensor.

Both compute in tiles of ``chunk_size`` rows/columns and refuse (``ValueError``) to start when the
estimated memory exceeds a budget (25 % of available memory, or ``max_bytes``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from .layers import Conv, Dense
from .utils import available_memory, check_choice, check_int, check_number, check_tensor

__all__ = [
    "empirical_ntk",
    "cross_ntk",
    "kernel_drift",
    "kernel_drift_hook",
    "min_eigenvalue",
    "lambda_max",
    "ntk_learning_rate",
    "available_memory",
]

_METHODS = ("auto", "layerwise", "jacobian")
_OUTPUTS = ("scalar", "trace", "full")


# ----------------------------------------------------------------------------- helpers
def _check_inputs(model: nn.Module, X: object, name: str) -> Tensor:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X = check_tensor(X, name, ndim=(2, 3, 4))
    ref = next(model.parameters(), None)
    if ref is not None and (X.dtype != ref.dtype or X.device != ref.device):
        raise TypeError(
            f"{name} is {X.dtype} on {X.device} but the model is {ref.dtype} on {ref.device}: "
            f"pass {name}.to(dtype={ref.dtype}, device='{ref.device}')"
        )
    return X


def _included(model: nn.Module, trainable_only: bool, layers=None) -> dict[str, nn.Parameter]:
    if layers is not None:
        if isinstance(layers, str) or not hasattr(model, "weight_layers"):
            raise TypeError("layers must be a list of layer names of an ntklib model, e.g. "
                            "layers=['W2']")
        available = model.weight_layers()
        unknown = [name for name in layers if name not in available]
        if unknown:
            raise ValueError(f"unknown layers {unknown}: the model's layers are "
                             f"{list(available)}")
        ids = set()
        for name in layers:
            lay = available[name]
            ids.add(id(lay.weight))
            if getattr(lay, "bias", None) is not None:
                ids.add(id(lay.bias))
        params = {k: p for k, p in model.named_parameters() if id(p) in ids}
    else:
        params = {k: p for k, p in model.named_parameters()
                  if p.requires_grad or not trainable_only}
    if not params:
        raise ValueError(
            "the model has no trainable parameters: unfreeze some, or pass trainable_only=False"
        )
    return params


def _layerwise_ok(model: nn.Module, params: dict[str, nn.Parameter]) -> bool:
    """True when every included parameter is the weight or bias of a Dense/Conv layer."""
    owned = set()
    for layer in model.modules():
        if isinstance(layer, (Dense, Conv)):
            owned.add(id(layer.weight))
            if getattr(layer, "bias", None) is not None:
                owned.add(id(layer.bias))
    return all(id(p) in owned for p in params.values())


# ----------------------------------------------------------------------------- layerwise
class _Features:
    """Per-chunk quantities of the layerwise method, for every output coordinate k.

    ``dense[k]`` is a list over Dense layers of ``(coef_w, coef_b, [(H, G), ...] one per call)``
    with H ``(c, d_in)`` and G ``(c, d_lay)``; ``jac[k]`` is the concatenated per-sample gradient
    ``(c, q)`` of the Conv layers (and of Dense layers applied to non-flat inputs), or None.
    """

    def __init__(self, d_out: int) -> None:
        self.dense: list[list[tuple[float, float, list[tuple[Tensor, Tensor]]]]] = [
            [] for _ in range(d_out)
        ]
        self.jac: list[Tensor | None] = [None] * d_out


def _layer_records(
    model: nn.Module, X: Tensor, params: dict[str, nn.Parameter]
) -> tuple[Tensor, list[tuple[nn.Module, bool, bool, list[tuple[Tensor, Tensor]]]]]:
    """Forward pass with hooks; returns the output and, per included layer, its (H, z) calls."""
    ids = {id(p) for p in params.values()}
    layers = []
    for layer in model.modules():
        if isinstance(layer, (Dense, Conv)):
            use_w = id(layer.weight) in ids
            bias = getattr(layer, "bias", None)
            use_b = bias is not None and id(bias) in ids
            if use_w or use_b:
                layers.append((layer, use_w, use_b, []))
    handles = []
    for layer, _, _, calls in layers:

        def hook(mod, inputs, output, calls=calls):
            calls.append((inputs[0].detach(), output))

        handles.append(layer.register_forward_hook(hook))
    # with frozen layers included, the input must require grad so that every layer output is
    # in the autograd graph
    frozen = any(not p.requires_grad for p in params.values())
    try:
        out = model(X.detach().requires_grad_(frozen))
    finally:
        for h in handles:
            h.remove()
    for layer, _, _, calls in layers:
        if not calls:
            raise RuntimeError(
                f"layer {layer!r} holds trained parameters but its forward was never called: "
                "use method='jacobian' for this model"
            )
    return out, layers


@torch.enable_grad()
def _layerwise_features(model: nn.Module, X: Tensor, params: dict, d_out: int) -> _Features:
    out, layers = _layer_records(model, X, params)
    out = _check_output(out, X.shape[0], d_out)
    zs = [z for _, _, _, calls in layers for _, z in calls]
    feats = _Features(d_out)
    for k in range(d_out):
        grads = torch.autograd.grad(
            out[:, k].sum(), zs, retain_graph=k < d_out - 1, allow_unused=True
        )
        grads = [torch.zeros_like(z) if g is None else g for g, z in zip(grads, zs)]
        pos, jacs = 0, []
        for layer, use_w, use_b, calls in layers:
            gs = grads[pos : pos + len(calls)]
            pos += len(calls)
            c_w = layer.multiplier if use_w else 0.0
            c_b = getattr(layer, "bias_multiplier", 0.0) if use_b else 0.0
            if isinstance(layer, Dense) and all(h.ndim == 2 for h, _ in calls):
                feats.dense[k].append((c_w, c_b, [(h, g) for (h, _), g in zip(calls, gs)]))
                continue
            jac = 0.0
            for (h, _), g in zip(calls, gs):
                jac = jac + _per_sample_grad(layer, h, g, c_w, c_b)
            jacs.append(jac)
        feats.jac[k] = torch.cat(jacs, dim=1) if jacs else None
    return feats


def _per_sample_grad(layer: nn.Module, h: Tensor, g: Tensor, c_w: float, c_b: float) -> Tensor:
    """Per-sample gradient (c, q) of one call of a Conv (or a Dense on non-flat input)."""
    n = h.shape[0]
    parts = []
    if isinstance(layer, Conv):
        k = layer.kernel_size
        u = F.unfold(h, kernel_size=k, padding=k // 2)  # (n, c_in k^2, P)
        gg = g.reshape(n, g.shape[1], -1)  # (n, c_out, P)
        if c_w:
            parts.append(c_w * torch.einsum("nop,nip->noi", gg, u).reshape(n, -1))
    else:  # Dense applied to (n, ..., d_in)
        hh = h.reshape(n, -1, h.shape[-1])  # (n, P, d_in)
        gg = g.reshape(n, -1, g.shape[-1])  # (n, P, d_lay)
        if c_w:
            parts.append(c_w * torch.einsum("npo,npi->noi", gg, hh).reshape(n, -1))
        if c_b:
            parts.append(c_b * gg.sum(1))
    if not parts:
        return h.new_zeros(n, 0)
    return torch.cat(parts, dim=1)


def _contract_layerwise(f1: _Features, f2: _Features, k: int, l: int) -> Tensor:
    """Block (k, l) of the kernel between two chunks: sum over layers of the layer formula."""
    total = None
    for (c_w, c_b, calls1), (_, _, calls2) in zip(f1.dense[k], f2.dense[l]):
        for h1, g1 in calls1:
            for h2, g2 in calls2:
                gg = g1 @ g2.T  # (c1, c2)
                if c_w:
                    term = gg * (h1 @ h2.T)
                    if c_w != 1.0:
                        term.mul_(c_w**2)
                    if c_b:
                        term.add_(gg, alpha=c_b**2)
                else:
                    term = gg * c_b**2
                if total is None:
                    total = term
                else:
                    total.add_(term)
    j1, j2 = f1.jac[k], f2.jac[l]
    if j1 is not None and j2 is not None and j1.shape[1]:
        term = j1 @ j2.T
        total = term if total is None else total + term
    return total


# ----------------------------------------------------------------------------- jacobian
@torch.enable_grad()
def _jacobian_features(model: nn.Module, X: Tensor, params: dict, d_out: int) -> Tensor:
    """Per-sample Jacobian of all included parameters, shape (c, d_out, P)."""
    detached = {k: p.detach() for k, p in params.items()}

    def f(p: dict, x: Tensor) -> Tensor:
        return functional_call(model, p, (x.unsqueeze(0),)).reshape(-1)  # (d_out,)

    jac = vmap(jacrev(f), in_dims=(None, 0))(detached, X)  # name -> (c, d_out, *shape)
    c = X.shape[0]
    flat = torch.cat([jac[k].reshape(c, d_out, -1) for k in detached], dim=2)
    return flat


# ----------------------------------------------------------------------------- main entry
def _check_output(out: object, n: int, d_out: int | None) -> Tensor:
    if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the model must return (n, d_out) = ({n}, ...), got {shape}")
    if d_out is not None and out.shape[1] != d_out:
        raise ValueError(f"inconsistent output dimension: {out.shape[1]} vs {d_out}")
    return out


@torch.enable_grad()
def _probe(model: nn.Module, X: Tensor, params: dict, method: str) -> tuple[int, int]:
    """(d_out, bytes per input row of the features) measured on one sample."""
    item = X.element_size()
    x1 = X[:1]
    if method == "jacobian":
        with torch.no_grad():
            d_out = _check_output(model(x1), 1, None).shape[1]
        n_par = sum(p.numel() for p in params.values())
        return d_out, 3 * n_par * d_out * item
    out, layers = _layer_records(model, x1, params)
    d_out = _check_output(out, 1, None).shape[1]
    acts = sum(h.numel() + z.numel() for _, _, _, calls in layers for h, z in calls)
    per_row = 3 * acts * item  # graph activations
    for layer, _, _, calls in layers:
        for h, z in calls:
            if isinstance(layer, Dense) and h.ndim == 2:
                per_row += (h.numel() + z.numel()) * d_out * item
            else:
                per_row += (layer.weight.numel() + z.numel()) * d_out * item
    return d_out, per_row


def _estimate(n1: int, n2: int, chunk: int, d_out: int, per_row: int, item: int, full: bool):
    out_elems = n1 * n2 * (d_out * d_out if full else 1)
    c1, c2 = min(chunk, n1), min(chunk, n2)
    tile = 4 * c1 * c2 * item * (d_out if full else 1)
    return out_elems * item + (c1 + c2) * per_row + tile


def empirical_ntk(
    model: nn.Module,
    X1: Tensor,
    X2: Tensor | None = None,
    *,
    method: str = "auto",
    trainable_only: bool = True,
    chunk_size: int | None = None,
    output: str = "scalar",
    max_bytes: int | None = None,
    layers: list[str] | None = None,
) -> Tensor:
    r"""Empirical NTK :math:`\hat\Theta(X_1, X_2) = J(X_1) J(X_2)^\top` of a model at its weights.

    Args:
        model: any ``nn.Module`` mapping (n, ...) to (n, d_out) with samples processed
            independently (no batch norm).
        X1: inputs, shape (n1, ...), same dtype/device as the model.
        X2: inputs (n2, ...); None means X1 (the result is then exactly symmetric).
        method: "layerwise" (ntklib Dense/Conv layers only; see the module docstring),
            "jacobian" (torch.func, any module) or "auto" (layerwise when every included
            parameter is a Dense/Conv weight or bias, else jacobian).
        trainable_only: sum over parameters with ``requires_grad`` only (the kernel that drives
            training); False includes frozen parameters too.
        chunk_size: compute in tiles of this many rows/columns (None: one tile).
        output: "scalar" -> (n1, n2), the output-averaged block
            :math:`\frac{1}{d_{out}}\sum_k \hat\Theta_{kk}` (the plain NTK when d_out = 1);
            "trace" -> (n1, n2), :math:`\sum_k \hat\Theta_{kk}`; "full" -> (n1 d_out, n2 d_out)
            with sample-major index ``i * d_out + k`` (matches ``f(X).reshape(-1)``).
        max_bytes: memory budget in bytes; default 25 % of the available memory of the device.
        layers: restrict the sum to these weight layers of an ntklib model (their weights and
            biases, trained or not), e.g. ``["W2"]`` for Du et al.'s Gram matrix
            :math:`G^{(H)}` of one layer; overrides ``trainable_only``.

    Returns:
        The kernel matrix on X1's device and dtype.

    Raises:
        ValueError: if the estimated memory exceeds the budget (the message gives the bytes
            needed and a chunk_size that fits), or for bad arguments.
    """
    check_choice(method, "method", _METHODS)
    check_choice(output, "output", _OUTPUTS)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if max_bytes is not None:
        max_bytes = check_number(max_bytes, "max_bytes", minimum=0.0, strict_min=True)
    A = _check_inputs(model, X1, "X1")
    square = X2 is None
    B = A if square else _check_inputs(model, X2, "X2")
    if not square and B.shape[1:] != A.shape[1:]:
        raise ValueError(f"X1 and X2 shapes differ beyond n: {tuple(A.shape)} vs {tuple(B.shape)}")
    params = _included(model, trainable_only, layers)
    if method == "auto":
        method = "layerwise" if _layerwise_ok(model, params) else "jacobian"
    elif method == "layerwise" and not _layerwise_ok(model, params):
        raise ValueError(
            "method='layerwise' needs every trained parameter to be a weight/bias of an ntklib "
            "Dense or Conv layer: pass method='jacobian' (or 'auto') for this model"
        )

    d_out, per_row = _probe(model, A, params, method)
    full = output == "full"
    n1, n2 = A.shape[0], B.shape[0]
    item = A.element_size()
    chunk = chunk_size if chunk_size is not None else max(n1, n2)
    budget = int(0.25 * available_memory(A.device)) if max_bytes is None else int(max_bytes)
    need = _estimate(n1, n2, chunk, d_out, per_row, item, full)
    if need > budget:
        fit = chunk
        while fit > 1 and _estimate(n1, n2, fit, d_out, per_row, item, full) > budget:
            fit //= 2
        if _estimate(n1, n2, fit, d_out, per_row, item, full) > budget:
            advice = "even chunk_size=1 does not fit: use fewer points or a larger max_bytes"
        else:
            advice = f"pass chunk_size={fit} (or smaller)"
        raise ValueError(
            f"empirical_ntk needs about {need / 2**20:.1f} MiB ({need} bytes) with chunk_size="
            f"{chunk_size}, over the budget of {budget / 2**20:.1f} MiB: {advice}"
        )

    featurize = _layerwise_features if method == "layerwise" else _jacobian_features
    blocks = A.new_zeros(n1, d_out, n2, d_out) if full else A.new_zeros(n1, n2)
    starts1 = range(0, n1, chunk)
    starts2 = list(range(0, n2, chunk))
    # keep the features of every column chunk when that fits the budget (no recomputation)
    keep = len(starts2) > 1 and need + n2 * per_row <= budget
    kept: dict[int, object] = {}

    def column_features(b: int):
        if b in kept:
            return kept[b]
        f = featurize(model, B[b : b + chunk], params, d_out)
        if keep:
            kept[b] = f
        return f

    for a in starts1:
        f1 = column_features(a) if square else featurize(model, A[a : a + chunk], params, d_out)
        for b in starts2:
            if square and b < a:
                continue  # filled by symmetry below
            f2 = f1 if (square and b == a) else column_features(b)
            rows, cols = slice(a, a + chunk), slice(b, b + chunk)
            tile = _tile(f1, f2, method, d_out, output)
            if full:
                blocks[rows, :, cols, :] = tile
                if square and b != a:
                    blocks[cols, :, rows, :] = tile.permute(2, 3, 0, 1)
            else:
                blocks[rows, cols] = tile
                if square and b != a:
                    blocks[cols, rows] = tile.T
    K = blocks.reshape(n1 * d_out, n2 * d_out) if full else blocks
    if square:
        K = 0.5 * (K + K.T)
    return K.detach()


def _tile(f1, f2, method: str, d_out: int, output: str) -> Tensor:
    """One (c1, c2) tile, or (c1, d_out, c2, d_out) for output='full'."""
    if method == "jacobian":
        if output == "full":
            return torch.einsum("ikp,jlp->ikjl", f1, f2)
        tr = torch.einsum("ikp,jkp->ij", f1, f2)
        return tr / d_out if output == "scalar" else tr
    if output == "full":
        rows = [torch.stack([_contract_layerwise(f1, f2, k, l) for l in range(d_out)], 1)
                for k in range(d_out)]
        return torch.stack(rows, 1).permute(0, 1, 3, 2)  # (c1, k, l, c2) -> (c1, k, c2, l)
    tr = sum(_contract_layerwise(f1, f2, k, k) for k in range(d_out))
    return tr / d_out if output == "scalar" else tr


def cross_ntk(model_a: nn.Module, model_b: nn.Module, X1: Tensor, X2: Tensor | None = None
              ) -> Tensor:
    r"""Cross kernel :math:`J_a(X_1)\,J_b(X_2)^\top` of two networks with the same layers.

    :math:`[\,\cdot\,]_{ij} = \langle \nabla_\theta f(\theta_a, x_i), \nabla_\theta
    f(\theta_b, x'_j)\rangle`: the inner products of the NTK feature maps at two parameter
    points (e.g. after training and at initialisation), summed over the trained parameters and
    averaged over the outputs like ``empirical_ntk(..., output="scalar")``. With ``model_b`` =
    ``model_a`` it is ``empirical_ntk(model_a, X1, X2)``. Per-sample relative feature changes
    follow from three kernels: :math:`\lVert g_a - g_b\rVert^2 = K_{aa} - 2K_{ab} + K_{bb}`.
    Uses the layerwise method (ntklib Dense layers; no (n, P) Jacobian is formed).

    Args:
        model_a, model_b: ntklib models with the same layer names, shapes and trained layers
            (e.g. a trained net and ``history.model0``).
        X1: inputs (n1, ...) for ``model_a``; X2: inputs (n2, ...) for ``model_b`` (None: X1).

    Returns:
        (n1, n2) matrix on X1's device and dtype.
    """
    A = _check_inputs(model_a, X1, "X1")
    B = A if X2 is None else _check_inputs(model_b, X2, "X2")
    _check_inputs(model_b, B, "X2")
    pa, pb = _included(model_a, True), _included(model_b, True)
    shapes_a = [(k, tuple(p.shape)) for k, p in pa.items()]
    shapes_b = [(k, tuple(p.shape)) for k, p in pb.items()]
    if shapes_a != shapes_b:
        raise ValueError("cross_ntk needs two networks with the same trained parameters (names "
                         f"and shapes), got {shapes_a} and {shapes_b}")
    if not (_layerwise_ok(model_a, pa) and _layerwise_ok(model_b, pb)):
        raise ValueError("cross_ntk needs every trained parameter to be a weight/bias of an "
                         "ntklib Dense or Conv layer")
    d_out, per_row = _probe(model_a, A, pa, "layerwise")
    need = _estimate(A.shape[0], B.shape[0], max(A.shape[0], B.shape[0]), d_out, per_row,
                     A.element_size(), False)
    budget = int(0.25 * available_memory(A.device))
    if need > budget:
        raise ValueError(f"cross_ntk needs about {need / 2**20:.1f} MiB, over the budget of "
                         f"{budget / 2**20:.1f} MiB: pass fewer points")
    fa = _layerwise_features(model_a, A, pa, d_out)
    fb = _layerwise_features(model_b, B, pb, d_out)
    return (_tile(fa, fb, "layerwise", d_out, "scalar")).detach()


# ----------------------------------------------------------------------------- diagnostics
def kernel_drift(
    model_0: nn.Module, model_t: nn.Module, X: Tensor, *, output: str = "scalar"
) -> float:
    r"""Relative kernel movement :math:`\lVert\hat\Theta_t - \hat\Theta_0\rVert_F /
    \lVert\hat\Theta_0\rVert_F` on inputs X (both kernels from :func:`empirical_ntk`)."""
    K0 = empirical_ntk(model_0, X, output=output)
    Kt = empirical_ntk(model_t, X, output=output)
    return float(torch.linalg.norm(Kt - K0) / torch.linalg.norm(K0))


def kernel_drift_hook(
    model_0: nn.Module, X: Tensor, every: int, *, output: str = "scalar"
) -> tuple[int, Callable[[nn.Module], float]]:
    """``(every, fn)`` for ``train(hooks={"drift": ...})``: fn(model) = kernel drift from model_0.

    The initial kernel is computed once, here.
    """
    every = check_int(every, "every", minimum=1)
    K0 = empirical_ntk(model_0, X, output=output)
    norm0 = torch.linalg.norm(K0)

    def fn(model: nn.Module) -> float:
        return float(torch.linalg.norm(empirical_ntk(model, X, output=output) - K0) / norm0)

    return every, fn


def _symmetric64(K: object) -> Tensor:
    K = check_tensor(K, "K", ndim=2, dtype=torch.float64)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square matrix, got shape {tuple(K.shape)}")
    return 0.5 * (K + K.T)


def min_eigenvalue(K: Tensor) -> float:
    """Smallest eigenvalue of the symmetrised kernel ``(K + K^T)/2``, computed in float64."""
    return float(torch.linalg.eigvalsh(_symmetric64(K))[0])


def lambda_max(K: Tensor) -> float:
    """Largest eigenvalue of the symmetrised kernel (float64); GD on the sum loss with the
    linearised model is stable for ``lr < 2 / lambda_max``."""
    return float(torch.linalg.eigvalsh(_symmetric64(K))[-1])


def ntk_learning_rate(model: nn.Module, X: Tensor, factor: float = 1.0, *,
                      loss: str = "mse_sum") -> float:
    r"""The step size ``factor / lambda_max`` of the empirical NTK at the model's current weights.

    The book's protocols use :math:`\eta = \text{factor}/\lambda_{\max}(\hat\Theta_0)` (in units
    of the loss curvature: :math:`\lambda_{\max}/n` for ``"mse_mean"``); GD on the linearised
    model is stable for ``factor < 2``. Allen-Zhu et al.'s theorem uses the much smaller
    :math:`\eta = \Theta(\delta/(n^4L^2m))` (``ntklib.theory.azls_learning_rate``).

    Args:
        model: network; X: inputs ``(n, ...)``; factor: > 0; loss: ``"mse_sum"`` or
            ``"mse_mean"``.

    Returns:
        The step size.
    """
    factor = check_number(factor, "factor", minimum=0.0, strict_min=True)
    check_choice(loss, "loss", ("mse_sum", "mse_mean"))
    full = int(getattr(model, "d_out", 1) or 1) > 1  # several outputs: the (n d_out)^2 kernel
    K = empirical_ntk(model, X, output="full" if full else "scalar")
    lam = lambda_max(K)
    if not lam > 0:
        raise ValueError("the empirical NTK is zero on these inputs (a dead network?): no step "
                         "size can train it")
    n = K.shape[0] if K.shape[0] == len(X) else len(X)
    return factor / (lam / n if loss == "mse_mean" else lam)
