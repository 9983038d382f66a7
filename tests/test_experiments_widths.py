"""Tests of ntklib.experiments.widths and .wide_layer: the minimal-width search, the one-wide-layer
run and the initialisations, against linear algebra and the networks' own definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntklib as nl
import ntklib.theory as th
from ntklib import experiments as E


def test_width_requirements_and_min_width():
    req = th.width_requirements(20, 3, separation=0.1, failure_prob=0.1, lambda0=0.1, d=5)
    assert set(req) == set(th.BOUNDS)
    assert req["zou-gu"]["value"] == pytest.approx(20**8 * 3**12)
    assert req["oymak-soltanolkotabi"]["value"] == pytest.approx(400 / 5)
    assert req["kawaguchi-huang"]["unit"] == "params"
    r = E.min_width_needed("two_layer", 4, d=4, steps=300, eps=0.05)
    assert r["width"] == r["tried"][-1] and r["ratios"][-1] <= 0.05
    assert all(x > 0.05 for x in r["ratios"][:-1])


def test_reaches_target_azls_network_and_dead_networks():
    # the "azls" model is Allen-Zhu et al.'s net: its loss ratio equals the one of a hand-built run
    X, y, _ = nl.sphere_data(6, 5, labels="random", last_coord=False, seed=3)
    net = nl.MLP(5, 32, 2, parameterization="azls", trainable="hidden", seed=3)
    lr = 0.5 * nl.stable_learning_rate(net, X, "mse_sum", iters=20)
    f0 = nl.loss_value(net, X, y)
    h = nl.train(net, X, y, lr=lr, steps=20, target_loss=1e-9 * f0)
    r = E.reaches_target("azls", 6, 32, d=5, depth=2, eps=1e-9, steps=20, seed=3)
    assert r["ratio"] == pytest.approx(h.loss[-1] / f0, rel=1e-9) and not r["ok"]
    # width 1: every ReLU of a layer can be off on every input; that counts as a failure
    dead = [E.reaches_target("mlp", 6, 1, d=5, depth=3, steps=5, seed=s) for s in range(6)]
    assert all(not d["ok"] for d in dead)
    m = E.min_width_needed("azls", 4, d=4, depth=2, eps=0.05, steps=300)
    assert m["ratios"][-1] <= 0.05 and all(x > 0.05 for x in m["ratios"][:-1])


def test_one_wide_layer_run_rank_and_floor():
    small = E.one_wide_layer_run(12, 6, steps=5)
    big = E.one_wide_layer_run(12, 48, steps=5)
    assert small["rank"] <= 6 and small["floor"] > 0.05
    assert big["sigma_min"] > 0 and big["rank"] == 12 and big["floor"] < 1e-12
    # the floor is the least-squares residual of y on the features, recomputed here
    X, y, _ = nl.sphere_data(12, 8, labels="random", last_coord=False, seed=0)
    net = nl.OneWideLayerNet(8, 16, 3, wide_width=6, seed=0)
    with torch.no_grad():
        F = net.features(X).hidden[2]
    coef = torch.linalg.lstsq(F, y[:, None], driver="gelsd").solution
    ref = ((F @ coef - y[:, None]).square().sum() / y.square().sum()).item()
    assert small["floor"] == pytest.approx(ref, rel=1e-8)


def test_output_std_sets_the_output_layer():
    for init, s in (("small", 1 / 400), ("he", 1 / 20), ("large", 1.0)):
        assert E.output_std(init, 400) == pytest.approx(s)
    net = nl.OneWideLayerNet(3, 4, 2, wide_width=4000, output_std=0.5, seed=0)
    # 4000 entries: the sample variance is within ~2 sqrt(2/4000) ~ 4.5 % of 0.25
    assert net.weight_layers()["B"].weight.var().item() == pytest.approx(0.25, rel=0.07)
    with pytest.raises(ValueError):
        nl.OneWideLayerNet(3, 4, 2, wide_width=8, output_std=-1.0)


def test_one_wide_layer_init_tracks_the_wide_layer():
    r = E.one_wide_layer_init(8, 32, init="large", d=4, width=4, depth=2, steps=3,
                              lr_factor=1e-12)
    assert r["feature_move"] < 1e-6 and r["sigma_ratio"] == pytest.approx(1.0, abs=1e-6)
    # sigma_0 and the initial loss, recomputed from the network's definition
    X, y, _ = nl.sphere_data(8, 4, labels="random", last_coord=False, seed=0)
    net = nl.OneWideLayerNet(4, 4, 2, wide_width=32, output_std=1.0, seed=0)
    with torch.no_grad():
        F = net.features(X).hidden[1]
        f0 = 0.5 * (net(X).reshape(-1) - y).square().sum().item()
    assert r["sigma0"] == pytest.approx(torch.linalg.svdvals(F)[7].item(), rel=1e-10)
    assert r["loss0"] == pytest.approx(f0 / (0.5 * y.square().sum().item()), rel=1e-10)
    small = E.one_wide_layer_init(8, 32, init="small", d=4, width=4, depth=2, steps=1)
    # a small output, O(n_k^{-1/2}) ~ 0.2 here: F(0) is 1/2 ||y||^2 up to ~2 x 0.2 / sqrt(N) + 0.04,
    # far below the large initialisation's
    assert abs(small["loss0"] - 1) < 0.3 and small["loss0"] < r["loss0"] / 3
    trained = E.one_wide_layer_init(8, 32, init="he", d=4, width=4, depth=2, steps=50)
    assert trained["feature_move"] > 0 and trained["ratio"] < 1
    with pytest.raises(ValueError, match="wide_width"):
        E.one_wide_layer_init(8, 4)
    with pytest.raises(ValueError):
        E.one_wide_layer_init(8, 16, init="zero")
    assert math.isfinite(trained["lr"]) and np.isfinite(trained["sigma0"])
