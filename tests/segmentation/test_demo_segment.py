"""``sarcoma-xnat demo --segment``: a phantom model, an AI draft per session, and the review worklist."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.demo import STUDY_PROJECT
from sarcoma_xnat.segmentation.review import STATES


def test_demo_segment_drafts_every_session_and_prints_the_worklist(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    torch.set_num_threads(2)
    assert main(["demo", "--folder", str(tmp_path / "demo"), "--subjects", "2", "--preset", "small",
                 "--engine", "inprocess", "--segment", "--segment-epochs", "15"]) == 0
    out = capsys.readouterr().out
    archive = LocalArchive(tmp_path / "demo" / "archive")
    sessions = [s for subj in archive.children(ObjectRef(STUDY_PROJECT), "subject")
                for s in archive.children(subj.ref, "session")]
    assert len(sessions) == 2
    table, worklist = out.split("segmentation review worklist", 1)
    assert "phantom model" in worklist.splitlines()[0]
    header = worklist.splitlines()[1].split()
    assert header[:4] == ["session", "state", "draft", "reviewed"]
    for session in sessions:
        drafts = [a.label for a in archive.children(session.ref, "assessor") if "_AI-" in a.label]
        assert drafts == [f"{session.label}_AI-1"]  # the model of version 1, trained by the demo
        line = next(ln for ln in worklist.splitlines() if ln.startswith(session.label + " "))
        words = line.split()
        assert words[1] in STATES and words[2] == drafts[0]
        # the demo's sessions carry human annotations: each draft is listed as reviewed, with Dice
        assert words[1] == "reviewed" and 0.0 <= float(words[4]) <= 1.0
    assert "2 reviewed" in worklist
    assert "train segmentation model" in out and "draft segmentations" in out


def test_demo_without_segment_imports_no_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from sarcoma_xnat.cli import main; "
            f"rc = main(['demo', '--folder', {str(tmp_path / 'demo')!r}, '--subjects', '1', "
            "'--preset', 'small', '--engine', 'inprocess']); "
            "assert rc == 0; assert 'torch' not in sys.modules and 'monai' not in sys.modules, 'imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "segmentation review worklist" not in done.stdout


def test_demo_segment_without_the_extra_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["demo", "--folder", str(tmp_path / "demo"), "--segment"]) == 2
    assert "pip install 'sarcoma-xnat[seg]'" in capsys.readouterr().err
    assert not (tmp_path / "demo" / "archive").exists()  # refused before anything ran
