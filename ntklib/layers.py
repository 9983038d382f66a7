r"""The only weight-carrying modules of ntklib: :class:`Dense` and :class:`Conv`.

Each layer stores a weight ``weight`` drawn from :math:`\mathcal N(0, \mathrm{std}^2)` and a fixed
scalar ``multiplier`` :math:`c`; its forward pass is :math:`c\cdot(\text{linear op})`. This covers
every parameterization of the book:

* standard / He / Allen-Zhu et al.: ``std = sqrt(2/fan_in)``, ``multiplier = 1``;
* NTK parameterization (Jacot et al., Arora et al., Du et al.): ``std = 1``,
  ``multiplier = sqrt(c_sigma/fan_in)``.

Because the weight enters only through :math:`c\,W`, the empirical NTK of a :class:`Dense` layer
is :math:`c^2\,(GG^\top)\odot(HH^\top)` with :math:`H` the layer input ``(n, d_in)`` and
:math:`G = \partial(\sum_i f(x_i))/\partial(\text{layer output})` ``(n, d_out)`` (one output
coordinate), plus, when there is a bias, :math:`c_b^2\,GG^\top`. ``ntk.py`` relies on this.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .utils import DEFAULT_DTYPE, check_dtype, check_int, check_positive, make_generator

__all__ = ["Dense", "Conv"]


def _normal(
    shape: tuple[int, ...],
    std: float,
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | str | None,
) -> Tensor:
    """Draw N(0, std^2) on the generator's device, then move to ``device``."""
    if generator is None:
        generator = make_generator(0)
    w = torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)
    if std != 1.0:
        w.mul_(std)
    return w.to(device) if device is not None else w


def _check_common(std: object, multiplier: object, trainable: object, dtype: object) -> None:
    check_positive(std, "std", strict=False)
    check_positive(multiplier, "multiplier")
    if not isinstance(trainable, bool):
        raise TypeError(
            f"trainable must be True or False for a layer, got {type(trainable).__name__}"
        )
    check_dtype(dtype)


class Dense(nn.Module):
    r"""Fully connected layer :math:`x \mapsto c\, x W^\top (+\, c_b\, b)` without hidden scaling.

    Args:
        d_in: input features.
        d_out: output features.
        std: standard deviation of the i.i.d. Gaussian weight entries.
        multiplier: the fixed scalar :math:`c` in front of the product.
        trainable: ``False`` freezes the weight (and bias): ``requires_grad=False``.
        bias: add a bias ``b`` of shape ``(d_out,)``, initialised to zero (so the law of the
            network at initialization does not change); default ``False`` everywhere in the book.
        bias_multiplier: the fixed scalar :math:`c_b` in front of the bias.
        generator: source of randomness (``ntklib.make_generator(seed)``); ``None`` means seed 0.
        dtype: parameter dtype (default float64).
        device: parameter device (default: the generator's, i.e. CPU).

    Shapes:
        ``forward``: ``(n, d_in) -> (n, d_out)``; ``weight``: ``(d_out, d_in)``.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        std: float = 1.0,
        multiplier: float = 1.0,
        trainable: bool = True,
        bias: bool = False,
        bias_multiplier: float = 1.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_int(d_in, "d_in", minimum=1)
        self.d_out = check_int(d_out, "d_out", minimum=1)
        _check_common(std, multiplier, trainable, dtype)
        self.std = float(std)
        self.multiplier = float(multiplier)
        w = _normal((self.d_out, self.d_in), self.std, generator, dtype, device)
        self.weight = nn.Parameter(w, requires_grad=trainable)
        if bias:
            self.bias_multiplier = check_positive(bias_multiplier, "bias_multiplier")
            self.bias = nn.Parameter(torch.zeros_like(w[:, 0]), requires_grad=trainable)
        else:
            self.bias_multiplier = 0.0
            self.register_parameter("bias", None)

    @property
    def trainable(self) -> bool:
        """Whether the weight receives gradients."""
        return self.weight.requires_grad

    def forward(self, x: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``: ``multiplier * x @ weight.T + bias_multiplier * bias``."""
        out = F.linear(x, self.weight)  # (n, d_out)
        if self.multiplier != 1.0:
            out = out * self.multiplier
        if self.bias is not None:
            out = out + self.bias_multiplier * self.bias
        return out

    def extra_repr(self) -> str:
        return (
            f"d_in={self.d_in}, d_out={self.d_out}, std={self.std:.4g}, "
            f"multiplier={self.multiplier:.4g}, bias={self.bias is not None}, "
            f"trainable={self.trainable}"
        )


class Conv(nn.Module):
    r"""2-D convolution :math:`x \mapsto c\,(W * x)`, stride 1, "same" zero padding, no bias.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel_size: odd kernel side ``k`` (padding ``k // 2`` keeps the image size).
        std: standard deviation of the i.i.d. Gaussian weight entries.
        multiplier: the fixed scalar :math:`c`, e.g. ``sqrt(2 / (c_in k^2))`` for NTK scaling.
        trainable: ``False`` freezes the weight.
        generator: source of randomness; ``None`` means seed 0.
        dtype: parameter dtype (default float64).
        device: parameter device.

    Shapes:
        ``forward``: ``(n, c_in, H, W) -> (n, c_out, H, W)``; ``weight``: ``(c_out, c_in, k, k)``.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        *,
        kernel_size: int = 3,
        std: float = 1.0,
        multiplier: float = 1.0,
        trainable: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = DEFAULT_DTYPE,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.c_in = check_int(c_in, "c_in", minimum=1)
        self.c_out = check_int(c_out, "c_out", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd for 'same' padding, got {kernel_size}: pass 1, 3, 5, ..."
            )
        _check_common(std, multiplier, trainable, dtype)
        self.std = float(std)
        self.multiplier = float(multiplier)
        k = self.kernel_size
        w = _normal((self.c_out, self.c_in, k, k), self.std, generator, dtype, device)
        self.weight = nn.Parameter(w, requires_grad=trainable)

    @property
    def trainable(self) -> bool:
        """Whether the weight receives gradients."""
        return self.weight.requires_grad

    def forward(self, x: Tensor) -> Tensor:
        """``(n, c_in, H, W) -> (n, c_out, H, W)``: ``multiplier * conv2d(x, weight)``."""
        out = F.conv2d(x, self.weight, padding=self.kernel_size // 2)
        if self.multiplier != 1.0:
            out = out * self.multiplier
        return out

    def extra_repr(self) -> str:
        return (
            f"c_in={self.c_in}, c_out={self.c_out}, kernel_size={self.kernel_size}, "
            f"std={self.std:.4g}, multiplier={self.multiplier:.4g}, trainable={self.trainable}"
        )
