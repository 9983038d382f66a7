"""Tests of ntklib.experiments.two_layer against references written here: the closed-form H^inf
(arccos formula), H(0) from the activation patterns of the network's own weights, a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntklib as nl
from ntklib import experiments as E


def _h_inf(X):
    """Du et al.'s H^inf_ij = x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi) for unit rows."""
    G = (X @ X.T).clamp(-1.0, 1.0)
    return G * (math.pi - torch.arccos(G)) / (2 * math.pi)


def test_two_layer_lazy_predictions_match_closed_forms():
    r = E.two_layer_lazy(256, n=8, d=5, steps=60, lr_factor=1.0, seed=3, data_seed=1,
                         lr_rule="limit", log_every=10)
    X, y, _ = nl.sphere_data(8, 5, labels="gaussian", last_coord=False, seed=1)
    H = _h_inf(X)
    eig = torch.linalg.eigvalsh(H)
    assert r["lr"] == pytest.approx(1.0 / eig[-1].item(), rel=1e-9)
    assert r["lambda0"] == pytest.approx(eig[0].item(), rel=1e-9)
    net = nl.TwoLayerNet(5, 256, seed=3)
    with torch.no_grad():
        e = y - net(X).reshape(-1)
    assert r["min_norm"] == pytest.approx(math.sqrt(e @ torch.linalg.solve(H, e)), rel=1e-8)
    # Theorem 4.1's envelope (1 - eta lambda0 / 2)^k F(0) at the logged steps k = 0, 10, ..., 60
    k = np.arange(0, 61, 10)
    np.testing.assert_array_equal(r["step"], k)
    np.testing.assert_allclose(r["envelope_loss"], (1 - r["lr"] * eig[0].item() / 2) ** k * r["F0"])
    # the linear prediction at step k from a plain loop on H^inf
    res = -e.clone()
    for _ in range(60):
        res = res - r["lr"] * (H @ res)
    assert r["linear_loss"][-1] == pytest.approx(0.5 * float(res @ res), rel=1e-8)
    assert r["linear_loss"][0] == pytest.approx(r["F0"], rel=1e-10)
    # the measured run sits below the theorem's envelope
    assert np.all(r["loss"] <= r["envelope_loss"] * (1 + 1e-9))


def test_two_layer_lazy_defaults_unchanged_and_unstable_step():
    # the default protocol (empirical-kernel step, data seed = seed) keeps its keys
    r = E.two_layer_lazy(64, n=6, d=4, steps=5, seed=0)
    for key in ("max_neuron_move", "flips", "drift", "rel_loss"):
        assert np.isfinite(r[key])
    X, _, _ = nl.sphere_data(6, 4, labels="gaussian", last_coord=False, seed=0)
    K = nl.empirical_ntk(nl.TwoLayerNet(4, 64, seed=0), X)
    assert r["lr"] == pytest.approx(1.0 / torch.linalg.eigvalsh(K)[-1].item(), rel=1e-9)
    # a step above 2 / lambda_max(H^inf): the linear prediction is refused (NaN), no crash
    big = E.two_layer_lazy(4096, n=6, d=4, steps=2, lr_factor=2.5, lr_rule="limit")
    assert np.all(np.isnan(big["linear_loss"]))


def test_gram_error_matches_activation_patterns_and_decreases():
    r = E.gram_error(64, 2, n=5, d=4, data_seed=0)
    X, _, _ = nl.sphere_data(5, 4, last_coord=False, seed=0)
    W = nl.TwoLayerNet(4, 64, seed=2).weight_layers()["W"].weight.detach()  # (m, d)
    on = (X @ W.T >= 0).to(X.dtype)  # (n, m) activation patterns
    H0 = (X @ X.T) * (on @ on.T) / 64
    ref = torch.linalg.matrix_norm(H0 - _h_inf(X), ord=2).item()
    assert r["error"] == pytest.approx(ref, rel=1e-8)
    small = np.mean([E.gram_error(32, s, n=5, d=4)["error"] for s in range(4)])
    large = np.mean([E.gram_error(2048, s, n=5, d=4)["error"] for s in range(4)])
    assert large < 0.4 * small  # m^{-1/2}: a factor 8 expected over 64x


def test_lambda0_near_pair_closed_form_and_limit():
    for delta in (0.01, 0.3, 1.0):
        r = E.lambda0_near_pair(delta, n=2, d=6)
        assert r["lambda0"] == pytest.approx(r["pair_closed_form"], rel=1e-8, abs=1e-12)
        assert r["separation"] == pytest.approx(delta, rel=1e-9)
    tiny = E.lambda0_near_pair(1e-3, n=2, d=6)
    assert tiny["lambda0"] == pytest.approx(1e-3 / (2 * math.pi), rel=0.01)
    # more points can only lower the smallest eigenvalue (interlacing: the pair is a principal
    # block of H^inf)
    pair, more = E.lambda0_near_pair(0.3, n=2, d=6), E.lambda0_near_pair(0.3, n=10, d=6)
    assert more["lambda0"] <= pair["lambda0"]


@pytest.mark.parametrize("fn, kwargs", [
    (E.two_layer_lazy, dict(width=8, lr_rule="hessian")),
    (E.two_layer_lazy, dict(width=8, log_every=0)),
    (E.gram_error, dict(width=0)), (E.lambda0_near_pair, dict(delta=-0.1)),
    (E.lambda0_near_pair, dict(delta=5.0, n=2)),
])
def test_bad_inputs_raise(fn, kwargs):
    with pytest.raises((ValueError, TypeError)):
        fn(**kwargs)


@pytest.mark.gpu
def test_two_layer_runs_on_cuda():
    r = E.two_layer_lazy(64, n=6, d=4, steps=3, device="cuda")
    assert isinstance(r["loss"], np.ndarray) and isinstance(r["linear_loss"], np.ndarray)
    assert isinstance(E.gram_error(64, device="cuda")["error"], float)
