"""Tests of ntklib.experiments.practical (Noy et al.: the fixed-pattern surrogate, the time to fit)
against autograd NTKs and the linear-model bound."""

from __future__ import annotations

import math

import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def test_surrogate_vs_relu_lr_matches_autograd_lambda_max():
    res = E.surrogate_vs_relu(n=6, d=5, width=32, depth=3, steps=3, lr_factor=0.5, seed=1)
    X, _, _ = nl.sphere_data(6, 5, labels="random", seed=1)
    net = nl.MLP(5, 32, 3, parameterization="azls", trainable="hidden", seed=1)
    lam = torch.linalg.eigvalsh(brute_ntk(net, X))[-1].item()
    assert res["lr"] == pytest.approx(0.5 / lam, rel=1e-10)
    # same initialization: identical loss at step 0, and the loss curves have the logged length
    assert res["loss_relu"][0] == pytest.approx(res["loss_surrogate"][0], rel=1e-12)
    assert res["step"].shape == res["loss_relu"].shape == (4,)


def test_surrogate_vs_relu_tiny_steps_keep_models_equal():
    # with a negligible step, no gate flips and the two models (and their NTKs) stay equal
    res = E.surrogate_vs_relu(n=6, d=5, width=32, depth=2, steps=2, lr_factor=1e-9, seed=0)
    assert res["flips"] == 0.0
    assert res["ntk_gap"] < 1e-8
    assert res["curve_gap"] < 1e-8


def test_surrogate_vs_relu_wide_net_is_lazy():
    # lazy regime: the loss falls a lot and few gates flip (AZLS Lemma 8.2 / Du Lemma 3.2)
    res = E.surrogate_vs_relu(n=8, d=6, width=256, depth=2, steps=100, lr_factor=1.0, seed=0)
    assert res["loss_relu"][-1] < 0.05 * res["loss_relu"][0]
    assert res["loss_surrogate"][-1] < 0.05 * res["loss_surrogate"][0]
    assert 0 < res["flips"] < 0.1


def test_fit_run_reaches_within_linear_model_bound():
    r = E.fit_run(8, 2, 256, eps=1e-2, steps=500, seed=0)
    assert r["reached"] and r["final_rel_loss"] <= 1e-2
    kappa = r["lambda_max"] / r["lambda_min"]
    # GD with eta = 1/lambda_max on a linear model needs at most kappa ln(1/eps)/2 steps; the
    # wide net is close to linear (slack 1.5 for the kernel drift)
    assert 0 < r["steps_to_eps"] <= 1.5 * kappa / 2 * math.log(100)
    assert r["lr"] == pytest.approx(1.0 / r["lambda_max"])
    X, _, sep = nl.sphere_data(8, 16, labels="random", seed=0)
    assert r["separation"] == pytest.approx(nl.min_distance(X), rel=1e-12) == pytest.approx(sep)


def test_fit_run_unreached_and_surrogate_kind():
    r = E.fit_run(16, 2, 4, eps=1e-6, steps=5, seed=0)
    assert not r["reached"] and r["steps_to_eps"] == -1 and r["final_rel_loss"] > 1e-6
    s = E.fit_run(8, 2, 64, kind="surrogate", eps=1e-2, steps=400, seed=0)
    assert s["reached"]
    # at init the surrogate's NTK is the network's, so the learning rate is the same
    r2 = E.fit_run(8, 2, 64, kind="relu", eps=1e-2, steps=1, seed=0)
    assert s["lr"] == pytest.approx(r2["lr"], rel=1e-12)


@pytest.mark.parametrize(
    "kwargs", [dict(kind="tanh"), dict(width=0), dict(eps=-1.0), dict(depth=0), dict(depth=1)]
)
def test_fit_run_validates(kwargs):
    base = dict(n=4, depth=2, width=8)
    base.update(kwargs)
    with pytest.raises((ValueError, TypeError)):
        E.fit_run(base.pop("n"), base.pop("depth"), base.pop("width"), **base)
