"""Fail if a notebook in chapters/ is committed with outputs or execution counts.

Usage::

    python scripts/check_notebooks.py            # every chapters/*.ipynb
    python scripts/check_notebooks.py a.ipynb b.ipynb

Notebooks are stored stripped (the book build and nbval execute them); outputs in git would be
stale, large and hide whether the committed code still produces them. Exit status 1 lists each
offending cell; fix with ``jupyter nbconvert --clear-output --inplace FILE`` (which also resets
execution counts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def notebook_problems(nb: dict) -> list[str]:
    """Problems of one notebook (as parsed JSON): code cells with outputs or an execution count.

    Args:
        nb: the notebook dict (nbformat 4 JSON).

    Returns:
        One message per offending cell, e.g. ``"cell 3: 2 output(s)"``; empty when clean.
    """
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") or []
        count = cell.get("execution_count")
        found = []
        if outputs:
            found.append(f"{len(outputs)} output(s)")
        if count is not None:
            found.append(f"execution_count={count}")
        if found:
            problems.append(f"cell {index}: " + ", ".join(found))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or sorted((ROOT / "chapters").glob("*.ipynb"))
    bad = 0
    for path in paths:
        problems = notebook_problems(json.loads(path.read_text(encoding="utf-8")))
        if problems:
            bad += 1
            print(f"{path}: committed with outputs; run "
                  f"`jupyter nbconvert --clear-output --inplace {path}`")
            for problem in problems:
                print(f"    {problem}")
    print(f"check_notebooks: {len(paths) - bad}/{len(paths)} notebooks stripped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
