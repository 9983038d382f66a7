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
