"""Tests of ntklib.predict against scikit-learn, step-by-step GD and matrix functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge

from ntklib import models, wrappers
from ntklib.kernels import analytic_ntk
from ntklib.ntk import empirical_ntk, lambda_max
from ntklib.predict import (
    eigen_projection_curve,
    gd_dynamics,
    kernel_regression,
    label_complexity,
)
from ntklib.train import train


def _points(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


def _setup(n=12, n_test=5, d=5, d_out=1):
    X = _points(n + n_test, d, seed=1)
    g = torch.Generator().manual_seed(2)
    y = torch.randn(n + n_test, d_out, generator=g, dtype=torch.float64)
    K = analytic_ntk(X, depth=2)
    return K[:n, :n], K[n:, :n], y[:n], X


@pytest.mark.parametrize("d_out", [1, 3])
def test_kernel_regression_matches_sklearn(d_out):
    K, Kt, y, _ = _setup(d_out=d_out)
    ref = KernelRidge(kernel="precomputed", alpha=1e-10).fit(K.numpy(), y.numpy())
    ours = kernel_regression(K, y, Kt, ridge=1e-10)
    np.testing.assert_allclose(ours.numpy(), ref.predict(Kt.numpy()), rtol=1e-7, atol=1e-9)
    # interpolation on the training set, vector labels keep their shape
    fit = kernel_regression(K, y[:, 0])
    assert fit.shape == (12,)
    np.testing.assert_allclose(fit.numpy(), y[:, 0].numpy(), atol=1e-8)
    ridge = KernelRidge(kernel="precomputed", alpha=0.3).fit(K.numpy(), y.numpy())
    np.testing.assert_allclose(
        kernel_regression(K, y, Kt, ridge=0.3).numpy(), ridge.predict(Kt.numpy()), rtol=1e-10
    )


def test_kernel_regression_validation():
    K, Kt, y, _ = _setup()
    with pytest.raises(ValueError, match="ridge"):
        kernel_regression(K, y, ridge=-1.0)
    with pytest.raises(ValueError, match="shape"):
        kernel_regression(K, y[:5])
    with pytest.raises(ValueError, match="K_test_train"):
        kernel_regression(K, y, Kt.T)
    with pytest.raises(ValueError, match="singular"):
        kernel_regression(torch.zeros(3, 3, dtype=torch.float64), torch.ones(3))
    # a duplicated input makes K exactly singular in theory, numerically singular in float64:
    # refused with the fix (ridge > 0), which then gives sklearn's ridge solution
    _, _, _, X = _setup()
    Xd = torch.cat([X[:4], X[:1]])
    Kd = analytic_ntk(Xd, depth=2)
    yd = torch.arange(5, dtype=torch.float64)
    with pytest.raises(ValueError, match="singular.*ridge"):
        kernel_regression(Kd, yd)
    ref = KernelRidge(kernel="precomputed", alpha=1e-3).fit(Kd.numpy(), yd.numpy())
    np.testing.assert_allclose(kernel_regression(Kd, yd, ridge=1e-3).numpy(),
                               ref.predict(Kd.numpy()), rtol=1e-8)


def _manual_gd(K, r0, eta, k):
    """Residual recursion r <- (I - eta K) r, step by step."""
    r = r0.clone()
    out = [r.clone()]
    for _ in range(k):
        r = r - eta * K @ r
        out.append(r.clone())
    return torch.stack(out)


def test_gd_dynamics_discrete_and_continuous_closed_forms():
    K, Kt, y, _ = _setup(d_out=2)
    g = torch.Generator().manual_seed(3)
    f0 = 0.3 * torch.randn(12, 2, generator=g, dtype=torch.float64)
    f0t = 0.3 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    eta = 1.0 / lambda_max(K)
    dyn = gd_dynamics(K, y, f0, eta, 30, K_test_train=Kt, f0_test=f0t)
    r = _manual_gd(K, f0 - y, eta, 30)
    torch.testing.assert_close(dyn.f_train, y[None] + r, rtol=1e-10, atol=1e-12)
    # test points: f_{k+1}(x) = f_k(x) - eta K(x, X) r_k
    ft = [f0t]
    for k in range(30):
        ft.append(ft[-1] - eta * Kt @ r[k])
    torch.testing.assert_close(dyn.f_test, torch.stack(ft), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dyn.loss, 0.5 * (r**2).sum(dim=(1, 2)))
    # mean loss: lr / n
    mean = gd_dynamics(K, y, f0, 12 * eta, 30, loss="mse_mean")
    torch.testing.assert_close(mean.f_train, dyn.f_train)
    torch.testing.assert_close(mean.loss, dyn.loss / 12)
    # gradient flow: exp(-eta t K) via matrix_exp, test points via the integral (Lee et al.)
    cont = gd_dynamics(K, y, f0, eta, [0, 5, 40], continuous=True, K_test_train=Kt, f0_test=f0t)
    for i, t in enumerate([0, 5, 40]):
        E = torch.linalg.matrix_exp(-eta * t * K)
        torch.testing.assert_close(cont.f_train[i], y + E @ (f0 - y), rtol=1e-9, atol=1e-11)
        move = Kt @ torch.linalg.solve(K, (torch.eye(12, dtype=K.dtype) - E) @ (f0 - y))
        torch.testing.assert_close(cont.f_test[i], f0t - move, rtol=1e-7, atol=1e-9)
    # long-time limit from f0 = 0 is kernel regression
    zero = torch.zeros_like(f0)
    late = gd_dynamics(K, y, zero, eta, [1e7], K_test_train=Kt, f0_test=torch.zeros(5, 2,
                                                                                   dtype=K.dtype))
    torch.testing.assert_close(late.f_test[0], kernel_regression(K, y, Kt), rtol=1e-6, atol=1e-8)


def test_gd_dynamics_full_kernel_matches_scalar_kernel():
    K, _, y, _ = _setup(d_out=2)
    f0 = torch.zeros_like(y)
    full = torch.kron(K, torch.eye(2, dtype=K.dtype))  # sample-major (i * d_out + k)
    a = gd_dynamics(K, y, f0, 0.05, 10)
    b = gd_dynamics(full, y, f0, 0.05, 10)
    torch.testing.assert_close(a.f_train, b.f_train)


@pytest.mark.parametrize("loss", ["mse_sum", "mse_mean"])
def test_gd_dynamics_equals_trained_linearised_network(loss):
    X = _points(10, 6, seed=4)
    Xt = _points(4, 6, seed=5)
    y = torch.sin(2 * X[:, 0]) + X[:, 1]
    net = models.MLP(6, 32, 2, parameterization="ntk", trainable="all", seed=0)
    K = empirical_ntk(net, X)
    Kt = empirical_ntk(net, Xt, X)
    with torch.no_grad():
        f0, f0t = net(X), net(Xt)
    lr = (1.0 if loss == "mse_sum" else 10.0) / lambda_max(K)
    lin = wrappers.linearize(net)
    hist = train(lin, X, y, lr=lr, steps=25, loss=loss)
    dyn = gd_dynamics(K, y, f0, lr, 25, loss=loss, K_test_train=Kt, f0_test=f0t)
    with torch.no_grad():
        torch.testing.assert_close(lin(X), dyn.f_train[-1], rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(lin(Xt), dyn.f_test[-1], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hist.loss, dyn.loss.numpy()[hist.step], rtol=1e-8)


def test_eigen_projection_curve_and_label_complexity():
    K, _, y, _ = _setup()
    eta = 1.5 / lambda_max(K)
    curve = eigen_projection_curve(K, y, eta, 20)
    dyn = gd_dynamics(K, y, torch.zeros_like(y), eta, 20)
    torch.testing.assert_close(curve, (dyn.f_train - y[None]).norm(dim=(1, 2)))
    assert curve[0] == pytest.approx(float(y.norm()))
    lc = label_complexity(K, y)
    ref = float(y[:, 0].numpy() @ np.linalg.inv(K.numpy()) @ y[:, 0].numpy())
    assert lc == pytest.approx(ref, rel=1e-8)
    with pytest.raises(ValueError, match="singular"):
        label_complexity(torch.zeros(2, 2, dtype=torch.float64), torch.ones(2))
    with pytest.raises(ValueError, match="lr"):
        eigen_projection_curve(K, y, -1.0, 3)
    # discrete GD diverges when lr * lambda_max > 2: refused, naming the stable bound
    unstable = 2.1 / lambda_max(K)
    with pytest.raises(ValueError, match="lambda_max.*> 2.*pass lr < 2 / lambda_max"):
        eigen_projection_curve(K, y, unstable, 3)
    with pytest.raises(ValueError, match="lambda_max.*> 2.*continuous=True"):
        gd_dynamics(K, y, torch.zeros_like(y), unstable, 3)
    with pytest.raises(ValueError, match="> 2"):  # mse_mean: the bound is on lr / n
        gd_dynamics(K, y, torch.zeros_like(y), 12 * unstable, 3, loss="mse_mean")
    flow = gd_dynamics(K, y, torch.zeros_like(y), unstable, [0, 1e6], continuous=True)
    torch.testing.assert_close(flow.f_train[-1], y, rtol=1e-6, atol=1e-8)  # flow is stable
    with pytest.raises(ValueError, match="loss"):
        gd_dynamics(K, y, y, 0.1, 3, loss="l1")
