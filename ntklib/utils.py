"""Device choice, random generators and input validation shared by every ntklib module.

Every check raises ``ValueError`` (wrong value) or ``TypeError`` (wrong type) with a message that
names the argument, shows what was received and says what to pass instead, e.g.
``ValueError("width must be an integer >= 1, got 0: pass width=... >= 1")``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_DTYPE",
    "pick_device",
    "make_generator",
    "check_int",
    "check_positive",
    "check_choice",
    "check_finite",
    "check_dtype",
    "check_xy",
]

#: Default floating dtype of the library: theory-vs-experiment checks need float64.
DEFAULT_DTYPE = torch.float64


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Choose the compute device once, e.g. in a chapter's setup cell.

    Args:
        device: ``None`` picks ``cuda`` when available and ``cpu`` otherwise; a string such as
            ``"cpu"``, ``"cuda"`` or ``"cuda:1"`` (or a ``torch.device``) is checked and returned.

    Returns:
        The ``torch.device``.

    Raises:
        ValueError: CUDA was requested but is not available, or the string is not a device.
        TypeError: ``device`` is neither ``None``, a string nor a ``torch.device``.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be None, a string or a torch.device, got {type(device).__name__}: "
            "pass device=None (automatic), 'cpu' or 'cuda'"
        )
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"device {device!r} is not a valid torch device: pass None, 'cpu' or 'cuda'"
        ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} requested but CUDA is not available on this machine: "
                "pass device=None (picks cuda only when available) or device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA devices): "
                "pass 'cuda' or an index below the device count"
            )
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device {device!r} is not available: pass device=None or 'cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"device type {dev.type!r} is not supported: pass 'cpu' or 'cuda'")
    return dev


def make_generator(seed: int, device: str | torch.device | None = None) -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed`` (never the global RNG).

    ntklib draws all initial weights and data on the CPU generator and then moves them, so that a
    given seed gives the same numbers on every device; pass ``device`` only to sample directly on
    an accelerator.

    Args:
        seed: integer ``>= 0``.
        device: device of the generator; ``None`` means CPU.

    Returns:
        The seeded generator.
    """
    seed = check_int(seed, "seed", minimum=0)
    dev = torch.device("cpu") if device is None else pick_device(device)
    return torch.Generator(device=dev).manual_seed(seed)


def check_int(
    value: object, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check that ``value`` is an integer (not a bool) within ``[minimum, maximum]``.

    Args:
        value: the value to check (Python or numpy integer).
        name: argument name used in the error message.
        minimum: smallest allowed value (inclusive), ``None`` for no bound.
        maximum: largest allowed value (inclusive), ``None`` for no bound.

    Returns:
        ``value`` as a Python ``int``.
    """
    bounds = _bounds_text(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer{bounds}, got {type(value).__name__} {value!r}: "
            f"pass {name}=<int>{bounds}"
        )
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(
            f"{name} must be an integer{bounds}, got {value}: pass {name}=...{bounds}"
        )
    return value


def _bounds_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_positive(value: object, name: str, *, strict: bool = True) -> float:
    """Check that ``value`` is a finite real number ``> 0`` (or ``>= 0`` if ``strict=False``).

    Args:
        value: the value to check (Python/numpy number or a one-element tensor).
        name: argument name used in the error message.
        strict: require ``> 0`` (default) instead of ``>= 0``.

    Returns:
        ``value`` as a Python ``float``.
    """
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {type(value).__name__} {value!r}: "
            f"pass {name}=<float>"
        )
    value = float(value)
    relation = ">" if strict else ">="
    ok = value > 0 if strict else value >= 0
    if not (ok and value < float("inf")):
        raise ValueError(
            f"{name} must be finite and {relation} 0, got {value}: pass {name}=... {relation} 0"
        )
    return value


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of the allowed strings.

    Args:
        value: the value to check.
        name: argument name used in the error message.
        choices: the allowed values.

    Returns:
        ``value`` unchanged.
    """
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a string, one of {allowed}; got {type(value).__name__} {value!r}"
        )
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: pass {name}= one of {allowed}")
    return value


def check_finite(x: Tensor, name: str) -> Tensor:
    """Check that a tensor has no NaN or infinite entries.

    Args:
        x: tensor of any shape.
        name: argument name used in the error message.

    Returns:
        ``x`` unchanged.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            raise ValueError(
                f"{name} has {int(bad.sum())} non-finite entries (NaN or inf): "
                f"clean the data or lower the learning rate that produced {name}"
            )
    return x


def check_dtype(dtype: object, name: str = "dtype") -> torch.dtype:
    """Check that ``dtype`` is a floating ``torch.dtype`` (``torch.float64`` or ``torch.float32``).

    Args:
        dtype: the value to check.
        name: argument name used in the error message.

    Returns:
        ``dtype`` unchanged.
    """
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"{name} must be a torch.dtype, got {type(dtype).__name__} {dtype!r}: "
            f"pass {name}=torch.float64 or torch.float32"
        )
    if not dtype.is_floating_point:
        raise ValueError(
            f"{name} must be a floating dtype, got {dtype}: pass {name}=torch.float64 or "
            "torch.float32"
        )
    return dtype


def check_xy(
    X: object,
    y: object = None,
    *,
    d_in: int | None = None,
    ndim: int | tuple[int, ...] = 2,
    name: str = "X",
) -> tuple[Tensor, Tensor | None]:
    """Validate an input batch ``X`` (and optionally labels ``y``) before a model uses them.

    Args:
        X: floating tensor of shape ``(n, d_in)`` (or any ``ndim`` allowed), ``n >= 1``.
        y: ``None`` or a tensor with first dimension ``n``: ``(n,)`` or ``(n, d_out)``
            (int64 class indices are allowed).
        d_in: required size of ``X.shape[1]`` (checked when given).
        ndim: allowed number(s) of dimensions of ``X``.
        name: argument name used in the error messages.

    Returns:
        ``(X, y)`` unchanged.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if not isinstance(X, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(X).__name__}: "
            f"wrap it with torch.as_tensor({name}, dtype=torch.float64)"
        )
    if not X.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor, got dtype {X.dtype}: "
            f"pass {name}.to(torch.float64)"
        )
    if X.dim() not in allowed:
        want = " or ".join(str(k) for k in allowed)
        raise ValueError(
            f"{name} must have {want} dimensions (n, d_in), got shape {tuple(X.shape)}: "
            f"reshape it, e.g. {name}.reshape(len({name}), -1) or {name}[None] for one sample"
        )
    if X.shape[0] < 1:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}): pass at least one sample")
    if d_in is not None and X.dim() == 2 and X.shape[1] != d_in:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the model expects d_in={d_in}: pass inputs "
            f"of shape (n, {d_in}) or build the model with d_in={X.shape[1]}"
        )
    if y is not None:
        if not isinstance(y, Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if y.dim() not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have shape (n,) or (n, d_out) with n = {X.shape[0]} rows of {name}, "
                f"got {tuple(y.shape)}"
            )
    return X, y
