"""Tests for ntklib.widgets.panel: headless build, default figure, redraw on change, cache, errors
shown in the panel (never raised), the HTML fallback of the live controls, and lazy import.

The static panels of the HTML book (ntklib.static_panels, ntklib.panel_cache): grid construction
and caps, rendering with per-point errors and a time budget, the disk cache shared by two
executions (and invalidated by edited helpers or globals), and the HTML the page script reads."""

import base64
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ntklib import panel_cache, plotting  # noqa: E402
from ntklib import static_panels as sp  # noqa: E402
from ntklib.widgets import Panel, make_control, panel  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test gets its own panel disk cache; static rendering only where a test asks for it."""
    monkeypatch.setenv("NTKLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NTKLIB_STATIC_PANELS", "0")
    monkeypatch.delenv("NTKLIB_STATIC_BUDGET_S", raising=False)


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


# ------------------------------------------------------------------------------ static panels
def _grid(controls, spec=None, **kwargs):
    p = panel(lambda **kw: kw, lambda r, ax=None: ax, controls, static=spec, **kwargs)
    return p, p.static_grid


def test_star_grid_subsamples_each_control_and_keeps_defaults():
    controls = {"rate": (0.1, 1.0, 0.1, 0.5), "steps": (5, 50, 5, 20), "label": ["gd", "sgd"]}
    _, g = _grid(controls)
    assert g.mode == "star" and g.names == ["rate", "steps", "label"]
    # 10 slider values -> 4 evenly spaced (0.1, 0.4, 0.7, 1.0); 0.4 is replaced by the default 0.5
    assert g.values == [[0.1, 0.5, 0.7, 1.0], [5, 20, 35, 50], ["gd", "sgd"]]
    assert g.kwargs(g.default) == {"rate": 0.5, "steps": 20, "label": "gd"}
    assert g.points[0] == g.default and len(g.points) == 1 + 3 + 3 + 1
    assert len(set(g.points)) == len(g.points)
    for point in g.points[1:]:  # a star: one control off its default at a time
        assert sum(a != b for a, b in zip(point, g.default)) == 1
    # extremes first, round-robin over the controls: the first moves are rate=0.1/1.0 and steps=50
    assert g.kwargs(g.points[1]) == {"rate": 1.0, "steps": 20, "label": "gd"}
    assert g.kwargs(g.points[2]) == {"rate": 0.5, "steps": 50, "label": "gd"}
    assert g.describe(g.default) == "rate = 0.5, steps = 20, label = gd"


def test_auto_grid_takes_every_combination_when_few():
    _, g = _grid({"width": [64, 128, 256, 512], "depth": (1, 4, 1, 3)})
    assert g.mode == "cartesian" and len(g.points) == 16 == len(set(g.points))
    assert g.kwargs(g.points[0]) == {"width": 64, "depth": 3}
    # the one-control moves come first (computed first when the time budget is short)
    assert all(sum(a != b for a, b in zip(p, g.default)) == 1 for p in g.points[1:7])
    assert all(sum(a != b for a, b in zip(p, g.default)) == 2 for p in g.points[7:])
    _, star = _grid({"width": [64, 128, 256, 512], "depth": (1, 4, 1, 3)}, "star")
    assert star.mode == "star" and len(star.points) == 7


def test_grid_caps_seed_dropdowns_and_total():
    controls = {"a": list(range(10)), "seed": (0, 9, 1), "b": (0.0, 1.0, 0.3, 0.5), "flag": True,
                "c": (1, 100, 1), "d": (1, 100, 1), "e": (1, 100, 1), "f": (1, 100, 1),
                "g": (1, 100, 1), "h": (1, 100, 1)}
    p, g = _grid(controls)
    named = dict(zip(g.names, g.values))
    assert len(g.points) <= sp.MAX_FIGURES and g.mode == "star"
    assert len(named["seed"]) <= sp.SEED_VALUES and 0 in named["seed"]
    assert 0.5 in named["b"]  # a default off the slider's step grid is kept exactly
    assert named["flag"] == [False, True]
    assert g.kwargs(g.default) == p.defaults
    values, labels = sp.control_choices(p.controls["a"], 7, sp.OPTION_VALUES)
    assert len(values) == sp.OPTION_VALUES and 7 in values and labels == [str(v) for v in values]
    small = sp.build_grid(p.controls, p.defaults, max_figures=5)
    assert len(small.points) == 5 and small.kwargs(small.default) == p.defaults


def test_explicit_cartesian_grid_and_errors():
    controls = {"rate": (0.1, 1.0, 0.1, 0.5), "label": ["gd", "sgd"]}
    _, g = _grid(controls, {"rate": [0.2, 0.9]})
    assert g.values == [[0.2, 0.5, 0.9], ["gd"]] and len(g.points) == 3
    assert g.kwargs(g.points[0]) == {"rate": 0.5, "label": "gd"}
    _, g = _grid(controls, {"rate": [0.2], "label": ["gd", "sgd"]})
    assert len(g.points) == 4
    with pytest.raises(ValueError, match="not controls"):
        _grid(controls, {"width": [1]})
    with pytest.raises(ValueError, match="control can take"):
        _grid(controls, {"rate": [5.0]})
    with pytest.raises(ValueError, match="control can take"):
        _grid(controls, {"label": ["adam"]})
    with pytest.raises(TypeError, match="list of values"):
        _grid(controls, {"rate": 0.2})
    with pytest.raises(ValueError, match="at most"):
        _grid({"a": (0, 99, 1), "b": (0, 99, 1)}, {"a": list(range(10)), "b": list(range(10))})
    with pytest.raises(TypeError, match="static must be"):
        _grid(controls, 3)
    p, g = _grid(controls, False)
    assert g is None and p.render_static() == {} and "launch button" in p.static_html()


def test_render_static_records_errors_and_respects_budget():
    compute, p = make_panel(title="Loss")
    entries = p.render_static()
    g = p.static_grid
    assert set(entries) == set(g.points) and p.static_skipped == 0
    assert entries[g.default] == {"default": True}  # the PNG output above the panel
    failing = [pt for pt in g.points if g.kwargs(pt)["rate"] > 0.9]
    assert failing and all("diverged" in entries[pt]["error"] for pt in failing)
    assert "RuntimeError" in entries[failing[0]]["error"]
    good = [pt for pt in g.points if pt != g.default and pt not in failing]
    assert all(entries[pt]["png"].startswith(PNG_MAGIC) for pt in good)
    assert p.values() == p.defaults and p.output.outputs == ()  # live controls untouched
    _, p2 = make_panel()
    entries = p2.render_static(budget_s=0.0)
    assert list(entries) == [p2.static_grid.default]
    assert p2.static_skipped == len(p2.static_grid.points) - 1
    assert "left out" in p2.static_html()


def test_default_failure_and_plot_failure_in_static_grid():
    def bad_plot(result, ax=None):
        if result > 1:
            raise ValueError("cannot plot this")
        ax.plot([0, result])
        return ax

    p = panel(lambda x=2: x, bad_plot, {"x": (0, 3, 1)})
    entries = p.render_static()
    g = p.static_grid
    assert "cannot plot this" in entries[g.default]["error"]
    assert entries[(g.values[0].index(0),)]["png"].startswith(PNG_MAGIC)
    html = p.static_html()
    data = _static_data(html)
    assert data["default_png"] is False  # the page script then shows figures inside the panel


CALLS = []
SCALE = 2.0


def _helper(x):
    return SCALE * x


def cached_compute(x=1, y=1):
    CALLS.append((x, y))
    return np.arange(3.0) * _helper(x) + y


def cached_plot(result, ax=None):
    ax.plot(result)
    return ax


def test_disk_cache_is_shared_by_a_second_execution(monkeypatch):
    CALLS.clear()
    controls = {"x": (1, 3, 1), "y": [1, 2]}
    p = panel(cached_compute, cached_plot, controls)
    first = p.render_static()
    assert len(CALLS) == len(p.static_grid.points) and p.n_computed == len(CALLS)
    # "the book build after nbval": a new panel in a fresh process reads results and figures back
    CALLS.clear()
    p2 = panel(cached_compute, cached_plot, controls)
    assert p2.render_static() == first and CALLS == [] and p2.n_computed == 0
    assert np.allclose(p2.last_result, [1, 3, 5])
    p2.update(x=2, y=2)  # a live change reads the result cache too
    assert CALLS == []
    # a changed global used by a helper invalidates the entries
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 3.0)
    CALLS.clear()
    p3 = panel(cached_compute, cached_plot, controls)
    assert p3.n_computed == 1 and np.allclose(p3.last_result, [1, 4, 7])
    p3.render_static()
    assert len(CALLS) == len(p3.static_grid.points)
    # cache=False: no disk cache at all
    CALLS.clear()
    p4 = panel(cached_compute, cached_plot, controls, cache=False)
    p4.render_static()
    assert len(CALLS) == len(p4.static_grid.points)


def _exec_functions(helper_body: str) -> dict:
    """Define compute + helper as a notebook cell would (module __main__, no importable file)."""
    ns = {"__name__": "__main__"}
    code = (
        "import numpy as np\n"
        "DATA = np.arange(4.0)\n"
        f"def helper(x):\n    return {helper_body}\n"
        "def compute(width=1):\n    return helper(width) + DATA.sum()\n"
    )
    exec(compile(code, "<cell-1234>", "exec"), ns)
    return ns


def test_fingerprint_follows_notebook_helpers_and_globals():
    a, b = _exec_functions("2 * x"), _exec_functions("2 * x")
    fp = panel_cache.fingerprint(a["compute"])
    assert fp is not None and fp == panel_cache.fingerprint(b["compute"])  # a second kernel
    assert panel_cache.fingerprint(_exec_functions("3 * x")["compute"]) != fp  # helper edited
    b["DATA"] = np.arange(5.0)
    assert panel_cache.fingerprint(b["compute"]) != fp  # a global's value changed
    assert panel_cache.fingerprint(Counter()) is None  # a callable object: uncacheable
    a["DATA"] = (i for i in range(3))  # an unpicklable global: uncacheable
    assert panel_cache.fingerprint(a["compute"]) is None
    k = 3
    assert panel_cache.fingerprint(lambda x: k * x) != panel_cache.fingerprint(lambda x: 2 * x)


def test_uncacheable_compute_still_works():
    compute = Counter()
    p = panel(compute, plot_result, {"rate": (0.1, 0.5, 0.1)})
    p.render_static()
    n = len(compute.calls)
    p2 = panel(compute, plot_result, {"rate": (0.1, 0.5, 0.1)})
    p2.render_static()
    assert len(compute.calls) == 2 * n  # no disk cache for a callable object, but it works
    assert all("png" in e for pt, e in p2.static_entries.items() if pt != p2.static_grid.default)


def test_cache_store_and_load_round_trip(tmp_path):
    key = panel_cache.entry_key("result", "fp", {"a": 1})
    assert panel_cache.load(key) is panel_cache.MISSING
    assert panel_cache.store(key, {"x": np.arange(3)})
    assert np.array_equal(panel_cache.load(key)["x"], np.arange(3))
    assert not panel_cache.store(panel_cache.entry_key("result", "g"), lambda: 0)  # unpicklable
    assert panel_cache.load(None) is panel_cache.MISSING


def _static_data(html: str) -> dict:
    import json
    import re

    match = re.search(r'<script type="application/json" class="ntklib-static-data">(.*?)</script>',
                      html, re.S)
    assert match, html[:300]
    return json.loads(match.group(1))


def test_static_html_structure():
    import re

    _, p = make_panel(title="Loss <vs> rate")
    p.render_static()
    html = p.static_html()
    assert html.startswith('<div class="ntklib-static-panel" id="ntklib-static-')
    assert "Loss &lt;vs&gt; rate" in html and "<vs>" not in html
    assert '<div class="ntklib-static-controls" hidden>' in html  # shown by the page script
    assert "launch button" in html and "<noscript>" in html
    data = _static_data(html)
    g = p.static_grid
    assert [c["name"] for c in data["controls"]] == g.names
    assert [c["default"] for c in data["controls"]] == list(g.default)
    assert set(data["figures"]) == {",".join(map(str, pt)) for pt in g.points}
    assert data["figures"][",".join(map(str, g.default))] == {"default": True}
    assert data["default_png"] is True and data["mode"] == "star"
    pngs = [base64.b64decode(f["png"]) for f in data["figures"].values() if "png" in f]
    assert pngs and all(png.startswith(PNG_MAGIC) for png in pngs)
    assert any("error" in f for f in data["figures"].values())
    # one <select> per control, listing exactly the precomputed values, the default selected
    for c, name in enumerate(g.names):
        select = re.search(rf'<select name="{name}" data-control="{c}"[^>]*>(.*?)</select>', html)
        values = re.findall(r'<option value="(\d+)"( selected)?>', select.group(1))
        assert [int(v) for v, _ in values] == list(range(len(g.values[c])))
        assert [int(v) for v, sel in values if sel] == [g.default[c]]
    # no raw "<" inside the JSON (a label could otherwise close the <script> element)
    payload = html.split('class="ntklib-static-data">')[1].rsplit("</script>", 1)[0]
    assert "<" not in payload


def test_static_png_is_compressed_and_smaller():
    _, p = make_panel()
    from ntklib.widgets import _figure_png

    raw = _figure_png(p.figure)
    small = sp.compress_png(raw)
    assert small.startswith(PNG_MAGIC) and len(small) < 0.7 * len(raw)
    assert sp.compress_png(b"not a png") == b"not a png"


def test_static_enabled_follows_environment(monkeypatch):
    monkeypatch.delenv("NTKLIB_STATIC_PANELS")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("VSCODE_PID", raising=False)
    monkeypatch.delenv("VSCODE_CWD", raising=False)
    assert sp.static_enabled()  # nbval, jupyter-book, plain Python
    monkeypatch.setenv("JPY_SESSION_NAME", "chapters/01_tour.ipynb")  # a JupyterLab kernel
    assert not sp.static_enabled()
    monkeypatch.setenv("NTKLIB_STATIC_PANELS", "1")
    assert sp.static_enabled()
    monkeypatch.setenv("NTKLIB_STATIC_PANELS", "0")
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert not sp.static_enabled()
    monkeypatch.setenv("NTKLIB_STATIC_BUDGET_S", "12.5")
    assert sp.budget_seconds() == 12.5
    monkeypatch.setenv("NTKLIB_STATIC_BUDGET_S", "soon")
    with pytest.raises(ValueError, match="seconds"):
        sp.budget_seconds()


def test_show_renders_static_panel_in_a_build_kernel(monkeypatch):
    """As executed by nbval/jupyter-book: PNG first, then the bundle whose HTML is the static
    panel (the widget view stays for live Jupyter)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    monkeypatch.setenv("NTKLIB_STATIC_PANELS", "1")
    InteractiveShell.instance()
    try:
        with capture_output() as captured:
            p = panel(Counter(), plot_result, {"rate": (0.1, 1.0, 0.1)}, title="T")
        first, second = captured.outputs
        assert base64.b64decode(first.data["image/png"]).startswith(PNG_MAGIC)
        assert "application/vnd.jupyter.widget-view+json" in second.data
        assert 'class="ntklib-static-panel"' in second.data["text/html"]
        assert p.static_entries is not None and len(p.static_entries) == len(p.static_grid.points)
    finally:
        InteractiveShell.clear_instance()
