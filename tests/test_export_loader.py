"""The export loader rejects what the derivations did not write, with a clear message."""

from __future__ import annotations

import json
import shutil

import pytest

import derivations
from derivations.export import EXPORT_DIR, ExportError, content_digest, read


@pytest.fixture
def export_copy(tmp_path):
    shutil.copy(EXPORT_DIR / "l2_loss.json", tmp_path / "l2_loss.json")
    return tmp_path / "l2_loss.json"


def test_committed_exports_load(tmp_path):
    for subject in derivations.SUBJECTS:
        export = derivations.load(subject)
        assert export.subject == subject and export.cases


def test_hand_edited_export_is_rejected(export_copy):
    data = json.loads(export_copy.read_text())
    case = next(iter(data["cases"].values()))
    formula = next(iter(case["formulas"].values()))
    formula["latex"] += " + 1"
    export_copy.write_text(json.dumps(data, indent=1, sort_keys=True))
    with pytest.raises(ExportError, match="edited by hand"):
        read("l2_loss", export_copy.parent)


def test_truncated_export_is_rejected(export_copy):
    text = export_copy.read_text()
    export_copy.write_text(text[: len(text) // 2])
    with pytest.raises(ExportError, match="not valid JSON.*truncated"):
        read("l2_loss", export_copy.parent)


def test_other_schema_version_is_rejected(export_copy):
    data = json.loads(export_copy.read_text())
    data["schema_version"] = 99
    data["content_sha256"] = content_digest(data)
    export_copy.write_text(json.dumps(data))
    with pytest.raises(ExportError, match="schema_version 99, this loader reads 1"):
        read("l2_loss", export_copy.parent)


def test_missing_key_is_named(export_copy):
    data = json.loads(export_copy.read_text())
    case = next(iter(data["cases"]))
    del data["cases"][case]["variables"]
    data["content_sha256"] = content_digest(data)
    export_copy.write_text(json.dumps(data))
    with pytest.raises(ExportError, match=f"case '{case}': missing key 'variables'"):
        read("l2_loss", export_copy.parent)


def test_unknown_subject_lists_the_available_ones(tmp_path):
    with pytest.raises(ExportError, match=r"no export for subject 'nope'.*available: \[\]"):
        read("nope", tmp_path)


def test_unknown_case_and_formula_are_named():
    toy = derivations.load("toy_net")
    with pytest.raises(KeyError, match="has no case 'valid_9x9'"):
        toy.case("valid_9x9")
    with pytest.raises(KeyError, match="has no formula 'dL/dq'"):
        toy.formula("valid_3x3_k2", "dL/dq")
