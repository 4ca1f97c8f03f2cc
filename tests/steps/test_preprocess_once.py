"""One OHIF save gives one preprocess result, step side: not-ready and up-to-date runs write nothing.

The ROI plugin saves the assessor before its file exists and again while and after it
writes it (events-and-roi.md §3.5), so the ROI wrapper can start while the SEG is
absent or half written; and several events of one save start several runs. Those
runs exit 0 having written nothing; the command output is not required, so XNAT's
finalize (container-service ``ContainerFinalizeServiceImpl.uploadOutputs``) stores
nothing and marks the container Complete.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.engines import InProcessEngine
from sarcoma_xnat.containers.runner import run_command
from sarcoma_xnat.steps.manifest import consistent, read_manifest

ROOT = Path(__file__).resolve().parents[2]
PREPROCESS = ROOT / "xnat-commands" / "preprocess.json"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _seg_assessor(archive: Any, session: Any) -> Any:
    return next(a.ref for a in archive.children(session, "assessor")
                if "SEG" in {r.label for r in archive.resources(a.ref)})


def _launch_roi(archive: Any, assessor: Any, lines: list[str]) -> Any:
    return run_command(load_command(PREPROCESS), archive, assessor.uri, "sarcoma-preprocess-roi",
                       {}, InProcessEngine(), sink=lines.append)


@pytest.mark.parametrize("state", ["catalog only", "truncated"])
def test_roi_run_before_the_file_is_complete_writes_nothing_and_exits_0(
        small_cohort: Any, state: str, caplog: pytest.LogCaptureFixture) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    assessor = _seg_assessor(archive, session)
    seg = next(archive.resource_path(assessor, "SEG").glob("*.dcm"))
    if state == "catalog only":
        seg.unlink()  # the resource (and in the mount its catalog) exists, the file not yet
    else:
        seg.write_bytes(seg.read_bytes()[:-3000])  # still being written
    before = _tree(archive.root)
    lines: list[str] = []
    with caplog.at_level(logging.INFO, logger="sarcoma_xnat"):
        result = _launch_roi(archive, assessor, lines)
    assert result.exit_code == 0 and result.stored == []
    assert _tree(archive.root) == before
    said = [r.getMessage() for r in caplog.records if "nothing written" in r.getMessage()]
    assert len(said) == 1 and "no complete SEG or RTSTRUCT file" in said[0]


def test_a_second_run_on_the_same_inputs_is_up_to_date(small_cohort: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    assessor = _seg_assessor(archive, session)
    first = _launch_roi(archive, assessor, [])
    assert [s.label for s in first.stored] == ["PREPROCESSED"]
    folder = archive.resource_path(session, "PREPROCESSED")
    stored = _tree(folder)
    recorded = read_manifest(folder, "preprocess")
    assert consistent(folder, recorded) == []
    assert "mask.nii.gz" in recorded["files"] and recorded["unverified"] == ["provenance.json"]
    assert not any(key in json.dumps(recorded) for key in ("started", "ended", "seconds"))
    # the save's next event (or a second concurrent event) launches the same run again
    with caplog.at_level(logging.INFO, logger="sarcoma_xnat"):
        again = _launch_roi(archive, assessor, [])
    assert again.exit_code == 0 and again.stored == []
    assert _tree(folder) == stored
    assert any("up to date" in r.getMessage() for r in caplog.records)
