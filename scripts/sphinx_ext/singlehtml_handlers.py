"""Local Sphinx extension: the single-page HTML build (the PDF's source) renders every node.

Sphinx looks up the HTML renderers ("translation handlers") of custom nodes by the builder's
*name* first and falls back to its *format* (``html``) only when no extension registered any
renderer under that name. sphinx-exercise registers its nodes for ``singlehtml`` explicitly, so
the ``singlehtml`` builder stops falling back, and every node registered only for ``html`` (e.g.
MyST-NB's ``HideCodeCellNode`` of ``hide-cell`` setup cells) fails with "unknown node type".
For the ``singlehtml`` builder this copies the missing ``html`` renderers, so both builders render
the same nodes the same way (``jupyter-book build . --builder singlehtml``, scripts/build_pdf.sh).
"""

from __future__ import annotations

from typing import Any


def inherit_html_handlers(app) -> None:
    """``builder-inited``: give ``singlehtml`` every ``html`` renderer it does not have."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, visitors in handlers.get("html", {}).items():
        single.setdefault(node, visitors)


def setup(app) -> dict[str, Any]:
    app.connect("builder-inited", inherit_html_handlers, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
