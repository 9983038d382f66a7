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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .diagnostics import as_matrix, flip_fractions, weight_layers_of
from .losses import LOSSES, check_output, curvature, loss_tensor, prepare_data, prepare_inputs
from .utils import check_choice, check_int, check_number

__all__ = ["train", "History", "DivergenceError", "stable_learning_rate", "OPTIMIZERS",
           "DIAGNOSTICS", "LOSSES"]

OPTIMIZERS = ("gd", "sgd")
DIAGNOSTICS = ("grad", "distance", "spectral", "flips")
#: training stops when the loss exceeds this multiple of its initial value (or a parameter
#: tensor's norm exceeds this multiple of its initial norm plus 1)
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


# ----------------------------------------------------------------------------- validation


def _validate(lr, steps, optimizer, batch_size, n, target_loss, diagnostics, log_every, hooks):
    try:
        lr = check_number(lr, "lr", minimum=0.0, strict_min=True)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (the stable scale for loss='mse_sum' is 2 / lambda_max of the "
                        "NTK, see stable_learning_rate)") from None
    steps = check_int(steps, "steps", minimum=1)
    log_every = check_int(log_every, "log_every", minimum=1)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    if optimizer == "sgd":
        if batch_size is None:
            raise ValueError("optimizer='sgd' needs a mini-batch size: pass batch_size=... "
                             f"(1 <= batch_size <= n = {n}) or use optimizer='gd'")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} exceeds the number of samples n={n}: "
                             f"pass batch_size <= {n} (or optimizer='gd' for full batches)")
    elif batch_size is not None:
        raise ValueError("batch_size is only used by optimizer='sgd': drop batch_size or pass "
                         "optimizer='sgd'")
    if target_loss is not None:
        target_loss = check_number(target_loss, "target_loss", minimum=0.0)
    if diagnostics is None:
        diagnostics = ()
    if isinstance(diagnostics, str):
        diagnostics = (diagnostics,)
    try:
        diagnostics = tuple(diagnostics)
    except TypeError:
        raise TypeError(f"diagnostics must be a tuple of names from {DIAGNOSTICS}, got "
                        f"{diagnostics!r}") from None
    for d in diagnostics:
        check_choice(d, "diagnostic", DIAGNOSTICS)
    if hooks is not None and not isinstance(hooks, Mapping):
        raise TypeError(f"hooks must be a dict {{name: (every, fn)}}, got {type(hooks).__name__}")
    hooks = dict(hooks or {})
    for name, spec in hooks.items():
        ok = isinstance(spec, tuple) and len(spec) == 2 and callable(spec[1])
        if not ok or isinstance(spec[0], bool) or not isinstance(spec[0], int) or spec[0] < 1:
            raise ValueError(f"hook {name!r} must be (every, fn) with an integer every >= 1 and "
                             "fn(model) -> float, e.g. {'drift': (10, my_fn)}")
    return lr, steps, log_every, batch_size, target_loss, frozenset(diagnostics), hooks


# ----------------------------------------------------------------------------- model helpers


def _trainable_layers(model: nn.Module) -> dict[str, Tensor]:
    """Name -> weight tensor of every weight layer whose weight is trained."""
    return {k: l.weight for k, l in weight_layers_of(model).items() if l.weight.requires_grad}


def _preact_names(model: nn.Module, count: int) -> list[str]:
    """Pre-activation names: the weight layer producing each one, when that is unambiguous."""
    names = list(weight_layers_of(model)) if hasattr(model, "weight_layers") else []
    return names[:count] if len(names) > count else [f"D{l}" for l in range(count)]


def stable_learning_rate(model: nn.Module, X: Tensor, loss: str = "mse_sum", iters: int = 20,
                         seed: int = 0) -> float:
    """The GD stability scale 2 / lambda_max for the linearised dynamics at the current parameters.

    lambda_max is the top eigenvalue of the empirical NTK of the trainable parameters,
    K = J J^T with J = d vec(f(X)) / d theta of shape ``(n * d_out, P)``, found by power iteration
    on v -> J (J^T v) (J^T v by one backward pass; J u by differentiating J^T v with respect to v).
    The loss curvature (d^2 F / d f^2) rescales it: 1 for ``"mse_sum"``, 1/n for ``"mse_mean"``
    and at most 1/(2n) for ``"cross_entropy"``.

    Args:
        model: network with trainable parameters; X: inputs ``(n, ...)`` (tensor or numpy);
        loss: loss name; iters: power iterations (>= 1); seed: seed of the starting vector.

    Returns:
        2 / (curvature * lambda_max), the largest step size for which GD on the linearised model
        does not diverge.
    """
    X = prepare_inputs(model, X)
    check_choice(loss, "loss", LOSSES)
    iters = check_int(iters, "iters", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: build it with trainable='hidden',"
                         " 'first', 'last' or 'all'")
    with torch.enable_grad():
        out = model(X)
        g = torch.Generator(device="cpu").manual_seed(seed)
        v = torch.randn(out.shape, generator=g, dtype=out.dtype).to(out.device)
        v = v / v.norm()
        lam = torch.zeros((), dtype=out.dtype, device=out.device)
        for _ in range(iters):
            v = v.detach().requires_grad_(True)
            jtv = torch.autograd.grad(out, params, grad_outputs=v, create_graph=True,
                                      allow_unused=True)  # J^T v
            pairs = [(t, p) for t, p in zip(jtv, params) if t is not None]
            if not pairs:
                raise ValueError("the output does not depend on the trainable parameters")
            kv = torch.autograd.grad([t for t, _ in pairs], v,
                                     grad_outputs=[t.detach() for t, _ in pairs],
                                     retain_graph=True)[0]  # J J^T v
            lam = (kv * v).sum().detach()
            v = kv.detach() / kv.norm().clamp_min(1e-300)
    lam = float(lam)
    if not lam > 0 or not math.isfinite(lam):
        raise ValueError(f"the NTK of the trainable parameters has top eigenvalue {lam:.3g} on "
                         "these inputs: the output does not depend on them (a dead network?)")
    return 2.0 / (curvature(loss, X.shape[0]) * lam)


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

    Divergence is checked at *every* step (not only at logged ones): the (mini-batch) loss must be
    finite and below ``DIVERGENCE_FACTOR`` times the initial loss, every parameter tensor finite
    and below ``DIVERGENCE_FACTOR`` times (its initial norm + 1), and the gradient must not vanish
    identically while the loss is positive (a step that is too large can switch off every ReLU of
    a layer: the network is then dead, its output constant and no later step can move it).

    Args:
        model: ``nn.Module`` mapping ``(n, ...)`` to ``(n, d_out)``; ntklib models also give
            ``features`` (for ``"flips"``) and ``weight_layers`` (for layer names).
        X: inputs ``(n, d)`` or ``(n, C, H, W)`` (tensor or numpy), cast to the model's dtype.
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
        DivergenceError: the loss or a parameter blew up, or the network died (see above); the
            message gives the stable step scale 2 / lambda_max and the history so far.
        ValueError, TypeError: invalid arguments (the message says what to change).
    """
    X, y = prepare_data(model, X, y, loss, device)
    model.to(X.device)
    n = X.shape[0]
    lr, steps, log_every, batch_size, target_loss, diag, hooks = _validate(
        lr, steps, optimizer, batch_size, n, target_loss, diagnostics, log_every, hooks)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: build it with "
                         "trainable='hidden', 'first', 'last' or 'all'")
    want_flips = "flips" in diag
    if want_flips and not hasattr(model, "features"):
        raise ValueError("diagnostic 'flips' needs a model with features(X) (an ntklib model)")
    model0 = copy.deepcopy(model)
    layers = _trainable_layers(model)
    init_w = {k: w.detach().clone() for k, w in layers.items()}
    rec = _Recorder(diag, list(layers), hooks, model0, lr)
    guard = _Guard(params, model0, X, loss, lr, rec)
    pre0: list[Tensor] = []
    if want_flips:
        with torch.no_grad():
            pre0 = [p.detach().clone() for p in model.features(X).preacts]
        rec.flips = {k: [] for k in _preact_names(model, len(pre0))}
    sampler = _BatchSampler(n, batch_size, seed, X.device) if optimizer == "sgd" else None
    bar = _progress_bar(steps, progress)
    start = time.perf_counter()
    try:
        for t in range(steps + 1):
            logged = t % log_every == 0 or t == steps
            grads = None
            if logged:
                value, grads = _logged_step(model, X, y, loss, params, diag, rec, pre0, layers,
                                            init_w, t, start, sampler is None and t < steps)
                guard.loss(value, t)
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.3e}", refresh=False)
                if target_loss is not None and value <= target_loss:
                    _run_hooks(hooks, model, rec, t, force=True)
                    return _finish(bar, rec, "target")
            _run_hooks(hooks, model, rec, t, force=t == steps)
            if t == steps:
                break
            if grads is None:
                value, grads = _gradients(model, X, y, loss, params, sampler)
                guard.loss(value, t)
            guard.gradients(grads, value, t)
            with torch.no_grad():
                torch._foreach_add_(params, grads, alpha=-lr)  # theta <- theta - lr * grad
            guard.parameters(t + 1)
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
        self.gen = torch.Generator(device="cpu").manual_seed(check_int(seed, "seed", minimum=0))
        self.perm, self.pos = torch.randperm(n, generator=self.gen), 0

    def next(self) -> Tensor:
        if self.pos + self.b > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + self.b]
        self.pos += self.b
        return idx.to(self.device)


def _gradients(model, X, y, loss, params, sampler) -> tuple[float, tuple[Tensor, ...]]:
    """(Mini-batch) loss value and its gradient with respect to ``params``."""
    if sampler is not None:
        idx = sampler.next()
        X, y = X[idx], y[idx]
    with torch.enable_grad():
        obj = loss_tensor(model(X), y, loss)
        grads = torch.autograd.grad(obj, params)
    return float(obj.detach()), grads


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
            check_output(out, y, loss)
        obj = loss_tensor(out, y, loss)
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
                rec.spectral[k].append(torch.linalg.matrix_norm(as_matrix(w - init_w[k]), ord=2))
        if pre0:
            fr = flip_fractions(pre0, feats.preacts)
            for k, f in zip(rec.flips, fr):
                rec.flips[k].append(f)
    r["step"].append(t)
    r["time"].append(time.perf_counter() - start)
    r["loss"].append(value)  # last: a row counts once its loss is in (see _Recorder.history)
    return value, grads


class _Guard:
    """The divergence checks run at every step of `train` (see its docstring)."""

    def __init__(self, params, model0, X, loss, lr, rec):
        self.params, self.model0, self.X, self.loss_name, self.lr, self.rec = (
            params, model0, X, loss, lr, rec)
        with torch.no_grad():
            norms = torch.stack(torch._foreach_norm(params))
        self.limits = DIVERGENCE_FACTOR * (norms + 1.0)
        self.init_loss: float | None = None

    def loss(self, value: float, t: int) -> None:
        if self.init_loss is None:
            self.init_loss = value
        init = self.init_loss
        if not math.isfinite(value):
            self._raise(t, "the loss became non-finite")
        if init > 0 and value > DIVERGENCE_FACTOR * init:
            self._raise(t, f"the loss grew to {value:.3g} > {DIVERGENCE_FACTOR:.0e} x the initial "
                           f"{init:.3g}")

    def gradients(self, grads, value: float, t: int) -> None:
        if value <= 1e-12 * max(self.init_loss or 0.0, 1e-300):
            return
        if all(not bool(g.any()) for g in grads):
            if t == 0:
                raise ValueError(
                    f"the gradient is exactly 0 at initialisation while the loss is {value:.3g}: "
                    "the output does not depend on the trained weights for these inputs (all-zero "
                    "inputs, or every unit of a layer inactive): check X and trainable=...")
            self._raise(t, f"every gradient is exactly 0 while the loss is {value:.3g}: the "
                           "network is dead (a too large step switched off every ReLU of a layer "
                           "on every input, so the output no longer depends on the trained "
                           "weights)")

    def parameters(self, t: int) -> None:
        with torch.no_grad():
            norms = torch.stack(torch._foreach_norm(self.params))
            bad = ~torch.isfinite(norms) | (norms > self.limits)
            if bool(bad.any()):
                self._raise(t, "a parameter tensor became non-finite or grew by more than "
                               f"{DIVERGENCE_FACTOR:.0e} x its initial norm")

    def _raise(self, t: int, what: str) -> None:
        history = self.rec.history("diverged")
        try:
            stable = stable_learning_rate(self.model0, self.X, self.loss_name, iters=10)
            how = "2 / lambda_max of the initial NTK (power iteration)"
        except Exception:  # any failure of the estimate falls back to the gradient bound
            stable, how = _gradient_bound(history), "4 F / ||grad F||^2 at init"
        hint = (f"lower the learning rate to below ~{stable:.3g} ({how})" if stable
                else "lower the learning rate (e.g. by 10x)")
        raise DivergenceError(f"training diverged at step {t} with lr={self.lr:.4g}: {what}; "
                              f"{hint}", history, self.lr, stable)


def _run_hooks(hooks, model, rec: _Recorder, t: int, force: bool) -> None:
    for name, (every, fn) in hooks.items():
        done = rec.extra_steps[name]
        if (t % every == 0 or force) and (not done or done[-1] != t):
            rec.extra[name].append(float(fn(model)))
            rec.extra_steps[name].append(t)


def _gradient_bound(history: History) -> float | None:
    """Fallback: ||grad F||^2 = e^T K e <= 2 lambda_max F, hence 2/lambda_max <= 4F/||grad F||^2."""
    if len(history.grad_norm_sq) and history.grad_norm_sq[0] > 0:
        return float(4.0 * history.loss[0] / history.grad_norm_sq[0])
    return None
