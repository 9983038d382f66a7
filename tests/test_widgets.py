"""Tests for ntklib.widgets.panel: headless build, default figure, redraw on change, cache, errors
shown in the panel (never raised), the HTML fallback of the live controls, and lazy import."""

import base64
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ntklib import plotting  # noqa: E402
from ntklib.widgets import Panel, make_control, panel  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Counter:
    """compute(**kwargs) that counts its calls and fails on request."""

    def __init__(self):
        self.calls = []

    def __call__(self, rate=0.5, steps=20, label="gd"):
        self.calls.append((rate, steps, label))
        if rate > 0.9:
            raise RuntimeError(f"diverged at rate={rate}")
        return {"loss": (1 - rate) ** np.arange(steps), "label": label}


def plot_result(result, ax=None):
    return plotting.plot_loss_curves({result["label"]: result["loss"]}, ax=ax)


def make_panel(**kwargs):
    compute = Counter()
    controls = {"rate": (0.1, 1.0, 0.1), "steps": (5, 50, 5), "label": ["gd", "sgd"]}
    return compute, panel(compute, plot_result, controls, **kwargs)


def _live_png(p: Panel) -> bytes:
    (out,) = p.output.outputs
    return base64.b64decode(out["data"]["image/png"])


def test_builds_headless_and_draws_defaults():
    compute, p = make_panel(title="Loss")
    assert isinstance(p, Panel)
    assert p.defaults == {"rate": 0.5, "steps": 20, "label": "gd"}  # compute's defaults
    assert compute.calls == [(0.5, 20, "gd")]
    assert isinstance(p.figure, Figure) and p.last_error is None
    assert np.allclose(p.last_result["loss"], 0.5 ** np.arange(20))
    line = p.figure.axes[0].get_lines()[0]
    assert np.allclose(line.get_ydata(), 0.5 ** np.arange(20))
    static_png, error = p._static
    assert static_png.startswith(PNG_MAGIC) and error is None
    assert p.output.outputs == ()  # the live area is empty until a control changes


def test_update_redraws_and_cache_avoids_recomputation():
    compute, p = make_panel()
    first = p.figure
    p.update(rate=0.2, steps=10)
    assert len(compute.calls) == 2 and p.n_computed == 2
    assert p.figure is not first
    assert np.allclose(p.figure.axes[0].get_lines()[0].get_ydata(), 0.8 ** np.arange(10))
    assert _live_png(p).startswith(PNG_MAGIC)
    p.update(rate=0.5, steps=20)  # back to the defaults: cached
    p.update(rate=0.2, steps=10)  # and back again: cached
    assert len(compute.calls) == 2
    assert np.allclose(p.last_result["loss"], 0.8 ** np.arange(10))
    compute2, p2 = make_panel(cache=False)
    p2.update(rate=0.2)
    p2.update(rate=0.5)
    assert len(compute2.calls) == 3


def test_moving_a_widget_redraws_like_a_slider():
    compute, p = make_panel()
    p.controls["label"].value = "sgd"  # what the frontend does when the reader picks an option
    assert compute.calls[-1] == (0.5, 20, "sgd")
    assert p.figure.axes[0].get_legend().get_texts()[0].get_text() == "sgd"


def test_exception_in_compute_is_shown_not_raised():
    compute, p = make_panel()
    result = p.update(rate=1.0)  # compute raises RuntimeError
    assert result is None and isinstance(p.last_error, RuntimeError)
    assert p.figure is None
    assert "diverged at rate=1.0" in p.message.value and "RuntimeError" in p.message.value
    assert "diverged" in p.output.outputs[0]["data"]["text/plain"]
    p.update(rate=0.3)  # a good setting clears the message
    assert p.last_error is None and p.message.value == "" and isinstance(p.figure, Figure)


def test_exception_in_plot_and_at_defaults_is_shown_not_raised():
    def bad_plot(result, ax=None):
        raise ValueError("cannot plot this")

    p = panel(lambda x=1: x, bad_plot, {"x": (0, 3, 1)})
    assert isinstance(p.last_error, ValueError) and p.figure is None
    assert "cannot plot this" in p.message.value
    png, error = p._static
    assert png is None and "cannot plot this" in error


def test_plot_with_fig_argument_gets_a_figure():
    def two_panels(result, fig=None):
        a, b = fig.subplots(1, 2)
        a.plot(result)
        b.plot(result[::-1])
        return a

    p = panel(lambda n=3: np.arange(float(n)), two_panels, {"n": (2, 9, 1)})
    assert len(p.figure.axes) == 2
    p.update(n=5)
    assert np.array_equal(p.figure.axes[1].get_lines()[0].get_ydata(), np.arange(5.0)[::-1])


def test_controls_shorthands_and_continuous_update():
    assert isinstance(make_control("m", (64, 512, 64)), w.IntSlider)
    s = make_control("lr", (0.01, 1.0, 0.01, 0.1))
    assert isinstance(s, w.FloatSlider) and s.value == 0.1 and s.continuous_update is False
    d = make_control("act", ["relu", "softplus"], default="softplus")
    assert isinstance(d, w.Dropdown) and d.value == "softplus"
    assert isinstance(make_control("flag", True), w.Checkbox)
    given = w.IntSlider(value=3, min=0, max=5)
    assert make_control("depth", given) is given and given.continuous_update is False
    with pytest.raises(ValueError):
        make_control("m", (5, 1, 1))
    with pytest.raises(TypeError):
        make_control("m", {"a": 1})


def test_bad_arguments_raise_value_errors():
    compute, p = make_panel()
    with pytest.raises(ValueError, match="unknown controls"):
        p.update(width=3)
    with pytest.raises(ValueError, match="outside"):
        p.update(steps=1000)
    with pytest.raises(ValueError, match="not parameters"):
        panel(compute, plot_result, {"width": (1, 3, 1)})


def test_live_controls_bundle_has_widget_view_and_html_fallback():
    _, p = make_panel(title="Loss vs rate")
    bundle = p._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == p.widget.model_id
    html = bundle["text/html"]
    assert "Jupyter" in html and "launch button" in html and "Loss vs rate" in html
    assert "rate = 0.5" in html


def test_show_displays_static_png_then_controls_in_ipython():
    """Inside an IPython shell: first output a PNG, then the widget bundle with HTML fallback."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    try:
        with capture_output() as captured:
            p = panel(Counter(), plot_result, {"rate": (0.1, 1.0, 0.1)})
        first, second = captured.outputs[:2]
        assert base64.b64decode(first.data["image/png"]).startswith(PNG_MAGIC)
        assert "application/vnd.jupyter.widget-view+json" in second.data
        assert "launch button" in second.data["text/html"]
        assert len(captured.outputs) == 2
        with capture_output() as again:
            p._ipython_display_()  # already shown: a trailing `p` must not duplicate it
        assert again.outputs == []
    finally:
        InteractiveShell.clear_instance()
        assert shell is not None


def test_import_ntklib_does_not_import_ipywidgets():
    code = (
        "import sys, ntklib; assert 'ipywidgets' not in sys.modules, 'eager ipywidgets import'; "
        "assert callable(ntklib.panel); import ntklib.widgets; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_divergence_error_from_training_is_shown_in_the_panel():
    """The book's real failure mode: too large a learning rate raises DivergenceError in train."""
    import ntklib as nl
    from ntklib.train import DivergenceError

    def compute(lr_factor=0.5):
        X, y, _ = nl.sphere_data(6, 3, seed=0)
        net = nl.MLP(3, 16, 2, trainable="last", seed=0)  # linear in B: GD on a quadratic
        lr = lr_factor / nl.lambda_max(nl.empirical_ntk(net, X))
        return nl.train(net, X, y, lr=lr, steps=60).loss

    p = panel(
        compute,
        lambda loss, ax=None: plotting.plot_loss_curves({"F": loss}, ax=ax),
        {"lr_factor": [0.5, 50.0]},
    )
    assert p.last_error is None and p.last_result[-1] < p.last_result[0]
    assert p.update(lr_factor=50.0) is None
    assert isinstance(p.last_error, DivergenceError)
    assert "DivergenceError" in p.message.value
