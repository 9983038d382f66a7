"""Print the whole book to one PDF with headless Chromium, and check the PDF.

Usage (``scripts/build_pdf.sh`` runs both after ``jupyter-book build . --builder singlehtml``)::

    python scripts/pdf_book.py print _build/singlehtml --out _build/pdf/book.pdf
    python scripts/pdf_book.py check _build/pdf/book.pdf

``print`` serves the single-page HTML book on 127.0.0.1, opens it in the system Chromium through
Playwright (no browser download; every non-local request is blocked, the book prints offline),
waits until MathJax has typeset every formula and every image has loaded, opens every collapsed
block (proof sketches, solutions, hidden setup cells) so that the PDF contains them, and prints
A4 pages with page numbers. Before printing it counts what the page shows and what the executed
notebooks say it should show, and fails on a missing figure, an image that did not load, a
missing theorem box or a MathJax error. The counts go to ``<out>.json`` for ``check``.

``check`` reads the PDF with pypdf and fails unless its page count is within a sane range for the
number of pages of the book, it embeds at least as many images as the notebooks have figures,
and the title of every theorem box appears in its text.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
_DIRECTIVE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})[ \t]*\{([\w:-]+)\}", re.MULTILINE)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]+\)|<img\s", re.IGNORECASE)

# Runs in the page: typeset, expand, wait for images, then report what is on the page.
_PREPARE_JS = r"""
async (limitMs) => {
  // never wait forever: what is not ready after limitMs is reported by the counts below
  const bounded = p => Promise.race([p, new Promise(r => setTimeout(r, limitMs))]);
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await bounded(window.MathJax.startup.promise);
  }
  // open every collapsed block: <details> (hidden cells, togglebutton dropdowns) and
  // sphinx-togglebutton's hidden admonitions (proof sketches, solutions)
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('button.toggle-button').forEach(b => b.remove());
  const article = document.querySelector('main') || document.body;
  const imgs = Array.from(article.querySelectorAll('img'))
      .filter(img => !img.closest('.navbar, .bd-header, .bd-sidebar-primary, .dropdown-menu'));
  await bounded(Promise.all(imgs.map(img => img.decode().catch(() => null))));
  const broken = imgs.filter(img => !(img.complete && img.naturalWidth > 0))
      .map(img => img.getAttribute('src'));
  // theorem boxes (every sphinx-proof type but proofs); a title's formulas split it into
  // fragments, since MathJax's text is drawn by CSS and never appears in textContent
  const TYPES = ['theorem', 'lemma', 'definition', 'corollary', 'proposition', 'conjecture',
                 'observation', 'axiom', 'criterion', 'remark', 'example', 'property',
                 'algorithm', 'assumption', 'notation'];
  const theorems = Array.from(document.querySelectorAll('div.proof'))
      .filter(el => TYPES.some(t => el.classList.contains(t)))
      .map(el => {
        const title = el.querySelector('.admonition-title');
        if (!title) return [];
        const clone = title.cloneNode(true);
        clone.querySelectorAll('mjx-container, .math').forEach(m => m.replaceWith('\u0000'));
        return clone.textContent.split('\u0000').map(t => t.trim()).filter(t => t);
      });
  return {
    images: imgs.length,
    broken: broken,
    proof_boxes: document.querySelectorAll('div.proof').length,
    theorem_titles: theorems,
    exercises: document.querySelectorAll('div.exercise').length,
    solutions: document.querySelectorAll('div.solution').length,
    merror: document.querySelectorAll('mjx-merror').length,
    untypeset: Array.from(document.querySelectorAll('.math'))
        .filter(el => !el.querySelector('mjx-container')).length,
  };
}
"""

# Print layout: each chapter on a new page; no page break right after a heading or a box title,
# none inside a figure or a theorem box title.
PRINT_CSS = """
@media print {
  h1 { break-before: page; }
  h1, h2, h3, h4, .admonition-title { break-after: avoid; }
  img, figure, .cell_output .output, mjx-container[display="true"] { break-inside: avoid; }
}
"""

FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


# ------------------------------------------------------------------------------ expectations

def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def count_notebook(nb: dict) -> dict[str, int]:
    """Figures and boxes an executed notebook must show: image outputs (not removed by a tag),
    markdown images, ``{figure}``/``{image}`` and ``{prf:...}`` directives."""
    counts = {"figures": 0, "proof_boxes": 0, "theorem_boxes": 0}
    for cell in nb.get("cells", []):
        if "remove-cell" in _tags(cell):
            continue
        if cell.get("cell_type") == "markdown":
            counts.update(_count_text(_source(cell), counts))
        elif cell.get("cell_type") == "code" and "remove-output" not in _tags(cell):
            counts["figures"] += sum(any(m in out.get("data", {}) for m in IMAGE_MIMES)
                                     for out in cell.get("outputs", []))
    return counts


def _count_text(text: str, counts: dict[str, int]) -> dict[str, int]:
    counts = dict(counts)
    for name in _DIRECTIVE.findall(text):
        if name.startswith("prf:"):
            counts["proof_boxes"] += 1
            counts["theorem_boxes"] += name != "prf:proof"
        elif name in ("figure", "image"):
            counts["figures"] += 1
    counts["figures"] += len(_MD_IMAGE.findall(text))
    return counts


def _has_outputs(nb: dict) -> bool:
    return any(cell.get("outputs") for cell in nb.get("cells", []))


def executed_notebook(build_dir: Path, book_dir: Path, rel: Path) -> dict | None:
    """The executed copy of notebook ``rel``: ``build_dir/jupyter_execute/rel`` when it has
    outputs, else the record of ``execute_notebooks: cache`` in ``build_dir/.jupyter_cache``."""
    executed = build_dir / "jupyter_execute" / rel
    if executed.exists():
        nb = json.loads(executed.read_text(encoding="utf-8"))
        if _has_outputs(nb):
            return nb
    if not (build_dir / ".jupyter_cache").is_dir():
        return None
    try:
        import nbformat
        from jupyter_cache import get_cache

        cache = get_cache(str(build_dir / ".jupyter_cache"))
        record = cache.match_cache_notebook(nbformat.read(str(book_dir / rel), as_version=4))
        return json.loads(nbformat.writes(cache.get_cache_bundle(record.pk).nb))
    except (ImportError, KeyError, OSError, ValueError):
        return None


def expected_counts(build_dir: Path, book_dir: Path) -> dict[str, int]:
    """What the whole book must show, summed over the pages of ``book_dir/_toc.yml``: boxes
    from the sources, figures from the executed notebooks (:func:`executed_notebook`)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from student_edition import toc_pages

    counts = {"figures": 0, "proof_boxes": 0, "theorem_boxes": 0, "pages": 0}
    for rel in toc_pages(book_dir):
        counts["pages"] += 1
        if rel.suffix == ".ipynb":
            source = json.loads((book_dir / rel).read_text(encoding="utf-8"))
            found = count_notebook(source)
            executed = executed_notebook(build_dir, book_dir, rel)
            if executed is None:
                raise FileNotFoundError(f"no executed copy of {rel} under {build_dir}: build "
                                        "the book first")
            found["figures"] = count_notebook(executed)["figures"]
        else:
            found = _count_text((book_dir / rel).read_text(encoding="utf-8"),
                                {"figures": 0, "proof_boxes": 0, "theorem_boxes": 0})
        for key, value in found.items():
            counts[key] += value
    return counts


# ------------------------------------------------------------------------------ printing

def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium executable: ``explicit``, env ``CHROMIUM``, or the first on PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            return candidate if Path(candidate).exists() else shutil.which(candidate)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL ending in ``/``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def page_problems(found: dict, expected: dict[str, int]) -> list[str]:
    """Problems of the prepared page (``_PREPARE_JS``) against the counts from the sources."""
    problems = []
    if found["broken"]:
        problems.append(f"{len(found['broken'])} image(s) did not load: {found['broken'][:5]}")
    if found["images"] < expected["figures"]:
        problems.append(f"{found['images']} images on the page, the notebooks have "
                        f"{expected['figures']} figures")
    if found["proof_boxes"] < expected["proof_boxes"]:
        problems.append(f"{found['proof_boxes']} theorem/proof boxes on the page, the sources "
                        f"have {expected['proof_boxes']}")
    if len(found["theorem_titles"]) < expected["theorem_boxes"]:
        problems.append(f"{len(found['theorem_titles'])} theorem boxes (theorems, lemmas, ...) on "
                        f"the page, the sources have {expected['theorem_boxes']}")
    if found["merror"] or found["untypeset"]:
        problems.append(f"math: {found['merror']} MathJax error(s), {found['untypeset']} "
                        "formula(s) not typeset")
    return problems


def entry_page(html_dir: Path) -> str:
    """The page that holds the book: ``index.html``, or where its meta refresh points (Jupyter
    Book writes ``index.html`` as a redirect to the root document)."""
    text = (html_dir / "index.html").read_text(encoding="utf-8", errors="replace")
    match = re.search(r"""http-equiv=["']?refresh["']?[^>]*url=([^"'>\s]+)""", text, re.I)
    return match.group(1) if match else "index.html"


def print_pdf(html_dir: Path, out: Path, *, book_dir: Path, chromium: str,
              timeout_s: float = 600.0) -> dict:
    """Print ``html_dir/index.html`` (a singlehtml build) to ``out``; returns the manifest."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    expected = expected_counts(html_dir.parent, book_dir)
    external: list[str] = []
    errors: list[str] = []
    start = time.perf_counter()
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(service_workers="block")
        context.set_default_timeout(timeout_s * 1000)
        page = context.new_page()

        def on_route(route):
            url = route.request.url
            if url.startswith(base) or url.startswith(("data:", "blob:", "about:")):
                route.continue_()
            else:
                external.append(url)
                route.abort()

        page.route("**/*", on_route)
        page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
        page.goto(base + entry_page(html_dir), wait_until="load")
        try:   # a quiet network is not required: MathJax and the images are awaited below
            page.wait_for_load_state("networkidle", timeout=60_000)
        except PlaywrightTimeout:
            pass
        found = page.evaluate(_PREPARE_JS, int(timeout_s * 1000 / 2))
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(out), format="A4", print_background=True, display_header_footer=True,
                 header_template="<span></span>", footer_template=FOOTER,
                 margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
        browser.close()
    problems = page_problems(found, expected)
    problems += [f"network: blocked external request {u}" for u in external]
    problems += [f"javascript: {e}" for e in errors]
    manifest = {"expected": expected, "found": found, "problems": problems,
                "seconds": round(time.perf_counter() - start, 1)}
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


# ------------------------------------------------------------------------------ checking

def _normalize(text: str) -> str:
    # NFKC splits the ligatures of the PDF's text ("ﬁ" -> "fi")
    return " ".join(re.findall(r"[0-9a-z]+", unicodedata.normalize("NFKC", text).lower()))


_DO = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+Do\b")


def count_images(page) -> int:
    """Images a pypdf page draws: ``Do`` operators of its content stream naming an image
    XObject, followed into form XObjects (resources are often shared by all pages, so listing
    them would count every image of the document on every page)."""

    def walk(resources, content: bytes, depth: int) -> int:
        if resources is None or depth > 8:
            return 0
        xobjects = resources.get_object().get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else {}
        total = 0
        for name in _DO.findall(content):
            ref = xobjects.get("/" + name.decode("latin-1"))
            if ref is None:
                continue
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                total += 1
            elif obj.get("/Subtype") == "/Form":
                total += walk(obj.get("/Resources") or resources, obj.get_data(), depth + 1)
        return total

    contents = page.get_contents()
    return walk(page.get("/Resources"), contents.get_data() if contents is not None else b"", 0)


def check_pdf(pdf: Path, manifest: dict, *, min_pages: int | None = None,
              max_pages: int | None = None) -> tuple[list[str], dict]:
    """Problems of the printed PDF, and its statistics (pages, images, theorem titles found)."""
    from pypdf import PdfReader

    expected = manifest["expected"]
    book_pages = max(1, expected.get("pages", 1))
    lo = 3 * book_pages if min_pages is None else min_pages
    hi = 60 * book_pages if max_pages is None else max_pages
    reader = PdfReader(str(pdf))
    n_pages = len(reader.pages)
    images = sum(count_images(p) for p in reader.pages)
    text = " " + " ".join(_normalize(p.extract_text() or "") for p in reader.pages) + " "
    titles = manifest["found"].get("theorem_titles", [])
    titles = [[t] if isinstance(t, str) else t for t in titles]   # fragments of each title
    missing = [" ... ".join(t) for t in titles
               if not all(f" {_normalize(f)} " in text for f in t if _normalize(f))]
    problems = list(manifest.get("problems", []))
    if not lo <= n_pages <= hi:
        problems.append(f"{n_pages} pages, expected between {lo} and {hi} for {book_pages} "
                        "book pages")
    if images < expected["figures"]:
        problems.append(f"{images} images in the PDF, the notebooks have {expected['figures']} "
                        "figures")
    if len(titles) < expected.get("theorem_boxes", 0):
        problems.append(f"{len(titles)} theorem boxes were printed, the sources have "
                        f"{expected['theorem_boxes']}")
    if missing:
        problems.append(f"{len(missing)} theorem box(es) missing from the PDF text: {missing[:3]}")
    stats = {"pages": n_pages, "images": images, "theorem_boxes": len(titles),
             "theorem_boxes_in_text": len(titles) - len(missing)}
    return problems, stats


# ------------------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_print = sub.add_parser("print", help="print a singlehtml build to PDF")
    p_print.add_argument("html_dir", type=Path, help="the singlehtml build, e.g. _build/singlehtml")
    p_print.add_argument("--out", type=Path, default=Path("_build/pdf/book.pdf"))
    p_print.add_argument("--book", type=Path, default=Path("."),
                         help="the book's source folder (for the expected counts)")
    p_print.add_argument("--chromium", default=None)
    p_check = sub.add_parser("check", help="check a printed PDF")
    p_check.add_argument("pdf", type=Path)
    p_check.add_argument("--min-pages", type=int, default=None)
    p_check.add_argument("--max-pages", type=int, default=None)
    args = parser.parse_args(argv)

    if args.command == "print":
        chromium = find_chromium(args.chromium)
        if chromium is None:
            print("pdf_book: no Chromium found: apt-get install chromium, or set CHROMIUM=PATH",
                  file=sys.stderr)
            return 2
        if not (args.html_dir / "index.html").exists():
            print(f"pdf_book: {args.html_dir}/index.html missing: run jupyter-book build . "
                  "--builder singlehtml first", file=sys.stderr)
            return 2
        manifest = print_pdf(args.html_dir, args.out, book_dir=args.book, chromium=chromium)
        found, expected = manifest["found"], manifest["expected"]
        print(f"pdf_book: printed {args.out} in {manifest['seconds']} s: {found['images']} images "
              f"(notebooks: {expected['figures']} figures), {found['proof_boxes']} theorem/proof "
              f"boxes (sources: {expected['proof_boxes']}), {found['solutions']} solutions")
        for problem in manifest["problems"]:
            print("FAIL:", problem)
        return 1 if manifest["problems"] else 0

    manifest_path = args.pdf.with_suffix(".json")
    if not args.pdf.exists() or not manifest_path.exists():
        print(f"pdf_book: {args.pdf} or {manifest_path} missing: run `pdf_book.py print` first",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    problems, stats = check_pdf(args.pdf, json.loads(manifest_path.read_text()),
                                min_pages=args.min_pages, max_pages=args.max_pages)
    for problem in problems:
        print("FAIL:", problem)
    print(f"pdf_book check: {stats['pages']} pages, {stats['images']} images, "
          f"{stats['theorem_boxes_in_text']}/{stats['theorem_boxes']} theorem boxes in the text "
          f"({time.perf_counter() - start:.1f} s): " + ("ok" if not problems else "FAILED"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
