"""Live notebooks read like the book: every chapter starts with the hidden MyST front-matter cell
that gives jupyterlab-myst the book's math macros (scripts/live_myst_macros.py), and that cell is
removed from the HTML book."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("live_myst_macros",
                                               ROOT / "scripts" / "live_myst_macros.py")
lmm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lmm)


def test_every_chapter_has_the_current_macro_cell():
    assert lmm.main(["--check"]) == 0, "run: python scripts/live_myst_macros.py"


def test_macro_cell_is_front_matter_with_every_book_macro():
    macros = lmm.book_macros()
    assert macros["\\relu"] == "\\operatorname{ReLU}"
    assert macros["\\norm"] == "\\left\\lVert #1 \\right\\rVert"  # [body, nargs] -> body
    source = lmm.cell_source(macros)
    assert source.startswith("---\n") and source.endswith("\n---")
    front = yaml.safe_load(source.strip("-\n"))
    assert front["math"] == macros  # valid YAML that reads back to the same TeX
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert len(macros) == len(config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"])
    cell = lmm.macro_cell(macros)
    assert cell["metadata"]["tags"] == ["remove-cell"]  # myst-nb drops it from the HTML book


def test_update_inserts_once_and_replaces(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# T"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    once = lmm.updated(nb, {"\\R": "\\mathbb{R}"})
    twice = lmm.updated(once, {"\\R": "\\mathbb{R}", "\\E": "\\mathbb{E}"})
    assert len(once["cells"]) == len(twice["cells"]) == 2
    assert twice["cells"][1] == nb["cells"][0]
    assert "\\\\E" in "".join(twice["cells"][0]["source"])
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    assert lmm.main(["--check", str(path)]) == 1
    assert lmm.main([str(path)]) == 0 and lmm.main(["--check", str(path)]) == 0
