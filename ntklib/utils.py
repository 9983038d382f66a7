"""Device choice, random generators and input validation shared by every ntklib module.

Every check raises ``ValueError`` (wrong value) or ``TypeError`` (wrong type) with a message that
names the argument, shows what was received and says what to pass instead, e.g.
``ValueError("width must be an integer >= 1, got 0: pass width=... >= 1")``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DEFAULT_DTYPE",
    "available_memory",
    "check_memory",
    "check_tensor",
    "check_number",
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
    return check_number(value, name, minimum=0, strict_min=strict)


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


def check_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    integer: bool = False,
) -> float:
    """Check that ``value`` is a finite real number (not a bool or a string) within bounds.

    Args:
        value: Python/numpy number or a one-element tensor.
        name: argument name used in the error message.
        minimum, maximum: inclusive bounds (``strict_min=True`` makes the lower bound exclusive).
        integer: require an integer value (returned as ``int``).

    Returns:
        ``value`` as ``float`` (or ``int`` when ``integer``).
    """
    if integer:
        lo = None if minimum is None else math.floor(minimum) + 1 if strict_min else minimum
        return check_int(value, name, minimum=None if lo is None else math.ceil(lo),
                         maximum=None if maximum is None else math.floor(maximum))
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {type(value).__name__} {value!r}: "
            f"pass {name}=<float>"
        )
    value = float(value)
    low_ok = minimum is None or (value > minimum if strict_min else value >= minimum)
    high_ok = maximum is None or value <= maximum
    if not (math.isfinite(value) and low_ok and high_ok):
        rel = ">" if strict_min else ">="
        parts = []
        if minimum is not None:
            parts.append(f"{rel} {minimum}")
        if maximum is not None:
            parts.append(f"<= {maximum}")
        want = " and ".join(parts) if parts else "finite"
        raise ValueError(f"{name} must be finite and {want}, got {value}: pass {name}=... {want}")
    return value


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    floating: bool = True,
    finite: bool = True,
    min_rows: int = 1,
) -> Tensor:
    """The library's one conversion-and-validation path for array arguments.

    Policy (the same everywhere): a ``torch.Tensor`` or a ``numpy.ndarray`` is accepted (numpy is
    converted with ``torch.from_numpy``); with ``floating=True`` integer or boolean data are
    converted to float64 and a floating tensor keeps its dtype unless ``dtype`` is given; the
    result is moved to ``device`` when given; it is detached from any autograd graph.

    Args:
        x: the argument.
        name: its name in the error messages.
        ndim: allowed number(s) of dimensions.
        dtype: convert to this dtype.
        device: move to this device.
        floating: require (or convert to) a floating dtype.
        finite: reject NaN and inf.
        min_rows: smallest allowed size of the first dimension (0 allows empty inputs).

    Returns:
        The validated tensor.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == object or x.dtype.kind in "USV":
            raise TypeError(f"{name} must hold numbers, got a numpy array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}: "
            f"wrap it with torch.as_tensor({name}, dtype=torch.float64)"
        )
    x = x.detach()
    if floating and not x.is_floating_point():
        if x.is_complex():
            raise TypeError(f"{name} must be real, got dtype {x.dtype}")
        x = x.to(torch.float64)
    if dtype is not None:
        x = x.to(check_dtype(dtype))
    if device is not None:
        x = x.to(device)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(k) for k in allowed)
            raise ValueError(
                f"{name} must have {want} dimensions, got shape {tuple(x.shape)}: reshape it "
                f"(e.g. {name}.reshape(len({name}), -1), or {name}[None] for one sample)"
            )
    if x.dim() >= 1 and x.shape[0] < min_rows:
        raise ValueError(
            f"{name} has {x.shape[0]} rows (shape {tuple(x.shape)}): pass at least {min_rows}"
        )
    if finite and (x.is_floating_point() or x.is_complex()) and x.numel():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or inf: clean or drop those entries first")
    return x


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes of memory currently available on ``device`` (MemAvailable, or free CUDA memory)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024**3  # unknown platform: assume 4 GiB


#: Fraction of the available memory one ntklib allocation may use before it is refused.
MEMORY_FRACTION = 0.25


def check_memory(
    nbytes: float,
    what: str,
    fix: str,
    *,
    device: torch.device | str = "cpu",
    max_bytes: float | None = None,
) -> None:
    """Refuse an allocation that would not fit, *before* it is made.

    Args:
        nbytes: bytes the operation needs (its largest temporaries).
        what: what is being allocated, e.g. ``"the (60000, 60000) distance matrix"``.
        fix: how to make it fit, e.g. ``"pass fewer points"``.
        device: where it would be allocated.
        max_bytes: budget; default ``MEMORY_FRACTION`` of the available memory.

    Raises:
        ValueError: the estimate exceeds the budget; the message gives both sizes and ``fix``.
    """
    budget = MEMORY_FRACTION * available_memory(device) if max_bytes is None else max_bytes
    if nbytes > budget:
        source = ("max_bytes" if max_bytes is not None
                  else f"{MEMORY_FRACTION:.0%} of the memory available on {device}")
        raise ValueError(
            f"{what} needs about {_gib(nbytes)} but the budget is {_gib(budget)} ({source}): "
            f"{fix}"
        )


def _gib(nbytes: float) -> str:
    if nbytes >= 1024**3:
        return f"{nbytes / 1024**3:.1f} GiB"
    return f"{nbytes / 1024**2:.1f} MiB"
