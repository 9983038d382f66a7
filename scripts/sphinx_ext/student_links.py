"""Local Sphinx extension: links to a chapter's *student* notebook (no solutions).

The role ``{student-notebook}`chapters/01_tour``` (or with a title,
``{student-notebook}`Tour <chapters/01_tour>```) renders as "Tour (Colab, Binder)": the notebook
file on the student branch of the book's repository, and the same notebook opened in Colab and on
Binder. The student branch is written by ``scripts/student_edition.py`` (``bash
scripts/build_student.sh``, then ``publish``); its name is the config value ``student_branch``
(``sphinx: config: student_branch:`` in ``_config.yml``, default ``student``). Repository, Colab
and Binder addresses come from the ``repository`` and ``launch_buttons`` sections of
``_config.yml``, like the launch buttons of the pages.

A document that is not part of the book (not in ``_toc.yml``) or is not a notebook is a warning,
so ``jupyter-book build -W`` checks these links like ``{doc}`` links.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from docutils import nodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
_EXPLICIT = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", re.S)


def notebook_links(config: Any, doc: str) -> dict[str, str]:
    """URLs of ``doc`` (a docname such as ``chapters/01_tour``) on the student branch:
    ``file`` (the repository's file view), ``colab`` and ``binder`` when configured."""
    options = config.html_theme_options or {}
    repo_url = str(options.get("repository_url") or "").rstrip("/")
    branch = config.student_branch
    prefix = str(options.get("path_to_docs") or ".").strip("/")
    path = f"{doc}.ipynb" if prefix in ("", ".") else str(PurePosixPath(prefix) / f"{doc}.ipynb")
    links: dict[str, str] = {}
    if not repo_url:
        return links
    links["file"] = f"{repo_url}/blob/{quote(branch)}/{path}"
    match = re.match(r"https?://github\.com/([^/]+)/([^/]+?)(?:\.git)?$", repo_url)
    launch = options.get("launch_buttons") or {}
    if match:
        org, repo = match.groups()
        colab = str(launch.get("colab_url") or "").rstrip("/")
        binder = str(launch.get("binderhub_url") or "").rstrip("/")
        if colab:
            links["colab"] = f"{colab}/github/{org}/{repo}/blob/{quote(branch)}/{path}"
        if binder:
            ui = "lab/tree" if launch.get("notebook_interface", "jupyterlab") == "jupyterlab" \
                else "tree"
            links["binder"] = (f"{binder}/v2/gh/{org}/{repo}/{quote(branch)}"
                               f"?urlpath={quote(f'{ui}/{path}', safe='')}")
    return links


def student_notebook_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{student-notebook}`[title <]docname[>]```: links to the student copy of a notebook."""
    env = inliner.document.settings.env
    match = _EXPLICIT.match(text.strip())
    title, doc = (match["title"], match["target"]) if match else (None, text.strip())
    doc = doc.strip().removesuffix(".ipynb").lstrip("/")
    location = (env.docname, lineno)
    if doc not in env.found_docs:
        LOGGER.warning(f"student-notebook: unknown document {doc!r} (not in _toc.yml)",
                       location=location)
    elif not str(env.doc2path(doc)).endswith(".ipynb"):
        LOGGER.warning(f"student-notebook: {doc!r} is not a notebook", location=location)
    links = notebook_links(env.config, doc)
    label = title or f"{PurePosixPath(doc).name}.ipynb"
    if "file" not in links:
        LOGGER.warning("student-notebook: no repository url in _config.yml", location=location)
        return [nodes.literal(rawtext, label)], []
    result: list[nodes.Node] = [nodes.reference(rawtext, label, refuri=links["file"],
                                                classes=["student-notebook"])]
    extra = [(key.capitalize(), links[key]) for key in ("colab", "binder") if key in links]
    if extra:
        result.append(nodes.Text(" ("))
        for i, (text_, url) in enumerate(extra):
            if i:
                result.append(nodes.Text(", "))
            result.append(nodes.reference(text_, text_, refuri=url))
        result.append(nodes.Text(")"))
    return result, []


def setup(app) -> dict[str, Any]:
    app.add_config_value("student_branch", "student", "env", types=[str])
    app.add_role("student-notebook", student_notebook_role)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
