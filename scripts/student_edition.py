"""The student edition: the book's source tree without solutions, and the check that none leaks.

Usage::

    python scripts/student_edition.py build     # write the student tree _build/student/src
    python scripts/student_edition.py check --html _build/student/_build/html \\
        [--instructor-html _build/html]          # no solution text in the student edition
    python scripts/student_edition.py publish   # commit the tree to the branch `student`

``scripts/build_student.sh`` runs ``build``, the Jupyter Book build of the tree and ``check``.

**What is a solution.** Exactly what sphinx-exercise renders as one, in the pages that
``_toc.yml`` lists (notebooks and MyST markdown): a gated solution runs from a ``{solution-start}``
directive to the next ``{solution-end}`` directive, across cells (the code cells in between are
part of it); text before the start or after the end in the same markdown cell is kept. A plain
``{solution}`` directive is removed as a whole. An unmatched start or end is an error, never
silently kept.

**The tree.** ``build`` copies every file of the repository that git tracks or would track (so
``pip install -e .``, ``ntklib`` and the requirements work on Binder), strips the solutions and the
outputs from the book's pages, and rewrites ``_config.yml``: the title says "student edition" and
``repository.branch`` is the student branch, so the launch buttons (Binder, Colab) of the student
HTML open the notebooks *without* solutions. ``publish`` commits the tree to that branch (without
touching the working tree or the index); ``git push origin student`` then publishes it.

**The check.** Every solution of the instructor sources yields *probes*: its code lines and runs of
prose words, normalised to lower-case alphanumeric words (HTML rendering, smart quotes and syntax
highlighting do not change them). Probes that also occur outside solutions are dropped. The student
pages must contain no probe and no solution directive; the student HTML (pages, search index and
copied sources) must contain no probe and no element of class ``solution``. Given the instructor
HTML, each probe is first looked up there: only probes seen in the instructor HTML are used for
the HTML check, and a solution none of whose probes is seen there is an error (the check could not
tell whether it leaked).
"""

from __future__ import annotations

import argparse
import copy
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = Path("_build/student/src")
DEFAULT_BRANCH = "student"
TITLE_SUFFIX = " (student edition)"
PAGE_SUFFIXES = (".md", ".ipynb", ".rst")
SOLUTION_DIRECTIVES = ("solution-start", "solution-end", "solution")

# the opening line of a MyST directive: ```{name} argument   or   :::{name} argument
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[^}\s]+)\}[ \t]*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^\s*:[\w-]+:")
_ANY_SOLUTION_DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")
_SOLUTION_CLASS = re.compile(r"""class=["'][^"']*\bsolution\b""")


# ------------------------------------------------------------------------------ stripping

@dataclass
class Solution:
    """One solution removed from a page: its exercise label, where it was, and its text."""

    label: str
    where: str
    parts: list[str] = field(default_factory=list)   # markdown pieces and code cell sources

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``lines[start]`` with ``fence``."""
    close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
    for j in range(start + 1, len(lines)):
        if close.match(lines[j]):
            return j
    return -1


class SolutionStripper:
    """Removes solutions from a sequence of cells (or markdown texts) of one page.

    Feed the cells in order with :meth:`markdown` and :meth:`code`; call :meth:`finish` at the end.
    ``solutions`` collects what was removed; ``kept`` the text that stays (for the probes).
    """

    def __init__(self, where: str):
        self.where = where
        self.current: Solution | None = None
        self.solutions: list[Solution] = []
        self.kept: list[str] = []

    def _error(self, cell: int | None, message: str) -> ValueError:
        at = f"{self.where}" + (f", cell {cell}" if cell is not None else "")
        return ValueError(f"{at}: {message}")

    def markdown(self, text: str, cell: int | None = None) -> str:
        """The part of a markdown text outside solutions (solution text goes to ``solutions``)."""
        lines = text.splitlines(keepends=True)
        kept: list[str] = []
        inside: list[str] = []
        i = 0
        while i < len(lines):
            match = _OPEN.match(lines[i])
            name = match.group("name") if match else None
            if name not in SOLUTION_DIRECTIVES:
                (inside if self.current else kept).append(lines[i])
                i += 1
                continue
            end = _closing(lines, i, match.group("fence"))
            if end < 0:
                raise self._error(cell, f"the {{{name}}} directive on line {i + 1} is not closed")
            label = match.group("arg").strip()
            if name == "solution-end":
                if self.current is None:
                    raise self._error(cell, "{solution-end} without a {solution-start} before it")
                self.current.parts.append("".join(inside))
                inside = []
                self.solutions.append(self.current)
                self.current = None
            elif self.current is not None:
                raise self._error(cell, f"{{{name}}} {label} inside the solution of "
                                        f"{self.current.label}: close that with {{solution-end}}")
            elif name == "solution-start":
                self.current = Solution(label, self.where)
            else:  # a plain {solution} directive: its body is the solution
                body = [ln for ln in lines[i + 1:end] if not _OPTION.match(ln)]
                self.solutions.append(Solution(label, self.where, ["".join(body)]))
            i = end + 1
        if self.current is not None and inside:
            self.current.parts.append("".join(inside))
        result = re.sub(r"\n{3,}", "\n\n", "".join(kept))
        self.kept.append(result)
        return result

    def code(self, source: str) -> bool:
        """Record a code (or raw) cell; True if it is kept, False if it belongs to a solution."""
        if self.current is not None:
            self.current.parts.append(source)
            return False
        self.kept.append(source)
        return True

    def finish(self) -> None:
        if self.current is not None:
            raise self._error(None, f"{{solution-start}} {self.current.label} has no "
                                    "{solution-end}")


def strip_notebook(nb: dict, where: str = "notebook") -> tuple[dict, SolutionStripper]:
    """A copy of ``nb`` without solutions and outputs; the stripper holds what was removed.

    Markdown cells left empty are dropped. Code cells keep their metadata; outputs and execution
    counts are cleared (the tree is committed like the instructor sources, stripped).
    """
    stripper = SolutionStripper(where)
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = _source(cell)
        if cell.get("cell_type") == "markdown":
            text = stripper.markdown(source, index).strip("\n")
            if text.strip():
                new = copy.deepcopy(cell)
                new["source"] = (text.splitlines(keepends=True)
                                 if isinstance(cell.get("source"), list) else text)
                cells.append(new)
        elif stripper.code(source):
            new = copy.deepcopy(cell)
            if new.get("cell_type") == "code":
                new["outputs"] = []
                new["execution_count"] = None
            cells.append(new)
    stripper.finish()
    out = copy.deepcopy({k: v for k, v in nb.items() if k != "cells"})
    out["cells"] = cells
    return out, stripper


def strip_markdown_page(text: str, where: str = "page") -> tuple[str, SolutionStripper]:
    """A MyST markdown page without its solutions."""
    stripper = SolutionStripper(where)
    result = stripper.markdown(text)
    stripper.finish()
    return result, stripper


# ------------------------------------------------------------------------------ the tree

def toc_pages(root: Path) -> list[Path]:
    """Every page file (relative to ``root``) that ``_toc.yml`` names, plus chapters/*.ipynb."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    docs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    docs.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    pages = []
    for doc in docs:
        path = root / doc
        candidates = [path] if path.suffix in PAGE_SUFFIXES else [
            path.with_name(path.name + s) for s in PAGE_SUFFIXES]
        pages.extend(c.relative_to(root) for c in candidates if c.is_file())
    pages.extend(p.relative_to(root) for p in sorted((root / "chapters").glob("*.ipynb")))
    return sorted(set(pages))


def repository_files(root: Path) -> list[Path]:
    """Files git tracks or would track (tracked plus untracked, not ignored), relative to root."""
    try:
        cmd = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        out = subprocess.run(cmd, cwd=root, capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".ruff_cache",
                ".ipynb_checkpoints", ".ntklib_cache", ".notes"}
        names = [str(p.relative_to(root)) for p in root.rglob("*")
                 if p.is_file() and not skip.intersection(p.relative_to(root).parts)]
    return sorted(Path(n) for n in names if (root / n).is_file())


def configured_branch(root: Path) -> str:
    """The student branch: env ``STUDENT_BRANCH``, else ``sphinx.config.student_branch`` of
    ``_config.yml`` (the ``{student-notebook}`` links use it too), else ``student``."""
    if os.environ.get("STUDENT_BRANCH"):
        return os.environ["STUDENT_BRANCH"]
    try:
        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
        return str(((config.get("sphinx") or {}).get("config") or {}).get("student_branch")
                   or DEFAULT_BRANCH)
    except OSError:
        return DEFAULT_BRANCH


def student_config(text: str, branch: str) -> str:
    """The student ``_config.yml``: the title says so, the launch buttons open ``branch``."""
    config = yaml.safe_load(text)
    title = str(config.get("title", "Book"))
    if not title.endswith(TITLE_SUFFIX):
        config["title"] = title + TITLE_SUFFIX
    config.setdefault("repository", {})["branch"] = branch
    sphinx = config.setdefault("sphinx", {}) or {}
    config["sphinx"] = sphinx
    sphinx.setdefault("config", {})["student_branch"] = branch
    html = config.setdefault("html", {})
    html["extra_footer"] = ((html.get("extra_footer") or "") +
                            " Student edition: exercises without solutions.").strip()
    header = ("# Generated by scripts/student_edition.py from the instructor _config.yml: the\n"
              f"# student edition (no solutions); launch buttons open branch `{branch}`.\n"
              "# Do not edit here.\n")
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


STUDENT_NOTE = """\
> **Student edition.** This branch is generated from the instructor sources by
> `bash scripts/build_student.sh` (see the README there): the exercises are here, their solutions
> are not. Do not edit it by hand; changes belong on the main branch.

"""


@dataclass
class TreeReport:
    dest: Path
    files: int = 0
    pages: list[Path] = field(default_factory=list)
    solutions: list[Solution] = field(default_factory=list)
    kept_text: list[str] = field(default_factory=list)


def read_solutions(root: Path) -> TreeReport:
    """Parse the instructor pages: every solution and the text outside solutions (no writing)."""
    report = TreeReport(dest=root)
    for rel in toc_pages(root):
        _, stripper = _strip_file(root / rel, rel)
        report.pages.append(rel)
        report.solutions.extend(stripper.solutions)
        report.kept_text.extend(stripper.kept)
    return report


def _strip_file(path: Path, rel: Path) -> tuple[str, SolutionStripper]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        nb, stripper = strip_notebook(json.loads(text), str(rel))
        return json.dumps(nb, indent=1, ensure_ascii=False) + "\n", stripper
    return strip_markdown_page(text, str(rel))


def build_tree(root: Path, dest: Path, *, branch: str = DEFAULT_BRANCH) -> TreeReport:
    """Write the student source tree of the repository at ``root`` into ``dest`` (replaced)."""
    root, dest = root.resolve(), dest.resolve()
    inside = root in dest.parents
    if dest == root or dest in root.parents or (
            inside and dest.relative_to(root).parts[0] != "_build"):
        raise ValueError(f"refusing to replace {dest} by the student tree: use a folder "
                         "under _build/")
    if dest.exists():
        shutil.rmtree(dest)
    pages = set(toc_pages(root))
    report = TreeReport(dest=dest)
    for rel in repository_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in pages:
            text, stripper = _strip_file(root / rel, rel)
            target.write_text(text, encoding="utf-8")
            report.pages.append(rel)
            report.solutions.extend(stripper.solutions)
            report.kept_text.extend(stripper.kept)
        elif rel == Path("_config.yml"):
            target.write_text(student_config((root / rel).read_text(encoding="utf-8"), branch),
                              encoding="utf-8")
        elif rel == Path("README.md"):
            target.write_text(STUDENT_NOTE + (root / rel).read_text(encoding="utf-8"),
                              encoding="utf-8")
        else:
            shutil.copy2(root / rel, target)
        report.files += 1
    return report


# ------------------------------------------------------------------------------ the leak check

def normalize(text: str) -> str:
    """Lower-case alphanumeric words separated by single spaces (what survives any rendering)."""
    return " ".join(re.findall(r"[0-9a-z]+", unicodedata.normalize("NFKC", text).lower()))


_MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.S)
_BREAKS = re.compile(
    r"\$[^$\n]*\$"            # inline math
    r"|`[^`\n]*`"             # inline code and the argument of a role
    r"|\{[\w:-]+\}"           # a role name such as {cite}
    r"|\]\([^)]*\)"           # a link target
    r"|^\s*(?:`{3,}|:{3,}).*$"  # fences and directive lines
    r"|^\s*:[\w-]+:.*$",      # directive options
    re.M)


@dataclass(frozen=True)
class Probe:
    label: str
    where: str
    kind: str      # "code" or "text"
    text: str      # normalised


def solution_probes(solutions: list[Solution], kept_text: list[str], *,
                    min_code_words: int = 4, min_text_words: int = 6) -> list[Probe]:
    """Distinctive normalised fragments of each solution that do not occur outside solutions."""
    outside = " " + " ".join(normalize(t) for t in kept_text) + " "
    probes: list[Probe] = []
    for sol in solutions:
        found: set[tuple[str, str]] = set()
        for part in sol.parts:
            # code lines (of code cells, and of code blocks in markdown) and prose fragments
            for line in part.splitlines():
                words = normalize(line)
                if len(words.split()) >= min_code_words and len(words) >= 16:
                    found.add(("code", words))
            prose = _BREAKS.sub("\n", _MATH_BLOCK.sub("\n", part))
            for fragment in re.split(r"\n\s*\n|[.;:!?]\s|\n(?=[-*+] |\d+\. |\(\w\) )", prose):
                words = normalize(fragment)
                if len(words.split()) >= min_text_words:
                    found.add(("text", words))
        for kind, words in sorted(found):
            if f" {words} " not in outside:
                probes.append(Probe(sol.label, sol.where, kind, words))
    return probes


def html_text(path: Path) -> str:
    """The visible text of an HTML (or JS/notebook) file, tags removed, entities decoded."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S | re.I)
        raw = re.sub(r"<[^>]+>", "", raw)   # tags split no word: <span>a</span>b is "ab"
    return html_lib.unescape(raw)


def site_files(html_dir: Path) -> list[Path]:
    """The files of a built site that carry book text: pages, search index, copied sources."""
    files = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    files += [p for p in (html_dir / "searchindex.js",) if p.exists()]
    sources = html_dir / "_sources"
    if sources.is_dir():
        files += [p for p in sources.rglob("*") if p.is_file()]
    return sorted(files)


def _page_texts(tree: Path) -> dict[str, str]:
    texts = {}
    for rel in toc_pages(tree):
        raw = (tree / rel).read_text(encoding="utf-8")
        if rel.suffix == ".ipynb":
            raw = "\n".join(_source(c) for c in json.loads(raw).get("cells", []))
        texts[str(rel)] = raw
    return texts


@dataclass
class LeakReport:
    problems: list[str] = field(default_factory=list)
    probes: int = 0
    html_probes: int = 0
    solutions: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def find_leaks(instructor_root: Path, *, tree: Path | None = None, html: Path | None = None,
               instructor_html: Path | None = None) -> LeakReport:
    """Check a student tree and/or student HTML against the solutions of the instructor sources."""
    source = read_solutions(instructor_root)
    probes = solution_probes(source.solutions, source.kept_text)
    report = LeakReport(probes=len(probes), solutions=len(source.solutions))
    with_probe = {(p.where, p.label) for p in probes}
    for sol in source.solutions:
        if (sol.where, sol.label) not in with_probe and sol.text.strip():
            report.problems.append(f"{sol.where}: the solution of {sol.label} has no distinctive "
                                   "line to look for (add a sentence or a line of code)")

    def scan(name: str, texts: dict[str, str], use: list[Probe]) -> None:
        normalised = {where: " " + normalize(text) + " " for where, text in texts.items()}
        for probe in use:
            for where, text in normalised.items():
                if f" {probe.text} " in text:
                    report.problems.append(f"{name} {where}: text of the solution of {probe.label} "
                                           f"({probe.where}, {probe.kind}): {probe.text[:80]!r}")
                    break

    if tree is not None:
        texts = _page_texts(tree)
        for where, text in texts.items():
            for match in _ANY_SOLUTION_DIRECTIVE.finditer(text):
                report.problems.append(f"student page {where}: contains {match.group(0)}")
        scan("student page", texts, probes)
    if html is not None:
        use = probes
        if instructor_html is not None:
            seen = " ".join(normalize(html_text(p)) for p in site_files(instructor_html))
            seen = f" {seen} "
            use = [p for p in probes if f" {p.text} " in seen]
            labels = {(p.where, p.label) for p in use}
            for sol in source.solutions:
                if (sol.where, sol.label) not in labels:
                    report.problems.append(
                        f"{sol.where}: no line of the solution of {sol.label} was found in the "
                        f"instructor HTML {instructor_html}, so its absence from the student HTML "
                        "cannot be checked")
        report.html_probes = len(use)
        files = site_files(html)
        if not files:
            report.problems.append(f"{html}: no HTML pages found (build the student edition first)")
        texts = {str(p.relative_to(html)): html_text(p) for p in files}
        for p in files:
            if p.suffix == ".html":
                raw = p.read_text(encoding="utf-8", errors="replace")
                if _SOLUTION_CLASS.search(raw):
                    report.problems.append(f"student HTML {p.relative_to(html)}: has an element "
                                           "of class `solution`")
        scan("student HTML", texts, use)
        if tree is not None and (tree / "_config.yml").exists():
            report.problems.extend(launch_problems(html, tree))
    return report


def launch_problems(html: Path, tree: Path) -> list[str]:
    """Launch buttons of the student HTML that do not open the student branch (or are missing).

    Every Binder or Colab link of every page must name the branch of the tree's ``_config.yml``,
    and every notebook page must have at least one (when launch buttons are configured).
    """
    config = yaml.safe_load((tree / "_config.yml").read_text(encoding="utf-8")) or {}
    repo = (config.get("repository") or {})
    match = re.match(r"https?://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", str(repo.get("url", "")))
    launch = config.get("launch_buttons") or {}
    starts = tuple(str(launch[k]).rstrip("/") for k in ("binderhub_url", "colab_url")
                   if launch.get(k))
    if match is None or not starts:
        return []
    slug, branch = match.group(1), str(repo.get("branch", ""))
    good = (f"/gh/{slug}/{branch}?", f"/gh/{slug}/{branch}/", f"/github/{slug}/blob/{branch}/")
    problems = []
    notebooks = {rel.with_suffix(".html") for rel in toc_pages(tree) if rel.suffix == ".ipynb"}
    for page in sorted(html.rglob("*.html")):
        rel = page.relative_to(html)
        if "_static" in rel.parts or "_sources" in rel.parts:
            continue
        links = [html_lib.unescape(u) for u in
                 re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8", errors="replace"))]
        links = [u for u in links if u.startswith(starts)]
        if rel in notebooks and not links:
            problems.append(f"student HTML {rel}: no launch button (Binder/Colab)")
        for url in links:
            if not any(g in url for g in good):
                problems.append(f"student HTML {rel}: launch link {url} does not open branch "
                                f"{branch}")
    return problems


# ------------------------------------------------------------------------------ publishing

def publish(root: Path, tree: Path, branch: str, message: str) -> str:
    """Commit ``tree`` as the next commit of local branch ``branch``; returns the commit hash.

    Uses a temporary index, so the working tree, the index and the current branch are untouched.
    """
    def git(*args, env=None, input_=None) -> str:
        return subprocess.run(["git", *args], cwd=root, env=env, input=input_, check=True,
                              capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        git("--work-tree", str(tree.resolve()), "add", "--all", ".", env=env)
        tree_id = git("write-tree", env=env)
    parents = []
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                      cwd=root, capture_output=True).returncode == 0:
        parent = git("rev-parse", f"refs/heads/{branch}")
        if git("rev-parse", f"{parent}^{{tree}}") == tree_id:
            return parent   # nothing changed
        parents = ["-p", parent]
    commit = git("commit-tree", tree_id, *parents, "-m", message)
    git("update-ref", f"refs/heads/{branch}", commit)
    return commit


# ------------------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="write the student source tree")
    p_check = sub.add_parser("check", help="fail if solution text reaches the student edition")
    p_pub = sub.add_parser("publish", help="commit the student tree to the student branch")
    for p in (p_build, p_check, p_pub):
        p.add_argument("--root", type=Path, default=ROOT, help="the instructor repository")
        p.add_argument("--dest", type=Path, default=None,
                       help=f"the student tree (default ROOT/{DEFAULT_DEST})")
    for p in (p_build, p_pub):
        p.add_argument("--branch", default=None,
                       help="default: env STUDENT_BRANCH, else student_branch in _config.yml")
    p_check.add_argument("--html", type=Path, help="the built student HTML")
    p_check.add_argument("--instructor-html", type=Path,
                         help="the built instructor HTML (probes must be seen there first)")
    p_pub.add_argument("--message", default=None)
    args = parser.parse_args(argv)
    dest = args.dest or args.root / DEFAULT_DEST
    branch = getattr(args, "branch", None) or configured_branch(args.root)

    if args.command == "build":
        report = build_tree(args.root, dest, branch=branch)
        print(f"student tree: {report.files} files in {dest}; {len(report.solutions)} solutions "
              f"removed from {len(report.pages)} pages; launch buttons -> branch {branch}")
        return 0
    if args.command == "check":
        report = find_leaks(args.root, tree=dest if dest.exists() else None, html=args.html,
                            instructor_html=args.instructor_html)
        for problem in report.problems:
            print("LEAK/ERROR:", problem)
        print(f"student edition check: {report.solutions} solutions, {report.probes} probes "
              f"({report.html_probes} used for the HTML): "
              + ("no solution text found" if report.ok else f"{len(report.problems)} problem(s)"))
        return 0 if report.ok else 1
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.root,
                          capture_output=True, text=True).stdout.strip()
    commit = publish(args.root, dest, branch,
                     args.message or f"Student edition of {head or 'the working tree'}")
    print(f"branch {branch} -> {commit}; publish with: git push origin {branch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
