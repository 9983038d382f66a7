"""Tests for ntklib.data: norms, separation (achieved and impossible), labels, digits."""

import math

import numpy as np
import pytest
import torch
from _helpers import close as _close
from sklearn.datasets import load_digits

import ntklib as nl
from ntklib.data import _cap_fraction, _separation_impossible


def _pairwise(X):
    diff = X[:, None, :] - X[None, :, :]
    D = diff.pow(2).sum(-1).sqrt()
    return D + torch.diag(torch.full((len(X),), float("inf")))


def test_sphere_data_norms_and_last_coordinate():
    X, y, sep = nl.sphere_data(50, 7, seed=1)
    assert X.shape == (50, 7) and y.shape == (50,) and X.dtype == torch.float64
    _close(X.norm(dim=1), torch.ones(50), rtol=0, atol=1e-14)
    _close(X[:, -1], torch.full((50,), 1 / math.sqrt(2)), rtol=0, atol=1e-15)
    _close(X[:, :-1].norm(dim=1), torch.full((50,), 1 / math.sqrt(2)))
    assert sep == pytest.approx(_pairwise(X).min().item(), rel=1e-12)
    X2, _, _ = nl.sphere_data(50, 7, last_coord=False, seed=1)
    _close(X2.norm(dim=1), torch.ones(50), rtol=0, atol=1e-14)
    assert X2[:, -1].std() > 0.1


def test_sphere_data_reproducible():
    a, b, c = (nl.sphere_data(10, 4, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y) and not torch.equal(a.X, c.X)


@pytest.mark.parametrize("n, d, delta, last", [(20, 4, 0.55, True), (60, 3, 0.3, False),
                                               (20, 10, 0.95, True)])
def test_sphere_data_reaches_separation(n, d, delta, last):
    X, _, sep = nl.sphere_data(n, d, delta=delta, last_coord=last, seed=0)
    assert _pairwise(X).min().item() >= delta * (1 - 1e-9)
    assert sep >= delta * (1 - 1e-9)
    _close(X.norm(dim=1), torch.ones(n), rtol=0, atol=1e-12)
    if last:
        _close(X[:, -1], torch.full((n,), 2**-0.5), rtol=0, atol=1e-15)


def test_impossible_delta_raises_with_reason():
    with pytest.raises(ValueError, match="simplex bound"):
        nl.sphere_data(3, 10, delta=1.3)  # unit-sphere separation 1.84 > sqrt(3)
    with pytest.raises(ValueError, match="packing bound"):
        nl.sphere_data(100, 3, delta=0.5)  # 100 points on a circle of radius 1/sqrt 2
    with pytest.raises(ValueError, match="only the 2 points"):
        nl.sphere_data(3, 2, delta=0.1)
    with pytest.raises(ValueError, match="delta"):
        nl.sphere_data(5, 3, delta=-1.0)


def test_packing_bound_against_known_cases():
    # circle (k=2): n equally spaced points have chord 2 sin(pi/n), which is the best possible
    for n in (5, 12):
        best = 2 * math.sin(math.pi / n)
        assert _separation_impossible(n, 2, best * 0.999) is None
        assert _separation_impossible(n, 2, best * 1.05) is not None
    # cap fraction: hemisphere is 1/2 in any dimension; the S^2 cap area is (1 - cos a)/2
    assert _cap_fraction(math.pi / 2, 5) == pytest.approx(0.5)
    assert _cap_fraction(0.3, 3) == pytest.approx((1 - math.cos(0.3)) / 2, rel=1e-12)
    # 4 points on S^2 (regular tetrahedron, chord sqrt(8/3)) are allowed; more separation is not
    assert _separation_impossible(4, 3, math.sqrt(8 / 3) * 0.999) is None
    assert _separation_impossible(4, 3, math.sqrt(8 / 3) * 1.01) is not None


def test_sphere_data_labels():
    n = 4000
    U = nl.sphere_data(n, 6, labels="teacher", seed=2)
    # the teacher has unit variance and zero mean under the uniform law (Monte Carlo, 5 se)
    assert abs(U.y.mean().item()) < 5 / math.sqrt(n)
    assert abs(U.y.var().item() - 1) < 0.15
    P = nl.sphere_data(n, 6, labels="permuted", seed=2)
    assert torch.equal(U.X, P.X)
    assert torch.equal(P.y.sort().values, U.y.sort().values) and not torch.equal(P.y, U.y)
    R = nl.sphere_data(200, 6, labels="random", seed=2)
    assert set(R.y.unique().tolist()) == {-1.0, 1.0}
    G = nl.sphere_data(n, 6, labels="gaussian", seed=2)
    assert abs(G.y.var().item() - 1) < 5 * math.sqrt(2 / n)
    # teacher labels are a smooth function of x: nearby inputs have nearby labels
    Xn, yn, _ = nl.near_duplicate_pair(10, 6, 1e-4, labels="teacher", seed=1)
    assert abs(yn[-1] - yn[-2]) < 1e-2
    with pytest.raises(ValueError, match="labels"):
        nl.sphere_data(5, 3, labels="binary")


def test_near_duplicate_pair():
    for last in (True, False):
        X, y, sep = nl.near_duplicate_pair(12, 5, 1e-3, last_coord=last, seed=3)
        assert X.shape == (12, 5)
        assert (X[-1] - X[-2]).norm().item() == pytest.approx(1e-3, rel=1e-9)
        _close(X.norm(dim=1), torch.ones(12), rtol=0, atol=1e-12)
        assert sep == pytest.approx(1e-3, rel=1e-9)
        assert y[-2] * y[-1] == -1
    with pytest.raises(ValueError, match="diameter"):
        nl.near_duplicate_pair(4, 5, 1.5)  # diameter sqrt(2) with the last coordinate
    with pytest.raises(ValueError):
        nl.near_duplicate_pair(1, 5, 0.1)


def test_circle_data():
    X, y, sep = nl.circle_data(16, 3)
    t = 2 * math.pi * torch.arange(16) / 16
    _close(X, torch.stack([t.cos(), t.sin()], 1))
    _close(y, torch.sin(3 * t))
    assert sep == pytest.approx(2 * math.sin(math.pi / 16), rel=1e-12)
    noisy = nl.circle_data(16, 3, noise=0.1, seed=1).y
    assert 0 < (noisy - y).abs().max() < 0.5
    with pytest.raises(ValueError):
        nl.circle_data(0, 1)


def test_digits_shapes_labels_and_norms():
    X, y, sep = nl.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and y.dtype == torch.int64
    _close(X.norm(dim=1), torch.ones(1797))
    assert sep > 0
    X2, y2, _ = nl.digits(100, classes=(3, 8), seed=1, image=True)
    assert X2.shape == (100, 1, 8, 8) and set(y2.tolist()) <= {0, 1}
    # every returned image is a real digits image of the labelled class
    raw = load_digits()
    ref = {(tuple(np.round(row / np.linalg.norm(row), 12)), t) for row, t in
           zip(raw.data, raw.target) if t in (3, 8)}
    for img, lab in zip(X2.reshape(100, 64).numpy(), y2.tolist()):
        assert (tuple(np.round(img, 12)), (3, 8)[lab]) in ref
    Xr, _, _ = nl.digits(10, normalize=False)
    assert 0 <= Xr.min() and Xr.max() <= 1
    with pytest.raises(ValueError, match=r"in \[1, "):
        nl.digits(5000)
    with pytest.raises(ValueError):
        nl.digits(10, classes=(1, 1))
    with pytest.raises(ValueError):
        nl.digits(10, classes=(11,))
    with pytest.raises(TypeError):
        nl.digits(10, classes=3)


def test_data_dtype_and_bad_arguments():
    X, y, _ = nl.sphere_data(5, 3, dtype=torch.float32)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    with pytest.raises(ValueError):
        nl.sphere_data(0, 3)
    with pytest.raises(ValueError):
        nl.sphere_data(5, 1)  # last_coord needs d >= 2
    with pytest.raises(TypeError):
        nl.sphere_data(5, 3.0)
    with pytest.raises(TypeError):
        nl.sphere_data(5, 3, dtype=np.float64)
