from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.demo import STUDY_PROJECT
from sarcoma_xnat.archive import LocalArchive, ObjectRef


def test_demo_runs_and_reruns_without_duplicates(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "--folder", str(tmp_path / "demo"), "--subjects", "1", "--preset", "small",
            "--engine", "inprocess"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "stages:" in first
    assert "steps ran with engine: inprocess" in first
    assert "qc.png" in first  # the summary points at the QC picture
    qc = next(w for line in first.splitlines() for w in line.split() if w.endswith("qc.png"))
    assert not Path(qc).is_absolute() and (tmp_path / "demo" / qc).is_file()
    assert max(len(line) for line in first.splitlines()) <= 200  # fits a 200-column terminal
    archive = LocalArchive(tmp_path / "demo" / "archive")
    sessions = [s for subj in archive.children(ObjectRef(STUDY_PROJECT), "subject")
                for s in archive.children(subj.ref, "session")]
    assert len(sessions) == 1
    assert sessions[0].label in first  # the summary names the session
    before = sorted(p.relative_to(archive.root) for p in archive.root.rglob("*"))
    assert main(args) == 0
    after = sorted(p.relative_to(archive.root) for p in archive.root.rglob("*"))
    assert before == after  # re-running replaces, never adds a second copy
