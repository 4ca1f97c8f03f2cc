"""The ``deid`` step over a staged synthetic session: PHI gone, pixels and references intact."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from sarcoma_xnat.deid import SiteKey, find_phi, run
from sarcoma_xnat.deid.folder import AUDIT_FILE


def _by_sop(folder: Path) -> dict[str, pydicom.Dataset]:
    return {str(ds.SOPInstanceUID): ds for ds in
            (pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm")))}


@pytest.fixture
def output(session_dir: Path, key: SiteKey, tmp_path: Path) -> Path:
    out = tmp_path / "output"
    report = run(session_dir, out, {"key": key})
    assert report.ok and len(report.written) == len(list(session_dir.rglob("*.dcm")))
    return out


def test_no_planted_phi_survives_anywhere(output: Path, phi: list[str]) -> None:
    assert len(phi) > 10
    assert find_phi(output, phi) == []


def test_phi_search_would_find_it_in_the_input(session_dir: Path, phi: list[str]) -> None:
    hits = find_phi(session_dir, phi)
    kinds = {h.value for h in hits}
    assert len(kinds) >= 10  # the check above is not vacuous


def test_pixel_data_is_bit_identical(session_dir: Path, output: Path) -> None:
    def pixels(folder: Path) -> list[bytes]:
        data = (pydicom.dcmread(p).get("PixelData") for p in folder.rglob("*.dcm"))
        return sorted(d for d in data if d is not None)

    before = pixels(session_dir)
    assert len(before) == len(list(session_dir.rglob("*.dcm"))) - 1  # all but the RTSTRUCT
    assert before == pixels(output)


def test_references_still_resolve(output: Path) -> None:
    instances = _by_sop(output)
    images = {uid: ds for uid, ds in instances.items() if ds.Modality == "MR"}
    seg = next(ds for ds in instances.values() if ds.Modality == "SEG")
    rt = next(ds for ds in instances.values() if ds.Modality == "RTSTRUCT")
    t1_series = {ds.SeriesInstanceUID for ds in images.values() if ds.SeriesNumber == 1}
    assert {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence} == t1_series
    seg_refs = {src.ReferencedSOPInstanceUID for frame in seg.PerFrameFunctionalGroupsSequence
                for der in frame.DerivationImageSequence for src in der.SourceImageSequence}
    assert seg_refs and seg_refs <= set(images)
    rt_refs = {img.ReferencedSOPInstanceUID for roi in rt.ROIContourSequence
               for contour in roi.ContourSequence for img in contour.ContourImageSequence}
    assert rt_refs and rt_refs <= set(images)
    frames = {ds.FrameOfReferenceUID for ds in images.values()}
    assert len(frames) == 1 and seg.FrameOfReferenceUID in frames
    assert rt.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID in frames
    assert rt.StructureSetROISequence[0].ROIName == "Tumour"
    assert seg.SegmentSequence[0].SegmentLabel == "Tumour"


def test_profile_is_recorded_and_characteristics_kept(session_dir: Path, output: Path) -> None:
    original = pydicom.dcmread(next(session_dir.glob("SCANS/1/DICOM/*.dcm")))
    for ds in _by_sop(output).values():
        assert ds.PatientIdentityRemoved == "YES"
        codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
        assert codes[0] == "113100" and {"113105", "113107", "113108", "113111"} <= set(codes)
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
        assert ds.PatientID == ds.PatientName == str(ds.PatientID)
        assert ds.PatientID.startswith("SXN")
        assert ds.get("PatientBirthDate", "") == ""
        assert not [e for e in ds.iterall() if e.tag.group % 2 == 1]
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPInstanceUID.startswith("2.25.")
    mr = next(ds for ds in _by_sop(output).values() if ds.Modality == "MR" and ds.SeriesNumber == 1)
    assert (mr.PatientSex, mr.PatientAge, mr.PatientWeight) == (
        original.PatientSex, original.PatientAge, original.PatientWeight)
    assert mr.SeriesDescription == original.SeriesDescription  # nothing identifying in it
    assert mr.StudyDescription == "MRI THIGH W/WO CONTRAST"  # the family name was cleaned out


def test_dates_shift_by_one_amount_per_patient(session_dir: Path, output: Path) -> None:
    def days(ds: pydicom.Dataset) -> int:
        from datetime import date
        d = str(ds.StudyDate)
        return date(int(d[:4]), int(d[4:6]), int(d[6:])).toordinal()

    before = {days(pydicom.dcmread(p)) for p in session_dir.rglob("*.dcm")}
    after = {days(pydicom.dcmread(p)) for p in output.rglob("*.dcm")}
    assert len(before) == len(after) == 1
    shift = after.pop() - before.pop()
    assert -3650 <= shift <= -1


def test_same_input_and_secret_give_the_same_bytes(session_dir: Path, key: SiteKey,
                                                   output: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    run(session_dir, again, {"key": SiteKey(b"test-site-secret-0123456789abcdef")})
    files = sorted(p.relative_to(output) for p in output.rglob("*.dcm"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.dcm"))
    assert all((output / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_a_different_secret_gives_different_pseudonyms_and_uids(session_dir: Path, output: Path,
                                                                tmp_path: Path) -> None:
    other = tmp_path / "other"
    run(session_dir, other, {"key": SiteKey(b"another-site-secret-987654321000")})
    a, b = _by_sop(output), _by_sop(other)
    assert not set(a) & set(b)
    assert {ds.PatientID for ds in a.values()}.isdisjoint({ds.PatientID for ds in b.values()})


def test_audit_log_and_provenance_hold_no_phi(output: Path, phi: list[str]) -> None:
    records = [json.loads(line) for line in (output / AUDIT_FILE).read_text().splitlines()]
    assert records[-1]["files_out"] == len(list(output.rglob("*.dcm")))
    assert records[-1]["actions"]["U"] > 0
    assert not find_phi(output, phi)  # includes the audit log and provenance.json
    assert (output / "provenance.json").is_file()


def test_deidentified_output_can_be_deidentified_again(output: Path, key: SiteKey,
                                                       tmp_path: Path) -> None:
    again = run(output, tmp_path / "again", {"key": key})
    assert again.ok and len(again.written) == len(list(output.rglob("*.dcm")))
    ds = pydicom.dcmread(again.written[0])
    methods = ds.DeidentificationMethod
    methods = [methods] if isinstance(methods, str) else list(methods)
    assert len(methods) == len(set(methods))  # the method is recorded once, not stacked


def test_session_resources_are_left_out(session_dir: Path, key: SiteKey, tmp_path: Path) -> None:
    derived = session_dir / "RESOURCES" / "PREPROCESSED"
    derived.mkdir(parents=True)
    (derived / "measurements.json").write_text("{}")
    (derived / "t1.nii.gz").write_bytes(b"\x1f\x8b not dicom")
    report = run(session_dir, tmp_path / "out", {"key": key})
    assert report.ok, report.skipped
    assert not (tmp_path / "out" / "RESOURCES").exists()


def test_xnat_bookkeeping_in_the_mount_is_left_out(session_dir: Path, key: SiteKey,
                                                   secret_file: Path, tmp_path: Path,
                                                   phi: list[str], caplog) -> None:
    """XNAT mounts the archive folder: catalogs, SNAPSHOTS and the AIM copy are not bad files."""
    import importlib.util
    import logging

    from sarcoma_xnat.cli import main

    helper = Path(__file__).resolve().parents[1] / "steps" / "xnat_bookkeeping.py"
    spec = importlib.util.spec_from_file_location("xnat_bookkeeping", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    add_xnat_bookkeeping = module.add_xnat_bookkeeping

    dicom = len(list(session_dir.rglob("*.dcm")))
    added = add_xnat_bookkeeping(session_dir, phi_name=phi[0])
    out = tmp_path / "out"
    with caplog.at_level(logging.DEBUG, logger="sarcoma_xnat"):
        status = main(["deid", "run", "--input", str(session_dir), "--output", str(out),
                       "--secret-file", str(secret_file)])
    assert status == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert len([w for w in written if w.endswith(".dcm")]) == dicom
    assert sorted(w for w in written if not w.endswith(".dcm")) == \
        ["deid-audit.jsonl", "manifest.json", "provenance.json"]
    record = json.loads((out / AUDIT_FILE).read_text().splitlines()[-1])
    assert record["bookkeeping_left_out"] == len(added) and record["skipped"] == 0
    assert find_phi(out, phi) == []
    logged = caplog.text
    assert not any(p.name in logged for p in added) and phi[0] not in logged
