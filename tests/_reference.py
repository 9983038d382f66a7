"""Independent references for the experiment tests: kernels and linear GD written from scratch
(autograd row by row, plain loops), so a test compares a protocol with code it does not share."""

from __future__ import annotations

import torch


def brute_ntk(model, X):
    """J J^T with the Jacobian of the scalar output over the trainable parameters, one
    ``torch.autograd.grad`` call per sample (no ntklib kernel code)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(X.shape[0]):
        grads = torch.autograd.grad(model(X[i:i + 1]).sum(), params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    J = torch.stack(rows)  # (n, P)
    return J @ J.T


def linear_gd_steps(K, r0, lr, target, max_steps):
    """First step t at which the linear model r_{t+1} = r_t - lr K r_t has 1/2 ||r_t||^2 <= target
    (a plain loop), or None."""
    r = r0.clone()
    for t in range(max_steps + 1):
        if 0.5 * float(r @ r) <= target:
            return t
        r = r - lr * (K @ r)
    return None
