"""Tests of ntklib.diagnostics against hand-written numpy forward/backward passes, finite
differences and closed forms on tiny float64 networks."""

import numpy as np
import pytest
import torch

from ntklib.diagnostics import (
    activation_flips,
    backward_norms,
    forward_norms,
    gradient_ratio,
    interpolation_path,
    semi_smoothness,
    spectral_norms,
)
from ntklib.losses import loss_value
from ntklib.models import MLP
from ntklib.train import train


def data(n=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True), torch.randn(n, generator=g, dtype=torch.float64)


def mats(net):
    """Effective matrices c * W (numpy) of A, W1..WL, B."""
    return [l.multiplier * l.weight.detach().numpy() for l in net.weight_layers().values()]


def numpy_forward(net, X):
    """Pre-activations z_l and activations h_l (l = 0..L) and the output, by hand."""
    *hid, B = mats(net)
    h, zs, hs = X.numpy(), [], []
    for M in hid:
        z = h @ M.T
        h = np.maximum(z, 0)
        zs.append(z)
        hs.append(h)
    return zs, hs, h @ B.T


@pytest.mark.parametrize("parameterization", ["azls", "ntk"])
def test_forward_norms_by_hand(parameterization):
    X, _ = data()
    net = MLP(3, 7, 4, parameterization=parameterization, seed=1)
    _, hs, _ = numpy_forward(net, X)
    expected = np.stack([np.linalg.norm(h, axis=1) for h in hs], axis=1)  # (n, L + 1)
    got = forward_norms(net, X)
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_forward_norms_concentrate_near_one_at_azls_init():
    """AZLS Lemma 7.1: ||h_l|| in [1 - eps, 1 + eps] with eps ~ sqrt(L log(nL) / m)."""
    X, _ = data(n=8, d=6)
    norms = forward_norms(MLP(6, 2048, 4, seed=0), X)
    assert np.abs(norms - 1).max() < 3 * np.sqrt(3 * np.log(8 * 3) / 2048)


@pytest.mark.parametrize("parameterization,d_out", [("azls", 1), ("ntk", 2)])
def test_backward_norms_by_hand(parameterization, d_out):
    """Column l = ||B D_L W_L ... D_{l+1} W_{l+1}||_F per sample (column L = ||B||_F)."""
    X, _ = data()
    net = MLP(3, 6, 3, d_out=d_out, parameterization=parameterization, seed=2)
    zs, _, _ = numpy_forward(net, X)
    _, *Ws, B = mats(net)
    L = len(Ws)
    expected = np.zeros((5, L + 1))
    for i in range(5):
        back = B  # (d_out, m) = d f / d h_L
        expected[i, L] = np.linalg.norm(back)
        for l in range(L - 1, -1, -1):
            back = (back * (zs[l + 1][i] > 0)) @ Ws[l]  # times D_{l+1} W_{l+1}
            expected[i, l] = np.linalg.norm(back)
    np.testing.assert_allclose(backward_norms(net, X), expected, rtol=1e-12)


def test_spectral_norms_by_hand():
    net = MLP(3, 6, 3, parameterization="ntk", d_out=2, seed=3)
    norms, product = spectral_norms(net)
    expected = [np.linalg.svd(M, compute_uv=False)[0] for M in mats(net)]
    assert list(norms) == ["A", "W1", "W2", "B"]
    np.testing.assert_allclose(list(norms.values()), expected, rtol=1e-12)
    assert product == pytest.approx(np.prod(expected), rel=1e-12)


def test_gradient_ratio_equals_finite_differences_and_kernel_form():
    X, y = data(n=6)
    net = MLP(3, 5, 2, trainable="all", seed=4)
    params = [p for p in net.parameters() if p.requires_grad]
    fd, h = [], 1e-6
    for p in params:
        for idx in np.ndindex(*p.shape):
            with torch.no_grad():
                old = p[idx].item()
                p[idx] = old + h
                up = loss_value(net, X, y)
                p[idx] = old - h
                down = loss_value(net, X, y)
                p[idx] = old
            fd.append((up - down) / (2 * h))
    F = loss_value(net, X, y)
    assert gradient_ratio(net, X, y) == pytest.approx(np.square(fd).sum() / F, rel=1e-7)
    # ||grad F||^2 = e^T K e with K = J J^T (AZLS Thm 3 <-> NTK eigenvalues)
    out = net(X)[:, 0]
    J = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(o, params,
                                                                            retain_graph=True)])
                     for o in out])
    e = (out - y).detach()
    assert gradient_ratio(net, X, y) == pytest.approx(float(e @ (J @ J.T) @ e) / F, rel=1e-10)


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
def test_semi_smoothness_is_quadratic_for_tiny_radii(norm):
    X, y = data(n=6)
    net = MLP(3, 8, 3, seed=5)
    before = [p.detach().clone() for p in net.parameters()]
    r = 1e-4
    out = semi_smoothness(net, X, y, [r, 2 * r], n_directions=4, seed=1, norm=norm)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out[1] / out[0], 4.0, rtol=1e-3)  # Delta(2r) / Delta(r) = 4
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p, q)  # parameters restored


def test_semi_smoothness_exact_for_a_model_linear_in_its_weights():
    """Only B trained: F(B + W') - F(B) - <grad, W'> = 1/2 ||H W'^T||^2 exactly, with
    ||W'|| = r (a row vector: spectral = Frobenius), so Delta / r^2 is constant and lies in
    [1/2 sigma_min(H)^2, 1/2 sigma_max(H)^2] (here n < m, so the lower end is 0)."""
    X, y = data(n=6)
    net = MLP(3, 10, 2, trainable="last", seed=6)
    with torch.no_grad():
        s = torch.linalg.svdvals(net.features(X).hidden[-1])
    radii = np.array([1e-3, 0.1, 3.0])
    out = semi_smoothness(net, X, y, radii, n_directions=5)
    per_r2 = out / radii[:, None] ** 2
    np.testing.assert_allclose(per_r2, per_r2[[0]].repeat(3, 0), rtol=1e-6)
    assert np.all(per_r2 >= 0) and np.all(per_r2 <= 0.5 * float(s[0]) ** 2 * (1 + 1e-12))


def test_interpolation_path_endpoints_and_exact_parabola():
    X, y = data(n=8)
    net = MLP(3, 16, 2, trainable="last", seed=7)
    hist = train(net, X, y, lr=0.05, steps=30)
    s, F = interpolation_path(hist.model0, net, X, y, points=11)
    assert s.shape == F.shape == (11,) and s[0] == 0 and s[-1] == 1
    assert F[0] == pytest.approx(loss_value(hist.model0, X, y), rel=1e-14)
    assert F[-1] == pytest.approx(loss_value(net, X, y), rel=1e-14)
    # f is linear in B, so F(s) is exactly a quadratic in s
    coef = np.polyfit(s, F, 2)
    np.testing.assert_allclose(np.polyval(coef, s), F, rtol=1e-10, atol=1e-12)


def test_interpolation_path_of_a_deep_net_hits_both_losses():
    X, y = data(n=8)
    net = MLP(3, 32, 3, seed=8)
    hist = train(net, X, y, lr=0.01, steps=20)
    _, F = interpolation_path(hist.model0, net, X, y, points=5, loss="mse_mean")
    assert F[0] == pytest.approx(loss_value(hist.model0, X, y, "mse_mean"), rel=1e-14)
    assert F[-1] == pytest.approx(loss_value(net, X, y, "mse_mean"), rel=1e-14)


def test_activation_flips_by_hand():
    X, _ = data(n=9)
    net0 = MLP(3, 6, 3, seed=9)
    net1 = MLP(3, 6, 3, seed=9)
    np.testing.assert_array_equal(activation_flips(net0, net1, X), np.zeros(3))
    with torch.no_grad():
        net1.W1.weight[2].neg_()  # unit 2 of layer 1 flips wherever it is non-zero
        net1.W2.weight.add_(0.3 * torch.randn(6, 6, generator=torch.Generator().manual_seed(0),
                                              dtype=torch.float64))
    z0, _, _ = numpy_forward(net0, X)
    z1, _, _ = numpy_forward(net1, X)
    expected = [np.mean((a > 0) != (b > 0)) for a, b in zip(z0, z1)]
    got = activation_flips(net0, net1, X)
    np.testing.assert_allclose(got, expected)
    assert got[0] == 0 and got[1] == pytest.approx(np.mean(z0[1][:, 2] != 0) / 6)


def test_bad_inputs_raise():
    X, y = data()
    net = MLP(3, 6, 2)
    with pytest.raises(ValueError, match="radii"):
        semi_smoothness(net, X, y, [0.0])
    with pytest.raises(ValueError, match="norm"):
        semi_smoothness(net, X, y, [0.1], norm="nuclear")
    with pytest.raises(ValueError, match="n_directions"):
        semi_smoothness(net, X, y, [0.1], n_directions=0)
    with pytest.raises(ValueError, match="architecture"):
        interpolation_path(net, MLP(3, 7, 2), X, y)
    with pytest.raises(ValueError, match="points"):
        interpolation_path(net, net, X, y, points=1)
    with pytest.raises(TypeError, match="features"):
        forward_norms(torch.nn.Linear(3, 1).double(), X)
    with pytest.raises(ValueError, match="activation layers"):
        activation_flips(net, MLP(3, 6, 3), X)
    with pytest.raises(ValueError, match="y must have shape.*one label per row of X"):
        gradient_ratio(net, X, y[:3])
