"""Tests of ntklib.experiments.landscape against independent references (autograd Jacobians,
the NTK identity ||grad F||^2 = e^T K e, endpoint values) and properties the protocols must
have."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def _net(d, m, depth, seed):
    return nl.MLP(d, m, depth, parameterization="azls", trainable="hidden", seed=seed)


def test_ratio_at_init_against_brute_force_kernel():
    r = E.ratio_at_init(n=6, width=48, depth=3, d=5, seed=2)
    X, y, _ = nl.sphere_data(6, 5, labels="random", seed=2)
    net = _net(5, 48, 3, 2)
    K = brute_ntk(net, X)
    eigs = torch.linalg.eigvalsh(K).numpy()
    np.testing.assert_allclose(r["eigs"], eigs, rtol=1e-8, atol=1e-8 * eigs[-1])
    assert r["trace"] == pytest.approx(float(torch.trace(K)), rel=1e-10)
    e = (net(X)[:, 0] - y).detach()
    assert r["ratio"] == pytest.approx(float(e @ K @ e) / (0.5 * float(e @ e)), rel=1e-8)
    assert r["ratio_ntk"] == pytest.approx(r["ratio"], rel=1e-10)
    assert r["ratio_worst"] == pytest.approx(2 * eigs[0], rel=1e-6)  # residual = bottom eigvec
    # infinite-width diagonal: m L ||x||^2 / 2 per entry, L = depth - 1 = 2
    lim = nl.limit_kernel(net, X)
    np.testing.assert_allclose(torch.diagonal(lim).numpy(), 48 * 2 / 2, rtol=1e-10)


def test_ball_run_small_radius_is_the_initialization():
    r = E.ball_run(width=64, depth=3, omegas=(1e-7, 0.2), n_points=2, n=6, d=5, seed=0)
    assert r["ratio"].shape == (2, 2) and r["flips"].shape == (2, 2)
    np.testing.assert_allclose(r["ratio"][0], r["ratio_0"], rtol=1e-5)
    np.testing.assert_allclose(r["lam_min"][0], r["lam_min_0"], rtol=1e-5)
    assert np.all(r["flips"][0] == 0)
    assert np.all(r["ratio"] >= 2 * r["lam_min"] * (1 - 1e-9))  # Rayleigh quotient
    pred = np.mean(np.arctan(0.2 * np.sqrt(np.array([1, 2]) / 8)) / math.pi)
    assert r["flips_predicted"][1] == pytest.approx(pred)


def test_semi_smoothness_run_top_direction_is_half_lambda_max():
    r = E.semi_smoothness_run(64, 3, radii=(1e-4, 1e-3, 1e-2), n_directions=2, n=6, d=5)
    assert r["remainder"].shape == (3, 2)
    # a tiny GD step along the top NTK direction: second-order coefficient lambda_max / 2
    assert r["c2_top"] == pytest.approx(r["half_lmax"], rel=0.05)
    X, _, _ = nl.sphere_data(6, 5, labels="random", seed=0)
    lam = float(torch.linalg.eigvalsh(brute_ntk(_net(5, 64, 3, 0), X))[-1])
    assert r["half_lmax"] == pytest.approx(lam / 2, rel=1e-8)
    assert r["exponent"] > 1.1  # the remainder vanishes faster than r


def test_descent_run_step_size_and_identity():
    r = E.descent_run(48, 3, n=6, d=5, steps=30, lam_every=10, seed=1)
    X, _, _ = nl.sphere_data(6, 5, labels="random", seed=1)
    lam = float(torch.linalg.eigvalsh(brute_ntk(_net(5, 48, 3, 1), X))[-1])
    assert r["eta"] == pytest.approx(1.0 / lam, rel=1e-8)
    assert r["lam_min_steps"].tolist() == [0, 10, 20, 30]
    idx = np.searchsorted(r["step"], r["lam_min_steps"])
    assert np.all(r["grad_ratio"][idx] >= 2 * r["lam_min"] * (1 - 1e-9))
    assert r["loss"][-1] < r["loss"][0] and r["distance"].shape == (2,)


def test_landscape_run_rate_and_floor_schedule():
    r = E.landscape_run(width=48, n=6, delta=0.2, steps=20, floor_every=10, d=5)
    X, _, _ = nl.near_duplicate_pair(6, 5, 0.2, seed=0)
    eigs = torch.linalg.eigvalsh(brute_ntk(_net(5, 48, 3, 0), X)).numpy()
    assert r["rate"] == pytest.approx(eigs[0] / eigs[-1], rel=1e-6)
    assert r["floor_steps"].tolist() == [0, 10, 20]
    assert r["floor"][0] == pytest.approx(2 * eigs[0] / 48, rel=1e-6)


def test_straight_path_endpoints_are_exact():
    r = E.straight_path(256, n=16, max_steps=2000, points=5)
    assert r["final"] <= 0.01
    assert r["F"][0] == pytest.approx(r["lazy"][0], rel=1e-10)  # both ends are the two nets
    assert r["F"][-1] == pytest.approx(r["lazy"][-1], rel=1e-8)
    assert r["final"] == pytest.approx(r["F"][-1] / r["F"][0], rel=1e-6)
    assert r["deviation"] == pytest.approx(np.abs(r["F"] - r["lazy"]).max() / r["F"][0])


@pytest.mark.parametrize("call", [
    lambda: E.ball_run(width=8, omegas=(0.0,)),
    lambda: E.landscape_run(delta=-0.1),
    lambda: E.straight_path(8, classes=(1, 2, 3)),
    lambda: E.descent_run(8, 3, lr_factor=0),
])
def test_landscape_protocols_validate(call):
    with pytest.raises((ValueError, TypeError)):
        call()
