"""Open every page of the built HTML book in a real headless browser and check it.

Run after ``jupyter-book build``::

    python tests/browser_check.py _build/html

The pages are served by a local ``http.server`` on 127.0.0.1 and opened with Playwright driving the
system Chromium (Debian package ``chromium``; no browser download). A page FAILS when

* it does not load (HTTP error, navigation error or time-out), or one of its own assets is missing;
* it requests anything that is not on the local server (the book must read offline, no CDN);
* it logs a JavaScript error (uncaught exception or ``console.error``);
* math is left untypeset: a ``.math`` element without a MathJax rendering, raw ``\\(``, ``\\[`` or
  ``$$`` in the visible text, or a MathJax error box (e.g. an undefined macro);
* it has fewer theorem/proof boxes (``div.proof``), exercises or solutions than its source has
  ``{prf:...}``, ``{exercise}`` or ``{solution...}`` directives;
* it has fewer content images than its source has figures (image outputs of the executed
  notebook, markdown images, ``{figure}``/``{image}``), or one of its images failed to load;
* it has fewer static widget panels (``div.ntklib-static-panel``, see ntklib/static_panels.py) than
  its executed notebook has, or a panel is not wired up by ``_static/ntklib_panels.js``, or moving a
  panel's control (selecting another precomputed value) does not change the displayed figure to a
  loaded image. Every panel of every page is moved once.

Exit status 0 when every page passes, 1 otherwise (2 when no browser or no pages are found).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Directive openers: ```{prf:theorem} Title, :::{exercise}, ...
_DIRECTIVE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})[ \t]*\{([\w:-]+)\}", re.MULTILINE)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]+\)")
_HTML_IMAGE = re.compile(r"<img\s", re.IGNORECASE)
_IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")

# JavaScript run in the page after it loaded; returns what the checks need.
_INSPECT_JS = r"""
async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  const article = document.querySelector('article') || document.querySelector('main')
      || document.body;
  const maths = Array.from(document.querySelectorAll('.math'));
  const untypeset = maths.filter(el => !el.querySelector('mjx-container')).length;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
       .forEach(el => el.remove());
  const text = clone.textContent || '';
  const raw = [];
  for (const tok of ['\\(', '\\[', '$$']) { if (text.includes(tok)) raw.push(tok); }
  const imgs = Array.from(article.querySelectorAll('img'))
      .filter(img => !img.closest('.navbar, .header-article, .bd-header, .dropdown-menu'));
  const broken = imgs.filter(img => !(img.complete && img.naturalWidth > 0))
      .map(img => img.getAttribute('src'));
  return {
    math: maths.length,
    untypeset: untypeset,
    merror: document.querySelectorAll('mjx-merror').length,
    raw: raw,
    proof: document.querySelectorAll('div.proof').length,
    exercise: document.querySelectorAll('div.exercise').length,
    solution: document.querySelectorAll('div.solution').length,
    images: imgs.length,
    broken: broken,
    panels: document.querySelectorAll('div.ntklib-static-panel').length,
  };
}
"""

# For one static panel (by id): check it is wired up and pick a control value whose precomputed
# figure differs from the one shown (reads the panel's JSON data, as the page script does).
_PANEL_CHOICE_JS = r"""
(id) => {
  const panel = document.getElementById(id);
  if (panel.getAttribute('data-ntklib-ready') !== '1') {
    return {problem: 'not wired up (data-ntklib-ready=' + panel.getAttribute('data-ntklib-ready')
            + '; is _static/ntklib_panels.js loaded?)'};
  }
  const data = JSON.parse(panel.querySelector('script.ntklib-static-data').textContent);
  const shown = panel.getAttribute('data-ntklib-shown').split(',').map(Number);
  const img = document.querySelector('img[data-ntklib-figure="' + id + '"]');
  const selects = Array.from(panel.querySelectorAll('select'));
  for (let c = 0; c < selects.length; c++) {
    if (selects[c].disabled || selects[c].offsetParent === null) continue;
    for (const option of selects[c].options) {
      const value = Number(option.value);
      if (value === shown[c]) continue;
      const point = shown.slice();
      point[c] = value;
      const entry = data.figures[point.join(',')];
      if (entry && entry.png) {
        return {control: c, name: data.controls[c].name, value: option.value,
                label: option.textContent, before: img ? img.getAttribute('src') : null};
      }
    }
  }
  return {problem: 'no visible control leads to another precomputed figure'};
}
"""

_PANEL_CHANGED_JS = r"""
([id, before]) => {
  const img = document.querySelector('img[data-ntklib-figure="' + id + '"]');
  return !!img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0
      && img.offsetParent !== null;
}
"""


def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium executable: ``explicit``, env ``CHROMIUM``, or the first on PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            return candidate if Path(candidate).exists() else shutil.which(candidate)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def list_pages(html_root: Path) -> list[Path]:
    """Every ``*.html`` page of the site, skipping Sphinx's ``_static``/``_sources``/... folders."""
    pages = []
    for path in sorted(html_root.rglob("*.html")):
        rel = path.relative_to(html_root)
        if any(part.startswith("_") or part.startswith(".") for part in rel.parts[:-1]):
            continue
        pages.append(rel)
    return pages


def count_expected(text_cells: list[str], image_outputs: int = 0,
                   panels: int = 0) -> dict[str, int]:
    """Boxes, figures and static panels a page must show, counted from its source.

    Args:
        text_cells: markdown sources (a ``.md`` page is one cell).
        image_outputs: number of image outputs of the executed notebook.
        panels: number of static widget panels in the executed notebook's outputs.

    Returns:
        ``{"proof": ..., "exercise": ..., "solution": ..., "images": ..., "panels": ...}`` minimum
        counts.
    """
    expected = {"proof": 0, "exercise": 0, "solution": 0, "images": image_outputs,
                "panels": panels}
    for text in text_cells:
        for name in _DIRECTIVE.findall(text):
            if name.startswith("prf:"):
                expected["proof"] += 1
            elif name == "exercise":
                expected["exercise"] += 1
            elif name in ("solution", "solution-start"):
                expected["solution"] += 1
            elif name in ("figure", "image"):
                expected["images"] += 1
        expected["images"] += len(_MD_IMAGE.findall(text)) + len(_HTML_IMAGE.findall(text))
    return expected


def _notebook_texts(nb: dict) -> list[str]:
    texts = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown" and "remove-cell" not in _tags(cell):
            source = cell.get("source", "")
            texts.append("".join(source) if isinstance(source, list) else source)
    return texts


def _notebook_images(nb: dict) -> int:
    images = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or _tags(cell) & {"remove-cell", "remove-output"}:
            continue
        for out in cell.get("outputs", []):
            images += any(mime in out.get("data", {}) for mime in _IMAGE_MIMES)
    return images


def _notebook_panels(nb: dict) -> int:
    panels = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or _tags(cell) & {"remove-cell", "remove-output"}:
            continue
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            panels += html.count('class="ntklib-static-panel"')
    return panels


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _has_outputs(nb: dict) -> bool:
    return any(cell.get("outputs") for cell in nb.get("cells", []))


def _cached_execution(build: Path, source: Path) -> dict | None:
    """The executed notebook that ``execute_notebooks: cache`` stored for ``source`` in
    ``<build>/.jupyter_cache`` (jupyter-cache), or None when there is none."""
    cache_dir = build / ".jupyter_cache"
    if not cache_dir.is_dir():
        return None
    try:
        import nbformat
        from jupyter_cache import get_cache

        cache = get_cache(str(cache_dir))
        record = cache.match_cache_notebook(nbformat.read(str(source), as_version=4))
        return json.loads(nbformat.writes(cache.get_cache_bundle(record.pk).nb))
    except (ImportError, KeyError, OSError, ValueError):
        return None


def expected_for_page(html_root: Path, page: Path) -> dict[str, int]:
    """Expected counts for ``page``. For a notebook: boxes from its markdown (``_sources``), images
    from its executed copy (``<build>/jupyter_execute`` when that copy has outputs, else the jupyter
    cache of ``execute_notebooks: cache``). For a markdown page: from its source."""
    stem = page.with_suffix("")
    build = html_root.parent
    source_nb = html_root / "_sources" / stem.with_suffix(".ipynb")
    executed = build / "jupyter_execute" / stem.with_suffix(".ipynb")
    if not source_nb.exists():
        source_nb = executed
    if source_nb.exists():
        nb = json.loads(source_nb.read_text(encoding="utf-8"))
        run = json.loads(executed.read_text(encoding="utf-8")) if executed.exists() else nb
        if not _has_outputs(run):
            run = _cached_execution(build, source_nb) or run
        return count_expected(_notebook_texts(nb), _notebook_images(run), _notebook_panels(run))
    source_md = html_root / "_sources" / stem.with_suffix(".md")
    if source_md.exists():
        return count_expected([source_md.read_text(encoding="utf-8")])
    return {"proof": 0, "exercise": 0, "solution": 0, "images": 0, "panels": 0}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration of the block; yields the
    base URL ending in ``/``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def compare(found: dict, expected: dict[str, int]) -> list[str]:
    """Problems from what the browser found on a page (``_INSPECT_JS``) vs the source counts."""
    problems = []
    if found["untypeset"]:
        problems.append(f"math: {found['untypeset']} of {found['math']} .math elements untypeset")
    if found["merror"]:
        problems.append(f"math: {found['merror']} MathJax error box(es) "
                        "(undefined macro or bad TeX?)")
    if found["raw"]:
        problems.append(f"math: raw delimiters {found['raw']} in the rendered text")
    labels = {"proof": "theorem/proof boxes (div.proof)", "exercise": "exercises (div.exercise)",
              "solution": "solutions (div.solution)", "images": "content images",
              "panels": "static widget panels (div.ntklib-static-panel)"}
    for key, label in labels.items():
        if found.get(key, 0) < expected.get(key, 0):
            problems.append(f"{label}: {found[key]} rendered, source has {expected[key]}")
    if found["broken"]:
        problems.append(f"images not loaded: {found['broken'][:5]}")
    return problems


def _watch(page, base: str, problems: list[str]) -> None:
    """Record into ``problems`` what goes wrong while ``page`` loads; block non-local requests."""

    def on_route(route):
        url = route.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            problems.append(f"network: blocked external request {url}")
            route.abort()

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"load: HTTP {response.status} for {response.url}")

    def on_console(msg):
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(f"javascript: console.error: {msg.text[:300]}")

    def on_pageerror(exc):
        problems.append(f"javascript: uncaught {str(exc)[:300]}")

    page.route("**/*", on_route)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", on_pageerror)


def move_panels(page, timeout_s: float = 10.0) -> list[str]:
    """Move one control of every static panel on ``page`` like a reader (select another
    precomputed value) and return problems: panel not wired up, no other figure to pick, or the
    displayed figure did not change to a loaded image within ``timeout_s``."""
    from playwright.sync_api import Error as PlaywrightError

    problems = []
    ids = page.evaluate(
        "() => Array.from(document.querySelectorAll('div.ntklib-static-panel')).map(p => p.id)")
    for panel_id in ids:
        choice = page.evaluate(_PANEL_CHOICE_JS, panel_id)
        if "problem" in choice:
            problems.append(f"panel {panel_id}: {choice['problem']}")
            continue
        what = f"{choice['name']} = {choice['label']}"
        try:
            select = page.locator(f"#{panel_id} select").nth(choice["control"])
            select.select_option(value=choice["value"], timeout=timeout_s * 1000)
            page.wait_for_function(_PANEL_CHANGED_JS, arg=[panel_id, choice["before"]],
                                   timeout=timeout_s * 1000)
        except PlaywrightError as exc:
            problems.append(f"panel {panel_id}: the figure did not change after selecting {what} "
                            f"({str(exc).splitlines()[0][:200]})")
    return problems


def check_site(html_root: Path, chromium: str, *, timeout_s: float = 60.0,
               pages: list[Path] | None = None) -> dict[str, list[str]]:
    """Open every page in headless Chromium and return ``{page: [problems]}`` (empty list = pass).

    Args:
        html_root: the built site, e.g. ``_build/html``.
        chromium: path of the Chromium executable.
        timeout_s: per-page limit for loading and typesetting.
        pages: pages relative to ``html_root``; default: ``list_pages(html_root)``.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    html_root = Path(html_root)
    pages = list_pages(html_root) if pages is None else pages
    results: dict[str, list[str]] = {}
    with serve(html_root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(service_workers="block")
        context.set_default_timeout(timeout_s * 1000)

        for rel in pages:
            problems: list[str] = []
            page = context.new_page()
            _watch(page, base, problems)
            try:
                response = page.goto(base + rel.as_posix(), wait_until="load")
                if response is None or not response.ok:
                    status = None if response is None else response.status
                    problems.append(f"load: page did not load (status {status})")
                else:
                    page.wait_for_load_state("networkidle")
                    found = page.evaluate(_INSPECT_JS)
                    problems.extend(compare(found, expected_for_page(html_root, rel)))
                    if found["panels"]:
                        problems.extend(move_panels(page))
                        page.wait_for_timeout(200)  # let a late console error arrive
            except PlaywrightError as exc:
                problems.append(f"load: {str(exc).splitlines()[0][:300]}")
            finally:
                page.close()
            # messages are de-duplicated, order kept
            results[rel.as_posix()] = list(dict.fromkeys(problems))
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_root", nargs="?", default="_build/html", type=Path)
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: on PATH)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page")
    args = parser.parse_args(argv)

    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("browser_check: no Chromium found: install it (apt-get install chromium) or pass "
              "--chromium PATH", file=sys.stderr)
        return 2
    if not (args.html_root / "index.html").exists():
        print(f"browser_check: {args.html_root}/index.html missing: build the book first "
              "(jupyter-book build .)", file=sys.stderr)
        return 2
    pages = list_pages(args.html_root)
    if not pages:
        print(f"browser_check: no pages under {args.html_root}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    results = check_site(args.html_root, chromium, timeout_s=args.timeout, pages=pages)
    failed = {page: probs for page, probs in results.items() if probs}
    for page, probs in results.items():
        print(f"{'FAIL' if probs else 'ok  '} {page}")
        for problem in probs:
            print(f"       - {problem}")
    elapsed = time.perf_counter() - start
    print(f"browser_check: {len(results) - len(failed)}/{len(results)} pages passed "
          f"in {elapsed:.1f} s ({chromium})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
