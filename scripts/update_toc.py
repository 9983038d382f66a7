"""Write _toc.yml from the pages and the chapter notebooks that exist.

Usage::

    python scripts/update_toc.py           # rewrite _toc.yml
    python scripts/update_toc.py --check   # exit 1 if _toc.yml is not what this script would write

Chapters are ``chapters/NN_slug.ipynb``; the number NN places a chapter in its part (DESIGN.md:
01 tour; Part I 02-04; Part II 05-07; Part III 08-11; Part IV 12-15). A part without chapters is
left out, so the table of contents never names a file that does not exist.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (caption, first chapter number, last chapter number, pages before the chapters, pages after)
PARTS = [
    ("Start here", 1, 1, ["notation"], []),
    ("Part I: the phenomenon and the theorem", 2, 4, [], []),
    ("Part II: the lemmas", 5, 7, [], []),
    ("Part III: the neural tangent kernel", 8, 11, [], []),
    ("Part IV: beyond the basic theory", 12, 15, [], []),
    ("For instructors and reference", 0, -1, ["teaching", "bibliography"], []),
]
HEADER = """\
# Table of contents (Jupyter Book 1.x, jb-book format), written by scripts/update_toc.py from the
# files that exist. tests/test_repo.py fails if an entry has no file or a chapters/*.ipynb is
# not listed. Parts (DESIGN.md): 01 tour; Part I 02-04; Part II 05-07; Part III 08-11;
# Part IV 12-15.
format: jb-book
root: intro
parts:
"""


def chapter_numbers(root: Path = ROOT) -> dict[int, list[str]]:
    """Chapter documents (without suffix) by number, from ``chapters/NN_slug.ipynb``."""
    found: dict[int, list[str]] = {}
    for path in sorted((root / "chapters").glob("*.ipynb")):
        match = re.match(r"(\d{2})_[\w-]+$", path.stem)
        if match is None:
            raise ValueError(f"{path.name}: chapter files must be named NN_slug.ipynb")
        found.setdefault(int(match.group(1)), []).append(f"chapters/{path.stem}")
    return found


def render_toc(root: Path = ROOT) -> str:
    """The _toc.yml text for the files under ``root``."""
    chapters = chapter_numbers(root)
    placed = set()
    lines = [HEADER]
    for caption, first, last, before, after in PARTS:
        docs = [p for p in before if (root / f"{p}.md").exists()]
        for number in range(first, last + 1):
            docs += chapters.get(number, [])
            placed.add(number)
        docs += [p for p in after if (root / f"{p}.md").exists()]
        if docs:
            lines.append(f'  - caption: "{caption}"\n    chapters:\n')
            lines += [f"      - file: {doc}\n" for doc in docs]
    unplaced = sorted(set(chapters) - placed)
    if unplaced:
        raise ValueError(f"chapter numbers {unplaced} belong to no part: extend PARTS")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args(argv)
    text = render_toc()
    toc = ROOT / "_toc.yml"
    if args.check:
        same = toc.exists() and toc.read_text(encoding="utf-8") == text
        print("_toc.yml is up to date" if same else "_toc.yml differs: run scripts/update_toc.py")
        return 0 if same else 1
    toc.write_text(text, encoding="utf-8")
    print(f"wrote {toc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
