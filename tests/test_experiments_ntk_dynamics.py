"""ntklib.experiments.ntk_dynamics: properties the protocols must have (exact conventions, the
linear model's closed form, u(0) = 0 for the scaled model) and independent solves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntklib as nl
from ntklib import experiments as E


def test_drift_run_tiny_step_and_fixed_reference_rate():
    r = E.drift_run(64, depth=2, lr_factor=1e-9, steps=3)
    assert r["drift"] < 1e-8 and r["eta_lmax0"] == pytest.approx(1e-9, rel=1e-9)
    assert not r["diverged"] and r["k0"].shape == (10, 10)
    ref = E.drift_run(32, depth=2, parameterization="standard", steps=1)
    fixed = E.drift_run(256, depth=2, parameterization="standard", ref_width=32, steps=1)
    assert fixed["lr"] == pytest.approx(ref["lr"], rel=1e-12)
    # the standard kernel grows with m, so one fixed rate gives a larger eta * lambda_max
    assert fixed["eta_lmax0"] > 4 * ref["eta_lmax0"]


def test_drift_run_reports_divergence():
    r = E.drift_run(64, depth=2, lr_factor=50.0, steps=200)
    assert r["diverged"] and math.isnan(r["drift"])


def test_sum_vs_mean_identical_trajectories():
    r = E.sum_vs_mean(width=32, depth=2, lr=0.05, steps=10, n=8, d=4, parameterization="ntk",
                      seed=3, data_seed=5)
    np.testing.assert_allclose(r["loss_sum"], r["loss_mean_times_n"], rtol=1e-10)
    assert r["output_gap"] < 1e-10


def test_linearization_run_closed_form_and_width():
    r = E.linearization_run(32, checkpoints=(0, 5, 10), n=6, n_test=4)
    assert r["nn"].shape == (3, 10)
    assert r["gap_lin_closed"] < 1e-9  # linearize + train == gd_dynamics
    np.testing.assert_allclose(r["nn"][0], r["closed"][0], rtol=1e-12)  # same f_0
    wide = E.linearization_run(512, checkpoints=(0, 5, 10), n=6, n_test=4)
    assert wide["gap_nn_lin"] < r["gap_nn_lin"] / 2


def test_kernel_regression_run_against_an_independent_solve():
    r = E.kernel_regression_run(512, n=6, n_test=5, d=6, steps=80)
    X, y, _ = nl.sphere_data(6, 6, labels="teacher", last_coord=False, seed=2)
    Xt, _, _ = nl.sphere_data(5, 6, last_coord=False, seed=3)
    K = nl.analytic_ntk(X, depth=2).numpy()
    Kt = nl.analytic_ntk(Xt, X, depth=2).numpy()
    np.testing.assert_allclose(r["kr"], Kt @ np.linalg.solve(K, y.numpy()), rtol=1e-8)
    assert r["loss_ratio"] < 1e-4 and r["gap"] < 0.3


def test_eigen_projection_run_starts_at_norm_y_and_follows_formula():
    r = E.eigen_projection_run(width=4096, labels="teacher", steps=60, n=10)
    X, y, _ = nl.sphere_data(10, 5, labels="teacher", seed=4)
    norm_y = float(y.norm())
    assert r["resid"][0] == pytest.approx(norm_y, rel=1e-12)  # u(0) = 0 exactly
    assert r["pred"][0] == pytest.approx(norm_y, rel=1e-12)
    H = nl.du_two_layer_gram(X).numpy()
    yn = y.numpy()
    assert r["complexity"] == pytest.approx(float(yn @ np.linalg.solve(H, yn)), rel=1e-9)
    assert r["deviation"] < 0.05 * norm_y and r["resid"][-1] < 0.5 * norm_y


def test_frequency_run_odd_zero_and_growth():
    low, high = E.frequency_run(1, width=256), E.frequency_run(3, width=256)
    # Du et al.'s bias-free two-layer kernel has no energy at odd frequencies >= 3
    assert abs(high["two_layer_eigenvalue"]) < 1e-10 and low["two_layer_eigenvalue"] > 1
    assert high["eigenvalue"] < low["eigenvalue"]
    assert 0 < low["pred_steps"] < high["pred_steps"]
    assert high["net_steps"] == pytest.approx(high["pred_steps"], rel=0.5)
    off = E.frequency_run(2, width=64, train_net=False)
    assert off["net_steps"] == -1


def test_frequency_run_validates():
    with pytest.raises(ValueError):
        E.frequency_run(0)
    with pytest.raises(ValueError):
        E.drift_run(64, parameterization="mean-field")
    assert torch.get_default_dtype() == torch.float64
