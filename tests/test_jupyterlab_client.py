"""A real reader in JupyterLab: MyST renders and a panel's slider redraws the figure.

Starts a JupyterLab server on 127.0.0.1 (free port, random token, temporary config, settings,
runtime and data folders; the server's announcement fetching and update checks are off), copies
``chapters/01_tour.ipynb`` into a temporary root (so nothing in the repository is touched, not even
by autosave), opens it in headless Chromium through Playwright, runs all cells and checks that

* jupyterlab-myst rendered the chapter's MyST: the ``{prf:theorem}`` box, the ``{exercise}``, the
  learning-goals admonition and the ``{cite}`` citations are elements, not raw text (citations show
  their key: jupyterlab-myst does not read references.bib), and the math typesets without errors
  (the book's macros come from the chapter's hidden first cell, scripts/live_myst_macros.py);
* the panel is the live ipywidgets panel (no static grid is computed in a Jupyter server kernel);
* dragging the panel's ``depth`` slider redraws the figure: the panel's output area shows a loaded
  image that differs from the default figure;
* no request left the machine (every request outside 127.0.0.1 is blocked and recorded) and no
  widget failed to display.

The kernel imports ``ntklib`` from this checkout (``PYTHONPATH``) and uses a fresh
``NTKLIB_CACHE_DIR``, like a first-time reader. Skipped only when no Chromium is found
(scripts/test.sh installs it); takes about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import browser_check as bc  # noqa: E402

pytestmark = pytest.mark.slow
CHAPTER = "01_tour.ipynb"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
SERVER_START_S = 120
RUN_ALL_S = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def chromium():
    found = bc.find_chromium()
    if found is None:
        pytest.skip("no Chromium on PATH and no $CHROMIUM (scripts/test.sh installs it)")
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    """A JupyterLab server serving a copy of the chapter; yields (base URL, token, log path)."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "root"
    root.mkdir()
    shutil.copy(ROOT / "chapters" / CHAPTER, root / CHAPTER)
    settings = tmp / "settings" / "@jupyterlab"
    # render every cell (JupyterLab 4 otherwise attaches only the cells in view); no news
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(tmp / "config" / "jupyter_server_config.json", {
        "LabApp": {"news_url": None, "extension_manager": "readonly",
                   "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}})
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_DATA_DIR=str(tmp / "data"),
               IPYTHONDIR=str(tmp / "ipython"), NTKLIB_CACHE_DIR=str(tmp / "cache"),
               OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("NTKLIB_STATIC_PANELS", None)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={tmp / 'settings'}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.5)
        yield base, token, log_path
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (server and kernels), SIGKILL after 20 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


_KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && !!document.querySelector('.jp-Notebook');
}"""

# what jupyterlab-myst rendered (markdown cells' output, not their hidden editors)
_MYST_JS = """() => {
  const md = Array.from(document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown, '
                                                  + '.jp-MarkdownCell .jp-RenderedMySTMarkdown'));
  const text = md.map(e => e.textContent).join('\\n');
  const proofs = Array.from(document.querySelectorAll('.jp-MarkdownCell aside.myst-proof'));
  return {
    cells: md.length,
    theorem: proofs.map(e => e.textContent).filter(t => t.includes('Theorem')).length,
    exercise: document.querySelectorAll('.jp-MarkdownCell aside.myst-exercise').length,
    admonition: document.querySelectorAll('.jp-MarkdownCell aside.myst-admonition').length,
    cites: Array.from(document.querySelectorAll('.jp-MarkdownCell .cite-group'))
                .map(e => e.textContent),
    raw: ['{prf:theorem}', '{cite}', '{exercise}', '{admonition}', ':label:', 'math:']
             .filter(t => text.includes(t)),
    katex: document.querySelectorAll('.jp-MarkdownCell .katex').length,
    // jupyterlab-myst marks a {ref} to another chapter (resolved only in the book) with the same
    // class as a math error: those are expected in a single notebook and left out
    mathErrors: Array.from(document.querySelectorAll('.jp-MarkdownCell .katex-error'))
                    .map(e => e.getAttribute('title') || e.textContent)
                    .filter(t => !t.startsWith('Cross reference target was not found'))
                    .slice(0, 5),
  };
}"""

_PANEL_JS = """() => {
  const slider = document.querySelector('.widget-hslider');
  const cell = slider && slider.closest('.jp-CodeCell');
  if (!cell) return null;
  const imgs = Array.from(cell.querySelectorAll('.jp-OutputArea-output img'))
      .filter(i => !i.closest('.jupyter-widgets'));
  const live = Array.from(cell.querySelectorAll('.jupyter-widgets img'));
  return {
    staticSrc: imgs.length ? imgs[0].getAttribute('src') : null,
    liveSrc: live.length ? live[live.length - 1].getAttribute('src') : null,
    liveLoaded: live.length > 0 && live[live.length - 1].complete
        && live[live.length - 1].naturalWidth > 0,
    readout: (cell.querySelector('.widget-hslider .widget-readout') || {}).textContent,
    staticPanel: cell.innerHTML.includes('ntklib-static-panel'),
    errors: Array.from(cell.querySelectorAll('.jupyter-widgets'))
        .filter(e => (e.textContent || '').includes('Error displaying widget')).length,
  };
}"""


def test_chapter_runs_live_in_jupyterlab(lab, chromium):
    from playwright.sync_api import sync_playwright

    base, token, log_path = lab
    external: list[str] = []
    client_errors: list[str] = []
    ws_base = base.replace("http://", "ws://")

    def on_route(route):
        url = route.request.url
        if url.startswith((base, ws_base, "data:", "blob:", "about:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    def on_console(msg):
        text = msg.text.lower()
        if text.startswith("cross reference target was not found"):
            return  # a {ref} to another chapter: the book resolves it, a single notebook cannot
        if msg.type == "error" and ("widget" in text or "model" in text or "undefined control"
                                    in text):
            client_errors.append(msg.text[:300])

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                          service_workers="block")
            context.set_default_timeout(60_000)
            context.route("**/*", on_route)
            page = context.new_page()
            page.on("console", on_console)
            page.goto(f"{base}lab/tree/{CHAPTER}?token={token}&reset", wait_until="load")
            page.wait_for_function(_KERNEL_IDLE_JS, timeout=120_000)

            # 1. MyST: rendered as boxes, citations and admonitions, not as raw markup
            page.wait_for_function(
                "() => document.querySelectorAll('.jp-MarkdownCell aside.myst-proof').length > 0")
            myst = page.evaluate(_MYST_JS)
            assert myst["theorem"] >= 1, myst
            assert myst["exercise"] >= 1 and myst["admonition"] >= 1, myst
            assert any("zhang2017understanding" in c for c in myst["cites"]), myst["cites"]
            assert myst["raw"] == [], f"raw MyST markup in the rendered cells: {myst['raw']}"
            assert myst["katex"] > 20 and myst["mathErrors"] == [], myst["mathErrors"]

            # 2. run every cell (the promise resolves when the last cell has run)
            start = time.monotonic()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(_KERNEL_IDLE_JS, timeout=RUN_ALL_S * 1000)
            page.wait_for_selector(".widget-hslider .noUi-handle", timeout=60_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.error']")
            assert errors.count() == 0, errors.first.text_content()[:500]
            before = page.evaluate(_PANEL_JS)
            assert before["staticSrc"] and before["readout"].strip() == "3", before
            assert not before["staticPanel"], "a live kernel must not compute the static grid"

            # 3. drag the depth slider to its left end (depth 1), as a reader would
            handle = page.locator(".widget-hslider .noUi-handle").first
            handle.scroll_into_view_if_needed()
            box = handle.bounding_box()
            track = page.locator(".widget-hslider .noUi-target").first.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(track["x"] + 1, box["y"] + box["height"] / 2, steps=8)
            page.mouse.up()
            page.wait_for_function(
                f"() => {{ const r = ({_PANEL_JS})(); return r && r.liveLoaded && "
                f"r.liveSrc !== {json.dumps(before['staticSrc'])}; }}", timeout=120_000)
            after = page.evaluate(_PANEL_JS)
            assert after["readout"].strip() == "1", after["readout"]
            assert after["liveSrc"] != before["staticSrc"] and after["errors"] == 0
            elapsed = time.monotonic() - start
        finally:
            browser.close()
    assert external == [], f"requests left the machine: {external[:5]}"
    assert client_errors == [], client_errors
    print(f"ran {CHAPTER} and moved the slider in {elapsed:.0f} s")
