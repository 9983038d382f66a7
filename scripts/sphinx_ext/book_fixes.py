"""Local Sphinx extension of the book (loaded via ``sphinx.local_extensions`` in ``_config.yml``).

Two fixes for problems that tests/browser_check.py found in the built pages:

1. ``{prf:proof}`` with ``:class: dropdown`` (the book's convention for proof sketches) renders
   an admonition without a title (sphinx-proof 0.4). sphinx-togglebutton then throws
   ``Cannot read properties of null (reading 'insertAdjacentHTML')`` and the proof cannot be
   opened; every proof also gets the same HTML id ``proof``, so a click on the second proof of a
   page would toggle the first. We add a "Proof" title to dropdown proofs and number the ids.
2. Duplicated inline scripts, see below.

``sphinx_thebe`` (0.3.1) registers an inline ``<script>`` that declares ``const THEBE_JS_URL``.
Under Sphinx 7.4 that inline script reaches every page twice (inline scripts have no file name,
so Sphinx cannot de-duplicate them), and the second copy throws
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` in the browser. This extension
drops exact duplicate script entries from each page's context before the page is rendered.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes


def _unique(scripts: list) -> list:
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def _script_key(script: Any) -> tuple:
    filename = getattr(script, "filename", None)
    attributes = getattr(script, "attributes", None) or {}
    # an inline script is registered with filename None by one path and "" by another
    return (str(filename or ""), tuple(sorted(attributes.items())))


def fix_proofs(app, doctree) -> None:
    """``doctree-read`` handler: title for dropdown proofs, and unique ids for all proofs."""
    count = 0
    for node in doctree.findall(nodes.admonition):
        if "proof" not in node.get("classes", []) or node.get("ids") != ["proof"]:
            continue
        if count:
            node["ids"] = [f"proof-{count}"]
        count += 1
        has_title = any(isinstance(child, nodes.title) for child in node.children)
        if "dropdown" in node.get("classes", []) and not has_title:
            node.insert(0, nodes.title("", "Proof"))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` handler: keep the first of identical script entries, in order."""
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        # in place: the list is shared with the builder, and other handlers (MathJax) add to it
        scripts[:] = _unique(scripts)


def dedupe_builder_scripts(app, env) -> None:
    """``env-updated`` handler: de-duplicate the builder's own script list before writing."""
    for name in ("_js_files", "_orig_js_files"):
        scripts = getattr(app.builder, name, None)
        if isinstance(scripts, list):
            scripts[:] = _unique(scripts)


def setup(app) -> dict[str, Any]:
    app.connect("doctree-read", fix_proofs)
    app.connect("env-updated", dedupe_builder_scripts)
    # late, after the handlers that add scripts (sphinx.ext.mathjax uses the default 500)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
