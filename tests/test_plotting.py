"""Tests for ntklib.plotting: every plot_* returns Axes on a white figure, draws the data it was
given, leaves global matplotlib state alone and validates its inputs."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ntklib import plotting  # noqa: E402

WHITE = (1.0, 1.0, 1.0, 1.0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _all_plots(ax=None):
    """One call of each plot function, returning {name: Axes}."""
    rng = np.random.default_rng(0)
    return {
        "loss": plotting.plot_loss_curves({"a": [1.0, 0.1, 0.01], "b": [2.0, 0.5, 0.0]}, ax=ax),
        "loglog": plotting.plot_loglog_fit([1, 10, 100], [1, 0.1, 0.01], theory_slope=-1, ax=ax),
        "kernel": plotting.plot_kernel(np.eye(4), ax=ax),
        "bars": plotting.plot_bars({"x": 1.0, "y": 2.0}, ax=ax),
        "path": plotting.plot_path(np.linspace(0, 1, 5), np.linspace(1, 0, 5), ax=ax),
        "hist": plotting.plot_histogram(rng.normal(size=100), ax=ax),
    }


def _png_corner_rgb(fig: Figure) -> np.ndarray:
    """Render to PNG (as the book does) and read back the top-left pixel."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    img = plt.imread(buf)
    return img[0, 0, :3]


def test_every_plot_returns_axes_on_white_figure_without_style():
    with matplotlib.rc_context({"figure.facecolor": "black", "axes.facecolor": "black"}):
        for name, ax in _all_plots().items():
            assert isinstance(ax, Axes), name
            assert to_rgba(ax.figure.get_facecolor()) == WHITE, name
            assert to_rgba(ax.get_facecolor()) == WHITE, name
            assert np.allclose(_png_corner_rgb(ax.figure), 1.0), f"{name}: PNG background not white"


def test_use_book_style_sets_white_backgrounds_and_plots_do_not_touch_rcparams():
    with matplotlib.rc_context():
        plotting.use_book_style()
        assert to_rgba(matplotlib.rcParams["figure.facecolor"]) == WHITE
        assert to_rgba(matplotlib.rcParams["axes.facecolor"]) == WHITE
        assert to_rgba(matplotlib.rcParams["savefig.facecolor"]) == WHITE
        before = dict(matplotlib.rcParams)
        _all_plots()
        assert dict(matplotlib.rcParams) == before


def test_plots_draw_on_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    axes = _all_plots(ax=None)  # fresh figures
    assert all(a.figure is not fig for a in axes.values())
    for name, out in {
        "loss": plotting.plot_loss_curves({"a": [1.0, 0.5]}, ax=ax),
        "kernel": plotting.plot_kernel(np.ones((2, 3)), ax=fig.add_subplot(2, 1, 2)),
    }.items():
        assert out.figure is fig, name


def test_loss_curves_log_axis_masks_zero_and_uses_steps():
    ax = plotting.plot_loss_curves({"gd": ([0, 10, 20], [1.0, 1e-3, 0.0]), "sgd": [3.0, 2.0]})
    assert ax.get_yscale() == "log"
    gd, sgd = ax.get_lines()
    assert np.array_equal(gd.get_xdata(), [0, 10, 20])
    assert np.isnan(gd.get_ydata()[2]), "a zero loss must not be drawn on a log axis"
    assert np.array_equal(sgd.get_xdata(), [0, 1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gd", "sgd"]


def test_loglog_fit_reports_measured_and_theory_slope():
    x = np.array([64.0, 256.0, 1024.0, 4096.0])
    y = 3.0 * x**-0.5 * np.array([1.02, 0.97, 1.01, 0.99])
    expected = np.polyfit(np.log(x), np.log(y), 1)[0]
    ax = plotting.plot_loglog_fit(x, y, theory_slope=-0.5)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[1] == f"fit: slope {expected:.2f}"
    assert texts[2] == "theory: slope -1/2"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    # the fitted line really has the fitted slope, the theory line slope -1/2
    _, fit, ref = ax.get_lines()
    for line, slope in ((fit, expected), (ref, -0.5)):
        lx, ly = np.log(line.get_xdata()), np.log(line.get_ydata())
        assert np.isclose((ly[-1] - ly[0]) / (lx[-1] - lx[0]), slope)
    ax2 = plotting.plot_loglog_fit(x, y, theory_slope="-1/6")
    assert ax2.get_legend().get_texts()[2].get_text() == "theory: slope -1/6"


def test_kernel_heatmap_shows_the_matrix():
    K = np.array([[2.0, -1.0], [-1.0, 0.5]])
    ax = plotting.plot_kernel(K, symmetric=True, title="K")
    image = ax.get_images()[0]
    assert np.array_equal(image.get_array(), K)
    assert image.get_clim() == (-2.0, 2.0)
    torch = pytest.importorskip("torch")
    ax = plotting.plot_kernel(torch.eye(3, dtype=torch.float64), colorbar=False)
    assert np.array_equal(ax.get_images()[0].get_array(), np.eye(3))


def test_bars_path_histogram_data():
    ax = plotting.plot_bars([1.0, 3.0], labels=["m=64", "m=4096"], errors=[0.1, 0.2], reference=2)
    assert [p.get_height() for p in ax.patches] == [1.0, 3.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["m=64", "m=4096"]
    s = np.linspace(0, 1, 11)
    ax = plotting.plot_path(s, (1 - s) ** 2, reference=0.5 * (1 - s) ** 2)
    assert np.allclose(ax.get_lines()[1].get_ydata(), 0.5 * (1 - s) ** 2)
    v = np.arange(10.0)
    ax = plotting.plot_histogram(v, bins=5, vline=4.5)
    assert sum(p.get_height() for p in ax.patches) == 10


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: plotting.plot_loglog_fit([1, 2], [1, -1]), ValueError),
        (lambda: plotting.plot_loglog_fit([1, 2, 3], [1, 2]), ValueError),
        (lambda: plotting.plot_loglog_fit([1], [1]), ValueError),
        (lambda: plotting.plot_loss_curves({}), TypeError),
        (lambda: plotting.plot_loss_curves({"a": ([0, 1], [1.0, 2.0, 3.0])}), ValueError),
        (lambda: plotting.plot_loss_curves({"a": np.ones((2, 2))}), ValueError),
        (lambda: plotting.plot_kernel(np.ones(3)), ValueError),
        (lambda: plotting.plot_bars([1.0, 2.0], labels=["a"]), ValueError),
        (lambda: plotting.plot_path([0, 1], [1, 2, 3]), ValueError),
        (lambda: plotting.plot_histogram([]), ValueError),
        (lambda: plotting.plot_kernel(np.eye(2), ax="not an axes"), TypeError),
    ],
)
def test_plot_functions_validate_inputs(call, err):
    with pytest.raises(err):
        call()
