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

The notebook cache knows the records: mkdocs-jupyter keys its cache
(``.cache/mkdocs-jupyter``) on the notebook's bytes and its own options, so
a page whose notebook reads a record of ``docs/results/`` would keep showing
the old numbers after the record changed. :func:`cache_key` adds the name and
bytes of every record the notebook reads (its ``load_record("NAME")`` calls,
:func:`records_read`) to mkdocs-jupyter's key, and on a Chinese page the Chinese
catalogues (docs/locale/zh/, which its labels come from); :func:`on_config`
installs it.
"""

from __future__ import annotations

import atexit
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from docs.locale import ENGLISH, LOCALE, Domain, language  # noqa: E402  (needs the path above)

_ = Domain("site")
JUPYTER_CONFIG = Path(__file__).resolve().parent / "jupyter"
#: The recorded runs the notebooks read (studies.records.RESULTS).
RESULTS = Path(__file__).resolve().parents[1] / "results"
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
    """The download line, in the language of the page (``docs.locale.language()``: the
    i18n hook sets it for each notebook page)."""
    name = html.escape(stem, quote=True)
    links = f'<a href="{name}.ipynb" download>.ipynb</a> · <a href="{name}.py" download>.py</a>'
    return (f'<p class="{DOWNLOADS_CLASS}">{_("Download this notebook: %(links)s", links=links)} '
            f'<small>{_("(the .ipynb comes without outputs: run it to see them)")}</small></p>')


_FIRST_H1_END = re.compile(r"</h1>", re.I)


def insert_downloads(content: str, stem: str) -> str:
    """The download line after the page's first heading (or at the top if it has none)."""
    links = downloads_html(stem)
    match = _FIRST_H1_END.search(content)
    if match is None:
        return links + content
    return content[:match.end()] + links + content[match.end():]


_LOAD_RECORD = re.compile(r"""\bload_record\(\s*["']([^"']+)["']""")


def records_read(source: Path) -> list[str]:
    """The records (names in ``docs/results/``) a notebook source reads, sorted, once each."""
    return sorted(set(_LOAD_RECORD.findall(Path(source).read_text(encoding="utf-8"))))


def cache_key(base_key: str, source: Path, results: Path | None = None,
              locale: Path | None = None) -> str:
    """mkdocs-jupyter's key ``base_key`` for ``source``, extended by the records it reads
    and, on a page in another language than English, by that language's catalogues
    (``locale/<language>/**/*.po``: the notebook's labels and figures are drawn in it).

    A record that does not exist enters as missing (the notebook then fails
    to build, with load_record's message, rather than the key).
    """
    results = RESULTS if results is None else Path(results)
    locale = LOCALE if locale is None else Path(locale)
    hasher = hashlib.sha256(base_key.encode())
    for name in records_read(source):
        path = results / name
        hasher.update(f"\0record {name}\0".encode())
        hasher.update(path.read_bytes() if path.is_file() else b"\0missing\0")
    if language() != ENGLISH:
        hasher.update(f"\0language {language()}\0".encode())
        for path in sorted((locale / language()).rglob("*.po")):
            hasher.update(f"\0catalogue {path.relative_to(locale).as_posix()}\0".encode())
            hasher.update(path.read_bytes())
    return hasher.hexdigest()


def install_cache_key() -> None:
    """Make mkdocs-jupyter's cache key :func:`cache_key` of its own (idempotent)."""
    from mkdocs_jupyter import plugin
    base = getattr(plugin, "_compute_cache_key", None)
    if base is None:
        raise RuntimeError("mkdocs-jupyter has no _compute_cache_key (its cache changed): the "
                           "notebook cache could not know that a record changed; update "
                           "docs/hooks/notebooks.py, or build with CNN_DOCS_NOTEBOOK_CACHE=false")
    if getattr(base, "reads_records", False):
        return

    def key(nb_path, config, exec_nb):
        return cache_key(base(nb_path, config, exec_nb), Path(nb_path))
    key.reads_records = True
    plugin._compute_cache_key = key


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
    install_cache_key()
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
