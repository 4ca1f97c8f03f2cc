"""``sarcoma-xnat run`` says where the outputs were stored, not where the step wrote them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.cli import main


def test_run_prints_the_stored_qc_picture(small_cohort: Any, capsys: pytest.CaptureFixture[str]) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    assert main(["run", "--engine", "inprocess", "--command", "preprocess",
                 "--wrapper", "sarcoma-preprocess-session", "--archive", str(archive.root),
                 "--target", session.uri]) == 0
    out = capsys.readouterr().out
    qc_lines = [line for line in out.splitlines() if line.startswith("QC picture: ")]
    assert qc_lines, out
    last = Path(qc_lines[-1].removeprefix("QC picture: "))
    assert last.is_file()  # not a deleted build folder, not /output inside a container
    assert last == archive.resource_path(session, "PREPROCESSED") / "qc.png"
