"""Tests of ntklib.experiments.beyond: the Chizat-Oyallon-Bach scaling, the hierarchical target,
the rich network against kernel regression, and the equivalence measurements, against closed forms,
Monte Carlo and hand-written gradient descent on the linear model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ntklib as nl
from ntklib import experiments as E


def test_lazy_rich_scaling_laws():
    r10 = E.lazy_rich(10.0, width=64, n=12, n_test=20, steps=100, seed=0)
    r100 = E.lazy_rich(100.0, width=64, n=12, n_test=20, steps=100, seed=0)
    # kernel regression is invariant to scaling the kernel by alpha^2 (ridge 0): exact
    assert r10["ntk_test_mse"] == pytest.approx(r100["ntk_test_mse"], rel=1e-8)
    # weights move ~ 1/alpha in the lazy regime
    assert r10["weight_move"] / r100["weight_move"] == pytest.approx(10.0, rel=0.05)
    assert r100["drift"] < r10["drift"]
    assert r100["nn_vs_ntk"] < r10["nn_vs_ntk"]


def test_hierarchical_target_moments_monte_carlo():
    # uniform points on S^7 drawn independently of ntklib: normalised Gaussians
    g = torch.Generator().manual_seed(0)
    Z = torch.randn(200000, 8, generator=g, dtype=torch.float64)
    X = Z / torch.linalg.norm(Z, dim=1, keepdim=True)
    F = E.hierarchical_target(X, strength=0.0)
    # F has mean 0 and unit variance on the sphere (closed form E[x_i^2 x_j^2] = 1/(d(d+2)))
    # Monte Carlo standard errors with 2e5 samples: ~0.002 for the mean, ~0.01 for the variance
    assert abs(F.mean().item()) < 0.01
    assert F.var().item() == pytest.approx(1.0, abs=0.03)
    y = E.hierarchical_target(X, strength=0.5)
    assert torch.allclose(y, F + 0.5 * (F ** 2 - 1))
    with pytest.raises(ValueError):
        E.hierarchical_target(X[:, :3])


def test_rich_vs_kernel_linearised_prediction_by_hand():
    kw = dict(n=8, d=5, width=16, depth=2, steps=6, n_test=10, seed=1)
    r = E.rich_vs_kernel(3.0, **kw)
    X_all, _, _ = nl.sphere_data(18, 5, last_coord=False, seed=1)
    y_all = E.hierarchical_target(X_all, 0.5)
    X, y, X_te, y_te = X_all[:8], y_all[:8], X_all[8:], y_all[8:]
    assert r["zero_test_mse"] == pytest.approx(y_te.square().mean().item(), rel=1e-12)
    # the linearised network from f = 0 with the NTK at init, iterated by hand (autograd NTK)
    net = nl.scaled(nl.MLP(5, 16, 2, parameterization="ntk", trainable="all", seed=1), 3.0)
    params = [p for p in net.parameters() if p.requires_grad]

    def jac(Z):
        rows = []
        for i in range(Z.shape[0]):
            grads = torch.autograd.grad(net(Z[i:i + 1]).sum(), params)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows)

    J, J_te = jac(X), jac(X_te)
    K, K_te = J @ J.T, J_te @ J.T
    lr = 0.5 / torch.linalg.eigvalsh(K)[-1].item()
    assert r["lr"] == pytest.approx(lr, rel=1e-9)
    f, f_te = torch.zeros(8, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)
    for _ in range(6):
        f, f_te = f - lr * K @ (f - y), f_te - lr * K_te @ (f - y)
    assert r["lin_test_mse"] == pytest.approx((f_te - y_te).square().mean().item(), rel=1e-8)


def test_rich_vs_kernel_large_alpha_is_its_kernel():
    lazy = E.rich_vs_kernel(1000.0, n=16, d=5, width=32, depth=2, steps=40, n_test=20, seed=0)
    assert lazy["feature_move"] < 1e-3 and lazy["drift"] < 1e-3
    assert lazy["test_mse"] == pytest.approx(lazy["lin_test_mse"], rel=1e-3)
    rich = E.rich_vs_kernel(0.1, n=16, d=5, width=32, depth=2, steps=40, n_test=20, seed=0)
    assert rich["feature_move"] > 10 * lazy["feature_move"]
    for key in ("ntk_test_mse", "trained_ntk_test_mse", "analytic_test_mse"):
        assert np.isfinite(rich[key]) and rich[key] >= 0


