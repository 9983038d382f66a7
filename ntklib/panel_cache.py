"""Disk cache of the widget panels (:mod:`ntklib.widgets`): results and rendered figures.

A panel's ``compute`` is usually a function defined in a notebook cell that reads other globals of
the notebook (data sets, constants, helper functions). ``joblib.Memory`` keys a function by its own
code only, so an edited helper or a changed global would silently serve stale results. Here a
function's *fingerprint* covers

* its bytecode, constants, defaults and closure values (not its file name or line numbers, which
  change from one kernel to the next);
* every global it reads (``LOAD_GLOBAL``/``LOAD_NAME``, also in nested functions): helper functions
  and classes defined in the notebook are fingerprinted recursively, modules and library functions
  are identified by name, and data values by their content: numbers, strings, arrays, tensors,
  models (their ``state_dict``), containers and dataclasses of these. Dataclass fields that hold
  wall-clock times (:data:`VOLATILE_FIELDS`, e.g. ``History.time``) are left out, so a global
  holding a training history hashes the same in every execution. Other objects are hashed with
  ``joblib.hash`` (their pickle);
* the source of every ``ntklib/*.py`` file (an edit of the library invalidates every entry) and the
  Python version.

A function whose fingerprint cannot be computed (a callable object, an unpicklable global) is
"uncacheable": the panel then computes directly, as before.

Entries live under ``<cache dir>/ntklib_panels/`` where the cache dir is the one of
:mod:`ntklib.sweep` (``$NTKLIB_CACHE_DIR``, else ``~/.cache/ntklib``), so the notebook tests
(nbval) and the book build that follows them share it. Writes are atomic (temporary file, then
rename); an entry that cannot be written or read back is simply a cache miss.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import hashlib
import inspect
import os
import sys
import sysconfig
import tempfile
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import joblib

from ntklib.sweep import cache_dir_path

__all__ = [
    "MISSING", "fingerprint", "entry_key", "load", "store", "library_digest", "mapping_key"
]

MISSING = object()  # what load() returns for a cache miss
VOLATILE_FIELDS = frozenset({"time", "times", "seconds", "elapsed", "wall_time", "timestamp"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_SUBDIR = "ntklib_panels"
_LIBRARY_PREFIXES = tuple(
    {str(Path(sysconfig.get_paths()[k]).resolve()) for k in ("stdlib", "purelib", "platlib")}
)


class Uncacheable(Exception):
    """Raised internally when a function cannot be fingerprinted."""


@functools.lru_cache(maxsize=1)
def library_digest() -> str:
    """Hash of the source of every ``ntklib/*.py`` file, plus the Python version."""
    h = hashlib.sha256(f"python {sys.version_info[:2]}".encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


def _is_library_module(name: str | None) -> bool:
    """True for ntklib, the standard library and installed packages (identified by name only)."""
    if not name or name == "__main__":
        return False
    if name == "ntklib" or name.startswith("ntklib."):
        return True
    module = sys.modules.get(name)
    if module is None:
        return False
    file = getattr(module, "__file__", None)
    if file is None:  # builtin or namespace module
        return True
    return str(Path(file).resolve()).startswith(_LIBRARY_PREFIXES)


def _code_parts(code: types.CodeType) -> tuple:
    consts = tuple(_code_parts(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_argcount,
            code.co_kwonlyargcount, code.co_flags)


def _global_names(code: types.CodeType) -> set[str]:
    """Names the code reads as globals (not attribute or method names), nested code included."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in _GLOBAL_OPS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _function_parts(fn: Callable, seen: set[int]) -> tuple:
    fn = getattr(fn, "uncached", fn)  # an ntklib.cached wrapper: the user's function
    if isinstance(fn, functools.partial):
        return ("partial", _function_parts(fn.func, seen), _value_parts(fn.args, seen),
                _value_parts(fn.keywords, seen))
    if not inspect.isfunction(fn):
        raise Uncacheable(f"not a plain function: {type(fn).__name__}")
    if _is_library_module(fn.__module__):
        return ("libfn", fn.__module__, fn.__qualname__)
    if id(fn) in seen:
        return ("recursive", fn.__qualname__)
    seen.add(id(fn))
    code = fn.__code__
    closure = tuple(_value_parts(cell.cell_contents, seen) for cell in fn.__closure__ or ())
    globals_ = fn.__globals__
    used = tuple(
        (name, _value_parts(globals_[name], seen))
        for name in sorted(_global_names(code))
        if name in globals_ and not name.startswith("__")
    )
    wrapped = getattr(fn, "__wrapped__", None)
    inner = _function_parts(wrapped, seen) if wrapped is not None else None
    return ("fn", fn.__qualname__, _code_parts(code), _value_parts(fn.__defaults__, seen),
            _value_parts(fn.__kwdefaults__, seen), closure, used, inner)


def _value_parts(value: Any, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return value
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, types.BuiltinFunctionType):
        return ("builtin", getattr(value, "__module__", None), value.__qualname__)
    if inspect.isfunction(value) or isinstance(value, functools.partial):
        return _function_parts(value, seen)
    if inspect.isclass(value):
        if _is_library_module(value.__module__):
            return ("libclass", value.__module__, value.__qualname__)
        if id(value) in seen:
            return ("recursive", value.__qualname__)
        seen.add(id(value))
        members = tuple(
            (name, _member_parts(member, seen))
            for name, member in sorted(vars(value).items())
            if not name.startswith("__") or name in ("__init__", "__call__")
        )
        return ("class", value.__qualname__, members)
    return _data_parts(value, seen)


def _data_parts(value: Any, seen: set[int]) -> Any:
    """Content digest of a data value (deterministic across processes; see module doc)."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return value
    if inspect.isfunction(value) or inspect.isclass(value) or isinstance(value, types.ModuleType):
        return _value_parts(value, seen)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        array = value.detach().cpu()
        return ("tensor", str(array.dtype), tuple(array.shape),
                joblib.hash(array.numpy() if array.dtype != torch.bfloat16 else array.float()))
    if torch is not None and isinstance(value, torch.nn.Module):
        state = tuple((k, _data_parts(v, seen)) for k, v in value.state_dict().items())
        return ("module", type(value).__module__, type(value).__qualname__, state)
    if type(value).__module__ == "numpy" or hasattr(value, "__array_interface__"):
        return ("data", joblib.hash(value))
    if id(value) in seen:
        return ("cycle", type(value).__qualname__)
    if isinstance(value, Mapping):
        seen.add(id(value))
        items = [(repr(k), _data_parts(v, seen)) for k, v in value.items()]
        return ("map", type(value).__qualname__, tuple(sorted(items, key=lambda kv: kv[0])))
    if isinstance(value, list | tuple):
        seen.add(id(value))
        return ("seq", type(value).__qualname__, tuple(_data_parts(v, seen) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_data_parts(v, seen)) for v in value)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        seen.add(id(value))
        fields = tuple((f.name, _data_parts(getattr(value, f.name), seen))
                       for f in dataclasses.fields(value) if f.name not in VOLATILE_FIELDS)
        return ("dataclass", type(value).__module__, type(value).__qualname__, fields)
    try:
        return ("data", joblib.hash(value))
    except Exception as err:  # unpicklable: cannot tell whether it changed
        raise Uncacheable(f"cannot hash a {type(value).__name__}: {err}") from err


def _member_parts(member: Any, seen: set[int]) -> Any:
    if isinstance(member, staticmethod | classmethod):
        member = member.__func__
    if isinstance(member, property):
        return tuple(_value_parts(f, seen) for f in (member.fget, member.fset, member.fdel))
    return _value_parts(member, seen)


def fingerprint(fn: Callable) -> str | None:
    """A hex digest that changes when ``fn``'s behaviour may have changed; None if uncacheable.

    Args:
        fn: a plain function (module-level, notebook-level, lambda or closure) or a
            ``functools.partial`` of one.

    Returns:
        The digest, or None when the function or one of the globals it uses cannot be hashed.
    """
    try:
        parts = _function_parts(fn, set())
        return joblib.hash((library_digest(), parts))
    except (Uncacheable, RecursionError, TypeError):
        return None
    except Exception:  # a global whose pickling fails in an unexpected way: do not cache
        return None


def entry_key(kind: str, *parts: Any) -> str | None:
    """Key of a cache entry of ``kind`` ("result", "figure") for hashable ``parts``."""
    try:
        return f"{kind}-{joblib.hash(parts)}"
    except Exception:
        return None


def _path(key: str, cache_dir: str | os.PathLike | None = None) -> Path:
    kind = key.split("-", 1)[0]
    return cache_dir_path(cache_dir) / _SUBDIR / kind / f"{key}.pkl"


def load(key: str | None, cache_dir: str | os.PathLike | None = None) -> Any:
    """The stored value for ``key``, or :data:`MISSING` (no entry, or unreadable)."""
    if key is None:
        return MISSING
    path = _path(key, cache_dir)
    if not path.is_file():
        return MISSING
    try:
        return joblib.load(path)
    except Exception:
        return MISSING


def store(key: str | None, value: Any, cache_dir: str | os.PathLike | None = None) -> bool:
    """Store ``value`` under ``key`` (atomic); False when it cannot be pickled or written."""
    if key is None:
        return False
    path = _path(key, cache_dir)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        joblib.dump(value, tmp)
        os.replace(tmp, path)
        return True
    except Exception:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False


def mapping_key(values: Mapping[str, Any]) -> tuple:
    """Order-independent form of a kwargs dict, for keys."""
    return tuple(sorted(values.items()))
