"""Tests of ntklib.experiments.lemmas against independent references: autograd Jacobians and
gradients, hand-written forward passes, closed forms for ReLU, and properties the protocols must
have (exact zero at radius 0, spectral radius of a perturbation, homogeneity)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def _weights(net):
    return {k: layer.weight.detach() for k, layer in net.weight_layers().items()}


def _hidden_by_hand(net, X):
    """h_0 = relu(A x), h_l = relu(W_l h_{l-1}) from the weight matrices (no ntklib forward)."""
    w = _weights(net)
    h = torch.relu(X @ w["A"].T)
    out = [h]
    for ell in range(1, net.depth):
        h = torch.relu(h @ w[f"W{ell}"].T)
        out.append(h)
    return out




def test_perturbed_moves_each_trained_layer_by_omega_in_spectral_norm():
    net = nl.MLP(5, 32, 4, parameterization="azls", trainable="hidden", seed=3)
    before = {k: v.clone() for k, v in _weights(net).items()}
    out = E.perturbed(net, 0.25, seed=7)
    for name, w in _weights(out).items():
        diff = w - before[name]
        if name in ("A", "B"):  # frozen layers stay
            assert torch.equal(diff, torch.zeros_like(diff))
        else:
            assert float(torch.linalg.matrix_norm(diff, ord=2)) == pytest.approx(0.25, rel=1e-12)
    for name, w in _weights(net).items():  # the original is untouched
        assert torch.equal(w, before[name])
    again = E.perturbed(net, 0.25, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(_weights(out).values(), _weights(again).values()))
    assert not torch.equal(_weights(E.perturbed(net, 0.25, seed=8))["W1"], _weights(out)["W1"])


def test_forward_deviation_matches_a_hand_written_forward_pass():
    r = E.forward_deviation(48, 4, n=6, d=5, n_seeds=2, seed=1)
    X, _, _ = nl.sphere_data(6, 5, seed=1)
    devs = []
    for s in (1, 2):
        net = nl.MLP(5, 48, 4, parameterization="azls", seed=s)
        norms = torch.stack([h.norm(dim=1) for h in _hidden_by_hand(net, X)], 1)
        devs.append(float((norms - 1).abs().max()))
    assert r["per_seed"] == pytest.approx(devs, rel=1e-12)
    assert r["deviation"] == pytest.approx(math.sqrt(devs[0] * devs[1]), rel=1e-12)
    assert r["lemma_scale"] == pytest.approx(math.sqrt(3 * math.log(18) / 48))
    assert r["norms"].shape == (6, 4)


def test_gated_product_is_the_jacobian_of_h_L_with_respect_to_h_0():
    m, depth, at = 24, 5, (1, 2, 4)
    r = E.gated_product_norms(m, depth, at=at, n=3, d=4, seed=2)
    X, _, _ = nl.sphere_data(3, 4, seed=3)  # the protocol uses seed + 1 for the data
    net = nl.MLP(4, m, depth, parameterization="azls", seed=2)
    w = _weights(net)
    h0 = _hidden_by_hand(net, X)[0]
    ref = np.zeros((3, len(at)))
    for i in range(3):
        for k, L in enumerate(at):
            def h_L(h, L=L):
                for ell in range(1, L + 1):
                    h = torch.relu(w[f"W{ell}"] @ h)
                return h
            J = torch.autograd.functional.jacobian(h_L, h0[i])  # D_L W_L ... D_1 W_1
            ref[i, k] = float(torch.linalg.matrix_norm(J, ord=2))
    np.testing.assert_allclose(r["gated"], ref.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(r["gated_max"], ref.max(axis=0), rtol=1e-10)
    specs = [float(torch.linalg.matrix_norm(w[f"W{ell}"], ord=2)) for ell in range(1, depth)]
    np.testing.assert_allclose(r["naive"], np.cumprod(specs)[np.array(at) - 1], rtol=1e-10)
    np.testing.assert_allclose(r["reference"][0], 2.0)  # L = 1: edge of a square Ginibre matrix
    with pytest.raises(ValueError, match="depth >= 9"):
        E.gated_product_norms(m, depth, at=(8,), n=2, d=4)


def test_gated_product_at_L1_is_the_edge_of_a_half_gated_gaussian():
    # D W with m/2 active rows and N(0, 2/m) entries: largest singular value 1 + sqrt(2)
    r = E.gated_product_norms(512, 2, at=(1,), n=2, d=6, seed=0)
    assert r["gated"][0] == pytest.approx(1 + math.sqrt(2), rel=0.05)


def test_backward_profile_last_column_is_the_output_layer():
    r = E.backward_profile(40, 3, n=5, d=4, seed=0)
    net = nl.MLP(4, 40, 3, parameterization="azls", seed=0)
    b = float(_weights(net)["B"].norm())
    np.testing.assert_allclose(r["backward"][:, -1], b / math.sqrt(40), rtol=1e-12)
    np.testing.assert_allclose(r["naive"][-1], b / math.sqrt(40), rtol=1e-12)
    assert r["backward"].shape == (5, 3) and np.all(r["naive"][:-1] > r["naive"][-1])


def test_depth_profile_relu_is_the_azls_network_and_the_limit_is_closed_form():
    r = E.depth_profile(depth=6, variance=1.5, width=32, n=4, d=5, seed=0, limit_points=6)
    # same seed -> the AZLS network's weights are proportional (homogeneity): same ratios
    X, _, _ = nl.sphere_data(4, 5, seed=1000)
    az = nl.MLP(5, 32, 6, parameterization="azls", sigma_w=math.sqrt(1.5), seed=0)
    f = nl.forward_norms(az, X)
    np.testing.assert_allclose(r["forward"], np.median(f / f[:, :1], axis=0), rtol=1e-10)
    # ReLU norm map: q -> (v/2) q, so the limit profile is (v/2)^(l/2)
    np.testing.assert_allclose(r["limit_forward"], 0.75 ** (r["limit_layers"] / 2), rtol=1e-8)
    assert r["limit_slope"] == pytest.approx(0.5 * math.log(0.75), rel=1e-8)
    assert r["backward"][-1] == pytest.approx(1.0)


def test_depth_profile_softplus_limit_is_the_quadrature_norm_map():
    v = 2.0
    r = E.depth_profile(depth=4, variance=v, activation="softplus", width=16, n=2, d=5,
                        limit_points=4)
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / math.sqrt(2 * math.pi)
    qs = [1.0]  # unit-norm input and A ~ N(0, 1): the first pre-activations have variance 1
    for _ in range(4):  # q_{l+1} = v E[softplus(sqrt(q_l) g)^2]
        qs.append(v * float(np.sum(w * np.logaddexp(0.0, math.sqrt(qs[-1]) * z) ** 2)))
    # ||h_l||^2 / m -> E[softplus(sqrt(q_l) g)^2] = q_{l+1} / v
    expected = np.sqrt(np.array(qs[1:]) / qs[1])
    np.testing.assert_allclose(r["limit_forward"], expected, rtol=1e-4)
    assert r["limit_slope"] > 0  # above the identity: the scale grows at the ReLU variance


def test_perturbation_stability_radius_zero_and_gradient_reference():
    r = E.perturbation_stability(64, 3, omegas=(0.05,), n=6, d=5, seed=0)
    assert r["omegas"].tolist() == [0.0, 0.05]
    assert np.all(r["forward_change"][0] == 0) and np.all(r["flips"][0] == 0)
    assert np.all(r["flips"][:, 0] == 0)  # the frozen input layer A never flips
    # per-layer gradient bound at W0 against autograd
    X, y, _ = nl.sphere_data(6, 5, labels="random", seed=0)
    net = nl.MLP(5, 64, 3, parameterization="azls", trainable="hidden", seed=0)
    loss = 0.5 * (net(X)[:, 0] - y).square().sum()
    grads = torch.autograd.grad(loss, [net.W1.weight, net.W2.weight])
    ref = max(float(g.square().sum()) for g in grads) / (float(loss.detach()) * 6 * 64)
    assert r["grad_upper"][0] == pytest.approx(ref, rel=1e-8)
    # random direction: the forward change at layer l is about omega sqrt(l / 8)
    ratio = r["forward_change"][1, 1:] / r["forward_predicted"][1, 1:]
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    np.testing.assert_allclose(r["flips_predicted"][1], np.arctan(0.05 * np.sqrt(
        np.arange(3) / 8)) / math.pi)


def test_trained_stability_reaches_target_and_reports_the_radius():
    r = E.trained_stability(64, 3, n=6, d=5, eps=1e-2, steps=500, seed=0)
    assert r["reached"] and r["final_rel_loss"] <= 1e-2
    assert 0 < r["omega_T"] <= r["frobenius_T"]
    X, _, _ = nl.sphere_data(6, 5, labels="random", seed=0)
    net = nl.MLP(5, 64, 3, parameterization="azls", trainable="hidden", seed=0)
    lam = float(torch.linalg.eigvalsh(brute_ntk(net, X))[-1])
    assert r["lr"] == pytest.approx(1.0 / lam, rel=1e-8)
    assert r["flips"].shape == (3,) and r["flips"][0] == 0


def test_floor_per_width_matches_a_brute_force_ntk():
    r = E.floor_per_width(6, 48, delta=0.2, d=5, seed=1)
    X, _, sep = nl.near_duplicate_pair(6, 5, 0.2, seed=1)
    net = nl.MLP(5, 48, 3, parameterization="azls", trainable="hidden", seed=1)
    assert r["empirical"] == pytest.approx(
        float(torch.linalg.eigvalsh(brute_ntk(net, X))[0]) / 48, rel=1e-8)
    assert r["separation"] == pytest.approx(sep) and r["bound"] == pytest.approx(sep / 36)
    assert r["limit"] > 0


@pytest.mark.parametrize("call", [
    lambda: E.perturbed(nl.MLP(3, 8, 2), -0.1),
    lambda: E.forward_deviation(0, 2),
    lambda: E.depth_profile(depth=1),
    lambda: E.depth_profile(activation="tanh"),
    lambda: E.perturbation_stability(16, 1, omegas=(0.1,)),
    lambda: E.perturbation_stability(16, 2, omegas=(-1.0,)),
    lambda: E.trained_stability(16, 2, eps=2.0),
])
def test_lemma_protocols_validate(call):
    with pytest.raises((ValueError, TypeError)):
        call()
