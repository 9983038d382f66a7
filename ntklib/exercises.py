"""Self-checking numerical exercises: compare a student's answer with a value the library computes.

In a chapter, a numerical exercise gets two code cells (DESIGN.md, "Self-checking exercises")::

    crossover = None          # your answer: replace None by a number    (before the solution)
    ...                       # the solution (instructor edition only) sets crossover = ...
    from ntklib.exercises import check_answer
    check_answer("ex-depth-poly-crossover", crossover)                   (after the solution)

The expected value is never typed into the notebook: :func:`check_answer` looks the exercise up
in a registry of answer functions (:func:`register`) that compute it with ntklib from the
chapter's parameters, passed as keywords (``check_answer("ex-two-width", m, n=N, lam0=lam0,
delta=0.1)``). So the check works in the student edition, where the solution cells are removed.

* ``None`` (the placeholder): prints "fill in your answer" and returns; a build never fails on it.
* A right answer (within the exercise's ``rtol``/``atol``): prints "Correct".
* A wrong answer: raises :class:`WrongAnswer` (an ``AssertionError``) whose message says how far
  off it is (direction and rough size, or which array entries), and the exercise's hint. The
  expected value is shown only with ``reveal=True``.
* A wrong type or shape (a string, an array where a number is expected, ...): :class:`WrongAnswer`
  saying what was expected.

:func:`compare` is the same check against an expected value computed elsewhere (e.g. by a
non-solution cell), without the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ANSWERS",
    "CheckResult",
    "ExerciseAnswer",
    "WrongAnswer",
    "check_answer",
    "compare",
    "expected_answer",
    "register",
]


class WrongAnswer(AssertionError):
    """The answer to an exercise is not (yet) right; the message says how it is off."""


@dataclass(frozen=True)
class ExerciseAnswer:
    """A registry entry: how to compute the answer of one exercise, and how close is right."""

    label: str
    compute: Callable[..., Any]
    rtol: float = 1e-6
    atol: float = 0.0
    integer: bool = False
    what: str = "your answer"
    hint: str = ""


#: Registered exercises, by label (``ex-...``, or ``ex-.../part`` for one part of an exercise).
ANSWERS: dict[str, ExerciseAnswer] = {}


def register(label: str, *, rtol: float = 1e-6, atol: float = 0.0, integer: bool = False,
             what: str = "your answer", hint: str = "") -> Callable:
    """Decorator: register ``fn(**chapter_parameters) -> expected value`` for exercise ``label``.

    Args:
        label: the exercise's ``:label:`` (``ex-...``); ``"ex-.../b"`` for a part.
        rtol, atol: an answer is right if ``|answer - expected| <= atol + rtol * |expected|``
            (entrywise for arrays). Set them from how the exercise is meant to be solved (a Monte
            Carlo estimate, a value read off a printed number, ...).
        integer: the answer is a whole number and must be exact (``rtol``/``atol`` ignored).
        what: what the answer is, for messages ("the smallest depth L").
        hint: one or two sentences shown with a wrong answer; must not give the value away.
    """
    if not label.startswith("ex-"):
        raise ValueError(f"exercise labels start with 'ex-', got {label!r}: pass the exercise's "
                         ":label:")
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")

    def decorate(fn: Callable) -> Callable:
        if label in ANSWERS:
            raise ValueError(f"exercise {label!r} is already registered (by "
                             f"{ANSWERS[label].compute.__name__})")
        ANSWERS[label] = ExerciseAnswer(label, fn, rtol, atol, integer, what, hint)
        return fn

    return decorate


@dataclass(frozen=True)
class CheckResult:
    """What a check found: ``status`` is ``"correct"`` or ``"missing"`` (wrong answers raise)."""

    label: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def _ipython_display_(self) -> None:
        """Display nothing in a notebook: the message was already printed."""


def _lookup(label: str) -> ExerciseAnswer:
    try:
        return ANSWERS[label]
    except KeyError:
        known = ", ".join(sorted(ANSWERS)) or "none"
        raise KeyError(f"no answer is registered for exercise {label!r} (registered: {known}); "
                       "add one with @ntklib.exercises.register") from None


def expected_answer(label: str, **params: Any) -> Any:
    """The expected value of exercise ``label`` for the chapter's parameters (for instructors)."""
    entry = _lookup(label)
    try:
        return entry.compute(**params)
    except TypeError as exc:
        raise TypeError(f"the answer of {label} is computed from the chapter's parameters; pass "
                        f"them as keywords to check_answer ({exc})") from exc


def check_answer(label: str, answer: Any, *, reveal: bool = False, quiet: bool = False,
                 **params: Any) -> CheckResult:
    """Check a student's ``answer`` to the registered exercise ``label``.

    Args:
        label: the exercise's label, e.g. ``"ex-depth-poly-crossover"``.
        answer: a number, a sequence, a numpy array or a torch tensor; ``None`` means "not
            answered yet".
        reveal: also print the expected value (instructors, or a student who gives up).
        quiet: do not print (the result and any exception are unchanged).
        **params: the chapter's parameters the answer depends on (see the exercise's entry).

    Returns:
        A :class:`CheckResult` (truthy when correct; displays nothing in a notebook).

    Raises:
        WrongAnswer: the answer is wrong, or of the wrong type or shape; the message says how.
    """
    entry = _lookup(label)
    if answer is None or answer is Ellipsis:
        message = (f"{label}: fill in your answer (replace None by {entry.what}) and run this "
                   "cell again.")
        if not quiet:
            print(message)
        return CheckResult(label, "missing", message)
    expected = expected_answer(label, **params)
    return compare(answer, expected, rtol=entry.rtol, atol=entry.atol, integer=entry.integer,
                   label=label, what=entry.what, hint=entry.hint, reveal=reveal, quiet=quiet)


def _as_array(value: Any, name: str, label: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):          # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, bool | np.bool_) or isinstance(value, str | bytes):
        raise WrongAnswer(f"{label}: {name} should be a number, got {type(value).__name__} "
                          f"{value!r}")
    if isinstance(value, dict):
        raise WrongAnswer(f"{label}: {name} should be a number or an array, got a dict")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{label}: {name} should be a number or an array of numbers, got "
                          f"{type(value).__name__} {value!r:.60}") from None
    return array


def _how_far(a: float, e: float) -> str:
    """Direction and rough size of the error of a scalar answer, without giving ``e`` away."""
    if e == 0:
        return "too large in absolute value"
    if a == 0 or math.copysign(1, a) != math.copysign(1, e):
        return "of the wrong sign" if a != 0 else "zero, but the answer is not"
    ratio = a / e
    direction = "large" if ratio > 1 else "small"
    if 0.5 <= ratio <= 2:
        return f"about {abs(ratio - 1):.0%} too {direction}"
    factor = max(ratio, 1 / ratio)
    if factor < 100:
        return f"too {direction} by a factor of about {factor:.2g}"
    return f"too {direction} by about {round(math.log10(factor))} orders of magnitude"


def compare(answer: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 0.0,
            integer: bool = False, label: str = "answer", what: str = "your answer",
            hint: str = "", reveal: bool = False, quiet: bool = False) -> CheckResult:
    """Compare ``answer`` with ``expected`` (numbers or arrays); see :func:`check_answer`."""
    if answer is None or answer is Ellipsis:
        message = f"{label}: fill in your answer (replace None by {what}) and run this cell again."
        if not quiet:
            print(message)
        return CheckResult(label, "missing", message)
    exp = np.asarray(expected.detach().cpu().numpy() if hasattr(expected, "detach") else expected,
                     dtype=float)
    ans = _as_array(answer, "your answer", label)
    extra = (f"\nHint: {hint}" if hint else "") + (
        f"\nExpected: {expected!r}" if reveal else "")
    if exp.ndim == 0 and ans.size == 1:
        ans = ans.reshape(())
    if ans.shape != exp.shape:
        want = "a single number" if exp.ndim == 0 else f"an array of shape {exp.shape}"
        got = "a single number" if ans.ndim == 0 else f"an array of shape {ans.shape}"
        raise WrongAnswer(f"{label}: expected {want}, got {got}.{extra}")
    if not np.all(np.isfinite(ans)):
        raise WrongAnswer(f"{label}: your answer contains nan or inf.{extra}")
    if integer:
        if not np.all(ans == np.round(ans)):
            raise WrongAnswer(f"{label}: expected a whole number, got {answer!r}.{extra}")
        ok = ans == exp
    else:
        ok = np.abs(ans - exp) <= atol + rtol * np.abs(exp)
    if np.all(ok):
        tol = "exactly" if integer else (f"within a relative tolerance of {rtol:g}" if rtol
                                         else f"within {atol:g}")
        message = f"Correct! {label}: {what} matches the expected value {tol}."
        if reveal:
            message += f"\nExpected: {expected!r}"
        if not quiet:
            print(message)
        return CheckResult(label, "correct", message)
    if exp.ndim == 0:
        a, e = float(ans), float(exp)
        if integer:
            detail = f"{int(a)} is too {'large' if a > e else 'small'}"
        else:
            detail = f"{a:.6g} is {_how_far(a, e)}"
        raise WrongAnswer(f"{label}: not yet right: {detail}.{extra}")
    bad = np.argwhere(~ok)
    rel = np.abs(ans - exp) / np.maximum(np.abs(exp), np.finfo(float).tiny)
    rel = np.where(ok, 0.0, rel)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape))
    a, e = float(ans[worst]), float(exp[worst])
    raise WrongAnswer(f"{label}: not yet right: {len(bad)} of {exp.size} entries are off; the "
                      f"worst, at index {worst}, is {_how_far(a, e)}.{extra}")


# ------------------------------------------------------------------------------ the answers
# One function per numerical exercise, named after the chapter. It takes the chapter's
# parameters (with the chapter's values as defaults where they are fixed) and computes the answer
# with ntklib, independently of the solution cell.

@register("ex-two-width", rtol=0.05, what="the width n^6 / (lambda_0^4 delta^3)",
          hint="evaluate n**6 / (lambda_0**4 * delta**3) with the lambda_0 printed above and "
               "delta = 0.1, the failure probability (not the separation of the data).")
def _two_layer_width(n: int = 20, lam0: float | None = None, delta: float = 0.1) -> float:
    from .theory import du_two_layer_width

    if lam0 is None:
        raise TypeError("pass lam0=lambda_0 of the chapter's data")
    return du_two_layer_width(n, lam0, delta)


@register("ex-depth-poly-crossover", integer=True, what="the smallest depth L",
          hint="compare logarithms, L log 2 against 12 log L: find the last depth at which the "
               "polynomial is still at least as large, and add one.")
def _depth_crossover(power: int = 12, base: float = 2.0, start: int = 2) -> int:
    # L log(base) - power log(L) increases for L > power / log(base): past that point and past
    # the last L where the polynomial wins, the exponential stays larger
    beyond = math.ceil(power / math.log(base)) + 1
    last = start - 1
    for L in range(start, 10 * beyond + 10):
        if power * math.log(L) >= L * math.log(base):
            last = L
    return last + 1


@register("ex-du-csigma", rtol=0.01, what="your Monte Carlo estimate of c_sigma",
          hint="c_sigma = 1 / E[softplus(z)^2] for z ~ N(0, 1): average softplus(z)**2 over about "
               "a million standard normal samples, then invert the average.")
def _du_csigma(activation: str = "softplus") -> float:
    from .spec import activation_constant

    return activation_constant(activation)
