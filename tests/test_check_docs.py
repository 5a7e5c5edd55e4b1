"""The page "Check your own back-prop" (docs/check.md) and the catalogue's links."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

import cnn.check

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGE = (DOCS / "check.md").read_text()


def _anchors(md: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", md.read_text(), flags=re.DOTALL)     # no '#' comments in code
    return {slugify(h.strip(), "-") for h in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE)}


def _exercises():
    spec = importlib.util.spec_from_file_location("docs_exercises_check_test",
                                                  DOCS / "exercises" / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("mistake", cnn.check.CATALOGUE, ids=lambda m: m.key)
def test_every_entry_has_a_heading_an_example_and_a_row_on_the_page(mistake):
    key = mistake.key
    assert f"\n#### {key}\n\n{{{{ exercise(\"check\", \"{key}\") }}}}\n" in PAGE
    assert f"| [`{key}`](#{key}) |" in PAGE
    assert key in _anchors(DOCS / "check.md")


@pytest.mark.parametrize("mistake", cnn.check.CATALOGUE, ids=lambda m: m.key)
def test_every_entry_links_a_page_and_heading_that_exist(mistake):
    path, _, anchor = mistake.page.partition("#")
    assert (DOCS / path).is_file(), mistake.page
    assert not anchor or anchor in _anchors(DOCS / path), mistake.page


def test_each_example_shows_outputs_that_differ_and_exercises_compute():
    module = _exercises()
    for m in cnn.check.CATALOGUE:
        ex = getattr(module, m.key)()
        assert m.sentence in ex.question and "With the mistake" in ex.answer
    for name in ("write_conv2d_backward", "write_max_pool2d_backward", "diagnose_the_seed"):
        assert f'{{{{ exercise("check", "{name}") }}}}' in PAGE
        assert getattr(module, name)().answer


@pytest.mark.parametrize("starter, function", [
    ("conv2d_backward_starter.py", "conv2d_backward"),
    ("max_pool2d_backward_starter.py", "max_pool2d_backward")])
def test_starter_files_are_linked_and_the_checker_reports_their_todo(starter, function, capsys):
    path = DOCS / "downloads" / "check" / starter
    assert f"(downloads/check/{starter})" in PAGE
    from cnn.check.cli import main
    assert main([function, f"{path}:{function}"]) == 1
    assert "raised NotImplementedError: fill in" in capsys.readouterr().out


def test_the_sample_report_on_the_page_is_what_the_checker_prints():
    def rot(dy, x, w, *, stride=1, padding=0):
        dx, dw, db = cnn.conv2d_backward(dy, x, w, stride=stride, padding=padding)
        return dx, dw[..., ::-1, ::-1].copy(), db
    rot.__qualname__ = "my_conv_backward"
    lines = str(cnn.check.conv2d_backward(rot)).splitlines()
    sample = PAGE.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert sample[:4] == lines[:4]
    assert sample[4].startswith(lines[4][:40]) and sample[-1] == lines[-1]


def test_layer_pages_link_their_catalogue_entries():
    for page in ("layers/conv2d.md", "layers/max_pool.md", "layers/dense_softmax.md",
                 "layers/l2_loss.md", "layers/activations.md", "toy_net.md"):
        last = (DOCS / page).read_text().rstrip().splitlines()[-1]
        assert last.startswith("Wrote your own? [Check it](") and "check.md#" in last
