"""scripts/pdf_book.py: the expected counts and the PDF check, on fabricated notebooks and PDFs.

The printing itself needs Chromium and the built book; scripts/test.sh runs it (build_pdf.sh).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pdf_book = _load("pdf_book")


def png_output():
    return {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Fig>"},
            "metadata": {}}


def test_count_notebook():
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": [
            "```{prf:theorem} Convergence\n", ":label: thm-a\n", "x\n", "```\n",
            "```{prf:proof}\n", ":class: dropdown\n", "y\n", "```\n", "![a figure](fig.png)\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [png_output(), png_output(),
                                                          {"output_type": "stream", "text": "x"}],
         "source": ""},
        {"cell_type": "code", "metadata": {"tags": ["remove-output"]}, "outputs": [png_output()],
         "source": ""},
        {"cell_type": "markdown", "metadata": {"tags": ["remove-cell"]},
         "source": "```{prf:lemma} hidden\n```"},
    ]}
    assert pdf_book.count_notebook(nb) == {"figures": 3, "proof_boxes": 2, "theorem_boxes": 1}


def make_pdf(path: Path, pages: int, *, title: str = "Theorem 1 (GD ﬁnds minima)") -> Path:
    with PdfPages(path) as pdf:
        for i in range(pages):
            fig, ax = plt.subplots(figsize=(4, 3))
            ax.imshow(np.arange(16.0).reshape(4, 4) + i)     # one image XObject per page
            fig.text(0.1, 0.95, title if i == 0 else f"page {i}")
            pdf.savefig(fig)
            plt.close(fig)
    return path


def manifest(figures: int, titles=(["Theorem 1 (GD finds minima)"],), pages: int = 1) -> dict:
    return {"expected": {"figures": figures, "proof_boxes": 2, "theorem_boxes": len(titles),
                         "pages": pages},
            "found": {"theorem_titles": list(titles)}, "problems": []}


def test_check_pdf_passes_and_fails(tmp_path):
    pdf = make_pdf(tmp_path / "book.pdf", 4)
    problems, stats = pdf_book.check_pdf(pdf, manifest(4))
    assert problems == [] and stats["pages"] == 4 and stats["images"] == 4
    assert stats["theorem_boxes_in_text"] == 1   # the PDF's "ﬁ" ligature matches "fi"
    # a missing figure
    problems, _ = pdf_book.check_pdf(pdf, manifest(5))
    assert problems == ["4 images in the PDF, the notebooks have 5 figures"]
    # too few or too many pages for the book
    problems, _ = pdf_book.check_pdf(pdf, manifest(4, pages=2))
    assert problems and "between 6 and 120" in problems[0]
    problems, _ = pdf_book.check_pdf(pdf, manifest(4), max_pages=3)
    assert "4 pages" in problems[0]
    # a theorem box that did not reach the PDF, and one that was not printed at all
    problems, _ = pdf_book.check_pdf(pdf, manifest(4, titles=(["Theorem 2 (Lost)"],)))
    assert "missing from the PDF text" in problems[0]
    lost = manifest(4)
    lost["expected"]["theorem_boxes"] = 3
    problems, _ = pdf_book.check_pdf(pdf, lost)
    assert "1 theorem boxes were printed, the sources have 3" in problems[0]
    # problems found in the browser before printing are reported again
    broken = manifest(4)
    broken["problems"] = ["1 image(s) did not load"]
    assert pdf_book.check_pdf(pdf, broken)[0] == ["1 image(s) did not load"]


def test_page_problems():
    ok = {"images": 5, "broken": [], "proof_boxes": 3, "theorem_titles": ["T"], "merror": 0,
          "untypeset": 0}
    expected = {"figures": 5, "proof_boxes": 3, "theorem_boxes": 1}
    assert pdf_book.page_problems(ok, expected) == []
    bad = dict(ok, images=4, broken=["a.png"], proof_boxes=2, merror=1, theorem_titles=[])
    problems = pdf_book.page_problems(bad, expected)
    assert len(problems) == 5


@pytest.mark.parametrize("missing", ["pdf", "manifest"])
def test_check_command_needs_the_pdf_and_manifest(tmp_path, missing, capsys):
    pdf = make_pdf(tmp_path / "book.pdf", 1)
    if missing == "pdf":
        pdf.unlink()
    assert pdf_book.main(["check", str(pdf)]) == 2


def test_entry_page_follows_the_redirect(tmp_path):
    redirect = '<meta http-equiv="Refresh" content="0; url=intro.html" />'
    (tmp_path / "index.html").write_text(redirect)
    assert pdf_book.entry_page(tmp_path) == "intro.html"
    (tmp_path / "index.html").write_text("<html><body>the book</body></html>")
    assert pdf_book.entry_page(tmp_path) == "index.html"
