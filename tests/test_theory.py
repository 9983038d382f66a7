"""Tests of ntklib.theory: exponents recovered by log-log fits, the implicit AZLS width, the
registry's consistency with the verification status of each record, and the small helpers."""

import inspect
import math
import re

import numpy as np
import pytest

import ntklib.theory as th
from ntklib.analysis import fit_slope, steps_to_reach
from ntklib.theory import BOUNDS

NS = np.array([10, 20, 40, 80, 160])


def slope_in(fn, values):
    return fit_slope(values, [fn(v) for v in values])[0]


def test_fit_slope_recovers_power_laws_and_intercept():
    x = np.array([1.0, 2.0, 5.0, 10.0, 50.0])
    slope, intercept = fit_slope(x, 3.0 * x**-1.5)
    assert slope == pytest.approx(-1.5, abs=1e-12)
    assert math.exp(intercept) == pytest.approx(3.0, rel=1e-12)
    rng = np.random.default_rng(0)
    noisy = 2.0 * x**0.5 * np.exp(rng.normal(0, 0.01, x.size))
    assert fit_slope(x, noisy)[0] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("x,y", [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([0.0, 1.0], [1.0, 2.0]),
                                 ([1.0, 2.0], [-1.0, 2.0]), ([2.0, 2.0], [1.0, 3.0]),
                                 ([1.0, np.nan], [1.0, 2.0])])
def test_fit_slope_rejects_bad_input(x, y):
    with pytest.raises(ValueError):
        fit_slope(x, y)


def test_azls_width_solves_its_implicit_equation():
    for n, L, delta in [(1, 1, 1.0), (10, 2, 0.1), (1000, 10, 0.01)]:
        m = th.azls_width(n, L, delta)
        C = n**24 * L**12 / delta**8
        assert m == pytest.approx(C * math.log(m) ** 5, rel=1e-9)
        # the largest root: the inequality m >= C log^5 m holds above it and fails just below
        assert 1.01 * m >= C * math.log(1.01 * m) ** 5
        assert 0.99 * m < C * math.log(0.99 * m) ** 5


def test_azls_exponents():
    # the log^5 m factor makes the width's own slope in n exceed 24; the rest is exact
    reduced = lambda n: th.azls_width(int(n), 3, 0.1) / math.log(th.azls_width(int(n), 3, 0.1)) ** 5
    assert slope_in(reduced, NS) == pytest.approx(24, abs=1e-6)
    assert slope_in(lambda n: th.azls_width(int(n), 3, 0.1), NS) > 24
    red_L = lambda L: th.azls_width(10, int(L), 0.1) / math.log(th.azls_width(10, int(L), 0.1)) ** 5
    assert slope_in(red_L, [1, 2, 4, 8]) == pytest.approx(12, abs=1e-6)
    red_d = lambda d: th.azls_width(10, 2, d) / math.log(th.azls_width(10, 2, d)) ** 5
    assert slope_in(red_d, [0.01, 0.03, 0.1, 0.3]) == pytest.approx(-8, abs=1e-6)
    assert slope_in(lambda n: th.azls_learning_rate(int(n), 2, 0.1, 1e6), NS) == pytest.approx(-4)
    assert slope_in(lambda m: th.azls_learning_rate(10, 2, 0.1, m), [1e3, 1e4, 1e5]) == \
        pytest.approx(-1)
    assert slope_in(lambda L: th.azls_learning_rate(10, int(L), 0.1, 1e6), [1, 2, 4]) == \
        pytest.approx(-2)
    assert slope_in(lambda n: th.azls_iterations(int(n), 2, 0.1, 1e-3), NS) == pytest.approx(6)
    assert slope_in(lambda d: th.azls_iterations(10, 2, d, 1e-3), [0.01, 0.1]) == pytest.approx(-2)
    # T is linear in log(1/eps)
    assert th.azls_iterations(5, 2, 0.1, 1e-4) == pytest.approx(2 * th.azls_iterations(5, 2, 0.1,
                                                                                        1e-2))


def test_other_width_exponents():
    assert slope_in(lambda n: th.zou_gu_width(int(n), 3), NS) == pytest.approx(8)
    assert slope_in(lambda L: th.zou_gu_width(10, int(L)), [1, 2, 4, 8]) == pytest.approx(12)
    assert slope_in(lambda n: th.du_two_layer_width(int(n), 0.1, 0.05), NS) == pytest.approx(6)
    assert slope_in(lambda lam: th.du_two_layer_width(10, lam, 0.05), [0.01, 0.1]) == \
        pytest.approx(-4)
    assert slope_in(lambda d: th.du_two_layer_width(10, 0.1, d), [0.01, 0.1]) == pytest.approx(-3)
    assert slope_in(lambda n: th.du_two_layer_learning_rate(int(n), 0.1), NS) == pytest.approx(-2)
    assert slope_in(lambda n: th.du_two_layer_iterations(int(n), 0.1, 1e-3), NS) == \
        pytest.approx(2)
    assert slope_in(lambda n: th.du_deep_fc_width(int(n), 5), NS) == pytest.approx(4)
    assert th.du_deep_fc_width(10, 6) / th.du_deep_fc_width(10, 5) == pytest.approx(2)  # 2^H
    assert th.du_deep_fc_iterations(10, 6, 0.1) / th.du_deep_fc_iterations(10, 5, 0.1) == \
        pytest.approx(2)
    assert slope_in(lambda n: th.du_deep_fc_learning_rate(int(n), 3, 0.1), NS) == pytest.approx(-2)
    assert slope_in(lambda n: th.du_resnet_width(int(n), 5), NS) == pytest.approx(4)
    assert slope_in(lambda H: th.du_resnet_width(10, int(H)), [2, 4, 8, 16]) == pytest.approx(2)
    assert slope_in(lambda H: th.du_resnet_learning_rate(10, int(H), 0.1), [2, 4, 8]) == \
        pytest.approx(2)
    assert slope_in(lambda n: th.du_resnet_iterations(int(n), 1e-3), NS) == pytest.approx(2)
    assert slope_in(lambda n: th.oymak_soltanolkotabi_params(int(n)), NS) == pytest.approx(2)
    assert slope_in(lambda n: th.kawaguchi_huang_params(int(n)), NS) == pytest.approx(1)
    for kind, power in [("linear", 1), ("quadratic", 2), ("cubic", 3)]:
        assert slope_in(lambda n, k=kind: th.nguyen_width(int(n), k), NS) == pytest.approx(power)
    assert slope_in(lambda n: th.noy_width(int(n), 4), NS) == pytest.approx(2)
    assert slope_in(lambda L: th.noy_width(10, int(L)), [1, 2, 4, 8]) == pytest.approx(1)


def test_du_two_layer_rate():
    assert th.du_two_layer_rate(0.1, 0.5) == pytest.approx(1 - 0.025)
    with pytest.raises(ValueError, match="lr"):
        th.du_two_layer_rate(10.0, 1.0)


def test_registry_matches_the_fact_sheet_tags():
    assert set(BOUNDS) == {"allen-zhu-li-song", "zou-gu", "du-two-layer", "du-deep-fc",
                           "du-resnet", "oymak-soltanolkotabi", "kawaguchi-huang", "nguyen-2021",
                           "noy-2021"}
    tags = {"allen-zhu-li-song": "verified", "du-two-layer": "verified", "du-deep-fc": "verified",
            "du-resnet": "verified", "oymak-soltanolkotabi": "verified",
            "kawaguchi-huang": "verified", "zou-gu": "unverified", "nguyen-2021": "unverified",
            "noy-2021": "unverified"}
    for name, bound in BOUNDS.items():
        assert bound.name == name
        assert bound.status == tags[name]
        assert bound.arxiv[:4].isdigit() and "." in bound.arxiv
        assert bound.status_detail
        for fn in bound.functions:
            func = getattr(th, fn)
            assert callable(func)
            doc = inspect.getdoc(func)
            assert bound.arxiv.split()[0].split("v")[0] in doc or "arXiv" in doc, fn
    assert BOUNDS["du-two-layer"].arxiv == "1810.02054v3"


def test_docstrings_say_hidden_constants_are_one():
    assert "set to 1" in th.__doc__
    for bound in BOUNDS.values():
        for fn in bound.functions:
            if fn == "du_two_layer_rate":  # an exact factor, no hidden constant
                continue
            doc = " ".join(inspect.getdoc(getattr(th, fn)).split())
            assert re.search(r"(constant|factor)s?[^.]*\b1\b", doc, flags=re.I), fn


def test_steps_to_reach():
    loss = [10.0, 1.0, 0.1, 0.01, 0.001]
    assert steps_to_reach(loss, 0.1) == 2
    assert steps_to_reach(loss, 0.5, steps=[0, 10, 20, 30, 40]) == 20
    assert steps_to_reach(loss, 1e-6) is None
    assert steps_to_reach(loss, 100.0) == 0
    with pytest.raises(ValueError):
        steps_to_reach(loss, 0.1, steps=[0, 1])
    with pytest.raises(ValueError):
        steps_to_reach(loss, -1.0)


@pytest.mark.parametrize("call, err, match", [
    (lambda: th.azls_width(0, 1, 0.1), ValueError, "n must be"),
    (lambda: th.azls_width(2, 1, 0), ValueError, "delta must be"),
    (lambda: th.azls_width(2.5, 1, 0.1), ValueError, "n must be an integer"),
    (lambda: th.azls_iterations(10, 2, 0.1, 1.5), ValueError, "eps"),
    (lambda: th.zou_gu_width(-3, 1), ValueError, "n must be"),
    (lambda: th.nguyen_width(10, "x"), ValueError, "kind"),
    (lambda: th.du_two_layer_width(10, 0.0, 0.1), ValueError, "lambda0"),
    (lambda: th.du_two_layer_width(10, 0.1, 1.0), ValueError, "failure probability"),
    (lambda: th.azls_width(10, 2, 2.5), ValueError, "separation"),
    (lambda: th.noy_width(10, True), TypeError, "L must be a number"),  # a bool is no depth
    (lambda: th.azls_width("10", 2, 0.1), TypeError, "n must be a number"),
])
def test_bad_arguments_raise(call, err, match):
    with pytest.raises(err, match=match):
        call()
