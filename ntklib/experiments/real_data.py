r"""The landscape on real images: the gradient ratio :math:`\lVert\nabla F\rVert^2/F` along SGD
for three architectures, its floor against the shape :math:`\delta m/n^2` of Allen-Zhu, Li and
Song's lower bound (arXiv 1811.03962, Theorem 3) over several n, and the optional CIFAR-10 run.

Data: scikit-learn's bundled 8 x 8 digits (``nl.digits``, no download), two classes, unit-norm
images, labels :math:`\pm1`; CIFAR-10 only from files the user already has
(:func:`load_cifar_pair`). Loss: the sum :math:`F = \sum_i \tfrac12(f(x_i) - y_i)^2`. Optimizer:
SGD with mini-batches of ``batch_size`` samples (the mini-batch loss is the sum over the batch),
step ``lr_factor`` / :math:`\lambda_{\max}` of the empirical NTK on one mini-batch of inputs
(``nl.ntk_learning_rate(model, X[:batch_size], lr_factor)``): the linearised SGD step on a batch
is stable for ``lr_factor < 2``. The full-data ratio is logged once per epoch. See
``practical.py`` for the conventions shared by every experiment module.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch

from ..data import digits, min_distance
from ..diagnostics import interpolation_path
from ..models import CNN, MLP, ResNet
from ..ntk import empirical_ntk, lambda_max, min_eigenvalue, ntk_learning_rate
from ..train import train
from ..utils import check_choice, check_dtype, check_int, make_generator
from ._common import ints, positive

__all__ = ["digits_pair", "load_cifar_pair", "sgd_landscape", "real_data_run", "cifar_run"]

ARCHITECTURES = ("mlp", "resnet", "cnn")


def digits_pair(n: int, classes=(3, 8), *, seed: int = 0, image: bool = False,
                dtype: torch.dtype = torch.float64, device: str = "cpu"):
    """``n`` unit-norm 8 x 8 digits of two classes and labels -1 (first class) / +1 (second).

    Returns:
        ``(X, y, separation)``: X ``(n, 64)`` (or ``(n, 1, 8, 8)`` with ``image=True``), y ``(n,)``
        in the dtype of X, and the minimum distance between two images.
    """
    classes = tuple(classes)
    if len(classes) != 2:
        raise ValueError(f"classes must be two digits (a binary task), got {classes}")
    X, t, sep = digits(n=n, classes=classes, seed=seed, image=image, dtype=dtype, device=device)
    return X, 2.0 * t.to(X.dtype) - 1.0, sep


def _cifar_files(path: Path) -> list[Path]:
    for folder in (path, path / "cifar-10-batches-py"):
        files = sorted(folder.glob("data_batch_*"))
        if files:
            return files
    raise FileNotFoundError(
        f"no CIFAR-10 training batches (data_batch_1 ... data_batch_5) under {path}: put the "
        "python version of CIFAR-10 (the folder cifar-10-batches-py from "
        "https://www.cs.toronto.edu/~kriz/cifar.html) there; ntklib never downloads it")


def load_cifar_pair(path: str, n: int, classes=(3, 5), *, seed: int = 0,
                    dtype: torch.dtype = torch.float32, device: str = "cpu"):
    r"""``n`` CIFAR-10 training images of two classes, unit-norm, labels :math:`\pm1`.

    Reads the *python* version of CIFAR-10 that the user already has (``data_batch_1`` ...
    ``data_batch_5``, pickled dicts with ``data`` ``(10000, 3072)`` uint8 in channel-major order
    and ``labels``), from ``path`` or ``path/cifar-10-batches-py``; it never downloads anything
    and needs no torchvision. The files are unpickled, so only pass files you trust. Default
    classes: 3 (cat) vs 5 (dog); the first class gets -1, the second +1.

    Returns:
        ``(X (n, 3, 32, 32), y (n,))`` in ``dtype`` on ``device``; each image has unit norm.
    """
    n = check_int(n, "n", minimum=1)
    classes = tuple(int(c) for c in classes)
    if len(classes) != 2 or len(set(classes)) != 2 or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be two distinct CIFAR-10 classes in 0..9, got {classes}")
    check_dtype(dtype)
    data, labels = [], []
    for f in _cifar_files(Path(os.path.expanduser(str(path)))):
        with open(f, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data.append(np.asarray(batch[b"data"], dtype=np.uint8))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    data, labels = np.concatenate(data), np.concatenate(labels)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"CIFAR-10 batches hold (N, 3072) uint8 rows, got shape {data.shape}")
    idx = np.flatnonzero(np.isin(labels, classes))
    if idx.size < n:
        raise ValueError(f"only {idx.size} images of classes {classes} under {path}: pass n <= "
                         f"{idx.size}")
    perm = torch.randperm(idx.size, generator=make_generator(seed)).numpy()
    idx = idx[perm[:n]]
    X = torch.as_tensor(data[idx], dtype=torch.float64).reshape(n, 3, 32, 32)
    X = X / X.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
    y = torch.as_tensor(np.where(labels[idx] == classes[1], 1.0, -1.0))
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


def sgd_landscape(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int,
                  batch_size: int, lr_factor: float = 1.0, seed: int = 0,
                  path_points: int = 0) -> dict:
    r"""SGD on ``model`` (in place) with the gradient ratio logged once per epoch, and the NTK
    floor :math:`2\lambda_{\min}(K)` at the start and at the end.

    The measurement behind :func:`real_data_run` and :func:`cifar_run`; it takes a model and
    tensors, so it is not cached itself. With ``path_points > 0`` it also evaluates the loss on
    the straight path from the initial to the trained parameters (``nl.interpolation_path``).

    Returns:
        dict with ``epoch``, ``loss``, ``grad_ratio`` (full data, one entry per epoch),
        ``floor_0``, ``floor_T`` (:math:`2\lambda_{\min}` of the empirical NTK), ``lam_max_0``,
        ``lr``, ``min_ratio``, ``steps``, and ``path_s``, ``path_F`` when asked.
    """
    n = X.shape[0]
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=n)
    K0 = empirical_ntk(model, X)
    lr = ntk_learning_rate(model, X[:batch_size], positive("lr_factor", lr_factor))
    per_epoch = n // batch_size
    hist = train(model, X, y, lr=lr, steps=epochs * per_epoch, optimizer="sgd",
                 batch_size=batch_size, diagnostics=("grad",), log_every=per_epoch, seed=seed)
    floor_T = 2 * min_eigenvalue(empirical_ntk(model, X))
    out = {"epoch": hist.step / per_epoch, "loss": hist.loss, "grad_ratio": hist.grad_ratio,
           "floor_0": 2 * min_eigenvalue(K0), "floor_T": floor_T, "lam_max_0": lambda_max(K0),
           "lr": float(lr), "min_ratio": float(hist.grad_ratio.min()),
           "steps": int(hist.step[-1])}
    if check_int(path_points, "path_points", minimum=0) > 0:
        out["path_s"], out["path_F"] = interpolation_path(hist.model0, model, X, y,
                                                          points=max(path_points, 2))
    return out


def _digits_model(arch: str, width: int, depth: int, seed: int, device: str):
    if arch == "mlp":  # Allen-Zhu et al.: L = depth - 1 trained hidden layers, A and B frozen
        return MLP(64, width, depth, parameterization="azls", trainable="hidden", seed=seed,
                   device=device)
    if arch == "resnet":  # Du et al.'s fully connected ResNet, H = depth, all layers trained
        return ResNet(64, width, depth, style="du", trainable="all", seed=seed, device=device)
    return CNN(1, width, depth, image_size=8, trainable="all", seed=seed, device=device)


def real_data_run(arch: str = "mlp", n: int = 128, width: int = 256, *, depth: int | None = None,
                  epochs: int = 100, batch_size: int = 16, lr_factor: float = 1.0,
                  classes=(3, 8), labels: str = "true", seed: int = 0,
                  device: str = "cpu") -> dict:
    r"""SGD on ``n`` real digits with one of three architectures (see :func:`sgd_landscape`).

    ``arch``: ``"mlp"`` (``MLP(64, width, depth, "azls", trainable="hidden")``, default depth 3,
    i.e. Allen-Zhu et al.'s L = 2), ``"resnet"`` (``ResNet(64, width, depth, style="du")``, all
    layers trained, default H = 3) or ``"cnn"`` (``CNN(1, width, depth)`` on the 8 x 8 images:
    ``width`` channels, default 2 convolutions, global average pooling, dense readout, all
    trained). ``labels="permuted"`` shuffles the labels (same values, no structure).

    Returns:
        the :func:`sgd_landscape` dict plus ``separation`` (minimum distance :math:`\delta` of the
        images), ``bound`` (:math:`\delta m/n^2`, the shape of the lower bound with constant 1),
        ``n``, ``width``, ``final_rel_loss``.
    """
    check_choice(arch, "arch", ARCHITECTURES)
    check_choice(labels, "labels", ("true", "permuted"))
    n, width, epochs, batch_size = ints(n=n, width=width, epochs=epochs,
                                        batch_size=batch_size).values()
    depth = (2 if arch == "cnn" else 3) if depth is None else check_int(depth, "depth", minimum=1)
    X, y, sep = digits_pair(n, classes, seed=seed, image=arch == "cnn", device=device)
    if labels == "permuted":
        y = y[torch.randperm(n, generator=make_generator(seed + 1)).to(y.device)]
    model = _digits_model(arch, width, depth, seed, device)
    out = sgd_landscape(model, X, y, epochs=epochs, batch_size=batch_size, lr_factor=lr_factor,
                        seed=seed)
    out.update({"separation": float(sep), "bound": float(sep) * width / n**2, "n": n,
                "width": width, "final_rel_loss": float(out["loss"][-1] / out["loss"][0])})
    return out


def cifar_run(path: str, n: int = 256, channels: int = 64, depth: int = 4, *, epochs: int = 50,
              batch_size: int = 32, lr_factor: float = 1.0, classes=(3, 5), seed: int = 0,
              dtype: str = "float32", device: str = "cpu") -> dict:
    r"""The real-data protocol on ``n`` CIFAR-10 images the user provides (:func:`load_cifar_pair`)
    with ``CNN(3, channels, depth, image_size=32)`` (all layers trained, ``dtype`` ``"float32"``
    or ``"float64"``), including the loss on the straight path from :math:`\theta_0` to
    :math:`\theta_T` (21 points).

    Returns:
        the :func:`sgd_landscape` dict (with ``path_s``, ``path_F``) plus ``separation``, ``n``
        and ``final_rel_loss``.
    """
    n, channels, depth = ints(n=n, channels=channels, depth=depth).values()
    check_choice(dtype, "dtype", ("float32", "float64"))
    torch_dtype = getattr(torch, dtype)
    X, y = load_cifar_pair(path, n, classes, seed=seed, dtype=torch_dtype, device=device)
    model = CNN(3, channels, depth, image_size=32, trainable="all", seed=seed, dtype=torch_dtype,
                device=device)
    out = sgd_landscape(model, X, y, epochs=epochs, batch_size=min(batch_size, n),
                        lr_factor=lr_factor, seed=seed, path_points=21)
    out.update({"separation": min_distance(X.flatten(1)), "n": n,
                "final_rel_loss": float(out["loss"][-1] / out["loss"][0])})
    return out

