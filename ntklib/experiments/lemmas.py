r"""Allen-Zhu, Li, Song's lemmas at and near the random initialisation (arXiv 1811.03962).

The network is theirs: ``MLP(d, m, depth, parameterization="azls", trainable="hidden")``, with
their :math:`L` = ``depth - 1`` trained hidden matrices :math:`W_1..W_L` between the frozen input
layer :math:`A` and output layer :math:`B`; :math:`h_0 = \phi(Ax)`, :math:`h_\ell =
\phi(W_\ell h_{\ell-1})`, :math:`D_\ell` the ReLU gates. Data: ``sphere_data`` (unit inputs, last
coordinate :math:`1/\sqrt2`), sum loss. Each function measures one family of quantities of the
proofs (forward norms, gated products, backward norms, the norm map across depth, the same at a
perturbed point and after training) and returns plain floats and numpy arrays (see
``practical.py`` for the conventions shared by every experiment module).

Random directions used for perturbations are drawn on the CPU from their own generator and moved
to the model's device, so a seed gives the same perturbation on every device.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..analysis import fit_slope
from ..data import near_duplicate_pair, sphere_data
from ..diagnostics import activation_flips, backward_norms, forward_norms, spectral_norms
from ..kernels import analytic_nngp, limit_kernel
from ..losses import loss_value
from ..models import MLP
from ..ntk import empirical_ntk, min_eigenvalue, ntk_learning_rate
from ..train import train
from ..utils import check_choice, check_int, check_number, make_generator
from ._common import ints, positive

__all__ = [
    "perturbed",
    "forward_deviation",
    "gated_product_norms",
    "backward_profile",
    "depth_profile",
    "perturbation_stability",
    "trained_stability",
    "floor_per_width",
]


def perturbed(model: torch.nn.Module, omega: float, seed: int = 0) -> torch.nn.Module:
    r"""A copy of ``model`` whose every *trained* weight layer moved by ``omega`` in spectral norm.

    :math:`W_\ell \to W_\ell + \omega Z_\ell / \lVert Z_\ell\rVert_2` with :math:`Z_\ell` an i.i.d.
    :math:`N(0, 1)` matrix per trained layer (drawn on the CPU from ``seed``, then moved to the
    model's device), so :math:`\lVert W - W^{(0)}\rVert_2 = \omega` layer by layer: a random point
    on the sphere of the ball the lemmas are about. Frozen layers (A and B) are not moved.

    Args:
        model: an ntklib model (``weight_layers()``); it is not modified.
        omega: the radius, >= 0.
        seed: seed of the directions.

    Returns:
        The perturbed copy.
    """
    omega = check_number(omega, "omega", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    out = copy.deepcopy(model)
    gen = make_generator(seed)
    with torch.no_grad():
        for layer in out.weight_layers().values():
            w = layer.weight
            if w.requires_grad:
                z = torch.randn(w.shape, generator=gen, dtype=torch.float64)
                z = z / torch.linalg.matrix_norm(z.reshape(z.shape[0], -1), ord=2)
                w.add_((omega * z).to(dtype=w.dtype, device=w.device))
    return out


def _azls(d: int, width: int, depth: int, seed: int, device: str) -> MLP:
    return MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed,
               device=device)


def _lemma_scale(n: int, depth: int, width: int) -> float:
    """The reading of Lemma 7.1 tested here: sqrt(L log(nL) / m) with L = depth - 1 >= 1."""
    L = max(depth - 1, 1)
    return math.sqrt(L * math.log(max(n * L, 2)) / width)


# ----------------------------------------------------------------------------- at initialisation


def forward_deviation(width: int, depth: int, *, n: int = 16, d: int = 10, n_seeds: int = 4,
                      seed: int = 0, device: str = "cpu") -> dict:
    r"""Lemma 7.1 (forward stability): :math:`\max_{i,\ell} |\lVert h_{i,\ell}\rVert - 1|`.

    For each of ``n_seeds`` independent networks (seeds ``seed, seed + 1, ...``) on the same
    ``n`` inputs, the largest deviation over samples and layers :math:`\ell = 0..L`; the
    deviations are averaged geometrically over the networks (the slope fits of the chapter are in
    log scale).

    Returns:
        dict with ``deviation`` (geometric mean over networks), ``per_seed`` (array
        ``(n_seeds,)``), ``lemma_scale`` :math:`\sqrt{L\log(nL)/m}` (:math:`L` = ``depth - 1``),
        ``norms`` (``(n, depth)`` array of :math:`\lVert h_{i,\ell}\rVert` of the first network).
    """
    width, depth, n, d, n_seeds = ints(width=width, depth=depth, n=n, d=d,
                                       n_seeds=n_seeds).values()
    X, _, _ = sphere_data(n, d, seed=seed, device=device)
    devs, first = [], None
    for s in range(n_seeds):
        norms = forward_norms(_azls(d, width, depth, seed + s, device), X)  # (n, depth)
        first = norms if first is None else first
        devs.append(float(np.abs(norms - 1.0).max()))
    devs = np.asarray(devs)
    return {"deviation": float(np.exp(np.log(devs).mean())), "per_seed": devs,
            "lemma_scale": _lemma_scale(n, depth, width), "norms": first}


def gated_product_norms(width: int = 256, depth: int = 65, *, at=(1, 2, 4, 8, 16, 32, 64),
                        n: int = 4, d: int = 10, seed: int = 0, device: str = "cpu") -> dict:
    r"""Spectral norm of the gated product :math:`M_{i,L} = D_{i,L} W_L \cdots D_{i,1} W_1`.

    One network with ``depth - 1`` hidden matrices; its first :math:`L` of them are distributed
    exactly like a network with :math:`L` hidden matrices, so one pass gives every :math:`L` in
    ``at``. For each sample the product is accumulated layer by layer (m x m matrices) and its
    largest singular value read at each :math:`L` in ``at``.

    Reference curves: the naive bound :math:`\prod_{\ell \le L}\lVert W_\ell\rVert_2`, and the
    large-m top singular value of a product of :math:`L` independent square Gaussian matrices
    normalised to preserve norms, :math:`\sqrt{(L+1)^{L+1}/L^L} \approx \sqrt{e(L+1)}` (the edge
    of the Fuss-Catalan law; a reference for the shape, not a theorem about gated products).

    Returns:
        dict with ``at`` (the L values), ``gated`` (mean over samples), ``gated_max`` (max over
        samples), ``naive`` (the product of norms), ``measured`` (:math:`\max_i\lVert
        h_{i,L}\rVert`), ``w_spec`` (every :math:`\lVert W_\ell\rVert_2`, ``(depth - 1,)``),
        ``reference`` (the Fuss-Catalan edge), ``slope`` (log-log slope of ``gated`` in L; NaN
        for a single L).
    """
    width, depth, n, d = ints(width=width, depth=depth, n=n, d=d).values()
    at = np.asarray(sorted({check_int(a, "each entry of at", minimum=1) for a in at}))
    if at[-1] > depth - 1:
        raise ValueError(f"at asks for L = {int(at[-1])} but the network has depth - 1 = "
                         f"{depth - 1} hidden matrices: pass depth >= {int(at[-1]) + 1}")
    X, _, _ = sphere_data(n, d, seed=seed + 1, device=device)
    net = _azls(d, width, depth, seed, device)
    norms, _ = spectral_norms(net)
    w_spec = np.array([norms[f"W{ell}"] for ell in range(1, depth)])
    layers = net.weight_layers()
    gated = np.empty((n, at.size))
    with torch.no_grad():
        feats = net.features(X)  # preacts[l] = W_l h_{l-1} (preacts[0] = A x)
        for i in range(n):
            prod = torch.eye(width, dtype=X.dtype, device=X.device)
            k = 0
            for ell in range(1, int(at[-1]) + 1):
                gate = (feats.preacts[ell][i] > 0).to(X.dtype)  # (m,) diagonal of D_{i,l}
                prod = gate[:, None] * (layers[f"W{ell}"].weight @ prod)
                if ell == at[k]:
                    gated[i, k] = float(torch.linalg.matrix_norm(prod, ord=2))
                    k += 1
        measured = torch.stack([h.norm(dim=1) for h in feats.hidden], 1).max(0).values
    mean = gated.mean(axis=0)
    reference = np.sqrt((at + 1.0) ** (at + 1.0) / at.astype(float) ** at)
    return {"at": at, "gated": mean, "gated_max": gated.max(axis=0),
            "naive": np.cumprod(w_spec)[at - 1], "measured": measured.cpu().numpy()[at],
            "w_spec": w_spec, "reference": reference,
            "slope": fit_slope(at, mean)[0] if at.size > 1 else float("nan")}


def backward_profile(width: int = 512, depth: int = 33, *, n: int = 16, d: int = 10,
                     seed: int = 0, device: str = "cpu") -> dict:
    r"""Lemma 7.4 (backward bound): :math:`\lVert B D_{i,L} W_L \cdots D_{i,\ell+1}
    W_{\ell+1}\rVert/\sqrt m` for every sample and layer (``nl.backward_norms``).

    Returns:
        dict with ``backward`` (``(n, depth)``, column :math:`\ell` is
        :math:`\lVert\partial f(x_i)/\partial h_{i,\ell}\rVert/\sqrt m`) and ``naive``
        (``(depth,)``, :math:`\lVert B\rVert_2\prod_{k>\ell}\lVert W_k\rVert_2/\sqrt m`).
    """
    width, depth, n, d = ints(width=width, depth=depth, n=n, d=d).values()
    X, _, _ = sphere_data(n, d, seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    bwd = backward_norms(net, X) / math.sqrt(width)
    norms, _ = spectral_norms(net)
    w = np.array([norms[f"W{k}"] for k in range(1, depth)])
    naive = norms["B"] * np.array([np.prod(w[ell:]) for ell in range(depth)]) / math.sqrt(width)
    return {"backward": bwd, "naive": naive}


def depth_profile(depth: int = 100, variance: float = 2.0, activation: str = "relu",
                  width: int = 256, *, n: int = 8, d: int = 10, n_seeds: int = 1, seed: int = 0,
                  limit_points: int = 31, device: str = "cpu") -> dict:
    r"""The norm map across depth on a normalised scale, measured and in the infinite-width limit.

    Network: ``MLP(d, width, depth, parameterization="standard", sigma_w=sqrt(variance))``:
    :math:`A \sim N(0, 1)` puts the first pre-activations at unit variance (for unit inputs),
    :math:`W_\ell \sim N(0, v/m)`. For ReLU this is Allen-Zhu et al.'s network up to one positive
    factor :math:`\sqrt{2/m}` on every hidden vector (positive homogeneity; with the same seed the
    two are exactly proportional), so the normalised profile below is theirs; for softplus it
    keeps the pre-activations at the unit scale where the activation is neither linear nor
    constant (Allen-Zhu et al.'s :math:`N(0, c/m)` input layer would put them at
    :math:`O(m^{-1/2})`, where softplus is :math:`\log 2 + z/2`).

    Measured: ``forward[l]`` = median over samples of :math:`\lVert h_{i,\ell}\rVert /
    \lVert h_{i,0}\rVert` and ``backward[l]`` = median of :math:`\lVert\partial f/\partial
    h_{i,\ell}\rVert / \lVert\partial f/\partial h_{i,L}\rVert` (both geometric means over
    ``n_seeds`` networks). Limit: the per-unit second moment follows
    :math:`q_{\ell+1} = v\,\mathbb E[\phi(\sqrt{q_\ell} g)^2]`; it is read from
    ``nl.analytic_nngp`` (the NNGP of depth :math:`\ell + 1` is :math:`c_\sigma\mathbb
    E[\phi(\sqrt{q_\ell}g)^2]`), at ``limit_points`` layers.

    Returns:
        dict with ``forward``, ``backward`` (``(depth,)``), ``limit_layers``, ``limit_forward``,
        ``slope`` and ``limit_slope`` (least-squares slopes of the log of ``forward`` and of the
        limit profile per layer, over ``limit_layers``), ``variance``, ``activation``, ``width``.
    """
    depth, width, n, d, n_seeds, limit_points = ints(
        depth=depth, width=width, n=n, d=d, n_seeds=n_seeds, limit_points=limit_points).values()
    if depth < 2:
        raise ValueError(f"a depth profile needs depth >= 2 layers, got {depth}")
    variance = positive("variance", variance)
    check_choice(activation, "activation", ("relu", "softplus"))
    sigma_w = math.sqrt(variance)
    X, _, _ = sphere_data(n, d, seed=seed + 1000, device=device)
    logs_f, logs_b = [], []
    for s in range(n_seeds):
        net = MLP(d, width, depth, parameterization="standard", activation=activation,
                  sigma_w=sigma_w, seed=seed + s, device=device)
        fwd = forward_norms(net, X)  # (n, depth)
        bwd = backward_norms(net, X)
        logs_f.append(np.log(np.median(fwd / fwd[:, :1], axis=0)))
        logs_b.append(np.log(np.median(bwd / bwd[:, -1:], axis=0)))
    forward = np.exp(np.mean(logs_f, axis=0))
    backward = np.exp(np.mean(logs_b, axis=0))
    layers = np.unique(np.linspace(0, depth - 1, min(limit_points, depth)).round().astype(int))
    x = X[:1].cpu()
    nngp = np.array([float(analytic_nngp(x, depth=int(ell) + 1, parameterization="standard",
                                         activation=activation, sigma_w=sigma_w)[0, 0])
                     for ell in layers])
    limit = np.sqrt(nngp / nngp[0])
    return {"forward": forward, "backward": backward, "limit_layers": layers,
            "limit_forward": limit,
            "slope": float(np.polyfit(layers, np.log(forward[layers]), 1)[0]),
            "limit_slope": float(np.polyfit(layers, np.log(limit), 1)[0]),
            "variance": variance, "activation": activation, "width": width}


# ----------------------------------------------------------------------------- near init


def _stats(net0, net, X, y) -> dict:
    """Forward, backward, gate and gradient quantities of ``net`` (and its change from net0)."""
    m = net.width
    with torch.no_grad():
        h0 = net0.features(X).hidden
        h = net.features(X).hidden
        change = np.array([float((a - b).norm(dim=1).max()) for a, b in zip(h, h0)])
    fwd = forward_norms(net, X)
    bwd = backward_norms(net, X) / math.sqrt(m)
    F = loss_value(net, X, y)
    with torch.no_grad():
        e = net(X)[:, 0] - y.reshape(-1)  # residual (n,)
    grads = []
    for name, layer in net.weight_layers().items():
        if layer.weight.requires_grad:  # ||grad_{W_l} F||^2 = e^T K_l e (K_l: that layer's NTK)
            K_l = empirical_ntk(net, X, layers=[name])
            grads.append(float(e @ K_l @ e))
    n = X.shape[0]
    return {"forward_dev": float(np.abs(fwd - 1.0).max()), "forward_change": change,
            "backward_min": float(bwd.min()), "backward_max": float(bwd.max()),
            "flips": activation_flips(net0, net, X),
            "grad_upper": float(max(grads) / (F * n * m))}


def _flip_prediction(omega: float, depth: int) -> np.ndarray:
    """Random-direction prediction of the flip fraction per activation layer (A, W1..WL)."""
    ell = np.arange(depth)
    return np.arctan(omega * np.sqrt(ell / 8.0)) / math.pi


def perturbation_stability(width: int = 512, depth: int = 5,
                           omegas=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0), *, n: int = 16,
                           d: int = 10, seed: int = 0, device: str = "cpu") -> dict:
    r"""The lemmas' quantities at random points :math:`W = W^{(0)} + W'`, :math:`\lVert
    W'_\ell\rVert_2 = \omega` (:func:`perturbed`), for each radius in ``omegas``.

    Measured (``(len(omegas),)`` arrays unless said): ``forward_dev`` :math:`\max_{i,\ell}
    |\lVert h_{i,\ell}\rVert - 1|` (Lemma 7.1 in the ball); ``forward_change`` ``(len(omegas),
    depth)``, :math:`\max_i\lVert h_{i,\ell}(W) - h_{i,\ell}(W^{(0)})\rVert`; ``backward_min``,
    ``backward_max`` of :math:`\lVert\partial f(x_i)/\partial h_{i,\ell}\rVert/\sqrt m` (Lemmas
    7.4 and 8.7); ``flips`` ``(len(omegas), depth)``, the flipped-gate fraction per activation
    layer (Lemma 8.2); ``grad_upper`` :math:`\max_\ell\lVert\nabla_{W_\ell}F\rVert_F^2/(F n m)`
    (Theorem 3, upper bound, random :math:`\pm1` labels). Row 0 of every array is
    :math:`\omega = 0` (the initialisation).

    Predictions for a *random* direction (derived, not the lemmas): a perturbed layer adds
    :math:`\lVert D W' h\rVert \approx \omega/\sqrt8` to the hidden vector and later layers
    preserve norms, so ``forward_predicted`` :math:`= \omega\sqrt{\ell/8}` at layer :math:`\ell`;
    a gate flips when the pre-activation perturbation (relative standard deviation
    :math:`\omega\sqrt{\ell/8}`) exceeds the pre-activation, so ``flips_predicted`` :math:`=
    \arctan(\omega\sqrt{\ell/8})/\pi`. Lemma scales (constants 1): ``flips_lemma``
    :math:`\omega^{2/3}L`, ``forward_lemma`` :math:`\omega L^{5/2}\sqrt{\log m}` (the companion
    bound of Lemma 8.2, unverified), ``backward_lemma`` :math:`\omega^{1/3}L^2\sqrt{\log m}`
    (Lemma 8.7, relative to :math:`\sqrt m`).
    """
    width, depth, n, d = ints(width=width, depth=depth, n=n, d=d).values()
    if depth < 2:
        raise ValueError("the hidden layers W_1..W_L exist for depth >= 2: pass depth >= 2")
    omegas = np.asarray([0.0] + [positive("omega", w) for w in omegas])
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net0 = _azls(d, width, depth, seed, device)
    rows = [_stats(net0, perturbed(net0, w, seed=seed + 1) if w > 0 else net0, X, y)
            for w in omegas]
    out = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    L = depth - 1
    ell = np.arange(depth)
    out.update({
        "omegas": omegas,
        "forward_predicted": omegas[:, None] * np.sqrt(ell[None, :] / 8.0),
        "flips_predicted": np.array([_flip_prediction(w, depth) for w in omegas]),
        "flips_lemma": omegas ** (2 / 3) * L,
        "forward_lemma": omegas * L**2.5 * math.sqrt(math.log(width)),
        "backward_lemma": omegas ** (1 / 3) * L**2 * math.sqrt(math.log(width)),
    })
    return out


def trained_stability(width: int, depth: int = 3, *, n: int = 16, d: int = 10,
                      eps: float = 1e-3, steps: int = 2000, lr_factor: float = 1.0,
                      seed: int = 0, device: str = "cpu") -> dict:
    r"""The lemmas' quantities at the point gradient descent reaches.

    GD on the sum loss (random :math:`\pm1` labels), :math:`\eta` = ``lr_factor`` /
    :math:`\lambda_{\max}` of the empirical NTK at initialisation (``nl.ntk_learning_rate``),
    until :math:`F \le \varepsilon F(0)` or ``steps`` steps. Then the quantities of
    :func:`perturbation_stability` at :math:`W^{(T)}`, and the radius the run used:
    ``omega_T`` :math:`= \max_\ell\lVert W^{(T)}_\ell - W^{(0)}_\ell\rVert_2` (the ball of the
    lemmas) and ``frobenius_T`` :math:`= \lVert W^{(T)} - W^{(0)}\rVert_F` (all layers; Allen-Zhu
    et al.'s trajectory bound is :math:`O(n^3\log m/(\delta\sqrt m))`).

    Returns:
        dict with ``omega_T``, ``frobenius_T``, ``reached`` (bool), ``final_rel_loss``,
        ``steps``, ``lr``, the :func:`perturbation_stability` quantities at :math:`W^{(T)}`
        (``forward_dev``, ``forward_change``, ``backward_min``, ``backward_max``, ``flips``,
        ``grad_upper``), ``forward_dev_0`` (at initialisation), ``lemma_scale`` (Lemma 7.1's
        :math:`\sqrt{L\log(nL)/m}`) and ``flips_predicted`` (the random-direction prediction at
        radius ``omega_T``).
    """
    width, depth, n, d, steps = ints(width=width, depth=depth, n=n, d=d, steps=steps).values()
    eps = check_number(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    X, y, _ = sphere_data(n, d, labels="random", seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    lr = ntk_learning_rate(net, X, positive("lr_factor", lr_factor))
    F0 = loss_value(net, X, y)
    hist = train(net, X, y, lr=lr, steps=steps, target_loss=eps * F0, log_every=10)
    net0 = hist.model0
    stats = _stats(net0, net, X, y)
    moved = [(layer.weight - net0.weight_layers()[name].weight).detach()
             for name, layer in net.weight_layers().items() if layer.weight.requires_grad]
    omega_T = max(float(torch.linalg.matrix_norm(w, ord=2)) for w in moved)
    frob = math.sqrt(sum(float(w.square().sum()) for w in moved))
    stats.update({
        "omega_T": omega_T, "frobenius_T": frob, "reached": hist.stopped == "target",
        "final_rel_loss": float(hist.loss[-1] / F0), "steps": int(hist.step[-1]),
        "lr": float(lr), "forward_dev_0": float(np.abs(forward_norms(net0, X) - 1.0).max()),
        "lemma_scale": _lemma_scale(n, depth, width),
        "flips_predicted": _flip_prediction(omega_T, depth),
    })
    return stats


def floor_per_width(n: int, width: int, *, delta: float | None = None, depth: int = 3,
                    d: int = 10, seed: int = 0, device: str = "cpu") -> dict:
    r"""The NTK floor :math:`\lambda_{\min}(K)/m` at initialisation, empirical and in the limit.

    Data: ``sphere_data(n, d)`` (``delta=None``) or ``near_duplicate_pair(n, d, delta)``; network
    Allen-Zhu et al.'s with ``depth - 1`` trained hidden layers. :math:`K` is the empirical NTK of
    the trained layers (``nl.empirical_ntk``); its limit ``nl.limit_kernel`` grows like m, so
    both are divided by m.

    Returns:
        dict with ``empirical`` and ``limit`` (:math:`\lambda_{\min}/m`), ``separation`` (the
        data's minimum distance :math:`\delta`) and ``bound`` (:math:`\delta/n^2`, the shape of the
        gradient lower bound with constant 1).
    """
    n, width, depth, d = ints(n=n, width=width, depth=depth, d=d).values()
    if delta is None:
        X, _, sep = sphere_data(n, d, seed=seed, device=device)
    else:
        X, _, sep = near_duplicate_pair(n, d, positive("delta", delta), seed=seed, device=device)
    net = _azls(d, width, depth, seed, device)
    emp = min_eigenvalue(empirical_ntk(net, X)) / width
    lim = min_eigenvalue(limit_kernel(net, X)) / width
    return {"empirical": emp, "limit": lim, "separation": float(sep), "bound": float(sep) / n**2}
