"""ntklib.cross_ntk: feature inner products of two networks, against autograd Jacobians."""

from __future__ import annotations

import pytest
import torch

import ntklib as nl
from tests._helpers import close


def _jacobian(model, X):
    """(n, d_out, P) per-sample Jacobian of the trained parameters by autograd (reference)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(X.shape[0]):
        out = model(X[i:i + 1])[0]
        per_out = []
        for k in range(out.shape[0]):
            grads = torch.autograd.grad(out[k], params, retain_graph=True)
            per_out.append(torch.cat([g.reshape(-1) for g in grads]))
        rows.append(torch.stack(per_out))
    return torch.stack(rows)


def test_cross_ntk_with_itself_is_the_empirical_ntk():
    X, _, _ = nl.sphere_data(6, 4, seed=0)
    net = nl.MLP(4, 32, 3, parameterization="azls", trainable="hidden", seed=1)
    close(nl.cross_ntk(net, net, X), nl.empirical_ntk(net, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("trainable, d_out", [("hidden", 1), ("all", 1), ("all", 3)])
def test_cross_ntk_matches_autograd(trainable, d_out):
    X1, _, _ = nl.sphere_data(5, 4, seed=0)
    X2, _, _ = nl.sphere_data(3, 4, seed=1)
    a = nl.MLP(4, 16, 3, parameterization="ntk", trainable=trainable, d_out=d_out, seed=2)
    b = nl.MLP(4, 16, 3, parameterization="ntk", trainable=trainable, d_out=d_out, seed=3)
    Ja, Jb = _jacobian(a, X1), _jacobian(b, X2)
    ref = torch.einsum("ikp,jkp->ij", Ja, Jb) / d_out
    close(nl.cross_ntk(a, b, X1, X2), ref, rtol=1e-10, atol=1e-12)


def test_cross_ntk_refuses_different_networks():
    X, _, _ = nl.sphere_data(4, 4, seed=0)
    a = nl.MLP(4, 16, 3, parameterization="ntk", trainable="all", seed=0)
    with pytest.raises(ValueError, match="same trained parameters"):
        nl.cross_ntk(a, nl.MLP(4, 8, 3, parameterization="ntk", trainable="all"), X)
    with pytest.raises(ValueError, match="same trained parameters"):
        nl.cross_ntk(a, nl.MLP(4, 16, 3, parameterization="ntk", trainable="hidden"), X)
