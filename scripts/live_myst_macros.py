"""Give every chapter the book's math macros for live JupyterLab (jupyterlab-myst).

The HTML book defines its TeX macros (``\\relu``, ``\\lmax``, ``\\norm{..}``, ...) once, for
MathJax, in ``_config.yml`` (``sphinx.config.mathjax3_config.tex.macros``). In JupyterLab the
chapters' markdown is rendered by jupyterlab-myst with KaTeX, which knows none of them: every
formula using one shows a red "Undefined control sequence". jupyterlab-myst reads a notebook's
MyST front matter from its *first cell*, and its ``math:`` key defines macros for the whole
notebook. So each chapter starts with a small markdown cell holding that front matter, tagged
``remove-cell``: myst-nb skips it, so the HTML book does not show it.

Usage::

    python scripts/live_myst_macros.py           # write/refresh the cell in every chapter
    python scripts/live_myst_macros.py --check   # exit 1 if a chapter lacks the current cell

``tests/test_live_myst.py`` runs the check; run the script after adding a chapter or changing a
macro in ``_config.yml``. Only the first cell is written; the rest of a notebook is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Math macros of the book for JupyterLab (jupyterlab-myst)"
CELL_ID = "live-myst-macros"


def book_macros(config: Path = ROOT / "_config.yml") -> dict[str, str]:
    """``{"\\\\name": "TeX body"}`` from ``_config.yml``'s MathJax macros (KaTeX infers ``#1``)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    macros = data["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    out = {}
    for name, body in macros.items():
        out["\\" + name] = body[0] if isinstance(body, list) else body
    return out


def cell_source(macros: dict[str, str]) -> str:
    """The front-matter cell's markdown."""
    lines = ["---", MARKER, "# (written by scripts/live_myst_macros.py from _config.yml; this cell",
             "# is removed from the HTML book by its remove-cell tag)", "math:"]
    lines += [f"  {json.dumps(name)}: {json.dumps(body)}" for name, body in macros.items()]
    lines.append("---")
    return "\n".join(lines)


def macro_cell(macros: dict[str, str]) -> dict:
    """The notebook cell (nbformat 4.5) holding the front matter."""
    source = cell_source(macros).splitlines(keepends=True)
    return {"cell_type": "markdown", "id": CELL_ID, "metadata": {"tags": ["remove-cell"]},
            "source": source}


def _has_cell(nb: dict) -> bool:
    cells = nb.get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        return False
    source = cells[0].get("source", "")
    return MARKER in ("".join(source) if isinstance(source, list) else source)


def updated(nb: dict, macros: dict[str, str]) -> dict:
    """``nb`` with the macro cell first (replaced when present, inserted otherwise)."""
    cells = list(nb.get("cells", []))
    cell = macro_cell(macros)
    if _has_cell(nb):
        cells[0] = cell
    else:
        cells.insert(0, cell)
    return {**nb, "cells": cells}


def _dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # the notebooks' own format


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    macros = book_macros()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    stale = []
    for path in notebooks:
        text = path.read_text(encoding="utf-8")
        new = _dump(updated(json.loads(text), macros))
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        names = ", ".join(p.name for p in stale)
        print(f"the live-MyST macro cell is missing or stale in: {names}; "
              "run python scripts/live_myst_macros.py", file=sys.stderr)
        return 1
    if not args.check:
        print(f"updated {len(stale)} of {len(notebooks)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
