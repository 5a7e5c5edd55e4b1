"""The translations of what code writes into pages (docs/locale/) and of the notebooks.

* :mod:`docs.locale`: a message is its catalogue's translation in a Chinese
  render, itself in English, with ``%(name)s`` fields filled after translating;
  a missing translation warns and shows the English (strict: raises);
* the catalogues against the code (``python -m docs.locale check``): every
  message the site asks for in Chinese (every fact, chain, exercise and figure
  rendered once, every ``t("...")`` of the explorers) is translated, and no
  catalogue holds a translation nothing asks for;
* each translation keeps its message's math, code spans and fields;
* the notebooks (docs/hooks/i18n.py): a translated notebook tags every Markdown
  cell ``en`` or ``zh``, each English cell followed by its Chinese one with the
  same math, code, links and headings, so a new English cell without its
  translation fails here.

What the built pages show (no English box title or export text on a Chinese
page, each notebook in one language) is checked in tests/test_i18n.py.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import textwrap

import jupytext
import pytest

from conftest import ROOT

import docs.locale as locale
from docs.locale import Domain, MissingTranslation, speaking
from docs.locale import sweep as tool

pytest.importorskip("babel", reason="the catalogues are read with Babel (MkDocs Material's)")

_hook_spec = importlib.util.spec_from_file_location("docs_i18n_hook_t", ROOT / "docs/hooks/i18n.py")
hook = importlib.util.module_from_spec(_hook_spec)
_hook_spec.loader.exec_module(hook)

CATALOGUES = sorted((ROOT / "docs" / "locale").rglob("*.po"))
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))
TRANSLATED_NOTEBOOKS = [p for p in NOTEBOOKS if "zh" in hook.notebook_languages(p)]
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.S)
CODE = re.compile(r"`[^`]+`")
FIELD = re.compile(r"%\(\w+\)s")
LINK = re.compile(r"\]\(([^)]+)\)")


# --------------------------------------------------------------------------- docs.locale

@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    """A locale directory with one Chinese catalogue, domain "demo"."""
    monkeypatch.setattr(locale, "LOCALE", tmp_path)
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "demo.po").write_text(textwrap.dedent('''\
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        msgid "Answer"
        msgstr "答案"

        #, python-format
        msgid "The cost is %(loss)s."
        msgstr "代价是 %(loss)s。"

        #, fuzzy
        msgid "Data"
        msgstr "数据"
        '''), encoding="utf-8")
    locale.reset_warnings()
    return Domain("demo")


def test_a_message_is_its_translation_in_chinese_and_itself_in_english(catalogue):
    assert catalogue("Answer") == "Answer"
    assert catalogue("The cost is %(loss)s.", loss="0.5") == "The cost is 0.5."
    with speaking("zh"):
        assert locale.language() == "zh"
        assert catalogue("Answer") == "答案"
        assert catalogue("The cost is %(loss)s.", loss="%(x)s") == "代价是 %(x)s。"
        with speaking("en"):
            assert catalogue("Answer") == "Answer"
    assert locale.language() == "en"


def test_a_missing_translation_warns_once_and_shows_english(catalogue, caplog):
    with speaking("zh"), caplog.at_level(logging.WARNING, logger="mkdocs.translations"):
        assert catalogue("Data") == "Data"            # fuzzy: not a translation yet
        assert catalogue("Sizes") == "Sizes"
        assert catalogue("Sizes") == "Sizes"
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and "zh/demo.po has no translation of 'Sizes'" in warned[1], warned
    with speaking("zh", strict=True), pytest.raises(MissingTranslation, match="'Sizes'"):
        catalogue("Sizes")
    assert {"Data", "Sizes"} <= locale.requested()["demo"]
    with locale.recording():
        assert "demo" not in locale.requested()
    assert "demo" in locale.requested()


def test_the_language_comes_from_the_environment_outside_speaking(catalogue, monkeypatch):
    monkeypatch.setenv(locale.ENVIRONMENT, "zh")
    assert catalogue("Answer") == "答案"
    monkeypatch.setenv(locale.ENVIRONMENT, "fr")
    with pytest.raises(ValueError, match="CNN_DOCS_LANGUAGE: got 'fr'; expected one of"):
        locale.language()
    with pytest.raises(ValueError, match="language: got 'de'"):
        with speaking("de"):
            pass
    with pytest.raises(ValueError, match="domain: got '../x'"):
        Domain("../x")


def test_a_page_is_in_the_language_of_its_source_file():
    assert [locale.source_language(s) for s in ("layers/conv2d.zh.md", "layers/conv2d.md",
                                                "index.md", "api/index.md", "v1.2.md")] \
        == ["zh", "en", "en", "en", "en"]


# --------------------------------------------------------------------------- the catalogues

def test_every_message_is_translated_and_no_translation_is_stale():
    problems = tool.check("zh")
    assert not problems, ("the catalogues (docs/locale/zh/) and the code disagree; run "
                          "`python -m docs.locale update` and translate what it adds:\n  "
                          + "\n  ".join(problems[:40])
                          + (f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""))


def test_each_catalogue_is_what_update_writes():
    """In step with the code and in the tool's form: ``update`` would change nothing."""
    changed = [path.relative_to(ROOT).as_posix() for domain, messages in tool.sweep("zh").items()
               if (path := Domain(domain).path("zh")).is_file()
               and tool.catalogue_text(path, messages, "zh") != path.read_bytes()]
    assert not changed, f"`python -m docs.locale update` would rewrite {changed}"


def test_the_catalogues_exist():
    names = {p.relative_to(ROOT / "docs" / "locale" / "zh").as_posix() for p in CATALOGUES}
    assert {"site.po", "exercises.po", "figures.po", "explorers.po",
            "derivations/conv2d.po", "derivations/toy_net.po"} <= names, sorted(names)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_translation_keeps_the_math_code_and_fields_of_its_message(path):
    problems = []
    for message, translation in locale.read(path).items():
        for what, pattern in (("math", MATH), ("code spans", CODE), ("fields", FIELD)):
            if sorted(pattern.findall(message)) != sorted(pattern.findall(translation)):
                problems.append(f"{what} differ: {message[:80]!r} -> {translation[:80]!r}")
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_the_explorers_messages_are_read_from_the_scripts():
    messages = tool.script_messages()
    assert {"seed data", "3x3 kernel, 'same' (padding 1, 3x3 layer 1)"} <= set(messages), messages


def test_a_message_literal_is_unescaped_and_a_bad_escape_named(tmp_path, monkeypatch):
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    script = tmp_path / "x.js"
    script.write_text('t("say \\"hi\\"\\nk\\u00b2 − 1"); t("say \\"hi\\"\\nk\\u00b2 − 1")',
                      encoding="utf-8")
    assert tool._literals([script], tool._SCRIPT_MESSAGE) == ['say "hi"\nk² − 1']
    script.write_text('t("bad \\x41")', encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.js: the message .* has an escape other than"):
        tool._literals([script], tool._SCRIPT_MESSAGE)


def test_the_notebooks_messages_are_read_from_their_code():
    """Each ``_(...)`` of a notebook is one string literal the sweep reads, in the domain
    "notebooks": a label built otherwise (``_(f"...")``, ``_(name)``) or marked in another
    domain would never reach the catalogue and stay English on the Chinese pages."""
    import ast
    messages = tool.notebook_messages()
    assert {"epoch", "test errors (of %(n)s)"} <= set(messages), messages
    problems, marked = [], set()
    for path in NOTEBOOKS:
        source = path.read_text(encoding="utf-8")
        calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id == "_"]
        if calls and '_ = Domain("notebooks")' not in source:
            problems.append(f"{path.name}: _(...) without _ = Domain(\"notebooks\")")
        for call in calls:
            first = call.args[0] if len(call.args) == 1 else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                problems.append(f"{path.name}, line {call.lineno}: {ast.unparse(call)}")
            else:
                marked.add(first.value)
    assert not problems, "not one string literal:\n  " + "\n  ".join(problems)
    assert marked == set(messages), (sorted(marked - set(messages)), sorted(set(messages) - marked))


# --------------------------------------------------------------------------- notebooks

def test_some_notebooks_are_translated():
    names = {p.stem for p in TRANSLATED_NOTEBOOKS}
    assert {"part5_backward", "digits01", "mnist", "toy_net_training",
            "loops_vs_vectorised"} <= names, names


@pytest.mark.parametrize("path", TRANSLATED_NOTEBOOKS, ids=lambda p: p.name)
def test_each_english_cell_of_a_translated_notebook_has_its_chinese_cell(path):
    cells = jupytext.read(path).cells
    problems = []
    heads = lambda s: [len(m) for m in re.findall(r"^(#+) ", s, re.M)]  # noqa: E731
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        tags = cell.metadata.get("tags", [])
        if tags not in (["en"], ["zh"]):
            problems.append(f"Markdown cell {i} is tagged {tags}; expected ['en'] or ['zh']")
            continue
        pair = cells[i + 1] if tags == ["en"] and i + 1 < len(cells) else None
        if tags == ["zh"]:
            before = cells[i - 1] if i else None
            if before is None or before.metadata.get("tags") != ["en"]:
                problems.append(f"Chinese cell {i} does not follow an English cell")
            continue
        if pair is None or pair.cell_type != "markdown" or pair.metadata.get("tags") != ["zh"]:
            problems.append(f"English cell {i} ({cell.source[:50]!r}) has no Chinese cell after it")
            continue
        for what, pattern in (("math", MATH), ("code spans", CODE), ("links", LINK)):
            if sorted(pattern.findall(cell.source)) != sorted(pattern.findall(pair.source)):
                problems.append(f"cells {i}/{i + 1}: the {what} differ")
        if heads(cell.source) != heads(pair.source):
            problems.append(f"cells {i}/{i + 1}: heading levels {heads(cell.source)} "
                            f"vs {heads(pair.source)}")
    assert not problems, f"docs/notebooks/{path.name}:\n  " + "\n  ".join(problems)
