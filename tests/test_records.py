"""The site's records are reproducible, the site notices when one changes, and the
installed package keeps out of the checkout.

* Every record in ``docs/results/`` stores the command that made it, and the
  README's "Reproduce" section lists exactly those commands (``DIR`` standing
  for the data directory), each writing the record it names.
* The notebook cache's key (docs/hooks/notebooks.py) includes the bytes of
  every record a notebook reads, so a changed record rebuilds its page.
* Nothing under ``cnn/`` runs git or mkdocs, finds the checkout or writes into
  ``docs/``: that is the job of ``studies/`` and ``benchmarks/``.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import notebooks as hook  # noqa: E402  (docs/hooks/notebooks.py)

from studies.records import load_record  # noqa: E402

RECORDS = sorted(RESULTS.glob("*.json"))


# ----------------------------------------------------------------------------- the README

def readme_commands() -> list[str]:
    """The commands of the README's "Reproduce the site's recorded numbers" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("Reproduce the site's recorded numbers", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def matches(readme: str, recorded: str) -> bool:
    """Whether a README command is the recorded one, ``DIR`` standing for any one word."""
    a, b = shlex.split(readme), shlex.split(recorded)
    return len(a) == len(b) and all(x == y or x == "DIR" for x, y in zip(a, b))


def output_of(command: str) -> str | None:
    """The file a command writes its record to (``--out`` or ``--json``)."""
    words = shlex.split(command)
    for flag in ("--out", "--json"):
        if flag in words:
            return words[words.index(flag) + 1]
    return None


def test_there_are_records():
    assert {p.name for p in RECORDS} >= {"bench.json", "broken_backprop.json",
                                         "loops_vs_vectorised.json", "mnist_3epochs.json"}


@pytest.mark.parametrize("record", RECORDS, ids=lambda p: p.name)
def test_each_record_was_made_by_a_readme_command_that_writes_it(record):
    recorded = json.loads(record.read_text())["command"]
    assert output_of(recorded) == f"docs/results/{record.name}", recorded
    same = [c for c in readme_commands() if matches(c, recorded)]
    assert same, (f"{record.name} was made by\n  {recorded}\nwhich the README's Reproduce "
                  f"section does not list; it lists\n  " + "\n  ".join(readme_commands()))


def test_each_readme_command_makes_a_committed_record():
    recorded = {json.loads(p.read_text())["command"] for p in RECORDS}
    for command in readme_commands():
        assert any(matches(command, r) for r in recorded), command


def test_matching_is_word_by_word():
    assert matches("python -m x --data DIR --out a.json", "python -m x --data /d --out a.json")
    assert not matches("python -m x --data DIR --out a.json", "python -m x --out a.json")
    assert not matches("python -m x --seeds 20", "python -m x --seeds 2")


def test_load_record_names_the_missing_record():
    assert load_record("bench.json")["command"].startswith("python -m benchmarks.bench")
    with pytest.raises(FileNotFoundError, match="name: got 'nope.json'.*bench.json"):
        load_record("nope.json")


# ----------------------------------------------------------------------------- the notebook cache

def test_notebooks_name_the_records_they_read():
    reads = {p.name: hook.records_read(p) for p in (ROOT / "docs" / "notebooks").glob("*.py")}
    assert reads["performance.py"] == ["bench.json"]
    assert reads["digits01.py"] == ["broken_backprop.json"]
    assert reads["mnist.py"] == ["mnist_3epochs.json"]
    assert reads["loops_vs_vectorised.py"] == ["loops_vs_vectorised.json"]
    assert reads["part5_backward.py"] == []
    for names in reads.values():
        for name in names:
            assert (RESULTS / name).is_file(), name


def test_the_cache_key_changes_with_the_records_a_notebook_reads(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    notebook = ROOT / "docs" / "notebooks" / "performance.py"
    other = ROOT / "docs" / "notebooks" / "digits01.py"
    before = hook.cache_key("base", notebook, results)
    assert hook.cache_key("base", notebook, results) == before          # deterministic
    assert hook.cache_key("other base", notebook, results) != before    # mkdocs-jupyter's part
    other_before = hook.cache_key("base", other, results)

    record = json.loads((results / "bench.json").read_text())
    record["seconds"] += 1.0
    (results / "bench.json").write_text(json.dumps(record))
    assert hook.cache_key("base", notebook, results) != before          # its record changed
    assert hook.cache_key("base", other, results) == other_before       # not the other's

    (results / "bench.json").unlink()
    assert hook.cache_key("base", notebook, results) != before          # missing: not cached as-is


def test_a_chinese_notebook_page_is_cached_with_the_catalogues_it_is_drawn_with(tmp_path):
    """Its plots' labels and figures come from docs/locale/zh/: a changed translation
    renders the page again; English pages do not depend on the catalogues."""
    from docs.locale import speaking
    locale = tmp_path / "locale"
    shutil.copytree(ROOT / "docs" / "locale" / "zh", locale / "zh")
    notebook = ROOT / "docs" / "notebooks" / "mnist.py"
    english = hook.cache_key("base", notebook, locale=locale)
    with speaking("zh"):
        before = hook.cache_key("base", notebook, locale=locale)
        catalogue = locale / "zh" / "notebooks.po"
        catalogue.write_text(catalogue.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        assert hook.cache_key("base", notebook, locale=locale) != before
    assert before != english
    assert hook.cache_key("base", notebook, locale=locale) == english


def test_mkdocs_jupyter_uses_the_extended_key(tmp_path, monkeypatch):
    """The key mkdocs-jupyter computes, once the hook is installed, is :func:`cache_key`."""
    from mkdocs_jupyter import plugin
    monkeypatch.setattr(plugin, "_compute_cache_key", plugin._compute_cache_key)  # restored after
    base = plugin._compute_cache_key
    hook.install_cache_key()
    hook.install_cache_key()                                            # idempotent
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    monkeypatch.setattr(hook, "RESULTS", results)
    notebook = ROOT / "docs" / "notebooks" / "performance.py"
    options = {k: None for k in ("kernel_name", "theme", "allow_errors", "show_input",
                                 "no_input", "no_prompt", "remove_tag_config",
                                 "highlight_extra_classes", "include_requirejs",
                                 "custom_mathjax_url", "toc_depth")}
    key = plugin._compute_cache_key(str(notebook), options, True)
    assert key == hook.cache_key(base(str(notebook), options, True), notebook, results)
    (results / "bench.json").write_text("{}")
    assert plugin._compute_cache_key(str(notebook), options, True) != key


# ----------------------------------------------------------------------------- cnn/ stays a package

_FORBIDDEN_MODULES = {"subprocess"}
_FORBIDDEN_TEXT = re.compile(r"\bgit\b|\bmkdocs\b|(^|/)docs(/|$)", re.I)


def _docstrings(tree) -> set:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            out.add(id(body[0].value))
    return out


def checkout_uses(source: str) -> list[str]:
    """What in ``source`` runs a program, finds the checkout or names docs/, git or mkdocs."""
    tree = ast.parse(source)
    docstrings, found = _docstrings(tree), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [f"line {node.lineno}: imports {n}" for n in names
                      if n.split(".")[0] in _FORBIDDEN_MODULES]
        elif isinstance(node, ast.Attribute) and node.attr in ("system", "popen", "Popen",
                                                                "execv", "spawnv"):
            found.append(f"line {node.lineno}: calls .{node.attr}")
        elif isinstance(node, ast.Name) and node.id == "__file__":
            found.append(f"line {node.lineno}: uses __file__ (finds the checkout)")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and _FORBIDDEN_TEXT.search(node.value)):
            found.append(f"line {node.lineno}: the string {node.value[:60]!r}")
    return found


def test_nothing_under_cnn_runs_git_or_mkdocs_or_writes_into_docs():
    bad = {str(p.relative_to(ROOT)): checkout_uses(p.read_text(encoding="utf-8"))
           for p in sorted((ROOT / "cnn").rglob("*.py"))}
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.mark.parametrize("source", [
    "import subprocess", "from subprocess import run", "import os\nos.system('ls')",
    "ROOT = __file__", "open('docs/results/bench.json', 'w')", "CMD = ['git', 'rev-parse']",
    "CMD = 'mkdocs build'"])
def test_the_package_check_sees_each_kind_of_checkout_use(source):
    assert checkout_uses(source)


def test_the_package_check_lets_documentation_and_words_pass():
    assert checkout_uses('"""See docs/reliability.md; git and mkdocs too."""\n'
                         'x = "digits01"\ny = "(docs: Reliability)"') == []
