"""Tests of part4a's additions: ``models.OneWideLayerNet``, the experiment helpers of
``ntklib.experiments`` (last-layer Gram matrix, Gram perturbation, stable step, minimal width,
one wide layer) and the width calculator of ``ntklib.theory``."""

import math

import numpy as np
import pytest
import torch

import ntklib as nl
import ntklib.theory as th
from ntklib import experiments as E
from ntklib.experiments.deep_gram import _du_net
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
    # "hidden": every layer except the input layer W1 and the output layer B
    hidden = OneWideLayerNet(3, 4, 3, wide_width=8, trainable="hidden")
    assert [n for n, v in hidden.weight_layers().items() if v.weight.requires_grad] == ["W2", "W3"]


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


def _grad_gram(model, X, name):
    """Reference G^(H) from per-sample autograd gradients of the named layer."""
    w = model.weight_layers()[name].weight
    rows = []
    for i in range(X.shape[0]):
        (g,) = torch.autograd.grad(model(X[i : i + 1]).sum(), w)
        rows.append(g.reshape(-1))
    J = torch.stack(rows)
    return J @ J.T


@pytest.mark.parametrize("arch", ["fc", "resnet"])
def test_last_layer_gram_matches_autograd_and_restores_flags(arch):
    X, _, _ = nl.sphere_data(5, 4, last_coord=False, seed=0)
    net = _du_net(arch, 3, 16, 4, activation="softplus", c_res=0.5, seed=2)
    assert net.H == 3
    flags = [p.requires_grad for p in net.parameters()]
    G = E.last_layer_gram(net, X)
    assert [p.requires_grad for p in net.parameters()] == flags
    name = "W2" if arch == "fc" else "W3"
    assert torch.allclose(G, _grad_gram(net, X, name), atol=1e-10)


def test_gram_perturbation_fc_mean_approaches_du_limit():
    # the Monte Carlo mean of G^(H)(0) is an estimate of K^(H); at m = 512 with 6 seeds the
    # relative error is ~ 0.1 / sqrt(6) + O(1/m), so 0.15 is loose but fails for a wrong kernel
    X, _, _ = nl.sphere_data(8, 8, last_coord=False, seed=0)
    nets = [_du_net("fc", 3, 512, 8, activation="softplus", c_res=0.5, seed=s)
            for s in range(6)]
    G_bar = torch.stack([E.last_layer_gram(n, X) for n in nets]).mean(0)
    K = nl.du_deep_gram(X, 3, "softplus")
    assert ((G_bar - K).norm() / K.norm()).item() < 0.15
    out = E.gram_perturbation("fc", 3, 64, n=8, d=8)
    assert out["ratio"] == pytest.approx(out["op"] / out["lambda_min"])
    assert math.isnan(E.gram_perturbation("resnet", 3, 64, n=8, d=8)["ratio_limit"])
    with pytest.raises(ValueError, match="depth"):
        E.gram_perturbation("fc", 1, 64)


def test_max_stable_lr_agrees_with_linear_scale():
    out = E.max_stable_lr("resnet", 2, 64, n=8, d=8, steps=30, iters=6)
    assert 0.7 < out["lr"] / out["lr_linear"] < 1.4


def test_width_requirements_and_min_width():
    req = th.width_requirements(20, 3, separation=0.1, failure_prob=0.1, lambda0=0.1, d=5)
    assert set(req) == set(th.BOUNDS)
    assert req["zou-gu"]["value"] == pytest.approx(20**8 * 3**12)
    assert req["oymak-soltanolkotabi"]["value"] == pytest.approx(400 / 5)
    assert req["kawaguchi-huang"]["unit"] == "params"
    assert req["nguyen-2021"]["status"] == "unverified"
    r = E.min_width_needed("two_layer", 4, d=4, steps=300, eps=0.05)
    assert r["width"] == r["tried"][-1] and r["ratios"][-1] <= 0.05
    assert all(x > 0.05 for x in r["ratios"][:-1])


def test_one_wide_layer_run_rank_and_floor():
    small = E.one_wide_layer_run(12, 6, steps=5)
    big = E.one_wide_layer_run(12, 48, steps=5)
    assert small["sigma_min"] == 0.0 and small["rank"] <= 6 and small["floor"] > 0.05
    assert big["sigma_min"] > 0 and big["rank"] == 12 and big["floor"] < 1e-12
    assert np.isfinite(big["sigma_max"])
