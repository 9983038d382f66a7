r"""The networks of the book, built from their :class:`~ntklib.spec.NetSpec`.

Every model maps ``(n, d_in)`` to ``(n, d_out)`` and has

* ``spec``: its :class:`~ntklib.spec.NetSpec` (layers, scales, trained flags as they are now),
  the description that ``ntklib.kernels.limit_kernel`` folds into the infinite-width kernel;
* ``features(X) -> Features(preacts, hidden, output)`` (one forward pass; ``preacts`` are the
  inputs of every activation, ``hidden`` the activations, ``output`` equals ``forward(X)``);
* ``weight_layers() -> dict[str, Dense | Conv]`` in forward order;
* attributes ``width``, ``depth``, ``parameterization``, ``trainable``, ``activation``, ``d_in``,
  ``d_out`` and the paper aliases ``L`` (= ``depth - 1``, Allen-Zhu et al.) and ``H``
  (= ``depth``, Du et al.).

``depth`` is the number of hidden activation layers for every model (see ``ntklib.spec``).
Frozen layers have ``requires_grad=False``. Weights are drawn in forward order from a private
``torch.Generator`` seeded with ``seed`` (on the CPU, then moved), so a seed fixes the network on
every device. Wrappers (``linearize``, ``scaled``, ``FixedPatternNet``) live in ``wrappers.py``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import Conv, Dense
from .spec import (
    NetSpec,
    activation_constant,
    cnn_spec,
    mlp_spec,
    one_wide_layer_spec,
    resnet_spec,
    two_layer_spec,
)
from .utils import (
    DEFAULT_DTYPE,
    check_dtype,
    check_memory,
    check_xy,
    make_generator,
    pick_device,
)

__all__ = [
    "Features",
    "MLP",
    "TwoLayerNet",
    "OneWideLayerNet",
    "ResNet",
    "CNN",
    "activation_constant",
]


class Features(NamedTuple):
    """What one forward pass computes.

    Attributes:
        preacts: input of every activation, each ``(n, m)`` (or ``(n, C, H, W)`` for a CNN).
        hidden: the activations (or the residual stream), same shapes as ``preacts``.
        output: the network output, ``(n, d_out)``.
    """

    preacts: list[Tensor]
    hidden: list[Tensor]
    output: Tensor


def _act(activation: str):
    return torch.relu if activation == "relu" else F.softplus


def _build_layer(ls, generator, dtype, device) -> Dense | Conv:
    """The module of one :class:`~ntklib.spec.LayerSpec` (weights drawn from ``generator``)."""
    if ls.kind == "conv":
        layer = Conv(ls.fan_in // ls.kernel_size**2, ls.fan_out, kernel_size=ls.kernel_size,
                     std=ls.std, multiplier=ls.multiplier, trainable=ls.trainable,
                     generator=generator, dtype=dtype, device=device)
    else:
        layer = Dense(ls.fan_in, ls.fan_out, std=ls.std, multiplier=ls.multiplier,
                      trainable=ls.trainable, bias=ls.bias, bias_multiplier=ls.bias_multiplier,
                      generator=generator, dtype=dtype, device=device)
    if ls.init == "signs":  # uniform +-std entries (Du et al.'s fixed output signs a_r)
        signs = torch.randint(0, 2, tuple(layer.weight.shape), generator=generator) * 2 - 1
        with torch.no_grad():
            layer.weight.copy_((ls.std * signs).to(layer.weight))
    return layer


class _Net(nn.Module):
    """Shared plumbing: build the layers of a spec, input checks, attributes."""

    def __init__(self, spec: NetSpec, *, seed: int, dtype: torch.dtype,
                 device: torch.device | str | None) -> None:
        super().__init__()
        check_dtype(dtype)
        device = None if device is None else pick_device(device)
        itemsize = torch.empty((), dtype=dtype).element_size()
        check_memory(spec.n_params * itemsize * 2,  # the weights and their initial copy
                     f"a network with {spec.n_params:,} parameters",
                     "pass a smaller width or depth (or dtype=torch.float32)",
                     device=device or "cpu")
        self._spec = spec
        for attr in ("width", "depth", "parameterization", "trainable", "activation", "d_in",
                     "d_out"):
            setattr(self, attr, getattr(spec, attr))
        g = make_generator(seed)
        self._layer_names: list[str] = []
        for ls in spec.layers:
            self.add_module(ls.name, _build_layer(ls, g, dtype, device))
            self._layer_names.append(ls.name)

    @property
    def spec(self) -> NetSpec:
        """The network's description, with the trained flags as the parameters have them now."""
        layers = self.weight_layers()
        trained = [name for name, layer in layers.items() if layer.weight.requires_grad]
        if trained == self._spec.trainable_names:
            return self._spec
        return self._spec.with_trainable(trained)

    @property
    def L(self) -> int:  # noqa: N802 - the paper's symbol
        """Allen-Zhu, Li, Song's L (see :attr:`ntklib.spec.NetSpec.L`)."""
        return self._spec.L

    @property
    def H(self) -> int:  # noqa: N802 - the paper's symbol
        """Du et al.'s H (see :attr:`ntklib.spec.NetSpec.H`)."""
        return self._spec.H

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
    """``layer -> act -> layer ... -> act -> output layer``: :class:`MLP`, :class:`TwoLayerNet`,
    :class:`OneWideLayerNet` (and the gated surrogate in ``wrappers.py``)."""

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
        """One forward pass keeping every pre-activation and activation."""
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
    :math:`f = B h_{L}` (Allen-Zhu, Li, Song 2019), with ``depth`` = L + 1 hidden activation
    layers.

    Layers ``A (m x d_in), W_1..W_{depth-1} (m x m), B (d_out x m)``; the laws of each
    ``parameterization`` are those of :func:`ntklib.spec.mlp_spec`:

    * ``"azls"``: :math:`A \sim N(0, c/m)`, :math:`W_\ell \sim N(0, \sigma_w^2/m)`,
      :math:`B \sim N(0, 1/d_{out})`, multipliers 1 (:math:`c = c_\sigma`, 2 for ReLU, and
      :math:`\sigma_w^2 = c` by default, so :math:`\|h_\ell\| \approx \|x\|`);
    * ``"ntk"``: all :math:`N(0, 1)`, multipliers 1, :math:`\sigma_w/\sqrt m`, :math:`\sqrt{c/m}`
      on A, :math:`W_\ell`, B (Arora et al.; for softplus Du et al.'s FC net with H = depth);
    * ``"standard"``: the same law with the scale in the weights, multipliers 1.

    Args:
        d_in: input dimension.
        width: m, the hidden width.
        depth: number of hidden activation layers (>= 1); Allen-Zhu et al.'s L is ``depth - 1``.
        d_out: output dimension.
        parameterization: ``"azls"``, ``"ntk"`` or ``"standard"``.
        trainable: ``"hidden"`` (W_1..W_L; A and B frozen, as in Allen-Zhu et al.; needs
            depth >= 2), ``"all"``, ``"first"`` (A) or ``"last"`` (B).
        activation: ``"relu"`` or ``"softplus"``.
        bias: add a zero-initialised bias (multiplier 1) to every layer, trained with its layer.
        sigma_w: hidden-weight scale :math:`\sigma_w` (default :math:`\sqrt{c_\sigma}`).
        seed: seed of the private generator (A, W_1, ..., B drawn in order).
        dtype: parameter dtype (default float64). device: parameter device (default CPU).

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
        spec = mlp_spec(d_in, width, depth, d_out=d_out, parameterization=parameterization,
                        trainable=trainable, activation=activation, bias=bias, sigma_w=sigma_w)
        super().__init__(spec, seed=seed, dtype=dtype, device=device)
        self.sigma_w = spec.options["sigma_w"]


class TwoLayerNet(_ChainNet):
    r"""Two-layer ReLU net of Du, Zhai, Poczos, Singh (2019),
    :math:`f(x) = m^{-1/2}\sum_{r=1}^m a_r\,\mathrm{relu}(w_r^\top x)` (``depth = 1``).

    :math:`w_r \sim N(0, I)` (layer ``"W"``), :math:`a_r` uniform on :math:`\{-1, +1\}` (layer
    ``"a"``, multiplier :math:`m^{-1/2}`).

    Args:
        d_in: input dimension.
        width: m, the number of hidden units.
        trainable: ``"first"`` (W only, the paper's main setting), ``"all"`` (W and a) or
            ``"last"`` (a only: a random-features model).
        seed: seed of the private generator (W is drawn first, then the signs).
        dtype: parameter dtype. device: parameter device.

    Shapes:
        ``forward``: ``(n, d_in) -> (n, 1)``.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        *,
        trainable: str = "first",
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(two_layer_spec(d_in, width, trainable=trainable), seed=seed,
                         dtype=dtype, device=device)


class OneWideLayerNet(_ChainNet):
    r"""Deep fully connected net with narrow layers and a single wide one (Nguyen 2021; Nguyen,
    Mondelli, Montufar 2021).

    :math:`f_0 = x`, :math:`f_\ell = \sigma(W_\ell f_{\ell-1})` for :math:`\ell = 1..` ``depth``,
    :math:`f = B f_{depth}`. Every hidden layer has ``width`` units except layer ``wide_layer``
    (1-based; default the last one), which has ``wide_width``. Standard (He) initialisation
    :math:`W_\ell \sim N(0, c_\sigma / n_{\ell-1})`, :math:`B \sim N(0, 1/n_L)`, multipliers 1.
    The wide layer's feature matrix is ``features(X).hidden[wide_layer - 1]``.

    Args:
        d_in: input dimension. width: width of the narrow layers. depth: hidden layers >= 1.
        wide_width: width of the wide layer. wide_layer: its index in 1..depth.
        d_out: output dimension. trainable: ``"all"`` (default), ``"hidden"``, ``"first"``,
            ``"last"``. activation: ``"relu"`` or ``"softplus"``. output_std: standard
            deviation of the output layer's entries (default :math:`1/\sqrt{n_L}`, He/LeCun).
            seed, dtype, device: as usual.
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
        output_std: float | None = None,
        seed: int = 0,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        spec = one_wide_layer_spec(d_in, width, depth, wide_width=wide_width,
                                   wide_layer=wide_layer, d_out=d_out, trainable=trainable,
                                   activation=activation, output_std=output_std)
        super().__init__(spec, seed=seed, dtype=dtype, device=device)
        self.wide_width = spec.options["wide_width"]
        self.wide_layer = spec.options["wide_layer"]
        self.widths = spec.options["widths"]

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

    ``style="azls"``: a residual variant of the Allen-Zhu-Li-Song network (our construction; the
    paper's ResNet was not checked) with their laws :math:`A, W_\ell \sim N(0, c_\sigma/m)`,
    :math:`B \sim N(0, 1/d_{out})`:
    :math:`h_0 = \phi(Ax)`, :math:`h_\ell = \phi(h_{\ell-1} + c_{res}W_\ell h_{\ell-1})`
    (:math:`\ell = 1..` ``depth - 1``), :math:`f = B h_{depth-1}`.

    Args:
        d_in: input dimension. width: m. depth: hidden activation layers (Du et al.'s H).
        style: ``"du"`` or ``"azls"``. activation: ``"relu"`` or ``"softplus"`` (Du et al.'s
            theorems need a smooth one). c_res: residual scale > 0.
        trainable: ``"all"`` (default; Du et al. train all layers), ``"hidden"`` (every layer
            between the input and the output layer), ``"first"`` or ``"last"``.
        d_out: output dimension. seed, dtype, device: as usual.
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
        spec = resnet_spec(d_in, width, depth, style=style, activation=activation, c_res=c_res,
                           trainable=trainable, d_out=d_out)
        super().__init__(spec, seed=seed, dtype=dtype, device=device)
        self.style = spec.options["style"]
        self.c_res = spec.options["c_res"]

    def _run(self, X: Tensor, keep: bool) -> Features:
        self._check_input(X)
        act = _act(self.activation)
        names = self._layer_names
        preacts, hidden = [], []
        z = getattr(self, names[0])(X)  # (n, m)
        if self.style == "du":
            m, H = self.width, self.depth
            x = math.sqrt(activation_constant(self.activation) / m) * act(z)
            scale = self.c_res / (H * math.sqrt(m))
        else:
            x = act(z)
        if keep:
            preacts.append(z)
            hidden.append(x)
        for name in names[1:-1]:
            if self.style == "du":
                z = getattr(self, name)(x)
                x = x + scale * act(z)
            else:
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
        """Pre-activations, the residual stream ``x^(1)..x^(H)`` (``"du"``) or the activations
        (``"azls"``), and the output."""
        return self._run(X, keep=True)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", style={self.style!r}, c_res={self.c_res}"


class CNN(_Net):
    r"""Small convolutional network for ``image_size x image_size`` images (8 x 8 digits).

    ``depth`` convolution + activation layers, global average pooling (GAP), a dense readout;
    NTK-type scaling with :math:`N(0,1)` weights and :math:`c = c_\sigma`:

    .. math::
        h_0 = \sigma(A * x),\quad
        h_\ell = \sigma\Bigl(\sqrt{\tfrac{c}{C k^2}}\,W_\ell * h_{\ell-1}\Bigr)
        \ \text{or, residual,}\ h_\ell = h_{\ell-1} + \tfrac{c_{res}}{depth - 1}\,
        \sigma\Bigl(\sqrt{\tfrac{c}{C k^2}}\,W_\ell * h_{\ell-1}\Bigr),\quad
        f = \sqrt{\tfrac{c}{C}}\,B\,\mathrm{GAP}(h_{depth-1}),

    ``*`` a stride-1 "same" convolution with a k x k kernel. Layers: ``A``, ``W1..W{depth-1}``
    (Conv), ``B`` (Dense).

    Args:
        in_channels: input channels. channels: C (the ``width`` attribute). depth: number of
            convolution layers >= 1. residual: skip connections as above. image_size: side s.
        d_out: outputs. kernel_size: odd k. activation: ``"relu"`` or ``"softplus"``.
        c_res: residual scale. trainable: ``"all"``, ``"hidden"``, ``"first"``, ``"last"``.
        seed, dtype, device: as usual.

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
        spec = cnn_spec(in_channels, channels, depth, residual=residual, image_size=image_size,
                        d_out=d_out, kernel_size=kernel_size, activation=activation,
                        c_res=c_res, trainable=trainable)
        super().__init__(spec, seed=seed, dtype=dtype, device=device)
        o = spec.options
        self.in_channels, self.residual, self.image_size = (o["in_channels"], o["residual"],
                                                            o["image_size"])
        self.c_res = o["c_res"]

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
        scale = self.c_res / max(1, self.depth - 1)
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
