"""Tests of ntklib.experiments.azls (runs of Allen-Zhu, Li, Song's network) against autograd
kernels, hand-written linear GD, hand-computed features and the theorem's formulas written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk, linear_gd_steps

import ntklib as nl
from ntklib import experiments as E


def _azls(d, m, depth, seed, trainable="hidden"):
    return nl.MLP(d, m, depth, parameterization="azls", trainable=trainable, seed=seed)


def test_azls_run_gd_step_linearisation_and_envelope():
    r = E.azls_run(64, "gd", n=6, d=5, depth=3, steps=40, lr_factor=1.5, seed=2, log_every=10)
    X, y, _ = nl.sphere_data(6, 5, labels="random", seed=2)
    K = brute_ntk(_azls(5, 64, 3, 2), X)
    eig = torch.linalg.eigvalsh(K)
    assert r["lr"] == pytest.approx(1.5 / eig[-1].item(), rel=1e-9)
    assert r["lambda_min"] == pytest.approx(eig[0].item(), rel=1e-8)
    np.testing.assert_array_equal(r["epoch"], np.arange(0, 41, 10))
    assert r["loss"][0] == pytest.approx(r["F0"]) and r["linear_loss"][0] == pytest.approx(r["F0"])
    np.testing.assert_allclose(r["envelope_loss"],
                               (1 - r["lr"] * eig[0].item() / 2) ** r["epoch"] * r["F0"])
    assert r["loss"][-1] < 0.5 * r["F0"] and r["batch_size"] == 0


def test_azls_run_sgd_batches_and_epochs():
    r = E.azls_run(32, "sgd", n=6, d=5, depth=2, steps=3, batch_size=8, log_every=1)
    assert r["batch_size"] == 3  # n < 2 * batch_size: two batches of n // 2 per epoch
    np.testing.assert_array_equal(r["step"], [0, 2, 4, 6])
    np.testing.assert_array_equal(r["epoch"], [0, 1, 2, 3])


def test_iterations_to_eps_counts_and_theorem_formulas():
    r = E.iterations_to_eps(n=6, depth=3, width=64, eps=1e-2, max_steps=800, d=5, seed=0)
    X, y, sep = nl.sphere_data(6, 5, labels="random", seed=0)
    net = _azls(5, 64, 3, 0)
    K = brute_ntk(net, X)
    lr = 1.0 / torch.linalg.eigvalsh(K)[-1].item()
    with torch.no_grad():
        r0 = net(X).reshape(-1) - y
    F0 = 0.5 * float(r0 @ r0)
    assert r["steps_linear"] == linear_gd_steps(K, r0, lr, 1e-2 * F0, 3200)
    assert 0 < r["steps"] <= 800
    # the theorem's step and count with L = depth - 1 = 2 hidden matrices (constants 1)
    assert r["lr_theorem"] == pytest.approx(sep / (6**4 * 2**2 * 64), rel=1e-12)
    assert r["steps_theorem"] == pytest.approx(6**6 * 2**2 / sep**2 * math.log(100), rel=1e-12)
    near = E.iterations_to_eps(n=6, depth=2, delta=0.2, width=64, eps=1e-2, max_steps=5, d=5)
    assert near["separation"] == pytest.approx(0.2, rel=1e-9)
    assert near["steps"] == -1  # 5 steps are not enough: reported as not reached


def test_train_part_last_layer_is_least_squares():
    r = E.train_part(8, "last", n=10, d=5, depth=2, steps=300, data_seed=1, seed=0)
    X, y, _ = nl.sphere_data(10, 5, labels="random", seed=1)
    layers = _azls(5, 8, 2, 0).weight_layers()
    with torch.no_grad():  # features by hand: h_1 = relu(W1 relu(A x))
        phi = torch.relu(torch.relu(X @ layers["A"].weight.T) @ layers["W1"].weight.T)  # (n, m)
    coef = np.linalg.lstsq(phi.numpy(), y.numpy(), rcond=None)[0]
    ls = 0.5 * float(np.sum((phi.numpy() @ coef - y.numpy()) ** 2))
    assert r["ls_optimum"] == pytest.approx(ls, rel=1e-8, abs=1e-12)
    assert r["rank"] == np.linalg.matrix_rank(phi.numpy()) <= 8
    assert r["ls_optimum"] > 0.01 * r["F0"]  # m < n: the convex problem cannot reach zero
    assert r["loss"] >= r["ls_optimum"] * (1 - 1e-9)
    assert r["loss"] == pytest.approx(r["linear_loss_end"], rel=1e-8)  # B-only is a linear model
    assert r["params"] == 8
    assert E.train_part(8, "hidden", n=10, d=5, steps=2)["params"] == 64
    assert E.train_part(8, "all", n=10, d=5, steps=2)["params"] == 8 * 5 + 64 + 8


def test_azls_classification_reaches_full_accuracy():
    r = E.azls_classification(n=20, width=64, depth=2, steps=200, log_every=10)
    assert r["first_perfect"] >= 0
    assert np.all(r["accuracy"][r["step"] >= r["first_perfect"]] == 1.0)
    X, _, _ = nl.digits(n=20, seed=0)
    net = nl.MLP(64, 64, 2, d_out=10, parameterization="azls", trainable="hidden", seed=0)
    assert r["lr"] == pytest.approx(1.5 * 0.5 * nl.stable_learning_rate(net, X, "cross_entropy"))


@pytest.mark.parametrize("fn, kwargs", [
    (E.azls_run, dict(width=8, optimizer="adam")), (E.azls_run, dict(width=8, depth=1)),
    (E.iterations_to_eps, dict(eps=2.0)), (E.iterations_to_eps, dict(delta=3.0)),
    (E.train_part, dict(width=8, trainable="first")),
    (E.azls_classification, dict(n=10**6)),
])
def test_bad_inputs_raise(fn, kwargs):
    with pytest.raises((ValueError, TypeError)):
        fn(**kwargs)


@pytest.mark.gpu
def test_azls_runs_on_cuda():
    r = E.azls_run(32, "gd", n=6, d=5, depth=2, steps=3, device="cuda")
    assert isinstance(r["linear_loss"], np.ndarray)
    t = E.iterations_to_eps(n=6, depth=2, width=32, eps=0.5, max_steps=5, d=5, device="cuda")
    assert isinstance(t["lambda_min"], float)
    p = E.train_part(8, "last", n=10, d=5, steps=3, device="cuda")
    assert isinstance(p["ls_optimum"], float)
