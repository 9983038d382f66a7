"""Tests of ntklib.kernels: closed-form identities, Monte Carlo and finite-width convergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntklib import models
from ntklib.kernels import (
    analytic_nngp,
    analytic_ntk,
    du_deep_gram,
    du_two_layer_gram,
    limit_kernel,
    relu_step,
)
from ntklib.ntk import empirical_ntk
from ntklib.spec import activation_constant


def _points(n: int, d: int, seed: int = 0, unit: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True) if unit else X


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- identities
@pytest.mark.parametrize("depth", [1, 3, 7])
def test_ntk_diagonal_is_depth_plus_one_times_norm(depth):
    X = _points(6, 5, unit=False)
    K = analytic_ntk(X, depth=depth)
    torch.testing.assert_close(torch.diag(K), (depth + 1) * (X**2).sum(1), rtol=1e-12, atol=0)


@pytest.mark.parametrize("L", [1, 2, 5])
def test_azls_normalised_diagonal_is_L(L):
    # Allen-Zhu et al.'s L trained hidden matrices = depth - 1 (depth = L + 1 ReLU layers)
    X = _points(5, 4)
    k = analytic_ntk(X, depth=L + 1, parameterization="azls")
    torch.testing.assert_close(torch.diag(k), torch.full((5,), float(L), dtype=X.dtype))
    K = analytic_ntk(X, depth=L + 1, parameterization="azls", width=300, d_out=3)
    torch.testing.assert_close(K, 300 / (2 * 3) * k)


def test_azls_equals_arora_minus_first_and_last_layer():
    # K_AZ (normalised) = Theta_Arora^(L+1) - Sigma^(0)*prod dSigma - Sigma^(L+1), with the
    # first-layer term computed independently as the NTK of the other layers subtracted
    X = _points(6, 4, seed=2)
    L = 3
    full = analytic_ntk(X, depth=L + 1)
    last = analytic_nngp(X, depth=L + 1)
    first = (X @ X.T).clone()
    S = X @ X.T
    dprod = torch.ones_like(S)
    for _ in range(L + 1):
        S, dS = relu_step(S)
        dprod = dprod * dS
    first = first * dprod
    torch.testing.assert_close(
        analytic_ntk(X, depth=L + 1, parameterization="azls"), full - first - last, rtol=1e-12,
        atol=1e-12,
    )


def test_positive_homogeneity():
    X1, X2 = _points(4, 3, seed=1), _points(5, 3, seed=2)
    for kw in ({"depth": 3}, {"depth": 3, "parameterization": "azls"}):
        K = analytic_ntk(X1, X2, **kw)
        torch.testing.assert_close(analytic_ntk(2.0 * X1, 0.5 * X2, **kw), K, rtol=1e-12, atol=0)
        torch.testing.assert_close(analytic_ntk(3.0 * X1, X2, **kw), 3.0 * K, rtol=1e-12, atol=0)
    torch.testing.assert_close(du_two_layer_gram(2 * X1), 4 * du_two_layer_gram(X1))


def test_cross_kernel_is_block_of_joint_kernel():
    X1, X2 = _points(4, 3, seed=1, unit=False), _points(3, 3, seed=2, unit=False)
    joint = analytic_ntk(torch.cat([X1, X2]), depth=4)
    torch.testing.assert_close(analytic_ntk(X1, X2, depth=4), joint[:4, 4:], rtol=1e-12, atol=0)


def test_depth_one_relation_to_du_gram():
    # Theta^(1) = Sigma^(0) * dSigma^(1) + Sigma^(1), and Sigma^(0) * dSigma^(1) = 2 H^inf
    X = _points(7, 4, seed=3)
    first_layer = analytic_ntk(X, depth=1) - analytic_nngp(X, depth=1)
    H = du_two_layer_gram(X)
    torch.testing.assert_close(first_layer, 2 * H, rtol=1e-12, atol=1e-14)
    # Du et al.'s closed form x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi)
    G = (X @ X.T).clamp(-1, 1)
    closed = G * (math.pi - torch.arccos(G)) / (2 * math.pi)
    torch.testing.assert_close(H, closed, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(du_deep_gram(X, 1), 2 * H, rtol=1e-12, atol=1e-14)


def test_depth_1000_no_nan_symmetric_psd():
    X = _points(10, 5, seed=4)
    K = analytic_ntk(X, depth=1000)
    assert torch.isfinite(K).all()
    assert torch.equal(K, K.T)
    eig = torch.linalg.eigvalsh(K)
    assert eig[0] > -1e-10 * eig[-1]
    torch.testing.assert_close(torch.diag(K), torch.full((10,), 1001.0, dtype=K.dtype))
    # L = 1000 trained layers: the normalised width=None path (one O(depth) fold)
    k = analytic_ntk(X, depth=1001, parameterization="azls")
    assert torch.isfinite(k).all() and torch.linalg.eigvalsh(k)[0] > -1e-10 * 1000
    torch.testing.assert_close(torch.diag(k), torch.full((10,), 1000.0, dtype=K.dtype))
    # with A and B frozen every term grows like m, so K(m = 1) = k / 2 exactly
    torch.testing.assert_close(k, 2 * analytic_ntk(X, depth=1001, parameterization="azls",
                                                   width=1), rtol=1e-12, atol=1e-12)
    assert torch.isfinite(du_deep_gram(X, 1000)).all()


def test_relu_step_monte_carlo():
    g = torch.Generator().manual_seed(0)
    S = torch.tensor([[1.5, -0.7], [-0.7, 0.8]], dtype=torch.float64)
    z = torch.randn(400_000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(S).T
    sig, dsig = relu_step(S)
    mc_sig = 2 * (z[:, 0].relu() * z[:, 1].relu()).mean()
    mc_dsig = 2 * ((z[:, 0] > 0) & (z[:, 1] > 0)).double().mean()
    assert abs(sig[0, 1] - mc_sig) < 0.01 and abs(dsig[0, 1] - mc_dsig) < 0.01
    torch.testing.assert_close(torch.diag(sig), torch.diag(S))  # c_sigma = 2 preserves variance
    # zero input: pre-activation is exactly 0 and PyTorch's relu'(0) = 0
    Z = torch.zeros(2, 2, dtype=torch.float64)
    assert torch.equal(relu_step(Z)[1], Z)


def test_softplus_constant_matches_models_and_monte_carlo():
    c = activation_constant("softplus")
    # the constant the models and the limit-kernel fold read from the network's spec
    assert c == models.MLP(3, 4, 2, activation="softplus", parameterization="ntk").spec.c_sigma
    z = torch.randn(1_000_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert 1 / c == pytest.approx(float((torch.nn.functional.softplus(z) ** 2).mean()), rel=3e-3)
    assert activation_constant("relu") == 2.0


def _mc_du_gram(X: torch.Tensor, depth: int, samples: int, seed: int) -> torch.Tensor:
    """Monte Carlo K^(H): sample the Gaussian pre-activations layer by layer."""
    g = torch.Generator().manual_seed(seed)
    c = activation_constant("softplus")
    sp, dsp = torch.nn.functional.softplus, torch.sigmoid
    K = X @ X.T
    for h in range(1, depth + 1):
        chol = torch.linalg.cholesky(K + 1e-12 * torch.eye(len(K), dtype=K.dtype))
        u = torch.randn(samples, len(K), generator=g, dtype=K.dtype) @ chol.T  # (S, n)
        if h < depth:
            K = c * (sp(u).T @ sp(u)) / samples
        else:
            K = c * K * (dsp(u).T @ dsp(u)) / samples
    return K


def test_softplus_deep_gram_quadrature_vs_monte_carlo():
    X = _points(5, 4, seed=5)
    for depth in (1, 3):
        quad = du_deep_gram(X, depth, activation="softplus")
        mc = _mc_du_gram(X, depth, 400_000, seed=depth)
        assert _rel(quad, mc) < 0.01
        assert torch.equal(quad, quad.T) and torch.linalg.eigvalsh(quad)[0] > 0


def test_softplus_analytic_ntk_vs_wide_network():
    X = _points(5, 6, seed=6)
    errs = []
    for seed in range(3):
        net = models.MLP(6, 1024, 2, parameterization="ntk", trainable="all",
                         activation="softplus", seed=seed)
        errs.append(_rel(empirical_ntk(net, X), analytic_ntk(X, depth=2, activation="softplus")))
    assert np.mean(errs) < 0.1


# ----------------------------------------------------------------------------- limit_kernel
def _slope(model_kwargs: dict, widths, seeds, X) -> tuple[float, list[float]]:
    errs = []
    for m in widths:
        sq = []
        for s in seeds:
            net = models.MLP(X.shape[1], m, 2, seed=s, **model_kwargs)
            sq.append(_rel(empirical_ntk(net, X), limit_kernel(net, X)) ** 2)
        errs.append(math.sqrt(np.mean(sq)))
    return float(np.polyfit(np.log(widths), np.log(errs), 1)[0]), errs


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs",
    [
        {"parameterization": "ntk", "trainable": "all"},
        {"parameterization": "azls", "trainable": "hidden"},
    ],
    ids=["ntk", "azls"],
)
def test_empirical_ntk_converges_like_inverse_sqrt_width(kwargs):
    X = _points(5, 8, seed=7)
    slope, errs = _slope(kwargs, [32, 128, 512, 2048], range(6), X)
    assert -0.7 <= slope <= -0.3, (slope, errs)
    assert errs[-1] < 0.15


def test_limit_kernel_mappings():
    X = _points(4, 5, seed=8)
    # one depth convention: MLP(depth) and analytic_ntk(depth) count the same ReLU layers
    net = models.MLP(5, 64, 4, parameterization="ntk", trainable="all")
    torch.testing.assert_close(limit_kernel(net, X), analytic_ntk(X, depth=4))
    net = models.MLP(5, 64, 4, d_out=2, parameterization="azls", trainable="hidden")
    torch.testing.assert_close(
        limit_kernel(net, X), analytic_ntk(X, depth=4, parameterization="azls", width=64, d_out=2)
    )
    net = models.MLP(5, 64, 3, parameterization="azls", trainable="last")
    torch.testing.assert_close(limit_kernel(net, X), analytic_nngp(X, depth=3,
                                                                   parameterization="azls"))
    net = models.TwoLayerNet(5, 64)
    torch.testing.assert_close(limit_kernel(net, X), du_two_layer_gram(X))
    for other in (models.ResNet(5, 8, 2), models.CNN(1, 2, 1, image_size=2),
                  models.OneWideLayerNet(4, 3, 2, wide_width=8)):
        with pytest.raises(NotImplementedError, match="use empirical_ntk at a large width"):
            limit_kernel(other, X[:, :4])
    softplus_azls = models.MLP(5, 8, 2, parameterization="azls", activation="softplus")
    with pytest.raises(NotImplementedError, match="activation='relu'"):
        limit_kernel(softplus_azls, X)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs",
    [
        {"parameterization": "azls", "trainable": "all", "bias": True},
        {"parameterization": "standard", "trainable": "all", "bias": True},
        {"parameterization": "ntk", "trainable": "hidden", "bias": True},
        {"parameterization": "ntk", "trainable": "last", "d_out": 2},
    ],
    ids=["azls-all", "standard", "ntk-hidden-bias", "ntk-last-dout2"],
)
def test_limit_kernel_other_mlps_at_large_width(kwargs):
    X = _points(4, 6, seed=9)
    errs = []
    for seed in range(4):
        net = models.MLP(6, 2048, 2, seed=seed, **kwargs)
        errs.append(_rel(empirical_ntk(net, X), limit_kernel(net, X)))
    assert np.mean(errs) < 0.12, errs  # about 4/sqrt(m) (calibration measured once, 8 seeds)


def test_two_layer_limits():
    X = _points(4, 6, seed=10)
    for trainable in ("first", "all", "last"):
        errs = []
        for seed in range(3):
            net = models.TwoLayerNet(6, 4096, trainable=trainable, seed=seed)
            errs.append(_rel(empirical_ntk(net, X), limit_kernel(net, X)))
        assert np.mean(errs) < 0.06, (trainable, errs)


def test_validation():
    X = _points(3, 2)
    with pytest.raises(ValueError, match="parameterization"):
        analytic_ntk(X, depth=2, parameterization="mup")
    with pytest.raises(ValueError, match="depth"):
        analytic_ntk(X, depth=-1)
    for p in ("ntk", "azls", "standard"):  # depth = number of ReLU layers >= 1 everywhere
        with pytest.raises(ValueError, match="depth"):
            analytic_ntk(X, depth=0, parameterization=p)
    with pytest.raises(ValueError, match="depth"):
        analytic_nngp(X, depth=0)
    with pytest.raises(ValueError, match="trainable='hidden'.*depth >= 2"):
        analytic_ntk(X, depth=1, parameterization="azls")  # no hidden matrix to train
    with pytest.raises(ValueError, match="NaN"):
        analytic_ntk(torch.full((2, 2), float("nan"), dtype=torch.float64), depth=1)
    with pytest.raises(ValueError, match="shape"):
        analytic_ntk(torch.ones(3, dtype=torch.float64), depth=1)
    with pytest.raises(ValueError, match="input dimension"):
        analytic_ntk(X, torch.ones(2, 3, dtype=torch.float64), depth=1)
    with pytest.raises(ValueError, match="width"):
        analytic_ntk(X, depth=3, parameterization="azls", trainable="last")
    with pytest.raises(NotImplementedError, match="activation='relu'"):
        analytic_ntk(X, depth=3, parameterization="azls", activation="softplus")


def test_recursion_matches_relu_step_loop_and_zero_rows():
    # Arora et al.'s recursion with relu_step (the general path) vs analytic_ntk (fast path)
    X1 = _points(5, 3, seed=11, unit=False)
    X2 = _points(4, 3, seed=12, unit=False)
    S = X1 @ X2.T
    d1, d2 = (X1**2).sum(1), (X2**2).sum(1)
    theta = S.clone()
    for _ in range(5):
        S, dS = relu_step(S, d1, d2)
        theta = theta * dS + S
    torch.testing.assert_close(analytic_ntk(X1, X2, depth=5), theta, rtol=1e-12, atol=1e-13)
    # a zero input takes the general path; its kernel row is exactly the linear-layer term 0
    Z = torch.cat([X1, torch.zeros(1, 3, dtype=X1.dtype)])
    K = analytic_ntk(Z, depth=3)
    assert torch.equal(K[-1], torch.zeros(6, dtype=K.dtype))
    torch.testing.assert_close(K[:5, :5], analytic_ntk(X1, depth=3), rtol=1e-12, atol=1e-13)


def test_softplus_cross_kernel_is_block_of_joint_kernel():
    X = _points(12, 4, seed=13, unit=False)
    joint = analytic_ntk(X, depth=2, activation="softplus")
    cross = analytic_ntk(X[:7], X[7:], depth=2, activation="softplus")
    torch.testing.assert_close(cross, joint[:7, 7:], rtol=1e-12, atol=1e-13)
    assert torch.equal(joint, joint.T)
