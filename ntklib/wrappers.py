r"""Models built around another model: the gated surrogate, the linearization and the
Chizat-Oyallon-Bach scaling.

* :class:`FixedPatternNet`: the ReLU network with its activation patterns frozen at
  initialisation (in the spirit of Noy et al. 2021, arXiv 2101.04243; our construction);
* :func:`linearize`: :math:`f(\theta_0) + J(\theta_0)(\theta - \theta_0)` (Lee et al. 2019);
* :func:`scaled`: :math:`\alpha\,(f(\theta) - f(\theta_0))` (Chizat, Oyallon, Bach 2019).

Each wrapper keeps the wrapped network's :class:`~ntklib.spec.NetSpec` (``.spec``), so
``ntklib.limit_kernel`` gives the infinite-width kernel of a wrapper too (times
:math:`\alpha^2` for :func:`scaled`).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import Tensor, nn
from torch.func import functional_call, jvp

from .layers import Conv, Dense
from .models import Features, _ChainNet, _Net
from .spec import NetSpec
from .utils import check_positive

__all__ = ["FixedPatternNet", "linearize", "scaled"]


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
    patterns, in the spirit of Noy et al. 2021, arXiv 2101.04243; our construction, not
    necessarily the paper's).

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
        nn.Module.__init__(self)  # the layers are copies of net's, not drawn from a spec
        if not isinstance(net, _ChainNet) or isinstance(net, FixedPatternNet):
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
        self._spec = net.spec
        self._source = _Hidden(_frozen_copy(net))  # gates and to_relu template
        self._layer_names = []
        for name, layer in net.weight_layers().items():
            self.add_module(name, copy.deepcopy(layer))
            self._layer_names.append(name)
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


class _AroundModel0(nn.Module):
    """Shared part of the wrappers: the wrapped model's attributes, and a frozen copy at
    :math:`\theta_0` that ``.to()`` moves but ``parameters()`` does not see."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for attr in _DELEGATED:
            setattr(self, attr, getattr(model, attr, None))
        self._frozen = _Hidden(_frozen_copy(model))

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._frozen.module._apply(fn, recurse)
        return self

    @property
    def model0(self) -> nn.Module:
        """The frozen network at :math:`\theta_0`."""
        return self._frozen.module


class _Linearized(_AroundModel0):
    r"""First-order Taylor model :math:`f_{lin}(x;\theta) = f(x;\theta_0) +
    J_\theta f(x;\theta_0)\,(\theta - \theta_0)` (Lee et al. 2019), see :func:`linearize`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self._names = [n for n, p in model.named_parameters() if p.requires_grad]
        if not self._names:
            raise ValueError(
                "linearize needs a model with at least one trainable parameter: build it with "
                "trainable='all' or 'hidden'"
            )
        self._spec = getattr(model, "spec", None)
        base_params = dict(self.model0.named_parameters())
        self.params = nn.ParameterDict(
            {n.replace(".", "__"): nn.Parameter(base_params[n].detach().clone())
             for n in self._names}
        )

    @property
    def spec(self) -> NetSpec | None:
        """The wrapped network's description (the NTK at :math:`\\theta_0` is the same)."""
        return self._spec

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``: one forward-mode pass (``torch.func.jvp``)."""
        base = self.model0
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


class _Scaled(_AroundModel0):
    r""":math:`\alpha\,(f(x;\theta) - f(x;\theta_0))`, see :func:`scaled`."""

    def __init__(self, model: nn.Module, alpha: float) -> None:
        alpha = check_positive(alpha, "alpha")
        super().__init__(model)
        self.alpha = alpha
        self.model = model

    @property
    def spec(self) -> NetSpec | None:
        """The wrapped model's description with ``output_scale`` multiplied by ``alpha``."""
        spec = getattr(self.model, "spec", None)
        return None if spec is None else spec.scaled(self.alpha)

    def weight_layers(self) -> dict[str, Dense | Conv]:
        """The wrapped model's layers (its NTK is multiplied by ``alpha**2``: backpropagate
        through this module's output to get it)."""
        return self.model.weight_layers()

    def forward(self, X: Tensor) -> Tensor:
        """``(n, d_in) -> (n, d_out)``."""
        with torch.no_grad():
            f0 = self.model0(X)
        return self.alpha * (self.model(X) - f0)

    def features(self, X: Tensor) -> Features:
        """The wrapped model's features, with ``output`` replaced by the scaled output."""
        feats = self.model.features(X)
        with torch.no_grad():
            f0 = self.model0(X)
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
