"""scripts/student_edition.py: stripping solutions, the student tree, the leak check, publishing.

Every check is also run on fabricated input with a solution left in, so it can be seen to fail.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


se = _load("student_edition")


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text, outputs=None):
    return {"cell_type": "code", "metadata": {"tags": ["x"]}, "source": text,
            "outputs": outputs or [], "execution_count": 3 if outputs else None}


def notebook(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def sources(nb):
    return ["".join(c["source"]) for c in nb["cells"]]


EXERCISE_AND_START = """\
## Exercises

```{exercise}
:label: ex-a
Compute the crossover depth of the two bounds.
```

```{solution-start} ex-a
:class: dropdown
```
We compare logarithms of both sides very carefully here.
"""
END_AND_NEXT = """\
From seventy five layers on the exponential bound is larger.
```{solution-end}
```

```{exercise}
:label: ex-b
Second exercise statement stays in the student edition.
```

````{solution} ex-b
:class: dropdown
The plain solution directive text must go away as well.
```python
secret_value = compute_the_plain_solution(42)
```
````

:::{solution-start} ex-c
:::
Colon fenced solution prose that must also disappear.
:::{solution-end}
:::
Text after the last solution stays.
"""
FABRICATED = notebook(
    md("(ch-x)=\n# A chapter"),
    code("import math", outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}]),
    md(EXERCISE_AND_START),
    code("crossover = int(poly_larger_than_exponential.max()) + 1\nprint(crossover)"),
    md(END_AND_NEXT),
    code("assert True  # a theory check after the exercises"),
)


# ------------------------------------------------------------------------------ stripping

def test_strip_notebook_removes_every_kind_of_solution():
    student, stripper = se.strip_notebook(FABRICATED, "ch.ipynb")
    text = "\n".join(sources(student))
    assert [s.label for s in stripper.solutions] == ["ex-a", "ex-b", "ex-c"]
    for gone in ("{solution", "compare logarithms", "crossover = int", "seventy five",
                 "plain solution directive", "secret_value", "Colon fenced"):
        assert gone not in text, gone
    for kept in ("# A chapter", "import math", ":label: ex-a", "Compute the crossover",
                 "Second exercise statement", "Text after the last solution stays",
                 "assert True"):
        assert kept in text, kept
    # the solution's code cell is gone, the other code cells are kept and stripped of outputs
    codes = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert len(codes) == 2 and all(c["outputs"] == [] and c["execution_count"] is None
                                   for c in codes)
    assert codes[0]["metadata"] == {"tags": ["x"]}
    assert student["metadata"] == FABRICATED["metadata"] and "\n\n\n" not in text
    # what was removed is recorded, for the leak check
    sol_a = stripper.solutions[0].text
    assert "compare logarithms" in sol_a and "crossover = int" in sol_a and "seventy five" in sol_a
    assert "secret_value" in stripper.solutions[1].text
    assert ":class:" not in stripper.solutions[1].text
    # the input is not modified
    assert "solution-start" in FABRICATED["cells"][2]["source"]


def test_a_cell_made_only_of_solution_is_dropped():
    nb = notebook(md("```{exercise}\n:label: ex-a\nQ\n```\n```{solution-start} ex-a\n```"),
                  md("only solution prose"), code("x = 1"), md("```{solution-end}\n```"))
    student, _ = se.strip_notebook(nb)
    assert sources(student) == ["```{exercise}\n:label: ex-a\nQ\n```"]


@pytest.mark.parametrize("cells, message", [
    ([md("```{solution-start} ex-a\n```"), code("x")], "ex-a has no {solution-end}"),
    ([md("```{solution-end}\n```")], "without a {solution-start}"),
    ([md("```{solution-start} ex-a\n```\n```{solution-start} ex-b\n```")], "inside the solution"),
    ([md("```{solution-start} ex-a\n:class: dropdown\n")], "not closed"),
])
def test_malformed_solutions_are_errors(cells, message):
    with pytest.raises(ValueError, match=message):
        se.strip_notebook(notebook(*cells), "bad.ipynb")


def test_markdown_page():
    text, stripper = se.strip_markdown_page(END_AND_NEXT.replace("From seventy", "x\n"
                                            "```{solution-start} ex-z\n```\nFrom seventy"))
    assert "seventy" not in text and "Second exercise statement" in text
    assert len(stripper.solutions) == 3


# ------------------------------------------------------------------------------ the tree

def make_repo(root: Path) -> Path:
    (root / "chapters").mkdir(parents=True)
    (root / "chapters" / "01_x.ipynb").write_text(json.dumps(FABRICATED))
    (root / "intro.md").write_text("# Intro\n\nSee the exercises.\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nparts:\n  - caption: P\n"
                                   "    chapters:\n      - file: chapters/01_x\n")
    (root / "_config.yml").write_text("title: A book\nrepository:\n  url: https://x/y\n"
                                      "  branch: main\nhtml:\n  extra_footer: built\n")
    (root / "README.md").write_text("# Read me\n")
    (root / "DESIGN.md").write_text("solutions via\n  ```{solution-start} ex-...``` (inline)\n")
    return root


def test_build_tree(tmp_path):
    root = make_repo(tmp_path / "repo")
    report = se.build_tree(root, root / "_build" / "student" / "src", branch="students")
    dest = report.dest
    assert {p.as_posix() for p in report.pages} == {"chapters/01_x.ipynb", "intro.md"}
    assert len(report.solutions) == 3
    student = json.loads((dest / "chapters" / "01_x.ipynb").read_text())
    assert "seventy five" not in json.dumps(student)
    config = yaml.safe_load((dest / "_config.yml").read_text())
    assert config["repository"] == {"url": "https://x/y", "branch": "students"}
    assert config["title"] == "A book (student edition)"
    assert "Student edition" in config["html"]["extra_footer"]
    assert (dest / "README.md").read_text().startswith("> **Student edition.**")
    # files that are not book pages are copied as they are (DESIGN.md mentions the directive)
    assert (dest / "DESIGN.md").read_text() == (root / "DESIGN.md").read_text()
    assert not (dest / "_build").exists()
    with pytest.raises(ValueError, match="refusing"):
        se.build_tree(root, root / "chapters")


def test_leak_check_passes_on_the_tree_and_fails_with_a_solution_left_in(tmp_path):
    root = make_repo(tmp_path / "repo")
    dest = root / "_build" / "student" / "src"
    se.build_tree(root, dest)
    report = se.find_leaks(root, tree=dest)
    assert report.ok, report.problems
    assert report.solutions == 3 and report.probes >= 6
    # put the solution's code cell back into the student notebook
    path = dest / "chapters" / "01_x.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"].insert(3, code("crossover = int(poly_larger_than_exponential.max()) + 1"))
    path.write_text(json.dumps(nb))
    problems = se.find_leaks(root, tree=dest).problems
    assert len(problems) == 1 and "ex-a" in problems[0] and "01_x.ipynb" in problems[0]
    # a leftover directive is caught even without its text
    nb["cells"][3] = md("```{solution-start} ex-a\n```\n```{solution-end}\n```")
    path.write_text(json.dumps(nb))
    assert any("{solution-start}" in p for p in se.find_leaks(root, tree=dest).problems)


def write_site(path: Path, body: str) -> Path:
    (path / "_sources").mkdir(parents=True)
    (path / "index.html").write_text(f"<html><body>{body}</body></html>")
    (path / "searchindex.js").write_text('Search.setIndex({"terms": {}})')
    return path


INSTRUCTOR_BODY = """
<div class="exercise admonition" id="ex-a">
<p>Compute the crossover depth of the two bounds.</p></div>
<div class="solution dropdown admonition"><p>We compare <em>logarithms</em> of both sides very
carefully here.</p>
<pre><span class="n">crossover</span> <span class="o">=</span> <span class="nb">int</span>(
poly_larger_than_exponential.max()) + 1</pre>
<p>From seventy&#8209;five layers on the exponential bound is larger.</p></div>
<div class="solution"><p>The plain solution directive text must go away as well.</p></div>
<div class="solution"><p>Colon fenced solution prose that must also disappear.</p></div>
"""


def test_leak_check_of_html(tmp_path):
    root = make_repo(tmp_path / "repo")
    instructor = write_site(tmp_path / "inst", INSTRUCTOR_BODY)
    clean = write_site(tmp_path / "clean", '<div class="exercise">Compute the crossover depth of '
                                           "the two bounds.</div><p>solution-free text</p>")
    report = se.find_leaks(root, html=clean, instructor_html=instructor)
    assert report.ok, report.problems
    assert 0 < report.html_probes < report.probes
    # the instructor site itself is full of leaks: every solution is found, and the classes
    leaky = se.find_leaks(root, html=instructor, instructor_html=instructor).problems
    assert sum("student HTML index.html: text of the solution" in p for p in leaky) >= 4
    assert {lab for lab in ("ex-a", "ex-b", "ex-c") if any(lab in p for p in leaky)} == {
        "ex-a", "ex-b", "ex-c"}
    assert any("class `solution`" in p for p in leaky)
    # a leak in the search index or the copied sources counts too
    (clean / "_sources" / "ch.ipynb").write_text('{"source": "We compare logarithms of both '
                                                 'sides very carefully here."}')
    assert not se.find_leaks(root, html=clean, instructor_html=instructor).ok


def test_leak_check_needs_every_solution_visible_in_the_instructor_html(tmp_path):
    root = make_repo(tmp_path / "repo")
    instructor = write_site(tmp_path / "inst", INSTRUCTOR_BODY.split('<div class="solution">')[0])
    clean = write_site(tmp_path / "clean", "<p>nothing</p>")
    problems = se.find_leaks(root, html=clean, instructor_html=instructor).problems
    assert len(problems) == 2 and all("cannot be checked" in p for p in problems)
    assert "ex-b" in problems[0] and "ex-c" in problems[1]


def test_launch_buttons_must_open_the_student_branch(tmp_path):
    root = make_repo(tmp_path / "repo")
    with (root / "_config.yml").open("a") as f:
        f.write("launch_buttons:\n  binderhub_url: https://mybinder.org\n"
                "  colab_url: https://colab.research.google.com\n")
    (root / "_config.yml").write_text((root / "_config.yml").read_text().replace(
        "https://x/y", "https://github.com/org/book"))
    dest = root / "_build" / "student" / "src"
    se.build_tree(root, dest, branch="student")
    html = tmp_path / "html"
    (html / "chapters").mkdir(parents=True)
    page = html / "chapters" / "01_x.html"

    def links(branch):
        return (f'<a href="https://mybinder.org/v2/gh/org/book/{branch}?urlpath=lab/tree/./'
                f'chapters/01_x.ipynb">b</a><a href="https://colab.research.google.com/github/'
                f'org/book/blob/{branch}/./chapters/01_x.ipynb">c</a>')

    page.write_text(links("student"))
    assert se.launch_problems(html, dest) == []
    page.write_text(links("main"))
    problems = se.launch_problems(html, dest)
    assert len(problems) == 2 and all("does not open branch student" in p for p in problems)
    page.write_text("<p>no buttons</p>")
    assert "no launch button" in se.launch_problems(html, dest)[0]
    # find_leaks runs it when it has both the tree and the HTML
    page.write_text(links("main"))
    assert any("does not open branch" in p for p in se.find_leaks(root, tree=dest,
                                                                   html=html).problems)


def test_publish_commits_the_tree_to_a_branch(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = make_repo(tmp_path / "repo")
    (root / ".gitignore").write_text("_build/\n__pycache__/\n")

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=root, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "commit.gpgsign=false", "commit", "-qm", "instructor")
    head, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    dest = root / "_build" / "student" / "src"
    se.build_tree(root, dest)
    (dest / "__pycache__").mkdir()      # what a build leaves in the tree is not published
    (dest / "__pycache__" / "x.pyc").write_bytes(b"x")
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "t")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t@t")
    first = se.publish(root, dest, "student", "student edition")
    again = se.publish(root, dest, "student", "student edition")
    assert first == again == git("rev-parse", "student")
    files = git("ls-tree", "-r", "--name-only", "student").split()
    assert "chapters/01_x.ipynb" in files and ".gitignore" in files
    assert not any(f.startswith(("_build", "__pycache__")) for f in files)
    assert "seventy five" not in git("show", "student:chapters/01_x.ipynb")
    assert "branch: student" in git("show", "student:_config.yml")
    # the instructor branch, index and working tree are untouched
    assert git("rev-parse", "HEAD") == head and git("status", "--porcelain") == status


# ------------------------------------------------------------------------------ the book itself

def test_the_book_strips_cleanly_and_keeps_every_exercise():
    report = se.read_solutions(ROOT)
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    labels = [s.label for s in report.solutions]
    assert len(labels) == len(set(labels)), "two solutions for one exercise"
    for path in chapters:
        nb = json.loads(path.read_text(encoding="utf-8"))
        student, stripper = se.strip_notebook(nb, path.name)
        before = "\n".join(sources(nb))
        after = "\n".join(sources(student))
        assert after.count("{exercise}") == before.count("{exercise}"), path.name
        assert "{solution" not in after, path.name
        # every exercise with a solution is still there
        for sol in stripper.solutions:
            assert f":label: {sol.label}" in after, (path.name, sol.label)
    probes = se.solution_probes(report.solutions, report.kept_text)
    covered = {(p.where, p.label) for p in probes}
    assert all((s.where, s.label) in covered for s in report.solutions if s.text.strip())


# ------------------------------------------------------------------------------ Sphinx extensions

def _load_ext(name: str):
    path = ROOT / "scripts" / "sphinx_ext" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_student_notebook_links():
    from types import SimpleNamespace

    links = _load_ext("student_links").notebook_links
    config = SimpleNamespace(student_branch="student", html_theme_options={
        "repository_url": "https://github.com/org/book", "path_to_docs": ".",
        "launch_buttons": {"binderhub_url": "https://mybinder.org",
                           "colab_url": "https://colab.research.google.com",
                           "notebook_interface": "jupyterlab"}})
    assert links(config, "chapters/01_tour") == {
        "file": "https://github.com/org/book/blob/student/chapters/01_tour.ipynb",
        "colab": "https://colab.research.google.com/github/org/book/blob/student/chapters/"
                 "01_tour.ipynb",
        "binder": "https://mybinder.org/v2/gh/org/book/student?urlpath=lab%2Ftree%2Fchapters%2F"
                  "01_tour.ipynb"}
    config.html_theme_options["path_to_docs"] = "book"
    assert links(config, "a").get("file", "").endswith("/blob/student/book/a.ipynb")
    config.html_theme_options = {}
    assert links(config, "a") == {}


def test_singlehtml_inherits_html_renderers():
    from types import SimpleNamespace

    inherit = _load_ext("singlehtml_handlers").inherit_html_handlers
    handlers = {"html": {"A": 1, "B": 2}, "singlehtml": {"B": 3}}
    app = SimpleNamespace(builder=SimpleNamespace(name="singlehtml"),
                          registry=SimpleNamespace(translation_handlers=handlers))
    inherit(app)
    assert handlers["singlehtml"] == {"A": 1, "B": 3}   # its own renderer wins
    app.builder.name = "html"
    handlers["html"]["C"] = 4
    inherit(app)
    assert "C" not in handlers["singlehtml"]
