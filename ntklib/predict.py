r"""Closed-form predictions of kernel models: kernel regression and linearised GD dynamics.

For the linearised network :math:`f^{lin}(\theta) = f_0 + J(\theta - \theta_0)` trained by gradient
descent on the sum loss :math:`F = \tfrac12 \sum_i \lVert f(x_i) - y_i\rVert^2` with step
:math:`\eta`, the training residual :math:`r_k = f_k(X) - Y` obeys :math:`r_{k+1} = (I - \eta K)
r_k` with :math:`K = JJ^\top` the (fixed) empirical NTK, so (Lee et al. 2019, arXiv 1902.06720;
Arora et al. 2019, arXiv 1901.08584)

.. math::
    f_k(X) = Y + (I - \eta K)^k (f_0(X) - Y), \qquad
    f_k(x) = f_0(x) - K(x, X) \sum_{s<k} \eta (I - \eta K)^s (f_0(X) - Y),

and gradient flow (``continuous=True``, time :math:`t = \eta k`) replaces :math:`(I - \eta K)^k`
by :math:`e^{-\eta k K}`. With the mean loss :math:`F/n` every formula holds with
:math:`\eta` replaced by :math:`\eta / n` (n = number of training points).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .utils import check_choice, check_memory, check_number, check_tensor

__all__ = [
    "Dynamics",
    "kernel_regression",
    "gd_dynamics",
    "eigen_projection_curve",
    "label_complexity",
]

_LOSSES = ("mse_sum", "mse_mean")


class Dynamics(NamedTuple):
    """Closed-form trajectory of the linearised model.

    Attributes:
        steps: the step indices k (or times t / lr for ``continuous=True``), shape (T,).
        f_train: training outputs :math:`f_k(X)`, shape (T, n, d_out).
        f_test: test outputs, shape (T, n_test, d_out), or None without ``K_test_train``.
        loss: training loss at each step, shape (T,), in the convention of ``loss``.
    """

    steps: Tensor
    f_train: Tensor
    f_test: Tensor | None
    loss: Tensor


# ----------------------------------------------------------------------------- validation
def _tensor(x: object, name: str) -> Tensor:
    return check_tensor(x, name)


def _kernel(K: object, name: str = "K_train_train") -> Tensor:
    K = check_tensor(K, name, ndim=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {tuple(K.shape)}")
    return 0.5 * (K + K.T)


def _labels(y: object, n: int, name: str = "y") -> tuple[Tensor, bool]:
    """Returns y as (n, d_out) and whether it was given as a vector (n,)."""
    y = check_tensor(y, name, ndim=(1, 2))
    vector = y.ndim == 1
    y = y[:, None] if vector else y
    if y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, d_out), got {tuple(y.shape)}")
    return y, vector


def _steps(steps: object) -> Tensor:
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}: pass steps=100")
        check_memory(64 * (int(steps) + 1), f"the steps 0..{steps}", "pass fewer steps, or a "
                     "sequence of step indices, e.g. np.geomspace(1, k_max, 100).astype(int)")
        return torch.arange(int(steps) + 1, dtype=torch.float64)
    if isinstance(steps, (Sequence, np.ndarray, Tensor)) and not isinstance(steps, str):
        try:
            s = torch.as_tensor(np.asarray(steps, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"steps must be numbers, got {steps!r}") from None
        if s.ndim != 1 or s.numel() == 0 or (s < 0).any() or not bool(torch.isfinite(s).all()):
            raise ValueError("steps must be an int or a non-empty 1-D sequence of finite "
                             "non-negative numbers")
        return s
    raise TypeError(
        f"steps must be an int (gives 0..steps) or a sequence of step indices, got {steps!r}"
    )


def _check_stable(lr: float, lam: Tensor, continuous: bool, what: str) -> None:
    """Discrete GD on the quadratic diverges when lr * lambda_max > 2: refuse it."""
    lam_max = float(lam[-1])
    if not continuous and lr * lam_max > 2.0 * (1 + 1e-12):
        raise ValueError(
            f"{what}: lr * lambda_max(K) = {lr * lam_max:.4g} > 2, so gradient descent diverges "
            f"(every mode with lr * lambda > 2 grows by |1 - lr lambda| per step): pass "
            f"lr < 2 / lambda_max = {2 / lam_max:.4g} (or continuous=True for gradient flow)"
        )


def _check_conditioned(K: Tensor, what: str, ridge: float = 0.0) -> None:
    """Refuse a (numerically) singular system instead of returning 1e16-sized garbage."""
    lam = torch.linalg.eigvalsh(K)
    top = float(lam.abs().max())
    low = float(lam[0]) + ridge
    if top == 0.0 or low <= top * K.shape[0] * torch.finfo(K.dtype).eps * 10:
        cond = float("inf") if low <= 0 else (top + ridge) / low
        raise ValueError(
            f"{what} is singular or numerically singular (lambda_min = {float(lam[0]):.3g}, "
            f"lambda_max = {top:.3g}, condition number {cond:.3g}): check for duplicate inputs, "
            "or pass ridge > 0 (e.g. ridge=1e-8 * trace(K) / n)"
        )


# ----------------------------------------------------------------------------- public
def kernel_regression(
    K_train_train: Tensor,
    y_train: Tensor,
    K_test_train: Tensor | None = None,
    ridge: float = 0.0,
) -> Tensor:
    r"""Kernel (ridge) regression :math:`K(x, X)\,(K(X, X) + \lambda I)^{-1} Y`.

    It is the :math:`k \to \infty` limit of :func:`gd_dynamics` started from :math:`f_0 = 0`
    (ridge = 0), i.e. the infinitely-trained wide network (Arora et al. 2019, arXiv 1904.11955).
    Solved in float64 by a linear solve (no explicit inverse), as scikit-learn's ``KernelRidge``
    with ``kernel="precomputed"`` and ``alpha=ridge``.

    Args:
        K_train_train: (n, n) kernel on the training points (symmetrised).
        y_train: (n,) or (n, d_out) labels.
        K_test_train: (n_test, n) kernel between test and training points; None predicts on the
            training points.
        ridge: :math:`\lambda \ge 0`.

    Returns:
        Predictions, (n_test,) or (n_test, d_out) following the shape of ``y_train``.
    """
    K = _kernel(K_train_train).to(torch.float64)
    n = K.shape[0]
    y, vector = _labels(y_train, n, "y_train")
    ridge = check_number(ridge, "ridge", minimum=0.0)
    Kt = K if K_test_train is None else check_tensor(K_test_train, "K_test_train", ndim=2,
                                                     dtype=torch.float64)
    if Kt.shape[1] != n:
        raise ValueError(f"K_test_train must have shape (n_test, {n}), got {tuple(Kt.shape)}")
    _check_conditioned(K, "K_train_train + ridge * I", ridge)
    A = K + ridge * torch.eye(n, dtype=K.dtype, device=K.device)
    alpha = torch.linalg.solve(A, y.to(torch.float64))  # (n, d_out)
    out = (Kt @ alpha).to(y.dtype)
    return out[:, 0] if vector else out


def gd_dynamics(
    K: Tensor,
    y: Tensor,
    f0: Tensor,
    lr: float,
    steps: int | Sequence[float],
    *,
    loss: str = "mse_sum",
    K_test_train: Tensor | None = None,
    f0_test: Tensor | None = None,
    continuous: bool = False,
) -> Dynamics:
    r"""Closed-form GD (or gradient-flow) trajectory of the linearised model with kernel K.

    Discrete: :math:`r_k = (I - \eta K)^k r_0`, with :math:`r_k = f_k(X) - Y`; continuous:
    :math:`r_t = e^{-\eta k K} r_0` at "step" k (time :math:`\eta k`). Test points move by
    :math:`f_k(x) = f_0(x) - K(x, X)\, V\,\mathrm{diag}\bigl((1 - (1-\eta\lambda_i)^k)/\lambda_i
    \bigr) V^\top r_0` (:math:`(1 - e^{-\eta k\lambda_i})/\lambda_i` continuous; :math:`\eta k`
    when :math:`\lambda_i = 0`), from the eigendecomposition :math:`K = V \Lambda V^\top`.

    ``loss="mse_mean"`` (:math:`F/n`) divides the learning rate by n (the number of training
    points) before applying the formulas: ``gd_dynamics(..., lr, loss="mse_mean")`` equals
    ``gd_dynamics(..., lr / n, loss="mse_sum")`` apart from the reported loss values.

    Args:
        K: (n, n) scalar kernel (applied to every output column, i.e. K tensor I), or the
            (n d_out, n d_out) "full" kernel with sample-major index ``i * d_out + k``.
        y: (n,) or (n, d_out) targets.
        f0: outputs at initialisation, same shape as y.
        lr: step size :math:`\eta` > 0.
        steps: an int k_max (returns k = 0..k_max) or a sequence of (possibly fractional)
            step indices.
        loss: "mse_sum" (:math:`\tfrac12\sum_i\lVert f_i - y_i\rVert^2`) or "mse_mean" (/n).
        K_test_train: (n_test, n) (or (n_test d_out, n d_out) with a full K) kernel for the test
            predictions; needs ``f0_test``.
        f0_test: (n_test,) or (n_test, d_out) outputs at initialisation on the test points.
        continuous: gradient flow instead of discrete GD.

    Returns:
        :class:`Dynamics` with ``f_train`` (T, n, d_out), ``f_test`` (T, n_test, d_out) or None,
        ``loss`` (T,) and ``steps`` (T,).
    """
    check_choice(loss, "loss", _LOSSES)
    K = _kernel(K, "K").to(torch.float64)
    y_t = _tensor(y, "y")
    n = y_t.shape[0]
    y2, _ = _labels(y_t, n, "y")
    f02, _ = _labels(f0, n, "f0")
    if f02.shape != y2.shape:
        raise ValueError(f"f0 must have the shape of y {tuple(y2.shape)}, got {tuple(f02.shape)}")
    d_out = y2.shape[1]
    lr = check_number(lr, "lr", minimum=0.0, strict_min=True)
    if not isinstance(continuous, bool):
        raise TypeError(f"continuous must be True or False, got {continuous!r}")
    full = K.shape[0] == n * d_out and d_out > 1
    if K.shape[0] != n and not full:
        raise ValueError(
            f"K must be ({n}, {n}) or ({n * d_out}, {n * d_out}), got {tuple(K.shape)}"
        )
    eta = lr / n if loss == "mse_mean" else lr
    s = _steps(steps).to(K.device)  # the step indices live with the kernel (CPU or CUDA)
    n_test = 0 if K_test_train is None else len(K_test_train)
    check_memory(8 * len(s) * (3 * K.shape[0] + n_test) * y2.shape[1] + 16 * K.numel(),
                 f"the trajectory at {len(s)} steps", "pass fewer steps (a sequence of step "
                 "indices, e.g. np.unique(np.geomspace(1, k_max, 100).astype(int)))",
                 device=K.device)
    lam, V = torch.linalg.eigh(K)  # K = V diag(lam) V^T
    _check_stable(eta, lam, continuous, "gd_dynamics")
    # residual in the eigenbasis: (n or n d_out, cols)
    r0 = (f02 - y2).to(torch.float64)
    r0 = r0.reshape(-1, 1) if full else r0
    c0 = V.T @ r0
    k = s[:, None]  # (T, 1)
    x = eta * lam[None, :]  # (1, p)
    if continuous:
        decay = torch.exp(-k * x)
        # (1 - exp(-k x)) / lam = eta * (-expm1(-k x)) / x, with the x -> 0 limit eta * k
        safe = torch.where(x.abs() > 1e-12, x, torch.ones_like(x))
        accum = torch.where(x.abs() > 1e-12, -torch.expm1(-k * x) / safe, k) * eta
    else:
        q = 1.0 - x
        decay = q**k
        safe = torch.where(x.abs() > 1e-12, x, torch.ones_like(x))
        accum = torch.where(x.abs() > 1e-12, (1.0 - decay) / safe, k) * eta
    # residuals at every step: (T, p, cols)
    r = torch.einsum("ip,tp,pc->tic", V, decay, c0)
    shape = (len(s), n, d_out)
    f_train = (y2.to(torch.float64)[None] + r.reshape(shape)).to(y_t.dtype)
    sq = 0.5 * (r**2).sum(dim=(1, 2))
    loss_values = (sq / n if loss == "mse_mean" else sq).to(y_t.dtype)
    f_test = None
    if K_test_train is not None:
        if f0_test is None:
            raise ValueError("K_test_train needs f0_test (the test outputs at initialisation)")
        Kt = _tensor(K_test_train, "K_test_train").to(torch.float64)
        ft0 = _tensor(f0_test, "f0_test")
        ft0 = ft0[:, None] if ft0.ndim == 1 else ft0
        n_test = ft0.shape[0]
        if ft0.ndim != 2 or ft0.shape[1] != d_out:
            raise ValueError(f"f0_test must be (n_test,) or (n_test, {d_out})")
        cols = K.shape[0]
        if Kt.shape != (n_test * (d_out if full else 1), cols):
            raise ValueError(
                f"K_test_train must have shape ({n_test * (d_out if full else 1)}, {cols}), "
                f"got {tuple(Kt.shape)}"
            )
        # f_k(x) = f_0(x) - K(x, X) V diag(accum) V^T r0   (accum includes eta)
        move = torch.einsum("ip,tp,pc->tic", Kt @ V, accum, c0)
        f_test = (ft0.to(torch.float64)[None] - move.reshape(len(s), n_test, d_out)).to(
            ft0.dtype
        )
    return Dynamics(s, f_train, f_test, loss_values)


def eigen_projection_curve(K: Tensor, y: Tensor, lr: float, steps: int | Sequence[float]) -> Tensor:
    r"""Arora et al.'s (arXiv 1901.08584, Thm 4.1) residual norm prediction.

    .. math::
        \lVert y - u(k)\rVert_2 \approx \sqrt{\textstyle\sum_i (1 - \eta\lambda_i)^{2k}
        (v_i^\top y)^2},

    with :math:`(\lambda_i, v_i)` the eigenpairs of K, for GD on the sum loss from
    :math:`u(0) \approx 0`. It equals the norm of ``gd_dynamics`` residuals with ``f0 = 0``.

    Args:
        K: (n, n) kernel (e.g. :math:`H^\infty`).
        y: (n,) or (n, d_out) labels (columns are summed in the norm).
        lr: step size :math:`\eta`.
        steps: int k_max (k = 0..k_max) or a sequence of step indices.

    Returns:
        (T,) tensor of predicted residual norms.
    """
    K = _kernel(K, "K").to(torch.float64)
    y2, _ = _labels(y, K.shape[0])
    lr = check_number(lr, "lr", minimum=0.0, strict_min=True)
    s = _steps(steps).to(K.device)
    check_memory(16 * len(s) * K.shape[0], f"the curve at {len(s)} steps", "pass fewer steps",
                 device=K.device)
    lam, V = torch.linalg.eigh(K)
    _check_stable(lr, lam, False, "eigen_projection_curve")
    proj2 = ((V.T @ y2.to(torch.float64)) ** 2).sum(1)  # (n,)
    factors = (1.0 - lr * lam)[None, :] ** (2.0 * s[:, None])  # (T, n)
    return torch.sqrt(factors @ proj2)


def label_complexity(K: Tensor, y: Tensor) -> float:
    r""":math:`y^\top K^{-1} y` (summed over output columns), via a float64 linear solve.

    Arora et al. (arXiv 1901.08584): with :math:`K = H^\infty` it bounds the distance travelled
    by the weights, :math:`\lVert W_k - W_0\rVert_F \approx \sqrt{y^\top (H^\infty)^{-1} y}`, and
    enters the generalisation bound :math:`\sqrt{2 y^\top (H^\infty)^{-1} y / n}`.
    """
    K = _kernel(K, "K").to(torch.float64)
    y2, _ = _labels(y, K.shape[0])
    y2 = y2.to(torch.float64)
    _check_conditioned(K, "K (in y^T K^-1 y)")
    sol = torch.linalg.solve(K, y2)
    return float((y2 * sol).sum())
