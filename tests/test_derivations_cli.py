"""``python -m derivations``: subjects by name, ``--list``, ``--help``, and refusals (exit 2).

The real command runs in a subprocess for what a user types; the rest calls
``derivations.__main__.main`` in-process, with the derivations replaced by a
recorder where only the choice of subjects matters (deriving everything takes
about 20 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import derivations
from derivations import __main__ as cli
from derivations.export import EXPORT_DIR

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "derivations", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONHASHSEED": "123"})


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Which subject modules main() derives, in order (nothing is derived)."""
    calls = []

    class Subject:
        def __init__(self, name):
            self.name = name

        def main(self, directory):
            calls.append((self.name, Path(directory)))
            return Path(directory) / f"{self.name}.json"

    real = cli.importlib.import_module
    monkeypatch.setattr(cli.importlib, "import_module",
                        lambda name: Subject(name.split(".", 1)[1])
                        if name.startswith("derivations.") else real(name))
    return calls


def test_named_subjects_are_derived_once_each_in_the_order_given(tmp_path):
    done = run("l2_loss", "activations", "l2_loss", "--directory", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["l2_loss", "activations"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["activations.json", "l2_loss.json"]
    for name in ("l2_loss", "activations"):   # the same bytes as the committed exports
        assert (tmp_path / f"{name}.json").read_bytes() == (EXPORT_DIR / f"{name}.json").read_bytes()


def test_help_names_every_subject_and_option():
    done = run("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m derivations")
    for word in ["--list", "--directory", *derivations.SUBJECTS]:
        assert word in done.stdout, word


def test_list_prints_the_subjects_and_derives_nothing(recorded, capsys):
    assert cli.main(["--list"]) == 0
    assert capsys.readouterr().out.splitlines() == derivations.SUBJECTS
    assert recorded == []


def test_no_subject_derives_every_subject_in_order(recorded, tmp_path):
    assert cli.main(["--directory", str(tmp_path)]) == 0
    assert recorded == [(s, tmp_path) for s in derivations.SUBJECTS]


def test_the_default_directory_is_the_committed_exports(recorded):
    assert cli.main(["avg_pool"]) == 0
    assert recorded == [("avg_pool", EXPORT_DIR)]


@pytest.mark.parametrize("argv, message", [
    (["nope"], "unknown subject 'nope': the subjects are toy_net, activations"),
    (["conv2d", "../conv2d", "Conv2d"], "unknown subjects '../conv2d', 'Conv2d': the subjects"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["conv2d", "-x"], "unrecognized arguments: -x"),
    (["--list", "conv2d"], "--list takes no subjects"),
])
def test_a_bad_command_line_is_refused_with_exit_2_before_deriving(recorded, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m derivations")
    assert message in err
    assert recorded == []


def test_the_real_command_refuses_an_unknown_subject(tmp_path):
    done = run("conv2d", "nope", "--directory", str(tmp_path))
    assert done.returncode == 2
    assert "unknown subject 'nope'" in done.stderr and done.stdout == ""
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_subjects_exist_once_and_each_is_a_module_with_main():
    assert len(set(derivations.SUBJECTS)) == len(derivations.SUBJECTS)
    for subject in derivations.SUBJECTS:
        module = cli.importlib.import_module(f"derivations.{subject}")
        assert module.SUBJECT == subject and callable(module.main)
