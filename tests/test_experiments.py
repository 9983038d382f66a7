"""Tests of ntklib.experiments against independent references (autograd Jacobians, closed forms,
Monte Carlo, the theorems' own bounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def test_surrogate_vs_relu_lr_matches_autograd_lambda_max():
    res = E.surrogate_vs_relu(n=6, d=5, width=32, depth=3, steps=3, lr_factor=0.5, seed=1)
    X, _, _ = nl.sphere_data(6, 5, labels="random", seed=1)
    net = nl.MLP(5, 32, 3, parameterization="azls", trainable="hidden", seed=1)
    lam = torch.linalg.eigvalsh(brute_ntk(net, X))[-1].item()
    assert res["lr"] == pytest.approx(0.5 / lam, rel=1e-10)
    # same initialization: identical loss at step 0, and the loss curves have the logged length
    assert res["loss_relu"][0] == pytest.approx(res["loss_surrogate"][0], rel=1e-12)
    assert res["step"].shape == res["loss_relu"].shape == (4,)


def test_surrogate_vs_relu_tiny_steps_keep_models_equal():
    # with a negligible step, no gate flips and the two models (and their NTKs) stay equal
    res = E.surrogate_vs_relu(n=6, d=5, width=32, depth=2, steps=2, lr_factor=1e-9, seed=0)
    assert res["flips"] == 0.0
    assert res["ntk_gap"] < 1e-8
    assert res["curve_gap"] < 1e-8


def test_surrogate_vs_relu_wide_net_is_lazy():
    # lazy regime: the loss falls a lot and few gates flip (AZLS Lemma 8.2 / Du Lemma 3.2)
    res = E.surrogate_vs_relu(n=8, d=6, width=256, depth=2, steps=100, lr_factor=1.0, seed=0)
    assert res["loss_relu"][-1] < 0.05 * res["loss_relu"][0]
    assert res["loss_surrogate"][-1] < 0.05 * res["loss_surrogate"][0]
    assert 0 < res["flips"] < 0.1


def test_fit_run_reaches_within_linear_model_bound():
    r = E.fit_run(8, 2, 256, eps=1e-2, steps=500, seed=0)  # depth 2: L = 1 trained matrix
    assert r["reached"] and r["final_rel_loss"] <= 1e-2
    kappa = r["lambda_max"] / r["lambda_min"]
    # GD with eta = 1/lambda_max on a linear model needs at most kappa ln(1/eps)/2 steps; the
    # wide net is close to linear (slack 1.5 for the kernel drift)
    assert 0 < r["steps_to_eps"] <= 1.5 * kappa / 2 * math.log(100)
    assert r["lr"] == pytest.approx(1.0 / r["lambda_max"])


def test_fit_run_unreached_and_surrogate_kind():
    r = E.fit_run(16, 2, 4, eps=1e-6, steps=5, seed=0)
    assert not r["reached"] and r["steps_to_eps"] == -1 and r["final_rel_loss"] > 1e-6
    s = E.fit_run(8, 2, 64, kind="surrogate", eps=1e-2, steps=400, seed=0)
    assert s["reached"]
    # at init the surrogate's NTK is the network's, so the learning rate is the same
    r2 = E.fit_run(8, 2, 64, kind="relu", eps=1e-2, steps=1, seed=0)
    assert s["lr"] == pytest.approx(r2["lr"], rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [(dict(kind="tanh"), ValueError, "unknown kind 'tanh': pass kind="),
     (dict(width=0), ValueError, "width must be an integer >= 1"),
     (dict(eps=-1.0), ValueError, "eps must be finite and > 0"),
     (dict(depth=0), ValueError, "depth must be an integer >= 1"),
     # the azls MLP trains W_1..W_L: depth 1 has none (Allen-Zhu et al.'s L = depth - 1)
     (dict(depth=1), ValueError, "trainable='hidden'.*pass depth >= 2"),
     (dict(eps="0.1"), TypeError, "eps must be a real number")],
)
def test_fit_run_validates(kwargs, err, match):
    base = dict(n=4, depth=2, width=8)
    base.update(kwargs)
    with pytest.raises(err, match=match):
        E.fit_run(base.pop("n"), base.pop("depth"), base.pop("width"), **base)


def test_ntk_init_error_matches_bruteforce_and_decreases():
    X, _, _ = nl.sphere_data(5, 4, seed=2)
    net = nl.MLP(4, 64, 3, parameterization="ntk", trainable="all", seed=2)
    K = brute_ntk(net, X)
    K_inf = nl.analytic_ntk(X, depth=3)  # Arora et al.'s Theta for depth = 3 ReLU layers
    ref = (torch.linalg.norm(K - K_inf) / torch.linalg.norm(K_inf)).item()
    assert E.ntk_init_error(64, depth=3, n=5, d=4, seed=2) == pytest.approx(ref, rel=1e-8)
    small = np.mean([E.ntk_init_error(32, n=5, d=4, seed=s) for s in range(4)])
    large = np.mean([E.ntk_init_error(1024, n=5, d=4, seed=s) for s in range(4)])
    assert large < 0.5 * small  # ~ m^{-1/2}: a factor ~5.7 expected over 32x


def test_two_layer_lazy_within_du_radius():
    n, d, m = 16, 6, 1024
    res = E.two_layer_lazy(m, n=n, d=d, steps=200, seed=0)
    X, y, _ = nl.sphere_data(n, d, labels="gaussian", last_coord=False, seed=0)
    net = nl.TwoLayerNet(d, m, seed=0)
    with torch.no_grad():
        r0 = torch.linalg.norm(net(X).reshape(-1) - y).item()
    lam0 = torch.linalg.eigvalsh(nl.du_two_layer_gram(X))[0].item()
    # Du et al. (Corollary 4.1 as restated): every w_r stays within
    # R = 4 sqrt(n) ||y - u(0)|| / (sqrt(m) lambda_0)
    radius = 4 * math.sqrt(n) * r0 / (math.sqrt(m) * lam0)
    assert 0 < res["max_neuron_move"] < radius
    assert res["rel_loss"] < 1e-2
    assert 0 <= res["flips"] < 0.1 and 0 < res["drift"] < 0.2


def test_lazy_rich_scaling_laws():
    r10 = E.lazy_rich(10.0, width=64, n=12, n_test=20, steps=100, seed=0)
    r100 = E.lazy_rich(100.0, width=64, n=12, n_test=20, steps=100, seed=0)
    # kernel regression is invariant to scaling the kernel by alpha^2 (ridge 0): exact
    assert r10["ntk_test_mse"] == pytest.approx(r100["ntk_test_mse"], rel=1e-8)
    # weights move ~ 1/alpha in the lazy regime
    assert r10["weight_move"] / r100["weight_move"] == pytest.approx(10.0, rel=0.05)
    assert r100["drift"] < r10["drift"]
    assert r100["nn_vs_ntk"] < r10["nn_vs_ntk"]


def test_hierarchical_target_moments_monte_carlo():
    # uniform points on S^7 drawn independently of ntklib: normalised Gaussians
    g = torch.Generator().manual_seed(0)
    Z = torch.randn(200000, 8, generator=g, dtype=torch.float64)
    X = Z / torch.linalg.norm(Z, dim=1, keepdim=True)
    F = E.hierarchical_target(X, strength=0.0)
    # F has mean 0 and unit variance on the sphere (closed form E[x_i^2 x_j^2] = 1/(d(d+2)))
    # Monte Carlo standard errors with 2e5 samples: ~0.002 for the mean, ~0.01 for the variance
    assert abs(F.mean().item()) < 0.01
    assert F.var().item() == pytest.approx(1.0, abs=0.03)
    y = E.hierarchical_target(X, strength=0.5)
    assert torch.allclose(y, F + 0.5 * (F ** 2 - 1))
    with pytest.raises(ValueError):
        E.hierarchical_target(X[:, :3])


def test_hierarchical_benchmark_small():
    r = E.hierarchical_benchmark(n=16, d=6, width=16, depth=2, steps=20, n_test=32, seed=0)
    X_all, _, _ = nl.sphere_data(48, 6, last_coord=False, seed=0)
    y_te = E.hierarchical_target(X_all[16:], 1.0)
    assert r["zero_test_mse"] == pytest.approx(torch.mean(y_te ** 2).item(), rel=1e-12)
    for key in ("nn_test_mse", "ntk_test_mse", "analytic_ntk_test_mse", "nn_train_mse"):
        assert np.isfinite(r[key]) and r[key] >= 0
    assert r["loss"][-1] < r["loss"][0]
