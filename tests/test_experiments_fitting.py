"""Tests of ntklib.experiments.fitting (the tour and random-label protocols) against independent
references: autograd kernels, a hand-written linear GD loop, exact symmetries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk, linear_gd_steps

import ntklib as nl
from ntklib import experiments as E


def _azls(d, m, depth, seed):
    return nl.MLP(d, m, depth, parameterization="azls", trainable="hidden", seed=seed)


def test_tour_run_matches_autograd_kernel_and_linear_distance():
    r = E.tour_run(48, 3, n=6, d=5, target=1e-6, max_steps=2000, seed=1)
    X, y, _ = nl.sphere_data(6, 5, labels="random", seed=1)
    net = _azls(5, 48, 3, seed=1)
    K = brute_ntk(net, X)
    eig = torch.linalg.eigvalsh(K)
    assert r["lr"] == pytest.approx(1.0 / eig[-1].item(), rel=1e-9)
    assert r["eig0"] == pytest.approx((eig[0].item(), eig[-1].item()), rel=1e-9)
    with torch.no_grad():
        r0 = net(X).reshape(-1) - y
    assert r["lazy_movement"] == pytest.approx(math.sqrt(r0 @ torch.linalg.solve(K, r0)), rel=1e-9)
    # only the hidden matrices of L = depth - 1 = 2 are reported, and the total is their norm
    assert sorted(r["moved"]) == ["W1", "W2"] and r["L"] == 2
    assert r["stopped"] == "target" and r["loss"][-1] <= 1e-6
    # lazy training: the distance travelled is the linearised one up to O(m^{-1/2}) (generous 0.5)
    assert abs(r["movement"] / r["lazy_movement"] - 1) < 0.5


def test_fit_random_labels_linear_count_and_envelope():
    r = E.fit_random_labels(128, 0, depth=2, n=6, d=5, steps=1000, lr_factor=1.0, target=1e-3,
                            log_every=1)
    X, y, _ = nl.sphere_data(6, 5, labels="random", seed=0)
    net = _azls(5, 128, 2, seed=0)
    K = brute_ntk(net, X)
    lr = 1.0 / torch.linalg.eigvalsh(K)[-1].item()
    with torch.no_grad():
        r0 = net(X).reshape(-1) - y
    assert r["lr"] == pytest.approx(lr, rel=1e-9)
    assert r["steps_linear"] == linear_gd_steps(K, r0, lr, 1e-3, 1000)
    assert r["status"] == "fit" and r["reached"] and r["final_loss"] <= 1e-3
    assert r["params"] == 128 * 128  # L = 1 hidden matrix
    # the wide net contracts at least at half the kernel's slowest rate
    assert np.all(r["loss"] <= r["envelope_loss"] * (1 + 1e-9))
    assert r["envelope_loss"][0] == pytest.approx(r["F0"])


def test_fit_random_labels_stalls_and_dead_network():
    r = E.fit_random_labels(64, 0, depth=2, n=6, d=5, steps=3, lr_factor=1e-6)
    assert r["status"] == "stalled" and not r["reached"] and r["steps_run"] == 3
    # width 1, seed 0: every ReLU path is off on these inputs, nothing can be trained
    dead = E.fit_random_labels(1, 0, depth=2, n=6, d=5, steps=3)
    assert dead["status"] == "dead" and np.isnan(dead["final_loss"]) and dead["loss"].size == 0


def test_path_and_parabola_endpoints_and_width_ordering():
    wide = E.path_and_parabola(512, 0, depth=2, n=6, d=5, steps=300, points=11)
    narrow = E.path_and_parabola(8, 0, depth=2, n=6, d=5, steps=300, points=11)
    for p in (wide, narrow):
        assert p["path"][0] == pytest.approx(p["F0"], rel=1e-10)
        assert p["path"][-1] == pytest.approx(p["final_loss"], rel=1e-10)
        np.testing.assert_allclose(p["parabola"], (1 - p["s"]) ** 2 * p["F0"])
    # lazy: the wide path is the parabola within O(m^{-1/2}); the narrow one is farther from it
    assert wide["deviation"] < 1 / math.sqrt(512) < narrow["deviation"]


def test_permutation_midpoint_symmetry():
    r = E.permutation_midpoint(32, depth=3, n=6, d=5, steps=200)
    assert r["F_perm"] == pytest.approx(r["F_star"], rel=1e-9, abs=1e-12)
    assert r["half_y_sq"] == pytest.approx(3.0)  # +-1 labels: ||y||^2 / 2 = n / 2
    assert r["F_mid"] > r["F_star"]
    with pytest.raises(ValueError):
        E.permutation_midpoint(32, depth=2, n=6, d=5)  # one hidden matrix: nothing to permute


def test_sum_vs_mean_same_iterates():
    r = E.sum_vs_mean(32, 2, n=6, d=5, steps=5)
    assert r["lr_mean"] == pytest.approx(6 * r["lr_sum"])
    np.testing.assert_allclose(r["loss_sum"] / 6, r["loss_mean"], rtol=1e-10)
    assert r["loss_sum"].shape == (6,)


@pytest.mark.parametrize("fn, kwargs", [
    (E.tour_run, dict(width=0)), (E.tour_run, dict(depth=1)), (E.tour_run, dict(target=-1.0)),
    (E.fit_random_labels, dict(width=8, labels="noise")),
    (E.fit_random_labels, dict(width=8, steps=0)),
    (E.path_and_parabola, dict(width=8, points=1)),
    (E.sum_vs_mean, dict(width=8, device="tpu")),
])
def test_bad_inputs_raise(fn, kwargs):
    with pytest.raises((ValueError, TypeError)):
        fn(**kwargs)


@pytest.mark.gpu
def test_fitting_runs_on_cuda():
    r = E.fit_random_labels(32, 0, depth=2, n=6, d=5, steps=5, device="cuda")
    assert isinstance(r["loss"], np.ndarray) and isinstance(r["lr"], float)
    p = E.path_and_parabola(32, 0, depth=2, n=6, d=5, steps=5, points=3, device="cuda")
    assert isinstance(p["path"], np.ndarray)
