"""The headless-browser check (tests/browser_check.py) must catch each kind of broken page.

A fabricated site holds one good page and one page per failure mode; the check must pass the good
page and flag each broken one for the right reason. Static widget panels are built with
ntklib.static_panels.render_html and wired by the book's real _static/ntklib_panels.js, whose
behaviour (swap, nearest precomputed setting, failed points) is also tested here. Needs Chromium
and Playwright (both installed by scripts/test.sh); skipped without them.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from ntklib import static_panels as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import browser_check as bc  # noqa: E402

# a 1x1 white PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")
MATHJAX_CONFIG = ('<script>window.MathJax = {"tex": {"packages": {"[-]": ["noundefined"]}, '
                  '"macros": {"R": "\\\\mathbb{R}"}}}</script>'
                  '<script defer src="_static/mathjax/tex-chtml.js"></script>')


def _page(body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head>"
            f"<body><article>{body}</article></body></html>")


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(out, format="PNG")
    return out.getvalue()


PANEL_JS = '<script src="_static/ntklib_panels.js"></script>'
# a script that claims to wire the panel up but never swaps the figure
STUCK_JS = ("<script>document.addEventListener('DOMContentLoaded', () => {"
            "const p = document.querySelector('div.ntklib-static-panel');"
            "p.setAttribute('data-ntklib-ready', '1');"
            "p.setAttribute('data-ntklib-shown', '1,0');"
            "document.querySelector('img').setAttribute('data-ntklib-figure', p.id);"
            "p.querySelector('.ntklib-static-controls').hidden = false;});</script>")


def panel_cell() -> str:
    """A notebook cell as myst-nb renders it: the default PNG output, then the static panel of a
    3 x 2 star grid (width x depth) whose point width=256, depth=1 failed."""
    grid = sp.StaticGrid(
        names=["width", "depth"], values=[[64, 128, 256], [1, 2]],
        labels=[["64", "128", "256"], ["1", "2"]], default=(1, 0),
        points=[(1, 0), (0, 0), (2, 0), (1, 1)], mode="star")
    entries = {(1, 0): {"default": True}, (0, 0): {"png": _png((200, 30, 30))},
               (2, 0): {"error": "DivergenceError: loss became nan"},
               (1, 1): {"png": _png((30, 30, 200))}}
    html = sp.render_html(grid, entries, title="Widths")
    return ('<div class="cell docutils container"><div class="cell_output docutils container">'
            f'<img alt="fig" src="fig.png" /><div class="output text_html">{html}</div>'
            "</div></div>")


def test_count_expected_from_sources():
    md = "```{prf:theorem} T\n:label: t\nx\n```\n\n:::{exercise}\nq\n:::\n![a](b.png)\n"
    md += "```{solution-start} ex\n```\n```{figure} f.png\n```\n"
    md += "```{prf:proof}\n:class: dropdown\n```"
    assert bc.count_expected([md], image_outputs=2, panels=1) == {
        "proof": 2, "exercise": 1, "solution": 1, "images": 4, "panels": 1}
    assert bc.count_expected(["no directives, `{prf:theorem}` in code"]) == {
        "proof": 0, "exercise": 0, "solution": 0, "images": 0, "panels": 0}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    chromium = bc.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on PATH (scripts/test.sh installs it with apt-get)")
    pytest.importorskip("playwright.sync_api")
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None:
        pytest.skip("sphinx-mathjax-offline is not installed")
    mathjax = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"

    build = tmp_path_factory.mktemp("build")
    html = build / "html"
    (html / "_static").mkdir(parents=True)
    (html / "_static" / "mathjax").symlink_to(mathjax, target_is_directory=True)
    (html / "_sources").mkdir()
    (build / "jupyter_execute").mkdir()

    good_body = ('<p>Inline <span class="math">\\(x^2 \\in \\R\\)</span>.</p>'
                 '<div class="math">\\[\\sum_i x_i\\]</div>'
                 '<div class="proof theorem admonition"><p>T</p></div><img src="fig.png">')
    pages = {
        "good.html": _page(good_body, MATHJAX_CONFIG),
        "raw_math.html": _page('<span class="math">\\(x\\)</span> and $$y$$'),
        "bad_macro.html": _page('<span class="math">\\(\\nosuchmacro{x}\\)</span>', MATHJAX_CONFIG),
        "js_error.html": _page("<p>x</p><script>no_such_function()</script>"),
        "console_error.html": _page("<p>x</p><script>console.error('boom')</script>"),
        "network.html": _page('<img src="http://example.invalid/cdn.png">'),
        "missing_img.html": _page('<img src="nothere.png">'),
        "no_proof.html": _page("<p>The theorem box is missing.</p>"),
        "no_figure.html": _page("<p>The figure is missing.</p>"),
        "panel_good.html": _page(panel_cell(), PANEL_JS),
        "panel_no_js.html": _page(panel_cell()),
        "panel_stuck.html": _page(panel_cell(), STUCK_JS),
        "panel_missing.html": _page("<p>The panel output is missing.</p>"),
    }
    shutil.copy(ROOT / "_static" / "ntklib_panels.js", html / "_static" / "ntklib_panels.js")
    for name, text in pages.items():
        (html / name).write_text(text, encoding="utf-8")
    (html / "index.html").write_text(_page("<p>home</p>"), encoding="utf-8")
    (html / "_sources" / "good.md").write_text(
        "```{prf:theorem} T\nx\n```\n![f](fig.png)\n", encoding="utf-8")
    (html / "_sources" / "no_proof.md").write_text(
        "```{prf:lemma} L\n:label: l\nx\n```\n", encoding="utf-8")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "plot()", "execution_count": 1,
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": "iVBO", "text/plain": "<Figure>"}}]}]}
    (build / "jupyter_execute" / "no_figure.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    nb["cells"][0]["outputs"].append({"output_type": "display_data", "metadata": {}, "data": {
        "text/html": '<div class="ntklib-static-panel" id="x"></div>', "text/plain": "Panel"}})
    (build / "jupyter_execute" / "panel_missing.ipynb").write_text(json.dumps(nb),
                                                                   encoding="utf-8")
    (html / "fig.png").write_bytes(PNG)
    return html, chromium


@pytest.fixture(scope="module")
def results(site):
    html, chromium = site
    return bc.check_site(html, chromium, timeout_s=60)


def test_good_page_passes(results):
    assert results["good.html"] == []
    assert results["index.html"] == []
    assert results["panel_good.html"] == []


@pytest.mark.parametrize("page, reason", [
    ("raw_math.html", "math:"),
    ("bad_macro.html", "MathJax error"),
    ("js_error.html", "javascript: uncaught"),
    ("console_error.html", "console.error"),
    ("network.html", "network: blocked external request http://example.invalid"),
    ("missing_img.html", "HTTP 404"),
    ("no_proof.html", "theorem/proof boxes"),
    ("no_figure.html", "content images: 0 rendered, source has 1"),
    ("panel_no_js.html", "not wired up"),
    ("panel_stuck.html", "the figure did not change after selecting width = 64"),
    ("panel_missing.html", "static widget panels (div.ntklib-static-panel): 0 rendered, source "
                           "has 1"),
])
def test_broken_page_fails(results, page, reason):
    problems = results[page]
    assert any(reason in p for p in problems), f"{page}: expected '{reason}' in {problems}"


def test_static_panel_script_swaps_figures(site):
    """_static/ntklib_panels.js: a pick swaps the figure; a combination that was not precomputed
    shows the nearest precomputed one and says so; a failed point dims the figure and shows the
    error; no console errors and no network."""
    from playwright.sync_api import sync_playwright

    html, chromium = site
    with bc.serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        problems: list[str] = []
        bc._watch(page, base, problems)
        page.goto(base + "panel_good.html", wait_until="load")
        panel = page.locator("div.ntklib-static-panel")
        img = page.locator("img[alt]").first
        status = panel.locator(".ntklib-static-status")
        assert panel.get_attribute("data-ntklib-ready") == "1"
        assert panel.locator(".ntklib-static-controls").is_visible()
        assert img.get_attribute("src") == "fig.png"
        width, depth = panel.locator("select").nth(0), panel.locator("select").nth(1)
        assert width.locator("option").all_text_contents() == ["64", "128", "256"]

        width.select_option(label="64")
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert status.text_content() == "" and panel.get_attribute("data-ntklib-shown") == "0,0"
        red = img.get_attribute("src")
        # width=64 with depth=2 was not precomputed: show width=128, depth=2 and say so
        depth.select_option(label="2")
        assert "Not precomputed: width = 64, depth = 2" in status.text_content()
        assert "Showing width = 128, depth = 2" in status.text_content()
        assert width.input_value() == "1" and img.get_attribute("src") not in (red, "fig.png")
        # back to the defaults: the original PNG output
        depth.select_option(label="1")
        assert img.get_attribute("src") == "fig.png" and status.text_content() == ""
        # a point whose computation failed: the message, the figure dimmed (never broken)
        width.select_option(label="256")
        assert "Could not draw at width = 256, depth = 1: DivergenceError" in status.text_content()
        assert "ntklib-static-failed" in img.get_attribute("class")
        assert img.evaluate("el => el.complete && el.naturalWidth > 0")
        width.select_option(label="64")
        assert "ntklib-static-failed" not in (img.get_attribute("class") or "")
        assert problems == []
        browser.close()


def test_lists_pages_but_not_static_dirs(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text("x")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "a.html").write_text("x")
    (tmp_path / "index.html").write_text("x")
    assert [p.as_posix() for p in bc.list_pages(tmp_path)] == ["chapters/a.html", "index.html"]
