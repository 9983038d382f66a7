"""ntklib.experiments.ntk_limit against independent references: autograd, closed forms of the
arc-cosine step, Monte Carlo, and the depth convention of the recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def test_ntk_init_error_takes_a_device():
    assert E.ntk_init_error(64, depth=2, n=5, d=4, seed=2, device="cpu") == pytest.approx(
        E.ntk_init_error(64, depth=2, n=5, d=4, seed=2), rel=1e-14)


def test_gradient_identity_two_code_paths_agree_with_autograd():
    r = E.gradient_identity(width=32, depth=2, n=6, d=4, seed=1)
    X, y, _ = nl.sphere_data(6, 4, labels="random", seed=1)
    net = nl.MLP(4, 32, 2, parameterization="ntk", trainable="all", seed=1)
    F = 0.5 * ((net(X)[:, 0] - y) ** 2).sum()
    grads = torch.autograd.grad(F, [p for p in net.parameters() if p.requires_grad])
    ref = sum(float((g ** 2).sum()) for g in grads)
    assert r["grad_sq"] == pytest.approx(ref, rel=1e-10)
    assert r["quad"] == pytest.approx(ref, rel=1e-10)
    assert 0 < r["lower_bound"] <= r["grad_sq"]


@pytest.mark.parametrize("parameterization, depth", [("ntk", 2), ("ntk", 4), ("azls", 3)])
def test_kernel_scale_limits_and_stable_rate(parameterization, depth):
    r = E.kernel_scale(1024, depth=depth, parameterization=parameterization, n=5, d=4)
    # unit inputs: NTK param, all layers: depth + 1; AZLS, hidden layers: m (depth - 1) / 2
    expected = depth + 1 if parameterization == "ntk" else 1024 * (depth - 1) / 2
    assert r["limit_diag_mean"] == pytest.approx(expected, rel=1e-12)
    assert r["diag_mean"] == pytest.approx(expected, rel=0.25)
    X, _, _ = nl.sphere_data(5, 4, seed=1)
    trainable = "hidden" if parameterization == "azls" else "all"
    net = nl.MLP(4, 1024, depth, parameterization=parameterization, trainable=trainable)
    lam = torch.linalg.eigvalsh(brute_ntk(net, X))[-1].item()
    assert r["lr_stable"] == pytest.approx(2 / lam, rel=1e-9)


def test_arccos_monte_carlo_against_closed_form_and_sampling():
    # orthogonal inputs: Sigma' = sqrt(s11 s22)/pi, dSigma' = 1/2 exactly
    r = E.arccos_monte_carlo(1.0, 0.0, 0.5, n_samples=200_000, seed=1)
    assert r["sigma"] == pytest.approx(math.sqrt(0.5) / math.pi, rel=1e-12)
    assert r["dsigma"] == pytest.approx(0.5, rel=1e-12)
    assert abs(r["sigma_mc"] - r["sigma"]) < 5 * r["sigma_se"]
    assert abs(r["dsigma_mc"] - r["dsigma"]) < 5 * r["dsigma_se"]
    assert r["sigma_se"] < 3e-3
    np.testing.assert_allclose(r["sigma_diag"], [1.0, 0.5], rtol=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        E.arccos_monte_carlo(1.0, 2.0, 1.0)


@pytest.mark.parametrize("parameterization", ["ntk", "azls"])
def test_depth_convention_picks_the_network_depth(parameterization):
    r = E.depth_convention_errors(512, depth=3, parameterization=parameterization, n_seeds=2,
                                  n=8, d=4)
    assert list(r["depths"]) == [2, 3, 4]
    # unit inputs: Theta(x, x) = depth + 1 (NTK param), k_AZ(x, x) = depth - 1 (AZLS)
    offset = 1 if parameterization == "ntk" else -1
    np.testing.assert_allclose(r["analytic_diag"], np.array([2, 3, 4]) + offset, rtol=1e-12)
    assert r["errors"][1] < 0.5 * min(r["errors"][0], r["errors"][2])
    assert r["errors"][1] < 4.5 / math.sqrt(512 * 2)


def test_azls_gradient_formula_is_autograd_and_approaches_k_az():
    small = E.azls_gradient_formula(64, depth=3, n_seeds=1, n=6)
    large = E.azls_gradient_formula(1024, depth=3, n_seeds=2, n=6)
    # the explicit backward products equal the layerwise/autograd NTK to round-off
    assert small["autograd_gap"] < 1e-12 and large["autograd_gap"] < 1e-12
    assert large["diag_analytic"] == pytest.approx(2.0, rel=1e-12)  # L = depth - 1 layers
    assert large["layer_diag"].shape == (2,)
    np.testing.assert_allclose(large["layer_diag"], 1.0, rtol=0.2)  # each layer adds 1
    assert large["error"] < small["error"] and large["error"] < 4.5 / math.sqrt(1024 * 2)


def test_nngp_monte_carlo_matches_the_nngp_not_half_of_it():
    r = E.nngp_monte_carlo(width=128, depth=2, n_nets=200, n=5)
    assert r["error"] < 5 * r["se"] + 0.05
    np.testing.assert_allclose(np.diag(r["nngp"]), 1.0, rtol=1e-12)  # norm preserved (c = 2)
    wrong = np.linalg.norm(r["cov"] - r["nngp"] / 2) / np.linalg.norm(r["nngp"] / 2)
    assert wrong > 3 * r["error"]


def test_depth_degeneracy_correlation_map():
    r = E.depth_degeneracy(angles=(math.pi / 2, 1.0), max_layer=30, depths=(2, 8, 32), n=8,
                           d=5)
    # one ReLU layer maps orthogonal unit inputs to correlation 1/pi (arc-cosine kernel)
    assert r["rho"][0, 0] == pytest.approx(0.0, abs=1e-15)
    assert r["rho"][0, 1] == pytest.approx(1 / math.pi, rel=1e-12)
    assert r["rho"][1, 0] == pytest.approx(math.cos(1.0), rel=1e-12)
    assert np.all(np.diff(r["rho"], axis=1) > 0) and np.all(r["rho"] < 1)
    assert np.all(np.diff(r["gram_lambda_min"]) < 0)
    assert np.all(np.diff(r["ntk_spread"]) < 0)


def test_ntk_init_error_against_bruteforce_kernel_of_the_same_depth():
    X, _, _ = nl.sphere_data(5, 4, seed=2)
    net = nl.MLP(4, 64, 3, parameterization="ntk", trainable="all", seed=2)
    K, K_inf = brute_ntk(net, X), nl.analytic_ntk(X, depth=3)  # Arora's L = depth
    ref = (torch.linalg.norm(K - K_inf) / torch.linalg.norm(K_inf)).item()
    assert E.ntk_init_error(64, depth=3, n=5, d=4, seed=2) == pytest.approx(ref, rel=1e-8)
