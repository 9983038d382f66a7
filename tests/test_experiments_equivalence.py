"""ntklib.experiments.equivalence_run against brute-force autograd Jacobians."""

from __future__ import annotations

import math

import pytest
import torch

import ntklib as nl
from ntklib import experiments as E


def _features(model, X):
    """(n, P) per-sample gradients of the trained parameters (autograd reference)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        model(X[i:i + 1]).sum(), params)]) for i in range(X.shape[0])])


def _replay(width, depth, lr_factor, steps, n, d, seed):
    X, y, _ = nl.sphere_data(n, d, labels="random", seed=seed)
    net = nl.MLP(d, width, depth, parameterization="azls", trainable="hidden", seed=seed)
    lr = nl.ntk_learning_rate(net, X, lr_factor)
    hist = nl.train(net, X, y, lr=lr, steps=steps)
    return X, y, net, hist.model0


def test_equivalence_run_measures_match_autograd():
    kw = dict(width=48, depth=3, lr_factor=1.0, steps=25, n=6, d=5, seed=2)
    r = E.equivalence_run(eps=None, **kw)
    X, y, net, net0 = _replay(**kw)
    G, G0 = _features(net, X), _features(net0, X)
    ref_change = ((G - G0).norm(dim=1) / G0.norm(dim=1)).mean().item()
    ref_factor = (G.norm(dim=1) / G0.norm(dim=1) - 1).abs().mean().item()
    ref_cos = (1 - (G * G0).sum(1) / (G.norm(dim=1) * G0.norm(dim=1))).mean().item()
    assert r["feature_change"] == pytest.approx(ref_change, rel=1e-8)
    assert r["grad_factor"] == pytest.approx(ref_factor, rel=1e-8)
    assert r["one_minus_cos"] == pytest.approx(ref_cos, rel=1e-6)
    # the NTK model at the trained weights: u0 + J0 (theta* - theta0)
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters() if p.requires_grad])
    theta0 = torch.cat([p.detach().reshape(-1) for p in net0.parameters() if p.requires_grad])
    with torch.no_grad():
        u0, u = net0(X)[:, 0], net(X)[:, 0]
    u_lin = u0 + G0 @ (theta - theta0)
    F0 = 0.5 * float(((u0 - y) ** 2).sum())
    assert r["objective_ntk"] == pytest.approx(0.5 * float(((u_lin - y) ** 2).sum()) / F0,
                                               rel=1e-8)
    assert r["remainder"] == pytest.approx(float((u - u_lin).norm() / (u0 - y).norm()),
                                           rel=1e-8)
    assert r["loss"][0] == pytest.approx(1.0) and r["loss_lin"][0] == pytest.approx(1.0)
    assert r["steps_run"] == 25 and not r["converged"] and not r["diverged"]


def test_equivalence_run_tiny_step_changes_nothing():
    r = E.equivalence_run(32, depth=3, lr_factor=1e-8, eps=None, steps=3, n=5, d=4)
    for key in ("drift", "grad_factor", "feature_change", "remainder", "trajectory_gap_lin"):
        assert r[key] < 1e-6, key
    assert r["objective"] == pytest.approx(1.0, rel=1e-6)


def test_equivalence_run_converges_wide_and_reports_divergence():
    r = E.equivalence_run(512, depth=3, eps=1e-3, steps=400, n=6, d=5)
    assert r["converged"] and r["objective"] <= 1e-3
    # lazy regime: the linearised model at W* has nearly the same (tiny) objective
    assert r["objective_gap"] < 0.05 and r["drift"] < 0.2
    bad = E.equivalence_run(32, depth=3, lr_factor=50.0, eps=None, steps=200, n=5, d=4)
    assert bad["diverged"] and math.isnan(bad["drift"])
