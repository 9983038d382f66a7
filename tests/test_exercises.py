"""ntklib.exercises: right, wrong, missing, wrong-type and wrong-shape answers, and the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntklib as nl
from ntklib import exercises as ex
from ntklib.exercises import WrongAnswer, check_answer, compare

# ------------------------------------------------------------------------------ compare

def test_right_answer_passes_and_says_correct(capsys):
    result = compare(1.0 + 1e-9, 1.0, label="ex-x")
    assert result and result.status == "correct"
    assert "Correct" in capsys.readouterr().out


def test_wrong_answer_raises_with_distance_but_not_the_value():
    with pytest.raises(WrongAnswer) as info:
        compare(0.88, 1.2345, rtol=0.01, label="ex-x", hint="think about it")
    message = str(info.value)
    assert "29% too small" in message and "Hint: think about it" in message
    assert "1.2345" not in message                 # the expected value is not given away
    assert isinstance(info.value, AssertionError)  # a failing check fails nbval like an assert


@pytest.mark.parametrize("answer, phrase", [
    (3.0, "too large by a factor of about 3"),
    (-1.0, "wrong sign"),
    (1e-5, "too small by about 5 orders of magnitude"),
    (0.0, "zero"),
])
def test_wrong_answer_messages(answer, phrase):
    with pytest.raises(WrongAnswer, match=phrase):
        compare(answer, 1.0, label="ex-x")


def test_reveal_shows_the_expected_value():
    with pytest.raises(WrongAnswer, match="Expected: 2.5"):
        compare(1.0, 2.5, reveal=True)
    assert "Expected: 2.5" in compare(2.5, 2.5, reveal=True, quiet=True).message


def test_missing_answer_is_not_an_error(capsys):
    result = compare(None, 1.0, label="ex-x", what="the rate")
    assert not result and result.status == "missing"
    assert "fill in your answer (replace None by the rate)" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0.5", True, {"a": 1}, object()])
def test_wrong_type(bad):
    with pytest.raises(WrongAnswer, match="should be a number"):
        compare(bad, 0.5, label="ex-x")


def test_nan_answer():
    with pytest.raises(WrongAnswer, match="nan"):
        compare(float("nan"), 0.5)


def test_arrays_tensors_and_shapes():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert compare(torch.tensor(expected), expected, quiet=True)
    assert compare(expected.tolist(), expected, quiet=True)
    assert compare(np.float64(2.0), 2.0, quiet=True) and compare([2.0], 2.0, quiet=True)
    with pytest.raises(WrongAnswer, match=r"expected an array of shape \(2, 2\), got an array of "
                                          r"shape \(4,\)"):
        compare(expected.reshape(-1), expected)
    with pytest.raises(WrongAnswer, match="expected a single number"):
        compare([1.0, 2.0], 1.0)
    wrong = expected.copy()
    wrong[1, 0] = 6.0
    with pytest.raises(WrongAnswer, match=r"1 of 4 entries are off; the worst, at index \(1, 0\), "
                                          r"is about 100% too large"):
        compare(wrong, expected)


def test_tolerances():
    assert compare(1.009, 1.0, rtol=0.01, quiet=True)
    with pytest.raises(WrongAnswer):
        compare(1.011, 1.0, rtol=0.01)
    assert compare(1e-9, 0.0, atol=1e-8, quiet=True)
    with pytest.raises(WrongAnswer, match="too large in absolute value"):
        compare(1e-3, 0.0, atol=1e-8)


def test_integer_answers_are_exact_and_say_only_the_direction():
    assert compare(75, 75, integer=True, quiet=True)
    with pytest.raises(WrongAnswer, match="74 is too small") as info:
        compare(74, 75, integer=True)
    assert "75" not in str(info.value)
    with pytest.raises(WrongAnswer, match="whole number"):
        compare(74.5, 75, integer=True)


# ------------------------------------------------------------------------------ the registry

def test_registry_rejects_bad_entries():
    with pytest.raises(ValueError, match="start with 'ex-'"):
        ex.register("two-width")
    with pytest.raises(ValueError, match="already registered"):
        ex.register("ex-two-width")(lambda: 1.0)
    with pytest.raises(KeyError, match="no answer is registered for exercise 'ex-nope'"):
        check_answer("ex-nope", 1.0)


def test_registered_answers_have_hints_and_labels():
    assert {"ex-two-width", "ex-depth-poly-crossover", "ex-du-csigma"} <= set(ex.ANSWERS)
    for label, entry in ex.ANSWERS.items():
        assert entry.label == label and entry.hint and entry.what


def test_depth_crossover_right_and_wrong():
    expected = ex.expected_answer("ex-depth-poly-crossover")
    # independent check: 2^L > L^12 from `expected` on (for a long stretch), not just before it
    assert 2.0 ** (expected - 1) <= (expected - 1) ** 12
    assert all(2.0 ** L > L ** 12 for L in range(expected, 400))
    assert check_answer("ex-depth-poly-crossover", expected, quiet=True)
    with pytest.raises(WrongAnswer, match="(?s)is too small.*Hint: compare logarithms"):
        check_answer("ex-depth-poly-crossover", expected - 1)
    # a different power moves the crossover
    assert ex.expected_answer("ex-depth-poly-crossover", power=2) == 5   # 2^5 = 32 > 25


def test_two_layer_width_uses_the_chapter_parameters():
    lam0 = 0.0734
    right = 20 ** 6 / (lam0 ** 4 * 0.1 ** 3)
    assert check_answer("ex-two-width", right * 1.01, n=20, lam0=lam0, delta=0.1, quiet=True)
    with pytest.raises(WrongAnswer, match="too large by a factor of about 10"):
        check_answer("ex-two-width", right * 10, n=20, lam0=lam0, delta=0.1)
    with pytest.raises(TypeError, match="chapter's parameters"):
        check_answer("ex-two-width", right)          # lam0 not passed


def test_csigma_monte_carlo_answer():
    z = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c_mc = 1 / torch.nn.functional.softplus(z).square().mean().item()
    assert check_answer("ex-du-csigma", c_mc, quiet=True)
    assert math.isclose(ex.expected_answer("ex-du-csigma"), nl.activation_constant("softplus"))
    with pytest.raises(WrongAnswer):      # 1 / E[softplus(z)] instead of 1 / E[softplus(z)^2]
        check_answer("ex-du-csigma", 1 / torch.nn.functional.softplus(z).mean().item())


def test_check_result_displays_nothing_in_ipython():
    result = compare(1.0, 1.0, quiet=True)
    assert result._ipython_display_() is None


def test_registry_and_chapters_agree():
    """Every registered answer belongs to an exercise of a chapter, and every check cell of a
    chapter names a registered exercise (with its placeholder before the solution)."""
    import json
    import re
    from pathlib import Path

    chapters = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("*.ipynb"))
    labels, checked = set(), set()
    for path in chapters:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells)
        labels |= set(re.findall(r":label: (ex-[\w-]+)", text))
        checked |= set(re.findall(r"check_answer\(\s*[\"'](ex-[\w./-]+)[\"']", text))
    unregistered = checked - set(ex.ANSWERS)
    assert not unregistered, f"check cells of unregistered exercises: {sorted(unregistered)}"
    orphans = {label.split("/")[0] for label in ex.ANSWERS} - labels
    assert not orphans, f"registered answers of exercises no chapter has: {sorted(orphans)}"
