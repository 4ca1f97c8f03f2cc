"""The local Container Service with the in-process engine: stores what the step makes, or nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.command import Command, load_command
from sarcoma_xnat.containers.engines import InProcessEngine
from sarcoma_xnat.containers.finalize import store_outputs
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.containers.runner import run_command
from sarcoma_xnat.errors import ContainerError
from sarcoma_xnat.steps.base import stage_session

ROOT = Path(__file__).resolve().parents[2]
SECRET = "synthetic-site-secret-for-tests-0001"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _archive_state(archive: LocalArchive) -> dict[str, bytes]:
    return _tree(archive.root)


def test_deid_scan_in_process_stores_what_the_cli_writes(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    scan = manifest.sessions[0].child(scan="2")
    result = run_command(load_command(ROOT / "xnat-commands" / "deid.json"), archive, scan.uri,
                         "sarcoma-deid-scan", {"site_secret": SECRET}, InProcessEngine())
    assert result.exit_code == 0 and [s.label for s in result.stored] == ["DEID"]
    # the same step run by hand on the scan's DICOM, as a user would from a shell
    archive.fetch_resource(scan, "DICOM", tmp_path / "dicom")
    (tmp_path / "secret").write_text(SECRET)
    rc = subprocess.run([sys.executable, "-m", "sarcoma_xnat.cli", "deid", "run", "--input",
                         str(tmp_path / "dicom"), "--output", str(tmp_path / "out"),
                         "--secret-file", str(tmp_path / "secret")], capture_output=True).returncode
    assert rc == 0
    stored = _tree(archive.resource_path(scan, "DEID"))
    by_hand = _tree(tmp_path / "out")
    dicom = sorted(k for k in by_hand if k.endswith(".dcm"))
    assert len(dicom) == len(archive.resource(scan, "DICOM").files)
    assert {k: stored[k] for k in dicom} == {k: by_hand[k] for k in dicom}
    assert sorted(stored) == sorted(by_hand)


def test_preprocess_session_in_process_stores_the_step_output(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    code = main(["run", "--engine", "inprocess", "--command", str(ROOT / "xnat-commands" / "preprocess.json"),
                 "--wrapper", "sarcoma-preprocess-session", "--archive", str(archive.root),
                 "--target", session.uri])
    assert code == 0
    stored = _tree(archive.resource_path(session, "PREPROCESSED"))
    stage_session(archive, session, tmp_path / "in")
    assert main(["preprocess", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                 "--session-label", session.session]) == 0
    direct = _tree(tmp_path / "out")
    assert {"t1.nii.gz", "t2.nii.gz", "mask.nii.gz", "provenance.json"} <= set(stored)
    assert sorted(stored) == sorted(direct)
    assert {k: v for k, v in stored.items() if k != "provenance.json"} == \
        {k: v for k, v in direct.items() if k != "provenance.json"}
    params = [json.loads(d["provenance.json"])["parameters"] for d in (stored, direct)]
    assert params[0] == params[1]


def test_non_zero_exit_stores_nothing(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    before = _archive_state(archive)
    with pytest.raises(ContainerError, match="exited with status 2; nothing was stored") as info:
        run_command(load_command(ROOT / "xnat-commands" / "deid.json"), archive, session.uri,
                    "sarcoma-deid-session", {"site_secret": "too-short"}, InProcessEngine())
    assert "too short" in str(info.value)  # the log tail says why
    assert _archive_state(archive) == before
    code = main(["run", "--engine", "inprocess", "--command", "deid", "--archive", str(archive.root),
                 "--wrapper", "sarcoma-deid-session", "--target", session.uri,
                 "--param", "site_secret=too-short"])
    assert code != 0 and _archive_state(archive) == before


def test_missing_required_output_stores_nothing(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    command = load_command(ROOT / "xnat-commands" / "deid.json")
    command.data["command-line"] = "sarcoma-xnat --version"  # exits 0, writes nothing
    before = _archive_state(archive)
    with pytest.raises(ContainerError, match="required output 'deid_dicom' is empty"):
        run_command(command, archive, manifest.sessions[0].uri, "sarcoma-deid-session",
                    {"site_secret": SECRET}, InProcessEngine())
    assert _archive_state(archive) == before


def test_assessor_handler_then_resource_on_it(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    command = Command({
        "name": "qc", "image": "qc:1", "command-line": "qc",
        "mounts": [{"name": "out", "writable": True, "path": "/output"}],
        "outputs": [{"name": "xml", "required": True, "mount": "out", "path": "assessor.xml"},
                    {"name": "data", "required": True, "mount": "out", "path": "DATA"}],
        "xnat": [{"name": "w", "contexts": ["xnat:imageSessionData"],
                  "external-inputs": [{"name": "session", "type": "Session", "required": True}],
                  "output-handlers": [
                      {"name": "assessor", "accepts-command-output": "xml", "as-a-child-of": "session",
                       "type": "Assessor"},
                      {"name": "files", "accepts-command-output": "data", "as-a-child-of": "assessor",
                       "type": "Resource", "label": "DATA"}]}]})
    resolved = resolve(command, archive, session.uri)
    out = tmp_path / "out"
    (out / "DATA").mkdir(parents=True)
    (out / "DATA" / "report.txt").write_text("ok\n")
    (out / "assessor.xml").write_text(
        '<?xml version="1.0"?>\n<xnat:QCAssessment xmlns:xnat="http://nrg.wustl.edu/xnat" '
        'label="QC_1" project="SYNTH"><xnat:rating>pass</xnat:rating></xnat:QCAssessment>\n')
    stored = store_outputs(archive, resolved, {"out": out})
    ref = session.child(assessor="QC_1")
    assert [s.ref for s in stored] == [ref, ref]
    assert archive.get(ref).xsi_type == "xnat:QCAssessment"
    assert archive.get(ref).attrs["rating"] == "pass"
    assert (archive.resource_path(ref, "DATA") / "report.txt").read_text() == "ok\n"


def test_in_process_engine_refuses_other_programs() -> None:
    from sarcoma_xnat.containers.engines import LaunchSpec

    with pytest.raises(ContainerError, match="only sarcoma-xnat"):
        InProcessEngine.argv(LaunchSpec("x:1", "python -c 'print(1)'"))
    argv = InProcessEngine.argv(LaunchSpec("x:1", "sarcoma-xnat a --in=/input/x /output /inputs",
                                           mounts=(("/h/in", "/input", False), ("/h/out", "/output", True))))
    assert argv == ["a", "--in=/h/in/x", "/h/out", "/inputs"]
