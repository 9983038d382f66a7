r"""One description of each network, read by the model and by its infinite-width kernel.

A :class:`NetSpec` lists the weight layers of a network in forward order, each a
:class:`LayerSpec` with its fan-in, the standard deviation of its i.i.d. initial entries, its fixed
forward multiplier, whether it is trained, and its bias. ``models.py`` builds the PyTorch modules
from a spec (:func:`mlp_spec`, :func:`two_layer_spec`, ...), and ``kernels.py`` folds the
infinite-width recursion over the *same* layers, so a model and its limit kernel cannot disagree
about a scale, a depth or a trained layer (the design of neural-tangents' ``stax``, where one
description yields ``init_fn``, ``apply_fn`` and ``kernel_fn``).

**Depth, one convention everywhere.** ``depth`` is the number of hidden activation layers (the
number of ReLU/softplus layers a sample passes through). The papers' symbols are aliases:

* Allen-Zhu, Li, Song's :math:`L` (trained hidden :math:`m \times m` matrices
  :math:`W_1..W_L`, between the input layer :math:`A` and the output layer :math:`B`) is
  ``depth - 1``: their network with :math:`L` hidden matrices is ``MLP(..., depth=L + 1)``.
* Du, Lee, Li, Wang, Zhai's :math:`H` (layers :math:`W^{(1)}..W^{(H)}`, each followed by the
  activation) is ``depth``.
* Arora et al.'s :math:`L` (ReLU layers of the NTK recursion) is ``depth``.

Models expose ``model.L`` (= ``depth - 1``) and ``model.H`` (= ``depth``).

**Which layers are trained** (``trainable``), the same for every model: ``"all"``;
``"hidden"`` = every layer except the input layer and the output layer (Allen-Zhu et al.'s
:math:`W_1..W_L`; needs ``depth >= 2``); ``"first"`` = the input layer only (Du, Zhai, Poczos,
Singh's two-layer net trains :math:`w_r`); ``"last"`` = the output layer only (random features).

**Scales.** A layer maps its input :math:`h` (fan-in ``n_in``) to :math:`z = c\,W h` with
:math:`W_{ij} \sim N(0, s^2)` (``std`` s, ``multiplier`` c). Its *variance gain* is
:math:`q = c^2 s^2 n_{in}`: :math:`\mathrm{Var}(z_j) = q \cdot \overline{h^2}`. The law of
the random network depends only on the gains; the gradient scale of a layer (hence its share of
the NTK) depends on :math:`c^2 n_{in}` (see ``kernels.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from .utils import check_choice, check_int, check_memory, check_positive

__all__ = [
    "ACTIVATIONS",
    "PARAMETERIZATIONS",
    "TRAINABLE",
    "LayerSpec",
    "NetSpec",
    "activation_constant",
    "mlp_spec",
    "two_layer_spec",
    "one_wide_layer_spec",
    "resnet_spec",
    "cnn_spec",
]

ACTIVATIONS = ("relu", "softplus")
PARAMETERIZATIONS = ("azls", "ntk", "standard")
TRAINABLE = ("hidden", "all", "last", "first")


@cache
def activation_constant(activation: str) -> float:
    r"""The normalising constant :math:`c_\sigma = 1/\mathbb E_{z\sim N(0,1)}[\sigma(z)^2]`.

    ReLU: exactly 2. Softplus :math:`\log(1+e^z)`: 200-point Gauss-Hermite quadrature
    (probabilists' weights), accurate to ~1e-12 (about 1.0855). Du, Lee, Li, Wang, Zhai (arXiv
    1811.03804) use it in :math:`x^{(h)} = \sqrt{c_\sigma/m}\,\sigma(W^{(h)}x^{(h-1)})`.

    Args:
        activation: ``"relu"`` or ``"softplus"``.

    Returns:
        :math:`c_\sigma`.
    """
    check_choice(activation, "activation", ACTIVATIONS)
    if activation == "relu":
        return 2.0
    z, w = np.polynomial.hermite_e.hermegauss(200)
    second_moment = float(np.sum(w * np.logaddexp(0.0, z) ** 2) / math.sqrt(2 * math.pi))
    return 1.0 / second_moment


@dataclass(frozen=True)
class LayerSpec:
    r"""One weight layer: :math:`z = c\,W h\ (+\,c_b\,b)`, :math:`W_{ij} \sim N(0, s^2)`.

    Attributes:
        name: layer name in the model (``"A"``, ``"W1"``, ``"B"``, ...).
        fan_in: input features :math:`n_{in}` (``c_in * k * k`` for a convolution).
        fan_out: output features (output channels for a convolution).
        std: s, standard deviation of the initial entries (for ``init="signs"`` the entries are
            :math:`\pm s`, same second moment).
        multiplier: the fixed scalar c.
        trainable: whether the weight (and bias) is trained.
        bias: a zero-initialised bias :math:`b` with multiplier ``bias_multiplier``.
        bias_multiplier: :math:`c_b`.
        kind: ``"dense"`` or ``"conv"``.
        kernel_size: k for a convolution (1 for dense layers).
        init: ``"gaussian"`` or ``"signs"`` (uniform :math:`\pm s`, the fixed output signs
            :math:`a_r` of Du et al.'s two-layer net).
    """

    name: str
    fan_in: int
    fan_out: int
    std: float
    multiplier: float
    trainable: bool
    bias: bool = False
    bias_multiplier: float = 1.0
    kind: str = "dense"
    kernel_size: int = 1
    init: str = "gaussian"

    @property
    def gain(self) -> float:
        r"""Variance gain :math:`q = c^2 s^2 n_{in}`."""
        return (self.multiplier * self.std) ** 2 * self.fan_in

    @property
    def n_params(self) -> int:
        """Number of scalar parameters (weight and bias; a conv's fan_in includes k^2)."""
        return self.fan_out * self.fan_in + (self.fan_out if self.bias else 0)


@dataclass(frozen=True)
class NetSpec:
    """A whole network: its layers in forward order plus what the forward pass does with them.

    Attributes:
        family: ``"chain"`` (layer, activation, layer, ..., output layer: ``MLP``,
            ``TwoLayerNet``, ``OneWideLayerNet``), ``"resnet"`` or ``"cnn"``.
        layers: the weight layers in forward order.
        d_in, d_out, width, depth: sizes (``depth`` = number of hidden activation layers).
        activation: ``"relu"`` or ``"softplus"``.
        parameterization: ``"azls"``, ``"ntk"`` or ``"standard"``.
        trainable: the ``trainable`` option the spec was built with (``"custom"`` after
            :meth:`with_trainable`).
        options: family-specific settings (``style``, ``c_res``, ``residual``, ``image_size``,
            ``in_channels``, ``sigma_w``, ``wide_width``, ...).
        output_scale: the output is multiplied by this (``ntklib.scaled``); the NTK by its square.
        has_limit: whether the infinite-width kernel of this network is implemented
            (chains whose hidden layers all have ``width`` units).
    """

    family: str
    layers: tuple[LayerSpec, ...]
    d_in: int
    d_out: int
    width: int
    depth: int
    activation: str
    parameterization: str
    trainable: str
    options: dict = field(default_factory=dict)
    output_scale: float = 1.0
    has_limit: bool = False

    @property
    def L(self) -> int:  # noqa: N802 - the paper's symbol
        """Allen-Zhu, Li, Song's L: hidden m x m matrices = ``depth - 1``."""
        return self.depth - 1

    @property
    def H(self) -> int:  # noqa: N802 - the paper's symbol
        """Du et al.'s H = ``depth``."""
        return self.depth

    @property
    def names(self) -> list[str]:
        """Layer names in forward order."""
        return [layer.name for layer in self.layers]

    @property
    def trainable_names(self) -> list[str]:
        """Names of the trained layers."""
        return [layer.name for layer in self.layers if layer.trainable]

    @property
    def c_sigma(self) -> float:
        """:func:`activation_constant` of the activation."""
        return activation_constant(self.activation)

    @property
    def n_params(self) -> int:
        """Number of scalar parameters."""
        return sum(layer.n_params for layer in self.layers)

    def layer(self, name: str) -> LayerSpec:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer {name!r} in this network: its layers are {self.names}")

    def with_trainable(self, names: Iterable[str]) -> NetSpec:
        """The same network with exactly the layers ``names`` trained."""
        names = list(names)
        for name in names:
            self.layer(name)  # raises on an unknown name
        layers = tuple(dataclasses.replace(layer, trainable=layer.name in names)
                       for layer in self.layers)
        same = all(a.trainable == b.trainable for a, b in zip(layers, self.layers))
        return dataclasses.replace(self, layers=layers,
                                   trainable=self.trainable if same else "custom")

    def scaled(self, alpha: float) -> NetSpec:
        """The spec of ``alpha * f`` (the output, and so the NTK by ``alpha**2``)."""
        return dataclasses.replace(self, output_scale=self.output_scale * float(alpha))


# ----------------------------------------------------------------------------- validation


def _flags(trainable: str, n_layers: int, what: str) -> list[bool]:
    """Per-layer trained flags for the ``trainable`` option (input layer first, output last)."""
    check_choice(trainable, "trainable", TRAINABLE)
    if trainable == "all":
        return [True] * n_layers
    if trainable == "first":
        return [True] + [False] * (n_layers - 1)
    if trainable == "last":
        return [False] * (n_layers - 1) + [True]
    if n_layers < 3:
        raise ValueError(
            f"trainable='hidden' trains the layers between the input and the output layer, but "
            f"{what} has none: pass depth >= 2 (Allen-Zhu et al.'s L = depth - 1 >= 1), or "
            "trainable='first', 'last' or 'all'"
        )
    return [False] + [True] * (n_layers - 2) + [False]


def _check_size(n_layers: int, n_params: int) -> None:
    """Refuse a network whose description or weights would not fit in memory (before building
    it): about 1 kB per layer object plus 16 bytes per float64 parameter and its copy."""
    check_memory(1024 * n_layers + 16 * n_params,
                 f"a network with {n_layers:,} layers and {n_params:,} parameters",
                 "pass a smaller depth or width")


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


# ----------------------------------------------------------------------------- builders


def mlp_spec(
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
) -> NetSpec:
    r"""Fully connected network with ``depth`` hidden activation layers of ``width`` units.

    Layers ``A (width x d_in)``, ``W1 .. W{depth-1} (width x width)``, ``B (d_out x width)``:
    :math:`h_0 = \phi(Ax)`, :math:`h_\ell = \phi(W_\ell h_{\ell-1})`, :math:`f = B h_{L}` with
    :math:`L = ` ``depth - 1`` (Allen-Zhu, Li, Song's notation). With :math:`c = c_\sigma` and
    :math:`v = \sigma_w^2` (default :math:`c`):

    * ``"azls"``: :math:`A \sim N(0, c/m)`, :math:`W_\ell \sim N(0, v/m)`,
      :math:`B \sim N(0, 1/d_{out})`, multipliers 1 (Allen-Zhu et al.).
    * ``"ntk"``: all entries :math:`N(0, 1)`; multipliers 1 on A, :math:`\sqrt{v/m}` on
      :math:`W_\ell`, :math:`\sqrt{c/m}` on B (Arora et al.; for softplus Du et al.'s fully
      connected net with :math:`H` = ``depth``).
    * ``"standard"``: :math:`A \sim N(0, 1)`, :math:`W_\ell \sim N(0, v/m)`,
      :math:`B \sim N(0, c/m)`, multipliers 1 (same law as ``"ntk"``, other gradient scale).

    Biases (``bias=True``) are zero at initialisation with multiplier 1, trained with their layer.
    """
    d_in = check_int(d_in, "d_in", minimum=1)
    m = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    d_out = check_int(d_out, "d_out", minimum=1)
    check_choice(parameterization, "parameterization", PARAMETERIZATIONS)
    check_choice(activation, "activation", ACTIVATIONS)
    _check_bool(bias, "bias")
    c = activation_constant(activation)
    v = c if sigma_w is None else check_positive(sigma_w, "sigma_w") ** 2
    _check_size(depth + 1, d_in * m + (depth - 1) * m * m + m * d_out)
    flags = _flags(trainable, depth + 1, f"an MLP with depth={depth}")
    if parameterization == "azls":
        scales = [(math.sqrt(c / m), 1.0), (math.sqrt(v / m), 1.0), (math.sqrt(1 / d_out), 1.0)]
    elif parameterization == "ntk":
        scales = [(1.0, 1.0), (1.0, math.sqrt(v / m)), (1.0, math.sqrt(c / m))]
    else:
        scales = [(1.0, 1.0), (math.sqrt(v / m), 1.0), (math.sqrt(c / m), 1.0)]
    names = ["A"] + [f"W{ell}" for ell in range(1, depth)] + ["B"]
    layers = []
    for i, name in enumerate(names):
        kind = 0 if i == 0 else (2 if i == depth else 1)
        std, mult = scales[kind]
        fan_in = d_in if i == 0 else m
        fan_out = d_out if i == depth else m
        layers.append(LayerSpec(name, fan_in, fan_out, std, mult, flags[i], bias=bias))
    # Allen-Zhu et al.'s law with softplus has no infinite-width limit: the first pre-activations
    # shrink like m^{-1/2}, softplus(z) ~ log 2 + z/2 is not homogeneous, and the O(1) random sum
    # (log 2 / 2) sum_j (A x)_j enters every kernel entry without averaging out.
    limit = not (parameterization == "azls" and activation != "relu")
    return NetSpec("chain", tuple(layers), d_in, d_out, m, depth, activation, parameterization,
                   trainable, options={"sigma_w": math.sqrt(v), "bias": bias}, has_limit=limit)


def two_layer_spec(d_in: int, width: int, *, trainable: str = "first") -> NetSpec:
    r"""Du, Zhai, Poczos, Singh's :math:`f(x) = m^{-1/2}\sum_r a_r\,\mathrm{relu}(w_r^\top x)`.

    Layers ``W (width x d_in)``, :math:`N(0, 1)`, and ``a (1 x width)``, uniform signs
    :math:`\pm 1` with multiplier :math:`m^{-1/2}`; ``depth = 1``. ``trainable="first"`` trains
    the :math:`w_r` (the paper's setting), ``"last"`` the signs (a random-features model),
    ``"all"`` both.
    """
    d_in = check_int(d_in, "d_in", minimum=1)
    m = check_int(width, "width", minimum=1)
    _check_size(2, d_in * m + m)
    flags = _flags(trainable, 2, "TwoLayerNet (one hidden layer)")
    layers = (LayerSpec("W", d_in, m, 1.0, 1.0, flags[0]),
              LayerSpec("a", m, 1, 1.0, 1.0 / math.sqrt(m), flags[1], init="signs"))
    return NetSpec("chain", layers, d_in, 1, m, 1, "relu", "ntk", trainable, has_limit=True)


def one_wide_layer_spec(
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
) -> NetSpec:
    r"""Narrow deep net with one wide hidden layer (Nguyen 2021; Nguyen, Mondelli, Montufar 2021).

    Layers ``W1 .. W{depth}`` (hidden, each followed by the activation) and ``B``; hidden layer
    ``wide_layer`` (1-based, default ``depth``) has ``wide_width`` units, the others ``width``.
    Standard (He) initialisation :math:`W_\ell \sim N(0, c_\sigma/n_{\ell-1})`,
    :math:`B \sim N(0, 1/n_L)`, multipliers 1; ``output_std`` replaces the standard deviation
    :math:`1/\sqrt{n_L}` of the output layer's entries (e.g. a small output layer makes the
    network's output at initialisation small). No infinite-width limit (the narrow layers stay
    narrow).
    """
    d_in = check_int(d_in, "d_in", minimum=1)
    width = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    wide_width = check_int(wide_width, "wide_width", minimum=1)
    wide = depth if wide_layer is None else check_int(wide_layer, "wide_layer", minimum=1)
    if wide > depth:
        raise ValueError(f"wide_layer must be in 1..depth = 1..{depth}, got {wide}: pass "
                         "wide_layer <= depth (or None for the last hidden layer)")
    d_out = check_int(d_out, "d_out", minimum=1)
    check_choice(activation, "activation", ACTIVATIONS)
    c = activation_constant(activation)
    big = max(width, wide_width)
    _check_size(depth + 1, d_in * big + depth * width * big + big * d_out)
    flags = _flags(trainable, depth + 1, f"a OneWideLayerNet with depth={depth}")
    widths = [wide_width if ell == wide else width for ell in range(1, depth + 1)]
    layers, fan_in = [], d_in
    for ell, n_ell in enumerate(widths, start=1):
        layers.append(LayerSpec(f"W{ell}", fan_in, n_ell, math.sqrt(c / fan_in), 1.0,
                                flags[ell - 1]))
        fan_in = n_ell
    b_std = math.sqrt(1 / fan_in) if output_std is None else check_positive(output_std,
                                                                            "output_std")
    layers.append(LayerSpec("B", fan_in, d_out, b_std, 1.0, flags[-1]))
    return NetSpec("chain", tuple(layers), d_in, d_out, width, depth, activation, "standard",
                   trainable, options={"wide_width": wide_width, "wide_layer": wide,
                                       "widths": tuple(widths), "output_std": b_std},
                   has_limit=False)


def resnet_spec(
    d_in: int,
    width: int,
    depth: int,
    *,
    style: str = "du",
    activation: str = "relu",
    c_res: float = 0.1,
    trainable: str = "all",
    d_out: int = 1,
) -> NetSpec:
    r"""Fully connected residual networks (see :class:`ntklib.models.ResNet` for the forward pass).

    ``"du"``: layers ``W1 (m x d_in)``, ``W2..W{depth} (m x m)``, ``a (d_out x m)``, all
    :math:`N(0, 1)` with multiplier 1 (Du et al.'s scalings act after the activation);
    :math:`H` = ``depth``. ``"azls"``: ``A``, ``W1..W{depth-1}`` (multiplier ``c_res``), ``B``
    with Allen-Zhu et al.'s laws; ``depth - 1`` residual blocks.
    """
    d_in = check_int(d_in, "d_in", minimum=1)
    m = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    d_out = check_int(d_out, "d_out", minimum=1)
    style = check_choice(style, "style", ("du", "azls"))
    check_choice(activation, "activation", ACTIVATIONS)
    c_res = check_positive(c_res, "c_res")
    c = activation_constant(activation)
    _check_size(depth + 1, d_in * m + (depth - 1) * m * m + m * d_out)
    flags = _flags(trainable, depth + 1, f"a ResNet with depth={depth}")
    layers = []
    if style == "du":
        names = [f"W{h}" for h in range(1, depth + 1)] + ["a"]
        for i, name in enumerate(names):
            fan_in = d_in if i == 0 else m
            fan_out = d_out if i == depth else m
            layers.append(LayerSpec(name, fan_in, fan_out, 1.0, 1.0, flags[i]))
        parameterization = "ntk"
    else:
        s = math.sqrt(c / m)
        layers.append(LayerSpec("A", d_in, m, s, 1.0, flags[0]))
        for ell in range(1, depth):
            layers.append(LayerSpec(f"W{ell}", m, m, s, c_res, flags[ell]))
        layers.append(LayerSpec("B", m, d_out, math.sqrt(1 / d_out), 1.0, flags[-1]))
        parameterization = "azls"
    return NetSpec("resnet", tuple(layers), d_in, d_out, m, depth, activation, parameterization,
                   trainable, options={"style": style, "c_res": c_res}, has_limit=False)


def cnn_spec(
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
) -> NetSpec:
    r"""Small CNN: ``depth`` convolution + activation layers (``A``, ``W1..W{depth-1}``), global
    average pooling and a dense readout ``B``; NTK-type multipliers :math:`\sqrt{c/(C k^2)}` on
    the hidden convolutions and :math:`\sqrt{c/C}` on B, :math:`N(0, 1)` entries."""
    c_in = check_int(in_channels, "in_channels", minimum=1)
    C = check_int(channels, "channels", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    _check_bool(residual, "residual")
    s = check_int(image_size, "image_size", minimum=1)
    d_out = check_int(d_out, "d_out", minimum=1)
    k = check_int(kernel_size, "kernel_size", minimum=1)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd for 'same' padding, got {k}: pass 1, 3, 5, ...")
    check_choice(activation, "activation", ACTIVATIONS)
    c_res = check_positive(c_res, "c_res")
    c = activation_constant(activation)
    _check_size(depth + 1, (c_in + (depth - 1) * C) * C * k * k + C * d_out)
    flags = _flags(trainable, depth + 1, f"a CNN with depth={depth}")
    layers = [LayerSpec("A", c_in * k * k, C, 1.0, 1.0, flags[0], kind="conv", kernel_size=k)]
    for ell in range(1, depth):
        layers.append(LayerSpec(f"W{ell}", C * k * k, C, 1.0, math.sqrt(c / (C * k * k)),
                                flags[ell], kind="conv", kernel_size=k))
    layers.append(LayerSpec("B", C, d_out, 1.0, math.sqrt(c / C), flags[-1]))
    return NetSpec("cnn", tuple(layers), c_in * s * s, d_out, C, depth, activation, "ntk",
                   trainable, options={"residual": residual, "image_size": s,
                                       "in_channels": c_in, "kernel_size": k, "c_res": c_res},
                   has_limit=False)
