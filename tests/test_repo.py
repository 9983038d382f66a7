"""Repository-level checks: stripped notebooks, theory checks in every chapter, ruff, the TOC.

Each checker is also run on fabricated input so that the test can be seen to fail.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PAGE_SUFFIXES = (".md", ".ipynb", ".rst")
_ASSERT = re.compile(r"^\s*assert\b", re.MULTILINE)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


notebook_problems = _load_script("check_notebooks").notebook_problems
update_toc = _load_script("update_toc")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def has_assert_cell(nb: dict) -> bool:
    """True when some code cell has an ``assert`` statement (a theory check)."""
    return any(cell.get("cell_type") == "code" and _ASSERT.search(_source(cell))
               for cell in nb.get("cells", []))


def toc_files(toc: dict) -> list[str]:
    """Every document named in a jb-book ``_toc.yml`` (root, parts, chapters, sections)."""
    found = [toc["root"]] if "root" in toc else []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return found


def resolve(doc: str, root: Path = ROOT) -> Path | None:
    """The file behind a TOC entry (entries may omit the suffix), or None if none exists."""
    path = root / doc
    if path.suffix in PAGE_SUFFIXES and path.exists():
        return path
    for suffix in PAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            return candidate
    return None


# ---------------------------------------------------------------- the checkers on fabricated input

def _code(source, outputs=None, count=None):
    return {"cell_type": "code", "source": source, "metadata": {},
            "outputs": outputs or [], "execution_count": count}


def test_notebook_checker_flags_outputs_and_counts():
    clean = {"cells": [{"cell_type": "markdown", "source": "# t", "metadata": {}},
                       _code("x = 1")]}
    assert notebook_problems(clean) == []
    dirty = {"cells": [_code("x = 1", count=3),
                       _code("print(1)", outputs=[{"output_type": "stream", "text": "1"}]),
                       _code("y = 2")]}
    problems = notebook_problems(dirty)
    assert len(problems) == 2
    assert "execution_count=3" in problems[0] and "1 output(s)" in problems[1]


def test_assert_checker():
    assert has_assert_cell({"cells": [_code(["x = 1\n", "assert x == 1, 'msg'\n"])]})
    # an assert in markdown or a word containing "assert" is not a theory check
    assert not has_assert_cell({"cells": [
        {"cell_type": "markdown", "source": "assert x", "metadata": {}},
        _code("reassert = 1\n# we assert nothing")]})


def test_toc_checker(tmp_path):
    (tmp_path / "intro.md").write_text("# x")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01_a.ipynb").write_text("{}")
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "p", "chapters": [{"file": "chapters/01_a"},
                                      {"file": "missing", "sections": [{"file": "deep"}]}]}]}
    assert toc_files(toc) == ["intro", "chapters/01_a", "missing", "deep"]
    assert resolve("intro", tmp_path) == tmp_path / "intro.md"
    assert resolve("chapters/01_a", tmp_path) == tmp_path / "chapters" / "01_a.ipynb"
    assert resolve("missing", tmp_path) is None


def test_update_toc_places_chapters_in_parts(tmp_path):
    for page in ("intro", "notation", "teaching", "bibliography"):
        (tmp_path / f"{page}.md").write_text("# x")
    (tmp_path / "chapters").mkdir()
    for name in ("01_tour", "03_two", "09_exact"):
        (tmp_path / "chapters" / f"{name}.ipynb").write_text("{}")
    toc = yaml.safe_load(update_toc.render_toc(tmp_path))
    captions = [part["caption"] for part in toc["parts"]]
    assert captions[0] == "Start here" and "Part II: the lemmas" not in captions
    files = toc_files(toc)
    assert files[:3] == ["intro", "notation", "chapters/01_tour"]
    position = files.index
    assert position("chapters/03_two") < position("chapters/09_exact") < position("teaching")
    assert all(resolve(doc, tmp_path) for doc in files)
    (tmp_path / "chapters" / "badname.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="NN_slug"):
        update_toc.render_toc(tmp_path)


# ---------------------------------------------------------------- the repository itself

@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_is_stripped(path):
    problems = notebook_problems(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, (f"{path.name} is committed with outputs: {problems}; run "
                          f"`jupyter nbconvert --clear-output --inplace {path}`")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_has_theory_check(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert has_assert_cell(nb), (f"{path.name} has no code cell with `assert`: add a theory-check "
                                 "cell that asserts what the theorem predicts")


def test_toc_lists_existing_files_and_every_chapter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    assert toc.get("format") == "jb-book" and toc.get("root") == "intro"
    files = toc_files(toc)
    missing = [doc for doc in files if resolve(doc) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    listed = {resolve(doc).resolve() for doc in files}
    unlisted = [p.name for p in CHAPTERS if p.resolve() not in listed]
    assert not unlisted, f"chapters missing from _toc.yml (add them to their part): {unlisted}"
    assert len(files) == len(set(files)), "a file is listed twice in _toc.yml"


_CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]*)`")


def cited_keys(sources) -> set[str]:
    """Citation keys of every ``{cite}``/``{cite:t}``/... role in the given texts."""
    return {key.strip() for src in sources for group in _CITE.findall(src)
            for key in group.split(",") if key.strip()}


def test_cited_keys_are_in_references_bib():
    """DESIGN.md allows the keys of references.bib only: every key a chapter cites is there,
    exactly once."""
    design = (ROOT / "DESIGN.md").read_text(encoding="utf-8")
    assert "Citations: keys of `references.bib`" in design
    keys = cited_keys(_source(cell) for path in CHAPTERS
                      for cell in json.loads(path.read_text(encoding="utf-8"))["cells"])
    assert len(keys) >= 20
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    entries = re.findall(r"^@\w+\{([^,]+),", bib, re.MULTILINE)
    assert len(entries) == len(set(entries)), "duplicate key in references.bib"
    missing = keys - set(entries)
    assert not missing, f"keys missing from references.bib: {sorted(missing)}"


def test_cited_keys_parser_sees_every_role():
    text = "see {cite}`a2019x, b2020y` and {cite:t}`c2021z`; not `{cite}` alone"
    assert cited_keys([text]) == {"a2019x", "b2020y", "c2021z"}


def test_ruff_clean():
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.fail("ruff is not installed: pip install -r requirements.txt")
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"ruff check . failed:\n{result.stdout}\n{result.stderr}"
