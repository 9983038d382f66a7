"""Tests for ntklib.layers: init law, forward formula, freezing, layer-NTK formula, validation."""

import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import close as _close

from ntklib import make_generator
from ntklib.layers import Conv, Dense


def test_dense_init_variance_and_shape():
    layer = Dense(400, 300, std=0.5, generator=make_generator(0))
    w = layer.weight
    assert w.shape == (300, 400) and w.dtype == torch.float64
    # 120000 i.i.d. N(0, 0.25): sample variance within 5 standard errors (se = 0.25 sqrt(2/N))
    assert abs(w.var().item() - 0.25) < 5 * 0.25 * math.sqrt(2 / w.numel())
    assert abs(w.mean().item()) < 5 * 0.5 / math.sqrt(w.numel())


def test_dense_forward_matches_hand_computation(gen):
    layer = Dense(5, 3, multiplier=0.7, generator=make_generator(1))
    x = torch.randn(4, 5, generator=gen)
    W = layer.weight.detach()
    want = torch.stack([torch.stack([0.7 * sum(x[i, k] * W[j, k] for k in range(5))
                                     for j in range(3)]) for i in range(4)])
    _close(layer(x), want, rtol=1e-12, atol=1e-12)


def test_dense_bias_forward_and_trainability(gen):
    layer = Dense(5, 3, multiplier=2.0, bias=True, bias_multiplier=0.5, generator=make_generator(2))
    assert torch.equal(layer.bias, torch.zeros(3))
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([1.0, -2.0, 3.0]))
    x = torch.randn(4, 5, generator=gen)
    want = 2.0 * x @ layer.weight.T + 0.5 * layer.bias
    _close(layer(x), want)
    frozen = Dense(5, 3, bias=True, trainable=False)
    assert not frozen.weight.requires_grad and not frozen.bias.requires_grad
    assert Dense(5, 3).bias is None


def test_dense_seed_determinism():
    a = Dense(7, 6, generator=make_generator(3)).weight
    b = Dense(7, 6, generator=make_generator(3)).weight
    c = Dense(7, 6, generator=make_generator(4)).weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_dense_layer_ntk_formula_matches_autograd(gen):
    """Layer NTK = multiplier^2 (G G^T) * (H H^T), G = d(sum f)/d(layer output) (DESIGN.md)."""
    layer = Dense(4, 6, multiplier=0.3, generator=make_generator(5))
    v = torch.randn(6, generator=gen)
    H = torch.randn(5, 4, generator=gen)
    f = lambda inp: torch.tanh(layer(inp)) @ v  # (n,)
    rows = []
    for i in range(5):
        (g,) = torch.autograd.grad(f(H[i:i + 1]).sum(), layer.weight)
        rows.append(g.flatten())
    J = torch.stack(rows)  # (n, P)
    z = layer(H).detach().requires_grad_(True)  # the layer output as a leaf
    (G,) = torch.autograd.grad((torch.tanh(z) @ v).sum(), z)
    K_formula = 0.3**2 * (G @ G.T) * (H @ H.T)
    _close(J @ J.T, K_formula, rtol=1e-10, atol=1e-12)


def test_conv_forward_matches_unfold(gen):
    conv = Conv(2, 3, kernel_size=3, multiplier=0.4, generator=make_generator(6))
    x = torch.randn(2, 2, 5, 5, generator=gen)
    patches = F.unfold(x, kernel_size=3, padding=1)  # (n, 2*9, 25)
    want = 0.4 * (conv.weight.reshape(3, -1) @ patches).reshape(2, 3, 5, 5)
    _close(conv(x), want)
    assert conv(x).shape == (2, 3, 5, 5)


def test_conv_init_and_freeze():
    conv = Conv(8, 16, kernel_size=5, std=2.0, trainable=False, generator=make_generator(7))
    assert conv.weight.shape == (16, 8, 5, 5) and not conv.weight.requires_grad
    assert abs(conv.weight.var().item() - 4.0) < 5 * 4.0 * math.sqrt(2 / conv.weight.numel())


def test_gradient_matches_finite_differences(gen):
    layer = Dense(3, 2, multiplier=1.3, generator=make_generator(8))
    x = torch.randn(4, 3, generator=gen)
    loss = lambda: (torch.relu(layer(x)) ** 2).sum()
    (g,) = torch.autograd.grad(loss(), layer.weight)
    eps = 1e-6
    fd = torch.zeros_like(g)
    with torch.no_grad():
        for idx in range(g.numel()):
            w = layer.weight.view(-1)
            w[idx] += eps
            up = loss()
            w[idx] -= 2 * eps
            down = loss()
            w[idx] += eps
            fd.view(-1)[idx] = (up - down) / (2 * eps)
    _close(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(d_in=0, d_out=3), ValueError),
        (dict(d_in=3, d_out=2.5), TypeError),
        (dict(d_in=3, d_out=3, multiplier=0.0), ValueError),
        (dict(d_in=3, d_out=3, std=-1.0), ValueError),
        (dict(d_in=3, d_out=3, trainable="yes"), TypeError),
        (dict(d_in=3, d_out=3, dtype=torch.int32), ValueError),
        (dict(d_in=3, d_out=3, dtype="float64"), TypeError),
    ],
)
def test_dense_validation(kwargs, err):
    d_in, d_out = kwargs.pop("d_in"), kwargs.pop("d_out")
    with pytest.raises(err):
        Dense(d_in, d_out, **kwargs)


def test_conv_validation():
    with pytest.raises(ValueError, match="odd"):
        Conv(1, 2, kernel_size=2)
    with pytest.raises(ValueError):
        Conv(0, 2)
