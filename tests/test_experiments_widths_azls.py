"""Tests of the width-study extensions of ntklib.experiments.widths (Allen-Zhu-Li-Song's network,
the theorem's step size, the downward scan) against formulas and kernels written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def test_width_grid():
    assert E.width_grid(32) == [1, 2, 3, 4, 6, 8, 12, 16, 23, 32]
    assert E.width_grid(16, min_width=4) == [4, 6, 8, 12, 16]
    with pytest.raises(ValueError):
        E.min_width_needed("azls", 4, max_width=4, min_width=8)


def test_reaches_target_azls_step_rules():
    X, y, sep = nl.sphere_data(6, 5, labels="random", seed=1)
    net = nl.MLP(5, 32, 3, parameterization="azls", trainable="hidden", seed=1)
    lam = torch.linalg.eigvalsh(brute_ntk(net, X))[-1].item()
    ntk = E.reaches_target("azls", 6, 32, d=5, depth=3, steps=2, lr_rule="ntk", seed=1,
                           last_coord=True)
    assert ntk["lr"] == pytest.approx(1.0 / lam, rel=1e-9)
    assert ntk["separation"] == pytest.approx(sep)
    # the theorem's eta = delta / (n^4 L^2 m) with the paper's L = depth - 1 = 2
    thm = E.reaches_target("azls", 6, 32, d=5, depth=3, steps=2, lr_rule="theorem", lr_factor=3.0,
                           seed=1, last_coord=True)
    assert thm["lr"] == pytest.approx(3.0 * sep / (6**4 * 2**2 * 32), rel=1e-12)
    with pytest.raises(ValueError):
        E.reaches_target("mlp", 6, 32, lr_rule="theorem")


def test_reaches_target_near_pair_and_dead_network():
    r = E.reaches_target("azls", 6, 64, d=5, depth=2, delta=0.3, steps=3000, lr_rule="ntk",
                         last_coord=True)
    assert r["separation"] == pytest.approx(0.3, rel=1e-9)
    assert r["ok"] and r["ratio"] <= 1e-2
    # width 1, seed 0: the net has no gradient at initialisation, a failure (not an exception)
    dead = E.reaches_target("azls", 6, 1, d=5, depth=2, steps=5, lr_rule="ntk", seed=0)
    assert not dead["ok"] and math.isnan(dead["lr"]) and dead["ratio"] == math.inf
    assert dead["steps"] == 0
    # the default data are not the paper's layout; last_coord=True is
    X0, _, _ = nl.sphere_data(6, 5, labels="random", last_coord=False, seed=0)
    r0 = E.reaches_target("azls", 6, 8, d=5, depth=2, steps=1, lr_rule="ntk")
    assert r0["separation"] == pytest.approx(nl.min_distance(X0))


def test_min_width_needed_down_scan_is_robust():
    r = E.min_width_needed("azls", 4, d=5, depth=2, eps=1e-2, steps=500, lr_rule="ntk", seed=0,
                           max_width=32, min_width=2, scan="down")
    assert 2 <= r["width"] <= 32
    tried, ratios = np.array(r["tried"]), np.array(r["ratios"])
    assert list(tried) == sorted(tried, reverse=True) and tried[0] == 32
    ok = ratios <= 1e-2
    # every width from the answer up to max_width succeeded; the next one down (if tried) failed
    assert np.all(ok[tried >= r["width"]])
    assert ok[-1] or tried[-1] < r["width"]
    assert len(r["steps"]) == len(tried)
    up = E.min_width_needed("azls", 4, d=5, depth=2, eps=1e-2, steps=500, lr_rule="ntk", seed=0,
                            max_width=32, min_width=2, scan="up")
    assert up["width"] <= r["width"]  # the first success upwards is never above the robust width
    # a budget too small for the widest network: no width qualifies
    none = E.min_width_needed("azls", 4, d=5, depth=2, steps=2, max_width=16, scan="down")
    assert math.isnan(none["width"]) and none["tried"] == [16]
