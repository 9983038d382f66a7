"""Tests of ntklib.ntk: the empirical NTK against an explicit per-sample autograd double loop."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ntklib import models, wrappers
from ntklib.ntk import (
    empirical_ntk,
    kernel_drift,
    kernel_drift_hook,
    lambda_max,
    min_eigenvalue,
    ntk_learning_rate,
)

RTOL = 1e-10


def _inputs(n: int, d: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    return X / X.norm(dim=1, keepdim=True)


def explicit_ntk(model, X1, X2=None, trainable_only=True) -> torch.Tensor:
    """Reference: per-sample gradients by one autograd call per (sample, output); full kernel
    (n1 d_out, n2 d_out), sample-major. Independent of the code under test."""
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)

    def jac(X):
        rows = []
        for i in range(X.shape[0]):
            out = model(X[i : i + 1])[0]  # (d_out,)
            for k in range(out.shape[0]):
                grads = torch.autograd.grad(out[k], params, retain_graph=True, allow_unused=True)
                rows.append(
                    torch.cat(
                        [
                            torch.zeros(p.numel(), dtype=X.dtype) if g is None else g.reshape(-1)
                            for g, p in zip(grads, params)
                        ]
                    )
                )
        return torch.stack(rows)  # (n d_out, P)

    try:
        J1 = jac(X1)
        J2 = J1 if X2 is None else jac(X2)
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
    return J1 @ J2.T


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


D_IN = 16  # CNN below uses 1 x 4 x 4 images (flattened)


def _families():
    cases = {}
    for p in ("ntk", "azls", "standard"):
        for t in ("all", "hidden", "last", "first"):
            cases[f"mlp-{p}-{t}"] = lambda p=p, t=t: models.MLP(
                D_IN, 6, 3, parameterization=p, trainable=t, seed=1
            )
    cases["mlp-bias-dout2"] = lambda: models.MLP(
        D_IN, 5, 2, d_out=2, parameterization="ntk", trainable="all", bias=True, seed=2
    )
    cases["mlp-softplus"] = lambda: models.MLP(
        D_IN, 5, 3, parameterization="ntk", trainable="all", activation="softplus", seed=3
    )
    cases["two-layer"] = lambda: models.TwoLayerNet(D_IN, 7, seed=4)
    cases["two-layer-all"] = lambda: models.TwoLayerNet(D_IN, 7, trainable="all", seed=4)
    cases["resnet-du"] = lambda: models.ResNet(D_IN, 6, 3, d_out=2, seed=5)
    cases["resnet-azls"] = lambda: models.ResNet(D_IN, 6, 3, style="azls", trainable="all")
    cases["cnn"] = lambda: models.CNN(1, 3, 3, image_size=4, d_out=2, seed=6)
    cases["cnn-residual"] = lambda: models.CNN(1, 3, 2, residual=True, image_size=4, seed=7)
    cases["fixed-pattern"] = lambda: wrappers.FixedPatternNet.from_net(
        models.MLP(D_IN, 6, 3, parameterization="ntk", trainable="all", seed=8)
    )
    cases["scaled"] = lambda: wrappers.scaled(
        models.MLP(D_IN, 6, 2, parameterization="ntk", trainable="all", seed=9), 3.0
    )
    return cases


FAMILIES = _families()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_layerwise_equals_jacobian_equals_autograd_loop(name):
    model = FAMILIES[name]()
    X1, X2 = _inputs(4, D_IN, seed=1), _inputs(3, D_IN, seed=2)
    ref = explicit_ntk(model, X1, X2)
    lw = empirical_ntk(model, X1, X2, method="layerwise", output="full")
    jc = empirical_ntk(model, X1, X2, method="jacobian", output="full")
    auto = empirical_ntk(model, X1, X2, output="full")
    assert lw.shape == ref.shape == (4 * model.d_out, 3 * model.d_out)
    assert _rel(lw, ref) < RTOL
    assert _rel(jc, ref) < RTOL
    assert _rel(auto, ref) < RTOL
    # scalar = output-averaged diagonal blocks, trace = their sum
    d = model.d_out
    blocks = ref.reshape(4, d, 3, d)
    trace = sum(blocks[:, k, :, k] for k in range(d))
    assert _rel(empirical_ntk(model, X1, X2, output="trace"), trace) < RTOL
    assert _rel(empirical_ntk(model, X1, X2), trace / d) < RTOL


def test_trainable_only_false_includes_frozen_layers():
    model = models.MLP(D_IN, 5, 2, parameterization="azls", trainable="hidden", seed=0)
    X = _inputs(4, D_IN)
    ref = explicit_ntk(model, X, trainable_only=False)
    for method in ("layerwise", "jacobian"):
        K = empirical_ntk(model, X, method=method, trainable_only=False)
        assert _rel(K, ref) < RTOL
    assert _rel(empirical_ntk(model, X), ref) > 1e-3  # frozen layers do change the kernel


def test_layers_option_sums_over_the_named_layers_only():
    """``layers=[...]`` is the kernel of those layers (trained or frozen), e.g. Du et al.'s
    G^(H)."""
    model = models.MLP(D_IN, 5, 3, parameterization="ntk", trainable="hidden", seed=4)
    X = _inputs(4, D_IN)
    frozen = copy.deepcopy(model).requires_grad_(False)
    frozen.W2.weight.requires_grad_(True)  # reference: only W2 enters the autograd loop
    ref = explicit_ntk(frozen, X)
    for method in ("layerwise", "jacobian"):
        assert _rel(empirical_ntk(model, X, method=method, layers=["W2"]), ref) < RTOL
    frozen.A.weight.requires_grad_(True)
    both = explicit_ntk(frozen, X)  # A (frozen in the model) and W2
    assert _rel(empirical_ntk(model, X, layers=["A", "W2"]), both) < RTOL
    with pytest.raises(ValueError, match="unknown layers.*'W9'"):
        empirical_ntk(model, X, layers=["W9"])


def test_ntk_learning_rate_is_factor_over_lambda_max():
    model = models.MLP(D_IN, 6, 2, parameterization="ntk", trainable="all", seed=5)
    X = _inputs(5, D_IN)
    lam = float(torch.linalg.eigvalsh(explicit_ntk(model, X))[-1])
    assert ntk_learning_rate(model, X, factor=0.5) == pytest.approx(0.5 / lam, rel=1e-10)
    assert ntk_learning_rate(model, X, loss="mse_mean") == pytest.approx(5 / lam, rel=1e-10)


def test_linearize_wrapper_via_jacobian():
    net = models.MLP(D_IN, 6, 2, parameterization="ntk", trainable="all", seed=3)
    lin = wrappers.linearize(net)
    X = _inputs(5, D_IN)
    with torch.no_grad():  # move away from theta_0: the linear model's NTK must not change
        for p in lin.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1),
                                     dtype=p.dtype))
    K = empirical_ntk(lin, X)  # auto -> jacobian (parameters are not Dense weights)
    assert _rel(K, explicit_ntk(lin, X)) < RTOL
    assert _rel(K, empirical_ntk(net, X)) < RTOL
    with pytest.raises(ValueError, match="jacobian"):
        empirical_ntk(lin, X, method="layerwise")


@pytest.mark.parametrize("method", ["layerwise", "jacobian"])
def test_symmetric_psd_and_chunked(method):
    model = models.MLP(D_IN, 8, 3, d_out=2, parameterization="ntk", trainable="all", seed=0)
    X, X2 = _inputs(7, D_IN, seed=3), _inputs(5, D_IN, seed=4)
    for output in ("scalar", "full"):
        K = empirical_ntk(model, X, method=method, output=output)
        assert torch.equal(K, K.T)
        eig = torch.linalg.eigvalsh(K)
        assert eig[0] > -1e-12 * eig[-1]
        Kc = empirical_ntk(model, X, method=method, output=output, chunk_size=3)
        assert _rel(Kc, K) < 1e-13
        Kx = empirical_ntk(model, X, X2, method=method, output=output)
        Kxc = empirical_ntk(model, X, X2, method=method, output=output, chunk_size=2)
        assert _rel(Kxc, Kx) < 1e-13


def test_memory_refusal_and_suggested_chunk():
    model = models.MLP(D_IN, 32, 3, parameterization="ntk", trainable="all", seed=0)
    X = _inputs(64, D_IN)
    with pytest.raises(ValueError, match="chunk_size"):
        empirical_ntk(model, X, max_bytes=1000)
    budget = 64 * 64 * 8 + 200_000
    with pytest.raises(ValueError) as info:
        empirical_ntk(model, X, max_bytes=budget)
    msg = str(info.value)
    assert "bytes" in msg and "pass chunk_size=" in msg
    chunk = int(msg.split("pass chunk_size=")[1].split()[0])
    K = empirical_ntk(model, X, max_bytes=budget, chunk_size=chunk)  # the advice works
    assert _rel(K, empirical_ntk(model, X)) < 1e-13


def test_float32_matches_float64():
    m64 = models.MLP(D_IN, 64, 3, parameterization="ntk", trainable="all", seed=0)
    m32 = copy.deepcopy(m64).to(torch.float32)  # same weights, rounded
    X = _inputs(6, D_IN)
    K32 = empirical_ntk(m32, X.float())
    assert K32.dtype == torch.float32
    assert _rel(K32.double(), empirical_ntk(m64, X)) < 1e-5


def test_input_validation():
    model = models.MLP(D_IN, 4, 2, seed=0)
    X = _inputs(3, D_IN)
    with pytest.raises(TypeError, match="dtype"):
        empirical_ntk(model, X.float())
    with pytest.raises(ValueError, match="method"):
        empirical_ntk(model, X, method="fast")
    with pytest.raises(ValueError, match="output"):
        empirical_ntk(model, X, output="diag")
    with pytest.raises(ValueError, match="chunk_size"):
        empirical_ntk(model, X, chunk_size=0)
    frozen = copy.deepcopy(model).requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        empirical_ntk(frozen, X)


def test_kernel_drift_and_hook():
    model0 = models.MLP(D_IN, 16, 2, parameterization="ntk", trainable="all", seed=0)
    X = _inputs(6, D_IN)
    model = copy.deepcopy(model0)
    assert kernel_drift(model0, model, X) == 0.0
    with torch.no_grad():
        model.W1.weight.mul_(1.1)
    K0, Kt = empirical_ntk(model0, X), empirical_ntk(model, X)
    expected = float((Kt - K0).norm() / K0.norm())
    assert expected > 1e-3
    assert kernel_drift(model0, model, X) == pytest.approx(expected, rel=1e-12)
    every, fn = kernel_drift_hook(model0, X, 5)
    assert every == 5
    assert fn(model0) == 0.0 and fn(model) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        kernel_drift_hook(model0, X, 0)


def test_kernel_drift_hook_with_train():
    from ntklib.train import train

    model = models.MLP(D_IN, 32, 2, parameterization="ntk", trainable="all", seed=0)
    X = _inputs(8, D_IN)
    y = torch.sin(3 * X[:, 0])
    hook = kernel_drift_hook(copy.deepcopy(model), X, 2)
    hist = train(model, X, y, lr=0.05, steps=6, hooks={"drift": hook})
    drift = np.asarray(hist.extra["drift"])
    assert drift.size >= 3 and drift[0] == 0.0 and drift[-1] > 0


def test_eigenvalue_helpers():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    K = A @ A.T + 0.1 * torch.eye(6, dtype=torch.float64)
    ev = np.linalg.eigvalsh(K.numpy())
    assert min_eigenvalue(K) == pytest.approx(ev[0], rel=1e-10)
    assert lambda_max(K.float()) == pytest.approx(ev[-1], rel=1e-5)
    with pytest.raises(ValueError):
        min_eigenvalue(torch.ones(2, 3))


def test_works_inside_no_grad():
    model = models.MLP(D_IN, 6, 2, parameterization="ntk", trainable="all", seed=0)
    X = _inputs(4, D_IN)
    ref = empirical_ntk(model, X)
    with torch.no_grad():
        for method in ("layerwise", "jacobian"):
            assert _rel(empirical_ntk(model, X, method=method), ref) < RTOL
