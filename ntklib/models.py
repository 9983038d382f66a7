r"""The networks of the book, all built from :class:`~ntklib.layers.Dense` and
:class:`~ntklib.layers.Conv`.

Every model maps ``(n, d_in)`` to ``(n, d_out)`` and has

* ``features(X) -> Features(preacts, hidden, output)`` (one forward pass; ``preacts`` are the
  inputs of every activation, ``hidden`` the activations, ``output`` equals ``forward(X)``);
* ``weight_layers() -> dict[str, Dense | Conv]`` in forward order;
* attributes ``width``, ``depth``, ``parameterization``, ``trainable``, ``activation``, ``d_in``,
  ``d_out``.

Frozen layers have ``requires_grad=False``. Weights are drawn in forward order from a private
``torch.Generator`` seeded with ``seed`` (on the CPU, then moved), so a seed fixes the network on
every device. :func:`linearize`, :func:`scaled` and :class:`FixedPatternNet` wrap a model.

Conventions (see ``THEORY.md`` §1.2, §2.1, §3, §C): ``depth`` L is the number of hidden ``m x m``
matrices, :math:`c_\sigma = 1/\mathbb E_{z\sim N(0,1)}[\sigma(z)^2]` (2 for ReLU).
"""

from __future__ import annotations

import copy
import math
import warnings
from functools import cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, jvp

from .layers import Conv, Dense
from .utils import (
    DEFAULT_DTYPE,
    check_choice,
    check_dtype,
    check_int,
    check_positive,
    check_xy,
    make_generator,
    pick_device,
)

__all__ = [
    "Features",
    "MLP",
    "TwoLayerNet",
    "ResNet",
    "CNN",
    "FixedPatternNet",
    "OneWideLayerNet",
    "linearize",
    "scaled",
    "activation_constant",
]

ACTIVATIONS = ("relu", "softplus")
PARAMETERIZATIONS = ("azls", "ntk", "standard")
TRAINABLE = ("hidden", "all", "last")


class Features(NamedTuple):
    """What one forward pass computes.

    Attributes:
        preacts: input of every activation, each ``(n, m)`` (or ``(n, C, H, W)`` for a CNN).
        hidden: the activations ``h_0 .. h_L`` (same shapes as ``preacts``).
        output: the network output, ``(n, d_out)``.
    """

    preacts: list[Tensor]
    hidden: list[Tensor]
    output: Tensor


@cache
def activation_constant(activation: str) -> float:
    r"""The normalising constant :math:`c_\sigma = 1/\mathbb E_{z\sim N(0,1)}[\sigma(z)^2]`.

    ReLU: exactly 2. Softplus :math:`\log(1+e^z)`: 120-point Gauss-Hermite quadrature
    (probabilists' weights), accurate to ~1e-12. Du, Lee, Li, Wang, Zhai (2019) use this
    :math:`c_\sigma` in :math:`x^{(h)} = \sqrt{c_\sigma/m}\,\sigma(W^{(h)}x^{(h-1)})`.

    Args:
        activation: ``"relu"`` or ``"softplus"``.

    Returns:
        :math:`c_\sigma` as a float.
    """
    check_choice(activation, "activation", ACTIVATIONS)
    if activation == "relu":
        return 2.0
    z, w = np.polynomial.hermite_e.hermegauss(120)
    second_moment = float(np.sum(w * np.logaddexp(0.0, z) ** 2) / math.sqrt(2 * math.pi))
    return 1.0 / second_moment


def _act(activation: str):
    return torch.relu if activation == "relu" else F.softplus


def _check_dtype_device(dtype: object, device: object) -> torch.device | None:
    check_dtype(dtype)
    if device is None:
        return None
    return pick_device(device)


class _Net(nn.Module):
    """Shared plumbing: named weight layers, input checks, attributes."""

    width: int
    depth: int
    parameterization: str
    trainable: str
    activation: str
    d_in: int
    d_out: int

    def _init_layers(self) -> None:
        self._layer_names: list[str] = []

    def _add(self, name: str, layer: Dense | Conv, trainable: bool) -> Dense | Conv:
        layer.weight.requires_grad_(trainable)
        if getattr(layer, "bias", None) is not None:
            layer.bias.requires_grad_(trainable)
        self.add_module(name, layer)
        self._layer_names.append(name)
        return layer

    def weight_layers(self) -> dict[str, Dense | Conv]:
        """The weight-carrying layers in forward order, ``{name: layer}``."""
        return {name: getattr(self, name) for name in self._layer_names}

    def _check_input(self, X: Tensor, ndim: int | tuple[int, ...] = 2) -> Tensor:
        check_xy(X, d_in=self.d_in, ndim=ndim)
        return self._check_like(X)

    def _check_like(self, X: Tensor) -> Tensor:
        ref = getattr(self, self._layer_names[0]).weight
        if X.dtype != ref.dtype:
            raise TypeError(
                f"X has dtype {X.dtype} but the model's weights are {ref.dtype}: pass "
                f"X.to({ref.dtype}) or build the model with dtype={X.dtype}"
            )
        if X.device != ref.device:
            raise ValueError(
                f"X is on {X.device} but the model is on {ref.device}: pass X.to(model_device) "
                "or move the model with model.to(X.device)"
            )
        return X

    def extra_repr(self) -> str:
        return (
            f"d_in={self.d_in}, width={self.width}, depth={self.depth}, d_out={self.d_out}, "
            f"parameterization={self.parameterization!r}, trainable={self.trainable!r}, "
            f"activation={self.activation!r}"
        )


class _ChainNet(_Net):
    """``first -> act -> hidden ... -> act -> output``: the layout of :class:`MLP` and
    :class:`TwoLayerNet` (and of the gated surrogate :class:`FixedPatternNet`)."""

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``."""
        self._check_input(X)
        act = _act(self.activation)
        names = self._layer_names
        h = X
        for name in names[:-1]:
            h = act(getattr(self, name)(h))  # (n, m)
        return getattr(self, names[-1])(h)  # (n, d_out)

    def features(self, X: Tensor) -> Features:
        """One forward pass keeping every pre-activation and activation (h_0 .. h_L)."""
        self._check_input(X)
        act = _act(self.activation)
        names = self._layer_names
        preacts, hidden = [], []
        h = X
        for name in names[:-1]:
            z = getattr(self, name)(h)  # (n, m)
            h = act(z)
            preacts.append(z)
            hidden.append(h)
        return Features(preacts, hidden, getattr(self, names[-1])(h))


class MLP(_ChainNet):
    r"""Fully connected network :math:`h_0 = \phi(Ax)`, :math:`h_\ell = \phi(W_\ell h_{\ell-1})`,
    :math:`f = B h_L` (Allen-Zhu, Li, Song 2019, eq. of §1.2 in THEORY.md).

    ``depth`` = L = the number of hidden ``m x m`` matrices :math:`W_1..W_L`, so the network has
    ``depth + 1`` activation layers and ``depth + 2`` weight matrices
    ``A (m x d_in), W_1..W_L (m x m), B (d_out x m)``. With :math:`c = c_\sigma` (2 for ReLU):

    * ``"azls"``: :math:`A, W_\ell \sim N(0, c/m)`, :math:`B \sim N(0, 1/d_{out})`, multipliers 1
      (Allen-Zhu et al.; for ReLU :math:`c/m = 2/m`, and :math:`\|h_\ell\| \approx 1` for unit x).
    * ``"ntk"``: all weights :math:`N(0, 1)`; multipliers 1 on A and :math:`\sqrt{c/m}` on
      :math:`W_\ell` and B (Arora et al.'s NTK parameterization; for softplus this is Du et al.'s
      fully connected net with :math:`H = L + 1` layers and :math:`x^{(h)} = \sqrt{c/m}\,h_{h-1}`).
    * ``"standard"``: :math:`A \sim N(0,1)`, :math:`W_\ell, B \sim N(0, c/m)`, no multipliers (same
      function at init as ``"ntk"``, different gradient scale).

    For softplus the ``"azls"`` law uses :math:`c_\sigma/m`; since softplus(0) != 0 the norms
    :math:`\|h_\ell\|` are then not close to 1 (Allen-Zhu et al.'s analysis is for ReLU only).

    Args:
        d_in: input dimension.
        width: m, the hidden width.
        depth: L >= 1, number of hidden m x m matrices.
        d_out: output dimension.
        parameterization: ``"azls"``, ``"ntk"`` or ``"standard"``.
        trainable: ``"hidden"`` (W_1..W_L; A and B frozen, as in Allen-Zhu et al.), ``"all"`` or
            ``"last"`` (B only).
        activation: ``"relu"`` or ``"softplus"``.
        bias: add a zero-initialised bias (multiplier 1) to every layer, trained with its layer.
        sigma_w: hidden-weight scale: :math:`W_\ell \sim N(0, \sigma_w^2/m)` (``"azls"``,
            ``"standard"``) or multiplier :math:`\sigma_w/\sqrt m` (``"ntk"``); ``None`` means
            :math:`\sigma_w^2 = c_\sigma` (2 for ReLU). A and B keep their laws.
        seed: seed of the private generator drawing the weights (A, W_1, ..., W_L, B in order).
        dtype: parameter dtype (default float64).
        device: parameter device (default CPU).

    Shapes:
        ``forward``: ``(n, d_in) -> (n, d_out)``.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        *,
        d_out: int = 1,
        parameterization: str = "azls",
        trainable: str = "hidden",
        activation: str = "relu",
        bias: bool = False,
        sigma_w: float | None = None,
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_int(d_in, "d_in", minimum=1)
        self.width = m = check_int(width, "width", minimum=1)
        self.depth = L = check_int(depth, "depth", minimum=1)
        self.d_out = check_int(d_out, "d_out", minimum=1)
        self.parameterization = check_choice(
            parameterization, "parameterization", PARAMETERIZATIONS
        )
        self.trainable = check_choice(trainable, "trainable", TRAINABLE)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {type(bias).__name__}")
        device = _check_dtype_device(dtype, device)
        c = activation_constant(self.activation)
        self.sigma_w = math.sqrt(c) if sigma_w is None else check_positive(sigma_w, "sigma_w")
        s_w = self.sigma_w / math.sqrt(m)  # hidden-weight scale
        g = make_generator(seed)
        p = self.parameterization
        if p == "azls":
            (a_std, a_mul), (w_std, w_mul), (b_std, b_mul) = (
                (math.sqrt(c / m), 1.0), (s_w, 1.0), (math.sqrt(1 / self.d_out), 1.0))
        elif p == "ntk":
            (a_std, a_mul), (w_std, w_mul), (b_std, b_mul) = (
                (1.0, 1.0), (1.0, s_w), (1.0, math.sqrt(c / m)))
        else:
            (a_std, a_mul), (w_std, w_mul), (b_std, b_mul) = (
                (1.0, 1.0), (s_w, 1.0), (math.sqrt(c / m), 1.0))
        kw = dict(bias=bias, generator=g, dtype=dtype, device=device)
        train = {"hidden": (False, True, False), "all": (True, True, True),
                 "last": (False, False, True)}[self.trainable]
        self._init_layers()
        self._add("A", Dense(self.d_in, m, std=a_std, multiplier=a_mul, **kw), train[0])
        for ell in range(1, L + 1):
            self._add(f"W{ell}", Dense(m, m, std=w_std, multiplier=w_mul, **kw), train[1])
        self._add("B", Dense(m, self.d_out, std=b_std, multiplier=b_mul, **kw), train[2])


class TwoLayerNet(_ChainNet):
    r"""Two-layer ReLU net of Du, Zhai, Poczos, Singh (2019).

    :math:`f(x) = m^{-1/2}\sum_{r=1}^m a_r\,\mathrm{relu}(w_r^\top x)`.

    :math:`w_r \sim N(0, I)` (layer ``"W"``, trained), :math:`a_r` uniform on :math:`\{-1, +1\}`
    (layer ``"a"``, a ``Dense(m, 1)`` with multiplier :math:`m^{-1/2}`, fixed unless
    ``trainable="all"``). In the MLP convention this net has ``depth = 0`` (no hidden m x m matrix).

    Args:
        d_in: input dimension.
        width: m, the number of hidden units.
        trainable: ``"hidden"`` (W only, the paper's main setting), ``"all"`` (W and a, the paper's
            joint-training section) or ``"last"`` (a only: a random-features model).
        seed: seed of the private generator (W is drawn first, then the signs a).
        dtype: parameter dtype.
        device: parameter device.

    Shapes:
        ``forward``: ``(n, d_in) -> (n, 1)``.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        *,
        trainable: str = "hidden",
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_int(d_in, "d_in", minimum=1)
        self.width = m = check_int(width, "width", minimum=1)
        self.depth = 0
        self.d_out = 1
        self.parameterization = "ntk"
        self.trainable = check_choice(trainable, "trainable", TRAINABLE)
        self.activation = "relu"
        device = _check_dtype_device(dtype, device)
        g = make_generator(seed)
        self._init_layers()
        W = Dense(self.d_in, m, std=1.0, generator=g, dtype=dtype, device=device)
        a = Dense(m, 1, multiplier=1 / math.sqrt(m), generator=g, dtype=dtype, device=device)
        signs = torch.randint(0, 2, (1, m), generator=g).to(dtype) * 2 - 1  # (1, m)
        with torch.no_grad():
            a.weight.copy_(signs.to(a.weight.device))
        self._add("W", W, self.trainable in ("hidden", "all"))
        self._add("a", a, self.trainable in ("all", "last"))


class OneWideLayerNet(_ChainNet):
    r"""Deep fully connected net with narrow layers and a single wide one (Nguyen 2021; Nguyen,
    Mondelli, Montufar 2021).

    :math:`f_0 = x`, :math:`f_\ell = \sigma(W_\ell f_{\ell-1})` for :math:`\ell = 1..L`
    (``depth`` = L hidden layers), :math:`f = B f_L`. Every hidden layer has ``width`` units except
    layer ``wide_layer`` (1-based; default the last hidden layer L), which has ``wide_width``.
    Standard parameterization (the scale lives in the weights, multipliers 1):
    :math:`W_\ell \sim N(0, c_\sigma / n_{\ell-1})` (He init for ReLU), :math:`B \sim N(0,
    1/n_L)`. The feature matrix of the wide layer is ``features(X).hidden[wide_layer - 1]``.

    Note the depth convention differs from :class:`MLP`: here ``depth`` counts activation layers
    (an MLP with ``depth = L - 1`` has the same number of them).

    Args:
        d_in: input dimension.
        width: width of the narrow hidden layers.
        depth: number of hidden (activation) layers L >= 1.
        wide_width: width of the wide layer.
        wide_layer: index in 1..L of the wide layer (default L).
        d_out: output dimension.
        trainable: ``"all"`` (default; every layer), ``"hidden"`` (W_1..W_L) or ``"last"`` (B).
        activation: ``"relu"`` or ``"softplus"``.
        seed: generator seed (layers drawn in forward order).
        dtype: parameter dtype.
        device: parameter device.

    Shapes:
        ``forward``: ``(n, d_in) -> (n, d_out)``.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        *,
        wide_width: int,
        wide_layer: int | None = None,
        d_out: int = 1,
        trainable: str = "all",
        activation: str = "relu",
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_int(d_in, "d_in", minimum=1)
        self.width = check_int(width, "width", minimum=1)
        self.depth = L = check_int(depth, "depth", minimum=1)
        self.wide_width = check_int(wide_width, "wide_width", minimum=1)
        self.wide_layer = L if wide_layer is None else check_int(wide_layer, "wide_layer",
                                                                 minimum=1)
        if self.wide_layer > L:
            raise ValueError(f"wide_layer must be in 1..depth = 1..{L}, got {self.wide_layer}: "
                             "pass wide_layer <= depth (or None for the last hidden layer)")
        self.d_out = check_int(d_out, "d_out", minimum=1)
        self.parameterization = "standard"
        self.trainable = check_choice(trainable, "trainable", TRAINABLE)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        device = _check_dtype_device(dtype, device)
        c = activation_constant(self.activation)
        self.widths = tuple(self.wide_width if ell == self.wide_layer else self.width
                            for ell in range(1, L + 1))
        g = make_generator(seed)
        kw = dict(generator=g, dtype=dtype, device=device)
        self._init_layers()
        fan_in = self.d_in
        for ell, n_ell in enumerate(self.widths, start=1):
            self._add(f"W{ell}", Dense(fan_in, n_ell, std=math.sqrt(c / fan_in), **kw),
                      self.trainable in ("all", "hidden"))
            fan_in = n_ell
        self._add("B", Dense(fan_in, self.d_out, std=math.sqrt(1 / fan_in), **kw),
                  self.trainable in ("all", "last"))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", widths={self.widths}"


class ResNet(_Net):
    r"""Fully connected residual networks.

    ``style="du"`` (Du, Lee, Li, Wang, Zhai 2019, §6), :math:`H` = ``depth``, all weights
    :math:`N(0, 1)`:

    .. math::
        x^{(1)} = \sqrt{c_\sigma/m}\,\sigma(W^{(1)}x),\qquad
        x^{(h)} = x^{(h-1)} + \frac{c_{res}}{H\sqrt m}\,\sigma(W^{(h)}x^{(h-1)})\ (h = 2..H),\qquad
        f = a^\top x^{(H)}.

    Layers ``W1 (m x d_in), W2..WH (m x m), a (d_out x m)``; all multipliers 1 (the scalings act
    after the activation, as in the paper, which matters for softplus).

    ``style="azls"``: a residual variant of the Allen-Zhu-Li-Song network with their
    initialization :math:`A, W_\ell \sim N(0, 2/m)`, :math:`B \sim N(0, 1/d_{out})`:

    .. math::
        h_0 = \phi(Ax),\qquad h_\ell = \phi\bigl(h_{\ell-1} + c_{res}\,W_\ell h_{\ell-1}\bigr)
        \ (\ell = 1..L),\qquad f = B h_L,

    with the residual scale :math:`c_{res}` as the multiplier of the ``W_l`` layers. Allen-Zhu et
    al. state that their theory covers ResNets; the exact scale and form of their ResNet were not
    checked against the paper (THEORY.md E.1), so treat this variant as our construction, not the
    paper's. For softplus, ``2/m`` is replaced by :math:`c_\sigma/m`.

    Args:
        d_in: input dimension.
        width: m.
        depth: H (``"du"``: number of layers W1..WH) or L (``"azls"``: residual blocks), >= 1.
        style: ``"du"`` or ``"azls"``.
        activation: ``"relu"`` or ``"softplus"`` (Du et al.'s theorems need a smooth one).
        c_res: residual scale, > 0 (Du et al.: a small constant, 0 < c_res < 1).
        trainable: ``"all"`` (default; Du et al. train all layers), ``"hidden"`` (every layer but
            the input layer A and the output layer; for ``"du"``: W1..WH) or ``"last"``.
        d_out: output dimension.
        seed: generator seed.
        dtype: parameter dtype.
        device: parameter device.

    Shapes:
        ``forward``: ``(n, d_in) -> (n, d_out)``.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        *,
        style: str = "du",
        activation: str = "relu",
        c_res: float = 0.1,
        trainable: str = "all",
        d_out: int = 1,
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_int(d_in, "d_in", minimum=1)
        self.width = m = check_int(width, "width", minimum=1)
        self.depth = H = check_int(depth, "depth", minimum=1)
        self.d_out = check_int(d_out, "d_out", minimum=1)
        self.style = check_choice(style, "style", ("du", "azls"))
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.c_res = check_positive(c_res, "c_res")
        self.trainable = check_choice(trainable, "trainable", TRAINABLE)
        self.parameterization = "ntk" if self.style == "du" else "azls"
        device = _check_dtype_device(dtype, device)
        c = activation_constant(self.activation)
        self._c = c
        g = make_generator(seed)
        kw = dict(generator=g, dtype=dtype, device=device)
        t = self.trainable
        self._init_layers()
        if self.style == "du":
            self._add("W1", Dense(self.d_in, m, **kw), t in ("all", "hidden"))
            for h in range(2, H + 1):
                self._add(f"W{h}", Dense(m, m, **kw), t in ("all", "hidden"))
            self._add("a", Dense(m, self.d_out, **kw), t in ("all", "last"))
        else:
            s = math.sqrt(c / m)
            self._add("A", Dense(self.d_in, m, std=s, **kw), t == "all")
            for ell in range(1, H + 1):
                layer = Dense(m, m, std=s, multiplier=self.c_res, **kw)
                self._add(f"W{ell}", layer, t in ("all", "hidden"))
            self._add("B", Dense(m, self.d_out, std=math.sqrt(1 / self.d_out), **kw),
                      t in ("all", "last"))

    def _run(self, X: Tensor, keep: bool) -> Features:
        self._check_input(X)
        act = _act(self.activation)
        names = self._layer_names
        preacts, hidden = [], []
        if self.style == "du":
            m, H = self.width, self.depth
            z = getattr(self, names[0])(X)  # (n, m)
            x = math.sqrt(self._c / m) * act(z)
            scale = self.c_res / (H * math.sqrt(m))
            if keep:
                preacts.append(z)
                hidden.append(x)
            for name in names[1:-1]:
                z = getattr(self, name)(x)
                x = x + scale * act(z)
                if keep:
                    preacts.append(z)
                    hidden.append(x)
        else:
            z = getattr(self, names[0])(X)
            x = act(z)
            if keep:
                preacts.append(z)
                hidden.append(x)
            for name in names[1:-1]:
                z = x + getattr(self, name)(x)
                x = act(z)
                if keep:
                    preacts.append(z)
                    hidden.append(x)
        return Features(preacts, hidden, getattr(self, names[-1])(x))

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``."""
        return self._run(X, keep=False).output

    def features(self, X: Tensor) -> Features:
        """Pre-activations, the residual stream ``x^(1)..x^(H)`` (``"du"``) or ``h_0..h_L``
        (``"azls"``), and the output."""
        return self._run(X, keep=True)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", style={self.style!r}, c_res={self.c_res}"


class CNN(_Net):
    r"""Small convolutional network for ``image_size x image_size`` images (8 x 8 digits).

    NTK-type scaling with :math:`N(0,1)` weights and :math:`c = c_\sigma`:

    .. math::
        h_0 = \sigma(A * x),\quad
        h_\ell = \sigma\Bigl(\sqrt{\tfrac{c}{C k^2}}\,W_\ell * h_{\ell-1}\Bigr)
        \ \text{or, residual,}\ h_\ell = h_{\ell-1} + \tfrac{c_{res}}{L}\,
        \sigma\Bigl(\sqrt{\tfrac{c}{C k^2}}\,W_\ell * h_{\ell-1}\Bigr),\quad
        f = \sqrt{\tfrac{c}{C}}\,B\,\mathrm{GAP}(h_L),

    where ``*`` is a stride-1 "same" convolution with a k x k kernel (multiplier 1 on the first
    one, as the MLP's A), GAP averages over pixels, and ``depth`` = L >= 1 is the number of hidden
    C -> C convolutions. Layers: ``A`` (Conv), ``W1..WL`` (Conv), ``B`` (Dense).

    Args:
        in_channels: input channels.
        channels: C, the width (``width`` attribute).
        depth: L, number of hidden C -> C conv layers.
        residual: add the skip connections above (Du et al.'s 1/H residual scaling).
        image_size: side of the square input images.
        d_out: output dimension.
        kernel_size: odd convolution size k.
        activation: ``"relu"`` or ``"softplus"``.
        c_res: residual scale (used when ``residual=True``).
        trainable: ``"all"`` (default), ``"hidden"`` (W_1..W_L) or ``"last"`` (B).
        seed: generator seed.
        dtype: parameter dtype.
        device: parameter device.

    Shapes:
        ``forward``: ``(n, in_channels, s, s)`` or flattened ``(n, in_channels * s * s)`` ->
        ``(n, d_out)``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: int = 16,
        depth: int = 2,
        *,
        residual: bool = False,
        image_size: int = 8,
        d_out: int = 1,
        kernel_size: int = 3,
        activation: str = "relu",
        c_res: float = 1.0,
        trainable: str = "all",
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.width = C = check_int(channels, "channels", minimum=1)
        self.depth = L = check_int(depth, "depth", minimum=1)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False, got {type(residual).__name__}")
        self.residual = residual
        self.image_size = s = check_int(image_size, "image_size", minimum=1)
        self.d_in = self.in_channels * s * s
        self.d_out = check_int(d_out, "d_out", minimum=1)
        k = check_int(kernel_size, "kernel_size", minimum=1)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.c_res = check_positive(c_res, "c_res")
        self.trainable = check_choice(trainable, "trainable", TRAINABLE)
        self.parameterization = "ntk"
        device = _check_dtype_device(dtype, device)
        c = activation_constant(self.activation)
        g = make_generator(seed)
        kw = dict(generator=g, dtype=dtype, device=device)
        t = self.trainable
        self._init_layers()
        self._add("A", Conv(self.in_channels, C, kernel_size=k, **kw), t == "all")
        for ell in range(1, L + 1):
            conv = Conv(C, C, kernel_size=k, multiplier=math.sqrt(c / (C * k * k)), **kw)
            self._add(f"W{ell}", conv, t in ("all", "hidden"))
        self._add("B", Dense(C, self.d_out, multiplier=math.sqrt(c / C), **kw),
                  t in ("all", "last"))

    def _run(self, X: Tensor, keep: bool) -> Features:
        self._check_input(X, ndim=(2, 4))
        s, c_in = self.image_size, self.in_channels
        if X.dim() == 2:
            X = X.reshape(X.shape[0], c_in, s, s)
        elif tuple(X.shape[1:]) != (c_in, s, s):
            raise ValueError(
                f"X must have shape (n, {c_in}, {s}, {s}) or (n, {c_in * s * s}), got "
                f"{tuple(X.shape)}: reshape the images or build CNN(in_channels=..., "
                "image_size=...) to match"
            )
        act = _act(self.activation)
        names = self._layer_names
        preacts, hidden = [], []
        z = getattr(self, names[0])(X)  # (n, C, s, s)
        h = act(z)
        if keep:
            preacts.append(z)
            hidden.append(h)
        scale = self.c_res / self.depth
        for name in names[1:-1]:
            z = getattr(self, name)(h)
            h = h + scale * act(z) if self.residual else act(z)
            if keep:
                preacts.append(z)
                hidden.append(h)
        out = getattr(self, names[-1])(h.mean(dim=(2, 3)))  # (n, d_out)
        return Features(preacts, hidden, out)

    def _check_input(self, X: Tensor, ndim: int | tuple[int, ...] = 2) -> Tensor:
        check_xy(X, ndim=ndim)
        if X.dim() == 2 and X.shape[1] != self.d_in:
            raise ValueError(
                f"X has {X.shape[1]} features but the CNN expects in_channels * image_size^2 = "
                f"{self.d_in}: pass images of shape (n, {self.in_channels}, {self.image_size}, "
                f"{self.image_size}) or flattened (n, {self.d_in})"
            )
        return self._check_like(X)

    def forward(self, X: Tensor) -> Tensor:
        """``(n, c_in, s, s)`` or ``(n, c_in s^2)`` -> ``(n, d_out)``."""
        return self._run(X, keep=False).output

    def features(self, X: Tensor) -> Features:
        """Conv pre-activations and feature maps, each ``(n, C, s, s)``, and the output."""
        return self._run(X, keep=True)


class _Hidden:
    """Holds a module outside the parent's module tree (so ``modules()``, ``parameters()`` and
    layer hooks never see it); the parent moves it along in ``_apply``."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module


def _frozen_copy(model: nn.Module) -> nn.Module:
    frozen = copy.deepcopy(model)
    for p in frozen.parameters():
        p.grad = None
        p.requires_grad_(False)
    return frozen.eval()


class FixedPatternNet(_Net):
    r"""Gated linear surrogate of a ReLU :class:`MLP` or :class:`TwoLayerNet` (fixed activation
    patterns, in the spirit of Noy et al. 2021; our construction, see THEORY.md §5).

    The gates come from a frozen copy of the network at :math:`\theta_0`, evaluated on any input:
    :math:`D_\ell(x) = \mathrm{diag}(1[z^{(0)}_\ell(x) > 0])` with :math:`z^{(0)}_\ell` the
    pre-activations of that copy. The surrogate is

    .. math::
        \tilde f(x) = B\, D_L(x)\, W_L \cdots D_1(x)\, W_1\, D_0(x)\, A\, x

    with copies of the weights that keep their trainable flags. At :math:`\theta_0` it equals the
    ReLU net on every input; it is multilinear in the weights. Build it with :meth:`from_net`;
    :meth:`to_relu` gives back the ReLU network with the surrogate's current weights.

    The frozen gate copy is not a submodule (it is moved by ``.to()`` but is not in
    ``parameters()``/``state_dict()``), so the only weight layers are the surrogate's own.
    """

    def __init__(self, net: nn.Module, X: Tensor | None = None) -> None:
        super().__init__()
        if not isinstance(net, _ChainNet):
            raise TypeError(
                f"FixedPatternNet needs an ntklib MLP or TwoLayerNet, got {type(net).__name__}: "
                "build the ReLU network with ntklib.MLP(...) or ntklib.TwoLayerNet(...)"
            )
        if net.activation != "relu":
            raise ValueError(
                f"fixed activation patterns need a ReLU network, got activation="
                f"{net.activation!r}: build the net with activation='relu'"
            )
        for attr in ("width", "depth", "parameterization", "trainable", "activation", "d_in",
                     "d_out"):
            setattr(self, attr, getattr(net, attr))
        self._source = _Hidden(_frozen_copy(net))  # gates and to_relu template
        self._init_layers()
        for name, layer in net.weight_layers().items():
            self._add(name, copy.deepcopy(layer), layer.weight.requires_grad)
        self._cache: tuple[Tensor, list[Tensor]] | None = None
        if X is not None:
            self._check_input(X)
            self._cache = (X.detach().clone(), self._compute_gates(X))

    @classmethod
    def from_net(cls, net: nn.Module, X: Tensor | None = None) -> FixedPatternNet:
        """Surrogate whose gates are those of ``net`` as it is now (pass the *initial* network,
        e.g. ``history.model0``). If ``X`` is given, its gates are computed once and reused
        whenever ``forward`` receives an equal tensor."""
        return cls(net, X)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._source.module._apply(fn, recurse)
        if self._cache is not None:
            self._cache = (fn(self._cache[0]), [fn(g) for g in self._cache[1]])
        return self

    def _compute_gates(self, X: Tensor) -> list[Tensor]:
        with torch.no_grad():
            feats = self._source.module.features(X)
        return [z > 0 for z in feats.preacts]  # bool, each (n, m)

    def gates(self, X: Tensor) -> list[Tensor]:
        """The fixed patterns ``D_0(X) .. D_L(X)`` as boolean ``(n, m)`` tensors."""
        self._check_input(X)
        if self._cache is not None:
            cx, cg = self._cache
            if X.shape == cx.shape and X.device == cx.device and torch.equal(X, cx):
                return cg
        return self._compute_gates(X)

    def _run(self, X: Tensor, keep: bool) -> Features:
        masks = self.gates(X)
        names = self._layer_names
        preacts, hidden = [], []
        h = X
        for name, mask in zip(names[:-1], masks):
            z = getattr(self, name)(h)  # (n, m)
            h = z * mask
            if keep:
                preacts.append(z)
                hidden.append(h)
        return Features(preacts, hidden, getattr(self, names[-1])(h))

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``, the gated linear map."""
        return self._run(X, keep=False).output

    def features(self, X: Tensor) -> Features:
        """Surrogate pre-gating values ``W_l h_{l-1}``, gated activations, output."""
        return self._run(X, keep=True)

    def to_relu(self) -> nn.Module:
        """The ReLU network (same class as the source) carrying the surrogate's current weights
        and trainable flags."""
        net = copy.deepcopy(self._source.module)
        net.train(self.training)
        for name, layer in self.weight_layers().items():
            target = getattr(net, name)
            target.weight = nn.Parameter(layer.weight.detach().clone(),
                                         requires_grad=layer.weight.requires_grad)
            if layer.bias is not None:
                target.bias = nn.Parameter(layer.bias.detach().clone(),
                                           requires_grad=layer.bias.requires_grad)
        return net


_DELEGATED = ("width", "depth", "parameterization", "trainable", "activation", "d_in", "d_out")


class _Linearized(nn.Module):
    r"""First-order Taylor model :math:`f_{lin}(x;\theta) = f(x;\theta_0) +
    J_\theta f(x;\theta_0)\,(\theta - \theta_0)` (Lee et al. 2019), see :func:`linearize`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for attr in _DELEGATED:
            setattr(self, attr, getattr(model, attr, None))
        self._names = [n for n, p in model.named_parameters() if p.requires_grad]
        if not self._names:
            raise ValueError(
                "linearize needs a model with at least one trainable parameter: build it with "
                "trainable='all' or 'hidden'"
            )
        self._base = _Hidden(_frozen_copy(model))
        base_params = dict(self._base.module.named_parameters())
        self.params = nn.ParameterDict(
            {n.replace(".", "__"): nn.Parameter(base_params[n].detach().clone())
             for n in self._names}
        )

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._base.module._apply(fn, recurse)
        return self

    @property
    def model0(self) -> nn.Module:
        """The frozen network at :math:`\\theta_0`."""
        return self._base.module

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``: one forward-mode pass (``torch.func.jvp``)."""
        base = self._base.module
        base_params = dict(base.named_parameters())
        primals = {n: base_params[n] for n in self._names}
        tangents = {n: self.params[n.replace(".", "__")] - primals[n] for n in self._names}
        with warnings.catch_warnings():
            # torch's first forward-mode call loads jit decompositions and warns about jit.script
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*",
                                    category=DeprecationWarning)
            f0, df = jvp(lambda p: functional_call(base, p, (X,)), (primals,), (tangents,))
        return f0 + df


def linearize(model: nn.Module) -> nn.Module:
    r"""The linearized network :math:`f(\theta_0) + J(\theta_0)(\theta - \theta_0)`.

    The returned module's parameters are the trainable parameters of ``model`` (in ``params``,
    keyed by their names with ``.`` replaced by ``__``), initialised to :math:`\theta_0` (the
    current values); frozen parameters stay at their values. ``model`` itself is not modified
    (a frozen copy is kept). Each forward costs about two forward passes.

    Args:
        model: any ntklib model (or an ``nn.Module`` mapping ``(n, d_in) -> (n, d_out)``).

    Returns:
        An ``nn.Module`` with the same ``forward`` signature and the attributes ``width``,
        ``depth``, ... copied from ``model``; ``.model0`` is the frozen copy.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"linearize needs an nn.Module, got {type(model).__name__}")
    return _Linearized(model)


class _Scaled(nn.Module):
    r""":math:`\alpha\,(f(x;\theta) - f(x;\theta_0))`, see :func:`scaled`."""

    def __init__(self, model: nn.Module, alpha: float) -> None:
        super().__init__()
        self.alpha = check_positive(alpha, "alpha")
        for attr in _DELEGATED:
            setattr(self, attr, getattr(model, attr, None))
        self.model = model
        self._model0 = _Hidden(_frozen_copy(model))

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._model0.module._apply(fn, recurse)
        return self

    @property
    def model0(self) -> nn.Module:
        """The frozen network at :math:`\\theta_0`."""
        return self._model0.module

    def weight_layers(self) -> dict[str, Dense | Conv]:
        """The wrapped model's layers (its NTK is multiplied by ``alpha**2``: backpropagate
        through this module's output to get it)."""
        return self.model.weight_layers()

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``."""
        with torch.no_grad():
            f0 = self._model0.module(X)
        return self.alpha * (self.model(X) - f0)

    def features(self, X: Tensor) -> Features:
        """The wrapped model's features, with ``output`` replaced by the scaled output."""
        feats = self.model.features(X)
        with torch.no_grad():
            f0 = self._model0.module(X)
        return Features(feats.preacts, feats.hidden, self.alpha * (feats.output - f0))


def scaled(model: nn.Module, alpha: float) -> nn.Module:
    r"""Chizat-Oyallon-Bach scaling :math:`\alpha\,(f(\theta) - f(\theta_0))`.

    The output is zero at initialization for every ``alpha``; large ``alpha`` gives lazy training
    (pair it with the loss :math:`\frac{1}{\alpha^2}\ell(\alpha f)`, i.e. scale the learning rate by
    :math:`1/\alpha^2`). ``model`` is wrapped, not copied: training the result trains ``model``;
    a frozen copy at :math:`\theta_0` supplies :math:`f(\theta_0)`.

    Args:
        model: an ntklib model.
        alpha: the scale, > 0.

    Returns:
        An ``nn.Module`` with ``forward``, ``features``, ``weight_layers`` and the model's
        attributes; ``.model`` is the wrapped model, ``.model0`` the frozen copy.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"scaled needs an nn.Module, got {type(model).__name__}")
    return _Scaled(model, alpha)
