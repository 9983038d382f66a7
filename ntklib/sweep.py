"""Cached, optionally parallel parameter sweeps (joblib.Memory + joblib.Parallel).

A chapter computes its figure data with a *pure* module-level function of plain numbers and
strings (width, depth, seed, ...) that returns numpy arrays or dicts of them. :func:`sweep`
evaluates it on a grid and :func:`cached` wraps it; both store results on disk, so the second
execution of a chapter (the book build after nbval, or a reader returning to a widget setting)
reads them back instead of training again.

Cache directory, first match wins: the ``cache_dir`` argument, the environment variable
``NTKLIB_CACHE_DIR``, ``~/.cache/ntklib``. joblib keys each entry by the function's source code and
the argument values, so editing the function invalidates its entries.

Parallelism uses ``joblib.Parallel(n_jobs)``. To run on a Dask cluster, wrap the call::

    from distributed import Client
    client = Client()                                   # or Client("tcp://scheduler:8786")
    with joblib.parallel_config(backend="dask"):
        results = sweep(fn, grid, n_jobs=-1)
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib

__all__ = ["cache_dir_path", "expand_grid", "sweep", "cached"]

_MEMORIES: dict[str, joblib.Memory] = {}


def cache_dir_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the cache directory: argument, else ``$NTKLIB_CACHE_DIR``, else ``~/.cache/ntklib``.

    Args:
        cache_dir: explicit directory, or None.

    Returns:
        The directory as an absolute ``Path`` (created on first use by joblib).
    """
    if cache_dir is None:
        cache_dir = os.environ.get("NTKLIB_CACHE_DIR") or Path.home() / ".cache" / "ntklib"
    if not isinstance(cache_dir, str | os.PathLike):
        raise TypeError(
            f"cache_dir must be a path (str or PathLike) or None, got {type(cache_dir).__name__}"
        )
    return Path(cache_dir).expanduser().resolve()


def _memory(cache_dir: str | os.PathLike | None) -> joblib.Memory:
    path = str(cache_dir_path(cache_dir))
    if path not in _MEMORIES:
        _MEMORIES[path] = joblib.Memory(location=path, verbose=0)
    return _MEMORIES[path]


def _check_cacheable(fn: Callable) -> None:
    """joblib.Memory (and process pools) need a named function that can be found again by name."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    qualname = getattr(fn, "__qualname__", "")
    if not inspect.isfunction(fn) or "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(
            f"fn must be a module-level function (def at the top level of a module or notebook), "
            f"got {qualname or fn!r}: move it out of the enclosing function / replace the lambda"
        )


def _check_plain_arguments(name: str, kwargs: Mapping[str, Any]) -> None:
    """Refuse models and tensors: cached results must be a function of plain values only."""
    torch = sys.modules.get("torch")
    for key, value in kwargs.items():
        if torch is not None and isinstance(value, torch.nn.Module | torch.Tensor):
            raise TypeError(
                f"{name}: argument {key!r} is a {type(value).__name__}; cached functions must take "
                "plain numbers/strings (build the model inside the function from width/depth/seed)"
            )


def expand_grid(grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]]) -> list[dict]:
    """Turn a grid into a list of keyword-argument dicts.

    Args:
        grid: a dict of lists (cartesian product, in ``itertools.product`` order over the dict's key
            order, so the last key varies fastest) or a list of kwargs dicts (used as given).

    Returns:
        List of dicts, one per evaluation.
    """
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid is empty: pass e.g. {'width': [64, 256]}")
        for key, values in grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise TypeError(
                    f"grid[{key!r}] must be a list of values, got {type(values).__name__}: "
                    f"write {key!r}: [{values!r}] for a single value"
                )
            if len(values) == 0:
                raise ValueError(f"grid[{key!r}] is empty: give at least one value")
        keys = list(grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    if isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        points = list(grid)
        if not all(isinstance(p, Mapping) for p in points):
            raise TypeError(
                "a grid given as a list must contain kwargs dicts, e.g. [{'width': 64}]"
            )
        return [dict(p) for p in points]
    raise TypeError(f"grid must be a dict of lists or a list of dicts, got {type(grid).__name__}")


def sweep(
    fn: Callable[..., Any],
    grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]],
    *,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    cache: bool = True,
) -> list:
    """Evaluate ``fn`` on every point of ``grid``, with a disk cache and optional parallelism.

    Returns exactly ``[fn(**kw) for kw in expand_grid(grid)]`` (same order), but each value is read
    from the joblib cache when this function was already evaluated with the same arguments.

    Args:
        fn: a pure module-level function of plain numbers/strings returning picklable results
            (numpy arrays, floats, dicts of them). Not a function that mutates a model.
        grid: dict of lists (cartesian product, last key fastest) or list of kwargs dicts.
        cache_dir: cache directory; None means ``$NTKLIB_CACHE_DIR`` or ``~/.cache/ntklib``.
        n_jobs: ``joblib.Parallel`` workers (1 = in this process, -1 = all cores). The backend
            follows ``joblib.parallel_config`` (loky processes by default, or Dask).
        cache: set False to bypass the disk cache (results are then recomputed every time).

    Returns:
        List of results, one per grid point.

    Example:
        With ``def square(x): return x * x`` at module level, ``sweep(square, {"x": [1, 2, 3]})``
        returns ``[1, 4, 9]`` and a second call reads all three values from the cache.
    """
    fn = getattr(fn, "uncached", fn)  # a cached() wrapper: cache the user's function itself
    _check_cacheable(fn)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be an integer >= 1 or -1 (all cores), got {n_jobs!r}")
    points = expand_grid(grid)
    for kw in points:
        _check_plain_arguments(getattr(fn, "__name__", "fn"), kw)
    call = _memory(cache_dir).cache(fn) if cache else fn
    if n_jobs == 1:
        return [call(**kw) for kw in points]
    return list(joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(call)(**kw) for kw in points))


def cached(
    fn: Callable[..., Any] | None = None, *, cache_dir: str | os.PathLike | None = None
) -> Callable[..., Any]:
    """Disk-cache a pure function with the same cache as :func:`sweep` (decorator or wrapper).

    Use ``@cached`` (or ``f = cached(f)``, or ``@cached(cache_dir=...)``) on module-level functions
    of plain numbers/strings that return numpy arrays/dicts. Do **not** wrap functions that mutate
    their arguments (``cached(ntklib.train)`` is refused: models and tensors are rejected at call
    time). The cache directory is resolved at each call, so setting ``NTKLIB_CACHE_DIR`` after
    decorating still takes effect.

    Args:
        fn: the function to wrap.
        cache_dir: cache directory; None means ``$NTKLIB_CACHE_DIR`` or ``~/.cache/ntklib``.

    Returns:
        A function with the same signature whose results are memoised on disk. Its
        ``.uncached`` attribute is the original function.
    """
    if fn is None:
        return functools.partial(cached, cache_dir=cache_dir)
    fn = getattr(fn, "uncached", fn)  # cached(cached(f)) caches f once
    _check_cacheable(fn)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        _check_plain_arguments(fn.__name__, bound.arguments)
        return _memory(cache_dir).cache(fn)(*args, **kwargs)

    wrapper.uncached = fn  # type: ignore[attr-defined]
    return wrapper
