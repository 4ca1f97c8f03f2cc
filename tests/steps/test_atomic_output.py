"""``atomic_output``: all or nothing, beside the target or inside a mount point."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.steps import base
from sarcoma_xnat.steps.base import atomic_output


def test_success_replaces_old_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "provenance.json").write_text("{}")  # a previous output of the suite
    with atomic_output(out) as work:
        (work / "new.txt").write_text("new")
        assert not (out / "new.txt").exists()  # nothing visible before the end
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("mounted", [False, True])
def test_a_folder_the_suite_did_not_write_is_never_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mounted: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    monkeypatch.setattr(base, "_is_mount_point", lambda p: mounted and p == out)
    with pytest.raises(ConfigurationError, match="did not write"):
        with atomic_output(out) as work:
            (work / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]
    assert (out / "thesis.docx").read_text() == "years of work"


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_output(out) as work:
            (work / "half.txt").write_text("x")
            raise RuntimeError("step failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail", [False, True])
def test_inside_a_mount_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    mount = tmp_path / "output"
    mount.mkdir()
    monkeypatch.setattr(base, "_is_mount_point", lambda p: p == mount)
    if fail:
        with pytest.raises(RuntimeError):
            with atomic_output(mount) as work:
                assert work.parent == mount
                (work / "a.txt").write_text("x")
                raise RuntimeError("boom")
        assert list(mount.iterdir()) == []
    else:
        with atomic_output(mount) as work:
            assert work.parent == mount
            (work / "a.txt").write_text("x")
        assert [p.name for p in mount.iterdir()] == ["a.txt"]
    assert os.path.isdir(mount)
