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


CHAPTER_EXERCISES = {
    "ex-tour-steps", "ex-fit-params", "ex-two-orth", "ex-two-width", "ex-azls-numbers/width",
    "ex-azls-numbers/iterations", "ex-depth-poly-crossover", "ex-depth-poly-variance",
    "ex-depth-poly-gates", "ex-landscape-labels", "ex-real-data-floor", "ex-ntk-lr-scale",
    "ex-exact-depth-alias", "ex-lin-random-labels", "ex-fw-theorem-width", "ex-du-csigma",
    "ex-widths-orders", "ex-practical-kappa-steps", "ex-beyond-linear-alpha",
}


def test_registered_answers_have_hints_and_labels():
    assert CHAPTER_EXERCISES <= set(ex.ANSWERS)
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


# ------------------------------------------------------------------------------ one test per
# registered exercise: a right answer computed independently of the registry (another ntklib path,
# the experiment protocol or a formula by hand), and the wrong answers a student is likely to give.

def test_tour_steps_right_and_wrong():
    from _reference import brute_ntk

    widths, depth, n, d = (16, 32), 3, 6, 5
    params = dict(widths=widths, depth=depth, n=n, d=d, seed=0, eps=1e-7)
    X, y, _ = nl.sphere_data(n, d, labels="random", seed=0)
    right = []
    for m in widths:
        net = nl.MLP(d, m, depth, parameterization="azls", trainable="hidden", seed=0)
        eig = torch.linalg.eigvalsh(brute_ntk(net, X))
        with torch.no_grad():
            F0 = 0.5 * float((net(X)[:, 0] - y).square().sum())
        right.append(float(eig[-1] / eig[0]) / 2 * math.log(F0 / 1e-7))
    assert check_answer("ex-tour-steps", right, quiet=True, **params)
    with pytest.raises(WrongAnswer, match="2 of 2 entries are off"):       # log10 instead of ln
        check_answer("ex-tour-steps", np.array(right) / math.log(10), **params)
    with pytest.raises(WrongAnswer, match=r"shape \(2,\), got an array of shape \(1,\)"):
        check_answer("ex-tour-steps", right[:1], **params)


def test_fit_params_counts_with_the_depth_convention():
    # L = depth - 1 = 2 trained m x m matrices: 2 m^2 >= 20 from m = 4; counting depth = 3
    # matrices would give 3
    params = dict(widths=range(1, 10), depth=3, n=20, d=8)
    assert check_answer("ex-fit-params", 4, quiet=True, **params)
    with pytest.raises(WrongAnswer, match="3 is too small"):
        check_answer("ex-fit-params", 3, **params)
    chapter = dict(widths=[2, 4, 8, 16, 32, 64, 128], depth=3, n=16, d=8)
    assert ex.expected_answer("ex-fit-params", **chapter) == min(
        w for w in chapter["widths"] if 2 * w * w >= 16)


def test_two_orth_right_and_wrong():
    assert check_answer("ex-two-orth", [0.5, 0.5], quiet=True, d=2)
    assert check_answer("ex-two-orth", [0.5, 0.5], quiet=True, d=7)      # any ambient dimension
    with pytest.raises(WrongAnswer, match="1 of 2 entries are off"):    # "opposite is singular"
        check_answer("ex-two-orth", [0.5, 0.0])
    with pytest.raises(WrongAnswer, match="2 of 2 entries are off"):    # 2 H_inf (c_sigma = 2)
        check_answer("ex-two-orth", [1.0, 1.0])


def _azls_sep(n, d, seed=0):
    return nl.sphere_data(n, d, labels="random", seed=seed).separation


def test_azls_numbers_right_and_wrong():
    params = dict(n=16, d=10, depth=3, seed=0)
    sep = _azls_sep(16, 10)
    m = nl.theory.azls_width(16, 2, sep)
    # independent: m solves m = n^24 L^12 log^5(m) / delta^8
    log_c = 24 * math.log(16) + 12 * math.log(2) - 8 * math.log(sep)
    assert math.isclose(math.log(m), log_c + 5 * math.log(math.log(m)), rel_tol=1e-9)
    assert check_answer("ex-azls-numbers/width", m, quiet=True, **params)
    assert check_answer("ex-azls-numbers/width", nl.theory.azls_width(16, 2, round(sep, 3)),
                        quiet=True, **params)           # delta copied from the 3-decimal printout
    with pytest.raises(WrongAnswer, match="too large by about 2 orders"):  # L = depth = 3
        check_answer("ex-azls-numbers/width", nl.theory.azls_width(16, 3, sep), **params)
    T = 16 ** 6 * 2 ** 2 / sep ** 2 * math.log(1e5)
    assert check_answer("ex-azls-numbers/iterations", T, quiet=True, eps=1e-5, **params)
    with pytest.raises(WrongAnswer, match="too small by a factor of about 2.3"):   # log10
        check_answer("ex-azls-numbers/iterations", T / math.log(10), eps=1e-5, **params)


def test_depth_poly_variance_right_and_wrong():
    params = dict(depth=51, variance=1.9)
    assert check_answer("ex-depth-poly-variance", 0.95 ** 25, quiet=True, **params)
    assert check_answer("ex-depth-poly-variance", 0.28, quiet=True, **params)    # two digits
    for wrong in (0.95 ** 50,                                  # squared norms
                  0.95 ** 25.5,                                # 51 layers instead of L = 50
                  0.95 ** 25 * math.exp(-50 * 5 / (4 * 512))):  # with the Jensen factor at m = 512
        with pytest.raises(WrongAnswer, match="too small"):
            check_answer("ex-depth-poly-variance", wrong, **params)


def test_depth_poly_gates_right_and_wrong():
    params = dict(variance=2.0, fraction=0.5)
    assert check_answer("ex-depth-poly-gates", 1 + math.sqrt(2), quiet=True, **params)
    assert check_answer("ex-depth-poly-gates", 2.4, quiet=True, **params)
    # a measurement: D W for m = 1024 with m/2 ones, entries N(0, 2/m)
    m = 1024
    g = torch.Generator().manual_seed(0)
    W = torch.randn(m // 2, m, generator=g, dtype=torch.float64) * math.sqrt(2 / m)
    assert check_answer("ex-depth-poly-gates", torch.linalg.matrix_norm(W, ord=2).item(),
                        quiet=True, **params)
    with pytest.raises(WrongAnswer, match="17% too large"):        # the ungated ||W|| = 2 sqrt 2
        check_answer("ex-depth-poly-gates", 2 * math.sqrt(2), **params)


def test_landscape_labels_right_and_wrong():
    from ntklib import experiments as E

    params = dict(n=8, width=64, depth=3, d=10, seed=0)
    r = E.ratio_at_init(n=8, width=64, depth=3, d=10, seed=0)
    assert check_answer("ex-landscape-labels", r["ratio_worst"], quiet=True, **params)
    with pytest.raises(WrongAnswer, match="too large"):           # the ratio for random labels
        check_answer("ex-landscape-labels", r["ratio"], **params)
    with pytest.raises(WrongAnswer, match="too small"):           # lambda_min without the 2
        check_answer("ex-landscape-labels", r["ratio_worst"] / 2, **params)


def test_real_data_floor_right_and_wrong():
    from ntklib import experiments as E

    params = dict(n=128, d=64, seed=0)
    digits_sep = E.digits_pair(128, (3, 8), seed=0)[2]
    sphere_sep = nl.sphere_data(128, 64, seed=0).separation
    assert check_answer("ex-real-data-floor", [digits_sep, sphere_sep], quiet=True, **params)
    assert check_answer("ex-real-data-floor", [round(digits_sep, 3), round(sphere_sep, 3)],
                        quiet=True, **params)
    no_last = nl.sphere_data(128, 64, last_coord=False, seed=0).separation   # sqrt 2 larger
    with pytest.raises(WrongAnswer, match=r"1 of 2 entries are off; the worst, at index \(1,\)"):
        check_answer("ex-real-data-floor", [digits_sep, no_last], **params)


def test_ntk_lr_scale_right_and_wrong():
    from ntklib import experiments as E

    params = dict(width=8192, depth=3, n=10, d=6, data_seed=3)
    r = E.kernel_scale(2048, depth=3, parameterization="azls", n=10, d=6, data_seed=3)
    predicted = r["lr_stable"] * 2048 / 8192
    assert check_answer("ex-ntk-lr-scale", predicted, quiet=True, **params)
    with pytest.raises(WrongAnswer, match=r"about \d+% too small"):              # 1 / lambda_max
        check_answer("ex-ntk-lr-scale", predicted / 2, **params)
    with pytest.raises(WrongAnswer, match="too large by a factor of about 4"):   # no rescaling
        check_answer("ex-ntk-lr-scale", r["lr_stable"], **params)


def test_exact_depth_alias_right_and_wrong():
    from ntklib import experiments as E

    params = dict(depth=3, n=8, d=4, data_seed=0)
    measured = E.depth_convention_errors(1024, depth=3, parameterization="azls", n_seeds=2, n=8,
                                         d=4)["diag_mean"]
    assert check_answer("ex-exact-depth-alias", measured, quiet=True, **params)
    assert check_answer("ex-exact-depth-alias", 2, quiet=True, **params)
    with pytest.raises(WrongAnswer, match="50% too large"):       # the analytic depth-4 diagonal
        check_answer("ex-exact-depth-alias", 3, **params)


def test_lin_random_labels_right_and_wrong():
    params = dict(n=32, d=5, data_seed=4)
    right, squared = [], []
    for labels in ("teacher", "permuted"):
        X, y, _ = nl.sphere_data(32, 5, labels=labels, seed=4)
        c = nl.label_complexity(nl.du_two_layer_gram(X), y)
        right.append(math.sqrt(c))
        squared.append(c)
    assert right[1] > right[0]
    assert check_answer("ex-lin-random-labels", right, quiet=True, **params)
    with pytest.raises(WrongAnswer, match="2 of 2 entries are off"):      # no square root
        check_answer("ex-lin-random-labels", squared, **params)
    with pytest.raises(WrongAnswer, match="2 of 2 entries are off"):      # label sets swapped
        check_answer("ex-lin-random-labels", right[::-1], **params)


def test_fw_theorem_width_right_and_wrong():
    params = dict(n=16, d=8, depth=3, seed=0)
    sep = _azls_sep(16, 8)
    assert check_answer("ex-fw-theorem-width", nl.theory.azls_width(16, 2, sep), quiet=True,
                        **params)
    with pytest.raises(WrongAnswer, match="too large"):            # L = depth instead of depth - 1
        check_answer("ex-fw-theorem-width", nl.theory.azls_width(16, 3, sep), **params)


def test_widths_orders_right_and_wrong():
    params = dict(n=50_000, L=10, separation=0.1, failure_prob=0.1, lambda0=0.1, d=3072)
    # the smallest bounds are linear in n: Kawaguchi-Huang's parameter count and Nguyen's width
    assert check_answer("ex-widths-orders", nl.theory.kawaguchi_huang_params(50_000), quiet=True,
                        **params)
    with pytest.raises(WrongAnswer, match="too small"):        # log10 of the value
        check_answer("ex-widths-orders", math.log10(5e4), **params)
    with pytest.raises(WrongAnswer, match="too large by a factor of about 16"):   # n^2 / d
        check_answer("ex-widths-orders", 50_000 ** 2 / 3072, **params)


def test_practical_kappa_steps_right_and_wrong():
    from ntklib import experiments as E

    params = dict(n=16, depth=3, width=64, d=16, eps=1e-2, seed=0)
    r = E.fit_run(16, 3, 64, eps=1e-2, steps=1, d=16)
    kappa = r["lambda_max"] / r["lambda_min"]
    right = [kappa / 2 * math.log(100), (kappa + 1) / 4 * math.log(100)]
    assert check_answer("ex-practical-kappa-steps", right, quiet=True, **params)
    with pytest.raises(WrongAnswer, match=r"1 of 2 entries are off; the worst, at index \(1,\)"):
        check_answer("ex-practical-kappa-steps", [right[0], kappa / 4 * math.log(100)], **params)
    with pytest.raises(WrongAnswer, match="2 of 2 entries are off"):     # log10
        check_answer("ex-practical-kappa-steps", np.array(right) / math.log(10), **params)


def test_beyond_linear_alpha_right_and_wrong():
    X, y, _ = nl.sphere_data(6, 4, labels="teacher", last_coord=False, seed=5)
    moved = {}
    for a in (1.0, 10.0):
        model = nl.linearize(nl.scaled(nl.TwoLayerNet(4, 8, trainable="all", seed=5), a))
        theta0 = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()
                            if p.requires_grad])
        nl.train(model, X, y, lr=nl.ntk_learning_rate(model, X, 0.5), steps=10)
        theta = torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])
        moved[a] = torch.linalg.norm(theta - theta0).item()
    ratio = moved[1.0] / moved[10.0]
    assert check_answer("ex-beyond-linear-alpha", ratio, quiet=True, alphas=(1.0, 10.0))
    with pytest.raises(WrongAnswer, match="too small by"):                  # the inverse ratio
        check_answer("ex-beyond-linear-alpha", 1 / ratio, alphas=(1.0, 10.0))
    with pytest.raises(WrongAnswer):                                         # sqrt(alpha) scaling
        check_answer("ex-beyond-linear-alpha", math.sqrt(10), alphas=(1.0, 10.0))


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


def test_chapter_check_cells_are_wired():
    """Each check cell of a chapter: the exercise's markdown cell ends with the exercise, the next
    cell is the placeholder ``name = None``, the solution starts right after it, the solution
    assigns ``name`` in a code cell before ``{solution-end}``, and the check cell follows the end.
    No later code cell reads ``name`` (the student edition keeps it None)."""
    import json
    import re
    from pathlib import Path

    chapters = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("*.ipynb"))
    found = 0
    for path in chapters:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = ["".join(c["source"]) for c in cells]
        for k, t in enumerate(text):
            for label, var in re.findall(r"check_answer\(\s*[\"'](ex-[\w./-]+)[\"'],\s*(\w+)", t):
                found += 1
                where = f"{path.name}, {label}"
                key = label.split("/")[0]
                start = max(i for i in range(k) if f"{{solution-start}} {key}" in text[i])
                end = min(i for i in range(start, k) if "```{solution-end}" in text[i])
                assert text[start].lstrip().startswith("```{solution-start}"), where
                assert re.search(rf"^{var} = None$", text[start - 1], re.M), where
                assert cells[start - 1]["cell_type"] == "code", where
                assert f":label: {key}\n" in text[start - 2], where
                assert text[start - 2].rstrip().endswith("```"), where
                assert end == k - 1, f"{where}: the check cell must follow the solution's end"
                assigns = (rf"^\s*(?:\w+\s*,\s*)*{var}(?:\s*,\s*\w+)*\s*\+?=(?!=)"
                           rf"|^\s*{var}\.append\(")
                assert any(cells[i]["cell_type"] == "code" and re.search(assigns, text[i], re.M)
                           for i in range(start, end)), f"{where}: the solution never assigns {var}"
                later = [i for i in range(k + 1, len(cells))
                         if cells[i]["cell_type"] == "code" and re.search(rf"\b{var}\b", text[i])
                         and f'"{key}' not in text[i]]
                assert not later, f"{where}: later cells {later} read {var}"
    assert found >= len(CHAPTER_EXERCISES)
