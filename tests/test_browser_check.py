"""The headless-browser check (tests/browser_check.py) must catch each kind of broken page.

A fabricated site holds one good page and one page per failure mode; the check must pass the good
page and flag each broken one for the right reason. Needs Chromium and Playwright (both installed
by scripts/test.sh); skipped without them.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path

import pytest

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


def test_count_expected_from_sources():
    md = "```{prf:theorem} T\n:label: t\nx\n```\n\n:::{exercise}\nq\n:::\n![a](b.png)\n"
    md += "```{solution-start} ex\n```\n```{figure} f.png\n```\n"
    md += "```{prf:proof}\n:class: dropdown\n```"
    assert bc.count_expected([md], image_outputs=2) == {
        "proof": 2, "exercise": 1, "solution": 1, "images": 4}
    assert bc.count_expected(["no directives, `{prf:theorem}` in code"]) == {
        "proof": 0, "exercise": 0, "solution": 0, "images": 0}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
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
    (html / "fig.png").write_bytes(PNG)

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
    }
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
    return bc.check_site(html, chromium, timeout_s=60)


def test_good_page_passes(results):
    assert results["good.html"] == []
    assert results["index.html"] == []


@pytest.mark.parametrize("page, reason", [
    ("raw_math.html", "math:"),
    ("bad_macro.html", "MathJax error"),
    ("js_error.html", "javascript: uncaught"),
    ("console_error.html", "console.error"),
    ("network.html", "network: blocked external request http://example.invalid"),
    ("missing_img.html", "HTTP 404"),
    ("no_proof.html", "theorem/proof boxes"),
    ("no_figure.html", "content images: 0 rendered, source has 1"),
])
def test_broken_page_fails(results, page, reason):
    problems = results[page]
    assert any(reason in p for p in problems), f"{page}: expected '{reason}' in {problems}"


def test_lists_pages_but_not_static_dirs(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text("x")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "a.html").write_text("x")
    (tmp_path / "index.html").write_text("x")
    assert [p.as_posix() for p in bc.list_pages(tmp_path)] == ["chapters/a.html", "index.html"]
