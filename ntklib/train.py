"""Plain gradient descent with the diagnostics the convergence theorems talk about.

`train` performs the update the papers analyse, theta <- theta - lr * grad F(theta), on the
trainable parameters only (no momentum, no weight decay), and records per logged step the loss F,
the squared gradient norm ||grad F||^2, the ratio ||grad F||^2 / F (Allen-Zhu, Li & Song's
"no critical point" quantity), the distance of every trainable weight layer from its initial
value, and the fraction of ReLU sign patterns that flipped since initialisation.

Loss names (see DESIGN.md): ``"mse_sum"`` is F = sum_i 1/2 ||f(x_i) - y_i||^2, ``"mse_mean"`` is
F / n, ``"cross_entropy"`` is the mean cross-entropy over samples with int64 class labels.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .utils import pick_device

LOSSES = ("mse_sum", "mse_mean", "cross_entropy")
OPTIMIZERS = ("gd", "sgd")
DIAGNOSTICS = ("grad", "distance", "spectral", "flips")
DIVERGENCE_FACTOR = 1e6


class DivergenceError(RuntimeError):
    """Training diverged (non-finite loss, or loss > 1e6 x the initial loss).

    Attributes:
        history: the `History` recorded up to the divergence (``stopped == "diverged"``).
        lr: the learning rate that was used.
        lr_stable: the estimated stable scale 2 / lambda_max (see `stable_learning_rate`), or None.
    """

    def __init__(self, message: str, history: History, lr: float, lr_stable: float | None):
        super().__init__(message)
        self.history = history
        self.lr = lr
        self.lr_stable = lr_stable


@dataclass
class History:
    """What `train` recorded, one entry per logged step.

    Attributes:
        step: iterate index t of every logged entry (t = 0 is the initialisation), shape ``(k,)``.
        loss: F(theta_t) on the full data set, shape ``(k,)``.
        grad_norm_sq: ||grad F(theta_t)||^2 over the trainable parameters (full data set), shape
            ``(k,)``; empty unless ``"grad"`` was requested.
        grad_ratio: ``grad_norm_sq / loss``; empty unless ``"grad"`` was requested.
        time: wall-clock seconds since the start of training, shape ``(k,)``.
        accuracy: fraction of correctly classified samples (``loss="cross_entropy"`` only, else
            empty).
        distance: layer name -> ||W_l(t) - W_l(0)||_F (trainable weight layers, ``"distance"``).
        spectral: layer name -> ||W_l(t) - W_l(0)||_2 (``"spectral"``).
        flips: layer name -> fraction of (sample, unit) pairs whose activation sign differs from
            initialisation (``"flips"``); the key is the weight layer whose output is that
            pre-activation (for `MLP`: ``A, W1, ..., WL``).
        extra: hook name -> values returned by the hook.
        extra_steps: hook name -> iterate index of every hook value.
        model0: deep copy of the model before training.
        stopped: ``"steps"``, ``"target"``, ``"interrupted"`` or ``"diverged"``.
        lr: the learning rate used.
    """

    step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_norm_sq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distance: dict[str, np.ndarray] = field(default_factory=dict)
    spectral: dict[str, np.ndarray] = field(default_factory=dict)
    flips: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    extra_steps: dict[str, np.ndarray] = field(default_factory=dict)
    model0: nn.Module | None = None
    stopped: str = "steps"
    lr: float = float("nan")

    @property
    def final_loss(self) -> float:
        """The last logged loss (NaN if nothing was logged)."""
        return float(self.loss[-1]) if len(self.loss) else float("nan")

    def __repr__(self) -> str:
        return (f"History(logged={len(self.step)}, final_loss={self.final_loss:.4g}, "
                f"stopped={self.stopped!r}, lr={self.lr:.4g})")


# ----------------------------------------------------------------------------- losses


def _loss_tensor(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Scalar loss of outputs ``out`` (n, d_out) against labels ``y`` ((n, d_out) or (n,) int64)."""
    if loss == "cross_entropy":
        return nn.functional.cross_entropy(out, y, reduction="mean")
    sq = 0.5 * (out - y).square().sum()  # F = sum_i 1/2 ||f(x_i) - y_i||^2
    return sq if loss == "mse_sum" else sq / out.shape[0]


def _prepare(model: nn.Module, X, y, loss: str, device=None) -> tuple[Tensor, Tensor]:
    """Validate ``X, y`` and move them to the model's dtype/device; MSE ``y (n,)`` -> ``(n, 1)``."""
    _check_choice("loss", loss, LOSSES)
    X = _as_tensor("X", X)
    y = _as_tensor("y", y)
    p = next(iter(model.parameters()), None)
    dtype = p.dtype if p is not None else torch.get_default_dtype()
    dev = pick_device(device) if device is not None else (p.device if p is not None else X.device)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (n, d) (or (n, C, H, W)), got {tuple(X.shape)}: "
                         "reshape a single sample with X[None]")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y hold different numbers of samples ({X.shape[0]} vs "
                         f"{y.shape[0]}): pass one label per row of X")
    if not X.is_floating_point():
        raise TypeError(f"X must be a floating-point tensor, got {X.dtype}: "
                        "pass X.to(torch.float64)")
    X = X.to(device=dev, dtype=dtype)
    if not torch.isfinite(X).all():
        raise ValueError("X contains NaN or inf: clean or drop those rows before training")
    if loss == "cross_entropy":
        if y.is_floating_point() or y.ndim != 1:
            raise TypeError(f"cross_entropy needs int64 class indices of shape (n,), got {y.dtype} "
                            f"{tuple(y.shape)}: pass y.long() (or use loss='mse_sum' for "
                            "real-valued targets)")
        y = y.to(device=dev, dtype=torch.long)
        if y.numel() and y.min() < 0:
            raise ValueError("cross_entropy labels must be class indices >= 0")
        return X, y
    if not (y.is_floating_point() or y.dtype in (torch.int32, torch.int64, torch.bool)):
        raise TypeError(f"y must be a real tensor for loss={loss!r}, got {y.dtype}")
    y = y.to(device=dev, dtype=dtype)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"y must have shape (n,) or (n, d_out), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError("y contains NaN or inf: clean or drop those labels before training")
    return X, y


def loss_value(model: nn.Module, X: Tensor, y: Tensor, loss: str = "mse_sum") -> float:
    """The training objective at the model's current parameters.

    Args:
        model: maps ``(n, ...)`` to ``(n, d_out)``.
        X: inputs, shape ``(n, d)`` (or ``(n, C, H, W)``).
        y: labels, ``(n,)`` or ``(n, d_out)`` for MSE, ``(n,)`` int64 for cross-entropy.
        loss: ``"mse_sum"`` (F = sum_i 1/2 ||f(x_i) - y_i||^2), ``"mse_mean"`` (F / n) or
            ``"cross_entropy"`` (mean over samples).

    Returns:
        F as a Python float.
    """
    X, y = _prepare(model, X, y, loss)
    with torch.no_grad():
        out = model(X)
        _check_output(out, y, loss)
        return float(_loss_tensor(out, y, loss))


def _check_output(out: Tensor, y: Tensor, loss: str) -> None:
    if out.ndim != 2:
        raise ValueError(f"the model must return (n, d_out), got {tuple(out.shape)}")
    if loss == "cross_entropy":
        if y.numel() and int(y.max()) >= out.shape[1]:
            raise ValueError(f"label {int(y.max())} is out of range for d_out={out.shape[1]}: "
                             "build the model with d_out = number of classes")
    elif out.shape != y.shape:
        raise ValueError(f"model output {tuple(out.shape)} and labels {tuple(y.shape)} differ: "
                         "build the model with d_out = y.shape[1]")


# ----------------------------------------------------------------------------- validation


def _as_tensor(name: str, v) -> Tensor:
    if isinstance(v, Tensor):
        return v.detach()
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(v).__name__}")


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name}={value!r}: pass one of {', '.join(map(repr, choices))}")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}: "
                         f"pass {name}=... >= {minimum}")
    return int(value)


def _validate(lr, steps, optimizer, batch_size, n, target_loss, diagnostics, log_every, hooks):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}: pass e.g. lr=1e-3 "
                         "(the stable scale for loss='mse_sum' is 2 / lambda_max of the NTK)")
    steps = _check_int("steps", steps, 1)
    log_every = _check_int("log_every", log_every, 1)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    if optimizer == "sgd":
        if batch_size is None:
            raise ValueError("optimizer='sgd' needs a mini-batch size: pass batch_size=... "
                             f"(1 <= batch_size <= n = {n}) or use optimizer='gd'")
        batch_size = _check_int("batch_size", batch_size, 1)
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} exceeds the number of samples n={n}: "
                             f"pass batch_size <= {n} (or optimizer='gd' for full batches)")
    elif batch_size is not None:
        raise ValueError("batch_size is only used by optimizer='sgd': drop batch_size or pass "
                         "optimizer='sgd'")
    if target_loss is not None and (not isinstance(target_loss, numbers.Real) or target_loss < 0):
        raise ValueError(f"target_loss must be a number >= 0 or None, got {target_loss!r}")
    if diagnostics is None:
        diagnostics = ()
    if isinstance(diagnostics, str):
        diagnostics = (diagnostics,)
    for d in diagnostics:
        _check_choice("diagnostic", d, DIAGNOSTICS)
    hooks = dict(hooks or {})
    for name, spec in hooks.items():
        ok = isinstance(spec, tuple) and len(spec) == 2 and callable(spec[1])
        if not ok or isinstance(spec[0], bool) or not isinstance(spec[0], int) or spec[0] < 1:
            raise ValueError(f"hook {name!r} must be (every, fn) with an integer every >= 1 and "
                             "fn(model) -> float, e.g. {'drift': (10, my_fn)}")
    return steps, log_every, batch_size, frozenset(diagnostics), hooks


# ----------------------------------------------------------------------------- model helpers


def _weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's weight layers in forward order (DESIGN.md); falls back to named parameters."""
    if hasattr(model, "weight_layers"):
        return dict(model.weight_layers())
    return {name: _ParamView(p) for name, p in model.named_parameters()}


class _ParamView:
    """Stand-in for a layer of a model without `weight_layers`: a single named parameter."""

    def __init__(self, p: Tensor):
        self.weight = p


def _trainable_layers(model: nn.Module) -> dict[str, Tensor]:
    """Name -> weight tensor of every weight layer whose weight is trained."""
    return {k: l.weight for k, l in _weight_layers(model).items() if l.weight.requires_grad}


def _preact_names(model: nn.Module, count: int) -> list[str]:
    """Pre-activation names: the weight layer producing each one, when that is unambiguous."""
    names = list(_weight_layers(model)) if hasattr(model, "weight_layers") else []
    return names[:count] if len(names) > count else [f"D{l}" for l in range(count)]


def _flip_fractions(pre0: list[Tensor], pre: list[Tensor]) -> list[Tensor]:
    """Per layer: mean over (sample, unit) of 1[sign(pre0 > 0) != sign(pre > 0)] (0-dim tensors)."""
    return [((a > 0) != (b > 0)).to(torch.float64).mean() for a, b in zip(pre0, pre)]


def _matrix(w: Tensor) -> Tensor:
    """A weight as a matrix: conv kernels (c_out, c_in, k, k) -> (c_out, c_in * k * k)."""
    return w.reshape(w.shape[0], -1) if w.ndim != 2 else w


def stable_learning_rate(model: nn.Module, X: Tensor, loss: str = "mse_sum", iters: int = 20,
                         seed: int = 0) -> float:
    """The GD stability scale 2 / lambda_max for the linearised dynamics at the current parameters.

    lambda_max is the top eigenvalue of the empirical NTK of the trainable parameters,
    K = J J^T with J = d vec(f(X)) / d theta of shape ``(n * d_out, P)``, found by power iteration
    on v -> J (J^T v) (J^T v by one backward pass; J u by differentiating J^T v with respect to v).
    The loss curvature (d^2 F / d f^2) rescales it: 1 for ``"mse_sum"``, 1/n for ``"mse_mean"``
    and at most 1/(2n) for ``"cross_entropy"`` (the softmax Hessian has norm <= 1/2).

    Args:
        model: network; X: inputs ``(n, ...)``; loss: loss name; iters: power iterations;
        seed: seed of the starting vector.

    Returns:
        2 / (curvature * lambda_max), the largest step size for which GD on the linearised model
        does not diverge.
    """
    X = X.detach()
    params = [p for p in model.parameters() if p.requires_grad]
    out = model(X)
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(out.shape, generator=g, dtype=out.dtype).to(out.device)
    v = v / v.norm()
    lam = torch.zeros((), dtype=out.dtype, device=out.device)
    for _ in range(iters):
        v = v.detach().requires_grad_(True)
        jtv = torch.autograd.grad(out, params, grad_outputs=v, create_graph=True)  # J^T v
        kv = torch.autograd.grad(jtv, v, grad_outputs=[t.detach() for t in jtv],
                                 retain_graph=True)[0]  # J J^T v
        lam = (kv * v).sum().detach()
        v = kv.detach() / kv.norm().clamp_min(1e-300)
    curvature = {"mse_sum": 1.0, "mse_mean": 1.0 / X.shape[0], "cross_entropy": 0.5 / X.shape[0]}
    return 2.0 / (curvature[loss] * float(lam))


# ----------------------------------------------------------------------------- training


class _Recorder:
    """Accumulates logged values as Python/tensor lists and builds the `History` arrays."""

    def __init__(self, diagnostics, layer_names, hooks, model0, lr):
        self.diag = diagnostics
        self.rows: dict[str, list] = {k: [] for k in ("step", "loss", "gn", "time", "acc")}
        self.distance = {k: [] for k in layer_names} if "distance" in diagnostics else {}
        self.spectral = {k: [] for k in layer_names} if "spectral" in diagnostics else {}
        self.flips: dict[str, list] = {}
        self.extra = {k: [] for k in hooks}
        self.extra_steps = {k: [] for k in hooks}
        self.model0, self.lr = model0, lr

    def history(self, stopped: str) -> History:
        k = min(len(self.rows["loss"]), len(self.rows["time"]))  # an interrupt may cut a row short
        r = {key: v[:k] for key, v in self.rows.items()}
        loss = np.asarray(r["loss"], dtype=np.float64)
        gn = np.asarray([float(g) for g in r["gn"]], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = gn / loss[: len(gn)] if len(gn) else np.zeros(0)
        arr = lambda d, cut=k: {name: np.asarray([float(x) for x in v[:cut]], dtype=np.float64)
                                for name, v in d.items()}
        return History(
            step=np.asarray(r["step"], dtype=np.int64), loss=loss, grad_norm_sq=gn,
            grad_ratio=ratio, time=np.asarray(r["time"], dtype=np.float64),
            accuracy=np.asarray([float(a) for a in r["acc"]], dtype=np.float64),
            distance=arr(self.distance), spectral=arr(self.spectral), flips=arr(self.flips),
            extra=arr(self.extra, None), extra_steps={name: np.asarray(v, dtype=np.int64)
                                                for name, v in self.extra_steps.items()},
            model0=self.model0, stopped=stopped, lr=self.lr)


def train(model: nn.Module, X: Tensor, y: Tensor, *, lr: float, steps: int, optimizer: str = "gd",
          batch_size: int | None = None, loss: str = "mse_sum", target_loss: float | None = None,
          diagnostics=(), log_every: int = 1,
          hooks: Mapping[str, tuple[int, Callable[[nn.Module], float]]] | None = None,
          seed: int = 0, device=None, progress: bool | None = None) -> History:
    """Train ``model`` in place by plain (stochastic) gradient descent and record diagnostics.

    Update (trainable parameters only): theta_{t+1} = theta_t - lr * grad F_batch(theta_t), with
    F_batch the loss on the full data (``"gd"``) or on a mini-batch of ``batch_size`` samples drawn
    without replacement, reshuffled every epoch by a generator seeded with ``seed`` (``"sgd"``;
    for ``"mse_sum"`` the mini-batch loss is the sum over the batch, so use lr scaled to the batch).

    Logging: iterate t (t = 0 is the initialisation) is logged when t % log_every == 0 and at the
    final iterate. Logged values are full-data quantities at theta_t. Training stops after ``steps``
    updates, or at the first logged iterate with loss <= ``target_loss`` (``stopped="target"``), or
    on KeyboardInterrupt (the history so far is returned, ``stopped="interrupted"``).

    Args:
        model: ``nn.Module`` mapping ``(n, ...)`` to ``(n, d_out)``; ntklib models also give
            ``features`` (for ``"flips"``) and ``weight_layers`` (for layer names).
        X: inputs ``(n, d)`` or ``(n, C, H, W)``, cast to the model's dtype.
        y: labels ``(n,)`` or ``(n, d_out)`` (MSE; ``(n,)`` becomes ``(n, 1)``) or int64 ``(n,)``.
        lr: step size eta > 0.
        steps: number of updates >= 1.
        optimizer: ``"gd"`` or ``"sgd"`` (needs ``batch_size``).
        batch_size: mini-batch size for ``"sgd"``, 1 <= batch_size <= n.
        loss: ``"mse_sum"``, ``"mse_mean"`` or ``"cross_entropy"``.
        target_loss: stop once the logged loss is <= this value.
        diagnostics: any of ``"grad"``, ``"distance"``, ``"spectral"``, ``"flips"``.
        log_every: log every this many iterates.
        hooks: ``{name: (every, fn(model) -> float)}``, called at iterates t % every == 0 and at the
            final iterate; results go to ``history.extra[name]`` (steps in ``extra_steps``).
        seed: seed of the mini-batch order (the model's own initialisation seed is the model's).
        device: move model and data there (default: the model's device).
        progress: show a tqdm progress bar (default False).

    Returns:
        The `History`.

    Raises:
        DivergenceError: the loss became non-finite or exceeded 1e6 x the initial loss.
        ValueError, TypeError: invalid arguments (the message says what to change).
    """
    X, y = _prepare(model, X, y, loss, device)
    model.to(X.device)
    n = X.shape[0]
    steps, log_every, batch_size, diag, hooks = _validate(
        lr, steps, optimizer, batch_size, n, target_loss, diagnostics, log_every, hooks)
    lr = float(lr)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: build it with "
                         "trainable='hidden', 'all' or 'last'")
    want_flips = "flips" in diag
    if want_flips and not hasattr(model, "features"):
        raise ValueError("diagnostic 'flips' needs a model with features(X) (an ntklib model)")
    model0 = copy.deepcopy(model)
    layers = _trainable_layers(model)
    init_w = {k: w.detach().clone() for k, w in layers.items()}
    rec = _Recorder(diag, list(layers), hooks, model0, lr)
    pre0: list[Tensor] = []
    if want_flips:
        with torch.no_grad():
            pre0 = [p.detach().clone() for p in model.features(X).preacts]
        rec.flips = {k: [] for k in _preact_names(model, len(pre0))}
    sampler = _BatchSampler(n, batch_size, seed, X.device) if optimizer == "sgd" else None
    bar = _progress_bar(steps, progress)
    start, init_loss = time.perf_counter(), None
    t = 0
    try:
        for t in range(steps + 1):
            logged = t % log_every == 0 or t == steps
            if logged:
                value, grads = _logged_step(model, X, y, loss, params, diag, rec, pre0, layers,
                                            init_w, t, start, sampler is None and t < steps)
                init_loss = value if init_loss is None else init_loss
                _check_divergence(value, init_loss, rec, model0, X, loss, lr)
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.3e}", refresh=False)
                if target_loss is not None and value <= target_loss:
                    _run_hooks(hooks, model, rec, t, force=True)
                    return _finish(bar, rec, "target")
            _run_hooks(hooks, model, rec, t, force=t == steps)
            if t == steps:
                break
            if sampler is not None or not logged:
                grads = _gradients(model, X, y, loss, params, sampler)
            with torch.no_grad():
                torch._foreach_add_(params, grads, alpha=-lr)  # theta <- theta - lr * grad
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        return _finish(bar, rec, "interrupted")
    return _finish(bar, rec, "steps")


def _finish(bar, rec: _Recorder, stopped: str) -> History:
    if bar is not None:
        bar.close()
    return rec.history(stopped)


def _progress_bar(steps: int, progress: bool | None):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="train", leave=False)


class _BatchSampler:
    """Mini-batches drawn without replacement, reshuffled each epoch (own CPU generator)."""

    def __init__(self, n: int, batch_size: int, seed: int, device):
        self.n, self.b, self.device = n, batch_size, device
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.perm, self.pos = torch.randperm(n, generator=self.gen), 0

    def next(self) -> Tensor:
        if self.pos + self.b > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + self.b]
        self.pos += self.b
        return idx.to(self.device)


def _gradients(model, X, y, loss, params, sampler) -> tuple[Tensor, ...]:
    """Gradient of the full-batch (GD) or mini-batch (SGD) loss with respect to ``params``."""
    if sampler is not None:
        idx = sampler.next()
        X, y = X[idx], y[idx]
    return torch.autograd.grad(_loss_tensor(model(X), y, loss), params)


def _logged_step(model, X, y, loss, params, diag, rec, pre0, layers, init_w, t, start, need_grad):
    """Full-data forward (and backward when needed) at a logged iterate; records every diagnostic.

    Returns the loss as a float and the full-data gradients (or None when not computed).
    """
    with_grad = need_grad or "grad" in diag
    with torch.set_grad_enabled(with_grad):
        if pre0:
            feats = model.features(X)  # one forward gives the output and the pre-activations
            out = feats.output
            if with_grad and not out.requires_grad:
                out = model(X)
        else:
            feats, out = None, model(X)
        if t == 0:
            _check_output(out, y, loss)
        obj = _loss_tensor(out, y, loss)
    grads = torch.autograd.grad(obj, params) if with_grad else None
    value = float(obj.detach())  # the one host sync of a logged step
    r = rec.rows
    with torch.no_grad():
        if "grad" in diag:
            r["gn"].append(sum(g.square().sum() for g in grads))
        if loss == "cross_entropy":
            r["acc"].append((out.argmax(dim=1) == y).to(torch.float64).mean())
        for k, w in layers.items():
            if "distance" in diag:
                rec.distance[k].append(torch.linalg.vector_norm(w - init_w[k]))
            if "spectral" in diag:
                rec.spectral[k].append(torch.linalg.matrix_norm(_matrix(w - init_w[k]), ord=2))
        if pre0:
            fr = _flip_fractions(pre0, feats.preacts)
            for k, f in zip(rec.flips, fr):
                rec.flips[k].append(f)
    r["step"].append(t)
    r["time"].append(time.perf_counter() - start)
    r["loss"].append(value)  # last: a row counts once its loss is in (see _Recorder.history)
    return value, grads


def _run_hooks(hooks, model, rec: _Recorder, t: int, force: bool) -> None:
    for name, (every, fn) in hooks.items():
        done = rec.extra_steps[name]
        if (t % every == 0 or force) and (not done or done[-1] != t):
            rec.extra[name].append(float(fn(model)))
            rec.extra_steps[name].append(t)


def _check_divergence(value, init_loss, rec, model0, X, loss, lr) -> None:
    too_big = init_loss > 0 and value > DIVERGENCE_FACTOR * init_loss
    if math.isfinite(value) and not too_big:
        return
    history = rec.history("diverged")
    try:
        stable = stable_learning_rate(model0, X, loss, iters=10)
        how = "2 / lambda_max of the initial NTK (power iteration)"
    except Exception:  # any failure of the estimate falls back to the gradient bound
        stable, how = _gradient_bound(model0, X, history, loss), "4 F / ||grad F||^2 at init"
    hint = f"lower the learning rate to below ~{stable:.3g} ({how})" if stable else \
        "lower the learning rate (e.g. by 10x)"
    what = "became non-finite" if not math.isfinite(value) else \
        f"grew to {value:.3g} > {DIVERGENCE_FACTOR:.0e} x the initial {init_loss:.3g}"
    step = int(history.step[-1]) if len(history.step) else 0
    raise DivergenceError(f"training diverged at step {step} with lr={lr:.4g}: the loss {what}; "
                          f"{hint}", history, lr, stable)


def _gradient_bound(model0, X, history: History, loss: str) -> float | None:
    """Fallback: ||grad F||^2 = e^T K e <= 2 lambda_max F, hence 2/lambda_max <= 4F/||grad F||^2."""
    if len(history.grad_norm_sq) and history.grad_norm_sq[0] > 0:
        return float(4.0 * history.loss[0] / history.grad_norm_sq[0])
    return None
