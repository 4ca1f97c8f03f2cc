"""``deid check``: 0 findings after a full de-identification, planted survivors found."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pydicom
import pytest
from deidcorpus import build_corpus, load, write

import sarcoma_xnat.deid.check as check_module
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, deidentify_folder
from sarcoma_xnat.deid.check import check_folders

#: more vendor files: RT plan/dose/structure set, JPEG 2000, JPEG-LS, enhanced-like, waveform
EXTRA = ["rtplan.dcm", "rtdose.dcm", "rtstruct.dcm", "693_J2KI.dcm", "MR_small_jpeg_ls_lossless.dcm",
         "liver_1frame.dcm", "waveform_ecg.dcm"]


def originals(root: Path) -> Path:
    """Write the corpus plus more vendor files; the CT references the first MR."""
    files = build_corpus(root)
    mr = pydicom.dcmread(files[1], stop_before_pixels=True)
    ct = pydicom.dcmread(files[0])
    ct.ReferencedImageSequence[0].ReferencedSOPInstanceUID = mr.SOPInstanceUID
    ct.save_as(files[0])
    for name in EXTRA:
        ds = load(name)
        ds.PatientID = ds.get("PatientID") or "MRN0042117"
        write(ds, root / "extra" / name)
    return root


def test_check_does_not_share_the_deidentifiers_value_finding() -> None:
    tree = ast.parse(Path(check_module.__file__).read_text("utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"sarcoma_xnat.deid.values", "sarcoma_xnat.deid.scrub",
                           "sarcoma_xnat.deid.engine", "sarcoma_xnat.deid.collect"}


def test_full_deidentification_has_no_findings(deidentifier: Deidentifier, tmp_path: Path,
                                               session_dir: Path) -> None:
    source = originals(tmp_path / "in")
    shutil.copytree(session_dir / "SCANS", source / "session")
    report = deidentify_folder(source, tmp_path / "out", deidentifier)
    assert report.skipped == []
    result = check_folders(source, tmp_path / "out")
    assert result.outputs == len(report.written) and result.values > 50
    assert result.findings == []


def test_planted_survivors_and_damage_are_found(deidentifier: Deidentifier,
                                                tmp_path: Path) -> None:
    source = originals(tmp_path / "in")
    out = tmp_path / "out"
    deidentify_folder(source, out, deidentifier)
    by_folder = {p.parent.name: p for p in out.rglob("*.dcm")}
    ct = pydicom.dcmread(by_folder["s1"])
    ct.RequestAttributesSequence[0].ScheduledPerformingPhysicianName = "WILSON^JAMES"
    ct.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "2.25.1"
    ct.save_as(by_folder["s1"])
    mr = pydicom.dcmread(by_folder["s2"])
    mr.PixelData = bytes(len(mr.PixelData))
    mr.save_as(by_folder["s2"])
    plan = pydicom.dcmread(by_folder["extra"].parent / next(
        p.name for p in by_folder["extra"].parent.iterdir()
        if pydicom.dcmread(p).Modality == "RTPLAN"))
    del plan.RTPlanLabel
    plan.save_as(plan.filename)
    (out / "s3").rename(out / "MRN0042117")
    found = {(f.kind, f.file.split("/")[0], f.where) for f in check_folders(source, out).findings}
    assert ("survivor", "s1", "RequestAttributesSequence[0].ScheduledPerformingPhysicianName") \
        in found
    assert ("reference", "s1", "ReferencedImageSequence[0].ReferencedSOPInstanceUID") in found
    assert ("pixels", "s2", "PixelData") in found
    assert ("removed", "extra", "RTPlanLabel") in found
    assert ("survivor", "MRN0042117", "name") in found


def test_incomplete_deidentification_is_reported_by_the_cli(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = originals(tmp_path / "in")
    for path in source.rglob("*.dcm"):  # only the top-level identity: what a naive tool does
        ds = pydicom.dcmread(path)
        ds.PatientName, ds.PatientID = "ANON", "ANON"
        write(ds, tmp_path / "naive" / path.relative_to(source))
    assert main(["deid", "check", str(source), str(tmp_path / "naive")]) == 1
    printed = capsys.readouterr().out
    assert "sr/sr.dcm ContentSequence[2].ContentSequence[0].TextValue" in printed
    assert "jp/jp.dcm FilterType" in printed and "un/un.dcm SOPInstanceUID" in printed
    assert "WILSON" not in printed and "Riesmeier" not in printed  # where, never what
