"""MkDocs hook: notebook pages offer their notebook for download, and run quietly.

Every notebook page (a jupytext percent-format ``docs/notebooks/*.py``, rendered
and executed by mkdocs-jupyter) gets, under its title, the line

    Download this notebook: .ipynb · .py

* ``.py`` is the source itself, copied next to the page by mkdocs-jupyter
  (``include_source: true`` in mkdocs.yml);
* ``.ipynb`` is written here, next to the page, by converting the same source
  with jupytext. It has no outputs: mkdocs-jupyter keeps only the HTML of the
  executed notebook (and its cache stores only that HTML), so an executed
  ``.ipynb`` would cost a second run of every notebook. The page says so.

Kernels run over IPC instead of TCP (on POSIX): mkdocs-jupyter's nbconvert
reads the Jupyter config path, and ``docs/hooks/jupyter/`` (prepended to
``JUPYTER_CONFIG_PATH``) sets ``KernelManager.transport = "ipc"``. The kernel
then no longer prints "Kernel is running over TCP without encryption" once
per notebook on every build. (IPC sockets are files, here in a temporary
directory of each build, removed when the kernel stops; Windows has no IPC transport, so
there the kernels stay on TCP and the warning stays.)
"""

from __future__ import annotations

import atexit
import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import jupytext

JUPYTER_CONFIG = Path(__file__).resolve().parent / "jupyter"
NOTEBOOK_SOURCES = ("notebooks/",)   # mkdocs-jupyter's include: docs/notebooks/*.py
DOWNLOADS_CLASS = "notebook-downloads"


def is_notebook_page(page) -> bool:
    uri = page.file.src_uri
    return uri.startswith(NOTEBOOK_SOURCES) and uri.endswith(".py")


def notebook_json(source: Path) -> str:
    """The percent-format source as an .ipynb (nbformat 4), without outputs."""
    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {
        "name": "python3", "display_name": "Python 3", "language": "python"})
    return jupytext.writes(notebook, fmt="ipynb")


def downloads_html(stem: str) -> str:
    name = html.escape(stem, quote=True)
    return (f'<p class="{DOWNLOADS_CLASS}">Download this notebook: '
            f'<a href="{name}.ipynb" download>.ipynb</a> · '
            f'<a href="{name}.py" download>.py</a> '
            f'<small>(the .ipynb comes without outputs: run it to see them)</small></p>')


_FIRST_H1_END = re.compile(r"</h1>", re.I)


def insert_downloads(content: str, stem: str) -> str:
    """The download line after the page's first heading (or at the top if it has none)."""
    links = downloads_html(stem)
    match = _FIRST_H1_END.search(content)
    if match is None:
        return links + content
    return content[:match.end()] + links + content[match.end():]


# ---------------------------------------------------------------------------
# MkDocs events
# ---------------------------------------------------------------------------
def _kernel_config_dir() -> Path:
    """A private directory holding the kernel config, and the kernels' IPC sockets.

    With ``transport = "ipc"`` a kernel's sockets are files named after
    ``KernelManager.ip`` (relative to the working directory by default, which
    would litter the checkout with ``kernel-ipc-N`` files and let two builds
    from one checkout collide): each build gets its own temporary directory.
    """
    directory = Path(tempfile.mkdtemp(prefix="cnn-docs-kernels-"))
    config = json.loads((JUPYTER_CONFIG / "jupyter_nbconvert_config.json").read_text())
    config.setdefault("KernelManager", {})["ip"] = str(directory / "kernel")
    (directory / "jupyter_nbconvert_config.json").write_text(json.dumps(config))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def on_config(config):
    if os.name == "posix":
        private = str(_kernel_config_dir())
        paths = [private] + [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
                             if p and "cnn-docs-kernels-" not in p and p != str(JUPYTER_CONFIG)]
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return config


def on_page_content(html_content: str, *, page, config, files) -> str:
    if not is_notebook_page(page):
        return html_content
    return insert_downloads(html_content, Path(page.file.src_uri).stem)


def on_post_page(output: str, *, page, config) -> str:
    if is_notebook_page(page):
        target = Path(page.file.abs_dest_path).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(notebook_json(Path(page.file.abs_src_path)), encoding="utf-8")
    return output
