"""Tests of ``models.OneWideLayerNet`` (the experiment functions that use it are tested in
``tests/test_experiments_widths.py`` and ``tests/test_experiments_deep_gram.py``)."""


import pytest
import torch

import ntklib as nl
from ntklib.models import OneWideLayerNet


def test_one_wide_layer_shapes_widths_and_forward_by_hand():
    net = OneWideLayerNet(5, 4, 3, wide_width=11, wide_layer=2, seed=3)
    assert net.widths == (4, 11, 4)
    layers = net.weight_layers()
    assert list(layers) == ["W1", "W2", "W3", "B"]
    assert [tuple(v.weight.shape) for v in layers.values()] == [(4, 5), (11, 4), (4, 11), (1, 4)]
    X = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h = X
    for name in ("W1", "W2", "W3"):
        h = torch.relu(h @ layers[name].weight.T)
    ref = h @ layers["B"].weight.T
    assert torch.allclose(net(X), ref)
    feats = net.features(X)
    assert feats.hidden[1].shape == (7, 11)
    assert torch.allclose(feats.output, ref)


def test_one_wide_layer_he_init_variances_and_trainable():
    net = OneWideLayerNet(50, 400, 2, wide_width=2000, seed=0)
    W2 = net.weight_layers()["W2"].weight
    # He init: Var = 2 / fan_in = 2 / 400; 800k samples -> relative std error ~ 0.2 %
    assert W2.var().item() == pytest.approx(2 / 400, rel=0.02)
    assert net.weight_layers()["B"].weight.var().item() == pytest.approx(1 / 2000, rel=0.15)
    assert all(p.requires_grad for p in net.parameters())
    last = OneWideLayerNet(3, 4, 2, wide_width=8, trainable="last")
    assert [n for n, v in last.weight_layers().items() if v.weight.requires_grad] == ["B"]


def test_one_wide_layer_validation():
    with pytest.raises(ValueError, match="wide_layer"):
        OneWideLayerNet(3, 4, 2, wide_width=8, wide_layer=3)
    with pytest.raises(ValueError):
        OneWideLayerNet(3, 4, 2, wide_width=0)
    with pytest.raises(ValueError):
        OneWideLayerNet(3, 4, 2, wide_width=8, trainable="some")


def test_one_wide_layer_ntk_and_training_work():
    X, y, _ = nl.sphere_data(6, 4, labels="random", last_coord=False, seed=1)
    net = OneWideLayerNet(4, 5, 2, wide_width=12, seed=0)
    K_lw = nl.empirical_ntk(net, X, method="layerwise")
    K_jac = nl.empirical_ntk(net, X, method="jacobian")
    assert torch.allclose(K_lw, K_jac, atol=1e-10)
    h = nl.train(net, X, y, lr=0.5 * nl.stable_learning_rate(net, X), steps=50)
    assert h.loss[-1] < h.loss[0]
