"""Tests of ntklib.experiments.deep_gram (Du, Lee, Li, Wang, Zhai) against independent
references: per-sample autograd gradients, the exact limit Gram matrix, hand-written GD on the
linearised model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


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
    if arch == "fc":  # Du et al.'s H = 3: layers A, W1, W2, B; W^(H) is W2
        net = nl.MLP(4, 16, 3, parameterization="ntk", trainable="all", activation="softplus",
                     seed=2)
    else:  # layers W1, W2, W3, a; W^(H) is W3
        net = nl.ResNet(4, 16, 3, style="du", activation="softplus", c_res=0.5, seed=2)
    flags = [p.requires_grad for p in net.parameters()]
    G = E.last_layer_gram(net, X)
    assert [p.requires_grad for p in net.parameters()] == flags
    name = "W2" if arch == "fc" else "W3"
    assert torch.allclose(G, _grad_gram(net, X, name), atol=1e-10)


def test_gram_perturbation_fc_mean_approaches_du_limit():
    # the Monte Carlo mean of G^(H)(0) is an estimate of K^(H); at m = 512 with 6 seeds the
    # relative error is ~ 0.1 / sqrt(6) + O(1/m), so 0.15 is loose but fails for a wrong kernel
    # (or for a depth off by one: lambda_min and the entries change by a factor ~3 per layer)
    X, _, _ = nl.sphere_data(8, 8, last_coord=False, seed=0)
    nets = [nl.MLP(8, 512, 3, parameterization="ntk", trainable="all", activation="softplus",
                   seed=s) for s in range(6)]
    G_bar = torch.stack([E.last_layer_gram(n, X) for n in nets]).mean(0)
    K = nl.du_deep_gram(X, 3, "softplus")
    assert ((G_bar - K).norm() / K.norm()).item() < 0.15
    out = E.gram_perturbation("fc", 3, 64, n=8, d=8)
    assert out["ratio"] == pytest.approx(out["op"] / out["lambda_min"])
    assert out["scale_limit"] == pytest.approx(K.diagonal().mean().item(), rel=1e-12)
    res = E.gram_perturbation("resnet", 3, 64, n=8, d=8)
    assert math.isnan(res["ratio_limit"]) and math.isnan(res["scale_limit"])
    with pytest.raises(ValueError, match="depth"):
        E.gram_perturbation("fc", 1, 64)


def test_max_stable_lr_bracket_contains_linear_scale():
    out = E.max_stable_lr("resnet", 2, 64, n=8, d=8, steps=30, iters=6)
    # GD on the (nearly linear) model diverges just above 2 / lambda_max: the bisection bracket
    # [last stable, first unstable] contains it, up to the bracket's resolution
    assert out["lr"] < out["lr_unstable"] <= 1.2 * out["lr"]
    assert out["lr"] / 1.1 <= out["lr_linear"] <= 1.1 * out["lr_unstable"]


def test_gram_stability_matches_hand_written_linear_gd():
    r = E.gram_stability("resnet", 3, 32, n=6, d=5, steps=5, log_every=1, seed=1)
    X, y, _ = nl.sphere_data(6, 5, labels="random", last_coord=False, seed=1)
    net = nl.ResNet(5, 32, 3, style="du", activation="softplus", c_res=0.5, seed=1)
    K = brute_ntk(net, X)
    lam = torch.linalg.eigvalsh(K)
    assert r["lr"] == pytest.approx(1.0 / lam[-1].item(), rel=1e-10)
    assert r["lambda_min"] == pytest.approx(lam[0].item(), rel=1e-8)
    # the kernel prediction: residual r_{k+1} = (I - lr K) r_k, loss 1/2 ||r_k||^2, by hand
    with torch.no_grad():
        res = net(X).reshape(-1) - y
    losses = []
    for _ in range(6):
        losses.append(0.5 * res.square().sum().item())
        res = res - r["lr"] * K @ res
    assert np.allclose(r["loss_kernel"], losses, rtol=1e-9)
    # step 0: the Gram log starts at G(0) itself; the guaranteed curve is F(0) (1 - lr lam0/2)^k
    assert r["gram_op"][0] == 0 and r["gram_lam"][0] == pytest.approx(1.0)
    lam0 = torch.linalg.eigvalsh(E.last_layer_gram(net, X))[0].item()
    assert r["lambda0"] == pytest.approx(lam0, rel=1e-8)
    assert np.allclose(r["guaranteed"], r["loss"][0] * (1 - r["lr"] * lam0 / 2) ** np.arange(6))
    assert r["move"].shape == (4,) and np.all(r["move"] > 0)


def test_gram_stability_tiny_step_stays_at_the_kernel():
    r = E.gram_stability("fc", 2, 16, n=5, d=4, steps=3, lr_factor=1e-6, log_every=1)
    assert r["kernel_gap"] < 1e-9
    assert np.all(r["gram_rel"] < 1e-5) and np.all(np.abs(r["gram_lam"] - 1) < 1e-5)


def test_conv_resnet_run_reference_ntk_and_kernel_regime():
    r = E.conv_resnet_run(4, depth=2, n=6, steps=4)
    X, cls, _ = nl.digits(6, classes=(0, 1), image=True, seed=0)
    net = nl.CNN(1, 4, 2, residual=True, activation="softplus", c_res=0.5, seed=0)
    lam_max = torch.linalg.eigvalsh(brute_ntk(net, X))[-1].item()
    assert r["lr"] == pytest.approx(1.0 / lam_max, rel=1e-8)
    assert r["norm_error"] < 1e-12  # unit-norm images, as the theorem assumes
    assert len(r["loss"]) == len(r["loss_kernel"]) == 5
    tiny = E.conv_resnet_run(4, depth=2, n=6, steps=3, lr_factor=1e-6)
    assert tiny["kernel_gap"] < 1e-9 and tiny["ntk_drift"] < 1e-5
    with pytest.raises(ValueError, match="depth"):
        E.conv_resnet_run(4, depth=1)
